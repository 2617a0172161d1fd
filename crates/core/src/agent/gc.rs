//! Sandbox garbage collection, as Mesos' agent did it: the directories of ended executors
//! (their run, the executor's directory, the framework's directory) are scheduled for
//! deletion `--gc_delay` after they ended, sooner when the disk fills
//! (`--gc_disk_headroom`), and unscheduled when a new task needs them again. The table and
//! its decisions live here; the driver deletes directories and measures the disk.

use std::collections::{BTreeMap, BTreeSet};

use super::{Agent, Effect, ExecutorId, FrameworkId};

/// Mesos' `--gc_delay` default (one week).
pub const DEFAULT_GC_DELAY_MS: u64 = 7 * 24 * 3_600_000;
/// Mesos' `--gc_disk_headroom` default.
pub const DEFAULT_GC_DISK_HEADROOM: f64 = 0.1;

/// The garbage collector's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GcConfig {
    /// `--gc_delay`: how long a directory is kept after it was scheduled.
    pub delay_ms: u64,
    /// `--gc_disk_headroom`: the fraction of the disk to keep free; the fuller the disk, the
    /// sooner directories go (`age = delay × max(0, 1 − headroom − usage)`).
    pub disk_headroom: f64,
}

impl Default for GcConfig {
    fn default() -> Self {
        GcConfig {
            delay_ms: DEFAULT_GC_DELAY_MS,
            disk_headroom: DEFAULT_GC_DISK_HEADROOM,
        }
    }
}

impl GcConfig {
    /// Checks the flags: a zero delay or a headroom outside [0, 1] is refused at start.
    pub fn validate(&self) -> Result<(), String> {
        if self.delay_ms == 0 {
            return Err(
                "--gc_delay must be more than zero (sandboxes would be deleted \
                        while their executor's last updates are still being read)"
                    .into(),
            );
        }
        if !(0.0..=1.0).contains(&self.disk_headroom) {
            return Err(format!(
                "--gc_disk_headroom must be between 0.0 and 1.0, not {}",
                self.disk_headroom
            ));
        }
        Ok(())
    }

    /// Mesos' `Slave::age`: how old a directory may get at this disk usage (0.0–1.0).
    pub fn max_allowed_age_ms(&self, usage: f64) -> u64 {
        let usage = if usage.is_finite() {
            usage.clamp(0.0, 1.0)
        } else {
            1.0
        };
        let factor = (1.0 - self.disk_headroom - usage).max(0.0);
        (self.delay_ms as f64 * factor) as u64
    }
}

/// What unscheduling a directory found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unscheduled {
    /// It was not scheduled: nothing to do.
    NotScheduled,
    /// It was scheduled and no longer is.
    Kept,
    /// Its deletion has already started: it cannot be kept.
    BeingRemoved,
}

/// The directories scheduled for deletion, by path and by due time.
#[derive(Debug, Clone, Default)]
pub struct Gc {
    due: BTreeMap<String, u64>,
    by_time: BTreeSet<(u64, String)>,
    removing: BTreeSet<String>,
}

impl Gc {
    /// Schedules `path` for deletion at `due_ms` (a path already scheduled is rescheduled, as
    /// Mesos does; one being deleted stays being deleted).
    pub fn schedule(&mut self, path: &str, due_ms: u64) {
        if self.removing.contains(path) {
            return;
        }
        if let Some(old) = self.due.insert(path.to_owned(), due_ms) {
            self.by_time.remove(&(old, path.to_owned()));
        }
        self.by_time.insert((due_ms, path.to_owned()));
    }

    /// Takes `path` off the schedule, if it can be.
    pub fn unschedule(&mut self, path: &str) -> Unscheduled {
        if self.removing.contains(path) {
            return Unscheduled::BeingRemoved;
        }
        match self.due.remove(path) {
            Some(due) => {
                self.by_time.remove(&(due, path.to_owned()));
                Unscheduled::Kept
            }
            None => Unscheduled::NotScheduled,
        }
    }

    /// The earliest due time, for the driver's timer.
    pub fn next_deadline(&self) -> Option<u64> {
        self.by_time.first().map(|(t, _)| *t)
    }

