//! Traces: CSV files `timestamp,value[,...]` at a fixed interval (the Numenta Anomaly
//! Benchmark's format). Gaps are allowed; a malformed row is an error naming its line.
//!
//! What is kept and what is refused: a row repeating the previous row's time is the
//! same reading exported twice (NAB's disk and network traces do it) and is averaged
//! into it. Everything else that cannot be a reading refuses the whole trace, naming the
//! line, because any guess would change every score computed from it: an unreadable
//! time or value, NaN or infinity (a missing reading is a missing row, which is filled
//! and flagged), a value beyond ±1e15 (no metric reaches it; 1e308 is a broken export),
//! a time earlier than the row before it, and a time so far from the others that the
//! trace would be mostly made-up points or more than `MAX_STEPS` long.

use chrono::{DateTime, NaiveDateTime};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("{file}: cannot read: {source}")]
    Io {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}:{line}: {message}")]
    Row {
        file: String,
        line: usize,
        message: String,
    },
    #[error("{file}: {message}")]
    Shape { file: String, message: String },
}

/// A trace on its regular grid. Missing points are filled by linear interpolation
/// between their neighbours and flagged, so scores can leave them out.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// Unix ms of the first point.
    pub start: i64,
    /// The interval, in ms: the most common gap between rows.
    pub step: i64,
    pub values: Vec<f64>,
    /// true where the point was filled, not read.
    pub filled: Vec<bool>,
}

impl Trace {
    pub fn ts(&self, i: usize) -> i64 {
        self.start + i as i64 * self.step
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The trace as CSV with the header `timestamp,value`, as `load` reads it.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("timestamp,value\n");
        for (i, v) in self.values.iter().enumerate() {
            out.push_str(&format!("{},{v}\n", format_ts(self.ts(i))));
        }
        out
    }

    /// Steps in one day, when the interval divides it.
    pub fn steps_per_day(&self) -> Option<usize> {
        (self.step > 0 && 86_400_000 % self.step == 0).then(|| (86_400_000 / self.step) as usize)
    }
}

/// ISO-8601 (with or without zone) or `YYYY-MM-DD HH:MM:SS`; naive times are UTC.
pub fn parse_ts(s: &str) -> Option<i64> {
    let s = s.trim().trim_matches('"');
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    for f in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t.and_utc().timestamp_millis());
        }
    }
    None
}

pub fn format_ts(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// The largest trace file read: about five years of one-minute rows.
pub const MAX_TRACE_BYTES: u64 = 256 << 20;
/// The longest grid a trace may span (80 MB of values): ten years of 30 s steps.
pub const MAX_STEPS: i64 = 10_000_000;
/// Values beyond this magnitude are not readings of anything vigil replays.
pub const MAX_ABS_VALUE: f64 = 1e15;

pub fn load(path: &Path) -> Result<Trace, TraceError> {
    use std::io::Read;
    let file = path.display().to_string();
    let io = |source| TraceError::Io {
        file: file.clone(),
        source,
    };
    let f = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    // One byte past the limit tells a file at the limit from a longer one.
    f.take(MAX_TRACE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_TRACE_BYTES {
        return Err(TraceError::Shape {
            file,
            message: format!(
                "larger than {} MiB: refused (split it or resample it to a coarser step)",
                MAX_TRACE_BYTES >> 20
            ),
        });
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        let upto = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        TraceError::Row {
            file: file.clone(),
            line: upto.iter().filter(|&&b| b == b'\n').count() + 1,
            message: "not UTF-8 text".into(),
        }
    })?;
    parse(&text, &file)
}

pub fn parse(text: &str, file: &str) -> Result<Trace, TraceError> {
    let row_err = |line: usize, message: String| TraceError::Row {
        file: file.to_string(),
        line,
        message,
    };
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        return Err(TraceError::Shape {
            file: file.into(),
            message: "empty file".into(),
        });
    };
    let cols: Vec<&str> = header
        .split(',')
        .map(|c| c.trim().trim_matches('"'))
        .collect();
    if cols.len() < 2 || cols[0] != "timestamp" || cols[1] != "value" {
        return Err(row_err(
            1,
            format!(
                "expected the header `timestamp,value`, got `{}`",
                header.trim()
            ),
        ));
    }
    // (time, value, line): the line is kept to name a row found wrong later; `repeats`
    // counts the readings averaged into the last row.
    let mut rows: Vec<(i64, f64, usize)> = Vec::new();
    let mut repeats = 1.0;
    for (i, l) in lines {
        let line = i + 1;
        let mut f = l.split(',');
        let (Some(ts), Some(v)) = (f.next(), f.next()) else {
            return Err(row_err(
                line,
                format!("expected `timestamp,value`, got `{}`", clip(l.trim())),
            ));
        };
        let ts = parse_ts(ts).ok_or_else(|| {
            row_err(
                line,
                format!("timestamp: cannot read `{}`", clip(ts.trim())),
            )
        })?;
        let raw = v.trim().trim_matches('"');
        let v: f64 = raw
            .parse()
            .map_err(|_| row_err(line, format!("value: not a number: `{}`", clip(raw))))?;
        if !v.is_finite() {
            return Err(row_err(
                line,
                format!(
                    "value: `{}` is not a finite number; the trace is refused (for a missing reading leave the row out: gaps are filled and flagged)",
                    clip(raw)
                ),
            ));
        }
        if v.abs() > MAX_ABS_VALUE {
            return Err(row_err(
                line,
                format!(
                    "value: {v:e} is beyond ±{MAX_ABS_VALUE:e}, which no replayed metric reaches; the trace is refused"
                ),
            ));
        }
        match rows.last_mut() {
            Some((lt, _, lline)) if ts < *lt => {
                return Err(row_err(
                    line,
                    format!(
                        "timestamp: {} is earlier than line {lline}'s {}; rows must be in time order, so the trace is refused rather than reordered",
                        format_ts(ts),
                        format_ts(*lt)
                    ),
                ));
            }
            // The same reading exported twice: averaged (a running mean cannot overflow).
            Some((lt, mean, _)) if ts == *lt => {
                repeats += 1.0;
                *mean += (v - *mean) / repeats;
            }
            _ => {
                repeats = 1.0;
                rows.push((ts, v, line));
            }
        }
    }
    if rows.len() < 3 {
        return Err(TraceError::Shape {
            file: file.into(),
            message: format!("{} rows: a trace needs at least 3", rows.len()),
        });
    }
    let pairs: Vec<(i64, f64)> = rows.iter().map(|&(t, v, _)| (t, v)).collect();
    let step = common_step(&pairs);
    // A stray time stretches the grid: refuse it before anything is allocated for it.
    let span = (rows[rows.len() - 1].0 - rows[0].0) / step + 1;
    let widest = rows
        .windows(2)
        .max_by_key(|w| w[1].0 - w[0].0)
        .map(|w| (w[0], w[1]));
    if let Some(((t0, _, l0), (t1, _, l1))) = widest {
        let gap = (t1 - t0) / step;
        let made_up = span - rows.len() as i64;
        if span > MAX_STEPS || (made_up > rows.len() as i64 && gap > rows.len() as i64 / 2) {
            let why = if span > MAX_STEPS {
                format!("the trace would span {span} steps, more than {MAX_STEPS}")
            } else {
                format!("{made_up} of its {span} points would be made up")
            };
            return Err(row_err(
                l1,
                format!(
                    "timestamp: {} is {gap} steps of {} after line {l0}'s {}: {why}, so it is refused: is this row's time a stray?",
                    format_ts(t1),
                    humantime::format_duration(std::time::Duration::from_millis(step as u64)),
                    format_ts(t0),
                ),
            ));
        }
    }
    Ok(regularise(&pairs))
}

