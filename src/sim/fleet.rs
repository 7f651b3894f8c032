//! The simulated fleet of ../shared/EVAL.md §2: load scaled so the trace's 99th
//! percentile needs `peak` instances, demand at 80 % utilisation, new instances billed
//! at once and serving after the boot time, removal immediate.

use super::trace::Trace;
use crate::forecast::{Forecaster, ForecasterConfig};
use crate::plan::scaling::{
    Hpa, Limits, Observation, Predictive, PredictiveParams, ScalePolicy, Threshold, plan_quantile,
};
use serde::Serialize;

pub use crate::plan::cost::Billing;

#[derive(Debug, Clone)]
pub struct FleetParams {
    pub peak: f64,
    pub boot_ms: i64,
    pub interval_ms: i64,
    pub billing: Billing,
    /// The predictive policy's scale-down stabilisation window.
    pub stabilisation_ms: i64,
}

impl Default for FleetParams {
    fn default() -> Self {
        FleetParams {
            peak: 10.0,
            boot_ms: 120_000,
            interval_ms: 60_000,
            billing: Billing::Second,
            stabilisation_ms: 300_000,
        }
    }
}

/// Utilisation above which an instance breaks its latency objective.
pub const SLO_UTILISATION: f64 = 0.8;

/// The largest `peak` simulated (`vigil backtest scale` refuses more): a bigger fleet
/// is not what vigil plans, and the simulation holds one record per instance.
pub const MAX_PEAK: f64 = 1000.0;
/// No step needs more instances than this, whatever the trace's spikes: the fleet's
/// memory and each step's work stay bounded (a demand above it counts as this many).
pub const MAX_FLEET: usize = 100 * MAX_PEAK as usize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyKind {
    Predictive,
    Hpa,
    Threshold,
    Oracle,
}

