//! What the command line may set over the config file. One type for every binary, so
//! `vigil daemon` can hand the same choices to the lean `vigil-daemon` it becomes, and
//! the daemon's SIGHUP reload applies them again to the file it re-reads.

use super::{Loaded, Mode, load_file, load_str, paths};
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// A config file named on the command line (or VIGIL_CONFIG): it must exist.
    pub config: Option<PathBuf>,
    pub theme: Option<String>,
    pub lang: Option<String>,
    pub log_level: Option<String>,
    pub interval: Option<Duration>,
    pub shadow: bool,
}

impl Overrides {
    /// The file vigil reads: the one named, else the XDG location.
    pub fn path(&self) -> Option<PathBuf> {
        self.config.clone().or_else(paths::config_file)
    }

    /// The config file if there is one, the built-in defaults if there is none, with
    /// these choices applied.
    pub fn load(&self) -> anyhow::Result<Loaded> {
        let path = self.path();
        let mut loaded = match &path {
            Some(p) if p.exists() || self.config.is_some() => load_file(p)
                .map_err(|e| anyhow::anyhow!("cannot read config {}: {e}", p.display()))?,
            _ => load_str("", "<defaults>"),
        };
        let c = &mut loaded.config;
        if let Some(t) = &self.theme {
            c.console.theme = t.clone();
        }
        if let Some(l) = &self.lang {
            c.console.lang = l.clone();
        }
        if let Some(l) = &self.log_level {
            c.log.level = l.clone();
        }
        if let Some(i) = self.interval {
            c.interval = i;
        }
        if self.shadow {
            c.mode = Mode::Shadow;
            c.shadow_forced = true;
        }
        Ok(loaded)
    }

    /// The engine's choices as `vigil-daemon` arguments (the console's own are not its).
    pub fn daemon_args(&self) -> Vec<OsString> {
        let mut a: Vec<OsString> = Vec::new();
        if let Some(p) = &self.config {
            a.push("--config".into());
            a.push(p.clone().into_os_string());
        }
        if let Some(l) = &self.log_level {
            a.push("--log-level".into());
            a.push(l.into());
        }
        if let Some(i) = self.interval {
            a.push("--interval".into());
            a.push(format!("{}ms", i.as_millis()).into());
        }
        if self.shadow {
            a.push("--shadow".into());
        }
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daemon_args_carry_every_engine_choice_and_no_console_one() {
        let o = Overrides {
            config: Some("/etc/vigil/config.toml".into()),
            theme: Some("mono".into()),
            lang: Some("zh-CN".into()),
            log_level: Some("debug".into()),
            interval: Some(Duration::from_millis(1500)),
            shadow: true,
        };
        let a: Vec<String> = o
            .daemon_args()
            .into_iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            a,
            [
                "--config",
                "/etc/vigil/config.toml",
                "--log-level",
                "debug",
                "--interval",
                "1500ms",
                "--shadow"
            ]
        );
        assert!(Overrides::default().daemon_args().is_empty());
    }

    #[test]
    fn a_named_config_that_is_missing_is_an_error_not_the_defaults() {
        let o = Overrides {
            config: Some("/nonexistent/vigil.toml".into()),
            ..Overrides::default()
        };
        let e = o.load().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            e.starts_with("cannot read config /nonexistent/vigil.toml"),
            "{e}"
        );
    }

    #[test]
    fn shadow_on_the_command_line_wins_over_the_file() {
        let dir = std::env::temp_dir().join(format!("vigil-ovr-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok();
        let f = dir.join("c.toml");
        std::fs::write(&f, "mode = \"live\"\n").ok();
        let o = Overrides {
            config: Some(f),
            shadow: true,
            ..Overrides::default()
        };
        let l = o.load().ok();
        assert_eq!(
            l.map(|l| (l.config.mode, l.config.shadow_forced)),
            Some((Mode::Shadow, true))
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
