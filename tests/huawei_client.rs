//! The Huawei Cloud client against the local fake (tests/huawei_fake): signatures
//! verified on every request, a change of the expected number through its activity,
//! throttling and 5xx retried, a lost answer reconciled without a second change, and
//! every documented error shown readably — never with the secret key in it.

mod huawei_fake;

use axum::http::Method;
use huawei_fake::{AK, Fault, PROJECT, SK};
use std::time::Duration;
use vigil::config::HuaweiConfig;
use vigil::execute::huawei::autoscaling::Desired;
use vigil::execute::huawei::client::{ApiError, Client};
use vigil::execute::huawei::credentials::Credentials;
use vigil::execute::huawei::ecs::Resize;
use vigil::execute::huawei::errors::Meaning;

const GROUP: &str = "9d1f7c2a-5b3e-4c6d-8e9f-0a1b2c3d4e5f";

fn cfg(url: &str) -> HuaweiConfig {
    HuaweiConfig {
        region: "cn-north-4".into(),
        project_id: PROJECT.into(),
        endpoint: Some(url.into()),
        request_timeout: Duration::from_millis(800),
        retry_deadline: Duration::from_secs(10),
        poll: Duration::from_millis(50),
        ..HuaweiConfig::default()
    }
}

fn client(url: &str, sk: &str) -> Client {
    Client::new(&cfg(url), Credentials::new(AK, sk))
        .unwrap()
        .with_backoff(Duration::from_millis(20), Duration::from_millis(200))
}

async fn until_done(c: &Client, group: &str) -> vigil::execute::huawei::autoscaling::Activity {
    for _ in 0..200 {
        let a = c.activities(group, 5).await.unwrap();
        if let Some(a) = a.first()
            && !a.running()
        {
            return a.clone();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the scaling activity never finished");
}

#[tokio::test]
async fn set_desired_runs_an_activity_to_success() {
    let fake = huawei_fake::start().await;
    fake.add_group(GROUP, "web", 1, 5, 2, 0);
    let c = client(&fake.url(), SK);

    let groups = c.list_groups(Some("web")).await.unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].scaling_group_id, GROUP);
    assert_eq!(groups[0].desire_instance_number, 2);

    let r = c.set_desired(GROUP, 3).await.unwrap();
    assert!(
        matches!(r, Desired::Requested(ref g) if g.desire_instance_number == 2),
        "{r:?}"
    );
    // While it runs: one instance joining, the activity DOING.
    let states: Vec<String> = c
        .list_instances(GROUP)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.life_cycle_state)
        .collect();
    assert_eq!(states, ["INSERVICE", "INSERVICE", "PENDING"]);
    assert_eq!(c.activities(GROUP, 5).await.unwrap()[0].status, "DOING");

    let a = until_done(&c, GROUP).await;
    assert_eq!(a.status, "SUCCESS");
    assert_eq!(a.desire_value, Some(3));
    assert_eq!(a.instance_value, Some(2));
    assert_eq!(
        vigil::execute::huawei::autoscaling::listed(&a.instance_added_list).len(),
        1
    );
    let inst = c.list_instances(GROUP).await.unwrap();
    assert_eq!(inst.iter().filter(|i| i.in_service()).count(), 3);
    let g = c.show_group(GROUP).await.unwrap();
    assert_eq!(
        (g.desire_instance_number, g.current_instance_number),
        (3, 3)
    );

    // Asking again for what the group already wants sends nothing.
    let r = c.set_desired(GROUP, 3).await.unwrap();
    assert!(matches!(r, Desired::Unchanged(_)), "{r:?}");
    assert_eq!(fake.state().count("PUT", "/scaling_group/"), 1);
}

