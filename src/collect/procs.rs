//! Processes' CPU time from `/proc/[pid]/stat`: two readings apart give each process's
//! share of one core. A pid is keyed with its start time, so a pid reused by a new
//! process never inherits the old one's history.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

/// Processes read per pass, at most (a fork bomb must not make vigil the next problem).
pub const MAX_PIDS: usize = 8_192;
/// One stat line is well under this.
const MAX_STAT_BYTES: u64 = 4 << 10;

#[derive(Debug, Clone, PartialEq)]
pub struct ProcStat {
    pub pid: u32,
    /// The kernel's command name (at most 15 bytes; may hold spaces or parentheses).
    pub comm: String,
    /// utime + stime, in clock ticks.
    pub ticks: u64,
    /// When it started, in ticks after boot: with the pid, its identity.
    pub start: u64,
}

/// One `/proc/[pid]/stat` line: `pid (comm) state ppid ...`, fields 14/15 utime/stime
/// and 22 starttime. The command name is read up to the *last* `)`, since it may
/// contain one.
pub fn parse_stat(line: &str) -> Result<ProcStat, String> {
    let open = line.find('(').ok_or("no '(' before the command name")?;
    let close = line.rfind(')').ok_or("no ')' after the command name")?;
    if close < open {
        return Err("')' before '('".into());
    }
    let pid = line[..open]
        .trim()
        .parse()
        .map_err(|_| "the pid is not a number".to_string())?;
    let comm: String = line[open + 1..close].chars().take(64).collect();
    // After the name: field 3 (state) is index 0.
    let rest: Vec<&str> = line[close + 1..].split_whitespace().take(20).collect();
    let field = |n: usize| -> Result<u64, String> {
        rest.get(n - 3)
            .ok_or_else(|| format!("field {n} is missing"))?
            .parse()
            .map_err(|_| format!("field {n} is not a number"))
    };
    Ok(ProcStat {
        pid,
        comm,
        ticks: field(14)?.saturating_add(field(15)?),
        start: field(22)?,
    })
}

/// Every process under `proc_root`, at most MAX_PIDS; processes that vanish while
/// being read are skipped. The bool says the cap was reached.
pub fn read_all(proc_root: &Path) -> Result<(Vec<ProcStat>, bool), String> {
    let dir = std::fs::read_dir(proc_root).map_err(|e| format!("{}: {e}", proc_root.display()))?;
    let mut out = Vec::new();
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(n) = name.to_str() else { continue };
        if !n.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if out.len() >= MAX_PIDS {
            return Ok((out, true));
        }
        let mut s = String::new();
        let Ok(f) = std::fs::File::open(entry.path().join("stat")) else {
            continue;
        };
        if f.take(MAX_STAT_BYTES).read_to_string(&mut s).is_err() {
            continue;
        }
        if let Ok(p) = parse_stat(&s) {
            out.push(p);
        }
    }
    Ok((out, false))
}

/// A process that has held at least the threshold of one core since `since` (ms).
#[derive(Debug, Clone, PartialEq)]
pub struct Busy {
    pub pid: u32,
    pub comm: String,
    /// Its share of one core over the last interval, in %.
    pub pct: f64,
    pub since: i64,
}

/// The processes' CPU shares between readings, and how long each has stayed above
/// the threshold. Pure: readings come in with their time.
#[derive(Debug, Default)]
pub struct CpuTracker {
    last: HashMap<(u32, u64), (u64, i64)>,
    busy: HashMap<(u32, u64), Busy>,
    last_ts: Option<i64>,
}

impl CpuTracker {
    /// One reading at `ts` (ms); `hz` is the kernel's clock ticks per second.
    pub fn update(&mut self, procs: &[ProcStat], ts: i64, hz: u64, threshold_pct: f64) {
        let mut next = HashMap::with_capacity(procs.len());
        let mut busy = HashMap::new();
        let dt_s = self.last_ts.map(|t| (ts - t) as f64 / 1000.0);
        for p in procs {
            let key = (p.pid, p.start);
            if let (Some(&(ticks, _)), Some(dt)) = (self.last.get(&key), dt_s)
                && dt > 0.0
                && hz > 0
            {
                let pct = p.ticks.saturating_sub(ticks) as f64 / hz as f64 / dt * 100.0;
                if pct >= threshold_pct {
                    // Busy since the reading before this one, if it was not already.
                    let since = self
                        .busy
                        .get(&key)
                        .map_or(ts - (dt * 1000.0) as i64, |b| b.since);
                    busy.insert(
                        key,
                        Busy {
                            pid: p.pid,
                            comm: p.comm.clone(),
                            pct,
                            since,
                        },
                    );
                }
            }
            next.insert(key, (p.ticks, ts));
        }
        self.last = next;
        self.busy = busy;
        self.last_ts = Some(ts);
    }

