//! Offers and allocation: what each agent has free, the DRF allocator (the framework role with
//! the lowest dominant share gets the next agent), `refuse_seconds` filters, `--offer_timeout`,
//! RESCIND, REVIVE and SUPPRESS.
//!
//! Like Mesos' hierarchical allocator, one allocation gives all of an agent's free resources
//! (unreserved plus those reserved for the role) to one framework role as one offer, and
//! resources count as allocated to that framework until the offer is used, declined or
//! rescinded. With quota ([`super::quota_alloc`]) an offer can be trimmed (limits, headroom
//! for other roles' guarantees, a guarantee stage first) and the rest of the agent goes on to
//! the next candidates in the same pass.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use drover_wire::v1;
use drover_wire::v1::scheduler;
use drover_wire::v1::scheduler::event::Type as EventType;

use super::quota_alloc::QuotaPass;
use super::registry::OFFER_ID_BLOCK;
use super::timers::Timer;
use super::{AgentStatus, Effect, Master, Offer, scheduler_event};
use crate::resources;

/// A dominant share, ordered by `f64::total_cmp` so it can key a sorted set.
#[derive(Debug, Clone, Copy)]
struct Share(f64);

impl PartialEq for Share {
    fn eq(&self, other: &Self) -> bool {
        self.0.total_cmp(&other.0).is_eq()
    }
}

impl Eq for Share {}

impl PartialOrd for Share {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Share {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// Mesos' minimum allocatable resources: an agent with less than this free is not offered.
const MIN_CPUS: f64 = 0.01;
const MIN_MEM_MB: f64 = 32.0;

/// Whether resources are worth an offer (Mesos' minimum allocatable resources).
fn allocatable(list: &[v1::Resource]) -> bool {
    resources::scalar(list, "cpus") >= MIN_CPUS || resources::scalar(list, "mem") >= MIN_MEM_MB
}

/// Whether `role` may be offered `res`: it is unreserved or reserved for `role`, and not
/// revocable unless the framework takes revocable resources.
fn offers_to(res: &v1::Resource, role: &str, takes_revocable: bool) -> bool {
    let reserved = resources::reservation_role(res);
    (reserved == resources::DEFAULT_ROLE || reserved == role)
        && (res.revocable.is_none() || takes_revocable)
}

/// What of `available` may be offered to `role` ([`offers_to`]), in order. Usually that is all
/// of it (nothing reserved for another role, nothing revocable the framework does not take):
/// then it is `available` itself, borrowed, not a copy per agent per pass (issue 20, G2).
fn offerable_to<'a>(
    available: &'a [v1::Resource],
    role: &str,
    takes_revocable: bool,
) -> Cow<'a, [v1::Resource]> {
    if available
        .iter()
        .all(|res| offers_to(res, role, takes_revocable))
    {
        Cow::Borrowed(available)
    } else {
        Cow::Owned(
            available
                .iter()
                .filter(|res| offers_to(res, role, takes_revocable))
                .cloned()
                .collect(),
        )
    }
}

impl Master {
    /// What tasks (that still hold resources) and executors use on an agent: the ledger's
    /// sum plus the agent's executors.
    pub fn agent_used(&self, agent_id: &str) -> Vec<v1::Resource> {
        let tasks = self.ledger.used_by_tasks(agent_id);
        match self.agents.get(agent_id) {
            Some(agent) if !agent.executors.is_empty() => {
                let mut used = tasks.to_vec();
                for executor in agent.executors.values() {
                    used.extend(executor.resources.iter().cloned());
                }
                resources::normalize(&used)
            }
            _ => tasks.to_vec(),
        }
    }

    /// What outstanding offers hold on an agent (the ledger's sum).
    pub fn agent_offered(&self, agent_id: &str) -> Vec<v1::Resource> {
        self.ledger.offered(agent_id).to_vec()
    }

