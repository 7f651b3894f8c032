//! vigil: a terminal console that watches a host, forecasts its load, and proposes
//! scale and heal actions. The pipeline stages are the modules below; `engine` wires
//! them and `console` only talks to the engine.

pub mod approve;
pub mod audit;
pub mod collect;
pub mod config;
pub mod console;
pub mod daemon;
pub mod detect;
pub mod engine;
pub mod execute;
pub mod forecast;
pub mod heal;
pub mod llm;
pub mod logging;
pub mod notify;
pub mod plan;
pub mod protocol;
pub mod sim;
pub mod store;
pub mod verify;
