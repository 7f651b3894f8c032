//! Bands from the forecaster's own recent errors: the 10th and 90th percentiles of
//! (actual − forecast) at each horizon, so about 80 % of actuals fall inside.

use std::collections::VecDeque;

#[derive(Debug, Clone)]
pub struct Residuals {
    window: usize,
    errors: VecDeque<f64>,
}

impl Residuals {
    pub fn new(window: usize) -> Self {
        Residuals {
            window,
            errors: VecDeque::with_capacity(window),
        }
    }

    pub fn push(&mut self, e: f64) {
        if !e.is_finite() {
            return;
        }
        if self.errors.len() == self.window {
            self.errors.pop_front();
        }
        self.errors.push_back(e);
    }

    pub fn len(&self) -> usize {
        self.errors.len()
    }

    pub fn mean_abs(&self) -> Option<f64> {
        (!self.errors.is_empty())
            .then(|| self.errors.iter().map(|e| e.abs()).sum::<f64>() / self.errors.len() as f64)
    }

    /// The (q_lo, q_hi) quantiles, linearly interpolated.
    pub fn quantiles(&self, q_lo: f64, q_hi: f64) -> Option<(f64, f64)> {
        if self.errors.len() < 10 {
            return None;
        }
        let mut v: Vec<f64> = self.errors.iter().copied().collect();
        v.sort_by(f64::total_cmp);
        Some((quantile(&v, q_lo), quantile(&v, q_hi)))
    }
}

/// Quantile of sorted values, interpolating between neighbours.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (i, f) = (pos.floor() as usize, pos.fract());
    if i + 1 < sorted.len() {
        sorted[i] * (1.0 - f) + sorted[i + 1] * f
    } else {
        sorted[i]
    }
}
