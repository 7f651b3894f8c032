//! The healing board: how the loop did over the last day and the last week.

use crate::protocol::{HealingBoard, HealingSpan, IncidentState, IncidentView};

const DAY_MS: i64 = 86_400_000;

pub fn board(incidents: &[IncidentView], now: i64) -> HealingBoard {
    HealingBoard {
        day: span(incidents, now - DAY_MS),
        week: span(incidents, now - 7 * DAY_MS),
    }
}

/// The incidents opened since `since`.
fn span(incidents: &[IncidentView], since: i64) -> HealingSpan {
    let mut s = HealingSpan::default();
    let mut repair_ms = Vec::new();
    let mut closed = 0u32;
    for i in incidents.iter().filter(|i| i.opened >= since) {
        s.incidents += 1;
        if i.manual {
            s.manual += 1;
        }
        // Nothing was fixed: it counts as a false alarm, not as a success.
        if i.false_alarm {
            s.false_alarms += 1;
            continue;
        }
        match i.state {
            IncidentState::Resolved => {
                s.resolved += 1;
                closed += 1;
                if let Some(c) = i.closed {
                    repair_ms.push((c - i.started.min(i.opened)).max(0) as f64);
                }
            }
            IncidentState::RolledBack => {
                s.rolled_back += 1;
                closed += 1;
            }
            IncidentState::Escalated => {
                s.escalated += 1;
                closed += 1;
            }
            _ => {}
        }
    }
    if !repair_ms.is_empty() {
        s.mttr_s = Some(repair_ms.iter().sum::<f64>() / repair_ms.len() as f64 / 1000.0);
    }
    if closed > 0 {
        s.success_rate = Some(s.resolved as f64 / closed as f64);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inc(opened: i64, state: IncidentState, closed: Option<i64>) -> IncidentView {
        IncidentView {
            id: format!("inc-{opened}"),
            target: "t".into(),
            trigger: "container-exited".into(),
            state,
            started: opened - 1_000,
            opened,
            updated: opened,
            closed,
            evidence: vec![],
            diagnosis: vec![],
            playbook: None,
            risk: None,
            steps: vec![],
            verify: None,
            reason: None,
            manual: false,
            false_alarm: false,
            awaiting: None,
            approved_by: None,
            note: None,
        }
    }

    #[test]
    fn mttr_and_success_rate_over_the_day_and_the_week() {
        let now = 10 * DAY_MS;
        let mut old = inc(now - 3 * DAY_MS, IncidentState::Escalated, None);
        old.manual = true;
        let mut gone = inc(now - 500_000, IncidentState::Resolved, Some(now - 499_000));
        gone.false_alarm = true;
        let list = vec![
            gone,
            inc(
                now - 1_000_000,
                IncidentState::Resolved,
                Some(now - 1_000_000 + 9_000),
            ),
            inc(
                now - 2_000_000,
                IncidentState::Resolved,
                Some(now - 2_000_000 + 19_000),
            ),
            inc(now - 3_000_000, IncidentState::RolledBack, Some(now)),
            inc(now - 4_000_000, IncidentState::Fixing, None),
            old,
        ];
        let b = board(&list, now);
        assert_eq!((b.day.incidents, b.day.false_alarms), (5, 1));
        assert_eq!(
            (b.day.resolved, b.day.rolled_back, b.day.escalated),
            (2, 1, 0)
        );
        // From the problem's start (a second before it opened) to resolved: 10 s and 20 s.
        assert_eq!(b.day.mttr_s, Some(15.0));
        assert_eq!(b.day.success_rate, Some(2.0 / 3.0));
        assert_eq!(b.week.incidents, 6);
        assert_eq!((b.week.escalated, b.week.manual), (1, 1));
        assert_eq!(b.week.success_rate, Some(2.0 / 4.0));
    }
}
