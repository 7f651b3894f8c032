//! What the engine tells the console, and what the console asks of the engine. The
//! same types travel in-process now and over the daemon's socket later.

use crate::approve::Entry;
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
    /// The engine's answer to the operator's last command.
    pub message: Option<String>,
    /// The latest audit records, readably, oldest first.
    #[serde(skip)]
    pub audit_tail: Vec<String>,
}

impl Snapshot {
    pub fn values(&self, m: Metric) -> Vec<f64> {
        self.history
            .get(&m)
            .map(|h| h.iter().map(|&(_, v)| v).collect())
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Freeze sampling (the screen keeps the last picture) or resume it.
    TogglePause,
    /// An answer to exactly this version of a proposal.
    Approve {
        id: String,
        version: u32,
        by: Actor,
    },
    Reject {
        id: String,
        version: u32,
        by: Actor,
    },
    SetShadow {
        on: bool,
        by: Actor,
    },
    Brake {
        engage: bool,
        by: Actor,
    },
    Shutdown,
}
