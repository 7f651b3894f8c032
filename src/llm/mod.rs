//! llm: optional root-cause notes from an OpenAI-compatible chat-completions API.

pub mod config;

pub use config::LlmConfig;
