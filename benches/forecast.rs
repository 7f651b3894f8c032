//! Budgets: a new sample updates a series' state and forecast in at most 50 µs (the
//! trees' prediction for all horizons at most 100 µs); a refit of the hourly models on a
//! week of one-minute data (10,080 points) takes at most 100 ms (off the tick); the
//! trees' refits of one series (5 horizons, four a day) at most 86 s a day together,
//! 0.1 % of a core, so one refit at most 21 s; their fitted models at most 2 MiB; a
//! whole `backtest forecast` of a 4,000-row trace takes at most 5 s.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use vigil::forecast::models::{Gbm, Linear};
use vigil::forecast::{Forecaster, ForecasterConfig, History, Model};
use vigil::sim::backtest;
use vigil::sim::trace::Trace;

/// A week of one-minute load: daily cycle, weekly dip, noise from a fixed generator.
fn week(n: usize, step_minutes: usize) -> Vec<f64> {
    let mut x = 7u64;
    (0..n)
        .map(|i| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let noise = (x >> 40) as f64 / (1u64 << 24) as f64 - 0.5;
            let day = (i * step_minutes) as f64 / 1440.0;
            40.0 + 20.0 * (day * std::f64::consts::TAU).sin()
                - if (day as usize) % 7 >= 5 { 10.0 } else { 0.0 }
                + 8.0 * noise
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let values = week(10_080, 1);
    let mut cfg = ForecasterConfig::new(vec![1, 5, 15, 30, 60]);
    cfg.max_history = 10_080;
    cfg.refit_every = usize::MAX;
    let mut f = Forecaster::new(cfg, 0, 60_000);
    f.extend_quietly(&values[..values.len() - 600]);
    f.refit();
    for v in &values[values.len() - 600..] {
        f.push(*v);
    }
    let mut i = 0;
    c.bench_function("forecast update per sample (1 series, 5 horizons)", |b| {
        b.iter(|| {
            i += 1;
            black_box(f.push(values[i % values.len()]))
        })
    });
    // The trees alone: fitted once on the week, as each of their refits does.
    let horizons = [1, 5, 15, 30, 60];
    let h = History {
        values: &values,
        start: 0,
        step: 60_000,
    };
    let mut gbm = Gbm::default();
    gbm.fit(&h, &horizons);
    eprintln!(
        "gbm: fitted trees of one series (5 horizons, 10,080 points) hold {:.2} MiB",
        gbm.bytes() as f64 / (1024.0 * 1024.0)
    );
    c.bench_function("gbm prediction, 5 horizons", |b| {
        b.iter(|| black_box(gbm.predict(&h, &horizons)))
    });
    let mut group = c.benchmark_group("slow");
    // Seconds a fit: ten samples, not criterion's hundred.
    group.sample_size(10);
    group.bench_function(
        "gbm refit (four a day), 5 horizons on 10,080 one-minute points",
        |b| {
            b.iter(|| {
                let mut g = Gbm::default();
                g.fit(&h, &horizons);
                black_box(g.bytes())
            })
        },
    );
    // The hourly refit: the linear model (the naive ones have nothing to fit).
    group.bench_function("refit one series on 10,080 one-minute points", |b| {
        b.iter(|| {
            let mut m = Linear::default();
            m.fit(&h, &horizons);
            black_box(m.predict(&h, &horizons))
        })
    });
    // The peer: augurs' own AutoETS fit on the same week, for the ratio in the README.
    group.bench_function("peer: augurs AutoETS fit on 10,080 points", |b| {
        use augurs_core::Fit;
        b.iter(|| black_box(augurs_ets::AutoETS::non_seasonal().fit(&values).is_ok()))
    });
    let n = 4032;
    let trace = Trace {
        start: 0,
        step: 300_000,
        values: week(n, 5),
        filled: vec![false; n],
    };
    group.bench_function("backtest forecast, 4,032 rows, horizons 1,3,12", |b| {
        b.iter(|| black_box(backtest::forecast(&trace, &[1, 3, 12], None).map(|r| r.0.len())))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
