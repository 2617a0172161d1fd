//! The Operator API calls beyond the read-only views, over real HTTP against an in-process
//! master on a free port: logging levels, roles, operations, agent deactivation and quota,
//! each with the bad input Mesos refuses and its status code.

use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use drover_http::{Client, RecordStream};
use serde_json::{Value, json};
use tokio::sync::oneshot;

const DEADLINE: Duration = Duration::from_secs(20);
const JSON: &[(&str, &str)] = &[
    ("Content-Type", "application/json"),
    ("Accept", "application/json"),
];

struct Master {
    url: String,
    client: Client,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

fn parse_flags(args: &[&str]) -> drover_master::Flags {
    use clap::{Args, FromArgMatches};
    let command = drover_master::Flags::augment_args(clap::Command::new("test"));
    let matches = command.get_matches_from(args);
    drover_master::Flags::from_arg_matches(&matches).expect("flags parse")
}

impl Master {
    async fn start(work_dir: &std::path::Path) -> Result<Master> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let dir = work_dir.to_str().context("utf-8 path")?;
        let flags = parse_flags(&["test", "--work_dir", dir, "--allocation_interval", "50ms"]);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(drover_master::run_on(listener, flags, async move {
            let _ = stopped.await;
        }));
        let master = Master {
            url: format!("http://127.0.0.1:{port}"),
            client: Client::new(),
            stop: Some(stop),
            task,
        };
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            if let Ok(r) = master
                .client
                .get(&format!("{}/health", master.url), &[])
                .await
                && r.status == 200
            {
                return Ok(master);
            }
            if tokio::time::Instant::now() > deadline {
                bail!("master did not become healthy");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn stop(mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.await??;
        Ok(())
    }

    /// An operator call: (status, body text).
    async fn call(&self, call: Value) -> Result<(u16, String)> {
        let r = self
            .client
            .post(
                &format!("{}/api/v1", self.url),
                JSON,
                call.to_string().into(),
            )
            .await?;
        Ok((r.status.as_u16(), r.text()))
    }

    /// An operator call that must answer 200 with a JSON body.
    async fn ok(&self, call: Value) -> Result<Value> {
        let (status, body) = self.call(call.clone()).await?;
        if status != 200 {
            bail!("{call} answered {status}: {body}");
        }
        if body.is_empty() {
            return Ok(Value::Null);
        }
        Ok(serde_json::from_str(&body)?)
    }

    async fn get(&self, path: &str) -> Result<Value> {
        let r = self.client.get(&format!("{}{path}", self.url), &[]).await?;
        Ok(serde_json::from_str(&r.text())?)
    }

    /// Waits until `check` holds for the answer to `call`.
    async fn until(&self, call: Value, check: impl Fn(&Value) -> bool) -> Result<Value> {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let answer = self.ok(call.clone()).await?;
            if check(&answer) {
                return Ok(answer);
            }
            if tokio::time::Instant::now() > deadline {
                bail!("condition never held; last answer to {call}: {answer}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn next_json(records: &mut RecordStream) -> Result<Value> {
    let record = tokio::time::timeout(DEADLINE, records.next())
        .await
        .context("timed out waiting for an event")?
        .context("stream ended")??;
    Ok(serde_json::from_slice(&record)?)
}

/// An open stream (scheduler subscription or agent session) and its first event.
async fn open(url: &str, call: Value) -> Result<(RecordStream, Value)> {
    let mut response = Client::new()
        .post_stream(url, JSON, call.to_string().into(), 1 << 20)
        .await?;
    let first = next_json(&mut response.records).await?;
    Ok((response.records, first))
}

/// Registers a scripted agent; returns its session and id.
async fn register_agent(master: &Master, host: &str, cpus: f64) -> Result<(RecordStream, String)> {
    let call = json!({"type": "REGISTER", "register": {"version": "1.11.0", "agent_info": {
    "hostname": host, "port": 5051,
    "resources": [
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}},
        {"name": "mem", "type": "SCALAR", "scalar": {"value": 4096.0}}
    ]}}});
    let (stream, first) = open(&format!("{}/drover/internal/agent", master.url), call).await?;
    let id = first["registered"]["agent_id"]["value"]
        .as_str()
        .with_context(|| format!("registered: {first}"))?
        .to_owned();
    Ok((stream, id))
}

/// Subscribes a MULTI_ROLE framework with `roles`; returns its stream and id.
async fn subscribe(master: &Master, roles: &[&str]) -> Result<(RecordStream, String)> {
    let call = json!({"type": "SUBSCRIBE", "subscribe": {"framework_info": {
        "user": "root", "name": "operator-test", "roles": roles,
        "capabilities": [{"type": "MULTI_ROLE"}]}}});
    let (stream, first) = open(&format!("{}/api/v1/scheduler", master.url), call).await?;
    let id = first["subscribed"]["framework_id"]["value"]
        .as_str()
        .with_context(|| format!("subscribed: {first}"))?
        .to_owned();
    Ok((stream, id))
}

/// Levels the test's stand-in for the binary's filter changer was asked for.
static APPLIED: Mutex<Vec<u32>> = Mutex::new(Vec::new());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logging_level_is_raised_for_the_duration_then_reverted() -> Result<()> {
    drover_master::operator::logging::install(Box::new(|level| {
        APPLIED.lock().map_err(|e| e.to_string())?.push(level);
        Ok(())
    }));
    let dir = tempfile::tempdir()?;
    let master = Master::start(dir.path()).await?;
    let get = json!({"type": "GET_LOGGING_LEVEL"});
    let r = master.ok(get.clone()).await?;
    assert_eq!(r["type"], "GET_LOGGING_LEVEL");
    assert_eq!(r["get_logging_level"]["level"], 0);

    // Bad input: 400 and nothing changes.
    let (status, body) = master.call(json!({"type": "SET_LOGGING_LEVEL"})).await?;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("set_logging_level"), "{body}");
    let (status, body) = master
        .call(json!({"type": "SET_LOGGING_LEVEL", "set_logging_level": {"level": 1, "duration": {"nanoseconds": -1}}}))
        .await?;
    assert_eq!(status, 400, "{body}");
    assert!(APPLIED.lock().unwrap().is_empty());

    master
        .ok(json!({"type": "SET_LOGGING_LEVEL", "set_logging_level": {"level": 2, "duration": {"nanoseconds": 600_000_000}}}))
        .await?;
    assert_eq!(*APPLIED.lock().unwrap(), vec![2]);
    assert_eq!(
        master.ok(get.clone()).await?["get_logging_level"]["level"],
        2
    );
    master
        .until(get, |r| r["get_logging_level"]["level"] == 0)
        .await?;
    assert_eq!(
        *APPLIED.lock().unwrap(),
        vec![2, 0],
        "reverted through the filter"
    );
    master.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_and_operations() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let master = Master::start(dir.path()).await?;
    let (_agent, _) = register_agent(&master, "a1", 4.0).await?;
    let (_fw, fw_id) = subscribe(&master, &["web"]).await?;
    let roles = master
        .until(json!({"type": "GET_ROLES"}), |r| {
            r["get_roles"]["roles"].as_array().is_some_and(|roles| {
                roles.iter().any(|role| {
                    role["name"] == "web"
                        && role["resources"].as_array().is_some_and(|r| !r.is_empty())
                })
            })
        })
        .await?;
    let list = roles["get_roles"]["roles"].as_array().unwrap();
    let web = list.iter().find(|r| r["name"] == "web").unwrap();
    assert_eq!(web["weight"], 1.0);
    assert_eq!(web["frameworks"], json!([{"value": fw_id}]));
    assert!(list.iter().any(|r| r["name"] == "*"), "{roles}");

    let ops = master.ok(json!({"type": "GET_OPERATIONS"})).await?;
    assert_eq!(ops["type"], "GET_OPERATIONS");
    assert_eq!(ops["get_operations"], json!({}), "no operations exist");
    let legacy = master.get("/master/roles").await?;
    let web = legacy["roles"]
        .as_array()
        .and_then(|roles| roles.iter().find(|r| r["name"] == "web"))
        .cloned()
        .with_context(|| format!("{legacy}"))?;
    assert_eq!(web["frameworks"], json!([fw_id]));
    assert_eq!(web["weight"], 1.0);
    // The agent's whole 4 cpus are offered to `web`, nothing runs yet.
    assert_eq!(web["offered"]["cpus"], 4.0, "{web}");
    assert_eq!(web["allocated"]["cpus"], 0.0, "{web}");
    assert_eq!(web["resources"]["cpus"], 4.0, "{web}");
    assert_eq!(master.get("/master/roles.json").await?, legacy);
    master.stop().await
}

/// The next OFFERS or RESCIND event on a scheduler stream (heartbeats skipped).
async fn next_of(stream: &mut RecordStream, kinds: &[&str]) -> Result<Value> {
    loop {
        let event = next_json(stream).await?;
        if kinds.iter().any(|k| event["type"] == *k) {
            return Ok(event);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivated_agent_gets_no_offers_and_the_mark_is_persisted() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let master = Master::start(dir.path()).await?;
    let (_agent, agent_id) = register_agent(&master, "a1", 4.0).await?;
    let (mut fw, _) = subscribe(&master, &["*"]).await?;
    next_of(&mut fw, &["OFFERS"]).await?;

    // Bad input first: no body, unknown agent.
    let (status, body) = master.call(json!({"type": "DEACTIVATE_AGENT"})).await?;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("deactivate_agent"), "{body}");
    let (status, body) = master
        .call(json!({"type": "DEACTIVATE_AGENT", "deactivate_agent": {"agent_id": {"value": "nope"}}}))
        .await?;
    assert_eq!(status, 400, "{body}");

    master
        .ok(json!({"type": "DEACTIVATE_AGENT", "deactivate_agent": {"agent_id": {"value": agent_id}}}))
        .await?;
    let rescind = next_of(&mut fw, &["RESCIND", "OFFERS"]).await?;
    assert_eq!(rescind["type"], "RESCIND", "{rescind}");
    let agents = master.ok(json!({"type": "GET_AGENTS"})).await?;
    let agent = &agents["get_agents"]["agents"][0];
    assert_eq!(agent["deactivated"], true, "{agent}");
    assert_eq!(agent["active"], false, "{agent}");
    let slaves = master.get("/master/slaves").await?;
    assert_eq!(slaves["slaves"][0]["deactivated"], true, "{slaves}");
    // No offer while deactivated: several allocation intervals (50 ms) pass.
    let quiet =
        tokio::time::timeout(Duration::from_millis(600), next_of(&mut fw, &["OFFERS"])).await;
    assert!(
        quiet.is_err(),
        "an offer came for a deactivated agent: {quiet:?}"
    );

    master
        .ok(json!({"type": "REACTIVATE_AGENT", "reactivate_agent": {"agent_id": {"value": agent_id}}}))
        .await?;
    next_of(&mut fw, &["OFFERS"]).await?;
    master
        .ok(json!({"type": "DEACTIVATE_AGENT", "deactivate_agent": {"agent_id": {"value": agent_id}}}))
        .await?;
    drop(fw);
    master.stop().await?;

    // A restarted master remembers the mark.
    let master = Master::start(dir.path()).await?;
    let agents = master.ok(json!({"type": "GET_AGENTS"})).await?;
    let recovered = agents["get_agents"]["recovered_agents"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(recovered.len(), 1, "{agents}");
    let (_agent, _) = {
        let call = json!({"type": "REREGISTER", "agent_id": {"value": agent_id}, "reregister": {"version": "1.11.0", "agent_info": {
        "id": {"value": agent_id}, "hostname": "a1", "port": 5051,
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 4.0}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": 4096.0}}
        ]}}});
        open(&format!("{}/drover/internal/agent", master.url), call).await?
    };
    master
        .until(json!({"type": "GET_AGENTS"}), |r| {
            r["get_agents"]["agents"][0]["deactivated"] == true
        })
        .await?;
    master.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_file_serves_the_master_log_only() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let master = Master::start(dir.path()).await?;
    let read = |path: &str, offset: u64, length: Option<u64>| {
        let mut call = json!({"type": "READ_FILE", "read_file": {"path": path, "offset": offset}});
        if let Some(length) = length {
            call["read_file"]["length"] = json!(length);
        }
        call
    };
    // Before a log file is known (this process has none yet): a clear 404 naming --log_dir.
    if drover_master::operator::logging::log_file().is_none() {
        let (status, body) = master.call(read("/master/log", 0, None)).await?;
        assert_eq!(status, 404, "{body}");
        assert!(body.contains("--log_dir"), "{body}");
    }
    let log = dir.path().join("drover.log");
    std::fs::write(&log, b"line one\nline two\n")?;
    drover_master::operator::logging::set_log_file(log);
    let r = master.ok(read("/master/log", 5, Some(3))).await?;
    assert_eq!(r["type"], "READ_FILE");
    assert_eq!(r["read_file"]["size"], 18);
    // JSON bytes are base64: "one".
    assert_eq!(r["read_file"]["data"], "b25l");
    let r = master.ok(read("/master/log", 100, None)).await?;
    assert_eq!(r["read_file"]["size"], 18);
    assert!(
        r["read_file"]["data"].as_str().is_none_or(str::is_empty),
        "{r}"
    );

    let (status, body) = master.call(read("/etc/passwd", 0, None)).await?;
    assert_eq!(status, 404, "{body}");
    let (status, body) = master.call(json!({"type": "READ_FILE"})).await?;
    assert_eq!(status, 400, "{body}");
    master.stop().await
}
