//! One owner per host: the process that holds this lock alone plans, approves and
//! executes. The lock is an flock on a file in the data directory, so it is released
//! by the kernel when its holder dies, however it dies; the file says who holds it.

use serde::{Deserialize, Serialize};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// Who holds the lock, as the holder wrote it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    pub user: String,
    /// "daemon", "console" or a command ("approve").
    pub role: String,
    pub since: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pid {} ({}, user {}, since {})",
            self.pid, self.role, self.user, self.since
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another vigil engine owns this host: {holder} holds {path}")]
    Held { holder: String, path: PathBuf },
    #[error("cannot open the owner lock {path}: {reason}")]
    Io { path: PathBuf, reason: String },
}

/// Held for as long as this value lives.
#[derive(Debug)]
pub struct OwnerLock {
    _file: std::fs::File,
    pub path: PathBuf,
}

/// The holder's note is small; a larger file is not ours to parse.
const MAX_NOTE: u64 = 4096;

fn read_holder(file: &mut std::fs::File) -> String {
    let mut s = String::new();
    let _ = file.rewind();
    let _ = file.take(MAX_NOTE).read_to_string(&mut s);
    match serde_json::from_str::<Holder>(s.trim()) {
        Ok(h) => h.to_string(),
        Err(_) => "a process that left no note".into(),
    }
}

impl OwnerLock {
    /// Takes the lock without waiting; if another process holds it, says who.
    pub fn acquire(path: &Path, role: &str) -> Result<OwnerLock, LockError> {
        let io = |e: std::io::Error| LockError::Io {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io)?;
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(rustix::io::Errno::WOULDBLOCK) => {
                return Err(LockError::Held {
                    holder: read_holder(&mut file),
                    path: path.to_path_buf(),
                });
            }
            Err(e) => return Err(io(e.into())),
        }
        let holder = Holder {
            pid: std::process::id(),
            user: crate::audit::Actor::local().user,
            role: role.to_string(),
            since: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        };
        // The note is best effort: the flock is what counts.
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = writeln!(
            file,
            "{}",
            serde_json::to_string(&holder).unwrap_or_default()
        );
        let _ = file.flush();
        Ok(OwnerLock {
            _file: file,
            path: path.to_path_buf(),
        })
    }

    /// Who holds the lock now, if anyone (for messages; never for decisions).
    pub fn holder(path: &Path) -> Option<String> {
        let mut file = std::fs::File::open(path).ok()?;
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockShared) {
            Ok(()) => None,
            Err(_) => Some(read_holder(&mut file)),
        }
    }
}
