//! Shared fixtures for the agent core tests: a config, builders for frameworks and tasks, and
//! a harness that checks invariants after every step and records effects.

#![allow(dead_code)]

use drover_core::agent::{
    Agent, CheckpointOp, Config, ConnId, ContainerId, Effect, FrameworkId, Input, Recovered,
    RecoveredExecutor, RequestId, TaskId,
};
use drover_core::task::{Reason, Source, TaskState};
use drover_wire::internal;
use drover_wire::v1;

pub const REG_TIMEOUT: u64 = 60_000;
pub const REREG_TIMEOUT: u64 = 2_000;

pub fn config() -> Config {
    let scalar = |name: &str, value: f64| v1::Resource {
        name: name.to_owned(),
        r#type: v1::value::Type::Scalar as i32,
        scalar: Some(v1::value::Scalar { value }),
        ..Default::default()
    };
    Config {
        work_dir: "/work".into(),
        launcher: "/bin/drover".into(),
        executor_registration_timeout_ms: REG_TIMEOUT,
        executor_reregistration_timeout_ms: REREG_TIMEOUT,
        executor_shutdown_grace_ms: 5_000,
        agent_info: v1::AgentInfo {
            hostname: "host".into(),
            port: Some(5051),
            resources: vec![
                scalar("cpus", 4.0),
                scalar("mem", 4096.0),
                scalar("disk", 8192.0),
            ],
            ..Default::default()
        },
        boot_id: "boot-1".into(),
        ip: Some("10.0.0.7".into()),
        run_tasks: None,
        oversubscription: false,
    }
}

pub fn framework(id: &str, checkpoint: bool, partition_aware: bool) -> v1::FrameworkInfo {
    let mut capabilities = Vec::new();
    if partition_aware {
        capabilities.push(v1::framework_info::Capability {
            r#type: Some(v1::framework_info::capability::Type::PartitionAware as i32),
        });
    }
    v1::FrameworkInfo {
        user: String::new(),
        name: "test".into(),
        id: Some(v1::FrameworkId { value: id.into() }),
        checkpoint: Some(checkpoint),
        capabilities,
        ..Default::default()
    }
}

