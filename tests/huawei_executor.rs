//! The Huawei executor on the fake cloud: a scale is done when its activity finished
//! and the group has that many instances in service; the operation id is in the
//! outcome; a restarted engine reconciles the stored id without a second change; an
//! ECS resize follows its job; what is not a Huawei action is refused.

mod huawei_fake;

use axum::http::Method;
use huawei_fake::{AK, Fault, PROJECT, SK};
use std::time::Duration;
use vigil::config::{Flavor, HuaweiConfig, HuaweiTarget, ScaleTarget, TargetKind};
use vigil::execute::huawei::client::Client;
use vigil::execute::huawei::credentials::Credentials;
use vigil::execute::huawei::{HuaweiExecutor, Operation, Started};
use vigil::execute::{Action, ExecError, Executor};

const GROUP: &str = "4c0e6a53-1b2f-4d8e-9a7c-5e6f7a8b9c0d";

fn cfg(url: &str) -> HuaweiConfig {
    let mut c = HuaweiConfig {
        region: "cn-north-4".into(),
        project_id: PROJECT.into(),
        endpoint: Some(url.into()),
        request_timeout: Duration::from_millis(800),
        retry_deadline: Duration::from_secs(10),
        poll: Duration::from_millis(30),
        ..HuaweiConfig::default()
    };
    c.targets.insert(
        "db".into(),
        HuaweiTarget {
            server_id: Some("srv-db".into()),
            ..HuaweiTarget::default()
        },
    );
    c
}

fn targets() -> Vec<ScaleTarget> {
    vec![
        ScaleTarget {
            name: "web".into(),
            kind: TargetKind::HuaweiAsGroup,
            min: 1,
            max: 5,
            ready_timeout: Duration::from_secs(10),
            ..ScaleTarget::default()
        },
        ScaleTarget {
            name: "db".into(),
            kind: TargetKind::HuaweiAsGroup,
            resize_to: Some(Flavor {
                name: "c7.xlarge.2".into(),
                capacity: 200.0,
                price_per_hour: 0.8,
                cpus: 0.0,
                memory_mib: 0,
            }),
            ready_timeout: Duration::from_secs(10),
            ..ScaleTarget::default()
        },
    ]
}

fn executor(url: &str) -> HuaweiExecutor {
    let c = cfg(url);
    let client = Client::new(&c, Credentials::new(AK, SK))
        .unwrap()
        .with_backoff(Duration::from_millis(20), Duration::from_millis(200));
    HuaweiExecutor::with_client(client, &c, targets())
}

fn scale(to: usize) -> Action {
    Action::Scale {
        target: "web".into(),
        kind: TargetKind::HuaweiAsGroup,
        to,
    }
}

#[tokio::test]
async fn scale_out_is_done_when_the_activity_finished_and_instances_serve() {
    let fake = huawei_fake::start().await;
    fake.add_group(GROUP, "web", 1, 5, 2, 0);
    let exec = executor(&fake.url());
    assert_eq!(exec.name(), "huawei");
    let out = exec.apply(&scale(4)).await.unwrap();
    let act = fake.state().groups[GROUP].activities[0].id.clone();
    assert_eq!(
        out.summary,
        format!("AS group web: 2 → 4 instances in service (activity {act})")
    );
    assert_eq!((out.from, out.to), (2, 4));
    assert_eq!(out.created.len(), 2);
    assert_eq!(out.operation, Some(format!("as-activity:{GROUP}/{act}")));
    assert_eq!(fake.state().groups[GROUP].activities[0].status, "SUCCESS");
    exec.check(&scale(4)).await.unwrap();
    let err = exec.check(&scale(5)).await.unwrap_err();
    assert_eq!(err, "AS group web: 4 of 5 instances in service (expects 4)");

    // Scale-in, then asking for the count it has: nothing sent.
    let out = exec.apply(&scale(1)).await.unwrap();
    assert_eq!((out.from, out.to, out.removed.len()), (4, 1, 3));
    let out = exec.apply(&scale(1)).await.unwrap();
    assert_eq!(out.summary, "AS group web: already 1 instances in service");
    assert_eq!(out.operation, None);
    assert_eq!(fake.state().count("PUT", "/scaling_group/"), 2);
}

#[tokio::test]
async fn in_flight_the_group_shows_its_instances_and_activity() {
    let fake = huawei_fake::start().await;
    fake.add_group(GROUP, "web", 1, 5, 2, 0);
    fake.state().apply_after = Duration::from_millis(600);
    let exec = executor(&fake.url());
    let started = exec.start(&scale(3)).await.unwrap();
    let p = exec.progress("web").await.unwrap();
    let states: Vec<&str> = p
        .instances
        .iter()
        .map(|i| i.life_cycle_state.as_str())
        .collect();
    assert_eq!(states, ["INSERVICE", "INSERVICE", "PENDING"]);
    assert_eq!(
        p.activity.as_ref().map(|a| a.status.as_str()),
        Some("DOING")
    );
    let err = exec.check(&scale(3)).await.unwrap_err();
    assert!(
        err.starts_with(
            "AS group web: 2 of 3 instances in service (expects 3); web-2 PENDING; activity act-"
        ),
        "{err}"
    );
    exec.finish(&scale(3), started).await.unwrap();
    exec.check(&scale(3)).await.unwrap();
}

