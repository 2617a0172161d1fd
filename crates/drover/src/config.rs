//! Flag values from a TOML file: `--config FILE` for any command, and for the CLI commands
//! also the user's `$XDG_CONFIG_HOME/drover/config.toml` (default `~/.config/drover/config.toml`).
//!
//! Keys are flag names without the dashes (`port = 5050`, `work_dir = "/srv/drover"`,
//! `master = "10.0.0.1:5050"`). Top-level keys apply to the command being run; keys under a
//! table named after a command (`[master]`, `[agent]`, `[dev]`, `[app]`, …) apply only to it,
//! so one file can configure several daemons.
//!
//! The file is turned into ordinary `--key=value` arguments before clap parses the command
//! line, and only for flags not already given on the command line or through their
//! environment variable: precedence, validation and error messages stay clap's, and every
//! daemon's `Flags` keeps working unchanged.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::Command;

/// Top-level commands that talk to a cluster (they read the user's config file by default).
const CLIENT_COMMANDS: [&str; 4] = ["app", "task", "framework", "events"];

/// Returns `argv` with the config file's values added as flags, or a one-line error.
pub fn apply(root: &Command, argv: Vec<OsString>) -> Result<Vec<OsString>, String> {
    let args: Vec<String> = argv
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let Some((path, insert_at)) = command_path(root, &args) else {
        return Ok(argv);
    };
    let explicit = explicit_config(&args);
    let is_client =
        CLIENT_COMMANDS.contains(&path[0].as_str()) || (path[0] == "agent" && path.len() > 1);
    let (file, strict) = match explicit {
        Some(file) => (file, true),
        None if is_client => match default_client_config() {
            Some(file) if file.exists() => (file, false),
            _ => return Ok(argv),
        },
        None => return Ok(argv),
    };
    let text = std::fs::read_to_string(&file)
        .map_err(|e| format!("cannot read the config file {}: {e}", file.display()))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e| format!("{} is not valid TOML: {}", file.display(), one_line(&e)))?;

    let mut leaf = root;
    for name in &path {
        leaf = leaf
            .get_subcommands()
            .find(|c| c.get_name() == name)
            .ok_or_else(|| format!("unknown command {name}"))?;
    }
    let mut pairs: Vec<(String, toml::Value)> = Vec::new();
    for (key, value) in &table {
        match value {
            toml::Value::Table(section) if key == &path[0] => {
                pairs.extend(section.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            // A table for another command: not ours.
            toml::Value::Table(_) => {}
            _ => pairs.push((key.clone(), value.clone())),
        }
    }
    let command_name = format!("drover {}", path.join(" "));
    let mut extra: Vec<OsString> = Vec::new();
    for (key, value) in pairs {
        if path[0] == "events" && (key == "master" || key == "marathon") {
            // `drover events --master` selects the stream; it reads these keys itself.
            continue;
        }
        let arg = leaf
            .get_arguments()
            .chain(root.get_arguments())
            .find(|a| a.get_long() == Some(key.as_str()));
        let Some(arg) = arg else {
            if strict {
                return Err(format!(
                    "unknown key '{key}' in {}: `{command_name}` has no flag --{key} (see \
                     `{command_name} --help`)",
                    file.display()
                ));
            }
            continue;
        };
        if key == "config" {
            continue;
        }
        let given = args
            .iter()
            .any(|a| a == &format!("--{key}") || a.starts_with(&format!("--{key}=")));
        let from_env = arg
            .get_env()
            .is_some_and(|name| std::env::var_os(name).is_some());
        if given || from_env {
            continue;
        }
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) if !arg.get_action().takes_values() => {
                // A switch (`--keep_tasks_running`): present when true, absent when false.
                if b {
                    extra.push(format!("--{key}").into());
                }
                continue;
            }
            toml::Value::Boolean(b) => b.to_string(),
            other => {
                return Err(format!(
                    "key '{key}' in {}: expected a string, number or boolean, found {}",
                    file.display(),
                    other.type_str()
                ));
            }
        };
        extra.push(format!("--{key}={text}").into());
    }
    let mut out = argv;
    let tail = out.split_off(insert_at);
    out.extend(extra);
    out.extend(tail);
    Ok(out)
}

/// The subcommand names on the command line (`["app", "scale"]`) and the index just after the
/// last one, where file values are inserted so they bind to that command.
fn command_path(root: &Command, args: &[String]) -> Option<(Vec<String>, usize)> {
    let mut current = root;
    let mut path = Vec::new();
    let mut insert_at = 0;
    for (index, arg) in args.iter().enumerate().skip(1) {
        if arg == "--" {
            break;
        }
        if arg.starts_with('-') {
            continue;
        }
        if let Some(sub) = current.get_subcommands().find(|c| c.get_name() == arg) {
            path.push(arg.clone());
            insert_at = index + 1;
            current = sub;
        }
    }
    (!path.is_empty()).then_some((path, insert_at))
}

/// `--config FILE` or `--config=FILE`.
fn explicit_config(args: &[String]) -> Option<PathBuf> {
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "--" {
            break;
        }
        if let Some(value) = arg.strip_prefix("--config=") {
            return Some(PathBuf::from(value));
        }
        if arg == "--config" {
            return iter.next().map(PathBuf::from);
        }
    }
    None
}

/// `$XDG_CONFIG_HOME/drover/config.toml`, else `~/.config/drover/config.toml`.
pub fn default_client_config() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join(".config")))?;
    Some(base.join("drover").join("config.toml"))
}

/// The user's home directory, from `$HOME`.
pub fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn one_line(error: &dyn std::fmt::Display) -> String {
    error
        .to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}
