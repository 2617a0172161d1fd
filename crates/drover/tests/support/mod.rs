//! A real one-node Drover cluster for end-to-end tests: `drover master`, `drover agent` and
//! `drover marathon` as separate processes on free loopback ports, each with its own work dir
//! under one temp dir. Every process is killed when the fixture is dropped, even if the test
//! panicked. Readiness is awaited by polling the daemons' own endpoints, never by sleeping.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `drover` binary under test.
pub const DROVER: &str = env!("CARGO_BIN_EXE_drover");

/// Generous: a loaded 2-core CI machine may be slow, and a wait ends as soon as it is met.
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// A port nobody listens on right now.
///
/// Chosen below Linux's ephemeral range (32768 and up): a port from that range can be taken, in
/// the moment between this check and the daemon's bind, as the local port of any outgoing
/// connection on the machine — and parallel tests make many. Each test process starts at its
/// own offset (from its pid) and walks forward, so concurrent tests rarely try the same port.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const LOW: u32 = 20_000;
    const SPAN: u32 = 12_000;
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let _ = NEXT.compare_exchange(
        u32::MAX,
        (std::process::id().wrapping_mul(7_919)) % SPAN,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    for _ in 0..SPAN {
        let offset = NEXT.fetch_add(1, Ordering::SeqCst) % SPAN;
        let port = (LOW + offset) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {LOW}..{}", LOW + SPAN);
}

/// A child process that is killed when dropped.
#[derive(Debug)]
pub struct Daemon {
    pub name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Daemon {
    /// Starts `drover <args>`, sending its output to `<log_dir>/<name>.log`.
    pub fn start(name: &'static str, log_dir: &Path, args: &[String]) -> Daemon {
        Daemon::start_with_env(name, log_dir, args, &[])
    }

    /// Starts `drover <args>` with extra environment variables (`LIBPROCESS_SSL_*`).
    pub fn start_with_env(
        name: &'static str,
        log_dir: &Path,
        args: &[String],
        env: &[(String, String)],
    ) -> Daemon {
        let log = log_dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).expect("create log file");
        let child = Command::new(DROVER)
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("RUST_LOG", daemon_log_filter())
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("clone log handle"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|error| panic!("start {DROVER} {args:?}: {error}"));
        Daemon { name, child, log }
    }

    /// Starts `drover <args>` appending to an existing log (a restart keeps the first run's
    /// output for failure messages).
    pub fn start_appending(name: &'static str, log_dir: &Path, args: &[String]) -> Daemon {
        let log = log_dir.join(format!("{name}.log"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("open log file");
        let child = Command::new(DROVER)
            .args(args)
            .env("RUST_LOG", daemon_log_filter())
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("clone log handle"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|error| panic!("start {DROVER} {args:?}: {error}"));
        Daemon { name, child, log }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (`STOP`, `CONT`, `TERM`, …) to the daemon.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} {} failed", self.pid());
    }

    /// Pauses the daemon (SIGSTOP): it keeps its sockets but answers nothing.
    pub fn pause(&self) {
        self.signal("STOP");
    }

    /// Resumes a paused daemon (SIGCONT).
    pub fn resume(&self) {
        self.signal("CONT");
    }

    /// Whether the process has exited.
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// What the daemon logged so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Panics with the daemon's log if it has exited.
    pub fn assert_alive(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited with {status}:\n{}", self.name, self.log());
        }
    }

    /// SIGKILLs the daemon and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A minimal HTTP/1.1 GET to 127.0.0.1: (status, body), or None if nothing answered.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    http_request(port, "GET", path, None, "application/json")
}

/// A minimal HTTP/1.1 request with an optional body; the connection is closed after it.
pub fn http_request(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&str>,
    content_type: &str,
) -> Option<(u16, String)> {
    http_request_as(port, method, path, body, content_type, None)
}

/// [`http_request`] with HTTP Basic credentials (`principal:secret`), when given.
pub fn http_request_as(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&str>,
    content_type: &str,
    credentials: Option<&str>,
) -> Option<(u16, String)> {
    use base64::Engine as _;
    let authorization = credentials
        .map(|c| {
            format!(
                "Authorization: Basic {}\r\n",
                base64::engine::general_purpose::STANDARD.encode(c)
            )
        })
        .unwrap_or_default();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         {authorization}Content-Type: {content_type}\r\nAccept: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let (head, rest) = text.split_once("\r\n\r\n")?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    Some((status, body))
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || tail.len() < size {
            break;
        }
        out.push_str(&tail[..size]);
        rest = tail[size..].trim_start_matches("\r\n");
    }
    out
}

