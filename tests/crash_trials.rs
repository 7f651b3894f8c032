//! Crash trials on the real Docker engine: the real `vigil daemon` is killed with SIGKILL
//! at random moments of approved scale-outs, scale-ins and restarts of a group of
//! `vigil-test:latest` containers, and started again. After every restart the entry must
//! reach a final state, the group must hold what that state says, no proposal may have
//! been executed twice or without an approval, and `vigil audit verify` must pass.
//!
//! The proposals are put into the queue by the test (ids `trial:N`, which the planner
//! never makes, so it neither supersedes nor withdraws them) and approved through the
//! daemon with `vigil approve`, as an operator would from a shell.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use vigil::approve::{Queue, State};
use vigil::audit;
use vigil::config::TargetKind;
use vigil::execute::Action;
use vigil::plan::proposal::{Proposal, Risk};
use vigil::plan::scaling::Rule;

mod common;
use common::{Cleanup, docker, start_member};

const TRIALS: usize = 20;
/// Roughly when, after `vigil approve` returns, the daemon is killed.
const KILL_AFTER_MS: [u64; 10] = [0, 40, 100, 200, 350, 600, 900, 1400, 2200, 3200];

/// A small xorshift: the kill points only need to be spread, and the seed is printed so
/// a failing run can be replayed with VIGIL_TRIAL_SEED.
struct Jitter(u64);
impl Jitter {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// A running `vigil daemon`; killed (SIGKILL) and reaped when dropped, so a failing
/// trial leaves no daemon behind.
struct Daemon(Child);

impl Daemon {
    /// SIGKILL, as a crash would: no signal handler, no cleanup.
    fn kill9(mut self) {
        self.0.kill().expect("SIGKILL the daemon");
        self.0.wait().expect("reap the daemon");
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Host {
    dir: PathBuf,
    cfg: PathBuf,
    group: String,
}

impl Host {
    fn new(dir: &Path, group: &str) -> Host {
        let cfg = dir.join("config.toml");
        let p = |name: &str| dir.join(name).display().to_string();
        std::fs::write(
            &cfg,
            format!(
                r#"interval = "1s"
mode = "live"

[store]
path = "{db}"

[log]
dir = "{logs}"

[audit]
path = "{audit}"
syslog = ""

[heal]
enabled = false

[daemon]
socket = "{socket}"
brake = "{brake}"

[[scale]]
name = "{group}"
kind = "docker-group"
metric = "mem_pct"
capacity = 1000000000.0
instances = 1
min = 1
max = 3
template = {{ image = "{image}", restart = "no" }}
probe = {{ port = 8080, http = "/health" }}
ready_timeout = "30s"
stop_timeout = "1s"
"#,
                db = p("vigil.db"),
                logs = p("logs"),
                audit = p("audit.jsonl"),
                socket = p("vigil.sock"),
                brake = p("brake"),
                image = common::IMAGE,
            ),
        )
        .unwrap();
        Host {
            dir: dir.to_path_buf(),
            cfg,
            group: group.into(),
        }
    }

    fn vigil(&self) -> Command {
        let mut c = Command::new(assert_cmd::cargo::cargo_bin("vigil"));
        c.arg("--config").arg(&self.cfg);
        // Nothing of the test may land in the real home's state.
        for var in ["HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"] {
            c.env(var, &self.dir);
        }
        c.env("XDG_RUNTIME_DIR", &self.dir);
        c
    }

    /// Starts the daemon and waits until it says its engine runs. (Not by asking with
    /// `vigil proposals`: with no daemon up yet, that command would take the owner lock
    /// itself and the daemon would refuse to start.)
    fn daemon(&self) -> Daemon {
        use std::io::BufRead;
        let mut child = self
            .vigil()
            .arg("daemon")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("vigil daemon starts");
        let stderr = child.stderr.take().expect("the daemon's stderr");
        let daemon = Daemon(child);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // Read to the end, so the daemon never blocks on a full pipe.
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut said = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if line.starts_with("vigil daemon: engine running") => return daemon,
                Ok(line) => said.push(line),
                Err(_) => panic!("vigil daemon did not start: {said:?}"),
            }
        }
    }

