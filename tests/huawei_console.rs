//! The Actions view while a Huawei scale is in flight: the group's instances with
//! their lifecycle states and the running scaling activity, in English and 简体中文,
//! and nothing of it once the action is over.

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use vigil::approve::{Entry, State};
use vigil::config::TargetKind;
use vigil::console::app::{App, View};
use vigil::console::i18n::Lang;
use vigil::console::theme::Theme;
use vigil::console::ui;
use vigil::engine::Snapshot;
use vigil::execute::Action;
use vigil::plan::proposal::{Proposal, Risk};
use vigil::plan::scaling::Rule;
use vigil::protocol::{CloudActivity, CloudGroup, CloudInstance};

const NOW: i64 = 1_700_000_000_000;

fn snapshot(state: State) -> Snapshot {
    let mut p = Proposal::repair(
        "scale:web".into(),
        Action::Scale {
            target: "web".into(),
            kind: TargetKind::HuaweiAsGroup,
            to: 4,
        },
        Rule::Reactive,
        "load".into(),
        None,
        Risk::Low,
        NOW,
    );
    p.from = 2;
    let instance = |n: usize, lifecycle: &str, health: &str| CloudInstance {
        name: format!("web-{n}"),
        id: format!("a1b2c3d4-0000-4000-8000-00000000000{n}"),
        lifecycle: lifecycle.into(),
        health: health.into(),
    };
    Snapshot {
        seq: 1,
        ts: NOW,
        // The engine's own conversion to the protocol's board, as it publishes it.
        board: vec![vigil::engine::view::entry(&Entry {
            proposal: p,
            state,
            updated: NOW,
            expires: NOW + 600_000,
            by: Some("ops".into()),
            note: None,
        })],
        cloud: vec![CloudGroup {
            target: "web".into(),
            instances: vec![
                instance(0, "INSERVICE", "NORMAL"),
                instance(1, "INSERVICE", "NORMAL"),
                instance(2, "PENDING", "INITAILIZING"),
                instance(3, "PENDING", "INITAILIZING"),
            ],
            activity: Some(CloudActivity {
                id: "act-0007".into(),
                status: "DOING".into(),
                from: Some(2),
                to: Some(4),
                started: Some("2026-12-02T03:10:00Z".into()),
                ended: None,
            }),
            error: None,
            read_at: NOW,
        }],
        ..Snapshot::default()
    }
}

fn screen(snap: &Snapshot, lang: Lang) -> Vec<String> {
    let mut app = App::new(Theme::built_in("mono").unwrap(), lang);
    app.view = View::Actions;
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
    terminal.draw(|f| ui::draw(f, &app, snap)).unwrap();
    let buf = terminal.backend().buffer().clone();
    let w = buf.area.width as usize;
    buf.content
        .chunks(w)
        .map(|row| {
            // A wide character takes two cells; the second holds nothing.
            let mut line = String::new();
            let mut skip = 0;
            for cell in row {
                if skip > 0 {
                    skip -= 1;
                    continue;
                }
                let s = cell.symbol();
                skip = unicode_width::UnicodeWidthStr::width(s).saturating_sub(1);
                line.push_str(s);
            }
            line.trim_end().to_string()
        })
        .collect()
}

/// The row that names this instance, as words split by spaces and the frame.
fn row_of<'a>(lines: &'a [String], name: &str) -> Vec<&'a str> {
    let words = |l: &'a String| -> Vec<&'a str> {
        l.split(|c: char| c.is_whitespace() || c == '│')
            .filter(|w| !w.is_empty())
            .collect()
    };
    lines
        .iter()
        .map(words)
        .find(|w| w.first() == Some(&name))
        .unwrap_or_else(|| panic!("{name} not on screen:\n{}", lines.join("\n")))
}

#[test]
fn a_running_scale_shows_the_groups_instances_and_its_activity() {
    let lines = screen(&snapshot(State::Running), Lang::En);
    let all = lines.join("\n");
    assert!(
        all.contains("AS group in flight: web · in service 2/4"),
        "{all}"
    );
    assert!(
        all.contains("scaling activity act-0007 running (DOING) · 2 → 4 · 2026-12-02T03:10:00Z"),
        "{all}"
    );
    assert_eq!(
        row_of(&lines, "web-0"),
        [
            "web-0",
            "a1b2c3d4-0000-4000-8000-000000000000",
            "in",
            "service",
            "(INSERVICE)",
            "NORMAL"
        ]
    );
    assert_eq!(
        row_of(&lines, "web-3"),
        [
            "web-3",
            "a1b2c3d4-0000-4000-8000-000000000003",
            "joining",
            "(PENDING)",
            "INITAILIZING"
        ]
    );
}

#[test]
fn in_chinese_too() {
    let lines = screen(&snapshot(State::Running), Lang::ZhCn);
    let all = lines.join("\n");
    assert!(all.contains("进行中的伸缩组: web · 服务中 2/4"), "{all}");
    assert!(
        all.contains("伸缩活动 act-0007 进行中 (DOING) · 2 → 4"),
        "{all}"
    );
    assert_eq!(
        row_of(&lines, "web-2"),
        [
            "web-2",
            "a1b2c3d4-0000-4000-8000-000000000002",
            "加入中",
            "(PENDING)",
            "INITAILIZING"
        ]
    );
    assert!(all.contains("生命周期"), "{all}");
}

#[test]
fn once_the_action_is_over_the_group_is_not_shown() {
    for st in [State::Verified, State::Failed, State::Pending] {
        let all = screen(&snapshot(st), Lang::En).join("\n");
        assert!(!all.contains("AS group in flight"), "{st:?}: {all}");
        assert!(!all.contains("act-0007"), "{st:?}: {all}");
    }
}
