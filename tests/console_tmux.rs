//! The built binary in a real terminal (tmux): an operator's keys, resizes and signals.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    socket: String,
    _dirs: tempfile::TempDir,
}

impl Tmux {
    /// Starts vigil in a detached tmux session, with its own XDG folders so the test
    /// neither reads nor writes the user's.
    fn start(name: &str, args: &str, w: u16, h: u16) -> Tmux {
        let ok = Command::new("tmux")
            .arg("-V")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        assert!(
            ok,
            "tmux is required for this test: install it (the README's test command does)"
        );
        let dirs = tempfile::tempdir().unwrap();
        let d = dirs.path().display();
        let socket = format!("vigil-test-{name}-{}", std::process::id());
        let bin = env!("CARGO_BIN_EXE_vigil");
        let cmd = format!(
            "env XDG_CONFIG_HOME={d}/config XDG_DATA_HOME={d}/data XDG_STATE_HOME={d}/state XDG_RUNTIME_DIR={d}/run LANG=C.UTF-8 \
             {bin} --interval 200ms {args}; echo VIGIL_EXITED:$?; sleep 60"
        );
        let status = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-x",
                &w.to_string(),
                "-y",
                &h.to_string(),
            ])
            .arg(cmd)
            .env("TERM", "xterm-256color")
            .status()
            .unwrap();
        assert!(status.success());
        Tmux {
            socket,
            _dirs: dirs,
        }
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

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p"])
    }

    fn keys(&self, keys: &str) {
        self.tmux(&["send-keys", keys]);
    }

    fn wait_for(&self, what: &str) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(what) {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "timed out waiting for {what:?}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn data_dir(&self) -> &Path {
        self._dirs.path()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

#[test]
fn help_opens_and_q_quits_leaving_the_terminal_as_it_was() {
    let t = Tmux::start("help", "", 100, 30);
    t.wait_for("1 Overview");
    let s = t.wait_for("CPU · last hour");
    assert!(s.contains("SHADOW"), "{s}");
    t.keys("?");
    let s = t.wait_for("Esc or ? closes this help");
    assert!(s.contains("pause or resume sampling"), "{s}");
    t.keys("Escape");
    let start = Instant::now();
    while t.screen().contains("closes this help") {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "Esc did not close the help"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    t.keys("q");
    let s = t.wait_for("VIGIL_EXITED:0");
    assert!(
        !s.contains("CPU · last hour"),
        "the alternate screen was left: {s}"
    );
    assert_eq!(
        t.tmux(&["display", "-p", "#{alternate_on} #{cursor_flag}"])
            .trim(),
        "0 1",
        "terminal restored"
    );
    // The history was written to the XDG data folder, and the log to the state folder.
    assert!(t.data_dir().join("data/vigil/vigil.db").exists());
    assert!(
        std::fs::read_dir(t.data_dir().join("state/vigil/logs"))
            .unwrap()
            .next()
            .is_some()
    );
}

#[test]
fn a_small_terminal_gets_a_message_and_a_resize_brings_the_overview_back() {
    let t = Tmux::start("resize", "--lang zh-CN", 100, 30);
    t.wait_for("概览");
    t.tmux(&["resize-window", "-x", "70", "-y", "20"]);
    t.wait_for("终端窗口太小");
    t.tmux(&["resize-window", "-x", "120", "-y", "40"]);
    let s = t.wait_for("文件系统");
    assert!(s.contains("影子模式"), "{s}");
    t.keys("C-c");
    t.wait_for("VIGIL_EXITED:0");
}

#[test]
fn sigterm_restores_the_terminal() {
    let t = Tmux::start("term", "", 100, 30);
    t.wait_for("1 Overview");
    let pid = t.tmux(&["display", "-p", "#{pane_pid}"]);
    // The pane runs a shell; vigil is its child.
    let out = Command::new("pgrep")
        .args(["-P", pid.trim(), "vigil"])
        .output()
        .unwrap();
    let vigil_pid = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        !vigil_pid.is_empty(),
        "vigil's pid not found under the pane's shell"
    );
    Command::new("kill")
        .args(["-TERM", &vigil_pid])
        .status()
        .unwrap();
    t.wait_for("VIGIL_EXITED:0");
    assert_eq!(
        t.tmux(&["display", "-p", "#{alternate_on} #{cursor_flag}"])
            .trim(),
        "0 1"
    );
}

#[test]
fn a_replay_shows_forecasts_from_the_first_frame() {
    let trace = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/traces/ec2_cpu_utilization_ac20cd.csv"
    );
    let t = Tmux::start("replay", &format!("--replay {trace} --speed 60"), 120, 40);
    t.wait_for("source replay ec2_cpu_utilization_ac20cd.csv");
    t.keys("2");
    let s = t.wait_for("P90 in 15 min");
    assert!(
        s.contains("no data from this source"),
        "memory is absent in a replay: {s}"
    );
    t.keys("q");
    t.wait_for("VIGIL_EXITED:0");
}

