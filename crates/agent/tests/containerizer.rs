//! The containerizer against real processes and real cgroups (run as root on a cgroup v1 host,
//! as CI does). Each test has its own temp dir and cgroup parent; a Drop guard kills every
//! process and removes every cgroup it created, also when the test fails.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use drover_agent::containerizer::{
    CommandSpec, Container, ContainerId, ContainerSpec, Containerizer, ContainerizerConfig,
    Controller, ExitStatus, Isolation, IsolationFlags, LaunchError, Limits, VolumeMount,
};

/// Generous deadline for conditions; never a synchronisation by itself.
const DEADLINE: Duration = Duration::from_secs(30);

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Skips a test that needs root (developers may run the suite unprivileged; CI runs as root).
macro_rules! require_root {
    () => {
        if !is_root() {
            eprintln!("skipped: needs root");
            return;
        }
    };
}

/// The four isolation combinations every behaviour is checked under.
const MODES: [(&str, IsolationFlags); 4] = [
    ("plain", IsolationFlags::NONE),
    (
        "cgroups",
        IsolationFlags {
            cgroups: true,
            cfs: false,
            pid_namespace: false,
        },
    ),
    (
        "pidns",
        IsolationFlags {
            cgroups: false,
            cfs: false,
            pid_namespace: true,
        },
    ),
    (
        "cgroups+pidns",
        IsolationFlags {
            cgroups: true,
            cfs: true,
            pid_namespace: true,
        },
    ),
];

struct Fixture {
    dir: tempfile::TempDir,
    parent: PathBuf,
    containerizer: Containerizer,
    /// (pid, start time) of everything launched, for the Drop guard.
    launched: Mutex<Vec<(i32, Option<u64>)>>,
}

