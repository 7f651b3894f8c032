//! The approval board as consoles and scripts see it: records of the protocol's own, so
//! what crosses the socket (and what `vigil proposals --json` prints) is the protocol's
//! shape, not the queue's or the planner's. A field renamed inside the engine then breaks
//! no attached console of the same protocol version; the engine converts at the seam
//! (`engine/view.rs`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Risk {
    Low,
    Medium,
    High,
}

/// Where a proposal is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Waiting for a person.
    Pending,
    Approved,
    Rejected,
    /// Nobody answered in time: denied.
    Expired,
    /// A newer version replaced it before anyone answered.
    Superseded,
    Running,
    Done,
    Failed,
    /// Approved in shadow mode: recorded as what would have run.
    Shadowed,
    /// Approved while the brake was on: nothing ran.
    Braked,
    Verified,
    Unverified,
}

impl State {
    /// The word the screen and the scripts use: exactly the queue's.
    pub fn name(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Approved => "approved",
            State::Rejected => "rejected",
            State::Expired => "expired",
            State::Superseded => "superseded",
            State::Running => "running",
            State::Done => "done",
            State::Failed => "failed",
            State::Shadowed => "shadowed",
            State::Braked => "braked",
            State::Verified => "verified",
            State::Unverified => "unverified",
        }
    }
}

/// What would run if the proposal is approved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    Scale {
        target: String,
        to: usize,
    },
    Resize {
        target: String,
        cpus: f64,
        memory_mib: u64,
    },
    Restart {
        container: String,
    },
    Recreate {
        container: String,
    },
}

impl Action {
    /// The class auto-approval rules and notifications name.
    pub fn class(&self, from: usize) -> &'static str {
        match self {
            Action::Scale { to, .. } if *to < from => "scale-in",
            Action::Scale { .. } => "scale-out",
            Action::Resize { .. } => "resize",
            Action::Restart { .. } => "restart",
            Action::Recreate { .. } => "recreate",
        }
    }

    /// Which group or container it touches: the name a typed confirmation must repeat.
    pub fn subject(&self) -> &str {
        match self {
            Action::Scale { target, .. } | Action::Resize { target, .. } => target,
            Action::Restart { container } | Action::Recreate { container } => container,
        }
    }
}

/// One proposal, with everything the operator weighs before answering it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    /// Stable per target: a changed proposal keeps its id and gets a new version.
    pub id: String,
    pub version: u32,
    pub target: String,
    /// The series that measures the target's load.
    pub metric: String,
    /// Load one instance carries at the target utilisation.
    pub planned_per_instance: f64,
    pub from: usize,
    pub to: usize,
    /// A vertical proposal: the size every instance would get.
    pub resize: Option<String>,
    /// The planner's rule that fired ("predictive", "emergency", …).
    pub rule: String,
    pub load: f64,
    pub utilisation: f64,
    /// The forecast's upper bound that motivated it (at `quantile`), and when.
    pub p90: Option<f64>,
    pub p90_at: Option<i64>,
    pub quantile: Option<f64>,
    /// Width of the 80 % band there, in the metric's unit.
    pub band_width: Option<f64>,
    pub model: Option<String>,
    pub mase: Option<f64>,
    pub boot_secs: u64,
    pub risk: Risk,
    pub cost_per_hour: f64,
    pub cost_per_month: f64,
    pub currency: String,
    /// Why a person must approve it; None: rules may approve it.
    pub manual: Option<String>,
    pub created: i64,
    pub action: Action,
    /// For heal and rollback proposals: what happened, in words.
    pub reason: Option<String>,
    /// The one line that says it all ("web: 3 → 6 instances, +¥1.20/h, …"), in the
    /// engine's words, as the webhooks and the audit log say it.
    pub summary: String,
}

impl Proposal {
    pub fn class(&self) -> &'static str {
        self.action.class(self.from)
    }
}

/// One line of the approval board.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub proposal: Proposal,
    pub state: State,
    pub updated: i64,
    /// Unanswered past this (unix ms), it is denied.
    pub expires: i64,
    /// Who answered it.
    pub by: Option<String>,
    pub note: Option<String>,
}
