//! The Actions view: live proposals with their cost, the reason and forecast behind the
//! selected one, and in shadow mode the ledger of what would have been done.

use super::app::App;
use super::i18n::{Msg, tr};
use crate::protocol::{CloudGroup, Entry, Mode, Proposal, Risk, Snapshot, State};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Wrap};

fn money(currency: &str, v: f64) -> String {
    format!(
        "{}{currency}{:.2}",
        if v >= 0.0 { "+" } else { "−" },
        v.abs()
    )
}

fn state_style(app: &App, st: State) -> Style {
    let t = &app.theme;
    match st {
        State::Pending => Style::default().fg(t.warn).add_modifier(Modifier::BOLD),
        State::Approved | State::Running | State::Done => Style::default().fg(t.accent),
        State::Verified => Style::default().fg(t.ok),
        State::Failed | State::Unverified => Style::default().fg(t.crit),
        _ => t.muted(),
    }
}

pub fn draw(f: &mut Frame, app: &App, snap: &Snapshot, area: Rect) {
    let t = &app.theme;
    let l = app.lang;
    let ledger_h = if snap.mode == Mode::Shadow && !snap.ledgers.is_empty() {
        6
    } else {
        0
    };
    let [list, detail, ledger] = Layout::vertical([
        Constraint::Percentage(40),
        Constraint::Min(6),
        Constraint::Length(ledger_h),
    ])
    .areas(area);
    let b = super::ui::block(
        app,
        Span::styled(format!(" {} ", tr(l, Msg::Queue)), t.title()),
    );
    if snap.board.is_empty() {
        let text = if snap.ledgers.is_empty() && snap.containers.is_empty() {
            tr(l, Msg::NoTargets)
        } else {
            tr(l, Msg::NoQueue)
        };
        f.render_widget(
            Paragraph::new(text)
                .style(t.muted())
                .wrap(Wrap { trim: true })
                .block(b),
            list,
        );
    } else {
        let header = Row::new(
            [
                Msg::StateCol,
                Msg::Target,
                Msg::Change,
                Msg::PerHour,
                Msg::RiskCol,
                Msg::Approval,
            ]
            .map(|m| Cell::from(tr(l, m))),
        )
        .style(t.title());
        let selected = app.selected_index(snap);
        let rows = snap.board.iter().enumerate().map(|(i, e)| {
            let p = &e.proposal;
            let risk_style = match p.risk {
                Risk::High => Style::default().fg(t.crit).add_modifier(Modifier::BOLD),
                Risk::Medium => Style::default().fg(t.warn),
                Risk::Low => Style::default().fg(t.ok),
            };
            let change = match (&p.resize, &p.reason) {
                (Some(size), _) => format!("→ {size}"),
                (None, Some(_)) => p.class().to_string(),
                (None, None) => format!("{} → {}", p.from, p.to),
            };
            let row = Row::new(vec![
                // The word, not only the colour: state and risk read in mono too.
                Cell::from(Span::styled(
                    // A marker, not only a highlight: the selection reads in mono too.
                    format!(
                        "{}{}",
                        if i == selected { "› " } else { "  " },
                        e.state.name()
                    ),
                    state_style(app, e.state),
                )),
                Cell::from(format!("{} v{}", p.target, p.version)),
                Cell::from(change),
                Cell::from(if p.currency.is_empty() {
                    String::new()
                } else {
                    money(&p.currency, p.cost_per_hour)
                }),
                Cell::from(Span::styled(
                    format!("{:?}", p.risk).to_lowercase(),
                    risk_style,
                )),
                Cell::from(match &p.manual {
                    Some(why) => format!("{} ({why})", tr(l, Msg::Manual)),
                    None => tr(l, Msg::AutoOk).to_string(),
                }),
            ]);
            if i == selected {
                row.style(Style::default().add_modifier(Modifier::BOLD))
            } else {
                row
            }
        });
        let widths = [
            Constraint::Length(12),
            Constraint::Length(22),
            Constraint::Length(9),
            Constraint::Length(9),
            Constraint::Length(7),
            Constraint::Min(10),
        ];
        f.render_widget(Table::new(rows, widths).header(header).block(b), list);
    }
    let shown = if app.detail {
        app.selected_entry(snap)
    } else {
        snap.board
            .iter()
            .find(|e| e.state == State::Pending)
            .or(app.selected_entry(snap))
    };
    if let Some(e) = shown {
        let p = &e.proposal;
        // A cloud group with this action in flight: its instances and activity below.
        let cloud = snap
            .cloud
            .iter()
            .find(|g| g.target == p.target)
            .filter(|_| matches!(e.state, State::Approved | State::Running | State::Done));
        let detail = match cloud {
            Some(g) => {
                let h = (g.instances.len() as u16 + 4).min(detail.height / 2 + 2);
                let [top, bottom] =
                    Layout::vertical([Constraint::Min(4), Constraint::Length(h)]).areas(detail);
                draw_cloud(f, app, g, bottom);
                top
            }
            None => detail,
        };
        if p.metric.is_empty() {
            draw_detail(f, app, e, snap, detail);
        } else {
            let [text, chart] =
                Layout::horizontal([Constraint::Min(40), Constraint::Length(44)]).areas(detail);
            draw_detail(f, app, e, snap, text);
            draw_capacity_chart(f, app, snap, p, chart);
        }
    }
    if ledger_h > 0 {
        draw_ledger(f, app, snap, ledger);
    }
}

