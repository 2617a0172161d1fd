//! What isolation this host offers, detected once when the agent starts.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::cgroups::{CgroupRoots, CgroupVersion};
use super::spawn;

/// The cgroup controllers the containerizer uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Controller {
    /// Memory limit and OOM accounting.
    Memory,
    /// CPU shares / weight and CFS quota.
    Cpu,
    /// CPU time accounting (v1 only; v2 has `cpu.stat` in every cgroup).
    Cpuacct,
    /// Process-count limit.
    Pids,
}

impl Controller {
    /// All controllers, in the order the summary lists them.
    pub const ALL: [Controller; 4] = [
        Controller::Memory,
        Controller::Cpu,
        Controller::Cpuacct,
        Controller::Pids,
    ];

    /// The kernel's name for the controller.
    pub fn name(self) -> &'static str {
        match self {
            Controller::Memory => "memory",
            Controller::Cpu => "cpu",
            Controller::Cpuacct => "cpuacct",
            Controller::Pids => "pids",
        }
    }
}

/// A controller's mount root, or why it cannot be used.
type ControllerState = (Controller, Result<PathBuf, String>);

/// Which isolation is available and, for what is not, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Isolation {
    /// Set when nothing at all is available for a single reason (e.g. "not root").
    off: Option<String>,
    version: Option<CgroupVersion>,
    /// Mount root of each controller, or why it cannot be used.
    controllers: Vec<ControllerState>,
    pid_namespace: Result<(), String>,
}

impl Isolation {
    /// Looks at the effective uid, `/proc/self/mounts` and the cgroup v2 `cgroup.controllers`
    /// file, and probes pid and mount namespaces with a real `clone(CLONE_NEWPID|CLONE_NEWNS)` (root inside a
    /// restricted container may still be refused).
    pub fn detect() -> Self {
        if !nix::unistd::geteuid().is_root() {
            return Self::none("not root");
        }
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        let (version, controllers) = detect_cgroups(&mounts);
        let pid_namespace = spawn::probe_pid_namespace()
            .map_err(|errno| format!("clone(CLONE_NEWPID|CLONE_NEWNS): {errno}"));
        Self {
            off: None,
            version,
            controllers,
            pid_namespace,
        }
    }

    /// No isolation, for `reason`: containers become plain processes in their own session.
    pub fn none(reason: &str) -> Self {
        Self {
            off: Some(reason.to_owned()),
            version: None,
            controllers: Controller::ALL
                .iter()
                .map(|&c| (c, Err(reason.to_owned())))
                .collect(),
            pid_namespace: Err(reason.to_owned()),
        }
    }

    /// The cgroup version in use, if any controller is usable.
    pub fn cgroup_version(&self) -> Option<CgroupVersion> {
        self.version
    }

    /// The controller's mount root, or why it is unavailable.
    pub fn controller(&self, controller: Controller) -> Result<&Path, &str> {
        self.controllers
            .iter()
            .find(|(c, _)| *c == controller)
            .map_or(Err("unknown controller"), |(_, state)| match state {
                Ok(path) => Ok(path.as_path()),
                Err(reason) => Err(reason.as_str()),
            })
    }

    /// Whether a container can get its own pid namespace, or why not.
    pub fn pid_namespace(&self) -> Result<(), &str> {
        self.pid_namespace
            .as_ref()
            .map(|_| ())
            .map_err(String::as_str)
    }

    /// One line for the agent's start-up log, e.g.
    /// `isolation: cgroups v1 memory,cpu,cpuacct,pids; pid namespace` or
    /// `isolation off: not root`.
    pub fn summary(&self) -> String {
        if let Some(reason) = &self.off {
            return format!("isolation off: {reason}");
        }
        let on: Vec<&str> = self
            .controllers
            .iter()
            .filter(|(_, state)| state.is_ok())
            .map(|(c, _)| c.name())
            .collect();
        let mut off: Vec<String> = self
            .controllers
            .iter()
            .filter_map(|(c, state)| {
                state
                    .as_ref()
                    .err()
                    .map(|why| format!("{} ({why})", c.name()))
            })
            .collect();
        if let Err(why) = &self.pid_namespace {
            off.push(format!("pid namespace ({why})"));
        }
        let mut line = String::new();
        match (self.version, on.is_empty(), self.pid_namespace.is_ok()) {
            (_, true, false) => line.push_str("isolation off"),
            (Some(version), false, pidns) => {
                let _ = write!(line, "isolation: cgroups {version} {}", on.join(","));
                if pidns {
                    line.push_str("; pid namespace");
                }
            }
            (_, _, _) => line.push_str("isolation: pid namespace"),
        }
        if !off.is_empty() {
            let _ = write!(line, "; off: {}", off.join(", "));
        }
        line
    }

    /// Mount roots of the usable controllers.
    pub(crate) fn cgroup_roots(&self) -> CgroupRoots {
        let root = |c| self.controller(c).ok().map(Path::to_path_buf);
        CgroupRoots {
            version: self.version.unwrap_or(CgroupVersion::V1),
            memory: root(Controller::Memory),
            cpu: root(Controller::Cpu),
            cpuacct: root(Controller::Cpuacct),
            pids: root(Controller::Pids),
        }
    }

