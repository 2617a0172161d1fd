//! Status updates (seed 2, line by line, through `condition::reaction`), unreachable phases,
//! health results, and the kill/decommission/expunge primitives they share.

use drover_wire::v1;

use super::pods::PodFold;
use super::{Change, ConditionLog, Effect, Scheduler, TaskFailure};
use crate::marathon::backoff;
use crate::marathon::condition::{Condition, Goal, Reaction, condition_of, reaction};
use crate::marathon::event::Event;
use crate::marathon::instance::parse_task_id;
use crate::marathon::path::PathId;
use crate::marathon::unreachable::UnreachablePhase;
use crate::task::{Reason, TaskState};

/// Conditions whose arrival records the app's `lastTaskFailure`.
fn is_failure(condition: Condition) -> bool {
    matches!(
        condition,
        Condition::Failed
            | Condition::Error
            | Condition::Dropped
            | Condition::Gone
            | Condition::Unknown
    )
}

impl Scheduler {
    pub(super) fn update(&mut self, now_ms: u64, status: v1::TaskStatus) {
        let task_id = status.task_id.value.clone();
        let agent_id = status.agent_id.as_ref().map(|a| a.value.clone());
        self.apply_update(now_ms, &status);
        // Acknowledge after the state is written: the driver persists before sending.
        if let (Some(uuid), Some(agent_id)) = (status.uuid.clone(), agent_id) {
            self.effects.push(Effect::Acknowledge {
                agent_id,
                task_id,
                uuid,
            });
        }
    }

    /// Records, for the scheduler's log, one handled status and the reaction to it.
    fn log_condition(
        &mut self,
        status: &v1::TaskStatus,
        condition: Condition,
        app_id: Option<PathId>,
        instance_id: Option<String>,
        previous: Option<Condition>,
        reaction: &'static str,
    ) {
        self.effects.push(Effect::Log(ConditionLog {
            app_id,
            instance_id,
            task_id: status.task_id.value.clone(),
            state: TaskState::try_from(status.state).unwrap_or(TaskState::TaskUnknown),
            reason: status.reason.and_then(|r| Reason::try_from(r).ok()),
            source: status
                .source
                .and_then(|s| crate::task::Source::try_from(s).ok()),
            message: status.message.clone(),
            previous,
            condition,
            reaction,
        }));
    }

