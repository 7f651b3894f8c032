//! notify: webhooks on proposals needing approval, executions, failures and audit
//! checkpoints, in vigil's generic JSON or the DingTalk, WeCom, Feishu and Slack robot
//! formats. Each webhook has its own task: retries with backoff, and a rate limit that
//! folds a storm into one summary.

use crate::config::NotifyTarget;
use base64::Engine as _;
use hmac::{KeyInit, Mac};
use serde::Serialize;
use std::collections::VecDeque;
use std::path::Path;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// approval, execution, failure or checkpoint.
    pub kind: String,
    pub title: String,
    pub text: String,
    pub data: serde_json::Value,
}

impl Event {
    pub fn new(kind: &str, title: impl Into<String>, text: impl Into<String>) -> Event {
        Event {
            kind: kind.into(),
            title: title.into(),
            text: text.into(),
            data: serde_json::Value::Null,
        }
    }
}

/// How often and how patiently webhooks are tried; shorter in tests.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    pub window: Duration,
    pub first_retry: Duration,
    pub attempts: u32,
}

impl Default for Pace {
    fn default() -> Self {
        Pace {
            window: Duration::from_secs(60),
            first_retry: Duration::from_millis(500),
            attempts: 4,
        }
    }
}

/// Reads a webhook's signing secret from the environment or a file only its owner can
/// read. The secret is never logged: errors name where it was looked for, not what.
pub fn load_secret(t: &NotifyTarget) -> Result<Option<String>, String> {
    if let Some(var) = &t.secret_env {
        return std::env::var(var)
            .map(|s| Some(s.trim().to_string()))
            .map_err(|_| format!("notify {}: environment variable {var} is not set", t.kind));
    }
    if let Some(path) = &t.secret_file {
        return read_private(path).map(Some);
    }
    Ok(None)
}

