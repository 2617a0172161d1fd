//! `drover dev`: a one-node cluster on this machine in one process — the master, an agent and
//! the Marathon-compatible scheduler on loopback, each the real daemon (`run` with its own
//! shutdown signal) on one tokio runtime, with their stores and the sandboxes under one work
//! dir. Stopping (Ctrl-C or SIGTERM) goes in dependency order: the scheduler first (so it does
//! not react to what follows), then the tasks (killed unless `--keep_tasks_running`), the agent,
//! and the master last. Every store commits atomically, so nothing is left half-written, and a
//! restart finds the apps, the framework id and (if left running) the tasks where they were.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use clap::{Args, FromArgMatches};
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::cli::{Service, fmt_number, number, text};

/// How long start-up may take before `drover dev` gives up.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long each daemon may take to stop (the agent kills its tasks first, each with its
/// kill grace, waiting up to its executor shutdown grace + 10 s).
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Flags of `drover dev`.
#[derive(Debug, Clone, clap::Args)]
pub struct DevFlags {
    /// Directory of the master's registry, the scheduler's store and the agent's checkpoints
    /// and sandboxes [default: $XDG_DATA_HOME/drover/dev, else ~/.local/share/drover/dev].
    #[arg(long = "work_dir", env = "DROVER_DEV_WORK_DIR", value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// Port of the master (Mesos' Scheduler and Operator APIs, `/master/state`).
    #[arg(
        long = "master_port",
        env = "DROVER_DEV_MASTER_PORT",
        default_value_t = 5050
    )]
    pub master_port: u16,
    /// Port of the agent (`/state`, `/files`, the Executor API).
    #[arg(
        long = "agent_port",
        env = "DROVER_DEV_AGENT_PORT",
        default_value_t = 5051
    )]
    pub agent_port: u16,
    /// Port of the Marathon-compatible scheduler (REST API v2, `/v2/events`).
    #[arg(
        long = "marathon_port",
        env = "DROVER_DEV_MARATHON_PORT",
        default_value_t = 8080
    )]
    pub marathon_port: u16,
    /// What the agent offers, in Mesos syntax (`cpus:2;mem:2048;disk:4096;ports:[31000-31999]`)
    /// [default: detected from this machine].
    #[arg(
        long = "resources",
        env = "DROVER_DEV_RESOURCES",
        value_name = "RESOURCES"
    )]
    pub resources: Option<String>,
    /// Isolation of the tasks (the agent's `--isolation`: Mesos names, or `posix` for plain
    /// processes). What this machine can enable is printed at start.
    #[arg(
        long = "isolation",
        env = "DROVER_DEV_ISOLATION",
        default_value = "cgroups/cpu,cgroups/mem,namespaces/pid,disk/du"
    )]
    pub isolation: String,
    /// Leave the tasks running when `drover dev` stops; the next `drover dev` takes them back.
    /// By default they are killed.
    #[arg(long = "keep_tasks_running", env = "DROVER_DEV_KEEP_TASKS_RUNNING")]
    pub keep_tasks_running: bool,
    /// The scheduler's role (Marathon's `--mesos_role`): resident apps (persistent volumes)
    /// reserve resources for it, so a resident app names this role.
    #[arg(
        long = "mesos_role",
        env = "DROVER_DEV_MESOS_ROLE",
        default_value = "*"
    )]
    pub mesos_role: String,
    /// `principal:secret`: run the cluster with authentication on (the master's and the
    /// agent's `--authenticate_http_readwrite` and `--authenticate_http_readonly`, the
    /// master's `--authenticate_http_frameworks` and `--authenticate_agents`, the scheduler's
    /// `--http_credentials` and `--mesos_authentication`), every daemon using this one
    /// credential: nothing of the cluster, not even its state, is served without it.
    #[arg(
        long = "credentials",
        env = "DROVER_DEV_CREDENTIALS",
        value_name = "PRINCIPAL:SECRET",
        value_parser = drover_http::auth::Credential::parse_pair
    )]
    pub credentials: Option<drover_http::auth::Credential>,
    /// With --credentials: the master's authorization rules (its `--acls`, Mesos' ACL JSON
    /// or a file path), e.g. what the principal may see of the cluster (`view_tasks`...).
    #[arg(
        long = "acls",
        env = "DROVER_DEV_ACLS",
        value_name = "JSON|PATH",
        requires = "credentials"
    )]
    pub acls: Option<String>,
    /// Run the cluster highly available on a ZooKeeper that is already running (--zk): three
    /// masters (on --master_port and the two ports after the agent's), two schedulers (on
    /// --marathon_port and the next) and the agent, each its own process, restarted when it
    /// exits, so a leader can be killed and the cluster watched carrying on.
    #[arg(long = "ha", env = "DROVER_DEV_HA")]
    pub ha: bool,
    /// With --ha: the ZooKeeper ensemble and the root path under which the masters (`/mesos`)
    /// and the schedulers (`/marathon`) elect their leaders and keep their state.
    #[arg(
        long = "zk",
        env = "DROVER_DEV_ZK",
        value_name = "zk://HOST:PORT[,HOST:PORT]/PATH",
        default_value = "zk://127.0.0.1:2181/drover-dev",
        value_parser = parse_zk,
        requires = "ha"
    )]
    pub zk: drover_coord::ZkUrl,
}

