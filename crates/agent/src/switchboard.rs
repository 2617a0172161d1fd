//! The I/O switchboard: `drover io-switchboard`, one process per nested container, which
//! starts the container's command inside its parent container (the parent's pid and mount
//! namespaces, a child cgroup of the parent's), owns the command's pty or pipes, and serves
//! attach sessions on a unix socket for the agent: any number of output readers, one input
//! writer at a time. Its output also goes to `stdout`/`stderr` files in its runtime directory.
//!
//! Why a process of its own, as Mesos had: the agent can restart under a running session
//! without the command losing its terminal, and a switchboard that dies is a visible, real
//! event: the agent then destroys the container and reports `REASON_IO_SWITCHBOARD_EXITED`.
//!
//! The agent's side is [`crate::nested`]. The socket protocol is internal: a client writes one
//! line, `OUTPUT` or `INPUT`; the switchboard answers `OK` (or `BUSY` for a second input), then
//! streams (or reads) RecordIO records of protobuf-encoded `mesos.v1.agent.ProcessIO`.
//!
//! Ordering at start-up matters: the process is single-threaded until the command is spawned,
//! because `setns(CLONE_NEWPID)` and the mount namespace switch in the child need that; it
//! then returns to its own pid namespace (threads cannot be created while the pid namespace
//! for children differs from one's own) and only then builds its async runtime.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use drover_wire::v1;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::pipe;
use tokio::sync::{Mutex, mpsc, watch};

/// The first line the switchboard prints on its stdout once the command runs: `ready <pid>`;
/// or `error <text>` when it could not start it.
pub const READY: &str = "ready";

/// Largest ProcessIO record accepted on the socket (stdin data, control messages).
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;

/// Output readers at once.
const MAX_OUTPUT_CLIENTS: usize = 16;

/// How long a session's command may wait for its first output reader before it is killed.
const FIRST_READER_TIMEOUT: Duration = Duration::from_secs(60);

/// How long output may keep flowing after the command exited (from what it left running).
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(2);

/// What the agent asks the switchboard to run, written as JSON into the runtime directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    /// Where to listen for the agent.
    pub socket: PathBuf,
    /// Where the command's raw wait status goes once it ended (and its output is drained).
    pub status_file: PathBuf,
    /// The directory for the `stdout` and `stderr` logs.
    pub log_dir: PathBuf,
    /// Join the pid and mount namespaces of this process (the parent container's init).
    pub enter_pid: Option<i32>,
    /// `cgroup.procs` files of the nested cgroups the command joins.
    pub cgroup_procs: Vec<PathBuf>,
    /// Run as this user (uid, gid, groups); `None` keeps root.
    pub user: Option<(u32, u32, Vec<u32>)>,
    /// The working directory (the parent's sandbox).
    pub cwd: PathBuf,
    /// The complete environment.
    pub env: Vec<(String, String)>,
    /// argv; `argv[0]` is looked up in the environment's `PATH` inside the container.
    pub argv: Vec<String>,
    /// A pty of `(rows, columns)` instead of pipes.
    pub tty: Option<(u16, u16)>,
    /// A session (`LAUNCH_NESTED_CONTAINER_SESSION`): output is held until the first reader
    /// attaches, and the command is killed when that reader goes away before it ended.
    pub session: bool,
    /// Serve this inherited descriptor (a pty master) instead of starting a command: the
    /// terminal of a container the agent launched with a TTY. The switchboard ends when the
    /// container closed its terminal.
    pub terminal_fd: Option<i32>,
}

/// `drover io-switchboard FILE`: runs until the command ended and its output is
/// delivered. Exit 0 after writing the status file; 1 if it could not start the command.
pub fn main(config_path: &Path) -> i32 {
    let config: Config = match std::fs::read(config_path)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(config) => config,
        Err(error) => {
            println!("error cannot read {}: {error}", config_path.display());
            return 1;
        }
    };
    let started = match start(&config) {
        Ok(started) => started,
        Err(error) => {
            println!("error {error}");
            return 1;
        }
    };
    println!("{READY} {}", started.child.as_ref().map_or(0, |c| c.id()));
    let _ = io::stdout().flush();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("io-switchboard: cannot start its runtime: {error}");
            return 1;
        }
    };
    let status = runtime.block_on(serve(config.clone(), started));
    let tmp = config.status_file.with_extension("tmp");
    let written = std::fs::write(&tmp, status.to_string())
        .and_then(|()| std::fs::rename(&tmp, &config.status_file));
    match written {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("io-switchboard: cannot write the exit status: {error}");
            1
        }
    }
}

