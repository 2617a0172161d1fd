//! After every input: expire timers, move deployments along, bring each app to its wanted
//! instances (scale checks and rolling restarts), kill what is decommissioned, and tell the
//! master whether offers are wanted.

use super::{Effect, Scheduler};
use crate::marathon::app::AppSpec;
use crate::marathon::backoff;
use crate::marathon::condition::{Condition, Goal};
use crate::marathon::deployment::{ActionKind, restart_bounds};
use crate::marathon::event::Event;
use crate::marathon::instance::{Instance, kill_order};
use crate::marathon::path::PathId;

impl Scheduler {
    pub(super) fn converge(&mut self, now_ms: u64) {
        self.timers(now_ms);
        // Orphans: instances of apps that no longer exist are decommissioned.
        let orphans: Vec<String> = self
            .instances
            .values()
            .filter(|i| i.goal == Goal::Running && !self.apps.contains_key(&i.app_id))
            .map(|i| i.id.clone())
            .collect();
        for id in orphans {
            self.decommission(&id);
        }
        let app_ids: Vec<PathId> = self.apps.keys().cloned().collect();
        for app_id in app_ids {
            if self.restarting(&app_id) {
                self.rolling(now_ms, &app_id);
            } else {
                self.scale(now_ms, &app_id);
            }
        }
        self.kill_decommissioned(now_ms);
        self.progress_deployments(now_ms);
        self.want_offers(now_ms);
    }