fn parse_zk(text: &str) -> Result<drover_coord::ZkUrl, String> {
    drover_coord::ZkUrl::parse(text).map_err(|e| e.to_string())
}

/// Files holding `credential` in the daemons' formats, readable by this user only: the
/// master's and the agent's `--credentials`, the agent's `--credential`, the scheduler's
/// secret file.
fn write_credentials(
    work_dir: &Path,
    credential: &drover_http::auth::Credential,
) -> anyhow::Result<(String, String, String)> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let dir = work_dir.join("credentials");
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    let write = |name: &str, text: String| -> anyhow::Result<String> {
        let path = dir.join(name);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("write {}", path.display()))?;
        file.write_all(text.as_bytes())
            .with_context(|| format!("write {}", path.display()))?;
        Ok(path.display().to_string())
    };
    let all = serde_json::json!({"credentials": [
        {"principal": credential.principal, "secret": credential.secret}
    ]});
    Ok((
        write("credentials.json", all.to_string())?,
        write(
            "agent.json",
            serde_json::json!({"principal": credential.principal, "secret": credential.secret})
                .to_string(),
        )?,
        write("marathon.secret", credential.secret.clone())?,
    ))
}

/// One daemon running on the shared runtime.
struct Daemon {
    name: &'static str,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<anyhow::Result<()>>,
    finished: bool,
}

impl Daemon {
    fn spawn<F>(name: &'static str, start: impl FnOnce(ShutdownFuture) -> F) -> Daemon
    where
        F: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown: ShutdownFuture = Box::pin(async move {
            let _ = stopped.await;
        });
        Daemon {
            name,
            stop: Some(stop),
            task: tokio::spawn(start(shutdown)),
            finished: false,
        }
    }

    /// Signals the daemon to stop and waits for it.
    async fn stop(&mut self) -> anyhow::Result<()> {
        if self.finished {
            return Ok(());
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let result = tokio::time::timeout(STOP_TIMEOUT, &mut self.task).await;
        self.finished = true;
        match result {
            Ok(Ok(result)) => result.with_context(|| format!("the {} failed", self.name)),
            Ok(Err(join)) => Err(anyhow!("the {} crashed: {join}", self.name)),
            Err(_) => {
                self.task.abort();
                Err(anyhow!(
                    "the {} did not stop within {}s",
                    self.name,
                    STOP_TIMEOUT.as_secs()
                ))
            }
        }
    }

    /// Waits until the daemon ends by itself (an error: daemons run until told to stop).
    async fn ended(&mut self) -> anyhow::Error {
        if self.finished {
            return std::future::pending().await;
        }
        let result = (&mut self.task).await;
        self.finished = true;
        match result {
            Ok(Ok(())) => anyhow!("the {} stopped unexpectedly", self.name),
            Ok(Err(error)) => error.context(format!("the {} stopped", self.name)),
            Err(join) => anyhow!("the {} crashed: {join}", self.name),
        }
    }
}

type ShutdownFuture = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

/// Ctrl-C and SIGTERM, registered before anything starts so that no signal is lost.
pub(crate) struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    pub(crate) fn new() -> anyhow::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt()).context("cannot handle Ctrl-C")?,
            terminate: signal(SignalKind::terminate()).context("cannot handle SIGTERM")?,
        })
    }

    pub(crate) async fn recv(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}

