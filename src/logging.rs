//! Logs go to a daily-rolling file, never to the terminal the console draws on.

use std::path::Path;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// Starts logging to `dir/vigil.log.YYYY-MM-DD`. Keep the guard alive: dropping it
/// flushes and stops the writer.
pub fn init(dir: &Path, level: &str) -> anyhow::Result<WorkerGuard> {
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("cannot create the log folder {}: {e}", dir.display()))?;
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("vigil.log")
        .max_log_files(14)
        .build(dir)
        .map_err(|e| anyhow::anyhow!("cannot open a log file in {}: {e}", dir.display()))?;
    // The default queue holds 128,000 lines, allocated and touched up front: 4 MiB of a
    // process whose budget is 8. A thousand lines is ample for vigil's few logs a minute
    // (the queue is lossy: a burst beyond it drops lines, never blocks the engine).
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(1024)
        .lossy(true)
        .finish(appender);
    let filter = EnvFilter::try_new(format!("vigil={level}"))
        .unwrap_or_else(|_| EnvFilter::new("vigil=info"));
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init()
        .ok();
    Ok(guard)
}
