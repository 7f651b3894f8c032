//! Config errors are read by operators at 3 a.m.: each names the file, line and key,
//! every problem is reported at once, and the valid rest of the file still applies.

use assert_cmd::Command;
use std::time::Duration;
use vigil::config::{Config, EXAMPLE, Mode, load_str};

#[test]
fn the_example_config_is_valid_and_matches_the_defaults() {
    let loaded = load_str(EXAMPLE, "config.example.toml");
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    assert_eq!(loaded.config, Config::default());
}

#[test]
fn an_empty_file_gives_the_defaults_in_shadow_mode() {
    let loaded = load_str("", "c.toml");
    assert!(loaded.problems.is_empty());
    assert_eq!(loaded.config.mode, Mode::Shadow);
    assert_eq!(loaded.config.interval, Duration::from_secs(1));
}

#[test]
fn a_number_where_a_duration_belongs_names_line_key_and_fix() {
    let loaded = load_str("# comment\ninterval = 5\n", "c.toml");
    assert_eq!(loaded.problems.len(), 1);
    let p = &loaded.problems[0];
    assert_eq!(
        p.to_string(),
        "c.toml:2: interval: expected a duration like \"1s\", got 5"
    );
}

#[test]
fn an_unknown_key_names_the_closest_known_key() {
    let loaded = load_str("intervl = \"2s\"\n", "c.toml");
    assert_eq!(loaded.problems.len(), 1);
    assert_eq!(loaded.problems[0].line, 1);
    assert!(
        loaded.problems[0]
            .message
            .contains("did you mean `interval`"),
        "{}",
        loaded.problems[0]
    );
}

#[test]
fn an_unknown_key_in_a_table_is_found_too() {
    let src = "[console]\ntheme = \"mono\"\nlnag = \"en\"\n";
    let loaded = load_str(src, "c.toml");
    assert_eq!(loaded.problems.len(), 1);
    let p = &loaded.problems[0];
    assert_eq!((p.line, p.key.as_str()), (3, "console.lnag"));
    assert!(p.message.contains("did you mean `lang`"), "{p}");
    assert_eq!(
        loaded.config.console.theme, "mono",
        "the valid key still applies"
    );
}

#[test]
fn every_problem_is_reported_and_the_valid_rest_is_kept() {
    let src = "\
interval = 5
mode = \"live\"

[console]
theme = \"light\"
colour = true

[store]
raw_retention = \"forever\"
minute_retention = \"2days\"
";
    let loaded = load_str(src, "c.toml");
    let lines: Vec<(usize, &str)> = loaded
        .problems
        .iter()
        .map(|p| (p.line, p.key.as_str()))
        .collect();
    assert_eq!(
        lines,
        vec![
            (1, "interval"),
            (6, "console.colour"),
            (9, "store.raw_retention")
        ]
    );
    let c = &loaded.config;
    assert_eq!(c.mode, Mode::Live);
    assert_eq!(c.console.theme, "light");
    assert_eq!(c.store.minute_retention, Duration::from_secs(2 * 86_400));
    assert_eq!(
        c.interval,
        Duration::from_secs(1),
        "the broken key falls back to its default"
    );
}

#[test]
fn a_wrong_enum_value_lists_the_choices() {
    let loaded = load_str("mode = \"yolo\"\n", "c.toml");
    assert_eq!(loaded.problems.len(), 1);
    assert_eq!(
        loaded.problems[0].to_string(),
        "c.toml:1: mode: expected one of shadow, live, got \"yolo\""
    );
    assert_eq!(loaded.config.mode, Mode::Shadow);
}

#[test]
fn values_out_of_range_are_reported_on_their_line() {
    let loaded = load_str(
        "\n\ninterval = \"10ms\"\n[console]\nlang = \"fr\"\n",
        "c.toml",
    );
    let got: Vec<String> = loaded.problems.iter().map(|p| p.to_string()).collect();
    assert_eq!(
        got,
        vec![
            "c.toml:3: interval: must be between 100ms and 1h, got 10ms".to_string(),
            "c.toml:5: console.lang: expected one of auto, en, zh-CN, got \"fr\"".to_string(),
        ]
    );
    assert_eq!(loaded.config.interval, Duration::from_secs(1));
}

#[test]
fn a_syntax_error_names_its_line_and_keeps_the_other_lines() {
    let loaded = load_str("mode = \"live\"\ninterval = \"2s\n", "c.toml");
    assert!(!loaded.problems.is_empty());
    assert_eq!(loaded.problems[0].line, 2);
    assert_eq!(loaded.config.mode, Mode::Live);
}

#[test]
fn config_check_exits_non_zero_and_prints_file_line_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vigil.toml");
    std::fs::write(&path, "interval = 5\n[console]\nthme = \"mono\"\n").unwrap();
    let out = Command::cargo_bin("vigil")
        .unwrap()
        .args(["config", "check"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let file = path.display().to_string();
    assert!(
        err.contains(&format!(
            "{file}:1: interval: expected a duration like \"1s\", got 5"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{file}:3: console.thme: unknown key `thme`, did you mean `theme`?"
        )),
        "{err}"
    );
    // The offending line itself is shown, as a compiler shows it.
    assert!(err.contains("thme = \"mono\""), "{err}");
}

#[test]
fn config_check_accepts_the_example() {
    let out = Command::cargo_bin("vigil")
        .unwrap()
        .args([
            "config",
            "check",
            concat!(env!("CARGO_MANIFEST_DIR"), "/config.example.toml"),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
