//! Offers: place scheduled instances of apps that are not in backoff, honouring resources,
//! roles, ports and constraints; decline what is not used; keep `/v2/queue` statistics.

use drover_wire::v1;

use super::{Effect, Scheduler};
use crate::marathon::condition::{Condition, Goal};
use crate::marathon::instance::Placement;
use crate::marathon::offer::{OfferPool, RejectReason, task_info};
use crate::marathon::path::PathId;

impl Scheduler {
    pub(super) fn offers(&mut self, now_ms: u64, offers: Vec<v1::Offer>) {
        let mut declined = Vec::new();
        for offer in offers {
            let tasks = self.match_offer(now_ms, &offer);
            if tasks.is_empty() {
                declined.push(offer.id.value.clone());
            } else {
                self.effects.push(Effect::Launch {
                    offer_id: offer.id.value.clone(),
                    agent_id: offer.agent_id.value.clone(),
                    tasks,
                });
            }
        }
        if !declined.is_empty() {
            let refuse_seconds = if self.offers_wanted == Some(false) {
                self.config.idle_refuse_seconds
            } else {
                self.config.decline_refuse_seconds
            };
            self.effects.push(Effect::Decline {
                offer_ids: declined,
                refuse_seconds,
            });
        }
    }

    fn match_offer(&mut self, now_ms: u64, offer: &v1::Offer) -> Vec<v1::TaskInfo> {
        let mut pool = OfferPool::new(offer);
        let mut tasks = Vec::new();
        let app_ids: Vec<PathId> = self.apps.keys().cloned().collect();
        for app_id in app_ids {
            if tasks.len() >= self.config.max_instances_per_offer {
                break;
            }
            let Some(app) = self.apps.get(&app_id).cloned() else {
                continue;
            };
            let waiting: Vec<String> = self
                .instances_of(&app_id)
                .filter(|i| i.goal == Goal::Running && i.condition == Condition::Scheduled)
                .map(|i| i.id.clone())
                .collect();
            if waiting.is_empty() || self.delays.get(&app_id).is_some_and(|d| d.blocks(now_ms)) {
                continue;
            }
            let mut used = false;
            let mut reject = None;
            for instance_id in waiting {
                if tasks.len() >= self.config.max_instances_per_offer {
                    break;
                }
                let placed: Vec<Vec<Option<String>>> = app
                    .constraints
                    .iter()
                    .map(|c| {
                        self.instances_of(&app_id)
                            .filter(|i| i.goal == Goal::Running && i.condition.is_active())
                            .filter_map(|i| i.placement.as_ref())
                            .map(|p| p.agent.field(&c.field))
                            .collect()
                    })
                    .collect();
                if !app
                    .constraints
                    .iter()
                    .zip(&placed)
                    .all(|(c, placed)| c.accepts(&pool.agent, placed))
                {
                    reject = Some(RejectReason::UnfulfilledConstraint);
                    break;
                }
                let (resources, host_ports) = match pool.take(&app) {
                    Ok(taken) => taken,
                    Err(reason) => {
                        reject = Some(reason);
                        break;
                    }
                };
                let Some(instance) = self.instances.get_mut(&instance_id) else {
                    continue;
                };
                instance.condition = Condition::Provisioned;
                instance.since_ms = now_ms;
                instance.staged_at_ms = Some(now_ms);
                instance.app_version_ms = app.version_ms;
                instance.config_ms = app.last_config_change_at_ms;
                instance.placement = Some(Placement {
                    agent_id: offer.agent_id.value.clone(),
                    agent: pool.agent.clone(),
                    host_ports: host_ports.clone(),
                });
                let task_id = instance.task_id();
                tasks.push(task_info(
                    &app,
                    &task_id,
                    &offer.agent_id.value,
                    &offer.hostname,
                    resources,
                    &host_ports,
                ));
                self.instance_changed(&instance_id);
                used = true;
            }
            let stats = self.stats.entry(app_id).or_default();
            stats.processed += 1;
            if used {
                stats.last_used_at_ms = Some(now_ms);
            } else {
                stats.unused += 1;
                stats.last_unused_at_ms = Some(now_ms);
            }
            if let Some(reason) = reject {
                *stats.rejects.entry(reason).or_default() += 1;
            }
        }
        tasks
    }
}
