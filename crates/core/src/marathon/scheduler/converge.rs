//! After every input: run the timers that are due, move deployments along, bring each touched
//! app to its wanted instances (scale checks and rolling restarts), kill what is
//! decommissioned, and tell the master whether offers are wanted. Due timers come from the
//! timer index and touched apps from the dirty set (`index.rs`), so an input costs what it
//! touches; a timer still fires at the first input at or after its deadline, as when every
//! instance was checked on every input.

use std::collections::BTreeSet;

use super::{Effect, Scheduler};
use crate::marathon::backoff;
use crate::marathon::condition::{Condition, Goal};
use crate::marathon::deployment::{ActionKind, resident_restart_bounds, restart_bounds};
use crate::marathon::event::Event;
use crate::marathon::instance::{Instance, kill_order};
use crate::marathon::path::PathId;

impl Scheduler {
    /// Brings the touched apps to their wanted instances. Only apps marked dirty since the
    /// last convergence (their instances, definition or deployments changed) are looked at:
    /// an untouched app is already converged, and its scale check or restart round would do
    /// nothing.
    pub(super) fn converge(&mut self, now_ms: u64) {
        self.timers(now_ms);
        // A step that completes makes the apps of the next one dirty; they are brought along
        // in the same input, not left waiting for the next one (which may never come when no
        // offers are wanted). Each pass completes at least one step, so this ends; the bound
        // only caps the work of one input.
        for pass in 0..64 {
            let mut dirty = self.instances.take_dirty();
            if self.full_scan && pass == 0 {
                dirty.extend(self.instances.app_ids().cloned());
            }
            self.converge_apps(now_ms, &dirty);
            self.kill_decommissioned(now_ms);
            if !self.progress_deployments(now_ms) {
                break;
            }
        }
        self.want_offers(now_ms);
    }

    /// Orphans of removed apps are decommissioned; each dirty app is scaled or rolled, unless
    /// a running deployment holds it for a later step.
    fn converge_apps(&mut self, now_ms: u64, dirty: &BTreeSet<PathId>) {
        // Orphans: instances of apps that no longer exist are decommissioned (in id order).
        let orphans: BTreeSet<String> = dirty
            .iter()
            .filter(|id| !self.apps.contains_key(*id) && !self.held(id))
            .flat_map(|id| self.instances.of_app(id))
            // Stopped (resident) instances go too: a removed app's reservations are released.
            .filter(|i| i.goal != Goal::Decommissioned)
            .map(|i| i.id.clone())
            .collect();
        for id in orphans {
            self.decommission(&id);
        }
        for app_id in dirty {
            // An app whose step of a running deployment has not come yet waits for its
            // dependencies (or, when it is stopped, for its dependents).
            if !self.apps.contains_key(app_id) || self.held(app_id) {
                continue;
            }
            if self.restarting(app_id) {
                self.rolling(now_ms, app_id);
            } else {
                self.scale(now_ms, app_id);
            }
        }
    }

