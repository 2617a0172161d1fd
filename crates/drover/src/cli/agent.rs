//! `drover agent`: with daemon flags it runs an agent; with `list`, `show`, `drain`,
//! `deactivate`, `reactivate` or `mark-gone` it is the CLI for the agents the master knows
//! (`/master/state`, the Operator API's DRAIN_AGENT, DEACTIVATE_AGENT, REACTIVATE_AGENT and
//! MARK_AGENT_GONE).

use std::io::{BufRead, IsTerminal, Write};

use hyper::Method;
use serde_json::{Value, json};

use super::{
    CliError, CliResult, Endpoints, array, fmt_number, fmt_time, number, print_json, print_table,
    resolve_id, text,
};

/// `drover agent`: the daemon's flags, or a CLI subcommand (never both).
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct AgentArgs {
    #[command(subcommand)]
    command: Option<AgentCommand>,
    #[command(flatten)]
    daemon: Option<drover_agent::Flags>,
}

/// `drover agent drain`'s arguments.
#[derive(Debug, clap::Args)]
pub struct DrainArgs {
    /// The agent id (a unique prefix is enough).
    id: String,
    /// Cap on each task's kill grace period, e.g. `30secs` (default: each task's own).
    #[arg(long = "max-grace-period", value_parser = parse_duration)]
    max_grace_period: Option<std::time::Duration>,
    /// Mark the agent gone once it is drained (its tasks become TASK_GONE_BY_OPERATOR for
    /// partition-aware frameworks, and it may never rejoin).
    #[arg(long = "mark-gone")]
    mark_gone: bool,
    #[command(flatten)]
    endpoints: Endpoints,
}

#[derive(Debug, clap::Subcommand)]
pub enum AgentCommand {
    /// List the agents the master knows.
    List {
        #[command(flatten)]
        endpoints: Endpoints,
    },
    /// Show an agent: its resources, what is used and its tasks.
    Show {
        /// The agent id (a unique prefix is enough).
        id: String,
        #[command(flatten)]
        endpoints: Endpoints,
    },
    /// Drain an agent (Operator API DRAIN_AGENT): no more offers from it, and it kills its
    /// tasks; it is DRAINED once none is left. `reactivate` offers it again.
    Drain(Box<DrainArgs>),
    /// Stop offering an agent's resources; its tasks keep running (DEACTIVATE_AGENT).
    Deactivate {
        /// The agent id (a unique prefix is enough).
        id: String,
        #[command(flatten)]
        endpoints: Endpoints,
    },
    /// Offer a deactivated or drained agent's resources again (REACTIVATE_AGENT; ends a drain).
    Reactivate {
        /// The agent id (a unique prefix is enough).
        id: String,
        #[command(flatten)]
        endpoints: Endpoints,
    },
    /// Tell the master an agent is gone for good: its tasks become TASK_GONE_BY_OPERATOR and it
    /// may never rejoin (Operator API MARK_AGENT_GONE).
    #[command(name = "mark-gone")]
    MarkGone {
        /// The agent id (a unique prefix is enough).
        id: String,
        /// Do not ask for confirmation.
        #[arg(long = "yes", short = 'y')]
        yes: bool,
        #[command(flatten)]
        endpoints: Endpoints,
    },
}

impl AgentArgs {
    /// The daemon's flags, or the CLI command to run.
    pub fn into_daemon(self) -> Result<drover_agent::Flags, AgentCommand> {
        match (self.daemon, self.command) {
            (_, Some(command)) => Err(command),
            (Some(flags), None) => Ok(flags),
            // clap enforces the daemon's required flags when no subcommand is given.
            (None, None) => Err(AgentCommand::List {
                endpoints: Endpoints {
                    master: "127.0.0.1:5050".into(),
                    marathon: "127.0.0.1:8080".into(),
                    master_credentials: None,
                    marathon_credentials: None,
                    json: false,
                },
            }),
        }
    }
}

impl AgentCommand {
    /// Runs the command.
    pub async fn run(self) -> CliResult {
        match self {
            AgentCommand::List { endpoints } => list(&endpoints).await,
            AgentCommand::Show { id, endpoints } => show(&endpoints, &id).await,
            AgentCommand::MarkGone { id, yes, endpoints } => mark_gone(&endpoints, &id, yes).await,
            AgentCommand::Drain(args) => {
                let DrainArgs {
                    id,
                    max_grace_period,
                    mark_gone,
                    endpoints,
                } = *args;
                let mut drain = json!({"mark_gone": mark_gone});
                // The call's field is a google.protobuf.Duration (seconds and nanos), unlike
                // the DrainConfig it becomes (a DurationInfo).
                if let Some(grace) = max_grace_period {
                    drain["max_grace_period"] =
                        json!({"seconds": grace.as_secs(), "nanos": grace.subsec_nanos()});
                }
                let id = resolve_agent(&endpoints, &id).await?;
                let call = ("DRAIN_AGENT", "drain_agent");
                operate(&endpoints, &id, call, drain, "draining").await
            }
            AgentCommand::Deactivate { id, endpoints } => {
                let id = resolve_agent(&endpoints, &id).await?;
                let call = ("DEACTIVATE_AGENT", "deactivate_agent");
                operate(&endpoints, &id, call, json!({}), "deactivated").await
            }
            AgentCommand::Reactivate { id, endpoints } => {
                let id = resolve_agent(&endpoints, &id).await?;
                let call = ("REACTIVATE_AGENT", "reactivate_agent");
                operate(&endpoints, &id, call, json!({}), "active").await
            }
        }
    }
}

