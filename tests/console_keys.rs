//! The keys that decide: approval bound to the version on screen, typed confirmation
//! for risky actions, shadow mode and the brake behind a question.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use vigil::approve::{Entry, State};
use vigil::config::{Mode, TargetKind};
use vigil::console::app::{App, Dialog, View};
use vigil::console::i18n::{Lang, Msg};
use vigil::console::theme::Theme;
use vigil::engine::{Command, Snapshot};
use vigil::execute::Action;
use vigil::plan::proposal::{Proposal, Risk};
use vigil::plan::scaling::Rule;

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}
fn code(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

fn entry(target: &str, version: u32, risk: Risk) -> Entry {
    let mut p = Proposal::repair(
        format!("scale:{target}"),
        Action::Scale {
            target: target.into(),
            kind: TargetKind::DockerGroup,
            to: 6,
        },
        Rule::Predictive,
        "load is coming".into(),
        None,
        risk,
        0,
    );
    p.version = version;
    p.from = 3;
    Entry {
        proposal: p,
        state: State::Pending,
        updated: 0,
        expires: 600_000,
        by: None,
        note: None,
    }
}

fn snap(entries: Vec<Entry>) -> Snapshot {
    Snapshot {
        board: vigil::engine::view::entries(&entries),
        mode: Mode::Live,
        ..Snapshot::default()
    }
}

fn app() -> App {
    let mut a = App::new(Theme::built_in("mono").unwrap(), Lang::En);
    a.view = View::Actions;
    a
}

#[test]
fn a_low_risk_proposal_is_approved_at_its_version_with_who_pressed() {
    let s = snap(vec![entry("web", 4, Risk::Low)]);
    let mut a = app();
    match a.on_key(&key('a'), &s) {
        Some(Command::Approve {
            id,
            version,
            by,
            confirm,
        }) => {
            assert_eq!((id.as_str(), version), ("scale:web", 4));
            assert_eq!(by, a.actor);
            assert_eq!(confirm, None, "a low-risk approval carries no confirmation");
        }
        other => panic!("expected an approval, got {other:?}"),
    }
    assert!(matches!(
        a.on_key(&key('r'), &s),
        Some(Command::Reject { version: 4, .. })
    ));
}

#[test]
fn a_risky_proposal_needs_its_name_typed_and_a_wrong_name_approves_nothing() {
    let s = snap(vec![entry("web", 1, Risk::High)]);
    let mut a = app();
    assert_eq!(a.on_key(&key('a'), &s), None);
    assert!(matches!(a.dialog, Some(Dialog::TypeToApprove { .. })));
    for c in "wbe".chars() {
        assert_eq!(a.on_key(&key(c), &s), None);
    }
    assert_eq!(a.on_key(&code(KeyCode::Enter), &s), None, "wrong name");
    assert!(a.dialog.is_some(), "asked again");
    for c in "web".chars() {
        a.on_key(&key(c), &s);
    }
    // The typed name travels with the approval: the engine checks it again.
    match a.on_key(&code(KeyCode::Enter), &s) {
        Some(Command::Approve {
            version: 1,
            confirm,
            ..
        }) => assert_eq!(confirm.as_deref(), Some("web")),
        other => panic!("expected an approval of v1, got {other:?}"),
    }
    assert!(a.dialog.is_none());
}

#[test]
fn if_the_proposal_changed_while_the_dialog_was_open_nothing_is_approved() {
    let before = snap(vec![entry("web", 1, Risk::High)]);
    let mut a = app();
    a.on_key(&key('a'), &before);
    for c in "web".chars() {
        a.on_key(&key(c), &before);
    }
    // Meanwhile the engine replaced v1 with v2.
    let mut v1 = entry("web", 1, Risk::High);
    v1.state = State::Superseded;
    let after = snap(vec![entry("web", 2, Risk::High), v1]);
    assert_eq!(a.on_key(&code(KeyCode::Enter), &after), None);
    assert_eq!(a.note, Some(Msg::Changed));
    assert!(a.detail, "the new version is shown");
    assert_eq!(a.selected_entry(&after).unwrap().proposal.version, 2);
}

#[test]
fn outside_the_actions_view_a_only_shows_the_queue() {
    let s = snap(vec![entry("web", 1, Risk::Low)]);
    let mut a = app();
    a.view = View::Overview;
    assert_eq!(a.on_key(&key('a'), &s), None);
    assert_eq!(a.view, View::Actions);
}

#[test]
fn only_waiting_proposals_can_be_answered() {
    let mut e = entry("web", 1, Risk::Low);
    e.state = State::Verified;
    let s = snap(vec![e]);
    let mut a = app();
    assert_eq!(a.on_key(&key('a'), &s), None);
    assert_eq!(a.note, Some(Msg::NotWaiting));
}

#[test]
fn leaving_shadow_mode_and_releasing_the_brake_ask_first_but_braking_does_not() {
    let mut s = snap(vec![]);
    s.mode = Mode::Shadow;
    let mut a = app();
    assert_eq!(a.on_key(&key('S'), &s), None);
    assert_eq!(a.on_key(&key('n'), &s), None, "n keeps shadow mode");
    assert!(a.dialog.is_none());
    a.on_key(&key('S'), &s);
    assert!(matches!(
        a.on_key(&key('y'), &s),
        Some(Command::SetShadow { on: false, .. })
    ));

    assert!(matches!(
        a.on_key(&key('B'), &s),
        Some(Command::Brake { engage: true, .. })
    ));
    s.brake = true;
    assert_eq!(a.on_key(&key('B'), &s), None);
    assert!(matches!(
        a.on_key(&key('y'), &s),
        Some(Command::Brake { engage: false, .. })
    ));
}

#[test]
fn the_selection_follows_its_proposal_when_rows_move() {
    let mut a = app();
    let s = snap(vec![entry("web", 1, Risk::Low), entry("api", 1, Risk::Low)]);
    a.on_key(&code(KeyCode::Down), &s);
    assert_eq!(a.selected_entry(&s).unwrap().proposal.target, "api");
    // A new proposal arrives and takes the row the cursor was on.
    let s = snap(vec![
        entry("db", 1, Risk::Low),
        entry("web", 1, Risk::Low),
        entry("api", 1, Risk::Low),
    ]);
    match a.on_key(&key('a'), &s) {
        Some(Command::Approve { id, .. }) => assert_eq!(id, "scale:api"),
        other => panic!("expected api approved, got {other:?}"),
    }
}

fn incident(id: &str, awaiting: Option<&str>) -> vigil::protocol::IncidentView {
    use vigil::protocol::{IncidentState, IncidentView};
    IncidentView {
        id: id.into(),
        target: "/var/log/app".into(),
        trigger: "disk-filling".into(),
        state: IncidentState::Open,
        started: 0,
        opened: 0,
        updated: 0,
        closed: None,
        evidence: vec![],
        diagnosis: vec![],
        playbook: Some("disk-full-of-logs".into()),
        risk: Some("L2".into()),
        steps: vec![],
        verify: None,
        reason: None,
        manual: false,
        false_alarm: false,
        awaiting: awaiting.map(str::to_string),
        approved_by: None,
        note: None,
    }
}

#[test]
fn in_the_incidents_view_a_asks_then_allows_the_selected_incident_and_r_declines_it() {
    let mut s = snap(vec![entry("web", 1, Risk::Low)]);
    s.incidents = vec![
        incident("inc-2", None),
        incident("inc-1", Some("delete-logs")),
    ];
    let mut a = app();
    a.view = View::Incidents;
    // The first row waits for nothing: nothing is sent, the note says why.
    assert_eq!(a.on_key(&key('a'), &s), None);
    assert_eq!(a.note, Some(Msg::NotWaiting));
    assert_eq!(a.view, View::Incidents, "the key does not leave the view");
    a.on_key(&code(KeyCode::Down), &s);
    assert_eq!(a.on_key(&key('a'), &s), None, "a question first");
    assert!(matches!(a.dialog, Some(Dialog::YesNo { .. })));
    let cmd = a.on_key(&key('y'), &s);
    assert!(
        matches!(&cmd, Some(Command::AnswerIncident { id, approve: true, .. }) if id == "inc-1"),
        "{cmd:?}"
    );
    let cmd = a.on_key(&key('r'), &s);
    assert!(
        matches!(&cmd, Some(Command::AnswerIncident { id, approve: false, .. }) if id == "inc-1"),
        "{cmd:?}"
    );
    // The Actions view's queue is untouched by all this.
    assert_eq!(a.selected, None);
}

#[test]
fn in_the_incidents_view_f_asks_then_closes_an_untouched_incident_as_a_false_alarm() {
    use vigil::protocol::{IncidentStep, StepState};
    let mut acted = incident("inc-2", None);
    acted.steps = vec![IncidentStep {
        name: "restart-container".into(),
        text: "restart web".into(),
        state: StepState::Done,
        rollback: false,
        proposal: None,
        note: None,
        at: None,
    }];
    let mut s = snap(vec![entry("web", 1, Risk::Low)]);
    s.incidents = vec![acted, incident("inc-1", Some("delete-logs"))];
    let mut a = app();
    // Elsewhere the key only shows the incidents.
    assert_eq!(a.on_key(&key('f'), &s), None);
    assert_eq!(a.view, View::Incidents);
    // A restart ran for the first one: it is not offered as a false alarm.
    assert_eq!(a.on_key(&key('f'), &s), None);
    assert_eq!(a.note, Some(Msg::NotFalseAlarm));
    assert!(a.dialog.is_none());
    a.on_key(&code(KeyCode::Down), &s);
    assert_eq!(a.on_key(&key('f'), &s), None, "a question first");
    assert!(matches!(a.dialog, Some(Dialog::YesNo { .. })));
    assert_eq!(a.on_key(&key('n'), &s), None, "no closes the question");
    assert!(a.dialog.is_none());
    a.on_key(&key('f'), &s);
    let cmd = a.on_key(&key('y'), &s);
    assert!(
        matches!(&cmd, Some(Command::DismissIncident { id, .. }) if id == "inc-1"),
        "{cmd:?}"
    );
}
