//! Oversubscription on the master: each agent's resource estimator reports revocable
//! resources (UPDATE_OVERSUBSCRIBED, Mesos' UpdateSlaveMessage); they are added to the agent's
//! total for allocation and offered, marked `revocable`, only to frameworks with the
//! REVOCABLE_RESOURCES capability. A new estimate replaces the last one and takes back the
//! agent's offers that hold revocable resources, as Mesos' master rescinded them; tasks
//! already on revocable resources stay until the agent's QoS controller evicts them.

use std::borrow::Cow;

use drover_wire::v1;

use super::{Agent, Effect, Master};
use crate::resources;

impl Master {
    /// The agent's estimator's new revocable resources.
    pub(super) fn update_oversubscribed(
        &mut self,
        agent_id: &str,
        list: Vec<v1::Resource>,
        out: &mut Vec<Effect>,
    ) {
        // Only unreserved, plain resources can be revocable here: a reservation or a volume
        // cannot be oversubscribed.
        let list: Vec<v1::Resource> = resources::normalize(&list)
            .into_iter()
            .filter(|r| !resources::is_reserved(r) && r.disk.is_none() && r.shared.is_none())
            .map(|mut r| {
                r.revocable = Some(v1::resource::RevocableInfo {});
                r
            })
            .collect();
        let Some(agent) = self.agents.get_mut(agent_id) else {
            return;
        };
        if agent.oversubscribed == list {
            return;
        }
        agent.oversubscribed = list;
        let holding: Vec<String> = self
            .agent_offer_ids(agent_id)
            .filter(|id| {
                self.offers
                    .get(*id)
                    .is_some_and(|o| o.offer.resources.iter().any(|r| r.revocable.is_some()))
            })
            .cloned()
            .collect();
        for id in holding {
            self.rescind_offer(&id, true, out);
        }
        self.allocation_dirty = true;
    }

    /// What the agent has to allocate: its total and its latest revocable estimate.
    pub fn agent_total<'a>(&self, agent: &'a Agent) -> Cow<'a, [v1::Resource]> {
        if agent.oversubscribed.is_empty() {
            return Cow::Borrowed(&agent.info.resources);
        }
        let mut total = agent.info.resources.clone();
        total.extend(agent.oversubscribed.iter().cloned());
        Cow::Owned(total)
    }
}
