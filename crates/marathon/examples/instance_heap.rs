//! G5 (Marathon's memory per instance), measured without processes: the pure scheduler core
//! driven as G1 drives the daemon (one app of N instances, `cpus: 0.01, mem: 1`, offers from
//! 1,000 agents, one TASK_RUNNING per task from the agent's executor), with every change
//! written by the driver's `storage::write` into a `RedbStore` in a temporary directory, the
//! commits grouped as the driver groups them (256 inputs). It prints the process's RSS per
//! instance after each phase, and the sizes of what an instance and a launch hold.
//!
//! `--stop=created|launched|running` exits at the end of that phase with everything still
//! allocated, so under heaptrack what is reported as leaked is the live heap by call site
//! (the workspace forbids `unsafe`, so there is no counting allocator here):
//!
//! ```text
//! cargo run --release -p drover-marathon --example instance_heap [-- N] [--no-store]
//! heaptrack target/release/examples/instance_heap --stop=running
//! heaptrack_print -f heaptrack.instance_heap.*.zst --print-leaks 1
//! ```

use drover_core::marathon::instance::Instance;
use drover_core::marathon::scheduler::{Command, Config, Effect, Input, Scheduler, SequentialIds};
use drover_marathon::json::app::{Mode, parse_app};
use drover_store::{RedbStore, Store, WriteBatch};
use drover_wire::v1;

/// Resident set size in bytes (`/proc/self/statm`).
fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .unwrap_or(0)
        * 4096
}

const AGENTS: usize = 1_000;

fn agent_id(i: usize) -> String {
    // The master's form: `<master uuid>-S<n>`.
    format!("3f0c7a52-8e4b-4d61-9b7e-2a5c1d9e8f40-S{i}")
}

fn offer(seq: u64, agent: usize) -> v1::Offer {
    let scalar = drover_core::resources::scalar_resource;
    v1::Offer {
        id: v1::OfferId {
            value: format!("3f0c7a52-8e4b-4d61-9b7e-2a5c1d9e8f40-O{seq}"),
        },
        framework_id: v1::FrameworkId {
            value: "3f0c7a52-8e4b-4d61-9b7e-2a5c1d9e8f40-0000".into(),
        },
        agent_id: v1::AgentId {
            value: agent_id(agent),
        },
        hostname: format!("sim-{agent}.local"),
        resources: vec![
            scalar("cpus", 1000.0),
            scalar("mem", 1_048_576.0),
            scalar("disk", 1_048_576.0),
        ],
        ..Default::default()
    }
}

fn running(task_id: &str, agent: &str, uuid: u64) -> v1::TaskStatus {
    v1::TaskStatus {
        task_id: v1::TaskId {
            value: task_id.to_owned(),
        },
        state: v1::TaskState::TaskRunning as i32,
        source: Some(v1::task_status::Source::Executor as i32),
        uuid: Some(uuid.to_le_bytes().repeat(2)),
        agent_id: Some(v1::AgentId {
            value: agent.to_owned(),
        }),
        executor_id: Some(v1::ExecutorId {
            value: task_id.to_owned(),
        }),
        timestamp: Some(1.7e9),
        ..Default::default()
    }
}

struct Driver {
    s: Scheduler,
    store: Option<(tempfile::TempDir, RedbStore)>,
    now: u64,
    pending: Vec<Vec<Effect>>,
    launched: Vec<(String, String)>,
}

impl Driver {
    fn input(&mut self, input: Input) {
        self.now += 1;
        let effects = self.s.handle(self.now, input);
        for e in &effects {
            if let Effect::Launch {
                tasks, agent_id, ..
            } = e
            {
                for t in tasks {
                    self.launched
                        .push((t.task_id.value.clone(), agent_id.clone()));
                }
            }
        }
        self.pending.push(effects);
        if self.pending.len() >= 256 {
            self.commit();
        }
    }

    fn commit(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        if let Some((_, store)) = &self.store {
            let changes: Vec<_> = pending
                .iter()
                .flatten()
                .filter_map(|e| match e {
                    Effect::Persist(c) => Some(c),
                    _ => None,
                })
                .collect();
            let mut batch = WriteBatch::new();
            drover_marathon::storage::write(store, &self.s, &changes, &mut batch).unwrap();
            store.commit(batch).unwrap();
        }
    }
}

