//! Quota (Mesos 1.9+): per role, a guarantee (resources the allocator holds back so the role
//! can get them) and a limit (resources the role is never offered beyond). This module owns
//! the quota table's rules: validation of GET/SET/REMOVE/UPDATE_QUOTA with Mesos' messages and
//! status codes, the capacity and consumption checks (`force` skips them), the best-effort
//! rescinds after a change, the views (GET_QUOTA, `/quota`, the roles' `quota`) and the
//! invariant that no role holds offers beyond its limit. The table itself is persisted in the
//! [`super::registry`]; the allocator's side is [`super::quota_alloc`].
//!
//! Quantities are `name → value` maps of scalars (Mesos' `ResourceQuantities`). Consumption
//! follows Mesos: what the role's live tasks use plus the reservations for it that nothing
//! uses; offers do not count toward consumption but do count toward the limit the allocator
//! enforces. A quota covers the role's subtree (`eng` covers `eng/web`), as in Mesos; quota
//! cannot be set on a nested role itself (Mesos refused that too), so every quota role is a
//! top-level one.

use std::collections::BTreeMap;

use drover_wire::v1;
use drover_wire::v1::quota::{QuotaConfig, QuotaInfo, QuotaRequest, QuotaStatus};

use super::registry::RegistryOp;
use super::validation::validate_role;
use super::{AgentStatus, Effect, Master, Reply};
use crate::resources;

/// Scalar quantities by resource name.
pub type Quantities = BTreeMap<String, f64>;

/// Mesos' largest mem/disk quota: one exabyte in megabytes.
const MAX_MEGABYTES: f64 = 1_099_511_627_776.0;
/// Mesos' largest quota of any other resource: one trillion.
const MAX_OTHER: f64 = 1_000_000_000_000.0;

/// A role's quota. Both maps empty is the default (no guarantee, no limit), never stored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Quota {
    /// What the allocator tries to let the role have.
    pub guarantees: Quantities,
    /// What the role is never offered beyond; a name not listed is unlimited.
    pub limits: Quantities,
}

impl Quota {
    /// The quota a config describes.
    pub fn from_config(config: &QuotaConfig) -> Quota {
        let map = |m: &BTreeMap<String, v1::value::Scalar>| {
            m.iter()
                .map(|(name, s)| (name.clone(), resources::round_scalar(s.value)))
                .collect()
        };
        Quota {
            guarantees: map(&config.guarantees),
            limits: map(&config.limits),
        }
    }

    /// A legacy (SET_QUOTA) guarantee: it is also the limit, as Mesos 1.9+ made it.
    pub fn from_guarantee(guarantee: &[v1::Resource]) -> Quota {
        let mut guarantees = Quantities::new();
        for r in guarantee {
            *guarantees.entry(r.name.clone()).or_default() +=
                r.scalar.as_ref().map_or(0.0, |s| s.value);
        }
        for v in guarantees.values_mut() {
            *v = resources::round_scalar(*v);
        }
        Quota {
            limits: guarantees.clone(),
            guarantees,
        }
    }

    /// No guarantee and no limit.
    pub fn is_default(&self) -> bool {
        self.guarantees.is_empty() && self.limits.is_empty()
    }

    /// The config GET_QUOTA shows for `role`.
    pub fn to_config(&self, role: &str) -> QuotaConfig {
        let map = |q: &Quantities| {
            q.iter()
                .map(|(name, value)| (name.clone(), v1::value::Scalar { value: *value }))
                .collect()
        };
        QuotaConfig {
            role: role.to_owned(),
            guarantees: map(&self.guarantees),
            limits: map(&self.limits),
        }
    }

    /// The legacy info GET_QUOTA still fills: the guarantee as scalar resources.
    pub fn to_info(&self, role: &str) -> QuotaInfo {
        QuotaInfo {
            role: Some(role.to_owned()),
            principal: None,
            guarantee: self
                .guarantees
                .iter()
                .map(|(name, value)| resources::scalar_resource(name, *value))
                .collect(),
        }
    }
}

