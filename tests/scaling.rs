//! Scaling judgement on inputs whose right answer is known.

use vigil::plan::cost::{self, Billing};
use vigil::plan::scaling::{
    Decision, Hpa, Limits, Observation, Predictive, PredictiveParams, Rule, ScalePolicy,
    hpa_desired,
};
use vigil::sim::fleet::{self, FleetParams, PolicyKind, StepRow};
use vigil::sim::trace::Trace;

const NO_LIMITS: Limits = Limits { min: 1, max: 1000 };

fn obs(now: i64, load: f64, ready: usize, billed: usize, forecast_hi: Option<f64>) -> Observation {
    Observation {
        now,
        load,
        ready,
        billed,
        capacity: 10.0,
        forecast_hi,
        hold_hi: None,
    }
}

#[test]
fn hpa_formula_matches_the_kubernetes_documentation() {
    // "if the current metric value is 200m, and the desired value is 100m, the number of
    // replicas will be doubled ... If the current value is instead 50m, you'll halve".
    assert_eq!(hpa_desired(4, 0.2, 0.1, 0.1), 8);
    assert_eq!(hpa_desired(4, 0.05, 0.1, 0.1), 2);
    // "skips any scaling action if the ratio is sufficiently close to 1.0 (0.1)".
    assert_eq!(hpa_desired(4, 0.108, 0.1, 0.1), 4);
    assert_eq!(hpa_desired(4, 0.092, 0.1, 0.1), 4);
    // desiredReplicas = ceil[currentReplicas * ( currentMetricValue / desiredMetricValue )]
    assert_eq!(hpa_desired(3, 0.9, 0.6, 0.1), 5);
}

#[test]
fn hpa_holds_a_scale_in_for_the_stabilisation_window() {
    let mut hpa = Hpa::new(0.6, 300_000, NO_LIMITS);
    // 60 load on 10-capacity instances at 60 % target: 10 instances.
    let d = hpa.decide(&obs(0, 60.0, 10, 10, None));
    assert_eq!(d.desired, 10);
    // The load halves: the recommendation is 5, but the last 300 s said 10.
    for t in [60_000, 120_000, 180_000, 240_000] {
        let d = hpa.decide(&obs(t, 30.0, 10, 10, None));
        assert_eq!(
            d,
            Decision {
                desired: 10,
                rule: Rule::Stabilised
            },
            "at {t}"
        );
    }
    let d = hpa.decide(&obs(300_000, 30.0, 10, 10, None));
    assert_eq!(d.desired, 5, "the window has passed");
    // A rise is followed at once.
    let d = hpa.decide(&obs(360_000, 90.0, 5, 5, None));
    assert_eq!(d.desired, 15);
}

#[test]
fn predictive_buys_ahead_of_the_forecast_and_takes_the_higher_count() {
    let mut p = Predictive::new(PredictiveParams::default(), NO_LIMITS);
    // Now 30 (4 instances at 80 %), forecast P90 80 at the lead time: 10 instances.
    let d = p.decide(&obs(0, 30.0, 4, 4, Some(80.0)));
    assert_eq!(
        d,
        Decision {
            desired: 10,
            rule: Rule::Predictive
        }
    );
    // The forecast below the current load: the reactive count wins.
    let mut p = Predictive::new(PredictiveParams::default(), NO_LIMITS);
    let d = p.decide(&obs(0, 50.0, 7, 7, Some(20.0)));
    assert_eq!(
        d,
        Decision {
            desired: 7,
            rule: Rule::Hold
        }
    );
    let d = p.decide(&obs(60_000, 60.0, 7, 7, Some(20.0)));
    assert_eq!(
        d,
        Decision {
            desired: 8,
            rule: Rule::Reactive
        }
    );
}

#[test]
fn cooldown_holds_a_change_and_an_emergency_skips_it() {
    let params = PredictiveParams {
        cooldown_ms: 300_000,
        stabilisation_ms: 0,
        ..PredictiveParams::default()
    };
    let mut p = Predictive::new(params, NO_LIMITS);
    assert_eq!(p.decide(&obs(0, 40.0, 4, 4, None)).desired, 5);
    // 60 s later the load wants 6 at 85 % utilisation of 5: below the emergency line.
    let d = p.decide(&obs(60_000, 42.5, 5, 5, None));
    assert_eq!(
        d,
        Decision {
            desired: 5,
            rule: Rule::Cooldown
        }
    );
    // 95 % utilisation is an emergency: scale out now.
    let d = p.decide(&obs(120_000, 47.5, 5, 5, None));
    assert_eq!(
        d,
        Decision {
            desired: 6,
            rule: Rule::Emergency
        }
    );
}

