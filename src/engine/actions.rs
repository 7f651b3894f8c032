//! The engine's action side: proposals into the approval queue, answers through the gate
//! to the executor, results to verification, and every step to the audit log and the
//! webhooks. Executions run as tasks; their results come back on a channel, so a slow
//! engine call never stalls the tick.

use super::cloud::CloudReads;
use super::executors::Executors;
use crate::approve::{DecideError, Entry, Queue, State};
use crate::audit::{Actor, AuditLog};
use crate::config::{Config, TargetKind};
use crate::execute::docker::{self, ContainerInfo, Found};
use crate::execute::huawei::Progress;
use crate::execute::{
    Action, AuditSink, Brake, BrakeState, Decision, ExecError, Gate, GateResult, OperationSink,
};
use crate::notify::{Event, Notifier};
use crate::plan::proposal::{Proposal, Risk};
use crate::plan::scaling::Rule;
use crate::verify::reconcile::{self, Step, Trail};
use crate::verify::{self, Verdict};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

pub enum ActionEvent {
    Ran {
        decision: Decision,
        result: GateResult,
    },
    Verified {
        decision: Decision,
        verdict: Verdict,
    },
    /// A listing and when its container states were read (see `Actions::list_applied`).
    Containers(std::time::Instant, Result<Vec<ContainerInfo>, ExecError>),
    /// A container exited (from the engine's event stream).
    Died(String),
    /// What a restart read of an action that may have run.
    Reconciled {
        decision: Decision,
        found: Result<Found, ExecError>,
    },
    /// The cloud accepted a running action's request: its long operation is stored with
    /// the entry, and `stored` answered, before the executor waits on it.
    Accepted {
        decision: Decision,
        operation: String,
        stored: tokio::sync::oneshot::Sender<()>,
    },
    /// A cloud group's instances and activity, read from its executor.
    Cloud {
        target: String,
        read: Result<Progress, ExecError>,
        at: i64,
    },
}

/// How long an executor waits for its operation id to be stored: an engine that has
/// stopped listening must not hold the action forever.
const STORE_WAIT: Duration = Duration::from_secs(10);

/// The decision an entry found after a restart carried.
fn decision_of(e: &Entry) -> Decision {
    let p = &e.proposal;
    Decision {
        proposal: p.id.clone(),
        version: p.version,
        action: p.action.clone(),
        from: p.from,
        by: Actor {
            user: e.by.clone().unwrap_or_else(|| "?".into()),
            ssh: None,
        },
        auto: false,
    }
}

/// How many answered proposals the Actions view keeps on the board.
const BOARD_ANSWERED: usize = 30;
const AUDIT_TAIL: usize = 200;

pub struct Actions {
    pub queue: Queue,
    pub gate: Arc<Gate>,
    /// One executor per target kind; the action's target picks it.
    execs: Arc<Executors>,
    /// The cloud groups, read from their executor.
    cloud: CloudReads,
    notifier: Notifier,
    cfg: Config,
    tx: mpsc::Sender<ActionEvent>,
    pub rx: mpsc::Receiver<ActionEvent>,
    /// Groups and containers with an action under way: not acted on twice.
    busy: HashSet<String>,
    pub containers: Vec<ContainerInfo>,
    /// Counts container listings, so the healing loop knows a new one came.
    pub listed: u64,
    pub docker_error: Option<String>,
    listing: bool,
    /// When the states of the listing applied last were read: a slow listing (one with
    /// stats takes seconds) that lands after a newer one is stale — applied, it would
    /// say a container that has just died is running again.
    list_applied: Option<std::time::Instant>,
    /// The answer to the operator's last key: "changed: v3 is on screen now".
    pub message: Option<String>,
    pub audit_tail: VecDeque<String>,
    pub audit_error: Option<String>,
    last_checkpoint: u64,
    /// A bumped counter tells the engine the board must be published again.
    pub changes: u64,
    /// Scales verified by state, waiting to be judged by their outcome.
    pub(super) scale_watches: Vec<super::scale_outcome::Watch>,
}

