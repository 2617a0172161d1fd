//! `drover app …`: Marathon apps through the REST API v2. Changes (`add`, `update`, `scale`,
//! `restart`, `remove`) are followed through `/v2/events` until their deployment succeeds or
//! fails, with a progress line on a terminal, and a failing deployment is explained from the
//! failed tasks' status updates (and the master's status history of the last one).

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use super::http::{SseStream, app_path};
use super::{
    CliError, CliResult, Endpoints, array, fmt_number, number, print_json, print_table,
    stdout_is_tty, text,
};

/// `drover app`.
#[derive(Debug, clap::Args)]
pub struct AppArgs {
    #[command(subcommand)]
    command: AppCommand,
}

#[derive(Debug, clap::Subcommand)]
enum AppCommand {
    /// List the apps, with how many instances run of how many wanted.
    List {
        #[command(flatten)]
        endpoints: Endpoints,
    },
    /// Show an app: its definition, its tasks, its deployments and its last task failure.
    Show {
        /// The app id (e.g. `/hello` or `hello`).
        id: String,
        #[command(flatten)]
        endpoints: Endpoints,
    },
    /// Create an app from a JSON definition (Marathon's format; `-` reads stdin).
    Add {
        /// The app definition.
        file: PathBuf,
        #[command(flatten)]
        follow: Follow,
        #[command(flatten)]
        endpoints: Endpoints,
    },
    /// Replace an app's definition (its tasks are replaced by a rolling restart).
    Update {
        /// The app id.
        id: String,
        /// The new definition (JSON; `-` reads stdin). Fields left out keep their value.
        file: PathBuf,
        #[command(flatten)]
        follow: Follow,
        #[command(flatten)]
        endpoints: Endpoints,
    },
    /// Change the number of instances.
    Scale {
        /// The app id.
        id: String,
        /// The number of instances wanted.
        instances: u32,
        #[command(flatten)]
        follow: Follow,
        #[command(flatten)]
        endpoints: Endpoints,
    },
    /// Replace every task of the app by a new one (a rolling restart).
    Restart {
        /// The app id.
        id: String,
        #[command(flatten)]
        follow: Follow,
        #[command(flatten)]
        endpoints: Endpoints,
    },
    /// Remove the app and kill its tasks.
    Remove {
        /// The app id.
        id: String,
        #[command(flatten)]
        follow: Follow,
        #[command(flatten)]
        endpoints: Endpoints,
    },
}

/// How a change is followed.
#[derive(Debug, Clone, clap::Args)]
pub struct Follow {
    /// Return once the scheduler accepted the change, without following the deployment.
    #[arg(long = "detach")]
    detach: bool,
    /// Stop following after this many seconds (the deployment itself goes on).
    #[arg(long = "timeout", default_value_t = 300, value_name = "SECONDS")]
    timeout: u64,
    /// Give up once this many tasks of the app failed during the deployment (the scheduler
    /// keeps retrying them with backoff).
    #[arg(long = "max_failures", default_value_t = 3, value_name = "N")]
    max_failures: u32,
    /// Override a deployment in progress (Marathon's `force=true`).
    #[arg(long = "force")]
    force: bool,
}

