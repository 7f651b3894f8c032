//! Drawing. Pure functions of the console state and the engine's snapshot, so that
//! `TestBackend` snapshots show exactly what an operator sees.

use super::app::Dialog;
use super::app::{App, View};
use super::format;
use super::i18n::{Msg, tr};
use super::keymap::KEYMAP;
use crate::protocol::{Link, Metric, Mode, Severity, Snapshot};
use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Block, Borders, Cell, Chart, Clear, Dataset, GraphType, Paragraph, Row, Sparkline, Table,
    Wrap,
};
use std::collections::VecDeque;

pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

pub fn draw(f: &mut Frame, app: &App, snap: &Snapshot) {
    let area = f.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        too_small(f, app, area);
        return;
    }
    let [header, tabs, body, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(f, app, snap, header);
    draw_tabs(f, app, snap, tabs);
    match app.view {
        View::Overview => overview(f, app, snap, body),
        View::Forecast => super::forecast_view::draw(f, app, snap, body),
        View::Actions => super::actions_view::draw(f, app, snap, body),
        View::Containers => super::containers_view::draw(f, app, snap, body),
        View::Audit => super::audit_view::draw(f, app, snap, body),
        View::Incidents => super::incidents_view::draw(f, app, snap, body),
    }
    draw_status(f, app, snap, status);
    if let Link::Lost { socket, reason } = &snap.link {
        // The numbers are old: grey them, and say why in the line they cannot miss.
        f.buffer_mut().set_style(
            area,
            Style::default()
                .fg(app.theme.muted)
                .add_modifier(Modifier::DIM),
        );
        let line = Line::from(vec![
            Span::styled(
                " ✖ ",
                Style::default()
                    .fg(app.theme.crit)
                    .add_modifier(Modifier::BOLD),
            ),
            Span::styled(
                format!("{} ({socket}: {reason})", tr(app.lang, Msg::EngineLost)),
                Style::default().fg(app.theme.crit),
            ),
        ]);
        f.render_widget(Clear, tabs);
        f.render_widget(Paragraph::new(line), tabs);
    }
    if let Some(d) = &app.dialog {
        dialog(f, app, d, area);
    }
    if app.help {
        help(f, app, area);
    }
}

fn too_small(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let text = vec![
        Line::styled(tr(app.lang, Msg::TooSmall), t.title()),
        Line::raw(format!(
            "{}×{} < {MIN_WIDTH}×{MIN_HEIGHT}",
            area.width, area.height
        )),
        Line::styled("q", t.muted()),
    ];
    let y = area.height.saturating_sub(3) / 2;
    let r = Rect {
        y: area.y + y,
        height: area.height.min(3),
        ..area
    };
    f.render_widget(
        Paragraph::new(text)
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true }),
        r,
    );
}

fn draw_header(f: &mut Frame, app: &App, snap: &Snapshot, area: Rect) {
    let t = &app.theme;
    let l = app.lang;
    let badge = match snap.mode {
        Mode::Shadow => Span::styled(tr(l, Msg::Shadow), t.badge(false)),
        Mode::Live => Span::styled(tr(l, Msg::Live), t.badge(true)),
    };
    let uptime = snap
        .latest
        .as_ref()
        .map(|s| format::uptime(s.uptime_secs))
        .unwrap_or_else(|| "–".into());
    let mut left = vec![
        Span::styled(" vigil ", t.title()),
        Span::styled(
            snap.host.name.clone(),
            t.text().add_modifier(Modifier::BOLD),
        ),
        Span::styled(format!("  {} {uptime}", tr(l, Msg::Up)), t.muted()),
        Span::styled(
            format!("  {} {}", tr(l, Msg::Source), snap.source),
            t.muted(),
        ),
    ];
    if let Some(n) = snap.latest.as_ref().and_then(|s| s.containers_running) {
        left.push(Span::styled(
            format!("  {} {n}", tr(l, Msg::Containers)),
            t.muted(),
        ));
    }
    if matches!(snap.link, Link::Attached { .. }) {
        left.push(Span::styled(
            format!("  [{}]", tr(l, Msg::Attached)),
            t.muted(),
        ));
    }
    if snap.paused {
        left.push(Span::raw("  "));
        left.push(Span::styled(
            format!("[{}]", tr(l, Msg::Paused)),
            Style::default().fg(t.warn).add_modifier(Modifier::BOLD),
        ));
    }
    let badge = if snap.brake {
        Line::from(vec![
            Span::styled(
                format!(" {} ", tr(l, Msg::BrakeOn)),
                Style::default()
                    .fg(t.crit)
                    .add_modifier(Modifier::BOLD | Modifier::REVERSED),
            ),
            Span::raw(" "),
            badge,
        ])
    } else {
        Line::from(badge)
    };
    let badge_w = badge.width() as u16;
    let [l_area, b_area] =
        Layout::horizontal([Constraint::Min(0), Constraint::Length(badge_w)]).areas(area);
    f.render_widget(Paragraph::new(Line::from(left)), l_area);
    f.render_widget(Paragraph::new(badge), b_area);
}