    /// The daemon must still be the one answering: a command with no daemon up would
    /// run an engine of its own.
    fn alive(&self, d: &mut Daemon, trial: usize) {
        assert!(
            matches!(d.0.try_wait(), Ok(None)),
            "trial {trial}: the daemon exited by itself"
        );
        assert!(
            std::os::unix::net::UnixStream::connect(self.dir.join("vigil.sock")).is_ok(),
            "trial {trial}: the daemon's socket does not answer"
        );
    }

    fn queue(&self) -> Queue {
        let q = Queue::open(Some(&self.dir.join("vigil.db")), 3_600_000);
        assert_eq!(q.notice, None, "the queue must be on disk");
        q
    }

    /// Puts a proposal into the queue, waiting for an answer.
    fn propose(&self, id: &str, action: Action, from: usize) {
        let now = chrono::Utc::now().timestamp_millis();
        let mut p = Proposal::repair(
            id.into(),
            action,
            Rule::Reactive,
            "crash trial".into(),
            None,
            Risk::Low,
            now,
        );
        p.from = from;
        let (_, fresh) = self.queue().offer(&p, now).unwrap();
        assert!(fresh, "{id} offered twice");
    }

    /// Waits until the entry reaches a state nothing moves on from.
    fn settled(&self, id: &str) -> vigil::approve::Entry {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let e = self.queue().get(id, 1).unwrap().expect("the entry exists");
            if !matches!(
                e.state,
                State::Pending | State::Approved | State::Running | State::Done
            ) {
                return e;
            }
            assert!(
                Instant::now() < deadline,
                "{id} never settled after the restart: {e:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Every container carrying the group's label, by name.
    fn containers(&self) -> Vec<(String, String)> {
        let out = docker(&[
            "ps",
            "-a",
            "--filter",
            &format!("label=vigil.group={}", self.group),
            "--format",
            "{{.Names}} {{.State}}",
        ]);
        let mut v: Vec<(String, String)> = out
            .lines()
            .filter_map(|l| {
                let (n, s) = l.split_once(' ')?;
                Some((n.to_string(), s.to_string()))
            })
            .collect();
        v.sort();
        v
    }

    fn running(&self) -> Vec<String> {
        self.containers()
            .into_iter()
            .filter(|(_, s)| s == "running")
            .map(|(n, _)| n)
            .collect()
    }
}

/// The audit invariants: the chain verifies, every intent follows an approval of the
/// same version, and no version has more than one intent.
fn check_audit(host: &Host, trial: usize) -> HashMap<String, usize> {
    let path = host.dir.join("audit.jsonl");
    let out = host
        .vigil()
        .args(["audit", "verify", "--path"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "trial {trial}: vigil audit verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut approved: Vec<(String, u64)> = Vec::new();
    let mut intents: HashMap<String, usize> = HashMap::new();
    for (r, _) in audit::read_records(&path).unwrap() {
        let id = r.data["proposal"].as_str().unwrap_or_default().to_string();
        let v = r.data["version"].as_u64().unwrap_or(0);
        match r.kind.as_str() {
            "decision" if r.data["decision"] == "approved" => approved.push((id, v)),
            "intent" => {
                assert!(
                    approved.contains(&(id.clone(), v)),
                    "trial {trial}: {id} v{v} executed without an approval"
                );
                *intents.entry(id).or_default() += 1;
            }
            _ => {}
        }
    }
    for (id, n) in &intents {
        assert_eq!(*n, 1, "trial {trial}: {id} executed {n} times");
    }
    intents
}

#[test]
fn sigkills_at_random_points_of_approved_actions_never_double_act() {
    let dir = tempfile::tempdir().unwrap();
    let group = format!("vc-{}", std::process::id());
    let _c = Cleanup(group.clone());
    assert!(
        !docker(&["image", "inspect", "-f", "{{.Id}}", common::IMAGE]).is_empty(),
        "scripts/test-image.sh builds {}",
        common::IMAGE
    );
    let host = Host::new(dir.path(), &group);
    start_member(&group, 1);
    let seed = std::env::var("VIGIL_TRIAL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| chrono::Utc::now().timestamp_micros() as u64 | 1);
    eprintln!("crash trials: seed {seed} (VIGIL_TRIAL_SEED={seed} replays them)");
    let mut jitter = Jitter(seed);
    let mut daemon = host.daemon();
    let mut states: HashMap<&'static str, usize> = HashMap::new();
    let mut points: HashMap<&'static str, usize> = HashMap::new();
    let started = Instant::now();
    for trial in 0..TRIALS {
        let before = host.running();
        let from = before.len();
        let id = format!("trial:{trial}");
        // Scale out to 3, back in to 1, restart a member: round and round.
        let action = match trial % 3 {
            0 => Action::Scale {
                target: group.clone(),
                kind: TargetKind::DockerGroup,
                to: 3,
            },
            1 => Action::Scale {
                target: group.clone(),
                kind: TargetKind::DockerGroup,
                to: 1,
            },
            _ => Action::Restart {
                container: before.first().cloned().expect("a member runs"),
            },
        };
        host.propose(&id, action.clone(), from);
        host.alive(&mut daemon, trial);
        let approve = host
            .vigil()
            .args(["approve", &id, "--version", "1"])
            .output()
            .unwrap();
        assert_eq!(
            approve.status.code(),
            Some(0),
            "trial {trial}: vigil approve: {}",
            String::from_utf8_lossy(&approve.stderr)
        );
        // Anywhere from at once to after the verification, more often early, where
        // a scale is between its members.
        let wait =
            KILL_AFTER_MS[jitter.below(KILL_AFTER_MS.len() as u64) as usize] + jitter.below(60);
        std::thread::sleep(Duration::from_millis(wait));
        daemon.kill9();
        daemon = host.daemon();
        let e = host.settled(&id);
        *states.entry(e.state.name()).or_default() += 1;
        let intents = check_audit(&host, trial);
        let ran = intents.contains_key(&id);
        // Where the kill landed, from what the gate had written.
        let finished = audit::read_records(&host.dir.join("audit.jsonl"))
            .unwrap()
            .iter()
            .any(|(r, _)| r.kind == "result" && r.data["proposal"] == id.as_str());
        let point = match (ran, finished) {
            (false, _) => "before the intent",
            (true, false) => "while it ran",
            (true, true) => "after it ran",
        };
        *points.entry(point).or_default() += 1;
        eprintln!(
            "trial {trial}: {} from {from}, killed {wait} ms after the approval, {point}: {} ({})",
            action.class(from),
            e.state.name(),
            e.note.as_deref().unwrap_or("")
        );
        let running = host.running();
        let all = host.containers();
        // No leftovers: nothing set aside, nothing created and never started.
        for (name, state) in &all {
            assert!(
                !name.contains(".vigil-") && state != "created",
                "trial {trial}: left behind: {name} ({state}); all: {all:?}"
            );
        }
        match (e.state, &action) {
            (State::Verified, Action::Scale { to, .. }) => {
                assert!(ran, "trial {trial}: verified without an intent");
                assert_eq!(running.len(), *to, "trial {trial}: {all:?}");
            }
            (State::Verified, Action::Restart { container }) => {
                assert!(ran);
                assert!(running.contains(container), "trial {trial}: {all:?}");
            }
            (State::Failed, _) if !ran => {
                // Never reached the executor: the group is as it was.
                assert_eq!(
                    e.note.as_deref().map(|n| n.starts_with("not run")),
                    Some(true),
                    "trial {trial}: {e:?}"
                );
                assert_eq!(running, before, "trial {trial}: not run, yet changed");
            }
            (State::Failed | State::Unverified, Action::Scale { to, .. }) => {
                // Cut short: somewhere between where it began and where it went.
                let (lo, hi) = (from.min(*to), from.max(*to));
                assert!(
                    (lo..=hi).contains(&running.len()),
                    "trial {trial}: {} running after {from} → {to}: {e:?}",
                    running.len()
                );
            }
            (State::Failed | State::Unverified, Action::Restart { .. }) => {}
            (s, _) => panic!("trial {trial}: unexpected final state {s:?}: {e:?}"),
        }
        // The next trial starts from a group that runs at least one member.
        if host.running().is_empty() {
            start_member(&group, 100 + trial as u32);
        }
    }
    drop(daemon);
    eprintln!(
        "crash trials: {TRIALS} SIGKILLs in {:.0?}; killed {points:?}; final states {states:?}",
        started.elapsed()
    );
    // The trials must have caught actions in the middle, where reconciling matters.
    assert!(
        points.get("while it ran").copied().unwrap_or(0) >= 3,
        "too few kills landed while an action ran: {points:?}"
    );
}