/// Runs the cluster until Ctrl-C or SIGTERM.
pub async fn run(flags: DevFlags) -> anyhow::Result<()> {
    let mut signals = Signals::new()?;
    let work_dir = prepare_work_dir(flags.work_dir.clone())?;
    println!("drover dev: work dir {}", work_dir.display());
    if flags.ha {
        drop(signals);
        return crate::dev_ha::run(flags, work_dir).await;
    }

    // Take the ports before starting anything, so that a port in use is one clear error.
    let master_listener = bind(flags.master_port, "master", "--master_port").await?;
    drop(bind(flags.agent_port, "agent", "--agent_port").await?);
    let marathon_listener = bind(flags.marathon_port, "scheduler", "--marathon_port").await?;
    let master_port = master_listener.local_addr()?.port();
    let marathon_port = marathon_listener.local_addr()?.port();
    let master_address = format!("127.0.0.1:{master_port}");

    let files = match &flags.credentials {
        Some(credential) => Some(write_credentials(&work_dir, credential)?),
        None => None,
    };
    let mut master_args = vec![
        "--ip=127.0.0.1".into(),
        format!("--port={master_port}"),
        format!("--work_dir={}", work_dir.join("master").display()),
    ];
    if let Some((all, _, _)) = &files {
        master_args.extend([
            "--authenticate_http_readwrite".to_owned(),
            "--authenticate_http_readonly".to_owned(),
            "--authenticate_http_frameworks".to_owned(),
            "--authenticate_agents".to_owned(),
            format!("--credentials={all}"),
        ]);
        if let Some(acls) = &flags.acls {
            master_args.push(format!("--acls={acls}"));
        }
    }
    let master_flags: drover_master::Flags = daemon_flags("master", master_args)?;
    let mut agent_args = agent_args(&flags, &master_address, &work_dir);
    let mut marathon_args = vec![
        format!("--master={master_address}"),
        format!("--http_port={marathon_port}"),
        format!("--work_dir={}", work_dir.join("marathon").display()),
        format!("--mesos_role={}", flags.mesos_role),
    ];
    if let (Some((all, own, secret)), Some(credential)) = (&files, &flags.credentials) {
        agent_args.extend([
            format!("--credential={own}"),
            "--authenticate_http_readwrite".to_owned(),
            "--authenticate_http_readonly".to_owned(),
            format!("--credentials={all}"),
        ]);
        marathon_args.extend([
            format!(
                "--http_credentials={}:{}",
                credential.principal, credential.secret
            ),
            "--mesos_authentication".to_owned(),
            format!("--mesos_authentication_principal={}", credential.principal),
            format!("--mesos_authentication_secret_file={secret}"),
        ]);
    }
    // TLS (LIBPROCESS_SSL_ENABLED): the master and the agent read it themselves; the scheduler
    // serves its API over HTTPS only, with the same certificate, as the cluster's other ports.
    if let Some(tls) = drover_http::tls::current() {
        let (Some(cert), Some(key)) = (&tls.settings.cert_file, &tls.settings.key_file) else {
            bail!(
                "LIBPROCESS_SSL_ENABLED is set: drover dev needs LIBPROCESS_SSL_CERT_FILE and \
                 LIBPROCESS_SSL_KEY_FILE for its daemons"
            );
        };
        marathon_args.extend([
            format!("--ssl_cert_file={}", cert.display()),
            format!("--ssl_key_file={}", key.display()),
            "--disable_http".to_owned(),
            format!("--https_port={marathon_port}"),
        ]);
    }
    let agent_flags: drover_agent::Flags = daemon_flags("agent", agent_args)?;
    let marathon_flags: drover_marathon::Flags = daemon_flags("marathon", marathon_args)?;
    let framework_name = marathon_flags.framework_name.clone();

    let mut master = Daemon::spawn("master", move |stop| {
        drover_master::run_on(master_listener, master_flags, stop)
    });
    let mut agent = Daemon::spawn("agent", move |stop| drover_agent::run(agent_flags, stop));
    let mut marathon = Daemon::spawn("scheduler", move |stop| {
        drover_marathon::serve(marathon_flags, marathon_listener, stop)
    });

    let master_api =
        Service::new("master", &master_address, "", "").with_credential(flags.credentials.as_ref());
    let ready = tokio::select! {
        ready = wait_ready(&master_api, flags.agent_port, marathon_port, &framework_name, flags.credentials.as_ref()) => Some(ready),
        error = master.ended() => Some(Err(error)),
        error = agent.ended() => Some(Err(error)),
        error = marathon.ended() => Some(Err(error)),
        _ = signals.recv() => None,
    };
    let ready = match ready {
        Some(Ok(ready)) => ready,
        Some(Err(error)) => {
            let _ = stop_all(&mut marathon, &mut agent, &mut master, &flags).await;
            return Err(error);
        }
        None => return stop_all(&mut marathon, &mut agent, &mut master, &flags).await,
    };
    print_banner(&flags, &work_dir, master_port, marathon_port, &ready);

    let failure = tokio::select! {
        error = master.ended() => Some(error),
        error = agent.ended() => Some(error),
        error = marathon.ended() => Some(error),
        _ = signals.recv() => None,
    };
    // A second Ctrl-C while stopping means "now": the stores' commits are atomic, so even this
    // leaves nothing half-written.
    tokio::spawn(async move {
        signals.recv().await;
        eprintln!("drover dev: stopping now");
        std::process::exit(130);
    });
    let stopped = stop_all(&mut marathon, &mut agent, &mut master, &flags).await;
    match failure {
        Some(error) => Err(error),
        None => stopped,
    }
}

