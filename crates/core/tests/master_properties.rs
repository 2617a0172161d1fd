//! Properties: random sequences of scheduler calls, agent calls, disconnections, operator calls
//! and time never make the master panic or break an invariant (checked after every step by the
//! harness); and resource arithmetic is conservative (add then subtract is identity, nothing is
//! ever negative).

use crate::master_common;

use drover_core::master::Input;
use drover_core::resources;
use drover_wire::internal::{AgentCall, agent_call};
use drover_wire::v1;
use drover_wire::v1::scheduler;
use master_common::*;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Action {
    RegisterAgent(u8),
    Subscribe {
        pa: bool,
        checkpoint: bool,
    },
    Launch {
        fw: u8,
        cpus: u8,
        mem: u16,
        port: u8,
    },
    Update {
        fw: u8,
        task: u8,
        state: u8,
    },
    Ack {
        fw: u8,
        task: u8,
    },
    Kill {
        fw: u8,
        task: u8,
    },
    Reconcile {
        fw: u8,
        task: u8,
        with_agent: bool,
    },
    Decline {
        fw: u8,
    },
    CloseAgent(u8),
    ReregisterAgent(u8),
    Unregister(u8),
    Pong(u8),
    MarkGone(u8),
    CloseFramework(u8),
    Teardown(u8),
    Advance(u32),
    Restart,
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        (0u8..3).prop_map(Action::RegisterAgent),
        (any::<bool>(), any::<bool>())
            .prop_map(|(pa, checkpoint)| Action::Subscribe { pa, checkpoint }),
        (0u8..3, 0u8..6, 0u16..3000, 0u8..12).prop_map(|(fw, cpus, mem, port)| Action::Launch {
            fw,
            cpus,
            mem,
            port
        }),
        (0u8..3, 0u8..6, 0u8..14).prop_map(|(fw, task, state)| Action::Update { fw, task, state }),
        (0u8..3, 0u8..6).prop_map(|(fw, task)| Action::Ack { fw, task }),
        (0u8..3, 0u8..6).prop_map(|(fw, task)| Action::Kill { fw, task }),
        (0u8..3, 0u8..6, any::<bool>()).prop_map(|(fw, task, with_agent)| Action::Reconcile {
            fw,
            task,
            with_agent
        }),
        (0u8..3).prop_map(|fw| Action::Decline { fw }),
        (0u8..3).prop_map(Action::CloseAgent),
        (0u8..3).prop_map(Action::ReregisterAgent),
        (0u8..3).prop_map(Action::Unregister),
        (0u8..3).prop_map(Action::Pong),
        (0u8..3).prop_map(Action::MarkGone),
        (0u8..3).prop_map(Action::CloseFramework),
        (0u8..3).prop_map(Action::Teardown),
        (0u32..200_000).prop_map(Action::Advance),
        Just(Action::Restart),
    ]
}

struct World {
    sim: Sim,
    agents: Vec<String>,
    fws: Vec<Fw>,
    launched: u32,
}

impl World {
    fn agent(&self, i: u8) -> Option<String> {
        self.agents.get(i as usize).cloned()
    }
    fn fw(&self, i: u8) -> Option<&Fw> {
        self.fws.get(i as usize)
    }

