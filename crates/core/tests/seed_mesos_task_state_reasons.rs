//! One test per line of the seed `shared/seeds/mesos-task-state-reasons.txt`. Each test is named
//! after the seed's identifiers exactly as the seed writes them (v0 spellings such as
//! `REASON_SLAVE_REMOVED`), so a reader can search this file for every name in the seed.
//! They check the emission table the master and agent use, for partition-aware ("PA") and
//! other frameworks.
#![allow(non_snake_case)]

use drover_core::task::emission::{
    EMISSIONS, EXECUTOR_RECOMMENDED_REASONS, Emitter, NEVER_EMITTED, StateRule, Trigger, emission,
    is_allowed,
};
use drover_core::task::names::{parse_reason, parse_source, reason_name, source_name};
use drover_core::task::transition::{Tracked, check};
use drover_core::task::{Reason, Source, TaskState};

/// Asserts one row: who emits it, and what PA and other frameworks receive.
fn expect(trigger: Trigger, emitter: Emitter, pa: TaskState, other: TaskState, seed_reason: &str) {
    let row = emission(trigger);
    assert_eq!(row.emitter, emitter, "{trigger:?}: emitter");
    let reason = parse_reason(seed_reason).expect("seed reason parses");
    assert_eq!(row.reason, reason, "{trigger:?}: reason for PA");
    assert_eq!(
        row.state_for(true, TaskState::TaskRunning),
        pa,
        "{trigger:?}: PA state"
    );
    assert_eq!(
        row.state_for(false, TaskState::TaskRunning),
        other,
        "{trigger:?}: non-PA state"
    );
    let status = row.status("t1", true, TaskState::TaskRunning, None);
    assert_eq!(status.state, pa as i32);
    assert_eq!(status.reason, Some(reason as i32));
    assert_eq!(status.source, Some(emitter.source() as i32));
    assert!(
        status.uuid.is_none(),
        "the table never invents a uuid; the agent adds its own"
    );
    assert!(is_allowed(pa, Some(reason), emitter.source(), true));
    assert!(is_allowed(
        other,
        Some(row.reason_for(false)),
        emitter.source(),
        false
    ));
    assert!(
        !status.message.unwrap_or_default().is_empty(),
        "every row explains itself"
    );
}

use Emitter::{Agent, Executor, Master, SchedulerClient};
use TaskState::{
    TaskDropped as DROPPED, TaskError as ERROR, TaskFailed as FAILED, TaskGone as GONE,
    TaskKilled as KILLED, TaskLost as LOST, TaskUnreachable as UNREACHABLE,
};

// ---- Introduction and guidelines ---------------------------------------------------------

#[test]
fn not_all_status_updates_will_contain_a_reason() {
    assert!(is_allowed(
        TaskState::TaskRunning,
        None,
        Source::Executor,
        true
    ));
    assert!(is_allowed(
        TaskState::TaskFinished,
        None,
        Source::Executor,
        false
    ));
}

#[test]
fn guideline_executors_may_use_REASON_TASK_CHECK_STATUS_UPDATED() {
    assert!(EXECUTOR_RECOMMENDED_REASONS.contains(&Reason::TaskCheckStatusUpdated));
    assert!(is_allowed(
        TaskState::TaskRunning,
        Some(Reason::TaskCheckStatusUpdated),
        Source::Executor,
        true
    ));
}

#[test]
fn guideline_executors_may_use_REASON_TASK_HEALTH_CHECK_STATUS_UPDATED() {
    assert!(EXECUTOR_RECOMMENDED_REASONS.contains(&Reason::TaskHealthCheckStatusUpdated));
    // "The built-in executors additionally send an update with this reason every time a health
    // check is unhealthy": the row's state is the task's current one (RUNNING).
    let row = emission(Trigger::HealthCheckStatusChanged);
    assert_eq!(row.state, StateRule::Current);
    assert_eq!(row.emitter, Executor);
}

