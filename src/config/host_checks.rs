//! `[heal.certs]`, `[heal.connections]`, `[heal.cpu]`, `[heal.units]`: the checks that
//! read the host itself (certificate files, the kernel's connection tables, processes'
//! CPU time, systemd). Each can be switched off; the defaults only fire on a real
//! problem (no certificate files are read until some are named).

use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// Certificate files one config may name.
pub const MAX_CERT_FILES: usize = 256;
/// The shortest pause between two readings of the host: a check cannot become a load.
pub const MIN_EVERY: Duration = Duration::from_millis(200);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CertsCheck {
    /// PEM or DER certificate files (a chain file counts by its earliest expiry).
    pub files: Vec<PathBuf>,
    /// TLS endpoints (`host:port`) whose presented chain is read by a handshake.
    pub endpoints: Vec<String>,
    /// A certificate that expires within this many days opens an incident.
    pub days: u32,
    /// The files are read again this often (and at once after a renewal step).
    #[serde(with = "super::duration")]
    pub every: Duration,
}

impl Default for CertsCheck {
    fn default() -> Self {
        CertsCheck {
            files: Vec::new(),
            endpoints: Vec::new(),
            days: 14,
            every: Duration::from_secs(300),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectionsCheck {
    pub enabled: bool,
    /// A table (conntrack, TCP orphans, TIME-WAIT buckets) this full opens an incident;
    /// from two thirds of it, a trend reaching the limit within 30 min does too.
    pub threshold_pct: f64,
    #[serde(with = "super::duration")]
    pub every: Duration,
    /// Where /proc is (another path only for tests and containers that mount it apart).
    pub proc_root: PathBuf,
    /// The scale target that serves these connections: the incident is opened on it (the
    /// fullest table as its evidence), so the playbook's scale-out has something to grow.
    /// Unset: one incident per table, on the table's name.
    pub scale_target: Option<String>,
}

impl Default for ConnectionsCheck {
    fn default() -> Self {
        ConnectionsCheck {
            enabled: true,
            threshold_pct: 90.0,
            every: Duration::from_secs(30),
            proc_root: PathBuf::from("/proc"),
            scale_target: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CpuCheck {
    pub enabled: bool,
    /// A process holding at least this share of one core (%) ...
    pub threshold_pct: f64,
    /// ... for at least this long opens an incident. Long by default: a build or a
    /// backup is busy for minutes and is no runaway.
    #[serde(rename = "for", with = "super::duration")]
    pub duration: Duration,
    /// Processes are read this often.
    #[serde(with = "super::duration")]
    pub every: Duration,
    /// Command names (as in /proc/PID/comm) that may be busy as long as they like.
    pub ignore: Vec<String>,
}

impl Default for CpuCheck {
    fn default() -> Self {
        CpuCheck {
            enabled: true,
            threshold_pct: 95.0,
            duration: Duration::from_secs(15 * 60),
            every: Duration::from_secs(30),
            ignore: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UnitsCheck {
    /// A failed systemd unit opens an incident (where systemd runs the host).
    pub enabled: bool,
    #[serde(with = "super::duration")]
    pub every: Duration,
    /// Units (e.g. "apt-daily.service") whose failure is no incident.
    pub ignore: Vec<String>,
    /// Where systemd's runtime directory is looked for (another path only for tests).
    pub run_dir: PathBuf,
}

impl Default for UnitsCheck {
    fn default() -> Self {
        UnitsCheck {
            enabled: true,
            every: Duration::from_secs(60),
            ignore: Vec::new(),
            run_dir: PathBuf::from("/run"),
        }
    }
}

/// Every host check's number out of its bounds, as (dotted key, message).
pub fn problems(h: &super::HealConfig) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if h.certs.files.len() > MAX_CERT_FILES {
        out.push((
            "heal.certs.files".into(),
            format!(
                "at most {MAX_CERT_FILES} files, got {}",
                h.certs.files.len()
            ),
        ));
    }
    if h.certs.endpoints.len() > MAX_CERT_FILES {
        out.push((
            "heal.certs.endpoints".into(),
            format!(
                "at most {MAX_CERT_FILES} endpoints, got {}",
                h.certs.endpoints.len()
            ),
        ));
    }
    for (i, e) in h.certs.endpoints.iter().enumerate() {
        if let Err(why) = crate::collect::tls_endpoint::split(e) {
            out.push((format!("heal.certs.endpoints[{i}]"), why));
        }
    }
    if h.certs.days > 3650 {
        out.push((
            "heal.certs.days".into(),
            format!("at most 3650 days, got {}", h.certs.days),
        ));
    }
    for (key, pct) in [
        (
            "heal.connections.threshold_pct",
            h.connections.threshold_pct,
        ),
        ("heal.cpu.threshold_pct", h.cpu.threshold_pct),
    ] {
        if !(pct.is_finite() && pct > 0.0 && pct <= 100.0) {
            out.push((
                key.into(),
                format!("a share above 0 and at most 100, got {pct}"),
            ));
        }
    }
    for (key, every) in [
        ("heal.certs.every", h.certs.every),
        ("heal.connections.every", h.connections.every),
        ("heal.cpu.every", h.cpu.every),
        ("heal.units.every", h.units.every),
    ] {
        if every < MIN_EVERY {
            out.push((
                key.into(),
                format!(
                    "at least {}, got {}",
                    humantime::format_duration(MIN_EVERY),
                    humantime::format_duration(every)
                ),
            ));
        }
    }
    out
}

/// Puts one out-of-bounds key back to its default; false for a key not ours.
pub fn reset(h: &mut super::HealConfig, key: &str) -> bool {
    let d = super::HealConfig::default();
    match key {
        "heal.certs.files" => h.certs.files.truncate(MAX_CERT_FILES),
        "heal.certs.endpoints" => h.certs.endpoints.truncate(MAX_CERT_FILES),
        k if k.starts_with("heal.certs.endpoints[") => h
            .certs
            .endpoints
            .retain(|e| crate::collect::tls_endpoint::split(e).is_ok()),
        "heal.certs.days" => h.certs.days = d.certs.days,
        "heal.certs.every" => h.certs.every = d.certs.every,
        "heal.connections.threshold_pct" => {
            h.connections.threshold_pct = d.connections.threshold_pct
        }
        "heal.connections.every" => h.connections.every = d.connections.every,
        "heal.cpu.threshold_pct" => h.cpu.threshold_pct = d.cpu.threshold_pct,
        "heal.cpu.every" => h.cpu.every = d.cpu.every,
        "heal.units.every" => h.units.every = d.units.every,
        _ => return false,
    }
    true
}