fn draw_tabs(f: &mut Frame, app: &App, snap: &Snapshot, area: Rect) {
    let t = &app.theme;
    // A problem with vigil itself outranks the tab strip: it is why numbers may be wrong.
    if let Some(n) = snap.notices.iter().max_by_key(|n| n.severity as u8) {
        let (sign, color) = match n.severity {
            Severity::Error => ("✖", t.crit),
            Severity::Warn => ("⚠", t.warn),
            Severity::Info => ("ℹ", t.accent),
        };
        let more = if snap.notices.len() > 1 {
            format!(" (+{})", snap.notices.len() - 1)
        } else {
            String::new()
        };
        let line = Line::from(vec![
            Span::styled(
                format!(" {sign} "),
                Style::default().fg(color).add_modifier(Modifier::BOLD),
            ),
            Span::styled(format!("{}{more}", n.text), Style::default().fg(color)),
        ]);
        f.render_widget(Paragraph::new(line), area);
        return;
    }
    let mut spans = Vec::new();
    for (i, v) in View::ALL.iter().enumerate() {
        let label = format!(" {} {} ", i + 1, tr(app.lang, v.title()));
        let style = if *v == app.view {
            t.title().add_modifier(Modifier::REVERSED)
        } else {
            t.muted()
        };
        spans.push(Span::styled(label, style));
        spans.push(Span::raw(" "));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// A box of at most `w`×`h` in the middle of `area`, for overlays.
fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let (w, h) = (w.min(area.width), h.min(area.height));
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

/// A confirmation box over the view: the question, and for a risky approval the name to
/// type and what has been typed so far.
fn dialog(f: &mut Frame, app: &App, d: &Dialog, area: Rect) {
    let t = &app.theme;
    let l = app.lang;
    let lines = match d {
        Dialog::YesNo { question, .. } => vec![Line::styled(tr(l, *question), t.text())],
        Dialog::TypeToApprove {
            id,
            version,
            subject,
            typed,
        } => vec![
            Line::styled(format!("{id} v{version}"), t.title()),
            Line::styled(tr(l, Msg::TypeToConfirm), t.text()),
            Line::styled(
                format!("  {subject}"),
                Style::default().fg(t.warn).add_modifier(Modifier::BOLD),
            ),
            Line::from(vec![
                Span::styled("> ", t.muted()),
                Span::styled(typed.clone(), t.text().add_modifier(Modifier::BOLD)),
                Span::styled("_", t.muted()),
            ]),
        ],
    };
    let r = centered(area, 64, lines.len() as u16 + 4);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: true }).block(block(
            app,
            Span::styled(
                format!(" {} ", tr(l, Msg::Confirm)),
                Style::default().fg(t.crit).add_modifier(Modifier::BOLD),
            ),
        )),
        r,
    );
}

fn draw_status(f: &mut Frame, app: &App, snap: &Snapshot, area: Rect) {
    let t = &app.theme;
    let mut spans = Vec::new();
    // The answer to the last key comes first: the console's own, else the engine's.
    let said = app
        .note
        .map(|m| tr(app.lang, m).to_string())
        .or_else(|| snap.message.clone());
    if let Some(m) = said {
        spans.push(Span::styled(
            format!(" {m} "),
            Style::default().fg(t.warn).add_modifier(Modifier::BOLD),
        ));
    }
    for b in KEYMAP.iter().filter(|b| b.hint) {
        spans.push(Span::styled(
            format!(" {} ", b.label),
            t.title().add_modifier(Modifier::REVERSED),
        ));
        spans.push(Span::styled(
            format!(" {}  ", tr(app.lang, b.short)),
            t.muted(),
        ));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

pub(super) fn block<'a>(app: &App, title: impl Into<Line<'a>>) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(app.theme.border())
        .title(title.into())
}

