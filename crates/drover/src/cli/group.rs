//! `drover group …`: Marathon groups through the REST API v2 (`/v2/groups`). Changes are one
//! deployment each; the command waits until `/v2/deployments` no longer lists it (or it is
//! told `--detach`), printing each step as it starts.

use std::path::PathBuf;
use std::time::Duration;

use hyper::Method;
use serde_json::{Value, json};

use super::http::app_path;
use super::{CliError, CliResult, Endpoints, Wait, array, print_json, print_table, text};

/// `drover group`.
#[derive(Debug, clap::Args)]
pub struct GroupArgs {
    #[command(subcommand)]
    command: GroupCommand,
}

#[derive(Debug, clap::Subcommand)]
enum GroupCommand {
    /// List every group with its apps and dependencies.
    List {
        #[command(flatten)]
        endpoints: Endpoints,
    },
    /// Show a group: its apps (running/wanted), subgroups and dependencies.
    Show {
        /// The group id (e.g. `/prod`).
        id: String,
        #[command(flatten)]
        endpoints: Endpoints,
    },
    /// Create a group from a JSON definition (Marathon's group format; `-` reads stdin).
    Add {
        /// The group definition.
        file: PathBuf,
        #[command(flatten)]
        wait: Wait,
        #[command(flatten)]
        endpoints: Endpoints,
    },
    /// Change a group: a new definition, `--scale-by`, or `--rollback VERSION`.
    Update {
        /// The group id.
        id: String,
        /// The new definition (JSON; `-` reads stdin).
        file: Option<PathBuf>,
        /// Multiply every app's instances by this factor.
        #[arg(long = "scale-by", value_name = "FACTOR")]
        scale_by: Option<f64>,
        /// Go back to this stored version (see `GET /v2/groups/{id}/versions`).
        #[arg(long = "rollback", value_name = "VERSION")]
        rollback: Option<String>,
        /// Only print the plan's steps; change nothing.
        #[arg(long = "dry-run")]
        dry_run: bool,
        #[command(flatten)]
        wait: Wait,
        #[command(flatten)]
        endpoints: Endpoints,
    },
    /// Remove a group with every app and group in it.
    Remove {
        /// The group id.
        id: String,
        #[command(flatten)]
        wait: Wait,
        #[command(flatten)]
        endpoints: Endpoints,
    },
}

impl GroupArgs {
    /// Runs the command.
    pub async fn run(self) -> CliResult {
        match self.command {
            GroupCommand::List { endpoints } => list(&endpoints).await,
            GroupCommand::Show { id, endpoints } => show(&endpoints, &id).await,
            GroupCommand::Add {
                file,
                wait,
                endpoints,
            } => {
                let body = read_definition(&file)?;
                let path = format!("/v2/groups{}", force_query(wait.force, false));
                change(&endpoints, &wait, Method::POST, &path, Some(body)).await
            }
            GroupCommand::Update {
                id,
                file,
                scale_by,
                rollback,
                dry_run,
                wait,
                endpoints,
            } => {
                let body = match (file, scale_by, rollback) {
                    (Some(file), None, None) => read_definition(&file)?,
                    (None, Some(f), None) => json!({ "scaleBy": f }),
                    (None, None, Some(v)) => json!({ "version": v }),
                    _ => {
                        return Err(CliError::Usage(
                            "give exactly one of FILE, --scale-by or --rollback".into(),
                        ));
                    }
                };
                let path = format!(
                    "/v2/groups{}{}",
                    app_path(&id),
                    force_query(wait.force, dry_run)
                );
                change(&endpoints, &wait, Method::PUT, &path, Some(body)).await
            }
            GroupCommand::Remove {
                id,
                wait,
                endpoints,
            } => {
                let path = format!(
                    "/v2/groups{}{}",
                    app_path(&id),
                    force_query(wait.force, false)
                );
                change(&endpoints, &wait, Method::DELETE, &path, None).await
            }
        }
    }
}

fn force_query(force: bool, dry_run: bool) -> String {
    let mut q = Vec::new();
    if force {
        q.push("force=true");
    }
    if dry_run {
        q.push("dryRun=true");
    }
    if q.is_empty() {
        String::new()
    } else {
        format!("?{}", q.join("&"))
    }
}

fn read_definition(file: &PathBuf) -> CliResult<Value> {
    let text = if file.as_os_str() == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| CliError::Usage(format!("cannot read the group from stdin: {e}")))?;
        text
    } else {
        std::fs::read_to_string(file)
            .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", file.display())))?
    };
    let value: Value = serde_json::from_str(&text).map_err(|e| {
        CliError::Usage(format!(
            "{} is not a JSON group definition: {e}",
            file.display()
        ))
    })?;
    if !value.is_object() {
        return Err(CliError::Usage(format!(
            "{} must hold one JSON object (a group definition)",
            file.display()
        )));
    }
    Ok(value)
}

