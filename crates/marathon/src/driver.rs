//! The actor that owns the scheduler core. Inputs arrive over a bounded channel; a batch of
//! them is handled, its state changes are committed to the store in one transaction, and only
//! then are replies sent, Mesos calls made and events published (persist, then act).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use drover_core::marathon::scheduler::{
    Change, Command, CommandError, Effect, IdSource, Input, Reply, Scheduler,
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

/// Where the effects of a batch go once its changes are durable.
struct Sinks {
    events: EventBus,
    mesos: Option<mpsc::Sender<MesosCall>>,
    probes: Option<mpsc::Sender<drover_core::marathon::readiness::Probe>>,
}

type Commit = tokio::task::JoinHandle<Result<(), drover_store::StoreError>>;

/// A handled batch whose effects wait for its commit.
struct Pending {
    /// The commit of its changes, on a blocking thread (`None`: nothing to write).
    commit: Option<Commit>,
    outputs: Vec<(Vec<Effect>, Option<ReplyTx>)>,
    reads: Vec<ReadFn>,
    now: u64,
}

/// Waits for a commit; a store that refused it (or a commit thread that died) fails the actor.
async fn committed(commit: &mut Commit) -> anyhow::Result<()> {
    match commit.await {
        Ok(result) => Ok(result?),
        Err(e) => Err(anyhow::anyhow!("store commit task failed: {e}")),
    }
}

enum Wake {
    Committed(anyhow::Result<()>),
    Msg(Option<Msg>),
    Timer,
}

/// Runs the actor until the inbox closes. Fails if the store refuses a write: the state in
/// memory would no longer match what was acknowledged.
///
/// Commits are pipelined: while batch N's changes are committed on a blocking thread, the core
/// handles batch N+1. Nothing of a batch is acted on (replies, Mesos calls, events, probes)
/// before its own commit returned, batches are committed and acted on in order, and a batch
/// with reads (or without changes) waits for every earlier commit and its own before anything
/// else, so reads see committed state only. A failed commit stops the actor before any later
/// batch is committed or acted on.
pub async fn run(
    scheduler: Scheduler,
    store: Arc<dyn Store>,
    events: EventBus,
    inbox: mpsc::Receiver<Msg>,
    mesos: Option<mpsc::Sender<MesosCall>>,
    probes: Option<mpsc::Sender<drover_core::marathon::readiness::Probe>>,
) -> anyhow::Result<()> {
    let sinks = Sinks {
        events,
        mesos,
        probes,
    };
    run_with(scheduler, store, sinks, inbox).await
}

