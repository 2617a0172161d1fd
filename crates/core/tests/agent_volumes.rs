//! The agent's side of dynamic reservations and persistent volumes: CHECKPOINT_RESOURCES is
//! persisted and makes the agent's total, volume directories follow it, a launch gets its
//! volumes (path, directory, mode) to make visible in the sandbox, and a launch using
//! checkpointed resources the agent does not have is TASK_LOST / TASK_DROPPED with
//! REASON_RESOURCES_UNKNOWN from the agent (Mesos' agent did the same when the master's
//! checkpoint message was lost or overtaken).

use crate::agent_support;

use agent_support::{Harness, command_task, expect_one, framework, run};
use drover_core::agent::{CheckpointOp, Effect, Input, Recovered};
use drover_core::task::{Reason, Source, TaskState};
use drover_wire::v1;

fn dynamic(name: &str, value: f64) -> v1::Resource {
    v1::Resource {
        name: name.into(),
        r#type: v1::value::Type::Scalar as i32,
        scalar: Some(v1::value::Scalar { value }),
        reservations: vec![v1::resource::ReservationInfo {
            r#type: Some(v1::resource::reservation_info::Type::Dynamic as i32),
            role: Some("db/main".into()),
            principal: Some("ops".into()),
            labels: None,
        }],
        ..Default::default()
    }
}

fn volume(id: &str) -> v1::Resource {
    let mut r = dynamic("disk", 100.0);
    r.disk = Some(Box::new(v1::resource::DiskInfo {
        persistence: Some(v1::resource::disk_info::Persistence {
            id: id.into(),
            principal: Some("ops".into()),
        }),
        volume: Some(v1::Volume {
            container_path: "data".into(),
            mode: v1::volume::Mode::Rw as i32,
            ..Default::default()
        }),
        source: None,
    }));
    r
}

fn task_on_volume(id: &str, volume_id: &str) -> v1::TaskInfo {
    let mut task = command_task(id);
    task.resources = vec![dynamic("cpus", 1.0), volume(volume_id)];
    task
}

#[test]
fn checkpointed_resources_are_persisted_make_the_total_and_their_volumes() {
    let mut h = Harness::registered();
    let effects = h.step(Input::CheckpointResources(vec![
        dynamic("cpus", 1.0),
        volume("v1"),
    ]));
    let persisted = effects.iter().find_map(|e| match e {
        Effect::Checkpoint(CheckpointOp::PutResources(list)) => Some(list.clone()),
        _ => None,
    });
    assert_eq!(persisted.map(|l| l.len()), Some(2), "{effects:#?}");
    let dirs = effects.iter().find_map(|e| match e {
        Effect::SyncVolumes(dirs) => Some(dirs.clone()),
        _ => None,
    });
    // A hierarchical role is one directory.
    assert_eq!(
        dirs,
        Some(vec!["/work/volumes/roles/db main/v1".to_owned()])
    );
    // The total the agent registers with carries them.
    let info = h.agent.snapshot().agent_info;
    let reserved: Vec<&v1::Resource> = info
        .resources
        .iter()
        .filter(|r| !r.reservations.is_empty())
        .collect();
    assert_eq!(reserved.len(), 2, "{info:#?}");
    assert_eq!(drover_core::resources::scalar(&info.resources, "cpus"), 4.0);

    // A task on the volume launches with it linked into its sandbox.
    let effects = h.step(run(
        &framework("fw", true, false),
        task_on_volume("t1", "v1"),
    ));
    let spec = effects
        .iter()
        .find_map(|e| match e {
            Effect::Launch(spec) => Some(spec.clone()),
            _ => None,
        })
        .expect("a launch");
    assert_eq!(
        spec.persistent_volumes,
        vec![drover_core::agent::VolumeUse {
            container_path: "data".to_owned(),
            dir: "/work/volumes/roles/db main/v1".to_owned(),
            read_only: false,
        }]
    );

    // A set without it while a task still uses it: the directory is kept (the master's
    // DESTROY refuses a volume in use; the agent never deletes data from under a task).
    let effects = h.step(Input::CheckpointResources(vec![dynamic("cpus", 1.0)]));
    assert!(
        effects.iter().any(|e| matches!(e, Effect::SyncVolumes(dirs)
            if dirs == &vec!["/work/volumes/roles/db main/v1".to_owned()])),
        "{effects:#?}"
    );
    // Another volume, never used, goes when the master's set drops it.
    h.step(Input::CheckpointResources(vec![volume("v1"), volume("v2")]));
    let effects = h.step(Input::CheckpointResources(vec![volume("v1")]));
    assert!(
        effects.iter().any(|e| matches!(e, Effect::SyncVolumes(dirs)
            if !dirs.iter().any(|d| d.ends_with("/v2")))),
        "{effects:#?}"
    );
}

/// The volume's mode goes with it to the driver, which mounts a `RO` volume read-only.
#[test]
fn a_read_only_volume_is_launched_read_only() {
    let mut h = Harness::registered();
    let mut ro = volume("v1");
    if let Some(v) = ro.disk.as_mut().and_then(|d| d.volume.as_mut()) {
        v.mode = v1::volume::Mode::Ro as i32;
    }
    h.step(Input::CheckpointResources(vec![
        dynamic("cpus", 1.0),
        ro.clone(),
    ]));
    let mut task = command_task("t1");
    task.resources = vec![dynamic("cpus", 1.0), ro];
    let effects = h.step(run(&framework("fw", true, false), task));
    let spec = effects
        .iter()
        .find_map(|e| match e {
            Effect::Launch(spec) => Some(spec.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("a launch: {effects:#?}"));
    assert_eq!(
        spec.persistent_volumes,
        vec![drover_core::agent::VolumeUse {
            container_path: "data".to_owned(),
            dir: "/work/volumes/roles/db main/v1".to_owned(),
            read_only: true,
        }]
    );
}

#[test]
fn a_launch_on_checkpointed_resources_the_agent_lacks_is_resources_unknown() {
    for partition_aware in [false, true] {
        let mut h = Harness::registered();
        h.step(Input::CheckpointResources(vec![volume("v1")]));
        let effects = h.step(run(
            &framework("fw", true, partition_aware),
            task_on_volume("t1", "v2"),
        ));
        let state = if partition_aware {
            TaskState::TaskDropped
        } else {
            TaskState::TaskLost
        };
        let status = expect_one(
            &effects,
            state,
            Some(Reason::ResourcesUnknown),
            Source::Agent,
        );
        assert!(
            status
                .message
                .as_deref()
                .is_some_and(|m| m.contains("unknown to the agent")),
            "{status:#?}"
        );
        assert!(!effects.iter().any(|e| matches!(e, Effect::Launch(_))));
    }
}

#[test]
fn checkpointed_resources_survive_a_restart() {
    let h = Harness::recovered_with(Recovered {
        checkpointed_resources: vec![volume("v1")],
        ..Default::default()
    });
    let info = h.agent.snapshot().agent_info;
    assert!(
        info.resources.iter().any(|r| r.disk.is_some()),
        "the recovered volume is in the total: {info:#?}"
    );
}

#[test]
fn a_set_that_does_not_fit_the_agent_is_not_taken() {
    let mut h = Harness::registered();
    let effects = h.step(Input::CheckpointResources(vec![dynamic("cpus", 64.0)]));
    assert!(effects.is_empty(), "{effects:#?}");
}
