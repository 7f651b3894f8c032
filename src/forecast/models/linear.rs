use crate::forecast::{History, Model};
use linfa::prelude::*;
use linfa_linear::LinearRegression;
use ndarray::{Array1, Array2};

/// A direct linear model per horizon (linfa-linear): the change from now to `h` steps
/// ahead, from recent changes, the distance from rolling means (load reverts after a
/// spike), the value one day earlier where a day of history exists, and the time of
/// day and week as sin/cos. Fitted by iteratively reweighted least squares towards the
/// least absolute error, because load has spikes and operators read median-like errors.
pub struct Linear {
    /// Most recent points used for fitting.
    pub window: usize,
    fitted: Vec<(usize, Vec<f64>)>,
    seasonal: bool,
}

impl Default for Linear {
    fn default() -> Self {
        Linear {
            window: 4032,
            fitted: Vec::new(),
            seasonal: false,
        }
    }
}

const LAGS: [usize; 5] = [1, 2, 3, 6, 12];
const MEANS: [usize; 4] = [3, 12, 48, 288];
const LOOKBACK: usize = 288;
const IRLS_ROUNDS: usize = 4;

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// The features at origin `t` (an index into `y`) for a target `s` steps ahead.
fn features(
    y: &[f64],
    t: usize,
    s: usize,
    start: i64,
    step: i64,
    day: Option<usize>,
    out: &mut Vec<f64>,
) {
    out.clear();
    let now = y[t];
    out.push(1.0);
    for k in LAGS {
        out.push(now - y[t.saturating_sub(k)]);
    }
    for w in MEANS {
        let from = (t + 1).saturating_sub(w);
        out.push(now - mean(&y[from..=t]));
    }
    if let Some(d) = day {
        // The same time yesterday, relative to now, smoothed over five slots.
        let c = t + s - d;
        let lo = c.saturating_sub(2);
        let hi = (c + 2).min(t);
        out.push(mean(&y[lo..=hi]) - now);
    }
    let target_ts = start + (t + s) as i64 * step;
    let day_frac = target_ts.rem_euclid(86_400_000) as f64 / 86_400_000.0;
    let week_frac = target_ts.rem_euclid(7 * 86_400_000) as f64 / (7.0 * 86_400_000.0);
    let tau = std::f64::consts::TAU;
    out.extend([
        (tau * day_frac).sin(),
        (tau * day_frac).cos(),
        (tau * week_frac).sin(),
        (tau * week_frac).cos(),
    ]);
}

/// Least absolute deviations by IRLS, with a light ridge (extra rows) so that constant
/// or collinear features never make the system singular.
fn fit_lad(rows: &[Vec<f64>], targets: &[f64]) -> Option<Vec<f64>> {
    let n = rows.len();
    let p = rows.first()?.len();
    let mut weights = vec![1.0; n];
    let mut coef: Option<Vec<f64>> = None;
    let scale: Vec<f64> = (0..p)
        .map(|j| rows.iter().map(|r| r[j] * r[j]).sum::<f64>())
        .collect();
    for _ in 0..IRLS_ROUNDS {
        let mut x = Array2::<f64>::zeros((n + p, p));
        let mut yv = Array1::<f64>::zeros(n + p);
        for (i, (r, t)) in rows.iter().zip(targets).enumerate() {
            let w = weights[i];
            for j in 0..p {
                x[[i, j]] = r[j] * w;
            }
            yv[i] = t * w;
        }
        for j in 0..p {
            x[[n + j, j]] = (1e-4 * scale[j]).sqrt().max(1e-9);
        }
        let model = LinearRegression::new()
            .with_intercept(false)
            .fit(&Dataset::new(x, yv))
            .ok()?;
        let c: Vec<f64> = model.params().to_vec();
        if c.iter().any(|v| !v.is_finite()) {
            return coef;
        }
        let resid: Vec<f64> = rows
            .iter()
            .zip(targets)
            .map(|(r, t)| t - r.iter().zip(&c).map(|(a, b)| a * b).sum::<f64>())
            .collect();
        let mut abs: Vec<f64> = resid.iter().map(|r| r.abs()).collect();
        abs.sort_by(f64::total_cmp);
        let floor = (abs[abs.len() / 2] * 0.1).max(1e-9);
        // Weighted least squares with w² = 1/|r| minimises the sum of |r|.
        weights = resid
            .iter()
            .map(|r| 1.0 / r.abs().max(floor).sqrt())
            .collect();
        coef = Some(c);
    }
    coef
}

impl Linear {
    fn min_len(&self, day: Option<usize>) -> usize {
        let base = LOOKBACK + 12 + 200;
        match day {
            Some(d) if self.seasonal => base.max(d + 200),
            _ => base,
        }
    }
}

impl Model for Linear {
    fn name(&self) -> &'static str {
        "linear"
    }

    fn min_history(&self, h: &History) -> usize {
        self.min_len(h.day())
    }

    /// An hour of new samples: a fit costs tens of milliseconds, and load's recent
    /// shape is worth following that closely.
    fn refit_every(&self, h: &History) -> Option<usize> {
        Some((3_600_000 / h.step.max(1)).max(1) as usize)
    }

    fn fit(&mut self, h: &History, horizons: &[usize]) {
        self.fitted.clear();
        let day = h.day();
        // Yesterday is a feature only where two days of history let it be learned.
        self.seasonal = day.is_some_and(|d| h.len() >= 2 * d + LOOKBACK);
        let day = if self.seasonal { day } else { None };
        if h.len() < self.min_len(day) {
            return;
        }
        let y = h.values;
        let n = y.len();
        let first = n
            .saturating_sub(self.window)
            .max(LOOKBACK)
            .max(day.unwrap_or(0));
        for &s in horizons {
            if n <= first + s + 50 {
                continue;
            }
            let mut rows = Vec::with_capacity(n - first - s);
            let mut targets = Vec::with_capacity(n - first - s);
            let mut f = Vec::new();
            for t in first..n - s {
                features(y, t, s, h.start, h.step, day, &mut f);
                rows.push(f.clone());
                targets.push(y[t + s] - y[t]);
            }
            if let Some(c) = fit_lad(&rows, &targets) {
                self.fitted.push((s, c));
            }
        }
    }

    fn predict(&self, h: &History, horizons: &[usize]) -> Option<Vec<f64>> {
        if self.fitted.is_empty() || h.len() < LOOKBACK {
            return None;
        }
        let day = if self.seasonal { h.day() } else { None };
        let t = h.len() - 1;
        let mut f = Vec::new();
        horizons
            .iter()
            .map(|&s| {
                // A horizon not fitted borrows the nearest fitted one's coefficients.
                let (_, c) = self.fitted.iter().min_by_key(|(fs, _)| fs.abs_diff(s))?;
                features(h.values, t, s, h.start, h.step, day, &mut f);
                let delta: f64 = f.iter().zip(c).map(|(a, b)| a * b).sum();
                let v = h.values[t] + delta;
                v.is_finite().then_some(v)
            })
            .collect()
    }
}
