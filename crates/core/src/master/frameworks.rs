//! Frameworks: SUBSCRIBE (new, resubscribe, failover of the old stream), the per-call checks
//! every other scheduler call passes first (spec §2.1), disconnection and the failover
//! timer, heartbeats, TEARDOWN and removal.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use drover_wire::internal::agent_event::Type as AgentEventType;
use drover_wire::v1;
use drover_wire::v1::master::event::Type as OperatorEventType;
use drover_wire::v1::scheduler;
use drover_wire::v1::scheduler::call::Type as CallType;
use drover_wire::v1::scheduler::event::Type as EventType;

use super::timers::Timer;
use super::validation::{self, CALL_INVALID_PREFIX};
use super::{
    Conn, Effect, Framework, Master, RegistryOp, Reply, agent_event, operator_event,
    scheduler_event,
};
use crate::task::emission::Trigger;
use crate::task::state::{is_terminal, releases_resources};

impl Framework {
    /// A framework known from the registry (or an agent), not yet resubscribed.
    pub fn recovered(info: v1::FrameworkInfo) -> Framework {
        let partition_aware =
            super::has_capability(&info, v1::framework_info::capability::Type::PartitionAware);
        Framework {
            info,
            partition_aware,
            conn: None,
            stream_id: None,
            recovered: true,
            registered_time_ms: None,
            reregistered_time_ms: None,
            unregistered_time_ms: None,
            failover_deadline_ms: None,
            next_heartbeat_ms: None,
            suppressed_roles: BTreeSet::new(),
            tasks: BTreeMap::new(),
            unreachable_tasks: BTreeMap::new(),
            completed_tasks: VecDeque::new(),
        }
    }
}

