//! Inverse offers (Mesos' maintenance primitives): for every agent on a DRAINING machine, each
//! connected framework with live tasks there is asked, once, to give the agent back before its
//! unavailability starts (scheduler event INVERSE_OFFERS). Its ACCEPT_INVERSE_OFFERS or
//! DECLINE_INVERSE_OFFERS is recorded and shown in GET_MAINTENANCE_STATUS; an inverse offer
//! whose machine is no longer draining is rescinded (RESCIND_INVERSE_OFFER). Answers are
//! advisory, as in Mesos: a framework that never answers blocks nothing.

use drover_wire::v1;
use drover_wire::v1::inverse_offer_status::Status;
use drover_wire::v1::scheduler;
use drover_wire::v1::scheduler::event::Type as EventType;

use super::maintenance::MachineKey;
use super::registry::OFFER_ID_BLOCK;
use super::{Effect, Master, scheduler_event};

/// One outstanding inverse offer.
#[derive(Debug, Clone, PartialEq)]
pub struct InverseOffer {
    /// As sent.
    pub offer: v1::InverseOffer,
    /// The machine it is about.
    pub machine: MachineKey,
}

/// Outstanding inverse offers and the frameworks' answers, per machine.
#[derive(Debug, Clone, Default)]
pub struct InverseOffers {
    /// Outstanding, by id.
    pub outstanding: std::collections::BTreeMap<String, InverseOffer>,
    /// Answers (or UNKNOWN while outstanding), by (machine, framework id).
    pub statuses: std::collections::BTreeMap<(MachineKey, String), v1::InverseOfferStatus>,
}

fn time_info(now_ms: u64) -> v1::TimeInfo {
    v1::TimeInfo {
        nanoseconds: i64::try_from(now_ms)
            .unwrap_or(i64::MAX)
            .saturating_mul(1_000_000),
    }
}

impl Master {
    /// The answers recorded for a machine, by framework.
    pub(super) fn inverse_offer_statuses(
        &self,
        machine: &MachineKey,
    ) -> Vec<v1::InverseOfferStatus> {
        self.inverse
            .statuses
            .range((machine.clone(), String::new())..)
            .take_while(|((m, _), _)| m == machine)
            .map(|(_, s)| s.clone())
            .collect()
    }

    /// Outstanding inverse offers sent to a framework (GET_FRAMEWORKS).
    pub fn framework_inverse_offers(&self, framework_id: &str) -> Vec<v1::InverseOffer> {
        self.inverse
            .outstanding
            .values()
            .filter(|o| o.offer.framework_id.value == framework_id)
            .map(|o| o.offer.clone())
            .collect()
    }

