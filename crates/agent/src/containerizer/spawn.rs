//! Starting a container's first process: `clone(2)`, then async-signal-safe set-up in the child,
//! then `execve`.
//!
//! Why not `std::process::Command` with `pre_exec`:
//!
//! * A pid namespace needs `clone(CLONE_NEWPID)`: `unshare(CLONE_NEWPID)` in `pre_exec` would
//!   only put the exec'ed program's *children* into the namespace, and the namespace's init
//!   must be a process of ours (see below), not the task.
//! * The child must join its cgroups before exec, so that nothing it allocates or forks escapes
//!   accounting. The `cgroup.procs` files are opened in the parent; the child only `write`s
//!   "0" ("the writing process") into each, one async-signal-safe syscall per controller. The
//!   alternative, the parent writing the child's pid after spawn, races with the task's first
//!   fork and charges its first allocations to the agent's cgroup.
//! * `clone(CLONE_PIDFD)` gives a pidfd atomically, so waiting and signalling can never hit a
//!   recycled pid.
//! * Like `posix_spawn`, a child that execs right away shares the agent's memory until it does
//!   (`CLONE_VM | CLONE_VFORK`), which `pre_exec` rules out.
//!
//! In pid-namespace mode the clone child is pid 1 of the new namespace and stays a tiny init
//! (no exec): it forks the task, forwards every signal it receives to all processes of the
//! namespace, reaps orphans, and exits when the task exits, after writing the task's raw wait
//! status into a pipe for the agent. The kernel then SIGKILLs whatever is left in the namespace.
//! Without it the task itself would be pid 1, which the kernel shields from every signal it has
//! no handler for, so a plain `sleep` would ignore SIGTERM.
//!
//! The init also sets up the container's mount namespace before it forks the task: mounts
//! made private (nothing propagates to the host), its own `/proc`, a read-only `/sys`, and the
//! container's persistent volumes bound at their paths of the sandbox (read-only ones
//! remounted so), as Mesos' `filesystem/linux` isolator did for a container without an image.
//! A failed mount fails the launch, naming the volume.
//!
//! Rules for the child code, which runs in a copy of a multi-threaded process: no allocation, no
//! locks, no panics; only thin syscall wrappers of `libc` (or `syscall` itself where glibc's
//! wrapper takes locks, as for the credential calls), on data prepared by the parent.

use std::ffi::{CString, c_char, c_int, c_long};
use std::fmt;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;

use nix::errno::Errno;

/// The step of the child's set-up that failed, reported through the exec-status pipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum SpawnStage {
    /// `setsid`.
    Setsid = 1,
    /// Writing to a `cgroup.procs` file.
    JoinCgroup = 2,
    /// `dup2` of stdin/stdout/stderr.
    Stdio = 3,
    /// `chdir` into the sandbox.
    Chdir = 4,
    /// `setgroups`.
    Setgroups = 5,
    /// `setgid`.
    Setgid = 6,
    /// `setuid`.
    Setuid = 7,
    /// `execve`.
    Exec = 8,
    /// The namespace init's `fork` of the task.
    Fork = 9,
    /// Mounting the container's own `/proc` (and a read-only `/sys`) in its mount namespace.
    Mount = 10,
    /// Bind-mounting a persistent volume into the sandbox in the container's mount namespace
    /// (the report names which, by its index in [`SpawnPlan::mounts`]).
    VolumeMount = 11,
}

impl SpawnStage {
    fn from_u32(n: u32) -> Option<Self> {
        use SpawnStage::*;
        [
            Setsid,
            JoinCgroup,
            Stdio,
            Chdir,
            Setgroups,
            Setgid,
            Setuid,
            Exec,
            Fork,
            Mount,
            VolumeMount,
        ]
        .into_iter()
        .find(|s| *s as u32 == n)
    }
}

impl fmt::Display for SpawnStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SpawnStage::Mount => "mounting the container's /proc and /sys",
            SpawnStage::VolumeMount => "bind-mounting a persistent volume into the sandbox",
            SpawnStage::Setsid => "setsid",
            SpawnStage::JoinCgroup => "joining cgroup",
            SpawnStage::Stdio => "redirecting stdio",
            SpawnStage::Chdir => "chdir to sandbox",
            SpawnStage::Setgroups => "setgroups",
            SpawnStage::Setgid => "setgid",
            SpawnStage::Setuid => "setuid",
            SpawnStage::Exec => "exec",
            SpawnStage::Fork => "fork of the task by the namespace init",
        })
    }
}

