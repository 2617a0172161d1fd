//! `readinessChecks` in Marathon's JSON: reading them into the core's [`ReadinessCheck`]s
//! (every problem with its path, unknown keys refused by name), rendering them back with
//! Marathon's defaults materialized, and `readinessCheckResults` as the app and deployment
//! views show them.

use drover_core::marathon::app::AppSpec;
use drover_core::marathon::readiness::{CheckResult, ReadinessCheck, ReadinessProtocol};
use serde_json::{Map, Value, json};

use super::read::Reader;

const KNOWN: [&str; 8] = [
    "name",
    "protocol",
    "path",
    "portName",
    "intervalSeconds",
    "timeoutSeconds",
    "httpStatusCodesForReady",
    "preserveLastResponse",
];

/// Reads `readinessChecks` when the body has it (null or `[]` clears them).
pub fn read(r: &mut Reader, obj: &Map<String, Value>, app: &mut AppSpec) {
    match obj.get("readinessChecks") {
        None => {}
        Some(Value::Null) => app.readiness_checks.clear(),
        Some(Value::Array(checks)) => {
            app.readiness_checks = checks
                .iter()
                .enumerate()
                .filter_map(|(i, c)| read_one(r, c, &format!("/readinessChecks({i})")))
                .collect();
        }
        Some(_) => r.error("/readinessChecks", "error.expected.jsarray"),
    }
}

fn read_one(r: &mut Reader, value: &Value, path: &str) -> Option<ReadinessCheck> {
    let Some(obj) = value.as_object() else {
        r.error(path, "error.expected.jsobject");
        return None;
    };
    for key in obj.keys().filter(|k| !KNOWN.contains(&k.as_str())) {
        r.error(
            &format!("{path}/{key}"),
            format!("unknown field of a readiness check: {key}"),
        );
    }
    let mut check = ReadinessCheck::default();
    if let Some(name) = r.string(obj, "name", path) {
        check.name = name;
    }
    if let Some(protocol) = r.string(obj, "protocol", path) {
        match ReadinessProtocol::parse(&protocol) {
            Some(p) => check.protocol = p,
            None => r.error(
                &format!("{path}/protocol"),
                format!("readiness check protocol must be HTTP or HTTPS, not '{protocol}'"),
            ),
        }
    }
    if let Some(p) = r.string(obj, "path", path) {
        check.path = p;
    }
    if let Some(port_name) = r.string(obj, "portName", path) {
        check.port_name = port_name;
    }
    if let Some(v) = r.count(obj, "intervalSeconds", path, 24 * 3600) {
        check.interval_seconds = v as u32;
    }
    if let Some(v) = r.count(obj, "timeoutSeconds", path, 24 * 3600) {
        check.timeout_seconds = v as u32;
    }
    if let Some(codes) = r.array(obj, "httpStatusCodesForReady", path) {
        check.http_status_codes_for_ready = Vec::new();
        for (i, code) in codes.iter().enumerate() {
            match code.as_u64() {
                Some(c) if c <= u64::from(u16::MAX) => {
                    if !check.http_status_codes_for_ready.contains(&(c as u16)) {
                        check.http_status_codes_for_ready.push(c as u16);
                    }
                }
                _ => r.error(
                    &format!("{path}/httpStatusCodesForReady({i})"),
                    "error.expected.jsnumber",
                ),
            }
        }
    }
    if let Some(v) = r.boolean(obj, "preserveLastResponse", path) {
        check.preserve_last_response = v;
    }
    Some(check)
}

/// `readinessChecks` as Marathon renders them; `None` when the app has none.
pub fn checks_json(app: &AppSpec) -> Option<Value> {
    if app.readiness_checks.is_empty() {
        return None;
    }
    Some(Value::Array(
        app.readiness_checks
            .iter()
            .map(|c| {
                json!({
                    "name": c.name,
                    "protocol": c.protocol.name(),
                    "path": c.path,
                    "portName": c.port_name,
                    "intervalSeconds": c.interval_seconds,
                    "timeoutSeconds": c.timeout_seconds,
                    "httpStatusCodesForReady": c.http_status_codes_for_ready,
                    "preserveLastResponse": c.preserve_last_response,
                })
            })
            .collect(),
    ))
}

/// One entry of `readinessCheckResults`.
pub fn result_json(result: &CheckResult) -> Value {
    let mut o = json!({
        "name": result.name,
        "taskId": result.task_id,
        "ready": result.ready,
    });
    if let Some(last) = &result.last_response {
        o["lastResponse"] = json!({
            "status": last.status,
            "contentType": last.content_type,
            "body": last.body,
        });
    }
    o
}
