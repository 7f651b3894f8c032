//! The healing loop: every pass, the detectors and state checks name problems on the
//! host's targets; a problem opens an **incident** (its evidence with numbers and start
//! time, a diagnosis from rules that read several signals together, the playbook that
//! answers it); the playbook's steps run — executor actions through the approval queue,
//! the one gate and the audit exactly like every other action, the other steps through
//! the typed step runner, gated and audited too — and the playbook's metric is checked
//! against live samples. A fix that did not help is rolled back where it can be and
//! escalated. Guardrails: a few fixes at once, a cooldown per target, flap protection,
//! and a problem that returns soon after its fix verified is escalated, not repeated.
//!
//! An incident's whole state is its view (`IncidentView`), kept in the store after
//! every change: a restart resumes the open ones from where they were and never runs a
//! step twice (a local step caught running by a restart is marked interrupted).

use super::actions::Actions;
use super::container_checks::{self, ContainerChecks};
use crate::collect::{HostSample, Metric};
use crate::config::{Config, TargetKind};
use crate::detect::checks::{self, DiskCheck, LeakCheck};
use crate::execute::Action;
use crate::execute::docker::{self, ContainerInfo};
use crate::forecast::Forecast;
use crate::heal::diagnose::{self, Signals};
use crate::heal::guardrails::{Guardrails, Limits};
use crate::heal::parse::Policy;
use crate::heal::{Library, Playbook, Risk, Step, Trigger, dry_run, outcome};
use crate::notify::Event;
use crate::plan::proposal::{Proposal, Risk as ProposalRisk};
use crate::plan::scaling::Rule;
use crate::protocol::{
    HealingBoard, IncidentEvidence, IncidentState, IncidentStep, IncidentVerify, IncidentView,
    StepState,
};
use crate::store::incidents::IncidentStore;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use tokio::sync::mpsc;

const WEEK_MS: i64 = 7 * 86_400_000;
/// Closed incidents on the screen (the board counts the whole week).
const SHOWN_CLOSED: usize = 30;
/// Points of one container's memory series, at most.
const MAX_POINTS: usize = 2_000;
/// Entries one directory reading looks at, at most.
const MAX_DIR_ENTRIES: usize = 200_000;
/// Passes of one incident's steps per call: waits and notices chain within one pass.
const MAX_CHAIN: usize = 16;

/// What the engine knows this pass, besides the action side.
pub struct Context<'a> {
    pub history: &'a BTreeMap<Metric, VecDeque<(i64, f64)>>,
    pub latest: Option<&'a HostSample>,
    pub forecasts: &'a BTreeMap<Metric, Forecast>,
    /// The per-series detectors' latest judgements.
    pub anomalies: &'a super::anomalies::Anomalies,
}

pub enum IncidentEvent {
    /// A local step finished.
    Step {
        incident: String,
        index: usize,
        result: Result<String, String>,
    },
    /// The watched disks were read.
    Disks(Vec<DiskReading>),
    /// An LLM's answer (engine/notes.rs).
    Llm(super::notes::Answer),
    /// The host-wide checks read the host.
    Host(Box<super::host_checks::HostReading>),
}

pub struct DiskReading {
    pub path: String,
    pub ts: i64,
    pub used_pct: Option<f64>,
    /// The largest file and its size (budget directories).
    pub top: Option<(String, u64)>,
    pub bytes: Option<u64>,
    pub error: Option<String>,
}

/// A problem found this pass.
#[derive(Clone)]
pub(super) struct Found {
    pub(super) trigger: Trigger,
    pub(super) target: String,
    pub(super) started: i64,
    pub(super) evidence: Vec<IncidentEvidence>,
    pub(super) signals: Signals,
}

type Key = (Trigger, String);

struct Live {
    view: IncidentView,
    trigger: Trigger,
    playbook: Option<Playbook>,
    /// The problem was gone at some pass after a step acted (so its return is news).
    cleared: bool,
    dirty: bool,
}

pub struct Incidents {
    cfg: Config,
    library: Library,
    live: Vec<Live>,
    /// Final incidents of the last week, newest first.
    closed: VecDeque<IncidentView>,
    guard: Guardrails,
    store: IncidentStore,
    counter: u64,
    /// Problems present at the last pass, and when each was first seen.
    present: HashMap<Key, i64>,
    /// Problems whose incident closed while they were present: not opened again until
    /// they clear (a refused heal is not asked again for the same exit).
    suppressed: HashSet<Key>,
    mem: HashMap<String, VecDeque<(i64, f64)>>,
    disks: HashMap<String, VecDeque<(i64, f64)>>,
    disk_top: HashMap<String, (String, u64)>,
    disk_top_growth: HashMap<String, (String, u64)>,
    disk_bytes: HashMap<String, (u64, u64)>,
    reading_disks: bool,
    disk_reads: u64,
    checks: ContainerChecks,
    listed: u64,
    /// The last pass's findings, and the inputs they were read from.
    found: Vec<Found>,
    found_at: Option<(u64, u64, Option<i64>, u64)>,
    /// Certificates, connection tables, processes.
    pub host: super::host_checks::HostChecks,
    tx: mpsc::Sender<IncidentEvent>,
    pub rx: mpsc::Receiver<IncidentEvent>,
    /// Bumped on every change the screen shows.
    pub changes: u64,
    pub notice: Option<String>,
    /// Optional LLM notes; nothing waits for them.
    notes: super::notes::Notes,
}

pub(super) fn ev(name: &str, value: f64) -> IncidentEvidence {
    IncidentEvidence {
        name: name.to_string(),
        value,
    }
}

impl Incidents {
    pub fn new(cfg: &Config, db: Option<&Path>, now: i64) -> Incidents {
        let store = IncidentStore::open(db);
        let (tx, rx) = mpsc::channel(64);
        let mut me = Incidents {
            cfg: cfg.clone(),
            library: load_library(cfg),
            live: Vec::new(),
            closed: VecDeque::new(),
            guard: Guardrails::new(Limits::from_config(&cfg.heal)),
            notice: store.notice.clone(),
            store,
            counter: 0,
            present: HashMap::new(),
            suppressed: HashSet::new(),
            mem: HashMap::new(),
            disks: HashMap::new(),
            disk_top: HashMap::new(),
            disk_top_growth: HashMap::new(),
            disk_bytes: HashMap::new(),
            reading_disks: false,
            disk_reads: 0,
            checks: ContainerChecks::default(),
            listed: 0,
            found: Vec::new(),
            found_at: None,
            notes: super::notes::Notes::new(&cfg.llm),
            host: Default::default(),
            tx,
            rx,
            changes: 1,
        };
        me.notes.check_model(&me.tx);
        me.restore(now);
        me
    }

    /// Open incidents from before a restart resume; the week's closed ones feed the
    /// board. A local step found running was interrupted: it is not run again.
    fn restore(&mut self, now: i64) {
        let all = match self.store.since(now - WEEK_MS) {
            Ok(v) => v,
            Err(e) => {
                self.notice = Some(e);
                return;
            }
        };
        for mut v in all {
            // The guardrails' memory: restarts for flap protection, the last fix for
            // the cooldown, the verified fix for the watch window.
            for s in &v.steps {
                if matches!(s.name.as_str(), "restart-container" | "recreate-container")
                    && s.state == StepState::Done
                    && let Some(at) = s.at
                {
                    self.guard.restarted(&v.target, at);
                }
            }
            if v.state.is_final() {
                if let Some(ended) = v.closed
                    && !v.false_alarm
                {
                    let verified =
                        (v.state == IncidentState::Resolved).then_some(v.trigger.as_str());
                    self.guard.remember(&v.target, ended, verified);
                }
                // A problem handed to a person is not opened again by a restart of
                // vigil while it lasts.
                if matches!(
                    v.state,
                    IncidentState::Escalated | IncidentState::RolledBack
                ) && let Some(t) = Trigger::from_name(&v.trigger)
                {
                    self.suppressed.insert((t, v.target.clone()));
                }
                self.closed.push_back(v);
                continue;
            }
            let Some(trigger) = Trigger::from_name(&v.trigger) else {
                continue;
            };
            for s in v.steps.iter_mut() {
                if s.state == StepState::Running && s.proposal.is_none() && s.name != "wait" {
                    s.state = StepState::Failed;
                    s.note = Some("interrupted by a restart of vigil: not run again".into());
                }
            }
            if matches!(v.state, IncidentState::Fixing | IncidentState::Verifying) {
                self.guard.start(&v.target);
            }
            let playbook = v
                .playbook
                .as_ref()
                .and_then(|n| self.library.get(n).cloned());
            self.live.push(Live {
                view: v,
                trigger,
                playbook,
                cleared: false,
                dirty: true,
            });
        }
    }