fn report(what: &str, base: u64, n: usize) {
    let r = rss();
    println!(
        "{what:<40} RSS {:>8.1} MiB  {:>7.0} B/instance",
        r as f64 / 1048576.0,
        (r.saturating_sub(base)) as f64 / n as f64,
    );
}

/// Ends here, leaving everything allocated: under heaptrack, what is "leaked" is what was live.
fn stop_if(phase: &str, stop: &Option<String>) {
    if stop.as_deref() == Some(phase) {
        std::process::exit(0);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(100_000);
    let with_store = !args.iter().any(|a| a == "--no-store");
    let stop = args
        .iter()
        .find_map(|a| a.strip_prefix("--stop=").map(str::to_owned));
    let base = rss();
    let store = with_store.then(|| {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path()).unwrap();
        (dir, store)
    });
    let mut d = Driver {
        s: Scheduler::new(
            Config::default(),
            // Ids as long as a v4 uuid's text (the daemon's), but deterministic.
            Box::new(SequentialIds::default()),
        ),
        store,
        now: 1_700_000_000_000,
        pending: Vec::new(),
        launched: Vec::new(),
    };
    d.input(Input::Subscribed {
        framework_id: "3f0c7a52-8e4b-4d61-9b7e-2a5c1d9e8f40-0000".into(),
    });
    let body = serde_json::json!({
        "id": "/bench/g1", "cmd": "sleep 100000", "cpus": 0.01, "mem": 1,
        "instances": n, "portDefinitions": [],
    });
    let app = parse_app(&body, None, Mode::Full).unwrap();
    d.input(Input::Command(Command::CreateApp { app, force: false }));
    d.commit();
    report("created (instances scheduled)", base, n);
    stop_if("created", &stop);

    let mut seq = 0;
    while d.launched.len() < n {
        let before = d.launched.len();
        for agent in 0..AGENTS {
            seq += 1;
            d.input(Input::Offers(vec![offer(seq, agent)]));
            if d.launched.len() >= n {
                break;
            }
        }
        d.commit();
        assert!(d.launched.len() > before, "nothing launched");
    }
    report("launched (all staging)", base, n);
    let launched = std::mem::take(&mut d.launched);
    stop_if("launched", &stop);
    for (k, (task, agent)) in launched.iter().enumerate() {
        d.input(Input::Update(running(task, agent, k as u64)));
    }
    d.commit();
    drop(launched);
    report("running (after every TASK_RUNNING)", base, n);
    stop_if("running", &stop);

    let instances: Vec<&Instance> = d.s.instances().values().collect();
    let mut ids = 0usize;
    let mut placement = 0usize;
    for i in &instances {
        ids += i.id.len() + i.app_id.as_str().len();
        if let Some(p) = &i.placement {
            placement += p.agent_id.len() + p.agent.hostname.len() + p.host_ports.len() * 4;
        }
    }
    println!(
        "size_of::<Instance>() = {} B; id + app id text {} B/instance; placement text {} B/instance",
        std::mem::size_of::<Instance>(),
        ids / n,
        placement / n
    );
    println!(
        "size_of: Placement {} Reservation {} TaskInfo {} Effect {} TaskStatus {} Resource {} Variable {}",
        std::mem::size_of::<drover_core::marathon::instance::Placement>(),
        std::mem::size_of::<drover_core::marathon::reservation::Reservation>(),
        std::mem::size_of::<v1::TaskInfo>(),
        std::mem::size_of::<Effect>(),
        std::mem::size_of::<v1::TaskStatus>(),
        std::mem::size_of::<v1::Resource>(),
        std::mem::size_of::<v1::environment::Variable>(),
    );
    if let Some(i) = instances.first() {
        println!("an instance: {i:?}");
    }
    if let Some((dir, _)) = &d.store {
        let size = std::fs::metadata(dir.path().join(RedbStore::FILE_NAME))
            .map(|m| m.len())
            .unwrap_or(0);
        println!("store file {:.1} MiB", size as f64 / 1048576.0);
    }
}
