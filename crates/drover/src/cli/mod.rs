//! The CLI: `drover app|group|pod|task|agent|framework|events …`. It talks to a cluster only through the
//! public HTTP APIs (Marathon's REST API v2 and `/v2/events`, the master's `/master/state` and
//! Operator API v1, the agent's `/state` and `/files`), like the DC/OS and Mesos CLIs did, so it
//! works against any Drover (or Mesos/Marathon) cluster.
//!
//! Output is a table for people and the APIs' own JSON with `--json` for scripts. Exit codes:
//! 0 success, 1 the operation failed, 2 usage, 3 a daemon could not be reached.

pub mod agent;
pub mod app;
pub mod events;
pub mod exec;
pub mod framework;
pub mod group;
pub mod http;
pub mod pod;
pub mod task;

use std::fmt;
use std::io::IsTerminal;

use serde_json::Value;

pub use http::Service;

/// Why a CLI command failed; each kind has its exit code.
#[derive(Debug)]
pub enum CliError {
    /// The operation failed (exit 1): a rejected request, a failed deployment, a missing task.
    Failed(String),
    /// The command was used wrongly (exit 2): bad arguments, an unreadable app file.
    Usage(String),
    /// A daemon did not answer (exit 3).
    Unreachable(String),
    /// Exit with this status, saying nothing: `drover task exec` passes on its command's.
    Exit(u8),
}

impl CliError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Failed(_) => 1,
            CliError::Usage(_) => 2,
            CliError::Unreachable(_) => 3,
            CliError::Exit(code) => *code,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Failed(m) | CliError::Usage(m) | CliError::Unreachable(m) => f.write_str(m),
            CliError::Exit(code) => write!(f, "exit status {code}"),
        }
    }
}

/// Result of a CLI command.
pub type CliResult<T = ()> = Result<T, CliError>;

/// How a change of a group or a pod is waited for (their commands share these flags).
#[derive(Debug, Clone, clap::Args)]
pub struct Wait {
    /// Return once the scheduler accepted the change.
    #[arg(long = "detach")]
    pub detach: bool,
    /// Stop waiting after this many seconds (the deployment goes on).
    #[arg(long = "timeout", default_value_t = 300, value_name = "SECONDS")]
    pub timeout: u64,
    /// Override deployments in progress (Marathon's `force=true`).
    #[arg(long = "force")]
    pub force: bool,
}

/// Where the cluster is. Flags win over `DROVER_MASTER`/`DROVER_MARATHON`, which win over the
/// `master`/`marathon` keys of the config file; the defaults are `drover dev`'s addresses.
#[derive(Debug, Clone, clap::Args)]
pub struct Endpoints {
    /// The master, `host:port` or a URL.
    #[arg(
        long = "master",
        env = "DROVER_MASTER",
        default_value = "127.0.0.1:5050",
        value_name = "ADDR"
    )]
    pub master: String,
    /// The Marathon-compatible scheduler, `host:port` or a URL.
    #[arg(
        long = "marathon",
        env = "DROVER_MARATHON",
        default_value = "127.0.0.1:8080",
        value_name = "ADDR"
    )]
    pub marathon: String,
    /// `principal:secret` for a master that authenticates HTTP requests
    /// (`--authenticate_http_readwrite`/`readonly`); also the config file's
    /// `master_credentials`.
    #[arg(
        long = "master_credentials",
        env = "DROVER_MASTER_CREDENTIALS",
        value_name = "PRINCIPAL:SECRET",
        value_parser = credential_text
    )]
    pub master_credentials: Option<Box<str>>,
    /// `user:password` for a scheduler started with `--http_credentials`; also the config
    /// file's `marathon_credentials`.
    #[arg(
        long = "marathon_credentials",
        env = "DROVER_MARATHON_CREDENTIALS",
        value_name = "USER:PASSWORD",
        value_parser = credential_text
    )]
    pub marathon_credentials: Option<Box<str>>,
    /// Print the API's JSON instead of a table (for scripts).
    #[arg(long = "json")]
    pub json: bool,
}

/// Checks a `principal:secret` flag value; kept as text so `Endpoints` stays small.
fn credential_text(text: &str) -> Result<Box<str>, String> {
    drover_http::auth::Credential::parse_pair(text).map(|_| text.into())
}

/// The credential of a checked `principal:secret` flag value.
fn credential(text: &Option<Box<str>>) -> Option<drover_http::auth::Credential> {
    text.as_deref()
        .and_then(|t| drover_http::auth::Credential::parse_pair(t).ok())
}

impl Endpoints {
    /// The master's HTTP APIs.
    pub fn master(&self) -> Service {
        Service::new("master", &self.master, "--master", "DROVER_MASTER")
            .with_credential(credential(&self.master_credentials).as_ref())
    }

    /// The scheduler's HTTP APIs.
    pub fn marathon(&self) -> Service {
        Service::new("scheduler", &self.marathon, "--marathon", "DROVER_MARATHON")
            .with_credential(credential(&self.marathon_credentials).as_ref())
    }
}

/// Prints a JSON value, pretty, for `--json`.
pub fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
    );
}

/// Prints rows under a header, columns padded to their widest cell.
pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            }
        }
        println!("{}", out.trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

/// Whether stdout is a terminal (progress lines are only drawn there).
pub fn stdout_is_tty() -> bool {
    std::io::stdout().is_terminal()
}

/// A string field of a JSON object, or "".
pub fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or("")
}

