//! The execution budgets on the real Docker engine, with the image scripts/test-image.sh
//! builds: (1) from a container's exit to its restart with an auto-approval rule, through
//! the whole engine (event, proposal, rule, audit, gate, executor), measured on Docker's own
//! clock (FinishedAt → StartedAt); (2) from an approval to three new replicas ready
//! (healthcheck and HTTP probe passing), through the gate with its fsync'd audit intent.
//!
//!     ./scripts/test-image.sh && cargo bench --bench docker_budgets

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use vigil::audit::{Actor, AuditLog};
use vigil::collect::host::HostCollector;
use vigil::config::{Config, Mode, ScaleTarget, TargetKind};
use vigil::engine::{Engine, Source, SystemClock};
use vigil::execute::docker::DockerExecutor;
use vigil::execute::{Action, Brake, Decision, Gate, GateResult};

const TRIALS: usize = 5;

#[path = "../tests/common/mod.rs"]
mod common;
use common::{Cleanup, docker};

fn clean(group: &str) {
    Cleanup::now(group);
}

fn target(group: &str) -> ScaleTarget {
    ScaleTarget {
        metric: "mem_pct".into(),
        capacity: 1e9,
        max: 10,
        ..common::test_group(group)
    }
}

fn summary(name: &str, mut ms: Vec<f64>, budget: &str) {
    ms.sort_by(f64::total_cmp);
    println!(
        "{name:<42} median {:>7.0} ms   max {:>7.0} ms   ({} runs; {budget})",
        ms[ms.len() / 2],
        ms[ms.len() - 1],
        ms.len()
    );
}

async fn restart_budget() -> Vec<f64> {
    let g = format!("bench-heal-{}", std::process::id());
    clean(&g);
    let dir = tempfile::tempdir().unwrap();
    let mut c = Config {
        mode: Mode::Live,
        ..Config::default()
    };
    c.store.path = Some(dir.path().join("vigil.db"));
    c.audit.path = Some(dir.path().join("audit.jsonl"));
    c.daemon.brake = Some(dir.path().join("brake"));
    c.daemon.socket = Some(dir.path().join("vigil.sock"));
    c.audit.syslog = None;
    c.approve.auto = vec!["restart".into()];
    c.heal.max_restarts = 100;
    c.scale.push(target(&g));
    docker(&[
        "run",
        "-d",
        "--name",
        &format!("{g}-1"),
        "--label",
        &format!("vigil.group={g}"),
        "vigil-test:latest",
    ]);
    let (mut e, _rx) = Engine::new(
        c,
        Arc::new(SystemClock),
        Source::Host(Box::new(HostCollector::proc())),
        Vec::new(),
    );
    e.start_watchers();
    e.tick().await;
    e.pump(Duration::from_secs(3)).await;
    let member = format!("{g}-1");
    let mut out = Vec::new();
    for _ in 0..TRIALS {
        let before = docker(&["inspect", "-f", "{{.State.StartedAt}}", &member]);
        docker(&["kill", &member]);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            e.pump(Duration::from_millis(200)).await;
            let started = docker(&["inspect", "-f", "{{.State.StartedAt}}", &member]);
            if started != before
                && docker(&["inspect", "-f", "{{.State.Running}}", &member]) == "true"
            {
                let fin = docker(&["inspect", "-f", "{{.State.FinishedAt}}", &member]);
                let gap = chrono::DateTime::parse_from_rfc3339(&started).unwrap()
                    - chrono::DateTime::parse_from_rfc3339(&fin).unwrap();
                out.push(gap.num_milliseconds() as f64);
                break;
            }
            assert!(Instant::now() < deadline, "no restart");
        }
        // Let verification finish before the next exit.
        let settle = Instant::now() + Duration::from_secs(5);
        while Instant::now() < settle {
            e.pump(Duration::from_millis(200)).await;
        }
    }
    clean(&g);
    out
}

async fn scale_budget() -> Vec<f64> {
    let g = format!("bench-scale-{}", std::process::id());
    clean(&g);
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(&dir.path().join("audit.jsonl")).unwrap();
    let gate = Gate::new(
        false,
        Brake::new(dir.path().join("brake")),
        Arc::new(Mutex::new(Ok(log))),
    );
    let t = target(&g);
    let exec = DockerExecutor::connect(std::path::Path::new("/var/run/docker.sock"), vec![t]);
    let scale = |to| Decision {
        proposal: format!("scale:{g}"),
        version: 1,
        action: Action::Scale {
            target: g.clone(),
            kind: TargetKind::DockerGroup,
            to,
        },
        from: 1,
        by: Actor::local(),
        auto: false,
    };
    let mut out = Vec::new();
    for _ in 0..TRIALS {
        assert!(matches!(
            gate.pass(&scale(1), &exec).await,
            GateResult::Done(_)
        ));
        let t0 = Instant::now();
        match gate.pass(&scale(4), &exec).await {
            GateResult::Done(o) => assert_eq!(o.created.len(), 3),
            other => panic!("{other:?}"),
        }
        out.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    clean(&g);
    out
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    summary(
        "exit → restart (auto-approved heal)",
        restart_budget().await,
        "budget 3000 ms",
    );
    summary(
        "approval → 3 new replicas ready",
        scale_budget().await,
        "reported",
    );
}
