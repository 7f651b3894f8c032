//! Incidents in the history's SQLite file, so a restart keeps the open ones (and their
//! steps) and the board keeps its week. One row per incident, its view as JSON.

use crate::protocol::IncidentView;
use rusqlite::{Connection, OpenFlags, params};
use std::path::Path;
use std::time::Duration;

/// Incidents read back at once, at most.
pub const MAX_LOAD: usize = 2_000;
/// One incident's JSON, at most: a row larger than this is not vigil's.
const MAX_BODY: usize = 1 << 20;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS incidents (
    id TEXT PRIMARY KEY,
    opened INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    state TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS incidents_opened ON incidents(opened);
";

pub struct IncidentStore {
    conn: Connection,
    /// Why incidents are kept in memory only, if they are.
    pub notice: Option<String>,
}

impl IncidentStore {
    /// The database file, or memory when there is none or it cannot be opened.
    pub fn open(path: Option<&Path>) -> IncidentStore {
        let opened = path.map(|p| {
            Connection::open(p).and_then(|c| {
                c.busy_timeout(Duration::from_millis(200))?;
                c.execute_batch(SCHEMA)?;
                Ok(c)
            })
        });
        match opened {
            Some(Ok(conn)) => IncidentStore { conn, notice: None },
            other => {
                let notice = match other {
                    Some(Err(e)) => Some(format!(
                        "incidents kept in memory only (a restart forgets them): {e}"
                    )),
                    _ => None,
                };
                // An in-memory SQLite database cannot fail to open short of allocation.
                let conn = Connection::open_in_memory().expect("in-memory SQLite");
                let _ = conn.execute_batch(SCHEMA);
                IncidentStore { conn, notice }
            }
        }
    }

    pub fn save(&self, i: &IncidentView) -> Result<(), String> {
        let body = serde_json::to_string(i).map_err(|e| e.to_string())?;
        self.conn
            .execute(
                "INSERT INTO incidents (id, opened, updated, state, body) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(id) DO UPDATE SET updated = ?3, state = ?4, body = ?5",
                params![i.id, i.opened, i.updated, i.state.name(), body],
            )
            .map(|_| ())
            .map_err(|e| format!("incidents: {e}"))
    }

    /// Incidents opened since `since`, newest first.
    pub fn since(&self, since: i64) -> Result<Vec<IncidentView>, String> {
        read(&self.conn, since)
    }
}

fn read(conn: &Connection, since: i64) -> Result<Vec<IncidentView>, String> {
    let mut st = conn
        .prepare(
            "SELECT body FROM incidents WHERE opened >= ?1 ORDER BY opened DESC, id DESC LIMIT ?2",
        )
        .map_err(|e| format!("incidents: {e}"))?;
    let rows = st
        .query_map(params![since, MAX_LOAD as i64], |r| r.get::<_, String>(0))
        .map_err(|e| format!("incidents: {e}"))?;
    let mut out = Vec::new();
    for body in rows.flatten() {
        if body.len() > MAX_BODY {
            continue;
        }
        // A row from another version that does not read is skipped, not fatal.
        if let Ok(i) = serde_json::from_str::<IncidentView>(&body) {
            out.push(i);
        }
    }
    Ok(out)
}

/// For `vigil incidents` with no engine running: the file opened read-only (a read
/// never writes, never creates the file or its table).
pub fn read_only(path: &Path, since: i64) -> Result<Vec<IncidentView>, String> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| format!("{}: {e}", path.display()))?;
    let _ = conn.busy_timeout(Duration::from_millis(500));
    let has: bool = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'incidents'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n > 0)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if !has {
        return Ok(Vec::new());
    }
    read(&conn, since)
}