#[test]
fn guideline_executors_may_use_REASON_TASK_INVALID() {
    assert!(EXECUTOR_RECOMMENDED_REASONS.contains(&Reason::TaskInvalid));
    assert!(is_allowed(
        ERROR,
        Some(Reason::TaskInvalid),
        Source::Executor,
        true
    ));
}

#[test]
fn guideline_executors_may_use_REASON_TASK_UNAUTHORIZED() {
    assert!(EXECUTOR_RECOMMENDED_REASONS.contains(&Reason::TaskUnauthorized));
    assert!(is_allowed(
        ERROR,
        Some(Reason::TaskUnauthorized),
        Source::Executor,
        false
    ));
}

#[test]
fn deprecated_REASON_COMMAND_EXECUTOR_FAILED_is_never_emitted() {
    assert!(NEVER_EMITTED.contains(&Reason::CommandExecutorFailed));
    assert!(
        EMISSIONS
            .iter()
            .all(|row| row.reason != Reason::CommandExecutorFailed)
    );
}

#[test]
fn unused_REASON_CONTAINER_LIMITATION_REASON_INVALID_FRAMEWORKID_REASON_SLAVE_UNKNOWN_REASON_TASK_UNKNOWN_REASON_EXECUTOR_UNREGISTERED()
 {
    for name in [
        "REASON_CONTAINER_LIMITATION",
        "REASON_INVALID_FRAMEWORKID",
        "REASON_SLAVE_UNKNOWN",
        "REASON_TASK_UNKNOWN",
        "REASON_EXECUTOR_UNREGISTERED",
    ] {
        let reason = parse_reason(name).expect(name);
        assert!(NEVER_EMITTED.contains(&reason), "{name}");
        assert!(
            EMISSIONS
                .iter()
                .all(|row| row.reason != reason && row.reason_other != reason),
            "{name}"
        );
    }
}

#[test]
fn SOURCE_MASTER_on_master_updates_and_SOURCE_AGENT_or_SOURCE_SLAVE_on_agent_updates() {
    for row in EMISSIONS {
        let expected = match row.emitter {
            Master | SchedulerClient => Source::Master,
            Agent => Source::Agent,
            Executor => Source::Executor,
        };
        assert_eq!(row.emitter.source(), expected, "{:?}", row.trigger);
    }
    assert_eq!(
        source_name(Source::Agent),
        "SOURCE_AGENT",
        "v1 spelling on the wire"
    );
    assert_eq!(
        parse_source("SOURCE_SLAVE"),
        Some(Source::Agent),
        "v0 spelling accepted"
    );
    assert_eq!(parse_source("SOURCE_MASTER"), Some(Source::Master));
}

#[test]
fn v0_reason_names_are_accepted_and_v1_names_emitted() {
    assert_eq!(
        parse_reason("REASON_SLAVE_REMOVED"),
        Some(Reason::AgentRemoved)
    );
    assert_eq!(
        parse_reason("REASON_AGENT_REMOVED"),
        Some(Reason::AgentRemoved)
    );
    assert_eq!(reason_name(Reason::AgentRemoved), "REASON_AGENT_REMOVED");
    assert_eq!(
        reason_name(Reason::AgentReregistered),
        "REASON_AGENT_REREGISTERED"
    );
    assert_eq!(Reason::AgentDisconnected as i32, 10);
    assert_eq!(Reason::AgentRemoved as i32, 11);
    assert_eq!(Reason::AgentRestarted as i32, 12);
    assert_eq!(Reason::AgentReregistered as i32, 32);
}

#[test]
fn every_trigger_has_exactly_one_row_and_every_row_names_its_seed_identifier() {
    let mut triggers: Vec<Trigger> = EMISSIONS.iter().map(|row| row.trigger).collect();
    let count = triggers.len();
    triggers.sort();
    triggers.dedup();
    assert_eq!(triggers.len(), count, "a trigger appears twice");
    for row in EMISSIONS {
        let from_seed = parse_reason(row.seed).or_else(|| {
            (row.seed == "TASK_GONE_BY_OPERATOR").then_some(Reason::AgentRemovedByOperator)
        });
        assert_eq!(
            from_seed,
            Some(row.reason),
            "{:?} names {}",
            row.trigger,
            row.seed
        );
    }
}

