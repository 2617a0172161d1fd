//! The fetcher on the launch path: the built `drover agent` fetches a task's URIs into its
//! sandbox before the executor starts, serves later launches from its cache, and fails a
//! launch whose fetch fails with TASK_FAILED / REASON_CONTAINER_LAUNCH_FAILED naming the URI.

use crate::fetch_server;
use crate::support;

use drover_wire::v1;
use drover_wire::v1::TaskState;
use fetch_server::*;
use support::*;

fn task_with_uris(id: &str, command: &str, uris: Vec<v1::command_info::Uri>) -> v1::TaskInfo {
    let mut task = shell_task(id, command, 64.0);
    task.command.as_mut().unwrap().uris = uris;
    task
}

fn uri(value: String, cache: bool) -> v1::command_info::Uri {
    v1::command_info::Uri {
        value,
        cache: Some(cache),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetched_artifact_is_in_the_sandbox_and_cached() {
    let server = FileServer::start().await;
    let script: &[u8] = b"#!/bin/sh\necho \"artifact says $(cat app/greeting)\"\n";
    let files: &[(&str, &[u8], u32)] = &[
        ("app/run.sh", script, 0o755),
        ("app/greeting", b"hello-fetcher", 0o644),
    ];
    server.put("app.tgz", gzip(&tar_of(files, &[])));
    let master = FakeMaster::start(true).await;
    let agent = AgentProcess::start(&master, &[]);
    master
        .wait_for("registration", LONG, |m| m.has_session())
        .await;
    let framework = framework("fw", false, false);
    for id in ["first", "second"] {
        master
            .run_task(
                &framework,
                task_with_uris(id, "./app/run.sh", vec![uri(server.url("app.tgz"), true)]),
            )
            .await;
        master.wait_state(id, TaskState::TaskFinished, LONG).await;
        let sandbox = agent.sandbox(id).unwrap();
        let stdout = std::fs::read_to_string(sandbox.join("stdout")).unwrap();
        assert!(
            stdout.contains("artifact says hello-fetcher"),
            "{id}: {stdout}"
        );
        let stderr = std::fs::read_to_string(sandbox.join("stderr")).unwrap();
        assert!(
            stderr.contains(&format!("Fetching URI '{}'", server.url("app.tgz"))),
            "{stderr}"
        );
    }
    assert_eq!(
        server.requests("app.tgz"),
        1,
        "the second launch used the cache"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_fetch_is_container_launch_failed_naming_the_uri() {
    let server = FileServer::start().await;
    let master = FakeMaster::start(true).await;
    let agent = AgentProcess::start(&master, &[]);
    master
        .wait_for("registration", LONG, |m| m.has_session())
        .await;
    let framework = framework("fw", false, false);
    let missing = server.url("missing.tar.gz");
    master
        .run_task(
            &framework,
            task_with_uris("404", "true", vec![uri(missing.clone(), false)]),
        )
        .await;
    let failed = master.wait_state("404", TaskState::TaskFailed, LONG).await;
    assert_eq!(
        failed.reason,
        Some(v1::task_status::Reason::ContainerLaunchFailed as i32)
    );
    assert_eq!(failed.source, Some(v1::task_status::Source::Agent as i32));
    let message = failed.message.unwrap_or_default();
    assert!(
        message.contains(&format!("Failed to fetch '{missing}': HTTP 404")),
        "{message}"
    );
    // No executor ever ran for it: the sandbox has the fetcher's complaint and nothing else.
    let sandbox = agent.sandbox("404").unwrap();
    let stderr = std::fs::read_to_string(sandbox.join("stderr")).unwrap();
    assert!(stderr.contains("HTTP 404"), "{stderr}");

    // An unknown scheme is refused the same way, and the agent goes on launching tasks.
    master
        .run_task(
            &framework,
            task_with_uris("hdfs", "true", vec![uri("hdfs://nn/x".into(), false)]),
        )
        .await;
    let failed = master.wait_state("hdfs", TaskState::TaskFailed, LONG).await;
    assert_eq!(
        failed.reason,
        Some(v1::task_status::Reason::ContainerLaunchFailed as i32)
    );
    assert!(
        failed
            .message
            .unwrap_or_default()
            .contains("unsupported URI scheme 'hdfs'")
    );
    master
        .run_task(&framework, shell_task("after", "true", 64.0))
        .await;
    master
        .wait_state("after", TaskState::TaskFinished, LONG)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_during_a_fetch_cancels_the_download() {
    // A server that accepts the request and never answers: the fetch hangs until killed.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (accepted_tx, mut accepted) = tokio::sync::mpsc::channel(1);
    let (closed_tx, mut closed) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        let (mut conn, _) = listener.accept().await.unwrap();
        let _ = accepted_tx.send(()).await;
        let mut buf = [0u8; 4096];
        // Read until the client goes away (EOF or reset).
        while matches!(conn.read(&mut buf).await, Ok(n) if n > 0) {}
        let _ = closed_tx.send(()).await;
    });
    let master = FakeMaster::start(true).await;
    let agent = AgentProcess::start(&master, &[]);
    master
        .wait_for("registration", LONG, |m| m.has_session())
        .await;
    let framework = framework("fw", false, false);
    let url = format!("http://127.0.0.1:{port}/slow.bin");
    master
        .run_task(
            &framework,
            task_with_uris("slow", "true", vec![uri(url, false)]),
        )
        .await;
    tokio::time::timeout(LONG, accepted.recv())
        .await
        .expect("the fetch started");
    master.kill_task("fw", "slow", None).await;
    master.wait_state("slow", TaskState::TaskKilled, LONG).await;
    tokio::time::timeout(LONG, closed.recv())
        .await
        .expect("the download was cancelled, not left to run to --fetcher_timeout");
    // The executor never started: its sandbox holds only the fetcher's report.
    let sandbox = agent.sandbox("slow").unwrap();
    let stderr = std::fs::read_to_string(sandbox.join("stderr")).unwrap();
    assert!(stderr.contains("killed while fetching"), "{stderr}");
    assert!(
        !master
            .updates()
            .iter()
            .any(|s| s.task_id.value == "slow" && s.state == TaskState::TaskRunning as i32)
    );
}
