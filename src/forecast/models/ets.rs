use crate::forecast::{History, Model};
use augurs_core::{Fit, Predict};
use augurs_ets::AutoETS;

/// Exponential smoothing (augurs' AutoETS: error, trend and damping chosen by AICc) on a
/// trailing window. augurs cannot advance a fitted model's state by one sample, so every
/// prediction refits the window: accurate but costly, hence not in the default set.
pub struct Ets {
    pub window: usize,
}

impl Default for Ets {
    fn default() -> Self {
        Ets { window: 288 }
    }
}

impl Model for Ets {
    fn name(&self) -> &'static str {
        "ets"
    }

    fn min_history(&self, _h: &History) -> usize {
        24
    }

    fn predict(&self, h: &History, horizons: &[usize]) -> Option<Vec<f64>> {
        let n = h.len();
        let y = &h.values[n.saturating_sub(self.window)..];
        let max_h = *horizons.iter().max()?;
        let fitted = AutoETS::non_seasonal().damped(true).ok()?.fit(y).ok()?;
        let f = fitted.predict(max_h, None).ok()?;
        let out: Vec<f64> = horizons.iter().map(|&s| f.point[s - 1]).collect();
        out.iter().all(|v| v.is_finite()).then_some(out)
    }
}
