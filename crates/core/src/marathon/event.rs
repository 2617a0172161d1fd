//! Events the scheduler publishes on Marathon's event bus (`/v2/events`), as typed values; the
//! API layer renders them to Marathon's JSON.

use super::condition::Condition;
use super::deployment::PlanView;
use super::path::PathId;
use crate::task::TaskState;

/// One event.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// `status_update_event`: a task status changed.
    StatusUpdate {
        /// Agent id.
        slave_id: String,
        /// Task id.
        task_id: String,
        /// The raw Mesos state (not the inferred condition).
        task_status: TaskState,
        /// Status message.
        message: String,
        /// App id.
        app_id: PathId,
        /// Agent hostname.
        host: String,
        /// Task IPs.
        ip_addresses: Vec<String>,
        /// Host ports.
        ports: Vec<u32>,
        /// App version.
        version_ms: u64,
    },
    /// `instance_changed_event`: condition or goal changed (incl. expunge).
    InstanceChanged {
        /// Instance id.
        instance_id: String,
        /// Its condition.
        condition: Condition,
        /// App id.
        run_spec_id: PathId,
        /// Agent id, if placed.
        agent_id: Option<String>,
        /// Hostname, if placed.
        host: Option<String>,
        /// App version.
        run_spec_version_ms: u64,
    },
    /// `unknown_instance_terminated_event`.
    UnknownInstanceTerminated {
        /// Instance id (as parsed from the task id, or the task id itself).
        instance_id: String,
        /// App id, if the id parsed.
        run_spec_id: Option<PathId>,
        /// The condition reported.
        condition: Condition,
    },
    /// `health_status_changed_event`.
    HealthStatusChanged {
        /// App id.
        app_id: PathId,
        /// Instance id.
        instance_id: String,
        /// App version.
        version_ms: u64,
        /// New health.
        alive: bool,
    },
    /// `instance_health_changed_event`: the instance as a whole turned healthy or unhealthy
    /// (Marathon sends it beside `health_status_changed_event`, which is per check).
    InstanceHealthChanged {
        /// App id (Marathon's `runSpecId`).
        app_id: PathId,
        /// Instance id.
        instance_id: String,
        /// App version (`runSpecVersion`).
        version_ms: u64,
        /// New health.
        healthy: bool,
    },
    /// `failed_health_check_event`.
    FailedHealthCheck {
        /// App id.
        app_id: PathId,
        /// Instance id (Marathon calls it taskId).
        instance_id: String,
        /// Index of the check in the app's `healthChecks`.
        check_index: usize,
    },
    /// `unhealthy_instance_kill_event`.
    UnhealthyInstanceKill {
        /// App id.
        app_id: PathId,
        /// Task id.
        task_id: String,
        /// Instance id.
        instance_id: String,
        /// App version.
        version_ms: u64,
        /// Last failure cause.
        reason: String,
        /// Hostname.
        host: String,
        /// Agent id.
        slave_id: String,
    },
    /// `deployment_info`: a step starts.
    DeploymentInfo {
        /// The plan.
        plan: PlanView,
        /// 0-based index of the step.
        step: usize,
    },
    /// `deployment_step_success`.
    DeploymentStepSuccess {
        /// The plan.
        plan: PlanView,
        /// 0-based index of the step.
        step: usize,
    },
    /// `deployment_success`.
    DeploymentSuccess {
        /// The plan.
        plan: PlanView,
    },
    /// `deployment_failed` (cancelled or superseded).
    DeploymentFailed {
        /// The plan.
        plan: PlanView,
        /// Why.
        reason: String,
    },
    /// `group_change_success`: a change of the group holding an app was stored and its
    /// deployment started.
    GroupChangeSuccess {
        /// The changed group (an app's parent).
        group_id: PathId,
        /// The new version.
        version_ms: u64,
    },
    /// `app_terminated_event`: an app's instances are all gone after its deletion.
    AppTerminated {
        /// App id.
        app_id: PathId,
    },
}

impl Event {
    /// The `eventType` Marathon gives this event.
    pub fn event_type(&self) -> &'static str {
        match self {
            Event::StatusUpdate { .. } => "status_update_event",
            Event::InstanceChanged { .. } => "instance_changed_event",
            Event::UnknownInstanceTerminated { .. } => "unknown_instance_terminated_event",
            Event::HealthStatusChanged { .. } => "health_status_changed_event",
            Event::InstanceHealthChanged { .. } => "instance_health_changed_event",
            Event::FailedHealthCheck { .. } => "failed_health_check_event",
            Event::UnhealthyInstanceKill { .. } => "unhealthy_instance_kill_event",
            Event::DeploymentInfo { .. } => "deployment_info",
            Event::DeploymentStepSuccess { .. } => "deployment_step_success",
            Event::DeploymentSuccess { .. } => "deployment_success",
            Event::DeploymentFailed { .. } => "deployment_failed",
            Event::GroupChangeSuccess { .. } => "group_change_success",
            Event::AppTerminated { .. } => "app_terminated_event",
        }
    }
}
