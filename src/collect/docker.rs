//! The Docker engine as a source: its containers, their health, and their CPU and
//! memory as `docker stats` computes them; exits as they happen. The executor acts
//! through the same client.

use crate::execute::ExecError;
use bollard::Docker;
use bollard::query_parameters::{ListContainersOptionsBuilder, StatsOptionsBuilder};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

pub const GROUP_LABEL: &str = "vigil.group";
/// Reads of the engine's state must come back quickly; actions may take longer.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Containers inspected per listing, at most: a host with thousands of stopped
/// containers must not turn every listing into thousands of calls.
const MAX_INSPECT: usize = 64;

/// One container as the console and the heal rules see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ContainerInfo {
    pub id: String,
    pub name: String,
    pub image: String,
    /// running, exited, created, restarting, paused, dead.
    pub state: String,
    /// healthy, unhealthy, starting; None without a healthcheck.
    pub health: Option<String>,
    pub group: Option<String>,
    pub labels: HashMap<String, String>,
    /// Unix seconds.
    pub created: i64,
    /// Docker's own words: "Up 3 minutes (healthy)", "Exited (1) 2 seconds ago".
    pub status: String,
    /// CPU % of one core and memory, as `docker stats` computes them.
    pub cpu_pct: Option<f64>,
    pub mem_bytes: Option<u64>,
    pub mem_limit: Option<u64>,
    /// From the engine's inspect, None until read: restarts by its restart policy since
    /// it was created (a person's or vigil's restart does not count) ...
    pub restart_count: Option<u64>,
    /// ... whether its last exit was the kernel's OOM killer ...
    pub oom_killed: Option<bool>,
    /// ... its restart policy (no, always, on-failure, unless-stopped) ...
    pub restart_policy: Option<String>,
    /// ... and the memory limit it was started with (`--memory`), None without one.
    pub mem_limit_set: Option<u64>,
}

impl ContainerInfo {
    pub fn running(&self) -> bool {
        self.state == "running"
    }
}

pub struct Client {
    /// None when the socket could not even be opened: every call then fails with why.
    docker: Option<Docker>,
    connect_error: String,
    socket: String,
}

fn health_of(status: &str) -> Option<String> {
    ["(healthy)", "(unhealthy)", "(health: starting)"]
        .iter()
        .find(|h| status.contains(*h))
        .map(|h| {
            h.trim_matches(|c| c == '(' || c == ')')
                .trim_start_matches("health: ")
                .to_string()
        })
}

fn labels_filter(label: &str) -> HashMap<&'static str, Vec<String>> {
    HashMap::from([("label", vec![label.to_string()])])
}

impl Client {
    /// A client for the engine at `socket`. Nothing is sent yet: an engine that does not
    /// answer shows as an error on the first action, never as a silent no-op.
    pub fn connect(socket: &Path) -> Client {
        let s = socket.to_string_lossy().to_string();
        let (docker, connect_error) =
            match Docker::connect_with_unix(&s, 120, bollard::API_DEFAULT_VERSION) {
                Ok(d) => (Some(d), String::new()),
                Err(e) => (None, e.to_string()),
            };
        Client {
            docker,
            connect_error,
            socket: s,
        }
    }

    pub fn d(&self) -> Result<&Docker, ExecError> {
        self.docker.as_ref().ok_or_else(|| ExecError::Unreachable {
            socket: self.socket.clone(),
            reason: self.connect_error.clone(),
        })
    }

    pub fn err(&self, e: bollard::errors::Error) -> ExecError {
        use bollard::errors::Error as E;
        match e {
            E::DockerResponseServerError {
                status_code: 404,
                message,
            } => ExecError::NotFound(message),
            E::DockerResponseServerError { message, .. } => ExecError::Engine(message),
            other => ExecError::Unreachable {
                socket: self.socket.clone(),
                reason: other.to_string(),
            },
        }
    }

