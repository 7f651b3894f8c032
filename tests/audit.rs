//! The hash-chained audit log: every kind of tampering is caught and named by line.

use assert_cmd::Command;
use vigil::audit::{self, Actor, AuditLog, Head};

mod common;
use common::Tmpfs;

fn write_log(dir: &std::path::Path, n: usize) -> std::path::PathBuf {
    let path = dir.join("audit.jsonl");
    let mut log = AuditLog::open(&path).unwrap();
    for i in 0..n {
        log.append(
            "decision",
            &Actor::local(),
            serde_json::json!({"summary": format!("approve web 3 → {}", i + 4)}),
        )
        .unwrap();
    }
    path
}

fn lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn rewrite(path: &std::path::Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

fn broken_line(path: &std::path::Path) -> usize {
    match audit::verify(path) {
        Err(audit::AuditError::Broken { line, .. }) => line,
        other => panic!("expected a broken chain, got {other:?}"),
    }
}

#[test]
fn an_intact_log_verifies_and_reopens_at_its_head() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_log(dir.path(), 5);
    let v = audit::verify(&path).unwrap();
    assert_eq!(v.records, 5);
    // Reopening continues the chain rather than starting a new one.
    let mut log = AuditLog::open(&path).unwrap();
    assert_eq!(log.head(), &v.head);
    log.append("result", &Actor::vigil(), serde_json::json!({}))
        .unwrap();
    assert_eq!(audit::verify(&path).unwrap().records, 6);
    // Private to its owner.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn an_edited_record_is_named_by_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_log(dir.path(), 5);
    let mut l = lines(&path);
    l[2] = l[2].replace("3 → 6", "3 → 9");
    rewrite(&path, &l);
    assert_eq!(broken_line(&path), 3);
}

#[test]
fn a_removed_or_reordered_record_breaks_the_chain_there() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_log(dir.path(), 5);
    let orig = lines(&path);
    let mut l = orig.clone();
    l.remove(1);
    rewrite(&path, &l);
    assert_eq!(broken_line(&path), 2);

    let mut l = orig.clone();
    l.swap(3, 4);
    rewrite(&path, &l);
    assert_eq!(broken_line(&path), 4);

    // An edited record whose hash was recomputed still breaks the next link.
    let mut l = orig;
    let (body, _) = l[1].rsplit_once(",\"hash\"").unwrap();
    let forged = format!("{}}}", body.replace("3 → 5", "3 → 50"));
    let hash: String = {
        use sha2::Digest;
        sha2::Sha256::digest(forged.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    l[1] = format!("{},\"hash\":\"{hash}\"}}", &forged[..forged.len() - 1]);
    rewrite(&path, &l);
    assert_eq!(broken_line(&path), 3);
}

#[test]
fn a_truncated_log_is_caught_by_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_log(dir.path(), 5);
    let head = audit::verify(&path).unwrap().head;
    let l = lines(&path);
    rewrite(&path, &l[..3]);
    // The shorter chain is itself intact ...
    assert!(audit::verify(&path).is_ok());
    // ... but not the head that was sent away.
    let err = audit::check_checkpoint(&path, &head).unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err}");
    let ok = Head {
        seq: 2,
        hash: audit::read_records(&path).unwrap()[1].1.clone(),
    };
    assert!(audit::check_checkpoint(&path, &ok).is_ok());
}

#[test]
fn audit_verify_and_tail_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_log(dir.path(), 3);
    let p = path.to_str().unwrap();
    Command::cargo_bin("vigil")
        .unwrap()
        .args(["audit", "verify", "--path", p])
        .assert()
        .success()
        .stdout(predicates::str::contains("3 records, chain intact"));
    let out = Command::cargo_bin("vigil")
        .unwrap()
        .args(["audit", "tail", "--path", p, "-n", "2"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 2);
    assert!(
        text.contains("#3") && text.contains("approve web 3 → 6"),
        "{text}"
    );

    let mut l = lines(&path);
    l[1] = l[1].replace("decision", "decisioN");
    rewrite(&path, &l);
    Command::cargo_bin("vigil")
        .unwrap()
        .args(["audit", "verify", "--path", p])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("line 2"));
}

#[test]
fn tail_reads_the_end_of_a_long_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_log(dir.path(), 2000);
    let t = audit::tail(&path, 3).unwrap();
    assert_eq!(t.len(), 3);
    assert!(
        t[0].starts_with("#1998 ") && t[2].starts_with("#2000 "),
        "{t:?}"
    );
    assert_eq!(audit::tail(&path, 5000).unwrap().len(), 2000);
}