impl PolicyKind {
    pub const ALL: [PolicyKind; 4] = [
        PolicyKind::Predictive,
        PolicyKind::Hpa,
        PolicyKind::Threshold,
        PolicyKind::Oracle,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::Predictive => "predictive",
            PolicyKind::Hpa => "hpa",
            PolicyKind::Threshold => "threshold",
            PolicyKind::Oracle => "oracle",
        }
    }

    pub fn parse(s: &str) -> Option<PolicyKind> {
        PolicyKind::ALL.into_iter().find(|p| p.name() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepRow {
    pub ts: i64,
    pub load: f64,
    pub demand: usize,
    pub ready: usize,
    pub billed: usize,
    pub desired: usize,
    /// Instance-milliseconds paid for by the decisions taken in this step, each until
    /// the next decision: what the bill says, pre-bought boot time included, which
    /// `billed` (sampled once a step) does not see.
    pub paid_ms: i64,
}

#[derive(Debug, Clone)]
struct Instance {
    start: i64,
    ready_at: i64,
    /// Removed, but paid until then (per-hour billing).
    paid_until: Option<i64>,
}

/// The load one instance carries at 100 %: the trace's p99 needs `peak` instances at
/// the SLO's utilisation.
pub fn capacity(trace: &Trace, peak: f64) -> f64 {
    let mut v = trace.values.clone();
    v.sort_by(f64::total_cmp);
    let p99 = crate::forecast::metrics::quantile_sorted(&v, 0.99);
    let c = p99 / (peak.clamp(f64::MIN_POSITIVE, MAX_PEAK) * SLO_UTILISATION);
    if c > 0.0 && c.is_finite() { c } else { 1.0 }
}

pub fn demand(load: f64, capacity: f64) -> usize {
    ((load.max(0.0) / (capacity * SLO_UTILISATION)).ceil() as usize).min(MAX_FLEET)
}

pub fn simulate(trace: &Trace, p: &FleetParams, kind: PolicyKind) -> Vec<StepRow> {
    let cap = capacity(trace, p.peak);
    let n = trace.len();
    let step = trace.step;
    let demands: Vec<usize> = trace.values.iter().map(|&v| demand(v, cap)).collect();
    let limits = Limits {
        min: 1,
        max: MAX_FLEET,
    };
    let mut policy: Option<Box<dyn ScalePolicy>> = match kind {
        PolicyKind::Predictive => Some(Box::new(Predictive::new(
            PredictiveParams {
                stabilisation_ms: p.stabilisation_ms,
                ..PredictiveParams::default()
            },
            limits,
        ))),
        PolicyKind::Hpa => Some(Box::new(Hpa::new(0.6, 300_000, limits))),
        PolicyKind::Threshold => Some(Box::new(Threshold::new(limits))),
        PolicyKind::Oracle => None,
    };
    // The forecast must cover every step that starts before an instance bought now
    // could serve: boot plus one interval.
    let lead = p.boot_ms + p.interval_ms;
    let h = ((lead + step - 1) / step).max(1) as usize;
    let mut forecaster = (kind == PolicyKind::Predictive).then(|| {
        let cfg =
            ForecasterConfig::for_grid((1..=h).collect(), step, plan_quantile(step, p.boot_ms));
        Forecaster::new(cfg, trace.start, step)
    });
    let mut forecast: Option<crate::forecast::Forecast> = None;
    let first = demands.first().copied().unwrap_or(1).max(1);
    let mut fleet: Vec<Instance> = (0..first)
        .map(|_| Instance {
            start: trace.start - p.boot_ms,
            ready_at: trace.start,
            paid_until: None,
        })
        .collect();
    let mut rows = Vec::with_capacity(n);
    let mut next_decision = trace.start;
    for i in 0..n {
        let step_start = trace.ts(i);
        let step_end = step_start + step;
        let load = trace.values[i];
        if let Some(f) = forecaster.as_mut() {
            if f.needs_refit() {
                f.refit();
            }
            forecast = Some(f.push(load));
        }
        let mut recorded = false;
        let mut paid_ms = 0;
        let mut t = next_decision.max(step_start);
        while t < step_end {
            fleet.retain(|x| x.paid_until.is_none_or(|u| u > t));
            let active: Vec<usize> = (0..fleet.len())
                .filter(|&k| fleet[k].paid_until.is_none())
                .collect();
            let ready = active.iter().filter(|&&k| fleet[k].ready_at <= t).count();
            // Only the steps that start before an instance bought now could serve: buying
            // for later ones now pays for time nobody uses (the next decision can buy).
            let bound = |from: i64, to: i64| {
                forecast.as_ref().and_then(|fc| {
                    fc.horizons
                        .iter()
                        .filter(|h| h.ts >= from && h.ts < to)
                        .map(|h| h.plan_hi)
                        .reduce(f64::max)
                })
            };
            let forecast_hi = bound(i64::MIN, t + lead);
            // And the steps after those, which a later decision could still buy for.
            let hold_hi = bound(t + lead, t + lead + step.max(p.interval_ms));
            let obs = Observation {
                now: t,
                load,
                ready,
                billed: active.len(),
                capacity: cap,
                forecast_hi,
                hold_hi,
            };
            let desired = match policy.as_mut() {
                Some(pol) => pol.decide(&obs).desired,
                None => oracle(&demands, trace, i, t, p),
            };
            apply(&mut fleet, desired, t, p, kind == PolicyKind::Predictive);
            paid_ms += fleet.len() as i64 * p.interval_ms;
            if !recorded {
                rows.push(record(&fleet, trace.ts(i), load, demands[i], desired, t));
                recorded = true;
            }
            t += p.interval_ms;
        }
        next_decision = t;
        if let Some(r) = rows.last_mut().filter(|_| recorded) {
            r.paid_ms = paid_ms;
        }
        if !recorded {
            let desired = fleet.iter().filter(|x| x.paid_until.is_none()).count();
            rows.push(record(
                &fleet,
                trace.ts(i),
                load,
                demands[i],
                desired,
                step_start,
            ));
        }
    }
    rows
}

/// The floor no policy can beat: what is needed from now until an instance bought at
/// the next decision could serve.
fn oracle(demands: &[usize], trace: &Trace, i: usize, t: i64, p: &FleetParams) -> usize {
    let horizon_end = t + p.boot_ms + p.interval_ms;
    let mut j = i;
    let mut need = demands[i];
    while j + 1 < demands.len() && trace.ts(j + 1) < horizon_end {
        j += 1;
        need = need.max(demands[j]);
    }
    need.max(1)
}

/// `thrifty`: under per-hour billing, an instance whose hour is paid keeps serving until
/// that hour is about to end (vigil's executor); the baselines release it at once.
fn apply(fleet: &mut Vec<Instance>, desired: usize, t: i64, p: &FleetParams, thrifty: bool) {
    let active = fleet.iter().filter(|x| x.paid_until.is_none()).count();
    if desired > active {
        for _ in active..desired {
            fleet.push(Instance {
                start: t,
                ready_at: t + p.boot_ms,
                paid_until: None,
            });
        }
    } else if desired < active {
        // The newest go first: a booting instance has served nothing yet.
        let mut order: Vec<usize> = (0..fleet.len())
            .filter(|&k| fleet[k].paid_until.is_none())
            .collect();
        order.sort_by_key(|&k| std::cmp::Reverse(fleet[k].start));
        let paid_until = |x: &Instance| match p.billing {
            Billing::Second => t,
            Billing::Hour => {
                let age = t - x.start;
                x.start + (age / 3_600_000 + 1) * 3_600_000
            }
        };
        if thrifty && p.billing == Billing::Hour {
            // Paid hours last: the ones whose hour ends before the next decision go.
            order.retain(|&k| paid_until(&fleet[k]) <= t + p.interval_ms);
            order.sort_by_key(|&k| paid_until(&fleet[k]));
        }
        for &k in order.iter().take(active - desired) {
            fleet[k].paid_until = Some(paid_until(&fleet[k]));
        }
        fleet.retain(|x| x.paid_until.is_none_or(|u| u > t));
    }
}

fn record(
    fleet: &[Instance],
    ts: i64,
    load: f64,
    demand: usize,
    desired: usize,
    t: i64,
) -> StepRow {
    let ready = fleet
        .iter()
        .filter(|x| x.paid_until.is_none() && x.ready_at <= t)
        .count();
    StepRow {
        ts,
        load,
        demand,
        ready,
        billed: fleet.len(),
        desired,
        paid_ms: 0,
    }
}

/// steps.csv: one row per trace step.
pub fn write_steps(rows: &[StepRow], out: &mut impl std::io::Write) -> std::io::Result<()> {
    writeln!(out, "timestamp,load,demand,ready,billed,desired")?;
    for r in rows {
        let ts = super::trace::format_ts(r.ts);
        writeln!(
            out,
            "{ts},{},{},{},{},{}",
            r.load, r.demand, r.ready, r.billed, r.desired
        )?;
    }
    Ok(())
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ScaleScores {
    pub policy: String,
    /// EVAL.md's cost: `billed` at each step's first decision × step length.
    pub cost: f64,
    pub cost_ratio_to_oracle: Option<f64>,
    /// Instance-hours on the bill: every instance for all the time it was paid for,
    /// including boot time bought ahead between the once-a-step samples of `cost`.
    pub cost_paid: f64,
    pub under_provisioned_time: f64,
    /// Instance-hours short.
    pub shortage: f64,
    pub effective_cost: f64,
    pub under_accuracy: f64,
    pub over_accuracy: f64,
    pub adaptations_per_day: f64,
}

/// The SPEC elasticity scores, from the steps.csv columns alone.
pub fn score(policy: &str, rows: &[StepRow], step_ms: i64) -> ScaleScores {
    let hours = step_ms as f64 / 3_600_000.0;
    let n = rows.len().max(1) as f64;
    let cost = rows.iter().map(|r| r.billed as f64 * hours).sum::<f64>();
    let short: Vec<f64> = rows
        .iter()
        .map(|r| r.demand.saturating_sub(r.ready) as f64)
        .collect();
    let shortage = short.iter().sum::<f64>() * hours;
    let frac = |num: usize, d: usize| if d == 0 { 0.0 } else { num as f64 / d as f64 };
    let changes = rows
        .windows(2)
        .filter(|w| w[0].desired != w[1].desired)
        .count() as f64;
    let days = n * hours / 24.0;
    ScaleScores {
        policy: policy.to_string(),
        cost,
        cost_ratio_to_oracle: None,
        cost_paid: rows.iter().map(|r| r.paid_ms as f64).sum::<f64>() / 3_600_000.0,
        under_provisioned_time: rows.iter().filter(|r| r.ready < r.demand).count() as f64 / n,
        shortage,
        effective_cost: cost + 10.0 * shortage,
        under_accuracy: rows
            .iter()
            .map(|r| frac(r.demand.saturating_sub(r.ready), r.demand))
            .sum::<f64>()
            / n,
        over_accuracy: rows
            .iter()
            .map(|r| frac(r.ready.saturating_sub(r.demand), r.demand))
            .sum::<f64>()
            / n,
        adaptations_per_day: if days > 0.0 { changes / days } else { 0.0 },
    }
}