impl Master {
    pub(super) fn subscribe(
        &mut self,
        now_ms: u64,
        conn: Conn,
        stream_id: String,
        call: scheduler::Call,
        out: &mut Vec<Effect>,
    ) {
        match validation::validate_call(&call) {
            Ok(CallType::Subscribe) => {}
            Ok(_) => {
                let reply = Reply::error(400, "Expecting a SUBSCRIBE call");
                out.push(Effect::Reply { req: conn, reply });
                return;
            }
            Err(e) => {
                let reply = Reply::error(400, format!("{CALL_INVALID_PREFIX}{e}"));
                out.push(Effect::Reply { req: conn, reply });
                return;
            }
        }
        let Some(subscribe) = call.subscribe else {
            return;
        };
        let mut info = subscribe.framework_info;
        // From here on the HTTP answer is a stream; refusals are an ERROR event on it.
        out.push(Effect::Reply {
            req: conn,
            reply: Reply::Stream,
        });
        let refuse = |message: String, out: &mut Vec<Effect>| {
            let mut event = scheduler_event(EventType::Error);
            event.error = Some(scheduler::event::Error { message });
            out.push(Effect::ToScheduler {
                conn,
                event: Box::new(event),
            });
            out.push(Effect::CloseScheduler { conn });
        };
        if let Err(e) = validation::validate_framework_info(&info) {
            refuse(e, out);
            return;
        }
        for role in &subscribe.suppressed_roles {
            if !super::framework_roles(&info).contains(role) {
                refuse(
                    format!("Suppressed role '{role}' is not contained in the list of roles"),
                    out,
                );
                return;
            }
        }
        let id = match info.id.as_ref().map(|i| i.value.clone()) {
            Some(id) => {
                if self.registry.removed_frameworks.contains(&id) {
                    refuse("Framework has been removed".into(), out);
                    return;
                }
                id
            }
            None => {
                let id = format!(
                    "{}-{:04}",
                    self.registry.master_id, self.registry.next_framework
                );
                self.registry.next_framework += 1;
                self.persist_counters(out);
                info.id = Some(v1::FrameworkId { value: id.clone() });
                id
            }
        };
        let existed = self.frameworks.contains_key(&id);
        if let Some(old) = self.frameworks.get(&id) {
            // Immutable fields stay as first given (Mesos keeps them silently).
            info.user = old.info.user.clone();
            info.checkpoint = old.info.checkpoint;
            info.principal = old.info.principal.clone();
            if let Some(old_conn) = old.conn {
                let mut event = scheduler_event(EventType::Error);
                event.error = Some(scheduler::event::Error {
                    message: "Framework failed over".into(),
                });
                out.push(Effect::ToScheduler {
                    conn: old_conn,
                    event: Box::new(event),
                });
                out.push(Effect::CloseScheduler { conn: old_conn });
            }
        }
        // Offers never survive a (re)subscription: take back what the old session held (a
        // new framework holds none, and the scan is O(offers)).
        let stale: Vec<String> = if existed {
            self.offers
                .iter()
                .filter(|(_, o)| o.offer.framework_id.value == id)
                .map(|(oid, _)| oid.clone())
                .collect()
        } else {
            Vec::new()
        };
        for offer_id in stale {
            self.rescind_offer(&offer_id, false, out);
        }
        self.persist(RegistryOp::PutFramework(info.clone()), out);
        let fw = self
            .frameworks
            .entry(id.clone())
            .or_insert_with(|| Framework::recovered(info.clone()));
        fw.partition_aware =
            super::has_capability(&info, v1::framework_info::capability::Type::PartitionAware);
        fw.info = info.clone();
        fw.conn = Some(conn);
        fw.stream_id = Some(stream_id);
        if fw.registered_time_ms.is_none() {
            fw.registered_time_ms = Some(now_ms);
        } else {
            fw.reregistered_time_ms = Some(now_ms);
        }
        fw.recovered = false;
        fw.failover_deadline_ms = None;
        fw.unregistered_time_ms = None;
        fw.suppressed_roles = subscribe.suppressed_roles.iter().cloned().collect();
        fw.next_heartbeat_ms = Some(now_ms + self.config.heartbeat_interval_ms);
        self.arm(
            now_ms + self.config.heartbeat_interval_ms,
            Timer::FrameworkHeartbeat(id.clone()),
        );
        let mut subscribed = scheduler_event(EventType::Subscribed);
        subscribed.subscribed = Some(scheduler::event::Subscribed {
            framework_id: v1::FrameworkId { value: id.clone() },
            heartbeat_interval_seconds: Some(self.config.heartbeat_interval_ms as f64 / 1000.0),
            master_info: Some(self.config.master_info.clone()),
        });
        out.push(Effect::ToScheduler {
            conn,
            event: Box::new(subscribed),
        });
        out.push(Effect::ToScheduler {
            conn,
            event: Box::new(scheduler_event(EventType::Heartbeat)),
        });
        // Agents resend pending updates for a returning framework right away (as Mesos'
        // UpdateFrameworkMessage on re-subscription). A new framework has nothing pending
        // anywhere: telling every agent cost O(agents) per SUBSCRIBE (10,000 agents × 1,000
        // frameworks were 10 million events in G2's set-up).
        let mut update = agent_event(AgentEventType::UpdateFramework);
        update.update_framework = Some(drover_wire::internal::agent_event::UpdateFramework {
            framework_info: info,
        });
        if existed {
            for agent in self.agents.values() {
                if let Some(agent_conn) = agent.conn {
                    out.push(Effect::ToAgent {
                        conn: agent_conn,
                        event: Box::new(update.clone()),
                    });
                }
            }
        }
        let kind = if existed {
            OperatorEventType::FrameworkUpdated
        } else {
            OperatorEventType::FrameworkAdded
        };
        let mut event = operator_event(kind);
        let framework = self.framework_view(&id);
        if existed {
            event.framework_updated =
                framework.map(|framework| v1::master::event::FrameworkUpdated { framework });
        } else {
            event.framework_added =
                framework.map(|framework| v1::master::event::FrameworkAdded { framework });
        }
        out.push(Effect::ToOperators(Box::new(event)));
        // Unacknowledged operation statuses follow SUBSCRIBED, as an agent's pending task
        // updates do.
        self.resend_operations(now_ms, &id, out);
        self.allocation_dirty = true;
    }

