//! The Incidents view: open and recent incidents (newest first), the selected one in
//! full — evidence with its numbers and start, diagnosis, playbook, steps, verification
//! — and the healing board over the last day and week.

use super::app::App;
use super::i18n::{Msg, tr};
use crate::protocol::{HealingSpan, IncidentState, IncidentView, Snapshot, StepState};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Wrap};

pub fn state_msg(s: IncidentState) -> Msg {
    match s {
        IncidentState::Open => Msg::IncOpen,
        IncidentState::Fixing => Msg::IncFixing,
        IncidentState::Verifying => Msg::IncVerifying,
        IncidentState::Resolved => Msg::IncResolved,
        IncidentState::RolledBack => Msg::IncRolledBack,
        IncidentState::Escalated => Msg::IncEscalated,
    }
}

fn step_msg(s: StepState) -> Msg {
    match s {
        StepState::Waiting => Msg::StepWaiting,
        StepState::Proposed => Msg::StepProposed,
        StepState::Running => Msg::StepRunning,
        StepState::Done => Msg::StepDone,
        StepState::Failed => Msg::StepFailed,
        StepState::Skipped => Msg::StepSkipped,
    }
}

fn clock(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .format("%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_default()
}

fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e12 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

pub fn draw(f: &mut Frame, app: &App, snap: &Snapshot, area: Rect) {
    let t = &app.theme;
    let l = app.lang;
    let [board_area, rest] =
        Layout::vertical([Constraint::Length(4), Constraint::Min(0)]).areas(area);
    draw_board(f, app, snap, board_area);
    let b = super::ui::block(
        app,
        Span::styled(
            format!(" {} ({}) ", tr(l, Msg::ViewIncidents), snap.incidents.len()),
            t.title(),
        ),
    );
    if snap.incidents.is_empty() {
        f.render_widget(
            Paragraph::new(tr(l, Msg::NoIncidents))
                .style(t.muted())
                .wrap(Wrap { trim: true })
                .block(b),
            rest,
        );
        return;
    }
    let rows_h = (snap.incidents.len() as u16 + 3)
        .min(rest.height / 2)
        .max(4);
    let [list_area, detail_area] =
        Layout::vertical([Constraint::Length(rows_h), Constraint::Min(0)]).areas(rest);
    let sel = app.incident.min(snap.incidents.len() - 1);
    let header = Row::new(
        [
            Msg::Opened,
            Msg::StateCol,
            Msg::Trigger,
            Msg::Target,
            Msg::Playbook,
        ]
        .map(|m| Cell::from(tr(l, m))),
    )
    .style(t.title());
    let rows = snap.incidents.iter().enumerate().map(|(i, inc)| {
        let color = match inc.state {
            IncidentState::Resolved => t.ok,
            IncidentState::RolledBack | IncidentState::Escalated => t.crit,
            _ => t.warn,
        };
        let mut row = Row::new(vec![
            Cell::from(clock(inc.opened)),
            Cell::from(Span::styled(
                tr(l, state_msg(inc.state)),
                Style::default().fg(color),
            )),
            Cell::from(inc.trigger.clone()),
            Cell::from(inc.target.clone()),
            Cell::from(inc.playbook.clone().unwrap_or_else(|| "–".into())),
        ]);
        if i == sel {
            row = row.style(Style::default().add_modifier(Modifier::REVERSED));
        }
        row
    });
    let widths = [
        Constraint::Length(15),
        Constraint::Length(12),
        Constraint::Length(22),
        Constraint::Length(24),
        Constraint::Min(10),
    ];
    f.render_widget(Table::new(rows, widths).header(header).block(b), list_area);
    draw_detail(f, app, &snap.incidents[sel], detail_area);
}

fn span_line(app: &App, name: Msg, s: &HealingSpan) -> Line<'static> {
    let l = app.lang;
    let t = &app.theme;
    let mttr = s
        .mttr_s
        .map(|m| {
            humantime::format_duration(std::time::Duration::from_secs(m.round() as u64)).to_string()
        })
        .unwrap_or_else(|| "–".into());
    let rate = s
        .success_rate
        .map(|r| format!("{:.0}%", r * 100.0))
        .unwrap_or_else(|| "–".into());
    Line::from(vec![
        Span::styled(format!(" {:<8}", tr(l, name)), t.title()),
        Span::raw(format!(
            " {} {}  {} {}  {} {}  {} {}  {} {}  {} {}  {} {}",
            s.incidents,
            tr(l, Msg::IncidentsCount),
            tr(l, Msg::Mttr),
            mttr,
            tr(l, Msg::SuccessRate),
            rate,
            tr(l, Msg::IncRolledBack),
            s.rolled_back,
            tr(l, Msg::IncEscalated),
            s.escalated,
            tr(l, Msg::FalseAlarms),
            s.false_alarms,
            tr(l, Msg::ManualCol),
            s.manual
        )),
    ])
}

