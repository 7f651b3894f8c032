//! Failed systemd units, from `systemctl list-units --failed --output=json`. On a host
//! (or container) where systemd is not the init system there is nothing to ask: that is
//! said once, not retried as an error at every reading.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// systemctl's answer is read up to this size.
const MAX_BYTES: u64 = 1 << 20;
/// Failed units taken from one answer, at most.
pub const MAX_UNITS: usize = 256;
/// systemctl must answer within this (a hung D-Bus must not hold the reader).
const TIMEOUT: Duration = Duration::from_secs(10);
const SYSTEMCTL: &str = "/usr/bin/systemctl";

#[derive(Debug, Clone, PartialEq)]
pub struct FailedUnit {
    pub unit: String,
    pub sub: String,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum UnitsReading {
    Failed(Vec<FailedUnit>),
    /// systemd does not run this host: the check has nothing to read.
    NoSystemd(String),
    Error(String),
}

/// Whether systemd booted this host, as `sd_booted()` decides it: `/run/systemd/system`
/// exists only then.
pub fn systemd_booted(run_dir: &Path) -> bool {
    run_dir.join("systemd/system").is_dir()
}

/// systemctl's JSON: an array of objects with `unit`, `sub` and `description`.
pub fn parse_failed(text: &str) -> Result<Vec<FailedUnit>, String> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("systemctl's answer is not JSON: {e}"))?;
    let list = v
        .as_array()
        .ok_or("systemctl's answer is not a list of units")?;
    let s = |o: &serde_json::Value, k: &str| -> String {
        o.get(k)
            .and_then(|x| x.as_str())
            .unwrap_or("")
            .chars()
            .take(256)
            .collect()
    };
    let mut out = Vec::new();
    for (i, o) in list.iter().take(MAX_UNITS).enumerate() {
        let unit = s(o, "unit");
        if unit.is_empty() {
            return Err(format!("unit {}: no \"unit\" name", i + 1));
        }
        out.push(FailedUnit {
            unit,
            sub: s(o, "sub"),
            description: s(o, "description"),
        });
    }
    Ok(out)
}

/// Asks systemd for its failed units, bounded in time and size.
pub fn read(run_dir: &Path) -> UnitsReading {
    if !systemd_booted(run_dir) {
        return UnitsReading::NoSystemd(format!(
            "systemd does not run this host ({} is absent): heal.units has nothing to watch",
            run_dir.join("systemd/system").display()
        ));
    }
    let child = Command::new(SYSTEMCTL)
        .args(["list-units", "--failed", "--output=json", "--no-pager"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return UnitsReading::Error(format!("{SYSTEMCTL}: {e}")),
    };
    // Read apart from the wait, so a systemctl that hangs with its output open is still
    // caught by the timeout (killing it closes the pipe and ends the reader).
    let reader = child.stdout.take().map(|o| {
        std::thread::spawn(move || {
            let mut text = String::new();
            o.take(MAX_BYTES).read_to_string(&mut text).map(|_| text)
        })
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) if started.elapsed() < TIMEOUT => {
                std::thread::sleep(Duration::from_millis(50))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return UnitsReading::Error(format!(
                    "{SYSTEMCTL} did not answer within {}s",
                    TIMEOUT.as_secs()
                ));
            }
        }
    };
    let text = match reader.map(|r| r.join()) {
        Some(Ok(Ok(t))) => t,
        Some(Ok(Err(e))) => return UnitsReading::Error(format!("{SYSTEMCTL}: {e}")),
        _ => return UnitsReading::Error(format!("{SYSTEMCTL}: its output could not be read")),
    };
    if !status.success() {
        return UnitsReading::Error(format!("{SYSTEMCTL} list-units failed: {status}"));
    }
    match parse_failed(&text) {
        Ok(v) => UnitsReading::Failed(v),
        Err(e) => UnitsReading::Error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemctls_json_gives_the_failed_units() {
        let text = r#"[{"unit":"nginx.service","load":"loaded","active":"failed","sub":"failed","description":"A high performance web server"}]"#;
        assert_eq!(
            parse_failed(text),
            Ok(vec![FailedUnit {
                unit: "nginx.service".into(),
                sub: "failed".into(),
                description: "A high performance web server".into(),
            }])
        );
        assert_eq!(parse_failed("[]"), Ok(vec![]));
        assert_eq!(
            parse_failed("{}"),
            Err("systemctl's answer is not a list of units".into())
        );
        assert_eq!(
            parse_failed(r#"[{"sub":"failed"}]"#),
            Err("unit 1: no \"unit\" name".into())
        );
        assert!(
            parse_failed("0 loaded units listed.")
                .unwrap_err()
                .starts_with("systemctl's answer is not JSON")
        );
    }

    #[test]
    fn without_systemd_there_is_nothing_to_ask() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(
            read(d.path()),
            UnitsReading::NoSystemd(format!(
                "systemd does not run this host ({}/systemd/system is absent): heal.units has nothing to watch",
                d.path().display()
            ))
        );
    }
}
