//! Instances: the scheduler's unit of scheduling (one Mesos task per instance for apps), their
//! ids, goal, condition, placement and health, and the order in which a scale-down kills them.

use std::cmp::Ordering;
use std::sync::Arc;

use super::app::KillSelection;
use super::condition::{Condition, Goal};
use super::constraint::AgentView;
use super::path::PathId;
use crate::task::TaskState;

/// Where an instance was placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The agent's id.
    pub agent_id: String,
    /// What constraints see of the agent (hostname, domain, attributes): one copy shared by
    /// the instances placed from the same offer.
    pub agent: Arc<AgentView>,
    /// Host ports given to the task.
    pub host_ports: Vec<u32>,
}

/// The result of one scheduler-run (Marathon-level) health check for an instance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthResult {
    /// Failures since the last success.
    pub consecutive_failures: u32,
    /// First success ever.
    pub first_success_ms: Option<u64>,
    /// Latest success.
    pub last_success_ms: Option<u64>,
    /// Latest failure.
    pub last_failure_ms: Option<u64>,
    /// Why the latest failure failed.
    pub last_failure_cause: Option<String>,
}

impl HealthResult {
    /// Alive: a success exists and is not older than the latest failure.
    pub fn alive(&self) -> bool {
        match (self.last_success_ms, self.last_failure_ms) {
            (Some(success), Some(failure)) => success >= failure,
            (Some(_), None) => true,
            _ => false,
        }
    }
}

/// One instance of an app.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// `<safePath>.instance-<uuid>`.
    pub id: String,
    /// The app it belongs to.
    pub app_id: PathId,
    /// Incarnation of the current task (starts at 1).
    pub incarnation: u32,
    /// What the scheduler wants of it.
    pub goal: Goal,
    /// Its current condition.
    pub condition: Condition,
    /// Since when it is in `condition`.
    pub since_ms: u64,
    /// The app version it runs.
    pub app_version_ms: u64,
    /// The app's `lastConfigChangeAt` for that version: instances with an older one are
    /// replaced by a restart.
    pub config_ms: u64,
    /// Where its task runs, once launched.
    pub placement: Option<Placement>,
    /// When its task was created (launch sent).
    pub staged_at_ms: Option<u64>,
    /// When its task first reported RUNNING.
    pub started_at_ms: Option<u64>,
    /// The raw Mesos state of the last status applied.
    pub mesos_state: Option<TaskState>,
    /// The message of the last status applied.
    pub message: Option<String>,
    /// Since when it is unreachable, if it is.
    pub unreachable_since_ms: Option<u64>,
    /// Health as the executor reports it (Mesos-level checks).
    pub mesos_healthy: Option<bool>,
    /// Results of the scheduler-run checks, one per Marathon-level check of the app.
    pub health: Vec<HealthResult>,
    /// When a kill was last sent, for retries.
    pub kill_sent_ms: Option<u64>,
    /// IP addresses reported by the task's status.
    pub ip_addresses: Vec<String>,
    /// Its app has readiness checks that have not all passed for this instance yet: it does
    /// not count as ready for a deployment.
    pub readiness_pending: bool,
    /// A pod instance's tasks, one per container, once launched (empty for apps, whose one
    /// task is described by the fields above).
    pub tasks: Vec<super::pod::state::PodTask>,
    /// A resident instance's reservation (resources and persistent volumes on one agent),
    /// once made; it outlives the instance's tasks (`marathon::reservation`).
    /// Boxed: few instances are resident, and an inline reservation would make every one
    /// larger.
    pub reservation: Option<Box<super::reservation::Reservation>>,
}

