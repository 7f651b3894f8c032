//! The Docker executor (bollard). A *container group* is every container labelled
//! `vigil.group=NAME`; a *Swarm service* is scaled through its spec, at the version read.
//! Every action reads the engine's actual state first, so a retry never double-acts.

use super::{Action, ExecError, Executor, Outcome};
pub use crate::collect::docker::{Client, ContainerInfo, GROUP_LABEL};
use crate::config::{Probe, ScaleTarget, TargetKind, Template};
use bollard::models::{
    ContainerCreateBody, ContainerUpdateBody, HealthStatusEnum, HostConfig, RestartPolicy,
    RestartPolicyNameEnum, TaskState,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, InspectServiceOptions, ListTasksOptionsBuilder,
    RemoveContainerOptionsBuilder, RenameContainerOptionsBuilder, RestartContainerOptionsBuilder,
    StopContainerOptionsBuilder, UpdateServiceOptionsBuilder,
};
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

pub const MEMBER_LABEL: &str = "vigil.member";
const POLL: Duration = Duration::from_millis(200);
/// A scale-in renames its victim to `NAME.vigil-retiring` before stopping it, so a kill
/// between the stop and the removal leaves a member marked as on its way out — not an
/// exited member the healer would restart, nor one a count would include.
pub const RETIRING: &str = ".vigil-retiring";
/// A recreate renames the old container to `NAME.vigil-old` and keeps it until the new
/// one runs; on failure (or after a kill) the old one is put back under its name.
pub const OLD: &str = ".vigil-old";

/// Whether vigil set this container aside in an action (retiring, or the old half of a
/// recreate): it is neither a member to count nor a container to heal.
pub fn set_aside(name: &str) -> bool {
    name.ends_with(RETIRING) || name.ends_with(OLD)
}

pub struct DockerExecutor {
    client: Client,
    targets: Vec<ScaleTarget>,
}

/// Reads go through the collector's client.
impl std::ops::Deref for DockerExecutor {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl DockerExecutor {
    /// A client for the engine at `socket`. Nothing is sent yet: an engine that does not
    /// answer shows as an error on the first action, never as a silent no-op.
    pub fn connect(socket: &Path, targets: Vec<ScaleTarget>) -> DockerExecutor {
        DockerExecutor {
            client: Client::connect(socket),
            targets,
        }
    }

    fn target(&self, name: &str) -> Result<&ScaleTarget, ExecError> {
        self.targets
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| ExecError::Refused(format!("\"{name}\" is not a configured target")))
    }

    /// The members of a container group, oldest first (those set aside not included).
    pub async fn members(&self, group: &str) -> Result<Vec<ContainerInfo>, ExecError> {
        let mut m = self.labelled(group).await?;
        m.retain(|c| !set_aside(&c.name));
        Ok(m)
    }

    /// Every container carrying the group's label, set aside or not, oldest first.
    async fn labelled(&self, group: &str) -> Result<Vec<ContainerInfo>, ExecError> {
        let mut m = self.list(Some(&format!("{GROUP_LABEL}={group}"))).await?;
        m.sort_by_key(|c| (c.created, c.name.clone()));
        Ok(m)
    }

    /// Finishes what an interrupted scale left: members marked retiring are stopped and
    /// removed (their scale-in was decided and begun), and vigil's members that were
    /// created but never started are removed (they never served). Reading this first
    /// makes a scale idempotent under a kill at any point. Returns what it removed.
    pub async fn tidy_group(&self, t: &ScaleTarget) -> Result<Vec<String>, ExecError> {
        let mut removed = Vec::new();
        for c in self.labelled(&t.name).await? {
            let leftover = c.name.ends_with(RETIRING)
                || (c.state == "created" && c.labels.contains_key(MEMBER_LABEL));
            if leftover {
                self.stop_and_remove(&c.id, t.stop_timeout).await?;
                removed.push(c.name);
            }
        }
        Ok(removed)
    }

