//! Terminal is terminal in the master: removing a framework never appends a status after a
//! terminal one (issue 12, item 15: a task whose terminal update is still unacknowledged keeps
//! that state and history; only live tasks become TASK_KILLED/REASON_FRAMEWORK_REMOVED), and a
//! kill answered while the agent was away reaches the agent only if it still runs the task.

use crate::master_common;

use drover_core::master::Reply;
use drover_wire::v1;
use drover_wire::v1::TaskState::*;
use drover_wire::v1::scheduler;
use drover_wire::v1::task_status::Reason;
use master_common::*;

fn teardown(sim: &mut Sim, fw: &Fw) {
    let (reply, _) = sim.call(
        fw,
        scheduler::Call {
            r#type: Some(scheduler::call::Type::Teardown as i32),
            ..Default::default()
        },
    );
    assert_eq!(reply, Reply::Accepted);
}

fn terminal_then_teardown(state: v1::TaskState) {
    let mut sim = Sim::new();
    let (fw, agent, task) = sim.running_task(false, true);
    // The terminal update reaches the framework but is not acknowledged.
    let effects = sim.agent_update(&agent, &fw.id, &task, state, 2);
    assert_eq!(updates(&effects, fw.conn)[0].state, state as i32);
    teardown(&mut sim, &fw);
    let tasks = sim.m.get_tasks();
    let done = tasks
        .completed_tasks
        .iter()
        .find(|t| t.task_id.value == task)
        .expect("completed");
    assert_eq!(done.state, state as i32, "terminal is terminal");
    let terminal: Vec<i32> = done
        .statuses
        .iter()
        .map(|s| s.state)
        .filter(|s| {
            [TaskLost, TaskFinished, TaskKilled, TaskFailed]
                .contains(&v1::TaskState::try_from(*s).unwrap())
        })
        .collect();
    assert_eq!(
        terminal,
        vec![state as i32],
        "one terminal status: {:?}",
        done.statuses
    );
}

#[test]
fn teardown_keeps_an_unacknowledged_task_lost() {
    terminal_then_teardown(TaskLost);
}

#[test]
fn teardown_keeps_an_unacknowledged_task_finished() {
    terminal_then_teardown(TaskFinished);
}

/// The live task beside it is still killed with REASON_FRAMEWORK_REMOVED.
#[test]
fn teardown_still_kills_live_tasks() {
    let mut sim = Sim::new();
    let (fw, _, task) = sim.running_task(true, true);
    teardown(&mut sim, &fw);
    let tasks = sim.m.get_tasks();
    let done = tasks
        .completed_tasks
        .iter()
        .find(|t| t.task_id.value == task)
        .expect("completed");
    assert_eq!(done.state, TaskKilled as i32);
    assert_eq!(
        done.statuses.last().and_then(|s| s.reason),
        Some(Reason::FrameworkRemoved as i32)
    );
}

/// A kill the master answered while the task's agent was away (TASK_KILLED,
/// REASON_TASK_KILLED_DURING_LAUNCH) is re-sent when the agent returns still running the
/// task, and only then: an agent that never got the launch would answer the kill with a
/// second terminal update (found by the simulator, seed 7000633).
#[test]
fn kill_while_agent_away_is_resent_only_for_a_task_the_agent_reports() {
    for reports in [false, true] {
        let mut sim = Sim::new();
        let (agent, _) = sim.register_agent("cpus:4;mem:4096");
        let (fw, effects) = sim.subscribe(true, true, 3600.0);
        let offer = offers(&effects, fw.conn).pop().expect("an offer");
        sim.accept(
            &fw,
            &[&offer.id.value],
            vec![task("t1", &agent, "cpus:1;mem:64")],
        );
        sim.close_agent(&agent);
        let (_, effects) = sim.call(
            &fw,
            scheduler::Call {
                r#type: Some(scheduler::call::Type::Kill as i32),
                kill: Some(scheduler::call::Kill {
                    task_id: v1::TaskId { value: "t1".into() },
                    ..Default::default()
                }),
                ..Default::default()
            },
        );
        assert_master_update(
            &updates(&effects, fw.conn)[0],
            TaskKilled,
            Reason::TaskKilledDuringLaunch,
        );
        let tasks = if reports {
            vec![v1::Task {
                name: "t1".into(),
                task_id: v1::TaskId { value: "t1".into() },
                framework_id: v1::FrameworkId {
                    value: fw.id.clone(),
                },
                agent_id: v1::AgentId {
                    value: agent.clone(),
                },
                state: TaskRunning as i32,
                ..Default::default()
            }]
        } else {
            vec![]
        };
        let mut info = framework_info(true);
        info.id = Some(v1::FrameworkId {
            value: fw.id.clone(),
        });
        let (conn, effects) = sim.reregister_agent(&agent, "cpus:4;mem:4096", tasks, vec![info]);
        let kills: Vec<String> = agent_events(&effects, conn)
            .iter()
            .filter_map(|e| e.kill_task.as_ref().map(|k| k.task_id.value.clone()))
            .collect();
        let expected = if reports {
            vec!["t1".to_owned()]
        } else {
            vec![]
        };
        assert_eq!(kills, expected, "agent reports the task: {reports}");
    }
}

