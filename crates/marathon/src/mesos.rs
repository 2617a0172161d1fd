//! The link to the Mesos master: subscribes through drover-scheduler-client as a
//! partition-aware framework with a stable id and a week of failover timeout, turns client
//! events into scheduler inputs, and the scheduler's effects into calls.

use std::sync::{Arc, RwLock};

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
    /// `--mesos_role` (`*`: none asked for).
    pub role: String,
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
    /// Where the leading master's URL is kept for `/v2/info`.
    pub leader_url: LeaderUrl,
    /// With HA: whether this scheduler still leads (asked before every call to the master).
    pub may_act: Option<drover_scheduler_client::MayAct>,
}

/// The web UI URL of the master that accepted the last subscription (Marathon's
/// `mesos_leader_ui_url`, which it took from the MasterInfo of its registration); `None`
/// until subscribed.
#[derive(Debug, Clone, Default)]
pub struct LeaderUrl(Arc<RwLock<Option<String>>>);

impl LeaderUrl {
    /// The URL, if subscribed once.
    pub fn get(&self) -> Option<String> {
        self.0.read().map(|url| url.clone()).unwrap_or(None)
    }

    fn set(&self, master: &v1::MasterInfo) {
        if let Ok(mut url) = self.0.write() {
            *url = Some(leader_ui_url(master));
        }
    }
}

/// `http://host:port/` of a master (`https` when this process speaks TLS to the masters): its
/// address's hostname, else its IP, else the legacy fields (`ip` is the IPv4 octets as a
/// little-endian u32).
fn leader_ui_url(master: &v1::MasterInfo) -> String {
    let address = master.address.as_ref();
    let host = address
        .and_then(|a| a.hostname.clone().or_else(|| a.ip.clone()))
        .or_else(|| master.hostname.clone())
        .unwrap_or_else(|| std::net::Ipv4Addr::from(master.ip.to_le_bytes()).to_string());
    let port = address
        .map(|a| a.port)
        .filter(|p| *p > 0)
        .map_or(master.port, |p| p as u32);
    format!("{}://{host}:{port}/", drover_http::tls::scheme())
}

fn capability(kind: v1::framework_info::capability::Type) -> v1::framework_info::Capability {
    v1::framework_info::Capability {
        r#type: Some(kind as i32),
    }
}

/// The framework's info.
pub fn framework_info(link: &Link) -> v1::FrameworkInfo {
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
        // A role of its own is asked for as Marathon 1.9+ did (MULTI_ROLE with one role), so
        // offers say which role each resource is allocated to; without one the framework
        // registers as before, under `*`.
        roles: if link.role == "*" {
            Vec::new()
        } else {
            vec![link.role.clone()]
        },
        capabilities: capabilities(&link.role),
        ..Default::default()
    }
}

/// The framework's capabilities: RESERVATION_REFINEMENT so offers carry reservations in the
/// `reservations` field (resident apps read their own from there), MULTI_ROLE with a role.
fn capabilities(role: &str) -> Vec<v1::framework_info::Capability> {
    use v1::framework_info::capability::Type;
    let mut out = vec![
        capability(Type::PartitionAware),
        capability(Type::TaskKillingState),
        capability(Type::GpuResources),
        capability(Type::ReservationRefinement),
    ];
    if role != "*" {
        out.push(capability(Type::MultiRole));
    }
    out
}

/// Starts the link; returns where the actor sends its Mesos effects.
pub fn spawn(link: Link) -> mpsc::Sender<MesosCall> {
    let (calls_tx, mut calls_rx) = mpsc::channel::<MesosCall>(drover_scheduler_client::CALLS_MAX);
    let mut config = Config::new(link.master.clone(), framework_info(&link));
    config.credential = link.credential.clone();
    config.may_act = link.may_act.clone();
    let (client, mut events) = drover_scheduler_client::spawn(config);
    let inbox = link.inbox.clone();
    let leader_url = link.leader_url.clone();
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            let input = match event {
                ClientEvent::Subscribed {
                    framework_id,
                    master_info,
                } => {
                    if let Some(master) = &master_info {
                        leader_url.set(master);
                    }
                    Input::Subscribed { framework_id }
                }
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
                    offer_id,
                    operations,
                    tasks,
                    groups,
                    ..
                } => launch(&offer_id, operations, tasks, groups),
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

/// One ACCEPT: the reservation `operations` first (applied in order by the master), then
/// `tasks` (LAUNCH) and each task group (LAUNCH_GROUP: a pod instance).
fn launch(
    offer_id: &str,
    operations: Vec<v1::offer::Operation>,
    tasks: Vec<v1::TaskInfo>,
    groups: Vec<v1::offer::operation::LaunchGroup>,
) -> v1::scheduler::Call {
    let mut call = calls::launch(offer_id, tasks);
    if let Some(accept) = call.accept.as_mut() {
        if accept
            .operations
            .first()
            .and_then(|op| op.launch.as_ref())
            .is_some_and(|l| l.task_infos.is_empty())
        {
            accept.operations.clear();
        }
        accept.operations.splice(0..0, operations);
        accept
            .operations
            .extend(groups.into_iter().map(|group| v1::offer::Operation {
                r#type: Some(v1::offer::operation::Type::LaunchGroup as i32),
                launch_group: Some(group),
                ..Default::default()
            }));
    }
    call
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_leader_url_prefers_the_address_then_the_legacy_fields() {
        let mut master = v1::MasterInfo {
            ip: u32::from_le_bytes([10, 0, 0, 7]),
            port: 5050,
            ..Default::default()
        };
        assert_eq!(leader_ui_url(&master), "http://10.0.0.7:5050/");
        master.hostname = Some("m1".into());
        assert_eq!(leader_ui_url(&master), "http://m1:5050/");
        master.address = Some(v1::Address {
            hostname: Some("m1.example".into()),
            ip: Some("10.0.0.7".into()),
            port: 5051,
        });
        assert_eq!(leader_ui_url(&master), "http://m1.example:5051/");
        let url = LeaderUrl::default();
        assert_eq!(url.get(), None);
        url.set(&master);
        assert_eq!(url.get().as_deref(), Some("http://m1.example:5051/"));
    }
}
