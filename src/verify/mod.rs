//! verify: outcome + later readings → verified or failed. An action is verified when the
//! state it promised holds within its deadline *and still holds* a little later, so a
//! container that restarts and dies again is not counted as healed.

pub mod reconcile;
pub mod utilisation;

use crate::execute::{Action, Executor};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Verdict {
    Verified(String),
    Failed(String),
}

/// How long the promised state must last once reached.
pub fn settle_for(action: &Action) -> Duration {
    match action {
        Action::Restart { .. } | Action::Recreate { .. } => Duration::from_secs(3),
        _ => Duration::from_secs(2),
    }
}

pub async fn verify(
    exec: &dyn Executor,
    action: &Action,
    within: Duration,
    settle: Duration,
) -> Verdict {
    let poll = Duration::from_millis(250);
    let deadline = tokio::time::Instant::now() + within;
    let mut last = loop {
        match exec.check(action).await {
            Ok(()) => break None,
            Err(e) if tokio::time::Instant::now() >= deadline => break Some(e),
            Err(_) => tokio::time::sleep(poll).await,
        }
    };
    if let Some(e) = last.take() {
        return Verdict::Failed(format!(
            "not reached within {}: {e}",
            humantime::format_duration(within)
        ));
    }
    tokio::time::sleep(settle).await;
    match exec.check(action).await {
        Ok(()) => Verdict::Verified(format!("held for {}", humantime::format_duration(settle))),
        Err(e) => Verdict::Failed(format!("reached, then lost: {e}")),
    }
}
