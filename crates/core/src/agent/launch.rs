//! Master → agent: running and killing tasks, acknowledgements, framework updates and
//! shutdowns, agent-side reconciliation.

use std::collections::BTreeMap;

use drover_wire::internal;
use drover_wire::v1;

use super::model::{ExecutorState, Framework, Task, scalar};
use super::{
    Agent, COMMAND_EXECUTOR_CPUS, COMMAND_EXECUTOR_MEM_MB, CheckpointOp, ContainerId, Effect,
    Executor, ExecutorId, FrameworkId, LaunchSpec, RecoveredExecutor, TaskId,
};
use crate::task::emission::Trigger;

/// Why a task sent to a draining agent is dropped (Mesos' words).
pub(super) const DRAINING_REFUSAL: &str = "Task was received while agent was already draining";

impl Agent {
    pub(super) fn registered(&mut self, now_ms: u64, agent_id: String, out: &mut Vec<Effect>) {
        if self.agent_id.as_deref() != Some(agent_id.as_str()) {
            out.push(Effect::Checkpoint(CheckpointOp::Agent {
                agent_id: agent_id.clone(),
                boot_id: self.config.boot_id.clone(),
            }));
            self.agent_id = Some(agent_id);
        }
        self.registered = true;
        for (framework_id, status) in self.sum.resume(now_ms) {
            self.send_update(&framework_id, status, out);
        }
        self.send_oversubscribed(out);
    }

