//! Regression tests for bugs the simulator found, named after the scenario that found them.

use drover_core::marathon::app::AppSpec;
use drover_core::marathon::path::PathId;
use drover_core::marathon::scheduler::{Command, Config, Effect, Input, Scheduler, SequentialIds};
use drover_core::resources;
use drover_wire::v1;

const T0: u64 = 1_700_000_000_000;

/// Found by `agent_restart_after_host_reboot` (seed 3) and the random search (seed
/// 1000000): after a task failed, the app's launch delay stayed in `next_deadline` once it
/// had passed (until it expired, `maxLaunchDelaySeconds` later), so the driver's timer fired
/// at once, again and again: a busy loop of Ticks for up to five minutes.
#[test]
fn regression_agent_restart_after_host_reboot_launch_delay_deadline_in_the_past() {
    let (mut s, task_id) = scheduler_with_one_launched_task();
    let failed = v1::TaskStatus {
        task_id,
        state: v1::TaskState::TaskFailed as i32,
        source: Some(v1::task_status::Source::Executor as i32),
        agent_id: Some(v1::AgentId {
            value: "agent".into(),
        }),
        ..Default::default()
    };
    s.handle(T0 + 20, Input::Update(failed));
    // Past the one-second backoff, well before the delay expires.
    let now = T0 + 20 + 5_000;
    s.handle(now, Input::Tick);
    let next = s.next_deadline().expect("timers remain");
    assert!(
        next > now,
        "next deadline {next} is not after now {now}: the driver would spin"
    );
}

/// A subscribed scheduler with app `/a` (one instance) whose task it has just launched on an
/// offer from agent `agent`: the task is Provisioned, with no Mesos status yet.
fn scheduler_with_one_launched_task() -> (Scheduler, v1::TaskId) {
    let mut s = Scheduler::new(Config::default(), Box::new(SequentialIds::default()));
    s.handle(
        T0,
        Input::Subscribed {
            framework_id: "fw".into(),
        },
    );
    let mut app = AppSpec::new(PathId::parse_app_id("/a").expect("valid"));
    app.cmd = Some("sleep 1000".into());
    s.handle(T0, Input::Command(Command::CreateApp { app, force: false }));
    let offer = v1::Offer {
        id: v1::OfferId { value: "o1".into() },
        framework_id: v1::FrameworkId { value: "fw".into() },
        agent_id: v1::AgentId {
            value: "agent".into(),
        },
        hostname: "host".into(),
        resources: resources::parse("cpus:4;mem:4096;ports:[31000-32000]").expect("valid"),
        ..Default::default()
    };
    let task_id = s
        .handle(T0 + 10, Input::Offers(vec![offer]))
        .into_iter()
        .find_map(|e| match e {
            Effect::Launch { tasks, .. } => Some(tasks[0].task_id.clone()),
            _ => None,
        })
        .expect("launched");
    (s, task_id)
}

/// Replays one seed of a named scenario (or of the random mix) and expects it to pass.
fn replay(seed: u64, scenario: &str) {
    let plan = if scenario == "random" {
        drover_sim::random_plan(seed)
    } else {
        drover_sim::plan(scenario, seed).expect("known scenario")
    };
    if let Err(e) = drover_sim::run(seed, &plan, false) {
        panic!("{e}");
    }
}

/// Found by `agent_partition_past_timeout` (seed 2; also `registry_write_fails`,
/// `netsplit_of_a_client_for_30s`, `health_checks_fail_while_unreachable_write_pending`):
/// the partition ate the end of the agent's stream, and the agent, which had no
/// master-silence timer, stayed on the dead session after the heal, its TASK_FINISHED for a
/// plain framework's task never acknowledged. The agent now re-detects the master after
/// the master's ping window without a PING (Mesos' 75 s until it has registered), in the
/// simulator and in `crates/agent/src/master.rs`.
#[test]
fn regression_agent_partition_past_timeout_agent_redetects_a_silent_master() {
    replay(2, "agent_partition_past_timeout");
    replay(2, "netsplit_of_a_client_for_30s");
}

