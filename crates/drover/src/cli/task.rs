//! `drover task …`: tasks of every framework as the master sees them (`/master/state`, whose
//! tasks carry Drover's `status_history`: every state with its reason, source and message),
//! kills through the scheduler that owns them (Marathon's `/v2/tasks/delete`), and sandbox
//! files through the agent's `/files` API.

use std::io::Write;
use std::time::Duration;

use hyper::Method;
use serde_json::{Value, json};

use super::http::encode_query;
use super::{
    CliError, CliResult, Endpoints, Service, array, fmt_time, is_terminal, number, print_json,
    print_table, resolve_id, text,
};

/// `drover task`.
#[derive(Debug, clap::Args)]
pub struct TaskArgs {
    #[command(subcommand)]
    command: TaskCommand,
}

#[derive(Debug, clap::Subcommand)]
enum TaskCommand {
    /// List the tasks of every framework (running ones; `--all` adds finished ones).
    List {
        /// Include completed tasks.
        #[arg(long = "all")]
        all: bool,
        #[command(flatten)]
        endpoints: Endpoints,
    },
    /// Show a task and its whole status history: states, reasons, sources and messages.
    Show {
        /// The task id (a unique prefix is enough).
        id: String,
        #[command(flatten)]
        endpoints: Endpoints,
    },
    /// Kill a task through its scheduler, and watch the scheduler replace it.
    Kill {
        /// The task id (a unique prefix is enough).
        id: String,
        /// Return once the kill is requested, without waiting for the replacement.
        #[arg(long = "detach")]
        detach: bool,
        /// Stop waiting after this many seconds.
        #[arg(long = "timeout", default_value_t = 120, value_name = "SECONDS")]
        timeout: u64,
        #[command(flatten)]
        endpoints: Endpoints,
    },
    /// Print a task's output (its sandbox's stdout, or stderr), read from its agent.
    Logs {
        /// The task id (a unique prefix is enough).
        id: String,
        /// Keep printing what the task writes until it ends (or Ctrl-C).
        #[arg(long = "follow", short = 'f')]
        follow: bool,
        /// Print stderr instead of stdout.
        #[arg(long = "stderr")]
        stderr: bool,
        #[command(flatten)]
        endpoints: Endpoints,
    },
    /// Run a command inside a running task's container (its namespaces, cgroups and
    /// sandbox), as `dcos task exec` did; exits with the command's status.
    Exec {
        /// The task id (a unique prefix is enough).
        id: String,
        /// Give the command a terminal, and send this terminal's keys to it (implies -i).
        #[arg(long = "tty", short = 't')]
        tty: bool,
        /// Send this process' stdin to the command.
        #[arg(long = "interactive", short = 'i')]
        interactive: bool,
        /// The command and its arguments (after `--`); run directly, not through a shell.
        #[arg(last = true, required = true, value_name = "CMD")]
        command: Vec<String>,
        #[command(flatten)]
        endpoints: Endpoints,
    },
    /// Attach this terminal to a task launched with a TTY (Marathon's `tty`): its output
    /// here, these keys there, until it ends or Ctrl-P Ctrl-Q detaches.
    Attach {
        /// The task id (a unique prefix is enough).
        id: String,
        #[command(flatten)]
        endpoints: Endpoints,
    },
}

impl TaskArgs {
    /// Runs the command.
    pub async fn run(self) -> CliResult {
        match self.command {
            TaskCommand::List { all, endpoints } => list(&endpoints, all).await,
            TaskCommand::Show { id, endpoints } => show(&endpoints, &id).await,
            TaskCommand::Kill {
                id,
                detach,
                timeout,
                endpoints,
            } => kill(&endpoints, &id, detach, timeout).await,
            TaskCommand::Logs {
                id,
                follow,
                stderr,
                endpoints,
            } => logs(&endpoints, &id, follow, stderr).await,
            TaskCommand::Exec {
                id,
                tty,
                interactive,
                command,
                endpoints,
            } => super::exec::exec(&endpoints, &id, tty, interactive || tty, command).await,
            TaskCommand::Attach { id, endpoints } => super::exec::attach(&endpoints, &id).await,
        }
    }
}

