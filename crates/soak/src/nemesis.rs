//! The nemesis: a seeded sequence of faults against the real cluster, each logged with its
//! time. Faults overlap: each one that lasts (a paused daemon, a cut link, a daemon down
//! before its restart) schedules its own end, and a daemon or link already under a fault is
//! left alone until it ends. Between faults it drives the workload (scale an app, create or
//! delete a short-lived app, make the plain framework fail over). With HA it targets the
//! leading master half the times it hits a master (the sampler tells it which one leads), and
//! it acts as the daemons' supervisor: a master or Marathon that exits by itself (as a deposed
//! leader does) is restarted a second later, as systemd's `Restart=always` would.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use crate::cluster::Cluster;
use crate::journal::Journal;
use crate::marathon::Marathon;
use crate::net::Dir;
use crate::plain::Plain;

/// A small seeded generator (SplitMix64): the same seed gives the same choices.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
}

/// A fault's scheduled end.
#[derive(Debug)]
enum End {
    Restart(String),
    Continue(String),
    Heal(usize),
}

/// A workload change.
#[derive(Debug)]
enum Op {
    Scale(String, u32),
    Create(String, bool),
    Delete(String),
}

/// What the nemesis is doing.
#[derive(Debug)]
pub struct Nemesis {
    rng: Rng,
    pending: Vec<(Instant, End)>,
    tmp_apps: Vec<String>,
    next_tmp: u32,
    workload: Option<tokio::sync::mpsc::Sender<Op>>,
    journal: Arc<Journal>,
    /// The index of the leading master as last sampled (`usize::MAX`: unknown).
    leader: Arc<AtomicUsize>,
    /// Whether daemons that exit by themselves are restarted (HA: a deposed leader exits).
    supervise: bool,
}

fn target(end: &End) -> String {
    match end {
        End::Restart(n) | End::Continue(n) => n.clone(),
        End::Heal(i) => format!("link{i}"),
    }
}

impl Nemesis {
    /// A nemesis with this seed. `leader` is the sampler's latest view of which master leads;
    /// with `supervise`, masters and Marathons that exit by themselves are restarted.
    pub fn new(
        seed: u64,
        journal: Arc<Journal>,
        leader: Arc<AtomicUsize>,
        supervise: bool,
    ) -> Nemesis {
        Nemesis {
            journal,
            leader,
            supervise,
            rng: Rng::new(seed),
            pending: Vec::new(),
            tmp_apps: Vec::new(),
            next_tmp: 0,
            workload: None,
        }
    }

    fn busy(&self, what: &str) -> bool {
        self.pending.iter().any(|(_, e)| target(e) == what)
    }

    fn secs(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(self.rng.range(lo * 1000, hi * 1000))
    }