    /// The ids of an agent's outstanding offers, in id order.
    pub fn agent_offer_ids(&self, agent_id: &str) -> impl Iterator<Item = &String> {
        self.agent_offers.get(agent_id).into_iter().flatten()
    }

    /// Removes an outstanding offer (and its entry in the per-agent index).
    pub(super) fn take_offer(&mut self, offer_id: &str) -> Option<Offer> {
        let offer = self.offers.remove(offer_id)?;
        let agent_id = &offer.offer.agent_id.value;
        self.ledger.release_offer(
            agent_id,
            &offer.offer.framework_id.value,
            &offer.offer.resources,
        );
        if let Some(ids) = self.agent_offers.get_mut(agent_id) {
            ids.remove(offer_id);
            if ids.is_empty() {
                self.agent_offers.remove(agent_id);
            }
        }
        Some(offer)
    }

    /// The per-agent offer index a scan of the offers builds (for the invariant check).
    pub(super) fn agent_offers_by_scan(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut index: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (id, offer) in &self.offers {
            index
                .entry(offer.offer.agent_id.value.clone())
                .or_default()
                .insert(id.clone());
        }
        index
    }

    /// Checks the per-agent offer index against a scan.
    pub(super) fn check_agent_offers(&self) -> Result<(), String> {
        if self.agent_offers_by_scan() != self.agent_offers {
            return Err("the offer index by agent disagrees with the offers".into());
        }
        Ok(())
    }

    /// The scalar resources a framework holds (what DRF counts): its tasks' (while they hold
    /// them) and its offers'.
    pub fn framework_allocated(&self, framework_id: &str) -> Vec<v1::Resource> {
        self.ledger.held_by(framework_id).to_vec()
    }

    /// What is free on an agent: totals minus used minus offered.
    pub fn agent_available(&self, agent_id: &str) -> Vec<v1::Resource> {
        match self.agents.get(agent_id) {
            Some(agent) => self.available_on(agent_id, agent),
            None => Vec::new(),
        }
    }

    /// What is free on `agent`: `subtract(subtract(total, used), offered)`, computed in place
    /// on one normalized copy of the total. The ledger's sums are normalized already, and an
    /// agent without executors uses just its tasks' sum, so nothing else is cloned (issue 20,
    /// G2: every pass computes this for every agent).
    fn available_on(&self, agent_id: &str, agent: &super::Agent) -> Vec<v1::Resource> {
        let mut available = resources::normalize(&self.agent_total(agent));
        if agent.executors.is_empty() {
            resources::subtract_from(&mut available, self.ledger.used_by_tasks(agent_id));
        } else {
            resources::subtract_from(&mut available, &self.agent_used(agent_id));
        }
        resources::subtract_from(&mut available, self.ledger.offered(agent_id));
        available
    }

