//! A minimal Mesos framework for the benchmarks, speaking the Scheduler HTTP API v1 in
//! protobuf: it subscribes, launches a planned number of small command tasks into the offers
//! it gets (many per ACCEPT), acknowledges every update, records agent→framework latency of
//! `TASK_RUNNING` updates when asked, and sends explicit reconciliation requests. Its calls go
//! through [`pipeline`]: pipelined keep-alive connections, one request per call.

mod pipeline;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use drover_http::Client;
use drover_wire::codec::APPLICATION_PROTOBUF;
use drover_wire::v1;
use drover_wire::v1::scheduler::{Call, Event, call, event};
use prost::Message;

use crate::simagent::now_secs;
use pipeline::{Answer, Pipeline};

/// Connections the framework's calls share. The master answers a connection's calls one at a
/// time, each after a pass of its driver, so the lanes bound the calls answered per pass: G4
/// ran a third slower with 16 than with 48 or 256.
const CALL_LANES: usize = 64;

/// Counters the benchmarks read.
#[derive(Debug, Default)]
pub struct FwCounters {
    /// Tasks put into ACCEPT calls.
    pub launched: AtomicU64,
    /// `TASK_RUNNING` updates received.
    pub running: AtomicU64,
    /// Updates received.
    pub updates: AtomicU64,
    /// Answers to reconciliation (`REASON_RECONCILIATION`).
    pub reconciled: AtomicU64,
    /// Calls that failed.
    pub errors: AtomicU64,
    /// `TASK_FINISHED` updates received.
    pub finished: AtomicU64,
    /// Updates of any other terminal state (failed, killed, lost, error, dropped, gone).
    pub failed: AtomicU64,
    /// The last of those, as `task id: STATE (reason): message`.
    pub last_failure: Mutex<Option<String>>,
}

/// What each task runs and takes (single command tasks only): the default is `sleep 1000`
/// with 0.01 cpus and 1 MB.
#[derive(Debug, Clone)]
pub struct TaskTemplate {
    /// The task's command.
    pub command: v1::CommandInfo,
    /// Its container, if any (a Docker container, or a Mesos container with an image).
    pub container: Option<v1::ContainerInfo>,
    /// Its cpus.
    pub cpus: f64,
    /// Its memory in MB.
    pub mem: f64,
}

impl Default for TaskTemplate {
    fn default() -> Self {
        TaskTemplate {
            command: v1::CommandInfo {
                value: Some("sleep 1000".into()),
                ..Default::default()
            },
            container: None,
            cpus: 0.01,
            mem: 1.0,
        }
    }
}

struct Plan {
    remaining: usize,
    per_offer: usize,
    /// Tasks per task group (LAUNCH_GROUP under a default executor); 0: single command tasks.
    group_size: usize,
    template: TaskTemplate,
    next: u64,
    launched: Vec<(String, String)>,
}

struct Shared {
    calls: Pipeline,
    framework_id: String,
    counters: Arc<FwCounters>,
    plan: Mutex<Plan>,
    record: AtomicBool,
    latencies: Mutex<Vec<f64>>,
}

/// A subscribed framework; dropping it closes the subscription.
pub struct BenchFramework {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for BenchFramework {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BenchFramework")
            .field("id", &self.shared.framework_id)
            .finish()
    }
}

impl Drop for BenchFramework {
    fn drop(&mut self) {
        self.task.abort();
    }
}

const SCHEDULER_PATH: &str = "/api/v1/scheduler";
const HEADERS: &[(&str, &str)] = &[
    ("Content-Type", APPLICATION_PROTOBUF),
    ("Accept", APPLICATION_PROTOBUF),
];

impl BenchFramework {
    /// Subscribes to `master` and will launch `tasks` tasks, up to `per_offer` per offer.
    pub async fn subscribe(
        master: &str,
        tasks: usize,
        per_offer: usize,
    ) -> anyhow::Result<BenchFramework> {
        Self::subscribe_grouped(master, tasks, per_offer, 0).await
    }

