//! forecast: history → a point forecast and an 80 % band per horizon.
//!
//! Several models run side by side on every series; each new sample scores the
//! predictions that just came due, and the forecast an operator sees comes from the
//! model (or blend) with the lowest recent error at that horizon. Bands are conformal:
//! quantiles of the forecaster's own recent errors, starting at the 10th and 90th
//! percentiles and moved so that each edge is crossed 10 % of the time.

mod conformal;
pub use conformal::quantile as quantile_of_sorted;
mod forecaster;
pub mod metrics;
mod mix;
pub mod models;

pub use forecaster::{Fitted, Forecast, Forecaster, ForecasterConfig, HorizonForecast, RefitJob};

/// The history a model sees: values on a regular grid, oldest first, ending at the
/// forecast origin.
#[derive(Debug, Clone, Copy)]
pub struct History<'a> {
    pub values: &'a [f64],
    /// Unix ms of `values[0]`.
    pub start: i64,
    /// Grid interval in ms.
    pub step: i64,
}

impl History<'_> {
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn last(&self) -> f64 {
        self.values.last().copied().unwrap_or(0.0)
    }

    pub fn ts(&self, i: usize) -> i64 {
        self.start + i as i64 * self.step
    }

    /// Steps in one day, when the interval divides a day.
    pub fn day(&self) -> Option<usize> {
        (self.step > 0 && 86_400_000 % self.step == 0).then(|| (86_400_000 / self.step) as usize)
    }
}

/// A forecasting model. `fit` may be slow and runs off the engine's tick; `predict`
/// runs on every sample and must be cheap.
pub trait Model: Send {
    fn name(&self) -> &'static str;
    /// Points of history needed before `predict` gives anything.
    fn min_history(&self, h: &History) -> usize;
    /// Whether "still learning" waits for this model. A weekly model is a bonus once a
    /// week of history exists, not something to wait a week for.
    fn essential(&self) -> bool {
        true
    }
    /// New samples between refits, when the model has its own cadence (a slow fit that
    /// need not follow every hour); `None` follows the forecaster's `refit_every`.
    fn refit_every(&self, _h: &History) -> Option<usize> {
        None
    }
    /// Whether a fit is slow enough (seconds) that it must never run where something
    /// waits for it, such as start-up: it is then left to the background refits.
    fn slow_fit(&self) -> bool {
        false
    }
    /// Re-estimates the model's parameters on the history, for these horizons.
    fn fit(&mut self, _h: &History, _horizons: &[usize]) {}
    /// Point forecasts `steps` ahead of the end of `h`, one per entry of `horizons`.
    fn predict(&self, h: &History, horizons: &[usize]) -> Option<Vec<f64>>;
}
