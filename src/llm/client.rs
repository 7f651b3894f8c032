//! The chat-completions client: the request, retries (429 unless out of quota, 5xx,
//! timeouts; at most 3 attempts, jittered, honouring Retry-After), an overall deadline,
//! a circuit breaker, and the validation of the answer.

use super::LlmConfig;
use super::redact::redact;
use backon::{BackoffBuilder, ExponentialBuilder};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Attempts per call, the first included.
pub const MAX_ATTEMPTS: usize = 3;
/// The largest answer read; a chat completion with a short JSON note is a few KiB.
pub const MAX_ANSWER: usize = 1 << 20;
/// Longest reason kept from an answer.
const MAX_REASON: usize = 600;

/// The API key: prints as `***` in every Debug and Display.
#[derive(Clone)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(s: impl Into<String>) -> ApiKey {
        ApiKey(s.into())
    }

    /// From `llm.api_key_env`, or `llm.api_key_file` (refused unless 0600). Errors say
    /// where the key was looked for, never what it is.
    pub fn load(cfg: &LlmConfig) -> Result<ApiKey, String> {
        if let Some(path) = &cfg.api_key_file {
            use std::os::unix::fs::PermissionsExt;
            let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
            if meta.permissions().mode() & 0o077 != 0 {
                return Err(format!(
                    "{}: an API key file must be readable by its owner only (chmod 600)",
                    path.display()
                ));
            }
            if meta.len() > 4096 {
                return Err(format!("{}: too large for an API key", path.display()));
            }
            let s =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            return Ok(ApiKey(s.trim().to_string()));
        }
        let var = cfg.api_key_env.as_deref().unwrap_or("DEEPSEEK_API_KEY");
        match std::env::var(var) {
            Ok(s) if !s.trim().is_empty() => Ok(ApiKey(s.trim().to_string())),
            _ => Err(format!(
                "no LLM API key: set {var} or llm.api_key_file (0600)"
            )),
        }
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// One number or fact behind a finding, with the id the answer must cite.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    pub id: String,
    pub text: String,
}

/// What the model is asked about.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The finding in a line (kind, subject, since when).
    pub summary: String,
    pub evidence: Vec<Evidence>,
    /// The playbooks that fit the finding: the only ones the answer may name.
    pub playbooks: Vec<String>,
    /// The known targets: the only ones the answer may name.
    pub targets: Vec<String>,
}

/// A validated note: a playbook that fits, a known target, evidence that was sent.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Note {
    pub playbook: String,
    pub target: String,
    pub cites: Vec<String>,
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, Default)]
struct Breaker {
    failures: u32,
    open_until: Option<Instant>,
}

pub struct Client {
    http: reqwest::Client,
    base: String,
    cfg: LlmConfig,
    key: ApiKey,
    breaker: Mutex<Breaker>,
    min_delay: Duration,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("llm::Client")
            .field("base", &self.base)
            .field("model", &self.cfg.model)
            .field("key", &self.key)
            .finish()
    }
}

/// Why one attempt failed, and whether another is worth it.
enum Fail {
    Retry(String, Option<Duration>),
    Stop(String),
}