/// A task found in `/master/state`, with its framework.
#[derive(Debug, Clone)]
pub struct Found {
    /// The task's JSON.
    pub task: Value,
    /// Its framework's JSON (without the task lists).
    pub framework: Value,
}

/// Every task in `/master/state`: active and unreachable ones, then completed ones if asked.
pub fn tasks_of(state: &Value, completed: bool) -> Vec<Found> {
    let mut out = Vec::new();
    for key in ["frameworks", "completed_frameworks"] {
        for framework in array(state, key) {
            let mut lists = vec!["tasks", "unreachable_tasks"];
            if completed {
                lists.push("completed_tasks");
            }
            for list in lists {
                for task in array(framework, list) {
                    out.push(Found {
                        task: task.clone(),
                        framework: json!({
                            "id": text(framework, "id"),
                            "name": text(framework, "name"),
                        }),
                    });
                }
            }
        }
    }
    out
}

/// Finds a task by id or unique prefix; the newest entry wins if a task id was reused.
pub fn find_task(state: &Value, wanted: &str) -> CliResult<Found> {
    let all = tasks_of(state, true);
    let id = resolve_id("task", wanted, all.iter().map(|f| text(&f.task, "id")))?;
    all.into_iter()
        .find(|f| text(&f.task, "id") == id)
        .ok_or_else(|| CliError::Failed(format!("no task '{wanted}'")))
}

/// The task's newest status as one line: `TASK_FAILED (REASON_…, SOURCE_…): message`.
pub async fn last_status_line(master: &Service, task_id: &str) -> Option<String> {
    let state = master.get("/master/state").await.ok()?;
    let found = find_task(&state, task_id).ok()?;
    let last = array(&found.task, "status_history").last()?.clone();
    Some(status_line(&last))
}

fn status_line(status: &Value) -> String {
    let mut line = text(status, "state").to_owned();
    let extra: Vec<&str> = [text(status, "reason"), text(status, "source")]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    if !extra.is_empty() {
        line.push_str(&format!(" ({})", extra.join(", ")));
    }
    let message = text(status, "message");
    if !message.is_empty() {
        line.push_str(&format!(": {message}"));
    }
    line
}

/// The time of a task's newest status.
fn last_time(task: &Value) -> f64 {
    array(task, "status_history")
        .last()
        .map(|s| number(s, "timestamp"))
        .or_else(|| {
            array(task, "statuses")
                .last()
                .map(|s| number(s, "timestamp"))
        })
        .unwrap_or(0.0)
}