fn draw_board(f: &mut Frame, app: &App, snap: &Snapshot, area: Rect) {
    let t = &app.theme;
    let b = super::ui::block(
        app,
        Span::styled(format!(" {} ", tr(app.lang, Msg::HealingBoard)), t.title()),
    );
    let lines = vec![
        span_line(app, Msg::LastDay, &snap.healing.day),
        span_line(app, Msg::LastWeek, &snap.healing.week),
    ];
    f.render_widget(Paragraph::new(lines).block(b), area);
}

fn draw_detail(f: &mut Frame, app: &App, inc: &IncidentView, area: Rect) {
    let t = &app.theme;
    let l = app.lang;
    let head = |m: Msg| Span::styled(format!("{}: ", tr(l, m)), t.title());
    let mut lines = Vec::new();
    let ev: Vec<String> = inc
        .evidence
        .iter()
        .map(|e| format!("{}={}", e.name, num(e.value)))
        .collect();
    lines.push(Line::from(vec![
        head(Msg::Evidence),
        Span::raw(format!(
            "{}  ({} {})",
            ev.join("  "),
            tr(l, Msg::Since),
            clock(inc.started)
        )),
    ]));
    for d in &inc.diagnosis {
        lines.push(Line::from(vec![head(Msg::Diagnosis), Span::raw(d.clone())]));
    }
    if let Some(p) = &inc.playbook {
        lines.push(Line::from(vec![
            head(Msg::Playbook),
            Span::raw(format!("{p} ({})", inc.risk.as_deref().unwrap_or("?"))),
        ]));
    }
    lines.push(Line::from(head(Msg::Steps)));
    for s in &inc.steps {
        let color = match s.state {
            StepState::Done => t.ok,
            StepState::Failed => t.crit,
            StepState::Skipped | StepState::Waiting => t.muted,
            _ => t.warn,
        };
        let mut spans = vec![
            Span::raw(if s.rollback {
                format!("  ↩ {} ", tr(l, Msg::RollbackStep))
            } else {
                "  • ".to_string()
            }),
            Span::styled(
                format!("{:<8} ", tr(l, step_msg(s.state))),
                Style::default().fg(color),
            ),
            Span::raw(s.text.clone()),
        ];
        if let Some(n) = &s.note {
            spans.push(Span::styled(format!(" — {n}"), t.muted()));
        }
        lines.push(Line::from(spans));
    }
    if let Some(v) = &inc.verify {
        let verdict = match v.passed {
            Some(true) => tr(l, Msg::StepDone),
            Some(false) => tr(l, Msg::StepFailed),
            None if inc.state.is_final() => tr(l, Msg::NotRun),
            None => "…",
        };
        let shown = |x: Option<f64>| x.map(num).unwrap_or_else(|| "–".into());
        lines.push(Line::from(vec![
            head(Msg::Verification),
            Span::raw(format!(
                "{}  ({} {}, {} {})  {verdict}",
                v.text,
                tr(l, Msg::Before),
                shown(v.before),
                tr(l, Msg::Now),
                shown(v.last)
            )),
        ]));
    }
    if let Some(n) = &inc.note {
        lines.push(Line::from(vec![
            head(Msg::LlmNote),
            Span::raw(format!(
                "{} → {}  ({} {})  {}",
                n.playbook,
                n.target,
                tr(l, Msg::LlmCites),
                n.cites.join(", "),
                n.reason
            )),
            Span::styled(
                format!("  [{}, {}]", n.model, tr(l, Msg::LlmAdviceOnly)),
                t.muted(),
            ),
        ]));
    }
    if let Some(w) = &inc.awaiting {
        lines.push(Line::from(vec![
            Span::styled(
                format!("{}: ", tr(l, Msg::Awaiting)),
                Style::default().fg(t.warn).add_modifier(Modifier::BOLD),
            ),
            Span::raw(format!("{w}  (a / r)")),
        ]));
    }
    if let Some(r) = &inc.reason {
        let style = if inc.state.is_final() && inc.state != IncidentState::Resolved {
            Style::default().fg(t.crit)
        } else {
            t.muted()
        };
        lines.push(Line::styled(r.clone(), style));
    }
    let b = super::ui::block(app, Span::styled(format!(" {} ", inc.id), t.title()));
    f.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(b),
        area,
    );
}