/// Polls `condition` until it holds or `timeout` passes; the error names what was awaited.
pub fn wait_until(what: &str, timeout: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if condition() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out after {timeout:?} waiting for {what}");
}

/// A master, one agent and (optionally) the Marathon-compatible scheduler.
#[derive(Debug)]
pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub master_port: u16,
    pub agent_port: u16,
    pub marathon_port: u16,
    pub master: Daemon,
    pub agent: Daemon,
    pub marathon: Option<Daemon>,
    /// Agents started after the first (`Options::agents`, [`Cluster::add_agent`]).
    pub more_agents: Vec<(u16, Daemon)>,
    /// Extra flags of every `drover master` start (kept for restarts).
    pub master_flags: Vec<String>,
    /// Extra flags of every `drover agent` start (kept for restarts).
    pub agent_flags: Vec<String>,
    /// Extra flags of every `drover marathon` start (kept for restarts).
    pub marathon_flags: Vec<String>,
}

/// What [`Cluster::start_with`] starts.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Agents to start (at least one is always started).
    pub agents: usize,
    /// Whether to start `drover marathon` too.
    pub marathon: bool,
    /// Extra `drover master` flags, e.g. `--agent_ping_timeout=1secs`.
    pub master_flags: Vec<String>,
    /// Extra `drover agent` flags for every agent.
    pub agent_flags: Vec<String>,
    /// Extra `drover marathon` flags, e.g. `--enable_features=pods`.
    pub marathon_flags: Vec<String>,
}

impl Cluster {
    /// Starts a master and an agent and waits until the agent is registered.
    pub fn start(with_marathon: bool) -> Cluster {
        Cluster::start_with(Options {
            agents: 1,
            marathon: with_marathon,
            ..Options::default()
        })
    }

