//! Traces: CSV files `timestamp,value[,...]` at a fixed interval (the Numenta Anomaly
//! Benchmark's format). Gaps are allowed; a malformed row is an error naming its line.

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

pub fn load(path: &Path) -> Result<Trace, TraceError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| TraceError::Io {
        file: file.clone(),
        source,
    })?;
    parse(&text, &file)
}

pub fn parse(text: &str, file: &str) -> Result<Trace, TraceError> {
    let row_err = |line: usize, message: String| TraceError::Row {
        file: file.to_string(),
        line,
        message,
    };
    let mut rows: Vec<(i64, f64)> = Vec::new();
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
    for (i, l) in lines {
        let line = i + 1;
        let mut f = l.split(',');
        let (Some(ts), Some(v)) = (f.next(), f.next()) else {
            return Err(row_err(
                line,
                format!("expected `timestamp,value`, got `{}`", l.trim()),
            ));
        };
        let ts = parse_ts(ts)
            .ok_or_else(|| row_err(line, format!("timestamp: cannot read `{}`", ts.trim())))?;
        let v: f64 = v
            .trim()
            .trim_matches('"')
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| row_err(line, format!("value: not a number: `{}`", v.trim())))?;
        rows.push((ts, v));
    }
    // Real exports repeat or reorder rows (NAB has both); the same time twice is one
    // reading, averaged.
    rows.sort_by_key(|r| r.0);
    let mut merged: Vec<(i64, f64, usize)> = Vec::with_capacity(rows.len());
    for (t, v) in rows {
        match merged.last_mut() {
            Some((lt, sum, k)) if *lt == t => {
                *sum += v;
                *k += 1;
            }
            _ => merged.push((t, v, 1)),
        }
    }
    let rows: Vec<(i64, f64)> = merged
        .into_iter()
        .map(|(t, s, k)| (t, s / k as f64))
        .collect();
    if rows.len() < 3 {
        return Err(TraceError::Shape {
            file: file.into(),
            message: format!("{} rows: a trace needs at least 3", rows.len()),
        });
    }
    Ok(regularise(&rows))
}

/// Puts rows on the grid of the most common interval. Rows off the grid snap to the
/// nearest slot; empty slots are interpolated.
pub fn regularise(rows: &[(i64, f64)]) -> Trace {
    let mut gaps: Vec<i64> = rows.windows(2).map(|w| w[1].0 - w[0].0).collect();
    gaps.sort_unstable();
    // The most common gap; ties go to the smaller.
    let mut step = gaps[0];
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
    let step = step.max(1);
    let start = rows[0].0;
    let n = ((rows[rows.len() - 1].0 - start) / step) as usize + 1;
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
