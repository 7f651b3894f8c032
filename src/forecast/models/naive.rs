use crate::forecast::{History, Model};

/// Tomorrow looks like now: the last value. Hard to beat a few minutes ahead.
pub struct Naive;

impl Model for Naive {
    fn name(&self) -> &'static str {
        "naive"
    }

    fn min_history(&self, _h: &History) -> usize {
        1
    }

    fn predict(&self, h: &History, horizons: &[usize]) -> Option<Vec<f64>> {
        let last = *h.values.last()?;
        Some(vec![last; horizons.len()])
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Season {
    Daily,
    Weekly,
}

/// The value one season earlier at the same time of day (or week).
pub struct SeasonalNaive(pub Season);

impl SeasonalNaive {
    fn period(&self, h: &History) -> Option<usize> {
        let day = h.day()?;
        Some(match self.0 {
            Season::Daily => day,
            Season::Weekly => day * 7,
        })
    }
}

impl Model for SeasonalNaive {
    fn name(&self) -> &'static str {
        match self.0 {
            Season::Daily => "seasonal-daily",
            Season::Weekly => "seasonal-weekly",
        }
    }

    fn min_history(&self, h: &History) -> usize {
        self.period(h).unwrap_or(usize::MAX)
    }

    fn essential(&self) -> bool {
        matches!(self.0, Season::Daily)
    }

    fn predict(&self, h: &History, horizons: &[usize]) -> Option<Vec<f64>> {
        let m = self.period(h)?;
        let n = h.len();
        if n < m {
            return None;
        }
        Some(
            horizons
                .iter()
                .map(|&s| {
                    // The same slot in the most recent season that has already happened.
                    let back = m * s.div_ceil(m);
                    h.values[n - 1 + s - back]
                })
                .collect(),
        )
    }
}