// ---- TASK_FAILED, generated on the agent ---------------------------------------------------

#[test]
fn TASK_FAILED__REASON_CONTAINER_LAUNCH_FAILED__agent() {
    expect(
        Trigger::ContainerLaunchFailed,
        Agent,
        FAILED,
        FAILED,
        "REASON_CONTAINER_LAUNCH_FAILED",
    );
}

#[test]
fn TASK_FAILED__REASON_CONTAINER_LIMITATION_MEMORY__agent() {
    expect(
        Trigger::ContainerLimitationMemory,
        Agent,
        FAILED,
        FAILED,
        "REASON_CONTAINER_LIMITATION_MEMORY",
    );
}

#[test]
fn TASK_FAILED__REASON_CONTAINER_LIMITATION_DISK__agent() {
    expect(
        Trigger::ContainerLimitationDisk,
        Agent,
        FAILED,
        FAILED,
        "REASON_CONTAINER_LIMITATION_DISK",
    );
}

#[test]
fn TASK_FAILED__REASON_IO_SWITCHBOARD_EXITED__agent() {
    expect(
        Trigger::IoSwitchboardExited,
        Agent,
        FAILED,
        FAILED,
        "REASON_IO_SWITCHBOARD_EXITED",
    );
}

#[test]
fn TASK_FAILED__REASON_EXECUTOR_REGISTRATION_TIMEOUT__agent() {
    expect(
        Trigger::ExecutorRegistrationTimeout,
        Agent,
        FAILED,
        FAILED,
        "REASON_EXECUTOR_REGISTRATION_TIMEOUT",
    );
}

/// The seed lists this reason under TASK_FAILED; Mesos' agent code sends TASK_GONE to PA
/// frameworks and TASK_LOST to others, and the agent issue asks for the code's behaviour.
#[test]
fn TASK_FAILED__REASON_EXECUTOR_REREGISTRATION_TIMEOUT__agent_follows_mesos_code() {
    expect(
        Trigger::ExecutorReregistrationTimeout,
        Agent,
        GONE,
        LOST,
        "REASON_EXECUTOR_REREGISTRATION_TIMEOUT",
    );
}

#[test]
fn TASK_FAILED__REASON_EXECUTOR_TERMINATED__agent() {
    expect(
        Trigger::ExecutorTerminated,
        Agent,
        FAILED,
        FAILED,
        "REASON_EXECUTOR_TERMINATED",
    );
}

// ---- TASK_KILLED ------------------------------------------------------------------------------

#[test]
fn TASK_KILLED__REASON_FRAMEWORK_REMOVED__master() {
    expect(
        Trigger::FrameworkRemoved,
        Master,
        KILLED,
        KILLED,
        "REASON_FRAMEWORK_REMOVED",
    );
}

#[test]
fn TASK_KILLED__REASON_TASK_KILLED_DURING_LAUNCH__master_before_delivery_to_the_agent() {
    expect(
        Trigger::KilledBeforeAgent,
        Master,
        KILLED,
        KILLED,
        "REASON_TASK_KILLED_DURING_LAUNCH",
    );
}

#[test]
fn TASK_KILLED__REASON_TASK_KILLED_DURING_LAUNCH__agent_before_delivery_to_the_executor() {
    expect(
        Trigger::KilledBeforeExecutor,
        Agent,
        KILLED,
        KILLED,
        "REASON_TASK_KILLED_DURING_LAUNCH",
    );
}

// ---- TASK_ERROR -------------------------------------------------------------------------------