/// Two tasks launched on an agent that then goes away, and a kill of `t1` that the master
/// answers itself (TASK_KILLED, REASON_TASK_KILLED_DURING_LAUNCH): (agent id, framework).
fn kill_t1_while_its_agent_is_away(sim: &mut Sim) -> (String, Fw) {
    let (agent, _) = sim.register_agent("cpus:4;mem:4096");
    let (fw, effects) = sim.subscribe(true, true, 3600.0);
    let offer = offers(&effects, fw.conn).pop().expect("an offer");
    sim.accept(
        &fw,
        &[&offer.id.value],
        vec![
            task("t1", &agent, "cpus:1;mem:64"),
            task("t2", &agent, "cpus:1;mem:64"),
        ],
    );
    sim.close_agent(&agent);
    let (_, effects) = sim.call(
        &fw,
        scheduler::Call {
            r#type: Some(scheduler::call::Type::Kill as i32),
            kill: Some(scheduler::call::Kill {
                task_id: v1::TaskId { value: "t1".into() },
                ..Default::default()
            }),
            ..Default::default()
        },
    );
    assert_master_update(
        &updates(&effects, fw.conn)[0],
        TaskKilled,
        Reason::TaskKilledDuringLaunch,
    );
    (agent, fw)
}

/// A STAGING task as a returning agent reports it.
fn staging_task(framework_id: &str, agent: &str, id: &str) -> v1::Task {
    v1::Task {
        name: id.into(),
        task_id: v1::TaskId { value: id.into() },
        framework_id: v1::FrameworkId {
            value: framework_id.to_owned(),
        },
        agent_id: v1::AgentId {
            value: agent.to_owned(),
        },
        state: TaskStaging as i32,
        ..Default::default()
    }
}

/// The agent that did get the launch whose kill the master answered while it was away
/// (TASK_KILLED, REASON_TASK_KILLED_DURING_LAUNCH) reports the task's end itself when it
/// returns — here TASK_FAILED, its executor having died with the agent. The framework has its
/// terminal state already: the master acknowledges the agent's updates for the task itself and
/// forwards none (KILLED then FAILED was a second terminal state; found by the simulator,
/// seed 7006321). Other tasks' updates still reach the framework.
#[test]
fn agent_updates_after_an_answered_kill_do_not_reach_the_framework() {
    let mut sim = Sim::new();
    let (agent, fw) = kill_t1_while_its_agent_is_away(&mut sim);
    let reported = |id: &str| staging_task(&fw.id, &agent, id);
    let mut info = framework_info(true);
    info.id = Some(v1::FrameworkId {
        value: fw.id.clone(),
    });
    let (conn, _) = sim.reregister_agent(
        &agent,
        "cpus:4;mem:4096",
        vec![reported("t1"), reported("t2")],
        vec![info],
    );
    let acks = |effects: &[drover_core::master::Effect]| -> Vec<String> {
        agent_events(effects, conn)
            .iter()
            .filter_map(|e| e.acknowledge.as_ref().map(|a| a.task_id.value.clone()))
            .collect()
    };
    let effects = sim.agent_update(&agent, &fw.id, "t1", TaskFailed, 7);
    assert!(
        updates(&effects, fw.conn).is_empty(),
        "forwarded: {:?}",
        updates(&effects, fw.conn)
    );
    assert_eq!(acks(&effects), vec!["t1".to_owned()]);
    // A copy of that terminal update (a retry, or a duplicate on the wire) is swallowed too:
    // forwarding it after the first was a second terminal state (seed 5255212458427393388).
    let effects = sim.agent_update(&agent, &fw.id, "t1", TaskFailed, 7);
    assert!(
        updates(&effects, fw.conn).is_empty(),
        "a copy was forwarded: {:?}",
        updates(&effects, fw.conn)
    );
    assert_eq!(acks(&effects), vec!["t1".to_owned()]);
    // The task the master still holds is untouched: its update is forwarded, not acknowledged.
    let effects = sim.agent_update(&agent, &fw.id, "t2", TaskRunning, 8);
    let forwarded = updates(&effects, fw.conn);
    assert_eq!(forwarded.len(), 1);
    assert_eq!(forwarded[0].task_id.value, "t2");
    assert!(acks(&effects).is_empty());
}

