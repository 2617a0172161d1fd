//! Completed tasks that survive a master restart (issue 12 item 19): how a task that ends is
//! kept in memory and recorded in the registry, the bound on both
//! (`--max_completed_tasks_per_framework`, `--max_completed_frameworks`), and how a restarted
//! master gets them back. Mesos lost its completed tasks on failover; Drover promises every
//! task's story, so the newest ones of each framework are persisted with their status history.
//!
//! The registry mirror and the framework share each entry through an [`Arc`], so keeping the
//! record costs no second copy in memory.

use std::collections::VecDeque;
use std::sync::Arc;

use drover_wire::internal::CompletedTask;
use drover_wire::v1;

use super::registry::{CompletedRecord, RegistryOp};
use super::{Effect, Framework, HistoryEntry, Master, TaskEntry};
use crate::task::{Reason, Source, TaskState};

impl Master {
    /// Moves a live task to the completed list.
    pub(super) fn complete_task(
        &mut self,
        framework_id: &str,
        task_id: &str,
        out: &mut Vec<Effect>,
    ) {
        if let Some(entry) = self.remove_live_task(framework_id, task_id) {
            self.push_completed(framework_id, entry, out);
        }
    }

    /// Keeps a task that ended, newest last, and records it in the registry; the oldest beyond
    /// the bound are dropped from both.
    pub(super) fn push_completed(
        &mut self,
        framework_id: &str,
        entry: TaskEntry,
        out: &mut Vec<Effect>,
    ) {
        let max = self.config.max_completed_tasks_per_framework;
        let Some(fw) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        let entry = Arc::new(entry);
        fw.completed_tasks.push_back(Arc::clone(&entry));
        while fw.completed_tasks.len() > max {
            fw.completed_tasks.pop_front();
        }
        let kept = self
            .registry
            .completed
            .get(framework_id)
            .map_or(0, VecDeque::len);
        // Room for the new record (none when nothing may be kept).
        let evict_count = (kept + 1).saturating_sub(max).min(kept);
        let evict: Vec<u64> = self
            .registry
            .completed
            .get(framework_id)
            .map(|q| q.iter().take(evict_count).map(|r| r.seq).collect())
            .unwrap_or_default();
        let record = (max > 0).then_some(CompletedRecord {
            seq: self.registry.next_completed_seq,
            entry,
        });
        if record.is_none() && evict.is_empty() {
            return;
        }
        self.persist(
            RegistryOp::CompleteTask {
                framework_id: framework_id.to_owned(),
                record,
                evict,
            },
            out,
        );
    }

    /// Drops the persisted completed tasks of a framework that no longer fits in
    /// `--max_completed_frameworks`.
    pub(super) fn forget_completed(&mut self, framework_id: &str, out: &mut Vec<Effect>) {
        let evict: Vec<u64> = self
            .registry
            .completed
            .get(framework_id)
            .map(|q| q.iter().map(|r| r.seq).collect())
            .unwrap_or_default();
        if !evict.is_empty() {
            self.persist(
                RegistryOp::CompleteTask {
                    framework_id: framework_id.to_owned(),
                    record: None,
                    evict,
                },
                out,
            );
        }
    }

    /// At start: gives each recovered framework its persisted completed tasks, and rebuilds the
    /// completed frameworks (removed ones that still have persisted tasks), newest last.
    pub(super) fn restore_completed(&mut self) {
        let max_tasks = self.config.max_completed_tasks_per_framework;
        let mut removed: Vec<(u64, Framework)> = Vec::new();
        for (fw_id, records) in &self.registry.completed {
            let skip = records.len().saturating_sub(max_tasks);
            let tasks: VecDeque<Arc<TaskEntry>> = records
                .iter()
                .skip(skip)
                .map(|r| Arc::clone(&r.entry))
                .collect();
            if let Some(fw) = self.frameworks.get_mut(fw_id) {
                fw.completed_tasks = tasks;
            } else if self.registry.removed_frameworks.contains(fw_id) {
                let info = self
                    .registry
                    .removed_infos
                    .get(fw_id)
                    .cloned()
                    .unwrap_or_else(|| v1::FrameworkInfo {
                        id: Some(v1::FrameworkId {
                            value: fw_id.clone(),
                        }),
                        ..Default::default()
                    });
                let mut fw = Framework::recovered(info);
                fw.completed_tasks = tasks;
                let last = records.back().map_or(0, |r| r.seq);
                removed.push((last, fw));
            }
        }
        removed.sort_by_key(|(last, _)| *last);
        let skip = removed
            .len()
            .saturating_sub(self.config.max_completed_frameworks);
        self.completed_frameworks = removed.into_iter().skip(skip).map(|(_, f)| f).collect();
    }
}

/// A completed task in its registry encoding.
pub fn encode(entry: &TaskEntry) -> CompletedTask {
    let mut task = entry.task.clone();
    for status in &mut task.statuses {
        status.data = None;
    }
    CompletedTask {
        task,
        role: (!entry.role.is_empty()).then(|| entry.role.clone()),
        history: entry
            .history
            .iter()
            .map(|h| v1::TaskStatus {
                task_id: entry.task.task_id.clone(),
                state: h.state as i32,
                reason: h.reason.map(|r| r as i32),
                source: h.source.map(|s| s as i32),
                message: h.message.clone(),
                healthy: h.healthy,
                timestamp: Some(h.timestamp_ms as f64 / 1000.0),
                ..Default::default()
            })
            .collect(),
        executor: entry.executor.as_deref().cloned(),
    }
}

/// A completed task back from its registry encoding.
pub fn decode(record: CompletedTask) -> TaskEntry {
    TaskEntry {
        history: record
            .history
            .iter()
            .map(|s| HistoryEntry {
                state: TaskState::try_from(s.state).unwrap_or(TaskState::TaskStaging),
                reason: s.reason.and_then(|r| Reason::try_from(r).ok()),
                source: s.source.and_then(|r| Source::try_from(r).ok()),
                message: s.message.clone(),
                timestamp_ms: s.timestamp.map_or(0, |t| (t * 1000.0).round() as u64),
                healthy: s.healthy,
            })
            .collect(),
        task: record.task,
        role: record.role.unwrap_or_default(),
        unreachable_time_ms: None,
        executor: record.executor.map(Box::new),
        acked_uuids: Vec::new(),
    }
}
