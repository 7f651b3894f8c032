//! Budget: one frame of the overview at 200×50 renders in at most 1 ms, with a full
//! hour of one-second history behind every chart.

use criterion::{Criterion, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::hint::black_box;
use vigil::collect::Metric;
use vigil::console::app::App;
use vigil::console::i18n::Lang;
use vigil::console::theme::Theme;
use vigil::console::ui;
use vigil::engine::Snapshot;

fn full_hour(mut snap: Snapshot) -> Snapshot {
    let now = snap.ts;
    for m in Metric::ALL {
        let h = (0..3600)
            .map(|i| {
                (
                    now - 3_600_000 + i * 1000,
                    50.0 + 40.0 * (i as f64 / 300.0).sin(),
                )
            })
            .collect();
        snap.history.insert(m, h);
    }
    let long = snap
        .history
        .iter()
        .map(|(m, h)| (*m, h.iter().copied().collect()))
        .collect();
    snap.forecasts = vigil::engine::forecasts::Forecasts::warm(&long, now, 90_000).latest;
    snap
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let snap = full_hour(rt.block_on(vigil::engine::snapshot_once(
        vigil::config::Config::default(),
    )));
    let app = App::new(Theme::built_in("default").expect("theme"), Lang::En);
    let mut terminal = Terminal::new(TestBackend::new(200, 50)).expect("terminal");
    c.bench_function("overview frame 200x50", |b| {
        b.iter(|| {
            terminal
                .draw(|f| ui::draw(f, &app, black_box(&snap)))
                .map(|_| ())
        })
    });
    let mut forecast_app = App::new(Theme::built_in("default").expect("theme"), Lang::En);
    forecast_app.view = vigil::console::app::View::Forecast;
    c.bench_function("forecast view frame 200x50", |b| {
        b.iter(|| {
            terminal
                .draw(|f| ui::draw(f, &forecast_app, black_box(&snap)))
                .map(|_| ())
        })
    });
    c.bench_function("snapshot copy per frame", |b| {
        b.iter(|| black_box(&snap).clone())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
