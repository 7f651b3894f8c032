//! heal: the playbook library. A playbook is a TOML file naming the finding it answers
//! (its trigger), the typed steps it takes from an allowlist, its risk tier, how its
//! outcome is verified and what undoes it. Parsing and validation are pure (`parse`,
//! `guard`); `library` gathers the built-in playbooks and the user's; `dry_run` says in
//! words what one would do; `cli` is `vigil playbook`. `diagnose` reads several signals
//! together, `guardrails` holds the loop's limits, `outcome` judges a verification and
//! `board` sums the loop's record. The engine wires incidents to playbooks
//! (`engine/incidents.rs`); nothing here acts on the world.

pub mod board;
pub mod cli;
pub mod config;
pub mod diagnose;
pub mod dry_run;
pub mod guard;
pub mod guardrails;
pub mod library;
pub mod outcome;
pub mod parse;
pub mod report;

pub use config::PlaybooksConfig;
pub use library::Library;
pub use parse::parse;

use std::path::PathBuf;
use std::time::Duration;

/// Which finding a playbook answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Trigger {
    ContainerExited,
    ContainerUnhealthy,
    RestartLoop,
    UnitFailed,
    DiskFilling,
    MemoryLeak,
    OomKill,
    CertExpiring,
    ConnectionsExhausted,
    CpuRunaway,
    /// A host series far from its own baseline (the per-series detector).
    Anomaly,
}

impl Trigger {
    pub const ALL: [Trigger; 11] = [
        Trigger::ContainerExited,
        Trigger::ContainerUnhealthy,
        Trigger::RestartLoop,
        Trigger::UnitFailed,
        Trigger::DiskFilling,
        Trigger::MemoryLeak,
        Trigger::OomKill,
        Trigger::CertExpiring,
        Trigger::ConnectionsExhausted,
        Trigger::CpuRunaway,
        Trigger::Anomaly,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Trigger::ContainerExited => "container-exited",
            Trigger::ContainerUnhealthy => "container-unhealthy",
            Trigger::RestartLoop => "restart-loop",
            Trigger::UnitFailed => "unit-failed",
            Trigger::DiskFilling => "disk-filling",
            Trigger::MemoryLeak => "memory-leak",
            Trigger::OomKill => "oom-kill",
            Trigger::CertExpiring => "cert-expiring",
            Trigger::ConnectionsExhausted => "connections-exhausted",
            Trigger::CpuRunaway => "cpu-runaway",
            Trigger::Anomaly => "anomaly",
        }
    }

    pub fn from_name(s: &str) -> Option<Trigger> {
        Trigger::ALL.into_iter().find(|t| t.name() == s)
    }
}

/// L1 runs by itself when the config allows every class of step it takes, L2 runs and
/// notifies, L3 waits for a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Risk {
    L1,
    L2,
    L3,
}

impl Risk {
    pub fn from_name(s: &str) -> Option<Risk> {
        match s {
            "L1" => Some(Risk::L1),
            "L2" => Some(Risk::L2),
            "L3" => Some(Risk::L3),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Risk::L1 => "L1",
            Risk::L2 => "L2",
            Risk::L3 => "L3",
        }
    }
}

/// How much a metric must move: in its own unit, or relative to its value before.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Improvement {
    By(f64),
    Percent(f64),
}

/// "`metric` must improve by `improves_by` within `within`".
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub metric: String,
    pub improves_by: Improvement,
    pub within: Duration,
}

/// The metrics a verification may name, beyond the host's own series: state read back
/// from the target. `true` when a higher value is better.
pub const TARGET_METRICS: &[(&str, bool)] = &[
    ("container_up", true),
    ("container_restarts", false),
    ("container_cpu_pct", false),
    ("container_mem_pct", false),
    ("unit_active", true),
    ("cert_days_left", true),
    ("connections_pct", false),
    ("oom_kills", false),
    // The target series' detector score now (0..1).
    ("anomaly_score", false),
    ("process_cpu_pct", false),
    ("container_healthy", true),
];

