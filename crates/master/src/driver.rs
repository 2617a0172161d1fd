//! The driver: one tokio task owning the [`Master`] core. HTTP handlers send [`Command`]s
//! over a bounded channel; the driver drains a batch, runs it through the core, commits every
//! registry write of the batch in one store transaction, and only after the commit returns
//! sends replies and events (persist before you reply or act). A failed commit stops the
//! master (fail-stop; it recovers from the registry on restart).
//!
//! Streams (scheduler subscriptions, agent sessions, operator subscriptions) are bounded
//! channels; a reader that cannot keep up is disconnected, and the core is told the stream
//! closed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use bytes::Bytes;
use drover_core::master::{Conn, Effect, Input, Master, Reply, update_event};
use drover_http::StreamSender;
use drover_store::{Store, WriteBatch};
use drover_wire::codec::Encoding;
use drover_wire::v1::master as operator;
use tokio::sync::{mpsc, oneshot};

use crate::persist;
use crate::view::Viewer;

/// Capacity of the command channel from HTTP handlers to the driver.
pub const COMMAND_CAPACITY: usize = 4096;
/// Events buffered per stream before the reader counts as too slow and is disconnected.
pub const STREAM_CAPACITY: usize = 1024;
/// The same for scheduler subscriptions, which get bursts: one RECONCILE of 100,000 tasks is
/// answered with 100,000 updates at once, and a 100,000-instance launch sends as many
/// STARTING/RUNNING updates in a few seconds (issue 8). The channel allocates only what is
/// queued, so a large bound costs nothing while the reader keeps up.
pub const SCHEDULER_STREAM_CAPACITY: usize = 1 << 18;
/// Most commands run in one batch (one store transaction).
const MAX_BATCH: usize = 512;
/// Operator SUBSCRIBE streams kept (`--max_operator_event_stream_subscribers`).
const MAX_OPERATOR_SUBSCRIBERS: usize = 1000;
/// Heartbeat interval of operator streams.
const OPERATOR_HEARTBEAT: Duration = Duration::from_secs(15);

/// Milliseconds since the epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Which kind of stream a connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// A scheduler subscription.
    Scheduler,
    /// An agent session.
    Agent,
    /// An operator subscription.
    Operator,
}

/// A stream the driver writes to.
#[derive(Debug)]
pub struct StreamHandle {
    /// Where encoded events go.
    pub tx: StreamSender,
    /// Their encoding.
    pub encoding: Encoding,
}

/// A read-only job run against the core between inputs. It returns the delivery of its
/// answer, which runs after the batch's commit, like every reply.
pub type ReadFn = Box<dyn FnOnce(&Master, u64) -> Deliver + Send>;

/// Sends a read's answer to its waiting handler.
pub type Deliver = Box<dyn FnOnce() + Send>;

/// A message to the driver.
pub enum Command {
    /// An input for the core; `reply` gets the core's answer, `stream` is registered under the
    /// input's connection before the core runs.
    Input {
        input: Box<Input>,
        reply: Option<oneshot::Sender<Reply>>,
        stream: Option<(Conn, StreamKind, StreamHandle)>,
    },
    /// A read.
    Read { read: ReadFn },
    /// A new operator subscription: SUBSCRIBED is built from the state at this point. With a
    /// viewer (view ACLs), SUBSCRIBED and every later event are filtered for it.
    OperatorSubscribe {
        conn: Conn,
        stream: StreamHandle,
        viewer: Option<Viewer>,
    },
    /// A stream's reader went away.
    Closed { conn: Conn, kind: StreamKind },
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Input { input, .. } => f.debug_tuple("Input").field(input).finish(),
            Command::Read { .. } => f.write_str("Read"),
            Command::OperatorSubscribe { conn, .. } => {
                f.debug_tuple("OperatorSubscribe").field(conn).finish()
            }
            Command::Closed { conn, kind } => {
                f.debug_tuple("Closed").field(conn).field(kind).finish()
            }
        }
    }
}

/// What handlers hold: the command channel and the connection counter.
#[derive(Debug, Clone)]
pub struct Handle {
    tx: mpsc::Sender<Command>,
    next_conn: Arc<AtomicU64>,
}

impl Handle {
    /// A fresh connection number.
    pub fn next_conn(&self) -> Conn {
        Conn(self.next_conn.fetch_add(1, Ordering::Relaxed))
    }

    /// Sends a command; fails only when the driver has stopped.
    pub async fn send(&self, command: Command) -> Result<(), ()> {
        self.tx.send(command).await.map_err(|_| ())
    }

