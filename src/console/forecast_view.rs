//! The Forecast view: for each key series, the last hour and the next on one chart with
//! the 80 % band shaded, the model that leads, its recent MASE, and the P90 in 15 min
//! and in 1 h.

use super::app::App;
use super::format;
use super::i18n::{Msg, tr};
use crate::protocol::{FORECAST_METRICS as METRICS, Forecast, Metric, Snapshot};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::widgets::canvas::{Canvas, Line as Segment, Points};

fn title(m: Metric) -> Msg {
    match m {
        Metric::Cpu => Msg::Cpu,
        Metric::Mem => Msg::Memory,
        Metric::DiskUsed => Msg::Disk,
        _ => Msg::Network,
    }
}

fn fmt_value(m: Metric, v: f64) -> String {
    match m {
        Metric::NetRx | Metric::NetTx | Metric::DiskRead | Metric::DiskWrite => format::rate(v),
        // A share cannot pass 100 %: a band above it means "saturated".
        _ => format!("{:.1}%", v.clamp(0.0, 100.0)),
    }
}

pub fn draw(f: &mut Frame, app: &App, snap: &Snapshot, area: Rect) {
    let rows = Layout::vertical([Constraint::Ratio(1, 2); 2]).split(area);
    let cells: Vec<Rect> = rows
        .iter()
        .flat_map(|r| {
            Layout::horizontal([Constraint::Ratio(1, 2); 2])
                .split(*r)
                .to_vec()
        })
        .collect();
    for (m, cell) in METRICS.iter().zip(cells) {
        panel(f, app, snap, *m, cell);
    }
}

/// The band and point between forecast horizons, linearly, so the shading is solid.
fn interpolate(fc: &Forecast, x_min: f64) -> Option<(f64, f64, f64)> {
    let origin = (0.0, fc.horizons.first()?.point);
    let mut prev = (origin.0, origin.1, origin.1, origin.1);
    for h in &fc.horizons {
        let x = (h.ts - fc.origin) as f64 / 60_000.0;
        if x_min <= x {
            let span = (x - prev.0).max(1e-9);
            let w = ((x_min - prev.0) / span).clamp(0.0, 1.0);
            let lerp = |a: f64, b: f64| a + w * (b - a);
            return Some((
                lerp(prev.1, h.point),
                lerp(prev.2, h.lo),
                lerp(prev.3, h.hi),
            ));
        }
        prev = (x, h.point, h.lo, h.hi);
    }
    None
}

fn panel(f: &mut Frame, app: &App, snap: &Snapshot, m: Metric, area: Rect) {
    let t = &app.theme;
    let l = app.lang;
    let fc = snap.forecasts.get(&m);
    let now = snap.ts;
    // At most one point per braille column: an hour of seconds is 3,600 points.
    let stride = snap
        .history
        .get(&m)
        .map(|h| h.len() / (area.width as usize).max(1) + 1)
        .unwrap_or(1);
    let history: Vec<(f64, f64)> = snap
        .history
        .get(&m)
        .map(|h| {
            h.iter()
                .step_by(stride)
                .map(|&(ts, v)| ((ts - now) as f64 / 60_000.0, v))
                .collect()
        })
        .unwrap_or_default();
    let mut head = vec![Span::styled(format!(" {} ", tr(l, title(m))), t.title())];
    if let Some(fc) = fc {
        let lead = fc
            .horizons
            .iter()
            .find(|h| h.steps == 15)
            .or(fc.horizons.first());
        if let Some(h) = lead {
            head.push(Span::styled(format!("· {} ", h.model), t.muted()));
        }
        // MASE is scaled by one-step changes: read it at one step ahead.
        if let Some(mase) = fc.mase(0) {
            head.push(Span::styled(format!("· MASE {mase:.2} "), t.muted()));
        }
    }
    let block = super::ui::block(app, Line::from(head));
    let inner = block.inner(area);
    f.render_widget(block, area);
    // A series this source does not have (memory in a replay) is said to be absent,
    // not drawn as a flat zero.
    if history.iter().all(|&(_, v)| v == 0.0) {
        f.render_widget(
            Paragraph::new(Line::styled(tr(l, Msg::NoData), t.muted())),
            inner,
        );
        return;
    }
    let [chart_area, foot] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(1)]).areas(inner);

    let percent = !matches!(
        m,
        Metric::NetRx | Metric::NetTx | Metric::DiskRead | Metric::DiskWrite
    );
    let top = if percent {
        100.0
    } else {
        let hist_max = history.iter().map(|p| p.1).fold(0.0, f64::max);
        let fc_max = fc
            .map(|f| f.horizons.iter().map(|h| h.hi).fold(0.0, f64::max))
            .unwrap_or(0.0);
        (hist_max.max(fc_max) * 1.1).max(1.0)
    };
    // One band column per braille dot column.
    let cols = (chart_area.width as usize * 2).max(2);
    let band: Vec<(f64, f64, f64, f64)> = fc
        .map(|fc| {
            (0..cols / 2)
                .filter_map(|i| {
                    let x = i as f64 * 60.0 / (cols / 2) as f64 + 0.5;
                    interpolate(fc, x).map(|(p, lo, hi)| (x, p, lo, hi))
                })
                .collect()
        })
        .unwrap_or_default();
    let (chart_c, band_c, muted) = (t.chart, t.band, t.muted);
    let canvas = Canvas::default()
        .marker(Marker::Braille)
        .x_bounds([-60.0, 60.0])
        .y_bounds([0.0, top])
        .paint(move |ctx| {
            for &(x, _, lo, hi) in &band {
                ctx.draw(&Segment {
                    x1: x,
                    y1: lo.max(0.0),
                    x2: x,
                    y2: hi.min(top),
                    color: band_c,
                });
            }
            ctx.layer();
            ctx.draw(&Segment {
                x1: 0.0,
                y1: 0.0,
                x2: 0.0,
                y2: top,
                color: muted,
            });
            for w in history.windows(2) {
                let ((x1, y1), (x2, y2)) = (w[0], w[1]);
                ctx.draw(&Segment {
                    x1,
                    y1,
                    x2,
                    y2,
                    color: chart_c,
                });
            }
            let path: Vec<(f64, f64)> = band.iter().map(|&(x, p, _, _)| (x, p)).collect();
            ctx.draw(&Points {
                coords: &path,
                color: chart_c,
            });
        });
    f.render_widget(canvas, chart_area);

    let text = match fc {
        None => Line::styled(tr(l, Msg::Waiting), t.muted()),
        Some(fc) => {
            let at = |steps: usize| {
                fc.horizons
                    .iter()
                    .find(|h| h.steps == steps)
                    .map(|h| fmt_value(m, h.hi))
            };
            let mut spans = vec![
                Span::styled(format!("P90 {} ", tr(l, Msg::In15m)), t.muted()),
                Span::styled(
                    at(15).unwrap_or_else(|| "–".into()),
                    Style::default().fg(t.warn),
                ),
                Span::styled(format!("  {} ", tr(l, Msg::In1h)), t.muted()),
                Span::styled(
                    at(60).unwrap_or_else(|| "–".into()),
                    Style::default().fg(t.warn),
                ),
            ];
            if let Some(hours) = fc.learning_hours {
                spans.push(Span::styled(
                    format!(
                        "  {} {:.1} {}",
                        tr(l, Msg::Learning),
                        hours,
                        tr(l, Msg::MoreHours)
                    ),
                    Style::default().fg(t.accent),
                ));
            }
            Line::from(spans)
        }
    };
    f.render_widget(Paragraph::new(text), foot);
}
