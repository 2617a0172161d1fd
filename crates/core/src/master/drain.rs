//! DRAIN_AGENT (Mesos 1.9): the agent is deactivated (no offers), each of its live tasks is
//! killed through the ordinary kill path with its kill policy's grace period capped by the
//! drain's `max_grace_period`, and its drain state goes DRAINING → DRAINED once no task is
//! left; with `mark_gone` the drained agent is then marked gone. The drain is persisted (a
//! restarted master resumes it); REACTIVATE_AGENT ends it.

use drover_wire::v1;
use drover_wire::v1::scheduler;

use super::{AgentStatus, Effect, Master, RegistryOp, Reply};

/// The grace period a task gets when its kill policy names none (the command executor's).
const DEFAULT_GRACE_NS: i64 = 3_000_000_000;

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
        self.kill_for_drain(now_ms, agent_id, out);
        self.advance_drains(now_ms, out);
        Reply::Ok
    }

    /// Kills every live task on a draining agent (again after it reregisters, for tasks it
    /// still reports).
    pub(super) fn kill_for_drain(&mut self, now_ms: u64, agent_id: &str, out: &mut Vec<Effect>) {
        let Some(drain) = self.registry.drains.get(agent_id) else {
            return;
        };
        let cap = drain.config.max_grace_period;
        let tasks: Vec<(String, String)> = self.agent_tasks.on_agent(agent_id).cloned().collect();
        for (fw_id, task_id) in tasks {
            let Some(entry) = self
                .frameworks
                .get(&fw_id)
                .and_then(|f| f.tasks.get(&task_id))
            else {
                continue;
            };
            let own = entry.task.kill_policy;
            let kill_policy = match &cap {
                None => own,
                Some(cap) => {
                    let grace = own
                        .as_ref()
                        .and_then(|p| p.grace_period.as_ref())
                        .map_or(DEFAULT_GRACE_NS, |g| g.nanoseconds);
                    Some(v1::KillPolicy {
                        grace_period: Some(v1::DurationInfo {
                            nanoseconds: grace.min(cap.nanoseconds),
                        }),
                    })
                }
            };
            let kill = scheduler::call::Kill {
                task_id: v1::TaskId { value: task_id },
                agent_id: Some(v1::AgentId {
                    value: agent_id.to_owned(),
                }),
                kill_policy,
            };
            self.kill(now_ms, &fw_id, kill, out);
        }
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
