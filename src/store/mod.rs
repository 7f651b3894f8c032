//! store: history in SQLite, in tiers (every sample for an hour, minute averages for
//! eight days, hour averages for three months by default), so a week of running leaves a
//! week of history for the forecasts and a small file.
//!
//! The store never stops vigil: a corrupt or locked file leaves a notice and vigil
//! keeps its history in memory.

pub mod incidents;

use rusqlite::{Connection, params};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// (tier, bucket length in ms). Tier 0 is raw.
const TIERS: [(i64, i64); 3] = [(0, 0), (1, 60_000), (2, 3_600_000)];

#[derive(Debug, Clone, Copy)]
pub struct Retention {
    pub raw: Duration,
    pub minute: Duration,
    pub hour: Duration,
}

pub struct Store {
    conn: Connection,
    retention: Retention,
    /// Where the history lives; None means memory only.
    path: Option<PathBuf>,
    notice: Option<String>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS samples (
    series TEXT NOT NULL,
    tier INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (series, tier, ts)
) WITHOUT ROWID;
";

fn open_file(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    // Another vigil holding the file must not freeze this one's tick.
    conn.busy_timeout(Duration::from_millis(200))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.execute_batch(SCHEMA)?;
    // A file that is not a database fails only when first read; read it now.
    conn.query_row(
        "SELECT count(*) FROM samples WHERE tier = 2",
        [],
        |_| Ok(()),
    )?;
    Ok(conn)
}

fn open_memory() -> Connection {
    // An in-memory SQLite database cannot fail to open short of allocation failure.
    let conn = Connection::open_in_memory().expect("in-memory SQLite");
    conn.execute_batch(SCHEMA)
        .expect("schema on an in-memory database");
    conn
}

impl Store {
    /// Opens the file, or falls back to memory with a notice that says why.
    pub fn open(path: Option<&Path>, retention: Retention) -> Store {
        let Some(path) = path else {
            return Store {
                conn: open_memory(),
                retention,
                path: None,
                notice: None,
            };
        };
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        match open_file(path) {
            Ok(conn) => Store {
                conn,
                retention,
                path: Some(path.to_path_buf()),
                notice: None,
            },
            Err(e) => {
                let why = match e.sqlite_error_code() {
                    Some(rusqlite::ErrorCode::NotADatabase) => {
                        "is not a database or is corrupt".to_string()
                    }
                    Some(rusqlite::ErrorCode::DatabaseBusy)
                    | Some(rusqlite::ErrorCode::DatabaseLocked) => {
                        "is locked by another process".to_string()
                    }
                    _ => format!("cannot be opened ({e})"),
                };
                let notice = format!(
                    "store: {} {why}; history is kept in memory only",
                    path.display()
                );
                tracing::warn!("{notice}");
                Store {
                    conn: open_memory(),
                    retention,
                    path: None,
                    notice: Some(notice),
                }
            }
        }
    }

    pub fn memory(retention: Retention) -> Store {
        Store::open(None, retention)
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Why the store is not what was asked for, if it is not.
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }

    fn fail(&mut self, what: &str, e: rusqlite::Error) {
        let notice =
            format!("store: {what} failed ({e}); recent history may not survive a restart");
        if self.notice.as_deref() != Some(notice.as_str()) {
            tracing::warn!("{notice}");
            self.notice = Some(notice);
        }
    }

    /// Appends one raw sample of several series.
    pub fn insert(&mut self, ts_ms: i64, values: &[(&str, f64)]) {
        let result = (|| -> rusqlite::Result<()> {
            let tx = self.conn.transaction()?;
            {
                let mut stmt = tx.prepare_cached(
                    "INSERT OR REPLACE INTO samples (series, tier, ts, value) VALUES (?1, 0, ?2, ?3)",
                )?;
                for (name, v) in values {
                    if v.is_finite() {
                        stmt.execute(params![name, ts_ms, v])?;
                    }
                }
            }
            tx.commit()
        })();
        if let Err(e) = result {
            self.fail("writing a sample", e);
        }
    }

    /// Rolls raw samples up into the coarser tiers and drops what is past retention.
    /// Cheap enough to run once a minute.
    pub fn maintain(&mut self, now_ms: i64) {
        let result = (|| -> rusqlite::Result<()> {
            let tx = self.conn.transaction()?;
            for w in TIERS.windows(2) {
                let (from_tier, _) = w[0];
                let (to_tier, len) = w[1];
                // Only whole buckets: the current one is still filling.
                let upto = now_ms.div_euclid(len) * len;
                let last: Option<i64> = tx.query_row(
                    "SELECT max(ts) FROM samples WHERE tier = ?1",
                    [to_tier],
                    |r| r.get(0),
                )?;
                let from = last.map(|t| t + len).unwrap_or(i64::MIN);
                tx.execute(
                    "INSERT OR REPLACE INTO samples (series, tier, ts, value)
                     SELECT series, ?1, (ts / ?2) * ?2, avg(value) FROM samples
                     WHERE tier = ?3 AND ts >= ?4 AND ts < ?5 GROUP BY series, ts / ?2",
                    params![to_tier, len, from_tier, from, upto],
                )?;
            }
            let keep = [
                self.retention.raw,
                self.retention.minute,
                self.retention.hour,
            ];
            for ((tier, _), keep) in TIERS.iter().zip(keep) {
                let cutoff = now_ms - keep.as_millis() as i64;
                tx.execute(
                    "DELETE FROM samples WHERE tier = ?1 AND ts < ?2",
                    params![tier, cutoff],
                )?;
            }
            tx.commit()
        })();
        if let Err(e) = result {
            self.fail("maintenance", e);
        }
    }

    /// The finest history of a series since `since_ms`: raw where it is kept, minute
    /// averages before that, hour averages before those.
    pub fn history(&self, series: &str, since_ms: i64) -> Vec<(i64, f64)> {
        let result = (|| -> rusqlite::Result<Vec<(i64, f64)>> {
            let mut out: Vec<(i64, f64)> = Vec::new();
            // Coarse first; each finer tier covers from where the coarser stops.
            let mut stmt = self.conn.prepare_cached(
                "SELECT ts, value FROM samples WHERE series = ?1 AND tier = ?2 AND ts >= ?3 ORDER BY ts",
            )?;
            for &(tier, _) in TIERS.iter().rev() {
                let rows: Vec<(i64, f64)> = stmt
                    .query_map(params![series, tier, since_ms], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })?
                    .collect::<rusqlite::Result<_>>()?;
                if let Some(&(first_fine, _)) = rows.first() {
                    out.retain(|&(t, _)| t < first_fine);
                }
                out.extend(rows);
            }
            Ok(out)
        })();
        result.unwrap_or_default()
    }

    /// Rows per tier, for `vigil status` and tests.
    pub fn counts(&self) -> [i64; 3] {
        let mut out = [0; 3];
        for (i, (tier, _)) in TIERS.iter().enumerate() {
            out[i] = self
                .conn
                .query_row(
                    "SELECT count(*) FROM samples WHERE tier = ?1",
                    [tier],
                    |r| r.get(0),
                )
                .unwrap_or(0);
        }
        out
    }
}
