//! Masters on ZooKeeper (issue 17), as real processes around one private ZooKeeper server:
//! three masters elect one leader whose znode holds Mesos' MasterInfo JSON; the others answer
//! leader-only endpoints with 307 to it (503 with none); a SIGKILLed leader is replaced within
//! the session timeout; a leader paused past its session never acts again after it resumes.

use crate::support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use drover_coord::testing::ZooKeeperServer;
use drover_coord::{Coordinator, ZkCoordinator, ZkUrl};
use support::{Daemon, free_port, wait_until};

/// The masters' session timeout in these tests (Mesos' default is 10 s).
const SESSION_TIMEOUT: Duration = Duration::from_secs(4);

fn zookeeper() -> &'static ZooKeeperServer {
    static SERVER: OnceLock<ZooKeeperServer> = OnceLock::new();
    SERVER.get_or_init(ZooKeeperServer::start)
}

/// Header names (lower case) and values.
type Headers = Vec<(String, String)>;

/// A raw GET: (status, headers, body), or None if nothing answered.
fn get(port: u16, path: &str) -> Option<(u16, Headers, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Accept: application/json\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let mut lines = head.lines();
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Some((status, headers, body.to_owned()))
}

fn location(headers: &[(String, String)]) -> Option<&str> {
    headers
        .iter()
        .find(|(k, _)| k == "location")
        .map(|(_, v)| v.as_str())
}

struct Masters {
    dir: tempfile::TempDir,
    path: String,
    ports: Vec<u16>,
    daemons: Vec<Daemon>,
}

impl Masters {
    fn start(path: &str, count: usize) -> Masters {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut masters = Masters {
            dir,
            path: path.to_owned(),
            ports: Vec::new(),
            daemons: Vec::new(),
        };
        for _ in 0..count {
            masters.add();
        }
        masters
    }

    fn add(&mut self) {
        const NAMES: [&str; 4] = ["master0", "master1", "master2", "master3"];
        let index = self.ports.len();
        let port = free_port();
        let args = vec![
            "master".to_owned(),
            "--ip=127.0.0.1".to_owned(),
            format!("--port={port}"),
            format!(
                "--work_dir={}",
                self.dir.path().join(NAMES[index]).display()
            ),
            format!("--zk={}", zookeeper().url(&self.path)),
            format!("--zk_session_timeout={}secs", SESSION_TIMEOUT.as_secs()),
            "--quorum=2".to_owned(),
        ];
        self.daemons
            .push(Daemon::start(NAMES[index], self.dir.path(), &args));
        self.ports.push(port);
    }

    /// The index of the one master answering `/master/state` with 200, once exactly one does
    /// and every other live one redirects to it.
    fn wait_leader(&mut self, skip: &[usize], timeout: Duration) -> usize {
        let mut leader = None;
        wait_until(
            "one leading master, the others redirecting to it",
            timeout,
            || {
                let mut leading = Vec::new();
                let mut redirects = Vec::new();
                for (i, port) in self.ports.iter().enumerate() {
                    if skip.contains(&i) {
                        continue;
                    }
                    match get(*port, "/master/state") {
                        Some((200, _, _)) => leading.push(i),
                        Some((307, headers, _)) => {
                            redirects.push(location(&headers).unwrap_or_default().to_owned())
                        }
                        _ => return false,
                    }
                }
                if leading.len() != 1 {
                    return false;
                }
                let expected = format!("//127.0.0.1:{}/master/state", self.ports[leading[0]]);
                if redirects.iter().all(|l| *l == expected) {
                    leader = Some(leading[0]);
                    true
                } else {
                    false
                }
            },
        );
        leader.expect("a leader")
    }

    fn logs(&self) -> String {
        self.daemons
            .iter()
            .map(|d| format!("--- {}\n{}", d.name, d.log()))
            .collect()
    }
}

