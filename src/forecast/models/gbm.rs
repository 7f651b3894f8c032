use crate::forecast::{History, Model};
use forust_ml::Matrix;
use forust_ml::binning::bin_matrix;
use forust_ml::constraints::ConstraintMap;
use forust_ml::gradientbooster::GrowPolicy;
use forust_ml::sampler::SampleMethod;
use forust_ml::splitter::MissingImputerSplitter;
use forust_ml::tree::Tree;

use super::forest::Forest;

/// Gradient-boosted trees (forust-ml's tree grower), one model per horizon (the direct
/// strategy). Trees cannot extrapolate past the levels they were trained on, so the
/// target is the change from the last value and every level feature is relative to it:
/// a load that shifts to a level never seen keeps its learned shape around the new
/// level. Load has spikes and MASE is an absolute error: the boosting minimises the
/// absolute error as LightGBM's `l1` objective does (`fit_l1`), which forust's own
/// booster (squared or log loss only) cannot.
#[derive(Default)]
pub struct Gbm {
    boosters: Vec<(usize, Forest)>,
}

/// Lags y[t−1..t−23] relative to y[t].
const LAGS: usize = 23;
/// The short rolling window (an hour on 5-minute samples).
const SHORT: usize = 12;
/// Points fitted on: two weeks of 5-minute samples, or a week of minutes. Enough for
/// the daily shape a few times over, little enough for a fit well inside its budget.
const WINDOW_5MIN: usize = 4032;
const WINDOW_1MIN: usize = 10_080;
/// Refits a day (see `refit_every`).
const REFITS_A_DAY: usize = 4;
/// Rows that make a fit worth doing: a little over a day of 5-minute samples.
const MIN_ROWS: usize = 300;
/// LightGBM's settings in the peer the model is measured against: 300 rounds at 0.05,
/// 31 leaves grown best-first, 20 rows a leaf, 0.8 of rows and features per tree.
const ROUNDS: usize = 300;
const LEARNING_RATE: f32 = 0.05;
const LEAVES: usize = 31;
const MIN_LEAF: f32 = 20.0;
const FRACTION: f32 = 0.8;
/// Histogram bins per feature (forust's and LightGBM's default is about this).
const BINS: u16 = 256;
/// Depth is bounded by the leaves; this only stops a degenerate chain.
const MAX_DEPTH: usize = 12;
pub const FEATURES: usize = LAGS + 4 + 2 + 2;

/// Prefix sums of y and y² (shifted by y[0] to keep precision on large values), for
/// rolling means and deviations in O(1).
struct Prefix {
    shift: f64,
    s1: Vec<f64>,
    s2: Vec<f64>,
}

impl Prefix {
    fn new(y: &[f64]) -> Prefix {
        let shift = y.first().copied().unwrap_or(0.0);
        let mut s1 = Vec::with_capacity(y.len() + 1);
        let mut s2 = Vec::with_capacity(y.len() + 1);
        let (mut a, mut b) = (0.0, 0.0);
        s1.push(0.0);
        s2.push(0.0);
        for v in y {
            let d = v - shift;
            a += d;
            b += d * d;
            s1.push(a);
            s2.push(b);
        }
        Prefix { shift, s1, s2 }
    }

    /// Mean and standard deviation of y[t+1−w ..= t] (fewer points near the start).
    fn mean_std(&self, t: usize, w: usize) -> (f64, f64) {
        let from = (t + 1).saturating_sub(w);
        let k = (t + 1 - from) as f64;
        let m = (self.s1[t + 1] - self.s1[from]) / k;
        let var = ((self.s2[t + 1] - self.s2[from]) / k - m * m).max(0.0);
        (m + self.shift, var.sqrt())
    }
}

/// Rolling mean and deviation over the short window and over a day, ending at `t`.
fn rolling(p: &Prefix, t: usize, day: usize) -> [f64; 4] {
    let (m1, s1) = p.mean_std(t, SHORT);
    let (m2, s2) = p.mean_std(t, day);
    [m1, s1, m2, s2]
}

