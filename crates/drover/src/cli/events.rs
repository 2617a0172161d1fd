//! `drover events`: tails the scheduler's event stream (`/v2/events`, server-sent events) or,
//! with `--master`, the master's (Operator API `SUBSCRIBE`, RecordIO), one line per event for
//! people or one JSON document per line with `--json`.

use serde_json::{Value, json};

use super::{CliError, CliResult, Service, array, text};

/// `drover events`.
#[derive(Debug, clap::Args)]
pub struct EventsArgs {
    /// Tail the master's operator event stream instead of the scheduler's (optionally at ADDR;
    /// default: DROVER_MASTER, the config file's `master`, or 127.0.0.1:5050).
    #[arg(
        long = "master",
        num_args = 0..=1,
        default_missing_value = "",
        value_name = "ADDR",
        conflicts_with = "marathon"
    )]
    master: Option<String>,
    /// Tail the scheduler's `/v2/events` (the default), optionally at ADDR (default:
    /// DROVER_MARATHON, the config file's `marathon`, or 127.0.0.1:8080).
    #[arg(
        long = "marathon",
        num_args = 0..=1,
        default_missing_value = "",
        value_name = "ADDR"
    )]
    marathon: Option<String>,
    /// Print each event's JSON on one line.
    #[arg(long = "json")]
    json: bool,
}

/// An address from the flag, the environment, the user's config file, or the default.
fn address(flag: Option<&str>, key: &str, env: &str, default: &str) -> String {
    if let Some(value) = flag.filter(|v| !v.is_empty()) {
        return value.to_owned();
    }
    if let Some(value) = std::env::var(env).ok().filter(|v| !v.is_empty()) {
        return value;
    }
    crate::config::default_client_config()
        .and_then(|path| std::fs::read_to_string(path).ok())
        .and_then(|text| text.parse::<toml::Table>().ok())
        .and_then(|table| table.get(key).and_then(|v| v.as_str()).map(str::to_owned))
        .unwrap_or_else(|| default.to_owned())
}

impl EventsArgs {
    /// Runs the command until the stream ends or the user stops it.
    pub async fn run(self) -> CliResult {
        if let Some(flag) = self.master.as_deref() {
            let master = Service::new(
                "master",
                &address(Some(flag), "master", "DROVER_MASTER", "127.0.0.1:5050"),
                "--master=ADDR",
                "DROVER_MASTER",
            );
            let mut stream = master
                .recordio("/api/v1", &json!({"type": "SUBSCRIBE"}))
                .await?;
            while let Some(record) = stream.next().await {
                let Ok(event) = serde_json::from_slice::<Value>(&record) else {
                    continue;
                };
                if self.json {
                    println!("{event}");
                } else if let Some(line) = master_line(&event) {
                    println!("{line}");
                }
            }
            return Err(CliError::Failed(format!(
                "the master at {} closed its event stream",
                master.shown
            )));
        }
        let marathon = Service::new(
            "scheduler",
            &address(
                self.marathon.as_deref(),
                "marathon",
                "DROVER_MARATHON",
                "127.0.0.1:8080",
            ),
            "--marathon=ADDR",
            "DROVER_MARATHON",
        );
        let mut stream = marathon.sse("/v2/events").await?;
        while let Some(event) = stream.next().await {
            let data: Value = serde_json::from_str(&event.data).unwrap_or(Value::Null);
            if self.json {
                println!("{data}");
            } else {
                println!("{}", marathon_line(&event.event, &data));
            }
        }
        Err(CliError::Failed(format!(
            "the scheduler at {} closed its event stream",
            marathon.shown
        )))
    }
}

