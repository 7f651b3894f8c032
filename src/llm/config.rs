//! `[llm]` in the config: which OpenAI-compatible API, which model, where the key is.
//! The key itself never lives in the config file.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlmConfig {
    /// Off by default: vigil works fully without an LLM.
    pub enabled: bool,
    /// Any OpenAI-compatible API; DeepSeek's by default.
    pub base_url: String,
    /// Checked against GET /models before use (vendors rename models).
    pub model: String,
    /// The API key comes from this environment variable ...
    pub api_key_env: Option<String>,
    /// ... or from this file, readable by its owner only (0600).
    pub api_key_file: Option<PathBuf>,
    /// Everything (retries included) ends by then; healing never waits on the LLM.
    #[serde(with = "crate::config::duration")]
    pub deadline: Duration,
    /// One request's own limit.
    #[serde(with = "crate::config::duration")]
    pub request_timeout: Duration,
    /// Whether IP addresses may be sent; off: they are replaced before sending.
    pub send_addresses: bool,
    /// After this many failed calls in a row the client stops calling for `cooldown`.
    pub breaker_failures: u32,
    #[serde(with = "crate::config::duration")]
    pub breaker_cooldown: Duration,
}

impl Default for LlmConfig {
    fn default() -> Self {
        LlmConfig {
            enabled: false,
            base_url: "https://api.deepseek.com".into(),
            model: "deepseek-chat".into(),
            api_key_env: Some("DEEPSEEK_API_KEY".into()),
            api_key_file: None,
            deadline: Duration::from_secs(20),
            request_timeout: Duration::from_secs(10),
            send_addresses: false,
            breaker_failures: 3,
            breaker_cooldown: Duration::from_secs(300),
        }
    }
}

impl LlmConfig {
    pub fn problems(&self, bad: &mut dyn FnMut(&str, String)) {
        if !(self.base_url.starts_with("https://") || self.base_url.starts_with("http://")) {
            bad(
                "llm.base_url",
                format!("an http:// or https:// URL, got \"{}\"", self.base_url),
            );
        }
        if self.model.trim().is_empty() {
            bad("llm.model", "a model name, e.g. \"deepseek-chat\"".into());
        }
        if self.deadline.is_zero() || self.request_timeout.is_zero() {
            bad(
                "llm.deadline",
                "deadline and request_timeout must be above 0".into(),
            );
        }
        if !(1..=100).contains(&self.breaker_failures) {
            bad(
                "llm.breaker_failures",
                format!("from 1 to 100, got {}", self.breaker_failures),
            );
        }
    }
}
