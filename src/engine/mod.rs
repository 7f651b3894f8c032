//! engine: owns the tick, wires the pipeline stages, publishes `Snapshot`s on a watch
//! channel and takes `Command`s. The console never calls a stage; it only talks here.

mod actions;
pub mod anomalies;
mod clock;
mod cloud;
mod container_checks;
mod executors;
pub mod forecasts;
pub mod host_checks;
pub mod incidents;
mod notes;
mod scale_outcome;
mod steps;
pub mod view;

pub use crate::protocol::{
    Call, Command, Handle, HostInfo, Notice, Reply, Severity, Snapshot, WINDOW_MS,
};
pub use clock::{Clock, SystemClock};

use crate::collect::host::HostCollector;
use crate::collect::{HostSample, Metric};
use crate::config::Config;
use crate::config::{Mode, TargetKind};
use crate::forecast::Fitted as FittedModels;
use crate::plan::proposal::{Ledger, TargetPlan};
use crate::sim::replay::Replay;
use crate::store::{Retention, Store};
use forecasts::Forecasts;
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Containers are counted every this many ticks: the engine's API is slower than /proc.
const DOCKER_EVERY: u64 = 5;
const MAINTAIN_EVERY_MS: i64 = 60_000;

/// Where samples come from.
pub enum Source {
    Host(Box<HostCollector>),
    Replay(Box<Replay>),
}

impl Source {
    fn label(&self) -> String {
        match self {
            Source::Host(_) => "procfs".into(),
            Source::Replay(r) => format!("replay {}", r.name),
        }
    }
}

type Fitted = Vec<(Metric, FittedModels)>;
/// Every target's ledger.
type Planned = Vec<(String, Ledger)>;

pub struct Engine {
    config: Config,
    clock: Arc<dyn Clock>,
    source: Source,
    store: Store,
    forecasts: Forecasts,
    anomalies: anomalies::Anomalies,
    refit_tx: mpsc::Sender<Fitted>,
    refit_rx: mpsc::Receiver<Fitted>,
    refitting: bool,
    plans: Vec<TargetPlan>,
    tx: watch::Sender<Snapshot>,
    ticks: u64,
    last_maintain: i64,
    containers: Option<u32>,
    /// Notices that stay for the whole run (config problems).
    fixed_notices: Vec<Notice>,
    collect_error: Option<String>,
    actions: actions::Actions,
    published_changes: u64,
    incidents: incidents::Incidents,
    published_incidents: u64,
}

pub fn retention(c: &Config) -> Retention {
    Retention {
        raw: c.store.raw_retention,
        minute: c.store.minute_retention,
        hour: c.store.hour_retention,
    }
}

/// The database file the config asks for, if any.
pub fn store_path(c: &Config) -> Option<PathBuf> {
    if !c.store.enabled {
        return None;
    }
    c.store
        .path
        .clone()
        .or_else(|| crate::config::paths::data_dir().map(|d| d.join("vigil.db")))
}

/// The audit log the config asks for.
pub fn audit_path(c: &Config) -> Option<PathBuf> {
    c.audit.path.clone().or_else(crate::audit::default_path)
}

/// The settings a reload cannot move: puts the running value back into `new` for each
/// one that changed, and names them.
fn restart_only(running: &Config, new: &mut Config) -> Vec<&'static str> {
    let mut fixed = Vec::new();
    if store_path(running) != store_path(new) {
        new.store = running.store.clone();
        fixed.push("store.path");
    }
    if audit_path(running) != audit_path(new) {
        new.audit.path = running.audit.path.clone();
        fixed.push("audit.path");
    }
    if brake_path(running) != brake_path(new) {
        new.daemon.brake = running.daemon.brake.clone();
        fixed.push("daemon.brake");
    }
    if socket_path(running) != socket_path(new) || running.daemon.group != new.daemon.group {
        new.daemon.socket = running.daemon.socket.clone();
        new.daemon.group = running.daemon.group.clone();
        fixed.push("daemon.socket");
    }
    fixed
}

