//! The detectors on generated data (never ../shared): a spike, a level shift and a slow
//! leak in a daily seasonal series are found with their start; a clean seasonal series
//! raises nothing after warm-up; degenerate series score finitely; disk time-to-full
//! fires before the disk is full; `vigil backtest detect` writes one row per trace row;
//! the shape channels: a gauge stuck at its reading and a collector stopped at 0 are
//! flagged soon (a nightly idle is not), an oscillation within the usual range is
//! flagged, and bursts in a heavy-tailed write series raise few alerts; a spike that
//! comes every day stops alerting once the week holds three, and the return to the
//! usual level after a day-long incident is not a new alert.

use assert_cmd::Command;
use vigil::detect::checks::{self, ConnCheck, DiskCheck, LeakCheck};
use vigil::detect::forest::{ForestConfig, Multivariate};
use vigil::detect::series::{Judgement, SeriesConfig, SeriesDetector};
use vigil::detect::shape::ShapeConfig;
use vigil::detect::{Finding, FindingKind};
use vigil::sim::detect_backtest::{self, Options};

const STEP: i64 = 300_000; // 5 minutes
const DAY: usize = 288;
const T0: i64 = 1_700_000_000_000 - 1_700_000_000_000 % 86_400_000;

/// Deterministic noise: xorshift, summed to a rough normal (mean 0, σ ≈ 1).
struct Noise(u64);
impl Noise {
    fn next(&mut self) -> f64 {
        let mut s = 0.0;
        for _ in 0..4 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            s += (self.0 >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
        }
        s * 1.73
    }
}

/// A daily sine around 50 with amplitude 20 and noise σ 1, `days` long.
fn seasonal(days: usize, seed: u64) -> Vec<f64> {
    let mut n = Noise(seed);
    (0..days * DAY)
        .map(|i| {
            let phase = (i % DAY) as f64 / DAY as f64 * std::f64::consts::TAU;
            50.0 + 20.0 * phase.sin() + n.next()
        })
        .collect()
}

fn ts(i: usize) -> i64 {
    T0 + i as i64 * STEP
}

fn run(values: &[Option<f64>]) -> Vec<Judgement> {
    run_with(values.iter().copied(), SeriesConfig::for_step(STEP))
}

/// One detector with `cfg` over the values, one judgement each.
fn run_with(values: impl IntoIterator<Item = Option<f64>>, cfg: SeriesConfig) -> Vec<Judgement> {
    let mut d = SeriesDetector::new("cpu_pct", cfg);
    values
        .into_iter()
        .enumerate()
        .map(|(i, v)| d.push(ts(i), v, None))
        .collect()
}

fn flags(j: &[Judgement]) -> Vec<usize> {
    j.iter()
        .enumerate()
        .filter(|(_, j)| j.flag)
        .map(|(i, _)| i)
        .collect()
}

fn findings(j: &[Judgement]) -> Vec<&Finding> {
    j.iter().filter_map(|j| j.finding.as_ref()).collect()
}

#[test]
fn a_clean_seasonal_series_raises_no_flag_after_warm_up() {
    let v: Vec<Option<f64>> = seasonal(8, 7).into_iter().map(Some).collect();
    let j = run(&v);
    let warm = SeriesConfig::for_step(STEP).baseline.warmup + DAY;
    let late: Vec<usize> = flags(&j).into_iter().filter(|&i| i >= warm).collect();
    assert_eq!(late, Vec::<usize>::new(), "flags on a clean series");
    assert!(
        j.iter()
            .all(|j| j.score.is_finite() && (0.0..=1.0).contains(&j.score))
    );
}

