//! Issue 14 item 2, real processes: with authentication on, every mutating endpoint of the
//! master, the agent and the scheduler refuses an anonymous call and a wrong password (401
//! with the daemon's `WWW-Authenticate` realm) and accepts the right credentials; agents
//! authenticate to the master; pymesos and marathon-python connect with credentials; a
//! framework or agent id cannot be taken over by another principal; a credentials file that
//! does not parse stops the master with an error naming it.

use crate::support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine as _;
use support::{Cluster, Daemon, Framework, Options, run_python, wait_until};

const CREDENTIALS: &str = r#"{"credentials": [
  {"principal": "ops", "secret": "ops-secret"},
  {"principal": "agent", "secret": "agent-secret"},
  {"principal": "fw", "secret": "fw-secret"},
  {"principal": "evil", "secret": "evil-secret"},
  {"principal": "marathon", "secret": "marathon-secret"}
]}"#;

fn basic(principal: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{principal}:{secret}"))
    )
}

struct Answer {
    status: u16,
    head: String,
    body: String,
}

/// One request on its own connection, with an optional `Authorization` header value.
fn call(port: u16, method: &str, path: &str, body: &str, authorization: Option<&str>) -> Answer {
    let auth = authorization
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    exchange(port, method, path, &auth, body)
}

/// A browser's CORS preflight for `method` on `path` asking to send `headers`.
fn preflight(port: u16, path: &str, method: &str, headers: &str) -> Answer {
    let asking = format!(
        "Origin: http://elsewhere.example:8080\r\nAccess-Control-Request-Method: {method}\r\n\
         Access-Control-Request-Headers: {headers}\r\n"
    );
    exchange(port, "OPTIONS", path, &asking, "")
}

/// One request on its own connection with `headers` (each line ending in CRLF) besides the
/// usual ones.
fn exchange(port: u16, method: &str, path: &str, headers: &str, body: &str) -> Answer {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{headers}\
         Content-Type: application/json\r\nAccept: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("write");
    let mut raw = Vec::new();
    // A stream answer (SUBSCRIBE accepted) never ends: what arrived within the timeout is enough.
    let mut buf = [0u8; 8192];
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                raw.extend_from_slice(&buf[..n]);
                if path.contains("scheduler") && raw.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line from {method} {path}: {text:?}"));
    Answer {
        status,
        head: head.to_ascii_lowercase(),
        body: body.to_owned(),
    }
}

/// Anonymous, a wrong secret, an unknown principal and a malformed header are each refused
/// with 401 and `realm`; the right credential is not.
fn assert_guarded(
    port: u16,
    method: &str,
    path: &str,
    body: &str,
    good: &str,
    realm: &str,
) -> Answer {
    let wrong = [
        None,
        Some(basic("ops", "wrong")),
        Some(basic("nobody", "ops-secret")),
        Some("Basic !!!not-base64".to_owned()),
        Some("Bearer abc".to_owned()),
    ];
    for authorization in &wrong {
        let answer = call(port, method, path, body, authorization.as_deref());
        assert_eq!(
            answer.status, 401,
            "{method} {path} with {authorization:?}: {} {}",
            answer.head, answer.body
        );
        let expected = format!(
            "www-authenticate: basic realm=\"{}\"",
            realm.to_ascii_lowercase()
        );
        assert!(
            answer.head.contains(&expected),
            "{method} {path}: {}",
            answer.head
        );
    }
    let answer = call(port, method, path, body, Some(good));
    assert_ne!(
        answer.status, 401,
        "{method} {path} with the right credential: {}",
        answer.body
    );
    answer
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path.display().to_string()
}

