//! `drover rootfs-launch CONFIG -- FORM…`: how a command enters a container image, as Mesos'
//! `mesos-containerizer launch --rootfs` did. The command executor (which stays in the host's
//! filesystem) starts the task, and each COMMAND check, through it. In a mount namespace of its
//! own it mounts what a container needs into the image's root filesystem — `/proc` of the
//! container's pid namespace, `/sys` read-only, a small `/dev`, the sandbox at
//! `/mnt/mesos/sandbox`, the task's host-path volumes, the host's `/etc/hosts` and
//! `/etc/resolv.conf` (tasks share the host's network) — pivots into it, drops to the task's user
//! and execs the command. It runs before any thread exists (like the I/O switchboard).
//!
//! A failure is reported on stderr (the sandbox's `stderr`) and exits 127, as a shell does for
//! a command it cannot run.

use std::ffi::{CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use serde::{Deserialize, Serialize};

/// Where the sandbox appears inside an image (Mesos' `MESOS_SANDBOX` there).
pub const SANDBOX_MOUNT: &str = "/mnt/mesos/sandbox";

/// A host path bound into the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindMount {
    /// The host's file or directory.
    pub host: PathBuf,
    /// Where it appears: absolute inside the image's root, or relative to the sandbox.
    pub target: String,
    /// Mounted read-only.
    pub read_only: bool,
}

/// What the agent writes for one container with an image (root-owned, outside the sandbox).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchConfig {
    /// The image's root filesystem, provisioned by the agent.
    pub rootfs: PathBuf,
    /// Mount options of an overlay to mount at `rootfs` first (a nested container's: the
    /// agent's own mount would not be seen in its parent's namespace).
    #[serde(default)]
    pub overlay: Option<String>,
    /// The sandbox on the host.
    pub sandbox: PathBuf,
    /// The working directory inside the image (its `WorkingDir`, else the sandbox).
    pub working_dir: String,
    /// The task's uid, gid and supplementary groups (the agent resolved the user on the host,
    /// where it owns the sandbox); `None` keeps root.
    pub user: Option<(u32, u32, Vec<u32>)>,
    /// The image's `Entrypoint` and `Cmd`, for a command without a value.
    pub entrypoint: Vec<String>,
    /// See `entrypoint`.
    pub cmd: Vec<String>,
    /// Host paths to bind (the container's volumes).
    pub volumes: Vec<BindMount>,
}

/// Runs the helper (`enter`: join running task `pid`'s namespace and root instead of making
/// them); returns only on failure, with the exit code.
pub fn main(config: &Path, enter: Option<i32>, form: &[std::ffi::OsString]) -> i32 {
    match run(config, enter, form) {
        Ok(never) => match never {},
        Err(message) => {
            eprintln!("drover rootfs-launch: {message}");
            127
        }
    }
}

enum Never {}

fn run(
    config_path: &Path,
    enter: Option<i32>,
    form: &[std::ffi::OsString],
) -> Result<Never, String> {
    let text = std::fs::read(config_path)
        .map_err(|e| format!("reading {}: {e}", config_path.display()))?;
    let config: LaunchConfig =
        serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", config_path.display()))?;
    // The program, then its argv.
    let words = command_line(&config, form)?;
    let mut env: Vec<(Vec<u8>, Vec<u8>)> = std::env::vars_os()
        .filter(|(k, _)| k != "MESOS_SANDBOX")
        .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect();
    env.push((b"MESOS_SANDBOX".to_vec(), SANDBOX_MOUNT.as_bytes().to_vec()));
    let path_var = env
        .iter()
        .find(|(k, _)| k == b"PATH")
        .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_else(|| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());

    match enter {
        Some(pid) => join(pid, &config)?,
        None => enter_image(&config)?,
    }

    let program = resolve(&words[0], &path_var)?;
    if let Some((uid, gid, groups)) = &config.user {
        use nix::unistd::{Gid, Uid, setgid, setgroups, setuid};
        let groups: Vec<Gid> = groups.iter().map(|g| Gid::from_raw(*g)).collect();
        setgroups(&groups).map_err(|e| format!("setgroups: {e}"))?;
        setgid(Gid::from_raw(*gid)).map_err(|e| format!("setgid {gid}: {e}"))?;
        setuid(Uid::from_raw(*uid)).map_err(|e| format!("setuid {uid}: {e}"))?;
    }
    let c = |bytes: &[u8]| CString::new(bytes).map_err(|_| "a NUL byte in the command".to_owned());
    let argv: Vec<CString> = words[1..]
        .iter()
        .map(|a| c(a.as_bytes()))
        .collect::<Result<_, _>>()?;
    let envp: Vec<CString> = env
        .iter()
        .map(|(k, v)| c(&[k.as_slice(), b"=", v.as_slice()].concat()))
        .collect::<Result<_, _>>()?;
    let program = c(program.as_os_str().as_bytes())?;
    let error = nix::unistd::execve(&program, &argv, &envp).unwrap_err();
    Err(format!("exec {}: {error}", program.to_string_lossy()))
}

