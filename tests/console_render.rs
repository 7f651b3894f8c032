//! What the operator sees, drawn on ratatui's TestBackend from a fixed snapshot.

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};
use std::collections::VecDeque;
use vigil::collect::{FsUsage, HostSample, Metric, NetRate};
use vigil::config::Mode;
use vigil::console::app::{App, View};
use vigil::console::i18n::Lang;
use vigil::console::keymap::KEYMAP;
use vigil::console::theme::Theme;
use vigil::console::ui;
use vigil::engine::{HostInfo, Notice, Severity, Snapshot};
use vigil::forecast::{Forecast, HorizonForecast};

const NOW: i64 = 1_700_000_000_000;

fn snapshot() -> Snapshot {
    let latest = HostSample {
        ts: NOW,
        cpu_pct: 42.5,
        cpu_per_core: vec![30.0, 55.0, 97.0, 12.0],
        iowait_pct: 1.2,
        mem_total: 8 << 30,
        mem_used: 6 << 30,
        mem_available: 2 << 30,
        swap_total: 2 << 30,
        swap_used: 256 << 20,
        load1: 2.5,
        load5: 1.75,
        load15: 1.25,
        filesystems: vec![
            FsUsage {
                mount: "/".into(),
                fstype: "ext4".into(),
                device: "/dev/vda1".into(),
                total: 80 << 30,
                used: 60 << 30,
                avail: 16 << 30,
            },
            FsUsage {
                mount: "/srv/data".into(),
                fstype: "xfs".into(),
                device: "/dev/vdb".into(),
                total: 500 << 30,
                used: 470 << 30,
                avail: 30 << 30,
            },
        ],
        disk_read_bps: 1.5 * 1048576.0,
        disk_write_bps: 12.0 * 1048576.0,
        net: vec![NetRate {
            iface: "eth0".into(),
            rx_bps: 2.0 * 1048576.0,
            tx_bps: 300.0 * 1024.0,
        }],
        containers_running: Some(7),
        uptime_secs: 3 * 86_400 + 4 * 3600,
        unresponsive_mounts: Vec::new(),
    };
    let mut snap = Snapshot {
        seq: 1,
        ts: NOW,
        host: HostInfo {
            name: "web-1".into(),
            cores: 4,
        },
        source: "procfs".into(),
        mode: Mode::Shadow,
        interval_ms: 1000,
        latest: Some(latest.clone()),
        ..Snapshot::default()
    };
    for m in Metric::ALL {
        let h: VecDeque<(i64, f64)> = (0..360)
            .map(|i| {
                let t = NOW - 3_600_000 + i * 10_000;
                let phase = i as f64 / 360.0 * std::f64::consts::TAU;
                (t, latest.value(m) * (0.6 + 0.4 * phase.sin()))
            })
            .collect();
        snap.history.insert(m, h);
        let now = latest.value(m);
        let horizons = [1, 5, 15, 30, 60]
            .iter()
            .map(|&s| HorizonForecast {
                steps: s,
                ts: NOW + s as i64 * 60_000,
                point: now * (1.0 + s as f64 / 200.0),
                lo: now * (1.0 - s as f64 / 150.0),
                hi: now * (1.0 + s as f64 / 80.0),
                plan_hi: now * (1.0 + s as f64 / 70.0),
                model: "linear".into(),
                recent_mae: Some(now * 0.02),
            })
            .collect();
        let fc = Forecast {
            origin: NOW,
            horizons,
            learning_hours: None,
            scale: now * 0.025,
            plan_quantile: 0.93,
        };
        snap.forecasts.insert(m, fc);
    }
    snap
}

fn app(theme: &str, lang: Lang) -> App {
    App::new(Theme::built_in(theme).unwrap(), lang)
}

fn render(app: &App, snap: &Snapshot, w: u16, h: u16) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| ui::draw(f, app, snap)).unwrap();
    terminal.backend().buffer().clone()
}