    /// Brings inverse offers in line with the schedule: rescinds those that no longer apply,
    /// forgets answers about machines no longer draining, and sends new ones where owed.
    pub(super) fn revise_inverse_offers(&mut self, now_ms: u64, out: &mut Vec<Effect>) {
        if self.registry.maintenance.schedule.windows.is_empty()
            && self.inverse.outstanding.is_empty()
            && self.inverse.statuses.is_empty()
        {
            return;
        }
        let maintenance = &self.registry.maintenance;
        let stale: Vec<String> = self
            .inverse
            .outstanding
            .iter()
            .filter(|(_, o)| {
                let agent = o.offer.agent_id.as_ref().map(|a| a.value.as_str());
                let current = agent
                    .and_then(|a| self.agents.get(a))
                    .and_then(|a| maintenance.machine_of(&a.info.hostname));
                let connected = self
                    .frameworks
                    .get(&o.offer.framework_id.value)
                    .is_some_and(|f| f.conn.is_some());
                !connected
                    || maintenance.down.contains(&o.machine)
                    || current.is_none_or(|(k, u)| k != o.machine || *u != o.offer.unavailability)
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in stale {
            if let Some(o) = self.inverse.outstanding.remove(&id) {
                let mut event = scheduler_event(EventType::RescindInverseOffer);
                event.rescind_inverse_offer = Some(scheduler::event::RescindInverseOffer {
                    inverse_offer_id: o.offer.id.clone(),
                });
                self.send_to_framework(&o.offer.framework_id.value, event, out);
            }
        }
        let maintenance = &self.registry.maintenance;
        self.inverse
            .statuses
            .retain(|(m, _), _| maintenance.scheduled(m) && !maintenance.down.contains(m));
        // Owed: (framework, agent, machine, unavailability) with live tasks, no outstanding
        // inverse offer and no answer yet.
        let mut owed = Vec::new();
        for (agent_id, agent) in &self.agents {
            let Some((machine, unavailability)) = maintenance.machine_of(&agent.info.hostname)
            else {
                continue;
            };
            if maintenance.down.contains(&machine) {
                continue;
            }
            let fws: std::collections::BTreeSet<&String> = self
                .agent_tasks
                .on_agent(agent_id)
                .map(|(fw, _)| fw)
                .collect();
            for fw_id in fws {
                let fw_id = fw_id.clone();
                let connected = self
                    .frameworks
                    .get(&fw_id)
                    .is_some_and(|f| f.conn.is_some());
                let answered = self
                    .inverse
                    .statuses
                    .contains_key(&(machine.clone(), fw_id.clone()));
                let pending = self.inverse.outstanding.values().any(|o| {
                    o.offer.framework_id.value == fw_id
                        && o.offer
                            .agent_id
                            .as_ref()
                            .is_some_and(|a| &a.value == agent_id)
                });
                if connected && !answered && !pending {
                    owed.push((fw_id, agent_id.clone(), machine.clone(), *unavailability));
                }
            }
        }
        for (fw_id, agent_id, machine, unavailability) in owed {
            if self.next_offer >= self.registry.offers_reserved {
                self.registry.offers_reserved = self.next_offer + OFFER_ID_BLOCK;
                self.persist_counters(out);
            }
            let id = format!("{}-O{}", self.registry.master_id, self.next_offer);
            self.next_offer += 1;
            let offer = v1::InverseOffer {
                id: v1::OfferId { value: id.clone() },
                url: None,
                framework_id: v1::FrameworkId {
                    value: fw_id.clone(),
                },
                agent_id: Some(v1::AgentId {
                    value: agent_id.clone(),
                }),
                unavailability,
                resources: Vec::new(),
            };
            self.inverse.statuses.insert(
                (machine.clone(), fw_id.clone()),
                v1::InverseOfferStatus {
                    status: Status::Unknown as i32,
                    framework_id: offer.framework_id.clone(),
                    timestamp: time_info(now_ms),
                },
            );
            let mut event = scheduler_event(EventType::InverseOffers);
            event.inverse_offers = Some(scheduler::event::InverseOffers {
                inverse_offers: vec![offer.clone()],
            });
            self.inverse
                .outstanding
                .insert(id, InverseOffer { offer, machine });
            self.send_to_framework(&fw_id, event, out);
        }
    }

    /// ACCEPT_INVERSE_OFFERS / DECLINE_INVERSE_OFFERS: records the answer for each of the
    /// framework's outstanding inverse offers named; unknown ids are ignored (Mesos logs them).
    pub(super) fn answer_inverse_offers(
        &mut self,
        now_ms: u64,
        framework_id: &str,
        ids: &[v1::OfferId],
        accept: bool,
    ) {
        for id in ids {
            let ours = self
                .inverse
                .outstanding
                .get(&id.value)
                .is_some_and(|o| o.offer.framework_id.value == framework_id);
            if !ours {
                continue;
            }
            let Some(o) = self.inverse.outstanding.remove(&id.value) else {
                continue;
            };
            let status = if accept {
                Status::Accept
            } else {
                Status::Decline
            };
            self.inverse.statuses.insert(
                (o.machine, framework_id.to_owned()),
                v1::InverseOfferStatus {
                    status: status as i32,
                    framework_id: o.offer.framework_id,
                    timestamp: time_info(now_ms),
                },
            );
        }
    }
}