    /// Runs an input and waits for the core's reply (`None` if the driver stopped).
    pub async fn call(
        &self,
        input: Input,
        stream: Option<(Conn, StreamKind, StreamHandle)>,
    ) -> Option<Reply> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Input {
            input: Box::new(input),
            reply: Some(reply),
            stream,
        })
        .await
        .ok()?;
        rx.await.ok()
    }

    /// Queues an input without waiting: the receiver gets the core's reply (`None` if the
    /// driver stopped). Inputs submitted one after another run in that order.
    pub async fn submit(&self, input: Input) -> Option<oneshot::Receiver<Reply>> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Input {
            input: Box::new(input),
            reply: Some(reply),
            stream: None,
        })
        .await
        .ok()?;
        Some(rx)
    }

    /// Runs a read on the driver task and waits for its answer (`None` if the driver
    /// stopped). The driver waits while it runs, so a read should only gather what it needs
    /// and leave encoding to the caller (issue 8: `/master/state` of 10,000 tasks used to be
    /// serialized inside the master loop).
    pub async fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Master, u64) -> T + Send + 'static,
    ) -> Option<T> {
        let (reply, rx) = oneshot::channel();
        let read: ReadFn = Box::new(move |master, now| {
            let answer = read(master, now);
            Box::new(move || {
                let _ = reply.send(answer);
            })
        });
        self.send(Command::Read { read }).await.ok()?;
        rx.await.ok()
    }

    /// A guard that tells the driver when a stream's reader is gone (dropped with the body).
    pub fn close_guard(&self, conn: Conn, kind: StreamKind) -> CloseGuard {
        CloseGuard {
            conn,
            kind,
            tx: self.tx.clone(),
        }
    }
}

/// Tells the driver, when dropped, that a stream's reader went away.
#[derive(Debug)]
pub struct CloseGuard {
    conn: Conn,
    kind: StreamKind,
    tx: mpsc::Sender<Command>,
}

impl Drop for CloseGuard {
    fn drop(&mut self) {
        let tx = self.tx.clone();
        let command = Command::Closed {
            conn: self.conn,
            kind: self.kind,
        };
        // Drop cannot await; a runtime is always present where bodies are dropped.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = tx.send(command).await;
            });
        }
    }
}

/// Something to do after the batch's commit, in order.
// Nearly every item is an effect; boxing them would cost an allocation each.
#[allow(clippy::large_enum_variant)]
enum Outgoing {
    Effect(Effect),
    Read(Deliver),
    OperatorSubscribed(Conn, StreamHandle, Option<Viewer>, Box<operator::Event>),
}

/// The driver's state.
struct Driver {
    master: Master,
    store: Arc<dyn Store>,
    streams: BTreeMap<Conn, (StreamKind, StreamHandle)>,
    operators: Vec<(Conn, StreamHandle, Option<Viewer>)>,
    replies: BTreeMap<Conn, oneshot::Sender<Reply>>,
    /// Streams the driver dropped itself (slow readers): the core hears of them next batch.
    dropped: Vec<(Conn, StreamKind)>,
    /// Accepts waiting for their authorization ([`Effect::Authorize`]): answered in the next
    /// batch, after the commands that arrived meanwhile, as Mesos' master went on with its
    /// queued messages until its authorizer answered.
    authorizing: Vec<u64>,
    next_operator_heartbeat: tokio::time::Instant,
}

/// Creates the command channel and the handle handlers use.
pub fn channel() -> (Handle, mpsc::Receiver<Command>) {
    let (tx, rx) = mpsc::channel(COMMAND_CAPACITY);
    (
        Handle {
            tx,
            next_conn: Arc::new(AtomicU64::new(1)),
        },
        rx,
    )
}

/// Runs the driver until `shutdown` resolves, a commit fails, or `may_act` says this master
/// may no longer act as leader.
pub async fn run(
    master: Master,
    store: Arc<dyn Store>,
    mut commands: mpsc::Receiver<Command>,
    shutdown: impl std::future::Future<Output = ()>,
    may_act: impl Fn() -> bool,
) -> anyhow::Result<()> {
    let mut driver = Driver {
        master,
        store,
        streams: BTreeMap::new(),
        operators: Vec::new(),
        replies: BTreeMap::new(),
        dropped: Vec::new(),
        authorizing: Vec::new(),
        next_operator_heartbeat: tokio::time::Instant::now() + OPERATOR_HEARTBEAT,
    };
    tokio::pin!(shutdown);
    loop {
        let deadline = driver.next_wakeup();
        let mut batch = Vec::new();
        tokio::select! {
            _ = &mut shutdown => return Ok(()),
            command = commands.recv() => match command {
                Some(command) => {
                    batch.push(command);
                    while batch.len() < MAX_BATCH {
                        match commands.try_recv() {
                            Ok(command) => batch.push(command),
                            Err(_) => break,
                        }
                    }
                }
                None => return Ok(()),
            },
            _ = tokio::time::sleep_until(deadline) => {}
        }
        // Asked at every step, whatever woke it: a leader resumed from a pause past its
        // session's lease may find its timer due before the watcher of its session has run,
        // and must not send one offer or answer as leader.
        if !may_act() {
            anyhow::bail!("Lost leadership... committing suicide! (its session lease ran out)");
        }
        driver.step(batch).await?;
    }
}

