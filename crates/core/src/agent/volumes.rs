//! The agent's checkpointed resources: its dynamic reservations and persistent volumes, as
//! the master last sent them (CHECKPOINT_RESOURCES). They are persisted, make the agent's
//! total (what it registers with and shows), decide which volume directories exist under
//! `<work_dir>/volumes/roles/`, and are checked at every launch: a task using checkpointed
//! resources the agent does not have is refused with REASON_RESOURCES_UNKNOWN, as Mesos'
//! agent did (the master's message was lost or overtaken).

use drover_wire::v1;

use super::{Agent, CheckpointOp, Effect};
use crate::operations;
use crate::resources;

/// Where a persistent volume lives on the agent: `<work_dir>/volumes/roles/<role>/<id>`. A
/// hierarchical role's `/` becomes a space (roles cannot contain whitespace), so every role
/// is one directory and no role's volumes can sit inside another's.
pub fn volume_dir(work_dir: &str, role: &str, persistence_id: &str) -> String {
    format!(
        "{}/volumes/roles/{}/{}",
        work_dir.trim_end_matches('/'),
        role.replace('/', " "),
        persistence_id
    )
}

/// The root of every volume directory of an agent with this work dir.
pub fn volumes_root(work_dir: &str) -> String {
    format!("{}/volumes/roles", work_dir.trim_end_matches('/'))
}

impl Agent {
    /// The master's CHECKPOINT_RESOURCES: persisted, then the volume directories follow it.
    pub(super) fn checkpoint_resources(&mut self, list: Vec<v1::Resource>, out: &mut Vec<Effect>) {
        let list = resources::normalize(&list);
        if operations::checkpoint(&self.config.agent_info.resources, &list).is_err() {
            // Resources the agent does not have cannot be checkpointed; Mesos' agent refused
            // them the same way (and the master offered nothing of them).
            return;
        }
        self.checkpointed = list.clone();
        out.push(Effect::Checkpoint(CheckpointOp::PutResources(list)));
        out.push(Effect::SyncVolumes(self.volume_dirs()));
    }

    /// The directories of every persistent volume the agent has, and of every volume a live
    /// container uses: data a running task works on is never deleted under it, whatever set
    /// the master sends (its DESTROY refuses volumes in use; this guards everything else).
    pub(super) fn volume_dirs(&self) -> Vec<String> {
        let mut dirs: Vec<String> = self
            .volume_links(&self.checkpointed)
            .into_iter()
            .map(|v| v.dir)
            .collect();
        for executor in self.frameworks.values().flat_map(|f| f.executors.values()) {
            if executor.state == super::model::ExecutorState::Terminated {
                continue;
            }
            let mut used = executor.info.resources.clone();
            for task in executor.tasks.values() {
                used.extend(task.info.resources.iter().cloned());
            }
            for volume in self.volume_links(&used) {
                if !dirs.contains(&volume.dir) {
                    dirs.push(volume.dir);
                }
            }
        }
        dirs
    }

    /// The agent's total: its static resources with its checkpointed ones applied.
    pub(super) fn total_resources(&self) -> Vec<v1::Resource> {
        if self.checkpointed.is_empty() {
            return self.config.agent_info.resources.clone();
        }
        operations::checkpoint(&self.config.agent_info.resources, &self.checkpointed)
            .unwrap_or_else(|_| self.config.agent_info.resources.clone())
    }

    /// Why a launch using `needed` must be refused: checkpointed resources the agent does
    /// not have (REASON_RESOURCES_UNKNOWN).
    pub(super) fn unknown_checkpointed(&self, needed: &[v1::Resource]) -> Option<String> {
        let needed: Vec<v1::Resource> = resources::unallocate(needed)
            .into_iter()
            .filter(resources::is_checkpointed)
            .collect();
        if needed.is_empty() || resources::contains(&self.checkpointed, &needed) {
            return None;
        }
        Some(format!(
            "The checkpointed resources being used by the task or task group are unknown to \
             the agent: {}",
            resources::display(&needed)
        ))
    }

    /// The persistent volumes among `used` (where each goes in the sandbox, its directory,
    /// its mode) for the driver to make visible in the sandbox.
    pub(super) fn volume_links(&self, used: &[v1::Resource]) -> Vec<super::VolumeUse> {
        used.iter()
            .filter_map(|r| {
                let id = operations::persistence_id(r)?;
                let volume = r.disk.as_ref()?.volume.as_ref()?;
                Some(super::VolumeUse {
                    container_path: volume.container_path.clone(),
                    dir: volume_dir(&self.config.work_dir, resources::reservation_role(r), id),
                    read_only: volume.mode == v1::volume::Mode::Ro as i32,
                })
            })
            .collect()
    }
}
