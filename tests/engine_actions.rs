//! From proposal to verified change through the whole engine, on the real Docker engine:
//! approval bound to a version, the gate (shadow, brake, audit first), the executor,
//! verification, heal playbook with auto-approval and escalation, a dead socket.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};
use vigil::audit::{self, Actor};
use vigil::collect::host::HostCollector;
use vigil::config::{Config, Mode, ScaleTarget};
use vigil::engine::{Clock, Command as Cmd, Engine, Snapshot, Source};
use vigil::protocol::State;

mod common;
use common::{Cleanup, docker, start_member};

fn running(group: &str) -> usize {
    common::running(group).len()
}

struct ManualClock(AtomicI64);
impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// A live config whose one group always wants its maximum (capacity is tiny against
/// the host's memory use), with everything it writes in `dir`.
fn config(dir: &std::path::Path, group: &str, wants_max: bool) -> Config {
    let mut c = Config {
        mode: Mode::Live,
        ..Config::default()
    };
    c.store.path = Some(dir.join("vigil.db"));
    c.audit.path = Some(dir.join("audit.jsonl"));
    c.daemon.brake = Some(dir.join("brake"));
    c.daemon.socket = Some(dir.join("vigil.sock"));
    c.audit.syslog = None;
    // Only this test's group: another run's labelled containers on the same engine are
    // none of this engine's business.
    c.heal.label = format!("vigil.heal.ea{}", std::process::id());
    // Other tests on this host OOM-kill their containers on purpose.
    c.heal.host_oom = false;
    c.scale.push(ScaleTarget {
        metric: "mem_pct".into(),
        capacity: if wants_max { 0.01 } else { 1e9 },
        instances: 1,
        max: 3,
        ..common::test_group(group)
    });
    c
}

fn engine(
    c: Config,
) -> (
    Engine,
    tokio::sync::watch::Receiver<Snapshot>,
    Arc<ManualClock>,
) {
    let clock = Arc::new(ManualClock(AtomicI64::new(
        chrono::Utc::now().timestamp_millis(),
    )));
    let (e, rx) = Engine::new(
        c,
        clock.clone(),
        Source::Host(Box::new(HostCollector::proc())),
        Vec::new(),
    );
    (e, rx, clock)
}

/// Ticks a minute at a time until the target's scale proposal waits for an answer.
async fn pending_scale(
    e: &mut Engine,
    rx: &tokio::sync::watch::Receiver<Snapshot>,
    clock: &ManualClock,
    group: &str,
) -> vigil::protocol::Entry {
    let id = format!("scale:{group}");
    for _ in 0..8 {
        e.tick().await;
        e.pump(Duration::from_millis(300)).await;
        if let Some(p) = rx
            .borrow()
            .board
            .iter()
            .find(|x| x.proposal.id == id && x.state == State::Pending)
        {
            return p.clone();
        }
        clock.0.fetch_add(60_000, Ordering::SeqCst);
    }
    panic!("no pending proposal for {group}: {:?}", rx.borrow().board);
}

/// Handles results until the entry reaches a final state.
async fn settle(
    e: &mut Engine,
    rx: &tokio::sync::watch::Receiver<Snapshot>,
    id: &str,
    version: u32,
) -> vigil::protocol::Entry {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        e.pump(Duration::from_millis(500)).await;
        if let Some(x) = rx
            .borrow()
            .board
            .iter()
            .find(|x| x.proposal.id == id && x.proposal.version == version)
            && !matches!(
                x.state,
                State::Pending | State::Approved | State::Running | State::Done
            )
        {
            return x.clone();
        }
    }
    panic!("{id} v{version} never settled: {:?}", rx.borrow().board);
}

/// Approves exactly the version shown, as a person would, and waits for the outcome.
async fn approve(
    e: &mut Engine,
    rx: &tokio::sync::watch::Receiver<Snapshot>,
    p: &vigil::protocol::Entry,
) -> vigil::protocol::Entry {
    e.command(Cmd::Approve {
        id: p.proposal.id.clone(),
        version: p.proposal.version,
        by: tester(),
        // What an operator types for a risky one; ignored for the others.
        confirm: Some(p.proposal.action.subject().to_string()),
    });
    settle(e, rx, &p.proposal.id, p.proposal.version).await
}

