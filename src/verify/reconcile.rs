//! What the audit log says happened to the entries a crash left approved, running or
//! done: the gate writes (and flushes) the intent before the executor is called, so an
//! entry without one never started, and one with an intent but no result may have run
//! and must be read back from the world.

use crate::audit::Record;
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::Path;

/// A record longer than this is not one vigil wrote; it is skipped, not read whole.
const MAX_LINE: usize = 1 << 20;

/// The gate's records of one proposal version, in the order written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trail {
    pub intent: bool,
    /// When the intent was written (unix ms): the action began after it.
    pub intent_at: Option<i64>,
    pub shadowed: bool,
    pub braked: bool,
    /// The executor's answer: Ok(summary) or Err(error).
    pub result: Option<Result<String, String>>,
    /// The verification's verdict: (verified, text).
    pub verdict: Option<(bool, String)>,
}

/// What a restart does with one entry.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// It never reached the executor: marked "not run", never run now.
    NotRun(String),
    /// The gate recorded it as not run (shadow mode, brake).
    Shadowed,
    Braked,
    /// The executor answered before the crash: its result stands.
    Finished(Result<String, String>),
    /// It may have run: read the target's state to know.
    ReadWorld,
    /// It ran; its verification is to be (re)done.
    Verify,
    /// Its verification was recorded: (verified, text).
    Verdict(bool, String),
}

/// Decides from the queue's state and the audit trail, never from a guess.
pub fn step(state: crate::approve::State, trail: Option<&Trail>) -> Step {
    use crate::approve::State;
    let t = trail.cloned().unwrap_or_default();
    match state {
        State::Done => match t.verdict {
            Some((ok, text)) => Step::Verdict(ok, text),
            None => Step::Verify,
        },
        State::Running if t.intent => match t.result {
            Some(r) => Step::Finished(r),
            None => Step::ReadWorld,
        },
        State::Running if t.shadowed => Step::Shadowed,
        State::Running if t.braked => Step::Braked,
        State::Running => {
            Step::NotRun("not run: vigil stopped before its intent was written".into())
        }
        _ => Step::NotRun("not run: vigil stopped before it ran".into()),
    }
}

/// Reads the log once, line by line, keeping only the records of the versions asked for.
pub fn trails(
    path: &Path,
    wanted: &HashSet<(String, u32)>,
) -> Result<HashMap<(String, u32), Trail>, String> {
    let mut out: HashMap<(String, u32), Trail> = HashMap::new();
    if wanted.is_empty() {
        return Ok(out);
    }
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        // No log: nothing was ever written, so nothing ran.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = std::io::Read::take(&mut reader, MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        if line.last() != Some(&b'\n') && n > MAX_LINE {
            // Skip the rest of an overlong line.
            let mut sink = Vec::new();
            reader
                .read_until(b'\n', &mut sink)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            continue;
        }
        // The line's own `hash` field is ignored by the record's reader.
        let Ok(rec) = serde_json::from_slice::<Record>(&line) else {
            continue;
        };
        let Some(key) = key_of(&rec) else { continue };
        if !wanted.contains(&key) {
            continue;
        }
        let t = out.entry(key).or_default();
        let summary = || {
            rec.data
                .get("summary")
                .and_then(|s| s.as_str())
                .unwrap_or_default()
                .to_string()
        };
        match rec.kind.as_str() {
            "intent" => {
                t.intent = true;
                t.intent_at = chrono::DateTime::parse_from_rfc3339(&rec.ts)
                    .ok()
                    .map(|d| d.timestamp_millis());
            }
            "shadow" => t.shadowed = true,
            "braked" => t.braked = true,
            "result" => {
                let ok = rec.data.get("ok").and_then(|v| v.as_bool()) == Some(true);
                t.result = Some(if ok {
                    Ok(rec
                        .data
                        .pointer("/outcome/summary")
                        .and_then(|s| s.as_str())
                        .map(str::to_string)
                        .unwrap_or_else(summary))
                } else {
                    Err(rec
                        .data
                        .get("error")
                        .and_then(|s| s.as_str())
                        .map(str::to_string)
                        .unwrap_or_else(summary))
                });
            }
            "verify" => {
                let ok = rec.data.get("verified").and_then(|v| v.as_bool()) == Some(true);
                t.verdict = Some((ok, summary()));
            }
            _ => {}
        }
    }
    Ok(out)
}

fn key_of(r: &Record) -> Option<(String, u32)> {
    let id = r.data.get("proposal")?.as_str()?.to_string();
    let v = u32::try_from(r.data.get("version")?.as_u64()?).ok()?;
    Some((id, v))
}