/// One human line for a Marathon event.
pub fn marathon_line(kind: &str, data: &Value) -> String {
    let time = text(data, "timestamp");
    let body = match kind {
        "status_update_event" => {
            let message = text(data, "message");
            format!(
                "task {} {} (app {}, host {}){}",
                text(data, "taskId"),
                text(data, "taskStatus"),
                text(data, "appId"),
                text(data, "host"),
                if message.is_empty() {
                    String::new()
                } else {
                    format!(": {message}")
                }
            )
        }
        "instance_changed_event" => format!(
            "instance {} {} (app {})",
            text(data, "instanceId"),
            text(data, "condition"),
            text(data, "runSpecId")
        ),
        "deployment_info" | "deployment_step_success" => {
            let plan = data.get("plan").unwrap_or(&Value::Null);
            let actions: Vec<String> = data
                .get("currentStep")
                .map(|s| array(s, "actions"))
                .unwrap_or(&[])
                .iter()
                .map(|a| format!("{} {}", text(a, "action"), text(a, "app")))
                .collect();
            format!(
                "deployment {} {}: {}",
                text(plan, "id"),
                if kind == "deployment_info" {
                    "step started"
                } else {
                    "step done"
                },
                actions.join(", ")
            )
        }
        "deployment_success" => format!("deployment {} succeeded", text(data, "id")),
        "deployment_failed" => format!(
            "deployment {} failed: {}",
            text(data, "id"),
            text(data, "reason")
        ),
        "api_post_event" => format!(
            "app {} changed through {} by {}",
            data.get("appDefinition")
                .map(|a| text(a, "id"))
                .unwrap_or(""),
            text(data, "uri"),
            text(data, "clientIp")
        ),
        "app_terminated_event" => format!("app {} terminated", text(data, "appId")),
        "event_stream_attached" | "event_stream_detached" => format!(
            "event stream {} by {}",
            kind.trim_start_matches("event_stream_"),
            text(data, "remoteAddress")
        ),
        _ => {
            let mut rest = data.clone();
            if let Some(map) = rest.as_object_mut() {
                map.remove("eventType");
                map.remove("timestamp");
            }
            format!("{kind} {rest}")
        }
    };
    if time.is_empty() {
        body
    } else {
        format!("{time}  {body}")
    }
}

/// One human line for a master operator event; heartbeats print nothing.
pub fn master_line(event: &Value) -> Option<String> {
    let kind = text(event, "type");
    let field = |name: &str| event.get(name).unwrap_or(&Value::Null);
    let id = |v: &Value, key: &str| {
        v.get(key)
            .and_then(|i| i.get("value"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    Some(match kind {
        "HEARTBEAT" => return None,
        "SUBSCRIBED" => {
            let state = field("subscribed").get("get_state").unwrap_or(&Value::Null);
            let count = |outer: &str, inner: &str| {
                state.get(outer).map(|o| array(o, inner).len()).unwrap_or(0)
            };
            format!(
                "subscribed to the master: {} agents, {} frameworks, {} tasks",
                count("get_agents", "agents"),
                count("get_frameworks", "frameworks"),
                count("get_tasks", "tasks"),
            )
        }
        "TASK_ADDED" => {
            let task = field("task_added").get("task").unwrap_or(&Value::Null);
            format!(
                "task {} added (framework {}, agent {})",
                id(task, "task_id"),
                id(task, "framework_id"),
                id(task, "agent_id")
            )
        }
        "TASK_UPDATED" => {
            let update = field("task_updated");
            let status = update.get("status").unwrap_or(&Value::Null);
            let mut line = format!("task {} {}", id(status, "task_id"), text(status, "state"));
            let extra: Vec<&str> = [text(status, "reason"), text(status, "source")]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect();
            if !extra.is_empty() {
                line.push_str(&format!(" ({})", extra.join(", ")));
            }
            if !text(status, "message").is_empty() {
                line.push_str(&format!(": {}", text(status, "message")));
            }
            line
        }
        "AGENT_ADDED" => {
            let info = field("agent_added")
                .get("agent")
                .and_then(|a| a.get("agent_info"))
                .unwrap_or(&Value::Null);
            format!(
                "agent {} added ({})",
                id(info, "id"),
                text(info, "hostname")
            )
        }
        "AGENT_REMOVED" => format!("agent {} removed", id(field("agent_removed"), "agent_id")),
        "FRAMEWORK_ADDED" | "FRAMEWORK_UPDATED" => {
            let key = kind.to_ascii_lowercase();
            let info = field(&key)
                .get("framework")
                .and_then(|f| f.get("framework_info"))
                .unwrap_or(&Value::Null);
            format!(
                "framework {} ({}) {}",
                text(info, "name"),
                id(info, "id"),
                if kind == "FRAMEWORK_ADDED" {
                    "added"
                } else {
                    "updated"
                }
            )
        }
        "FRAMEWORK_REMOVED" => {
            let info = field("framework_removed")
                .get("framework_info")
                .unwrap_or(&Value::Null);
            format!(
                "framework {} ({}) removed",
                text(info, "name"),
                id(info, "id")
            )
        }
        other => format!("{other} {event}"),
    })
}
