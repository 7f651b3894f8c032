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
            | Command::Brake { by, .. } => *by = who,
            Command::TogglePause
            | Command::Proposals
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
}

impl Reply {
    /// The exit code of `vigil approve` / `reject` for this answer, for scripts.
    pub fn exit_code(&self) -> u8 {
        match self {
            Reply::Done { .. } | Reply::Decided { .. } | Reply::Proposals { .. } => 0,
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
        }
    }
}