/// The running command and the switchboard's ends of its I/O.
struct Started {
    /// The command, unless serving a container's terminal.
    child: Option<std::process::Child>,
    listener: std::os::unix::net::UnixListener,
    /// The pty master, or the write end of the command's stdin.
    input: OwnedFd,
    /// The pty master (again), or the read end of stdout.
    stdout: OwnedFd,
    /// The read end of stderr (pipes only).
    stderr: Option<OwnedFd>,
}

fn start(config: &Config) -> Result<Started, String> {
    let _ = std::fs::remove_file(&config.socket);
    let listener = std::os::unix::net::UnixListener::bind(&config.socket)
        .map_err(|e| format!("cannot listen on {}: {e}", config.socket.display()))?;
    if let Some(fd) = config.terminal_fd {
        // SAFETY: F_GETFD only checks that the descriptor is open; the agent passed it to us
        // (dup2 before exec) and nothing else in this process knows it, so it is ours to own
        // and close.
        #[allow(unsafe_code)]
        let master = unsafe {
            if fd <= 2 || libc::fcntl(fd, libc::F_GETFD) < 0 {
                return Err(format!("no terminal on descriptor {fd}"));
            }
            <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd)
        };
        set_cloexec_nonblocking(&master).map_err(|e| format!("fcntl: {e}"))?;
        let input = master.try_clone().map_err(|e| e.to_string())?;
        return Ok(Started {
            child: None,
            listener,
            input,
            stdout: master,
            stderr: None,
        });
    }
    let Some(program) = config.argv.first() else {
        return Err("no command to run".into());
    };
    let mut procs = Vec::new();
    for path in &config.cgroup_procs {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        procs.push(file);
    }
    let cwd = CString::new(config.cwd.as_os_str().as_encoded_bytes())
        .map_err(|_| "NUL byte in the working directory".to_owned())?;
    // Our ends and the command's ends.
    let (input, stdout, stderr, child_io) = match config.tty {
        Some((rows, cols)) => {
            let size = nix::pty::Winsize {
                ws_row: rows,
                ws_col: cols,
                ws_xpixel: 0,
                ws_ypixel: 0,
            };
            let pty = nix::pty::openpty(Some(&size), None).map_err(|e| format!("openpty: {e}"))?;
            let master_out = pty.master.try_clone().map_err(|e| e.to_string())?;
            let slave_out = pty.slave.try_clone().map_err(|e| e.to_string())?;
            let slave_err = pty.slave.try_clone().map_err(|e| e.to_string())?;
            (
                pty.master,
                master_out,
                None,
                [pty.slave, slave_out, slave_err],
            )
        }
        None => {
            let (stdin_r, stdin_w) = nix::unistd::pipe().map_err(|e| format!("pipe: {e}"))?;
            let (stdout_r, stdout_w) = nix::unistd::pipe().map_err(|e| format!("pipe: {e}"))?;
            let (stderr_r, stderr_w) = nix::unistd::pipe().map_err(|e| format!("pipe: {e}"))?;
            (
                stdin_w,
                stdout_r,
                Some(stderr_r),
                [stdin_r, stdout_w, stderr_w],
            )
        }
    };
    for fd in [&input, &stdout].into_iter().chain(stderr.as_ref()) {
        set_cloexec_nonblocking(fd).map_err(|e| format!("fcntl: {e}"))?;
    }
    // The pid namespace applies to children created after the switch; our own namespace is
    // re-entered right after the spawn.
    let own_pid_ns =
        File::open("/proc/self/ns/pid").map_err(|e| format!("/proc/self/ns/pid: {e}"))?;
    let mut mount_ns = None;
    if let Some(pid) = config.enter_pid {
        let pid_ns = File::open(format!("/proc/{pid}/ns/pid"))
            .map_err(|e| format!("the parent container's pid namespace: {e}"))?;
        mount_ns = Some(
            File::open(format!("/proc/{pid}/ns/mnt"))
                .map_err(|e| format!("the parent container's mount namespace: {e}"))?,
        );
        nix::sched::setns(&pid_ns, nix::sched::CloneFlags::CLONE_NEWPID)
            .map_err(|e| format!("setns(pid namespace of {pid}): {e}"))?;
    }
    let tty = config.tty.is_some();
    let user = config.user.clone();
    let procs_fds: Vec<i32> = procs.iter().map(AsRawFd::as_raw_fd).collect();
    let mount_fd = mount_ns.as_ref().map(AsRawFd::as_raw_fd);
    let [child_in, child_out, child_err] = child_io;
    let mut command = std::process::Command::new(program);
    command
        .arg0(program)
        .args(&config.argv[1..])
        .env_clear()
        .envs(config.env.iter().map(|(k, v)| (k, v)))
        .stdin(std::process::Stdio::from(child_in))
        .stdout(std::process::Stdio::from(child_out))
        .stderr(std::process::Stdio::from(child_err));
    // SAFETY: the closure runs in the forked child before exec and only makes raw syscalls on
    // data prepared above (no allocation, no locks).
    #[allow(unsafe_code)]
    unsafe {
        command.pre_exec(move || {
            let check = |r: libc::c_int| {
                if r < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(())
                }
            };
            if let Some(fd) = mount_fd {
                check(libc::setns(fd, libc::CLONE_NEWNS))?;
            }
            for fd in &procs_fds {
                if libc::write(*fd, b"0".as_ptr().cast(), 1) < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            check(libc::setsid())?;
            if tty {
                check(libc::ioctl(0, libc::TIOCSCTTY, 0))?;
            }
            check(libc::chdir(cwd.as_ptr()))?;
            if let Some((uid, gid, groups)) = &user {
                check(libc::setgroups(groups.len(), groups.as_ptr()))?;
                check(libc::setgid(*gid))?;
                check(libc::setuid(*uid))?;
            }
            Ok(())
        });
    }
    let spawned = command.spawn();
    if config.enter_pid.is_some() {
        nix::sched::setns(&own_pid_ns, nix::sched::CloneFlags::CLONE_NEWPID)
            .map_err(|e| format!("setns(back to our pid namespace): {e}"))?;
    }
    let child = spawned.map_err(|e| format!("cannot start {program:?}: {e}"))?;
    // The command's ends were moved into `command` and are closed with it here, so that EOF
    // and EIO reach us once the command (and whatever it started) closed them.
    drop(command);
    Ok(Started {
        child: Some(child),
        listener,
        input,
        stdout,
        stderr,
    })
}

