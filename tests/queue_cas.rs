//! The approval queue on one real SQLite file shared by two processes' worth of
//! connections: every state move is a compare-and-set, so two clients answering the same
//! proposal at once cannot both win, and the loser is told why.

use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use vigil::approve::{DecideError, Queue, State};
use vigil::audit::Actor;
use vigil::execute::Action;
use vigil::plan::proposal::{Proposal, Risk};
use vigil::plan::scaling::Rule;

const TTL: i64 = 600_000;

fn proposal(id: &str, version: u32) -> Proposal {
    let mut p = Proposal::repair(
        id.into(),
        Action::Restart {
            container: "web".into(),
        },
        Rule::Heal,
        "web exited (1)".into(),
        None,
        Risk::Low,
        0,
    );
    p.version = version;
    p
}

fn person(name: &str) -> Actor {
    Actor {
        user: name.into(),
        ssh: None,
    }
}

#[test]
fn two_clients_deciding_the_same_proposal_at_once_exactly_one_wins_every_round() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("vigil.db");
    let mut offerer = Queue::open(Some(&db), TTL);
    assert_eq!(offerer.notice, None, "the queue must be on disk");
    let rounds = 60;
    let start = Arc::new(Barrier::new(3));
    let (tx, rx) = mpsc::channel();
    let clients: Vec<_> = (0..2)
        .map(|c| {
            let db = db.clone();
            let start = start.clone();
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut q = Queue::open(Some(&db), TTL);
                assert_eq!(q.notice, None);
                for round in 0..rounds {
                    start.wait();
                    // One client approves, the other rejects: the winner's answer is
                    // the one the row must hold.
                    let approve = (c + round) % 2 == 0;
                    let r = q.decide(
                        &format!("heal:r{round}"),
                        1,
                        approve,
                        &person(&format!("client{c}")),
                        1_000,
                    );
                    tx.send((round, c, approve, r)).unwrap();
                }
            })
        })
        .collect();
    for round in 0..rounds {
        let (_, fresh) = offerer
            .offer(&proposal(&format!("heal:r{round}"), 1), 0)
            .unwrap();
        assert!(fresh);
        start.wait();
        let mut answers: Vec<_> = (0..2).map(|_| rx.recv().unwrap()).collect();
        answers.sort_by_key(|a| a.1);
        let winners: Vec<_> = answers.iter().filter(|a| a.3.is_ok()).collect();
        assert_eq!(winners.len(), 1, "round {round}: {answers:?}");
        let (_, who, approved, won) = winners[0];
        let won = won.as_ref().unwrap();
        let want = if *approved {
            State::Approved
        } else {
            State::Rejected
        };
        assert_eq!(won.state, want);
        assert_eq!(won.by.as_deref(), Some(format!("client{who}").as_str()));
        let loser = answers.iter().find(|a| a.3.is_err()).unwrap();
        assert_eq!(
            loser.3,
            Err(DecideError::NotPending {
                id: format!("heal:r{round}"),
                version: 1,
                state: want.name(),
            }),
            "round {round}"
        );
        assert!(
            loser
                .3
                .as_ref()
                .unwrap_err()
                .to_string()
                .ends_with(&format!("is {}, not waiting for an answer", want.name()))
        );
        let stored = offerer.get(&format!("heal:r{round}"), 1).unwrap().unwrap();
        assert_eq!(
            stored.state, want,
            "round {round}: the row holds the winner's answer"
        );
        assert_eq!(stored.by.as_deref(), Some(format!("client{who}").as_str()));
    }
    for c in clients {
        c.join().unwrap();
    }
}

#[test]
fn an_answer_to_an_old_version_or_an_unknown_id_decides_nothing_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let mut q = Queue::open(Some(&dir.path().join("vigil.db")), TTL);
    q.offer(&proposal("scale:web", 1), 0).unwrap();
    let (superseded, _) = q.offer(&proposal("scale:web", 2), 10).unwrap();
    assert_eq!(superseded, vec![1]);
    assert_eq!(
        q.decide("scale:web", 1, true, &person("ana"), 20),
        Err(DecideError::Changed {
            id: "scale:web".into(),
            current: 2
        })
    );
    assert_eq!(
        q.decide("scale:db", 1, true, &person("ana"), 20),
        Err(DecideError::Unknown("scale:db".into()))
    );
    // Neither touched the waiting version.
    assert_eq!(
        q.get("scale:web", 2).unwrap().unwrap().state,
        State::Pending
    );
    assert_eq!(
        q.get("scale:web", 1).unwrap().unwrap().state,
        State::Superseded
    );
}

#[test]
fn every_later_move_names_the_state_it_leaves_and_a_lost_move_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("vigil.db");
    let mut a = Queue::open(Some(&db), TTL);
    let mut b = Queue::open(Some(&db), TTL);
    a.offer(&proposal("heal:web", 1), 0).unwrap();
    a.decide("heal:web", 1, true, &person("ana"), 1).unwrap();
    // Only one of two engines gets to run it.
    a.set_state("heal:web", 1, State::Approved, State::Running, None, 2)
        .unwrap();
    assert_eq!(
        b.set_state("heal:web", 1, State::Approved, State::Running, None, 2),
        Err(DecideError::Moved {
            id: "heal:web".into(),
            version: 1,
            expected: "approved",
            found: "running",
            wanted: "running",
        })
    );
    a.set_state(
        "heal:web",
        1,
        State::Running,
        State::Done,
        Some("web restarted"),
        3,
    )
    .unwrap();
    let lost = b.set_state("heal:web", 1, State::Running, State::Failed, Some("x"), 4);
    assert_eq!(
        lost.unwrap_err().to_string(),
        "proposal heal:web v1 is done, not running: not moved to failed"
    );
    let e = b.get("heal:web", 1).unwrap().unwrap();
    assert_eq!(
        (e.state, e.note.as_deref()),
        (State::Done, Some("web restarted"))
    );
    assert!(matches!(
        b.set_state("heal:nope", 1, State::Running, State::Done, None, 5),
        Err(DecideError::Unknown(_))
    ));
}

#[test]
fn an_answer_taken_before_the_expiry_is_never_expired_afterwards() {
    let dir = tempfile::tempdir().unwrap();
    let mut q = Queue::open(Some(&dir.path().join("vigil.db")), TTL);
    q.offer(&proposal("heal:a", 1), 0).unwrap();
    q.offer(&proposal("heal:b", 1), 0).unwrap();
    q.decide("heal:a", 1, true, &person("ana"), 5).unwrap();
    let expired = q.expire(TTL + 1).unwrap();
    let ids: Vec<(&str, State)> = expired
        .iter()
        .map(|e| (e.proposal.id.as_str(), e.state))
        .collect();
    assert_eq!(ids, vec![("heal:b", State::Expired)]);
    assert_eq!(q.get("heal:a", 1).unwrap().unwrap().state, State::Approved);
    // Too late to answer what expired.
    assert_eq!(
        q.decide("heal:b", 1, true, &person("ana"), TTL + 2),
        Err(DecideError::NotPending {
            id: "heal:b".into(),
            version: 1,
            state: "expired"
        })
    );
}
