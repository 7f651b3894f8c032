//! The command line: the console (default), the daemon, approvals from any shell,
//! status, config, backtests, audit and the brake.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use vigil::collect::host::HostCollector;
use vigil::config::{self, Config, Loaded};
use vigil::console::{app::App, i18n::Lang, theme::Theme};
use vigil::daemon::{Owner, runtime};
use vigil::engine::{self, Clock, Engine, Notice, Severity, Source, SystemClock};
use vigil::protocol::client;
use vigil::sim::replay::{Replay, ReplayClock};

/// vigil watches this host, forecasts its load and proposes scale and heal actions,
/// which run only when you approve them (or never, in shadow mode).
///
/// Run without a command to open the console on this host. Keys: ? for help, q to quit.
#[derive(Parser, Debug)]
#[command(name = "vigil", version, about, long_about)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Args, Debug)]
struct Global {
    /// Config file [default: $XDG_CONFIG_HOME/vigil/config.toml; built-in defaults if absent]
    #[arg(short, long, global = true, env = "VIGIL_CONFIG", value_name = "PATH")]
    config: Option<PathBuf>,
    /// Colour theme: default, light, mono, or a file NAME.toml in ~/.config/vigil/themes
    #[arg(long, global = true, value_name = "NAME")]
    theme: Option<String>,
    /// Interface language: en or zh-CN [default: from LANG]
    #[arg(long, global = true, value_name = "LANG")]
    lang: Option<String>,
    /// Log detail: error, warn, info, debug or trace (logs go to a file, never the screen)
    #[arg(long, global = true, value_name = "LEVEL")]
    log_level: Option<String>,
    /// Sampling interval, e.g. 500ms, 1s, 5s
    #[arg(long, global = true, value_name = "DURATION", value_parser = humantime::parse_duration)]
    interval: Option<std::time::Duration>,
    /// Force shadow mode: show and record what would be done, never act
    #[arg(long, global = true)]
    shadow: bool,
    /// Drive the console from a trace (CSV timestamp,value) instead of this host: its
    /// values are shown as CPU load, on a simulated clock
    #[arg(long, value_name = "CSV")]
    replay: Option<PathBuf>,
    /// With --replay: simulated seconds per real second
    #[arg(long, default_value_t = 60.0, requires = "replay")]
    speed: f64,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Print one reading of the host and exit (for cron, checks and scripts)
    Status {
        /// One JSON object instead of text
        #[arg(long)]
        json: bool,
    },
    /// Check, locate or print the configuration
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Replay a trace through vigil's own code and score its judgement
    #[command(subcommand)]
    Backtest(BacktestCmd),
    /// Check or read the hash-chained audit log of every decision and action
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Run the engine headless: it keeps deciding with no console attached. Consoles,
    /// `vigil approve` and scripts attach through its socket. SIGTERM stops it (actions in
    /// flight finish first), SIGHUP reloads the config (a config with problems is refused
    /// and the running one stays)
    Daemon,
    /// List the approval queue of this host's engine
    Proposals {
        /// One JSON array instead of text
        #[arg(long)]
        json: bool,
    },
    /// Open and recent incidents of the healing loop (evidence, diagnosis, playbook,
    /// steps, verification) and the healing board. Reads only: from the daemon, or with
    /// none running from the store, opened read-only
    Incidents {
        /// One JSON object ({incidents, board}) instead of text
        #[arg(long)]
        json: bool,
        /// Allow the steps an incident waits for a person to allow (log cleanup, the
        /// page cache, a unit, a configured command). Exit 0 allowed, 4 no such open
        /// incident, 5 refused (not waiting)
        #[arg(long, value_name = "ID", conflicts_with_all = ["reject", "false_alarm"])]
        approve: Option<String>,
        /// Decline them: the incident is escalated
        #[arg(long, value_name = "ID", conflicts_with = "false_alarm")]
        reject: Option<String>,
        /// Close an open incident vigil has not acted on as a false alarm (the board
        /// counts it; what it waited on is withdrawn). Exit 0 closed, 5 refused
        #[arg(long, value_name = "ID")]
        false_alarm: Option<String>,
    },
    /// Approve a proposal. Exit 0 approved, 3 the proposal changed (stale version),
    /// 4 no such proposal, 5 refused (not waiting, or a risky one without --confirm), 1 error
    Approve {
        /// The proposal's id, e.g. scale:web or heal:api-1
        id: String,
        /// The version you looked at; without it, the version waiting now
        #[arg(long)]
        version: Option<u32>,
        /// A risky proposal needs the name of what it touches, typed, e.g. --confirm web
        #[arg(long, value_name = "NAME")]
        confirm: Option<String>,
    },
    /// Reject a proposal. Exit codes as for approve
    Reject {
        id: String,
        #[arg(long)]
        version: Option<u32>,
        /// Why (kept in the audit log)
        #[arg(long)]
        reason: Option<String>,
    },
    /// Cloud APIs by hand: sign (and send) one request, to debug access
    #[command(subcommand)]
    Cloud(vigil::execute::huawei::cli::CloudCmd),
    /// Healing playbooks: check them, list them, or see what one would do
    #[command(subcommand)]
    Playbook(vigil::heal::cli::PlaybookCmd),
    /// Stop all execution at once, in every running vigil, until a person re-arms it
    Brake {
        /// Re-arm: let approved actions run again
        #[arg(long)]
        release: bool,
        /// Why (kept in the audit log)
        #[arg(long, default_value = "")]
        reason: String,
    },
}

