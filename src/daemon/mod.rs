//! daemon: the always-on owner. The process that holds the owner lock runs the engine and
//! serves it on a Unix socket; consoles, `vigil approve` and chat-ops bots are its
//! clients. `vigil daemon` runs it headless; a console with no daemon to attach to runs
//! the same owner inside itself.

pub mod lock;
pub mod owner;
pub mod server;

pub use lock::{LockError, OwnerLock};
pub use owner::{Owner, run_daemon, runtime};
pub use server::{EngineLink, serve};

use crate::config::Config;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The owner lock lives in the data directory, beside the history and the queue it
/// guards.
pub fn lock_path(c: &Config) -> Option<PathBuf> {
    let dir = c
        .store
        .path
        .as_ref()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .or_else(crate::config::paths::data_dir)?;
    Some(dir.join("vigil.lock"))
}

fn gid_of(group: &str) -> anyhow::Result<nix::unistd::Gid> {
    match nix::unistd::Group::from_name(group) {
        Ok(Some(g)) => Ok(g.gid),
        Ok(None) => anyhow::bail!("daemon.group: no group \"{group}\" on this host"),
        Err(e) => anyhow::bail!("daemon.group: cannot look up \"{group}\": {e}"),
    }
}

/// Binds the attach socket: mode 0660, owned by the configured group, in a folder only
/// the owner (and that group) can enter. Only the lock holder calls this, so a socket
/// file already there is a dead engine's and is replaced.
pub fn bind(path: &Path, group: Option<&str>) -> anyhow::Result<tokio::net::UnixListener> {
    let gid = group.map(gid_of).transpose()?;
    if let Some(dir) = path.parent()
        && !dir.exists()
    {
        std::fs::create_dir_all(dir)?;
        let mode = if gid.is_some() { 0o750 } else { 0o700 };
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))?;
        if let Some(g) = gid {
            nix::unistd::chown(dir, None, Some(g))?;
        }
    }
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => std::fs::remove_file(path)?,
        Ok(_) => anyhow::bail!(
            "{} exists and is not a socket: not replacing it",
            path.display()
        ),
        Err(_) => {}
    }
    // The socket is created with the umask's mode; nobody may connect before it is 0660.
    let old = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o177));
    let bound = tokio::net::UnixListener::bind(path);
    rustix::process::umask(old);
    let listener =
        bound.map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", path.display()))?;
    if let Some(g) = gid {
        nix::unistd::chown(path, None, Some(g))?;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    Ok(listener)
}
