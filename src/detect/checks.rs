//! State and trend checks: pure functions of a series' recent history (and its
//! forecast, where one runs) that name a problem before it becomes an outage.
//!
//! - a filesystem above its threshold *and* forecast to fill within the horizon, so it
//!   is cleaned before it is full, not after;
//! - memory growing steadily: flat, then a straight climb (a hinge) that explains the
//!   history far better than a flat line, for long enough;
//! - connections close to their limit, or climbing to it within the horizon.

use super::window::{median, theil_sen};
use super::{Finding, FindingKind, ev};
use crate::forecast::Forecast;
use linfa::prelude::*;
use linfa_linear::LinearRegression;
use ndarray::{Array1, Array2};

/// `(unix ms, value)` points, oldest first.
pub type Points = [(i64, f64)];

const HOUR_MS: f64 = 3_600_000.0;
/// Pairs the Theil–Sen slope may look at: bounded cost on any history.
const MAX_PAIRS: usize = 20_000;
/// Candidate onsets the leak check tries.
const ONSETS: usize = 64;
/// Points the leak check fits at most.
const MAX_FIT: usize = 1_000;
const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone, PartialEq)]
pub struct DiskCheck {
    /// Used share (%) from which time-to-full matters.
    pub threshold_pct: f64,
    /// Used share (%) that raises a finding whatever the trend.
    pub critical_pct: f64,
    /// Raise when full within this long (ms).
    pub horizon_ms: i64,
    /// The trailing history the trend is read from (ms).
    pub trend_ms: i64,
}

impl Default for DiskCheck {
    fn default() -> Self {
        DiskCheck {
            threshold_pct: 80.0,
            critical_pct: 97.0,
            horizon_ms: 24 * 3_600_000,
            trend_ms: 6 * 3_600_000,
        }
    }
}

/// The time (ms from the last point) until `limit` at the robust trend of the trailing
/// `trend_ms` of history; None when flat or falling.
pub fn time_to_limit(history: &Points, limit: f64, trend_ms: i64) -> Option<(f64, f64)> {
    let &(now, last) = history.last()?;
    let pts: Vec<(f64, f64)> = history
        .iter()
        .filter(|(t, v)| now - t <= trend_ms && v.is_finite())
        .map(|&(t, v)| ((t - now) as f64, v))
        .collect();
    let slope = theil_sen(&pts, MAX_PAIRS)?;
    if slope.is_nan() || slope <= 0.0 {
        return None;
    }
    // From the trend's level now, not the last sample: one noisy sample should not
    // move the estimate.
    let level = median(pts.iter().map(|(t, v)| v - slope * t)).unwrap_or(last);
    Some((((limit - level) / slope).max(0.0), slope))
}

/// The first horizon whose point forecast reaches `limit`, in ms from the origin.
pub fn forecast_time_to(forecast: &Forecast, limit: f64) -> Option<f64> {
    forecast
        .horizons
        .iter()
        .filter(|h| h.point >= limit)
        .map(|h| (h.ts - forecast.origin) as f64)
        .min_by(f64::total_cmp)
}

/// A filesystem above its threshold and filling: `history` is its used share (%).
pub fn disk_filling(
    mount: &str,
    history: &Points,
    forecast: Option<&Forecast>,
    cfg: &DiskCheck,
) -> Option<Finding> {
    let &(now, used) = history.last()?;
    if used.is_nan() || used < cfg.threshold_pct {
        return None;
    }
    let trend = time_to_limit(history, 100.0, cfg.trend_ms);
    let by_forecast = forecast.and_then(|f| forecast_time_to(f, 100.0));
    let ttf = match (trend.map(|t| t.0), by_forecast) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let soon = ttf.is_some_and(|t| t <= cfg.horizon_ms as f64);
    if !soon && used < cfg.critical_pct {
        return None;
    }
    // It started when the share last crossed the threshold.
    let started = history
        .iter()
        .rev()
        .take_while(|(_, v)| *v >= cfg.threshold_pct)
        .last()
        .map_or(now, |p| p.0);
    let mut evidence = vec![ev("used_pct", used), ev("threshold_pct", cfg.threshold_pct)];
    if let Some((_, slope)) = trend {
        evidence.push(ev("growth_pct_per_hour", slope * HOUR_MS));
    }
    if let Some(t) = ttf {
        evidence.push(ev("time_to_full_s", t / 1000.0));
    }
    Some(Finding {
        kind: FindingKind::DiskFilling,
        subject: mount.to_string(),
        at: now,
        started,
        score: if used >= cfg.critical_pct {
            1.0
        } else {
            (1.0 - ttf.unwrap_or(0.0) / cfg.horizon_ms as f64).clamp(0.5, 1.0)
        },
        evidence,
    })
}

