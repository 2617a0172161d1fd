//! The master's authorization: `--acls` in Mesos' JSON format, evaluated as Mesos' local
//! authorizer did (the first ACL whose subject and object match decides; none → `permissive`).
//! Drover enforces `register_frameworks` (principal → roles, at SUBSCRIBE),
//! `teardown_frameworks` (principal → the framework's principal, for the operator's
//! TEARDOWN) and `run_tasks` (principal → user, decided by the core at each launch:
//! TASK_ERROR / REASON_TASK_UNAUTHORIZED), `view_frameworks`, `view_tasks` and
//! `view_executors` (principal → user, filtering reads: `crate::view`), `get_endpoints`
//! (principal → paths: `/metrics/snapshot` and the operator's GET_METRICS, the one
//! authorizable endpoint the master serves), `update_quotas` (principal → roles: every quota
//! change), `get_quotas` and `view_roles` (principal → roles, filtering GET_QUOTA and
//! `/quota`, GET_ROLES and `/roles`), and the kinds whose object is only ANY or NONE
//! ([`SWITCHES`]: flags, marking agents gone, the maintenance calls, draining, deactivating and
//! reactivating agents, setting the log level). Any other ACL kind is refused at start with a
//! message naming it and why, so an ACL is never accepted without effect.

use std::sync::Arc;

use axum::http::StatusCode;
use drover_core::acl::{Acl, Entity, RunTasks, approved};
use drover_http::HttpError;
use drover_http::acls as read;
use drover_http::auth::Principal;

use crate::routes::AppState;

/// The parsed `--acls`.
#[derive(Debug, Clone, Default)]
pub struct Acls {
    permissive: bool,
    register_frameworks: Vec<Acl>,
    teardown_frameworks: Vec<Acl>,
    /// `None` when `--acls` has no `run_tasks` (then only `permissive`'s default of true
    /// would apply, which lets everything through: the core skips the check).
    run_tasks: Option<Vec<Acl>>,
    /// principal → framework user (`crate::view`).
    view_frameworks: Vec<Acl>,
    /// principal → task user.
    view_tasks: Vec<Acl>,
    /// principal → executor user.
    view_executors: Vec<Acl>,
    /// The kinds whose object can only be ANY or NONE ([`SWITCHES`]), by name.
    switches: std::collections::BTreeMap<&'static str, Vec<Acl>>,
    /// principal → endpoint paths.
    get_endpoints: Vec<Acl>,
    /// principal → roles: UPDATE_QUOTA, SET_QUOTA, REMOVE_QUOTA and the legacy `/quota` writes.
    update_quotas: Vec<Acl>,
    /// principal → roles: which roles' quota GET_QUOTA and `GET /quota` show.
    get_quotas: Vec<Acl>,
    /// principal → roles: which roles GET_ROLES and `/roles` show.
    view_roles: Vec<Acl>,
    /// The ACLs of RESERVE/UNRESERVE/CREATE/DESTROY (roles, reserver principals, roles,
    /// creator principals), decided by the core for frameworks and operators alike.
    reserve_resources: Vec<Acl>,
    unreserve_resources: Vec<Acl>,
    create_volumes: Vec<Acl>,
    destroy_volumes: Vec<Acl>,
    /// principal → roles: GROW_VOLUME and SHRINK_VOLUME.
    resize_volumes: Vec<Acl>,
    /// Whether `--acls` named any of those five.
    has_operation_acls: bool,
}

/// ACL kinds whose object Mesos allowed only to be ANY or NONE (there is no value to name),
/// with that object's field: the operator calls they decide.
pub const SWITCHES: &[(&str, &str)] = &[
    ("view_flags", "flags"),
    ("mark_agents_gone", "agents"),
    ("update_maintenance_schedules", "machines"),
    ("get_maintenance_schedules", "machines"),
    ("start_maintenances", "machines"),
    ("stop_maintenances", "machines"),
    ("get_maintenance_statuses", "machines"),
    ("drain_agents", "agents"),
    ("deactivate_agents", "agents"),
    ("reactivate_agents", "agents"),
    ("set_log_level", "level"),
    ("access_mesos_logs", "logs"),
];

