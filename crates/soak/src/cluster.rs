//! The cluster under test: `drover master`s on the bridge address, one `drover agent` per
//! network namespace (each with its own work dir, cgroups root and boot id), and `drover
//! marathon`s on loopback. Explicit addresses everywhere (`--ip`, `--hostname`, `--master`),
//! so the daemons never depend on their defaults.
//!
//! With one master and one Marathon (the default) everyone is pointed at the master's
//! `host:port`. With HA (`--masters N` > 1 or `--marathons M` > 1) a private ZooKeeper runs on
//! the bridge address, the masters contend at `zk://…/mesos`, Marathons keep their state and
//! elect their leader at `zk://…/marathon`, and agents, Marathons and the plain framework
//! find the leading master through ZooKeeper, as a production cluster's do.

use std::path::{Path, PathBuf};

use anyhow::Context;
use drover_coord::testing::ZooKeeperServer;

use crate::net::Net;
use crate::procs::{Proc, free_port, remove_cgroups};

/// The agents' port (each in its own namespace, so all the same).
pub const AGENT_PORT: u16 = 5051;

/// How many of each daemon, and how they find each other.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Agents, each in its own network namespace.
    pub agents: usize,
    /// Masters (more than one: contending in ZooKeeper).
    pub masters: usize,
    /// Marathons (more than one: electing a leader in ZooKeeper).
    pub marathons: usize,
}

impl Shape {
    /// Whether the cluster runs on ZooKeeper.
    pub fn ha(&self) -> bool {
        self.masters > 1 || self.marathons > 1
    }
}

/// The running daemons.
#[derive(Debug)]
pub struct Cluster {
    /// The masters ("master", or "master0"… with HA).
    pub masters: Vec<Proc>,
    /// One per namespace.
    pub agents: Vec<Proc>,
    /// The Marathons ("marathon", or "marathon0"… with HA).
    pub marathons: Vec<Proc>,
    /// How agents, Marathons and the plain framework find the leading master: `host:port`,
    /// or `zk://…/mesos` with HA.
    pub master_target: String,
    /// Each master's `http://host:port`.
    pub master_urls: Vec<String>,
    /// Each Marathon's `http://127.0.0.1:port`.
    pub marathon_urls: Vec<String>,
    /// Each agent's `http://ip:port`.
    pub agent_urls: Vec<String>,
    cgroup_roots: Vec<String>,
    /// The namespaces and links; dropped after the daemons.
    pub net: Net,
    /// ZooKeeper with HA; dropped after the daemons (its sessions then simply end).
    _zk: Option<ZooKeeperServer>,
}