    /// Like [`subscribe`](Self::subscribe), launching the tasks as task groups of
    /// `group_size` (each group one LAUNCH_GROUP under its own default executor); 0 launches
    /// single command tasks.
    pub async fn subscribe_grouped(
        master: &str,
        tasks: usize,
        per_offer: usize,
        group_size: usize,
    ) -> anyhow::Result<BenchFramework> {
        Self::subscribe_inner(
            master,
            tasks,
            per_offer,
            group_size,
            TaskTemplate::default(),
        )
        .await
    }

    /// Like [`subscribe`](Self::subscribe), launching single command tasks made from
    /// `template` (its command, container and resources).
    pub async fn subscribe_with(
        master: &str,
        tasks: usize,
        per_offer: usize,
        template: TaskTemplate,
    ) -> anyhow::Result<BenchFramework> {
        Self::subscribe_inner(master, tasks, per_offer, 0, template).await
    }

    async fn subscribe_inner(
        master: &str,
        tasks: usize,
        per_offer: usize,
        group_size: usize,
        template: TaskTemplate,
    ) -> anyhow::Result<BenchFramework> {
        let client = Client::new().with_timeout(Duration::from_secs(120));
        let url = format!("http://{master}{SCHEDULER_PATH}");
        let subscribe = Call {
            r#type: Some(call::Type::Subscribe as i32),
            subscribe: Some(call::Subscribe {
                framework_info: v1::FrameworkInfo {
                    user: "root".into(),
                    name: "drover-bench".into(),
                    failover_timeout: Some(3600.0),
                    // As Marathon does: its tasks outlive an agent restart (G7).
                    checkpoint: Some(true),
                    capabilities: vec![v1::framework_info::Capability {
                        r#type: Some(v1::framework_info::capability::Type::PartitionAware as i32),
                    }],
                    ..Default::default()
                },
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut stream = client
            .post_stream(
                &url,
                HEADERS,
                Bytes::from(subscribe.encode_to_vec()),
                256 * 1024 * 1024,
            )
            .await
            .context("subscribing")?;
        let stream_id = stream
            .header("Mesos-Stream-Id")
            .context("no Mesos-Stream-Id")?;
        let first = stream
            .records
            .next()
            .await
            .context("stream ended before SUBSCRIBED")??;
        let subscribed = Event::decode(first)?
            .subscribed
            .context("first event is not SUBSCRIBED")?;
        let mut headers = HEADERS.to_vec();
        headers.push(("Mesos-Stream-Id", stream_id.as_str()));
        let shared = Arc::new(Shared {
            calls: Pipeline::new(master, SCHEDULER_PATH, &headers, CALL_LANES),
            framework_id: subscribed.framework_id.value,
            counters: Arc::new(FwCounters::default()),
            plan: Mutex::new(Plan {
                remaining: tasks,
                per_offer: per_offer.max(1),
                group_size,
                template,
                next: 0,
                launched: Vec::with_capacity(tasks),
            }),
            record: AtomicBool::new(false),
            latencies: Mutex::new(Vec::new()),
        });
        let reader = shared.clone();
        let task = tokio::spawn(async move {
            while let Some(Ok(record)) = stream.records.next().await {
                if let Ok(event) = Event::decode(record) {
                    reader.event(event);
                }
            }
        });
        Ok(BenchFramework { shared, task })
    }

    /// The framework id.
    pub fn id(&self) -> &str {
        &self.shared.framework_id
    }

    /// The counters.
    pub fn counters(&self) -> &FwCounters {
        &self.shared.counters
    }

    /// (task id, agent id) of every task launched so far.
    pub fn launched(&self) -> Vec<(String, String)> {
        self.shared
            .plan
            .lock()
            .expect("not poisoned")
            .launched
            .clone()
    }

    /// Starts (true) or stops recording the latency of `TASK_RUNNING` updates.
    pub fn record_latency(&self, on: bool) {
        if on {
            self.shared.latencies.lock().expect("not poisoned").clear();
        }
        self.shared.record.store(on, Ordering::Relaxed);
    }

    /// The recorded latencies in seconds.
    pub fn latencies(&self) -> Vec<f64> {
        self.shared.latencies.lock().expect("not poisoned").clone()
    }

    /// Sends one RECONCILE call naming `tasks`.
    pub async fn reconcile(&self, tasks: &[(String, String)]) -> anyhow::Result<()> {
        let call = Call {
            r#type: Some(call::Type::Reconcile as i32),
            reconcile: Some(call::Reconcile {
                tasks: tasks
                    .iter()
                    .map(|(task, agent)| call::reconcile::Task {
                        task_id: v1::TaskId {
                            value: task.clone(),
                        },
                        agent_id: Some(v1::AgentId {
                            value: agent.clone(),
                        }),
                    })
                    .collect(),
            }),
            ..Default::default()
        };
        let response = self.shared.send(call).await?;
        anyhow::ensure!(
            response.is_success(),
            "RECONCILE answered {}: {}",
            response.status,
            response.text()
        );
        Ok(())
    }
}

impl BenchFramework {
    /// Sends TEARDOWN: the master kills every task of the framework and forgets it.
    pub async fn teardown(&self) -> anyhow::Result<()> {
        let call = Call {
            r#type: Some(call::Type::Teardown as i32),
            ..Default::default()
        };
        let response = self.shared.send(call).await?;
        anyhow::ensure!(
            response.is_success(),
            "TEARDOWN answered {}: {}",
            response.status,
            response.text()
        );
        Ok(())
    }
}

impl Shared {
    fn encode(&self, mut call: Call) -> Bytes {
        call.framework_id = Some(v1::FrameworkId {
            value: self.framework_id.clone(),
        });
        Bytes::from(call.encode_to_vec())
    }

    async fn send(&self, call: Call) -> anyhow::Result<Answer> {
        self.calls.request(self.encode(call)).await
    }

    /// Sends a call without waiting; a failure or refusal is counted.
    fn spawn_send(&self, call: Call) {
        let counters = self.counters.clone();
        self.calls.call(
            self.encode(call),
            Box::new(move |answer| {
                if !answer.is_ok_and(|a| a.is_success()) {
                    counters.errors.fetch_add(1, Ordering::Relaxed);
                }
            }),
        );
    }

    fn event(self: &Arc<Self>, event: Event) {
        let kind = event.r#type.and_then(|t| event::Type::try_from(t).ok());
        match kind {
            Some(event::Type::Offers) => {
                for offer in event.offers.map(|o| o.offers).unwrap_or_default() {
                    self.offer(offer);
                }
            }
            Some(event::Type::Update) => {
                let Some(update) = event.update else { return };
                let status = update.status;
                let counters = &self.counters;
                counters.updates.fetch_add(1, Ordering::Relaxed);
                if status.reason == Some(v1::task_status::Reason::Reconciliation as i32) {
                    counters.reconciled.fetch_add(1, Ordering::Relaxed);
                }
                let state = v1::TaskState::try_from(status.state).ok();
                match state {
                    Some(v1::TaskState::TaskFinished) => {
                        counters.finished.fetch_add(1, Ordering::Relaxed);
                    }
                    Some(
                        v1::TaskState::TaskFailed
                        | v1::TaskState::TaskKilled
                        | v1::TaskState::TaskLost
                        | v1::TaskState::TaskError
                        | v1::TaskState::TaskDropped
                        | v1::TaskState::TaskGone
                        | v1::TaskState::TaskGoneByOperator,
                    ) => {
                        counters.failed.fetch_add(1, Ordering::Relaxed);
                        let reason = status
                            .reason
                            .and_then(|r| v1::task_status::Reason::try_from(r).ok())
                            .map_or_else(String::new, |r| format!(" ({})", r.as_str_name()));
                        let text = format!(
                            "{}: {}{reason}: {}",
                            status.task_id.value,
                            state.map_or("?", |s| s.as_str_name()),
                            status.message.as_deref().unwrap_or("")
                        );
                        *counters.last_failure.lock().expect("not poisoned") = Some(text);
                    }
                    _ => {}
                }
                if status.state == v1::TaskState::TaskRunning as i32 {
                    counters.running.fetch_add(1, Ordering::Relaxed);
                    if self.record.load(Ordering::Relaxed)
                        && let Some(sent) = status.timestamp
                    {
                        let latency = (now_secs() - sent).max(0.0);
                        self.latencies.lock().expect("not poisoned").push(latency);
                    }
                }
                if let (Some(uuid), Some(agent_id)) = (status.uuid, status.agent_id) {
                    self.spawn_send(Call {
                        r#type: Some(call::Type::Acknowledge as i32),
                        acknowledge: Some(call::Acknowledge {
                            agent_id,
                            task_id: status.task_id,
                            uuid,
                        }),
                        ..Default::default()
                    });
                }
            }
            _ => {}
        }
    }

    fn offer(self: &Arc<Self>, offer: v1::Offer) {
        let cpus = drover_core::resources::scalar(&offer.resources, "cpus");
        let mem = drover_core::resources::scalar(&offer.resources, "mem");
        let (group_size, task_cpus, task_mem) = {
            let plan = self.plan.lock().expect("not poisoned");
            (plan.group_size, plan.template.cpus, plan.template.mem)
        };
        // A task takes the template's cpus and memory (by default 0.01 cpus and 1 MB); a group's
        // default executor 0.1 cpus and 32 MB more.
        let fit = if group_size == 0 {
            ((cpus / task_cpus).floor().min((mem / task_mem).floor())).max(0.0) as usize
        } else {
            let per_group_cpus = 0.1 + 0.01 * group_size as f64;
            let per_group_mem = 32.0 + group_size as f64;
            let groups = ((cpus / per_group_cpus).floor()).min((mem / per_group_mem).floor());
            groups as usize * group_size
        };
        let tasks: Vec<v1::TaskInfo> = {
            let mut plan = self.plan.lock().expect("not poisoned");
            let n = plan.remaining.min(plan.per_offer).min(fit);
            plan.remaining -= n;
            (0..n)
                .map(|_| {
                    plan.next += 1;
                    let task_id = format!("bench-{}", plan.next);
                    plan.launched
                        .push((task_id.clone(), offer.agent_id.value.clone()));
                    task_info(&task_id, &offer.agent_id, &plan.template)
                })
                .collect()
        };
        let offer_ids = vec![offer.id];
        if tasks.is_empty() {
            self.spawn_send(Call {
                r#type: Some(call::Type::Decline as i32),
                decline: Some(call::Decline {
                    offer_ids,
                    filters: Some(v1::Filters {
                        refuse_seconds: Some(3600.0),
                    }),
                }),
                ..Default::default()
            });
            return;
        }
        self.counters
            .launched
            .fetch_add(tasks.len() as u64, Ordering::Relaxed);
        let operations = if group_size == 0 {
            vec![v1::offer::Operation {
                r#type: Some(v1::offer::operation::Type::Launch as i32),
                launch: Some(v1::offer::operation::Launch { task_infos: tasks }),
                ..Default::default()
            }]
        } else {
            tasks
                .chunks(group_size)
                .map(|members| v1::offer::Operation {
                    r#type: Some(v1::offer::operation::Type::LaunchGroup as i32),
                    launch_group: Some(v1::offer::operation::LaunchGroup {
                        executor: v1::ExecutorInfo {
                            r#type: Some(v1::executor_info::Type::Default as i32),
                            executor_id: v1::ExecutorId {
                                value: format!("group-{}", members[0].task_id.value),
                            },
                            resources: drover_core::resources::parse("cpus:0.1;mem:32")
                                .unwrap_or_default(),
                            ..Default::default()
                        },
                        task_group: v1::TaskGroupInfo {
                            tasks: members.to_vec(),
                        },
                    }),
                    ..Default::default()
                })
                .collect()
        };
        self.spawn_send(Call {
            r#type: Some(call::Type::Accept as i32),
            accept: Some(call::Accept {
                offer_ids,
                operations,
                filters: Some(v1::Filters {
                    refuse_seconds: Some(0.0),
                }),
            }),
            ..Default::default()
        });
    }
}

fn task_info(task_id: &str, agent_id: &v1::AgentId, template: &TaskTemplate) -> v1::TaskInfo {
    v1::TaskInfo {
        name: task_id.to_owned(),
        task_id: v1::TaskId {
            value: task_id.to_owned(),
        },
        agent_id: agent_id.clone(),
        resources: drover_core::resources::parse(&format!(
            "cpus:{};mem:{}",
            template.cpus, template.mem
        ))
        .unwrap_or_default(),
        command: Some(template.command.clone()),
        container: template.container.clone().map(Box::new),
        ..Default::default()
    }
}
