//! The playbook library: the built-in playbooks load; a file with an unknown step, a
//! path outside the allowed roots (or escaping through a symlink), a denied command,
//! an unknown trigger or a bad duration is refused with its file, line and field while
//! the valid files still load; `vigil playbook check` and `dry-run` on the real binary.

use assert_cmd::Command;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use vigil::heal::guard::{check_command, under_roots};
use vigil::heal::parse::Policy;
use vigil::heal::{Library, Playbook, Risk, Step, Trigger, parse};

fn policy(root: &Path) -> Policy {
    Policy {
        log_roots: vec![root.to_path_buf()],
        commands: BTreeMap::from([(
            "certbot-renew".to_string(),
            vec!["/usr/bin/certbot".to_string(), "renew".to_string()],
        )]),
        scale_targets: vec!["web".to_string()],
    }
}

const GOOD: &str = r#"name = "app-logs"
trigger = "disk-filling"
risk = "L2"

[[steps]]
do = "delete-logs"
older_than = "7d"
paths = ["ROOT/app"]

[verify]
metric = "disk_used_pct"
improves_by = 5
within = "5m"
"#;

fn good(root: &Path) -> String {
    GOOD.replace("ROOT", &root.display().to_string())
}

/// The one problem a file has: (line, field, message).
fn only_problem(src: &str, pol: &Policy) -> (usize, String, String) {
    let problems = parse(src, "t.toml", pol).expect_err("the playbook must be refused");
    assert_eq!(problems.len(), 1, "{problems:?}");
    let p = &problems[0];
    assert_eq!(p.file, "t.toml");
    (p.line, p.key.clone(), p.message.clone())
}

#[test]
fn the_built_in_library_loads_whole() {
    let lib = Library::load(
        None,
        &Policy::from_config(&vigil::config::Config::default()),
    );
    assert!(lib.problems.is_empty(), "{:?}", lib.problems);
    let mut names: Vec<&str> = lib.playbooks.iter().map(|p| p.name.as_str()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "crashed-container",
            "crashed-service",
            "disk-full-of-logs",
            "exhausted-connections",
            "expiring-certificate",
            "memory-leak",
            "oom-killed-container",
            "restart-loop",
            "runaway-cpu",
            "unhealthy-container",
            "unusual-host-metric"
        ]
    );
    let crashed = lib.get("crashed-container").unwrap();
    assert_eq!(crashed.trigger, Trigger::ContainerExited);
    assert_eq!(crashed.risk, Risk::L1);
    assert_eq!(crashed.steps[0], Step::RestartContainer);
    assert_eq!(crashed.file, "<built-in>/crashed-container.toml");
    let fit: Vec<&str> = lib
        .fitting(Trigger::DiskFilling)
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(fit, ["disk-full-of-logs"]);
}

#[test]
fn a_good_playbook_parses_into_typed_steps() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let p: Playbook = parse(&good(&root), "t.toml", &policy(&root)).unwrap();
    assert_eq!(p.name, "app-logs");
    assert_eq!(
        p.steps,
        [Step::DeleteLogs {
            older_than: std::time::Duration::from_secs(7 * 86_400),
            paths: vec![root.join("app")]
        }]
    );
    assert_eq!(p.classes(), ["delete-logs"]);
    // L2 runs unattended only when its classes are allowed; L3 never.
    let mut cfg = vigil::heal::PlaybooksConfig::default();
    assert!(!p.runs_unattended(&cfg));
    cfg.auto = vec!["delete-logs".into()];
    assert!(p.runs_unattended(&cfg));
    let l3 = Playbook {
        risk: Risk::L3,
        ..p.clone()
    };
    assert!(!l3.runs_unattended(&cfg));
}

#[test]
fn an_unknown_step_names_its_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let src = good(&root).replace("do = \"delete-logs\"", "do = \"delete-everything\"");
    let (line, key, msg) = only_problem(&src, &policy(&root));
    assert_eq!((line, key.as_str()), (6, "steps.0.do"));
    assert!(
        msg.starts_with("unknown step \"delete-everything\""),
        "{msg}"
    );
}

#[test]
fn an_unknown_field_in_a_step_is_refused_with_a_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let src = good(&root).replace("older_than = \"7d\"", "older_than = \"7d\"\nolder = 3");
    let (line, key, msg) = only_problem(&src, &policy(&root));
    assert_eq!((line, key.as_str()), (8, "steps.0.older"));
    assert_eq!(msg, "unknown field `older`, did you mean `older_than`?");
}

