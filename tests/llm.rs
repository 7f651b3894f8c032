//! The LLM client against a local fake chat-completions server (axum on 127.0.0.1):
//! a good answer is kept; an unknown playbook, invalid JSON, a timeout and a 429 fall
//! back to None within the deadline; secrets and addresses never reach the server.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use vigil::llm::{ApiKey, Client, Evidence, LlmConfig, Request};

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Good,
    UnknownPlaybook,
    InvalidJson,
    Slow,
    RateLimited,
    OutOfQuota,
}

#[derive(Clone)]
struct Fake {
    mode: Mode,
    log: Arc<Mutex<Vec<String>>>,
    auth: Arc<Mutex<Vec<String>>>,
}

fn completion(content: &str) -> Response {
    axum::Json(serde_json::json!({
        "id": "x", "object": "chat.completion", "model": "deepseek-chat",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]
    }))
    .into_response()
}

async fn chat(State(f): State<Fake>, headers: HeaderMap, body: String) -> Response {
    f.log.lock().unwrap().push(body);
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    f.auth.lock().unwrap().push(auth);
    match f.mode {
        Mode::Good => completion(
            r#"{"playbook":"crashed-container","target":"api-1","cites":["e1","e2"],"reason":"It exited with code 137 after memory rose."}"#,
        ),
        Mode::UnknownPlaybook => completion(
            r#"{"playbook":"rm-everything","target":"api-1","cites":["e1"],"reason":"x"}"#,
        ),
        Mode::InvalidJson => completion("I think the container crashed {playbook: restart"),
        Mode::Slow => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            completion("{}")
        }
        Mode::RateLimited => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "0")],
            r#"{"error":{"message":"Rate limit reached","type":"rate_limit"}}"#,
        )
            .into_response(),
        Mode::OutOfQuota => (
            StatusCode::TOO_MANY_REQUESTS,
            r#"{"error":{"message":"You exceeded your current quota","code":"insufficient_quota"}}"#,
        )
            .into_response(),
    }
}

async fn models() -> Response {
    axum::Json(serde_json::json!({"object": "list", "data": [
        {"id": "deepseek-chat", "object": "model"}, {"id": "deepseek-reasoner", "object": "model"}
    ]}))
    .into_response()
}

async fn serve(mode: Mode) -> (String, Fake) {
    let fake = Fake {
        mode,
        log: Arc::default(),
        auth: Arc::default(),
    };
    let app = axum::Router::new()
        .route("/chat/completions", post(chat))
        .route("/models", get(models))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), fake)
}

const KEY: &str = "sk-test-0123456789abcdef";

fn client(base: &str) -> Client {
    let cfg = LlmConfig {
        enabled: true,
        base_url: base.to_string(),
        deadline: Duration::from_secs(3),
        request_timeout: Duration::from_secs(1),
        ..LlmConfig::default()
    };
    Client::new(&cfg, ApiKey::new(KEY)).unwrap()
}

fn request() -> Request {
    Request {
        summary: "container api-1 exited (code 137) at 03:12; DB_PASSWORD=hunter2 in its env; peer 10.1.2.3 and fe80::1:2:3 dropped".into(),
        evidence: vec![
            Evidence { id: "e1".into(), text: "exit code 137 (SIGKILL), OOM killer".into() },
            Evidence { id: "e2".into(), text: "memory 97% for 10m; Authorization: Bearer abcdefghijklmnop1234 seen in log".into() },
        ],
        playbooks: vec!["crashed-container".into(), "memory-leak".into()],
        targets: vec!["api-1".into()],
    }
}

/// Every fallback case: None, and the call returned (the deadline is 3 s; the guard
/// here only stops a hung test).
async fn falls_back(mode: Mode) -> Fake {
    let (base, fake) = serve(mode).await;
    let c = client(&base);
    let got = tokio::time::timeout(Duration::from_secs(20), c.diagnose(&request()))
        .await
        .expect("diagnose must end by its own deadline");
    assert_eq!(got, None);
    fake
}

