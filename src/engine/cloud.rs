//! What the engine knows of its cloud groups, read from their own executor (not from
//! container listings): how many instances are in service, for the plans, and while
//! an action is in flight, every instance's lifecycle state and the scaling activity,
//! for the Actions view. Reads run as tasks, one at a time per group: often while the
//! group changes, seldom while it is idle (each read is three API calls).

use crate::execute::ExecError;
use crate::execute::huawei::Progress;
use crate::protocol::{CloudActivity, CloudGroup, CloudInstance};
use std::collections::{BTreeMap, HashMap, HashSet};

/// An idle group is read this often: enough for the planner, which decides once a
/// minute.
pub const IDLE_EVERY_MS: i64 = 30_000;

#[derive(Default)]
pub struct CloudReads {
    last: HashMap<String, i64>,
    reading: HashSet<String>,
    groups: BTreeMap<String, CloudGroup>,
}

/// The view of one read: the protocol's own types, not the client's.
pub fn view(target: &str, p: &Progress, at: i64) -> CloudGroup {
    CloudGroup {
        target: target.to_string(),
        instances: p
            .instances
            .iter()
            .map(|i| CloudInstance {
                name: i.instance_name.clone(),
                id: i.instance_id.clone(),
                lifecycle: i.life_cycle_state.clone(),
                health: i.health_status.clone(),
            })
            .collect(),
        activity: p.activity.as_ref().map(|a| CloudActivity {
            id: a.id.clone(),
            status: a.status.clone(),
            from: a.instance_value,
            to: a.desire_value,
            started: a.start_time.clone(),
            ended: a.end_time.clone(),
        }),
        error: None,
        read_at: at,
    }
}

impl CloudReads {
    /// The groups to read now (and marks them being read): a busy one every `poll`,
    /// an idle one every [`IDLE_EVERY_MS`].
    pub fn due<'a>(
        &mut self,
        targets: impl Iterator<Item = &'a str>,
        busy: &HashSet<String>,
        now: i64,
        poll_ms: i64,
    ) -> Vec<String> {
        let mut out = Vec::new();
        for t in targets {
            if self.reading.contains(t) {
                continue;
            }
            let every = if busy.contains(t) {
                poll_ms
            } else {
                IDLE_EVERY_MS
            };
            if self.last.get(t).is_some_and(|&at| now - at < every) {
                continue;
            }
            self.reading.insert(t.to_string());
            self.last.insert(t.to_string(), now);
            out.push(t.to_string());
        }
        out
    }

    /// Reads this group at the next chance (an action on it just started or ended).
    pub fn soon(&mut self, target: &str) {
        self.last.remove(target);
    }

    /// A read came back. A failed read keeps the last picture and says why.
    pub fn take(&mut self, target: &str, read: Result<Progress, ExecError>, at: i64) {
        self.reading.remove(target);
        match read {
            Ok(p) => {
                self.groups.insert(target.to_string(), view(target, &p, at));
            }
            Err(e) => {
                let g = self
                    .groups
                    .entry(target.to_string())
                    .or_insert_with(|| CloudGroup {
                        target: target.to_string(),
                        ..CloudGroup::default()
                    });
                g.error = Some(e.to_string());
            }
        }
    }

    /// Instances in service per group, from the last good read.
    pub fn counts(&self) -> HashMap<String, usize> {
        self.groups
            .iter()
            .filter(|(_, g)| g.read_at > 0)
            .map(|(t, g)| (t.clone(), g.in_service()))
            .collect()
    }

    /// The groups with an action in flight, for the snapshot.
    pub fn in_flight(&self, busy: &HashSet<String>) -> Vec<CloudGroup> {
        self.groups
            .values()
            .filter(|g| busy.contains(&g.target))
            .cloned()
            .collect()
    }

    /// Forgets groups that are no longer targets (a reloaded config).
    pub fn retain(&mut self, targets: &HashSet<String>) {
        self.groups.retain(|t, _| targets.contains(t));
        self.last.retain(|t, _| targets.contains(t));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }

    #[test]
    fn a_busy_group_is_read_every_poll_an_idle_one_seldom_and_never_two_reads_at_once() {
        let mut r = CloudReads::default();
        let groups = ["web", "api"];
        let busy: HashSet<String> = ["web".to_string()].into();
        assert_eq!(
            names(&r.due(groups.into_iter(), &busy, 0, 100)),
            ["web", "api"]
        );
        // Both still being read: nothing more is started.
        assert!(r.due(groups.into_iter(), &busy, 1_000, 100).is_empty());
        let ok = || {
            Ok(Progress {
                instances: Vec::new(),
                activity: None,
            })
        };
        r.take("web", ok(), 1_000);
        r.take("api", ok(), 1_000);
        assert_eq!(
            names(&r.due(groups.into_iter(), &busy, 1_000, 100)),
            ["web"]
        );
        r.take("web", ok(), 1_000);
        assert!(r.due(groups.into_iter(), &busy, 1_050, 100).is_empty());
        assert_eq!(
            names(&r.due(groups.into_iter(), &busy, IDLE_EVERY_MS, 100)),
            ["web", "api"]
        );
        r.take("web", ok(), 1_000);
        // An action just started on the idle one: read at the next chance.
        r.soon("api");
        r.take("api", ok(), 1_000);
        r.soon("api");
        assert_eq!(
            names(&r.due(groups.into_iter(), &HashSet::new(), IDLE_EVERY_MS + 1, 100)),
            ["api"]
        );
    }

    #[test]
    fn a_failed_read_keeps_the_last_picture_and_says_why() {
        use crate::execute::huawei::autoscaling::GroupInstance;
        let mut r = CloudReads::default();
        let inst = |state: &str| GroupInstance {
            instance_id: "i-1".into(),
            instance_name: "web-0".into(),
            life_cycle_state: state.into(),
            health_status: "NORMAL".into(),
            protect_from_scaling_down: false,
        };
        let p = Progress {
            instances: vec![inst("INSERVICE"), inst("PENDING")],
            activity: None,
        };
        r.take("web", Ok(p), 5);
        r.take("web", Err(ExecError::Cloud("throttled".into())), 9);
        let busy: HashSet<String> = ["web".to_string()].into();
        let shown = r.in_flight(&busy);
        assert_eq!(shown.len(), 1);
        assert_eq!(shown[0].instances.len(), 2);
        assert_eq!(shown[0].read_at, 5);
        assert_eq!(shown[0].error.as_deref(), Some("Huawei Cloud: throttled"));
        assert_eq!(r.counts().get("web"), Some(&1));
        // Not in flight: not shown; a group never read is not counted.
        assert!(r.in_flight(&HashSet::new()).is_empty());
        r.take("api", Err(ExecError::Cloud("down".into())), 9);
        assert_eq!(r.counts().get("api"), None);
    }
}
