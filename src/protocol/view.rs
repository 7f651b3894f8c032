//! What the engine tells the console, and what the console asks of the engine: the same
//! types in-process (a console that embeds the engine) and over the daemon's socket.

use super::board::Entry;
use crate::audit::Actor;
use crate::collect::{HostSample, Metric};
use crate::config::Mode;
use crate::execute::docker::ContainerInfo;
use crate::forecast::Forecast;
use crate::plan::proposal::Ledger;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::collections::VecDeque;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostInfo {
    pub name: String,
    pub cores: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warn,
    Error,
}

/// Something the operator should know about vigil itself: a degraded source, a config
/// problem. Shown in the header until it clears.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    pub severity: Severity,
    pub text: String,
}

impl Notice {
    /// The config's problems as warnings on screen (the config still runs on what is
    /// valid).
    pub fn config_problems(loaded: &crate::config::Loaded) -> Vec<Notice> {
        loaded
            .problems
            .iter()
            .map(|p| Notice {
                severity: Severity::Warn,
                text: format!("config: {p}"),
            })
            .collect()
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Snapshot {
    /// Increases with every change, so a reader can tell a new snapshot from an old one.
    pub seq: u64,
    /// Engine time of the last sample, unix ms.
    pub ts: i64,
    pub host: HostInfo,
    /// Where the samples come from ("procfs", "replay: FILE").
    pub source: String,
    pub mode: Mode,
    pub paused: bool,
    pub interval_ms: u64,
    pub latest: Option<HostSample>,
    /// The last hour of each series, oldest first. Left out of `status --json`.
    #[serde(skip)]
    pub history: BTreeMap<Metric, VecDeque<(i64, f64)>>,
    pub notices: Vec<Notice>,
    /// Per series: the next hour, on a one-minute grid.
    pub forecasts: BTreeMap<Metric, Forecast>,
    /// Per target, in shadow mode: what following vigil would have cost.
    pub ledgers: Vec<(String, Ledger)>,
    /// The approval queue: waiting and running first, then the latest answered.
    pub board: Vec<Entry>,
    /// The global brake is on: nothing runs.
    pub brake: bool,
    /// --shadow or a replay: shadow mode cannot be left from here.
    pub shadow_forced: bool,
    /// The Docker engine's containers, with CPU and memory for the running ones.
    pub containers: Vec<ContainerInfo>,
    /// Cloud groups with an action in flight: their instances and scaling activity.
    #[serde(default)]
    pub cloud: Vec<CloudGroup>,
    /// The engine's answer to the operator's last command.
    pub message: Option<String>,
    /// The latest audit records, readably, oldest first.
    #[serde(skip)]
    pub audit_tail: Vec<String>,
    /// How this console reaches its engine; set by the console's side, never sent.
    #[serde(skip)]
    pub link: Link,
    /// Open incidents, then the latest closed ones, newest first.
    #[serde(default)]
    pub incidents: Vec<IncidentView>,
    /// MTTR, success rate, false alarms, manual interventions, rollbacks.
    #[serde(default)]
    pub healing: HealingBoard,
}

/// A cloud group (a Huawei AS group) while an action on it is in flight, as the
/// Actions view shows it: every instance with its lifecycle state, and the scaling
/// activity that carries the change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CloudGroup {
    /// The [[scale]] target's name.
    pub target: String,
    pub instances: Vec<CloudInstance>,
    /// The group's latest scaling activity.
    pub activity: Option<CloudActivity>,
    /// Why the group could not be read at the last try (the picture is the one before).
    pub error: Option<String>,
    /// When it was last read, unix ms.
    pub read_at: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CloudInstance {
    pub name: String,
    pub id: String,
    /// The cloud's own word: INSERVICE, PENDING, REMOVING, STANDBY, …
    pub lifecycle: String,
    /// NORMAL, INITAILIZING (sic, the API's spelling), ERROR.
    pub health: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CloudActivity {
    pub id: String,
    /// DOING, SUCCESS or FAIL.
    pub status: String,
    /// Instances when it began, and the number it aims at.
    pub from: Option<u32>,
    pub to: Option<u32>,
    pub started: Option<String>,
    pub ended: Option<String>,
}

impl CloudGroup {
    pub fn in_service(&self) -> usize {
        self.instances
            .iter()
            .filter(|i| i.lifecycle == "INSERVICE")
            .count()
    }
}

/// How a console reaches the engine it shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Link {
    /// The engine runs inside this console.
    #[default]
    Embedded,
    /// Attached to the daemon (or another console's engine) at this socket.
    Attached { socket: String },
    /// The engine went away: the picture is the last one it sent; reconnecting.
    Lost { socket: String, reason: String },
}

impl Snapshot {
    pub fn values(&self, m: Metric) -> Vec<f64> {
        self.history
            .get(&m)
            .map(|h| h.iter().map(|&(_, v)| v).collect())
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Command {
    /// Freeze sampling (the screen keeps the last picture) or resume it.
    TogglePause,
    /// An answer to exactly this version of a proposal. A risky one carries the typed
    /// confirmation (the target's name), which the engine checks, whatever the view did.
    Approve {
        id: String,
        version: u32,
        by: Actor,
        #[serde(default)]
        confirm: Option<String>,
    },
    Reject {
        id: String,
        version: u32,
        by: Actor,
        #[serde(default)]
        reason: Option<String>,
    },
    SetShadow {
        on: bool,
        by: Actor,
    },
    Brake {
        engage: bool,
        by: Actor,
        /// Why (kept in the audit log).
        #[serde(default)]
        reason: Option<String>,
    },
    /// The approval queue as it is now (reads only).
    Proposals,
    /// Open and recent incidents with the healing board (reads only).
    Incidents,
    /// A person lets an incident's playbook run the steps it waits for (steps the
    /// executor does not take: log cleanup, the page cache, a unit, a configured
    /// command), or declines them (the incident is escalated).
    AnswerIncident {
        id: String,
        approve: bool,
        by: Actor,
    },
    /// A person says an open incident vigil has not acted on needs no fix: it closes
    /// as a false alarm (counted on the board) and what it waited on is withdrawn.
    DismissIncident {
        id: String,
        by: Actor,
    },
    /// A new config for the running engine (SIGHUP); never from a client.
    #[serde(skip)]
    Reload {
        config: Box<crate::config::Config>,
        problems: Vec<String>,
    },
    /// Stop: in-flight actions finish first (bounded), nothing new starts.
    Shutdown,
}

impl Command {
    /// Who asks: over the socket this is replaced by the peer's credentials, so a client
    /// can never speak for someone else.
    pub fn set_actor(&mut self, who: Actor) {
        match self {
            Command::Approve { by, .. }
            | Command::Reject { by, .. }
            | Command::SetShadow { by, .. }
            | Command::Brake { by, .. }
            | Command::AnswerIncident { by, .. }
            | Command::DismissIncident { by, .. } => *by = who,
            Command::TogglePause
            | Command::Proposals
            | Command::Incidents
            | Command::Reload { .. }
            | Command::Shutdown => {}
        }
    }
}

/// The engine's answer to one command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "kebab-case")]
pub enum Reply {
    /// Done as asked (a mode change, the brake, a pause).
    Done {
        message: String,
    },
    /// The answer was taken: the entry's state now (approved, running, rejected, …).
    Decided {
        id: String,
        version: u32,
        state: String,
        message: String,
    },
    /// The proposal changed: the answer decided nothing.
    Stale {
        id: String,
        current: u32,
        message: String,
    },
    NotFound {
        id: String,
    },
    /// Not allowed, or not possible now: the reason says which.
    Refused {
        reason: String,
    },
    Proposals {
        entries: Vec<Entry>,
    },
    Incidents {
        incidents: Vec<IncidentView>,
        board: HealingBoard,
    },
}

impl Reply {
    /// The exit code of `vigil approve` / `reject` for this answer, for scripts.
    pub fn exit_code(&self) -> u8 {
        match self {
            Reply::Done { .. }
            | Reply::Decided { .. }
            | Reply::Proposals { .. }
            | Reply::Incidents { .. } => 0,
            Reply::Stale { .. } => 3,
            Reply::NotFound { .. } => 4,
            Reply::Refused { .. } => 5,
        }
    }

    pub fn message(&self) -> String {
        match self {
            Reply::Done { message } | Reply::Decided { message, .. } => message.clone(),
            Reply::Stale { message, .. } => message.clone(),
            Reply::NotFound { id } => format!("no proposal {id}"),
            Reply::Refused { reason } => format!("refused: {reason}"),
            Reply::Proposals { entries } => format!("{} proposals", entries.len()),
            Reply::Incidents { incidents, .. } => format!("{} incidents", incidents.len()),
        }
    }
}

/// Where an incident is in the healing loop. Open, fixing and verifying are live; the
/// other three are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IncidentState {
    /// Detected and diagnosed; its fix waits (for an approval, the cooldown or a free slot).
    Open,
    /// The playbook's steps are running.
    Fixing,
    /// The steps ran; the playbook's metric is being watched.
    Verifying,
    /// The metric moved as the playbook promised.
    Resolved,
    /// The fix did not help: the playbook's rollback ran, and a person was told.
    RolledBack,
    /// Handed to a person (not verified with nothing to undo, flapping, returned, refused).
    Escalated,
}

impl IncidentState {
    pub fn name(self) -> &'static str {
        match self {
            IncidentState::Open => "open",
            IncidentState::Fixing => "fixing",
            IncidentState::Verifying => "verifying",
            IncidentState::Resolved => "resolved",
            IncidentState::RolledBack => "rolled-back",
            IncidentState::Escalated => "escalated",
        }
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            IncidentState::Resolved | IncidentState::RolledBack | IncidentState::Escalated
        )
    }

    pub fn from_name(s: &str) -> Option<IncidentState> {
        [
            IncidentState::Open,
            IncidentState::Fixing,
            IncidentState::Verifying,
            IncidentState::Resolved,
            IncidentState::RolledBack,
            IncidentState::Escalated,
        ]
        .into_iter()
        .find(|st| st.name() == s)
    }
}

/// Where one step of an incident's playbook is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepState {
    Waiting,
    /// Offered to the approval queue; waits for a person or an auto rule.
    Proposed,
    Running,
    Done,
    Failed,
    /// Not run: shadow mode, the brake, a refusal, or an earlier step failed.
    Skipped,
}

