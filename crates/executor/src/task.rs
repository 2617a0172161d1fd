//! Turning a task's `CommandInfo` into a process: `/bin/sh -c` or argv, the executor's
//! environment plus the task's, in its own process group so a kill reaches the whole tree.

use drover_wire::v1;

/// The container image's launch configuration, when the agent runs this executor's task in an
/// image (`--task_rootfs_config`): every command of the task (and its COMMAND checks) then
/// starts through `drover rootfs-launch`, which enters the image's root filesystem.
static ROOTFS_CONFIG: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

/// Makes every later [`command`] run in the image `config` describes.
pub fn run_in_rootfs(config: std::path::PathBuf) {
    let _ = ROOTFS_CONFIG.set(config);
}

/// The running task's pid, once it started: later commands (its COMMAND checks) join its
/// mount namespace and root instead of building their own.
static TASK_PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();

/// Records the task's pid (see [`command`]).
pub fn task_started(pid: u32) {
    let _ = TASK_PID.set(pid);
}

/// Whether commands run in a container image's root filesystem.
pub fn in_rootfs() -> bool {
    ROOTFS_CONFIG.get().is_some()
}

/// The command for `info` with `env` (the task's complete environment).
pub fn command(info: &v1::CommandInfo, env: &[(String, String)]) -> tokio::process::Command {
    if let Some(config) = ROOTFS_CONFIG.get() {
        return in_image(config, info, env);
    }
    let value = info.value.clone().unwrap_or_default();
    let mut cmd = if info.shell.unwrap_or(true) {
        let mut c = tokio::process::Command::new("/bin/sh");
        c.arg("-c").arg(value);
        c
    } else {
        let mut c = tokio::process::Command::new(&value);
        // Mesos passes `arguments` as the complete argv, argv[0] included.
        if let Some((first, rest)) = info.arguments.split_first() {
            c.arg0(first).args(rest);
        }
        c
    };
    cmd.env_clear();
    cmd.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    cmd
}

/// `drover rootfs-launch CONFIG -- <form>`: the helper enters the image's root filesystem, as
/// the task's user, and execs the command. The form follows Mesos' rules for a command in a
/// Docker image: `shell VALUE` (`/bin/sh -c` of the image), `exec VALUE ARGV…`, or, with
/// `shell: false` and no value, `image ARGS…` (the image's entrypoint, then `arguments`
/// instead of its cmd).
fn in_image(
    config: &std::path::Path,
    info: &v1::CommandInfo,
    env: &[(String, String)],
) -> tokio::process::Command {
    let launcher = std::env::current_exe().unwrap_or_else(|_| "/proc/self/exe".into());
    let mut cmd = tokio::process::Command::new(launcher);
    cmd.arg("rootfs-launch").arg(config);
    if let Some(pid) = TASK_PID.get() {
        cmd.arg("--enter").arg(pid.to_string());
    }
    cmd.arg("--");
    let value = info.value.clone().unwrap_or_default();
    if info.shell.unwrap_or(true) {
        cmd.arg("shell").arg(value);
    } else if value.is_empty() {
        cmd.arg("image").args(&info.arguments);
    } else {
        cmd.arg("exec").arg(value).args(&info.arguments);
    }
    cmd.env_clear();
    cmd.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    cmd
}

/// The task's environment: the executor's own (what the agent set, spec §4.4, without its
/// authentication token) and the task's `CommandInfo.environment` on top.
pub fn environment(info: &v1::CommandInfo) -> Vec<(String, String)> {
    // The executor's token is its own: a task holding it could speak for the executor.
    let mut env: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k != "MESOS_EXECUTOR_AUTHENTICATION_TOKEN")
        .collect();
    if let Some(extra) = &info.environment {
        for var in &extra.variables {
            // A SECRET variable was resolved by the agent into this container's environment
            // (inherited above); the message carries only its reference.
            if var.r#type == Some(v1::environment::variable::Type::Secret as i32) {
                continue;
            }
            let value = var.value.clone().unwrap_or_default();
            env.retain(|(k, _)| k != &var.name);
            env.push((var.name.clone(), value));
        }
    }
    env
}

/// The grace between SIGTERM and SIGKILL: the KILL's own policy, else the task's, else
/// `default`.
pub fn kill_grace(
    kill: Option<v1::KillPolicy>,
    task: Option<v1::KillPolicy>,
    default: std::time::Duration,
) -> std::time::Duration {
    kill.or(task)
        .and_then(|p| p.grace_period)
        .map(|d| std::time::Duration::from_nanos(d.nanoseconds.max(0) as u64))
        .unwrap_or(default)
}

/// Mesos' message for how the command ended.
pub fn exit_message(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("Command exited with status {code}"),
        (None, Some(signal)) => {
            let name = nix::sys::signal::Signal::try_from(signal)
                .map(|s| signal_text(s).to_owned())
                .unwrap_or_else(|_| format!("Unknown signal {signal}"));
            format!("Command terminated with signal {name}")
        }
        _ => "Command terminated".to_owned(),
    }
}

fn signal_text(signal: nix::sys::signal::Signal) -> &'static str {
    use nix::sys::signal::Signal::*;
    match signal {
        SIGKILL => "Killed",
        SIGTERM => "Terminated",
        SIGINT => "Interrupt",
        SIGHUP => "Hangup",
        SIGSEGV => "Segmentation fault",
        SIGABRT => "Aborted",
        SIGQUIT => "Quit",
        SIGPIPE => "Broken pipe",
        SIGBUS => "Bus error",
        SIGFPE => "Floating point exception",
        SIGILL => "Illegal instruction",
        _ => signal.as_str(),
    }
}
