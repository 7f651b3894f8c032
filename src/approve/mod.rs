//! approve: proposals → decisions. Every proposal enters a queue kept in SQLite, so a
//! restart loses no pending approval and no answer. An answer is bound to the proposal's
//! id *and* version: an answer to a version that has since changed decides nothing.

use crate::audit::Actor;
use crate::plan::proposal::Proposal;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Waiting for a person.
    Pending,
    Approved,
    Rejected,
    /// Nobody answered in time: denied.
    Expired,
    /// A newer version replaced it before anyone answered.
    Superseded,
    Running,
    Done,
    Failed,
    /// Approved in shadow mode: recorded as what would have run.
    Shadowed,
    /// Approved while the brake was on: nothing ran.
    Braked,
    Verified,
    /// Ran, but the promised effect did not come.
    Unverified,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Approved => "approved",
            State::Rejected => "rejected",
            State::Expired => "expired",
            State::Superseded => "superseded",
            State::Running => "running",
            State::Done => "done",
            State::Failed => "failed",
            State::Shadowed => "shadowed",
            State::Braked => "braked",
            State::Verified => "verified",
            State::Unverified => "unverified",
        }
    }

    fn parse(s: &str) -> State {
        [
            State::Pending,
            State::Approved,
            State::Rejected,
            State::Expired,
            State::Superseded,
            State::Running,
            State::Done,
            State::Failed,
            State::Shadowed,
            State::Braked,
            State::Verified,
            State::Unverified,
        ]
        .into_iter()
        .find(|st| st.name() == s)
        .unwrap_or(State::Failed)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub proposal: Proposal,
    pub state: State,
    pub updated: i64,
    /// Unanswered past this (unix ms), it is denied.
    pub expires: i64,
    pub by: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecideError {
    #[error("proposal {id} changed: version {current} is on screen now, nothing was decided")]
    Changed { id: String, current: u32 },
    #[error("proposal {id} v{version} is {state}, not waiting for an answer")]
    NotPending {
        id: String,
        version: u32,
        state: &'static str,
    },
    #[error("no proposal {0}")]
    Unknown(String),
    /// A state move lost its compare-and-set: someone else moved the entry first.
    #[error("proposal {id} v{version} is {found}, not {expected}: not moved to {wanted}")]
    Moved {
        id: String,
        version: u32,
        expected: &'static str,
        found: &'static str,
        wanted: &'static str,
    },
    #[error("approval queue: {0}")]
    Store(String),
}

pub struct Queue {
    conn: Connection,
    ttl_ms: i64,
    /// Why the queue is in memory only, if it is.
    pub notice: Option<String>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS approvals (
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    proposal TEXT NOT NULL,
    state TEXT NOT NULL,
    updated INTEGER NOT NULL,
    expires INTEGER NOT NULL,
    by TEXT,
    note TEXT,
    PRIMARY KEY (id, version)
);
CREATE INDEX IF NOT EXISTS approvals_state ON approvals(state);
";

/// A column added after the first release: a database an older vigil made gets it on
/// open (`ALTER TABLE` refuses a column that exists, so the schema is asked first).
fn migrate(c: &Connection) -> rusqlite::Result<()> {
    let has_operation: bool = c
        .prepare("SELECT 1 FROM pragma_table_info('approvals') WHERE name = 'operation'")?
        .exists([])?;
    if !has_operation {
        // A cloud action's long operation (a scaling activity, an ECS job), stored the
        // moment the cloud accepted it, so a restart follows it instead of acting again.
        c.execute_batch("ALTER TABLE approvals ADD COLUMN operation TEXT")?;
    }
    let has_watch: bool = c
        .prepare("SELECT 1 FROM pragma_table_info('approvals') WHERE name = 'watch_until'")?
        .exists([])?;
    if !has_watch {
        // A verified scale whose outcome is still being judged, until when (unix ms), so
        // a restart goes on judging it instead of forgetting it.
        c.execute_batch("ALTER TABLE approvals ADD COLUMN watch_until INTEGER")?;
    }
    Ok(())
}

fn store_err(e: rusqlite::Error) -> DecideError {
    DecideError::Store(e.to_string())
}

impl Queue {
    /// Opens the queue in the database file (the history's file), or in memory when
    /// there is none or it cannot be opened — said in `notice`, shown on screen.
    /// A reloaded `approve.ttl`: proposals offered from now on wait this long; those
    /// already waiting keep the deadline they were shown with.
    pub fn set_ttl(&mut self, ttl_ms: i64) {
        self.ttl_ms = ttl_ms;
    }

    pub fn open(path: Option<&Path>, ttl_ms: i64) -> Queue {
        let opened = path.map(|p| {
            Connection::open(p).and_then(|c| {
                c.busy_timeout(std::time::Duration::from_secs(2))?;
                c.execute_batch(SCHEMA)?;
                migrate(&c)?;
                Ok(c)
            })
        });
        let (conn, notice) = match opened {
            Some(Ok(c)) => (c, None),
            Some(Err(e)) => (
                Self::memory_conn(),
                Some(format!(
                    "approvals kept in memory only (a restart forgets them): {e}"
                )),
            ),
            None => (Self::memory_conn(), None),
        };
        Queue {
            conn,
            ttl_ms,
            notice,
        }
    }

    fn memory_conn() -> Connection {
        let c = Connection::open_in_memory().expect("SQLite opens in memory");
        c.execute_batch(SCHEMA).expect("schema in memory");
        migrate(&c).expect("schema in memory");
        c
    }

    /// Adds a proposal. A new version of a pending one supersedes it; the same version
    /// again is ignored. Returns the superseded versions, and whether it was new.
    pub fn offer(&mut self, p: &Proposal, now: i64) -> Result<(Vec<u32>, bool), DecideError> {
        let exists: Option<String> = self
            .conn
            .query_row(
                "SELECT state FROM approvals WHERE id = ?1 AND version = ?2",
                params![p.id, p.version],
                |r| r.get(0),
            )
            .optional()
            .map_err(store_err)?;
        if exists.is_some() {
            return Ok((Vec::new(), false));
        }
        let tx = self.conn.transaction().map_err(store_err)?;
        let superseded: Vec<u32> = {
            let mut st = tx
                .prepare("SELECT version FROM approvals WHERE id = ?1 AND state = 'pending'")
                .map_err(store_err)?;
            st.query_map(params![p.id], |r| r.get(0))
                .map_err(store_err)?
                .filter_map(Result::ok)
                .collect()
        };
        tx.execute(
            "UPDATE approvals SET state = 'superseded', updated = ?2 WHERE id = ?1 AND state = 'pending'",
            params![p.id, now],
        )
        .map_err(store_err)?;
        let json = serde_json::to_string(p).map_err(|e| DecideError::Store(e.to_string()))?;
        tx.execute(
            "INSERT INTO approvals (id, version, proposal, state, updated, expires) VALUES (?1, ?2, ?3, 'pending', ?4, ?5)",
            params![p.id, p.version, json, now, now + self.ttl_ms],
        )
        .map_err(store_err)?;
        tx.commit().map_err(store_err)?;
        Ok((superseded, true))
    }

    fn current_version(&self, id: &str) -> Result<Option<u32>, DecideError> {
        self.conn
            .query_row(
                "SELECT MAX(version) FROM approvals WHERE id = ?1",
                params![id],
                |r| r.get(0),
            )
            .map_err(store_err)
    }

    /// The version a new proposal under this id must carry.
    pub fn next_version(&self, id: &str) -> u32 {
        self.current_version(id).ok().flatten().unwrap_or(0) + 1
    }

    /// Whether this id has a version waiting for an answer or running.
    pub fn open_for(&self, id: &str) -> bool {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM approvals WHERE id = ?1 AND state IN ('pending', 'approved', 'running')",
                params![id],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .unwrap_or(false)
    }

    pub fn get(&self, id: &str, version: u32) -> Result<Option<Entry>, DecideError> {
        self.conn
            .query_row(
                "SELECT proposal, state, updated, expires, by, note FROM approvals WHERE id = ?1 AND version = ?2",
                params![id, version],
                row_entry,
            )
            .optional()
            .map_err(store_err)?
            .transpose()
    }

    /// A person's (or an auto rule's) answer to exactly this version, taken with one
    /// compare-and-set: only a pending row of the newest version moves, so two clients
    /// (two consoles, `vigil approve`) answering at once cannot both win.
    pub fn decide(
        &mut self,
        id: &str,
        version: u32,
        approve: bool,
        who: &Actor,
        now: i64,
    ) -> Result<Entry, DecideError> {
        let state = if approve {
            State::Approved
        } else {
            State::Rejected
        };
        let by = match &who.ssh {
            Some(s) => format!("{} from {s}", who.user),
            None => who.user.clone(),
        };
        let won = self
            .conn
            .query_row(
                "UPDATE approvals SET state = ?3, updated = ?4, by = ?5 \
                 WHERE id = ?1 AND version = ?2 AND state = 'pending' \
                 AND version = (SELECT MAX(version) FROM approvals WHERE id = ?1) \
                 RETURNING proposal, state, updated, expires, by, note",
                params![id, version, state.name(), now, by],
                row_entry,
            )
            .optional()
            .map_err(store_err)?;
        match won {
            Some(entry) => entry,
            None => Err(self.why_not(id, version)?),
        }
    }

    /// Why a compare-and-set on this version found nothing to move.
    fn why_not(&self, id: &str, version: u32) -> Result<DecideError, DecideError> {
        let Some(current) = self.current_version(id)? else {
            return Ok(DecideError::Unknown(id.to_string()));
        };
        if current != version {
            return Ok(DecideError::Changed {
                id: id.to_string(),
                current,
            });
        }
        let state = self
            .state_of(id, version)?
            .map(State::name)
            .unwrap_or("gone");
        Ok(DecideError::NotPending {
            id: id.to_string(),
            version,
            state,
        })
    }

    fn state_of(&self, id: &str, version: u32) -> Result<Option<State>, DecideError> {
        self.conn
            .query_row(
                "SELECT state FROM approvals WHERE id = ?1 AND version = ?2",
                params![id, version],
                |r| r.get::<_, String>(0),
            )
            .optional()
            .map(|s| s.map(|s| State::parse(&s)))
            .map_err(store_err)
    }

    /// The pending version of an id, if one waits.
    pub fn pending(&self, id: &str) -> Option<Entry> {
        self.select("id = ?1 AND state = 'pending'", params![id])
            .ok()?
            .into_iter()
            .next()
    }

    /// A proposal the planner no longer makes is stale: it leaves the queue unanswered.
    pub fn withdraw(&mut self, id: &str, now: i64) -> Result<Option<Entry>, DecideError> {
        let Some(e) = self.pending(id) else {
            return Ok(None);
        };
        self.set_state(
            id,
            e.proposal.version,
            State::Pending,
            State::Superseded,
            Some("no longer needed"),
            now,
        )?;
        Ok(Some(e))
    }

    /// Pending proposals past their time become denied; returns them for the audit. One
    /// statement moves and returns them, so an answer taken meanwhile is never expired.
    pub fn expire(&mut self, now: i64) -> Result<Vec<Entry>, DecideError> {
        let mut st = self
            .conn
            .prepare(
                "UPDATE approvals SET state = 'expired', updated = ?1 \
                 WHERE state = 'pending' AND expires <= ?1 \
                 RETURNING proposal, state, updated, expires, by, note",
            )
            .map_err(store_err)?;
        let rows = st.query_map(params![now], row_entry).map_err(store_err)?;
        let mut due = Vec::new();
        for r in rows {
            match r.map_err(store_err)? {
                Ok(e) => due.push(e),
                Err(e) => tracing::warn!("expired an unreadable proposal: {e}"),
            }
        }
        Ok(due)
    }

    /// Moves one entry from the state it is known to be in to the next, as a
    /// compare-and-set: if another process moved it first, nothing changes and the error
    /// says what it found.
    pub fn set_state(
        &mut self,
        id: &str,
        version: u32,
        from: State,
        to: State,
        note: Option<&str>,
        now: i64,
    ) -> Result<(), DecideError> {
        let n = self
            .conn
            .execute(
                "UPDATE approvals SET state = ?4, updated = ?5, note = COALESCE(?6, note) \
                 WHERE id = ?1 AND version = ?2 AND state = ?3",
                params![id, version, from.name(), to.name(), now, note],
            )
            .map_err(store_err)?;
        if n == 1 {
            return Ok(());
        }
        match self.state_of(id, version)? {
            None => Err(DecideError::Unknown(format!("{id} v{version}"))),
            Some(found) => Err(DecideError::Moved {
                id: id.to_string(),
                version,
                expected: from.name(),
                found: found.name(),
                wanted: to.name(),
            }),
        }
    }

    /// Stores the long operation a running entry's action started, as a
    /// compare-and-set: only a `running` entry with no operation yet takes one, so a
    /// stale writer cannot replace the id a restart must follow. The note says what is
    /// being followed, for the board.
    pub fn set_operation(
        &mut self,
        id: &str,
        version: u32,
        operation: &str,
        now: i64,
    ) -> Result<(), DecideError> {
        let n = self
            .conn
            .execute(
                "UPDATE approvals SET operation = ?3, updated = ?4, note = ?5 \
                 WHERE id = ?1 AND version = ?2 AND state = 'running' AND operation IS NULL",
                params![
                    id,
                    version,
                    operation,
                    now,
                    format!("following {operation}")
                ],
            )
            .map_err(store_err)?;
        if n == 1 {
            return Ok(());
        }
        let found = self.state_of(id, version)?;
        let held = self.operation(id, version)?;
        match (found, held) {
            (None, _) => Err(DecideError::Unknown(format!("{id} v{version}"))),
            (Some(State::Running), Some(op)) if op == operation => Ok(()),
            (Some(found), _) => Err(DecideError::Moved {
                id: id.to_string(),
                version,
                expected: "running without an operation",
                found: found.name(),
                wanted: "running with an operation",
            }),
        }
    }

    /// The long operation stored with an entry, if its action started one.
    pub fn operation(&self, id: &str, version: u32) -> Result<Option<String>, DecideError> {
        self.conn
            .query_row(
                "SELECT operation FROM approvals WHERE id = ?1 AND version = ?2",
                params![id, version],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()
            .map(Option::flatten)
            .map_err(store_err)
    }

    /// Marks a verified entry as watched for its outcome until `until`, or (None) no
    /// longer watched: judged, or ended by a newer action on its target.
    pub fn set_watch(
        &mut self,
        id: &str,
        version: u32,
        until: Option<i64>,
    ) -> Result<(), DecideError> {
        self.conn
            .execute(
                "UPDATE approvals SET watch_until = ?3 WHERE id = ?1 AND version = ?2",
                params![id, version, until],
            )
            .map(|_| ())
            .map_err(store_err)
    }

    /// Entries still watched for their outcome, with the time their watch ends.
    pub fn watched(&self) -> Result<Vec<(Entry, i64)>, DecideError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT proposal, state, updated, expires, by, note, watch_until FROM approvals \
                 WHERE watch_until IS NOT NULL ORDER BY updated",
            )
            .map_err(store_err)?;
        let rows = st
            .query_map([], |r| Ok((row_entry(r)?, r.get::<_, i64>(6)?)))
            .map_err(store_err)?;
        Ok(rows
            .filter_map(|r| r.ok())
            .filter_map(|(e, until)| e.ok().map(|e| (e, until)))
            .collect())
    }

    fn select(&self, cond: &str, args: impl rusqlite::Params) -> Result<Vec<Entry>, DecideError> {
        let sql = format!(
            "SELECT proposal, state, updated, expires, by, note FROM approvals WHERE {cond} ORDER BY updated DESC"
        );
        let mut st = self.conn.prepare(&sql).map_err(store_err)?;
        let rows = st.query_map(args, row_entry).map_err(store_err)?;
        // A row that no longer parses (an older vigil wrote it) is skipped, not fatal.
        Ok(rows.filter_map(|r| r.ok().and_then(Result::ok)).collect())
    }

    /// Pending first (oldest first), then the latest answered, for the Actions view.
    pub fn board(&self, answered: usize) -> Result<Vec<Entry>, DecideError> {
        let mut pending = self.select("state IN ('pending', 'approved', 'running')", [])?;
        pending.reverse();
        let done = self.select("state NOT IN ('pending', 'approved', 'running')", [])?;
        pending.extend(done.into_iter().take(answered));
        Ok(pending)
    }

    /// Approved but never run: what a crash between the answer and the gate left.
    pub fn approved(&self) -> Result<Vec<Entry>, DecideError> {
        self.select("state = 'approved'", [])
    }

    /// Entries a crash may have left mid-way: approved, running, or done but not yet
    /// verified. Oldest first.
    pub fn in_flight(&self) -> Result<Vec<Entry>, DecideError> {
        let mut v = self.select("state IN ('approved', 'running', 'done')", [])?;
        v.reverse();
        Ok(v)
    }
}

type RowEntry = Result<Entry, DecideError>;

fn row_entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<RowEntry> {
    let json: String = r.get(0)?;
    let state: String = r.get(1)?;
    let parsed = serde_json::from_str::<Proposal>(&json)
        .map_err(|e| DecideError::Store(format!("unreadable proposal: {e}")));
    Ok(parsed.map(|proposal| Entry {
        proposal,
        state: State::parse(&state),
        updated: r.get(2).unwrap_or(0),
        expires: r.get(3).unwrap_or(0),
        by: r.get(4).unwrap_or(None),
        note: r.get(5).unwrap_or(None),
    }))
}
