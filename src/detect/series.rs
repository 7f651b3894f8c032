//! The detector for one series, as the engine and `vigil backtest detect` run it: the
//! baseline's novelty (optionally fused with an isolation forest over the shape of the
//! latest points), turned into a 0..1 score, a flag, and a finding with its evidence.
//!
//! One alert per incident: after a flag, the series' after-effects (a level shift stays
//! far from the old level until the baseline catches up) are damped for `refractory`
//! points, unless something clearly larger than what raised the flag comes.

use super::baseline::{Baseline, BaselineConfig, BaselineScore};
use super::forest::{ForestConfig, Multivariate};
use super::shape::{Shape, ShapeConfig, ShapeScore};
use super::window::SortedWindow;
use super::{Finding, FindingKind, ev};

#[derive(Debug, Clone, PartialEq)]
pub struct SeriesConfig {
    pub baseline: BaselineConfig,
    /// The shape forest, fused with the baseline when set.
    pub forest: Option<ForestConfig>,
    /// Score at or above which a sample is flagged.
    pub flag_at: f64,
    /// Points after a flag during which the score is damped.
    pub refractory: usize,
    /// The factor the score is damped by then.
    pub damp: f64,
    /// Score at or above which a sample, flagged or not, opens the damping: a near miss
    /// is the incident's first sign as much as a flag is, and the points after it that
    /// score as high again are that incident, not a new one.
    pub watch_at: f64,
    /// How many times the novelty that opened the damping a point needs to escape it
    /// (an incident that clearly grows).
    pub escape: f64,
    /// Novelty above which an incident is taken to have begun (its start time is the
    /// first of a run of such points).
    pub onset: f64,
    /// The weight of the sustained (hour-mean) novelty beside the point one. An hour's
    /// mean is smoother than any one point, so its own tail is tighter and a lasting
    /// shift stands out less in it; 2 was the best of 0.7–3 on the development traces.
    pub sustained_weight: f64,
}

impl SeriesConfig {
    pub fn for_step(step_ms: i64) -> Self {
        let per_day = (86_400_000 / step_ms.max(1)).clamp(1, 1_440) as usize;
        SeriesConfig {
            baseline: BaselineConfig::for_step(step_ms),
            forest: None,
            flag_at: 0.75,
            refractory: (per_day * 3 / 5).max(12),
            damp: 0.5,
            watch_at: 0.70,
            escape: 3.5,
            onset: 1.0,
            sustained_weight: 2.0,
        }
    }
}

/// The largest novelty scored (0.98): see `SeriesDetector::push`. Fifty times the
/// series' 99th percentile is past telling sizes apart: up there the deviation of an
/// idle series is counted in its scale floor, so a burst that saturates says nothing
/// about whether it is 3.5 times larger than the one that opened the damping (the
/// escape), and a cap of 100 let an ordinary disk-write burst escape a damping opened
/// at novelty 15-28. Caps of 10-70 scored alike on the development traces (NAB all
/// files 74.0 against 73.9 at 100, one false point fewer).
pub const MAX_NOVELTY: f64 = 50.0;

/// Novelty (1 = the series' own tail quantile of deviations) → 0..1: u / (1 + u), so
/// 1 is 0.5, 3 is 0.75, and large novelties stay apart (10 is 0.91, 50 is 0.98) for
/// a threshold to tell them apart.
pub fn score_of(novelty: f64) -> f64 {
    if novelty.is_nan() || novelty <= 0.0 {
        return 0.0;
    }
    if novelty.is_infinite() {
        return 1.0;
    }
    novelty / (1.0 + novelty)
}

/// One sample's judgement.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    pub ts: i64,
    /// 0..1; 0 during warm-up and on a missing sample.
    pub score: f64,
    pub flag: bool,
    /// The baseline's view of the sample, when it was scored.
    pub baseline: Option<BaselineScore>,
    /// Set when flagged.
    pub finding: Option<Finding>,
}

pub struct SeriesDetector {
    subject: String,
    cfg: SeriesConfig,
    baseline: Baseline,
    forest: Option<Multivariate<4>>,
    shape: Option<Shape>,
    prev: Option<f64>,
    recent: SortedWindow,
    /// Points since the damping opened, the novelty that opened it, and whether a flag
    /// did (a near miss damps the score but never holds back a flag: a novelty that keeps
    /// rising, such as a flat line growing longer, must still raise its alert).
    last_flag: Option<(usize, f64, bool)>,
    /// The current flat run has raised its alert: a stopped collector is one
    /// incident however long it stays stopped, so the run is not news again.
    flat_alerted: bool,
    run_start: Option<i64>,
}

impl SeriesDetector {
    /// The detector with its shape channels (flat line, roughness) configured for
    /// the interval.
    pub fn new(subject: impl Into<String>, cfg: SeriesConfig) -> Self {
        let shape = ShapeConfig::for_step(cfg.baseline.step_ms);
        Self::with_shape(subject, cfg, Some(shape))
    }