    /// The paths due within `within_ms` of `now_ms`, now marked as being removed; the driver
    /// deletes them and reports each with [`Gc::removed`].
    pub fn take_due(&mut self, now_ms: u64, within_ms: u64) -> Vec<String> {
        let limit = now_ms.saturating_add(within_ms);
        let mut taken = Vec::new();
        while let Some((t, _)) = self.by_time.first() {
            if *t > limit {
                break;
            }
            let (_, path) = self.by_time.pop_first().expect("checked");
            self.due.remove(&path);
            self.removing.insert(path.clone());
            taken.push(path);
        }
        taken
    }

    /// The deletion of `path` finished (whether or not every file could be removed).
    pub fn removed(&mut self, path: &str) {
        self.removing.remove(path);
    }

    /// Whether `path` is scheduled or being deleted.
    pub fn contains(&self, path: &str) -> bool {
        self.due.contains_key(path) || self.removing.contains(path)
    }

    /// How many directories are scheduled (not counting those being deleted).
    pub fn scheduled(&self) -> usize {
        self.due.len()
    }
}

/// `<work>/slaves/<agent>/frameworks/<framework>/executors/<executor>` of a run directory
/// `…/executors/<executor>/runs/<container>`.
pub fn executor_dir_of(run_dir: &str) -> Option<&str> {
    let (executor_dir, _container) = run_dir.rsplit_once("/runs/")?;
    executor_dir.contains("/executors/").then_some(executor_dir)
}

impl Agent {
    fn framework_dir(&self, framework_id: &FrameworkId) -> Option<String> {
        let agent_id = self.agent_id.as_deref().filter(|id| !id.is_empty())?;
        Some(format!(
            "{}/slaves/{}/frameworks/{}",
            self.config.work_dir.trim_end_matches('/'),
            agent_id,
            framework_id
        ))
    }

    fn executor_dir(&self, framework_id: &FrameworkId, executor_id: &ExecutorId) -> Option<String> {
        Some(format!(
            "{}/executors/{}",
            self.framework_dir(framework_id)?,
            executor_id
        ))
    }

    /// Whether a live executor's sandbox is `path` or lies below it.
    fn gc_in_use(&self, path: &str) -> bool {
        self.frameworks.values().any(|f| {
            f.executors.values().any(|e| {
                e.directory == path
                    || e.directory
                        .strip_prefix(path)
                        .is_some_and(|rest| rest.starts_with('/'))
            })
        })
    }

    /// An executor ended and left: its run and (Mesos) its executor directory go to GC.
    pub(super) fn gc_ended_executor(&mut self, run_dir: &str) {
        self.gc_ended.push(run_dir.to_owned());
        if let Some(executor_dir) = executor_dir_of(run_dir) {
            self.gc_ended.push(executor_dir.to_owned());
        }
    }

    /// A framework has nothing left on this agent: its directory goes to GC.
    pub(super) fn gc_ended_framework(&mut self, framework_id: &FrameworkId) {
        if let Some(dir) = self.framework_dir(framework_id) {
            self.gc_ended.push(dir);
        }
    }

    /// Schedules what ended during this step, `--gc_delay` from now.
    pub(super) fn gc_schedule_ended(&mut self, now_ms: u64) {
        if self.gc_ended.is_empty() {
            return;
        }
        let due = now_ms.saturating_add(self.gc_config.delay_ms);
        for path in std::mem::take(&mut self.gc_ended) {
            if !self.gc_in_use(&path) {
                self.gc.schedule(&path, due);
            }
        }
    }

    /// Directories a previous agent process left: scheduled by their age, as Mesos does on
    /// recovery (`gc_delay` minus the time since they were last modified).
    pub(super) fn gc_stale(&mut self, now_ms: u64, found: Vec<(String, u64)>) {
        for (path, age_ms) in found {
            if self.gc_in_use(&path) || self.gc.contains(&path) {
                continue;
            }
            let due = now_ms.saturating_add(self.gc_config.delay_ms.saturating_sub(age_ms));
            self.gc.schedule(&path, due);
        }
    }

    pub(super) fn gc_due(&mut self, now_ms: u64, out: &mut Vec<Effect>) {
        let due = self.gc.take_due(now_ms, 0);
        if !due.is_empty() {
            out.push(Effect::RemoveDirectories(due));
        }
    }