async fn group_members(path: &str) -> Vec<(String, serde_json::Value)> {
    let url = ZkUrl::parse(&zookeeper().url(path)).expect("url");
    let client = ZkCoordinator::connect(&url, SESSION_TIMEOUT, Duration::from_secs(10))
        .await
        .expect("connects to ZooKeeper");
    let mut out = Vec::new();
    for name in client.children(path).await.expect("lists the group") {
        let data = client
            .read(&format!("{path}/{name}"))
            .await
            .expect("reads")
            .unwrap_or_default();
        let json = serde_json::from_slice(&data).unwrap_or(serde_json::Value::Null);
        out.push((name, json));
    }
    out
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn three_masters_elect_one_leader_whose_znode_is_mesos_master_info_and_the_others_redirect() {
    let mut masters = Masters::start("/mesos-elect", 3);
    let leader = masters.wait_leader(&[], support::READY_TIMEOUT);
    let leader_port = masters.ports[leader];

    // The group holds exactly the three members, named as Mesos names them, and the lowest
    // sequence is the leader, whose data is MasterInfo as Mesos' JSON.
    let members = runtime().block_on(group_members("/mesos-elect"));
    assert_eq!(members.len(), 3, "{members:?}");
    for (name, _) in &members {
        let digits = name.strip_prefix("json.info_").expect("json.info_ label");
        assert!(
            digits.len() == 10 && digits.bytes().all(|b| b.is_ascii_digit()),
            "{name}"
        );
    }
    let (_, info) = members
        .iter()
        .min_by_key(|(name, _)| name.clone())
        .expect("a member");
    let state: serde_json::Value =
        serde_json::from_str(&get(leader_port, "/master/state").expect("state").2).expect("json");
    assert_eq!(info["id"], state["id"], "{info}");
    assert_eq!(
        info["ip"], 16_777_343,
        "127.0.0.1 as Mesos' little-endian u32: {info}"
    );
    assert_eq!(info["port"], leader_port, "{info}");
    assert_eq!(
        info["pid"],
        format!("master@127.0.0.1:{leader_port}"),
        "{info}"
    );
    assert_eq!(info["hostname"], "127.0.0.1", "{info}");
    assert!(info["version"].is_string(), "{info}");
    assert_eq!(info["address"]["ip"], "127.0.0.1", "{info}");
    assert_eq!(info["address"]["hostname"], "127.0.0.1", "{info}");
    assert_eq!(info["address"]["port"], leader_port, "{info}");
    assert!(info["capabilities"].is_array(), "{info}");

    // The leader's state names itself as leader.
    assert_eq!(state["leader"], format!("master@127.0.0.1:{leader_port}"));
    assert_eq!(state["leader_info"]["port"], leader_port);

    // A follower: leader-only endpoints (the scheduler API included) are 307 with the path
    // kept; /master/redirect is 307 to the leader; health and flags it answers itself.
    let follower = (0..3).find(|i| *i != leader).expect("a follower");
    let port = masters.ports[follower];
    let (status, headers, _) = get(port, "/master/redirect").expect("answers");
    assert_eq!(status, 307);
    assert_eq!(
        location(&headers),
        Some(format!("//127.0.0.1:{leader_port}").as_str())
    );
    let (status, headers, _) = get(port, "/api/v1/scheduler").expect("answers");
    assert_eq!(status, 307);
    assert_eq!(
        location(&headers),
        Some(format!("//127.0.0.1:{leader_port}/api/v1/scheduler").as_str())
    );
    let (status, headers, _) = get(port, "/master/tasks?limit=3").expect("answers");
    assert_eq!(status, 307);
    assert_eq!(
        location(&headers),
        Some(format!("//127.0.0.1:{leader_port}/master/tasks?limit=3").as_str())
    );
    assert_eq!(get(port, "/master/health").map(|r| r.0), Some(200));
    let (status, _, flags) = get(port, "/master/flags").expect("answers");
    assert_eq!(status, 200);
    assert!(flags.contains("\"quorum\":\"2\""), "{flags}");
    assert!(
        flags.contains("\"zk_session_timeout\":\"4secs\""),
        "{flags}"
    );
    // Any master lists the group (`/master/masters`, Drover's): the three, in sequence order,
    // each with its MasterInfo and znode, the leader alone marked leading.
    for port in [port, leader_port] {
        let (status, _, body) = get(port, "/master/masters").expect("answers");
        assert_eq!(status, 200, "{body}");
        let listed: serde_json::Value = serde_json::from_str(&body).expect("json");
        let listed = listed["masters"].as_array().expect("a list").clone();
        let znodes: Vec<&str> = listed.iter().filter_map(|m| m["znode"].as_str()).collect();
        let mut names: Vec<&str> = members.iter().map(|(n, _)| n.as_str()).collect();
        names.sort();
        assert_eq!(znodes, names, "{listed:?}");
        let leading: Vec<u64> = listed
            .iter()
            .filter(|m| m["leading"] == true)
            .filter_map(|m| m["port"].as_u64())
            .collect();
        assert_eq!(leading, [u64::from(leader_port)], "{listed:?}");
    }
    // The leader redirects /master/redirect to itself, like Mesos.
    let (status, headers, _) = get(leader_port, "/master/redirect").expect("answers");
    assert_eq!(status, 307);
    assert_eq!(
        location(&headers),
        Some(format!("//127.0.0.1:{leader_port}").as_str())
    );
    for daemon in &mut masters.daemons {
        daemon.assert_alive();
    }
}

#[test]
fn a_sigkilled_leader_is_replaced_within_the_session_timeout() {
    let mut masters = Masters::start("/mesos-kill", 3);
    let leader = masters.wait_leader(&[], support::READY_TIMEOUT);
    let killed = Instant::now();
    masters.daemons[leader].kill();
    // A deadline, not a timing assertion: session timeout + a few seconds of slack for a
    // loaded machine.
    let next = masters.wait_leader(&[leader], SESSION_TIMEOUT + Duration::from_secs(15));
    assert_ne!(next, leader);
    eprintln!("new leader after {:?}", killed.elapsed());
    let members = runtime().block_on(group_members("/mesos-kill"));
    assert_eq!(
        members.len(),
        2,
        "the dead master's znode went with its session: {members:?}"
    );
    let _ = masters.logs();
}

#[test]
fn a_leader_paused_past_its_session_never_acts_again() {
    let mut masters = Masters::start("/mesos-pause", 2);
    let leader = masters.wait_leader(&[], support::READY_TIMEOUT);
    let leader_port = masters.ports[leader];
    masters.daemons[leader].pause();
    let next = masters.wait_leader(&[leader], SESSION_TIMEOUT + Duration::from_secs(15));
    assert_ne!(next, leader);
    masters.daemons[leader].resume();
    // From the moment it resumes, it must not answer as a leader: every answer is a refusal
    // (or none), and it exits for its supervisor.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some((status, _, body)) = get(leader_port, "/master/state") {
            assert_ne!(status, 200, "the deposed leader answered as leader: {body}");
            let api = get(leader_port, "/api/v1/scheduler").map(|r| r.0);
            assert!(matches!(api, None | Some(503) | Some(307)), "{api:?}");
        }
        if masters.daemons[leader].exited() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the deposed leader did not exit:\n{}",
            masters.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = masters.daemons[leader].log();
    assert!(log.contains("Lost leadership"), "{log}");
    // The new leader still leads.
    assert_eq!(masters.wait_leader(&[leader], support::READY_TIMEOUT), next);
}