    fn run(&mut self, action: Action) {
        let sim = &mut self.sim;
        match action {
            Action::RegisterAgent(i) => {
                let (id, _) = sim.register_agent_at(
                    &format!("h{i}"),
                    5051,
                    "cpus:4;mem:4096;ports:[31000-31010]",
                );
                self.agents.push(id);
            }
            Action::Subscribe { pa, checkpoint } => {
                let (fw, _) = sim.subscribe(pa, checkpoint, 30.0);
                self.fws.push(fw);
            }
            Action::Launch {
                fw,
                cpus,
                mem,
                port,
            } => {
                let Some(fw) = self.fws.get(fw as usize) else {
                    return;
                };
                let Some(offer) = sim
                    .m
                    .offers()
                    .values()
                    .find(|o| o.offer.framework_id.value == fw.id)
                    .map(|o| o.offer.clone())
                else {
                    return;
                };
                self.launched += 1;
                let res = format!(
                    "cpus:{};mem:{};ports:[{}-{}]",
                    cpus,
                    mem,
                    31000 + port as u32,
                    31000 + port as u32
                );
                let t = task(
                    &format!("t{}", self.launched % 6),
                    &offer.agent_id.value,
                    &res,
                );
                let call = scheduler::Call {
                    r#type: Some(scheduler::call::Type::Accept as i32),
                    accept: Some(scheduler::call::Accept {
                        offer_ids: vec![offer.id],
                        operations: vec![launch(vec![t])],
                        filters: None,
                    }),
                    ..Default::default()
                };
                sim.call(fw, call);
            }
            Action::Update { fw, task, state } => {
                let Some(fw) = self.fws.get(fw as usize) else {
                    return;
                };
                let id = fw.id.clone();
                let task_id = format!("t{task}");
                let agent = sim
                    .m
                    .frameworks()
                    .get(&id)
                    .and_then(|f| f.tasks.get(&task_id))
                    .map(|e| e.task.agent_id.value.clone());
                let Some(agent) = agent else { return };
                if !sim.agent_sessions.contains_key(&agent) {
                    return;
                }
                let state =
                    v1::TaskState::try_from(state as i32).unwrap_or(v1::TaskState::TaskRunning);
                self.sim.agent_update(&agent, &id, &task_id, state, task);
            }
            Action::Ack { fw, task } => {
                let Some(fw) = self.fws.get(fw as usize) else {
                    return;
                };
                let task_id = format!("t{task}");
                let agent = sim
                    .m
                    .frameworks()
                    .get(&fw.id)
                    .and_then(|f| f.tasks.get(&task_id))
                    .map(|e| e.task.agent_id.value.clone());
                let call = scheduler::Call {
                    r#type: Some(scheduler::call::Type::Acknowledge as i32),
                    acknowledge: Some(scheduler::call::Acknowledge {
                        agent_id: v1::AgentId {
                            value: agent.unwrap_or_default(),
                        },
                        task_id: v1::TaskId { value: task_id },
                        uuid: vec![task; 16],
                    }),
                    ..Default::default()
                };
                sim.call(fw, call);
            }
            Action::Kill { fw, task } => {
                let Some(fw) = self.fws.get(fw as usize) else {
                    return;
                };
                let call = scheduler::Call {
                    r#type: Some(scheduler::call::Type::Kill as i32),
                    kill: Some(scheduler::call::Kill {
                        task_id: v1::TaskId {
                            value: format!("t{task}"),
                        },
                        ..Default::default()
                    }),
                    ..Default::default()
                };
                sim.call(fw, call);
            }
            Action::Reconcile {
                fw,
                task,
                with_agent,
            } => {
                let agent = self.agents.first().cloned();
                let Some(fw) = self.fws.get(fw as usize) else {
                    return;
                };
                let call = scheduler::Call {
                    r#type: Some(scheduler::call::Type::Reconcile as i32),
                    reconcile: Some(scheduler::call::Reconcile {
                        tasks: vec![scheduler::call::reconcile::Task {
                            task_id: v1::TaskId {
                                value: format!("t{task}"),
                            },
                            agent_id: if with_agent {
                                agent.map(|value| v1::AgentId { value })
                            } else {
                                None
                            },
                        }],
                    }),
                    ..Default::default()
                };
                sim.call(fw, call);
            }
            Action::Decline { fw } => {
                let Some(fw) = self.fws.get(fw as usize) else {
                    return;
                };
                let ids: Vec<v1::OfferId> = sim
                    .m
                    .offers()
                    .values()
                    .filter(|o| o.offer.framework_id.value == fw.id)
                    .map(|o| o.offer.id.clone())
                    .collect();
                let call = scheduler::Call {
                    r#type: Some(scheduler::call::Type::Decline as i32),
                    decline: Some(scheduler::call::Decline {
                        offer_ids: ids,
                        filters: None,
                    }),
                    ..Default::default()
                };
                sim.call(fw, call);
            }
            Action::CloseAgent(i) => {
                if let Some(a) = self.agent(i)
                    && self.sim.agent_sessions.contains_key(&a)
                {
                    self.sim.close_agent(&a);
                }
            }
            Action::ReregisterAgent(i) => {
                if let Some(a) = self.agent(i) {
                    self.sim.reregister_agent(
                        &a,
                        "cpus:4;mem:4096;ports:[31000-31010]",
                        vec![],
                        vec![],
                    );
                }
            }
            Action::Unregister(i) => {
                if let Some(a) = self.agent(i)
                    && self.sim.agent_sessions.contains_key(&a)
                {
                    self.sim.agent_call(
                        &a,
                        AgentCall {
                            r#type: Some(agent_call::Type::Unregister as i32),
                            ..Default::default()
                        },
                    );
                }
            }
            Action::Pong(i) => {
                if let Some(a) = self.agent(i)
                    && self.sim.agent_sessions.contains_key(&a)
                {
                    self.sim.pong(&a);
                }
            }
            Action::MarkGone(i) => {
                if let Some(agent_id) = self.agent(i) {
                    let req = self.sim.conn();
                    self.sim.step(Input::MarkAgentGone { req, agent_id });
                }
            }
            Action::CloseFramework(i) => {
                if let Some(fw) = self.fw(i) {
                    let conn = fw.conn;
                    self.sim.step(Input::SchedulerClosed { conn });
                }
            }
            Action::Teardown(i) => {
                if let Some(fw) = self.fws.get(i as usize) {
                    let call = scheduler::Call {
                        r#type: Some(scheduler::call::Type::Teardown as i32),
                        ..Default::default()
                    };
                    self.sim.call(fw, call);
                }
            }
            Action::Advance(ms) => {
                self.sim.advance(u64::from(ms));
            }
            Action::Restart => {
                self.sim = self.sim.restart(1);
                self.sim.agent_sessions.clear();
                self.sim
                    .m
                    .check_invariants()
                    .expect("recovered state is consistent");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]

    #[test]
    fn random_sequences_keep_the_invariants(actions in proptest::collection::vec(action(), 1..60)) {
        let mut world = World { sim: Sim::new(), agents: vec![], fws: vec![], launched: 0 };
        for action in actions {
            world.run(action);
        }
        world.sim.m.check_invariants().expect("invariants");
    }
}

fn resource_list() -> impl Strategy<Value = Vec<v1::Resource>> {
    (
        0u32..8000,
        0u32..100_000,
        proptest::collection::vec((0u64..2000, 0u64..50), 0..4),
    )
        .prop_map(|(cpus, mem, ranges)| {
            let ranges: Vec<(u64, u64)> = ranges
                .into_iter()
                .map(|(b, len)| (30000 + b, 30000 + b + len))
                .collect();
            let mut list = vec![
                resources::scalar_resource("cpus", f64::from(cpus) / 1000.0),
                resources::scalar_resource("mem", f64::from(mem) / 10.0),
            ];
            if !ranges.is_empty() {
                list.push(resources::ranges_resource("ports", &ranges));
            }
            list
        })
}

proptest! {
    #[test]
    fn add_then_subtract_is_identity(a in resource_list(), b in resource_list()) {
        let sum = resources::add(&a, &b);
        prop_assert!(resources::contains(&sum, &a));
        prop_assert!(resources::contains(&sum, &b));
        let back = resources::subtract(&sum, &b);
        // Ranges are sets: subtracting b's ranges also removes overlaps a shared with b.
        for name in ["cpus", "mem"] {
            prop_assert!((resources::scalar(&back, name) - resources::scalar(&a, name)).abs() < 1e-9);
        }
        prop_assert!(resources::contains(&a, &back));
    }

    #[test]
    fn subtraction_is_never_negative(a in resource_list(), b in resource_list()) {
        let left = resources::subtract(&a, &b);
        for r in &left {
            if let Some(s) = r.scalar {
                prop_assert!(s.value >= 0.0);
            }
        }
        prop_assert!(resources::contains(&a, &left));
    }
}
