//! audit: the hash-chained JSONL log of every proposal, decision, execution step and
//! outcome. Each line carries the SHA-256 of the line before it, so an edited, removed or
//! reordered record breaks the chain; checkpoints of the head sent elsewhere (webhooks,
//! syslog) catch a truncated tail too.
//!
//! A line is `{"seq":N,"ts":"…","kind":"…","actor":{…},"data":{…},"prev":"HEX","hash":"HEX"}`
//! where `hash` is the SHA-256 of the line up to (not including) `,"hash"` plus `}`.

pub mod syslog;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// The `prev` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
const HASH_KEY: &str = ",\"hash\":\"";

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit log {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("audit log {path} line {line}: {reason}")]
    Broken {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error(
        "audit tail -n {asked}: at most {MAX_TAIL} records at once (`vigil audit verify` reads the whole log)"
    )]
    TooMany { asked: usize },
}

/// Records `tail` returns at most: a console screen's worth many times over, and a
/// bound on what `vigil audit tail -n` holds in memory.
pub const MAX_TAIL: usize = 100_000;
/// A line longer than this is not a record vigil wrote (records are a few hundred
/// bytes): readers skip it, or name it, without holding it.
pub const MAX_LINE: usize = 1 << 20;
/// The most of the log's end `tail` holds at once, whatever `n` and the lines are.
const MAX_TAIL_BYTES: usize = 64 << 20;

/// Who took a decision: the local user, and the SSH client when there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Actor {
    pub user: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ssh: Option<String>,
}

impl Actor {
    /// The person at this terminal, from the environment.
    pub fn local() -> Actor {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| user_name(rustix::process::getuid().as_raw()));
        // SSH_CONNECTION is "client_ip client_port server_ip server_port".
        let ssh = std::env::var("SSH_CONNECTION")
            .ok()
            .or_else(|| std::env::var("SSH_CLIENT").ok())
            .and_then(|s| {
                let mut it = s.split_whitespace();
                Some(format!("{}:{}", it.next()?, it.next()?))
            });
        Actor { user, ssh }
    }

    /// vigil itself: auto-approvals, expiries, verifications.
    /// A peer on the socket, known only by its uid (from the kernel, not from itself).
    pub fn for_uid(uid: u32) -> Actor {
        Actor {
            user: user_name(uid),
            ssh: None,
        }
    }

    pub fn vigil() -> Actor {
        Actor {
            user: "vigil".into(),
            ssh: None,
        }
    }
}

/// The account name of a uid from /etc/passwd, or "uid N" when it has none.
fn user_name(uid: u32) -> String {
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|p| {
            p.lines().find_map(|l| {
                let mut f = l.split(':');
                let name = f.next()?;
                (f.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_string())
            })
        })
        .unwrap_or_else(|| format!("uid {uid}"))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub seq: u64,
    pub ts: String,
    pub kind: String,
    pub actor: Actor,
    pub data: serde_json::Value,
    pub prev: String,
}

/// The last record's position: what a checkpoint sends away.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub seq: u64,
    pub hash: String,
}

