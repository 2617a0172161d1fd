//! The in-process supervisor of one Docker task: the Executor API client side (SUBSCRIBE,
//! LAUNCH → the daemon's container, UPDATE, ACKNOWLEDGED, KILL, SHUTDOWN), the container's
//! exit watch, and its health checks.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use drover_core::agent::{ContainerId as CoreContainerId, Input};
use drover_core::task::emission::Trigger;
use drover_executor::health::{HealthState, Outcome, probe_report};
use drover_wire::codec::Encoding;
use drover_wire::v1;
use prost::Message as _;
use tokio::sync::{mpsc, oneshot, watch};
use v1::executor::{Call, Event, call, event};

use super::{DockerSettings, Plan, unknown_end};
use crate::containerizer::docker::client::{DockerClient, DockerError, Exit};
use crate::containerizer::docker::spec::{DockerTask, run_spec};
use crate::containerizer::docker::supervise;
use crate::containerizer::seam::{BoxFuture, DockerRecord};
use crate::containerizer::{ExitStatus, Termination};
use crate::driver::{CallRefusal, Msg};

/// How long a terminal update may wait for its acknowledgement before the supervisor ends
/// anyway (the core has checkpointed what it accepted).
const TERMINAL_ACK_WAIT: Duration = Duration::from_secs(5);

pub(super) struct Supervisor {
    pub(super) settings: Arc<DockerSettings>,
    pub(super) client: DockerClient,
    pub(super) record: DockerRecord,
    pub(super) plan: Plan,
    pub(super) tx: mpsc::Sender<Msg>,
    pub(super) task: Option<v1::TaskInfo>,
    pub(super) container_started: bool,
    pub(super) killing: bool,
    pub(super) agent_killed: bool,
    /// How the container ended, once it has.
    pub(super) ended: Option<Termination>,
    /// The task's health as last reported (carried on every later update, as Mesos did).
    pub(super) healthy: Option<bool>,
    /// Mesos' health rules, when the task has a health check.
    pub(super) health: Option<HealthState>,
    /// The probing task.
    pub(super) prober: Option<tokio::task::JoinHandle<()>>,
    /// Probe outcomes of a prober just started, for the event loop to take.
    pub(super) new_probes: Option<mpsc::Receiver<Outcome>>,
    pub(super) unacked: BTreeMap<Vec<u8>, v1::TaskStatus>,
    pub(super) terminal_sent: bool,
}

impl Supervisor {
    fn call(&self, kind: call::Type) -> Call {
        Call {
            executor_id: v1::ExecutorId {
                value: self.plan.executor_id.clone(),
            },
            framework_id: v1::FrameworkId {
                value: self.plan.framework_id.clone(),
            },
            r#type: Some(kind as i32),
            ..Default::default()
        }
    }