/// The host's brake: one place for every vigil on the host, whoever runs it.
pub fn brake_path(c: &Config) -> PathBuf {
    c.daemon
        .brake
        .clone()
        .unwrap_or_else(crate::config::paths::default_brake)
}

/// The attach socket of this host's engine.
pub fn socket_path(c: &Config) -> Option<PathBuf> {
    c.daemon
        .socket
        .clone()
        .or_else(crate::config::paths::default_socket)
}

fn host_info() -> HostInfo {
    HostInfo {
        name: hostname::get()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "?".into()),
        cores: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
    }
}

/// History a restart keeps for the forecasts: a week.
const FORECAST_HISTORY_MS: i64 = 7 * 86_400_000;

impl Engine {
    pub fn new(
        config: Config,
        clock: Arc<dyn Clock>,
        source: Source,
        fixed_notices: Vec<Notice>,
    ) -> (Engine, watch::Receiver<Snapshot>) {
        let now = clock.now_ms();
        // A replay must not write into the host's own history.
        let store = match &source {
            Source::Host(_) => Store::open(store_path(&config).as_deref(), retention(&config)),
            Source::Replay(_) => Store::memory(retention(&config)),
        };
        let mut config = config;
        // A replay's proposals are about the trace, never about this host's containers.
        if matches!(source, Source::Replay(_)) {
            config.shadow_forced = true;
        }
        if config.shadow_forced {
            config.mode = Mode::Shadow;
        }
        let db = match &source {
            Source::Host(_) => store.path().map(|p| p.to_path_buf()),
            Source::Replay(_) => None,
        };
        let (notifier, notify_problems) = match tokio::runtime::Handle::try_current() {
            Ok(_) => crate::notify::Notifier::spawn(
                &config.notify,
                &host_info().name,
                crate::notify::Pace::default(),
            ),
            Err(_) => (crate::notify::Notifier::none(), Vec::new()),
        };
        let mut fixed_notices = fixed_notices;
        fixed_notices.extend(notify_problems.into_iter().map(|text| Notice {
            severity: Severity::Warn,
            text,
        }));
        let actions = actions::Actions::new(&config, db.as_deref(), notifier);
        let incidents = incidents::Incidents::new(&config, db.as_deref(), now);
        let mut snap = Snapshot {
            host: host_info(),
            source: source.label(),
            mode: config.mode,
            shadow_forced: config.shadow_forced,
            interval_ms: config.interval.as_millis() as u64,
            ts: now,
            ..Snapshot::default()
        };
        // History survives a restart (or comes from the trace): the screen and the
        // forecasts start from it.
        let mut long: BTreeMap<Metric, Vec<(i64, f64)>> = BTreeMap::new();
        for m in Metric::ALL {
            let h = match &source {
                Source::Host(_) => store.history(m.name(), now - FORECAST_HISTORY_MS),
                Source::Replay(r) if m == Metric::Cpu => r.before(now),
                Source::Replay(_) => Vec::new(),
            };
            let recent: VecDeque<(i64, f64)> = h
                .iter()
                .copied()
                .filter(|&(t, _)| t >= now - WINDOW_MS)
                .collect();
            snap.history.insert(m, recent);
            long.insert(m, h);
        }
        let longest_boot = config
            .scale
            .iter()
            .map(|t| t.boot)
            .max()
            .unwrap_or_default();
        let forecasts = Forecasts::warm(&long, now, longest_boot.as_millis() as i64);
        snap.forecasts = forecasts.latest.clone();
        let anomalies = anomalies::Anomalies::warm(&long, now);
        let (tx, rx) = watch::channel(snap);
        let (refit_tx, refit_rx) = mpsc::channel(4);
        let plans = config
            .scale
            .iter()
            .map(|t| TargetPlan::new(t.clone(), now))
            .collect();
        let mut engine = Engine {
            config,
            clock,
            source,
            store,
            forecasts,
            anomalies,
            refit_tx,
            refit_rx,
            refitting: false,
            plans,
            tx,
            ticks: 0,
            last_maintain: now,
            containers: None,
            fixed_notices,
            collect_error: None,
            actions,
            published_changes: u64::MAX,
            incidents,
            published_incidents: 0,
        };
        engine.publish_notices();
        engine.publish_actions();
        engine.publish_incidents();
        (engine, rx)
    }

