//! The global brake: a file, so that `vigil brake` from any shell stops every vigil on
//! the host at its next action, and a restart does not quietly re-arm it.

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

    pub fn engaged(&self) -> bool {
        self.path.exists()
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

#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error("cannot remove the brake file: {0}")]
    Io(std::io::Error),
}
