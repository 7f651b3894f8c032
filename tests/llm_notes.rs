//! LLM notes on live incidents, on the real Docker engine with a local fake
//! chat-completions server: a good answer becomes the incident's note; an unknown
//! playbook, invalid JSON, a timeout and a 429 leave the incident without one. In every
//! case the heal runs by its rules while the question is still unanswered.

use axum::extract::State as AxState;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use vigil::collect::host::HostCollector;
use vigil::config::{Config, Mode};
use vigil::engine::{Command as Cmd, Engine, Snapshot, Source, SystemClock};
use vigil::protocol::{IncidentState, IncidentView};

mod common;
use common::{Cleanup, IMAGE, docker};

#[derive(Clone, Copy, PartialEq, Debug)]
enum Mode2 {
    Good,
    UnknownPlaybook,
    InvalidJson,
    /// Never answers: the client's own timeouts end the question.
    Silent,
    RateLimited,
}

#[derive(Clone)]
struct Fake {
    mode: Mode2,
    /// Closed: every question waits; the test opens it once the heal is over.
    open: tokio::sync::watch::Receiver<bool>,
    asked: Arc<AtomicUsize>,
    answered: Arc<AtomicUsize>,
    bodies: Arc<Mutex<Vec<serde_json::Value>>>,
}

fn completion(content: &str) -> Response {
    axum::Json(serde_json::json!({
        "id": "x", "object": "chat.completion", "model": "deepseek-chat",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]
    }))
    .into_response()
}

async fn chat(AxState(f): AxState<Fake>, body: String) -> Response {
    f.asked.fetch_add(1, Ordering::SeqCst);
    let sent: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    f.bodies.lock().unwrap().push(sent.clone());
    if f.mode == Mode2::Silent {
        std::future::pending::<()>().await;
    }
    let mut open = f.open.clone();
    let _ = open.wait_for(|o| *o).await;
    let user: serde_json::Value =
        serde_json::from_str(sent["messages"][1]["content"].as_str().unwrap_or("{}"))
            .unwrap_or_default();
    let r = match f.mode {
        Mode2::Good => completion(
            &serde_json::json!({
                "playbook": user["playbooks"][0],
                "target": user["targets"][0],
                "cites": [user["evidence"][0]["id"]],
                "reason": "It was killed from outside (code 137); a restart brings it back.",
            })
            .to_string(),
        ),
        Mode2::UnknownPlaybook => completion(
            &serde_json::json!({
                "playbook": "wipe-the-host",
                "target": user["targets"][0],
                "cites": [user["evidence"][0]["id"]],
                "reason": "x",
            })
            .to_string(),
        ),
        Mode2::InvalidJson => completion("the container crashed {playbook: restart"),
        Mode2::RateLimited => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "0")],
            r#"{"error":{"message":"Rate limit reached","type":"rate_limit"}}"#,
        )
            .into_response(),
        Mode2::Silent => unreachable!(),
    };
    f.answered.fetch_add(1, Ordering::SeqCst);
    r
}

async fn models() -> Response {
    axum::Json(
        serde_json::json!({"object": "list", "data": [{"id": "deepseek-chat", "object": "model"}]}),
    )
    .into_response()
}

async fn serve(mode: Mode2) -> (String, Fake, tokio::sync::watch::Sender<bool>) {
    let (open_tx, open) = tokio::sync::watch::channel(false);
    let fake = Fake {
        mode,
        open,
        asked: Arc::default(),
        answered: Arc::default(),
        bodies: Arc::default(),
    };
    let app = axum::Router::new()
        .route("/chat/completions", post(chat))
        .route("/models", get(models))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), fake, open_tx)
}

const KEY: &str = "sk-notes-0123456789abcdef";

/// The heal label of one test: its engine watches its own container only.
fn label(name: &str) -> String {
    format!("vigil.heal.{name}")
}

const QUICK_RESTART: &str = r#"
name = "crashed-container"
description = "restart at once"
trigger = "container-exited"
risk = "L1"

[[steps]]
do = "restart-container"

[verify]
metric = "container_up"
improves_by = 1
within = "20s"
"#;

/// A live config with everything it writes in `dir`, restarts allowed, `[llm]` on the
/// fake with its key in a 0600 file.
fn config(dir: &Path, name: &str, base: &str, timeouts: (u64, u64)) -> Config {
    use std::os::unix::fs::PermissionsExt;
    let mut c = Config {
        mode: Mode::Live,
        ..Config::default()
    };
    c.store.path = Some(dir.join("vigil.db"));
    c.audit.path = Some(dir.join("audit.jsonl"));
    c.daemon.brake = Some(dir.join("brake"));
    c.daemon.socket = Some(dir.join("vigil.sock"));
    c.log.dir = Some(dir.join("log"));
    c.audit.syslog = None;
    c.approve.auto = vec!["restart".into()];
    c.heal.host_disk = false;
    c.heal.label = label(name);
    c.playbooks.dir = Some(dir.join("playbooks"));
    std::fs::create_dir_all(dir.join("playbooks")).unwrap();
    std::fs::write(dir.join("playbooks/quick.toml"), QUICK_RESTART).unwrap();
    let key = dir.join("llm.key");
    std::fs::write(&key, KEY).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    c.llm.enabled = true;
    c.llm.base_url = base.to_string();
    c.llm.api_key_file = Some(key);
    c.llm.request_timeout = Duration::from_secs(timeouts.0);
    c.llm.deadline = Duration::from_secs(timeouts.1);
    c
}