/// A stale reregistration of an agent the master admitted, overtaken by its task's
/// acknowledged TASK_FINISHED, does not bring the finished task back as live (Mesos'
/// `reconcileKnownSlave` adopts nothing): adopting it held the task's resources a second
/// time once they were offered again (found by the simulator, seed 7002058).
#[test]
fn stale_reregistration_does_not_resurrect_an_acknowledged_finished_task() {
    let mut sim = Sim::new();
    let (fw, agent, t1) = sim.running_task(true, true);
    sim.agent_update(&agent, &fw.id, &t1, TaskFinished, 2);
    sim.call(
        &fw,
        scheduler::Call {
            r#type: Some(scheduler::call::Type::Acknowledge as i32),
            acknowledge: Some(scheduler::call::Acknowledge {
                agent_id: v1::AgentId {
                    value: agent.clone(),
                },
                task_id: v1::TaskId { value: t1.clone() },
                uuid: vec![2; 16],
            }),
            ..Default::default()
        },
    );
    let key = (fw.id.clone(), t1.clone());
    assert_ne!(sim.m.task_states().get(&key), Some(&TaskRunning));
    let stale = v1::Task {
        name: t1.clone(),
        task_id: v1::TaskId { value: t1.clone() },
        framework_id: v1::FrameworkId {
            value: fw.id.clone(),
        },
        agent_id: v1::AgentId {
            value: agent.clone(),
        },
        state: TaskRunning as i32,
        ..Default::default()
    };
    let mut info = framework_info(true);
    info.id = Some(v1::FrameworkId {
        value: fw.id.clone(),
    });
    sim.reregister_agent(
        &agent,
        "cpus:4;mem:4096;ports:[31000-31010]",
        vec![stale],
        vec![info],
    );
    assert_ne!(
        sim.m.task_states().get(&key),
        Some(&TaskRunning),
        "the finished task came back as live"
    );
}

/// The same across a master failover: the master that answered the kill is gone, and with it
/// the memory of that answer, but the registry's completed history says the task ended on that
/// agent. The recovered agent reports the task when it comes back; the new master kills it
/// rather than adopting it, and swallows its TASK_FAILED (adopting it forwarded a second
/// terminal state; found by the simulator, seed 8100000000000006695).
#[test]
fn a_task_whose_kill_the_master_answered_is_not_adopted_after_a_failover() {
    let mut sim = Sim::new();
    let (agent, fw) = kill_t1_while_its_agent_is_away(&mut sim);
    // The master fails over; the framework re-subscribes with its id.
    let mut sim = sim.restart(1_000);
    let mut info = framework_info(true);
    info.id = Some(v1::FrameworkId {
        value: fw.id.clone(),
    });
    let (fw, _) = sim.subscribe_with(info.clone());
    let reported = |id: &str| staging_task(&fw.id, &agent, id);
    let (conn, effects) = sim.reregister_agent(
        &agent,
        "cpus:4;mem:4096",
        vec![reported("t1"), reported("t2")],
        vec![info],
    );
    let kills: Vec<String> = agent_events(&effects, conn)
        .iter()
        .filter_map(|e| e.kill_task.as_ref().map(|k| k.task_id.value.clone()))
        .collect();
    assert_eq!(
        kills,
        vec!["t1".to_owned()],
        "only the ended task is killed"
    );
    let effects = sim.agent_update(&agent, &fw.id, "t1", TaskFailed, 7);
    assert!(
        updates(&effects, fw.conn).is_empty(),
        "a second terminal state was forwarded: {:?}",
        updates(&effects, fw.conn)
    );
    let acked: Vec<String> = agent_events(&effects, conn)
        .iter()
        .filter_map(|e| e.acknowledge.as_ref().map(|a| a.task_id.value.clone()))
        .collect();
    assert_eq!(acked, vec!["t1".to_owned()]);
    // The other task was adopted: its updates reach the framework.
    let effects = sim.agent_update(&agent, &fw.id, "t2", TaskRunning, 8);
    assert_eq!(updates(&effects, fw.conn).len(), 1);
}
