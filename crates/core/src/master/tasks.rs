//! Tasks: ACCEPT with LAUNCH and LAUNCH_GROUP (offer checks, validation, authorization hook,
//! resource checks), master-generated status updates through the emission table, status
//! updates from agents, KILL, SHUTDOWN, ACKNOWLEDGE and MESSAGE.

use std::collections::BTreeSet;
use std::sync::Arc;

use drover_wire::internal::agent_event::Type as AgentEventType;
use drover_wire::internal::{agent_call, agent_event};
use drover_wire::v1;
use drover_wire::v1::master::event::Type as OperatorEventType;
use drover_wire::v1::offer::operation::Type as OpType;
use drover_wire::v1::scheduler;
use drover_wire::v1::scheduler::event::Type as EventType;

use super::authorizing::PendingAccept;
use super::validation;
use super::{
    ACKED_UUIDS_KEPT, AgentStatus, Effect, Filter, HistoryEntry, Master, TaskEntry, agent_event,
    operator_event, scheduler_event, seconds, time_info,
};
use crate::resources;
use crate::task::emission::{Trigger, emission};
use crate::task::state::{is_terminal, releases_resources};
use crate::task::transition;
use crate::task::{Reason, Source, TaskState};

/// Records a status on a task: Mesos' `statuses` keep one entry per consecutive state (the
/// latest), with `data` cleared; the history keeps every update, bounded.
pub(super) fn record_status(
    entry: &mut TaskEntry,
    status: &v1::TaskStatus,
    now_ms: u64,
    max_history: usize,
) {
    let mut stored = status.clone();
    stored.data = None;
    match entry.task.statuses.last_mut() {
        Some(last) if last.state == stored.state => *last = stored,
        _ => {
            // Grown one at a time: a task has a handful of states, and the default doubling
            // (to 4 × 352 bytes on the second) was a third of a running task's memory.
            entry.task.statuses.reserve_exact(1);
            entry.task.statuses.push(stored);
        }
    }
    entry.history.push_back(HistoryEntry {
        state: TaskState::try_from(status.state).unwrap_or(TaskState::TaskStaging),
        reason: status.reason.and_then(|r| Reason::try_from(r).ok()),
        source: status.source.and_then(|s| Source::try_from(s).ok()),
        message: status.message.clone(),
        timestamp_ms: now_ms,
        healthy: status.healthy,
    });
    while entry.history.len() > max_history.max(1) {
        entry.history.pop_front();
    }
}

fn update_event(status: v1::TaskStatus) -> scheduler::Event {
    let mut event = scheduler_event(EventType::Update);
    event.update = Some(scheduler::event::Update { status });
    event
}

