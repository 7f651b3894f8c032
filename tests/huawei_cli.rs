//! `vigil cloud huawei request`: --dry-run prints the SDK's own canonical request,
//! string to sign, signed headers and Authorization (checked against the vectors made
//! by huaweicloudsdkcore); without it the request goes to the (fake) cloud.

mod huawei_fake;

use assert_cmd::Command;
use serde::Deserialize;

#[derive(Deserialize)]
struct File {
    ak: String,
    sk: String,
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    name: String,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body_hex: String,
    expected: Expected,
}

#[derive(Deserialize)]
struct Expected {
    canonical_request: String,
    string_to_sign: String,
    authorization: String,
}

fn vector(name: &str) -> (String, String, Vector) {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/huawei/vectors.json"
    ))
    .unwrap();
    let f: File = serde_json::from_str(&text).unwrap();
    let v = f.vectors.into_iter().find(|v| v.name == name).unwrap();
    (f.ak, f.sk, v)
}

/// The binary with a config of its own and no AK/SK but the ones a test gives.
fn vigil(dir: &std::path::Path, config: &str) -> Command {
    let cfg = dir.join("config.toml");
    std::fs::write(&cfg, config).unwrap();
    let mut cmd = Command::cargo_bin("vigil").unwrap();
    cmd.arg("--config")
        .arg(&cfg)
        .env_remove("HUAWEICLOUD_SDK_AK")
        .env_remove("HUAWEICLOUD_SDK_SK")
        .env_remove("HUAWEICLOUD_SDK_SECURITY_TOKEN")
        .env("XDG_CONFIG_HOME", dir)
        .env("XDG_STATE_HOME", dir)
        .env("XDG_DATA_HOME", dir)
        .env("XDG_RUNTIME_DIR", dir);
    cmd
}

fn date_of(v: &Vector) -> String {
    v.headers
        .iter()
        .find(|(k, _)| k == "X-Sdk-Date")
        .map(|(_, d)| d.clone())
        .unwrap()
}

#[test]
fn dry_run_prints_every_step_as_the_sdk_signs_it() {
    let dir = tempfile::tempdir().unwrap();
    let (ak, sk, v) = vector("put-desired-json");
    let body = dir.path().join("body.json");
    std::fs::write(&body, hex::decode(&v.body_hex).unwrap()).unwrap();
    let out = vigil(dir.path(), "")
        .env("HUAWEICLOUD_SDK_AK", &ak)
        .env("HUAWEICLOUD_SDK_SK", &sk)
        .args([
            "cloud",
            "huawei",
            "request",
            "--dry-run",
            "--region",
            "cn-north-4",
        ])
        .arg("--body")
        .arg(&body)
        .args(["--date", &date_of(&v), "PUT", &v.path])
        .assert()
        .success()
        .get_output()
        .clone();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let expected = format!(
        "canonical request:\n{}\n\nstring to sign:\n{}\n\nsigned headers:\n\
         Content-Type: application/json;charset=UTF-8\nHost: as.cn-north-4.myhuaweicloud.com\n\
         X-Sdk-Date: {}\n\nAuthorization: {}\n\nPUT https://as.cn-north-4.myhuaweicloud.com{}\n",
        v.expected.canonical_request,
        v.expected.string_to_sign,
        date_of(&v),
        v.expected.authorization,
        v.path
    );
    assert_eq!(stdout, expected);
    assert!(!stdout.contains(&sk));
}

#[test]
fn dry_run_with_unicode_and_repeated_query_keys_matches_the_sdk() {
    let dir = tempfile::tempdir().unwrap();
    let (ak, sk, v) = vector("unicode-keys-and-values");
    let q: Vec<String> = v
        .query
        .iter()
        .map(|(k, val)| format!("{k}={val}"))
        .collect();
    let target = format!("{}?{}", v.path, q.join("&"));
    let out = vigil(
        dir.path(),
        "[huawei]\nendpoint = \"https://as.cn-north-4.myhuaweicloud.com\"\n",
    )
    .env("HUAWEICLOUD_SDK_AK", &ak)
    .env("HUAWEICLOUD_SDK_SK", &sk)
    .args([
        "cloud",
        "huawei",
        "request",
        "--dry-run",
        "--date",
        &date_of(&v),
        "GET",
        &target,
    ])
    .assert()
    .success()
    .get_output()
    .clone();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains(&format!("Authorization: {}\n", v.expected.authorization)),
        "{stdout}"
    );
    assert!(stdout.contains(&v.expected.canonical_request), "{stdout}");
}