impl Actions {
    pub fn new(cfg: &Config, db: Option<&std::path::Path>, notifier: Notifier) -> Actions {
        let audit_path = super::audit_path(cfg);
        let log = match &audit_path {
            Some(p) => AuditLog::open(p).map_err(|e| e.to_string()),
            None => Err("no place for the audit log: set audit.path".to_string()),
        };
        let audit_error = log.as_ref().err().map(|e| format!("nothing will run: {e}"));
        let mut audit_tail = VecDeque::new();
        if let Some(p) = &audit_path
            && let Ok(lines) = crate::audit::tail(p, AUDIT_TAIL)
        {
            audit_tail.extend(lines);
        }
        let last_checkpoint = log.as_ref().map(|l| l.head().seq).unwrap_or(0);
        let sink: AuditSink = Arc::new(Mutex::new(log));
        let shadow = cfg.mode == crate::config::Mode::Shadow;
        let gate = Arc::new(Gate::new(shadow, Brake::new(super::brake_path(cfg)), sink));
        let execs = Arc::new(Executors::new(cfg));
        let (tx, rx) = mpsc::channel(64);
        let mut queue = Queue::open(db, cfg.approve.ttl.as_millis() as i64);
        // The history's database was wanted but could not be opened (a replay passes
        // none on purpose, and is always in shadow mode): say the queue is in memory.
        if db.is_none() && !cfg.shadow_forced && super::store_path(cfg).is_some() {
            queue.notice = Some(
                "approvals kept in memory only (a restart forgets them): the database cannot be opened"
                    .into(),
            );
        }
        let mut a = Actions {
            queue,
            gate,
            execs,
            cloud: CloudReads::default(),
            notifier,
            cfg: cfg.clone(),
            tx,
            rx,
            busy: HashSet::new(),
            listed: 0,
            containers: Vec::new(),
            docker_error: None,
            listing: false,
            list_applied: None,
            message: None,
            audit_tail,
            audit_error,
            last_checkpoint,
            changes: 0,
            scale_watches: Vec::new(),
        };
        a.recover();
        a.restore_watches(cfg);
        a
    }

    /// Starts the watcher of container exits (needs a runtime).
    pub fn watch(&self) {
        if !self.cfg.heal.enabled || !self.cfg.docker.socket.exists() {
            return;
        }
        let (dtx, mut drx) = mpsc::channel(64);
        let exec = self.execs.docker.clone();
        tokio::spawn(async move { exec.watch_exits(dtx).await });
        let tx = self.tx.clone();
        tokio::spawn(async move {
            while let Some(name) = drx.recv().await {
                if tx.send(ActionEvent::Died(name)).await.is_err() {
                    return;
                }
            }
        });
    }

    /// A crash between an answer and its outcome leaves entries approved, running or
    /// done. Each is reconciled once, from the audit trail and the target's actual state,
    /// and the reconciliation is audited. Nothing is executed here: an entry that never
    /// reached the executor is marked not run; one that may have run is read back from
    /// its own backend — Docker (vigil's own leftovers tidied), or the cloud, where a
    /// stored operation is followed and without one the group's state is read — and
    /// marked completed or interrupted.
    fn recover(&mut self) {
        let entries = match self.queue.in_flight() {
            Ok(v) => v,
            Err(e) => {
                self.message = Some(format!("after the restart: {e}"));
                return;
            }
        };
        if entries.is_empty() {
            return;
        }
        let wanted: HashSet<(String, u32)> = entries
            .iter()
            .map(|e| (e.proposal.id.clone(), e.proposal.version))
            .collect();
        let trails = match super::audit_path(&self.cfg) {
            Some(p) => reconcile::trails(&p, &wanted),
            None => Ok(HashMap::new()),
        };
        let (trails, unknown) = match trails {
            Ok(t) => (t, false),
            Err(e) => {
                tracing::error!("reconciling after a restart: the audit log: {e}");
                (HashMap::new(), true)
            }
        };
        let runtime = tokio::runtime::Handle::try_current().is_ok();
        for e in entries {
            let key = (e.proposal.id.clone(), e.proposal.version);
            // Without the log, whether it started is unknown: assume it may have.
            let assumed = Trail {
                intent: true,
                ..Trail::default()
            };
            let trail = if unknown {
                Some(&assumed)
            } else {
                trails.get(&key)
            };
            let d = decision_of(&e);
            match reconcile::step(e.state, trail) {
                Step::NotRun(note) => {
                    self.settle(&e, State::Failed, &note);
                }
                Step::Shadowed => {
                    self.settle(&e, State::Shadowed, "shadow mode: recorded, not run");
                }
                Step::Braked => {
                    self.settle(&e, State::Braked, "the brake is on: not run");
                }
                Step::Finished(Ok(text)) => {
                    if self.settle(&e, State::Done, &text) && runtime {
                        self.busy.insert(d.action.subject().to_string());
                        self.start_verify(d);
                    }
                }
                Step::Finished(Err(text)) => {
                    self.settle(&e, State::Failed, &text);
                }
                Step::Verdict(ok, text) => {
                    let to = if ok {
                        State::Verified
                    } else {
                        State::Unverified
                    };
                    self.settle(&e, to, &text);
                }
                Step::ReadWorld | Step::Verify if !runtime => {
                    tracing::warn!("{} v{} left for an engine with a runtime", key.0, key.1);
                }
                Step::Verify => {
                    self.busy.insert(d.action.subject().to_string());
                    self.start_verify(d);
                }
                Step::ReadWorld => {
                    self.busy.insert(d.action.subject().to_string());
                    let execs = self.execs.clone();
                    let tx = self.tx.clone();
                    let began = trail.and_then(|t| t.intent_at);
                    // A cloud action's operation, if the cloud's answer came before the
                    // stop: followed, never sent again.
                    let operation = self.queue.operation(&key.0, key.1).ok().flatten();
                    tokio::spawn(async move {
                        // The engine may still be finishing the killed vigil's calls.
                        let quiet = execs.quiet_after(&d.action).await;
                        let wait = match began {
                            Some(at) => {
                                let since = chrono::Utc::now().timestamp_millis() - at;
                                quiet.saturating_sub(Duration::from_millis(since.max(0) as u64))
                            }
                            None => quiet,
                        };
                        tokio::time::sleep(wait).await;
                        let found = execs.reconcile(&d.action, operation.as_deref()).await;
                        let _ = tx
                            .send(ActionEvent::Reconciled { decision: d, found })
                            .await;
                    });
                }
            }
        }
    }