    fn apply_update(&mut self, now_ms: u64, status: &v1::TaskStatus) {
        let Ok(state) = TaskState::try_from(status.state) else {
            return;
        };
        let task_id = status.task_id.value.as_str();
        let reason = status.reason.and_then(|r| Reason::try_from(r).ok());
        let condition = condition_of(state, reason, status.message.as_deref());
        let agent_id = status.agent_id.as_ref().map(|a| a.value.clone());
        let known = parse_task_id(task_id).and_then(|(instance_id, incarnation)| {
            self.instances
                .get(instance_id)
                .map(|i| (i.id.clone(), incarnation == i.incarnation))
        });
        let Some((instance_id, current_task)) = known else {
            // A task we do not know: forget it if it is over, kill it if it runs.
            let parsed = parse_task_id(task_id);
            let what = if condition.is_terminal() || condition == Condition::Unreachable {
                "unknown instance: forgotten"
            } else if condition.is_active() {
                "unknown instance: killed"
            } else {
                "unknown instance: ignored"
            };
            self.log_condition(
                status,
                condition,
                parsed.and_then(|(i, _)| app_of_instance(i)),
                parsed.map(|(i, _)| i.to_owned()),
                None,
                what,
            );
            if condition.is_terminal() || condition == Condition::Unreachable {
                self.publish(Event::UnknownInstanceTerminated {
                    instance_id: parsed.map_or(task_id, |(i, _)| i).to_owned(),
                    run_spec_id: parsed.and_then(|(i, _)| app_of_instance(i)),
                    condition,
                });
            } else if condition.is_active() {
                self.effects.push(Effect::Kill {
                    task_id: task_id.to_owned(),
                    agent_id,
                });
            }
            return;
        };
        if !current_task {
            let app_id = self.instances.get(&instance_id).map(|i| i.app_id.clone());
            let what = if condition.is_terminal() {
                "task of a replaced incarnation: ignored"
            } else {
                "task of a replaced incarnation: killed"
            };
            self.log_condition(
                status,
                condition,
                app_id,
                Some(instance_id.clone()),
                None,
                what,
            );
            if !condition.is_terminal() {
                self.effects.push(Effect::Kill {
                    task_id: task_id.to_owned(),
                    agent_id,
                });
            }
            return;
        }
        // A pod instance shows what all its tasks make of it (`pods.rs`); the log still names
        // the condition this task's status maps to.
        let task_condition = condition;
        let (state, condition, healthy, is_pod) =
            match self.pod_fold(now_ms, &instance_id, state, condition, status) {
                PodFold::NotPod => (state, condition, status.healthy, false),
                PodFold::Folded {
                    state,
                    condition,
                    healthy,
                } => (state, condition, healthy, true),
                PodFold::Ignored(what) => {
                    let instance = self.instances.get(&instance_id);
                    let app_id = instance.map(|i| i.app_id.clone());
                    let previous = instance.map(|i| i.condition);
                    self.log_condition(
                        status,
                        condition,
                        app_id,
                        Some(instance_id.clone()),
                        previous,
                        what,
                    );
                    if condition.is_active() && !condition.is_terminal() {
                        self.effects.push(Effect::Kill {
                            task_id: task_id.to_owned(),
                            agent_id,
                        });
                    }
                    return;
                }
            };
        let ips: Vec<String> = status
            .container_status
            .iter()
            .flat_map(|c| c.network_infos.iter())
            .flat_map(|n| n.ip_addresses.iter())
            .filter_map(|ip| ip.ip_address.clone())
            .collect();
        let applied = self.instances.modify(&instance_id, |instance| {
            // No terminal-to-anything transitions (Mesos sends TASK_LOST after killing a task
            // that already finished).
            if instance.condition.is_terminal() {
                return None;
            }
            let previous = instance.condition;
            let previous_state = instance.mesos_state;
            let healthy_before = instance.mesos_healthy;
            instance.mesos_state = Some(state);
            instance.message.clone_from(&status.message);
            if !ips.is_empty() {
                instance.ip_addresses = ips;
            }
            if healthy.is_some() || is_pod {
                instance.mesos_healthy = healthy;
            }
            if condition == Condition::Running && instance.started_at_ms.is_none() {
                instance.started_at_ms = Some(now_ms);
            }
            let goal = instance.goal;
            let changed_state = previous_state != Some(state);
            let health_flip = healthy.is_some() && healthy != healthy_before;
            match reaction(condition, goal) {
                Reaction::Record => {
                    if previous != condition
                        && !(condition == Condition::Unreachable
                            && previous == Condition::UnreachableInactive)
                    {
                        instance.condition = condition;
                        instance.since_ms = now_ms;
                    }
                    if condition == Condition::Unreachable {
                        instance
                            .unreachable_since_ms
                            .get_or_insert(unreachable_since(status, now_ms));
                    } else {
                        instance.unreachable_since_ms = None;
                    }
                }
                Reaction::StartReplacement => {
                    if !matches!(
                        previous,
                        Condition::Unreachable | Condition::UnreachableInactive
                    ) {
                        instance.condition = Condition::Unreachable;
                        instance.since_ms = now_ms;
                    }
                    instance
                        .unreachable_since_ms
                        .get_or_insert(unreachable_since(status, now_ms));
                }
                Reaction::ExpungeAndReplace { .. } | Reaction::Expunge | Reaction::Keep => {
                    instance.condition = condition;
                    instance.since_ms = now_ms;
                }
            }
            Some((previous, goal, changed_state, health_flip))
        });
        let Some(Some((previous, goal, changed_state, health_flip))) = applied else {
            if let Some(instance) = self.instances.get(&instance_id) {
                let (app_id, previous) = (instance.app_id.clone(), instance.condition);
                self.log_condition(
                    status,
                    condition,
                    Some(app_id),
                    Some(instance_id),
                    Some(previous),
                    "ignored: the instance already reached a terminal condition",
                );
            }
            return;
        };
        // Events are built from the instance in place (no copy of it).
        let Some(instance) = self.instances.get(&instance_id) else {
            return;
        };
        let app_id = instance.app_id.clone();
        let resident = instance.reservation.is_some();
        let now_changed = previous != instance.condition;
        // A pod's tasks announced their own changes.
        let state_event = (changed_state && !is_pod).then(|| status_event(instance, state));
        let health_event = match healthy {
            Some(alive) if health_flip => Some(Event::HealthStatusChanged {
                app_id: instance.app_id.clone(),
                instance_id: instance.id.clone(),
                version_ms: instance.app_version_ms,
                alive,
            }),
            _ => None,
        };
        if let Some(event) = state_event {
            self.publish(event);
        }
        if let Some(event) = health_event {
            self.publish(event);
        }
        self.persist(Change::Instance(instance_id.clone()));
        if now_changed {
            self.instance_changed(&instance_id);
        }
        let what = match reaction(condition, goal) {
            Reaction::Record => "recorded",
            Reaction::ExpungeAndReplace { .. } if resident => {
                "relaunched on its reservation (same agent, same volumes) after the app's \
                 launch delay"
            }
            Reaction::Keep => "kept with its reservation (the instance was stopped)",
            Reaction::StartReplacement => {
                "kept (it may come back); a replacement follows the unreachable strategy"
            }
            Reaction::ExpungeAndReplace { backoff: true } => {
                "expunged; a replacement is launched after the app's launch delay, which grows"
            }
            Reaction::ExpungeAndReplace { backoff: false } => "expunged; a replacement is launched",
            Reaction::Expunge => "expunged (the instance was being decommissioned)",
        };
        let what = if is_pod
            && task_condition != condition
            && reaction(condition, goal) == Reaction::Record
        {
            "recorded on its container; the pod instance's condition comes from all its containers"
        } else {
            what
        };
        self.log_condition(
            status,
            task_condition,
            Some(app_id.clone()),
            Some(instance_id.clone()),
            Some(previous),
            what,
        );
        match reaction(condition, goal) {
            Reaction::ExpungeAndReplace { backoff } => {
                if backoff && let Some(app) = self.apps.get(&app_id) {
                    let delay = backoff::increase(
                        self.delays.get(&app.id).copied(),
                        now_ms,
                        app.backoff_seconds,
                        app.backoff_factor,
                        app.max_launch_delay_seconds,
                    );
                    self.delays.insert(app.id.clone(), delay);
                }
                if is_failure(condition) {
                    self.record_failure(now_ms, &instance_id, state);
                }
                if resident {
                    // A resident instance is never placed elsewhere: it waits for its own
                    // reservation to be offered again.
                    self.relaunch_on_reservation(now_ms, &instance_id);
                } else {
                    // The replacement is started by the scale check of this step.
                    self.expunge(&instance_id);
                }
            }
            Reaction::Expunge => self.expunge(&instance_id),
            Reaction::Keep => {}
            Reaction::StartReplacement | Reaction::Record => {
                self.unreachable_phase(now_ms, &instance_id);
            }
        }
    }