/// Found by the random search (seed 1000093: `agent_partition_past_timeout` +
/// `scheduler_abdicates_mid_deployment`): when an unreachable agent reregistered, the master
/// announced the task's latest state (TASK_RUNNING, REASON_AGENT_REREGISTERED) and the agent
/// then resent its older unacknowledged TASK_STARTING: RUNNING → STARTING at the framework
/// (the lead's KILLED → KILLING is the same bug). The master now announces the oldest
/// unacknowledged state the agent reports (`master/tasks.rs`, `master_update`).
#[test]
fn regression_agent_partition_past_timeout_reregistration_announces_oldest_unacked_state() {
    replay(1_000_093, "random");
}

/// Found by the random search (seed 1000306: `one_way_partition_master_to_scheduler` +
/// `health_checks_fail_while_unreachable_write_pending`): an agent returned while the plain
/// framework was disconnected, so the master's REASON_AGENT_REREGISTERED update for a task
/// it had reported TASK_LOST went to no scheduler stream, and the master's own step check
/// called the LOST → FINISHED change a resurrection without that path. The check now also
/// sees the operators' TASK_UPDATED (`master/invariants.rs`).
#[test]
fn regression_health_checks_fail_while_unreachable_write_pending_reregistered_while_framework_away()
{
    replay(1_000_306, "random");
}

/// Found by the random search (seed 1000468: `master_failover_while_agent_partitioned` +
/// `health_checks_fail_while_unreachable_write_pending`): a reregistering agent that did not
/// know Marathon answered the master's reconciliation of a Marathon task it never got with
/// TASK_LOST, which a PARTITION_AWARE framework must never see. The master now says whether
/// the framework is partition-aware in each `ReconcileTasks` entry
/// (`drover.internal`, `master/agents.rs`, `agent/launch.rs`).
#[test]
fn regression_master_failover_while_agent_partitioned_unknown_framework_gets_task_dropped() {
    replay(1_000_468, "random");
}

/// Found by the fresh range (seeds 7000633: `agent_restart_after_host_reboot` +
/// `duplicate_and_reordered_updates_and_acks`, and 7003904): Marathon killed a task whose
/// RunTask died with its rebooting agent; the master answered TASK_KILLED
/// (REASON_TASK_KILLED_DURING_LAUNCH) and re-sent the kill when the agent returned without
/// the task, which answered it with TASK_DROPPED: a second terminal state. The master now
/// re-sends such kills only for tasks the returning agent reports, as Mesos' `killedTasks`
/// (`master/agents.rs`; core test `master_terminal.rs`).
#[test]
fn regression_agent_restart_after_host_reboot_no_kill_for_a_task_the_agent_never_got() {
    replay(7_000_633, "random");
    replay(7_003_904, "random");
}

/// Found by the fresh range (seed 7002058: `health_checks_fail_while_unreachable_write_pending`
/// and `spurious_reregistration`): a stale reregistration of a connected agent, overtaken by
/// its task's TASK_FINISHED, reached the master after the freed resources were offered and
/// used again; the master adopted the finished task as live and held its resources twice
/// (agent over-allocated, cpus 4.1 of 4). As Mesos' `reconcileKnownSlave`, the master no
/// longer adopts tasks it does not hold from an agent it has admitted; only a recovered
/// agent's (after a master restart) are adopted (`master/agents.rs`). Seed
/// 5255168728427388280 (`health_checks_fail_while_unreachable_write_pending` and
/// `scheduler_abdicates_mid_deployment`: the plain framework saw FINISHED → RUNNING) failed
/// before this fix and passes with it; its trace was not studied further.
#[test]
fn regression_spurious_reregistration_does_not_resurrect_a_finished_task() {
    replay(7_002_058, "random");
    replay(5_255_168_728_427_388_280, "random");
}

