//! A pod instance's tasks (one per container) and what they make of the instance: its
//! condition is the most important of its tasks' conditions in Marathon 1.10's order (a failed
//! container fails the instance; the instance runs only when every container runs), and it is
//! healthy when every container with a health check is.

use super::PodSpec;
use crate::marathon::condition::Condition;
use crate::task::TaskState;

/// One container's task of a pod instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodTask {
    /// The container (the task id's last name before the incarnation).
    pub container: String,
    /// Its condition.
    pub condition: Condition,
    /// The raw Mesos state of its last status.
    pub state: Option<TaskState>,
    /// Its health, as the executor reports it (containers with a health check).
    pub healthy: Option<bool>,
    /// The message of its last status.
    pub message: Option<String>,
    /// Since when it is in `condition`.
    pub since_ms: u64,
    /// When it first ran.
    pub started_at_ms: Option<u64>,
}

/// The tasks of an instance just launched: each Provisioned.
pub fn provisioned(pod: &PodSpec, now_ms: u64) -> Vec<PodTask> {
    pod.containers
        .iter()
        .map(|c| PodTask {
            container: c.name.clone(),
            condition: Condition::Provisioned,
            state: None,
            healthy: None,
            message: None,
            since_ms: now_ms,
            started_at_ms: None,
        })
        .collect()
}

/// Marathon's `conditionHierarchy`: the instance takes the condition of its task that comes
/// first here. Failures win over everything; a task still on its way holds the instance
/// back; a finished or killed task leaves the others to decide.
const HIERARCHY: [Condition; 13] = [
    Condition::Error,
    Condition::Failed,
    Condition::Gone,
    Condition::Dropped,
    Condition::Unreachable,
    Condition::Killing,
    Condition::Starting,
    Condition::Staging,
    Condition::Unknown,
    Condition::Provisioned,
    Condition::Running,
    Condition::Finished,
    Condition::Killed,
];

fn rank(c: Condition) -> usize {
    // Conditions a task never has (Scheduled, UnreachableInactive) rank with their nearest.
    let c = match c {
        Condition::UnreachableInactive => Condition::Unreachable,
        Condition::Scheduled => Condition::Provisioned,
        c => c,
    };
    HIERARCHY
        .iter()
        .position(|h| *h == c)
        .unwrap_or(HIERARCHY.len())
}

/// The task that decides the instance's condition (none for an instance without tasks).
pub fn deciding(tasks: &[PodTask]) -> Option<&PodTask> {
    tasks.iter().min_by_key(|t| rank(t.condition))
}

/// The instance's condition from its tasks.
pub fn condition(tasks: &[PodTask]) -> Condition {
    deciding(tasks).map_or(Condition::Unknown, |t| t.condition)
}

/// The instance's health: unhealthy if any checked container is, healthy once every checked
/// container is, unknown before (or without checks).
pub fn healthy(pod: &PodSpec, tasks: &[PodTask]) -> Option<bool> {
    let checked: Vec<&PodTask> = tasks
        .iter()
        .filter(|t| {
            pod.container(&t.container)
                .is_some_and(|c| c.health_check.is_some())
        })
        .collect();
    if checked.is_empty() {
        return None;
    }
    if checked.iter().any(|t| t.healthy == Some(false)) {
        return Some(false);
    }
    checked
        .iter()
        .all(|t| t.healthy == Some(true))
        .then_some(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::marathon::pod::tests::{container, pod};

    fn task(name: &str, condition: Condition) -> PodTask {
        PodTask {
            container: name.into(),
            condition,
            state: None,
            healthy: None,
            message: None,
            since_ms: 0,
            started_at_ms: None,
        }
    }

    #[test]
    fn the_instance_takes_the_most_important_condition() {
        use Condition::*;
        let c = |a, b| condition(&[task("a", a), task("b", b)]);
        assert_eq!(c(Running, Running), Running);
        assert_eq!(c(Running, Staging), Staging);
        assert_eq!(c(Running, Provisioned), Provisioned);
        assert_eq!(c(Running, Failed), Failed);
        assert_eq!(c(Killed, Running), Running);
        assert_eq!(c(Finished, Running), Running);
        assert_eq!(c(Finished, Killed), Finished);
        assert_eq!(c(Unreachable, Running), Unreachable);
        assert_eq!(c(Killing, Running), Killing);
        assert_eq!(c(Error, Unreachable), Error);
        assert_eq!(condition(&[]), Unknown);
    }

    #[test]
    fn health_needs_every_checked_container() {
        let mut checked = container("a");
        checked.health_check = Some(crate::marathon::pod::PodHealthCheck {
            probe: crate::marathon::pod::PodProbe::Exec(crate::marathon::pod::PodCommand::Shell(
                "true".into(),
            )),
            grace_period_seconds: 1,
            interval_seconds: 1,
            max_consecutive_failures: 1,
            timeout_seconds: 1,
            delay_seconds: 1,
        });
        let p = pod(vec![checked, container("b")]);
        let mut tasks = vec![task("a", Condition::Running), task("b", Condition::Running)];
        assert_eq!(healthy(&p, &tasks), None);
        tasks[1].healthy = Some(false);
        assert_eq!(
            healthy(&p, &tasks),
            None,
            "b has no check: its verdict is ignored"
        );
        tasks[0].healthy = Some(true);
        assert_eq!(healthy(&p, &tasks), Some(true));
        tasks[0].healthy = Some(false);
        assert_eq!(healthy(&p, &tasks), Some(false));
        assert_eq!(healthy(&pod(vec![container("x")]), &tasks), None);
    }
}
