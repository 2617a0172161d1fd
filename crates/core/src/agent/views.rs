//! Read-only views of the agent for the state endpoints and for reregistration.

use drover_wire::internal;
use drover_wire::v1;

use super::Agent;
use super::model::ExecutorState;

/// One executor as the state endpoints show it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutorView {
    /// Its info.
    pub info: v1::ExecutorInfo,
    /// Its container id.
    pub container_id: String,
    /// Its sandbox.
    pub directory: String,
    /// Live tasks (not yet delivered ones included).
    pub tasks: Vec<v1::Task>,
    /// Tasks not delivered yet.
    pub queued_tasks: Vec<v1::Task>,
    /// Completed tasks.
    pub completed_tasks: Vec<v1::Task>,
    /// Whether it is subscribed.
    pub running: bool,
}

/// One framework as the state endpoints show it.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameworkView {
    /// Its info.
    pub info: v1::FrameworkInfo,
    /// Its executors.
    pub executors: Vec<ExecutorView>,
    /// Its executors that ended (bounded), with their sandboxes.
    pub completed_executors: Vec<ExecutorView>,
}

impl FrameworkView {
    /// The user an executor of this framework runs as: its command's, else the framework's.
    pub fn executor_user<'a>(&'a self, executor: &'a ExecutorView) -> &'a str {
        executor
            .info
            .command
            .as_ref()
            .and_then(|c| c.user.as_deref())
            .unwrap_or(&self.info.user)
    }
}

/// Everything the state endpoints show.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Snapshot {
    /// The agent's info with id.
    pub agent_info: v1::AgentInfo,
    /// Whether the agent is registered with a master.
    pub registered: bool,
    /// Whether recovery is complete.
    pub recovered: bool,
    /// Frameworks.
    pub frameworks: Vec<FrameworkView>,
    /// Frameworks with nothing left on the agent (bounded).
    pub completed_frameworks: Vec<FrameworkView>,
    /// Unacknowledged status updates, all streams.
    pub pending_updates: usize,
    /// The drain in progress and when this agent process began it (ms), if it drains.
    pub drain: Option<(v1::DrainConfig, u64)>,
}

impl super::Executor {
    /// This executor as the state endpoints show it.
    pub fn view(
        &self,
        framework_id: &super::FrameworkId,
        executor_id: &super::ExecutorId,
        agent_id: &str,
    ) -> ExecutorView {
        let v1_task =
            |t: &super::Task| t.to_v1(framework_id.as_str(), Some(executor_id.as_str()), agent_id);
        ExecutorView {
            info: self.info.clone(),
            container_id: self.container_id.0.clone(),
            directory: self.directory.clone(),
            tasks: self
                .tasks
                .values()
                .filter(|t| t.delivered)
                .map(v1_task)
                .collect(),
            queued_tasks: self
                .tasks
                .values()
                .filter(|t| !t.delivered)
                .map(v1_task)
                .collect(),
            completed_tasks: self.completed.clone(),
            running: self.state == ExecutorState::Running,
        }
    }
}

impl Agent {
    /// The container of an executor, if the agent knows it (a lookup, not a snapshot: the
    /// driver asks on every terminal update).
    pub fn executor_container(&self, framework_id: &str, executor_id: &str) -> Option<&str> {
        self.frameworks
            .get(&super::FrameworkId(framework_id.to_owned()))?
            .executors
            .get(&super::ExecutorId(executor_id.to_owned()))
            .map(|e| e.container_id.0.as_str())
    }

    /// A snapshot for the state endpoints.
    pub fn snapshot(&self) -> Snapshot {
        let agent_id = self.agent_id_or_empty();
        let frameworks = self
            .frameworks
            .iter()
            .map(|(framework_id, framework)| FrameworkView {
                info: framework.info.clone(),
                executors: framework
                    .executors
                    .iter()
                    .map(|(executor_id, e)| e.view(framework_id, executor_id, &agent_id))
                    .collect(),
                completed_executors: framework.completed_executors.iter().cloned().collect(),
            })
            .collect();
        Snapshot {
            agent_info: self.agent_info(),
            registered: self.registered,
            recovered: self.is_recovered(),
            frameworks,
            completed_frameworks: self.completed_frameworks.iter().cloned().collect(),
            pending_updates: self.sum.streams().map(|(_, s)| s.pending().count()).sum(),
            drain: self.drain.zip(self.drain_started_ms),
        }
    }

