//! Issue 10's budget for attached consoles: an approval reaches five of them within
//! 100 ms (p99). The release `vigil daemon` runs with every file in a temp dir; five
//! clients attach through its socket (`vigil::protocol::client`, as a console does); for
//! each trial a `vigil-test` container labelled `vigil.heal=1` is killed, the daemon
//! proposes `heal:NAME`, and the time is taken from sending the approval through the
//! socket until all five clients' snapshots show it `shadowed` (shadow mode: nothing runs).
//!
//!     ./scripts/test-image.sh && cargo bench --bench attach_latency
//!     TRIALS=50 cargo bench --bench attach_latency

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use vigil::audit::Actor;
use vigil::protocol::State;
use vigil::protocol::client;
use vigil::protocol::{Command as Call, Handle, Reply, Snapshot};

#[path = "../tests/common/mod.rs"]
mod common;
use common::{IMAGE, docker};

const BIN: &str = env!("CARGO_BIN_EXE_vigil");
const CONSOLES: usize = 5;
/// How long the daemon may take to propose the heal of a killed container.
const PROPOSAL_WAIT: Duration = Duration::from_secs(20);
/// An approval that has not reached a console by then is a failure, not a slow sample.
const REACH_WAIT: Duration = Duration::from_secs(10);

/// The daemon, stopped with SIGTERM when dropped.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

/// The trial containers, removed when dropped.
struct Containers(Vec<String>);

impl Drop for Containers {
    fn drop(&mut self) {
        for c in &self.0 {
            let _ = Command::new("docker").args(["rm", "-f", c]).output();
        }
    }
}

fn config(dir: &Path) -> PathBuf {
    let d = dir.display();
    let cfg = dir.join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "interval = \"1s\"\nmode = \"shadow\"\n[store]\npath = \"{d}/vigil.db\"\n\
             [audit]\npath = \"{d}/audit.jsonl\"\nsyslog = \"\"\n\
             [daemon]\nsocket = \"{d}/run/vigil.sock\"\nbrake = \"{d}/brake\"\n\
             [log]\ndir = \"{d}/logs\"\n[heal]\nlabel = \"vigil.heal\"\nmax_restarts = 1000\n"
        ),
    )
    .expect("the temp dir is writable");
    cfg
}

