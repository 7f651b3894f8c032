//! The state checks of the healing loop beyond "exited": a watched container whose
//! healthcheck fails, one Docker itself keeps restarting, one the kernel killed for
//! memory, and OOM kills on the host. Counters are read from each listing (and from
//! /proc/vmstat on each host sample); the rules are `detect::state`'s.

use super::incidents::{Found, ev};
use crate::collect::docker::ContainerInfo;
use crate::config::HealConfig;
use crate::detect::state::{self, Counter};
use crate::heal::Trigger;
use crate::heal::diagnose::{self, Signals};
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

/// The target of the host's own findings.
pub const HOST: &str = "host";

/// Watched containers' counters kept, at most (the rest are read again when seen).
const MAX_TRACKED: usize = 1_000;
/// A rise of the host's counter is judged this long after it is read: the container
/// it belongs to (if any) is listed as OOM-killed by then (its exit is read at once).
const OOM_GRACE_MS: i64 = 15_000;

#[derive(Default)]
pub struct ContainerChecks {
    /// Per container name: its id (a recreated container counts afresh) and restarts.
    restarts: HashMap<String, (String, Counter)>,
    host_oom: Counter,
    oom_error: Option<String>,
    /// OOM kills Docker reported for any container (one at its own memory limit is not
    /// the host out of memory), as a cumulative count, from each container's last
    /// `OOMKilled` by id; kills before the first listing are the base.
    container_ooms: Counter,
    container_oom_total: u64,
    oom_by_id: HashMap<String, bool>,
    listed_once: bool,
    /// The host's kills outside containers' own limits, at the last pass.
    host_kills: u64,
}

impl ContainerChecks {
    /// A fresh listing's restart count of a watched container.
    pub fn listed(&mut self, c: &ContainerInfo, window_ms: i64, now: i64) {
        let Some(n) = c.restart_count else { return };
        if self.restarts.len() >= MAX_TRACKED && !self.restarts.contains_key(&c.name) {
            return;
        }
        let e = self
            .restarts
            .entry(c.name.clone())
            .or_insert_with(|| (c.id.clone(), Counter::default()));
        if e.0 != c.id {
            *e = (c.id.clone(), Counter::default());
        }
        // A running container's count may be carried from an older listing (the quick
        // ones inspect only the stopped): never lower for the same container, whose
        // count a recreate (a new id) alone resets.
        let n = n.max(e.1.last().unwrap_or(0));
        e.1.push(now, n, window_ms);
    }

    /// Every container of a fresh listing, watched or not: their OOM kills explain
    /// rises of the host's counter.
    pub fn listed_all(&mut self, all: &[ContainerInfo], window_ms: i64, now: i64) {
        for c in all {
            let Some(oom) = c.oom_killed else { continue };
            let before = self.oom_by_id.insert(c.id.clone(), oom);
            if oom && before != Some(true) && self.listed_once {
                self.container_oom_total += 1;
            }
        }
        self.oom_by_id
            .retain(|id, _| all.iter().any(|c| &c.id == id));
        self.listed_once = true;
        self.container_ooms
            .push(now, self.container_oom_total, window_ms);
    }

    /// Forgets containers no longer listed.
    pub fn retain(&mut self, names: &[&str]) {
        self.restarts.retain(|n, _| names.contains(&n.as_str()));
    }

    /// Restarts of `name` by Docker within the window.
    pub fn restarts_in_window(&self, name: &str) -> Option<u64> {
        self.restarts.get(name).map(|(_, c)| c.rise())
    }

    /// The host's OOM kills outside containers' own limits within the window.
    pub fn host_oom_kills(&self) -> u64 {
        self.host_kills
    }