/// Sparklines draw integers: keep two decimals of a percentage or a rate.
/// A sparkline column is a fixed slot of wall-clock time (its samples' peak), so the
/// picture only shifts once per slot: between shifts just the newest column is redrawn,
/// which keeps an attached console's terminal traffic low over SSH.
const SPARK_SLOT_MS: i64 = 10_000;

fn spark_data(history: Option<&VecDeque<(i64, f64)>>, interval_ms: u64, width: usize) -> Vec<u64> {
    let Some(h) = history else { return Vec::new() };
    let Some(&(newest, _)) = h.back() else {
        return Vec::new();
    };
    // Sampled less often than a slot: one sample per column, else columns would be gaps.
    let slot = SPARK_SLOT_MS
        .max(interval_ms.min(i64::MAX as u64) as i64)
        .max(1);
    let last = newest.div_euclid(slot);
    let first = last - width as i64 + 1;
    let mut cols: Vec<Option<u64>> = vec![None; width];
    for &(ts, v) in h.iter().rev() {
        let k = ts.div_euclid(slot);
        if k < first {
            break;
        }
        let Some(c) = cols.get_mut((k - first) as usize) else {
            continue;
        };
        let v = (v.max(0.0) * 100.0) as u64;
        *c = Some(c.map_or(v, |o| o.max(v)));
    }
    // Columns before the history began are not drawn at all.
    let skip = cols.iter().take_while(|c| c.is_none()).count();
    cols[skip..].iter().map(|c| c.unwrap_or(0)).collect()
}

struct Tile {
    title: Msg,
    /// The forecast's highest P90 over the next hour, formatted.
    peak: Option<String>,
    value: String,
    detail: String,
    style: Style,
    metric: Metric,
    /// Sparkline ceiling; None scales to the data.
    max: Option<f64>,
}

fn tiles(app: &App, snap: &Snapshot) -> Vec<Tile> {
    let t = &app.theme;
    let l = app.lang;
    let Some(s) = &snap.latest else {
        return Vec::new();
    };
    let fs = s.fullest_fs();
    let disk_pct = fs.map(|f| f.used_pct()).unwrap_or(0.0);
    let cores = snap.host.cores.max(1) as f64;
    let peak = |m: Metric, fmt: &dyn Fn(f64) -> String| {
        snap.forecasts
            .get(&m)
            .and_then(|f| f.peak_p90())
            .map(|(_, v)| format!("1h≤{}", fmt(v)))
    };
    let pct = |v: f64| format!("{:.0}%", v.clamp(0.0, 100.0));
    let no_mem = s.mem_total == 0;
    let dash = || "–".to_string();
    vec![
        Tile {
            peak: peak(Metric::Cpu, &pct),
            title: Msg::Cpu,
            value: format!("{:.1}%", s.cpu_pct),
            detail: format!("iowait {:.1}%", s.iowait_pct),
            style: t.level(s.cpu_pct, 70.0, 90.0),
            metric: Metric::Cpu,
            max: Some(100.0),
        },
        Tile {
            peak: if no_mem {
                None
            } else {
                peak(Metric::Mem, &pct)
            },
            title: Msg::Memory,
            value: if no_mem {
                dash()
            } else {
                format!("{:.1}%", s.mem_pct())
            },
            detail: format!(
                "{}/{}{}",
                format::bytes_short(s.mem_used as f64),
                format::bytes_short(s.mem_total as f64),
                if s.swap_total > 0 {
                    format!(" {} {:.0}%", tr(l, Msg::Swap), s.swap_pct())
                } else {
                    String::new()
                }
            ),
            style: t.level(s.mem_pct(), 80.0, 95.0),
            metric: Metric::Mem,
            max: Some(100.0),
        },
        Tile {
            peak: fs.and_then(|_| peak(Metric::DiskUsed, &pct)),
            title: Msg::Disk,
            value: if fs.is_none() {
                dash()
            } else {
                format!("{disk_pct:.1}%")
            },
            detail: format!(
                "{}{} {}{}",
                tr(l, Msg::Read),
                format::bytes_short(s.disk_read_bps),
                tr(l, Msg::Write),
                format::bytes_short(s.disk_write_bps)
            ),
            style: t.level(disk_pct, 80.0, 90.0),
            metric: Metric::DiskWrite,
            max: None,
        },
        Tile {
            peak: if s.net.is_empty() {
                None
            } else {
                peak(Metric::NetRx, &|v| format::bytes_short(v))
            },
            title: Msg::Network,
            value: if s.net.is_empty() {
                dash()
            } else {
                format!("↓{}", format::rate(s.net_rx_bps()))
            },
            detail: format!("↑{}", format::rate(s.net_tx_bps())),
            style: Style::default().fg(t.accent),
            metric: Metric::NetRx,
            max: None,
        },
        Tile {
            peak: None,
            title: Msg::Load,
            value: if no_mem {
                dash()
            } else {
                format!("{:.2}", s.load1)
            },
            detail: format!("{:.2} {:.2}", s.load5, s.load15),
            style: t.level(s.load1 / cores, 1.0, 2.0),
            metric: Metric::Load1,
            max: None,
        },
    ]
}