impl AppArgs {
    /// Runs the command.
    pub async fn run(self) -> CliResult {
        match self.command {
            AppCommand::List { endpoints } => list(&endpoints).await,
            AppCommand::Show { id, endpoints } => show(&endpoints, &id).await,
            AppCommand::Add {
                file,
                follow,
                endpoints,
            } => {
                let body = read_definition(&file)?;
                let id = body
                    .get("id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        CliError::Usage(format!(
                            "{} has no \"id\": an app definition needs one (e.g. \"id\": \"/hello\")",
                            file.display()
                        ))
                    })?
                    .to_owned();
                let change = Change {
                    app: app_path(&id),
                    verb: "deploy",
                    method: Method::POST,
                    path: "/v2/apps".to_owned(),
                    body: Some(body),
                };
                change.apply(&endpoints, &follow).await
            }
            AppCommand::Update {
                id,
                file,
                follow,
                endpoints,
            } => {
                let mut body = read_definition(&file)?;
                if let Some(map) = body.as_object_mut() {
                    // The id in the URL is the one that counts; a copied file may say another.
                    map.remove("id");
                }
                Change {
                    app: app_path(&id),
                    verb: "update",
                    method: Method::PUT,
                    path: format!("/v2/apps{}{}", app_path(&id), force_query(&follow)),
                    body: Some(body),
                }
                .apply(&endpoints, &follow)
                .await
            }
            AppCommand::Scale {
                id,
                instances,
                follow,
                endpoints,
            } => {
                Change {
                    app: app_path(&id),
                    verb: "scale",
                    // PATCH never creates: scaling an app that does not exist is a 404 that
                    // says so, where PUT would try to create it and complain about `cmd`.
                    method: Method::PATCH,
                    path: format!("/v2/apps{}{}", app_path(&id), force_query(&follow)),
                    body: Some(json!({ "instances": instances })),
                }
                .apply(&endpoints, &follow)
                .await
            }
            AppCommand::Restart {
                id,
                follow,
                endpoints,
            } => {
                Change {
                    app: app_path(&id),
                    verb: "restart",
                    method: Method::POST,
                    path: format!("/v2/apps{}/restart{}", app_path(&id), force_query(&follow)),
                    body: Some(json!({})),
                }
                .apply(&endpoints, &follow)
                .await
            }
            AppCommand::Remove {
                id,
                follow,
                endpoints,
            } => {
                Change {
                    app: app_path(&id),
                    verb: "remove",
                    method: Method::DELETE,
                    path: format!("/v2/apps{}{}", app_path(&id), force_query(&follow)),
                    body: None,
                }
                .apply(&endpoints, &follow)
                .await
            }
        }
    }
}

fn force_query(follow: &Follow) -> &'static str {
    if follow.force { "?force=true" } else { "" }
}

fn read_definition(file: &PathBuf) -> CliResult<Value> {
    let text = if file.as_os_str() == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).map_err(|e| {
            CliError::Usage(format!("cannot read the app definition from stdin: {e}"))
        })?;
        text
    } else {
        std::fs::read_to_string(file).map_err(|e| {
            CliError::Usage(format!(
                "cannot read the app definition {}: {e}",
                file.display()
            ))
        })?
    };
    let value: Value = serde_json::from_str(&text).map_err(|e| {
        CliError::Usage(format!(
            "{} is not a JSON app definition: {e}",
            file.display()
        ))
    })?;
    if !value.is_object() {
        return Err(CliError::Usage(format!(
            "{} must hold one JSON object (an app definition)",
            file.display()
        )));
    }
    Ok(value)
}