/// ACL kinds Mesos had that Drover does not enforce yet: refused rather than ignored.
const NOT_ENFORCED: &[(&str, &str)] = &[
    (
        "access_sandboxes",
        "it is an agent ACL: give it to the agents' --acls",
    ),
    (
        "set_quotas",
        "deprecated since Mesos 1.9: use update_quotas, which decides every quota change here",
    ),
    (
        "remove_quotas",
        "deprecated since Mesos 1.9: use update_quotas, which decides every quota change here",
    ),
    ("update_weights", "role weights cannot be changed in Drover"),
    (
        "register_agents",
        "agents are authenticated (--authenticate_agents) but not authorized",
    ),
    (
        "launch_nested_containers",
        "it is an agent ACL: give it to the agents' --acls",
    ),
];

impl Acls {
    /// Parses `--acls`: the JSON itself, or a path (or `file://` URL) of a file holding it.
    pub fn load(flag: &str) -> Result<Acls, String> {
        let object = read::read(flag)?;
        Acls::from_object(&object).map_err(|e| format!("--acls: {e}"))
    }

    /// Parses the JSON of `--acls`.
    pub fn parse(text: &str) -> Result<Acls, String> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
        let object = value.as_object().ok_or("must be a JSON object")?;
        Acls::from_object(object)
    }

    fn from_object(object: &serde_json::Map<String, serde_json::Value>) -> Result<Acls, String> {
        let mut acls = Acls {
            permissive: true,
            ..Acls::default()
        };
        for (key, value) in object {
            match key.as_str() {
                "permissive" => acls.permissive = read::permissive(value)?,
                "register_frameworks" => {
                    acls.register_frameworks = read::list(value, key, "principals", "roles")?;
                }
                "teardown_frameworks" => {
                    acls.teardown_frameworks =
                        read::list(value, key, "principals", "framework_principals")?;
                }
                "run_tasks" => acls.run_tasks = Some(read::run_tasks(value)?),
                "view_frameworks" => {
                    acls.view_frameworks = read::list(value, key, "principals", "users")?;
                }
                "view_tasks" => acls.view_tasks = read::list(value, key, "principals", "users")?,
                "view_executors" => {
                    acls.view_executors = read::list(value, key, "principals", "users")?;
                }
                "get_endpoints" => {
                    acls.get_endpoints = read::list(value, key, "principals", "paths")?;
                }
                "update_quotas" => {
                    acls.update_quotas = read::list(value, key, "principals", "roles")?;
                }
                "get_quotas" => acls.get_quotas = read::list(value, key, "principals", "roles")?,
                "view_roles" => acls.view_roles = read::list(value, key, "principals", "roles")?,
                "reserve_resources" => {
                    acls.reserve_resources = read::list(value, key, "principals", "roles")?;
                    acls.has_operation_acls = true;
                }
                "unreserve_resources" => {
                    acls.unreserve_resources =
                        read::list(value, key, "principals", "reserver_principals")?;
                    acls.has_operation_acls = true;
                }
                "create_volumes" => {
                    acls.create_volumes = read::list(value, key, "principals", "roles")?;
                    acls.has_operation_acls = true;
                }
                "destroy_volumes" => {
                    acls.destroy_volumes =
                        read::list(value, key, "principals", "creator_principals")?;
                    acls.has_operation_acls = true;
                }
                "resize_volumes" => {
                    acls.resize_volumes = read::list(value, key, "principals", "roles")?;
                    acls.has_operation_acls = true;
                }
                other => {
                    if let Some((name, object)) = SWITCHES.iter().find(|(name, _)| *name == other) {
                        acls.switches
                            .insert(name, read::any_or_none(value, key, object)?);
                        continue;
                    }
                    if let Some((_, why)) = NOT_ENFORCED.iter().find(|(name, _)| *name == other) {
                        return Err(format!(
                            "the '{other}' ACL is not supported by Drover's master: {why}"
                        ));
                    }
                    return Err(format!("unknown ACL '{other}'"));
                }
            }
        }
        Ok(acls)
    }

    /// The `run_tasks` rules for the core, when `--acls` constrains launches at all (it does
    /// when it lists `run_tasks` or is not permissive).
    pub fn run_tasks(&self) -> Option<RunTasks> {
        if self.run_tasks.is_none() && self.permissive {
            return None;
        }
        Some(RunTasks {
            acls: self.run_tasks.clone().unwrap_or_default(),
            permissive: self.permissive,
        })
    }

    /// The reservation and volume ACLs for the core, when `--acls` constrains them (it does
    /// when it names one of them or is not permissive).
    pub fn operation_acls(&self) -> Option<drover_core::acl::OperationAcls> {
        if !self.has_operation_acls && self.permissive {
            return None;
        }
        let rules = |acls: &Vec<Acl>| RunTasks {
            acls: acls.clone(),
            permissive: self.permissive,
        };
        Some(drover_core::acl::OperationAcls {
            reserve: rules(&self.reserve_resources),
            unreserve: rules(&self.unreserve_resources),
            create: rules(&self.create_volumes),
            destroy: rules(&self.destroy_volumes),
            resize: rules(&self.resize_volumes),
        })
    }

    /// Whether `principal` may register a framework with `role`.
    pub fn may_register(&self, principal: Option<&str>, role: &str) -> bool {
        self.approved(
            &self.register_frameworks,
            &subject(principal),
            &Entity::Some(vec![role.to_owned()]),
        )
    }

    /// Whether `principal` may tear down a framework registered by `owner`.
    pub fn may_teardown(&self, principal: Option<&str>, owner: Option<&str>) -> bool {
        self.approved(
            &self.teardown_frameworks,
            &subject(principal),
            &subject(owner),
        )
    }

    /// Whether reads must be filtered at all: some view ACL is given, or `permissive` is
    /// false (then a principal no view ACL matches sees nothing, as in Mesos).
    pub fn restricts_views(&self) -> bool {
        !self.permissive
            || !self.view_frameworks.is_empty()
            || !self.view_tasks.is_empty()
            || !self.view_executors.is_empty()
    }

    /// Whether `principal` may see a framework whose user is `user`.
    pub fn may_view_framework(&self, principal: Option<&str>, user: &str) -> bool {
        self.approved(
            &self.view_frameworks,
            &subject(principal),
            &user_entity(user),
        )
    }

    /// Whether `principal` may see a task running as `user`.
    pub fn may_view_task(&self, principal: Option<&str>, user: &str) -> bool {
        self.approved(&self.view_tasks, &subject(principal), &user_entity(user))
    }

    /// Whether `principal` may see an executor running as `user`.
    pub fn may_view_executor(&self, principal: Option<&str>, user: &str) -> bool {
        self.approved(
            &self.view_executors,
            &subject(principal),
            &user_entity(user),
        )
    }

    /// Whether `principal` may read the master's flags.
    pub fn may_view_flags(&self, principal: Option<&str>) -> bool {
        self.may("view_flags", principal)
    }

    /// Whether `principal` may mark an agent gone.
    pub fn may_mark_agent_gone(&self, principal: Option<&str>) -> bool {
        self.may("mark_agents_gone", principal)
    }

    /// Whether `principal` may do what the ANY/NONE ACL `kind` (one of [`SWITCHES`]) decides.
    pub fn may(&self, kind: &str, principal: Option<&str>) -> bool {
        let acls = self.switches.get(kind).map(Vec::as_slice).unwrap_or(&[]);
        self.approved(acls, &subject(principal), &Entity::Any)
    }

    /// Whether `principal` may change the quota of `role`.
    pub fn may_update_quota(&self, principal: Option<&str>, role: &str) -> bool {
        self.approved(&self.update_quotas, &subject(principal), &role_entity(role))
    }

    /// Whether `principal` may see the quota of `role`.
    pub fn may_get_quota(&self, principal: Option<&str>, role: &str) -> bool {
        self.approved(&self.get_quotas, &subject(principal), &role_entity(role))
    }

    /// Whether `principal` may see `role`.
    pub fn may_view_role(&self, principal: Option<&str>, role: &str) -> bool {
        self.approved(&self.view_roles, &subject(principal), &role_entity(role))
    }

    /// Whether `principal` may GET the endpoint at `path` (Mesos authorized only some
    /// endpoints this way; the master's is `/metrics/snapshot`).
    pub fn may_get_endpoint(&self, principal: Option<&str>, path: &str) -> bool {
        self.approved(
            &self.get_endpoints,
            &subject(principal),
            &Entity::Some(vec![path.to_owned()]),
        )
    }

    fn approved(&self, acls: &[Acl], subject: &Entity, object: &Entity) -> bool {
        approved(acls, self.permissive, subject, object)
    }
}