#[derive(Debug, Clone, PartialEq)]
pub struct LeakCheck {
    /// Growth must have gone on at least this long (ms).
    pub min_span_ms: i64,
    /// ... by at least this much per hour, in the series' units.
    pub min_per_hour: f64,
    /// ... and the climb must be this many times the scatter around it.
    pub min_signal: f64,
    /// The value the series cannot pass (100 for a share), for the time-to-limit.
    pub limit: Option<f64>,
}

impl Default for LeakCheck {
    fn default() -> Self {
        LeakCheck {
            min_span_ms: 2 * 3_600_000,
            min_per_hour: 0.2,
            min_signal: 4.0,
            limit: Some(100.0),
        }
    }
}

/// Least squares of `y` on the columns (and an intercept, linfa-linear), with the fit's
/// intercept, coefficients and total absolute error.
fn fit(cols: &[Vec<f64>], y: &[f64]) -> Option<(f64, Vec<f64>, f64)> {
    let n = y.len();
    let p = cols.len();
    let mut x = Array2::<f64>::zeros((n, p));
    for (j, c) in cols.iter().enumerate() {
        for (i, v) in c.iter().enumerate() {
            x[[i, j]] = *v;
        }
    }
    let model = LinearRegression::new()
        .fit(&Dataset::new(x, Array1::from(y.to_vec())))
        .ok()?;
    let coef: Vec<f64> = model.params().to_vec();
    let b = model.intercept();
    if !b.is_finite() || coef.iter().any(|c| !c.is_finite()) {
        return None;
    }
    let cost = (0..n)
        .map(|i| (y[i] - b - (0..p).map(|j| coef[j] * cols[j][i]).sum::<f64>()).abs())
        .sum();
    Some((b, coef, cost))
}

