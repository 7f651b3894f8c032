//! The self-healing loop on the real Docker engine: a problem is detected, diagnosed,
//! fixed by its playbook through the approval queue, the gate and the audit, and
//! verified by the metric the playbook names; a fix that does not help is rolled back
//! and escalated; the guardrails stop a flapping container and escalate a problem that
//! returns right after its fix; a filling disk is cleaned before it is full.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use vigil::audit;
use vigil::collect::host::HostCollector;
use vigil::config::{Config, DiskWatch, Mode};
use vigil::engine::{Engine, Snapshot, Source, SystemClock};
use vigil::protocol::State;
use vigil::protocol::{IncidentState, IncidentView, StepState};

mod common;
use common::{Cleanup, IMAGE, Tmpfs, docker};

/// A live config with everything it writes in `dir`, restarts allowed by a rule, the
/// host's own disk left out (the test host's disk is not the test's), and the user's
/// playbooks (if any) in `dir/playbooks`.
fn config(dir: &Path, name: &str) -> Config {
    let mut c = Config {
        mode: Mode::Live,
        ..Config::default()
    };
    c.store.path = Some(dir.join("vigil.db"));
    c.audit.path = Some(dir.join("audit.jsonl"));
    c.daemon.brake = Some(dir.join("brake"));
    c.daemon.socket = Some(dir.join("vigil.sock"));
    c.audit.syslog = None;
    c.approve.auto = vec!["restart".into()];
    c.heal.host_disk = false;
    // Other tests on this host OOM-kill their containers on purpose.
    c.heal.host_oom = false;
    c.heal.label = label(name);
    c.playbooks.dir = Some(dir.join("playbooks"));
    c
}

fn engine(c: Config) -> (Engine, tokio::sync::watch::Receiver<Snapshot>) {
    let (e, rx) = Engine::new(
        c,
        Arc::new(SystemClock),
        Source::Host(Box::new(HostCollector::proc())),
        Vec::new(),
    );
    e.start_watchers();
    (e, rx)
}

/// Ticks (every 200 ms) and handles results until `pred` holds.
async fn until(
    e: &mut Engine,
    rx: &tokio::sync::watch::Receiver<Snapshot>,
    what: &str,
    secs: u64,
    mut each_tick: impl FnMut(),
    pred: impl Fn(&Snapshot) -> bool,
) -> Snapshot {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut last = Instant::now() - Duration::from_secs(1);
    loop {
        if last.elapsed() >= Duration::from_millis(200) {
            each_tick();
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
            "{what}: not within {secs} s; incidents: {:#?}\nboard: {:#?}",
            rx.borrow().incidents,
            rx.borrow().board
        );
    }
}

