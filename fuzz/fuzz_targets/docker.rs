//! What vigil reads from the Docker engine: the JSON of the container list, events,
//! inspect and stats, deserialised into bollard's model types exactly as bollard does
//! (serde_json::from_slice), then vigil's mapping of each. The first byte picks which.
#![no_main]

use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerStatsResponse, ContainerSummary,
    EventMessage,
};
use libfuzzer_sys::fuzz_target;
use vigil::collect::docker::{container_info, exit_name, stats_of};

fuzz_target!(|data: &[u8]| {
    let Some((&which, json)) = data.split_first() else {
        return;
    };
    match which % 5 {
        0 => {
            if let Ok(list) = serde_json::from_slice::<Vec<ContainerSummary>>(json) {
                for c in list {
                    let info = container_info(c);
                    let _ = info.running();
                }
            }
        }
        1 => {
            if let Ok(ev) = serde_json::from_slice::<EventMessage>(json) {
                let _ = exit_name(ev);
            }
        }
        2 => {
            if let Ok(s) = serde_json::from_slice::<ContainerStatsResponse>(json) {
                let (pct, _, _) = stats_of(s);
                assert!(!pct.is_nan(), "{pct}");
            }
        }
        3 => {
            // A member is copied from an inspected one: its config becomes a create body.
            if let Ok(ins) = serde_json::from_slice::<ContainerInspectResponse>(json) {
                let cfg = ins.config.unwrap_or_default();
                let _ = serde_json::to_value(&cfg).and_then(serde_json::from_value::<ContainerCreateBody>);
                let _ = ins.state.and_then(|s| s.health).and_then(|h| h.status);
            }
        }
        _ => {
            // A stream of events, one JSON value after another, as the engine sends them.
            for ev in serde_json::Deserializer::from_slice(json).into_iter::<EventMessage>() {
                match ev {
                    Ok(ev) => {
                        let _ = exit_name(ev);
                    }
                    Err(_) => break,
                }
            }
        }
    }
});