#[test]
fn TASK_ERROR__REASON_TASK_INVALID__master() {
    expect(
        Trigger::LaunchInvalid,
        Master,
        ERROR,
        ERROR,
        "REASON_TASK_INVALID",
    );
}

#[test]
fn TASK_ERROR__REASON_TASK_GROUP_INVALID__master() {
    expect(
        Trigger::LaunchGroupInvalid,
        Master,
        ERROR,
        ERROR,
        "REASON_TASK_GROUP_INVALID",
    );
}

#[test]
fn TASK_ERROR__REASON_TASK_UNAUTHORIZED__master() {
    expect(
        Trigger::LaunchUnauthorized,
        Master,
        ERROR,
        ERROR,
        "REASON_TASK_UNAUTHORIZED",
    );
}

#[test]
fn TASK_ERROR__REASON_TASK_GROUP_UNAUTHORIZED__master() {
    expect(
        Trigger::LaunchGroupUnauthorized,
        Master,
        ERROR,
        ERROR,
        "REASON_TASK_GROUP_UNAUTHORIZED",
    );
}

#[test]
fn TASK_ERROR__REASON_TASK_UNAUTHORIZED__agent() {
    expect(
        Trigger::AgentUnauthorized,
        Agent,
        ERROR,
        ERROR,
        "REASON_TASK_UNAUTHORIZED",
    );
}

#[test]
fn TASK_ERROR__REASON_TASK_GROUP_UNAUTHORIZED__agent() {
    expect(
        Trigger::AgentGroupUnauthorized,
        Agent,
        ERROR,
        ERROR,
        "REASON_TASK_GROUP_UNAUTHORIZED",
    );
}

// ---- TASK_LOST, generated on the master (TASK_DROPPED / TASK_UNREACHABLE for PA) ------------

/// "The agent on which the task was running disconnected, and didn't reconnect in time": Mesos'
/// code sends TASK_LOST to every framework for a running task.
#[test]
fn TASK_LOST__REASON_SLAVE_DISCONNECTED__master_running_task() {
    expect(
        Trigger::AgentDisconnected,
        Master,
        LOST,
        LOST,
        "REASON_SLAVE_DISCONNECTED",
    );
}

/// "The task was part of an accepted offer, but the agent sending the offer disconnected in the
/// meantime. For partition-aware frameworks, the state will be TASK_DROPPED instead."
#[test]
fn TASK_LOST__REASON_SLAVE_DISCONNECTED__master_accepted_offer_TASK_DROPPED_for_PA() {
    expect(
        Trigger::LaunchOnDisconnectedAgent,
        Master,
        DROPPED,
        LOST,
        "REASON_SLAVE_DISCONNECTED",
    );
}

/// "Despite the source being set to SOURCE_MASTER, the message is not sent from the master but
/// locally from the scheduler driver": Drover's scheduler client library emits it.
#[test]
fn TASK_LOST__REASON_MASTER_DISCONNECTED__scheduler_client_TASK_DROPPED_for_PA() {
    expect(
        Trigger::AcceptWhileMasterDisconnected,
        SchedulerClient,
        DROPPED,
        LOST,
        "REASON_MASTER_DISCONNECTED",
    );
    assert_eq!(
        emission(Trigger::AcceptWhileMasterDisconnected)
            .emitter
            .source(),
        Source::Master
    );
    assert!(
        !emission(Trigger::AcceptWhileMasterDisconnected)
            .emitter
            .is_reliable()
    );
}

#[test]
fn TASK_LOST__REASON_SLAVE_REMOVED__master_agent_removed() {
    expect(
        Trigger::AgentRemoved,
        Master,
        LOST,
        LOST,
        "REASON_SLAVE_REMOVED",
    );
}

#[test]
fn TASK_LOST__REASON_SLAVE_REMOVED__master_accepted_offer_TASK_DROPPED_for_PA() {
    expect(
        Trigger::LaunchOnRemovedAgent,
        Master,
        DROPPED,
        LOST,
        "REASON_SLAVE_REMOVED",
    );
}

