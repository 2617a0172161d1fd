//! Offers: place scheduled instances of apps that are not in backoff, honouring resources,
//! roles, ports and constraints; decline what is not used; keep `/v2/queue` statistics.

use drover_wire::v1;

use super::{Effect, Scheduler};
use crate::marathon::condition::{Condition, Goal};
use crate::marathon::instance::Placement;
use crate::marathon::offer::{OfferPool, RejectReason, task_info};
use crate::marathon::path::PathId;
use crate::marathon::pod::launch::{LaunchContext, launch_group};

impl Scheduler {
    pub(super) fn offers(&mut self, now_ms: u64, offers: Vec<v1::Offer>) {
        let mut declined = Vec::new();
        for offer in offers {
            let (tasks, groups) = self.match_offer(now_ms, &offer);
            if tasks.is_empty() && groups.is_empty() {
                declined.push(offer.id.value.clone());
            } else {
                self.effects.push(Effect::Launch {
                    offer_id: offer.id.value.clone(),
                    agent_id: offer.agent_id.value.clone(),
                    tasks,
                    groups,
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

    /// Places queued instances on one offer. Only apps with queued instances are looked at
    /// (the index keeps them, in id order, as the app map would give them), and only their
    /// queued instances, front first, until the offer or the per-offer limit runs out.
    fn match_offer(
        &mut self,
        now_ms: u64,
        offer: &v1::Offer,
    ) -> (Vec<v1::TaskInfo>, Vec<v1::offer::operation::LaunchGroup>) {
        let mut pool = OfferPool::new(offer);
        let mut tasks = Vec::new();
        let mut groups = Vec::new();
        let app_ids: Vec<PathId> = self
            .instances
            .queued_apps()
            .iter()
            .filter(|id| self.apps.contains_key(*id))
            .cloned()
            .collect();
        for app_id in app_ids {
            if tasks.len() + groups.len() >= self.config.max_instances_per_offer {
                break;
            }
            let Some(app) = self.apps.get(&app_id).cloned() else {
                continue;
            };
            if self.instances.queued_count(&app_id) == 0
                || self.delays.get(&app_id).is_some_and(|d| d.blocks(now_ms))
            {
                continue;
            }
            // What each constraint sees of the app's placed instances; grows with each
            // placement of this offer (the order does not matter to any operator).
            let mut placed: Vec<Vec<Option<String>>> = app
                .constraints
                .iter()
                .map(|c| {
                    self.instances
                        .of_app(&app_id)
                        .filter(|i| i.goal == Goal::Running && i.condition.is_active())
                        .filter_map(|i| i.placement.as_ref())
                        .map(|p| p.agent.field(&c.field))
                        .collect()
                })
                .collect();
            let mut used = false;
            let mut reject = None;
            // Each placement takes the instance out of the queue, so the next one is first.
            while let Some(instance_id) = self.instances.first_queued(&app_id).map(str::to_owned) {
                if tasks.len() + groups.len() >= self.config.max_instances_per_offer {
                    break;
                }
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
                let placement = Placement {
                    agent_id: offer.agent_id.value.clone(),
                    agent: pool.agent.clone(),
                    host_ports: host_ports.clone(),
                };
                for (c, placed) in app.constraints.iter().zip(&mut placed) {
                    placed.push(placement.agent.field(&c.field));
                }
                let task_id = self.instances.modify(&instance_id, |instance| {
                    instance.condition = Condition::Provisioned;
                    instance.since_ms = now_ms;
                    instance.staged_at_ms = Some(now_ms);
                    instance.app_version_ms = app.version_ms;
                    instance.config_ms = app.last_config_change_at_ms;
                    instance.placement = Some(placement);
                    if let Some(pod) = &app.pod {
                        instance.tasks = crate::marathon::pod::state::provisioned(pod, now_ms);
                    }
                    instance.task_id()
                });
                let Some(task_id) = task_id else {
                    break;
                };
                match (&app.pod, self.instances.get(&instance_id)) {
                    (Some(pod), Some(instance)) => {
                        let ctx = LaunchContext {
                            app: &app,
                            instance,
                            agent_id: &offer.agent_id.value,
                            hostname: &offer.hostname,
                            framework_id: self.framework_id.as_deref(),
                        };
                        groups.push(launch_group(&ctx, pod, resources, &host_ports));
                    }
                    _ => tasks.push(task_info(
                        &app,
                        &task_id,
                        &offer.agent_id.value,
                        &offer.hostname,
                        resources,
                        &host_ports,
                    )),
                }
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
        (tasks, groups)
    }
}