#[derive(Subcommand, Debug)]
enum AuditCmd {
    /// Check the whole chain; name the first broken, edited, reordered or missing
    /// record and exit 1
    Verify {
        /// The log [default: audit.path from the config, or $XDG_STATE_HOME/vigil/audit.jsonl]
        #[arg(long, value_name = "PATH")]
        path: Option<PathBuf>,
        /// A checkpoint sent to a webhook or syslog earlier ("SEQ:HASH"): fails if the log
        /// was cut short before it or rewritten since
        #[arg(long, value_name = "SEQ:HASH")]
        checkpoint: Option<String>,
    },
    /// Print the latest records readably
    Tail {
        #[arg(long, value_name = "PATH")]
        path: Option<PathBuf>,
        /// How many
        #[arg(short, default_value_t = 20)]
        n: usize,
    },
}

#[derive(Subcommand, Debug)]
enum BacktestCmd {
    /// Rolling-origin forecasts over the last 30 % of a trace; writes
    /// origin,horizon,actual,point,lo,hi and prints MASE, sMAPE and band coverage
    Forecast {
        /// CSV with the header timestamp,value
        #[arg(long, value_name = "CSV")]
        trace: PathBuf,
        /// Steps ahead, in the trace's own interval
        #[arg(long, value_delimiter = ',', default_value = "1,3,12")]
        horizons: Vec<usize>,
        /// Where to write the predictions
        #[arg(long, value_name = "CSV")]
        out: PathBuf,
        /// Force one model: naive, seasonal-daily, seasonal-weekly, linear, ets [default: auto]
        #[arg(long)]
        model: Option<String>,
        /// Print the summary as JSON
        #[arg(long)]
        json: bool,
        /// Also write every model's prediction at every origin here (for analysis)
        #[arg(long, value_name = "CSV")]
        models_out: Option<PathBuf>,
    },
    /// Replay a trace through a simulated fleet under a scaling policy; writes
    /// timestamp,load,demand,ready,billed,desired and prints the elasticity scores
    Scale(ScaleArgs),
    /// Score every row of a trace with the live anomaly detector, seeing only the past;
    /// writes timestamp,score,flag
    Detect(vigil::sim::detect_backtest::DetectArgs),
}

#[derive(Args, Debug)]
struct ScaleArgs {
    /// CSV with the header timestamp,value
    #[arg(long, value_name = "CSV")]
    trace: PathBuf,
    /// predictive (vigil's), hpa, threshold or oracle
    #[arg(long, default_value = "predictive")]
    policy: String,
    /// Instances the trace's 99th percentile needs
    #[arg(long, default_value_t = 10.0)]
    peak: f64,
    /// Time from purchase to serving
    #[arg(long, default_value = "120s", value_parser = humantime::parse_duration)]
    boot: std::time::Duration,
    /// Time between decisions
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    interval: std::time::Duration,
    /// second or hour
    #[arg(long, default_value = "second")]
    billing: String,
    /// The predictive policy's scale-down stabilisation window (HPA's default is 300s)
    #[arg(long, default_value = "300s", value_parser = humantime::parse_duration)]
    stabilisation: std::time::Duration,
    /// Where to write the steps of --policy
    #[arg(long, value_name = "CSV")]
    out: Option<PathBuf>,
    /// Run every policy on the trace and print one table
    #[arg(long)]
    compare: bool,
    /// Print the scores as JSON
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum ConfigCmd {
    /// Report every problem in a config file with its line and key; exit 1 if any
    Check {
        /// The file to check [default: the file vigil would read]
        path: Option<PathBuf>,
    },
    /// Print the path vigil reads its config from
    Path,
    /// Print an example config with every key and its default
    Example,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("vigil: {e:#}");
            ExitCode::from(1)
        }
    }
}

