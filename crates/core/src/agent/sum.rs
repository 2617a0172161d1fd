//! The task status update manager (Mesos' `TaskStatusUpdateManager`): one stream per task, the
//! head of each stream in flight to the master, retried 10 s, 20 s, … up to 10 min until the
//! framework's acknowledgement comes back, deduplicated by uuid.
//!
//! It only orders and times; the agent decides what to checkpoint and what to send.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use drover_wire::v1;

use super::ids::{FrameworkId, TaskId};
use crate::task::TaskState;
use crate::task::state::is_terminal;

/// First retry interval of an unacknowledged update (`STATUS_UPDATE_RETRY_INTERVAL_MIN`).
pub const RETRY_MIN_MS: u64 = 10_000;
/// Largest retry interval (`STATUS_UPDATE_RETRY_INTERVAL_MAX`).
pub const RETRY_MAX_MS: u64 = 600_000;

/// One update waiting for its acknowledgement.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    /// Position in the stream; names the checkpoint record.
    pub seq: u64,
    /// The update (carries its uuid).
    pub status: v1::TaskStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct InFlight {
    retry_at_ms: u64,
    interval_ms: u64,
}

/// The updates of one task.
#[derive(Debug, Clone, Default)]
pub struct Stream {
    pending: VecDeque<Pending>,
    received: BTreeSet<Vec<u8>>,
    acknowledged: BTreeSet<Vec<u8>>,
    in_flight: Option<InFlight>,
    next_seq: u64,
}

impl Stream {
    /// Updates not yet acknowledged, oldest first.
    pub fn pending(&self) -> impl Iterator<Item = &Pending> {
        self.pending.iter()
    }

    /// The uuids acknowledged so far.
    pub fn acknowledged(&self) -> &BTreeSet<Vec<u8>> {
        &self.acknowledged
    }
}

/// What [`StatusUpdateManager::update`] did with an update.
#[derive(Debug, Clone, PartialEq)]
pub enum Accepted {
    /// Seen before (pending or acknowledged): nothing to do but acknowledge it to its sender.
    Duplicate,
    /// Queued under `seq`; `send` says whether it became the head in flight right away.
    Queued { seq: u64, send: bool },
}

/// What [`StatusUpdateManager::acknowledge`] did with an acknowledgement.
// Moved once per acknowledgement; boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Acked {
    /// No stream for the task, or the uuid is not the head's (late or duplicate ACK).
    Ignored,
    /// The head was acknowledged and popped.
    Popped {
        /// Checkpoint record of the popped update.
        seq: u64,
        /// The popped update was terminal: the task's stream is complete once drained.
        terminal: bool,
        /// The next head, now in flight.
        next: Option<v1::TaskStatus>,
    },
}

/// All streams of the agent.
#[derive(Debug, Clone, Default)]
pub struct StatusUpdateManager {
    streams: BTreeMap<(FrameworkId, TaskId), Stream>,
    /// While the agent is not registered with a master nothing is sent; heads are resent on
    /// (re)registration.
    paused: bool,
}

fn uuid_of(status: &v1::TaskStatus) -> Vec<u8> {
    status.uuid.clone().unwrap_or_default()
}

impl StatusUpdateManager {
    /// A manager that starts paused (the agent is not registered yet).
    pub fn new() -> Self {
        Self {
            streams: BTreeMap::new(),
            paused: true,
        }
    }

    /// Whether sending is paused.
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// The stream of a task, if any.
    pub fn stream(&self, framework_id: &FrameworkId, task_id: &TaskId) -> Option<&Stream> {
        self.streams.get(&(framework_id.clone(), task_id.clone()))
    }

    /// Every stream.
    pub fn streams(&self) -> impl Iterator<Item = (&(FrameworkId, TaskId), &Stream)> {
        self.streams.iter()
    }

    /// Accepts an update into its task's stream (the update must carry a uuid).
    pub fn update(
        &mut self,
        now_ms: u64,
        framework_id: &FrameworkId,
        status: v1::TaskStatus,
    ) -> Accepted {
        let task_id = TaskId(status.task_id.value.clone());
        let paused = self.paused;
        let stream = self
            .streams
            .entry((framework_id.clone(), task_id))
            .or_default();
        let uuid = uuid_of(&status);
        if stream.received.contains(&uuid) || stream.acknowledged.contains(&uuid) {
            return Accepted::Duplicate;
        }
        stream.received.insert(uuid);
        let seq = stream.next_seq;
        stream.next_seq += 1;
        stream.pending.push_back(Pending { seq, status });
        let send = !paused && stream.in_flight.is_none();
        if send {
            stream.in_flight = Some(InFlight {
                retry_at_ms: now_ms + RETRY_MIN_MS,
                interval_ms: RETRY_MIN_MS,
            });
        }
        Accepted::Queued { seq, send }
    }

    /// Restores a stream from checkpoints after an agent restart (nothing is in flight).
    pub fn restore(
        &mut self,
        framework_id: &FrameworkId,
        task_id: &TaskId,
        pending: Vec<Pending>,
        acknowledged: BTreeSet<Vec<u8>>,
    ) {
        let stream = self
            .streams
            .entry((framework_id.clone(), task_id.clone()))
            .or_default();
        for p in pending {
            stream.received.insert(uuid_of(&p.status));
            stream.next_seq = stream.next_seq.max(p.seq + 1);
            stream.pending.push_back(p);
        }
        stream.acknowledged.extend(acknowledged);
    }