#[test]
fn limits_and_the_monthly_budget_clamp_the_count() {
    // ¥0.50 an hour, ¥1,825 a month: five instances all month.
    let max = cost::max_instances_for_budget(1825.0, 0.5);
    assert_eq!(max, 5);
    let params = PredictiveParams {
        stabilisation_ms: 0,
        ..PredictiveParams::default()
    };
    let mut p = Predictive::new(params, Limits { min: 2, max });
    assert_eq!(
        p.decide(&obs(0, 200.0, 5, 5, None)),
        Decision {
            desired: 5,
            rule: Rule::ClampedMax
        }
    );
    assert_eq!(
        p.decide(&obs(60_000, 1.0, 5, 5, None)),
        Decision {
            desired: 2,
            rule: Rule::ClampedMin
        }
    );
}

#[test]
fn cost_arithmetic_for_both_billing_modes() {
    // web: 3 → 6 replicas at ¥0.40/h: +¥1.20/h, ¥876 a month.
    let h = cost::hourly_delta(3, 6, 0.40);
    assert!((h - 1.20).abs() < 1e-12);
    assert!((cost::monthly(h) - 876.0).abs() < 1e-9);
    assert!((cost::hourly_delta(6, 3, 0.40) + 1.20).abs() < 1e-12);
    // Three instances for 20 minutes: a third of an hour each per second, a full hour
    // each per hour.
    assert!((cost::scale_out_cost(3, 1.0 / 3.0, 0.40, Billing::Second) - 0.40).abs() < 1e-12);
    assert!((cost::scale_out_cost(3, 1.0 / 3.0, 0.40, Billing::Hour) - 1.20).abs() < 1e-12);
    assert!((cost::scale_out_cost(1, 1.5, 1.0, Billing::Hour) - 2.0).abs() < 1e-12);
}

fn tiny() -> Trace {
    // p99 of [8, 8, 16, 16] is 16; with --peak 2 one instance carries 10, 8 at the SLO.
    let values = vec![8.0, 8.0, 16.0, 16.0];
    Trace {
        start: 0,
        step: 300_000,
        filled: vec![false; 4],
        values,
    }
}

fn cols(rows: &[StepRow]) -> Vec<(usize, usize, usize, usize)> {
    rows.iter()
        .map(|r| (r.demand, r.ready, r.billed, r.desired))
        .collect()
}

#[test]
fn the_simulator_accounts_a_tiny_trace_by_hand() {
    let p = FleetParams {
        peak: 2.0,
        ..FleetParams::default()
    };
    assert_eq!(fleet::capacity(&tiny(), 2.0), 10.0);
    // The oracle buys the second instance at 08:00 (480 s), ready exactly at 10:00.
    let rows = fleet::simulate(&tiny(), &p, PolicyKind::Oracle);
    assert_eq!(
        cols(&rows),
        vec![(1, 1, 1, 1), (1, 1, 1, 1), (2, 2, 2, 2), (2, 2, 2, 2)]
    );
    let s = fleet::score("oracle", &rows, 300_000);
    assert!((s.cost - 6.0 * 5.0 / 60.0).abs() < 1e-12, "{}", s.cost);
    assert_eq!(s.under_provisioned_time, 0.0);
    // HPA aims at 60 %: 8 on one instance is 80 %, so at 00:00 it buys a second one,
    // billed at once and serving 120 s later (the first step records it booting). At
    // 10:00, 16 on two is 80 % again: a third.
    let rows = fleet::simulate(&tiny(), &p, PolicyKind::Hpa);
    assert_eq!(
        cols(&rows),
        vec![(1, 1, 2, 2), (1, 2, 2, 2), (2, 2, 3, 3), (2, 3, 3, 3)]
    );
    let s = fleet::score("hpa", &rows, 300_000);
    assert!((s.cost - 10.0 * 5.0 / 60.0).abs() < 1e-12);
    assert_eq!(s.under_provisioned_time, 0.0);
    // With a 10-minute boot the second instance is not there at 10:00: one step short.
    let slow = FleetParams {
        boot_ms: 900_000,
        ..p.clone()
    };
    let rows = fleet::simulate(&tiny(), &slow, PolicyKind::Hpa);
    assert_eq!((rows[2].demand, rows[2].ready), (2, 1));
    let s = fleet::score("hpa", &rows, 300_000);
    assert_eq!(s.under_provisioned_time, 0.25);
    assert!((s.shortage - 5.0 / 60.0).abs() < 1e-12);
    assert!((s.under_accuracy - 0.5 / 4.0).abs() < 1e-12);
    assert!((s.effective_cost - (s.cost + 10.0 * s.shortage)).abs() < 1e-12);
    assert!((s.under_accuracy - 0.5 / 4.0).abs() < 1e-12);
}