impl Master {
    /// Emits a master-generated update for a task the master holds (live or unreachable),
    /// from the table row of `trigger`, and applies it to the task.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn master_update(
        &mut self,
        now_ms: u64,
        framework_id: &str,
        task_id: &str,
        trigger: Trigger,
        detail: Option<&str>,
        unreachable_time_ms: Option<u64>,
        out: &mut Vec<Effect>,
    ) {
        let max_history = self.config.max_status_history;
        let Some(fw) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        let pa = fw.partition_aware;
        let conn = fw.conn;
        // Only live tasks count in the ledger; unreachable ones already released theirs.
        let (entry, live) = match fw.tasks.get_mut(task_id) {
            Some(entry) => (Arc::make_mut(entry), true),
            None => match fw.unreachable_tasks.get_mut(task_id) {
                Some(entry) => (Arc::make_mut(entry), false),
                None => return,
            },
        };
        let current = entry.state();
        // A returning agent resends its unacknowledged updates, oldest first, right after
        // reregistering: announcing its latest state instead would put that state before
        // the older ones (KILLED, then the resent KILLING). Announce what the framework is
        // being told (the oldest unacknowledged update), as reconciliation does.
        // A terminal state the master kept (the agent's report could not change it) is
        // announced as it is.
        let head = entry.reported_state();
        let pending_head = trigger == Trigger::AgentReregistered
            && entry.task.status_update_uuid.is_some()
            && !(is_terminal(current) && is_terminal(head) && head != current);
        let announced = if pending_head { head } else { current };
        let mut status = emission(trigger).status(task_id, pa, announced, detail);
        status.agent_id = Some(entry.task.agent_id.clone());
        status.executor_id = entry.task.executor_id.clone();
        status.timestamp = Some(seconds(now_ms));
        status.unreachable_time = unreachable_time_ms.map(time_info);
        if let Some(last) = entry.task.statuses.last() {
            status.healthy = last.healthy;
            status.check_status = last.check_status;
            status.container_status = last.container_status.clone();
        }
        let new_state = TaskState::try_from(status.state).unwrap_or(current);
        let reason = status.reason.and_then(|r| Reason::try_from(r).ok());
        if transition::check(current, new_state, reason).is_ok() {
            entry.task.state = status.state;
            if live {
                self.ledger
                    .task_state_changed(&entry.task, current, new_state);
            }
        }
        if !pending_head {
            entry.task.status_update_state = Some(status.state);
            entry.task.status_update_uuid = None;
        }
        if unreachable_time_ms.is_some() {
            entry.unreachable_time_ms = unreachable_time_ms;
        }
        record_status(entry, &status, now_ms, max_history);
        let state = entry.task.state;
        let mut op = operator_event(OperatorEventType::TaskUpdated);
        op.task_updated = Some(v1::master::event::TaskUpdated {
            framework_id: v1::FrameworkId {
                value: framework_id.into(),
            },
            status: status.clone(),
            state,
        });
        out.push(Effect::ToOperators(Box::new(op)));
        if let Some(conn) = conn {
            out.push(Effect::ToScheduler {
                conn,
                event: Box::new(update_event(status)),
            });
        }
    }

    /// Answers a launch that never became a task (invalid, unauthorized, bad offers): the
    /// update goes to the framework, and the task is recorded as completed with its history
    /// so an operator can see why it never ran (beyond Mesos, which forgets it).
    pub(super) fn launch_refused(
        &mut self,
        now_ms: u64,
        framework_id: &str,
        task: &v1::TaskInfo,
        trigger: Trigger,
        detail: &str,
        out: &mut Vec<Effect>,
    ) {
        self.never_launched(now_ms, framework_id, task, trigger, Some(detail), out);
    }

    /// [`Master::launch_refused`] with the table's message alone when `detail` is `None`.
    pub(super) fn never_launched(
        &mut self,
        now_ms: u64,
        framework_id: &str,
        task: &v1::TaskInfo,
        trigger: Trigger,
        detail: Option<&str>,
        out: &mut Vec<Effect>,
    ) {
        let Some(fw) = self.frameworks.get(framework_id) else {
            return;
        };
        let pa = fw.partition_aware;
        let mut status =
            emission(trigger).status(&task.task_id.value, pa, TaskState::TaskStaging, detail);
        status.agent_id = Some(task.agent_id.clone());
        status.executor_id = task.executor.as_ref().map(|e| e.executor_id.clone());
        status.timestamp = Some(seconds(now_ms));
        let mut entry = TaskEntry {
            task: self.new_task(framework_id, task, None),
            role: String::new(),
            history: Default::default(),
            unreachable_time_ms: None,
            executor: task.executor.clone().map(Box::new),
            acked_uuids: Vec::new(),
        };
        entry.task.state = status.state;
        entry.task.status_update_state = Some(status.state);
        record_status(&mut entry, &status, now_ms, self.config.max_status_history);
        self.push_completed(framework_id, entry, out);
        self.send_to_framework(framework_id, update_event(status), out);
    }

    fn new_task(
        &self,
        framework_id: &str,
        info: &v1::TaskInfo,
        group_executor: Option<&v1::ExecutorInfo>,
    ) -> v1::Task {
        let user = info
            .command
            .as_ref()
            .and_then(|c| c.user.clone())
            .or_else(|| {
                self.frameworks
                    .get(framework_id)
                    .map(|f| f.info.user.clone())
            });
        v1::Task {
            name: info.name.clone(),
            task_id: info.task_id.clone(),
            framework_id: v1::FrameworkId {
                value: framework_id.into(),
            },
            executor_id: info
                .executor
                .as_ref()
                .or(group_executor)
                .map(|e| e.executor_id.clone()),
            agent_id: info.agent_id.clone(),
            state: TaskState::TaskStaging as i32,
            resources: info.resources.clone(),
            statuses: Vec::new(),
            status_update_state: None,
            status_update_uuid: None,
            labels: info.labels.clone(),
            discovery: info.discovery.clone().map(Box::new),
            container: info.container.clone(),
            health_check: info.health_check.clone().map(Box::new),
            kill_policy: info.kill_policy,
            user,
            limits: info.limits.clone(),
        }
    }

    /// ACCEPT (and DECLINE, which is an ACCEPT without operations).
    pub(super) fn accept(
        &mut self,
        now_ms: u64,
        framework_id: &str,
        accept: scheduler::call::Accept,
        out: &mut Vec<Effect>,
    ) {
        // Every task any LAUNCH or LAUNCH_GROUP names, for the all-or-nothing refusals.
        let all_tasks: Vec<v1::TaskInfo> = accept
            .operations
            .iter()
            .flat_map(|op| {
                let mut tasks = Vec::new();
                if let Some(launch) = &op.launch {
                    tasks.extend(launch.task_infos.iter().cloned());
                }
                if let Some(group) = &op.launch_group {
                    tasks.extend(group.task_group.tasks.iter().cloned());
                }
                tasks
            })
            .collect();
        let mut offered: Vec<v1::Resource> = Vec::new();
        let mut agent_id: Option<String> = None;
        let mut role: Option<String> = None;
        let mut error: Option<String> = None;
        let mut seen = BTreeSet::new();
        if accept.offer_ids.is_empty() && !all_tasks.is_empty() {
            error = Some("No offers specified".into());
        }
        for offer_id in &accept.offer_ids {
            if !seen.insert(offer_id.value.clone()) {
                error.get_or_insert(format!("Offer {} appears more than once", offer_id.value));
                continue;
            }
            let Some(offer) = self.offers.get(&offer_id.value) else {
                error.get_or_insert(format!("Offer {} is no longer valid", offer_id.value));
                continue;
            };
            if offer.offer.framework_id.value != framework_id {
                error.get_or_insert(format!(
                    "Offer {} has invalid framework {} while framework {framework_id} is \
                     expected",
                    offer_id.value, offer.offer.framework_id.value
                ));
                continue;
            }
            match &agent_id {
                Some(a) if *a != offer.offer.agent_id.value => {
                    error.get_or_insert("Aggregated offers must belong to one single agent".into());
                }
                _ => agent_id = Some(offer.offer.agent_id.value.clone()),
            }
            match &role {
                Some(r) if *r != offer.role => {
                    error.get_or_insert(
                        "Aggregated offers must be allocated to the same role".into(),
                    );
                }
                _ => role = Some(offer.role.clone()),
            }
        }
        // Every valid offer of this framework named in the call is used up, even on error,
        // and its resources go back to the pool.
        for offer_id in &accept.offer_ids {
            if let Some(offer) = self.offers.get(&offer_id.value)
                && offer.offer.framework_id.value == framework_id
            {
                let offer = self.take_offer(&offer_id.value);
                if let Some(offer) = offer {
                    offered = resources::add(&offered, &offer.offer.resources);
                }
            }
        }
        self.allocation_dirty = true;
        if let Some(error) = error {
            for task in &all_tasks {
                self.launch_refused(
                    now_ms,
                    framework_id,
                    task,
                    Trigger::LaunchWithInvalidOffers,
                    &error,
                    out,
                );
            }
            // As Mesos: an operation with an `id` on invalid offers is OPERATION_ERROR.
            for op in &accept.operations {
                self.operation_error(
                    framework_id,
                    None,
                    op,
                    &format!("Operation attempted with invalid offers: {error}"),
                    out,
                );
            }
            return;
        }
        let (Some(agent_id), Some(role)) = (agent_id, role) else {
            return;
        };
        let pending = PendingAccept {
            framework_id: framework_id.to_owned(),
            agent_id,
            role,
            offered,
            accept,
            killed: BTreeSet::new(),
        };
        // With ACLs, the launches and operations wait for the authorization step
        // ([`authorizing`](super::authorizing)); a DECLINE has nothing to authorize.
        if self.authorizes() && !pending.accept.operations.is_empty() {
            self.await_authorization(pending, out);
        } else {
            self.carry_out_accept(now_ms, pending, out);
        }
    }

    /// The second half of an ACCEPT whose offers were valid: against the agent as it is now,
    /// each operation in order (tasks killed while their authorization was awaited are not
    /// launched; a group with one of them is killed whole).
    pub(super) fn carry_out_accept(
        &mut self,
        now_ms: u64,
        pending: PendingAccept,
        out: &mut Vec<Effect>,
    ) {
        let PendingAccept {
            framework_id,
            agent_id,
            role,
            offered,
            accept,
            killed,
        } = pending;
        let framework_id = framework_id.as_str();
        let all_tasks: Vec<v1::TaskInfo> = accept
            .operations
            .iter()
            .flat_map(|op| {
                let launched = op.launch.iter().flat_map(|l| l.task_infos.iter());
                let grouped = op
                    .launch_group
                    .iter()
                    .flat_map(|g| g.task_group.tasks.iter());
                launched.chain(grouped)
            })
            .filter(|t| !killed.contains(&t.task_id.value))
            .cloned()
            .collect();
        let agent_state = self.agents.get(&agent_id).map(|a| a.status);
        let refusal = match agent_state {
            None => Some((
                Trigger::LaunchOnRemovedAgent,
                format!("Agent {agent_id} was removed"),
            )),
            Some(AgentStatus::Connected) => None,
            Some(_) => Some((
                Trigger::LaunchOnDisconnectedAgent,
                format!("Agent {agent_id} is disconnected"),
            )),
        };
        if let Some((trigger, detail)) = refusal {
            for task in &all_tasks {
                self.launch_refused(now_ms, framework_id, task, trigger, &detail, out);
            }
            return;
        }
        let mut remaining = offered.clone();
        for mut op in accept.operations {
            let kind = op.r#type.and_then(|t| OpType::try_from(t).ok());
            // Launches have no operation feedback: as Mesos, a LAUNCH or LAUNCH_GROUP that
            // asks for it with an `id` is not performed, and each of its tasks is answered
            // TASK_ERROR instead.
            if op.id.is_some() {
                let (tasks, trigger, name) = match kind {
                    Some(OpType::Launch) => (
                        op.launch.take().map(|l| l.task_infos).unwrap_or_default(),
                        Trigger::LaunchInvalid,
                        "LAUNCH",
                    ),
                    Some(OpType::LaunchGroup) => (
                        op.launch_group
                            .take()
                            .map(|g| g.task_group.tasks)
                            .unwrap_or_default(),
                        Trigger::LaunchGroupInvalid,
                        "LAUNCH_GROUP",
                    ),
                    _ => (Vec::new(), Trigger::LaunchInvalid, ""),
                };
                if !name.is_empty() {
                    let detail = format!("The `id` field cannot be set on {name} operations");
                    for task in tasks.iter().filter(|t| !killed.contains(&t.task_id.value)) {
                        self.launch_refused(now_ms, framework_id, task, trigger, &detail, out);
                    }
                    continue;
                }
            }
            match kind {
                Some(OpType::Launch) => {
                    for task in op.launch.map(|l| l.task_infos).unwrap_or_default() {
                        if killed.contains(&task.task_id.value) {
                            continue;
                        }
                        self.launch_one(
                            now_ms,
                            framework_id,
                            &agent_id,
                            &role,
                            task,
                            &mut remaining,
                            out,
                        );
                    }
                }
                Some(OpType::LaunchGroup) => {
                    let Some(group) = op.launch_group else {
                        continue;
                    };
                    // As Mesos: a group is launched whole or not at all.
                    if group
                        .task_group
                        .tasks
                        .iter()
                        .any(|t| killed.contains(&t.task_id.value))
                    {
                        for task in &group.task_group.tasks {
                            if !killed.contains(&task.task_id.value) {
                                self.never_launched(
                                    now_ms,
                                    framework_id,
                                    task,
                                    Trigger::KilledBeforeAgent,
                                    None,
                                    out,
                                );
                            }
                        }
                    } else {
                        self.launch_group(
                            now_ms,
                            framework_id,
                            &agent_id,
                            &role,
                            group,
                            &mut remaining,
                            out,
                        );
                    }
                }
                // RESERVE, UNRESERVE, CREATE, DESTROY change what the offers hold for the
                // launches after them; what Drover does not perform is dropped by name.
                _ => self.offer_operation(
                    now_ms,
                    framework_id,
                    &agent_id,
                    &role,
                    &op,
                    &mut remaining,
                    out,
                ),
            }
        }
        let refuse_ms = validation::refuse_ms(accept.filters.as_ref());
        let unused = resources::unallocate(&remaining);
        if refuse_ms > 0 && !unused.is_empty() {
            self.filters
                .entry(agent_id.clone())
                .or_default()
                .push(Filter {
                    framework_id: framework_id.into(),
                    role,
                    agent_id,
                    resources: unused,
                    until_ms: now_ms.saturating_add(refuse_ms),
                });
        }
    }

    /// The `run_tasks` check: may the framework's principal run `task` as its user?
    fn authorize_launch(
        &self,
        framework_id: &str,
        task: &v1::TaskInfo,
        executor: Option<&v1::ExecutorInfo>,
    ) -> Result<(), String> {
        let (Some(rules), Some(framework)) =
            (&self.config.run_tasks, self.frameworks.get(framework_id))
        else {
            return Ok(());
        };
        let principal = framework.info.principal.as_deref();
        let user = crate::acl::task_user(task, executor, &framework.info);
        if rules.allows(principal, user) {
            return Ok(());
        }
        Err(format!(
            "Principal '{}' is not authorized to launch task '{}' as user '{user}'",
            principal.unwrap_or("ANY"),
            task.task_id.value
        ))
    }

    /// Whether the framework already has a live or unreachable task with this id.
    fn task_id_known(&self, framework_id: &str, task_id: &str) -> bool {
        self.frameworks.get(framework_id).is_some_and(|f| {
            f.tasks.contains_key(task_id) || f.unreachable_tasks.contains_key(task_id)
        })
    }

    /// What a task needs from the offer: its resources plus its executor's, if the executor
    /// is not already running on the agent.
    fn needed(
        &self,
        framework_id: &str,
        agent_id: &str,
        task: &v1::TaskInfo,
        executor: Option<&v1::ExecutorInfo>,
    ) -> Vec<v1::Resource> {
        let mut needed = resources::normalize(&task.resources);
        if let Some(executor) = executor.or(task.executor.as_ref()) {
            let key = (framework_id.to_owned(), executor.executor_id.value.clone());
            let running = self
                .agents
                .get(agent_id)
                .is_some_and(|a| a.executors.contains_key(&key));
            if !running {
                needed = resources::add(&needed, &executor.resources);
            }
        }
        needed
    }

    #[allow(clippy::too_many_arguments)]
    fn launch_one(
        &mut self,
        now_ms: u64,
        framework_id: &str,
        agent_id: &str,
        role: &str,
        task: v1::TaskInfo,
        remaining: &mut Vec<v1::Resource>,
        out: &mut Vec<Effect>,
    ) {
        if let Err(e) = self.authorize_launch(framework_id, &task, None) {
            self.launch_refused(
                now_ms,
                framework_id,
                &task,
                Trigger::LaunchUnauthorized,
                &e,
                out,
            );
            return;
        }
        let known = |id: &str| self.task_id_known(framework_id, id);
        if let Err(e) = validation::validate_task(&task, agent_id, &known) {
            self.launch_refused(now_ms, framework_id, &task, Trigger::LaunchInvalid, &e, out);
            return;
        }
        let needed = self.needed(framework_id, agent_id, &task, None);
        if let Err((trigger, e)) = self.check_fits(agent_id, &needed, remaining) {
            self.launch_refused(now_ms, framework_id, &task, trigger, &e, out);
            return;
        }
        *remaining = resources::subtract(remaining, &needed);
        self.add_task(
            framework_id,
            agent_id,
            role,
            &task,
            task.executor.clone(),
            None,
            out,
        );
        let mut run = agent_event(AgentEventType::RunTask);
        run.run_task = Some(agent_event::RunTask {
            framework_info: self.frameworks[framework_id].info.clone(),
            task: Some(task),
            executor: None,
            task_group: None,
        });
        self.send_to_agent(agent_id, run, out);
    }

    /// Checks that `needed` fits the offers' remaining resources; checkpointed resources the
    /// agent does not have at all are `REASON_RESOURCES_UNKNOWN`.
    fn check_fits(
        &self,
        agent_id: &str,
        needed: &[v1::Resource],
        remaining: &[v1::Resource],
    ) -> Result<(), (Trigger, String)> {
        let checkpointed: Vec<v1::Resource> = needed
            .iter()
            .filter(|r| resources::is_checkpointed(r))
            .cloned()
            .collect();
        let total = self
            .agents
            .get(agent_id)
            .map(|a| a.info.resources.clone())
            .unwrap_or_default();
        if !checkpointed.is_empty() && !resources::contains(&total, &checkpointed) {
            return Err((
                Trigger::LaunchWithUnknownResources,
                format!(
                    "Task uses checkpointed resources {} that agent {agent_id} does not have",
                    resources::display(&checkpointed)
                ),
            ));
        }
        if !resources::contains(remaining, needed) {
            return Err((
                Trigger::LaunchInvalid,
                format!(
                    "Task uses more resources {} than available {}",
                    resources::display(needed),
                    resources::display(remaining)
                ),
            ));
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn launch_group(
        &mut self,
        now_ms: u64,
        framework_id: &str,
        agent_id: &str,
        role: &str,
        group: v1::offer::operation::LaunchGroup,
        remaining: &mut Vec<v1::Resource>,
        out: &mut Vec<Effect>,
    ) {
        let executor = group.executor;
        let tasks = group.task_group.tasks.clone();
        let refuse =
            |master: &mut Master, trigger: Trigger, detail: &str, out: &mut Vec<Effect>| {
                for task in &tasks {
                    master.launch_refused(now_ms, framework_id, task, trigger, detail, out);
                }
            };
        if let Err(e) = tasks
            .iter()
            .try_for_each(|t| self.authorize_launch(framework_id, t, Some(&executor)))
        {
            refuse(self, Trigger::LaunchGroupUnauthorized, &e, out);
            return;
        }
        if let Err(e) = validation::validate_task_group(&executor, &group.task_group) {
            refuse(self, Trigger::LaunchGroupInvalid, &e, out);
            return;
        }
        let known = |id: &str| self.task_id_known(framework_id, id);
        let mut needed: Vec<v1::Resource> = Vec::new();
        for (i, task) in tasks.iter().enumerate() {
            // Members are checked as command-less tasks: the group's executor runs them.
            let mut as_task = task.clone();
            if as_task.command.is_none() {
                as_task.command = Some(v1::CommandInfo::default());
            }
            if let Err(e) = validation::validate_task(&as_task, agent_id, &known) {
                refuse(
                    self,
                    Trigger::LaunchGroupInvalid,
                    &format!("Task '{}' is invalid: {e}", task.task_id.value),
                    out,
                );
                return;
            }
            let with_executor = if i == 0 { Some(&executor) } else { None };
            let mut n = resources::normalize(&task.resources);
            if let Some(executor) = with_executor {
                n = self.needed(framework_id, agent_id, task, Some(executor));
            }
            needed = resources::add(&needed, &n);
        }
        if let Err((trigger, e)) = self.check_fits(agent_id, &needed, remaining) {
            let trigger = if trigger == Trigger::LaunchInvalid {
                Trigger::LaunchGroupInvalid
            } else {
                trigger
            };
            refuse(self, trigger, &e, out);
            return;
        }
        *remaining = resources::subtract(remaining, &needed);
        for task in &tasks {
            self.add_task(
                framework_id,
                agent_id,
                role,
                task,
                Some(executor.clone()),
                Some(&executor),
                out,
            );
        }
        let mut run = agent_event(AgentEventType::RunTask);
        run.run_task = Some(agent_event::RunTask {
            framework_info: self.frameworks[framework_id].info.clone(),
            task: None,
            executor: Some(executor),
            task_group: Some(group.task_group),
        });
        self.send_to_agent(agent_id, run, out);
    }

    #[allow(clippy::too_many_arguments)]
    fn add_task(
        &mut self,
        framework_id: &str,
        agent_id: &str,
        role: &str,
        info: &v1::TaskInfo,
        executor: Option<v1::ExecutorInfo>,
        group_executor: Option<&v1::ExecutorInfo>,
        out: &mut Vec<Effect>,
    ) {
        let mut task = self.new_task(framework_id, info, group_executor);
        task.resources = resources::allocate(&resources::normalize(&info.resources), role);
        if let Some(executor) = &executor
            && let Some(agent) = self.agents.get_mut(agent_id)
        {
            agent
                .executors
                .entry((framework_id.to_owned(), executor.executor_id.value.clone()))
                .or_insert_with(|| {
                    let mut e = executor.clone();
                    e.framework_id = Some(v1::FrameworkId {
                        value: framework_id.into(),
                    });
                    e
                });
        }
        let entry = TaskEntry {
            task,
            role: role.into(),
            history: Default::default(),
            unreachable_time_ms: None,
            executor: executor.map(Box::new),
            acked_uuids: Vec::new(),
        };
        let mut added = operator_event(OperatorEventType::TaskAdded);
        added.task_added = Some(v1::master::event::TaskAdded {
            task: entry.task.clone(),
        });
        out.push(Effect::ToOperators(Box::new(added)));
        self.insert_live_task(framework_id, info.task_id.value.clone(), entry);
    }

    pub(super) fn send_to_agent(
        &self,
        agent_id: &str,
        event: drover_wire::internal::AgentEvent,
        out: &mut Vec<Effect>,
    ) {
        if let Some(conn) = self.agents.get(agent_id).and_then(|a| a.conn) {
            out.push(Effect::ToAgent {
                conn,
                event: Box::new(event),
            });
        }
    }

    /// A status update from an agent's update manager: forwarded to the framework if it is
    /// connected (the agent retries otherwise), and applied to the master's task.
    pub(super) fn agent_status_update(
        &mut self,
        now_ms: u64,
        agent_id: &str,
        update: agent_call::StatusUpdate,
        out: &mut Vec<Effect>,
    ) {
        let framework_id = update.framework_id.value.clone();
        let mut status = update.status;
        status.agent_id = Some(v1::AgentId {
            value: agent_id.into(),
        });
        if status.timestamp.is_none() {
            status.timestamp = Some(seconds(now_ms));
        }
        let max_history = self.config.max_status_history;
        if self.is_stale_update(&framework_id, agent_id, &status) {
            // Acknowledged already: the agent missed that, or this is a late copy.
            self.send_acknowledgement(
                agent_id,
                &framework_id,
                status.task_id,
                status.uuid.unwrap_or_default(),
                out,
            );
            return;
        }
        if self.swallow_answered_kill(agent_id, &framework_id, &status, out) {
            return;
        }
        let Some(fw) = self.frameworks.get_mut(&framework_id) else {
            self.counters.invalid_status_updates += 1;
            return;
        };
        let conn = fw.conn;
        let task_id = status.task_id.value.clone();
        let mut operator = None;
        // Only an update that leaves the task in a state that releases its resources can
        // change what is free; STARTING and RUNNING updates need no allocation pass (at
        // 100,000 tasks one pass per update was the launch bottleneck, issue 8).
        let mut frees_resources = true;
        match fw.tasks.get_mut(&task_id).map(Arc::make_mut) {
            Some(entry) if entry.task.agent_id.value == agent_id => {
                let current = entry.state();
                let latest = update
                    .latest_state
                    .and_then(|s| TaskState::try_from(s).ok())
                    .unwrap_or_else(|| TaskState::try_from(status.state).unwrap_or(current));
                let reason = status.reason.and_then(|r| Reason::try_from(r).ok());
                if latest != TaskState::TaskStaging
                    && transition::check(current, latest, reason).is_ok()
                {
                    entry.task.state = latest as i32;
                    self.ledger.task_state_changed(&entry.task, current, latest);
                }
                let previous_status_state = entry.task.statuses.last().map(|s| s.state);
                entry.task.status_update_state = Some(status.state);
                entry.task.status_update_uuid = status.uuid.clone();
                record_status(entry, &status, now_ms, max_history);
                let health_news = matches!(
                    reason,
                    Some(Reason::TaskHealthCheckStatusUpdated | Reason::TaskCheckStatusUpdated)
                );
                if previous_status_state != Some(status.state) || health_news {
                    let mut op = operator_event(OperatorEventType::TaskUpdated);
                    op.task_updated = Some(v1::master::event::TaskUpdated {
                        framework_id: v1::FrameworkId {
                            value: framework_id.clone(),
                        },
                        status: status.clone(),
                        state: entry.task.state,
                    });
                    operator = Some(op);
                }
                self.counters.valid_status_updates += 1;
                frees_resources = releases_resources(entry.state());
            }
            _ => self.counters.invalid_status_updates += 1,
        }
        if let Some(op) = operator {
            out.push(Effect::ToOperators(Box::new(op)));
        }
        if let Some(conn) = conn {
            out.push(Effect::ToScheduler {
                conn,
                event: Box::new(update_event(status)),
            });
        }
        if frees_resources {
            self.allocation_dirty = true;
        }
    }

    /// KILL: unknown tasks are answered like explicit reconciliation; a kill for a task on a
    /// disconnected agent is remembered and re-sent when it reregisters (and a task that was
    /// still STAGING there is reported KILLED/REASON_TASK_KILLED_DURING_LAUNCH at once, since
    /// the launch may never have reached the agent).
    pub(super) fn kill(
        &mut self,
        now_ms: u64,
        framework_id: &str,
        kill: scheduler::call::Kill,
        out: &mut Vec<Effect>,
    ) {
        let task_id = kill.task_id.value.clone();
        if self.kill_pending(now_ms, framework_id, &task_id, out) {
            return;
        }
        let Some(entry) = self
            .frameworks
            .get(framework_id)
            .and_then(|f| f.tasks.get(&task_id))
        else {
            let query = scheduler::call::reconcile::Task {
                task_id: kill.task_id,
                agent_id: kill.agent_id,
            };
            self.reconcile(now_ms, framework_id, &[query], out);
            return;
        };
        let agent_id = entry.task.agent_id.value.clone();
        if kill.agent_id.as_ref().is_some_and(|a| a.value != agent_id) {
            return;
        }
        let staging = entry.state() == TaskState::TaskStaging;
        let connected = self
            .agents
            .get(&agent_id)
            .is_some_and(|a| a.status == AgentStatus::Connected);
        if connected {
            let mut event = agent_event(AgentEventType::KillTask);
            event.kill_task = Some(agent_event::KillTask {
                framework_id: v1::FrameworkId {
                    value: framework_id.into(),
                },
                task_id: kill.task_id,
                kill_policy: kill.kill_policy,
            });
            self.send_to_agent(&agent_id, event, out);
            return;
        }
        // A task group is delivered whole or not at all: a kill of one STAGING task of a group
        // (its executor is a DEFAULT one) whose agent is away kills every STAGING task of the
        // group (REASON_TASK_KILLED_DURING_LAUNCH: "this task, or a task within this task
        // group").
        let killed: Vec<String> = match entry.executor.as_deref() {
            Some(executor)
                if staging && executor.r#type == Some(v1::executor_info::Type::Default as i32) =>
            {
                let executor_id = &executor.executor_id;
                let mut members: Vec<String> = self
                    .agent_tasks
                    .of_framework(&agent_id, framework_id)
                    .into_iter()
                    .filter(|id| {
                        self.frameworks
                            .get(framework_id)
                            .and_then(|f| f.tasks.get(id))
                            .is_some_and(|t| {
                                t.state() == TaskState::TaskStaging
                                    && t.task.executor_id.as_ref() == Some(executor_id)
                            })
                    })
                    .collect();
                members.sort();
                members
            }
            _ => vec![task_id.clone()],
        };
        if let Some(agent) = self.agents.get_mut(&agent_id) {
            for id in &killed {
                agent
                    .pending_kills
                    .insert((framework_id.to_owned(), id.clone()));
            }
        }
        if staging {
            for id in &killed {
                self.master_update(
                    now_ms,
                    framework_id,
                    id,
                    Trigger::KilledBeforeAgent,
                    None,
                    None,
                    out,
                );
                self.complete_task(framework_id, id, out);
            }
            self.allocation_dirty = true;
        }
    }

    pub(super) fn shutdown_executor(
        &mut self,
        framework_id: &str,
        shutdown: scheduler::call::Shutdown,
        out: &mut Vec<Effect>,
    ) {
        let mut event = agent_event(AgentEventType::ShutdownExecutor);
        event.shutdown_executor = Some(agent_event::ShutdownExecutor {
            framework_id: v1::FrameworkId {
                value: framework_id.into(),
            },
            executor_id: shutdown.executor_id,
        });
        self.send_to_agent(&shutdown.agent_id.value, event, out);
    }

    /// ACKNOWLEDGE: removes a terminal task whose current update it matches, and forwards the
    /// acknowledgement to the agent's update manager. Unknown or disconnected agents: dropped.
    pub(super) fn acknowledge(
        &mut self,
        framework_id: &str,
        ack: scheduler::call::Acknowledge,
        out: &mut Vec<Effect>,
    ) {
        let agent_id = ack.agent_id.value.clone();
        let connected = self
            .agents
            .get(&agent_id)
            .is_some_and(|a| a.status == AgentStatus::Connected);
        if !connected {
            return;
        }
        let task_id = ack.task_id.value.clone();
        let done = match self
            .frameworks
            .get(framework_id)
            .and_then(|f| f.tasks.get(&task_id))
        {
            Some(entry) => {
                entry.task.status_update_uuid.as_deref() == Some(ack.uuid.as_slice())
                    && entry
                        .task
                        .status_update_state
                        .and_then(|s| TaskState::try_from(s).ok())
                        .is_some_and(is_terminal)
            }
            None => {
                self.counters.invalid_status_update_acknowledgements += 1;
                false
            }
        };
        if let Ok(uuid) = <[u8; 16]>::try_from(ack.uuid.as_slice())
            && let Some(entry) = self
                .frameworks
                .get_mut(framework_id)
                .and_then(|f| f.tasks.get_mut(&task_id))
                .map(Arc::make_mut)
            && !entry.acked_uuids.contains(&uuid)
        {
            if entry.acked_uuids.len() >= ACKED_UUIDS_KEPT {
                entry.acked_uuids.remove(0);
            }
            entry.acked_uuids.push(uuid);
        }
        if done {
            self.complete_task(framework_id, &task_id, out);
        }
        self.send_acknowledgement(&agent_id, framework_id, ack.task_id, ack.uuid, out);
    }

    /// Whether an agent's update is one the framework already acknowledged for that live
    /// task ([`TaskEntry::acked_uuids`]).
    /// An update for a task whose kill the master answered itself (TASK_KILLED,
    /// REASON_TASK_KILLED_DURING_LAUNCH) while the agent was away, and which the returning
    /// agent turned out to have: the framework has its terminal state and has forgotten the
    /// task, so the agent's own account (RUNNING, or TASK_FAILED when its executor died with
    /// it) would be a second one. The master acknowledges it for the framework, the terminal
    /// update included (which ends the task on the agent), and keeps doing so for copies of
    /// that update (a retry or a duplicate on the wire: one forwarded after the first was
    /// swallowed was a second terminal state, seed 5255212458427393388). The entry goes when
    /// the agent next reregisters without the task.
    fn swallow_answered_kill(
        &mut self,
        agent_id: &str,
        framework_id: &str,
        status: &v1::TaskStatus,
        out: &mut Vec<Effect>,
    ) -> bool {
        let key = (framework_id.to_owned(), status.task_id.value.clone());
        let held = self
            .frameworks
            .get(framework_id)
            .and_then(|f| f.tasks.get(&status.task_id.value))
            .is_some_and(|e| e.task.agent_id.value == agent_id);
        let Some(agent) = self.agents.get_mut(agent_id) else {
            return false;
        };
        if held || !agent.answered_kills.contains(&key) {
            return false;
        }
        self.counters.invalid_status_updates += 1;
        self.send_acknowledgement(
            agent_id,
            framework_id,
            status.task_id.clone(),
            status.uuid.clone().unwrap_or_default(),
            out,
        );
        true
    }

    fn is_stale_update(&self, framework_id: &str, agent_id: &str, status: &v1::TaskStatus) -> bool {
        let Some(uuid) = status
            .uuid
            .as_deref()
            .and_then(|u| <[u8; 16]>::try_from(u).ok())
        else {
            return false;
        };
        self.frameworks
            .get(framework_id)
            .and_then(|f| f.tasks.get(&status.task_id.value))
            .is_some_and(|e| e.task.agent_id.value == agent_id && e.acked_uuids.contains(&uuid))
    }

    /// Sends the agent the acknowledgement of a task's update.
    fn send_acknowledgement(
        &self,
        agent_id: &str,
        framework_id: &str,
        task_id: v1::TaskId,
        uuid: Vec<u8>,
        out: &mut Vec<Effect>,
    ) {
        let mut event = agent_event(AgentEventType::Acknowledge);
        event.acknowledge = Some(agent_event::Acknowledge {
            framework_id: v1::FrameworkId {
                value: framework_id.into(),
            },
            task_id,
            uuid,
        });
        self.send_to_agent(agent_id, event, out);
    }

    pub(super) fn framework_message(
        &mut self,
        framework_id: &str,
        message: scheduler::call::Message,
        out: &mut Vec<Effect>,
    ) {
        let mut event = agent_event(AgentEventType::FrameworkMessage);
        event.framework_message = Some(agent_event::FrameworkMessage {
            framework_id: v1::FrameworkId {
                value: framework_id.into(),
            },
            executor_id: message.executor_id,
            data: message.data,
        });
        self.send_to_agent(&message.agent_id.value, event, out);
    }
}