impl Client {
    pub fn new(cfg: &LlmConfig, key: ApiKey) -> Result<Client, String> {
        let http = reqwest::Client::builder()
            .timeout(cfg.request_timeout)
            .connect_timeout(cfg.request_timeout.min(Duration::from_secs(5)))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Client {
            http,
            base: cfg.base_url.trim_end_matches('/').to_string(),
            cfg: cfg.clone(),
            key,
            breaker: Mutex::new(Breaker::default()),
            min_delay: Duration::from_millis(200),
        })
    }

    /// Checks that the configured model is one `GET /models` lists.
    pub async fn check_model(&self) -> Result<(), String> {
        #[derive(Deserialize)]
        struct Models {
            data: Vec<Model>,
        }
        #[derive(Deserialize)]
        struct Model {
            id: String,
        }
        let r = self
            .http
            .get(format!("{}/models", self.base))
            .bearer_auth(&self.key.0)
            .send()
            .await
            .map_err(|e| self.scrub(&format!("GET /models: {e}")))?;
        let status = r.status();
        let body = read_bounded(r).await.map_err(|e| self.scrub(&e))?;
        if !status.is_success() {
            return Err(format!("GET /models: HTTP {status}"));
        }
        let m: Models = serde_json::from_slice(&body).map_err(|e| format!("GET /models: {e}"))?;
        if m.data.iter().any(|x| x.id == self.cfg.model) {
            return Ok(());
        }
        let ids: Vec<&str> = m.data.iter().map(|x| x.id.as_str()).take(20).collect();
        Err(format!(
            "model \"{}\" is not offered by {}; it offers: {}",
            self.cfg.model,
            self.base,
            ids.join(", ")
        ))
    }

    /// The body sent for a request: the redacted summary, and the choices.
    pub fn body(&self, req: &Request) -> serde_json::Value {
        let clean = |s: &str| redact(s, self.cfg.send_addresses, &[self.key.0.as_str()]);
        let evidence: Vec<serde_json::Value> = req
            .evidence
            .iter()
            .take(64)
            .map(|e| serde_json::json!({"id": e.id, "text": clean(&e.text)}))
            .collect();
        let user = serde_json::json!({
            "finding": clean(&req.summary),
            "evidence": evidence,
            "playbooks": req.playbooks,
            "targets": req.targets.iter().map(|t| clean(t)).collect::<Vec<_>>(),
        });
        serde_json::json!({
            "model": self.cfg.model,
            "response_format": {"type": "json_object"},
            "temperature": 0,
            "messages": [
                {"role": "system", "content": "You help an operator diagnose a server problem. Answer with one JSON object: {\"playbook\": one of the given playbooks, \"target\": one of the given targets, \"cites\": [ids of the evidence you relied on], \"reason\": one or two sentences}. Use only the evidence given."},
                {"role": "user", "content": user.to_string()},
            ],
        })
    }

    /// A note, or None: the breaker is open, the deadline passed, the API failed, or the
    /// answer did not validate. Never waits longer than `llm.deadline`.
    pub async fn diagnose(&self, req: &Request) -> Option<Note> {
        if self.breaker_open() {
            return None;
        }
        let result = tokio::time::timeout(self.cfg.deadline, self.attempts(req)).await;
        let note = match result {
            Ok(Ok(text)) => validate(&text, req),
            Ok(Err(e)) => {
                tracing::info!("llm: {}", self.scrub(&e));
                None
            }
            Err(_) => {
                tracing::info!("llm: no answer within {:?}", self.cfg.deadline);
                None
            }
        };
        self.record(note.is_some());
        note
    }

    async fn attempts(&self, req: &Request) -> Result<String, String> {
        let body = self.body(req);
        let mut delays = ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(Duration::from_secs(5))
            .with_jitter()
            .with_max_times(MAX_ATTEMPTS - 1)
            .build();
        loop {
            match self.once(&body).await {
                Ok(text) => return Ok(text),
                Err(Fail::Stop(e)) => return Err(e),
                Err(Fail::Retry(e, after)) => match delays.next() {
                    // Retry-After wins when the server says how long; never past the
                    // deadline, which the caller enforces.
                    Some(d) => tokio::time::sleep(after.unwrap_or(d)).await,
                    None => return Err(format!("{e} (after {MAX_ATTEMPTS} attempts)")),
                },
            }
        }
    }

    async fn once(&self, body: &serde_json::Value) -> Result<String, Fail> {
        let r = self
            .http
            .post(format!("{}/chat/completions", self.base))
            .bearer_auth(&self.key.0)
            .json(body)
            .send()
            .await
            .map_err(|e| {
                let msg = self.scrub(&format!("chat/completions: {e}"));
                if e.is_timeout() || e.is_connect() {
                    Fail::Retry(msg, None)
                } else {
                    Fail::Stop(msg)
                }
            })?;
        let status = r.status().as_u16();
        let after = r
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| Duration::from_secs(s.min(60)));
        let bytes = read_bounded(r)
            .await
            .map_err(|e| Fail::Retry(self.scrub(&e), None))?;
        let text = String::from_utf8_lossy(&bytes);
        match status {
            200..=299 => {}
            // Out of quota (OpenAI's insufficient_quota; DeepSeek answers 402) does not
            // get better by asking again.
            429 if text.contains("insufficient_quota") || text.contains("quota") => {
                return Err(Fail::Stop("out of quota (HTTP 429)".into()));
            }
            429 => return Err(Fail::Retry("rate limited (HTTP 429)".into(), after)),
            500..=599 => return Err(Fail::Retry(format!("HTTP {status}"), after)),
            _ => return Err(Fail::Stop(format!("HTTP {status}"))),
        }
        #[derive(Deserialize)]
        struct Completion {
            choices: Vec<Choice>,
        }
        #[derive(Deserialize)]
        struct Choice {
            message: Message,
        }
        #[derive(Deserialize)]
        struct Message {
            content: Option<String>,
        }
        let c: Completion = serde_json::from_slice(&bytes)
            .map_err(|e| Fail::Stop(format!("not a chat completion: {e}")))?;
        c.choices
            .into_iter()
            .next()
            .and_then(|c| c.message.content)
            .ok_or_else(|| Fail::Stop("a chat completion without content".into()))
    }

    fn scrub(&self, s: &str) -> String {
        s.replace(&self.key.0, "***")
    }

    fn breaker_open(&self) -> bool {
        let Ok(mut b) = self.breaker.lock() else {
            return true;
        };
        match b.open_until {
            Some(t) if Instant::now() < t => true,
            Some(_) => {
                // Half-open: one call may try again.
                b.open_until = None;
                false
            }
            None => false,
        }
    }

    fn record(&self, ok: bool) {
        let Ok(mut b) = self.breaker.lock() else {
            return;
        };
        if ok {
            b.failures = 0;
            return;
        }
        b.failures += 1;
        if b.failures >= self.cfg.breaker_failures {
            b.failures = 0;
            b.open_until = Some(Instant::now() + self.cfg.breaker_cooldown);
            tracing::info!("llm: circuit open for {:?}", self.cfg.breaker_cooldown);
        }
    }
}

async fn read_bounded(mut r: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    while let Some(chunk) = r
        .chunk()
        .await
        .map_err(|e| format!("reading the answer: {e}"))?
    {
        if out.len() + chunk.len() > MAX_ANSWER {
            return Err(format!("an answer over {} KiB", MAX_ANSWER >> 10));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// The model's JSON, kept only if it names a playbook that fits, a known target, and
/// cites only (and at least one of) the evidence ids it was sent.
pub fn validate(content: &str, req: &Request) -> Option<Note> {
    let mut note: Note = serde_json::from_str(content.trim()).ok()?;
    let sent = |id: &String| req.evidence.iter().any(|e| &e.id == id);
    let ok = req.playbooks.contains(&note.playbook)
        && req.targets.contains(&note.target)
        && !note.cites.is_empty()
        && note.cites.len() <= req.evidence.len()
        && note.cites.iter().all(sent);
    if !ok {
        tracing::info!("llm: answer discarded (unknown playbook, target or evidence)");
        return None;
    }
    if let Some((at, _)) = note.reason.char_indices().nth(MAX_REASON) {
        note.reason.truncate(at);
    }
    note.reason.retain(|c| !c.is_control());
    Some(note)
}