fn overview(f: &mut Frame, app: &App, snap: &Snapshot, area: Rect) {
    let t = &app.theme;
    if snap.latest.is_none() {
        f.render_widget(
            Paragraph::new(tr(app.lang, Msg::Waiting))
                .style(t.muted())
                .alignment(Alignment::Center),
            area,
        );
        return;
    }
    let roomy = area.height >= 36 && area.width >= 120;
    let [tiles_area, chart_area, details_area] = Layout::vertical([
        Constraint::Length(6),
        Constraint::Min(8),
        Constraint::Length(if roomy { 12 } else { 0 }),
    ])
    .areas(area);
    let tiles = tiles(app, snap);
    let cols = Layout::horizontal(vec![Constraint::Ratio(1, tiles.len() as u32); tiles.len()])
        .split(tiles_area);
    for (tile, col) in tiles.iter().zip(cols.iter()) {
        draw_tile(f, app, snap, tile, *col);
    }
    cpu_chart(f, app, snap, chart_area);
    if roomy {
        let [fs_area, cores_area] =
            Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)])
                .areas(details_area);
        filesystems(f, app, snap, fs_area);
        per_core(f, app, snap, cores_area);
    }
}

fn draw_tile(f: &mut Frame, app: &App, snap: &Snapshot, tile: &Tile, area: Rect) {
    let t = &app.theme;
    let b = block(
        app,
        Span::styled(format!(" {} ", tr(app.lang, tile.title)), t.title()),
    );
    let inner = b.inner(area);
    f.render_widget(b, area);
    let [v, d, s] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(inner);
    let mut value = vec![Span::styled(
        tile.value.clone(),
        tile.style.add_modifier(Modifier::BOLD),
    )];
    if let Some(p) = &tile.peak {
        value.push(Span::styled(format!(" {p}"), t.muted()));
    }
    f.render_widget(Paragraph::new(Line::from(value)), v);
    f.render_widget(
        Paragraph::new(Span::styled(tile.detail.clone(), t.muted())),
        d,
    );
    let data = spark_data(
        snap.history.get(&tile.metric),
        snap.interval_ms,
        s.width as usize,
    );
    let mut spark = Sparkline::default()
        .data(&data)
        .style(Style::default().fg(t.chart));
    if let Some(max) = tile.max {
        spark = spark.max((max * 100.0) as u64);
    }
    f.render_widget(spark, s);
}

/// A point of the hour chart is a fixed 30 s slot of wall-clock time (its samples'
/// peak, so a short spike still shows), placed by its slot, not by the sample's age: the
/// picture then moves once per slot, not every second (a moving picture is redrawn
/// whole, which is most of an attached console's terminal traffic).
const CHART_SLOT_MS: i64 = 30_000;

fn chart_points(history: Option<&VecDeque<(i64, f64)>>, interval_ms: u64) -> Vec<(f64, f64)> {
    let Some(h) = history else { return Vec::new() };
    let Some(&(newest, _)) = h.back() else {
        return Vec::new();
    };
    let slot = CHART_SLOT_MS.max(interval_ms.min(i64::MAX as u64) as i64);
    let last = newest.div_euclid(slot);
    let mut out: Vec<(f64, f64)> = Vec::new();
    let mut cur: Option<(i64, f64)> = None;
    for &(ts, v) in h.iter() {
        let k = ts.div_euclid(slot);
        if last - k > 3_600_000 / slot {
            continue;
        }
        match &mut cur {
            Some((ck, peak)) if *ck == k => *peak = peak.max(v),
            _ => {
                if let Some((ck, peak)) = cur.take() {
                    out.push(((ck - last) as f64 * slot as f64 / 60_000.0, peak));
                }
                cur = Some((k, v));
            }
        }
    }
    if let Some((ck, peak)) = cur {
        out.push(((ck - last) as f64 * slot as f64 / 60_000.0, peak));
    }
    out
}