    /// The detector with the given shape channels (None: the baseline alone).
    pub fn with_shape(
        subject: impl Into<String>,
        cfg: SeriesConfig,
        shape: Option<ShapeConfig>,
    ) -> Self {
        SeriesDetector {
            subject: subject.into(),
            shape: shape.map(Shape::new),
            baseline: Baseline::new(cfg.baseline.clone()),
            forest: cfg.forest.clone().map(Multivariate::new),
            prev: None,
            recent: SortedWindow::new(cfg.baseline.recent),
            last_flag: None,
            flat_alerted: false,
            run_start: None,
            cfg,
        }
    }

    /// Judges the sample at `ts` (None: missing) against everything before it.
    /// `forecast` is the forecast's one-step point for it, where one runs.
    pub fn push(&mut self, ts: i64, value: Option<f64>, forecast: Option<f64>) -> Judgement {
        if let Some((since, _, _)) = &mut self.last_flag {
            *since += 1;
        }
        let b = self.baseline.push(value, forecast);
        let shape = self.shape.as_mut().and_then(|s| s.push(value));
        let Some(b) = b else {
            return Judgement {
                ts,
                score: 0.0,
                flag: false,
                baseline: None,
                finding: None,
            };
        };
        let mut novelty = b
            .novelty
            .unwrap_or(0.0)
            .max(self.cfg.sustained_weight * b.sustained.unwrap_or(0.0));
        if shape.as_ref().is_some_and(|s| s.run <= 1) {
            self.flat_alerted = false;
        }
        let shape_novelty = shape.as_ref().map(|s| self.shape_novelty(s));
        if b.novelty.is_some()
            && let Some(n) = shape_novelty
        {
            novelty = novelty.max(n);
        }
        let mut forest_novelty = None;
        if let Some(f) = &mut self.forest {
            let step = self.prev.map_or(0.0, |p| (b.value - p) / b.scale);
            let spread = match (self.recent.quantile(0.75), self.recent.quantile(0.25)) {
                (Some(hi), Some(lo)) => (hi - lo) / b.scale,
                _ => 0.0,
            };
            let clamp = |v: f64| v.clamp(-1e6, 1e6);
            if let Some(fs) = f.push([
                clamp(b.deviation),
                clamp(step),
                clamp(spread),
                clamp(b.value),
            ]) && let Some(n) = fs.novelty
            {
                forest_novelty = Some(n);
                if b.novelty.is_some() {
                    novelty = novelty.max(n);
                }
            }
        }
        self.prev = Some(b.value);
        self.recent.push(b.value);

        // Saturated: past this, a score cannot tell novelties apart anyway, and an
        // idle series' first write after hours of zeros would otherwise escalate
        // a billion-fold point after point, each escaping the damping.
        let novelty = novelty.min(MAX_NOVELTY);
        if novelty >= self.cfg.onset {
            self.run_start.get_or_insert(ts);
        } else {
            self.run_start = None;
        }
        let raw_score = score_of(novelty);
        let mut score = raw_score;
        let mut flag = score >= self.cfg.flag_at;
        let mut damped = false;
        if let Some((since, raised_by, by_flag)) = self.last_flag {
            if since <= self.cfg.refractory {
                // The same incident, unless clearly larger than what raised the flag.
                if novelty < self.cfg.escape * raised_by {
                    score *= self.cfg.damp;
                    flag &= !by_flag;
                    damped = true;
                }
            } else {
                self.last_flag = None;
            }
        }
        if !flag && !damped && score >= self.cfg.watch_at {
            self.last_flag = Some((0, novelty, false));
        }
        let finding = flag.then(|| {
            self.last_flag = Some((0, novelty, true));
            if shape
                .as_ref()
                .and_then(|s| s.flat_novelty)
                .is_some_and(|n| n >= novelty)
            {
                self.flat_alerted = true;
            }
            let mut evidence = vec![
                ev("value", b.value),
                ev("expected", b.expected),
                ev("scale", b.scale),
                ev("deviation", b.deviation),
                ev("novelty", novelty),
            ];
            if let Some(s) = &shape {
                evidence.push(ev("flat_run", s.run as f64));
                evidence.push(ev("longest_past_run", s.longest_run as f64));
                if let Some(n) = s.flat_novelty {
                    evidence.push(ev("flat_novelty", n));
                }
                if let Some(n) = s.rough_novelty {
                    evidence.push(ev("roughness_novelty", n));
                }
            }
            if let Some(n) = forest_novelty {
                evidence.push(ev("forest_novelty", n));
            }
            Finding {
                kind: FindingKind::Anomaly,
                subject: self.subject.clone(),
                at: ts,
                started: self.run_start.unwrap_or(ts),
                score: raw_score,
                evidence,
            }
        });
        Judgement {
            ts,
            score,
            flag,
            baseline: Some(b),
            finding,
        }
    }

    /// The shape channels' novelty, in the same units as the baseline's.
    fn shape_novelty(&self, s: &ShapeScore) -> f64 {
        let w = self
            .shape
            .as_ref()
            .map_or(1.0, |sh| sh.config().rough_weight);
        let flat = if self.flat_alerted {
            0.0
        } else {
            s.flat_novelty.unwrap_or(0.0)
        };
        flat.max(w * s.rough_novelty.unwrap_or(0.0))
    }
}