    /// What a new member is made from: the configured template, or a copy of an existing
    /// member's image, command, environment, labels, limits, network and restart policy.
    async fn template_for(
        &self,
        t: &ScaleTarget,
        members: &[ContainerInfo],
    ) -> Result<ContainerCreateBody, ExecError> {
        if let Some(tpl) = &t.template {
            return Ok(from_template(&t.name, tpl));
        }
        let model = members
            .iter()
            .find(|m| m.running())
            .or(members.first())
            .ok_or_else(|| {
                ExecError::Refused(format!(
                    "group {}: no member to copy and no template in the config",
                    t.name
                ))
            })?;
        let ins = self
            .timed(self.d()?.inspect_container(&model.id, None))
            .await?;
        let cfg = ins.config.unwrap_or_default();
        let mut body: ContainerCreateBody = serde_json::to_value(&cfg)
            .and_then(serde_json::from_value)
            .map_err(|e| ExecError::Engine(format!("copying {}: {e}", model.name)))?;
        // Hostnames are per container; published host ports would collide.
        body.hostname = None;
        let hc = ins.host_config.unwrap_or_default();
        body.host_config = Some(HostConfig {
            nano_cpus: hc.nano_cpus,
            memory: hc.memory,
            restart_policy: hc.restart_policy,
            network_mode: hc.network_mode,
            ..HostConfig::default()
        });
        Ok(body)
    }

    /// Scales a group to `to` running members: creates and starts new ones (ready only
    /// once healthy and probed), or stops and removes the unhealthy, then the newest.
    pub async fn scale_group(&self, t: &ScaleTarget, to: usize) -> Result<Outcome, ExecError> {
        let start = Instant::now();
        self.tidy_group(t).await?;
        let members = self.members(&t.name).await?;
        let running: Vec<&ContainerInfo> = members.iter().filter(|m| m.running()).collect();
        let from = running.len();
        let mut out = Outcome {
            from,
            to,
            ..Outcome::default()
        };
        if to > from {
            let mut body = self.template_for(t, &members).await?;
            let next = members
                .iter()
                .filter_map(|m| m.labels.get(MEMBER_LABEL)?.parse::<u32>().ok())
                .max()
                .unwrap_or(0);
            let mut ids = Vec::new();
            for i in 0..(to - from) as u32 {
                let n = next + 1 + i;
                let name = format!("{}-{n}", t.name);
                let labels = body.labels.get_or_insert_with(HashMap::new);
                labels.insert(GROUP_LABEL.into(), t.name.clone());
                labels.insert(MEMBER_LABEL.into(), n.to_string());
                ids.push(self.create_and_start(&name, body.clone()).await?);
                out.created.push(name);
            }
            let deadline = start + t.ready_timeout;
            let waits = ids
                .iter()
                .map(|id| self.wait_ready(id, t.probe.as_ref(), deadline));
            for r in futures::future::join_all(waits).await {
                r?;
            }
        } else if to < from {
            let mut victims: Vec<&ContainerInfo> = running.clone();
            // Unhealthy first, then the newest.
            victims.sort_by_key(|m| {
                (
                    m.health.as_deref() != Some("unhealthy"),
                    std::cmp::Reverse(m.created),
                    std::cmp::Reverse(m.name.clone()),
                )
            });
            for v in victims.into_iter().take(from - to) {
                // Marked first: a kill after this leaves it retiring, finished next time.
                self.rename(&v.id, &format!("{}{RETIRING}", v.name)).await?;
                self.stop_and_remove(&v.id, t.stop_timeout).await?;
                out.removed.push(v.name.clone());
            }
        }
        out.ready_ms = start.elapsed().as_millis() as u64;
        out.summary = format!(
            "{}: {from} → {to} running{}{}",
            t.name,
            if out.created.is_empty() {
                String::new()
            } else {
                format!(", started {}", out.created.join(", "))
            },
            if out.removed.is_empty() {
                String::new()
            } else {
                format!(", removed {}", out.removed.join(", "))
            }
        );
        Ok(out)
    }

    async fn create_and_start(
        &self,
        name: &str,
        body: ContainerCreateBody,
    ) -> Result<String, ExecError> {
        let created = self
            .d()?
            .create_container(
                Some(CreateContainerOptionsBuilder::new().name(name).build()),
                body,
            )
            .await
            .map_err(|e| self.err(e))?;
        self.d()?
            .start_container(&created.id, None)
            .await
            .map_err(|e| self.err(e))?;
        Ok(created.id)
    }