    /// Every non-SUBSCRIBE scheduler call: shape, framework, stream id, then the call.
    pub(super) fn scheduler_call(
        &mut self,
        now_ms: u64,
        req: Conn,
        stream_id: Option<String>,
        call: scheduler::Call,
        out: &mut Vec<Effect>,
    ) {
        let reply = match self.check_scheduler_call(&stream_id, &call) {
            Err(reply) => reply,
            Ok((kind, framework_id)) => self.dispatch(now_ms, kind, &framework_id, call, out),
        };
        out.push(Effect::Reply { req, reply });
    }

    fn check_scheduler_call(
        &self,
        stream_id: &Option<String>,
        call: &scheduler::Call,
    ) -> Result<(CallType, String), Reply> {
        let kind = validation::validate_call(call)
            .map_err(|e| Reply::error(400, format!("{CALL_INVALID_PREFIX}{e}")))?;
        match kind {
            CallType::Subscribe => {
                return Err(Reply::error(
                    400,
                    "SUBSCRIBE must be the first call on a new connection",
                ));
            }
            CallType::Unknown => {
                return Err(Reply::error(501, "Received an unexpected 'UNKNOWN' call"));
            }
            _ => {}
        }
        let framework_id = call
            .framework_id
            .as_ref()
            .map(|i| i.value.clone())
            .unwrap_or_default();
        let Some(fw) = self.frameworks.get(&framework_id) else {
            return Err(Reply::error(400, "Framework cannot be found"));
        };
        let (Some(_), Some(current)) = (fw.conn, fw.stream_id.as_ref()) else {
            return Err(Reply::error(403, "Framework is not subscribed"));
        };
        let Some(given) = stream_id else {
            return Err(Reply::error(
                400,
                "All non-subscribe calls should include the 'Mesos-Stream-Id' header",
            ));
        };
        if given != current {
            return Err(Reply::error(
                400,
                format!(
                    "The stream ID '{given}' included in this request didn't match the stream \
                     ID currently associated with framework ID {framework_id}"
                ),
            ));
        }
        Ok((kind, framework_id))
    }

    fn dispatch(
        &mut self,
        now_ms: u64,
        kind: CallType,
        framework_id: &str,
        call: scheduler::Call,
        out: &mut Vec<Effect>,
    ) -> Reply {
        match kind {
            CallType::Teardown => {
                self.remove_framework(now_ms, framework_id, out);
                Reply::Accepted
            }
            CallType::Accept => {
                let accept = call.accept.unwrap_or_default();
                self.accept(now_ms, framework_id, accept, out);
                Reply::Accepted
            }
            CallType::Decline => {
                let decline = call.decline.unwrap_or_default();
                let accept = scheduler::call::Accept {
                    offer_ids: decline.offer_ids,
                    operations: Vec::new(),
                    filters: decline.filters,
                };
                self.accept(now_ms, framework_id, accept, out);
                Reply::Accepted
            }
            CallType::Revive => {
                let roles = call.revive.map(|r| r.roles).unwrap_or_default();
                self.revive(framework_id, &roles);
                Reply::Accepted
            }
            CallType::Suppress => {
                let roles = call.suppress.map(|r| r.roles).unwrap_or_default();
                self.suppress(framework_id, &roles);
                Reply::Accepted
            }
            CallType::Kill => {
                if let Some(kill) = call.kill {
                    self.kill(now_ms, framework_id, kill, out);
                }
                Reply::Accepted
            }
            CallType::Shutdown => {
                if let Some(shutdown) = call.shutdown {
                    self.shutdown_executor(framework_id, shutdown, out);
                }
                Reply::Accepted
            }
            CallType::Acknowledge => {
                if let Some(ack) = call.acknowledge {
                    self.acknowledge(framework_id, ack, out);
                }
                Reply::Accepted
            }
            CallType::Reconcile => {
                let tasks = call.reconcile.map(|r| r.tasks).unwrap_or_default();
                self.reconcile(now_ms, framework_id, &tasks, out);
                Reply::Accepted
            }
            CallType::Message => {
                if let Some(message) = call.message {
                    self.framework_message(framework_id, message, out);
                }
                Reply::Accepted
            }
            CallType::UpdateFramework => {
                let Some(update) = call.update_framework else {
                    return Reply::error(400, "Expecting 'update_framework' to be present");
                };
                self.update_framework(framework_id, update, out)
            }
            CallType::AcceptInverseOffers | CallType::DeclineInverseOffers => {
                let accept = kind == CallType::AcceptInverseOffers;
                let ids = if accept {
                    call.accept_inverse_offers.map(|a| a.inverse_offer_ids)
                } else {
                    call.decline_inverse_offers.map(|d| d.inverse_offer_ids)
                };
                self.answer_inverse_offers(now_ms, framework_id, &ids.unwrap_or_default(), accept);
                Reply::Accepted
            }
            CallType::AcknowledgeOperationStatus => {
                if let Some(ack) = call.acknowledge_operation_status {
                    self.acknowledge_operation(framework_id, ack, out);
                }
                Reply::Accepted
            }
            CallType::ReconcileOperations => {
                let reconcile = call.reconcile_operations.unwrap_or_default();
                self.reconcile_operations(framework_id, reconcile, out);
                Reply::Accepted
            }
            // REQUEST: accepted and ignored, as the built-in allocator does.
            _ => Reply::Accepted,
        }
    }