#[test]
fn a_spike_is_found_at_its_time_with_its_evidence() {
    let mut v = seasonal(7, 11);
    let at = 5 * DAY + 100;
    v[at] += 30.0;
    let j = run(&v.iter().copied().map(Some).collect::<Vec<_>>());
    let warm = SeriesConfig::for_step(STEP).baseline.warmup + DAY;
    let late: Vec<usize> = flags(&j).into_iter().filter(|&i| i >= warm).collect();
    assert_eq!(late, vec![at], "the spike and nothing else");
    let f = findings(&j)
        .into_iter()
        .find(|f| f.at == ts(at))
        .expect("a finding");
    assert_eq!(f.kind, FindingKind::Anomaly);
    assert_eq!(f.subject, "cpu_pct");
    assert_eq!(f.started, ts(at));
    assert_eq!(f.evidence("value"), Some(v[at]));
    let expected = f.evidence("expected").expect("expected value");
    assert!(
        (expected - (v[at] - 30.0)).abs() < 5.0,
        "expected {expected}"
    );
    assert!(f.evidence("deviation").expect("deviation") > 10.0);
    assert!(f.evidence("novelty").expect("novelty") > 3.0);
}

#[test]
fn a_level_shift_is_found_when_it_starts_and_alerts_once() {
    let mut v = seasonal(7, 13);
    let at = 5 * DAY + 40;
    for x in &mut v[at..] {
        *x += 15.0;
    }
    let j = run(&v.iter().copied().map(Some).collect::<Vec<_>>());
    let warm = SeriesConfig::for_step(STEP).baseline.warmup + DAY;
    let late: Vec<usize> = flags(&j).into_iter().filter(|&i| i >= warm).collect();
    assert_eq!(late.first(), Some(&at), "flags {late:?}");
    // One alert for the incident while the baseline catches up, not one per sample.
    let refractory = SeriesConfig::for_step(STEP).refractory;
    assert!(
        late.iter().all(|&i| i == at || i > at + refractory),
        "{late:?}"
    );
    let f = findings(&j)
        .into_iter()
        .find(|f| f.at == ts(at))
        .expect("a finding");
    assert_eq!(f.started, ts(at));
    assert!(f.evidence("deviation").expect("deviation") > 5.0);
}

#[test]
fn a_slow_leak_in_seasonal_memory_is_found_with_its_start() {
    // Memory around 40 % with a daily swing of ±3 and noise; from day 2 at 06:00 it
    // grows 0.5 %/h.
    let mut n = Noise(5);
    let onset = 2 * DAY + 72;
    let pts: Vec<(i64, f64)> = (0..3 * DAY)
        .map(|i| {
            let phase = (i % DAY) as f64 / DAY as f64 * std::f64::consts::TAU;
            let leak = if i > onset {
                (i - onset) as f64 * STEP as f64 / 3_600_000.0 * 0.5
            } else {
                0.0
            };
            (ts(i), 40.0 + 3.0 * phase.sin() + 0.3 * n.next() + leak)
        })
        .collect();
    // Before the leak and an hour into it: nothing.
    let cfg = LeakCheck::default();
    assert_eq!(checks::memory_leak("mem_pct", &pts[..onset], &cfg), None);
    assert_eq!(
        checks::memory_leak("mem_pct", &pts[..onset + 12], &cfg),
        None
    );
    // Eight hours in: a leak, started within an hour of the true onset.
    let f = checks::memory_leak("mem_pct", &pts[..onset + 96], &cfg).expect("a leak");
    assert_eq!(f.kind, FindingKind::MemoryLeak);
    assert!(
        (f.started - ts(onset)).abs() <= 3_600_000,
        "started {} h off",
        (f.started - ts(onset)) as f64 / 3.6e6
    );
    let rate = f.evidence("growth_per_hour").expect("rate");
    assert!((rate - 0.5).abs() < 0.15, "growth {rate} %/h");
    let ttl = f.evidence("time_to_limit_s").expect("time to limit");
    assert!(ttl > 100.0 * 3600.0 && ttl < 130.0 * 3600.0, "{ttl}");
}

#[test]
fn a_seasonal_memory_series_without_a_leak_is_not_a_leak() {
    let v = seasonal(3, 21);
    let pts: Vec<(i64, f64)> = v.iter().enumerate().map(|(i, x)| (ts(i), *x)).collect();
    for end in [DAY / 2, DAY, 2 * DAY, 3 * DAY] {
        assert_eq!(
            checks::memory_leak("mem_pct", &pts[..end], &LeakCheck::default()),
            None,
            "at {end}"
        );
    }
}

