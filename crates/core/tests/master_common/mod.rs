//! A virtual-clock harness around `drover_core::master::Master` for the master tests: every
//! step checks the invariants and the emission table.
#![allow(dead_code)]

use drover_core::master::{Config, Conn, Effect, Input, Master, Registry, Reply, update_event};
use drover_core::resources;
use drover_wire::internal::{AgentCall, AgentEvent, agent_call, agent_event};
use drover_wire::v1;
use drover_wire::v1::scheduler;

pub const START_MS: u64 = 1_700_000_000_000;

pub struct Sim {
    pub m: Master,
    pub now: u64,
    next_conn: u64,
    /// Agent id → (session conn, stream id).
    pub agent_sessions: std::collections::BTreeMap<String, (Conn, String)>,
    /// Keep accepts waiting for their authorization (in `held`) instead of answering at once
    /// as the driver does when nothing else is queued.
    pub hold_authorizations: bool,
    /// The tickets of the accepts kept waiting, oldest first.
    pub held: Vec<u64>,
}

pub struct Fw {
    pub id: String,
    pub conn: Conn,
    pub stream_id: String,
}

impl Sim {
    pub fn new() -> Sim {
        Sim::with(Config::default(), Registry::new("M"))
    }

    pub fn with(config: Config, registry: Registry) -> Sim {
        Sim {
            m: Master::new(config, registry, START_MS),
            now: START_MS,
            next_conn: 1,
            agent_sessions: Default::default(),
            hold_authorizations: false,
            held: Vec::new(),
        }
    }

    /// A master restarted from this one's registry, `after_ms` later.
    pub fn restart(&self, after_ms: u64) -> Sim {
        let mut sim = Sim::with(self.m.config().clone(), self.m.registry().clone());
        sim.now = self.now + after_ms;
        sim.m = Master::new(self.m.config().clone(), self.m.registry().clone(), sim.now);
        sim.next_conn = self.next_conn + 1000;
        sim
    }

    pub fn conn(&mut self) -> Conn {
        self.next_conn += 1;
        Conn(self.next_conn)
    }

    pub fn step(&mut self, input: Input) -> Vec<Effect> {
        let mut effects = self.step_once(input);
        let tickets: Vec<u64> = effects
            .iter()
            .filter_map(|e| match e {
                Effect::Authorize { ticket } => Some(*ticket),
                _ => None,
            })
            .collect();
        if self.hold_authorizations {
            self.held.extend(tickets);
        } else {
            for ticket in tickets {
                effects.extend(self.step_once(Input::Authorized { ticket }));
            }
        }
        effects
    }

    /// Answers the oldest accept kept waiting for its authorization.
    pub fn release_authorization(&mut self) -> Vec<Effect> {
        let ticket = self.held.remove(0);
        self.step_once(Input::Authorized { ticket })
    }

    fn step_once(&mut self, input: Input) -> Vec<Effect> {
        let before = self.m.task_states();
        let effects = self.m.handle(self.now, input);
        self.m.check_invariants().expect("invariants hold");
        self.m.check_step(&before, &effects).expect("step is legal");
        effects
    }

    /// Advances the clock to `now + ms`, running every timer on the way.
    pub fn advance(&mut self, ms: u64) -> Vec<Effect> {
        let target = self.now + ms;
        let mut all = Vec::new();
        for _ in 0..100_000 {
            match self.m.next_deadline() {
                Some(d) if d <= target => {
                    self.now = self.now.max(d);
                    all.extend(self.step(Input::Tick));
                }
                _ => break,
            }
        }
        self.now = target;
        all
    }

    pub fn register_agent(&mut self, res: &str) -> (String, Vec<Effect>) {
        self.register_agent_at("agent1", 5051, res)
    }

