//! The always-on engine as operators and scripts meet it: `vigil daemon` owns the host,
//! every other process is a client through its socket, and the socket survives clients
//! that misbehave.

mod common;

use common::docker;
use futures::{SinkExt, StreamExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use vigil::protocol::{self, ClientMsg, ServerMsg};

const BIN: &str = env!("CARGO_BIN_EXE_vigil");

/// A daemon with every file it writes in its own folder.
struct Daemon {
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl Daemon {
    fn config(dir: &Path, extra: &str) -> PathBuf {
        let d = dir.display();
        let cfg = dir.join("config.toml");
        std::fs::write(
            &cfg,
            format!(
                "interval = \"250ms\"\n{extra}\n[store]\npath = \"{d}/vigil.db\"\n\
                 [audit]\npath = \"{d}/audit.jsonl\"\nsyslog = \"\"\n\
                 [daemon]\nsocket = \"{d}/run/vigil.sock\"\nbrake = \"{d}/brake\"\n\
                 [log]\ndir = \"{d}/logs\"\n[heal]\nlabel = \"{label}\"\n",
                label = heal_label()
            ),
        )
        .unwrap();
        cfg
    }

    fn start(extra: &str) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        Daemon::config(dir.path(), extra);
        let mut d = Daemon { child: None, dir };
        d.spawn();
        d
    }

    fn spawn(&mut self) {
        let child = self
            .vigil()
            .arg("daemon")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        // Its socket, not a command: with no daemon, `vigil proposals` would become the
        // engine itself for a moment.
        let start = Instant::now();
        while std::os::unix::net::UnixStream::connect(self.socket()).is_err() {
            if let Some(st) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("the daemon exited: {st:?}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the daemon did not answer on its socket"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn vigil(&self) -> Command {
        let mut c = Command::new(BIN);
        let d = self.dir.path();
        c.arg("--config")
            .arg(d.join("config.toml"))
            .env("XDG_CONFIG_HOME", d.join("xdg-config"))
            .env("XDG_DATA_HOME", d.join("xdg-data"))
            .env("XDG_STATE_HOME", d.join("xdg-state"))
            .env("XDG_RUNTIME_DIR", d.join("xdg-run"))
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.vigil().args(args).output().unwrap()
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("run/vigil.sock")
    }

    fn audit(&self) -> PathBuf {
        self.dir.path().join("audit.jsonl")
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.pid().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    /// SIGTERM, and the exit status once it has stopped.
    fn stop(&mut self) -> std::process::ExitStatus {
        self.signal("TERM");
        let mut child = self.child.take().unwrap();
        let start = Instant::now();
        loop {
            if let Some(st) = child.try_wait().unwrap() {
                return st;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the daemon did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn proposals(&self) -> Vec<vigil::protocol::Entry> {
        let out = self.run(&["proposals", "--json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Waits for a pending proposal with this id.
    fn pending(&self, id: &str) -> vigil::protocol::Entry {
        let start = Instant::now();
        loop {
            if let Some(e) = self
                .proposals()
                .into_iter()
                .find(|e| e.proposal.id == id && e.state == vigil::protocol::State::Pending)
            {
                return e;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no pending {id}: {:?}",
                self.proposals()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn audit_kinds(path: &Path) -> Vec<(String, String)> {
    vigil::audit::read_records(path)
        .unwrap_or_default()
        .into_iter()
        .map(|(r, _)| (r.kind, r.actor.user))
        .collect()
}

/// This binary's own heal label: other test binaries on the same Docker engine watch
/// theirs, so no daemon here heals (or races for) another test's containers.
fn heal_label() -> String {
    format!("vigil.heal.d{}", std::process::id())
}

/// A stopped container vigil watches (the heal label), removed when dropped.
struct Exited(String);

impl Exited {
    fn new(tag: &str) -> Exited {
        let name = format!("vd-{tag}-{}", std::process::id());
        let _ = Command::new("docker").args(["rm", "-f", &name]).output();
        docker(&[
            "run",
            "-d",
            "--name",
            &name,
            "--label",
            &format!("{}=1", heal_label()),
            common::IMAGE,
        ]);
        Exited(name)
    }

    fn kill(&self) {
        docker(&["kill", &self.0]);
    }

    fn state(&self) -> String {
        docker(&["inspect", "-f", "{{.State.Status}}", &self.0])
    }
}

impl Drop for Exited {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", &self.0]).output();
    }
}

#[test]
fn a_second_engine_is_refused_and_told_who_owns_the_host() {
    let mut d = Daemon::start("");
    let out = d.run(&["daemon"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("pid {} (daemon", d.pid())),
        "names the holder: {err}"
    );
    assert!(d.stop().success());
}

/// `vigil daemon` becomes the lean engine binary installed beside it, in the same
/// process (systemd and scripts keep the pid they started), with the command line's
/// choices carried over.
#[test]
fn the_daemon_runs_as_the_lean_engine_binary_in_the_same_process() {
    let mut d = Daemon::start("");
    let exe = std::fs::read_link(format!("/proc/{}/exe", d.pid())).unwrap();
    assert_eq!(
        exe.file_name().and_then(|n| n.to_str()),
        Some("vigil-daemon"),
        "the process that answers on the socket: {}",
        exe.display()
    );
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", d.pid())).unwrap();
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let config = d.dir.path().join("config.toml").display().to_string();
    assert!(
        args.windows(2)
            .any(|w| w[0] == "--config" && w[1] == config),
        "the config named to `vigil daemon` is the one the engine reads: {args:?}"
    );
    assert!(d.stop().success());
}

#[test]
fn two_clients_approve_the_same_proposal_at_once_and_exactly_one_wins() {
    let d = Daemon::start("");
    let c = Exited::new("race");
    c.kill();
    let id = format!("heal:{}", c.0);
    let e = d.pending(&id);
    let v = e.proposal.version.to_string();
    let racers: Vec<Child> = (0..2)
        .map(|_| {
            d.vigil()
                .args(["approve", &id, "--version", &v])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outs: Vec<Output> = racers
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let mut codes: Vec<i32> = outs.iter().map(|o| o.status.code().unwrap_or(-1)).collect();
    codes.sort();
    assert_eq!(
        codes,
        vec![0, 5],
        "one approval wins, the other is refused: {:?}",
        outs.iter().map(stderr).collect::<Vec<_>>()
    );
    let loser = outs.iter().find(|o| o.status.code() == Some(5)).unwrap();
    assert!(
        stderr(loser).contains("not waiting for an answer"),
        "the loser is told why: {}",
        stderr(loser)
    );
    let decisions = audit_kinds(&d.audit())
        .into_iter()
        .filter(|(k, _)| k == "decision")
        .count();
    assert_eq!(decisions, 1, "one decision in the audit log");
    // Shadow mode (the default): recorded as what would have run, nothing ran.
    assert_eq!(c.state(), "exited");

    // A stale version decides nothing, and says so with its own exit code.
    let out = d.run(&["approve", &id, "--version", "99"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let out = d.run(&["reject", "heal:nothing-like-this"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

type Raw =
    tokio_util::codec::Framed<tokio::net::UnixStream, tokio_util::codec::LengthDelimitedCodec>;

async fn raw(socket: &Path) -> Raw {
    let s = tokio::net::UnixStream::connect(socket).await.unwrap();
    tokio_util::codec::Framed::new(s, protocol::codec(protocol::MAX_SERVER_FRAME))
}

async fn hello(conn: &mut Raw) {
    let h = ClientMsg::Hello {
        protocol: protocol::PROTOCOL,
        version: "test".into(),
        subscribe: false,
    };
    conn.send(protocol::encode(&h)).await.unwrap();
    let first = conn.next().await.unwrap().unwrap();
    assert!(matches!(
        protocol::decode_server(&first),
        Ok(ServerMsg::Welcome { .. })
    ));
}

#[test]
fn the_audit_names_the_peer_from_its_credentials_not_from_what_it_claims() {
    let d = Daemon::start("");
    let c = Exited::new("who");
    c.kill();
    let id = format!("heal:{}", c.0);
    let e = d.pending(&id);
    let me = vigil::audit::Actor::for_uid(rustix::process::getuid().as_raw()).user;
    let reply = runtime().block_on(async {
        let mut conn = raw(&d.socket()).await;
        hello(&mut conn).await;
        let call = ClientMsg::Call {
            id: 7,
            command: vigil::protocol::Command::Reject {
                id: id.clone(),
                version: e.proposal.version,
                by: vigil::audit::Actor {
                    user: "mallory".into(),
                    ssh: Some("203.0.113.9:1".into()),
                },
                reason: None,
            },
        };
        conn.send(protocol::encode(&call)).await.unwrap();
        loop {
            let f = conn.next().await.unwrap().unwrap();
            if let Ok(ServerMsg::Reply { id: 7, reply }) = protocol::decode_server(&f) {
                return reply;
            }
        }
    });
    assert!(
        matches!(&reply, vigil::protocol::Reply::Decided { state, .. } if state == "rejected"),
        "{reply:?}"
    );
    let decisions: Vec<(String, String)> = audit_kinds(&d.audit())
        .into_iter()
        .filter(|(k, _)| k == "decision")
        .collect();
    assert_eq!(decisions, vec![("decision".to_string(), me)]);
    let log = std::fs::read_to_string(d.audit()).unwrap();
    assert!(!log.contains("mallory"), "the claimed name is not recorded");
}

#[test]
fn garbage_half_frames_and_oversized_frames_leave_the_daemon_and_other_consoles_unhurt() {
    let d = Daemon::start("");
    let rt = runtime();
    rt.block_on(async {
        let socket = d.socket();
        let session = protocol::client::connect(&socket, true).await.unwrap();
        let handle = protocol::client::attach(socket.clone(), session);
        let mut rx = handle.snapshots.clone();
        let watcher = tokio::spawn(async move {
            let mut seen = 0u32;
            let mut last = 0u64;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(6);
            while tokio::time::timeout_at(deadline, rx.changed())
                .await
                .is_ok()
            {
                let s = rx.borrow_and_update().clone();
                assert!(
                    matches!(s.link, vigil::protocol::Link::Attached { .. }),
                    "the attached console lost its engine: {:?}",
                    s.link
                );
                assert!(s.seq >= last, "seq went back: {} after {last}", s.seq);
                last = s.seq;
                seen += 1;
            }
            seen
        });
        for round in 0..20u32 {
            let mut s = tokio::net::UnixStream::connect(&socket).await.unwrap();
            use tokio::io::AsyncWriteExt;
            let junk: Vec<u8> = match round % 5 {
                // Not even a frame.
                0 => b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
                // A frame announcing 4 GiB.
                1 => vec![0xff, 0xff, 0xff, 0xff, b'{'],
                // Half a frame, then silence.
                2 => [100u32.to_be_bytes().as_slice(), b"{\"type\":"].concat(),
                // Valid frames of nonsense JSON.
                3 => [5u32.to_be_bytes().as_slice(), b"{{{{{"].concat(),
                // A hello, then garbage calls.
                _ => {
                    let h = serde_json::to_vec(&ClientMsg::Hello {
                        protocol: protocol::PROTOCOL,
                        version: "x".into(),
                        subscribe: true,
                    })
                    .unwrap();
                    let bad = b"{\"type\":\"call\",\"id\":1,\"command\":\"Explode\"}";
                    let mut v = (h.len() as u32).to_be_bytes().to_vec();
                    v.extend(h);
                    for _ in 0..40 {
                        v.extend((bad.len() as u32).to_be_bytes());
                        v.extend(bad);
                    }
                    v
                }
            };
            let _ = s.write_all(&junk).await;
            if round % 5 != 2 {
                drop(s);
            } else {
                // Keep the half frame hanging for a while.
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    drop(s);
                });
            }
        }
        let seen = watcher.await.unwrap();
        assert!(seen >= 5, "the console kept receiving changes ({seen})");
    });
    // And the daemon still answers.
    let out = d.run(&["proposals"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_client_of_another_protocol_version_gets_a_readable_refusal() {
    let d = Daemon::start("");
    let reason = runtime().block_on(async {
        let mut conn = raw(&d.socket()).await;
        let newer = serde_json::json!({"type": "hello", "protocol": 99, "version": "9.9.9", "features": ["x"]});
        conn.send(bytes::Bytes::from(serde_json::to_vec(&newer).unwrap()))
            .await
            .unwrap();
        let f = conn.next().await.unwrap().unwrap();
        match protocol::decode_server(&f) {
            Ok(ServerMsg::Refused { reason, .. }) => reason,
            other => panic!("expected a refusal, got {other:?}"),
        }
    });
    assert!(
        reason.contains("speaks protocol 1")
            && reason.contains("vigil 9.9.9")
            && reason.contains("99"),
        "{reason}"
    );
}

#[test]
fn sighup_with_a_bad_config_keeps_the_running_one_and_sigterm_stops_cleanly() {
    let mut d = Daemon::start("");
    let cfg = d.dir.path().join("config.toml");
    let good = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        format!(
            "interval = 5\n{}",
            good.replacen("interval = \"250ms\"\n", "", 1)
        ),
    )
    .unwrap();
    d.signal("HUP");
    let start = Instant::now();
    while !audit_kinds(&d.audit()).iter().any(|(k, _)| k == "reload") {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the reload was not audited"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let tail = d.run(&["audit", "tail", "--path", d.audit().to_str().unwrap()]);
    let tail = String::from_utf8_lossy(&tail.stdout).into_owned();
    assert!(tail.contains("config reload refused"), "{tail}");
    assert!(tail.contains("interval"), "says why: {tail}");
    assert!(d.run(&["proposals"]).status.success(), "still serving");
    // A good config that also moves the audit log: applied, but the log stays where the
    // running daemon has it (and says a restart is needed), so no record is lost.
    let moved = good.replacen("audit.jsonl", "elsewhere.jsonl", 1);
    assert_ne!(moved, good);
    std::fs::write(&cfg, &moved).unwrap();
    d.signal("HUP");
    let start = Instant::now();
    while audit_kinds(&d.audit())
        .iter()
        .filter(|(k, _)| k == "reload")
        .count()
        < 2
    {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the good reload was not audited"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let tail = d.run(&["audit", "tail", "--path", d.audit().to_str().unwrap()]);
    let tail = String::from_utf8_lossy(&tail.stdout).into_owned();
    assert!(
        tail.contains(
            "config reloaded; audit.path changed and need a restart (the running ones stay)"
        ),
        "{tail}"
    );
    assert!(!d.dir.path().join("elsewhere.jsonl").exists());
    let socket = d.socket();
    let st = d.stop();
    assert!(st.success(), "{st:?}");
    assert!(!socket.exists(), "the socket is removed on the way out");
    assert!(vigil::audit::verify(&d.audit()).is_ok());
}

#[test]
fn status_on_a_host_with_a_dead_watched_container_writes_nothing_and_starts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Daemon::config(
        dir.path(),
        "mode = \"live\"\n[approve]\nauto = [\"restart\"]",
    );
    let c = Exited::new("status");
    c.kill();
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&cfg)
        .args(["status", "--json"])
        .env("XDG_STATE_HOME", dir.path().join("xdg-state"))
        .env("XDG_DATA_HOME", dir.path().join("xdg-data"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let snap: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        snap["containers"]
            .as_array()
            .is_some_and(|l| l.iter().any(|x| x["name"] == c.0.as_str())),
        "status sees the container"
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(c.state(), "exited", "nothing was restarted");
    assert!(!dir.path().join("audit.jsonl").exists(), "no audit record");
    assert!(
        !dir.path().join("vigil.db").exists(),
        "no queue, no history"
    );
    assert!(!dir.path().join("run/vigil.sock").exists(), "no engine");
}
