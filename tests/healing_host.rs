//! The host-wide checks of the healing loop, end to end on a live engine: a certificate
//! file about to expire is renewed by its playbook's configured command and verified
//! by its days left; a connection table near its limit (a /proc fixture the test owns)
//! opens an incident that verifies once the table empties; a busy process the test
//! spawns is reported with its pid, name and share, never killed, and verified once a
//! person (the test) stops it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use vigil::collect::host::HostCollector;
use vigil::config::{Config, Mode};
use vigil::engine::{Engine, Snapshot, Source, SystemClock};
use vigil::protocol::{IncidentState, IncidentView, StepState};

mod common;

/// A live config with everything it writes in `dir`, every host check off (each test
/// switches on its own), no container of another test watched, and the user's
/// playbooks (if any) in `dir/playbooks`.
fn config(dir: &Path) -> Config {
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
    c.heal.host_disk = false;
    c.heal.label = format!("vigil.heal.host{}", std::process::id());
    c.heal.connections.enabled = false;
    c.heal.cpu.enabled = false;
    c.playbooks.dir = Some(dir.join("playbooks"));
    c
}

fn engine(c: Config) -> (Engine, tokio::sync::watch::Receiver<Snapshot>) {
    Engine::new(
        c,
        Arc::new(SystemClock),
        Source::Host(Box::new(HostCollector::proc())),
        Vec::new(),
    )
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
            "{what}: not within {secs} s; incidents: {:#?}\nnotices: {:#?}",
            rx.borrow().incidents,
            rx.borrow().notices
        );
    }
}

fn on<'a>(s: &'a Snapshot, target: &str) -> Vec<&'a IncidentView> {
    s.incidents.iter().filter(|i| i.target == target).collect()
}

fn one(s: &Snapshot, target: &str, state: IncidentState) -> Option<IncidentView> {
    on(s, target)
        .into_iter()
        .find(|i| i.state == state)
        .cloned()
}

fn value(i: &IncidentView, name: &str) -> Option<f64> {
    i.evidence.iter().find(|e| e.name == name).map(|e| e.value)
}