/// The screen as text, one line per row. Wide characters take two cells; the second
/// holds nothing, so it is left out, as a terminal shows it.
fn text(buf: &Buffer) -> String {
    let w = buf.area.width as usize;
    buf.content
        .chunks(w)
        .map(|row| {
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
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn overview_at_80x24() {
    let buf = render(&app("default", Lang::En), &snapshot(), 80, 24);
    insta::assert_snapshot!("overview_80x24", text(&buf));
}

#[test]
fn overview_at_200x50() {
    let buf = render(&app("default", Lang::En), &snapshot(), 200, 50);
    let screen = text(&buf);
    assert!(
        screen.contains("/srv/data"),
        "roomy screens show the filesystem table"
    );
    insta::assert_snapshot!("overview_200x50", screen);
}

#[test]
fn overview_in_chinese_keeps_table_columns_aligned() {
    let buf = render(&app("default", Lang::ZhCn), &snapshot(), 200, 50);
    let screen = text(&buf);
    assert!(
        screen.contains("影子模式") && screen.contains("文件系统"),
        "{screen}"
    );
    let header_y = (0..50)
        .find(|&y| find_in_row(&buf, y, "挂载点").is_some())
        .unwrap();
    let type_col = text_row_col(&buf, header_y, "类型");
    let ext4_col = text_row_col(&buf, header_y + 1, "ext4");
    let xfs_col = text_row_col(&buf, header_y + 2, "xfs");
    assert_eq!(type_col, ext4_col);
    assert_eq!(type_col, xfs_col);
    insta::assert_snapshot!("overview_zh_200x50", screen);
}

fn text_row(buf: &Buffer, y: u16) -> String {
    (0..buf.area.width)
        .map(|x| buf[(x, y)].symbol().to_string())
        .collect()
}

/// The cell column (display column) of `needle` on row `y`.
fn text_row_col(buf: &Buffer, y: u16, needle: &str) -> u16 {
    find_in_row(buf, y, needle)
        .unwrap_or_else(|| panic!("{needle} not on row {y}: {}", text_row(buf, y)))
}

fn find_in_row(buf: &Buffer, y: u16, needle: &str) -> Option<u16> {
    let chars: Vec<String> = needle.chars().map(|c| c.to_string()).collect();
    (0..buf.area.width).find(|&x| {
        let mut cx = x;
        chars.iter().all(|c| {
            let ok = cx < buf.area.width && buf[(cx, y)].symbol() == c;
            cx += unicode_width::UnicodeWidthStr::width(c.as_str()) as u16;
            ok
        })
    })
}

#[test]
fn a_terminal_below_80x24_gets_a_readable_message() {
    let buf = render(&app("default", Lang::En), &snapshot(), 60, 20);
    let screen = text(&buf);
    assert!(screen.contains("Terminal too small"), "{screen}");
    assert!(screen.contains("60×20 < 80×24"), "{screen}");
    assert!(!screen.contains("CPU"), "no half-drawn overview: {screen}");
}

#[test]
fn help_lists_every_key_of_the_keymap() {
    let mut a = app("default", Lang::En);
    a.help = true;
    let screen = text(&render(&a, &snapshot(), 100, 30));
    for b in KEYMAP {
        assert!(
            screen.contains(b.label),
            "{} missing from help:\n{screen}",
            b.label
        );
    }
    assert!(screen.contains("Esc or ? closes this help"));
}

#[test]
fn the_mode_badge_reads_without_colour() {
    let mut snap = snapshot();
    let a = app("mono", Lang::En);
    let buf = render(&a, &snap, 80, 24);
    let screen = text(&buf);
    assert!(
        screen
            .lines()
            .next()
            .unwrap()
            .ends_with("SHADOW · records only"),
        "{screen}"
    );
    let x = text_row_col(&buf, 0, "SHADOW");
    let cell = &buf[(x, 0)];
    assert!(
        cell.modifier.contains(Modifier::REVERSED),
        "mono marks the badge by reversing it"
    );
    for c in buf.content.iter() {
        assert!(
            matches!(c.fg, Color::Reset) && matches!(c.bg, Color::Reset),
            "mono uses no colour: {c:?}"
        );
    }
    snap.mode = Mode::Live;
    let screen = text(&render(&a, &snap, 80, 24));
    assert!(
        screen
            .lines()
            .next()
            .unwrap()
            .ends_with("LIVE · actions run"),
        "{screen}"
    );
}

#[test]
fn a_notice_about_vigil_itself_replaces_the_tab_strip() {
    let mut snap = snapshot();
    snap.notices.push(Notice {
        severity: Severity::Warn,
        text: "store: vigil.db is locked".into(),
    });
    let screen = text(&render(&app("default", Lang::En), &snap, 80, 24));
    assert!(
        screen
            .lines()
            .nth(1)
            .unwrap()
            .contains("⚠ store: vigil.db is locked"),
        "{screen}"
    );
}

#[test]
fn the_containers_view_shows_health_group_and_stats() {
    use vigil::execute::docker::ContainerInfo;
    let mut snap = snapshot();
    snap.containers = vec![
        ContainerInfo {
            name: "web-1".into(),
            state: "running".into(),
            health: Some("healthy".into()),
            group: Some("web".into()),
            image: "vigil-test:latest".into(),
            cpu_pct: Some(12.5),
            mem_bytes: Some(64 << 20),
            mem_limit: Some(256 << 20),
            status: "Up 3 minutes (healthy)".into(),
            ..ContainerInfo::default()
        },
        ContainerInfo {
            name: "api".into(),
            state: "exited".into(),
            image: "api:2".into(),
            status: "Exited (137) 5 seconds ago".into(),
            ..ContainerInfo::default()
        },
    ];
    let mut a = app("mono", Lang::En);
    a.view = View::Containers;
    let screen = text(&render(&a, &snap, 120, 30));
    assert!(screen.contains("running (healthy)"), "{screen}");
    assert!(screen.contains("12.5%"), "{screen}");
    assert!(screen.contains("64 MiB / 256 MiB"), "{screen}");
    assert!(screen.contains("exited"), "{screen}");
}

#[test]
fn the_audit_view_shows_the_latest_records_newest_last() {
    let mut snap = snapshot();
    snap.audit_tail = (1..=60)
        .map(|i| format!("#{i} 2026-11-24T00:00:00Z decision  tester   approved web v{i}"))
        .collect();
    let mut a = app("mono", Lang::ZhCn);
    a.view = View::Audit;
    let screen = text(&render(&a, &snap, 100, 30));
    assert!(screen.contains("approved web v60"), "{screen}");
    assert!(!screen.contains("approved web v1 "), "{screen}");
    assert!(screen.contains("审计日志"), "{screen}");
}

#[test]
fn the_forecast_view_shows_model_error_and_p90s() {
    let mut a = app("default", Lang::En);
    a.view = View::Forecast;
    let buf = render(&a, &snapshot(), 120, 40);
    let screen = text(&buf);
    // CPU 42.5 %: P90 in 15 min = 42.5 × (1 + 15/80), in 1 h = 42.5 × 1.75.
    assert!(
        screen.contains("P90 in 15 min 50.5%  in 1 h 74.4%"),
        "{screen}"
    );
    assert!(screen.contains("CPU · linear · MASE 0.80"), "{screen}");
    insta::assert_snapshot!("forecast_120x40", screen);
}

#[test]
fn the_overview_tiles_show_the_next_hour_peak() {
    let screen = text(&render(&app("default", Lang::En), &snapshot(), 120, 40));
    assert!(screen.contains("42.5% 1h≤74%"), "{screen}");
}

#[test]
fn a_series_still_learning_says_how_long() {
    let mut snap = snapshot();
    for fc in snap.forecasts.values_mut() {
        fc.learning_hours = Some(12.5);
    }
    let mut a = app("default", Lang::ZhCn);
    a.view = View::Forecast;
    let screen = text(&render(&a, &snap, 140, 40));
    assert!(screen.contains("学习中：还需 12.5 小时的数据"), "{screen}");
}

#[test]
fn the_actions_view_shows_a_proposal_with_its_price_and_reason() {
    use vigil::plan::proposal::TargetPlan;
    let mut snap = snapshot();
    let t = vigil::config::ScaleTarget {
        name: "web".into(),
        instances: 3,
        price_per_hour: 0.4,
        ..Default::default()
    };
    let mut plan = TargetPlan::new(t, NOW);
    let cpu = snap.forecasts[&Metric::Cpu].clone();
    let p = plan
        .decide(NOW, 250.0, Some(&cpu), "¥")
        .expect("a proposal");
    snap.board
        .push(vigil::engine::view::entry(&vigil::approve::Entry {
            proposal: p,
            state: vigil::approve::State::Pending,
            updated: NOW,
            expires: NOW + 600_000,
            by: None,
            note: None,
        }));
    snap.ledgers.push(("web".into(), plan.ledger.clone()));
    let mut a = app("mono", Lang::En);
    a.view = View::Actions;
    let screen = text(&render(&a, &snap, 120, 40));
    assert!(screen.contains("web: 3 → "), "{screen}");
    assert!(screen.contains("+¥"), "{screen}");
    assert!(screen.contains("why: load 250.0"), "{screen}");
    assert!(
        screen.contains("SHADOW: recorded as what would have run"),
        "{screen}"
    );
    assert!(screen.contains("do nothing"), "{screen}");
    insta::assert_snapshot!("actions_120x40", screen);
}

fn incident() -> vigil::protocol::IncidentView {
    use vigil::protocol::*;
    IncidentView {
        id: "inc-1-1".into(),
        target: "api-1".into(),
        trigger: "memory-leak".into(),
        state: IncidentState::RolledBack,
        started: 1_000,
        opened: 60_000,
        updated: 90_000,
        closed: Some(90_000),
        evidence: vec![
            IncidentEvidence {
                name: "container_mem_pct".into(),
                value: 71.5,
            },
            IncidentEvidence {
                name: "growth_per_hour".into(),
                value: 12.0,
            },
        ],
        diagnosis: vec!["memory grows steadily: a leak".into()],
        playbook: Some("memory-leak".into()),
        risk: Some("L2".into()),
        steps: vec![
            IncidentStep {
                name: "restart-container".into(),
                text: "restart container api-1".into(),
                state: StepState::Done,
                rollback: false,
                proposal: Some(("heal:api-1".into(), 1)),
                note: Some("restarted".into()),
                at: Some(70_000),
            },
            IncidentStep {
                name: "recreate-container".into(),
                text: "remove container api-1 and create it again".into(),
                state: StepState::Done,
                rollback: true,
                proposal: Some(("rollback:api-1".into(), 1)),
                note: None,
                at: Some(80_000),
            },
        ],
        verify: Some(IncidentVerify {
            text: "container_mem_pct must fall by 30% within 2m".into(),
            metric: "container_mem_pct".into(),
            before: Some(71.5),
            last: Some(69.0),
            deadline: Some(190_000),
            passed: Some(false),
        }),
        reason: Some("not verified: container_mem_pct was 71.5, is 69.0; rolled back and escalated to a person".into()),
        manual: false,
        false_alarm: false,
        awaiting: None,
        approved_by: None,
        note: None,
    }
}

#[test]
fn the_incidents_view_shows_evidence_diagnosis_steps_verification_and_the_board() {
    let mut snap = snapshot();
    snap.incidents = vec![incident()];
    snap.healing = vigil::heal::board::board(&snap.incidents, 100_000);
    let mut a = app("mono", Lang::En);
    a.view = View::Incidents;
    let screen = text(&render(&a, &snap, 160, 40));
    for want in [
        "6 Incidents",
        "Healing board",
        "rolled back 1",
        "memory-leak",
        "Evidence: container_mem_pct=71.50  growth_per_hour=12",
        "Diagnosis: memory grows steadily: a leak",
        "Playbook: memory-leak (L2)",
        "• done     restart container api-1 — restarted",
        "↩ rollback done     remove container api-1 and create it again",
        "Verification: container_mem_pct must fall by 30% within 2m  (before 71.50, now 69)  failed",
        "rolled back and escalated to a person",
    ] {
        assert!(screen.contains(want), "{want:?} not on\n{screen}");
    }
    let mut zh = app("mono", Lang::ZhCn);
    zh.view = View::Incidents;
    let screen = text(&render(&zh, &snap, 160, 40));
    for want in [
        "6 事件",
        "自愈看板",
        "已回滚",
        "证据",
        "诊断",
        "剧本",
        "验证",
        "完成",
    ] {
        assert!(screen.contains(want), "{want:?} not on\n{screen}");
    }
    // Nothing yet: a sentence, not an empty table.
    snap.incidents.clear();
    let screen = text(&render(&a, &snap, 120, 30));
    assert!(
        screen.contains("No incidents: nothing needed healing."),
        "{screen}"
    );
}

#[test]
fn an_incidents_llm_note_is_shown_as_advice_in_both_languages() {
    let mut snap = snapshot();
    let mut i = incident();
    i.note = Some(vigil::protocol::IncidentNote {
        playbook: "memory-leak".into(),
        target: "api-1".into(),
        cites: vec!["container_mem_pct".into(), "growth_per_hour".into()],
        reason: "Memory grew 12%/h until the restart.".into(),
        model: "deepseek-chat".into(),
        at: 80_000,
    });
    snap.incidents = vec![i];
    let mut a = app("mono", Lang::En);
    a.view = View::Incidents;
    let screen = text(&render(&a, &snap, 200, 40));
    let want = "LLM note: memory-leak → api-1  (cites container_mem_pct, growth_per_hour)  Memory grew 12%/h until the restart.  [deepseek-chat, advice only: the playbook decides what runs]";
    assert!(screen.contains(want), "{want:?} not on\n{screen}");
    let mut zh = app("mono", Lang::ZhCn);
    zh.view = View::Incidents;
    let screen = text(&render(&zh, &snap, 200, 40));
    let want = "LLM 建议: memory-leak → api-1  (依据 container_mem_pct, growth_per_hour)  Memory grew 12%/h until the restart.  [deepseek-chat, 仅供参考：执行什么由剧本决定]";
    assert!(screen.contains(want), "{want:?} not on\n{screen}");
    // Without a note, no such line.
    snap.incidents[0].note = None;
    let screen = text(&render(&a, &snap, 200, 40));
    assert!(!screen.contains("LLM note"), "{screen}");
}

#[test]
fn the_containers_view_tells_an_oom_kill_and_dockers_restarts_in_both_languages() {
    use vigil::execute::docker::ContainerInfo;
    let mut snap = snapshot();
    snap.containers = vec![
        ContainerInfo {
            name: "batch".into(),
            state: "exited".into(),
            oom_killed: Some(true),
            restart_count: Some(0),
            status: "Exited (137) 5 seconds ago".into(),
            ..ContainerInfo::default()
        },
        ContainerInfo {
            name: "flappy".into(),
            state: "restarting".into(),
            oom_killed: Some(false),
            restart_count: Some(7),
            status: "Restarting (1) 2 seconds ago".into(),
            ..ContainerInfo::default()
        },
    ];
    for (lang, oom, restarts) in [
        (
            Lang::En,
            "exited · OOM-killed",
            "restarts 7 · Restarting (1) 2 seconds ago",
        ),
        (
            Lang::ZhCn,
            "exited · OOM 被杀",
            "重启 7 · Restarting (1) 2 seconds ago",
        ),
    ] {
        let mut a = app("mono", lang);
        a.view = View::Containers;
        let screen = text(&render(&a, &snap, 180, 30));
        let batch = screen.lines().find(|l| l.contains("batch")).unwrap();
        assert!(batch.contains(oom), "{screen}");
        assert!(batch.contains("Exited (137) 5 seconds ago"), "{screen}");
        assert!(!batch.contains("restarts"), "{screen}");
        let flappy = screen.lines().find(|l| l.contains("flappy")).unwrap();
        assert!(flappy.contains(restarts), "{screen}");
        assert!(flappy.contains("restarting "), "{screen}");
        assert!(!flappy.contains("OOM"), "{screen}");
    }
}