/// Ids the child switches to after joining its cgroups and namespace (which need root).
#[derive(Debug)]
pub(crate) struct ChildUser {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
}

/// A bind mount the namespace init makes in the container's mount namespace (a persistent
/// volume at its path of the sandbox), both paths absolute and checked by the parent.
#[derive(Debug)]
pub(crate) struct ChildMount {
    /// The volume's directory on the host.
    pub source: CString,
    /// The mount point in the sandbox; the child makes the directory if it is missing.
    pub target: CString,
    /// Remounted read-only after the bind.
    pub read_only: bool,
}

/// Everything the child needs, prepared by the parent so the child need not allocate.
#[derive(Debug)]
pub(crate) struct SpawnPlan {
    pub program: CString,
    pub argv: Vec<CString>,
    pub envp: Vec<CString>,
    pub cwd: CString,
    pub stdin: OwnedFd,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
    pub cgroup_procs: Vec<OwnedFd>,
    pub user: Option<ChildUser>,
    pub pid_namespace: bool,
    /// Pid-namespace mode: the init's command line as `ps` shows it (`drover-init <id>`).
    pub title: CString,
    /// Pid-namespace mode: bind mounts made in the container's mount namespace after `/proc`
    /// (ignored otherwise; the caller refuses them without a namespace).
    pub mounts: Vec<ChildMount>,
}

/// A started container process.
#[derive(Debug)]
pub(crate) struct Spawned {
    /// Host pid of the first process (the namespace init in pid-namespace mode).
    pub pid: i32,
    /// From `CLONE_PIDFD`; `None` on kernels older than 5.2.
    pub pidfd: Option<OwnedFd>,
    /// Pid-namespace mode: read end of the pipe the init writes the task's wait status into.
    pub status_pipe: Option<OwnedFd>,
}

#[derive(Debug)]
pub(crate) enum SpawnError {
    /// The child reported a failed step (`index`: which of the plan's mounts, for
    /// [`SpawnStage::VolumeMount`]).
    Child {
        stage: SpawnStage,
        errno: Errno,
        index: u32,
    },
    /// The parent could not create pipes or clone.
    Parent(std::io::Error),
}

/// What the child code reads: raw pointers into the parent's (copied) memory.
struct ChildCtx<'a> {
    program: *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
    cwd: *const c_char,
    stdio: [RawFd; 3],
    cgroup_procs: &'a [RawFd],
    user: Option<&'a ChildUser>,
    err_w: RawFd,
    status_w: RawFd,
    pid_namespace: bool,
    title: &'a [u8],
    args_area: Option<(usize, usize)>,
    mounts: &'a [ChildMount],
}

/// Where this process's command line lives (`arg_start`, `arg_end` of `/proc/self/stat`):
/// the namespace init, a memory copy of the agent, overwrites its copy there to take its own
/// title. Read once, in the parent (the child must not allocate).
fn args_area() -> Option<(usize, usize)> {
    static AREA: std::sync::OnceLock<Option<(usize, usize)>> = std::sync::OnceLock::new();
    *AREA.get_or_init(|| {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // Fields after the parenthesized command name start at field 3 (`state`); arg_start
        // and arg_end are fields 48 and 49.
        let mut rest = stat.rsplit_once(')')?.1.split_whitespace().skip(48 - 3);
        let start = rest.next()?.parse::<usize>().ok()?;
        let end = rest.next()?.parse::<usize>().ok()?;
        (start != 0 && end > start).then_some((start, end))
    })
}

/// The child must never see descriptors 0-2 as its sources (a daemon may run with stdio
/// closed, so `open` can return them); move such a descriptor above 2.
fn above_stdio(fd: OwnedFd) -> std::io::Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    let raw = nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(3))?;
    Ok(owned(raw))
}

#[allow(unsafe_code)]
fn owned(raw: RawFd) -> OwnedFd {
    // SAFETY: `raw` was just returned by a successful fcntl/clone/pipe call and nothing else
    // owns it.
    unsafe { OwnedFd::from_raw_fd(raw) }
}

