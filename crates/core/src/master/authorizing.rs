//! Accepts waiting for their authorization: the offers are used up and their resources stay
//! held for the framework, and the launches and operations run when the answer comes back
//! as a later input, after whatever the master had queued before it.
//!
//! Mesos asked its authorizer for every LAUNCH, LAUNCH_GROUP and offer operation of an
//! ACCEPT and went on with other messages until every answer was in (`Master::accept`, then
//! `Master::_accept`). An agent could disconnect or be removed in between, and its tasks were
//! then answered TASK_DROPPED (partition-aware) or TASK_LOST with REASON_SLAVE_DISCONNECTED or
//! REASON_SLAVE_REMOVED (seed 1's L90, L96, L122, L123); a KILL of a task still being
//! authorized was TASK_KILLED with REASON_TASK_KILLED_DURING_LAUNCH, and reconciliation
//! answered TASK_STAGING for it. Drover decides its ACLs in the core, but with ACLs configured
//! the decision is taken in the same later step, [`Effect::Authorize`] then
//! [`Input::Authorized`](super::Input::Authorized), so the same interleavings exist and are
//! answered as Mesos answered them. Without ACLs there is nothing to wait for and an ACCEPT
//! is carried out in its own step.

use std::collections::{BTreeMap, BTreeSet};

use drover_wire::v1;
use drover_wire::v1::scheduler;

use super::{Effect, Master, seconds};
use crate::task::TaskState;
use crate::task::emission::{Trigger, emission};

/// An ACCEPT whose offers were valid, waiting for its authorization.
#[derive(Debug, Clone)]
pub struct PendingAccept {
    pub(super) framework_id: String,
    pub(super) agent_id: String,
    pub(super) role: String,
    /// What the used offers held; held in the ledger for the framework until the answer.
    pub(super) offered: Vec<v1::Resource>,
    pub(super) accept: scheduler::call::Accept,
    /// Tasks killed while waiting: they are not launched.
    pub(super) killed: BTreeSet<String>,
}

impl PendingAccept {
    /// Every task the accept would launch, with the group's executor for a group member.
    pub(super) fn tasks(&self) -> impl Iterator<Item = (&v1::TaskInfo, Option<&v1::ExecutorInfo>)> {
        self.accept.operations.iter().flat_map(|op| {
            let launched = op
                .launch
                .iter()
                .flat_map(|l| l.task_infos.iter().map(|t| (t, t.executor.as_ref())));
            let grouped = op.launch_group.iter().flat_map(|g| {
                g.task_group
                    .tasks
                    .iter()
                    .map(move |t| (t, Some(&g.executor)))
            });
            launched.chain(grouped)
        })
    }
}

/// The accepts waiting for an answer, by ticket.
#[derive(Debug, Clone, Default)]
pub struct Authorizing {
    pending: BTreeMap<u64, PendingAccept>,
    next_ticket: u64,
}

impl Authorizing {
    /// The accepts still waiting.
    pub fn pending(&self) -> impl Iterator<Item = &PendingAccept> {
        self.pending.values()
    }
}

impl Master {
    /// Whether launches and offer operations wait for an authorization step (ACLs are
    /// configured).
    pub(super) fn authorizes(&self) -> bool {
        self.config.run_tasks.is_some() || self.config.operation_acls.is_some()
    }

    /// Parks an accept until [`Input::Authorized`](super::Input::Authorized): its resources
    /// stay held for the framework (nothing else may be offered them meanwhile, as Mesos'
    /// allocator kept them allocated), and the driver is asked for the answer.
    pub(super) fn await_authorization(&mut self, pending: PendingAccept, out: &mut Vec<Effect>) {
        self.ledger
            .hold_offer(&pending.agent_id, &pending.framework_id, &pending.offered);
        self.authorizing.next_ticket += 1;
        let ticket = self.authorizing.next_ticket;
        self.authorizing.pending.insert(ticket, pending);
        out.push(Effect::Authorize { ticket });
    }

    /// The answer for `ticket` is in: the accept goes on as if it had just arrived, against
    /// the master as it is now (a framework that left has nothing launched; an agent that
    /// left or disconnected has every task dropped or lost).
    pub(super) fn authorized(&mut self, now_ms: u64, ticket: u64, out: &mut Vec<Effect>) {
        let Some(pending) = self.authorizing.pending.remove(&ticket) else {
            return;
        };
        self.ledger
            .release_offer(&pending.agent_id, &pending.framework_id, &pending.offered);
        self.allocation_dirty = true;
        if !self.frameworks.contains_key(&pending.framework_id) {
            return;
        }
        self.carry_out_accept(now_ms, pending, out);
    }

    /// A KILL of a task still waiting for its authorization: it will not be launched, and is
    /// TASK_KILLED at once (REASON_TASK_KILLED_DURING_LAUNCH). Returns whether it was one.
    pub(super) fn kill_pending(
        &mut self,
        now_ms: u64,
        framework_id: &str,
        task_id: &str,
        out: &mut Vec<Effect>,
    ) -> bool {
        let Some(task) = self.authorizing.pending.values_mut().find_map(|p| {
            if p.framework_id != framework_id || p.killed.contains(task_id) {
                return None;
            }
            let (task, _) = p.tasks().find(|(t, _)| t.task_id.value == task_id)?;
            let task = task.clone();
            p.killed.insert(task_id.to_owned());
            Some(task)
        }) else {
            return false;
        };
        self.never_launched(
            now_ms,
            framework_id,
            &task,
            Trigger::KilledBeforeAgent,
            None,
            out,
        );
        true
    }

    /// Reconciliation's answer for a task still waiting for its authorization: TASK_STAGING,
    /// as Mesos answered for its pending tasks.
    pub(super) fn pending_task_answer(
        &self,
        framework_id: &str,
        task_id: Option<&str>,
        pa: bool,
        now_ms: u64,
    ) -> Vec<v1::TaskStatus> {
        self.authorizing
            .pending
            .values()
            .filter(|p| p.framework_id == framework_id)
            .flat_map(|p| {
                p.tasks()
                    .filter(|(t, _)| !p.killed.contains(&t.task_id.value))
            })
            .filter(|(t, _)| task_id.is_none_or(|id| t.task_id.value == id))
            .map(|(t, executor)| {
                let mut status = emission(Trigger::ReconcileKnownTask).status(
                    &t.task_id.value,
                    pa,
                    TaskState::TaskStaging,
                    None,
                );
                status.agent_id = Some(t.agent_id.clone());
                status.executor_id = executor.map(|e| e.executor_id.clone());
                status.timestamp = Some(seconds(now_ms));
                status
            })
            .collect()
    }

    /// The accepts waiting for an answer.
    pub fn authorizing(&self) -> &Authorizing {
        &self.authorizing
    }
}
