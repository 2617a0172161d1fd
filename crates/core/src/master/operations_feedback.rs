//! Operation feedback for RESERVE, UNRESERVE, CREATE and DESTROY on an agent's own resources
//! (Mesos 1.7+'s AGENT_OPERATION_FEEDBACK): an operation a framework gave an `id` is answered
//! with UPDATE_OPERATION_STATUS, OPERATION_FINISHED with a status `uuid` once it is applied,
//! resent with backoff until ACKNOWLEDGE_OPERATION_STATUS names that uuid, and answered by
//! RECONCILE_OPERATIONS and the operator's GET_OPERATIONS until then.
//!
//! In Mesos the agent applied the operation and generated the status; in Drover the master
//! applies it to the agent's total and checkpoints it on the agent itself (`reservations`), so
//! the master generates the status too. The operation record is persisted in the registry in
//! the same batch as the agent's new total, before the status leaves, so an OPERATION_FINISHED
//! that was sent is never lost by a master restart while unacknowledged. Mesos' speculative
//! operations on default resources carry no `converted_resources`, and neither do these.

use std::collections::{BTreeMap, BTreeSet};

use drover_wire::v1;
use drover_wire::v1::master as operator;
use drover_wire::v1::scheduler;

use super::registry::RegistryOp;
use super::{AgentStatus, Effect, Master, scheduler_event};

/// First resend of an unacknowledged status, as Mesos' status-update retry
/// (`STATUS_UPDATE_RETRY_INTERVAL_MIN`).
pub const RETRY_MIN_MS: u64 = 10_000;
/// The backoff doubles up to this (`STATUS_UPDATE_RETRY_INTERVAL_MAX`, 10 minutes).
pub const RETRY_MAX_MS: u64 = 600_000;

/// At most this many operations of one framework are tracked unacknowledged: each is a
/// registry record and a resend timer, so a framework that never acknowledges (or reuses no
/// id) must not grow them without end. Mesos had no bound; one more is refused with
/// OPERATION_ERROR until the framework acknowledges some.
pub const MAX_PENDING_PER_FRAMEWORK: usize = 1_000;

/// An operation is named by its framework and the framework's operation id (the id is unique
/// only within a framework).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct OpKey {
    /// The framework that asked for the operation.
    pub framework_id: String,
    /// The framework's `OperationID`.
    pub operation_id: String,
}

impl OpKey {
    /// The key of a stored operation (empty parts if the record lacks them).
    fn of(operation: &v1::Operation) -> OpKey {
        OpKey {
            framework_id: operation
                .framework_id
                .as_ref()
                .map(|f| f.value.clone())
                .unwrap_or_default(),
            operation_id: operation
                .info
                .id
                .as_ref()
                .map(|i| i.value.clone())
                .unwrap_or_default(),
        }
    }
}

/// One operation the master tracks until its terminal status is acknowledged.
#[derive(Debug, Clone)]
pub struct Tracked {
    /// Mesos' view: info, latest status, statuses, uuid.
    pub operation: v1::Operation,
    /// When the unacknowledged status is sent again; `None` while the framework is not
    /// connected (it is resent when the framework resubscribes).
    pub retry_at_ms: Option<u64>,
    /// The interval after the next resend.
    pub backoff_ms: u64,
}

/// The tracked operations, with their resend times in time order.
#[derive(Debug, Clone, Default)]
pub struct Feedback {
    ops: BTreeMap<OpKey, Tracked>,
    retries: BTreeSet<(u64, OpKey)>,
    /// Mixed into each generated uuid, so two in the same millisecond differ.
    seq: u64,
}

impl Feedback {
    /// The tracked operations, by framework and operation id.
    pub fn operations(&self) -> &BTreeMap<OpKey, Tracked> {
        &self.ops
    }

    /// The earliest resend, if any.
    pub fn next_retry_ms(&self) -> Option<u64> {
        self.retries.first().map(|(at, _)| *at)
    }

    fn set_retry(&mut self, key: &OpKey, at: Option<u64>) {
        let Some(tracked) = self.ops.get_mut(key) else {
            return;
        };
        if let Some(old) = tracked.retry_at_ms.take() {
            self.retries.remove(&(old, key.clone()));
        }
        tracked.retry_at_ms = at;
        if let Some(at) = at {
            self.retries.insert((at, key.clone()));
        }
    }

