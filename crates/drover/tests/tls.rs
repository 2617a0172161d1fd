//! Issue 14 item 4 against real processes: a cluster whose every daemon runs with Mesos'
//! `LIBPROCESS_SSL_*` variables (certificates from a test CA made here with rcgen, servers
//! verified) works whole over TLS: the agent registers with the master, executors talk to their
//! agent, Marathon subscribes to the master and serves its API on `--https_port` only. Real
//! clients speak https to it: mesoshttp (Scheduler API) and marathon-python (REST API), trusting
//! the test CA as Python does (`SSL_CERT_FILE`, `REQUESTS_CA_BUNDLE`), and the `drover` CLI.
//! Plain HTTP gets no answer; a TLS setting that cannot be honoured stops a daemon by name.

use crate::support;

use std::process::Command;

use support::{DROVER, Daemon, READY_TIMEOUT, free_port, make_pki, run_python_with, wait_until};

/// `drover <args>` as a CLI command with `env`: (exit code, stdout, stderr).
fn drover(args: &[&str], env: &[(String, String)]) -> (i32, String, String) {
    let output = Command::new(DROVER)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("run drover");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `drover master` and `drover agent` on free ports with `env`: (master, agent, their ports).
fn master_and_agent(dir: &std::path::Path, env: &[(String, String)]) -> (Daemon, Daemon, u16, u16) {
    let (master_port, agent_port) = (free_port(), free_port());
    let master =
        Daemon::start_with_env("master", dir, &support::master_args(dir, master_port), env);
    let agent = Daemon::start_with_env(
        "agent",
        dir,
        &support::agent_args(dir, master_port, agent_port),
        env,
    );
    (master, agent, master_port, agent_port)
}

#[test]
fn a_cluster_with_libprocess_ssl_works_whole_over_tls() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pki = make_pki(dir.path());
    let env = pki.env();
    let (mut master, mut agent, master_port, agent_port) = master_and_agent(dir.path(), &env);
    let marathon_port = free_port();
    let marathon_args: Vec<String> = vec![
        "marathon".into(),
        format!("--master=127.0.0.1:{master_port}"),
        "--hostname=127.0.0.1".into(),
        format!("--work_dir={}", dir.path().join("marathon").display()),
        "--disable_http".into(),
        format!("--https_port={marathon_port}"),
        format!("--ssl_cert_file={}", pki.cert.display()),
        format!("--ssl_key_file={}", pki.key.display()),
    ];
    let mut marathon = Daemon::start_with_env("marathon", dir.path(), &marathon_args, &env);
    let logs = || {
        format!(
            "--- master ---\n{}\n--- agent ---\n{}\n--- marathon ---\n{}",
            master.log(),
            agent.log(),
            marathon.log()
        )
    };

    // The CLI with the same environment speaks https to the master: the agent registered
    // there over TLS.
    let master_address = format!("127.0.0.1:{master_port}");
    wait_until("the agent registered over TLS", READY_TIMEOUT, || {
        let (code, out, _) = drover(
            &["agent", "list", "--json", "--master", &master_address],
            &env,
        );
        code == 0
            && serde_json::from_str::<serde_json::Value>(&out).is_ok_and(|agents| {
                agents.as_array().is_some_and(|a| {
                    a.iter()
                        .any(|agent| agent["port"] == serde_json::json!(agent_port))
                })
            })
    });
    // Without TLS settings the same CLI call speaks plain HTTP and gets no answer: the master
    // closes connections that do not start a TLS handshake (no downgrade).
    let (code, _, stderr) = drover(&["agent", "list", "--master", &master_address], &[]);
    assert_eq!(code, 3, "a plain-text client must not be served: {stderr}");
    assert_eq!(support::http_get(master_port, "/master/state"), None);
    assert_eq!(support::http_get(agent_port, "/state"), None);

    let python_env = vec![
        ("SSL_CERT_FILE".to_owned(), pki.ca.display().to_string()),
        (
            "REQUESTS_CA_BUNDLE".to_owned(),
            pki.ca.display().to_string(),
        ),
    ];
    // mesoshttp over https: subscribe, launch two command tasks (their executors reach the
    // agent over TLS with the variables the agent passed on), reconcile, kill, tear down.
    let output = run_python_with(
        "mesoshttp_scheduler.py",
        &[format!("https://127.0.0.1:{master_port}")],
        &python_env,
        logs,
    );
    assert!(
        output.contains("update echo-task TASK_FINISHED"),
        "{output}"
    );
    assert!(output.contains("update sleep-task TASK_KILLED"), "{output}");

    // marathon-python over https to the HTTPS-only API; Marathon launches through the master
    // over TLS and the tasks run.
    run_python_with(
        "marathon_client.py",
        &[format!("https://127.0.0.1:{marathon_port}")],
        &python_env,
        logs,
    );
    let marathon_address = format!("127.0.0.1:{marathon_port}");
    let (code, out, stderr) = drover(
        &["app", "list", "--json", "--marathon", &marathon_address],
        &env,
    );
    assert_eq!(code, 0, "CLI over https to Marathon: {stderr}\n{}", logs());
    let listed: serde_json::Value = serde_json::from_str(&out).expect("app list --json");
    assert!(listed["apps"].is_array(), "{out}");
    assert_eq!(support::http_get(marathon_port, "/v2/info"), None);

    master.assert_alive();
    agent.assert_alive();
    marathon.assert_alive();
    support::kill_processes_under(dir.path());
    support::remove_cgroups(&support::cgroups_root(agent_port));
}

