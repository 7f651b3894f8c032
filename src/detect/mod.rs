//! detect: samples (and forecasts) → findings. Pure functions and small state machines
//! fed one sample at a time, like `forecast/`: the live engine and `vigil backtest
//! detect` drive the same code, so what is measured is what runs.
//!
//! - `baseline`: a dynamic baseline per series (recent level or the same time on past
//!   days, whichever has been closer lately), robust (medians and MADs), scoring every
//!   sample against its own past deviations;
//! - `forest`: an isolation forest over several series together (CPU, memory, disk,
//!   network), refitted on a trailing window;
//! - `series`: the per-series detector the backtest and the engine run: baseline and
//!   forest scores fused, one alert per incident;
//! - `shape`: changes of shape within the usual range (a value stuck or flat for longer
//!   than ever before, a series that starts to oscillate);
//! - `checks`: state and trend checks (disk above a threshold and filling, a steady
//!   memory leak, connection exhaustion);
//! - `state`: rises of cumulative counters within a window (a container's restart
//!   count, the kernel's OOM kills);
//! - `window`: the bounded sorted window the medians and quantiles come from.

pub mod baseline;
pub mod checks;
pub mod forest;
pub mod series;
pub mod shape;
pub mod state;
pub mod window;

use serde::{Deserialize, Serialize};

/// What kind of problem a finding names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// A sample far from the series' own baseline (a spike, a drop, a level shift).
    Anomaly,
    /// Several series together in a combination not seen before.
    Multivariate,
    /// A filesystem above its threshold and forecast to fill soon.
    DiskFilling,
    /// Memory growing steadily.
    MemoryLeak,
    /// Connections close to their limit.
    ConnectionExhaustion,
}

/// One number behind a finding, named, so an operator (or an LLM asked for a note)
/// can cite it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub name: String,
    pub value: f64,
}

/// A problem detected, with the numbers that show it and when it started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub kind: FindingKind,
    /// The series (or mount, or service) it is about.
    pub subject: String,
    /// Unix ms of the sample that raised it.
    pub at: i64,
    /// Unix ms when the problem began, as far as the history shows.
    pub started: i64,
    /// 0..1: how far out of the ordinary.
    pub score: f64,
    pub evidence: Vec<Evidence>,
}

impl Finding {
    pub fn evidence(&self, name: &str) -> Option<f64> {
        self.evidence
            .iter()
            .find(|e| e.name == name)
            .map(|e| e.value)
    }
}

pub(crate) fn ev(name: &str, value: f64) -> Evidence {
    Evidence {
        name: name.to_string(),
        value,
    }
}
