//! The per-series detector (`detect::series`, exactly what `vigil backtest detect`
//! measures) run live on the host's key series. It is fed five-minute means of the
//! engine's minute grid: the cadence it was tuned on (NAB's traces), and one at which a
//! week of seasonal history is 2,016 points a series, so four series cost well under a
//! megabyte. At start it is warmed from the stored history, so a restart does not wait
//! a day before it judges again.

use super::forecasts::{self, METRICS};
use crate::collect::Metric;
use crate::detect::Finding;
use crate::detect::series::{self, SeriesConfig, SeriesDetector};
use std::collections::BTreeMap;

pub const STEP_MS: i64 = 300_000;
/// Stored history fed at start: the baseline's week of days and its warm-up day.
const WARM_MS: i64 = 8 * 86_400_000;
/// A flag stays news this long: the healing loop opens an incident from it meanwhile.
pub const FRESH_MS: i64 = 15 * 60_000;
/// Missing slots (a paused or suspended host) told to a detector as missing, at most:
/// after longer, its grid simply continues.
const MAX_MISSING: i64 = 288;

/// What the screen and the healing loop read of one series.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesState {
    /// The latest slot's score, 0..1, undamped: how unusual the series is *now*, which
    /// is what a fix is verified by (the detector's own score is halved after a flag,
    /// which would pass any verification).
    pub score: f64,
    /// The latest flag while it is fresh.
    pub flagged: Option<Finding>,
}

pub struct Anomalies {
    dets: BTreeMap<Metric, SeriesDetector>,
    /// The slot being averaged: (its start, sums, minutes).
    slot: Option<(i64, [f64; 4], usize)>,
    last_slot: Option<i64>,
    pub state: BTreeMap<Metric, SeriesState>,
}

fn detector(m: Metric) -> SeriesDetector {
    SeriesDetector::new(m.name(), SeriesConfig::for_step(STEP_MS))
}

/// The slot's mean of each series, from minute means (a NaN minute is skipped).
fn slot_means(minutes: &[f64]) -> Option<f64> {
    let (s, k) = minutes
        .iter()
        .filter(|v| v.is_finite())
        .fold((0.0, 0usize), |(s, k), v| (s + v, k + 1));
    (k > 0).then(|| s / k as f64)
}

impl Anomalies {
    /// Fed with stored history (any resolution) up to `now`; a flag raised within the
    /// last `FRESH_MS` of it is still news after a restart.
    pub fn warm(history: &BTreeMap<Metric, Vec<(i64, f64)>>, now: i64) -> Anomalies {
        let mut a = Anomalies {
            dets: METRICS.iter().map(|&m| (m, detector(m))).collect(),
            slot: None,
            last_slot: None,
            state: BTreeMap::new(),
        };
        // Only whole slots before the current one; the current one fills live.
        let end = now.div_euclid(STEP_MS) * STEP_MS;
        for m in METRICS {
            let points: Vec<(i64, f64)> = history
                .get(&m)
                .map(|h| {
                    h.iter()
                        .copied()
                        .filter(|&(t, _)| t >= now - WARM_MS && t < end)
                        .collect()
                })
                .unwrap_or_default();
            let (start, minutes) = forecasts::minute_grid(&points, end);
            let per_slot = (STEP_MS / forecasts::STEP_MS) as usize;
            // The grid starts on a minute: skip to the first whole slot.
            let lead =
                ((STEP_MS - start.rem_euclid(STEP_MS)) % STEP_MS / forecasts::STEP_MS) as usize;
            let Some(rest) = minutes.get(lead..) else {
                continue;
            };
            let first = start + lead as i64 * forecasts::STEP_MS;
            for (k, chunk) in rest.chunks(per_slot).enumerate() {
                let ts = first + k as i64 * STEP_MS;
                a.judge(m, ts, slot_means(chunk), now);
                a.last_slot = Some(a.last_slot.map_or(ts, |l| l.max(ts)));
            }
        }
        a
    }

    /// A closed minute's means (`start`: the minute's start), in `METRICS` order.
    pub fn observe_minute(&mut self, start: i64, avg: [f64; 4], now: i64) {
        let slot = start.div_euclid(STEP_MS) * STEP_MS;
        match &mut self.slot {
            Some((s, sums, k)) if *s == slot => {
                for (a, v) in sums.iter_mut().zip(avg) {
                    *a += v;
                }
                *k += 1;
            }
            _ => {
                if let Some((s, sums, k)) = self.slot.take() {
                    self.close_slot(s, sums.map(|x| x / k as f64), now);
                }
                self.slot = Some((slot, avg, 1));
            }
        }
        self.expire(now);
    }

    fn close_slot(&mut self, start: i64, avg: [f64; 4], now: i64) {
        if self.last_slot.is_some_and(|l| start <= l) {
            return;
        }
        let missing = self
            .last_slot
            .map(|l| ((start - l) / STEP_MS - 1).clamp(0, MAX_MISSING))
            .unwrap_or(0);
        for (i, m) in METRICS.iter().enumerate() {
            for k in (1..=missing).rev() {
                self.judge(*m, start - k * STEP_MS, None, now);
            }
            self.judge(*m, start, Some(avg[i]).filter(|v| v.is_finite()), now);
        }
        self.last_slot = Some(start);
    }