    /// A resident instance whose task ended goes back to the queue with its reservation (a new
    /// incarnation, launched only on the resources and volumes reserved for it).
    pub(super) fn relaunch_on_reservation(&mut self, now_ms: u64, instance_id: &str) {
        // A resident pod instance ends when its first container does: the others are killed,
        // so the executor ends and gives the reservation (and its volumes) back to be offered
        // for the next incarnation. Their late statuses are of a replaced incarnation.
        self.kill_pod_containers(instance_id);
        let readiness = self
            .instances
            .get(instance_id)
            .and_then(|i| self.apps.get(&i.app_id))
            .is_some_and(|a| !a.readiness_checks.is_empty());
        self.instances.modify(instance_id, |i| {
            i.condition = Condition::Scheduled;
            i.since_ms = now_ms;
            i.placement = None;
            i.incarnation += 1;
            i.staged_at_ms = None;
            i.started_at_ms = None;
            i.mesos_state = None;
            i.unreachable_since_ms = None;
            i.mesos_healthy = None;
            i.health.clear();
            i.kill_sent_ms = None;
            i.ip_addresses.clear();
            i.readiness_pending = readiness;
            if let Some(r) = i.reservation.as_mut() {
                r.state = crate::marathon::reservation::ReservationState::Suspended;
            }
        });
        self.executor_health.remove(instance_id);
        self.check_results.remove(instance_id);
        self.instance_changed(instance_id);
    }

