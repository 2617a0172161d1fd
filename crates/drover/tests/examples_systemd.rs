//! The README's production units (`examples/systemd/*.service`) stay true: every `ExecStart`
//! names a `drover` subcommand and every flag it passes parses as that daemon's flags, so a
//! renamed or removed flag fails here rather than on an operator's machine.

use std::path::Path;

use clap::{Args, FromArgMatches};

/// The words of a unit's `ExecStart`, continuation lines joined.
fn exec_start(unit: &str) -> Vec<String> {
    let mut joined = String::new();
    let mut inside = false;
    for line in unit.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("ExecStart=") {
            inside = true;
            joined.push_str(rest);
        } else if inside {
            joined.push(' ');
            joined.push_str(line);
        }
        if inside {
            if joined.ends_with('\\') {
                joined.pop();
            } else {
                break;
            }
        }
    }
    joined.split_whitespace().map(str::to_owned).collect()
}

fn parses<T: Args + FromArgMatches>(name: &'static str, args: &[String]) {
    let command = T::augment_args(clap::Command::new(name).no_binary_name(true));
    let matches = command
        .try_get_matches_from(args)
        .unwrap_or_else(|e| panic!("{name} {args:?}: {e}"));
    T::from_arg_matches(&matches).unwrap_or_else(|e| panic!("{name} {args:?}: {e}"));
}

#[test]
fn every_example_unit_runs_drover_with_flags_it_accepts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/systemd");
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("examples/systemd") {
        let path = entry.expect("entry").path();
        let unit = std::fs::read_to_string(&path).expect("read unit");
        let words = exec_start(&unit);
        assert_eq!(
            words.first().map(String::as_str),
            Some("/usr/local/bin/drover"),
            "{}",
            path.display()
        );
        let sub = words.get(1).cloned().unwrap_or_default();
        let args = &words[2..];
        match sub.as_str() {
            "master" => parses::<drover_master::Flags>("master", args),
            "marathon" => parses::<drover_marathon::Flags>("marathon", args),
            "agent" => parses::<drover_agent::Flags>("agent", args),
            other => panic!("{}: unknown subcommand {other}", path.display()),
        }
        assert!(unit.contains("Restart=always"), "{}", path.display());
        seen.push(sub);
    }
    seen.sort();
    assert_eq!(seen, ["agent", "marathon", "master"]);
}