#[test]
fn bad_arguments_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = vigil(dir.path(), "[huawei]\nregion = \"cn-north-4\"\n")
            .env("HUAWEICLOUD_SDK_AK", "AK")
            .env("HUAWEICLOUD_SDK_SK", "SK-secret-value")
            .args(["cloud", "huawei", "request", "--dry-run"])
            .args(args)
            .assert()
            .failure()
            .get_output()
            .clone();
        String::from_utf8(out.stderr).unwrap()
    };
    let e = run(&["--date", "yesterday", "GET", "/v1/x"]);
    assert!(
        e.contains("--date: like 20260102T030405Z (UTC), got \"yesterday\""),
        "{e}"
    );
    let e = run(&["GET", "v1/x"]);
    assert!(
        e.contains("PATH: must start with \"/\", got \"v1/x\""),
        "{e}"
    );
    let e = run(&["--body", "/nonexistent/body.json", "PUT", "/v1/x"]);
    assert!(e.contains("--body /nonexistent/body.json: "), "{e}");
    let out = vigil(dir.path(), "[huawei]\nregion = \"cn-north-4\"\n")
        .args(["cloud", "huawei", "request", "--dry-run", "GET", "/v1/x"])
        .assert()
        .failure()
        .get_output()
        .clone();
    let e = String::from_utf8(out.stderr).unwrap();
    assert!(
        e.contains("no Huawei Cloud credentials: set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_dry_run_the_request_is_sent_and_answered() {
    let fake = huawei_fake::start().await;
    fake.add_group("g-1", "web", 1, 5, 2, 0);
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[huawei]\nendpoint = \"{}\"\nproject_id = \"{}\"\n",
        fake.url(),
        huawei_fake::PROJECT
    );
    let d = dir.path().to_path_buf();
    let (ok, refused) = tokio::task::spawn_blocking(move || {
        let ok = vigil(&d, &config)
            .env("HUAWEICLOUD_SDK_AK", huawei_fake::AK)
            .env("HUAWEICLOUD_SDK_SK", huawei_fake::SK)
            .args(["cloud", "huawei", "request", "GET"])
            .arg("/autoscaling-api/v1/{project_id}/scaling_group?limit=10")
            .assert()
            .success()
            .get_output()
            .clone();
        let refused = vigil(&d, &config)
            .env("HUAWEICLOUD_SDK_AK", huawei_fake::AK)
            .env("HUAWEICLOUD_SDK_SK", "a-wrong-secret")
            .args(["cloud", "huawei", "request", "GET"])
            .arg("/autoscaling-api/v1/{project_id}/scaling_group")
            .assert()
            .code(1)
            .get_output()
            .clone();
        (ok, refused)
    })
    .await
    .unwrap();
    let stdout = String::from_utf8(ok.stdout).unwrap();
    assert!(
        stdout.starts_with("HTTP 200 (request id fake-request-0001)\n{"),
        "{stdout}"
    );
    let body: serde_json::Value = serde_json::from_str(stdout.split_once('\n').unwrap().1).unwrap();
    assert_eq!(body["scaling_groups"][0]["scaling_group_name"], "web");
    let stderr = String::from_utf8(refused.stderr).unwrap();
    assert!(
        stderr.starts_with("Huawei Cloud refused the AK/SK signature (AS 401 APIGW.0301"),
        "{stderr}"
    );
    assert!(!stderr.contains("a-wrong-secret"));
    assert_eq!(fake.state().log.len(), 2);
    assert_eq!(fake.state().log[0].query, "limit=10");
}