/// `outer` contains `inner` as limits do: every name `outer` lists is at least `inner`'s
/// amount (names it does not list are unlimited).
pub fn limits_contain(limits: &Quantities, inner: &Quantities) -> bool {
    limits
        .iter()
        .all(|(name, limit)| inner.get(name).copied().unwrap_or(0.0) <= *limit + 1e-9)
}

/// `outer` contains `inner` as quantities do: every name of `inner` is in `outer` at least.
pub fn quantities_contain(outer: &Quantities, inner: &Quantities) -> bool {
    inner
        .iter()
        .all(|(name, v)| *v <= outer.get(name).copied().unwrap_or(0.0) + 1e-9)
}

/// Adds `b` into `a`.
pub fn add_into(a: &mut Quantities, b: &Quantities) {
    for (name, v) in b {
        let sum = a.entry(name.clone()).or_default();
        *sum = resources::round_scalar(*sum + v);
    }
}

/// The scalars of a resource list as quantities (every role, zero entries dropped).
pub fn quantities(list: &[v1::Resource]) -> Quantities {
    let mut q = Quantities::new();
    for r in list.iter().filter(|r| resources::is_scalar(r)) {
        *q.entry(r.name.clone()).or_default() += r.scalar.as_ref().map_or(0.0, |s| s.value);
    }
    q.retain(|_, v| {
        *v = resources::round_scalar(*v);
        *v > 0.0
    });
    q
}