impl Cluster {
    /// Starts everything under `dir` with the `drover` binary `exe`.
    pub fn start(exe: &Path, dir: &Path, shape: Shape) -> anyhow::Result<Cluster> {
        let net = Net::setup(shape.agents).context("setting up the network namespaces")?;
        let zk = if shape.ha() {
            let ip: std::net::IpAddr = net.master_ip.parse().context("the bridge's address")?;
            // Test set-up panics with what is missing (the `zookeeper` package); say it here.
            let server = std::panic::catch_unwind(|| ZooKeeperServer::start_on(ip, 256))
                .map_err(|_| anyhow::anyhow!("ZooKeeper did not start (see above)"))?;
            Some(server)
        } else {
            None
        };
        let masters_zk = zk.as_ref().map(|z| z.url("/mesos"));
        let marathon_zk = zk.as_ref().map(|z| z.url("/marathon"));
        let mut masters = Vec::new();
        let mut master_urls = Vec::new();
        for i in 0..shape.masters {
            let name = if shape.masters > 1 {
                format!("master{i}")
            } else {
                "master".to_owned()
            };
            let port = free_port(&net.master_ip)?;
            let mut args = vec![
                "master".into(),
                format!("--ip={}", net.master_ip),
                format!("--port={port}"),
                format!("--hostname={}", net.master_ip),
                format!("--work_dir={}", dir.join(&name).display()),
                // Faults are seconds long: detect them in seconds, as the simulator does.
                "--agent_ping_timeout=1secs".into(),
                "--max_agent_ping_timeouts=5".into(),
            ];
            if let Some(zk) = &masters_zk {
                args.push(format!("--zk={zk}"));
                args.push(format!("--quorum={}", shape.masters / 2 + 1));
                // A paused leader loses its session (and is deposed) after 4 s, so the
                // nemesis' pauses of 1–15 s both survive and depose leaders.
                args.push("--zk_session_timeout=4secs".into());
            }
            masters.push(Proc::start(
                &name,
                exe,
                None,
                args,
                &dir.join(format!("{name}.log")),
            )?);
            master_urls.push(format!("http://{}:{port}", net.master_ip));
        }
        let master_target = match &masters_zk {
            Some(zk) => zk.clone(),
            None => master_urls[0].trim_start_matches("http://").to_owned(),
        };
        let mut procs = Vec::new();
        let mut agent_urls = Vec::new();
        let mut cgroup_roots = Vec::new();
        for i in 0..shape.agents {
            // Named as the namespace, so leftovers of a killed run are found by that name.
            let root = net.namespaces[i].clone();
            let work: PathBuf = dir.join(format!("agent{i}"));
            let ip = &net.agent_ips[i];
            procs.push(Proc::start(
                &format!("agent{i}"),
                exe,
                Some(&net.namespaces[i]),
                vec![
                    "agent".into(),
                    format!("--master={master_target}"),
                    format!("--ip={ip}"),
                    format!("--hostname={ip}"),
                    format!("--port={AGENT_PORT}"),
                    format!("--work_dir={}", work.display()),
                    "--resources=cpus:2;mem:1024;disk:1024;ports:[31000-31999]".into(),
                    format!("--cgroups_root={root}"),
                    format!("--boot_id={}", uuid::Uuid::new_v4()),
                    "--executor_shutdown_grace_period=2secs".into(),
                ],
                &dir.join(format!("agent{i}.log")),
            )?);
            agent_urls.push(format!("http://{ip}:{AGENT_PORT}"));
            cgroup_roots.push(root);
        }
        let mut marathons = Vec::new();
        let mut marathon_urls = Vec::new();
        for i in 0..shape.marathons {
            let name = if shape.marathons > 1 {
                format!("marathon{i}")
            } else {
                "marathon".to_owned()
            };
            let port = free_port("127.0.0.1")?;
            let mut args = vec![
                "marathon".into(),
                format!("--master={master_target}"),
                format!("--http_port={port}"),
                "--hostname=127.0.0.1".into(),
                format!("--work_dir={}", dir.join(&name).display()),
                "--reconciliation_interval=15000".into(),
                "--task_launch_timeout=60000".into(),
            ];
            if let Some(zk) = &marathon_zk {
                args.push(format!("--zk={zk}"));
                args.push("--zk_session_timeout=4000".into());
            }
            marathons.push(Proc::start(
                &name,
                exe,
                None,
                args,
                &dir.join(format!("{name}.log")),
            )?);
            marathon_urls.push(format!("http://127.0.0.1:{port}"));
        }
        Ok(Cluster {
            masters,
            agents: procs,
            marathons,
            master_target,
            master_urls,
            marathon_urls,
            agent_urls,
            cgroup_roots,
            net,
            _zk: zk,
        })
    }

    /// "Reboots" agent `i`: everything in its namespace dies (agent, executors, tasks, as a
    /// power cut would), its containers' cgroups go, and it starts with a new boot id on the
    /// same work dir, so it finds its checkpoint from before the reboot.
    pub fn reboot_agent(&mut self, i: usize) -> anyhow::Result<()> {
        let agent = &mut self.agents[i];
        if agent.is_stopped() {
            agent.pause(false)?;
        }
        agent.kill();
        self.net.kill_all_in(i);
        remove_cgroups(&self.cgroup_roots[i]);
        let boot = format!("--boot_id={}", uuid::Uuid::new_v4());
        for arg in agent.args.iter_mut() {
            if arg.starts_with("--boot_id=") {
                *arg = boot.clone();
            }
        }
        agent.restart()
    }

    /// Every daemon's name: masters, Marathons, agents.
    pub fn names(&self) -> Vec<String> {
        self.masters
            .iter()
            .chain(&self.marathons)
            .chain(&self.agents)
            .map(|p| p.name.clone())
            .collect()
    }

    /// Every daemon by name, for the nemesis.
    pub fn proc_mut(&mut self, name: &str) -> Option<&mut Proc> {
        self.masters
            .iter_mut()
            .chain(self.marathons.iter_mut())
            .chain(self.agents.iter_mut())
            .find(|p| p.name == name)
    }

    /// Kills everything and removes the agents' cgroups (the network and ZooKeeper go when
    /// dropped).
    pub fn shutdown(&mut self) {
        for proc in self
            .marathons
            .iter_mut()
            .chain(self.agents.iter_mut())
            .chain(self.masters.iter_mut())
        {
            if proc.is_stopped() {
                let _ = proc.pause(false);
            }
            proc.kill();
        }
        for i in 0..self.agents.len() {
            self.net.kill_all_in(i);
        }
        for root in &self.cgroup_roots {
            remove_cgroups(root);
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.shutdown();
    }
}
