//! The run's shared record: the nemesis log (every action with its time), the violations the
//! checker found (each printed with the log around it), and what the checks remember between
//! observations: the simulator's per-update checker for the plain framework, the states
//! Marathon's event stream reported per task, and the app changes Marathon acknowledged.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use drover_core::task::TaskState;
use drover_core::task::state::is_terminal;
use drover_sim::check::Checker;
use drover_sim::net::Fw;
use drover_wire::v1;

/// What Marathon acknowledged about an app: its instance count, or that it was deleted. An
/// `uncertain` change (the request failed without an answer) may or may not have happened.
#[derive(Debug, Clone, Default)]
pub struct AckedApp {
    /// Instances of the last acknowledged create or scale (None: deleted).
    pub instances: Option<u32>,
    /// Other outcomes a change without an answer may have had.
    pub uncertain: Vec<Option<u32>>,
    /// Has a health check.
    pub healthy: bool,
    /// The instance count before the last acknowledged change, and when that change was
    /// acknowledged: the old copies run until Marathon's kills land.
    pub previous: Option<(u32, std::time::Instant)>,
}

/// The shared record.
pub struct Journal {
    start: Instant,
    out: Mutex<Box<dyn Write + Send>>,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    log: Vec<(f64, String)>,
    violations: Vec<(f64, String)>,
    plain: Checker,
    marathon: BTreeMap<String, String>,
    apps: BTreeMap<String, AckedApp>,
    counts: BTreeMap<String, u64>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("start", &self.start)
            .finish()
    }
}

/// `hh:mm:ss.mmm` UTC.
pub fn utc_now() -> String {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let day_ms = ms % 86_400_000;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        day_ms / 3_600_000,
        day_ms / 60_000 % 60,
        day_ms / 1000 % 60,
        day_ms % 1000
    )
}

impl Journal {
    /// A journal that also writes every line to `out` as it happens.
    pub fn new(out: Box<dyn Write + Send>) -> Arc<Journal> {
        Arc::new(Journal {
            start: Instant::now(),
            out: Mutex::new(out),
            inner: Mutex::new(Inner::default()),
        })
    }

