//! `drover pod …`: Marathon pods through the REST API v2 (`/v2/pods`): list them with their
//! status, show one instance by instance and container by container, add, update, scale and
//! remove them. A change waits until `/v2/deployments` no longer lists a deployment of the pod
//! (or `--detach`), printing each step as it starts.

use std::path::PathBuf;
use std::time::Duration;

use hyper::Method;
use serde_json::Value;

use super::http::app_path;
use super::{CliError, CliResult, Endpoints, Wait, array, print_json, print_table, text};

/// `drover pod`.
#[derive(Debug, clap::Args)]
pub struct PodArgs {
    #[command(subcommand)]
    command: PodCommand,
}

#[derive(Debug, clap::Subcommand)]
enum PodCommand {
    /// List every pod: its stable and wanted instances, status and containers.
    List {
        #[command(flatten)]
        endpoints: Endpoints,
    },
    /// Show a pod's status: each instance, its agent and its containers.
    Show {
        /// The pod id (e.g. `/web/pod`).
        id: String,
        #[command(flatten)]
        endpoints: Endpoints,
    },
    /// Create a pod from a JSON definition (Marathon's pod format; `-` reads stdin).
    Add {
        /// The pod definition.
        file: PathBuf,
        #[command(flatten)]
        wait: Wait,
        #[command(flatten)]
        endpoints: Endpoints,
    },
    /// Replace a pod's definition (a new version: its instances are restarted unless only
    /// the instance count changed).
    Update {
        /// The pod id.
        id: String,
        /// The new definition (JSON; `-` reads stdin).
        file: PathBuf,
        #[command(flatten)]
        wait: Wait,
        #[command(flatten)]
        endpoints: Endpoints,
    },
    /// Change a pod's instance count.
    Scale {
        /// The pod id.
        id: String,
        /// The wanted instances.
        instances: u32,
        #[command(flatten)]
        wait: Wait,
        #[command(flatten)]
        endpoints: Endpoints,
    },
    /// Remove a pod (its instances are killed).
    Remove {
        /// The pod id.
        id: String,
        #[command(flatten)]
        wait: Wait,
        #[command(flatten)]
        endpoints: Endpoints,
    },
}

impl PodArgs {
    /// Runs the command.
    pub async fn run(self) -> CliResult {
        match self.command {
            PodCommand::List { endpoints } => list(&endpoints).await,
            PodCommand::Show { id, endpoints } => show(&endpoints, &id).await,
            PodCommand::Add {
                file,
                wait,
                endpoints,
            } => {
                let body = read_definition(&file)?;
                let id = text(&body, "id").to_owned();
                let path = format!("/v2/pods{}", force_query(wait.force));
                change(&endpoints, &wait, Method::POST, &path, Some(body), &id).await
            }
            PodCommand::Update {
                id,
                file,
                wait,
                endpoints,
            } => {
                let mut body = read_definition(&file)?;
                // The id is the command's; a definition without one takes it.
                if body.get("id").is_none() {
                    body["id"] = Value::String(app_path(&id));
                }
                let path = format!("/v2/pods{}{}", app_path(&id), force_query(wait.force));
                change(&endpoints, &wait, Method::PUT, &path, Some(body), &id).await
            }
            PodCommand::Scale {
                id,
                instances,
                wait,
                endpoints,
            } => {
                let path = format!("/v2/pods{}", app_path(&id));
                let mut pod = endpoints.marathon().get(&path).await?;
                let Some(object) = pod.as_object_mut() else {
                    return Err(CliError::Failed(format!("{path} did not answer a pod")));
                };
                // The stored version is the server's to set.
                object.remove("version");
                pod["scaling"] = serde_json::json!({"kind": "fixed", "instances": instances});
                let path = format!("{path}{}", force_query(wait.force));
                change(&endpoints, &wait, Method::PUT, &path, Some(pod), &id).await
            }
            PodCommand::Remove {
                id,
                wait,
                endpoints,
            } => {
                let path = format!("/v2/pods{}{}", app_path(&id), force_query(wait.force));
                change(&endpoints, &wait, Method::DELETE, &path, None, &id).await
            }
        }
    }
}

fn force_query(force: bool) -> &'static str {
    if force { "?force=true" } else { "" }
}

fn read_definition(file: &PathBuf) -> CliResult<Value> {
    let text = if file.as_os_str() == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| CliError::Usage(format!("cannot read the pod from stdin: {e}")))?;
        text
    } else {
        std::fs::read_to_string(file)
            .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", file.display())))?
    };
    let value: Value = serde_json::from_str(&text).map_err(|e| {
        CliError::Usage(format!(
            "{} is not a JSON pod definition: {e}",
            file.display()
        ))
    })?;
    if !value.is_object() {
        return Err(CliError::Usage(format!(
            "{} must hold one JSON object (a pod definition)",
            file.display()
        )));
    }
    Ok(value)
}

