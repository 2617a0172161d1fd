//! Schedulers on ZooKeeper (issue 17), as real processes around one private ZooKeeper server
//! and a real master and agent: two `drover marathon --zk` elect one leader in Curator's
//! leader-latch layout; the follower proxies the API (marathon-python through it), redirects
//! `/v2/events` and refuses a proxying loop; the state lives in ZooKeeper, so a new leader
//! finishes a deployment its SIGKILLed predecessor started, without killing what runs;
//! `DELETE /v2/leader` hands over; a leader paused past its session never acts again.

use crate::support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::OnceLock;
use std::time::Duration;

use drover_coord::testing::ZooKeeperServer;
use drover_coord::{Coordinator, ZkCoordinator, ZkUrl};
use serde_json::{Value, json};
use support::{Cluster, Daemon, free_port, wait_until};

/// The schedulers' session timeout in these tests, in milliseconds (Marathon's default is
/// 10 s).
const SESSION_TIMEOUT_MS: u64 = 4_000;

fn zookeeper() -> &'static ZooKeeperServer {
    static SERVER: OnceLock<ZooKeeperServer> = OnceLock::new();
    SERVER.get_or_init(ZooKeeperServer::start)
}

/// Header names (lower case) and values.
type Headers = Vec<(String, String)>;

