//! History in real SQLite: tiers roll up and expire, survive a restart, and a broken
//! database never stops vigil.

use std::time::Duration;
use vigil::store::{Retention, Store};

const RET: Retention = Retention {
    raw: Duration::from_secs(3600),
    minute: Duration::from_secs(8 * 86_400),
    hour: Duration::from_secs(90 * 86_400),
};

const T0: i64 = 1_699_999_200_000; // on a whole hour, in ms

/// Two hours of one sample every 10 s: value = minute index, so averages are checkable.
fn fill(store: &mut Store) -> i64 {
    let mut now = T0;
    for i in 0..720 {
        now = T0 + i * 10_000;
        store.insert(now, &[("cpu_pct", (i / 6) as f64), ("mem_pct", 50.0)]);
        if i % 6 == 5 {
            store.maintain(now + 1);
        }
    }
    store.maintain(now + 10_000);
    now + 10_000
}

#[test]
fn raw_samples_roll_up_into_minutes_and_expire_after_an_hour() {
    let mut store = Store::memory(RET);
    let now = fill(&mut store);
    let [raw, minute, hour] = store.counts();
    // One hour of raw samples (2 series × 360) is kept; all 120 minutes of both series.
    assert_eq!(raw, 2 * 360);
    assert_eq!(minute, 2 * 120);
    assert_eq!(hour, 2 * 2);
    let h = store.history("cpu_pct", T0);
    // Older than the raw window: minute averages, one per minute, value = minute index.
    let minutes: Vec<&(i64, f64)> = h.iter().filter(|(t, _)| *t < now - 3_600_000).collect();
    assert_eq!(minutes.len(), 60);
    for (i, (t, v)) in minutes.iter().enumerate() {
        assert_eq!(*t, T0 + i as i64 * 60_000);
        assert_eq!(*v, i as f64);
    }
    // Then every raw sample of the last hour, in order, without overlap.
    assert_eq!(h.len(), 60 + 360);
    assert!(h.windows(2).all(|w| w[0].0 < w[1].0));
}

#[test]
fn history_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/vigil.db");
    {
        let mut store = Store::open(Some(&path), RET);
        assert!(store.notice().is_none(), "{:?}", store.notice());
        store.insert(T0, &[("cpu_pct", 12.5)]);
        store.insert(T0 + 1000, &[("cpu_pct", 13.5)]);
    }
    let store = Store::open(Some(&path), RET);
    assert_eq!(store.path(), Some(path.as_path()));
    assert_eq!(
        store.history("cpu_pct", 0),
        vec![(T0, 12.5), (T0 + 1000, 13.5)]
    );
}

#[test]
fn a_corrupt_database_is_reported_and_vigil_runs_on_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vigil.db");
    std::fs::write(&path, vec![0x5a; 8192]).unwrap();
    let mut store = Store::open(Some(&path), RET);
    let notice = store.notice().expect("a notice").to_string();
    assert!(
        notice.contains("vigil.db") && notice.contains("not a database"),
        "{notice}"
    );
    assert!(notice.contains("memory"), "{notice}");
    assert!(store.path().is_none());
    store.insert(T0, &[("cpu_pct", 1.0)]);
    assert_eq!(store.history("cpu_pct", 0), vec![(T0, 1.0)]);
    // The operator's file is left as it was, for them to inspect.
    assert_eq!(std::fs::read(&path).unwrap(), vec![0x5a; 8192]);
}

#[test]
fn a_locked_database_is_reported_and_vigil_runs_on_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vigil.db");
    let holder = rusqlite::Connection::open(&path).unwrap();
    holder
        .execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; CREATE TABLE t(x);")
        .unwrap();
    let store = Store::open(Some(&path), RET);
    let notice = store.notice().expect("a notice").to_string();
    assert!(notice.contains("locked"), "{notice}");
    drop(holder);
}

#[test]
fn non_finite_values_are_not_stored() {
    let mut store = Store::memory(RET);
    store.insert(
        T0,
        &[
            ("cpu_pct", f64::NAN),
            ("mem_pct", f64::INFINITY),
            ("load1", 0.5),
        ],
    );
    assert_eq!(store.counts()[0], 1);
}
