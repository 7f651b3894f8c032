//! The engine's forecasts: key series averaged onto a one-minute grid and fed to a
//! forecaster each; refits are handed out as jobs for a blocking thread, so the tick
//! never waits for one.

use crate::collect::{HostSample, Metric};
use crate::forecast::{Fitted, Forecast, Forecaster, ForecasterConfig, RefitJob};
use crate::sim::trace::fill_gaps;
use std::collections::BTreeMap;

pub const METRICS: [Metric; 4] = [Metric::Cpu, Metric::Mem, Metric::DiskUsed, Metric::NetRx];
/// Minutes ahead: 15 min and 1 h for the operator, the others draw the path.
pub const HORIZONS: [usize; 5] = [1, 5, 15, 30, 60];
pub const STEP_MS: i64 = 60_000;
/// Points fed through the forecaster at start-up so that model records and bands exist.
const WARM_TAIL: usize = 600;

pub struct Forecasts {
    by_metric: BTreeMap<Metric, Forecaster>,
    /// The minute being averaged: (its start, sums per metric, samples).
    minute: Option<(i64, [f64; 4], usize)>,
    last_minute: Option<i64>,
    pub latest: BTreeMap<Metric, Forecast>,
    /// The minute closed last and its means, in `METRICS` order (the anomaly
    /// detectors are fed from the same grid).
    pub closed: Option<(i64, [f64; 4])>,
}

/// The forecasters' configuration: the one the backtests use on a one-minute grid.
pub fn config(boot_ms: i64) -> ForecasterConfig {
    ForecasterConfig::for_grid(
        HORIZONS.to_vec(),
        STEP_MS,
        crate::plan::scaling::plan_quantile(STEP_MS, boot_ms),
    )
}

/// Points (ts, value) averaged per minute from `start` to the minute before `end`,
/// gaps interpolated.
pub fn minute_grid(points: &[(i64, f64)], end: i64) -> (i64, Vec<f64>) {
    let Some(&(first, _)) = points.first() else {
        return (end, Vec::new());
    };
    let start = first.div_euclid(STEP_MS) * STEP_MS;
    let n = ((end.div_euclid(STEP_MS) * STEP_MS - start) / STEP_MS).max(0) as usize;
    let mut sums = vec![(0.0, 0usize); n];
    for &(t, v) in points {
        let i = ((t - start) / STEP_MS) as usize;
        if i < n && v.is_finite() {
            sums[i].0 += v;
            sums[i].1 += 1;
        }
    }
    let mut values: Vec<f64> = sums
        .iter()
        .map(|&(s, k)| if k > 0 { s / k as f64 } else { f64::NAN })
        .collect();
    fill_gaps(&mut values);
    (start, values)
}

impl Forecasts {
    /// Starts from stored history (any resolution), so forecasts are there at once.
    /// `boot_ms`, the longest boot of the scale targets, sets the quantile they plan at.
    pub fn warm(history: &BTreeMap<Metric, Vec<(i64, f64)>>, now: i64, boot_ms: i64) -> Forecasts {
        let mut by_metric = BTreeMap::new();
        let mut latest = BTreeMap::new();
        let mut last_minute = None;
        for m in METRICS {
            let points = history.get(&m).map(Vec::as_slice).unwrap_or(&[]);
            let (start, values) = minute_grid(points, now);
            let mut f = Forecaster::new(config(boot_ms), start, STEP_MS);
            let split = values.len().saturating_sub(WARM_TAIL);
            f.extend_quietly(&values[..split]);
            // The quick models now; the trees' first fit (seconds) is the first
            // background refit, so start-up never waits for it.
            if !values.is_empty() {
                f.refit_quick();
            }
            for &v in &values[split..] {
                f.refit_quick();
                latest.insert(m, f.push(v));
            }
            if !values.is_empty() {
                last_minute = Some(start + (values.len() as i64 - 1) * STEP_MS);
            }
            by_metric.insert(m, f);
        }
        Forecasts {
            by_metric,
            minute: None,
            last_minute,
            latest,
            closed: None,
        }
    }

    /// Takes a sample; returns true when a minute closed and the forecasts moved.
    pub fn observe(&mut self, s: &HostSample) -> bool {
        let minute = s.ts.div_euclid(STEP_MS) * STEP_MS;
        let values = METRICS.map(|m| s.value(m));
        let mut changed = false;
        match &mut self.minute {
            Some((start, sums, k)) if *start == minute => {
                for (a, v) in sums.iter_mut().zip(values) {
                    *a += v;
                }
                *k += 1;
            }
            _ => {
                if let Some((start, sums, k)) = self.minute.take() {
                    self.close_minute(start, sums.map(|x| x / k as f64));
                    changed = true;
                }
                self.minute = Some((minute, values, 1));
            }
        }
        changed
    }

    fn close_minute(&mut self, start: i64, avg: [f64; 4]) {
        // Minutes with no sample (a pause, a suspended host) repeat the last value, up
        // to an hour; after longer, the grid simply continues.
        let missing = self
            .last_minute
            .map(|l| ((start - l) / STEP_MS - 1).clamp(0, 60))
            .unwrap_or(0);
        for (i, m) in METRICS.iter().enumerate() {
            if let Some(f) = self.by_metric.get_mut(m) {
                for _ in 0..missing {
                    f.push(avg[i]);
                }
                self.latest.insert(*m, f.push(avg[i]));
            }
        }
        self.last_minute = Some(start);
        self.closed = Some((start, avg));
    }

    /// Refits that are due, to be run by `run_jobs` on a blocking thread.
    pub fn refit_jobs(&mut self) -> Vec<(Metric, RefitJob)> {
        self.by_metric
            .iter_mut()
            .filter(|(_, f)| f.needs_refit())
            .map(|(m, f)| (*m, f.refit_job()))
            .collect()
    }

    pub fn install(&mut self, fitted: Vec<(Metric, Fitted)>) {
        for (m, models) in fitted {
            if let Some(f) = self.by_metric.get_mut(&m) {
                f.install(models);
            }
        }
    }
}

pub fn run_jobs(jobs: Vec<(Metric, RefitJob)>) -> Vec<(Metric, Fitted)> {
    jobs.into_iter().map(|(m, j)| (m, j.run())).collect()
}
