//! The plain framework: a non-partition-aware Scheduler API framework built on
//! `drover-scheduler-client` that keeps a fixed number of `sleep` tasks running. It launches
//! into offers while it has fewer live tasks than it wants, relaunches a task when it hears a
//! terminal state, acknowledges every update, kills copies it no longer wants (a task it had
//! written off that returns with its agent), and reconciles every few seconds (its tasks
//! explicitly, and implicitly to hear of tasks it had written off).
//! Every update it receives goes through the journal's per-update checks. The nemesis can
//! make it fail over: the client is dropped and a new one subscribes with the same id.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use drover_core::task::TaskState;
use drover_core::task::state::is_terminal;
use drover_scheduler_client::{ClientEvent, Config, calls, spawn};
use drover_wire::v1;
use drover_wire::v1::scheduler::event;
use tokio::sync::mpsc;

use crate::journal::Journal;

/// What the framework believes of its live tasks: task id → (agent id, last state).
pub type Live = Arc<Mutex<BTreeMap<String, (String, TaskState)>>>;

/// What the checks read of the framework.
#[derive(Debug, Clone)]
pub struct PlainView {
    /// Tasks it wants running.
    pub want: usize,
    /// Its live tasks.
    pub live: Live,
    /// Its framework id once subscribed.
    pub framework_id: Arc<Mutex<Option<String>>>,
}

impl PlainView {
    /// Its framework id.
    pub fn id(&self) -> Option<String> {
        self.framework_id.lock().expect("not poisoned").clone()
    }
}

/// A handle on the running framework.
#[derive(Debug)]
pub struct Plain {
    /// Tasks it wants running.
    pub want: usize,
    /// Its live tasks.
    pub live: Live,
    /// Its framework id once subscribed.
    pub framework_id: Arc<Mutex<Option<String>>>,
    failover: mpsc::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Plain {
    fn drop(&mut self) {
        self.task.abort();
    }
}

const RECONCILE_EVERY: Duration = Duration::from_secs(10);

impl Plain {
    /// Starts the framework against `master` (`host:port`).
    pub fn start(master: String, want: usize, journal: Arc<Journal>) -> Plain {
        let live: Live = Arc::default();
        let framework_id: Arc<Mutex<Option<String>>> = Arc::default();
        let (failover, failover_rx) = mpsc::channel(4);
        let task = tokio::spawn(run(
            master,
            want,
            journal,
            live.clone(),
            framework_id.clone(),
            failover_rx,
        ));
        Plain {
            want,
            live,
            framework_id,
            failover,
            task,
        }
    }

    /// Makes the scheduler fail over (drop its connection, resubscribe with its id).
    pub fn fail_over(&self) {
        let _ = self.failover.try_send(());
    }

