//! `vigil backtest forecast`: rolling origin over the last 30 % of a trace, as
//! ../shared/EVAL.md §1 says, through the live forecaster.

use super::trace::{Trace, format_ts};
use crate::forecast::metrics::{self, Scores};
use crate::forecast::{Forecaster, ForecasterConfig, models};
use serde::Serialize;
use std::io::Write;

#[derive(Debug, Clone, PartialEq)]
pub struct PredRow {
    pub origin: usize,
    pub horizon: usize,
    pub actual: f64,
    pub point: f64,
    pub lo: f64,
    pub hi: f64,
    pub model: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ForecastSummary {
    pub points: usize,
    pub step_seconds: f64,
    pub train_points: usize,
    pub origins: usize,
    pub seasonal: bool,
    pub scale: f64,
    pub model: String,
    pub scores: Vec<Scores>,
    /// How often each model led, over all rows.
    pub chosen: Vec<(String, usize)>,
    pub seconds: f64,
}

/// The first index of the test part: the last 30 % of the trace.
pub fn train_len(n: usize) -> usize {
    n - (n as f64 * 0.3).floor() as usize
}

pub fn forecast(
    trace: &Trace,
    horizons: &[usize],
    model: Option<&str>,
) -> Result<(Vec<PredRow>, ForecastSummary), String> {
    forecast_with_models(trace, horizons, model, None)
}

/// `forecast`, also writing every model's prediction at every origin (not only the
/// test part) to `models_out`: `origin,horizon,actual,point,lo,hi,plan_hi,<model>…`, for
/// analysing the selection rule and the band offline (`--models-out`).
pub fn forecast_with_models(
    trace: &Trace,
    horizons: &[usize],
    model: Option<&str>,
    mut models_out: Option<&mut dyn Write>,
) -> Result<(Vec<PredRow>, ForecastSummary), String> {
    let started = std::time::Instant::now();
    let n = trace.len();
    let max_h = *horizons.iter().max().ok_or("no horizons")?;
    let n_train = train_len(n);
    if n_train < 2 || n_train - 1 + max_h >= n {
        return Err(format!(
            "{n} points are too few for a 30 % test part and horizon {max_h}"
        ));
    }
    // The live configuration on this grid; its planning quantile is not scored here.
    let cfg = ForecasterConfig::for_grid(horizons.to_vec(), trace.step, 0.9);
    let mut f = match model {
        None | Some("auto") => Forecaster::new(cfg, trace.start, trace.step),
        Some(name) => {
            let m = models::by_name(name).ok_or_else(|| {
                format!(
                    "unknown model \"{name}\"; known: auto, {}",
                    models::NAMES.join(", ")
                )
            })?;
            Forecaster::with_models(cfg, trace.start, trace.step, vec![m])
        }
    };
    let mut rows = Vec::new();
    let io = |e: std::io::Error| format!("--models-out: {e}");
    if let Some(w) = models_out.as_mut() {
        writeln!(
            w,
            "origin,horizon,actual,point,lo,hi,plan_hi,{}",
            f.slot_names().join(",")
        )
        .map_err(io)?;
    }
    for (i, &v) in trace.values.iter().enumerate() {
        if f.needs_refit() {
            f.refit();
        }
        let fc = f.push(v);
        if let (Some(w), Some(by_model)) = (models_out.as_mut(), f.last_by_model()) {
            for (k, h) in fc.horizons.iter().enumerate() {
                let Some(actual) = trace.values.get(i + h.steps) else {
                    continue;
                };
                let preds: Vec<String> = by_model
                    .iter()
                    .map(|p| p.as_ref().map_or(String::new(), |p| p[k].to_string()))
                    .collect();
                writeln!(
                    w,
                    "{i},{},{actual},{},{},{},{},{}",
                    h.steps,
                    h.point,
                    h.lo,
                    h.hi,
                    h.plan_hi,
                    preds.join(",")
                )
                .map_err(io)?;
            }
        }
        if i + 1 < n_train || i + max_h >= n {
            continue;
        }
        for h in &fc.horizons {
            rows.push(PredRow {
                origin: i,
                horizon: h.steps,
                actual: trace.values[i + h.steps],
                point: h.point,
                lo: h.lo,
                hi: h.hi,
                model: h.model.clone(),
            });
        }
    }
    let (scale, seasonal) = metrics::mase_scale(&trace.values[..n_train], trace.steps_per_day());
    let scores = horizons
        .iter()
        .map(|&h| {
            let r: Vec<(f64, f64, f64, f64)> = rows
                .iter()
                .filter(|r| r.horizon == h)
                .map(|r| (r.actual, r.point, r.lo, r.hi))
                .collect();
            metrics::score(h, &r, scale)
        })
        .collect();
    let mut chosen: Vec<(String, usize)> = Vec::new();
    for r in &rows {
        match chosen.iter_mut().find(|(m, _)| *m == r.model) {
            Some((_, c)) => *c += 1,
            None => chosen.push((r.model.clone(), 1)),
        }
    }
    let summary = ForecastSummary {
        points: n,
        step_seconds: trace.step as f64 / 1000.0,
        train_points: n_train,
        origins: rows.len() / horizons.len(),
        seasonal,
        scale,
        model: model.unwrap_or("auto").to_string(),
        scores,
        chosen,
        seconds: started.elapsed().as_secs_f64(),
    };
    Ok((rows, summary))
}

pub fn write_preds(trace: &Trace, rows: &[PredRow], out: &mut impl Write) -> std::io::Result<()> {
    writeln!(out, "origin,horizon,actual,point,lo,hi")?;
    for r in rows {
        writeln!(
            out,
            "{},{},{},{},{},{}",
            format_ts(trace.ts(r.origin)),
            r.horizon,
            r.actual,
            r.point,
            r.lo,
            r.hi
        )?;
    }
    Ok(())
}

pub fn summary_table(s: &ForecastSummary) -> String {
    let mut out = format!(
        "{} points every {}s, {} origins, MASE scaled by the {} naive ({:.4}), model {}\n",
        s.points,
        s.step_seconds,
        s.origins,
        if s.seasonal {
            "daily seasonal"
        } else {
            "one-step"
        },
        s.scale,
        s.model
    );
    out.push_str("horizon    MASE   sMAPE  coverage(80%)\n");
    for sc in &s.scores {
        out.push_str(&format!(
            "{:>7} {:>7.3} {:>7.2} {:>9.1}%\n",
            sc.horizon,
            sc.mase,
            sc.smape,
            sc.coverage * 100.0
        ));
    }
    let chosen: Vec<String> = s.chosen.iter().map(|(m, c)| format!("{m} {c}")).collect();
    out.push_str(&format!(
        "models chosen: {}; {:.2}s\n",
        chosen.join(", "),
        s.seconds
    ));
    out
}