impl Instance {
    /// A new instance waiting for an offer.
    pub fn scheduled(
        app_id: &PathId,
        uuid: &str,
        version_ms: u64,
        config_ms: u64,
        now_ms: u64,
    ) -> Self {
        Instance {
            id: format!("{}.instance-{uuid}", app_id.safe()),
            app_id: app_id.clone(),
            incarnation: 1,
            goal: Goal::Running,
            condition: Condition::Scheduled,
            since_ms: now_ms,
            app_version_ms: version_ms,
            config_ms,
            placement: None,
            staged_at_ms: None,
            started_at_ms: None,
            mesos_state: None,
            message: None,
            unreachable_since_ms: None,
            mesos_healthy: None,
            health: Vec::new(),
            kill_sent_ms: None,
            ip_addresses: Vec::new(),
            readiness_pending: false,
            tasks: Vec::new(),
            reservation: None,
        }
    }

    /// The Mesos task id of the current incarnation (of an app's instance; a pod instance has
    /// one per container, [`Instance::task_ids`]).
    pub fn task_id(&self) -> String {
        format!("{}._app.{}", self.id, self.incarnation)
    }

    /// Every Mesos task id of the current incarnation.
    pub fn task_ids(&self) -> Vec<String> {
        if self.tasks.is_empty() {
            return vec![self.task_id()];
        }
        self.tasks
            .iter()
            .map(|t| super::pod::launch::task_id(&self.id, &t.container, self.incarnation))
            .collect()
    }

    /// The task ids that may still run: a pod instance's tasks not known to be over (an app's
    /// one task when the instance has one).
    pub fn live_task_ids(&self) -> Vec<String> {
        if self.tasks.is_empty() {
            return if self.has_task() && !self.condition.is_terminal() {
                vec![self.task_id()]
            } else {
                Vec::new()
            };
        }
        if !self.has_task() {
            return Vec::new();
        }
        self.tasks
            .iter()
            .filter(|t| !t.condition.is_terminal())
            .map(|t| super::pod::launch::task_id(&self.id, &t.container, self.incarnation))
            .collect()
    }

    /// The task that speaks for the instance (failures, events): an app's one task, or the
    /// pod task whose condition is the instance's.
    pub fn deciding_task_id(&self) -> String {
        match super::pod::state::deciding(&self.tasks) {
            Some(t) => super::pod::launch::task_id(&self.id, &t.container, self.incarnation),
            None => self.task_id(),
        }
    }

    /// Whether this is an instance of a pod.
    pub fn is_pod(&self) -> bool {
        !self.tasks.is_empty()
    }

    /// Whether a task exists for it on an agent (or may exist).
    pub fn has_task(&self) -> bool {
        self.placement.is_some() && self.condition != Condition::Scheduled
    }

    /// Whether it is a resident instance stopped by a scale-down whose task is over: it keeps
    /// its reservation for a later scale-up (Marathon's goal `Stopped`).
    pub fn is_parked(&self) -> bool {
        self.goal == Goal::Stopped && (!self.has_task() || self.condition.is_terminal())
    }

    /// Whether it counts toward the app's instance count: goal Running and not inactive or over.
    pub fn counts(&self) -> bool {
        self.goal == Goal::Running
            && self.condition != Condition::UnreachableInactive
            && !self.condition.is_terminal()
    }

    /// Whether it is running, past its readiness checks and, if the app has health checks,
    /// healthy: what deployments wait for.
    pub fn is_ready(&self, has_health_checks: bool, has_mesos_check: bool) -> bool {
        if self.condition != Condition::Running || self.readiness_pending {
            return false;
        }
        if !has_health_checks {
            return true;
        }
        let mesos_ok = !has_mesos_check || self.mesos_healthy == Some(true);
        let marathon_ok = self.health.iter().all(HealthResult::alive);
        mesos_ok && marathon_ok
    }

    /// Instance-level health as the API shows it.
    pub fn healthy(&self) -> Option<bool> {
        if self.condition != Condition::Running {
            return None;
        }
        if self.mesos_healthy == Some(false)
            || self
                .health
                .iter()
                .any(|h| !h.alive() && h.last_failure_ms.is_some())
        {
            return Some(false);
        }
        if self.mesos_healthy == Some(true)
            || (!self.health.is_empty() && self.health.iter().all(HealthResult::alive))
        {
            return Some(true);
        }
        None
    }

