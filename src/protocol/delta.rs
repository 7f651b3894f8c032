//! A full snapshot on attach, then only what changed: an attached console costs a few
//! hundred bytes a second, not the whole picture every tick.

use super::view::{CloudGroup, HealingBoard, HostInfo, IncidentView, Notice, Snapshot};
use super::{ContainerInfo, Entry, Forecast, HostSample, Ledger, Metric, Mode, WINDOW_MS};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// Everything, for a console that has nothing yet (the history and the audit tail are
/// not part of `Snapshot`'s own serialisation, which `status --json` prints).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Full {
    pub snapshot: Snapshot,
    pub history: Vec<(Metric, Vec<(i64, f64)>)>,
    pub audit_tail: Vec<String>,
}

impl Full {
    pub fn of(s: &Snapshot) -> Full {
        Full {
            snapshot: s.clone(),
            history: s
                .history
                .iter()
                .map(|(m, h)| (*m, h.iter().copied().collect()))
                .collect(),
            audit_tail: s.audit_tail.clone(),
        }
    }

    pub fn into_snapshot(self) -> Snapshot {
        let mut s = self.snapshot;
        s.history = self
            .history
            .into_iter()
            .map(|(m, h)| (m, h.into_iter().collect::<VecDeque<_>>()))
            .collect();
        s.audit_tail = self.audit_tail;
        s
    }
}

/// The fields that changed between two snapshots; `None` is "as before". History is
/// sent as the points added since.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    /// The snapshot this applies to (or any later one), and the one it makes.
    pub from: u64,
    pub seq: u64,
    pub ts: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<(Metric, Vec<(i64, f64)>)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest: Option<HostSample>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<HostInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notices: Option<Vec<Notice>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forecasts: Option<BTreeMap<Metric, Forecast>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledgers: Option<Vec<(String, Ledger)>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub board: Option<Vec<Entry>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brake: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shadow_forced: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub containers: Option<Vec<ContainerInfo>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud: Option<Vec<CloudGroup>>,
    /// `Some(None)` clears the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_tail: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incidents: Option<Vec<IncidentView>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healing: Option<HealingBoard>,
}

fn changed<T: PartialEq + Clone>(a: &T, b: &T) -> Option<T> {
    (a != b).then(|| b.clone())
}

impl Delta {
    /// What turns `prev` into `cur`; None when nothing a console shows changed.
    pub fn between(prev: &Snapshot, cur: &Snapshot) -> Option<Delta> {
        let history: Vec<(Metric, Vec<(i64, f64)>)> = cur
            .history
            .iter()
            .filter_map(|(m, h)| {
                let last = prev
                    .history
                    .get(m)
                    .and_then(|p| p.back())
                    .map(|&(t, _)| t)
                    .unwrap_or(i64::MIN);
                let new: Vec<(i64, f64)> = h.iter().copied().filter(|&(t, _)| t > last).collect();
                (!new.is_empty()).then_some((*m, new))
            })
            .collect();
        let d = Delta {
            from: prev.seq,
            seq: cur.seq,
            ts: cur.ts,
            history,
            latest: if prev.latest != cur.latest {
                cur.latest.clone()
            } else {
                None
            },
            host: changed(&prev.host, &cur.host),
            source: changed(&prev.source, &cur.source),
            mode: changed(&prev.mode, &cur.mode),
            paused: changed(&prev.paused, &cur.paused),
            interval_ms: changed(&prev.interval_ms, &cur.interval_ms),
            notices: changed(&prev.notices, &cur.notices),
            forecasts: changed(&prev.forecasts, &cur.forecasts),
            ledgers: changed(&prev.ledgers, &cur.ledgers),
            board: changed(&prev.board, &cur.board),
            brake: changed(&prev.brake, &cur.brake),
            shadow_forced: changed(&prev.shadow_forced, &cur.shadow_forced),
            containers: changed(&prev.containers, &cur.containers),
            cloud: changed(&prev.cloud, &cur.cloud),
            message: changed(&prev.message, &cur.message),
            audit_tail: changed(&prev.audit_tail, &cur.audit_tail),
            incidents: changed(&prev.incidents, &cur.incidents),
            healing: changed(&prev.healing, &cur.healing),
        };
        let nothing = Delta {
            from: d.from,
            seq: d.seq,
            ts: prev.ts,
            ..Delta::default()
        };
        (d != nothing).then_some(d)
    }

    /// Applies the change. History only grows by points newer than the console has, so
    /// a delta that overlaps what a full snapshot already brought adds nothing twice.
    pub fn apply(self, s: &mut Snapshot) {
        s.seq = self.seq;
        s.ts = self.ts;
        for (m, points) in self.history {
            let h = s.history.entry(m).or_default();
            let last = h.back().map(|&(t, _)| t).unwrap_or(i64::MIN);
            h.extend(points.into_iter().filter(|&(t, _)| t > last));
            let newest = h.back().map(|&(t, _)| t).unwrap_or(0);
            while h
                .front()
                .is_some_and(|&(t, _)| t < newest.saturating_sub(WINDOW_MS))
            {
                h.pop_front();
            }
        }
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = self.$f { s.$f = v; } )* };
        }
        set!(
            host,
            source,
            mode,
            paused,
            interval_ms,
            notices,
            forecasts,
            ledgers,
            board,
            brake,
            shadow_forced,
            containers,
            cloud,
            message,
            audit_tail,
            incidents,
            healing
        );
        if let Some(l) = self.latest {
            s.latest = Some(l);
        }
    }
}
