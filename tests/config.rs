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

/// The problems as `vigil config check` prints them, one a line.
fn problems(loaded: &vigil::config::Loaded) -> Vec<String> {
    loaded.problems.iter().map(|p| p.to_string()).collect()
}

#[test]
fn numbers_that_overflow_name_file_line_key_and_the_rest_is_used() {
    let src = "\
mode = \"live\"

[approve]
ttl = \"100000000000years\"
auto = [\"restart\"]

[heal]
max_restarts = 99999999999999999999
window = \"5m\"

[[scale]]
name = \"web\"
template = { image = \"x\", memory_mib = 1e30 }

[[scale]]
name = \"api\"
max = 1e12

[[scale]]
name = \"db\"
resize_to = { name = \"big\", capacity = 200.0, price_per_hour = 1.0, memory_mib = 99999999999999999999 }

[[scale]]
name = \"cache\"
max = 4

[console]
theme = \"mono\"
";
    let loaded = load_str(src, "c.toml");
    assert_eq!(
        problems(&loaded),
        vec![
            "c.toml:4: approve.ttl: expected a duration like \"1s\" of at most 100 years, got \"100000000000years\"",
            "c.toml:8: heal.max_restarts: expected a whole number from 0 to 4294967295, got 99999999999999999999",
            "c.toml:13: scale.0.template.memory_mib: expected a whole number (no fraction or exponent), got 1e30",
            "c.toml:17: scale.1.max: expected a whole number (no fraction or exponent), got 1e12",
            "c.toml:21: scale.2.resize_to.memory_mib: expected a whole number from 0 to 18446744073709551615, got 99999999999999999999",
        ]
    );
    let c = &loaded.config;
    // The broken keys take their defaults; every valid key of the file still applies.
    assert_eq!(c.mode, Mode::Live);
    assert_eq!(c.approve.ttl, Duration::from_secs(600));
    assert_eq!(c.approve.auto, vec!["restart".to_string()]);
    assert_eq!(c.heal.max_restarts, 3);
    assert_eq!(c.heal.window, Duration::from_secs(300));
    assert_eq!(c.console.theme, "mono");
    // A scale target with a broken value is left out rather than guessed at.
    let names: Vec<&str> = c.scale.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, vec!["cache"]);
    assert_eq!(c.scale[0].max, 4);
}

#[test]
fn durations_that_would_overflow_milliseconds_are_refused() {
    // 300 million years fit a Duration but not an i64 of milliseconds.
    for (text, shown) in [
        ("300000000years", "300000000years"),
        ("18446744073709551615s", "18446744073709551615s"),
        ("101years", "101years"),
        ("99999999999999999999999h", "99999999999999999999999h"),
    ] {
        let loaded = load_str(&format!("[heal]\n\nwindow = \"{text}\"\n"), "c.toml");
        assert_eq!(
            problems(&loaded),
            vec![format!(
                "c.toml:3: heal.window: expected a duration like \"1s\" of at most 100 years, got \"{shown}\""
            )]
        );
        assert_eq!(loaded.config.heal.window, Duration::from_secs(600));
    }
    let loaded = load_str("[store]\nhour_retention = \"100years\"\n", "c.toml");
    assert!(loaded.problems.is_empty(), "{:?}", problems(&loaded));
}

#[test]
fn counts_and_limits_beyond_any_host_are_refused_with_their_bound() {
    let src = "\
[audit]
checkpoint_every = 0

[heal]
max_restarts = 4000000000

[[scale]]
name = \"web\"
max = 1000000000000
template = { image = \"x\", memory_mib = 17592186044416, cpus = 1e9 }

[[scale]]
name = \"api\"
price_per_hour = inf
";
    let loaded = load_str(src, "c.toml");
    assert_eq!(
        problems(&loaded),
        vec![
            "c.toml:2: audit.checkpoint_every: between 1 and 1000000 records, got 0",
            "c.toml:5: heal.max_restarts: at most 1000 restarts, got 4000000000",
            "c.toml:9: scale.0.max: at most 10000 instances, got 1000000000000",
            "c.toml:10: scale.0.template.memory_mib: at most 16777216 MiB (16 TiB), got 17592186044416",
            "c.toml:10: scale.0.template.cpus: between 0 and 1024 cores, got 1000000000",
            "c.toml:14: scale.1.price_per_hour: must be a finite number, got inf",
        ]
    );
    assert_eq!(loaded.config.audit.checkpoint_every, 50);
    assert_eq!(loaded.config.heal.max_restarts, 3);
    assert!(loaded.config.scale.is_empty());
}

#[test]
fn a_huge_field_is_quoted_cut_short() {
    let long = "9".repeat(5000);
    let loaded = load_str(&format!("[heal]\nwindow = \"{long}s\"\n"), "c.toml");
    assert_eq!(
        problems(&loaded),
        vec![format!(
            "c.toml:2: heal.window: expected a duration like \"1s\" of at most 100 years, got \"{}…\"",
            "9".repeat(40)
        )]
    );
}

#[test]
fn a_file_of_endless_problems_stops_at_the_bound_and_runs_on_defaults() {
    let src: String = (0..200).map(|i| format!("nokey{i} = 1\n")).collect();
    let loaded = load_str(&src, "c.toml");
    let got = problems(&loaded);
    assert_eq!(got.len(), 65);
    assert_eq!(
        got.iter()
            .filter(|p| *p
                == "c.toml:1: more than 64 problems: the file is not used, vigil runs on its defaults")
            .count(),
        1
    );
    assert_eq!(loaded.config, Config::default());
}

#[test]
fn a_config_file_beyond_the_size_limit_is_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("config.toml");
    let f = std::fs::File::create(&p).unwrap();
    f.set_len(2 << 20).unwrap();
    let err = vigil::config::load_file(&p).unwrap_err().to_string();
    assert_eq!(err, "larger than 1024 KiB: not a config file");
    let out = Command::cargo_bin("vigil")
        .unwrap()
        .args(["config", "check"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "cannot read config {}: larger than 1024 KiB: not a config file",
            p.display()
        )),
        "{stderr}"
    );
}

#[test]
fn a_syntax_error_inside_a_multibyte_character_at_the_end_is_reported_not_a_panic() {
    for src in [
        "x = \"é",
        "mode = \"live\"\ncurrency = \"¥",
        "[console]\ntheme = '主题",
    ] {
        let loaded = load_str(src, "c.toml");
        assert_eq!(loaded.problems.len(), 1, "{src:?}: {:?}", problems(&loaded));
        assert_eq!(loaded.problems[0].line, src.lines().count(), "{src:?}");
        let _ = vigil::config::render(&loaded, false);
    }
    assert_eq!(
        load_str("mode = \"live\"\ncurrency = \"¥", "c.toml")
            .config
            .mode,
        Mode::Live
    );
}

#[test]
fn a_restart_loop_threshold_beyond_any_host_is_refused_and_the_default_kept() {
    let loaded = load_str("[heal]\nrestart_loop_restarts = 5000\n", "c.toml");
    assert_eq!(
        problems(&loaded),
        vec!["c.toml:2: heal.restart_loop_restarts: at most 1000 restarts, got 5000"]
    );
    assert_eq!(loaded.config.heal.restart_loop_restarts, 3);
}