    /// Seconds since the run started.
    pub fn elapsed(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    fn write(&self, line: &str) {
        let mut out = self.out.lock().expect("not poisoned");
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }

    /// Logs a nemesis (or workload) action.
    pub fn action(&self, what: impl Into<String>) {
        let what = what.into();
        let t = self.elapsed();
        self.write(&format!("[{t:8.2}s {}] {what}", utc_now()));
        let mut inner = self.inner.lock().expect("not poisoned");
        let kind = what.split_whitespace().next().unwrap_or("").to_owned();
        *inner.counts.entry(kind).or_default() += 1;
        inner.log.push((t, what));
    }

    /// Records a violation.
    pub fn violation(&self, what: impl Into<String>) {
        let what = what.into();
        let t = self.elapsed();
        self.write(&format!("[{t:8.2}s {}] VIOLATION {what}", utc_now()));
        self.inner
            .lock()
            .expect("not poisoned")
            .violations
            .push((t, what));
    }

    /// Counts an event of `kind` (updates seen, checks run) for the summary.
    pub fn count(&self, kind: &str) {
        *self
            .inner
            .lock()
            .expect("not poisoned")
            .counts
            .entry(kind.to_owned())
            .or_default() += 1;
    }

    /// The plain framework received `status`: the simulator's per-update checks (emission
    /// table, no step back out of a terminal state, Unix timestamps).
    pub fn plain_update(&self, status: &v1::TaskStatus) {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default();
        let found = {
            let mut inner = self.inner.lock().expect("not poisoned");
            inner.plain.observe(Fw::Plain, status, now_ms);
            inner.plain.violation.take()
        };
        self.count("plain-update");
        if let Some(v) = found {
            self.violation(format!(
                "{v} (message {:?})",
                status.message.as_deref().unwrap_or("")
            ));
        }
    }

    /// Marathon's event stream reported `state` for `task_id`: no state after a terminal one
    /// (Marathon's tasks are partition-aware, so TASK_UNREACHABLE → TASK_RUNNING is fine,
    /// TASK_LOST is not expected at all).
    pub fn marathon_update(&self, task_id: &str, state: &str) {
        self.count("marathon-update");
        let previous = self
            .inner
            .lock()
            .expect("not poisoned")
            .marathon
            .insert(task_id.to_owned(), state.to_owned());
        let terminal = |s: &str| TaskState::from_str_name(s).is_some_and(is_terminal);
        if let Some(previous) = previous
            && terminal(&previous)
            && previous != state
        {
            self.violation(format!(
                "Marathon: task {task_id} went {previous} -> {state} after a terminal state"
            ));
        }
        if state == "TASK_LOST" {
            self.violation(format!(
                "Marathon: task {task_id} got TASK_LOST though Marathon is partition-aware"
            ));
        }
    }

    /// Marathon acknowledged (`Some(n)`: created/scaled to n; `None`: deleted) `app`.
    pub fn app_acked(&self, app: &str, instances: Option<u32>, healthy: bool) {
        let mut inner = self.inner.lock().expect("not poisoned");
        let entry = inner.apps.entry(app.to_owned()).or_default();
        let before = entry
            .instances
            .into_iter()
            .chain(entry.uncertain.iter().flatten().copied())
            .max();
        entry.previous = before.map(|n| (n, std::time::Instant::now()));
        entry.instances = instances;
        entry.uncertain.clear();
        entry.healthy = healthy;
    }

    /// A change to `app` got no answer: it may or may not have happened.
    pub fn app_uncertain(&self, app: &str, instances: Option<u32>, healthy: bool) {
        let mut inner = self.inner.lock().expect("not poisoned");
        let entry = inner.apps.entry(app.to_owned()).or_default();
        entry.uncertain.push(instances);
        entry.healthy = healthy;
    }

    /// The acknowledged apps.
    pub fn apps(&self) -> BTreeMap<String, AckedApp> {
        self.inner.lock().expect("not poisoned").apps.clone()
    }

    /// Number of violations so far.
    pub fn violation_count(&self) -> usize {
        self.inner.lock().expect("not poisoned").violations.len()
    }

    /// The summary: counts of actions and events, then each violation with the nemesis
    /// actions of the 30 s before it and the 5 s after.
    pub fn summary(&self) -> String {
        let inner = self.inner.lock().expect("not poisoned");
        let mut s = String::from("counts:\n");
        for (kind, n) in &inner.counts {
            s.push_str(&format!("  {kind:<24} {n}\n"));
        }
        s.push_str(&format!("violations: {}\n", inner.violations.len()));
        for (t, v) in &inner.violations {
            s.push_str(&format!(
                "\n--- at {t:.2}s: {v}\n    nemesis log around it:\n"
            ));
            for (at, what) in inner
                .log
                .iter()
                .filter(|(at, _)| *at >= t - 30.0 && *at <= t + 5.0)
            {
                s.push_str(&format!("    [{at:8.2}s] {what}\n"));
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn journal() -> Arc<Journal> {
        Journal::new(Box::new(std::io::sink()))
    }

    fn status(
        task: &str,
        state: TaskState,
        reason: Option<v1::task_status::Reason>,
    ) -> v1::TaskStatus {
        v1::TaskStatus {
            task_id: v1::TaskId {
                value: task.to_owned(),
            },
            state: state as i32,
            source: Some(v1::task_status::Source::Executor as i32),
            reason: reason.map(|r| r as i32),
            timestamp: Some(
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .expect("after 1970")
                    .as_secs_f64(),
            ),
            ..Default::default()
        }
    }

    #[test]
    fn a_state_after_a_terminal_one_is_a_violation_for_marathon() {
        let j = journal();
        j.marathon_update("soak_web.1", "TASK_STAGING");
        j.marathon_update("soak_web.1", "TASK_RUNNING");
        j.marathon_update("soak_web.1", "TASK_UNREACHABLE");
        j.marathon_update("soak_web.1", "TASK_RUNNING");
        j.marathon_update("soak_web.1", "TASK_KILLED");
        j.marathon_update("soak_web.1", "TASK_KILLED");
        assert_eq!(j.violation_count(), 0, "{}", j.summary());
        j.marathon_update("soak_web.1", "TASK_DROPPED");
        assert_eq!(j.violation_count(), 1, "{}", j.summary());
        assert!(j.summary().contains("TASK_KILLED -> TASK_DROPPED"));
    }

    #[test]
    fn the_plain_framework_goes_through_the_simulators_checks() {
        let j = journal();
        j.plain_update(&status("p1", TaskState::TaskRunning, None));
        j.plain_update(&status("p1", TaskState::TaskFinished, None));
        assert_eq!(j.violation_count(), 0, "{}", j.summary());
        j.plain_update(&status("p1", TaskState::TaskRunning, None));
        assert_eq!(j.violation_count(), 1, "{}", j.summary());
    }

    #[test]
    fn a_violation_is_printed_with_the_nemesis_log_before_it() {
        let j = journal();
        j.action("SIGKILL master (restart in 1s)");
        j.violation("something broke");
        let s = j.summary();
        let at = s.find("something broke").expect("the violation");
        assert!(s[at..].contains("SIGKILL master"), "{s}");
    }

    #[test]
    fn an_unanswered_change_allows_either_outcome_until_one_is_acknowledged() {
        let j = journal();
        j.app_acked("/a", Some(2), false);
        j.app_uncertain("/a", Some(4), false);
        let a = &j.apps()["/a"];
        assert_eq!((a.instances, a.uncertain.clone()), (Some(2), vec![Some(4)]));
        j.app_acked("/a", None, false);
        let a = &j.apps()["/a"];
        assert_eq!((a.instances, a.uncertain.len()), (None, 0));
    }

    #[test]
    fn an_acknowledged_change_remembers_the_count_before_it() {
        let j = journal();
        j.app_acked("/a", Some(3), false);
        j.app_uncertain("/a", Some(5), false);
        j.app_acked("/a", Some(1), false);
        let a = &j.apps()["/a"];
        assert_eq!(a.instances, Some(1));
        assert_eq!(
            a.previous.map(|(n, _)| n),
            Some(5),
            "the most it may have been"
        );
    }
}
