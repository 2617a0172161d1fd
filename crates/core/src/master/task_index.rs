//! Live tasks by agent: which (framework, task) pairs of `Framework::tasks` run on each agent.
//!
//! Reregistration (which tasks did the agent not report?), disconnection, marking unreachable
//! and removal all ask "the live tasks on this agent"; scanning every framework's tasks made
//! each of them O(tasks), so re-admitting 10,000 agents × 10 tasks after a master restart cost
//! O(agents × tasks) (issue 8, G6). The index is kept exactly in step with `Framework::tasks`
//! by [`Master::insert_live_task`] and [`Master::remove_live_task`], the only two places that
//! change that map (they keep the [`super::ledger`] sums too); [`Master::check_invariants`] compares it with a full scan.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::{Master, TaskEntry};
use crate::task::state::releases_resources;

/// (framework id, task id) pairs by agent id. Iteration order is framework id, then task id:
/// the order of a scan of `Master::frameworks` and their `tasks`, so answers do not change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentTasks {
    by_agent: BTreeMap<String, BTreeSet<(String, String)>>,
}

impl AgentTasks {
    /// Records a live task on an agent.
    pub fn insert(&mut self, agent_id: &str, framework_id: &str, task_id: &str) {
        let key = (framework_id.to_owned(), task_id.to_owned());
        // The agent's id is copied only for its first task (G6: 100,000 tasks reregistered).
        match self.by_agent.get_mut(agent_id) {
            Some(set) => {
                set.insert(key);
            }
            None => {
                self.by_agent
                    .insert(agent_id.to_owned(), BTreeSet::from([key]));
            }
        }
    }

    /// Forgets a live task; agents left without tasks are dropped, so memory follows tasks.
    pub fn remove(&mut self, agent_id: &str, framework_id: &str, task_id: &str) {
        if let Some(set) = self.by_agent.get_mut(agent_id) {
            set.remove(&(framework_id.to_owned(), task_id.to_owned()));
            if set.is_empty() {
                self.by_agent.remove(agent_id);
            }
        }
    }

    /// Whether the agent holds the live task (framework id, task id).
    pub fn holds(&self, agent_id: &str, key: &(String, String)) -> bool {
        self.by_agent
            .get(agent_id)
            .is_some_and(|set| set.contains(key))
    }

    /// Every (framework id, task id) live on the agent, by framework id then task id.
    pub fn on_agent(&self, agent_id: &str) -> impl Iterator<Item = &(String, String)> {
        self.by_agent.get(agent_id).into_iter().flatten()
    }

    /// The ids of the framework's live tasks on the agent, in task id order.
    pub fn of_framework(&self, agent_id: &str, framework_id: &str) -> Vec<String> {
        let Some(set) = self.by_agent.get(agent_id) else {
            return Vec::new();
        };
        set.range((framework_id.to_owned(), String::new())..)
            .take_while(|(fw, _)| fw == framework_id)
            .map(|(_, task)| task.clone())
            .collect()
    }

    /// The index a full scan of the frameworks would build (for the invariant check).
    pub fn scan<'a>(
        frameworks: impl Iterator<Item = (&'a String, &'a BTreeMap<String, Arc<TaskEntry>>)>,
    ) -> AgentTasks {
        let mut index = AgentTasks::default();
        for (fw_id, tasks) in frameworks {
            for (task_id, entry) in tasks {
                index.insert(&entry.task.agent_id.value, fw_id, task_id);
            }
        }
        index
    }
}

impl Master {
    /// Puts a task among the framework's live tasks (replacing any entry of the same id).
    pub(super) fn insert_live_task(
        &mut self,
        framework_id: &str,
        task_id: String,
        entry: TaskEntry,
    ) {
        let Some(fw) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        let agent_id = entry.task.agent_id.value.clone();
        if !releases_resources(entry.state()) {
            self.ledger
                .hold_task(&agent_id, framework_id, &entry.task.resources);
        }
        if let Some(old) = fw.tasks.insert(task_id.clone(), Arc::new(entry)) {
            self.agent_tasks
                .remove(&old.task.agent_id.value, framework_id, &task_id);
            if !releases_resources(old.state()) {
                self.ledger.release_task(
                    &old.task.agent_id.value,
                    framework_id,
                    &old.task.resources,
                );
            }
        }
        self.agent_tasks.insert(&agent_id, framework_id, &task_id);
    }

    /// Takes a task out of the framework's live tasks.
    pub(super) fn remove_live_task(
        &mut self,
        framework_id: &str,
        task_id: &str,
    ) -> Option<TaskEntry> {
        let entry = self
            .frameworks
            .get_mut(framework_id)?
            .tasks
            .remove(task_id)?;
        self.agent_tasks
            .remove(&entry.task.agent_id.value, framework_id, task_id);
        if !releases_resources(entry.state()) {
            self.ledger.release_task(
                &entry.task.agent_id.value,
                framework_id,
                &entry.task.resources,
            );
        }
        Some(Arc::unwrap_or_clone(entry))
    }

    /// The live-task index, for views and checks.
    pub fn agent_tasks(&self) -> &AgentTasks {
        &self.agent_tasks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_scan_order_and_drops_empty_agents() {
        let mut index = AgentTasks::default();
        index.insert("a1", "fw2", "t1");
        index.insert("a1", "fw1", "t2");
        index.insert("a1", "fw1", "t1");
        index.insert("a2", "fw1", "t3");
        let on_a1: Vec<_> = index.on_agent("a1").cloned().collect();
        assert_eq!(
            on_a1,
            vec![
                ("fw1".to_owned(), "t1".to_owned()),
                ("fw1".to_owned(), "t2".to_owned()),
                ("fw2".to_owned(), "t1".to_owned()),
            ]
        );
        assert_eq!(index.of_framework("a1", "fw1"), vec!["t1", "t2"]);
        assert_eq!(index.of_framework("a1", "fw0"), Vec::<String>::new());
        assert_eq!(index.of_framework("a3", "fw1"), Vec::<String>::new());
        index.remove("a2", "fw1", "t3");
        assert_eq!(index.on_agent("a2").count(), 0);
        assert!(!index.by_agent.contains_key("a2"));
    }
}
