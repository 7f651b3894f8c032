//! One executor per target kind, behind the one `Executor` trait: the engine picks the
//! backend from the target an action touches (a Docker group, a Swarm service or a
//! container → Docker; an AS group or an ECS server → Huawei Cloud), and a restart
//! reconciles an interrupted action through the same backend that ran it.

use crate::config::{Config, TargetKind};
use crate::execute::docker::DockerExecutor;
use crate::execute::huawei::HuaweiExecutor;
use crate::execute::{Action, ExecError, Executor, Found, Outcome};
use futures::future::BoxFuture;
use std::sync::Arc;
use std::time::Duration;

/// Which backend an action belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Docker,
    Huawei,
}

/// A backend the config needs but that cannot be built (no credentials, say): every
/// action on it fails with the reason, through the gate and the audit like any other.
struct Unavailable {
    name: &'static str,
    why: String,
}

impl Executor for Unavailable {
    fn name(&self) -> &'static str {
        self.name
    }

    fn apply<'a>(&'a self, _: &'a Action) -> BoxFuture<'a, Result<Outcome, ExecError>> {
        Box::pin(async move { Err(ExecError::Refused(self.why.clone())) })
    }

    fn check<'a>(&'a self, _: &'a Action) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move { Err(self.why.clone()) })
    }
}

pub struct Executors {
    pub docker: Arc<DockerExecutor>,
    /// None when no target lives on Huawei Cloud; Err(why) when one does and the
    /// client cannot be built.
    huawei: Option<Result<Arc<HuaweiExecutor>, String>>,
    cfg: Config,
}

impl Executors {
    pub fn new(cfg: &Config) -> Executors {
        let docker = Arc::new(DockerExecutor::connect(
            &cfg.docker.socket,
            cfg.scale.clone(),
        ));
        let on_huawei = cfg.scale.iter().any(|t| {
            t.kind == TargetKind::HuaweiAsGroup
                || cfg
                    .huawei
                    .targets
                    .get(&t.name)
                    .is_some_and(|h| h.server_id.is_some())
        });
        let huawei = on_huawei.then(|| {
            HuaweiExecutor::new(&cfg.huawei, cfg.scale.clone())
                .map(Arc::new)
                .map_err(|e| format!("Huawei Cloud cannot be reached: {e}"))
        });
        if let Some(Err(why)) = &huawei {
            tracing::error!("{why}");
        }
        Executors {
            docker,
            huawei,
            cfg: cfg.clone(),
        }
    }

    /// The backend of the target an action touches.
    pub fn backend(&self, action: &Action) -> Backend {
        match action {
            Action::Scale { kind, .. } if *kind == TargetKind::HuaweiAsGroup => Backend::Huawei,
            Action::Resize { target, .. } if self.on_huawei(target) => Backend::Huawei,
            _ => Backend::Docker,
        }
    }

    /// A target whose instances are an AS group or an ECS server.
    pub fn on_huawei(&self, target: &str) -> bool {
        self.cfg
            .scale
            .iter()
            .any(|t| t.name == target && t.kind == TargetKind::HuaweiAsGroup)
            || self
                .cfg
                .huawei
                .targets
                .get(target)
                .is_some_and(|h| h.server_id.is_some())
    }

    /// What running this action costs in service, when its backend takes the target
    /// down for it: an ECS flavor change stops the server (the API requires it).
    pub fn downtime(&self, action: &Action) -> Option<String> {
        match action {
            Action::Resize { target, .. } if self.backend(action) == Backend::Huawei => {
                Some(format!(
                    "downtime: the ECS server of {target} is stopped for the flavor change and started again"
                ))
            }
            _ => None,
        }
    }

    /// The Huawei executor, when the config has Huawei targets and it could be built.
    pub fn huawei(&self) -> Option<&Arc<HuaweiExecutor>> {
        self.huawei.as_ref().and_then(|h| h.as_ref().ok())
    }

    /// Why the Huawei executor could not be built, if it could not.
    pub fn huawei_error(&self) -> Option<&str> {
        self.huawei
            .as_ref()
            .and_then(|h| h.as_ref().err().map(String::as_str))
    }

    /// The executor that runs this action.
    pub fn for_action(&self, action: &Action) -> Arc<dyn Executor> {
        match self.backend(action) {
            Backend::Docker => self.docker.clone(),
            Backend::Huawei => match &self.huawei {
                Some(Ok(h)) => h.clone(),
                Some(Err(why)) => Arc::new(Unavailable {
                    name: "huawei",
                    why: why.clone(),
                }),
                None => Arc::new(Unavailable {
                    name: "huawei",
                    why: format!(
                        "{} is not a Huawei Cloud target in this config",
                        action.subject()
                    ),
                }),
            },
        }
    }

    /// How long after an interrupted action began its backend may still be carrying it
    /// out on its own (Docker finishes calls whose caller died). A cloud operation is
    /// followed by its id instead, so it has no such wait.
    pub async fn quiet_after(&self, action: &Action) -> Duration {
        match self.backend(action) {
            Backend::Docker => self.docker.quiet_after(action).await,
            Backend::Huawei => Duration::ZERO,
        }
    }

    /// What became of an action a restart found may have run, read from its backend,
    /// never acting again. A cloud action's stored operation is followed to its end;
    /// without one (the answer never came), the group's own state says.
    pub async fn reconcile(
        &self,
        action: &Action,
        operation: Option<&str>,
    ) -> Result<Found, ExecError> {
        match self.backend(action) {
            Backend::Docker => self.docker.reconcile(action).await,
            Backend::Huawei => {
                let h = match &self.huawei {
                    Some(Ok(h)) => h,
                    Some(Err(why)) => return Err(ExecError::Refused(why.clone())),
                    None => {
                        return Err(ExecError::Refused(format!(
                            "{} is no longer a Huawei Cloud target",
                            action.subject()
                        )));
                    }
                };
                h.settle(action, operation).await
            }
        }
    }
}
