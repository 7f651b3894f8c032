//! [huawei] in the config: prices from flavors, `vigil config check` naming a Huawei
//! target without a region or credentials, the AK/SK from the SDK's variables or a
//! 0600 file (a readable one refused), and the secret never shown by Debug or Display.

use assert_cmd::Command;
use std::os::unix::fs::PermissionsExt;
use vigil::config::{TargetKind, load_str};
use vigil::execute::huawei::credentials::{CredError, Credentials, Secret};
use vigil::plan::cost::Billing;

const SK: &str = "sk-0123456789abcdefSECRET";

fn secret_file(dir: &std::path::Path, mode: u32, text: &str) -> std::path::PathBuf {
    let p = dir.join("huawei.toml");
    std::fs::write(&p, text).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    p
}

fn config_text(creds: &std::path::Path, region: &str) -> String {
    format!(
        r#"
[huawei]
region = "{region}"
project_id = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
credentials_file = "{}"

[huawei.targets.web]
flavor = "x1.2u.4g"

[[huawei.flavors]]
name = "x1.2u.4g"
price_per_hour = 0.12
billing = "second"

[[huawei.flavors]]
name = "x1.4u.8g"
price_per_hour = 0.24

[[scale]]
name = "web"
kind = "huawei-asg"
capacity = 100.0
resize_to = {{ name = "x1.4u.8g", capacity = 200.0, price_per_hour = 0.0 }}
"#,
        creds.display()
    )
}

#[test]
fn flavor_prices_feed_the_targets_cost_fields() {
    let dir = tempfile::tempdir().unwrap();
    let creds = secret_file(
        dir.path(),
        0o600,
        &format!("ak = \"AKID\"\nsk = \"{SK}\"\n"),
    );
    let loaded = load_str(&config_text(&creds, "cn-north-4"), "c.toml");
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    let t = &loaded.config.scale[0];
    assert_eq!(t.kind, TargetKind::HuaweiAsGroup);
    assert_eq!((t.price_per_hour, t.billing), (0.12, Billing::Second));
    assert_eq!(t.resize_to.as_ref().unwrap().price_per_hour, 0.24);
    assert_eq!(
        loaded.config.huawei.flavor("x1.4u.8g").unwrap().billing,
        Billing::Hour
    );
}

#[test]
fn a_huawei_target_without_a_region_is_named_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let creds = secret_file(
        dir.path(),
        0o600,
        &format!("ak = \"AKID\"\nsk = \"{SK}\"\n"),
    );
    let loaded = load_str(&config_text(&creds, ""), "c.toml");
    let text: Vec<String> = loaded.problems.iter().map(|p| p.to_string()).collect();
    assert_eq!(
        text,
        [
            "c.toml:3: huawei.region: target \"web\" is on Huawei Cloud but no region is set (e.g. region = \"cn-north-4\")"
        ]
    );
}

#[test]
fn a_credentials_file_others_can_read_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let creds = secret_file(
        dir.path(),
        0o644,
        &format!("ak = \"AKID\"\nsk = \"{SK}\"\n"),
    );
    let err = Credentials::from_file(&creds).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: readable by others than its owner (mode 644): a credentials file must be the owner's only (chmod 600)",
            creds.display()
        )
    );
    // Group-readable is refused too.
    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o640)).unwrap();
    assert!(
        Credentials::from_file(&creds)
            .unwrap_err()
            .to_string()
            .contains("(mode 640)")
    );
    let loaded = load_str(&config_text(&creds, "cn-north-4"), "c.toml");
    assert_eq!(loaded.problems.len(), 1, "{:?}", loaded.problems);
    let p = loaded.problems[0].to_string();
    assert!(
        p.starts_with("c.toml:5: huawei.credentials_file: target \"web\" cannot be reached: "),
        "{p}"
    );
    assert!(!p.contains(SK));
}

