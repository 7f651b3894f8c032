//! A bounded window of the latest values, kept sorted as well, so a median or any
//! quantile of it costs a lookup and each new value a binary search and a shift.

use std::collections::VecDeque;

#[derive(Debug, Clone)]
pub struct SortedWindow {
    cap: usize,
    order: VecDeque<f64>,
    sorted: Vec<f64>,
}

impl SortedWindow {
    /// A window of at most `cap` values (at least 1).
    pub fn new(cap: usize) -> Self {
        let cap = cap.max(1);
        SortedWindow {
            cap,
            order: VecDeque::with_capacity(cap),
            sorted: Vec::with_capacity(cap),
        }
    }

    /// Adds a value, dropping the oldest when full. Non-finite values are ignored: a
    /// NaN would break the ordering every quantile relies on.
    pub fn push(&mut self, v: f64) {
        if !v.is_finite() {
            return;
        }
        if self.order.len() == self.cap
            && let Some(old) = self.order.pop_front()
        {
            let i = self.sorted.partition_point(|x| *x < old);
            if i < self.sorted.len() {
                self.sorted.remove(i);
            }
        }
        self.order.push_back(v);
        let i = self.sorted.partition_point(|x| *x < v);
        self.sorted.insert(i, v);
    }

    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// The q-quantile (0..=1), linearly interpolated; None when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        quantile_sorted(&self.sorted, q)
    }

    pub fn median(&self) -> Option<f64> {
        self.quantile(0.5)
    }

    /// The k-th largest value (1: the largest); None when there are fewer than k.
    pub fn largest(&self, k: usize) -> Option<f64> {
        let n = self.sorted.len();
        (1..=n).contains(&k).then(|| self.sorted[n - k])
    }

    /// The values, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = f64> + '_ {
        self.order.iter().copied()
    }
}

/// The q-quantile of sorted values, linearly interpolated.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let f = pos - lo as f64;
    Some(sorted[lo] + f * (sorted[hi] - sorted[lo]))
}

/// The median of finite values (copied and sorted); None when there are none.
pub fn median(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    quantile_sorted(&v, 0.5)
}

/// Theil–Sen slope per step of `(x, y)` points: the median of pairwise slopes, robust
/// to outliers (up to 29 % of them). Pairs are thinned to at most `max_pairs` so the
/// cost stays bounded on long histories.
pub fn theil_sen(points: &[(f64, f64)], max_pairs: usize) -> Option<f64> {
    let n = points.len();
    if n < 2 {
        return None;
    }
    let total = n * (n - 1) / 2;
    let stride = total.div_ceil(max_pairs.max(1)).max(1);
    let mut slopes = Vec::with_capacity(total.min(max_pairs) + 1);
    let mut k = 0usize;
    for i in 0..n {
        for j in i + 1..n {
            if k.is_multiple_of(stride) {
                let dx = points[j].0 - points[i].0;
                if dx != 0.0 {
                    slopes.push((points[j].1 - points[i].1) / dx);
                }
            }
            k += 1;
        }
    }
    median(slopes)
}