    fn update_framework(
        &mut self,
        framework_id: &str,
        update: scheduler::call::UpdateFramework,
        out: &mut Vec<Effect>,
    ) -> Reply {
        let mut info = update.framework_info;
        if let Err(e) = validation::validate_framework_info(&info) {
            return Reply::error(400, e);
        }
        let Some(fw) = self.frameworks.get(framework_id) else {
            return Reply::error(400, "Framework cannot be found");
        };
        if info.user != fw.info.user
            || info.checkpoint.unwrap_or(false) != fw.info.checkpoint.unwrap_or(false)
            || info.principal != fw.info.principal
        {
            return Reply::error(
                400,
                "Updating 'FrameworkInfo.user', 'checkpoint' or 'principal' is not supported",
            );
        }
        for role in &update.suppressed_roles {
            if !super::framework_roles(&info).contains(role) {
                return Reply::error(
                    400,
                    format!("Suppressed role '{role}' is not contained in the list of roles"),
                );
            }
        }
        info.id = fw.info.id.clone();
        let new_roles: BTreeSet<String> = super::framework_roles(&info).into_iter().collect();
        let dropped: Vec<String> = self
            .offers
            .iter()
            .filter(|(_, o)| o.offer.framework_id.value == framework_id)
            .filter(|(_, o)| !new_roles.contains(&o.role))
            .map(|(id, _)| id.clone())
            .collect();
        for offer_id in dropped {
            self.rescind_offer(&offer_id, true, out);
        }
        self.persist(RegistryOp::PutFramework(info.clone()), out);
        if let Some(fw) = self.frameworks.get_mut(framework_id) {
            fw.partition_aware =
                super::has_capability(&info, v1::framework_info::capability::Type::PartitionAware);
            fw.info = info;
            fw.suppressed_roles = update.suppressed_roles.into_iter().collect();
        }
        let mut event = operator_event(OperatorEventType::FrameworkUpdated);
        event.framework_updated = self
            .framework_view(framework_id)
            .map(|framework| v1::master::event::FrameworkUpdated { framework });
        out.push(Effect::ToOperators(Box::new(event)));
        self.allocation_dirty = true;
        Reply::Ok
    }