    /// The one finding for a watched container beyond "exited", if any: a restart
    /// loop first (restarting it again would not help, whatever else is true), then
    /// an OOM kill (told apart from a plain crash), then a failing healthcheck.
    pub fn container(
        &self,
        c: &ContainerInfo,
        cfg: &HealConfig,
        host: &Signals,
        first_seen: impl Fn(Trigger) -> Option<i64>,
        now: i64,
    ) -> Option<Found> {
        let code = diagnose::exit_code(&c.status);
        let signals = Signals {
            exit_code: code,
            oom_killed: c.oom_killed == Some(true),
            mem_limit: c.mem_limit_set,
            restart_policy: c.restart_policy.clone(),
            ..host.clone()
        };
        let found = |trigger: Trigger, started: Option<i64>, evidence, signals| Found {
            trigger,
            target: c.name.clone(),
            started: first_seen(trigger).or(started).unwrap_or(now),
            evidence,
            signals,
        };
        if let Some((_, counter)) = self.restarts.get(&c.name)
            && let Some(n) = state::restart_loop(counter, cfg.restart_loop_restarts)
        {
            let mut evidence = vec![
                ev("restarts_in_window", n as f64),
                ev("window_s", cfg.window.as_secs_f64()),
            ];
            if let Some(total) = c.restart_count {
                evidence.push(ev("restart_count", total as f64));
            }
            if let Some(code) = code {
                evidence.push(ev("exit_code", code as f64));
            }
            let sig = Signals {
                docker_restarts: Some(n),
                window_s: Some(cfg.window.as_secs()),
                ..signals
            };
            return Some(found(
                Trigger::RestartLoop,
                counter.rising_since(),
                evidence,
                sig,
            ));
        }
        if matches!(c.state.as_str(), "exited" | "dead") && c.oom_killed == Some(true) {
            let mut evidence = vec![ev("container_up", 0.0), ev("oom_killed", 1.0)];
            if let Some(code) = code {
                evidence.push(ev("exit_code", code as f64));
            }
            if let Some(limit) = c.mem_limit_set {
                evidence.push(ev("mem_limit_bytes", limit as f64));
            }
            return Some(found(Trigger::OomKill, None, evidence, signals));
        }
        if c.running() && c.health.as_deref() == Some("unhealthy") {
            let evidence = vec![ev("container_healthy", 0.0)];
            return Some(found(Trigger::ContainerUnhealthy, None, evidence, signals));
        }
        None
    }

    /// Reads the kernel's OOM-kill counter from `vmstat` (bounded); the first reading
    /// is the base, so only kills after vigil started count.
    pub fn read_vmstat(&mut self, vmstat: &Path, window_ms: i64, now: i64) {
        let mut text = String::new();
        let read = std::fs::File::open(vmstat).and_then(|f| {
            f.take(state::MAX_VMSTAT_BYTES as u64 + 1)
                .read_to_string(&mut text)
        });
        let parsed = match read {
            Ok(_) => state::vmstat_oom_kills(&text),
            Err(e) => Err(format!("{}: {e}", vmstat.display())),
        };
        match parsed {
            Ok(Some(n)) => {
                self.oom_error = None;
                self.host_oom.push(now, n, window_ms);
            }
            Ok(None) => {}
            Err(e) => {
                if self.oom_error.as_deref() != Some(&e) {
                    tracing::warn!("host OOM check: {e}");
                }
                self.oom_error = Some(e);
            }
        }
    }

    /// The host's finding: the OOM killer struck within the window, more often than
    /// containers at their own limits account for.
    pub fn host(
        &mut self,
        cfg: &HealConfig,
        host: &Signals,
        first_seen: Option<i64>,
        now: i64,
    ) -> Option<Found> {
        let kills = self.host_oom.rise_until(now - OOM_GRACE_MS);
        let n = kills.saturating_sub(self.container_ooms.rise());
        self.host_kills = n;
        if !cfg.host_oom || n == 0 {
            return None;
        }
        let started = first_seen.or(self.host_oom.rising_since())?;
        Some(Found {
            trigger: Trigger::OomKill,
            target: HOST.to_string(),
            started,
            evidence: vec![
                ev("oom_kills", n as f64),
                ev("window_s", cfg.window.as_secs_f64()),
            ],
            signals: Signals {
                host_oom_kills: Some(n),
                window_s: Some(cfg.window.as_secs()),
                ..host.clone()
            },
        })
    }
}

