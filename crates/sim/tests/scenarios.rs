//! The G11 fault scenarios as named, seeded tests, the CI seed sweep, and `replay`.
//!
//! Each scenario test runs its plan for a few fixed seeds (more with `DROVER_SIM_SEEDS`).
//! `random_search` mixes scenarios for at least 1,000 seeds or until its wall-time budget
//! (`DROVER_SIM_BUDGET_SECS`, default 60) runs out, whichever comes later for the seed
//! floor, and prints what it covered.

use std::time::Instant;

use drover_sim::{plan, random_plan, run};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn scenario(name: &str) {
    let seeds = env_u64("DROVER_SIM_SEEDS", 3);
    let base = env_u64("DROVER_SIM_SEED_BASE", 1);
    for seed in base..base + seeds {
        let plan = plan(name, seed).expect("known scenario");
        if let Err(e) = run(seed, &plan, false) {
            panic!("{e}");
        }
    }
}

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        $(#[test] fn $name() { scenario(stringify!($name)); })*
    };
}

scenarios!(
    agent_partition_healed_before_timeout,
    agent_partition_past_timeout,
    one_way_partition_master_to_agent,
    one_way_partition_master_to_scheduler,
    master_crash_with_updates_in_flight,
    master_failover_while_agent_partitioned,
    split_brain_paused_old_leader,
    registry_write_fails,
    scheduler_abdicates_mid_deployment,
    scheduler_restart_ready_and_not_ready,
    agent_kill9_with_running_tasks,
    agent_restart_after_host_reboot,
    agent_checkpoint_torn_by_crash,
    run_task_dropped_then_agent_unreachable,
    task_finishes_while_agent_partitioned,
    duplicate_and_reordered_updates_and_acks,
    reconciliation_in_between_states,
    spurious_reregistration,
    many_agents_lost_at_once,
    health_checks_fail_while_unreachable_write_pending,
    netsplit_of_a_client_for_30s,
    leader_churn,
);

/// Replays one seed with a trace of every step:
/// `DROVER_SIM_SEED=7 DROVER_SIM_SCENARIO=random DROVER_SIM_TRACE=1 cargo test -p drover-sim
/// --release replay -- --nocapture`. Without `DROVER_SIM_SEED` it does nothing.
#[test]
fn replay() {
    let Ok(seed) = std::env::var("DROVER_SIM_SEED") else {
        return;
    };
    let seed: u64 = seed.parse().expect("DROVER_SIM_SEED is a u64");
    let name = std::env::var("DROVER_SIM_SCENARIO").unwrap_or_else(|_| "random".into());
    let trace = std::env::var("DROVER_SIM_TRACE").is_ok_and(|v| v == "1");
    let plan = if name == "random" {
        random_plan(seed)
    } else {
        plan(&name, seed).expect("known scenario")
    };
    match run(seed, &plan, trace) {
        Ok(o) => eprintln!("seed {seed} ({}) passed: {o:?}", plan.name),
        Err(e) => panic!("{e}"),
    }
}

/// The CI sweep: random mixes of the scenarios, at least `DROVER_SIM_MIN_SEEDS` (1,000).
#[test]
fn random_search() {
    let min_seeds = env_u64("DROVER_SIM_MIN_SEEDS", 1_000);
    let budget = env_u64("DROVER_SIM_BUDGET_SECS", 60);
    let base = env_u64("DROVER_SIM_SEED_BASE", 1_000_000);
    let started = Instant::now();
    let (mut seeds, mut sim_ms, mut steps) = (0u64, 0u64, 0u64);
    let mut failures = Vec::new();
    while seeds < min_seeds || started.elapsed().as_secs() < budget {
        if seeds >= min_seeds && started.elapsed().as_secs() >= budget {
            break;
        }
        let seed = base + seeds;
        let plan = random_plan(seed);
        match run(seed, &plan, false) {
            Ok(o) => {
                sim_ms += o.sim_ms;
                steps += o.steps;
            }
            Err(e) => failures.push(e),
        }
        seeds += 1;
        if seeds >= min_seeds && started.elapsed().as_secs() >= budget {
            break;
        }
    }
    eprintln!(
        "drover-sim: {seeds} seeds, {:.1} simulated hours, {steps} steps, {:.1} s wall, {} failed",
        sim_ms as f64 / 3_600_000.0,
        started.elapsed().as_secs_f64(),
        failures.len()
    );
    for f in failures
        .iter()
        .take(env_u64("DROVER_SIM_SHOW_FAILURES", 5) as usize)
    {
        eprintln!("{f}");
    }
    assert!(failures.is_empty(), "{} seeds failed", failures.len());
}
