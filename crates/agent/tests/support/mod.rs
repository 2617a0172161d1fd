//! Fixtures for the agent's integration tests: a scripted master that speaks Drover's
//! internal agent protocol over real HTTP, the built `drover` binary run as `drover agent`,
//! and clean-up of every process and cgroup a test leaves behind.

#![allow(dead_code)]

use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use drover_wire::internal::{self, agent_event::Type as EventType};
use drover_wire::v1;
use prost::Message;
use tokio::sync::mpsc;

/// The built `drover` binary (`cargo build -p drover` first).
pub fn drover_bin() -> PathBuf {
    // Where cargo builds: `CARGO_TARGET_DIR` when set (absolute: tests run in the package's
    // directory, not where cargo was started), else the workspace's `target`.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let path = target.join("debug/drover");
    assert!(
        path.exists(),
        "build the binary first: cargo build -p drover ({})",
        path.display()
    );
    path
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[derive(Default)]
struct Shared {
    updates: Vec<v1::TaskStatus>,
    calls: Vec<internal::AgentCall>,
    registrations: Vec<internal::AgentCall>,
    session: Option<mpsc::Sender<Bytes>>,
    auto_ack: bool,
}

/// A master that accepts any (re)registration and records what the agent sends.
#[derive(Clone)]
pub struct FakeMaster {
    shared: Arc<Mutex<Shared>>,
    pub port: u16,
}

impl FakeMaster {
    pub async fn start(auto_ack: bool) -> FakeMaster {
        let shared = Arc::new(Mutex::new(Shared {
            auto_ack,
            ..Default::default()
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = shared.clone();
        let app = Router::new().route(
            "/drover/internal/agent",
            post(move |headers: HeaderMap, body: Body| handle(state.clone(), headers, body)),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeMaster { shared, port }
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Sends an event on the current session.
    pub async fn send(&self, event: internal::AgentEvent) {
        let session = self
            .shared
            .lock()
            .unwrap()
            .session
            .clone()
            .expect("no session");
        session
            .send(Bytes::from(event.encode_to_vec()))
            .await
            .expect("session closed");
    }

    pub async fn run_task(&self, framework: &v1::FrameworkInfo, task: v1::TaskInfo) {
        self.send(internal::AgentEvent {
            r#type: Some(EventType::RunTask as i32),
            run_task: Some(internal::agent_event::RunTask {
                framework_info: framework.clone(),
                task: Some(task),
                executor: None,
                task_group: None,
            }),
            ..Default::default()
        })
        .await;
    }

    pub async fn kill_task(&self, framework: &str, task: &str, grace: Option<Duration>) {
        self.send(internal::AgentEvent {
            r#type: Some(EventType::KillTask as i32),
            kill_task: Some(internal::agent_event::KillTask {
                framework_id: v1::FrameworkId {
                    value: framework.into(),
                },
                task_id: v1::TaskId { value: task.into() },
                kill_policy: grace.map(|g| v1::KillPolicy {
                    grace_period: Some(v1::DurationInfo {
                        nanoseconds: g.as_nanos() as i64,
                    }),
                }),
            }),
            ..Default::default()
        })
        .await;
    }

    pub fn updates(&self) -> Vec<v1::TaskStatus> {
        self.shared.lock().unwrap().updates.clone()
    }

    pub fn registrations(&self) -> Vec<internal::AgentCall> {
        self.shared.lock().unwrap().registrations.clone()
    }

    pub fn has_session(&self) -> bool {
        self.shared
            .lock()
            .unwrap()
            .session
            .as_ref()
            .is_some_and(|s| !s.is_closed())
    }

    /// Waits until an update of `task` in `state` arrived.
    pub async fn wait_state(
        &self,
        task: &str,
        state: v1::TaskState,
        within: Duration,
    ) -> v1::TaskStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(s) = self
                .updates()
                .into_iter()
                .find(|s| s.task_id.value == task && s.state == state as i32)
            {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "no {state:?} for {task} within {within:?}; got {:#?}",
                self.updates()
                    .iter()
                    .map(|s| (
                        s.task_id.value.clone(),
                        v1::TaskState::try_from(s.state),
                        s.reason,
                        s.message.clone()
                    ))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn wait_for(&self, what: &str, within: Duration, cond: impl Fn(&FakeMaster) -> bool) {
        let deadline = Instant::now() + within;
        while !cond(self) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn handle(shared: Arc<Mutex<Shared>>, headers: HeaderMap, body: Body) -> Response {
    let body = axum::body::to_bytes(body, 64 << 20).await.unwrap();
    let Ok(call) = internal::AgentCall::decode(body) else {
        return (StatusCode::BAD_REQUEST, "bad call").into_response();
    };
    use internal::agent_call::Type as T;
    match call.r#type.and_then(|t| T::try_from(t).ok()) {
        Some(T::Register | T::Reregister) => {
            let (tx, rx) = mpsc::channel::<Bytes>(1024);
            let agent_id = call
                .agent_id
                .as_ref()
                .map(|a| a.value.clone())
                .unwrap_or_else(|| "agent-S0".to_owned());
            let registered = internal::agent_event::Registered {
                agent_id: v1::AgentId { value: agent_id },
                master_info: v1::MasterInfo {
                    id: "m".into(),
                    ..Default::default()
                },
                ping_timeout_seconds: None,
                max_ping_timeouts: None,
            };
            let reregister = call.r#type == Some(T::Reregister as i32);
            let event = internal::AgentEvent {
                r#type: Some(if reregister {
                    EventType::Reregistered
                } else {
                    EventType::Registered
                } as i32),
                registered: (!reregister).then(|| registered.clone()),
                reregistered: reregister.then_some(registered),
                ..Default::default()
            };
            tx.send(Bytes::from(event.encode_to_vec())).await.unwrap();
            {
                let mut s = shared.lock().unwrap();
                s.registrations.push(call);
                s.session = Some(tx);
            }
            let stream = tokio_stream::wrappers::ReceiverStream::new(rx)
                .map(|b| Ok::<_, std::convert::Infallible>(drover_wire::recordio::encode(&b)));
            let mut response = Response::new(Body::from_stream(stream));
            response
                .headers_mut()
                .insert("Mesos-Stream-Id", "stream-1".parse().unwrap());
            response
                .headers_mut()
                .insert("Content-Type", "application/x-protobuf".parse().unwrap());
            response
        }
        Some(T::StatusUpdate | T::StatusUpdates) => {
            assert_eq!(
                headers.get("Mesos-Stream-Id").and_then(|v| v.to_str().ok()),
                Some("stream-1")
            );
            // The agent joins updates that are ready together into one STATUS_UPDATES call;
            // each is recorded and acknowledged on its own, as the master does.
            let updates: Vec<_> = call
                .status_update
                .clone()
                .into_iter()
                .chain(call.status_updates.clone())
                .collect();
            let (auto_ack, session) = {
                let mut s = shared.lock().unwrap();
                s.updates.extend(updates.iter().map(|u| u.status.clone()));
                s.calls.push(call);
                (s.auto_ack, s.session.clone())
            };
            for update in updates {
                if auto_ack
                    && let (Some(session), Some(uuid)) =
                        (session.clone(), update.status.uuid.clone())
                {
                    let ack = internal::AgentEvent {
                        r#type: Some(EventType::Acknowledge as i32),
                        acknowledge: Some(internal::agent_event::Acknowledge {
                            framework_id: update.framework_id,
                            task_id: update.status.task_id,
                            uuid,
                        }),
                        ..Default::default()
                    };
                    let _ = session.send(Bytes::from(ack.encode_to_vec())).await;
                }
            }
            StatusCode::ACCEPTED.into_response()
        }
        _ => {
            shared.lock().unwrap().calls.push(call);
            StatusCode::ACCEPTED.into_response()
        }
    }
}

use futures::StreamExt as _;

/// A `drover agent` process with its own work dir, port and cgroup root; everything it
/// started is killed and its cgroups removed on drop.
pub struct AgentProcess {
    pub child: Option<Child>,
    pub work_dir: PathBuf,
    pub port: u16,
    pub cgroups_root: String,
    pub master: String,
    pub extra: Vec<String>,
    _tmp: Option<tempfile::TempDir>,
}

impl AgentProcess {
    pub fn start(master: &FakeMaster, extra: &[&str]) -> AgentProcess {
        let tmp = tempfile::tempdir().unwrap();
        let mut agent = AgentProcess {
            child: None,
            work_dir: tmp.path().to_path_buf(),
            port: free_port(),
            cgroups_root: format!("drover-test-{}", uuid::Uuid::new_v4().simple()),
            master: master.address(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            _tmp: Some(tmp),
        };
        agent.spawn(&[]);
        agent
    }

    /// (Re)starts the process with the same work dir and port, plus `more` flags.
    pub fn spawn(&mut self, more: &[&str]) {
        let mut cmd = Command::new(drover_bin());
        cmd.arg("agent")
            .arg(format!("--master={}", self.master))
            .arg(format!("--port={}", self.port))
            .arg(format!("--work_dir={}", self.work_dir.display()))
            .arg("--resources=cpus:4;mem:2048;disk:4096;ports:[31000-32000]")
            .arg(format!("--cgroups_root={}", self.cgroups_root))
            .arg("--registration_backoff_factor=50ms")
            .args(&self.extra)
            .args(more)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null());
        if std::env::var("AGENT_TEST_QUIET").is_ok() {
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
        }
        self.child = Some(cmd.spawn().expect("starting drover agent"));
    }

    pub fn sigkill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The sandbox of an executor (the only run).
    pub fn sandbox(&self, executor: &str) -> Option<PathBuf> {
        let slaves = self.work_dir.join("slaves");
        for agent in std::fs::read_dir(&slaves).ok()?.flatten() {
            for fw in std::fs::read_dir(agent.path().join("frameworks"))
                .ok()?
                .flatten()
            {
                let runs = fw.path().join("executors").join(executor).join("runs");
                if let Some(run) = std::fs::read_dir(&runs).ok()?.flatten().next() {
                    return Some(run.path());
                }
            }
        }
        None
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        self.sigkill();
        // Tasks outlive their agent by design: end them and remove their cgroups.
        kill_executors_of(&self.work_dir);
        for controller in ["memory", "cpu", "cpuacct", "pids", "cpu,cpuacct", "unified"] {
            let root = Path::new("/sys/fs/cgroup")
                .join(controller)
                .join(&self.cgroups_root);
            remove_cgroup_tree(&root);
        }
    }
}

/// SIGKILLs every process whose environment points into `work_dir` (executors and tasks).
pub fn kill_executors_of(work_dir: &Path) {
    let needle = format!("MESOS_DIRECTORY={}", work_dir.display());
    for _ in 0..3 {
        for pid in pids_with_env(&needle) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Pids whose environment contains `needle`.
pub fn pids_with_env(needle: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if let Ok(env) = std::fs::read(entry.path().join("environ"))
            && env
                .split(|b| *b == 0)
                .any(|kv| String::from_utf8_lossy(kv).starts_with(needle))
        {
            out.push(pid);
        }
    }
    out
}

fn remove_cgroup_tree(dir: &Path) {
    if !dir.exists() {
        return;
    }
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.path().is_dir() {
            remove_cgroup_tree(&entry.path());
        }
    }
    for _ in 0..50 {
        if let Ok(procs) = std::fs::read_to_string(dir.join("cgroup.procs")) {
            for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        if std::fs::remove_dir(dir).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn framework(id: &str, checkpoint: bool, killing_state: bool) -> v1::FrameworkInfo {
    let mut capabilities = Vec::new();
    if killing_state {
        capabilities.push(v1::framework_info::Capability {
            r#type: Some(v1::framework_info::capability::Type::TaskKillingState as i32),
        });
    }
    v1::FrameworkInfo {
        user: "root".into(),
        name: "test".into(),
        id: Some(v1::FrameworkId { value: id.into() }),
        checkpoint: Some(checkpoint),
        capabilities,
        ..Default::default()
    }
}

/// A checkpointing framework, partition-aware or not.
pub fn checkpointing(id: &str, partition_aware: bool) -> v1::FrameworkInfo {
    let mut info = framework(id, true, false);
    if partition_aware {
        info.capabilities.push(v1::framework_info::Capability {
            r#type: Some(v1::framework_info::capability::Type::PartitionAware as i32),
        });
    }
    info
}

pub fn scalar(name: &str, value: f64) -> v1::Resource {
    v1::Resource {
        name: name.into(),
        r#type: v1::value::Type::Scalar as i32,
        scalar: Some(v1::value::Scalar { value }),
        ..Default::default()
    }
}

pub fn shell_task(id: &str, command: &str, mem_mb: f64) -> v1::TaskInfo {
    v1::TaskInfo {
        name: id.into(),
        task_id: v1::TaskId { value: id.into() },
        agent_id: v1::AgentId {
            value: "agent-S0".into(),
        },
        resources: vec![
            scalar("cpus", 0.1),
            scalar("mem", mem_mb),
            scalar("disk", 64.0),
        ],
        command: Some(v1::CommandInfo {
            value: Some(command.into()),
            shell: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub const LONG: Duration = Duration::from_secs(30);

/// A default executor (task groups) with a little of its own.
pub fn group_executor(id: &str) -> v1::ExecutorInfo {
    v1::ExecutorInfo {
        r#type: Some(v1::executor_info::Type::Default as i32),
        executor_id: v1::ExecutorId { value: id.into() },
        resources: vec![scalar("cpus", 0.1), scalar("mem", 32.0)],
        ..Default::default()
    }
}

/// Sends a LAUNCH_GROUP's RunTask for `tasks` on `executor`.
pub async fn launch_group(
    master: &FakeMaster,
    framework: &v1::FrameworkInfo,
    executor: v1::ExecutorInfo,
    tasks: Vec<v1::TaskInfo>,
) {
    master
        .send(internal::AgentEvent {
            r#type: Some(internal::agent_event::Type::RunTask as i32),
            run_task: Some(internal::agent_event::RunTask {
                framework_info: framework.clone(),
                task: None,
                executor: Some(executor),
                task_group: Some(v1::TaskGroupInfo { tasks }),
            }),
            ..Default::default()
        })
        .await;
}
