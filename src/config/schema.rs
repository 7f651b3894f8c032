//! The TOML schema. Every key has a default, so an empty file is a valid config and a
//! problem in one key never costs the operator the rest of the file.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// How often the host is sampled.
    #[serde(with = "super::duration")]
    pub interval: Duration,
    /// `shadow` shows and records what vigil would do; `live` lets approved actions run.
    pub mode: Mode,
    pub console: ConsoleConfig,
    pub store: StoreConfig,
    pub log: LogConfig,
    pub docker: DockerConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            interval: Duration::from_secs(1),
            mode: Mode::Shadow,
            console: ConsoleConfig::default(),
            store: StoreConfig::default(),
            log: LogConfig::default(),
            docker: DockerConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Shadow,
    Live,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleConfig {
    /// A theme name: a file `NAME.toml` in the user theme folder or one built in.
    pub theme: String,
    /// `auto` follows LANG; or `en`, `zh-CN`.
    pub lang: String,
    /// Off by default so operators can select text over SSH.
    pub mouse: bool,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            theme: "default".into(),
            lang: "auto".into(),
            mouse: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// false keeps history in memory only.
    pub enabled: bool,
    /// Database file; empty means `vigil.db` in the XDG data directory.
    pub path: Option<PathBuf>,
    #[serde(with = "super::duration")]
    pub raw_retention: Duration,
    #[serde(with = "super::duration")]
    pub minute_retention: Duration,
    #[serde(with = "super::duration")]
    pub hour_retention: Duration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            enabled: true,
            path: None,
            raw_retention: Duration::from_secs(3600),
            minute_retention: Duration::from_secs(8 * 86_400),
            hour_retention: Duration::from_secs(90 * 86_400),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// error, warn, info, debug or trace.
    pub level: String,
    /// Folder for the daily log files; empty means the XDG state directory.
    pub dir: Option<PathBuf>,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            dir: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DockerConfig {
    /// The Docker engine's socket; containers are counted when it exists.
    pub socket: PathBuf,
}

impl Default for DockerConfig {
    fn default() -> Self {
        DockerConfig {
            socket: PathBuf::from("/var/run/docker.sock"),
        }
    }
}

pub const LANGS: &[&str] = &["auto", "en", "zh-CN"];
pub const LOG_LEVELS: &[&str] = &["error", "warn", "info", "debug", "trace"];

impl Config {
    /// Checks that go beyond types. Each problem names the key it is about, so the
    /// loader can point at the line.
    pub fn semantic_problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut bad = |key: &str, msg: String| out.push((key.to_string(), msg));
        if self.interval < Duration::from_millis(100) || self.interval > Duration::from_secs(3600) {
            bad(
                "interval",
                format!(
                    "must be between 100ms and 1h, got {}",
                    humantime::format_duration(self.interval)
                ),
            );
        }
        if !LANGS.contains(&self.console.lang.as_str()) {
            bad(
                "console.lang",
                format!(
                    "expected one of {}, got \"{}\"",
                    LANGS.join(", "),
                    self.console.lang
                ),
            );
        }
        if !LOG_LEVELS.contains(&self.log.level.as_str()) {
            bad(
                "log.level",
                format!(
                    "expected one of {}, got \"{}\"",
                    LOG_LEVELS.join(", "),
                    self.log.level
                ),
            );
        }
        let s = &self.store;
        if s.raw_retention < Duration::from_secs(60) {
            bad("store.raw_retention", "must be at least 1m".into());
        }
        if s.minute_retention < s.raw_retention {
            bad(
                "store.minute_retention",
                "must not be shorter than store.raw_retention".into(),
            );
        }
        if s.hour_retention < s.minute_retention {
            bad(
                "store.hour_retention",
                "must not be shorter than store.minute_retention".into(),
            );
        }
        out
    }

    /// Resets the keys that failed a semantic check to their defaults.
    pub fn reset_keys(&mut self, keys: &[String]) {
        let d = Config::default();
        for k in keys {
            match k.as_str() {
                "interval" => self.interval = d.interval,
                "console.lang" => self.console.lang = d.console.lang.clone(),
                "log.level" => self.log.level = d.log.level.clone(),
                "store.raw_retention" | "store.minute_retention" | "store.hour_retention" => {
                    self.store.raw_retention = d.store.raw_retention;
                    self.store.minute_retention = d.store.minute_retention;
                    self.store.hour_retention = d.store.hour_retention;
                }
                _ => {}
            }
        }
    }
}
