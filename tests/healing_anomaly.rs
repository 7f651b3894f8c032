//! The per-series detector runs live: a host series far from its own baseline opens an
//! incident with the detector's numbers, answered by the `unusual-host-metric` playbook
//! (notify, then check that it settles). The history is written to the engine's store
//! before it starts, as a restart after two calm days and ten hot minutes would find it.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use vigil::collect::host::HostCollector;
use vigil::config::{Config, Mode};
use vigil::engine::{Engine, Snapshot, Source, SystemClock};
use vigil::protocol::{IncidentState, IncidentView, StepState};
use vigil::store::Store;

const MIN: i64 = 60_000;

fn config(dir: &Path) -> Config {
    let mut c = Config {
        mode: Mode::Live,
        ..Config::default()
    };
    c.store.path = Some(dir.join("vigil.db"));
    c.audit.path = Some(dir.join("audit.jsonl"));
    c.daemon.brake = Some(dir.join("brake"));
    c.daemon.socket = Some(dir.join("vigil.sock"));
    c.audit.syslog = None;
    c.heal.host_disk = false;
    // No container of this test is watched: only the host's series matter here.
    c.heal.label = format!("vigil.heal.anomaly{}", std::process::id());
    c.playbooks.dir = Some(dir.join("playbooks"));
    c
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Two days of a memory share that follows the hours of the day (a little noisy), then
/// `level` from `hot` whole minutes before the current five-minute slot up to now (the
/// detector judges five-minute means: whole hot slots make the figures exact).
fn seed(cfg: &Config, hot: i64, level: f64) {
    let now = now_ms().div_euclid(MIN) * MIN;
    let hot_from = now.div_euclid(5 * MIN) * 5 * MIN - hot * MIN;
    let mut store = Store::open(cfg.store.path.as_deref(), vigil::engine::retention(cfg));
    let from = now - 2 * 86_400_000;
    let mut t = from;
    while t < now {
        let v = if hot > 0 && t >= hot_from {
            level
        } else {
            let h = (t % 86_400_000) as f64 / 86_400_000.0 * std::f64::consts::TAU;
            30.0 + 5.0 * h.sin() + ((t / MIN) * 7919 % 13) as f64 / 26.0
        };
        store.insert(t, &[("mem_pct", v)]);
        t += MIN;
    }
}

async fn until(
    e: &mut Engine,
    rx: &tokio::sync::watch::Receiver<Snapshot>,
    what: &str,
    secs: u64,
    pred: impl Fn(&Snapshot) -> bool,
) -> Snapshot {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        e.tick().await;
        e.pump(Duration::from_millis(200)).await;
        {
            let s = rx.borrow();
            if pred(&s) {
                return s.clone();
            }
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not within {secs} s; incidents: {:#?}",
            rx.borrow().incidents
        );
    }
}

fn start(cfg: Config) -> (Engine, tokio::sync::watch::Receiver<Snapshot>) {
    let (e, rx) = Engine::new(
        cfg,
        Arc::new(SystemClock),
        Source::Host(Box::new(HostCollector::proc())),
        Vec::new(),
    );
    e.start_watchers();
    (e, rx)
}

/// A few passes of the healing loop over real samples.
async fn a_few_samples(e: &mut Engine, rx: &tokio::sync::watch::Receiver<Snapshot>) -> Snapshot {
    until(e, rx, "a few samples", 30, |s| {
        s.history
            .get(&vigil::protocol::Metric::Cpu)
            .is_some_and(|h| h.len() >= 3)
    })
    .await
}

fn on_memory(s: &Snapshot) -> Option<IncidentView> {
    s.incidents
        .iter()
        .find(|i| i.trigger == "anomaly" && i.target == "mem_pct")
        .cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_series_far_from_its_baseline_opens_an_incident_that_notifies_and_waits_to_settle() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    seed(&cfg, 10, 97.0);
    let (mut e, rx) = start(cfg);
    let s = until(&mut e, &rx, "an anomaly incident on mem_pct", 30, |s| {
        on_memory(s).is_some_and(|i| {
            i.steps
                .iter()
                .any(|st| st.name == "notify" && st.state == StepState::Done)
        })
    })
    .await;
    let inc = on_memory(&s).unwrap();
    assert_eq!(inc.playbook.as_deref(), Some("unusual-host-metric"));
    // Notified, not fixed: it now waits for the series to settle.
    assert_eq!(inc.state, IncidentState::Verifying, "{inc:#?}");
    // The flagged five minutes against what the day's pattern expected.
    let ev = |n: &str| inc.evidence.iter().find(|e| e.name == n).map(|e| e.value);
    let (value, expected) = (ev("value").unwrap(), ev("expected").unwrap());
    assert!((value - 97.0).abs() < 0.01 && expected < 40.0, "{inc:#?}");
    assert!(
        inc.diagnosis
            .iter()
            .any(|d| d.starts_with("mem_pct is far from its usual level")),
        "{inc:#?}"
    );
    // It began with the hot minutes, not when vigil started.
    assert!(inc.started < now_ms() - 9 * MIN, "{inc:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_calm_history_opens_nothing_and_the_switch_turns_the_detector_off() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    seed(&cfg, 0, 0.0);
    let (mut e, rx) = start(cfg);
    let s = a_few_samples(&mut e, &rx).await;
    assert!(on_memory(&s).is_none(), "{:#?}", s.incidents);

    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.heal.anomalies = false;
    seed(&cfg, 10, 97.0);
    let (mut e, rx) = start(cfg);
    let s = a_few_samples(&mut e, &rx).await;
    assert!(on_memory(&s).is_none(), "{:#?}", s.incidents);
}
