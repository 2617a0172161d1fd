//! Shared test harness for the Marathon scheduler tests (included with `mod` by each test
//! file): builders for apps, offers and status updates, and a driver loop that checks
//! invariants after every step.
#![allow(dead_code)]

use drover_core::marathon::app::AppSpec;
use drover_core::marathon::condition::Condition;
use drover_core::marathon::instance::Instance;
use drover_core::marathon::path::PathId;
use drover_core::marathon::scheduler::{
    Command, Config, Effect, Input, Reply, Scheduler, SequentialIds,
};
use drover_core::task::{Reason, TaskState};
use drover_wire::v1;

pub const T0: u64 = 1_600_000_000_000;

pub struct Harness {
    pub s: Scheduler,
    pub now: u64,
    pub log: Vec<Effect>,
    offer_seq: u64,
}

impl Harness {
    pub fn new() -> Self {
        let mut h = Harness {
            s: Scheduler::new(Config::default(), Box::new(SequentialIds::default())),
            now: T0,
            log: Vec::new(),
            offer_seq: 0,
        };
        h.step(Input::Subscribed {
            framework_id: "fw-1".into(),
        });
        h
    }

    pub fn step(&mut self, input: Input) -> Vec<Effect> {
        let effects = self.s.handle(self.now, input);
        self.s.check_invariants();
        self.log.extend(effects.iter().cloned());
        effects
    }

    pub fn advance(&mut self, ms: u64) -> Vec<Effect> {
        self.now += ms;
        self.step(Input::Tick)
    }

    pub fn command(&mut self, command: Command) -> Reply {
        let effects = self.step(Input::Command(command));
        effects
            .into_iter()
            .find_map(|e| match e {
                Effect::Reply(r) => Some(r),
                _ => None,
            })
            .expect("every command is answered")
            .expect("command succeeds")
    }

    pub fn create(&mut self, app: AppSpec) -> Reply {
        self.command(Command::CreateApp { app, force: false })
    }

    /// Offers one agent with plenty of resources; returns the launched tasks.
    pub fn offer(&mut self, agent: &str) -> Vec<v1::TaskInfo> {
        self.offer_sized(agent, 64.0, 65536.0)
    }

    pub fn offer_sized(&mut self, agent: &str, cpus: f64, mem: f64) -> Vec<v1::TaskInfo> {
        self.offer_seq += 1;
        let offer = offer(&format!("o-{}", self.offer_seq), agent, cpus, mem);
        self.step(Input::Offers(vec![offer]))
            .into_iter()
            .filter_map(|e| match e {
                Effect::Launch { tasks, .. } => Some(tasks),
                _ => None,
            })
            .flatten()
            .collect()
    }

    pub fn update(&mut self, task_id: &str, state: TaskState) -> Vec<Effect> {
        self.step(Input::Update(status(task_id, state, None, None)))
    }

    pub fn update_with(
        &mut self,
        task_id: &str,
        state: TaskState,
        reason: Option<Reason>,
        message: Option<&str>,
    ) -> Vec<Effect> {
        self.step(Input::Update(status(task_id, state, reason, message)))
    }

    pub fn instances(&self, app: &str) -> Vec<Instance> {
        let id = PathId::parse_app_id(app).unwrap();
        self.s.instances_of(&id).cloned().collect()
    }

    pub fn conditions(&self, app: &str) -> Vec<Condition> {
        let mut c: Vec<_> = self.instances(app).iter().map(|i| i.condition).collect();
        c.sort();
        c
    }

    /// Launches every scheduled instance of every app and reports them RUNNING.
    pub fn run_all(&mut self, agent: &str) -> Vec<String> {
        let tasks = self.offer(agent);
        let ids: Vec<String> = tasks.iter().map(|t| t.task_id.value.clone()).collect();
        for id in &ids {
            self.update(id, TaskState::TaskRunning);
        }
        ids
    }
}

pub fn app(id: &str, instances: u32) -> AppSpec {
    let mut app = AppSpec::new(PathId::parse_app_id(id).unwrap());
    app.cmd = Some("sleep 1000".into());
    app.cpus = 0.1;
    app.mem = 16.0;
    app.instances = instances;
    app
}

pub fn offer(id: &str, agent: &str, cpus: f64, mem: f64) -> v1::Offer {
    let scalar = drover_core::resources::scalar_resource;
    v1::Offer {
        id: v1::OfferId { value: id.into() },
        framework_id: v1::FrameworkId {
            value: "fw-1".into(),
        },
        agent_id: v1::AgentId {
            value: agent.into(),
        },
        hostname: format!("{agent}.example"),
        resources: vec![
            scalar("cpus", cpus),
            scalar("mem", mem),
            scalar("disk", 1000.0),
            v1::Resource {
                name: "ports".into(),
                r#type: v1::value::Type::Ranges as i32,
                ranges: Some(v1::value::Ranges {
                    range: vec![v1::value::Range {
                        begin: 31000,
                        end: 32000,
                    }],
                }),
                ..Default::default()
            },
        ],
        ..Default::default()
    }
}

pub fn status(
    task_id: &str,
    state: TaskState,
    reason: Option<Reason>,
    message: Option<&str>,
) -> v1::TaskStatus {
    v1::TaskStatus {
        task_id: v1::TaskId {
            value: task_id.into(),
        },
        state: state as i32,
        reason: reason.map(|r| r as i32),
        message: message.map(str::to_owned),
        agent_id: Some(v1::AgentId {
            value: "agent-1".into(),
        }),
        uuid: Some(vec![1, 2, 3]),
        ..Default::default()
    }
}

/// Asserts that `effects` kill exactly the tasks `ids`, in any order.
pub fn assert_kills(effects: &[Effect], ids: &[String]) {
    let mut killed = kills(effects);
    killed.sort();
    let mut expected = ids.to_vec();
    expected.sort();
    assert_eq!(killed, expected);
}

pub fn kills(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Kill { task_id, .. } => Some(task_id.clone()),
            _ => None,
        })
        .collect()
}

pub fn event_types(effects: &[Effect]) -> Vec<&'static str> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Publish(ev) => Some(ev.event_type()),
            _ => None,
        })
        .collect()
}
