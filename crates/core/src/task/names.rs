//! Names of states, reasons and sources on the wire. The v1 APIs spell `AGENT` where Mesos' v0
//! API and its documentation spell `SLAVE` (same numbers); Drover always emits the v1 spelling
//! and accepts both, as well as `REASON_EXECUTOR_PREEMPTED`, the pre-0.26 name of
//! `REASON_CONTAINER_PREEMPTED`.

use super::{Reason, Source, TaskState};

/// The v1 wire name of a reason, e.g. `REASON_AGENT_REMOVED`.
pub fn reason_name(reason: Reason) -> &'static str {
    reason.as_str_name()
}

/// The v1 wire name of a source, e.g. `SOURCE_AGENT`.
pub fn source_name(source: Source) -> &'static str {
    source.as_str_name()
}

/// The wire name of a task state, e.g. `TASK_RUNNING`.
pub fn state_name(state: TaskState) -> &'static str {
    state.as_str_name()
}

/// Parses a reason written in either spelling: `REASON_SLAVE_REMOVED` and
/// `REASON_AGENT_REMOVED` are the same reason (11).
pub fn parse_reason(name: &str) -> Option<Reason> {
    let rest = name.strip_prefix("REASON_")?;
    if rest == "EXECUTOR_PREEMPTED" {
        return Some(Reason::ContainerPreempted);
    }
    match rest.strip_prefix("SLAVE_") {
        Some(tail) => Reason::from_str_name(&format!("REASON_AGENT_{tail}")),
        None => Reason::from_str_name(name),
    }
}

/// Parses a source in either spelling (`SOURCE_SLAVE` is `SOURCE_AGENT`).
pub fn parse_source(name: &str) -> Option<Source> {
    match name {
        "SOURCE_SLAVE" => Some(Source::Agent),
        other => Source::from_str_name(other),
    }
}

/// Parses a task state name.
pub fn parse_state(name: &str) -> Option<TaskState> {
    TaskState::from_str_name(name)
}