fn set_cloexec_nonblocking(fd: &OwnedFd) -> nix::Result<()> {
    use nix::fcntl::{FcntlArg, FdFlag, OFlag, fcntl};
    fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))?;
    let flags = OFlag::from_bits_retain(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(())
}

/// What the output side shares.
struct Hub {
    readers: Mutex<Vec<mpsc::Sender<Bytes>>>,
    /// Set once the first reader attached (sessions hold output until then).
    first_reader: watch::Sender<bool>,
    /// The output is over: no new reader gets anything but the end of the stream.
    ended: AtomicBool,
    input_busy: AtomicBool,
    /// A session's first output reader was taken (its leaving ends the command).
    session_reader: AtomicBool,
}

/// Relays until the command ended and its output is drained; returns its raw wait status.
async fn serve(config: Config, started: Started) -> i32 {
    let Started {
        child,
        listener,
        input,
        stdout,
        stderr,
    } = started;
    let pid = child.as_ref().map_or(0, |c| c.id() as i32);
    let (first_tx, first_rx) = watch::channel(false);
    let hub = Arc::new(Hub {
        readers: Mutex::new(Vec::new()),
        first_reader: first_tx,
        ended: AtomicBool::new(false),
        input_busy: AtomicBool::new(false),
        session_reader: AtomicBool::new(!config.session),
    });
    let input = match pipe::Sender::from_owned_fd_unchecked(input) {
        Ok(fd) => Arc::new(Mutex::new(Some(fd))),
        Err(error) => {
            eprintln!("io-switchboard: {error}");
            return give_up(pid, child);
        }
    };
    let listener = match listener
        .set_nonblocking(true)
        .and_then(|()| tokio::net::UnixListener::from_std(listener))
    {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("io-switchboard: {error}");
            return give_up(pid, child);
        }
    };
    let tty = config.tty.is_some();
    let accept = tokio::spawn(accept_loop(listener, hub.clone(), input, tty, pid));
    // A session's output waits for its reader; a reader that never comes ends the command.
    let mut gate = first_rx.clone();
    if config.session {
        let waited =
            tokio::time::timeout(FIRST_READER_TIMEOUT, gate.wait_for(|attached| *attached)).await;
        if waited.is_err() {
            eprintln!("io-switchboard: no reader attached to the session; killing the command");
            kill(pid);
        }
    }
    let out = tokio::spawn(pump(
        stdout,
        v1::agent::process_io::data::Type::Stdout,
        config.log_dir.join("stdout"),
        hub.clone(),
        tty,
    ));
    let err = stderr.map(|fd| {
        tokio::spawn(pump(
            fd,
            v1::agent::process_io::data::Type::Stderr,
            config.log_dir.join("stderr"),
            hub.clone(),
            false,
        ))
    });
    let drained = async move {
        let _ = out.await;
        if let Some(err) = err {
            let _ = err.await;
        }
    };
    tokio::pin!(drained);
    let wait = async move {
        match child {
            Some(mut child) => tokio::task::spawn_blocking(move || child.wait())
                .await
                .ok()
                .and_then(Result::ok)
                .map_or(-1, |s| s.into_raw()),
            // A container's terminal: it is over when every holder closed it (the pumps).
            None => std::future::pending().await,
        }
    };
    tokio::pin!(wait);
    let status = tokio::select! {
        () = &mut drained => match pid {
            0 => 0,
            _ => (&mut wait).await,
        },
        exited = &mut wait => {
            // The command ended; what it left running may hold its terminal or pipes open.
            // Its output gets a moment to drain; the agent then destroys the rest.
            let _ = tokio::time::timeout(DRAIN_AFTER_EXIT, &mut drained).await;
            exited
        }
    };
    // Output is over: readers get the end of their streams.
    hub.ended.store(true, Ordering::SeqCst);
    hub.readers.lock().await.clear();
    accept.abort();
    status
}

