//! The Docker executor against the real engine on this machine, with the image
//! scripts/test-image.sh builds (busybox httpd with a healthcheck). These tests fail, not
//! skip, when the engine or the image is missing: `./scripts/test.sh` provides both.

use std::path::Path;
use std::time::Duration;
use vigil::config::{ScaleTarget, TargetKind};
use vigil::execute::docker::DockerExecutor;
use vigil::execute::{Action, ExecError, Executor};

mod common;
use common::{Cleanup, IMAGE, docker, running};

const SOCKET: &str = "/var/run/docker.sock";

fn group(name: &str, template: bool) -> ScaleTarget {
    let mut t = common::test_group(name);
    if !template {
        t.template = None;
    }
    t
}

fn unique(tag: &str) -> String {
    format!("vt-{tag}-{}", std::process::id())
}

#[tokio::test]
async fn a_group_scales_1_to_3_to_1_on_the_real_engine() {
    let name = unique("grp");
    let _c = Cleanup(name.clone());
    let t = group(&name, true);
    let exec = DockerExecutor::connect(Path::new(SOCKET), vec![t.clone()]);
    let scale = |to| Action::Scale {
        target: name.clone(),
        kind: TargetKind::DockerGroup,
        to,
    };

    let o = exec.apply(&scale(1)).await.unwrap();
    assert_eq!((o.from, o.to, o.created.len()), (0, 1, 1));
    assert_eq!(running(&name).len(), 1);

    let o = exec.apply(&scale(3)).await.unwrap();
    assert_eq!((o.from, o.to), (1, 3));
    assert_eq!(o.created.len(), 2, "only the missing two are made");
    assert_eq!(running(&name).len(), 3);
    // Ready means healthy: the engine agrees for every new member.
    for m in &o.created {
        let h = docker(&["inspect", "-f", "{{.State.Health.Status}}", m]);
        assert_eq!(h, "healthy", "{m}");
    }

    // Desired state: asking again for 3 does nothing.
    let again = exec.apply(&scale(3)).await.unwrap();
    assert!(again.created.is_empty() && again.removed.is_empty());
    assert_eq!(running(&name).len(), 3);

    let o = exec.apply(&scale(1)).await.unwrap();
    assert_eq!(o.removed.len(), 2);
    let left = running(&name);
    assert_eq!(left, vec![format!("{name}-1")], "the newest go first");
    // Removed, not merely stopped.
    let all = docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("label=vigil.group={name}"),
        "-q",
    ]);
    assert_eq!(all.lines().count(), 1);
}

#[tokio::test]
async fn new_members_copy_an_existing_member_when_there_is_no_template() {
    let name = unique("copy");
    let _c = Cleanup(name.clone());
    docker(&[
        "run",
        "-d",
        "--name",
        &format!("{name}-1"),
        "--label",
        &format!("vigil.group={name}"),
        "--label",
        "vigil.member=1",
        "--env",
        "ROLE=web",
        "--memory",
        "64m",
        IMAGE,
    ]);
    let exec = DockerExecutor::connect(Path::new(SOCKET), vec![group(&name, false)]);
    let o = exec
        .apply(&Action::Scale {
            target: name.clone(),
            kind: TargetKind::DockerGroup,
            to: 2,
        })
        .await
        .unwrap();
    assert_eq!(o.created, vec![format!("{name}-2")]);
    let env = docker(&[
        "inspect",
        "-f",
        "{{json .Config.Env}}",
        &format!("{name}-2"),
    ]);
    assert!(env.contains("ROLE=web"), "{env}");
    let mem = docker(&[
        "inspect",
        "-f",
        "{{.HostConfig.Memory}}",
        &format!("{name}-2"),
    ]);
    assert_eq!(mem, (64 * 1024 * 1024).to_string());
}