    /// The master removed the framework: it killed the framework's tasks and will never report
    /// on them again, so each instance with a task is Unknown to Mesos and is expunged (seed 2,
    /// TASK_UNKNOWN); the scale check of this step schedules replacements, which launch once
    /// the new framework subscribes. The old id is forgotten (persisted) so a restart does not
    /// subscribe with it again.
    pub(super) fn framework_removed(&mut self, now_ms: u64) {
        self.subscribed = false;
        self.next_reconcile_ms = None;
        self.offers_wanted = None;
        if self.framework_id.take().is_some() {
            self.persist(Change::FrameworkId);
        }
        let gone: Vec<String> = self
            .instances
            .all()
            .values()
            .filter(|i| i.has_task())
            .map(|i| i.id.clone())
            .collect();
        for instance_id in gone {
            self.instances.modify(&instance_id, |i| {
                i.condition = Condition::Unknown;
                i.since_ms = now_ms;
            });
            self.instance_changed(&instance_id);
            self.expunge(&instance_id);
        }
    }

    /// Moves an unreachable instance along its app's strategy: inactive (a replacement starts
    /// because it no longer counts), then Unknown and expunged. Runs on updates and on timers.
    pub(super) fn unreachable_phase(&mut self, now_ms: u64, instance_id: &str) {
        let Some(instance) = self.instances.get(instance_id) else {
            return;
        };
        let Some(since) = instance.unreachable_since_ms else {
            return;
        };
        if !matches!(
            instance.condition,
            Condition::Unreachable | Condition::UnreachableInactive
        ) {
            return;
        }
        let strategy = self
            .apps
            .get(&instance.app_id)
            .map(|a| a.unreachable_strategy)
            .unwrap_or_default();
        match strategy.phase(since, now_ms) {
            UnreachablePhase::Unreachable => {}
            UnreachablePhase::Inactive => {
                if instance.condition != Condition::UnreachableInactive {
                    self.instances.modify(instance_id, |i| {
                        i.condition = Condition::UnreachableInactive;
                        i.since_ms = now_ms;
                    });
                    self.instance_changed(instance_id);
                }
            }
            UnreachablePhase::Expunge => {
                self.instances.modify(instance_id, |i| {
                    i.condition = Condition::Unknown;
                    i.since_ms = now_ms;
                });
                self.instance_changed(instance_id);
                self.expunge(instance_id);
            }
        }
    }

    fn record_failure(&mut self, now_ms: u64, instance_id: &str, state: TaskState) {
        let Some(i) = self.instances.get(instance_id) else {
            return;
        };
        let failure = TaskFailure {
            app_id: i.app_id.clone(),
            host: i
                .placement
                .as_ref()
                .map(|p| p.agent.hostname.clone())
                .unwrap_or_default(),
            message: i.message.clone().unwrap_or_default(),
            state,
            task_id: i.deciding_task_id(),
            instance_id: i.id.clone(),
            timestamp_ms: now_ms,
            version_ms: i.app_version_ms,
            slave_id: i
                .placement
                .as_ref()
                .map(|p| p.agent_id.clone())
                .unwrap_or_default(),
        };
        if self.apps.contains_key(&failure.app_id) {
            self.failures.insert(failure.app_id.clone(), failure);
        }
    }