/// Found by the fresh range (seed 7000413: `spurious_reregistration` +
/// `run_task_dropped_then_agent_unreachable` + `master_failover_while_agent_partitioned`;
/// and 5255168728427388604): a RunTask was dropped, the master failed over, and the plain
/// framework's one reconciliation after resubscribing reached the new master while the
/// agent had not yet reregistered, so (as in Mesos) it got no answer for the task and
/// believed TASK_STAGING forever. The checker was right and the master too: Mesos'
/// reconciliation guide requires a framework to retry explicit reconciliation until
/// answered, and the simulator's plain framework did not. It now re-asks every 30 s about
/// the non-terminal tasks a master has told it of (`src/world.rs`, `plain_reconcile`); the
/// master then answers TASK_LOST (REASON_RECONCILIATION) for the task no agent has.
#[test]
fn regression_plain_framework_retries_reconciliation_after_a_failover() {
    replay(7_000_413, "random");
    replay(5_255_168_728_427_388_604, "random");
}

/// Found by the fresh range (seeds 7004125: `spurious_reregistration` +
/// `scheduler_abdicates_mid_deployment` + `one_way_partition_master_to_agent`; 7005299,
/// 7005551, 7003252): the plain framework was told TASK_LOST (REASON_AGENT_REMOVED) when its
/// agent was marked unreachable; the agent came back while the framework was resubscribing
/// (a leader flap or failover), so the master's REASON_AGENT_REREGISTERED announcement went to
/// no stream, and the framework's next reconciliation was answered TASK_RUNNING. The system
/// was right and the checker wrong: Mesos (≥ 1.5) lets an unreachable agent reregister with
/// its tasks, non-partition-aware frameworks then see LOST → RUNNING (spec §1.4, "Unreachable
/// agent reregisters"), and the announcement goes only to connected frameworks. The checker
/// already allowed that path for a task LOST with its agent, but its rule "a reconciliation
/// answer never brings a terminal task back" came first; it now comes after (`src/check.rs`).
#[test]
fn regression_non_partition_aware_task_returns_with_its_agent_while_framework_resubscribes() {
    replay(7_004_125, "random");
    replay(7_005_299, "random");
    replay(7_005_551, "random");
    replay(7_003_252, "random");
}

/// Found by the fresh range (seeds 7003930: `duplicate_and_reordered_updates_and_acks` +
/// `scheduler_restart_ready_and_not_ready` + `health_checks_fail_while_unreachable_write_pending`;
/// 7004240, 7004966, 5255168728427388790): calls to a paused master were each retried in
/// their own one-second phase, so on resume a later call overtook an earlier one on the same
/// link — Marathon's KILL of a just-provisioned task reached the master before its ACCEPT
/// (TASK_GONE, then the task started), a reconciliation before the ACCEPT it followed, an
/// agent's retried TASK_STARTING after its TASK_FINISHED. The simulator was wrong, not the
/// system: a stopped process reads its sockets in order on resume, and the simulated links
/// are FIFO by design (`src/net.rs`). Held messages now keep the link's order
/// (`src/world.rs`, `deliver`).
///
/// Round 6 found that fix incomplete with the shipped 3 s × 4 ping defaults (seed
/// 5255214978427390728; 5255214978427389039 and 5255214978427391146 failed in the same window
/// with `health_checks_fail_while_unreachable_write_pending`, as a non-converged app and an
/// over-allocated agent, and pass under the corrected model): a held message was re-sent through
/// the link's clock once a second, so a message sent later with a long network delay (up to 2 s)
/// still overtook it. A stopped process's messages now wait in an inbox, in arrival order,
/// drained on resume (`src/world.rs`, `drain_inbox`).
#[test]
fn regression_paused_master_reads_each_link_in_order_on_resume() {
    replay(5_255_214_978_427_390_728, "random");
    replay(5_255_214_978_427_389_039, "random");
    replay(5_255_214_978_427_391_146, "random");
    replay(7_003_930, "random");
    replay(7_004_240, "random");
    replay(7_004_966, "random");
    replay(5_255_168_728_427_388_790, "random");
}