#[tokio::test]
async fn a_bad_signature_is_refused_as_the_gateway_refuses_it() {
    let fake = huawei_fake::start().await;
    fake.add_group(GROUP, "web", 1, 5, 2, 0);
    let wrong = "not-the-secret-key-0000";
    let c = client(&fake.url(), wrong);
    let err = c.show_group(GROUP).await.unwrap_err();
    let ApiError::Api(f) = &err else {
        panic!("expected the gateway's refusal, got {err:?}")
    };
    assert_eq!((f.status, f.code.as_str()), (401, "APIGW.0301"));
    assert_eq!(
        f.message,
        "Incorrect IAM authentication information: verify aksk signature fail"
    );
    assert_eq!(f.request_id.as_deref(), Some("fake-request-0001"));
    assert_eq!(f.meaning(), Meaning::Signature);
    let text = err.to_string();
    assert!(
        text.starts_with("Huawei Cloud refused the AK/SK signature (AS 401 APIGW.0301:"),
        "{text}"
    );
    assert!(text.contains("HUAWEICLOUD_SDK_AK"), "{text}");
    assert!(!text.contains(wrong) && !text.contains(SK), "{text}");
    // Refused at once: a signature does not get better by trying again.
    assert_eq!(fake.state().log.len(), 1);

    // A request signed right but changed on the way (another body) is refused too.
    let good = client(&fake.url(), SK);
    let mut p = good
        .prepare(
            "PUT",
            &format!("/autoscaling-api/v1/{PROJECT}/scaling_group/{GROUP}"),
            &[],
            Some(br#"{"desire_instance_number": 3}"#.to_vec()),
            &[],
        )
        .unwrap();
    p.body = br#"{"desire_instance_number": 5}"#.to_vec();
    let err = good.send(&p).await.unwrap_err();
    assert_eq!(err.meaning(), Some(Meaning::Signature), "{err}");
    assert_eq!(fake.state().groups[GROUP].desire, 2);

    // No Authorization at all.
    let resp = reqwest::get(format!(
        "{}/autoscaling-api/v1/{PROJECT}/scaling_group",
        fake.url()
    ))
    .await
    .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error_code"], "APIGW.0301");
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried_with_backoff() {
    let fake = huawei_fake::start().await;
    fake.add_group(GROUP, "web", 1, 5, 2, 0);
    fake.fault(Some(Method::GET), Fault::Throttle);
    fake.fault(Some(Method::GET), Fault::Throttle);
    fake.fault(Some(Method::GET), Fault::Fail);
    let c = client(&fake.url(), SK);
    let g = c.show_group(GROUP).await.unwrap();
    assert_eq!(g.scaling_group_name, "web");
    let statuses: Vec<u16> = fake.state().log.iter().map(|l| l.status).collect();
    assert_eq!(statuses, [429, 429, 500, 200]);
}

#[tokio::test]
async fn throttling_past_the_deadline_gives_up_and_says_why() {
    let fake = huawei_fake::start().await;
    fake.add_group(GROUP, "web", 1, 5, 2, 0);
    for _ in 0..200 {
        fake.fault(None, Fault::Throttle);
    }
    let mut conf = cfg(&fake.url());
    conf.retry_deadline = Duration::from_millis(300);
    let c = Client::new(&conf, Credentials::new(AK, SK))
        .unwrap()
        .with_backoff(Duration::from_millis(20), Duration::from_millis(50));
    let err = c.show_group(GROUP).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ApiError::Deadline { .. }), "{err:?}");
    assert!(text.contains("still failing after"), "{text}");
    assert!(
        text.contains("throttled by Huawei Cloud (AS 429 APIGW.0308"),
        "{text}"
    );
}

#[tokio::test]
async fn a_lost_answer_is_reconciled_without_a_second_change() {
    let fake = huawei_fake::start().await;
    fake.add_group(GROUP, "web", 1, 5, 2, 0);
    fake.fault(Some(Method::PUT), Fault::Drop);
    let c = client(&fake.url(), SK);
    let r = c.set_desired(GROUP, 4).await.unwrap();
    assert!(matches!(r, Desired::Reconciled(_)), "{r:?}");
    assert_eq!(
        fake.state().count("PUT", "/scaling_group/"),
        1,
        "the change was sent again"
    );
    let a = until_done(&c, GROUP).await;
    assert_eq!((a.status.as_str(), a.desire_value), ("SUCCESS", Some(4)));
}