    /// Runs the allocator: every connected agent's free resources go, as one offer, to the
    /// unfiltered, unsuppressed framework role with the lowest dominant share.
    ///
    /// One pass costs O(agents × log frameworks + frameworks): what each agent uses and has
    /// offered, and what each framework holds, come from the [`super::ledger`]'s running
    /// sums, and the candidates stay sorted, only the framework that got an offer moving
    /// (issue 8).
    pub(super) fn allocate(&mut self, now_ms: u64, out: &mut Vec<Effect>) {
        self.allocation_dirty = false;
        self.next_allocation_ms = now_ms + self.config.allocation_interval_ms.max(1);
        self.filters.retain(|_, filters| {
            filters.retain(|f| f.until_ms > now_ms);
            !filters.is_empty()
        });
        // Candidates: connected frameworks' unsuppressed roles. None: nothing to do.
        let eligible: Vec<(String, Vec<String>)> = self
            .frameworks
            .iter()
            .filter(|(_, fw)| fw.connected())
            .map(|(id, fw)| {
                let mut roles: Vec<String> = fw
                    .roles()
                    .into_iter()
                    .filter(|role| !fw.suppressed_roles.contains(role))
                    .collect();
                roles.sort();
                roles.dedup();
                (id.clone(), roles)
            })
            .filter(|(_, roles)| !roles.is_empty())
            .collect();
        if eligible.is_empty() {
            return;
        }
        // The DRF denominators: each scalar's total over connected agents (summed without
        // first cloning every agent's resources into one list).
        let cluster_totals = resources::drf_totals(&resources::sum_of(
            self.agents
                .values()
                .filter(|a| a.status == AgentStatus::Connected)
                .map(|a| &a.info.resources[..]),
        ));
        let mut available_by_agent: Vec<(String, Vec<v1::Resource>)> = Vec::new();
        for (id, agent) in &self.agents {
            if agent.status != AgentStatus::Connected
                || agent.removal_pending
                || self.registry.deactivated.contains(id)
            {
                continue;
            }
            available_by_agent.push((id.clone(), self.available_on(id, agent)));
        }
        // Revocable resources go only to frameworks that asked for them.
        let takes_revocable: Vec<bool> = eligible
            .iter()
            .map(|(id, _)| {
                self.frameworks.get(id).is_some_and(|f| {
                    f.has_capability(v1::framework_info::capability::Type::RevocableResources)
                })
            })
            .collect();
        // What each eligible framework holds (scalars), by its index in `eligible`.
        let mut allocated: Vec<Vec<v1::Resource>> = eligible
            .iter()
            .map(|(id, _)| self.ledger.held_by(id).to_vec())
            .collect();
        // Candidates in DRF order: (share, framework index, role). `eligible` is in framework
        // id order and each role list is sorted, so ties go to the lower framework id, then
        // role. Moving the framework that got an offer is O(its roles × log candidates),
        // not a scan of every candidate per agent (issue 8, G2).
        let mut candidates: BTreeSet<(Share, usize, usize)> = BTreeSet::new();
        let mut shares: Vec<Share> = Vec::with_capacity(eligible.len());
        for (i, (_, roles)) in eligible.iter().enumerate() {
            let share = Share(resources::dominant_share_of(&allocated[i], &cluster_totals));
            shares.push(share);
            for r in 0..roles.len() {
                candidates.insert((share, i, r));
            }
        }
        // Quota: guarantees first, headroom held back, limits trimmed ([`super::quota_alloc`]).
        // The first stage visits only the candidates a guarantee covers, in DRF order too.
        let mut quota = QuotaPass::new(self, &available_by_agent);
        let subset = |keep: &dyn Fn(&str) -> bool| -> BTreeSet<(Share, usize, usize)> {
            candidates
                .iter()
                .filter(|&&(_, i, r)| keep(&eligible[i].1[r]))
                .copied()
                .collect()
        };
        let (mut guaranteed, mut covered) = match &quota {
            Some(q) => (
                subset(&|role| q.guaranteed(role)),
                subset(&|role| q.covers(role)),
            ),
            None => (BTreeSet::new(), BTreeSet::new()),
        };
        // About one offer event per agent: grow the effects once, not by doubling.
        out.reserve(available_by_agent.len());
        for (agent_id, mut available) in available_by_agent {
            // Without quota an agent goes whole to one framework role; quota can trim an
            // offer, and what is left goes to the next candidate, each framework at most once
            // per stage (a role served its guarantee may win more in the DRF stage, as in
            // Mesos, as a second offer).
            let mut served: Vec<(bool, usize)> = Vec::new();
            loop {
                if !allocatable(&available) {
                    break;
                }
                let guarantee_stage = quota.as_ref().is_some_and(QuotaPass::any_unmet);
                let stages: &[bool] = if guarantee_stage {
                    &[true, false]
                } else {
                    &[false]
                };
                let mut winner: Option<(bool, usize, String, Cow<'_, [v1::Resource]>)> = None;
                'stages: for &guarantees_only in stages {
                    // Roles quota left nothing to offer on this agent in this stage: the same
                    // for each of their frameworks, so each role is trimmed once, not once per
                    // framework. Roles no quota covers and with no reservation here all get
                    // the same trim: they share the key "" (no role is named that).
                    let mut nothing_for: BTreeSet<&str> = BTreeSet::new();
                    // When headroom leaves nothing here for the roles no quota covers (and no
                    // reservation makes one of them different), only covered roles can win:
                    // visit those, not every framework.
                    let only_covered = !guarantees_only
                        && quota.as_ref().is_some_and(|q| {
                            !available.iter().any(resources::is_reserved)
                                && !allocatable(&q.trim("", available.clone(), false))
                        });
                    let visit = if guarantees_only {
                        &guaranteed
                    } else if only_covered {
                        &covered
                    } else {
                        &candidates
                    };
                    for &(_, i, r) in visit {
                        if served.contains(&(guarantees_only, i)) {
                            continue;
                        }
                        let (fw_id, roles) = &eligible[i];
                        let role = &roles[r];
                        if guarantees_only && !quota.as_ref().is_some_and(|q| q.unmet(role)) {
                            continue;
                        }
                        let shared_trim = quota.as_ref().is_some_and(|q| !q.covers(role))
                            && !available
                                .iter()
                                .any(|res| resources::reservation_role(res) == role.as_str());
                        let trim_key = if shared_trim { "" } else { role.as_str() };
                        if nothing_for.contains(trim_key) {
                            continue;
                        }
                        let mut offerable = offerable_to(&available, role, takes_revocable[i]);
                        if let Some(q) = &quota {
                            let before = offerable.to_vec();
                            offerable =
                                Cow::Owned(q.trim(role, offerable.into_owned(), guarantees_only));
                            if *offerable != before[..] && !allocatable(&offerable) {
                                nothing_for.insert(trim_key);
                                continue;
                            }
                        }
                        if offerable.is_empty()
                            || (guarantees_only
                                && !quota
                                    .as_ref()
                                    .is_some_and(|q| q.advances_guarantee(role, &offerable)))
                        {
                            continue;
                        }
                        let filtered = self.filters.get(&agent_id).is_some_and(|filters| {
                            filters.iter().any(|f| {
                                f.framework_id == *fw_id
                                    && f.role == *role
                                    && resources::contains(&f.resources, &offerable)
                            })
                        });
                        if filtered {
                            continue;
                        }
                        let fw_id = fw_id.clone();
                        let role = role.clone();
                        if self.make_offer(now_ms, &fw_id, &role, &agent_id, &offerable, out) {
                            winner = Some((guarantees_only, i, role, offerable));
                        }
                        break 'stages;
                    }
                }
                // The winner's share grew: move its roles to their new places.
                let Some((stage, i, role, offered)) = winner else {
                    break;
                };
                served.push((stage, i));
                resources::add_into(
                    &mut allocated[i],
                    offered.iter().filter(|res| resources::is_scalar(res)),
                    false,
                );
                if let Some(q) = quota.as_mut() {
                    // Only quota can leave something on the agent for a next candidate; without
                    // it the loop ends below and what remains is never read. With quota the
                    // offer is already owned (trimmed), so this does not copy it.
                    let offered = offered.into_owned();
                    resources::subtract_from(&mut available, &offered);
                    q.record(&role, &offered);
                }
                let share = Share(resources::dominant_share_of(&allocated[i], &cluster_totals));
                for r in 0..eligible[i].1.len() {
                    candidates.remove(&(shares[i], i, r));
                    candidates.insert((share, i, r));
                    if guaranteed.remove(&(shares[i], i, r)) {
                        guaranteed.insert((share, i, r));
                    }
                    if covered.remove(&(shares[i], i, r)) {
                        covered.insert((share, i, r));
                    }
                }
                shares[i] = share;
                if quota.is_none() {
                    // Nothing was trimmed: the agent's offerable resources are gone.
                    break;
                }
            }
        }
    }

