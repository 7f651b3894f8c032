//! LLM notes on live incidents. When an incident opens and `[llm]` is on, its redacted
//! summary goes to the model on a task of its own; the answer comes back on the
//! incidents' channel, is validated against what was sent (the playbooks that fit, the
//! known targets, the evidence ids) and is attached as a note. Nothing waits for it:
//! the tick never calls the API, the heal goes on by its rules, and a note that comes
//! late, never or invalid changes nothing that runs.

use super::incidents::IncidentEvent;
use crate::llm::{ApiKey, Client, Evidence, LlmConfig, Note, Request};
use crate::protocol::{IncidentNote, IncidentView};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

/// Questions in flight at most: a burst of incidents must not become a burst of calls
/// (the ones over the limit simply get no note).
const MAX_IN_FLIGHT: usize = 4;
/// Evidence, playbooks and targets sent at most.
const MAX_LIST: usize = 64;
/// Added to the client's own deadline before a task gives up on it, so a hung client
/// still lets its slot go.
const GRACE: Duration = Duration::from_secs(2);

/// What a task brings back.
pub enum Answer {
    /// The validated note for an incident, or None (no answer, or one discarded).
    Note {
        incident: String,
        note: Option<Note>,
    },
    /// Whether the configured model is one the API offers.
    Model(Result<(), String>),
}

pub struct Notes {
    client: Option<Arc<Client>>,
    cfg: LlmConfig,
    in_flight: Arc<AtomicUsize>,
    /// Why there are no notes although `[llm]` is on, or that the model is missing.
    pub warning: Option<String>,
}

impl Notes {
    pub fn new(cfg: &LlmConfig) -> Notes {
        let mut me = Notes {
            client: None,
            cfg: cfg.clone(),
            in_flight: Arc::new(AtomicUsize::new(0)),
            warning: None,
        };
        if !cfg.enabled {
            return me;
        }
        match ApiKey::load(cfg).and_then(|k| Client::new(cfg, k)) {
            Ok(c) => me.client = Some(Arc::new(c)),
            Err(e) => {
                tracing::warn!("llm: {e}; incidents get no notes");
                me.warning = Some(format!("llm: {e}; incidents get no notes"));
            }
        }
        me
    }

    /// A reloaded config: a changed `[llm]` gets a new client (and breaker).
    pub fn reconfigure(&mut self, cfg: &LlmConfig) {
        if *cfg != self.cfg {
            *self = Notes::new(cfg);
        }
    }

    pub fn on(&self) -> bool {
        self.client.is_some()
    }

    /// Checks the model against `GET /models` on a task; vendors rename models, and a
    /// missing one is a warning on screen, not a failure.
    pub fn check_model(&self, tx: &mpsc::Sender<IncidentEvent>) {
        let (Some(c), Ok(rt)) = (self.client.clone(), tokio::runtime::Handle::try_current()) else {
            return;
        };
        let tx = tx.clone();
        let limit = self.cfg.deadline + GRACE;
        rt.spawn(async move {
            let r = match tokio::time::timeout(limit, c.check_model()).await {
                Ok(r) => r,
                Err(_) => Err(format!("GET /models: no answer within {limit:?}")),
            };
            let _ = tx.send(IncidentEvent::Llm(Answer::Model(r))).await;
        });
    }

    /// What a model check said: kept as the warning, or the warning cleared.
    pub fn model_checked(&mut self, r: Result<(), String>) {
        match r {
            Ok(()) => self.warning = None,
            Err(e) => {
                tracing::warn!("llm: {e}");
                self.warning = Some(format!("llm: {e}"));
            }
        }
    }

    /// Asks about an incident on a task. Does nothing when off, when nothing fits, or
    /// when enough questions are already out.
    pub fn ask(&self, req: Request, incident: &str, tx: &mpsc::Sender<IncidentEvent>) {
        let (Some(c), Ok(rt)) = (self.client.clone(), tokio::runtime::Handle::try_current()) else {
            return;
        };
        if req.playbooks.is_empty() || req.targets.is_empty() {
            return;
        }
        if self.in_flight.fetch_add(1, Ordering::SeqCst) >= MAX_IN_FLIGHT {
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            tracing::info!("llm: {MAX_IN_FLIGHT} questions out already; {incident} gets no note");
            return;
        }
        let (tx, slots, incident) = (tx.clone(), self.in_flight.clone(), incident.to_string());
        let limit = self.cfg.deadline + GRACE;
        rt.spawn(async move {
            let note = tokio::time::timeout(limit, c.diagnose(&req))
                .await
                .ok()
                .flatten();
            slots.fetch_sub(1, Ordering::SeqCst);
            let _ = tx
                .send(IncidentEvent::Llm(Answer::Note { incident, note }))
                .await;
        });
    }