    /// Starts a master with `options.agents` agents (each with its own work dir), waits until
    /// all are registered, then starts the scheduler if asked.
    pub fn start_with(options: Options) -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let master_port = free_port();
        let agent_port = free_port();
        let marathon_port = free_port();
        let mut args = master_args(dir.path(), master_port);
        args.extend(options.master_flags.iter().cloned());
        let master = Daemon::start("master", dir.path(), &args);
        let mut args = agent_args(dir.path(), master_port, agent_port);
        args.extend(options.agent_flags.iter().cloned());
        let mut cluster = Cluster {
            master_port,
            agent_port,
            marathon_port,
            agent: Daemon::start("agent", dir.path(), &args),
            master,
            marathon: None,
            more_agents: Vec::new(),
            master_flags: options.master_flags,
            agent_flags: options.agent_flags,
            marathon_flags: options.marathon_flags,
            dir,
        };
        for _ in 1..options.agents {
            cluster.spawn_agent();
        }
        cluster.wait_for_agents(options.agents.max(1));
        if options.marathon {
            cluster.start_marathon();
        }
        cluster
    }

    /// Log-file names of agents 1.. (`Daemon::name` is `'static`).
    const AGENT_NAMES: [&'static str; 8] = [
        "agent", "agent1", "agent2", "agent3", "agent4", "agent5", "agent6", "agent7",
    ];

    /// Arguments of agent `index`: its own port and work dir.
    fn agent_args_at(&self, index: usize, port: u16) -> Vec<String> {
        let mut args = agent_args(self.dir.path(), self.master_port, port);
        if index > 0 {
            let work_dir = self.dir.path().join(Self::AGENT_NAMES[index]);
            for arg in args.iter_mut().filter(|a| a.starts_with("--work_dir=")) {
                *arg = format!("--work_dir={}", work_dir.display());
            }
        }
        args.extend(self.agent_flags.iter().cloned());
        args
    }

    fn spawn_agent(&mut self) -> usize {
        let index = self.more_agents.len() + 1;
        assert!(index < Self::AGENT_NAMES.len(), "too many agents");
        let port = free_port();
        let args = self.agent_args_at(index, port);
        let daemon = Daemon::start(Self::AGENT_NAMES[index], self.dir.path(), &args);
        self.more_agents.push((port, daemon));
        index
    }

    /// Starts one more agent and waits until the master lists it; returns its index.
    pub fn add_agent(&mut self) -> usize {
        let index = self.spawn_agent();
        let port = self.agent_port_at(index);
        let master_port = self.master_port;
        wait_until("the new agent to register", READY_TIMEOUT, || {
            agent_id_on(master_port, port).is_some()
        });
        index
    }

    /// Number of agents started so far.
    pub fn agent_count(&self) -> usize {
        1 + self.more_agents.len()
    }

    /// The port of agent `index` (0 is [`Cluster::agent`]).
    pub fn agent_port_at(&self, index: usize) -> u16 {
        if index == 0 {
            self.agent_port
        } else {
            self.more_agents[index - 1].0
        }
    }

    /// The process of agent `index`.
    pub fn agent_at(&mut self, index: usize) -> &mut Daemon {
        if index == 0 {
            &mut self.agent
        } else {
            &mut self.more_agents[index - 1].1
        }
    }

    /// The index of the agent the master knows as `agent_id`.
    pub fn agent_index(&self, agent_id: &str) -> usize {
        let slaves = self.master_json("/master/slaves");
        let port = slaves["slaves"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(slaves["recovered_slaves"].as_array().into_iter().flatten())
            .find(|s| s["id"] == agent_id)
            .and_then(|s| s["port"].as_u64())
            .unwrap_or_else(|| panic!("agent {agent_id} unknown to the master: {slaves}"));
        (0..self.agent_count())
            .find(|&i| u64::from(self.agent_port_at(i)) == port)
            .expect("an agent of this cluster")
    }

    /// The agent id the master gave agent `index`.
    pub fn agent_id(&self, index: usize) -> String {
        agent_id_on(self.master_port, self.agent_port_at(index))
            .unwrap_or_else(|| panic!("agent {index} is not registered"))
    }

    /// SIGKILLs agent `index` and starts it again on the same port and work dir (recovery).
    pub fn restart_agent(&mut self, index: usize) {
        self.agent_at(index).kill();
        self.start_agent_again(index);
    }

    /// Starts agent `index` again (after [`Daemon::kill`]) on the same port and work dir.
    pub fn start_agent_again(&mut self, index: usize) {
        self.start_agent_again_with(index, &[]);
    }

    /// Like [`Cluster::start_agent_again`], with extra flags for this run (`--boot_id=…`).
    pub fn start_agent_again_with(&mut self, index: usize, extra: &[&str]) {
        let port = self.agent_port_at(index);
        let mut args = self.agent_args_at(index, port);
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        let name = Self::AGENT_NAMES[index];
        *self.agent_at(index) = Daemon::start_appending(name, self.dir.path(), &args);
    }

    /// Starts the master again (after [`Daemon::kill`]) on the same port and work dir.
    pub fn start_master_again(&mut self) {
        let mut args = master_args(self.dir.path(), self.master_port);
        args.extend(self.master_flags.iter().cloned());
        self.master = Daemon::start_appending("master", self.dir.path(), &args);
        let port = self.master_port;
        wait_until("the restarted master to answer", READY_TIMEOUT, || {
            http_get(port, "/health").is_some()
        });
    }

    /// Polls `condition` until it holds; on timeout panics with what the master knows of its
    /// tasks and every daemon's log.
    pub fn wait_for(&self, what: &str, mut condition: impl FnMut() -> bool) {
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if condition() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "timed out waiting for {what}\n/master/tasks: {}\n{}",
            http_get(self.master_port, "/master/tasks")
                .map(|(_, body)| body)
                .unwrap_or_default(),
            self.logs()
        );
    }

    /// GET on the master, parsed as JSON (panics if it does not answer 200 with JSON).
    pub fn master_json(&self, path: &str) -> serde_json::Value {
        get_json(self.master_port, path)
            .unwrap_or_else(|| panic!("GET {path} on the master failed\n{}", self.logs()))
    }

    /// POSTs an Operator API v1 call (JSON) to the master: (status, body).
    pub fn operator(&self, call: &serde_json::Value) -> (u16, String) {
        http_request(
            self.master_port,
            "POST",
            "/api/v1",
            Some(&call.to_string()),
            "application/json",
        )
        .expect("the master answers /api/v1")
    }

    /// A request to the scheduler's REST API: (status, body as JSON or `Null`).
    pub fn marathon_request(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let body = body.map(|b| b.to_string());
        let (status, text) = http_request(
            self.marathon_port,
            method,
            path,
            body.as_deref(),
            "application/json",
        )
        .unwrap_or_else(|| panic!("{method} {path}: marathon did not answer"));
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        )
    }

    /// GET on the scheduler's REST API; panics unless 200.
    pub fn marathon_json(&self, path: &str) -> serde_json::Value {
        let (status, body) = self.marathon_request("GET", path, None);
        assert_eq!(status, 200, "GET {path}: {body}\n{}", self.logs());
        body
    }

    /// Starts (or restarts) the scheduler and waits for `/ping`.
    pub fn start_marathon(&mut self) {
        let mut args = vec![
            "marathon".to_owned(),
            format!("--master=127.0.0.1:{}", self.master_port),
            format!("--http_port={}", self.marathon_port),
            format!("--work_dir={}", self.dir.path().join("marathon").display()),
        ];
        args.extend(self.marathon_flags.iter().cloned());
        self.marathon = Some(Daemon::start("marathon", self.dir.path(), &args));
        let port = self.marathon_port;
        let deadline = Instant::now() + READY_TIMEOUT;
        while http_get(port, "/ping").is_none_or(|(status, _)| status != 200) {
            if let Some(marathon) = self.marathon.as_mut() {
                marathon.assert_alive();
            }
            assert!(
                Instant::now() < deadline,
                "marathon did not answer /ping on port {port}.\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the master lists `count` active agents.
    pub fn wait_for_agents(&mut self, count: usize) {
        let port = self.master_port;
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let active = http_get(port, "/master/slaves")
                .map(|(_, body)| body.matches("\"active\":true").count())
                .unwrap_or(0);
            if active >= count {
                return;
            }
            self.master.assert_alive();
            self.agent.assert_alive();
            assert!(
                Instant::now() < deadline,
                "agent did not register.\nmaster log:\n{}\nagent log:\n{}",
                self.master.log(),
                self.agent.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Everything the daemons logged, for failure messages.
    pub fn logs(&self) -> String {
        let mut logs = format!(
            "--- master ---\n{}\n--- agent ---\n{}\n",
            self.master.log(),
            self.agent.log()
        );
        for (_, agent) in &self.more_agents {
            logs.push_str(&format!("--- {} ---\n{}\n", agent.name, agent.log()));
        }
        if let Some(marathon) = &self.marathon {
            logs.push_str(&format!("--- marathon ---\n{}\n", marathon.log()));
        }
        logs
    }
}

impl Drop for Cluster {
    /// Kills the daemons, then every process still working inside the cluster's directory
    /// (executors and tasks that outlived their agent), so no test leaves processes behind.
    fn drop(&mut self) {
        if let Some(marathon) = &mut self.marathon {
            marathon.kill();
        }
        self.master.kill();
        self.agent.kill();
        for (_, agent) in &mut self.more_agents {
            agent.kill();
        }
        kill_processes_under(self.dir.path());
        unmount_under(self.dir.path());
        for index in 0..self.agent_count() {
            remove_cgroups(&cgroups_root(self.agent_port_at(index)));
        }
    }
}

/// Detaches every mount at or below `dir` (deepest first): the root filesystems the agent's
/// provisioner mounted for containers with an image, which a killed agent leaves mounted on
/// the host (an agent keeps its containers across its own restarts, as Mesos' did), and which
/// would otherwise keep the test's directory from being removed.
pub fn unmount_under(dir: &Path) {
    let Ok(table) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let mut points: Vec<PathBuf> = table
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|point| PathBuf::from(unescape_mount_point(point)))
        .filter(|point| point.starts_with(dir))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.as_os_str().len()));
    points.dedup();
    for point in points {
        if let Err(e) = nix::mount::umount2(&point, nix::mount::MntFlags::MNT_DETACH) {
            eprintln!("cannot unmount {}: {e}", point.display());
        }
    }
}

/// A mount point as `/proc/self/mountinfo` writes it, with its octal escapes (`\040` for a
/// space) decoded.
fn unescape_mount_point(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let digit = |b: u8| u32::from(b - b'0');
            let code = digit(bytes[i + 1]) * 64 + digit(bytes[i + 2]) * 8 + digit(bytes[i + 3]);
            out.push(u8::try_from(code).unwrap_or(b'?'));
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Pids of the processes whose working directory lies under `dir` (this one excluded).
pub fn processes_under(dir: &Path) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let me = std::process::id();
    entries
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let cwd = std::fs::read_link(entry.path().join("cwd")).ok()?;
            (pid != me && cwd.starts_with(dir)).then_some(pid)
        })
        .collect()
}