/// Kills a running watched container once the engine lists it, and waits until its
/// heal waits for a person (no rule allows it): the heal's id and the snapshot then.
async fn heal_waiting(
    e: &mut Engine,
    rx: &tokio::sync::watch::Receiver<Snapshot>,
    name: &str,
) -> (String, Snapshot) {
    until(
        e,
        rx,
        "listed",
        20,
        || {},
        |s| s.containers.iter().any(|c| c.name == name && c.running()),
    )
    .await;
    docker(&["kill", name]);
    let id = format!("heal:{name}");
    let s = until(
        e,
        rx,
        "heal waiting",
        30,
        || {},
        |s| {
            s.board
                .iter()
                .any(|x| x.proposal.id == id && x.state == State::Pending)
        },
    )
    .await;
    (id, s)
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

/// Audit records of one kind whose proposal is `id`.
fn audited(dir: &Path, kind: &str, id: &str) -> usize {
    audit::read_records(&dir.join("audit.jsonl"))
        .unwrap()
        .into_iter()
        .filter(|(r, _)| r.kind == kind && r.data["proposal"] == id)
        .count()
}

fn status(name: &str) -> String {
    docker(&["inspect", "-f", "{{.State.Status}}", name])
}

/// The heal label of one test: its engine watches its own containers only, never
/// another test's (tests run side by side on one Docker engine).
fn label(name: &str) -> String {
    format!("vigil.heal.{name}")
}

/// A watched container (it carries its test's heal label) of the test image.
fn watched(name: &str, extra: &[&str], cmd: &[&str]) {
    let heal = format!("{}=1", label(name));
    let group = format!("vigil.group={name}");
    let mut args = vec!["run", "-d", "--name", name, "--label", &heal, "--label"];
    args.push(&group);
    args.extend_from_slice(extra);
    args.push(IMAGE);
    args.extend_from_slice(cmd);
    docker(&args);
}

/// A user playbook in the config's playbook directory.
fn playbook(dir: &Path, file: &str, text: &str) {
    std::fs::create_dir_all(dir.join("playbooks")).unwrap();
    std::fs::write(dir.join("playbooks").join(file), text).unwrap();
}

/// `crashed-container` without its 10 s wait, for the tests that crash many times.
const QUICK_RESTART: &str = r#"
name = "crashed-container"
description = "restart at once"
trigger = "container-exited"
risk = "L1"

[[steps]]
do = "restart-container"

[verify]
metric = "container_up"
improves_by = 1
within = "20s"

[[rollback]]
do = "notify"
message = "the restart did not keep it up"
"#;

/// Leaks about 2 MiB a second into a tmpfs (charged to its memory) for 15 s, once: after
/// a restart the marker on its own filesystem says it already did.
const LEAKER: &[&str] = &[
    "sh",
    "-c",
    "busybox httpd -p 8080 -h /www; \
     if [ ! -e /leaked ]; then : > /leaked; i=0; \
       while [ $i -lt 30 ]; do i=$((i+1)); \
         busybox dd if=/dev/zero of=/leak/$i bs=1M count=1 2>/dev/null; sleep 0.5; done; fi; \
     while :; do sleep 3600; done",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_container_is_detected_diagnosed_restarted_and_verified() {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("vh-crash-{}", std::process::id());
    let _c = Cleanup(name.clone());
    watched(&name, &[], &[]);
    let (mut e, rx) = engine(config(dir.path(), &name));
    until(
        &mut e,
        &rx,
        "listed",
        20,
        || {},
        |s| s.containers.iter().any(|c| c.name == name && c.running()),
    )
    .await;
    docker(&["kill", &name]);
    let s = until(
        &mut e,
        &rx,
        "resolved",
        90,
        || {},
        |s| one(s, &name, IncidentState::Resolved).is_some(),
    )
    .await;
    let i = one(&s, &name, IncidentState::Resolved).unwrap();
    assert_eq!(i.trigger, "container-exited");
    assert_eq!(i.playbook.as_deref(), Some("crashed-container"));
    assert_eq!(value(&i, "exit_code"), Some(137.0));
    assert_eq!(
        i.diagnosis[0],
        "killed (code 137, SIGKILL): out of memory or killed from outside"
    );
    let steps: Vec<(&str, StepState, bool)> = i
        .steps
        .iter()
        .map(|s| (s.name.as_str(), s.state, s.rollback))
        .collect();
    assert_eq!(
        steps,
        vec![
            ("restart-container", StepState::Done, false),
            ("wait", StepState::Done, false),
            ("notify", StepState::Skipped, true),
        ]
    );
    assert_eq!(i.steps[0].proposal, Some((format!("heal:{name}"), 1)));
    let v = i.verify.clone().unwrap();
    assert_eq!(
        (v.before, v.last, v.passed),
        (Some(0.0), Some(1.0), Some(true))
    );
    assert!(i.started <= i.opened && i.closed >= Some(i.opened));
    assert_eq!(status(&name), "running");
    // Through the queue, the gate and the audit, like any action.
    let id = format!("heal:{name}");
    let entry = s.board.iter().find(|x| x.proposal.id == id).unwrap();
    assert_eq!(entry.state, State::Verified);
    assert_eq!(audited(dir.path(), "intent", &id), 1);
    assert!(audit::verify(&dir.path().join("audit.jsonl")).is_ok());
    // The board counts it; the store keeps it for the next start (read-only read).
    assert_eq!((s.healing.day.incidents, s.healing.day.resolved), (1, 1));
    assert_eq!(s.healing.day.success_rate, Some(1.0));
    assert!(s.healing.day.mttr_s.is_some_and(|m| m > 0.0));
    let kept = vigil::store::incidents::read_only(&dir.path().join("vigil.db"), 0).unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(
        (kept[0].id.as_str(), kept[0].state),
        (i.id.as_str(), IncidentState::Resolved)
    );
    drop(e);
    let (e2, rx2) = engine(config(dir.path(), &name));
    let list = rx2.borrow().incidents.clone();
    drop(e2);
    assert_eq!(list.len(), 1, "a restart keeps the incident");
    assert_eq!(list[0].state, IncidentState::Resolved);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaking_container_is_restarted_and_verified_by_its_memory() {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("vh-leak-{}", std::process::id());
    let _c = Cleanup(name.clone());
    watched(
        &name,
        &["--memory", "64m", "--tmpfs", "/leak:size=48m"],
        LEAKER,
    );
    let mut c = config(dir.path(), &name);
    c.heal.leak_min_span = Duration::from_secs(8);
    c.heal.leak_min_growth_pct_per_hour = 100.0;
    let (mut e, rx) = engine(c);
    let s = until(
        &mut e,
        &rx,
        "leak resolved",
        120,
        || {},
        |s| one(s, &name, IncidentState::Resolved).is_some(),
    )
    .await;
    let i = one(&s, &name, IncidentState::Resolved).unwrap();
    assert_eq!(i.trigger, "memory-leak");
    assert_eq!(i.playbook.as_deref(), Some("memory-leak"));
    assert_eq!(i.diagnosis[0], "memory grows steadily: a leak");
    assert!(
        value(&i, "growth_per_hour").is_some_and(|g| g >= 100.0),
        "{i:#?}"
    );
    assert!(
        i.started < i.opened,
        "the leak began before it was named: {i:#?}"
    );
    let v = i.verify.clone().unwrap();
    let (before, after) = (v.before.unwrap(), v.last.unwrap());
    assert!(after <= before * 0.7, "memory {before} → {after}");
    assert_eq!(v.passed, Some(true));
    let restart = i
        .steps
        .iter()
        .find(|s| s.name == "restart-container")
        .unwrap();
    assert_eq!(restart.state, StepState::Done);
    assert_eq!(status(&name), "running");
    assert_eq!(audited(dir.path(), "intent", &format!("heal:{name}")), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_playbook_that_does_not_help_is_rolled_back_and_escalated() {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("vh-noop-{}", std::process::id());
    let _c = Cleanup(name.clone());
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    // Compressing logs does nothing for a leak: the memory does not fall, the rollback
    // (a restart) runs, and a person is told.
    playbook(
        dir.path(),
        "leak-compress.toml",
        &format!(
            r#"
name = "leak-compress"
description = "compress logs (which does not help a leak)"
trigger = "memory-leak"
risk = "L1"

[[steps]]
do = "compress-logs"
older_than = "1d"
paths = ["{}"]

[verify]
metric = "container_mem_pct"
improves_by = "30%"
within = "4s"

[[rollback]]
do = "restart-container"
"#,
            logs.display()
        ),
    );
    watched(
        &name,
        &["--memory", "64m", "--tmpfs", "/leak:size=48m"],
        LEAKER,
    );
    let mut c = config(dir.path(), &name);
    c.heal.leak_min_span = Duration::from_secs(8);
    c.heal.leak_min_growth_pct_per_hour = 100.0;
    c.playbooks.log_roots = vec![logs.clone()];
    c.playbooks.auto = vec!["compress-logs".into(), "restart-container".into()];
    let (mut e, rx) = engine(c);
    let s = until(
        &mut e,
        &rx,
        "rolled back",
        120,
        || {},
        |s| one(s, &name, IncidentState::RolledBack).is_some(),
    )
    .await;
    let i = one(&s, &name, IncidentState::RolledBack).unwrap();
    assert_eq!(i.playbook.as_deref(), Some("leak-compress"));
    let steps: Vec<(&str, StepState, bool)> = i
        .steps
        .iter()
        .map(|s| (s.name.as_str(), s.state, s.rollback))
        .collect();
    assert_eq!(
        steps,
        vec![
            ("compress-logs", StepState::Done, false),
            ("restart-container", StepState::Done, true),
        ]
    );
    assert_eq!(i.verify.as_ref().unwrap().passed, Some(false));
    let reason = i.reason.clone().unwrap();
    assert!(
        reason.starts_with("not verified: container_mem_pct was"),
        "{reason}"
    );
    assert!(
        reason.ends_with("rolled back and escalated to a person"),
        "{reason}"
    );
    assert_eq!(i.steps[1].proposal, Some((format!("rollback:{name}"), 1)));
    assert_eq!(
        audited(dir.path(), "intent", &format!("rollback:{name}")),
        1
    );
    assert_eq!(s.healing.day.rolled_back, 1);
    assert_eq!(status(&name), "running");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flap_protection_stops_the_fourth_restart_and_escalates() {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("vh-flap-{}", std::process::id());
    let _c = Cleanup(name.clone());
    playbook(dir.path(), "crashed-container.toml", QUICK_RESTART);
    watched(
        &name,
        &["--no-healthcheck"],
        &["sh", "-c", "sleep 6; exit 3"],
    );
    let mut c = config(dir.path(), &name);
    c.heal.cooldown = Duration::ZERO;
    c.heal.watch = Duration::ZERO;
    c.heal.max_restarts = 3;
    let (mut e, rx) = engine(c);
    let s = until(
        &mut e,
        &rx,
        "flap escalation",
        150,
        || {},
        |s| {
            incidents_on(s, &name).iter().any(|i| {
                i.state == IncidentState::Escalated
                    && i.reason
                        .as_deref()
                        .is_some_and(|r| r.contains("flap protection"))
            })
        },
    )
    .await;
    let id = format!("heal:{name}");
    assert_eq!(
        audited(dir.path(), "intent", &id),
        3,
        "three restarts, not a fourth"
    );
    let mine = incidents_on(&s, &name);
    let resolved = mine
        .iter()
        .filter(|i| i.state == IncidentState::Resolved)
        .count();
    assert_eq!(resolved, 3, "{mine:#?}");
    let last = mine
        .iter()
        .find(|i| i.state == IncidentState::Escalated)
        .unwrap();
    assert_eq!(
        last.reason.as_deref(),
        Some("restarted 3× within 10m: vigil stops restarting it (flap protection)")
    );
    // What is left for a person: a recreate, never run by a rule.
    let pending = s
        .board
        .iter()
        .find(|x| x.proposal.id == id && x.state == State::Pending)
        .expect("a recreate waits for a person");
    assert_eq!(pending.proposal.class(), "recreate");
    assert!(pending.proposal.manual.is_some());
    // And nothing restarts it meanwhile.
    for _ in 0..10 {
        e.tick().await;
        e.pump(Duration::from_millis(200)).await;
    }
    assert_eq!(status(&name), "exited");
    assert_eq!(audited(dir.path(), "intent", &id), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_problem_back_within_the_watch_window_is_escalated_not_fixed_again() {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("vh-back-{}", std::process::id());
    let _c = Cleanup(name.clone());
    playbook(dir.path(), "crashed-container.toml", QUICK_RESTART);
    watched(
        &name,
        &["--no-healthcheck"],
        &["sh", "-c", "sleep 6; exit 3"],
    );
    let mut c = config(dir.path(), &name);
    c.heal.cooldown = Duration::ZERO;
    c.heal.watch = Duration::from_secs(120);
    let (mut e, rx) = engine(c);
    let s = until(
        &mut e,
        &rx,
        "escalated on return",
        90,
        || {},
        |s| one(s, &name, IncidentState::Escalated).is_some(),
    )
    .await;
    let first = one(&s, &name, IncidentState::Resolved).expect("the first fix verified");
    let back = one(&s, &name, IncidentState::Escalated).unwrap();
    assert!(back.opened > first.closed.unwrap());
    let reason = back.reason.clone().unwrap();
    assert!(reason.starts_with("returned "), "{reason}");
    assert!(
        reason.ends_with("after its fix verified (within heal.watch): escalated, not fixed again"),
        "{reason}"
    );
    assert!(
        back.steps
            .iter()
            .all(|s| s.state != StepState::Done || s.name == "recreate-container")
    );
    assert_eq!(audited(dir.path(), "intent", &format!("heal:{name}")), 1);
    assert_eq!(status(&name), "exited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filling_disk_is_cleaned_before_it_is_full_and_only_under_its_root() {
    disk_case(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cleanup_not_allowed_unattended_waits_for_a_person_then_runs() {
    disk_case(true).await;
}

/// A log directory on its own small filesystem fills; `by_hand`: the cleanup is not in
/// `playbooks.auto`, so it waits until a person allows it.
async fn disk_case(by_hand: bool) {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("vh-disk-{by_hand}-{}", std::process::id());
    let mount = dir.path().join("disk");
    std::fs::create_dir_all(&mount).unwrap();
    let fs = Tmpfs::mount(&mount, "size=8m");
    let logs = mount.join("app");
    std::fs::create_dir_all(&logs).unwrap();
    let month_ago = std::time::SystemTime::now() - Duration::from_secs(30 * 86_400);
    for n in 0..3 {
        let f = logs.join(format!("old-{n}.log"));
        std::fs::write(&f, vec![b'x'; 1 << 20]).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&f)
            .unwrap()
            .set_modified(month_ago)
            .unwrap();
    }
    // Outside the log root, old too: never touched.
    let outside = dir.path().join("precious.log");
    std::fs::write(&outside, b"keep").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&outside)
        .unwrap()
        .set_modified(month_ago)
        .unwrap();
    playbook(
        dir.path(),
        "clean-app-logs.toml",
        &format!(
            r#"
name = "clean-app-logs"
description = "delete the app's old logs"
trigger = "disk-filling"
risk = "L2"

[[steps]]
do = "delete-logs"
older_than = "7d"
paths = ["{}"]

[verify]
metric = "disk_used_pct"
improves_by = 10
within = "30s"

[[rollback]]
do = "notify"
message = "cleaning did not free enough"
"#,
            logs.display()
        ),
    );
    let mut c = config(dir.path(), &name);
    c.heal.disks = vec![DiskWatch {
        path: mount.clone(),
        budget_mib: None,
    }];
    c.heal.disk_threshold_pct = 40.0;
    c.heal.disk_horizon = Duration::from_secs(3600);
    c.heal.disk_trend = Duration::from_secs(600);
    c.playbooks.log_roots = vec![mount.clone()];
    c.playbooks.auto = if by_hand {
        Vec::new()
    } else {
        vec!["delete-logs".into()]
    };
    let (mut e, rx) = engine(c);
    // A log grows by 128 KiB a tick until vigil acts (2 MiB at most).
    let app = logs.join("app.log");
    let mut written = 0usize;
    let mut grow = || {
        if written < 2 << 20 {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&app)
                .unwrap();
            f.write_all(&vec![b'y'; 128 << 10]).unwrap();
            written += 128 << 10;
        }
    };
    let target = mount.display().to_string();
    if by_hand {
        let s = until(&mut e, &rx, "waiting for a person", 60, &mut grow, |s| {
            incidents_on(s, &target)
                .iter()
                .any(|i| i.awaiting.is_some())
        })
        .await;
        let i = incidents_on(&s, &target)[0].clone();
        assert_eq!(i.state, IncidentState::Open);
        assert_eq!(i.awaiting.as_deref(), Some("delete-logs"));
        assert!(
            i.reason
                .as_deref()
                .is_some_and(|r| r
                    .starts_with("waits for a person: playbooks.auto does not allow delete-logs")),
            "{i:#?}"
        );
        assert!(logs.join("old-0.log").exists(), "nothing ran unallowed");
        let reply = e.command(vigil::engine::Command::AnswerIncident {
            id: i.id.clone(),
            approve: true,
            by: audit::Actor {
                user: "oncall".into(),
                ssh: None,
            },
        });
        assert!(
            matches!(&reply, vigil::protocol::Reply::Decided { state, .. } if state == "approved"),
            "{reply:?}"
        );
        // A second answer finds nothing waiting.
        let again = e.command(vigil::engine::Command::AnswerIncident {
            id: i.id.clone(),
            approve: true,
            by: audit::Actor {
                user: "oncall".into(),
                ssh: None,
            },
        });
        assert_eq!(again.exit_code(), 5, "{again:?}");
    }
    let s = until(&mut e, &rx, "disk cleaned", 60, &mut grow, |s| {
        one(s, &target, IncidentState::Resolved).is_some()
    })
    .await;
    let i = one(&s, &target, IncidentState::Resolved).unwrap();
    assert_eq!(
        (i.manual, i.approved_by.as_deref()),
        (by_hand, by_hand.then_some("oncall"))
    );
    assert_eq!(i.trigger, "disk-filling");
    assert_eq!(i.playbook.as_deref(), Some("clean-app-logs"));
    let used = value(&i, "used_pct").unwrap();
    assert!((40.0..100.0).contains(&used), "opened before full: {used}");
    let ttf = value(&i, "time_to_full_s").expect("the forecast time-to-full is evidence");
    assert!(ttf > 0.0, "{ttf}");
    let v = i.verify.clone().unwrap();
    assert!(v.before.unwrap() - v.last.unwrap() >= 10.0, "{v:?}");
    for n in 0..3 {
        assert!(!logs.join(format!("old-{n}.log")).exists());
    }
    assert!(app.exists(), "a fresh log is kept");
    assert_eq!(std::fs::read(&outside).unwrap(), b"keep");
    let steps = audit::read_records(&dir.path().join("audit.jsonl"))
        .unwrap()
        .into_iter()
        .filter(|(r, _)| r.kind == "heal-step" && r.data["step"] == "delete-logs")
        .map(|(r, _)| r.data["phase"].as_str().unwrap_or("").to_string())
        .collect::<Vec<_>>();
    assert_eq!(steps, vec!["intent", "result"], "audited before and after");
    drop(e);
    drop(fs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_shadow_mode_an_incident_records_what_would_run_and_nothing_runs() {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("vh-shadow-{}", std::process::id());
    let _c = Cleanup(name.clone());
    watched(&name, &[], &[]);
    let mut c = config(dir.path(), &name);
    c.mode = Mode::Shadow;
    let (mut e, rx) = engine(c);
    until(
        &mut e,
        &rx,
        "listed",
        20,
        || {},
        |s| s.containers.iter().any(|c| c.name == name && c.running()),
    )
    .await;
    docker(&["kill", &name]);
    let s = until(
        &mut e,
        &rx,
        "escalated in shadow",
        60,
        || {},
        |s| one(s, &name, IncidentState::Escalated).is_some(),
    )
    .await;
    let i = one(&s, &name, IncidentState::Escalated).unwrap();
    assert_eq!(
        i.reason.as_deref(),
        Some("shadow mode: what the playbook would do is recorded; nothing ran")
    );
    assert_eq!(status(&name), "exited");
    assert_eq!(audited(dir.path(), "intent", &format!("heal:{name}")), 0);
}

/// `vigil incidents --json`, run as an operator would, with the test's config.
fn incidents_cmd(dir: &Path) -> (Vec<IncidentView>, serde_json::Value) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vigil"))
        .arg("--config")
        .arg(dir.join("config.toml"))
        .args(["incidents", "--json"])
        .env("XDG_CONFIG_HOME", dir.join("xdg-config"))
        .env("XDG_DATA_HOME", dir.join("xdg-data"))
        .env("XDG_STATE_HOME", dir.join("xdg-state"))
        .env("XDG_RUNTIME_DIR", dir.join("xdg-run"))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = serde_json::from_value(v["incidents"].clone()).unwrap();
    (list, v["board"].clone())
}

#[test]
fn vigil_incidents_reads_the_daemon_and_with_none_running_the_store_without_acting() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let name = format!("vh-cli-{}", std::process::id());
    let _c = Cleanup(name.clone());
    watched(&name, &[], &[]);
    std::fs::write(
        d.join("config.toml"),
        format!(
            "interval = \"250ms\"\nmode = \"live\"\n[heal]\nlabel = \"{}\"\nhost_disk = false\nhost_oom = false\n\
             [store]\npath = \"{p}/vigil.db\"\n[audit]\npath = \"{p}/audit.jsonl\"\nsyslog = \"\"\n\
             [daemon]\nsocket = \"{p}/vigil.sock\"\nbrake = \"{p}/brake\"\n[log]\ndir = \"{p}/logs\"\n\
             [playbooks]\ndir = \"{p}/playbooks\"\n",
            label(&name),
            p = d.display()
        ),
    )
    .unwrap();
    let mut daemon = std::process::Command::new(env!("CARGO_BIN_EXE_vigil"))
        .arg("--config")
        .arg(d.join("config.toml"))
        .arg("daemon")
        .env("XDG_STATE_HOME", d.join("xdg-state"))
        .env("XDG_DATA_HOME", d.join("xdg-data"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::os::unix::net::UnixStream::connect(d.join("vigil.sock")).is_err() {
        assert!(Instant::now() < deadline, "the daemon did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    // A console attached before the problem: the incident reaches it as a delta.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let console = rt.block_on(async {
        let first = vigil::protocol::client::connect(&d.join("vigil.sock"), true)
            .await
            .unwrap();
        vigil::protocol::client::attach(d.join("vigil.sock"), first)
    });
    assert!(
        console.snapshots.borrow().incidents.is_empty(),
        "nothing yet"
    );
    docker(&["kill", &name]);
    let mut snaps = console.snapshots.clone();
    let attached = rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                if let Some(i) = snaps
                    .borrow()
                    .incidents
                    .iter()
                    .find(|i| i.target == name)
                    .cloned()
                {
                    return i;
                }
                snaps.changed().await.unwrap();
            }
        })
        .await
        .expect("the attached console sees the incident")
    });
    assert_eq!(attached.trigger, "container-exited");
    // No auto rule: the restart waits for a person, and the incident says so.
    let deadline = Instant::now() + Duration::from_secs(30);
    let seen = loop {
        let (list, _) = incidents_cmd(d);
        if let Some(i) = list.into_iter().find(|i| {
            i.target == name
                && i.steps
                    .first()
                    .is_some_and(|s| s.state == StepState::Proposed)
        }) {
            break i;
        }
        assert!(Instant::now() < deadline, "no incident from the daemon");
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(seen.state, IncidentState::Fixing);
    assert_eq!(seen.id, attached.id);
    drop(console);
    drop(rt);
    assert_eq!(seen.steps[0].proposal, Some((format!("heal:{name}"), 1)));
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let _ = daemon.wait();
    // No daemon: read from the store, read-only. Nothing is written, nothing runs.
    let audit_before = std::fs::read(d.join("audit.jsonl")).unwrap();
    let (list, board) = incidents_cmd(d);
    let again = list
        .iter()
        .find(|i| i.id == seen.id)
        .expect("kept in the store");
    assert_eq!(again.state, IncidentState::Fixing);
    assert_eq!(board["day"]["incidents"], 1);
    assert_eq!(std::fs::read(d.join("audit.jsonl")).unwrap(), audit_before);
    assert!(!d.join("vigil.sock").exists(), "no engine was started");
    assert_eq!(status(&name), "exited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_back_before_anyone_approved_is_a_false_alarm_and_its_heal_withdrawn() {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("vh-self-{}", std::process::id());
    let _c = Cleanup(name.clone());
    watched(&name, &[], &[]);
    let mut c = config(dir.path(), &name);
    // No rule: the restart waits for a person.
    c.approve.auto.clear();
    let (mut e, rx) = engine(c);
    let (id, _) = heal_waiting(&mut e, &rx, &name).await;
    // Someone starts it by hand before anyone answers.
    docker(&["start", &name]);
    let s = until(
        &mut e,
        &rx,
        "closed as a false alarm",
        30,
        || {},
        |s| one(s, &name, IncidentState::Resolved).is_some(),
    )
    .await;
    let i = one(&s, &name, IncidentState::Resolved).unwrap();
    assert!(i.false_alarm);
    assert_eq!(
        i.reason.as_deref(),
        Some("it runs again without vigil (its restart policy or a person): nothing to fix")
    );
    assert_eq!(i.steps[0].state, StepState::Skipped);
    let heal = s.board.iter().find(|x| x.proposal.id == id).unwrap();
    assert_eq!(
        heal.state,
        State::Superseded,
        "withdrawn: nobody can approve it now"
    );
    assert_eq!(s.healing.day.false_alarms, 1);
    assert_eq!(
        s.healing.day.success_rate, None,
        "a false alarm is not a success"
    );
    assert_eq!(audited(dir.path(), "intent", &id), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_closes_a_waiting_incident_as_a_false_alarm_and_nothing_runs() {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("vh-dismiss-{}", std::process::id());
    let _c = Cleanup(name.clone());
    watched(&name, &[], &[]);
    let mut c = config(dir.path(), &name);
    c.approve.auto.clear();
    let (mut e, rx) = engine(c);
    // Stopped on purpose (maintenance): the operator knows there is nothing to fix.
    let (id, s) = heal_waiting(&mut e, &rx, &name).await;
    let inc = incidents_on(&s, &name)[0].id.clone();
    let oncall = audit::Actor {
        user: "oncall".into(),
        ssh: None,
    };
    let reply = e.command(vigil::engine::Command::DismissIncident {
        id: inc.clone(),
        by: oncall.clone(),
    });
    assert!(
        matches!(&reply, vigil::protocol::Reply::Decided { state, .. } if state == "false-alarm"),
        "{reply:?}"
    );
    // The problem is still there: it stays closed, no second incident opens for it.
    let ticks = std::cell::Cell::new(0);
    let s = until(
        &mut e,
        &rx,
        "ten more passes",
        30,
        || ticks.set(ticks.get() + 1),
        |_| ticks.get() >= 10,
    )
    .await;
    let on = incidents_on(&s, &name);
    assert_eq!(on.len(), 1, "{on:#?}");
    let i = on[0];
    assert_eq!(i.state, IncidentState::Resolved);
    assert!(i.false_alarm && i.manual, "{i:#?}");
    assert_eq!(
        i.reason.as_deref(),
        Some("oncall marked it a false alarm: nothing to fix")
    );
    let heal = s.board.iter().find(|x| x.proposal.id == id).unwrap();
    assert_eq!(heal.state, State::Superseded, "nobody can approve it now");
    assert_eq!((s.healing.day.false_alarms, s.healing.day.manual), (1, 1));
    assert_eq!(status(&name), "exited", "nothing ran");
    assert_eq!(audited(dir.path(), "intent", &id), 0);
    let decisions: Vec<_> = audit::read_records(&dir.path().join("audit.jsonl"))
        .unwrap()
        .into_iter()
        .filter(|(r, _)| r.kind == "decision" && r.data["incident"] == inc.as_str())
        .map(|(r, _)| {
            (
                r.actor.user,
                r.data["decision"].as_str().map(str::to_string),
            )
        })
        .collect();
    assert_eq!(
        decisions,
        vec![("oncall".to_string(), Some("false-alarm".to_string()))]
    );
    // A closed incident cannot be closed again.
    let again = e.command(vigil::engine::Command::DismissIncident {
        id: inc.clone(),
        by: oncall,
    });
    assert_eq!(again.exit_code(), 5, "{again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_incident_survives_a_restart_and_a_persons_approval_resolves_it() {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("vh-keep-{}", std::process::id());
    let _c = Cleanup(name.clone());
    watched(&name, &[], &[]);
    let mut c = config(dir.path(), &name);
    c.approve.auto.clear();
    let (mut e, rx) = engine(c.clone());
    let (id, s) = heal_waiting(&mut e, &rx, &name).await;
    let before = incidents_on(&s, &name)[0].clone();
    drop(e);

    // vigil restarts: the incident is where it was, and no second one opens.
    let (mut e, rx) = engine(c);
    assert_eq!(rx.borrow().incidents.len(), 1);
    assert_eq!(rx.borrow().incidents[0].id, before.id);
    assert_eq!(rx.borrow().incidents[0].state, IncidentState::Fixing);
    until(
        &mut e,
        &rx,
        "listed again",
        20,
        || {},
        |s| s.containers.iter().any(|c| c.name == name),
    )
    .await;
    e.command(vigil::engine::Command::Approve {
        id: id.clone(),
        version: 1,
        by: audit::Actor {
            user: "oncall".into(),
            ssh: None,
        },
        confirm: None,
    });
    let s = until(
        &mut e,
        &rx,
        "resolved after approval",
        90,
        || {},
        |s| one(s, &name, IncidentState::Resolved).is_some(),
    )
    .await;
    let i = one(&s, &name, IncidentState::Resolved).unwrap();
    assert_eq!(i.id, before.id);
    assert!(i.manual, "a person approved it");
    assert!(!i.false_alarm);
    assert_eq!(incidents_on(&s, &name).len(), 1, "{:#?}", s.incidents);
    assert_eq!(s.healing.day.manual, 1);
    assert_eq!(status(&name), "running");
    assert_eq!(audited(dir.path(), "intent", &id), 1);
}