/// `clone(2)` without a new stack: the child continues on a copy of this stack, like `fork`.
/// glibc's `fork()` cannot add `CLONE_NEWPID`/`CLONE_PIDFD`, and its `clone()` wrapper needs a
/// separate stack and a callback; the raw syscall keeps the fork semantics.
#[allow(unsafe_code)]
fn raw_clone(flags: c_int, pidfd: *mut c_int) -> c_long {
    // SAFETY: with a null stack pointer clone behaves like fork: the child gets a private copy
    // of the address space and returns here. The arguments are (flags, stack, parent_tid,
    // child_tid / tls) on x86_64 and aarch64 alike; only parent_tid is used (for the pidfd),
    // and it points to a live c_int. The callers' children only run async-signal-safe code.
    unsafe {
        libc::syscall(
            libc::SYS_clone,
            flags as c_long,
            0 as c_long,
            pidfd,
            0 as c_long,
            0 as c_long,
        )
    }
}

/// Starts the child; returns its pid (in the parent only: the child never returns).
///
/// A task that execs right away is started like `posix_spawn` does it: `CLONE_VM |
/// CLONE_VFORK` on a separate stack, so the agent's page tables are not copied and torn down
/// again for every launch (measured: about a quarter of a bare launch). The calling thread is
/// suspended until the child has exec'ed or exited, which the exec-status pipe waits for anyway.
/// The namespace init never execs, so it needs memory of its own: a fork-style clone.
fn start_child(ctx: &ChildCtx<'_>, flags: c_int, pidfd: *mut c_int) -> c_long {
    if ctx.pid_namespace {
        let pid = raw_clone(flags, pidfd);
        if pid == 0 {
            child_main(ctx);
        }
        pid
    } else {
        clone_vfork(ctx, flags, pidfd)
    }
}

/// Stack of the vfork-style child, which runs only the set-up code below and then execs.
const VFORK_STACK_BYTES: usize = 128 * 1024;

#[allow(unsafe_code)]
fn clone_vfork(ctx: &ChildCtx<'_>, flags: c_int, pidfd: *mut c_int) -> c_long {
    extern "C" fn entry(arg: *mut libc::c_void) -> c_int {
        // SAFETY: `arg` is the `&ChildCtx` passed below; it outlives the child's use of it
        // because the parent stays suspended (CLONE_VFORK) until the child execs or exits.
        let ctx = unsafe { &*(arg as *const ChildCtx<'_>) };
        child_main(ctx)
    }
    let mut stack: Vec<u8> = Vec::with_capacity(VFORK_STACK_BYTES);
    // Stacks grow down on every architecture Linux runs us on; the top must be 16-aligned.
    let top = stack.as_mut_ptr().wrapping_add(VFORK_STACK_BYTES);
    let top = top.wrapping_sub(top as usize % 16);
    // SAFETY: glibc's clone runs `entry` on `stack` in a child sharing our memory; we are
    // suspended until it execs or exits, so `stack` and `ctx` stay alive and untouched by us.
    // Without CLONE_SIGHAND the child's signal dispositions are its own copy, so resetting
    // them does not affect the agent. The child writes only to its own stack, the errno of
    // its (borrowed) thread slot, and file descriptors.
    let pid = unsafe {
        libc::clone(
            entry,
            top.cast(),
            flags | libc::CLONE_VM | libc::CLONE_VFORK,
            ctx as *const ChildCtx<'_> as *mut libc::c_void,
            pidfd,
        )
    };
    drop(stack);
    pid as c_long
}

/// Blocks every signal in the calling thread; returns the previous mask.
#[allow(unsafe_code)]
fn block_all_signals() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data; sigfillset initialises it and pthread_sigmask only reads
    // `all` and writes `old`, both valid for the call.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        old
    }
}

#[allow(unsafe_code)]
fn restore_signals(old: &libc::sigset_t) {
    // SAFETY: `old` is the mask pthread_sigmask returned earlier.
    unsafe {
        libc::pthread_sigmask(libc::SIG_SETMASK, old, ptr::null_mut());
    }
}

