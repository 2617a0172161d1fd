//! Task groups on the agent (issue 16): a LAUNCH_GROUP starts Mesos' default executor once
//! per executor id and reaches it whole, as one LAUNCH_GROUP event; a kill of one task of an
//! undelivered group kills the group; a group the agent cannot run is refused for every task,
//! naming why.

use crate::agent_support;

use agent_support::*;
use drover_core::agent::{Effect, Input};
use drover_core::task::{Reason, Source, TaskState};
use drover_wire::{internal, v1};

fn default_executor(id: &str) -> v1::ExecutorInfo {
    v1::ExecutorInfo {
        r#type: Some(v1::executor_info::Type::Default as i32),
        executor_id: v1::ExecutorId { value: id.into() },
        resources: vec![scalar_resource("cpus", 0.1), scalar_resource("mem", 32.0)],
        ..Default::default()
    }
}

fn scalar_resource(name: &str, value: f64) -> v1::Resource {
    v1::Resource {
        name: name.into(),
        r#type: v1::value::Type::Scalar as i32,
        scalar: Some(v1::value::Scalar { value }),
        ..Default::default()
    }
}

fn run_group(
    framework: &v1::FrameworkInfo,
    executor: v1::ExecutorInfo,
    tasks: Vec<v1::TaskInfo>,
) -> Input {
    Input::RunTask(internal::agent_event::RunTask {
        framework_info: framework.clone(),
        task: None,
        executor: Some(executor),
        task_group: Some(v1::TaskGroupInfo { tasks }),
    })
}

fn launches(effects: &[Effect]) -> Vec<drover_core::agent::LaunchSpec> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Launch(spec) => Some(spec.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_group_starts_the_default_executor_and_arrives_whole() {
    let mut h = Harness::registered();
    let fw = framework("fw", true, false);
    let effects = h.step(run_group(
        &fw,
        default_executor("instance-1"),
        vec![command_task("a"), command_task("b")],
    ));
    let specs = launches(&effects);
    assert_eq!(specs.len(), 1, "one executor for the group: {effects:?}");
    let spec = &specs[0];
    let command = spec.executor_info.command.clone().expect("a command");
    assert_eq!(
        command.arguments[1..],
        ["executor".to_owned(), "--default".to_owned()],
        "the default executor is `drover executor --default`: {command:?}"
    );
    assert!(!spec.command_executor);
    // The container holds the executor's resources and both tasks'.
    let task_cpus = 2.0 * scalar(&command_task("a").resources, "cpus");
    assert!((spec.cpus - (0.1 + task_cpus)).abs() < 1e-9, "{spec:?}");
    assert!(
        sent(&effects).is_empty(),
        "nothing is reported before the executor runs"
    );

    let effects = h.subscribe("fw", "instance-1", 7);
    let groups: Vec<&v1::executor::event::LaunchGroup> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::ToExecutor { event, .. } => event.launch_group.as_ref(),
            _ => None,
        })
        .collect();
    assert_eq!(groups.len(), 1, "one LAUNCH_GROUP event: {effects:?}");
    let ids: Vec<&str> = groups[0]
        .task_group
        .tasks
        .iter()
        .map(|t| t.task_id.value.as_str())
        .collect();
    assert_eq!(ids, ["a", "b"]);
    assert!(
        !executor_events(&effects, 7).contains(&v1::executor::event::Type::Launch),
        "no single LAUNCH for a group's task"
    );

    // Both report through the one executor; a LAUNCH of a single task to it is refused.
    let effects = h.update("fw", "instance-1", "a", TaskState::TaskRunning, 1);
    expect_one(&effects, TaskState::TaskRunning, None, Source::Executor);
    let effects = h.step(run(&fw, {
        let mut t = command_task("c");
        t.executor = Some(default_executor("instance-1"));
        t
    }));
    let status = expect_one(
        &effects,
        TaskState::TaskFailed,
        Some(Reason::ContainerLaunchFailed),
        Source::Agent,
    );
    assert!(
        status
            .message
            .as_deref()
            .is_some_and(|m| m.contains("task groups (LAUNCH_GROUP) only")),
        "{status:?}"
    );
}

