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
    pub approve: ApproveConfig,
    pub audit: AuditConfig,
    pub heal: HealConfig,
    /// The playbook library: user directory, log roots, unattended classes, commands.
    pub playbooks: crate::heal::PlaybooksConfig,
    /// Optional root-cause notes from an OpenAI-compatible LLM.
    pub llm: crate::llm::LlmConfig,
    pub daemon: DaemonConfig,
    /// Webhooks told about proposals needing approval, executions and failures.
    pub notify: Vec<NotifyTarget>,
    /// Huawei Cloud: where huawei-as-group targets (and ECS servers) live.
    pub huawei: HuaweiConfig,
    /// Set by --shadow (and replays): shadow mode cannot be left from the console.
    #[serde(skip)]
    pub shadow_forced: bool,
}

/// Classes of action, as auto-approval rules and notifications name them.
pub const ACTION_CLASSES: &[&str] = &["scale-out", "scale-in", "resize", "restart", "recreate"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApproveConfig {
    /// An unanswered proposal is denied after this long.
    #[serde(with = "super::duration")]
    pub ttl: Duration,
    /// Action classes that run without a keypress when no manual rule holds them:
    /// scale-out, scale-in, resize, restart, recreate. Each is still shown and audited.
    pub auto: Vec<String>,
}

impl Default for ApproveConfig {
    fn default() -> Self {
        ApproveConfig {
            ttl: Duration::from_secs(600),
            auto: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// The hash-chained log; unset: $XDG_STATE_HOME/vigil/audit.jsonl.
    pub path: Option<PathBuf>,
    /// Syslog socket the chain head is checkpointed to; empty: no syslog checkpoints.
    pub syslog: Option<PathBuf>,
    /// A checkpoint after every execution and at least every this many records.
    pub checkpoint_every: u64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            path: None,
            syslog: Some(PathBuf::from("/dev/log")),
            checkpoint_every: 50,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealConfig {
    /// Open incidents and run their playbooks (a watched container that exits, a leak,
    /// a filling disk).
    pub enabled: bool,
    /// Which containers are watched: members of docker-group targets, and containers
    /// carrying this label (any value).
    pub label: String,
    /// "if N restarts within WINDOW then stop and escalate" (monit).
    pub max_restarts: u32,
    #[serde(with = "super::duration")]
    pub window: Duration,
    /// A restarted container must be running (and healthy, if it has a healthcheck)
    /// within this long.
    #[serde(with = "super::duration")]
    pub verify_within: Duration,
    /// Fixes under way at once, on the whole host; more wait.
    pub max_fixes: u32,
    /// After a fix on a target, the next fix on it waits this long.
    #[serde(with = "super::duration")]
    pub cooldown: Duration,
    /// A problem that returns this soon after its fix verified is escalated, not fixed
    /// again.
    #[serde(with = "super::duration")]
    pub watch: Duration,
    /// The host's own disk (the disk_used_pct series and its forecast) opens incidents.
    pub host_disk: bool,
    /// A host series (CPU, memory, disk, inbound network) far from its own baseline
    /// opens an incident (the `anomaly` playbooks: notify, then check it settles).
    pub anomalies: bool,
    /// More directories to watch: each either a filesystem (used share from statvfs) or,
    /// with a budget, a directory whose size counts against it.
    pub disks: Vec<DiskWatch>,
    /// Used share (%) from which a disk's forecast time-to-full is read.
    pub disk_threshold_pct: f64,
    /// A disk forecast to be full within this long opens an incident.
    #[serde(with = "super::duration")]
    pub disk_horizon: Duration,
    /// The trailing history a disk's growth is read from.
    #[serde(with = "super::duration")]
    pub disk_trend: Duration,
    /// A container's memory must have grown this long to be a leak ...
    #[serde(with = "super::duration")]
    pub leak_min_span: Duration,
    /// ... by at least this many points of its limit per hour.
    pub leak_min_growth_pct_per_hour: f64,
    /// Host-wide checks: certificate files, connection tables, runaway processes,
    /// failed systemd units.
    pub certs: super::host_checks::CertsCheck,
    pub connections: super::host_checks::ConnectionsCheck,
    pub cpu: super::host_checks::CpuCheck,
    pub units: super::host_checks::UnitsCheck,
    /// A watched container Docker restarted this many times within `window` is in a
    /// restart loop (its playbook tells a person rather than restart it again); 0: off.
    pub restart_loop_restarts: u32,
    /// The kernel's OOM-kill counter (/proc/vmstat) rising after vigil started opens a
    /// host-level incident.
    pub host_oom: bool,
}

/// A directory whose filling opens an incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiskWatch {
    pub path: PathBuf,
    /// The directory's size over this many MiB is its used share; unset: the share of
    /// the filesystem it is on.
    pub budget_mib: Option<u64>,
}

impl Default for DiskWatch {
    fn default() -> Self {
        DiskWatch {
            path: PathBuf::from("/"),
            budget_mib: None,
        }
    }
}

impl Default for HealConfig {
    fn default() -> Self {
        HealConfig {
            enabled: true,
            label: "vigil.heal".into(),
            max_restarts: 3,
            window: Duration::from_secs(600),
            verify_within: Duration::from_secs(30),
            max_fixes: 2,
            cooldown: Duration::from_secs(300),
            watch: Duration::from_secs(600),
            host_disk: true,
            anomalies: true,
            disks: Vec::new(),
            disk_threshold_pct: 80.0,
            disk_horizon: Duration::from_secs(24 * 3600),
            disk_trend: Duration::from_secs(6 * 3600),
            leak_min_span: Duration::from_secs(2 * 3600),
            leak_min_growth_pct_per_hour: 0.2,
            certs: Default::default(),
            connections: Default::default(),
            cpu: Default::default(),
            units: Default::default(),
            restart_loop_restarts: 3,
            host_oom: true,
        }
    }
}

pub const NOTIFY_KINDS: &[&str] = &["generic", "dingtalk", "wecom", "feishu", "slack"];
pub const NOTIFY_EVENTS: &[&str] = &["approval", "execution", "failure", "checkpoint"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyTarget {
    /// generic (vigil's JSON), dingtalk, wecom, feishu or slack.
    pub kind: String,
    pub url: String,
    /// The signing secret (DingTalk, Feishu) comes from this environment variable ...
    pub secret_env: Option<String>,
    /// ... or from this file, which must not be readable by others (0600).
    pub secret_file: Option<PathBuf>,
    /// Which events: approval, execution, failure, checkpoint.
    pub events: Vec<String>,
    /// More than this many messages a minute are folded into one summary.
    pub per_minute: u32,
}

impl Default for NotifyTarget {
    fn default() -> Self {
        NotifyTarget {
            kind: "generic".into(),
            url: String::new(),
            secret_env: None,
            secret_file: None,
            events: NOTIFY_EVENTS.iter().map(|s| s.to_string()).collect(),
            per_minute: 6,
        }
    }
}

// ---- [huawei] -------------------------------------------------------------------------

/// Huawei Cloud's account side: region, project and how to reach the APIs. The AK/SK
/// never live in this file: they come from HUAWEICLOUD_SDK_AK / HUAWEICLOUD_SDK_SK (the
/// SDK's own variables) or from `credentials_file`, which must be 0600.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HuaweiConfig {
    /// e.g. "cn-north-4"; the endpoints are as.REGION.myhuaweicloud.com and
    /// ecs.REGION.myhuaweicloud.com.
    pub region: String,
    /// The project of that region (IAM → My Credentials → Projects).
    pub project_id: String,
    /// One base URL for both AS and ECS instead of the regional ones (a proxy, a VPC
    /// endpoint, or a test server).
    pub endpoint: Option<String>,
    /// A TOML file with `ak = "..."` and `sk = "..."`, readable by its owner only.
    /// Unset: the environment variables.
    pub credentials_file: Option<PathBuf>,
    /// One HTTP request may take this long before its answer counts as lost.
    #[serde(with = "super::duration")]
    pub request_timeout: Duration,
    /// Throttled, failed (5xx) and cooling-down requests are retried until this long
    /// has passed.
    #[serde(with = "super::duration")]
    pub retry_deadline: Duration,
    /// How often a running scaling activity or ECS job is read.
    #[serde(with = "super::duration")]
    pub poll: Duration,
    /// Per-target settings, by the [[scale]] target's name.
    pub targets: std::collections::BTreeMap<String, HuaweiTarget>,
    /// Flavor prices: a target's `flavor` (and its `resize_to`) costs this unless its
    /// own price_per_hour is set.
    pub flavors: Vec<HuaweiFlavor>,
}

impl Default for HuaweiConfig {
    fn default() -> Self {
        HuaweiConfig {
            region: String::new(),
            project_id: String::new(),
            endpoint: None,
            credentials_file: None,
            request_timeout: Duration::from_secs(30),
            retry_deadline: Duration::from_secs(120),
            poll: Duration::from_secs(5),
            targets: Default::default(),
            flavors: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HuaweiTarget {
    /// The AS group's id; unset: the group whose name is the target's name.
    pub group_id: Option<String>,
    /// An ECS server (or Flexus X instance) resized to the target's `resize_to`.
    pub server_id: Option<String>,
    /// The flavor the target's instances run, for its price.
    pub flavor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HuaweiFlavor {
    pub name: String,
    pub price_per_hour: f64,
    /// "hour" (ECS pay-per-use) or "second" (Flexus); default hour.
    #[serde(default = "hourly")]
    pub billing: crate::plan::cost::Billing,
}

fn hourly() -> crate::plan::cost::Billing {
    crate::plan::cost::Billing::Hour
}

impl HuaweiConfig {
    pub fn flavor(&self, name: &str) -> Option<&HuaweiFlavor> {
        self.flavors.iter().find(|f| f.name == name)
    }

    /// Fills the prices of Huawei targets from the flavor list, where the target did not
    /// set its own: the planner's cost model stays the one it already has.
    pub fn fill_prices(&self, scale: &mut [ScaleTarget]) {
        for t in scale.iter_mut() {
            if t.kind != TargetKind::HuaweiAsGroup && !self.targets.contains_key(&t.name) {
                continue;
            }
            let flavor = self.targets.get(&t.name).and_then(|h| h.flavor.as_deref());
            if let Some(f) = flavor.and_then(|f| self.flavor(f))
                && t.price_per_hour == 0.0
            {
                t.price_per_hour = f.price_per_hour;
                t.billing = f.billing;
            }
            if let Some(r) = &mut t.resize_to
                && r.price_per_hour == 0.0
                && let Some(f) = self.flavor(&r.name)
            {
                r.price_per_hour = f.price_per_hour;
            }
        }
    }

    /// What `vigil config check` reports about Huawei targets: a region, a project,
    /// and credentials that can be read.
    fn problems(&self, scale: &[ScaleTarget], bad: &mut dyn FnMut(&str, String)) {
        let used: Vec<&str> = scale
            .iter()
            .filter(|t| t.kind == TargetKind::HuaweiAsGroup)
            .map(|t| t.name.as_str())
            .chain(
                self.targets
                    .iter()
                    .filter(|(_, h)| h.server_id.is_some())
                    .map(|(n, _)| n.as_str()),
            )
            .collect();
        for name in self.targets.keys() {
            if !scale.iter().any(|t| &t.name == name) {
                bad(
                    &format!("huawei.targets.{name}"),
                    format!("no [[scale]] target is named \"{name}\""),
                );
            }
        }
        for (i, f) in self.flavors.iter().enumerate() {
            if !(f.price_per_hour >= 0.0 && f.price_per_hour.is_finite()) || f.name.is_empty() {
                bad(
                    &format!("huawei.flavors.{i}"),
                    format!(
                        "a flavor needs a name and a price of 0 or more, got \"{}\" at {}",
                        f.name, f.price_per_hour
                    ),
                );
            }
        }
        if let Some(e) = &self.endpoint
            && !(e.starts_with("https://") || e.starts_with("http://"))
        {
            bad(
                "huawei.endpoint",
                format!("an http:// or https:// URL, got \"{e}\""),
            );
        }
        let Some(first) = used.first() else { return };
        if self.region.trim().is_empty() && self.endpoint.is_none() {
            bad(
                "huawei.region",
                format!(
                    "target \"{first}\" is on Huawei Cloud but no region is set (e.g. region = \"cn-north-4\")"
                ),
            );
        }
        if self.project_id.trim().is_empty() {
            bad(
                "huawei.project_id",
                format!("target \"{first}\" is on Huawei Cloud but no project_id is set"),
            );
        }
        if let Err(e) = crate::execute::huawei::credentials::Credentials::load(self) {
            let key = if self.credentials_file.is_some() {
                "huawei.credentials_file"
            } else {
                "huawei"
            };
            bad(key, format!("target \"{first}\" cannot be reached: {e}"));
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetKind {
    DockerGroup,
    SwarmService,
    #[serde(alias = "huawei-asg")]
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
    /// How a new member of a docker-group is made; unset: copied from an existing member.
    pub template: Option<Template>,
    /// A new member serves once this passes (after its Docker healthcheck, if it has one).
    pub probe: Option<Probe>,
    /// A scale must be ready within this long, or it is marked failed.
    #[serde(with = "super::duration")]
    pub ready_timeout: Duration,
    /// A member being removed gets SIGTERM, then SIGKILL after this long.
    #[serde(with = "super::duration")]
    pub stop_timeout: Duration,
    /// A verified scale must move the utilisation its rule reads within this long, or
    /// it is marked as not having helped and a rollback is proposed to a person.
    #[serde(with = "super::duration")]
    pub outcome_within: Duration,
    /// The share of the promised fall in per-replica utilisation a scale-out must
    /// bring (0.5: 1 → 2 replicas must bring it down by a quarter; 0: not up).
    pub outcome_share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Template {
    pub image: String,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    /// Docker network to join; unset: the default bridge.
    pub network: Option<String>,
    /// CPU limit in cores (0: none) and memory limit in MiB (0: none).
    pub cpus: f64,
    pub memory_mib: u64,
    /// no, always, unless-stopped, on-failure.
    pub restart: String,
}

/// How vigil knows a new member serves: a TCP connect or an HTTP 2xx on the member's
/// own address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    pub port: u16,
    /// A path such as "/health": an HTTP GET must answer 2xx. Unset: a TCP connect.
    pub http: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flavor {
    pub name: String,
    /// Capacity of one instance of this size, in the target's metric.
    pub capacity: f64,
    pub price_per_hour: f64,
    /// For a docker-group: the container limits of this size (cores, MiB; 0: none).
    #[serde(default)]
    pub cpus: f64,
    #[serde(default)]
    pub memory_mib: u64,
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
            template: None,
            probe: None,
            ready_timeout: Duration::from_secs(120),
            stop_timeout: Duration::from_secs(10),
            outcome_within: Duration::from_secs(300),
            outcome_share: 0.5,
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
            approve: ApproveConfig::default(),
            audit: AuditConfig::default(),
            heal: HealConfig::default(),
            playbooks: Default::default(),
            llm: Default::default(),
            daemon: DaemonConfig::default(),
            notify: Vec::new(),
            huawei: HuaweiConfig::default(),
            shadow_forced: false,
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

/// The always-on engine: where consoles attach and where the host's brake lives.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DaemonConfig {
    /// The attach socket. Unset: /run/vigil/vigil.sock when /run/vigil exists (the
    /// systemd unit makes it), else $XDG_RUNTIME_DIR/vigil/vigil.sock.
    pub socket: Option<PathBuf>,
    /// The group that may attach, approve and brake (the socket is 0660); unset: the
    /// daemon's own group.
    pub group: Option<String>,
    /// The host's brake: one file every vigil on this host reads before every action.
    /// Unset: /var/lib/vigil/brake when /var/lib/vigil exists, else the state directory.
    pub brake: Option<PathBuf>,
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
        for (i, a) in self.approve.auto.iter().enumerate() {
            if !ACTION_CLASSES.contains(&a.as_str()) {
                bad(
                    &format!("approve.auto.{i}"),
                    format!("expected one of {}, got \"{a}\"", ACTION_CLASSES.join(", ")),
                );
            }
        }
        for (i, n) in self.notify.iter().enumerate() {
            let key = |k: &str| format!("notify.{i}.{k}");
            if !NOTIFY_KINDS.contains(&n.kind.as_str()) {
                bad(
                    &key("kind"),
                    format!(
                        "expected one of {}, got \"{}\"",
                        NOTIFY_KINDS.join(", "),
                        n.kind
                    ),
                );
            }
            if !(n.url.starts_with("http://") || n.url.starts_with("https://")) {
                bad(
                    &key("url"),
                    format!("an http:// or https:// URL, got \"{}\"", n.url),
                );
            }
            for e in &n.events {
                if !NOTIFY_EVENTS.contains(&e.as_str()) {
                    bad(
                        &key("events"),
                        format!("expected some of {}, got \"{e}\"", NOTIFY_EVENTS.join(", ")),
                    );
                }
            }
        }
        self.huawei.problems(&self.scale, &mut bad);
        self.playbooks.problems(&mut bad);
        self.llm.problems(&mut bad);
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
            if !(0.0..=1.0).contains(&t.outcome_share) {
                bad(
                    &key("outcome_share"),
                    format!("a share from 0 to 1, got {}", t.outcome_share),
                );
            }
            if t.outcome_within.is_zero() || t.outcome_within > Duration::from_secs(86_400) {
                bad(
                    &key("outcome_within"),
                    "above 0 and at most a day".to_string(),
                );
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
                k if k.starts_with("approve.auto.") => self
                    .approve
                    .auto
                    .retain(|a| ACTION_CLASSES.contains(&a.as_str())),
                k if k.starts_with("notify.") => {
                    // A webhook with a wrong value is left out, the others still run.
                    if let Some(i) = k.split('.').nth(1).and_then(|i| i.parse::<usize>().ok())
                        && i < self.notify.len()
                    {
                        self.notify[i].url.clear();
                    }
                }
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
        self.notify.retain(|n| !n.url.is_empty());
    }
}