    pub async fn timed<T>(
        &self,
        f: impl std::future::Future<Output = Result<T, bollard::errors::Error>>,
    ) -> Result<T, ExecError> {
        match tokio::time::timeout(READ_TIMEOUT, f).await {
            Ok(r) => r.map_err(|e| self.err(e)),
            Err(_) => Err(ExecError::Unreachable {
                socket: self.socket.clone(),
                reason: format!("no answer within {} s", READ_TIMEOUT.as_secs()),
            }),
        }
    }

    /// Containers, all states; only those carrying `label` (KEY or KEY=VALUE) if given.
    pub async fn list(&self, label: Option<&str>) -> Result<Vec<ContainerInfo>, ExecError> {
        let mut opts = ListContainersOptionsBuilder::new().all(true);
        if let Some(l) = label {
            opts = opts.filters(&labels_filter(l));
        }
        let list = self
            .timed(self.d()?.list_containers(Some(opts.build())))
            .await?;
        Ok(list.into_iter().map(container_info).collect())
    }

    /// The engine's list without its inspect: restart counts, OOM kills and restart
    /// policies are read for the containers that are not running (always) and for the
    /// running ones too when `running` (the slower full listing), at most MAX_INSPECT.
    pub async fn add_details(&self, list: &mut [ContainerInfo], running: bool) {
        let wanted: Vec<usize> = list
            .iter()
            .enumerate()
            .filter(|(_, c)| c.state != "created" && (running || !c.running()))
            .map(|(i, _)| i)
            .take(MAX_INSPECT)
            .collect();
        let read = futures::future::join_all(wanted.iter().map(|&i| {
            let id = list[i].id.clone();
            async move {
                self.timed(self.d().ok()?.inspect_container(&id, None))
                    .await
                    .ok()
            }
        }))
        .await;
        for (i, ins) in wanted.into_iter().zip(read) {
            if let Some(ins) = ins {
                apply_inspect(&mut list[i], ins);
            }
        }
    }

    /// Every container, with the inspect details of those not running.
    pub async fn list_detailed(&self) -> Result<Vec<ContainerInfo>, ExecError> {
        let mut list = self.list(None).await?;
        self.add_details(&mut list, false).await;
        Ok(list)
    }

    /// CPU % (of one core, as `docker stats`) and memory of a running container.
    pub async fn stats(&self, id: &str) -> Result<(f64, u64, u64), ExecError> {
        let mut stream = self
            .d()?
            .stats(id, Some(StatsOptionsBuilder::new().stream(false).build()));
        let s = match tokio::time::timeout(READ_TIMEOUT, stream.next()).await {
            Ok(Some(r)) => r.map_err(|e| self.err(e))?,
            Ok(None) => return Err(ExecError::NotFound(id.to_string())),
            Err(_) => {
                return Err(ExecError::Unreachable {
                    socket: self.socket.clone(),
                    reason: "stats timed out".into(),
                });
            }
        };
        Ok(stats_of(s))
    }

    /// Every container with its stats filled in for the running ones.
    pub async fn containers_with_stats(&self) -> Result<Vec<ContainerInfo>, ExecError> {
        let mut list = self.list(None).await?;
        self.add_details(&mut list, true).await;
        let stats = futures::future::join_all(list.iter().map(|c| async move {
            if c.running() {
                self.stats(&c.id).await.ok()
            } else {
                None
            }
        }))
        .await;
        for (c, s) in list.iter_mut().zip(stats) {
            if let Some((cpu, mem, limit)) = s {
                c.cpu_pct = Some(cpu);
                c.mem_bytes = Some(mem);
                c.mem_limit = Some(limit);
            }
        }
        list.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(list)
    }
}