/// The deployments of `/v2/deployments` that change pod `id`.
fn deployments_of<'a>(list: &'a Value, id: &str) -> Vec<&'a Value> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter(|d| {
            array(d, "affectedPods")
                .iter()
                .any(|p| p.as_str() == Some(id))
        })
        .collect()
}

/// Sends one change, then waits until no deployment of the pod runs.
async fn change(
    endpoints: &Endpoints,
    wait: &Wait,
    method: Method,
    path: &str,
    body: Option<Value>,
    id: &str,
) -> CliResult {
    let id = app_path(id);
    let marathon = endpoints.marathon();
    let answer = marathon.json(method, path, body.as_ref()).await?;
    if endpoints.json && !answer.is_null() {
        print_json(&answer);
    }
    if wait.detach {
        if !endpoints.json {
            println!("pod {id}: change accepted");
        }
        return Ok(());
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait.timeout);
    let mut last = String::new();
    loop {
        let list = marathon.get("/v2/deployments").await?;
        let running = deployments_of(&list, &id);
        let Some(current) = running.first() else {
            if !endpoints.json {
                println!("pod {id}: deployed");
            }
            return Ok(());
        };
        let actions: Vec<String> = array(current, "currentActions")
            .iter()
            .map(|a| format!("{} {}", text(a, "action"), text(a, "pod")))
            .collect();
        let step = format!(
            "step {}/{}: {}",
            current
                .get("currentStep")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            current
                .get("totalSteps")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            actions.join(", ")
        );
        if step != last && !endpoints.json {
            println!("{step}");
            last = step;
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(CliError::Failed(format!(
                "pod {id}: deployment still running after {} s (it goes on; see /v2/deployments)",
                wait.timeout
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// `stable/wanted` of a status.
fn counts(status: &Value) -> String {
    let stable = array(status, "instances")
        .iter()
        .filter(|i| text(i, "status") == "STABLE")
        .count();
    let wanted = status["spec"]["scaling"]["instances"].as_u64().unwrap_or(0);
    format!("{stable}/{wanted}")
}

async fn list(endpoints: &Endpoints) -> CliResult {
    let all = endpoints.marathon().get("/v2/pods/::status").await?;
    if endpoints.json {
        print_json(&all);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = all
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            let containers: Vec<&str> = array(&s["spec"], "containers")
                .iter()
                .map(|c| text(c, "name"))
                .collect();
            vec![
                text(s, "id").to_owned(),
                counts(s),
                text(s, "status").to_owned(),
                containers.join(","),
                text(&s["spec"], "version").to_owned(),
            ]
        })
        .collect();
    if rows.is_empty() {
        println!("no pods");
    } else {
        print_table(&["ID", "STABLE", "STATUS", "CONTAINERS", "VERSION"], &rows);
    }
    Ok(())
}

async fn show(endpoints: &Endpoints, id: &str) -> CliResult {
    let status = endpoints
        .marathon()
        .get(&format!("/v2/pods{}::status", app_path(id)))
        .await?;
    if endpoints.json {
        print_json(&status);
        return Ok(());
    }
    println!(
        "pod {}  {}  {} stable  version {}",
        text(&status, "id"),
        text(&status, "status"),
        counts(&status),
        text(&status["spec"], "version")
    );
    let mut rows = Vec::new();
    for instance in array(&status, "instances") {
        for c in array(instance, "containers") {
            let endpoints: Vec<String> = array(c, "endpoints")
                .iter()
                .map(
                    |e| match e.get("allocatedHostPort").and_then(Value::as_u64) {
                        Some(port) => format!("{}:{port}", text(e, "name")),
                        None => text(e, "name").to_owned(),
                    },
                )
                .collect();
            let healthy = array(c, "conditions")
                .iter()
                .find(|k| text(k, "name") == "healthy")
                .map_or("-", |k| text(k, "value"));
            rows.push(vec![
                text(instance, "id").to_owned(),
                text(instance, "status").to_owned(),
                text(instance, "agentHostname").to_owned(),
                text(c, "name").to_owned(),
                text(c, "status").to_owned(),
                healthy.to_owned(),
                if endpoints.is_empty() {
                    "-".to_owned()
                } else {
                    endpoints.join(",")
                },
            ]);
        }
    }
    if rows.is_empty() {
        println!("no instances launched");
    } else {
        print_table(
            &[
                "INSTANCE",
                "STATUS",
                "HOST",
                "CONTAINER",
                "STATE",
                "HEALTHY",
                "ENDPOINTS",
            ],
            &rows,
        );
    }
    for t in array(&status, "terminationHistory") {
        println!(
            "last termination: {} {} at {}",
            text(t, "instanceID"),
            text(t, "message"),
            text(t, "terminatedAt")
        );
    }
    Ok(())
}
