//! execute: decisions → outcomes. Every executor is reached through the one [`Gate`],
//! which holds shadow mode and the brake and writes the intent to the audit log before
//! anything touches the world.

mod brake;
pub mod docker;
mod gate;
pub mod huawei;

pub use brake::{Brake, BrakeState};
pub use gate::{AuditSink, Decision, Gate, GateResult};

use crate::config::TargetKind;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

/// What an executor may do: typed and allowlisted, never a command line. A scale says
/// the count wanted ("6 replicas"), never a delta, so a retry cannot double-act.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    Scale {
        target: String,
        kind: TargetKind,
        to: usize,
    },
    /// New CPU (cores) and memory (MiB) limits for every member of a group, in place.
    Resize {
        target: String,
        cpus: f64,
        memory_mib: u64,
    },
    Restart {
        container: String,
    },
    /// Remove the container and create it again from its image and settings.
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

    /// Which group or container it touches.
    pub fn subject(&self) -> &str {
        match self {
            Action::Scale { target, .. } | Action::Resize { target, .. } => target,
            Action::Restart { container } | Action::Recreate { container } => container,
        }
    }
}

/// What an executor did, read back from the world.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub summary: String,
    /// Instances or replicas running before and after.
    pub from: usize,
    pub to: usize,
    pub created: Vec<String>,
    pub removed: Vec<String>,
    /// From the start of the action to every new member ready.
    pub ready_ms: u64,
    /// A cloud action's long operation (a scaling activity, an ECS job), so that a
    /// restarted engine reconciles it instead of starting it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExecError {
    #[error("the Docker engine at {socket} does not answer: {reason}")]
    Unreachable { socket: String, reason: String },
    #[error("{0} not found")]
    NotFound(String),
    #[error("not ready in time: {0}")]
    Timeout(String),
    #[error("{0}")]
    Refused(String),
    #[error("docker: {0}")]
    Engine(String),
    #[error("Huawei Cloud: {0}")]
    Cloud(String),
}

/// What a restart found of an action a kill interrupted after its intent was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// The world is as the action promised: it completed (verification follows).
    Completed(String),
    /// It is not: the action is marked failed with this reason, never run again.
    Interrupted(String),
}

/// Where a long cloud operation's id goes the moment the backend accepted the request:
/// the engine stores it with the queue entry, and the returned future resolves once it
/// is stored, so the executor waits on the operation only after a restart could find it.
pub type OperationSink = Box<dyn Fn(String) -> BoxFuture<'static, ()> + Send + Sync>;

/// A sink for callers that keep nothing (a one-shot command, a test).
pub fn no_sink() -> OperationSink {
    Box::new(|_| Box::pin(async {}))
}

/// One backend per target kind (Docker, Huawei Cloud). Reads the actual state before
/// acting.
pub trait Executor: Send + Sync {
    fn name(&self) -> &'static str;
    fn apply<'a>(&'a self, action: &'a Action) -> BoxFuture<'a, Result<Outcome, ExecError>>;
    /// `apply`, telling `accepted` the long operation's id as soon as it is known. A
    /// backend whose actions are short (Docker) has none to tell.
    fn apply_tracked<'a>(
        &'a self,
        action: &'a Action,
        accepted: &'a OperationSink,
    ) -> BoxFuture<'a, Result<Outcome, ExecError>> {
        let _ = accepted;
        self.apply(action)
    }
    /// Whether the state the action promised holds now; the error says what is missing.
    fn check<'a>(&'a self, action: &'a Action) -> BoxFuture<'a, Result<(), String>>;
}
