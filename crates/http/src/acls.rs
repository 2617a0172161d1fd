//! Reading `--acls` in Mesos' JSON format, for the master and the agent: the JSON itself or a
//! file holding it, each ACL's subject and object entities (`{"values": [...]}`, `{"type":
//! "ANY"}`, `{"type": "NONE"}`). What the ACLs decide is `drover_core::acl`'s.

use drover_core::acl::{Acl, Entity};
use serde_json::{Map, Value};

/// The ACLs object of `--acls`: the JSON itself, or a path (or `file://` URL) of a file
/// holding it.
pub fn read(flag: &str) -> Result<Map<String, Value>, String> {
    let text = if flag.trim_start().starts_with('{') {
        flag.to_owned()
    } else {
        let path = flag.strip_prefix("file://").unwrap_or(flag);
        std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the --acls file {path}: {e}"))?
    };
    let value: Value =
        serde_json::from_str(&text).map_err(|e| format!("--acls: invalid JSON: {e}"))?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err("--acls: must be a JSON object".to_owned()),
    }
}

/// `permissive`'s value.
pub fn permissive(value: &Value) -> Result<bool, String> {
    value
        .as_bool()
        .ok_or_else(|| "'permissive' must be a boolean".to_owned())
}

/// One entity of an ACL.
pub fn entity(value: Option<&Value>, what: &str) -> Result<Entity, String> {
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

/// The ACLs of kind `key`, each with the fields `subject` and `object` and nothing else.
pub fn list(value: &Value, key: &str, subject: &str, object: &str) -> Result<Vec<Acl>, String> {
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
                subject: entity(acl.get(subject), subject)?,
                object: entity(acl.get(object), object)?,
            })
        })
        .collect()
}

/// A list of ACLs whose object can only be ANY or NONE (`view_flags`, `set_log_level`, the
/// maintenance kinds…: there is no value to name).
pub fn any_or_none(value: &Value, key: &str, object: &str) -> Result<Vec<Acl>, String> {
    let acls = list(value, key, "principals", object)?;
    if acls.iter().any(|a| matches!(a.object, Entity::Some(_))) {
        return Err(format!(
            "'{key}' ACLs take only {{\"type\": \"ANY\"}} or {{\"type\": \"NONE\"}} as '{object}'"
        ));
    }
    Ok(acls)
}

/// `run_tasks` (principals → users).
pub fn run_tasks(value: &Value) -> Result<Vec<Acl>, String> {
    list(value, "run_tasks", "principals", "users")
}