#[test]
fn TASK_LOST__REASON_SLAVE_REMOVED__master_marked_unreachable_TASK_UNREACHABLE_for_PA() {
    expect(
        Trigger::AgentMarkedUnreachable,
        Master,
        UNREACHABLE,
        LOST,
        "REASON_SLAVE_REMOVED",
    );
}

#[test]
fn TASK_LOST__REASON_RESOURCES_UNKNOWN__master_TASK_DROPPED_for_PA() {
    expect(
        Trigger::LaunchWithUnknownResources,
        Master,
        DROPPED,
        LOST,
        "REASON_RESOURCES_UNKNOWN",
    );
}

// ---- TASK_LOST, generated on the agent --------------------------------------------------------

#[test]
fn TASK_LOST__REASON_SLAVE_RESTARTED__agent_TASK_DROPPED_for_PA() {
    expect(
        Trigger::LaunchedDuringAgentRestart,
        Agent,
        DROPPED,
        LOST,
        "REASON_SLAVE_RESTARTED",
    );
}

#[test]
fn TASK_LOST__REASON_CONTAINER_PREEMPTED__agent_TASK_GONE_for_PA() {
    expect(
        Trigger::ContainerPreempted,
        Agent,
        GONE,
        LOST,
        "REASON_CONTAINER_PREEMPTED",
    );
}

#[test]
fn TASK_LOST__REASON_CONTAINER_UPDATE_FAILED__agent_TASK_GONE_for_PA() {
    expect(
        Trigger::ContainerUpdateFailed,
        Agent,
        GONE,
        LOST,
        "REASON_CONTAINER_UPDATE_FAILED",
    );
}

/// "The executor which was supposed to execute this task was already terminated".
#[test]
fn TASK_LOST__REASON_EXECUTOR_TERMINATED__agent_executor_already_terminated() {
    expect(
        Trigger::ExecutorAlreadyTerminated,
        Agent,
        DROPPED,
        LOST,
        "REASON_EXECUTOR_TERMINATED",
    );
}

/// "… or the agent receives an instruction to kill the task before the executor was started".
#[test]
fn TASK_LOST__REASON_EXECUTOR_TERMINATED__agent_kill_before_executor_started() {
    expect(
        Trigger::KillWithoutExecutor,
        Agent,
        DROPPED,
        LOST,
        "REASON_EXECUTOR_TERMINATED",
    );
}

#[test]
fn TASK_LOST__REASON_GC_ERROR__agent_TASK_DROPPED_for_PA() {
    expect(
        Trigger::GcUnscheduleFailed,
        Agent,
        DROPPED,
        LOST,
        "REASON_GC_ERROR",
    );
}

#[test]
fn TASK_LOST__REASON_INVALID_OFFERS__agent_TASK_DROPPED_for_PA() {
    expect(
        Trigger::AgentInvalidOffers,
        Agent,
        DROPPED,
        LOST,
        "REASON_INVALID_OFFERS",
    );
    // The master refuses invalid offers before the agent sees them, with the same states.
    expect(
        Trigger::LaunchWithInvalidOffers,
        Master,
        DROPPED,
        LOST,
        "REASON_INVALID_OFFERS",
    );
}

// ---- TASK_DROPPED ("See TASK_LOST") -------------------------------------------------------------

#[test]
fn TASK_DROPPED__REASON_SLAVE_DISCONNECTED__master() {
    assert_eq!(
        emission(Trigger::LaunchOnDisconnectedAgent).state_for(true, LOST),
        DROPPED
    );
}

#[test]
fn TASK_DROPPED__REASON_SLAVE_REMOVED__master() {
    assert_eq!(
        emission(Trigger::LaunchOnRemovedAgent).state_for(true, LOST),
        DROPPED
    );
}

#[test]
fn TASK_DROPPED__REASON_RESOURCES_UNKNOWN__master() {
    assert_eq!(
        emission(Trigger::LaunchWithUnknownResources).state_for(true, LOST),
        DROPPED
    );
}