fn draw_detail(f: &mut Frame, app: &App, e: &Entry, snap: &Snapshot, area: Rect) {
    let (mode, now) = (snap.mode, snap.ts);
    let t = &app.theme;
    let l = app.lang;
    let p = &e.proposal;
    let b = super::ui::block(
        app,
        Span::styled(format!(" {} · v{} ", p.target, p.version), t.title()),
    );
    let mut lines = vec![Line::styled(
        p.summary.clone(),
        t.text().add_modifier(Modifier::BOLD),
    )];
    let mut state = e.state.name().to_string();
    if let Some(by) = &e.by {
        state.push_str(&format!(" · {by}"));
    }
    if let Some(n) = &e.note {
        state.push_str(&format!(" · {n}"));
    }
    if e.state == State::Pending {
        let left = (e.expires - now).max(0) / 1000;
        state.push_str(&format!(" · {}s", left));
    }
    lines.push(Line::styled(state, state_style(app, e.state)));
    if p.reason.is_some() {
        lines.push(Line::from(vec![
            Span::styled(format!("{} ", tr(l, Msg::Why)), t.muted()),
            Span::raw(match &p.action {
                crate::protocol::Action::Restart { container } => {
                    format!("restart {container}, then check it runs (and is healthy) and stays up")
                }
                crate::protocol::Action::Recreate { container } => format!(
                    "recreate {container} from its image and settings, then check it stays up"
                ),
                a => format!(
                    "{} {}, then check the promised state holds",
                    p.class(),
                    a.subject()
                ),
            }),
        ]));
        f.render_widget(
            Paragraph::new(lines).wrap(Wrap { trim: true }).block(b),
            area,
        );
        return;
    }
    lines.push(Line::from(vec![
        Span::styled(format!("{} ", tr(l, Msg::Why)), t.muted()),
        Span::raw(format!(
            "load {:.1} at {:.0}% of {} instance(s); rule: {}",
            p.load,
            p.utilisation * 100.0,
            p.from,
            p.rule
        )),
    ]));
    let sure = match (&p.model, p.band_width, p.mase) {
        (Some(m), Some(w), Some(mase)) => {
            format!("model {m}, 80% band {w:.1} wide, recent MASE {mase:.2}")
        }
        (Some(m), Some(w), None) => format!("model {m}, 80% band {w:.1} wide"),
        _ => "no forecast yet: reactive only".into(),
    };
    lines.push(Line::from(vec![
        Span::styled(format!("{} ", tr(l, Msg::HowSure)), t.muted()),
        Span::raw(sure),
    ]));
    if mode == Mode::Shadow {
        lines.push(Line::styled(
            tr(l, Msg::ShadowNote),
            Style::default().fg(t.warn),
        ));
    }
    f.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: true }).block(b),
        area,
    );
}