fn agents(state: &Value) -> Vec<Value> {
    ["slaves", "recovered_slaves"]
        .iter()
        .flat_map(|key| array(state, key))
        .cloned()
        .collect()
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    drover_wire::duration::parse(text)
}

/// What an operator did to it (a drain's state, or deactivated), else connected or not. Mesos'
/// `active` is false for a deactivated agent too, so `deactivated` comes first.
fn status(agent: &Value) -> &'static str {
    match agent.pointer("/drain_info/state").and_then(Value::as_str) {
        Some("DRAINING") => "draining",
        Some("DRAINED") => "drained",
        _ if agent.get("deactivated").and_then(Value::as_bool) == Some(true) => "deactivated",
        _ if agent.get("active").and_then(Value::as_bool) == Some(true) => "active",
        _ => "disconnected",
    }
}

/// The agent id a unique prefix names, among the agents the master knows.
async fn resolve_agent(endpoints: &Endpoints, wanted: &str) -> Result<String, CliError> {
    let state = endpoints.master().get("/master/state").await?;
    resolve_id(
        "agent",
        wanted,
        agents(&state).iter().map(|a| text(a, "id")),
    )
}

/// One Operator API call on an agent (`<kind>: {agent_id, ...fields}`); says what it now is.
async fn operate(
    endpoints: &Endpoints,
    id: &str,
    (kind, key): (&str, &str),
    mut fields: Value,
    now: &str,
) -> CliResult {
    fields["agent_id"] = json!({"value": id});
    endpoints
        .master()
        .json(
            Method::POST,
            "/api/v1",
            Some(&json!({"type": kind, key: fields})),
        )
        .await?;
    if endpoints.json {
        print_json(&json!({"agent_id": id, "status": now}));
    } else {
        println!("agent {id} is {now}");
    }
    Ok(())
}

fn usage(agent: &Value, name: &str) -> String {
    let total = agent.get("resources").map_or(0.0, |r| number(r, name));
    let used = agent.get("used_resources").map_or(0.0, |r| number(r, name));
    format!("{}/{}", fmt_number(used), fmt_number(total))
}

async fn list(endpoints: &Endpoints) -> CliResult {
    let state = endpoints.master().get("/master/state").await?;
    let agents = agents(&state);
    if endpoints.json {
        print_json(&Value::Array(agents));
        return Ok(());
    }
    if agents.is_empty() {
        println!("No agents.");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = agents
        .iter()
        .map(|a| {
            vec![
                text(a, "id").to_owned(),
                format!("{}:{}", text(a, "hostname"), number(a, "port")),
                status(a).to_owned(),
                usage(a, "cpus"),
                usage(a, "mem"),
                usage(a, "disk"),
            ]
        })
        .collect();
    print_table(
        &["ID", "ADDRESS", "STATUS", "CPUS", "MEM (MB)", "DISK (MB)"],
        &rows,
    );
    Ok(())
}

async fn show(endpoints: &Endpoints, wanted: &str) -> CliResult {
    let state = endpoints.master().get("/master/state").await?;
    let agents = agents(&state);
    let id = resolve_id("agent", wanted, agents.iter().map(|a| text(a, "id")))?;
    let agent = agents
        .into_iter()
        .find(|a| text(a, "id") == id)
        .unwrap_or_default();
    let tasks: Vec<super::task::Found> = super::task::tasks_of(&state, false)
        .into_iter()
        .filter(|f| text(&f.task, "slave_id") == id)
        .collect();
    if endpoints.json {
        let mut agent = agent;
        agent["tasks"] = Value::Array(tasks.into_iter().map(|f| f.task).collect());
        print_json(&agent);
        return Ok(());
    }
    let field = |name: &str, value: String| println!("{name:<12}{value}");
    field("agent", id.clone());
    field(
        "address",
        format!("{}:{}", text(&agent, "hostname"), number(&agent, "port")),
    );
    field("status", status(&agent).to_owned());
    field("registered", fmt_time(number(&agent, "registered_time")));
    for name in ["cpus", "mem", "disk"] {
        field(name, format!("{} used", usage(&agent, name)));
    }
    if let Some(ports) = agent
        .get("resources")
        .and_then(|r| r.get("ports"))
        .and_then(Value::as_str)
    {
        field("ports", ports.to_owned());
    }
    println!();
    if tasks.is_empty() {
        println!("No tasks.");
    } else {
        let rows: Vec<Vec<String>> = tasks
            .iter()
            .map(|f| {
                vec![
                    text(&f.task, "id").to_owned(),
                    text(&f.task, "state").to_owned(),
                    text(&f.framework, "name").to_owned(),
                ]
            })
            .collect();
        print_table(&["TASK", "STATE", "FRAMEWORK"], &rows);
    }
    Ok(())
}

async fn mark_gone(endpoints: &Endpoints, wanted: &str, yes: bool) -> CliResult {
    let id = resolve_agent(endpoints, wanted).await?;
    // Irreversible: ask when a person is at the terminal.
    if !yes && std::io::stdin().is_terminal() {
        print!(
            "Mark agent {id} gone? Its tasks become TASK_GONE_BY_OPERATOR and it can never \
             rejoin. [y/N] "
        );
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Err(CliError::Failed("not marked gone".into()));
        }
    }
    let call = ("MARK_AGENT_GONE", "mark_agent_gone");
    operate(endpoints, &id, call, json!({}), "marked gone").await
}
