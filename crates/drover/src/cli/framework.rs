//! `drover framework list`: the frameworks the master knows, from `/master/state`.

use serde_json::Value;

use super::{CliResult, Endpoints, array, fmt_number, number, print_json, print_table, text};

/// `drover framework`.
#[derive(Debug, clap::Args)]
pub struct FrameworkArgs {
    #[command(subcommand)]
    command: FrameworkCommand,
}

#[derive(Debug, clap::Subcommand)]
enum FrameworkCommand {
    /// List the frameworks (`--all` adds the removed ones the master still remembers).
    List {
        /// Include completed (torn down) frameworks.
        #[arg(long = "all")]
        all: bool,
        #[command(flatten)]
        endpoints: Endpoints,
    },
}

impl FrameworkArgs {
    /// Runs the command.
    pub async fn run(self) -> CliResult {
        let FrameworkCommand::List { all, endpoints } = self.command;
        let state = endpoints.master().get("/master/state").await?;
        let mut frameworks: Vec<(Value, &str)> = array(&state, "frameworks")
            .iter()
            .map(|f| {
                let status = if f.get("connected").and_then(Value::as_bool) == Some(true) {
                    "connected"
                } else {
                    "disconnected"
                };
                (f.clone(), status)
            })
            .collect();
        if all {
            frameworks.extend(
                array(&state, "completed_frameworks")
                    .iter()
                    .map(|f| (f.clone(), "completed")),
            );
        }
        if endpoints.json {
            print_json(&Value::Array(
                frameworks.into_iter().map(|(f, _)| f).collect(),
            ));
            return Ok(());
        }
        if frameworks.is_empty() {
            println!("No frameworks.");
            return Ok(());
        }
        let rows: Vec<Vec<String>> = frameworks
            .iter()
            .map(|(f, status)| {
                let used = f.get("used_resources").cloned().unwrap_or(Value::Null);
                vec![
                    text(f, "id").to_owned(),
                    text(f, "name").to_owned(),
                    (*status).to_owned(),
                    array(f, "tasks").len().to_string(),
                    fmt_number(number(&used, "cpus")),
                    fmt_number(number(&used, "mem")),
                    text(f, "webui_url").to_owned(),
                ]
            })
            .collect();
        print_table(
            &["ID", "NAME", "STATUS", "TASKS", "CPUS", "MEM", "WEB UI"],
            &rows,
        );
        Ok(())
    }
}
