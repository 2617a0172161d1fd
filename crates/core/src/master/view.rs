//! Read-only answers built from the master's state: the operator API's GET_* responses,
//! the objects of operator events, and the `/metrics/snapshot` numbers with Mesos' keys.

use drover_wire::v1;
use drover_wire::v1::master::response;

use super::{AgentStatus, Framework, Master, TaskEntry, seconds, time_info};
use crate::resources;
use crate::task::TaskState;

/// The v1 `Task` of an entry: statuses as Mesos keeps them (one per consecutive state,
/// `data` cleared).
pub fn task_of(entry: &TaskEntry) -> v1::Task {
    entry.task.clone()
}

impl Master {
    /// The operator view of one framework.
    pub fn framework_view(
        &self,
        framework_id: &str,
    ) -> Option<response::get_frameworks::Framework> {
        self.frameworks
            .get(framework_id)
            .map(|fw| self.framework_object(fw, true))
    }

    fn framework_object(&self, fw: &Framework, live: bool) -> response::get_frameworks::Framework {
        let id = fw.id();
        let offers: Vec<v1::Offer> = self
            .offers
            .values()
            .filter(|o| o.offer.framework_id.value == id)
            .map(|o| o.offer.clone())
            .collect();
        let offered: Vec<v1::Resource> = offers.iter().flat_map(|o| o.resources.clone()).collect();
        let allocated: Vec<v1::Resource> = if live {
            fw.tasks
                .values()
                .filter(|e| !crate::task::state::releases_resources(e.state()))
                .flat_map(|e| e.task.resources.clone())
                .collect()
        } else {
            Vec::new()
        };
        response::get_frameworks::Framework {
            framework_info: fw.info.clone(),
            active: fw.connected(),
            connected: fw.connected(),
            recovered: fw.recovered,
            registered_time: fw.registered_time_ms.map(time_info),
            reregistered_time: fw.reregistered_time_ms.map(time_info),
            unregistered_time: fw.unregistered_time_ms.map(time_info),
            offers,
            inverse_offers: self.framework_inverse_offers(id),
            allocated_resources: resources::normalize(&allocated),
            offered_resources: resources::normalize(&offered),
            offer_constraints: None,
        }
    }

    /// The operator view of one admitted agent.
    pub fn agent_view(&self, agent_id: &str) -> Option<response::get_agents::Agent> {
        let agent = self.agents.get(agent_id)?;
        let deactivated = self.registry.deactivated.contains(agent_id);
        Some(response::get_agents::Agent {
            agent_info: agent.info.clone(),
            active: agent.status == AgentStatus::Connected && !deactivated,
            deactivated: Some(agent.status != AgentStatus::Connected || deactivated),
            version: agent.version.clone(),
            pid: Some(format!(
                "slave(1)@{}:{}",
                agent.info.hostname,
                agent.info.port.unwrap_or(5051)
            )),
            registered_time: Some(time_info(agent.registered_time_ms)),
            reregistered_time: agent.reregistered_time_ms.map(time_info),
            total_resources: self.agent_total(agent).into_owned(),
            allocated_resources: self.agent_used(agent_id),
            offered_resources: self.agent_offered(agent_id),
            capabilities: agent.capabilities.clone(),
            resource_providers: Vec::new(),
            drain_info: self.registry.drains.get(agent_id).cloned(),
            estimated_drain_start_time: None,
        })
    }

    /// GET_AGENTS: agents that are (or were) registered with this master, and the ones
    /// recovered from the registry that have not reregistered yet.
    pub fn get_agents(&self) -> response::GetAgents {
        let mut out = response::GetAgents::default();
        for (id, agent) in &self.agents {
            if agent.status == AgentStatus::Recovered {
                out.recovered_agents.push(agent.info.clone());
            } else if let Some(view) = self.agent_view(id) {
                out.agents.push(view);
            }
        }
        out
    }

    /// GET_FRAMEWORKS.
    pub fn get_frameworks(&self) -> response::GetFrameworks {
        response::GetFrameworks {
            frameworks: self
                .frameworks
                .values()
                .map(|f| self.framework_object(f, true))
                .collect(),
            completed_frameworks: self
                .completed_frameworks
                .iter()
                .map(|f| self.framework_object(f, false))
                .collect(),
            ..Default::default()
        }
    }

    /// GET_TASKS: live, unreachable and completed tasks of every framework (also those of
    /// removed frameworks still remembered).
    pub fn get_tasks(&self) -> response::GetTasks {
        let mut out = response::GetTasks::default();
        for fw in self
            .frameworks
            .values()
            .chain(self.completed_frameworks.iter())
        {
            out.tasks.extend(fw.tasks.values().map(|e| task_of(e)));
            out.unreachable_tasks
                .extend(fw.unreachable_tasks.values().map(|e| task_of(e)));
            out.completed_tasks
                .extend(fw.completed_tasks.iter().map(|e| task_of(e)));
        }
        out
    }

    /// GET_EXECUTORS.
    pub fn get_executors(&self) -> response::GetExecutors {
        let mut out = response::GetExecutors::default();
        for (id, agent) in &self.agents {
            for executor in agent.executors.values() {
                out.executors.push(response::get_executors::Executor {
                    executor_info: executor.clone(),
                    agent_id: v1::AgentId { value: id.clone() },
                });
            }
        }
        out
    }