    async fn rename(&self, id: &str, to: &str) -> Result<(), ExecError> {
        self.timed(
            self.d()?
                .rename_container(id, RenameContainerOptionsBuilder::new().name(to).build()),
        )
        .await
    }

    /// SIGTERM, then SIGKILL after `timeout` (Docker's own stop), then remove.
    async fn stop_and_remove(&self, id: &str, timeout: Duration) -> Result<(), ExecError> {
        match self.stop(id, timeout).await {
            Ok(()) => {}
            Err(ExecError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e),
        }
        match self.remove(id).await {
            // Removed meanwhile (by a person, or the engine's own --rm): what was wanted.
            Ok(()) | Err(ExecError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Waits until the container runs, its healthcheck (if any) says healthy and the
    /// probe (if any) answers.
    pub async fn wait_ready(
        &self,
        id: &str,
        probe: Option<&Probe>,
        deadline: Instant,
    ) -> Result<(), ExecError> {
        let mut last = String::from("not started");
        while Instant::now() < deadline {
            let ins = self.timed(self.d()?.inspect_container(id, None)).await?;
            let state = ins.state.unwrap_or_default();
            let name = ins.name.unwrap_or_default();
            if state.running != Some(true) {
                last = format!(
                    "{} is {}",
                    name.trim_start_matches('/'),
                    state.status.map(|s| s.to_string()).unwrap_or_default()
                );
                if state.status.map(|s| s.to_string()).as_deref() == Some("exited") {
                    return Err(ExecError::Engine(format!(
                        "{last} (exit code {})",
                        state.exit_code.unwrap_or(-1)
                    )));
                }
            } else {
                let health = state.health.and_then(|h| h.status);
                let healthy = matches!(
                    health,
                    None | Some(HealthStatusEnum::HEALTHY)
                        | Some(HealthStatusEnum::NONE)
                        | Some(HealthStatusEnum::EMPTY)
                );
                let ip = ins.network_settings.and_then(|n| n.networks).and_then(|n| {
                    n.values()
                        .filter_map(|e| e.ip_address.clone())
                        .find(|ip| !ip.is_empty())
                });
                if !healthy {
                    last = format!(
                        "{} healthcheck not passing yet",
                        name.trim_start_matches('/')
                    );
                } else {
                    match (probe, ip) {
                        (None, _) => return Ok(()),
                        (Some(p), Some(ip)) => match run_probe(&ip, p).await {
                            Ok(()) => return Ok(()),
                            Err(e) => last = e,
                        },
                        (Some(_), None) => last = "no address to probe".into(),
                    }
                }
            }
            tokio::time::sleep(POLL).await;
        }
        Err(ExecError::Timeout(last))
    }

    /// Sets a Swarm service's replica count at the version read, then waits for the
    /// running tasks.
    pub async fn scale_service(
        &self,
        name: &str,
        to: usize,
        timeout: Duration,
    ) -> Result<Outcome, ExecError> {
        let start = Instant::now();
        let svc = self
            .timed(
                self.d()?
                    .inspect_service(name, None::<InspectServiceOptions>),
            )
            .await?;
        let version = svc.version.and_then(|v| v.index).unwrap_or(0);
        let mut spec = svc.spec.unwrap_or_default();
        let replicated = spec
            .mode
            .as_mut()
            .and_then(|m| m.replicated.as_mut())
            .ok_or_else(|| ExecError::Refused(format!("service {name} is not replicated")))?;
        let from = replicated.replicas.unwrap_or(0) as usize;
        if from != to {
            replicated.replicas = Some(to as i64);
            self.d()?
                .update_service(
                    name,
                    spec,
                    UpdateServiceOptionsBuilder::new()
                        .version(version as i32)
                        .build(),
                    None,
                )
                .await
                .map_err(|e| self.err(e))?;
        }
        let deadline = start + timeout;
        loop {
            let running = self.service_running(name).await?;
            if running == to {
                break;
            }
            if Instant::now() >= deadline {
                return Err(ExecError::Timeout(format!(
                    "service {name}: {running} of {to} tasks running"
                )));
            }
            tokio::time::sleep(POLL).await;
        }
        Ok(Outcome {
            summary: format!("service {name}: {from} → {to} replicas running"),
            from,
            to,
            ready_ms: start.elapsed().as_millis() as u64,
            ..Outcome::default()
        })
    }

    /// Tasks of a service that should run and do.
    pub async fn service_running(&self, name: &str) -> Result<usize, ExecError> {
        let filters = HashMap::from([
            ("service", vec![name.to_string()]),
            ("desired-state", vec!["running".to_string()]),
        ]);
        let tasks = self
            .timed(self.d()?.list_tasks(Some(
                ListTasksOptionsBuilder::new().filters(&filters).build(),
            )))
            .await?;
        Ok(tasks
            .iter()
            .filter(|t| {
                t.status.as_ref().and_then(|s| s.state.as_ref()) == Some(&TaskState::RUNNING)
            })
            .count())
    }

    /// Restarts a container (SIGTERM, then SIGKILL after the timeout) and waits until it
    /// runs and passes its healthcheck.
    pub async fn restart(&self, name: &str, timeout: Duration) -> Result<Outcome, ExecError> {
        let start = Instant::now();
        self.timed(self.d()?.inspect_container(name, None)).await?;
        self.d()?
            .restart_container(
                name,
                Some(
                    RestartContainerOptionsBuilder::new()
                        .t(timeout.as_secs() as i32)
                        .build(),
                ),
            )
            .await
            .map_err(|e| self.err(e))?;
        self.wait_ready(name, None, start + timeout + Duration::from_secs(30))
            .await?;
        Ok(Outcome {
            summary: format!("{name} restarted"),
            from: 0,
            to: 1,
            ready_ms: start.elapsed().as_millis() as u64,
            ..Outcome::default()
        })
    }

    /// Creates a container again from the same image and settings. The old one is
    /// renamed aside and stopped, never removed before its replacement runs; if the new
    /// one cannot start or get ready, it goes and the old one is put back.
    pub async fn recreate(&self, name: &str) -> Result<Outcome, ExecError> {
        let start = Instant::now();
        // An earlier recreate cut short: settle it before starting another.
        self.tidy_recreate(name).await?;
        let ins = self.timed(self.d()?.inspect_container(name, None)).await?;
        let was_running = ins.state.as_ref().and_then(|s| s.running) == Some(true);
        let mut body: ContainerCreateBody = serde_json::to_value(ins.config.unwrap_or_default())
            .and_then(serde_json::from_value)
            .map_err(|e| ExecError::Engine(format!("copying {name}: {e}")))?;
        body.host_config = ins.host_config;
        let aside = format!("{name}{OLD}");
        self.rename(name, &aside).await?;
        let fresh = async {
            self.stop(&aside, self.stop_timeout_of(name).await).await?;
            let id = self.create_and_start(name, body).await?;
            self.wait_ready(&id, None, start + Duration::from_secs(60))
                .await
        };
        if let Err(e) = fresh.await {
            return Err(match self.put_back(name, was_running).await {
                Ok(()) => ExecError::Engine(format!("{e}; the old {name} was put back")),
                Err(back) => ExecError::Engine(format!(
                    "{e}; putting the old {name} back failed too: {back} (it is kept as {aside})"
                )),
            });
        }
        self.remove(&aside).await?;
        Ok(Outcome {
            summary: format!("{name} recreated"),
            from: 0,
            to: 1,
            created: vec![name.to_string()],
            ready_ms: start.elapsed().as_millis() as u64,
            ..Outcome::default()
        })
    }

    /// Settles a recreate a kill interrupted. With the old container aside: a running
    /// replacement means it finished (the old one goes); anything else means it did not
    /// (a half-made replacement goes, the old one comes back). Ok(true) when the
    /// replacement stands, Ok(false) when there was nothing to settle or the old came back.
    pub async fn tidy_recreate(&self, name: &str) -> Result<bool, ExecError> {
        let aside = format!("{name}{OLD}");
        let all = self.list(None).await?;
        if !all.iter().any(|c| c.name == aside) {
            return Ok(false);
        }
        if all.iter().any(|c| c.name == name && c.running()) {
            self.remove(&aside).await?;
            return Ok(true);
        }
        self.put_back(name, false).await?;
        Ok(false)
    }

    /// The old half of a recreate back under its name (and running, if it ran).
    async fn put_back(&self, name: &str, start: bool) -> Result<(), ExecError> {
        let aside = format!("{name}{OLD}");
        match self.remove(name).await {
            Ok(()) | Err(ExecError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
        self.rename(&aside, name).await?;
        if start {
            self.timed(self.d()?.start_container(name, None)).await?;
        }
        Ok(())
    }

    async fn stop(&self, id: &str, timeout: Duration) -> Result<(), ExecError> {
        let t = timeout.as_secs().min(i32::MAX as u64) as i32;
        match self
            .d()?
            .stop_container(id, Some(StopContainerOptionsBuilder::new().t(t).build()))
            .await
        {
            Ok(()) => Ok(()),
            // 304: already stopped.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304, ..
            }) => Ok(()),
            Err(e) => Err(self.err(e)),
        }
    }

    async fn remove(&self, id: &str) -> Result<(), ExecError> {
        self.d()?
            .remove_container(
                id,
                Some(RemoveContainerOptionsBuilder::new().force(true).build()),
            )
            .await
            .map_err(|e| self.err(e))
    }

    /// New CPU and memory limits for every running member, in place.
    pub async fn resize(
        &self,
        group: &str,
        cpus: f64,
        memory_mib: u64,
    ) -> Result<Outcome, ExecError> {
        let members = self.members(group).await?;
        let body = ContainerUpdateBody {
            nano_cpus: (cpus > 0.0).then_some((cpus * 1e9) as i64),
            memory: (memory_mib > 0).then_some((memory_mib * 1024 * 1024) as i64),
            // The swap limit must not fall below the new memory limit.
            memory_swap: (memory_mib > 0).then_some(-1),
            ..ContainerUpdateBody::default()
        };
        let mut done = Vec::new();
        for m in members.iter().filter(|m| m.running()) {
            self.d()?
                .update_container(&m.id, body.clone())
                .await
                .map_err(|e| self.err(e))?;
            done.push(m.name.clone());
        }
        Ok(Outcome {
            summary: format!(
                "{group}: {} member(s) now {cpus} CPU, {memory_mib} MiB",
                done.len()
            ),
            from: done.len(),
            to: done.len(),
            ..Outcome::default()
        })
    }
}

fn from_template(group: &str, tpl: &Template) -> ContainerCreateBody {
    let restart = match tpl.restart.as_str() {
        "always" => RestartPolicyNameEnum::ALWAYS,
        "unless-stopped" => RestartPolicyNameEnum::UNLESS_STOPPED,
        "on-failure" => RestartPolicyNameEnum::ON_FAILURE,
        _ => RestartPolicyNameEnum::NO,
    };
    ContainerCreateBody {
        image: Some(tpl.image.clone()),
        cmd: (!tpl.cmd.is_empty()).then(|| tpl.cmd.clone()),
        env: Some(tpl.env.clone()),
        labels: Some(HashMap::from([(
            GROUP_LABEL.to_string(),
            group.to_string(),
        )])),
        host_config: Some(HostConfig {
            nano_cpus: (tpl.cpus > 0.0).then_some((tpl.cpus * 1e9) as i64),
            memory: (tpl.memory_mib > 0).then_some((tpl.memory_mib * 1024 * 1024) as i64),
            restart_policy: Some(RestartPolicy {
                name: Some(restart),
                maximum_retry_count: None,
            }),
            network_mode: tpl.network.clone(),
            ..HostConfig::default()
        }),
        ..ContainerCreateBody::default()
    }
}

/// A TCP connect, or an HTTP GET that must answer 2xx, within a second.
async fn run_probe(ip: &str, p: &Probe) -> Result<(), String> {
    let addr = format!("{ip}:{}", p.port);
    let limit = Duration::from_secs(1);
    match &p.http {
        None => match tokio::time::timeout(limit, tokio::net::TcpStream::connect(&addr)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(format!("probe {addr}: {e}")),
            Err(_) => Err(format!("probe {addr}: timed out")),
        },
        Some(path) => {
            let url = format!("http://{addr}{path}");
            let client = reqwest::Client::builder()
                .timeout(limit)
                .no_proxy()
                .build()
                .map_err(|e| e.to_string())?;
            match client.get(&url).send().await {
                Ok(r) if r.status().is_success() => Ok(()),
                Ok(r) => Err(format!("probe {url}: HTTP {}", r.status())),
                Err(e) => Err(format!("probe {url}: {e}")),
            }
        }
    }
}

impl DockerExecutor {
    async fn holds(&self, action: &Action) -> Result<(), String> {
        let healthy = |c: &ContainerInfo| {
            c.running() && !matches!(c.health.as_deref(), Some("unhealthy") | Some("starting"))
        };
        match action {
            Action::Scale {
                target,
                kind: TargetKind::SwarmService,
                to,
            } => {
                let n = self
                    .service_running(target)
                    .await
                    .map_err(|e| e.to_string())?;
                (n == *to)
                    .then_some(())
                    .ok_or(format!("{n} of {to} tasks running"))
            }
            Action::Scale { target, to, .. } => {
                let m = self.members(target).await.map_err(|e| e.to_string())?;
                let ready = m.iter().filter(|c| healthy(c)).count();
                let running = m.iter().filter(|c| c.running()).count();
                (ready == *to && running == *to)
                    .then_some(())
                    .ok_or(format!("{ready} of {to} members ready ({running} running)"))
            }
            Action::Resize {
                target,
                cpus,
                memory_mib,
            } => {
                for c in self
                    .members(target)
                    .await
                    .map_err(|e| e.to_string())?
                    .iter()
                    .filter(|c| c.running())
                {
                    let hc = self
                        .timed(
                            self.d()
                                .map_err(|e| e.to_string())?
                                .inspect_container(&c.id, None),
                        )
                        .await
                        .map_err(|e| e.to_string())?
                        .host_config
                        .unwrap_or_default();
                    let want_cpu = (*cpus > 0.0).then_some((*cpus * 1e9) as i64);
                    let want_mem = (*memory_mib > 0).then_some((*memory_mib * 1024 * 1024) as i64);
                    if (want_cpu.is_some() && hc.nano_cpus != want_cpu)
                        || (want_mem.is_some() && hc.memory != want_mem)
                    {
                        return Err(format!("{} still has its old limits", c.name));
                    }
                }
                Ok(())
            }
            Action::Restart { container } | Action::Recreate { container } => {
                let list = self.list(None).await.map_err(|e| e.to_string())?;
                let c = list
                    .iter()
                    .find(|c| &c.name == container)
                    .ok_or(format!("{container} is gone"))?;
                healthy(c)
                    .then_some(())
                    .ok_or(format!("{container}: {}", c.status))
            }
        }
    }
}

/// How long a container outside any configured group gets to stop (SIGTERM, then SIGKILL).
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// What a create, start, rename or remove the engine has accepted may still take.
const ENGINE_MARGIN: Duration = Duration::from_secs(5);

pub use super::Found;

impl DockerExecutor {
    /// How long a container gets to stop: its group's `stop_timeout` when it is a
    /// member of a configured group, else 10 s.
    pub async fn stop_timeout_of(&self, container: &str) -> Duration {
        let group = self
            .list(None)
            .await
            .ok()
            .and_then(|l| l.into_iter().find(|c| c.name == container))
            .and_then(|c| c.group);
        group
            .and_then(|g| self.targets.iter().find(|t| t.name == g))
            .map(|t| t.stop_timeout)
            .unwrap_or(STOP_TIMEOUT)
    }

    /// How long after an action began the engine may still be carrying out calls a
    /// killed vigil made for it: the engine finishes a request whose caller died (a
    /// restart still stops and starts, a create still creates). Its state is read only
    /// once these are over, or a reconciliation would judge a world still moving.
    pub async fn quiet_after(&self, action: &Action) -> Duration {
        ENGINE_MARGIN
            + match action {
                Action::Scale { target, .. } => self
                    .targets
                    .iter()
                    .find(|t| &t.name == target)
                    .map(|t| t.stop_timeout)
                    .unwrap_or(STOP_TIMEOUT),
                Action::Restart { container } | Action::Recreate { container } => {
                    self.stop_timeout_of(container).await
                }
                Action::Resize { .. } => Duration::ZERO,
            }
    }

    /// Reads what an interrupted action left and settles vigil's own leftovers (retiring
    /// or never-started members, the old half of a recreate), without acting again: no
    /// member is created and no container restarted here.
    pub async fn reconcile(&self, action: &Action) -> Result<Found, ExecError> {
        match action {
            Action::Scale {
                target,
                kind: TargetKind::HuaweiAsGroup,
                ..
            } => Err(ExecError::Refused(format!(
                "{target} is a Huawei Cloud group: Docker cannot tell what became of it"
            ))),
            Action::Scale {
                target,
                kind: TargetKind::SwarmService,
                to,
            } => {
                let svc = self
                    .timed(
                        self.d()?
                            .inspect_service(target, None::<InspectServiceOptions>),
                    )
                    .await?;
                let replicas = svc
                    .spec
                    .and_then(|s| s.mode)
                    .and_then(|m| m.replicated)
                    .and_then(|r| r.replicas)
                    .unwrap_or(0) as usize;
                Ok(if replicas == *to {
                    Found::Completed(format!("service {target} is set to {to} replicas"))
                } else {
                    Found::Interrupted(format!(
                        "interrupted at {replicas} of {to} replicas (service {target})"
                    ))
                })
            }
            Action::Scale { target, to, .. } => {
                let t = self.target(target)?;
                let tidied = self.tidy_group(t).await?;
                let running = self
                    .members(target)
                    .await?
                    .iter()
                    .filter(|m| m.running())
                    .count();
                let also = if tidied.is_empty() {
                    String::new()
                } else {
                    format!("; removed what it left: {}", tidied.join(", "))
                };
                Ok(if running == *to {
                    Found::Completed(format!("{target}: {to} of {to} running{also}"))
                } else {
                    Found::Interrupted(format!(
                        "interrupted at {running} of {to} running ({target}){also}"
                    ))
                })
            }
            Action::Resize { .. } => Ok(match self.holds(action).await {
                Ok(()) => Found::Completed("the new limits are in place".into()),
                Err(e) => Found::Interrupted(format!("interrupted: {e}")),
            }),
            Action::Restart { container } => {
                let list = self.list(None).await?;
                Ok(match list.iter().find(|c| &c.name == container) {
                    Some(c) if c.running() => Found::Completed(format!("{container} runs")),
                    Some(c) => Found::Interrupted(format!(
                        "interrupted: {container} is {}, the restart did not finish",
                        c.state
                    )),
                    None => Found::Interrupted(format!("interrupted: {container} is gone")),
                })
            }
            Action::Recreate { container } => {
                let stands = self.tidy_recreate(container).await?;
                let list = self.list(None).await?;
                let running = list.iter().any(|c| &c.name == container && c.running());
                Ok(match (stands, running) {
                    (_, true) => Found::Completed(format!("{container} runs")),
                    (false, false) => Found::Interrupted(format!(
                        "interrupted: {container} was not replaced; the old one is kept"
                    )),
                    (true, false) => {
                        Found::Interrupted(format!("interrupted: the new {container} does not run"))
                    }
                })
            }
        }
    }
}

impl Executor for DockerExecutor {
    fn name(&self) -> &'static str {
        "docker"
    }

    fn check<'a>(&'a self, action: &'a Action) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(self.holds(action))
    }

    fn apply<'a>(&'a self, action: &'a Action) -> BoxFuture<'a, Result<Outcome, ExecError>> {
        Box::pin(async move {
            match action {
                Action::Scale { target, kind, to } => {
                    let t = self.target(target)?;
                    match kind {
                        TargetKind::DockerGroup => self.scale_group(t, *to).await,
                        TargetKind::SwarmService => {
                            self.scale_service(target, *to, t.ready_timeout).await
                        }
                        TargetKind::HuaweiAsGroup => Err(ExecError::Refused(format!(
                            "{target} is a Huawei Cloud group, not a Docker one"
                        ))),
                    }
                }
                Action::Resize {
                    target,
                    cpus,
                    memory_mib,
                } => {
                    self.target(target)?;
                    self.resize(target, *cpus, *memory_mib).await
                }
                Action::Restart { container } => {
                    let t = self.stop_timeout_of(container).await;
                    self.restart(container, t).await
                }
                Action::Recreate { container } => self.recreate(container).await,
            }
        })
    }
}