    /// Moves an entry found after a restart from where it was to where it belongs, and
    /// audits the move. False if another process moved it first.
    fn settle(&mut self, e: &Entry, to: State, note: &str) -> bool {
        let now = chrono::Utc::now().timestamp_millis();
        let p = &e.proposal;
        if let Err(err) = self
            .queue
            .set_state(&p.id, p.version, e.state, to, Some(note), now)
        {
            tracing::warn!("reconciling after a restart: {err}");
            return false;
        }
        self.audit(
            "reconciled",
            &Actor::vigil(),
            serde_json::json!({
                "proposal": p.id,
                "version": p.version,
                "was": e.state.name(),
                "now": to.name(),
                "summary": format!("after a restart, {} was {}, now {}: {note}", p.summary(), e.state.name(), to.name()),
            }),
        );
        self.changes += 1;
        true
    }

    /// What a restart read of an action that may have run.
    fn reconciled(&mut self, d: Decision, found: Result<Found, ExecError>) {
        let entry = match self.queue.get(&d.proposal, d.version) {
            Ok(Some(e)) if e.state == State::Running => e,
            _ => {
                self.busy.remove(d.action.subject());
                return;
            }
        };
        match found {
            Ok(Found::Completed(text)) => {
                if self.settle(
                    &entry,
                    State::Done,
                    &format!("completed before vigil stopped: {text}"),
                ) {
                    self.start_verify(d);
                } else {
                    self.busy.remove(d.action.subject());
                }
            }
            Ok(Found::Interrupted(text)) => {
                self.busy.remove(d.action.subject());
                self.settle(&entry, State::Failed, &text);
                self.notifier.send(Event::new(
                    "failure",
                    format!("interrupted: {}", entry.proposal.summary()),
                    text,
                ));
            }
            Err(e) => {
                self.busy.remove(d.action.subject());
                self.settle(
                    &entry,
                    State::Failed,
                    &format!("interrupted; the target's state could not be read: {e}"),
                );
            }
        }
    }

    /// Appends to the audit log and to the screen's tail. Returns false if the log
    /// cannot take it (shown on screen; nothing will run).
    pub fn audit(&mut self, kind: &str, who: &Actor, data: serde_json::Value) -> bool {
        match self.gate.record(kind, who, data) {
            Ok(head) => {
                self.audit_error = None;
                self.refresh_tail(head.seq);
                true
            }
            Err(e) => {
                self.audit_error = Some(format!("audit log: {e}; nothing will run"));
                self.changes += 1;
                false
            }
        }
    }

    fn refresh_tail(&mut self, seq: u64) {
        if let Some(p) = super::audit_path(&self.cfg)
            && let Ok(lines) = crate::audit::tail(&p, AUDIT_TAIL)
        {
            self.audit_tail = lines.into();
        }
        if seq >= self.last_checkpoint + self.cfg.audit.checkpoint_every.max(1) {
            self.checkpoint();
        }
        self.changes += 1;
    }

