//! The Huawei Cloud executor: `Action::Scale` on a huawei-as-group target sets the AS
//! group's expected number and counts as done when its scaling activity finished and
//! that many instances are in service; `Action::Resize` on a target mapped to an ECS
//! server changes the server's flavor and follows its job. The long operation's id is
//! in the Outcome (and returned by [`HuaweiExecutor::start`] as soon as it is known),
//! so a restarted engine calls [`HuaweiExecutor::reconcile`] instead of acting again.

use super::autoscaling::{Activity, Desired, GroupInstance, listed};
use super::client::{ApiError, Client};
use super::credentials::Credentials;
use super::ecs::Resize;
use super::errors::Meaning;
use crate::config::{HuaweiConfig, ScaleTarget, TargetKind};
use crate::execute::{Action, ExecError, Executor, Found, OperationSink, Outcome};
use futures::future::BoxFuture;
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// A long operation, as it is written into an Outcome and read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// `as-activity:GROUP/ACTIVITY`
    Activity { group: String, activity: String },
    /// `ecs-job:SERVER/JOB`
    Job { server: String, job: String },
    /// `ecs-server:SERVER`: a resize whose answer was lost; the server's state is read.
    Server { server: String },
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Operation::Activity { group, activity } => write!(f, "as-activity:{group}/{activity}"),
            Operation::Job { server, job } => write!(f, "ecs-job:{server}/{job}"),
            Operation::Server { server } => write!(f, "ecs-server:{server}"),
        }
    }
}

impl Operation {
    pub fn parse(s: &str) -> Option<Operation> {
        let (kind, rest) = s.split_once(':')?;
        let two = || {
            let (a, b) = rest.split_once('/')?;
            (!a.is_empty() && !b.is_empty()).then(|| (a.to_string(), b.to_string()))
        };
        match kind {
            "as-activity" => two().map(|(group, activity)| Operation::Activity { group, activity }),
            "ecs-job" => two().map(|(server, job)| Operation::Job { server, job }),
            "ecs-server" if !rest.is_empty() => Some(Operation::Server {
                server: rest.to_string(),
            }),
            _ => None,
        }
    }
}

/// What a started action has to be followed to.
#[derive(Debug, Clone, PartialEq)]
pub enum Started {
    /// Nothing to wait for: the world already was as asked.
    Done(Outcome),
    Running {
        operation: Operation,
        from: usize,
        started: Instant,
    },
}

/// A group while an action is in flight, for the Actions view.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub instances: Vec<GroupInstance>,
    pub activity: Option<Activity>,
}

pub struct HuaweiExecutor {
    client: Client,
    cfg: HuaweiConfig,
    targets: Vec<ScaleTarget>,
}

fn cloud(e: ApiError) -> ExecError {
    match &e {
        ApiError::Bounds { .. } => ExecError::Refused(e.to_string()),
        _ if e.meaning() == Some(Meaning::NotFound) => ExecError::NotFound(e.to_string()),
        _ => ExecError::Cloud(e.to_string()),
    }
}

impl HuaweiExecutor {
    /// With the credentials from the environment or the configured file.
    pub fn new(cfg: &HuaweiConfig, targets: Vec<ScaleTarget>) -> Result<HuaweiExecutor, ExecError> {
        let creds = Credentials::load(cfg).map_err(|e| ExecError::Refused(e.to_string()))?;
        let client = Client::new(cfg, creds).map_err(cloud)?;
        Ok(HuaweiExecutor::with_client(client, cfg, targets))
    }

