//! The actor that owns the scheduler core. Inputs arrive over a bounded channel; a batch of
//! them is handled, its state changes are committed to the store in one transaction, and only
//! then are replies sent, Mesos calls made and events published (persist, then act).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use drover_core::marathon::scheduler::{
    Command, CommandError, Effect, IdSource, Input, Reply, Scheduler,
};
use drover_store::{Store, WriteBatch};
use tokio::sync::{mpsc, oneshot};

use crate::events::EventBus;
use crate::storage;

/// Inputs queued for the actor; bounds memory under load.
pub const INBOX_MAX: usize = 1024;
/// Inputs handled per store commit (group commit).
const BATCH_MAX: usize = 256;

/// A call to make on the master, produced by the core.
#[derive(Debug, Clone)]
pub enum MesosCall {
    /// Effects that go to the master (launch, decline, kill, acknowledge, reconcile, revive,
    /// suppress).
    Effect(Effect),
}

type ReadFn = Box<dyn FnOnce(&Scheduler, u64) + Send>;
type ReplyTx = oneshot::Sender<Result<Reply, CommandError>>;

/// A message to the actor.
pub enum Msg {
    /// An API command and where to answer.
    Command(Command, ReplyTx),
    /// A read of the state.
    Read(ReadFn),
    /// An input from the master connection or the health checker.
    Input(Input),
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Msg::Command(c, _) => write!(f, "Command({c:?})"),
            Msg::Read(_) => write!(f, "Read"),
            Msg::Input(i) => write!(f, "Input({i:?})"),
        }
    }
}

/// Random v4 UUIDs.
#[derive(Debug, Default)]
pub struct RandomIds;

impl IdSource for RandomIds {
    fn next_id(&mut self) -> String {
        uuid::Uuid::new_v4().to_string()
    }
}

/// Wall clock in milliseconds since the epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Runs the actor until the inbox closes. Fails if the store refuses a write: the state in
/// memory would no longer match what was acknowledged.
pub async fn run(
    mut scheduler: Scheduler,
    store: Arc<dyn Store>,
    events: EventBus,
    mut inbox: mpsc::Receiver<Msg>,
    mesos: Option<mpsc::Sender<MesosCall>>,
    probes: Option<mpsc::Sender<drover_core::marathon::readiness::Probe>>,
) -> anyhow::Result<()> {
    loop {
        let deadline = scheduler.next_deadline();
        let first = match deadline {
            Some(at) => {
                let wait = Duration::from_millis(at.saturating_sub(now_ms()));
                tokio::select! {
                    msg = inbox.recv() => match msg { Some(m) => Some(m), None => return Ok(()) },
                    _ = tokio::time::sleep(wait) => None,
                }
            }
            None => match inbox.recv().await {
                Some(m) => Some(m),
                None => return Ok(()),
            },
        };
        let mut msgs: Vec<Msg> = first.into_iter().collect();
        while msgs.len() < BATCH_MAX {
            match inbox.try_recv() {
                Ok(m) => msgs.push(m),
                Err(_) => break,
            }
        }
        let now = now_ms();
        let mut outputs: Vec<(Vec<Effect>, Option<ReplyTx>)> = Vec::new();
        let mut reads: Vec<ReadFn> = Vec::new();
        if msgs.is_empty() {
            outputs.push((scheduler.handle(now, Input::Tick), None));
        }
        for msg in msgs {
            match msg {
                Msg::Command(command, reply) => {
                    outputs.push((scheduler.handle(now, Input::Command(command)), Some(reply)));
                }
                Msg::Input(input) => outputs.push((scheduler.handle(now, input), None)),
                Msg::Read(f) => reads.push(f),
            }
        }
        let changes: Vec<_> = outputs
            .iter()
            .flat_map(|(effects, _)| effects.iter())
            .filter_map(|e| match e {
                Effect::Persist(c) => Some(c),
                _ => None,
            })
            .collect();
        if !changes.is_empty() {
            let mut batch = WriteBatch::new();
            storage::write(store.as_ref(), &scheduler, &changes, &mut batch)?;
            store.commit(batch)?;
        }
        for (effects, mut reply) in outputs {
            for effect in effects {
                match effect {
                    Effect::Persist(_) => {}
                    Effect::Reply(result) => {
                        if let Some(reply) = reply.take() {
                            let _ = reply.send(result);
                        }
                    }
                    Effect::Publish(event) => {
                        events.publish_event(event, now);
                    }
                    Effect::Log(line) => log_condition(&line),
                    Effect::ReadinessProbe(probe) => {
                        // A full queue drops it; the core asks again after its timeout.
                        if let Some(probes) = &probes {
                            let _ = probes.try_send(probe);
                        }
                    }
                    other => {
                        if let Some(mesos) = &mesos
                            && mesos.try_send(MesosCall::Effect(other)).is_err()
                        {
                            // The connection is gone or swamped; reconciliation and the kill
                            // and launch timers recover whatever this call was for.
                            tracing::warn!("mesos call dropped");
                        }
                    }
                }
            }
        }
        for read in reads {
            read(&scheduler, now);
        }
    }
}

/// Seed 2's "consult the Marathon logs": one info line per task status handled, with the
/// instance it concerns, what Mesos said and what the scheduler did.
fn log_condition(line: &drover_core::marathon::scheduler::ConditionLog) {
    tracing::info!(
        target: "drover_marathon::conditions",
        app_id = line.app_id.as_ref().map(|a| a.to_string()).unwrap_or_default(),
        instance_id = line.instance_id.as_deref().unwrap_or_default(),
        task_id = %line.task_id,
        state = line.state.as_str_name(),
        reason = line.reason.map(|r| r.as_str_name()).unwrap_or_default(),
        source = line.source.map(|s| s.as_str_name()).unwrap_or_default(),
        status_message = line.message.as_deref().unwrap_or_default(),
        previous = line.previous.map(|c| c.name()).unwrap_or_default(),
        condition = line.condition.name(),
        reaction = line.reaction,
        "instance condition"
    );
}
