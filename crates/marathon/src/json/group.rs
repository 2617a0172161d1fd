//! Marathon's group JSON: reading a group body (`POST`/`PUT /v2/groups`: nested groups and apps
//! whose ids are resolved against their group, `dependencies`, `scaleBy`, `version`) with every
//! problem collected, and writing stored group versions back as group trees.

use std::collections::BTreeSet;

use drover_core::marathon::app::Violation;
use drover_core::marathon::group::{GroupSnapshot, GroupUpdate};
use drover_core::marathon::path::PathId;
use drover_core::marathon::{parse_timestamp, timestamp};
use serde_json::{Map, Value, json};

use super::app::{Mode, app_json, parse_app};

/// What a group body asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum GroupRequest {
    /// Create or change the group.
    Update(GroupUpdate),
    /// `scaleBy`: every app within, instances × factor.
    Scale(f64),
    /// `version`: back to a stored version.
    Rollback(u64),
}

/// The keys of Marathon 1.10's `GroupUpdate`. Anything else is refused by name: accepted
/// means it takes effect.
const KEYS: [&str; 8] = [
    "id",
    "apps",
    "groups",
    "pods",
    "dependencies",
    "scaleBy",
    "version",
    "enforceRole",
];

/// Reads a group body. `id` is the group the request addresses (the path's, or the root for
/// `POST /v2/groups`); `create`: the body's `id` names the new group relative to `id`.
pub fn parse_group(
    body: &Value,
    id: &PathId,
    create: bool,
) -> Result<GroupRequest, Vec<Violation>> {
    let mut problems = Vec::new();
    let Value::Object(obj) = body else {
        return Err(vec![Violation::new("/", "error.expected.jsobject")]);
    };
    let scale = obj.get("scaleBy").filter(|v| !v.is_null());
    let version = obj.get("version").filter(|v| !v.is_null());
    if scale.is_some() || version.is_some() {
        let others: Vec<&str> = obj
            .iter()
            .filter(|(k, v)| !v.is_null() && !matches!(k.as_str(), "id" | "scaleBy" | "version"))
            .map(|(k, _)| k.as_str())
            .collect();
        if (scale.is_some() && version.is_some()) || !others.is_empty() {
            return Err(vec![Violation::new(
                "/",
                "scaleBy and version may not be combined with each other or with other changes",
            )]);
        }
        if let Some(v) = scale {
            return match v.as_f64() {
                Some(f) if f.is_finite() && f >= 0.0 => Ok(GroupRequest::Scale(f)),
                _ => Err(vec![Violation::new(
                    "/scaleBy",
                    "scaleBy must be a number of 0 or more",
                )]),
            };
        }
        let text = version.and_then(Value::as_str).unwrap_or("");
        return match parse_timestamp(text) {
            Some(ms) => Ok(GroupRequest::Rollback(ms)),
            None => Err(vec![Violation::new(
                "/version",
                format!("'{text}' is not a version timestamp"),
            )]),
        };
    }
    let group_id = match obj.get("id") {
        None | Some(Value::Null) if create && id.is_root() => {
            problems.push(Violation::new("/id", "error.path.missing"));
            id.clone()
        }
        None | Some(Value::Null) => id.clone(),
        Some(Value::String(raw)) => {
            // POST names the new group relative to the addressed one; PUT addresses it by
            // path, and a body id must name the same group.
            let base = if create { id.clone() } else { id.parent() };
            match PathId::parse(raw, &base) {
                Ok(g) if create || &g == id => g,
                Ok(g) => {
                    problems.push(Violation::new(
                        "/id",
                        format!("Group id {g} does not match the addressed group {id}"),
                    ));
                    id.clone()
                }
                Err(e) => {
                    problems.extend(e.into_iter().map(|m| Violation::new("/id", m)));
                    id.clone()
                }
            }
        }
        Some(_) => {
            problems.push(Violation::new("/id", "error.expected.jsstring"));
            id.clone()
        }
    };
    let update = read_group(obj, group_id, "", &mut problems);
    if problems.is_empty() {
        Ok(GroupRequest::Update(update))
    } else {
        problems.sort();
        problems.dedup();
        Err(problems)
    }
}

