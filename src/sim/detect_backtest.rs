//! `vigil backtest detect`: a trace through the live per-series detector
//! (`detect::series`), as ../shared/EVAL.md §3 says: `flags.csv` has the header
//! `timestamp,score,flag` and one row per trace row, each scored seeing only the rows
//! before it. Rows are scored on the trace's regular grid; a missing grid point is a
//! gap the detector is told about, never an interpolated value (interpolating would
//! show it the next row early).

use super::trace::{self, Trace, TraceError};
use crate::detect::forest::ForestConfig;
use crate::detect::series::{Judgement, SeriesConfig, SeriesDetector};
use crate::forecast::{Forecaster, ForecasterConfig};
use serde::Serialize;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The largest trace read (a year of one-second samples is about 1 GiB; this is for
/// backtests, not archives).
const MAX_TRACE_BYTES: u64 = 256 << 20;

#[derive(clap::Args, Debug, Clone)]
pub struct DetectArgs {
    /// CSV with the header timestamp,value
    #[arg(long, value_name = "CSV")]
    pub trace: PathBuf,
    /// Where to write timestamp,score,flag (one row per trace row)
    #[arg(long, value_name = "CSV")]
    pub out: PathBuf,
    /// Also judge each sample against the live forecaster's one-step point
    #[arg(long)]
    pub forecast: bool,
    /// Fuse an isolation forest over the shape of the latest points with the baseline
    #[arg(long)]
    pub forest: bool,
    /// Print the summary as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Options {
    pub forecast: bool,
    pub forest: bool,
}

/// One output row: a row of the trace file, by its own timestamp text.
#[derive(Debug, Clone, PartialEq)]
pub struct FlagRow {
    pub timestamp: String,
    pub score: f64,
    pub flag: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct DetectSummary {
    pub rows: usize,
    pub grid_points: usize,
    pub gaps: usize,
    pub step_seconds: f64,
    pub flags: usize,
    /// Flags that start a run (consecutive flags are one alert).
    pub alerts: usize,
    pub seconds: f64,
}

/// The detector's config for a trace's interval and the options.
pub fn config(step_ms: i64, opts: Options) -> SeriesConfig {
    let mut cfg = SeriesConfig::for_step(step_ms);
    if opts.forest {
        cfg.forest = Some(ForestConfig::default());
    }
    cfg
}

/// Judges every point of the trace's grid, in order.
pub fn judge(t: &Trace, opts: Options) -> Vec<Judgement> {
    let mut det = SeriesDetector::new("value", config(t.step, opts));
    let mut fc = opts
        .forecast
        .then(|| Forecaster::new(ForecasterConfig::new(vec![1]), t.start, t.step));
    let mut next: Option<f64> = None;
    let mut out = Vec::with_capacity(t.len());
    for i in 0..t.len() {
        let v = (!t.filled[i]).then_some(t.values[i]);
        out.push(det.push(t.ts(i), v, next));
        if let Some(f) = &mut fc {
            if f.needs_refit() {
                f.refit();
            }
            // The forecaster needs a value at every grid point; a gap repeats the last
            // value seen (it has seen nothing later).
            let fill = v.or_else(|| {
                out.iter()
                    .rev()
                    .find_map(|j| j.baseline.as_ref().map(|b| b.value))
            });
            next = fill.and_then(|x| f.push(x).horizons.first().map(|h| h.point));
        }
    }
    out
}

/// Reads at most `MAX_TRACE_BYTES` of a trace file.
pub fn read_bounded(path: &Path) -> Result<String, TraceError> {
    let file = path.display().to_string();
    let io = |source| TraceError::Io {
        file: file.clone(),
        source,
    };
    let f = std::fs::File::open(path).map_err(io)?;
    let mut text = String::new();
    f.take(MAX_TRACE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(io)?;
    if text.len() as u64 > MAX_TRACE_BYTES {
        return Err(TraceError::Shape {
            file,
            message: format!("larger than {} MiB", MAX_TRACE_BYTES >> 20),
        });
    }
    Ok(text)
}

/// The trace's rows, each as its own timestamp text and the grid point it landed on.
fn rows(text: &str, t: &Trace) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let n = t.len();
    for l in text.lines().filter(|l| !l.trim().is_empty()).skip(1) {
        let ts = l.split(',').next().unwrap_or("");
        // `trace::parse` has read every row already; a row it could not read would
        // have been an error.
        if let Some(ms) = trace::parse_ts(ts) {
            let i = ((ms - t.start) as f64 / t.step as f64)
                .round()
                .clamp(0.0, (n - 1) as f64);
            out.push((ts.trim().trim_matches('"').to_string(), i as usize));
        }
    }
    out
}

pub fn detect(
    text: &str,
    file: &str,
    opts: Options,
) -> Result<(Vec<FlagRow>, DetectSummary), TraceError> {
    let started = std::time::Instant::now();
    let t = trace::parse(text, file)?;
    let judged = judge(&t, opts);
    let out: Vec<FlagRow> = rows(text, &t)
        .into_iter()
        .map(|(timestamp, i)| FlagRow {
            timestamp,
            score: judged[i].score,
            flag: judged[i].flag,
        })
        .collect();
    let flags = out.iter().filter(|r| r.flag).count();
    let alerts = out
        .iter()
        .enumerate()
        .filter(|(i, r)| r.flag && (*i == 0 || !out[i - 1].flag))
        .count();
    let summary = DetectSummary {
        rows: out.len(),
        grid_points: t.len(),
        gaps: t.filled.iter().filter(|f| **f).count(),
        step_seconds: t.step as f64 / 1000.0,
        flags,
        alerts,
        seconds: started.elapsed().as_secs_f64(),
    };
    Ok((out, summary))
}

pub fn write_flags(rows: &[FlagRow], out: &mut impl Write) -> std::io::Result<()> {
    writeln!(out, "timestamp,score,flag")?;
    for r in rows {
        writeln!(out, "{},{:.6},{}", r.timestamp, r.score, u8::from(r.flag))?;
    }
    Ok(())
}

/// `vigil backtest detect`.
pub fn run(a: &DetectArgs) -> anyhow::Result<std::process::ExitCode> {
    // The trace error names the file and line; its source is already in its message.
    let text = read_bounded(&a.trace).map_err(|e| anyhow::anyhow!("{e}"))?;
    let opts = Options {
        forecast: a.forecast,
        forest: a.forest,
    };
    let (rows, summary) =
        detect(&text, &a.trace.display().to_string(), opts).map_err(|e| anyhow::anyhow!("{e}"))?;
    let file = std::fs::File::create(&a.out)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", a.out.display()))?;
    let mut w = std::io::BufWriter::new(file);
    write_flags(&rows, &mut w)
        .and_then(|_| w.flush())
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", a.out.display()))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "{} rows every {}s ({} gaps), {} flagged in {} alerts; {:.2}s",
            summary.rows,
            summary.step_seconds,
            summary.gaps,
            summary.flags,
            summary.alerts,
            summary.seconds
        );
    }
    Ok(std::process::ExitCode::SUCCESS)
}