    /// Sends the chain's head away (webhooks, syslog), where a rewrite of the file here
    /// cannot reach it.
    pub fn checkpoint(&mut self) {
        let head = match self.gate.audit().lock() {
            Ok(g) => match g.as_ref() {
                Ok(log) => log.head().clone(),
                Err(_) => return,
            },
            Err(_) => return,
        };
        if head.seq == 0 || head.seq == self.last_checkpoint {
            return;
        }
        self.last_checkpoint = head.seq;
        let line = format!("audit checkpoint {}:{}", head.seq, head.hash);
        if let Some(sock) = &self.cfg.audit.syslog {
            crate::audit::syslog::send(sock, &line);
        }
        let mut ev = Event::new(
            "checkpoint",
            format!("audit head #{}", head.seq),
            format!("vigil audit verify --checkpoint {}:{}", head.seq, head.hash),
        );
        ev.data = serde_json::json!({"seq": head.seq, "hash": head.hash});
        self.notifier.send(ev);
    }

    fn proposal_data(p: &Proposal) -> serde_json::Value {
        serde_json::json!({
            "proposal": p.id,
            "version": p.version,
            "class": p.class(),
            "action": p.action,
            "risk": p.risk,
            "manual": p.manual,
            "cost_per_hour": p.cost_per_hour,
            "currency": p.currency,
            "summary": p.summary(),
        })
    }

    /// A proposal from the planner or a playbook. The queue owns versions: the same
    /// change again is no news; a different change is the next version and replaces the
    /// one waiting.
    pub fn offer(&mut self, mut p: Proposal, now: i64) {
        if let Some(e) = self.queue.pending(&p.id)
            && (e.proposal.from, e.proposal.to, &e.proposal.action) == (p.from, p.to, &p.action)
        {
            return;
        }
        if self.busy.contains(p.action.subject()) {
            return;
        }
        // An action its backend takes the target down for is for a person, typed,
        // whatever the planner thought of it: the proposal says so.
        if let Some(why) = self.execs.downtime(&p.action) {
            p.risk = Risk::High;
            p.manual = Some(why);
        }
        p.version = self.queue.next_version(&p.id);
        match self.queue.offer(&p, now) {
            Ok((superseded, true)) => {
                for v in superseded {
                    self.audit(
                        "superseded",
                        &Actor::vigil(),
                        serde_json::json!({"proposal": p.id, "version": v, "summary": format!("{} v{v} replaced by v{}", p.id, p.version)}),
                    );
                }
                self.audit("proposal", &Actor::vigil(), Self::proposal_data(&p));
            }
            Ok((_, false)) => return,
            Err(e) => {
                self.message = Some(e.to_string());
                return;
            }
        }
        // Auto rules only ever cover low-risk proposals no manual rule holds back.
        let auto = p.manual.is_none()
            && p.risk == Risk::Low
            && self.cfg.approve.auto.iter().any(|c| c == p.class());
        if auto {
            self.answer(&p.id, p.version, true, &Actor::vigil(), now, true);
        } else {
            self.notifier.send(Event::new(
                "approval",
                format!("approval needed: {}", p.summary()),
                format!(
                    "risk {:?}{}; expires in {}",
                    p.risk,
                    p.manual
                        .as_deref()
                        .map(|m| format!(", manual: {m}"))
                        .unwrap_or_default(),
                    humantime::format_duration(self.cfg.approve.ttl)
                ),
            ));
        }
        self.changes += 1;
    }

    /// The planner no longer wants what waits under this id.
    pub fn withdraw(&mut self, id: &str, now: i64) {
        if let Ok(Some(e)) = self.queue.withdraw(id, now) {
            self.audit(
                "withdrawn",
                &Actor::vigil(),
                serde_json::json!({"proposal": id, "version": e.proposal.version, "summary": format!("no longer needed: {}", e.proposal.summary())}),
            );
        }
    }

