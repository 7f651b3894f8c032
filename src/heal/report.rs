//! `vigil incidents` in words: one line an incident, its evidence, diagnosis and steps
//! beneath, then the board.

use crate::protocol::{HealingBoard, HealingSpan, IncidentView};
use std::fmt::Write as _;

fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| ms.to_string())
}

pub fn text(incidents: &[IncidentView], board: &HealingBoard) -> String {
    let mut out = String::new();
    if incidents.is_empty() {
        out.push_str("no incidents\n");
    }
    for i in incidents {
        let _ = writeln!(
            out,
            "{}  {:<11} {:<22} {}  opened {}",
            i.id,
            i.state.name(),
            i.trigger,
            i.target,
            when(i.opened)
        );
        let ev: Vec<String> = i
            .evidence
            .iter()
            .map(|e| format!("{}={}", e.name, trim(e.value)))
            .collect();
        let _ = writeln!(
            out,
            "    evidence: {} (since {})",
            ev.join(" "),
            when(i.started)
        );
        for d in &i.diagnosis {
            let _ = writeln!(out, "    diagnosis: {d}");
        }
        if let Some(p) = &i.playbook {
            let _ = writeln!(
                out,
                "    playbook: {p} ({})",
                i.risk.as_deref().unwrap_or("?")
            );
        }
        for s in &i.steps {
            let _ = writeln!(
                out,
                "    {} {:<9} {}{}",
                if s.rollback { "↩" } else { "•" },
                s.state.name(),
                s.text,
                s.note
                    .as_deref()
                    .map(|n| format!(" — {n}"))
                    .unwrap_or_default()
            );
        }
        if let Some(v) = &i.verify {
            let _ = writeln!(
                out,
                "    verify: {} (before {}, now {}{})",
                v.text,
                v.before.map(trim).unwrap_or_else(|| "-".into()),
                v.last.map(trim).unwrap_or_else(|| "-".into()),
                match v.passed {
                    Some(true) => ", passed",
                    Some(false) => ", failed",
                    None => "",
                }
            );
        }
        if let Some(n) = &i.note {
            let _ = writeln!(
                out,
                "    LLM note ({}, advice only): {} on {}, cites {}: {}",
                n.model,
                n.playbook,
                n.target,
                n.cites.join(", "),
                n.reason
            );
        }
        if let Some(r) = &i.reason {
            let _ = writeln!(out, "    {r}");
        }
    }
    let _ = writeln!(out, "\nhealing board");
    for (name, s) in [("last day", &board.day), ("last week", &board.week)] {
        let _ = writeln!(out, "  {name:<9} {}", span(s));
    }
    out
}

fn trim(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e12 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

pub fn span(s: &HealingSpan) -> String {
    format!(
        "{} incidents, {} resolved, {} rolled back, {} escalated; MTTR {}; success {}; false alarms {}; manual {}",
        s.incidents,
        s.resolved,
        s.rolled_back,
        s.escalated,
        s.mttr_s
            .map(
                |m| humantime::format_duration(std::time::Duration::from_secs(m.round() as u64))
                    .to_string()
            )
            .unwrap_or_else(|| "-".into()),
        s.success_rate
            .map(|r| format!("{:.0}%", r * 100.0))
            .unwrap_or_else(|| "-".into()),
        s.false_alarms,
        s.manual
    )
}
