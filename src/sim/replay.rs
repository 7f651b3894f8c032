//! `vigil --replay TRACE.csv --speed 60`: the live engine driven by a trace on a
//! simulated clock, so forecasts can be watched without waiting a week.

use super::trace::Trace;
use crate::collect::HostSample;
use crate::engine::Clock;
use std::time::Instant;

/// Time that runs `speed` times faster than the wall, from a chosen start.
pub struct ReplayClock {
    origin: i64,
    wall: Instant,
    speed: f64,
}

impl ReplayClock {
    pub fn new(origin: i64, speed: f64) -> Self {
        ReplayClock {
            origin,
            wall: Instant::now(),
            speed: speed.max(0.001),
        }
    }
}

impl Clock for ReplayClock {
    fn now_ms(&self) -> i64 {
        self.origin + (self.wall.elapsed().as_secs_f64() * 1000.0 * self.speed) as i64
    }
}

pub struct Replay {
    pub name: String,
    pub trace: Trace,
}

impl Replay {
    /// Where the replay starts: after two days of history (or 30 % of the trace), so
    /// the forecasts have something to learn from on the first frame.
    pub fn start(&self) -> i64 {
        let two_days = self.trace.steps_per_day().map(|d| 2 * d).unwrap_or(0);
        let i = two_days
            .max(self.trace.len() * 3 / 10)
            .min(self.trace.len().saturating_sub(1));
        self.trace.ts(i)
    }

    /// The trace's points before `t`, as history.
    pub fn before(&self, t: i64) -> Vec<(i64, f64)> {
        (0..self.trace.len())
            .map(|i| (self.trace.ts(i), self.trace.values[i]))
            .take_while(|&(ts, _)| ts < t)
            .collect()
    }

    /// The trace's value at `t`, interpolated; None past its end.
    pub fn value_at(&self, t: i64) -> Option<f64> {
        let x = (t - self.trace.start) as f64 / self.trace.step as f64;
        if x < 0.0 || x > (self.trace.len() - 1) as f64 {
            return None;
        }
        let i = x.floor() as usize;
        let f = x - i as f64;
        let a = self.trace.values[i];
        let b = self.trace.values.get(i + 1).copied().unwrap_or(a);
        Some(a + f * (b - a))
    }

    /// A sample whose load (shown as CPU) is the trace's value.
    pub fn sample(&self, t: i64) -> Option<HostSample> {
        let v = self.value_at(t)?;
        Some(HostSample {
            ts: t,
            cpu_pct: v,
            cpu_per_core: vec![v],
            ..HostSample::default()
        })
    }
}