fn give_up(pid: i32, child: Option<std::process::Child>) -> i32 {
    kill(pid);
    child
        .and_then(|mut c| c.wait().ok())
        .map_or(-1, |s| s.into_raw())
}

fn kill(pid: i32) {
    if pid <= 0 {
        return;
    }
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL);
}

/// Reads one of the command's outputs until EOF (a pty answers EIO once its last slave is
/// closed), handing each chunk to every reader and to the log file.
async fn pump(
    fd: OwnedFd,
    kind: v1::agent::process_io::data::Type,
    log: PathBuf,
    hub: Arc<Hub>,
    pty: bool,
) {
    // Opened at the first output: a container's sandbox may not exist yet when its
    // terminal's switchboard starts.
    let mut log_file: Option<std::fs::File> = None;
    let Ok(mut fd) = pipe::Receiver::from_owned_fd_unchecked(fd) else {
        return;
    };
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match fd.read(&mut buf).await {
            Ok(0) => return,
            Ok(n) => n,
            // A pty answers EIO once the last holder of its terminal closed it.
            Err(e) if pty && e.raw_os_error() == Some(libc::EIO) => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        if log_file.is_none() {
            log_file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log)
                .ok();
        }
        if let Some(file) = log_file.as_mut() {
            let _ = file.write_all(&buf[..n]);
        }
        let record = encode(&data_record(kind, Bytes::copy_from_slice(&buf[..n])));
        let mut readers = hub.readers.lock().await;
        let mut kept = Vec::with_capacity(readers.len());
        for reader in readers.drain(..) {
            // A reader that cannot keep up holds the command's output back (the pipe fills);
            // one that went away is dropped.
            if reader.send(record.clone()).await.is_ok() {
                kept.push(reader);
            }
        }
        *readers = kept;
    }
}

fn data_record(kind: v1::agent::process_io::data::Type, data: Bytes) -> v1::agent::ProcessIo {
    v1::agent::ProcessIo {
        r#type: Some(v1::agent::process_io::Type::Data as i32),
        data: Some(v1::agent::process_io::Data {
            r#type: Some(kind as i32),
            data: Some(data.to_vec()),
        }),
        control: None,
    }
}

/// One protobuf-encoded ProcessIO as a RecordIO record.
pub fn encode(message: &v1::agent::ProcessIo) -> Bytes {
    drover_wire::recordio::encode(&prost::Message::encode_to_vec(message))
}

type Input = Arc<Mutex<Option<pipe::Sender>>>;

