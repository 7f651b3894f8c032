//! Durations in config files are written the way operators say them ("1s", "500ms",
//! "8d"), never as bare numbers whose unit a reader would have to guess.

use serde::de::{self, Visitor};
use serde::{Deserializer, Serializer};
use std::fmt;
use std::time::Duration;

pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&humantime::format_duration(*d).to_string())
}

/// The longest duration a config may give: 100 years. Durations become milliseconds on
/// an i64 clock and are added to "now"; far below that bound nothing can overflow, and
/// no retention, window or timeout vigil has needs more.
pub const MAX: Duration = Duration::from_secs(100 * 31_557_600);

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    d.deserialize_any(DurationVisitor)
}

struct DurationVisitor;

const EXPECTED: &str = "a duration like \"1s\"";

impl Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(EXPECTED)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
        let shown = clip(v);
        match humantime::parse_duration(v.trim()) {
            Ok(d) if d <= MAX => Ok(d),
            Ok(_) | Err(humantime::DurationError::NumberOverflow) => Err(E::custom(format!(
                "expected {EXPECTED} of at most 100 years, got \"{shown}\""
            ))),
            Err(e) => Err(E::custom(format!(
                "expected {EXPECTED}, got \"{shown}\" ({e})"
            ))),
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
        Err(E::custom(format!("expected {EXPECTED}, got {v}")))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
        Err(E::custom(format!("expected {EXPECTED}, got {v}")))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
        Err(E::custom(format!("expected {EXPECTED}, got {v}")))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Duration, E> {
        Err(E::custom(format!("expected {EXPECTED}, got {v}")))
    }
}

/// A value quoted in a message, cut short: the message stays one line whatever the file
/// holds.
fn clip(s: &str) -> String {
    const MAX_CHARS: usize = 40;
    match s.char_indices().nth(MAX_CHARS) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}
