//! One playbook file → a [`Playbook`], or every problem in it with its line and field.
//!
//! The file is read through toml_edit's tree, which keeps the byte span of every key
//! and value: each problem points at the text that causes it, and all of a file's
//! problems are reported at once. A playbook with any problem is refused whole (half a
//! playbook could act without its verification); the other files still load.

use super::{Check, Improvement, Playbook, Risk, STEP_NAMES, Step, Trigger, guard};
use crate::config::Problem;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;
use toml_edit::{Document, Item, TableLike, Value};

/// The largest playbook file read; the built-in ones are under 2 KiB.
pub const MAX_BYTES: usize = 64 * 1024;
/// Steps in one list (steps or rollback), and paths in one log step.
pub const MAX_STEPS: usize = 32;
pub const MAX_PATHS: usize = 16;
/// The largest scale-out one step may ask for.
pub const MAX_SCALE_BY: i64 = 100;

/// What a playbook is checked against: the operator's config.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub log_roots: Vec<PathBuf>,
    pub commands: BTreeMap<String, Vec<String>>,
    /// The names of the configured [[scale]] targets.
    pub scale_targets: Vec<String>,
}

impl Policy {
    pub fn from_config(c: &crate::config::Config) -> Policy {
        Policy {
            log_roots: c.playbooks.log_roots.clone(),
            commands: c.playbooks.commands.clone(),
            scale_targets: c.scale.iter().map(|t| t.name.clone()).collect(),
        }
    }
}

const TOP_KEYS: &[&str] = &[
    "name",
    "description",
    "trigger",
    "risk",
    "steps",
    "verify",
    "rollback",
];
const CHECK_KEYS: &[&str] = &["metric", "improves_by", "within"];

pub fn parse(src: &str, file: &str, policy: &Policy) -> Result<Playbook, Vec<Problem>> {
    let mut cx = Cx {
        file,
        src,
        problems: Vec::new(),
    };
    if src.len() > MAX_BYTES {
        cx.at(
            "",
            0..0,
            format!("larger than {} KiB: not a playbook", MAX_BYTES >> 10),
        );
        return Err(cx.problems);
    }
    let doc = match Document::parse(src) {
        Ok(d) => d,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            cx.at("", span, e.message().trim().to_string());
            return Err(cx.problems);
        }
    };
    let root: &dyn TableLike = doc.as_table();
    cx.unknown(root, "", TOP_KEYS, 0..0);
    let whole = 0..0;
    let name = cx
        .string(root, "", "name", whole.clone())
        .and_then(|(n, span)| {
            let ok = !n.is_empty()
                && n.len() <= 64
                && n.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !ok {
                cx.at(
                    "name",
                    span,
                    format!("a name of lowercase letters, digits and -, at most 64, got \"{n}\""),
                );
            }
            ok.then_some(n)
        });
    let description = match root.get("description") {
        None => Some(String::new()),
        Some(_) => cx
            .string(root, "", "description", whole.clone())
            .map(|(d, _)| d),
    };
    let trigger = cx
        .string(root, "", "trigger", whole.clone())
        .and_then(|(t, span)| {
            let found = Trigger::from_name(&t);
            if found.is_none() {
                let names: Vec<&str> = Trigger::ALL.iter().map(|t| t.name()).collect();
                cx.at("trigger", span, one_of("trigger", &t, &names));
            }
            found
        });
    let risk = cx
        .string(root, "", "risk", whole.clone())
        .and_then(|(r, span)| {
            let found = Risk::from_name(&r);
            if found.is_none() {
                cx.at("risk", span, format!("expected L1, L2 or L3, got \"{r}\""));
            }
            found
        });
    let steps = cx.steps(root, "steps", policy, true);
    // Telling a person is a playbook too (a runaway process is theirs to stop); only
    // waits and verifies alone do nothing.
    if let Some(s) = &steps
        && !s
            .iter()
            .any(|s| s.acts() || matches!(s, Step::Notify { .. }))
    {
        let span = root.get("steps").and_then(Item::span).unwrap_or(0..0);
        cx.at(
            "steps",
            span,
            "no step acts or notifies: a playbook must do something".into(),
        );
    }
    let verify = match root.get("verify") {
        None => {
            cx.at("verify", 0..0, "missing: every playbook says how its outcome is verified ([verify] metric, improves_by, within)".into());
            None
        }
        Some(item) => match item.as_table_like() {
            Some(t) => cx.check(t, "verify", item.span().unwrap_or(0..0)),
            None => {
                cx.at(
                    "verify",
                    item.span().unwrap_or(0..0),
                    "expected a table with metric, improves_by and within".into(),
                );
                None
            }
        },
    };
    let rollback = match root.get("rollback") {
        None => Some(Vec::new()),
        Some(_) => cx.steps(root, "rollback", policy, false),
    };
    match (name, description, trigger, risk, steps, verify, rollback) {
        (
            Some(name),
            Some(description),
            Some(trigger),
            Some(risk),
            Some(steps),
            Some(verify),
            Some(rollback),
        ) if cx.problems.is_empty() => Ok(Playbook {
            name,
            description,
            trigger,
            risk,
            steps,
            verify,
            rollback,
            file: file.to_string(),
        }),
        _ => {
            cx.problems.sort_by_key(|p| p.span.start);
            Err(cx.problems)
        }
    }
}

