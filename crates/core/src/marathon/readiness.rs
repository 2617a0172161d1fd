//! Readiness checks (`readinessChecks`): their definition and validation, and the per-instance
//! probing state the scheduler keeps while a new task is not yet ready. Marathon itself polls
//! the task's HTTP endpoint; a deployment step counts an instance only once every check has
//! answered with one of `httpStatusCodesForReady`. The scheduler decides when each probe is
//! due ([`Tracker::due`]) and what a result means ([`Tracker::record`]); the driver only makes
//! the one HTTP request a [`Probe`] describes and reports what came back.

use std::collections::BTreeMap;

use super::app::{AppSpec, Violation};
use super::instance::Instance;

/// How a readiness check talks to the task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadinessProtocol {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS; the task's certificate is not verified (Marathon did not either).
    Https,
}

impl ReadinessProtocol {
    /// Marathon's spelling.
    pub fn name(self) -> &'static str {
        match self {
            ReadinessProtocol::Http => "HTTP",
            ReadinessProtocol::Https => "HTTPS",
        }
    }

    /// Parses Marathon's spelling.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "HTTP" => Some(ReadinessProtocol::Http),
            "HTTPS" => Some(ReadinessProtocol::Https),
            _ => None,
        }
    }
}

/// One readiness check of an app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadinessCheck {
    /// Identifies the check in results.
    pub name: String,
    /// HTTP or HTTPS.
    pub protocol: ReadinessProtocol,
    /// Path requested.
    pub path: String,
    /// The app's port (by name) whose host port is probed.
    pub port_name: String,
    /// Seconds between probes.
    pub interval_seconds: u32,
    /// Seconds a probe may take.
    pub timeout_seconds: u32,
    /// Statuses that mean ready.
    pub http_status_codes_for_ready: Vec<u16>,
    /// Whether results keep the last response's status, content type and body.
    pub preserve_last_response: bool,
}

impl Default for ReadinessCheck {
    /// Marathon's defaults.
    fn default() -> Self {
        ReadinessCheck {
            name: "readinessCheck".into(),
            protocol: ReadinessProtocol::Http,
            path: "/".into(),
            port_name: "http-api".into(),
            interval_seconds: 30,
            timeout_seconds: 10,
            http_status_codes_for_ready: vec![200],
            preserve_last_response: false,
        }
    }
}

/// Longest body kept for `lastResponse`; the driver reads no more than this.
pub const BODY_MAX: usize = 16 * 1024;

/// Checks an app's readiness checks against the rest of its definition.
pub fn validate(app: &AppSpec) -> Vec<Violation> {
    let mut problems = Vec::new();
    let names = port_names(app);
    let mut seen = std::collections::BTreeSet::new();
    for (i, check) in app.readiness_checks.iter().enumerate() {
        let at = |field: &str| format!("/readinessChecks({i}){field}");
        if check.name.is_empty() {
            problems.push(Violation::new(at("/name"), "must not be empty"));
        } else if !seen.insert(check.name.as_str()) {
            problems.push(Violation::new(
                at("/name"),
                format!("readiness check name '{}' is used twice", check.name),
            ));
        }
        if !check.path.starts_with('/') {
            problems.push(Violation::new(at("/path"), "must start with '/'"));
        }
        if !names
            .iter()
            .any(|n| n.as_deref() == Some(check.port_name.as_str()))
        {
            problems.push(Violation::new(
                at("/portName"),
                format!(
                    "readiness check port name '{}' is not one of the app's port names ({})",
                    check.port_name,
                    names
                        .iter()
                        .flatten()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        if check.interval_seconds == 0 {
            problems.push(Violation::new(
                at("/intervalSeconds"),
                "got 0, expected 1 or more",
            ));
        }
        if check.timeout_seconds == 0 {
            problems.push(Violation::new(
                at("/timeoutSeconds"),
                "got 0, expected 1 or more",
            ));
        }
        if check.timeout_seconds >= check.interval_seconds {
            problems.push(Violation::new(
                at("/timeoutSeconds"),
                "timeoutSeconds must be less than intervalSeconds",
            ));
        }
        if check.http_status_codes_for_ready.is_empty() {
            problems.push(Violation::new(
                at("/httpStatusCodesForReady"),
                "must name at least one status",
            ));
        }
        if let Some(bad) = check
            .http_status_codes_for_ready
            .iter()
            .find(|c| !(100..=599).contains(*c))
        {
            problems.push(Violation::new(
                at("/httpStatusCodesForReady"),
                format!("{bad} is not an HTTP status code (100-599)"),
            ));
        }
    }
    problems
}

/// The names of the app's ports, in the order of its host ports.
fn port_names(app: &AppSpec) -> Vec<Option<String>> {
    match app.docker() {
        Some(docker) if app.uses_port_mappings() => docker
            .port_mappings
            .iter()
            .filter(|m| m.host_port.is_some())
            .map(|m| m.name.clone())
            .collect(),
        _ => app
            .port_definitions
            .iter()
            .map(|d| d.name.clone())
            .collect(),
    }
}

/// The URL a check probes on an instance: its agent's hostname and the host port of the named
/// port. `None` when the instance is not placed or the port has no host port.
pub fn url(app: &AppSpec, check: &ReadinessCheck, instance: &Instance) -> Option<String> {
    let placement = instance.placement.as_ref()?;
    let index = port_names(app)
        .iter()
        .position(|n| n.as_deref() == Some(check.port_name.as_str()))?;
    let ports = match app.docker() {
        Some(docker) if app.uses_port_mappings() => docker.host_ports(&placement.host_ports)?,
        _ => placement.host_ports.clone(),
    };
    let port = *ports.get(index)?;
    let scheme = match check.protocol {
        ReadinessProtocol::Http => "http",
        ReadinessProtocol::Https => "https",
    };
    Some(format!(
        "{scheme}://{}:{port}{}",
        placement.agent.hostname, check.path
    ))
}

/// One HTTP request the driver makes for a check, and reports as `ReadinessResult`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// Instance probed.
    pub instance_id: String,
    /// Its task at the time (a result for another task is dropped).
    pub task_id: String,
    /// Index of the check in the app's `readinessChecks`.
    pub check_index: usize,
    /// Full URL (`https` URLs are probed without verifying the certificate).
    pub url: String,
    /// How long the request may take, in milliseconds.
    pub timeout_ms: u64,
}

/// What a probe got back: a status with its content type and (at most [`BODY_MAX`] of) its
/// body, or why there was none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeOutcome {
    /// An HTTP answer.
    Response {
        /// Status code.
        status: u16,
        /// `Content-Type`, if any.
        content_type: Option<String>,
        /// The body (lossy UTF-8, truncated).
        body: String,
    },
    /// No answer (refused, timed out, TLS failure…), in words.
    Failed(String),
}

/// The last response of a check, as `lastResponse` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastResponse {
    /// Status code.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: String,
    /// Body.
    pub body: String,
}

/// One check's latest result for an instance (`readinessCheckResults`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// The check's name.
    pub name: String,
    /// The task probed.
    pub task_id: String,
    /// Whether it answered with a ready status.
    pub ready: bool,
    /// The answer, when the check preserves it.
    pub last_response: Option<LastResponse>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    task_id: String,
    /// When each check's next probe is due.
    next_ms: Vec<u64>,
    results: Vec<Option<CheckResult>>,
}

