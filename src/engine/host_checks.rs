//! The host-wide checks of the healing loop: certificate files near their expiry,
//! connection tables near their limit, a process holding a core for long. Reading is
//! blocking I/O (files, /proc) and runs in a blocking task, each kind at its own
//! cadence; the findings are read from the last readings on the tick.

use super::incidents::IncidentEvent;
use crate::collect::certs::{self, CertInfo};
use crate::collect::procs::{self, CpuTracker, ProcStat};
use crate::collect::sockstat::{self, ConnReading, TcpCounts};
use crate::collect::tls_endpoint;
use crate::collect::units::{self, FailedUnit, UnitsReading};
use crate::config::HealConfig;
use crate::detect::checks::{self, ConnCheck};
use crate::heal::Trigger;
use crate::heal::diagnose::HostDetail;
use crate::protocol::IncidentEvidence;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use tokio::sync::mpsc;

/// Points of one connection table's series, at most.
const MAX_POINTS: usize = 2_000;
/// The trailing history a table's trend is read from.
const CONN_TREND_MS: i64 = 30 * 60_000;
/// One endpoint's handshake may take this long.
const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// Runaway processes reported at once, at most (the busiest).
const MAX_RUNAWAYS: usize = 8;

/// A table's count over time, with its limit beside it.
type Series = VecDeque<(i64, f64)>;

/// What one blocking read brought back; a kind not due this time is None.
pub struct HostReading {
    pub ts: i64,
    /// By file path or endpoint, as the config names them.
    pub certs: Option<Vec<(String, Result<CertInfo, String>)>>,
    pub conns: Option<ConnReading>,
    pub procs: Option<Result<(Vec<ProcStat>, bool), String>>,
    pub units: Option<UnitsReading>,
}

/// A problem one host check found.
pub struct HostFound {
    pub trigger: Trigger,
    pub target: String,
    pub started: i64,
    pub evidence: Vec<IncidentEvidence>,
    pub detail: HostDetail,
}

#[derive(Default)]
pub struct HostChecks {
    reading: bool,
    /// Readings handled, so the loop looks again when one came.
    pub reads: u64,
    last_certs: Option<i64>,
    last_conns: Option<i64>,
    last_procs: Option<i64>,
    last_units: Option<i64>,
    started: bool,
    /// A step acted: certificates and units are read again at the next pass.
    certs_due_now: bool,
    units_due_now: bool,
    reading_certs: bool,
    certs: BTreeMap<String, Result<CertInfo, String>>,
    /// When the certificates were last read.
    certs_at: i64,
    /// When each certificate was first seen within its days.
    cert_since: HashMap<String, i64>,
    tables: BTreeMap<&'static str, (Series, u64)>,
    tcp: Option<TcpCounts>,
    cpu: CpuTracker,
    hz: u64,
    failed_units: Option<Vec<FailedUnit>>,
    unit_since: HashMap<String, i64>,
    /// systemd does not run this host: said once, then the units are not asked again.
    no_systemd: Option<String>,
    /// Problems told once (an unreadable file, a capped reading), until they change.
    told: HashSet<String>,
    problems: Vec<String>,
}

fn ev(name: &str, value: f64) -> IncidentEvidence {
    IncidentEvidence {
        name: name.to_string(),
        value,
    }
}

fn due(last: Option<i64>, every: std::time::Duration, now: i64) -> bool {
    last.is_none_or(|t| now - t >= every.as_millis() as i64)
}

