//! What each process has persisted, kept outside the process so it survives a crash. Commits
//! are whole batches (the store's contract), so a crash loses a step's writes entirely or
//! not at all; anything the step would have sent after its commit is lost with the process.
//!
//! The byte encodings live in the daemons' crates (`drover-master::persist`,
//! `drover-agent::checkpoint`, `drover-marathon::storage`), which this crate may not depend
//! on; these typed mirrors apply the same operations with the same keys' meaning.

use std::collections::{BTreeMap, BTreeSet};

use drover_core::agent::sum::Pending;
use drover_core::agent::{CheckpointOp, FrameworkId, Recovered, RecoveredExecutor, TaskId};
use drover_core::marathon::app::AppSpec;
use drover_core::marathon::deployment::Deployment;
use drover_core::marathon::group::{GroupSnapshot, GroupSpec};
use drover_core::marathon::instance::Instance;
use drover_core::marathon::path::PathId;
use drover_core::marathon::scheduler::{Change, Restored, Scheduler};
use drover_wire::v1;

/// An agent's checkpoint store, by the keys `drover-agent::checkpoint` uses.
#[derive(Debug, Clone, Default)]
pub struct AgentDisk {
    /// (agent id, boot id).
    pub agent: Option<(String, String)>,
    frameworks: BTreeMap<String, v1::FrameworkInfo>,
    executors: BTreeMap<(String, String), RecoveredExecutor>,
    tasks: BTreeMap<(String, String), v1::Task>,
    updates: BTreeMap<(String, String, u64), v1::TaskStatus>,
    acks: BTreeSet<(String, String, Vec<u8>)>,
    resources: Vec<v1::Resource>,
    drain: Option<v1::DrainConfig>,
}

impl AgentDisk {
    /// Applies one checkpoint.
    pub fn apply(&mut self, op: &CheckpointOp) {
        match op {
            CheckpointOp::Agent { agent_id, boot_id } => {
                self.agent = Some((agent_id.clone(), boot_id.clone()));
            }
            CheckpointOp::PutResources(list) => self.resources = list.clone(),
            CheckpointOp::Drain(config) => self.drain = *config,
            CheckpointOp::PutFramework(info) => {
                let id = info
                    .id
                    .as_ref()
                    .map(|i| i.value.clone())
                    .unwrap_or_default();
                self.frameworks.insert(id, info.clone());
            }
            CheckpointOp::RemoveFramework(id) => {
                self.frameworks.remove(id.as_str());
            }
            CheckpointOp::PutExecutor(record) => {
                let key = (
                    record.framework_id.0.clone(),
                    record.info.executor_id.value.clone(),
                );
                self.executors.insert(key, record.clone());
            }
            CheckpointOp::RemoveExecutor {
                framework_id,
                executor_id,
                ..
            } => {
                self.executors
                    .remove(&(framework_id.0.clone(), executor_id.0.clone()));
            }
            CheckpointOp::PutTask(task) => {
                let key = (task.framework_id.value.clone(), task.task_id.value.clone());
                self.tasks.insert(key, task.clone());
            }
            CheckpointOp::RemoveTask {
                framework_id,
                task_id,
                update_seqs,
                acks,
            } => {
                let (f, t) = (framework_id.0.clone(), task_id.0.clone());
                self.tasks.remove(&(f.clone(), t.clone()));
                for seq in update_seqs {
                    self.updates.remove(&(f.clone(), t.clone(), *seq));
                }
                for uuid in acks {
                    self.acks.remove(&(f.clone(), t.clone(), uuid.clone()));
                }
            }
            CheckpointOp::PutUpdate {
                framework_id,
                task_id,
                seq,
                status,
            } => {
                self.updates.insert(
                    (framework_id.0.clone(), task_id.0.clone(), *seq),
                    status.clone(),
                );
            }
            CheckpointOp::AckUpdate {
                framework_id,
                task_id,
                seq,
                uuid,
            } => {
                let (f, t) = (framework_id.0.clone(), task_id.0.clone());
                self.updates.remove(&(f.clone(), t.clone(), *seq));
                self.acks.insert((f, t, uuid.clone()));
            }
        }
    }