/// An offending field as it appears, cut short: a message stays one readable line
/// whatever the file holds.
fn clip(s: &str) -> String {
    const MAX: usize = 40;
    match s.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

/// The most common gap between rows (ties go to the smaller), at least 1 ms.
fn common_step(rows: &[(i64, f64)]) -> i64 {
    let mut gaps: Vec<i64> = rows.windows(2).map(|w| w[1].0 - w[0].0).collect();
    gaps.sort_unstable();
    let mut step = gaps.first().copied().unwrap_or(1);
    let (mut best, mut run) = (0, 0);
    for (i, g) in gaps.iter().enumerate() {
        run = if i > 0 && gaps[i - 1] == *g {
            run + 1
        } else {
            1
        };
        if run > best {
            best = run;
            step = *g;
        }
    }
    step.max(1)
}

/// Puts time-ordered rows on the grid of the most common interval. Rows off the grid
/// snap to the nearest slot; empty slots are interpolated. The caller bounds the span
/// (`parse` refuses one longer than `MAX_STEPS`).
pub fn regularise(rows: &[(i64, f64)]) -> Trace {
    let step = common_step(rows);
    let (Some(start), Some(end)) = (
        rows.iter().map(|r| r.0).min(),
        rows.iter().map(|r| r.0).max(),
    ) else {
        return Trace {
            start: 0,
            step,
            values: Vec::new(),
            filled: Vec::new(),
        };
    };
    let n = ((end - start) / step) as usize + 1;
    let mut values = vec![f64::NAN; n];
    for &(t, v) in rows {
        let i = (((t - start) as f64 / step as f64).round() as usize).min(n - 1);
        values[i] = v;
    }
    let filled: Vec<bool> = values.iter().map(|v| v.is_nan()).collect();
    fill_gaps(&mut values);
    Trace {
        start,
        step,
        values,
        filled,
    }
}

/// Linear interpolation across NaN runs; leading or trailing runs take the nearest value.
pub fn fill_gaps(values: &mut [f64]) {
    let known: Vec<usize> = (0..values.len()).filter(|&i| !values[i].is_nan()).collect();
    let (Some(&first), Some(&last)) = (known.first(), known.last()) else {
        return;
    };
    for i in 0..first {
        values[i] = values[first];
    }
    for i in last + 1..values.len() {
        values[i] = values[last];
    }
    for w in known.windows(2) {
        let (a, b) = (w[0], w[1]);
        for i in a + 1..b {
            let f = (i - a) as f64 / (b - a) as f64;
            values[i] = values[a] + f * (values[b] - values[a]);
        }
    }
}
