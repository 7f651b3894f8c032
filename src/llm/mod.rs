//! llm: optional root-cause notes from an OpenAI-compatible chat-completions API
//! (DeepSeek's by default). The model gets a redacted summary and must answer in JSON
//! naming one of the playbooks that fit, one of the known targets, and the ids of the
//! evidence it was sent; anything else is discarded. It never sets risk or approval:
//! those belong to the playbook. Retries, an overall deadline and a circuit breaker
//! mean healing never waits on it; every failure is `None`, and vigil goes on by its
//! rules.

pub mod client;
pub mod config;
pub mod redact;

pub use client::{ApiKey, Client, Evidence, Note, Request};
pub use config::LlmConfig;
