//! The attached console alone: what `vigil` becomes (by exec) once it has found this
//! host's engine on its socket. It holds the protocol client and the console, nothing of
//! the pipeline, so a console left open all night costs the host a few MiB, not the
//! engine's whole code. `vigil` resolves the config and passes what the console needs.

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use vigil::console::{app::App, i18n::Lang, theme::Theme};
use vigil::protocol::client;

/// The console of vigil, attached to the engine at SOCKET. Started by `vigil` itself,
/// which finds the engine and reads the config: run `vigil` rather than this.
#[derive(Parser, Debug)]
#[command(name = "vigil-console", version, about)]
struct Args {
    /// The engine's socket (daemon.socket)
    #[arg(long, value_name = "PATH")]
    socket: PathBuf,
    /// Colour theme: default, light, mono, or a file NAME.toml in ~/.config/vigil/themes
    #[arg(long, default_value = "default", value_name = "NAME")]
    theme: String,
    /// Interface language: en or zh-CN (or "auto", from LANG)
    #[arg(long, default_value = "auto", value_name = "LANG")]
    lang: String,
    /// Where the log file goes (never the screen)
    #[arg(long, value_name = "DIR")]
    log_dir: Option<PathBuf>,
    #[arg(long, default_value = "info", value_name = "LEVEL")]
    log_level: String,
    /// Mouse support (console.mouse)
    #[arg(long)]
    mouse: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vigil: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let _guard = match &args.log_dir {
        Some(dir) => vigil::logging::init(dir, &args.log_level).ok(),
        None => None,
    };
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let theme = Theme::load(
        &args.theme,
        vigil::config::paths::themes_dir().as_deref(),
        no_color,
    )
    .or_else(|e| {
        tracing::warn!("theme: {e}");
        Theme::built_in("default").ok_or_else(|| anyhow::anyhow!("built-in theme missing"))
    })?;
    let app = App::new(theme, Lang::resolve(&args.lang));
    // One thread: the console waits on the terminal and the socket, nothing else.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let session = client::connect(&args.socket, true)
            .await
            .map_err(|e| anyhow::anyhow!("{e}: run vigil again to start or find the engine"))?;
        tracing::info!(socket = %args.socket.display(), user = %session.user, "attached to the engine");
        let handle = client::attach(args.socket.clone(), session);
        vigil::console::run(handle, app, args.mouse).await
    })
}