fn cpu_chart(f: &mut Frame, app: &App, snap: &Snapshot, area: Rect) {
    let t = &app.theme;
    let points = chart_points(snap.history.get(&Metric::Cpu), snap.interval_ms);
    let data = Dataset::default()
        .marker(Marker::Braille)
        .graph_type(GraphType::Line)
        .style(Style::default().fg(t.chart))
        .data(&points);
    let x = Axis::default()
        .bounds([-60.0, 0.0])
        .style(t.muted())
        .labels(vec![
            Span::raw("-60m"),
            Span::raw("-30m"),
            Span::raw(tr(app.lang, Msg::Now)),
        ]);
    let y = Axis::default()
        .bounds([0.0, 100.0])
        .style(t.muted())
        .labels(vec![Span::raw("0%"), Span::raw("50%"), Span::raw("100%")]);
    let chart = Chart::new(vec![data])
        .block(block(
            app,
            Span::styled(format!(" {} ", tr(app.lang, Msg::CpuLastHour)), t.title()),
        ))
        .x_axis(x)
        .y_axis(y);
    f.render_widget(chart, area);
}

fn filesystems(f: &mut Frame, app: &App, snap: &Snapshot, area: Rect) {
    let t = &app.theme;
    let l = app.lang;
    let Some(s) = &snap.latest else { return };
    let header = Row::new(
        [Msg::Mount, Msg::FsType, Msg::Size, Msg::Used, Msg::UsePct].map(|m| Cell::from(tr(l, m))),
    )
    .style(t.title());
    let rows = s.filesystems.iter().map(|fs| {
        let pct = fs.used_pct();
        Row::new(vec![
            Cell::from(fs.mount.clone()),
            Cell::from(fs.fstype.clone()),
            Cell::from(format::bytes(fs.total as f64)),
            Cell::from(format::bytes(fs.used as f64)),
            Cell::from(Span::styled(format!("{pct:.1}%"), t.level(pct, 80.0, 90.0))),
        ])
    });
    // A mount whose statvfs hangs (dead NFS server): named, in words, its space unknown.
    let stuck = s.unresponsive_mounts.iter().map(|m| {
        // In the mount's own (widest) column: the narrow ones would cut the words.
        Row::new(vec![Cell::from(Line::from(vec![
            Span::raw(format!("{m} ")),
            Span::styled(tr(l, Msg::NotAnswering), t.level(100.0, 80.0, 90.0)),
        ]))])
    });
    let rows = rows.chain(stuck);
    let table = Table::new(
        rows,
        [
            Constraint::Min(12),
            Constraint::Length(8),
            Constraint::Length(10),
            Constraint::Length(10),
            Constraint::Length(8),
        ],
    )
    .header(header)
    .block(block(
        app,
        Span::styled(format!(" {} ", tr(l, Msg::Filesystems)), t.title()),
    ));
    f.render_widget(table, area);
}

fn per_core(f: &mut Frame, app: &App, snap: &Snapshot, area: Rect) {
    let t = &app.theme;
    let Some(s) = &snap.latest else { return };
    let b = block(
        app,
        Span::styled(format!(" {} ", tr(app.lang, Msg::PerCore)), t.title()),
    );
    let inner = b.inner(area);
    f.render_widget(b, area);
    let bar_w = inner.width.saturating_sub(11) as f64;
    let lines: Vec<Line> = s
        .cpu_per_core
        .iter()
        .enumerate()
        .take(inner.height as usize)
        .map(|(i, pct)| {
            let filled = (bar_w * pct / 100.0).round() as usize;
            Line::from(vec![
                Span::styled(format!("{i:>3} "), t.muted()),
                Span::styled("█".repeat(filled), t.level(*pct, 70.0, 90.0)),
                Span::styled(
                    "·".repeat((bar_w as usize).saturating_sub(filled)),
                    t.muted(),
                ),
                // Whole percents: tenths flicker every second on an idle host and cost
                // terminal bytes without telling an operator anything.
                Span::raw(format!(" {pct:>4.0}%")),
            ])
        })
        .collect();
    f.render_widget(Paragraph::new(lines), inner);
}