/// The program and argv of `form`: `shell VALUE`, `exec VALUE ARGV…` (Mesos' `arguments`, argv[0]
/// included; none means just the value), or `image ARGS…` (entrypoint + ARGS, else + cmd).
fn command_line(config: &LaunchConfig, form: &[std::ffi::OsString]) -> Result<Vec<String>, String> {
    let words: Vec<String> = form
        .iter()
        .map(|w| w.to_string_lossy().into_owned())
        .collect();
    let argv = match words.split_first() {
        Some((mode, rest)) if mode == "shell" => {
            let value = rest.first().cloned().unwrap_or_default();
            vec![
                "/bin/sh".to_owned(),
                "/bin/sh".to_owned(),
                "-c".to_owned(),
                value,
            ]
        }
        Some((mode, rest)) if mode == "exec" && !rest.is_empty() => {
            // The value is executed; `arguments` are the whole argv, argv[0] included.
            let argv = if rest.len() > 1 {
                &rest[1..]
            } else {
                &rest[..1]
            };
            std::iter::once(rest[0].clone())
                .chain(argv.iter().cloned())
                .collect()
        }
        Some((mode, rest)) if mode == "image" => {
            let mut argv = config.entrypoint.clone();
            if rest.is_empty() {
                argv.extend(config.cmd.iter().cloned());
            } else {
                argv.extend(rest.iter().cloned());
            }
            if argv.is_empty() {
                return Err(
                    "the task has no command and the image defines neither an entrypoint nor a \
                     cmd"
                    .into(),
                );
            }
            std::iter::once(argv[0].clone()).chain(argv).collect()
        }
        _ => return Err(format!("bad command form {words:?}")),
    };
    Ok(argv)
}

/// `program` looked up in `path_var` inside the new root (when it has no `/`).
fn resolve(program: &str, path_var: &str) -> Result<PathBuf, String> {
    if program.contains('/') {
        return Ok(PathBuf::from(program));
    }
    for dir in path_var.split(':').filter(|d| !d.is_empty()) {
        let candidate = Path::new(dir).join(program);
        if let Ok(meta) = std::fs::metadata(&candidate) {
            use std::os::unix::fs::PermissionsExt;
            if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
                return Ok(candidate);
            }
        }
    }
    Err(format!(
        "'{program}' was not found in the image (PATH={path_var})"
    ))
}