    /// GET_STATE.
    pub fn get_state(&self) -> response::GetState {
        response::GetState {
            get_tasks: Some(self.get_tasks()),
            get_executors: Some(self.get_executors()),
            get_frameworks: Some(self.get_frameworks()),
            get_agents: Some(self.get_agents()),
        }
    }

    /// GET_MASTER.
    pub fn get_master(&self) -> response::GetMaster {
        response::GetMaster {
            master_info: Some(self.config.master_info.clone()),
            start_time: Some(seconds(self.start_ms)),
            elected_time: Some(seconds(self.start_ms)),
        }
    }

    /// Every task entry with its framework id: (framework id, entry, kind), kind being
    /// "live", "unreachable" or "completed". For legacy endpoints that show histories.
    pub fn task_entries(&self) -> Vec<(&str, &TaskEntry, &'static str)> {
        let mut out = Vec::new();
        for fw in self
            .frameworks
            .values()
            .chain(self.completed_frameworks.iter())
        {
            let id = fw.id();
            out.extend(fw.tasks.values().map(|e| (id, &**e, "live")));
            out.extend(
                fw.unreachable_tasks
                    .values()
                    .map(|e| (id, &**e, "unreachable")),
            );
            out.extend(fw.completed_tasks.iter().map(|e| (id, &**e, "completed")));
        }
        out
    }

    /// Mesos' metric keys and values (`apache/mesos src/master/metrics.cpp`).
    pub fn metrics(&self, now_ms: u64) -> Vec<(String, f64)> {
        let mut m: Vec<(String, f64)> = Vec::new();
        let mut put = |k: &str, v: f64| m.push((format!("master/{k}"), v));
        put("elected", 1.0);
        put(
            "uptime_secs",
            now_ms.saturating_sub(self.start_ms) as f64 / 1000.0,
        );
        let count = |s: AgentStatus| self.agents.values().filter(|a| a.status == s).count() as f64;
        let connected = count(AgentStatus::Connected);
        let disconnected = count(AgentStatus::Disconnected);
        put("slaves_active", connected);
        put("slaves_connected", connected);
        put("slaves_disconnected", disconnected);
        put(
            "slaves_inactive",
            disconnected + count(AgentStatus::Recovered),
        );
        put("slaves_unreachable", self.registry.unreachable.len() as f64);
        put("recovery_slave_removals", 0.0);
        let fws_connected = self.frameworks.values().filter(|f| f.connected()).count() as f64;
        let fws = self.frameworks.len() as f64;
        put("frameworks_active", fws_connected);
        put("frameworks_connected", fws_connected);
        put("frameworks_disconnected", fws - fws_connected);
        put("frameworks_inactive", fws - fws_connected);
        let states = [
            ("staging", TaskState::TaskStaging),
            ("starting", TaskState::TaskStarting),
            ("running", TaskState::TaskRunning),
            ("killing", TaskState::TaskKilling),
            ("finished", TaskState::TaskFinished),
            ("failed", TaskState::TaskFailed),
            ("killed", TaskState::TaskKilled),
            ("lost", TaskState::TaskLost),
            ("error", TaskState::TaskError),
            ("dropped", TaskState::TaskDropped),
            ("unreachable", TaskState::TaskUnreachable),
            ("gone", TaskState::TaskGone),
            ("gone_by_operator", TaskState::TaskGoneByOperator),
        ];
        let entries = self.task_entries();
        for (name, state) in states {
            let n = entries
                .iter()
                .filter(|(_, e, _)| e.state() == state)
                .count() as f64;
            put(&format!("tasks_{name}"), n);
        }
        let total: Vec<v1::Resource> = self
            .agents
            .values()
            .filter(|a| a.status == AgentStatus::Connected)
            .flat_map(|a| a.info.resources.clone())
            .collect();
        // One scan over the tasks (what `agent_used` gives summed over every agent), not one
        // per agent: O(agents × tasks) took minutes at 10,000 agents (issue 8).
        let mut used: Vec<v1::Resource> = Vec::new();
        for fw in self.frameworks.values() {
            for entry in fw.tasks.values() {
                if self.agents.contains_key(&entry.task.agent_id.value)
                    && !crate::task::state::releases_resources(entry.state())
                {
                    used.extend(resources::unallocate(&entry.task.resources));
                }
            }
        }
        for agent in self.agents.values() {
            for executor in agent.executors.values() {
                used.extend(executor.resources.iter().cloned());
            }
        }
        for name in ["cpus", "mem", "disk", "gpus"] {
            let t = resources::scalar(&total, name);
            let u = resources::scalar(&used, name);
            put(&format!("{name}_total"), t);
            put(&format!("{name}_used"), u);
            put(
                &format!("{name}_percent"),
                if t > 0.0 { u / t } else { 0.0 },
            );
        }
        put("outstanding_offers", self.offers.len() as f64);
        let c = self.counters;
        put("valid_status_updates", c.valid_status_updates as f64);
        put("invalid_status_updates", c.invalid_status_updates as f64);
        put(
            "invalid_status_update_acknowledgements",
            c.invalid_status_update_acknowledgements as f64,
        );
        put("slave_removals", c.agent_removals as f64);
        put(
            "slave_unreachable_scheduled",
            c.agent_unreachable_scheduled as f64,
        );
        put(
            "slave_unreachable_completed",
            c.agent_unreachable_completed as f64,
        );
        put(
            "slave_unreachable_canceled",
            c.agent_unreachable_canceled as f64,
        );
        put("messages_decline_offers", 0.0);
        put("event_queue_messages", 0.0);
        m.extend(self.quota_metrics());
        m
    }
}