    /// An answer to exactly one version. Approving runs it through the gate.
    pub fn answer(
        &mut self,
        id: &str,
        version: u32,
        approve: bool,
        who: &Actor,
        now: i64,
        auto: bool,
    ) {
        self.changes += 1;
        // Two actions on one target at once could undo each other (a reconciliation
        // after a restart tidies what a scale is making): the approval waits, undecided.
        if approve
            && let Ok(Some(e)) = self.queue.get(id, version)
            && e.state == State::Pending
            && self.busy.contains(e.proposal.action.subject())
        {
            self.message = Some(format!(
                "{id} v{version} not approved yet: an action on {} is under way; answer again when it is done",
                e.proposal.action.subject()
            ));
            return;
        }
        let entry = match self.queue.decide(id, version, approve, who, now) {
            Ok(e) => e,
            Err(e @ DecideError::Changed { .. }) => {
                self.audit(
                    "stale-answer",
                    who,
                    serde_json::json!({"proposal": id, "version": version, "summary": format!("{} to v{version} decided nothing: {e}", if approve {"approval"} else {"rejection"})}),
                );
                self.message = Some(e.to_string());
                return;
            }
            Err(e) => {
                self.message = Some(e.to_string());
                return;
            }
        };
        let p = entry.proposal.clone();
        let verb = if approve { "approved" } else { "rejected" };
        let mut data = Self::proposal_data(&p);
        data["decision"] = serde_json::json!(verb);
        data["auto"] = serde_json::json!(auto);
        data["summary"] = serde_json::json!(format!(
            "{verb}{}: {}",
            if auto { " (auto rule)" } else { "" },
            p.summary()
        ));
        if !self.audit("decision", who, data) && approve {
            // An approval that cannot be recorded is not acted on.
            if let Err(e) = self.queue.set_state(
                id,
                version,
                State::Approved,
                State::Failed,
                Some("not run: the audit log cannot take it"),
                now,
            ) {
                tracing::warn!("{e}");
            }
            self.message = Some(format!(
                "{id} v{version} not run: the audit log cannot take it"
            ));
            return;
        }
        self.message = Some(format!("{verb} {} v{version}", p.id));
        if approve {
            self.start(p, who.clone(), auto, now);
        }
    }