/// A new mount namespace whose root is the image's, with the container's mounts in it.
fn enter_image(config: &LaunchConfig) -> Result<(), String> {
    use nix::sched::{CloneFlags, unshare};
    unshare(CloneFlags::CLONE_NEWNS).map_err(|e| format!("unshare(CLONE_NEWNS): {e}"))?;
    let none: Option<&str> = None;
    // Nothing below may reach the container's (or the host's) namespace.
    mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_SLAVE, none)
        .map_err(|e| format!("making / a slave mount: {e}"))?;
    let root = &config.rootfs;
    match &config.overlay {
        Some(options) => crate::provisioner::backend::mount_overlay(root, options)?,
        // pivot_root needs the new root to be a mount point.
        None => bind(root, root, false)?,
    }
    // Every place mounted or created on is checked: the image (its layers) could point
    // `/dev` or `/etc` at the host's, and this runs as root before the pivot.
    let inside = |path: &str| in_root(root, path);

    let proc_dir = inside("/proc")?;
    mkdir(&proc_dir)?;
    let quiet = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount(Some("proc"), &proc_dir, Some("proc"), quiet, none)
        .map_err(|e| format!("mounting /proc: {e}"))?;
    let sys = inside("/sys")?;
    mkdir(&sys)?;
    bind(Path::new("/sys"), &sys, true)?;
    make_dev(&inside("/dev")?)?;

    let sandbox = inside(SANDBOX_MOUNT)?;
    mkdir(&sandbox)?;
    bind(&config.sandbox, &sandbox, false)?;
    // A pod's shared volumes are links from the task's sandbox into its executor's (absolute
    // host paths): their targets appear at the same paths inside the image, so the links
    // resolve there too.
    for link in linked_dirs(&config.sandbox) {
        let target = inside(&link.display().to_string())?;
        mkdir(&target)?;
        bind(&link, &target, false)?;
    }
    for volume in &config.volumes {
        // A relative target is in the sandbox as the task sees it: under the sandbox's mount
        // point in the new root. (Mounting on the host's sandbox path instead would not show:
        // the sandbox was bound above, and a bind is a copy of the tree as it was then.)
        let target = if volume.target.starts_with('/') {
            root.join(volume.target.trim_start_matches('/'))
        } else {
            sandbox.join(&volume.target)
        };
        let target = contained(root, &sandbox, &target)?;
        if std::fs::metadata(&volume.host)
            .map(|m| m.is_dir())
            .unwrap_or(true)
        {
            mkdir(&target)?;
        } else {
            touch(&target)?;
        }
        bind(&volume.host, &target, volume.read_only)?;
    }
    // The task shares the host's network: its names and resolver, as Mesos' network isolator
    // gave an image on the host network.
    for file in ["/etc/hosts", "/etc/resolv.conf", "/etc/hostname"] {
        // An image whose file is a link (a systemd resolver's) keeps its own.
        if let (true, Ok(target)) = (Path::new(file).exists(), inside(file)) {
            if let Some(parent) = target.parent() {
                mkdir(parent)?;
            }
            touch(&target)?;
            bind(Path::new(file), &target, true)?;
        }
    }
    let tmp = inside("/tmp")?;
    if !tmp.exists() {
        mkdir(&tmp)?;
        chmod(&tmp, 0o1777)?;
    }

    nix::unistd::chdir(root).map_err(|e| format!("chdir {}: {e}", root.display()))?;
    nix::unistd::pivot_root(".", ".").map_err(|e| format!("pivot_root: {e}"))?;
    // The old root is stacked under the new one at `/`: detach it.
    umount2("/", MntFlags::MNT_DETACH).map_err(|e| format!("detaching the old root: {e}"))?;
    nix::unistd::chdir("/").map_err(|e| format!("chdir /: {e}"))?;
    let dir = if config.working_dir.is_empty() {
        SANDBOX_MOUNT
    } else {
        config.working_dir.as_str()
    };
    if !Path::new(dir).exists() {
        std::fs::create_dir_all(dir).map_err(|e| format!("working directory {dir}: {e}"))?;
    }
    nix::unistd::chdir(dir).map_err(|e| format!("chdir {dir}: {e}"))?;
    Ok(())
}

/// `path` inside the image at `root`, refusing a path whose existing components include a
/// symbolic link or `..` (nothing the agent mounts or creates may land outside the image).
fn in_root(root: &Path, path: &str) -> Result<PathBuf, String> {
    use std::path::Component;
    let mut at = root.to_path_buf();
    for part in Path::new(path).components() {
        match part {
            Component::Normal(name) => {
                at.push(name);
                if std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
                    return Err(format!(
                        "the image's {path} goes through a symbolic link ({}); nothing is \
                         mounted through one",
                        at.strip_prefix(root).unwrap_or(&at).display()
                    ));
                }
            }
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Err(format!("{path} leaves the image"));
            }
        }
    }
    Ok(at)
}

/// Enters the mount namespace and root of the running task `pid` (a COMMAND check of a task
/// in an image, as Mesos ran its checks in the task's namespaces): nothing is mounted or
/// created, so what the task did to its files cannot mislead this root process.
fn join(pid: i32, config: &LaunchConfig) -> Result<(), String> {
    use nix::sched::{CloneFlags, setns};
    let root = std::fs::File::open(format!("/proc/{pid}/root"))
        .map_err(|e| format!("the task's root (pid {pid}): {e}"))?;
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/mnt"))
        .map_err(|e| format!("the task's mount namespace (pid {pid}): {e}"))?;
    setns(&ns, CloneFlags::CLONE_NEWNS).map_err(|e| format!("setns(mount): {e}"))?;
    nix::unistd::fchdir(&root).map_err(|e| format!("fchdir to the task's root: {e}"))?;
    nix::unistd::chroot(".").map_err(|e| format!("chroot: {e}"))?;
    let dir = if config.working_dir.is_empty() {
        SANDBOX_MOUNT
    } else {
        config.working_dir.as_str()
    };
    nix::unistd::chdir(dir)
        .or_else(|_| nix::unistd::chdir("/"))
        .map_err(|e| format!("chdir {dir}: {e}"))
}

/// The absolute directories the top-level symlinks of `sandbox` point at.
fn linked_dirs(sandbox: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(sandbox) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter(|target| target.is_absolute() && target.is_dir())
        .collect()
}

