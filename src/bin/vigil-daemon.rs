//! The headless engine alone: what `vigil daemon` becomes (by exec). It holds the
//! pipeline and the socket server, nothing of the console, the backtests or the other
//! commands, so the engine that runs all night keeps only its own code in memory.

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

/// The engine of vigil, headless: it keeps deciding with no console attached. Consoles,
/// `vigil approve` and scripts attach through its socket. SIGTERM stops it (actions in
/// flight finish first), SIGHUP reloads the config (a config with problems is refused and
/// the running one stays). `vigil daemon` runs this.
#[derive(Parser, Debug)]
#[command(name = "vigil-daemon", version, about)]
struct Args {
    /// Config file [default: $XDG_CONFIG_HOME/vigil/config.toml; built-in defaults if absent]
    #[arg(short, long, env = "VIGIL_CONFIG", value_name = "PATH")]
    config: Option<PathBuf>,
    /// Log detail: error, warn, info, debug or trace (logs go to a file)
    #[arg(long, value_name = "LEVEL")]
    log_level: Option<String>,
    /// Sampling interval, e.g. 500ms, 1s, 5s
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    interval: Option<std::time::Duration>,
    /// Force shadow mode: show and record what would be done, never act
    #[arg(long)]
    shadow: bool,
}

fn main() -> ExitCode {
    let a = Args::parse();
    let overrides = vigil::config::Overrides {
        config: a.config,
        log_level: a.log_level,
        interval: a.interval,
        shadow: a.shadow,
        ..Default::default()
    };
    match vigil::daemon::run_daemon(&overrides) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vigil: {e:#}");
            ExitCode::FAILURE
        }
    }
}