    /// A reloaded config: the library and the limits follow it; incidents stay.
    pub fn reconfigure(&mut self, cfg: &Config) {
        self.cfg = cfg.clone();
        self.library = load_library(cfg);
        self.guard.limits = Limits::from_config(&cfg.heal);
        self.notes.reconfigure(&cfg.llm);
        self.notes.check_model(&self.tx);
    }

    /// Why incidents get no LLM notes although `[llm]` is on, for the header.
    pub fn llm_warning(&self) -> Option<&str> {
        self.notes.warning.as_deref()
    }

    pub fn library_problems(&self) -> usize {
        self.library.problems.len()
    }

    /// Open incidents, then the latest closed ones; and the board.
    pub fn views(&self, now: i64) -> (Vec<IncidentView>, HealingBoard) {
        let mut out: Vec<IncidentView> = self.live.iter().map(|l| l.view.clone()).collect();
        out.sort_by(|a, b| b.opened.cmp(&a.opened).then(b.id.cmp(&a.id)));
        out.extend(self.closed.iter().take(SHOWN_CLOSED).cloned());
        let all: Vec<IncidentView> = self
            .live
            .iter()
            .map(|l| l.view.clone())
            .chain(self.closed.iter().cloned())
            .collect();
        (out, crate::heal::board::board(&all, now))
    }