/// Mesos' text for quantities: `cpus:1; mem:1024` (`{}` for none).
pub fn display(q: &Quantities) -> String {
    if q.is_empty() {
        return "{}".into();
    }
    q.iter()
        .map(|(name, v)| format!("{name}:{v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Whether `role` is `quota_role` or one of its subroles.
pub fn in_tree(role: &str, quota_role: &str) -> bool {
    role == quota_role
        || role
            .strip_prefix(quota_role)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The top-level role of a (possibly nested) role: the one whose quota covers it.
pub fn top_role(role: &str) -> &str {
    role.split('/').next().unwrap_or(role)
}

/// Whether an offer holds unreserved scalars of one of `names`.
fn breaks_limit(offer: &v1::Offer, names: &[String]) -> bool {
    !names.is_empty()
        && offer.resources.iter().any(|r| {
            resources::is_scalar(r)
                && !resources::is_reserved(r)
                && names.contains(&r.name)
                && r.scalar.as_ref().is_some_and(|s| s.value > 0.0)
        })
}

/// An operator's quota call, already decoded.
#[derive(Debug, Clone)]
pub enum QuotaCall {
    /// UPDATE_QUOTA: every config applies, or none.
    Update {
        force: bool,
        configs: Vec<QuotaConfig>,
    },
    /// SET_QUOTA or `POST /quota`.
    Set(QuotaRequest),
    /// REMOVE_QUOTA, or `DELETE /quota/<role>` (then `path` is the request's path, which
    /// Mesos' messages name).
    Remove { role: String, path: Option<String> },
}

/// Mesos' `validateInputScalarValue`.
fn check_scalar(value: f64) -> Result<(), &'static str> {
    if value.is_nan() {
        Err("NaN not supported")
    } else if value.is_infinite() {
        Err("Infinite values not supported")
    } else if value != 0.0 && !value.is_normal() {
        Err("Subnormal values not supported")
    } else if value < 0.0 {
        Err("Negative values not supported")
    } else {
        Ok(())
    }
}

/// Mesos' `quota::validate(QuotaConfig)`.
pub fn validate_config(config: &QuotaConfig) -> Result<(), String> {
    validate_role(&config.role).map_err(|e| format!("Invalid 'QuotaConfig.role': {e}"))?;
    for (field, map) in [
        ("guarantees", &config.guarantees),
        ("limits", &config.limits),
    ] {
        for (name, s) in map {
            let (max, what) = if name == "mem" || name == "disk" {
                (MAX_MEGABYTES, "1 exabyte")
            } else {
                (MAX_OTHER, "1 trillion")
            };
            if s.value > max {
                return Err(format!(
                    "Invalid 'QuotaConfig.{field}': {{'{name}': {}}} is invalid: values \
                     greater than {what} ({max}) are not supported",
                    s.value
                ));
            }
        }
    }
    for (field, map) in [("guarantee", &config.guarantees), ("limit", &config.limits)] {
        for (name, s) in map {
            check_scalar(s.value).map_err(|e| {
                format!(
                    "Invalid {field} configuration {{'{name}': {}}}: {e}",
                    s.value
                )
            })?;
        }
    }
    let quota = Quota::from_config(config);
    if !limits_contain(&quota.limits, &quota.guarantees) {
        return Err(format!(
            "'QuotaConfig.guarantees' {} is not contained within the 'QuotaConfig.limits' {}",
            display(&quota.guarantees),
            display(&quota.limits)
        ));
    }
    Ok(())
}

/// Mesos' `quota::validation::quotaInfo` over a SET_QUOTA request (after the resources
/// themselves were found valid).
pub fn validate_request(request: &QuotaRequest) -> Result<(), String> {
    let Some(role) = &request.role else {
        return Err("QuotaInfo must specify a role".into());
    };
    validate_role(role).map_err(|e| format!("QuotaInfo with invalid role: {e}"))?;
    if request.guarantee.is_empty() {
        return Err("QuotaInfo with empty 'guarantee'".into());
    }
    let mut names = std::collections::BTreeSet::new();
    for r in &request.guarantee {
        if resources::is_reserved(r) {
            return Err("QuotaInfo must not contain any ReservationInfo".into());
        }
        if r.disk.is_some() {
            return Err("QuotaInfo must not contain DiskInfo".into());
        }
        if r.revocable.is_some() {
            return Err("QuotaInfo must not contain RevocableInfo".into());
        }
        if !resources::is_scalar(r) {
            return Err("QuotaInfo must not include non-scalar resources".into());
        }
        if !names.insert(r.name.as_str()) {
            return Err(format!(
                "QuotaInfo contains duplicate resource name '{}'",
                r.name
            ));
        }
    }
    Ok(())
}

impl Master {
    /// The quota table: every role with a non-default quota.
    pub fn quotas(&self) -> &BTreeMap<String, Quota> {
        &self.registry.quotas
    }

    /// GET_QUOTA (and `GET /quota`): the legacy infos and the configs, in role order.
    #[allow(deprecated)] // `infos`: Mesos still fills it for older tools.
    pub fn quota_status(&self) -> QuotaStatus {
        QuotaStatus {
            infos: self
                .registry
                .quotas
                .iter()
                .map(|(role, q)| q.to_info(role))
                .collect(),
            configs: self
                .registry
                .quotas
                .iter()
                .map(|(role, q)| q.to_config(role))
                .collect(),
        }
    }

    /// Mesos' quota metrics: `allocator/mesos/quota/roles/<role>/resources/<name>/guarantee`
    /// and `.../limit`, one per configured quantity.
    pub fn quota_metrics(&self) -> Vec<(String, f64)> {
        let mut out = Vec::new();
        for (role, quota) in &self.registry.quotas {
            for (kind, map) in [("guarantee", &quota.guarantees), ("limit", &quota.limits)] {
                for (name, value) in map {
                    out.push((
                        format!("allocator/mesos/quota/roles/{role}/resources/{name}/{kind}"),
                        *value,
                    ));
                }
            }
        }
        out
    }

    /// What a role consumes of its quota (Mesos' `consumedQuota`): the scalars its live tasks
    /// use, plus the reservations for it on registered agents that no task or executor uses.
    pub fn quota_consumed(&self, role: &str) -> Quantities {
        let mut consumed = quantities(&self.ledger.used_by_role_tree(role));
        add_into(&mut consumed, &self.unallocated_reservations(role));
        consumed
    }

    /// Reservations for `role` (or a subrole) on registered agents that no task or executor
    /// uses.
    fn unallocated_reservations(&self, role: &str) -> Quantities {
        let mut out = Quantities::new();
        if role == resources::DEFAULT_ROLE {
            return out;
        }
        let reserved = |list: &[v1::Resource]| -> Vec<v1::Resource> {
            list.iter()
                .filter(|r| in_tree(resources::reservation_role(r), role))
                .cloned()
                .collect()
        };
        for (id, agent) in &self.agents {
            let total = reserved(&agent.info.resources);
            if total.is_empty() {
                continue;
            }
            let free = resources::subtract(&total, &reserved(&self.agent_used(id)));
            add_into(&mut out, &quantities(&free));
        }
        out
    }

    /// The scalar capacity Mesos checks guarantees against: the non-revocable scalars of the
    /// registered agents, connected or not (recovered agents that have not come back are left
    /// out, as Mesos left them out).
    fn quota_capacity(&self) -> Quantities {
        let mut capacity = Quantities::new();
        for agent in self.agents.values() {
            if agent.status == AgentStatus::Recovered {
                continue;
            }
            let non_revocable: Vec<v1::Resource> = agent
                .info
                .resources
                .iter()
                .filter(|r| r.revocable.is_none())
                .cloned()
                .collect();
            add_into(&mut capacity, &quantities(&non_revocable));
        }
        capacity
    }

    /// The sum of every role's guarantee, with `changes` applied on top of the table.
    fn total_guarantees(&self, changes: &[(String, Quota)]) -> Quantities {
        let mut table = self.registry.quotas.clone();
        for (role, quota) in changes {
            table.insert(role.clone(), quota.clone());
        }
        let mut total = Quantities::new();
        for quota in table.values() {
            add_into(&mut total, &quota.guarantees);
        }
        total
    }

    /// Decides an operator's quota call: validation, then persist, then rescinds.
    pub(super) fn quota_call(&mut self, call: QuotaCall, out: &mut Vec<Effect>) -> Reply {
        match call {
            QuotaCall::Update { force, configs } => self.update_quota(force, configs, out),
            QuotaCall::Set(request) => self.set_quota(request, out),
            QuotaCall::Remove { role, path } => self.remove_quota(role, path, out),
        }
    }

    fn update_quota(
        &mut self,
        force: bool,
        configs: Vec<QuotaConfig>,
        out: &mut Vec<Effect>,
    ) -> Reply {
        for config in &configs {
            if config.role.contains('/') {
                return Reply::error(
                    400,
                    format!(
                        "Updating quota on nested role '{}' is not supported yet",
                        config.role
                    ),
                );
            }
            if let Err(e) = validate_config(config) {
                return Reply::error(400, format!("Invalid QuotaConfig: {e}"));
            }
        }
        let changes: Vec<(String, Quota)> = configs
            .iter()
            .map(|c| (c.role.clone(), Quota::from_config(c)))
            .collect();
        for (role, quota) in &changes {
            let consumed = self.quota_consumed(role);
            if !force && !limits_contain(&quota.limits, &consumed) {
                return Reply::error(
                    400,
                    format!(
                        "Invalid QuotaConfig: Role '{role}' is already consuming '{}'; this \
                         is more than the requested limits '{}' (use 'force' flag to bypass \
                         this check)",
                        display(&consumed),
                        display(&quota.limits)
                    ),
                );
            }
        }
        let total = self.total_guarantees(&changes);
        let capacity = self.quota_capacity();
        if !force && !quantities_contain(&capacity, &total) {
            return Reply::error(
                400,
                format!(
                    "Invalid QuotaConfig: total quota guarantees '{}' exceed cluster capacity \
                     '{}' (use 'force' flag to bypass this check)",
                    display(&total),
                    display(&capacity)
                ),
            );
        }
        self.apply_quota(changes, out);
        Reply::Ok
    }

    fn set_quota(&mut self, request: QuotaRequest, out: &mut Vec<Effect>) -> Reply {
        const PREFIX: &str = "Failed to validate set quota request";
        for r in &request.guarantee {
            if let Err(e) = resources::validate(r) {
                return Reply::error(
                    400,
                    format!("{PREFIX}: QuotaInfo with invalid resource: {e}"),
                );
            }
        }
        if let Err(e) = validate_request(&request) {
            return Reply::error(400, format!("{PREFIX}: {e}"));
        }
        let role = request.role.clone().unwrap_or_default();
        if self.registry.quotas.contains_key(&role) {
            return Reply::error(
                400,
                format!("{PREFIX}: Cannot set quota for role '{role}' which already has quota"),
            );
        }
        if role.contains('/') {
            return Reply::error(
                400,
                format!("Setting quota on nested role '{role}' is not supported yet"),
            );
        }
        let quota = Quota::from_guarantee(&request.guarantee);
        let changes = vec![(role, quota)];
        if !request.force.unwrap_or(false) {
            let total = self.total_guarantees(&changes);
            let capacity = self.quota_capacity();
            if !quantities_contain(&capacity, &total) {
                return Reply::error(
                    409,
                    format!(
                        "Quota guarantees overcommit the cluster (use 'force' to bypass this \
                         check): Total quota guarantees '{}' exceed cluster capacity '{}'",
                        display(&total),
                        display(&capacity)
                    ),
                );
            }
        }
        self.apply_quota(changes, out);
        Reply::Ok
    }

    fn remove_quota(&mut self, role: String, path: Option<String>, out: &mut Vec<Effect>) -> Reply {
        if let Some(path) = &path
            && let Err(e) = validate_role(&role)
        {
            return Reply::error(
                400,
                format!("Failed to validate remove quota request for path '{path}': {e}"),
            );
        }
        if !self.registry.quotas.contains_key(&role) {
            let message = match &path {
                Some(path) => {
                    format!(
                        "Failed to remove quota for path '{path}': Role '{role}' has no quota set"
                    )
                }
                None => format!("Failed to remove quota: Role '{role}' has no quota set"),
            };
            return Reply::error(400, message);
        }
        self.apply_quota(vec![(role, Quota::default())], out);
        Reply::Ok
    }

    /// Persists the changes, then rescinds offers so limits hold and guarantees can be met
    /// (best effort, as Mesos: the next allocation passes do the rest).
    fn apply_quota(&mut self, changes: Vec<(String, Quota)>, out: &mut Vec<Effect>) {
        if changes.is_empty() {
            return;
        }
        self.persist(RegistryOp::UpdateQuota(changes.clone()), out);
        for (role, quota) in &changes {
            self.rescind_for_quota(role, quota, out);
        }
        self.allocation_dirty = true;
    }

    fn rescind_for_quota(&mut self, role: &str, quota: &Quota, out: &mut Vec<Effect>) {
        if quota.is_default() {
            return;
        }
        let mut held = self.quota_consumed(role);
        add_into(
            &mut held,
            &quantities(&self.ledger.offered_to_role_tree(role)),
        );
        // Its own offers (and its subroles'), until the limit holds.
        let own: Vec<String> = self
            .offers
            .iter()
            .filter(|(_, o)| in_tree(&o.role, role))
            .map(|(id, _)| id.clone())
            .collect();
        for id in own {
            if limits_contain(&quota.limits, &held) {
                break;
            }
            if let Some(offer) = self.offers.get(&id) {
                for (name, v) in quantities(&offer.offer.resources) {
                    if let Some(h) = held.get_mut(&name) {
                        *h = resources::round_scalar(*h - v);
                    }
                }
            }
            self.rescind_offer(&id, true, out);
        }
        // Other roles' offers, until what the role holds plus what was freed covers its
        // guarantee (Mesos assumes nothing else is free, so it tends to over-rescind).
        let others: Vec<String> = self
            .offers
            .iter()
            .filter(|(_, o)| !in_tree(&o.role, role))
            .map(|(id, _)| id.clone())
            .collect();
        for id in others {
            if quantities_contain(&held, &quota.guarantees) {
                break;
            }
            if let Some(offer) = self.offers.get(&id) {
                let unreserved: Vec<v1::Resource> = offer
                    .offer
                    .resources
                    .iter()
                    .filter(|r| !resources::is_reserved(r))
                    .cloned()
                    .collect();
                add_into(&mut held, &quantities(&unreserved));
            }
            self.rescind_offer(&id, true, out);
        }
    }

    /// Rescinds offers of roles whose tasks and offers together exceed a limit (tasks on an
    /// agent that came back can push a role over). Costs O(quota roles) unless one is over.
    pub(super) fn enforce_quota_limits(&mut self, out: &mut Vec<Effect>) {
        if self.registry.quotas.is_empty() {
            return;
        }
        let over: Vec<String> = self
            .registry
            .quotas
            .iter()
            .filter(|(role, q)| self.role_over_limit(role, q).is_some())
            .map(|(role, _)| role.clone())
            .collect();
        for role in over {
            while let Some(quota) = self.registry.quotas.get(&role) {
                let over = self.over_limit_names(&role, quota);
                let next = self
                    .offers
                    .iter()
                    .find(|(_, o)| in_tree(&o.role, &role) && breaks_limit(&o.offer, &over))
                    .map(|(id, _)| id.clone());
                match next {
                    Some(id) => self.rescind_offer(&id, true, out),
                    None => break,
                }
            }
        }
    }

    /// The limited names whose tasks and offers in the role's tree exceed the limit while
    /// offers hold some (cheap: the ledger's sums).
    fn over_limit_names(&self, role: &str, quota: &Quota) -> Vec<String> {
        if quota.limits.is_empty() {
            return Vec::new();
        }
        let offered = quantities(&self.ledger.offered_to_role_tree(role));
        if offered.is_empty() {
            return Vec::new();
        }
        let mut held = quantities(&self.ledger.used_by_role_tree(role));
        add_into(&mut held, &offered);
        quota
            .limits
            .iter()
            .filter(|(name, limit)| {
                offered.get(*name).copied().unwrap_or(0.0) > 0.0
                    && held.get(*name).copied().unwrap_or(0.0) > **limit + 1e-9
            })
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// An offer in the role's tree of unreserved resources beyond its limit: what
    /// [`Master::check_quota_limits`] forbids. Reservations for the role are always its to
    /// be offered (they already count as consumed), so they never break a limit. Scans the
    /// role's offers only when the ledger's sums show it over.
    fn role_over_limit(&self, role: &str, quota: &Quota) -> Option<String> {
        let over = self.over_limit_names(role, quota);
        if over.is_empty() {
            return None;
        }
        self.offers
            .iter()
            .find(|(_, o)| in_tree(&o.role, role) && breaks_limit(&o.offer, &over))
            .map(|(id, _)| format!("offer {id} holds unreserved {}", over.join(", ")))
    }

    /// The quota invariant: no role is offered a resource beyond its limit (its tasks alone may
    /// exceed it, after a forced lower limit or an agent's return, as in Mesos).
    pub(super) fn check_quota_limits(&self) -> Result<(), String> {
        for (role, quota) in &self.registry.quotas {
            if let Some(what) = self.role_over_limit(role, quota) {
                return Err(format!(
                    "role {role} is offered beyond its quota limit ({what})"
                ));
            }
        }
        Ok(())
    }
}