impl Driver {
    fn next_wakeup(&self) -> tokio::time::Instant {
        let now_wall = now_ms();
        let core = self
            .master
            .next_deadline()
            .map(|d| d.saturating_sub(now_wall))
            .unwrap_or(1000)
            .min(1000);
        let mut at = tokio::time::Instant::now() + Duration::from_millis(core.max(1));
        if !self.dropped.is_empty() || !self.authorizing.is_empty() {
            at = tokio::time::Instant::now();
        }
        at.min(self.next_operator_heartbeat)
    }

    async fn step(&mut self, batch: Vec<Command>) -> anyhow::Result<()> {
        let now = now_ms();
        let mut outgoing: Vec<Outgoing> = Vec::new();
        // Operator events are built only while someone is subscribed (a subscription in this
        // batch turns them on for the inputs after it).
        self.master
            .set_operator_subscribers(!self.operators.is_empty());
        let run = |master: &mut Master, input: Input, outgoing: &mut Vec<Outgoing>| {
            outgoing.extend(
                master
                    .handle_deferred(now, input)
                    .into_iter()
                    .map(Outgoing::Effect),
            );
        };
        for (conn, kind) in std::mem::take(&mut self.dropped) {
            if let Some(input) = closed_input(conn, kind) {
                run(&mut self.master, input, &mut outgoing);
            }
        }
        let authorized = std::mem::take(&mut self.authorizing);
        for command in batch {
            match command {
                Command::Input {
                    input,
                    reply,
                    stream,
                } => {
                    if let Some((conn, kind, handle)) = stream {
                        self.streams.insert(conn, (kind, handle));
                    }
                    if let Some(reply) = reply {
                        self.replies.insert(input_conn(&input), reply);
                    }
                    run(&mut self.master, *input, &mut outgoing);
                }
                Command::Read { read } => {
                    outgoing.push(Outgoing::Read(read(&self.master, now)));
                }
                Command::OperatorSubscribe {
                    conn,
                    stream,
                    viewer,
                } => {
                    self.master.set_operator_subscribers(true);
                    let mut event = operator::Event {
                        r#type: Some(operator::event::Type::Subscribed as i32),
                        ..Default::default()
                    };
                    let mut state = self.master.get_state();
                    if let Some(viewer) = &viewer {
                        viewer.filter_state(&mut state, &crate::view::users(&self.master));
                    }
                    event.subscribed = Some(operator::event::Subscribed {
                        get_state: Some(state),
                        heartbeat_interval_seconds: Some(OPERATOR_HEARTBEAT.as_secs_f64()),
                    });
                    outgoing.push(Outgoing::OperatorSubscribed(
                        conn,
                        stream,
                        viewer,
                        Box::new(event),
                    ));
                }
                Command::Closed { conn, kind } => {
                    if kind == StreamKind::Operator {
                        self.operators.retain(|(c, _, _)| *c != conn);
                    } else {
                        self.streams.remove(&conn);
                        if let Some(input) = closed_input(conn, kind) {
                            run(&mut self.master, input, &mut outgoing);
                        }
                    }
                }
            }
        }
        for ticket in authorized {
            run(
                &mut self.master,
                Input::Authorized { ticket },
                &mut outgoing,
            );
        }
        if self
            .master
            .next_deadline()
            .is_some_and(|deadline| deadline <= now)
        {
            run(&mut self.master, Input::Tick, &mut outgoing);
        }
        // One allocation pass for the whole batch (issue 8): a burst of ACCEPTs, DECLINEs or
        // registrations costs one pass, not one each. Its effects (offers, and the persisted
        // offer-id counters) join the batch, so they are committed before anything leaves.
        outgoing.extend(
            self.master
                .allocate_pending(now)
                .into_iter()
                .map(Outgoing::Effect),
        );
        let batch = registry_batch(&outgoing);
        commit(&self.store, batch).await?;
        for item in outgoing {
            match item {
                Outgoing::Effect(effect) => self.apply(effect),
                Outgoing::Read(deliver) => deliver(),
                Outgoing::OperatorSubscribed(conn, stream, viewer, event) => {
                    if stream
                        .tx
                        .try_send(drover_http::encode_record(&*event, stream.encoding))
                        .is_ok()
                    {
                        self.operators.push((conn, stream, viewer));
                        if self.operators.len() > MAX_OPERATOR_SUBSCRIBERS {
                            self.operators.remove(0);
                        }
                    }
                }
            }
        }
        if tokio::time::Instant::now() >= self.next_operator_heartbeat {
            self.next_operator_heartbeat = tokio::time::Instant::now() + OPERATOR_HEARTBEAT;
            let event = operator::Event {
                r#type: Some(operator::event::Type::Heartbeat as i32),
                ..Default::default()
            };
            self.publish(&event);
        }
        Ok(())
    }

