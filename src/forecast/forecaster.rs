//! One series' forecaster: runs the models, scores them as actuals arrive, picks per
//! horizon, and calibrates the band. The live engine and the backtest both drive it
//! sample by sample, so what is measured is what runs.

use super::conformal::Residuals;
use super::mix::{EwMae, Mix};
use super::models;
use super::{History, Model};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

#[derive(Debug, Clone)]
pub struct ForecasterConfig {
    /// Steps ahead to forecast, e.g. [1, 3, 12].
    pub horizons: Vec<usize>,
    /// Refit the models after this many new samples.
    pub refit_every: usize,
    /// Recent errors that decide which model leads: the window of each model's record,
    /// and the span of each mix's weighted error.
    pub select_window: usize,
    /// Recent errors that set the band.
    pub band_window: usize,
    /// History kept, in points.
    pub max_history: usize,
    /// The band's quantiles of past errors: (0.1, 0.9) is the 80 % band. Each edge
    /// starts there and then moves so that it is crossed that often (`BAND_STEP`).
    pub band: (f64, f64),
    /// The quantile capacity is planned at (`HorizonForecast::plan_hi`); see
    /// `plan::scaling::plan_quantile` for why it is not simply the band's edge.
    pub plan_quantile: f64,
}

impl ForecasterConfig {
    /// The one configuration live and every backtest use on a grid of `step_ms`: the
    /// history kept is what the models look back over (the trees' window plus the week
    /// before it), so a backtest sees what the live engine would have had.
    pub fn for_grid(horizons: Vec<usize>, step_ms: i64, plan_quantile: f64) -> Self {
        let mut c = ForecasterConfig::new(horizons);
        c.max_history = models::Gbm::history_kept(step_ms);
        c.plan_quantile = plan_quantile;
        c
    }