async fn list(endpoints: &Endpoints, all: bool) -> CliResult {
    let state = endpoints.master().get("/master/state").await?;
    let hosts = agent_hosts(&state);
    let tasks = tasks_of(&state, all);
    if endpoints.json {
        print_json(&Value::Array(
            tasks.iter().map(|f| f.task.clone()).collect(),
        ));
        return Ok(());
    }
    if tasks.is_empty() {
        println!("No tasks.");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = tasks
        .iter()
        .map(|f| {
            let agent = text(&f.task, "slave_id");
            vec![
                text(&f.task, "id").to_owned(),
                text(&f.task, "state").to_owned(),
                text(&f.framework, "name").to_owned(),
                hosts
                    .iter()
                    .find(|(id, _)| id == agent)
                    .map(|(_, h)| h.clone())
                    .unwrap_or_else(|| agent.to_owned()),
                fmt_time(last_time(&f.task)),
            ]
        })
        .collect();
    print_table(&["ID", "STATE", "FRAMEWORK", "HOST", "SINCE (UTC)"], &rows);
    Ok(())
}

fn agent_hosts(state: &Value) -> Vec<(String, String)> {
    ["slaves", "recovered_slaves"]
        .iter()
        .flat_map(|key| array(state, key))
        .map(|a| (text(a, "id").to_owned(), text(a, "hostname").to_owned()))
        .collect()
}

async fn show(endpoints: &Endpoints, wanted: &str) -> CliResult {
    let state = endpoints.master().get("/master/state").await?;
    let found = find_task(&state, wanted)?;
    if endpoints.json {
        print_json(&found.task);
        return Ok(());
    }
    let task = &found.task;
    let agent = text(task, "slave_id");
    let host = agent_hosts(&state)
        .into_iter()
        .find(|(id, _)| id == agent)
        .map(|(_, h)| h)
        .unwrap_or_default();
    let field = |name: &str, value: String| println!("{name:<11}{value}");
    field("task", text(task, "id").to_owned());
    field("name", text(task, "name").to_owned());
    field("state", text(task, "state").to_owned());
    field(
        "framework",
        format!(
            "{} ({})",
            text(&found.framework, "name"),
            text(&found.framework, "id")
        ),
    );
    field("agent", format!("{host} ({agent})"));
    let resources = task.get("resources").cloned().unwrap_or(Value::Null);
    field(
        "resources",
        ["cpus", "mem", "disk", "ports"]
            .iter()
            .filter_map(|name| {
                let value = resources.get(*name)?;
                let shown = match value {
                    Value::Number(n) => super::fmt_number(n.as_f64().unwrap_or(0.0)),
                    Value::String(s) => s.clone(),
                    _ => return None,
                };
                (shown != "0").then(|| format!("{name} {shown}"))
            })
            .collect::<Vec<_>>()
            .join(", "),
    );
    println!();
    let history = array(task, "status_history");
    let rows: Vec<Vec<String>> = history
        .iter()
        .map(|s| {
            let or_dash = |v: &str| {
                if v.is_empty() {
                    "-".to_owned()
                } else {
                    v.to_owned()
                }
            };
            vec![
                fmt_time(number(s, "timestamp")),
                text(s, "state").to_owned(),
                or_dash(text(s, "reason")),
                or_dash(text(s, "source")),
                text(s, "message").to_owned(),
            ]
        })
        .collect();
    if rows.is_empty() {
        println!("No status updates yet.");
    } else {
        print_table(
            &["TIME (UTC)", "STATE", "REASON", "SOURCE", "MESSAGE"],
            &rows,
        );
    }
    Ok(())
}

async fn kill(endpoints: &Endpoints, wanted: &str, detach: bool, timeout: u64) -> CliResult {
    let marathon = endpoints.marathon();
    let listed = marathon.get("/v2/tasks").await?;
    let tasks = array(&listed, "tasks");
    let id = match resolve_id("task", wanted, tasks.iter().map(|t| text(t, "id"))) {
        Ok(id) => id,
        Err(error) => {
            // Not the scheduler's: say whose it is, if the master knows it.
            if let Ok(state) = endpoints.master().get("/master/state").await
                && let Ok(found) = find_task(&state, wanted)
            {
                return Err(CliError::Failed(format!(
                    "task {} belongs to framework {} ({}), not to the scheduler at {}: only its \
                     framework can kill it",
                    text(&found.task, "id"),
                    text(&found.framework, "name"),
                    text(&found.framework, "id"),
                    marathon.shown
                )));
            }
            return Err(error);
        }
    };
    let app = tasks
        .iter()
        .find(|t| text(t, "id") == id)
        .map(|t| text(t, "appId").to_owned())
        .unwrap_or_default();
    let mut events = if detach {
        None
    } else {
        Some(marathon.sse("/v2/events").await?)
    };
    marathon
        .json(
            Method::POST,
            "/v2/tasks/delete",
            Some(&json!({"ids": [id]})),
        )
        .await?;
    let Some(stream) = events.as_mut() else {
        println!("kill requested for task {id}");
        return Ok(());
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
    let mut killed = false;
    loop {
        let event = tokio::select! {
            event = stream.next() => event,
            _ = tokio::time::sleep_until(deadline) => {
                return Err(CliError::Failed(format!(
                    "task {id} {} after {timeout}s: see `drover task show {id}`",
                    if killed { "was killed but no replacement is running" } else { "is not dead" }
                )));
            }
        };
        let Some(event) = event else {
            return Err(CliError::Failed(format!(
                "the scheduler closed its event stream; see `drover task show {id}`"
            )));
        };
        if event.event != "status_update_event" {
            continue;
        }
        let data: Value = serde_json::from_str(&event.data).unwrap_or(Value::Null);
        let task = text(&data, "taskId");
        let state = text(&data, "taskStatus");
        if task == id && is_terminal(state) {
            killed = true;
            if endpoints.json {
                print_json(&data);
            } else {
                println!("task {id} is {state}");
            }
        } else if killed && text(&data, "appId") == app && state == "TASK_RUNNING" {
            if endpoints.json {
                print_json(&data);
            } else {
                println!(
                    "replaced by task {task}, running on {}",
                    text(&data, "host")
                );
            }
            return Ok(());
        }
    }
}

/// Where a task's sandbox is: the agent's API and the directory.
async fn locate_sandbox(
    endpoints: &Endpoints,
    found: &Found,
    state: &Value,
) -> CliResult<(Service, String)> {
    let task = &found.task;
    let (task_id, agent_id) = (text(task, "id"), text(task, "slave_id"));
    let (service, agent_state) = agent_of(endpoints, found, state).await?;
    // Live and completed frameworks, running and exited executors: the agent keeps a finished
    // task's executor (with its sandbox directory) among `completed_executors`.
    let frameworks = array(&agent_state, "frameworks")
        .iter()
        .chain(array(&agent_state, "completed_frameworks"));
    for framework in frameworks {
        let executors = array(framework, "executors")
            .iter()
            .chain(array(framework, "completed_executors"));
        for executor in executors {
            let has = ["tasks", "queued_tasks", "completed_tasks"]
                .iter()
                .flat_map(|k| array(executor, k))
                .any(|t| text(t, "id") == task_id);
            if has && !text(executor, "directory").is_empty() {
                return Ok((service, text(executor, "directory").to_owned()));
            }
        }
    }
    // The executor is gone from the agent's state: its sandbox stays until garbage collected,
    // at Mesos' layout; the newest run is the task's (a command task's executor id is its id).
    let work_dir = agent_state
        .get("flags")
        .and_then(|f| f.get("work_dir"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let executor = match text(task, "executor_id") {
        "" => task_id,
        other => other,
    };
    let runs = format!(
        "{work_dir}/slaves/{agent_id}/frameworks/{}/executors/{executor}/runs",
        text(task, "framework_id")
    );
    let listing = service
        .get(&format!("/files/browse?path={}", encode_query(&runs)))
        .await
        .map_err(|_| {
            CliError::Failed(format!(
                "the sandbox of task {task_id} is gone from agent {agent_id} (garbage collected?)"
            ))
        })?;
    let newest = listing
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| !text(e, "path").ends_with("/latest"))
        .max_by(|a, b| number(a, "mtime").total_cmp(&number(b, "mtime")))
        .map(|e| text(e, "path").to_owned())
        .ok_or_else(|| CliError::Failed(format!("task {task_id} has no sandbox on its agent")))?;
    Ok((service, newest))
}

/// The running executor of a task on its agent (its `container` and `directory`), with the
/// agent's API.
pub async fn executor_of(
    endpoints: &Endpoints,
    found: &Found,
    state: &Value,
) -> CliResult<(Service, Value)> {
    let (service, agent_state) = agent_of(endpoints, found, state).await?;
    let task_id = text(&found.task, "id");
    for framework in array(&agent_state, "frameworks") {
        for executor in array(framework, "executors") {
            let has = ["tasks", "queued_tasks"]
                .iter()
                .flat_map(|k| array(executor, k))
                .any(|t| text(t, "id") == task_id);
            if has {
                return Ok((service, executor.clone()));
            }
        }
    }
    Err(CliError::Failed(format!(
        "task {task_id} has no running executor on its agent (has it ended?)"
    )))
}

/// The agent a task runs on: its API and its `/state`.
async fn agent_of(
    endpoints: &Endpoints,
    found: &Found,
    state: &Value,
) -> CliResult<(Service, Value)> {
    let task = &found.task;
    let agent_id = text(task, "slave_id");
    let agent = ["slaves", "recovered_slaves"]
        .iter()
        .flat_map(|key| array(state, key))
        .find(|a| text(a, "id") == agent_id)
        .ok_or_else(|| {
            CliError::Failed(format!(
                "the agent {agent_id} of task {} is no longer known to the master",
                text(task, "id")
            ))
        })?;
    let port = agent.get("port").and_then(Value::as_u64).unwrap_or(5051);
    // The advertised hostname may not resolve here (or, in `drover dev`, the agent listens on
    // loopback only); the master's own host is the next best guess on small clusters.
    let master_base = endpoints.master().base().await.unwrap_or_default();
    let master_host = master_base
        .split("://")
        .nth(1)
        .and_then(|rest| rest.rsplit_once(':'))
        .map(|(host, _)| host.to_owned())
        .unwrap_or_else(|| "127.0.0.1".to_owned());
    let mut last_error = None;
    let mut reached = None;
    for host in [text(agent, "hostname").to_owned(), master_host] {
        // An agent of the cluster takes the credentials its master takes (one credentials
        // file for both, as Mesos clusters and `drover dev --credentials` have it).
        let service = Service::new("agent", &format!("{host}:{port}"), "", "")
            .with_credential(super::credential(&endpoints.master_credentials).as_ref());
        match service.get("/state").await {
            Ok(agent_state) => {
                reached = Some((service, agent_state));
                break;
            }
            Err(error) => last_error = Some(error),
        }
    }
    reached.ok_or_else(|| last_error.unwrap_or_else(|| CliError::Unreachable("no agent".into())))
}

async fn logs(endpoints: &Endpoints, wanted: &str, follow: bool, stderr: bool) -> CliResult {
    let master = endpoints.master();
    let state = master.get("/master/state").await?;
    let found = find_task(&state, wanted)?;
    let task_id = text(&found.task, "id").to_owned();
    let (agent, directory) = locate_sandbox(endpoints, &found, &state).await?;
    let file = format!("{directory}/{}", if stderr { "stderr" } else { "stdout" });
    let mut offset: u64 = 0;
    let mut done = !follow;
    let mut polls = 0u32;
    loop {
        // Read everything there is, in bounded chunks.
        loop {
            let path = format!(
                "/files/read?path={}&offset={offset}&length={}",
                encode_query(&file),
                1 << 20
            );
            let chunk = match agent.get(&path).await {
                Ok(chunk) => chunk,
                Err(CliError::Failed(_)) if offset == 0 && follow => break,
                Err(CliError::Failed(message)) => {
                    return Err(CliError::Failed(format!(
                        "cannot read {file} of task {task_id}: {message}"
                    )));
                }
                Err(other) => return Err(other),
            };
            let data = text(&chunk, "data");
            if data.is_empty() {
                break;
            }
            offset += data.len() as u64;
            let mut out = std::io::stdout().lock();
            if out
                .write_all(data.as_bytes())
                .and_then(|_| out.flush())
                .is_err()
            {
                // The reader went away (`| head`): that is not an error.
                return Ok(());
            }
        }
        if done {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        polls += 1;
        if polls.is_multiple_of(4) {
            // Stop following once the task has ended (after one last read).
            if let Ok(state) = master.get("/master/state").await
                && let Ok(now) = find_task(&state, &task_id)
                && is_terminal(text(&now.task, "state"))
            {
                done = true;
            }
        }
    }
}
