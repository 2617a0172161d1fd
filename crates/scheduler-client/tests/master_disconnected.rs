//! Seed 1's TASK_LOST / REASON_MASTER_DISCONNECTED from its real cause (issue 18 item 3): the
//! built `drover master` runs as a process, the client subscribes to it, the master process is
//! SIGKILLed, and the framework then launches on the offer it holds. The launch cannot reach a
//! master, so the client answers it locally as Mesos' driver did: TASK_LOST (TASK_DROPPED for
//! partition-aware frameworks), source MASTER, REASON_MASTER_DISCONNECTED, for every task of
//! the ACCEPT. `SEEDS.md` names this test.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use drover_scheduler_client::{ClientEvent, Config, calls, spawn};
use drover_wire::v1;
use drover_wire::v1::task_status::{Reason, Source};
use drover_wire::v1::{TaskState, scheduler::event};

const DEADLINE: Duration = Duration::from_secs(30);

/// The built `drover` binary (`cargo build -p drover` first, as for every real-process test).
fn drover_bin() -> PathBuf {
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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A master process, SIGKILLed when dropped, with its own work dir (removed when dropped).
struct MasterProcess {
    child: Child,
    dir: PathBuf,
}

impl MasterProcess {
    fn start(port: u16) -> MasterProcess {
        let dir = std::env::temp_dir().join(format!(
            "drover-master-disconnected-{}-{port}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("work dir");
        let child = Command::new(drover_bin())
            .args([
                "master".to_owned(),
                "--ip=127.0.0.1".to_owned(),
                format!("--port={port}"),
                format!("--work_dir={}", dir.display()),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start drover master");
        MasterProcess { child, dir }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for MasterProcess {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn framework_info(partition_aware: bool) -> v1::FrameworkInfo {
    let mut capabilities = Vec::new();
    if partition_aware {
        capabilities.push(v1::framework_info::Capability {
            r#type: Some(v1::framework_info::capability::Type::PartitionAware as i32),
        });
    }
    v1::FrameworkInfo {
        user: "root".into(),
        name: "master-disconnected".into(),
        capabilities,
        ..Default::default()
    }
}

fn task(id: &str) -> v1::TaskInfo {
    v1::TaskInfo {
        name: id.into(),
        task_id: v1::TaskId { value: id.into() },
        agent_id: v1::AgentId {
            value: "agent-S0".into(),
        },
        command: Some(v1::CommandInfo {
            value: Some("sleep 10".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The next client event that satisfies `want`, within the deadline.
async fn next_event(
    events: &mut tokio::sync::mpsc::Receiver<ClientEvent>,
    what: &str,
    want: impl Fn(&ClientEvent) -> bool,
) -> ClientEvent {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
            .unwrap_or_else(|| panic!("the client stopped before {what}"));
        if want(&event) {
            return event;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_launch_while_the_master_is_down_is_answered_locally_master_disconnected() {
    for (partition_aware, state) in [(false, TaskState::TaskLost), (true, TaskState::TaskDropped)] {
        let port = free_port();
        let mut master = MasterProcess::start(port);
        let mut config = Config::new(format!("127.0.0.1:{port}"), framework_info(partition_aware));
        config.backoff_min = Duration::from_millis(200);
        let (calls_tx, mut events) = spawn(config);
        next_event(&mut events, "SUBSCRIBED", |e| {
            matches!(e, ClientEvent::Subscribed { .. })
        })
        .await;

        master.kill();
        next_event(&mut events, "the disconnection", |e| {
            matches!(e, ClientEvent::Disconnected { .. })
        })
        .await;
        calls_tx
            .send(calls::launch("held-offer", vec![task("a"), task("b")]))
            .await
            .expect("the client takes calls");

        let mut answered = Vec::new();
        while answered.len() < 2 {
            let event = next_event(&mut events, "the local updates", |e| {
                matches!(e, ClientEvent::Event(ev) if ev.r#type == Some(event::Type::Update as i32))
            })
            .await;
            let ClientEvent::Event(event) = event else {
                unreachable!("matched above")
            };
            let status = event.update.expect("an UPDATE").status;
            assert_eq!(
                (status.state, status.reason, status.source),
                (
                    state as i32,
                    Some(Reason::MasterDisconnected as i32),
                    Some(Source::Master as i32)
                ),
                "partition_aware={partition_aware}: {status:?}"
            );
            assert!(
                status.uuid.is_none(),
                "a local update needs no acknowledgement"
            );
            assert_eq!(
                status.agent_id.map(|a| a.value).as_deref(),
                Some("agent-S0")
            );
            answered.push(status.task_id.value);
        }
        answered.sort();
        assert_eq!(answered, ["a", "b"]);
        drop(calls_tx);
    }
}