impl HostChecks {
    /// Starts a blocking read of whatever is due; nothing when a read is under way.
    pub fn read(&mut self, cfg: &HealConfig, tx: &mpsc::Sender<IncidentEvent>, now: i64) {
        if !cfg.enabled {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        // The /proc and systemd checks start one cadence after the engine, not at its
        // first tick: a daemon's start is busy enough, and a process's share needs two
        // readings anyway. Certificates are read at once.
        if !self.started {
            self.started = true;
            self.last_conns = Some(now);
            self.last_procs = Some(now);
            self.last_units = Some(now);
        }
        // Certificates in a task of their own: endpoints that time out one after the
        // other must not hold the /proc readings back.
        let named = !cfg.certs.files.is_empty() || !cfg.certs.endpoints.is_empty();
        let certs = !self.reading_certs
            && named
            && (self.certs_due_now || due(self.last_certs, cfg.certs.every, now));
        if certs {
            self.reading_certs = true;
            self.certs_due_now = false;
            self.last_certs = Some(now);
            let files = cfg.certs.files.clone();
            let endpoints = cfg.certs.endpoints.clone();
            let tx = tx.clone();
            rt.spawn_blocking(move || {
                let files = files
                    .iter()
                    .map(|f| (f.display().to_string(), certs::read(f)));
                let endpoints = endpoints
                    .iter()
                    .map(|e| (e.clone(), tls_endpoint::read(e, HANDSHAKE_TIMEOUT)));
                let r = HostReading {
                    ts: now,
                    certs: Some(files.chain(endpoints).collect()),
                    conns: None,
                    procs: None,
                    units: None,
                };
                let _ = tx.blocking_send(IncidentEvent::Host(Box::new(r)));
            });
        }
        if self.reading {
            return;
        }
        let conns = cfg.connections.enabled && due(self.last_conns, cfg.connections.every, now);
        let procs = cfg.cpu.enabled && due(self.last_procs, cfg.cpu.every, now);
        let units = cfg.units.enabled
            && self.no_systemd.is_none()
            && (self.units_due_now || due(self.last_units, cfg.units.every, now));
        if !(conns || procs || units) {
            return;
        }
        self.reading = true;
        if units {
            self.units_due_now = false;
            self.last_units = Some(now);
        }
        if conns {
            self.last_conns = Some(now);
        }
        if procs {
            self.last_procs = Some(now);
        }
        let root = cfg.connections.proc_root.clone();
        let run_dir = cfg.units.run_dir.clone();
        let tx = tx.clone();
        rt.spawn_blocking(move || {
            let r = HostReading {
                ts: now,
                certs: None,
                conns: conns.then(|| sockstat::read(&root)),
                procs: procs.then(|| procs::read_all(std::path::Path::new("/proc"))),
                units: units.then(|| units::read(&run_dir)),
            };
            let _ = tx.blocking_send(IncidentEvent::Host(Box::new(r)));
        });
    }

    /// Certificates and units are read again at the next pass (after a step acted).
    pub fn reread(&mut self) {
        self.certs_due_now = true;
        self.units_due_now = true;
    }

    /// Why the units check has nothing to watch, once it knows.
    pub fn no_systemd(&self) -> Option<&str> {
        self.no_systemd.as_deref()
    }

    pub fn on_reading(&mut self, r: HostReading, cfg: &HealConfig) {
        if r.certs.is_some() {
            self.reading_certs = false;
        } else {
            self.reading = false;
        }
        self.reads += 1;
        let mut problems = Vec::new();
        // A kind not read this time keeps its problems while it is still switched on.
        let on = [
            (
                "heal.certs",
                !cfg.certs.files.is_empty() || !cfg.certs.endpoints.is_empty(),
            ),
            ("heal.connections", cfg.connections.enabled),
            ("heal.cpu", cfg.cpu.enabled),
            ("heal.units", cfg.units.enabled),
        ];
        let kept = |me: &HostChecks, kind: &str| -> Vec<String> {
            let enabled = on.iter().any(|(k, e)| *k == kind && *e);
            me.problems
                .iter()
                .filter(|p| enabled && p.starts_with(&format!("{kind}:")))
                .cloned()
                .collect()
        };
        if let Some(list) = r.certs {
            self.certs.clear();
            self.certs_at = r.ts;
            for (path, res) in list {
                if let Err(e) = &res {
                    problems.push(format!("heal.certs: {e}"));
                }
                self.certs.insert(path, res);
            }
        } else {
            problems.extend(kept(self, "heal.certs"));
        }
        if let Some(c) = r.conns {
            for e in &c.errors {
                problems.push(format!("heal.connections: {e}"));
            }
            self.tcp = c.tcp;
            let names: HashSet<&str> = c.tables.iter().map(|t| t.name).collect();
            self.tables.retain(|k, _| names.contains(k));
            for t in c.tables {
                let (s, limit) = self.tables.entry(t.name).or_default();
                *limit = t.limit;
                s.push_back((r.ts, t.count as f64));
                while s.len() > MAX_POINTS
                    || s.front().is_some_and(|&(ts, _)| ts < r.ts - CONN_TREND_MS)
                {
                    s.pop_front();
                }
            }
        } else {
            problems.extend(kept(self, "heal.connections"));
        }
        match r.procs {
            Some(Ok((list, capped))) => {
                if self.hz == 0 {
                    self.hz = procfs::ticks_per_second();
                }
                if capped {
                    problems.push(format!(
                        "heal.cpu: more than {} processes: only the first are watched",
                        procs::MAX_PIDS
                    ));
                }
                self.cpu.update(&list, r.ts, self.hz, cfg.cpu.threshold_pct);
            }
            Some(Err(e)) => problems.push(format!("heal.cpu: {e}")),
            None => problems.extend(kept(self, "heal.cpu")),
        }
        match r.units {
            Some(UnitsReading::Failed(v)) => self.failed_units = Some(v),
            Some(UnitsReading::NoSystemd(why)) => {
                tracing::info!("{why}");
                self.failed_units = None;
                self.no_systemd = Some(why);
            }
            Some(UnitsReading::Error(e)) => problems.push(format!("heal.units: {e}")),
            None => problems.extend(kept(self, "heal.units")),
        }
        // Each problem is logged once while it lasts, not at every reading.
        for p in &problems {
            if self.told.insert(p.clone()) {
                tracing::warn!("{p}");
            }
        }
        self.told.retain(|p| problems.contains(p));
        self.problems = problems;
    }

    /// What the screen shows about the checks themselves (an unreadable file, say).
    pub fn notice(&self) -> Option<String> {
        (!self.problems.is_empty()).then(|| self.problems.join("; "))
    }

    /// The problems in the last readings.
    pub fn find(&mut self, cfg: &HealConfig, now: i64) -> Vec<HostFound> {
        let mut out = Vec::new();
        if !cfg.enabled {
            return out;
        }
        let now_s = now.div_euclid(1000);
        let mut within = HashSet::new();
        // Only the files still named: a reload that drops one drops its finding.
        let named: HashSet<String> = cfg
            .certs
            .files
            .iter()
            .map(|f| f.display().to_string())
            .chain(cfg.certs.endpoints.iter().cloned())
            .collect();
        for (file, res) in &self.certs {
            let Ok(info) = res else { continue };
            if !named.contains(file) {
                continue;
            }
            let left = certs::days_left(info, now_s);
            if left > cfg.certs.days as f64 {
                continue;
            }
            within.insert(file.clone());
            let started = *self.cert_since.entry(file.clone()).or_insert(now);
            out.push(HostFound {
                trigger: Trigger::CertExpiring,
                target: file.clone(),
                started,
                evidence: vec![
                    ev("cert_days_left", left),
                    ev("days", cfg.certs.days as f64),
                ],
                detail: HostDetail::Cert {
                    file: file.clone(),
                    subject: info.subject.clone(),
                    days_left: left,
                },
            });
        }
        self.cert_since.retain(|f, _| within.contains(f));
        if cfg.connections.enabled {
            let ratio = cfg.connections.threshold_pct / 100.0;
            let check = ConnCheck {
                ratio,
                watch_ratio: ratio * 2.0 / 3.0,
                ..ConnCheck::default()
            };
            let mut conns = Vec::new();
            for (name, (series, limit)) in &self.tables {
                let pts: Vec<(i64, f64)> = series.iter().copied().collect();
                let Some(f) = checks::connection_exhaustion(name, &pts, *limit as f64, &check)
                else {
                    continue;
                };
                let count = pts.last().map_or(0.0, |p| p.1);
                let mut evidence = vec![ev("connections_pct", count / *limit as f64 * 100.0)];
                evidence.extend(f.evidence.iter().map(|e| ev(&e.name, e.value)));
                if let Some(t) = &self.tcp {
                    evidence.push(ev("tcp_inuse", t.inuse as f64));
                }
                conns.push(HostFound {
                    trigger: Trigger::ConnectionsExhausted,
                    target: cfg
                        .connections
                        .scale_target
                        .clone()
                        .unwrap_or_else(|| name.to_string()),
                    started: f.started,
                    evidence,
                    detail: HostDetail::Table {
                        name: name.to_string(),
                        count: count as u64,
                        limit: *limit,
                    },
                });
            }
            // On one scale target, the fullest table speaks for all (one incident).
            if cfg.connections.scale_target.is_some() {
                let share = |f: &HostFound| f.evidence.first().map_or(0.0, |e| e.value);
                conns.sort_by(|a, b| share(b).total_cmp(&share(a)));
                conns.truncate(1);
            }
            out.extend(conns);
        }
        if cfg.cpu.enabled {
            let for_ms = cfg.cpu.duration.as_millis() as i64;
            let runaways = self
                .cpu
                .runaways(now, for_ms)
                .into_iter()
                .filter(|b| !cfg.cpu.ignore.contains(&b.comm))
                .take(MAX_RUNAWAYS);
            for b in runaways {
                let minutes = (now - b.since) as f64 / 60_000.0;
                out.push(HostFound {
                    trigger: Trigger::CpuRunaway,
                    target: process_target(b.pid, &b.comm),
                    started: b.since,
                    evidence: vec![
                        ev("pid", b.pid as f64),
                        ev("process_cpu_pct", b.pct),
                        ev("busy_min", minutes),
                    ],
                    detail: HostDetail::Process {
                        pid: b.pid,
                        comm: b.comm.clone(),
                        pct: b.pct,
                        minutes,
                    },
                });
            }
        }
        let failed = self
            .failed_units
            .iter()
            .flatten()
            .filter(|u| cfg.units.enabled && !cfg.units.ignore.contains(&u.unit));
        let mut seen = HashSet::new();
        for u in failed {
            seen.insert(u.unit.clone());
            let started = *self.unit_since.entry(u.unit.clone()).or_insert(now);
            out.push(HostFound {
                trigger: Trigger::UnitFailed,
                target: u.unit.clone(),
                started,
                evidence: vec![ev("unit_active", 0.0)],
                detail: HostDetail::Unit {
                    unit: u.unit.clone(),
                    sub: u.sub.clone(),
                    description: u.description.clone(),
                },
            });
        }
        self.unit_since.retain(|u, _| seen.contains(u));
        out
    }

    /// A host check's metric for a target, as of its last reading, for a playbook's
    /// verification.
    pub fn metric(&self, name: &str, target: &str) -> Option<f64> {
        match name {
            "cert_days_left" => match self.certs.get(target)? {
                Ok(info) => Some(certs::days_left(info, self.certs_at.div_euclid(1000))),
                Err(_) => None,
            },
            "connections_pct" => {
                let pct = |(s, limit): &(Series, u64)| {
                    let last = s.back()?.1;
                    (*limit > 0).then(|| last / *limit as f64 * 100.0)
                };
                match self.tables.get(target) {
                    Some(t) => pct(t),
                    // A scale target: its fullest table.
                    None => self.tables.values().filter_map(pct).max_by(f64::total_cmp),
                }
            }
            "process_cpu_pct" => self.cpu.share(target_pid(target)?),
            // Not among the failed units is active again (as far as this check sees).
            "unit_active" => {
                let failed = self.failed_units.as_ref()?;
                Some(if failed.iter().any(|u| u.unit == target) {
                    0.0
                } else {
                    1.0
                })
            }
            _ => None,
        }
    }
}

/// A process's target name: its command and pid, e.g. `nginx[1234]`. The pid keeps two
/// processes of one name apart.
pub fn process_target(pid: u32, comm: &str) -> String {
    format!("{comm}[{pid}]")
}

fn target_pid(target: &str) -> Option<u32> {
    let open = target.rfind('[')?;
    target[open + 1..].strip_suffix(']')?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn without_systemd_the_units_check_says_so_once_and_stays_quiet() {
        let run = tempfile::tempdir().unwrap();
        let mut cfg = HealConfig::default();
        cfg.connections.enabled = false;
        cfg.cpu.enabled = false;
        cfg.units.run_dir = run.path().to_path_buf();
        cfg.units.every = std::time::Duration::from_millis(200);
        let (tx, mut rx) = mpsc::channel(4);
        let mut h = HostChecks::default();
        h.read(&cfg, &tx, 0);
        assert!(!h.reading, "the first reading waits one cadence");
        h.read(&cfg, &tx, 1_000);
        let Some(IncidentEvent::Host(r)) = rx.recv().await else {
            panic!("no reading");
        };
        h.on_reading(*r, &cfg);
        let why = format!(
            "systemd does not run this host ({}/systemd/system is absent): heal.units has nothing to watch",
            run.path().display()
        );
        assert_eq!(h.no_systemd(), Some(why.as_str()));
        assert!(h.find(&cfg, 0).is_empty());
        assert_eq!(h.notice(), None);
        // Long past its cadence, and after a step: nothing more is asked.
        h.reread();
        h.read(&cfg, &tx, 3_600_000);
        assert!(!h.reading);
        assert_eq!(h.metric("unit_active", "nginx.service"), None);
    }

    #[test]
    fn a_failed_unit_opens_until_it_is_active_again() {
        let mut cfg = HealConfig::default();
        cfg.units.ignore = vec!["apt-daily.service".into()];
        let mut h = HostChecks::default();
        let unit = |n: &str| FailedUnit {
            unit: n.into(),
            sub: "failed".into(),
            description: "web".into(),
        };
        h.failed_units = Some(vec![unit("nginx.service"), unit("apt-daily.service")]);
        let f = h.find(&cfg, 5);
        assert_eq!(f.len(), 1);
        assert_eq!(
            (f[0].trigger, f[0].target.as_str()),
            (Trigger::UnitFailed, "nginx.service")
        );
        assert_eq!(h.metric("unit_active", "nginx.service"), Some(0.0));
        h.failed_units = Some(vec![]);
        assert!(h.find(&cfg, 6).is_empty());
        assert_eq!(h.metric("unit_active", "nginx.service"), Some(1.0));
    }

    #[test]
    fn on_a_scale_target_the_fullest_table_opens_one_incident_there() {
        let mut cfg = HealConfig::default();
        cfg.connections.scale_target = Some("web".into());
        let mut h = HostChecks::default();
        for (name, count) in [("conntrack", 920.0), ("tcp-orphans", 990.0)] {
            h.tables
                .insert(name, (VecDeque::from([(1_000, count)]), 1_000));
        }
        let f = h.find(&cfg, 1_000);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].target, "web");
        assert_eq!(
            f[0].detail,
            HostDetail::Table {
                name: "tcp-orphans".into(),
                count: 990,
                limit: 1_000
            }
        );
        assert_eq!(h.metric("connections_pct", "web"), Some(99.0));
        assert_eq!(h.metric("connections_pct", "conntrack"), Some(92.0));
    }

    #[test]
    fn a_process_target_names_command_and_pid() {
        assert_eq!(process_target(42, "sh"), "sh[42]");
        assert_eq!(target_pid("we[ird][42]"), Some(42));
        assert_eq!(target_pid("sh"), None);
    }
}