/// Found by the fresh range (seed 7006091: `run_task_dropped_then_agent_unreachable` +
/// `leader_churn` + `health_checks_fail_while_unreachable_write_pending`): two copies of /a
/// on an agent marked unreachable came back (to a master Marathon was not subscribed to)
/// after Marathon had expunged their instances; a new leader then recovered the agent from
/// the registry, Marathon's implicit reconciliation reached it before the agent reregistered,
/// and the agent's tasks were adopted silently — as Mesos does for a recovered agent. Marathon
/// killed the copies at its next reconciliation, 60 s later. The checker was wrong, not the
/// system: it gave Marathon 30 s from the agent's reregistration to kill copies it had not
/// heard of; it now counts them from 30 s after Marathon first hears of them in the agent's
/// session (`copies_within_policy`; a copy never heard of fails the convergence check).
#[test]
fn regression_copies_on_a_recovered_agent_count_once_marathon_hears_of_them() {
    replay(7_006_091, "random");
}

/// Found by the fresh range (seed 7006325: `duplicate_and_reordered_updates_and_acks` +
/// `scheduler_abdicates_mid_deployment` + `registry_write_fails`): after a master restart an
/// agent that stayed partitioned missed its reregister timeout; the plain framework's
/// reconciliation (without an agent id) was answered TASK_LOST ("Task is unknown"), and when
/// the agent came back its own TASK_FINISHED for the task followed. The checker was wrong,
/// not the system: for a non-partition-aware framework Mesos' TASK_LOST for a task the master
/// cannot place is not final, as with one LOST when its agent was removed (spec §1.4); the
/// checker now treats a reconciliation LOST with `unreachable_time` or without `agent_id`
/// like REASON_AGENT_REMOVED (`src/check.rs`, `lost_with_agent`).
#[test]
fn regression_plain_task_lost_by_reconciliation_returns_with_its_agent() {
    replay(7_006_325, "random");
}

/// Found by the fresh range (seed 7006321: `agent_checkpoint_torn_by_crash` +
/// `duplicate_and_reordered_updates_and_acks` + `run_task_dropped_then_agent_unreachable`):
/// the agent crashed just after receiving a RunTask; Marathon killed the STAGING task and the
/// master answered TASK_KILLED (REASON_TASK_KILLED_DURING_LAUNCH) itself. The agent came
/// back with the task, whose executor had died with it, and its TASK_FAILED reached Marathon:
/// a second terminal state. The master now acknowledges such a task's updates itself
/// (`master/tasks.rs`, `swallow_answered_kill`; core test `master_terminal.rs`).
#[test]
fn regression_agent_checkpoint_torn_by_crash_no_update_after_an_answered_kill() {
    replay(7_006_321, "random");
}

/// Found by a fresh sweep (seed 5255189978427388280: `run_task_dropped_then_agent_unreachable`,
/// `split_brain_paused_old_leader` and `health_checks_fail_while_unreachable_write_pending`):
/// Marathon's ACCEPT for an agent that had become unreachable was refused with TASK_DROPPED
/// (REASON_INVALID_OFFERS), and its reconciliation right after was answered
/// TASK_UNREACHABLE: the master holds no such task and its agent is unreachable (Mesos'
/// `reconcile`, spec §2.7). The checker was wrong, not the system: that answer says the task
/// is unknown, as TASK_UNKNOWN would, and does not revive it; the checker keeps the TASK_DROPPED.
#[test]
fn regression_unreachable_answer_for_a_dropped_launch_is_not_a_resurrection() {
    replay(5_255_189_978_427_388_280, "random");
}