#[test]
fn the_oracle_never_under_provisions() {
    let mut x = 99u64;
    let values: Vec<f64> = (0..2000)
        .map(|i| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let spike = if (x >> 60) == 0 { 80.0 } else { 0.0 };
            30.0 + 20.0 * (i as f64 / 288.0 * std::f64::consts::TAU).sin() + spike
        })
        .collect();
    let t = Trace {
        start: 0,
        step: 300_000,
        filled: vec![false; values.len()],
        values,
    };
    for (boot, interval) in [(120_000, 60_000), (600_000, 60_000), (30_000, 300_000)] {
        let p = FleetParams {
            boot_ms: boot,
            interval_ms: interval,
            ..FleetParams::default()
        };
        let rows = fleet::simulate(&t, &p, PolicyKind::Oracle);
        assert!(
            rows.iter().all(|r| r.ready >= r.demand),
            "boot {boot} interval {interval}"
        );
    }
}

#[test]
fn the_predictive_policy_beats_the_baselines_on_a_daily_load() {
    let values: Vec<f64> = (0..288 * 7)
        .map(|i| 40.0 + 30.0 * (i as f64 / 288.0 * std::f64::consts::TAU).sin())
        .collect();
    let t = Trace {
        start: 0,
        step: 300_000,
        filled: vec![false; values.len()],
        values,
    };
    let p = FleetParams::default();
    let eff = |k| fleet::score("x", &fleet::simulate(&t, &p, k), t.step).effective_cost;
    let (pred, hpa, thr) = (
        eff(PolicyKind::Predictive),
        eff(PolicyKind::Hpa),
        eff(PolicyKind::Threshold),
    );
    assert!(
        pred < hpa && pred < thr,
        "predictive {pred} hpa {hpa} threshold {thr}"
    );
}

#[test]
fn backtest_scale_writes_one_row_per_step_and_compares_policies() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.csv");
    let values: Vec<f64> = (0..600)
        .map(|i| 40.0 + 30.0 * (i as f64 / 288.0 * std::f64::consts::TAU).sin())
        .collect();
    let t = Trace {
        start: 1_700_000_000_000,
        step: 300_000,
        filled: vec![false; 600],
        values,
    };
    std::fs::write(&trace, t.to_csv()).unwrap();
    let out = dir.path().join("steps.csv");
    let run = assert_cmd::Command::cargo_bin("vigil")
        .unwrap()
        .args([
            "backtest",
            "scale",
            "--policy",
            "hpa",
            "--compare",
            "--trace",
        ])
        .arg(&trace)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let table = String::from_utf8_lossy(&run.stdout);
    for p in ["predictive", "hpa", "threshold", "oracle"] {
        assert!(
            table.lines().any(|l| l.starts_with(p)),
            "{p} missing:\n{table}"
        );
    }
    let steps = std::fs::read_to_string(&out).unwrap();
    let mut lines = steps.lines();
    assert_eq!(
        lines.next(),
        Some("timestamp,load,demand,ready,billed,desired")
    );
    assert_eq!(lines.count(), 600);
    let bad = assert_cmd::Command::cargo_bin("vigil")
        .unwrap()
        .args([
            "backtest",
            "scale",
            "--policy",
            "magic",
            "--compare",
            "--trace",
        ])
        .arg(&trace)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&bad.stderr)
            .contains("--policy: expected predictive, hpa, threshold or oracle")
    );
}