async fn list(endpoints: &Endpoints) -> CliResult {
    let answer = endpoints.marathon().get("/v2/apps").await?;
    if endpoints.json {
        print_json(&answer);
        return Ok(());
    }
    let apps = array(&answer, "apps");
    if apps.is_empty() {
        println!("No apps. Deploy one with `drover app add examples/hello.json`.");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = apps
        .iter()
        .map(|app| {
            vec![
                text(app, "id").to_owned(),
                format!(
                    "{}/{}",
                    fmt_number(number(app, "tasksRunning")),
                    fmt_number(number(app, "instances"))
                ),
                fmt_number(number(app, "cpus")),
                fmt_number(number(app, "mem")),
                if array(app, "deployments").is_empty() {
                    "-".to_owned()
                } else {
                    "deploying".to_owned()
                },
                command_of(app),
            ]
        })
        .collect();
    print_table(
        &["ID", "RUNNING", "CPUS", "MEM", "DEPLOYMENT", "COMMAND"],
        &rows,
    );
    Ok(())
}

fn command_of(app: &Value) -> String {
    let cmd = text(app, "cmd");
    let command = if cmd.is_empty() {
        array(app, "args")
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        cmd.to_owned()
    };
    if command.chars().count() > 60 {
        format!("{}…", command.chars().take(59).collect::<String>())
    } else {
        command
    }
}

async fn show(endpoints: &Endpoints, id: &str) -> CliResult {
    let path = format!(
        "/v2/apps{}?embed=app.tasks&embed=app.lastTaskFailure",
        app_path(id)
    );
    let answer = endpoints.marathon().get(&path).await?;
    if endpoints.json {
        print_json(&answer);
        return Ok(());
    }
    let app = answer.get("app").unwrap_or(&Value::Null);
    let field = |name: &str, value: String| println!("{name:<12}{value}");
    field("app", text(app, "id").to_owned());
    field("command", command_of(app));
    field(
        "instances",
        format!(
            "{} running of {} wanted ({} staged, {} healthy, {} unhealthy)",
            fmt_number(number(app, "tasksRunning")),
            fmt_number(number(app, "instances")),
            fmt_number(number(app, "tasksStaged")),
            fmt_number(number(app, "tasksHealthy")),
            fmt_number(number(app, "tasksUnhealthy")),
        ),
    );
    field(
        "resources",
        format!(
            "cpus {}, mem {} MB, disk {} MB",
            fmt_number(number(app, "cpus")),
            fmt_number(number(app, "mem")),
            fmt_number(number(app, "disk"))
        ),
    );
    field("version", text(app, "version").to_owned());
    for deployment in array(app, "deployments") {
        field("deploying", text(deployment, "id").to_owned());
    }
    let tasks = array(app, "tasks");
    println!();
    if tasks.is_empty() {
        println!("No tasks.");
    } else {
        let rows: Vec<Vec<String>> = tasks
            .iter()
            .map(|task| {
                vec![
                    text(task, "id").to_owned(),
                    text(task, "state").to_owned(),
                    text(task, "host").to_owned(),
                    array(task, "ports")
                        .iter()
                        .map(|p| p.to_string())
                        .collect::<Vec<_>>()
                        .join(","),
                    text(task, "startedAt").to_owned(),
                ]
            })
            .collect();
        print_table(&["TASK", "STATE", "HOST", "PORTS", "STARTED"], &rows);
    }
    if let Some(failure) = app.get("lastTaskFailure").filter(|f| f.is_object()) {
        println!();
        println!(
            "Last task failure: {} {} at {} on {}: {}",
            text(failure, "taskId"),
            text(failure, "state"),
            text(failure, "timestamp"),
            text(failure, "host"),
            text(failure, "message")
        );
        println!(
            "(`drover task show {}` has its whole history, `drover task logs {} --stderr` its output)",
            text(failure, "taskId"),
            text(failure, "taskId")
        );
    }
    Ok(())
}

/// One change to an app, answered with a deployment.
struct Change {
    app: String,
    verb: &'static str,
    method: Method,
    path: String,
    body: Option<Value>,
}

impl Change {
    async fn apply(self, endpoints: &Endpoints, follow: &Follow) -> CliResult {
        let marathon = endpoints.marathon();
        // Subscribe before changing anything, so that no event of the deployment is missed.
        // `/v2/events` answers once the subscription exists.
        let events = if follow.detach {
            None
        } else {
            Some(marathon.sse("/v2/events").await?)
        };
        let (status, bytes) = marathon
            .call(self.method.clone(), &self.path, self.body.as_ref())
            .await?;
        if !status.is_success() {
            let mut message = marathon.error_text(status, &bytes);
            if status == StatusCode::CONFLICT && self.verb != "deploy" {
                message.push_str(
                    " (a deployment of this app is in progress: wait for it, or pass --force)",
                );
            } else if status == StatusCode::CONFLICT {
                message.push_str(&format!(
                    " (change it with `drover app update {} FILE`)",
                    self.app
                ));
            } else if status == StatusCode::NOT_FOUND {
                message.push_str(" (list the apps with `drover app list`)");
            }
            return Err(CliError::Failed(message));
        }
        let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let deployment = answer
            .get("deploymentId")
            .and_then(Value::as_str)
            .or_else(|| {
                array(&answer, "deployments")
                    .first()
                    .and_then(|d| d.get("id"))
                    .and_then(Value::as_str)
            })
            .unwrap_or("")
            .to_owned();
        if endpoints.json {
            print_json(&answer);
        }
        let Some(events) = events else {
            if !endpoints.json {
                println!(
                    "{} {}: deployment {deployment} started",
                    self.verb, self.app
                );
            }
            return Ok(());
        };
        if deployment.is_empty() {
            // Nothing to deploy (e.g. scaling to the current count).
            if !endpoints.json {
                println!("{} {}: nothing to do", self.verb, self.app);
            }
            return Ok(());
        }
        let outcome = Follower {
            endpoints,
            app: &self.app,
            deployment: &deployment,
            removing: self.method == Method::DELETE,
            tty: stdout_is_tty() && !endpoints.json,
            failures: Vec::new(),
            started: Instant::now(),
        }
        .follow(events, follow)
        .await;
        match outcome {
            Ok(summary) => {
                if !endpoints.json {
                    println!("{}", summary);
                }
                Ok(())
            }
            Err(error) => Err(error),
        }
    }
}

/// The progress of a deployment from the app's counts. With health checks, a step only ends
/// when the new tasks are healthy, so the line says it is waiting for them rather than
/// showing every task running and nothing moving.
fn progress_text(app: &Value) -> String {
    let running = number(app, "tasksRunning");
    let instances = number(app, "instances");
    let mut line = format!("{}/{} running", fmt_number(running), fmt_number(instances));
    let checked = app
        .get("healthChecks")
        .and_then(Value::as_array)
        .is_some_and(|checks| !checks.is_empty());
    if checked {
        let healthy = number(app, "tasksHealthy");
        line.push_str(&format!(
            ", {}/{} healthy",
            fmt_number(healthy),
            fmt_number(instances)
        ));
        if running > healthy {
            line.push_str(" (waiting for health checks)");
        }
    }
    line
}

/// Follows one deployment through the event stream.
struct Follower<'a> {
    endpoints: &'a Endpoints,
    app: &'a str,
    deployment: &'a str,
    removing: bool,
    tty: bool,
    /// Failed tasks of the app seen during the deployment: (task id, state, message).
    failures: Vec<(String, String, String)>,
    started: Instant,
}