#[tokio::test]
async fn a_good_answer_is_kept() {
    let (base, fake) = serve(Mode::Good).await;
    let c = client(&base);
    c.check_model().await.unwrap();
    let note = c.diagnose(&request()).await.expect("a valid note");
    assert_eq!(note.playbook, "crashed-container");
    assert_eq!(note.target, "api-1");
    assert_eq!(note.cites, ["e1", "e2"]);
    assert_eq!(note.reason, "It exited with code 137 after memory rose.");
    let sent: serde_json::Value = serde_json::from_str(&fake.log.lock().unwrap()[0]).unwrap();
    assert_eq!(
        sent["response_format"],
        serde_json::json!({"type": "json_object"})
    );
    assert_eq!(sent["model"], "deepseek-chat");
    assert_eq!(fake.auth.lock().unwrap()[0], format!("Bearer {KEY}"));
}

#[tokio::test]
async fn a_renamed_model_is_reported() {
    let (base, _fake) = serve(Mode::Good).await;
    let cfg = LlmConfig {
        base_url: base,
        model: "deepseek-v9".into(),
        ..LlmConfig::default()
    };
    let c = Client::new(&cfg, ApiKey::new(KEY)).unwrap();
    let e = c.check_model().await.unwrap_err();
    assert!(
        e.starts_with("model \"deepseek-v9\" is not offered by"),
        "{e}"
    );
    assert!(
        e.ends_with("it offers: deepseek-chat, deepseek-reasoner"),
        "{e}"
    );
}

#[tokio::test]
async fn an_unknown_playbook_is_discarded() {
    falls_back(Mode::UnknownPlaybook).await;
}

#[tokio::test]
async fn invalid_json_is_discarded() {
    falls_back(Mode::InvalidJson).await;
}

#[tokio::test]
async fn a_timeout_falls_back() {
    falls_back(Mode::Slow).await;
}

#[tokio::test]
async fn a_429_is_retried_three_times_then_falls_back() {
    let fake = falls_back(Mode::RateLimited).await;
    assert_eq!(fake.log.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn out_of_quota_is_not_retried() {
    let fake = falls_back(Mode::OutOfQuota).await;
    assert_eq!(fake.log.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn the_breaker_opens_after_repeated_failures() {
    let (base, fake) = serve(Mode::InvalidJson).await;
    let c = client(&base);
    for _ in 0..5 {
        assert_eq!(c.diagnose(&request()).await, None);
    }
    // breaker_failures = 3: the 4th and 5th calls never reach the server.
    assert_eq!(fake.log.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn secrets_and_addresses_never_reach_the_server() {
    let (base, fake) = serve(Mode::Good).await;
    let c = client(&base);
    c.diagnose(&request()).await.expect("a valid note");
    let body = fake.log.lock().unwrap().join("\n");
    for leaked in [
        "hunter2",
        "10.1.2.3",
        "fe80::1:2:3",
        "abcdefghijklmnop1234",
        KEY,
    ] {
        assert!(
            !body.contains(leaked),
            "{leaked} reached the server: {body}"
        );
    }
    assert!(body.contains("DB_PASSWORD=[secret]"), "{body}");
    assert!(body.contains("peer [addr]"), "{body}");
    // The time of day is not an address.
    assert!(body.contains("03:12"), "{body}");
    // Nor does the key show in Debug.
    assert!(!format!("{c:?}").contains(KEY));
}

#[test]
fn the_key_file_must_be_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key");
    std::fs::write(&path, format!("{KEY}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let cfg = LlmConfig {
        api_key_file: Some(path.clone()),
        ..LlmConfig::default()
    };
    let e = ApiKey::load(&cfg).unwrap_err();
    assert!(
        e.ends_with("must be readable by its owner only (chmod 600)"),
        "{e}"
    );
    assert!(!e.contains(KEY));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let key = ApiKey::load(&cfg).unwrap();
    assert_eq!(format!("{key:?} {key}"), "*** ***");
}
