//! Scale proposals: what, why, how sure, at what risk and price, and whether a person
//! must approve. Built from a target's config, its fleet, and the forecast.

use super::cost;
use super::scaling::{Hpa, Limits, Observation, Predictive, PredictiveParams, Rule, ScalePolicy};
use crate::config::ScaleTarget;
use crate::execute::Action;
use crate::forecast::Forecast;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Risk {
    Low,
    Medium,
    High,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    /// Stable per target: a changed proposal keeps its id and gets a new version.
    pub id: String,
    pub version: u32,
    pub target: String,
    /// The series that measures the target's load.
    pub metric: String,
    /// Load one instance carries at the target utilisation.
    pub planned_per_instance: f64,
    pub from: usize,
    pub to: usize,
    /// A vertical proposal: resize every instance to this size (from/to stay equal).
    pub resize: Option<String>,
    pub rule: Rule,
    pub load: f64,
    pub utilisation: f64,
    /// The forecast's upper bound that motivated it (at `quantile`), and when.
    pub p90: Option<f64>,
    pub p90_at: Option<i64>,
    /// The quantile capacity was planned at, e.g. 0.93 for a P93.
    #[serde(default)]
    pub quantile: Option<f64>,
    /// Width of the 80 % band there, in the metric's unit.
    pub band_width: Option<f64>,
    pub model: Option<String>,
    pub mase: Option<f64>,
    pub boot_secs: u64,
    pub risk: Risk,
    pub cost_per_hour: f64,
    pub cost_per_month: f64,
    pub currency: String,
    /// Why a person must approve it; None: it may be auto-approved by rules.
    pub manual: Option<String>,
    pub created: i64,
    /// What runs if it is approved.
    pub action: Action,
    /// For heal and rollback proposals: what happened, in words.
    #[serde(default)]
    pub reason: Option<String>,
}

impl Proposal {
    /// The class auto-approval rules name: scale-out, scale-in, resize, restart, recreate.
    pub fn class(&self) -> &'static str {
        self.action.class(self.from)
    }

    /// A repair that is not about load: a restart, a recreate, a rollback.
    pub fn repair(
        id: String,
        action: Action,
        rule: Rule,
        reason: String,
        manual: Option<String>,
        risk: Risk,
        now: i64,
    ) -> Proposal {
        let (from, to) = match &action {
            Action::Scale { to, .. } => (0, *to),
            _ => (1, 1),
        };
        Proposal {
            id,
            version: 1,
            target: action.subject().to_string(),
            metric: String::new(),
            planned_per_instance: 0.0,
            from,
            to,
            resize: None,
            rule,
            load: 0.0,
            utilisation: 0.0,
            p90: None,
            p90_at: None,
            quantile: None,
            band_width: None,
            model: None,
            mase: None,
            boot_secs: 0,
            risk,
            cost_per_hour: 0.0,
            cost_per_month: 0.0,
            currency: String::new(),
            manual,
            created: now,
            action,
            reason: Some(reason),
        }
    }

    /// One line, as the brief's example reads.
    pub fn summary(&self) -> String {
        if let Some(reason) = &self.reason {
            return format!("{}: {} {}", reason, self.class(), self.action.subject());
        }
        let sign = if self.cost_per_hour >= 0.0 {
            "+"
        } else {
            "−"
        };
        let change = match &self.resize {
            Some(size) => format!("resize {} instance(s) to {size}", self.from),
            None => format!("{} → {} instances", self.from, self.to),
        };
        let mut s = format!(
            "{}: {change}, {sign}{}{:.2}/h",
            self.target,
            self.currency,
            self.cost_per_hour.abs()
        );
        if let (Some(p), Some(at)) = (self.p90, self.p90_at) {
            let at = chrono::DateTime::from_timestamp_millis(at)
                .map(|t| t.format("%H:%M").to_string())
                .unwrap_or_default();
            let q = self.quantile.unwrap_or(0.9) * 100.0;
            s.push_str(&format!(", forecast P{q:.0} {p:.1} at {at}"));
        }
        s.push_str(&format!(", boot takes {} s", self.boot_secs));
        s
    }
}