    /// Switches cgroups off after the fact (the parent cgroup could not be prepared).
    pub(crate) fn disable_cgroups(&mut self, reason: &str) {
        self.version = None;
        for (_, state) in &mut self.controllers {
            *state = Err(reason.to_owned());
        }
    }
}

/// Picks one cgroup version and finds each controller's root in `mounts` (the text of
/// `/proc/self/mounts`). v1 wins when it carries any of our controllers; mixing hierarchies per
/// controller is not supported (a controller lives in only one of them anyway).
fn detect_cgroups(mounts: &str) -> (Option<CgroupVersion>, Vec<ControllerState>) {
    let ours = [Controller::Memory, Controller::Cpu, Controller::Pids];
    let mut v1: Vec<(Controller, PathBuf, bool)> = Vec::new();
    let mut v2: Option<(PathBuf, Vec<String>)> = None;
    for line in mounts.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [_, mount_point, fstype, options, ..] = fields[..] else {
            continue;
        };
        let read_only = options.split(',').any(|o| o == "ro");
        match fstype {
            "cgroup" => {
                for c in Controller::ALL {
                    if options.split(',').any(|o| o == c.name()) {
                        v1.push((c, PathBuf::from(mount_point), read_only));
                    }
                }
            }
            "cgroup2" if v2.is_none() => {
                let enabled =
                    std::fs::read_to_string(Path::new(mount_point).join("cgroup.controllers"))
                        .unwrap_or_default()
                        .split_whitespace()
                        .map(str::to_owned)
                        .collect();
                if !read_only {
                    v2 = Some((PathBuf::from(mount_point), enabled));
                }
            }
            _ => {}
        }
    }
    if ours.iter().any(|c| v1.iter().any(|(m, _, _)| m == c)) {
        let controllers = Controller::ALL
            .iter()
            .map(|&c| {
                let state = match v1.iter().find(|(m, _, _)| *m == c) {
                    Some((_, _, true)) => Err("mounted read-only".to_owned()),
                    Some((_, path, false)) => Ok(path.clone()),
                    None => Err("not mounted".to_owned()),
                };
                (c, state)
            })
            .collect();
        return (Some(CgroupVersion::V1), controllers);
    }
    if let Some((root, enabled)) = &v2 {
        let has = |c: Controller| enabled.iter().any(|e| e == c.name());
        if ours.iter().any(|&c| has(c)) {
            let controllers = Controller::ALL
                .iter()
                .map(|&c| {
                    let state = match c {
                        // v2 accounts CPU time in every cgroup's cpu.stat.
                        Controller::Cpuacct => Ok(root.clone()),
                        _ if has(c) => Ok(root.clone()),
                        _ => Err(format!(
                            "not enabled in {}/cgroup.controllers",
                            root.display()
                        )),
                    };
                    (c, state)
                })
                .collect();
            return (Some(CgroupVersion::V2), controllers);
        }
    }
    let why = match &v2 {
        Some((root, _)) => format!(
            "no v1 mount and not enabled in {}/cgroup.controllers",
            root.display()
        ),
        None => "not mounted".to_owned(),
    };
    (
        None,
        Controller::ALL
            .iter()
            .map(|&c| (c, Err(why.clone())))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// v1 mounts as on the CI machines win over a v2 mount that only carries hugetlb.
    #[test]
    fn v1_mounts_are_found() {
        let mounts = "cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0\n\
                      cgroup /sys/fs/cgroup/cpuacct cgroup rw,relatime,cpuacct 0 0\n\
                      cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0\n\
                      cgroup /sys/fs/cgroup/pids cgroup ro,relatime,pids 0 0\n\
                      cgroup2 /nonexistent/unified cgroup2 rw,relatime 0 0\n";
        let (version, controllers) = detect_cgroups(mounts);
        assert_eq!(version, Some(CgroupVersion::V1));
        assert_eq!(controllers[0].1, Ok(PathBuf::from("/sys/fs/cgroup/memory")));
        assert_eq!(
            controllers[2].1,
            Ok(PathBuf::from("/sys/fs/cgroup/cpuacct"))
        );
        assert_eq!(controllers[3].1, Err("mounted read-only".to_owned()));
    }

    /// Without any cgroup mount everything is off with a reason.
    #[test]
    fn no_mounts_means_no_cgroups() {
        let (version, controllers) = detect_cgroups("proc /proc proc rw 0 0\n");
        assert_eq!(version, None);
        assert!(
            controllers
                .iter()
                .all(|(_, s)| s == &Err("not mounted".to_owned()))
        );
    }

    /// The summary line names what is on and what is off.
    #[test]
    fn summary_lines() {
        assert_eq!(
            Isolation::none("not root").summary(),
            "isolation off: not root"
        );
        let iso = Isolation {
            off: None,
            version: Some(CgroupVersion::V1),
            controllers: vec![
                (Controller::Memory, Ok(PathBuf::from("/m"))),
                (Controller::Cpu, Ok(PathBuf::from("/c"))),
                (Controller::Cpuacct, Ok(PathBuf::from("/a"))),
                (Controller::Pids, Err("not mounted".to_owned())),
            ],
            pid_namespace: Ok(()),
        };
        assert_eq!(
            iso.summary(),
            "isolation: cgroups v1 memory,cpu,cpuacct; pid namespace; off: pids (not mounted)"
        );
    }
}
