//! Bad input gets a clear error naming the input — file, line, field — and never an
//! abort, a hang or unbounded memory: traces, `--peak`, config numbers, `audit tail -n`.

use assert_cmd::Command;
use vigil::sim::fleet::{self, FleetParams, MAX_FLEET, PolicyKind};
use vigil::sim::trace;

/// A clean five-minute trace of `n` rows starting 2014-02-14 14:30.
fn rows(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let ts = trace::format_ts(1_392_388_200_000 + i as i64 * 300_000);
            format!("{ts},{}", 10.0 + (i % 7) as f64)
        })
        .collect()
}

fn csv(rows: &[String]) -> String {
    format!("timestamp,value\n{}\n", rows.join("\n"))
}

fn parse_err(rows: &[String]) -> String {
    trace::parse(&csv(rows), "t.csv").unwrap_err().to_string()
}

#[test]
fn a_clean_trace_loads_on_its_grid() {
    let t = trace::parse(&csv(&rows(50)), "t.csv").unwrap();
    assert_eq!((t.len(), t.step), (50, 300_000));
    assert!(t.filled.iter().all(|f| !f));
}

#[test]
fn a_timestamp_out_of_order_is_refused_naming_its_line_and_the_one_before() {
    let mut r = rows(50);
    // Line numbers count the header: rows[9] is line 11.
    r[9] = "2014-02-14 14:35:00,3".into();
    assert_eq!(
        parse_err(&r),
        "t.csv:11: timestamp: 2014-02-14 14:35:00 is earlier than line 10's 2014-02-14 15:10:00; \
         rows must be in time order, so the trace is refused rather than reordered"
    );
}

#[test]
fn a_stray_timestamp_far_ahead_is_refused_before_the_grid_is_allocated() {
    // One row in the year 9999: ~8e8 five-minute slots if it were believed.
    let mut r = rows(50);
    r.push("9999-12-31 23:55:00,4".into());
    let err = parse_err(&r);
    assert!(
        err.starts_with("t.csv:52: timestamp: 9999-12-31 23:55:00 is ")
            && err.contains("after line 51's 2014-02-14 18:35:00: the trace would span")
            && err.ends_with("so it is refused: is this row's time a stray?"),
        "{err}"
    );
    // A month ahead fits the bound but would be mostly made-up points: refused too.
    let mut r = rows(50);
    r.push("2014-03-14 00:00:00,4".into());
    assert_eq!(
        parse_err(&r),
        "t.csv:52: timestamp: 2014-03-14 00:00:00 is 7841 steps of 5m after line 51's \
         2014-02-14 18:35:00: 7840 of its 7891 points would be made up, so it is refused: \
         is this row's time a stray?"
    );
}

#[test]
fn ordinary_gaps_are_still_filled_and_flagged() {
    let mut r = rows(50);
    r.drain(20..30);
    let t = trace::parse(&csv(&r), "t.csv").unwrap();
    assert_eq!(t.len(), 50);
    assert_eq!(t.filled.iter().filter(|f| **f).count(), 10);
}

#[test]
fn a_duplicate_timestamp_is_one_reading_averaged() {
    let mut r = rows(10);
    let ts = trace::format_ts(1_392_388_200_000 + 4 * 300_000);
    r[4] = format!("{ts},10");
    r.insert(5, format!("{ts},20"));
    r.insert(6, format!("{ts},60"));
    let t = trace::parse(&csv(&r), "t.csv").unwrap();
    assert_eq!(t.len(), 10);
    assert_eq!(t.values[4], 30.0);
    assert_eq!(t.values[5], 10.0 + 5.0);
}

#[test]
fn an_unreadable_timestamp_names_its_line() {
    let mut r = rows(20);
    r[6] = "2014-02-31 25:00:00,1".into();
    assert_eq!(
        parse_err(&r),
        "t.csv:8: timestamp: cannot read `2014-02-31 25:00:00`"
    );
}

#[test]
fn nan_infinity_and_absurd_values_are_refused_naming_line_and_value() {
    for (v, want) in [
        (
            "NaN",
            "t.csv:4: value: `NaN` is not a finite number; the trace is refused \
             (for a missing reading leave the row out: gaps are filled and flagged)",
        ),
        (
            "inf",
            "t.csv:4: value: `inf` is not a finite number; the trace is refused \
             (for a missing reading leave the row out: gaps are filled and flagged)",
        ),
        (
            "1e308",
            "t.csv:4: value: 1e308 is beyond ±1e15, which no replayed metric reaches; \
             the trace is refused",
        ),
        (
            "-2.5e300",
            "t.csv:4: value: -2.5e300 is beyond ±1e15, which no replayed metric reaches; \
             the trace is refused",
        ),
    ] {
        let mut r = rows(20);
        r[2] = format!("2014-02-14 14:40:00,{v}");
        assert_eq!(parse_err(&r), want);
    }
}

#[test]
fn a_huge_field_is_quoted_cut_short() {
    let mut r = rows(20);
    r[2] = format!("2014-02-14 14:40:00,{}", "9".repeat(100_000) + "x");
    let err = parse_err(&r);
    assert_eq!(
        err,
        format!("t.csv:4: value: not a number: `{}…`", "9".repeat(40))
    );
}