#[test]
fn tls_settings_that_cannot_be_honoured_stop_a_daemon_by_name() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pki = make_pki(dir.path());
    let port = free_port().to_string();
    let work_dir = format!("--work_dir={}", dir.path().join("m").display());
    let master = ["master", "--ip=127.0.0.1", "--port", &port, &work_dir];
    let mut env = pki.env();
    env.push((
        "LIBPROCESS_SSL_CIPHERS".to_owned(),
        "AES128-SHA:RC4-SHA".to_owned(),
    ));
    let (code, _, stderr) = drover(&master, &env);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("LIBPROCESS_SSL_CIPHERS"), "{stderr}");

    // TLS on without a certificate: a daemon cannot listen.
    let env = vec![("LIBPROCESS_SSL_ENABLED".to_owned(), "1".to_owned())];
    let (code, _, stderr) = drover(&master, &env);
    assert_ne!(code, 0);
    assert!(stderr.contains("LIBPROCESS_SSL_CERT_FILE"), "{stderr}");

    // Marathon's Java keystore is refused with the way out; --disable_http needs a certificate.
    let marathon_dir = format!("--work_dir={}", dir.path().join("mt").display());
    let (code, _, stderr) = drover(
        &[
            "marathon",
            "--http_port",
            &port,
            &marathon_dir,
            "--ssl_keystore_path=/etc/marathon/keystore.jks",
            "--ssl_keystore_password=secret",
        ],
        &[],
    );
    assert_ne!(code, 0);
    assert!(stderr.contains("--ssl_cert_file"), "{stderr}");
    let (code, _, stderr) = drover(
        &[
            "marathon",
            "--http_port",
            &port,
            &marathon_dir,
            "--disable_http",
        ],
        &[],
    );
    assert_ne!(code, 0);
    assert!(stderr.contains("--disable_http"), "{stderr}");
}

/// Mutual TLS (`LIBPROCESS_SSL_REQUIRE_CLIENT_CERT`): the agent, presenting its certificate,
/// registers; a client with TLS on but no certificate of its own is refused in the handshake,
/// and one that presents the CA's certificate is served.
#[test]
fn required_client_certificates_keep_out_clients_without_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pki = make_pki(dir.path());
    let mut env = pki.env();
    env.push((
        "LIBPROCESS_SSL_REQUIRE_CLIENT_CERT".to_owned(),
        "true".to_owned(),
    ));
    let (mut master, mut agent, master_port, agent_port) = master_and_agent(dir.path(), &env);
    let master_address = format!("127.0.0.1:{master_port}");
    wait_until(
        "the agent registered with its certificate",
        READY_TIMEOUT,
        || {
            let (code, out, _) = drover(
                &["agent", "list", "--json", "--master", &master_address],
                &env,
            );
            code == 0 && out.contains(&format!("\"port\": {agent_port}"))
        },
    );
    let anonymous: Vec<(String, String)> = env
        .iter()
        .filter(|(k, _)| k != "LIBPROCESS_SSL_CERT_FILE" && k != "LIBPROCESS_SSL_KEY_FILE")
        .cloned()
        .collect();
    let (code, _, stderr) = drover(&["agent", "list", "--master", &master_address], &anonymous);
    assert_eq!(
        code, 3,
        "a client without a certificate was served: {stderr}"
    );
    master.assert_alive();
    agent.assert_alive();
    support::kill_processes_under(dir.path());
    support::remove_cgroups(&support::cgroups_root(agent_port));
}