    /// Ends every fault whose time has come; as the supervisor, schedules the restart of a
    /// master or Marathon that exited by itself.
    pub fn end_due(&mut self, cluster: &mut Cluster, now: Instant) {
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|(at, _)| *at <= now);
        self.pending = later;
        for (_, end) in due {
            end_fault(&self.journal, cluster, end);
        }
        if !self.supervise {
            return;
        }
        let names: Vec<String> = cluster
            .masters
            .iter()
            .chain(&cluster.marathons)
            .map(|p| p.name.clone())
            .collect();
        for name in names {
            if self.busy(&name) {
                continue;
            }
            let proc = cluster.proc_mut(&name).expect("a daemon of the cluster");
            if !proc.is_running() {
                let tail = proc.log_tail(3);
                self.journal.action(format!(
                    "supervisor: {name} exited by itself, restart in 1s; log tail:\n{tail}"
                ));
                self.pending
                    .push((now + Duration::from_secs(1), End::Restart(name)));
            }
        }
    }

    /// A master to hit: with several, the leader half the time (when the sampler knows it).
    fn pick_master(&mut self, cluster: &Cluster) -> String {
        let n = cluster.masters.len() as u64;
        let leader = self.leader.load(Ordering::Relaxed);
        let i = if leader < cluster.masters.len() && self.rng.range(0, 1) == 0 {
            leader
        } else {
            self.rng.range(0, n - 1) as usize
        };
        cluster.masters[i].name.clone()
    }

    /// SIGKILLs `name` (unless a fault holds it) and schedules its restart in 0–`max_secs` s.
    /// `label` goes before the name in the journal ("leader ").
    fn sigkill(&mut self, cluster: &mut Cluster, name: String, label: &str, max_secs: u64) {
        if self.busy(&name) {
            return;
        }
        let down = self.secs(0, max_secs);
        self.journal
            .action(format!("SIGKILL {label}{name} (restart in {down:?})"));
        if let Some(proc) = cluster.proc_mut(&name) {
            proc.kill();
        }
        self.pending
            .push((Instant::now() + down, End::Restart(name)));
    }

    /// SIGSTOPs `name` (unless a fault holds it) for `secs` (lo, hi) and schedules its
    /// SIGCONT; `words` go before and after the name in the journal.
    fn sigstop(
        &mut self,
        cluster: &mut Cluster,
        name: String,
        words: (&str, &str),
        secs: (u64, u64),
    ) {
        if self.busy(&name) {
            return;
        }
        let pause = self.secs(secs.0, secs.1);
        let proc = cluster.proc_mut(&name).expect("a daemon of the cluster");
        if proc.pause(true).is_ok() {
            self.journal.action(format!(
                "SIGSTOP {}{name}{} (SIGCONT in {pause:?})",
                words.0, words.1
            ));
            self.pending
                .push((Instant::now() + pause, End::Continue(name)));
        }
    }

    /// The leading master's name, when the sampler knows it.
    fn leading_master(&self, cluster: &Cluster) -> Option<String> {
        let leader = self.leader.load(Ordering::Relaxed);
        cluster.masters.get(leader).map(|p| p.name.clone())
    }

    /// A Marathon to hit.
    fn pick_marathon(&mut self, cluster: &Cluster) -> String {
        let n = cluster.marathons.len() as u64;
        cluster.marathons[self.rng.range(0, n - 1) as usize]
            .name
            .clone()
    }

    /// Ends every fault now: restarts what is down, continues what is paused, heals links.
    pub fn heal_all(&mut self, cluster: &mut Cluster) {
        for (_, end) in std::mem::take(&mut self.pending) {
            end_fault(&self.journal, cluster, end);
        }
        // Whatever died on its own comes back too.
        for name in cluster.names() {
            let proc = cluster.proc_mut(&name).expect("a daemon of the cluster");
            if !proc.is_running() {
                let tail = proc.log_tail(5);
                self.journal.action(format!(
                    "heal: {name} was not running (exited by itself?), restarting; log tail:\n{tail}"
                ));
                let _ = proc.restart();
            }
        }
    }

    /// Hands a workload change to the workload task, which sends them one at a time: a
    /// change to a paused Marathon waits for its answer there, not in the nemesis, whose
    /// scheduled SIGCONT must not wait for it. When the task is still busy the change is
    /// skipped (and logged).
    fn submit(&mut self, marathon: &Marathon, op: Op) {
        let tx = self.workload.get_or_insert_with(|| {
            let (tx, mut rx) = tokio::sync::mpsc::channel::<Op>(2);
            let marathon = marathon.clone();
            tokio::spawn(async move {
                while let Some(op) = rx.recv().await {
                    match op {
                        Op::Scale(id, n) => marathon.scale(&id, n, false).await,
                        Op::Create(id, healthy) => marathon.create(&id, 1, healthy).await,
                        Op::Delete(id) => marathon.delete(&id).await,
                    };
                }
            });
            tx
        });
        if let Err(e) = tx.try_send(op) {
            self.journal
                .action(format!("workload busy, skipped {:?}", e.into_inner()));
        }
    }

    /// Takes one step: a fault or a workload change. Returns how long to wait before the
    /// next step.
    pub fn step(&mut self, cluster: &mut Cluster, marathon: &Marathon, plain: &Plain) -> Duration {
        let agents = cluster.agents.len() as u64;
        let agent = self.rng.range(0, agents - 1) as usize;
        let agent_name = format!("agent{agent}");
        let now = Instant::now();
        match self.rng.range(0, 15) {
            0 => {
                let name = self.pick_master(cluster);
                self.sigkill(cluster, name, "", 5);
            }
            1 | 2 => self.sigkill(cluster, agent_name, "", 8),
            3 if !self.busy(&agent_name) => {
                self.journal.action(format!(
                    "REBOOT {agent_name}: kill everything in its namespace, new boot id"
                ));
                if let Err(e) = cluster.reboot_agent(agent) {
                    self.journal
                        .action(format!("reboot {agent_name} failed: {e:#}"));
                }
            }
            4 | 5 => {
                let name = match self.rng.range(0, 2) {
                    0 => self.pick_master(cluster),
                    1 => self.pick_marathon(cluster),
                    _ => agent_name,
                };
                self.sigstop(cluster, name, ("", ""), (1, 15));
            }
            6 => {
                let name = self.pick_marathon(cluster);
                self.sigkill(cluster, name, "", 5);
            }
            7 | 8 if !self.busy(&format!("link{agent}")) => {
                let cut = self.secs(2, 25);
                let how = self.rng.range(0, 2);
                let result = match how {
                    0 => cluster.net.link_down(agent),
                    1 => cluster.net.cut(agent, Dir::AgentToMaster),
                    _ => cluster.net.cut(agent, Dir::MasterToAgent),
                };
                let what = [
                    "link down (both ways)",
                    "drop agent->master",
                    "drop master->agent",
                ][how as usize];
                match result {
                    Ok(()) => {
                        self.journal
                            .action(format!("CUT {agent_name}: {what} (heal in {cut:?})"));
                        self.pending.push((now + cut, End::Heal(agent)));
                    }
                    Err(e) => self
                        .journal
                        .action(format!("cut {agent_name} failed: {e:#}")),
                }
            }
            9 => {
                self.journal
                    .action("FAILOVER plain framework (drop its connection, resubscribe)");
                plain.fail_over();
            }
            10 | 11 => {
                let n = self.rng.range(1, 4) as u32;
                self.submit(marathon, Op::Scale("/soak/worker".into(), n));
            }
            12 | 13 => {
                if self.tmp_apps.len() < 2 {
                    self.next_tmp += 1;
                    let id = format!("/soak/tmp-{}", self.next_tmp);
                    let healthy = self.next_tmp.is_multiple_of(2);
                    self.submit(marathon, Op::Create(id.clone(), healthy));
                    self.tmp_apps.push(id);
                } else {
                    let id = self.tmp_apps.remove(0);
                    self.submit(marathon, Op::Delete(id));
                }
            }
            // With HA, the leading master is also deposed on purpose: killed, or paused for
            // longer than its 4 s ZooKeeper session (it must then stop writing and exit).
            14 if self.supervise => {
                if let Some(name) = self.leading_master(cluster) {
                    self.sigkill(cluster, name, "leader ", 5);
                }
            }
            15 if self.supervise => {
                if let Some(name) = self.leading_master(cluster) {
                    self.sigstop(cluster, name, ("leader ", " past its session"), (5, 12));
                }
            }
            _ => {}
        }
        self.secs(2, 8)
    }
}

