//! The one gate every action passes: shadow mode and the brake are enforced here, not in
//! the views, and the intent is on disk before the executor is called.

use super::{Action, ExecError, Executor, OperationSink, Outcome};
use crate::audit::{Actor, AuditLog};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// An approved proposal, bound to the version that was approved.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Decision {
    pub proposal: String,
    pub version: u32,
    pub action: Action,
    /// The count or state the proposal started from (for the class and a rollback).
    pub from: usize,
    pub by: Actor,
    /// Approved by a config rule rather than a keypress.
    pub auto: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum GateResult {
    /// Shadow mode: recorded as what would have run.
    Shadowed,
    /// The brake is engaged, or its state cannot be read: nothing ran.
    Braked,
    /// The intent could not be written: nothing ran.
    Unauditable(String),
    Done(Outcome),
    Failed(ExecError),
}

/// The audit log, or why there is none: without one, nothing runs.
pub type AuditSink = Arc<Mutex<Result<AuditLog, String>>>;

pub struct Gate {
    shadow: AtomicBool,
    brake: super::Brake,
    audit: AuditSink,
}

impl Gate {
    pub fn new(shadow: bool, brake: super::Brake, audit: AuditSink) -> Gate {
        Gate {
            shadow: AtomicBool::new(shadow),
            brake,
            audit,
        }
    }

    pub fn shadow(&self) -> bool {
        self.shadow.load(Ordering::SeqCst)
    }

    pub fn set_shadow(&self, on: bool) {
        self.shadow.store(on, Ordering::SeqCst);
    }

    pub fn brake(&self) -> &super::Brake {
        &self.brake
    }

    pub fn audit(&self) -> &AuditSink {
        &self.audit
    }

    /// Appends one record; an error when the log cannot take it.
    pub fn record(
        &self,
        kind: &str,
        who: &Actor,
        data: serde_json::Value,
    ) -> Result<crate::audit::Head, String> {
        let mut guard = self
            .audit
            .lock()
            .map_err(|_| "audit log lock poisoned".to_string())?;
        let log = guard.as_mut().map_err(|e| e.clone())?;
        log.append(kind, who, data).map_err(|e| e.to_string())
    }

    /// Runs a decision through shadow, brake and audit, then the executor.
    pub async fn pass(&self, d: &Decision, exec: &dyn Executor) -> GateResult {
        self.pass_tracked(d, exec, &super::no_sink()).await
    }

    /// `pass`, with the executor's long operation (a scaling activity) told to
    /// `accepted` as soon as the backend took the request.
    pub async fn pass_tracked(
        &self,
        d: &Decision,
        exec: &dyn Executor,
        accepted: &OperationSink,
    ) -> GateResult {
        let summary = format!("{} {}", d.action.class(d.from), d.action.subject());
        let data = |extra: serde_json::Value| {
            let mut v = serde_json::json!({
                "proposal": d.proposal,
                "version": d.version,
                "action": d.action,
                "auto": d.auto,
                "summary": summary,
            });
            if let (Some(o), serde_json::Value::Object(e)) = (v.as_object_mut(), extra) {
                o.extend(e);
            }
            v
        };
        if self.shadow() {
            let _ = self.record(
                "shadow",
                &d.by,
                data(serde_json::json!({"would_run": true})),
            );
            return GateResult::Shadowed;
        }
        // Read now, before this action: a brake pulled a moment ago holds it.
        match self.brake.state() {
            super::BrakeState::Released => {}
            super::BrakeState::Engaged { by, .. } => {
                let _ = self.record(
                    "braked",
                    &d.by,
                    data(serde_json::json!({"ran": false, "brake": format!("engaged by {by}")})),
                );
                return GateResult::Braked;
            }
            super::BrakeState::Unreadable(why) => {
                tracing::error!("not running {summary}: {why}");
                let _ = self.record(
                    "braked",
                    &d.by,
                    data(serde_json::json!({"ran": false, "brake": why})),
                );
                return GateResult::Braked;
            }
        }
        if let Err(e) = self.record(
            "intent",
            &d.by,
            data(serde_json::json!({"executor": exec.name()})),
        ) {
            tracing::error!("not running {summary}: the audit log cannot take its intent: {e}");
            return GateResult::Unauditable(e);
        }
        let result = exec.apply_tracked(&d.action, accepted).await;
        let after = match &result {
            Ok(o) => {
                serde_json::json!({"ok": true, "outcome": o, "summary": format!("done: {}", o.summary)})
            }
            Err(e) => {
                serde_json::json!({"ok": false, "error": e.to_string(), "summary": format!("FAILED: {summary}: {e}")})
            }
        };
        if let Err(e) = self.record("result", &Actor::vigil(), data(after)) {
            tracing::error!("the result of {summary} could not be audited: {e}");
        }
        match result {
            Ok(o) => GateResult::Done(o),
            Err(e) => GateResult::Failed(e),
        }
    }
}
