//! The global brake: a file, so that `vigil brake` from any shell stops every vigil on
//! the host at its next action, and a restart does not quietly re-arm it.
//!
//! It fails closed: only a definite "no such file" means released. A brake that cannot
//! be read (no permission, an I/O error, a directory or a symlink loop in its place)
//! stops everything, and says why.

use crate::audit::{Actor, AuditError, AuditLog};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Brake {
    path: PathBuf,
}

impl Brake {
    pub fn new(path: PathBuf) -> Brake {
        Brake { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Anything but a definitely released brake holds every action.
    pub fn engaged(&self) -> bool {
        self.state() != BrakeState::Released
    }

    /// Reads the brake now (a few hundred bytes at most are read: its body is small).
    pub fn state(&self) -> BrakeState {
        use std::io::Read;
        let unreadable = |e: std::io::Error| {
            BrakeState::Unreadable(format!(
                "the brake at {} cannot be read ({e}): nothing runs until it can",
                self.path.display()
            ))
        };
        let mut file = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // A dangling symlink also says NotFound: only no entry at all is released.
                return match std::fs::symlink_metadata(&self.path) {
                    Err(e2) if e2.kind() == std::io::ErrorKind::NotFound => BrakeState::Released,
                    Err(e2) => unreadable(e2),
                    Ok(_) => unreadable(e),
                };
            }
            Err(e) => return unreadable(e),
        };
        let mut body = Vec::new();
        if let Err(e) = (&mut file).take(MAX_BODY).read_to_end(&mut body) {
            return unreadable(e);
        }
        // Whatever the body says (or if it says nothing readable), the brake is on.
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let by = v
            .pointer("/by/user")
            .and_then(|u| u.as_str())
            .unwrap_or("someone")
            .to_string();
        let reason = v
            .get("reason")
            .and_then(|r| r.as_str())
            .unwrap_or_default()
            .to_string();
        BrakeState::Engaged { by, reason }
    }

    /// Engages the brake. Audited first: a brake nobody can account for is not pulled
    /// silently, but it is pulled even if the audit fails, since stopping is always safe.
    pub fn engage(&self, log: &mut AuditLog, who: &Actor, reason: &str) -> anyhow::Result<()> {
        let audited = log.append("brake", who, serde_json::json!({"engaged": true, "summary": if reason.is_empty() { "brake engaged".to_string() } else { format!("brake engaged: {reason}") }}));
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let body = serde_json::json!({
            "by": who,
            "at": chrono::Utc::now().to_rfc3339(),
            "reason": reason,
        });
        std::fs::write(&self.path, format!("{body}\n"))?;
        audited?;
        Ok(())
    }

    /// Re-arms: only a person does this, and it is refused if it cannot be audited.
    pub fn release(&self, log: &mut AuditLog, who: &Actor) -> Result<(), ReleaseError> {
        log.append(
            "brake",
            who,
            serde_json::json!({"engaged": false, "summary": "brake released"}),
        )?;
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(ReleaseError::Io(e)),
            _ => Ok(()),
        }
    }
}

/// What the brake file says, read before every action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrakeState {
    /// No brake file: approved actions may run.
    Released,
    /// Engaged by a person, for a reason (possibly empty).
    Engaged { by: String, reason: String },
    /// Its state cannot be read: nothing runs; the text says why, for the header.
    Unreadable(String),
}

/// More than this of a brake file is not read: it is engaged whatever it says.
const MAX_BODY: u64 = 4096;

#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error("cannot remove the brake file: {0}")]
    Io(std::io::Error),
}