#[test]
fn constant_zero_short_and_gappy_series_score_finitely() {
    let cases: Vec<(&str, Vec<Option<f64>>)> = vec![
        ("constant", vec![Some(42.0); 2 * DAY]),
        ("all zero", vec![Some(0.0); 2 * DAY]),
        ("short", vec![Some(1.0), Some(2.0), Some(3.0)]),
        ("empty", vec![]),
        (
            "gappy",
            seasonal(3, 3)
                .into_iter()
                .enumerate()
                .map(|(i, x)| (i % 7 != 0 && !(400..500).contains(&i)).then_some(x))
                .collect(),
        ),
        ("all missing", vec![None; DAY]),
        (
            "huge",
            (0..2 * DAY).map(|i| Some(1e300 * (i % 3) as f64)).collect(),
        ),
    ];
    for (name, v) in cases {
        let j = run(&v);
        assert_eq!(j.len(), v.len(), "{name}");
        for (i, x) in j.iter().enumerate() {
            assert!(
                x.score.is_finite() && (0.0..=1.0).contains(&x.score),
                "{name}: score {} at {i}",
                x.score
            );
            if v[i].is_none() {
                assert!(!x.flag && x.score == 0.0, "{name}: a gap scored at {i}");
            }
        }
        if name == "constant" || name == "all zero" || name == "all missing" {
            assert_eq!(flags(&j), Vec::<usize>::new(), "{name}");
        }
    }
}

#[test]
fn a_constant_series_that_moves_is_flagged() {
    let mut v = vec![Some(5.0); 2 * DAY];
    v[DAY + DAY / 2] = Some(9.0);
    assert_eq!(flags(&run(&v)), vec![DAY + DAY / 2]);
}

fn disk_history(from: f64, per_hour: f64, hours: f64) -> Vec<(i64, f64)> {
    let n = (hours * 12.0) as usize;
    (0..=n)
        .map(|i| (ts(i), from + per_hour * i as f64 / 12.0))
        .collect()
}

#[test]
fn disk_time_to_full_fires_before_the_disk_is_full() {
    let cfg = DiskCheck::default(); // 80 %, 24 h
    // 1 %/h from 60 %: above 80 % after 20 h, full after 40 h.
    let h = disk_history(60.0, 1.0, 48.0);
    let first = (10..h.len())
        .find(|&i| checks::disk_filling("/var", &h[..=i], None, &cfg).is_some())
        .expect("a finding before the end");
    let (at, used) = h[first];
    assert!((80.0..100.0).contains(&used), "fired at {used} %");
    let f = checks::disk_filling("/var", &h[..=first], None, &cfg).expect("finding");
    assert_eq!(f.kind, FindingKind::DiskFilling);
    assert_eq!(f.subject, "/var");
    assert_eq!(f.at, at);
    let ttf = f.evidence("time_to_full_s").expect("time to full");
    assert!(ttf > 0.0 && ttf <= 24.0 * 3600.0, "{ttf}");
    let expect_ttf = (100.0 - used) * 3600.0;
    assert!((ttf - expect_ttf).abs() < 600.0, "{ttf} vs {expect_ttf}");
    assert!((f.evidence("growth_pct_per_hour").expect("rate") - 1.0).abs() < 1e-6);
    // The disk was not full when it fired: at least 15 hours were left.
    assert!(ttf >= 15.0 * 3600.0, "{ttf}");
}

#[test]
fn a_full_but_steady_disk_waits_until_critical() {
    let cfg = DiskCheck::default();
    let steady = disk_history(90.0, 0.0, 12.0);
    assert_eq!(checks::disk_filling("/", &steady, None, &cfg), None);
    let below = disk_history(50.0, 2.0, 12.0); // fast, but at 74 %
    assert_eq!(checks::disk_filling("/", &below, None, &cfg), None);
    let critical = disk_history(98.0, 0.0, 1.0);
    let f = checks::disk_filling("/", &critical, None, &cfg).expect("critical");
    assert_eq!(f.evidence("used_pct"), Some(98.0));
    assert_eq!(f.started, critical[0].0);
}