    fn judge(&mut self, m: Metric, ts: i64, value: Option<f64>, now: i64) {
        let Some(det) = self.dets.get_mut(&m) else {
            return;
        };
        let j = det.push(ts, value, None);
        let raw = j.baseline.as_ref().map_or(0.0, |b| {
            let n = b
                .novelty
                .unwrap_or(0.0)
                .max(2.0 * b.sustained.unwrap_or(0.0));
            series::score_of(n.min(series::MAX_NOVELTY))
        });
        let st = self.state.entry(m).or_insert(SeriesState {
            score: 0.0,
            flagged: None,
        });
        st.score = raw;
        // The slot's end is when it was seen: only flags seen within FRESH_MS are news.
        if let Some(f) = j.finding
            && ts + STEP_MS > now - FRESH_MS
        {
            st.flagged = Some(f);
        }
    }

    fn expire(&mut self, now: i64) {
        for st in self.state.values_mut() {
            if st
                .flagged
                .as_ref()
                .is_some_and(|f| f.at + STEP_MS <= now - FRESH_MS)
            {
                st.flagged = None;
            }
        }
    }

    /// Series flagged lately, with their findings.
    pub fn fresh(&self) -> impl Iterator<Item = (Metric, &Finding)> {
        self.state
            .iter()
            .filter_map(|(m, s)| s.flagged.as_ref().map(|f| (*m, f)))
    }

    pub fn score(&self, m: Metric) -> Option<f64> {
        self.state.get(&m).map(|s| s.score)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;
    const MIN: i64 = 60_000;

    /// Two days of a CPU that follows the hours of the day, a little noisy.
    fn calm(from: i64, to: i64) -> Vec<(i64, f64)> {
        (0..)
            .map(|i| from + i * MIN)
            .take_while(|&t| t < to)
            .map(|t| {
                let h = (t % DAY) as f64 / DAY as f64 * std::f64::consts::TAU;
                let noise = ((t / MIN) * 7919 % 13) as f64 / 13.0;
                (t, 20.0 + 10.0 * h.sin() + noise)
            })
            .collect()
    }

    fn history(cpu: Vec<(i64, f64)>) -> BTreeMap<Metric, Vec<(i64, f64)>> {
        BTreeMap::from([(Metric::Cpu, cpu)])
    }

    #[test]
    fn a_calm_history_raises_nothing_and_a_spike_in_it_is_news_only_while_fresh() {
        let now = 3 * DAY;
        let a = Anomalies::warm(&history(calm(now - 2 * DAY, now)), now);
        assert_eq!(a.fresh().count(), 0);
        assert!(a.score(Metric::Cpu).is_some_and(|s| s < 0.75));

        // The last ten minutes at 95 %: flagged, and still news after a restart.
        let mut cpu = calm(now - 2 * DAY, now - 10 * MIN);
        cpu.extend((0..10).map(|i| (now - 10 * MIN + i * MIN, 95.0)));
        let a = Anomalies::warm(&history(cpu.clone()), now);
        let flagged: Vec<_> = a.fresh().collect();
        assert_eq!(flagged.len(), 1, "{:?}", a.state);
        let (m, f) = flagged[0];
        assert_eq!(m, Metric::Cpu);
        assert_eq!(f.subject, "cpu_pct");
        assert!(f.evidence("value").is_some_and(|v| v > 90.0), "{f:?}");
        assert!(a.score(Metric::Cpu).is_some_and(|s| s >= 0.75));

        // The same history read an hour later: old news.
        let later = Anomalies::warm(&history(cpu), now + 60 * MIN);
        assert_eq!(later.fresh().count(), 0);
    }

    #[test]
    fn live_minutes_close_slots_and_a_spike_then_calm_clears_the_score() {
        let now = 3 * DAY;
        let mut a = Anomalies::warm(&history(calm(now - 2 * DAY, now)), now);
        let mut t = now;
        let mut feed = |a: &mut Anomalies, mins: i64, v: f64| {
            for _ in 0..mins {
                a.observe_minute(t, [v, 0.0, 0.0, 0.0], t + MIN);
                t += MIN;
            }
        };
        feed(&mut a, 11, 97.0);
        assert_eq!(a.fresh().count(), 1, "{:?}", a.state);
        let during = a.score(Metric::Cpu).unwrap_or(0.0);
        feed(&mut a, 30, 20.0);
        let after = a.score(Metric::Cpu).unwrap_or(1.0);
        assert!(after < during / 2.0, "{during} → {after}");
        // Fifteen minutes after the flag's slot it is no longer news.
        assert_eq!(a.fresh().count(), 0);
    }

    #[test]
    fn no_history_and_gaps_give_no_flags_and_no_panic() {
        let mut a = Anomalies::warm(&BTreeMap::new(), 0);
        assert_eq!(a.fresh().count(), 0);
        a.observe_minute(0, [f64::NAN; 4], MIN);
        a.observe_minute(DAY, [1.0; 4], DAY + MIN);
        a.observe_minute(3 * DAY, [1.0; 4], 3 * DAY + MIN);
        assert_eq!(a.fresh().count(), 0);
    }
}
