//! Which forecast is given at a horizon. Picking the single model with the lowest
//! recent error flips between models whose errors are close, and on bursty load the
//! recent mean is one burst's luck; a convex mix of two models with different errors
//! is often better than both. So the candidates are every model alone and every pair
//! mixed 1:3, 1:1 and 3:1 — stacking on a small grid of weights — each scored by an
//! exponentially weighted mean absolute error, and the lowest leads. Constant memory per
//! candidate: a series keeps a few dozen numbers per horizon, not an error window each.

/// One candidate: `w` × slot `a` + (1 − `w`) × slot `b` (a single model has `a == b`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mix {
    pub a: usize,
    pub b: usize,
    pub w: f64,
}

/// The weights a pair is mixed at.
const WEIGHTS: [f64; 3] = [0.75, 0.5, 0.25];

impl Mix {
    /// Every slot alone, then every pair at each weight.
    pub fn all(slots: usize) -> Vec<Mix> {
        let mut v: Vec<Mix> = (0..slots).map(|a| Mix { a, b: a, w: 1.0 }).collect();
        for a in 0..slots {
            for b in a + 1..slots {
                v.extend(WEIGHTS.iter().map(|&w| Mix { a, b, w }));
            }
        }
        v
    }

    pub fn is_single(&self) -> bool {
        self.a == self.b
    }

    /// The mix's forecast at horizon `k` from each slot's forecasts, where both gave one.
    pub fn value(&self, by_slot: &[Option<Vec<f64>>], k: usize) -> Option<f64> {
        let a = by_slot.get(self.a)?.as_ref()?.get(k)?;
        if self.is_single() {
            return Some(*a);
        }
        let b = by_slot.get(self.b)?.as_ref()?.get(k)?;
        Some(self.w * a + (1.0 - self.w) * b)
    }

    /// How it reads on screen: "linear", or "3/4 linear + 1/4 gbm".
    pub fn name(&self, slot: impl Fn(usize) -> &'static str) -> String {
        if self.is_single() {
            return slot(self.a).to_string();
        }
        let part = |w: f64| match (w * 4.0).round() as u8 {
            1 => "1/4 ",
            2 => "1/2 ",
            _ => "3/4 ",
        };
        format!(
            "{}{} + {}{}",
            part(self.w),
            slot(self.a),
            part(1.0 - self.w),
            slot(self.b)
        )
    }
}

/// An exponentially weighted mean of absolute errors: the plain mean until `span`
/// errors have come, then each new one weighs 1/`span`.
#[derive(Debug, Clone, Copy, Default)]
pub struct EwMae {
    mean: f64,
    n: usize,
}

impl EwMae {
    pub fn push(&mut self, abs_error: f64, span: usize) {
        if !abs_error.is_finite() {
            return;
        }
        self.n += 1;
        let alpha = 1.0 / self.n.min(span.max(1)) as f64;
        self.mean += alpha * (abs_error - self.mean);
    }

    pub fn len(&self) -> usize {
        self.n
    }

    pub fn mean(&self) -> Option<f64> {
        (self.n > 0).then_some(self.mean)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_model_alone_and_every_pair_at_three_weights() {
        let all = Mix::all(3);
        assert_eq!(all.len(), 3 + 3 * 3);
        let by_slot = vec![Some(vec![10.0]), None, Some(vec![20.0])];
        let m = Mix {
            a: 0,
            b: 2,
            w: 0.75,
        };
        assert_eq!(m.value(&by_slot, 0), Some(12.5));
        assert_eq!(Mix { a: 0, b: 1, w: 0.5 }.value(&by_slot, 0), None);
        let names = ["naive", "linear", "gbm"];
        assert_eq!(m.name(|i| names[i]), "3/4 naive + 1/4 gbm");
        assert_eq!(Mix { a: 1, b: 1, w: 1.0 }.name(|i| names[i]), "linear");
    }

    #[test]
    fn the_weighted_error_is_the_mean_until_the_span_then_forgets() {
        let mut e = EwMae::default();
        for x in [1.0, 2.0, 3.0] {
            e.push(x, 4);
        }
        assert_eq!(e.mean(), Some(2.0));
        for _ in 0..200 {
            e.push(10.0, 4);
        }
        assert!((e.mean().unwrap() - 10.0).abs() < 1e-9);
    }
}