#[test]
fn vigil_brake_engages_and_releases_the_configured_brake_and_records_both() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    let log = dir.path().join("audit.jsonl");
    std::fs::write(
        &cfg,
        format!(
            "[audit]\npath = \"{}\"\nsyslog = \"\"\n[daemon]\nbrake = \"{d}/brake\"\nsocket = \"{d}/vigil.sock\"\n",
            log.display(),
            d = dir.path().display()
        ),
    )
    .unwrap();
    let brake = dir.path().join("brake");
    let run = |args: &[&str]| {
        Command::cargo_bin("vigil")
            .unwrap()
            .arg("--config")
            .arg(&cfg)
            .args(args)
            .assert()
            .success();
    };
    run(&["brake", "--reason", "deploy freeze"]);
    assert!(brake.exists(), "a running vigil sees the brake file");
    run(&["brake", "--release"]);
    assert!(!brake.exists());
    let t = audit::tail(&log, 10).unwrap();
    assert!(t[0].contains("brake engaged: deploy freeze"), "{t:?}");
    assert!(t[1].contains("brake released"), "{t:?}");
    assert!(audit::verify(&log).is_ok());
}

/// Config for a real `vigil` process whose audit log and brake are in `dir`.
fn brake_config(dir: &std::path::Path) -> std::path::PathBuf {
    let cfg = dir.join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[audit]\npath = \"{}\"\n\n[daemon]\nbrake = \"{}\"\nsocket = \"{}\"\n\n[store]\npath = \"{}\"\n",
            dir.join("audit.jsonl").display(),
            dir.join("brake").display(),
            dir.join("vigil.sock").display(),
            dir.join("vigil.db").display(),
        ),
    )
    .unwrap();
    cfg
}

#[test]
fn two_processes_appending_at_once_lose_no_record_and_keep_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = brake_config(dir.path());
    let bin = assert_cmd::cargo::cargo_bin("vigil");
    let rounds = 20;
    // Each process opens the log afresh for every record (as `vigil brake` from two
    // shells would), so opening and appending race as well.
    let script = format!(
        "for i in $(seq {rounds}); do \
           \"$0\" --config \"$1\" brake --reason \"$2 $i\" >/dev/null || exit 1; \
           \"$0\" --config \"$1\" brake --release >/dev/null || exit 1; \
         done"
    );
    let children: Vec<_> = ["ana", "bo"]
        .iter()
        .map(|who| {
            std::process::Command::new("sh")
                .arg("-c")
                .arg(&script)
                .arg(&bin)
                .arg(&cfg)
                .arg(who)
                .env("HOME", dir.path())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success(), "a vigil brake process failed");
    }
    let path = dir.path().join("audit.jsonl");
    let v = audit::verify(&path).unwrap();
    assert_eq!(v.records, 2 * 2 * rounds);
    let recs = audit::read_records(&path).unwrap();
    let seqs: Vec<u64> = recs.iter().map(|(r, _)| r.seq).collect();
    assert_eq!(seqs, (1..=2 * 2 * rounds).collect::<Vec<u64>>());
    for who in ["ana", "bo"] {
        for i in 1..=rounds {
            let want = format!("brake engaged: {who} {i}");
            let n = recs
                .iter()
                .filter(|(r, _)| r.data["summary"].as_str() == Some(want.as_str()))
                .count();
            assert_eq!(n, 1, "{want}");
        }
    }
    Command::cargo_bin("vigil")
        .unwrap()
        .args(["audit", "verify", "--path"])
        .arg(&path)
        .assert()
        .success();
}