/// SIGKILLs every process whose working directory lies under `dir` (by pid, one by one).
pub fn kill_processes_under(dir: &Path) {
    for pid in processes_under(dir) {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .stderr(Stdio::null())
            .status();
    }
}

/// GET parsed as JSON, if the daemon answered 200 with JSON.
pub fn get_json(port: u16, path: &str) -> Option<serde_json::Value> {
    let (status, body) = http_get(port, path)?;
    if status != 200 {
        return None;
    }
    serde_json::from_str(&body).ok()
}

/// The id the master on `master_port` gave the active agent listening on `agent_port`.
pub fn agent_id_on(master_port: u16, agent_port: u16) -> Option<String> {
    let slaves = get_json(master_port, "/master/slaves")?;
    slaves["slaves"]
        .as_array()?
        .iter()
        .find(|s| s["port"].as_u64() == Some(u64::from(agent_port)) && s["active"] == true)
        .and_then(|s| s["id"].as_str())
        .map(str::to_owned)
}

/// Arguments of `drover master` for a test cluster.
pub fn master_args(dir: &Path, port: u16) -> Vec<String> {
    vec![
        "master".to_owned(),
        "--ip=127.0.0.1".to_owned(),
        format!("--port={port}"),
        format!("--work_dir={}", dir.join("master").display()),
    ]
}