/// A self-signed certificate for `cn`, valid for `days`, by the openssl CLI.
fn cert(dir: &Path, file: &str, cn: &str, days: u32) -> PathBuf {
    let out = dir.join(file);
    let key = dir.join(format!("{file}.key"));
    let st = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:P-256", "-nodes", "-days"])
        .arg(days.to_string())
        .args(["-subj", &format!("/CN={cn}"), "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&out)
        .output()
        .expect("the openssl CLI runs");
    assert!(
        st.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&st.stderr)
    );
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_expiring_in_3_days_is_renewed_and_verified_a_years_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let soon = cert(d, "soon.pem", "soon.test", 3);
    let year = cert(d, "year.pem", "year.test", 365);
    let fresh = cert(d, "fresh.pem", "soon.test", 90);
    let broken = d.join("broken.pem");
    std::fs::write(&broken, "not a certificate").unwrap();
    // A DER copy of the long-lived one: read as well as PEM.
    let der = d.join("year.der");
    let st = Command::new("openssl")
        .args(["x509", "-outform", "DER", "-in"])
        .arg(&year)
        .arg("-out")
        .arg(&der)
        .status()
        .unwrap();
    assert!(st.success());
    let mut c = config(d);
    c.heal.certs.files = vec![soon.clone(), year.clone(), der.clone(), broken.clone()];
    c.heal.certs.every = Duration::from_secs(1);
    // The renewal is a copy of a fresh certificate over the old one, allowed unattended.
    c.playbooks.auto = vec!["renew-cert".into()];
    c.playbooks.commands.insert(
        "certbot-renew".into(),
        vec![
            "/bin/cp".into(),
            fresh.display().to_string(),
            soon.display().to_string(),
        ],
    );
    let (mut e, rx) = engine(c);
    let shown = soon.display().to_string();
    let s = until(&mut e, &rx, "resolved", 60, |s| {
        one(s, &shown, IncidentState::Resolved).is_some()
    })
    .await;
    let i = one(&s, &shown, IncidentState::Resolved).unwrap();
    assert_eq!(i.trigger, "cert-expiring");
    assert_eq!(i.playbook.as_deref(), Some("expiring-certificate"));
    let left = value(&i, "cert_days_left").unwrap();
    assert!((2.9..=3.0).contains(&left), "days left {left}");
    assert_eq!(value(&i, "days"), Some(14.0));
    assert_eq!(
        i.diagnosis,
        vec![format!(
            "the certificate CN=soon.test in {shown} expires in 3.0 days"
        )]
    );
    let steps: Vec<(&str, StepState)> =
        i.steps.iter().map(|s| (s.name.as_str(), s.state)).collect();
    assert_eq!(
        steps,
        [
            ("renew-cert", StepState::Done),
            ("notify", StepState::Skipped)
        ]
    );
    let v = i.verify.clone().unwrap();
    assert_eq!(v.passed, Some(true));
    assert!(v.before.is_some_and(|b| b < 3.01), "{v:?}");
    assert!(v.last.is_some_and(|l| l > 89.0), "{v:?}");
    // The year-long certificates (PEM and DER) open nothing; the broken file is a
    // notice naming it, not an incident.
    for quiet in [&year, &der, &broken] {
        assert!(on(&s, &quiet.display().to_string()).is_empty(), "{quiet:?}");
    }
    assert_eq!(s.incidents.len(), 1, "{:#?}", s.incidents);
    let notice = s
        .notices
        .iter()
        .find(|n| n.text.contains("heal.certs"))
        .expect("a notice for the broken file");
    assert!(
        notice.text.contains(&format!(
            "heal.certs: {}: neither PEM nor a DER certificate",
            broken.display()
        )),
        "{}",
        notice.text
    );
}

/// `openssl s_server` presenting a certificate on a free local port, stopped when the
/// test ends.
struct TlsServer(std::process::Child, u16);

impl TlsServer {
    fn start(cert: &Path) -> TlsServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let key = cert.with_file_name(format!(
            "{}.key",
            cert.file_name().unwrap().to_string_lossy()
        ));
        let child = Command::new("openssl")
            .args(["s_server", "-quiet", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(cert)
            .arg("-key")
            .arg(key)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("openssl s_server runs");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "s_server did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        TlsServer(child, port)
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_presenting_a_certificate_near_expiry_opens_an_incident() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let soon = TlsServer::start(&cert(d, "ep-soon.pem", "ep-soon.test", 5));
    let year = TlsServer::start(&cert(d, "ep-year.pem", "ep-year.test", 365));
    let (near, far) = (
        format!("127.0.0.1:{}", soon.1),
        format!("127.0.0.1:{}", year.1),
    );
    let mut c = config(d);
    c.heal.certs.endpoints = vec![near.clone(), far.clone()];
    // Renewal is a person's here: the incident waits for one.
    let (mut e, rx) = engine(c);
    let s = until(&mut e, &rx, "open", 30, |s| !on(s, &near).is_empty()).await;
    let i = on(&s, &near)[0].clone();
    assert_eq!(i.trigger, "cert-expiring");
    assert_eq!(i.state, IncidentState::Open);
    assert_eq!(i.playbook.as_deref(), Some("expiring-certificate"));
    let left = value(&i, "cert_days_left").unwrap();
    assert!((4.9..=5.0).contains(&left), "days left {left}");
    assert_eq!(
        i.diagnosis,
        vec![format!(
            "the certificate CN=ep-soon.test at {near} expires in 5.0 days"
        )]
    );
    assert_eq!(i.awaiting.as_deref(), Some("renew-cert"));
    assert!(on(&s, &far).is_empty(), "{:#?}", s.incidents);
}

/// The connection tables of a fake /proc the test owns.
fn tables(root: &Path, conntrack: u64) {
    let w = |rel: &str, text: String| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    w(
        "net/sockstat",
        "sockets: used 40\nTCP: inuse 12 orphan 0 tw 3 alloc 14 mem 2\n".into(),
    );
    w(
        "sys/net/netfilter/nf_conntrack_count",
        format!("{conntrack}\n"),
    );
    w("sys/net/netfilter/nf_conntrack_max", "1000\n".into());
    w("sys/net/ipv4/tcp_max_orphans", "4096\n".into());
    w("sys/net/ipv4/tcp_max_tw_buckets", "4096\n".into());
}

/// Tells a person, then verifies by the table's fill (the built-in one scales a target
/// out, which a host without scale targets does not have).
const TELL_CONNECTIONS: &str = r#"
name = "tell-connections"
description = "tell a person the table is full"
trigger = "connections-exhausted"
risk = "L2"

[[steps]]
do = "notify"
message = "the connection table is nearly full"

[verify]
metric = "connections_pct"
improves_by = "20%"
within = "1m"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_table_near_its_limit_opens_an_incident_verified_when_it_empties() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let root = d.join("proc");
    tables(&root, 950);
    std::fs::create_dir_all(d.join("playbooks")).unwrap();
    std::fs::write(d.join("playbooks/tell.toml"), TELL_CONNECTIONS).unwrap();
    let mut c = config(d);
    c.heal.connections.enabled = true;
    c.heal.connections.proc_root = root.clone();
    c.heal.connections.every = Duration::from_millis(500);
    let (mut e, rx) = engine(c);
    let s = until(&mut e, &rx, "verifying", 30, |s| {
        one(s, "conntrack", IncidentState::Verifying).is_some()
    })
    .await;
    let i = one(&s, "conntrack", IncidentState::Verifying).unwrap();
    assert_eq!(i.trigger, "connections-exhausted");
    assert_eq!(i.playbook.as_deref(), Some("tell-connections"));
    assert_eq!(value(&i, "connections_pct"), Some(95.0));
    assert_eq!(value(&i, "limit"), Some(1000.0));
    assert_eq!(value(&i, "tcp_inuse"), Some(12.0));
    assert_eq!(
        i.diagnosis,
        vec![
            "the connection-tracking table at 950 of 1000 (95%): past the limit the kernel drops new connections"
        ]
    );
    assert_eq!(i.steps[0].state, StepState::Done);
    // The TCP tables are far from their limits: no incident for them.
    assert!(on(&s, "tcp-orphans").is_empty() && on(&s, "tcp-timewait").is_empty());
    tables(&root, 300);
    let s = until(&mut e, &rx, "resolved", 30, |s| {
        one(s, "conntrack", IncidentState::Resolved).is_some()
    })
    .await;
    let i = one(&s, "conntrack", IncidentState::Resolved).unwrap();
    assert_eq!(
        i.reason.as_deref(),
        Some("verified: connections_pct 95.0 → 30.0 (connections_pct must fall by 20% within 1m)")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_its_scale_target_a_full_table_proposes_a_scale_out_for_a_person() {
    use vigil::config::ScaleTarget;
    use vigil::protocol::Action;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let g = format!("vhh-conn-{}", std::process::id());
    let _c = common::Cleanup(g.clone());
    common::start_member(&g, 1);
    let root = d.join("proc");
    tables(&root, 990);
    let mut c = config(d);
    c.heal.connections.enabled = true;
    c.heal.connections.proc_root = root;
    c.heal.connections.every = Duration::from_millis(500);
    c.heal.connections.scale_target = Some(g.clone());
    // No reason for the planner to scale it: only the incident asks.
    c.scale.push(ScaleTarget {
        metric: "mem_pct".into(),
        capacity: 1e9,
        instances: 1,
        max: 3,
        ..common::test_group(&g)
    });
    let (mut e, rx) = engine(c);
    let s = until(&mut e, &rx, "proposed", 30, |s| {
        on(s, &g).iter().any(|i| {
            i.steps
                .first()
                .is_some_and(|st| st.state == StepState::Proposed)
        })
    })
    .await;
    let i = on(&s, &g)[0].clone();
    assert_eq!(i.trigger, "connections-exhausted");
    assert_eq!(i.playbook.as_deref(), Some("exhausted-connections"));
    assert_eq!(value(&i, "connections_pct"), Some(99.0));
    assert_eq!(i.state, IncidentState::Fixing);
    let id = format!("heal:{g}");
    let p = s
        .board
        .iter()
        .find(|x| x.proposal.id == id)
        .expect("the heal's proposal is on the board");
    assert_eq!(p.state, vigil::protocol::State::Pending);
    assert_eq!(
        p.proposal.action,
        Action::Scale {
            target: g.clone(),
            to: 2
        }
    );
    assert_eq!(
        p.proposal.manual.as_deref(),
        Some("playbook exhausted-connections is L3: a person decides")
    );
    // Nobody approved: nothing was started.
    assert_eq!(common::running(&g), vec![format!("{g}-1")]);
}

/// A busy loop the test owns, killed when the test ends (passed or not).
struct Busy(std::process::Child);

impl Drop for Busy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runaway_process_is_reported_with_pid_name_and_share_and_never_killed() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.heal.cpu.enabled = true;
    // Low enough that the loop reaches it on a machine shared with builds; other busy
    // processes may open their own incidents, which this test does not look at.
    c.heal.cpu.threshold_pct = 30.0;
    c.heal.cpu.duration = Duration::from_secs(3);
    c.heal.cpu.every = Duration::from_millis(500);
    c.heal.max_fixes = 64;
    let mut busy = Busy(
        Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .unwrap(),
    );
    let pid = busy.0.id();
    let target = format!("sh[{pid}]");
    let (mut e, rx) = engine(c);
    let s = until(&mut e, &rx, "verifying", 60, |s| {
        one(s, &target, IncidentState::Verifying).is_some()
    })
    .await;
    let i = one(&s, &target, IncidentState::Verifying).unwrap();
    assert_eq!(i.trigger, "cpu-runaway");
    assert_eq!(i.playbook.as_deref(), Some("runaway-cpu"));
    assert_eq!(value(&i, "pid"), Some(pid as f64));
    let share = value(&i, "process_cpu_pct").unwrap();
    assert!(share >= 30.0, "share {share}");
    assert!(value(&i, "busy_min").is_some_and(|m| m >= 0.05));
    assert!(
        i.diagnosis[0].starts_with(&format!("process sh (pid {pid}) has held ")),
        "{:?}",
        i.diagnosis
    );
    let steps: Vec<(&str, StepState)> =
        i.steps.iter().map(|s| (s.name.as_str(), s.state)).collect();
    assert_eq!(
        steps,
        [("notify", StepState::Done), ("notify", StepState::Waiting)]
    );
    // vigil told, and did not kill it.
    assert_eq!(busy.0.try_wait().unwrap(), None);
    // A person stops it: the verification sees its CPU fall.
    busy.0.kill().unwrap();
    busy.0.wait().unwrap();
    let s = until(&mut e, &rx, "resolved", 30, |s| {
        one(s, &target, IncidentState::Resolved).is_some()
    })
    .await;
    let i = one(&s, &target, IncidentState::Resolved).unwrap();
    assert!(
        i.reason
            .as_deref()
            .is_some_and(|r| r.starts_with("verified: process_cpu_pct ")
                && r.ends_with(" → 0.0 (process_cpu_pct must fall by 50% within 30m)")),
        "{:?}",
        i.reason
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_this_host_the_units_check_opens_nothing_and_shows_no_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.heal.units.enabled = true;
    c.heal.units.every = Duration::from_millis(200);
    let (mut e, rx) = engine(c);
    // Several cadences: without systemd it is said once (in the log) and asked no more;
    // with it, failed units would open incidents, and none is an error.
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        e.tick().await;
        e.pump(Duration::from_millis(200)).await;
    }
    let s = rx.borrow().clone();
    assert!(
        s.notices.iter().all(|n| !n.text.contains("heal.units")),
        "{:#?}",
        s.notices
    );
    if !Path::new("/run/systemd/system").is_dir() {
        assert!(s.incidents.is_empty(), "{:#?}", s.incidents);
    } else {
        assert!(s.incidents.iter().all(|i| i.trigger == "unit-failed"));
    }
}