    fn timers(&mut self, now_ms: u64) {
        if self.subscribed && self.next_reconcile_ms.is_some_and(|t| t <= now_ms) {
            self.reconcile(now_ms);
        }
        let ids: Vec<String> = self.instances.keys().cloned().collect();
        for id in ids {
            self.unreachable_phase(now_ms, &id);
            let Some(i) = self.instances.get(&id) else {
                continue;
            };
            let overdue = matches!(
                i.condition,
                Condition::Provisioned | Condition::Staging | Condition::Starting
            ) && i.kill_sent_ms.is_none()
                && i.staged_at_ms
                    .is_some_and(|t| t + self.config.task_launch_timeout_ms <= now_ms);
            let retry = i.condition.is_active()
                && i.kill_sent_ms
                    .is_some_and(|t| t + self.config.kill_retry_ms <= now_ms);
            if overdue || retry {
                self.kill(now_ms, &id);
            }
        }
        let expired: Vec<PathId> = self
            .delays
            .iter()
            .filter(|(id, delay)| {
                self.apps
                    .get(*id)
                    .is_none_or(|a| backoff::expired(delay, now_ms, a.max_launch_delay_seconds))
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            self.delays.remove(&id);
        }
    }

    /// Whether the app's part of a running deployment's current step is a restart.
    fn restarting(&self, app_id: &PathId) -> bool {
        self.deployments.values().any(|d| {
            d.steps[d.current_step]
                .iter()
                .any(|a| &a.app == app_id && a.kind == ActionKind::RestartApplication)
        })
    }

    fn schedule_new(&mut self, now_ms: u64, app: &AppSpec) {
        let uuid = self.ids.next_id();
        let instance = Instance::scheduled(
            &app.id,
            &uuid,
            app.version_ms,
            app.last_config_change_at_ms,
            now_ms,
        );
        let id = instance.id.clone();
        self.instances.insert(id.clone(), instance);
        self.instance_changed(&id);
    }

    /// Marathon's scale check: start what is missing, decommission the surplus in kill order
    /// (which is also how a returning unreachable instance's surplus is removed).
    fn scale(&mut self, now_ms: u64, app_id: &PathId) {
        let Some(app) = self.apps.get(app_id).cloned() else {
            return;
        };
        let mut counting: Vec<Instance> = self
            .instances_of(app_id)
            .filter(|i| i.counts())
            .cloned()
            .collect();
        let target = app.instances as usize;
        for _ in counting.len()..target {
            self.schedule_new(now_ms, &app);
        }
        if counting.len() > target {
            counting.sort_by(|a, b| kill_order(a, b, app.kill_selection));
            let surplus = counting.len() - target;
            for victim in counting.iter().take(surplus) {
                self.decommission(&victim.id);
            }
        }
    }

    /// One round of a rolling restart under the app's `upgradeStrategy`.
    fn rolling(&mut self, now_ms: u64, app_id: &PathId) {
        let Some(app) = self.apps.get(app_id).cloned() else {
            return;
        };
        let checks = !app.health_checks.is_empty();
        let mesos_check = app
            .health_checks
            .iter()
            .any(|c| c.protocol.runs_on_executor());
        let ready = |i: &Instance| i.is_ready(checks, mesos_check);
        let config = app.last_config_change_at_ms;
        let (mut new, mut old): (Vec<Instance>, Vec<Instance>) = self
            .instances_of(app_id)
            .filter(|i| i.counts())
            .cloned()
            .partition(|i| i.config_ms == config);
        let n = app.instances;
        let healthy_new = new.iter().filter(|i| ready(i)).count() as u32;
        let healthy_old = old.iter().filter(|i| ready(i)).count() as u32;
        let mut healthy = healthy_new + healthy_old;
        let (min_healthy, max_capacity) = restart_bounds(n, app.upgrade_strategy, healthy);
        // Old instances that are not healthy go first; a healthy one only while enough stay.
        old.sort_by(|a, b| {
            ready(a)
                .cmp(&ready(b))
                .then_with(|| kill_order(a, b, app.kill_selection))
        });
        let mut old_left = old.len() as u32;
        for instance in &old {
            if ready(instance) {
                if healthy.saturating_sub(1) < min_healthy {
                    break;
                }
                healthy -= 1;
            }
            self.decommission(&instance.id);
            old_left -= 1;
        }
        // Old instances still dying count toward the capacity.
        let dying_old = self
            .instances_of(app_id)
            .filter(|i| {
                i.goal == Goal::Decommissioned && i.config_ms != config && i.condition.is_active()
            })
            .count() as u32;
        if new.len() as u32 > n {
            new.sort_by(|a, b| kill_order(a, b, app.kill_selection));
            for victim in new.iter().take(new.len() - n as usize) {
                self.decommission(&victim.id);
            }
        }
        let mut started = (new.len() as u32).min(n);
        while started < n && started + old_left + dying_old < max_capacity {
            self.schedule_new(now_ms, &app);
            started += 1;
        }
    }

    fn kill_decommissioned(&mut self, now_ms: u64) {
        let ids: Vec<(String, bool, bool)> = self
            .instances
            .values()
            .filter(|i| i.goal == Goal::Decommissioned)
            .map(|i| {
                (
                    i.id.clone(),
                    i.has_task() && !i.condition.is_terminal(),
                    i.kill_sent_ms.is_some(),
                )
            })
            .collect();
        for (id, alive, kill_sent) in ids {
            if !alive {
                self.expunge(&id);
            } else if !kill_sent {
                self.kill(now_ms, &id);
            }
        }
    }

    fn progress_deployments(&mut self, now_ms: u64) {
        let ids: Vec<String> = self.deployments().iter().map(|d| d.id.clone()).collect();
        for id in ids {
            while let Some(deployment) = self.deployments.get(&id) {
                let step = deployment.current_step;
                let actions = deployment.steps[step].clone();
                let mut waiting = std::collections::BTreeMap::new();
                for action in &actions {
                    if let Some(reason) = self.action_waits(now_ms, action.kind, &action.app) {
                        waiting.insert(action.app.clone(), reason);
                    }
                }
                let done = waiting.is_empty();
                let Some(deployment) = self.deployments.get_mut(&id) else {
                    break;
                };
                deployment.waiting = waiting;
                if !done {
                    break;
                }
                let plan = deployment.view();
                deployment.current_step += 1;
                let finished = deployment.current_step >= deployment.steps.len();
                for action in &actions {
                    if action.kind == ActionKind::StopApplication {
                        self.publish(Event::AppTerminated {
                            app_id: action.app.clone(),
                        });
                    }
                }
                self.publish(Event::DeploymentStepSuccess { plan, step });
                self.persist(super::Change::Deployment(id.clone()));
                if finished {
                    if let Some(deployment) = self.deployments.remove(&id) {
                        let mut plan = deployment.view();
                        plan.current_step = step;
                        self.publish(Event::DeploymentSuccess { plan });
                    }
                    break;
                }
                if let Some(deployment) = self.deployments.get(&id) {
                    let plan = deployment.view();
                    self.publish(Event::DeploymentInfo {
                        plan,
                        step: step + 1,
                    });
                }
            }
        }
    }

    /// `None` when the action is complete; otherwise why it waits.
    fn action_waits(&self, now_ms: u64, kind: ActionKind, app_id: &PathId) -> Option<String> {
        let dying = self
            .instances_of(app_id)
            .filter(|i| i.goal == Goal::Decommissioned)
            .count();
        match kind {
            ActionKind::StartApplication => None,
            ActionKind::StopApplication => {
                let left = self.instances_of(app_id).count();
                (left > 0).then(|| format!("waiting for {left} instances to be killed"))
            }
            ActionKind::ScaleApplication | ActionKind::RestartApplication => {
                let app = self.apps.get(app_id)?;
                let checks = !app.health_checks.is_empty();
                let mesos_check = app
                    .health_checks
                    .iter()
                    .any(|c| c.protocol.runs_on_executor());
                let current: Vec<&Instance> = self
                    .instances_of(app_id)
                    .filter(|i| i.goal == Goal::Running)
                    .collect();
                let ready = current
                    .iter()
                    .filter(|i| {
                        i.is_ready(checks, mesos_check)
                            && (kind == ActionKind::ScaleApplication
                                || i.config_ms == app.last_config_change_at_ms)
                    })
                    .count();
                let wanted = app.instances as usize;
                if ready == wanted && current.len() == wanted && dying == 0 {
                    return None;
                }
                if dying > 0 && ready >= wanted {
                    return Some(format!("waiting for {dying} instances to be killed"));
                }
                let queued = current
                    .iter()
                    .filter(|i| i.condition == Condition::Scheduled)
                    .count();
                if queued > 0 {
                    let entry = self.queue(now_ms).into_iter().find(|e| &e.app_id == app_id);
                    let why = entry.map(|e| e.reason).unwrap_or_default();
                    return Some(format!("{queued} instances not launched: {why}"));
                }
                let starting = current.len().saturating_sub(ready);
                Some(if checks {
                    format!("waiting for {starting} instances to be running and healthy")
                } else {
                    format!("waiting for {starting} instances to be running")
                })
            }
        }
    }

    fn want_offers(&mut self, now_ms: u64) {
        if !self.subscribed {
            return;
        }
        let want = self.apps.values().any(|app| {
            !self.delays.get(&app.id).is_some_and(|d| d.blocks(now_ms))
                && self
                    .instances_of(&app.id)
                    .any(|i| i.goal == Goal::Running && i.condition == Condition::Scheduled)
        });
        if self.offers_wanted != Some(want) {
            self.offers_wanted = Some(want);
            self.effects.push(if want {
                Effect::Revive
            } else {
                Effect::Suppress
            });
        }
    }
}