/// The cloud's own word, with what it means in the operator's language.
fn cloud_word(app: &App, raw: &str) -> String {
    let m = match raw {
        "INSERVICE" => Msg::LcInService,
        "PENDING" | "PENDING_WAIT" => Msg::LcPending,
        "REMOVING" | "REMOVING_WAIT" => Msg::LcRemoving,
        "STANDBY" | "ENTERING_STANDBY" => Msg::LcStandby,
        "DOING" => Msg::ActDoing,
        "SUCCESS" => Msg::ActSuccess,
        "FAIL" => Msg::ActFail,
        _ => return raw.to_string(),
    };
    format!("{} ({raw})", tr(app.lang, m))
}

/// An AS group while an action on it is in flight: the running scaling activity and
/// every instance with its lifecycle state.
fn draw_cloud(f: &mut Frame, app: &App, g: &CloudGroup, area: Rect) {
    let t = &app.theme;
    let l = app.lang;
    let b = super::ui::block(
        app,
        Span::styled(
            format!(
                " {}: {} · {} {}/{} ",
                tr(l, Msg::CloudGroup),
                g.target,
                tr(l, Msg::InService),
                g.in_service(),
                g.instances.len()
            ),
            t.title(),
        ),
    );
    let mut head = vec![match &g.activity {
        Some(a) => {
            let style = match a.status.as_str() {
                "SUCCESS" => Style::default().fg(t.ok),
                "FAIL" => Style::default().fg(t.crit),
                _ => Style::default().fg(t.accent),
            };
            let mut spans = vec![
                Span::styled(
                    format!("{} {} ", tr(l, Msg::ScalingActivity), a.id),
                    t.muted(),
                ),
                Span::styled(cloud_word(app, &a.status), style),
            ];
            if let (Some(from), Some(to)) = (a.from, a.to) {
                spans.push(Span::raw(format!(" · {from} → {to}")));
            }
            if let Some(at) = &a.started {
                spans.push(Span::styled(format!(" · {at}"), t.muted()));
            }
            Line::from(spans)
        }
        None => Line::styled(tr(l, Msg::NoActivity), t.muted()),
    }];
    if let Some(e) = &g.error {
        head.push(Line::styled(
            format!("{}: {e}", tr(l, Msg::CloudReadFailed)),
            Style::default().fg(t.warn),
        ));
    }
    let inner = b.inner(area);
    f.render_widget(b, area);
    let [top, table] =
        Layout::vertical([Constraint::Length(head.len() as u16), Constraint::Min(1)]).areas(inner);
    f.render_widget(Paragraph::new(head), top);
    let header = Row::new(
        [Msg::Name, Msg::InstanceId, Msg::Lifecycle, Msg::Health].map(|m| Cell::from(tr(l, m))),
    )
    .style(t.title());
    let rows = g.instances.iter().map(|i| {
        let style = if i.lifecycle == "INSERVICE" {
            Style::default().fg(t.ok)
        } else {
            Style::default().fg(t.warn)
        };
        Row::new(vec![
            Cell::from(i.name.clone()),
            Cell::from(Span::styled(i.id.clone(), t.muted())),
            Cell::from(Span::styled(cloud_word(app, &i.lifecycle), style)),
            Cell::from(i.health.clone()),
        ])
    });
    let widths = [
        Constraint::Length(18),
        Constraint::Length(40),
        Constraint::Length(24),
        Constraint::Min(8),
    ];
    f.render_widget(Table::new(rows, widths).header(header), table);
}