impl Client {
    /// Names of containers as they exit, from the engine's event stream, until the
    /// receiver is gone. Reconnects after an engine restart; the periodic listing
    /// catches anything missed meanwhile.
    pub async fn watch_exits(&self, tx: tokio::sync::mpsc::Sender<String>) {
        let filters = HashMap::from([
            ("type", vec!["container".to_string()]),
            ("event", vec!["die".to_string()]),
        ]);
        loop {
            let Ok(d) = self.d() else {
                return;
            };
            let mut events = d.events(Some(
                bollard::query_parameters::EventsOptionsBuilder::new()
                    .filters(&filters)
                    .build(),
            ));
            while let Some(ev) = events.next().await {
                let Ok(ev) = ev else { break };
                if let Some(name) = exit_name(ev)
                    && tx.send(name).await.is_err()
                {
                    return;
                }
            }
            if tx.is_closed() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }
}

/// One entry of the engine's container list as vigil sees it. Everything in it comes
/// from the engine's JSON, so nothing here may assume a field is present.
pub fn container_info(c: bollard::models::ContainerSummary) -> ContainerInfo {
    let labels = c.labels.unwrap_or_default();
    let status = c.status.unwrap_or_default();
    ContainerInfo {
        id: c.id.unwrap_or_default(),
        name: c
            .names
            .and_then(|n| n.first().cloned())
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string(),
        image: c.image.unwrap_or_default(),
        state: c.state.map(|s| s.to_string()).unwrap_or_default(),
        health: health_of(&status),
        group: labels.get(GROUP_LABEL).cloned(),
        labels,
        created: c.created.unwrap_or(0),
        status,
        ..ContainerInfo::default()
    }
}

/// What the list does not say. Everything comes from the engine's JSON: any field may
/// be missing, and a negative count is no count.
pub fn apply_inspect(c: &mut ContainerInfo, ins: bollard::models::ContainerInspectResponse) {
    c.restart_count = ins.restart_count.and_then(|n| u64::try_from(n).ok());
    let state = ins.state.unwrap_or_default();
    c.oom_killed = state.oom_killed;
    let host = ins.host_config.unwrap_or_default();
    c.restart_policy = host
        .restart_policy
        .and_then(|p| p.name)
        .map(|n| n.to_string())
        .filter(|n| !n.is_empty());
    c.mem_limit_set = host
        .memory
        .and_then(|m| u64::try_from(m).ok())
        .filter(|&m| m > 0);
}

/// The container named by a `die` event, if the event names one.
pub fn exit_name(ev: bollard::models::EventMessage) -> Option<String> {
    ev.actor
        .and_then(|a| a.attributes)
        .and_then(|a| a.get("name").cloned())
}

/// CPU % (of one core, as `docker stats`), memory used and its limit, from one stats
/// reading.
pub fn stats_of(s: bollard::models::ContainerStatsResponse) -> (f64, u64, u64) {
    let cpu = s.cpu_stats.unwrap_or_default();
    let pre = s.precpu_stats.unwrap_or_default();
    let total = |c: &bollard::models::ContainerCpuStats| {
        c.cpu_usage
            .as_ref()
            .and_then(|u| u.total_usage)
            .unwrap_or(0)
    };
    let cpu_delta = total(&cpu).saturating_sub(total(&pre)) as f64;
    let sys_delta = cpu
        .system_cpu_usage
        .unwrap_or(0)
        .saturating_sub(pre.system_cpu_usage.unwrap_or(0)) as f64;
    let online = cpu.online_cpus.unwrap_or(1).max(1) as f64;
    let pct = if sys_delta > 0.0 {
        cpu_delta / sys_delta * online * 100.0
    } else {
        0.0
    };
    let mem = s.memory_stats.unwrap_or_default();
    // As the docker CLI: page cache the kernel can drop is not "used".
    let cache = mem
        .stats
        .as_ref()
        .and_then(|st| {
            st.get("total_inactive_file")
                .or(st.get("inactive_file"))
                .copied()
        })
        .unwrap_or(0);
    let used = mem.usage.unwrap_or(0).saturating_sub(cache);
    (pct, used, mem.limit.unwrap_or(0))
}