#[test]
fn TASK_DROPPED__REASON_SLAVE_RESTARTED__agent() {
    assert_eq!(
        emission(Trigger::LaunchedDuringAgentRestart).state_for(true, LOST),
        DROPPED
    );
}

#[test]
fn TASK_DROPPED__REASON_GC_ERROR__agent() {
    assert_eq!(
        emission(Trigger::GcUnscheduleFailed).state_for(true, LOST),
        DROPPED
    );
}

#[test]
fn TASK_DROPPED__REASON_INVALID_OFFERS__agent() {
    assert_eq!(
        emission(Trigger::AgentInvalidOffers).state_for(true, LOST),
        DROPPED
    );
}

#[test]
fn TASK_DROPPED_is_never_sent_to_frameworks_without_PARTITION_AWARE() {
    for row in EMISSIONS {
        let state = row.state_for(false, TaskState::TaskRunning);
        assert_ne!(state, DROPPED, "{:?}", row.trigger);
        assert!(
            !drover_core::task::state::is_partition_aware_only(state),
            "{:?}",
            row.trigger
        );
    }
}

// ---- TASK_UNREACHABLE and TASK_GONE --------------------------------------------------------

#[test]
fn TASK_UNREACHABLE__REASON_SLAVE_REMOVED__master() {
    let row = emission(Trigger::AgentMarkedUnreachable);
    assert_eq!(row.state_for(true, TaskState::TaskRunning), UNREACHABLE);
    assert_eq!(row.reason, Reason::AgentRemoved);
    // UNREACHABLE is not terminal: the task may come back.
    assert!(!drover_core::task::state::is_terminal(UNREACHABLE));
}

#[test]
fn TASK_GONE__REASON_CONTAINER_UPDATE_FAILED__agent() {
    assert_eq!(
        emission(Trigger::ContainerUpdateFailed).state_for(true, LOST),
        GONE
    );
}

#[test]
fn TASK_GONE__REASON_CONTAINER_PREEMPTED__agent() {
    assert_eq!(
        emission(Trigger::ContainerPreempted).state_for(true, LOST),
        GONE
    );
}

#[test]
fn TASK_GONE__REASON_EXECUTOR_PREEMPTED__renamed_to_REASON_CONTAINER_PREEMPTED() {
    assert_eq!(
        parse_reason("REASON_EXECUTOR_PREEMPTED"),
        Some(Reason::ContainerPreempted)
    );
}

#[test]
fn TASK_GONE_BY_OPERATOR__REASON_SLAVE_REMOVED_BY_OPERATOR__master_mark_agent_gone() {
    let row = emission(Trigger::AgentMarkedGone);
    assert_eq!(
        row.state_for(true, TaskState::TaskRunning),
        TaskState::TaskGoneByOperator
    );
    assert_eq!(
        row.reason_for(true),
        parse_reason("REASON_SLAVE_REMOVED_BY_OPERATOR").unwrap()
    );
    assert_eq!(row.state_for(false, TaskState::TaskRunning), LOST);
    assert_eq!(row.reason_for(false), Reason::AgentRemoved);
}

// ---- Non-terminal reasons --------------------------------------------------------------------