#[tokio::test]
async fn an_unhealthy_member_is_removed_before_a_healthy_one() {
    let name = unique("unh");
    let _c = Cleanup(name.clone());
    let exec = DockerExecutor::connect(Path::new(SOCKET), vec![group(&name, true)]);
    let scale = |to| Action::Scale {
        target: name.clone(),
        kind: TargetKind::DockerGroup,
        to,
    };
    exec.apply(&scale(2)).await.unwrap();
    // Break member 1's health: its httpd no longer serves /health.
    docker(&[
        "exec",
        &format!("{name}-1"),
        "/bin/busybox",
        "rm",
        "/www/health",
    ]);
    for _ in 0..50 {
        let h = docker(&[
            "inspect",
            "-f",
            "{{.State.Health.Status}}",
            &format!("{name}-1"),
        ]);
        if h == "unhealthy" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let o = exec.apply(&scale(1)).await.unwrap();
    assert_eq!(o.removed, vec![format!("{name}-1")]);
}

#[tokio::test]
async fn a_container_is_restarted_and_resized_in_place() {
    let name = unique("heal");
    let _c = Cleanup(name.clone());
    docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "--label",
        &format!("vigil.group={name}"),
        IMAGE,
    ]);
    docker(&["kill", &name]);
    let exec = DockerExecutor::connect(Path::new(SOCKET), vec![group(&name, true)]);
    let o = exec
        .apply(&Action::Restart {
            container: name.clone(),
        })
        .await
        .unwrap();
    assert!(o.summary.contains("restarted"));
    assert_eq!(
        docker(&["inspect", "-f", "{{.State.Status}}", &name]),
        "running"
    );

    exec.apply(&Action::Resize {
        target: name.clone(),
        cpus: 0.5,
        memory_mib: 96,
    })
    .await
    .unwrap();
    assert_eq!(
        docker(&["inspect", "-f", "{{.HostConfig.NanoCpus}}", &name]),
        "500000000"
    );
    assert_eq!(
        docker(&["inspect", "-f", "{{.HostConfig.Memory}}", &name]),
        (96 * 1024 * 1024).to_string()
    );

    let before = docker(&["inspect", "-f", "{{.Id}}", &name]);
    exec.apply(&Action::Recreate {
        container: name.clone(),
    })
    .await
    .unwrap();
    let after = docker(&["inspect", "-f", "{{.Id}}", &name]);
    assert_ne!(before, after, "a new container under the same name");
    assert_eq!(
        docker(&["inspect", "-f", "{{.State.Status}}", &name]),
        "running"
    );
}

#[tokio::test]
async fn a_swarm_service_is_scaled_through_its_spec() {
    let name = unique("svc");
    let _c = Cleanup(name.clone());
    let state = docker(&["info", "--format", "{{.Swarm.LocalNodeState}}"]);
    assert_eq!(
        state, "active",
        "scripts/test.sh makes this engine a one-node swarm"
    );
    docker(&[
        "service",
        "create",
        "--detach",
        "--quiet",
        "--name",
        &name,
        "--replicas",
        "1",
        "--no-resolve-image",
        IMAGE,
    ]);
    let t = ScaleTarget {
        kind: TargetKind::SwarmService,
        ..group(&name, false)
    };
    let exec = DockerExecutor::connect(Path::new(SOCKET), vec![t]);
    let o = exec
        .apply(&Action::Scale {
            target: name.clone(),
            kind: TargetKind::SwarmService,
            to: 3,
        })
        .await
        .unwrap();
    assert_eq!((o.from, o.to), (1, 3));
    assert_eq!(
        docker(&[
            "service",
            "inspect",
            "-f",
            "{{.Spec.Mode.Replicated.Replicas}}",
            &name
        ]),
        "3"
    );
    assert_eq!(exec.service_running(&name).await.unwrap(), 3);

    // After a kill, the spec tells whether the update went through; nothing is sent.
    use vigil::execute::docker::Found;
    let to = |n: usize| Action::Scale {
        target: name.clone(),
        kind: TargetKind::SwarmService,
        to: n,
    };
    assert_eq!(
        exec.reconcile(&to(3)).await.unwrap(),
        Found::Completed(format!("service {name} is set to 3 replicas"))
    );
    assert_eq!(
        exec.reconcile(&to(2)).await.unwrap(),
        Found::Interrupted(format!("interrupted at 3 of 2 replicas (service {name})"))
    );
    assert_eq!(
        docker(&[
            "service",
            "inspect",
            "-f",
            "{{.Spec.Mode.Replicated.Replicas}}",
            &name
        ]),
        "3"
    );
}

#[tokio::test]
async fn a_dead_socket_is_a_clear_error_and_nothing_is_retried() {
    let exec = DockerExecutor::connect(
        Path::new("/tmp/vigil-no-such-docker.sock"),
        vec![group("web", true)],
    );
    let err = exec
        .apply(&Action::Scale {
            target: "web".into(),
            kind: TargetKind::DockerGroup,
            to: 2,
        })
        .await
        .unwrap_err();
    match &err {
        ExecError::Unreachable { socket, .. } => {
            assert!(socket.contains("vigil-no-such-docker.sock"))
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
    assert!(err.to_string().contains("does not answer"), "{err}");
}

#[tokio::test]
async fn an_unknown_target_is_refused() {
    let exec = DockerExecutor::connect(Path::new(SOCKET), vec![]);
    let err = exec
        .apply(&Action::Scale {
            target: "nope".into(),
            kind: TargetKind::DockerGroup,
            to: 2,
        })
        .await
        .unwrap_err();
    assert!(matches!(err, ExecError::Refused(_)), "{err:?}");
}

fn names_like(name: &str) -> Vec<String> {
    let out = docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("label=vigil.group={name}"),
        "--format",
        "{{.Names}}",
    ]);
    let mut v: Vec<String> = out.lines().map(str::to_string).collect();
    v.sort();
    v
}

