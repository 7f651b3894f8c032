//! Scales verified by outcome. A scale whose replicas came up (verified by state) is
//! watched until its target's `outcome_within`: every host sample gives the
//! per-replica utilisation of the metric its rule reads, and `verify::utilisation`
//! says whether the scale did what it was for. The judgement is audited (`outcome`);
//! one that did not help is notified and a rollback is proposed for a person — never
//! run by an auto rule. A watch is marked on its queue entry (`watch_until`), so a
//! restart of vigil goes on judging it on the samples that come after.

use super::actions::Actions;
use crate::audit::Actor;
use crate::collect::{HostSample, Metric};
use crate::config::Config;
use crate::execute::Action;
use crate::notify::Event;
use crate::plan::proposal::{Proposal, Risk};
use crate::plan::scaling::Rule;
use crate::verify::utilisation::{self, Expect, Judgement};

/// Readings kept per watch: a sample a second for the longest allowed window would be
/// far more; the median of the latest ones says as much.
const MAX_READINGS: usize = 600;
/// Scales watched at once, at most (one per target in practice).
const MAX_WATCHES: usize = 64;

#[derive(Debug, Clone)]
pub struct Watch {
    pub proposal: String,
    pub version: u32,
    pub action: Action,
    pub metric: Metric,
    pub capacity: f64,
    pub expect: Expect,
    pub deadline: i64,
    pub readings: Vec<f64>,
}

impl Watch {
    /// The watch for a scale just verified by state, if its outcome can be judged: a
    /// scale the planner decided on its target's load (a playbook's scale-out is the
    /// playbook's to verify; a rollback is not judged again).
    pub fn new(cfg: &Config, p: &Proposal, now: i64) -> Option<Watch> {
        let Action::Scale { target, to, .. } = &p.action else {
            return None;
        };
        if matches!(p.rule, Rule::Heal | Rule::Rollback) || p.from == *to {
            return None;
        }
        let t = cfg.scale.iter().find(|t| &t.name == target)?;
        let metric = Metric::from_name(&t.metric)?;
        if !(p.utilisation.is_finite() && p.utilisation > 0.0 && t.capacity > 0.0) {
            return None;
        }
        Some(Watch {
            proposal: p.id.clone(),
            version: p.version,
            action: p.action.clone(),
            metric,
            capacity: t.capacity,
            expect: Expect {
                from: p.from,
                to: *to,
                before: p.utilisation,
                share: t.outcome_share,
                ceiling: t.target,
                emergency: t.emergency,
            },
            deadline: now + t.outcome_within.as_millis().min(i64::MAX as u128) as i64,
            readings: Vec::new(),
        })
    }

    fn target(&self) -> &str {
        self.action.subject()
    }

    /// The sample's load over the replicas the scale left.
    fn read(&mut self, s: &HostSample) {
        let u = s.value(self.metric) / (self.expect.to.max(1) as f64 * self.capacity);
        if u.is_finite() {
            if self.readings.len() >= MAX_READINGS {
                self.readings.remove(0);
            }
            self.readings.push(u);
        }
    }
}

impl Actions {
    /// Starts watching a scale verified by state (replacing an older watch of its
    /// target: the newer scale is the one to judge).
    pub(super) fn watch_outcome(&mut self, w: Watch) {
        self.unwatch_outcome(w.target());
        let (id, version, until) = (w.proposal.clone(), w.version, w.deadline);
        if self.push_watch(w) {
            self.mark_watch(&id, version, Some(until));
        }
    }

    /// One watch per target, at most MAX_WATCHES in all. Whether it was taken.
    fn push_watch(&mut self, w: Watch) -> bool {
        self.scale_watches.retain(|x| x.target() != w.target());
        let room = self.scale_watches.len() < MAX_WATCHES;
        if room {
            self.scale_watches.push(w);
        }
        room
    }

    /// A new action on a target ends the watch of its last scale.
    pub(super) fn unwatch_outcome(&mut self, subject: &str) {
        let (ended, kept): (Vec<Watch>, Vec<Watch>) = std::mem::take(&mut self.scale_watches)
            .into_iter()
            .partition(|x| x.target() == subject);
        self.scale_watches = kept;
        for w in &ended {
            self.keep_watch(w, None);
        }
    }

    /// Marks (or clears) the watch on its queue entry. A mark that cannot be written
    /// only costs the judgement after a restart, so it is shown, not fatal.
    fn keep_watch(&mut self, w: &Watch, until: Option<i64>) {
        let id = w.proposal.clone();
        self.mark_watch(&id, w.version, until);
    }

    fn mark_watch(&mut self, id: &str, version: u32, until: Option<i64>) {
        if let Err(e) = self.queue.set_watch(id, version, until) {
            self.message = Some(format!("outcome watch of {id}: {e}"));
        }
    }

    /// The watches a previous run left unjudged, from their queue entries: judged on
    /// the samples from now on, until the deadline they had (past it, at once: the
    /// readings went with the old process, so the outcome is audited as unknown).
    pub(super) fn restore_watches(&mut self, cfg: &Config) {
        let Ok(marked) = self.queue.watched() else {
            return;
        };
        for (e, until) in marked {
            match Watch::new(cfg, &e.proposal, e.updated) {
                Some(mut w) if e.state == crate::approve::State::Verified => {
                    w.deadline = until;
                    self.push_watch(w);
                }
                // The config no longer names its target (or it moved on): nothing to
                // judge it by.
                _ => {
                    let _ = self
                        .queue
                        .set_watch(&e.proposal.id, e.proposal.version, None);
                }
            }
        }
    }

