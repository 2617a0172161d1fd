//! The harness of the master's HTTP tests: a master on a free port in this process, a JSON
//! framework client (RecordIO SUBSCRIBE stream) and a scripted agent speaking the internal
//! protocol. Each test file uses part of it.
#![allow(dead_code)]

use std::time::Duration;

use anyhow::{Context, Result, bail};
use drover_http::{Client, RecordStream};
use serde_json::{Value, json};
use tokio::sync::oneshot;

pub const DEADLINE: Duration = Duration::from_secs(20);

pub struct Master {
    pub url: String,
    pub stop: Option<oneshot::Sender<()>>,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Master {
    pub async fn start(work_dir: &std::path::Path, extra: &[&str]) -> Result<Master> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let mut args = vec![
            "test",
            "--work_dir",
            work_dir.to_str().context("utf-8 path")?,
        ];
        args.extend_from_slice(extra);
        let flags = parse_flags(&args);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(drover_master::run_on(listener, flags, async move {
            let _ = stopped.await;
        }));
        let master = Master {
            url: format!("http://127.0.0.1:{port}"),
            stop: Some(stop),
            task,
        };
        let client = Client::new();
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            if let Ok(r) = client.get(&format!("{}/health", master.url), &[]).await
                && r.status == 200
            {
                return Ok(master);
            }
            if tokio::time::Instant::now() > deadline {
                bail!("master did not become healthy");
            }
            tokio::task::yield_now().await;
        }
    }

    pub async fn stop(mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.await??;
        Ok(())
    }
}

pub fn parse_flags(args: &[&str]) -> drover_master::Flags {
    use clap::{Args, FromArgMatches};
    let command = drover_master::Flags::augment_args(clap::Command::new("test"));
    let matches = command.get_matches_from(args);
    drover_master::Flags::from_arg_matches(&matches).expect("flags parse")
}

/// A framework speaking JSON over HTTP.
pub struct Framework {
    pub url: String,
    pub client: Client,
    pub id: String,
    pub stream_id: String,
    pub events: RecordStream,
    pub seen: Vec<Value>,
}

pub const JSON: &[(&str, &str)] = &[("Content-Type", "application/json")];

impl Framework {
    pub async fn subscribe(master: &str, info: Value) -> Result<Framework> {
        let url = format!("{master}/api/v1/scheduler");
        let client = Client::new();
        let mut call = json!({"type": "SUBSCRIBE", "subscribe": {"framework_info": info}});
        if let Some(id) = info.get("id") {
            call["framework_id"] = id.clone();
        }
        let mut response = client
            .post_stream(
                &url,
                &[
                    ("Content-Type", "application/json"),
                    ("Accept", "application/json"),
                    ("Connection", "close"),
                ],
                call.to_string().into(),
                1 << 20,
            )
            .await?;
        assert_eq!(
            response.header("content-type").as_deref(),
            Some("application/json")
        );
        let stream_id = response
            .header("Mesos-Stream-Id")
            .context("Mesos-Stream-Id")?;
        assert_eq!(stream_id.len(), 36);
        let first = next_json(&mut response.records).await?;
        if first["type"] == "ERROR" {
            bail!("subscription refused: {first}");
        }
        assert_eq!(first["type"], "SUBSCRIBED", "{first}");
        let id = first["subscribed"]["framework_id"]["value"]
            .as_str()
            .context("id")?
            .to_owned();
        assert_eq!(first["subscribed"]["heartbeat_interval_seconds"], 15.0);
        let second = next_json(&mut response.records).await?;
        assert_eq!(second["type"], "HEARTBEAT");
        Ok(Framework {
            url,
            client,
            id,
            stream_id,
            events: response.records,
            seen: Vec::new(),
        })
    }

    pub async fn call(&self, mut call: Value) -> Result<(u16, String)> {
        call["framework_id"] = json!({"value": self.id});
        let r = self
            .client
            .post(
                &self.url,
                &[
                    ("Content-Type", "application/json"),
                    ("Mesos-Stream-Id", &self.stream_id),
                ],
                call.to_string().into(),
            )
            .await?;
        Ok((r.status.as_u16(), r.text()))
    }

    /// The next event of `kind`; other events are kept for later calls (heartbeats dropped).
    pub async fn next(&mut self, kind: &str) -> Result<Value> {
        next_of(&mut self.events, &mut self.seen, kind).await
    }
}

pub async fn next_of(
    events: &mut RecordStream,
    seen: &mut Vec<Value>,
    kind: &str,
) -> Result<Value> {
    if let Some(i) = seen.iter().position(|e| e["type"] == kind) {
        return Ok(seen.remove(i));
    }
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let event = tokio::time::timeout_at(deadline, next_json(events))
            .await
            .with_context(|| format!("timed out waiting for {kind}"))??;
        if event["type"] == kind {
            return Ok(event);
        }
        if event["type"] != "HEARTBEAT" {
            seen.push(event);
        }
    }
}

pub async fn next_json(records: &mut RecordStream) -> Result<Value> {
    let record = tokio::time::timeout(DEADLINE, records.next())
        .await
        .context("timed out waiting for an event")?
        .context("stream ended")??;
    assert!(record.is_ascii(), "events are ASCII-safe JSON");
    assert!(!record.contains(&b'\n'), "events are compact");
    Ok(serde_json::from_slice(&record)?)
}

/// A scripted agent speaking the internal protocol (JSON).
pub struct Agent {
    pub url: String,
    pub client: Client,
    pub id: String,
    pub stream_id: String,
    pub events: RecordStream,
    pub seen: Vec<Value>,
}

