//! Webhooks against a local receiver that checks each format as its vendor documents
//! it, including the DingTalk and Feishu signatures; retries and the storm limit.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::post;
use base64::Engine as _;
use hmac::{KeyInit, Mac};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use vigil::config::NotifyTarget;
use vigil::notify::{Event, Notifier, Pace};

#[derive(Clone, Default)]
struct Seen {
    got: Arc<Mutex<Vec<(String, String, serde_json::Value)>>>,
    /// Per path: how many requests to fail before answering 200.
    fail_first: Arc<Mutex<HashMap<String, u32>>>,
}

async fn receive(
    State(seen): State<Seen>,
    Path(kind): Path<String>,
    RawQuery(q): RawQuery,
    body: String,
) -> (StatusCode, String) {
    {
        let mut f = seen.fail_first.lock().unwrap();
        if let Some(n) = f.get_mut(&kind)
            && *n > 0
        {
            *n -= 1;
            return (StatusCode::BAD_GATEWAY, "try later".into());
        }
    }
    let json: serde_json::Value = serde_json::from_str(&body).expect("a JSON body");
    seen.got
        .lock()
        .unwrap()
        .push((kind, q.unwrap_or_default(), json));
    (StatusCode::OK, r#"{"errcode":0,"errmsg":"ok"}"#.into())
}

async fn receiver(seen: Seen) -> String {
    let app = axum::Router::new()
        .route("/{kind}", post(receive))
        .with_state(seen);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn target(kind: &str, url: String) -> NotifyTarget {
    NotifyTarget {
        kind: kind.into(),
        url,
        ..NotifyTarget::default()
    }
}

fn fast() -> Pace {
    Pace {
        window: Duration::from_secs(1),
        first_retry: Duration::from_millis(50),
        attempts: 4,
    }
}

fn hmac_b64(key: &[u8], msg: &[u8]) -> String {
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    m.update(msg);
    base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes())
}

async fn wait_for(seen: &Seen, n: usize) -> Vec<(String, String, serde_json::Value)> {
    for _ in 0..100 {
        if seen.got.lock().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    seen.got.lock().unwrap().clone()
}

#[tokio::test]
async fn every_format_arrives_as_its_vendor_documents_it() {
    let seen = Seen::default();
    let base = receiver(seen.clone()).await;
    // SAFETY: set before any thread reads the environment in this test binary.
    unsafe {
        std::env::set_var("VIGIL_TEST_DING", "SECdingding");
        std::env::set_var("VIGIL_TEST_FEISHU", "feishu-secret");
    }
    let targets = vec![
        NotifyTarget {
            secret_env: Some("VIGIL_TEST_DING".into()),
            ..target("dingtalk", format!("{base}/dingtalk?access_token=abc"))
        },
        target("wecom", format!("{base}/wecom?key=k")),
        NotifyTarget {
            secret_env: Some("VIGIL_TEST_FEISHU".into()),
            ..target("feishu", format!("{base}/feishu"))
        },
        target("slack", format!("{base}/slack")),
        target("generic", format!("{base}/generic")),
    ];
    let (n, problems) = Notifier::spawn(&targets, "web-01", fast());
    assert!(problems.is_empty(), "{problems:?}");
    n.send(Event::new(
        "approval",
        "approval needed: web: 3 → 6 instances",
        "risk Low",
    ));
    let got = wait_for(&seen, 5).await;
    let by: HashMap<&str, (&str, &serde_json::Value)> = got
        .iter()
        .map(|(k, q, b)| (k.as_str(), (q.as_str(), b)))
        .collect();
    assert_eq!(by.len(), 5, "{got:?}");

    let (q, b) = by["dingtalk"];
    assert_eq!(b["msgtype"], "text");
    assert!(
        b["text"]["content"]
            .as_str()
            .unwrap()
            .contains("web: 3 → 6")
    );
    let params: HashMap<String, String> = url::form_urlencoded::parse(q.as_bytes())
        .into_owned()
        .collect();
    assert_eq!(params["access_token"], "abc");
    let ts = &params["timestamp"];
    assert_eq!(
        params["sign"],
        hmac_b64(b"SECdingding", format!("{ts}\nSECdingding").as_bytes()),
        "DingTalk: HMAC-SHA256(secret, timestamp + \\n + secret), base64"
    );

    let (_, b) = by["wecom"];
    assert_eq!(b["msgtype"], "text");
    assert!(
        b["text"]["content"]
            .as_str()
            .unwrap()
            .contains("approval needed")
    );

    let (_, b) = by["feishu"];
    assert_eq!(b["msg_type"], "text");
    assert!(b["content"]["text"].as_str().unwrap().contains("web-01"));
    let ts = b["timestamp"].as_str().unwrap();
    assert_eq!(
        b["sign"].as_str().unwrap(),
        hmac_b64(format!("{ts}\nfeishu-secret").as_bytes(), b""),
        "Feishu: HMAC-SHA256 keyed by timestamp + \\n + secret over nothing, base64"
    );

    let (_, b) = by["slack"];
    assert!(b["text"].as_str().unwrap().contains("approval needed"));

    let (_, b) = by["generic"];
    assert_eq!(b["event"], "approval");
    assert_eq!(b["host"], "web-01");
    // No secret ever travels in a body.
    for (_, _, b) in &got {
        let text = b.to_string();
        assert!(!text.contains("SECdingding") && !text.contains("feishu-secret"));
    }
}

#[tokio::test]
async fn a_failing_webhook_is_retried_and_a_storm_is_folded_into_one_summary() {
    let seen = Seen::default();
    seen.fail_first.lock().unwrap().insert("flaky".into(), 2);
    let base = receiver(seen.clone()).await;
    let flaky = target("generic", format!("{base}/flaky"));
    let storm = NotifyTarget {
        per_minute: 2,
        ..target("slack", format!("{base}/storm"))
    };
    let (n, _) = Notifier::spawn(&[flaky], "h", fast());
    n.send(Event::new(
        "failure",
        "failed: scale-out web",
        "docker down",
    ));
    let got = wait_for(&seen, 1).await;
    assert_eq!(got.len(), 1, "delivered on the third try");
    assert_eq!(got[0].2["title"], "failed: scale-out web");

    seen.got.lock().unwrap().clear();
    let (n, _) = Notifier::spawn(&[storm], "h", fast());
    for i in 0..6 {
        n.send(Event::new("failure", format!("failed #{i}"), ""));
    }
    let got = wait_for(&seen, 3).await;
    assert_eq!(
        got.len(),
        3,
        "two within the limit, then one summary: {got:?}"
    );
    let summary = got[2].2["text"].as_str().unwrap();
    assert!(summary.contains("4 events"), "{summary}");
    assert!(summary.contains("failed #5"), "{summary}");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(seen.got.lock().unwrap().len(), 3, "nothing more");
}

#[tokio::test]
async fn a_secret_file_others_can_read_is_refused_without_showing_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("ding.secret");
    std::fs::write(&f, "SECtopsecret\n").unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
    let t = NotifyTarget {
        secret_file: Some(f.clone()),
        ..target("dingtalk", "http://127.0.0.1:9/x".into())
    };
    let (_, problems) = Notifier::spawn(std::slice::from_ref(&t), "h", fast());
    assert_eq!(problems.len(), 1);
    assert!(problems[0].contains("chmod 600"), "{problems:?}");
    assert!(!problems[0].contains("SECtopsecret"));
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(
        vigil::notify::load_secret(&t).unwrap().as_deref(),
        Some("SECtopsecret")
    );
}