/// Clones the child described by `plan` and waits until it has exec'ed the task (or failed).
pub(crate) fn spawn(plan: &SpawnPlan) -> Result<Spawned, SpawnError> {
    let parent_err = SpawnError::Parent;
    let pipe = || -> std::io::Result<(OwnedFd, OwnedFd)> {
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        Ok((above_stdio(r)?, above_stdio(w)?))
    };
    // Exec-status pipe: the child writes (stage, errno, index) on failure; a successful execve closes
    // the close-on-exec write end, so the parent reads EOF.
    let (err_r, err_w) = pipe().map_err(parent_err)?;
    let (status_r, status_w) = if plan.pid_namespace {
        let (r, w) = pipe().map_err(parent_err)?;
        (Some(r), Some(w))
    } else {
        (None, None)
    };
    let stdio = [&plan.stdin, &plan.stdout, &plan.stderr];
    let mut stdio_fds = [0; 3];
    let mut moved = Vec::new();
    for (slot, fd) in stdio_fds.iter_mut().zip(stdio) {
        if fd.as_raw_fd() > 2 {
            *slot = fd.as_raw_fd();
        } else {
            let dup = above_stdio(fd.try_clone().map_err(parent_err)?).map_err(parent_err)?;
            *slot = dup.as_raw_fd();
            moved.push(dup);
        }
    }
    let argv: Vec<*const c_char> = plan
        .argv
        .iter()
        .map(|a| a.as_ptr())
        .chain([ptr::null()])
        .collect();
    let envp: Vec<*const c_char> = plan
        .envp
        .iter()
        .map(|e| e.as_ptr())
        .chain([ptr::null()])
        .collect();
    let cgroup_procs: Vec<RawFd> = plan.cgroup_procs.iter().map(|fd| fd.as_raw_fd()).collect();
    let ctx = ChildCtx {
        program: plan.program.as_ptr(),
        argv: argv.as_ptr(),
        envp: envp.as_ptr(),
        cwd: plan.cwd.as_ptr(),
        stdio: stdio_fds,
        cgroup_procs: &cgroup_procs,
        user: plan.user.as_ref(),
        err_w: err_w.as_raw_fd(),
        status_w: status_w.as_ref().map_or(-1, |w| w.as_raw_fd()),
        pid_namespace: plan.pid_namespace,
        title: plan.title.as_bytes(),
        args_area: if plan.pid_namespace {
            args_area()
        } else {
            None
        },
        mounts: if plan.pid_namespace {
            &plan.mounts
        } else {
            &[]
        },
    };

    let mut flags = libc::SIGCHLD | libc::CLONE_PIDFD;
    if plan.pid_namespace {
        // A mount namespace too, for a /proc of the container's own pid namespace (Mesos'
        // `namespaces/pid` with `filesystem/linux`): `ps` and `/proc/self` work inside, and
        // no task can read another's environment through the host's /proc.
        flags |= libc::CLONE_NEWPID | libc::CLONE_NEWNS;
    }
    // With every signal blocked across clone, none of the agent's handlers (tokio's, say) can
    // run in the child before it resets them to the defaults.
    let old_mask = block_all_signals();
    let mut pidfd: c_int = -1;
    let mut pid = start_child(&ctx, flags, &mut pidfd);
    if pid < 0 && Errno::last() == Errno::EINVAL {
        // Kernels before 5.2 do not know CLONE_PIDFD; the caller falls back to polling.
        pidfd = -1;
        pid = start_child(&ctx, flags & !libc::CLONE_PIDFD, ptr::null_mut());
    }
    let clone_errno = Errno::last();
    restore_signals(&old_mask);
    if pid < 0 {
        return Err(SpawnError::Parent(std::io::Error::from(clone_errno)));
    }
    let pid = pid as i32;
    let pidfd = (pidfd >= 0).then(|| owned(pidfd));
    // Our copies of the write ends must go, or the reads below would never see EOF.
    drop(err_w);
    drop(status_w);
    drop(moved);

    let mut report = [0u8; REPORT_BYTES];
    let mut filled = 0;
    while filled < report.len() {
        match nix::unistd::read(&err_r, &mut report[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(SpawnError::Parent(e.into())),
        }
    }
    if filled == 0 {
        return Ok(Spawned {
            pid,
            pidfd,
            status_pipe: status_r,
        });
    }
    // The child failed and is exiting: reap it so no zombie is left behind.
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
    let stage_raw = u32::from_ne_bytes([report[0], report[1], report[2], report[3]]);
    let errno = i32::from_ne_bytes([report[4], report[5], report[6], report[7]]);
    let index = u32::from_ne_bytes([report[8], report[9], report[10], report[11]]);
    let stage = SpawnStage::from_u32(stage_raw).unwrap_or(SpawnStage::Exec);
    Err(SpawnError::Child {
        stage,
        errno: Errno::from_raw(errno),
        index,
    })
}

/// Tries `clone(CLONE_NEWPID)` with a child that exits at once.
pub(crate) fn probe_pid_namespace() -> Result<(), Errno> {
    let old_mask = block_all_signals();
    let pid = raw_clone(
        libc::SIGCHLD | libc::CLONE_NEWPID | libc::CLONE_NEWNS,
        ptr::null_mut(),
    );
    if pid == 0 {
        exit_now(0);
    }
    let errno = Errno::last();
    restore_signals(&old_mask);
    if pid < 0 {
        return Err(errno);
    }
    nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid as i32), None).map(|_| ())
}