    /// The Mesos state name the API shows (Scheduled/Provisioned render as TASK_STAGING).
    pub fn state_name(&self) -> &'static str {
        match self.condition {
            Condition::Scheduled | Condition::Provisioned | Condition::Staging => "TASK_STAGING",
            Condition::Starting => "TASK_STARTING",
            Condition::Running => "TASK_RUNNING",
            Condition::Killing => "TASK_KILLING",
            Condition::Finished => "TASK_FINISHED",
            Condition::Failed => "TASK_FAILED",
            Condition::Error => "TASK_ERROR",
            Condition::Killed => "TASK_KILLED",
            Condition::Dropped => "TASK_DROPPED",
            Condition::Gone => "TASK_GONE",
            Condition::Unreachable | Condition::UnreachableInactive => "TASK_UNREACHABLE",
            Condition::Unknown => "TASK_UNKNOWN",
        }
    }
}

/// Parses a task id of the form `<instanceId>.<container>.<n>` (`_app` for an app's task, the
/// container's name for a pod's) into (instance id, incarnation). Older forms are not produced
/// by Drover and are treated as unknown.
pub fn parse_task_id(task_id: &str) -> Option<(&str, u32)> {
    parse_task_id_parts(task_id).map(|(instance, _, incarnation)| (instance, incarnation))
}

/// [`parse_task_id`] with the container name (`_app` for apps).
pub fn parse_task_id_parts(task_id: &str) -> Option<(&str, &str, u32)> {
    let (rest, incarnation) = task_id.rsplit_once('.')?;
    let incarnation = incarnation.parse().ok()?;
    let (instance, container) = rest.rsplit_once('.')?;
    // The instance id ends in `instance-<uuid>` (no dots in a uuid).
    let (_, uuid) = instance.rsplit_once(".instance-")?;
    if uuid.is_empty() || uuid.contains('.') || container.is_empty() {
        return None;
    }
    Some((instance, container, incarnation))
}

/// Ranks conditions for scale-down: lower is killed first (unreachable, then not yet
/// running, then running).
fn kill_rank(condition: Condition) -> u8 {
    match condition {
        Condition::Unreachable | Condition::UnreachableInactive => 0,
        Condition::Scheduled => 1,
        Condition::Provisioned | Condition::Staging => 2,
        Condition::Starting => 3,
        Condition::Running => 4,
        _ => 5,
    }
}

/// Orders instances so that the first ones are the ones a scale-down kills.
pub fn kill_order(a: &Instance, b: &Instance, selection: KillSelection) -> Ordering {
    let age = |i: &Instance| i.started_at_ms.or(i.staged_at_ms).unwrap_or(i.since_ms);
    kill_rank(a.condition)
        .cmp(&kill_rank(b.condition))
        .then_with(|| match selection {
            KillSelection::YoungestFirst => age(b).cmp(&age(a)),
            KillSelection::OldestFirst => age(a).cmp(&age(b)),
        })
        .then_with(|| a.id.cmp(&b.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_ids_round_trip() {
        let app = PathId::parse_app_id("/prod/web").unwrap();
        let instance = Instance::scheduled(&app, "u-1", 1, 1, 0);
        assert_eq!(instance.task_id(), "prod_web.instance-u-1._app.1");
        assert_eq!(
            parse_task_id(&instance.task_id()),
            Some(("prod_web.instance-u-1", 1))
        );
        assert_eq!(parse_task_id("nonsense"), None);
        assert_eq!(
            parse_task_id_parts("prod_web.instance-u-1.side.3"),
            Some(("prod_web.instance-u-1", "side", 3))
        );
        assert_eq!(parse_task_id("prod_web.instance-u-1.3"), None);
        assert_eq!(parse_task_id("prod_web.x._app.3"), None);
    }
}