/// Arguments of `drover agent` for a test cluster.
pub fn agent_args(dir: &Path, master_port: u16, port: u16) -> Vec<String> {
    vec![
        "agent".to_owned(),
        format!("--master=127.0.0.1:{master_port}"),
        "--ip=127.0.0.1".to_owned(),
        format!("--port={port}"),
        format!("--work_dir={}", dir.join("agent").display()),
        "--resources=cpus:2;mem:2048;disk:4096;ports:[31000-31999]".to_owned(),
        format!("--cgroups_root={}", cgroups_root(port)),
    ]
}

/// The cgroup an agent of a test cluster keeps its containers under: its own, so that an
/// agent starting elsewhere on this host (another test, another agent of this cluster) never
/// takes its containers for orphans and destroys them, as it would under a shared root.
pub fn cgroups_root(agent_port: u16) -> String {
    format!("drover-test-{agent_port}")
}

/// Kills what is left in an agent's cgroups (by pid) and removes them, in every hierarchy.
pub fn remove_cgroups(root: &str) {
    let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    let mut seen = std::collections::BTreeSet::new();
    for hierarchy in hierarchies.flatten() {
        let Ok(path) = hierarchy.path().canonicalize() else {
            continue;
        };
        if seen.insert(path.clone()) && path.join(root).is_dir() {
            remove_cgroup_tree(&path.join(root));
        }
    }
}

