//! Issue 12, the master's wire compatibility as real clients see it: one RecordIO record per
//! HTTP chunk, trailing slashes, `/master/tasks`' query parsed as Mesos parses it, the legacy
//! endpoints monitoring tools read, and scalars beyond Mesos' fixed point refused.

use crate::support;

use std::io::{BufRead, BufReader, Write};

use anyhow::{Context, Result, bail};
use drover_http::Client;
use serde_json::{Value, json};
use support::*;

async fn get_json(url: &str) -> Result<(u16, Value)> {
    let r = Client::new().get(url, &[]).await?;
    let status = r.status.as_u16();
    let value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    Ok((status, value))
}

/// Reads `count` HTTP chunks of a chunked response after its headers, raw from the socket.
fn read_chunks(reader: &mut impl BufRead, count: usize) -> Result<Vec<Vec<u8>>> {
    let mut line = String::new();
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        if line.is_empty() {
            bail!("connection closed in the headers");
        }
        if line == "\r\n" {
            break;
        }
        if line.to_ascii_lowercase().starts_with("transfer-encoding") {
            assert!(line.to_ascii_lowercase().contains("chunked"), "{line}");
        }
    }
    let mut chunks = Vec::new();
    while chunks.len() < count {
        line.clear();
        reader.read_line(&mut line)?;
        let size = usize::from_str_radix(line.trim_end(), 16)
            .with_context(|| format!("chunk size line {line:?}"))?;
        if size == 0 {
            bail!("the stream ended after {} chunks", chunks.len());
        }
        let mut data = vec![0; size + 2];
        reader.read_exact(&mut data)?;
        assert_eq!(&data[size..], b"\r\n", "chunk framing");
        data.truncate(size);
        chunks.push(data);
    }
    Ok(chunks)
}

/// The RecordIO records a chunk holds (whole records only; a partial one is an error).
fn records_in(chunk: &[u8]) -> Result<Vec<Value>> {
    let mut records = Vec::new();
    let mut rest = chunk;
    while !rest.is_empty() {
        let newline = rest
            .iter()
            .position(|b| *b == b'\n')
            .context("length line")?;
        let length: usize = std::str::from_utf8(&rest[..newline])?.parse()?;
        let end = newline + 1 + length;
        if rest.len() < end {
            bail!("a record is split across chunks");
        }
        records.push(serde_json::from_slice(&rest[newline + 1..end])?);
        rest = &rest[end..];
    }
    Ok(records)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_event_of_a_subscription_is_its_own_http_chunk() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let master = Master::start(dir.path(), &[]).await?;
    let _agent = Agent::register(&master.url).await?;
    let address = master.url.trim_start_matches("http://").to_owned();
    let chunks = tokio::task::spawn_blocking(move || -> Result<Vec<Vec<u8>>> {
        let mut stream = std::net::TcpStream::connect(&address)?;
        stream.set_read_timeout(Some(DEADLINE))?;
        let body = json!({"type": "SUBSCRIBE", "subscribe": {"framework_info": framework_info(false)}})
            .to_string();
        write!(
            stream,
            "POST /api/v1/scheduler HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
             Accept: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )?;
        // SUBSCRIBED and the first HEARTBEAT are queued together; OFFERS follows at once.
        read_chunks(&mut BufReader::new(stream), 3)
    })
    .await??;
    let mut kinds = Vec::new();
    for chunk in &chunks {
        let records = records_in(chunk)?;
        assert_eq!(
            records.len(),
            1,
            "one record per chunk, got {}",
            String::from_utf8_lossy(chunk)
        );
        kinds.push(records[0]["type"].as_str().unwrap_or_default().to_owned());
    }
    assert_eq!(kinds, ["SUBSCRIBED", "HEARTBEAT", "OFFERS"]);
    master.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collection_paths_ignore_trailing_slashes() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let master = Master::start(dir.path(), &[]).await?;
    let (fw, agent) = running(&master, false, "web").await?;
    // Mesos 1.x's filters of the collections.
    for (path, key, count) in [
        (
            format!("/master/frameworks?framework_id={}", fw.id),
            "frameworks",
            1,
        ),
        (
            "/master/frameworks?framework_id=nosuch".into(),
            "frameworks",
            0,
        ),
        (format!("/master/slaves?slave_id={}", agent.id), "slaves", 1),
        ("/slaves/?slave_id=nosuch".into(), "slaves", 0),
    ] {
        let (status, body) = get_json(&format!("{}{path}", master.url)).await?;
        assert_eq!(status, 200, "{path}");
        assert_eq!(
            body[key].as_array().map(Vec::len),
            Some(count),
            "{path}: {body}"
        );
    }
    for (path, key) in [
        ("/master/frameworks/", "frameworks"),
        ("/frameworks/", "frameworks"),
        ("/master/state/", "frameworks"),
        ("/state.json/", "slaves"),
        ("/master/slaves/", "slaves"),
        ("/slaves/", "slaves"),
        ("/master/tasks/?limit=5", "tasks"),
        ("/master/tasks//", "tasks"),
    ] {
        let (status, body) = get_json(&format!("{}{path}", master.url)).await?;
        assert_eq!(status, 200, "{path}");
        assert_eq!(
            body[key].as_array().map(Vec::len),
            Some(1),
            "{path}: {body}"
        );
    }
    let (status, _) = get_json(&format!("{}/master/nosuch/", master.url)).await?;
    assert_eq!(status, 404);
    master.stop().await
}