/// What start-up learned, for the banner.
struct Ready {
    resources: Value,
    framework_id: String,
}

/// Waits until the agent is registered, the scheduler answers and its framework is subscribed.
async fn wait_ready(
    master: &Service,
    agent_port: u16,
    marathon_port: u16,
    framework_name: &str,
    credential: Option<&drover_http::auth::Credential>,
) -> anyhow::Result<Ready> {
    let marathon = Service::new("scheduler", &format!("127.0.0.1:{marathon_port}"), "", "")
        .with_credential(credential);
    let deadline = tokio::time::Instant::now() + START_TIMEOUT;
    let mut waiting_for = "the master";
    loop {
        if tokio::time::Instant::now() > deadline {
            bail!(
                "the cluster did not start within {}s (still waiting for {waiting_for}); the log \
                 above says why",
                START_TIMEOUT.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let Ok(state) = master.get("/master/state").await else {
            continue;
        };
        waiting_for = "the agent to register";
        let Some(agent) = crate::cli::array(&state, "slaves").iter().find(|a| {
            number(a, "port") as u16 == agent_port
                && a.get("active").and_then(Value::as_bool) == Some(true)
        }) else {
            continue;
        };
        waiting_for = "the scheduler";
        if !matches!(marathon.call(hyper::Method::GET, "/ping", None).await, Ok((status, _)) if status.is_success())
        {
            continue;
        }
        waiting_for = "the scheduler to subscribe to the master";
        let Some(framework) = crate::cli::array(&state, "frameworks").iter().find(|f| {
            text(f, "name") == framework_name
                && f.get("connected").and_then(Value::as_bool) == Some(true)
        }) else {
            continue;
        };
        return Ok(Ready {
            resources: agent.get("resources").cloned().unwrap_or(Value::Null),
            framework_id: text(framework, "id").to_owned(),
        });
    }
}

fn print_banner(
    flags: &DevFlags,
    work_dir: &Path,
    master_port: u16,
    marathon_port: u16,
    ready: &Ready,
) {
    let r = &ready.resources;
    let mut offers = format!(
        "cpus {}, mem {} MB, disk {} MB",
        fmt_number(number(r, "cpus")),
        fmt_number(number(r, "mem")),
        fmt_number(number(r, "disk"))
    );
    if let Some(ports) = r.get("ports").and_then(Value::as_str) {
        offers.push_str(&format!(", ports {ports}"));
    }
    let plain = matches!(
        flags.isolation.as_str(),
        "posix" | "none" | "posix/cpu,posix/mem"
    );
    let isolation = if plain {
        "off: --isolation asks for plain processes".to_owned()
    } else {
        // The agent probes the same way and logs the same summary.
        let summary = drover_agent::containerizer::Isolation::detect().summary();
        summary
            .strip_prefix("isolation: ")
            .or_else(|| summary.strip_prefix("isolation "))
            .unwrap_or(&summary)
            .to_owned()
    };
    let tasks = if flags.keep_tasks_running {
        "left running"
    } else {
        "killed (--keep_tasks_running leaves them running)"
    };
    // `https` everywhere when LIBPROCESS_SSL_ENABLED is set.
    let s = drover_http::tls::scheme();
    println!(
        "\nDrover is running: a one-node cluster on this machine.\n\n  \
         master     {s}://127.0.0.1:{master_port}   Mesos Scheduler/Operator API v1, /master/state\n  \
         agent      {s}://127.0.0.1:{}   offers {offers}\n  \
         scheduler  {s}://127.0.0.1:{marathon_port}   Marathon REST API v2, /v2/events (framework id {})\n  \
         web UI     {s}://127.0.0.1:{master_port}/ (cluster)   {s}://127.0.0.1:{marathon_port}/ui/ (services)\n  \
         isolation  {isolation}\n  \
         work dir   {}\n\n\
         Try `drover app add examples/hello.json` (the README has a five-minute tour).\n\
         Ctrl-C stops everything; tasks are {tasks}.",
        flags.agent_port,
        ready.framework_id,
        work_dir.display(),
    );
    if let Some(credential) = &flags.credentials {
        println!(
            "\nAuthentication is on: every daemon takes principal '{}' with its secret. Point the \
             CLI at it with DROVER_MASTER_CREDENTIALS and DROVER_MARATHON_CREDENTIALS (or \
             master_credentials / marathon_credentials in its config file).",
            credential.principal
        );
    }
}

/// Stops the daemons in dependency order; the first error is returned, but every daemon is
/// stopped regardless.
async fn stop_all(
    marathon: &mut Daemon,
    agent: &mut Daemon,
    master: &mut Daemon,
    flags: &DevFlags,
) -> anyhow::Result<()> {
    println!("drover dev: stopping the scheduler");
    let mut result = marathon.stop().await;
    if flags.keep_tasks_running {
        println!("drover dev: stopping the agent (tasks keep running)");
    } else {
        println!("drover dev: stopping the agent and killing its tasks");
    }
    result = result.and(agent.stop().await);
    println!("drover dev: stopping the master");
    result = result.and(master.stop().await);
    if result.is_ok() {
        println!("drover dev: stopped");
    }
    result
}

/// The work dir: created if missing and checked to be writable, as an absolute path.
fn prepare_work_dir(flag: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let dir = match flag {
        Some(dir) => dir,
        None => {
            let data = std::env::var_os("XDG_DATA_HOME")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .or_else(|| crate::config::home().map(|h| h.join(".local").join("share")))
                .ok_or_else(|| {
                    anyhow!("cannot choose a work dir ($HOME is not set): pass --work_dir DIR")
                })?;
            data.join("drover").join("dev")
        }
    };
    std::fs::create_dir_all(&dir).map_err(|e| {
        anyhow!(
            "cannot create the work dir {}: {}: pass a writable --work_dir",
            dir.display(),
            io_reason(&e)
        )
    })?;
    let probe = dir.join(".drover-write-test");
    std::fs::write(&probe, b"").map_err(|e| {
        anyhow!(
            "the work dir {} is not writable: {}: pass a writable --work_dir",
            dir.display(),
            io_reason(&e)
        )
    })?;
    let _ = std::fs::remove_file(&probe);
    std::fs::canonicalize(&dir).with_context(|| format!("cannot resolve {}", dir.display()))
}

fn io_reason(error: &std::io::Error) -> String {
    let text = error.to_string();
    text.split(" (os error").next().unwrap_or(&text).to_owned()
}

/// Binds a loopback port, with an error that says what to do when it is taken.
pub(crate) async fn bind(
    port: u16,
    what: &str,
    flag: &str,
) -> anyhow::Result<tokio::net::TcpListener> {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AddrInUse => anyhow!(
                "port {port} (the {what}) is already in use: is another `drover dev` (or a Mesos \
                 {what}) running? Stop it, or choose another port with {flag}"
            ),
            _ => anyhow!("cannot listen on {address} (the {what}): {}", io_reason(&e)),
        })
}