    fn apply(&mut self, effect: Effect) {
        match effect {
            Effect::Persist(_) => {}
            Effect::Reply { req, reply } => {
                if let Some(tx) = self.replies.remove(&req) {
                    let _ = tx.send(reply);
                }
                // A refused subscription never becomes a stream.
            }
            Effect::ToScheduler { conn, event } => {
                self.send(conn, &*event);
            }
            Effect::ToSchedulerUpdates { conn, statuses } => {
                for status in statuses {
                    // Built on the stack and dropped once encoded: never 100,000 at once.
                    if !self.send(conn, &update_event(status)) {
                        break;
                    }
                }
            }
            Effect::ToAgent { conn, event } => {
                self.send(conn, &*event);
            }
            Effect::CloseScheduler { conn } | Effect::CloseAgent { conn } => {
                self.streams.remove(&conn);
            }
            Effect::ToOperators(event) => self.publish(&event),
            Effect::Warn(message) => tracing::warn!("{message}"),
            Effect::Authorize { ticket } => self.authorizing.push(ticket),
        }
    }

    /// Sends `event` on `conn`'s stream; false when there is no stream (any longer).
    fn send<M: prost_reflect::ReflectMessage>(&mut self, conn: Conn, event: &M) -> bool {
        let Some((kind, handle)) = self.streams.get(&conn) else {
            return false;
        };
        let payload = drover_http::encode_record(event, handle.encoding);
        if handle.tx.try_send(payload).is_err() {
            // Full (a reader that cannot keep up) or closed: drop the stream; the core hears
            // of it at the start of the next batch.
            let kind = *kind;
            self.streams.remove(&conn);
            self.dropped.push((conn, kind));
            tracing::warn!(
                conn = conn.0,
                ?kind,
                "stream reader too slow or gone; disconnected"
            );
            return false;
        }
        true
    }

    fn publish(&mut self, event: &operator::Event) {
        let mut json: Option<Bytes> = None;
        let mut protobuf: Option<Bytes> = None;
        let master = &self.master;
        self.operators.retain(|(_, handle, viewer)| {
            if viewer
                .as_ref()
                .is_some_and(|v| !v.may_see_event(event, master))
            {
                return true;
            }
            let payload = match handle.encoding {
                Encoding::Json => json
                    .get_or_insert_with(|| drover_http::encode_record(event, Encoding::Json))
                    .clone(),
                Encoding::Protobuf => protobuf
                    .get_or_insert_with(|| drover_http::encode_record(event, Encoding::Protobuf))
                    .clone(),
            };
            handle.tx.try_send(payload).is_ok()
        });
    }
}

/// Every registry write of a batch, in order.
fn registry_batch(outgoing: &[Outgoing]) -> WriteBatch {
    let mut batch = WriteBatch::new();
    for item in outgoing {
        if let Outgoing::Effect(Effect::Persist(op)) = item {
            persist::write(op, &mut batch);
        }
    }
    batch
}

/// Commits one batch durably (off the async threads: it fsyncs).
async fn commit(store: &Arc<dyn Store>, batch: WriteBatch) -> anyhow::Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let store = store.clone();
    tokio::task::spawn_blocking(move || store.commit(batch))
        .await
        .context("the registry commit task failed")?
        .context("cannot commit to the registry; stopping (restart recovers from it)")?;
    Ok(())
}

fn closed_input(conn: Conn, kind: StreamKind) -> Option<Input> {
    match kind {
        StreamKind::Scheduler => Some(Input::SchedulerClosed { conn }),
        StreamKind::Agent => Some(Input::AgentClosed { conn }),
        StreamKind::Operator => None,
    }
}

fn input_conn(input: &Input) -> Conn {
    match input {
        Input::Subscribe { conn, .. }
        | Input::AgentSubscribe { conn, .. }
        | Input::SchedulerClosed { conn }
        | Input::AgentClosed { conn } => *conn,
        Input::SchedulerCall { req, .. }
        | Input::AgentCall { req, .. }
        | Input::MarkAgentGone { req, .. }
        | Input::DeactivateAgent { req, .. }
        | Input::ReactivateAgent { req, .. }
        | Input::Quota { req, .. }
        | Input::Maintenance { req, .. }
        | Input::DrainAgent { req, .. }
        | Input::Teardown { req, .. }
        | Input::AgentOperation { req, .. } => *req,
        Input::Tick | Input::Authorized { .. } => Conn(0),
    }
}
