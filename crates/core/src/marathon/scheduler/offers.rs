//! Offers: place scheduled instances of apps that are not in backoff, honouring resources,
//! roles, ports and constraints; decline what is not used; keep `/v2/queue` statistics.

use drover_wire::v1;

use std::collections::BTreeSet;

use super::{Effect, Scheduler};
use crate::marathon::app::AppSpec;
use crate::marathon::condition::{Condition, Goal};
use crate::marathon::instance::Placement;
use crate::marathon::offer::{OfferPool, RejectReason, task_info};
use crate::marathon::path::PathId;
use crate::marathon::pod::launch::{LaunchContext, launch_group};
use crate::marathon::reservation::{
    self, LocalVolume, PersistentVolume, RESERVATION_TIMEOUT_MS, Reservation, ReservationState,
    ReserveRequest,
};

impl Scheduler {
    pub(super) fn offers(&mut self, now_ms: u64, offers: Vec<v1::Offer>) {
        let mut declined = Vec::new();
        for offer in offers {
            let (operations, tasks, groups) = self.match_offer(now_ms, &offer);
            if operations.is_empty() && tasks.is_empty() && groups.is_empty() {
                declined.push(offer.id.value.clone());
            } else {
                self.effects.push(Effect::Launch {
                    offer_id: offer.id.value.clone(),
                    agent_id: offer.agent_id.value.clone(),
                    operations,
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
    ) -> (
        Vec<v1::offer::Operation>,
        Vec<v1::TaskInfo>,
        Vec<v1::offer::operation::LaunchGroup>,
    ) {
        let mut pool = OfferPool::new(offer);
        // Sized for what may launch, so a full offer's tasks (1.5 KB each before their
        // contents) do not sit in a vector grown by doubling while the batch is committed.
        let waiting: usize = self
            .instances
            .queued_apps()
            .iter()
            .map(|id| self.instances.queued_count(id))
            .sum();
        let mut tasks = Vec::with_capacity(waiting.min(self.config.max_instances_per_offer));
        let mut groups = Vec::new();
        let mut operations = Vec::new();
        self.release_reservations(now_ms, offer, &mut pool, &mut operations);
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
            if app.is_resident() {
                let (used, reject) = self.match_resident(
                    now_ms,
                    offer,
                    &app,
                    &mut pool,
                    &mut operations,
                    &mut tasks,
                    &mut groups,
                );
                self.count_offer(now_ms, app_id, used, reject);
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
            self.count_offer(now_ms, app_id, used, reject);
        }
        (operations, tasks, groups)
    }

    /// `/v2/queue`'s offer statistics of one app for one offer.
    fn count_offer(
        &mut self,
        now_ms: u64,
        app_id: PathId,
        used: bool,
        reject: Option<RejectReason>,
    ) {
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

    /// Reserved resources of this framework that no instance here wants any more are given
    /// back: DESTROY of their volumes, then UNRESERVE (Marathon's `OfferMatcherReconciler`).
    /// That is a reservation whose instance is unknown (its app was deleted, it was wiped, or
    /// it was never recorded), whose instance holds no reservation on this agent, or whose
    /// instance was decommissioned and has no task left.
    fn release_reservations(
        &mut self,
        now_ms: u64,
        offer: &v1::Offer,
        pool: &mut OfferPool,
        operations: &mut Vec<v1::offer::Operation>,
    ) {
        let Some(framework_id) = self.framework_id.clone() else {
            return;
        };
        let owners: BTreeSet<String> = pool
            .resources()
            .iter()
            .filter_map(|r| reservation::owner(r, &framework_id))
            .map(str::to_owned)
            .collect();
        // An agent's offer without a reservation we meant to release, well after it was
        // forgotten (an offer made before the task ended may still hold it back): there is
        // none to release (never made, or already gone), so stop asking for offers for it.
        self.releasing.retain(|id, releasing| {
            releasing.agent_id != offer.agent_id.value
                || owners.contains(id)
                || now_ms < releasing.since_ms.saturating_add(RESERVATION_TIMEOUT_MS)
        });
        for owner in owners {
            let keep = self.instances.get(&owner).is_some_and(|i| {
                let alive = i.has_task() && !i.condition.is_terminal();
                i.reservation
                    .as_ref()
                    .is_some_and(|r| r.agent_id == offer.agent_id.value)
                    && (i.goal != Goal::Decommissioned || alive)
            });
            if keep {
                continue;
            }
            let resources =
                pool.take_where(|r| reservation::owner(r, &framework_id) == Some(owner.as_str()));
            operations.extend(reservation::release_operations(&resources));
            if let Some(releasing) = self.releasing.get_mut(&owner) {
                for resource in &resources {
                    if let Some(persistence) =
                        resource.disk.as_ref().and_then(|d| d.persistence.as_ref())
                    {
                        releasing.volumes.remove(&persistence.id);
                    }
                }
                if releasing.volumes.is_empty() {
                    self.releasing.remove(&owner);
                } else {
                    // Part given back; the rest (an executor's, with the volumes) comes when
                    // that executor has ended.
                    releasing.since_ms = now_ms;
                }
            }
        }
    }

    /// Places the queued instances of a resident app on one offer: an instance with a
    /// reservation on this agent is launched on exactly its reserved resources and volumes; an
    /// instance without one reserves unreserved resources here and creates its volumes (RESERVE
    /// then CREATE; the launch follows when the reservation is offered back). The reservation
    /// is recorded (persisted before the ACCEPT goes out) before it is made. A resident pod's
    /// instance is launched as any pod's, its volumes on its executor.
    #[allow(clippy::too_many_arguments)]
    fn match_resident(
        &mut self,
        now_ms: u64,
        offer: &v1::Offer,
        app: &AppSpec,
        pool: &mut OfferPool,
        operations: &mut Vec<v1::offer::Operation>,
        tasks: &mut Vec<v1::TaskInfo>,
        groups: &mut Vec<v1::offer::operation::LaunchGroup>,
    ) -> (bool, Option<RejectReason>) {
        let Some(framework_id) = self.framework_id.clone() else {
            return (false, None);
        };
        let agent_id = offer.agent_id.value.clone();
        let queued: Vec<String> = self
            .instances
            .queued_of(&app.id)
            .map(|i| i.id.clone())
            .collect();
        let mut used = false;
        let mut reject = None;
        for instance_id in queued {
            if tasks.len() + groups.len() >= self.config.max_instances_per_offer {
                break;
            }
            let Some(instance) = self.instances.get(&instance_id) else {
                continue;
            };
            let offered = pool
                .resources()
                .iter()
                .any(|res| reservation::owner(res, &framework_id) == Some(&instance_id));
            let mut current = instance.reservation.clone();
            if current.as_ref().is_some_and(|r| {
                r.state == ReservationState::New
                    && !offered
                    && now_ms >= r.reserved_at_ms.saturating_add(RESERVATION_TIMEOUT_MS)
            }) {
                // The reservation never came back (the ACCEPT was lost or refused): start
                // over here; should it exist after all, it is released when offered.
                self.instances
                    .modify(&instance_id, |i| i.reservation = None);
                self.instance_changed(&instance_id);
                current = None;
            }
            match current {
                Some(r) => {
                    if r.agent_id != agent_id || !offered {
                        continue;
                    }
                    let mine = |res: &v1::Resource| {
                        reservation::owner(res, &framework_id) == Some(instance_id.as_str())
                    };
                    let held: Vec<v1::Resource> = pool
                        .resources()
                        .iter()
                        .filter(|res| mine(res))
                        .cloned()
                        .collect();
                    let wanted_ports = app.host_port_requests().len();
                    let host_ports = reservation::reserved_ports(&held, wanted_ports);
                    if !reservation::has_volumes(&held, &r.volumes)
                        || host_ports.len() != wanted_ports
                    {
                        // Not all of it is in this offer yet; wait for one that holds it all.
                        continue;
                    }
                    let resources = pool.take_where(mine);
                    let placement = Placement {
                        agent_id: agent_id.clone(),
                        agent: pool.agent.clone(),
                        host_ports: host_ports.clone(),
                    };
                    let task_id = self.instances.modify(&instance_id, |i| {
                        i.condition = Condition::Provisioned;
                        i.since_ms = now_ms;
                        i.staged_at_ms = Some(now_ms);
                        i.app_version_ms = app.version_ms;
                        i.config_ms = app.last_config_change_at_ms;
                        i.placement = Some(placement);
                        if let Some(r) = i.reservation.as_mut() {
                            r.state = ReservationState::Launched;
                        }
                        if let Some(pod) = &app.pod {
                            i.tasks = crate::marathon::pod::state::provisioned(pod, now_ms);
                        }
                        i.task_id()
                    });
                    let Some(task_id) = task_id else {
                        continue;
                    };
                    match (&app.pod, self.instances.get(&instance_id)) {
                        (Some(pod), Some(instance)) => {
                            let ctx = LaunchContext {
                                app,
                                instance,
                                agent_id: &agent_id,
                                hostname: &offer.hostname,
                                framework_id: Some(&framework_id),
                            };
                            groups.push(launch_group(&ctx, pod, resources, &host_ports));
                        }
                        _ => tasks.push(task_info(
                            app,
                            &task_id,
                            &agent_id,
                            &offer.hostname,
                            resources,
                            &host_ports,
                        )),
                    }
                    self.instance_changed(&instance_id);
                    used = true;
                }
                None => {
                    if reject.is_some() {
                        continue;
                    }
                    let placed: Vec<Vec<Option<String>>> = app
                        .constraints
                        .iter()
                        .map(|c| {
                            self.instances
                                .of_app(&app.id)
                                .filter(|i| i.goal == Goal::Running)
                                .filter_map(|i| i.reservation.as_ref())
                                .map(|r| r.agent.field(&c.field))
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
                        continue;
                    }
                    // Only unreserved resources are reserved, the volumes' disk with the rest.
                    let mut wanted = app.clone();
                    wanted.accepted_resource_roles = Some(vec!["*".to_owned()]);
                    wanted.disk += app
                        .persistent_volumes
                        .iter()
                        .map(|v| v.size_mb as f64)
                        .sum::<f64>();
                    let taken = match pool.take(&wanted) {
                        Ok((taken, _)) => taken,
                        Err(reason) => {
                            reject = Some(reason);
                            continue;
                        }
                    };
                    let volumes: Vec<(PersistentVolume, LocalVolume)> = app
                        .persistent_volumes
                        .iter()
                        .map(|v| {
                            let uuid = self.ids.next_id();
                            let local = LocalVolume {
                                container_path: v.container_path.clone(),
                                persistence_id: reservation::persistence_id(
                                    &app.id,
                                    v.id_part(),
                                    &uuid,
                                ),
                            };
                            (v.clone(), local)
                        })
                        .collect();
                    operations.extend(reservation::reserve_operations(
                        &taken,
                        &ReserveRequest {
                            instance_id: &instance_id,
                            volumes: &volumes,
                            role: &app.role,
                            principal: self.config.principal.as_deref(),
                            framework_id: &framework_id,
                        },
                    ));
                    let made = Reservation {
                        agent_id: agent_id.clone(),
                        agent: (*pool.agent).clone(),
                        volumes: volumes.into_iter().map(|(_, local)| local).collect(),
                        state: ReservationState::New,
                        reserved_at_ms: now_ms,
                    };
                    self.instances
                        .modify(&instance_id, |i| i.reservation = Some(Box::new(made)));
                    self.instance_changed(&instance_id);
                    used = true;
                }
            }
        }
        (used, reject)
    }
}