    fn remove(&mut self, key: &OpKey) -> Option<Tracked> {
        self.set_retry(key, None);
        self.ops.remove(key)
    }

    fn keys_of(&self, framework_id: &str) -> Vec<OpKey> {
        self.of_framework(framework_id)
            .map(|(k, _)| k.clone())
            .collect()
    }

    fn of_framework<'a>(
        &'a self,
        framework_id: &'a str,
    ) -> impl Iterator<Item = (&'a OpKey, &'a Tracked)> + 'a {
        let from = OpKey {
            framework_id: framework_id.to_owned(),
            operation_id: String::new(),
        };
        self.ops
            .range(from..)
            .take_while(move |(k, _)| k.framework_id == framework_id)
    }

    /// A uuid for a status or an operation. The core draws no randomness, so it is derived
    /// from the time, a sequence and the names involved; the time keeps uuids apart across
    /// restarts (the sequence starts again), the sequence within one millisecond. Formatted
    /// as a version-4 uuid so clients that parse it accept it.
    fn uuid(&mut self, now_ms: u64, parts: &[&str]) -> [u8; 16] {
        self.seq += 1;
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for part in parts {
            for b in part.bytes().chain(std::iter::once(0)) {
                h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        let low = splitmix(h ^ splitmix(self.seq));
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&splitmix(now_ms ^ low.rotate_left(17)).to_be_bytes());
        out[8..].copy_from_slice(&low.to_be_bytes());
        // Keep the time visible and unique: the first six bytes are the milliseconds.
        out[..6].copy_from_slice(&now_ms.to_be_bytes()[2..]);
        out[6] = (out[6] & 0x0f) | 0x40;
        out[8] = (out[8] & 0x3f) | 0x80;
        out
    }
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The registry's key of an operation: its uuid in hex.
pub fn uuid_key(operation: &v1::Operation) -> String {
    hex(&operation.uuid.value)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn status(
    state: v1::OperationState,
    operation_id: &v1::OperationId,
    message: Option<String>,
    agent_id: Option<&str>,
) -> v1::OperationStatus {
    v1::OperationStatus {
        operation_id: Some(operation_id.clone()),
        state: state as i32,
        message,
        agent_id: agent_id.map(|a| v1::AgentId { value: a.into() }),
        ..Default::default()
    }
}

fn update_event(status: v1::OperationStatus) -> scheduler::Event {
    let mut event = scheduler_event(scheduler::event::Type::UpdateOperationStatus);
    event.update_operation_status = Some(scheduler::event::UpdateOperationStatus { status });
    event
}

impl Master {
    /// Rebuilds the tracked operations from the registry after a restart. No framework is
    /// connected yet: each status is resent when its framework resubscribes.
    pub(super) fn restore_operations(&mut self) {
        for operation in self.registry.operations.values() {
            let key = OpKey::of(operation);
            self.feedback.ops.insert(
                key,
                Tracked {
                    operation: operation.clone(),
                    retry_at_ms: None,
                    backoff_ms: RETRY_MIN_MS,
                },
            );
        }
    }

    /// The operations tracked for feedback (for views and tests).
    pub fn operation_feedback(&self) -> &Feedback {
        &self.feedback
    }

    /// Checks an operation with an `id` before it is applied: the id must not name an
    /// operation the framework already has pending, and (as Mesos' single-resource-provider
    /// rule) its resources must all be the agent's own — Drover has no resource providers.
    pub(super) fn check_feedback(
        &self,
        framework_id: &str,
        op: &v1::offer::Operation,
    ) -> Result<(), String> {
        let Some(id) = &op.id else {
            return Ok(());
        };
        let key = OpKey {
            framework_id: framework_id.to_owned(),
            operation_id: id.value.clone(),
        };
        if self.feedback.ops.contains_key(&key) {
            return Err(format!(
                "An operation with ID '{}' is already pending for this framework",
                id.value
            ));
        }
        if self.feedback.of_framework(framework_id).count() >= MAX_PENDING_PER_FRAMEWORK {
            return Err(format!(
                "The framework has {MAX_PENDING_PER_FRAMEWORK} operations whose statuses are \
                 not acknowledged; acknowledge some before asking for feedback on more"
            ));
        }
        let resources = crate::operations::Operation::from_offer_operation(op)?
            .map(|o| o.resources().to_vec())
            .unwrap_or_default();
        if resources.iter().any(|r| r.provider_id.is_some()) {
            return Err(
                "Operation feedback is supported only for an agent's own resources; these \
                 name a resource provider, which Drover does not have"
                    .into(),
            );
        }
        Ok(())
    }

    /// An operation with an `id` was applied (its effects already persisted in `out`):
    /// records it as OPERATION_FINISHED with a new status uuid, persists the record, sends
    /// the status and arms its resend.
    pub(super) fn operation_finished(
        &mut self,
        now_ms: u64,
        framework_id: &str,
        agent_id: &str,
        op: &v1::offer::Operation,
        out: &mut Vec<Effect>,
    ) {
        let Some(id) = op.id.clone() else {
            return;
        };
        let status_uuid = self
            .feedback
            .uuid(now_ms, &["status", framework_id, &id.value, agent_id]);
        let op_uuid = self
            .feedback
            .uuid(now_ms, &["operation", framework_id, &id.value, agent_id]);
        let mut finished = status(
            v1::OperationState::OperationFinished,
            &id,
            None,
            Some(agent_id),
        );
        finished.uuid = Some(v1::Uuid {
            value: status_uuid.to_vec(),
        });
        let operation = v1::Operation {
            framework_id: Some(v1::FrameworkId {
                value: framework_id.into(),
            }),
            agent_id: Some(v1::AgentId {
                value: agent_id.into(),
            }),
            info: op.clone(),
            latest_status: finished.clone(),
            statuses: vec![finished.clone()],
            uuid: v1::Uuid {
                value: op_uuid.to_vec(),
            },
        };
        self.persist(RegistryOp::PutOperation(Box::new(operation.clone())), out);
        let key = OpKey {
            framework_id: framework_id.to_owned(),
            operation_id: id.value.clone(),
        };
        self.feedback.ops.insert(
            key.clone(),
            Tracked {
                operation,
                retry_at_ms: None,
                backoff_ms: RETRY_MIN_MS * 2,
            },
        );
        self.send_to_framework(framework_id, update_event(finished), out);
        let connected = self
            .frameworks
            .get(framework_id)
            .is_some_and(|f| f.connected());
        if connected {
            self.feedback.set_retry(&key, Some(now_ms + RETRY_MIN_MS));
        }
    }

    /// OPERATION_ERROR for a refused operation with an `id` (no uuid: it is not sent
    /// reliably, and the master forgets the operation).
    pub(super) fn operation_error(
        &mut self,
        framework_id: &str,
        agent_id: Option<&str>,
        op: &v1::offer::Operation,
        message: &str,
        out: &mut Vec<Effect>,
    ) {
        let Some(id) = &op.id else {
            return;
        };
        use v1::offer::operation::Type as OpType;
        let kind = op.r#type.and_then(|t| OpType::try_from(t).ok());
        if matches!(kind, Some(OpType::Launch | OpType::LaunchGroup)) {
            // Launches have no operation feedback; their tasks are answered instead.
            return;
        }
        let error = status(
            v1::OperationState::OperationError,
            id,
            Some(message.to_owned()),
            agent_id,
        );
        self.send_to_framework(framework_id, update_event(error), out);
    }

    /// Resends the due unacknowledged statuses, doubling each one's interval up to
    /// [`RETRY_MAX_MS`]. A framework that is not connected gets them when it resubscribes.
    pub(super) fn retry_operations(&mut self, now_ms: u64, out: &mut Vec<Effect>) {
        while let Some((at, key)) = self.feedback.retries.first().cloned() {
            if at > now_ms {
                break;
            }
            let connected = self
                .frameworks
                .get(&key.framework_id)
                .is_some_and(|f| f.connected());
            let Some(tracked) = self.feedback.ops.get_mut(&key) else {
                self.feedback.retries.pop_first();
                continue;
            };
            if !connected {
                self.feedback.set_retry(&key, None);
                continue;
            }
            let backoff = tracked.backoff_ms;
            tracked.backoff_ms = (backoff * 2).min(RETRY_MAX_MS);
            let latest = tracked.operation.latest_status.clone();
            self.feedback.set_retry(&key, Some(now_ms + backoff));
            self.send_to_framework(&key.framework_id, update_event(latest), out);
        }
    }

    /// After a (re)subscription: every unacknowledged status of the framework is sent again
    /// at once, and its backoff starts again.
    pub(super) fn resend_operations(
        &mut self,
        now_ms: u64,
        framework_id: &str,
        out: &mut Vec<Effect>,
    ) {
        for key in self.feedback.keys_of(framework_id) {
            let Some(tracked) = self.feedback.ops.get_mut(&key) else {
                continue;
            };
            tracked.backoff_ms = RETRY_MIN_MS * 2;
            let latest = tracked.operation.latest_status.clone();
            self.feedback.set_retry(&key, Some(now_ms + RETRY_MIN_MS));
            self.send_to_framework(framework_id, update_event(latest), out);
        }
    }

    /// ACKNOWLEDGE_OPERATION_STATUS (its shape already checked: a 16-byte uuid and an
    /// agent id). As in Mesos, an acknowledgement the master cannot match is logged and
    /// otherwise ignored (the call was well formed, so it is still answered 202). Unlike
    /// Mesos the agent need not be connected: the master, not the agent, holds the status.
    pub(super) fn acknowledge_operation(
        &mut self,
        framework_id: &str,
        ack: scheduler::call::AcknowledgeOperationStatus,
        out: &mut Vec<Effect>,
    ) {
        let agent_id = ack.agent_id.map(|a| a.value).unwrap_or_default();
        let key = OpKey {
            framework_id: framework_id.to_owned(),
            operation_id: ack.operation_id.value.clone(),
        };
        let ignore = |why: &str, out: &mut Vec<Effect>| {
            out.push(Effect::Warn(format!(
                "Ignoring the acknowledgement of status {} of operation '{}' of framework \
                 {framework_id} on agent {agent_id}: {why}",
                hex(&ack.uuid),
                ack.operation_id.value
            )));
        };
        let Some(tracked) = self.feedback.ops.get(&key) else {
            ignore("the operation is unknown", out);
            return;
        };
        let on_agent = tracked
            .operation
            .agent_id
            .as_ref()
            .map(|a| a.value.as_str());
        if on_agent != Some(agent_id.as_str()) {
            ignore(
                &format!("the operation is on agent {}", on_agent.unwrap_or("(none)")),
                out,
            );
            return;
        }
        let Some(acked) = tracked
            .operation
            .statuses
            .iter()
            .find(|s| s.uuid.as_ref().is_some_and(|u| u.value == ack.uuid))
        else {
            ignore("the operation has no status with this uuid", out);
            return;
        };
        // Every status the master generates for these operations is terminal; a terminal
        // one acknowledged ends the operation.
        if is_terminal(acked.state) {
            let Some(removed) = self.feedback.remove(&key) else {
                return;
            };
            self.persist(
                RegistryOp::RemoveOperation {
                    uuid: uuid_key(&removed.operation),
                },
                out,
            );
        }
    }

    /// RECONCILE_OPERATIONS: the latest status (without uuid) of each listed operation, or of
    /// every tracked one when none is listed; an unknown one by what is known of its agent,
    /// as Mesos' master answered.
    pub(super) fn reconcile_operations(
        &mut self,
        framework_id: &str,
        reconcile: scheduler::call::ReconcileOperations,
        out: &mut Vec<Effect>,
    ) {
        let mut answers = Vec::new();
        if reconcile.operations.is_empty() {
            for key in self.feedback.keys_of(framework_id) {
                if let Some(tracked) = self.feedback.ops.get(&key) {
                    answers.push(tracked.operation.latest_status.clone());
                }
            }
        }
        for asked in reconcile.operations {
            let key = OpKey {
                framework_id: framework_id.to_owned(),
                operation_id: asked.operation_id.value.clone(),
            };
            if let Some(tracked) = self.feedback.ops.get(&key) {
                answers.push(tracked.operation.latest_status.clone());
                continue;
            }
            let agent = asked.agent_id.as_ref().map(|a| a.value.as_str());
            let (state, message) = self.unknown_operation_state(agent);
            let mut answer = status(state, &asked.operation_id, Some(message.into()), agent);
            answer.resource_provider_id = asked.resource_provider_id;
            answers.push(answer);
        }
        for mut answer in answers {
            // Reconciliation is not reliable: no uuid, nothing to acknowledge.
            answer.uuid = None;
            self.send_to_framework(framework_id, update_event(answer), out);
        }
    }

    /// The state of an operation the master does not know, from its agent's standing.
    fn unknown_operation_state(&self, agent_id: Option<&str>) -> (v1::OperationState, &str) {
        use v1::OperationState as S;
        let Some(agent_id) = agent_id else {
            return (
                S::OperationUnknown,
                "Reconciliation: Operation is unknown and no 'agent_id' was provided",
            );
        };
        match self.agents.get(agent_id).map(|a| a.status) {
            Some(AgentStatus::Recovered) => (
                S::OperationRecovering,
                "Reconciliation: Agent is recovered but has not re-registered",
            ),
            Some(_) => (S::OperationUnknown, "Reconciliation: Operation is unknown"),
            None if self.registry.unreachable.contains_key(agent_id) => (
                S::OperationUnreachable,
                "Reconciliation: Agent is unreachable",
            ),
            None if self.registry.gone.contains_key(agent_id) => (
                S::OperationGoneByOperator,
                "Reconciliation: Agent marked gone by operator",
            ),
            None => (
                S::OperationUnknown,
                "Reconciliation: Both operation and agent are unknown",
            ),
        }
    }

    /// The framework is removed: its operations are forgotten (nobody is left to
    /// acknowledge them).
    pub(super) fn forget_framework_operations(
        &mut self,
        framework_id: &str,
        out: &mut Vec<Effect>,
    ) {
        for key in self.feedback.keys_of(framework_id) {
            if let Some(removed) = self.feedback.remove(&key) {
                self.persist(
                    RegistryOp::RemoveOperation {
                        uuid: uuid_key(&removed.operation),
                    },
                    out,
                );
            }
        }
    }

    /// The agent left (unreachable, gone or removed): its operations leave with it, as in
    /// Mesos; with `state`, each connected framework is told first (not reliably: no uuid),
    /// and reconciliation answers from the agent's standing afterwards.
    pub(super) fn forget_agent_operations(
        &mut self,
        agent_id: &str,
        state: Option<(v1::OperationState, &str)>,
        out: &mut Vec<Effect>,
    ) {
        let keys: Vec<OpKey> = self
            .feedback
            .ops
            .iter()
            .filter(|(_, t)| {
                t.operation.agent_id.as_ref().map(|a| a.value.as_str()) == Some(agent_id)
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in keys {
            let Some(removed) = self.feedback.remove(&key) else {
                continue;
            };
            self.persist(
                RegistryOp::RemoveOperation {
                    uuid: uuid_key(&removed.operation),
                },
                out,
            );
            if let (Some((state, message)), Some(id)) = (state, &removed.operation.info.id) {
                let update = status(state, id, Some(message.into()), Some(agent_id));
                self.send_to_framework(&key.framework_id, update_event(update), out);
            }
        }
    }

    /// GET_OPERATIONS: every operation the master tracks.
    pub fn get_operations(&self) -> operator::response::GetOperations {
        operator::response::GetOperations {
            operations: self
                .feedback
                .ops
                .values()
                .map(|t| t.operation.clone())
                .collect(),
        }
    }

    /// Checks the resend index against the operations (for the invariant check).
    pub(super) fn check_operation_retries(&self) -> Result<(), String> {
        for (key, tracked) in &self.feedback.ops {
            if let Some(at) = tracked.retry_at_ms
                && !self.feedback.retries.contains(&(at, key.clone()))
            {
                return Err(format!("operation {key:?}'s resend at {at} is not indexed"));
            }
        }
        if self.feedback.retries.len()
            != self
                .feedback
                .ops
                .values()
                .filter(|t| t.retry_at_ms.is_some())
                .count()
        {
            return Err("the operation resend index holds stale entries".into());
        }
        for (uuid, operation) in &self.registry.operations {
            let key = OpKey::of(operation);
            if !self.feedback.ops.contains_key(&key) {
                return Err(format!("persisted operation {uuid} is not tracked"));
            }
        }
        if self.registry.operations.len() != self.feedback.ops.len() {
            return Err("a tracked operation is not persisted".into());
        }
        Ok(())
    }
}

fn is_terminal(state: i32) -> bool {
    use v1::OperationState as S;
    matches!(
        S::try_from(state),
        Ok(S::OperationFinished
            | S::OperationFailed
            | S::OperationError
            | S::OperationDropped
            | S::OperationGoneByOperator)
    )
}