/// One group object of the body, its id already resolved.
fn read_group(
    obj: &Map<String, Value>,
    id: PathId,
    path: &str,
    problems: &mut Vec<Violation>,
) -> GroupUpdate {
    let mut update = GroupUpdate::empty(id.clone());
    let unknown: BTreeSet<&str> = obj
        .keys()
        .map(String::as_str)
        .filter(|k| !KEYS.contains(k))
        .collect();
    for k in unknown {
        problems.push(Violation::new(
            format!("{path}/{k}"),
            format!("'{k}' is not a field of a group"),
        ));
    }
    match obj.get("enforceRole") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => {}
        Some(_) => problems.push(Violation::new(
            format!("{path}/enforceRole"),
            "enforceRole is not supported: apps launch under the role they name (default '*')",
        )),
    }
    match obj.get("pods") {
        None | Some(Value::Null) => {}
        Some(Value::Array(a)) if a.is_empty() => {}
        Some(_) => problems.push(Violation::new(
            format!("{path}/pods"),
            "pods are read-only at /v2/groups (as in Marathon): create and change them \
             with /v2/pods",
        )),
    }
    match obj.get("dependencies") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            let mut deps = Vec::new();
            for (i, d) in items.iter().enumerate() {
                match d.as_str().map(|raw| PathId::parse(raw, &id)) {
                    Some(Ok(dep)) => deps.push(dep),
                    Some(Err(e)) => problems.extend(
                        e.into_iter()
                            .map(|m| Violation::new(format!("{path}/dependencies({i})"), m)),
                    ),
                    None => problems.push(Violation::new(
                        format!("{path}/dependencies({i})"),
                        "error.expected.jsstring",
                    )),
                }
            }
            update.dependencies = Some(deps);
        }
        Some(_) => problems.push(Violation::new(
            format!("{path}/dependencies"),
            "error.expected.jsarray",
        )),
    }
    match obj.get("apps") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            let mut apps = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let here = format!("{path}/apps({i})");
                let Some(raw) = item.get("id").and_then(Value::as_str) else {
                    problems.push(Violation::new(format!("{here}/id"), "error.path.missing"));
                    continue;
                };
                let app_id = match PathId::parse(raw, &id) {
                    Ok(a) => a,
                    Err(e) => {
                        problems.extend(
                            e.into_iter()
                                .map(|m| Violation::new(format!("{here}/id"), m)),
                        );
                        continue;
                    }
                };
                // An app's own dependencies are relative to its group, as its id is.
                let mut item = item.clone();
                if let Some(deps) = item.get_mut("dependencies").and_then(Value::as_array_mut) {
                    for d in deps.iter_mut() {
                        if let Some(Ok(abs)) = d.as_str().map(|raw| PathId::parse(raw, &id)) {
                            *d = Value::String(abs.as_str().to_owned());
                        }
                    }
                }
                match PathId::parse_app_id(app_id.as_str()) {
                    Err(e) => problems.extend(
                        e.into_iter()
                            .map(|m| Violation::new(format!("{here}/id"), m)),
                    ),
                    Ok(app_id) => match parse_app(&item, Some(&app_id), Mode::Full) {
                        Ok(app) => apps.push(app),
                        Err(v) => problems.extend(
                            v.into_iter()
                                .map(|v| Violation::new(format!("{here}{}", v.path), v.message)),
                        ),
                    },
                }
            }
            update.apps = Some(apps);
        }
        Some(_) => problems.push(Violation::new(
            format!("{path}/apps"),
            "error.expected.jsarray",
        )),
    }
    match obj.get("groups") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            let mut groups = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let here = format!("{path}/groups({i})");
                let Value::Object(sub) = item else {
                    problems.push(Violation::new(here, "error.expected.jsobject"));
                    continue;
                };
                let Some(raw) = sub.get("id").and_then(Value::as_str) else {
                    problems.push(Violation::new(format!("{here}/id"), "error.path.missing"));
                    continue;
                };
                match PathId::parse(raw, &id) {
                    Ok(sub_id) => groups.push(read_group(sub, sub_id, &here, problems)),
                    Err(e) => problems.extend(
                        e.into_iter()
                            .map(|m| Violation::new(format!("{here}/id"), m)),
                    ),
                }
            }
            update.groups = Some(groups);
        }
        Some(_) => problems.push(Violation::new(
            format!("{path}/groups"),
            "error.expected.jsarray",
        )),
    }
    update
}