/// A number field of a JSON object, or 0.
pub fn number(value: &Value, key: &str) -> f64 {
    value.get(key).and_then(Value::as_f64).unwrap_or(0.0)
}

/// An array field of a JSON object, or an empty slice.
pub fn array<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value
        .get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// `1.5` → "1.5", `2.0` → "2".
pub fn fmt_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n:.2}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_owned()
    }
}

/// Seconds since the epoch → `2024-05-01 12:00:01.123 UTC` (no time-zone database needed).
pub fn fmt_time(seconds: f64) -> String {
    if seconds <= 0.0 || !seconds.is_finite() {
        return "-".to_owned();
    }
    let millis = (seconds * 1000.0).round() as i64;
    let (days, ms_of_day) = (millis.div_euclid(86_400_000), millis.rem_euclid(86_400_000));
    let (y, m, d) = civil_from_days(days);
    let (h, rest) = (ms_of_day / 3_600_000, ms_of_day % 3_600_000);
    let (min, rest) = (rest / 60_000, rest % 60_000);
    format!(
        "{y:04}-{m:02}-{d:02} {h:02}:{min:02}:{:02}.{:03}",
        rest / 1000,
        rest % 1000
    )
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 → (year, month, day).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Whether a Mesos task state is terminal.
pub fn is_terminal(state: &str) -> bool {
    matches!(
        state,
        "TASK_FINISHED"
            | "TASK_FAILED"
            | "TASK_KILLED"
            | "TASK_LOST"
            | "TASK_ERROR"
            | "TASK_DROPPED"
            | "TASK_GONE"
            | "TASK_GONE_BY_OPERATOR"
    )
}

/// Finds the one id in `ids` equal to `wanted`, or else the only one starting with it.
pub fn resolve_id<'a>(
    what: &str,
    wanted: &str,
    ids: impl Iterator<Item = &'a str>,
) -> CliResult<String> {
    let ids: Vec<&str> = ids.collect();
    if ids.contains(&wanted) {
        return Ok(wanted.to_owned());
    }
    let mut matches: Vec<&str> = ids
        .iter()
        .copied()
        .filter(|id| id.starts_with(wanted))
        .collect();
    matches.sort_unstable();
    matches.dedup();
    match matches.as_slice() {
        [one] => Ok((*one).to_owned()),
        [] => {
            // Finished tasks are listed only with `--all`, and an id the user copied from
            // yesterday's output is most often one of those.
            let list = if what == "task" {
                "drover task list --all".to_owned()
            } else {
                format!("drover {what} list")
            };
            Err(CliError::Failed(format!(
                "no {what} '{wanted}' (list them with `{list}`)"
            )))
        }
        many => {
            const SHOWN: usize = 3;
            let more = if many.len() > SHOWN { ", …" } else { "" };
            Err(CliError::Failed(format!(
                "'{wanted}' matches {} {what}s ({}{more}): give more of the id",
                many.len(),
                many[..many.len().min(SHOWN)].join(", ")
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_formatted_in_utc() {
        assert_eq!(fmt_time(0.0), "-");
        assert_eq!(fmt_time(1_700_000_000.5), "2023-11-14 22:13:20.500");
        assert_eq!(fmt_time(951_782_400.0), "2000-02-29 00:00:00.000");
    }

    #[test]
    fn numbers_drop_useless_decimals() {
        assert_eq!(fmt_number(2.0), "2");
        assert_eq!(fmt_number(0.1), "0.1");
        assert_eq!(fmt_number(0.25), "0.25");
    }

    #[test]
    fn ids_resolve_by_unique_prefix() {
        let ids = ["web.1", "web.2", "db.1"];
        assert_eq!(resolve_id("task", "db", ids.into_iter()).unwrap(), "db.1");
        assert_eq!(
            resolve_id("task", "web.2", ids.into_iter()).unwrap(),
            "web.2"
        );
        assert!(resolve_id("task", "web", ids.into_iter()).is_err());
        assert!(resolve_id("task", "x", ids.into_iter()).is_err());
    }

    fn message(result: CliResult<String>) -> String {
        match result {
            Err(CliError::Failed(m)) => m,
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    /// Finished tasks only show with `--all`, so the hint after an unknown task id names it.
    #[test]
    fn an_unknown_task_id_hints_at_list_all() {
        let m = message(resolve_id("task", "x", ["web.1"].into_iter()));
        assert!(m.contains("`drover task list --all`"), "{m}");
        let m = message(resolve_id("agent", "x", ["a1"].into_iter()));
        assert!(m.contains("`drover agent list`"), "{m}");
    }

    /// `…` means "and more": only when some matches are left out of the list.
    #[test]
    fn an_ambiguous_prefix_lists_matches_with_an_ellipsis_only_when_some_are_left_out() {
        let m = message(resolve_id("task", "web", ["web.1", "web.2"].into_iter()));
        assert_eq!(
            m,
            "'web' matches 2 tasks (web.1, web.2): give more of the id"
        );
        let m = message(resolve_id(
            "task",
            "web",
            ["web.1", "web.2", "web.3", "web.4"].into_iter(),
        ));
        assert_eq!(
            m,
            "'web' matches 4 tasks (web.1, web.2, web.3, …): give more of the id"
        );
    }
}