fn start_daemon(dir: &Path) -> Daemon {
    let child = Command::new(BIN)
        .arg("--config")
        .arg(config(dir))
        .arg("daemon")
        .env("XDG_CONFIG_HOME", dir.join("xdg-config"))
        .env("XDG_DATA_HOME", dir.join("xdg-data"))
        .env("XDG_STATE_HOME", dir.join("xdg-state"))
        .env("XDG_RUNTIME_DIR", dir.join("xdg-run"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the release vigil runs");
    let mut d = Daemon(child);
    let socket = dir.join("run/vigil.sock");
    let start = Instant::now();
    while std::os::unix::net::UnixStream::connect(&socket).is_err() {
        if let Ok(Some(st)) = d.0.try_wait() {
            panic!("the daemon exited: {st:?}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the daemon did not answer on {}",
            socket.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    d
}

fn state_of(s: &Snapshot, id: &str) -> Option<State> {
    s.board
        .iter()
        .find(|e| e.proposal.id == id)
        .map(|e| e.state)
}

/// Waits until this console shows `id` in a state `want` accepts; when, and which state.
async fn reaches(
    h: &Handle,
    id: &str,
    want: impl Fn(State) -> bool,
    wait: Duration,
) -> (Instant, State) {
    let mut rx = h.snapshots.clone();
    let seen = tokio::time::timeout(wait, rx.wait_for(|s| state_of(s, id).is_some_and(&want)))
        .await
        .map(|r| r.ok().and_then(|s| state_of(&s, id)));
    match seen {
        Ok(Some(state)) => (Instant::now(), state),
        Ok(None) => panic!("a console lost its engine while waiting for {id}"),
        Err(_) => panic!(
            "{id} did not reach the awaited state on a console within {wait:?} (it shows {:?})",
            state_of(&h.snapshots.borrow(), id).map(State::name)
        ),
    }
}

fn ms_since(t0: Instant, seen: Vec<(Instant, State)>) -> f64 {
    let last = seen.iter().map(|&(t, _)| t).max().expect("five consoles");
    last.duration_since(t0).as_secs_f64() * 1000.0
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    // Nearest rank: with fewer than 100 samples p99 is the slowest one.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn main() {
    let trials: usize = match std::env::var("TRIALS") {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("TRIALS: expected a count, got {v:?}")),
        Err(_) => 30,
    };
    assert!(trials > 0, "TRIALS: at least one trial");
    let dir = tempfile::tempdir().expect("a temp dir");
    let _daemon = start_daemon(dir.path());
    let socket = dir.path().join("run/vigil.sock");
    let tag = std::process::id();
    let names: Vec<String> = (0..trials).map(|i| format!("vlat-{tag}-{i}")).collect();
    let containers = Containers(names.clone());
    for n in &containers.0 {
        docker(&["run", "-d", "--name", n, "--label", "vigil.heal=1", IMAGE]);
    }
    let rt = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let (ms, outcome_ms) = rt.block_on(async {
        let mut consoles = Vec::new();
        for _ in 0..CONSOLES {
            let s = client::connect(&socket, true)
                .await
                .unwrap_or_else(|e| panic!("attach: {e}"));
            consoles.push(client::attach(socket.clone(), s));
        }
        let mut ms = Vec::new();
        let mut outcome_ms = Vec::new();
        for name in &names {
            let id = format!("heal:{name}");
            docker(&["kill", name]);
            // Every console shows it waiting before the clock starts.
            for h in &consoles {
                reaches(h, &id, |s| s == State::Pending, PROPOSAL_WAIT).await;
            }
            let version = consoles[0]
                .snapshots
                .borrow()
                .board
                .iter()
                .find(|e| e.proposal.id == id)
                .map(|e| e.proposal.version)
                .expect("the proposal is on the board");
            // The approval itself (the state the engine answers with: running, as the
            // gate takes it), and the gate's outcome (shadowed: recorded, not run).
            let decided: Vec<_> = consoles
                .iter()
                .map(|h| reaches(h, &id, |s| s != State::Pending, REACH_WAIT))
                .collect();
            let shadowed: Vec<_> = consoles
                .iter()
                .map(|h| reaches(h, &id, |s| s == State::Shadowed, REACH_WAIT))
                .collect();
            let t0 = Instant::now();
            let approve = client::request(
                &socket,
                Call::Approve {
                    id: id.clone(),
                    version,
                    by: Actor::local(),
                    confirm: None,
                },
            );
            let (reply, first, done) = tokio::join!(
                approve,
                futures::future::join_all(decided),
                futures::future::join_all(shadowed)
            );
            let answered = match reply {
                Ok(Reply::Decided { state, .. }) => state,
                other => panic!("approving {id} v{version}: expected it decided, got {other:?}"),
            };
            for &(_, s) in &first {
                assert!(
                    s.name() == answered || s == State::Shadowed,
                    "{id}: a console showed {} after the engine answered {answered}",
                    s.name()
                );
            }
            ms.push(ms_since(t0, first));
            outcome_ms.push(ms_since(t0, done));
        }
        (ms, outcome_ms)
    });
    drop(containers);
    report(
        &format!("approval -> {CONSOLES} attached consoles show it"),
        ms,
        "budget p99 <= 100 ms",
    );
    report(
        &format!("approval -> {CONSOLES} consoles show it shadowed"),
        outcome_ms,
        "the gate's outcome, for reference",
    );
}

fn report(what: &str, mut ms: Vec<f64>, note: &str) {
    ms.sort_by(f64::total_cmp);
    println!(
        "{what:<46} p50 {:6.1} ms  p99 {:6.1} ms  max {:6.1} ms  ({} approvals; {note})",
        percentile(&ms, 50.0),
        percentile(&ms, 99.0),
        ms[ms.len() - 1],
        ms.len()
    );
}