/// Found by the CI window of a commit (seed 1717454680918800133: `many_agents_lost_at_once`,
/// `scheduler_abdicates_mid_deployment`, `health_checks_fail_while_unreachable_write_pending`):
/// Marathon named Provisioned tasks (launch decided, ACCEPT still queued behind the
/// resubscription) in its explicit reconciliation; the master, which had not seen them, rightly
/// answered TASK_GONE, and the ACCEPT that followed launched them: TASK_GONE → TASK_STARTING.
/// A task without a Mesos status is no longer named (as in Marathon 1.10); once it has one, it is.
#[test]
fn regression_provisioned_tasks_are_not_reconciled_before_their_launch() {
    let (mut s, task_id) = scheduler_with_one_launched_task();
    let explicit = |effects: Vec<Effect>| -> Vec<String> {
        effects
            .into_iter()
            .find_map(|e| match e {
                Effect::Reconcile { tasks } => {
                    Some(tasks.into_iter().map(|(id, _)| id).collect::<Vec<_>>())
                }
                _ => None,
            })
            .expect("a resubscription reconciles")
    };
    // Resubscribed before the ACCEPT left: the Provisioned task is not named.
    let named = explicit(s.handle(
        T0 + 20,
        Input::Subscribed {
            framework_id: "fw".into(),
        },
    ));
    assert!(
        !named.contains(&task_id.value),
        "a Provisioned task was named in the reconciliation: {named:?}"
    );
    // With a Mesos status it is named again.
    s.handle(
        T0 + 30,
        Input::Update(v1::TaskStatus {
            task_id: task_id.clone(),
            state: v1::TaskState::TaskStaging as i32,
            source: Some(v1::task_status::Source::Master as i32),
            agent_id: Some(v1::AgentId {
                value: "agent".into(),
            }),
            ..Default::default()
        }),
    );
    let named = explicit(s.handle(
        T0 + 40,
        Input::Subscribed {
            framework_id: "fw".into(),
        },
    ));
    assert!(
        named.contains(&task_id.value),
        "a staging task was not named in the reconciliation: {named:?}"
    );
    replay(1_717_454_680_918_800_133, "random");
}

/// Found by a fresh sweep with the shipped 3 s × 4 ping defaults (seed 5255212458427393388:
/// `duplicate_and_reordered_updates_and_acks`, `run_task_dropped_then_agent_unreachable`,
/// `agent_checkpoint_torn_by_crash`): the master answered a kill of a launch on a
/// disconnected agent itself (TASK_KILLED), the returning agent did have the task and
/// reported TASK_DROPPED; the master swallowed that update but forgot the task at once, so
/// the wire's duplicate of it reached Marathon as a second terminal state. The master now
/// swallows every copy (core `master_terminal.rs` checks it too).
#[test]
fn regression_a_duplicate_of_a_swallowed_terminal_update_is_swallowed_too() {
    replay(5_255_212_458_427_393_388, "random");
}

/// Found by a fresh sweep (seed 5255215828427397138: `leader_churn`,
/// `agent_partition_healed_before_timeout`): the plain framework's first news of a task was the
/// master's TASK_LOST (its agent was marked unreachable; the agent's TASK_STARTING had been lost
/// in the partition), and after a master failover the returning agent's TASK_STARTING reached
/// it — Mesos' documented path for a non-partition-aware framework (the new master announced
/// nothing: the framework was still resubscribing). The checker was wrong, not the system: it
/// noted a TASK_LOST that comes with the agent only when it was not the task's first update.
#[test]
fn regression_a_first_update_lost_with_the_agent_may_be_followed_by_the_agents_account() {
    replay(5_255_215_828_427_397_138, "random");
}

