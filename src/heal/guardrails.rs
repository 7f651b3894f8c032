//! The engine's guardrails on healing, as a pure state machine fed the engine's clock:
//! at most N fixes at once, a cooldown per target, flap protection ("N restarts within
//! W → stop and escalate", monit's rule), and the watch window: a problem that comes
//! back soon after its fix verified is escalated, not fixed again.

use std::collections::{HashMap, HashSet, VecDeque};

#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    pub max_fixes: usize,
    pub cooldown_ms: i64,
    pub watch_ms: i64,
    pub max_restarts: u32,
    pub window_ms: i64,
}

impl Limits {
    pub fn from_config(c: &crate::config::HealConfig) -> Limits {
        Limits {
            max_fixes: c.max_fixes.max(1) as usize,
            cooldown_ms: c.cooldown.as_millis() as i64,
            watch_ms: c.watch.as_millis() as i64,
            max_restarts: c.max_restarts,
            window_ms: c.window.as_millis() as i64,
        }
    }
}

/// Why a fix may not start now.
#[derive(Debug, Clone, PartialEq)]
pub enum Hold {
    /// Every slot is taken by another fix.
    Busy { fixing: usize },
    /// The target was fixed a moment ago.
    Cooldown { until: i64 },
}

impl Hold {
    pub fn text(&self) -> String {
        match self {
            Hold::Busy { fixing } => {
                format!("waits: {fixing} fixes are under way (heal.max_fixes)")
            }
            Hold::Cooldown { until } => format!(
                "waits: the target's cooldown runs until {}",
                chrono::DateTime::from_timestamp_millis(*until)
                    .map(|t| t.format("%H:%M:%S UTC").to_string())
                    .unwrap_or_else(|| until.to_string())
            ),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Guardrails {
    pub limits: Limits,
    fixing: HashSet<String>,
    last_fix: HashMap<String, i64>,
    /// (trigger, target) → when its fix verified.
    verified: HashMap<(String, String), i64>,
    restarts: HashMap<String, VecDeque<i64>>,
}

impl Guardrails {
    pub fn new(limits: Limits) -> Guardrails {
        Guardrails {
            limits,
            fixing: HashSet::new(),
            last_fix: HashMap::new(),
            verified: HashMap::new(),
            restarts: HashMap::new(),
        }
    }

    pub fn fixing(&self) -> usize {
        self.fixing.len()
    }

    pub fn may_start(&self, target: &str, now: i64) -> Result<(), Hold> {
        if self.fixing.contains(target) {
            return Ok(());
        }
        if let Some(&at) = self.last_fix.get(target)
            && now < at + self.limits.cooldown_ms
        {
            return Err(Hold::Cooldown {
                until: at + self.limits.cooldown_ms,
            });
        }
        if self.fixing.len() >= self.limits.max_fixes {
            return Err(Hold::Busy {
                fixing: self.fixing.len(),
            });
        }
        Ok(())
    }

    /// Takes a slot (a fix that resumes after a restart takes it again).
    pub fn start(&mut self, target: &str) {
        self.fixing.insert(target.to_string());
    }

    /// The fix on `target` is over; `verified` names the trigger it fixed, if it did;
    /// `touched`: something acted on the target (only then does its cooldown start).
    pub fn finish(&mut self, target: &str, now: i64, verified: Option<&str>, touched: bool) {
        if self.fixing.remove(target) && touched {
            self.last_fix.insert(target.to_string(), now);
        }
        if let Some(t) = verified {
            self.verified
                .insert((t.to_string(), target.to_string()), now);
        }
    }

    /// A fix that ended before a restart of vigil (read back from the store), so the
    /// cooldown and the watch window survive the restart.
    pub fn remember(&mut self, target: &str, ended: i64, verified: Option<&str>) {
        let last = self.last_fix.entry(target.to_string()).or_insert(ended);
        *last = (*last).max(ended);
        if let Some(t) = verified {
            let at = self
                .verified
                .entry((t.to_string(), target.to_string()))
                .or_insert(ended);
            *at = (*at).max(ended);
        }
    }

    /// How long ago this problem's fix verified, if that is within the watch window.
    pub fn returned(&self, trigger: &str, target: &str, now: i64) -> Option<i64> {
        let at = *self
            .verified
            .get(&(trigger.to_string(), target.to_string()))?;
        let ago = now - at;
        (self.limits.watch_ms > 0 && (0..=self.limits.watch_ms).contains(&ago)).then_some(ago)
    }

    /// A restart of `target` ran.
    pub fn restarted(&mut self, target: &str, at: i64) {
        // Kept in time order (a restart of vigil reads them back newest first).
        let r = self.restarts.entry(target.to_string()).or_default();
        let i = r.partition_point(|&t| t <= at);
        r.insert(i, at);
    }

    /// Restarts of `target` within the window.
    pub fn restarts_within(&self, target: &str, now: i64) -> u32 {
        self.restarts.get(target).map_or(0, |r| {
            r.iter()
                .filter(|&&t| t >= now - self.limits.window_ms)
                .count() as u32
        })
    }

    /// Restarts of `target` within the window, when that is as many as are allowed.
    pub fn flapping(&mut self, target: &str, now: i64) -> Option<u32> {
        let window = self.limits.window_ms;
        let recent = self.restarts.get_mut(target)?;
        while recent.front().is_some_and(|&t| t < now - window) {
            recent.pop_front();
        }
        let n = recent.len() as u32;
        (n >= self.limits.max_restarts).then_some(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            max_fixes: 2,
            cooldown_ms: 300_000,
            watch_ms: 600_000,
            max_restarts: 3,
            window_ms: 600_000,
        }
    }

    #[test]
    fn two_fixes_at_once_then_the_third_waits_for_a_slot() {
        let mut g = Guardrails::new(limits());
        g.start("a");
        g.start("b");
        assert_eq!(g.may_start("c", 0), Err(Hold::Busy { fixing: 2 }));
        assert_eq!(g.may_start("a", 0), Ok(()));
        g.finish("a", 1_000, None, true);
        assert_eq!(g.may_start("c", 1_000), Ok(()));
    }

    #[test]
    fn a_target_cools_down_after_its_fix() {
        let mut g = Guardrails::new(limits());
        g.start("a");
        g.finish("a", 1_000, None, true);
        assert_eq!(
            g.may_start("a", 2_000),
            Err(Hold::Cooldown { until: 301_000 })
        );
        assert_eq!(g.may_start("a", 301_000), Ok(()));
        // A fix that never touched its target (a person said no) leaves no cooldown.
        g.start("b");
        g.finish("b", 1_000, None, false);
        assert_eq!(g.may_start("b", 2_000), Ok(()));
    }

    #[test]
    fn a_problem_back_within_the_watch_window_is_named_returned() {
        let mut g = Guardrails::new(limits());
        g.start("a");
        g.finish("a", 1_000, Some("container-exited"), true);
        assert_eq!(g.returned("container-exited", "a", 61_000), Some(60_000));
        assert_eq!(g.returned("memory-leak", "a", 61_000), None);
        assert_eq!(g.returned("container-exited", "a", 700_000), None);
    }

    #[test]
    fn the_third_restart_within_the_window_stops_the_fourth() {
        let mut g = Guardrails::new(limits());
        for t in [0, 10_000, 20_000] {
            assert_eq!(g.flapping("a", t), None);
            g.restarted("a", t);
        }
        assert_eq!(g.flapping("a", 30_000), Some(3));
        // Read back out of order (newest first), they still count in time order.
        let mut h = Guardrails::new(limits());
        for t in [20_000, 0, 10_000] {
            h.restarted("a", t);
        }
        assert_eq!(h.flapping("a", 30_000), Some(3));
        assert_eq!(h.restarts_within("a", 605_000), 2);
        // Outside the window the old restarts no longer count.
        assert_eq!(g.flapping("a", 615_000), None);
    }
}