    pub(super) fn scheduler_closed(&mut self, now_ms: u64, conn: Conn, out: &mut Vec<Effect>) {
        let Some(id) = self
            .frameworks
            .iter()
            .find(|(_, f)| f.conn == Some(conn))
            .map(|(id, _)| id.clone())
        else {
            return;
        };
        let timeout_ms = {
            let fw = &self.frameworks[&id];
            let seconds = fw.info.failover_timeout.unwrap_or(0.0);
            // Bounded so the deadline arithmetic cannot overflow (validated non-negative).
            (seconds.clamp(0.0, 1e12) * 1000.0) as u64
        };
        if let Some(fw) = self.frameworks.get_mut(&id) {
            fw.conn = None;
            fw.stream_id = None;
            fw.next_heartbeat_ms = None;
            fw.unregistered_time_ms = Some(now_ms);
            fw.failover_deadline_ms = Some(now_ms.saturating_add(timeout_ms));
            self.arm(
                now_ms.saturating_add(timeout_ms),
                Timer::FrameworkFailover(id.clone()),
            );
        }
        let offers: Vec<String> = self
            .offers
            .iter()
            .filter(|(_, o)| o.offer.framework_id.value == id)
            .map(|(oid, _)| oid.clone())
            .collect();
        for offer_id in offers {
            self.rescind_offer(&offer_id, false, out);
        }
        let mut event = operator_event(OperatorEventType::FrameworkUpdated);
        event.framework_updated = self
            .framework_view(&id)
            .map(|framework| v1::master::event::FrameworkUpdated { framework });
        out.push(Effect::ToOperators(Box::new(event)));
        self.allocation_dirty = true;
    }

    /// Runs the frameworks' due deadlines; `due` (from the timer index) holds every framework
    /// whose heartbeat or failover deadline is due, in id order.
    pub(super) fn tick_frameworks(
        &mut self,
        now_ms: u64,
        due: BTreeSet<String>,
        out: &mut Vec<Effect>,
    ) {
        let interval = self.config.heartbeat_interval_ms;
        let mut expired = Vec::new();
        for id in due {
            let Some(fw) = self.frameworks.get_mut(&id) else {
                continue;
            };
            let mut rearm = false;
            if let (Some(conn), Some(due)) = (fw.conn, fw.next_heartbeat_ms)
                && now_ms >= due
            {
                out.push(Effect::ToScheduler {
                    conn,
                    event: Box::new(scheduler_event(EventType::Heartbeat)),
                });
                fw.next_heartbeat_ms = Some(now_ms + interval);
                rearm = true;
            }
            if fw.failover_deadline_ms.is_some_and(|d| now_ms >= d) && fw.conn.is_none() {
                expired.push(id.clone());
            }
            if rearm {
                self.arm(now_ms + interval, Timer::FrameworkHeartbeat(id));
            }
        }
        for id in expired {
            self.remove_framework(now_ms, &id, out);
        }
    }