pub fn command_task(id: &str) -> v1::TaskInfo {
    v1::TaskInfo {
        name: id.into(),
        task_id: v1::TaskId { value: id.into() },
        agent_id: v1::AgentId {
            value: "agent-1".into(),
        },
        resources: vec![v1::Resource {
            name: "cpus".into(),
            r#type: v1::value::Type::Scalar as i32,
            scalar: Some(v1::value::Scalar { value: 0.5 }),
            ..Default::default()
        }],
        command: Some(v1::CommandInfo {
            value: Some("sleep 10".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn run(framework: &v1::FrameworkInfo, task: v1::TaskInfo) -> Input {
    Input::RunTask(internal::agent_event::RunTask {
        framework_info: framework.clone(),
        task: Some(task),
        executor: None,
        task_group: None,
    })
}

/// The agent under test plus a clock.
pub struct Harness {
    pub agent: Agent,
    pub now: u64,
    next_request: u64,
}

impl Harness {
    /// A fresh, registered agent.
    pub fn registered() -> Self {
        let mut h = Self::recovered_with(Recovered::default());
        let effects = h.step(Input::Registered {
            agent_id: "agent-1".into(),
        });
        assert!(
            effects
                .iter()
                .any(|e| matches!(e, Effect::Checkpoint(CheckpointOp::Agent { .. })))
        );
        h
    }

    /// `agent` (e.g. with its own GC settings), recovered empty and registered.
    pub fn registered_agent(agent: Agent) -> Self {
        let mut h = Harness {
            agent,
            now: 1_000_000,
            next_request: 0,
        };
        h.step(Input::Recover(Recovered::default()));
        h.step(Input::Registered {
            agent_id: "agent-1".into(),
        });
        h
    }

    pub fn recovered_with(state: Recovered) -> Self {
        let mut h = Harness {
            agent: Agent::new(config(), [7; 16]),
            now: 1_000_000,
            next_request: 0,
        };
        h.step(Input::Recover(state));
        h
    }

    pub fn step(&mut self, input: Input) -> Vec<Effect> {
        let effects = self.agent.handle(self.now, input);
        self.agent.check_invariants();
        check_checkpoint_order(&effects);
        effects
    }

    pub fn advance(&mut self, ms: u64) -> Vec<Effect> {
        self.now += ms;
        self.step(Input::Tick)
    }

    pub fn call(
        &mut self,
        conn: Option<ConnId>,
        call: v1::executor::Call,
    ) -> (RequestId, Vec<Effect>) {
        self.next_request += 1;
        let request = RequestId(self.next_request);
        let effects = self.step(Input::ExecutorCall {
            request,
            conn,
            call,
        });
        (request, effects)
    }

    /// Subscribes the executor of `task` on `conn` and returns the effects.
    pub fn subscribe(&mut self, framework: &str, executor: &str, conn: u64) -> Vec<Effect> {
        let (_, effects) = self.call(
            Some(ConnId(conn)),
            v1::executor::Call {
                executor_id: v1::ExecutorId {
                    value: executor.into(),
                },
                framework_id: v1::FrameworkId {
                    value: framework.into(),
                },
                r#type: Some(v1::executor::call::Type::Subscribe as i32),
                subscribe: Some(Default::default()),
                ..Default::default()
            },
        );
        effects
    }

    pub fn update(
        &mut self,
        framework: &str,
        executor: &str,
        task: &str,
        state: TaskState,
        uuid: u8,
    ) -> Vec<Effect> {
        let (_, effects) = self.call(None, update_call(framework, executor, task, state, uuid));
        effects
    }

    pub fn container_of(&self, framework: &str, executor: &str) -> ContainerId {
        self.agent.frameworks()[&FrameworkId(framework.into())].executors
            [&drover_core::agent::ExecutorId(executor.into())]
            .container_id
            .clone()
    }

    pub fn ack(&mut self, framework: &str, task: &str, uuid: Vec<u8>) -> Vec<Effect> {
        self.step(Input::Acknowledge {
            framework_id: FrameworkId(framework.into()),
            task_id: TaskId(task.into()),
            uuid,
        })
    }
}

pub fn update_call(
    framework: &str,
    executor: &str,
    task: &str,
    state: TaskState,
    uuid: u8,
) -> v1::executor::Call {
    v1::executor::Call {
        executor_id: v1::ExecutorId {
            value: executor.into(),
        },
        framework_id: v1::FrameworkId {
            value: framework.into(),
        },
        r#type: Some(v1::executor::call::Type::Update as i32),
        update: Some(v1::executor::call::Update {
            status: v1::TaskStatus {
                task_id: v1::TaskId { value: task.into() },
                state: state as i32,
                source: Some(Source::Executor as i32),
                uuid: Some(vec![uuid; 16]),
                ..Default::default()
            },
        }),
        ..Default::default()
    }
}

/// Every checkpoint of a step comes before the step's first non-checkpoint effect that the
/// driver carries out after the commit; the driver commits them all first anyway, so the
/// order inside a step only needs to be stable. This checks the step never both removes and
/// re-adds the same update record.
fn check_checkpoint_order(effects: &[Effect]) {
    let mut removed = Vec::new();
    for e in effects {
        if let Effect::Checkpoint(CheckpointOp::RemoveTask { task_id, .. }) = e {
            removed.push(task_id.clone());
        }
        if let Effect::Checkpoint(CheckpointOp::PutUpdate { task_id, .. }) = e {
            assert!(
                !removed.contains(task_id),
                "update put after its task was removed"
            );
        }
    }
}

/// The status updates sent to the master in these effects.
pub fn sent(effects: &[Effect]) -> Vec<v1::TaskStatus> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::ToMaster(call) => call.status_update.as_ref().map(|u| u.status.clone()),
            _ => None,
        })
        .collect()
}

/// The single update sent, with its (state, reason, source) checked.
pub fn expect_one(
    effects: &[Effect],
    state: TaskState,
    reason: Option<Reason>,
    source: Source,
) -> v1::TaskStatus {
    let updates = sent(effects);
    assert_eq!(updates.len(), 1, "expected one update, got {updates:#?}");
    let status = updates[0].clone();
    assert_eq!(status.state, state as i32, "state of {status:#?}");
    assert_eq!(
        status.reason,
        reason.map(|r| r as i32),
        "reason of {status:#?}"
    );
    assert_eq!(status.source, Some(source as i32));
    assert_eq!(status.uuid.as_ref().map(Vec::len), Some(16));
    status
}

pub fn executor_events(effects: &[Effect], conn: u64) -> Vec<v1::executor::event::Type> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::ToExecutor { conn: c, event } if c.0 == conn => {
                v1::executor::event::Type::try_from(event.r#type.unwrap_or(0)).ok()
            }
            _ => None,
        })
        .collect()
}

pub fn kills(effects: &[Effect]) -> Vec<ContainerId> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Kill { container_id, .. } => Some(container_id.clone()),
            _ => None,
        })
        .collect()
}

/// A checkpointed command task `t1` (executor `t1`) in `state`, with its container `c1`.
pub fn recovered_command_task(
    alive: bool,
    rebooted: bool,
    task_state: TaskState,
    pa: bool,
) -> Recovered {
    let fw = framework("fw", true, pa);
    let task = command_task("t1");
    Recovered {
        agent_id: Some("agent-1".into()),
        rebooted,
        frameworks: vec![fw],
        executors: vec![RecoveredExecutor {
            framework_id: FrameworkId("fw".into()),
            info: v1::ExecutorInfo {
                executor_id: v1::ExecutorId { value: "t1".into() },
                ..Default::default()
            },
            container_id: ContainerId("c1".into()),
            directory: "/work/sandbox".into(),
            command_executor: true,
            alive,
        }],
        tasks: vec![v1::Task {
            name: "t1".into(),
            task_id: task.task_id.clone(),
            framework_id: v1::FrameworkId { value: "fw".into() },
            executor_id: Some(v1::ExecutorId { value: "t1".into() }),
            agent_id: v1::AgentId {
                value: "agent-1".into(),
            },
            state: task_state as i32,
            ..Default::default()
        }],
        ..Default::default()
    }
}