    /// What the driver's `checkpoint::load` would hand the core; `alive` says which
    /// containers still run (the containerizer's answer).
    pub fn recovered(&self, boot_id: &str, alive: impl Fn(&str) -> bool) -> Recovered {
        let rebooted = self.agent.as_ref().is_some_and(|(_, b)| b != boot_id);
        Recovered {
            agent_id: self.agent.as_ref().map(|(a, _)| a.clone()),
            rebooted,
            checkpointed_resources: self.resources.clone(),
            drain: self.drain,
            frameworks: self.frameworks.values().cloned().collect(),
            executors: self
                .executors
                .values()
                .map(|e| RecoveredExecutor {
                    alive: !rebooted && alive(e.container_id.as_str()),
                    ..e.clone()
                })
                .collect(),
            tasks: self.tasks.values().cloned().collect(),
            updates: self
                .updates
                .iter()
                .map(|((f, t, seq), status)| {
                    (
                        FrameworkId(f.clone()),
                        TaskId(t.clone()),
                        Pending {
                            seq: *seq,
                            status: status.clone(),
                        },
                    )
                })
                .collect(),
            acks: self
                .acks
                .iter()
                .map(|(f, t, u)| (FrameworkId(f.clone()), TaskId(t.clone()), u.clone()))
                .collect(),
        }
    }
}

/// Marathon's store: what `drover-marathon::storage` writes for each [`Change`].
#[derive(Debug, Clone, Default)]
pub struct MarathonDisk {
    /// The framework id.
    pub framework_id: Option<String>,
    /// Current app definitions.
    pub apps: BTreeMap<PathId, AppSpec>,
    versions: BTreeMap<(PathId, u64), AppSpec>,
    /// Instances.
    pub instances: BTreeMap<String, Instance>,
    deployments: BTreeMap<String, Deployment>,
    groups: BTreeMap<PathId, GroupSpec>,
    group_versions: BTreeMap<(PathId, u64), GroupSnapshot>,
}

impl MarathonDisk {
    /// Writes the state a change names, read from the scheduler after its step.
    pub fn apply(&mut self, s: &Scheduler, change: &Change) {
        match change {
            Change::App(id) => match s.app(id) {
                Some(app) => {
                    self.apps.insert(id.clone(), app.clone());
                }
                None => {
                    self.apps.remove(id);
                    self.versions.retain(|(a, _), _| a != id);
                }
            },
            Change::AppVersion(id, v) => match s.versions(id).find(|a| a.version_ms == *v) {
                Some(app) => {
                    self.versions.insert((id.clone(), *v), app.clone());
                }
                None => {
                    self.versions.remove(&(id.clone(), *v));
                }
            },
            Change::Instance(id) => match s.instances().get(id) {
                Some(i) => {
                    self.instances.insert(id.clone(), i.clone());
                }
                None => {
                    self.instances.remove(id);
                }
            },
            Change::Deployment(id) => match s.deployment(id) {
                Some(d) => {
                    self.deployments.insert(id.clone(), d.clone());
                }
                None => {
                    self.deployments.remove(id);
                }
            },
            Change::FrameworkId => self.framework_id = s.framework_id().map(str::to_owned),
            Change::Group(id) => match s.groups().get(id) {
                Some(g) => {
                    self.groups.insert(id.clone(), g.clone());
                }
                None => {
                    self.groups.remove(id);
                }
            },
            Change::GroupVersion(id, v) => {
                match s.group_versions(id).find(|g| g.version_ms == *v) {
                    Some(g) => {
                        self.group_versions.insert((id.clone(), *v), g.clone());
                    }
                    None => {
                        self.group_versions.remove(&(id.clone(), *v));
                    }
                }
            }
        }
    }

    /// What a restarted scheduler is rebuilt from.
    pub fn restored(&self) -> Restored {
        Restored {
            framework_id: self.framework_id.clone(),
            apps: self.apps.values().cloned().collect(),
            versions: self.versions.values().cloned().collect(),
            instances: self.instances.values().cloned().collect(),
            deployments: self.deployments.values().cloned().collect(),
            groups: self.groups.values().cloned().collect(),
            group_versions: self.group_versions.values().cloned().collect(),
        }
    }
}