    /// The framework acknowledged `uuid`: pops the head if it matches.
    pub fn acknowledge(
        &mut self,
        now_ms: u64,
        framework_id: &FrameworkId,
        task_id: &TaskId,
        uuid: &[u8],
    ) -> Acked {
        let paused = self.paused;
        let Some(stream) = self
            .streams
            .get_mut(&(framework_id.clone(), task_id.clone()))
        else {
            return Acked::Ignored;
        };
        match stream.pending.front() {
            Some(head) if head.status.uuid.as_deref() == Some(uuid) => {}
            _ => return Acked::Ignored,
        }
        let head = stream.pending.pop_front().expect("front checked above");
        stream.received.remove(uuid);
        stream.acknowledged.insert(uuid.to_vec());
        stream.in_flight = None;
        let terminal =
            is_terminal(TaskState::try_from(head.status.state).unwrap_or(TaskState::TaskStaging));
        let next = match stream.pending.front() {
            Some(next) if !paused => {
                stream.in_flight = Some(InFlight {
                    retry_at_ms: now_ms + RETRY_MIN_MS,
                    interval_ms: RETRY_MIN_MS,
                });
                Some(next.status.clone())
            }
            _ => None,
        };
        Acked::Popped {
            seq: head.seq,
            terminal,
            next,
        }
    }

    /// Stops sending (the master link broke); heads are resent by [`resume`](Self::resume).
    pub fn pause(&mut self) {
        self.paused = true;
        for stream in self.streams.values_mut() {
            stream.in_flight = None;
        }
    }

    /// Resumes sending and returns every head, to be sent now (on (re)registration).
    pub fn resume(&mut self, now_ms: u64) -> Vec<(FrameworkId, v1::TaskStatus)> {
        self.paused = false;
        self.resend(now_ms, None)
    }

    /// Every head (of one framework, or all), restarting their retry schedules; sent again at
    /// once when a framework resubscribes (`UPDATE_FRAMEWORK`).
    pub fn resend(
        &mut self,
        now_ms: u64,
        only: Option<&FrameworkId>,
    ) -> Vec<(FrameworkId, v1::TaskStatus)> {
        if self.paused {
            return Vec::new();
        }
        let mut out = Vec::new();
        for ((framework_id, _), stream) in self.streams.iter_mut() {
            if only.is_some_and(|f| f != framework_id) {
                continue;
            }
            if let Some(head) = stream.pending.front() {
                stream.in_flight = Some(InFlight {
                    retry_at_ms: now_ms + RETRY_MIN_MS,
                    interval_ms: RETRY_MIN_MS,
                });
                out.push((framework_id.clone(), head.status.clone()));
            }
        }
        out
    }

    /// Heads whose retry time has come; their intervals double up to [`RETRY_MAX_MS`].
    pub fn due(&mut self, now_ms: u64) -> Vec<(FrameworkId, v1::TaskStatus)> {
        let mut out = Vec::new();
        for ((framework_id, _), stream) in self.streams.iter_mut() {
            let Some(flight) = stream.in_flight.as_mut() else {
                continue;
            };
            if flight.retry_at_ms > now_ms {
                continue;
            }
            flight.interval_ms = (flight.interval_ms * 2).min(RETRY_MAX_MS);
            flight.retry_at_ms = now_ms + flight.interval_ms;
            if let Some(head) = stream.pending.front() {
                out.push((framework_id.clone(), head.status.clone()));
            }
        }
        out
    }

    /// The earliest retry time.
    pub fn next_deadline(&self) -> Option<u64> {
        self.streams
            .values()
            .filter_map(|s| s.in_flight.map(|f| f.retry_at_ms))
            .min()
    }

    /// Forgets a task's stream (the task is gone from the agent). Returns the checkpoint
    /// records that still existed.
    pub fn remove(&mut self, framework_id: &FrameworkId, task_id: &TaskId) -> Vec<u64> {
        self.streams
            .remove(&(framework_id.clone(), task_id.clone()))
            .map(|s| s.pending.iter().map(|p| p.seq).collect())
            .unwrap_or_default()
    }

    /// Whether a task still has unacknowledged updates.
    pub fn has_pending(&self, framework_id: &FrameworkId, task_id: &TaskId) -> bool {
        self.stream(framework_id, task_id)
            .is_some_and(|s| !s.pending.is_empty())
    }

    /// Checks the manager's own invariants: in flight only when not paused and something is
    /// pending; pending uuids are all "received" and none "acknowledged".
    pub fn check_invariants(&self) {
        for (key, stream) in &self.streams {
            if stream.in_flight.is_some() {
                assert!(!self.paused, "stream {key:?} in flight while paused");
                assert!(
                    !stream.pending.is_empty(),
                    "stream {key:?} in flight with nothing pending"
                );
            }
            for p in &stream.pending {
                let uuid = uuid_of(&p.status);
                assert!(
                    stream.received.contains(&uuid),
                    "{key:?}: pending not received"
                );
                assert!(
                    !stream.acknowledged.contains(&uuid),
                    "{key:?}: pending already acknowledged"
                );
                assert!(p.seq < stream.next_seq, "{key:?}: seq beyond next_seq");
            }
        }
    }
}