fn end_fault(journal: &Journal, cluster: &mut Cluster, end: End) {
    match end {
        End::Restart(name) => {
            let proc = cluster.proc_mut(&name).expect("a daemon of the cluster");
            match proc.restart() {
                Ok(()) => journal.action(format!("restart {name}")),
                Err(e) => journal.action(format!("restart {name} failed: {e:#}")),
            }
        }
        End::Continue(name) => {
            let proc = cluster.proc_mut(&name).expect("a daemon of the cluster");
            let _ = proc.pause(false);
            journal.action(format!("SIGCONT {name}"));
        }
        End::Heal(i) => match cluster.net.heal(i) {
            Ok(()) => journal.action(format!("heal link of agent{i}")),
            Err(e) => journal.action(format!("heal link of agent{i} failed: {e:#}")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_choices() {
        let a: Vec<u64> = (0..8)
            .scan(Rng::new(7), |r, _| Some(r.range(0, 15)))
            .collect();
        let b: Vec<u64> = (0..8)
            .scan(Rng::new(7), |r, _| Some(r.range(0, 15)))
            .collect();
        let c: Vec<u64> = (0..8)
            .scan(Rng::new(8), |r, _| Some(r.range(0, 15)))
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.iter().all(|v| *v <= 15));
    }
}