#[tokio::test]
async fn a_5xx_on_the_change_is_retried_only_after_reading_the_group() {
    let fake = huawei_fake::start().await;
    fake.add_group(GROUP, "web", 1, 5, 2, 0);
    fake.fault(Some(Method::PUT), Fault::Fail);
    let c = client(&fake.url(), SK);
    let r = c.set_desired(GROUP, 3).await.unwrap();
    assert!(matches!(r, Desired::Requested(_)), "{r:?}");
    let log: Vec<(String, u16)> = fake
        .state()
        .log
        .iter()
        .map(|l| (l.method.clone(), l.status))
        .collect();
    // read, change (500), read (not applied), change again.
    assert_eq!(
        log,
        [
            ("GET".to_string(), 200),
            ("PUT".to_string(), 500),
            ("GET".to_string(), 200),
            ("PUT".to_string(), 200)
        ]
    );
}

#[tokio::test]
async fn out_of_bounds_is_refused_with_the_bounds() {
    let fake = huawei_fake::start().await;
    fake.add_group(GROUP, "web", 1, 5, 2, 0);
    let c = client(&fake.url(), SK);
    let err = c.set_desired(GROUP, 9).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "AS group web: 9 instances is outside its bounds (min 1, max 5); change the group's min/max or the proposal"
    );
    assert_eq!(fake.state().count("PUT", "/scaling_group/"), 0);

    // The cloud's own refusal reads the same way, bounds included (max lowered after
    // vigil read the group).
    fake.fault(
        Some(Method::PUT),
        Fault::Refuse(400, "AS.2005".into(), "The expected number cannot be less than the minimum number of instances or greater than the maximum number of instances.".into()),
    );
    let err = c.set_desired(GROUP, 4).await.unwrap_err();
    assert!(
        matches!(
            err,
            ApiError::Bounds {
                wanted: 4,
                min: 1,
                max: 5,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_cooldown_is_waited_out() {
    let fake = huawei_fake::start().await;
    fake.add_group(GROUP, "web", 1, 5, 2, 1);
    fake.state().apply_after = Duration::from_millis(50);
    let c = client(&fake.url(), SK);
    c.set_desired(GROUP, 3).await.unwrap();
    until_done(&c, GROUP).await;
    // Now in a 1 s cooldown: the next change is refused with AS.0026, then accepted.
    let r = c.set_desired(GROUP, 4).await.unwrap();
    assert!(matches!(r, Desired::Requested(_)), "{r:?}");
    let refused = fake
        .state()
        .log
        .iter()
        .filter(|l| l.method == "PUT" && l.status == 400)
        .count();
    assert!(refused >= 1, "no cooldown refusal seen");
    assert_eq!(fake.state().groups[GROUP].desire, 4);
}

#[tokio::test]
async fn quota_and_permission_errors_stop_at_once_and_say_what_is_missing() {
    let fake = huawei_fake::start().await;
    fake.add_group(GROUP, "web", 1, 5, 2, 0);
    let c = client(&fake.url(), SK);
    fake.fault(
        Some(Method::PUT),
        Fault::Refuse(
            403,
            "AS.0031".into(),
            "Policy doesn't allow [as:groups:update] to be performed.".into(),
        ),
    );
    let err = c.set_desired(GROUP, 3).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "the IAM user may not do this: permission as:groups:update is missing (AS 403 AS.0031: Policy doesn't allow [as:groups:update] to be performed., request id fake-request-0001); add it to the user's policy"
    );
    fake.fault(
        Some(Method::PUT),
        Fault::Refuse(
            400,
            "AS.2040".into(),
            "The instance quota is insufficient.".into(),
        ),
    );
    let err = c.set_desired(GROUP, 3).await.unwrap_err();
    assert_eq!(err.meaning(), Some(Meaning::Quota));
    assert!(
        err.to_string()
            .starts_with("a quota is used up (AS 400 AS.2040: The instance quota is insufficient."),
        "{err}"
    );
    assert_eq!(fake.state().count("PUT", "/scaling_group/"), 2);
    assert_eq!(fake.state().groups[GROUP].desire, 2);
}

#[tokio::test]
async fn an_oversized_answer_is_refused_not_read() {
    let fake = huawei_fake::start().await;
    fake.add_group(GROUP, "web", 1, 5, 2, 0);
    fake.fault(Some(Method::GET), Fault::Huge);
    let c = client(&fake.url(), SK);
    let err = c.show_group(GROUP).await.unwrap_err();
    assert!(
        matches!(err, ApiError::TooLarge { limit: 1048576, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn ecs_resize_polls_its_job_and_create_is_idempotent() {
    let fake = huawei_fake::start().await;
    fake.add_server("srv-db", "db", "ACTIVE", "s6.large.2");
    let c = client(&fake.url(), SK);
    let s = c.show_server("srv-db").await.unwrap();
    assert_eq!(
        (
            s.status.as_str(),
            s.flavor.id.as_str(),
            s.flavor.vcpus.as_str()
        ),
        ("ACTIVE", "s6.large.2", "2")
    );
    let f = c.show_flavor("c7.xlarge.2").await.unwrap();
    assert_eq!((f.vcpus.as_str(), f.ram), ("4", 8192));

    fake.fault(Some(Method::POST), Fault::Throttle);
    let Resize::Job(job) = c.resize("srv-db", "c7.xlarge.2").await.unwrap() else {
        panic!("no job")
    };
    assert_eq!(c.show_server("srv-db").await.unwrap().status, "RESIZE");
    let mut status = String::new();
    for _ in 0..100 {
        status = c.job(&job).await.unwrap().status;
        if status == "SUCCESS" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(status, "SUCCESS");
    let s = c.show_server("srv-db").await.unwrap();
    assert_eq!(
        (s.status.as_str(), s.flavor.id.as_str()),
        ("ACTIVE", "c7.xlarge.2")
    );
    assert!(matches!(
        c.resize("srv-db", "c7.xlarge.2").await.unwrap(),
        Resize::Unchanged(_)
    ));

    let body =
        serde_json::json!({"server": {"name": "web", "flavorRef": "s6.large.2", "count": 2}});
    let a = c.create_servers(&body, "vigil-web-7").await.unwrap();
    let b = c.create_servers(&body, "vigil-web-7").await.unwrap();
    assert_eq!(a, b);
    assert_eq!(a.server_ids.len(), 2);
    assert_eq!(
        fake.state().servers.len(),
        3,
        "a repeated create made more servers"
    );
}

#[tokio::test]
async fn errors_never_carry_the_secret_key() {
    let fake = huawei_fake::start().await;
    // A service that echoes what it was sent, secret included, is scrubbed.
    fake.add_group(GROUP, "web", 1, 5, 2, 0);
    fake.fault(
        None,
        Fault::Refuse(
            400,
            "AS.0022".into(),
            format!("Request body error near sk={SK}"),
        ),
    );
    let c = client(&fake.url(), SK);
    let err = c.show_group(GROUP).await.unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(!text.contains(SK), "{text}");
    assert!(text.contains("Request body error near sk=***"), "{text}");
    // Nothing listens here: a connection error does not show it either.
    let mut conf = cfg("http://127.0.0.1:9");
    conf.retry_deadline = Duration::from_millis(200);
    let dead = Client::new(&conf, Credentials::new(AK, SK)).unwrap();
    let err = dead.show_group(GROUP).await.unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(!text.contains(SK), "{text}");
}

#[tokio::test]
async fn no_error_of_any_kind_shows_the_secret() {
    let fake = huawei_fake::start().await;
    fake.add_group(GROUP, "web", 1, 5, 2, 0);
    let c = client(&fake.url(), SK);
    let mut errors: Vec<String> = Vec::new();
    let mut keep = |e: &dyn std::fmt::Debug, d: String| errors.push(format!("{d} {e:?}"));

    // Api, echoing the secret.
    fake.fault(
        None,
        Fault::Refuse(400, "AS.0022".into(), format!("bad {SK}")),
    );
    let e = c.show_group(GROUP).await.unwrap_err();
    keep(&e, e.to_string());
    // TooLarge.
    fake.fault(None, Fault::Huge);
    let e = c.show_group(GROUP).await.unwrap_err();
    assert!(matches!(e, ApiError::TooLarge { .. }));
    keep(&e, e.to_string());
    // Decode (the body quotes the secret).
    fake.fault(None, Fault::Garbage);
    let e = c.show_group(GROUP).await.unwrap_err();
    assert!(matches!(e, ApiError::Decode { .. }), "{e:?}");
    keep(&e, e.to_string());
    // Lost.
    fake.fault(None, Fault::Drop);
    let p = c
        .prepare(
            "GET",
            &format!("/autoscaling-api/v1/{PROJECT}/scaling_group/{GROUP}"),
            &[],
            None,
            &[],
        )
        .unwrap();
    let e = c.send(&p).await.unwrap_err();
    assert!(matches!(e, ApiError::Lost { .. }), "{e:?}");
    keep(&e, e.to_string());
    // Bounds.
    let e = c.set_desired(GROUP, 50).await.unwrap_err();
    keep(&e, e.to_string());
    // Deadline around a throttle.
    let mut conf = cfg(&fake.url());
    conf.retry_deadline = Duration::from_millis(100);
    let short = Client::new(&conf, Credentials::new(AK, SK))
        .unwrap()
        .with_backoff(Duration::from_millis(20), Duration::from_millis(40));
    for _ in 0..50 {
        fake.fault(None, Fault::Throttle);
    }
    let e = short.show_group(GROUP).await.unwrap_err();
    assert!(matches!(e, ApiError::Deadline { .. }));
    keep(&e, e.to_string());
    fake.state().faults.clear();
    // Connect.
    conf.endpoint = Some("http://127.0.0.1:9".into());
    let dead = Client::new(&conf, Credentials::new(AK, SK)).unwrap();
    let e = dead.show_group(GROUP).await.unwrap_err();
    keep(&e, e.to_string());
    // Setup.
    conf.endpoint = Some("not a url".into());
    let e = Client::new(&conf, Credentials::new(AK, SK)).err().unwrap();
    keep(&e, e.to_string());
    // Signature.
    let e = client(&fake.url(), "wrong")
        .show_group(GROUP)
        .await
        .unwrap_err();
    keep(&e, e.to_string());

    assert_eq!(errors.len(), 9);
    for text in &errors {
        assert!(!text.contains(SK), "{text}");
    }
}

#[tokio::test]
async fn the_cloud_saying_unchanged_is_success() {
    let fake = huawei_fake::start().await;
    fake.add_group(GROUP, "web", 1, 5, 2, 0);
    fake.fault(
        Some(Method::PUT),
        Fault::Refuse(
            400,
            "AS.2xxx".into(),
            "The expected number of instances is unchanged.".into(),
        ),
    );
    let c = client(&fake.url(), SK);
    let r = c.set_desired(GROUP, 3).await.unwrap();
    assert!(matches!(r, Desired::Unchanged(_)), "{r:?}");
}

#[test]
fn both_documented_error_bodies_and_a_bare_one_are_read() {
    use vigil::execute::huawei::errors::Fault as F;
    let g = F::parse("AS", 401, br#"{"error_code":"APIGW.0301","error_msg":"Incorrect IAM authentication information: verify aksk signature fail","request_id":"r1"}"#, None);
    assert_eq!(
        (g.code.as_str(), g.request_id.as_deref(), g.meaning()),
        ("APIGW.0301", Some("r1"), Meaning::Signature)
    );
    let s = F::parse("AS", 400, br#"{"error":{"code":"AS.0026","message":"Scaling action is not allowed in the cooling duration."}}"#, Some("r2".into()));
    assert_eq!(s.meaning(), Meaning::Cooldown);
    assert_eq!(
        s.to_string(),
        "the AS group is in its cooldown period (AS 400 AS.0026: Scaling action is not allowed in the cooling duration., request id r2)"
    );
    let bare = F::parse("ECS", 502, b"<html>Bad Gateway</html>", None);
    assert_eq!(
        (bare.code.as_str(), bare.message.as_str(), bare.meaning()),
        ("", "<html>Bad Gateway</html>", Meaning::ServerError)
    );
    assert_eq!(bare.to_string(), "ECS 502: <html>Bad Gateway</html>");
    let empty = F::parse("ECS", 503, b"", None);
    assert_eq!(empty.message, "(no body)");
    let perm = F::parse("ECS", 403, br#"{"error":{"code":"Ecs.0319","message":"Policy doesn't allow [ecs:cloudServers:resize] to be performed."}}"#, None);
    assert_eq!(
        perm.meaning(),
        Meaning::Permission(Some("ecs:cloudServers:resize".into()))
    );
}