/// An object that is a role.
fn role_entity(role: &str) -> Entity {
    Entity::Some(vec![role.to_owned()])
}

/// An object that is a user name (an empty one, unknown, matches only ANY).
fn user_entity(user: &str) -> Entity {
    if user.is_empty() {
        Entity::Any
    } else {
        Entity::Some(vec![user.to_owned()])
    }
}

/// A request's subject: its principal, or ANY for an unauthenticated request (as Mesos).
fn subject(principal: Option<&str>) -> Entity {
    Entity::principal(principal)
}

/// The roles a SUBSCRIBE asks for: `roles` (MULTI_ROLE), else `role`, else `*`.
// `role` is deprecated in the protocol but still what frameworks without MULTI_ROLE send.
#[allow(deprecated)]
pub fn framework_roles(info: &drover_wire::v1::FrameworkInfo) -> Vec<String> {
    if !info.roles.is_empty() {
        return info.roles.clone();
    }
    vec![info.role.clone().unwrap_or_else(|| "*".to_owned())]
}

/// 403 unless `principal` may register a framework with every role it asks for.
pub fn authorize_subscribe(
    acls: &Acls,
    principal: Option<&Principal>,
    info: &drover_wire::v1::FrameworkInfo,
) -> Result<(), HttpError> {
    let name = principal.map(|p| p.0.as_str());
    let denied: Vec<String> = framework_roles(info)
        .into_iter()
        .filter(|role| !acls.may_register(name, role))
        .collect();
    if denied.is_empty() {
        return Ok(());
    }
    Err(HttpError::new(
        StatusCode::FORBIDDEN,
        format!(
            "Not authorized to register a framework with role(s) '{}' as principal '{}'",
            denied.join(","),
            name.unwrap_or("ANY")
        ),
    ))
}