#[test]
fn connection_exhaustion_from_counts() {
    let cfg = ConnCheck::default(); // 90 %, or the trend within 30 min from 60 %
    let flat: Vec<(i64, f64)> = (0..60).map(|i| (ts(i), 700.0)).collect();
    assert_eq!(
        checks::connection_exhaustion("nginx", &flat, 1000.0, &cfg),
        None
    );
    let near: Vec<(i64, f64)> = (0..60).map(|i| (ts(i), 950.0)).collect();
    let f = checks::connection_exhaustion("nginx", &near, 1000.0, &cfg).expect("near limit");
    assert_eq!(f.kind, FindingKind::ConnectionExhaustion);
    assert_eq!(f.evidence("used_ratio"), Some(0.95));
    // 650 and +8 a minute: at 690 after 5 min, the limit 39 min away…
    let climbing: Vec<(i64, f64)> = (0..6)
        .map(|i| (T0 + i * 60_000, 650.0 + 8.0 * i as f64))
        .collect();
    assert_eq!(
        checks::connection_exhaustion("nginx", &climbing, 1000.0, &cfg),
        None
    );
    // …and +40 a minute: at 850, 3 min 45 s away.
    let fast: Vec<(i64, f64)> = (0..6)
        .map(|i| (T0 + i * 60_000, 650.0 + 40.0 * i as f64))
        .collect();
    let f = checks::connection_exhaustion("nginx", &fast, 1000.0, &cfg).expect("climbing");
    let ttl = f.evidence("time_to_limit_s").expect("time to limit");
    assert!((ttl - 225.0).abs() < 1.0, "{ttl}");
}

#[test]
fn the_forest_flags_a_combination_never_seen() {
    // CPU and network move together; then CPU is busy with no traffic.
    let mut n = Noise(9);
    let mut f: Multivariate<2> = Multivariate::new(ForestConfig {
        train: 1_000,
        refit_every: 200,
        trees: 100,
        sample: 256,
        tail_window: 1_000,
        tail_q: 0.99,
    });
    let mut normal_max: f64 = 0.0;
    for i in 0..1_200 {
        let load = 50.0 + 30.0 * ((i as f64) / 40.0).sin();
        let s = f.push([load + n.next(), load * 1e5 + 1e4 * n.next()]);
        if i >= 1_000
            && let Some(s) = s
        {
            normal_max = normal_max.max(s.novelty.unwrap_or(0.0));
        }
    }
    let odd = f.push([80.0, 2e6]).expect("scored");
    assert!(odd.raw > 0.6, "raw {}", odd.raw);
    let novelty = odd.novelty.expect("novelty");
    assert!(
        novelty > 1.0 && novelty > 2.0 * normal_max,
        "{novelty} vs {normal_max} before"
    );
    // A value far out in one series is named as the lead.
    let far = f.push([50.0, 5e7]).expect("scored");
    assert_eq!(far.lead, 1, "network is the odd one: {far:?}");
    assert!(far.lead_z > 10.0);
    // A point with a NaN is skipped, not scored.
    assert_eq!(f.push([f64::NAN, 1.0]), None);
}

fn trace_csv(rows: &[(String, f64)]) -> String {
    let mut s = String::from("timestamp,value\n");
    for (t, v) in rows {
        s.push_str(&format!("{t},{v}\n"));
    }
    s
}

#[test]
fn backtest_detect_writes_one_row_per_trace_row() {
    let v = seasonal(3, 17);
    let mut rows: Vec<(String, f64)> = v
        .iter()
        .enumerate()
        .filter(|(i, _)| !(300..310).contains(i)) // a gap
        .map(|(i, x)| (vigil::sim::trace::format_ts(ts(i)), *x))
        .collect();
    rows.insert(50, rows[49].clone()); // a repeated row
    let dir = tempfile::tempdir().expect("tempdir");
    let trace = dir.path().join("t.csv");
    let out = dir.path().join("flags.csv");
    std::fs::write(&trace, trace_csv(&rows)).expect("write");
    Command::cargo_bin("vigil")
        .expect("binary")
        .args(["backtest", "detect", "--trace"])
        .arg(&trace)
        .arg("--out")
        .arg(&out)
        .assert()
        .success()
        .stdout(predicates::str::contains(format!(
            "{} rows every 300s (10 gaps)",
            rows.len()
        )));
    let text = std::fs::read_to_string(&out).expect("flags");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "timestamp,score,flag");
    assert_eq!(lines.len(), rows.len() + 1);
    for (line, (t, _)) in lines[1..].iter().zip(&rows) {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 3, "{line}");
        assert_eq!(f[0], t);
        let s: f64 = f[1].parse().expect("score");
        assert!((0.0..=1.0).contains(&s), "{line}");
        assert!(f[2] == "0" || f[2] == "1", "{line}");
    }
}