#[test]
fn killing_one_task_of_an_undelivered_group_kills_the_group() {
    let mut h = Harness::registered();
    let fw = framework("fw", false, false);
    h.step(run_group(
        &fw,
        default_executor("instance-1"),
        vec![command_task("a"), command_task("b")],
    ));
    let container = h.container_of("fw", "instance-1");
    let effects = h.step(Input::KillTask {
        framework_id: drover_core::agent::FrameworkId("fw".into()),
        task_id: drover_core::agent::TaskId("b".into()),
        kill_policy: None,
    });
    let updates = sent(&effects);
    let mut ids: Vec<&str> = updates.iter().map(|u| u.task_id.value.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["a", "b"], "{updates:?}");
    for u in &updates {
        assert_eq!(u.state, TaskState::TaskKilled as i32);
        assert_eq!(u.reason, Some(Reason::TaskKilledDuringLaunch as i32));
        assert_eq!(u.source, Some(Source::Agent as i32));
    }
    // The executor that never got its group is not left idling.
    assert_eq!(kills(&effects), [container]);
}

#[test]
fn an_invalid_group_is_task_group_invalid_for_every_task() {
    let mut h = Harness::registered();
    let fw = framework("fw", true, false);
    let mut b = command_task("b");
    b.command = None;
    let effects = h.step(run_group(
        &fw,
        default_executor("instance-1"),
        vec![command_task("a"), b],
    ));
    assert!(launches(&effects).is_empty(), "nothing is launched");
    let updates = sent(&effects);
    let ids: Vec<&str> = updates.iter().map(|u| u.task_id.value.as_str()).collect();
    assert_eq!(ids, ["a", "b"], "{updates:?}");
    for update in &updates {
        assert_eq!(update.state, TaskState::TaskError as i32);
        assert_eq!(update.reason, Some(Reason::TaskGroupInvalid as i32));
        assert_eq!(update.source, Some(Source::Agent as i32));
        assert!(
            update
                .message
                .as_deref()
                .is_some_and(|m| m.contains("Task 'b' has no 'command'")),
            "{update:?}"
        );
    }
    for update in updates {
        h.ack(
            "fw",
            &update.task_id.value,
            update.uuid.clone().expect("a uuid"),
        );
    }
    assert!(
        h.agent.frameworks().is_empty(),
        "nothing of the group is kept"
    );
}

#[test]
fn tasks_asking_for_different_users_are_refused_by_name() {
    let mut h = Harness::registered();
    let fw = framework("fw", false, false);
    let mut a = command_task("a");
    let mut b = command_task("b");
    a.command.as_mut().expect("command").user = Some("alice".into());
    b.command.as_mut().expect("command").user = Some("bob".into());
    let effects = h.step(run_group(&fw, default_executor("e"), vec![a, b]));
    for update in sent(&effects) {
        assert_eq!(update.reason, Some(Reason::TaskGroupInvalid as i32));
        assert!(
            update
                .message
                .as_deref()
                .is_some_and(|m| m.contains("alice, bob")),
            "{update:?}"
        );
    }
}