/// The readiness state of the instances that are still being probed, by instance id. An
/// instance leaves when all its checks passed or it stops running, so an input costs what the
/// unready instances cost.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tracker {
    entries: BTreeMap<String, Entry>,
    /// Results of instances whose checks all passed (no longer probed), kept for the API
    /// until the instance stops.
    done: BTreeMap<String, Vec<CheckResult>>,
}

impl Tracker {
    /// Starts probing `task_id` of an instance (every check due at once) unless it already is.
    pub fn start(&mut self, instance_id: &str, task_id: &str, checks: usize, now_ms: u64) {
        if self
            .entries
            .get(instance_id)
            .is_some_and(|e| e.task_id == task_id)
            || self
                .done
                .get(instance_id)
                .is_some_and(|r| r.iter().all(|r| r.task_id == task_id))
        {
            return;
        }
        self.done.remove(instance_id);
        self.entries.insert(
            instance_id.to_owned(),
            Entry {
                task_id: task_id.to_owned(),
                next_ms: vec![now_ms; checks],
                results: vec![None; checks],
            },
        );
    }

    /// Stops probing an instance.
    pub fn stop(&mut self, instance_id: &str) {
        self.entries.remove(instance_id);
        self.done.remove(instance_id);
    }

    /// Whether the tracker knows an instance (probing it or holding its passed results).
    pub fn knows(&self, instance_id: &str) -> bool {
        self.entries.contains_key(instance_id) || self.done.contains_key(instance_id)
    }

    /// The probes due at `now_ms`, as (instance id, task id, check index); each is rescheduled
    /// for a retry after its timeout and interval in case its result never arrives.
    pub fn due(
        &mut self,
        now_ms: u64,
        checks: impl Fn(&str) -> Vec<ReadinessCheck>,
    ) -> Vec<(String, String, usize)> {
        let mut due = Vec::new();
        for (id, entry) in &mut self.entries {
            if !entry.next_ms.iter().any(|t| *t <= now_ms) {
                continue;
            }
            let checks = checks(id);
            for (i, next) in entry.next_ms.iter_mut().enumerate() {
                if *next > now_ms {
                    continue;
                }
                let Some(check) = checks.get(i) else {
                    continue;
                };
                let wait = u64::from(check.timeout_seconds) + u64::from(check.interval_seconds);
                *next = now_ms + wait * 1000;
                due.push((id.clone(), entry.task_id.clone(), i));
            }
        }
        due
    }

    /// The earliest due probe.
    pub fn next_deadline(&self) -> Option<u64> {
        self.entries
            .values()
            .flat_map(|e| e.next_ms.iter().copied())
            .min()
    }

