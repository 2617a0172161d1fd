//! The scheduler's side of readiness checks: which running instances are probed, which probes
//! are due, and what a result does (an instance whose checks all passed stops being pending, so
//! the deployment step waiting for it moves on and old instances may be killed).

use super::{Change, Effect, Scheduler};
use crate::marathon::condition::Condition;
use crate::marathon::instance::Instance;
use crate::marathon::readiness::{self, CheckResult, Probe, ProbeOutcome, ReadinessCheck};

impl Scheduler {
    /// The readiness checks of the app version an instance runs (the current definition if
    /// that version is gone).
    fn readiness_checks_of(&self, instance: &Instance) -> Vec<ReadinessCheck> {
        self.versions
            .get(&instance.app_id)
            .and_then(|v| v.get(&instance.app_version_ms))
            .or_else(|| self.apps.get(&instance.app_id))
            .map(|a| a.readiness_checks.clone())
            .unwrap_or_default()
    }

    /// Starts or stops probing an instance after it changed: probed while it runs and is
    /// pending, forgotten once it stops running.
    pub(super) fn readiness_sync(&mut self, now_ms: u64, instance_id: &str) {
        let Some(instance) = self.instances.get(instance_id) else {
            self.readiness.stop(instance_id);
            return;
        };
        if instance.condition != Condition::Running {
            self.readiness.stop(instance_id);
            return;
        }
        if !instance.readiness_pending {
            return;
        }
        let checks = self.readiness_checks_of(instance).len();
        if checks == 0 {
            // The version it runs has no checks (left from a definition that had them).
            self.instances
                .modify(instance_id, |i| i.readiness_pending = false);
            self.persist(Change::Instance(instance_id.to_owned()));
            return;
        }
        let task_id = instance.task_id();
        self.readiness.start(instance_id, &task_id, checks, now_ms);
    }

    /// Emits the probes that are due.
    pub(super) fn readiness_probes(&mut self, now_ms: u64) {
        if self.readiness.next_deadline().is_none_or(|t| t > now_ms) {
            return;
        }
        let mut tracker = std::mem::take(&mut self.readiness);
        let due = tracker.due(now_ms, |id| {
            self.instances
                .get(id)
                .map(|i| self.readiness_checks_of(i))
                .unwrap_or_default()
        });
        self.readiness = tracker;
        for (instance_id, task_id, check_index) in due {
            let Some(instance) = self.instances.get(&instance_id) else {
                self.readiness.stop(&instance_id);
                continue;
            };
            let checks = self.readiness_checks_of(instance);
            let Some(check) = checks.get(check_index) else {
                continue;
            };
            let app = self
                .versions
                .get(&instance.app_id)
                .and_then(|v| v.get(&instance.app_version_ms))
                .or_else(|| self.apps.get(&instance.app_id));
            let Some(url) = app.and_then(|app| readiness::url(app, check, instance)) else {
                continue;
            };
            self.effects.push(Effect::ReadinessProbe(Probe {
                instance_id,
                task_id,
                check_index,
                url,
                timeout_ms: u64::from(check.timeout_seconds) * 1000,
            }));
        }
    }

    /// Applies a probe's result.
    pub(super) fn readiness_result(&mut self, now_ms: u64, probe: Probe, outcome: ProbeOutcome) {
        let Some(instance) = self.instances.get(&probe.instance_id) else {
            self.readiness.stop(&probe.instance_id);
            return;
        };
        let checks = self.readiness_checks_of(instance);
        let Some(check) = checks.get(probe.check_index) else {
            return;
        };
        let all_ready = self.readiness.record(
            now_ms,
            &probe.instance_id,
            &probe.task_id,
            probe.check_index,
            check,
            outcome,
        );
        if all_ready == Some(true) {
            self.instances
                .modify(&probe.instance_id, |i| i.readiness_pending = false);
            self.persist(Change::Instance(probe.instance_id.clone()));
        }
    }

    /// The latest readiness results of an instance (`readinessCheckResults`): while it is
    /// probed, and after its checks passed until it stops running.
    pub fn readiness_results(&self, instance_id: &str) -> Vec<CheckResult> {
        self.readiness.results(instance_id)
    }
}