#[test]
fn backtest_detect_sees_only_the_past() {
    // The scores of a prefix do not change when the future is appended.
    let v = seasonal(4, 19);
    let rows: Vec<(String, f64)> = v
        .iter()
        .enumerate()
        .map(|(i, x)| (vigil::sim::trace::format_ts(ts(i)), *x))
        .collect();
    let (full, _) =
        detect_backtest::detect(&trace_csv(&rows), "full", Options::default()).expect("full");
    let (head, _) = detect_backtest::detect(&trace_csv(&rows[..700]), "head", Options::default())
        .expect("head");
    assert_eq!(head[..], full[..700]);
}

#[test]
fn a_malformed_trace_names_its_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let trace = dir.path().join("bad.csv");
    std::fs::write(
        &trace,
        "timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 00:05:00,abc\n",
    )
    .expect("write");
    Command::cargo_bin("vigil")
        .expect("binary")
        .args(["backtest", "detect", "--trace"])
        .arg(&trace)
        .arg("--out")
        .arg(dir.path().join("flags.csv"))
        .assert()
        .failure()
        .stderr(predicates::str::contains(
            "bad.csv:3: value: not a number: `abc`",
        ));
}

/// The findings raised at or after `from`.
fn findings_from(j: &[Judgement], from: usize) -> Vec<&Finding> {
    j[from.min(j.len())..]
        .iter()
        .filter_map(|j| j.finding.as_ref())
        .collect()
}

#[test]
fn a_gauge_stuck_at_its_last_reading_is_flagged_within_two_hours() {
    // Eight ordinary days, then the collector stops and the value repeats its last
    // reading: every sample is inside the usual range, only the flat line is news.
    let mut v = seasonal(10, 21);
    let at = 8 * DAY + 60;
    let stuck = v[at - 1];
    for x in &mut v[at..] {
        *x = stuck;
    }
    let j = run(&v.iter().copied().map(Some).collect::<Vec<_>>());
    let warm = SeriesConfig::for_step(STEP).baseline.warmup + DAY;
    let before: Vec<usize> = flags(&j[..at]).into_iter().filter(|&i| i >= warm).collect();
    assert_eq!(
        before,
        Vec::<usize>::new(),
        "flags before the line went flat"
    );
    let f = findings_from(&j, at)
        .into_iter()
        .next()
        .expect("the flat line is flagged");
    let hours = (f.at - ts(at)) as f64 / 3_600_000.0;
    assert!((0.0..=2.0).contains(&hours), "flagged {hours} h after");
    let run_len = f.evidence("flat_run").expect("the run's length");
    assert!(run_len >= 12.0, "a run of {run_len} points is not yet news");
    assert!(f.evidence("flat_novelty").expect("flat novelty") >= 3.0);
    // One alert for it, however long it stays flat.
    assert_eq!(findings_from(&j, at).len(), 1, "one alert per incident");
}

