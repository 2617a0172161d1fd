//! The cluster under test: one `drover master` on the bridge address, one `drover agent` per
//! network namespace (each with its own work dir, cgroups root and boot id), and `drover
//! marathon` on loopback. Explicit addresses everywhere (`--ip`, `--hostname`, `--master`), so
//! the daemons never depend on their defaults.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::net::Net;
use crate::procs::{Proc, free_port, remove_cgroups};

/// The agents' port (each in its own namespace, so all the same).
pub const AGENT_PORT: u16 = 5051;

/// The running daemons.
#[derive(Debug)]
pub struct Cluster {
    /// The network (dropped last: the daemons go first).
    pub master: Proc,
    /// One per namespace.
    pub agents: Vec<Proc>,
    /// `drover marathon`.
    pub marathon: Proc,
    /// `host:port` of the master.
    pub master_addr: String,
    /// `http://127.0.0.1:port` of Marathon.
    pub marathon_url: String,
    /// Each agent's `http://ip:port`.
    pub agent_urls: Vec<String>,
    cgroup_roots: Vec<String>,
    /// The namespaces and links; declared last so it is dropped after the daemons.
    pub net: Net,
}

impl Cluster {
    /// Starts everything under `dir` with the `drover` binary `exe`.
    pub fn start(exe: &Path, dir: &Path, agents: usize) -> anyhow::Result<Cluster> {
        let net = Net::setup(agents).context("setting up the network namespaces")?;
        let master_port = free_port(&net.master_ip)?;
        let master_addr = format!("{}:{master_port}", net.master_ip);
        let master = Proc::start(
            "master",
            exe,
            None,
            vec![
                "master".into(),
                format!("--ip={}", net.master_ip),
                format!("--port={master_port}"),
                format!("--hostname={}", net.master_ip),
                format!("--work_dir={}", dir.join("master").display()),
                // Faults are seconds long: detect them in seconds, as the simulator does.
                "--agent_ping_timeout=1secs".into(),
                "--max_agent_ping_timeouts=5".into(),
            ],
            &dir.join("master.log"),
        )?;
        let mut procs = Vec::new();
        let mut agent_urls = Vec::new();
        let mut cgroup_roots = Vec::new();
        for i in 0..agents {
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
                    format!("--master={master_addr}"),
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
        let marathon_port = free_port("127.0.0.1")?;
        let marathon = Proc::start(
            "marathon",
            exe,
            None,
            vec![
                "marathon".into(),
                format!("--master={master_addr}"),
                format!("--http_port={marathon_port}"),
                "--hostname=127.0.0.1".into(),
                format!("--work_dir={}", dir.join("marathon").display()),
                "--reconciliation_interval=15000".into(),
                "--task_launch_timeout=60000".into(),
            ],
            &dir.join("marathon.log"),
        )?;
        Ok(Cluster {
            master,
            agents: procs,
            marathon,
            master_addr,
            marathon_url: format!("http://127.0.0.1:{marathon_port}"),
            agent_urls,
            cgroup_roots,
            net,
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

    /// Every daemon by name, for the nemesis.
    pub fn proc_mut(&mut self, name: &str) -> Option<&mut Proc> {
        match name {
            "master" => Some(&mut self.master),
            "marathon" => Some(&mut self.marathon),
            _ => self.agents.iter_mut().find(|a| a.name == name),
        }
    }

    /// Kills everything and removes the agents' cgroups (the network goes when dropped).
    pub fn shutdown(&mut self) {
        self.marathon.kill();
        for agent in &mut self.agents {
            if agent.is_stopped() {
                let _ = agent.pause(false);
            }
            agent.kill();
        }
        if self.master.is_stopped() {
            let _ = self.master.pause(false);
        }
        self.master.kill();
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
