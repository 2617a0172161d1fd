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
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("bind an ephemeral port")
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
        let log = log_dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).expect("create log file");
        let child = Command::new(DROVER)
            .args(args)
            .env("RUST_LOG", "info")
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
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Content-Type: {content_type}\r\nAccept: application/json\r\n\
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
}

impl Cluster {
    /// Starts a master and an agent and waits until the agent is registered.
    pub fn start(with_marathon: bool) -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let master_port = free_port();
        let agent_port = free_port();
        let marathon_port = free_port();
        let master = Daemon::start("master", dir.path(), &master_args(dir.path(), master_port));
        let mut cluster = Cluster {
            master_port,
            agent_port,
            marathon_port,
            agent: Daemon::start(
                "agent",
                dir.path(),
                &agent_args(dir.path(), master_port, agent_port),
            ),
            master,
            marathon: None,
            dir,
        };
        cluster.wait_for_agents(1);
        if with_marathon {
            cluster.start_marathon();
        }
        cluster
    }

    /// Starts (or restarts) the scheduler and waits for `/ping`.
    pub fn start_marathon(&mut self) {
        let args = vec![
            "marathon".to_owned(),
            format!("--master=127.0.0.1:{}", self.master_port),
            format!("--http_port={}", self.marathon_port),
            format!("--work_dir={}", self.dir.path().join("marathon").display()),
        ];
        self.marathon = Some(Daemon::start("marathon", self.dir.path(), &args));
        let port = self.marathon_port;
        wait_until("marathon /ping", READY_TIMEOUT, || {
            http_get(port, "/ping").is_some_and(|(status, _)| status == 200)
        });
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
        if let Some(marathon) = &self.marathon {
            logs.push_str(&format!("--- marathon ---\n{}\n", marathon.log()));
        }
        logs
    }
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
    ]
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
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(script);
    let mut child = Command::new(python())
        .arg(&script)
        .args(args)
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
        cluster.logs()
    );
    output
}