#[test]
fn with_authentication_on_every_daemon_refuses_anonymous_calls_and_clients_connect() {
    let secrets = tempfile::tempdir().expect("temp dir");
    let credentials = write(secrets.path(), "credentials.json", CREDENTIALS);
    // The agent's own credential in Mesos' text format.
    let agent_credential = write(secrets.path(), "agent.credential", "agent agent-secret\n");
    let marathon_secret = write(secrets.path(), "marathon.secret", "marathon-secret\n");
    let mut cluster = Cluster::start_with(Options {
        agents: 1,
        master_flags: vec![
            "--authenticate_http_readwrite".to_owned(),
            "--authenticate_http_frameworks".to_owned(),
            "--authenticate_agents".to_owned(),
            format!("--credentials={credentials}"),
        ],
        agent_flags: vec![
            format!("--credential={agent_credential}"),
            "--authenticate_http_readwrite".to_owned(),
            "--authenticate_http_readonly".to_owned(),
            format!("--credentials=file://{credentials}"),
        ],
        ..Options::default()
    });
    // The agent registered through --authenticate_agents with its credential.
    let agent_id = cluster.agent_id(0);
    let master = cluster.master_port;
    let ops = basic("ops", "ops-secret");

    // The master: the operator API, the legacy mutating endpoints, the scheduler API, the
    // agent protocol.
    let health = assert_guarded(
        master,
        "POST",
        "/api/v1",
        r#"{"type":"GET_HEALTH"}"#,
        &ops,
        "mesos",
    );
    assert_eq!(health.status, 200, "{}", health.body);
    for (method, path, body) in [
        ("POST", "/master/api/v1", r#"{"type":"GET_HEALTH"}"#),
        ("POST", "/master/teardown", "frameworkId=nothing"),
        ("POST", "/teardown", "frameworkId=nothing"),
        ("POST", "/master/machine/down", "[]"),
        ("POST", "/machine/up", "[]"),
        ("POST", "/master/maintenance/schedule", "{}"),
        ("POST", "/quota", "{}"),
        ("DELETE", "/master/quota/role", ""),
        ("PUT", "/weights", "[]"),
        ("POST", "/master/reserve", ""),
        ("POST", "/master/unreserve", ""),
        ("POST", "/master/create-volumes", ""),
        ("POST", "/master/destroy-volumes", ""),
        ("POST", "/drover/internal/agent", "{}"),
    ] {
        assert_guarded(master, method, path, body, &ops, "mesos");
    }
    let subscribe = |principal: Option<&str>, id: Option<&str>| {
        let mut info = serde_json::json!({"user": "root", "name": "raw"});
        if let Some(p) = principal {
            info["principal"] = p.into();
        }
        if let Some(id) = id {
            info["id"] = serde_json::json!({"value": id});
        }
        let mut call =
            serde_json::json!({"type": "SUBSCRIBE", "subscribe": {"framework_info": info}});
        if let Some(id) = id {
            call["framework_id"] = serde_json::json!({"value": id});
        }
        call.to_string()
    };
    assert_guarded(
        master,
        "POST",
        "/api/v1/scheduler",
        &subscribe(None, None),
        &basic("evil", "evil-secret"),
        "mesos",
    );
    // Read-only endpoints stay open without --authenticate_http_readonly.
    assert_eq!(call(master, "GET", "/master/state", "", None).status, 200);

    // pymesos subscribes with its principal and secret, and its calls go through.
    let mut framework = Framework::start(
        &cluster,
        "authenticated",
        &["--principal=fw", "--secret=fw-secret"],
    );
    let framework_id = framework.wait_registered();
    framework.launch("with-credentials", &agent_id, "sleep 300");
    framework.wait_update("with-credentials", "TASK_RUNNING", None);
    let frameworks = cluster.master_json("/master/frameworks");
    let listed = frameworks["frameworks"]
        .as_array()
        .expect("frameworks")
        .iter()
        .find(|f| f["id"] == framework_id.as_str())
        .expect("the framework is listed")
        .clone();
    assert_eq!(listed["principal"], "fw", "{listed}");

    // Framework hijack: another principal subscribing with the framework's id, or claiming
    // the framework's principal, is refused.
    let evil = basic("evil", "evil-secret");
    let hijack = call(
        master,
        "POST",
        "/api/v1/scheduler",
        &subscribe(None, Some(&framework_id)),
        Some(&evil),
    );
    assert_eq!(hijack.status, 403, "{}", hijack.body);
    let hijack = call(
        master,
        "POST",
        "/api/v1/scheduler",
        &subscribe(Some("evil"), Some(&framework_id)),
        Some(&evil),
    );
    assert_eq!(hijack.status, 403, "{}", hijack.body);
    let impostor = call(
        master,
        "POST",
        "/api/v1/scheduler",
        &subscribe(Some("fw"), None),
        Some(&evil),
    );
    assert_eq!(impostor.status, 403, "{}", impostor.body);
    assert!(
        impostor.body.contains("does not match"),
        "{}",
        impostor.body
    );
    // The framework kept its subscription: its task is still there and it can launch more.
    framework.launch("after-hijack", &agent_id, "sleep 300");
    framework.wait_update("after-hijack", "TASK_RUNNING", None);

    // Agent hijack: a REREGISTER for the agent's id from another principal is refused.
    let reregister = serde_json::json!({
        "type": "REREGISTER",
        "reregister": {"agent_info": {"hostname": "127.0.0.1", "id": {"value": agent_id}}}
    })
    .to_string();
    let hijack = call(
        master,
        "POST",
        "/drover/internal/agent",
        &reregister,
        Some(&evil),
    );
    assert_eq!(hijack.status, 403, "{}", hijack.body);
    assert!(
        cluster.master_json("/master/slaves")["slaves"][0]["active"] == true,
        "the agent stays registered"
    );

    // The agent: its operator API and read-only endpoints.
    let agent = cluster.agent_port;
    let health = assert_guarded(
        agent,
        "POST",
        "/api/v1",
        r#"{"type":"GET_HEALTH"}"#,
        &ops,
        "mesos",
    );
    assert_eq!(health.status, 200, "{}", health.body);
    for path in ["/state", "/files/browse?path=/", "/metrics/snapshot"] {
        assert_guarded(agent, "GET", path, "", &ops, "mesos");
    }
    assert_eq!(call(agent, "GET", "/health", "", None).status, 200);

    // Reads across origins (the services UI's task and sandbox views): the preflight of a GET
    // that sends `Authorization` is granted before authentication, on the agent and the
    // master; a refused read carries the CORS header, so the page sees the 401 and asks; a
    // write's preflight is granted nothing.
    for (port, path) in [(agent, "/files/browse?path=/"), (master, "/master/tasks")] {
        let granted = preflight(port, path, "GET", "authorization");
        assert_eq!(granted.status, 204, "{path}: {}", granted.head);
        assert!(
            granted.head.contains("access-control-allow-origin: *")
                && granted
                    .head
                    .contains("access-control-allow-headers: authorization"),
            "{path}: {}",
            granted.head
        );
    }
    let refused = call(agent, "GET", "/state", "", None);
    assert_eq!(refused.status, 401);
    assert!(
        refused.head.contains("access-control-allow-origin: *"),
        "{}",
        refused.head
    );
    for port in [agent, master] {
        let write = preflight(port, "/api/v1", "POST", "authorization,content-type");
        assert!(
            !write.head.contains("access-control-allow-"),
            "{}",
            write.head
        );
    }

    // The scheduler: --http_credentials for its API, a principal and secret for the master.
    let args = vec![
        "marathon".to_owned(),
        format!("--master=127.0.0.1:{master}"),
        format!("--http_port={}", cluster.marathon_port),
        format!(
            "--work_dir={}",
            cluster.dir.path().join("marathon").display()
        ),
        "--http_credentials=admin:s3cret:with-colon".to_owned(),
        "--mesos_authentication".to_owned(),
        "--mesos_authentication_principal=marathon".to_owned(),
        format!("--mesos_authentication_secret_file={marathon_secret}"),
    ];
    cluster.marathon = Some(Daemon::start("marathon", cluster.dir.path(), &args));
    let marathon = cluster.marathon_port;
    let admin = basic("admin", "s3cret:with-colon");
    wait_until("the scheduler answers", Duration::from_secs(60), || {
        TcpStream::connect(("127.0.0.1", marathon)).is_ok()
            && call(marathon, "GET", "/ping", "", Some(&admin)).status == 200
    });
    for (method, path, body) in [
        ("POST", "/v2/apps", r#"{"id":"/x","cmd":"sleep 1"}"#),
        ("PUT", "/v2/apps/x", r#"{"cmd":"sleep 2"}"#),
        ("DELETE", "/v2/apps/x", ""),
        ("POST", "/v2/apps/x/restart", ""),
        ("DELETE", "/v2/deployments/nothing", ""),
        ("DELETE", "/v2/queue/x/delay", ""),
        ("POST", "/v2/tasks/delete", r#"{"ids":[]}"#),
        ("GET", "/v2/apps", ""),
    ] {
        let admin_wrong = basic("admin", "wrong");
        let answer = call(marathon, method, path, body, Some(&admin_wrong));
        assert_eq!(answer.status, 401, "{method} {path}");
        assert_guarded(marathon, method, path, body, &admin, "Mesosphere");
    }
    // The web UI's own page and assets carry no data: they load without credentials, and
    // the page asks for them in its own form.
    for path in ["/ui/", "/ui/ui-assets/app.js"] {
        assert_eq!(call(marathon, "GET", path, "", None).status, 200, "{path}");
    }
    // The scheduler subscribed to the authenticating master under its principal.
    wait_until(
        "marathon's framework is subscribed",
        Duration::from_secs(60),
        || {
            cluster.master_json("/master/frameworks")["frameworks"]
                .as_array()
                .is_some_and(|f| {
                    f.iter()
                        .any(|f| f["name"] == "marathon" && f["principal"] == "marathon")
                })
        },
    );
    // The CLI takes its credentials from its config file (and the flag/env var beat it).
    let config_home = tempfile::tempdir().expect("config home");
    std::fs::create_dir_all(config_home.path().join("drover")).expect("config dir");
    let cli = |config: &str| {
        std::fs::write(config_home.path().join("drover/config.toml"), config).expect("config");
        std::process::Command::new(support::DROVER)
            .args(["app", "list"])
            .env("XDG_CONFIG_HOME", config_home.path())
            .env_remove("DROVER_MARATHON_CREDENTIALS")
            .env_remove("DROVER_MASTER_CREDENTIALS")
            .output()
            .expect("run the CLI")
    };
    let addresses =
        format!("master = \"127.0.0.1:{master}\"\nmarathon = \"127.0.0.1:{marathon}\"\n");
    let anonymous = cli(&addresses);
    assert!(!anonymous.status.success(), "{anonymous:?}");
    assert!(
        String::from_utf8_lossy(&anonymous.stderr).contains("401"),
        "{anonymous:?}"
    );
    let configured = cli(&format!(
        "{addresses}marathon_credentials = \"admin:s3cret:with-colon\"\n"
    ));
    assert!(configured.status.success(), "{configured:?}");

    // marathon-python with username and password drives the whole API (launching tasks
    // through the authenticated framework).
    run_python(
        &cluster,
        "marathon_client.py",
        &[
            format!("http://127.0.0.1:{marathon}"),
            "admin".to_owned(),
            "s3cret:with-colon".to_owned(),
        ],
    );
}

/// A credentials file that does not parse, or authentication without one, stops the master
/// at start with an error naming the problem.
#[test]
fn a_credentials_file_that_does_not_parse_stops_the_master() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = write(
        dir.path(),
        "bad.json",
        "{\"credentials\": [{\"principal\": \"a\"}]}",
    );
    for (extra, expected) in [
        (
            vec![
                format!("--credentials={bad}"),
                "--authenticate_http_readwrite".to_owned(),
            ],
            bad.clone(),
        ),
        (
            vec!["--authenticate_agents".to_owned()],
            "--credentials".to_owned(),
        ),
    ] {
        let mut args = support::master_args(dir.path(), support::free_port());
        args.extend(extra);
        let mut master = Daemon::start("master", dir.path(), &args);
        wait_until("the master to exit", Duration::from_secs(60), || {
            master.exited()
        });
        let log = master.log();
        assert!(log.contains(&expected), "{log}");
    }
}

/// `--authenticate_http_readonly` guards the read-only endpoints (`/master/state`, the
/// metrics) but not `/health`, which load balancers probe.
#[test]
fn readonly_authentication_guards_the_state_endpoints_but_not_health() {
    let dir = tempfile::tempdir().expect("temp dir");
    let credentials = write(dir.path(), "credentials", "ops ops-secret\n");
    let port = support::free_port();
    let mut args = support::master_args(dir.path(), port);
    args.extend([
        "--authenticate_http_readonly".to_owned(),
        format!("--credentials={credentials}"),
    ]);
    let mut master = Daemon::start("master", dir.path(), &args);
    wait_until(
        "the master answers /health",
        Duration::from_secs(60),
        || {
            master.assert_alive();
            TcpStream::connect(("127.0.0.1", port)).is_ok()
                && call(port, "GET", "/health", "", None).status == 200
        },
    );
    let ops = basic("ops", "ops-secret");
    for path in [
        "/master/state",
        "/state",
        "/master/frameworks",
        "/metrics/snapshot",
        "/master/flags",
    ] {
        let answer = assert_guarded(port, "GET", path, "", &ops, "mesos");
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
    }
    // The cluster UI's page and assets load without credentials (they carry no data; the
    // page asks for credentials in its own form), as Mesos served its web UI's files.
    for path in ["/", "/ui-assets/app.js"] {
        assert_eq!(call(port, "GET", path, "", None).status, 200, "{path}");
    }
    // Readwrite is off: the operator API needs nothing.
    assert_eq!(
        call(port, "POST", "/api/v1", r#"{"type":"GET_HEALTH"}"#, None).status,
        200
    );
}

/// `--acls` (issue 14 item 3, a start): `register_frameworks` decides which principal may
/// subscribe with which role, `teardown_frameworks` who may tear down whose framework; an ACL
/// kind Drover does not enforce is refused at start, naming it.
#[test]
fn acls_decide_framework_registration_and_teardown() {
    let dir = tempfile::tempdir().expect("temp dir");
    let credentials = write(dir.path(), "credentials.json", CREDENTIALS);
    let acls = write(
        dir.path(),
        "acls.json",
        r#"{"permissive": false,
            "register_frameworks": [
              {"principals": {"values": ["fw", "ops"]}, "roles": {"values": ["*", "web"]}}
            ],
            "teardown_frameworks": [
              {"principals": {"values": ["ops"]}, "framework_principals": {"type": "ANY"}}
            ],
            "view_frameworks": [
              {"principals": {"type": "ANY"}, "users": {"type": "ANY"}}
            ]}"#,
    );
    let port = support::free_port();
    let mut args = support::master_args(dir.path(), port);
    args.extend([
        "--authenticate_http_frameworks".to_owned(),
        "--authenticate_http_readwrite".to_owned(),
        format!("--credentials={credentials}"),
        format!("--acls=file://{acls}"),
    ]);
    let mut master = Daemon::start("master", dir.path(), &args);
    wait_until(
        "the master answers /health",
        Duration::from_secs(60),
        || {
            master.assert_alive();
            TcpStream::connect(("127.0.0.1", port)).is_ok()
                && call(port, "GET", "/health", "", None).status == 200
        },
    );
    let subscribe = |role: &str| {
        serde_json::json!({"type": "SUBSCRIBE", "subscribe": {"framework_info":
            {"user": "root", "name": "acl", "roles": [role], "failover_timeout": 3600,
             "capabilities": [{"type": "MULTI_ROLE"}]}}})
        .to_string()
    };
    let fw = basic("fw", "fw-secret");
    let evil = basic("evil", "evil-secret");
    let refused = call(
        port,
        "POST",
        "/api/v1/scheduler",
        &subscribe("db"),
        Some(&fw),
    );
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("db"), "{}", refused.body);
    let refused = call(
        port,
        "POST",
        "/api/v1/scheduler",
        &subscribe("web"),
        Some(&evil),
    );
    assert_eq!(refused.status, 403, "{}", refused.body);
    let accepted = call(
        port,
        "POST",
        "/api/v1/scheduler",
        &subscribe("web"),
        Some(&fw),
    );
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    // Anyone may view frameworks (`view_frameworks`): with `permissive: false` and no such
    // ACL, `/master/frameworks` would show nothing, as in Mesos.
    let mut framework_id = String::new();
    wait_until(
        "the framework in /master/frameworks",
        Duration::from_secs(60),
        || {
            master.assert_alive();
            let frameworks = call(port, "GET", "/master/frameworks", "", None);
            let value: serde_json::Value =
                serde_json::from_str(&frameworks.body).unwrap_or_default();
            if let Some(id) = value["frameworks"][0]["id"].as_str() {
                framework_id = id.to_owned();
            }
            !framework_id.is_empty()
        },
    );
    // Teardown: the framework's own principal is not allowed (permissive false), ops is.
    let teardown = serde_json::json!({"type": "TEARDOWN", "teardown": {"framework_id": {"value": framework_id}}}).to_string();
    let refused = call(port, "POST", "/api/v1", &teardown, Some(&fw));
    assert_eq!(refused.status, 403, "{}", refused.body);
    let form = format!("frameworkId={framework_id}");
    let refused = call(port, "POST", "/master/teardown", &form, Some(&evil));
    assert_eq!(refused.status, 403, "{}", refused.body);
    let frameworks = call(port, "GET", "/master/frameworks", "", None).body;
    assert!(
        frameworks.contains(&framework_id),
        "still registered: {frameworks}"
    );
    let done = call(
        port,
        "POST",
        "/api/v1",
        &teardown,
        Some(&basic("ops", "ops-secret")),
    );
    assert_eq!(done.status, 200, "{}", done.body);

    // An ACL kind Drover does not enforce stops the master at start.
    let mut args = support::master_args(dir.path(), support::free_port());
    args.push(r#"--acls={"update_weights": []}"#.to_owned());
    let mut refused = Daemon::start("master2", dir.path(), &args);
    wait_until("the master to exit", Duration::from_secs(60), || {
        refused.exited()
    });
    assert!(
        refused
            .log()
            .contains("the 'update_weights' ACL is not supported"),
        "{}",
        refused.log()
    );
}

/// Each daemon started on a non-loopback address without authentication says so, once; with
/// authentication it does not.
#[test]
fn exposed_daemons_without_authentication_warn_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let credentials = write(dir.path(), "credentials", "ops ops-secret\n");
    let master_port = support::free_port();
    let agent_port = support::free_port();
    let marathon_port = support::free_port();
    let starts: [(&'static str, Vec<String>); 3] = [
        (
            "open-master",
            vec![
                "master".to_owned(),
                "--ip=0.0.0.0".to_owned(),
                format!("--port={master_port}"),
                format!("--work_dir={}", dir.path().join("m").display()),
            ],
        ),
        (
            "open-agent",
            vec![
                "agent".to_owned(),
                format!("--master=127.0.0.1:{master_port}"),
                "--ip=0.0.0.0".to_owned(),
                format!("--port={agent_port}"),
                format!("--work_dir={}", dir.path().join("a").display()),
                "--isolation=posix".to_owned(),
                "--resources=cpus:1;mem:128".to_owned(),
            ],
        ),
        (
            "open-marathon",
            vec![
                "marathon".to_owned(),
                "--http_address=0.0.0.0".to_owned(),
                format!("--http_port={marathon_port}"),
                format!("--work_dir={}", dir.path().join("s").display()),
            ],
        ),
    ];
    let mut running = Vec::new();
    for (name, args) in starts {
        let daemon = Daemon::start(name, dir.path(), &args);
        wait_until(&format!("{name} warns"), Duration::from_secs(60), || {
            daemon.log().contains("without authentication")
        });
        running.push(daemon);
    }
    for daemon in &running {
        assert_eq!(
            daemon.log().matches("without authentication").count(),
            1,
            "{}",
            daemon.log()
        );
    }
    // The same master with authentication on: no warning.
    let port = support::free_port();
    let args = vec![
        "master".to_owned(),
        "--ip=0.0.0.0".to_owned(),
        format!("--port={port}"),
        format!("--work_dir={}", dir.path().join("m2").display()),
        "--authenticate_http_readwrite".to_owned(),
        format!("--credentials={credentials}"),
    ];
    let mut guarded = Daemon::start("guarded-master", dir.path(), &args);
    wait_until(
        "the guarded master answers",
        Duration::from_secs(60),
        || {
            guarded.assert_alive();
            TcpStream::connect(("127.0.0.1", port)).is_ok()
                && call(port, "GET", "/health", "", None).status == 200
        },
    );
    assert!(
        !guarded.log().contains("without authentication"),
        "{}",
        guarded.log()
    );
}
