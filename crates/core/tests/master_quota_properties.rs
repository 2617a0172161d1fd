//! Properties of quota: random sequences of quota changes (forced or not, on top-level roles
//! with subrole frameworks), launches, task ends, declines, agent restarts and master restarts
//! never break an invariant (the harness checks them after every step, including "no role is
//! offered unreserved resources beyond its limit"), and the quota table always survives a
//! restart unchanged.

use crate::master_common;

use drover_core::master::Input;
use drover_core::master::quota::QuotaCall;
use drover_wire::v1;
use drover_wire::v1::quota::QuotaConfig;
use drover_wire::v1::scheduler;
use master_common::*;
use proptest::prelude::*;

const ROLES: [&str; 4] = ["*", "dev", "dev/web", "ops"];
const QUOTA_ROLES: [&str; 3] = ["*", "dev", "ops"];

#[derive(Debug, Clone)]
enum Action {
    RegisterAgent(u8),
    Subscribe(u8),
    Quota {
        role: u8,
        guarantee_cpus: u8,
        limit_cpus: Option<u8>,
        force: bool,
    },
    RemoveQuota(u8),
    Launch {
        fw: u8,
        cpus: u8,
    },
    Finish {
        fw: u8,
        task: u8,
    },
    Decline(u8),
    ReregisterAgent(u8),
    Advance(u16),
    Restart,
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        (0u8..3).prop_map(Action::RegisterAgent),
        (0u8..4).prop_map(Action::Subscribe),
        (0u8..3, 0u8..6, proptest::option::of(0u8..10), any::<bool>()).prop_map(
            |(role, guarantee_cpus, limit_cpus, force)| Action::Quota {
                role,
                guarantee_cpus,
                limit_cpus,
                force
            }
        ),
        (0u8..3).prop_map(Action::RemoveQuota),
        (0u8..4, 1u8..4).prop_map(|(fw, cpus)| Action::Launch { fw, cpus }),
        (0u8..4, 0u8..8).prop_map(|(fw, task)| Action::Finish { fw, task }),
        (0u8..4).prop_map(Action::Decline),
        (0u8..3).prop_map(Action::ReregisterAgent),
        (0u16..5000).prop_map(Action::Advance),
        Just(Action::Restart),
    ]
}

struct World {
    sim: Sim,
    agents: Vec<String>,
    fws: Vec<Fw>,
    launched: u32,
    /// The tasks each agent ran when the master last restarted (a restarted master knows no
    /// tasks until their agents come back with them).
    remembered: std::collections::BTreeMap<String, Vec<v1::Task>>,
}

fn cpus_map(cpus: u8) -> std::collections::BTreeMap<String, v1::value::Scalar> {
    let mut m = std::collections::BTreeMap::new();
    m.insert(
        "cpus".to_owned(),
        v1::value::Scalar {
            value: f64::from(cpus),
        },
    );
    m
}

impl World {
    fn quota(&mut self, call: QuotaCall) {
        let req = self.sim.conn();
        self.sim.step(Input::Quota { req, call });
    }

    fn run(&mut self, action: Action) {
        match action {
            Action::RegisterAgent(i) => {
                let (id, _) = self
                    .sim
                    .register_agent_at(&format!("h{i}"), 5051, "cpus:4;mem:4096");
                self.agents.push(id);
            }
            Action::Subscribe(r) => {
                let mut info = framework_info(false);
                #[allow(deprecated)]
                {
                    info.role = Some(ROLES[r as usize].into());
                }
                info.failover_timeout = Some(3600.0);
                let (fw, _) = self.sim.subscribe_with(info);
                self.fws.push(fw);
            }
            Action::Quota {
                role,
                guarantee_cpus,
                limit_cpus,
                force,
            } => {
                let config = QuotaConfig {
                    role: QUOTA_ROLES[role as usize].into(),
                    guarantees: cpus_map(guarantee_cpus),
                    limits: limit_cpus.map(cpus_map).unwrap_or_default(),
                };
                self.quota(QuotaCall::Update {
                    force,
                    configs: vec![config],
                });
            }
            Action::RemoveQuota(role) => self.quota(QuotaCall::Remove {
                role: QUOTA_ROLES[role as usize].into(),
                path: None,
            }),
            Action::Launch { fw, cpus } => {
                let Some(fw) = self.fws.get(fw as usize) else {
                    return;
                };
                let Some(offer) = self
                    .sim
                    .m
                    .offers()
                    .values()
                    .find(|o| o.offer.framework_id.value == fw.id)
                    .map(|o| o.offer.clone())
                else {
                    return;
                };
                self.launched += 1;
                let t = task(
                    &format!("t{}", self.launched % 8),
                    &offer.agent_id.value,
                    &format!("cpus:{cpus};mem:32"),
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
                self.sim.call(fw, call);
            }
            Action::Finish { fw, task } => {
                let Some(fw) = self.fws.get(fw as usize) else {
                    return;
                };
                let (id, task_id) = (fw.id.clone(), format!("t{task}"));
                let agent = self
                    .sim
                    .m
                    .frameworks()
                    .get(&id)
                    .and_then(|f| f.tasks.get(&task_id))
                    .map(|e| e.task.agent_id.value.clone());
                if let Some(agent) = agent
                    && self.sim.agent_sessions.contains_key(&agent)
                {
                    self.sim
                        .agent_update(&agent, &id, &task_id, v1::TaskState::TaskFinished, task);
                }
            }
            Action::Decline(fw) => {
                let Some(fw) = self.fws.get(fw as usize) else {
                    return;
                };
                let ids: Vec<v1::OfferId> = self
                    .sim
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
                self.sim.call(fw, call);
            }
            Action::ReregisterAgent(i) => {
                if let Some(a) = self.agents.get(i as usize).cloned() {
                    // The agent comes back with the tasks the master knows there, which can
                    // push a role over a limit lowered meanwhile.
                    let mut tasks: Vec<v1::Task> = self
                        .sim
                        .m
                        .frameworks()
                        .values()
                        .flat_map(|f| f.tasks.values())
                        .filter(|e| e.task.agent_id.value == a)
                        .map(|e| e.task.clone())
                        .collect();
                    if tasks.is_empty() {
                        tasks = self.remembered.remove(&a).unwrap_or_default();
                    }
                    self.sim
                        .reregister_agent(&a, "cpus:4;mem:4096", tasks, vec![]);
                }
            }
            Action::Advance(ms) => {
                self.sim.advance(u64::from(ms));
            }
            Action::Restart => {
                let before = self.sim.m.quotas().clone();
                self.remembered.clear();
                for f in self.sim.m.frameworks().values() {
                    for e in f.tasks.values() {
                        self.remembered
                            .entry(e.task.agent_id.value.clone())
                            .or_default()
                            .push(e.task.clone());
                    }
                }
                self.sim = self.sim.restart(1);
                self.sim.agent_sessions.clear();
                assert_eq!(self.sim.m.quotas(), &before, "the table survives");
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
    fn random_quota_sequences_keep_the_invariants(
        actions in proptest::collection::vec(action(), 1..60)
    ) {
        let mut world = World {
            sim: Sim::new(),
            agents: vec![],
            fws: vec![],
            launched: 0,
            remembered: Default::default(),
        };
        for action in actions {
            world.run(action);
        }
        world.sim.m.check_invariants().expect("invariants");
    }
}