    pub(super) fn run_task(
        &mut self,
        now_ms: u64,
        run: internal::agent_event::RunTask,
        out: &mut Vec<Effect>,
    ) {
        let framework_info = run.framework_info;
        let Some(task) = run.task else {
            if let Some(group) = run.task_group {
                self.run_task_group(now_ms, framework_info, run.executor, group, out);
            }
            return;
        };
        let Some(framework_id) = self.admit_framework(&framework_info, out) else {
            return;
        };
        let task_id = TaskId(task.task_id.value.clone());
        let checkpoint = self
            .frameworks
            .get(&framework_id)
            .is_some_and(Framework::checkpoint);

        let command_executor = task.executor.is_none() && run.executor.is_none();
        let executor_info = match (&task.executor, &run.executor) {
            (Some(info), _) | (None, Some(info)) => {
                let mut info = info.clone();
                info.framework_id = framework_info.id.clone();
                info
            }
            (None, None) => self.command_executor_info(&framework_info, &task),
        };
        let executor_id = ExecutorId(executor_info.executor_id.value.clone());

        // The task is tracked (so that the generated update has a home) before any refusal.
        let duplicate = self.find_task(&framework_id, &task_id).is_some();
        if duplicate {
            // MESOS-9657: a second task with a live task's id is refused without touching
            // the first one.
            self.generate_unhomed(now_ms, &framework_id, &task, Trigger::DuplicateTaskId, out);
            return;
        }

        if self.drain.is_some() {
            self.generate_refusal(
                now_ms,
                &framework_id,
                &task,
                Trigger::AgentDraining,
                DRAINING_REFUSAL,
                out,
            );
            return;
        }

        if let Some(detail) = self.unauthorized(&framework_info, &task, Some(&executor_info)) {
            self.generate_refusal(
                now_ms,
                &framework_id,
                &task,
                Trigger::AgentUnauthorized,
                &detail,
                out,
            );
            return;
        }

        // A container setting this agent cannot honour is refused by name: running the
        // command on the host instead would be running something other than what was asked.
        if let Some(detail) = super::container::refusal(&task, &executor_info) {
            self.generate_refusal(
                now_ms,
                &framework_id,
                &task,
                Trigger::ContainerLaunchFailed,
                &detail,
                out,
            );
            return;
        }

        if let Err(detail) = self.gc_unschedule_for_launch(&framework_id, &executor_id) {
            self.generate_refusal(
                now_ms,
                &framework_id,
                &task,
                Trigger::GcUnscheduleFailed,
                &detail,
                out,
            );
            return;
        }

        let existing = self
            .frameworks
            .get(&framework_id)
            .and_then(|f| f.executors.get(&executor_id));
        if existing.is_some_and(Executor::runs_task_groups) {
            self.generate_refusal(
                now_ms,
                &framework_id,
                &task,
                Trigger::ContainerLaunchFailed,
                &format!(
                    "executor '{executor_id}' is a default executor: it runs task groups \
                     (LAUNCH_GROUP) only, not single tasks"
                ),
                out,
            );
            return;
        }
        let existing_state = existing.map(|e| e.state);
        let is_new_executor = existing_state.is_none();
        let extra: &[v1::Resource] = if is_new_executor {
            &executor_info.resources
        } else {
            &[]
        };
        let mut used = task.resources.clone();
        used.extend(executor_info.resources.iter().cloned());
        if let Some(detail) = self.unknown_checkpointed(&used) {
            self.generate_refusal(
                now_ms,
                &framework_id,
                &task,
                Trigger::AgentResourcesUnknown,
                &detail,
                out,
            );
            return;
        }
        if !command_executor
            && existing_state.is_some()
            && task
                .resources
                .iter()
                .any(crate::resources::is_persistent_volume)
        {
            self.generate_refusal(
                now_ms,
                &framework_id,
                &task,
                Trigger::ContainerLaunchFailed,
                "a persistent volume can only be given to a task that starts its executor's \
                 container (the container's volumes are set up when it starts)",
                out,
            );
            return;
        }
        let total = &self.config.agent_info.resources;
        let fits = ["cpus", "mem", "disk"].iter().all(|name| {
            scalar(&task.resources, name) + scalar(extra, name) <= scalar(total, name) + 1e-9
        });
        if !fits || (command_executor && task.command.is_none()) {
            let detail = if fits {
                "task has neither a command nor an executor"
            } else {
                "task needs more resources than the agent has"
            };
            self.generate_refusal(
                now_ms,
                &framework_id,
                &task,
                Trigger::AgentInvalidOffers,
                detail,
                out,
            );
            return;
        }

        let mut new_task = Task {
            info: task.clone(),
            state: crate::task::TaskState::TaskStaging,
            delivered: false,
            last_status: None,
        };
        let agent_id = self.agent_id_or_empty();
        match existing_state {
            Some(ExecutorState::Terminating { .. } | ExecutorState::Terminated) => {
                self.generate_refusal(
                    now_ms,
                    &framework_id,
                    &task,
                    Trigger::ExecutorAlreadyTerminated,
                    "",
                    out,
                );
            }
            Some(state) => {
                let executor = self
                    .frameworks
                    .get_mut(&framework_id)
                    .and_then(|f| f.executors.get_mut(&executor_id))
                    .expect("exists");
                let conn = executor.conn.filter(|_| state == ExecutorState::Running);
                new_task.delivered = conn.is_some();
                if checkpoint {
                    out.push(Effect::Checkpoint(CheckpointOp::PutTask(new_task.to_v1(
                        framework_id.as_str(),
                        Some(executor_id.as_str()),
                        &agent_id,
                    ))));
                }
                executor.tasks.insert(task_id.clone(), new_task);
                // The container grows by the new task's resources before the task reaches it,
                // as Mesos' agent resized it.
                out.push(executor.container_update());
                match conn {
                    Some(conn) => out.push(Effect::ToExecutor {
                        conn,
                        event: launch_event(&task),
                    }),
                    None => executor.queued.push(task_id),
                }
            }
            None => {
                let user = task
                    .command
                    .as_ref()
                    .and_then(|c| c.user.clone())
                    .or_else(|| executor_info.command.as_ref().and_then(|c| c.user.clone()))
                    .or_else(|| Some(framework_info.user.clone()))
                    .filter(|u| !u.is_empty());
                self.start_executor(
                    now_ms,
                    NewExecutor {
                        framework_id,
                        framework_info,
                        info: executor_info,
                        command_executor,
                        user,
                        tasks: vec![new_task],
                    },
                    out,
                );
            }
        }
    }

    /// Why this agent's `run_tasks` ACLs do not let the framework's principal run `task` as
    /// its user; `None` when they do (or there are none).
    pub(super) fn unauthorized(
        &self,
        framework: &v1::FrameworkInfo,
        task: &v1::TaskInfo,
        executor: Option<&v1::ExecutorInfo>,
    ) -> Option<String> {
        let rules = self.config.run_tasks.as_ref()?;
        let principal = framework.principal.as_deref();
        let user = crate::acl::task_user(task, executor, framework);
        (!rules.allows(principal, user)).then(|| {
            format!(
                "Principal '{}' is not authorized to launch task '{}' as user '{user}' on this \
                 agent",
                principal.unwrap_or("ANY"),
                task.task_id.value
            )
        })
    }