    /// The REGISTER (no agent id yet) or REREGISTER call for a new session with the master.
    pub fn registration_call(&self, version: &str) -> internal::AgentCall {
        let agent_info = self.agent_info();
        let capabilities = vec![v1::agent_info::Capability {
            r#type: Some(v1::agent_info::capability::Type::MultiRole as i32),
        }];
        match &self.agent_id {
            None => internal::AgentCall {
                r#type: Some(internal::agent_call::Type::Register as i32),
                register: Some(internal::agent_call::Register {
                    agent_info,
                    version: Some(version.to_owned()),
                    boot_id: Some(self.config.boot_id.clone()),
                    capabilities,
                    ip: self.config.ip.clone(),
                }),
                ..Default::default()
            },
            Some(agent_id) => {
                let mut tasks = Vec::new();
                let mut executors = Vec::new();
                let mut frameworks = Vec::new();
                for (framework_id, framework) in &self.frameworks {
                    frameworks.push(framework.info.clone());
                    for (executor_id, executor) in &framework.executors {
                        if !executor.command_executor {
                            executors.push(executor.info.clone());
                        }
                        for task in executor.tasks.values() {
                            let mut t = task.to_v1(
                                framework_id.as_str(),
                                Some(executor_id.as_str()),
                                agent_id,
                            );
                            if let Some(head) = self
                                .sum
                                .stream(
                                    framework_id,
                                    &super::TaskId(task.info.task_id.value.clone()),
                                )
                                .and_then(|s| s.pending().next())
                            {
                                // The master reconciles with what the framework has been
                                // told, not with what the agent knows (spec §1.6).
                                t.status_update_state = Some(head.status.state);
                                t.status_update_uuid = head.status.uuid.clone();
                            }
                            tasks.push(t);
                        }
                    }
                }
                internal::AgentCall {
                    r#type: Some(internal::agent_call::Type::Reregister as i32),
                    agent_id: Some(v1::AgentId {
                        value: agent_id.clone(),
                    }),
                    reregister: Some(internal::agent_call::Reregister {
                        agent_info,
                        version: Some(version.to_owned()),
                        boot_id: Some(self.config.boot_id.clone()),
                        capabilities,
                        tasks,
                        executors,
                        frameworks,
                        ip: self.config.ip.clone(),
                    }),
                    ..Default::default()
                }
            }
        }
    }
}

impl Snapshot {
    /// What `principal` may see of this snapshot under `rules`, as Mesos' agent filtered its
    /// state: frameworks by `view_frameworks`, then their executors (live and completed) by
    /// `view_executors`, then the executors' tasks by `view_tasks` (a task's user is its own,
    /// else its executor's).
    pub fn visible_to(&self, rules: &crate::acl::ViewRules, principal: Option<&str>) -> Snapshot {
        let mut visible = self.clone();
        filter_frameworks(&mut visible.frameworks, rules, principal);
        filter_frameworks(&mut visible.completed_frameworks, rules, principal);
        visible
    }
}

fn filter_frameworks(
    frameworks: &mut Vec<FrameworkView>,
    rules: &crate::acl::ViewRules,
    principal: Option<&str>,
) {
    {
        frameworks.retain(|f| rules.frameworks.allows(principal, &f.info.user));
        for framework in frameworks.iter_mut() {
            let keep = |f: &FrameworkView, e: &ExecutorView| {
                rules.executors.allows(principal, f.executor_user(e))
            };
            let view = framework.clone();
            framework.executors.retain(|e| keep(&view, e));
            framework.completed_executors.retain(|e| keep(&view, e));
            for executor in framework
                .executors
                .iter_mut()
                .chain(framework.completed_executors.iter_mut())
            {
                let user = view.executor_user(executor).to_owned();
                let may = |t: &v1::Task| {
                    rules
                        .tasks
                        .allows(principal, t.user.as_deref().unwrap_or(&user))
                };
                executor.tasks.retain(may);
                executor.queued_tasks.retain(may);
                executor.completed_tasks.retain(may);
            }
        }
    }
}
