//! An app's `check` in Marathon's JSON (RAML `AppCheck`: one of `http`, `tcp`, `exec`, with
//! `intervalSeconds`, `timeoutSeconds`, `delaySeconds`), and a task's `checkResult` (RAML
//! `CheckStatus`) from the executor's latest `check_status`.

use drover_core::marathon::app::AppSpec;
use drover_core::marathon::check::{AppCheck, CheckKind};
use drover_wire::v1;
use serde_json::{Map, Value, json};

use super::read::Reader;

/// Reads `check` when the body has it (`null` clears it).
pub fn read(r: &mut Reader, obj: &Map<String, Value>, app: &mut AppSpec) {
    match obj.get("check") {
        None => {}
        Some(Value::Null) => app.check = None,
        Some(Value::Object(o)) => app.check = read_check(r, o),
        Some(_) => r.error("/check", "error.expected.jsobject"),
    }
}

fn read_check(r: &mut Reader, o: &Map<String, Value>) -> Option<Box<AppCheck>> {
    const KNOWN: [&str; 6] = [
        "http",
        "tcp",
        "exec",
        "intervalSeconds",
        "timeoutSeconds",
        "delaySeconds",
    ];
    for key in o.keys().filter(|k| !KNOWN.contains(&k.as_str())) {
        r.error(
            &format!("/check/{key}"),
            format!("unknown field of a check: {key}"),
        );
    }
    let given: Vec<&str> = ["http", "tcp", "exec"]
        .into_iter()
        .filter(|k| o.get(*k).is_some_and(|v| !v.is_null()))
        .collect();
    if given.len() != 1 {
        r.error(
            "/check",
            "a check must specify exactly one of http, tcp or exec",
        );
        return None;
    }
    let kind = match given[0] {
        "http" => {
            let h = r.object(o, "http", "/check")?;
            if let Some(scheme) = r.string(h, "scheme", "/check/http")
                && scheme != "HTTP"
            {
                r.error(
                    "/check/http/scheme",
                    format!(
                        "scheme {scheme} is not supported: Mesos' checks speak plain HTTP (use an HTTPS health check)"
                    ),
                );
            }
            CheckKind::Http {
                port_index: r.count(h, "portIndex", "/check/http", 65535).unwrap_or(0) as u32,
                path: r.string(h, "path", "/check/http"),
            }
        }
        "tcp" => {
            let t = r.object(o, "tcp", "/check")?;
            CheckKind::Tcp {
                port_index: r.count(t, "portIndex", "/check/tcp", 65535).unwrap_or(0) as u32,
            }
        }
        _ => {
            let e = r.object(o, "exec", "/check")?;
            let command = r.object(e, "command", "/check/exec")?;
            if command.contains_key("argv") {
                r.error(
                    "/check/exec/command/argv",
                    "argv checks are not supported; give the command as shell",
                );
                return None;
            }
            let Some(shell) = r.string(command, "shell", "/check/exec/command") else {
                r.error("/check/exec/command/shell", "error.path.missing");
                return None;
            };
            CheckKind::Command(shell)
        }
    };
    let mut check = AppCheck::new(kind);
    let day = 24 * 3600;
    if let Some(v) = r.count(o, "intervalSeconds", "/check", day) {
        check.interval_seconds = v as u32;
    }
    if let Some(v) = r.count(o, "timeoutSeconds", "/check", day) {
        check.timeout_seconds = v as u32;
    }
    if let Some(v) = r.count(o, "delaySeconds", "/check", day) {
        check.delay_seconds = v as u32;
    }
    Some(Box::new(check))
}

/// `check` as Marathon renders it; `None` when the app has none.
pub fn check_json(app: &AppSpec) -> Option<Value> {
    let check = app.check.as_ref()?;
    let mut o = match &check.kind {
        CheckKind::Http { port_index, path } => {
            let mut h = json!({"portIndex": port_index, "scheme": "HTTP"});
            if let Some(path) = path {
                h["path"] = json!(path);
            }
            json!({ "http": h })
        }
        CheckKind::Tcp { port_index } => json!({"tcp": {"portIndex": port_index}}),
        CheckKind::Command(shell) => json!({"exec": {"command": {"shell": shell}}}),
    };
    o["intervalSeconds"] = json!(check.interval_seconds);
    o["timeoutSeconds"] = json!(check.timeout_seconds);
    o["delaySeconds"] = json!(check.delay_seconds);
    Some(o)
}

/// A task's `checkResult` from the executor's `check_status`; `None` before a result exists.
pub fn result_json(status: &v1::CheckStatusInfo) -> Option<Value> {
    if let Some(http) = &status.http {
        return http.status_code.map(|c| json!({"http": {"statusCode": c}}));
    }
    if let Some(tcp) = &status.tcp {
        return tcp.succeeded.map(|ok| json!({"tcp": {"succeeded": ok}}));
    }
    let command = status.command.as_ref()?;
    command.exit_code.map(|c| json!({"exec": {"exitCode": c}}))
}