    pub(super) async fn run(
        mut self,
        recovered: Option<Option<v1::Task>>,
        mut kill_rx: mpsc::UnboundedReceiver<Duration>,
        done: watch::Sender<Option<Termination>>,
    ) {
        let (events_tx, mut events) = mpsc::channel::<Bytes>(256);
        let mut subscribe = self.call(call::Type::Subscribe);
        let mut resumed: Option<v1::Task> = None;
        if let Some(task) = recovered {
            // After a restart the container already exists.
            self.container_started = true;
            if let Some(task) = task {
                let info = v1::TaskInfo {
                    name: task.name.clone(),
                    task_id: task.task_id.clone(),
                    agent_id: task.agent_id.clone(),
                    resources: task.resources.clone(),
                    container: task.container.clone(),
                    kill_policy: task.kill_policy,
                    health_check: task.health_check.clone().map(|h| *h),
                    ..Default::default()
                };
                self.task = Some(info.clone());
                let launched = task.state == v1::TaskState::TaskStaging as i32;
                subscribe.subscribe = Some(call::Subscribe {
                    unacknowledged_tasks: if launched { vec![info] } else { Vec::new() },
                    unacknowledged_updates: Vec::new(),
                });
                resumed = Some(task);
            }
        }
        if subscribe.subscribe.is_none() {
            subscribe.subscribe = Some(call::Subscribe::default());
        }
        if self
            .executor_call(subscribe, Some(events_tx))
            .await
            .is_err()
        {
            let _ = done.send(Some(unknown_end()));
            return;
        }
        if let Some(task) = resumed {
            // A task the agent went down under before it was reported running.
            if task.state == v1::TaskState::TaskStaging as i32 {
                self.update(v1::TaskState::TaskStarting, None, None).await;
            }
            if task.state != v1::TaskState::TaskRunning as i32 {
                self.update(v1::TaskState::TaskRunning, None, None).await;
            }
            self.start_health();
        }
        let mut probes: Option<mpsc::Receiver<Outcome>> = self.new_probes.take();
        let client = self.client.clone();
        let name = self.record.name.clone();
        let mut exit: Option<BoxFuture<'static, Result<Exit, DockerError>>> =
            if self.container_started {
                let (client, name) = (client.clone(), name.clone());
                Some(Box::pin(async move { client.wait(&name).await }))
            } else {
                None
            };
        let mut ack_deadline: Option<tokio::time::Instant> = None;
        let termination = loop {
            let ack_wait = async {
                match ack_deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            let exited = async {
                match exit.as_mut() {
                    Some(fut) => fut.await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                bytes = events.recv() => match bytes {
                    Some(bytes) => {
                        let Ok(event) = Event::decode(bytes.as_ref()) else { continue };
                        if let Some(started) = self.on_event(event).await {
                            exit = Some(started);
                        }
                        if let Some(rx) = self.new_probes.take() {
                            probes = Some(rx);
                        }
                        if self.terminal_sent && self.unacked.is_empty() {
                            break self.ended.take();
                        }
                        if !self.container_started && self.killing {
                            // Killed before the container ran: nothing to wait for.
                            break None;
                        }
                    }
                    // The agent closed the subscription: the executor is over for the core.
                    None => {
                        if self.container_started && !self.terminal_sent {
                            let _ = client.stop(&name, self.settings.stop_timeout).await;
                        }
                        break None;
                    }
                },
                Some(grace) = kill_rx.recv() => {
                    // The agent destroys the container (a limitation, a shutdown's grace
                    // over): it reports the task's end itself.
                    self.killing = true;
                    self.agent_killed = true;
                    if self.container_started {
                        if let Err(error) = client.stop(&name, grace).await {
                            tracing::warn!(container = %name, %error, "stopping a container");
                        }
                    } else {
                        break None;
                    }
                }
                ended = exited => {
                    exit = None;
                    match ended {
                        Ok(ended) => {
                            let t = supervise::termination(&ended, self.record.mem_limit_bytes);
                            self.ended = Some(t.clone());
                            if self.report_end(&ended, &t).await {
                                ack_deadline =
                                    Some(tokio::time::Instant::now() + TERMINAL_ACK_WAIT);
                            } else {
                                break Some(t);
                            }
                            if self.unacked.is_empty() {
                                break Some(t);
                            }
                        }
                        Err(error) => {
                            tracing::warn!(container = %name, %error, "watching a container");
                            break None;
                        }
                    }
                }
                Some(outcome) = async {
                    match probes.as_mut() {
                        Some(rx) => rx.recv().await,
                        None => std::future::pending().await,
                    }
                } => self.on_health(outcome).await,
                _ = ack_wait => break self.ended.take(),
            }
        };
        if let Some(prober) = self.prober.take() {
            prober.abort();
        }
        let _ = done.send(Some(termination.unwrap_or_else(|| Termination {
            status: ExitStatus::Unknown,
            oom_killed: false,
            message: "Container stopped".into(),
            mem_max_usage_bytes: None,
        })));
    }

    /// Reports how the container ended; false when the agent reports it instead (an OOM kill
    /// is the memory limitation's row, as for the Mesos containerizer).
    async fn report_end(&mut self, exit: &Exit, termination: &Termination) -> bool {
        if self.agent_killed {
            // The agent destroyed the container: its account of the end is the one reported.
            return false;
        }
        if exit.oom_killed {
            let _ = self
                .tx
                .send(Msg::Input(Input::ContainerLimited {
                    container_id: CoreContainerId(self.plan.container_id.clone()),
                    trigger: Trigger::ContainerLimitationMemory,
                    message: termination.message.clone(),
                }))
                .await;
            return false;
        }
        let state = if self.killing {
            v1::TaskState::TaskKilled
        } else if exit.code == 0 {
            v1::TaskState::TaskFinished
        } else {
            v1::TaskState::TaskFailed
        };
        self.update(state, None, Some(termination.message.clone()))
            .await;
        self.terminal_sent = true;
        true
    }

    /// Handles one event; a container started on LAUNCH brings its exit watch.
    async fn on_event(
        &mut self,
        event: Event,
    ) -> Option<BoxFuture<'static, Result<Exit, DockerError>>> {
        let kind = event.r#type.and_then(|t| event::Type::try_from(t).ok());
        match kind {
            Some(event::Type::Launch) => {
                let task = event.launch?.task;
                if self.task.is_some() || self.container_started {
                    return None;
                }
                self.task = Some(task.clone());
                self.update(v1::TaskState::TaskStarting, None, None).await;
                match self.run_container(&task).await {
                    Ok(()) => {
                        self.container_started = true;
                        self.update(v1::TaskState::TaskRunning, None, None).await;
                        self.start_health();
                        let (client, name) = (self.client.clone(), self.record.name.clone());
                        return Some(Box::pin(async move { client.wait(&name).await }));
                    }
                    Err(message) => {
                        self.update(
                            v1::TaskState::TaskFailed,
                            Some(v1::task_status::Reason::ContainerLaunchFailed),
                            Some(message),
                        )
                        .await;
                        self.terminal_sent = true;
                    }
                }
            }
            Some(event::Type::Kill) => {
                let kill = event.kill?;
                if self.killing || self.terminal_sent {
                    return None;
                }
                let grace = kill
                    .kill_policy
                    .as_ref()
                    .or(self.task.as_ref().and_then(|t| t.kill_policy.as_ref()))
                    .and_then(|p| p.grace_period.as_ref())
                    .map(|d| Duration::from_nanos(u64::try_from(d.nanoseconds).unwrap_or(0)))
                    .unwrap_or(self.settings.stop_timeout);
                self.stop(grace).await;
            }
            Some(event::Type::Shutdown) if !self.killing && !self.terminal_sent => {
                self.stop(self.settings.stop_timeout).await;
            }
            Some(event::Type::Acknowledged) => {
                if let Some(ack) = event.acknowledged {
                    self.unacked.remove(&ack.uuid);
                }
            }
            _ => {}
        }
        None
    }

    /// Starts the task's health check, if it has one.
    fn start_health(&mut self) {
        let Some(check) = self.task.as_ref().and_then(|t| t.health_check.clone()) else {
            return;
        };
        let env = self
            .plan
            .env
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if let Some((prober, rx)) =
            crate::docker_health::spawn(self.client.clone(), self.record.name.clone(), &check, env)
        {
            self.health = Some(HealthState::new(&check));
            self.prober = Some(prober);
            self.new_probes = Some(rx);
        }
    }

    /// One probe result under Mesos' rules: a change of health is a RUNNING update with
    /// `healthy`; too many consecutive failures kill the task. The update's words are the
    /// command executor's (`probe_report`): what the probe saw ("HTTP status 503", "TCP
    /// connection refused", "exit status 1"), which Marathon shows as the failure's cause.
    async fn on_health(&mut self, outcome: Outcome) {
        if self.killing || self.terminal_sent {
            return;
        }
        let Some(report) = probe_report("health", outcome, None, self.health.as_mut()) else {
            return;
        };
        self.healthy = report.healthy;
        self.update(
            v1::TaskState::TaskRunning,
            Some(report.reason),
            Some(report.message),
        )
        .await;
        if report.kill {
            let grace = self
                .task
                .as_ref()
                .and_then(|t| t.kill_policy)
                .and_then(|p| p.grace_period)
                .map(|d| Duration::from_nanos(u64::try_from(d.nanoseconds).unwrap_or(0)))
                .unwrap_or(self.settings.stop_timeout);
            self.stop(grace).await;
        }
    }

    /// `docker stop` with `grace`, in the background: the exit watch reports the end.
    async fn stop(&mut self, grace: Duration) {
        self.killing = true;
        if self.container_started {
            let client = self.client.clone();
            let name = self.record.name.clone();
            tokio::spawn(async move {
                if let Err(error) = client.stop(&name, grace).await {
                    tracing::warn!(container = %name, %error, "stopping a container");
                }
            });
        }
    }

    async fn run_container(&mut self, task: &v1::TaskInfo) -> Result<(), String> {
        let container = task.container.as_ref().ok_or("the task has no container")?;
        let command = task.command.clone().unwrap_or_default();
        let mut env = self.plan.env.clone();
        // The sandbox is at its mount point inside (the run spec says where); what only
        // concerned an executor process stays out.
        env.retain(|(k, _)| {
            !matches!(
                k.as_str(),
                "MESOS_SANDBOX" | "MESOS_HTTP_COMMAND_EXECUTOR" | "RUST_LOG"
            )
        });
        if let Some(extra) = &command.environment {
            for var in &extra.variables {
                // SECRET variables were resolved into the plan's environment at launch.
                if crate::env::is_secret(var) {
                    continue;
                }
                env.retain(|(k, _)| k != &var.name);
                env.push((var.name.clone(), var.value.clone().unwrap_or_default()));
            }
        }
        let spec = run_spec(&DockerTask {
            container_id: &self.plan.container_id,
            container,
            command: &command,
            env,
            sandbox: &self.plan.sandbox,
            cpus: self.plan.cpus,
            mem_mb: self.plan.mem_mb,
            cfs_quota: self.settings.cfs_quota,
            owner: &self.settings.owner,
            allow_escaping: false,
            persistent_volumes: &self.plan.volumes,
        })
        .map_err(|why| format!("Failed to launch container: {why}"))?;
        supervise::launch(
            &self.client,
            &spec,
            self.plan.force_pull,
            None,
            self.settings.pull_timeout,
            &self.plan.sandbox,
        )
        .await
        .map_err(|e| e.0)
    }

    /// Sends an UPDATE for the task and keeps it until acknowledged.
    async fn update(
        &mut self,
        state: v1::TaskState,
        reason: Option<v1::task_status::Reason>,
        message: Option<String>,
    ) {
        let Some(task) = &self.task else { return };
        let uuid = uuid::Uuid::new_v4().as_bytes().to_vec();
        let status = v1::TaskStatus {
            task_id: task.task_id.clone(),
            state: state as i32,
            message,
            source: Some(v1::task_status::Source::Executor as i32),
            reason: reason.map(|r| r as i32),
            executor_id: Some(v1::ExecutorId {
                value: self.plan.executor_id.clone(),
            }),
            timestamp: Some(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs_f64())
                    .unwrap_or_default(),
            ),
            uuid: Some(uuid.clone()),
            healthy: self.healthy,
            ..Default::default()
        };
        self.unacked.insert(uuid, status.clone());
        let mut call = self.call(call::Type::Update);
        call.update = Some(call::Update { status });
        let _ = self.executor_call(call, None).await;
    }

    /// One Executor API call through the driver; retried while the agent is still
    /// recovering (its 503).
    async fn executor_call(
        &self,
        call: Call,
        stream: Option<mpsc::Sender<Bytes>>,
    ) -> Result<(), CallRefusal> {
        let mut backoff = Duration::from_millis(20);
        loop {
            let (reply, answer) = oneshot::channel();
            let msg = Msg::ExecutorCall {
                call: call.clone(),
                // In-process: the agent's own supervisor needs no token.
                container: None,
                stream: stream.clone().map(|s| (s, Encoding::Protobuf)),
                reply,
            };
            if self.tx.send(msg).await.is_err() {
                return Err(CallRefusal::Recovering);
            }
            match answer.await {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(CallRefusal::Recovering)) => {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_millis(500));
                }
                Ok(Err(refusal)) => {
                    tracing::warn!(?refusal, "the agent refused a Docker task's call");
                    return Err(refusal);
                }
                Err(_) => return Err(CallRefusal::Recovering),
            }
        }
    }
}