impl Global {
    fn overrides(&self) -> vigil::config::Overrides {
        vigil::config::Overrides {
            config: self.config.clone(),
            theme: self.theme.clone(),
            lang: self.lang.clone(),
            log_level: self.log_level.clone(),
            interval: self.interval,
            shadow: self.shadow,
        }
    }
}

fn config_path(global: &Global) -> Option<PathBuf> {
    global.overrides().path()
}

/// The config file if there is one; the built-in defaults if there is none. A file
/// named with --config must exist.
fn load_config(global: &Global) -> anyhow::Result<Loaded> {
    global.overrides().load()
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Some(Cmd::Config(ConfigCmd::Path)) => {
            match config_path(&cli.global) {
                Some(p) => println!("{}", p.display()),
                None => anyhow::bail!("no home directory: pass --config"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Config(ConfigCmd::Example)) => {
            print!("{}", config::EXAMPLE);
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Config(ConfigCmd::Check { path })) => {
            config_check(path.or_else(|| config_path(&cli.global)))
        }
        Some(Cmd::Status { json }) => status(&cli.global, json),
        Some(Cmd::Backtest(BacktestCmd::Forecast {
            trace,
            horizons,
            out,
            model,
            json,
            models_out,
        })) => backtest_forecast(
            &trace,
            &horizons,
            &out,
            model.as_deref(),
            json,
            models_out.as_deref(),
        ),
        Some(Cmd::Backtest(BacktestCmd::Scale(a))) => scale_cmd(a),
        Some(Cmd::Backtest(BacktestCmd::Detect(a))) => vigil::sim::detect_backtest::run(&a),
        Some(Cmd::Audit(cmd)) => audit_cmd(&cli.global, cmd),
        Some(Cmd::Cloud(c)) => {
            vigil::execute::huawei::cli::run(c, &load_config(&cli.global)?.config.huawei)
        }
        Some(Cmd::Playbook(c)) => vigil::heal::cli::run(c, &load_config(&cli.global)?.config),
        Some(Cmd::Brake { release, reason }) => brake_cmd(&cli.global, release, &reason),
        Some(Cmd::Daemon) => daemon(&cli.global),
        Some(Cmd::Proposals { json }) => proposals_cmd(&cli.global, json),
        Some(Cmd::Incidents {
            approve: Some(id), ..
        }) => answer_incident_cmd(&cli.global, &id, true),
        Some(Cmd::Incidents {
            reject: Some(id), ..
        }) => answer_incident_cmd(&cli.global, &id, false),
        Some(Cmd::Incidents {
            false_alarm: Some(id),
            ..
        }) => incident_cmd(
            &cli.global,
            engine::Command::DismissIncident {
                id,
                by: vigil::audit::Actor::local(),
            },
        ),
        Some(Cmd::Incidents { json, .. }) => incidents_cmd(&cli.global, json),
        Some(Cmd::Approve {
            id,
            version,
            confirm,
        }) => decide_cmd(&cli.global, &id, version, true, confirm, None),
        Some(Cmd::Reject {
            id,
            version,
            reason,
        }) => decide_cmd(&cli.global, &id, version, false, None, reason),
        None => console(&cli.global),
    }
}

fn audit_path(global: &Global, given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(p) = given {
        return Ok(p);
    }
    let loaded = load_config(global)?;
    vigil::engine::audit_path(&loaded.config)
        .ok_or_else(|| anyhow::anyhow!("no home directory: pass --path"))
}

fn audit_cmd(global: &Global, cmd: AuditCmd) -> anyhow::Result<ExitCode> {
    use vigil::audit;
    match cmd {
        AuditCmd::Verify { path, checkpoint } => {
            let path = audit_path(global, path)?;
            let result = match &checkpoint {
                Some(cp) => {
                    let (seq, hash) = cp
                        .split_once(':')
                        .and_then(|(s, h)| Some((s.parse().ok()?, h.to_string())))
                        .ok_or_else(|| {
                            anyhow::anyhow!("--checkpoint: expected SEQ:HASH, got \"{cp}\"")
                        })?;
                    audit::check_checkpoint(&path, &audit::Head { seq, hash })
                        .and_then(|_| audit::verify(&path))
                }
                None => audit::verify(&path),
            };
            match result {
                Ok(v) => {
                    println!(
                        "{}: {} records, chain intact, head #{} {}",
                        path.display(),
                        v.records,
                        v.head.seq,
                        v.head.hash
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("vigil: {e}");
                    Ok(ExitCode::from(1))
                }
            }
        }
        AuditCmd::Tail { path, n } => {
            let path = audit_path(global, path)?;
            for line in audit::tail(&path, n)? {
                println!("{line}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn brake_cmd(global: &Global, release: bool, reason: &str) -> anyhow::Result<ExitCode> {
    let loaded = load_config(global)?;
    let cfg = &loaded.config;
    // With an engine running, it pulls the brake (anyone in its group may): the record
    // names the caller from the socket's credentials.
    if let Some(socket) = vigil::engine::socket_path(cfg) {
        let cmd = vigil::engine::Command::Brake {
            engage: !release,
            by: vigil::audit::Actor::local(),
            reason: Some(reason.to_string()),
        };
        match runtime()?.block_on(client::request(&socket, cmd)) {
            Ok(reply) => {
                println!("{}", reply.message());
                return Ok(ExitCode::from(reply.exit_code()));
            }
            Err(client::AttachError::NoEngine(_)) => {}
            Err(e) => anyhow::bail!("{e}"),
        }
    }
    let brake = vigil::execute::Brake::new(vigil::engine::brake_path(cfg));
    let mut log = vigil::audit::AuditLog::open(
        &vigil::engine::audit_path(cfg).ok_or_else(|| anyhow::anyhow!("no home directory"))?,
    )?;
    let who = vigil::audit::Actor::local();
    if release {
        brake.release(&mut log, &who)?;
        println!("brake released: approved actions may run again");
    } else {
        brake.engage(&mut log, &who, reason)?;
        println!(
            "brake engaged: nothing runs until `vigil brake --release` ({})",
            brake.path().display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn scale_cmd(a: ScaleArgs) -> anyhow::Result<ExitCode> {
    use vigil::sim::fleet::{Billing, FleetParams, PolicyKind};
    let policy = PolicyKind::parse(&a.policy).ok_or_else(|| {
        anyhow::anyhow!(
            "--policy: expected predictive, hpa, threshold or oracle, got \"{}\"",
            a.policy
        )
    })?;
    let billing = match a.billing.as_str() {
        "second" => Billing::Second,
        "hour" => Billing::Hour,
        other => anyhow::bail!("--billing: expected second or hour, got \"{other}\""),
    };
    if !(a.peak > 0.0 && a.peak <= vigil::sim::fleet::MAX_PEAK) {
        anyhow::bail!(
            "--peak: expected a number of instances above 0 and at most {}, got {}",
            vigil::sim::fleet::MAX_PEAK,
            a.peak
        );
    }
    if a.interval.is_zero() {
        anyhow::bail!("--interval: must be more than 0");
    }
    // Bounded so the simulation's clock (i64 ms, stepped by --interval) cannot wrap or
    // crawl, and its forecast horizons (boot + interval) stay few.
    let day = std::time::Duration::from_secs(86_400);
    for (flag, d, min) in [
        ("--interval", a.interval, std::time::Duration::from_secs(1)),
        ("--boot", a.boot, std::time::Duration::ZERO),
        (
            "--stabilisation",
            a.stabilisation,
            std::time::Duration::ZERO,
        ),
    ] {
        if d < min || d > day {
            anyhow::bail!(
                "{flag}: expected a duration from {} to 1day, got {}",
                humantime::format_duration(min),
                humantime::format_duration(d)
            );
        }
    }
    if a.out.is_none() && !a.compare {
        anyhow::bail!("--out: where to write the steps (or --compare for the table alone)");
    }
    let params = FleetParams {
        peak: a.peak,
        boot_ms: a.boot.as_millis() as i64,
        interval_ms: a.interval.as_millis() as i64,
        billing,
        stabilisation_ms: a.stabilisation.as_millis() as i64,
    };
    backtest_scale(
        &a.trace,
        &params,
        policy,
        a.out.as_deref(),
        a.compare,
        a.json,
    )
}

fn config_check(path: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let Some(path) = path else {
        anyhow::bail!("no home directory: name the file to check")
    };
    let loaded = config::load_file(&path)
        .map_err(|e| anyhow::anyhow!("cannot read config {}: {e}", path.display()))?;
    if loaded.problems.is_empty() {
        println!("{}: ok", path.display());
        return Ok(ExitCode::SUCCESS);
    }
    let color = std::env::var_os("NO_COLOR").is_none()
        && std::io::IsTerminal::is_terminal(&std::io::stderr());
    eprint!("{}", config::render(&loaded, color));
    for p in &loaded.problems {
        eprintln!("{p}");
    }
    eprintln!("{}: {} problem(s)", path.display(), loaded.problems.len());
    Ok(ExitCode::from(1))
}

fn backtest_forecast(
    trace: &std::path::Path,
    horizons: &[usize],
    out: &std::path::Path,
    model: Option<&str>,
    json: bool,
    models_out: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    use vigil::sim::{backtest, trace as tr};
    if horizons.is_empty() || horizons.contains(&0) {
        anyhow::bail!("--horizons: steps ahead must be 1 or more, e.g. 1,3,12");
    }
    let t = tr::load(trace)?;
    let mut models_w = match models_out {
        Some(p) => Some(std::io::BufWriter::new(std::fs::File::create(p).map_err(
            |e| anyhow::anyhow!("--models-out: cannot write {}: {e}", p.display()),
        )?)),
        None => None,
    };
    let (rows, summary) = backtest::forecast_with_models(
        &t,
        horizons,
        model,
        models_w.as_mut().map(|w| w as &mut dyn std::io::Write),
    )
    .map_err(|e| anyhow::anyhow!("{}: {e}", trace.display()))?;
    if let Some(w) = models_w.as_mut() {
        std::io::Write::flush(w)?;
    }
    let file = std::fs::File::create(out)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", out.display()))?;
    let mut w = std::io::BufWriter::new(file);
    backtest::write_preds(&t, &rows, &mut w)?;
    std::io::Write::flush(&mut w)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{}", backtest::summary_table(&summary));
    }
    Ok(ExitCode::SUCCESS)
}

fn backtest_scale(
    trace: &std::path::Path,
    params: &vigil::sim::fleet::FleetParams,
    policy: vigil::sim::fleet::PolicyKind,
    out: Option<&std::path::Path>,
    compare: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    use vigil::sim::fleet::{self, PolicyKind};
    use vigil::sim::trace as tr;
    let t = tr::load(trace)?;
    let policies: Vec<PolicyKind> = if compare {
        PolicyKind::ALL.to_vec()
    } else {
        vec![policy, PolicyKind::Oracle]
    };
    let mut scores = Vec::new();
    for p in &policies {
        let rows = fleet::simulate(&t, params, *p);
        if *p == policy
            && let Some(out) = out
        {
            let file = std::fs::File::create(out)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", out.display()))?;
            let mut w = std::io::BufWriter::new(file);
            fleet::write_steps(&rows, &mut w)?;
            std::io::Write::flush(&mut w)?;
        }
        scores.push(fleet::score(p.name(), &rows, t.step));
    }
    let oracle_cost = scores.iter().find(|s| s.policy == "oracle").map(|s| s.cost);
    for s in &mut scores {
        s.cost_ratio_to_oracle = oracle_cost.filter(|c| *c > 0.0).map(|c| s.cost / c);
    }
    if !compare {
        scores.retain(|s| s.policy == policy.name());
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&scores)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<11} {:>10} {:>7} {:>10} {:>8} {:>10} {:>10} {:>7} {:>7} {:>9}",
        "policy",
        "cost(i·h)",
        "×oracle",
        "paid(i·h)",
        "under%",
        "short(i·h)",
        "effective",
        "acc_U",
        "acc_O",
        "adapt/day"
    );
    for s in &scores {
        println!(
            "{:<11} {:>10.1} {:>7.3} {:>10.1} {:>7.2}% {:>10.2} {:>10.1} {:>7.3} {:>7.3} {:>9.1}",
            s.policy,
            s.cost,
            s.cost_ratio_to_oracle.unwrap_or(f64::NAN),
            s.cost_paid,
            s.under_provisioned_time * 100.0,
            s.shortage,
            s.effective_cost,
            s.under_accuracy,
            s.over_accuracy,
            s.adaptations_per_day
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn status(global: &Global, json: bool) -> anyhow::Result<ExitCode> {
    let loaded = load_config(global)?;
    for p in &loaded.problems {
        eprintln!("warning: {p}");
    }
    let snap = runtime()?.block_on(engine::snapshot_once(loaded.config));
    if json {
        println!("{}", serde_json::to_string_pretty(&snap)?);
        return Ok(ExitCode::SUCCESS);
    }
    let Some(s) = &snap.latest else {
        anyhow::bail!("no sample could be read")
    };
    println!("host      {} ({} cores)", snap.host.name, snap.host.cores);
    println!("cpu       {:.1}%  (iowait {:.1}%)", s.cpu_pct, s.iowait_pct);
    println!("memory    {:.1}%  swap {:.1}%", s.mem_pct(), s.swap_pct());
    println!("load      {:.2} {:.2} {:.2}", s.load1, s.load5, s.load15);
    for fs in &s.filesystems {
        println!("disk      {} {:.1}% used", fs.mount, fs.used_pct());
    }
    for m in &s.unresponsive_mounts {
        println!("disk      {m} not answering");
    }
    println!(
        "net       rx {:.0} B/s  tx {:.0} B/s",
        s.net_rx_bps(),
        s.net_tx_bps()
    );
    if let Some(n) = s.containers_running {
        println!("containers {n} running");
    }
    for n in &snap.notices {
        println!("notice    {}", n.text);
    }
    Ok(ExitCode::SUCCESS)
}

fn console(global: &Global) -> anyhow::Result<ExitCode> {
    let loaded = load_config(global)?;
    let cfg: Config = loaded.config.clone();
    let mut notices = Notice::config_problems(&loaded);
    let log_dir = cfg.log.dir.clone().or_else(config::paths::log_dir);
    let guard = match log_dir.clone() {
        Some(dir) => match vigil::logging::init(&dir, &cfg.log.level) {
            Ok(g) => Some(g),
            Err(e) => {
                notices.push(Notice {
                    severity: Severity::Warn,
                    text: format!("log: {e}"),
                });
                None
            }
        },
        None => None,
    };
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let theme = match Theme::load(
        &cfg.console.theme,
        config::paths::themes_dir().as_deref(),
        no_color,
    ) {
        Ok(t) => t,
        Err(e) => {
            notices.push(Notice {
                severity: Severity::Warn,
                text: format!("theme: {e}"),
            });
            Theme::built_in("default").ok_or_else(|| anyhow::anyhow!("built-in theme missing"))?
        }
    };
    let lang = Lang::resolve(&cfg.console.lang);
    tracing::info!(interval = ?cfg.interval, mode = ?cfg.mode, "console starting");
    let (source, clock): (Source, Arc<dyn Clock>) = match &global.replay {
        Some(path) => {
            if !(global.speed > 0.0 && global.speed.is_finite()) {
                anyhow::bail!("--speed: expected a positive number, got {}", global.speed);
            }
            let trace = vigil::sim::trace::load(path)?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let replay = Replay {
                name: format!("{name} ×{}", global.speed),
                trace,
            };
            let clock = Arc::new(ReplayClock::new(replay.start(), global.speed));
            (Source::Replay(Box::new(replay)), clock)
        }
        None => (
            Source::Host(Box::new(HostCollector::proc())),
            Arc::new(SystemClock),
        ),
    };
    let rt = runtime()?;
    let app = App::new(theme, lang);
    // A replay is its own little world: no lock, no socket, nothing of this host's.
    if global.replay.is_some() {
        rt.block_on(async {
            let handle = Engine::spawn(cfg.clone(), clock, source, notices);
            vigil::console::run(handle, app, cfg.console.mouse).await
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    rt.block_on(async {
        match find_engine(&cfg).await? {
            Found::Engine(socket, session) => {
                if let Some(lean) = lean_binary("vigil-console", "VIGIL_CONSOLE_IN_PROCESS") {
                    drop(session);
                    drop(guard);
                    return Err(exec_lean(&lean, &socket, &cfg, log_dir.as_deref()));
                }
                tracing::info!(socket = %socket.display(), user = %session.user, "attached to the engine");
                let handle = client::attach(socket, *session);
                vigil::console::run(handle, app, cfg.console.mouse).await
            }
            Found::None => {
                let owner = Owner::start(&cfg, notices, "console", true)?;
                let r = vigil::console::run(owner.handle(), app, cfg.console.mouse).await;
                owner.stop().await;
                r
            }
        }
    })?;
    Ok(ExitCode::SUCCESS)
}

/// A lean binary installed beside this one (`vigil-console`, `vigil-daemon`) that holds
/// only what its part needs, so a process that runs all night keeps little of vigil's
/// code in memory; unless the environment variable asks for this process to do it.
fn lean_binary(name: &str, in_process: &str) -> Option<PathBuf> {
    if std::env::var_os(in_process).is_some_and(|v| !v.is_empty()) {
        return None;
    }
    let me = std::env::current_exe().ok()?;
    let lean = me.with_file_name(name);
    lean.is_file().then_some(lean)
}

/// Becomes the lean console: the engine is elsewhere, so this process needs none of the
/// pipeline's code in memory. Returns only if the exec failed.
fn exec_lean(
    lean: &std::path::Path,
    socket: &std::path::Path,
    cfg: &Config,
    log_dir: Option<&std::path::Path>,
) -> anyhow::Error {
    use std::os::unix::process::CommandExt;
    let mut c = std::process::Command::new(lean);
    c.arg("--socket")
        .arg(socket)
        .args(["--theme", &cfg.console.theme])
        .args(["--lang", &cfg.console.lang])
        .args(["--log-level", &cfg.log.level]);
    if let Some(d) = log_dir {
        c.arg("--log-dir").arg(d);
    }
    if cfg.console.mouse {
        c.arg("--mouse");
    }
    let e = c.exec();
    anyhow::anyhow!("cannot start {}: {e}", lean.display())
}

enum Found {
    Engine(PathBuf, Box<client::Session>),
    None,
}

/// This host's engine, if one runs: its socket answers, or its lock is held (then its
/// socket must answer soon, or something is wrong and the operator is told what).
async fn find_engine(cfg: &Config) -> anyhow::Result<Found> {
    let Some(socket) = engine::socket_path(cfg) else {
        return Ok(Found::None);
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    loop {
        match client::connect(&socket, true).await {
            Ok(s) => return Ok(Found::Engine(socket, Box::new(s))),
            Err(client::AttachError::NoEngine(_)) => {}
            Err(e) => anyhow::bail!("{e}"),
        }
        let holder =
            vigil::daemon::lock_path(cfg).and_then(|p| vigil::daemon::OwnerLock::holder(&p));
        match holder {
            None => return Ok(Found::None),
            Some(h) if std::time::Instant::now() >= deadline => anyhow::bail!(
                "this host's engine ({h}) does not answer at {}: is daemon.socket the same \
                 in both configs?",
                socket.display()
            ),
            Some(_) => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
        }
    }
}

fn daemon(global: &Global) -> anyhow::Result<ExitCode> {
    let overrides = global.overrides();
    if let Some(lean) = lean_binary("vigil-daemon", "VIGIL_DAEMON_IN_PROCESS") {
        use std::os::unix::process::CommandExt;
        let e = std::process::Command::new(&lean)
            .args(overrides.daemon_args())
            .exec();
        anyhow::bail!("cannot start {}: {e}", lean.display());
    }
    vigil::daemon::run_daemon(&overrides)?;
    Ok(ExitCode::SUCCESS)
}

/// Sends one command to this host's engine, or, with none running, becomes the engine
/// for as long as the command takes (the same gate and audit either way).
fn ask_engine(
    global: &Global,
    cmd: engine::Command,
    wait_for: Option<(String, u32)>,
) -> anyhow::Result<vigil::protocol::Reply> {
    let loaded = load_config(global)?;
    let cfg = loaded.config;
    runtime()?.block_on(async {
        if let Some(socket) = engine::socket_path(&cfg) {
            match client::request(&socket, cmd.clone()).await {
                Ok(r) => return Ok(r),
                Err(client::AttachError::NoEngine(_)) => {}
                Err(e) => anyhow::bail!("{e}"),
            }
        }
        let owner = Owner::start(&cfg, Vec::new(), "command", false)?;
        let h = owner.calls();
        let reply = h
            .call(cmd)
            .await
            .ok_or_else(|| anyhow::anyhow!("the engine stopped"))?;
        // This process is the engine: it stays until what it started has finished.
        if let (Some((id, version)), vigil::protocol::Reply::Decided { .. }) = (&wait_for, &reply) {
            let mut rx = h.snapshots.clone();
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(300);
            loop {
                // Done is not the end: verification follows.
                let settled = rx.borrow().board.iter().any(|e| {
                    &e.proposal.id == id
                        && e.proposal.version == *version
                        && !matches!(
                            e.state,
                            vigil::protocol::State::Approved
                                | vigil::protocol::State::Running
                                | vigil::protocol::State::Done
                        )
                });
                if settled {
                    break;
                }
                if tokio::time::timeout_at(deadline, rx.changed())
                    .await
                    .is_err()
                {
                    break;
                }
            }
        }
        owner.stop().await;
        Ok(reply)
    })
}

/// A person's answer to an incident, through the engine that owns the host (the daemon,
/// or this process taking the lock), audited under the caller's name.
fn answer_incident_cmd(global: &Global, id: &str, approve: bool) -> anyhow::Result<ExitCode> {
    let cmd = engine::Command::AnswerIncident {
        id: id.to_string(),
        approve,
        by: vigil::audit::Actor::local(),
    };
    incident_cmd(global, cmd)
}

/// One command on an incident, and the engine's answer on stdout or stderr.
fn incident_cmd(global: &Global, cmd: engine::Command) -> anyhow::Result<ExitCode> {
    let reply = ask_engine(global, cmd, None)?;
    let code = reply.exit_code();
    if code == 0 {
        println!("{}", reply.message());
    } else {
        eprintln!("vigil: {}", reply.message());
    }
    Ok(ExitCode::from(code))
}

/// The daemon's incidents, or with no engine running the store's, read-only: a read
/// never takes the engine's lock, never proposes, audits or runs anything.
fn incidents_cmd(global: &Global, json: bool) -> anyhow::Result<ExitCode> {
    let cfg = load_config(global)?.config;
    let (incidents, board) = runtime()?.block_on(async {
        if let Some(socket) = engine::socket_path(&cfg) {
            match client::request(&socket, engine::Command::Incidents).await {
                Ok(vigil::protocol::Reply::Incidents { incidents, board }) => {
                    return Ok((incidents, board));
                }
                Ok(other) => anyhow::bail!("{}", other.message()),
                Err(client::AttachError::NoEngine(_)) => {}
                Err(e) => anyhow::bail!("{e}"),
            }
        }
        let now = chrono::Utc::now().timestamp_millis();
        let all = match engine::store_path(&cfg) {
            Some(p) => vigil::store::incidents::read_only(&p, now - 7 * 86_400_000)
                .map_err(|e| anyhow::anyhow!("{e}"))?,
            None => Vec::new(),
        };
        let board = vigil::heal::board::board(&all, now);
        // As the engine shows them: open ones first, then the latest closed.
        let (mut open, closed): (Vec<_>, Vec<_>) =
            all.into_iter().partition(|i| !i.state.is_final());
        open.extend(closed.into_iter().take(30));
        Ok((open, board))
    })?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"incidents": incidents, "board": board})
            )?
        );
    } else {
        print!("{}", vigil::heal::report::text(&incidents, &board));
    }
    Ok(ExitCode::SUCCESS)
}

fn proposals_cmd(global: &Global, json: bool) -> anyhow::Result<ExitCode> {
    let reply = ask_engine(global, engine::Command::Proposals, None)?;
    let vigil::protocol::Reply::Proposals { entries } = reply else {
        anyhow::bail!("{}", reply.message());
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(ExitCode::SUCCESS);
    }
    if entries.is_empty() {
        println!("no proposals");
    }
    for e in &entries {
        println!(
            "{:<24} v{:<3} {:<11} {:<7} {}",
            e.proposal.id,
            e.proposal.version,
            e.state.name(),
            format!("{:?}", e.proposal.risk).to_lowercase(),
            e.proposal.summary
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn decide_cmd(
    global: &Global,
    id: &str,
    version: Option<u32>,
    approve: bool,
    confirm: Option<String>,
    reason: Option<String>,
) -> anyhow::Result<ExitCode> {
    let version = match version {
        Some(v) => v,
        None => {
            let reply = ask_engine(global, engine::Command::Proposals, None)?;
            let vigil::protocol::Reply::Proposals { entries } = reply else {
                anyhow::bail!("{}", reply.message());
            };
            match entries
                .iter()
                .find(|e| e.proposal.id == id && e.state == vigil::protocol::State::Pending)
            {
                Some(e) => e.proposal.version,
                None if entries.iter().any(|e| e.proposal.id == id) => {
                    eprintln!("vigil: refused: {id} has no version waiting for an answer");
                    return Ok(ExitCode::from(5));
                }
                None => {
                    eprintln!("vigil: no proposal {id}");
                    return Ok(ExitCode::from(4));
                }
            }
        }
    };
    let by = vigil::audit::Actor::local();
    let cmd = if approve {
        engine::Command::Approve {
            id: id.to_string(),
            version,
            by,
            confirm,
        }
    } else {
        engine::Command::Reject {
            id: id.to_string(),
            version,
            by,
            reason,
        }
    };
    let reply = ask_engine(global, cmd, Some((id.to_string(), version)))?;
    let code = reply.exit_code();
    if code == 0 {
        println!("{}", reply.message());
    } else {
        eprintln!("vigil: {}", reply.message());
    }
    Ok(ExitCode::from(code))
}