impl StepState {
    pub fn name(self) -> &'static str {
        match self {
            StepState::Waiting => "waiting",
            StepState::Proposed => "proposed",
            StepState::Running => "running",
            StepState::Done => "done",
            StepState::Failed => "failed",
            StepState::Skipped => "skipped",
        }
    }
}

/// One number behind an incident, named, with its unit in the name (`_pct`, `_s`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentEvidence {
    pub name: String,
    pub value: f64,
}

/// One step of the playbook (or its rollback) as it ran on this incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentStep {
    /// The step's name as the playbook writes it (restart-container, delete-logs, …).
    pub name: String,
    /// What it does to this target, in words.
    pub text: String,
    pub state: StepState,
    /// A rollback step rather than a fix step.
    #[serde(default)]
    pub rollback: bool,
    /// The approval-queue entry an executor step went through (id, version).
    #[serde(default)]
    pub proposal: Option<(String, u32)>,
    /// What came of it.
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub at: Option<i64>,
}

/// The playbook's verification, as checked against live samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentVerify {
    /// "container_mem_pct must fall by 30% within 2m".
    pub text: String,
    pub metric: String,
    /// The metric when the fix started, and the last reading.
    pub before: Option<f64>,
    pub last: Option<f64>,
    /// Unix ms by which it must have improved.
    pub deadline: Option<i64>,
    /// None while undecided.
    pub passed: Option<bool>,
}

