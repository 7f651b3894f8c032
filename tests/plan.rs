//! Scale proposals from a target's config: price, reason, approval rules, versions.

use std::time::Duration;
use vigil::config::{ScaleTarget, load_str};
use vigil::forecast::{Forecast, HorizonForecast};
use vigil::plan::proposal::{Risk, TargetPlan};
use vigil::plan::scaling::Rule;

fn target() -> ScaleTarget {
    ScaleTarget {
        name: "web".into(),
        capacity: 100.0,
        instances: 3,
        min: 1,
        max: 10,
        target: 0.6,
        boot: Duration::from_secs(90),
        price_per_hour: 0.40,
        stabilisation: Duration::ZERO,
        manual_above: 3,
        ..ScaleTarget::default()
    }
}

fn forecast(hi: f64) -> Forecast {
    let horizons = [1, 5, 15]
        .iter()
        .map(|&s| HorizonForecast {
            steps: s,
            ts: 1_700_000_000_000 + s as i64 * 60_000,
            point: hi * 0.8,
            lo: hi * 0.6,
            hi: if s <= 5 { hi * 0.8 } else { hi * 1.6 },
            plan_hi: if s <= 5 { hi } else { hi * 2.0 },
            model: "linear".into(),
            recent_mae: Some(5.0),
        })
        .collect();
    Forecast {
        origin: 1_700_000_000_000,
        horizons,
        learning_hours: None,
        scale: 10.0,
        plan_quantile: 0.93,
    }
}

#[test]
fn a_forecast_rise_proposes_a_priced_scale_out_within_the_lead_time() {
    let mut plan = TargetPlan::new(target(), 0);
    // 150 now on 3 instances; P93 340 within the lead time (90 s boot + 60 s): at 60 %
    // (the P90, 272, would say 5)
    // of 100 each, 6 instances. The 15-minute horizon (680) is beyond the lead time.
    let p = plan
        .decide(1_700_000_000_000, 150.0, Some(&forecast(340.0)), "¥")
        .expect("a proposal");
    assert_eq!((p.from, p.to, p.rule), (3, 6, Rule::Predictive));
    assert!((p.cost_per_hour - 1.20).abs() < 1e-9 && (p.cost_per_month - 876.0).abs() < 1e-6);
    assert_eq!(p.p90, Some(340.0));
    assert_eq!(p.manual, None, "three more is not more than manual_above");
    assert_eq!(p.risk, Risk::Low);
    assert!(
        p.summary()
            .starts_with("web: 3 → 6 instances, +¥1.20/h, forecast P93 340.0 at"),
        "{}",
        p.summary()
    );
    assert!(p.summary().ends_with("boot takes 90 s"));
    assert_eq!(p.mase, Some(0.5));
}

#[test]
fn large_scale_outs_and_emergencies_need_a_person_and_versions_move_on_change() {
    let mut plan = TargetPlan::new(target(), 0);
    let p = plan.decide(0, 150.0, Some(&forecast(500.0)), "¥").unwrap();
    assert_eq!(p.to, 9);
    assert_eq!(p.manual.as_deref(), Some("scale-out by more than 3"));
    assert_eq!(p.version, 1);
    let same = plan
        .decide(60_000, 150.0, Some(&forecast(500.0)), "¥")
        .unwrap();
    assert_eq!(same.version, 1, "the same change keeps its version");
    let changed = plan
        .decide(120_000, 150.0, Some(&forecast(580.0)), "¥")
        .unwrap();
    assert_eq!(
        (changed.to, changed.version),
        (10, 2),
        "a changed proposal is a new version"
    );
    // 95 % utilisation now: an emergency, high risk, a person decides.
    let mut plan = TargetPlan::new(target(), 0);
    let e = plan.decide(0, 285.0, None, "¥").unwrap();
    assert_eq!((e.rule, e.risk), (Rule::Emergency, Risk::High));
    assert!(e.manual.is_some());
}

#[test]
fn the_shadow_ledger_compares_with_doing_nothing_and_hpa() {
    let mut plan = TargetPlan::new(target(), 0);
    // A quiet hour: 30 of load needs one instance.
    for m in 0..60 {
        if let Some(p) = plan.decide(m * 60_000, 30.0, Some(&forecast(40.0)), "¥") {
            plan.shadow_follow(&p);
        }
    }
    let l = &plan.ledger;
    assert!(
        (l.nothing - 3.0 * 0.40).abs() < 1e-9,
        "three instances for an hour: {}",
        l.nothing
    );
    assert!(l.vigil < l.nothing, "{l:?}");
    assert!(
        l.would_have[0].starts_with("web: 3 → 1 instances"),
        "{:?}",
        l.would_have
    );
}

#[test]
fn a_scale_target_with_a_bad_value_is_reported_and_left_out() {
    let src = "[[scale]]\nname = \"web\"\nmetric = \"cpu\"\n\n[[scale]]\nname = \"api\"\nmin = 3\nmax = 2\n\n[[scale]]\nname = \"ok\"\n";
    let loaded = load_str(src, "c.toml");
    let got: Vec<String> = loaded.problems.iter().map(|p| p.to_string()).collect();
    assert!(
        got[0].starts_with("c.toml:3: scale.0.metric: expected one of cpu_pct"),
        "{got:?}"
    );
    assert_eq!(
        got[1],
        "c.toml:7: scale.1.min: must be at least 1 and at most max (2), got 3"
    );
    let names: Vec<&str> = loaded
        .config
        .scale
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(names, vec!["ok"]);
}

#[test]
fn at_the_ceiling_and_still_short_a_bigger_size_is_proposed() {
    let t = ScaleTarget {
        instances: 10,
        resize_to: Some(vigil::config::Flavor {
            name: "c2.xlarge".into(),
            capacity: 200.0,
            price_per_hour: 0.80,
            cpus: 2.0,
            memory_mib: 2048,
        }),
        ..target()
    };
    let mut plan = TargetPlan::new(t, 0);
    // 700 on ten instances of 100 at a 60 % target wants 12; max is 10.
    let p = plan.decide(0, 700.0, None, "¥").expect("a proposal");
    assert_eq!(p.rule, Rule::Vertical);
    assert_eq!(
        (p.from, p.to, p.resize.as_deref()),
        (10, 10, Some("c2.xlarge"))
    );
    assert!(
        (p.cost_per_hour - 4.0).abs() < 1e-9,
        "ten instances at +¥0.40/h each"
    );
    assert_eq!(
        p.manual.as_deref(),
        Some("a resize restarts every instance")
    );
    assert!(
        p.summary()
            .starts_with("web: resize 10 instance(s) to c2.xlarge, +¥4.00/h"),
        "{}",
        p.summary()
    );
    // Once resized (in shadow, as if run), the same load fits: nothing more to propose.
    plan.shadow_follow(&p);
    assert_eq!(
        plan.decide(60_000, 700.0, None, "¥").map(|p| p.rule),
        Some(Rule::Reactive)
    );
    // Below the ceiling, scaling out comes first.
    let mut plan = TargetPlan::new(
        ScaleTarget {
            instances: 8,
            ..plan.cfg.clone()
        },
        0,
    );
    assert_eq!(
        plan.decide(0, 500.0, None, "¥").map(|p| p.resize),
        Some(None)
    );
}