/// One target's planner: vigil's policy, and HPA beside it for the shadow ledger.
pub struct TargetPlan {
    pub cfg: ScaleTarget,
    policy: Predictive,
    hpa: Hpa,
    /// What vigil would run now (shadow) or runs (live).
    pub instances: usize,
    pub hpa_instances: usize,
    version: u32,
    last: Option<(usize, usize)>,
    pub ledger: Ledger,
}

/// In shadow mode: what following vigil would have cost, against doing nothing and
/// against the HPA baseline, in the configured currency.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ledger {
    pub since: i64,
    pub vigil: f64,
    pub nothing: f64,
    pub hpa: f64,
    pub would_have: Vec<String>,
}

/// Decisions are taken every minute, on the forecast's grid.
pub const INTERVAL_MS: i64 = 60_000;

impl TargetPlan {
    pub fn new(cfg: ScaleTarget, now: i64) -> Self {
        let mut max = cfg.max;
        if cfg.max_monthly_cost > 0.0 {
            max = max.min(cost::max_instances_for_budget(
                cfg.max_monthly_cost,
                cfg.price_per_hour,
            ));
        }
        let limits = Limits {
            min: cfg.min,
            max: max.max(cfg.min),
        };
        let params = PredictiveParams {
            target: cfg.target,
            reactive_target: cfg.target,
            emergency: cfg.emergency,
            stabilisation_ms: cfg.stabilisation.as_millis() as i64,
            cooldown_ms: cfg.cooldown.as_millis() as i64,
        };
        TargetPlan {
            policy: Predictive::new(params, limits.clone()),
            hpa: Hpa::new(cfg.target, cfg.stabilisation.as_millis() as i64, limits),
            instances: cfg.instances,
            hpa_instances: cfg.instances,
            version: 0,
            last: None,
            ledger: Ledger {
                since: now,
                ..Ledger::default()
            },
            cfg,
        }
    }