// ---- Child side: async-signal-safe only, never returns. ----

#[allow(unsafe_code)]
fn exit_now(code: c_int) -> ! {
    // SAFETY: _exit is async-signal-safe and skips atexit handlers and stdio flushing, which
    // belong to the parent.
    unsafe { libc::_exit(code) }
}

/// The child's failure report: stage, errno and an index (which mount), each 4 bytes.
const REPORT_BYTES: usize = 12;

/// Reports `stage` and the current errno to the parent and exits.
fn fail(ctx: &ChildCtx<'_>, stage: SpawnStage) -> ! {
    fail_at(ctx, stage, 0)
}

/// Reports `stage`, the current errno and `index` to the parent and exits.
#[allow(unsafe_code)]
fn fail_at(ctx: &ChildCtx<'_>, stage: SpawnStage, index: u32) -> ! {
    let errno = Errno::last_raw();
    let mut report = [0u8; REPORT_BYTES];
    report[..4].copy_from_slice(&(stage as u32).to_ne_bytes());
    report[4..8].copy_from_slice(&errno.to_ne_bytes());
    report[8..].copy_from_slice(&index.to_ne_bytes());
    // SAFETY: write(2) on a descriptor we own with a 12-byte stack buffer. Pipe writes of at
    // most PIPE_BUF bytes are atomic, so the parent sees all 12 bytes or none.
    unsafe {
        libc::write(ctx.err_w, report.as_ptr().cast(), report.len());
    }
    exit_now(127)
}

#[allow(unsafe_code)]
fn child_main(ctx: &ChildCtx<'_>) -> ! {
    // SAFETY (whole function): we are the single thread of a fresh copy of the parent; every
    // call below is a raw syscall wrapper on memory prepared by the parent (C strings, fd
    // numbers, stack buffers), which stays valid in our copy.
    unsafe {
        // Handlers installed by the agent must not run here, and ignored signals must not stay
        // ignored in the task (Rust ignores SIGPIPE). 1..=64 covers Linux's signals; glibc
        // refuses 32 and 33, which it reserves, and the kernel SIGKILL/SIGSTOP.
        let mut dfl: libc::sigaction = std::mem::zeroed();
        dfl.sa_sigaction = libc::SIG_DFL;
        libc::sigemptyset(&mut dfl.sa_mask);
        for sig in 1..=64 {
            libc::sigaction(sig, &dfl, ptr::null_mut());
        }
        // Own session and process group: the tree can be signalled as a group, and it has no
        // controlling terminal of the agent's.
        if libc::setsid() < 0 {
            fail(ctx, SpawnStage::Setsid);
        }
        for &fd in ctx.cgroup_procs {
            if libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                fail(ctx, SpawnStage::JoinCgroup);
            }
        }
        for (target, &source) in ctx.stdio.iter().enumerate() {
            if libc::dup2(source, target as c_int) < 0 {
                fail(ctx, SpawnStage::Stdio);
            }
        }
    }
    if ctx.pid_namespace {
        mount_proc_and_sys(ctx);
        mount_volumes(ctx);
        run_init(ctx)
    } else {
        exec_task(ctx)
    }
}