#[test]
fn handles_opened_and_appending_at_once_in_many_threads_keep_one_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let threads = 4;
    let each = 60;
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let path = path.clone();
            std::thread::spawn(move || {
                for i in 0..each {
                    // A fresh handle every few records: opens race with appends.
                    let mut log = AuditLog::open(&path).unwrap();
                    for j in 0..3 {
                        log.append(
                            "decision",
                            &Actor::vigil(),
                            serde_json::json!({"summary": format!("t{t} {i}.{j}")}),
                        )
                        .unwrap();
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let v = audit::verify(&path).unwrap();
    assert_eq!(v.records, (threads * each * 3) as u64);
}

#[test]
fn a_full_disk_refuses_the_record_whole_and_the_chain_stays_valid() {
    let dir = tempfile::tempdir().unwrap();
    let fs = Tmpfs::mount(dir.path(), "size=64k");
    let path = dir.path().join("audit.jsonl");
    let mut log = AuditLog::open(&path).unwrap();
    log.append(
        "decision",
        &Actor::vigil(),
        serde_json::json!({"summary": "first"}),
    )
    .unwrap();
    fs.fill();
    // Records of every size until the disk refuses one: the refused one leaves nothing.
    let mut refused = None;
    for i in 0..200 {
        let r = log.append(
            "decision",
            &Actor::vigil(),
            serde_json::json!({"summary": "x".repeat(50 + i * 37)}),
        );
        if let Err(e) = r {
            refused = Some(e.to_string());
            break;
        }
    }
    let refused = refused.expect("a full disk refuses a record");
    assert!(
        refused.ends_with("No space left on device (os error 28)"),
        "{refused}"
    );
    let before = audit::verify(&path).unwrap();
    std::fs::remove_file(dir.path().join("filler")).unwrap();
    // Room again: the chain goes on from where it was.
    let head = log
        .append(
            "decision",
            &Actor::vigil(),
            serde_json::json!({"summary": "after"}),
        )
        .unwrap();
    assert_eq!(head.seq, before.records + 1);
    assert_eq!(audit::verify(&path).unwrap().records, before.records + 1);
    drop(log);
    drop(fs);
}

#[test]
fn tail_of_ten_billion_is_refused_naming_n_and_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_log(dir.path(), 3);
    let out = Command::cargo_bin("vigil")
        .unwrap()
        .args(["audit", "tail", "--path", path.to_str().unwrap()])
        .args(["-n", "10000000000"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "audit tail -n 10000000000: at most 100000 records at once (`vigil audit verify` reads the whole log)"
        ),
        "{err}"
    );
    // At the bound itself the whole (short) log comes back.
    assert_eq!(audit::tail(&path, audit::MAX_TAIL).unwrap().len(), 3);
}

#[test]
fn tail_returns_n_records_however_long_they_are() {
    // Records of 5 KiB each: more than the old fixed estimate of 2 KiB a record.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let mut log = AuditLog::open(&path).unwrap();
    for i in 0..50 {
        log.append(
            "decision",
            &Actor::vigil(),
            serde_json::json!({"summary": format!("record {i}"), "pad": "x".repeat(5000)}),
        )
        .unwrap();
    }
    let t = audit::tail(&path, 20).unwrap();
    assert_eq!(t.len(), 20);
    assert!(
        t[0].starts_with("#31 ") && t[19].starts_with("#50 "),
        "{t:?}"
    );
    assert!(t[19].ends_with(" record 49"), "{}", t[19]);
}

#[test]
fn a_giant_garbage_line_is_skipped_by_tail_and_named_by_verify_without_holding_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_log(dir.path(), 5);
    let mut l = lines(&path);
    // 3 MiB with no newline, between records 2 and 3.
    l.insert(2, "z".repeat(3 << 20));
    rewrite(&path, &l);
    let t = audit::tail(&path, 10).unwrap();
    let seqs: Vec<&str> = t
        .iter()
        .map(|s| s.split(' ').next().unwrap_or(""))
        .collect();
    assert_eq!(seqs, vec!["#1", "#2", "#3", "#4", "#5"]);
    match audit::verify(&path) {
        Err(audit::AuditError::Broken { line, reason, .. }) => {
            assert_eq!(
                (line, reason.as_str()),
                (3, "longer than 1024 KiB: not a record")
            );
        }
        other => panic!("expected line 3 named, got {other:?}"),
    }
}

#[test]
fn tail_skips_lines_that_are_not_utf8_or_not_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_log(dir.path(), 3);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(b"\xff\xfe garbage\n{\"seq\":9}\n\n");
    std::fs::write(&path, &bytes).unwrap();
    let t = audit::tail(&path, 2).unwrap();
    assert_eq!(t.len(), 2);
    assert!(t[0].starts_with("#2 ") && t[1].starts_with("#3 "), "{t:?}");
    match audit::verify(&path) {
        Err(audit::AuditError::Broken { line, reason, .. }) => {
            assert_eq!((line, reason.as_str()), (4, "not UTF-8 text"));
        }
        other => panic!("expected line 4 named, got {other:?}"),
    }
}
