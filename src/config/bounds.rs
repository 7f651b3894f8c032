//! Upper bounds on the config's numbers. A type accepts `max = 1000000000000` or
//! `memory_mib = 17592186044416`; vigil would then allocate for it, or multiply it into
//! bytes and overflow. Each bound is far above any real host and far below overflow.
//! (Durations are bounded where they are read: `duration::MAX`.)

use super::schema::{Config, Flavor, Template};

/// Instances in one scale target.
pub const MAX_INSTANCES: usize = 10_000;
/// A container's memory limit: 16 TiB, in MiB (bytes = MiB × 2²⁰ stays far inside i64).
pub const MAX_MEMORY_MIB: u64 = 16 << 20;
/// A container's CPU limit, in cores.
pub const MAX_CPUS: f64 = 1024.0;
/// Restarts counted in one heal window.
pub const MAX_RESTARTS: u32 = 1000;
/// Fixes under way at once.
pub const MAX_FIXES: u32 = 64;
/// Watched disks.
pub const MAX_DISKS: usize = 64;
/// Records between checkpoints of the audit chain.
pub const MAX_CHECKPOINT_EVERY: u64 = 1_000_000;

/// Every number above its bound (or not a finite number), as (dotted key, message).
pub fn problems(c: &Config) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if c.heal.max_restarts > MAX_RESTARTS {
        out.push((
            "heal.max_restarts".into(),
            format!(
                "at most {MAX_RESTARTS} restarts, got {}",
                c.heal.max_restarts
            ),
        ));
    }
    if c.heal.restart_loop_restarts > MAX_RESTARTS {
        out.push((
            "heal.restart_loop_restarts".into(),
            format!(
                "at most {MAX_RESTARTS} restarts, got {}",
                c.heal.restart_loop_restarts
            ),
        ));
    }
    if !(1..=MAX_FIXES).contains(&c.heal.max_fixes) {
        out.push((
            "heal.max_fixes".into(),
            format!("between 1 and {MAX_FIXES} fixes, got {}", c.heal.max_fixes),
        ));
    }
    if !(c.heal.disk_threshold_pct.is_finite()
        && (0.0..=100.0).contains(&c.heal.disk_threshold_pct))
    {
        out.push((
            "heal.disk_threshold_pct".into(),
            format!(
                "a share between 0 and 100, got {}",
                c.heal.disk_threshold_pct
            ),
        ));
    }
    if !(c.heal.leak_min_growth_pct_per_hour.is_finite()
        && c.heal.leak_min_growth_pct_per_hour > 0.0
        && c.heal.leak_min_growth_pct_per_hour <= 1e6)
    {
        out.push((
            "heal.leak_min_growth_pct_per_hour".into(),
            format!(
                "a positive number of points per hour, got {}",
                c.heal.leak_min_growth_pct_per_hour
            ),
        ));
    }
    if c.heal.disks.len() > MAX_DISKS {
        out.push((
            "heal.disks".into(),
            format!(
                "at most {MAX_DISKS} watched disks, got {}",
                c.heal.disks.len()
            ),
        ));
    }
    out.extend(super::host_checks::problems(&c.heal));
    for (i, d) in c.heal.disks.iter().enumerate() {
        if !d.path.is_absolute() {
            out.push((
                format!("heal.disks[{i}].path"),
                format!("\"{}\" is not an absolute path", d.path.display()),
            ));
        }
        if let Some(b) = d.budget_mib
            && !(1..=MAX_MEMORY_MIB << 10).contains(&b)
        {
            out.push((
                format!("heal.disks[{i}].budget_mib"),
                format!("between 1 and {} MiB, got {b}", MAX_MEMORY_MIB << 10),
            ));
        }
    }
    if !(1..=MAX_CHECKPOINT_EVERY).contains(&c.audit.checkpoint_every) {
        out.push((
            "audit.checkpoint_every".into(),
            format!(
                "between 1 and {MAX_CHECKPOINT_EVERY} records, got {}",
                c.audit.checkpoint_every
            ),
        ));
    }
    for (i, t) in c.scale.iter().enumerate() {
        let key = |k: &str| format!("scale.{i}.{k}");
        for (name, n) in [
            ("instances", t.instances),
            ("max", t.max),
            ("manual_above", t.manual_above),
            ("manual_below", t.manual_below),
        ] {
            if n > MAX_INSTANCES {
                out.push((
                    key(name),
                    format!("at most {MAX_INSTANCES} instances, got {n}"),
                ));
            }
        }
        for (name, v) in [
            ("price_per_hour", t.price_per_hour),
            ("max_monthly_cost", t.max_monthly_cost),
        ] {
            if !v.is_finite() {
                out.push((key(name), format!("must be a finite number, got {v}")));
            }
        }
        if let Some(tpl) = &t.template {
            limits(&mut out, &key("template"), template_limits(tpl));
        }
        if let Some(f) = &t.resize_to {
            limits(&mut out, &key("resize_to"), flavor_limits(f));
            if !(f.capacity.is_finite() && f.price_per_hour.is_finite()) {
                out.push((
                    key("resize_to"),
                    "capacity and price_per_hour must be finite numbers".into(),
                ));
            }
        }
    }
    out
}

fn template_limits(t: &Template) -> (f64, u64) {
    (t.cpus, t.memory_mib)
}

fn flavor_limits(f: &Flavor) -> (f64, u64) {
    (f.cpus, f.memory_mib)
}

/// Container limits: the executor turns them into nano-CPUs and bytes.
fn limits(out: &mut Vec<(String, String)>, key: &str, (cpus, memory_mib): (f64, u64)) {
    if !(0.0..=MAX_CPUS).contains(&cpus) {
        out.push((
            format!("{key}.cpus"),
            format!("between 0 and {MAX_CPUS} cores, got {cpus}"),
        ));
    }
    if memory_mib > MAX_MEMORY_MIB {
        out.push((
            format!("{key}.memory_mib"),
            format!("at most {MAX_MEMORY_MIB} MiB (16 TiB), got {memory_mib}"),
        ));
    }
}

/// Puts the out-of-bound keys that are not part of a scale target back to their
/// defaults; returns the other keys for `Config::reset_keys` (which leaves a scale
/// target with a wrong value out).
pub fn reset(c: &mut Config, keys: &[String]) -> Vec<String> {
    let d = Config::default();
    let mut rest = Vec::new();
    for k in keys {
        match k.as_str() {
            "heal.max_restarts" => c.heal.max_restarts = d.heal.max_restarts,
            "heal.max_fixes" => c.heal.max_fixes = d.heal.max_fixes,
            "heal.restart_loop_restarts" => {
                c.heal.restart_loop_restarts = d.heal.restart_loop_restarts
            }
            "heal.disk_threshold_pct" => c.heal.disk_threshold_pct = d.heal.disk_threshold_pct,
            "heal.leak_min_growth_pct_per_hour" => {
                c.heal.leak_min_growth_pct_per_hour = d.heal.leak_min_growth_pct_per_hour
            }
            "heal.disks" => c.heal.disks.truncate(MAX_DISKS),
            k if k.starts_with("heal.disks[") => {
                c.heal.disks.retain(|w| w.path.is_absolute());
                for w in &mut c.heal.disks {
                    if w.budget_mib
                        .is_some_and(|b| b == 0 || b > MAX_MEMORY_MIB << 10)
                    {
                        w.budget_mib = None;
                    }
                }
            }
            "audit.checkpoint_every" => c.audit.checkpoint_every = d.audit.checkpoint_every,
            k if super::host_checks::reset(&mut c.heal, k) => {}
            _ => rest.push(k.clone()),
        }
    }
    rest
}
