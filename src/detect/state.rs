//! State checks on counters the engine reads again and again: a container's restart
//! count (Docker's restart policy at work) and the kernel's OOM-kill counter. Both are
//! cumulative, so a finding is a *rise* within a window, never the level: a container
//! that looped last week, or a host that ran out of memory before vigil started, is
//! not news.

use std::collections::VecDeque;

/// Readings of one counter kept, at most (a listing every few seconds over a window
/// of minutes stays far below it; the oldest go first).
const MAX_READINGS: usize = 4_096;
/// /proc/vmstat is about a hundred short lines; more than this is not that file.
pub const MAX_VMSTAT_BYTES: usize = 64 * 1024;
const MAX_VMSTAT_LINES: usize = 1_000;

/// One cumulative counter's readings over a trailing window.
#[derive(Debug, Clone, Default)]
pub struct Counter {
    readings: VecDeque<(i64, u64)>,
}

impl Counter {
    /// A reading at `ts`. A counter that went down was reset (the container was
    /// recreated, the host rebooted): what came before no longer compares.
    pub fn push(&mut self, ts: i64, value: u64, window_ms: i64) {
        if self.readings.back().is_some_and(|&(_, v)| value < v) {
            self.readings.clear();
        }
        self.readings.push_back((ts, value));
        // The newest reading at or before the window's start stays: it is the base
        // the rise within the window is counted from.
        while self.readings.len() > MAX_READINGS
            || (self.readings.len() > 1 && self.readings[1].0 <= ts - window_ms)
        {
            self.readings.pop_front();
        }
    }

    /// The last reading's value.
    pub fn last(&self) -> Option<u64> {
        self.readings.back().map(|&(_, v)| v)
    }

    /// How much it rose within the window ending at the last reading.
    pub fn rise(&self) -> u64 {
        match (self.readings.front(), self.readings.back()) {
            (Some(&(_, first)), Some(&(_, last))) => last.saturating_sub(first),
            _ => 0,
        }
    }

    /// How much it rose within the window up to the last reading at or before `ts`
    /// (a reading too new to be explained yet is left out).
    pub fn rise_until(&self, ts: i64) -> u64 {
        let Some(&(_, first)) = self.readings.front() else {
            return 0;
        };
        self.readings
            .iter()
            .rev()
            .find(|&&(t, _)| t <= ts)
            .map_or(0, |&(_, v)| v.saturating_sub(first))
    }

    /// When the rise began: the first reading above the base.
    pub fn rising_since(&self) -> Option<i64> {
        let &(_, base) = self.readings.front()?;
        self.readings
            .iter()
            .find(|&&(_, v)| v > base)
            .map(|&(t, _)| t)
    }
}

/// A container Docker keeps restarting: its restart count rose by at least `min`
/// within the window. None below that (one restart by its policy is the policy
/// working, not a loop) or with `min` 0 (the check is off).
pub fn restart_loop(c: &Counter, min: u32) -> Option<u64> {
    let n = c.rise();
    (min > 0 && n >= u64::from(min)).then_some(n)
}

/// The `oom_kill` counter of /proc/vmstat. Bounded: a file too large, too many lines,
/// or a value that is not a count is an error naming the file and the field; a
/// kernel without the counter (before 4.13) is None.
pub fn vmstat_oom_kills(text: &str) -> Result<Option<u64>, String> {
    if text.len() > MAX_VMSTAT_BYTES {
        return Err(format!(
            "/proc/vmstat: more than {MAX_VMSTAT_BYTES} bytes: not the kernel's vmstat"
        ));
    }
    for (n, line) in text.lines().enumerate() {
        if n >= MAX_VMSTAT_LINES {
            return Err(format!(
                "/proc/vmstat: more than {MAX_VMSTAT_LINES} lines: not the kernel's vmstat"
            ));
        }
        let mut parts = line.split_ascii_whitespace();
        if parts.next() != Some("oom_kill") {
            continue;
        }
        let value = parts.next().unwrap_or("");
        return value.parse::<u64>().map(Some).map_err(|_| {
            format!("/proc/vmstat: field oom_kill: {value:?} is not a count of kills")
        });
    }
    Ok(None)
}