fn kinds(dir: &std::path::Path) -> Vec<String> {
    audit::read_records(&dir.join("audit.jsonl"))
        .unwrap()
        .into_iter()
        .map(|(r, _)| r.kind)
        .collect()
}

fn tester() -> Actor {
    Actor {
        user: "tester".into(),
        ssh: Some("192.0.2.7:50000".into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_scale_runs_once_is_verified_and_audited_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let g = format!("ve-app-{}", std::process::id());
    let _c = Cleanup(g.clone());
    start_member(&g, 1);
    let (mut e, rx, clock) = engine(config(dir.path(), &g, true));
    let p = pending_scale(&mut e, &rx, &clock, &g).await;
    assert_eq!((p.proposal.from, p.proposal.to), (1, 3));

    // An answer to another version decides nothing, and says why.
    e.command(Cmd::Approve {
        id: p.proposal.id.clone(),
        version: p.proposal.version + 1,
        by: tester(),
        confirm: Some(g.clone()),
    });
    let msg = rx.borrow().message.clone().unwrap_or_default();
    assert!(msg.contains("changed"), "{msg}");
    assert_eq!(running(&g), 1, "nothing ran");

    let done = approve(&mut e, &rx, &p).await;
    assert_eq!(done.state, State::Verified, "{done:?}");
    assert_eq!(running(&g), 3);

    // The same approval again runs nothing a second time.
    e.command(Cmd::Approve {
        id: p.proposal.id.clone(),
        version: p.proposal.version,
        by: tester(),
        confirm: Some(g.clone()),
    });
    e.pump(Duration::from_millis(500)).await;
    assert_eq!(running(&g), 3);

    let k = kinds(dir.path());
    assert_eq!(k.iter().filter(|k| *k == "intent").count(), 1, "{k:?}");
    let at = |kind: &str| k.iter().position(|x| x == kind).unwrap_or(usize::MAX);
    assert!(at("proposal") < at("decision"), "{k:?}");
    assert!(at("decision") < at("intent"), "{k:?}");
    assert!(at("intent") < at("result"), "{k:?}");
    assert!(at("result") < at("verify"), "{k:?}");
    let recs = audit::read_records(&dir.path().join("audit.jsonl")).unwrap();
    let decision = recs.iter().find(|(r, _)| r.kind == "decision").unwrap();
    assert_eq!(decision.0.actor.user, "tester");
    assert_eq!(decision.0.actor.ssh.as_deref(), Some("192.0.2.7:50000"));
    assert!(audit::verify(&dir.path().join("audit.jsonl")).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_member_is_restarted_by_an_auto_rule_then_escalated() {
    let dir = tempfile::tempdir().unwrap();
    let g = format!("ve-heal-{}", std::process::id());
    let _c = Cleanup(g.clone());
    start_member(&g, 1);
    let member = format!("{g}-1");
    let mut c = config(dir.path(), &g, false);
    c.approve.auto = vec!["restart".into()];
    c.heal.max_restarts = 1;
    let (mut e, rx, clock) = engine(c);
    e.start_watchers();
    e.tick().await;
    e.pump(Duration::from_secs(3)).await;

    docker(&["kill", &member]);
    let id = format!("heal:{member}");
    let healed = settle(&mut e, &rx, &id, 1).await;
    assert_eq!(healed.state, State::Verified, "{healed:?}");
    assert_eq!(
        docker(&["inspect", "-f", "{{.State.Status}}", &member]),
        "running"
    );
    // Docker's own clock: from the exit to the start again.
    let started = docker(&["inspect", "-f", "{{.State.StartedAt}}", &member]);
    let finished = docker(&["inspect", "-f", "{{.State.FinishedAt}}", &member]);
    let gap = chrono::DateTime::parse_from_rfc3339(&started).unwrap()
        - chrono::DateTime::parse_from_rfc3339(&finished).unwrap();
    eprintln!("exit → restart: {} ms", gap.num_milliseconds());
    let recs = audit::read_records(&dir.path().join("audit.jsonl")).unwrap();
    let d = recs
        .iter()
        .find(|(r, _)| r.kind == "decision")
        .expect("the auto decision is audited");
    assert_eq!(d.0.actor.user, "vigil");
    assert_eq!(d.0.data["auto"], true);

    // A second exit within the window: no more restarts, a person must decide. The
    // engine ticks and its clock moves as they do live: the playbook's wait after the
    // restart is on that clock, and the exit that comes back is seen once it is over.
    docker(&["kill", &member]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let escalated = loop {
        clock.0.fetch_add(1_000, Ordering::SeqCst);
        e.tick().await;
        e.pump(Duration::from_millis(500)).await;
        if let Some(x) = rx
            .borrow()
            .board
            .iter()
            .find(|x| x.proposal.id == id && x.proposal.version == 2)
        {
            break x.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no escalation: {:?}\n{:#?}",
            rx.borrow().board,
            rx.borrow().incidents
        );
    };
    assert_eq!(escalated.state, State::Pending);
    assert!(escalated.proposal.manual.is_some());
    assert_eq!(escalated.proposal.class(), "recreate");
    assert_eq!(
        docker(&["inspect", "-f", "{{.State.Status}}", &member]),
        "exited"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_docker_socket_fails_the_action_clearly_and_nothing_retries() {
    let dir = tempfile::tempdir().unwrap();
    let g = format!("ve-dead-{}", std::process::id());
    let mut c = config(dir.path(), &g, true);
    c.docker.socket = dir.path().join("docker.sock");
    let (mut e, rx, clock) = engine(c);
    let p = pending_scale(&mut e, &rx, &clock, &g).await;
    let done = approve(&mut e, &rx, &p).await;
    assert_eq!(done.state, State::Failed);
    assert!(
        done.note
            .as_deref()
            .unwrap_or("")
            .contains("does not answer"),
        "{done:?}"
    );
    let msg = rx.borrow().message.clone().unwrap_or_default();
    assert!(
        msg.contains("failed") && msg.contains("does not answer"),
        "{msg}"
    );
    // More minutes pass: proposals may come again, but nothing runs unapproved.
    for _ in 0..3 {
        clock.0.fetch_add(60_000, Ordering::SeqCst);
        e.tick().await;
        e.pump(Duration::from_millis(200)).await;
    }
    let k = kinds(dir.path());
    assert_eq!(k.iter().filter(|k| *k == "intent").count(), 1, "{k:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_brake_and_shadow_mode_stop_an_approved_action_at_the_gate() {
    let dir = tempfile::tempdir().unwrap();
    let g = format!("ve-brake-{}", std::process::id());
    let _c = Cleanup(g.clone());
    start_member(&g, 1);
    let (mut e, rx, clock) = engine(config(dir.path(), &g, true));
    let p = pending_scale(&mut e, &rx, &clock, &g).await;
    e.command(Cmd::Brake {
        engage: true,
        by: tester(),
        reason: None,
    });
    assert!(rx.borrow().brake);
    let braked = approve(&mut e, &rx, &p).await;
    assert_eq!(braked.state, State::Braked);
    assert_eq!(running(&g), 1);

    // `vigil brake --release` would do the same from another shell.
    e.command(Cmd::Brake {
        engage: false,
        by: tester(),
        reason: None,
    });
    e.command(Cmd::SetShadow {
        on: true,
        by: tester(),
    });
    assert_eq!(rx.borrow().mode, Mode::Shadow);
    let p2 = pending_scale(&mut e, &rx, &clock, &g).await;
    let shadowed = approve(&mut e, &rx, &p2).await;
    assert_eq!(shadowed.state, State::Shadowed);
    assert_eq!(running(&g), 1);
    let k = kinds(dir.path());
    assert!(!k.contains(&"intent".to_string()), "{k:?}");
    assert!(k.contains(&"braked".to_string()) && k.contains(&"shadow".to_string()));
    assert!(audit::verify(&dir.path().join("audit.jsonl")).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_action_that_cannot_be_audited_is_not_taken() {
    let dir = tempfile::tempdir().unwrap();
    let g = format!("ve-noaudit-{}", std::process::id());
    let _c = Cleanup(g.clone());
    start_member(&g, 1);
    let mut c = config(dir.path(), &g, true);
    // A regular file where the log's folder should be: the log cannot be opened.
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, "").unwrap();
    c.audit.path = Some(blocker.join("audit.jsonl"));
    let (mut e, rx, clock) = engine(c);
    assert!(
        rx.borrow()
            .notices
            .iter()
            .any(|n| n.text.contains("nothing will run")),
        "{:?}",
        rx.borrow().notices
    );
    let p = pending_scale(&mut e, &rx, &clock, &g).await;
    let done = approve(&mut e, &rx, &p).await;
    assert_eq!(done.state, State::Failed);
    assert!(done.note.unwrap_or_default().contains("audit"));
    e.pump(Duration::from_millis(500)).await;
    assert_eq!(running(&g), 1, "nothing ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_heal_is_not_asked_again_until_the_container_has_run_since() {
    let dir = tempfile::tempdir().unwrap();
    let g = format!("ve-rej-{}", std::process::id());
    let _c = Cleanup(g.clone());
    start_member(&g, 1);
    let member = format!("{g}-1");
    let (mut e, rx, clock) = engine(config(dir.path(), &g, false));
    e.start_watchers();
    e.tick().await;
    e.pump(Duration::from_secs(3)).await;
    let id = format!("heal:{member}");
    let wait_for = |v: u32| {
        let id = id.clone();
        let rx = rx.clone();
        move || {
            rx.borrow().board.iter().any(|x| {
                x.proposal.id == id && x.proposal.version == v && x.state == State::Pending
            })
        }
    };

    docker(&["kill", &member]);
    let v1 = wait_for(1);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !v1() {
        e.pump(Duration::from_millis(300)).await;
        assert!(Instant::now() < deadline, "no heal proposal");
    }
    e.command(Cmd::Reject {
        id: id.clone(),
        version: 1,
        by: tester(),
        reason: None,
    });
    // Listings go on: the same exit is not proposed again.
    for _ in 0..6 {
        clock.0.fetch_add(1_000, Ordering::SeqCst);
        e.tick().await;
        e.pump(Duration::from_millis(300)).await;
    }
    assert!(
        !rx.borrow()
            .board
            .iter()
            .any(|x| x.proposal.id == id && x.proposal.version == 2),
        "{:?}\n{:#?}",
        rx.borrow().board,
        rx.borrow().incidents
    );
    // Started by hand, then it dies again: that is a new exit, and it is proposed.
    // It must have been seen running first (a listing can take seconds on a busy host).
    docker(&["start", &member]);
    let seen_running = || {
        rx.borrow()
            .containers
            .iter()
            .any(|c| c.name == member && c.state == "running")
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !seen_running() {
        clock.0.fetch_add(1_000, Ordering::SeqCst);
        e.tick().await;
        e.pump(Duration::from_millis(300)).await;
        assert!(Instant::now() < deadline, "the restart was never listed");
    }
    // One more pass of the healing loop over that listing.
    e.tick().await;
    e.pump(Duration::from_millis(300)).await;
    docker(&["kill", &member]);
    let v2 = wait_for(2);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !v2() {
        e.pump(Duration::from_millis(300)).await;
        assert!(
            Instant::now() < deadline,
            "the new exit was not proposed: {:?}",
            rx.borrow().board
        );
    }
}

#[test]
fn the_brake_is_released_only_when_its_file_is_definitely_absent() {
    use vigil::execute::{Brake, BrakeState};
    let dir = tempfile::tempdir().unwrap();
    let absent = Brake::new(dir.path().join("brake"));
    assert_eq!(absent.state(), BrakeState::Released);
    assert!(!absent.engaged());

    let mut log = audit::AuditLog::open(&dir.path().join("audit.jsonl")).unwrap();
    absent.engage(&mut log, &tester(), "db migration").unwrap();
    assert_eq!(
        absent.state(),
        BrakeState::Engaged {
            by: "tester".into(),
            reason: "db migration".into()
        }
    );
    absent.release(&mut log, &tester()).unwrap();
    assert_eq!(absent.state(), BrakeState::Released);

    // Root reads anything, so unreadable means: not a file one can read.
    let a_dir = dir.path().join("a-dir");
    std::fs::create_dir(&a_dir).unwrap();
    let looped = dir.path().join("loop");
    std::os::unix::fs::symlink(&looped, &looped).unwrap();
    let dangling = dir.path().join("dangling");
    std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    for path in [a_dir, looped, dangling, file.join("brake")] {
        let b = Brake::new(path.clone());
        match b.state() {
            BrakeState::Unreadable(why) => {
                assert!(
                    why.starts_with(&format!("the brake at {} cannot be read (", path.display()))
                        && why.ends_with("): nothing runs until it can"),
                    "{why}"
                );
            }
            other => panic!("{}: {other:?}", path.display()),
        }
        assert!(b.engaged(), "{} must hold every action", path.display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_brake_holds_an_approved_action_and_the_header_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let g = format!("ve-brake-dir-{}", std::process::id());
    let _c = Cleanup(g.clone());
    start_member(&g, 1);
    let c = config(dir.path(), &g, true);
    // A directory where the brake file should be: its state cannot be read.
    std::fs::create_dir(dir.path().join("brake")).unwrap();
    let (mut e, rx, clock) = engine(c);
    let p = pending_scale(&mut e, &rx, &clock, &g).await;
    assert!(rx.borrow().brake, "the header shows the brake on");
    let notice = rx
        .borrow()
        .notices
        .iter()
        .find(|n| n.text.contains("the brake at"))
        .map(|n| (n.severity, n.text.clone()));
    assert_eq!(
        notice,
        Some((
            vigil::engine::Severity::Error,
            format!(
                "the brake at {} cannot be read (Is a directory (os error 21)): nothing runs until it can",
                dir.path().join("brake").display()
            )
        ))
    );
    let braked = approve(&mut e, &rx, &p).await;
    assert_eq!(braked.state, State::Braked, "{braked:?}");
    assert_eq!(running(&g), 1, "nothing ran");
    let k = kinds(dir.path());
    assert!(!k.contains(&"intent".to_string()), "{k:?}");
    assert!(k.contains(&"braked".to_string()), "{k:?}");
}

/// Leaves the queue and the audit log as a kill at some point of an approved action
/// would: the entry approved (or running, or done), and the gate's records `written`
/// (e.g. "intent") on disk. Returns the proposal's id.
fn crashed(
    dir: &std::path::Path,
    id: &str,
    action: vigil::execute::Action,
    from: usize,
    state: vigil::approve::State,
    written: &[&str],
) -> String {
    use vigil::approve::{Queue, State};
    use vigil::plan::proposal::{Proposal, Risk};
    use vigil::plan::scaling::Rule;
    let now = chrono::Utc::now().timestamp_millis();
    let mut q = Queue::open(Some(&dir.join("vigil.db")), 600_000);
    assert_eq!(q.notice, None);
    let mut p = Proposal::repair(
        id.into(),
        action.clone(),
        Rule::Reactive,
        "load".into(),
        None,
        Risk::Low,
        now,
    );
    p.from = from;
    q.offer(&p, now).unwrap();
    q.decide(id, 1, true, &tester(), now).unwrap();
    let mut at = State::Approved;
    for next in [State::Running, State::Done] {
        if at == state {
            break;
        }
        q.set_state(id, 1, at, next, None, now).unwrap();
        at = next;
    }
    assert_eq!(at, state);
    let mut log = audit::AuditLog::open(&dir.join("audit.jsonl")).unwrap();
    let rec = |kind: &str| serde_json::json!({"proposal": id, "version": 1, "action": action, "summary": kind});
    log.append("proposal", &Actor::vigil(), rec("proposal"))
        .unwrap();
    log.append("decision", &tester(), rec("decision")).unwrap();
    for kind in written {
        log.append(kind, &tester(), rec(kind)).unwrap();
    }
    id.to_string()
}

fn scale_to(g: &str, to: usize) -> vigil::execute::Action {
    vigil::execute::Action::Scale {
        target: g.into(),
        kind: vigil::config::TargetKind::DockerGroup,
        to,
    }
}

/// The audit's "reconciled" records: (was, now) per record.
fn reconciled(dir: &std::path::Path) -> Vec<(String, String)> {
    audit::read_records(&dir.join("audit.jsonl"))
        .unwrap()
        .into_iter()
        .filter(|(r, _)| r.kind == "reconciled")
        .map(|(r, _)| {
            (
                r.data["was"].as_str().unwrap_or("?").to_string(),
                r.data["now"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_kill_before_its_intent_an_approved_scale_is_marked_not_run_and_never_runs() {
    let dir = tempfile::tempdir().unwrap();
    let g = format!("ve-notrun-{}", std::process::id());
    let _c = Cleanup(g.clone());
    start_member(&g, 1);
    let id = crashed(
        dir.path(),
        &format!("scale:{g}"),
        scale_to(&g, 3),
        1,
        vigil::approve::State::Approved,
        &[],
    );
    for restart in 0..2 {
        let (mut e, rx, _clock) = engine(config(dir.path(), &g, true));
        let x = settle(&mut e, &rx, &id, 1).await;
        assert_eq!(
            (x.state, x.note.as_deref()),
            (State::Failed, Some("not run: vigil stopped before it ran")),
            "restart {restart}"
        );
        e.pump(Duration::from_millis(500)).await;
    }
    assert_eq!(running(&g), 1, "nothing ran");
    let k = kinds(dir.path());
    assert!(!k.contains(&"intent".to_string()), "{k:?}");
    // Reconciled once, audited once: the second restart found nothing to do.
    assert_eq!(
        reconciled(dir.path()),
        vec![("approved".into(), "failed".into())]
    );
    assert!(audit::verify(&dir.path().join("audit.jsonl")).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_kill_mid_scale_out_the_restart_reads_docker_and_never_acts_again() {
    let dir = tempfile::tempdir().unwrap();
    // Completed before the kill: 3 of 3 run. The restart verifies it.
    let g = format!("ve-done-{}", std::process::id());
    let _c = Cleanup(g.clone());
    for n in 1..=3 {
        start_member(&g, n);
    }
    let id = crashed(
        dir.path(),
        &format!("scale:{g}"),
        scale_to(&g, 3),
        1,
        vigil::approve::State::Running,
        &["intent"],
    );
    let (mut e, rx, _clock) = engine(config(dir.path(), &g, true));
    let x = settle(&mut e, &rx, &id, 1).await;
    assert_eq!(x.state, State::Verified, "{x:?}");
    assert_eq!(running(&g), 3);
    assert_eq!(
        reconciled(dir.path()),
        vec![("running".into(), "done".into())]
    );
    let k = kinds(dir.path());
    assert_eq!(k.iter().filter(|k| *k == "intent").count(), 1, "{k:?}");
    assert_eq!(k.last().map(String::as_str), Some("verify"), "{k:?}");
    drop(e);

    // Cut short: 2 of 3 run, and a third member was created but never started.
    let dir = tempfile::tempdir().unwrap();
    let g = format!("ve-short-{}", std::process::id());
    let _c2 = Cleanup(g.clone());
    start_member(&g, 1);
    start_member(&g, 2);
    docker(&[
        "create",
        "--name",
        &format!("{g}-3"),
        "--label",
        &format!("vigil.group={g}"),
        "--label",
        "vigil.member=3",
        common::IMAGE,
    ]);
    let id = crashed(
        dir.path(),
        &format!("scale:{g}"),
        scale_to(&g, 3),
        1,
        vigil::approve::State::Running,
        &["intent"],
    );
    let (mut e, rx, _clock) = engine(config(dir.path(), &g, true));
    let x = settle(&mut e, &rx, &id, 1).await;
    assert_eq!(
        (x.state, x.note.clone()),
        (
            State::Failed,
            Some(format!(
                "interrupted at 2 of 3 running ({g}); removed what it left: {g}-3"
            ))
        )
    );
    e.pump(Duration::from_millis(500)).await;
    assert_eq!(running(&g), 2, "the restart started nothing");
    let all = docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("label=vigil.group={g}"),
        "--format",
        "{{.Names}}",
    ]);
    let mut all: Vec<&str> = all.lines().collect();
    all.sort();
    assert_eq!(all, vec![format!("{g}-1"), format!("{g}-2")]);
    let k = kinds(dir.path());
    assert_eq!(k.iter().filter(|k| *k == "intent").count(), 1, "{k:?}");
    assert_eq!(
        reconciled(dir.path()),
        vec![("running".into(), "failed".into())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scale_in_killed_after_marking_its_victim_is_finished_and_the_victim_not_healed() {
    let dir = tempfile::tempdir().unwrap();
    let g = format!("ve-in-{}", std::process::id());
    let _c = Cleanup(g.clone());
    start_member(&g, 1);
    start_member(&g, 2);
    // The kill came after the rename and the stop, before the removal.
    let victim = format!("{g}-2.vigil-retiring");
    docker(&["rename", &format!("{g}-2"), &victim]);
    docker(&["stop", "-t", "0", &victim]);
    let id = crashed(
        dir.path(),
        &format!("scale:{g}"),
        scale_to(&g, 1),
        2,
        vigil::approve::State::Running,
        &["intent"],
    );
    let mut c = config(dir.path(), &g, false);
    c.approve.auto = vec!["restart".into()];
    let (mut e, rx, _clock) = engine(c);
    e.start_watchers();
    e.tick().await;
    let x = settle(&mut e, &rx, &id, 1).await;
    assert_eq!(x.state, State::Verified, "{x:?}");
    for _ in 0..4 {
        e.tick().await;
        e.pump(Duration::from_millis(300)).await;
    }
    assert_eq!(common::running(&g), vec![format!("{g}-1")]);
    let left = docker(&["ps", "-aq", "--filter", &format!("name={victim}")]);
    assert_eq!(left, "", "the retiring member was removed");
    let board = rx.borrow().board.clone();
    assert!(
        !board.iter().any(|x| x.proposal.id.starts_with("heal:")),
        "the retiring member is not healed: {board:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_audit_disk_full_nothing_runs_the_header_says_so_and_vigil_keeps_going() {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let fs = common::Tmpfs::mount(state.path(), "size=64k");
    let g = format!("ve-full-{}", std::process::id());
    let _c = Cleanup(g.clone());
    start_member(&g, 1);
    let mut c = config(dir.path(), &g, true);
    let log = state.path().join("audit.jsonl");
    c.audit.path = Some(log.clone());
    // Full before the log holds a byte: not even the slack of its last page is left.
    fs.fill();
    let (mut e, rx, clock) = engine(c);
    let p = pending_scale(&mut e, &rx, &clock, &g).await;
    let done = approve(&mut e, &rx, &p).await;
    assert_eq!(
        (done.state, done.note.as_deref()),
        (State::Failed, Some("not run: the audit log cannot take it"))
    );
    let notices: Vec<(vigil::engine::Severity, String)> = rx
        .borrow()
        .notices
        .iter()
        .map(|n| (n.severity, n.text.clone()))
        .collect();
    assert!(
        notices
            .iter()
            .any(|(s, t)| *s == vigil::engine::Severity::Error
                && t.starts_with(&format!("audit log: audit log {}: ", log.display()))
                && t.ends_with("No space left on device (os error 28); nothing will run")),
        "{notices:?}"
    );
    e.pump(Duration::from_millis(500)).await;
    assert_eq!(running(&g), 1, "nothing ran");
    // The engine goes on sampling and planning.
    let ts = rx.borrow().ts;
    clock.0.fetch_add(60_000, Ordering::SeqCst);
    e.tick().await;
    assert!(rx.borrow().ts > ts);
    assert_eq!(running(&g), 1);
    // What it did write is intact, and holds no intent.
    assert!(audit::verify(&log).is_ok());
    let k = kinds(state.path());
    assert!(!k.contains(&"intent".to_string()), "{k:?}");
    drop(e);
    drop(fs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_read_only_data_dir_vigil_runs_on_memory_and_executes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let _fs = common::Tmpfs::mount(data.path(), "ro,size=64k");
    let g = format!("ve-ro-{}", std::process::id());
    let _c = Cleanup(g.clone());
    start_member(&g, 1);
    let mut c = config(dir.path(), &g, true);
    c.store.path = Some(data.path().join("vigil.db"));
    c.audit.path = Some(data.path().join("audit.jsonl"));
    let (mut e, rx, clock) = engine(c);
    let texts = |rx: &tokio::sync::watch::Receiver<Snapshot>| -> Vec<String> {
        rx.borrow().notices.iter().map(|n| n.text.clone()).collect()
    };
    let header = texts(&rx);
    assert!(
        header
            .iter()
            .any(|t| t.starts_with("approvals kept in memory only")),
        "{header:?}"
    );
    assert!(
        header
            .iter()
            .any(|t| t.starts_with("nothing will run: audit log ")
                && t.ends_with("Read-only file system (os error 30)")),
        "{header:?}"
    );
    // The queue in memory still takes proposals and answers.
    let p = pending_scale(&mut e, &rx, &clock, &g).await;
    let done = approve(&mut e, &rx, &p).await;
    assert_eq!(
        (done.state, done.note.as_deref()),
        (State::Failed, Some("not run: the audit log cannot take it"))
    );
    e.pump(Duration::from_millis(500)).await;
    assert_eq!(running(&g), 1, "nothing ran");
    assert!(!data.path().join("audit.jsonl").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_for_a_target_still_being_reconciled_waits_undecided() {
    use vigil::plan::proposal::{Proposal, Risk};
    let dir = tempfile::tempdir().unwrap();
    let g = format!("ve-wait-{}", std::process::id());
    let _c = Cleanup(g.clone());
    for n in 1..=3 {
        start_member(&g, n);
    }
    let id = crashed(
        dir.path(),
        &format!("scale:{g}"),
        scale_to(&g, 3),
        1,
        vigil::approve::State::Running,
        &["intent"],
    );
    // Another proposal for the same group was waiting when vigil was killed.
    let other = format!("rollback:{g}");
    let mut p = Proposal::repair(
        other.clone(),
        scale_to(&g, 1),
        vigil::plan::scaling::Rule::Rollback,
        "test".into(),
        None,
        Risk::Low,
        chrono::Utc::now().timestamp_millis(),
    );
    p.from = 3;
    vigil::approve::Queue::open(Some(&dir.path().join("vigil.db")), 600_000)
        .offer(&p, chrono::Utc::now().timestamp_millis())
        .unwrap();
    let (mut e, rx, _clock) = engine(config(dir.path(), &g, false));
    let pending = rx
        .borrow()
        .board
        .iter()
        .find(|x| x.proposal.id == other)
        .cloned()
        .expect("the waiting proposal is on the board");
    e.command(Cmd::Approve {
        id: other.clone(),
        version: 1,
        by: tester(),
        confirm: None,
    });
    assert_eq!(
        rx.borrow().message.as_deref(),
        Some(
            format!(
                "{other} v1 not approved yet: an action on {g} is under way; answer again when it is done"
            )
            .as_str()
        )
    );
    let still = rx
        .borrow()
        .board
        .iter()
        .find(|x| x.proposal.id == other)
        .map(|x| x.state);
    assert_eq!(still, Some(State::Pending));
    assert_eq!(settle(&mut e, &rx, &id, 1).await.state, State::Verified);
    // Once the reconciliation is over, the same answer is taken.
    let done = approve(&mut e, &rx, &pending).await;
    assert_eq!(done.state, State::Verified, "{done:?}");
    assert_eq!(running(&g), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heal_left_running_by_a_kill_does_not_block_healing_that_container() {
    let dir = tempfile::tempdir().unwrap();
    let g = format!("ve-heal-kill-{}", std::process::id());
    let _c = Cleanup(g.clone());
    start_member(&g, 1);
    let member = format!("{g}-1");
    docker(&["kill", &member]);
    // vigil was killed while restarting it, and the restart never happened.
    let id = crashed(
        dir.path(),
        &format!("heal:{member}"),
        vigil::execute::Action::Restart {
            container: member.clone(),
        },
        1,
        vigil::approve::State::Running,
        &["intent"],
    );
    let (mut e, rx, clock) = engine(config(dir.path(), &g, false));
    let x = settle(&mut e, &rx, &id, 1).await;
    assert_eq!(
        (x.state, x.note.clone()),
        (
            State::Failed,
            Some(format!(
                "interrupted: {member} is exited, the restart did not finish"
            ))
        )
    );
    // The next listing proposes healing it again, for a person (or a rule) to answer.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        clock.0.fetch_add(1_000, Ordering::SeqCst);
        e.tick().await;
        e.pump(Duration::from_millis(300)).await;
        let v2 = rx
            .borrow()
            .board
            .iter()
            .find(|x| x.proposal.id == id && x.proposal.version == 2)
            .map(|x| x.state);
        if let Some(s) = v2 {
            assert_eq!(s, State::Pending);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no new heal proposal: {:?}",
            rx.borrow().board
        );
    }
    assert_eq!(
        docker(&["inspect", "-f", "{{.State.Status}}", &member]),
        "exited",
        "nothing ran unapproved"
    );
}
