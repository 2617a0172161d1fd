//! The soak's network: a bridge in the root namespace (the master's address) and one network
//! namespace per agent, joined to the bridge by a veth pair. Faults are plain `ip` commands:
//! a link taken down (both ways), or a blackhole route on one side, which drops what that side
//! sends (one way; `tc netem` is not available on every kernel, routes are). Everything created
//! is named after this run and removed on drop, so a run leaves no namespace, link or route.

use std::process::Command;

use anyhow::{Context, bail};

/// Which way a one-way cut drops packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// The agent's packets to the master are dropped (a route in the agent's namespace).
    AgentToMaster,
    /// The master's packets to the agent are dropped (a route in the root namespace).
    MasterToAgent,
}

/// The bridge, the namespaces and the faults in force.
#[derive(Debug)]
pub struct Net {
    tag: String,
    bridge: String,
    /// The bridge's (the master's) address.
    pub master_ip: String,
    /// Each agent's namespace name.
    pub namespaces: Vec<String>,
    /// Each agent's address.
    pub agent_ips: Vec<String>,
    subnet: String,
    /// Per agent: link down, and the one-way cuts in force.
    faults: Vec<(bool, Vec<Dir>)>,
}

/// Runs `ip <args>`; fails with its stderr.
pub fn ip(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .context("running `ip` (iproute2 is needed)")?;
    if !out.status.success() {
        bail!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// The subnet (first three octets) of the run with this pid.
fn subnet_of(pid: u32) -> String {
    format!("10.{}.{}", 200 + (pid / 250) % 50, pid % 250)
}

/// Removes what runs that died without cleaning up (SIGKILLed) left behind: their
/// namespaces (and everything running in them), links, blackhole routes and agents' cgroups.
/// A run is known by its namespaces' names, which carry its pid; a run still alive is left
/// alone. Returns the namespaces removed.
pub fn remove_leftovers() -> Vec<String> {
    let out = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let mut removed = Vec::new();
    for name in out.lines().filter_map(|l| l.split_whitespace().next()) {
        let Some(rest) = name.strip_prefix("drover-soak-") else {
            continue;
        };
        let Some((tag, index)) = rest.split_once("-a") else {
            continue;
        };
        let Ok(pid) = u32::from_str_radix(tag, 16) else {
            continue;
        };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim() == "drover-soak" {
            continue;
        }
        let pids = Command::new("ip")
            .args(["netns", "pids", name])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        for p in pids
            .split_whitespace()
            .filter_map(|p| p.parse::<i32>().ok())
        {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(p),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = ip(&["link", "del", &format!("dsk{tag}h{index}")]);
        let _ = ip(&["netns", "del", name]);
        let _ = ip(&["link", "del", &format!("dsk{tag}br")]);
        if let Ok(i) = index.parse::<u32>() {
            let _ = ip(&[
                "route",
                "del",
                "blackhole",
                &format!("{}.{}/32", subnet_of(pid), 11 + i),
            ]);
        }
        crate::procs::remove_cgroups(name);
        removed.push(name.to_owned());
    }
    removed
}

impl Net {
    /// Creates the bridge and `agents` namespaces. The subnet is chosen from the pid so two
    /// runs on one host do not meet.
    pub fn setup(agents: usize) -> anyhow::Result<Net> {
        let pid = std::process::id();
        let tag = format!("{:x}", pid % 0xfffff);
        let subnet = subnet_of(pid);
        let mut net = Net {
            bridge: format!("dsk{tag}br"),
            master_ip: format!("{subnet}.1"),
            namespaces: Vec::new(),
            agent_ips: Vec::new(),
            faults: Vec::new(),
            subnet,
            tag,
        };
        // On any failure `net` is dropped, which removes what was created so far.
        ip(&["link", "add", &net.bridge, "type", "bridge"])?;
        ip(&[
            "addr",
            "add",
            &format!("{}/24", net.master_ip),
            "dev",
            &net.bridge,
        ])?;
        ip(&["link", "set", &net.bridge, "up"])?;
        for i in 0..agents {
            let ns = format!("drover-soak-{}-a{i}", net.tag);
            let host = net.host_veth(i);
            let inner = format!("dsk{}n{i}", net.tag);
            let addr = format!("{}.{}", net.subnet, 11 + i);
            ip(&["netns", "add", &ns])?;
            net.namespaces.push(ns.clone());
            net.agent_ips.push(addr.clone());
            net.faults.push((false, Vec::new()));
            ip(&["link", "add", &host, "type", "veth", "peer", "name", &inner])?;
            ip(&["link", "set", &inner, "netns", &ns])?;
            ip(&["link", "set", &host, "master", &net.bridge])?;
            ip(&["link", "set", &host, "up"])?;
            ip(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{addr}/24"),
                "dev",
                &inner,
            ])?;
            ip(&["-n", &ns, "link", "set", &inner, "up"])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        }
        Ok(net)
    }

    fn host_veth(&self, i: usize) -> String {
        format!("dsk{}h{i}", self.tag)
    }

    fn inner_veth(&self, i: usize) -> String {
        format!("dsk{}n{i}", self.tag)
    }

    /// Takes agent `i`'s link down inside its namespace: nothing passes either way.
    pub fn link_down(&mut self, i: usize) -> anyhow::Result<()> {
        ip(&[
            "-n",
            &self.namespaces[i],
            "link",
            "set",
            &self.inner_veth(i),
            "down",
        ])?;
        self.faults[i].0 = true;
        Ok(())
    }

    /// Drops one direction of agent `i`'s traffic with the master.
    pub fn cut(&mut self, i: usize, dir: Dir) -> anyhow::Result<()> {
        if self.faults[i].1.contains(&dir) {
            return Ok(());
        }
        match dir {
            Dir::AgentToMaster => ip(&[
                "-n",
                &self.namespaces[i],
                "route",
                "add",
                "blackhole",
                &format!("{}/32", self.master_ip),
            ])?,
            Dir::MasterToAgent => ip(&[
                "route",
                "add",
                "blackhole",
                &format!("{}/32", self.agent_ips[i]),
            ])?,
        }
        self.faults[i].1.push(dir);
        Ok(())
    }

    /// Removes every fault of agent `i`.
    pub fn heal(&mut self, i: usize) -> anyhow::Result<()> {
        let (down, cuts) = std::mem::take(&mut self.faults[i]);
        let mut result = Ok(());
        if down {
            result = result.and(ip(&[
                "-n",
                &self.namespaces[i],
                "link",
                "set",
                &self.inner_veth(i),
                "up",
            ]));
        }
        for dir in cuts {
            result = result.and(match dir {
                Dir::AgentToMaster => ip(&[
                    "-n",
                    &self.namespaces[i],
                    "route",
                    "del",
                    "blackhole",
                    &format!("{}/32", self.master_ip),
                ]),
                Dir::MasterToAgent => ip(&[
                    "route",
                    "del",
                    "blackhole",
                    &format!("{}/32", self.agent_ips[i]),
                ]),
            });
        }
        result
    }

    /// Pids of every process in agent `i`'s namespace (the agent, its executors, their tasks).
    pub fn pids_in(&self, i: usize) -> Vec<i32> {
        Command::new("ip")
            .args(["netns", "pids", &self.namespaces[i]])
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// SIGKILLs every process in agent `i`'s namespace, as a power cut would end them.
    pub fn kill_all_in(&self, i: usize) {
        for pid in self.pids_in(i) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for i in 0..self.namespaces.len() {
            let _ = self.heal(i);
            // Processes left in a namespace would keep it (and their sockets) alive.
            self.kill_all_in(i);
            let _ = ip(&["link", "del", &self.host_veth(i)]);
            let _ = ip(&["netns", "del", &self.namespaces[i]]);
        }
        let _ = ip(&["link", "del", &self.bridge]);
    }
}

#[cfg(test)]
mod tests {
    use std::net::{SocketAddr, TcpStream};
    use std::time::{Duration, Instant};

    use super::*;

    /// Whether a TCP connection from the root namespace to `addr` completes.
    fn reaches(addr: &SocketAddr) -> bool {
        TcpStream::connect_timeout(addr, Duration::from_millis(700)).is_ok()
    }

    fn wait_reaches(addr: &SocketAddr) -> bool {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if reaches(addr) {
                return true;
            }
        }
        false
    }

    /// The nemesis' faults really cut the link (each one way suffices for TCP to fail),
    /// healing restores it, and dropping the network removes the namespace and the bridge.
    /// Needs root, as the soak does (CI runs as root).
    #[test]
    fn cuts_block_and_heals_restore_and_nothing_is_left() {
        assert!(
            nix::unistd::geteuid().is_root(),
            "this test needs root (network namespaces), as CI has"
        );
        let mut net = Net::setup(1).expect("set up a namespace");
        let ns = net.namespaces[0].clone();
        let bridge = net.bridge.clone();
        let addr: SocketAddr = format!("{}:18999", net.agent_ips[0]).parse().expect("addr");
        // A listener inside the namespace, as an agent is.
        let mut server = Command::new("ip")
            .args(["netns", "exec", &ns, "python3", "-c"])
            .arg(format!(
                "import socket\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n\
                 s.bind(('{}',18999))\ns.listen(64)\nwhile True:\n    s.accept()[0].close()",
                net.agent_ips[0]
            ))
            .spawn()
            .expect("start a listener");
        assert!(wait_reaches(&addr), "the namespace is reachable at first");
        for fault in 0..3 {
            match fault {
                0 => net.cut(0, Dir::MasterToAgent).expect("cut"),
                1 => net.cut(0, Dir::AgentToMaster).expect("cut"),
                _ => net.link_down(0).expect("link down"),
            }
            assert!(!reaches(&addr), "fault {fault} lets a connection through");
            net.heal(0).expect("heal");
            assert!(wait_reaches(&addr), "fault {fault} did not heal");
        }
        let _ = server.kill();
        let _ = server.wait();
        drop(net);
        let left = Command::new("ip")
            .args(["netns", "list"])
            .output()
            .expect("ip");
        assert!(!String::from_utf8_lossy(&left.stdout).contains(&ns));
        assert!(
            ip(&["link", "show", &bridge]).is_err(),
            "the bridge is left"
        );
    }
}
