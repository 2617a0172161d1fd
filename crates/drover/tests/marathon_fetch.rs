//! Marathon's `fetch` and legacy `uris` end to end: `drover marathon`, `drover master` and a
//! real agent; the agent's fetcher downloads the artifact from a loopback HTTP server the test
//! runs, and the app's `cmd`, which needs the artifact, runs.

use crate::support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use serde_json::json;
use support::Cluster;

/// Serves the files of `root` over HTTP/1.0 on loopback and logs each requested path.
struct StaticServer {
    port: u16,
    log: Arc<Mutex<Vec<String>>>,
}

impl StaticServer {
    fn start(root: PathBuf) -> StaticServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let requests = log.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                // Skip the headers.
                let mut header = String::new();
                while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                    header.clear();
                }
                let path = line
                    .split(' ')
                    .nth(1)
                    .unwrap_or("/")
                    .trim_start_matches('/');
                requests.lock().unwrap().push(path.to_owned());
                let mut stream = stream;
                match std::fs::read(root.join(path)) {
                    Ok(body) if !path.contains("..") => {
                        let head = format!(
                            "HTTP/1.0 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = stream.write_all(head.as_bytes());
                        let _ = stream.write_all(&body);
                    }
                    _ => {
                        let _ = stream.write_all(
                            b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                        );
                    }
                }
            }
        });
        StaticServer { port, log }
    }

    fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/{name}", self.port)
    }

    fn requests(&self, name: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|p| *p == name)
            .count()
    }
}

/// The content of every sandbox `stdout` under `dir`.
fn stdouts(dir: &Path) -> String {
    let mut out = String::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n == "stdout") {
                out.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
            }
        }
    }
    out
}

#[test]
fn apps_whose_cmd_needs_the_fetched_artifact_run() {
    let files = tempfile::tempdir().unwrap();
    let app_dir = files.path().join("build/app");
    std::fs::create_dir_all(&app_dir).unwrap();
    std::fs::write(
        app_dir.join("run.sh"),
        "#!/bin/sh\necho \"fetched-$(cat app/greeting)\"\nexec sleep 600\n",
    )
    .unwrap();
    std::fs::write(app_dir.join("greeting"), "from-tgz").unwrap();
    let status = Command::new("chmod")
        .arg("755")
        .arg(app_dir.join("run.sh"))
        .status()
        .unwrap();
    assert!(status.success());
    let status = Command::new("tar")
        .arg("czf")
        .arg(files.path().join("app.tgz"))
        .arg("-C")
        .arg(files.path().join("build"))
        .arg("app")
        .status()
        .unwrap();
    assert!(status.success(), "tar czf");
    std::fs::write(
        files.path().join("legacy.sh"),
        "echo legacy-uris-fetched\nexec sleep 600\n",
    )
    .unwrap();
    let server = StaticServer::start(files.path().to_path_buf());

    let cluster = Cluster::start(true);
    // An unknown scheme is refused at validation, naming the field.
    let (status, body) = cluster.marathon_request(
        "POST",
        "/v2/apps",
        Some(&json!({"id": "/hdfs", "cmd": "true", "fetch": [{"uri": "hdfs://nn/app.tgz"}]})),
    );
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("/fetch(0)/uri"), "{body}");
    assert!(
        body.to_string().contains("unsupported URI scheme 'hdfs'"),
        "{body}"
    );

    let fetch_app = json!({
        "id": "/fetched", "cmd": "./app/run.sh", "cpus": 0.1, "mem": 32, "instances": 1,
        "fetch": [{"uri": server.url("app.tgz"), "extract": true, "cache": true}]
    });
    let (status, body) = cluster.marathon_request("POST", "/v2/apps", Some(&fetch_app));
    assert_eq!(status, 201, "{body}");
    let legacy_app = json!({
        "id": "/legacy", "cmd": "sh legacy.sh", "cpus": 0.1, "mem": 32, "instances": 1,
        "uris": [server.url("legacy.sh")]
    });
    let (status, body) = cluster.marathon_request("POST", "/v2/apps", Some(&legacy_app));
    assert_eq!(status, 201, "{body}");

    let agent_dir = cluster.dir.path().join("agent");
    cluster.wait_for("both apps' commands ran with their artifacts", || {
        let out = stdouts(&agent_dir);
        out.contains("fetched-from-tgz") && out.contains("legacy-uris-fetched")
    });
    for app in ["fetched", "legacy"] {
        cluster.wait_for(&format!("/{app} running"), || {
            cluster.marathon_json(&format!("/v2/apps/{app}"))["app"]["tasksRunning"] == 1
        });
    }
    assert_eq!(server.requests("app.tgz"), 1);
    assert_eq!(server.requests("legacy.sh"), 1);
    let app = cluster.marathon_json("/v2/apps/fetched")["app"].clone();
    assert_eq!(app["fetch"][0]["uri"], server.url("app.tgz"), "{app}");
    assert_eq!(app["fetch"][0]["cache"], true, "{app}");
}
