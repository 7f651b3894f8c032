//! The healing loop's container state checks on the real Docker engine: a container
//! whose healthcheck fails is restarted and counted fixed only once healthy; one that
//! Docker keeps restarting is not restarted again but handed to a person; one the
//! kernel killed for memory is an OOM kill with its limit, not a plain crash. And the
//! host's own OOM counter, read from a procfs the test owns, opens a host incident
//! only when it rises.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use vigil::audit;
use vigil::collect::host::HostCollector;
use vigil::config::{Config, Mode};
use vigil::engine::{Command, Engine, Snapshot, Source, SystemClock};
use vigil::protocol::{IncidentState, IncidentView, State, StepState};

mod common;
use common::{Cleanup, IMAGE, docker};

/// A live config with everything it writes in `dir`, restarts allowed by a rule, and
/// the host-wide checks off (this host is not the test's; the host OOM test turns its
/// check back on over its own procfs).
fn config(dir: &Path, name: &str) -> Config {
    let mut c = Config {
        mode: Mode::Live,
        ..Config::default()
    };
    c.store.path = Some(dir.join("vigil.db"));
    c.audit.path = Some(dir.join("audit.jsonl"));
    c.daemon.brake = Some(dir.join("brake"));
    c.daemon.socket = Some(dir.join("vigil.sock"));
    c.log.dir = Some(dir.join("logs"));
    c.audit.syslog = None;
    c.approve.auto = vec!["restart".into()];
    c.heal.host_disk = false;
    c.heal.host_oom = false;
    c.heal.label = label(name);
    c.playbooks.dir = Some(dir.join("playbooks"));
    c
}

fn engine_on(c: Config, proc: HostCollector) -> (Engine, tokio::sync::watch::Receiver<Snapshot>) {
    let (e, rx) = Engine::new(
        c,
        Arc::new(SystemClock),
        Source::Host(Box::new(proc)),
        Vec::new(),
    );
    e.start_watchers();
    (e, rx)
}

fn engine(c: Config) -> (Engine, tokio::sync::watch::Receiver<Snapshot>) {
    engine_on(c, HostCollector::proc())
}

/// Ticks (every 200 ms) and handles results until `pred` holds.
async fn until(
    e: &mut Engine,
    rx: &tokio::sync::watch::Receiver<Snapshot>,
    what: &str,
    secs: u64,
    pred: impl Fn(&Snapshot) -> bool,
) -> Snapshot {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut last = Instant::now() - Duration::from_secs(1);
    loop {
        if last.elapsed() >= Duration::from_millis(200) {
            e.tick().await;
            last = Instant::now();
        }
        e.pump(Duration::from_millis(100)).await;
        {
            let s = rx.borrow();
            if pred(&s) {
                return s.clone();
            }
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not within {secs} s; incidents: {:#?}",
            rx.borrow().incidents,
        );
    }
}

fn incidents_on<'a>(s: &'a Snapshot, target: &str) -> Vec<&'a IncidentView> {
    s.incidents.iter().filter(|i| i.target == target).collect()
}

fn one(s: &Snapshot, target: &str, state: IncidentState) -> Option<IncidentView> {
    incidents_on(s, target)
        .into_iter()
        .find(|i| i.state == state)
        .cloned()
}

fn value(i: &IncidentView, name: &str) -> Option<f64> {
    i.evidence.iter().find(|e| e.name == name).map(|e| e.value)
}

fn step_states(i: &IncidentView) -> Vec<(String, StepState)> {
    i.steps.iter().map(|s| (s.name.clone(), s.state)).collect()
}

/// Audit records of one kind whose proposal is `id`.
fn audited(dir: &Path, kind: &str, id: &str) -> usize {
    audit::read_records(&dir.join("audit.jsonl"))
        .unwrap()
        .into_iter()
        .filter(|(r, _)| r.kind == kind && r.data["proposal"] == id)
        .count()
}

fn inspect(name: &str, what: &str) -> String {
    docker(&["inspect", "-f", what, name])
}

/// The heal label of this test binary's containers only: tests run side by side on
/// one Docker engine and must never heal each other's.
fn label(name: &str) -> String {
    format!("vigil.heal.{name}")
}