    fn start(&mut self, p: Proposal, by: Actor, auto: bool, now: i64) {
        // Only the one who moves it from approved to running runs it.
        if let Err(e) =
            self.queue
                .set_state(&p.id, p.version, State::Approved, State::Running, None, now)
        {
            self.message = Some(format!("not run: {e}"));
            return;
        }
        self.busy.insert(p.action.subject().to_string());
        self.unwatch_outcome(p.action.subject());
        let decision = Decision {
            proposal: p.id.clone(),
            version: p.version,
            action: p.action.clone(),
            from: p.from,
            by,
            auto,
        };
        let gate = self.gate.clone();
        let exec = self.execs.for_action(&decision.action);
        self.cloud.soon(decision.action.subject());
        let accepted = self.accepted_sink(&decision);
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let result = gate.pass_tracked(&decision, exec.as_ref(), &accepted).await;
            let _ = tx.send(ActionEvent::Ran { decision, result }).await;
        });
    }

    /// Where an executor tells the long operation the cloud accepted: to the engine's
    /// loop, which stores it with the queue entry and then lets the executor wait on it.
    fn accepted_sink(&self, d: &Decision) -> OperationSink {
        let tx = self.tx.clone();
        let d = d.clone();
        Box::new(move |operation| {
            let (tx, decision) = (tx.clone(), d.clone());
            Box::pin(async move {
                let (stored, done) = tokio::sync::oneshot::channel();
                let ev = ActionEvent::Accepted {
                    decision,
                    operation,
                    stored,
                };
                if tx.send(ev).await.is_ok() {
                    let _ = tokio::time::timeout(STORE_WAIT, done).await;
                }
            })
        })
    }

    /// Stores a running action's operation (compare-and-set on the entry) and audits it.
    fn accepted(&mut self, d: Decision, operation: String, now: i64) {
        let summary = format!("{} {}", d.action.class(d.from), d.action.subject());
        match self
            .queue
            .set_operation(&d.proposal, d.version, &operation, now)
        {
            Ok(()) => {
                self.audit(
                    "accepted",
                    &Actor::vigil(),
                    serde_json::json!({
                        "proposal": d.proposal,
                        "version": d.version,
                        "operation": operation,
                        "summary": format!("{summary}: accepted, following {operation}"),
                    }),
                );
                self.message = Some(format!("{summary}: accepted, following {operation}"));
            }
            Err(e) => tracing::warn!("{summary}: the operation {operation} was not stored: {e}"),
        }
        self.cloud.soon(d.action.subject());
        self.changes += 1;
    }

    /// Reads the cloud groups that are due, each in a task: the counts feed the plans,
    /// and a group with an action in flight shows its instances and activity.
    pub fn read_cloud(&mut self, now: i64) {
        let Some(h) = self.execs.huawei().cloned() else {
            return;
        };
        let poll = self.cfg.huawei.poll.as_millis().min(i64::MAX as u128) as i64;
        // A target mapped to an ECS server alone has no AS group to read.
        let groups: Vec<String> = self
            .cfg
            .scale
            .iter()
            .filter(|t| t.kind == TargetKind::HuaweiAsGroup)
            .filter(|t| {
                self.cfg
                    .huawei
                    .targets
                    .get(&t.name)
                    .is_none_or(|h| h.group_id.is_some() || h.server_id.is_none())
            })
            .map(|t| t.name.clone())
            .collect();
        for target in self
            .cloud
            .due(groups.iter().map(String::as_str), &self.busy, now, poll)
        {
            let (h, tx) = (h.clone(), self.tx.clone());
            tokio::spawn(async move {
                let read = h.progress(&target).await;
                let at = chrono::Utc::now().timestamp_millis();
                let _ = tx.send(ActionEvent::Cloud { target, read, at }).await;
            });
        }
    }

    /// Why the cloud targets cannot be acted on (no credentials, say), for the header.
    pub fn cloud_error(&self) -> Option<String> {
        self.execs.huawei_error().map(str::to_string)
    }

    /// Cloud groups with an action in flight, for the Actions view.
    pub fn cloud_in_flight(&self) -> Vec<crate::protocol::CloudGroup> {
        self.cloud.in_flight(&self.busy)
    }

    /// Denies what waited too long, and records that it did.
    pub fn expire(&mut self, now: i64) {
        for e in self.queue.expire(now).unwrap_or_default() {
            let p = &e.proposal;
            self.audit(
                "expired",
                &Actor::vigil(),
                serde_json::json!({"proposal": p.id, "version": p.version, "decision": "denied", "summary": format!("expired unanswered (denied): {}", p.summary())}),
            );
            self.changes += 1;
        }
    }

    pub fn on_event(&mut self, ev: ActionEvent, now: i64) {
        match ev {
            ActionEvent::Ran { decision, result } => self.ran(decision, result, now),
            ActionEvent::Reconciled { decision, found } => self.reconciled(decision, found),
            ActionEvent::Accepted {
                decision,
                operation,
                stored,
            } => {
                self.accepted(decision, operation, now);
                let _ = stored.send(());
            }
            ActionEvent::Cloud { target, read, at } => {
                self.cloud.take(&target, read, at);
                self.changes += 1;
            }
            ActionEvent::Verified { decision, verdict } => self.verified(decision, verdict, now),
            ActionEvent::Containers(read_at, r) => {
                self.listing = false;
                if self.list_applied.is_some_and(|t| read_at < t) {
                    return;
                }
                self.list_applied = Some(read_at);
                match r {
                    Ok(list) => {
                        self.docker_error = None;
                        // Stats come from the slower full listing; keep the last ones.
                        let old: HashMap<String, &ContainerInfo> =
                            self.containers.iter().map(|c| (c.id.clone(), c)).collect();
                        let list: Vec<ContainerInfo> = list
                            .into_iter()
                            .map(|mut c| {
                                if c.cpu_pct.is_none()
                                    && let Some(o) = old.get(&c.id)
                                    && c.running()
                                {
                                    c.cpu_pct = o.cpu_pct;
                                    c.mem_bytes = o.mem_bytes;
                                    c.mem_limit = o.mem_limit;
                                }
                                // So is a running container's inspect.
                                if c.restart_count.is_none()
                                    && let Some(o) = old.get(&c.id)
                                {
                                    c.restart_count = o.restart_count;
                                    c.oom_killed = o.oom_killed;
                                    c.restart_policy = o.restart_policy.clone();
                                    c.mem_limit_set = o.mem_limit_set;
                                }
                                c
                            })
                            .collect();
                        self.containers = list;
                        // The healing loop (engine/incidents.rs) reads each new listing.
                        self.listed += 1;
                    }
                    Err(e) => self.docker_error = Some(e.to_string()),
                }
                self.changes += 1;
            }
            ActionEvent::Died(name) => {
                tracing::info!(container = %name, "container exited");
                self.list_after_exit(name);
            }
        }
    }

    /// Reads the engine's containers in a task; `stats` adds CPU and memory (slower).
    pub fn list_containers(&mut self, stats: bool) {
        if self.listing && stats {
            return;
        }
        self.listing = true;
        let exec = self.execs.docker.clone();
        let tx = self.tx.clone();
        tokio::spawn(async move {
            // States are read first, the (slow) stats after.
            let read_at = std::time::Instant::now();
            let r = if stats {
                exec.containers_with_stats().await
            } else {
                exec.list_detailed().await
            };
            let _ = tx.send(ActionEvent::Containers(read_at, r)).await;
        });
    }

    /// The engine sends "die" a moment before its listing says "exited": read until it
    /// does (a second at most), so the heal proposal does not wait for the next listing.
    fn list_after_exit(&mut self, name: String) {
        let exec = self.execs.docker.clone();
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let mut last = None;
            for _ in 0..20 {
                let read_at = std::time::Instant::now();
                let r = exec.list(None).await;
                let settled = match &r {
                    Ok(list) => list.iter().all(|c| c.name != name || !c.running()),
                    Err(_) => true,
                };
                last = Some((read_at, r));
                if settled {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            if let Some((read_at, mut r)) = last {
                // Inspected once settled: an OOM kill is told apart from a crash.
                if let Ok(list) = r.as_mut() {
                    exec.add_details(list, false).await;
                }
                let _ = tx.send(ActionEvent::Containers(read_at, r)).await;
            }
        });
    }

    fn ran(&mut self, d: Decision, result: GateResult, now: i64) {
        let summary = format!("{} {}", d.action.class(d.from), d.action.subject());
        if let GateResult::Unauditable(e) = &result {
            // Loud, in the header: an action that cannot be audited is not taken.
            self.audit_error = Some(format!("audit log: {e}; nothing will run"));
        }
        let (state, note) = match &result {
            GateResult::Shadowed => (State::Shadowed, "shadow mode: recorded, not run".into()),
            GateResult::Braked => (State::Braked, "the brake is on: not run".into()),
            GateResult::Unauditable(e) => (State::Failed, format!("not run: {e}")),
            GateResult::Done(o) => (State::Done, o.summary.clone()),
            GateResult::Failed(e) => (State::Failed, e.to_string()),
        };
        if let Err(e) = self.queue.set_state(
            &d.proposal,
            d.version,
            State::Running,
            state,
            Some(&note),
            now,
        ) {
            tracing::warn!("after {summary}: {e}");
        }
        self.refresh_tail(0);
        self.checkpoint();
        match &result {
            GateResult::Done(o) => {
                self.notifier.send(Event::new(
                    "execution",
                    format!("done: {summary}"),
                    o.summary.clone(),
                ));
                self.start_verify(d);
                self.message = Some(format!("{summary}: done, verifying"));
            }
            GateResult::Failed(e) => {
                self.busy.remove(d.action.subject());
                self.notifier.send(Event::new(
                    "failure",
                    format!("failed: {summary}"),
                    e.to_string(),
                ));
                // Nothing is retried without a new approval.
                self.message = Some(format!("{summary} failed: {e}"));
            }
            _ => {
                self.busy.remove(d.action.subject());
                self.message = Some(format!("{summary}: {note}"));
            }
        }
        self.changes += 1;
    }

    /// Checks, in a task, that what the action promised holds and keeps holding.
    fn start_verify(&mut self, d: Decision) {
        let within = match &d.action {
            Action::Scale { target, .. } | Action::Resize { target, .. } => self
                .cfg
                .scale
                .iter()
                .find(|t| &t.name == target)
                .map(|t| t.ready_timeout)
                .unwrap_or(Duration::from_secs(120)),
            _ => self.cfg.heal.verify_within,
        };
        let exec = self.execs.for_action(&d.action);
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let settle = verify::settle_for(&d.action);
            let verdict = verify::verify(exec.as_ref(), &d.action, within, settle).await;
            let _ = tx
                .send(ActionEvent::Verified {
                    decision: d,
                    verdict,
                })
                .await;
        });
    }

    fn verified(&mut self, d: Decision, verdict: Verdict, now: i64) {
        self.busy.remove(d.action.subject());
        let (state, text, ok) = match &verdict {
            Verdict::Verified(t) => (State::Verified, t.clone(), true),
            Verdict::Failed(t) => (State::Unverified, t.clone(), false),
        };
        if let Err(e) =
            self.queue
                .set_state(&d.proposal, d.version, State::Done, state, Some(&text), now)
        {
            tracing::warn!("verifying {}: {e}", d.proposal);
        }
        let summary = format!("{} {}", d.action.class(d.from), d.action.subject());
        self.audit(
            "verify",
            &Actor::vigil(),
            serde_json::json!({"proposal": d.proposal, "version": d.version, "verified": ok, "summary": format!("{}: {summary}: {text}", if ok {"verified"} else {"NOT verified"})}),
        );
        if ok {
            self.message = Some(format!("{summary}: verified"));
            // The verification read the container running just now: fresher than the
            // last listing, which may still say it exited. Without this, a container
            // that dies again before the next listing would never have been seen up,
            // and its new exit would look like the old one still going on.
            if let Action::Restart { container } | Action::Recreate { container } = &d.action
                && let Some(c) = self.containers.iter_mut().find(|c| &c.name == container)
                && !c.running()
            {
                c.state = "running".into();
                c.status = format!("Up ({summary}: verified)");
                // Verified means healthy too, where it has a healthcheck.
                if c.health.is_some() {
                    c.health = Some("healthy".into());
                }
                self.list_applied = Some(std::time::Instant::now());
                self.listed += 1;
                self.changes += 1;
            }
            // The replicas run; whether they helped is for the utilisation to say.
            if let Ok(Some(e)) = self.queue.get(&d.proposal, d.version)
                && let Some(w) = super::scale_outcome::Watch::new(&self.cfg, &e.proposal, now)
            {
                self.watch_outcome(w);
            }
            return;
        }
        self.notifier.send(Event::new(
            "failure",
            format!("not verified: {summary}"),
            text.clone(),
        ));
        self.message = Some(format!("{summary}: not verified: {text}"));
        // A scale or resize that did not bring what it promised: offer to undo it.
        if let Action::Scale { target, kind, to } = &d.action
            && *to != d.from
        {
            let back = Action::Scale {
                target: target.clone(),
                kind: *kind,
                to: d.from,
            };
            let mut p = Proposal::repair(
                format!("rollback:{target}"),
                back,
                Rule::Rollback,
                format!("{target} {} → {to} not verified ({text})", d.from),
                Some("a rollback is for a person to decide".into()),
                Risk::Medium,
                now,
            );
            p.from = *to;
            p.to = d.from;
            self.offer(p, now);
        }
    }

    /// Tells the webhooks (the healing loop's escalations and L2 fixes).
    pub fn notify(&self, ev: Event) {
        self.notifier.send(ev);
    }

    /// Running members of each group, as its own executor reports them: Docker
    /// groups from the container listing, cloud groups their instances in service.
    pub fn group_counts(&self) -> HashMap<String, usize> {
        let mut m = self.cloud.counts();
        for c in self
            .containers
            .iter()
            .filter(|c| c.running() && !docker::set_aside(&c.name))
        {
            if let Some(g) = &c.group {
                *m.entry(g.clone()).or_insert(0) += 1;
            }
        }
        m
    }

    pub fn is_busy(&self, subject: &str) -> bool {
        self.busy.contains(subject)
    }

    /// Actions started and not yet verified or failed.
    pub fn in_flight(&self) -> usize {
        self.busy.len()
    }

    /// A reloaded config: rules, targets and webhooks change; the queue, the audit log
    /// and what is in flight stay as they are.
    pub fn reconfigure(&mut self, cfg: &Config, host: &str) -> Vec<String> {
        self.cfg = cfg.clone();
        self.execs = Arc::new(Executors::new(cfg));
        self.cloud
            .retain(&cfg.scale.iter().map(|t| t.name.clone()).collect());
        let (notifier, problems) =
            Notifier::spawn(&cfg.notify, host, crate::notify::Pace::default());
        self.notifier = notifier;
        problems
    }

    pub fn board(&self) -> Vec<Entry> {
        self.queue.board(BOARD_ANSWERED).unwrap_or_default()
    }

    pub fn set_shadow(&mut self, on: bool, who: &Actor) {
        if self.gate.shadow() == on {
            return;
        }
        self.gate.set_shadow(on);
        self.audit(
            "mode",
            who,
            serde_json::json!({"shadow": on, "summary": if on {"shadow mode on: nothing runs"} else {"live mode: approved actions run"}}),
        );
        self.message = Some(if on { "shadow mode on" } else { "live mode" }.into());
    }

    /// Why nothing runs when the brake cannot be read, for the header.
    pub fn brake_notice(&self) -> Option<String> {
        match self.gate.brake().state() {
            BrakeState::Unreadable(why) => Some(why),
            _ => None,
        }
    }

    pub fn set_brake(&mut self, engage: bool, who: &Actor, reason: &str) {
        let Some(path) = super::audit_path(&self.cfg) else {
            return;
        };
        // The brake writes its own record, through its own handle on the log.
        let result = AuditLog::open(&path)
            .map_err(|e| e.to_string())
            .and_then(|mut log| {
                let brake = self.gate.brake();
                if engage {
                    brake
                        .engage(&mut log, who, reason)
                        .map_err(|e| e.to_string())
                } else {
                    brake.release(&mut log, who).map_err(|e| e.to_string())
                }
            });
        self.message = Some(match result {
            Ok(()) if engage => "brake engaged: nothing runs until it is released".into(),
            Ok(()) => "brake released".into(),
            Err(e) => format!("brake: {e}"),
        });
        self.refresh_tail(0);
    }
}