/// In the container's new mount namespace (the init is pid 1 of its new pid namespace):
/// mounts stop propagating to the host, a fresh procfs — which shows the mounter's pid
/// namespace — covers `/proc`, and `/sys` is bound onto itself read-only.
#[allow(unsafe_code)]
fn mount_proc_and_sys(ctx: &ChildCtx<'_>) {
    let flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    // SAFETY: mount(2) with constant C strings and null data; async-signal-safe.
    unsafe {
        let none: *const c_char = ptr::null();
        if libc::mount(
            none,
            c"/".as_ptr(),
            none,
            libc::MS_REC | libc::MS_PRIVATE,
            ptr::null(),
        ) < 0
            || libc::mount(
                c"proc".as_ptr(),
                c"/proc".as_ptr(),
                c"proc".as_ptr(),
                flags,
                ptr::null(),
            ) < 0
            || libc::mount(
                c"/sys".as_ptr(),
                c"/sys".as_ptr(),
                none,
                libc::MS_BIND,
                ptr::null(),
            ) < 0
            || libc::mount(
                none,
                c"/sys".as_ptr(),
                none,
                libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | flags,
                ptr::null(),
            ) < 0
        {
            fail(ctx, SpawnStage::Mount);
        }
    }
}

/// In the container's mount namespace, made private by [`mount_proc_and_sys`]: each of the
/// plan's volumes bound (recursively) at its mount point in the sandbox, the directory made if
/// missing, and remounted read-only when asked (Mesos' `filesystem/linux` for a container
/// without an image). Nothing propagates to the host, and the mounts vanish with the
/// namespace when the container's last process exits.
#[allow(unsafe_code)]
fn mount_volumes(ctx: &ChildCtx<'_>) {
    for (index, m) in ctx.mounts.iter().enumerate() {
        let index = index as u32;
        // SAFETY: mkdir(2) and mount(2) on C strings the parent prepared and constant flags;
        // async-signal-safe.
        unsafe {
            if libc::mkdir(m.target.as_ptr(), 0o755) < 0 && Errno::last() != Errno::EEXIST {
                fail_at(ctx, SpawnStage::VolumeMount, index);
            }
            let none: *const c_char = ptr::null();
            if libc::mount(
                m.source.as_ptr(),
                m.target.as_ptr(),
                none,
                libc::MS_BIND | libc::MS_REC,
                ptr::null(),
            ) < 0
            {
                fail_at(ctx, SpawnStage::VolumeMount, index);
            }
            if m.read_only
                && libc::mount(
                    none,
                    m.target.as_ptr(),
                    none,
                    libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY,
                    ptr::null(),
                ) < 0
            {
                fail_at(ctx, SpawnStage::VolumeMount, index);
            }
        }
    }
}

/// Changes directory and user, unblocks signals and execs the task.
#[allow(unsafe_code)]
fn exec_task(ctx: &ChildCtx<'_>) -> ! {
    // SAFETY: as in `child_main`; the groups slice and C strings belong to the parent's plan.
    unsafe {
        if libc::chdir(ctx.cwd) < 0 {
            fail(ctx, SpawnStage::Chdir);
        }
        // Raw syscalls, not glibc's setgroups/setgid/setuid: in a multi-threaded program those
        // broadcast the change to every thread (SIGSETXID) under glibc's thread-list lock, and
        // in a clone of such a program that lock or a thread's state may have been copied
        // mid-update: the child deadlocks (seen here about once in 60 test runs). The kernel
        // calls change the calling thread only, which is all a single-threaded child has.
        if let Some(user) = ctx.user {
            if libc::syscall(libc::SYS_setgroups, user.groups.len(), user.groups.as_ptr()) < 0 {
                fail(ctx, SpawnStage::Setgroups);
            }
            if libc::syscall(libc::SYS_setgid, user.gid) < 0 {
                fail(ctx, SpawnStage::Setgid);
            }
            if libc::syscall(libc::SYS_setuid, user.uid) < 0 {
                fail(ctx, SpawnStage::Setuid);
            }
        }
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, ptr::null_mut());
        libc::execve(ctx.program, ctx.argv, ctx.envp);
    }
    fail(ctx, SpawnStage::Exec)
}

/// Closes every descriptor from 3 up except the two in `keep` (the init never execs, so
/// close-on-exec does not help: without this it would hold the agent's listening sockets and
/// files open for as long as the task runs, even across an agent restart).
#[allow(unsafe_code)]
fn close_fds_except(keep: [RawFd; 2]) {
    let [mut a, mut b] = keep;
    if a > b {
        std::mem::swap(&mut a, &mut b);
    }
    let close_range = |lo: RawFd, hi: RawFd| {
        if lo > hi {
            return;
        }
        // SAFETY: close_range(2) only closes descriptors of this process; on kernels before
        // 5.9 we fall back to closing one by one up to a bound.
        unsafe {
            if libc::syscall(
                libc::SYS_close_range,
                lo as libc::c_uint,
                hi as libc::c_uint,
                0,
            ) < 0
            {
                for fd in lo..=hi.min(65_535) {
                    libc::close(fd);
                }
            }
        }
    };
    let mut low = 3;
    for k in [a, b] {
        if k >= low {
            close_range(low, k - 1);
            low = k + 1;
        }
    }
    close_range(low, RawFd::MAX);
}

