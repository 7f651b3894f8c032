//! Helpers for the tests (and the Docker benchmark) that talk to the real Docker engine
//! through its own CLI, so what they check does not go through vigil's client.
// Each test binary uses only some of them.
#![allow(dead_code)]

use std::process::Command;

pub const IMAGE: &str = "vigil-test:latest";

/// Runs the docker CLI and returns its output; a failure fails the test with stderr.
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("the docker CLI runs");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn docker_quiet(args: &[&str]) -> String {
    Command::new("docker")
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        .unwrap_or_default()
}

/// Running members of a group, by name, sorted, as the engine itself reports them.
pub fn running(group: &str) -> Vec<String> {
    let out = docker(&[
        "ps",
        "--filter",
        &format!("label=vigil.group={group}"),
        "--format",
        "{{.Names}}",
    ]);
    let mut v: Vec<String> = out.lines().map(str::to_string).collect();
    v.sort();
    v
}

/// Starts member `n` of a group by hand, as an operator would have.
pub fn start_member(group: &str, n: u32) {
    docker(&[
        "run",
        "-d",
        "--name",
        &format!("{group}-{n}"),
        "--label",
        &format!("vigil.group={group}"),
        "--label",
        &format!("vigil.member={n}"),
        IMAGE,
    ]);
}

/// Removes a group's containers (and a container or service of the group's name) when
/// a test ends, passed or not.
pub struct Cleanup(pub String);

impl Cleanup {
    pub fn now(group: &str) {
        let ids = docker_quiet(&[
            "ps",
            "-aq",
            "--filter",
            &format!("label=vigil.group={group}"),
        ]);
        for id in ids.split_whitespace() {
            docker_quiet(&["rm", "-f", id]);
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        Cleanup::now(&self.0);
        docker_quiet(&["rm", "-f", &self.0]);
        docker_quiet(&["service", "rm", &self.0]);
    }
}

/// A docker-group target of the test image: new members from a template, ready once
/// healthy and answering /health on 8080; short timeouts.
pub fn test_group(name: &str) -> vigil::config::ScaleTarget {
    use std::time::Duration;
    use vigil::config::{Probe, ScaleTarget, TargetKind, Template};
    ScaleTarget {
        name: name.into(),
        kind: TargetKind::DockerGroup,
        min: 1,
        max: 5,
        template: Some(Template {
            image: IMAGE.into(),
            restart: "no".into(),
            ..Template::default()
        }),
        probe: Some(Probe {
            port: 8080,
            http: Some("/health".into()),
        }),
        ready_timeout: Duration::from_secs(60),
        stop_timeout: Duration::from_secs(2),
        ..ScaleTarget::default()
    }
}

/// A tiny tmpfs mounted for one test, unmounted when it ends (passed or not).
pub struct Tmpfs(pub std::path::PathBuf);

impl Tmpfs {
    /// `opts` as for `mount -o`, e.g. "size=64k" or "ro,size=64k".
    pub fn mount(dir: &std::path::Path, opts: &str) -> Tmpfs {
        let st = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", opts, "tmpfs"])
            .arg(dir)
            .status()
            .expect("mount runs");
        assert!(
            st.success(),
            "mount -t tmpfs needs root: this test needs it"
        );
        Tmpfs(dir.to_path_buf())
    }

    /// Writes a file until the filesystem refuses: it is full.
    pub fn fill(&self) {
        use std::io::Write;
        let mut f = std::fs::File::create(self.0.join("filler")).unwrap();
        let block = vec![0u8; 4096];
        loop {
            if f.write_all(&block).and_then(|()| f.sync_data()).is_err() {
                break;
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}