fn remove_cgroup_tree(dir: &Path) {
    if let Ok(children) = std::fs::read_dir(dir) {
        for child in children.flatten() {
            if child.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroup_tree(&child.path());
            }
        }
    }
    for _ in 0..100 {
        let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        for pid in procs.split_whitespace() {
            let _ = Command::new("kill")
                .args(["-KILL", pid])
                .stderr(Stdio::null())
                .status();
        }
        if std::fs::remove_dir(dir).is_ok() || !dir.exists() {
            return;
        }
        // Killed processes take a moment to leave their cgroup.
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The Python interpreter of the virtualenv that `scripts/setup` prepares.
pub fn python() -> PathBuf {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    assert!(
        venv.exists(),
        "{} is missing: run scripts/setup (the README's test command does)",
        venv.display()
    );
    venv
}

/// Runs a Python compatibility script with a deadline, returning its combined output; panics
/// with that output and the cluster's logs if it fails.
pub fn run_python(cluster: &Cluster, script: &str, args: &[String]) -> String {
    run_python_with(script, args, &[], || cluster.logs())
}

/// [`run_python`] with extra environment variables, and `logs` for the failure message.
pub fn run_python_with(
    script: &str,
    args: &[String],
    env: &[(String, String)],
    logs: impl Fn() -> String,
) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(script);
    let mut child = Command::new(python())
        .arg(&script)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python");
    let deadline = Instant::now() + Duration::from_secs(240);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait python") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break child.wait().expect("reap python");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut output = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        let _ = stdout.read_to_string(&mut output);
    }
    if let Some(mut stderr) = child.stderr.take() {
        let _ = stderr.read_to_string(&mut output);
    }
    assert!(
        status.success() && output.contains("OK"),
        "{} failed ({status}):\n{output}\n{}",
        script.display(),
        logs()
    );
    output
}

/// Lines a background reader collected, shared with the test.
type Lines = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// A Mesos framework under the test's control: `tests/python/framework.py` (pymesos) as a
/// child process. The test sends it commands on stdin (`launch`, `reconcile`, `kill`, …) and
/// reads what it observed from its stdout (`registered <id>`, `update <json>`, …). Killed when
/// dropped.
#[derive(Debug)]
pub struct Framework {
    pub name: String,
    child: Child,
    stdin: std::process::ChildStdin,
    lines: Lines,
    log: PathBuf,
    /// The cluster's directory: its daemons' logs go into failure messages too.
    cluster_dir: PathBuf,
}

impl Framework {
    /// Starts `framework.py` against the cluster's master. `args` are the script's options
    /// (`--partition-aware`, `--checkpoint`, `--framework-id=ID`).
    pub fn start(cluster: &Cluster, name: &str, args: &[&str]) -> Framework {
        Framework::start_script(cluster, "framework.py", name, args)
    }