    /// A scale-down's or restart's victim: an instance holding a reservation is stopped (killed,
    /// kept with its reservation and volumes for a later scale-up, as Marathon 1.10 does);
    /// any other is decommissioned.
    pub(super) fn stop_or_decommission(&mut self, instance_id: &str) {
        let reserved = self
            .instances
            .get(instance_id)
            .is_some_and(|i| i.reservation.is_some() && i.goal == Goal::Running);
        if reserved {
            self.instances
                .modify(instance_id, |i| i.goal = Goal::Stopped);
            self.instance_changed(instance_id);
        } else {
            self.decommission(instance_id);
        }
    }

    /// Sets an instance's goal to Decommissioned (it will be killed and then expunged).
    pub(super) fn decommission(&mut self, instance_id: &str) {
        if self
            .instances
            .get(instance_id)
            .is_some_and(|i| i.goal != Goal::Decommissioned)
        {
            self.instances
                .modify(instance_id, |i| i.goal = Goal::Decommissioned);
            self.instance_changed(instance_id);
        }
    }

    /// Sends a kill for the instance's task, if it has one that may be alive.
    pub(super) fn kill(&mut self, now_ms: u64, instance_id: &str) {
        let Some(i) = self.instances.get(instance_id) else {
            return;
        };
        if !i.has_task() || i.condition.is_terminal() {
            return;
        }
        // Every task of a pod instance that may still run.
        self.kill_live_tasks(instance_id);
        self.instances
            .modify(instance_id, |i| i.kill_sent_ms = Some(now_ms));
        self.persist(Change::Instance(instance_id.to_owned()));
    }

    /// Kills the live containers (tasks) of a pod instance; nothing for an app's.
    fn kill_pod_containers(&mut self, instance_id: &str) {
        if self.instances.get(instance_id).is_some_and(|i| i.is_pod()) {
            self.kill_live_tasks(instance_id);
        }
    }

    /// One KILL per task of the instance that may still run, at the agent it was placed on.
    fn kill_live_tasks(&mut self, instance_id: &str) {
        let Some(i) = self.instances.get(instance_id) else {
            return;
        };
        let agent_id = i.placement.as_ref().map(|p| p.agent_id.clone());
        let kills: Vec<Effect> = i
            .live_task_ids()
            .into_iter()
            .map(|task_id| Effect::Kill {
                task_id,
                agent_id: agent_id.clone(),
            })
            .collect();
        self.effects.extend(kills);
    }

    /// Forgets an instance.
    pub(super) fn expunge(&mut self, instance_id: &str) {
        // A pod instance ends when its first container fails: its other containers are killed
        // rather than left to run unowned (the default executor would kill them too).
        self.kill_pod_containers(instance_id);
        self.executor_health.remove(instance_id);
        self.check_results.remove(instance_id);
        if let Some(removed) = self.instances.remove(instance_id) {
            self.persist(Change::Instance(instance_id.to_owned()));
            if let Some(r) = removed.reservation
                && self.releasing.len() < super::RELEASING_MAX
            {
                self.releasing.insert(
                    removed.id,
                    super::Releasing {
                        agent_id: r.agent_id,
                        since_ms: self.last_input_ms,
                        volumes: r.volumes.into_iter().map(|v| v.persistence_id).collect(),
                    },
                );
            }
        }
    }