pub struct AuditLog {
    path: PathBuf,
    file: File,
    head: Head,
    /// The file's length after our last write: a different length means another process
    /// (`vigil brake`, a second console) appended, and the head must be read again.
    len: u64,
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Splits a line into the hashed body and the hash it claims.
fn split_line(line: &str) -> Option<(String, &str)> {
    let at = line.rfind(HASH_KEY)?;
    let claimed = line[at + HASH_KEY.len()..].strip_suffix("\"}")?;
    Some((format!("{}}}", &line[..at]), claimed))
}

impl AuditLog {
    /// Opens (or creates, 0600) the log and finds its head. A log whose chain is broken
    /// is refused: appending to it would hide the break.
    pub fn open(path: &Path) -> Result<AuditLog, AuditError> {
        let io = |source| AuditError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut opts = OpenOptions::new();
        opts.create(true).append(true);
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let file = opts.open(path).map_err(io)?;
        // The head and the length it was read at must be one picture: no other process
        // may append in between (it would then be taken for ours, and the next record
        // would repeat its seq). Appenders hold the lock exclusively.
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockShared)
            .map_err(|e| io(e.into()))?;
        let read = (|| {
            let len = file.metadata().map_err(io)?.len();
            let head = if len > 0 {
                verify(path)?.head
            } else {
                Head {
                    seq: 0,
                    hash: GENESIS.into(),
                }
            };
            Ok::<_, AuditError>((head, len))
        })();
        let _ = rustix::fs::flock(&file, rustix::fs::FlockOperation::Unlock);
        let (head, len) = read?;
        Ok(AuditLog {
            path: path.to_path_buf(),
            file,
            head,
            len,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn head(&self) -> &Head {
        &self.head
    }

    /// Appends one record and flushes it to the disk (fdatasync) before returning: when
    /// this returns Ok, the record survives a crash.
    pub fn append(
        &mut self,
        kind: &str,
        actor: &Actor,
        data: serde_json::Value,
    ) -> Result<Head, AuditError> {
        let io = |source| AuditError::Io {
            path: self.path.clone(),
            source,
        };
        // One writer at a time across processes; the lock goes with the descriptor.
        rustix::fs::flock(&self.file, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| io(e.into()))?;
        let result = self.append_locked(kind, actor, data);
        let _ = rustix::fs::flock(&self.file, rustix::fs::FlockOperation::Unlock);
        result
    }

    fn append_locked(
        &mut self,
        kind: &str,
        actor: &Actor,
        data: serde_json::Value,
    ) -> Result<Head, AuditError> {
        let actual = self
            .file
            .metadata()
            .map_err(|source| AuditError::Io {
                path: self.path.clone(),
                source,
            })?
            .len();
        if actual != self.len {
            self.head = last_head(&self.path)?;
        }
        let rec = Record {
            seq: self.head.seq + 1,
            ts: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            kind: kind.to_string(),
            actor: actor.clone(),
            data,
            prev: self.head.hash.clone(),
        };
        let body = serde_json::to_string(&rec).map_err(|e| AuditError::Io {
            path: self.path.clone(),
            source: std::io::Error::other(e),
        })?;
        let hash = sha256_hex(body.as_bytes());
        let line = format!("{}{HASH_KEY}{hash}\"}}\n", &body[..body.len() - 1]);
        let io = |source| AuditError::Io {
            path: self.path.clone(),
            source,
        };
        if let Err(e) = self
            .file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.sync_data())
        {
            // A disk that filled up mid-line must not leave half a record: the chain
            // would be broken for good. Cut back to where this record began.
            if let Err(cut) = self.file.set_len(actual) {
                tracing::error!(
                    "audit log {}: could not cut a partial record: {cut}",
                    self.path.display()
                );
            }
            return Err(io(e));
        }
        self.len = self.file.metadata().map_err(io)?.len();
        self.head = Head { seq: rec.seq, hash };
        Ok(self.head.clone())
    }
}

/// A record longer than this is not one vigil wrote.
const MAX_RECORD: u64 = 64 * 1024;

/// The head as the file's last line states it (its own hash checked). Reads only the
/// end of the file, so an append after another process's costs the same on any log; a
/// broken end is named by its line by a full check.
fn last_head(path: &Path) -> Result<Head, AuditError> {
    match tail_head(path) {
        Err(AuditError::Broken { .. }) => match verify(path) {
            Err(e) => Err(e),
            Ok(v) => Ok(v.head),
        },
        r => r,
    }
}

fn tail_head(path: &Path) -> Result<Head, AuditError> {
    use std::io::{Read, Seek, SeekFrom};
    let io = |source| AuditError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = File::open(path).map_err(io)?;
    let len = f.metadata().map_err(io)?.len();
    let from = len.saturating_sub(MAX_RECORD + 1);
    f.seek(SeekFrom::Start(from)).map_err(io)?;
    let mut buf = Vec::new();
    f.take(MAX_RECORD + 1).read_to_end(&mut buf).map_err(io)?;
    let broken = |reason: &str| AuditError::Broken {
        path: path.to_path_buf(),
        line: 0,
        reason: format!("the last record: {reason}"),
    };
    if buf.is_empty() {
        return Ok(Head {
            seq: 0,
            hash: GENESIS.into(),
        });
    }
    if buf.last() != Some(&b'\n') {
        return Err(broken("cut short (no end of line)"));
    }
    let body_end = buf.len() - 1;
    let start = match buf[..body_end].iter().rposition(|&b| b == b'\n') {
        Some(i) => i + 1,
        None if from == 0 => 0,
        None => return Err(broken("longer than 64 KiB")),
    };
    let line = std::str::from_utf8(&buf[start..body_end]).map_err(|_| broken("not UTF-8"))?;
    let (body, claimed) = split_line(line).ok_or_else(|| broken("no hash at the end"))?;
    if sha256_hex(body.as_bytes()) != claimed {
        return Err(broken("edited: the record does not match its hash"));
    }
    let rec: Record = serde_json::from_str(&body).map_err(|_| broken("not a record"))?;
    Ok(Head {
        seq: rec.seq,
        hash: claimed.to_string(),
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub records: u64,
    pub head: Head,
}

/// Checks the whole chain. The error names the first line that is edited (its hash does
/// not match), out of order or missing (its `seq` or `prev` does not follow), or garbled.
pub fn verify(path: &Path) -> Result<Verified, AuditError> {
    let file = File::open(path).map_err(|source| AuditError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    verify_reader(BufReader::new(file), path)
}

/// `verify` over any reader; `path` names the log in errors.
pub fn verify_reader(mut r: impl BufRead, path: &Path) -> Result<Verified, AuditError> {
    let broken = |line: usize, reason: String| AuditError::Broken {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let mut head = Head {
        seq: 0,
        hash: GENESIS.into(),
    };
    let mut n = 0;
    while let Some(line) = next_line(&mut r) {
        n += 1;
        let line = line.map_err(|e| broken(n, e))?;
        let (body, claimed) =
            split_line(&line).ok_or_else(|| broken(n, "no hash at the end of the line".into()))?;
        let actual = sha256_hex(body.as_bytes());
        if actual != claimed {
            return Err(broken(
                n,
                "edited: the record does not match its hash".into(),
            ));
        }
        let rec: Record =
            serde_json::from_str(&body).map_err(|e| broken(n, format!("not a record: {e}")))?;
        if rec.prev != head.hash {
            return Err(broken(
                n,
                format!(
                    "chain broken: prev does not match record {} (a record before it was removed, edited or reordered)",
                    head.seq
                ),
            ));
        }
        if rec.seq != head.seq.saturating_add(1) {
            return Err(broken(n, format!("seq {} follows {}", rec.seq, head.seq)));
        }
        head = Head {
            seq: rec.seq,
            hash: actual,
        };
    }
    Ok(Verified {
        records: head.seq,
        head,
    })
}

/// The next line (without its newline), holding at most `MAX_LINE` bytes of it: a longer
/// line, or one that is not UTF-8, is read past and returned as the reason it is not a
/// record. None at the end.
fn next_line(r: &mut impl BufRead) -> Option<Result<String, String>> {
    let mut buf = Vec::new();
    let mut long = false;
    loop {
        let chunk = match r.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Some(Err(format!("unreadable: {e}"))),
        };
        if chunk.is_empty() {
            if buf.is_empty() && !long {
                return None;
            }
            break;
        }
        let (part, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (&chunk[..i], i + 1),
            None => (chunk, chunk.len()),
        };
        let ends = done > part.len();
        if !long && buf.len() + part.len() <= MAX_LINE {
            buf.extend_from_slice(part);
        } else {
            long = true;
            buf.clear();
        }
        r.consume(done);
        if ends {
            break;
        }
    }
    if long {
        return Some(Err(format!(
            "longer than {} KiB: not a record",
            MAX_LINE >> 10
        )));
    }
    Some(String::from_utf8(buf).map_err(|_| "not UTF-8 text".to_string()))
}

/// A line as a record and the hash it claims; None if it is not one (the hash itself is
/// checked by `verify`, not here).
pub fn parse_line(line: &str) -> Option<(Record, String)> {
    let (body, hash) = split_line(line)?;
    Some((serde_json::from_str(&body).ok()?, hash.to_string()))
}

/// Checks that a checkpoint sent away earlier is still in the log: a log cut short
/// before it, or rewritten since, fails.
pub fn check_checkpoint(path: &Path, cp: &Head) -> Result<(), AuditError> {
    let v = verify(path)?;
    let missing = |reason: String| AuditError::Broken {
        path: path.to_path_buf(),
        line: cp.seq as usize,
        reason,
    };
    if v.head.seq < cp.seq {
        return Err(missing(format!(
            "truncated: the checkpoint names record {} but the log ends at {}",
            cp.seq, v.head.seq
        )));
    }
    let rec = read_records(path)?
        .into_iter()
        .find(|(r, _)| r.seq == cp.seq)
        .map(|(_, h)| h);
    if rec.as_deref() != Some(cp.hash.as_str()) {
        return Err(missing(format!(
            "rewritten: record {} no longer has the checkpointed hash",
            cp.seq
        )));
    }
    Ok(())
}

/// Every record with its hash, oldest first; garbled lines are skipped (verify names them).
pub fn read_records(path: &Path) -> Result<Vec<(Record, String)>, AuditError> {
    let file = File::open(path).map_err(|source| AuditError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut r = BufReader::new(file);
    let mut out = Vec::new();
    while let Some(line) = next_line(&mut r) {
        if let Some(rec) = line.ok().as_deref().and_then(parse_line) {
            out.push(rec);
        }
    }
    Ok(out)
}

/// One record as a person reads it: time, who, what.
pub fn describe(r: &Record) -> String {
    let who = match &r.actor.ssh {
        Some(ssh) => format!("{}@{ssh}", r.actor.user),
        None => r.actor.user.clone(),
    };
    let text = r
        .data
        .get("summary")
        .and_then(|s| s.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| r.data.to_string());
    format!("#{} {} {:<10} {:<8} {}", r.seq, r.ts, r.kind, who, text)
}

/// The last `n` records (at most `MAX_TAIL`), readably.
/// Reads only the end of the file, backwards, so the console's Audit view costs the same
/// on a log of years as on a log of minutes, and `-n` of any size holds at most
/// `MAX_TAIL_BYTES`.
pub fn tail(path: &Path, n: usize) -> Result<Vec<String>, AuditError> {
    if n > MAX_TAIL {
        return Err(AuditError::TooMany { asked: n });
    }
    let io = |source| AuditError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = File::open(path).map_err(io)?;
    let len = f.metadata().map_err(io)?.len();
    tail_reader(&mut f, len, n).map_err(io)
}

/// `tail` over any seekable reader of `len` bytes.
pub fn tail_reader(
    r: &mut (impl std::io::Read + std::io::Seek),
    len: u64,
    n: usize,
) -> std::io::Result<Vec<String>> {
    use std::io::SeekFrom;
    const CHUNK: u64 = 64 << 10;
    let n = n.min(MAX_TAIL);
    // Newest first.
    let mut found: Vec<String> = Vec::new();
    // The end of a line whose start is not read yet; `long` once it passed MAX_LINE.
    let mut carry: Vec<u8> = Vec::new();
    let mut long = false;
    let mut held = 0usize;
    let mut pos = len;
    let take = |line: &[u8], long: bool, found: &mut Vec<String>| {
        if long || line.is_empty() {
            return;
        }
        if let Some((rec, _)) = std::str::from_utf8(line).ok().and_then(parse_line) {
            found.push(describe(&rec));
        }
    };
    while pos > 0 && found.len() < n && held < MAX_TAIL_BYTES {
        let from = pos.saturating_sub(CHUNK);
        let mut chunk = vec![0; (pos - from) as usize];
        r.seek(SeekFrom::Start(from))?;
        r.read_exact(&mut chunk)?;
        held += chunk.len();
        pos = from;
        // Lines end inside this chunk from its last newline backwards.
        let mut end = chunk.len();
        while let Some(i) = chunk[..end].iter().rposition(|&b| b == b'\n') {
            let mut line = chunk[i + 1..end].to_vec();
            line.extend_from_slice(&carry);
            take(&line, long, &mut found);
            carry.clear();
            long = false;
            end = i;
            if found.len() >= n {
                break;
            }
        }
        if found.len() >= n {
            break;
        }
        let mut rest = chunk[..end].to_vec();
        rest.extend_from_slice(&carry);
        carry = rest;
        if carry.len() > MAX_LINE {
            carry.clear();
            long = true;
        }
    }
    if pos == 0 && found.len() < n {
        take(&carry, long, &mut found);
    }
    found.truncate(n);
    found.reverse();
    Ok(found)
}

/// The log's default place: `audit.jsonl` in the XDG state directory.
pub fn default_path() -> Option<PathBuf> {
    crate::config::paths::state_dir().map(|d| d.join("audit.jsonl"))
}
