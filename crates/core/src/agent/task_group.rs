//! Master → agent: a task group (LAUNCH_GROUP). The agent checks the group again, starts
//! Mesos' default executor for it (`<launcher> executor --default`, one container per executor
//! id) and hands the executor the whole group at once when it subscribes; a later group for a
//! running default executor joins it, its container growing by the group's resources.

use std::collections::BTreeSet;

use drover_wire::v1;

use super::launch::NewExecutor;
use super::model::{ExecutorState, Task, scalar};
use super::{Agent, CheckpointOp, Effect, ExecutorId, FrameworkId};
use crate::task::TaskState;
use crate::task::emission::Trigger;

/// The argument that makes `drover executor` Mesos' default executor.
pub const DEFAULT_EXECUTOR_FLAG: &str = "--default";

impl Agent {
    pub(super) fn run_task_group(
        &mut self,
        now_ms: u64,
        framework_info: v1::FrameworkInfo,
        executor: Option<v1::ExecutorInfo>,
        group: v1::TaskGroupInfo,
        out: &mut Vec<Effect>,
    ) {
        let Some(framework_id) = self.admit_framework(&framework_info, out) else {
            return;
        };
        let refusal = match &executor {
            _ if self.drain.is_some() => Some((
                Trigger::AgentDraining,
                super::launch::DRAINING_REFUSAL.to_owned(),
            )),
            None => Some((
                Trigger::AgentGroupInvalid,
                "a task group needs an 'ExecutorInfo'".to_owned(),
            )),
            Some(executor) => group
                .tasks
                .iter()
                .find_map(|t| self.unauthorized(&framework_info, t, Some(executor)))
                .map(|detail| (Trigger::AgentGroupUnauthorized, detail))
                .or_else(|| self.group_refusal(&framework_id, executor, &group)),
        };
        if let Some((trigger, detail)) = refusal {
            self.refuse_group(now_ms, &framework_id, &group, trigger, &detail, out);
            return;
        }
        let mut info = executor.expect("checked above");
        info.framework_id = framework_info.id.clone();
        let executor_id = ExecutorId(info.executor_id.value.clone());
        if self
            .frameworks
            .get(&framework_id)
            .is_some_and(|f| f.executors.contains_key(&executor_id))
        {
            self.join_running_executor(&framework_id, &executor_id, group, out);
            return;
        }
        if let Err(detail) = self.gc_unschedule_for_launch(&framework_id, &executor_id) {
            self.refuse_group(
                now_ms,
                &framework_id,
                &group,
                Trigger::GcUnscheduleFailed,
                &detail,
                out,
            );
            return;
        }
        // Every task runs as the executor's user: the tasks' own (they agree, see
        // `group_refusal`), else the executor's, else the framework's.
        let user = group
            .tasks
            .iter()
            .find_map(|t| t.command.as_ref().and_then(|c| c.user.clone()))
            .or_else(|| info.command.as_ref().and_then(|c| c.user.clone()))
            .or_else(|| Some(framework_info.user.clone()))
            .filter(|u| !u.is_empty());
        if info.command.is_none() {
            info.command = Some(self.default_executor_command(user.clone()));
        }
        if info.name.is_none() {
            info.name = Some("Default Executor".to_owned());
        }
        let tasks = group
            .tasks
            .into_iter()
            .map(|info| Task {
                info,
                state: TaskState::TaskStaging,
                delivered: false,
                last_status: None,
            })
            .collect();
        self.start_executor(
            now_ms,
            NewExecutor {
                framework_id,
                framework_info,
                info,
                command_executor: false,
                user,
                tasks,
            },
            out,
        );
    }