#[test]
fn a_nightly_idle_at_zero_is_ordinary_until_it_outlasts_every_night() {
    // Idle at exactly 0 for two hours every night, busy otherwise; on day 9 the
    // series stops at 0 for good.
    let mut n = Noise(5);
    let stop = 9 * DAY;
    let v: Vec<Option<f64>> = (0..11 * DAY)
        .map(|i| {
            let idle = i % DAY < 24 || i >= stop;
            Some(if idle { 0.0 } else { 40.0 + 5.0 * n.next() })
        })
        .collect();
    let j = run(&v);
    let warm = SeriesConfig::for_step(STEP).baseline.warmup + DAY;
    let flat_before: Vec<i64> = findings_from(&j, warm)
        .into_iter()
        .filter(|f| f.at < ts(stop) && f.evidence("flat_novelty").is_some_and(|n| n >= 3.0))
        .map(|f| f.at)
        .collect();
    assert_eq!(
        flat_before,
        Vec::<i64>::new(),
        "a nightly idle flagged as flat"
    );
    // A stop at 0 begins like every night; it is news once it outlasts the nights
    // (24 points) by the margin, and before another night has passed.
    let f = findings_from(&j, stop + 24)
        .into_iter()
        .find(|f| f.evidence("flat_novelty").is_some_and(|n| n >= 3.0))
        .expect("the stop is flagged");
    let after = (f.at - ts(stop)) / STEP;
    assert!((24..=36).contains(&after), "flagged {after} points after");
    assert_eq!(f.evidence("longest_past_run"), Some(24.0));
}

#[test]
fn a_series_that_starts_to_oscillate_within_its_range_is_flagged() {
    // From day 8 the series alternates ±3 around its usual course: no sample is far
    // from the level or the season (noise σ is 1), but its steps are.
    let mut v = seasonal(10, 31);
    let at = 8 * DAY + 100;
    for (k, x) in v[at..].iter_mut().enumerate() {
        *x += if k % 2 == 0 { 3.0 } else { -3.0 };
    }
    let values: Vec<Option<f64>> = v.iter().copied().map(Some).collect();
    let j = run(&values);
    let f = findings_from(&j, at)
        .into_iter()
        .next()
        .expect("the oscillation is flagged");
    let hours = (f.at - ts(at)) as f64 / 3_600_000.0;
    assert!((0.0..=2.0).contains(&hours), "flagged {hours} h after");
    let w = ShapeConfig::for_step(STEP).rough_weight;
    assert!(f.evidence("roughness_novelty").expect("roughness") * w >= 3.0);
    // The baseline alone does not see it: the roughness channel is what found it.
    let mut alone = SeriesDetector::with_shape("cpu_pct", SeriesConfig::for_step(STEP), None);
    let without: Vec<usize> = values
        .iter()
        .enumerate()
        .map(|(i, x)| alone.push(ts(i), *x, None))
        .enumerate()
        .filter(|(i, j)| *i >= at && *i < at + 24 && j.flag)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        without,
        Vec::<usize>::new(),
        "the point channels saw it alone"
    );
}

#[test]
fn bursts_in_a_heavy_tailed_write_series_raise_few_alerts() {
    // Disk writes: idle at 0 most of the time, bursts of 10 kB to 1 GB (sizes spread
    // evenly over five orders of magnitude) on one point in ten, for ten days.
    let mut state = 77u64;
    let mut u = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let v: Vec<Option<f64>> = (0..10 * DAY)
        .map(|_| {
            let burst = u() < 0.1;
            Some(if burst {
                10f64.powf(4.0 + 5.0 * u())
            } else {
                0.0
            })
        })
        .collect();
    let bursts = v.iter().filter(|x| x.is_some_and(|x| x > 0.0)).count();
    assert!(bursts > 200, "{bursts} bursts");
    let j = run(&v);
    let warm = SeriesConfig::for_step(STEP).baseline.warmup + DAY;
    let alerts = findings_from(&j, warm).len();
    // Nine days of ordinary bursts (about 260): at most one alert every day and a
    // half, none of them from the scale collapsing to 0 while the series idles (a
    // finding's scale stays above a hundredth of the bursts' spread).
    assert!(alerts <= 6, "{alerts} alerts on ordinary bursts");
    for f in findings_from(&j, warm) {
        let scale = f.evidence("scale").expect("scale");
        assert!(scale > 1e3, "a scale of {scale} on bursts of 1e4..1e9");
        assert!(f.score < 1.0, "a saturated score on an ordinary burst");
    }
}