/// Memory growing steadily. The history (e.g. memory used, %) is fitted twice: as a
/// level, and as a level that starts climbing in a straight line at some onset (a
/// hinge); with a day or more of history both also fit the daily cycle (a sine and a
/// cosine of the time of day), so a daily swing is neither taken for a leak nor hides
/// one. The onset that fits best (least absolute error) is when the leak started; it
/// is a leak when the climb is steep enough, long enough, well above the scatter
/// around the fit, and the hinge explains the history far better than the level.
pub fn memory_leak(subject: &str, history: &Points, cfg: &LeakCheck) -> Option<Finding> {
    let all: Vec<(i64, f64)> = history
        .iter()
        .copied()
        .filter(|p| p.1.is_finite())
        .collect();
    // At most MAX_FIT points (thinned evenly): a bounded cost on any history.
    let stride = all.len().div_ceil(MAX_FIT).max(1);
    let pts: Vec<(i64, f64)> = all.iter().copied().step_by(stride).collect();
    let n = pts.len();
    if n < 8 {
        return None;
    }
    let (now, last) = *all.last()?;
    if now - pts[0].0 < cfg.min_span_ms {
        return None;
    }
    let y: Vec<f64> = pts.iter().map(|p| p.1).collect();
    let daily = now - pts[0].0 >= DAY_MS;
    let mut season: Vec<Vec<f64>> = Vec::new();
    if daily {
        let phase = |t: i64| t.rem_euclid(DAY_MS) as f64 / DAY_MS as f64 * std::f64::consts::TAU;
        season.push(pts.iter().map(|p| phase(p.0).sin()).collect());
        season.push(pts.iter().map(|p| phase(p.0).cos()).collect());
    }
    let flat_cost = if season.is_empty() {
        let m = median(y.iter().copied())?;
        y.iter().map(|v| (v - m).abs()).sum()
    } else {
        fit(&season, &y)?.2
    };
    let mut best: Option<(f64, usize, f64, f64)> = None; // cost, onset, level, slope/ms
    for k in 0..ONSETS {
        let s = k * (n - 1) / ONSETS;
        let t0 = pts[s].0;
        if now - t0 < cfg.min_span_ms {
            break;
        }
        let mut cols = season.clone();
        cols.push(pts.iter().map(|p| ((p.0 - t0).max(0)) as f64).collect());
        let Some((b, coef, cost)) = fit(&cols, &y) else {
            continue;
        };
        let slope = coef[coef.len() - 1];
        if best.is_none_or(|x| cost < x.0) {
            best = Some((cost, s, b, slope));
        }
    }
    let (cost, onset, level, slope) = best?;
    let per_hour = slope * HOUR_MS;
    let started = pts[onset].0;
    let climb = slope * (now - started) as f64;
    let scatter = cost / n as f64;
    let explains = cost <= 0.5 * flat_cost;
    if !(per_hour >= cfg.min_per_hour && climb >= cfg.min_signal * scatter && explains) {
        return None;
    }
    let mut evidence = vec![
        ev("value", last),
        ev("level_before", level),
        ev("growth_per_hour", per_hour),
        ev("hours_growing", (now - started) as f64 / HOUR_MS),
        ev("scatter", scatter),
    ];
    if let Some(limit) = cfg.limit {
        evidence.push(ev(
            "time_to_limit_s",
            ((limit - last) / slope / 1000.0).max(0.0),
        ));
    }
    Some(Finding {
        kind: FindingKind::MemoryLeak,
        subject: subject.to_string(),
        at: now,
        started,
        score: (climb / (climb + cfg.min_signal * scatter.max(1e-9))).clamp(0.0, 1.0),
        evidence,
    })
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConnCheck {
    /// Share of the limit that raises a finding at once.
    pub ratio: f64,
    /// Share from which the trend is read.
    pub watch_ratio: f64,
    /// Raise when the trend reaches the limit within this long (ms).
    pub horizon_ms: i64,
    pub trend_ms: i64,
}

impl Default for ConnCheck {
    fn default() -> Self {
        ConnCheck {
            ratio: 0.9,
            watch_ratio: 0.6,
            horizon_ms: 30 * 60_000,
            trend_ms: 30 * 60_000,
        }
    }
}

/// Connections close to their limit: `history` is the connection count (e.g. TCP
/// established, or a pool's busy connections), `limit` the most there can be.
pub fn connection_exhaustion(
    subject: &str,
    history: &Points,
    limit: f64,
    cfg: &ConnCheck,
) -> Option<Finding> {
    let &(now, count) = history.last()?;
    if !(limit > 0.0 && count.is_finite()) {
        return None;
    }
    let used = count / limit;
    if used < cfg.watch_ratio {
        return None;
    }
    let trend = time_to_limit(history, limit, cfg.trend_ms);
    let soon = trend.is_some_and(|t| t.0 <= cfg.horizon_ms as f64);
    if used < cfg.ratio && !soon {
        return None;
    }
    let started = history
        .iter()
        .rev()
        .take_while(|(_, v)| *v / limit >= cfg.watch_ratio)
        .last()
        .map_or(now, |p| p.0);
    let mut evidence = vec![
        ev("connections", count),
        ev("limit", limit),
        ev("used_ratio", used),
    ];
    if let Some((t, slope)) = trend {
        evidence.push(ev("time_to_limit_s", t / 1000.0));
        evidence.push(ev("growth_per_minute", slope * 60_000.0));
    }
    Some(Finding {
        kind: FindingKind::ConnectionExhaustion,
        subject: subject.to_string(),
        at: now,
        started,
        score: used.clamp(0.0, 1.0),
        evidence,
    })
}
