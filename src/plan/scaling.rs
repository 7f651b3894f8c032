//! Scaling policies. Each decides a *desired* instance count (never a delta) from what
//! it can see now: the current load, the fleet, and for the predictive policy the
//! forecast's upper bound (at `plan_quantile`) for what starts within the lead time
//! (boot time plus one decision interval).

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// What a policy sees at a decision.
#[derive(Debug, Clone, Copy)]
pub struct Observation {
    /// Unix ms.
    pub now: i64,
    /// The load just measured (same unit as `capacity`).
    pub load: f64,
    /// Instances serving.
    pub ready: usize,
    /// Instances paid for (serving or booting).
    pub billed: usize,
    /// Load one instance carries at 100 %.
    pub capacity: f64,
    /// The forecast's planning bound (`plan_hi`) over the steps that start before an
    /// instance bought now could serve, if there is a forecast.
    pub forecast_hi: Option<f64>,
    /// The planning bound of the steps just after those, up to one more step: what a
    /// scale-in now would have to buy back. It lets a scale-in skip the stabilisation
    /// window when the forecast says the instances will not be needed again.
    pub hold_hi: Option<f64>,
}

impl Observation {
    /// Utilisation of the serving instances.
    pub fn utilisation(&self) -> f64 {
        if self.ready == 0 {
            f64::INFINITY
        } else {
            self.load / (self.ready as f64 * self.capacity)
        }
    }
}

/// Why the count is what it is: the rule that fired, for the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    Hold,
    Predictive,
    Reactive,
    Emergency,
    /// Scale-in held back by the stabilisation window.
    Stabilised,
    Cooldown,
    ClampedMin,
    ClampedMax,
    Threshold,
    /// At the most instances allowed and still short: a bigger size instead.
    Vertical,
    /// A container exited: a playbook's repair.
    Heal,
    /// Undo an action whose promised effect did not come.
    Rollback,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    pub desired: usize,
    pub rule: Rule,
}

pub trait ScalePolicy {
    fn name(&self) -> &'static str;
    fn decide(&mut self, obs: &Observation) -> Decision;
}

#[derive(Debug, Clone)]
pub struct Limits {
    pub min: usize,
    pub max: usize,
}

impl Limits {
    fn clamp(&self, d: Decision) -> Decision {
        if d.desired < self.min {
            Decision {
                desired: self.min,
                rule: Rule::ClampedMin,
            }
        } else if d.desired > self.max {
            Decision {
                desired: self.max,
                rule: Rule::ClampedMax,
            }
        } else {
            d
        }
    }
}

/// The Kubernetes HPA rule: desired = ceil(current × utilisation / target), nothing
/// within the tolerance of the target.
pub fn hpa_desired(current: usize, utilisation: f64, target: f64, tolerance: f64) -> usize {
    let ratio = utilisation / target;
    if !ratio.is_finite() {
        return current.max(1);
    }
    if (ratio - 1.0).abs() <= tolerance {
        return current;
    }
    (current as f64 * ratio).ceil() as usize
}

/// HPA-style scale-down stabilisation: the highest recommendation of the window.
#[derive(Debug, Clone)]
struct Stabiliser {
    window_ms: i64,
    recent: VecDeque<(i64, usize)>,
}

impl Stabiliser {
    fn new(window_ms: i64) -> Self {
        Stabiliser {
            window_ms,
            recent: VecDeque::new(),
        }
    }

    fn apply(&mut self, now: i64, recommended: usize) -> usize {
        self.recent.push_back((now, recommended));
        while self
            .recent
            .front()
            .is_some_and(|&(t, _)| t <= now - self.window_ms)
        {
            self.recent.pop_front();
        }
        self.recent
            .iter()
            .map(|&(_, r)| r)
            .max()
            .unwrap_or(recommended)
    }
}

/// The Kubernetes Horizontal Pod Autoscaler as a baseline.
pub struct Hpa {
    pub target: f64,
    pub tolerance: f64,
    limits: Limits,
    stabiliser: Stabiliser,
}

impl Hpa {
    pub fn new(target: f64, stabilisation_ms: i64, limits: Limits) -> Self {
        Hpa {
            target,
            tolerance: 0.1,
            limits,
            stabiliser: Stabiliser::new(stabilisation_ms),
        }
    }
}

impl ScalePolicy for Hpa {
    fn name(&self) -> &'static str {
        "hpa"
    }

    fn decide(&mut self, o: &Observation) -> Decision {
        let current = o.ready.max(1);
        let rec = hpa_desired(current, o.utilisation(), self.target, self.tolerance).max(1);
        let desired = self.stabiliser.apply(o.now, rec);
        let rule = if desired > rec {
            Rule::Stabilised
        } else if desired == o.billed {
            Rule::Hold
        } else {
            Rule::Reactive
        };
        self.limits.clamp(Decision { desired, rule })
    }
}

/// The classic rule: +1 above 70 % for five minutes, −1 below 30 % for five minutes,
/// five minutes of cooldown after any change.
pub struct Threshold {
    limits: Limits,
    above_since: Option<i64>,
    below_since: Option<i64>,
    last_change: Option<i64>,
}

impl Threshold {
    pub fn new(limits: Limits) -> Self {
        Threshold {
            limits,
            above_since: None,
            below_since: None,
            last_change: None,
        }
    }
}

const FIVE_MIN: i64 = 300_000;

