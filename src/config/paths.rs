//! Where vigil keeps its files, following the XDG base directories.

use directories::ProjectDirs;
use std::path::PathBuf;

fn dirs() -> Option<ProjectDirs> {
    ProjectDirs::from("", "", "vigil")
}

/// The user's config; without one, the host's (the daemon's, `/etc/vigil/config.toml`),
/// so that an operator's `vigil status` or `vigil audit verify` reads what the daemon reads.
pub fn config_file() -> Option<PathBuf> {
    let user = dirs().map(|d| d.config_dir().join("config.toml"));
    let host = PathBuf::from(SYSTEM_CONFIG);
    match user {
        Some(u) if !u.exists() && host.exists() => Some(host),
        other => other,
    }
}

/// The host-wide config the systemd unit gives the daemon.
pub const SYSTEM_CONFIG: &str = "/etc/vigil/config.toml";

pub fn themes_dir() -> Option<PathBuf> {
    dirs().map(|d| d.config_dir().join("themes"))
}

pub fn data_dir() -> Option<PathBuf> {
    dirs().map(|d| d.data_dir().to_path_buf())
}

/// Logs belong in the state directory; systems without one get the data directory.
pub fn log_dir() -> Option<PathBuf> {
    dirs().map(|d| d.state_dir().unwrap_or(d.data_local_dir()).join("logs"))
}

/// The audit log, the brake and other state that is not history.
pub fn state_dir() -> Option<PathBuf> {
    dirs().map(|d| d.state_dir().unwrap_or(d.data_local_dir()).to_path_buf())
}

/// The system-wide state directory the systemd unit makes (StateDirectory=vigil).
pub const SYSTEM_STATE: &str = "/var/lib/vigil";
/// The system-wide runtime directory the systemd unit makes (RuntimeDirectory=vigil).
pub const SYSTEM_RUNTIME: &str = "/run/vigil";

/// Where the attach socket is when the config does not say: the system daemon's when
/// its runtime directory exists, else the user's runtime directory.
pub fn default_socket() -> Option<PathBuf> {
    let system = PathBuf::from(SYSTEM_RUNTIME);
    if system.is_dir() {
        return Some(system.join("vigil.sock"));
    }
    // Without a runtime directory (a root shell, cron), the state directory: private to
    // the user, like the runtime one.
    dirs()
        .and_then(|d| d.runtime_dir().map(|r| r.to_path_buf()))
        .or_else(state_dir)
        .map(|r| r.join("vigil.sock"))
}

/// The host's brake when the config does not say: the system state directory when it
/// exists (a daemon is installed), else the user's state directory.
pub fn default_brake() -> PathBuf {
    let system = PathBuf::from(SYSTEM_STATE);
    if system.is_dir() {
        return system.join("brake");
    }
    state_dir()
        .map(|d| d.join("brake"))
        .unwrap_or_else(|| system.join("brake"))
}