    /// Mesos' disk watch: at this usage, directories older than the allowed age go now
    /// (everything due within `gc_delay − age`).
    pub(super) fn gc_disk_usage(&mut self, now_ms: u64, usage: f64, out: &mut Vec<Effect>) {
        let age = self.gc_config.max_allowed_age_ms(usage);
        let within = self.gc_config.delay_ms.saturating_sub(age);
        let due = self.gc.take_due(now_ms, within);
        if !due.is_empty() {
            out.push(Effect::RemoveDirectories(due));
        }
    }

    /// Before a task lands in a framework's and an executor's directories, they come off
    /// the GC schedule. If one is already being deleted the launch cannot go on (Mesos waits
    /// for the deletion and fails the launch when it fails; Drover's core does not wait, so
    /// it refuses as soon as the deletion has begun): the detail for REASON_GC_ERROR.
    pub(super) fn gc_unschedule_for_launch(
        &mut self,
        framework_id: &FrameworkId,
        executor_id: &ExecutorId,
    ) -> Result<(), String> {
        let paths = [
            self.framework_dir(framework_id),
            self.executor_dir(framework_id, executor_id),
        ];
        for path in paths.into_iter().flatten() {
            if self.gc.unschedule(&path) == Unscheduled::BeingRemoved {
                return Err(format!(
                    "Could not launch the task because the directory '{path}', scheduled \
                     for garbage collection, is being deleted"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_come_due_in_time_order_and_can_be_rescheduled() {
        let mut gc = Gc::default();
        gc.schedule("/w/a", 300);
        gc.schedule("/w/b", 100);
        gc.schedule("/w/c", 200);
        gc.schedule("/w/a", 50);
        assert_eq!(gc.next_deadline(), Some(50));
        assert_eq!(gc.take_due(150, 0), vec!["/w/a", "/w/b"]);
        assert_eq!(gc.next_deadline(), Some(200));
        assert_eq!(gc.scheduled(), 1);
        assert!(gc.contains("/w/a"), "being removed until reported");
        gc.removed("/w/a");
        assert!(!gc.contains("/w/a"));
    }

    #[test]
    fn unscheduling_keeps_a_scheduled_path_but_not_one_being_deleted() {
        let mut gc = Gc::default();
        gc.schedule("/w/a", 100);
        gc.schedule("/w/b", 100);
        assert_eq!(gc.unschedule("/w/a"), Unscheduled::Kept);
        assert_eq!(gc.unschedule("/w/a"), Unscheduled::NotScheduled);
        assert_eq!(gc.take_due(100, 0), vec!["/w/b"]);
        assert_eq!(gc.unschedule("/w/b"), Unscheduled::BeingRemoved);
        // Scheduling a path being deleted does not bring it back on the schedule.
        gc.schedule("/w/b", 500);
        assert_eq!(gc.next_deadline(), None);
        gc.removed("/w/b");
        assert_eq!(gc.unschedule("/w/b"), Unscheduled::NotScheduled);
    }

    #[test]
    fn pruning_takes_what_is_due_within_the_window() {
        let mut gc = Gc::default();
        gc.schedule("/w/old", 1_000);
        gc.schedule("/w/new", 9_000);
        assert_eq!(gc.take_due(0, 5_000), vec!["/w/old"]);
        assert_eq!(gc.take_due(0, u64::MAX), vec!["/w/new"]);
    }

    #[test]
    fn a_fuller_disk_allows_younger_directories_only() {
        let config = GcConfig {
            delay_ms: 1_000_000,
            disk_headroom: 0.1,
        };
        assert_eq!(config.max_allowed_age_ms(0.0), 900_000);
        assert_eq!(config.max_allowed_age_ms(0.5), 400_000);
        assert_eq!(config.max_allowed_age_ms(0.95), 0);
        assert_eq!(config.max_allowed_age_ms(f64::NAN), 0);
    }

    #[test]
    fn nonsense_settings_are_refused() {
        let ok = GcConfig::default();
        assert!(ok.validate().is_ok());
        assert!(
            GcConfig { delay_ms: 0, ..ok }
                .validate()
                .unwrap_err()
                .contains("--gc_delay")
        );
        for headroom in [-0.1, 1.5, f64::NAN] {
            let err = GcConfig {
                disk_headroom: headroom,
                ..ok
            }
            .validate()
            .unwrap_err();
            assert!(err.contains("--gc_disk_headroom"), "{err}");
        }
    }
}