    pub fn with_client(
        client: Client,
        cfg: &HuaweiConfig,
        targets: Vec<ScaleTarget>,
    ) -> HuaweiExecutor {
        HuaweiExecutor {
            client,
            cfg: cfg.clone(),
            targets,
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    fn target(&self, name: &str) -> Result<&ScaleTarget, ExecError> {
        self.targets
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| ExecError::Refused(format!("\"{name}\" is not a configured target")))
    }

    /// The AS group behind a target: its configured id, or the one group of that name.
    pub async fn group_id(&self, target: &str) -> Result<String, ExecError> {
        if let Some(id) = self
            .cfg
            .targets
            .get(target)
            .and_then(|t| t.group_id.clone())
        {
            return Ok(id);
        }
        let found: Vec<_> = self
            .client
            .list_groups(Some(target))
            .await
            .map_err(cloud)?
            .into_iter()
            .filter(|g| g.scaling_group_name == target)
            .collect();
        match found.as_slice() {
            [g] => Ok(g.scaling_group_id.clone()),
            [] => Err(ExecError::NotFound(format!("AS group \"{target}\""))),
            many => Err(ExecError::Refused(format!(
                "{} AS groups are named \"{target}\": set huawei.targets.{target}.group_id",
                many.len()
            ))),
        }
    }

    /// The group's instances and its latest activity.
    pub async fn progress(&self, target: &str) -> Result<Progress, ExecError> {
        let id = self.group_id(target).await?;
        let instances = self.client.list_instances(&id).await.map_err(cloud)?;
        let activity = self
            .client
            .activities(&id, 1)
            .await
            .map_err(cloud)?
            .into_iter()
            .next();
        Ok(Progress {
            instances,
            activity,
        })
    }

    /// Sends the change and returns as soon as its long operation is known.
    pub async fn start(&self, action: &Action) -> Result<Started, ExecError> {
        let started = Instant::now();
        match action {
            Action::Scale { target, kind, to } => {
                let t = self.target(target)?;
                if *kind != TargetKind::HuaweiAsGroup || t.kind != TargetKind::HuaweiAsGroup {
                    return Err(ExecError::Refused(format!(
                        "{target} is not a huawei-as-group target"
                    )));
                }
                let to32 = u32::try_from(*to)
                    .map_err(|_| ExecError::Refused(format!("{to} instances is not a count")))?;
                let id = self.group_id(target).await?;
                let from = in_service(&self.client.list_instances(&id).await.map_err(cloud)?);
                let known: HashSet<String> = self
                    .client
                    .activities(&id, 20)
                    .await
                    .map_err(cloud)?
                    .into_iter()
                    .map(|a| a.id)
                    .collect();
                let r = self.client.set_desired(&id, to32).await.map_err(cloud)?;
                if let Desired::Unchanged(_) = r {
                    // Already asked for: follow an activity still running, else done.
                    let running = self
                        .client
                        .activities(&id, 1)
                        .await
                        .map_err(cloud)?
                        .into_iter()
                        .find(|a| a.running());
                    return Ok(match running {
                        Some(a) => Started::Running {
                            operation: Operation::Activity {
                                group: id,
                                activity: a.id,
                            },
                            from,
                            started,
                        },
                        None if from == *to => Started::Done(Outcome {
                            summary: format!(
                                "AS group {target}: already {to} instances in service"
                            ),
                            from,
                            to: *to,
                            ..Outcome::default()
                        }),
                        None => {
                            return Err(ExecError::Cloud(format!(
                                "AS group {target} wants {to} instances but {from} are in service and no scaling activity runs"
                            )));
                        }
                    });
                }
                let activity = self
                    .new_activity(&id, to32, &known, t.ready_timeout)
                    .await?;
                Ok(Started::Running {
                    operation: Operation::Activity {
                        group: id,
                        activity,
                    },
                    from,
                    started,
                })
            }
            Action::Resize { target, .. } => {
                let t = self.target(target)?;
                let server = self.server_of(target)?;
                let flavor = &t
                    .resize_to
                    .as_ref()
                    .ok_or_else(|| ExecError::Refused(format!("{target} has no resize_to flavor")))?
                    .name;
                match self.client.resize(&server, flavor).await.map_err(cloud)? {
                    Resize::Unchanged(s) => Ok(Started::Done(Outcome {
                        summary: format!("server {} already runs {flavor}", s.name),
                        from: 1,
                        to: 1,
                        ..Outcome::default()
                    })),
                    Resize::Job(job) => Ok(Started::Running {
                        operation: Operation::Job { server, job },
                        from: 1,
                        started,
                    }),
                    Resize::Reconciled => Ok(Started::Running {
                        operation: Operation::Server { server },
                        from: 1,
                        started,
                    }),
                }
            }
            other => Err(ExecError::Refused(format!(
                "the Huawei Cloud executor does not run {}",
                other.class(0)
            ))),
        }
    }

    fn server_of(&self, target: &str) -> Result<String, ExecError> {
        self.cfg
            .targets
            .get(target)
            .and_then(|t| t.server_id.clone())
            .ok_or_else(|| {
                ExecError::Refused(format!(
                    "{target}: vigil resizes an ECS server, and none is set (huawei.targets.{target}.server_id); \
                     an AS group's flavor is its AS configuration's"
                ))
            })
    }

    /// The activity the change started: the newest one vigil had not seen before that
    /// aims at `to`.
    async fn new_activity(
        &self,
        group: &str,
        to: u32,
        known: &HashSet<String>,
        within: Duration,
    ) -> Result<String, ExecError> {
        let until = Instant::now() + within;
        loop {
            let acts = self.client.activities(group, 20).await.map_err(cloud)?;
            if let Some(a) = acts
                .iter()
                .find(|a| !known.contains(&a.id) && a.desire_value.is_none_or(|d| d == to))
            {
                return Ok(a.id.clone());
            }
            if Instant::now() >= until {
                return Err(ExecError::Timeout(format!(
                    "AS group {group}: no scaling activity started for {to} instances"
                )));
            }
            tokio::time::sleep(self.cfg.poll).await;
        }
    }

    /// Follows a started action to its end.
    pub async fn finish(&self, action: &Action, started: Started) -> Result<Outcome, ExecError> {
        match started {
            Started::Done(o) => Ok(o),
            Started::Running {
                operation,
                from,
                started,
            } => self.follow(action, &operation, Some(from), started).await,
        }
    }

    /// For a restarted engine: follows an operation it stored, without a second request
    /// to change anything.
    pub async fn reconcile(&self, action: &Action, operation: &str) -> Result<Outcome, ExecError> {
        let op = Operation::parse(operation).ok_or_else(|| {
            ExecError::Refused(format!("\"{operation}\" is not a Huawei operation id"))
        })?;
        self.follow(action, &op, None, Instant::now()).await
    }

    /// For a restarted engine: what became of an action that may have run, from the
    /// operation it stored (followed to its end), or without one from the group's
    /// state. An operation the cloud no longer lists (its log moved on) is settled by
    /// the group's state too. Never sends a change.
    pub async fn settle(
        &self,
        action: &Action,
        operation: Option<&str>,
    ) -> Result<Found, ExecError> {
        let Some(op) = operation else {
            return self.reconcile_unrecorded(action).await;
        };
        match self.reconcile(action, op).await {
            Ok(o) => Ok(Found::Completed(o.summary)),
            Err(ExecError::NotFound(what)) => {
                tracing::info!("huawei: {what} no longer listed; reading the group");
                self.reconcile_unrecorded(action).await
            }
            Err(e) => Ok(Found::Interrupted(format!("interrupted: {e}"))),
        }
    }

    /// For a restarted engine that stored no operation: it stopped before the cloud
    /// answered, or the answer was lost. What the group (or server) shows now says
    /// whether the change arrived; an arrived one is followed to its end, one that did
    /// not is marked interrupted. Nothing is ever sent from here.
    pub async fn reconcile_unrecorded(&self, action: &Action) -> Result<Found, ExecError> {
        match action {
            Action::Scale { target, to, .. } => {
                let id = self.group_id(target).await?;
                let g = self.client.show_group(&id).await.map_err(cloud)?;
                if g.desire_instance_number as usize != *to {
                    return Ok(Found::Interrupted(format!(
                        "interrupted: AS group {target} expects {} instances, not {to}: the change never reached it (not sent again)",
                        g.desire_instance_number
                    )));
                }
                let acts = self.client.activities(&id, 20).await.map_err(cloud)?;
                let ours = acts
                    .iter()
                    .find(|a| a.desire_value.is_none_or(|d| d as usize == *to))
                    .map(|a| a.id.clone());
                let op = match ours {
                    Some(activity) => Operation::Activity {
                        group: id.clone(),
                        activity,
                    },
                    None => {
                        let n = in_service(&self.client.list_instances(&id).await.map_err(cloud)?);
                        return Ok(if n == *to {
                            Found::Completed(format!("AS group {target}: {n} instances in service"))
                        } else {
                            Found::Interrupted(format!(
                                "interrupted: AS group {target} expects {to} but {n} are in service and no scaling activity is recorded"
                            ))
                        });
                    }
                };
                Ok(match self.follow(action, &op, None, Instant::now()).await {
                    Ok(o) => Found::Completed(o.summary),
                    Err(e) => Found::Interrupted(format!("interrupted: {e}")),
                })
            }
            Action::Resize { target, .. } => {
                let server = self.server_of(target)?;
                let want = self
                    .target(target)?
                    .resize_to
                    .as_ref()
                    .map(|f| f.name.clone())
                    .unwrap_or_default();
                let s = self.client.show_server(&server).await.map_err(cloud)?;
                let moving = matches!(s.status.as_str(), "RESIZE" | "VERIFY_RESIZE");
                if s.flavor.id != want && !moving {
                    return Ok(Found::Interrupted(format!(
                        "interrupted: server {} still runs {}: the resize never reached it (not sent again)",
                        s.name, s.flavor.id
                    )));
                }
                let op = Operation::Server { server };
                Ok(match self.follow(action, &op, None, Instant::now()).await {
                    Ok(o) => Found::Completed(o.summary),
                    Err(e) => Found::Interrupted(format!("interrupted: {e}")),
                })
            }
            other => Err(ExecError::Refused(format!(
                "the Huawei Cloud executor does not run {}",
                other.class(0)
            ))),
        }
    }

    async fn follow(
        &self,
        action: &Action,
        op: &Operation,
        from: Option<usize>,
        started: Instant,
    ) -> Result<Outcome, ExecError> {
        let (target, to) = match action {
            Action::Scale { target, to, .. } => (target, *to),
            Action::Resize { target, .. } => (target, 1),
            _ => return Err(ExecError::Refused("not a Huawei action".into())),
        };
        let t = self.target(target)?;
        let until = started + t.ready_timeout;
        let out = match op {
            Operation::Activity { group, activity } => {
                let a = loop {
                    let acts = self.client.activities(group, 20).await.map_err(cloud)?;
                    let a = acts
                        .into_iter()
                        .find(|a| &a.id == activity)
                        .ok_or_else(|| {
                            ExecError::NotFound(format!(
                                "scaling activity {activity} of AS group {target}"
                            ))
                        })?;
                    if !a.running() {
                        break a;
                    }
                    self.wait(until, || {
                        format!("scaling activity {activity} still running")
                    })
                    .await?;
                };
                if a.status != "SUCCESS" {
                    return Err(ExecError::Cloud(format!(
                        "scaling activity {activity} of AS group {target} ended {}: {}",
                        a.status, a.description
                    )));
                }
                loop {
                    let n = in_service(&self.client.list_instances(group).await.map_err(cloud)?);
                    if n == to {
                        break;
                    }
                    self.wait(until, || {
                        format!("AS group {target}: {n} of {to} instances in service")
                    })
                    .await?;
                }
                let from = from.or(a.instance_value.map(|v| v as usize)).unwrap_or(to);
                Outcome {
                    summary: format!(
                        "AS group {target}: {from} → {to} instances in service (activity {activity})"
                    ),
                    from,
                    to,
                    created: listed(&a.instance_added_list),
                    removed: listed(&a.instance_removed_list),
                    ..Outcome::default()
                }
            }
            Operation::Job { server, job } => {
                let j = loop {
                    let j = self.client.job(job).await.map_err(cloud)?;
                    if j.finished() {
                        break j;
                    }
                    self.wait(until, || format!("ECS job {job} still {}", j.status))
                        .await?;
                };
                if j.status != "SUCCESS" {
                    return Err(ExecError::Cloud(format!(
                        "ECS job {job} (resize of {server}) failed: {}",
                        j.fail_reason
                            .unwrap_or_else(|| j.error_code.unwrap_or_default())
                    )));
                }
                self.resized(target, server, until).await?
            }
            Operation::Server { server } => self.resized(target, server, until).await?,
        };
        Ok(Outcome {
            ready_ms: started.elapsed().as_millis() as u64,
            operation: Some(op.to_string()),
            ..out
        })
    }

    async fn resized(
        &self,
        target: &str,
        server: &str,
        until: Instant,
    ) -> Result<Outcome, ExecError> {
        let flavor = self
            .target(target)?
            .resize_to
            .as_ref()
            .map(|f| f.name.clone())
            .unwrap_or_default();
        loop {
            let s = self.client.show_server(server).await.map_err(cloud)?;
            if s.flavor.id == flavor && !matches!(s.status.as_str(), "RESIZE" | "VERIFY_RESIZE") {
                return Ok(Outcome {
                    summary: format!(
                        "server {} now {flavor} ({} vCPUs, {} MiB), {}",
                        s.name, s.flavor.vcpus, s.flavor.ram, s.status
                    ),
                    from: 1,
                    to: 1,
                    ..Outcome::default()
                });
            }
            self.wait(until, || {
                format!("server {server}: {} with {}", s.status, s.flavor.id)
            })
            .await?;
        }
    }

    async fn wait(&self, until: Instant, what: impl Fn() -> String) -> Result<(), ExecError> {
        if Instant::now() >= until {
            return Err(ExecError::Timeout(what()));
        }
        tokio::time::sleep(self.cfg.poll.min(until - Instant::now())).await;
        Ok(())
    }

    async fn holds(&self, action: &Action) -> Result<(), String> {
        match action {
            Action::Scale { target, to, .. } => {
                let id = self.group_id(target).await.map_err(|e| e.to_string())?;
                let g = self
                    .client
                    .show_group(&id)
                    .await
                    .map_err(|e| e.to_string())?;
                let inst = self
                    .client
                    .list_instances(&id)
                    .await
                    .map_err(|e| e.to_string())?;
                let n = in_service(&inst);
                let busy = self
                    .client
                    .activities(&id, 1)
                    .await
                    .map_err(|e| e.to_string())?
                    .into_iter()
                    .find(|a| a.running());
                if g.desire_instance_number as usize == *to && n == *to && busy.is_none() {
                    return Ok(());
                }
                let states: Vec<String> = inst
                    .iter()
                    .filter(|i| !i.in_service())
                    .map(|i| format!("{} {}", i.instance_name, i.life_cycle_state))
                    .collect();
                Err(format!(
                    "AS group {target}: {n} of {to} instances in service (expects {}){}{}",
                    g.desire_instance_number,
                    if states.is_empty() {
                        String::new()
                    } else {
                        format!("; {}", states.join(", "))
                    },
                    busy.map(|a| format!("; activity {} running", a.id))
                        .unwrap_or_default()
                ))
            }
            Action::Resize { target, .. } => {
                let server = self.server_of(target).map_err(|e| e.to_string())?;
                let want = self
                    .target(target)
                    .map_err(|e| e.to_string())?
                    .resize_to
                    .as_ref()
                    .map(|f| f.name.clone())
                    .unwrap_or_default();
                let s = self
                    .client
                    .show_server(&server)
                    .await
                    .map_err(|e| e.to_string())?;
                if s.flavor.id == want && s.status == "ACTIVE" {
                    Ok(())
                } else {
                    Err(format!(
                        "server {}: {} with {}, not ACTIVE with {want}",
                        s.name, s.status, s.flavor.id
                    ))
                }
            }
            _ => Err("not a Huawei action".into()),
        }
    }
}

fn in_service(instances: &[GroupInstance]) -> usize {
    instances.iter().filter(|i| i.in_service()).count()
}

impl Executor for HuaweiExecutor {
    fn name(&self) -> &'static str {
        "huawei"
    }

    fn apply<'a>(&'a self, action: &'a Action) -> BoxFuture<'a, Result<Outcome, ExecError>> {
        Box::pin(async move {
            let started = self.start(action).await?;
            self.finish(action, started).await
        })
    }

    fn apply_tracked<'a>(
        &'a self,
        action: &'a Action,
        accepted: &'a OperationSink,
    ) -> BoxFuture<'a, Result<Outcome, ExecError>> {
        Box::pin(async move {
            let started = self.start(action).await?;
            if let Started::Running { operation, .. } = &started {
                accepted(operation.to_string()).await;
            }
            self.finish(action, started).await
        })
    }

    fn check<'a>(&'a self, action: &'a Action) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(self.holds(action))
    }
}