/// An operator's heal, as they live it: a member of a group dies, the proposal shows
/// up, `a` approves it, the screen says restarted and verified, and the engine agrees.
#[test]
fn a_dead_member_is_proposed_approved_with_a_key_restarted_and_verified() {
    let group = format!("vt-tmux-{}", std::process::id());
    let member = format!("{group}-1");
    let docker = |args: &[&str]| {
        let o = Command::new("docker")
            .args(args)
            .output()
            .expect("docker CLI");
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    let _ = docker(&["rm", "-f", &member]);
    let id = docker(&[
        "run",
        "-d",
        "--name",
        &member,
        "--label",
        &format!("vigil.group={group}"),
        "vigil-test:latest",
    ]);
    assert!(
        !id.is_empty(),
        "the test image runs (scripts/test-image.sh builds it)"
    );
    let cfg_dir = tempfile::tempdir().unwrap();
    let cfg = cfg_dir.path().join("config.toml");
    let audit = cfg_dir.path().join("audit.jsonl");
    std::fs::write(
        &cfg,
        format!(
            "mode = \"live\"\n[audit]\npath = \"{}\"\nsyslog = \"\"\n\
             [daemon]\nbrake = \"{d}/brake\"\nsocket = \"{d}/vigil.sock\"\n\
             [[scale]]\nname = \"{group}\"\nmetric = \"mem_pct\"\ncapacity = 1e9\n",
            audit.display(),
            d = cfg_dir.path().display()
        ),
    )
    .unwrap();
    let t = Tmux::start("heal", &format!("--config {}", cfg.display()), 120, 30);
    t.wait_for("LIVE");
    t.keys("3");
    t.wait_for("Approval queue");
    docker(&["kill", &member]);
    let s = t.wait_for("pending");
    assert!(
        s.contains(&format!("{member} v1")) && s.contains("restart"),
        "{s}"
    );
    t.keys("a");
    let s = t.wait_for("verified");
    assert!(s.contains(&member), "{s}");
    assert_eq!(
        docker(&["inspect", "-f", "{{.State.Status}}", &member]),
        "running"
    );
    let _ = docker(&["rm", "-f", &member]);
    // The whole story is in the audit log, and the chain holds.
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["audit", "verify", "--path"])
        .arg(&audit)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tail = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["audit", "tail", "--path"])
        .arg(&audit)
        .output()
        .unwrap();
    let tail = String::from_utf8_lossy(&tail.stdout);
    for kind in ["proposal", "decision", "intent", "result", "verify"] {
        assert!(tail.contains(kind), "{kind} missing:\n{tail}");
    }
}

/// The Docker engine unreachable: the header says so in words (an approved action then
/// fails with the reason: tests/engine_actions.rs).
#[test]
fn a_dead_docker_socket_is_shown_on_screen() {
    let cfg_dir = tempfile::tempdir().unwrap();
    let cfg = cfg_dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "mode = \"live\"\n[docker]\nsocket = \"{}/docker.sock\"\n[audit]\npath = \"{}/audit.jsonl\"\nsyslog = \"\"\n\
             [daemon]\nbrake = \"{d}/brake\"\nsocket = \"{d}/vigil.sock\"\n\
             [[scale]]\nname = \"web\"\nmetric = \"mem_pct\"\ncapacity = 1e9\n",
            cfg_dir.path().display(),
            cfg_dir.path().display(),
            d = cfg_dir.path().display()
        ),
    )
    .unwrap();
    let t = Tmux::start("deadsock", &format!("--config {}", cfg.display()), 120, 30);
    let s = t.wait_for("docker.sock does not exist");
    assert!(s.contains("✖"), "shown as an error: {s}");
}