/// Waits until the wall clock's millisecond moves on, so the next task's first status is
/// strictly later than the last one's.
async fn next_millisecond() {
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default()
    };
    let start = now();
    while now() <= start + 1 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_query_is_parsed_as_mesos_parses_it() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let master = Master::start(dir.path(), &[]).await?;
    let (mut fw, mut agent) = running(&master, false, "t1").await?;
    // Mesos sorts on each task's first status' time; each task's first status here comes a
    // millisecond after the previous one's.
    for (id, uuid) in [
        ("t2", "AQAAAAAAAAAAAAAAAAAAAA=="),
        ("t3", "AgAAAAAAAAAAAAAAAAAAAA=="),
    ] {
        let offer = fw.next("OFFERS").await?["offers"]["offers"][0].clone();
        assert_eq!(fw.call(launch(&offer, id, 0.5)).await?.0, 202);
        agent.next("RUN_TASK").await?;
        next_millisecond().await;
        assert_eq!(agent.update(&fw.id, id, "TASK_RUNNING", uuid).await?, 202);
        fw.next("UPDATE").await?;
    }
    let ids = |body: &Value| -> Vec<String> {
        body["tasks"]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|t| t["id"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let (_, body) = get_json(&format!("{}/master/tasks?order=asc", master.url)).await?;
        if ids(&body).len() == 3 {
            break;
        }
        if tokio::time::Instant::now() > deadline {
            bail!("three tasks never showed: {body}");
        }
        tokio::task::yield_now().await;
    }
    let newest_first = ["t3", "t2", "t1"];
    let oldest_first = ["t1", "t2", "t3"];
    for (query, expected) in [
        // Mesos' default order is descending; only `asc` ascends.
        ("", &newest_first[..]),
        ("?order=asc", &oldest_first[..]),
        ("?order=desc", &newest_first[..]),
        ("?order=sideways", &newest_first[..]),
        // limit: an int cast to size_t, so -1 is no limit; malformed is the default (100).
        ("?limit=-1&order=asc", &oldest_first[..]),
        ("?limit=abc", &newest_first[..]),
        ("?limit=99999999999", &newest_first[..]),
        ("?limit=1.5", &newest_first[..]),
        ("?limit=1", &newest_first[..1]),
        ("?limit=2&offset=1&order=asc", &oldest_first[1..]),
        // offset: -1 wraps to a huge offset (nothing); malformed is 0.
        ("?offset=-1", &[][..]),
        ("?offset=x", &newest_first[..]),
        ("?framework_id=nosuch", &[][..]),
        ("?task_id=t2", &["t2"][..]),
    ] {
        for path in ["/master/tasks", "/master/tasks.json", "/tasks"] {
            let (status, body) = get_json(&format!("{}{path}{query}", master.url)).await?;
            assert_eq!(status, 200, "{path}{query}");
            assert_eq!(ids(&body), expected, "{path}{query}");
        }
    }
    master.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_summary_teardown_and_files_on_the_master() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let master = Master::start(dir.path(), &[]).await?;
    let (fw, agent) = running(&master, false, "web").await?;
    for path in ["/master/state-summary", "/state-summary"] {
        let (status, summary) = get_json(&format!("{}{path}", master.url)).await?;
        assert_eq!(status, 200);
        let slave = &summary["slaves"][0];
        assert_eq!(slave["id"], agent.id.as_str());
        assert_eq!(slave["TASK_RUNNING"], 1, "{summary}");
        assert_eq!(slave["TASK_FINISHED"], 0);
        assert_eq!(slave["framework_ids"], json!([fw.id]));
        assert_eq!(slave["resources"]["cpus"], 4.0);
        assert_eq!(slave["used_resources"]["cpus"], 1.0);
        let framework = &summary["frameworks"][0];
        assert_eq!(framework["id"], fw.id.as_str());
        assert_eq!(framework["TASK_RUNNING"], 1);
        assert_eq!(framework["slave_ids"], json!([agent.id]));
        assert_eq!(framework["used_resources"]["cpus"], 1.0);
    }
    // Files: without --log_dir nothing is attached on the master, and it says why.
    let r = Client::new()
        .get(
            &format!("{}/files/read?path=/master/log&offset=0", master.url),
            &[],
        )
        .await?;
    assert_eq!(r.status, 404);
    assert!(r.text().contains("--log_dir"), "{}", r.text());
    let (status, debug) = get_json(&format!("{}/files/debug", master.url)).await?;
    assert_eq!((status, debug), (200, json!({})));
    // Teardown takes Mesos' form body.
    let client = Client::new();
    let form = &[("Content-Type", "application/x-www-form-urlencoded")];
    let teardown = format!("{}/master/teardown", master.url);
    let r = client.post(&teardown, form, "nothing=here".into()).await?;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("frameworkId"), "{}", r.text());
    let r = client
        .post(&teardown, form, "frameworkId=nosuch".into())
        .await?;
    assert_eq!(r.status, 400);
    let r = client.get(&teardown, &[]).await?;
    assert_eq!(r.status, 405);
    let r = client
        .post(&teardown, form, format!("frameworkId={}", fw.id).into())
        .await?;
    assert_eq!(r.status, 200, "{}", r.text());
    let (_, frameworks) = get_json(&format!("{}/master/frameworks", master.url)).await?;
    assert_eq!(frameworks["frameworks"], json!([]));
    assert_eq!(frameworks["completed_frameworks"][0]["id"], fw.id.as_str());
    master.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scalar_beyond_mesos_fixed_point_is_a_task_error() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let master = Master::start(dir.path(), &[]).await?;
    let _agent = Agent::register(&master.url).await?;
    let mut fw = Framework::subscribe(&master.url, framework_info(false)).await?;
    let offer = fw.next("OFFERS").await?["offers"]["offers"][0].clone();
    let mut call = launch(&offer, "huge", 1.0);
    call["accept"]["operations"][0]["launch"]["task_infos"][0]["resources"][1]["scalar"]["value"] =
        json!(1e308);
    assert_eq!(fw.call(call).await?.0, 202);
    let status = fw.next("UPDATE").await?["update"]["status"].clone();
    assert_eq!(
        (status["state"].as_str(), status["reason"].as_str()),
        (Some("TASK_ERROR"), Some("REASON_TASK_INVALID")),
        "{status}"
    );
    assert!(
        status["message"]
            .as_str()
            .unwrap_or_default()
            .contains("mem"),
        "{status}"
    );
    // Nothing was taken from the agent.
    let (_, state) = get_json(&format!("{}/master/slaves", master.url)).await?;
    assert_eq!(state["slaves"][0]["used_resources"]["mem"], 0.0, "{state}");
    master.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_lists_executors_in_mesos_shape_until_they_exit() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let master = Master::start(dir.path(), &[]).await?;
    let mut agent = Agent::register(&master.url).await?;
    let mut fw = Framework::subscribe(&master.url, framework_info(false)).await?;
    let offer = fw.next("OFFERS").await?["offers"]["offers"][0].clone();
    let mut call = launch(&offer, "t1", 1.0);
    let task = &mut call["accept"]["operations"][0]["launch"]["task_infos"][0];
    task.as_object_mut().context("task")?.remove("command");
    task["executor"] = json!({
        "executor_id": {"value": "ex1"},
        "framework_id": {"value": fw.id},
        "name": "my executor",
        "command": {"value": "./my-executor", "uris": [{"value": "http://example.invalid/e.tgz"}]},
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.25}, "allocation_info": {"role": "*"}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": 32.0}, "allocation_info": {"role": "*"}}
        ]
    });
    assert_eq!(fw.call(call).await?.0, 202);
    agent.next("RUN_TASK").await?;
    let (_, state) = get_json(&format!("{}/master/state", master.url)).await?;
    let executors = &state["frameworks"][0]["executors"];
    assert_eq!(
        executors,
        &json!([{
            "executor_id": "ex1",
            "name": "my executor",
            "framework_id": fw.id,
            "command": {
                "value": "./my-executor",
                "argv": [],
                "uris": [{"value": "http://example.invalid/e.tgz", "executable": false}]
            },
            "resources": {"cpus": 0.25, "disk": 0.0, "gpus": 0.0, "mem": 32.0},
            "slave_id": agent.id,
        }]),
        "{state}"
    );
    // The agent reports the executor gone: it leaves the list, and the framework hears.
    let exited = json!({"type": "EXECUTOR_EXITED", "executor_exited": {
        "framework_id": {"value": fw.id}, "executor_id": {"value": "ex1"}, "status": 0}});
    assert_eq!(agent.call(exited).await?, 202);
    let failure = fw.next("FAILURE").await?;
    assert_eq!(failure["failure"]["executor_id"]["value"], "ex1");
    let (_, state) = get_json(&format!("{}/master/state", master.url)).await?;
    assert_eq!(state["frameworks"][0]["executors"], json!([]), "{state}");
    master.stop().await
}