impl Agent {
    pub async fn open(master: &str, call: Value) -> Result<(Agent, Value)> {
        let url = format!("{master}/drover/internal/agent");
        let client = Client::new();
        let mut response = client
            .post_stream(&url, JSON, call.to_string().into(), 1 << 20)
            .await?;
        let stream_id = response.header("Mesos-Stream-Id").context("stream id")?;
        let first = next_json(&mut response.records).await?;
        let id = first["registered"]["agent_id"]["value"]
            .as_str()
            .or_else(|| first["reregistered"]["agent_id"]["value"].as_str())
            .unwrap_or_default()
            .to_owned();
        Ok((
            Agent {
                url,
                client,
                id,
                stream_id,
                events: response.records,
                seen: Vec::new(),
            },
            first,
        ))
    }

    pub async fn register(master: &str) -> Result<Agent> {
        let call = json!({"type": "REGISTER", "register": {"agent_info": agent_info(None), "version": "1.11.0"}});
        let (agent, first) = Agent::open(master, call).await?;
        assert_eq!(first["type"], "REGISTERED", "{first}");
        Ok(agent)
    }

    pub async fn reregister(master: &str, id: &str, tasks: Value) -> Result<(Agent, Value)> {
        let call = json!({"type": "REREGISTER", "agent_id": {"value": id}, "reregister": {"agent_info": agent_info(Some(id)), "version": "1.11.0", "tasks": tasks}});
        Agent::open(master, call).await
    }

    pub async fn call(&self, mut call: Value) -> Result<u16> {
        call["agent_id"] = json!({"value": self.id});
        let r = self
            .client
            .post(
                &self.url,
                &[
                    ("Content-Type", "application/json"),
                    ("Mesos-Stream-Id", &self.stream_id),
                ],
                call.to_string().into(),
            )
            .await?;
        Ok(r.status.as_u16())
    }

    pub async fn next(&mut self, kind: &str) -> Result<Value> {
        next_of(&mut self.events, &mut self.seen, kind).await
    }

    pub async fn update(
        &self,
        framework_id: &str,
        task_id: &str,
        state: &str,
        uuid_b64: &str,
    ) -> Result<u16> {
        self.call(json!({
            "type": "STATUS_UPDATE",
            "status_update": {
                "framework_id": {"value": framework_id},
                "status": {"task_id": {"value": task_id}, "state": state, "source": "SOURCE_EXECUTOR", "uuid": uuid_b64},
                "latest_state": state
            }
        }))
        .await
    }
}

pub fn agent_info(id: Option<&str>) -> Value {
    let mut info = json!({
        "hostname": "localhost",
        "port": 5051,
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 4.0}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": 4096.0}},
            {"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 31000, "end": 31010}]}}
        ]
    });
    if let Some(id) = id {
        info["id"] = json!({"value": id});
    }
    info
}

pub fn framework_info(pa: bool) -> Value {
    let mut caps = vec![json!({"type": "MULTI_ROLE"})];
    if pa {
        caps.push(json!({"type": "PARTITION_AWARE"}));
    }
    json!({"user": "root", "name": "http-test", "failover_timeout": 3600.0, "checkpoint": true, "roles": ["*"], "capabilities": caps})
}

pub fn launch(offer: &Value, task_id: &str, cpus: f64) -> Value {
    json!({
        "type": "ACCEPT",
        "accept": {
            "offer_ids": [offer["id"]],
            "operations": [{"type": "LAUNCH", "launch": {"task_infos": [{
                "name": task_id,
                "task_id": {"value": task_id},
                "agent_id": offer["agent_id"],
                "resources": [
                    {"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}, "allocation_info": {"role": "*"}},
                    {"name": "mem", "type": "SCALAR", "scalar": {"value": 64.0}, "allocation_info": {"role": "*"}}
                ],
                "command": {"value": "sleep 100"}
            }]}}],
            "filters": {"refuse_seconds": 0.0}
        }
    })
}
/// Launches a task through HTTP and runs it on the scripted agent: (framework, agent).
pub async fn running(master: &Master, pa: bool, task_id: &str) -> Result<(Framework, Agent)> {
    let mut agent = Agent::register(&master.url).await?;
    let mut fw = Framework::subscribe(&master.url, framework_info(pa)).await?;
    let offers = fw.next("OFFERS").await?;
    let offer = offers["offers"]["offers"][0].clone();
    assert_eq!(offer["agent_id"]["value"], agent.id.as_str());
    assert_eq!(fw.call(launch(&offer, task_id, 1.0)).await?.0, 202);
    let run = agent.next("RUN_TASK").await?;
    assert_eq!(run["run_task"]["task"]["task_id"]["value"], task_id);
    assert_eq!(
        agent
            .update(&fw.id, task_id, "TASK_RUNNING", "AAAAAAAAAAAAAAAAAAAAAA==")
            .await?,
        202
    );
    let update = fw.next("UPDATE").await?;
    let status = &update["update"]["status"];
    assert_eq!(status["state"], "TASK_RUNNING");
    assert_eq!(status["uuid"], "AAAAAAAAAAAAAAAAAAAAAA==");
    assert_eq!(
        status["agent_id"]["value"],
        agent.id.as_str(),
        "reliable updates carry agent_id"
    );
    let ack = json!({"type": "ACKNOWLEDGE", "acknowledge": {"agent_id": status["agent_id"], "task_id": status["task_id"], "uuid": status["uuid"]}});
    assert_eq!(fw.call(ack).await?.0, 202);
    let acked = agent.next("ACKNOWLEDGE").await?;
    assert_eq!(acked["acknowledge"]["task_id"]["value"], task_id);
    Ok((fw, agent))
}
