//! Verify a scale by its outcome: the replicas running is the state a scale promised;
//! the utilisation its rule reads moving the right way is what it was for. A scale-out
//! must bring the per-replica utilisation down by a share of what the new count
//! promised; a scale-in must leave it under the rule's target (and never push it into
//! the emergency band). Pure: the engine feeds the readings and the clock.

/// What a verified scale is expected to do to its target's utilisation.
#[derive(Debug, Clone, PartialEq)]
pub struct Expect {
    /// Replicas before and after.
    pub from: usize,
    pub to: usize,
    /// Per-replica utilisation when the scale was decided (1.0 = at capacity).
    pub before: f64,
    /// The share of the promised fall a scale-out must bring (0 to 1).
    pub share: f64,
    /// The rule's target utilisation: a scale-in must stay under it.
    pub ceiling: f64,
    /// The rule's emergency utilisation: a scale-in that reaches it failed at once.
    pub emergency: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Judgement {
    /// Not decided yet: wait for more readings or the deadline.
    Pending,
    Helped(String),
    DidNotHelp(String),
    /// The deadline passed without a reading: nothing can be said either way.
    Unknown(String),
}

impl Expect {
    pub fn scale_out(&self) -> bool {
        self.to > self.from
    }

    /// The per-replica utilisation a scale-out must reach: `before`, lowered by
    /// `share` of the fall from `from` to `to` replicas at the same load.
    pub fn required(&self) -> f64 {
        let promised = 1.0 - self.from as f64 / self.to.max(1) as f64;
        self.before * (1.0 - self.share.clamp(0.0, 1.0) * promised)
    }
}

fn pct(u: f64) -> String {
    format!("{:.0}%", u * 100.0)
}

fn median(v: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

/// The judgement on the readings since the scale was verified (per-replica
/// utilisation, oldest first), `due` once its deadline has passed.
pub fn judge(e: &Expect, readings: &[f64], due: bool) -> Judgement {
    let last = readings.iter().rev().copied().find(|x| x.is_finite());
    if e.from == e.to || !e.before.is_finite() {
        return Judgement::Unknown("nothing to compare it with".into());
    }
    if e.scale_out() {
        let need = e.required();
        if let Some(u) = last
            && u <= need
        {
            return Judgement::Helped(format!(
                "utilisation per replica {} → {} (needed {} or less)",
                pct(e.before),
                pct(u),
                pct(need)
            ));
        }
        return match (due, last) {
            (false, _) => Judgement::Pending,
            (true, None) => Judgement::Unknown("no reading of its utilisation in time".into()),
            (true, Some(u)) => Judgement::DidNotHelp(format!(
                "utilisation per replica {} → {}, not down to {} in time",
                pct(e.before),
                pct(u),
                pct(need)
            )),
        };
    }
    if let Some(u) = last
        && u >= e.emergency
    {
        return Judgement::DidNotHelp(format!(
            "utilisation per replica {} after the scale-in: at or above its emergency level {}",
            pct(u),
            pct(e.emergency)
        ));
    }
    if !due {
        return Judgement::Pending;
    }
    // A scale-in is judged on the whole window, so one busy moment does not undo it.
    match median(readings) {
        None => Judgement::Unknown("no reading of its utilisation in time".into()),
        Some(m) if m <= e.ceiling => Judgement::Helped(format!(
            "utilisation per replica {} (median), under its target {}",
            pct(m),
            pct(e.ceiling)
        )),
        Some(m) => Judgement::DidNotHelp(format!(
            "utilisation per replica {} (median) after the scale-in, above its target {}",
            pct(m),
            pct(e.ceiling)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expect(from: usize, to: usize, before: f64) -> Expect {
        Expect {
            from,
            to,
            before,
            share: 0.5,
            ceiling: 0.6,
            emergency: 0.9,
        }
    }

    #[test]
    fn a_scale_out_must_bring_half_of_the_fall_it_promised() {
        // 2 → 4 promises 80 % → 40 %; half of that fall is down to 60 %.
        let e = expect(2, 4, 0.8);
        assert!((e.required() - 0.6).abs() < 1e-9);
        assert_eq!(
            judge(&e, &[0.7, 0.55], false),
            Judgement::Helped("utilisation per replica 80% → 55% (needed 60% or less)".into())
        );
        assert_eq!(judge(&e, &[0.7], false), Judgement::Pending);
        assert_eq!(
            judge(&e, &[0.7, 0.75], true),
            Judgement::DidNotHelp(
                "utilisation per replica 80% → 75%, not down to 60% in time".into()
            )
        );
    }

    #[test]
    fn a_scale_out_with_no_reading_by_its_deadline_is_unknown_not_failed() {
        let e = expect(1, 3, 2.0);
        assert_eq!(judge(&e, &[], false), Judgement::Pending);
        assert_eq!(
            judge(&e, &[f64::NAN], true),
            Judgement::Unknown("no reading of its utilisation in time".into())
        );
    }

    #[test]
    fn a_scale_in_must_stay_under_its_target_over_the_window() {
        let e = expect(4, 2, 0.25);
        assert_eq!(judge(&e, &[0.4, 0.5], false), Judgement::Pending);
        // One busy reading above the target does not undo it; the median decides.
        assert_eq!(
            judge(&e, &[0.4, 0.7, 0.5], true),
            Judgement::Helped("utilisation per replica 50% (median), under its target 60%".into())
        );
        assert_eq!(
            judge(&e, &[0.65, 0.7, 0.5], true),
            Judgement::DidNotHelp(
                "utilisation per replica 65% (median) after the scale-in, above its target 60%"
                    .into()
            )
        );
    }

    #[test]
    fn a_scale_in_that_reaches_the_emergency_level_failed_at_once() {
        let e = expect(3, 1, 0.3);
        assert_eq!(
            judge(&e, &[0.5, 0.95], false),
            Judgement::DidNotHelp(
                "utilisation per replica 95% after the scale-in: at or above its emergency level 90%"
                    .into()
            )
        );
    }

    #[test]
    fn a_share_of_zero_accepts_any_reading_not_above_the_start() {
        let e = Expect {
            share: 0.0,
            ..expect(1, 2, 0.8)
        };
        assert!(matches!(judge(&e, &[0.8], false), Judgement::Helped(_)));
        assert!(matches!(judge(&e, &[0.81], true), Judgement::DidNotHelp(_)));
    }
}
