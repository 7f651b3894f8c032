//! Where vigil keeps its files, following the XDG base directories.

use directories::ProjectDirs;
use std::path::PathBuf;

fn dirs() -> Option<ProjectDirs> {
    ProjectDirs::from("", "", "vigil")
}

pub fn config_file() -> Option<PathBuf> {
    dirs().map(|d| d.config_dir().join("config.toml"))
}

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
