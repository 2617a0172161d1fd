//! How one allocation pass honours quota, as Mesos' hierarchical allocator did since 1.9:
//!
//! * **Guarantees first.** On each agent, framework roles whose guarantee is not yet met are
//!   tried before everyone else (in DRF order among themselves), and offered the guaranteed
//!   resources only up to what the guarantee lacks; what is left on the agent then goes by DRF
//!   to everyone (the same role included, as a second offer).
//! * **Headroom.** Unreserved resources are held back so every unmet guarantee can still be
//!   met: a role may take a guaranteed resource beyond its own unmet guarantee only while what
//!   stays free in the cluster covers the other roles' unmet guarantees.
//! * **Limits.** A role is never offered unreserved scalars that would take what it consumes
//!   (tasks, offers, and reservations for it nobody uses) beyond its limit; reservations for
//!   the role are already counted, so offering them costs nothing.
//!
//! A quota covers its role's subtree: a framework role `eng/web` is served toward, and held
//! under, the quota of `eng` (quota roles are all top-level, see [`super::quota`]).
//!
//! A pass without quotas builds nothing here and allocates as before. The state is the few
//! quota roles' running consumption and the cluster's free unreserved scalars, kept up to date
//! as the pass makes offers. The guarantee stage visits only the candidates a guarantee covers,
//! each agent trims once per role (once for all the roles no quota covers), and an agent whose
//! remainder headroom holds back from every uncovered role visits only the covered candidates,
//! so a pass stays near O(agents × log frameworks + quota roles).

use std::collections::BTreeMap;

use drover_wire::v1;

use super::Master;
use super::quota::{Quantities, Quota, add_into, quantities, top_role};
use crate::resources;

/// One quota role during a pass.
#[derive(Debug)]
struct RoleState {
    quota: Quota,
    /// Tasks' and offers' scalars, plus reservations for the role that are free.
    consumed: Quantities,
}

impl RoleState {
    /// Whether the guarantee still lacks something (without building the map).
    fn has_unmet(&self) -> bool {
        self.quota
            .guarantees
            .iter()
            .any(|(name, g)| self.consumed.get(name).copied().unwrap_or(0.0) < g - 1e-9)
    }

    /// What the guarantee still lacks, per name (positive amounts only).
    fn unmet(&self) -> Quantities {
        let mut unmet = Quantities::new();
        for (name, g) in &self.quota.guarantees {
            let lack = resources::round_scalar(g - self.consumed.get(name).copied().unwrap_or(0.0));
            if lack > 0.0 {
                unmet.insert(name.clone(), lack);
            }
        }
        unmet
    }
}

/// The quota side of one allocation pass.
#[derive(Debug)]
pub(super) struct QuotaPass {
    roles: BTreeMap<String, RoleState>,
    /// Free unreserved scalars on the agents this pass may offer.
    headroom: Quantities,
}

/// The unreserved scalars of a list.
fn unreserved(list: &[v1::Resource]) -> Quantities {
    let list: Vec<v1::Resource> = list
        .iter()
        .filter(|r| !resources::is_reserved(r))
        .cloned()
        .collect();
    quantities(&list)
}

impl QuotaPass {
    /// The pass's quota state, or `None` when no role has a quota.
    pub(super) fn new(
        master: &Master,
        available_by_agent: &[(String, Vec<v1::Resource>)],
    ) -> Option<QuotaPass> {
        if master.registry.quotas.is_empty() {
            return None;
        }
        let mut headroom = Quantities::new();
        let mut free_reserved: BTreeMap<&str, Vec<v1::Resource>> = BTreeMap::new();
        for (_, available) in available_by_agent {
            add_into(&mut headroom, &unreserved(available));
            for r in available.iter().filter(|r| resources::is_reserved(r)) {
                free_reserved
                    .entry(top_role(resources::reservation_role(r)))
                    .or_default()
                    .push(r.clone());
            }
        }
        let roles = master
            .registry
            .quotas
            .iter()
            .map(|(role, quota)| {
                let mut consumed = quantities(&master.ledger.used_by_role_tree(role));
                add_into(
                    &mut consumed,
                    &quantities(&master.ledger.offered_to_role_tree(role)),
                );
                if let Some(free) = free_reserved.get(role.as_str()) {
                    add_into(&mut consumed, &quantities(free));
                }
                (
                    role.clone(),
                    RoleState {
                        quota: quota.clone(),
                        consumed,
                    },
                )
            })
            .collect();
        Some(QuotaPass { roles, headroom })
    }

    /// Whether some role's guarantee is unmet (then the pass tries those roles first).
    pub(super) fn any_unmet(&self) -> bool {
        self.roles.values().any(RoleState::has_unmet)
    }