/// Ticks (every 200 ms) and handles results until `pred` holds.
async fn until(
    e: &mut Engine,
    rx: &tokio::sync::watch::Receiver<Snapshot>,
    what: &str,
    secs: u64,
    pred: impl Fn(&Snapshot) -> bool,
) -> Snapshot {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut last = Instant::now() - Duration::from_secs(1);
    loop {
        if last.elapsed() >= Duration::from_millis(200) {
            e.tick().await;
            last = Instant::now();
        }
        e.pump(Duration::from_millis(100)).await;
        {
            let s = rx.borrow();
            if pred(&s) {
                return s.clone();
            }
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not within {secs} s; incidents: {:#?}; notices: {:?}",
            rx.borrow().incidents,
            rx.borrow().notices
        );
    }
}

fn resolved(s: &Snapshot, target: &str) -> Option<IncidentView> {
    s.incidents
        .iter()
        .find(|i| i.target == target && i.state == IncidentState::Resolved)
        .cloned()
}

/// A watched container, killed once the engine has seen it run; the snapshot when its
/// incident resolved.
async fn crash_and_heal(
    name: &str,
    e: &mut Engine,
    rx: &tokio::sync::watch::Receiver<Snapshot>,
) -> Snapshot {
    docker(&[
        "run",
        "-d",
        "--name",
        name,
        "--label",
        &format!("{}=1", label(name)),
        IMAGE,
    ]);
    until(e, rx, "listed", 30, |s| {
        s.containers.iter().any(|c| c.name == name && c.running())
    })
    .await;
    docker(&["kill", name]);
    until(e, rx, "resolved", 90, |s| resolved(s, name).is_some()).await
}

fn engine(c: Config) -> (Engine, tokio::sync::watch::Receiver<Snapshot>) {
    let (e, rx) = Engine::new(
        c,
        Arc::new(SystemClock),
        Source::Host(Box::new(HostCollector::proc())),
        Vec::new(),
    );
    e.start_watchers();
    (e, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_answer_becomes_the_incidents_note_and_changes_nothing_that_runs() {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("vln-good-{}", std::process::id());
    let _c = Cleanup(name.clone());
    let (base, fake, open) = serve(Mode2::Good).await;
    open.send_replace(true);
    let (mut e, rx) = engine(config(dir.path(), &name, &base, (5, 10)));
    crash_and_heal(&name, &mut e, &rx).await;
    let s = until(&mut e, &rx, "noted", 30, |s| {
        resolved(s, &name).is_some_and(|i| i.note.is_some())
    })
    .await;
    let i = resolved(&s, &name).unwrap();
    let n = i.note.clone().unwrap();
    assert_eq!(
        (n.playbook.as_str(), n.target.as_str(), n.model.as_str()),
        ("crashed-container", name.as_str(), "deepseek-chat")
    );
    assert_eq!(n.cites, ["container_up"]);
    assert_eq!(
        n.reason,
        "It was killed from outside (code 137); a restart brings it back."
    );
    // The playbook's own risk and steps, as without a note.
    assert_eq!(i.risk.as_deref(), Some("L1"));
    let steps: Vec<&str> = i.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(steps, ["restart-container"]);
    // What was asked: the playbooks that fit and the incident's target first.
    let sent = fake.bodies.lock().unwrap()[0].clone();
    let user: serde_json::Value =
        serde_json::from_str(sent["messages"][1]["content"].as_str().unwrap()).unwrap();
    assert_eq!(user["playbooks"], serde_json::json!(["crashed-container"]));
    assert_eq!(user["targets"][0], serde_json::json!(name));
    // The note is kept with the incident, and `vigil incidents --json` carries it.
    let kept = vigil::store::incidents::read_only(&dir.path().join("vigil.db"), 0).unwrap();
    assert_eq!(kept[0].note.as_ref(), Some(&n));
    // And the audit has what was advised, once.
    assert_eq!(
        notes_audited(dir.path()),
        [format!(
            "incident {}: deepseek-chat advises crashed-container on {name} (advice only): {}",
            i.id, n.reason
        )]
    );
    // `vigil incidents --json`, with no engine running, reads it from the store.
    drop(e);
    let json = incidents_json(dir.path());
    let shown = json["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == i.id.as_str())
        .cloned()
        .unwrap();
    let shown: vigil::protocol::IncidentNote =
        serde_json::from_value(shown["note"].clone()).unwrap();
    assert_eq!(shown, n);
}

/// `vigil incidents --json` as an operator runs it, on the test's store.
fn incidents_json(d: &Path) -> serde_json::Value {
    std::fs::write(
        d.join("config.toml"),
        format!(
            "[store]\npath = \"{p}/vigil.db\"\n[audit]\npath = \"{p}/audit.jsonl\"\nsyslog = \"\"\n\
             [daemon]\nsocket = \"{p}/vigil.sock\"\nbrake = \"{p}/brake\"\n[log]\ndir = \"{p}/log\"\n",
            p = d.display()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vigil"))
        .arg("--config")
        .arg(d.join("config.toml"))
        .args(["incidents", "--json"])
        .env("XDG_CONFIG_HOME", d.join("xdg-config"))
        .env("XDG_DATA_HOME", d.join("xdg-data"))
        .env("XDG_STATE_HOME", d.join("xdg-state"))
        .env("XDG_RUNTIME_DIR", d.join("xdg-run"))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn notes_audited(dir: &Path) -> Vec<String> {
    vigil::audit::read_records(&dir.join("audit.jsonl"))
        .unwrap()
        .into_iter()
        .filter(|(r, _)| r.kind == "llm-note")
        .map(|(r, _)| r.data["summary"].as_str().unwrap_or("").to_string())
        .collect()
}

/// A failing answer: the heal resolves while the question is still unanswered, and
/// once the answer has come (or the client gave up) there is no note.
async fn no_note(mode: Mode2, timeouts: (u64, u64), asks: usize) {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("vln-{:?}-{}", mode, std::process::id()).to_lowercase();
    let _c = Cleanup(name.clone());
    let (base, fake, open) = serve(mode).await;
    let (mut e, rx) = engine(config(dir.path(), &name, &base, timeouts));
    let s = crash_and_heal(&name, &mut e, &rx).await;
    assert_eq!(
        fake.answered.load(Ordering::SeqCst),
        0,
        "the heal resolved before any answer"
    );
    assert_eq!(resolved(&s, &name).unwrap().note, None);
    open.send_replace(true);
    // Every attempt the client makes is answered (the silent fake's run out instead);
    // then the answer has a moment to reach the incident, if it ever would.
    let answers = if mode == Mode2::Silent { 0 } else { asks };
    until(&mut e, &rx, "answered", 30, |_| {
        fake.asked.load(Ordering::SeqCst) >= asks && fake.answered.load(Ordering::SeqCst) >= answers
    })
    .await;
    let quiet = if mode == Mode2::Silent {
        timeouts.1 + 3
    } else {
        2
    };
    let settle = Instant::now() + Duration::from_secs(quiet);
    while Instant::now() < settle {
        e.pump(Duration::from_millis(200)).await;
    }
    let i = resolved(&rx.borrow(), &name).unwrap();
    assert_eq!(i.note, None);
    if mode != Mode2::Silent {
        // A 429 is asked again (Retry-After 0) up to three times; the rest once.
        assert_eq!(fake.asked.load(Ordering::SeqCst), asks);
    }
    let kept = vigil::store::incidents::read_only(&dir.path().join("vigil.db"), 0).unwrap();
    assert_eq!(kept[0].note, None);
    assert_eq!(notes_audited(dir.path()), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_playbook_leaves_no_note_and_the_heal_does_not_wait() {
    no_note(Mode2::UnknownPlaybook, (60, 90), 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_json_leaves_no_note_and_the_heal_does_not_wait() {
    no_note(Mode2::InvalidJson, (60, 90), 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_leaves_no_note_and_the_heal_does_not_wait() {
    no_note(Mode2::RateLimited, (60, 90), 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_leaves_no_note_and_the_heal_does_not_wait() {
    // One request at a time runs out after 1 s, all of them by the 3 s deadline.
    no_note(Mode2::Silent, (1, 3), 1).await;
}

fn llm_notices(s: &Snapshot) -> Vec<String> {
    s.notices
        .iter()
        .filter(|n| n.text.starts_with("llm: "))
        .map(|n| n.text.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_the_api_does_not_offer_is_a_warning_at_start_and_after_a_reload() {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("vln-model-{}", std::process::id());
    let (base, _fake, _open) = serve(Mode2::Good).await;
    let with = |model: &str| {
        let mut c = config(dir.path(), &name, &base, (5, 10));
        c.llm.model = model.into();
        c
    };
    let offers =
        |m: &str| format!("llm: model \"{m}\" is not offered by {base}; it offers: deepseek-chat");
    let (mut e, rx) = engine(with("deepseek-v9"));
    let s = until(&mut e, &rx, "warned", 30, |s| !llm_notices(s).is_empty()).await;
    assert_eq!(llm_notices(&s), [offers("deepseek-v9")]);
    // A reload checks again: another missing model is named ...
    e.command(Cmd::Reload {
        config: Box::new(with("deepseek-v10")),
        problems: vec![],
    });
    let s = until(&mut e, &rx, "warned again", 30, |s| {
        llm_notices(s) == [offers("deepseek-v10")]
    })
    .await;
    assert_eq!(llm_notices(&s), [offers("deepseek-v10")]);
    // ... and one the API offers clears the warning.
    e.command(Cmd::Reload {
        config: Box::new(with("deepseek-chat")),
        problems: vec![],
    });
    until(&mut e, &rx, "cleared", 30, |s| llm_notices(s).is_empty()).await;
}