    /// Starts the engine on the current tokio runtime.
    pub fn spawn(
        config: Config,
        clock: Arc<dyn Clock>,
        source: Source,
        fixed_notices: Vec<Notice>,
    ) -> Handle {
        let (engine, rx) = Engine::new(config, clock, source, fixed_notices);
        engine.start_watchers();
        let (ctx, crx) = mpsc::channel(64);
        let task = tokio::spawn(engine.run(crx));
        Handle {
            snapshots: rx,
            calls: ctx,
            task,
        }
    }

    pub async fn run(mut self, mut calls: mpsc::Receiver<Call>) {
        let mut ticker = tokio::time::interval(self.config.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        // Once asked to stop: nothing new starts; what runs may finish until then.
        let mut stopping: Option<tokio::time::Instant> = None;
        loop {
            if let Some(deadline) = stopping
                && (self.actions.in_flight() == 0 || tokio::time::Instant::now() >= deadline)
            {
                break;
            }
            tokio::select! {
                _ = ticker.tick() => {
                    if stopping.is_none() && !self.tx.borrow().paused {
                        self.tick().await;
                    }
                }
                Some(fitted) = self.refit_rx.recv() => {
                    self.forecasts.install(fitted);
                    self.refitting = false;
                }
                Some(ev) = self.actions.rx.recv() => {
                    self.actions.on_event(ev, self.clock.now_ms());
                    self.after_actions();
                }
                Some(ev) = self.incidents.rx.recv() => {
                    self.incidents.on_event(ev, &mut self.actions, self.clock.now_ms());
                    self.after_actions();
                }
                call = calls.recv(), if stopping.is_none() => match call {
                    None => stopping = Some(self.stop_deadline()),
                    Some(Call { command: Command::Shutdown, reply }) => {
                        stopping = Some(self.stop_deadline());
                        if let Some(r) = reply {
                            let _ = r.send(Reply::Done { message: "stopping".into() });
                        }
                    }
                    Some(Call { command, reply }) => {
                        let answer = self.command(command);
                        if let Some(r) = reply {
                            let _ = r.send(answer);
                        }
                    }
                },
            }
        }
        let left = self.actions.in_flight();
        if left > 0 {
            tracing::warn!(
                left,
                "stopped with actions in flight: the next start reconciles them"
            );
        }
        tracing::info!("engine stopped");
    }

    /// How long a stop waits for in-flight actions: the longest a verification may take.
    fn stop_deadline(&self) -> tokio::time::Instant {
        let longest = self
            .config
            .scale
            .iter()
            .map(|t| t.ready_timeout)
            .chain([self.config.heal.verify_within])
            .max()
            .unwrap_or_default();
        tokio::time::Instant::now() + longest.min(Duration::from_secs(120)) + Duration::from_secs(5)
    }

    /// Watches the Docker engine for container exits (on this host only).
    pub fn start_watchers(&self) {
        if matches!(self.source, Source::Host(_)) {
            self.actions.watch();
        }
    }

    /// Handles one result of the action side (an execution, a verification, a container
    /// listing), waiting at most `wait`; false if none came. `run` does this itself.
    pub async fn pump(&mut self, wait: Duration) -> bool {
        let got = tokio::time::timeout(wait, async {
            tokio::select! {
                Some(ev) = self.actions.rx.recv() => Some(Ok(ev)),
                Some(ev) = self.incidents.rx.recv() => Some(Err(ev)),
                else => None,
            }
        })
        .await;
        let now = self.clock.now_ms();
        match got {
            Ok(Some(Ok(ev))) => self.actions.on_event(ev, now),
            Ok(Some(Err(ev))) => self.incidents.on_event(ev, &mut self.actions, now),
            _ => return false,
        }
        self.after_actions();
        true
    }

    /// What the console (or a daemon client) asks for, and the engine's answer.
    pub fn command(&mut self, cmd: Command) -> Reply {
        let now = self.clock.now_ms();
        let reply = match cmd {
            Command::TogglePause => {
                self.tx.send_modify(|s| {
                    s.paused = !s.paused;
                    s.seq += 1;
                });
                Reply::Done {
                    message: if self.tx.borrow().paused {
                        "paused"
                    } else {
                        "resumed"
                    }
                    .into(),
                }
            }
            Command::Approve {
                id,
                version,
                by,
                confirm,
            } => self.answer(&id, version, true, &by, confirm.as_deref(), now),
            Command::Reject {
                id, version, by, ..
            } => self.answer(&id, version, false, &by, None, now),
            Command::SetShadow { on, by } => {
                if !on && self.config.shadow_forced {
                    let reason = "shadow mode was forced (--shadow or a replay): it stays on";
                    self.actions.message = Some(reason.into());
                    self.actions.changes += 1;
                    Reply::Refused {
                        reason: reason.into(),
                    }
                } else {
                    self.actions.set_shadow(on, &by);
                    let mode = if on { Mode::Shadow } else { Mode::Live };
                    self.tx.send_modify(|s| {
                        s.mode = mode;
                        s.seq += 1;
                    });
                    Reply::Done {
                        message: if on { "shadow mode on" } else { "live mode" }.into(),
                    }
                }
            }
            Command::Brake { engage, by, reason } => {
                self.actions.set_brake(
                    engage,
                    &by,
                    reason.as_deref().unwrap_or("from the console"),
                );
                let message = self.actions.message.clone().unwrap_or_default();
                if message.starts_with("brake:") {
                    Reply::Refused { reason: message }
                } else {
                    Reply::Done { message }
                }
            }
            Command::Proposals => Reply::Proposals {
                entries: view::entries(&self.actions.board()),
            },
            Command::AnswerIncident { id, approve, by } => {
                self.incidents
                    .answer(&id, approve, &by, &mut self.actions, now)
            }
            Command::DismissIncident { id, by } => {
                self.incidents.dismiss(&id, &by, &mut self.actions, now)
            }
            Command::Incidents => {
                let (incidents, board) = self.incidents.views(now);
                Reply::Incidents { incidents, board }
            }
            Command::Reload { config, problems } => self.reload(*config, problems),
            Command::Shutdown => Reply::Done {
                message: "stopping".into(),
            },
        };
        self.after_actions();
        reply
    }

    /// An answer to one version, with the checks that belong to the engine whatever the
    /// view did: the version must be the current one, and a risky approval must carry
    /// the target's name, typed.
    fn answer(
        &mut self,
        id: &str,
        version: u32,
        approve: bool,
        by: &crate::audit::Actor,
        confirm: Option<&str>,
        now: i64,
    ) -> Reply {
        use crate::approve::State;
        let current = self.actions.queue.next_version(id).saturating_sub(1);
        if current == 0 {
            self.actions.message = Some(format!("no proposal {id}"));
            self.actions.changes += 1;
            return Reply::NotFound { id: id.to_string() };
        }
        let before = self.actions.queue.get(id, version).ok().flatten();
        if current == version
            && let Some(e) = &before
            && e.state == State::Pending
            && approve
            && let Some(need) = confirmation_needed(&e.proposal)
            && confirm != Some(need)
        {
            let reason = format!(
                "{id} v{version} is {} risk: approving it needs the target's name typed ({need})",
                format!("{:?}", e.proposal.risk).to_lowercase()
            );
            self.actions.audit(
                "refused",
                by,
                serde_json::json!({"proposal": id, "version": version, "summary": format!("approval refused: {reason}")}),
            );
            self.actions.message = Some(reason.clone());
            self.actions.changes += 1;
            return Reply::Refused { reason };
        }
        // The queue decides (and audits a stale answer); the engine is the only writer,
        // so what it held before and after tells whether this answer was the one taken.
        self.actions.answer(id, version, approve, by, now, false);
        let message = self.actions.message.clone().unwrap_or_default();
        if current != version {
            return Reply::Stale {
                id: id.to_string(),
                current,
                message,
            };
        }
        let after = self.actions.queue.get(id, version).ok().flatten();
        match (before, after) {
            (Some(b), Some(a)) if b.state == State::Pending && a.state != State::Pending => {
                Reply::Decided {
                    id: id.to_string(),
                    version,
                    state: a.state.name().to_string(),
                    message,
                }
            }
            (Some(_), _) => Reply::Refused { reason: message },
            (None, _) => Reply::NotFound { id: id.to_string() },
        }
    }

    /// SIGHUP: the new config replaces the old only if it has no problem at all.
    fn reload(&mut self, config: Config, problems: Vec<String>) -> Reply {
        let who = crate::audit::Actor::local();
        if !problems.is_empty() {
            let reason = format!(
                "config reload refused, the running config stays: {}",
                problems.join("; ")
            );
            tracing::warn!("{reason}");
            self.actions.audit(
                "reload",
                &who,
                serde_json::json!({"applied": false, "problems": problems, "summary": reason}),
            );
            self.fixed_notices
                .retain(|n| !n.text.starts_with("config reload"));
            self.fixed_notices.push(Notice {
                severity: Severity::Error,
                text: reason.clone(),
            });
            return Reply::Refused { reason };
        }
        let mut config = config;
        // Where the queue, the audit log, the brake and the socket live is fixed for the
        // life of the process (the lock, the open files and the bound socket follow it):
        // a reload that moves them keeps the running places and says a restart is needed.
        let fixed = restart_only(&self.config, &mut config);
        config.shadow_forced = self.config.shadow_forced;
        if config.shadow_forced {
            config.mode = Mode::Shadow;
        }
        let now = self.clock.now_ms();
        // Targets that did not change keep their plan (and its ledger and cooldowns).
        let mut old: Vec<TargetPlan> = std::mem::take(&mut self.plans);
        self.plans = config
            .scale
            .iter()
            .map(|t| match old.iter().position(|p| &p.cfg == t) {
                Some(i) => old.swap_remove(i),
                None => TargetPlan::new(t.clone(), now),
            })
            .collect();
        let mode_changed = config.mode != self.config.mode;
        self.incidents.reconfigure(&config);
        for p in self.actions.reconfigure(&config, &host_info().name) {
            tracing::warn!("notify: {p}");
        }
        if mode_changed {
            self.actions.set_shadow(config.mode == Mode::Shadow, &who);
            let mode = config.mode;
            self.tx.send_modify(|s| {
                s.mode = mode;
                s.seq += 1;
            });
        }
        self.actions
            .queue
            .set_ttl(config.approve.ttl.as_millis().min(i64::MAX as u128) as i64);
        self.fixed_notices.retain(|n| !n.text.starts_with("config"));
        self.config = config;
        let summary = if fixed.is_empty() {
            "config reloaded".to_string()
        } else {
            let s = format!(
                "config reloaded; {} changed and need a restart (the running ones stay)",
                fixed.join(", ")
            );
            self.fixed_notices.push(Notice {
                severity: Severity::Warn,
                text: s.clone(),
            });
            s
        };
        self.actions.audit(
            "reload",
            &who,
            serde_json::json!({"applied": true, "restart_needed": fixed, "summary": summary}),
        );
        tracing::info!("{summary}");
        Reply::Done { message: summary }
    }

    /// Publishes the action side when it changed, and lets the plans follow the real
    /// size of the groups.
    fn after_actions(&mut self) {
        self.heal();
        if self.tx.borrow().mode == Mode::Live {
            let counts = self.actions.group_counts();
            for plan in &mut self.plans {
                // A Swarm service's replicas are not read back; the others' are.
                if plan.cfg.kind != crate::config::TargetKind::SwarmService
                    && !self.actions.is_busy(&plan.cfg.name)
                    && let Some(&n) = counts.get(&plan.cfg.name)
                {
                    plan.instances = n;
                }
            }
        }
        self.publish_actions();
        self.publish_notices();
    }

    /// One pass of the healing loop over what the engine knows now, and the incidents
    /// published when they changed.
    fn heal(&mut self) {
        let now = self.clock.now_ms();
        {
            let snap = self.tx.borrow();
            let ctx = incidents::Context {
                history: &snap.history,
                latest: snap.latest.as_ref(),
                forecasts: &self.forecasts.latest,
                anomalies: &self.anomalies,
            };
            self.incidents.advance(&mut self.actions, &ctx, now);
        }
        self.publish_incidents();
    }

    fn publish_incidents(&mut self) {
        if self.incidents.changes == self.published_incidents {
            return;
        }
        let now = self.clock.now_ms();
        self.published_incidents = self.incidents.changes;
        let (list, board) = self.incidents.views(now);
        self.tx.send_modify(|s| {
            s.incidents = list;
            s.healing = board;
            s.seq += 1;
        });
    }

    fn publish_actions(&mut self) {
        let brake = self.actions.gate.brake().engaged();
        if self.actions.changes == self.published_changes && self.tx.borrow().brake == brake {
            return;
        }
        self.published_changes = self.actions.changes;
        let board = view::entries(&self.actions.board());
        let containers = self.actions.containers.clone();
        let cloud = self.actions.cloud_in_flight();
        let message = self.actions.message.clone();
        let tail: Vec<String> = self.actions.audit_tail.iter().cloned().collect();
        let running = containers.iter().filter(|c| c.running()).count() as u32;
        let have_docker = self.actions.docker_error.is_none() && !containers.is_empty();
        if have_docker {
            self.containers = Some(running);
        }
        self.tx.send_modify(|s| {
            s.board = board;
            s.brake = brake;
            s.containers = containers;
            s.cloud = cloud;
            s.message = message;
            s.audit_tail = tail;
            s.seq += 1;
        });
    }

    /// One pass of the pipeline: collect, remember, publish.
    pub async fn tick(&mut self) {
        let now = self.clock.now_ms();
        if matches!(self.source, Source::Host(_)) && self.ticks.is_multiple_of(DOCKER_EVERY) {
            let socket = &self.config.docker.socket;
            if socket.exists() {
                self.actions.list_containers(true);
            } else if self
                .config
                .scale
                .iter()
                .any(|t| t.kind != TargetKind::HuaweiAsGroup)
            {
                // Without targets on Docker, a host with no engine is not a problem.
                self.actions.docker_error = Some(format!(
                    "{} does not exist: Docker targets cannot be read or changed",
                    socket.display()
                ));
            }
        }
        if let Source::Host(c) = &self.source {
            self.actions.read_cloud(now);
            self.incidents.read_host_counters(c.root(), now);
        }
        self.actions.expire(now);
        self.actions.judge_scales(None, now);
        self.incidents.read_disks(now);
        self.ticks += 1;
        let collected = match &mut self.source {
            Source::Host(c) => c.collect(now).map_err(|e| e.to_string()),
            Source::Replay(r) => r
                .sample(now)
                .ok_or_else(|| "the trace has ended".to_string()),
        };
        match collected {
            Ok(mut sample) => {
                self.collect_error = None;
                sample.containers_running = self.containers;
                self.record(sample);
            }
            Err(e) => {
                let text = format!("collect: {e}");
                if self.collect_error.as_deref() != Some(&text) {
                    tracing::warn!("{text}");
                }
                self.collect_error = Some(text);
            }
        }
        if now - self.last_maintain >= MAINTAIN_EVERY_MS {
            self.store.maintain(now);
            self.last_maintain = now;
        }
        self.after_actions();
    }

    /// Adds a sample to the history and the store and publishes it.
    pub fn record(&mut self, sample: HostSample) {
        // The first reading has no rates yet: keep it off the charts.
        let has_rates = !sample.cpu_per_core.is_empty();
        if has_rates {
            let values: Vec<(&str, f64)> = Metric::ALL
                .iter()
                .map(|&m| (m.name(), sample.value(m)))
                .collect();
            self.store.insert(sample.ts, &values);
        }
        // Forecasts and plans first, so the console gets one consistent snapshot (and
        // one redraw) per tick.
        if has_rates {
            self.actions.judge_scales(Some(&sample), sample.ts);
        }
        let minute_closed = has_rates && self.forecasts.observe(&sample);
        if minute_closed && let Some((start, avg)) = self.forecasts.closed {
            self.anomalies.observe_minute(start, avg, sample.ts);
        }
        let (forecasts, planned) = if minute_closed {
            let planned = self.plan(&sample);
            self.start_refits();
            (Some(self.forecasts.latest.clone()), planned)
        } else {
            (None, None)
        };
        self.tx.send_modify(|s| {
            if has_rates {
                for m in Metric::ALL {
                    let h = s.history.entry(m).or_default();
                    h.push_back((sample.ts, sample.value(m)));
                    while h.front().is_some_and(|&(t, _)| t < sample.ts - WINDOW_MS) {
                        h.pop_front();
                    }
                }
            }
            if let Some(f) = forecasts {
                s.forecasts = f;
            }
            if let Some(ledgers) = planned {
                s.ledgers = ledgers;
            }
            s.ts = sample.ts;
            s.latest = Some(sample);
            s.seq += 1;
        });
    }

    /// Scale decisions for every target, once a minute with the forecasts. In shadow
    /// mode a proposal is recorded as what would have run, and the ledger follows it.
    fn plan(&mut self, sample: &HostSample) -> Option<Planned> {
        if self.plans.is_empty() {
            return None;
        }
        let shadow = self.tx.borrow().mode == Mode::Shadow;
        let mut new = Vec::new();
        let mut quiet = Vec::new();
        for plan in &mut self.plans {
            let Some(metric) = Metric::from_name(&plan.cfg.metric) else {
                continue;
            };
            let forecast = self.forecasts.latest.get(&metric);
            if let Some(p) = plan.decide(
                sample.ts,
                sample.value(metric),
                forecast,
                &self.config.currency,
            ) {
                tracing::info!(proposal = %p.summary(), rule = ?p.rule, shadow, "scale proposal");
                if shadow {
                    plan.shadow_follow(&p);
                }
                new.push(p);
            } else {
                quiet.push(format!("scale:{}", plan.cfg.name));
            }
        }
        // In shadow mode the plan assumes its proposal ran, so its silence next minute
        // does not make the waiting one stale: it waits for an answer or its expiry.
        if !shadow {
            for id in quiet {
                self.actions.withdraw(&id, sample.ts);
            }
        }
        for p in new {
            self.actions.offer(p, sample.ts);
        }
        Some(
            self.plans
                .iter()
                .map(|p| (p.cfg.name.clone(), p.ledger.clone()))
                .collect(),
        )
    }

    /// Hands due refits to a blocking thread; the fitted models come back on a channel
    /// the run loop listens to.
    fn start_refits(&mut self) {
        if self.refitting {
            return;
        }
        let jobs = self.forecasts.refit_jobs();
        if jobs.is_empty() {
            return;
        }
        self.refitting = true;
        let tx = self.refit_tx.clone();
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            // No runtime (a synchronous caller): fit here.
            self.forecasts.install(forecasts::run_jobs(jobs));
            self.refitting = false;
            return;
        };
        rt.spawn_blocking(move || {
            let _ = tx.blocking_send(forecasts::run_jobs(jobs));
        });
    }

