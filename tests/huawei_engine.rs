//! The Huawei executor wired into the engine, end to end: a real `vigil daemon` whose
//! one target is an AS group on the local fake cloud. A proposal approved with
//! `vigil approve` reaches the fake through the gate, its scaling activity is followed
//! until it finished, the change is verified and every step is audited; the daemon
//! SIGKILLed in the middle of the activity (or while the cloud's answer is still
//! missing) reconciles it on restart without a second request to change capacity.
//!
//! The proposals are put into the queue by the test (ids `trial:…`, which the planner
//! never makes), as in the crash trials.

mod huawei_fake;

use axum::http::Method;
use huawei_fake::{AK, Fake, Fault, PROJECT, SK};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use vigil::approve::{Entry, Queue, State};
use vigil::audit;
use vigil::config::TargetKind;
use vigil::execute::Action;
use vigil::plan::proposal::{Proposal, Risk};
use vigil::plan::scaling::Rule;

const GROUP: &str = "4c0e6a53-1b2f-4d8e-9a7c-5e6f7a8b9c0d";
/// Every request that changes an AS group's capacity.
const CHANGE: (&str, &str) = ("PUT", "/scaling_group/");

/// A running `vigil daemon`; killed and reaped when dropped, so a failing test leaves
/// none behind.
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

/// A host whose every file is in a temp dir, and whose one target is the fake's group.
struct Host {
    dir: tempfile::TempDir,
    cfg: PathBuf,
    /// The daemon gets the SDK's credential variables.
    credentials: bool,
}