impl Follower<'_> {
    async fn follow(mut self, events: SseStream, follow: &Follow) -> CliResult<String> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(follow.timeout);
        let mut events = Some(events);
        let mut tick = tokio::time::interval(Duration::from_secs(2));
        let mut progress = String::from("starting");
        self.draw(&progress);
        loop {
            let next = async {
                match events.as_mut() {
                    Some(stream) => stream.next().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                event = next => {
                    let Some(event) = event else {
                        // The stream broke (scheduler restarting?): keep following by polling.
                        events = None;
                        continue;
                    };
                    let data: Value = serde_json::from_str(&event.data).unwrap_or(Value::Null);
                    match event.event.as_str() {
                        "deployment_success" if text(&data, "id") == self.deployment => {
                            return Ok(self.finish().await);
                        }
                        "deployment_failed" if text(&data, "id") == self.deployment => {
                            self.clear();
                            let reason = text(&data, "reason");
                            return Err(CliError::Failed(format!(
                                "{} of {} failed: {}{}",
                                self.verb_noun(),
                                self.app,
                                if reason.is_empty() { "the deployment was cancelled or superseded" } else { reason },
                                self.last_failure_text().await
                            )));
                        }
                        "status_update_event" if text(&data, "appId") == self.app => {
                            let state = text(&data, "taskStatus");
                            // Killed tasks are the deployment's own doing; a long-running task that
                            // finishes counts as a failure, as Marathon restarts it.
                            let failed = matches!(state, "TASK_FAILED" | "TASK_ERROR" | "TASK_LOST" | "TASK_DROPPED" | "TASK_GONE" | "TASK_FINISHED");
                            if failed && !self.removing {
                                let task = text(&data, "taskId").to_owned();
                                let message = text(&data, "message").to_owned();
                                self.clear();
                                println!("  task {task} {state}: {}", if message.is_empty() { "(no message)" } else { &message });
                                self.failures.push((task, state.to_owned(), message));
                                if self.failures.len() >= follow.max_failures as usize {
                                    return Err(self.gave_up().await);
                                }
                            }
                            progress = self.progress().await;
                            self.draw(&progress);
                        }
                        _ => {}
                    }
                }
                _ = tick.tick() => {
                    // Also poll: an event missed while the stream was down must not hang us.
                    match self.endpoints.marathon().get("/v2/deployments").await {
                        Ok(list) => {
                            let running = list.as_array().is_some_and(|l| l.iter().any(|d| text(d, "id") == self.deployment));
                            if !running && self.started.elapsed() > Duration::from_secs(1) {
                                return Ok(self.finish().await);
                            }
                        }
                        Err(CliError::Unreachable(m)) => { self.clear(); return Err(CliError::Unreachable(m)); }
                        Err(_) => {}
                    }
                    progress = self.progress().await;
                    self.draw(&progress);
                }
                _ = tokio::time::sleep_until(deadline) => {
                    self.clear();
                    return Err(CliError::Failed(format!(
                        "{} of {} still in progress after {}s (deployment {}): watch it with `drover events` or `drover app show {}`",
                        self.verb_noun(), self.app, follow.timeout, self.deployment, self.app
                    )));
                }
            }
        }
    }

    fn verb_noun(&self) -> &'static str {
        if self.removing {
            "removal"
        } else {
            "deployment"
        }
    }

    async fn progress(&self) -> String {
        if self.removing {
            return "stopping tasks".to_owned();
        }
        match self
            .endpoints
            .marathon()
            .get(&format!("/v2/apps{}", self.app))
            .await
        {
            Ok(answer) => progress_text(answer.get("app").unwrap_or(&Value::Null)),
            Err(_) => "waiting".to_owned(),
        }
    }

    /// Redraws the progress line (terminals only: logs and pipes get the final line only).
    fn draw(&self, progress: &str) {
        if !self.tty {
            return;
        }
        const SPINNER: [char; 4] = ['|', '/', '-', '\\'];
        let elapsed = self.started.elapsed().as_secs();
        let frame = SPINNER[(self.started.elapsed().as_millis() / 250) as usize % 4];
        print!(
            "\r\x1b[2K{frame} {} {}: {progress} ({elapsed}s)",
            self.verb_noun(),
            self.app
        );
        let _ = std::io::stdout().flush();
    }

    fn clear(&self) {
        if self.tty {
            print!("\r\x1b[2K");
            let _ = std::io::stdout().flush();
        }
    }

    async fn finish(&self) -> String {
        self.clear();
        let took = format!("{:.1}s", self.started.elapsed().as_secs_f64());
        if self.removing {
            return format!("removed {} ({took})", self.app);
        }
        format!(
            "deployment of {} succeeded: {} ({took})",
            self.app,
            self.progress().await
        )
    }

    async fn last_failure_text(&self) -> String {
        match self.failures.last() {
            Some((task, state, message)) => {
                let detail = super::task::last_status_line(&self.endpoints.master(), task)
                    .await
                    .unwrap_or_else(|| format!("{state}: {message}"));
                format!("; last task failure: {task} {detail}")
            }
            None => String::new(),
        }
    }

    async fn gave_up(&self) -> CliError {
        self.clear();
        let (task, _, _) = self.failures.last().cloned().unwrap_or_default();
        CliError::Failed(format!(
            "deployment of {} is failing: {} tasks failed{}. The scheduler keeps retrying with \
             backoff; fix the app with `drover app update {} FILE` or remove it with `drover app \
             remove {}` (`drover task show {task}` has the task's whole history, `drover task \
             logs {task} --stderr` its output)",
            self.app,
            self.failures.len(),
            self.last_failure_text().await,
            self.app,
            self.app,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_says_when_a_deployment_waits_on_health_checks() {
        let app = json!({"instances": 2, "tasksRunning": 2, "tasksHealthy": 1,
                         "healthChecks": [{"protocol": "MESOS_HTTP"}]});
        assert_eq!(
            progress_text(&app),
            "2/2 running, 1/2 healthy (waiting for health checks)"
        );
        let app = json!({"instances": 2, "tasksRunning": 2, "tasksHealthy": 2,
                         "healthChecks": [{"protocol": "MESOS_HTTP"}]});
        assert_eq!(progress_text(&app), "2/2 running, 2/2 healthy");
        let app = json!({"instances": 2, "tasksRunning": 1, "tasksHealthy": 0,
                         "healthChecks": []});
        assert_eq!(progress_text(&app), "1/2 running");
    }
}