    /// One decision on the latest load and forecast; a proposal when the count changes.
    pub fn decide(
        &mut self,
        now: i64,
        load: f64,
        forecast: Option<&Forecast>,
        currency: &str,
    ) -> Option<Proposal> {
        let c = &self.cfg;
        // The forecast must reach past the time a new instance takes to serve.
        let lead_min = (c.boot.as_millis() as i64 + INTERVAL_MS) as f64 / 60_000.0;
        let (within, after): (Vec<_>, Option<f64>) = forecast
            .map(|f| {
                let first_beyond = f
                    .horizons
                    .iter()
                    .position(|h| h.steps as f64 >= lead_min)
                    .unwrap_or(f.horizons.len().saturating_sub(1));
                let end = first_beyond.min(f.horizons.len().saturating_sub(1));
                (
                    f.horizons[..=end].to_vec(),
                    f.horizons.get(end + 1).map(|h| h.plan_hi),
                )
            })
            .unwrap_or_default();
        let peak = within.iter().max_by(|a, b| a.plan_hi.total_cmp(&b.plan_hi));
        let obs = Observation {
            now,
            load,
            ready: self.instances,
            billed: self.instances,
            capacity: c.capacity,
            forecast_hi: peak.map(|h| h.plan_hi),
            // The horizon after the lead time: what a scale-in now would buy back.
            hold_hi: after,
        };
        let d = self.policy.decide(&obs);
        let hpa = self.hpa.decide(&Observation {
            ready: self.hpa_instances,
            billed: self.hpa_instances,
            ..obs
        });
        let hours = INTERVAL_MS as f64 / 3_600_000.0;
        self.ledger.vigil += self.instances as f64 * c.price_per_hour * hours;
        self.ledger.nothing += c.instances as f64 * c.price_per_hour * hours;
        self.ledger.hpa += self.hpa_instances as f64 * c.price_per_hour * hours;
        self.hpa_instances = hpa.desired;
        // Already at the ceiling and still short: a bigger size is the only way up.
        let resize = match (&c.resize_to, d.rule) {
            (Some(f), Rule::ClampedMax) if d.desired <= self.instances => Some(f.clone()),
            _ => None,
        };
        if d.desired == self.instances && resize.is_none() {
            self.last = None;
            return None;
        }
        let (to, hourly, rule) = match &resize {
            Some(f) => (
                self.instances,
                self.instances as f64 * (f.price_per_hour - c.price_per_hour),
                Rule::Vertical,
            ),
            None => (
                d.desired,
                cost::hourly_delta(self.instances, d.desired, c.price_per_hour),
                d.rule,
            ),
        };
        let d = super::scaling::Decision { desired: to, rule };
        if self.last != Some((self.instances, d.desired)) {
            self.version += 1;
            self.last = Some((self.instances, d.desired));
        }
        let step = d.desired.abs_diff(self.instances);
        let manual = if resize.is_some() {
            Some("a resize restarts every instance".to_string())
        } else if d.rule == Rule::Emergency {
            Some("emergency actions need a person".to_string())
        } else if d.desired > self.instances && step > c.manual_above {
            Some(format!("scale-out by more than {}", c.manual_above))
        } else if d.desired < self.instances && d.desired < c.manual_below {
            Some(format!("scale-in below {}", c.manual_below))
        } else {
            None
        };
        let risk = match (d.rule, d.desired < self.instances) {
            (Rule::Emergency, _) => Risk::High,
            (Rule::Vertical, _) => Risk::Medium,
            (_, true) => Risk::Medium,
            _ if step > c.manual_above => Risk::Medium,
            _ => Risk::Low,
        };
        let k = forecast
            .and_then(|f| peak.and_then(|p| f.horizons.iter().position(|h| h.steps == p.steps)));
        Some(Proposal {
            id: format!("scale:{}", c.name),
            version: self.version,
            target: c.name.clone(),
            metric: c.metric.clone(),
            planned_per_instance: c.capacity * c.target,
            from: self.instances,
            to: d.desired,
            resize: resize.as_ref().map(|f| f.name.clone()),
            rule: d.rule,
            load,
            utilisation: obs.utilisation(),
            p90: peak.map(|h| h.plan_hi),
            p90_at: peak.map(|h| h.ts),
            quantile: forecast.filter(|_| peak.is_some()).map(|f| f.plan_quantile),
            band_width: peak.map(|h| h.hi - h.lo),
            model: peak.map(|h| h.model.clone()),
            mase: forecast.zip(k).and_then(|(f, k)| f.mase(k)),
            boot_secs: c.boot.as_secs(),
            risk,
            cost_per_hour: hourly,
            cost_per_month: cost::monthly(hourly),
            currency: currency.to_string(),
            action: match &resize {
                Some(f) => Action::Resize {
                    target: c.name.clone(),
                    cpus: f.cpus,
                    memory_mib: f.memory_mib,
                },
                None => Action::Scale {
                    target: c.name.clone(),
                    kind: c.kind,
                    to: d.desired,
                },
            },
            manual,
            created: now,
            reason: None,
        })
    }

    /// In shadow mode the proposal is not run, but the ledger follows it as if it were.
    pub fn shadow_follow(&mut self, p: &Proposal) {
        self.ledger.would_have.push(p.summary());
        if self.ledger.would_have.len() > 50 {
            self.ledger.would_have.remove(0);
        }
        self.instances = p.to;
        if p.resize.is_some()
            && let Some(f) = self.cfg.resize_to.take()
        {
            self.cfg.capacity = f.capacity;
            self.cfg.price_per_hour = f.price_per_hour;
        }
        self.last = None;
    }
}
