//! The G11 fault scenarios (anchors.md Part D) as fault plans, the random mix of them, and
//! the runner that plays a plan from a seed and checks the end-of-run invariants.

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use crate::check;
use crate::net::NodeId;
use crate::world::{Settings, T0, World};

/// An operator's call to Marathon's API.
#[derive(Debug, Clone)]
pub enum OperatorOp {
    /// POST /v2/apps.
    Create {
        /// App id.
        id: String,
        /// Instances.
        instances: u32,
        /// `unreachableStrategy.inactiveAfterSeconds`.
        inactive_after_s: u64,
        /// `unreachableStrategy.expungeAfterSeconds`.
        expunge_after_s: u64,
    },
    /// PUT /v2/apps/{id} with a new instance count.
    Scale {
        /// App id.
        id: String,
        /// Instances.
        instances: u32,
    },
}

/// One fault (or operator action) at a point in time.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Cut `a → b` (and `b → a` unless one-way).
    Partition(NodeId, NodeId, bool),
    /// Cut a node off from everyone.
    Isolate(NodeId),
    /// Random loss of requests and duplication of idempotent calls.
    Noise {
        /// Loss probability.
        drop_p: f64,
        /// Duplication probability.
        dup_p: f64,
    },
    /// Heal everything: partitions, noise, pauses, store faults; restart what is down.
    HealAll,
    /// kill -9.
    Crash(NodeId),
    /// The node's next step crashes between its commit (which may or may not happen) and
    /// its effects.
    CrashMidStep(NodeId),
    /// Start a crashed node from what it persisted.
    Restart(NodeId),
    /// SIGSTOP.
    Pause(NodeId),
    /// SIGCONT.
    Resume(NodeId),
    /// The agent's host reboots (executors die, the boot id changes); restart it after.
    Reboot(usize),
    /// The other master slot wins an election (with one slot: crash and restart in place).
    Failover,
    /// Every client's leader detector fires with the same leader.
    LeaderFlap,
    /// The master's next registry commit fails.
    StoreFail,
    /// Registry commits take this long (the master loop waits).
    StoreSlow(u64),
    /// An operator call.
    Operator(OperatorOp),
    /// kill -9 of the current leader (HA: its session lives on until the ensemble expires it).
    CrashLeader,
    /// SIGSTOP of the current leader (remembered for [`Fault::ResumeMasters`]).
    PauseLeader,
    /// SIGCONT of every master a [`Fault::PauseLeader`] stopped.
    ResumeMasters,
    /// Cut the current leader off from the coordination ensemble (HA runs).
    CutLeaderFromEnsemble,
    /// Heal every cut from the ensemble.
    HealEnsemble,
    /// Cut the current leader off from every agent (both ways).
    IsolateLeaderFromAgents,
}

/// A scenario: cluster shape, faults, and when everything heals.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The scenario's name.
    pub name: String,
    /// Agents.
    pub agents: usize,
    /// Master slots.
    pub masters: usize,
    /// (offset from the start in ms, fault).
    pub faults: Vec<(u64, Fault)>,
    /// When the last fault heals (offset, ms).
    pub heal_at: u64,
}

/// The scenario names: G11's 22 in its order, then issue 17's high-availability ones (three
/// masters contending on the coordination model, [`crate::coord`]).
pub const SCENARIOS: [&str; 27] = [
    "agent_partition_healed_before_timeout",
    "agent_partition_past_timeout",
    "one_way_partition_master_to_agent",
    "one_way_partition_master_to_scheduler",
    "master_crash_with_updates_in_flight",
    "master_failover_while_agent_partitioned",
    "split_brain_paused_old_leader",
    "registry_write_fails",
    "scheduler_abdicates_mid_deployment",
    "scheduler_restart_ready_and_not_ready",
    "agent_kill9_with_running_tasks",
    "agent_restart_after_host_reboot",
    "agent_checkpoint_torn_by_crash",
    "run_task_dropped_then_agent_unreachable",
    "task_finishes_while_agent_partitioned",
    "duplicate_and_reordered_updates_and_acks",
    "reconciliation_in_between_states",
    "spurious_reregistration",
    "many_agents_lost_at_once",
    "health_checks_fail_while_unreachable_write_pending",
    "netsplit_of_a_client_for_30s",
    "leader_churn",
    "ha_leader_crash",
    "ha_leader_paused_past_session_timeout",
    "ha_leader_cut_from_ensemble",
    "ha_leader_partitioned_from_agents",
    "ha_leader_churn",
];