#[test]
fn the_plan_quantile_weighs_a_short_step_against_a_needless_boot() {
    use vigil::plan::scaling::plan_quantile;
    // 5-minute samples, 2-minute boot: a missed rise is short for 300 s at 10× the
    // price, a needless instance costs its 120 s boot: 3000 / 3120.
    assert!((plan_quantile(300_000, 120_000) - 3000.0 / 3120.0).abs() < 1e-12);
    // One-minute samples: the miss lasts until a reaction boots (2 steps): 10/11.
    assert!((plan_quantile(60_000, 120_000) - 10.0 / 11.0).abs() < 1e-12);
    // A longer boot makes a needless instance dearer only while samples are slower.
    assert!(plan_quantile(300_000, 240_000) < plan_quantile(300_000, 120_000));
    assert!(plan_quantile(60_000, 0) == 1.0 && plan_quantile(0, 0) == 1.0);
}

fn daily_sine(days: usize) -> Trace {
    let values: Vec<f64> = (0..288 * days)
        .map(|i| 40.0 + 30.0 * (i as f64 / 288.0 * std::f64::consts::TAU).sin())
        .collect();
    Trace {
        start: 0,
        step: 300_000,
        filled: vec![false; values.len()],
        values,
    }
}

#[test]
fn the_predictive_policy_buys_for_the_next_step_just_in_time() {
    let t = daily_sine(4);
    let p = FleetParams::default();
    let rows = fleet::simulate(&t, &p, PolicyKind::Predictive);
    // At a step's first decision the next step is 300 s away, beyond boot + interval:
    // nothing is bought for it yet, so what is paid is what this step and the
    // stabilisation window need. The purchase comes at the 180 s decision.
    for i in 289..rows.len() {
        let need = rows[i].demand.max(rows[i - 1].demand);
        assert!(rows[i].billed <= need, "step {i}: {:?}", rows[i]);
    }
    let s = fleet::score("predictive", &rows, t.step);
    assert!(s.under_provisioned_time < 0.01, "{s:?}");
    // The bill sees the two minutes of boot bought ahead that the samples do not.
    assert!(s.cost_paid > s.cost, "{s:?}");
}

#[test]
fn under_hourly_billing_a_paid_hour_keeps_serving() {
    // One busy step, then quiet.
    let mut values = vec![10.0; 40];
    values[2] = 60.0;
    let t = Trace {
        start: 0,
        step: 300_000,
        filled: vec![false; values.len()],
        values,
    };
    let p = FleetParams {
        billing: Billing::Hour,
        peak: 6.0,
        ..FleetParams::default()
    };
    let rows = fleet::simulate(&t, &p, PolicyKind::Predictive);
    let bought = rows[3].billed;
    assert!(bought > rows[0].billed, "{:?}", &rows[..5]);
    // Within the hour every instance is paid for, they stay and serve: everything
    // paid for is ready.
    for r in &rows[4..11] {
        assert_eq!((r.ready, r.billed), (bought, bought), "{r:?}");
    }
    // The baseline releases them at once and pays for the hour anyway.
    let hpa = fleet::simulate(&t, &p, PolicyKind::Hpa);
    assert!(hpa[6].ready < hpa[6].billed, "{:?}", &hpa[..8]);
}

#[test]
fn a_scale_in_goes_down_to_what_the_next_step_needs_not_what_the_last_one_did() {
    let after_peak = |hold_hi: Option<f64>| {
        let mut p = Predictive::new(PredictiveParams::default(), NO_LIMITS);
        // A peak of 80 (10 instances at 80 % of 10), then the load falls to 16 (2).
        p.decide(&obs(0, 80.0, 10, 10, None));
        p.decide(&Observation {
            hold_hi,
            ..obs(60_000, 16.0, 10, 10, None)
        })
    };
    // No forecast past the lead time: the stabilisation window holds the peak's count.
    assert_eq!(
        after_peak(None),
        Decision {
            desired: 10,
            rule: Rule::Hold
        }
    );
    // The forecast says the next step needs 24 (3 instances): the other 7 go now.
    assert_eq!(
        after_peak(Some(24.0)),
        Decision {
            desired: 3,
            rule: Rule::Stabilised
        }
    );
    // It says 72 (9 instances): freeing one is not worth a change.
    assert_eq!(
        after_peak(Some(72.0)),
        Decision {
            desired: 10,
            rule: Rule::Hold
        }
    );
}