    /// What the checks read.
    pub fn view(&self) -> PlainView {
        PlainView {
            want: self.want,
            live: self.live.clone(),
            framework_id: self.framework_id.clone(),
        }
    }
}

async fn run(
    master: String,
    want: usize,
    journal: Arc<Journal>,
    live: Live,
    framework_id: Arc<Mutex<Option<String>>>,
    mut failover: mpsc::Receiver<()>,
) {
    let mut next_task = 0u64;
    loop {
        let info = v1::FrameworkInfo {
            user: "root".into(),
            name: "soak-plain".into(),
            failover_timeout: Some(3600.0),
            checkpoint: Some(true),
            id: framework_id
                .lock()
                .expect("not poisoned")
                .clone()
                .map(|value| v1::FrameworkId { value }),
            ..Default::default()
        };
        let mut config = Config::new(master.clone(), info);
        config.backoff_max = Duration::from_secs(2);
        let (calls_tx, mut events) = spawn(config);
        let mut tick = tokio::time::interval(RECONCILE_EVERY);
        loop {
            tokio::select! {
                event = events.recv() => {
                    let Some(event) = event else { break };
                    for call in handle(event, want, &mut next_task, &journal, &live, &framework_id) {
                        let _ = calls_tx.send(call).await;
                    }
                }
                _ = tick.tick() => {
                    let tasks: Vec<(String, Option<String>)> = live
                        .lock()
                        .expect("not poisoned")
                        .iter()
                        .map(|(t, (a, _))| (t.clone(), Some(a.clone())))
                        .collect();
                    if !tasks.is_empty() {
                        let _ = calls_tx.send(calls::reconcile(&tasks)).await;
                    }
                    // Implicit reconciliation too, as Mesos frameworks do: a task it had
                    // written off that came back with its agent while this scheduler was
                    // resubscribing is announced only once, and this is how it hears of it.
                    let _ = calls_tx.send(calls::reconcile(&[])).await;
                    // Offers declined for a while come back sooner.
                    if live.lock().expect("not poisoned").len() < want {
                        let _ = calls_tx.send(calls::revive()).await;
                    }
                }
                _ = failover.recv() => break,
            }
        }
        // Dropping the call sender ends the client; the next loop resubscribes.
        drop(calls_tx);
    }
}

fn handle(
    event: ClientEvent,
    want: usize,
    next_task: &mut u64,
    journal: &Journal,
    live: &Live,
    framework_id: &Mutex<Option<String>>,
) -> Vec<v1::scheduler::Call> {
    let mut out = Vec::new();
    match event {
        ClientEvent::Subscribed {
            framework_id: id, ..
        } => {
            *framework_id.lock().expect("not poisoned") = Some(id);
            out.push(calls::revive());
        }
        ClientEvent::Disconnected { .. } => {}
        ClientEvent::FrameworkRemoved { .. } => {
            // The master removed the framework (its tasks went with it); the client subscribes
            // anew, and the new framework starts from nothing.
            *framework_id.lock().expect("not poisoned") = None;
            live.lock().expect("not poisoned").clear();
        }
        ClientEvent::Event(event) => {
            if let Some(offers) = event.offers {
                for offer in offers.offers {
                    let mut live = live.lock().expect("not poisoned");
                    let cpus = drover_core::resources::scalar(&offer.resources, "cpus");
                    let mem = drover_core::resources::scalar(&offer.resources, "mem");
                    if live.len() < want && cpus >= 0.1 && mem >= 16.0 {
                        *next_task += 1;
                        let id = format!("plain-{}-{next_task}", uuid::Uuid::new_v4().simple());
                        live.insert(
                            id.clone(),
                            (offer.agent_id.value.clone(), TaskState::TaskStaging),
                        );
                        out.push(calls::launch(
                            &offer.id.value,
                            vec![task_info(&id, &offer.agent_id)],
                        ));
                    } else {
                        out.push(calls::decline(std::slice::from_ref(&offer.id.value), 2.0));
                    }
                }
            }
            if let Some(event::Update { status }) = event.update {
                journal.plain_update(&status);
                let task = status.task_id.value.clone();
                let agent = status
                    .agent_id
                    .as_ref()
                    .map(|a| a.value.clone())
                    .unwrap_or_default();
                if let Some(uuid) = status.uuid.clone().filter(|u| !u.is_empty()) {
                    out.push(calls::acknowledge(&agent, &task, uuid));
                }
                let state = TaskState::try_from(status.state).unwrap_or(TaskState::TaskUnknown);
                let mut live = live.lock().expect("not poisoned");
                if is_terminal(state) || state == TaskState::TaskUnknown {
                    live.remove(&task);
                } else if let Some(entry) = live.get_mut(&task) {
                    entry.1 = state;
                    if !agent.is_empty() {
                        entry.0 = agent;
                    }
                } else if live.len() < want {
                    // A task written off (TASK_LOST with its agent) came back: keep it.
                    live.insert(task, (agent, state));
                } else {
                    // One copy too many: the policy is `want` tasks.
                    out.push(calls::kill(&task, Some(&agent)));
                }
            }
        }
    }
    out
}

fn task_info(task_id: &str, agent_id: &v1::AgentId) -> v1::TaskInfo {
    v1::TaskInfo {
        name: task_id.to_owned(),
        task_id: v1::TaskId {
            value: task_id.to_owned(),
        },
        agent_id: agent_id.clone(),
        resources: drover_core::resources::parse("cpus:0.1;mem:16").unwrap_or_default(),
        command: Some(v1::CommandInfo {
            value: Some("sleep 100000".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}
