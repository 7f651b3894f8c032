//! The Containers view: every container of the Docker engine, its health, its group,
//! and CPU and memory as `docker stats` reports them.

use super::app::App;
use super::format;
use super::i18n::{Msg, tr};
use crate::protocol::Snapshot;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::Span;
use ratatui::widgets::{Cell, Paragraph, Row, Table, Wrap};

pub fn draw(f: &mut Frame, app: &App, snap: &Snapshot, area: Rect) {
    let t = &app.theme;
    let l = app.lang;
    let b = super::ui::block(
        app,
        Span::styled(
            format!(
                " {} ({}) ",
                tr(l, Msg::ViewContainers),
                snap.containers.len()
            ),
            t.title(),
        ),
    );
    if snap.containers.is_empty() {
        f.render_widget(
            Paragraph::new(tr(l, Msg::NoContainers))
                .style(t.muted())
                .wrap(Wrap { trim: true })
                .block(b),
            area,
        );
        return;
    }
    let header = Row::new(
        [
            Msg::Name,
            Msg::StateCol,
            Msg::Group,
            Msg::Cpu,
            Msg::MemCol,
            Msg::Image,
            Msg::Status,
        ]
        .map(|m| Cell::from(tr(l, m))),
    )
    .style(t.title());
    let rows = snap.containers.iter().map(|c| {
        let mut state = match &c.health {
            Some(h) => format!("{} ({h})", c.state),
            None => c.state.clone(),
        };
        // An OOM kill and Docker's own restarts are what tell a crash loop or a
        // limit too small apart from a plain exit.
        if c.oom_killed == Some(true) && !c.running() {
            state = format!("{state} · {}", tr(l, Msg::OomKilledTag));
        }
        let status = match c.restart_count {
            Some(n) if n > 0 => format!("{} {n} · {}", tr(l, Msg::RestartsTag), c.status),
            _ => c.status.clone(),
        };
        let style = match (c.state.as_str(), c.health.as_deref()) {
            ("running", Some("unhealthy")) => {
                Style::default().fg(t.crit).add_modifier(Modifier::BOLD)
            }
            ("running", _) => Style::default().fg(t.ok),
            ("exited" | "dead", _) => Style::default().fg(t.crit),
            _ => Style::default().fg(t.warn),
        };
        let mem = match (c.mem_bytes, c.mem_limit) {
            (Some(m), Some(lim)) if lim > 0 => {
                format!(
                    "{} / {}",
                    format::bytes(m as f64),
                    format::bytes(lim as f64)
                )
            }
            (Some(m), _) => format::bytes(m as f64),
            _ => "–".into(),
        };
        Row::new(vec![
            Cell::from(c.name.clone()),
            Cell::from(Span::styled(state, style)),
            Cell::from(c.group.clone().unwrap_or_default()),
            Cell::from(
                c.cpu_pct
                    .map(|v| format!("{v:.1}%"))
                    .unwrap_or_else(|| "–".into()),
            ),
            Cell::from(mem),
            Cell::from(c.image.clone()),
            Cell::from(Span::styled(status, t.muted())),
        ])
    });
    let widths = [
        Constraint::Length(20),
        Constraint::Length(20),
        Constraint::Length(10),
        Constraint::Length(7),
        Constraint::Length(20),
        Constraint::Length(18),
        Constraint::Min(10),
    ];
    f.render_widget(Table::new(rows, widths).header(header).block(b), area);
}