    /// Why the agent cannot run `group` under `executor`, as the trigger of the refusal and
    /// its detail; `None` when it can.
    fn group_refusal(
        &self,
        framework_id: &FrameworkId,
        executor: &v1::ExecutorInfo,
        group: &v1::TaskGroupInfo,
    ) -> Option<(Trigger, String)> {
        let invalid = |detail: String| Some((Trigger::AgentGroupInvalid, detail));
        if group.tasks.is_empty() {
            return invalid("Task group cannot be empty".to_owned());
        }
        if executor.r#type != Some(v1::executor_info::Type::Default as i32) {
            return invalid("'ExecutorInfo.type' must be 'DEFAULT' for a task group".to_owned());
        }
        let executor_id = ExecutorId(executor.executor_id.value.clone());
        let framework = self.frameworks.get(framework_id);
        let running = framework.and_then(|f| f.executors.get(&executor_id));
        if let Some(running) = running {
            // A later group joins a running default executor, whose container grows by the
            // group's resources (`run_task_group`), as Mesos' agent did.
            let why = if running.is_ending() {
                Some("is terminating".to_owned())
            } else if !running.runs_task_groups() {
                Some("is not a default executor: it takes no task group".to_owned())
            } else if running.state != ExecutorState::Running {
                Some(
                    "has not subscribed yet: a later group is accepted once its first one \
                     reached it"
                        .to_owned(),
                )
            } else {
                None
            };
            if let Some(why) = why {
                return Some((
                    Trigger::ContainerLaunchFailed,
                    format!("executor '{executor_id}' {why}"),
                ));
            }
        }
        let mut ids = BTreeSet::new();
        let mut users = BTreeSet::new();
        for task in &group.tasks {
            let id = task.task_id.value.as_str();
            if !ids.insert(id) {
                return invalid(format!("Task group has duplicate task ID: {id}"));
            }
            let task_id = super::TaskId(id.to_owned());
            if framework
                .is_some_and(|f| f.executors.values().any(|e| e.tasks.contains_key(&task_id)))
            {
                return invalid(format!("Task '{id}' is already running on this agent"));
            }
            if task.executor.is_some() {
                return invalid(format!(
                    "Task '{id}' must not set 'ExecutorInfo' in a task group"
                ));
            }
            let Some(command) = &task.command else {
                return invalid(format!(
                    "Task '{id}' has no 'command': the default executor runs commands (with \
                     a container image, a command without a value runs its entrypoint)"
                ));
            };
            if let Some(user) = &command.user {
                users.insert(user.as_str());
            }
            if let Some(detail) = volume_refusal(task) {
                return Some((Trigger::ContainerLaunchFailed, detail));
            }
            // (SECRET variables are resolved by the agent into the task's own nested container
            // when the default executor launches it.)
            // The default executor honours the sandbox volumes, a terminal (its nested
            // container gets one) and `linux_info.share_cgroups` (false, or unset: the task's
            // own cgroup with its limits; true: the executor's, bounded by the group's total);
            // every other container setting is checked as for any task.
            let mut checked = task.clone();
            if let Some(container) = checked.container.as_deref_mut() {
                container.volumes.clear();
                container.tty_info = None;
                if let Some(linux) = container.linux_info.as_mut() {
                    linux.share_cgroups = None;
                }
                if container.linux_info == Some(v1::LinuxInfo::default()) {
                    container.linux_info = None;
                }
            }
            if let Some(detail) = super::container::refusal(&checked, executor) {
                return Some((Trigger::ContainerLaunchFailed, detail));
            }
        }
        if users.len() > 1 {
            return invalid(format!(
                "the tasks of a group run as one user, and these ask for {}",
                users.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
        // As Mesos: every task of a group shares its executor's cgroups, or none does.
        let sharing: BTreeSet<bool> = group
            .tasks
            .iter()
            .map(|t| {
                t.container
                    .as_ref()
                    .and_then(|c| c.linux_info.as_ref())
                    .and_then(|l| l.share_cgroups)
                    == Some(true)
            })
            .collect();
        if sharing.len() > 1 {
            return invalid(
                "the tasks of a group must agree on 'linux_info.share_cgroups'".to_owned(),
            );
        }
        if let Some(running) = running
            && let Some(user) = users.first()
            && running
                .info
                .command
                .as_ref()
                .and_then(|c| c.user.as_deref())
                != Some(*user)
        {
            return invalid(format!(
                "the executor's tasks run as its user, and task group asks for {user}"
            ));
        }
        let mut used = executor.resources.clone();
        for task in &group.tasks {
            used.extend(task.resources.iter().cloned());
        }
        if let Some(detail) = self.unknown_checkpointed(&used) {
            return Some((Trigger::AgentResourcesUnknown, detail));
        }
        if group.tasks.iter().any(|t| {
            t.resources
                .iter()
                .any(crate::resources::is_persistent_volume)
        }) {
            return invalid(
                "a persistent volume belongs to the executor of a task group (its resources), \
                 not to one of its tasks"
                    .to_owned(),
            );
        }
        let total = &self.config.agent_info.resources;
        let fits = ["cpus", "mem", "disk"].iter().all(|name| {
            let asked = scalar(&executor.resources, name)
                + group
                    .tasks
                    .iter()
                    .map(|t| scalar(&t.resources, name))
                    .sum::<f64>();
            asked <= scalar(total, name) + 1e-9
        });
        if !fits {
            return Some((
                Trigger::AgentInvalidOffers,
                "task group needs more resources than the agent has".to_owned(),
            ));
        }
        None
    }

    /// A later group for a running default executor (checked by `group_refusal`): its tasks
    /// are recorded, the container grows by their resources, then the group reaches the
    /// executor whole, as one LAUNCH_GROUP.
    fn join_running_executor(
        &mut self,
        framework_id: &FrameworkId,
        executor_id: &ExecutorId,
        group: v1::TaskGroupInfo,
        out: &mut Vec<Effect>,
    ) {
        let agent_id = self.agent_id_or_empty();
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        let checkpoint = framework.checkpoint();
        let Some(executor) = framework.executors.get_mut(executor_id) else {
            return;
        };
        let Some(conn) = executor.conn else {
            return;
        };
        for info in &group.tasks {
            let task = Task {
                info: info.clone(),
                state: TaskState::TaskStaging,
                delivered: true,
                last_status: None,
            };
            if checkpoint {
                out.push(Effect::Checkpoint(CheckpointOp::PutTask(task.to_v1(
                    framework_id.as_str(),
                    Some(executor_id.as_str()),
                    &agent_id,
                ))));
            }
            executor
                .tasks
                .insert(super::TaskId(info.task_id.value.clone()), task);
        }
        out.push(executor.container_update());
        out.push(Effect::ToExecutor {
            conn,
            event: super::launch::launch_group_event(group.tasks),
        });
    }

    /// Ends every task of a group the agent will not run with the same update.
    fn refuse_group(
        &mut self,
        now_ms: u64,
        framework_id: &FrameworkId,
        group: &v1::TaskGroupInfo,
        trigger: Trigger,
        detail: &str,
        out: &mut Vec<Effect>,
    ) {
        for task in &group.tasks {
            let id = super::TaskId(task.task_id.value.clone());
            if self.find_task(framework_id, &id).is_some() {
                // A member that shares a live task's id: that task's stream is not touched.
                self.generate_unhomed(now_ms, framework_id, task, trigger, out);
            } else {
                self.generate(now_ms, framework_id, &id, trigger, Some(detail), out);
            }
        }
        self.cleanup_framework(framework_id, out);
    }

    /// The default executor's command: this binary, `executor --default`.
    fn default_executor_command(&self, user: Option<String>) -> v1::CommandInfo {
        v1::CommandInfo {
            shell: Some(false),
            value: Some(self.config.launcher.clone()),
            arguments: vec![
                self.config.launcher.clone(),
                "executor".to_owned(),
                DEFAULT_EXECUTOR_FLAG.to_owned(),
            ],
            user,
            ..Default::default()
        }
    }
}

/// The first volume of a group task the default executor cannot provide: it honours Mesos'
/// `SANDBOX_PATH` volumes of type `PARENT` (a directory of the executor's sandbox, shared by
/// the group, as Marathon's pods' ephemeral volumes are) at a path inside the task's sandbox.
fn volume_refusal(task: &v1::TaskInfo) -> Option<String> {
    let container = task.container.as_deref()?;
    for volume in &container.volumes {
        let source = volume.source.as_ref();
        let sandbox = source
            .filter(|s| s.r#type == Some(v1::volume::source::Type::SandboxPath as i32))
            .and_then(|s| s.sandbox_path.as_ref())
            .filter(|p| p.r#type == Some(v1::volume::source::sandbox_path::Type::Parent as i32));
        let why = if volume.host_path.is_some() || volume.image.is_some() {
            Some("host path and image volumes are not supported")
        } else if sandbox.is_none() {
            Some("only SANDBOX_PATH volumes of type PARENT are supported in task groups")
        } else if !is_plain_relative(&volume.container_path) {
            Some(
                "the container path must be relative (inside the task's sandbox): a task of a \
                 group runs in the host's root filesystem",
            )
        } else if !sandbox.is_some_and(|p| is_plain_relative(&p.path)) {
            Some("the sandbox path must be relative to the executor's sandbox, without '..'")
        } else {
            None
        };
        if let Some(why) = why {
            return Some(format!(
                "Unsupported container.volumes ('{}' of task '{}'): {why}",
                volume.container_path, task.task_id.value
            ));
        }
    }
    None
}

/// A non-empty relative path that stays below where it starts.
fn is_plain_relative(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && path.split('/').all(|part| part != ".." && part != ".")
}