    /// Reads the watched disks in a blocking task (a hung filesystem never holds the
    /// tick); the readings come back on `rx`.
    pub fn read_disks(&mut self, now: i64) {
        self.host.read(&self.cfg.heal, &self.tx, now);
        if self.reading_disks || self.cfg.heal.disks.is_empty() || !self.cfg.heal.enabled {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        self.reading_disks = true;
        let disks = self.cfg.heal.disks.clone();
        let tx = self.tx.clone();
        rt.spawn_blocking(move || {
            let readings = disks
                .iter()
                .map(|d| read_disk(&d.path, d.budget_mib, now))
                .collect();
            let _ = tx.blocking_send(IncidentEvent::Disks(readings));
        });
    }

    pub fn on_event(&mut self, ev: IncidentEvent, a: &mut Actions, now: i64) {
        match ev {
            IncidentEvent::Llm(answer) => self.on_llm(answer, a, now),
            IncidentEvent::Host(r) => {
                self.host.on_reading(*r, &self.cfg.heal);
                self.changes += 1;
            }
            IncidentEvent::Disks(readings) => {
                self.reading_disks = false;
                self.disk_reads += 1;
                let keep = self.cfg.heal.disk_trend.as_millis() as i64;
                for r in readings {
                    if let Some(e) = r.error {
                        tracing::debug!("disk {}: {e}", r.path);
                    }
                    if let Some(u) = r.used_pct {
                        let s = self.disks.entry(r.path.clone()).or_default();
                        s.push_back((r.ts, u));
                        while s.len() > MAX_POINTS
                            || s.front().is_some_and(|&(t, _)| t < r.ts - keep)
                        {
                            s.pop_front();
                        }
                    }
                    if let Some(b) = r.bytes {
                        let prev = self.disk_bytes.get(&r.path).map(|x| x.1).unwrap_or(b);
                        self.disk_bytes.insert(r.path.clone(), (prev, b));
                    }
                    if let Some(top) = r.top {
                        // How much the largest file grew since the last reading.
                        let grew = match self.disk_top.get(&r.path) {
                            Some((p, s)) if *p == top.0 => top.1.saturating_sub(*s),
                            _ => top.1,
                        };
                        self.disk_top_growth
                            .insert(r.path.clone(), (top.0.clone(), grew));
                        self.disk_top.insert(r.path.clone(), top);
                    }
                }
                self.changes += 1;
            }
            IncidentEvent::Step {
                incident,
                index,
                result,
            } => {
                let Some(i) = self.live.iter().position(|l| l.view.id == incident) else {
                    return;
                };
                let (ok, note) = match &result {
                    Ok(t) => (true, t.clone()),
                    Err(e) => (false, e.clone()),
                };
                let l = &mut self.live[i];
                let Some(s) = l.view.steps.get_mut(index) else {
                    return;
                };
                if s.state != StepState::Running {
                    return;
                }
                s.state = if ok {
                    StepState::Done
                } else {
                    StepState::Failed
                };
                s.note = Some(note.clone());
                s.at = Some(now);
                let summary = format!(
                    "{} {}: {} on {}: {note}",
                    l.view.id,
                    if ok { "done" } else { "FAILED" },
                    s.name,
                    l.view.target
                );
                let data = serde_json::json!({"incident": l.view.id, "step": s.name, "target": l.view.target, "phase": "result", "ok": ok, "summary": summary});
                l.view.updated = now;
                l.dirty = true;
                a.audit("heal-step", &crate::audit::Actor::vigil(), data);
                // A disk, a certificate or a unit is read again at once, for the
                // verification.
                self.host.reread();
                self.read_disks(now);
            }
        }
    }

    /// One pass: find problems, open incidents, move every open one along.
    pub fn advance(&mut self, a: &mut Actions, ctx: &Context, now: i64) {
        if !self.cfg.heal.enabled {
            return;
        }
        // The checks read new inputs only: a listing, a disk reading or a host sample
        // (the loop runs after every event, far more often than those come).
        let stamp = (
            a.listed,
            self.disk_reads,
            ctx.latest.map(|s| s.ts),
            self.host.reads,
        );
        if self.found_at != Some(stamp) {
            self.found = self.find(a, ctx, now);
            self.found_at = Some(stamp);
        }
        let found = self.found.clone();
        let keys: HashSet<Key> = found
            .iter()
            .map(|f| (f.trigger, f.target.clone()))
            .collect();
        // Before the first container listing, a container's absence says nothing.
        let known = |k: &Key| a.listed > 0 || !container_checks::needs_listing(k.0, &k.1);
        self.present.retain(|k, _| keys.contains(k) || !known(k));
        for k in &keys {
            self.present.entry(k.clone()).or_insert(now);
        }
        self.suppressed.retain(|k| keys.contains(k) || !known(k));
        for l in &mut self.live {
            let k = (l.trigger, l.view.target.clone());
            if !keys.contains(&k) && known(&k) && acted(&l.view) {
                l.cleared = true;
            }
        }
        if a.listed > 0 {
            self.false_alarms(a, &keys, now);
        }
        for f in found {
            let k = (f.trigger, f.target.clone());
            let open = self
                .live
                .iter()
                .any(|l| l.trigger == f.trigger && l.view.target == f.target);
            if open || self.suppressed.contains(&k) {
                continue;
            }
            self.open(f, a, now);
        }
        for i in 0..self.live.len() {
            self.step(i, a, ctx, now);
        }
        self.watch_escalations(a, now);
        self.settle(now);
    }

    /// A container that runs again (or is gone) before vigil touched it — its restart
    /// policy, or a person — needs no fix: the incident closes as a false alarm and a
    /// heal still waiting for an answer is withdrawn. A heal already approved goes on.
    fn false_alarms(&mut self, a: &mut Actions, keys: &HashSet<Key>, now: i64) {
        for i in 0..self.live.len() {
            let l = &self.live[i];
            let key = (l.trigger, l.view.target.clone());
            if !container_checks::settles_by_itself(l.trigger, &l.view.target)
                || keys.contains(&key)
                || !matches!(l.view.state, IncidentState::Open | IncidentState::Fixing)
            {
                continue;
            }
            let Some(waiting) = untouched(&l.view, a) else {
                continue;
            };
            for (id, _) in &waiting {
                a.withdraw(id, now);
            }
            let runs = a
                .containers
                .iter()
                .any(|c| c.name == l.view.target && c.running());
            let why = if runs && l.trigger == Trigger::ContainerUnhealthy {
                "its healthcheck passes again without vigil: nothing to fix"
            } else if runs {
                "it runs again without vigil (its restart policy or a person): nothing to fix"
            } else {
                "the container is gone: nothing to fix"
            };
            let mut l = self.take(i);
            self.close_false_alarm(&mut l, a, why.into(), now);
            self.put(i, l);
        }
    }

    /// Closes an incident nothing was done for as a false alarm: what waited for an
    /// answer is marked withdrawn (the caller withdrew it from the queue).
    fn close_false_alarm(&mut self, l: &mut Live, a: &mut Actions, why: String, now: i64) {
        l.view.false_alarm = true;
        for s in l.view.steps.iter_mut() {
            if s.state == StepState::Proposed {
                s.state = StepState::Skipped;
                s.note = Some("withdrawn: no longer needed".into());
            }
        }
        self.close(l, a, IncidentState::Resolved, why, now);
    }

    /// A person says an open incident needs no fix. Only one vigil has not acted on:
    /// a fix that ran (or runs, or was approved) counts on the board as what it was,
    /// never as a false alarm. Its waiting proposals are withdrawn; while the problem
    /// stays present it is not reopened (it reopens once it has cleared and returns).
    pub fn dismiss(
        &mut self,
        id: &str,
        by: &crate::audit::Actor,
        a: &mut Actions,
        now: i64,
    ) -> crate::protocol::Reply {
        use crate::protocol::Reply;
        let Some(i) = self.live.iter().position(|l| l.view.id == id) else {
            let reason = if self.closed.iter().any(|c| c.id == id) {
                format!("{id} is already closed")
            } else {
                format!("no open incident {id}")
            };
            return Reply::Refused { reason };
        };
        let dismissable = self.live[i].view.dismissable();
        let Some(waiting) = untouched(&self.live[i].view, a).filter(|_| dismissable) else {
            return Reply::Refused {
                reason: format!("vigil has acted on {id}: it is not a false alarm to close"),
            };
        };
        let target = self.live[i].view.target.clone();
        let summary = format!(
            "false alarm: incident {id} on {target}, marked by {}",
            by.user
        );
        if !a.audit(
            "decision",
            by,
            serde_json::json!({"incident": id, "decision": "false-alarm", "summary": summary}),
        ) {
            return Reply::Refused {
                reason: "the audit log cannot take the decision: the incident stays open".into(),
            };
        }
        for (pid, _) in &waiting {
            a.withdraw(pid, now);
        }
        let mut l = self.take(i);
        l.view.manual = true;
        l.view.awaiting = None;
        self.close_false_alarm(
            &mut l,
            a,
            format!("{} marked it a false alarm: nothing to fix", by.user),
            now,
        );
        self.put(i, l);
        self.settle(now);
        Reply::Decided {
            id: id.to_string(),
            version: 0,
            state: "false-alarm".into(),
            message: summary,
        }
    }

    /// Saves what changed; moves final incidents to the closed list.
    fn settle(&mut self, now: i64) {
        let mut i = 0;
        while i < self.live.len() {
            if self.live[i].dirty {
                self.live[i].dirty = false;
                self.changes += 1;
                if let Err(e) = self.store.save(&self.live[i].view) {
                    self.notice = Some(e);
                }
            }
            if self.live[i].view.state.is_final() {
                let l = self.live.remove(i);
                let k = (l.trigger, l.view.target.clone());
                if self.present.contains_key(&k) {
                    self.suppressed.insert(k);
                }
                self.closed.push_front(l.view);
                while self.closed.back().is_some_and(|c| c.opened < now - WEEK_MS) {
                    self.closed.pop_back();
                }
                self.closed.truncate(crate::store::incidents::MAX_LOAD);
                continue;
            }
            i += 1;
        }
    }

    /// Containers that should run: members of docker-group targets and containers
    /// carrying the heal label; never the retiring half of a scale-in or the old half
    /// of a recreate.
    fn watched(&self, c: &ContainerInfo) -> bool {
        if docker::set_aside(&c.name) {
            return false;
        }
        let in_group = c.group.as_ref().is_some_and(|g| {
            self.cfg
                .scale
                .iter()
                .any(|t| &t.name == g && t.kind == TargetKind::DockerGroup)
        });
        in_group || c.labels.contains_key(&self.cfg.heal.label)
    }

    fn find(&mut self, a: &Actions, ctx: &Context, now: i64) -> Vec<Found> {
        let mut out = Vec::new();
        let host = host_signals(ctx);
        let fresh = a.listed != self.listed;
        self.listed = a.listed;
        let watched: Vec<ContainerInfo> = a
            .containers
            .iter()
            .filter(|c| self.watched(c))
            .cloned()
            .collect();
        self.mem
            .retain(|n, _| watched.iter().any(|c| &c.name == n && c.running()));
        let window = self.cfg.heal.window.as_millis() as i64;
        if fresh {
            self.checks.listed_all(&a.containers, window, now);
            let names: Vec<&str> = watched.iter().map(|c| c.name.as_str()).collect();
            self.checks.retain(&names);
            for c in &watched {
                self.checks.listed(c, window, now);
            }
        }
        for c in &watched {
            // A group being scaled is the scale's to finish, not the healer's.
            if c.group.as_ref().is_some_and(|g| a.is_busy(g)) {
                continue;
            }
            // A container being restarted stops on the way, which is no crash; what
            // was found before the action stays found until it ends, so an incident
            // closing meanwhile knows its problem is still there.
            if a.is_busy(&c.name) {
                out.extend(self.found.iter().filter(|f| f.target == c.name).cloned());
                continue;
            }
            let seen = |t: Trigger| self.present.get(&(t, c.name.clone())).copied();
            if let Some(f) = self.checks.container(c, &self.cfg.heal, &host, seen, now) {
                out.push(f);
                continue;
            }
            let key = (Trigger::ContainerExited, c.name.clone());
            if matches!(c.state.as_str(), "exited" | "dead") {
                let code = diagnose::exit_code(&c.status);
                let restarts = self.guard.restarts_within(&c.name, now);
                let mut evidence = vec![ev("container_up", 0.0)];
                if let Some(code) = code {
                    evidence.push(ev("exit_code", code as f64));
                }
                evidence.push(ev("restarts_in_window", restarts as f64));
                out.push(Found {
                    trigger: Trigger::ContainerExited,
                    started: self.present.get(&key).copied().unwrap_or(now),
                    target: c.name.clone(),
                    evidence,
                    signals: Signals {
                        exit_code: code,
                        restarts,
                        ..host.clone()
                    },
                });
                continue;
            }
            if !c.running() {
                continue;
            }
            let Some(pct) = mem_pct(c) else { continue };
            let series = self.mem.entry(c.name.clone()).or_default();
            if fresh {
                series.push_back((now, pct));
                let keep = 3 * self.cfg.heal.leak_min_span.as_millis() as i64;
                while series.len() > MAX_POINTS
                    || series.front().is_some_and(|&(t, _)| t < now - keep)
                {
                    series.pop_front();
                }
            }
            let pts: Vec<(i64, f64)> = series.iter().copied().collect();
            let cfg = LeakCheck {
                min_span_ms: self.cfg.heal.leak_min_span.as_millis() as i64,
                min_per_hour: self.cfg.heal.leak_min_growth_pct_per_hour,
                ..LeakCheck::default()
            };
            if let Some(f) = checks::memory_leak(&c.name, &pts, &cfg) {
                let mut evidence = vec![ev("container_mem_pct", pct)];
                evidence.extend(f.evidence.iter().map(|e| ev(&e.name, e.value)));
                out.push(Found {
                    trigger: Trigger::MemoryLeak,
                    target: c.name.clone(),
                    started: f.started,
                    evidence,
                    signals: host.clone(),
                });
            }
        }
        let disk_cfg = DiskCheck {
            threshold_pct: self.cfg.heal.disk_threshold_pct,
            horizon_ms: self.cfg.heal.disk_horizon.as_millis() as i64,
            trend_ms: self.cfg.heal.disk_trend.as_millis() as i64,
            ..DiskCheck::default()
        };
        if self.cfg.heal.host_disk
            && let Some(h) = ctx.history.get(&Metric::DiskUsed)
        {
            let pts: Vec<(i64, f64)> = h.iter().copied().collect();
            let f =
                checks::disk_filling("/", &pts, ctx.forecasts.get(&Metric::DiskUsed), &disk_cfg);
            if let Some(f) = f {
                out.push(disk_found(f, host.clone()));
            }
        }
        for d in &self.cfg.heal.disks {
            let path = d.path.display().to_string();
            let Some(s) = self.disks.get(&path) else {
                continue;
            };
            let pts: Vec<(i64, f64)> = s.iter().copied().collect();
            if let Some(f) = checks::disk_filling(&path, &pts, None, &disk_cfg) {
                let mut sig = host.clone();
                sig.top_file = self.disk_top_growth.get(&path).cloned();
                sig.dir_growth = self
                    .disk_bytes
                    .get(&path)
                    .map(|(a, b)| b.saturating_sub(*a));
                out.push(disk_found(f, sig));
            }
        }
        if self.cfg.heal.anomalies {
            out.extend(anomalies_found(ctx, &host));
        }
        for h in self.host.find(&self.cfg.heal, now) {
            out.push(Found {
                trigger: h.trigger,
                target: h.target,
                started: h.started,
                evidence: h.evidence,
                signals: Signals {
                    host: Some(h.detail),
                    ..host.clone()
                },
            });
        }
        let seen = self
            .present
            .get(&(Trigger::OomKill, container_checks::HOST.to_string()))
            .copied();
        out.extend(self.checks.host(&self.cfg.heal, &host, seen, now));
        out
    }

    /// The kernel's counters under `proc` (the host's OOM kills), on each host sample.
    pub fn read_host_counters(&mut self, proc: &Path, now: i64) {
        if self.cfg.heal.enabled && self.cfg.heal.host_oom {
            let window = self.cfg.heal.window.as_millis() as i64;
            self.checks.read_vmstat(&proc.join("vmstat"), window, now);
        }
    }

    /// The playbook that answers a trigger: the user's before the built-in ones.
    fn choose(&self, t: Trigger, target: &str) -> Option<Playbook> {
        let host = target == container_checks::HOST;
        let mut fits: Vec<&Playbook> = self
            .library
            .fitting(t)
            .into_iter()
            .filter(|p| !host || !container_checks::acts_on_container(p))
            .collect();
        fits.sort_by_key(|p| {
            (
                p.file.starts_with("<built-in>"),
                !host && !container_checks::acts_on_container(p),
                p.name.clone(),
            )
        });
        fits.first().map(|p| (*p).clone())
    }

    fn open(&mut self, f: Found, a: &mut Actions, now: i64) {
        self.counter += 1;
        let id = format!("inc-{now}-{}", self.counter);
        let playbook = self.choose(f.trigger, &f.target);
        let diagnosis = diagnose::diagnose(f.trigger, &f.signals);
        let steps: Vec<IncidentStep> = playbook
            .as_ref()
            .map(|p| {
                let fix = p.steps.iter().map(|s| (s, false));
                let back = p.rollback.iter().map(|s| (s, true));
                fix.chain(back)
                    .map(|(s, rollback)| IncidentStep {
                        name: s.name().to_string(),
                        text: dry_run::step(s, &f.target, &self.cfg.playbooks),
                        state: StepState::Waiting,
                        rollback,
                        proposal: None,
                        note: None,
                        at: None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let verify = playbook.as_ref().map(|p| IncidentVerify {
            text: dry_run::check(&p.verify),
            metric: p.verify.metric.clone(),
            before: None,
            last: None,
            deadline: None,
            passed: None,
        });
        let view = IncidentView {
            id: id.clone(),
            target: f.target.clone(),
            trigger: f.trigger.name().to_string(),
            state: IncidentState::Open,
            started: f.started.min(now),
            opened: now,
            updated: now,
            closed: None,
            evidence: f.evidence,
            diagnosis,
            playbook: playbook.as_ref().map(|p| p.name.clone()),
            risk: playbook.as_ref().map(|p| p.risk.name().to_string()),
            steps,
            verify,
            reason: None,
            manual: false,
            false_alarm: false,
            awaiting: None,
            approved_by: None,
            note: None,
        };
        let summary = format!(
            "incident {id}: {} on {}{}",
            f.trigger.name(),
            f.target,
            view.diagnosis
                .first()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default()
        );
        tracing::info!("{summary}");
        a.audit(
            "incident",
            &crate::audit::Actor::vigil(),
            serde_json::json!({"incident": id, "state": "open", "target": f.target, "trigger": f.trigger.name(), "playbook": view.playbook, "evidence": view.evidence, "summary": summary}),
        );
        let mut l = Live {
            view,
            trigger: f.trigger,
            playbook,
            cleared: false,
            dirty: true,
        };
        if l.playbook.is_none() {
            self.close(
                &mut l,
                a,
                IncidentState::Escalated,
                "no playbook answers this: a person must look".into(),
                now,
            );
        } else if let Some(ago) = self.guard.returned(f.trigger.name(), &f.target, now) {
            let why = format!(
                "returned {} after its fix verified (within heal.watch): escalated, not fixed again",
                humantime::format_duration(std::time::Duration::from_secs((ago / 1000) as u64))
            );
            for s in l.view.steps.iter_mut() {
                s.state = StepState::Skipped;
            }
            self.close(&mut l, a, IncidentState::Escalated, why, now);
            self.offer_recreate(&mut l, a, now);
        }
        if self.notes.on() {
            let req =
                super::notes::request(&l.view, self.fitting(f.trigger), self.targets(a, &f.target));
            self.notes.ask(req, &id, &self.tx);
        }
        self.live.push(l);
    }

    /// The names of the playbooks that answer a trigger: all an LLM may choose from.
    fn fitting(&self, t: Trigger) -> Vec<String> {
        let mut v: Vec<String> = self
            .library
            .fitting(t)
            .iter()
            .map(|p| p.name.clone())
            .collect();
        v.sort();
        v
    }

    /// What an LLM may name as a target: this incident's first, then what vigil watches.
    fn targets(&self, a: &Actions, first: &str) -> Vec<String> {
        let mut v = vec![first.to_string()];
        v.extend(
            a.containers
                .iter()
                .filter(|c| self.watched(c))
                .map(|c| c.name.clone()),
        );
        v.extend(self.cfg.scale.iter().map(|t| t.name.clone()));
        v.extend(
            self.cfg
                .heal
                .disks
                .iter()
                .map(|d| d.path.display().to_string()),
        );
        v
    }

    /// An LLM's answer: a note on its incident (open or closed), or the model check.
    fn on_llm(&mut self, answer: super::notes::Answer, a: &mut Actions, now: i64) {
        use super::notes::Answer;
        let (incident, note) = match answer {
            Answer::Model(r) => {
                self.notes.model_checked(r);
                self.changes += 1;
                return;
            }
            Answer::Note {
                incident,
                note: Some(n),
            } => (incident, n),
            Answer::Note { note: None, .. } => return,
        };
        let note = self.notes.view(note, now);
        // On the record beside what the rules did, so a later look sees what was advised.
        a.audit(
            "llm-note",
            &crate::audit::Actor::vigil(),
            serde_json::json!({"incident": incident, "playbook": note.playbook, "target": note.target, "cites": note.cites, "model": note.model, "summary": format!("incident {incident}: {} advises {} on {} (advice only): {}", note.model, note.playbook, note.target, note.reason)}),
        );
        if let Some(l) = self.live.iter_mut().find(|l| l.view.id == incident) {
            l.view.note = Some(note);
            l.dirty = true;
            self.settle(now);
        } else if let Some(v) = self.closed.iter_mut().find(|v| v.id == incident) {
            v.note = Some(note);
            if let Err(e) = self.store.save(v) {
                self.notice = Some(e);
            }
            self.changes += 1;
        }
    }

    /// Ends an incident: final state, reason, audit, notification.
    fn close(&mut self, l: &mut Live, a: &mut Actions, to: IncidentState, why: String, now: i64) {
        let was_fixing = matches!(
            l.view.state,
            IncidentState::Fixing | IncidentState::Verifying
        );
        l.view.state = to;
        l.view.reason = Some(why.clone());
        l.view.closed = Some(now);
        l.view.updated = now;
        l.dirty = true;
        for s in l.view.steps.iter_mut() {
            if s.state == StepState::Waiting {
                s.state = StepState::Skipped;
            }
        }
        if was_fixing {
            let verified = (to == IncidentState::Resolved).then(|| l.trigger.name());
            // A fix that never touched the target (refused, shadowed, braked) leaves no
            // cooldown behind.
            let touched = l.view.steps.iter().any(|s| {
                matches!(
                    s.state,
                    StepState::Done | StepState::Failed | StepState::Running
                ) && !matches!(s.name.as_str(), "notify" | "wait" | "verify")
            });
            self.guard.finish(&l.view.target, now, verified, touched);
        }
        let summary = format!(
            "incident {} {}: {} on {}: {why}",
            l.view.id,
            to.name(),
            l.view.trigger,
            l.view.target
        );
        a.audit(
            "incident",
            &crate::audit::Actor::vigil(),
            serde_json::json!({"incident": l.view.id, "state": to.name(), "target": l.view.target, "summary": summary}),
        );
        if to != IncidentState::Resolved {
            a.notify(Event::new(
                "failure",
                format!("{}: {} on {}", to.name(), l.view.trigger, l.view.target),
                why,
            ));
        }
    }

    /// A container left down by an escalation: a recreate waits for a person (it is
    /// never run by a rule, whatever `approve.auto` says).
    fn offer_recreate(&mut self, l: &mut Live, a: &mut Actions, now: i64) {
        let down = a
            .containers
            .iter()
            .any(|c| c.name == l.view.target && !c.running());
        if !down {
            return;
        }
        let id = format!("heal:{}", l.view.target);
        let before = a.queue.next_version(&id);
        let p = Proposal::repair(
            id.clone(),
            Action::Recreate {
                container: l.view.target.clone(),
            },
            Rule::Heal,
            format!(
                "{} {}",
                l.view.target,
                l.view.reason.clone().unwrap_or_default()
            ),
            Some(format!(
                "escalated ({}): a person must look before more",
                l.view.id
            )),
            ProposalRisk::High,
            now,
        );
        a.offer(p, now);
        if a.queue.next_version(&id) > before {
            l.view.steps.push(IncidentStep {
                name: "recreate-container".into(),
                text: format!(
                    "for a person to decide: recreate container {}",
                    l.view.target
                ),
                state: StepState::Proposed,
                rollback: false,
                proposal: Some((id, before)),
                note: None,
                at: Some(now),
            });
            l.dirty = true;
        }
    }

    /// A person's answer to an escalation's proposal is a manual intervention.
    fn watch_escalations(&mut self, a: &Actions, now: i64) {
        for l in &mut self.live {
            if !l.view.state.is_final() {
                continue;
            }
            for s in l.view.steps.iter_mut() {
                if s.state != StepState::Proposed {
                    continue;
                }
                let Some((id, v)) = &s.proposal else { continue };
                if let Ok(Some(e)) = a.queue.get(id, *v)
                    && e.state != crate::approve::State::Pending
                {
                    s.state = StepState::Done;
                    s.note = Some(format!(
                        "{} by {}",
                        e.state.name(),
                        e.by.clone().unwrap_or_default()
                    ));
                    l.view.manual = true;
                    l.view.updated = now;
                    l.dirty = true;
                }
            }
        }
    }

    /// A person's answer to an incident waiting for them. The engine checks it waits;
    /// the answer is audited under the person's name.
    pub fn answer(
        &mut self,
        id: &str,
        approve: bool,
        by: &crate::audit::Actor,
        a: &mut Actions,
        now: i64,
    ) -> crate::protocol::Reply {
        use crate::protocol::Reply;
        let Some(i) = self.live.iter().position(|l| l.view.id == id) else {
            return Reply::NotFound { id: id.to_string() };
        };
        let Some(what) = self.live[i].view.awaiting.clone() else {
            return Reply::Refused {
                reason: format!("{id} is not waiting for a person"),
            };
        };
        let verb = if approve { "approved" } else { "rejected" };
        let target = self.live[i].view.target.clone();
        let summary = format!("{verb}: incident {id} on {target}: {what}");
        if !a.audit(
            "decision",
            by,
            serde_json::json!({"incident": id, "decision": verb, "steps": what, "summary": summary}),
        ) && approve
        {
            return Reply::Refused {
                reason: "the audit log cannot take the approval: nothing will run".into(),
            };
        }
        let l = &mut self.live[i];
        l.view.awaiting = None;
        l.view.manual = true;
        l.view.updated = now;
        l.dirty = true;
        if approve {
            l.view.approved_by = Some(by.user.clone());
            l.view.reason = None;
        } else {
            let mut l = self.take(i);
            self.close(
                &mut l,
                a,
                IncidentState::Escalated,
                format!("{} declined the fix: left to a person", by.user),
                now,
            );
            self.put(i, l);
        }
        self.settle(now);
        Reply::Decided {
            id: id.to_string(),
            version: 0,
            state: verb.to_string(),
            message: summary,
        }
    }

    /// Moves incident `i` along as far as it can go now.
    fn step(&mut self, i: usize, a: &mut Actions, ctx: &Context, now: i64) {
        for _ in 0..MAX_CHAIN {
            if !self.step_once(i, a, ctx, now) {
                return;
            }
        }
    }

    /// One move; false when nothing more can happen this pass.
    fn step_once(&mut self, i: usize, a: &mut Actions, ctx: &Context, now: i64) -> bool {
        let state = self.live[i].view.state;
        match state {
            IncidentState::Open => self.start_fix(i, a, ctx, now),
            IncidentState::Fixing => self.run_steps(i, a, ctx, now),
            IncidentState::Verifying => self.verify(i, a, ctx, now),
            _ => false,
        }
    }

    fn start_fix(&mut self, i: usize, a: &mut Actions, ctx: &Context, now: i64) -> bool {
        let target = self.live[i].view.target.clone();
        let Some(pb) = self.live[i].playbook.clone() else {
            return false;
        };
        // Local steps run only when the operator allowed their classes unattended, or
        // a person allowed this incident's.
        let local: Vec<&'static str> = pb
            .steps
            .iter()
            .chain(&pb.rollback)
            .filter(|s| s.acts() && !is_executor(s))
            .map(Step::name)
            .collect();
        let allowed =
            pb.runs_unattended(&self.cfg.playbooks) || self.live[i].view.approved_by.is_some();
        if !local.is_empty() && !allowed {
            let ttl = self.cfg.approve.ttl.as_millis() as i64;
            if self.live[i].view.awaiting.is_some() && now >= self.live[i].view.opened + ttl {
                let why = format!(
                    "nobody allowed its steps within {} (approve.ttl): left to a person",
                    humantime::format_duration(self.cfg.approve.ttl)
                );
                let mut l = self.take(i);
                l.view.awaiting = None;
                self.close(&mut l, a, IncidentState::Escalated, why, now);
                self.put(i, l);
                return false;
            }
            let l = &mut self.live[i];
            if l.view.awaiting.is_none() {
                let what = local.join(", ");
                let why = if pb.risk == Risk::L3 {
                    format!("playbook {} is L3", pb.name)
                } else {
                    format!("playbooks.auto does not allow {what}")
                };
                l.view.awaiting = Some(what.clone());
                l.view.reason = Some(format!(
                    "waits for a person: {why}; allow it with `vigil incidents --approve {}` or `a` in the Incidents view (`vigil playbook dry-run {} --target {target}` shows the steps)",
                    l.view.id, pb.name
                ));
                l.view.updated = now;
                l.dirty = true;
                a.notify(Event::new(
                    "approval",
                    format!("approval needed: {} on {target}", pb.name),
                    format!("{}: {what}", l.view.id),
                ));
            }
            return false;
        }
        if let Err(hold) = self.guard.may_start(&target, now) {
            let text = hold.text();
            let l = &mut self.live[i];
            if l.view.reason.as_deref() != Some(&text) {
                l.view.reason = Some(text);
                l.view.updated = now;
                l.dirty = true;
            }
            return false;
        }
        let restarts = pb
            .steps
            .iter()
            .any(|s| matches!(s, Step::RestartContainer | Step::RecreateContainer));
        if restarts && let Some(n) = self.guard.flapping(&target, now) {
            let why = format!(
                "restarted {n}× within {}: vigil stops restarting it (flap protection)",
                humantime::format_duration(self.cfg.heal.window)
            );
            let mut l = self.take(i);
            self.close(&mut l, a, IncidentState::Escalated, why, now);
            self.offer_recreate(&mut l, a, now);
            self.put(i, l);
            return false;
        }
        self.guard.start(&target);
        let before = self.metric(&pb.verify.metric, &target, a, ctx);
        let l = &mut self.live[i];
        l.view.state = IncidentState::Fixing;
        l.view.reason = None;
        l.view.updated = now;
        l.dirty = true;
        if let Some(v) = l.view.verify.as_mut() {
            v.before = before;
            v.last = before;
        }
        if pb.risk == Risk::L2 {
            a.notify(Event::new(
                "execution",
                format!("healing {} with {}", target, pb.name),
                l.view.diagnosis.join("; "),
            ));
        }
        true
    }

    fn take(&mut self, i: usize) -> Live {
        // A placeholder keeps the indices; `put` puts it back.
        let placeholder = Live {
            view: self.live[i].view.clone(),
            trigger: self.live[i].trigger,
            playbook: None,
            cleared: false,
            dirty: false,
        };
        std::mem::replace(&mut self.live[i], placeholder)
    }

    fn put(&mut self, i: usize, l: Live) {
        self.live[i] = l;
    }

    /// The fix's (or the rollback's) next step.
    fn run_steps(&mut self, i: usize, a: &mut Actions, ctx: &Context, now: i64) -> bool {
        let rolling = self.live[i]
            .view
            .verify
            .as_ref()
            .is_some_and(|v| v.passed == Some(false));
        // The problem came back while the fix was still under way: it did not hold.
        if !rolling && self.live[i].cleared && self.recurred(i) {
            self.fail(i, a, now, "the problem came back during the fix".into());
            return true;
        }
        let next = self.live[i]
            .view
            .steps
            .iter()
            .position(|s| s.rollback == rolling && !final_step(s.state));
        let Some(k) = next else {
            if rolling {
                return self.finish_rollback(i, a, now);
            }
            // Every fix step is done: verify.
            let within = self.live[i]
                .playbook
                .as_ref()
                .map(|p| p.verify.within.as_millis() as i64)
                .unwrap_or(0);
            let l = &mut self.live[i];
            l.view.state = IncidentState::Verifying;
            if let Some(v) = l.view.verify.as_mut() {
                v.deadline = Some(now + within);
            }
            l.view.updated = now;
            l.dirty = true;
            return true;
        };
        let Some(step) = self.step_def(i, k) else {
            return false;
        };
        let s_state = self.live[i].view.steps[k].state;
        match s_state {
            StepState::Waiting => self.begin_step(i, k, &step, a, now),
            StepState::Proposed | StepState::Running => {
                if is_executor(&step) {
                    self.follow_proposal(i, k, &step, a, now)
                } else if let Step::Wait { duration } = &step {
                    let at = self.live[i].view.steps[k].at.unwrap_or(now);
                    if now >= at + duration.as_millis() as i64 {
                        self.mark(i, k, StepState::Done, None, now);
                        true
                    } else {
                        false
                    }
                } else if let Step::Verify(check) = &step {
                    let at = self.live[i].view.steps[k].at.unwrap_or(now);
                    let before = self.live[i].view.verify.as_ref().and_then(|v| v.before);
                    let target = self.live[i].view.target.clone();
                    let cur = self.metric(&check.metric, &target, a, ctx);
                    match (before, cur) {
                        (Some(b), Some(c)) if outcome::improved(check, b, c) => {
                            self.mark(
                                i,
                                k,
                                StepState::Done,
                                Some(format!("{} {b:.1} → {c:.1}", check.metric)),
                                now,
                            );
                            true
                        }
                        _ if now >= at + check.within.as_millis() as i64 => {
                            self.mark(
                                i,
                                k,
                                StepState::Failed,
                                Some(format!("{} did not improve", check.metric)),
                                now,
                            );
                            true
                        }
                        _ => false,
                    }
                } else {
                    false
                }
            }
            StepState::Failed => {
                if rolling {
                    // A failed rollback step: the rest of the rollback still runs.
                    false
                } else {
                    let note = self.live[i].view.steps[k].note.clone().unwrap_or_default();
                    let name = self.live[i].view.steps[k].name.clone();
                    self.fail(i, a, now, format!("step {name} failed: {note}"));
                    true
                }
            }
            _ => false,
        }
    }

    fn step_def(&self, i: usize, k: usize) -> Option<Step> {
        let l = &self.live[i];
        let pb = l.playbook.as_ref()?;
        let s = &l.view.steps[k];
        let fix_len = l.view.steps.iter().filter(|s| !s.rollback).count();
        if s.rollback {
            pb.rollback.get(k.checked_sub(fix_len)?).cloned()
        } else {
            pb.steps.get(k).cloned()
        }
    }

    fn mark(&mut self, i: usize, k: usize, st: StepState, note: Option<String>, now: i64) {
        let l = &mut self.live[i];
        let s = &mut l.view.steps[k];
        s.state = st;
        if note.is_some() {
            s.note = note;
        }
        s.at = Some(now);
        l.view.updated = now;
        l.dirty = true;
    }

    fn begin_step(&mut self, i: usize, k: usize, step: &Step, a: &mut Actions, now: i64) -> bool {
        let target = self.live[i].view.target.clone();
        let id = self.live[i].view.id.clone();
        match step {
            Step::Wait { .. } | Step::Verify(_) => {
                self.mark(i, k, StepState::Running, None, now);
                true
            }
            Step::Notify { message } => {
                a.notify(Event::new(
                    "execution",
                    format!("{id} on {target}"),
                    message.clone(),
                ));
                a.audit(
                    "heal-step",
                    &crate::audit::Actor::vigil(),
                    serde_json::json!({"incident": id, "step": "notify", "target": target, "phase": "result", "ok": true, "summary": format!("{id}: notified: {message}")}),
                );
                self.mark(
                    i,
                    k,
                    StepState::Done,
                    Some(format!("notified: {message}")),
                    now,
                );
                true
            }
            s if is_executor(s) => self.offer_step(i, k, s, a, now),
            s => self.run_local(i, k, s, a, now),
        }
    }

    /// A local step through the same checks as the gate: shadow mode records it, the
    /// brake (or a brake that cannot be read) holds it, the intent is audited first.
    fn run_local(&mut self, i: usize, k: usize, step: &Step, a: &mut Actions, now: i64) -> bool {
        let target = self.live[i].view.target.clone();
        let id = self.live[i].view.id.clone();
        let text = self.live[i].view.steps[k].text.clone();
        let who = crate::audit::Actor::vigil();
        let data = |phase: &str, extra: serde_json::Value| {
            let mut v = serde_json::json!({"incident": id, "step": step.name(), "target": target, "phase": phase, "summary": format!("{id}: {text}")});
            if let (Some(o), serde_json::Value::Object(e)) = (v.as_object_mut(), extra) {
                o.extend(e);
            }
            v
        };
        if a.gate.shadow() {
            a.audit(
                "shadow",
                &who,
                data("shadow", serde_json::json!({"would_run": true})),
            );
            self.mark(
                i,
                k,
                StepState::Skipped,
                Some("shadow mode: recorded, not run".into()),
                now,
            );
            let mut l = self.take(i);
            self.close(
                &mut l,
                a,
                IncidentState::Escalated,
                "shadow mode: what the playbook would do is recorded; nothing ran".into(),
                now,
            );
            self.put(i, l);
            return false;
        }
        match a.gate.brake().state() {
            crate::execute::BrakeState::Released => {}
            crate::execute::BrakeState::Engaged { by, .. } => {
                a.audit(
                    "braked",
                    &who,
                    data(
                        "braked",
                        serde_json::json!({"ran": false, "brake": format!("engaged by {by}")}),
                    ),
                );
                self.mark(
                    i,
                    k,
                    StepState::Skipped,
                    Some("the brake is on: not run".into()),
                    now,
                );
                let mut l = self.take(i);
                self.close(
                    &mut l,
                    a,
                    IncidentState::Escalated,
                    "the brake is on: nothing runs".into(),
                    now,
                );
                self.put(i, l);
                return false;
            }
            crate::execute::BrakeState::Unreadable(why) => {
                a.audit(
                    "braked",
                    &who,
                    data("braked", serde_json::json!({"ran": false, "brake": why})),
                );
                self.mark(
                    i,
                    k,
                    StepState::Skipped,
                    Some(format!("not run: {why}")),
                    now,
                );
                let mut l = self.take(i);
                self.close(
                    &mut l,
                    a,
                    IncidentState::Escalated,
                    format!("not run: {why}"),
                    now,
                );
                self.put(i, l);
                return false;
            }
        }
        if !a.audit("heal-step", &who, data("intent", serde_json::json!({}))) {
            self.mark(
                i,
                k,
                StepState::Failed,
                Some("not run: the audit log cannot take it".into()),
                now,
            );
            return true;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            self.mark(
                i,
                k,
                StepState::Failed,
                Some("not run: no runtime".into()),
                now,
            );
            return true;
        };
        self.mark(i, k, StepState::Running, None, now);
        let tx = self.tx.clone();
        let step = step.clone();
        let cfg = self.cfg.playbooks.clone();
        let incident = id.clone();
        rt.spawn(async move {
            let result = super::steps::run(step, target, cfg).await;
            let _ = tx
                .send(IncidentEvent::Step {
                    incident,
                    index: k,
                    result,
                })
                .await;
        });
        false
    }

    /// An executor step becomes a proposal in the approval queue: the auto rules, the
    /// gate and the audit decide and record exactly as for any other action.
    fn offer_step(&mut self, i: usize, k: usize, step: &Step, a: &mut Actions, now: i64) -> bool {
        let l = &self.live[i];
        let target = l.view.target.clone();
        let rollback = l.view.steps[k].rollback;
        let Some(pb) = l.playbook.clone() else {
            return false;
        };
        let action = match step {
            Step::RestartContainer => Action::Restart {
                container: target.clone(),
            },
            Step::RecreateContainer => Action::Recreate {
                container: target.clone(),
            },
            Step::ScaleOut { target: t, by } => {
                let name = t.clone().unwrap_or_else(|| target.clone());
                let Some(cfg) = self.cfg.scale.iter().find(|s| s.name == name) else {
                    self.mark(
                        i,
                        k,
                        StepState::Failed,
                        Some(format!("no scale target {name}")),
                        now,
                    );
                    return true;
                };
                let count = a
                    .group_counts()
                    .get(&name)
                    .copied()
                    .unwrap_or(cfg.instances);
                let to = (count + *by as usize).min(cfg.max);
                Action::Scale {
                    target: name,
                    kind: cfg.kind,
                    to,
                }
            }
            _ => return false,
        };
        let subject = action.subject().to_string();
        if a.is_busy(&subject) {
            let why = format!("waits: an action on {subject} is under way");
            let l = &mut self.live[i];
            // A rollback keeps the reason it rolls back for.
            if !rollback && l.view.reason.as_deref() != Some(&why) {
                l.view.reason = Some(why);
                l.dirty = true;
            }
            return false;
        }
        let id = if rollback {
            format!("rollback:{target}")
        } else {
            format!("heal:{target}")
        };
        let reason = {
            let l = &self.live[i];
            let what = l
                .view
                .diagnosis
                .first()
                .cloned()
                .unwrap_or_else(|| l.view.trigger.clone());
            if rollback {
                format!(
                    "{target}: {} did not help ({}), rolling back",
                    pb.name, l.view.id
                )
            } else {
                format!("{target} {what} ({}, playbook {})", l.view.id, pb.name)
            }
        };
        let (risk, manual) = match pb.risk {
            Risk::L3 => (
                ProposalRisk::Medium,
                Some(format!("playbook {} is L3: a person decides", pb.name)),
            ),
            _ => (ProposalRisk::Low, None),
        };
        let before = a.queue.next_version(&id);
        let mut p = Proposal::repair(
            id.clone(),
            action.clone(),
            if rollback { Rule::Rollback } else { Rule::Heal },
            reason,
            manual,
            risk,
            now,
        );
        if let Action::Scale { to, .. } = &action {
            p.from = a.group_counts().get(&subject).copied().unwrap_or(0);
            p.to = *to;
        }
        a.offer(p, now);
        let version = if a.queue.next_version(&id) > before {
            Some(before)
        } else {
            a.queue
                .pending(&id)
                .filter(|e| e.proposal.action == action)
                .map(|e| e.proposal.version)
        };
        let Some(v) = version else {
            return false;
        };
        let l = &mut self.live[i];
        l.view.steps[k].proposal = Some((id, v));
        if !rollback {
            l.view.reason = None;
        }
        self.mark(i, k, StepState::Proposed, None, now);
        true
    }

    /// Where the step's proposal is in the queue.
    fn follow_proposal(
        &mut self,
        i: usize,
        k: usize,
        step: &Step,
        a: &mut Actions,
        now: i64,
    ) -> bool {
        use crate::approve::State as Q;
        let Some((id, v)) = self.live[i].view.steps[k].proposal.clone() else {
            self.mark(
                i,
                k,
                StepState::Failed,
                Some("lost its proposal".into()),
                now,
            );
            return true;
        };
        let e = match a.queue.get(&id, v) {
            Ok(Some(e)) => e,
            Ok(None) => {
                self.mark(
                    i,
                    k,
                    StepState::Failed,
                    Some(format!("{id} v{v} is gone from the queue")),
                    now,
                );
                return true;
            }
            Err(_) => return false,
        };
        let by = e.by.clone().unwrap_or_default();
        let person = !by.is_empty() && by != "vigil";
        let note = e.note.clone();
        let cur = self.live[i].view.steps[k].state;
        let stop = |me: &mut Incidents, a: &mut Actions, why: String, manual: bool| {
            me.mark(i, k, StepState::Skipped, Some(why.clone()), now);
            let mut l = me.take(i);
            l.view.manual |= manual;
            me.close(&mut l, a, IncidentState::Escalated, why, now);
            me.put(i, l);
            false
        };
        match e.state {
            Q::Pending | Q::Approved => false,
            Q::Running | Q::Done => {
                if cur != StepState::Running {
                    if person {
                        self.live[i].view.manual = true;
                    }
                    self.mark(
                        i,
                        k,
                        StepState::Running,
                        Some(format!("approved by {by}")),
                        now,
                    );
                    return true;
                }
                false
            }
            Q::Verified => {
                if person {
                    self.live[i].view.manual = true;
                }
                let target = self.live[i].view.target.clone();
                if matches!(step, Step::RestartContainer | Step::RecreateContainer) {
                    self.guard.restarted(&target, now);
                    // The memory before the restart is not the restarted one's.
                    self.mem.remove(&target);
                }
                self.mark(i, k, StepState::Done, note, now);
                // Read the target again at once, for the verification.
                a.list_containers(true);
                true
            }
            Q::Unverified | Q::Failed => {
                self.mark(i, k, StepState::Failed, note, now);
                a.list_containers(true);
                true
            }
            Q::Rejected => stop(
                self,
                a,
                format!("{id} v{v} was rejected by {by}: a person declined the fix"),
                true,
            ),
            Q::Expired => stop(
                self,
                a,
                format!("{id} v{v} expired unanswered: nobody approved the fix"),
                false,
            ),
            Q::Superseded => stop(
                self,
                a,
                format!("{id} v{v} was replaced by a newer proposal"),
                false,
            ),
            Q::Shadowed => stop(
                self,
                a,
                "shadow mode: what the playbook would do is recorded; nothing ran".into(),
                false,
            ),
            Q::Braked => stop(self, a, "the brake is on: nothing ran".into(), false),
        }
    }

    /// Whether the incident's problem is present again (after it had cleared).
    fn recurred(&self, i: usize) -> bool {
        let l = &self.live[i];
        self.present
            .contains_key(&(l.trigger, l.view.target.clone()))
    }

    /// The fix did not help: roll back (if the playbook can), then escalate.
    fn fail(&mut self, i: usize, a: &mut Actions, now: i64, why: String) {
        let l = &mut self.live[i];
        l.view.state = IncidentState::Fixing;
        l.view.reason = Some(format!("not verified: {why}; rolling back"));
        for s in l.view.steps.iter_mut().filter(|s| !s.rollback) {
            if s.state == StepState::Waiting {
                s.state = StepState::Skipped;
            }
        }
        if let Some(v) = l.view.verify.as_mut() {
            v.passed = Some(false);
        }
        l.view.updated = now;
        l.dirty = true;
        a.audit(
            "incident",
            &crate::audit::Actor::vigil(),
            serde_json::json!({"incident": l.view.id, "state": "not-verified", "target": l.view.target, "summary": format!("incident {} not verified: {why}", l.view.id)}),
        );
    }

    fn finish_rollback(&mut self, i: usize, a: &mut Actions, now: i64) -> bool {
        let l = &self.live[i];
        let undid = l.view.steps.iter().any(|s| {
            s.rollback
                && s.state == StepState::Done
                && !matches!(s.name.as_str(), "notify" | "wait" | "verify")
        });
        let why = l
            .view
            .reason
            .clone()
            .unwrap_or_default()
            .replace("; rolling back", "");
        let (to, why) = if undid {
            (
                IncidentState::RolledBack,
                format!("{why}; rolled back and escalated to a person"),
            )
        } else {
            (
                IncidentState::Escalated,
                format!("{why}; nothing to undo: escalated to a person"),
            )
        };
        let mut l = self.take(i);
        self.close(&mut l, a, to, why, now);
        self.offer_recreate(&mut l, a, now);
        self.put(i, l);
        false
    }

    fn verify(&mut self, i: usize, a: &mut Actions, ctx: &Context, now: i64) -> bool {
        if self.live[i].cleared && self.recurred(i) {
            self.fail(i, a, now, "the problem came back".into());
            return true;
        }
        let Some(check) = self.live[i].playbook.as_ref().map(|p| p.verify.clone()) else {
            return false;
        };
        let target = self.live[i].view.target.clone();
        let cur = self.metric(&check.metric, &target, a, ctx);
        let (before, deadline) = {
            let v = self.live[i].view.verify.as_ref();
            (
                v.and_then(|v| v.before),
                v.and_then(|v| v.deadline).unwrap_or(now),
            )
        };
        {
            let l = &mut self.live[i];
            if let Some(v) = l.view.verify.as_mut()
                && v.last != cur
            {
                v.last = cur;
                l.view.updated = now;
                l.dirty = true;
            }
        }
        if let (Some(b), Some(c)) = (before, cur)
            && outcome::improved(&check, b, c)
        {
            if let Some(v) = self.live[i].view.verify.as_mut() {
                v.passed = Some(true);
            }
            let why = format!(
                "verified: {} {b:.1} → {c:.1} ({})",
                check.metric,
                dry_run::check(&check)
            );
            let mut l = self.take(i);
            self.close(&mut l, a, IncidentState::Resolved, why, now);
            self.put(i, l);
            return false;
        }
        if now >= deadline {
            let shown = |x: Option<f64>| {
                x.map(|v| format!("{v:.1}"))
                    .unwrap_or_else(|| "unknown".into())
            };
            let why = format!(
                "{} was {}, is {} ({})",
                check.metric,
                shown(before),
                shown(cur),
                dry_run::check(&check)
            );
            self.fail(i, a, now, why);
            return true;
        }
        false
    }

    /// The playbook's metric for this target, now.
    fn metric(&self, name: &str, target: &str, a: &Actions, ctx: &Context) -> Option<f64> {
        let container = a.containers.iter().find(|c| c.name == target);
        match name {
            "container_up" => container.map(|c| {
                let up = c.running() && c.health.as_deref() != Some("unhealthy");
                if up { 1.0 } else { 0.0 }
            }),
            "container_mem_pct" => {
                container.and_then(|c| if c.running() { mem_pct(c) } else { None })
            }
            "container_cpu_pct" => container.and_then(|c| c.cpu_pct),
            "anomaly_score" => Metric::from_name(target).and_then(|m| ctx.anomalies.score(m)),
            "cert_days_left" | "connections_pct" | "process_cpu_pct" | "unit_active" => {
                self.host.metric(name, target)
            }
            "container_healthy" => container.map(|c| {
                let healthy = c.running() && matches!(c.health.as_deref(), None | Some("healthy"));
                if healthy { 1.0 } else { 0.0 }
            }),
            "container_restarts" => self.checks.restarts_in_window(target).map(|n| n as f64),
            "oom_kills" if target == container_checks::HOST => {
                Some(self.checks.host_oom_kills() as f64)
            }
            "disk_used_pct" if target != "/" => {
                self.disks.get(target).and_then(|s| s.back()).map(|p| p.1)
            }
            m => Metric::from_name(m).and_then(|m| ctx.latest.map(|s| s.value(m))),
        }
    }
}

fn load_library(cfg: &Config) -> Library {
    let lib = Library::load(
        cfg.playbooks.user_dir().as_deref(),
        &Policy::from_config(cfg),
    );
    for p in &lib.problems {
        tracing::warn!("playbook {}:{}: {}: {}", p.file, p.line, p.key, p.message);
    }
    lib
}

/// The proposals an incident waits on, if vigil has not acted on it
/// (`IncidentView::untouched`, and every proposal still pending in the queue). None once
/// anything ran or an answer was taken.
fn untouched(v: &IncidentView, a: &Actions) -> Option<Vec<(String, u32)>> {
    let quiet = v.untouched();
    let waiting: Vec<(String, u32)> = v
        .steps
        .iter()
        .filter(|s| s.state == StepState::Proposed)
        .filter_map(|s| s.proposal.clone())
        .collect();
    let pending = waiting.iter().all(|(id, ver)| {
        matches!(a.queue.get(id, *ver), Ok(Some(e)) if e.state == crate::approve::State::Pending)
    });
    (quiet && pending).then_some(waiting)
}

fn is_executor(s: &Step) -> bool {
    matches!(
        s,
        Step::RestartContainer | Step::RecreateContainer | Step::ScaleOut { .. }
    )
}

fn final_step(s: StepState) -> bool {
    matches!(s, StepState::Done | StepState::Skipped)
}

/// At least one step that changes something has run.
fn acted(v: &IncidentView) -> bool {
    v.steps.iter().any(|s| {
        !s.rollback
            && s.state == StepState::Done
            && !matches!(s.name.as_str(), "notify" | "wait" | "verify")
    })
}

fn mem_pct(c: &ContainerInfo) -> Option<f64> {
    let (used, limit) = (c.mem_bytes?, c.mem_limit?);
    (limit > 0).then(|| used as f64 / limit as f64 * 100.0)
}

/// A host series far from its baseline: the target is the series, the evidence the
/// detector's numbers (value, expected, scale, novelty, ...).
fn anomalies_found(ctx: &Context, host: &Signals) -> Vec<Found> {
    ctx.anomalies
        .fresh()
        .map(|(m, f)| {
            let mut evidence = vec![ev("anomaly_score", f.score)];
            evidence.extend(f.evidence.iter().map(|e| ev(&e.name, e.value)));
            Found {
                trigger: Trigger::Anomaly,
                target: m.name().to_string(),
                started: f.started,
                evidence,
                signals: Signals {
                    series: Some(m.name().to_string()),
                    ..host.clone()
                },
            }
        })
        .collect()
}

fn disk_found(f: crate::detect::Finding, signals: Signals) -> Found {
    Found {
        trigger: Trigger::DiskFilling,
        target: f.subject.clone(),
        started: f.started,
        evidence: f.evidence.iter().map(|e| ev(&e.name, e.value)).collect(),
        signals,
    }
}

/// The host's CPU, inbound traffic and disk writes beside their hour's medians.
fn host_signals(ctx: &Context) -> Signals {
    let level = |m: Metric| {
        let mut v: Vec<f64> = ctx
            .history
            .get(&m)?
            .iter()
            .map(|p| p.1)
            .filter(|x| x.is_finite())
            .collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        Some(v[v.len() / 2])
    };
    let now = |m: Metric| ctx.latest.map(|s| s.value(m));
    Signals {
        cpu_pct: now(Metric::Cpu),
        cpu_level: level(Metric::Cpu),
        net_rx: now(Metric::NetRx),
        net_rx_level: level(Metric::NetRx),
        disk_write: now(Metric::DiskWrite),
        disk_write_level: level(Metric::DiskWrite),
        ..Signals::default()
    }
}

/// One watched disk: a budget directory's size against its budget (bounded walk, links
/// not followed), or the used share of the filesystem the path is on.
fn read_disk(path: &PathBuf, budget_mib: Option<u64>, ts: i64) -> DiskReading {
    let shown = path.display().to_string();
    let mut r = DiskReading {
        path: shown,
        ts,
        used_pct: None,
        top: None,
        bytes: None,
        error: None,
    };
    match budget_mib {
        Some(b) => {
            let mut total = 0u64;
            let mut top: Option<(String, u64)> = None;
            for (n, entry) in walkdir::WalkDir::new(path)
                .follow_links(false)
                .into_iter()
                .enumerate()
            {
                if n >= MAX_DIR_ENTRIES {
                    r.error = Some(format!("more than {MAX_DIR_ENTRIES} entries: read in part"));
                    break;
                }
                let Ok(e) = entry else { continue };
                if !e.file_type().is_file() {
                    continue;
                }
                let len = e.metadata().map(|m| m.len()).unwrap_or(0);
                total = total.saturating_add(len);
                if top.as_ref().is_none_or(|t| len > t.1) {
                    top = Some((e.path().display().to_string(), len));
                }
            }
            r.bytes = Some(total);
            r.top = top;
            r.used_pct = Some(total as f64 / (b as f64 * 1_048_576.0) * 100.0);
        }
        None => match nix::sys::statvfs::statvfs(path) {
            Ok(s) => {
                let blocks = s.blocks() as f64;
                let free = s.blocks_free() as f64;
                let avail = s.blocks_available() as f64;
                let used = blocks - free;
                if used + avail > 0.0 {
                    r.used_pct = Some(used / (used + avail) * 100.0);
                }
            }
            Err(e) => r.error = Some(e.to_string()),
        },
    }
    r
}