#[test]
fn credentials_files_in_both_forms_and_their_mistakes() {
    let dir = tempfile::tempdir().unwrap();
    let bare = secret_file(
        dir.path(),
        0o600,
        &format!("ak = \"AKID\"\nsk = \"{SK}\"\n"),
    );
    let c = Credentials::from_file(&bare).unwrap();
    assert_eq!(c.ak(), "AKID");
    let basic = secret_file(
        dir.path(),
        0o600,
        &format!("[basic]\nak = \"AKID2\"\nsk = \"{SK}\"\nsecurity_token = \"tok\"\n"),
    );
    assert_eq!(Credentials::from_file(&basic).unwrap().ak(), "AKID2");
    let half = secret_file(dir.path(), 0o600, "ak = \"AKID\"\n");
    assert_eq!(
        Credentials::from_file(&half).unwrap_err(),
        CredError::File {
            path: half.display().to_string(),
            reason: "no sk = \"...\"".into()
        }
    );
    // A broken line is named by number: the parser's quote of it (the SK) is not kept.
    let broken = secret_file(dir.path(), 0o600, &format!("ak = \"AKID\"\nsk = {SK}\n"));
    let err = Credentials::from_file(&broken).unwrap_err().to_string();
    assert!(
        err.ends_with("line 2: not TOML with ak = \"...\" and sk = \"...\""),
        "{err}"
    );
    assert!(!err.contains(SK), "{err}");
    let missing = dir.path().join("nope.toml");
    assert!(
        Credentials::from_file(&missing)
            .unwrap_err()
            .to_string()
            .starts_with(&missing.display().to_string())
    );
}

#[test]
fn debug_and_display_never_show_the_secret() {
    let c = Credentials::new("HPUAEXAMPLEAK", SK).with_token("tok-SECRET-token");
    for text in [
        format!("{c:?}"),
        format!("{c}"),
        format!("{:?}", Secret::new(SK)),
        Secret::new(SK).to_string(),
    ] {
        assert!(!text.contains(SK) && !text.contains("tok-SECRET"), "{text}");
        assert!(!text.contains("HPUAEXAMPLEAK"), "the whole AK: {text}");
    }
    assert_eq!(format!("{c}"), "AK HPUA… (SK hidden)");
    assert_eq!(
        format!("{c:?}"),
        "Credentials { ak: \"HPUA…\", sk: ***, token: Some(\"***\") }"
    );
    assert_eq!(
        c.scrub(&format!("echo {SK} and tok-SECRET-token")),
        "echo *** and ***"
    );
}

fn check_cmd(dir: &std::path::Path, text: &str) -> Command {
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    let mut cmd = Command::cargo_bin("vigil").unwrap();
    cmd.args(["config", "check"])
        .arg(&path)
        .env_remove("HUAWEICLOUD_SDK_AK")
        .env_remove("HUAWEICLOUD_SDK_SK")
        .env_remove("HUAWEICLOUD_SDK_SECURITY_TOKEN")
        .env("XDG_CONFIG_HOME", dir)
        .env("XDG_STATE_HOME", dir)
        .env("XDG_DATA_HOME", dir);
    cmd
}

const NO_CREDS: &str = r#"[huawei]
region = "cn-north-4"
project_id = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"

[[scale]]
name = "web"
kind = "huawei-as-group"
"#;

#[test]
fn config_check_says_a_huawei_target_lacks_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let out = check_cmd(dir.path(), NO_CREDS)
        .assert()
        .code(1)
        .get_output()
        .clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("config.toml:1: huawei: target \"web\" cannot be reached: no Huawei Cloud credentials: set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK, or huawei.credentials_file (0600)"),
        "{err}"
    );
    // The SDK's variables are enough.
    check_cmd(dir.path(), NO_CREDS)
        .env("HUAWEICLOUD_SDK_AK", "AKID")
        .env("HUAWEICLOUD_SDK_SK", SK)
        .assert()
        .success();
    // Half of them is a clear problem too.
    let out = check_cmd(dir.path(), NO_CREDS)
        .env("HUAWEICLOUD_SDK_AK", "AKID")
        .assert()
        .code(1)
        .get_output()
        .clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("HUAWEICLOUD_SDK_AK is set but HUAWEICLOUD_SDK_SK is not"),
        "{err}"
    );
}
