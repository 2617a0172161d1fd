//! The README's five-minute tour, run for real: `drover dev` (the built binary) on free ports
//! with a temp work dir, and the very CLI invocations the README shows, pointed at those ports
//! through `DROVER_MASTER`/`DROVER_MARATHON`. Then SIGTERM (clean exit, no task process left),
//! a restart that finds the app and the framework id, and `--keep_tasks_running`.

use crate::support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::{DROVER, free_port, wait_until};

/// Generous: a loaded 2-core machine may be slow; waits end as soon as they are met.
const DEADLINE: Duration = Duration::from_secs(90);

/// `drover dev` as a child process, killed on drop even if the test panicked.
struct Dev {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr_log: PathBuf,
}

#[derive(Clone, Copy)]
struct Ports {
    master: u16,
    agent: u16,
    marathon: u16,
}

impl Dev {
    fn start(dir: &Path, ports: Ports, extra: &[&str]) -> Dev {
        Dev::start_with_env(dir, ports, extra, &[])
    }

    fn start_with_env(dir: &Path, ports: Ports, extra: &[&str], env: &[(String, String)]) -> Dev {
        let stderr_log = dir.join(format!("dev-{}.log", free_port()));
        let mut child = Command::new(DROVER)
            .arg("dev")
            .arg(format!("--work_dir={}", dir.join("work").display()))
            .arg(format!("--master_port={}", ports.master))
            .arg(format!("--agent_port={}", ports.agent))
            .arg(format!("--marathon_port={}", ports.marathon))
            .arg("--resources=cpus:2;mem:2048;disk:4096;ports:[31000-31999]")
            .args(extra)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("XDG_CONFIG_HOME", dir.join("config"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_log).expect("log file"))
            .spawn()
            .expect("start drover dev");
        let stdout = Arc::new(Mutex::new(String::new()));
        let sink = stdout.clone();
        let pipe = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut out = sink.lock().unwrap();
                out.push_str(&line);
                out.push('\n');
            }
        });
        let mut dev = Dev {
            child,
            stdout,
            stderr_log,
        };
        let deadline = Instant::now() + DEADLINE;
        while !dev.stdout().contains("Drover is running") {
            if let Ok(Some(status)) = dev.child.try_wait() {
                panic!("drover dev exited with {status}:\n{}", dev.output());
            }
            assert!(
                Instant::now() < deadline,
                "drover dev did not start:\n{}",
                dev.output()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        dev
    }

    fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    fn output(&self) -> String {
        format!(
            "--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout(),
            std::fs::read_to_string(&self.stderr_log).unwrap_or_default()
        )
    }

    /// SIGTERM, then waits for the exit; returns its code.
    fn terminate(&mut self) -> i32 {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .expect("SIGTERM");
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status.code().unwrap_or(-1);
            }
            assert!(
                Instant::now() < deadline,
                "drover dev did not stop:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a CLI invocation printed.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs a README command line (`drover app add examples/hello.json`) against the test's
/// cluster, from the repository root so that `examples/` resolves as in the README.
fn drover(dir: &Path, ports: Ports, line: &str) -> Run {
    drover_with_env(dir, ports, line, &[])
}

/// [`drover`] with extra environment variables (`LIBPROCESS_SSL_*`).
fn drover_with_env(dir: &Path, ports: Ports, line: &str, env: &[(String, String)]) -> Run {
    let args: Vec<&str> = line
        .strip_prefix("drover ")
        .expect("a drover command")
        .split_whitespace()
        .collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut child = Command::new(DROVER)
        .args(&args)
        .current_dir(&root)
        .env("DROVER_MASTER", format!("127.0.0.1:{}", ports.master))
        .env("DROVER_MARATHON", format!("127.0.0.1:{}", ports.marathon))
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the CLI");
    let deadline = Instant::now() + Duration::from_secs(240);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break child.wait().expect("reap");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = child.wait_with_output().expect("output");
    let run = Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    eprintln!("$ {line}\n{run:?}");
    assert!(!run.stderr.contains("panicked"), "{line} panicked: {run:?}");
    run
}

fn ok(dir: &Path, ports: Ports, line: &str) -> String {
    let run = drover(dir, ports, line);
    assert_eq!(run.code, 0, "{line}: {run:?}");
    run.stdout
}

fn fresh_ports() -> Ports {
    Ports {
        master: free_port(),
        agent: free_port(),
        marathon: free_port(),
    }
}

/// Processes whose working directory is inside `dir` (tasks run in their sandboxes).
/// The cgroups called `name` at the top of any hierarchy (v1) or of the unified one (v2).
fn cgroup_dirs_named(name: &str) -> Vec<std::path::PathBuf> {
    let root = Path::new("/sys/fs/cgroup");
    let mut candidates = vec![root.join(name)];
    for hierarchy in std::fs::read_dir(root).into_iter().flatten().flatten() {
        candidates.push(hierarchy.path().join(name));
    }
    candidates.into_iter().filter(|p| p.is_dir()).collect()
}

fn processes_under(dir: &Path) -> Vec<i32> {
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd.starts_with(&dir))
        })
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
                s.rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().next())
                    .is_some_and(|state| state != "Z")
            })
        })
        .collect()
}