/// `target` must stay inside the image's root or the sandbox even through its symlinks (an
/// image could point `/data` at the host's `/etc`: mounts follow links).
fn contained(root: &Path, sandbox: &Path, target: &Path) -> Result<PathBuf, String> {
    let mut resolved = PathBuf::new();
    // The deepest existing ancestor, resolved; the rest is created below it.
    let mut existing = target.to_path_buf();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.file_name(), existing.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name.to_owned());
                existing = parent.to_path_buf();
            }
            _ => break,
        }
    }
    if let Ok(real) = existing.canonicalize() {
        resolved.push(real);
    } else {
        resolved.push(&existing);
    }
    for name in rest.iter().rev() {
        if name == OsStr::new("..") {
            return Err(format!(
                "volume target {} leaves the container",
                target.display()
            ));
        }
        resolved.push(name);
    }
    let root_real = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let sandbox_real = sandbox
        .canonicalize()
        .unwrap_or_else(|_| sandbox.to_path_buf());
    if resolved.starts_with(&root_real) || resolved.starts_with(&sandbox_real) {
        Ok(resolved)
    } else {
        Err(format!(
            "volume target {} resolves outside the container's filesystem",
            target.display()
        ))
    }
}

/// A `/dev` of its own: a tmpfs with the host's harmless devices bound in, a private
/// devpts, `/dev/shm` and the usual links.
fn make_dev(dev: &Path) -> Result<(), String> {
    let none: Option<&str> = None;
    mkdir(dev)?;
    mount(
        Some("tmpfs"),
        dev,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("mode=755,size=65536k"),
    )
    .map_err(|e| format!("mounting /dev: {e}"))?;
    for device in ["null", "zero", "full", "random", "urandom", "tty"] {
        let host = Path::new("/dev").join(device);
        if host.exists() {
            let target = dev.join(device);
            touch(&target)?;
            bind(&host, &target, false)?;
        }
    }
    let pts = dev.join("pts");
    mkdir(&pts)?;
    mount(
        Some("devpts"),
        &pts,
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=0620"),
    )
    .map_err(|e| format!("mounting /dev/pts: {e}"))?;
    let shm = dev.join("shm");
    mkdir(&shm)?;
    mount(
        Some("tmpfs"),
        &shm,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=1777,size=65536k"),
    )
    .map_err(|e| format!("mounting /dev/shm: {e}"))?;
    for (link, target) in [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        std::os::unix::fs::symlink(target, dev.join(link))
            .map_err(|e| format!("/dev/{link}: {e}"))?;
    }
    let _ = none;
    Ok(())
}

fn bind(source: &Path, target: &Path, read_only: bool) -> Result<(), String> {
    let none: Option<&str> = None;
    mount(
        Some(source),
        target,
        none,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        none,
    )
    .map_err(|e| format!("binding {} at {}: {e}", source.display(), target.display()))?;
    if read_only {
        mount(
            none,
            target,
            none,
            MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY,
            none,
        )
        .map_err(|e| format!("making {} read-only: {e}", target.display()))?;
    }
    Ok(())
}

fn mkdir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))
}

fn touch(file: &Path) -> Result<(), String> {
    if file.exists() {
        return Ok(());
    }
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(file)
        .map(|_| ())
        .map_err(|e| format!("creating {}: {e}", file.display()))
}

fn chmod(path: &Path, mode: u32) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("chmod {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> LaunchConfig {
        LaunchConfig {
            rootfs: "/r".into(),
            overlay: None,
            sandbox: "/s".into(),
            working_dir: String::new(),
            user: None,
            entrypoint: vec!["/bin/httpd".into(), "-f".into()],
            cmd: vec!["-p".into(), "80".into()],
            volumes: vec![],
        }
    }

    fn form(words: &[&str]) -> Vec<std::ffi::OsString> {
        words.iter().map(Into::into).collect()
    }

    #[test]
    fn command_forms_follow_mesos_rules_for_images() {
        let c = config();
        // The first element is the program to execute, the rest the argv.
        assert_eq!(
            command_line(&c, &form(&["shell", "echo hi"])).unwrap(),
            ["/bin/sh", "/bin/sh", "-c", "echo hi"]
        );
        assert_eq!(
            command_line(&c, &form(&["image"])).unwrap(),
            ["/bin/httpd", "/bin/httpd", "-f", "-p", "80"]
        );
        assert_eq!(
            command_line(&c, &form(&["image", "-p", "8080"])).unwrap(),
            ["/bin/httpd", "/bin/httpd", "-f", "-p", "8080"]
        );
        assert_eq!(
            command_line(&c, &form(&["exec", "/bin/ls"])).unwrap(),
            ["/bin/ls", "/bin/ls"]
        );
        assert_eq!(
            command_line(&c, &form(&["exec", "/bin/busybox", "ls", "-l"])).unwrap(),
            ["/bin/busybox", "ls", "-l"]
        );
        let empty = LaunchConfig {
            entrypoint: vec![],
            cmd: vec![],
            ..config()
        };
        assert!(command_line(&empty, &form(&["image"])).is_err());
    }
}