    pub(super) fn health_result(
        &mut self,
        now_ms: u64,
        instance_id: &str,
        check_index: usize,
        alive: bool,
        cause: Option<String>,
    ) {
        let Some(instance) = self.instances.get(instance_id) else {
            return;
        };
        let Some(app) = self.apps.get(&instance.app_id) else {
            return;
        };
        let Some(check) = app.health_checks.get(check_index).cloned() else {
            return;
        };
        if instance.condition != Condition::Running {
            return;
        }
        let checks = app.health_checks.len();
        // (alive before, failures before the increment), or `None` inside the grace period.
        let counted = self.instances.modify(instance_id, |instance| {
            if instance.health.len() != checks {
                instance.health.resize(checks, Default::default());
            }
            let was_alive = instance.health[check_index].alive();
            let running_since = instance.started_at_ms.unwrap_or(instance.since_ms);
            let result = &mut instance.health[check_index];
            if alive {
                result.consecutive_failures = 0;
                result.first_success_ms.get_or_insert(now_ms);
                result.last_success_ms = Some(now_ms);
                return Some((was_alive, None));
            }
            // Inside the grace period and before the first success, failures do not count.
            let grace_ms = u64::from(check.grace_period_seconds) * 1000;
            if result.first_success_ms.is_none() && now_ms < running_since + grace_ms {
                return None;
            }
            let failures_before = result.consecutive_failures;
            result.consecutive_failures += 1;
            result.last_failure_ms = Some(now_ms);
            result.last_failure_cause.clone_from(&cause);
            Some((was_alive, Some(failures_before)))
        });
        let Some(Some((was_alive, failed))) = counted else {
            return;
        };
        if let Some(failures_before) = failed
            && let Some(instance) = self.instances.get(instance_id)
        {
            let failed_event = Event::FailedHealthCheck {
                app_id: instance.app_id.clone(),
                instance_id: instance.id.clone(),
                check_index,
            };
            // Marathon counts before incrementing: the kill comes on failure max + 1.
            let kill_event = (check.max_consecutive_failures > 0
                && failures_before >= check.max_consecutive_failures
                && instance.kill_sent_ms.is_none())
            .then(|| Event::UnhealthyInstanceKill {
                app_id: instance.app_id.clone(),
                task_id: instance.task_id(),
                instance_id: instance.id.clone(),
                version_ms: instance.app_version_ms,
                reason: cause.unwrap_or_default(),
                host: instance
                    .placement
                    .as_ref()
                    .map(|p| p.agent.hostname.clone())
                    .unwrap_or_default(),
                slave_id: instance
                    .placement
                    .as_ref()
                    .map(|p| p.agent_id.clone())
                    .unwrap_or_default(),
            });
            self.publish(failed_event);
            if let Some(kill_event) = kill_event {
                self.publish(kill_event);
                self.record_failure(now_ms, instance_id, TaskState::TaskKilled);
                self.kill(now_ms, instance_id);
            }
        }
        let Some(instance) = self.instances.get(instance_id) else {
            return;
        };
        let now_alive = instance.health[check_index].alive();
        if now_alive != was_alive {
            let event = Event::HealthStatusChanged {
                app_id: instance.app_id.clone(),
                instance_id: instance.id.clone(),
                version_ms: instance.app_version_ms,
                alive: now_alive,
            };
            self.publish(event);
        }
    }
}

/// When an unreachable task became unreachable: the status' `unreachable_time`, else its
/// timestamp, else now.
fn unreachable_since(status: &v1::TaskStatus, now_ms: u64) -> u64 {
    if let Some(time) = &status.unreachable_time {
        return u64::try_from(time.nanoseconds / 1_000_000).unwrap_or(now_ms);
    }
    match status.timestamp {
        Some(seconds) if seconds.is_finite() && seconds > 0.0 => (seconds * 1000.0) as u64,
        _ => now_ms,
    }
}

/// The app id encoded in an instance id, best effort (`prod_web` → `/prod/web`).
fn app_of_instance(instance_id: &str) -> Option<PathId> {
    let safe = instance_id.split(".instance-").next()?;
    PathId::parse_app_id(&format!("/{}", safe.replace('_', "/"))).ok()
}

fn status_event(instance: &crate::marathon::instance::Instance, state: TaskState) -> Event {
    Event::StatusUpdate {
        slave_id: instance
            .placement
            .as_ref()
            .map(|p| p.agent_id.clone())
            .unwrap_or_default(),
        task_id: instance.task_id(),
        task_status: state,
        message: instance.message.clone().unwrap_or_default(),
        app_id: instance.app_id.clone(),
        host: instance
            .placement
            .as_ref()
            .map(|p| p.agent.hostname.clone())
            .unwrap_or_default(),
        ip_addresses: instance.ip_addresses.clone(),
        ports: instance
            .placement
            .as_ref()
            .map(|p| p.host_ports.clone())
            .unwrap_or_default(),
        version_ms: instance.app_version_ms,
    }
}