#[tokio::test]
async fn a_recreate_whose_replacement_fails_puts_the_old_container_back() {
    let name = unique("recr");
    let _c = Cleanup(name.clone());
    // Exits after a second, every time: the replacement will not get ready either.
    docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "--label",
        &format!("vigil.group={name}"),
        IMAGE,
        "sh",
        "-c",
        "sleep 1; exit 3",
    ]);
    docker(&["wait", &name]);
    let before = docker(&["inspect", "-f", "{{.Id}}", &name]);
    let exec = DockerExecutor::connect(Path::new(SOCKET), vec![]);
    let err = exec
        .apply(&Action::Recreate {
            container: name.clone(),
        })
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .ends_with(&format!("; the old {name} was put back")),
        "{err}"
    );
    assert_eq!(docker(&["inspect", "-f", "{{.Id}}", &name]), before);
    assert_eq!(
        names_like(&name),
        vec![name.clone()],
        "no replacement left behind"
    );
}

#[tokio::test]
async fn an_interrupted_recreate_is_settled_without_losing_the_container() {
    use vigil::execute::docker::Found;
    let name = unique("recr-kill");
    let _c = Cleanup(name.clone());
    let aside = format!("{name}.vigil-old");
    let run = |n: &str| {
        docker(&[
            "run",
            "-d",
            "--name",
            n,
            "--label",
            &format!("vigil.group={name}"),
            IMAGE,
        ])
    };
    let exec = DockerExecutor::connect(Path::new(SOCKET), vec![]);
    let action = Action::Recreate {
        container: name.clone(),
    };

    // Killed after the old one was set aside, before the new one existed: put back.
    let old = run(&name);
    docker(&["rename", &name, &aside]);
    docker(&["stop", "-t", "0", &aside]);
    let found = exec.reconcile(&action).await.unwrap();
    assert_eq!(
        found,
        Found::Interrupted(format!(
            "interrupted: {name} was not replaced; the old one is kept"
        ))
    );
    assert_eq!(docker(&["inspect", "-f", "{{.Id}}", &name]), old);
    assert_eq!(names_like(&name), vec![name.clone()]);

    // Killed after the new one ran, before the old one was removed: completed.
    docker(&["rename", &name, &aside]);
    let new = run(&name);
    let found = exec.reconcile(&action).await.unwrap();
    assert_eq!(found, Found::Completed(format!("{name} runs")));
    assert_eq!(docker(&["inspect", "-f", "{{.Id}}", &name]), new);
    assert_eq!(names_like(&name), vec![name.clone()], "the old one is gone");
}

#[tokio::test]
async fn a_scale_first_finishes_what_a_killed_one_left_then_counts() {
    let name = unique("tidy");
    let _c = Cleanup(name.clone());
    common::start_member(&name, 1);
    common::start_member(&name, 2);
    // A scale-in killed after marking its victim, a scale-out killed between the
    // create and the start.
    docker(&[
        "rename",
        &format!("{name}-2"),
        &format!("{name}-2.vigil-retiring"),
    ]);
    docker(&[
        "create",
        "--name",
        &format!("{name}-3"),
        "--label",
        &format!("vigil.group={name}"),
        "--label",
        "vigil.member=3",
        IMAGE,
    ]);
    let exec = DockerExecutor::connect(Path::new(SOCKET), vec![group(&name, true)]);
    let o = exec
        .apply(&Action::Scale {
            target: name.clone(),
            kind: TargetKind::DockerGroup,
            to: 2,
        })
        .await
        .unwrap();
    // One member counted (the retiring one is not), one new one made.
    assert_eq!((o.from, o.to), (1, 2));
    assert_eq!(o.created, vec![format!("{name}-2")]);
    assert_eq!(
        names_like(&name),
        vec![format!("{name}-1"), format!("{name}-2")]
    );
    assert_eq!(running(&name).len(), 2);
}