impl Fixture {
    fn new() -> Self {
        let parent = PathBuf::from(format!("drover-test-{}", uuid::Uuid::new_v4().simple()));
        let containerizer = Containerizer::new(
            Isolation::detect(),
            ContainerizerConfig {
                cgroup_parent: parent.clone(),
            },
        );
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
            parent,
            containerizer,
            launched: Mutex::new(Vec::new()),
        }
    }

    fn spec(&self, name: &str, command: CommandSpec, isolation: IsolationFlags) -> ContainerSpec {
        ContainerSpec {
            container_id: ContainerId::new(name).expect("valid id"),
            sandbox_dir: self.dir.path().join(name),
            command,
            env: vec![("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into())],
            user: None,
            limits: Limits {
                cpus: 0.5,
                mem_mb: 64,
                disk_mb: 64,
                max_pids: Some(64),
            },
            isolation,
            terminal: None,
            volumes: Vec::new(),
        }
    }

    async fn launch(&self, spec: ContainerSpec) -> Result<Container, LaunchError> {
        let container = self.containerizer.launch(spec).await?;
        let checkpoint = container.checkpoint();
        self.launched
            .lock()
            .unwrap()
            .push((checkpoint.pid, checkpoint.start_time_ticks));
        Ok(container)
    }

    /// The cgroup directories that exist under this fixture's parent, over all controllers.
    fn cgroup_dirs(&self) -> Vec<PathBuf> {
        let mut dirs = Vec::new();
        for c in Controller::ALL {
            if let Ok(root) = self.containerizer.isolation().controller(c) {
                let parent = root.join(&self.parent);
                if let Ok(entries) = std::fs::read_dir(&parent) {
                    dirs.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
                }
            }
        }
        dirs
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        use nix::sys::signal::{Signal, kill, killpg};
        use nix::unistd::Pid;
        for &(pid, start) in self
            .launched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            // Only if the pid still is our process; parallel tests may have reused it.
            if start.is_some() && start_time(pid) == start {
                let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
        let deadline = Instant::now() + DEADLINE;
        for dir in self.cgroup_dirs() {
            loop {
                let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
                for pid in procs.lines().filter_map(|l| l.parse().ok()) {
                    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                }
                if std::fs::remove_dir(&dir).is_ok() || !dir.exists() || Instant::now() > deadline {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        for c in Controller::ALL {
            if let Ok(root) = self.containerizer.isolation().controller(c) {
                let _ = std::fs::remove_dir(root.join(&self.parent));
            }
        }
    }
}

fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..]
        .split_whitespace()
        .nth(19)?
        .parse()
        .ok()
}

/// Host pids of live (non-zombie) processes whose session id is `sid`: the container's tree
/// unless a member called setsid.
fn session_members(sid: i32) -> Vec<i32> {
    let mut members = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        // Index 0 is field 3 (state); the session is field 6.
        if fields.first() != Some(&"Z") && fields.get(3) == Some(&sid.to_string().as_str()) {
            members.push(pid);
        }
    }
    members
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rfind(')').map(|i| s[i + 2..].starts_with('Z')))
        .is_some_and(|zombie| !zombie)
}

async fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn wait_with_deadline(container: &Container) -> drover_agent::containerizer::Termination {
    tokio::time::timeout(DEADLINE, container.wait())
        .await
        .expect("container did not exit")
}

fn shell(command: &str) -> CommandSpec {
    CommandSpec::Shell(command.to_owned())
}

fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// This host (the CI kind) offers cgroups v1 with all four controllers and a pid namespace.
#[test]
fn isolation_detection_reports_cgroups_v1() {
    require_root!();
    let summary = Isolation::detect().summary();
    assert_eq!(
        summary,
        "isolation: cgroups v1 memory,cpu,cpuacct,pids; pid namespace"
    );
    let fixture = Fixture::new();
    assert_eq!(fixture.containerizer.isolation().summary(), summary);
}

/// Exit 0 and exit 3 are reported as such, and the task's output lands in the sandbox files.
#[tokio::test]
async fn exit_status_and_output_in_every_mode() {
    require_root!();
    let fixture = Fixture::new();
    for (mode, flags) in MODES {
        for code in [0, 3] {
            let name = format!("exit-{code}-{}", mode.replace('+', "-"));
            let spec = fixture.spec(
                &name,
                shell(&format!("echo out; echo err >&2; exit {code}")),
                flags,
            );
            let sandbox = spec.sandbox_dir.clone();
            let container = fixture.launch(spec).await.unwrap();
            let termination = wait_with_deadline(&container).await;
            assert_eq!(termination.status, ExitStatus::Exited(code), "{mode}");
            assert_eq!(
                termination.message,
                format!("Command exited with status {code}")
            );
            assert!(!termination.oom_killed, "{mode}");
            assert_eq!(read(sandbox.join("stdout")), "out\n", "{mode}");
            assert_eq!(read(sandbox.join("stderr")), "err\n", "{mode}");
            container.destroy().await.unwrap();
        }
    }
    assert!(
        fixture.cgroup_dirs().is_empty(),
        "destroy left cgroups: {:?}",
        fixture.cgroup_dirs()
    );
}

/// The child is in its cgroups (cat reads its own membership right after exec) and, with a pid
/// namespace, the shell is pid 2 behind the forwarding init.
#[tokio::test]
async fn child_joins_cgroups_before_exec_and_gets_own_pid_namespace() {
    require_root!();
    let fixture = Fixture::new();
    let flags = IsolationFlags {
        cgroups: true,
        cfs: false,
        pid_namespace: true,
    };
    let spec = fixture.spec("joined", shell("cat /proc/self/cgroup; echo pid=$$"), flags);
    let sandbox = spec.sandbox_dir.clone();
    let container = fixture.launch(spec).await.unwrap();
    assert!(container.pid_namespace());
    assert_eq!(
        wait_with_deadline(&container).await.status,
        ExitStatus::Exited(0)
    );
    let out = read(sandbox.join("stdout"));
    let expected = format!("/{}/joined", fixture.parent.display());
    for controller in ["memory", "cpu", "cpuacct", "pids"] {
        assert!(
            out.lines()
                .any(|l| l.ends_with(&format!(":{controller}:{expected}"))),
            "{controller} membership missing in:\n{out}"
        );
    }
    assert!(out.contains("pid=2\n"), "{out}");
    container.destroy().await.unwrap();
}

/// Limits land in the cgroup files: shares, CFS quota, memory, pids.
#[tokio::test]
async fn limits_are_written() {
    require_root!();
    let fixture = Fixture::new();
    let flags = IsolationFlags {
        cgroups: true,
        cfs: true,
        pid_namespace: false,
    };
    let container = fixture
        .launch(fixture.spec("limits", shell("exit 0"), flags))
        .await
        .unwrap();
    let cgroups = container.cgroups().clone();
    let value = |dir: &Option<PathBuf>, file: &str| read(dir.as_ref().unwrap().join(file));
    assert_eq!(value(&cgroups.cpu, "cpu.shares").trim(), "512");
    assert_eq!(value(&cgroups.cpu, "cpu.cfs_quota_us").trim(), "50000");
    assert_eq!(
        value(&cgroups.memory, "memory.limit_in_bytes").trim(),
        (64u64 << 20).to_string()
    );
    assert_eq!(value(&cgroups.pids, "pids.max").trim(), "64");
    wait_with_deadline(&container).await;
    container.destroy().await.unwrap();
    assert!(!cgroups.memory.unwrap().exists());
}

/// argv mode passes arguments verbatim (no shell expansion); shell mode interprets them.
#[tokio::test]
async fn argv_versus_shell() {
    require_root!();
    let fixture = Fixture::new();
    for (mode, flags) in MODES {
        let tag = mode.replace('+', "-");
        let mut spec = fixture.spec(
            &format!("argv-{tag}"),
            CommandSpec::Argv {
                value: "echo".into(),
                arguments: vec!["echo".into(), "$X".into(), "a  b".into()],
            },
            flags,
        );
        spec.env.push(("X".into(), "expanded".into()));
        let argv_out = spec.sandbox_dir.join("stdout");
        let container = fixture.launch(spec).await.unwrap();
        assert_eq!(
            wait_with_deadline(&container).await.status,
            ExitStatus::Exited(0)
        );
        assert_eq!(read(&argv_out), "$X a  b\n", "{mode}");
        container.destroy().await.unwrap();

        let mut spec = fixture.spec(&format!("shell-{tag}"), shell("echo $X"), flags);
        spec.env.push(("X".into(), "expanded".into()));
        let shell_out = spec.sandbox_dir.join("stdout");
        let container = fixture.launch(spec).await.unwrap();
        assert_eq!(
            wait_with_deadline(&container).await.status,
            ExitStatus::Exited(0)
        );
        assert_eq!(read(&shell_out), "expanded\n", "{mode}");
        container.destroy().await.unwrap();
    }
}

/// The task sees exactly the given environment, in order, and nothing of the agent's.
#[tokio::test]
async fn environment_is_exactly_the_given_one() {
    require_root!();
    let fixture = Fixture::new();
    for (mode, flags) in MODES {
        let mut spec = fixture.spec(
            &format!("env-{}", mode.replace('+', "-")),
            CommandSpec::Argv {
                value: "/usr/bin/env".into(),
                arguments: vec![],
            },
            flags,
        );
        spec.env = vec![
            ("B_FIRST".into(), "1".into()),
            ("A_SECOND".into(), "with space = and equals".into()),
            ("EMPTY".into(), String::new()),
        ];
        let out = spec.sandbox_dir.join("stdout");
        let container = fixture.launch(spec).await.unwrap();
        assert_eq!(
            wait_with_deadline(&container).await.status,
            ExitStatus::Exited(0)
        );
        assert_eq!(
            read(&out),
            "B_FIRST=1\nA_SECOND=with space = and equals\nEMPTY=\n",
            "{mode}"
        );
        container.destroy().await.unwrap();
    }
}

/// A user that does not exist is a launch error naming the user; an existing one is switched to
/// (uid and gid) and owns the sandbox.
#[tokio::test]
async fn user_switch_and_missing_user() {
    require_root!();
    let fixture = Fixture::new();
    let mut spec = fixture.spec("nouser", shell("true"), IsolationFlags::default());
    spec.user = Some("no-such-user-drover".into());
    let err = fixture.launch(spec).await.unwrap_err();
    assert!(matches!(&err, LaunchError::UserNotFound { user } if user == "no-such-user-drover"));
    assert_eq!(err.to_string(), "user 'no-such-user-drover' does not exist");
    assert!(
        fixture.cgroup_dirs().is_empty(),
        "failed launch left cgroups"
    );

    for (mode, flags) in MODES {
        let mut spec = fixture.spec(
            &format!("nobody-{}", mode.replace('+', "-")),
            shell("id -u; id -g; touch mine"),
            flags,
        );
        spec.user = Some("nobody".into());
        let sandbox = spec.sandbox_dir.clone();
        let container = fixture.launch(spec).await.unwrap();
        assert_eq!(
            wait_with_deadline(&container).await.status,
            ExitStatus::Exited(0),
            "{mode}"
        );
        let nobody = drover_agent::containerizer::lookup_user("nobody").unwrap();
        assert_eq!(
            read(sandbox.join("stdout")),
            format!("{}\n{}\n", nobody.uid, nobody.gid)
        );
        assert!(
            sandbox.join("mine").exists(),
            "{mode}: sandbox not writable by the user"
        );
        container.destroy().await.unwrap();
    }
}

/// argv mode: a missing executable is a LaunchError; shell mode: the shell exits 127.
#[tokio::test]
async fn nonexistent_executable() {
    require_root!();
    let fixture = Fixture::new();
    for (mode, flags) in MODES {
        let tag = mode.replace('+', "-");
        for value in ["no-such-program-drover", "/no/such/program"] {
            let spec = fixture.spec(
                &format!("noexec-{tag}"),
                CommandSpec::Argv {
                    value: value.into(),
                    arguments: vec![],
                },
                flags,
            );
            let err = fixture.launch(spec).await.unwrap_err();
            assert!(
                matches!(&err, LaunchError::ExecutableNotFound { program } if program == value),
                "{mode}: {err:?}"
            );
        }
        // A file that exists but cannot be exec'ed gets through the lookup and fails in the
        // child: the error names the exec step.
        let script = fixture.dir.path().join("not-a-binary");
        std::fs::write(&script, "\x7fELFgarbage").unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let spec = fixture.spec(
            &format!("badexec-{tag}"),
            CommandSpec::Argv {
                value: script.display().to_string(),
                arguments: vec![],
            },
            flags,
        );
        let err = fixture.launch(spec).await.unwrap_err();
        assert!(
            matches!(
                err,
                LaunchError::Spawn {
                    stage: drover_agent::containerizer::SpawnStage::Exec,
                    ..
                }
            ),
            "{mode}: {err:?}"
        );

        let spec = fixture.spec(
            &format!("noexec-shell-{tag}"),
            shell("no-such-program-drover"),
            flags,
        );
        let stderr = spec.sandbox_dir.join("stderr");
        let container = fixture.launch(spec).await.unwrap();
        assert_eq!(
            wait_with_deadline(&container).await.status,
            ExitStatus::Exited(127)
        );
        assert!(read(&stderr).contains("not found"), "{mode}");
        container.destroy().await.unwrap();
    }
    assert!(
        fixture.cgroup_dirs().is_empty(),
        "failed launches left cgroups"
    );
}

/// 32 MiB of memory and a task that needs 200 MiB: the kernel kills it and we say it was the
/// OOM killer.
#[tokio::test]
async fn oom_kill_is_reported() {
    require_root!();
    let fixture = Fixture::new();
    for (mode, pid_namespace) in [("cgroups", false), ("cgroups+pidns", true)] {
        let flags = IsolationFlags {
            cgroups: true,
            cfs: false,
            pid_namespace,
        };
        // tail has to keep the whole newline-free input in memory.
        let mut spec = fixture.spec(
            &format!("oom-{}", mode.replace('+', "-")),
            CommandSpec::Argv {
                value: "/bin/sh".into(),
                arguments: vec![
                    "sh".into(),
                    "-c".into(),
                    "head -c 200M /dev/zero | tail".into(),
                ],
            },
            flags,
        );
        spec.limits.mem_mb = 32;
        let container = fixture.launch(spec).await.unwrap();
        let termination = wait_with_deadline(&container).await;
        assert!(termination.oom_killed, "{mode}: {termination:?}");
        assert!(
            termination
                .message
                .starts_with("Memory limit exceeded: Requested: 32MB Maximum Used: "),
            "{mode}: {}",
            termination.message
        );
        // Usually the OOM killer picks tail and sh reports that as 128 + 9. While tail's
        // memory is still being freed a second OOM can pick sh itself (or the namespace init),
        // so a SIGKILL of the task is just as valid; the verdict comes from the cgroup.
        assert!(
            matches!(
                termination.status,
                ExitStatus::Exited(137) | ExitStatus::Signaled(9)
            ),
            "{mode}: {termination:?}"
        );
        assert!(container.stats().oom_kills.unwrap() >= 1);
        container.destroy().await.unwrap();
    }
}

/// A SIGKILL from outside is just a signal, not an OOM kill, even with a memory limit.
#[tokio::test]
async fn external_sigkill_is_not_oom() {
    require_root!();
    let fixture = Fixture::new();
    for (mode, flags) in MODES {
        let mut spec = fixture.spec(
            &format!("sigkill-{}", mode.replace('+', "-")),
            shell("exec sleep 1000"),
            flags,
        );
        spec.limits.mem_mb = 32;
        let container = fixture.launch(spec).await.unwrap();
        assert!(!container.has_exited());
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(container.pid()),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        let termination = wait_with_deadline(&container).await;
        assert_eq!(
            termination.status,
            ExitStatus::Signaled(libc_sigkill()),
            "{mode}"
        );
        assert!(!termination.oom_killed, "{mode}");
        assert_eq!(termination.message, "Command terminated with signal Killed");
        container.destroy().await.unwrap();
    }
}

fn libc_sigkill() -> i32 {
    nix::sys::signal::Signal::SIGKILL as i32
}

/// A task that traps SIGTERM and exits 0 gets SIGTERM and finishes within the grace.
#[tokio::test]
async fn kill_sends_term_first() {
    require_root!();
    let fixture = Fixture::new();
    for (mode, flags) in MODES {
        let spec = fixture.spec(
            &format!("term-{}", mode.replace('+', "-")),
            shell("trap 'echo got-term; exit 0' TERM; touch ready; while :; do sleep 0.05; done"),
            flags,
        );
        let sandbox = spec.sandbox_dir.clone();
        let container = fixture.launch(spec).await.unwrap();
        wait_for("trap to be installed", || sandbox.join("ready").exists()).await;
        let outcome = container.kill(DEADLINE).await.unwrap();
        assert!(!outcome.escalated, "{mode}");
        assert_eq!(
            wait_with_deadline(&container).await.status,
            ExitStatus::Exited(0),
            "{mode}"
        );
        assert_eq!(read(sandbox.join("stdout")), "got-term\n", "{mode}");
        container.destroy().await.unwrap();
    }
}

/// A task that ignores SIGTERM is SIGKILLed once the grace period is over.
#[tokio::test]
async fn kill_escalates_after_grace() {
    require_root!();
    let fixture = Fixture::new();
    for (mode, flags) in MODES {
        let spec = fixture.spec(
            &format!("ignore-{}", mode.replace('+', "-")),
            shell("trap '' TERM; touch ready; while :; do sleep 0.05; done"),
            flags,
        );
        let sandbox = spec.sandbox_dir.clone();
        let container = fixture.launch(spec).await.unwrap();
        wait_for("trap to be installed", || sandbox.join("ready").exists()).await;
        let started = Instant::now();
        let grace = Duration::from_millis(300);
        let outcome = container.kill(grace).await.unwrap();
        assert!(outcome.escalated, "{mode}");
        assert!(
            started.elapsed() >= grace,
            "{mode}: escalated before the grace period"
        );
        let termination = wait_with_deadline(&container).await;
        assert_eq!(
            termination.status,
            ExitStatus::Signaled(libc_sigkill()),
            "{mode}"
        );
        assert!(!termination.oom_killed);
        container.destroy().await.unwrap();
    }
}

/// After kill, nothing of the tree is left: background children, and with cgroups or a pid
/// namespace even a child that escaped into its own session.
#[tokio::test]
async fn kill_leaves_no_process_of_the_tree() {
    require_root!();
    let fixture = Fixture::new();
    for (mode, flags) in MODES {
        let contained = flags.cgroups || flags.pid_namespace;
        // A plain process group cannot hold a child that calls setsid; only test that where the
        // containerizer promises it.
        let escapee = if contained {
            "setsid sleep 1000 & "
        } else {
            ""
        };
        let spec = fixture.spec(
            &format!("tree-{}", mode.replace('+', "-")),
            shell(&format!("sleep 1000 & {escapee}touch ready; wait")),
            flags,
        );
        let sandbox = spec.sandbox_dir.clone();
        let container = fixture.launch(spec).await.unwrap();
        wait_for("children to start", || sandbox.join("ready").exists()).await;
        let session = container.pid();
        let mut tree: Vec<i32> = session_members(session);
        if let Some(memory) = &container.cgroups().memory {
            let expected = 2 + usize::from(flags.pid_namespace) + usize::from(contained);
            wait_for("all processes in the cgroup", || {
                read(memory.join("cgroup.procs")).lines().count() >= expected
            })
            .await;
            tree.extend(
                read(memory.join("cgroup.procs"))
                    .lines()
                    .filter_map(|l| l.parse::<i32>().ok()),
            );
        }
        assert!(tree.len() >= 2, "{mode}: tree {tree:?}");
        container.kill(Duration::from_secs(5)).await.unwrap();
        wait_for("the tree to be gone", || tree.iter().all(|&p| !alive(p))).await;
        assert!(session_members(session).is_empty(), "{mode}");
        container.destroy().await.unwrap();
    }
}

/// Survival: the handle is dropped (as when the agent exits), the process keeps running, and a
/// handle recovered from the checkpoint can kill and wait for it.
#[tokio::test]
async fn recover_after_dropping_the_handle() {
    require_root!();
    let fixture = Fixture::new();
    for (mode, flags) in MODES {
        let container = fixture
            .launch(fixture.spec(
                &format!("survive-{}", mode.replace('+', "-")),
                shell("exec sleep 1000"),
                flags,
            ))
            .await
            .unwrap();
        let checkpoint = container.checkpoint().clone();
        drop(container);
        assert!(
            alive(checkpoint.pid),
            "{mode}: process died with its handle"
        );

        let recovered = fixture.containerizer.recover(checkpoint.clone()).unwrap();
        assert!(!recovered.has_exited(), "{mode}");
        assert_eq!(recovered.pid(), checkpoint.pid);
        let outcome = recovered.kill(Duration::from_secs(10)).await.unwrap();
        assert!(!outcome.escalated, "{mode}");
        let termination = wait_with_deadline(&recovered).await;
        // Still our child in this test, so the status is known: SIGTERM for the plain
        // process; in pid-namespace mode the init's exit code 128 + 15 (the exact status
        // went into a pipe that only the original handle had).
        let expected = if flags.pid_namespace {
            ExitStatus::Exited(143)
        } else {
            ExitStatus::Signaled(15)
        };
        assert_eq!(termination.status, expected, "{mode}");
        assert!(!alive(checkpoint.pid));
        recovered.destroy().await.unwrap();
    }
    assert!(fixture.cgroup_dirs().is_empty());
}

/// A checkpointed pid that is gone, or now belongs to another process, yields a handle that is
/// already terminated and never signals the stranger.
#[tokio::test]
async fn recover_refuses_recycled_pids() {
    require_root!();
    let fixture = Fixture::new();
    let container = fixture
        .launch(fixture.spec("gone", shell("exit 0"), IsolationFlags::NONE))
        .await
        .unwrap();
    wait_with_deadline(&container).await;
    let gone = fixture
        .containerizer
        .recover(container.checkpoint().clone())
        .unwrap();
    assert!(gone.has_exited());
    assert_eq!(wait_with_deadline(&gone).await.status, ExitStatus::Unknown);

    // A live process with the checkpointed pid but another start time: a recycled pid.
    let mut stranger = std::process::Command::new("sleep")
        .arg("1000")
        .spawn()
        .unwrap();
    let mut checkpoint = container.checkpoint().clone();
    checkpoint.pid = stranger.id() as i32;
    checkpoint.start_time_ticks = start_time(checkpoint.pid).map(|t| t + 1);
    let recycled = fixture.containerizer.recover(checkpoint).unwrap();
    assert!(recycled.has_exited());
    recycled.kill(Duration::from_millis(100)).await.unwrap();
    assert!(
        alive(stranger.id() as i32),
        "kill reached an unrelated process"
    );
    stranger.kill().unwrap();
    stranger.wait().unwrap();
}

/// The sandbox's disk usage counts a 5 MiB file the task wrote.
#[tokio::test]
async fn sandbox_disk_usage_counts_written_file() {
    require_root!();
    let fixture = Fixture::new();
    let spec = fixture.spec(
        "disk",
        shell("head -c 5M /dev/zero > blob && sync"),
        IsolationFlags::default(),
    );
    let container = fixture.launch(spec).await.unwrap();
    assert_eq!(
        wait_with_deadline(&container).await.status,
        ExitStatus::Exited(0)
    );
    let used = container.sandbox_usage_bytes().await.unwrap();
    assert!((5 << 20..6 << 20).contains(&used), "usage {used}");
    container.destroy().await.unwrap();
}

/// Stats come from the cgroups while the task runs.
#[tokio::test]
async fn stats_from_cgroups() {
    require_root!();
    let fixture = Fixture::new();
    let spec = fixture.spec(
        "stats",
        shell("i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; touch ready; exec sleep 1000"),
        IsolationFlags::default(),
    );
    let sandbox = spec.sandbox_dir.clone();
    let container = fixture.launch(spec).await.unwrap();
    wait_for("busy loop to finish", || sandbox.join("ready").exists()).await;
    let stats = container.stats();
    assert!(stats.mem_usage_bytes.unwrap() > 0, "{stats:?}");
    assert_eq!(stats.mem_limit_bytes, Some(64 << 20));
    assert!(stats.cpu_usage_secs.unwrap() > 0.0, "{stats:?}");
    assert!(stats.cpu_user_secs.is_some() && stats.cpu_system_secs.is_some());
    assert_eq!(stats.oom_kills, Some(0));
    assert!(stats.pids_current.unwrap() >= 1);
    container.destroy().await.unwrap();
    let termination = container.wait().await;
    assert_eq!(termination.status, ExitStatus::Signaled(libc_sigkill()));
}

/// Orphan cgroups (no checkpoint knows them) can be listed and destroyed with what runs inside.
#[tokio::test]
async fn orphans_are_listed_and_destroyed() {
    require_root!();
    let fixture = Fixture::new();
    let flags = IsolationFlags {
        cgroups: true,
        cfs: false,
        pid_namespace: false,
    };
    let container = fixture
        .launch(fixture.spec("orphan", shell("exec sleep 1000"), flags))
        .await
        .unwrap();
    let pid = container.pid();
    drop(container);
    let ids = fixture.containerizer.cgroup_container_ids();
    assert_eq!(ids, vec![ContainerId::new("orphan").unwrap()]);
    fixture.containerizer.destroy_orphan(&ids[0]).await.unwrap();
    wait_for("orphan to die", || !alive(pid)).await;
    assert!(fixture.cgroup_dirs().is_empty());
    // Our own child: reap it so it does not linger as a zombie.
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
}

/// Unprivileged callers get plain processes; the summary says why.
#[tokio::test]
async fn no_isolation_still_launches() {
    let dir = tempfile::tempdir().unwrap();
    let containerizer =
        Containerizer::new(Isolation::none("not root"), ContainerizerConfig::default());
    assert_eq!(
        containerizer.isolation().summary(),
        "isolation off: not root"
    );
    let spec = ContainerSpec {
        container_id: ContainerId::new("plain").unwrap(),
        sandbox_dir: dir.path().join("plain"),
        command: shell("echo hi"),
        env: vec![],
        user: None,
        limits: Limits {
            cpus: 1.0,
            mem_mb: 32,
            disk_mb: 0,
            max_pids: None,
        },
        isolation: IsolationFlags::default(),
        terminal: None,
        volumes: Vec::new(),
    };
    let container = containerizer.launch(spec).await.unwrap();
    assert!(container.cgroups().is_empty() && !container.pid_namespace());
    assert_eq!(
        wait_with_deadline(&container).await.status,
        ExitStatus::Exited(0)
    );
    assert_eq!(read(dir.path().join("plain/stdout")), "hi\n");
    container.destroy().await.unwrap();
}

/// Mount points of the test's own (the host's) mount namespace at or below `dir`.
fn host_mounts_under(dir: &Path) -> Vec<String> {
    let real = std::fs::canonicalize(dir).unwrap();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| Path::new(m).starts_with(&real))
        .map(str::to_owned)
        .collect()
}