    /// Tracks the framework of a RUN_TASK (inserting it, or taking its newer info) and
    /// checkpoints it when it asks for checkpointing; `None` when the framework is being shut
    /// down, and then nothing of the launch happens.
    pub(super) fn admit_framework(
        &mut self,
        framework_info: &v1::FrameworkInfo,
        out: &mut Vec<Effect>,
    ) -> Option<FrameworkId> {
        let framework_id = FrameworkId(
            framework_info
                .id
                .as_ref()
                .map(|id| id.value.clone())
                .unwrap_or_default(),
        );
        let framework = self
            .frameworks
            .entry(framework_id.clone())
            .or_insert_with(|| Framework {
                info: framework_info.clone(),
                executors: BTreeMap::new(),
                terminating: false,
                completed_executors: Default::default(),
            });
        if framework.terminating {
            return None;
        }
        framework.info = framework_info.clone();
        if framework.checkpoint() {
            out.push(Effect::Checkpoint(CheckpointOp::PutFramework(
                framework_info.clone(),
            )));
        }
        Some(framework_id)
    }

    /// Starts a new executor's container with `tasks` queued for it (delivered when it
    /// subscribes), checkpointing both when the framework asks for it. The container's limits
    /// are the executor's resources and all the tasks'.
    pub(super) fn start_executor(&mut self, now_ms: u64, new: NewExecutor, out: &mut Vec<Effect>) {
        let NewExecutor {
            framework_id,
            framework_info,
            info,
            command_executor,
            user,
            tasks,
        } = new;
        let agent_id = self.agent_id_or_empty();
        let executor_id = ExecutorId(info.executor_id.value.clone());
        let container_id = ContainerId(self.uuids.next_string());
        let directory = format!(
            "{}/slaves/{}/frameworks/{}/executors/{}/runs/{}",
            self.config.work_dir.trim_end_matches('/'),
            agent_id,
            framework_id,
            executor_id,
            container_id
        );
        let sum = |name: &str| {
            scalar(&info.resources, name)
                + tasks
                    .iter()
                    .map(|t| scalar(&t.info.resources, name))
                    .sum::<f64>()
        };
        let spec = LaunchSpec {
            framework_id: framework_id.clone(),
            framework_info: framework_info.clone(),
            executor_info: info.clone(),
            container_id: container_id.clone(),
            directory: directory.clone(),
            command_executor,
            cpus: sum("cpus"),
            mem_mb: sum("mem"),
            disk_mb: sum("disk"),
            user,
            task_uris: if command_executor {
                // The command executor's task URIs are its own (see `command_executor_info`).
                Vec::new()
            } else {
                tasks
                    .iter()
                    .filter_map(|t| t.info.command.as_ref().map(|c| (t, &c.uris)))
                    .filter(|(_, uris)| !uris.is_empty())
                    .map(|(t, uris)| (t.info.task_id.value.clone(), uris.clone()))
                    .collect()
            },
            // The executor's own, and the command executor's task's; a task group's tasks' are
            // resolved into each task's nested container when the default executor launches it,
            // never into the executor's (which every task of the group shares).
            secret_env: std::iter::once(info.command.as_ref())
                .chain(
                    tasks
                        .iter()
                        .filter(|_| command_executor)
                        .map(|t| t.info.command.as_ref()),
                )
                .flatten()
                .filter_map(|c| c.environment.as_ref())
                .flat_map(|e| e.variables.iter())
                .filter(|v| v.r#type == Some(v1::environment::variable::Type::Secret as i32))
                // One without a secret is kept: the agent refuses it by name.
                .map(|v| (v.name.clone(), v.secret.clone().unwrap_or_default()))
                .collect(),
            persistent_volumes: {
                let mut used = info.resources.clone();
                for task in &tasks {
                    used.extend(task.info.resources.iter().cloned());
                }
                self.volume_links(&used)
            },
            secret_files: info
                .container
                .iter()
                .flat_map(|c| c.volumes.iter())
                .filter_map(super::container::secret_file)
                .collect(),
        };
        let mut executor = Executor {
            info: info.clone(),
            container_id: container_id.clone(),
            directory: directory.clone(),
            command_executor,
            state: ExecutorState::Registering {
                deadline_ms: now_ms + self.config.executor_registration_timeout_ms,
                recovered: false,
            },
            conn: None,
            queued: tasks
                .iter()
                .map(|t| TaskId(t.info.task_id.value.clone()))
                .collect(),
            tasks: BTreeMap::new(),
            completed: Vec::new(),
            limitation: None,
        };
        let framework = self
            .frameworks
            .get_mut(&framework_id)
            .expect("admitted before its executor starts");
        if framework.checkpoint() {
            out.push(Effect::Checkpoint(CheckpointOp::PutExecutor(
                RecoveredExecutor {
                    framework_id: framework_id.clone(),
                    info,
                    container_id: container_id.clone(),
                    directory,
                    command_executor,
                    alive: true,
                },
            )));
            for task in &tasks {
                out.push(Effect::Checkpoint(CheckpointOp::PutTask(task.to_v1(
                    framework_id.as_str(),
                    Some(executor_id.as_str()),
                    &agent_id,
                ))));
            }
        }
        for task in tasks {
            executor
                .tasks
                .insert(TaskId(task.info.task_id.value.clone()), task);
        }
        framework.executors.insert(executor_id.clone(), executor);
        self.containers
            .insert(container_id, (framework_id, executor_id));
        out.push(Effect::Launch(spec));
    }

    /// The `ExecutorInfo` of the built-in command executor for a command task (spec §4.5:
    /// executor id = task id).
    fn command_executor_info(
        &self,
        framework_info: &v1::FrameworkInfo,
        task: &v1::TaskInfo,
    ) -> v1::ExecutorInfo {
        let command_text = task
            .command
            .as_ref()
            .map(|c| {
                if c.shell.unwrap_or(true) {
                    format!("sh -c '{}'", c.value.clone().unwrap_or_default())
                } else {
                    c.arguments.join(" ")
                }
            })
            .unwrap_or_default();
        let scalar_resource = |name: &str, value: f64| v1::Resource {
            name: name.to_owned(),
            r#type: v1::value::Type::Scalar as i32,
            scalar: Some(v1::value::Scalar { value }),
            ..Default::default()
        };
        v1::ExecutorInfo {
            r#type: Some(v1::executor_info::Type::Default as i32),
            executor_id: v1::ExecutorId {
                value: task.task_id.value.clone(),
            },
            framework_id: framework_info.id.clone(),
            command: Some(v1::CommandInfo {
                shell: Some(false),
                value: Some(self.config.launcher.clone()),
                arguments: vec![self.config.launcher.clone(), "executor".to_owned()],
                user: task.command.as_ref().and_then(|c| c.user.clone()),
                // The task's URIs are fetched into the executor's sandbox, as Mesos' agent
                // copied them into the command executor's CommandInfo.
                uris: task
                    .command
                    .as_ref()
                    .map(|c| c.uris.clone())
                    .unwrap_or_default(),
                ..Default::default()
            }),
            resources: vec![
                scalar_resource("cpus", COMMAND_EXECUTOR_CPUS),
                scalar_resource("mem", COMMAND_EXECUTOR_MEM_MB),
            ],
            name: Some(format!(
                "Command Executor (Task: {}) (Command: {command_text})",
                task.task_id.value
            )),
            #[allow(deprecated)]
            source: Some(task.task_id.value.clone()),
            // As Mesos' agent did: the command executor runs in the task's container (the
            // driver picks the containerizer by its type).
            container: task.container.clone(),
            ..Default::default()
        }
    }

    /// Refuses a task that never got an executor: the update's stream stands alone and is
    /// forgotten once acknowledged.
    fn generate_refusal(
        &mut self,
        now_ms: u64,
        framework_id: &FrameworkId,
        task: &v1::TaskInfo,
        trigger: Trigger,
        detail: &str,
        out: &mut Vec<Effect>,
    ) {
        let detail = (!detail.is_empty()).then_some(detail);
        self.generate(
            now_ms,
            framework_id,
            &TaskId(task.task_id.value.clone()),
            trigger,
            detail,
            out,
        );
    }

    /// Like [`generate_refusal`](Self::generate_refusal), for a task id that exists already:
    /// the update must not touch the live task's state.
    pub(super) fn generate_unhomed(
        &mut self,
        now_ms: u64,
        framework_id: &FrameworkId,
        task: &v1::TaskInfo,
        trigger: Trigger,
        out: &mut Vec<Effect>,
    ) {
        let partition_aware = self
            .frameworks
            .get(framework_id)
            .is_some_and(Framework::partition_aware);
        let row = crate::task::emission::emission(trigger);
        let mut status = row.status(
            &task.task_id.value,
            partition_aware,
            crate::task::TaskState::TaskStaging,
            None,
        );
        status.uuid = Some(self.new_uuid());
        status.timestamp = Some(now_ms as f64 / 1000.0);
        status.agent_id = self.agent_id.clone().map(|value| v1::AgentId { value });
        // Sent once, best effort: a stream for this id belongs to the live task.
        self.send_update(framework_id, status, out);
    }

    pub(super) fn kill_task(
        &mut self,
        now_ms: u64,
        framework_id: &FrameworkId,
        task_id: &TaskId,
        kill_policy: Option<v1::KillPolicy>,
        out: &mut Vec<Effect>,
    ) {
        let Some((executor_id, executor, task)) = self.find_task(framework_id, task_id) else {
            if self.sum.has_pending(framework_id, task_id) {
                // A refused task whose refusal is still being delivered: nothing to kill.
                return;
            }
            self.generate(
                now_ms,
                framework_id,
                task_id,
                Trigger::KillWithoutExecutor,
                None,
                out,
            );
            return;
        };
        if task.is_terminal() {
            return;
        }
        let executor_id = executor_id.clone();
        if !task.delivered {
            // A group is delivered whole or not at all: killing one task of an undelivered
            // group kills every task of it.
            let killed: Vec<TaskId> = if executor.runs_task_groups() {
                executor.queued.clone()
            } else {
                vec![task_id.clone()]
            };
            for killed_id in &killed {
                self.generate(
                    now_ms,
                    framework_id,
                    killed_id,
                    Trigger::KilledBeforeExecutor,
                    None,
                    out,
                );
            }
            let framework = self.frameworks.get_mut(framework_id).expect("found");
            let executor = framework.executors.get_mut(&executor_id).expect("found");
            executor.queued.retain(|t| !killed.contains(t));
            let idle = executor.live_tasks().next().is_none();
            if idle && !executor.is_ending() {
                // An executor that never got a task would idle forever (MESOS-8411).
                self.shutdown_executor(now_ms, framework_id, &executor_id, out);
            }
            return;
        }
        match (executor.state, executor.conn) {
            (ExecutorState::Running, Some(conn)) => out.push(Effect::ToExecutor {
                conn,
                event: v1::executor::Event {
                    r#type: Some(v1::executor::event::Type::Kill as i32),
                    kill: Some(v1::executor::event::Kill {
                        task_id: task.info.task_id.clone(),
                        kill_policy: kill_policy.or(task.info.kill_policy),
                    }),
                    ..Default::default()
                },
            }),
            (ExecutorState::Terminating { .. } | ExecutorState::Terminated, _) => {}
            _ => {
                // The executor is (re)subscribing; without a connection the kill cannot be
                // delivered, so end the executor: its tasks then get the executor-terminated
                // update, which is what Mesos reports when a kill cannot reach an executor.
                self.shutdown_executor(now_ms, framework_id, &executor_id, out);
            }
        }
    }

    pub(super) fn acknowledge(
        &mut self,
        now_ms: u64,
        framework_id: &FrameworkId,
        task_id: &TaskId,
        uuid: &[u8],
        out: &mut Vec<Effect>,
    ) {
        let super::sum::Acked::Popped {
            seq,
            terminal,
            next,
        } = self.sum.acknowledge(now_ms, framework_id, task_id, uuid)
        else {
            return;
        };
        let checkpoint = self
            .frameworks
            .get(framework_id)
            .is_some_and(Framework::checkpoint);
        if checkpoint {
            out.push(Effect::Checkpoint(CheckpointOp::AckUpdate {
                framework_id: framework_id.clone(),
                task_id: task_id.clone(),
                seq,
                uuid: uuid.to_vec(),
            }));
        }
        if let Some(next) = next {
            self.send_update(framework_id, next, out);
        }
        if terminal {
            self.complete_task_if_done(framework_id, task_id, out);
        }
    }

    pub(super) fn update_framework(
        &mut self,
        now_ms: u64,
        info: v1::FrameworkInfo,
        out: &mut Vec<Effect>,
    ) {
        let framework_id = FrameworkId(
            info.id
                .as_ref()
                .map(|i| i.value.clone())
                .unwrap_or_default(),
        );
        if let Some(framework) = self.frameworks.get_mut(&framework_id) {
            // `checkpoint` is immutable after the first subscription.
            let checkpoint = framework.info.checkpoint;
            framework.info = info;
            framework.info.checkpoint = checkpoint;
            if framework.checkpoint() {
                out.push(Effect::Checkpoint(CheckpointOp::PutFramework(
                    framework.info.clone(),
                )));
            }
        }
        for (framework_id, status) in self.sum.resend(now_ms, Some(&framework_id)) {
            self.send_update(&framework_id, status, out);
        }
    }

    pub(super) fn shutdown_framework(
        &mut self,
        now_ms: u64,
        framework_id: &FrameworkId,
        out: &mut Vec<Effect>,
    ) {
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        framework.terminating = true;
        let executors: Vec<ExecutorId> = framework.executors.keys().cloned().collect();
        for executor_id in executors {
            self.shutdown_executor(now_ms, framework_id, &executor_id, out);
        }
        self.cleanup_framework(framework_id, out);
    }

    pub(super) fn shutdown_executor(
        &mut self,
        now_ms: u64,
        framework_id: &FrameworkId,
        executor_id: &ExecutorId,
        out: &mut Vec<Effect>,
    ) {
        let grace = self.config.executor_shutdown_grace_ms;
        let Some(executor) = self
            .frameworks
            .get_mut(framework_id)
            .and_then(|f| f.executors.get_mut(executor_id))
        else {
            return;
        };
        if executor.is_ending() {
            return;
        }
        match (executor.state, executor.conn) {
            (ExecutorState::Running, Some(conn)) => {
                out.push(Effect::ToExecutor {
                    conn,
                    event: v1::executor::Event {
                        r#type: Some(v1::executor::event::Type::Shutdown as i32),
                        ..Default::default()
                    },
                });
                executor.state = ExecutorState::Terminating {
                    kill_at_ms: Some(now_ms + grace),
                };
            }
            _ => {
                executor.state = ExecutorState::Terminating { kill_at_ms: None };
                out.push(Effect::Kill {
                    container_id: executor.container_id.clone(),
                    grace_ms: 0,
                });
            }
        }
    }

    pub(super) fn reconcile_tasks(
        &mut self,
        now_ms: u64,
        tasks: Vec<(FrameworkId, TaskId, bool)>,
        out: &mut Vec<Effect>,
    ) {
        for (framework_id, task_id, partition_aware) in tasks {
            let known = self.find_task(&framework_id, &task_id).is_some()
                || self.sum.stream(&framework_id, &task_id).is_some();
            if !known {
                self.generate_for(
                    now_ms,
                    &framework_id,
                    &task_id,
                    Trigger::TaskUnknownToAgent,
                    None,
                    partition_aware,
                    out,
                );
            }
        }
    }

    pub(super) fn framework_message(
        &mut self,
        framework_id: &FrameworkId,
        executor_id: &ExecutorId,
        data: Vec<u8>,
        out: &mut Vec<Effect>,
    ) {
        let conn = self
            .frameworks
            .get(framework_id)
            .and_then(|f| f.executors.get(executor_id))
            .and_then(|e| e.conn);
        if let Some(conn) = conn {
            out.push(Effect::ToExecutor {
                conn,
                event: v1::executor::Event {
                    r#type: Some(v1::executor::event::Type::Message as i32),
                    message: Some(v1::executor::event::Message { data }),
                    ..Default::default()
                },
            });
        }
    }
}

/// The LAUNCH_GROUP event for a task group.
pub(super) fn launch_group_event(tasks: Vec<v1::TaskInfo>) -> v1::executor::Event {
    v1::executor::Event {
        r#type: Some(v1::executor::event::Type::LaunchGroup as i32),
        launch_group: Some(v1::executor::event::LaunchGroup {
            task_group: v1::TaskGroupInfo { tasks },
        }),
        ..Default::default()
    }
}

/// A new executor run, as [`Agent::start_executor`] takes it.
pub(super) struct NewExecutor {
    pub framework_id: FrameworkId,
    pub framework_info: v1::FrameworkInfo,
    pub info: v1::ExecutorInfo,
    pub command_executor: bool,
    /// Run as this user.
    pub user: Option<String>,
    /// Its first tasks, queued until it subscribes.
    pub tasks: Vec<Task>,
}

/// The LAUNCH event for a task.
pub(super) fn launch_event(task: &v1::TaskInfo) -> v1::executor::Event {
    v1::executor::Event {
        r#type: Some(v1::executor::event::Type::Launch as i32),
        launch: Some(v1::executor::event::Launch { task: task.clone() }),
        ..Default::default()
    }
}