/// The on-call picture: a daemon owns the host, two operators attach, one approves, both
/// see it, both leave, and the daemon goes on deciding.
#[test]
fn two_consoles_attach_to_one_daemon_see_one_approval_and_the_daemon_outlives_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    // Its own heal label: other test binaries on this Docker engine watch theirs.
    let label = format!("vigil.heal.t{}", std::process::id());
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "interval = \"250ms\"\n[store]\npath = \"{d}/vigil.db\"\n[audit]\npath = \"{d}/audit.jsonl\"\n\
             syslog = \"\"\n[daemon]\nsocket = \"{d}/run/vigil.sock\"\nbrake = \"{d}/brake\"\n\
             [log]\ndir = \"{d}/logs\"\n[heal]\nlabel = \"{label}\"\n"
        ),
    )
    .unwrap();
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .arg("--config")
        .arg(&cfg)
        .arg("daemon")
        .env("XDG_STATE_HOME", dir.path().join("xdg"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    struct Reap(std::process::Child);
    impl Drop for Reap {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let socket = dir.path().join("run/vigil.sock");
    let start = Instant::now();
    while std::os::unix::net::UnixStream::connect(&socket).is_err() {
        assert!(daemon.try_wait().unwrap().is_none(), "the daemon exited");
        assert!(start.elapsed() < Duration::from_secs(30), "no socket");
        std::thread::sleep(Duration::from_millis(100));
    }
    let name = |tag: &str| format!("vt-{tag}-{}", std::process::id());
    let heal_target = |n: &str| {
        let _ = Command::new("docker").args(["rm", "-f", n]).output();
        let o = Command::new("docker")
            .args([
                "run",
                "-d",
                "--name",
                n,
                "--label",
                &format!("{label}=1"),
                "vigil-test:latest",
            ])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "the test image runs (scripts/test-image.sh builds it)"
        );
    };
    let first = name("one");
    let second = name("two");
    heal_target(&first);
    let a = Tmux::start("attach-a", &format!("--config {}", cfg.display()), 120, 30);
    let b = Tmux::start("attach-b", &format!("--config {}", cfg.display()), 120, 30);
    let _daemon = Reap(daemon);
    for t in [&a, &b] {
        t.wait_for("[attached]");
        // The attached console is the lean binary `vigil` became, not a second engine.
        let shell = t.tmux(&["display", "-p", "#{pane_pid}"]);
        let lean = Command::new("pgrep")
            .args(["-P", shell.trim(), "-x", "vigil-console"])
            .output()
            .unwrap();
        assert!(
            lean.status.success(),
            "no vigil-console under the pane's shell (pid {})",
            shell.trim()
        );
        t.keys("3");
        t.wait_for("Approval queue");
    }
    let _ = Command::new("docker").args(["kill", &first]).output();
    let s = a.wait_for("pending");
    assert!(s.contains(&format!("{first} v1")), "{s}");
    b.wait_for(&format!("{first} v1"));
    a.keys("a");
    // Shadow mode (the default): the approval is recorded as what would have run.
    let s = a.wait_for(" shadowed");
    assert!(s.contains(&first), "{s}");
    let s = b.wait_for(" shadowed");
    assert!(s.contains(&first), "the other console sees it: {s}");
    a.keys("q");
    b.keys("q");
    a.wait_for("VIGIL_EXITED:0");
    b.wait_for("VIGIL_EXITED:0");
    // Nobody is attached: the daemon still watches and proposes.
    heal_target(&second);
    let _ = Command::new("docker").args(["kill", &second]).output();
    let start = Instant::now();
    loop {
        let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
            .arg("--config")
            .arg(&cfg)
            .args(["proposals", "--json"])
            .output()
            .unwrap();
        assert!(out.status.success());
        let list = String::from_utf8_lossy(&out.stdout).into_owned();
        if list.contains(&format!("heal:{second}")) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{list}");
        std::thread::sleep(Duration::from_millis(200));
    }
    for n in [&first, &second] {
        let _ = Command::new("docker").args(["rm", "-f", n]).output();
    }
}