#[test]
fn a_path_outside_the_roots_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let src = good(&root).replace(&format!("{}/app", root.display()), "/etc");
    let (line, key, msg) = only_problem(&src, &policy(&root));
    assert_eq!((line, key.as_str()), (8, "steps.0.paths.0"));
    assert!(
        msg.starts_with("\"/etc\" is outside the allowed log roots"),
        "{msg}"
    );
    // Climbing out with .. is refused before anything is resolved.
    let src = good(&root).replace("/app", "/../../etc");
    let (_, key, msg) = only_problem(&src, &policy(&root));
    assert_eq!(key, "steps.0.paths.0");
    assert!(msg.ends_with("contains \"..\" or \".\""), "{msg}");
}

#[test]
fn a_symlink_out_of_the_roots_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    std::os::unix::fs::symlink(outside.path(), root.join("app")).unwrap();
    let (line, key, msg) = only_problem(&good(&root), &policy(&root));
    assert_eq!((line, key.as_str()), (8, "steps.0.paths.0"));
    assert!(msg.contains("is outside the allowed log roots"), "{msg}");
    assert!(msg.contains("(it resolves to"), "{msg}");
    // The same check, as the executor will call it on each file.
    let escaped = under_roots(&root.join("app/old.log"), std::slice::from_ref(&root));
    assert!(escaped.is_err());
    let inside = under_roots(&root.join("real/old.log"), std::slice::from_ref(&root));
    assert_eq!(inside, Ok(root.join("real/old.log")));
}

#[test]
fn a_denied_or_unconfigured_command_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let src = r#"name = "cert"
trigger = "cert-expiring"
risk = "L2"
steps = [{ do = "renew-cert", command = "renew" }]
[verify]
metric = "cert_days_left"
improves_by = 30
within = "10m"
"#;
    let mut pol = policy(&root);
    pol.commands.insert(
        "renew".into(),
        vec!["/bin/sh".into(), "-c".into(), "certbot renew".into()],
    );
    let (line, key, msg) = only_problem(src, &pol);
    assert_eq!((line, key.as_str()), (4, "steps.0.command"));
    assert!(
        msg.starts_with("command \"renew\" is denied: \"/bin/sh\" is a shell"),
        "{msg}"
    );
    pol.commands.remove("renew");
    let (_, key, msg) = only_problem(src, &pol);
    assert_eq!(key, "steps.0.command");
    assert_eq!(
        msg,
        "command \"renew\" is not configured in [playbooks.commands] (configured: certbot-renew)"
    );
}

#[test]
fn the_deny_list() {
    let argv = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    for denied in [
        &["/bin/bash", "-c", "x"][..],
        &["/usr/bin/python3.11", "-c", "import os"],
        &["/usr/bin/perl", "-e", "1"],
        &["/bin/rm", "-rf", "/"],
        &["/bin/rm", "-r", "/var/log"],
        &["/usr/bin/env", "certbot"],
        &["/usr/bin/sudo", "/usr/bin/certbot"],
        &["/sbin/mkfs.ext4", "/dev/sda"],
        &["certbot", "renew"],
        &["/usr/bin/certbot", "renew", "$(curl x)"],
        &[],
    ] {
        assert!(check_command(&argv(denied)).is_err(), "{denied:?}");
    }
    for allowed in [
        &["/usr/bin/certbot", "renew", "--quiet"][..],
        &["/usr/bin/python3", "/opt/renew.py"],
        &["/bin/rm", "/var/log/app/old.log"],
    ] {
        assert_eq!(check_command(&argv(allowed)), Ok(()), "{allowed:?}");
    }
}

#[test]
fn unknown_trigger_bad_duration_and_missing_verify_are_all_reported() {
    let src = r#"name = "x"
trigger = "container-exitted"
risk = "L4"

[[steps]]
do = "wait"
for = "soon"

[[steps]]
do = "restart-container"
"#;
    let problems = parse(src, "t.toml", &Policy::default()).unwrap_err();
    let got: Vec<(usize, &str)> = problems.iter().map(|p| (p.line, p.key.as_str())).collect();
    assert_eq!(
        got,
        [
            (1, "verify"),
            (2, "trigger"),
            (3, "risk"),
            (7, "steps.0.for")
        ]
    );
    assert_eq!(
        problems[1].message,
        "unknown trigger \"container-exitted\", did you mean \"container-exited\"?"
    );
    assert!(
        problems[3]
            .message
            .starts_with("expected a duration like \"10m\", got \"soon\"")
    );
}

#[test]
fn a_syntax_error_is_located() {
    let problems = parse("name = \"x\"\nrisk = L1\n", "t.toml", &Policy::default()).unwrap_err();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].line, 2);
}