    /// Makes an offer of `offerable`; false if the agent is gone.
    fn make_offer(
        &mut self,
        now_ms: u64,
        framework_id: &str,
        role: &str,
        agent_id: &str,
        offerable: &[v1::Resource],
        out: &mut Vec<Effect>,
    ) -> bool {
        if self.next_offer >= self.registry.offers_reserved {
            self.registry.offers_reserved = self.next_offer + OFFER_ID_BLOCK;
            self.persist_counters(out);
        }
        let offer_id = format!("{}-O{}", self.registry.master_id, self.next_offer);
        self.next_offer += 1;
        let unavailability = self.agent_unavailability(agent_id);
        let Some(agent) = self.agents.get(agent_id) else {
            return false;
        };
        let executor_ids = agent
            .executors
            .keys()
            .filter(|(fw, _)| fw == framework_id)
            .map(|(_, e)| v1::ExecutorId { value: e.clone() })
            .collect();
        let offer = v1::Offer {
            id: v1::OfferId {
                value: offer_id.clone(),
            },
            framework_id: v1::FrameworkId {
                value: framework_id.into(),
            },
            agent_id: v1::AgentId {
                value: agent_id.into(),
            },
            hostname: agent.info.hostname.clone(),
            url: Some(v1::Url {
                scheme: "http".into(),
                address: v1::Address {
                    hostname: Some(agent.info.hostname.clone()),
                    ip: agent.ip.clone(),
                    port: agent.info.port.unwrap_or(5051),
                },
                path: Some("/slave(1)".into()),
                ..Default::default()
            }),
            domain: agent.info.domain.clone(),
            resources: resources::allocate(offerable, role),
            attributes: agent.info.attributes.clone(),
            executor_ids,
            unavailability,
            allocation_info: Some(v1::resource::AllocationInfo {
                role: Some(role.into()),
            }),
        };
        let expires_ms = self.config.offer_timeout_ms.map(|t| now_ms + t);
        if let Some(at) = expires_ms {
            self.arm(at, Timer::OfferExpiry(offer_id.clone()));
        }
        match self.agent_offers.get_mut(agent_id) {
            Some(ids) => {
                ids.insert(offer_id.clone());
            }
            None => {
                self.agent_offers
                    .insert(agent_id.to_owned(), BTreeSet::from([offer_id.clone()]));
            }
        }
        self.ledger
            .hold_offer(agent_id, framework_id, &offer.resources);
        self.counters.offers_made += 1;
        let multi_role = self
            .frameworks
            .get(framework_id)
            .is_some_and(|f| f.has_capability(v1::framework_info::capability::Type::MultiRole));
        // The copy sent: without MULTI_ROLE, the offered resources without allocation info
        // (`unallocate(allocate(offerable))` is `unallocate(offerable)`), so the kept offer's
        // resources are cloned only for a MULTI_ROLE framework.
        let mut offer = offer;
        let kept_resources = std::mem::take(&mut offer.resources);
        let mut sent = offer.clone();
        if multi_role {
            sent.resources = kept_resources.clone();
        } else {
            sent.allocation_info = None;
            sent.resources = resources::unallocate(offerable);
        }
        offer.resources = kept_resources;
        self.offers.insert(
            offer_id,
            Offer {
                offer,
                role: role.into(),
                expires_ms,
            },
        );
        let refinement = self.frameworks.get(framework_id).is_some_and(|f| {
            f.has_capability(v1::framework_info::capability::Type::ReservationRefinement)
        });
        if !refinement && sent.resources.iter().any(resources::is_reserved) {
            // A framework without RESERVATION_REFINEMENT reads reservations from `role` and
            // `reservation`, as Mesos sent them before refinement.
            sent.resources = sent.resources.iter().map(resources::downgrade).collect();
        }
        let mut event = scheduler_event(EventType::Offers);
        event.offers = Some(scheduler::event::Offers { offers: vec![sent] });
        self.send_to_framework(framework_id, event, out);
        true
    }