/// With a mount namespace (pid-namespace isolation) persistent volumes are bind mounts at
/// their sandbox paths inside the container only: the task sees mount points (a read-only
/// one refuses writes), the host sees empty directories and no mount, and what the task
/// wrote is in the volume afterwards.
#[tokio::test]
async fn volumes_are_bind_mounts_inside_the_container_only() {
    require_root!();
    let fixture = Fixture::new();
    let rw = fixture.dir.path().join("volume-rw");
    let ro = fixture.dir.path().join("volume-ro");
    for (dir, seed) in [(&rw, "rw seed\n"), (&ro, "ro seed\n")] {
        std::fs::create_dir(dir).unwrap();
        std::fs::write(dir.join("seed"), seed).unwrap();
    }
    let script = r#"
        real=$(pwd -P)
        awk -v p="$real/data" '$5 == p {print "data", $6}' /proc/self/mountinfo
        awk -v p="$real/conf/ro" '$5 == p {print "conf/ro", $6}' /proc/self/mountinfo
        cat data/seed conf/ro/seed
        echo written > data/new
        if touch conf/ro/probe 2>/dev/null; then echo ro writable; else echo ro refused; fi
        if [ -L data ]; then echo data link; else echo data not a link; fi
        echo ready
        i=0
        while [ ! -e go ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
    "#;
    for (mode, flags) in MODES.into_iter().filter(|(_, f)| f.pid_namespace) {
        let name = format!("volumes-{}", mode.replace('+', "-"));
        let mut spec = fixture.spec(&name, shell(script), flags);
        spec.volumes = vec![
            VolumeMount {
                source: rw.clone(),
                container_path: "data".into(),
                read_only: false,
            },
            VolumeMount {
                source: ro.clone(),
                container_path: "conf/ro".into(),
                read_only: true,
            },
        ];
        let sandbox = spec.sandbox_dir.clone();
        let container = fixture.launch(spec).await.unwrap();
        assert!(container.pid_namespace(), "{mode}");
        wait_for("the task to look at its volumes", || {
            read(sandbox.join("stdout")).contains("ready\n")
        })
        .await;
        // While the container runs: no mount on the host, empty real directories there.
        assert_eq!(host_mounts_under(fixture.dir.path()), Vec::<String>::new());
        for path in ["data", "conf/ro"] {
            let meta = std::fs::symlink_metadata(sandbox.join(path)).unwrap();
            assert!(
                meta.is_dir() && !meta.file_type().is_symlink(),
                "{mode} {path}"
            );
            assert_eq!(
                std::fs::read_dir(sandbox.join(path)).unwrap().count(),
                0,
                "{mode}: {path} is empty on the host"
            );
        }
        std::fs::write(sandbox.join("go"), b"").unwrap();
        assert_eq!(
            wait_with_deadline(&container).await.status,
            ExitStatus::Exited(0),
            "{mode}: {}",
            read(sandbox.join("stderr"))
        );
        let out = read(sandbox.join("stdout"));
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("data rw"), "{mode}: {out}");
        assert!(lines[1].starts_with("conf/ro ro"), "{mode}: {out}");
        assert_eq!(
            &lines[2..],
            [
                "rw seed",
                "ro seed",
                "ro refused",
                "data not a link",
                "ready"
            ],
            "{mode}"
        );
        assert_eq!(read(rw.join("new")), "written\n", "{mode}");
        assert!(!ro.join("probe").exists(), "{mode}");
        container.destroy().await.unwrap();
        // The namespace is gone: the mount points are empty directories, and deleting the
        // sandbox leaves the volumes alone.
        assert_eq!(std::fs::read_dir(sandbox.join("data")).unwrap().count(), 0);
        std::fs::remove_dir_all(&sandbox).unwrap();
        assert_eq!(read(rw.join("seed")), "rw seed\n");
        std::fs::remove_file(rw.join("new")).unwrap();
    }
}

