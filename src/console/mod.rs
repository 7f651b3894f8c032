//! console: the ratatui app. It renders `Snapshot`s and sends `Command`s; it never calls
//! a pipeline stage. It draws only when the snapshot, the terminal size or the input
//! changed, so an idle screen costs nothing.

pub mod actions_view;
pub mod app;
pub mod audit_view;
pub mod containers_view;
pub mod forecast_view;
pub mod format;
pub mod i18n;
pub mod incidents_view;
pub mod keymap;
pub mod theme;
pub mod ui;

use crate::protocol::{Command, Handle};
use app::App;
use crossterm::event::{Event, EventStream, KeyEventKind};
use futures::StreamExt;
use tokio::signal::unix::{SignalKind, signal};

/// Runs the console until the operator quits or a signal arrives. The terminal is
/// restored on every way out, a panic included (ratatui's hook restores it before the
/// panic message prints).
pub async fn run(mut handle: Handle, mut app: App, mouse: bool) -> anyhow::Result<()> {
    // No terminal (a pipe, cron, `ssh host vigil` without -t): say so, never panic.
    let mut terminal = match ratatui::try_init() {
        Ok(t) => t,
        Err(e) => {
            ratatui::restore();
            handle.send(Command::Shutdown).await;
            anyhow::bail!(
                "the console needs a terminal ({e}); for scripts use `vigil status`, \
                 `vigil proposals` or `vigil daemon`"
            )
        }
    };
    if mouse {
        crossterm::execute!(std::io::stdout(), crossterm::event::EnableMouseCapture)?;
    }
    let result = event_loop(&mut terminal, &mut handle, &mut app).await;
    if mouse {
        let _ = crossterm::execute!(std::io::stdout(), crossterm::event::DisableMouseCapture);
    }
    ratatui::restore();
    handle.send(Command::Shutdown).await;
    result
}

async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    handle: &mut Handle,
    app: &mut App,
) -> anyhow::Result<()> {
    let mut events = EventStream::new();
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    let mut dirty = true;
    loop {
        if dirty {
            // A copy, so the engine never waits for a slow terminal to finish a frame.
            let snap = handle.snapshots.borrow_and_update().clone();
            terminal.draw(|f| ui::draw(f, app, &snap))?;
            dirty = false;
        }
        tokio::select! {
            changed = handle.snapshots.changed() => {
                if changed.is_err() {
                    anyhow::bail!("the engine stopped");
                }
                dirty = true;
            }
            ev = events.next() => match ev {
                Some(Ok(Event::Key(k))) if k.kind != KeyEventKind::Release => {
                    // Decided against the snapshot as it is now; the borrow ends before
                    // the send, so the engine is never held up.
                    let cmd = app.on_key(&k, &handle.snapshots.borrow());
                    if let Some(cmd) = cmd {
                        handle.send(cmd).await;
                    }
                    if app.quit {
                        return Ok(());
                    }
                    dirty = true;
                }
                Some(Ok(Event::Resize(_, _))) => dirty = true,
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => return Ok(()),
            },
            _ = term.recv() => return Ok(()),
            _ = hup.recv() => return Ok(()),
        }
    }
}