    /// The note as the incident shows it.
    pub fn view(&self, n: Note, now: i64) -> IncidentNote {
        IncidentNote {
            playbook: n.playbook,
            target: n.target,
            cites: n.cites,
            reason: n.reason,
            model: self.cfg.model.clone(),
            at: now,
        }
    }
}

/// The question about an incident: its finding in a line, its evidence by name (the
/// ids the answer must cite), the playbooks that fit and the known targets. The client
/// redacts all of it before it leaves.
pub fn request(v: &IncidentView, playbooks: Vec<String>, targets: Vec<String>) -> Request {
    let since = chrono::DateTime::from_timestamp_millis(v.started)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default();
    let mut summary = format!("{} on {} since {since}", v.trigger, v.target);
    if !v.diagnosis.is_empty() {
        summary.push_str("; the rules say: ");
        summary.push_str(&v.diagnosis.join("; "));
    }
    let mut evidence: Vec<Evidence> = Vec::new();
    for e in &v.evidence {
        if evidence.len() >= MAX_LIST || evidence.iter().any(|x| x.id == e.name) {
            continue;
        }
        evidence.push(Evidence {
            id: e.name.clone(),
            text: format!("{} = {}", e.name, e.value),
        });
    }
    Request {
        summary,
        evidence,
        playbooks: bounded(playbooks),
        targets: bounded(targets),
    }
}

fn bounded(mut v: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    v.retain(|s| seen.insert(s.clone()));
    v.truncate(MAX_LIST);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{IncidentEvidence, IncidentState};

    fn view() -> IncidentView {
        IncidentView {
            id: "inc-1-1".into(),
            target: "api-1".into(),
            trigger: "container-exited".into(),
            state: IncidentState::Open,
            started: 0,
            opened: 0,
            updated: 0,
            closed: None,
            evidence: vec![
                IncidentEvidence {
                    name: "exit_code".into(),
                    value: 137.0,
                },
                IncidentEvidence {
                    name: "exit_code".into(),
                    value: 1.0,
                },
                IncidentEvidence {
                    name: "restarts_in_window".into(),
                    value: 0.0,
                },
            ],
            diagnosis: vec!["killed (code 137)".into()],
            playbook: Some("crashed-container".into()),
            risk: Some("L1".into()),
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
    fn the_question_names_evidence_once_and_the_choices_without_repeats() {
        let r = request(
            &view(),
            vec!["crashed-container".into(), "crashed-container".into()],
            vec!["api-1".into(), "db".into(), "api-1".into()],
        );
        assert_eq!(
            r.summary,
            "container-exited on api-1 since 1970-01-01 00:00:00 UTC; the rules say: killed (code 137)"
        );
        let ids: Vec<&str> = r.evidence.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["exit_code", "restarts_in_window"]);
        assert_eq!(r.evidence[0].text, "exit_code = 137");
        assert_eq!(r.playbooks, ["crashed-container"]);
        assert_eq!(r.targets, ["api-1", "db"]);
    }

    #[test]
    fn off_means_no_client_and_no_warning() {
        let n = Notes::new(&LlmConfig::default());
        assert!(!n.on());
        assert_eq!(n.warning, None);
    }

    #[test]
    fn on_without_a_key_says_where_it_looked() {
        let cfg = LlmConfig {
            enabled: true,
            api_key_env: Some("VIGIL_TEST_NO_SUCH_KEY_VAR".into()),
            ..LlmConfig::default()
        };
        let n = Notes::new(&cfg);
        assert!(!n.on());
        assert_eq!(
            n.warning.as_deref(),
            Some(
                "llm: no LLM API key: set VIGIL_TEST_NO_SUCH_KEY_VAR or llm.api_key_file (0600); incidents get no notes"
            )
        );
    }
}
