//! The agent's checkpoints in the store (namespace `agent`): how the core's
//! [`CheckpointOp`]s become writes, and how a restarted agent reads them back.
//!
//! Keys are `kind␟framework␟…` (␟ = U+001F, which no Mesos id contains). Mesos messages are
//! stored as protobuf; the driver's own records as JSON.

use std::path::PathBuf;

use drover_core::agent::sum::Pending;
use drover_core::agent::{
    CheckpointOp, ContainerId, FrameworkId, Recovered, RecoveredExecutor, TaskId,
};
use drover_store::{Store, WriteBatch};
use drover_wire::v1;
use prost::Message;
use serde_json::json;

use crate::containerizer::seam::{DockerRecord, Record};
use crate::containerizer::{CgroupPaths, CgroupVersion, Checkpoint};

/// The store namespace of agent checkpoints.
pub const NAMESPACE: &str = "agent";
const SEP: char = '\u{1f}';

fn key(parts: &[&str]) -> Vec<u8> {
    parts.join(&SEP.to_string()).into_bytes()
}

fn seq_text(seq: u64) -> String {
    format!("{seq:020}")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Adds one core checkpoint to a batch.
pub fn apply(batch: &mut WriteBatch, op: &CheckpointOp) {
    match op {
        CheckpointOp::Agent { agent_id, boot_id } => {
            let value = json!({"agent_id": agent_id, "boot_id": boot_id}).to_string();
            batch.put(NAMESPACE, key(&["agent"]), value.into_bytes());
        }
        CheckpointOp::PutResources(list) => {
            let value = drover_wire::internal::agent_event::CheckpointResources {
                resources: list.clone(),
            };
            batch.put(NAMESPACE, key(&["resources"]), value.encode_to_vec());
        }
        CheckpointOp::Drain(Some(config)) => {
            batch.put(NAMESPACE, key(&["drain"]), config.encode_to_vec());
        }
        CheckpointOp::Drain(None) => {
            batch.delete(NAMESPACE, key(&["drain"]));
        }
        CheckpointOp::PutFramework(info) => {
            let id = info.id.as_ref().map(|i| i.value.as_str()).unwrap_or("");
            batch.put(NAMESPACE, key(&["fw", id]), info.encode_to_vec());
        }
        CheckpointOp::RemoveFramework(id) => {
            batch.delete(NAMESPACE, key(&["fw", id.as_str()]));
        }
        CheckpointOp::PutExecutor(record) => {
            let value = json!({
                "info": hex(&record.info.encode_to_vec()),
                "container_id": record.container_id.as_str(),
                "directory": record.directory,
                "command_executor": record.command_executor,
            })
            .to_string();
            batch.put(
                NAMESPACE,
                key(&[
                    "ex",
                    record.framework_id.as_str(),
                    &record.info.executor_id.value,
                ]),
                value.into_bytes(),
            );
        }
        CheckpointOp::RemoveExecutor {
            framework_id,
            executor_id,
            container_id,
        } => {
            batch.delete(
                NAMESPACE,
                key(&["ex", framework_id.as_str(), executor_id.as_str()]),
            );
            batch.delete(NAMESPACE, key(&["ctr", container_id.as_str()]));
        }
        CheckpointOp::PutTask(task) => {
            batch.put(
                NAMESPACE,
                key(&["task", &task.framework_id.value, &task.task_id.value]),
                task.encode_to_vec(),
            );
        }
        CheckpointOp::RemoveTask {
            framework_id,
            task_id,
            update_seqs,
            acks,
        } => {
            batch.delete(
                NAMESPACE,
                key(&["task", framework_id.as_str(), task_id.as_str()]),
            );
            for seq in update_seqs {
                batch.delete(
                    NAMESPACE,
                    key(&[
                        "upd",
                        framework_id.as_str(),
                        task_id.as_str(),
                        &seq_text(*seq),
                    ]),
                );
            }
            for uuid in acks {
                batch.delete(
                    NAMESPACE,
                    key(&["ack", framework_id.as_str(), task_id.as_str(), &hex(uuid)]),
                );
            }
        }
        CheckpointOp::PutUpdate {
            framework_id,
            task_id,
            seq,
            status,
        } => {
            batch.put(
                NAMESPACE,
                key(&[
                    "upd",
                    framework_id.as_str(),
                    task_id.as_str(),
                    &seq_text(*seq),
                ]),
                status.encode_to_vec(),
            );
        }
        CheckpointOp::AckUpdate {
            framework_id,
            task_id,
            seq,
            uuid,
        } => {
            batch.delete(
                NAMESPACE,
                key(&[
                    "upd",
                    framework_id.as_str(),
                    task_id.as_str(),
                    &seq_text(*seq),
                ]),
            );
            batch.put(
                NAMESPACE,
                key(&["ack", framework_id.as_str(), task_id.as_str(), &hex(uuid)]),
                Vec::new(),
            );
        }
    }
}

/// Stores a container's re-attach data (written by the driver right after launch).
pub fn put_container(batch: &mut WriteBatch, record: &Record) {
    let checkpoint = match record {
        Record::Mesos(checkpoint) => checkpoint,
        Record::Docker(docker) => {
            let value = json!({
                "docker_name": docker.name,
                "sandbox_dir": docker.sandbox_dir.display().to_string(),
                "mem_limit_bytes": docker.mem_limit_bytes,
            })
            .to_string();
            batch.put(
                NAMESPACE,
                key(&["ctr", docker.container_id.as_str()]),
                value.into_bytes(),
            );
            return;
        }
    };
    let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
    let c = &checkpoint.cgroups;
    let value = json!({
        "pid": checkpoint.pid,
        "start_time_ticks": checkpoint.start_time_ticks,
        "pid_namespace": checkpoint.pid_namespace,
        "cgroup_version": match c.version { CgroupVersion::V1 => "v1", CgroupVersion::V2 => "v2" },
        "memory": path(&c.memory),
        "cpu": path(&c.cpu),
        "cpuacct": path(&c.cpuacct),
        "pids": path(&c.pids),
        "sandbox_dir": checkpoint.sandbox_dir.display().to_string(),
        "mem_limit_bytes": checkpoint.mem_limit_bytes,
    })
    .to_string();
    batch.put(
        NAMESPACE,
        key(&["ctr", checkpoint.container_id.as_str()]),
        value.into_bytes(),
    );
}

fn parse_container(id: &str, value: &[u8]) -> Option<Record> {
    let v: serde_json::Value = serde_json::from_slice(value).ok()?;
    let path = |name: &str| v[name].as_str().map(PathBuf::from);
    if let Some(name) = v["docker_name"].as_str() {
        return Some(Record::Docker(DockerRecord {
            container_id: crate::containerizer::ContainerId::new(id).ok()?,
            name: name.to_owned(),
            sandbox_dir: path("sandbox_dir")?,
            mem_limit_bytes: v["mem_limit_bytes"].as_i64(),
        }));
    }
    Some(Record::Mesos(Checkpoint {
        container_id: crate::containerizer::ContainerId::new(id).ok()?,
        pid: v["pid"].as_i64()? as i32,
        start_time_ticks: v["start_time_ticks"].as_u64(),
        pid_namespace: v["pid_namespace"].as_bool()?,
        cgroups: CgroupPaths {
            version: if v["cgroup_version"] == "v2" {
                CgroupVersion::V2
            } else {
                CgroupVersion::V1
            },
            memory: path("memory"),
            cpu: path("cpu"),
            cpuacct: path("cpuacct"),
            pids: path("pids"),
        },
        sandbox_dir: path("sandbox_dir")?,
        mem_limit_bytes: v["mem_limit_bytes"].as_u64(),
    }))
}

/// What the store holds, as the core's [`Recovered`] (all executors `alive: false`; the
/// driver decides liveness), plus the container checkpoints and the checkpointed boot id.
#[derive(Debug, Default)]
pub struct Loaded {
    /// For the core.
    pub recovered: Recovered,
    /// Container re-attach data by container id.
    pub containers: Vec<Record>,
    /// The boot id of the previous run.
    pub boot_id: Option<String>,
}

/// Reads every checkpoint. Records that do not parse are skipped with a warning: a damaged
/// record must not keep the agent from starting.
pub fn load(store: &dyn Store) -> anyhow::Result<Loaded> {
    let mut loaded = Loaded::default();
    for (k, value) in store.scan(NAMESPACE, b"")? {
        let k = String::from_utf8_lossy(&k).into_owned();
        let parts: Vec<&str> = k.split(SEP).collect();
        let ok = match parts.as_slice() {
            ["agent"] => serde_json::from_slice::<serde_json::Value>(&value)
                .ok()
                .map(|v| {
                    loaded.recovered.agent_id = v["agent_id"].as_str().map(str::to_owned);
                    loaded.boot_id = v["boot_id"].as_str().map(str::to_owned);
                })
                .is_some(),
            ["resources"] => {
                drover_wire::internal::agent_event::CheckpointResources::decode(value.as_slice())
                    .map(|c| loaded.recovered.checkpointed_resources = c.resources)
                    .is_ok()
            }
            ["drain"] => v1::DrainConfig::decode(value.as_slice())
                .map(|config| loaded.recovered.drain = Some(config))
                .is_ok(),
            ["fw", _] => v1::FrameworkInfo::decode(value.as_slice())
                .map(|info| loaded.recovered.frameworks.push(info))
                .is_ok(),
            ["ex", framework_id, _] => parse_executor(framework_id, &value)
                .map(|e| loaded.recovered.executors.push(e))
                .is_some(),
            ["task", _, _] => v1::Task::decode(value.as_slice())
                .map(|t| loaded.recovered.tasks.push(t))
                .is_ok(),
            ["upd", framework_id, task_id, seq] => {
                match (v1::TaskStatus::decode(value.as_slice()), seq.parse::<u64>()) {
                    (Ok(status), Ok(seq)) => {
                        loaded.recovered.updates.push((
                            FrameworkId((*framework_id).to_owned()),
                            TaskId((*task_id).to_owned()),
                            Pending { seq, status },
                        ));
                        true
                    }
                    _ => false,
                }
            }
            ["ack", framework_id, task_id, uuid] => unhex(uuid)
                .map(|uuid| {
                    loaded.recovered.acks.push((
                        FrameworkId((*framework_id).to_owned()),
                        TaskId((*task_id).to_owned()),
                        uuid,
                    ))
                })
                .is_some(),
            ["ctr", id] => parse_container(id, &value)
                .map(|c| loaded.containers.push(c))
                .is_some(),
            _ => false,
        };
        if !ok {
            tracing::warn!(key = %k.replace(SEP, "/"), "skipping unreadable checkpoint");
        }
    }
    Ok(loaded)
}

fn parse_executor(framework_id: &str, value: &[u8]) -> Option<RecoveredExecutor> {
    let v: serde_json::Value = serde_json::from_slice(value).ok()?;
    let info = v1::ExecutorInfo::decode(unhex(v["info"].as_str()?)?.as_slice()).ok()?;
    Some(RecoveredExecutor {
        framework_id: FrameworkId(framework_id.to_owned()),
        info,
        container_id: ContainerId(v["container_id"].as_str()?.to_owned()),
        directory: v["directory"].as_str()?.to_owned(),
        command_executor: v["command_executor"].as_bool().unwrap_or(false),
        alive: false,
    })
}