/// When faults start: the apps have been created and launched by then.
const F0: u64 = 60_000;
/// Simulated time allowed after the heal for every app to converge (the unreachable
/// strategy's inactive time is added): agent re-registration backoff (≤ 60 s), ping
/// detection (15 s), Marathon's launch and kill retries and reconciliation (60 s).
pub const SLACK_MS: u64 = 240_000;
/// Largest `inactiveAfterSeconds` among the apps, in ms.
const MAX_INACTIVE_MS: u64 = 30_000;
/// Extra time after convergence for acknowledgements to drain.
const SETTLE_MS: u64 = 60_000;
/// How long the end-of-run check looks for an instant with nothing in flight.
const QUIET_MS: u64 = 30_000;

fn scale(at: u64, id: &str, instances: u32) -> (u64, Fault) {
    (
        at,
        Fault::Operator(OperatorOp::Scale {
            id: id.into(),
            instances,
        }),
    )
}

/// The plan of a named scenario; timings vary with the seed.
pub fn plan(name: &str, seed: u64) -> Option<Plan> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x005e_ed0f_fa17);
    let j = |rng: &mut ChaCha8Rng, max: u64| rng.random_range(0..max.max(1));
    let m0 = NodeId::Master(0);
    let a0 = NodeId::Agent(0);
    let a1 = NodeId::Agent(1);
    let mut agents = 3;
    let mut masters = 1;
    let t = F0 + j(&mut rng, 10_000);
    let (faults, heal): (Vec<(u64, Fault)>, u64) = match name {
        "agent_partition_healed_before_timeout" => (
            vec![(t, Fault::Partition(a0, m0, false))],
            t + 2_000 + j(&mut rng, 8_000),
        ),
        "agent_partition_past_timeout" => (
            vec![(t, Fault::Partition(a0, m0, false))],
            t + 60_000 + j(&mut rng, 120_000),
        ),
        "one_way_partition_master_to_agent" => (
            vec![(t, Fault::Partition(m0, a0, true))],
            t + 30_000 + j(&mut rng, 90_000),
        ),
        "one_way_partition_master_to_scheduler" => (
            vec![
                (t, Fault::Partition(m0, NodeId::Marathon, true)),
                (
                    t + j(&mut rng, 5_000),
                    Fault::Partition(m0, NodeId::Plain, true),
                ),
                scale(t + 1_000, "/a", 3),
            ],
            t + 30_000 + j(&mut rng, 60_000),
        ),
        "master_crash_with_updates_in_flight" => {
            let crash = t + j(&mut rng, 3_000);
            (
                vec![
                    scale(t, "/a", 4),
                    (crash, Fault::Crash(m0)),
                    (crash + 1_000 + j(&mut rng, 10_000), Fault::Restart(m0)),
                ],
                crash + 30_000,
            )
        }
        "master_failover_while_agent_partitioned" => {
            masters = 2;
            (
                vec![
                    (t, Fault::Partition(a0, m0, false)),
                    (t, Fault::Partition(a0, NodeId::Master(1), false)),
                    (t + j(&mut rng, 40_000), Fault::Failover),
                ],
                t + 45_000 + j(&mut rng, 60_000),
            )
        }
        "split_brain_paused_old_leader" => {
            masters = 2;
            (
                vec![
                    (t, Fault::Pause(m0)),
                    (t + 1_000 + j(&mut rng, 5_000), Fault::Failover),
                    (t + 10_000 + j(&mut rng, 30_000), Fault::Resume(m0)),
                ],
                t + 60_000,
            )
        }
        "registry_write_fails" => (
            vec![
                (t, Fault::StoreFail),
                (t, Fault::Partition(a0, m0, false)),
                scale(t + 500, "/b", 3),
            ],
            t + 30_000 + j(&mut rng, 60_000),
        ),
        "scheduler_abdicates_mid_deployment" => {
            let crash = t + j(&mut rng, 2_000);
            (
                vec![
                    scale(t, "/a", 5),
                    (crash, Fault::Crash(NodeId::Marathon)),
                    (
                        crash + 500 + j(&mut rng, 10_000),
                        Fault::Restart(NodeId::Marathon),
                    ),
                ],
                crash + 20_000,
            )
        }
        "scheduler_restart_ready_and_not_ready" => {
            let crash = t + 50 + j(&mut rng, 1_500);
            (
                vec![
                    scale(t, "/b", 4),
                    (crash, Fault::Crash(NodeId::Marathon)),
                    (
                        crash + 1_000 + j(&mut rng, 5_000),
                        Fault::Restart(NodeId::Marathon),
                    ),
                ],
                crash + 20_000,
            )
        }
        "agent_kill9_with_running_tasks" => {
            let back = t + 1_000 + j(&mut rng, 20_000);
            (
                vec![(t, Fault::Crash(a0)), (back, Fault::Restart(a0))],
                back + 5_000,
            )
        }
        "agent_restart_after_host_reboot" => {
            let back = t + 5_000 + j(&mut rng, 60_000);
            (
                vec![(t, Fault::Reboot(0)), (back, Fault::Restart(a0))],
                back + 5_000,
            )
        }
        "agent_checkpoint_torn_by_crash" => (
            vec![
                (t, Fault::CrashMidStep(a0)),
                (t + j(&mut rng, 3_000), Fault::CrashMidStep(a1)),
                (t + 20_000, Fault::Restart(a0)),
                (t + 20_000, Fault::Restart(a1)),
            ],
            t + 25_000,
        ),
        "run_task_dropped_then_agent_unreachable" => {
            let cut = t + 500 + j(&mut rng, 3_000);
            (
                vec![
                    scale(t, "/a", 6),
                    (cut, Fault::Partition(m0, a1, true)),
                    (cut + 2_000, Fault::Isolate(a1)),
                ],
                cut + 40_000 + j(&mut rng, 80_000),
            )
        }
        "task_finishes_while_agent_partitioned" => (
            vec![(t, Fault::Isolate(a0)), (t, Fault::Isolate(a1))],
            t + 60_000 + j(&mut rng, 90_000),
        ),
        "duplicate_and_reordered_updates_and_acks" => (
            vec![
                (
                    t,
                    Fault::Noise {
                        drop_p: 0.02 + rng.random_range(0.0..0.08),
                        dup_p: 0.2 + rng.random_range(0.0..0.3),
                    },
                ),
                scale(t + 2_000, "/a", 4),
                scale(t + 40_000, "/a", 2),
            ],
            t + 90_000,
        ),
        "reconciliation_in_between_states" => (
            vec![
                (t, Fault::Crash(m0)),
                (t + 1_000, Fault::Isolate(a1)),
                (t + 2_000, Fault::Restart(m0)),
                (
                    t + 2_500 + j(&mut rng, 5_000),
                    Fault::Crash(NodeId::Marathon),
                ),
                (t + 8_000, Fault::Restart(NodeId::Marathon)),
            ],
            t + 20_000 + j(&mut rng, 80_000),
        ),
        "spurious_reregistration" => (
            vec![
                (t, Fault::LeaderFlap),
                (t + j(&mut rng, 10_000), Fault::LeaderFlap),
                (t + 10_000 + j(&mut rng, 10_000), Fault::LeaderFlap),
            ],
            t + 25_000,
        ),
        "many_agents_lost_at_once" => {
            agents = 6;
            (
                vec![
                    (t, Fault::Isolate(NodeId::Agent(0))),
                    (t, Fault::Isolate(NodeId::Agent(1))),
                ],
                t + 40_000 + j(&mut rng, 100_000),
            )
        }
        "health_checks_fail_while_unreachable_write_pending" => (
            vec![
                (t, Fault::StoreSlow(5_000 + j(&mut rng, 20_000))),
                (t, Fault::Partition(a0, m0, false)),
            ],
            t + 40_000 + j(&mut rng, 60_000),
        ),
        "netsplit_of_a_client_for_30s" => (vec![(t, Fault::Isolate(a0))], t + 30_000),
        "leader_churn" => {
            masters = 2;
            let mut faults = Vec::new();
            let mut at = t;
            for k in 0..(3 + j(&mut rng, 4)) {
                faults.push((at, Fault::Failover));
                faults.push(scale(at + 500, "/b", 2 + (k as u32 % 3)));
                at += 2_000 + j(&mut rng, 15_000);
            }
            (faults, at + 5_000)
        }
        "ha_leader_crash" => {
            masters = 3;
            let crash = t + j(&mut rng, 3_000);
            let back = crash + 5_000 + j(&mut rng, 40_000);
            (
                (0..3)
                    .map(|s| (back, Fault::Restart(NodeId::Master(s))))
                    .chain(vec![
                        scale(t, "/a", 4),
                        (crash, Fault::CrashLeader),
                        scale(crash + 2_000 + j(&mut rng, 15_000), "/b", 3),
                    ])
                    .collect(),
                crash + 45_000,
            )
        }
        "ha_leader_paused_past_session_timeout" => {
            masters = 3;
            // Paused for less than the lease, between the lease and the session timeout, or
            // well past it: the leader must not act on what it missed.
            let pause = [3_000, 8_000, 12_000 + j(&mut rng, 30_000)][j(&mut rng, 3) as usize];
            (
                vec![
                    (t, Fault::PauseLeader),
                    scale(t + 500 + j(&mut rng, 3_000), "/a", 3),
                    (t + pause, Fault::ResumeMasters),
                ],
                t + pause + 20_000,
            )
        }
        "ha_leader_cut_from_ensemble" => {
            masters = 3;
            let heal = t + 3_000 + j(&mut rng, 40_000);
            (
                vec![
                    (t, Fault::CutLeaderFromEnsemble),
                    scale(t + j(&mut rng, 8_000), "/b", 4),
                    (heal, Fault::HealEnsemble),
                ],
                heal + 20_000,
            )
        }
        "ha_leader_partitioned_from_agents" => {
            masters = 3;
            let mut faults = vec![(t, Fault::IsolateLeaderFromAgents)];
            if rng.random_bool(0.5) {
                faults.push((t + j(&mut rng, 20_000), Fault::CutLeaderFromEnsemble));
            }
            faults.push(scale(t + 1_000, "/a", 3));
            (faults, t + 30_000 + j(&mut rng, 60_000))
        }
        "ha_leader_churn" => {
            masters = 3;
            let mut faults = Vec::new();
            let mut at = t;
            for k in 0..(2 + j(&mut rng, 4)) {
                let fault = match j(&mut rng, 4) {
                    0 => Fault::CrashLeader,
                    1 => Fault::PauseLeader,
                    2 => Fault::CutLeaderFromEnsemble,
                    _ => Fault::Failover,
                };
                faults.push((at, fault));
                faults.push(scale(at + 500, "/b", 2 + (k as u32 % 3)));
                at += 5_000 + j(&mut rng, 20_000);
                faults.push((at, Fault::ResumeMasters));
                faults.push((at, Fault::HealEnsemble));
                for s in 0..3 {
                    faults.push((at, Fault::Restart(NodeId::Master(s))));
                }
            }
            (faults, at + 5_000)
        }
        _ => return None,
    };
    Some(Plan {
        name: name.to_owned(),
        agents,
        masters,
        faults,
        heal_at: heal,
    })
}