/// Builds a daemon's flags the way its own command line would, so that every default (and its
/// `MESOS_*`/`MARATHON_*` environment variable) applies to what `drover dev` does not set.
fn daemon_flags<T: Args + FromArgMatches>(
    name: &'static str,
    args: Vec<String>,
) -> anyhow::Result<T> {
    let command = T::augment_args(clap::Command::new(name).no_binary_name(true));
    let matches = command.try_get_matches_from(args).map_err(|e| {
        anyhow!(
            "invalid {name} settings: {}",
            e.to_string().lines().next().unwrap_or("")
        )
    })?;
    T::from_arg_matches(&matches).map_err(|e| {
        anyhow!(
            "invalid {name} settings: {}",
            e.to_string().lines().next().unwrap_or("")
        )
    })
}

/// The directory of this binary, for the agent to launch `drover executor` from.
///
/// The agent would use `current_exe` itself, but once `cargo build` replaces the binary of a
/// running `cargo run -- dev`, Linux reports it as `…/drover (deleted)`; the directory still
/// holds the (new) `drover`, so launching by directory keeps working.
/// The agent's flags in a `drover dev` cluster whose master is `master` (an address or a
/// `zk://` URL).
pub(crate) fn agent_args(flags: &DevFlags, master: &str, work_dir: &Path) -> Vec<String> {
    let mut args = vec![
        format!("--master={master}"),
        "--ip=127.0.0.1".into(),
        format!("--port={}", flags.agent_port),
        format!("--work_dir={}", work_dir.join("agent").display()),
        format!("--isolation={}", flags.isolation),
        // Its own cgroup root: an agent destroys the containers it finds under its root that
        // it does not know, and those of another agent on this machine are not its own.
        format!("--cgroups_root=drover-dev-{}", flags.agent_port),
        // Unless told otherwise the agent kills the tasks when it stops, through each task's
        // own kill path, so they end TASK_KILLED (the operator stopped them), not FAILED.
        format!("--keep_tasks_running={}", flags.keep_tasks_running),
        // Marathon apps and pods with a Docker image on a MESOS container run on the Mesos
        // containerizer (pulled from Docker Hub, or the image's own registry).
        "--image_providers=docker".into(),
    ];
    if let Some(resources) = &flags.resources {
        args.push(format!("--resources={resources}"));
    }
    if let Some(dir) = launcher_dir() {
        args.push(format!("--launcher_dir={}", dir.display()));
    }
    args
}

pub(crate) fn launcher_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let text = exe.to_string_lossy();
    let exe = PathBuf::from(text.strip_suffix(" (deleted)").unwrap_or(&text));
    (exe.file_name()? == "drover").then(|| exe.parent().map(Path::to_path_buf))?
}