    pub fn register_agent_at(&mut self, host: &str, port: i32, res: &str) -> (String, Vec<Effect>) {
        let conn = self.conn();
        let stream_id = format!("agent-stream-{}", conn.0);
        let call = AgentCall {
            r#type: Some(agent_call::Type::Register as i32),
            register: Some(agent_call::Register {
                agent_info: v1::AgentInfo {
                    hostname: host.into(),
                    port: Some(port),
                    resources: resources::parse(res).unwrap(),
                    ..Default::default()
                },
                version: Some("1.11.0".into()),
                ip: Some("10.0.0.5".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let effects = self.step(Input::AgentSubscribe {
            conn,
            stream_id: stream_id.clone(),
            call,
        });
        let id = agent_events(&effects, conn)
            .iter()
            .find_map(|e| e.registered.as_ref().map(|r| r.agent_id.value.clone()))
            .expect("REGISTERED");
        self.agent_sessions.insert(id.clone(), (conn, stream_id));
        (id, effects)
    }

    pub fn reregister_agent(
        &mut self,
        id: &str,
        res: &str,
        tasks: Vec<v1::Task>,
        frameworks: Vec<v1::FrameworkInfo>,
    ) -> (Conn, Vec<Effect>) {
        let conn = self.conn();
        let stream_id = format!("agent-stream-{}", conn.0);
        let call = AgentCall {
            r#type: Some(agent_call::Type::Reregister as i32),
            reregister: Some(agent_call::Reregister {
                agent_info: v1::AgentInfo {
                    hostname: "agent1".into(),
                    port: Some(5051),
                    resources: resources::parse(res).unwrap(),
                    id: Some(v1::AgentId { value: id.into() }),
                    ..Default::default()
                },
                version: Some("1.11.0".into()),
                tasks,
                frameworks,
                ..Default::default()
            }),
            ..Default::default()
        };
        let effects = self.step(Input::AgentSubscribe {
            conn,
            stream_id: stream_id.clone(),
            call,
        });
        self.agent_sessions.insert(id.into(), (conn, stream_id));
        (conn, effects)
    }

    pub fn agent_call(&mut self, id: &str, mut call: AgentCall) -> (Reply, Vec<Effect>) {
        let (_, stream_id) = self.agent_sessions[id].clone();
        call.agent_id = Some(v1::AgentId { value: id.into() });
        let req = self.conn();
        let effects = self.step(Input::AgentCall {
            req,
            stream_id: Some(stream_id),
            call,
        });
        (reply_of(&effects, req), effects)
    }

    pub fn pong(&mut self, id: &str) -> Vec<Effect> {
        self.agent_call(
            id,
            AgentCall {
                r#type: Some(agent_call::Type::Pong as i32),
                pong: Some(agent_call::Pong { sequence: None }),
                ..Default::default()
            },
        )
        .1
    }

    /// The agent reports a status update (reliable, with a uuid).
    pub fn agent_update(
        &mut self,
        agent: &str,
        fw: &str,
        task: &str,
        state: v1::TaskState,
        uuid: u8,
    ) -> Vec<Effect> {
        let status = v1::TaskStatus {
            task_id: v1::TaskId { value: task.into() },
            state: state as i32,
            source: Some(v1::task_status::Source::Executor as i32),
            uuid: Some(vec![uuid; 16]),
            ..Default::default()
        };
        self.agent_call(
            agent,
            AgentCall {
                r#type: Some(agent_call::Type::StatusUpdate as i32),
                status_update: Some(agent_call::StatusUpdate {
                    framework_id: v1::FrameworkId { value: fw.into() },
                    status,
                    latest_state: Some(state as i32),
                }),
                ..Default::default()
            },
        )
        .1
    }

    pub fn close_agent(&mut self, id: &str) -> Vec<Effect> {
        let (conn, _) = self.agent_sessions[id].clone();
        self.step(Input::AgentClosed { conn })
    }

    pub fn subscribe(
        &mut self,
        pa: bool,
        checkpoint: bool,
        failover_timeout: f64,
    ) -> (Fw, Vec<Effect>) {
        let mut info = framework_info(pa);
        info.checkpoint = Some(checkpoint);
        info.failover_timeout = Some(failover_timeout);
        self.subscribe_with(info)
    }

    pub fn subscribe_with(&mut self, info: v1::FrameworkInfo) -> (Fw, Vec<Effect>) {
        let conn = self.conn();
        let stream_id = format!("fw-stream-{}", conn.0);
        let call = scheduler::Call {
            framework_id: info.id.clone(),
            r#type: Some(scheduler::call::Type::Subscribe as i32),
            subscribe: Some(scheduler::call::Subscribe {
                framework_info: info,
                ..Default::default()
            }),
            ..Default::default()
        };
        let effects = self.step(Input::Subscribe {
            conn,
            stream_id: stream_id.clone(),
            call,
        });
        let id = events(&effects, conn)
            .iter()
            .find_map(|e| e.subscribed.as_ref().map(|s| s.framework_id.value.clone()))
            .unwrap_or_default();
        (
            Fw {
                id,
                conn,
                stream_id,
            },
            effects,
        )
    }

    pub fn call(&mut self, fw: &Fw, mut call: scheduler::Call) -> (Reply, Vec<Effect>) {
        call.framework_id = Some(v1::FrameworkId {
            value: fw.id.clone(),
        });
        let req = self.conn();
        let effects = self.step(Input::SchedulerCall {
            req,
            stream_id: Some(fw.stream_id.clone()),
            call,
        });
        (reply_of(&effects, req), effects)
    }

    pub fn accept(&mut self, fw: &Fw, offer_ids: &[&str], tasks: Vec<v1::TaskInfo>) -> Vec<Effect> {
        let call = scheduler::Call {
            r#type: Some(scheduler::call::Type::Accept as i32),
            accept: Some(scheduler::call::Accept {
                offer_ids: offer_ids
                    .iter()
                    .map(|o| v1::OfferId { value: (*o).into() })
                    .collect(),
                operations: vec![launch(tasks)],
                filters: Some(v1::Filters {
                    refuse_seconds: Some(0.0),
                }),
            }),
            ..Default::default()
        };
        let (reply, effects) = self.call(fw, call);
        assert_eq!(reply, Reply::Accepted);
        effects
    }

    /// Registers an agent, subscribes a framework, launches one task and runs it: returns
    /// (framework, agent id, task id) with the task RUNNING (acknowledged).
    pub fn running_task(&mut self, pa: bool, checkpoint: bool) -> (Fw, String, String) {
        let (agent, _) = self.register_agent("cpus:4;mem:4096;ports:[31000-31010]");
        let (fw, effects) = self.subscribe(pa, checkpoint, 3600.0);
        let offer = offers(&effects, fw.conn).pop().expect("an offer");
        let effects = self.accept(
            &fw,
            &[&offer.id.value],
            vec![task("t1", &agent, "cpus:1;mem:128")],
        );
        assert!(updates(&effects, fw.conn).is_empty(), "launch accepted");
        self.agent_update(&agent, &fw.id, "t1", v1::TaskState::TaskRunning, 1);
        (fw, agent, "t1".into())
    }
}

pub fn framework_info(pa: bool) -> v1::FrameworkInfo {
    let mut capabilities = vec![];
    if pa {
        capabilities.push(v1::framework_info::Capability {
            r#type: Some(v1::framework_info::capability::Type::PartitionAware as i32),
        });
    }
    v1::FrameworkInfo {
        user: "root".into(),
        name: "test".into(),
        capabilities,
        ..Default::default()
    }
}

pub fn launch(tasks: Vec<v1::TaskInfo>) -> v1::offer::Operation {
    v1::offer::Operation {
        r#type: Some(v1::offer::operation::Type::Launch as i32),
        launch: Some(v1::offer::operation::Launch { task_infos: tasks }),
        ..Default::default()
    }
}

pub fn task(id: &str, agent: &str, res: &str) -> v1::TaskInfo {
    v1::TaskInfo {
        name: id.into(),
        task_id: v1::TaskId { value: id.into() },
        agent_id: v1::AgentId {
            value: agent.into(),
        },
        resources: resources::parse(res).unwrap(),
        command: Some(v1::CommandInfo {
            value: Some("sleep 100".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn reply_of(effects: &[Effect], req: Conn) -> Reply {
    effects
        .iter()
        .find_map(|e| match e {
            Effect::Reply { req: r, reply } if *r == req => Some(reply.clone()),
            _ => None,
        })
        .expect("a reply")
}

pub fn events(effects: &[Effect], conn: Conn) -> Vec<scheduler::Event> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::ToScheduler { conn: c, event } if *c == conn => Some(vec![(**event).clone()]),
            Effect::ToSchedulerUpdates { conn: c, statuses } if *c == conn => Some(
                statuses
                    .iter()
                    .map(|status| update_event(status.clone()))
                    .collect(),
            ),
            _ => None,
        })
        .flatten()
        .collect()
}

pub fn agent_events(effects: &[Effect], conn: Conn) -> Vec<AgentEvent> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::ToAgent { conn: c, event } if *c == conn => Some((**event).clone()),
            _ => None,
        })
        .collect()
}

pub fn agent_event_types(effects: &[Effect], conn: Conn) -> Vec<agent_event::Type> {
    agent_events(effects, conn)
        .iter()
        .filter_map(|e| e.r#type.and_then(|t| agent_event::Type::try_from(t).ok()))
        .collect()
}

pub fn offers(effects: &[Effect], conn: Conn) -> Vec<v1::Offer> {
    events(effects, conn)
        .into_iter()
        .filter_map(|e| e.offers)
        .flat_map(|o| o.offers)
        .collect()
}

pub fn updates(effects: &[Effect], conn: Conn) -> Vec<v1::TaskStatus> {
    events(effects, conn)
        .into_iter()
        .filter_map(|e| e.update.map(|u| u.status))
        .collect()
}

pub fn event_types(effects: &[Effect], conn: Conn) -> Vec<scheduler::event::Type> {
    events(effects, conn)
        .iter()
        .filter_map(|e| {
            e.r#type
                .and_then(|t| scheduler::event::Type::try_from(t).ok())
        })
        .collect()
}

pub fn persisted(effects: &[Effect]) -> usize {
    effects
        .iter()
        .filter(|e| matches!(e, Effect::Persist(_)))
        .count()
}

/// Asserts a master-generated update: state, reason, SOURCE_MASTER, no uuid, agent_id set.
pub fn assert_master_update(
    status: &v1::TaskStatus,
    state: v1::TaskState,
    reason: v1::task_status::Reason,
) {
    assert_eq!(
        v1::TaskState::try_from(status.state).unwrap(),
        state,
        "state of {:?}",
        status
    );
    assert_eq!(status.reason, Some(reason as i32), "reason of {:?}", status);
    assert_eq!(status.source, Some(v1::task_status::Source::Master as i32));
    assert!(status.uuid.is_none(), "master updates carry no uuid");
    assert!(status.agent_id.is_some(), "every update names its agent");
}

/// A LAUNCH_GROUP of tasks `g1` and `g2` (1 cpu, 64 MiB each) under executor `default` of
/// `executor_type` (0.1 cpus, 32 MiB).
pub fn group(agent: &str, executor_type: v1::executor_info::Type) -> v1::offer::Operation {
    v1::offer::Operation {
        r#type: Some(v1::offer::operation::Type::LaunchGroup as i32),
        launch_group: Some(v1::offer::operation::LaunchGroup {
            executor: v1::ExecutorInfo {
                r#type: Some(executor_type as i32),
                executor_id: v1::ExecutorId {
                    value: "default".into(),
                },
                resources: resources::parse("cpus:0.1;mem:32").unwrap(),
                ..Default::default()
            },
            task_group: v1::TaskGroupInfo {
                tasks: vec![
                    task("g1", agent, "cpus:1;mem:64"),
                    task("g2", agent, "cpus:1;mem:64"),
                ],
            },
        }),
        ..Default::default()
    }
}

/// A task as its agent reports it on reregistering: TASK_RUNNING with `cpus:1;mem:128`, what
/// [`Sim::running_task`] launched.
pub fn reported_running(framework_id: &str, agent_id: &str, task_id: &str) -> v1::Task {
    v1::Task {
        name: task_id.to_owned(),
        task_id: v1::TaskId {
            value: task_id.to_owned(),
        },
        framework_id: v1::FrameworkId {
            value: framework_id.to_owned(),
        },
        agent_id: v1::AgentId {
            value: agent_id.to_owned(),
        },
        state: v1::TaskState::TaskRunning as i32,
        resources: drover_core::resources::parse("cpus:1;mem:128").unwrap(),
        ..Default::default()
    }
}