/// A stored group version as a group tree of app definitions.
pub fn snapshot_tree(snapshot: &GroupSnapshot, group: &PathId) -> Value {
    let apps: Vec<Value> = snapshot
        .apps
        .iter()
        .filter(|a| &a.id.parent() == group && a.pod.is_none())
        .map(|a| Value::Object(app_json(a)))
        .collect();
    let pods: Vec<Value> = snapshot
        .apps
        .iter()
        .filter(|a| &a.id.parent() == group && a.pod.is_some())
        .map(|a| Value::Object(super::pod_render::pod_json(a, false)))
        .collect();
    let mut children: BTreeSet<PathId> = BTreeSet::new();
    let ids = snapshot
        .apps
        .iter()
        .map(|a| a.id.clone())
        .chain(snapshot.groups.iter().map(|g| g.id.clone()));
    for id in ids {
        let mut p = id;
        while &p != group && !p.is_root() {
            if &p.parent() == group {
                children.insert(p.clone());
                break;
            }
            p = p.parent();
        }
    }
    let groups: Vec<Value> = children
        .iter()
        .map(|c| snapshot_tree(snapshot, c))
        .collect();
    let dependencies: Vec<&str> = snapshot
        .groups
        .iter()
        .find(|g| &g.id == group)
        .map(|g| g.dependencies.iter().map(PathId::as_str).collect())
        .unwrap_or_default();
    json!({
        "id": group.as_str(), "apps": apps, "groups": groups, "pods": pods,
        "dependencies": dependencies, "version": timestamp(snapshot.version_ms),
        "enforceRole": false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(body: Value, id: &str, create: bool) -> Result<GroupRequest, Vec<Violation>> {
        parse_group(&body, &PathId::parse(id, &PathId::root()).unwrap(), create)
    }

    #[test]
    fn relative_ids_resolve_against_their_group() {
        let body = json!({
            "id": "prod",
            "dependencies": ["/infra"],
            "apps": [{"id": "db", "cmd": "sleep 100"}],
            "groups": [{"id": "web", "apps": [{"id": "ui", "cmd": "x", "dependencies": ["../db"]}]}],
        });
        let Ok(GroupRequest::Update(u)) = update(body, "/", true) else {
            panic!("parses")
        };
        assert_eq!(u.id.as_str(), "/prod");
        let apps = u.apps.unwrap();
        assert_eq!(apps[0].id.as_str(), "/prod/db");
        let web = &u.groups.unwrap()[0];
        assert_eq!(web.id.as_str(), "/prod/web");
        let ui = &web.apps.as_ref().unwrap()[0];
        assert_eq!(ui.id.as_str(), "/prod/web/ui");
        assert_eq!(ui.dependencies[0].as_str(), "/prod/db");
    }

    #[test]
    fn unknown_fields_pods_and_combined_scale_are_refused_by_name() {
        let problems =
            update(json!({"id": "g", "frobnicate": 1, "pods": [{}]}), "/", true).unwrap_err();
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["/frobnicate", "/pods"]);
        assert!(update(json!({"scaleBy": 2, "apps": []}), "/g", false).is_err());
        assert_eq!(
            update(json!({"scaleBy": 1.5}), "/g", false),
            Ok(GroupRequest::Scale(1.5))
        );
    }
}