    fn publish_notices(&self) {
        let mut notices = self.fixed_notices.clone();
        if let Some(n) = self.store.notice() {
            notices.push(Notice {
                severity: Severity::Warn,
                text: n.to_string(),
            });
        }
        if let Some(n) = &self.incidents.notice {
            notices.push(Notice {
                severity: Severity::Warn,
                text: n.clone(),
            });
        }
        if let Some(n) = self.incidents.llm_warning() {
            notices.push(Notice {
                severity: Severity::Warn,
                text: n.to_string(),
            });
        }
        if let Some(text) = self.incidents.host.notice() {
            notices.push(Notice {
                severity: Severity::Warn,
                text,
            });
        }
        if let Some(n) = &self.actions.queue.notice {
            notices.push(Notice {
                severity: Severity::Warn,
                text: n.clone(),
            });
        }
        let docker_error = self
            .actions
            .docker_error
            .as_ref()
            .map(|e| format!("docker: {e}"));
        let brake_error = self.actions.brake_notice();
        let cloud_error = self.actions.cloud_error();
        for e in [
            &self.collect_error,
            &docker_error,
            &cloud_error,
            &self.actions.audit_error,
            &brake_error,
        ]
        .into_iter()
        .flatten()
        {
            notices.push(Notice {
                severity: Severity::Error,
                text: e.clone(),
            });
        }
        self.tx.send_if_modified(|s| {
            if s.notices == notices {
                return false;
            }
            s.notices = notices;
            s.seq += 1;
            true
        });
    }
}