    /// Starts another script of `tests/python` that speaks the same line protocol
    /// (`registered`, `update <json>`, commands on stdin).
    pub fn start_script(cluster: &Cluster, script: &str, name: &str, args: &[&str]) -> Framework {
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/python")
            .join(script);
        let log = cluster.dir.path().join(format!("{name}.framework.log"));
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("framework log");
        let mut child = Command::new(python())
            .arg(&script)
            .arg(format!("127.0.0.1:{}", cluster.master_port))
            .arg(format!("--name={name}"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start framework.py");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let lines: Lines = Default::default();
        let sink = lines.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                sink.lock().expect("lines").push(line);
            }
        });
        Framework {
            name: name.to_owned(),
            child,
            stdin,
            lines,
            log,
            cluster_dir: cluster.dir.path().to_owned(),
        }
    }

    /// Sends one command line to the script.
    pub fn send(&mut self, command: &str) {
        writeln!(self.stdin, "{command}")
            .and_then(|()| self.stdin.flush())
            .unwrap_or_else(|e| panic!("{}: send {command:?}: {e}\n{}", self.name, self.output()));
    }

    /// Everything the script printed so far, its log, and the cluster's daemon logs.
    pub fn output(&self) -> String {
        let mut output = format!(
            "--- {} stdout ---\n{}\n--- {} log ---\n{}",
            self.name,
            self.lines.lock().expect("lines").join("\n"),
            self.name,
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
        let mut daemon_logs: Vec<PathBuf> = std::fs::read_dir(&self.cluster_dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| {
                path.extension().is_some_and(|e| e == "log")
                    && !path.to_string_lossy().ends_with(".framework.log")
            })
            .collect();
        daemon_logs.sort();
        for path in daemon_logs {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            output.push_str(&format!("\n--- {name} ---\n{text}"));
        }
        for path in sandbox_stderr_files(&self.cluster_dir) {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(40).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            output.push_str(&format!(
                "\n--- {} (last 40 lines) ---\n{}",
                path.display(),
                tail.join("\n")
            ));
        }
        output
    }

    /// Every line printed so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().expect("lines").clone()
    }

    /// Waits for a printed line that satisfies `predicate` and returns it.
    pub fn wait_line(&mut self, what: &str, predicate: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(line) = self.lines().into_iter().find(|l| predicate(l)) {
                return line;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{}: exited ({status}) before {what}\n{}",
                    self.name,
                    self.output()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{}: timed out waiting for {what}\n{}",
                self.name,
                self.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the framework is subscribed; returns its framework id.
    pub fn wait_registered(&mut self) -> String {
        let line = self.wait_line("SUBSCRIBED", |l| l.starts_with("registered "));
        line["registered ".len()..].trim().to_owned()
    }

    /// How many times the framework was (re)subscribed so far.
    pub fn subscriptions(&self) -> usize {
        self.lines()
            .iter()
            .filter(|l| l.starts_with("registered ") || l.starts_with("reregistered "))
            .count()
    }

    /// Every status update received so far, as JSON (`task_id`, `state`, `reason`, `source`,
    /// `uuid` (bool), `agent_id`, `message`, `unreachable_time` (bool)).
    pub fn updates(&self) -> Vec<serde_json::Value> {
        self.lines()
            .iter()
            .filter_map(|l| l.strip_prefix("update "))
            .filter_map(|json| serde_json::from_str(json).ok())
            .collect()
    }

    /// Updates for one task.
    pub fn updates_of(&self, task_id: &str) -> Vec<serde_json::Value> {
        self.updates()
            .into_iter()
            .filter(|u| u["task_id"] == task_id)
            .collect()
    }

    /// Waits for an update of `task_id` in `state` (and with `reason`, if given).
    pub fn wait_update(
        &mut self,
        task_id: &str,
        state: &str,
        reason: Option<&str>,
    ) -> serde_json::Value {
        let what = format!("{task_id} {state} {reason:?}");
        let line = self.wait_line(&what, |l| {
            l.strip_prefix("update ")
                .and_then(|json| serde_json::from_str::<serde_json::Value>(json).ok())
                .is_some_and(|u| {
                    u["task_id"] == task_id
                        && u["state"] == state
                        && reason.is_none_or(|r| u["reason"] == r)
                })
        });
        serde_json::from_str(&line["update ".len()..]).expect("update json")
    }

    /// Launches a command task (cpus 0.1, mem 32) on agent `agent_id` (`*`: any agent).
    pub fn launch(&mut self, task_id: &str, agent_id: &str, command: &str) {
        self.send(&format!("launch {task_id} {agent_id} {command}"));
    }
}

impl Drop for Framework {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Marathon's `/v2/events` as a test sees it: a background reader keeps every event (the
/// `data` JSON, which carries `eventType`) in arrival order.
#[derive(Debug)]
pub struct EventStream {
    events: Lines,
}

impl EventStream {
    /// Subscribes to the scheduler's event stream and waits until it is attached.
    pub fn open(port: u16) -> EventStream {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect /v2/events");
        let request = format!(
            "GET /v2/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).expect("send request");
        let events: Lines = Default::default();
        let sink = events.clone();
        std::thread::spawn(move || read_sse(stream, &sink));
        let stream = EventStream { events };
        stream.wait("event_stream_attached", |e| {
            e["eventType"] == "event_stream_attached"
        });
        stream
    }

    /// Every event so far.
    pub fn all(&self) -> Vec<serde_json::Value> {
        self.events
            .lock()
            .expect("events")
            .iter()
            .filter_map(|data| serde_json::from_str(data).ok())
            .collect()
    }

    /// Events satisfying `predicate`.
    pub fn matching(
        &self,
        predicate: impl Fn(&serde_json::Value) -> bool,
    ) -> Vec<serde_json::Value> {
        self.all().into_iter().filter(|e| predicate(e)).collect()
    }

    /// Waits for an event satisfying `predicate`; returns the first one.
    pub fn wait(
        &self,
        what: &str,
        predicate: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(event) = self.all().into_iter().find(|e| predicate(e)) {
                return event;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for event {what}; events so far:\n{}",
                self.all()
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for a `status_update_event` of `app_id` in `state` (other than `except` tasks);
    /// returns it.
    pub fn wait_status(&self, app_id: &str, state: &str, except: &[&str]) -> serde_json::Value {
        self.wait(&format!("{app_id} {state}"), |e| {
            e["eventType"] == "status_update_event"
                && e["appId"] == app_id
                && e["taskStatus"] == state
                && !except.iter().any(|t| e["taskId"] == *t)
        })
    }

    /// The `status_update_event`s of one task, in order.
    pub fn states_of(&self, task_id: &str) -> Vec<String> {
        self.matching(|e| e["eventType"] == "status_update_event" && e["taskId"] == task_id)
            .iter()
            .filter_map(|e| e["taskStatus"].as_str().map(str::to_owned))
            .collect()
    }
}

/// Reads an SSE response (chunked or not) and stores each event's `data`.
fn read_sse(stream: TcpStream, sink: &Lines) {
    use std::io::BufRead;
    let mut reader = std::io::BufReader::new(stream);
    let mut line = String::new();
    let mut chunked = false;
    // Head.
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        if line
            .to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
        {
            chunked = true;
        }
        if line == "\r\n" {
            break;
        }
    }
    let mut pending = String::new();
    let mut data = String::new();
    loop {
        let mut piece = Vec::new();
        if chunked {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let Ok(size) = usize::from_str_radix(line.trim(), 16) else {
                return;
            };
            if size == 0 {
                return;
            }
            piece.resize(size + 2, 0);
            if reader.read_exact(&mut piece).is_err() {
                return;
            }
            piece.truncate(size);
        } else {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            piece.extend_from_slice(line.as_bytes());
        }
        pending.push_str(&String::from_utf8_lossy(&piece));
        while let Some(end) = pending.find('\n') {
            let text: String = pending.drain(..=end).collect();
            let text = text.trim_end_matches(['\r', '\n']);
            if let Some(rest) = text.strip_prefix("data:") {
                data.push_str(rest.trim_start());
            } else if text.is_empty() && !data.is_empty() {
                sink.lock().expect("events").push(std::mem::take(&mut data));
            }
        }
    }
}

/// The daemons' log filter: `info`, or `DROVER_TEST_LOG` when a developer chasing a failure
/// wants more (`DROVER_TEST_LOG=drover_agent=debug,info`).
fn daemon_log_filter() -> String {
    std::env::var("DROVER_TEST_LOG").unwrap_or_else(|_| "info".to_owned())
}

/// Every sandbox's `stderr` under `dir` (executors log there), for failure messages.
fn sandbox_stderr_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if entry
                .file_type()
                .is_ok_and(|t| t.is_dir() && !t.is_symlink())
            {
                pending.push(path);
            } else if path.file_name().is_some_and(|n| n == "stderr") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// `drover <args> --marathon=<the cluster's scheduler>` with the cluster's own CLI config
/// directory: (exit code, stdout and stderr together).
pub fn drover_cli(cluster: &Cluster, args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(DROVER)
        .args(args)
        .arg(format!("--marathon=127.0.0.1:{}", cluster.marathon_port))
        .env("XDG_CONFIG_HOME", cluster.dir.path().join("config"))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run drover");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// PEM files of a test CA and of one certificate it signed for `localhost` and 127.0.0.1,
/// which every daemon presents (as servers, and as clients).
pub struct Pki {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Pki {
    /// A daemon's (or the CLI's) environment: TLS on with this certificate, servers verified
    /// against the CA, and by IP address, as the test clusters are reached.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("LIBPROCESS_SSL_ENABLED", "true".to_owned()),
            ("LIBPROCESS_SSL_CERT_FILE", self.cert.display().to_string()),
            ("LIBPROCESS_SSL_KEY_FILE", self.key.display().to_string()),
            ("LIBPROCESS_SSL_CA_FILE", self.ca.display().to_string()),
            ("LIBPROCESS_SSL_VERIFY_SERVER_CERT", "true".to_owned()),
            ("LIBPROCESS_SSL_VERIFY_IPADD", "true".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}

pub fn make_pki(dir: &Path) -> Pki {
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Drover TLS test CA");
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let ca = ca_params.self_signed(&ca_key).expect("CA");
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("params");
    params.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let cert = params.signed_by(&key, &ca, &ca_key).expect("cert");
    let write = |name: &str, text: String| {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write pem");
        path
    };
    Pki {
        ca: write("ca.pem", ca.pem()),
        cert: write("cert.pem", cert.pem()),
        key: write("key.pem", key.serialize_pem()),
    }
}