/// Findings about a container: before the first listing their absence says nothing.
pub fn needs_listing(t: Trigger, target: &str) -> bool {
    match t {
        Trigger::ContainerExited
        | Trigger::MemoryLeak
        | Trigger::ContainerUnhealthy
        | Trigger::RestartLoop => true,
        Trigger::OomKill => target != HOST,
        _ => false,
    }
}

/// Findings a container's restart policy (or a person) may fix before vigil does: an
/// incident left untouched closes as a false alarm when they clear. Not a restart
/// loop: its playbook is telling a person, and the loop pausing is not a fix.
pub fn settles_by_itself(t: Trigger, target: &str) -> bool {
    match t {
        Trigger::ContainerExited | Trigger::ContainerUnhealthy => true,
        Trigger::OomKill => target != HOST,
        _ => false,
    }
}

/// A playbook that restarts or recreates its target answers a container, never the
/// host.
pub fn acts_on_container(p: &crate::heal::Playbook) -> bool {
    use crate::heal::Step;
    p.steps
        .iter()
        .chain(&p.rollback)
        .any(|s| matches!(s, Step::RestartContainer | Step::RecreateContainer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn looping(id: &str, restarts: u64) -> ContainerInfo {
        ContainerInfo {
            id: id.into(),
            name: "api".into(),
            state: "restarting".into(),
            restart_count: Some(restarts),
            ..ContainerInfo::default()
        }
    }

    #[test]
    fn a_stale_count_carried_by_a_quick_listing_does_not_restart_the_count() {
        let mut k = ContainerChecks::default();
        let w = 600_000;
        for (t, n) in [(0, 0), (1_000, 2), (2_000, 1), (3_000, 3), (4_000, 2)] {
            k.listed(&looping("a1", n), w, t);
        }
        assert_eq!(k.restarts_in_window("api"), Some(3));
        // Recreated: a new id counts from its own first reading.
        k.listed(&looping("b2", 0), w, 5_000);
        assert_eq!(k.restarts_in_window("api"), Some(0));
    }

    fn oom_killed(id: &str, oom: bool) -> ContainerInfo {
        ContainerInfo {
            id: id.into(),
            name: id.into(),
            state: "exited".into(),
            oom_killed: Some(oom),
            ..ContainerInfo::default()
        }
    }

    fn with_vmstat(dir: &Path, kills: u64) -> std::path::PathBuf {
        let p = dir.join("vmstat");
        std::fs::write(&p, format!("pgfault 1\noom_kill {kills}\n")).unwrap();
        p
    }

    #[test]
    fn a_container_at_its_own_limit_explains_the_hosts_rise_and_a_kill_outside_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = HealConfig::default();
        let w = cfg.window.as_millis() as i64;
        let mut k = ContainerChecks::default();
        // Before start: one kill on the host, one container killed long ago.
        k.read_vmstat(&with_vmstat(dir.path(), 1), w, 0);
        k.listed_all(&[oom_killed("old", true)], w, 0);
        // A container hits its limit: the counter rises by one, explained.
        k.read_vmstat(&with_vmstat(dir.path(), 2), w, 1_000);
        k.listed_all(
            &[oom_killed("old", true), oom_killed("web", true)],
            w,
            1_500,
        );
        assert!(k.host(&cfg, &Signals::default(), None, 20_000).is_none());
        // One more kill with no container behind it: the host ran out of memory, told
        // only once its grace has passed.
        k.read_vmstat(&with_vmstat(dir.path(), 3), w, 30_000);
        assert!(k.host(&cfg, &Signals::default(), None, 31_000).is_none());
        let f = k
            .host(&cfg, &Signals::default(), None, 46_000)
            .expect("a host OOM kill");
        assert_eq!(f.target, HOST);
        assert_eq!(f.trigger, Trigger::OomKill);
        assert_eq!(f.evidence[0].name, "oom_kills");
        assert_eq!(f.evidence[0].value, 1.0);
        assert_eq!(k.host_oom_kills(), 1);
    }
}