fn line<'a>(name: String, style: Style, pts: &'a [(f64, f64)]) -> ratatui::widgets::Dataset<'a> {
    use ratatui::symbols::Marker;
    use ratatui::widgets::{Dataset, GraphType};
    Dataset::default()
        .name(name)
        .marker(Marker::Braille)
        .graph_type(GraphType::Line)
        .style(style)
        .data(pts)
}

/// The forecast (point and P90) over the next hour against the capacity now and the
/// capacity proposed, both at the target utilisation.
fn draw_capacity_chart(f: &mut Frame, app: &App, snap: &Snapshot, p: &Proposal, area: Rect) {
    use ratatui::widgets::{Axis, Chart};
    let t = &app.theme;
    let fc = crate::protocol::Metric::from_name(&p.metric).and_then(|m| snap.forecasts.get(&m));
    let mut point = vec![(0.0, p.load)];
    let mut hi = vec![(0.0, p.load)];
    if let Some(fc) = fc {
        for h in &fc.horizons {
            let x = (h.ts - fc.origin) as f64 / 60_000.0;
            point.push((x, h.point));
            hi.push((x, h.hi));
        }
    }
    let now_cap = p.from as f64 * p.planned_per_instance;
    let new_cap = p.to as f64 * p.planned_per_instance;
    let top = hi.iter().map(|v| v.1).fold(now_cap.max(new_cap), f64::max) * 1.1;
    let now_line = [(0.0, now_cap), (60.0, now_cap)];
    let new_line = [(0.0, new_cap), (60.0, new_cap)];
    let data = vec![
        line("P90".into(), Style::default().fg(t.warn), &hi),
        line("forecast".into(), Style::default().fg(t.chart), &point),
        line(format!("{} now", p.from), t.muted(), &now_line),
        line(
            format!("{} proposed", p.to),
            Style::default().fg(t.ok),
            &new_line,
        ),
    ];
    let chart = Chart::new(data)
        .block(super::ui::block(
            app,
            Span::styled(
                format!(" {} ", tr(app.lang, Msg::ForecastVsCapacity)),
                t.title(),
            ),
        ))
        .x_axis(
            Axis::default()
                .bounds([0.0, 60.0])
                .style(t.muted())
                .labels(vec![Span::raw("0"), Span::raw("+60m")]),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, top.max(1.0)])
                .style(t.muted())
                .labels(vec![Span::raw("0"), Span::raw(format!("{top:.0}"))]),
        )
        .legend_position(Some(ratatui::widgets::LegendPosition::TopRight))
        .hidden_legend_constraints((Constraint::Ratio(1, 1), Constraint::Ratio(1, 1)));
    f.render_widget(chart, area);
}

fn draw_ledger(f: &mut Frame, app: &App, snap: &Snapshot, area: Rect) {
    let t = &app.theme;
    let l = app.lang;
    let b = super::ui::block(
        app,
        Span::styled(format!(" {} ", tr(l, Msg::Ledger)), t.title()),
    );
    let mut lines = Vec::new();
    for (name, ledger) in &snap.ledgers {
        let c = &snap
            .board
            .iter()
            .find(|e| &e.proposal.target == name)
            .map(|e| e.proposal.currency.clone())
            .unwrap_or_default();
        lines.push(Line::from(vec![
            Span::styled(format!("{name}: "), t.title()),
            Span::raw(format!(
                "vigil {c}{:.2} · {} {c}{:.2} · HPA {c}{:.2}",
                ledger.vigil,
                tr(l, Msg::DoNothing),
                ledger.nothing,
                ledger.hpa
            )),
        ]));
        for w in ledger.would_have.iter().rev().take(2) {
            lines.push(Line::styled(
                format!("  {} {w}", tr(l, Msg::WouldHave)),
                t.muted(),
            ));
        }
    }
    f.render_widget(Paragraph::new(lines).block(b), area);
}
