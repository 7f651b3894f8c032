//! The Audit view: the latest records of the hash-chained log, newest last, as
//! `vigil audit tail` prints them.

use super::app::App;
use super::i18n::{Msg, tr};
use crate::protocol::Snapshot;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub fn draw(f: &mut Frame, app: &App, snap: &Snapshot, area: Rect) {
    let t = &app.theme;
    let l = app.lang;
    let b = super::ui::block(
        app,
        Span::styled(format!(" {} ", tr(l, Msg::AuditTitle)), t.title()),
    );
    if snap.audit_tail.is_empty() {
        f.render_widget(
            Paragraph::new(tr(l, Msg::NoAudit))
                .style(t.muted())
                .block(b),
            area,
        );
        return;
    }
    let fits = area.height.saturating_sub(2) as usize;
    let skip = snap.audit_tail.len().saturating_sub(fits);
    let lines: Vec<Line> = snap.audit_tail[skip..]
        .iter()
        .map(|r| {
            // Kinds that stop or fail something stand out; the word is there in mono.
            let style = if [
                " braked ",
                " expired ",
                "NOT verified",
                "\"ok\":false",
                " brake ",
            ]
            .iter()
            .any(|k| r.contains(k))
            {
                Style::default().fg(t.warn)
            } else if r.contains(" intent ") || r.contains(" result ") {
                Style::default().fg(t.accent)
            } else {
                t.text()
            };
            Line::styled(r.clone(), style)
        })
        .collect();
    f.render_widget(Paragraph::new(lines).block(b), area);
}