#[tokio::test]
async fn a_restarted_engine_reconciles_the_stored_activity_without_a_second_change() {
    let fake = huawei_fake::start().await;
    fake.add_group(GROUP, "web", 1, 5, 2, 0);
    fake.state().apply_after = Duration::from_millis(500);
    let first = executor(&fake.url());
    let Started::Running { operation, .. } = first.start(&scale(3)).await.unwrap() else {
        panic!("nothing started")
    };
    let stored = operation.to_string();
    drop(first); // the engine dies here, mid-activity

    let second = executor(&fake.url());
    let out = second.reconcile(&scale(3), &stored).await.unwrap();
    assert_eq!(out.operation.as_deref(), Some(stored.as_str()));
    assert_eq!((out.from, out.to), (2, 3));
    assert_eq!(fake.state().count("PUT", "/scaling_group/"), 1);
    assert_eq!(Operation::parse(&stored), Some(operation));
    let err = second.reconcile(&scale(3), "garbage").await.unwrap_err();
    assert_eq!(err.to_string(), "\"garbage\" is not a Huawei operation id");
}

#[tokio::test]
async fn a_lost_answer_still_ends_verified_with_one_change() {
    let fake = huawei_fake::start().await;
    fake.add_group(GROUP, "web", 1, 5, 2, 0);
    fake.fault(Some(Method::PUT), Fault::Drop);
    let exec = executor(&fake.url());
    let out = exec.apply(&scale(3)).await.unwrap();
    assert_eq!((out.from, out.to), (2, 3));
    assert!(out.operation.is_some());
    assert_eq!(fake.state().count("PUT", "/scaling_group/"), 1);
}

#[tokio::test]
async fn a_failed_activity_fails_the_action_with_its_reason() {
    let fake = huawei_fake::start().await;
    fake.add_group(GROUP, "web", 1, 5, 2, 0);
    fake.state().fail_next_activity = true;
    let exec = executor(&fake.url());
    let err = exec.apply(&scale(3)).await.unwrap_err();
    let ExecError::Cloud(text) = &err else {
        panic!("{err:?}")
    };
    assert!(text.starts_with("scaling activity act-"), "{text}");
    assert!(
        text.ends_with(
            "of AS group web ended FAIL: Insufficient ECS quota: instances quota exceeded"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn out_of_bounds_and_foreign_actions_are_refused() {
    let fake = huawei_fake::start().await;
    fake.add_group(GROUP, "web", 1, 5, 2, 0);
    let exec = executor(&fake.url());
    let err = exec.apply(&scale(8)).await.unwrap_err();
    assert_eq!(
        err,
        ExecError::Refused(
            "AS group web: 8 instances is outside its bounds (min 1, max 5); change the group's min/max or the proposal".into()
        )
    );
    let err = exec
        .apply(&Action::Restart {
            container: "x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the Huawei Cloud executor does not run restart"
    );
    let err = exec
        .apply(&Action::Scale {
            target: "nope".into(),
            kind: TargetKind::HuaweiAsGroup,
            to: 2,
        })
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "\"nope\" is not a configured target");
    // No group of that name in the cloud.
    fake.state().groups.clear();
    let err = exec.apply(&scale(2)).await.unwrap_err();
    assert_eq!(err, ExecError::NotFound("AS group \"web\"".into()));
}

#[tokio::test]
async fn resize_changes_the_servers_flavor_through_its_job() {
    let fake = huawei_fake::start().await;
    fake.add_server("srv-db", "db", "ACTIVE", "s6.large.2");
    let exec = executor(&fake.url());
    let resize = Action::Resize {
        target: "db".into(),
        cpus: 0.0,
        memory_mib: 0,
    };
    let out = exec.apply(&resize).await.unwrap();
    assert_eq!(
        out.summary,
        "server db now c7.xlarge.2 (4 vCPUs, 8192 MiB), ACTIVE"
    );
    let op = out.operation.unwrap();
    assert!(op.starts_with("ecs-job:srv-db/job-"), "{op}");
    exec.check(&resize).await.unwrap();
    assert_eq!(fake.state().count("POST", "/resize"), 1);
    // Already that flavor: nothing sent.
    let out = exec.apply(&resize).await.unwrap();
    assert_eq!(out.summary, "server db already runs c7.xlarge.2");
    assert_eq!(fake.state().count("POST", "/resize"), 1);

    // An AS group without a server is not resized by guesswork.
    let err = exec
        .apply(&Action::Resize {
            target: "web".into(),
            cpus: 0.0,
            memory_mib: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "web: vigil resizes an ECS server, and none is set (huawei.targets.web.server_id); \
         an AS group's flavor is its AS configuration's"
    );
}

#[tokio::test]
async fn settling_after_a_restart_reads_the_group_when_the_operation_is_missing_or_gone() {
    use vigil::execute::Found;
    let fake = huawei_fake::start().await;
    fake.add_group(GROUP, "web", 1, 5, 2, 0);
    let exec = executor(&fake.url());
    exec.apply(&scale(3)).await.unwrap();
    let act = fake.state().groups[GROUP].activities[0].id.clone();
    let done = format!("AS group web: 2 → 3 instances in service (activity {act})");
    // No operation stored (the answer never came): the group shows the change arrived.
    assert_eq!(
        exec.settle(&scale(3), None).await.unwrap(),
        Found::Completed(done.clone())
    );
    // An operation the activity log no longer lists: the group says, too.
    let gone = format!("as-activity:{GROUP}/act-9999");
    assert_eq!(
        exec.settle(&scale(3), Some(&gone)).await.unwrap(),
        Found::Completed(done)
    );
    // The group never got the change: interrupted, and it is not sent now.
    assert_eq!(
        exec.settle(&scale(5), None).await.unwrap(),
        Found::Interrupted(
            "interrupted: AS group web expects 3 instances, not 5: the change never reached it (not sent again)".into()
        )
    );
    assert_eq!(
        exec.settle(&scale(3), Some("garbage")).await.unwrap(),
        Found::Interrupted("interrupted: \"garbage\" is not a Huawei operation id".into())
    );
    assert_eq!(fake.state().count("PUT", "/scaling_group/"), 1);
}