/// A mix of one to three scenarios with shifted timings.
pub fn random_plan(seed: u64) -> Plan {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let count = rng.random_range(1..=3);
    let mut mixed = Plan {
        name: "random".into(),
        agents: 3,
        masters: 1,
        faults: Vec::new(),
        heal_at: 0,
    };
    let mut names = Vec::new();
    for _ in 0..count {
        let name = SCENARIOS[rng.random_range(0..SCENARIOS.len())];
        let sub = plan(name, rng.random()).expect("known");
        let shift = rng.random_range(0..30_000);
        names.push(name);
        mixed.agents = mixed.agents.max(sub.agents);
        mixed.masters = mixed.masters.max(sub.masters);
        mixed.heal_at = mixed.heal_at.max(sub.heal_at + shift);
        mixed
            .faults
            .extend(sub.faults.into_iter().map(|(t, f)| (t + shift, f)));
    }
    mixed.name = format!("random[{}]", names.join("+"));
    mixed
}

/// What a passing run covered.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    /// Simulated milliseconds.
    pub sim_ms: u64,
    /// Steps.
    pub steps: u64,
    /// Status updates delivered to frameworks.
    pub updates: u64,
}

/// Plays `plan` from `seed`: faults, heal, convergence within the bound, then nothing lost.
pub fn run(seed: u64, plan: &Plan, trace: bool) -> Result<Outcome, String> {
    run_with(seed, plan, trace, true)
}

