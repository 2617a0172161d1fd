//! DRAIN_AGENT (Mesos 1.9): the agent is deactivated (no offers) and told it drains; the agent
//! kills each of its tasks with its kill policy's grace period capped by the drain's
//! `max_grace_period` (see `agent::drain`), and the master moves the drain DRAINING → DRAINED
//! once no task is left; with `mark_gone` the drained agent is then marked gone. The drain is
//! persisted (a restarted master resumes it and tells the agent again when it reregisters);
//! REACTIVATE_AGENT ends it.

use drover_wire::internal::agent_event::{self, Type as AgentEventType};
use drover_wire::v1;

use super::{AgentStatus, Effect, Master, RegistryOp, Reply, agent_event};

impl Master {
    /// The drain state of an agent, if an operator drained it.
    pub fn agent_drain(&self, agent_id: &str) -> Option<&v1::DrainInfo> {
        self.registry.drains.get(agent_id)
    }

    pub(super) fn drain_agent(
        &mut self,
        now_ms: u64,
        agent_id: &str,
        config: v1::DrainConfig,
        out: &mut Vec<Effect>,
    ) -> Reply {
        if config
            .max_grace_period
            .as_ref()
            .is_some_and(|d| d.nanoseconds < 0)
        {
            return Reply::error(400, "'max_grace_period' must be non-negative");
        }
        if self.registry.gone.contains_key(agent_id) {
            return Reply::error(400, format!("Agent {agent_id} has been marked gone"));
        }
        if !self.agents.contains_key(agent_id) {
            return Reply::error(400, format!("Unknown agent '{agent_id}'"));
        }
        if !self.registry.deactivated.contains(agent_id) {
            self.persist(
                RegistryOp::DeactivateAgent {
                    agent_id: agent_id.to_owned(),
                },
                out,
            );
        }
        let info = v1::DrainInfo {
            state: v1::DrainState::Draining as i32,
            config,
        };
        self.persist(
            RegistryOp::PutDrain {
                agent_id: agent_id.to_owned(),
                info,
            },
            out,
        );
        self.rescind_agent_offers(agent_id, out);
        self.send_drain(agent_id, out);
        self.advance_drains(now_ms, out);
        Reply::Ok
    }

    /// Tells a draining agent it drains (Mesos' DrainSlaveMessage), if it is connected: the
    /// agent kills its tasks itself, with each kill policy's grace capped by the drain's
    /// `max_grace_period`, and drops tasks it is sent while it drains. Sent again at every
    /// reregistration while the master has a drain for it, DRAINING or DRAINED, as Mesos did
    /// (an agent with nothing left ignores it).
    pub(super) fn send_drain(&self, agent_id: &str, out: &mut Vec<Effect>) {
        let Some(drain) = self.registry.drains.get(agent_id) else {
            return;
        };
        let mut event = agent_event(AgentEventType::Drain);
        event.drain = Some(agent_event::Drain {
            config: drain.config,
        });
        self.send_to_agent(agent_id, event, out);
    }

    /// Moves DRAINING agents with no live task left to DRAINED (and gone, if asked).
    pub(super) fn advance_drains(&mut self, now_ms: u64, out: &mut Vec<Effect>) {
        if self.registry.drains.is_empty() {
            return;
        }
        let done: Vec<(String, v1::DrainInfo)> = self
            .registry
            .drains
            .iter()
            .filter(|(id, d)| {
                d.state == v1::DrainState::Draining as i32
                    && self.agent_tasks.on_agent(id).next().is_none()
                    && self
                        .agents
                        .get(*id)
                        .is_some_and(|a| a.status == AgentStatus::Connected)
            })
            .map(|(id, d)| (id.clone(), *d))
            .collect();
        for (agent_id, mut info) in done {
            info.state = v1::DrainState::Drained as i32;
            let mark_gone = info.config.mark_gone.unwrap_or(false);
            self.persist(
                RegistryOp::PutDrain {
                    agent_id: agent_id.clone(),
                    info,
                },
                out,
            );
            if mark_gone {
                let _ = self.mark_gone(now_ms, &agent_id, out);
            }
        }
    }

    /// REACTIVATE_AGENT ends a drain.
    pub(super) fn end_drain(&mut self, agent_id: &str, out: &mut Vec<Effect>) {
        if self.registry.drains.contains_key(agent_id) {
            self.persist(
                RegistryOp::EndDrain {
                    agent_id: agent_id.to_owned(),
                },
                out,
            );
        }
    }
}