    /// Takes an offer back; with `notify`, the framework gets RESCIND (if connected).
    pub(super) fn rescind_offer(&mut self, offer_id: &str, notify: bool, out: &mut Vec<Effect>) {
        let Some(offer) = self.take_offer(offer_id) else {
            return;
        };
        self.counters.offers_rescinded += 1;
        self.allocation_dirty = true;
        if notify {
            let mut event = scheduler_event(EventType::Rescind);
            event.rescind = Some(scheduler::event::Rescind {
                offer_id: offer.offer.id,
            });
            self.send_to_framework(&offer.offer.framework_id.value, event, out);
        }
    }

    /// Rescinds every offer of an agent (it disconnected, became unreachable, was removed).
    pub(super) fn rescind_agent_offers(&mut self, agent_id: &str, out: &mut Vec<Effect>) {
        let ids: Vec<String> = self.agent_offer_ids(agent_id).cloned().collect();
        for id in ids {
            self.rescind_offer(&id, true, out);
        }
        self.filters.remove(agent_id);
    }

    /// Rescinds the expired offers; `expired` (from the timer index) is in id order.
    pub(super) fn tick_offers(
        &mut self,
        _now_ms: u64,
        expired: BTreeSet<String>,
        out: &mut Vec<Effect>,
    ) {
        for id in expired {
            self.rescind_offer(&id, true, out);
        }
    }