/// OOM kills on the host between two readings of /proc/vmstat; a counter that went
/// down (a reboot between readings) says nothing.
pub fn oom_kills_between(before: &str, after: &str) -> Result<u64, String> {
    match (vmstat_oom_kills(before)?, vmstat_oom_kills(after)?) {
        (Some(b), Some(a)) => Ok(a.saturating_sub(b)),
        _ => Ok(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VMSTAT: &str = "nr_free_pages 12345\npgmajfault 77\noom_kill 4\nnr_dirty 3\n";

    #[test]
    fn the_oom_counter_is_read_and_a_rise_is_counted() {
        assert_eq!(vmstat_oom_kills(VMSTAT), Ok(Some(4)));
        let later = VMSTAT.replace("oom_kill 4", "oom_kill 7");
        assert_eq!(oom_kills_between(VMSTAT, &later), Ok(3));
        assert_eq!(oom_kills_between(VMSTAT, VMSTAT), Ok(0));
        // A reboot between the readings: no rise.
        assert_eq!(oom_kills_between(&later, VMSTAT), Ok(0));
        // A kernel without the counter.
        assert_eq!(vmstat_oom_kills("pgmajfault 77\n"), Ok(None));
    }

    #[test]
    fn bad_vmstat_is_refused_with_the_field() {
        assert_eq!(
            vmstat_oom_kills("oom_kill lots\n"),
            Err("/proc/vmstat: field oom_kill: \"lots\" is not a count of kills".into())
        );
        assert_eq!(
            vmstat_oom_kills("oom_kill -1\n"),
            Err("/proc/vmstat: field oom_kill: \"-1\" is not a count of kills".into())
        );
        let huge = "x 1\n".repeat(MAX_VMSTAT_BYTES);
        assert!(
            vmstat_oom_kills(&huge)
                .unwrap_err()
                .starts_with("/proc/vmstat: more than 65536 bytes")
        );
        let long = "x 1\n".repeat(MAX_VMSTAT_LINES + 1);
        assert!(
            vmstat_oom_kills(&long)
                .unwrap_err()
                .starts_with("/proc/vmstat: more than 1000 lines")
        );
    }

    #[test]
    fn restarts_count_within_the_window_only() {
        let mut c = Counter::default();
        let w = 60_000;
        // Restarted 5 times long ago, then quiet: not a loop.
        c.push(0, 5, w);
        c.push(100_000, 5, w);
        c.push(130_000, 5, w);
        assert_eq!(restart_loop(&c, 3), None);
        // Three more within a minute: a loop, since the first of them.
        c.push(140_000, 6, w);
        c.push(150_000, 8, w);
        assert_eq!(restart_loop(&c, 3), Some(3));
        assert_eq!(c.rising_since(), Some(140_000));
        assert_eq!(restart_loop(&c, 0), None);
        // A minute later the rise has left the window.
        c.push(215_000, 8, w);
        assert_eq!(restart_loop(&c, 3), None);
    }

    #[test]
    fn a_rise_too_new_is_left_out_until_its_time() {
        let mut c = Counter::default();
        c.push(0, 1, 60_000);
        c.push(10_000, 3, 60_000);
        assert_eq!(c.rise_until(5_000), 0);
        assert_eq!(c.rise_until(10_000), 2);
        assert_eq!(Counter::default().rise_until(10_000), 0);
    }

    #[test]
    fn a_recreated_container_starts_counting_again() {
        let mut c = Counter::default();
        c.push(0, 9, 60_000);
        c.push(1_000, 0, 60_000);
        c.push(2_000, 2, 60_000);
        assert_eq!(c.rise(), 2);
    }
}