impl Host {
    fn new(fake: &Fake, request_timeout: &str) -> Host {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("config.toml");
        let p = |name: &str| dir.path().join(name).display().to_string();
        std::fs::write(
            &cfg,
            format!(
                r#"interval = "250ms"
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

[huawei]
region = "cn-north-4"
project_id = "{PROJECT}"
endpoint = "{url}"
poll = "100ms"
request_timeout = "{request_timeout}"
retry_deadline = "20s"

[huawei.targets.web]
group_id = "{GROUP}"

[huawei.targets.db]
server_id = "srv-db"

[[scale]]
name = "web"
kind = "huawei-as-group"
metric = "mem_pct"
capacity = 1000000000.0
instances = 2
min = 1
max = 5
ready_timeout = "30s"

[[scale]]
name = "db"
kind = "huawei-as-group"
metric = "mem_pct"
capacity = 1000000000.0
instances = 1
min = 1
max = 1
ready_timeout = "30s"
resize_to = {{ name = "c7.xlarge.2", capacity = 2000000000.0, price_per_hour = 0.8 }}
"#,
                db = p("vigil.db"),
                logs = p("logs"),
                audit = p("audit.jsonl"),
                socket = p("vigil.sock"),
                brake = p("brake"),
                url = fake.url(),
            ),
        )
        .unwrap();
        Host {
            dir,
            cfg,
            credentials: true,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn vigil(&self) -> Command {
        let mut c = Command::new(assert_cmd::cargo::cargo_bin("vigil"));
        c.arg("--config").arg(&self.cfg);
        // Nothing of the test may land in the real home's state.
        for var in ["HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"] {
            c.env(var, self.dir.path());
        }
        c.env("XDG_RUNTIME_DIR", self.dir.path());
        // The SDK's own variables, as an operator sets them for the daemon.
        if self.credentials {
            c.env("HUAWEICLOUD_SDK_AK", AK)
                .env("HUAWEICLOUD_SDK_SK", SK);
        } else {
            c.env_remove("HUAWEICLOUD_SDK_AK")
                .env_remove("HUAWEICLOUD_SDK_SK");
        }
        // The fake is on loopback: no proxy of the test machine in between.
        for var in [
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
            "http_proxy",
            "https_proxy",
        ] {
            c.env_remove(var);
        }
        c.stdin(Stdio::null());
        c
    }

    /// Starts the daemon and waits until it says its engine runs.
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

    fn queue(&self) -> Queue {
        let q = Queue::open(Some(&self.path("vigil.db")), 3_600_000);
        assert_eq!(q.notice, None, "the queue must be on disk");
        q
    }

    /// Puts a scale of the AS group from `from` to `to` into the queue.
    fn propose(&self, id: &str, from: usize, to: usize) {
        let action = Action::Scale {
            target: "web".into(),
            kind: TargetKind::HuaweiAsGroup,
            to,
        };
        self.offer(id, action, from, Risk::Low);
    }

    fn offer(&self, id: &str, action: Action, from: usize, risk: Risk) {
        let now = chrono::Utc::now().timestamp_millis();
        let mut p = Proposal::repair(
            id.into(),
            action,
            Rule::Reactive,
            "huawei engine test".into(),
            None,
            risk,
            now,
        );
        p.from = from;
        let (_, fresh) = self.queue().offer(&p, now).unwrap();
        assert!(fresh, "{id} offered twice");
    }

    fn approve(&self, id: &str) {
        self.approve_with(id, &[]);
    }

    fn approve_with(&self, id: &str, extra: &[&str]) {
        let out = self
            .vigil()
            .args(["approve", id, "--version", "1"])
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "vigil approve: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn entry(&self, id: &str) -> Entry {
        self.queue().get(id, 1).unwrap().expect("the entry exists")
    }

    /// Waits until the entry reaches a state nothing moves on from.
    fn settled(&self, id: &str) -> Entry {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let e = self.entry(id);
            if !matches!(
                e.state,
                State::Pending | State::Approved | State::Running | State::Done
            ) {
                return e;
            }
            assert!(Instant::now() < deadline, "{id} never settled: {e:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until `what` holds, or fails saying what it waited for.
    fn wait_for(&self, what: &str, mut ok: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !ok() {
            assert!(Instant::now() < deadline, "waited in vain for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The audit records of one proposal, in order: (kind, data).
    fn trail(&self, id: &str) -> Vec<(String, serde_json::Value)> {
        audit::read_records(&self.path("audit.jsonl"))
            .unwrap()
            .into_iter()
            .map(|(r, _)| r)
            .filter(|r| r.data["proposal"] == id)
            .map(|r| (r.kind, r.data))
            .collect()
    }

    fn audit_verifies(&self) {
        let out = self
            .vigil()
            .args(["audit", "verify", "--path"])
            .arg(self.path("audit.jsonl"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "vigil audit verify: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn kinds(trail: &[(String, serde_json::Value)]) -> Vec<&str> {
    trail.iter().map(|(k, _)| k.as_str()).collect()
}

fn record<'a>(trail: &'a [(String, serde_json::Value)], kind: &str) -> &'a serde_json::Value {
    &trail
        .iter()
        .find(|(k, _)| k == kind)
        .unwrap_or_else(|| panic!("no {kind} record in {trail:?}"))
        .1
}

/// The group as the fake holds it: (expected number, lifecycle states).
fn group(fake: &Fake) -> (u32, Vec<String>) {
    let st = fake.state();
    let g = &st.groups[GROUP];
    (
        g.desire,
        g.instances.iter().map(|i| i.state.clone()).collect(),
    )
}

fn newest_activity(fake: &Fake) -> (String, String) {
    let st = fake.state();
    let a = st.groups[GROUP]
        .activities
        .last()
        .expect("a scaling activity");
    (a.id.clone(), a.status.clone())
}

fn in_service(n: usize) -> Vec<String> {
    vec!["INSERVICE".to_string(); n]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_scale_reaches_the_cloud_is_verified_by_its_activity_and_audited() {
    let fake = huawei_fake::start().await;
    fake.add_group(GROUP, "web", 1, 5, 2, 0);
    fake.state().apply_after = Duration::from_millis(1500);
    let host = Host::new(&fake, "5s");
    let _daemon = host.daemon();
    host.propose("trial:out", 2, 4);
    host.approve("trial:out");

    // While the activity runs: the entry is running with the activity stored.
    host.wait_for("the activity's id in the queue", || {
        host.queue().operation("trial:out", 1).unwrap().is_some()
    });
    let (act, status) = newest_activity(&fake);
    assert_eq!(status, "DOING");
    let e = host.entry("trial:out");
    let following = format!("following as-activity:{GROUP}/{act}");
    assert_eq!(
        (e.state, e.note.as_deref()),
        (State::Running, Some(following.as_str()))
    );
    assert_eq!(
        host.queue().operation("trial:out", 1).unwrap(),
        Some(format!("as-activity:{GROUP}/{act}"))
    );

    let e = host.settled("trial:out");
    assert_eq!(e.state, State::Verified, "{e:?}");
    assert_eq!(newest_activity(&fake), (act.clone(), "SUCCESS".into()));
    assert_eq!(group(&fake), (4, in_service(4)));
    assert_eq!(fake.state().count(CHANGE.0, CHANGE.1), 1);

    // Audited like Docker: the decision, the intent before, the result after, the
    // verdict; with the cloud's operation in between.
    let trail = host.trail("trial:out");
    assert_eq!(
        kinds(&trail),
        ["decision", "intent", "accepted", "result", "verify"],
        "{trail:?}"
    );
    assert_eq!(record(&trail, "decision")["decision"], "approved");
    assert_eq!(record(&trail, "intent")["executor"], "huawei");
    assert_eq!(
        record(&trail, "accepted")["operation"],
        format!("as-activity:{GROUP}/{act}")
    );
    let result = record(&trail, "result");
    assert_eq!(result["ok"], true);
    assert_eq!(
        result["outcome"]["summary"],
        format!("AS group web: 2 → 4 instances in service (activity {act})")
    );
    assert_eq!(record(&trail, "verify")["verified"], true);
    host.audit_verifies();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_activity_the_restarted_daemon_follows_it_without_a_second_change() {
    let fake = huawei_fake::start().await;
    fake.add_group(GROUP, "web", 1, 5, 2, 0);
    fake.state().apply_after = Duration::from_secs(4);
    let host = Host::new(&fake, "5s");
    let daemon = host.daemon();
    host.propose("trial:kill", 2, 3);
    host.approve("trial:kill");
    host.wait_for("the activity's id in the queue", || {
        host.queue().operation("trial:kill", 1).unwrap().is_some()
    });
    let (act, status) = newest_activity(&fake);
    assert_eq!(status, "DOING", "killed in the middle of the activity");
    daemon.kill9();
    assert_eq!(host.entry("trial:kill").state, State::Running);

    let _daemon = host.daemon();
    let e = host.settled("trial:kill");
    assert_eq!(e.state, State::Verified, "{e:?}");
    assert_eq!(fake.state().count(CHANGE.0, CHANGE.1), 1, "one change only");
    assert_eq!(newest_activity(&fake), (act.clone(), "SUCCESS".into()));
    assert_eq!(group(&fake), (3, in_service(3)));

    let trail = host.trail("trial:kill");
    assert_eq!(
        kinds(&trail),
        ["decision", "intent", "accepted", "reconciled", "verify"],
        "{trail:?}"
    );
    let rec = record(&trail, "reconciled");
    assert_eq!(
        (&rec["was"], &rec["now"]),
        (&"running".into(), &"done".into())
    );
    assert_eq!(record(&trail, "verify")["verified"], true);
    host.audit_verifies();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_while_the_clouds_answer_was_missing_the_group_is_read_not_asked_again() {
    let fake = huawei_fake::start().await;
    fake.add_group(GROUP, "web", 1, 5, 2, 0);
    fake.state().apply_after = Duration::from_secs(2);
    // The change is applied and its answer never comes; the daemon waits for it.
    fake.fault(Some(Method::PUT), Fault::Drop);
    let host = Host::new(&fake, "30s");
    let daemon = host.daemon();
    host.propose("trial:lost", 2, 4);
    host.approve("trial:lost");
    host.wait_for("the change at the cloud", || {
        fake.state().count(CHANGE.0, CHANGE.1) == 1
    });
    daemon.kill9();
    assert_eq!(host.queue().operation("trial:lost", 1).unwrap(), None);
    assert_eq!(host.entry("trial:lost").state, State::Running);

    let _daemon = host.daemon();
    let e = host.settled("trial:lost");
    assert_eq!(e.state, State::Verified, "{e:?}");
    assert_eq!(fake.state().count(CHANGE.0, CHANGE.1), 1, "one change only");
    assert_eq!(group(&fake), (4, in_service(4)));
    let trail = host.trail("trial:lost");
    assert_eq!(
        kinds(&trail),
        ["decision", "intent", "reconciled", "verify"],
        "{trail:?}"
    );
    host.audit_verifies();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_before_the_change_was_sent_it_is_marked_interrupted_and_never_sent() {
    let fake = huawei_fake::start().await;
    fake.add_group(GROUP, "web", 1, 5, 2, 0);
    // Every read before the change is throttled for a while: the daemon is killed
    // after its intent and before its request to change capacity.
    for _ in 0..200 {
        fake.fault(Some(Method::GET), Fault::Throttle);
    }
    let host = Host::new(&fake, "5s");
    let daemon = host.daemon();
    host.propose("trial:early", 2, 4);
    host.approve("trial:early");
    host.wait_for("the intent", || {
        kinds(&host.trail("trial:early")).contains(&"intent")
    });
    daemon.kill9();
    fake.state().faults.clear();
    assert_eq!(fake.state().count(CHANGE.0, CHANGE.1), 0);

    let _daemon = host.daemon();
    let e = host.settled("trial:early");
    assert_eq!(e.state, State::Failed, "{e:?}");
    assert_eq!(
        e.note.as_deref(),
        Some(
            "interrupted: AS group web expects 2 instances, not 4: the change never reached it (not sent again)"
        )
    );
    assert_eq!(fake.state().count(CHANGE.0, CHANGE.1), 0, "never sent");
    assert_eq!(group(&fake), (2, in_service(2)));
    host.audit_verifies();
}

/// A flavor change of an ECS server: the risky approval carries the typed name, the
/// ECS job is stored and followed; killed in the middle of the job, the restarted
/// daemon follows the stored job and never sends a second resize.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resize_killed_mid_job_is_followed_by_its_stored_job_not_sent_again() {
    let fake = huawei_fake::start().await;
    fake.add_server("srv-db", "db", "ACTIVE", "s6.large.2");
    fake.state().apply_after = Duration::from_secs(4);
    let host = Host::new(&fake, "5s");
    let daemon = host.daemon();
    let resize = Action::Resize {
        target: "db".into(),
        cpus: 0.0,
        memory_mib: 0,
    };
    host.offer("trial:resize", resize, 1, Risk::High);
    // Without the typed name the engine refuses it, whatever the client did.
    let out = host
        .vigil()
        .args(["approve", "trial:resize", "--version", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "refused");
    assert_eq!(host.entry("trial:resize").state, State::Pending);
    host.approve_with("trial:resize", &["--confirm", "db"]);
    host.wait_for("the ECS job's id in the queue", || {
        host.queue().operation("trial:resize", 1).unwrap().is_some()
    });
    let op = host.queue().operation("trial:resize", 1).unwrap().unwrap();
    let job = op.strip_prefix("ecs-job:srv-db/").expect("an ECS job");
    assert_eq!(fake.state().jobs[job].status, "RUNNING");
    daemon.kill9();

    let _daemon = host.daemon();
    let e = host.settled("trial:resize");
    assert_eq!(e.state, State::Verified, "{e:?}");
    assert_eq!(fake.state().count("POST", "/resize"), 1, "one resize only");
    {
        let st = fake.state();
        let s = &st.servers["srv-db"];
        assert_eq!(
            (s.flavor.as_str(), s.status.as_str()),
            ("c7.xlarge.2", "ACTIVE")
        );
    }
    let trail = host.trail("trial:resize");
    assert_eq!(
        kinds(&trail),
        [
            "refused",
            "decision",
            "intent",
            "accepted",
            "reconciled",
            "verify"
        ],
        "{trail:?}"
    );
    assert_eq!(record(&trail, "intent")["executor"], "huawei");
    host.audit_verifies();
}

/// No credentials for the daemon: an approved scale fails with the reason, audited,
/// and nothing reaches the cloud.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_credentials_an_approved_scale_fails_saying_why_and_sends_nothing() {
    let fake = huawei_fake::start().await;
    fake.add_group(GROUP, "web", 1, 5, 2, 0);
    let mut host = Host::new(&fake, "5s");
    host.credentials = false;
    let _daemon = host.daemon();
    host.propose("trial:nocreds", 2, 3);
    host.approve("trial:nocreds");
    let e = host.settled("trial:nocreds");
    let why = "Huawei Cloud cannot be reached: no Huawei Cloud credentials: \
               set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK, or huawei.credentials_file (0600)";
    assert_eq!((e.state, e.note.as_deref()), (State::Failed, Some(why)));
    assert!(fake.state().log.is_empty(), "nothing reached the cloud");
    let trail = host.trail("trial:nocreds");
    assert_eq!(kinds(&trail), ["decision", "intent", "result"], "{trail:?}");
    assert_eq!(record(&trail, "result")["ok"], false);
    assert_eq!(record(&trail, "result")["error"], why);
    host.audit_verifies();
}

/// The queue's operation column arrives in a database an older vigil made.
#[test]
fn an_older_queue_gets_the_operation_column_and_keeps_its_entries() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("vigil.db");
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch(
            "CREATE TABLE approvals (id TEXT NOT NULL, version INTEGER NOT NULL, \
             proposal TEXT NOT NULL, state TEXT NOT NULL, updated INTEGER NOT NULL, \
             expires INTEGER NOT NULL, by TEXT, note TEXT, PRIMARY KEY (id, version));",
        )
        .unwrap();
    }
    let mut q = Queue::open(Some(&db), 60_000);
    assert_eq!(q.notice, None);
    let now = 1_000;
    let p = Proposal::repair(
        "trial:old".into(),
        Action::Scale {
            target: "web".into(),
            kind: TargetKind::HuaweiAsGroup,
            to: 3,
        },
        Rule::Reactive,
        "old db".into(),
        None,
        Risk::Low,
        now,
    );
    q.offer(&p, now).unwrap();
    // Only a running entry takes an operation, and only once.
    let err = q
        .set_operation("trial:old", 1, "as-activity:g/a1", now)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "proposal trial:old v1 is pending, not running without an operation: not moved to running with an operation"
    );
    let who = vigil::audit::Actor {
        user: "ops".into(),
        ssh: None,
    };
    q.decide("trial:old", 1, true, &who, now).unwrap();
    q.set_state("trial:old", 1, State::Approved, State::Running, None, now)
        .unwrap();
    q.set_operation("trial:old", 1, "as-activity:g/a1", now)
        .unwrap();
    // The same id again is no change; another one is refused.
    q.set_operation("trial:old", 1, "as-activity:g/a1", now)
        .unwrap();
    assert!(
        q.set_operation("trial:old", 1, "as-activity:g/a2", now)
            .is_err()
    );
    drop(q);
    let q = Queue::open(Some(&db), 60_000);
    assert_eq!(
        q.operation("trial:old", 1).unwrap().as_deref(),
        Some("as-activity:g/a1")
    );
    assert_eq!(
        q.get("trial:old", 1).unwrap().unwrap().state,
        State::Running
    );
}

/// The engine in-process, with a manual clock: the plan counts the group's instances
/// from the cloud (not from the config's guess, nor from containers), prices them from
/// the flavor list, and while the approved scale runs the snapshot carries the group's
/// instances and its activity.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_and_progress_come_from_the_groups_own_executor() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicI64, Ordering};
    use vigil::audit::Actor;
    use vigil::collect::host::HostCollector;
    use vigil::config::Config;
    use vigil::engine::{Clock, Command as Cmd, Engine, Source};
    // What the engine publishes is the protocol's board, not the queue's.
    use vigil::protocol::{Action, Risk, State};

    struct ManualClock(AtomicI64);
    impl Clock for ManualClock {
        fn now_ms(&self) -> i64 {
            self.0.load(Ordering::SeqCst)
        }
    }

    let fake = huawei_fake::start().await;
    fake.add_group(GROUP, "web", 1, 5, 3, 0);
    fake.state().apply_after = Duration::from_millis(1500);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let creds = dir.path().join("huawei.toml");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(&creds, format!("ak = \"{AK}\"\nsk = \"{SK}\"\n")).unwrap();
        std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    // Load far above one instance's capacity: the plan wants the group's maximum. The
    // instances' price comes from the flavor list, as an operator writes it.
    let loaded = vigil::config::load_str(
        &format!(
            r#"mode = "live"
currency = "¥"
[store]
path = "{d}/vigil.db"
[audit]
path = "{d}/audit.jsonl"
syslog = ""
[daemon]
brake = "{d}/brake"
socket = "{d}/vigil.sock"
[docker]
socket = "{d}/no-docker.sock"
[heal]
enabled = false
[huawei]
region = "cn-north-4"
project_id = "{PROJECT}"
endpoint = "{url}"
credentials_file = "{creds}"
poll = "100ms"
request_timeout = "5s"
[huawei.targets.web]
group_id = "{GROUP}"
flavor = "s6.large.2"
[huawei.targets.db]
server_id = "srv-db"
[[huawei.flavors]]
name = "s6.large.2"
price_per_hour = 0.35
[[scale]]
name = "web"
kind = "huawei-as-group"
metric = "mem_pct"
capacity = 0.01
instances = 1
min = 1
max = 5
ready_timeout = "30s"
[[scale]]
name = "db"
kind = "huawei-as-group"
metric = "mem_pct"
capacity = 0.01
instances = 1
min = 1
max = 1
resize_to = {{ name = "c7.xlarge.2", capacity = 0.02, price_per_hour = 0.8 }}
"#,
            url = fake.url(),
            creds = creds.display(),
        ),
        "config.toml",
    );
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    let c: Config = loaded.config;
    let clock = Arc::new(ManualClock(AtomicI64::new(
        chrono::Utc::now().timestamp_millis(),
    )));
    let (mut e, rx) = Engine::new(
        c,
        clock.clone(),
        Source::Host(Box::new(HostCollector::proc())),
        Vec::new(),
    );
    assert!(rx.borrow().notices.is_empty(), "{:?}", rx.borrow().notices);

    // A minute at a time until the plan proposes: it starts from the 3 in service.
    let mut pending = None;
    for _ in 0..8 {
        e.tick().await;
        while e.pump(Duration::from_millis(300)).await {}
        pending = rx
            .borrow()
            .board
            .iter()
            .find(|x| x.proposal.id == "scale:web" && x.state == State::Pending)
            .cloned();
        if pending.is_some() {
            break;
        }
        clock.0.fetch_add(60_000, Ordering::SeqCst);
    }
    let p = pending.unwrap_or_else(|| panic!("no proposal: {:?}", rx.borrow().board));
    assert_eq!((p.proposal.from, p.proposal.to), (3, 5), "{p:?}");
    // Two more instances of the flavor: what the proposal says it costs.
    assert_eq!(p.proposal.currency, "¥");
    assert!((p.proposal.cost_per_hour - 0.70).abs() < 1e-9, "{p:?}");
    // The server at its ceiling: a flavor change, which stops it. The engine makes it
    // a person's call, typed, and the proposal says why.
    let db = rx
        .borrow()
        .board
        .iter()
        .find(|x| x.proposal.id == "scale:db")
        .cloned()
        .unwrap_or_else(|| panic!("no resize proposal: {:?}", rx.borrow().board));
    assert!(
        matches!(db.proposal.action, Action::Resize { .. }),
        "{db:?}"
    );
    assert_eq!(db.proposal.risk, Risk::High);
    assert_eq!(
        db.proposal.manual.as_deref(),
        Some("downtime: the ECS server of db is stopped for the flavor change and started again")
    );

    e.command(Cmd::Approve {
        id: p.proposal.id.clone(),
        version: p.proposal.version,
        by: Actor {
            user: "ops".into(),
            ssh: None,
        },
        confirm: Some("web".into()),
    });
    // In flight: the snapshot shows the group's instances joining and the activity.
    let deadline = Instant::now() + Duration::from_secs(20);
    let seen = loop {
        e.tick().await;
        e.pump(Duration::from_millis(100)).await;
        let g = rx
            .borrow()
            .cloud
            .iter()
            .find(|g| g.target == "web")
            .cloned();
        if let Some(g) = g
            && g.instances.iter().any(|i| i.lifecycle == "PENDING")
        {
            break g;
        }
        assert!(
            Instant::now() < deadline,
            "no progress shown: {:?}",
            rx.borrow().cloud
        );
    };
    let states: Vec<&str> = seen
        .instances
        .iter()
        .map(|i| i.lifecycle.as_str())
        .collect();
    assert_eq!(
        states,
        ["INSERVICE", "INSERVICE", "INSERVICE", "PENDING", "PENDING"]
    );
    let act = seen.activity.expect("the activity");
    assert_eq!(
        (act.status.as_str(), act.from, act.to),
        ("DOING", Some(3), Some(5))
    );

    // Settled: verified, and the snapshot no longer shows a group in flight.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        e.tick().await;
        e.pump(Duration::from_millis(200)).await;
        let st = rx
            .borrow()
            .board
            .iter()
            .find(|x| x.proposal.id == "scale:web" && x.proposal.version == p.proposal.version)
            .map(|x| x.state);
        if st == Some(State::Verified) {
            break;
        }
        assert!(
            !matches!(st, Some(State::Failed | State::Unverified)),
            "{:?}",
            rx.borrow().board
        );
        assert!(
            Instant::now() < deadline,
            "never verified: {:?}",
            rx.borrow().board
        );
    }
    assert!(rx.borrow().cloud.is_empty(), "{:?}", rx.borrow().cloud);
    assert_eq!(fake.state().count(CHANGE.0, CHANGE.1), 1);
    assert_eq!(group(&fake), (5, in_service(5)));
}

/// A console in a real terminal (tmux), attached to the daemon.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn attach(host: &Host, w: u16, h: u16) -> Tmux {
        let ok = Command::new("tmux")
            .arg("-V")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        assert!(ok, "tmux is required for this test");
        let socket = format!("vigil-test-huawei-{}", std::process::id());
        let d = host.dir.path().display();
        let cmd = format!(
            "env HOME={d} XDG_CONFIG_HOME={d} XDG_DATA_HOME={d} XDG_STATE_HOME={d} XDG_RUNTIME_DIR={d} LANG=C.UTF-8 \
             {bin} --config {cfg}; echo VIGIL_EXITED:$?; sleep 60",
            bin = assert_cmd::cargo::cargo_bin("vigil").display(),
            cfg = host.cfg.display(),
        );
        let st = Command::new("tmux")
            .args(["-L", &socket, "-f", "/dev/null", "new-session", "-d"])
            .args(["-x", &w.to_string(), "-y", &h.to_string()])
            .arg(cmd)
            .env("TERM", "xterm-256color")
            .status()
            .unwrap();
        assert!(st.success());
        Tmux { socket }
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &str) {
        self.tmux(&["send-keys", keys]);
    }

    /// Waits until every one of `words` is on screen at once.
    fn wait_for(&self, words: &[&str]) -> String {
        let start = Instant::now();
        loop {
            let s = self.tmux(&["capture-pane", "-p"]);
            if words.iter().all(|w| s.contains(w)) {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "timed out waiting for {words:?}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

/// The operator's view of it: in a console attached to the daemon, `a` approves the
/// scale; while the activity runs the Actions view shows the group's instances joining
/// and the activity running; then the entry reads verified.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approved_in_the_console_the_group_is_shown_in_flight_then_verified() {
    let fake = huawei_fake::start().await;
    fake.add_group(GROUP, "web", 1, 5, 2, 0);
    fake.state().apply_after = Duration::from_secs(3);
    let host = Host::new(&fake, "5s");
    let _daemon = host.daemon();
    host.propose("trial:console", 2, 4);
    let t = Tmux::attach(&host, 120, 40);
    t.wait_for(&["[attached]"]);
    t.keys("3");
    t.wait_for(&["Approval queue", "pending", "web v1"]);
    t.keys("a");
    let s = t.wait_for(&["AS group in flight: web", "joining (PENDING)"]);
    assert!(s.contains("running (DOING) · 2 → 4"), "{s}");
    assert!(s.contains("in service (INSERVICE)"), "{s}");
    assert!(
        s.contains(&format!("following as-activity:{GROUP}/act-")),
        "{s}"
    );
    let s = t.wait_for(&["› verified"]);
    assert!(
        !s.contains("AS group in flight"),
        "over, not in flight: {s}"
    );
    assert_eq!(host.entry("trial:console").state, State::Verified);
    assert_eq!(fake.state().count(CHANGE.0, CHANGE.1), 1);
    assert_eq!(group(&fake), (4, in_service(4)));
    let trail = host.trail("trial:console");
    assert_eq!(
        kinds(&trail),
        ["decision", "intent", "accepted", "result", "verify"],
        "{trail:?}"
    );
    t.keys("q");
    t.wait_for(&["VIGIL_EXITED:0"]);
    host.audit_verifies();
}

/// A credentials file others can read: the engine refuses it, the header says why
/// (naming the file, never its contents), and the secret is nowhere on screen.
#[test]
fn a_credentials_file_others_can_read_is_refused_and_the_header_says_why() {
    use std::os::unix::fs::PermissionsExt;
    use vigil::engine::{Engine, Severity, Source, SystemClock};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let creds = dir.path().join("huawei.toml");
    std::fs::write(&creds, format!("ak = \"{AK}\"\nsk = \"{SK}\"\n")).unwrap();
    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o644)).unwrap();
    let loaded = vigil::config::load_str(
        &format!(
            r#"mode = "live"
[store]
path = "{d}/vigil.db"
[audit]
path = "{d}/audit.jsonl"
syslog = ""
[daemon]
brake = "{d}/brake"
socket = "{d}/vigil.sock"
[docker]
socket = "{d}/no-docker.sock"
[huawei]
region = "cn-north-4"
project_id = "{PROJECT}"
credentials_file = "{creds}"
[[scale]]
name = "web"
kind = "huawei-as-group"
metric = "mem_pct"
capacity = 1000000000.0
"#,
            creds = creds.display()
        ),
        "config.toml",
    );
    let (_engine, rx) = Engine::new(
        loaded.config,
        std::sync::Arc::new(SystemClock),
        Source::Host(Box::new(vigil::collect::host::HostCollector::proc())),
        Vec::new(),
    );
    let notices = rx.borrow().notices.clone();
    let want = format!(
        "Huawei Cloud cannot be reached: {}: readable by others than its owner (mode 644): \
         a credentials file must be the owner's only (chmod 600)",
        creds.display()
    );
    assert!(
        notices
            .iter()
            .any(|n| n.severity == Severity::Error && n.text == want),
        "{notices:?}"
    );
    assert!(!format!("{notices:?}").contains(SK));
}