/// `view_flags` for a request: Ok, or 403 naming the principal.
pub fn authorize_view_flags(
    acls: Option<&Arc<Acls>>,
    principal: Option<&Principal>,
) -> Result<(), HttpError> {
    authorize_switch(acls, principal, "view_flags", "view the flags")
}

/// `mark_agents_gone` for a request: Ok, or 403 naming the principal.
pub fn authorize_mark_agent_gone(
    acls: Option<&Arc<Acls>>,
    principal: Option<&Principal>,
) -> Result<(), HttpError> {
    authorize_switch(acls, principal, "mark_agents_gone", "mark agents gone")
}

/// The ANY/NONE ACL `kind` (one of [`SWITCHES`]) for a request: Ok, or 403 naming the
/// principal, what it may not do, and the ACL.
pub fn authorize_switch(
    acls: Option<&Arc<Acls>>,
    principal: Option<&Principal>,
    kind: &str,
    action: &str,
) -> Result<(), HttpError> {
    authorize(
        acls,
        principal,
        |acls, name| acls.may(kind, name),
        action,
        kind,
    )
}

/// `update_quotas` for a change of the quota of `roles`: Ok, or 403 naming the roles refused.
pub fn authorize_update_quota<'a>(
    acls: Option<&Arc<Acls>>,
    principal: Option<&Principal>,
    roles: impl IntoIterator<Item = &'a str>,
) -> Result<(), HttpError> {
    let Some(acls) = acls else { return Ok(()) };
    let name = principal.map(|p| p.0.as_str());
    let denied: Vec<&str> = roles
        .into_iter()
        .filter(|role| !acls.may_update_quota(name, role))
        .collect();
    if denied.is_empty() {
        return Ok(());
    }
    Err(HttpError::new(
        StatusCode::FORBIDDEN,
        format!(
            "Not authorized to update the quota of role(s) '{}' as principal '{}' (update_quotas)",
            denied.join(","),
            name.unwrap_or("ANY")
        ),
    ))
}

/// `get_endpoints` for a GET of `path`: Ok, or 403 naming the principal and the path.
pub fn authorize_get_endpoint(
    acls: Option<&Arc<Acls>>,
    principal: Option<&Principal>,
    path: &str,
) -> Result<(), HttpError> {
    authorize(
        acls,
        principal,
        |acls, name| acls.may_get_endpoint(name, path),
        &format!("GET {path}"),
        "get_endpoints",
    )
}