fn watched(name: &str, extra: &[&str], cmd: &[&str]) {
    let heal = format!("{}=1", label(name));
    let mut args = vec!["run", "-d", "--name", name, "--label", &heal];
    args.extend_from_slice(extra);
    args.push(IMAGE);
    args.extend_from_slice(cmd);
    docker(&args);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unhealthy_container_is_restarted_and_verified_healthy() {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("vhc-sick-{}", std::process::id());
    let _c = Cleanup(name.clone());
    // Healthy while /tmp/ok exists; a start creates it again.
    watched(
        &name,
        &[
            "--health-cmd",
            "test -e /tmp/ok",
            "--health-interval",
            "1s",
            "--health-retries",
            "1",
        ],
        &["sh", "-c", "touch /tmp/ok; while :; do sleep 1; done"],
    );
    let (mut e, rx) = engine(config(dir.path(), &name));
    until(&mut e, &rx, "healthy", 30, |s| {
        s.containers
            .iter()
            .any(|c| c.name == name && c.health.as_deref() == Some("healthy"))
    })
    .await;
    assert!(incidents_on(&rx.borrow(), &name).is_empty());
    docker(&["exec", &name, "sh", "-c", "rm /tmp/ok"]);
    let s = until(&mut e, &rx, "resolved", 90, |s| {
        one(s, &name, IncidentState::Resolved).is_some()
    })
    .await;
    let i = one(&s, &name, IncidentState::Resolved).unwrap();
    assert_eq!(i.trigger, "container-unhealthy");
    assert_eq!(i.playbook.as_deref(), Some("unhealthy-container"));
    assert_eq!(value(&i, "container_healthy"), Some(0.0));
    assert_eq!(
        i.diagnosis,
        vec!["it runs, but its own healthcheck fails: unhealthy"]
    );
    assert_eq!(
        step_states(&i),
        vec![
            ("restart-container".to_string(), StepState::Done),
            ("notify".to_string(), StepState::Skipped)
        ]
    );
    let v = i.verify.clone().unwrap();
    assert_eq!(
        (v.metric.as_str(), v.passed),
        ("container_healthy", Some(true))
    );
    assert_eq!(
        i.reason.as_deref(),
        Some("verified: container_healthy 0.0 → 1.0 (container_healthy must rise by 1 within 1m)")
    );
    assert_eq!(audited(dir.path(), "intent", &format!("heal:{name}")), 1);
    assert_eq!(inspect(&name, "{{.State.Health.Status}}"), "healthy");
    assert_eq!(incidents_on(&s, &name).len(), 1, "{:#?}", s.incidents);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_loop_is_not_restarted_again_but_handed_to_a_person() {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("vhc-loop-{}", std::process::id());
    let _c = Cleanup(name.clone());
    watched(
        &name,
        &["--restart", "always", "--no-healthcheck"],
        &["sh", "-c", "sleep 1; exit 1"],
    );
    let (mut e, rx) = engine(config(dir.path(), &name));
    let id = format!("heal:{name}");
    let s = until(&mut e, &rx, "a recreate waiting for a person", 60, |s| {
        s.board
            .iter()
            .any(|x| x.proposal.id == id && x.state == State::Pending)
    })
    .await;
    let mine = incidents_on(&s, &name);
    assert_eq!(
        mine.len(),
        1,
        "one incident, not a crash per restart: {mine:#?}"
    );
    let i = mine[0];
    assert_eq!(i.trigger, "restart-loop");
    assert_eq!(i.playbook.as_deref(), Some("restart-loop"));
    assert_eq!(i.risk.as_deref(), Some("L3"));
    assert_eq!(i.state, IncidentState::Fixing);
    let n = value(i, "restarts_in_window").unwrap();
    assert!(n >= 3.0, "{:?}", i.evidence);
    assert_eq!(value(i, "window_s"), Some(600.0));
    assert_eq!(
        i.diagnosis[0],
        format!(
            "Docker restarted it {n} time(s) within 10m (restart policy always) and it fails again each time: another restart would not help"
        )
    );
    assert_eq!(
        step_states(i),
        vec![
            ("notify".to_string(), StepState::Done),
            ("recreate-container".to_string(), StepState::Proposed),
            ("notify".to_string(), StepState::Waiting)
        ]
    );
    let pending = s
        .board
        .iter()
        .find(|x| x.proposal.id == id && x.state == State::Pending)
        .unwrap();
    assert_eq!(pending.proposal.class(), "recreate");
    assert!(pending.proposal.manual.is_some(), "L3 waits for a person");
    // vigil restarted nothing itself: every restart was Docker's.
    assert_eq!(audited(dir.path(), "intent", &id), 0);

    // The person declines: escalated, a manual intervention, and still nothing run.
    e.command(Command::Reject {
        id: id.clone(),
        version: pending.proposal.version,
        by: audit::Actor {
            user: "oncall".into(),
            ssh: None,
        },
        reason: None,
    });
    let s = until(&mut e, &rx, "escalated", 30, |s| {
        one(s, &name, IncidentState::Escalated).is_some()
    })
    .await;
    let i = one(&s, &name, IncidentState::Escalated).unwrap();
    assert!(i.manual);
    assert_eq!(
        i.reason,
        Some(format!(
            "{id} v{} was rejected by oncall: a person declined the fix",
            pending.proposal.version
        ))
    );
    assert_eq!(audited(dir.path(), "intent", &id), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oom_killed_container_is_an_oom_kill_with_its_limit_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("vhc-oom-{}", std::process::id());
    let _c = Cleanup(name.clone());
    // Reads 64 MB into a shell variable under an 8 MiB limit, once: after a restart
    // the marker on its own filesystem says it already did.
    watched(
        &name,
        &["--memory", "8m", "--memory-swap", "8m", "--no-healthcheck"],
        &[
            "sh",
            "-c",
            "if [ ! -e /oomed ]; then : > /oomed; x=$(head -c 64000000 /dev/zero | tr '\\0' a); fi; \
             while :; do sleep 3600; done",
        ],
    );
    let (mut e, rx) = engine(config(dir.path(), &name));
    let s = until(&mut e, &rx, "resolved", 90, |s| {
        one(s, &name, IncidentState::Resolved).is_some()
    })
    .await;
    let mine = incidents_on(&s, &name);
    assert_eq!(mine.len(), 1, "an OOM kill, not also a crash: {mine:#?}");
    let i = mine[0];
    assert_eq!(i.trigger, "oom-kill");
    assert_eq!(i.playbook.as_deref(), Some("oom-killed-container"));
    assert_eq!(value(i, "oom_killed"), Some(1.0));
    assert_eq!(value(i, "exit_code"), Some(137.0));
    assert_eq!(value(i, "mem_limit_bytes"), Some(8_388_608.0));
    assert_eq!(
        i.diagnosis[0],
        "killed by the kernel's OOM killer: out of memory at its limit of 8.0 MiB"
    );
    assert_eq!(
        step_states(i),
        vec![
            ("notify".to_string(), StepState::Done),
            ("restart-container".to_string(), StepState::Done),
            ("wait".to_string(), StepState::Done),
            ("notify".to_string(), StepState::Skipped)
        ]
    );
    assert_eq!(
        i.reason.as_deref(),
        Some("verified: container_up 0.0 → 1.0 (container_up must rise by 1 within 30s)")
    );
    assert_eq!(inspect(&name, "{{.State.Status}}"), "running");
}

/// A copy of a procfs fixture the test can change.
fn fake_proc(dir: &Path) -> std::path::PathBuf {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/proc-a");
    let to = dir.join("proc");
    for e in walkdir::WalkDir::new(&from) {
        let e = e.unwrap();
        let rel = e.path().strip_prefix(&from).unwrap();
        if e.file_type().is_dir() {
            std::fs::create_dir_all(to.join(rel)).unwrap();
        } else {
            std::fs::copy(e.path(), to.join(rel)).unwrap();
        }
    }
    to
}

fn vmstat(proc: &Path, oom_kills: u64) {
    std::fs::write(
        proc.join("vmstat"),
        format!("nr_free_pages 1000\npgmajfault 7\noom_kill {oom_kills}\nnr_dirty 3\n"),
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hosts_oom_counter_opens_an_incident_only_when_it_rises() {
    let dir = tempfile::tempdir().unwrap();
    let proc = fake_proc(dir.path());
    // Kills from before vigil started are not news.
    vmstat(&proc, 5);
    let mut c = config(dir.path(), &format!("vhc-host-{}", std::process::id()));
    c.heal.host_oom = true;
    // No Docker engine: other tests' containers OOM-killed meanwhile would explain
    // this procfs's kills away.
    c.docker.socket = dir.path().join("no-docker.sock");
    let (mut e, rx) = engine_on(c, HostCollector::new(&proc));
    for _ in 0..10 {
        e.tick().await;
        e.pump(Duration::from_millis(100)).await;
    }
    assert!(incidents_on(&rx.borrow(), "host").is_empty());
    vmstat(&proc, 7);
    let s = until(&mut e, &rx, "host OOM incident", 40, |s| {
        !incidents_on(s, "host").is_empty()
    })
    .await;
    let mine = incidents_on(&s, "host");
    assert_eq!(mine.len(), 1, "{mine:#?}");
    let i = mine[0];
    assert_eq!(i.trigger, "oom-kill");
    assert_eq!(value(i, "oom_kills"), Some(2.0));
    assert_eq!(
        i.diagnosis[0],
        "the kernel's OOM killer killed 2 process(es) within 10m, beyond any container's own memory limit: the host ran out of memory"
    );
    // Restarting a container is no answer for the host: a person is told.
    assert_eq!(i.playbook, None);
    assert_eq!(i.state, IncidentState::Escalated);
    assert_eq!(
        i.reason.as_deref(),
        Some("no playbook answers this: a person must look")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_a_restart_does_not_make_healthy_is_escalated_after_one_restart() {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("vhc-never-{}", std::process::id());
    let _c = Cleanup(name.clone());
    watched(
        &name,
        &[
            "--health-cmd",
            "false",
            "--health-interval",
            "1s",
            "--health-retries",
            "1",
        ],
        &["sh", "-c", "while :; do sleep 1; done"],
    );
    let mut c = config(dir.path(), &name);
    c.heal.verify_within = Duration::from_secs(5);
    let (mut e, rx) = engine(c);
    let s = until(&mut e, &rx, "escalated", 90, |s| {
        one(s, &name, IncidentState::Escalated).is_some()
    })
    .await;
    let i = one(&s, &name, IncidentState::Escalated).unwrap();
    assert_eq!(i.trigger, "container-unhealthy");
    assert_eq!(
        step_states(&i),
        vec![
            ("restart-container".to_string(), StepState::Failed),
            ("notify".to_string(), StepState::Done)
        ]
    );
    assert_eq!(i.verify.as_ref().unwrap().passed, Some(false));
    let reason = i.reason.clone().unwrap();
    assert!(
        reason.starts_with("not verified: step restart-container failed: "),
        "{reason}"
    );
    assert!(
        reason.ends_with("; nothing to undo: escalated to a person"),
        "{reason}"
    );
    // Still unhealthy, and not restarted again while it stays so.
    for _ in 0..15 {
        e.tick().await;
        e.pump(Duration::from_millis(200)).await;
    }
    assert_eq!(audited(dir.path(), "intent", &format!("heal:{name}")), 1);
    let s = rx.borrow().clone();
    assert_eq!(incidents_on(&s, &name).len(), 1, "{:#?}", s.incidents);
    assert_eq!(inspect(&name, "{{.State.Health.Status}}"), "unhealthy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_oom_killed_again_after_its_restart_is_escalated_not_restarted_again() {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("vhc-ooms-{}", std::process::id());
    let _c = Cleanup(name.clone());
    // Out of memory on every start.
    watched(
        &name,
        &["--memory", "8m", "--memory-swap", "8m", "--no-healthcheck"],
        &[
            "sh",
            "-c",
            "x=$(head -c 64000000 /dev/zero | tr '\\0' a); while :; do sleep 3600; done",
        ],
    );
    let (mut e, rx) = engine(config(dir.path(), &name));
    let s = until(&mut e, &rx, "escalated", 90, |s| {
        one(s, &name, IncidentState::Escalated).is_some()
    })
    .await;
    let i = one(&s, &name, IncidentState::Escalated).unwrap();
    assert_eq!(i.trigger, "oom-kill");
    assert_eq!(i.verify.as_ref().unwrap().passed, Some(false));
    let reason = i.reason.clone().unwrap();
    assert!(reason.starts_with("not verified: "), "{reason}");
    assert!(
        reason.ends_with("; nothing to undo: escalated to a person"),
        "{reason}"
    );
    // The restart did not help: no second one while it stays down.
    for _ in 0..15 {
        e.tick().await;
        e.pump(Duration::from_millis(200)).await;
    }
    let s = rx.borrow().clone();
    assert_eq!(audited(dir.path(), "intent", &format!("heal:{name}")), 1);
    assert_eq!(incidents_on(&s, &name).len(), 1, "{:#?}", s.incidents);
    assert_eq!(
        inspect(&name, "{{.State.Status}} {{.State.OOMKilled}}"),
        "exited true"
    );
}