/// Sends one change and waits for its deployment.
async fn change(
    endpoints: &Endpoints,
    wait: &Wait,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> CliResult {
    let marathon = endpoints.marathon();
    let answer = marathon.json(method, path, body.as_ref()).await?;
    if endpoints.json {
        print_json(&answer);
    }
    if let Some(steps) = answer.get("steps").and_then(Value::as_array) {
        if !endpoints.json {
            for (i, step) in steps.iter().enumerate() {
                let actions: Vec<String> = array(step, "actions")
                    .iter()
                    .map(|a| format!("{} {}", text(a, "action"), text(a, "app")))
                    .collect();
                println!("step {}: {}", i + 1, actions.join(", "));
            }
        }
        return Ok(());
    }
    let deployment = text(&answer, "deploymentId").to_owned();
    if wait.detach || deployment.is_empty() {
        if !endpoints.json {
            println!("deployment {deployment} started");
        }
        return Ok(());
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait.timeout);
    let mut last_step = 0;
    loop {
        let list = marathon.get("/v2/deployments").await?;
        let current = list
            .as_array()
            .into_iter()
            .flatten()
            .find(|d| text(d, "id") == deployment);
        let Some(current) = current else {
            if !endpoints.json {
                println!("deployment {deployment} finished");
            }
            return Ok(());
        };
        let step = current
            .get("currentStep")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        if step != last_step && !endpoints.json {
            let total = current
                .get("totalSteps")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            let actions: Vec<String> = array(current, "currentActions")
                .iter()
                .map(|a| format!("{} {}", text(a, "action"), text(a, "app")))
                .collect();
            println!("step {step}/{total}: {}", actions.join(", "));
            last_step = step;
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(CliError::Failed(format!(
                "deployment {deployment} still running after {} s (it goes on; see /v2/deployments)",
                wait.timeout
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Every group in the tree, depth first.
fn flatten<'a>(group: &'a Value, out: &mut Vec<&'a Value>) {
    out.push(group);
    for g in array(group, "groups") {
        flatten(g, out);
    }
}

async fn list(endpoints: &Endpoints) -> CliResult {
    let root = endpoints.marathon().get("/v2/groups").await?;
    if endpoints.json {
        print_json(&root);
        return Ok(());
    }
    let mut all = Vec::new();
    flatten(&root, &mut all);
    let rows: Vec<Vec<String>> = all
        .iter()
        .map(|g| {
            let deps: Vec<&str> = array(g, "dependencies")
                .iter()
                .filter_map(Value::as_str)
                .collect();
            vec![
                text(g, "id").to_owned(),
                array(g, "apps").len().to_string(),
                array(g, "groups").len().to_string(),
                if deps.is_empty() {
                    "-".to_owned()
                } else {
                    deps.join(",")
                },
                text(g, "version").to_owned(),
            ]
        })
        .collect();
    print_table(&["ID", "APPS", "GROUPS", "DEPENDENCIES", "VERSION"], &rows);
    Ok(())
}

async fn show(endpoints: &Endpoints, id: &str) -> CliResult {
    let group = endpoints
        .marathon()
        .get(&format!("/v2/groups{}", app_path(id)))
        .await?;
    if endpoints.json {
        print_json(&group);
        return Ok(());
    }
    let mut all = Vec::new();
    flatten(&group, &mut all);
    let mut rows = Vec::new();
    for g in all {
        for app in array(g, "apps") {
            let deps: Vec<&str> = array(app, "dependencies")
                .iter()
                .filter_map(Value::as_str)
                .collect();
            rows.push(vec![
                text(app, "id").to_owned(),
                format!(
                    "{}/{}",
                    app.get("tasksRunning").and_then(Value::as_u64).unwrap_or(0),
                    app.get("instances").and_then(Value::as_u64).unwrap_or(0)
                ),
                if deps.is_empty() {
                    "-".to_owned()
                } else {
                    deps.join(",")
                },
            ]);
        }
    }
    println!(
        "group {}  version {}",
        text(&group, "id"),
        text(&group, "version")
    );
    let deps: Vec<&str> = array(&group, "dependencies")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    if !deps.is_empty() {
        println!("depends on {}", deps.join(", "));
    }
    if rows.is_empty() {
        println!("no apps");
    } else {
        print_table(&["APP", "RUNNING", "DEPENDS ON"], &rows);
    }
    Ok(())
}