#[test]
fn sandbox_volumes_pass_and_other_volumes_are_refused_by_name() {
    let volume = |container_path: &str, kind: v1::volume::source::sandbox_path::Type| v1::Volume {
        mode: v1::volume::Mode::Rw as i32,
        container_path: container_path.into(),
        source: Some(v1::volume::Source {
            r#type: Some(v1::volume::source::Type::SandboxPath as i32),
            sandbox_path: Some(v1::volume::source::SandboxPath {
                r#type: Some(kind as i32),
                path: "volumes/shared".into(),
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let with = |v: v1::Volume| {
        let mut t = command_task("a");
        t.container = Some(Box::new(v1::ContainerInfo {
            r#type: v1::container_info::Type::Mesos as i32,
            volumes: vec![v],
            ..Default::default()
        }));
        t
    };
    use v1::volume::source::sandbox_path::Type::{Parent, Self_};
    let fw = framework("fw", false, false);

    let mut h = Harness::registered();
    let effects = h.step(run_group(
        &fw,
        default_executor("e"),
        vec![with(volume("data", Parent))],
    ));
    assert_eq!(launches(&effects).len(), 1, "{effects:?}");

    for (v, needle) in [
        (volume("/data", Parent), "must be relative"),
        (volume("data", Self_), "type PARENT"),
        (volume("../data", Parent), "must be relative"),
    ] {
        let mut h = Harness::registered();
        let effects = h.step(run_group(&fw, default_executor("e"), vec![with(v)]));
        assert!(launches(&effects).is_empty());
        let status = expect_one(
            &effects,
            TaskState::TaskFailed,
            Some(Reason::ContainerLaunchFailed),
            Source::Agent,
        );
        let message = status.message.unwrap_or_default();
        assert!(
            message.contains("container.volumes") && message.contains(needle),
            "{message}"
        );
    }
}

/// A group's task may ask for a terminal and for its cgroups (`linux_info.share_cgroups`,
/// either way): its nested container honours both. Other `linux_info` is refused by name.
#[test]
fn a_group_task_may_have_a_terminal_and_choose_its_cgroups() {
    let fw = framework("fw", false, false);
    let with = |linux: Option<v1::LinuxInfo>| {
        let mut t = command_task("a");
        t.container = Some(Box::new(v1::ContainerInfo {
            r#type: v1::container_info::Type::Mesos as i32,
            tty_info: Some(Default::default()),
            linux_info: linux,
            ..Default::default()
        }));
        t
    };
    for share in [None, Some(true), Some(false)] {
        let linux = share.map(|s| v1::LinuxInfo {
            share_cgroups: Some(s),
            ..Default::default()
        });
        let mut h = Harness::registered();
        let effects = h.step(run_group(&fw, default_executor("e"), vec![with(linux)]));
        assert_eq!(launches(&effects).len(), 1, "{share:?}: {effects:?}");
    }
    // A group whose tasks disagree on sharing the executor's cgroups is invalid, as in Mesos.
    let mut h = Harness::registered();
    let shared = with(Some(v1::LinuxInfo {
        share_cgroups: Some(true),
        ..Default::default()
    }));
    let mut own = with(None);
    own.task_id.value = "b".into();
    let effects = h.step(run_group(&fw, default_executor("e"), vec![shared, own]));
    assert!(launches(&effects).is_empty());
    let updates = sent(&effects);
    assert_eq!(updates.len(), 2, "{effects:?}");
    for update in updates {
        assert_eq!(update.state, TaskState::TaskError as i32);
        assert_eq!(update.reason, Some(Reason::TaskGroupInvalid as i32));
        assert!(
            update
                .message
                .as_deref()
                .is_some_and(|m| m.contains("share_cgroups")),
            "{update:?}"
        );
    }
    let mut h = Harness::registered();
    let privileged = v1::LinuxInfo {
        share_cgroups: Some(false),
        share_pid_namespace: Some(true),
        ..Default::default()
    };
    let effects = h.step(run_group(
        &fw,
        default_executor("e"),
        vec![with(Some(privileged))],
    ));
    assert!(launches(&effects).is_empty());
    let status = expect_one(
        &effects,
        TaskState::TaskFailed,
        Some(Reason::ContainerLaunchFailed),
        Source::Agent,
    );
    assert!(
        status
            .message
            .unwrap_or_default()
            .contains("container.linux_info")
    );
}

/// The `UpdateContainer` effects of `effects`: (cpus, mem).
fn resizes(effects: &[Effect]) -> Vec<(f64, f64)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::UpdateContainer { cpus, mem_mb, .. } => Some((*cpus, *mem_mb)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_later_group_joins_a_running_default_executor_whose_container_grows_then_shrinks() {
    let mut h = Harness::registered();
    let fw = framework("fw", false, false);
    h.step(run_group(
        &fw,
        default_executor("e"),
        vec![command_task("a")],
    ));
    // Before the executor subscribed, a later group is refused, naming why.
    let effects = h.step(run_group(
        &fw,
        default_executor("e"),
        vec![command_task("early")],
    ));
    let status = expect_one(
        &effects,
        TaskState::TaskFailed,
        Some(Reason::ContainerLaunchFailed),
        Source::Agent,
    );
    assert!(
        status
            .message
            .as_deref()
            .is_some_and(|m| m.contains("has not subscribed yet")),
        "{status:?}"
    );
    h.subscribe("fw", "e", 3);
    let effects = h.step(run_group(
        &fw,
        default_executor("e"),
        vec![command_task("b"), command_task("c")],
    ));
    // No new container: the running one grows by the group's resources (0.1 + 3 × 0.5 cpus),
    // then the group reaches the executor whole.
    assert!(launches(&effects).is_empty());
    let grown = resizes(&effects);
    assert_eq!(grown.len(), 1, "{effects:?}");
    assert!((grown[0].0 - 1.6).abs() < 1e-9, "{grown:?}");
    let resize_at = effects
        .iter()
        .position(|e| matches!(e, Effect::UpdateContainer { .. }))
        .unwrap();
    let launch_at = effects
        .iter()
        .position(|e| {
            matches!(e, Effect::ToExecutor { event, .. }
                if event.launch_group.as_ref().is_some_and(|g| g.task_group.tasks.len() == 2))
        })
        .expect("the group reaches the executor whole");
    assert!(
        resize_at < launch_at,
        "the container grows before the tasks reach it"
    );
    // A task that ends shrinks the container to the executor and the tasks still running.
    let effects = h.update("fw", "e", "a", TaskState::TaskFinished, 1);
    let shrunk = resizes(&effects);
    assert_eq!(shrunk.len(), 1, "{effects:?}");
    assert!((shrunk[0].0 - 1.1).abs() < 1e-9, "{shrunk:?}");
    // A failed resize destroys the container; its tasks are lost to it (seed 1, L109).
    let container = h.container_of("fw", "e");
    let effects = h.step(Input::ContainerLimited {
        container_id: container.clone(),
        trigger: drover_core::task::emission::Trigger::ContainerUpdateFailed,
        message: "writing memory.limit_in_bytes: Device or resource busy".into(),
    });
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Kill { container_id, grace_ms: 0 } if *container_id == container)),
        "{effects:?}"
    );
    let effects = h.step(Input::ContainerTerminated {
        container_id: container,
        message: "Command terminated with signal Killed".into(),
        oom_killed: false,
    });
    let lost = sent(&effects);
    assert_eq!(lost.len(), 2, "{effects:?}");
    for status in lost {
        assert_eq!(status.state, TaskState::TaskLost as i32);
        assert_eq!(status.reason, Some(Reason::ContainerUpdateFailed as i32));
    }
}

fn scalar(resources: &[v1::Resource], name: &str) -> f64 {
    drover_core::agent::model::scalar(resources, name)
}

#[test]
fn a_groups_secret_variables_are_left_to_its_tasks_and_a_command_tasks_are_listed() {
    let secret_var = v1::environment::Variable {
        name: "PW".into(),
        r#type: Some(v1::environment::variable::Type::Secret as i32),
        value: None,
        secret: Some(v1::Secret {
            r#type: Some(v1::secret::Type::Reference as i32),
            reference: Some(v1::secret::Reference {
                name: "db".into(),
                key: None,
            }),
            value: None,
        }),
    };
    let mut task = command_task("a");
    task.command.as_mut().expect("command").environment = Some(v1::Environment {
        variables: vec![secret_var],
    });
    let fw = framework("fw", false, false);
    // In a group: launched, and not resolved into the executor's container, which every task
    // of the group shares (the agent resolves it into the task's own nested container).
    let mut h = Harness::registered();
    let effects = h.step(run_group(&fw, default_executor("e"), vec![task.clone()]));
    let launched = launches(&effects);
    assert_eq!(launched.len(), 1, "{effects:?}");
    assert!(
        launched[0].secret_env.is_empty(),
        "{:?}",
        launched[0].secret_env
    );
    // A command task's: listed in the launch for the agent to resolve, with a secret file of
    // its MESOS container (an absolute path is not one).
    let secret_volume = |path: &str| v1::Volume {
        mode: v1::volume::Mode::Ro as i32,
        container_path: path.into(),
        source: Some(v1::volume::Source {
            r#type: Some(v1::volume::source::Type::Secret as i32),
            secret: Some(v1::Secret::default()),
            ..Default::default()
        }),
        ..Default::default()
    };
    task.container = Some(Box::new(v1::ContainerInfo {
        r#type: v1::container_info::Type::Mesos as i32,
        volumes: vec![secret_volume("conf/pw")],
        ..Default::default()
    }));
    let mut h = Harness::registered();
    let effects = h.step(Input::RunTask(internal::agent_event::RunTask {
        framework_info: fw.clone(),
        task: Some(task.clone()),
        executor: None,
        task_group: None,
    }));
    let spec = launches(&effects).pop().expect("launched");
    let names: Vec<&str> = spec.secret_env.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["PW"]);
    let files: Vec<&str> = spec.secret_files.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(files, ["conf/pw"]);
    task.container.as_mut().expect("container").volumes = vec![secret_volume("/etc/pw")];
    let mut h = Harness::registered();
    let effects = h.step(Input::RunTask(internal::agent_event::RunTask {
        framework_info: fw,
        task: Some(task),
        executor: None,
        task_group: None,
    }));
    assert!(
        launches(&effects).is_empty(),
        "an absolute secret path is refused"
    );
}
