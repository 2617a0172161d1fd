//! The link to the Mesos master: subscribes through drover-scheduler-client as a
//! partition-aware framework with a stable id and a week of failover timeout, turns client
//! events into scheduler inputs, and the scheduler's effects into calls.

use drover_core::marathon::scheduler::{Effect, Input};
use drover_scheduler_client::{ClientEvent, Config, calls};
use drover_wire::v1;
use drover_wire::v1::scheduler::event;
use tokio::sync::mpsc;

use crate::driver::{MesosCall, Msg};

/// `failover_timeout`: a week, so a restarted scheduler finds its tasks still running.
pub const FAILOVER_TIMEOUT_SECONDS: f64 = 7.0 * 24.0 * 3600.0;

/// What the link needs.
#[derive(Debug)]
pub struct Link {
    /// `host:port` of the master.
    pub master: String,
    /// Framework name.
    pub framework_name: String,
    /// Our hostname.
    pub hostname: String,
    /// The stored framework id, if any.
    pub framework_id: Option<String>,
    /// `FrameworkInfo.principal` (`--mesos_authentication_principal`).
    pub principal: Option<String>,
    /// The credential sent to the master (`--mesos_authentication`).
    pub credential: Option<drover_http::auth::Credential>,
    /// Our web UI / API URL.
    pub webui_url: String,
    /// The actor's inbox.
    pub inbox: mpsc::Sender<Msg>,
}

fn capability(kind: v1::framework_info::capability::Type) -> v1::framework_info::Capability {
    v1::framework_info::Capability {
        r#type: Some(kind as i32),
    }
}

/// The framework's info.
pub fn framework_info(link: &Link) -> v1::FrameworkInfo {
    use v1::framework_info::capability::Type;
    v1::FrameworkInfo {
        user: std::env::var("USER").unwrap_or_else(|_| "root".to_owned()),
        name: link.framework_name.clone(),
        id: link
            .framework_id
            .clone()
            .map(|value| v1::FrameworkId { value }),
        failover_timeout: Some(FAILOVER_TIMEOUT_SECONDS),
        checkpoint: Some(true),
        hostname: Some(link.hostname.clone()),
        webui_url: Some(link.webui_url.clone()),
        principal: link.principal.clone(),
        capabilities: vec![
            capability(Type::PartitionAware),
            capability(Type::TaskKillingState),
            capability(Type::GpuResources),
        ],
        ..Default::default()
    }
}

/// Starts the link; returns where the actor sends its Mesos effects.
pub fn spawn(link: Link) -> mpsc::Sender<MesosCall> {
    let (calls_tx, mut calls_rx) = mpsc::channel::<MesosCall>(drover_scheduler_client::CALLS_MAX);
    let mut config = Config::new(link.master.clone(), framework_info(&link));
    config.credential = link.credential.clone();
    let (client, mut events) = drover_scheduler_client::spawn(config);
    let inbox = link.inbox.clone();
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            let input = match event {
                ClientEvent::Subscribed { framework_id } => Input::Subscribed { framework_id },
                ClientEvent::Disconnected { .. } => Input::Disconnected,
                ClientEvent::FrameworkRemoved {
                    framework_id,
                    message,
                } => {
                    tracing::error!(
                        framework_id = %framework_id,
                        message = %message,
                        "Mesos master removed framework {framework_id}; its tasks are gone: \
                         forgetting the framework id, expunging its instances and subscribing \
                         as a new framework"
                    );
                    Input::FrameworkRemoved
                }
                ClientEvent::Event(event) => {
                    match event.r#type.and_then(|t| event::Type::try_from(t).ok()) {
                        Some(event::Type::Offers) => {
                            Input::Offers(event.offers.map(|o| o.offers).unwrap_or_default())
                        }
                        Some(event::Type::Update) => match event.update {
                            Some(update) => Input::Update(update.status),
                            None => continue,
                        },
                        _ => continue,
                    }
                }
            };
            if inbox.send(Msg::Input(input)).await.is_err() {
                return;
            }
        }
    });
    tokio::spawn(async move {
        while let Some(MesosCall::Effect(effect)) = calls_rx.recv().await {
            let call = match effect {
                Effect::Launch {
                    offer_id, tasks, ..
                } => calls::launch(&offer_id, tasks),
                Effect::Decline {
                    offer_ids,
                    refuse_seconds,
                } => calls::decline(&offer_ids, refuse_seconds),
                Effect::Kill { task_id, agent_id } => calls::kill(&task_id, agent_id.as_deref()),
                Effect::Acknowledge {
                    agent_id,
                    task_id,
                    uuid,
                } => calls::acknowledge(&agent_id, &task_id, uuid),
                Effect::Reconcile { tasks } => {
                    // Explicit for what we know, then implicit for what we may not.
                    if !tasks.is_empty() && client.send(calls::reconcile(&tasks)).await.is_err() {
                        return;
                    }
                    calls::reconcile(&[])
                }
                Effect::Revive => calls::revive(),
                Effect::Suppress => calls::suppress(),
                Effect::Persist(_)
                | Effect::Reply(_)
                | Effect::Publish(_)
                | Effect::Log(_)
                | Effect::ReadinessProbe(_) => {
                    continue;
                }
            };
            if client.send(call).await.is_err() {
                return;
            }
        }
    });
    calls_tx
}