    /// Processes above the threshold for at least `for_ms`, busiest first.
    pub fn runaways(&self, ts: i64, for_ms: i64) -> Vec<Busy> {
        let mut v: Vec<Busy> = self
            .busy
            .values()
            .filter(|b| ts - b.since >= for_ms)
            .cloned()
            .collect();
        v.sort_by(|a, b| b.pct.total_cmp(&a.pct).then(a.pid.cmp(&b.pid)));
        v
    }

    /// The share of the process `pid` over the last interval; Some(0) once it is gone
    /// (a process that exited uses no CPU), None before two readings.
    pub fn share(&self, pid: u32) -> Option<f64> {
        self.last_ts?;
        if let Some(b) = self.busy.values().find(|b| b.pid == pid) {
            return Some(b.pct);
        }
        // Present and below the threshold, or gone: either way below it. Its exact
        // share is not kept for the quiet ones, so 0 stands for "below".
        Some(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(pid: u32, comm: &str, ticks: u64, start: u64) -> String {
        format!(
            "{pid} ({comm}) R 1 {pid} {pid} 0 -1 4194304 100 0 0 0 {} {} 0 0 20 0 1 0 {start} 1000 100",
            ticks / 2,
            ticks - ticks / 2
        )
    }

    #[test]
    fn a_stat_line_gives_pid_name_ticks_and_start() {
        let p = parse_stat(&stat(42, "we(ird) name", 301, 777)).unwrap();
        assert_eq!(
            p,
            ProcStat {
                pid: 42,
                comm: "we(ird) name".into(),
                ticks: 301,
                start: 777
            }
        );
        assert_eq!(
            parse_stat("42 (sh) R 1 2"),
            Err("field 14 is missing".into())
        );
        assert_eq!(
            parse_stat("x (sh) R"),
            Err("the pid is not a number".into())
        );
        assert_eq!(
            parse_stat("no name here"),
            Err("no '(' before the command name".into())
        );
    }

    #[test]
    fn a_process_over_the_threshold_long_enough_is_a_runaway() {
        let mut t = CpuTracker::default();
        let hz = 100;
        let at = |t: &mut CpuTracker, s: i64, busy: u64, idle: u64| {
            let v = vec![
                parse_stat(&stat(10, "spin", busy, 5)).unwrap(),
                parse_stat(&stat(11, "idle", idle, 6)).unwrap(),
            ];
            t.update(&v, s * 1000, hz, 90.0);
        };
        at(&mut t, 0, 0, 0);
        at(&mut t, 10, 1000, 5); // 100 % of a core for 10 s
        assert!(t.runaways(10_000, 60_000).is_empty());
        at(&mut t, 70, 7000, 10);
        let r = t.runaways(70_000, 60_000);
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].pid, r[0].comm.as_str(), r[0].since), (10, "spin", 0));
        assert!((r[0].pct - 100.0).abs() < 1e-9);
        // It calms down: no longer busy, and its share reads below the threshold.
        at(&mut t, 80, 7010, 10);
        assert!(t.runaways(80_000, 0).is_empty());
        assert_eq!(t.share(10), Some(0.0));
    }

    #[test]
    fn a_reused_pid_starts_a_new_history() {
        let mut t = CpuTracker::default();
        t.update(&[parse_stat(&stat(7, "old", 0, 1)).unwrap()], 0, 100, 50.0);
        // Same pid, another process (another start time) with many ticks already.
        t.update(
            &[parse_stat(&stat(7, "new", 90_000, 2)).unwrap()],
            1000,
            100,
            50.0,
        );
        assert!(t.runaways(1000, 0).is_empty());
    }
}