async fn run_with(
    mut scheduler: Scheduler,
    store: Arc<dyn Store>,
    sinks: Sinks,
    mut inbox: mpsc::Receiver<Msg>,
) -> anyhow::Result<()> {
    let mut pending: Option<Pending> = None;
    loop {
        let deadline = scheduler.next_deadline();
        let wake = {
            let commit = pending.as_mut().and_then(|p| p.commit.as_mut());
            let has_commit = commit.is_some();
            let commit_done = async {
                match commit {
                    Some(c) => committed(c).await,
                    None => std::future::pending().await,
                }
            };
            let timer = async {
                match deadline {
                    Some(at) => {
                        tokio::time::sleep(Duration::from_millis(at.saturating_sub(now_ms()))).await
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                done = commit_done, if has_commit => Wake::Committed(done),
                msg = inbox.recv() => Wake::Msg(msg),
                _ = timer => Wake::Timer,
            }
        };
        let first = match wake {
            Wake::Committed(done) => {
                done?;
                if let Some(p) = pending.take() {
                    act(p, &scheduler, &sinks);
                }
                continue;
            }
            Wake::Msg(None) => {
                if let Some(mut p) = pending.take() {
                    durable(&mut p).await?;
                    act(p, &scheduler, &sinks);
                }
                return Ok(());
            }
            Wake::Msg(Some(m)) => Some(m),
            Wake::Timer => None,
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
        let mut commit = None;
        if !changes.is_empty() {
            // Deleting an app scans the store for its versions: the earlier batch's must be
            // there to be found.
            if changes
                .iter()
                .any(|c| matches!(c, Change::App(id) if scheduler.app(id).is_none()))
                && let Some(mut p) = pending.take()
            {
                durable(&mut p).await?;
                act(p, &scheduler, &sinks);
            }
            let mut batch = WriteBatch::new();
            storage::write(store.as_ref(), &scheduler, &changes, &mut batch)?;
            // Commits go in order: this one starts once the earlier one is durable.
            if let Some(p) = pending.as_mut() {
                durable(p).await?;
            }
            let store = store.clone();
            commit = Some(tokio::task::spawn_blocking(move || {
                store.commit(batch).map(|_| ())
            }));
        }
        // The earlier batch is durable by now (or had nothing to write): act on it while this
        // one commits.
        if let Some(mut p) = pending.take() {
            durable(&mut p).await?;
            act(p, &scheduler, &sinks);
        }
        let mut this = Pending {
            commit,
            outputs,
            reads,
            now,
        };
        if this.commit.is_none() || !this.reads.is_empty() {
            durable(&mut this).await?;
            act(this, &scheduler, &sinks);
        } else {
            pending = Some(this);
        }
    }
}

/// Waits for a batch's commit (a no-op once it returned, or with nothing to write).
async fn durable(p: &mut Pending) -> anyhow::Result<()> {
    if let Some(c) = p.commit.as_mut() {
        committed(c).await?;
        p.commit = None;
    }
    Ok(())
}

/// Carries out a durable batch's effects in order, then its reads.
fn act(p: Pending, scheduler: &Scheduler, sinks: &Sinks) {
    let Pending {
        outputs,
        reads,
        now,
        ..
    } = p;
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
                    sinks.events.publish_event(event, now);
                }
                Effect::Log(line) => log_condition(&line),
                Effect::ReadinessProbe(probe) => {
                    // A full queue drops it; the core asks again after its timeout.
                    if let Some(probes) = &sinks.probes {
                        let _ = probes.try_send(probe);
                    }
                }
                other => {
                    if let Some(mesos) = &sinks.mesos
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
        read(scheduler, now);
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use drover_core::marathon::app::AppSpec;
    use drover_core::marathon::path::PathId;
    use drover_core::marathon::scheduler::Config;
    use drover_store::{CommitInfo, MemoryStore, Meta, StoreError};
    use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

    use super::*;

    /// A store whose every commit announces itself and then waits for the test's verdict:
    /// `true` commits, `false` fails the commit.
    #[derive(Debug)]
    struct Gated {
        inner: MemoryStore,
        started: UnboundedSender<WriteBatch>,
        verdicts: Mutex<UnboundedReceiver<bool>>,
    }

    impl Store for Gated {
        fn get(&self, namespace: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
            self.inner.get(namespace, key)
        }
        fn scan(
            &self,
            namespace: &str,
            prefix: &[u8],
        ) -> Result<Vec<drover_store::Entry>, StoreError> {
            self.inner.scan(namespace, prefix)
        }
        fn commit(&self, batch: WriteBatch) -> Result<CommitInfo, StoreError> {
            let _ = self.started.send(batch.clone());
            let verdict = self.verdicts.lock().expect("lock").blocking_recv();
            if verdict == Some(true) {
                self.inner.commit(batch)
            } else {
                Err(StoreError::Engine {
                    action: "commit",
                    detail: "injected failure".into(),
                })
            }
        }
        fn meta(&self) -> Result<Meta, StoreError> {
            self.inner.meta()
        }
    }

    struct Harness {
        store: Arc<dyn Store>,
        started: UnboundedReceiver<WriteBatch>,
        verdicts: UnboundedSender<bool>,
        inbox: mpsc::Sender<Msg>,
        actor: tokio::task::JoinHandle<anyhow::Result<()>>,
    }

    fn harness() -> Harness {
        let (started_tx, started) = unbounded_channel();
        let (verdicts, verdicts_rx) = unbounded_channel();
        let store: Arc<dyn Store> = Arc::new(Gated {
            inner: MemoryStore::new(),
            started: started_tx,
            verdicts: Mutex::new(verdicts_rx),
        });
        let scheduler = Scheduler::new(Config::default(), Box::new(RandomIds));
        let (inbox, rx) = mpsc::channel(INBOX_MAX);
        let sinks = Sinks {
            events: EventBus::new(),
            mesos: None,
            probes: None,
        };
        let actor = tokio::spawn(run_with(scheduler, store.clone(), sinks, rx));
        Harness {
            store,
            started,
            verdicts,
            inbox,
            actor,
        }
    }

    fn app_id(name: &str) -> PathId {
        PathId::parse(name, &PathId::root()).expect("valid id")
    }

    async fn create(h: &Harness, name: &str) -> oneshot::Receiver<Result<Reply, CommandError>> {
        let (tx, rx) = oneshot::channel();
        let mut app = AppSpec::new(app_id(name));
        app.cmd = Some("sleep 100".into());
        app.instances = 0;
        let command = Command::CreateApp { app, force: false };
        h.inbox
            .send(Msg::Command(command, tx))
            .await
            .expect("actor alive");
        rx
    }

    fn has_app(store: &Arc<dyn Store>, name: &str) -> bool {
        storage::load(store)
            .expect("load")
            .apps
            .iter()
            .any(|a| a.id == app_id(name))
    }

    /// Batch 2 is handled while batch 1 commits, yet neither is answered before its own commit
    /// is durable; a failed commit of batch 2 stops the actor with batch 2 unanswered, and the
    /// store (what a restart recovers) holds everything that was answered.
    #[tokio::test]
    async fn no_reply_before_its_commit_and_a_failed_commit_loses_nothing_answered() {
        let mut h = harness();
        let mut first = create(&h, "/one").await;
        let batch = h.started.recv().await.expect("commit of batch 1 started");
        assert!(!batch.is_empty());
        assert!(
            first.try_recv().is_err(),
            "answered before its commit returned"
        );
        // Batch 2 arrives while batch 1 is still committing.
        let mut second = create(&h, "/two").await;
        assert!(first.try_recv().is_err());
        h.verdicts.send(true).expect("store alive");
        assert!(matches!(first.await, Ok(Ok(Reply::Deployment { .. }))));
        assert!(has_app(&h.store, "/one"));
        // Batch 2's commit starts only after batch 1's returned; it is not answered meanwhile.
        let _ = h.started.recv().await.expect("commit of batch 2 started");
        assert!(
            second.try_recv().is_err(),
            "answered before its commit returned"
        );
        // The commit fails: the actor stops, batch 2 is never answered and never stored.
        h.verdicts.send(false).expect("store alive");
        let outcome = h.actor.await.expect("actor did not panic");
        assert!(outcome.is_err(), "a failed commit must stop the actor");
        assert!(
            second.await.is_err(),
            "a batch whose commit failed was answered"
        );
        assert!(has_app(&h.store, "/one"), "an answered change was lost");
        assert!(!has_app(&h.store, "/two"));
    }

    /// A read queued behind a change sees it only once that change is durable.
    #[tokio::test]
    async fn reads_wait_for_the_commits_before_them() {
        let mut h = harness();
        let first = create(&h, "/one").await;
        let _ = h.started.recv().await.expect("commit of batch 1 started");
        let second = create(&h, "/two").await;
        let (read_tx, mut read_rx) = oneshot::channel();
        let read: ReadFn = Box::new(move |s: &Scheduler, _| {
            let _ = read_tx.send((
                s.app(&app_id("/one")).is_some(),
                s.app(&app_id("/two")).is_some(),
            ));
        });
        h.inbox.send(Msg::Read(read)).await.expect("actor alive");
        h.verdicts.send(true).expect("store alive");
        assert!(first.await.is_ok());
        let _ = h.started.recv().await.expect("commit of batch 2 started");
        assert!(
            read_rx.try_recv().is_err(),
            "a read ran before the change ahead of it was durable"
        );
        h.verdicts.send(true).expect("store alive");
        assert!(matches!(second.await, Ok(Ok(Reply::Deployment { .. }))));
        assert_eq!(read_rx.await.expect("read ran"), (true, true));
        assert!(has_app(&h.store, "/two"));
        drop(h.inbox);
        h.actor.await.expect("no panic").expect("stopped cleanly");
    }
}
