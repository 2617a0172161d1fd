//! The master's authorization: `--acls` in Mesos' JSON format, evaluated as Mesos' local
//! authorizer did (the first ACL whose subject and object match decides; none → `permissive`).
//! Drover enforces `register_frameworks` (principal → roles, at SUBSCRIBE) and
//! `teardown_frameworks` (principal → the framework's principal, for the operator's
//! TEARDOWN); any other ACL kind is refused at start with a message naming it, so an ACL is
//! never accepted without effect.

use std::sync::Arc;

use axum::http::StatusCode;
use drover_http::HttpError;
use drover_http::auth::Principal;
use serde_json::Value;

use crate::routes::AppState;

/// An ACL entity: `{"values": [...]}`, `{"type": "ANY"}` or `{"type": "NONE"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entity {
    /// These values.
    Some(Vec<String>),
    /// Anything.
    Any,
    /// Nothing.
    None,
}

impl Entity {
    fn parse(value: Option<&Value>, what: &str) -> Result<Entity, String> {
        let Some(value) = value else {
            return Err(format!("an ACL has no '{what}'"));
        };
        if let Some(values) = value.get("values") {
            let values = values
                .as_array()
                .ok_or_else(|| format!("'{what}.values' must be an array of strings"))?
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| format!("'{what}.values' must be an array of strings"))?;
            return Ok(Entity::Some(values));
        }
        match value.get("type").and_then(Value::as_str) {
            Some("ANY") => Ok(Entity::Any),
            Some("NONE") => Ok(Entity::None),
            other => Err(format!(
                "'{what}' must have 'values' or a 'type' of ANY or NONE (got {other:?})"
            )),
        }
    }

    /// Whether this ACL entity is about `request` (Mesos' `matches`).
    fn matches(&self, request: &Entity) -> bool {
        match request {
            Entity::None => *self == Entity::None,
            Entity::Any => *self == Entity::Any,
            Entity::Some(values) => match self {
                Entity::Any | Entity::None => true,
                Entity::Some(acl) => values.iter().all(|v| acl.contains(v)),
            },
        }
    }

    /// Whether this ACL entity lets `request` through (Mesos' `allows`).
    fn allows(&self, request: &Entity) -> bool {
        match request {
            Entity::None => *self == Entity::None,
            Entity::Any => *self == Entity::Any,
            Entity::Some(values) => match self {
                Entity::Any => true,
                Entity::None => false,
                Entity::Some(acl) => values.iter().all(|v| acl.contains(v)),
            },
        }
    }
}

/// One ACL: a subject and an object.
#[derive(Debug, Clone)]
struct Acl {
    subject: Entity,
    object: Entity,
}

/// The parsed `--acls`.
#[derive(Debug, Clone, Default)]
pub struct Acls {
    permissive: bool,
    register_frameworks: Vec<Acl>,
    teardown_frameworks: Vec<Acl>,
}

/// ACL kinds Mesos had that Drover does not enforce yet: refused rather than ignored.
const NOT_ENFORCED: &[&str] = &[
    "run_tasks",
    "view_frameworks",
    "view_tasks",
    "view_executors",
    "access_sandboxes",
    "access_mesos_logs",
    "get_endpoints",
    "mark_agents_gone",
    "update_maintenance_schedules",
    "get_maintenance_schedules",
    "start_maintenances",
    "stop_maintenances",
    "get_maintenance_statuses",
    "reserve_resources",
    "unreserve_resources",
    "create_volumes",
    "destroy_volumes",
    "set_quotas",
    "remove_quotas",
    "update_weights",
    "view_roles",
    "update_quotas",
    "get_quotas",
    "register_agents",
    "launch_nested_containers",
    "view_flags",
    "set_log_level",
    "drain_agents",
];

impl Acls {
    /// Parses `--acls`: the JSON itself, or a path (or `file://` URL) of a file holding it.
    pub fn load(flag: &str) -> Result<Acls, String> {
        let text = if flag.trim_start().starts_with('{') {
            flag.to_owned()
        } else {
            let path = flag.strip_prefix("file://").unwrap_or(flag);
            std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read the --acls file {path}: {e}"))?
        };
        Acls::parse(&text).map_err(|e| format!("--acls: {e}"))
    }

    /// Parses the JSON of `--acls`.
    pub fn parse(text: &str) -> Result<Acls, String> {
        let value: Value = serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
        let object = value.as_object().ok_or("must be a JSON object")?;
        let mut acls = Acls {
            permissive: true,
            ..Acls::default()
        };
        for (key, value) in object {
            match key.as_str() {
                "permissive" => {
                    acls.permissive = value.as_bool().ok_or("'permissive' must be a boolean")?;
                }
                "register_frameworks" => {
                    acls.register_frameworks = parse_list(value, key, "principals", "roles")?;
                }
                "teardown_frameworks" => {
                    acls.teardown_frameworks =
                        parse_list(value, key, "principals", "framework_principals")?;
                }
                other if NOT_ENFORCED.contains(&other) => {
                    return Err(format!(
                        "the '{other}' ACL is not supported by Drover yet (supported: permissive, register_frameworks, teardown_frameworks)"
                    ));
                }
                other => return Err(format!("unknown ACL '{other}'")),
            }
        }
        Ok(acls)
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

    fn approved(&self, acls: &[Acl], subject: &Entity, object: &Entity) -> bool {
        for acl in acls {
            if acl.subject.matches(subject) && acl.object.matches(object) {
                return acl.subject.allows(subject) && acl.object.allows(object);
            }
        }
        self.permissive
    }
}

/// A request's subject: its principal, or ANY for an unauthenticated request (as Mesos).
fn subject(principal: Option<&str>) -> Entity {
    match principal {
        Some(p) => Entity::Some(vec![p.to_owned()]),
        None => Entity::Any,
    }
}

fn parse_list(value: &Value, key: &str, subject: &str, object: &str) -> Result<Vec<Acl>, String> {
    value
        .as_array()
        .ok_or_else(|| format!("'{key}' must be an array"))?
        .iter()
        .map(|acl| {
            if let Some(map) = acl.as_object()
                && let Some(extra) = map.keys().find(|k| *k != subject && *k != object)
            {
                return Err(format!("unknown field '{extra}' in a '{key}' ACL"));
            }
            Ok(Acl {
                subject: Entity::parse(acl.get(subject), subject)?,
                object: Entity::parse(acl.get(object), object)?,
            })
        })
        .collect()
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
    fn unknown_or_unenforced_acls_are_refused() {
        for bad in [
            r#"{"run_tasks": []}"#,
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
}