/// The features at origin `t` for a target `s` steps ahead, relative to y[t].
#[allow(clippy::too_many_arguments)]
fn features(
    y: &[f64],
    roll: [f64; 4],
    t: usize,
    s: usize,
    start: i64,
    step: i64,
    day: usize,
    out: &mut Vec<f64>,
) {
    out.clear();
    let now = y[t];
    for k in 1..=LAGS {
        out.push(if k <= t { y[t - k] - now } else { f64::NAN });
    }
    out.extend([roll[0] - now, roll[1], roll[2] - now, roll[3]]);
    // The value a day and a week before the target, where the history reaches back.
    for back in [day, 7 * day] {
        out.push(if t + s >= back {
            y[t + s - back] - now
        } else {
            f64::NAN
        });
    }
    let ts = start + (t + s) as i64 * step;
    out.push(ts.rem_euclid(86_400_000) as f64 / 3_600_000.0);
    // Unix day 0 was a Thursday: 0 = Monday.
    out.push(((ts.div_euclid(86_400_000) + 3).rem_euclid(7)) as f64);
}

/// A seeded generator for the row and feature sampling (SplitMix64): the same fit from
/// the same history, live and in backtests.
struct Sampler(u64);

impl Sampler {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn uniform(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// The median of `v` (reordered), 0 for none.
fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mid = v.len() / 2;
    let (_, m, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    *m
}

/// Boosting towards the least absolute error, as LightGBM's `l1` objective does it: each
/// round grows a tree (forust's grower, best-first) on the gradient of |r| — the sign of
/// each residual, unit hessians, so a leaf needs `MIN_LEAF` rows — on 80 % of the rows and
/// of the features, then sets each leaf to the median residual of its rows times the
/// learning rate. A spike moves a median by one row, not a whole leaf by its size.
/// `data` is column-major, `rows` × `FEATURES`.
fn fit_l1(data: &[f64], rows: usize, target: &[f64], seed: u64) -> Option<Forest> {
    let m = Matrix::new(data, rows, FEATURES);
    let binned = bin_matrix(&m, &vec![1.0; rows], BINS, f64::NAN, false).ok()?;
    let bins = Matrix::new(&binned.binned_data, rows, FEATURES);
    let splitter = MissingImputerSplitter::new(
        0.0,
        0.0,
        0.0,
        0.0,
        MIN_LEAF,
        LEARNING_RATE,
        true,
        ConstraintMap::new(),
    );
    let base = median(&mut target.to_vec());
    let mut yhat = vec![base; rows];
    let mut resid = vec![0.0; rows];
    let mut grad = vec![0.0f32; rows];
    let hess = vec![1.0f32; rows];
    let mut rng = Sampler(seed);
    let mut trees = Vec::with_capacity(ROUNDS);
    let keep_cols = ((FEATURES as f32 * FRACTION).floor() as usize).max(1);
    let mut scratch = Vec::new();
    for _ in 0..ROUNDS {
        for i in 0..rows {
            resid[i] = target[i] - yhat[i];
            grad[i] = if resid[i] > 0.0 {
                -1.0
            } else if resid[i] < 0.0 {
                1.0
            } else {
                0.0
            };
        }
        let index: Vec<usize> = (0..rows).filter(|_| rng.uniform() < FRACTION).collect();
        // A partial Fisher-Yates shuffle picks the features of this tree.
        let mut cols: Vec<usize> = (0..FEATURES).collect();
        for i in 0..keep_cols {
            let j = i + (rng.next() % (FEATURES - i) as u64) as usize;
            cols.swap(i, j);
        }
        cols.truncate(keep_cols);
        cols.sort_unstable();
        let mut tree = Tree::new();
        let Some(leaf_rows) = tree.fit(
            &bins,
            index,
            &cols,
            &binned.cuts,
            &grad,
            &hess,
            &splitter,
            LEAVES,
            MAX_DEPTH,
            false,
            &SampleMethod::Random,
            &GrowPolicy::LossGuide,
        ) else {
            continue;
        };
        let renewed: Vec<(usize, f32)> = leaf_rows
            .leaves(&tree)
            .map(|(rows_in, _)| {
                scratch.clear();
                scratch.extend(rows_in.iter().map(|&r| resid[r]));
                (LEARNING_RATE as f64 * median(&mut scratch)) as f32
            })
            .zip(tree.nodes.iter().filter(|n| n.is_leaf).map(|n| n.num))
            .map(|(w, num)| (num, w))
            .collect();
        for (num, w) in renewed {
            if let Some(n) = tree.nodes.iter_mut().find(|n| n.num == num) {
                n.weight_value = w;
            }
        }
        for (y, p) in yhat.iter_mut().zip(tree.predict(&m, false, &f64::NAN)) {
            *y += p;
        }
        trees.push(tree);
    }
    Forest::from_trees(base, &trees)
}

impl Gbm {
    fn window(h: &History) -> usize {
        Self::window_for(h.step)
    }

    fn window_for(step_ms: i64) -> usize {
        if step_ms <= 60_000 {
            WINDOW_1MIN
        } else {
            WINDOW_5MIN
        }
    }

    /// History worth keeping on a grid of `step_ms`: the fitting window and the week
    /// before its first row (the week-old feature).
    pub fn history_kept(step_ms: i64) -> usize {
        let week = if step_ms > 0 && 86_400_000 % step_ms == 0 {
            7 * (86_400_000 / step_ms) as usize
        } else {
            7 * 288
        };
        Self::window_for(step_ms) + week
    }

    /// Steps in a day, or a 5-minute day when the interval does not divide one.
    fn day(h: &History) -> usize {
        h.day().unwrap_or(288).max(1)
    }
}

impl Gbm {
    /// Bytes held by the fitted trees, for the memory budget.
    pub fn bytes(&self) -> usize {
        self.boosters.iter().map(|(_, f)| f.bytes()).sum()
    }
}

impl Model for Gbm {
    fn name(&self) -> &'static str {
        "gbm"
    }

    fn min_history(&self, _h: &History) -> usize {
        MIN_ROWS + LAGS + 12
    }

    /// Every quarter of a day of new samples. Trees fitted on the last six hours too
    /// follow a load whose regime moved since the morning (the peer's once a day was
    /// measured 3 % worse a step ahead, up to 14 % on bursty series), and four refits a
    /// day still cost under half of the 0.1 % of a core a series may spend on them
    /// (`cargo bench --bench forecast -- gbm`); hourly would be over it.
    fn refit_every(&self, h: &History) -> Option<usize> {
        Some((Self::day(h) / REFITS_A_DAY).max(1))
    }

    fn slow_fit(&self) -> bool {
        true
    }

    fn fit(&mut self, h: &History, horizons: &[usize]) {
        let n = h.len();
        if n < self.min_history(h) {
            return;
        }
        let day = Self::day(h);
        let first = n.saturating_sub(Self::window(h));
        let y = &h.values[first..];
        let start = h.ts(first);
        let p = Prefix::new(y);
        let mut fitted = Vec::new();
        let mut f = Vec::with_capacity(FEATURES);
        for &s in horizons {
            let rows = y.len().saturating_sub(s + LAGS);
            if rows < MIN_ROWS {
                continue;
            }
            // forust's Matrix is column-major.
            let mut data = vec![0.0; rows * FEATURES];
            let mut target = Vec::with_capacity(rows);
            for (r, t) in (LAGS..LAGS + rows).enumerate() {
                features(y, rolling(&p, t, day), t, s, start, h.step, day, &mut f);
                for (c, v) in f.iter().enumerate() {
                    data[c * rows + r] = *v;
                }
                target.push(y[t + s] - y[t]);
            }
            if let Some(forest) = fit_l1(&data, rows, &target, s as u64) {
                fitted.push((s, forest));
            }
        }
        self.boosters = fitted;
    }

    fn predict(&self, h: &History, horizons: &[usize]) -> Option<Vec<f64>> {
        if self.boosters.is_empty() || h.len() < LAGS + 1 {
            return None;
        }
        let day = Self::day(h);
        // Only the last day is needed for the features, and the week-old value.
        let keep = (7 * day + 1).min(h.len());
        let first = h.len() - keep;
        let y = &h.values[first..];
        let p = Prefix::new(&y[y.len().saturating_sub(day + 1)..]);
        let roll = rolling(&p, p.s1.len() - 2, day);
        let t = y.len() - 1;
        let start = h.ts(first);
        let mut f = Vec::with_capacity(FEATURES);
        horizons
            .iter()
            .map(|&s| {
                let (_, b) = self.boosters.iter().min_by_key(|(fs, _)| fs.abs_diff(s))?;
                features(y, roll, t, s, start, h.step, day, &mut f);
                let delta = b.predict(&f);
                let v = y[t] + delta;
                v.is_finite().then_some(v)
            })
            .collect()
    }
}