    /// Records a probe's outcome. Returns `Some(true)` when every check of the instance is now
    /// ready (it leaves the tracker), `Some(false)` when it is still waiting, `None` when the
    /// result is for a task no longer probed.
    pub fn record(
        &mut self,
        now_ms: u64,
        instance_id: &str,
        task_id: &str,
        check_index: usize,
        check: &ReadinessCheck,
        outcome: ProbeOutcome,
    ) -> Option<bool> {
        let entry = self.entries.get_mut(instance_id)?;
        if entry.task_id != task_id || check_index >= entry.results.len() {
            return None;
        }
        let (ready, last_response) = match outcome {
            ProbeOutcome::Response {
                status,
                content_type,
                body,
            } => (
                check.http_status_codes_for_ready.contains(&status),
                Some(LastResponse {
                    status,
                    content_type: content_type.unwrap_or_default(),
                    body,
                }),
            ),
            ProbeOutcome::Failed(_) => (false, None),
        };
        entry.results[check_index] = Some(CheckResult {
            name: check.name.clone(),
            task_id: task_id.to_owned(),
            ready,
            last_response: last_response.filter(|_| check.preserve_last_response),
        });
        entry.next_ms[check_index] = if ready {
            u64::MAX
        } else {
            now_ms + u64::from(check.interval_seconds) * 1000
        };
        let all = entry
            .results
            .iter()
            .all(|r| r.as_ref().is_some_and(|r| r.ready));
        if all && let Some(entry) = self.entries.remove(instance_id) {
            self.done.insert(
                instance_id.to_owned(),
                entry.results.into_iter().flatten().collect(),
            );
        }
        Some(all)
    }

    /// The latest results of an instance still being probed.
    pub fn results(&self, instance_id: &str) -> Vec<CheckResult> {
        match self.entries.get(instance_id) {
            Some(e) => e.results.iter().flatten().cloned().collect(),
            None => self.done.get(instance_id).cloned().unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::marathon::path::PathId;

    fn app_with(check: ReadinessCheck) -> AppSpec {
        let mut app = AppSpec::new(PathId::parse_app_id("/web").unwrap());
        app.cmd = Some("serve".into());
        app.port_definitions[0].name = Some("http".into());
        app.readiness_checks = vec![check];
        app
    }

    #[test]
    fn port_name_must_exist_and_timeout_below_interval() {
        let ok = ReadinessCheck {
            port_name: "http".into(),
            ..ReadinessCheck::default()
        };
        assert!(validate(&app_with(ok.clone())).is_empty());
        let problems = validate(&app_with(ReadinessCheck {
            port_name: "nope".into(),
            timeout_seconds: 30,
            ..ok
        }));
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/readinessChecks(0)/portName",
                "/readinessChecks(0)/timeoutSeconds"
            ]
        );
        assert!(problems[0].message.contains("'nope'"));
    }

    #[test]
    fn probes_repeat_until_ready_and_keep_the_response_when_asked() {
        let check = ReadinessCheck {
            port_name: "http".into(),
            interval_seconds: 5,
            timeout_seconds: 2,
            preserve_last_response: true,
            ..ReadinessCheck::default()
        };
        let checks = |_: &str| vec![check.clone()];
        let mut t = Tracker::default();
        t.start("i1", "i1._app.1", 1, 1_000);
        assert_eq!(
            t.due(1_000, checks),
            vec![("i1".into(), "i1._app.1".into(), 0)]
        );
        // Not due again until timeout + interval pass without a result.
        assert!(t.due(2_000, checks).is_empty());
        assert_eq!(t.next_deadline(), Some(8_000));
        let not_yet = ProbeOutcome::Response {
            status: 503,
            content_type: Some("text/plain".into()),
            body: "warming up".into(),
        };
        assert_eq!(
            t.record(3_000, "i1", "i1._app.1", 0, &check, not_yet),
            Some(false)
        );
        assert_eq!(t.next_deadline(), Some(8_000));
        let results = t.results("i1");
        assert!(!results[0].ready);
        assert_eq!(
            results[0].last_response.as_ref().unwrap().body,
            "warming up"
        );
        // A stale task's result is ignored.
        let ok = ProbeOutcome::Response {
            status: 200,
            content_type: None,
            body: String::new(),
        };
        assert_eq!(
            t.record(4_000, "i1", "i1._app.0", 0, &check, ok.clone()),
            None
        );
        assert_eq!(
            t.record(9_000, "i1", "i1._app.1", 0, &check, ok),
            Some(true)
        );
        assert!(t.results("i1")[0].ready);
    }

    #[test]
    fn failures_are_not_ready() {
        let check = ReadinessCheck {
            port_name: "http".into(),
            ..ReadinessCheck::default()
        };
        let mut t = Tracker::default();
        t.start("i1", "t", 1, 0);
        let failed = ProbeOutcome::Failed("connection refused".into());
        assert_eq!(t.record(1, "i1", "t", 0, &check, failed), Some(false));
        assert!(!t.results("i1")[0].ready);
    }
}