/// Who is calling, and the ACLs that decide for them: what the operator handlers carry from
/// the request's extensions (both absent without `--acls` / authentication).
#[derive(Clone, Debug, Default)]
pub struct Caller {
    /// `--acls`, when given.
    pub acls: Option<Arc<Acls>>,
    /// The authenticated principal, if any.
    pub principal: Option<Principal>,
}

impl Caller {
    /// The caller of a request, from the extensions the master's layers put there.
    pub fn of(extensions: &axum::http::Extensions) -> Caller {
        Caller {
            acls: extensions.get::<Arc<Acls>>().cloned(),
            principal: extensions.get::<Principal>().cloned(),
        }
    }

    fn name(&self) -> Option<&str> {
        self.principal.as_ref().map(|p| p.0.as_str())
    }

    /// [`authorize_switch`] for this caller.
    pub fn switch(&self, kind: &str, action: &str) -> Result<(), HttpError> {
        authorize_switch(self.acls.as_ref(), self.principal.as_ref(), kind, action)
    }

    /// Whether the ANY/NONE ACL `kind` lets this caller through (for reads that are filtered
    /// rather than refused).
    pub fn may(&self, kind: &str) -> bool {
        self.acls
            .as_ref()
            .is_none_or(|acls| acls.may(kind, self.name()))
    }

    /// [`authorize_update_quota`] for this caller.
    pub fn update_quota<'a>(
        &self,
        roles: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), HttpError> {
        authorize_update_quota(self.acls.as_ref(), self.principal.as_ref(), roles)
    }

    /// Whether this caller may see the quota of `role`.
    pub fn may_get_quota(&self, role: &str) -> bool {
        self.acls
            .as_ref()
            .is_none_or(|acls| acls.may_get_quota(self.name(), role))
    }

    /// Whether this caller may see `role`.
    pub fn may_view_role(&self, role: &str) -> bool {
        self.acls
            .as_ref()
            .is_none_or(|acls| acls.may_view_role(self.name(), role))
    }
}

/// One ACL check for a request: Ok, or 403 saying what was refused, to whom, and which ACL
/// kind decided.
fn authorize(
    acls: Option<&Arc<Acls>>,
    principal: Option<&Principal>,
    may: impl Fn(&Acls, Option<&str>) -> bool,
    action: &str,
    kind: &str,
) -> Result<(), HttpError> {
    let name = principal.map(|p| p.0.as_str());
    match acls {
        Some(acls) if !may(acls, name) => Err(HttpError::new(
            StatusCode::FORBIDDEN,
            format!(
                "Not authorized to {action} as principal '{}' ({kind})",
                name.unwrap_or("ANY")
            ),
        )),
        _ => Ok(()),
    }
}

