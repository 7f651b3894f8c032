//! Scales verified by outcome, on the real Docker engine: a docker-group target is
//! scaled out by its rule on a utilisation the test controls (host samples fed to the
//! engine with the memory share it chooses), the new replicas come up (verified by
//! state), and then the utilisation decides. One that helped is audited as such; one
//! that did not is audited, and its rollback waits for a person even with scale-ins
//! auto-approved — and runs when a person approves it.

use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use vigil::audit::{self, Actor};
use vigil::collect::HostSample;
use vigil::collect::host::HostCollector;
use vigil::config::{Config, Mode, NotifyTarget, ScaleTarget};
use vigil::engine::{Clock, Command as Cmd, Engine, Snapshot, Source};
use vigil::protocol::{Entry, State};

mod common;
use common::{Cleanup, start_member};

struct ManualClock(AtomicI64);
impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// One group of capacity 10 (mem_pct points per replica), at most 3 replicas, judged
/// within 2 minutes; scale-ins auto-approved, so a rollback that runs by itself would
/// show.
fn config(dir: &Path, group: &str) -> Config {
    let mut c = Config {
        mode: Mode::Live,
        ..Config::default()
    };
    c.store.path = Some(dir.join("vigil.db"));
    c.audit.path = Some(dir.join("audit.jsonl"));
    c.daemon.brake = Some(dir.join("brake"));
    c.daemon.socket = Some(dir.join("vigil.sock"));
    c.log.dir = Some(dir.join("log"));
    c.audit.syslog = None;
    c.heal.label = format!("vigil.heal.so{}", std::process::id());
    c.heal.host_disk = false;
    c.approve.auto = vec!["scale-in".into()];
    c.scale.push(ScaleTarget {
        metric: "mem_pct".into(),
        capacity: 10.0,
        instances: 1,
        max: 3,
        outcome_within: Duration::from_secs(120),
        ..common::test_group(group)
    });
    c
}

/// A host sample whose memory is `mem_pct` % used (the load the rule reads).
fn sample(ts: i64, mem_pct: u64) -> HostSample {
    HostSample {
        ts,
        cpu_per_core: vec![1.0],
        mem_total: 1000,
        mem_used: mem_pct * 10,
        mem_available: 1000 - mem_pct * 10,
        ..HostSample::default()
    }
}

fn engine(
    dir: &Path,
    group: &str,
    hook: &str,
) -> (
    Engine,
    tokio::sync::watch::Receiver<Snapshot>,
    Arc<ManualClock>,
) {
    let clock = Arc::new(ManualClock(AtomicI64::new(
        chrono::Utc::now().timestamp_millis(),
    )));
    let (e, rx) = Engine::new(
        {
            let mut c = config(dir, group);
            c.notify.push(NotifyTarget {
                url: hook.to_string(),
                events: vec!["failure".into()],
                ..NotifyTarget::default()
            });
            c
        },
        clock.clone(),
        Source::Host(Box::new(HostCollector::proc())),
        Vec::new(),
    );
    (e, rx, clock)
}

/// Feeds a sample, then lets the engine publish (a sample alone publishes no board; a
/// read-only command does).
async fn feed(e: &mut Engine, ts: i64, mem_pct: u64) {
    e.record(sample(ts, mem_pct));
    e.pump(Duration::from_millis(200)).await;
    e.command(Cmd::Proposals);
}

fn entry(rx: &tokio::sync::watch::Receiver<Snapshot>, id: &str, state: State) -> Option<Entry> {
    rx.borrow()
        .board
        .iter()
        .find(|x| x.proposal.id == id && x.state == state)
        .cloned()
}

/// Feeds a sample a minute at `mem_pct` until the rule proposes the scale-out.
async fn proposed(
    e: &mut Engine,
    rx: &tokio::sync::watch::Receiver<Snapshot>,
    clock: &ManualClock,
    group: &str,
    mem_pct: u64,
) -> Entry {
    let id = format!("scale:{group}");
    for _ in 0..8 {
        feed(e, clock.now_ms(), mem_pct).await;
        if let Some(p) = entry(rx, &id, State::Pending) {
            return p;
        }
        clock.0.fetch_add(60_000, Ordering::SeqCst);
    }
    panic!("no scale proposal for {group}: {:?}", rx.borrow().board);
}