    fn roles_or_all(&self, framework_id: &str, roles: &[String]) -> Vec<String> {
        if roles.is_empty() {
            self.frameworks
                .get(framework_id)
                .map(|f| f.roles())
                .unwrap_or_default()
        } else {
            roles.to_vec()
        }
    }

    /// REVIVE: unsuppress the roles (all if none given) and drop their filters.
    pub(super) fn revive(&mut self, framework_id: &str, roles: &[String]) {
        let roles = self.roles_or_all(framework_id, roles);
        if let Some(fw) = self.frameworks.get_mut(framework_id) {
            for role in &roles {
                fw.suppressed_roles.remove(role);
            }
        }
        self.filters.retain(|_, filters| {
            filters.retain(|f| !(f.framework_id == framework_id && roles.contains(&f.role)));
            !filters.is_empty()
        });
        self.allocation_dirty = true;
    }

    /// SUPPRESS: no more offers for the roles (all if none given); outstanding offers stay.
    pub(super) fn suppress(&mut self, framework_id: &str, roles: &[String]) {
        let roles = self.roles_or_all(framework_id, roles);
        if let Some(fw) = self.frameworks.get_mut(framework_id) {
            fw.suppressed_roles.extend(roles);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The borrowed fast path gives exactly (order and all) what filtering a copy gives.
        #[test]
        fn offerable_to_matches_the_filtered_copy(
            available in proptest::collection::vec(
                (resources::tests::any_resource(), proptest::bool::ANY),
                0..6,
            ),
            role in proptest::sample::select(vec!["*", "web", "db"]),
            takes_revocable in proptest::bool::ANY,
        ) {
            let available: Vec<v1::Resource> = available
                .into_iter()
                .map(|(mut res, revocable)| {
                    if revocable {
                        res.revocable = Some(Default::default());
                    }
                    res
                })
                .collect();
            let filtered: Vec<v1::Resource> = available
                .iter()
                .filter(|res| {
                    let reserved = resources::reservation_role(res);
                    (reserved == resources::DEFAULT_ROLE || reserved == role)
                        && (res.revocable.is_none() || takes_revocable)
                })
                .cloned()
                .collect();
            proptest::prop_assert_eq!(&offerable_to(&available, role, takes_revocable)[..], &filtered[..]);
        }
    }
}