impl ScalePolicy for Threshold {
    fn name(&self) -> &'static str {
        "threshold"
    }

    fn decide(&mut self, o: &Observation) -> Decision {
        let u = o.utilisation();
        self.above_since = if u > 0.7 {
            self.above_since.or(Some(o.now))
        } else {
            None
        };
        self.below_since = if u < 0.3 {
            self.below_since.or(Some(o.now))
        } else {
            None
        };
        let cooled = self.last_change.is_none_or(|t| o.now - t >= FIVE_MIN);
        let mut d = Decision {
            desired: o.billed,
            rule: Rule::Hold,
        };
        if cooled && self.above_since.is_some_and(|t| o.now - t >= FIVE_MIN) {
            d = Decision {
                desired: o.billed + 1,
                rule: Rule::Threshold,
            };
        } else if cooled && self.below_since.is_some_and(|t| o.now - t >= FIVE_MIN) {
            d = Decision {
                desired: o.billed.saturating_sub(1).max(1),
                rule: Rule::Threshold,
            };
        }
        let d = self.limits.clamp(d);
        if d.desired != o.billed {
            self.last_change = Some(o.now);
            self.above_since = None;
            self.below_since = None;
        }
        d
    }
}

/// What an instance-hour short costs in instance-hours: ../shared/EVAL.md's effective
/// cost, and roughly what an operator pays for a broken latency objective.
pub const SHORTAGE_PENALTY: f64 = 10.0;

/// The quantile of the forecast to plan capacity at, as a newsvendor's critical ratio.
/// An instance bought for a rise that does not come is paid for its boot time and then
/// released; a rise that is not bought for stays short until it is seen (the next
/// sample, `step_ms`) and a reaction has booted. With a 5-minute series and a 2-minute
/// boot that is P96; on a one-minute series, P91.
pub fn plan_quantile(step_ms: i64, boot_ms: i64) -> f64 {
    let step = step_ms.max(1);
    let boot = boot_ms.max(0) as f64;
    let short = (step * ((boot_ms + step - 1) / step).max(1)) as f64 * SHORTAGE_PENALTY;
    short / (short + boot)
}

#[derive(Debug, Clone)]
pub struct PredictiveParams {
    /// Utilisation to plan the forecast's upper bound at.
    pub target: f64,
    /// Utilisation the reactive (HPA) part aims at on the current load.
    pub reactive_target: f64,
    /// Above this utilisation, scale out at once, cooldown or not.
    pub emergency: f64,
    pub stabilisation_ms: i64,
    pub cooldown_ms: i64,
}

impl Default for PredictiveParams {
    fn default() -> Self {
        PredictiveParams {
            target: 0.8,
            reactive_target: 0.8,
            emergency: 0.9,
            stabilisation_ms: 300_000,
            cooldown_ms: 0,
        }
    }
}

/// Instances a forecast-led scale-in must free before it is worth a change.
pub const HOLD_SLACK: usize = 2;

/// vigil's policy: the highest of a predictive count (the forecast's upper band at the
/// lead time over capacity × target) and the reactive HPA count on the current load;
/// scale-in stabilised; an emergency above the threshold skips the cooldown.
pub struct Predictive {
    pub params: PredictiveParams,
    limits: Limits,
    stabiliser: Stabiliser,
    last_change: Option<i64>,
}

impl Predictive {
    pub fn new(params: PredictiveParams, limits: Limits) -> Self {
        let stabiliser = Stabiliser::new(params.stabilisation_ms);
        Predictive {
            params,
            limits,
            stabiliser,
            last_change: None,
        }
    }
}

impl ScalePolicy for Predictive {
    fn name(&self) -> &'static str {
        "predictive"
    }

    fn decide(&mut self, o: &Observation) -> Decision {
        let p = &self.params;
        let reactive = (o.load / (o.capacity * p.reactive_target)).ceil().max(1.0) as usize;
        // Instances that carry a planning bound at the target utilisation.
        let carrying = |hi: f64| (hi.max(0.0) / (o.capacity * p.target)).ceil() as usize;
        let predictive = o.forecast_hi.map(carrying).unwrap_or(0);
        // Stabilise the reactive count only: it is the noisy one. The predictive count
        // already looks a boot time ahead, and holding it would pay for the past.
        let mut stabilised = self.stabiliser.apply(o.now, reactive);
        // Scale in at once, past the stabilisation window, to what the forecast says
        // the following step needs: holding more pays for the past. Only when that
        // frees at least `HOLD_SLACK` instances, so a bound that wavers by one does not
        // turn every step into a change.
        if let Some(hold) = o.hold_hi {
            let floor = carrying(hold).max(reactive).max(predictive);
            if stabilised >= floor + HOLD_SLACK {
                stabilised = floor;
            }
        }
        let mut d = if predictive >= stabilised && predictive > reactive {
            Decision {
                desired: predictive,
                rule: Rule::Predictive,
            }
        } else if stabilised > reactive {
            Decision {
                desired: stabilised,
                rule: Rule::Stabilised,
            }
        } else {
            Decision {
                desired: reactive,
                rule: Rule::Reactive,
            }
        };
        if d.desired == o.billed {
            d.rule = Rule::Hold;
        }
        let emergency = o.utilisation() > p.emergency && d.desired > o.billed;
        let cooled = self.last_change.is_none_or(|t| o.now - t >= p.cooldown_ms);
        if !cooled && !emergency && d.desired != o.billed {
            d = Decision {
                desired: o.billed,
                rule: Rule::Cooldown,
            };
        } else if emergency {
            d.rule = Rule::Emergency;
        }
        let d = self.limits.clamp(d);
        if d.desired != o.billed {
            self.last_change = Some(o.now);
        }
        d
    }
}
