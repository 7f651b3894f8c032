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
