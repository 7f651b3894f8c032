//! Changes of *shape* that the baseline's point and level channels cannot see, because
//! every single value stays within the series' usual range:
//!
//! - **flat line** (stuck at): the same value exactly repeated for longer than any run
//!   of repeats in the past week — a collector whose data stopped (so the value sits at
//!   0) or a gauge stuck at its last reading. A series that idles at 0 for hours every
//!   night is not flagged until a run outlasts every night of the week;
//! - **roughness**: the latest hour's mean step |x(t) − x(t−1)|, in the day's median
//!   step, against its own past — a series that starts to oscillate or jitter between
//!   its usual values (a flapping check, an alternating load) while its level and
//!   range look ordinary.
//!
//! Each is a novelty in the baseline's sense (1 = as unusual as the series' own tail),
//! so the series detector fuses them by taking the largest.

use super::window::SortedWindow;
use std::collections::VecDeque;

/// The flat-line novelty's ceiling (score 0.8): a run only grows, and a novelty that
/// kept growing with it would escape the series' damping and alert again and again
/// on the same stopped collector.
pub const MAX_FLAT_NOVELTY: f64 = 4.0;

#[derive(Debug, Clone, PartialEq)]
pub struct ShapeConfig {
    /// Points in the roughness window (an hour, at least 6).
    pub recent: usize,
    /// Latest steps that set the roughness scale (a day).
    pub scale_window: usize,
    /// Latest hour-means the roughness novelty is judged against (a week).
    pub tail_window: usize,
    /// The quantile of past hour-means a roughness novelty of 1 stands for.
    pub tail_q: f64,
    /// Points seen before anything is scored.
    pub warmup: usize,
    /// The shortest run of repeats that can be news (an hour).
    pub min_run: usize,
    /// How far a run must outlast the longest past one to reach the flag level.
    pub run_margin: f64,
    /// The weight of the roughness novelty beside the others (1.3 was the best of
    /// 0.5–1.6 on the development traces: an hour of steady steps is smoother than a
    /// point, so its tail is tighter).
    pub rough_weight: f64,
}

impl ShapeConfig {
    /// Defaults for a grid of `step_ms`, derived from the interval like the baseline's.
    pub fn for_step(step_ms: i64) -> Self {
        let per_hour = (3_600_000 / step_ms.max(1)).clamp(1, 60) as usize;
        let per_day = (86_400_000 / step_ms.max(1)).clamp(1, 1_440) as usize;
        ShapeConfig {
            recent: per_hour.max(6),
            scale_window: per_day.max(60),
            tail_window: (per_day * 7).clamp(200, 4_032),
            tail_q: 0.99,
            warmup: per_day.clamp(60, 288),
            min_run: per_hour.max(6),
            run_margin: 1.1,
            rough_weight: 1.3,
        }
    }
}

/// How the latest point looks to the shape channels.
#[derive(Debug, Clone, PartialEq)]
pub struct ShapeScore {
    /// Points the value has been exactly repeated for (1: it differs from the last).
    pub run: usize,
    /// The longest run of repeats in the past week (0 when none was at least
    /// `min_run` long).
    pub longest_run: usize,
    /// The run's novelty: below 1 until it outlasts every past run, 3 (the flag
    /// level) when it outlasts them by `run_margin`. None during warm-up, or when the
    /// series has been flat since before warm-up ended (a constant series).
    pub flat_novelty: Option<f64>,
    /// The latest hour's mean step, in the day's median step.
    pub roughness: Option<f64>,
    /// The roughness over the tail quantile of its own past. None during warm-up.
    pub rough_novelty: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct Shape {
    cfg: ShapeConfig,
    /// Points pushed (gaps included), the clock the run ends are kept in.
    seen: usize,
    last: Option<f64>,
    run: usize,
    run_start: usize,
    /// Completed runs of at least `min_run`: (the point they ended at, their length).
    past_runs: VecDeque<(usize, usize)>,
    steps: SortedWindow,
    hour: SortedWindow,
    hour_tail: SortedWindow,
}

impl Shape {
    pub fn new(cfg: ShapeConfig) -> Self {
        Shape {
            steps: SortedWindow::new(cfg.scale_window),
            hour: SortedWindow::new(cfg.recent),
            hour_tail: SortedWindow::new(cfg.tail_window),
            seen: 0,
            last: None,
            run: 0,
            run_start: 0,
            past_runs: VecDeque::new(),
            cfg,
        }
    }

    pub fn config(&self) -> &ShapeConfig {
        &self.cfg
    }

    /// Takes one grid point; `None` (a gap) moves time on, breaks no run and scores
    /// nothing (a gap is not a repeat, and no step is taken across it).
    pub fn push(&mut self, value: Option<f64>) -> Option<ShapeScore> {
        self.seen += 1;
        let Some(x) = value.filter(|v| v.is_finite()) else {
            self.last = None;
            return None;
        };
        let step = self.last.map(|l| (x - l).abs());
        self.track_run(x);
        self.last = Some(x);
        let longest = self.longest_run();
        let flat_novelty =
            (self.seen > self.cfg.warmup && self.run_start >= self.cfg.warmup).then(|| {
                let ratio = self.run as f64 / longest.max(self.cfg.min_run) as f64;
                // Steep, so a run as long as the usual nightly idle stays well below the
                // flag (ratio 1 → 1.4) and one just past it rises quickly (1.2 → 6).
                (3.0 * (ratio / self.cfg.run_margin).powi(8)).min(MAX_FLAT_NOVELTY)
            });
        let (roughness, rough_novelty) = match step {
            Some(s) => self.roughness(s),
            None => (None, None),
        };
        Some(ShapeScore {
            run: self.run,
            longest_run: longest,
            flat_novelty,
            roughness,
            rough_novelty,
        })
    }

    fn track_run(&mut self, x: f64) {
        if self.last == Some(x) {
            self.run += 1;
            return;
        }
        if self.run >= self.cfg.min_run {
            self.past_runs.push_back((self.seen - 1, self.run));
        }
        self.run = 1;
        self.run_start = self.seen - 1;
        while self
            .past_runs
            .front()
            .is_some_and(|(end, _)| end + self.cfg.tail_window < self.seen)
        {
            self.past_runs.pop_front();
        }
    }

    fn longest_run(&self) -> usize {
        self.past_runs.iter().map(|(_, n)| *n).max().unwrap_or(0)
    }

    /// The hour's mean step in the day's scale, and its novelty.
    fn roughness(&mut self, step: f64) -> (Option<f64>, Option<f64>) {
        // The scale as the baseline's: the median step, or a quarter of the 90th
        // percentile where most steps are exactly zero (a quantised or idle series).
        let scale = match (self.steps.median(), self.steps.quantile(0.9)) {
            (Some(m), Some(q)) if self.steps.len() >= self.cfg.recent => Some(m.max(q / 4.0)),
            _ => None,
        };
        self.steps.push(step);
        let Some(scale) = scale.filter(|s| *s > 0.0) else {
            return (None, None);
        };
        self.hour.push((step / scale).min(1e12));
        // The median, not the mean: one spike is two large steps, which would move an
        // hour's mean as much as a whole hour of oscillation; the median moves only
        // when most of the hour's steps are large.
        let mean = self.hour.median().unwrap_or(0.0);
        let novelty = (self.hour_tail.len() >= self.cfg.warmup)
            .then(|| self.hour_tail.quantile(self.cfg.tail_q))
            .flatten()
            .map(|q| mean / q.max(1e-9));
        self.hour_tail.push(mean);
        (Some(mean), novelty)
    }
}
