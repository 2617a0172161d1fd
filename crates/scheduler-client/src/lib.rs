//! A client for the Mesos Scheduler HTTP API v1 that any Rust framework can use.
//!
//! [`spawn`] starts a task that subscribes to the master (`POST /api/v1/scheduler`, protobuf),
//! keeps the subscription alive (resubscribing with exponential backoff and the framework id it
//! was given, detecting a silent master by missed heartbeats), sends calls with the
//! `Mesos-Stream-Id` header, and hands every event to the framework over a channel.
//!
//! While the master is unreachable, an `ACCEPT` cannot be delivered; like Mesos' own driver,
//! the client then answers each task of the launch locally with `TASK_DROPPED` (partition-aware
//! frameworks) or `TASK_LOST`, source `SOURCE_MASTER`, reason `REASON_MASTER_DISCONNECTED`
//! (`drover_core::task::emission`, trigger `AcceptWhileMasterDisconnected`), so the framework
//! can relaunch instead of waiting forever.
//!
//! Calls are pipelined: up to [`Config::calls_in_flight_max`] POSTs run at once over the
//! shared connection pool, in an order that keeps what Mesos and a framework rely on (see
//! [`Order`]): calls about the same task (its `ACCEPT`, `KILL`, `ACKNOWLEDGE`s, an explicit
//! `RECONCILE`) reach the master one after the other in the order they were sent; `REVIVE`,
//! `SUPPRESS`, `RECONCILE`, `TEARDOWN` and any other call without a task are barriers: they
//! start only once every earlier call has been answered, and no later call starts before they
//! are answered. Calls about different tasks (and `DECLINE`s of different offers) may overtake
//! each other.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use bytes::Bytes;
use drover_core::task::TaskState;
use drover_core::task::emission::{Trigger, emission};
use drover_wire::v1;
use drover_wire::v1::scheduler::{Call, Event, call, event};
use prost::Message;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Calls queued for the client.
pub const CALLS_MAX: usize = 4096;
/// Events queued for the framework.
pub const EVENTS_MAX: usize = 4096;
/// Largest accepted event record.
pub const RECORD_BYTES_MAX: usize = 64 * 1024 * 1024;
/// Default number of calls in flight at once ([`Config::calls_in_flight_max`]).
pub const CALLS_IN_FLIGHT_MAX: usize = 32;
/// Calls taken off the channel but held back by their order (a bound on the client's own
/// queue; the channel itself holds [`CALLS_MAX`]).
pub const CALLS_WAITING_MAX: usize = 1024;
/// How long a lost session waits for its calls in flight before answering them locally.
const IN_FLIGHT_GRACE: Duration = Duration::from_secs(1);

/// How the client connects.
#[derive(Debug, Clone)]
pub struct Config {
    /// `host:port` of the master, or `zk://[user:pass@]host:port[,host:port]/path` to follow
    /// the leading master of that ZooKeeper group.
    pub master: String,
    /// The framework's info; its `id` is filled in after the first subscription.
    pub framework_info: v1::FrameworkInfo,
    /// Heartbeats that may be missed before the connection counts as dead.
    pub missed_heartbeats_max: u32,
    /// First reconnect delay.
    pub backoff_min: Duration,
    /// Largest reconnect delay.
    pub backoff_max: Duration,
    /// Calls POSTed at once (at least 1; 1 sends them one at a time, in order).
    pub calls_in_flight_max: usize,
    /// HTTP Basic credential sent with every call (a master with
    /// `--authenticate_http_frameworks`); its principal should be `framework_info.principal`.
    pub credential: Option<drover_http::auth::Credential>,
    /// Asked before every (re)subscription and every call: once it says no (an HA scheduler
    /// deposed, or paused past its lease), the client stops for good without another word to
    /// the master, so a deposed leader cannot take the framework back from its successor.
    pub may_act: Option<MayAct>,
}

/// Whether this framework may still talk to the master (see [`Config::may_act`]).
#[derive(Clone)]
pub struct MayAct(pub std::sync::Arc<dyn Fn() -> bool + Send + Sync>);

impl std::fmt::Debug for MayAct {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MayAct")
    }
}

impl Config {
    fn may_act(&self) -> bool {
        self.may_act.as_ref().is_none_or(|f| (f.0)())
    }
}