#[test]
fn a_bad_zk_url_is_a_clear_error_at_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = std::process::Command::new(support::DROVER)
        .args([
            "master",
            "--ip=127.0.0.1",
            &format!("--port={}", free_port()),
            &format!("--work_dir={}", Path::new(dir.path()).join("m").display()),
            "--zk=zk://127.0.0.1/mesos",
        ])
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("invalid ZooKeeper URL"), "{stderr}");
    assert!(stderr.contains("--zk"), "{stderr}");
}

#[test]
fn an_agent_with_a_zk_master_follows_the_leader_and_reregisters_after_failover() {
    let mut masters = Masters::start("/mesos-agent", 2);
    let leader = masters.wait_leader(&[], support::READY_TIMEOUT);
    let agent_port = free_port();
    let mut args = support::agent_args(masters.dir.path(), 1, agent_port);
    args[1] = format!("--master={}", zookeeper().url("/mesos-agent"));
    let mut agent = Daemon::start("agent", masters.dir.path(), &args);
    let active_agents = |port: u16| -> Vec<String> {
        get(port, "/master/slaves")
            .filter(|r| r.0 == 200)
            .and_then(|r| serde_json::from_str::<serde_json::Value>(&r.2).ok())
            .map(|v| {
                v["slaves"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .iter()
                    .filter(|s| s["active"] == true)
                    .filter_map(|s| s["id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let leader_port = masters.ports[leader];
    wait_until(
        "the agent registers with the leader",
        support::READY_TIMEOUT,
        || active_agents(leader_port).len() == 1,
    );
    masters.daemons[leader].kill();
    let next = masters.wait_leader(&[leader], SESSION_TIMEOUT + Duration::from_secs(15));
    let next_port = masters.ports[next];
    wait_until(
        "the agent registers with the new leader",
        support::READY_TIMEOUT,
        || active_agents(next_port).len() == 1,
    );
    agent.assert_alive();
    assert!(
        agent.log().contains("detected a new leading master"),
        "{}",
        agent.log()
    );
    agent.kill();
    support::remove_cgroups(&support::cgroups_root(agent_port));
}

/// Framework ids the master at `port` lists as active, if it answers as leader.
fn active_frameworks(port: u16) -> Vec<(String, String)> {
    get(port, "/master/frameworks")
        .filter(|r| r.0 == 200)
        .and_then(|r| serde_json::from_str::<serde_json::Value>(&r.2).ok())
        .map(|v| {
            v["frameworks"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .filter(|f| f["active"] == true)
                .filter_map(|f| {
                    Some((f["id"].as_str()?.to_owned(), f["name"].as_str()?.to_owned()))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_scheduler_client_follows_a_followers_307_to_the_leader() {
    let mut masters = Masters::start("/mesos-follow", 2);
    let leader = masters.wait_leader(&[], support::READY_TIMEOUT);
    let follower = 1 - leader;
    // `drover marathon` subscribes through drover-scheduler-client, given the follower.
    let args = vec![
        "marathon".to_owned(),
        format!("--master=127.0.0.1:{}", masters.ports[follower]),
        format!("--http_port={}", free_port()),
        format!(
            "--work_dir={}",
            masters.dir.path().join("marathon").display()
        ),
    ];
    let mut marathon = Daemon::start("marathon", masters.dir.path(), &args);
    let leader_port = masters.ports[leader];
    wait_until(
        "the scheduler subscribes with the leader",
        support::READY_TIMEOUT,
        || {
            active_frameworks(leader_port)
                .iter()
                .any(|(_, name)| name == "marathon")
        },
    );
    marathon.assert_alive();
    assert!(
        marathon.log().contains("following the master's redirect"),
        "{}",
        marathon.log()
    );
}

#[test]
fn pymesos_with_a_zk_master_string_reaches_the_leader() {
    use std::io::BufRead;
    let mut masters = Masters::start("/mesos-py", 2);
    let leader = masters.wait_leader(&[], support::READY_TIMEOUT);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/framework.py");
    let log = std::fs::File::create(masters.dir.path().join("pymesos.log")).expect("log");
    let mut child = std::process::Command::new(support::python())
        .arg(&script)
        .arg(zookeeper().url("/mesos-py"))
        .arg("--name=ha-pymesos")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("start framework.py");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let registered = loop {
        match rx.recv_timeout(support::READY_TIMEOUT) {
            Ok(line) if line.starts_with("registered ") => break line[11..].to_owned(),
            Ok(_) => continue,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "pymesos did not register:\n{}\n{}",
                    std::fs::read_to_string(masters.dir.path().join("pymesos.log"))
                        .unwrap_or_default(),
                    masters.logs()
                );
            }
        }
    };
    let on_leader = active_frameworks(masters.ports[leader]);
    assert!(
        on_leader.iter().any(|(id, _)| *id == registered),
        "{registered} not on the leader: {on_leader:?}"
    );
    // After a SIGKILL of the leader, pymesos' own detector finds the new one and the
    // framework subscribes there again with its id.
    masters.daemons[leader].kill();
    let next = masters.wait_leader(&[leader], SESSION_TIMEOUT + Duration::from_secs(15));
    let next_port = masters.ports[next];
    let deadline = Instant::now() + support::READY_TIMEOUT;
    while !active_frameworks(next_port)
        .iter()
        .any(|(id, _)| *id == registered)
    {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "pymesos did not resubscribe with the new leader:\n{}\n{}",
                std::fs::read_to_string(masters.dir.path().join("pymesos.log")).unwrap_or_default(),
                masters.logs()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_scheduler_with_a_zk_master_follows_the_leader_across_a_failover() {
    let mut masters = Masters::start("/mesos-sched", 2);
    let leader = masters.wait_leader(&[], support::READY_TIMEOUT);
    let args = vec![
        "marathon".to_owned(),
        format!("--master={}", zookeeper().url("/mesos-sched")),
        format!("--http_port={}", free_port()),
        format!(
            "--work_dir={}",
            masters.dir.path().join("marathon").display()
        ),
    ];
    let mut marathon = Daemon::start("marathon", masters.dir.path(), &args);
    let marathon_on = |port: u16| -> Option<String> {
        active_frameworks(port)
            .into_iter()
            .find(|(_, name)| name == "marathon")
            .map(|(id, _)| id)
    };
    let leader_port = masters.ports[leader];
    let mut id = None;
    wait_until(
        "the scheduler subscribes with the leader",
        support::READY_TIMEOUT,
        || {
            id = marathon_on(leader_port);
            id.is_some()
        },
    );
    masters.daemons[leader].kill();
    let next = masters.wait_leader(&[leader], SESSION_TIMEOUT + Duration::from_secs(15));
    let next_port = masters.ports[next];
    wait_until(
        "the scheduler subscribes with the new leader under the same id",
        support::READY_TIMEOUT,
        || marathon_on(next_port) == id,
    );
    marathon.assert_alive();
}

/// `drover <command> --master zk://…/path` (as Mesos' tools took it): (exit code, stdout,
/// stderr) of one CLI call.
fn cli(master: &str, args: &[&str]) -> (i32, String, String) {
    let output = std::process::Command::new(support::DROVER)
        .args(args)
        .arg(format!("--master={master}"))
        .output()
        .expect("runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_cli_with_a_zk_master_reaches_the_leader_across_a_failover() {
    let mut masters = Masters::start("/mesos-cli", 2);
    let leader = masters.wait_leader(&[], support::READY_TIMEOUT);
    let master = zookeeper().url("/mesos-cli");
    let (code, out, err) = cli(&master, &["agent", "list", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let listed: serde_json::Value = serde_json::from_str(&out).expect("JSON on stdout");
    assert!(listed.is_array() || listed.is_object(), "{out}");
    masters.daemons[leader].kill();
    let next = masters.wait_leader(&[leader], SESSION_TIMEOUT + Duration::from_secs(15));
    assert_ne!(next, leader);
    let (code, out, err) = cli(&master, &["framework", "list"]);
    assert_eq!(code, 0, "after the failover: {out}{err}");
    // A group with no master: a clear error, exit code 3 (unreachable).
    let (code, out, err) = cli(&zookeeper().url("/no-masters-here"), &["agent", "list"]);
    assert_eq!(code, 3, "{out}{err}");
    assert!(err.contains("no leading master in ZooKeeper"), "{err}");
    let _ = masters.logs();
}

/// The registry lives in ZooKeeper, outside the group's path: what one leader committed (a
/// quota here, a pure registry record) is what the next leader, with its own empty work dir,
/// recovers.
#[test]
fn the_next_leader_recovers_the_registry_the_previous_one_wrote_to_zookeeper() {
    let mut masters = Masters::start("/mesos-registry", 2);
    let leader = masters.wait_leader(&[], support::READY_TIMEOUT);
    let update = serde_json::json!({"type": "UPDATE_QUOTA", "update_quota": {"quota_configs": [
        {"role": "dev", "limits": {"cpus": {"value": 1.5}, "mem": {"value": 512}}}]}});
    let (status, body) = support::http_request(
        masters.ports[leader],
        "POST",
        "/api/v1",
        Some(&update.to_string()),
        "application/json",
    )
    .expect("the leader answers");
    assert_eq!(status, 200, "{body}\n{}", masters.logs());
    masters.daemons[leader].kill();
    let next = masters.wait_leader(&[leader], SESSION_TIMEOUT + Duration::from_secs(15));
    let (status, body) = support::http_request(
        masters.ports[next],
        "POST",
        "/api/v1",
        Some(r#"{"type": "GET_QUOTA"}"#),
        "application/json",
    )
    .expect("the new leader answers");
    assert_eq!(status, 200, "{body}");
    let quota: serde_json::Value = serde_json::from_str(&body).expect("json");
    let configs = quota["get_quota"]["status"]["configs"].to_string();
    assert!(
        configs.contains("\"dev\"") && configs.contains("1.5"),
        "the quota survived the failover: {quota}\n{}",
        masters.logs()
    );
    // Nothing but members under the group's path; the registry is elsewhere.
    let members = runtime().block_on(group_members("/mesos-registry"));
    assert!(
        members
            .iter()
            .all(|(name, _)| name.starts_with("json.info_")),
        "{members:?}"
    );
}