/// Whether a higher value of `metric` is better; None for a metric vigil does not know.
pub fn higher_is_better(metric: &str) -> Option<bool> {
    if crate::collect::Metric::from_name(metric).is_some() {
        return Some(false);
    }
    TARGET_METRICS
        .iter()
        .find(|(m, _)| *m == metric)
        .map(|(_, up)| *up)
}

/// One step, from the allowlist. Steps act on the incident's target; nothing in a step
/// is composed into a command line.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    RestartContainer,
    RecreateContainer,
    RestartUnit,
    DropPageCache,
    /// Files older than `older_than` under `paths` (each under a configured log root).
    DeleteLogs {
        older_than: Duration,
        paths: Vec<PathBuf>,
    },
    CompressLogs {
        older_than: Duration,
        paths: Vec<PathBuf>,
    },
    /// `journalctl --vacuum-size`, in bytes.
    JournalVacuum {
        max_size: u64,
    },
    /// Runs the configured command of that name (an argv array in the config).
    RenewCert {
        command: String,
    },
    /// A configured scale target (None: the incident's own) grows by `by` instances.
    ScaleOut {
        target: Option<String>,
        by: u32,
    },
    Notify {
        message: String,
    },
    Wait {
        duration: Duration,
    },
    Verify(Check),
}

/// The steps a playbook may name, as written in its file.
pub const STEP_NAMES: &[&str] = &[
    "restart-container",
    "recreate-container",
    "restart-unit",
    "drop-page-cache",
    "delete-logs",
    "compress-logs",
    "journal-vacuum",
    "renew-cert",
    "scale-out",
    "notify",
    "wait",
    "verify",
];

impl Step {
    /// The step's name as written in a playbook, which is also the class an operator
    /// allows in `playbooks.auto`.
    pub fn name(&self) -> &'static str {
        match self {
            Step::RestartContainer => "restart-container",
            Step::RecreateContainer => "recreate-container",
            Step::RestartUnit => "restart-unit",
            Step::DropPageCache => "drop-page-cache",
            Step::DeleteLogs { .. } => "delete-logs",
            Step::CompressLogs { .. } => "compress-logs",
            Step::JournalVacuum { .. } => "journal-vacuum",
            Step::RenewCert { .. } => "renew-cert",
            Step::ScaleOut { .. } => "scale-out",
            Step::Notify { .. } => "notify",
            Step::Wait { .. } => "wait",
            Step::Verify(_) => "verify",
        }
    }

    /// Whether the step changes anything (notify, wait and verify only look or tell).
    pub fn acts(&self) -> bool {
        !matches!(
            self,
            Step::Notify { .. } | Step::Wait { .. } | Step::Verify(_)
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Playbook {
    pub name: String,
    pub description: String,
    pub trigger: Trigger,
    pub risk: Risk,
    pub steps: Vec<Step>,
    pub verify: Check,
    /// Run when the verification fails; the incident is escalated either way.
    pub rollback: Vec<Step>,
    /// Where it came from: `<built-in>/NAME.toml` or the user's file.
    pub file: String,
}

impl Playbook {
    /// The classes of the steps that act, which `playbooks.auto` must all allow for an
    /// L1 playbook to run by itself.
    pub fn classes(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = self
            .steps
            .iter()
            .chain(&self.rollback)
            .filter(|s| s.acts())
            .map(Step::name)
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Whether it may run without a person under this config: L1 and L2 when every
    /// class it takes is allowed (L2 also notifies); L3 always waits. Secure by
    /// default: with `playbooks.auto` empty, everything waits.
    pub fn runs_unattended(&self, cfg: &PlaybooksConfig) -> bool {
        self.risk != Risk::L3
            && self
                .classes()
                .iter()
                .all(|c| cfg.auto.iter().any(|a| a == c))
    }
}