/// Approves exactly the version shown, as a person would, and handles results until it
/// is verified (or not) by state.
async fn approve_and_settle(
    e: &mut Engine,
    rx: &tokio::sync::watch::Receiver<Snapshot>,
    p: &Entry,
) -> Entry {
    e.command(Cmd::Approve {
        id: p.proposal.id.clone(),
        version: p.proposal.version,
        by: Actor {
            user: "tester".into(),
            ssh: None,
        },
        confirm: Some(p.proposal.action.subject().to_string()),
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        e.pump(Duration::from_millis(300)).await;
        if let Some(x) = rx.borrow().board.iter().find(|x| {
            x.proposal.id == p.proposal.id
                && x.proposal.version == p.proposal.version
                && !matches!(
                    x.state,
                    State::Pending | State::Approved | State::Running | State::Done
                )
        }) {
            return x.clone();
        }
    }
    panic!("{} never settled: {:?}", p.proposal.id, rx.borrow().board);
}

/// The audit's `outcome` records: (proposal, outcome, summary).
fn outcomes(dir: &Path) -> Vec<(String, String, String)> {
    audit::read_records(&dir.join("audit.jsonl"))
        .unwrap()
        .into_iter()
        .filter(|(r, _)| r.kind == "outcome")
        .map(|(r, _)| {
            let s = |k: &str| r.data[k].as_str().unwrap_or("").to_string();
            (s("proposal"), s("outcome"), s("summary"))
        })
        .collect()
}

/// A local webhook receiver: the titles of the events vigil sent it.
async fn webhook() -> (String, Arc<Mutex<Vec<String>>>) {
    let got: Arc<Mutex<Vec<String>>> = Arc::default();
    let keep = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::Json<serde_json::Value>| {
            let keep = keep.clone();
            async move {
                let title = body["title"].as_str().unwrap_or("").to_string();
                keep.lock().unwrap().push(title);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), got)
}

/// Scales the group 1 → 3 on 20 % memory (200 % of one replica); failures go to `hook`.
async fn scaled_out(
    dir: &Path,
    group: &str,
    hook: &str,
) -> (
    Engine,
    tokio::sync::watch::Receiver<Snapshot>,
    Arc<ManualClock>,
) {
    start_member(group, 1);
    let (mut e, rx, clock) = engine(dir, group, hook);
    let p = proposed(&mut e, &rx, &clock, group, 20).await;
    assert_eq!((p.proposal.from, p.proposal.to), (1, 3));
    assert_eq!(p.proposal.utilisation, 2.0);
    let done = approve_and_settle(&mut e, &rx, &p).await;
    assert_eq!(done.state, State::Verified, "{done:?}");
    assert_eq!(common::running(group).len(), 3);
    (e, rx, clock)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scale_out_that_brings_utilisation_down_is_audited_as_helped() {
    let dir = tempfile::tempdir().unwrap();
    let g = format!("vso-ok-{}", std::process::id());
    let _c = Cleanup(g.clone());
    let (hook, _titles) = webhook().await;
    let (mut e, rx, clock) = scaled_out(dir.path(), &g, &hook).await;
    // The same load over three replicas: 67 % each, down from 200 %.
    feed(&mut e, clock.now_ms(), 20).await;
    assert_eq!(
        outcomes(dir.path()),
        [(
            format!("scale:{g}"),
            "helped".to_string(),
            format!(
                "scale {g} 1 → 3 helped: utilisation per replica 200% → 67% (needed 133% or less)"
            )
        )]
    );
    assert_eq!(entry(&rx, &format!("rollback:{g}"), State::Pending), None);
    assert!(audit::verify(&dir.path().join("audit.jsonl")).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_of_vigil_goes_on_judging_a_scale_it_was_watching() {
    let dir = tempfile::tempdir().unwrap();
    let g = format!("vso-again-{}", std::process::id());
    let _c = Cleanup(g.clone());
    let (hook, _titles) = webhook().await;
    let (e, _rx, _clock) = scaled_out(dir.path(), &g, &hook).await;
    assert_eq!(outcomes(dir.path()), [], "nothing judged yet");
    drop(e);
    // A new vigil on the same files: the first sample judges the old scale.
    let (mut e, _rx, clock) = engine(dir.path(), &g, &hook);
    feed(&mut e, clock.now_ms(), 20).await;
    let got = outcomes(dir.path());
    assert_eq!(
        got.iter()
            .map(|(p, o, _)| (p.as_str(), o.as_str()))
            .collect::<Vec<_>>(),
        [(format!("scale:{g}").as_str(), "helped")],
        "{got:?}"
    );
    // Judged once: the mark is gone, a third vigil judges nothing again.
    drop(e);
    let (mut e, _rx, clock) = engine(dir.path(), &g, &hook);
    feed(&mut e, clock.now_ms(), 20).await;
    assert_eq!(outcomes(dir.path()).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scale_out_that_did_not_help_is_audited_and_its_rollback_waits_for_a_person() {
    let dir = tempfile::tempdir().unwrap();
    let g = format!("vso-bad-{}", std::process::id());
    let _c = Cleanup(g.clone());
    let (hook, titles) = webhook().await;
    let (mut e, rx, clock) = scaled_out(dir.path(), &g, &hook).await;
    // The load grew with the replicas: still 200 % each.
    feed(&mut e, clock.now_ms(), 60).await;
    assert_eq!(outcomes(dir.path()), [], "undecided before its deadline");
    clock.0.fetch_add(121_000, Ordering::SeqCst);
    feed(&mut e, clock.now_ms(), 60).await;
    assert_eq!(
        outcomes(dir.path()),
        [(
            format!("scale:{g}"),
            "did-not-help".to_string(),
            format!(
                "scale {g} 1 → 3 did NOT help: utilisation per replica 200% → 200%, not down to 133% in time"
            )
        )]
    );
    // The rollback is proposed to a person: scale-ins are auto-approved, this is not.
    e.command(Cmd::Proposals);
    let back = entry(&rx, &format!("rollback:{g}"), State::Pending).expect("a rollback waits");
    assert_eq!((back.proposal.from, back.proposal.to), (3, 1));
    assert_eq!(
        back.proposal.manual.as_deref(),
        Some("a rollback is for a person to decide")
    );
    assert_eq!(common::running(&g).len(), 3, "nothing ran by itself");
    // The operator is told.
    let told = format!("scale did not help: {g} 1 → 3");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !titles.lock().unwrap().contains(&told) {
        assert!(
            Instant::now() < deadline,
            "not notified: {:?}",
            titles.lock().unwrap()
        );
        e.pump(Duration::from_millis(200)).await;
    }
    // A person approves it: the group is back at one, and the rollback is not judged.
    let done = approve_and_settle(&mut e, &rx, &back).await;
    assert_eq!(done.state, State::Verified, "{done:?}");
    assert_eq!(common::running(&g).len(), 1);
    clock.0.fetch_add(200_000, Ordering::SeqCst);
    feed(&mut e, clock.now_ms(), 60).await;
    assert_eq!(outcomes(dir.path()).len(), 1);
}