fn read_private(path: &Path) -> Result<String, String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(format!(
            "{}: a secret file must be readable by its owner only (chmod 600)",
            path.display()
        ));
    }
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn hmac_b64(key: &[u8], msg: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(msg);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The URL and body one webhook gets for one event, signed where the format asks for it.
pub fn request(
    t: &NotifyTarget,
    secret: Option<&str>,
    ev: &Event,
    host: &str,
    now_ms: i64,
) -> Result<(reqwest::Url, serde_json::Value), String> {
    let mut url =
        reqwest::Url::parse(&t.url).map_err(|e| format!("notify url \"{}\": {e}", t.url))?;
    let text = format!("[vigil@{host}] {}\n{}", ev.title, ev.text);
    let body = match t.kind.as_str() {
        // DingTalk: HMAC-SHA256 of "timestamp\nsecret" keyed by the secret, in the query.
        "dingtalk" => {
            if let Some(s) = secret {
                let sign = hmac_b64(s.as_bytes(), format!("{now_ms}\n{s}").as_bytes());
                url.query_pairs_mut()
                    .append_pair("timestamp", &now_ms.to_string())
                    .append_pair("sign", &sign);
            }
            serde_json::json!({"msgtype": "text", "text": {"content": text}})
        }
        "wecom" => serde_json::json!({"msgtype": "text", "text": {"content": text}}),
        // Feishu: HMAC-SHA256 keyed by "timestamp\nsecret" over nothing, in the body.
        "feishu" => {
            let mut b = serde_json::json!({"msg_type": "text", "content": {"text": text}});
            if let Some(s) = secret {
                let ts = now_ms / 1000;
                b["timestamp"] = serde_json::json!(ts.to_string());
                b["sign"] = serde_json::json!(hmac_b64(format!("{ts}\n{s}").as_bytes(), b""));
            }
            b
        }
        "slack" => serde_json::json!({"text": text}),
        _ => serde_json::json!({
            "source": "vigil",
            "host": host,
            "event": ev.kind,
            "title": ev.title,
            "text": ev.text,
            "data": ev.data,
            "ts": now_ms,
        }),
    };
    Ok((url, body))
}

/// The robots answer 200 with an error code in the body when they refuse a message.
fn refused(body: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    let code = v.get("errcode").or_else(|| v.get("code"))?.as_i64()?;
    (code != 0).then(|| {
        let msg = v
            .get("errmsg")
            .or_else(|| v.get("msg"))
            .and_then(|m| m.as_str())
            .unwrap_or("");
        format!("refused: code {code} {msg}")
    })
}

/// Sends to every configured webhook without ever blocking the caller.
#[derive(Clone)]
pub struct Notifier {
    txs: Vec<(Vec<String>, mpsc::Sender<Event>)>,
}

impl Notifier {
    /// One task per webhook. Problems with a webhook (a missing secret) come back as
    /// messages for the screen; the other webhooks still run.
    pub fn spawn(targets: &[NotifyTarget], host: &str, pace: Pace) -> (Notifier, Vec<String>) {
        let mut txs = Vec::new();
        let mut problems = Vec::new();
        for t in targets {
            let secret = match load_secret(t) {
                Ok(s) => s,
                Err(e) => {
                    problems.push(e);
                    continue;
                }
            };
            let (tx, rx) = mpsc::channel(256);
            tokio::spawn(deliver(t.clone(), secret, host.to_string(), pace, rx));
            txs.push((t.events.clone(), tx));
        }
        (Notifier { txs }, problems)
    }

    pub fn none() -> Notifier {
        Notifier { txs: Vec::new() }
    }

    pub fn send(&self, ev: Event) {
        for (events, tx) in &self.txs {
            if events.contains(&ev.kind) {
                // A full queue means the webhook is far behind: drop rather than block.
                let _ = tx.try_send(ev.clone());
            }
        }
    }
}

async fn deliver(
    t: NotifyTarget,
    secret: Option<String>,
    host: String,
    pace: Pace,
    mut rx: mpsc::Receiver<Event>,
) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("notify {}: no HTTP client: {e}", t.kind);
            return;
        }
    };
    let mut sent: VecDeque<Instant> = VecDeque::new();
    let mut held: Vec<Event> = Vec::new();
    loop {
        let flush_at = sent
            .front()
            .map(|&t0| t0 + pace.window)
            .filter(|_| !held.is_empty());
        let next = tokio::select! {
            ev = rx.recv() => match ev {
                Some(ev) => Some(ev),
                None => break,
            },
            _ = async { tokio::time::sleep_until(flush_at.unwrap_or_else(Instant::now)).await }, if flush_at.is_some() => None,
        };
        let now = Instant::now();
        while sent.front().is_some_and(|&t0| now >= t0 + pace.window) {
            sent.pop_front();
        }
        if let Some(ev) = next {
            held.push(ev);
        }
        if held.is_empty() || sent.len() >= t.per_minute.max(1) as usize {
            continue;
        }
        // Within the limit: one message, or one summary of everything held back.
        let ev = if held.len() == 1 {
            held.remove(0)
        } else {
            summary(std::mem::take(&mut held))
        };
        sent.push_back(now);
        post(&client, &t, secret.as_deref(), &ev, &host, pace).await;
    }
}

fn summary(held: Vec<Event>) -> Event {
    let n = held.len();
    let kind = if held.iter().any(|e| e.kind == "failure") {
        "failure"
    } else {
        held[0].kind.as_str()
    }
    .to_string();
    let mut text: Vec<String> = held
        .iter()
        .take(5)
        .map(|e| format!("• {}", e.title))
        .collect();
    if n > 5 {
        text.push(format!("… and {} more", n - 5));
    }
    Event {
        kind,
        title: format!("{n} events (rate limit: folded into one message)"),
        text: text.join("\n"),
        data: serde_json::json!({"folded": n}),
    }
}

async fn post(
    client: &reqwest::Client,
    t: &NotifyTarget,
    secret: Option<&str>,
    ev: &Event,
    host: &str,
    pace: Pace,
) {
    let mut wait = pace.first_retry;
    for attempt in 1..=pace.attempts {
        // Signed per attempt: the robots reject old timestamps.
        let (url, body) = match request(t, secret, ev, host, chrono::Utc::now().timestamp_millis())
        {
            Ok(r) => r,
            Err(e) => {
                tracing::error!("{e}");
                return;
            }
        };
        let outcome = match client.post(url).json(&body).send().await {
            Ok(r) if r.status().is_success() => {
                match refused(&r.text().await.unwrap_or_default()) {
                    None => return,
                    Some(why) => why,
                }
            }
            Ok(r) => format!("HTTP {}", r.status()),
            Err(e) => e.without_url().to_string(),
        };
        tracing::warn!(
            "notify {} attempt {attempt}/{}: {outcome}",
            t.kind,
            pace.attempts
        );
        if attempt < pace.attempts {
            tokio::time::sleep(wait).await;
            wait *= 2;
        }
    }
}