#[test]
fn a_trace_file_beyond_the_size_limit_is_refused_without_reading_it_all() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("big.csv");
    let f = std::fs::File::create(&p).unwrap();
    // Sparse: costs no disk.
    f.set_len(trace::MAX_TRACE_BYTES + 10).unwrap();
    let err = trace::load(&p).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "{}: larger than 256 MiB: refused (split it or resample it to a coarser step)",
            p.display()
        )
    );
}

#[test]
fn a_trace_that_is_not_utf8_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bin.csv");
    let mut bytes = csv(&rows(5)).into_bytes();
    bytes.extend_from_slice(b"2014-02-14 15:00:00,\xff\xfe\n");
    std::fs::write(&p, bytes).unwrap();
    let err = trace::load(&p).unwrap_err().to_string();
    assert_eq!(err, format!("{}:7: not UTF-8 text", p.display()));
}

#[test]
fn a_huge_peak_is_refused_by_the_cli_with_the_bound() {
    for peak in ["1e300", "inf", "NaN", "0", "-3", "1000.5"] {
        let out = Command::cargo_bin("vigil")
            .unwrap()
            .args(["backtest", "scale", "--trace"])
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/examples/traces/ec2_cpu_utilization_ac20cd.csv"
            ))
            .args(["--policy", "oracle", "--out", "/dev/null"])
            .arg(format!("--peak={peak}"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "--peak {peak}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!(
                "--peak: expected a number of instances above 0 and at most 1000, got {}",
                peak.parse::<f64>().unwrap()
            )),
            "--peak {peak}: {err}"
        );
    }
}

#[test]
fn the_fleet_never_allocates_for_a_huge_peak_or_spike() {
    // Called directly (as a library user could), past the CLI's check: the fleet is
    // bounded anyway. A spike a billion times the trace's p99 too.
    let mut r = rows(300);
    r[150] = "2014-02-15 03:00:00,1e14".into();
    let t = trace::parse(&csv(&r), "t.csv").unwrap();
    for kind in PolicyKind::ALL {
        let p = FleetParams {
            peak: 1e300,
            ..FleetParams::default()
        };
        let steps = fleet::simulate(&t, &p, kind);
        assert_eq!(steps.len(), t.len(), "{kind:?}");
        let most = steps.iter().map(|s| s.billed.max(s.demand)).max().unwrap();
        assert!(most <= MAX_FLEET, "{kind:?}: {most}");
        assert_eq!(steps[150].demand, MAX_FLEET, "{kind:?}");
    }
}

#[test]
fn durations_of_backtest_scale_that_would_wrap_or_crawl_the_clock_are_refused() {
    for (flag, value, want) in [
        (
            "--interval",
            "300000000years",
            "--interval: expected a duration from 1s to 1day, got 300000000years",
        ),
        (
            "--interval",
            "1ms",
            "--interval: expected a duration from 1s to 1day, got 1ms",
        ),
        (
            "--boot",
            "100000000000years",
            "--boot: expected a duration from 0s to 1day, got 100000000000years",
        ),
        (
            "--stabilisation",
            "2days",
            "--stabilisation: expected a duration from 0s to 1day, got 2days",
        ),
    ] {
        let out = Command::cargo_bin("vigil")
            .unwrap()
            .args(["backtest", "scale", "--trace"])
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/examples/traces/ec2_cpu_utilization_ac20cd.csv"
            ))
            .args(["--policy", "oracle", "--out", "/dev/null", flag, value])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{flag} {value}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{flag} {value}: {err}");
    }
}

#[test]
fn a_delta_with_a_time_at_the_edge_of_the_clock_does_not_panic_the_console() {
    // Found by reading what the protocol fuzz target drives: a history point near
    // i64::MIN made the window arithmetic overflow.
    use vigil::protocol::{Delta, Metric, ServerMsg, Snapshot, decode_server};
    let frame = format!(
        "{{\"type\":\"delta\",\"from\":0,\"seq\":1,\"ts\":0,\"history\":[[\"cpu\",[[{},1.0]]]]}}",
        i64::MIN + 1
    );
    let Ok(ServerMsg::Delta(d)) = decode_server(frame.as_bytes()) else {
        panic!("the frame is a delta");
    };
    let mut s = Snapshot::default();
    Delta::apply(*d, &mut s);
    assert_eq!(s.history[&Metric::Cpu].len(), 1);
}

#[test]
fn the_console_without_a_terminal_says_so_and_does_not_panic() {
    // setsid: no controlling terminal either, as under cron or `ssh host vigil`.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = std::process::Command::new("setsid")
        .arg("--wait")
        .arg(env!("CARGO_BIN_EXE_vigil"))
        .arg("--replay")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/traces/ec2_cpu_utilization_ac20cd.csv"
        ))
        .env("XDG_CONFIG_HOME", d.join("config"))
        .env("XDG_DATA_HOME", d.join("data"))
        .env("XDG_STATE_HOME", d.join("state"))
        .env("XDG_RUNTIME_DIR", d.join("run"))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("the console needs a terminal"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