/// A volume the container's init cannot mount fails the launch, naming the volume and why;
/// without a mount namespace bind mounts are refused (the agent links volumes instead).
#[tokio::test]
async fn a_volume_that_cannot_be_mounted_fails_the_launch() {
    require_root!();
    let fixture = Fixture::new();
    let good = fixture.dir.path().join("volume");
    std::fs::create_dir(&good).unwrap();
    let flags = IsolationFlags {
        cgroups: true,
        cfs: false,
        pid_namespace: true,
    };
    // This process's /proc entry is a directory on the host but not in the container's own
    // /proc (another pid namespace): the parent's checks pass, the init's mount fails.
    let unseen = PathBuf::from(format!("/proc/{}", std::process::id()));
    let mut spec = fixture.spec("unmountable", shell("echo ran"), flags);
    spec.volumes = vec![
        VolumeMount {
            source: good.clone(),
            container_path: "ok".into(),
            read_only: false,
        },
        VolumeMount {
            source: unseen.clone(),
            container_path: "gone".into(),
            read_only: true,
        },
    ];
    let sandbox = spec.sandbox_dir.clone();
    let error = fixture.launch(spec).await.unwrap_err();
    let message = format!("{:#}", anyhow::Error::new(error));
    assert!(
        message.contains(&format!(
            "bind-mounting persistent volume {} at 'gone' of the sandbox",
            unseen.display()
        )) && message.contains("No such file or directory"),
        "{message}"
    );
    assert_eq!(read(sandbox.join("stdout")), "");
    assert!(
        fixture.cgroup_dirs().is_empty(),
        "{:?}",
        fixture.cgroup_dirs()
    );
    assert_eq!(host_mounts_under(fixture.dir.path()), Vec::<String>::new());

    // A missing volume, or a mount point that is a link, is refused before anything starts.
    let mut spec = fixture.spec("missing", shell("echo ran"), flags);
    spec.volumes = vec![VolumeMount {
        source: fixture.dir.path().join("no-such-volume"),
        container_path: "data".into(),
        read_only: false,
    }];
    let message = format!(
        "{:#}",
        anyhow::Error::new(fixture.launch(spec).await.unwrap_err())
    );
    assert!(message.contains("at 'data' of the sandbox"), "{message}");
    let mut spec = fixture.spec("linked", shell("echo ran"), flags);
    std::fs::create_dir_all(&spec.sandbox_dir).unwrap();
    std::os::unix::fs::symlink("/etc", spec.sandbox_dir.join("data")).unwrap();
    spec.volumes = vec![VolumeMount {
        source: good.clone(),
        container_path: "data".into(),
        read_only: false,
    }];
    let message = format!(
        "{:#}",
        anyhow::Error::new(fixture.launch(spec).await.unwrap_err())
    );
    assert!(message.contains("is not a directory"), "{message}");

    // Without a mount namespace there is nowhere to mount them.
    let mut spec = fixture.spec("posix", shell("echo ran"), IsolationFlags::NONE);
    spec.volumes = vec![VolumeMount {
        source: good,
        container_path: "data".into(),
        read_only: false,
    }];
    let message = format!(
        "{:#}",
        anyhow::Error::new(fixture.launch(spec).await.unwrap_err())
    );
    assert!(
        message.contains("need the container's own mount namespace"),
        "{message}"
    );
}

/// The driver shares handles between tasks (one waits while another kills).
#[test]
fn container_handle_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Container>();
    assert_send_sync::<Containerizer>();
}

/// Container ids must be safe cgroup path components.
#[test]
fn container_ids_are_validated() {
    assert!(ContainerId::new("a-b_c.1").is_ok());
    for bad in ["", ".", "..", "a/b", "a b", "x\0"] {
        assert!(ContainerId::new(bad).is_err(), "{bad:?}");
    }
}