/// Gives the init its own name (`comm`, as `ps -o comm` and `pgrep` show it) and command line
/// (as `ps -f` and `pgrep -f` show it): the words separated by NULs, the rest of the area
/// zeroed, so the kernel reports the whole area as the arguments. Only memory writes and a
/// `prctl`: async-signal-safe.
#[allow(unsafe_code)]
fn set_title(ctx: &ChildCtx<'_>) {
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes, a literal here.
    unsafe {
        libc::prctl(libc::PR_SET_NAME, c"drover-init".as_ptr());
    }
    let Some((start, end)) = ctx.args_area else {
        return;
    };
    let len = end - start;
    // SAFETY: [start, end) is this process's own argument area (from /proc/self/stat, read
    // by the parent whose memory this process is a private copy of); nothing in the init
    // reads it afterwards.
    let area = unsafe { std::slice::from_raw_parts_mut(start as *mut u8, len) };
    for (i, byte) in area.iter_mut().enumerate() {
        *byte = match ctx.title.get(i) {
            // Arguments are NUL-separated: "drover-init\0<id>".
            Some(b' ') => 0,
            Some(b) if i + 1 < len => *b,
            _ => 0,
        };
    }
}

/// Pid 1 of the container's namespace: forks the task, forwards signals, reaps, and exits with
/// the task (the kernel then kills everything left in the namespace).
#[allow(unsafe_code)]
fn run_init(ctx: &ChildCtx<'_>) -> ! {
    close_fds_except([ctx.err_w, ctx.status_w]);
    let task = raw_clone(libc::SIGCHLD, ptr::null_mut());
    if task < 0 {
        fail(ctx, SpawnStage::Fork);
    }
    if task == 0 {
        exec_task(ctx);
    }
    let task = task as libc::pid_t;
    set_title(ctx);
    // SAFETY (rest of the function): raw syscalls on our own descriptors, stack buffers and
    // a C string literal; still single-threaded and allocation-free.
    unsafe {
        libc::close(ctx.err_w);
        // The init is a copy of the agent, so its resident set counts the agent's pages, and
        // the memcg OOM killer might pick it over the real culprit. Exempt it; the task forked
        // above kept the agent's setting. Best effort: it needs CAP_SYS_RESOURCE. If the init
        // is picked anyway, the whole namespace dies, which is what Mesos does on an OOM too,
        // and the cgroup's oom_kill counter still reports it as an OOM.
        let adj = libc::open(
            c"/proc/self/oom_score_adj".as_ptr(),
            libc::O_WRONLY | libc::O_CLOEXEC,
        );
        if adj >= 0 {
            libc::write(adj, b"-1000".as_ptr().cast(), 5);
            libc::close(adj);
        }
        // All signals are still blocked (inherited from the parent's mask), so they queue up
        // for sigwaitinfo, including a SIGCHLD that arrived before this point.
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        loop {
            let sig = libc::sigwaitinfo(&all, ptr::null_mut());
            if sig < 0 {
                continue;
            }
            if sig != libc::SIGCHLD {
                // To every process of the namespace except ourselves: the whole tree.
                libc::kill(-1, sig);
                continue;
            }
            loop {
                let mut status: c_int = 0;
                let reaped = libc::waitpid(-1, &mut status, libc::WNOHANG);
                if reaped <= 0 {
                    break;
                }
                if reaped == task {
                    let bytes = status.to_ne_bytes();
                    libc::write(ctx.status_w, bytes.as_ptr().cast(), bytes.len());
                    // Our own exit status mirrors the task's as far as an exit code can
                    // (pid 1 cannot kill itself with a signal); the pipe has the exact one.
                    let code = if libc::WIFEXITED(status) {
                        libc::WEXITSTATUS(status)
                    } else if libc::WIFSIGNALED(status) {
                        128 + libc::WTERMSIG(status)
                    } else {
                        255
                    };
                    exit_now(code);
                }
            }
        }
    }
}