async fn accept_loop(
    listener: tokio::net::UnixListener,
    hub: Arc<Hub>,
    input: Input,
    tty: bool,
    pid: i32,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let hub = hub.clone();
        let input = input.clone();
        tokio::spawn(async move {
            let mut stream = BufReader::new(stream);
            let mut line = String::new();
            let read =
                tokio::time::timeout(Duration::from_secs(10), stream.read_line(&mut line)).await;
            if !matches!(read, Ok(Ok(n)) if n > 0) {
                return;
            }
            match line.trim() {
                "OUTPUT" => {
                    let session_reader = !hub.session_reader.swap(true, Ordering::SeqCst);
                    output_client(stream.into_inner(), hub, session_reader, pid).await;
                }
                "INPUT" => input_client(stream, hub, input, tty).await,
                _ => {}
            }
        });
    }
}

async fn output_client(mut stream: UnixStream, hub: Arc<Hub>, session_reader: bool, pid: i32) {
    let (tx, mut rx) = mpsc::channel::<Bytes>(64);
    {
        let mut readers = hub.readers.lock().await;
        if readers.len() >= MAX_OUTPUT_CLIENTS {
            let _ = stream.write_all(b"BUSY too many output readers\n").await;
            return;
        }
        if stream.write_all(b"OK\n").await.is_err() {
            return;
        }
        if !hub.ended.load(Ordering::SeqCst) {
            readers.push(tx);
        }
    }
    hub.first_reader.send_replace(true);
    while let Some(record) = rx.recv().await {
        if stream.write_all(&record).await.is_err() {
            break;
        }
    }
    // The session's reader left before the output ended: Mesos destroys a session's
    // container when its connection breaks.
    if session_reader && !hub.ended.load(Ordering::SeqCst) {
        kill(pid);
    }
}

async fn input_client(mut stream: BufReader<UnixStream>, hub: Arc<Hub>, input: Input, tty: bool) {
    if hub.input_busy.swap(true, Ordering::SeqCst) {
        let _ = stream
            .get_mut()
            .write_all(b"BUSY another input connection is attached\n")
            .await;
        return;
    }
    if stream.get_mut().write_all(b"OK\n").await.is_ok() {
        relay_input(&mut stream, &input, tty).await;
    }
    hub.input_busy.store(false, Ordering::SeqCst);
}

async fn relay_input(stream: &mut BufReader<UnixStream>, input: &Input, tty: bool) {
    use v1::agent::process_io::{Type as IoType, control, data};
    let mut decoder = drover_wire::recordio::Decoder::new(MAX_RECORD_BYTES);
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let Ok(records) = decoder.feed(&buf[..n]) else {
            return;
        };
        for record in records {
            let Ok(message) = <v1::agent::ProcessIo as prost::Message>::decode(record) else {
                return;
            };
            match message.r#type.and_then(|t| IoType::try_from(t).ok()) {
                Some(IoType::Data) => {
                    let Some(d) = message.data else { continue };
                    if d.r#type != Some(data::Type::Stdin as i32) {
                        continue;
                    }
                    let bytes = d.data.unwrap_or_default();
                    let mut guard = input.lock().await;
                    if bytes.is_empty() {
                        // End of input: close the pipe; on a terminal, what a user's Ctrl-D
                        // sends (the terminal stays open for the output).
                        if tty {
                            if let Some(fd) = guard.as_mut() {
                                let _ = fd.write_all(b"\x04").await;
                            }
                        } else {
                            *guard = None;
                        }
                        continue;
                    }
                    if let Some(fd) = guard.as_mut()
                        && fd.write_all(&bytes).await.is_err()
                    {
                        *guard = None;
                    }
                }
                Some(IoType::Control) => {
                    let Some(c) = message.control else { continue };
                    if c.r#type == Some(control::Type::TtyInfo as i32)
                        && tty
                        && let Some(size) = c.tty_info.and_then(|t| t.window_size)
                        && let Some(fd) = input.lock().await.as_ref()
                    {
                        set_window_size(fd.as_raw_fd(), size.rows, size.columns);
                    }
                    // HEARTBEAT: nothing to do; it kept the connection alive.
                }
                _ => {}
            }
        }
    }
}

fn set_window_size(fd: std::os::fd::RawFd, rows: u32, columns: u32) {
    let size = libc::winsize {
        ws_row: rows.min(u16::MAX as u32) as u16,
        ws_col: columns.min(u16::MAX as u32) as u16,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one `winsize` from the pointer, which outlives the call.
    #[allow(unsafe_code)]
    unsafe {
        libc::ioctl(fd, libc::TIOCSWINSZ, &size);
    }
}