/// Found by the 30-minute real-process soak (round 6): an unreachable agent returned holding a
/// plain framework's task unstarted, and the master announced it as it held it — TASK_STAGING,
/// REASON_AGENT_REREGISTERED — after the framework had been told TASK_LOST with the agent; the
/// agent's own STARTING, RUNNING and KILLED followed. Mesos does the same (`task->state()` in
/// `__reregisterSlave`); the emission table and the checker allowed STAGING only from
/// reconciliation.
#[test]
fn regression_a_returning_agent_may_announce_a_task_it_holds_unstarted_as_staging() {
    use drover_core::task::{Reason, Source, TaskState};
    use drover_sim::check::Checker;
    use drover_sim::net::Fw;
    let mut checker = Checker::default();
    let now = 1_700_000_000_000;
    let status = |state: TaskState, reason: Option<Reason>, source: Source| v1::TaskStatus {
        task_id: v1::TaskId { value: "t".into() },
        state: state as i32,
        reason: reason.map(|r| r as i32),
        source: Some(source as i32),
        timestamp: Some(now as f64 / 1000.0),
        ..Default::default()
    };
    for (state, reason, source) in [
        (
            TaskState::TaskLost,
            Some(Reason::AgentRemoved),
            Source::Master,
        ),
        (
            TaskState::TaskStaging,
            Some(Reason::AgentReregistered),
            Source::Master,
        ),
        (TaskState::TaskStarting, None, Source::Executor),
        (TaskState::TaskRunning, None, Source::Executor),
        (TaskState::TaskKilled, None, Source::Executor),
    ] {
        checker.observe(Fw::Plain, &status(state, reason, source), now);
        assert_eq!(checker.violation, None, "after {state:?}");
    }
    // A STAGING out of nowhere is still refused.
    let mut checker = Checker::default();
    checker.observe(
        Fw::Plain,
        &status(TaskState::TaskRunning, None, Source::Executor),
        now,
    );
    checker.observe(
        Fw::Plain,
        &status(
            TaskState::TaskStaging,
            Some(Reason::AgentReregistered),
            Source::Master,
        ),
        now,
    );
    assert!(checker.violation.is_some());
}

/// Found by a fresh sweep (round 7; seeds 5255230498427391566: `split_brain_paused_old_leader`
/// twice + `agent_partition_healed_before_timeout`, and 5255230498427395539:
/// `agent_checkpoint_torn_by_crash` + `netsplit_of_a_client_for_30s` +
/// `master_crash_with_updates_in_flight`): an agent cut off from the leader still believed its
/// session open (until its own ping timeout) while the leader had marked it unreachable and
/// Marathon, told TASK_UNREACHABLE, replaced and later expunged its instances. The checker
/// counted the old copies as ones Marathon had heard of "in the agent's session" and should
/// have killed; Marathon cannot kill a task on an agent the master holds unreachable. The
/// checker was wrong, not the system: a session now counts only while the leader holds the
/// agent connected too (`World::agent_session_age`).
#[test]
fn regression_copies_count_only_in_a_session_the_leader_holds_open_too() {
    replay(5_255_230_498_427_391_566, "random");
    replay(5_255_230_498_427_395_539, "random");
}

/// Found by a fresh sweep (round 8; seed 8100000000000006695: `agent_checkpoint_torn_by_crash`,
/// `master_crash_with_updates_in_flight` and `scheduler_abdicates_mid_deployment`): the master
/// answered a kill of a STAGING task on a disconnected agent itself (TASK_KILLED,
/// REASON_TASK_KILLED_DURING_LAUNCH), then crashed, losing its memory of that answer. The
/// agent had received the launch after all; when it came back, the new master (which adopts a
/// recovered agent's unknown tasks) adopted the task and forwarded the agent's TASK_FAILED: a
/// second terminal state. A recovered agent's task that the registry's completed history shows
/// ended on that agent is now killed and its updates swallowed instead.
#[test]
fn regression_a_task_the_master_ended_before_a_failover_is_not_adopted_again() {
    replay(8_100_000_000_000_006_695, "random");
}

/// Found by a fresh sweep (round 8; seed 8300000000000065773:
/// `scheduler_restart_ready_and_not_ready`, `health_checks_fail_while_unreachable_write_pending`
/// and `run_task_dropped_then_agent_unreachable`): an agent marked unreachable came back with
/// eight command tasks, the master offered what those tasks left free, and Marathon filled the
/// offer; the checker then counted fourteen command executors' allowances (0.1 cpus each) and
/// saw 4.2 of 4 cpus. The checker was wrong, not the system: as in Mesos, the agent adds that
/// allowance to the command executor it generates ("a small overcommit of resources"), no
/// master ever offered it, and a reregistering agent does not report generated executors. The
/// checker no longer counts a command executor's own resources (`src/check.rs`).
#[test]
fn regression_command_executor_allowance_is_not_counted_as_offered() {
    replay(8_300_000_000_000_065_773, "random");
}
