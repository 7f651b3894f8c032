//! What a scaling change costs, for per-second and per-hour billing.

use serde::{Deserialize, Serialize};

/// Hours in an average month, as cloud price lists count them.
pub const HOURS_PER_MONTH: f64 = 730.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Billing {
    Second,
    Hour,
}

/// The money a change from `from` to `to` instances adds per hour (negative: saves).
pub fn hourly_delta(from: usize, to: usize, price_per_hour: f64) -> f64 {
    (to as f64 - from as f64) * price_per_hour
}

pub fn monthly(hourly: f64) -> f64 {
    hourly * HOURS_PER_MONTH
}

/// What a scale-out held for `hours` costs: per-second billing pays the time used,
/// per-hour billing pays every hour started.
pub fn scale_out_cost(added: usize, hours: f64, price_per_hour: f64, billing: Billing) -> f64 {
    let billed_hours = match billing {
        Billing::Second => hours.max(0.0),
        Billing::Hour => hours.max(0.0).ceil().max(1.0),
    };
    added as f64 * billed_hours * price_per_hour
}

/// The most instances a monthly budget pays for, running all month.
pub fn max_instances_for_budget(budget_per_month: f64, price_per_hour: f64) -> usize {
    if price_per_hour <= 0.0 {
        return usize::MAX;
    }
    (budget_per_month / monthly(price_per_hour))
        .floor()
        .max(0.0) as usize
}