/// "The original data and message fields are erased and the original reason field is
/// overwritten by REASON_RECONCILIATION."
#[test]
fn REASON_RECONCILIATION__master_resends_latest_state_with_data_and_message_replaced() {
    let row = emission(Trigger::ReconcileKnownTask);
    assert_eq!(row.emitter, Master);
    let status = row.status("t1", true, TaskState::TaskRunning, None);
    assert_eq!(status.state, TaskState::TaskRunning as i32);
    assert_eq!(status.reason, Some(Reason::Reconciliation as i32));
    assert_eq!(
        status.message.as_deref(),
        Some("Reconciliation: Latest task state")
    );
    assert!(status.data.is_none());
    assert!(status.uuid.is_none());
    // Explicit reconciliation of tasks the master does not know.
    expect(
        Trigger::ReconcileUnknownTaskOnAgent,
        Master,
        GONE,
        LOST,
        "REASON_RECONCILIATION",
    );
    expect(
        Trigger::ReconcileTaskOnUnreachableAgent,
        Master,
        UNREACHABLE,
        LOST,
        "REASON_RECONCILIATION",
    );
    expect(
        Trigger::ReconcileTaskOnGoneAgent,
        Master,
        TaskState::TaskGoneByOperator,
        LOST,
        "REASON_RECONCILIATION",
    );
    expect(
        Trigger::ReconcileTaskOnUnknownAgent,
        Master,
        TaskState::TaskUnknown,
        LOST,
        "REASON_RECONCILIATION",
    );
}

#[test]
fn REASON_TASK_CHECK_STATUS_UPDATED__executor_with_TASK_RUNNING() {
    let row = emission(Trigger::CheckStatusChanged);
    assert_eq!(row.emitter, Executor);
    let status = row.status("t1", true, TaskState::TaskRunning, Some("exit code 0"));
    assert_eq!(status.state, TaskState::TaskRunning as i32);
    assert_eq!(status.reason, Some(Reason::TaskCheckStatusUpdated as i32));
    assert!(
        status.message.unwrap().contains("exit code 0"),
        "a human-readable description"
    );
    // A health or check update is a same-state repeat, which the transition rules allow.
    assert!(
        check(
            TaskState::TaskRunning,
            TaskState::TaskRunning,
            Some(Reason::TaskCheckStatusUpdated)
        )
        .is_ok()
    );
}

#[test]
fn REASON_TASK_HEALTH_CHECK_STATUS_UPDATED__executor_with_TASK_RUNNING() {
    let row = emission(Trigger::HealthCheckStatusChanged);
    let status = row.status("t1", false, TaskState::TaskRunning, None);
    assert_eq!(status.state, TaskState::TaskRunning as i32);
    assert_eq!(
        status.reason,
        Some(Reason::TaskHealthCheckStatusUpdated as i32)
    );
    assert_eq!(status.source, Some(Source::Executor as i32));
}

/// "The agent on which the task was running has reregistered after being marked unreachable":
/// the master re-sends the agent's view, which for a non-PA framework brings a task back from
/// TASK_LOST, the one way out of a terminal state.
#[test]
fn REASON_SLAVE_REREGISTERED__master_copy_of_agent_reported_state() {
    // A task the agent still holds unstarted comes back as TASK_STAGING (found by a 30-minute
    // soak); no other row but reconciliation re-sends STAGING.
    for pa in [true, false] {
        assert!(is_allowed(
            TaskState::TaskStaging,
            Some(Reason::AgentReregistered),
            Source::Master,
            pa
        ));
        assert!(!is_allowed(
            TaskState::TaskStaging,
            Some(Reason::TaskHealthCheckStatusUpdated),
            Source::Executor,
            pa
        ));
    }
    let row = emission(Trigger::AgentReregistered);
    assert_eq!(row.emitter, Master);
    assert_eq!(row.reason, Reason::AgentReregistered);
    assert_eq!(
        row.state_for(true, TaskState::TaskRunning),
        TaskState::TaskRunning
    );
    assert_eq!(
        row.state_for(false, TaskState::TaskRunning),
        TaskState::TaskRunning
    );

    let mut task = Tracked::staging();
    task.apply(TaskState::TaskRunning, None).unwrap();
    task.apply(LOST, Some(Reason::AgentRemoved)).unwrap();
    assert!(
        task.apply(TaskState::TaskRunning, Some(Reason::Reconciliation))
            .is_err()
    );
    task.apply(TaskState::TaskRunning, Some(Reason::AgentReregistered))
        .unwrap();
    assert_eq!(task.state(), TaskState::TaskRunning);
}