    /// Removes a framework for good: its tasks become TASK_KILLED/REASON_FRAMEWORK_REMOVED in
    /// the master's memory only (nobody to tell), agents shut its executors down, its offers
    /// go back, its stream closes, and its id can never subscribe again.
    pub(super) fn remove_framework(&mut self, now_ms: u64, id: &str, out: &mut Vec<Effect>) {
        let Some(conn) = self.frameworks.get(id).map(|f| f.conn) else {
            return;
        };
        let offers: Vec<String> = self
            .offers
            .iter()
            .filter(|(_, o)| o.offer.framework_id.value == id)
            .map(|(oid, _)| oid.clone())
            .collect();
        for offer_id in offers {
            self.rescind_offer(&offer_id, false, out);
        }
        self.filters.retain(|_, filters| {
            filters.retain(|f| f.framework_id != id);
            !filters.is_empty()
        });
        self.forget_framework_operations(id, out);
        // The framework is going away: its updates are recorded, not delivered.
        if let Some(fw) = self.frameworks.get_mut(id) {
            fw.conn = None;
            fw.stream_id = None;
        }
        let task_ids: Vec<(String, bool)> = self.frameworks[id]
            .tasks
            .iter()
            .map(|(task_id, entry)| (task_id.clone(), is_terminal(entry.state())))
            .collect();
        for (task_id, terminal) in task_ids {
            // Terminal is terminal: a task whose terminal update awaits acknowledgement keeps
            // it (Mesos' removeFramework only kills the tasks not yet terminal).
            if !terminal {
                self.master_update(
                    now_ms,
                    id,
                    &task_id,
                    Trigger::FrameworkRemoved,
                    None,
                    None,
                    out,
                );
            }
            self.complete_task(id, &task_id, out);
        }
        let unreachable: Vec<String> = self.frameworks[id]
            .unreachable_tasks
            .keys()
            .cloned()
            .collect();
        for task_id in unreachable {
            if let Some(entry) = self
                .frameworks
                .get_mut(id)
                .and_then(|f| f.unreachable_tasks.remove(&task_id))
            {
                self.push_completed(id, Arc::unwrap_or_clone(entry), out);
            }
        }
        let mut shutdown = agent_event(AgentEventType::ShutdownFramework);
        shutdown.shutdown_framework = Some(drover_wire::internal::agent_event::ShutdownFramework {
            framework_id: v1::FrameworkId { value: id.into() },
        });
        for agent in self.agents.values_mut() {
            agent.executors.retain(|(fw, _), _| fw != id);
            if let Some(agent_conn) = agent.conn {
                out.push(Effect::ToAgent {
                    conn: agent_conn,
                    event: Box::new(shutdown.clone()),
                });
            }
        }
        if let Some(conn) = conn {
            out.push(Effect::CloseScheduler { conn });
        }
        let info = self.frameworks.get(id).map(|f| Box::new(f.info.clone()));
        self.persist(
            RegistryOp::RemoveFramework {
                framework_id: id.to_owned(),
                info,
            },
            out,
        );
        if let Some(mut fw) = self.frameworks.remove(id) {
            // Every live task was completed above; keep the index exact regardless.
            for (task_id, entry) in &fw.tasks {
                self.agent_tasks
                    .remove(&entry.task.agent_id.value, id, task_id);
                if !releases_resources(entry.state()) {
                    self.ledger
                        .release_task(&entry.task.agent_id.value, id, &entry.task.resources);
                }
            }
            fw.failover_deadline_ms = None;
            fw.next_heartbeat_ms = None;
            fw.unregistered_time_ms.get_or_insert(now_ms);
            let mut event = operator_event(OperatorEventType::FrameworkRemoved);
            event.framework_removed = Some(v1::master::event::FrameworkRemoved {
                framework_info: fw.info.clone(),
            });
            out.push(Effect::ToOperators(Box::new(event)));
            self.completed_frameworks.push_back(fw);
            while self.completed_frameworks.len() > self.config.max_completed_frameworks {
                if let Some(old) = self.completed_frameworks.pop_front() {
                    let old_id = old.info.id.as_ref().map(|i| i.value.clone());
                    if let Some(old_id) = old_id {
                        self.forget_completed(&old_id, out);
                    }
                }
            }
        }
        self.allocation_dirty = true;
    }

    /// Sends an event to a framework if it is connected (master events are best effort).
    pub(super) fn send_to_framework(
        &self,
        framework_id: &str,
        event: scheduler::Event,
        out: &mut Vec<Effect>,
    ) {
        if let Some(conn) = self.frameworks.get(framework_id).and_then(|f| f.conn) {
            out.push(Effect::ToScheduler {
                conn,
                event: Box::new(event),
            });
        }
    }

    /// FAILURE{agent_id} to every connected framework.
    pub(super) fn broadcast_agent_failure(&self, agent_id: &str, out: &mut Vec<Effect>) {
        for fw in self.frameworks.values() {
            if let Some(conn) = fw.conn {
                let mut event = scheduler_event(EventType::Failure);
                event.failure = Some(scheduler::event::Failure {
                    agent_id: Some(v1::AgentId {
                        value: agent_id.into(),
                    }),
                    executor_id: None,
                    status: None,
                });
                out.push(Effect::ToScheduler {
                    conn,
                    event: Box::new(event),
                });
            }
        }
    }
}