/// The typed confirmation a risky proposal needs (the name of what it touches), if any:
/// emergencies, large or destructive changes. The engine checks it; the console asks it.
pub fn confirmation_needed(p: &crate::plan::proposal::Proposal) -> Option<&str> {
    (p.risk >= crate::plan::proposal::Risk::Medium).then(|| p.action.subject())
}

/// Two readings one interval apart, for `vigil status`. It only reads: no engine, no
/// queue, no audit, no webhook, no executor — the host's owner does all of that.
pub async fn snapshot_once(config: Config) -> Snapshot {
    let interval = config.interval.max(Duration::from_millis(250));
    let mut collector = HostCollector::proc();
    let mut snap = Snapshot {
        host: host_info(),
        source: "procfs".into(),
        mode: config.mode,
        interval_ms: interval.as_millis() as u64,
        ..Snapshot::default()
    };
    let mut errors = Vec::new();
    for i in 0..2 {
        if i > 0 {
            tokio::time::sleep(interval).await;
        }
        match collector.collect(chrono::Utc::now().timestamp_millis()) {
            Ok(s) => {
                snap.ts = s.ts;
                snap.latest = Some(s);
            }
            Err(e) => errors.push(format!("collect: {e}")),
        }
    }
    if config.docker.socket.exists() {
        let docker = crate::collect::docker::Client::connect(&config.docker.socket);
        match tokio::time::timeout(Duration::from_secs(3), docker.list(None)).await {
            Ok(Ok(list)) => {
                let running = list.iter().filter(|c| c.running()).count() as u32;
                if let Some(s) = snap.latest.as_mut() {
                    s.containers_running = Some(running);
                }
                snap.containers = list;
            }
            Ok(Err(e)) => errors.push(format!("docker: {e}")),
            Err(_) => errors.push("docker: no answer within 3 s".into()),
        }
    }
    snap.brake = crate::execute::Brake::new(brake_path(&config)).engaged();
    snap.notices = errors
        .into_iter()
        .map(|text| Notice {
            severity: Severity::Error,
            text,
        })
        .collect();
    snap
}