fn help(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let l = app.lang;
    let mut rows: Vec<Row> = KEYMAP
        .iter()
        .map(|b| {
            let mark = if b.dangerous { "(!)" } else { "" };
            Row::new(vec![
                Cell::from(Span::styled(b.label, t.title())),
                Cell::from(tr(l, b.help)),
                Cell::from(Span::styled(mark, Style::default().fg(t.crit))),
            ])
        })
        .collect();
    rows.push(Row::new(vec![Cell::from(""), Cell::from("")]));
    rows.push(Row::new(vec![
        Cell::from(""),
        Cell::from(Span::styled(tr(l, Msg::HelpClose), t.muted())),
    ]));
    let r = centered(area, 56, rows.len() as u16 + 2);
    f.render_widget(Clear, r);
    let table = Table::new(
        rows,
        [
            Constraint::Length(8),
            Constraint::Min(20),
            Constraint::Length(4),
        ],
    )
    .block(block(
        app,
        Span::styled(format!(" {} ", tr(l, Msg::HelpTitle)), t.title()),
    ));
    f.render_widget(table, r);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(from: i64, n: i64, step: i64, v: impl Fn(i64) -> f64) -> VecDeque<(i64, f64)> {
        (0..n).map(|i| (from + i * step, v(i))).collect()
    }

    #[test]
    fn a_sparkline_column_is_a_ten_second_slot_holding_its_peak() {
        // 1 s samples from t = 100 s; every 7th is a spike.
        let h = hist(100_000, 45, 1_000, |i| if i % 7 == 3 { 9.0 } else { 1.0 });
        let cols = spark_data(Some(&h), 1_000, 30);
        // Slots [100,110) [110,120) [120,130) [130,140) [140,145): five columns; the
        // last one holds no spike yet (the next is due at 145 s).
        assert_eq!(cols, vec![900, 900, 900, 900, 100]);
        let flat = hist(100_000, 45, 1_000, |i| i as f64);
        assert_eq!(
            spark_data(Some(&flat), 1_000, 30),
            vec![900, 1900, 2900, 3900, 4400]
        );
    }

    #[test]
    fn a_new_sample_inside_a_slot_changes_only_the_newest_column() {
        // Up to 395 s: the newest slot is [390, 400).
        let mut h = hist(0, 396, 1_000, |i| (i % 13) as f64);
        let before = spark_data(Some(&h), 1_000, 30);
        h.push_back((396_000, 50.0));
        h.push_back((397_000, 0.0));
        let after = spark_data(Some(&h), 1_000, 30);
        assert_eq!(before.len(), 30);
        assert_eq!(before[..29], after[..29]);
        assert_eq!(after[29], 5_000);
    }

    #[test]
    fn the_hour_chart_moves_once_per_slot_and_keeps_a_spike() {
        // Two minutes of 1 s samples with one spike, up to t = 119 s.
        let mut h = hist(0, 120, 1_000, |i| if i == 40 { 90.0 } else { 5.0 });
        let pts = chart_points(Some(&h), 1_000);
        assert_eq!(
            pts,
            vec![(-1.5, 5.0), (-1.0, 90.0), (-0.5, 5.0), (0.0, 5.0)]
        );
        // A new sample in a new slot moves the picture by one slot ...
        h.push_back((120_000, 7.0));
        let moved = chart_points(Some(&h), 1_000);
        assert_eq!(moved[0], (-2.0, 5.0));
        assert_eq!(moved.last(), Some(&(0.0, 7.0)));
        // ... and within it, only the newest point changes.
        h.push_back((121_000, 9.0));
        let same = chart_points(Some(&h), 1_000);
        assert_eq!(same[..same.len() - 1], moved[..moved.len() - 1]);
        assert_eq!(same.last(), Some(&(0.0, 9.0)));
    }

    #[test]
    fn a_slow_interval_widens_the_slot_and_an_empty_history_draws_nothing() {
        let h = hist(0, 10, 60_000, |_| 2.0);
        assert_eq!(spark_data(Some(&h), 60_000, 30), vec![200; 10]);
        assert!(spark_data(None, 1_000, 30).is_empty());
        assert!(spark_data(Some(&VecDeque::new()), 1_000, 30).is_empty());
    }
}
