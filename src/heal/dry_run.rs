//! What a playbook would do to one target, step by step, in words. Reads nothing and
//! acts on nothing: the same text an operator sees before approving it.

use super::{Check, Improvement, Playbook, PlaybooksConfig, Risk, Step};
use std::fmt::Write as _;

/// Container names, unit names and scale targets: what Docker and systemd accept. A
/// target is never put into a command line, but it is shown and audited, so it is
/// checked like one.
pub fn check_target(t: &str) -> Result<(), String> {
    let ok = !t.is_empty()
        && t.len() <= 255
        && !t.starts_with(['-', '.'])
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@:".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "target \"{}\": expected a container, unit or scale target name (letters, digits, - _ . @ :)",
            t.escape_debug()
        ))
    }
}

pub fn describe(p: &Playbook, target: &str, cfg: &PlaybooksConfig) -> Result<String, String> {
    check_target(target)?;
    let mut out = String::new();
    let _ = writeln!(out, "playbook {} ({}), on {}", p.name, p.file, target);
    if !p.description.is_empty() {
        let _ = writeln!(out, "  {}", p.description);
    }
    let _ = writeln!(out, "trigger: {}", p.trigger.name());
    let classes = p.classes().join(", ");
    let gate = match p.risk {
        Risk::L3 => "L3: waits for a person to approve it".to_string(),
        r if p.runs_unattended(cfg) => format!(
            "{}: would run by itself (playbooks.auto allows {classes}){}",
            r.name(),
            if r == Risk::L2 { " and notify" } else { "" }
        ),
        r => format!(
            "{}: waits for a person (playbooks.auto does not allow all of {classes})",
            r.name()
        ),
    };
    let _ = writeln!(out, "risk: {gate}");
    let _ = writeln!(out, "steps:");
    for (i, s) in p.steps.iter().enumerate() {
        let _ = writeln!(out, "  {}. {}", i + 1, step(s, target, cfg));
    }
    let _ = writeln!(out, "then verify: {}", check(&p.verify));
    if p.rollback.is_empty() {
        let _ = writeln!(
            out,
            "if not verified: nothing to undo; escalate to a person"
        );
    } else {
        let _ = writeln!(
            out,
            "if not verified: roll back, then escalate to a person:"
        );
        for (i, s) in p.rollback.iter().enumerate() {
            let _ = writeln!(out, "  {}. {}", i + 1, step(s, target, cfg));
        }
    }
    let _ = writeln!(out, "dry run: nothing was done");
    Ok(out)
}

fn dur(d: std::time::Duration) -> String {
    humantime::format_duration(d).to_string()
}

fn paths(ps: &[std::path::PathBuf]) -> String {
    ps.iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn step(s: &Step, target: &str, cfg: &PlaybooksConfig) -> String {
    match s {
        Step::RestartContainer => format!("restart container {target}"),
        Step::RecreateContainer => {
            format!("remove container {target} and create it again from its image and settings")
        }
        Step::RestartUnit => format!("restart systemd unit {target}"),
        Step::DropPageCache => {
            "drop the kernel's clean page cache (sync, then echo 1 > /proc/sys/vm/drop_caches)"
                .into()
        }
        Step::DeleteLogs {
            older_than,
            paths: p,
        } => format!(
            "delete regular files older than {} under {} (never outside the log roots)",
            dur(*older_than),
            paths(p)
        ),
        Step::CompressLogs {
            older_than,
            paths: p,
        } => format!(
            "gzip regular files older than {} under {}",
            dur(*older_than),
            paths(p)
        ),
        Step::JournalVacuum { max_size } => {
            format!(
                "shrink the systemd journal to {} MiB (journalctl --vacuum-size)",
                max_size >> 20
            )
        }
        Step::RenewCert { command } => {
            let argv = cfg
                .commands
                .get(command)
                .map(|a| a.join(" "))
                .unwrap_or_else(|| "(not configured)".into());
            format!("run configured command \"{command}\": {argv} (no shell)")
        }
        Step::ScaleOut { target: t, by } => format!(
            "scale {} out by {by} instance(s) (to the count read then, plus {by})",
            t.as_deref().unwrap_or(target)
        ),
        Step::Notify { message } => format!("notify: \"{message}\""),
        Step::Wait { duration } => format!("wait {}", dur(*duration)),
        Step::Verify(c) => format!("check: {}", check(c)),
    }
}

pub fn check(c: &Check) -> String {
    let dir = match super::higher_is_better(&c.metric) {
        Some(true) => "rise",
        _ => "fall",
    };
    let amount = match c.improves_by {
        Improvement::By(v) => format!("{v}"),
        Improvement::Percent(v) => format!("{v}%"),
    };
    format!(
        "{} must {dir} by {amount} within {}",
        c.metric,
        dur(c.within)
    )
}