    /// Whether `role` has a quota whose guarantee is unmet.
    pub(super) fn unmet(&self, role: &str) -> bool {
        self.roles
            .get(top_role(role))
            .is_some_and(RoleState::has_unmet)
    }

    /// Whether a quota covers `role` (its own or its top-level role's).
    pub(super) fn covers(&self, role: &str) -> bool {
        self.roles.contains_key(top_role(role))
    }

    /// Whether a guarantee covers `role` (its candidates take part in the first stage).
    pub(super) fn guaranteed(&self, role: &str) -> bool {
        self.roles
            .get(top_role(role))
            .is_some_and(|s| !s.quota.guarantees.is_empty())
    }

    /// Whether `offerable` brings `role` closer to its unmet guarantee (stage one offers only
    /// such agents to such roles, as Mesos' first stage did).
    pub(super) fn advances_guarantee(&self, role: &str, offerable: &[v1::Resource]) -> bool {
        let Some(state) = self.roles.get(top_role(role)) else {
            return false;
        };
        let unmet = state.unmet();
        quantities(offerable)
            .keys()
            .any(|name| unmet.contains_key(name))
    }

    /// Every role's unmet guarantee, summed.
    fn required(&self) -> Quantities {
        let mut total = Quantities::new();
        for s in self.roles.values() {
            add_into(&mut total, &s.unmet());
        }
        total
    }

    /// How much of each unreserved scalar `role` may be offered now: the least of its limit's
    /// room and what headroom allows. Names without a cap are absent.
    fn caps(&self, role: &str, guarantee_stage: bool) -> Quantities {
        let mut caps = Quantities::new();
        let state = self.roles.get(top_role(role));
        if let Some(state) = state {
            for (name, limit) in &state.quota.limits {
                let used = state.consumed.get(name).copied().unwrap_or(0.0);
                caps.insert(name.clone(), resources::round_scalar(limit - used).max(0.0));
            }
            if guarantee_stage {
                // The first stage serves what the guarantee lacks, no more of it (Mesos'
                // stage one); what the role may have beyond waits for the DRF stage.
                for (name, g) in &state.quota.guarantees {
                    let used = state.consumed.get(name).copied().unwrap_or(0.0);
                    let lack = resources::round_scalar(g - used).max(0.0);
                    let cap = caps.entry(name.clone()).or_insert(lack);
                    *cap = cap.min(lack);
                }
            }
        }
        let own = state.map(RoleState::unmet).unwrap_or_default();
        for (name, required) in self.required() {
            let mine = own.get(&name).copied().unwrap_or(0.0);
            let others = required - mine;
            let free = self.headroom.get(&name).copied().unwrap_or(0.0);
            // Up to its own unmet guarantee always (progress toward it); beyond that only
            // what leaves the others' unmet guarantees free.
            let room = resources::round_scalar(mine.max(free - others)).max(0.0);
            let cap = caps.entry(name).or_insert(room);
            *cap = cap.min(room);
        }
        caps
    }

    /// `offerable` cut down to what `role` may be offered (reserved resources and resources
    /// without a cap pass whole); in the guarantee stage, guaranteed resources only up to what
    /// the guarantee lacks.
    pub(super) fn trim(
        &self,
        role: &str,
        offerable: Vec<v1::Resource>,
        guarantee_stage: bool,
    ) -> Vec<v1::Resource> {
        let mut caps = self.caps(role, guarantee_stage);
        if caps.is_empty() {
            return offerable;
        }
        let mut out = Vec::with_capacity(offerable.len());
        for mut r in offerable {
            if resources::is_scalar(&r)
                && !resources::is_reserved(&r)
                && let Some(cap) = caps.get_mut(&r.name)
            {
                let value = r.scalar.as_ref().map_or(0.0, |s| s.value);
                let take = resources::round_scalar(value.min(*cap));
                *cap = resources::round_scalar(*cap - take);
                if take <= 0.0 {
                    continue;
                }
                r.scalar = Some(v1::value::Scalar { value: take });
            }
            out.push(r);
        }
        out
    }

    /// `role` was offered `offered`: its consumption grows by the unreserved scalars (the
    /// reserved ones were counted already), and so much less is free.
    pub(super) fn record(&mut self, role: &str, offered: &[v1::Resource]) {
        let taken = unreserved(offered);
        if let Some(state) = self.roles.get_mut(top_role(role)) {
            add_into(&mut state.consumed, &taken);
        }
        for (name, v) in taken {
            if let Some(free) = self.headroom.get_mut(&name) {
                *free = resources::round_scalar(*free - v).max(0.0);
            }
        }
    }
}