    /// Feeds a host sample (if any) to every watched scale and acts on the ones decided.
    pub fn judge_scales(&mut self, sample: Option<&HostSample>, now: i64) {
        if self.scale_watches.is_empty() {
            return;
        }
        let mut decided = Vec::new();
        for (i, w) in self.scale_watches.iter_mut().enumerate() {
            if let Some(s) = sample {
                w.read(s);
            }
            let j = utilisation::judge(&w.expect, &w.readings, now >= w.deadline);
            if j != Judgement::Pending {
                decided.push((i, j));
            }
        }
        for (i, j) in decided.into_iter().rev() {
            let w = self.scale_watches.remove(i);
            self.keep_watch(&w, None);
            self.outcome(w, j, now);
        }
    }

    fn outcome(&mut self, w: Watch, j: Judgement, now: i64) {
        let (verdict, text) = match &j {
            Judgement::Helped(t) => ("helped", t.clone()),
            Judgement::DidNotHelp(t) => ("did-not-help", t.clone()),
            Judgement::Unknown(t) => ("unknown", t.clone()),
            Judgement::Pending => return,
        };
        let e = &w.expect;
        let target = w.target().to_string();
        let what = format!("{target} {} → {}", e.from, e.to);
        let summary = match &j {
            Judgement::Helped(_) => format!("scale {what} helped: {text}"),
            Judgement::DidNotHelp(_) => format!("scale {what} did NOT help: {text}"),
            _ => format!("scale {what}: outcome unknown: {text}"),
        };
        self.audit(
            "outcome",
            &Actor::vigil(),
            serde_json::json!({
                "proposal": w.proposal,
                "version": w.version,
                "target": target,
                "outcome": verdict,
                "before": e.before,
                "after": w.readings.last(),
                "summary": summary,
            }),
        );
        self.message = Some(summary.clone());
        if matches!(j, Judgement::Helped(_)) {
            return;
        }
        let helpless = matches!(j, Judgement::DidNotHelp(_));
        let title = if helpless {
            format!("scale did not help: {what}")
        } else {
            format!("scale outcome unknown: {what}")
        };
        self.notify(Event::new("failure", title, summary.clone()));
        // Without a reading there is nothing to say it hurt: no rollback is offered.
        let (true, Action::Scale { kind, .. }) = (helpless, &w.action) else {
            return;
        };
        let mut p = Proposal::repair(
            format!("rollback:{target}"),
            Action::Scale {
                target: target.clone(),
                kind: *kind,
                to: e.from,
            },
            Rule::Rollback,
            format!("{what} did not help ({text})"),
            Some("a rollback is for a person to decide".into()),
            Risk::Medium,
            now,
        );
        p.from = e.to;
        p.to = e.from;
        self.offer(p, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ScaleTarget, TargetKind};

    fn cfg() -> Config {
        let mut c = Config::default();
        c.scale.push(ScaleTarget {
            name: "web".into(),
            metric: "mem_pct".into(),
            capacity: 10.0,
            ..ScaleTarget::default()
        });
        c
    }

    fn scale(rule: Rule, from: usize, to: usize, utilisation: f64) -> Proposal {
        let action = Action::Scale {
            target: "web".into(),
            kind: TargetKind::DockerGroup,
            to,
        };
        let mut p = Proposal::repair(
            "scale:web".into(),
            action,
            rule,
            String::new(),
            None,
            Risk::Low,
            0,
        );
        p.from = from;
        p.utilisation = utilisation;
        p
    }

    #[test]
    fn a_planned_scale_is_watched_with_its_targets_rules() {
        let w = Watch::new(&cfg(), &scale(Rule::Reactive, 1, 3, 2.0), 1_000).expect("watched");
        assert_eq!(w.metric, Metric::Mem);
        assert_eq!(
            w.expect,
            Expect {
                from: 1,
                to: 3,
                before: 2.0,
                share: 0.5,
                ceiling: 0.6,
                emergency: 0.9,
            }
        );
        assert_eq!(w.deadline, 301_000);
    }

    #[test]
    fn heals_rollbacks_unknown_targets_and_no_load_are_not_judged() {
        let c = cfg();
        assert!(Watch::new(&c, &scale(Rule::Heal, 1, 2, 2.0), 0).is_none());
        assert!(Watch::new(&c, &scale(Rule::Rollback, 3, 1, 2.0), 0).is_none());
        assert!(Watch::new(&c, &scale(Rule::Reactive, 2, 2, 2.0), 0).is_none());
        assert!(Watch::new(&c, &scale(Rule::Reactive, 1, 2, 0.0), 0).is_none());
        let mut other = c.clone();
        other.scale[0].name = "api".into();
        assert!(Watch::new(&other, &scale(Rule::Reactive, 1, 2, 2.0), 0).is_none());
    }

    #[test]
    fn a_reading_is_the_load_over_the_replicas_the_scale_left() {
        let mut w = Watch::new(&cfg(), &scale(Rule::Reactive, 1, 4, 2.0), 0).expect("watched");
        let s = HostSample {
            mem_total: 100,
            mem_used: 20,
            ..HostSample::default()
        };
        w.read(&s);
        assert_eq!(w.readings, [0.5]);
    }
}
