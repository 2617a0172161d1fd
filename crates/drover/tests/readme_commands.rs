//! The README's two commands, read from README.md and run as printed, so the README cannot drift
//! from what works on a fresh clone. The run command (`cargo run --release -- dev`) must start
//! the one-node cluster and print its addresses; the test command (`scripts/test`) must be what
//! CI runs, and its first stage (set-up) must work. The test command itself cannot be run from
//! inside the suite it runs.
//!
//! `scripts/test` builds the release binary before the tests, so the run command here only
//! checks that it is fresh and starts it; run alone on a machine without that build, the first
//! run compiles it (a few minutes).

use crate::support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::{free_port, http_get};

/// Long enough for a cold release build when the test is run on its own.
const START_DEADLINE: Duration = Duration::from_secs(900);
const STOP_DEADLINE: Duration = Duration::from_secs(60);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// The contents of the `sh` code blocks of the README's "The two commands" section, in order.
fn readme_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("read README.md");
    let section = readme
        .split("\n## The two commands\n")
        .nth(1)
        .expect("README.md has a section `## The two commands`");
    let section = section.split("\n## ").next().unwrap_or(section);
    let mut commands = Vec::new();
    let mut block: Option<Vec<&str>> = None;
    for line in section.lines() {
        match (&mut block, line.trim()) {
            (None, "```sh") => block = Some(Vec::new()),
            (Some(lines), "```") => {
                commands.push(lines.join("\n"));
                block = None;
            }
            (Some(lines), text) if !text.is_empty() => lines.push(text),
            _ => {}
        }
    }
    assert_eq!(
        commands.len(),
        2,
        "the README's section `The two commands` should have two sh blocks: {commands:?}"
    );
    commands
}

/// A command line of plain words (the README's commands have no quoting), split into words.
fn words(command: &str) -> Vec<String> {
    assert!(
        !command.contains(['\n', '\'', '"', '$', '|', ';', '&']),
        "not one plain command line: {command:?}"
    );
    command.split_whitespace().map(str::to_owned).collect()
}

/// The run command, exactly as printed, starts the cluster: it prints its addresses, the master
/// and the scheduler answer there, and SIGTERM (Ctrl-C's twin) stops it cleanly. Ports and the
/// work dir come from `drover dev`'s environment variables, so the command line is the README's.
#[test]
fn readme_run_command_starts_the_cluster_and_prints_its_addresses() {
    let command = readme_commands().remove(0);
    let argv = words(&command);
    let work_dir = tempfile::tempdir().expect("temp dir");
    let (master_port, agent_port, marathon_port) = (free_port(), free_port(), free_port());
    let mut child = Command::new(&argv[0]);
    // A user's shell, not a test harness: cargo exports `CARGO_MANIFEST_DIR`, `CARGO_PKG_*`…
    // to this test, and build scripts (ring's) rerun when those differ from the build's, which
    // would rebuild half the release binary inside this test.
    for (name, _) in std::env::vars() {
        let harness = (name.starts_with("CARGO_")
            && !matches!(name.as_str(), "CARGO_HOME" | "CARGO_TARGET_DIR"))
            || name.starts_with("__CARGO")
            || name.starts_with("NEXTEST")
            || name == "OUT_DIR";
        if harness {
            child.env_remove(&name);
        }
    }
    let mut child = child
        .args(&argv[1..])
        .current_dir(root())
        .env("DROVER_DEV_MASTER_PORT", master_port.to_string())
        .env("DROVER_DEV_AGENT_PORT", agent_port.to_string())
        .env("DROVER_DEV_MARATHON_PORT", marathon_port.to_string())
        .env("DROVER_DEV_WORK_DIR", work_dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("run `{command}`: {error}"));
    let (lines_tx, lines) = mpsc::channel::<String>();
    for stream in [
        Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().expect("stderr")),
    ] {
        let lines_tx = lines_tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    drop(lines_tx);
    let mut output = Vec::new();
    let mut wait_line = |what: &str, predicate: &dyn Fn(&str) -> bool, deadline: Duration| {
        let until = Instant::now() + deadline;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => {
                    let found = predicate(&line);
                    output.push(line);
                    if found {
                        return;
                    }
                }
                Err(_) => panic!("`{command}` never printed {what}:\n{}", output.join("\n")),
            }
        }
    };
    let master_line = format!("master     http://127.0.0.1:{master_port}");
    let agent_line = format!("agent      http://127.0.0.1:{agent_port}");
    let scheduler_line = format!("scheduler  http://127.0.0.1:{marathon_port}");
    wait_line(
        "the master's address",
        &|line| line.contains(&master_line),
        START_DEADLINE,
    );
    wait_line(
        "the agent's address",
        &|line| line.contains(&agent_line),
        STOP_DEADLINE,
    );
    wait_line(
        "the scheduler's address",
        &|line| line.contains(&scheduler_line),
        STOP_DEADLINE,
    );

    let (status, body) = http_get(master_port, "/master/state").expect("the master answers");
    assert_eq!(status, 200, "{body}");
    let state: serde_json::Value = serde_json::from_str(&body).expect("/master/state is JSON");
    assert_eq!(state["activated_slaves"], 1, "{body}");
    let (status, body) = http_get(marathon_port, "/v2/info").expect("the scheduler answers");
    assert_eq!(status, 200, "{body}");

    // `cargo run` replaces itself with the program on Unix: the child is `drover dev` now.
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    wait_line(
        "that it stopped",
        &|line| line == "drover dev: stopped",
        STOP_DEADLINE,
    );
    let until = Instant::now() + STOP_DEADLINE;
    let exit = loop {
        if let Some(exit) = child.try_wait().expect("wait") {
            break exit;
        }
        assert!(
            Instant::now() < until,
            "`{command}` did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "`{command}` exited with {exit}");
}

/// The test command is what CI runs (`.ci/run` ends by running it), it is an executable script,
/// and its first stage, the set-up, works (it is idempotent, and has already run before the
/// suite when the suite runs from the test command).
#[test]
fn readme_test_command_is_what_ci_runs_and_its_set_up_stage_works() {
    let command = readme_commands().remove(1);
    let argv = words(&command);
    assert_eq!(
        argv.len(),
        1,
        "the test command takes no arguments: {command}"
    );
    let script = root().join(&argv[0]);
    let mode = std::fs::metadata(&script)
        .unwrap_or_else(|error| panic!("{}: {error}", script.display()))
        .permissions();
    assert!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o111 != 0,
        "{command} is not executable"
    );

    let ci = std::fs::read_to_string(root().join(".ci/run")).expect("read .ci/run");
    let ci_commands: Vec<&str> = ci
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect();
    assert_eq!(
        ci_commands.last().copied(),
        Some(format!("exec {command}").as_str()),
        ".ci/run must end by running the README's test command:\n{ci}"
    );

    // The first stage of the test command: the command after its first `step` line.
    let test_script = std::fs::read_to_string(&script).expect("read the test command");
    let mut stages = test_script
        .lines()
        .map(str::trim)
        .skip_while(|line| !line.starts_with("step "));
    let first_step = stages.next().expect("the test command has stages");
    assert_eq!(first_step, "step \"set-up\"", "{test_script}");
    let first_command = stages
        .find(|line| !line.is_empty() && !line.starts_with('#'))
        .expect("the set-up stage has a command");
    let set_up = words(first_command);
    let output = Command::new(root().join(&set_up[0]))
        .args(&set_up[1..])
        .current_dir(root())
        .stdin(Stdio::null())
        .output()
        .expect("run the set-up stage");
    assert!(
        output.status.success(),
        "`{first_command}` failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