/// Kills what a failed test may have left behind.
struct Sweep(PathBuf);

impl Drop for Sweep {
    fn drop(&mut self) {
        for pid in processes_under(&self.0) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

fn framework_id(banner: &str) -> String {
    banner
        .split("framework id ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .expect("the banner names the framework id")
        .to_owned()
}

fn running_tasks(dir: &Path, ports: Ports, prefix: &str) -> Vec<String> {
    running_tasks_with_env(dir, ports, prefix, &[])
}

fn running_tasks_with_env(
    dir: &Path,
    ports: Ports,
    prefix: &str,
    env: &[(String, String)],
) -> Vec<String> {
    let run = drover_with_env(dir, ports, "drover task list --json", env);
    assert_eq!(run.code, 0, "task list: {run:?}");
    let listed = run.stdout;
    let tasks: serde_json::Value = serde_json::from_str(&listed).expect("task list --json");
    tasks
        .as_array()
        .expect("an array")
        .iter()
        .filter(|t| t["state"] == "TASK_RUNNING")
        .filter_map(|t| t["id"].as_str())
        .filter(|id| id.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

#[test]
fn readme_tour_then_restart_keeps_apps_and_framework() {
    let dir = tempfile::tempdir().expect("temp dir");
    let _sweep = Sweep(dir.path().join("work"));
    let ports = fresh_ports();
    let mut dev = Dev::start(dir.path(), ports, &[]);
    let banner = dev.stdout();
    assert!(
        banner.contains(&format!("http://127.0.0.1:{}", ports.master)),
        "{banner}"
    );
    assert!(banner.contains("offers cpus 2, mem 2048 MB"), "{banner}");
    assert!(banner.contains("isolation"), "{banner}");
    let framework = framework_id(&banner);
    let d = dir.path();

    // Deploy an app.
    let out = ok(d, ports, "drover app add examples/hello.json");
    assert!(
        out.contains("deployment of /hello succeeded: 1/1 running"),
        "{out}"
    );
    let out = ok(d, ports, "drover app list");
    assert!(out.contains("/hello") && out.contains("1/1"), "{out}");

    // Scale it.
    let out = ok(d, ports, "drover app scale hello 3");
    assert!(out.contains("3/3 running"), "{out}");
    let out = ok(d, ports, "drover task list");
    assert_eq!(out.matches("TASK_RUNNING").count(), 3, "{out}");

    // Kill a task and watch it be replaced.
    let victim = running_tasks(d, ports, "hello.").remove(0);
    let out = ok(d, ports, &format!("drover task kill {victim}"));
    assert!(out.contains("TASK_KILLED"), "{out}");
    assert!(out.contains("replaced by task hello."), "{out}");
    let out = ok(d, ports, &format!("drover task show {victim}"));
    assert!(out.contains("TASK_KILLED"), "{out}");

    // Read its logs.
    let task = running_tasks(d, ports, "hello.").remove(0);
    wait_until("the task's first line of output", DEADLINE, || {
        drover(d, ports, &format!("drover task logs {task}"))
            .stdout
            .contains(&format!("hello from {task}"))
    });

    // See the reason a task failed.
    let run = drover(d, ports, "drover app add examples/broken.json");
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("Command exited with status 3"),
        "{run:?}"
    );
    assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
    let out = ok(d, ports, "drover app show broken");
    assert!(out.contains("Last task failure"), "{out}");
    let failed = out
        .split("drover task show ")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .expect("app show names the failed task")
        .to_owned();
    let out = ok(d, ports, &format!("drover task show {failed}"));
    assert!(
        out.contains("TASK_RUNNING") && out.contains("TASK_FAILED"),
        "{out}"
    );
    assert!(out.contains("SOURCE_EXECUTOR"), "{out}");
    assert!(out.contains("Command exited with status 3"), "{out}");
    let out = ok(d, ports, &format!("drover task logs {failed} --stderr"));
    assert!(out.contains("cannot open /etc/broken.conf"), "{out}");
    let out = ok(d, ports, "drover app remove broken --force");
    assert!(out.contains("removed /broken"), "{out}");

    // The rest of the CLI the README mentions.
    let out = ok(d, ports, "drover framework list");
    assert!(
        out.contains(&framework) && out.contains("marathon"),
        "{out}"
    );
    let out = ok(d, ports, "drover agent list");
    assert!(out.contains("active"), "{out}");

    // Ctrl-C/SIGTERM: a clean exit, and the tasks are gone with it.
    assert_eq!(dev.terminate(), 0, "{}", dev.output());
    let out = dev.stdout();
    assert!(out.contains("drover dev: stopped"), "{out}");
    assert!(
        processes_under(&d.join("work")).is_empty(),
        "task processes survived drover dev"
    );
    let cgroups = cgroup_dirs_named(&format!("drover-dev-{}", ports.agent));
    assert!(cgroups.is_empty(), "drover dev left cgroups: {cgroups:?}");
    drop(dev);

    // Restart: the app and the framework id are still there, and its tasks come back.
    let mut dev = Dev::start(d, ports, &[]);
    assert_eq!(framework_id(&dev.stdout()), framework, "{}", dev.output());
    let out = ok(d, ports, "drover app list");
    assert!(out.contains("/hello"), "{out}");
    assert!(!out.contains("/broken"), "{out}");
    wait_until("three hello tasks running again", DEADLINE, || {
        running_tasks(d, ports, "hello.").len() == 3
    });
    assert_eq!(dev.terminate(), 0, "{}", dev.output());
}

#[test]
fn keep_tasks_running_survives_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let _sweep = Sweep(dir.path().join("work"));
    let d = dir.path();
    let ports = fresh_ports();
    let mut dev = Dev::start(d, ports, &["--keep_tasks_running"]);
    ok(d, ports, "drover app add examples/hello.json");
    let before = running_tasks(d, ports, "hello.");
    assert_eq!(before.len(), 1);
    assert_eq!(dev.terminate(), 0, "{}", dev.output());
    drop(dev);
    assert!(
        !processes_under(&d.join("work")).is_empty(),
        "--keep_tasks_running killed the task"
    );

    let mut dev = Dev::start(d, ports, &[]);
    wait_until("the same task running after the restart", DEADLINE, || {
        running_tasks(d, ports, "hello.") == before
    });
    // This time the default applies: the tasks die with drover dev.
    assert_eq!(dev.terminate(), 0, "{}", dev.output());
    assert!(processes_under(&d.join("work")).is_empty());
}

#[test]
fn a_clean_stop_ends_tasks_killed_not_failed() {
    // Issue 12, items 18 and 21: tasks killed because the operator stopped the cluster are
    // TASK_KILLED and no failure of the app; the log says nothing about tasks that keep
    // running, and carries no colour codes into a file.
    let dir = tempfile::tempdir().expect("temp dir");
    let _sweep = Sweep(dir.path().join("work"));
    let d = dir.path();
    let ports = fresh_ports();
    let mut dev = Dev::start(d, ports, &[]);
    ok(d, ports, "drover app add examples/hello.json");
    let before = running_tasks(d, ports, "hello.");
    assert_eq!(before.len(), 1);
    assert_eq!(dev.terminate(), 0, "{}", dev.output());
    let output = dev.output();
    assert!(!output.contains("tasks keep running"), "{output}");
    assert!(
        !output.contains('\u{1b}'),
        "colour codes in a log file: {output}"
    );
    assert!(processes_under(&d.join("work")).is_empty());
    drop(dev);

    let mut dev = Dev::start(d, ports, &[]);
    let task = &before[0];
    wait_until("the stopped task shown as killed", DEADLINE, || {
        drover(d, ports, &format!("drover task show {task}"))
            .stdout
            .contains("TASK_KILLED")
    });
    let out = ok(d, ports, &format!("drover task show {task}"));
    assert!(!out.contains("TASK_FAILED"), "{out}");
    let out = ok(d, ports, "drover app show hello");
    assert!(!out.contains("Last task failure"), "{out}");
    assert_eq!(dev.terminate(), 0, "{}", dev.output());
}

/// `drover dev --credentials`: the master, the agent and the scheduler all authenticate (the
/// agent and the scheduler's framework to the master with the same credential); the CLI is
/// refused without credentials and deploys an app with them from its environment.
#[test]
fn dev_with_credentials_authenticates_every_daemon_and_the_cli_passes_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let _sweep = Sweep(dir.path().join("work"));
    let ports = fresh_ports();
    let dev = Dev::start(dir.path(), ports, &["--credentials=admin:dev-secret"]);
    assert!(
        dev.stdout().contains("Authentication is on"),
        "{}",
        dev.output()
    );
    let d = dir.path();
    let refused = drover(d, ports, "drover app list");
    assert_ne!(refused.code, 0, "{refused:?}");
    assert!(refused.stderr.contains("401"), "{refused:?}");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let output = Command::new(DROVER)
        .args(["app", "add", "examples/hello.json"])
        .current_dir(&root)
        .env("DROVER_MASTER", format!("127.0.0.1:{}", ports.master))
        .env("DROVER_MARATHON", format!("127.0.0.1:{}", ports.marathon))
        .env("DROVER_MASTER_CREDENTIALS", "admin:dev-secret")
        .env("DROVER_MARATHON_CREDENTIALS", "admin:dev-secret")
        .env("XDG_CONFIG_HOME", d.join("config"))
        .stdin(Stdio::null())
        .output()
        .expect("run the CLI");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("deployment of /hello succeeded: 1/1 running"),
        "{output:?}\n{}",
        dev.output()
    );
    // The master's operator API refuses an anonymous call.
    let (status, _) = support::http_request(
        ports.master,
        "POST",
        "/api/v1",
        Some(r#"{"type":"GET_HEALTH"}"#),
        "application/json",
    )
    .expect("the master answers");
    assert_eq!(status, 401);
}

/// Issue 14 item 4: `drover dev` with Mesos' `LIBPROCESS_SSL_*` variables runs the tour over
/// https — the banner's URLs, deploying and scaling an app, the task's logs read from the
/// agent's `/files` — with every daemon verifying the others' certificates, and plain HTTP
/// unanswered on all three ports.
#[test]
fn the_tour_runs_over_tls() {
    let dir = tempfile::tempdir().expect("temp dir");
    let _sweep = Sweep(dir.path().join("work"));
    let pki = support::make_pki(dir.path());
    let env = pki.env();
    let ports = fresh_ports();
    let mut dev = Dev::start_with_env(dir.path(), ports, &[], &env);
    let banner = dev.stdout();
    for port in [ports.master, ports.agent, ports.marathon] {
        assert!(
            banner.contains(&format!("https://127.0.0.1:{port}")),
            "{banner}"
        );
        assert_eq!(support::http_get(port, "/"), None, "plain HTTP on {port}");
    }
    let d = dir.path();
    let run = |line: &str| {
        let run = drover_with_env(d, ports, line, &env);
        assert_eq!(run.code, 0, "{line}: {run:?}");
        run.stdout
    };
    let out = run("drover app add examples/hello.json");
    assert!(
        out.contains("deployment of /hello succeeded: 1/1 running"),
        "{out}"
    );
    let out = run("drover app scale hello 2");
    assert!(out.contains("2/2 running"), "{out}");
    let task = running_tasks_with_env(d, ports, "hello.", &env).remove(0);
    wait_until("the task's output over https", DEADLINE, || {
        drover_with_env(d, ports, &format!("drover task logs {task}"), &env)
            .stdout
            .contains(&format!("hello from {task}"))
    });
    // The CLI without the TLS settings cannot talk to it (exit 3: unreachable).
    let plain = drover(d, ports, "drover app list");
    assert_eq!(plain.code, 3, "{plain:?}");
    assert_eq!(dev.terminate(), 0, "{}", dev.output());
}