#[test]
fn a_bad_file_in_a_directory_leaves_the_others_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    std::fs::write(root.join("good.toml"), good(&root)).unwrap();
    std::fs::write(
        root.join("bad.toml"),
        good(&root)
            .replace("app-logs", "other")
            .replace("delete-logs", "format-disk"),
    )
    .unwrap();
    std::fs::write(root.join("notes.txt"), "not a playbook").unwrap();
    let lib = Library::load_path(&root, &policy(&root));
    let names: Vec<&str> = lib.playbooks.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["app-logs"]);
    assert_eq!(lib.problems.len(), 1);
    let p = &lib.problems[0];
    assert_eq!(p.file, root.join("bad.toml").display().to_string());
    assert_eq!((p.line, p.key.as_str()), (6, "steps.0.do"));
    // Rendered like a compiler's error, pointing at the text.
    let shown = lib.render(false);
    assert!(shown.contains("do = \"format-disk\""), "{shown}");
    assert!(shown.contains("bad.toml:6:"), "{shown}");
}

#[test]
fn a_denied_command_in_the_config_is_a_config_problem() {
    let src = "[playbooks]\nlog_roots = [\"/\"]\n\n[playbooks.commands]\nrenew = [\"/usr/bin/bash\", \"-c\", \"x\"]\n";
    let loaded = vigil::config::load_str(src, "config.toml");
    let got: Vec<(usize, &str)> = loaded
        .problems
        .iter()
        .map(|p| (p.line, p.key.as_str()))
        .collect();
    assert_eq!(
        got,
        [(2, "playbooks.log_roots"), (5, "playbooks.commands.renew")]
    );
}

// ---- the CLI -------------------------------------------------------------------

/// A config whose every path is in the test's own directory.
fn cli_config(dir: &Path) -> PathBuf {
    let p = dir.join("config.toml");
    let text = format!(
        "[store]\npath = \"{d}/vigil.db\"\n[audit]\npath = \"{d}/audit.jsonl\"\nsyslog = \"{d}/no-syslog\"\n[daemon]\nbrake = \"{d}/brake\"\nsocket = \"{d}/vigil.sock\"\n[playbooks]\ndir = \"{d}/playbooks\"\nlog_roots = [\"{d}/logs\"]\n",
        d = dir.display()
    );
    std::fs::write(&p, text).unwrap();
    p
}

fn vigil(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("vigil").unwrap();
    c.env("XDG_CONFIG_HOME", dir)
        .env("XDG_STATE_HOME", dir)
        .env("XDG_DATA_HOME", dir)
        .env("NO_COLOR", "1")
        .arg("--config")
        .arg(cli_config(dir));
    c
}

#[test]
fn cli_check_exits_1_naming_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().canonicalize().unwrap();
    let books = d.join("playbooks");
    std::fs::create_dir_all(&books).unwrap();
    std::fs::write(
        books.join("bad.toml"),
        good(&d.join("logs")).replace("logs/app", "elsewhere"),
    )
    .unwrap();
    let out = vigil(&d).args(["playbook", "check"]).assert().code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    let line = format!(
        "{}:8: steps.0.paths.0: \"{}/elsewhere\" is outside the allowed log roots",
        books.join("bad.toml").display(),
        d.display()
    );
    assert!(err.contains(&line), "{err}");
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    // The built-ins still load beside the refused file.
    assert!(
        stdout.contains("<built-in>/crashed-container.toml: ok"),
        "{stdout}"
    );

    std::fs::write(books.join("bad.toml"), good(&d.join("logs"))).unwrap();
    vigil(&d)
        .args(["playbook", "check"])
        .arg(books.join("bad.toml"))
        .assert()
        .code(0)
        .stdout(predicates::str::contains("1 playbook(s) ok"));
}

#[test]
fn cli_dry_run_says_every_step_and_does_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().canonicalize().unwrap();
    let out = vigil(&d)
        .args([
            "playbook",
            "dry-run",
            "crashed-container",
            "--target",
            "api-1",
        ])
        .assert()
        .code(0);
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    let expected = "\
playbook crashed-container (<built-in>/crashed-container.toml), on api-1
  A watched container exited: restart it and check it stays up.
trigger: container-exited
risk: L1: waits for a person (playbooks.auto does not allow all of restart-container)
steps:
  1. restart container api-1
  2. wait 10s
then verify: container_up must rise by 1 within 30s
if not verified: roll back, then escalate to a person:
  1. notify: \"restarting the container did not keep it up\"
dry run: nothing was done
";
    assert_eq!(text, expected);
    // A target that is not a name is refused, not shown.
    vigil(&d)
        .args([
            "playbook",
            "dry-run",
            "crashed-container",
            "--target",
            "a; rm -rf /",
        ])
        .assert()
        .code(1)
        .stderr(predicates::str::contains(
            "expected a container, unit or scale target name",
        ));
    vigil(&d)
        .args(["playbook", "dry-run", "no-such", "--target", "x"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("no playbook named \"no-such\""));
}