    pub fn new(horizons: Vec<usize>) -> Self {
        ForecasterConfig {
            horizons,
            refit_every: 288,
            select_window: 288,
            band_window: 500,
            max_history: 20_160,
            band: (0.1, 0.9),
            plan_quantile: 0.9,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HorizonForecast {
    pub steps: usize,
    /// Unix ms of the forecast point.
    pub ts: i64,
    pub point: f64,
    /// The 80 % band.
    pub lo: f64,
    pub hi: f64,
    /// The upper bound capacity is planned at: the `plan_quantile` of what may come.
    #[serde(default)]
    pub plan_hi: f64,
    /// The model that leads at this horizon.
    pub model: String,
    /// Its recent mean absolute error, in the series' units.
    pub recent_mae: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Forecast {
    /// Unix ms of the last value seen.
    pub origin: i64,
    pub horizons: Vec<HorizonForecast>,
    /// Hours of history still needed before the learned models can take over.
    pub learning_hours: Option<f64>,
    /// The recent mean absolute one-step change: recent MAE / scale is a MASE.
    pub scale: f64,
    /// The quantile each horizon's `plan_hi` is.
    #[serde(default)]
    pub plan_quantile: f64,
}

impl Forecast {
    /// The recent MASE of the model leading at horizon `k`.
    pub fn mase(&self, k: usize) -> Option<f64> {
        let mae = self.horizons.get(k)?.recent_mae?;
        (self.scale > 0.0).then(|| mae / self.scale)
    }

    /// The highest upper band edge (the P90) over all horizons, and its time.
    pub fn peak_p90(&self) -> Option<(i64, f64)> {
        self.horizons
            .iter()
            .map(|h| (h.ts, h.hi))
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }
}

pub struct RefitJob {
    values: Vec<f64>,
    start: i64,
    step: i64,
    horizons: Vec<usize>,
    /// The models that were due, by their position in the forecaster, fresh.
    models: Vec<(usize, Box<dyn Model>)>,
}

/// Models fitted by a `RefitJob`, by their position in the forecaster.
pub type Fitted = Vec<(usize, Box<dyn Model>)>;

impl RefitJob {
    pub fn run(mut self) -> Fitted {
        let h = History {
            values: &self.values,
            start: self.start,
            step: self.step,
        };
        for (_, m) in self.models.iter_mut() {
            m.fit(&h, &self.horizons);
        }
        self.models
    }
}

struct Pending {
    origin: usize,
    by_model: Vec<Option<Vec<f64>>>,
    chosen: Vec<f64>,
    /// The band given per horizon, when it came from past errors (not the fallback).
    band: Vec<Option<(f64, f64)>>,
    /// The planning bound given per horizon, when it came from past errors.
    plan_hi: Vec<Option<f64>>,
}

pub struct Forecaster {
    cfg: ForecasterConfig,
    models: Vec<Box<dyn Model>>,
    values: Vec<f64>,
    /// Absolute index of `values[0]`.
    offset: usize,
    start: i64,
    step: i64,
    model_errors: Vec<Vec<Residuals>>,
    band_errors: Vec<Residuals>,
    /// The forecasts that may be given (`mix.rs`), and each one's weighted recent error
    /// per horizon.
    mixes: Vec<Mix>,
    mix_errors: Vec<Vec<EwMae>>,
    /// Per horizon, the quantiles of `band_errors` the band's edges are read at, moved
    /// by how often each edge was crossed (`adapt_band`).
    band_levels: Vec<(f64, f64)>,
    /// Per horizon, the quantile the planning bound is read at, moved the same way by
    /// how often the bound was exceeded: it is calibrated, not only set.
    plan_levels: Vec<f64>,
    pending: VecDeque<Pending>,
    /// Per model: samples since its last fit, and whether it was ever fitted.
    since_fit: Vec<usize>,
    fitted_once: Vec<bool>,
}

/// The name the blend of the linear model and the trees leads under.
pub const BLEND: &str = "linear+gbm";
/// Errors needed before a model's record counts for choosing it.
const MIN_SCORED: usize = 20;
const Z80: f64 = 1.2816;
/// How far one crossing moves an edge's quantile (adaptive conformal inference, Gibbs
/// and Candès 2021, whose step this is): small enough that the band is stable, large
/// enough to correct a drifting error distribution within a day of samples.
const BAND_STEP: f64 = 0.005;
/// The highest quantile the planning bound is read at: past it, a few hundred recent
/// errors say little.
const PLAN_LEVEL_MAX: f64 = 0.995;

impl Forecaster {
    pub fn new(cfg: ForecasterConfig, start: i64, step: i64) -> Self {
        Self::with_models(cfg, start, step, models::default_set())
    }

    pub fn with_models(
        cfg: ForecasterConfig,
        start: i64,
        step: i64,
        models: Vec<Box<dyn Model>>,
    ) -> Self {
        let h = cfg.horizons.len();
        Forecaster {
            // One record per model, and one for the blend of the learned models.
            model_errors: (0..=models.len())
                .map(|_| (0..h).map(|_| Residuals::new(cfg.select_window)).collect())
                .collect(),
            band_errors: (0..h).map(|_| Residuals::new(cfg.band_window)).collect(),
            band_levels: vec![cfg.band; h],
            plan_levels: vec![cfg.plan_quantile; h],
            mixes: Mix::all(models.len() + 1),
            mix_errors: vec![vec![EwMae::default(); h]; Mix::all(models.len() + 1).len()],
            values: Vec::new(),
            offset: 0,
            start,
            step,
            pending: VecDeque::new(),
            since_fit: vec![0; models.len()],
            fitted_once: vec![false; models.len()],
            cfg,
            models,
        }
    }

    pub fn horizons(&self) -> &[usize] {
        &self.cfg.horizons
    }

    /// The name of every slot the forecaster scores: its models, then the blend.
    pub fn slot_names(&self) -> Vec<&'static str> {
        (0..=self.models.len()).map(|i| self.slot_name(i)).collect()
    }

    /// Every slot's forecast from the last `push`, per horizon (`None` where a model
    /// could not predict yet): for analysing how the forecasts are combined.
    pub fn last_by_model(&self) -> Option<&[Option<Vec<f64>>]> {
        self.pending.back().map(|p| p.by_model.as_slice())
    }

    fn history(&self) -> History<'_> {
        History {
            values: &self.values,
            start: self.start + self.offset as i64 * self.step,
            step: self.step,
        }
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The models due for a refit: each once it has enough history, then after its own
    /// cadence (or the forecaster's) of new samples.
    fn due(&self) -> Vec<usize> {
        let h = self.history();
        (0..self.models.len())
            .filter(|&i| {
                let m = &self.models[i];
                let every = m.refit_every(&h).unwrap_or(self.cfg.refit_every).max(1);
                h.len() >= m.min_history(&h).max(1)
                    && (!self.fitted_once[i] || self.since_fit[i] >= every)
            })
            .collect()
    }

    /// Whether any model is due for a refit.
    pub fn needs_refit(&self) -> bool {
        !self.due().is_empty()
    }

    fn mark_fitted(&mut self, due: &[usize]) {
        for &i in due {
            self.since_fit[i] = 0;
            self.fitted_once[i] = true;
        }
    }

    /// Re-estimates the due models on the history: the slow part, kept off the tick.
    pub fn refit(&mut self) {
        let due = self.due();
        let horizons = self.cfg.horizons.clone();
        let h = History {
            values: &self.values,
            start: self.start + self.offset as i64 * self.step,
            step: self.step,
        };
        for &i in &due {
            self.models[i].fit(&h, &horizons);
        }
        self.mark_fitted(&due);
    }

    /// Re-estimates the due models whose fit is quick, leaving the slow ones due for
    /// the next `refit_job`: for start-up, which must not wait seconds per series.
    pub fn refit_quick(&mut self) {
        let due: Vec<usize> = self
            .due()
            .into_iter()
            .filter(|&i| !self.models[i].slow_fit())
            .collect();
        let horizons = self.cfg.horizons.clone();
        let h = History {
            values: &self.values,
            start: self.start + self.offset as i64 * self.step,
            step: self.step,
        };
        for &i in &due {
            self.models[i].fit(&h, &horizons);
        }
        self.mark_fitted(&due);
    }

    /// A copy of what a refit of the due models needs, to run off the tick; `install`
    /// takes the result. Counts as the refit for `needs_refit`, so it is not asked for
    /// twice.
    pub fn refit_job(&mut self) -> RefitJob {
        let due = self.due();
        self.mark_fitted(&due);
        RefitJob {
            values: self.values.clone(),
            start: self.start + self.offset as i64 * self.step,
            step: self.step,
            horizons: self.cfg.horizons.clone(),
            models: due
                .into_iter()
                .filter_map(|i| Some((i, models::by_name(self.models[i].name())?)))
                .collect(),
        }
    }

    /// Puts models fitted by a `RefitJob` in place of the current ones.
    pub fn install(&mut self, fitted: Fitted) {
        // Error records are kept per position: only the same model may replace.
        for (i, m) in fitted {
            if self.models.get(i).is_some_and(|old| old.name() == m.name()) {
                self.models[i] = m;
            }
        }
    }

    /// Appends history without forecasting from each point: for warming up from
    /// stored history, before a `refit` and the last few hundred `push`es.
    pub fn extend_quietly(&mut self, values: &[f64]) {
        self.values
            .extend(values.iter().map(|v| if v.is_finite() { *v } else { 0.0 }));
        if self.values.len() > self.cfg.max_history {
            let cut = self.values.len() - self.cfg.max_history;
            self.values.drain(..cut);
            self.offset += cut;
        }
    }

    /// Adds the next value on the grid: scores what came due, then forecasts from it.
    pub fn push(&mut self, v: f64) -> Forecast {
        let v = if v.is_finite() {
            v
        } else {
            self.values.last().copied().unwrap_or(0.0)
        };
        self.values.push(v);
        let now = self.offset + self.values.len() - 1;
        self.score(now, v);
        for c in self.since_fit.iter_mut() {
            *c += 1;
        }
        if self.values.len() > self.cfg.max_history + self.cfg.max_history / 4 {
            let cut = self.values.len() - self.cfg.max_history;
            self.values.drain(..cut);
            self.offset += cut;
        }
        self.forecast_from(now)
    }

    fn score(&mut self, now: usize, actual: f64) {
        for p in &self.pending {
            for (k, &s) in self.cfg.horizons.iter().enumerate() {
                if p.origin + s != now {
                    continue;
                }
                for (m, preds) in p.by_model.iter().enumerate() {
                    if let Some(preds) = preds {
                        self.model_errors[m][k].push(actual - preds[k]);
                    }
                }
                for (mix, e) in self.mixes.iter().zip(self.mix_errors.iter_mut()) {
                    if let Some(v) = mix.value(&p.by_model, k) {
                        e[k].push((actual - v).abs(), self.cfg.select_window);
                    }
                }
                self.band_errors[k].push(actual - p.chosen[k]);
                if let Some(bound) = p.plan_hi[k] {
                    let above = f64::from(u8::from(actual > bound));
                    let want = self.cfg.plan_quantile;
                    // Crossed more often than 1 − the chosen quantile, the level rises;
                    // less often, it falls and the bound sharpens.
                    self.plan_levels[k] = (self.plan_levels[k]
                        + BAND_STEP * (above - (1.0 - want)))
                        .clamp(0.5, PLAN_LEVEL_MAX);
                }
                if let Some((lo, hi)) = p.band[k] {
                    let (qlo, qhi) = self.band_levels[k];
                    let (want_lo, want_hi) = self.cfg.band;
                    let below = f64::from(u8::from(actual < lo));
                    let above = f64::from(u8::from(actual > hi));
                    self.band_levels[k] = (
                        (qlo - BAND_STEP * (below - want_lo)).clamp(0.0, 0.5),
                        (qhi + BAND_STEP * (above - (1.0 - want_hi))).clamp(0.5, 1.0),
                    );
                }
            }
        }
        let max_h = self.cfg.horizons.iter().copied().max().unwrap_or(1);
        while self
            .pending
            .front()
            .is_some_and(|p| p.origin + max_h <= now)
        {
            self.pending.pop_front();
        }
    }

    fn forecast_from(&mut self, now: usize) -> Forecast {
        let h = self.history();
        let horizons = &self.cfg.horizons;
        let mut by_model: Vec<Option<Vec<f64>>> = self
            .models
            .iter()
            .map(|m| {
                if h.len() >= m.min_history(&h) {
                    m.predict(&h, horizons)
                } else {
                    None
                }
            })
            .collect();
        by_model.push(self.blend(&by_model));
        let mut out = Vec::with_capacity(horizons.len());
        let mut chosen = Vec::with_capacity(horizons.len());
        let mut bands = Vec::with_capacity(horizons.len());
        let mut plans = Vec::with_capacity(horizons.len());
        for (k, &s) in horizons.iter().enumerate() {
            let (name, point, mae) = self.choose(k, &by_model);
            // The band is the conformal one of the forecast given (whichever model led
            // when each error was made), at the quantiles its own crossings have set:
            // it holds its coverage when the leading model changes.
            let (qlo, qhi) = self.band_levels[k];
            let (lo, hi) = match self.band_errors[k].quantiles(qlo, qhi) {
                Some((ql, qh)) => {
                    let band = ((point + ql).min(point), (point + qh).max(point));
                    bands.push(Some(band));
                    band
                }
                None => {
                    bands.push(None);
                    let spread = self.fallback_spread(s);
                    (point - spread, point + spread)
                }
            };
            let level = self.plan_levels[k];
            let calibrated = self
                .sharpest_upper(k, &by_model, level)
                .or_else(|| Some(point + self.band_errors[k].upper(level)?.0));
            let plan_hi = calibrated.unwrap_or(hi);
            plans.push(calibrated.map(|c| c.max(point)));
            chosen.push(point);
            out.push(HorizonForecast {
                steps: s,
                ts: h.ts(h.len() - 1) + s as i64 * self.step,
                point,
                lo: lo.min(point),
                hi: hi.max(point),
                plan_hi: plan_hi.max(point),
                model: name,
                recent_mae: mae,
            });
        }
        let origin = h.ts(h.len() - 1);
        let learning_hours = self.learning_hours();
        let recent = &h.values[h.len().saturating_sub(1000)..];
        let scale = if recent.len() > 1 {
            recent.windows(2).map(|w| (w[1] - w[0]).abs()).sum::<f64>() / (recent.len() - 1) as f64
        } else {
            0.0
        };
        self.pending.push_back(Pending {
            origin: now,
            by_model,
            chosen,
            band: bands,
            plan_hi: plans,
        });
        Forecast {
            origin,
            horizons: out,
            learning_hours,
            scale,
            plan_quantile: self.cfg.plan_quantile,
        }
    }

    /// The mean of the linear model's and the trees' forecasts where both have one: their
    /// errors are far from perfectly correlated (one extrapolates smooth trends, the
    /// other learns shapes), so the mean often beats both; it is scored and chosen like
    /// any model.
    fn blend(&self, by_model: &[Option<Vec<f64>>]) -> Option<Vec<f64>> {
        let find = |name: &str| self.models.iter().position(|m| m.name() == name);
        let a = by_model.get(find("linear")?)?.as_ref()?;
        let b = by_model.get(find("gbm")?)?.as_ref()?;
        Some(a.iter().zip(b).map(|(x, y)| 0.5 * (x + y)).collect())
    }

    fn slot_name(&self, i: usize) -> &'static str {
        self.models.get(i).map_or(BLEND, |m| m.name())
    }

    /// The upper `q` quantile at horizon `k` from the model whose own errors give the
    /// sharpest calibrated bound (lowest pinball loss), which need not be the model
    /// with the best point forecast.
    fn sharpest_upper(&self, k: usize, by_model: &[Option<Vec<f64>>], q: f64) -> Option<f64> {
        by_model
            .iter()
            .enumerate()
            .filter_map(|(m, p)| {
                let p = p.as_ref()?;
                let e = &self.model_errors[m][k];
                if e.len() < MIN_SCORED {
                    return None;
                }
                let (c, loss) = e.upper(q)?;
                Some((p[k] + c, loss))
            })
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(u, _)| u)
    }

    /// The mix (`mix.rs`) with the lowest weighted recent error at horizon `k` among
    /// those that can be given now; before any record exists, the most elaborate model
    /// that can predict. Returns its name, its forecast and its recent MAE.
    fn choose(&self, k: usize, by_model: &[Option<Vec<f64>>]) -> (String, f64, Option<f64>) {
        let scored = self
            .mixes
            .iter()
            .zip(&self.mix_errors)
            .filter_map(|(mix, e)| {
                let e = &e[k];
                if e.len() < MIN_SCORED {
                    return None;
                }
                Some((mix, mix.value(by_model, k)?, e.mean()?))
            })
            .min_by(|a, b| a.2.total_cmp(&b.2));
        if let Some((mix, v, mae)) = scored {
            return (mix.name(|i| self.slot_name(i)), v, Some(mae));
        }
        let (m, v) = by_model
            .iter()
            .enumerate()
            .rev()
            .find_map(|(m, p)| p.as_ref().map(|p| (m, p[k])))
            .unwrap_or((0, self.values.last().copied().unwrap_or(0.0)));
        (
            self.slot_name(m).to_string(),
            v,
            self.model_errors[m][k].mean_abs(),
        )
    }

    /// Before errors exist: the spread of past changes over `s` steps, as if normal.
    fn fallback_spread(&self, s: usize) -> f64 {
        let v = &self.values;
        if v.len() <= s + 1 {
            return v.last().map(|x| x.abs() * 0.1).unwrap_or(0.0);
        }
        let from = v.len().saturating_sub(500).max(s);
        let d: Vec<f64> = (from..v.len()).map(|i| v[i] - v[i - s]).collect();
        let m = d.iter().sum::<f64>() / d.len() as f64;
        let var = d.iter().map(|x| (x - m).powi(2)).sum::<f64>() / d.len() as f64;
        Z80 * var.sqrt()
    }

    fn learning_hours(&self) -> Option<f64> {
        let h = self.history();
        let need = self
            .models
            .iter()
            .filter(|m| m.essential())
            .map(|m| m.min_history(&h))
            .filter(|&n| n < usize::MAX / 2)
            .max()?;
        (h.len() < need).then(|| (need - h.len()) as f64 * self.step as f64 / 3_600_000.0)
    }
}
