//! Verify by outcome: did the playbook's metric move as far as it promised, in the
//! direction that is better for it?

use super::{Check, Improvement, higher_is_better};

/// Whether `now` is better than `before` by the check's amount.
pub fn improved(check: &Check, before: f64, now: f64) -> bool {
    if !(before.is_finite() && now.is_finite()) {
        return false;
    }
    let up = higher_is_better(&check.metric).unwrap_or(false);
    let gain = if up { now - before } else { before - now };
    match check.improves_by {
        Improvement::By(v) => gain >= v,
        Improvement::Percent(p) => before.abs() > f64::EPSILON && gain >= before.abs() * p / 100.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn check(metric: &str, by: Improvement) -> Check {
        Check {
            metric: metric.into(),
            improves_by: by,
            within: Duration::from_secs(60),
        }
    }

    #[test]
    fn a_container_back_up_improves_by_one() {
        let c = check("container_up", Improvement::By(1.0));
        assert!(improved(&c, 0.0, 1.0));
        assert!(!improved(&c, 0.0, 0.0));
        assert!(!improved(&c, 1.0, 1.0));
    }

    #[test]
    fn memory_must_fall_by_its_share() {
        let c = check("container_mem_pct", Improvement::Percent(30.0));
        assert!(improved(&c, 60.0, 40.0));
        assert!(!improved(&c, 60.0, 45.0));
        assert!(!improved(&c, 60.0, 70.0));
        assert!(!improved(&c, f64::NAN, 1.0));
    }

    #[test]
    fn disk_must_fall_by_points() {
        let c = check("disk_used_pct", Improvement::By(5.0));
        assert!(improved(&c, 90.0, 84.0));
        assert!(!improved(&c, 90.0, 86.0));
    }
}