    /// Time-driven work: reconciliation, and the instances whose timers are due (unreachable
    /// phases, launch timeouts, kill retries), found in the timer index; expired launch delays.
    fn timers(&mut self, now_ms: u64) {
        if self.subscribed && self.next_reconcile_ms.is_some_and(|t| t <= now_ms) {
            self.reconcile(now_ms);
        }
        let ids: Vec<String> = if self.full_scan {
            self.instances.all().keys().map(str::to_owned).collect()
        } else {
            self.instances.due(now_ms)
        };
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

    /// Marks the apps of a deployment for convergence: whether they scale or roll depends on
    /// its current step.
    pub(super) fn touch_deployment(&mut self, deployment_id: &str) {
        if let Some(d) = self.deployments.get(deployment_id) {
            for app in &d.affected_apps {
                self.instances.touch(app);
            }
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

    fn schedule_new(&mut self, now_ms: u64, app_id: &PathId, version_ms: u64, config_ms: u64) {
        // A resident app first takes back an instance it stopped, with its reservation and
        // volumes (Marathon's launch queue reuses them before creating new ones).
        // The tally counts parked instances, so an app without any (every app that is not
        // resident) is not scanned once per new instance (G1: 100,000 new instances).
        let parked = if self.instances.tally(app_id).parked == 0 {
            None
        } else {
            self.instances
                .of_app(app_id)
                .find(|i| i.is_parked() && i.reservation.is_some())
                .map(|i| i.id.clone())
        };
        if let Some(id) = parked {
            self.instances.modify(&id, |i| {
                i.goal = Goal::Running;
                i.app_version_ms = version_ms;
                i.config_ms = config_ms;
            });
            self.relaunch_on_reservation(now_ms, &id);
            return;
        }
        let uuid = self.ids.next_id();
        let mut instance = Instance::scheduled(app_id, &uuid, version_ms, config_ms, now_ms);
        instance.readiness_pending = self
            .apps
            .get(app_id)
            .is_some_and(|a| !a.readiness_checks.is_empty());
        let id = instance.id.clone();
        self.instances.insert(instance);
        self.instance_changed(&id);
    }

    /// Marathon's scale check: start what is missing, decommission the surplus in kill order
    /// (which is also how a returning unreachable instance's surplus is removed). The count
    /// comes from the index; only a surplus looks at the instances.
    fn scale(&mut self, now_ms: u64, app_id: &PathId) {
        let Some(app) = self.apps.get(app_id) else {
            return;
        };
        let target = app.instances as usize;
        let counting = self.instances.tally(app_id).counting;
        if counting < target {
            let (version_ms, config_ms) = (app.version_ms, app.last_config_change_at_ms);
            for _ in counting..target {
                self.schedule_new(now_ms, app_id, version_ms, config_ms);
            }
        } else if counting > target {
            let selection = app.kill_selection;
            let mut counted: Vec<&Instance> = self
                .instances
                .of_app(app_id)
                .filter(|i| i.counts())
                .collect();
            counted.sort_by(|a, b| kill_order(a, b, selection));
            let victims: Vec<String> = counted
                .iter()
                .take(counting - target)
                .map(|i| i.id.clone())
                .collect();
            for victim in victims {
                self.stop_or_decommission(&victim);
            }
        }
    }

    /// One round of a rolling restart under the app's `upgradeStrategy`. The index's counts
    /// decide whether anything is to be killed; only then are the instances sorted.
    fn rolling(&mut self, now_ms: u64, app_id: &PathId) {
        let Some(app) = self.apps.get(app_id) else {
            return;
        };
        if !self.full_scan && !self.rolling_kills(app_id) {
            // Nothing to decommission: only starts, which the counts alone decide.
            let t = self.instances.tally(app_id);
            let (n, version_ms, config) =
                (app.instances, app.version_ms, app.last_config_change_at_ms);
            let (_, max_capacity) = bounds(app)(n, app.upgrade_strategy, t.ready as u32);
            let old_left = (t.counting - t.counting_current) as u32;
            let dying_old = t.dying_old as u32;
            let mut started = (t.counting_current as u32).min(n);
            while started < n && started + old_left + dying_old < max_capacity {
                self.schedule_new(now_ms, app_id, version_ms, config);
                started += 1;
            }
            return;
        }
        let checks = !app.health_checks.is_empty();
        let mesos_check = app
            .health_checks
            .iter()
            .any(|c| c.protocol.runs_on_executor());
        let ready = |i: &Instance| i.is_ready(checks, mesos_check);
        let config = app.last_config_change_at_ms;
        let (n, strategy, selection, version_ms) = (
            app.instances,
            app.upgrade_strategy,
            app.kill_selection,
            app.version_ms,
        );
        let (mut new, mut old): (Vec<&Instance>, Vec<&Instance>) = self
            .instances
            .of_app(app_id)
            .filter(|i| i.counts())
            .partition(|i| i.config_ms == config);
        let healthy_new = new.iter().filter(|i| ready(i)).count() as u32;
        let healthy_old = old.iter().filter(|i| ready(i)).count() as u32;
        let mut healthy = healthy_new + healthy_old;
        let (min_healthy, max_capacity) = bounds(app)(n, strategy, healthy);
        // Old instances that are not healthy go first; a healthy one only while enough stay.
        old.sort_by(|a, b| {
            ready(a)
                .cmp(&ready(b))
                .then_with(|| kill_order(a, b, selection))
        });
        let mut old_left = old.len() as u32;
        let mut old_victims = Vec::new();
        for instance in &old {
            if ready(instance) {
                if healthy.saturating_sub(1) < min_healthy {
                    break;
                }
                healthy -= 1;
            }
            old_victims.push(instance.id.clone());
            old_left -= 1;
        }
        let mut new_victims = Vec::new();
        if new.len() as u32 > n {
            new.sort_by(|a, b| kill_order(a, b, selection));
            new_victims.extend(
                new.iter()
                    .take(new.len() - n as usize)
                    .map(|i| i.id.clone()),
            );
        }
        let new_len = new.len() as u32;
        for id in &old_victims {
            self.stop_or_decommission(id);
        }
        // Old instances still dying count toward the capacity.
        let dying_old = self
            .instances
            .of_app(app_id)
            .filter(|i| i.goal != Goal::Running && i.config_ms != config && i.condition.is_active())
            .count() as u32;
        for id in &new_victims {
            self.stop_or_decommission(id);
        }
        let mut started = new_len.min(n);
        while started < n && started + old_left + dying_old < max_capacity {
            self.schedule_new(now_ms, app_id, version_ms, config);
            started += 1;
        }
    }

    /// Kills decommissioned instances that may still run and forgets the others (the index
    /// keeps those that still need one of the two).
    /// Whether a round of [`Scheduler::rolling`] would decommission anything: an old instance
    /// that is not ready, a ready old one while enough stay healthy, or new ones beyond
    /// `instances`. Counts only.
    fn rolling_kills(&self, app_id: &PathId) -> bool {
        let Some(app) = self.apps.get(app_id) else {
            return false;
        };
        let t = self.instances.tally(app_id);
        let n = app.instances;
        let healthy = t.ready as u32;
        let (min_healthy, _) = bounds(app)(n, app.upgrade_strategy, healthy);
        let old = t.counting - t.counting_current;
        let ready_old = t.ready - t.ready_current;
        let unready_old = old - ready_old;
        unready_old > 0
            || (ready_old > 0 && healthy.saturating_sub(1) >= min_healthy)
            || t.counting_current as u32 > n
    }

    fn kill_decommissioned(&mut self, now_ms: u64) {
        let ids: Vec<String> = if self.full_scan {
            self.instances
                .all()
                .values()
                .filter(|i| i.goal != Goal::Running)
                .filter(|i| {
                    i.goal == Goal::Decommissioned
                        || (i.has_task() && !i.condition.is_terminal() && i.kill_sent_ms.is_none())
                })
                .map(|i| i.id.clone())
                .collect()
        } else {
            self.instances.pending_kill()
        };
        let ids: Vec<(String, bool, bool, bool)> = ids
            .into_iter()
            .filter_map(|id| {
                let i = self.instances.get(&id)?;
                let alive = i.has_task() && !i.condition.is_terminal();
                let kill_sent = i.kill_sent_ms.is_some();
                Some((id, alive, kill_sent, i.goal == Goal::Decommissioned))
            })
            .collect();
        for (id, alive, kill_sent, decommissioned) in ids {
            if !alive {
                // A stopped instance stays, with its reservation.
                if decommissioned {
                    self.expunge(&id);
                }
            } else if !kill_sent {
                self.kill(now_ms, &id);
            }
        }
    }

    /// Moves deployments along; whether any step completed.
    fn progress_deployments(&mut self, now_ms: u64) -> bool {
        let mut advanced = false;
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
                let plan = deployment.view_with(&self.apps);
                deployment.current_step += 1;
                advanced = true;
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
                self.touch_deployment(&id);
                if finished {
                    if let Some(deployment) = self.deployments.remove(&id) {
                        let mut plan = deployment.view_with(&self.apps);
                        plan.current_step = step;
                        self.publish(Event::DeploymentSuccess { plan });
                    }
                    break;
                }
                if let Some(deployment) = self.deployments.get(&id) {
                    let plan = deployment.view_with(&self.apps);
                    self.publish(Event::DeploymentInfo {
                        plan,
                        step: step + 1,
                    });
                }
            }
        }
        advanced
    }

    /// `None` when the action is complete; otherwise why it waits. Counts come from the
    /// index, so this costs the same for an app of one instance or of thousands.
    fn action_waits(&self, now_ms: u64, kind: ActionKind, app_id: &PathId) -> Option<String> {
        let tally = self.instances.tally(app_id);
        let dying = tally.decommissioned;
        match kind {
            ActionKind::StartApplication => None,
            ActionKind::StopApplication => {
                let left = tally.total;
                (left > 0).then(|| format!("waiting for {left} instances to be killed"))
            }
            ActionKind::ScaleApplication | ActionKind::RestartApplication => {
                let app = self.apps.get(app_id)?;
                let checks = !app.health_checks.is_empty();
                let readiness = !app.readiness_checks.is_empty();
                let current = tally.total - tally.decommissioned - tally.parked;
                let ready = if kind == ActionKind::ScaleApplication {
                    tally.ready
                } else {
                    tally.ready_current
                };
                let wanted = app.instances as usize;
                if ready == wanted && current == wanted && dying == 0 {
                    return None;
                }
                if dying > 0 && ready >= wanted {
                    return Some(format!("waiting for {dying} instances to be killed"));
                }
                let queued = self.instances.queued_count(app_id);
                if queued > 0 {
                    let why = self.queue_reason(app_id, now_ms);
                    return Some(format!("{queued} instances not launched: {why}"));
                }
                let starting = current.saturating_sub(ready);
                Some(if readiness {
                    let healthy = if checks { ", healthy" } else { "" };
                    format!("waiting for {starting} instances to be running{healthy} and ready")
                } else if checks {
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
        // Reservations to give back need offers too: only an offer that holds them can
        // carry their DESTROY and UNRESERVE.
        let want = !self.releasing.is_empty()
            || self.instances.queued_apps().iter().any(|id| {
                self.apps.contains_key(id) && !self.delays.get(id).is_some_and(|d| d.blocks(now_ms))
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

/// The restart bounds of an app: a resident app never goes over capacity.
fn bounds(
    app: &crate::marathon::app::AppSpec,
) -> fn(u32, crate::marathon::app::UpgradeStrategy, u32) -> (u32, u32) {
    if app.is_resident() {
        resident_restart_bounds
    } else {
        restart_bounds
    }
}
