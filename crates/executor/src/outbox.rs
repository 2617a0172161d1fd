//! An executor's side of the agent link: its calls, and the status updates it keeps until the
//! agent acknowledges them (sent again after a transient failure, and with every SUBSCRIBE).

use std::time::Duration;

use drover_wire::v1;
use drover_wire::v1::executor::{Call, call};
use tokio::time::Instant;

use crate::client::{Client, EventStream};
use crate::env::Env;

/// First delay before unacknowledged updates are sent again after a transient failure.
const RESEND_FIRST: Duration = Duration::from_millis(100);

/// The updates not yet acknowledged, in the order they were sent.
#[derive(Debug)]
pub(crate) struct Outbox {
    client: Client,
    env: Env,
    unacked: Vec<v1::TaskStatus>,
    /// When to send `unacked` again: an UPDATE failed transiently (the agent restarting, or
    /// answering 503 while it recovers) and no new SUBSCRIBE will carry it.
    resend_at: Option<Instant>,
    backoff: Duration,
}

impl Outbox {
    pub fn new(env: &Env) -> Self {
        Self {
            client: Client::new(&env.endpoint),
            env: env.clone(),
            unacked: Vec::new(),
            resend_at: None,
            backoff: RESEND_FIRST,
        }
    }

    /// A call of `kind` from this executor.
    pub fn call(&self, kind: call::Type) -> Call {
        Call {
            executor_id: v1::ExecutorId {
                value: self.env.executor_id.clone(),
            },
            framework_id: v1::FrameworkId {
                value: self.env.framework_id.clone(),
            },
            r#type: Some(kind as i32),
            ..Default::default()
        }
    }

    /// Whether every update was acknowledged.
    pub fn is_empty(&self) -> bool {
        self.unacked.is_empty()
    }

    /// When the unacknowledged updates are due to be sent again.
    pub fn resend_at(&self) -> Option<Instant> {
        self.resend_at
    }

    /// SUBSCRIBE listing `tasks` (launched, and no update of theirs acknowledged yet) and
    /// every unacknowledged update, retried until the recovery timeout.
    pub async fn subscribe(&mut self, tasks: Vec<v1::TaskInfo>) -> anyhow::Result<EventStream> {
        let mut call = self.call(call::Type::Subscribe);
        call.subscribe = Some(call::Subscribe {
            unacknowledged_tasks: tasks,
            unacknowledged_updates: self
                .unacked
                .iter()
                .map(|status| call::Update {
                    status: status.clone(),
                })
                .collect(),
        });
        let stream = self.client.subscribe_retrying(&call, &self.env).await?;
        // The SUBSCRIBE carried every unacknowledged update.
        self.resend_at = None;
        self.backoff = RESEND_FIRST;
        Ok(stream)
    }

    /// Keeps `status` until it is acknowledged and sends it (unless earlier updates wait to
    /// be sent again: then it goes after them).
    pub async fn send(&mut self, status: v1::TaskStatus) {
        self.unacked.push(status.clone());
        if self.resend_at.is_none() {
            self.send_one(status).await;
        }
    }

    /// The agent acknowledged the update `uuid`.
    pub fn acknowledged(&mut self, uuid: &[u8]) {
        self.unacked.retain(|s| s.uuid.as_deref() != Some(uuid));
    }

    /// Sends every unacknowledged update again, in order, until one fails.
    pub async fn resend(&mut self) {
        self.resend_at = None;
        for status in self.unacked.clone() {
            if !self.send_one(status).await {
                return;
            }
        }
        self.backoff = RESEND_FIRST;
    }

    /// Sends one UPDATE. On a transient failure it stays unacknowledged and is sent again
    /// after a backoff (or with the next SUBSCRIBE, whichever comes first): a restarted agent
    /// answers 503 until its recovery is over, after this executor has already resubscribed.
    async fn send_one(&mut self, status: v1::TaskStatus) -> bool {
        let mut call = self.call(call::Type::Update);
        call.update = Some(call::Update { status });
        match self.client.send(&call).await {
            Ok(()) => true,
            Err(error) if error.is_transient() => {
                tracing::info!(%error, "sending update failed; will send it again");
                self.resend_at = Some(Instant::now() + self.backoff);
                self.backoff = (self.backoff * 2).min(self.env.backoff_max.max(RESEND_FIRST));
                false
            }
            Err(error) => {
                // The agent refused it for good (a malformed or illegal update): resending
                // cannot help.
                tracing::warn!(%error, "update refused");
                true
            }
        }
    }
}

/// A new update of `task_id` from executor `executor_id`, built on `previous` (so `healthy`
/// and `check_status` carry over), with a fresh uuid and timestamp.
pub(crate) fn status(
    task_id: &v1::TaskId,
    executor_id: &str,
    previous: Option<&v1::TaskStatus>,
    state: v1::TaskState,
    reason: Option<v1::task_status::Reason>,
    message: Option<String>,
) -> v1::TaskStatus {
    let previous = previous.cloned().unwrap_or_default();
    v1::TaskStatus {
        task_id: task_id.clone(),
        state: state as i32,
        message,
        source: Some(v1::task_status::Source::Executor as i32),
        reason: reason.map(|r| r as i32),
        executor_id: Some(v1::ExecutorId {
            value: executor_id.to_owned(),
        }),
        timestamp: Some(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or_default(),
        ),
        uuid: Some(uuid::Uuid::new_v4().as_bytes().to_vec()),
        healthy: previous.healthy,
        check_status: previous.check_status,
        ..Default::default()
    }
}
