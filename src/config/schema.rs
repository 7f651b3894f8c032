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
    /// Currency symbol for costs on screen.
    pub currency: String,
    /// Scale targets: groups vigil proposes to scale.
    pub scale: Vec<ScaleTarget>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetKind {
    DockerGroup,
    SwarmService,
    HuaweiAsGroup,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScaleTarget {
    pub name: String,
    pub kind: TargetKind,
    /// The series that measures the group's load: cpu_pct, mem_pct, net_rx_bps ...
    pub metric: String,
    /// How much of that metric one instance carries at 100 %.
    pub capacity: f64,
    /// Instances now, until an executor reads the real count.
    pub instances: usize,
    pub min: usize,
    pub max: usize,
    /// Utilisation to plan for.
    pub target: f64,
    /// Above this utilisation, scale out at once.
    pub emergency: f64,
    #[serde(with = "super::duration")]
    pub boot: Duration,
    pub price_per_hour: f64,
    pub billing: crate::plan::cost::Billing,
    /// 0 means no budget.
    pub max_monthly_cost: f64,
    #[serde(with = "super::duration")]
    pub stabilisation: Duration,
    #[serde(with = "super::duration")]
    pub cooldown: Duration,
    /// A scale-out by more than this many instances needs a person.
    pub manual_above: usize,
    /// A scale-in below this many instances needs a person.
    pub manual_below: usize,
    /// The next size up, proposed when the group is at `max` and still short: a
    /// container's raised CPU limit, or a VPS's next flavor.
    pub resize_to: Option<Flavor>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flavor {
    pub name: String,
    /// Capacity of one instance of this size, in the target's metric.
    pub capacity: f64,
    pub price_per_hour: f64,
}

impl Default for ScaleTarget {
    fn default() -> Self {
        ScaleTarget {
            name: "web".into(),
            kind: TargetKind::DockerGroup,
            metric: "cpu_pct".into(),
            capacity: 100.0,
            instances: 1,
            min: 1,
            max: 10,
            target: 0.6,
            emergency: 0.9,
            boot: Duration::from_secs(90),
            price_per_hour: 0.0,
            billing: crate::plan::cost::Billing::Second,
            max_monthly_cost: 0.0,
            stabilisation: Duration::from_secs(300),
            cooldown: Duration::from_secs(0),
            manual_above: 3,
            manual_below: 1,
            resize_to: None,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            currency: "¥".into(),
            scale: Vec::new(),
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
        for (i, t) in self.scale.iter().enumerate() {
            let key = |k: &str| format!("scale.{i}.{k}");
            if crate::collect::Metric::from_name(&t.metric).is_none() {
                let names: Vec<&str> = crate::collect::Metric::ALL
                    .iter()
                    .map(|m| m.name())
                    .collect();
                bad(
                    &key("metric"),
                    format!("expected one of {}, got \"{}\"", names.join(", "), t.metric),
                );
            }
            if !(t.capacity > 0.0 && t.capacity.is_finite()) {
                bad(
                    &key("capacity"),
                    format!("must be more than 0, got {}", t.capacity),
                );
            }
            if t.min == 0 || t.min > t.max {
                bad(
                    &key("min"),
                    format!(
                        "must be at least 1 and at most max ({}), got {}",
                        t.max, t.min
                    ),
                );
            }
            if !(t.target > 0.0 && t.target <= 1.0) {
                bad(
                    &key("target"),
                    format!("a utilisation between 0 and 1, got {}", t.target),
                );
            }
            if !(t.emergency > t.target && t.emergency <= 1.5) {
                bad(
                    &key("emergency"),
                    format!(
                        "must be above target ({}) and at most 1.5, got {}",
                        t.target, t.emergency
                    ),
                );
            }
            if let Some(f) = &t.resize_to
                && !(f.capacity > t.capacity && f.price_per_hour >= 0.0)
            {
                bad(
                    &key("resize_to"),
                    format!(
                        "a bigger size: capacity above {}, got {}",
                        t.capacity, f.capacity
                    ),
                );
            }
            if !(t.price_per_hour >= 0.0 && t.max_monthly_cost >= 0.0) {
                bad(&key("price_per_hour"), "prices cannot be negative".into());
            }
        }
        out
    }

    /// Resets the keys that failed a semantic check to their defaults; drops scale
    /// targets that failed one.
    pub fn reset_keys(&mut self, keys: &[String]) {
        let d = Config::default();
        for k in keys {
            match k.as_str() {
                "interval" => self.interval = d.interval,
                "console.lang" => self.console.lang = d.console.lang.clone(),
                "log.level" => self.log.level = d.log.level.clone(),
                k if k.starts_with("scale.") => {
                    // A target with a wrong value is left out rather than guessed at.
                    if let Some(i) = k.split('.').nth(1).and_then(|i| i.parse::<usize>().ok())
                        && i < self.scale.len()
                    {
                        self.scale[i].name.clear();
                    }
                }
                "store.raw_retention" | "store.minute_retention" | "store.hour_retention" => {
                    self.store.raw_retention = d.store.raw_retention;
                    self.store.minute_retention = d.store.minute_retention;
                    self.store.hour_retention = d.store.hour_retention;
                }
                _ => {}
            }
        }
        self.scale.retain(|t| !t.name.is_empty());
    }
}
