//! The seam: the queue's and the planner's records turned into the protocol's view types,
//! in one place, so the console and the scripts never depend on pipeline internals.

use crate::approve;
use crate::execute::Action;
use crate::plan::proposal::{Proposal, Risk};
use crate::protocol::board;

pub fn entry(e: &approve::Entry) -> board::Entry {
    board::Entry {
        proposal: proposal(&e.proposal),
        state: state(e.state),
        updated: e.updated,
        expires: e.expires,
        by: e.by.clone(),
        note: e.note.clone(),
    }
}

pub fn entries(es: &[approve::Entry]) -> Vec<board::Entry> {
    es.iter().map(entry).collect()
}

pub fn state(s: approve::State) -> board::State {
    use approve::State as Q;
    use board::State as V;
    match s {
        Q::Pending => V::Pending,
        Q::Approved => V::Approved,
        Q::Rejected => V::Rejected,
        Q::Expired => V::Expired,
        Q::Superseded => V::Superseded,
        Q::Running => V::Running,
        Q::Done => V::Done,
        Q::Failed => V::Failed,
        Q::Shadowed => V::Shadowed,
        Q::Braked => V::Braked,
        Q::Verified => V::Verified,
        Q::Unverified => V::Unverified,
    }
}

fn risk(r: Risk) -> board::Risk {
    match r {
        Risk::Low => board::Risk::Low,
        Risk::Medium => board::Risk::Medium,
        Risk::High => board::Risk::High,
    }
}

fn action(a: &Action) -> board::Action {
    match a {
        Action::Scale { target, to, .. } => board::Action::Scale {
            target: target.clone(),
            to: *to,
        },
        Action::Resize {
            target,
            cpus,
            memory_mib,
        } => board::Action::Resize {
            target: target.clone(),
            cpus: *cpus,
            memory_mib: *memory_mib,
        },
        Action::Restart { container } => board::Action::Restart {
            container: container.clone(),
        },
        Action::Recreate { container } => board::Action::Recreate {
            container: container.clone(),
        },
    }
}

pub fn proposal(p: &Proposal) -> board::Proposal {
    // The rule's wire name is its serde name ("clamped_max"), the word the audit uses.
    let rule = serde_json::to_value(p.rule)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    board::Proposal {
        id: p.id.clone(),
        version: p.version,
        target: p.target.clone(),
        metric: p.metric.clone(),
        planned_per_instance: p.planned_per_instance,
        from: p.from,
        to: p.to,
        resize: p.resize.clone(),
        rule,
        load: p.load,
        utilisation: p.utilisation,
        p90: p.p90,
        p90_at: p.p90_at,
        quantile: p.quantile,
        band_width: p.band_width,
        model: p.model.clone(),
        mase: p.mase,
        boot_secs: p.boot_secs,
        risk: risk(p.risk),
        cost_per_hour: p.cost_per_hour,
        cost_per_month: p.cost_per_month,
        currency: p.currency.clone(),
        manual: p.manual.clone(),
        created: p.created,
        action: action(&p.action),
        reason: p.reason.clone(),
        summary: p.summary(),
    }
}
