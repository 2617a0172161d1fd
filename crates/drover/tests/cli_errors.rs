//! Bad input stops with one clear line on stderr and a meaningful exit code, never a
//! backtrace: bad flags (2), a port in use, an unwritable work dir (1), a daemon that cannot be
//! reached (3), a bad config file (2); and config files and environment variables reach flags.

use crate::support;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::{DROVER, free_port};

/// Runs `drover <args>` with an empty user config, killing it if it hangs.
fn drover(dir: &Path, args: &[&str], env: &[(&str, String)]) -> Output {
    let mut child = Command::new(DROVER)
        .args(args)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .env_remove("DROVER_MASTER")
        .env_remove("DROVER_MARATHON")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start drover");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

/// Asserts the exit code and that stderr is one line containing `expected`.
fn fails(output: &Output, code: i32, expected: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(code), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains(expected),
        "expected {expected:?} in {stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "not one line: {stderr}");
}

#[test]
fn a_bad_flag_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = drover(dir.path(), &["dev", "--no_such_flag"], &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--no_such_flag"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let output = drover(dir.path(), &["dev", "--master_port=http"], &[]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn a_port_in_use_stops_dev_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let work = dir.path().join("work");
    let output = drover(
        dir.path(),
        &[
            "dev",
            &format!("--work_dir={}", work.display()),
            &format!("--master_port={port}"),
            &format!("--agent_port={}", free_port()),
            &format!("--marathon_port={}", free_port()),
        ],
        &[],
    );
    fails(
        &output,
        1,
        &format!("port {port} (the master) is already in use"),
    );
}

#[test]
fn an_unwritable_work_dir_stops_dev_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    // A path under a regular file can never be created, even by root.
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let output = drover(
        dir.path(),
        &[
            "dev",
            &format!("--work_dir={}", file.join("work").display()),
            &format!("--master_port={}", free_port()),
            &format!("--agent_port={}", free_port()),
            &format!("--marathon_port={}", free_port()),
        ],
        &[],
    );
    fails(&output, 1, "pass a writable --work_dir");
}

#[test]
fn an_unreachable_daemon_exits_3_and_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let output = drover(
        dir.path(),
        &["app", "list", "--marathon", &format!("127.0.0.1:{port}")],
        &[],
    );
    fails(&output, 3, "is `drover dev` running?");
    // The address also comes from the environment…
    let output = drover(
        dir.path(),
        &["task", "list"],
        &[("DROVER_MASTER", format!("127.0.0.1:{port}"))],
    );
    fails(
        &output,
        3,
        &format!("cannot reach the master at 127.0.0.1:{port}"),
    );
    // …and from the user's config file.
    let config = dir.path().join("config/drover");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("config.toml"),
        format!("master = \"127.0.0.1:{port}\"\n"),
    )
    .unwrap();
    let output = drover(dir.path(), &["agent", "list"], &[]);
    fails(
        &output,
        3,
        &format!("cannot reach the master at 127.0.0.1:{port}"),
    );
}

#[test]
fn a_missing_app_file_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = drover(dir.path(), &["app", "add", "/no/such/app.json"], &[]);
    fails(
        &output,
        2,
        "cannot read the app definition /no/such/app.json",
    );
}

#[test]
fn config_files_set_daemon_flags() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let file = dir.path().join("drover.toml");
    // A table per command; the `[dev]` one applies to `drover dev`.
    std::fs::write(
        &file,
        format!(
            "[dev]\nwork_dir = \"{}\"\nmaster_port = {port}\n\n[master]\nport = 1\n",
            dir.path().join("work").display()
        ),
    )
    .unwrap();
    let config = format!("--config={}", file.display());
    let output = drover(
        dir.path(),
        &[
            "dev",
            &config,
            &format!("--agent_port={}", free_port()),
            &format!("--marathon_port={}", free_port()),
        ],
        &[],
    );
    fails(
        &output,
        1,
        &format!("port {port} (the master) is already in use"),
    );
    // A typo in the file is caught.
    std::fs::write(&file, "master_prot = 5050\n").unwrap();
    let output = drover(dir.path(), &["dev", &config], &[]);
    fails(&output, 2, "unknown key 'master_prot'");
    // The environment wins over the file.
    std::fs::write(&file, format!("master_port = {port}\n")).unwrap();
    let output = drover(
        dir.path(),
        &[
            "dev",
            &config,
            &format!("--work_dir={}", dir.path().join("work2").display()),
            &format!("--agent_port={port}"),
        ],
        &[("DROVER_DEV_MASTER_PORT", free_port().to_string())],
    );
    fails(
        &output,
        1,
        &format!("port {port} (the agent) is already in use"),
    );
}

/// Scaling an app that does not exist says so (Marathon's 404), instead of PUT creating it and
/// answering a 422 about `cmd`; and nothing is created.
#[test]
fn scaling_a_missing_app_says_it_does_not_exist() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut marathon = support::Daemon::start(
        "marathon",
        dir.path(),
        &[
            "marathon".to_owned(),
            format!("--http_port={port}"),
            format!("--work_dir={}", dir.path().join("marathon").display()),
        ],
    );
    support::wait_until("marathon answers /ping", Duration::from_secs(60), || {
        marathon.assert_alive();
        support::http_get(port, "/ping").is_some_and(|(status, _)| status == 200)
    });
    let output = drover(
        dir.path(),
        &[
            "app",
            "scale",
            "nosuchapp",
            "2",
            "--marathon",
            &format!("127.0.0.1:{port}"),
        ],
        &[],
    );
    fails(&output, 1, "App '/nosuchapp' does not exist");
    let (status, body) = support::http_get(port, "/v2/apps").expect("apps");
    assert_eq!(status, 200);
    assert!(!body.contains("nosuchapp"), "{body}");
    marathon.kill();
}