/// [`run`], with the registry's fencing on or off (off only to show that the HA checks
/// catch a deposed leader's writes).
pub fn run_with(seed: u64, plan: &Plan, trace: bool, fencing: bool) -> Result<Outcome, String> {
    let settings = Settings {
        agents: plan.agents,
        masters: plan.masters,
        fencing,
        trace,
        ..Settings::default()
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut w = World::new(seed, settings);
        let setup = Plan {
            name: "setup".into(),
            agents: plan.agents,
            masters: plan.masters,
            faults: vec![
                (
                    1_000,
                    Fault::Operator(OperatorOp::Create {
                        id: "/a".into(),
                        instances: 2,
                        inactive_after_s: 0,
                        expunge_after_s: 60,
                    }),
                ),
                (
                    1_500,
                    Fault::Operator(OperatorOp::Create {
                        id: "/b".into(),
                        instances: 2,
                        inactive_after_s: MAX_INACTIVE_MS / 1000,
                        expunge_after_s: 120,
                    }),
                ),
                (plan.heal_at, Fault::HealAll),
            ],
            heal_at: plan.heal_at,
        };
        w.schedule(&setup);
        w.schedule(plan);
        let at = |e: u64| T0 + e;
        let bound = plan.heal_at + MAX_INACTIVE_MS + SLACK_MS;
        w.run_until(at(plan.heal_at))
            .map_err(|e| (e, w.elapsed_ms(), w.steps))?;
        // After the heal, the copies bound is checked every simulated 5 s.
        let mut t = plan.heal_at;
        while t < bound {
            t = (t + 5_000).min(bound);
            w.run_until(at(t))
                .map_err(|e| (e, w.elapsed_ms(), w.steps))?;
            check::copies_within_policy(&w).map_err(|e| (e, w.elapsed_ms(), w.steps))?;
        }
        check::converged(&w).map_err(|e| {
            (
                format!("not converged within the bound: {e}"),
                w.elapsed_ms(),
                w.steps,
            )
        })?;
        w.run_until(at(bound + SETTLE_MS))
            .map_err(|e| (e, w.elapsed_ms(), w.steps))?;
        // The plain framework's tasks keep finishing and being replaced, so at any instant
        // an update may be on its way (a delivery takes up to 2 s). Nothing is lost when,
        // at some instant of the next QUIET_MS, every update is acknowledged and seen; a
        // stuck update stays stuck for all of it (the agent's first retry is after 10 s).
        let mut waited = 0;
        loop {
            let checked = check::nothing_lost(&w).and_then(|()| check::converged(&w));
            match checked {
                Ok(()) => break,
                Err(e) if waited >= QUIET_MS => return Err((e, w.elapsed_ms(), w.steps)),
                Err(_) => {
                    waited += 1_000;
                    w.run_until(at(bound + SETTLE_MS + waited))
                        .map_err(|e| (e, w.elapsed_ms(), w.steps))?;
                }
            }
        }
        Ok(Outcome {
            sim_ms: w.elapsed_ms(),
            steps: w.steps,
            updates: w.checker.updates,
        })
    }));
    let failed = |message: String, at_ms: u64, step: u64| {
        Err(format!(
            "seed {seed} ({}) failed at t={:.3}s step {step}: {message}\n  replay: \
             DROVER_SIM_SEED={seed} DROVER_SIM_SCENARIO={} DROVER_SIM_TRACE=1 \
             cargo test -p drover-sim --release replay -- --nocapture",
            plan.name,
            at_ms as f64 / 1000.0,
            if plan.name.starts_with("random") {
                "random"
            } else {
                plan.name.as_str()
            }
        ))
    };
    match result {
        Ok(Ok(outcome)) => Ok(outcome),
        Ok(Err((message, at_ms, step))) => failed(message, at_ms, step),
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "panic".into());
            failed(format!("a core panicked: {message}"), 0, 0)
        }
    }
}
