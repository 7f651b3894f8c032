//! An isolation forest over several series together (extended-isolation-forest, the
//! classic axis-parallel variant): a combination of values that is easy to isolate from
//! the trailing window's points is unusual even when each value alone is ordinary (CPU
//! busy with no network traffic, memory full while CPU idles).
//!
//! The forest is refitted every `refit_every` points on the latest `train` points;
//! every point is scored by the forest fitted on points before it only. Its raw score
//! (0.5 is ordinary, towards 1 isolated) is then judged like the baseline's deviations:
//! against the high quantile of its own past scores.

use super::window::SortedWindow;
use crate::collect::HostSample;
use extended_isolation_forest::{Forest, ForestOptions};
use std::collections::VecDeque;

#[derive(Debug, Clone, PartialEq)]
pub struct ForestConfig {
    /// Latest points the forest is fitted on.
    pub train: usize,
    /// Points between refits.
    pub refit_every: usize,
    pub trees: usize,
    /// Points each tree is built from.
    pub sample: usize,
    /// Past scores the novelty is judged against, and the quantile of them it is
    /// divided by.
    pub tail_window: usize,
    pub tail_q: f64,
}

impl Default for ForestConfig {
    fn default() -> Self {
        ForestConfig {
            train: 2_016,
            refit_every: 288,
            trees: 100,
            sample: 256,
            tail_window: 2_016,
            tail_q: 0.99,
        }
    }
}

/// One point's multivariate score.
#[derive(Debug, Clone, PartialEq)]
pub struct ForestScore {
    /// The forest's anomaly score, 0..1 (about 0.5 for an ordinary point).
    pub raw: f64,
    /// How far above the median of its own past scores, in units of (tail quantile −
    /// median): above 1 is rarer than all but 1 % of the past. None before the forest
    /// and its tail have warmed up.
    pub novelty: Option<f64>,
    /// The dimension furthest from its training median, in robust units (MADs): the
    /// one to name first in the evidence.
    pub lead: usize,
    pub lead_z: f64,
}

pub struct Multivariate<const N: usize> {
    cfg: ForestConfig,
    buf: VecDeque<[f64; N]>,
    forest: Option<Forest<f64, N>>,
    /// Per-dimension median and MAD of the training points at the last fit.
    centre: [(f64, f64); N],
    since_fit: usize,
    scores: SortedWindow,
}

impl<const N: usize> Multivariate<N> {
    pub fn new(cfg: ForestConfig) -> Self {
        Multivariate {
            buf: VecDeque::with_capacity(cfg.train.min(100_000)),
            forest: None,
            centre: [(0.0, 1.0); N],
            since_fit: 0,
            scores: SortedWindow::new(cfg.tail_window),
            cfg,
        }
    }

    /// Scores a point against the forest fitted on the points before it, then keeps
    /// it for the next fit. A point with a non-finite value is skipped (None).
    pub fn push(&mut self, x: [f64; N]) -> Option<ForestScore> {
        if x.iter().any(|v| !v.is_finite()) {
            return None;
        }
        if self.forest.is_none() || self.since_fit >= self.cfg.refit_every {
            self.refit();
        }
        let point = self.squash(&x);
        let raw = self.forest.as_ref().map(|f| f.score(&point));
        let out = raw.map(|raw| {
            let novelty = (self.scores.len() >= self.cfg.refit_every.min(self.cfg.tail_window))
                .then(|| {
                    let med = self.scores.median()?;
                    let q = self.scores.quantile(self.cfg.tail_q)?;
                    Some(((raw - med) / (q - med).max(1e-6)).max(0.0))
                })
                .flatten();
            let (lead, lead_z) = self
                .centre
                .iter()
                .zip(x.iter())
                .map(|((m, s), v)| (v - m) / s.max(1e-9))
                .enumerate()
                .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
                .unwrap_or((0, 0.0));
            self.scores.push(raw);
            ForestScore {
                raw,
                novelty,
                lead,
                lead_z,
            }
        });
        self.buf.push_back(x);
        while self.buf.len() > self.cfg.train.max(1) {
            self.buf.pop_front();
        }
        self.since_fit += 1;
        out
    }

    /// A point as the forest sees it: robust z-scores against the training window,
    /// compressed logarithmically and rounded to 1/32. Why rounded: the forest draws
    /// each split with `rand`'s `Uniform::new(lo, hi)`, which shrinks its range one
    /// ULP at a time while `lo + range` rounds to `hi` — billions of steps when two
    /// training values differ in the last bits of a large number (measured: minutes
    /// on a noiseless daily sine). On this bounded grid it is a few steps at most.
    fn squash(&self, x: &[f64; N]) -> [f64; N] {
        let mut out = [0.0; N];
        for ((o, v), (m, s)) in out.iter_mut().zip(x.iter()).zip(self.centre.iter()) {
            let z = (v - m) / s;
            let l = z.signum() * z.abs().ln_1p();
            *o = (l.clamp(-32.0, 32.0) * 32.0).round() / 32.0;
        }
        out
    }

    /// Fits on the trailing window once it holds enough points for one tree.
    fn refit(&mut self) {
        let n = self.buf.len();
        let sample = self.cfg.sample.min(n);
        if sample < 16 {
            return;
        }
        for (d, c) in self.centre.iter_mut().enumerate() {
            let mut col: Vec<f64> = self.buf.iter().map(|p| p[d]).collect();
            col.sort_by(f64::total_cmp);
            let m = super::window::quantile_sorted(&col, 0.5).unwrap_or(0.0);
            let mut dev: Vec<f64> = col.iter().map(|v| (v - m).abs()).collect();
            dev.sort_by(f64::total_cmp);
            let mad = super::window::quantile_sorted(&dev, 0.5).unwrap_or(0.0);
            *c = (m, (mad * 1.4826).max(m.abs() * 1e-3).max(1e-9));
        }
        let data: Vec<[f64; N]> = self.buf.iter().map(|p| self.squash(p)).collect();
        let opts = ForestOptions {
            n_trees: self.cfg.trees.clamp(1, 1_000),
            sample_size: sample,
            max_tree_depth: None,
            extension_level: 0,
        };
        if let Ok(f) = Forest::from_slice(&data, &opts) {
            self.forest = Some(f);
            self.since_fit = 0;
        }
    }
}

/// The host series the multivariate detector watches, in this order.
pub const HOST_SERIES: [&str; 4] = ["cpu_pct", "mem_pct", "disk_used_pct", "net_rx_bps"];

/// A host sample as the multivariate detector's point.
pub fn host_point(s: &HostSample) -> [f64; 4] {
    [
        s.cpu_pct,
        s.mem_pct(),
        s.fullest_fs().map_or(0.0, |f| f.used_pct()),
        s.net_rx_bps(),
    ]
}
