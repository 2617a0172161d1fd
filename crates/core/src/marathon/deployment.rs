//! Deployment plans: the steps and actions that take apps from their original to their target
//! definitions, and the rolling-restart arithmetic of `upgradeStrategy`.

use std::collections::BTreeMap;

use super::app::{AppSpec, UpgradeStrategy};
use super::path::PathId;

/// What an action does to its app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ActionKind {
    /// A new app appears (placeholder step; scaling follows).
    StartApplication,
    /// The app is removed: all instances are killed.
    StopApplication,
    /// The number of instances changes.
    ScaleApplication,
    /// Every instance is replaced by one of the new configuration, rolling.
    RestartApplication,
}

impl ActionKind {
    /// Marathon's name.
    pub fn name(self) -> &'static str {
        match self {
            ActionKind::StartApplication => "StartApplication",
            ActionKind::StopApplication => "StopApplication",
            ActionKind::ScaleApplication => "ScaleApplication",
            ActionKind::RestartApplication => "RestartApplication",
        }
    }

    /// Parses Marathon's name.
    pub fn parse(name: &str) -> Option<ActionKind> {
        Some(match name {
            "StartApplication" => ActionKind::StartApplication,
            "StopApplication" => ActionKind::StopApplication,
            "ScaleApplication" => ActionKind::ScaleApplication,
            "RestartApplication" => ActionKind::RestartApplication,
            _ => return None,
        })
    }
}

/// One action of a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    /// What it does.
    pub kind: ActionKind,
    /// To which app.
    pub app: PathId,
}

/// A running deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    /// Plan id (a UUID).
    pub id: String,
    /// The version it deploys (the new app version).
    pub version_ms: u64,
    /// Apps it changes.
    pub affected_apps: Vec<PathId>,
    /// Steps, run in order; actions of a step run together.
    pub steps: Vec<Vec<Action>>,
    /// Index of the step being executed.
    pub current_step: usize,
    /// The definitions before the deployment (`None`: the app did not exist), for reverting.
    pub originals: BTreeMap<PathId, Option<AppSpec>>,
    /// Why each unfinished action of the current step waits (not persisted).
    pub waiting: BTreeMap<PathId, String>,
}

impl Deployment {
    /// The read-only view events and the API render.
    pub fn view(&self) -> PlanView {
        PlanView {
            id: self.id.clone(),
            version_ms: self.version_ms,
            affected_apps: self.affected_apps.clone(),
            steps: self.steps.clone(),
            current_step: self.current_step,
            original: self.originals.values().flatten().cloned().collect(),
            target: Vec::new(),
        }
    }

    /// [`Deployment::view`] with the affected apps' definitions as they are now in `apps` (the
    /// plan's target: the scheduler applies a plan's definitions when it starts).
    pub fn view_with(&self, apps: &BTreeMap<PathId, AppSpec>) -> PlanView {
        PlanView {
            target: self
                .affected_apps
                .iter()
                .filter_map(|id| apps.get(id))
                .cloned()
                .collect(),
            ..self.view()
        }
    }
}

/// A plan as events and the API show it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanView {
    /// Plan id.
    pub id: String,
    /// Version.
    pub version_ms: u64,
    /// Affected apps.
    pub affected_apps: Vec<PathId>,
    /// Steps.
    pub steps: Vec<Vec<Action>>,
    /// Index of the step being executed.
    pub current_step: usize,
    /// The affected apps' definitions before the plan (absent: created by it).
    pub original: Vec<AppSpec>,
    /// The affected apps' definitions after it (absent: deleted by it).
    pub target: Vec<AppSpec>,
}

/// The steps of a plan for one app going from `original` to `target` (`None` = absent).
pub fn plan_steps(
    id: &PathId,
    original: Option<&AppSpec>,
    target: Option<&AppSpec>,
) -> Vec<Vec<Action>> {
    let action = |kind| {
        vec![Action {
            kind,
            app: id.clone(),
        }]
    };
    match (original, target) {
        (None, None) => Vec::new(),
        (Some(_), None) => vec![action(ActionKind::StopApplication)],
        (None, Some(_)) => vec![
            action(ActionKind::StartApplication),
            action(ActionKind::ScaleApplication),
        ],
        (Some(old), Some(new)) if old.is_upgrade_to(new) => {
            vec![action(ActionKind::RestartApplication)]
        }
        (Some(_), Some(_)) => vec![action(ActionKind::ScaleApplication)],
    }
}

/// Rolling-restart bounds for `instances` under `strategy`: (minimum healthy, maximum at once).
/// When the two meet at or below what is healthy, one extra instance is allowed so the
/// restart can make progress (Marathon's temporary over-capacity for non-resident apps).
pub fn restart_bounds(instances: u32, strategy: UpgradeStrategy, healthy: u32) -> (u32, u32) {
    let n = f64::from(instances);
    let min_healthy = (n * strategy.minimum_health_capacity).ceil() as u32;
    let mut max_capacity = (n * (1.0 + strategy.maximum_over_capacity)).floor() as u32;
    if min_healthy == max_capacity && max_capacity <= healthy {
        max_capacity += 1;
    }
    (min_healthy, max_capacity)
}

/// [`restart_bounds`] for a resident app: where a non-resident app gets one instance over
/// capacity, a resident one kills one more instead (Marathon's `TaskReplaceActor`), so the new
/// version takes over a reservation and no second set of volumes is made.
pub fn resident_restart_bounds(
    instances: u32,
    strategy: UpgradeStrategy,
    healthy: u32,
) -> (u32, u32) {
    let n = f64::from(instances);
    let mut min_healthy = (n * strategy.minimum_health_capacity).ceil() as u32;
    let max_capacity = (n * (1.0 + strategy.maximum_over_capacity)).floor() as u32;
    if min_healthy == max_capacity && max_capacity <= healthy {
        min_healthy = min_healthy.saturating_sub(1);
    }
    (min_healthy, max_capacity)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_bounds_match_marathon() {
        let s = |min, over| UpgradeStrategy {
            minimum_health_capacity: min,
            maximum_over_capacity: over,
        };
        assert_eq!(restart_bounds(3, s(0.7, 0.0), 3), (3, 4));
        assert_eq!(restart_bounds(3, s(1.0, 1.0), 3), (3, 6));
        assert_eq!(restart_bounds(4, s(0.5, 0.0), 4), (2, 4));
        assert_eq!(restart_bounds(0, s(1.0, 1.0), 0), (0, 1));
    }
}