/// A problem vigil found on a target, what it thinks caused it, and what it did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentView {
    /// `inc-<opened ms>-<n>`: unique, ordered by when it opened.
    pub id: String,
    /// The container, unit or path it is about.
    pub target: String,
    /// The finding that opened it (a playbook trigger: container-exited, memory-leak, …).
    pub trigger: String,
    pub state: IncidentState,
    /// When the problem began, as far as the history shows (unix ms).
    pub started: i64,
    pub opened: i64,
    pub updated: i64,
    /// When it reached a final state.
    #[serde(default)]
    pub closed: Option<i64>,
    pub evidence: Vec<IncidentEvidence>,
    /// What the rules that read several signals together concluded, in words.
    pub diagnosis: Vec<String>,
    /// The playbook chosen (None: none fits; escalated).
    pub playbook: Option<String>,
    pub risk: Option<String>,
    pub steps: Vec<IncidentStep>,
    pub verify: Option<IncidentVerify>,
    /// Why it waits, or why it was escalated, in words.
    #[serde(default)]
    pub reason: Option<String>,
    /// A person took part (approved, rejected or acted on an escalation).
    #[serde(default)]
    pub manual: bool,
    /// A person (or the target's own recovery) found there was nothing to fix.
    #[serde(default)]
    pub false_alarm: bool,
    /// The steps it waits for a person to allow (`vigil incidents --approve ID`).
    #[serde(default)]
    pub awaiting: Option<String>,
    /// Who allowed them.
    #[serde(default)]
    pub approved_by: Option<String>,
    /// An LLM's second opinion, validated; it never changes what runs.
    #[serde(default)]
    pub note: Option<IncidentNote>,
}

impl IncidentView {
    /// A person may close it as a false alarm: still open, nobody allowed its steps
    /// (who did judged it real), and nothing done for it yet.
    pub fn dismissable(&self) -> bool {
        !self.state.is_final() && self.approved_by.is_none() && self.untouched()
    }

    /// Nothing has been done for it yet: every step waits, is offered, was skipped, or
    /// is only a notice, a wait or a check. Only such an incident may close as a false
    /// alarm.
    pub fn untouched(&self) -> bool {
        self.steps.iter().all(|s| {
            matches!(
                s.state,
                StepState::Waiting | StepState::Proposed | StepState::Skipped
            ) || matches!(s.name.as_str(), "notify" | "wait" | "verify")
        })
    }
}

/// What an LLM said of an incident, kept only because it named a playbook that fits,
/// a known target and evidence it was sent. Risk and approval stay the playbook's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentNote {
    pub playbook: String,
    pub target: String,
    /// Names of the evidence it relied on (`IncidentView::evidence`).
    pub cites: Vec<String>,
    pub reason: String,
    pub model: String,
    pub at: i64,
}

/// The healing loop's record over one span (the last day, the last week).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HealingSpan {
    pub incidents: u32,
    pub resolved: u32,
    pub rolled_back: u32,
    pub escalated: u32,
    /// Mean time from the problem's start to resolved, seconds.
    pub mttr_s: Option<f64>,
    /// Resolved over those that reached a final state, 0..1.
    pub success_rate: Option<f64>,
    pub false_alarms: u32,
    pub manual: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HealingBoard {
    pub day: HealingSpan,
    pub week: HealingSpan,
}