/// 403 unless `principal` may tear down `framework_id` (an unknown framework passes through to
/// the usual answer).
pub async fn authorize_teardown(
    state: &AppState,
    acls: &Arc<Acls>,
    principal: Option<&Principal>,
    framework_id: &str,
) -> Result<(), HttpError> {
    let lookup = framework_id.to_owned();
    let owner = state
        .handle
        .read(move |master, _| {
            master
                .frameworks()
                .get(&lookup)
                .map(|f| f.info.principal.clone())
        })
        .await
        .flatten();
    let Some(owner) = owner else { return Ok(()) };
    let name = principal.map(|p| p.0.as_str());
    if acls.may_teardown(name, owner.as_deref()) {
        return Ok(());
    }
    Err(HttpError::new(
        StatusCode::FORBIDDEN,
        format!(
            "Not authorized to tear down framework {framework_id} as principal '{}'",
            name.unwrap_or("ANY")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_matching_acl_decides_then_permissive() {
        let acls = Acls::parse(
            r#"{"permissive": false,
                "register_frameworks": [
                  {"principals": {"values": ["ops"]}, "roles": {"type": "ANY"}},
                  {"principals": {"values": ["fw"]}, "roles": {"values": ["web"]}},
                  {"principals": {"type": "ANY"}, "roles": {"type": "NONE"}}
                ],
                "teardown_frameworks": [
                  {"principals": {"values": ["ops"]}, "framework_principals": {"type": "ANY"}},
                  {"principals": {"values": ["fw"]}, "framework_principals": {"values": ["fw"]}}
                ]}"#,
        )
        .expect("parses");
        assert!(acls.may_register(Some("ops"), "anything"));
        assert!(acls.may_register(Some("fw"), "web"));
        assert!(!acls.may_register(Some("fw"), "db"));
        assert!(!acls.may_register(Some("evil"), "web"));
        assert!(!acls.may_register(None, "web"));
        assert!(acls.may_teardown(Some("ops"), Some("fw")));
        assert!(acls.may_teardown(Some("fw"), Some("fw")));
        assert!(!acls.may_teardown(Some("fw"), Some("other")));
        // No ACL matches: `permissive` decides.
        assert!(!acls.may_teardown(Some("evil"), Some("fw")));
        let open = Acls::parse(r#"{"teardown_frameworks": []}"#).expect("parses");
        assert!(open.may_teardown(Some("evil"), Some("fw")));
    }

    #[test]
    fn view_flags_and_mark_agents_gone_take_any_or_none() {
        let acls = Acls::parse(
            r#"{"view_flags": [
                  {"principals": {"values": ["ops"]}, "flags": {"type": "ANY"}},
                  {"principals": {"type": "ANY"}, "flags": {"type": "NONE"}}],
                "mark_agents_gone": [
                  {"principals": {"values": ["bob"]}, "agents": {"type": "NONE"}}]}"#,
        )
        .expect("parses");
        assert!(acls.may_view_flags(Some("ops")));
        assert!(!acls.may_view_flags(Some("bob")));
        assert!(!acls.may_view_flags(None));
        assert!(!acls.may_mark_agent_gone(Some("bob")));
        // No ACL is about alice: permissive (true by default) decides.
        assert!(acls.may_mark_agent_gone(Some("alice")));
        let strict = Acls::parse(r#"{"permissive": false}"#).expect("parses");
        assert!(!strict.may_view_flags(Some("ops")));
        assert!(!strict.may_mark_agent_gone(Some("ops")));
    }

    #[test]
    fn get_endpoints_names_paths() {
        let acls = Acls::parse(
            r#"{"get_endpoints": [
                  {"principals": {"values": ["ops"]}, "paths": {"values": ["/metrics/snapshot"]}},
                  {"principals": {"type": "ANY"}, "paths": {"type": "NONE"}}]}"#,
        )
        .expect("parses");
        assert!(acls.may_get_endpoint(Some("ops"), "/metrics/snapshot"));
        assert!(!acls.may_get_endpoint(Some("bob"), "/metrics/snapshot"));
        assert!(!acls.may_get_endpoint(None, "/metrics/snapshot"));
        // ops' ACL is not about another path; the next one (NONE) denies it.
        assert!(!acls.may_get_endpoint(Some("ops"), "/logging/toggle"));
    }

    #[test]
    fn switches_and_role_kinds_decide_their_calls() {
        let acls = Acls::parse(
            r#"{"permissive": false,
                "start_maintenances": [{"principals": {"values": ["ops"]}, "machines": {"type": "ANY"}}],
                "set_log_level": [{"principals": {"type": "ANY"}, "level": {"type": "NONE"}}],
                "update_quotas": [{"principals": {"values": ["ops"]}, "roles": {"values": ["web"]}}],
                "view_roles": [{"principals": {"values": ["ops"]}, "roles": {"type": "ANY"}},
                               {"principals": {"values": ["bob"]}, "roles": {"values": ["dev"]}}]}"#,
        )
        .expect("parses");
        assert!(acls.may("start_maintenances", Some("ops")));
        assert!(!acls.may("start_maintenances", Some("bob")));
        // No ACL of the kind and not permissive: refused.
        assert!(!acls.may("stop_maintenances", Some("ops")));
        assert!(!acls.may("set_log_level", Some("ops")));
        assert!(acls.may_update_quota(Some("ops"), "web"));
        assert!(!acls.may_update_quota(Some("ops"), "batch"));
        assert!(acls.may_view_role(Some("ops"), "anything"));
        assert!(acls.may_view_role(Some("bob"), "dev"));
        assert!(!acls.may_view_role(Some("bob"), "web"));
        // Permissive by default: a kind no ACL names lets everyone through.
        let open = Acls::parse(r#"{"drain_agents": []}"#).expect("parses");
        assert!(open.may("drain_agents", None));
        assert!(open.may_get_quota(None, "web"));
    }

    #[test]
    fn unknown_or_unenforced_acls_are_refused() {
        for bad in [
            r#"{"create_volumes": [{"principals": {"type": "ANY"}, "users": {"type": "ANY"}}]}"#,
            r#"{"set_quotas": []}"#,
            r#"{"drain_agents": [{"principals": {"type": "ANY"}, "agents": {"values": ["a1"]}}]}"#,
            r#"{"view_flags": [{"principals": {"type": "ANY"}, "flags": {"values": ["a"]}}]}"#,
            r#"{"no_such_acl": []}"#,
            r#"{"permissive": "yes"}"#,
            r#"{"register_frameworks": [{"principals": {"values": ["a"]}}]}"#,
            r#"{"register_frameworks": [{"principals": {"type": "SOME"}, "roles": {"type": "ANY"}}]}"#,
            r#"{"register_frameworks": [{"principals": {"type": "ANY"}, "roles": {"type": "ANY"}, "x": 1}]}"#,
            "[]",
            "{",
        ] {
            assert!(Acls::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reservation_and_volume_acls_reach_the_core_with_their_objects() {
        assert!(Acls::parse("{}").unwrap().operation_acls().is_none());
        let acls = Acls::parse(
            r#"{"reserve_resources": [
                   {"principals": {"values": ["ops"]}, "roles": {"values": ["db"]}},
                   {"principals": {"type": "ANY"}, "roles": {"type": "NONE"}}],
                "destroy_volumes": [
                   {"principals": {"values": ["ops"]}, "creator_principals": {"type": "ANY"}}]}"#,
        )
        .unwrap();
        let rules = acls.operation_acls().expect("operation ACLs");
        assert!(rules.reserve.allows(Some("ops"), "db"));
        assert!(!rules.reserve.allows(Some("ops"), "web"));
        assert!(!rules.reserve.allows(Some("dev"), "db"));
        assert!(rules.destroy.allows_object(Some("ops"), None));
        // Kinds it does not name follow `permissive` (true by default).
        assert!(rules.create.allows(Some("dev"), "db"));
    }

    #[test]
    fn view_acls_decide_by_principal_and_user_and_only_then_filter() {
        assert!(
            !Acls::parse(r#"{"run_tasks": []}"#)
                .unwrap()
                .restricts_views()
        );
        let acls = Acls::parse(
            r#"{"view_tasks": [{"principals": {"values": ["ops"]}, "users": {"type": "ANY"}},
                               {"principals": {"values": ["dev"]}, "users": {"values": ["dev"]}},
                               {"principals": {"type": "ANY"}, "users": {"type": "NONE"}}],
                "view_frameworks": [{"principals": {"values": ["dev"]}, "users": {"values": ["dev"]}}]}"#,
        )
        .unwrap();
        assert!(acls.restricts_views());
        assert!(acls.may_view_task(Some("ops"), "root"));
        assert!(acls.may_view_task(Some("dev"), "dev"));
        assert!(!acls.may_view_task(Some("dev"), "root"));
        assert!(!acls.may_view_task(None, "dev"));
        // No matching view_frameworks ACL: permissive (true) decides.
        assert!(acls.may_view_framework(Some("ops"), "root"));
        assert!(acls.may_view_framework(Some("dev"), "dev"));
        let strict = Acls::parse(r#"{"permissive": false}"#).unwrap();
        assert!(strict.restricts_views());
        assert!(!strict.may_view_framework(Some("ops"), "root"));
    }

    #[test]
    fn run_tasks_decides_by_principal_and_user() {
        let acls = Acls::parse(
            r#"{"run_tasks": [{"principals": {"values": ["ops"]}, "users": {"values": ["nobody"]}}],
                "permissive": false}"#,
        )
        .unwrap();
        let rules = acls.run_tasks().expect("run_tasks rules");
        assert!(rules.allows(Some("ops"), "nobody"));
        assert!(!rules.allows(Some("ops"), "root"));
        assert!(!rules.allows(Some("dev"), "nobody"), "not permissive");
        assert!(Acls::parse("{}").unwrap().run_tasks().is_none());
    }
}