#[test]
fn a_near_miss_damps_the_same_incident_after_it_as_a_flag_does() {
    // Two equal spikes two hours apart: the first one opens the damping whether or
    // not it was flagged, so the second, no larger, scores as the same incident.
    let mut v = seasonal(7, 17);
    let at = 5 * DAY + 100;
    v[at] += 30.0;
    v[at + 40] += 30.0;
    let scores = |cfg: SeriesConfig| {
        let j = run_with(v.iter().map(|x| Some(*x)), cfg);
        (j[at].score, j[at + 40].score, flags(&j))
    };
    let mut cfg = SeriesConfig::for_step(STEP);
    // Nothing is flagged: only the near miss can damp.
    cfg.flag_at = 1.1;
    cfg.watch_at = 0.6;
    let (first, second, flagged) = scores(cfg.clone());
    assert!(flagged.is_empty(), "{flagged:?}");
    assert!(first >= 0.75, "the first spike scores {first}");
    // Without the watch the second spike keeps its own score; with it, it is damped.
    let mut plain = cfg.clone();
    plain.watch_at = 1.1;
    let (_, undamped, _) = scores(plain);
    assert!(undamped > 0.3, "the second spike alone scores {undamped}");
    assert!(
        (second - undamped * cfg.damp).abs() < 1e-9,
        "{second} against {undamped}"
    );
}

#[test]
fn a_spike_that_comes_every_day_stops_alerting_once_the_week_holds_three() {
    // A spike of +15 (fifteen times the noise) once a day, 37 points (three hours)
    // later each day, so the same time on past days never explains it; it is no
    // larger than the ones before it, so once the week holds three it is part of the
    // series.
    let days = 12;
    let mut v = seasonal(days, 29);
    let spikes: Vec<usize> = (1..days).map(|d| d * DAY + (d * 37) % DAY).collect();
    for &at in &spikes {
        v[at] += 15.0;
    }
    let scores = |cfg: SeriesConfig| {
        let j = run_with(v.iter().map(|x| Some(*x)), cfg);
        spikes.iter().map(|&at| j[at].score).collect::<Vec<f64>>()
    };
    let cfg = SeriesConfig::for_step(STEP);
    let mut uncapped = cfg.clone();
    uncapped.baseline.repeat_rank = 0;
    let with = scores(cfg);
    let without = scores(uncapped);
    // Without the cap each spike is above the week's 99th percentile (a spike a day is
    // one point in 288), and more so once the warm-up's first day has left the week;
    // with it, the spikes after the first week score near the flag level, the larger
    // ones just above it, the smaller below.
    let last = spikes.len() - 3;
    assert!(
        without[last..].iter().all(|s| *s > 0.9),
        "uncapped: {without:?}"
    );
    let late = &with[6..];
    assert!(late.iter().all(|s| *s < 0.8), "capped: {with:?}");
    let alerts = late.iter().filter(|s| **s >= 0.75).count();
    assert!(alerts * 2 <= late.len(), "capped: {with:?}");
}

#[test]
fn the_return_to_the_usual_level_after_a_day_long_incident_is_not_an_alert() {
    // A daily seasonal series held at 5 for 30 hours on its seventh day (a service
    // degraded, a feed cut to a trickle), then back to its usual level. The drop is the
    // incident; the return is the end of it, not a new one, although by then the
    // previous day's median is the incident's level.
    let mut v = seasonal(10, 31);
    let mut n = Noise(5);
    let (from, to) = (6 * DAY, 6 * DAY + 30 * DAY / 24);
    for x in &mut v[from..to] {
        *x = 5.0 + n.next();
    }
    let alerts = |cfg: SeriesConfig| {
        let j = run_with(v.iter().map(|x| Some(*x)), cfg);
        let drop = flags(&j).iter().any(|i| (from..from + 12).contains(i));
        let back = flags(&j).into_iter().filter(|i| *i >= to).count();
        (drop, back)
    };
    let cfg = SeriesConfig::for_step(STEP);
    let mut day_only = cfg.clone();
    day_only.baseline.week_window = 0;
    let (drop, back) = alerts(cfg);
    let (_, back_day_only) = alerts(day_only);
    assert!(drop, "the drop is not flagged");
    assert!(
        back_day_only >= 1,
        "the day's level alone did not flag the return"
    );
    assert_eq!(back, 0, "{back} alerts after the return");
}
