//! The owner: the one process on this host that plans, approves and executes. It holds
//! the lock, runs the engine and (optionally) serves it on the socket. `vigil daemon`
//! (through the lean `vigil-daemon`), an embedded console and a one-shot command with no
//! daemon to ask are all owners; everything else is a client.

use super::{EngineLink, OwnerLock, bind, lock_path, serve};
use crate::collect::host::HostCollector;
use crate::config::{Config, Mode, Overrides};
use crate::engine::{self, Engine, Notice, Severity, Source, SystemClock};
use crate::protocol::Handle;
use std::path::PathBuf;
use std::sync::Arc;

pub struct Owner {
    handle: Option<Handle>,
    socket: Option<PathBuf>,
    _lock: OwnerLock,
}

impl Owner {
    /// Takes the lock (or says who holds it), binds the socket when `serve`, and starts
    /// the engine. Must run inside a tokio runtime.
    pub fn start(
        cfg: &Config,
        notices: Vec<Notice>,
        role: &str,
        serve_socket: bool,
    ) -> anyhow::Result<Owner> {
        let path = lock_path(cfg).ok_or_else(|| {
            anyhow::anyhow!("no data directory for the owner lock: set store.path")
        })?;
        let lock = OwnerLock::acquire(&path, role)?;
        let mut notices = notices;
        let mut listener = None;
        let socket = if serve_socket {
            engine::socket_path(cfg)
        } else {
            None
        };
        if let Some(path) = &socket {
            match bind(path, cfg.daemon.group.as_deref()) {
                Ok(l) => listener = Some(l),
                Err(e) if role == "daemon" => return Err(e),
                Err(e) => notices.push(Notice {
                    severity: Severity::Warn,
                    text: format!("socket: {e}: other shells cannot attach"),
                }),
            }
        }
        let handle = Engine::spawn(
            cfg.clone(),
            Arc::new(SystemClock),
            Source::Host(Box::new(HostCollector::proc())),
            notices,
        );
        // Only a socket this process bound is this process's to remove.
        let bound = listener.as_ref().and(socket);
        if let Some(l) = listener {
            let link = EngineLink {
                snapshots: handle.snapshots.clone(),
                calls: handle.calls.clone(),
            };
            tokio::spawn(serve(l, link));
        }
        Ok(Owner {
            handle: Some(handle),
            socket: bound,
            _lock: lock,
        })
    }

    /// A handle on the engine for a console (the engine's own stays with the owner).
    pub fn handle(&self) -> Handle {
        let h = self.calls();
        Handle {
            snapshots: h.snapshots.clone(),
            calls: h.calls.clone(),
            task: tokio::spawn(async {}),
        }
    }

    pub fn calls(&self) -> &Handle {
        self.handle.as_ref().expect("the engine runs until stop")
    }

    /// The socket this owner serves, if it bound one.
    pub fn socket(&self) -> Option<&std::path::Path> {
        self.socket.as_deref()
    }

    /// Stops the engine (in-flight actions finish first) and removes the socket.
    pub async fn stop(mut self) {
        if let Some(h) = self.handle.take() {
            h.send(engine::Command::Shutdown).await;
            let _ = h.task.await;
        }
        if let Some(s) = &self.socket {
            let _ = std::fs::remove_file(s);
        }
    }
}

/// The runtime every owner runs on.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    // Two workers: the engine keeps its pace while a console waits on a slow terminal.
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// The headless engine: runs until SIGTERM or SIGINT (actions in flight finish first);
/// SIGHUP re-reads the config with the same command-line choices, and the engine refuses
/// a config with problems and keeps the running one.
pub fn run_daemon(overrides: &Overrides) -> anyhow::Result<()> {
    let loaded = overrides.load()?;
    let cfg: Config = loaded.config.clone();
    let notices = Notice::config_problems(&loaded);
    for p in &loaded.problems {
        eprintln!("warning: config: {p}");
    }
    let log_dir = cfg.log.dir.clone().or_else(crate::config::paths::log_dir);
    let _guard = match log_dir {
        Some(dir) => match crate::logging::init(&dir, &cfg.log.level) {
            Ok(g) => Some(g),
            Err(e) => {
                eprintln!("warning: log: {e}");
                None
            }
        },
        None => None,
    };
    let rt = runtime()?;
    rt.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        let owner = Owner::start(&cfg, notices, "daemon", true)?;
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let mut hup = signal(SignalKind::hangup())?;
        eprintln!(
            "vigil daemon: engine running ({} mode), socket {}",
            if cfg.mode == Mode::Live {
                "live"
            } else {
                "shadow"
            },
            owner
                .socket()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "none".into())
        );
        tracing::info!("daemon started");
        loop {
            tokio::select! {
                _ = term.recv() => break,
                _ = int.recv() => break,
                _ = hup.recv() => {
                    let (config, problems) = match overrides.load() {
                        Ok(l) => (l.config, l.problems.iter().map(|p| p.to_string()).collect()),
                        Err(e) => (cfg.clone(), vec![e.to_string()]),
                    };
                    let reply = owner
                        .calls()
                        .call(engine::Command::Reload { config: Box::new(config), problems })
                        .await;
                    if let Some(r) = reply {
                        eprintln!("vigil daemon: {}", r.message());
                    }
                }
            }
        }
        eprintln!("vigil daemon: stopping (actions in flight finish first)");
        owner.stop().await;
        eprintln!("vigil daemon: stopped");
        anyhow::Ok(())
    })
}