fn one_of(what: &str, got: &str, names: &[&str]) -> String {
    let closest = names
        .iter()
        .map(|n| (strsim::damerau_levenshtein(got, n), *n))
        .filter(|(d, n)| *d <= (n.len() / 3).max(2))
        .min();
    match closest {
        Some((_, n)) => format!("unknown {what} \"{got}\", did you mean \"{n}\"?"),
        None => format!(
            "unknown {what} \"{got}\"; expected one of {}",
            names.join(", ")
        ),
    }
}

/// Problems found so far, and the source they point into.
struct Cx<'a> {
    file: &'a str,
    src: &'a str,
    problems: Vec<Problem>,
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

impl Cx<'_> {
    fn at(&mut self, key: &str, span: Range<usize>, message: String) {
        if self.problems.len() >= 64 {
            return; // a file this wrong is refused already; the list stays readable
        }
        self.problems.push(Problem {
            file: self.file.to_string(),
            line: crate::config::line_of(self.src, span.start),
            key: key.to_string(),
            message,
            span,
        });
    }

    fn unknown(&mut self, t: &dyn TableLike, prefix: &str, known: &[&str], _whole: Range<usize>) {
        for (k, item) in t.iter() {
            if known.contains(&k) {
                continue;
            }
            let span = t
                .key(k)
                .and_then(|key| key.span())
                .or_else(|| item.span())
                .unwrap_or(0..0);
            let closest = known
                .iter()
                .map(|n| (strsim::damerau_levenshtein(k, n), *n))
                .filter(|(d, n)| *d <= (n.len() / 2).max(2))
                .min();
            let msg = match closest {
                Some((_, n)) => format!("unknown field `{k}`, did you mean `{n}`?"),
                None => format!(
                    "unknown field `{k}`; known fields here: {}",
                    known.join(", ")
                ),
            };
            self.at(&join(prefix, k), span, msg);
        }
    }

    /// A required string field.
    fn string(
        &mut self,
        t: &dyn TableLike,
        prefix: &str,
        key: &str,
        whole: Range<usize>,
    ) -> Option<(String, Range<usize>)> {
        let path = join(prefix, key);
        let Some(item) = t.get(key) else {
            self.at(&path, whole, format!("missing field `{key}`"));
            return None;
        };
        let span = item.span().unwrap_or(whole);
        match item.as_str() {
            Some(s) => Some((s.to_string(), span)),
            None => {
                self.at(
                    &path,
                    span,
                    format!("expected a string, got {}", shown(item)),
                );
                None
            }
        }
    }

    fn duration(
        &mut self,
        t: &dyn TableLike,
        prefix: &str,
        key: &str,
        whole: Range<usize>,
    ) -> Option<Duration> {
        let (s, span) = self.string(t, prefix, key, whole)?;
        match humantime::parse_duration(s.trim()) {
            Ok(d) if d <= crate::config::duration::MAX && !d.is_zero() => Some(d),
            Ok(_) => {
                self.at(
                    &join(prefix, key),
                    span,
                    format!("expected a duration from 1s to 100 years, got \"{s}\""),
                );
                None
            }
            Err(e) => {
                self.at(
                    &join(prefix, key),
                    span,
                    format!("expected a duration like \"10m\", got \"{s}\" ({e})"),
                );
                None
            }
        }
    }

    fn steps(
        &mut self,
        root: &dyn TableLike,
        key: &str,
        policy: &Policy,
        required: bool,
    ) -> Option<Vec<Step>> {
        let Some(item) = root.get(key) else {
            if required {
                self.at(key, 0..0, format!("missing: a playbook needs [[{key}]]"));
            }
            return None;
        };
        let span = item.span().unwrap_or(0..0);
        // [[steps]] tables, or steps = [{ do = "..." }, ...].
        let entries: Vec<(&dyn TableLike, Range<usize>)> = match item {
            Item::ArrayOfTables(a) => a
                .iter()
                .map(|t| (t as &dyn TableLike, t.span().unwrap_or(span.clone())))
                .collect(),
            Item::Value(Value::Array(a)) => {
                let mut out = Vec::new();
                for v in a.iter() {
                    match v.as_inline_table() {
                        Some(t) => {
                            out.push((t as &dyn TableLike, v.span().unwrap_or(span.clone())))
                        }
                        None => {
                            self.at(
                                key,
                                v.span().unwrap_or(span.clone()),
                                "expected a table like { do = \"wait\", for = \"10s\" }".into(),
                            );
                            return None;
                        }
                    }
                }
                out
            }
            _ => {
                self.at(key, span, format!("expected [[{key}]] tables"));
                return None;
            }
        };
        if entries.is_empty() && required {
            self.at(key, span, "no steps".into());
            return None;
        }
        if entries.len() > MAX_STEPS {
            self.at(
                key,
                span,
                format!("at most {MAX_STEPS} steps, got {}", entries.len()),
            );
            return None;
        }
        let before = self.problems.len();
        let steps: Vec<Option<Step>> = entries
            .into_iter()
            .enumerate()
            .map(|(i, (t, span))| self.step(t, &format!("{key}.{i}"), span, policy))
            .collect();
        (self.problems.len() == before).then(|| steps.into_iter().flatten().collect())
    }

    fn step(
        &mut self,
        t: &dyn TableLike,
        path: &str,
        whole: Range<usize>,
        policy: &Policy,
    ) -> Option<Step> {
        let (kind, kind_span) = self.string(t, path, "do", whole.clone())?;
        let fields: &[&str] = match kind.as_str() {
            "delete-logs" | "compress-logs" => &["do", "older_than", "paths"],
            "journal-vacuum" => &["do", "max_size"],
            "renew-cert" => &["do", "command"],
            "scale-out" => &["do", "target", "by"],
            "notify" => &["do", "message"],
            "wait" => &["do", "for"],
            "verify" => &["do", "metric", "improves_by", "within"],
            k if STEP_NAMES.contains(&k) => &["do"],
            _ => {
                self.at(
                    &join(path, "do"),
                    kind_span,
                    one_of("step", &kind, STEP_NAMES),
                );
                return None;
            }
        };
        self.unknown(t, path, fields, whole.clone());
        Some(match kind.as_str() {
            "restart-container" => Step::RestartContainer,
            "recreate-container" => Step::RecreateContainer,
            "restart-unit" => Step::RestartUnit,
            "drop-page-cache" => Step::DropPageCache,
            "delete-logs" | "compress-logs" => {
                let older_than = self.duration(t, path, "older_than", whole.clone());
                let paths = self.log_paths(t, path, whole, policy);
                let (older_than, paths) = (older_than?, paths?);
                if kind == "delete-logs" {
                    Step::DeleteLogs { older_than, paths }
                } else {
                    Step::CompressLogs { older_than, paths }
                }
            }
            "journal-vacuum" => {
                let (s, span) = self.string(t, path, "max_size", whole)?;
                match size(&s) {
                    Some(max_size) => Step::JournalVacuum { max_size },
                    None => {
                        self.at(
                            &join(path, "max_size"),
                            span,
                            format!("expected a size like \"500M\" (K, M, G or T), got \"{s}\""),
                        );
                        return None;
                    }
                }
            }
            "renew-cert" => {
                let (name, span) = self.string(t, path, "command", whole)?;
                match policy.commands.get(&name) {
                    None => {
                        let known: Vec<&str> = policy.commands.keys().map(String::as_str).collect();
                        self.at(&join(path, "command"), span, format!("command \"{name}\" is not configured in [playbooks.commands] (configured: {})", if known.is_empty() { "none".to_string() } else { known.join(", ") }));
                        return None;
                    }
                    Some(argv) => {
                        if let Err(e) = guard::check_command(argv) {
                            self.at(
                                &join(path, "command"),
                                span,
                                format!("command \"{name}\" is denied: {e}"),
                            );
                            return None;
                        }
                        Step::RenewCert { command: name }
                    }
                }
            }
            "scale-out" => {
                let target = match t.get("target") {
                    None => None,
                    Some(_) => {
                        let (name, span) = self.string(t, path, "target", whole.clone())?;
                        if !policy.scale_targets.contains(&name) {
                            self.at(
                                &join(path, "target"),
                                span,
                                format!("no [[scale]] target is named \"{name}\""),
                            );
                            return None;
                        }
                        Some(name)
                    }
                };
                let by = match t.get("by") {
                    None => {
                        self.at(&join(path, "by"), whole, "missing field `by`".into());
                        return None;
                    }
                    Some(item) => match item.as_integer() {
                        Some(n) if (1..=MAX_SCALE_BY).contains(&n) => n as u32,
                        _ => {
                            self.at(&join(path, "by"), item.span().unwrap_or(whole), format!("expected a whole number of instances from 1 to {MAX_SCALE_BY}, got {}", shown(item)));
                            return None;
                        }
                    },
                };
                Step::ScaleOut { target, by }
            }
            "notify" => {
                let (message, span) = self.string(t, path, "message", whole)?;
                if message.len() > 1000 {
                    self.at(&join(path, "message"), span, "at most 1000 bytes".into());
                    return None;
                }
                Step::Notify { message }
            }
            "wait" => Step::Wait {
                duration: self.duration(t, path, "for", whole)?,
            },
            "verify" => Step::Verify(self.check(t, path, whole)?),
            _ => return None,
        })
    }

    fn check(&mut self, t: &dyn TableLike, path: &str, whole: Range<usize>) -> Option<Check> {
        if path == "verify" {
            self.unknown(t, path, CHECK_KEYS, whole.clone());
        }
        let metric = self
            .string(t, path, "metric", whole.clone())
            .and_then(|(m, span)| {
                if super::higher_is_better(&m).is_some() {
                    return Some(m);
                }
                let names: Vec<&str> = crate::collect::Metric::ALL
                    .iter()
                    .map(|m| m.name())
                    .chain(super::TARGET_METRICS.iter().map(|(m, _)| *m))
                    .collect();
                self.at(&join(path, "metric"), span, one_of("metric", &m, &names));
                None
            });
        let improves_by = match t.get("improves_by") {
            None => {
                self.at(
                    &join(path, "improves_by"),
                    whole.clone(),
                    "missing field `improves_by`".into(),
                );
                None
            }
            Some(item) => {
                let span = item.span().unwrap_or(whole.clone());
                let parsed = match item {
                    Item::Value(Value::Integer(n)) => Some(Improvement::By(*n.value() as f64)),
                    Item::Value(Value::Float(f)) => Some(Improvement::By(*f.value())),
                    Item::Value(Value::String(s)) => s
                        .value()
                        .trim()
                        .strip_suffix('%')
                        .and_then(|n| n.trim().parse::<f64>().ok())
                        .map(Improvement::Percent),
                    _ => None,
                };
                match parsed {
                    Some(Improvement::By(v) | Improvement::Percent(v))
                        if v.is_finite() && v > 0.0 && v <= 1e12 =>
                    {
                        parsed
                    }
                    _ => {
                        self.at(&join(path, "improves_by"), span, format!("expected an amount above 0 in the metric's unit (5) or a share (\"20%\"), got {}", shown(item)));
                        None
                    }
                }
            }
        };
        let within = self.duration(t, path, "within", whole);
        Some(Check {
            metric: metric?,
            improves_by: improves_by?,
            within: within?,
        })
    }

    fn log_paths(
        &mut self,
        t: &dyn TableLike,
        path: &str,
        whole: Range<usize>,
        policy: &Policy,
    ) -> Option<Vec<PathBuf>> {
        let key = join(path, "paths");
        let Some(item) = t.get("paths") else {
            self.at(&key, whole, "missing field `paths`".into());
            return None;
        };
        let span = item.span().unwrap_or(whole);
        let Some(arr) = item.as_array() else {
            self.at(
                &key,
                span,
                format!("expected a list of directories, got {}", shown(item)),
            );
            return None;
        };
        if arr.is_empty() || arr.len() > MAX_PATHS {
            self.at(
                &key,
                span,
                format!("from 1 to {MAX_PATHS} paths, got {}", arr.len()),
            );
            return None;
        }
        let mut out = Vec::new();
        let mut ok = true;
        for (i, v) in arr.iter().enumerate() {
            let vspan = v.span().unwrap_or(span.clone());
            let k = format!("{key}.{i}");
            match v.as_str() {
                None => {
                    self.at(&k, vspan, "expected a path as a string".into());
                    ok = false;
                }
                Some(p) => match guard::under_roots(std::path::Path::new(p), &policy.log_roots) {
                    Ok(_) => out.push(PathBuf::from(p)),
                    Err(e) => {
                        self.at(&k, vspan, e);
                        ok = false;
                    }
                },
            }
        }
        ok.then_some(out)
    }
}

/// "500M" → bytes, in journalctl's units (K, M, G, T: powers of 1024).
pub fn size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last()? {
        (i, 'K') => (&s[..i], 1u64 << 10),
        (i, 'M') => (&s[..i], 1 << 20),
        (i, 'G') => (&s[..i], 1 << 30),
        (i, 'T') => (&s[..i], 1 << 40),
        _ => (s, 1),
    };
    let n: u64 = num.parse().ok()?;
    n.checked_mul(mult).filter(|&b| b > 0)
}

/// A value as written, cut short, for a message.
fn shown(item: &Item) -> String {
    let text = match item {
        Item::Value(v) => v.to_string(),
        Item::Table(_) => "a table".into(),
        Item::ArrayOfTables(_) => "a list of tables".into(),
        Item::None => "nothing".into(),
    };
    let text = text.trim().to_string();
    match text.char_indices().nth(40) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}