/// One HTTP/1.0 request (so the answer is never chunked): (status, headers, body).
fn request(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&Value>,
    extra: &[(&str, &str)],
) -> Option<(u16, Headers, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut head = format!(
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nAccept: application/json\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in extra {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(body.as_bytes()).ok()?;
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

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn json_of(port: u16, path: &str) -> Option<Value> {
    match request(port, "GET", path, None, &[])? {
        (200, _, body) => serde_json::from_str(&body).ok(),
        _ => None,
    }
}

/// A cluster (master, agent) with schedulers of one HA group.
struct Group {
    cluster: Cluster,
    path: String,
    ports: Vec<u16>,
    schedulers: Vec<Daemon>,
}

impl Group {
    fn start(path: &str, count: usize) -> Group {
        let cluster = Cluster::start(false);
        let mut group = Group {
            cluster,
            path: path.to_owned(),
            ports: Vec::new(),
            schedulers: Vec::new(),
        };
        for _ in 0..count {
            group.add();
        }
        group
    }

    fn add(&mut self) {
        const NAMES: [&str; 3] = ["marathon0", "marathon1", "marathon2"];
        let index = self.ports.len();
        let port = free_port();
        let args = vec![
            "marathon".to_owned(),
            format!("--master=127.0.0.1:{}", self.cluster.master_port),
            format!("--http_port={port}"),
            "--hostname=127.0.0.1".to_owned(),
            format!(
                "--work_dir={}",
                self.cluster.dir.path().join(NAMES[index]).display()
            ),
            format!("--zk={}", zookeeper().url(&self.path)),
            format!("--zk_session_timeout={SESSION_TIMEOUT_MS}"),
        ];
        self.schedulers
            .push(Daemon::start(NAMES[index], self.cluster.dir.path(), &args));
        self.ports.push(port);
    }

    /// The index of the leader, once every live scheduler names it in `/v2/leader` and it
    /// answers as the leader.
    fn wait_leader(&self, skip: &[usize]) -> usize {
        let mut leader = None;
        wait_until(
            "every live scheduler naming one leader",
            support::READY_TIMEOUT,
            || {
                let mut named = Vec::new();
                for (i, port) in self.ports.iter().enumerate() {
                    if skip.contains(&i) {
                        continue;
                    }
                    match json_of(*port, "/v2/leader") {
                        Some(body) => named.push(body["leader"].as_str().unwrap_or("").to_owned()),
                        None => return false,
                    }
                }
                let Some(first) = named.first() else {
                    return false;
                };
                if !named.iter().all(|n| n == first) {
                    return false;
                }
                leader = self
                    .ports
                    .iter()
                    .position(|p| *first == format!("127.0.0.1:{p}"));
                leader.is_some_and(|l| !skip.contains(&l))
            },
        );
        leader.expect("a leader")
    }

    fn logs(&self) -> String {
        let mut out = self.cluster.logs();
        for daemon in &self.schedulers {
            out.push_str(&format!("--- {}\n{}", daemon.name, daemon.log()));
        }
        out
    }

    /// The scheduler's framework ids among the master's active frameworks.
    fn marathon_frameworks(&self) -> Vec<String> {
        let state = self.cluster.master_json("/master/frameworks");
        state["frameworks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|f| f["name"] == "marathon" && f["active"] == true)
            .filter_map(|f| f["id"].as_str().map(str::to_owned))
            .collect()
    }

    /// (task id, state) of every task of the scheduler's framework on the master.
    fn master_tasks(&self) -> Vec<(String, String)> {
        let state = self.cluster.master_json("/master/tasks");
        state["tasks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| {
                Some((
                    t["id"].as_str()?.to_owned(),
                    t["state"].as_str()?.to_owned(),
                ))
            })
            .collect()
    }
}

async fn latch_members(path: &str) -> Vec<(String, String)> {
    let url = ZkUrl::parse(&zookeeper().url(path)).expect("url");
    let client = ZkCoordinator::connect(&url, Duration::from_secs(4), Duration::from_secs(10))
        .await
        .expect("connects to ZooKeeper");
    let group = format!("{path}/leader-curator");
    let mut out = Vec::new();
    for name in client.children(&group).await.expect("lists the latch") {
        let data = client
            .read(&format!("{group}/{name}"))
            .await
            .expect("reads")
            .unwrap_or_default();
        out.push((name, String::from_utf8_lossy(&data).into_owned()));
    }
    out
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn sleeper(id: &str, instances: u32, cpus: f64) -> Value {
    json!({"id": id, "cmd": "sleep 1000", "cpus": cpus, "mem": 32, "instances": instances})
}

/// The ids of the app's running tasks, sorted, as the scheduler on `port` reports them.
fn running(port: u16, app: &str) -> Vec<String> {
    let mut ids: Vec<String> = json_of(port, &format!("/v2/apps{app}/tasks"))
        .and_then(|body| body["tasks"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter(|t| t["state"] == "TASK_RUNNING")
        .filter_map(|t| t["id"].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    ids
}

#[test]
fn two_schedulers_elect_one_leader_and_the_follower_proxies_redirects_events_and_refuses_loops() {
    let group = Group::start("/marathon-proxy", 2);
    let leader = group.wait_leader(&[]);
    let follower = 1 - leader;
    let (leader_port, follower_port) = (group.ports[leader], group.ports[follower]);

    // Curator's layout: one protected, sequential latch node per scheduler, holding host:port.
    let members = runtime().block_on(latch_members("/marathon-proxy"));
    assert_eq!(members.len(), 2, "{members:?}");
    for (name, data) in &members {
        let (prefix, sequence) = name.rsplit_once("-latch-").expect("a latch node");
        assert!(
            prefix.starts_with("_c_") && prefix.len() == 3 + 36,
            "{name}"
        );
        assert!(
            sequence.len() == 10 && sequence.bytes().all(|b| b.is_ascii_digit()),
            "{name}"
        );
        assert!(
            group
                .ports
                .iter()
                .any(|p| *data == format!("127.0.0.1:{p}")),
            "{data}"
        );
    }

    // A write through the follower reaches the leader, whose answer names itself.
    let (status, headers, body) = request(
        follower_port,
        "POST",
        "/v2/apps",
        Some(&sleeper("/proxied", 1, 0.1)),
        &[],
    )
    .expect("the follower answers");
    assert_eq!(status, 201, "{body}\n{}", group.logs());
    assert_eq!(
        header(&headers, "x-marathon-leader"),
        Some(format!("http://127.0.0.1:{leader_port}").as_str()),
        "{headers:?}"
    );
    wait_until("the proxied app running", support::READY_TIMEOUT, || {
        running(follower_port, "/proxied").len() == 1
    });

    // Event streams are not proxied: the follower sends the client to the leader.
    let (status, headers, _) =
        request(follower_port, "GET", "/v2/events", None, &[]).expect("answers");
    assert_eq!(status, 302);
    assert_eq!(
        header(&headers, "location"),
        Some(format!("http://127.0.0.1:{leader_port}/v2/events").as_str())
    );

    // A request that already passed through the follower is a loop.
    let via = format!("1.1 127.0.0.1:{follower_port}");
    let (status, _, body) = request(
        follower_port,
        "GET",
        "/v2/apps",
        None,
        &[("X-Marathon-Via", via.as_str())],
    )
    .expect("answers");
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("Detected proxying loop"), "{body}");

    // A real client through the follower: marathon-python's whole tour (its event stream
    // follows the 302).
    support::run_python(
        &group.cluster,
        "marathon_client.py",
        &[format!("http://127.0.0.1:{follower_port}")],
    );
}

#[test]
fn a_new_leader_finishes_the_deployment_of_a_sigkilled_one_and_abdication_hands_back() {
    let mut group = Group::start("/marathon-failover", 2);
    let first = group.wait_leader(&[]);
    let second = 1 - first;
    let first_port = group.ports[first];
    // Three instances of 0.8 cpus: the agent (2 cpus) fits two; the deployment waits.
    let (status, _, body) = request(
        first_port,
        "POST",
        "/v2/apps",
        Some(&sleeper("/web", 3, 0.8)),
        &[],
    )
    .expect("answers");
    assert_eq!(status, 201, "{body}");
    wait_until("two instances running", support::READY_TIMEOUT, || {
        running(first_port, "/web").len() == 2
    });
    let before = running(first_port, "/web");
    let deployments = json_of(first_port, "/v2/deployments").expect("deployments");
    assert_eq!(
        deployments.as_array().map(Vec::len),
        Some(1),
        "{deployments}"
    );
    let framework = group.marathon_frameworks();
    assert_eq!(framework.len(), 1, "{framework:?}");

    group.schedulers[first].kill();
    let leader = group.wait_leader(&[first]);
    assert_eq!(leader, second);
    let second_port = group.ports[second];
    // The new leader loaded the app and the deployment from ZooKeeper...
    wait_until(
        "the new leader re-subscribed under the same framework id",
        support::READY_TIMEOUT,
        || group.marathon_frameworks() == framework,
    );
    let deployments = json_of(second_port, "/v2/deployments").expect("deployments");
    assert_eq!(
        deployments.as_array().map(Vec::len),
        Some(1),
        "{deployments}"
    );
    // ...and finishes it once there is room, without killing what ran.
    group.cluster.add_agent();
    wait_until("the deployment completes", support::READY_TIMEOUT, || {
        json_of(second_port, "/v2/deployments")
            .is_some_and(|d| d.as_array().is_some_and(Vec::is_empty))
    });
    let after = running(second_port, "/web");
    assert_eq!(after.len(), 3, "{after:?}");
    for task in &before {
        assert!(
            after.contains(task),
            "{task} survived the failover: {after:?}"
        );
    }
    let killed: Vec<_> = group
        .master_tasks()
        .into_iter()
        .filter(|(_, state)| state != "TASK_RUNNING")
        .collect();
    assert!(killed.is_empty(), "nothing was killed or lost: {killed:?}");

    // A third scheduler joins; DELETE /v2/leader on it (proxied) makes the leader step down
    // and exit, and one of the others takes over with the same state.
    group.add();
    let third = 2;
    assert_eq!(group.wait_leader(&[first]), second, "the newcomer follows");
    let (status, _, body) =
        request(group.ports[third], "DELETE", "/v2/leader", None, &[]).expect("answers");
    assert_eq!(status, 200, "{body}\n{}", group.logs());
    assert_eq!(
        serde_json::from_str::<Value>(&body).expect("json")["message"],
        "Leadership abdicated"
    );
    wait_until("the abdicated leader exits", support::READY_TIMEOUT, || {
        group.schedulers[second].exited()
    });
    let next = group.wait_leader(&[first, second]);
    assert_eq!(next, third);
    let next_port = group.ports[next];
    wait_until(
        "the third leader sees the same three instances",
        support::READY_TIMEOUT,
        || running(next_port, "/web") == after,
    );
    assert_eq!(group.marathon_frameworks(), framework);
}

#[test]
fn a_leader_paused_past_its_session_exits_on_resume_without_acting() {
    let group = Group::start("/marathon-pause", 2);
    let leader = group.wait_leader(&[]);
    let other = 1 - leader;
    let (status, _, body) = request(
        group.ports[leader],
        "POST",
        "/v2/apps",
        Some(&sleeper("/steady", 1, 0.1)),
        &[],
    )
    .expect("answers");
    assert_eq!(status, 201, "{body}");
    wait_until("the app running", support::READY_TIMEOUT, || {
        running(group.ports[leader], "/steady").len() == 1
    });
    let task = running(group.ports[leader], "/steady");
    group.schedulers[leader].pause();
    // A request the follower proxies to the paused leader does not hang on it: once another
    // scheduler leads, it ends (503, "retry") well within the client's 30 s read timeout.
    let other_port = group.ports[other];
    let waiting = std::thread::spawn(move || request(other_port, "GET", "/v2/apps", None, &[]));
    let next = group.wait_leader(&[leader]);
    let (status, _, body) = waiting
        .join()
        .expect("the proxied request's thread")
        .expect("the proxied request ended instead of hanging on the paused leader");
    assert!(status == 503 || status == 200, "{status} {body}");
    assert_eq!(next, other);
    // The new leader changes the app; the old one, resumed, must not act on its stale state.
    let (status, _, body) = request(
        group.ports[other],
        "PUT",
        "/v2/apps/steady",
        Some(&json!({"instances": 2})),
        &[],
    )
    .expect("answers");
    assert!(status == 200 || status == 201, "{status} {body}");
    group.schedulers[leader].resume();
    let mut group = group;
    wait_until(
        "the resumed old leader exits",
        support::READY_TIMEOUT,
        || group.schedulers[leader].exited(),
    );
    let log = group.schedulers[leader].log();
    assert!(
        log.contains("lost leadership") || log.contains("session"),
        "the old leader says why it stopped:\n{log}"
    );
    wait_until(
        "two instances on the new leader",
        support::READY_TIMEOUT,
        || running(group.ports[other], "/steady").len() == 2,
    );
    let now = running(group.ports[other], "/steady");
    assert!(now.contains(&task[0]), "the first task still runs: {now:?}");
    let app = json_of(group.ports[other], "/v2/apps/steady").expect("app");
    assert_eq!(app["app"]["instances"], 2, "{app}");
}

/// Whether nothing listens on `port` on loopback now.
fn port_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// A base port `p` with `p`, `p + 2` and `p + 3` free (`drover dev --ha`'s masters).
fn free_master_base() -> u16 {
    for _ in 0..200 {
        let p = free_port();
        if p < 60_000 && port_free(p + 2) && port_free(p + 3) {
            return p;
        }
    }
    panic!("no three free master ports");
}

/// A base port `p` with `p` and `p + 1` free (`drover dev --ha`'s schedulers).
fn free_scheduler_base() -> u16 {
    for _ in 0..200 {
        let p = free_port();
        if p < 60_000 && port_free(p + 1) {
            return p;
        }
    }
    panic!("no two free scheduler ports");
}

/// `drover dev --ha` as a newcomer runs it: three masters, two schedulers and an agent, each
/// its own process; killing the leading master and the leading scheduler leaves the cluster
/// running (the app's task untouched), the dead ones come back, and Ctrl-C (SIGTERM) stops
/// every process it started.
#[test]
fn drover_dev_ha_survives_killing_both_leaders_and_stops_everything() {
    let dir = tempfile::tempdir().expect("temp dir");
    let master = free_master_base();
    let scheduler = loop {
        let s = free_scheduler_base();
        if ![master, master + 2, master + 3]
            .iter()
            .any(|m| *m == s || *m == s + 1)
        {
            break s;
        }
    };
    let agent = loop {
        let p = free_port();
        if ![master, master + 2, master + 3, scheduler, scheduler + 1].contains(&p) {
            break p;
        }
    };
    let out = dir.path().join("dev.out");
    let mut dev = std::process::Command::new(support::DROVER)
        .args([
            "dev".to_owned(),
            "--ha".to_owned(),
            format!("--zk={}", zookeeper().url("/dev-ha")),
            format!("--work_dir={}", dir.path().join("work").display()),
            format!("--master_port={master}"),
            format!("--agent_port={agent}"),
            format!("--marathon_port={scheduler}"),
            "--isolation=posix".to_owned(),
            "--resources=cpus:2;mem:2048;disk:4096;ports:[31000-31999]".to_owned(),
        ])
        .current_dir(dir.path())
        .stdout(std::fs::File::create(&out).expect("output file"))
        .stderr(std::fs::File::create(dir.path().join("dev.err")).expect("error file"))
        .spawn()
        .expect("start drover dev --ha");
    let output = || std::fs::read_to_string(&out).unwrap_or_default();
    let logs = || {
        let mut text = output();
        text.push_str(&std::fs::read_to_string(dir.path().join("dev.err")).unwrap_or_default());
        for name in [
            "master1",
            "master2",
            "master3",
            "agent",
            "scheduler1",
            "scheduler2",
        ] {
            let log = dir.path().join("work/logs").join(format!("{name}.log"));
            text.push_str(&format!(
                "\n--- {name}\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            ));
        }
        text
    };
    wait_until("drover dev --ha to start", support::READY_TIMEOUT, || {
        assert!(
            dev.try_wait().expect("wait").is_none(),
            "drover dev --ha exited:\n{}",
            logs()
        );
        output().contains("Drover is running highly available")
    });
    let banner = output();
    let pid_of = |name: &str| -> i32 {
        banner
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .and_then(|l| l.split_whitespace().nth(2))
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("{name}'s pid in the banner:\n{banner}"))
    };
    let masters = [master, master + 2, master + 3];
    let leading_master = || {
        masters.iter().position(|p| {
            matches!(
                request(*p, "GET", "/master/state", None, &[]),
                Some((200, _, _))
            )
        })
    };
    // An app, through the second scheduler (a follower or the leader).
    let (status, _, body) = request(
        scheduler + 1,
        "POST",
        "/v2/apps",
        Some(&sleeper("/survivor", 1, 0.1)),
        &[],
    )
    .expect("answers");
    assert_eq!(status, 201, "{body}\n{}", logs());
    wait_until("the app running", support::READY_TIMEOUT, || {
        running(scheduler, "/survivor").len() == 1
    });
    let task = running(scheduler, "/survivor");

    // Kill the leading master, then the leading scheduler.
    let leader = leading_master().expect("a leading master");
    let name = format!("master{}", leader + 1);
    nix_kill(pid_of(&name));
    wait_until("another master leads", support::READY_TIMEOUT, || {
        leading_master().is_some_and(|l| l != leader)
    });
    wait_until(
        "the killed master is restarted",
        support::READY_TIMEOUT,
        || output().contains(&format!("drover dev: {name} is back")),
    );
    let leading_scheduler = json_of(scheduler, "/v2/leader").expect("a scheduler leads")["leader"]
        .as_str()
        .map(str::to_owned)
        .expect("leader");
    let which = if leading_scheduler.ends_with(&format!(":{scheduler}")) {
        "scheduler1"
    } else {
        "scheduler2"
    };
    nix_kill(pid_of(which));
    wait_until("the other scheduler leads", support::READY_TIMEOUT, || {
        [scheduler, scheduler + 1].iter().any(|p| {
            json_of(*p, "/v2/leader")
                .is_some_and(|b| b["leader"].as_str().is_some_and(|l| l != leading_scheduler))
        })
    });
    wait_until(
        "the task still running, seen by the new leaders",
        support::READY_TIMEOUT,
        || running(scheduler, "/survivor") == task || running(scheduler + 1, "/survivor") == task,
    );

    // Ctrl-C: everything it started stops.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(dev.id()).expect("pid")),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("signal drover dev");
    wait_until("drover dev --ha to stop", Duration::from_secs(120), || {
        dev.try_wait().expect("wait").is_some()
    });
    wait_until("no process left behind", Duration::from_secs(30), || {
        support::processes_under(dir.path()).is_empty()
    });
}

fn nix_kill(pid: i32) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill -9");
}