impl Config {
    /// A config with Mesos' customary timings.
    pub fn new(master: impl Into<String>, framework_info: v1::FrameworkInfo) -> Self {
        Config {
            master: master.into(),
            framework_info,
            missed_heartbeats_max: 5,
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            calls_in_flight_max: CALLS_IN_FLIGHT_MAX,
            credential: None,
            may_act: None,
        }
    }

    fn partition_aware(&self) -> bool {
        self.framework_info
            .capabilities
            .iter()
            .any(|c| c.r#type == Some(v1::framework_info::capability::Type::PartitionAware as i32))
    }
}

/// What the client tells the framework.
#[derive(Debug, Clone)]
pub enum ClientEvent {
    /// Subscribed (or resubscribed) with this framework id.
    Subscribed {
        /// The framework id.
        framework_id: String,
        /// The leading master that accepted the subscription, as its SUBSCRIBED event names it.
        master_info: Option<Box<v1::MasterInfo>>,
    },
    /// An event from the master (never `SUBSCRIBED` or `HEARTBEAT`), or a local update.
    Event(Box<Event>),
    /// The master removed the framework (an operator's TEARDOWN, or the failover timeout ran
    /// out): it refuses the old id for good. The client has forgotten that id and subscribes
    /// anew as a new framework; the framework must treat every task of the old one as gone.
    FrameworkRemoved {
        /// The id the master no longer accepts.
        framework_id: String,
        /// The master's message.
        message: String,
    },
    /// The subscription ended; the client is reconnecting.
    Disconnected {
        /// Why.
        reason: String,
    },
}

/// Starts the client; returns where to send calls (their `framework_id` is filled in) and where
/// events arrive. The client stops when the call sender is dropped.
pub fn spawn(config: Config) -> (mpsc::Sender<Call>, mpsc::Receiver<ClientEvent>) {
    let (call_tx, call_rx) = mpsc::channel(CALLS_MAX);
    let (event_tx, event_rx) = mpsc::channel(EVENTS_MAX);
    tokio::spawn(run(config, call_rx, event_tx));
    (call_tx, event_rx)
}

fn endpoint(master: &str) -> String {
    format!("{}://{master}/api/v1/scheduler", drover_http::tls::scheme())
}

const PROTOBUF: &str = "application/x-protobuf";

async fn run(
    mut config: Config,
    mut calls: mpsc::Receiver<Call>,
    events: mpsc::Sender<ClientEvent>,
) {
    let client = drover_http::Client::new().with_timeout(Duration::from_secs(20));
    let mut backoff = config.backoff_min;
    // The master this client talks to: the configured one, or the leader it redirected to.
    // After a lost session it starts again from the configured one, which may no longer be a
    // follower of the same leader.
    let detector = config.master.starts_with("zk://").then(|| {
        drover_coord::ZkUrl::parse(&config.master).map(drover_coord::detector::leading_master)
    });
    let mut leader = config.master.clone();
    loop {
        if !config.may_act() {
            tracing::warn!("no longer allowed to act (deposed): the scheduler client stops");
            return;
        }
        let outcome = match &detector {
            None => session(&client, &mut config, &mut leader, &mut calls, &events).await,
            Some(Err(error)) => Session::Lost(format!("bad master: {error}")),
            Some(Ok(detected)) => {
                // Wait a moment for a first detection, then try whoever leads.
                let mut detected = detected.clone();
                let _ = tokio::time::timeout(
                    Duration::from_secs(5),
                    detected.wait_for(Option::is_some),
                )
                .await;
                let current = detected.borrow().clone();
                match current {
                    Some(current) => {
                        leader = current;
                        session(&client, &mut config, &mut leader, &mut calls, &events).await
                    }
                    None => Session::Lost("no leading master detected in ZooKeeper".into()),
                }
            }
        };
        match outcome {
            Session::Stop => return,
            Session::Lost(reason) => {
                leader = config.master.clone();
                tracing::warn!(reason = %reason, "disconnected from master");
                if events
                    .send(ClientEvent::Disconnected { reason })
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
        // Wait out the backoff, answering launches locally meanwhile.
        let until = Instant::now() + backoff;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(until) => break,
                call = calls.recv() => match call {
                    None => return,
                    Some(call) => {
                        if !drop_while_disconnected(&config, &call, &events).await {
                            return;
                        }
                    }
                }
            }
        }
        backoff = (backoff * 2).min(config.backoff_max);
        if backoff == config.backoff_max {
            backoff = config.backoff_max;
        }
    }
}

/// Whether a master's ERROR event says the framework id is refused for good (Mesos' words for
/// a torn-down framework, or one whose failover timeout ran out).
fn is_removal(message: &str) -> bool {
    message.contains("Framework has been removed")
}

enum Session {
    Stop,
    Lost(String),
}

/// Redirects followed per subscription (mesos-go follows 9).
const MAX_REDIRECTS: usize = 9;

/// The leading master's `host:port` as a follower names it: `/master/redirect` answers 307
/// with `Location: //host:port`.
async fn leader_of(client: &drover_http::Client, master: &str) -> Option<String> {
    let response = client
        .get(
            &format!("{}://{master}/master/redirect", drover_http::tls::scheme()),
            &[],
        )
        .await
        .ok()?;
    if response.status.as_u16() != 307 {
        return None;
    }
    let location = response.headers.get("location")?.to_str().ok()?;
    let rest = location
        .strip_prefix("//")
        .or_else(|| location.strip_prefix("http://"))
        .or_else(|| location.strip_prefix("https://"))?;
    let host = rest.split('/').next()?;
    (!host.is_empty()).then(|| host.to_owned())
}

async fn session(
    client: &drover_http::Client,
    config: &mut Config,
    leader: &mut String,
    calls: &mut mpsc::Receiver<Call>,
    events: &mpsc::Sender<ClientEvent>,
) -> Session {
    let subscribe = Call {
        framework_id: config.framework_info.id.clone(),
        r#type: Some(call::Type::Subscribe as i32),
        subscribe: Some(call::Subscribe {
            framework_info: config.framework_info.clone(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let authorization = config.credential.as_ref().map(|c| c.header_value());
    let mut headers = vec![("Content-Type", PROTOBUF), ("Accept", PROTOBUF)];
    if let Some(value) = &authorization {
        headers.push(("Authorization", value.as_str()));
    }
    let mut redirects = 0;
    let (url, mut stream) = loop {
        let url = endpoint(leader);
        match client
            .post_stream(
                &url,
                &headers,
                Bytes::from(subscribe.encode_to_vec()),
                RECORD_BYTES_MAX,
            )
            .await
        {
            Ok(s) => break (url, s),
            // A master that does not lead: subscribe with the leader it names.
            Err(drover_http::ClientError::Status { status, .. })
                if status.as_u16() == 307 && redirects < MAX_REDIRECTS =>
            {
                redirects += 1;
                match leader_of(client, leader).await {
                    Some(next) => {
                        tracing::info!(from = %leader, to = %next, "following the master's redirect to its leader");
                        *leader = next;
                    }
                    None => {
                        return Session::Lost(format!("{leader} redirected but names no leader"));
                    }
                }
            }
            Err(e) => return Session::Lost(e.to_string()),
        }
    };
    let stream_id = stream.header("Mesos-Stream-Id").unwrap_or_default();
    let mut flight = Flight::new(client.clone(), url, stream_id, config.calls_in_flight_max);
    flight.authorization = authorization;
    let mut heartbeat = Duration::from_secs(15);
    let mut deadline = Instant::now() + heartbeat * config.missed_heartbeats_max;
    loop {
        tokio::select! {
            record = stream.records.next() => {
                let bytes = match record {
                    None => return flight.lose("event stream ended".into(), config, events).await,
                    Some(Err(e)) => return flight.lose(e.to_string(), config, events).await,
                    Some(Ok(b)) => b,
                };
                deadline = Instant::now() + heartbeat * config.missed_heartbeats_max;
                let Ok(event) = Event::decode(bytes) else {
                    return flight.lose("undecodable event".into(), config, events).await;
                };
                match event.r#type.and_then(|t| event::Type::try_from(t).ok()) {
                    Some(event::Type::Subscribed) => {
                        let Some(subscribed) = event.subscribed else { continue };
                        if let Some(seconds) = subscribed.heartbeat_interval_seconds
                            && seconds.is_finite() && seconds > 0.0
                        {
                            heartbeat = Duration::from_secs_f64(seconds.min(3600.0));
                            deadline = Instant::now() + heartbeat * config.missed_heartbeats_max;
                        }
                        config.framework_info.id = Some(subscribed.framework_id.clone());
                        let id = subscribed.framework_id.value;
                        let master_info = subscribed.master_info.map(Box::new);
                        if events.send(ClientEvent::Subscribed { framework_id: id, master_info }).await.is_err() {
                            return Session::Stop;
                        }
                    }
                    Some(event::Type::Heartbeat) => {}
                    Some(event::Type::Error) => {
                        let message = event.error.map(|e| e.message).unwrap_or_default();
                        if is_removal(&message)
                            && let Some(old) = config.framework_info.id.take()
                        {
                            // Retrying with the old id would be refused forever.
                            let removed = ClientEvent::FrameworkRemoved {
                                framework_id: old.value,
                                message: message.clone(),
                            };
                            if events.send(removed).await.is_err() {
                                return Session::Stop;
                            }
                        }
                        return flight.lose(format!("master error: {message}"), config, events).await;
                    }
                    _ => {
                        if events.send(ClientEvent::Event(Box::new(event))).await.is_err() {
                            return Session::Stop;
                        }
                    }
                }
            }
            _ = tokio::time::sleep_until(deadline) => {
                return flight.lose("missed heartbeats".into(), config, events).await;
            }
            call = calls.recv(), if flight.waiting.len() < CALLS_WAITING_MAX => {
                if !config.may_act() {
                    tracing::warn!("no longer allowed to act (deposed): the scheduler client stops");
                    return Session::Stop;
                }
                let Some(call) = call else {
                    // The framework is gone: deliver what it sent, then stop.
                    flight.finish(config, events).await;
                    return Session::Stop;
                };
                flight.push(call, config);
                while flight.waiting.len() < CALLS_WAITING_MAX
                    && let Ok(call) = calls.try_recv()
                {
                    flight.push(call, config);
                }
                flight.dispatch();
            }
            Some(done) = flight.running.join_next_with_id(), if !flight.running.is_empty() => {
                if let Err(reason) = flight.complete(done, config, events).await {
                    return flight.lose(reason, config, events).await;
                }
                flight.dispatch();
            }
        }
    }
}

/// How a call is ordered against the others (see the crate's documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Order {
    /// Starts after every earlier call is answered; later calls start after it is answered.
    Barrier,
    /// Starts after every earlier call sharing one of these keys (task ids, or offer ids for
    /// calls without tasks) is answered, and after every earlier barrier.
    Keys(Vec<String>),
}

/// The ordering keys of a call.
pub fn order(call: &Call) -> Order {
    let kind = call.r#type.and_then(|t| call::Type::try_from(t).ok());
    match kind {
        Some(call::Type::Acknowledge) => match &call.acknowledge {
            Some(a) => Order::Keys(vec![a.task_id.value.clone()]),
            None => Order::Barrier,
        },
        Some(call::Type::Kill) => match &call.kill {
            Some(k) => Order::Keys(vec![k.task_id.value.clone()]),
            None => Order::Barrier,
        },
        Some(call::Type::Accept) => match &call.accept {
            Some(accept) => {
                let mut keys: Vec<String> = launched_tasks(accept)
                    .map(|t| t.task_id.value.clone())
                    .collect();
                // Operations without tasks (reservations, volumes) keep their order.
                let taskless = accept
                    .operations
                    .iter()
                    .any(|op| op.launch.is_none() && op.launch_group.is_none());
                if taskless || keys.is_empty() {
                    return Order::Barrier;
                }
                keys.sort_unstable();
                keys.dedup();
                Order::Keys(keys)
            }
            None => Order::Barrier,
        },
        Some(call::Type::Decline) => match &call.decline {
            Some(d) if !d.offer_ids.is_empty() => Order::Keys(
                d.offer_ids
                    .iter()
                    .map(|o| format!("offer:{}", o.value))
                    .collect(),
            ),
            _ => Order::Barrier,
        },
        _ => Order::Barrier,
    }
}

/// What a POST came back with.
type Sent = Result<drover_http::client::Response, drover_http::ClientError>;

/// A call taken off the channel.
#[derive(Debug)]
struct Queued {
    call: Call,
    order: Order,
}

/// The calls of one session: those waiting for their turn and those in flight.
#[derive(Debug)]
struct Flight {
    client: drover_http::Client,
    url: String,
    stream_id: String,
    /// The `Authorization` header value, when the framework has a credential.
    authorization: Option<String>,
    max: usize,
    waiting: VecDeque<Queued>,
    running: tokio::task::JoinSet<Sent>,
    started: HashMap<tokio::task::Id, Queued>,
    /// Keys of the calls in flight, with how many hold each.
    busy: HashMap<String, usize>,
    barrier_running: bool,
}

impl Flight {
    fn new(client: drover_http::Client, url: String, stream_id: String, max: usize) -> Flight {
        Flight {
            client,
            url,
            stream_id,
            authorization: None,
            max: max.max(1),
            waiting: VecDeque::new(),
            running: tokio::task::JoinSet::new(),
            started: HashMap::new(),
            busy: HashMap::new(),
            barrier_running: false,
        }
    }

    fn push(&mut self, mut call: Call, config: &Config) {
        call.framework_id = config.framework_info.id.clone();
        let order = order(&call);
        self.waiting.push_back(Queued { call, order });
    }

    /// Starts every waiting call whose turn has come, oldest first.
    fn dispatch(&mut self) {
        if self.barrier_running {
            return;
        }
        // Keys of earlier calls still waiting: a later call sharing one must wait behind them.
        let mut blocked: HashSet<String> = HashSet::new();
        let mut i = 0;
        while i < self.waiting.len() && self.running.len() < self.max {
            match &self.waiting[i].order {
                Order::Barrier => {
                    if i == 0 && self.running.is_empty() {
                        let queued = self.waiting.pop_front().expect("index 0 exists");
                        self.barrier_running = true;
                        self.start(queued);
                    }
                    return;
                }
                Order::Keys(keys) => {
                    let free = keys
                        .iter()
                        .all(|k| !self.busy.contains_key(k) && !blocked.contains(k));
                    if free {
                        let queued = self.waiting.remove(i).expect("index exists");
                        for k in keys_of(&queued.order) {
                            *self.busy.entry(k.clone()).or_default() += 1;
                        }
                        self.start(queued);
                    } else {
                        blocked.extend(keys.iter().cloned());
                        i += 1;
                    }
                }
            }
        }
    }

    fn start(&mut self, queued: Queued) {
        let client = self.client.clone();
        let url = self.url.clone();
        let stream_id = self.stream_id.clone();
        let authorization = self.authorization.clone();
        let body = Bytes::from(queued.call.encode_to_vec());
        let handle = self.running.spawn(async move {
            let mut headers = vec![
                ("Content-Type", PROTOBUF),
                ("Accept", PROTOBUF),
                ("Mesos-Stream-Id", stream_id.as_str()),
            ];
            if let Some(value) = &authorization {
                headers.push(("Authorization", value.as_str()));
            }
            client.post(&url, &headers, body).await
        });
        self.started.insert(handle.id(), queued);
    }

    fn release(&mut self, queued: &Queued) {
        match &queued.order {
            Order::Barrier => self.barrier_running = false,
            Order::Keys(keys) => {
                for k in keys {
                    if let Some(n) = self.busy.get_mut(k) {
                        *n -= 1;
                        if *n == 0 {
                            self.busy.remove(k);
                        }
                    }
                }
            }
        }
    }

    /// Handles a finished call as the client always has: a refusal is logged, a transport
    /// error answers the call's launches locally and ends the session (`Err`).
    async fn complete(
        &mut self,
        done: Result<(tokio::task::Id, Sent), tokio::task::JoinError>,
        config: &Config,
        events: &mpsc::Sender<ClientEvent>,
    ) -> Result<(), String> {
        let (id, sent) = match done {
            Ok((id, sent)) => (id, Some(sent)),
            Err(e) => (e.id(), None),
        };
        let Some(queued) = self.started.remove(&id) else {
            return Ok(());
        };
        self.release(&queued);
        let Some(sent) = sent else {
            // The call's task panicked or was cancelled: its delivery is unknown.
            drop_while_disconnected(config, &queued.call, events).await;
            return Err("call task failed".into());
        };
        match sent {
            Ok(r) if r.status.is_success() => Ok(()),
            Ok(r) => {
                tracing::warn!(status = %r.status, body = %r.text(), "call refused");
                Ok(())
            }
            Err(e) => {
                drop_while_disconnected(config, &queued.call, events).await;
                Err(e.to_string())
            }
        }
    }

    /// Ends a lost session: calls in flight get [`IN_FLIGHT_GRACE`] to be answered; the rest,
    /// and the calls still waiting, are answered locally like calls made while disconnected.
    async fn lose(
        mut self,
        reason: String,
        config: &Config,
        events: &mpsc::Sender<ClientEvent>,
    ) -> Session {
        let until = Instant::now() + IN_FLIGHT_GRACE;
        while !self.running.is_empty() {
            match tokio::time::timeout_at(until, self.running.join_next_with_id()).await {
                Ok(Some(done)) => {
                    let _ = self.complete(done, config, events).await;
                }
                Ok(None) | Err(_) => break,
            }
        }
        self.running.abort_all();
        let mut undelivered: Vec<Queued> = self.started.drain().map(|(_, q)| q).collect();
        undelivered.extend(self.waiting.drain(..));
        for queued in undelivered {
            if !drop_while_disconnected(config, &queued.call, events).await {
                return Session::Stop;
            }
        }
        Session::Lost(reason)
    }

    /// Delivers every call still waiting or in flight (the framework has stopped sending).
    async fn finish(&mut self, config: &Config, events: &mpsc::Sender<ClientEvent>) {
        loop {
            self.dispatch();
            let Some(done) = self.running.join_next_with_id().await else {
                return;
            };
            if self.complete(done, config, events).await.is_err() {
                for queued in self.waiting.drain(..) {
                    drop_while_disconnected(config, &queued.call, events).await;
                }
            }
        }
    }
}

fn keys_of(order: &Order) -> &[String] {
    match order {
        Order::Barrier => &[],
        Order::Keys(keys) => keys,
    }
}

/// Answers the tasks of an `ACCEPT` that cannot reach the master with local updates; other
/// calls are dropped (the framework reconciles after resubscribing). Returns false when the
/// framework is gone.
async fn drop_while_disconnected(
    config: &Config,
    call: &Call,
    events: &mpsc::Sender<ClientEvent>,
) -> bool {
    for status in undeliverable_launch_updates(call, config.partition_aware()) {
        let event = Event {
            r#type: Some(event::Type::Update as i32),
            update: Some(event::Update { status }),
            ..Default::default()
        };
        if events
            .send(ClientEvent::Event(Box::new(event)))
            .await
            .is_err()
        {
            return false;
        }
    }
    true
}

/// Every task an `ACCEPT` launches (LAUNCH and LAUNCH_GROUP operations).
fn launched_tasks(accept: &call::Accept) -> impl Iterator<Item = &v1::TaskInfo> {
    accept.operations.iter().flat_map(|op| {
        let launch = op.launch.iter().flat_map(|l| l.task_infos.iter());
        let group = op
            .launch_group
            .iter()
            .flat_map(|g| g.task_group.tasks.iter());
        launch.chain(group)
    })
}

/// The local updates for the tasks of an `ACCEPT` that could not reach the master
/// (`REASON_MASTER_DISCONNECTED`).
pub fn undeliverable_launch_updates(call: &Call, partition_aware: bool) -> Vec<v1::TaskStatus> {
    let row = emission(Trigger::AcceptWhileMasterDisconnected);
    let Some(accept) = &call.accept else {
        return Vec::new();
    };
    launched_tasks(accept)
        .map(|task| {
            let mut status = row.status(
                &task.task_id.value,
                partition_aware,
                TaskState::TaskStaging,
                None,
            );
            status.agent_id = Some(task.agent_id.clone());
            // Stamped like every other update: Unix seconds (Mesos' driver stamps its local
            // updates with the wall clock too).
            status.timestamp = Some(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0.0, |d| d.as_secs_f64()),
            );
            status
        })
        .collect()
}

/// Builders for the calls a framework makes.
pub mod calls {
    use super::*;

    fn base(kind: call::Type) -> Call {
        Call {
            r#type: Some(kind as i32),
            ..Default::default()
        }
    }

    /// `ACCEPT` an offer, launching `tasks`.
    pub fn launch(offer_id: &str, tasks: Vec<v1::TaskInfo>) -> Call {
        let mut c = base(call::Type::Accept);
        c.accept = Some(call::Accept {
            offer_ids: vec![v1::OfferId {
                value: offer_id.to_owned(),
            }],
            operations: vec![v1::offer::Operation {
                r#type: Some(v1::offer::operation::Type::Launch as i32),
                launch: Some(v1::offer::operation::Launch { task_infos: tasks }),
                ..Default::default()
            }],
            filters: None,
        });
        c
    }

    /// `DECLINE` offers.
    pub fn decline(offer_ids: &[String], refuse_seconds: f64) -> Call {
        let mut c = base(call::Type::Decline);
        c.decline = Some(call::Decline {
            offer_ids: offer_ids
                .iter()
                .map(|id| v1::OfferId { value: id.clone() })
                .collect(),
            filters: Some(v1::Filters {
                refuse_seconds: Some(refuse_seconds),
            }),
        });
        c
    }

    /// `KILL` a task.
    pub fn kill(task_id: &str, agent_id: Option<&str>) -> Call {
        let mut c = base(call::Type::Kill);
        c.kill = Some(call::Kill {
            task_id: v1::TaskId {
                value: task_id.to_owned(),
            },
            agent_id: agent_id.map(|a| v1::AgentId {
                value: a.to_owned(),
            }),
            kill_policy: None,
        });
        c
    }

    /// `ACKNOWLEDGE` an update.
    pub fn acknowledge(agent_id: &str, task_id: &str, uuid: Vec<u8>) -> Call {
        let mut c = base(call::Type::Acknowledge);
        c.acknowledge = Some(call::Acknowledge {
            agent_id: v1::AgentId {
                value: agent_id.to_owned(),
            },
            task_id: v1::TaskId {
                value: task_id.to_owned(),
            },
            uuid,
        });
        c
    }

    /// `RECONCILE` these tasks (empty: implicit reconciliation of all).
    pub fn reconcile(tasks: &[(String, Option<String>)]) -> Call {
        let mut c = base(call::Type::Reconcile);
        c.reconcile = Some(call::Reconcile {
            tasks: tasks
                .iter()
                .map(|(task, agent)| call::reconcile::Task {
                    task_id: v1::TaskId {
                        value: task.clone(),
                    },
                    agent_id: agent.as_ref().map(|a| v1::AgentId { value: a.clone() }),
                })
                .collect(),
        });
        c
    }

    /// `REVIVE` offers.
    pub fn revive() -> Call {
        base(call::Type::Revive)
    }

    /// `SUPPRESS` offers.
    pub fn suppress() -> Call {
        base(call::Type::Suppress)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_while_disconnected_drops_each_task() {
        let task = v1::TaskInfo {
            task_id: v1::TaskId { value: "t1".into() },
            agent_id: v1::AgentId { value: "a1".into() },
            ..Default::default()
        };
        let call = calls::launch("o1", vec![task]);
        let updates = undeliverable_launch_updates(&call, true);
        assert_eq!(updates.len(), 1);
        assert_eq!(updates[0].state, TaskState::TaskDropped as i32);
        assert_eq!(
            updates[0].source,
            Some(v1::task_status::Source::Master as i32)
        );
        assert_eq!(
            updates[0].reason,
            Some(v1::task_status::Reason::MasterDisconnected as i32)
        );
        let updates = undeliverable_launch_updates(&call, false);
        assert_eq!(updates[0].state, TaskState::TaskLost as i32);
    }

    #[test]
    fn local_updates_are_stamped_with_unix_time() {
        let task = v1::TaskInfo {
            task_id: v1::TaskId { value: "t1".into() },
            agent_id: v1::AgentId { value: "a1".into() },
            ..Default::default()
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let updates = undeliverable_launch_updates(&calls::launch("o1", vec![task]), true);
        let stamp = updates[0].timestamp.expect("stamped");
        assert!((stamp - now).abs() < 60.0, "stamped {stamp}, now {now}");
    }
}
