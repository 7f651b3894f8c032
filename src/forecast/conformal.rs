//! Bands from the forecaster's own recent errors: the 10th and 90th percentiles of
//! (actual − forecast) at each horizon, so about 80 % of actuals fall inside.

use std::collections::VecDeque;

#[derive(Debug, Clone)]
pub struct Residuals {
    window: usize,
    errors: VecDeque<f64>,
    /// The same errors, sorted: kept in step so quantiles cost no sort per forecast.
    sorted: Vec<f64>,
}

impl Residuals {
    pub fn new(window: usize) -> Self {
        Residuals {
            window,
            errors: VecDeque::with_capacity(window),
            sorted: Vec::with_capacity(window),
        }
    }

    pub fn push(&mut self, e: f64) {
        if !e.is_finite() {
            return;
        }
        if self.errors.len() == self.window
            && let Some(old) = self.errors.pop_front()
        {
            let i = self.sorted.partition_point(|&x| x < old);
            if i < self.sorted.len() {
                self.sorted.remove(i);
            }
        }
        self.errors.push_back(e);
        let i = self.sorted.partition_point(|&x| x < e);
        self.sorted.insert(i, e);
    }

    pub fn len(&self) -> usize {
        self.errors.len()
    }

    pub fn mean_abs(&self) -> Option<f64> {
        (!self.errors.is_empty())
            .then(|| self.errors.iter().map(|e| e.abs()).sum::<f64>() / self.errors.len() as f64)
    }

    /// The `q` quantile of the errors and the mean pinball loss of an upper bound set
    /// there: how sharp a calibrated upper bound built on these errors is.
    pub fn upper(&self, q: f64) -> Option<(f64, f64)> {
        if self.errors.len() < 10 {
            return None;
        }
        let v = &self.sorted;
        let c = quantile(v, q);
        let loss = v
            .iter()
            .map(|e| {
                let u = e - c;
                if u >= 0.0 { q * u } else { (q - 1.0) * u }
            })
            .sum::<f64>()
            / v.len() as f64;
        Some((c, loss))
    }

    /// The (q_lo, q_hi) quantiles, linearly interpolated.
    pub fn quantiles(&self, q_lo: f64, q_hi: f64) -> Option<(f64, f64)> {
        if self.errors.len() < 10 {
            return None;
        }
        Some((quantile(&self.sorted, q_lo), quantile(&self.sorted, q_hi)))
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
