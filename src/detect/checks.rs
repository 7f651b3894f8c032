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

/// `(unix ms, value)` points, oldest first.
pub type Points = [(i64, f64)];

const HOUR_MS: f64 = 3_600_000.0;
/// Pairs the Theil–Sen slope may look at: bounded cost on any history.
const MAX_PAIRS: usize = 20_000;
/// Candidate onsets the leak check tries.
const ONSETS: usize = 64;

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

/// Memory growing steadily. The history (e.g. memory used, %) is fitted with a hinge:
/// its median level up to an onset, then a straight climb; the onset that fits best
/// (least absolute error) is when the leak started.
pub fn memory_leak(subject: &str, history: &Points, cfg: &LeakCheck) -> Option<Finding> {
    let pts: Vec<(i64, f64)> = history
        .iter()
        .copied()
        .filter(|p| p.1.is_finite())
        .collect();
    let n = pts.len();
    if n < 8 {
        return None;
    }
    let (now, last) = pts[n - 1];
    if now - pts[0].0 < cfg.min_span_ms {
        return None;
    }
    let flat_level = median(pts.iter().map(|p| p.1))?;
    let flat_cost: f64 = pts.iter().map(|p| (p.1 - flat_level).abs()).sum();
    let mut best: Option<(f64, usize, f64, f64)> = None; // cost, onset, level, slope
    for k in 0..ONSETS {
        let s = k * (n - 1) / ONSETS;
        let t0 = pts[s].0;
        if now - t0 < cfg.min_span_ms {
            break;
        }
        let level = median(pts[..=s].iter().map(|p| p.1))?;
        // Least squares slope of the climb from (t0, level), then its absolute error.
        let (mut num, mut den) = (0.0, 0.0);
        for &(t, v) in &pts[s..] {
            let dt = (t - t0) as f64;
            num += dt * (v - level);
            den += dt * dt;
        }
        if den <= 0.0 {
            continue;
        }
        let slope = num / den;
        let cost: f64 = pts
            .iter()
            .map(|&(t, v)| (v - level - slope * ((t - t0).max(0) as f64)).abs())
            .sum();
        if best.is_none_or(|b| cost < b.0) {
            best = Some((cost, s, level, slope));
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
