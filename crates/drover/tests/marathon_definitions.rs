//! Issue 15's set of real Marathon definitions, run as written against real processes
//! (`drover master`, `drover agent`, `drover marathon`). Each definition is a JSON file under
//! `tests/definitions/`, posted exactly as stored; `tests/definitions/index.json` names where
//! each comes from (mesosphere/marathon's docs, examples and system tests, Apache-2.0) and
//! every change made to it, with the reason.
//!
//! * plain commands, with fetch: `basic-0` to `basic-4` of `application-basics.md`,
//!   their artifacts served by a loopback HTTP server this file runs (no internet here);
//! * a COMMAND health check using `ps`, on Marathon's system-test sleep app;
//! * a group with dependencies deployed in order: the old `examples/Group-1.json`;
//! * a readiness-gated rolling upgrade: the system tests' `readiness-and-health-app.json`;
//! * a resident app on a persistent volume keeping its data across a task kill and an agent
//!   restart: the system tests' `persistent-volume-app.json`, checked as their
//!   `test_app_with_persistent_volume_recovers` does, through the app's own HTTP server;
//! * a secret delivered as a file: `secrets.md`'s file-based example.

use crate::support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use support::{Cluster, Options};

/// The scheduler's `--mesos_role`, which `persistent-volume-app.json` names as its `role`.
const ROLE: &str = "definitions-role";

/// Where the stored fetch definitions point: a fixed loopback address and port (below the
/// range `support::free_port` hands out, on an address nothing else in the tests binds), so
/// the definitions can be posted exactly as stored.
const FETCH_ADDR: &str = "127.0.0.15:19015";

fn definitions_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/definitions")
}

/// A stored definition, exactly as in its file.
fn definition(name: &str) -> Value {
    let path = definitions_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Serves the files of `root` over HTTP/1.0 on `addr` and logs each requested path.
struct StaticServer {
    log: Arc<Mutex<Vec<String>>>,
}

impl StaticServer {
    fn start(addr: &str, root: PathBuf) -> StaticServer {
        let listener = TcpListener::bind(addr).unwrap_or_else(|e| {
            panic!("binding {addr}, the address the stored fetch definitions use: {e}")
        });
        let log = Arc::new(Mutex::new(Vec::new()));
        let requests = log.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let Ok(read_half) = stream.try_clone() else {
                    continue;
                };
                let mut reader = BufReader::new(read_half);
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let mut header = String::new();
                while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                    header.clear();
                }
                let path = line
                    .split(' ')
                    .nth(1)
                    .unwrap_or("/")
                    .trim_start_matches('/')
                    .to_owned();
                requests.lock().unwrap().push(path.clone());
                let mut stream = stream;
                match std::fs::read(root.join(&path)) {
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
        StaticServer { log }
    }

    fn requests(&self, path: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|p| *p == path)
            .count()
    }
}

/// Every file under `dir` whose path ends with `suffix` and contains `needle`.
fn files_under(dir: &Path, suffix: &str, needle: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                stack.push(path);
            } else if path.ends_with(suffix) && path.to_string_lossy().contains(needle) {
                out.push(path);
            }
        }
    }
    out
}

/// The content of the sandbox file `name` (`stdout`, `stderr`) of task `task_id`.
fn sandbox_file(cluster: &Cluster, task_id: &str, name: &str) -> String {
    files_under(&cluster.dir.path().join("agent"), name, task_id)
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap_or_default())
        .collect()
}

fn app(cluster: &Cluster, id: &str) -> Value {
    let (status, body) = cluster.marathon_request("GET", &format!("/v2/apps{id}"), None);
    if status == 200 {
        body["app"].clone()
    } else {
        Value::Null
    }
}

fn tasks(cluster: &Cluster, id: &str) -> Vec<Value> {
    let (status, body) = cluster.marathon_request("GET", &format!("/v2/apps{id}/tasks"), None);
    if status != 200 {
        return Vec::new();
    }
    body["tasks"].as_array().cloned().unwrap_or_default()
}

fn running_task_ids(cluster: &Cluster, id: &str) -> Vec<String> {
    tasks(cluster, id)
        .iter()
        .filter(|t| t["state"] == "TASK_RUNNING")
        .filter_map(|t| t["id"].as_str().map(str::to_owned))
        .collect()
}

fn no_deployments(cluster: &Cluster) -> bool {
    cluster
        .marathon_json("/v2/deployments")
        .as_array()
        .is_some_and(Vec::is_empty)
}

/// POSTs a stored definition as it is; panics unless 201.
fn post(cluster: &Cluster, path: &str, name: &str) -> Value {
    let (status, body) = cluster.marathon_request("POST", path, Some(&definition(name)));
    assert_eq!(status, 201, "POST {path} {name}: {body}");
    body
}

/// The master's view of every task: task id → its statuses (state, timestamp in seconds).
fn master_statuses(cluster: &Cluster) -> Vec<(String, Vec<(String, f64)>)> {
    let tasks = cluster.master_json("/master/tasks");
    tasks["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            let statuses = t["statuses"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| {
                    (
                        s["state"].as_str().unwrap_or_default().to_owned(),
                        s["timestamp"].as_f64().unwrap_or(f64::NAN),
                    )
                })
                .collect();
            (t["id"].as_str().unwrap_or_default().to_owned(), statuses)
        })
        .collect()
}

#[test]
fn every_definition_names_its_source_and_its_changes() {
    let index = definition("index.json");
    let entries = index["definitions"].as_object().expect("definitions");
    let mut files: Vec<String> = std::fs::read_dir(definitions_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json") && n != "index.json")
        .collect();
    files.sort();
    let mut indexed: Vec<String> = entries.keys().cloned().collect();
    indexed.sort();
    assert_eq!(files, indexed, "one index entry per definition file");
    for (file, entry) in entries {
        for field in ["repository", "commit", "path", "section", "changes"] {
            assert!(
                entry[field].as_str().is_some_and(|s| !s.is_empty()),
                "{file}: {field}"
            );
        }
        assert_eq!(entry["repository"], "mesosphere/marathon", "{file}");
        // Every definition parses and has an id.
        assert!(definition(file)["id"].is_string(), "{file}");
    }
}

/// `basic-0` to `basic-4` of `application-basics.md` (an inline shell loop; fetch: an executable
/// script, a zip archive extracted into the sandbox, the same archive through the fetcher
/// cache, a script stored under its `destPath`) and
/// the system tests' sleep app with a `ps`-based COMMAND health check, on one cluster.
#[test]
fn plain_commands_with_fetch_and_a_ps_command_health_check() {
    let files = tempfile::tempdir().unwrap();
    let root = files.path();
    std::fs::create_dir_all(root.join("app")).unwrap();
    // basic-1's cmd is "`./cool-script.sh`": the shell runs what the script prints.
    std::fs::write(
        root.join("app/cool-script.sh"),
        "#!/bin/sh\necho \"basic-1: cool-script.sh ran\" >&2\necho 'sleep 600'\n",
    )
    .unwrap();
    // basic-4 fetches some-script.sh as cool-script.sh.
    std::fs::write(
        root.join("some-script.sh"),
        "#!/bin/sh\necho \"basic-4: some-script.sh as cool-script.sh\"\nexec sleep 600\n",
    )
    .unwrap();
    // basic-2 and basic-3 run app/cool-script.sh out of app.zip.
    let zipped = root.join("zip-src/app");
    std::fs::create_dir_all(&zipped).unwrap();
    std::fs::write(
        zipped.join("cool-script.sh"),
        "#!/bin/sh\necho \"app/cool-script.sh from app.zip in $MESOS_TASK_ID\"\nexec sleep 600\n",
    )
    .unwrap();
    std::fs::set_permissions(
        zipped.join("cool-script.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let zip = Command::new("zip")
        .args(["-q", "-r"])
        .arg(root.join("app.zip"))
        .arg("app")
        .current_dir(root.join("zip-src"))
        .status()
        .expect("zip");
    assert!(zip.success(), "zip");
    let server = StaticServer::start(FETCH_ADDR, root.to_path_buf());

    let cluster = Cluster::start(true);
    for name in [
        "basic-0.json",
        "basic-1.json",
        "basic-2.json",
        "basic-3.json",
        "basic-4.json",
        "sleep-with-ps-health-check.json",
    ] {
        post(&cluster, "/v2/apps", name);
    }

    cluster.wait_for("the six apps running and their deployments done", || {
        [
            "/basic-0", "/basic-1", "/basic-2", "/basic-3", "/basic-4", "/sleep",
        ]
        .iter()
        .all(|id| app(&cluster, id)["tasksRunning"] == 1)
            && no_deployments(&cluster)
    });

    // basic-0: the inline shell loop prints.
    let [basic0] = running_task_ids(&cluster, "/basic-0").try_into().unwrap();
    cluster.wait_for("basic-0 said hello", || {
        sandbox_file(&cluster, &basic0, "stdout").contains("Hello Marathon")
    });

    // basic-4: some-script.sh stored under its destPath and run from there.
    let [basic4] = running_task_ids(&cluster, "/basic-4").try_into().unwrap();
    cluster.wait_for("basic-4 ran its script under the destPath name", || {
        sandbox_file(&cluster, &basic4, "stdout")
            .contains("basic-4: some-script.sh as cool-script.sh")
    });
    assert!(
        files_under(&cluster.dir.path().join("agent"), "some-script.sh", &basic4).is_empty(),
        "basic-4's artifact is only under its destPath"
    );
    assert_eq!(server.requests("some-script.sh"), 1);

    // basic-1: the script was fetched executable and the cmd ran it.
    let [basic1] = running_task_ids(&cluster, "/basic-1").try_into().unwrap();
    let scripts = files_under(&cluster.dir.path().join("agent"), "cool-script.sh", &basic1);
    assert_eq!(scripts.len(), 1, "{scripts:?}");
    let mode = std::fs::metadata(&scripts[0]).unwrap().permissions().mode();
    assert_eq!(mode & 0o111, 0o111, "executable for everyone: {mode:o}");
    cluster.wait_for("basic-1's script ran", || {
        sandbox_file(&cluster, &basic1, "stderr").contains("basic-1: cool-script.sh ran")
    });

    // basic-2 and basic-3: app.zip extracted into the sandbox, app/cool-script.sh ran.
    for id in ["/basic-2", "/basic-3"] {
        let [task] = running_task_ids(&cluster, id).try_into().unwrap();
        cluster.wait_for(&format!("{id} ran app/cool-script.sh"), || {
            sandbox_file(&cluster, &task, "stdout")
                .contains(&format!("app/cool-script.sh from app.zip in {task}"))
        });
        assert_eq!(
            files_under(
                &cluster.dir.path().join("agent"),
                "app/cool-script.sh",
                &task
            )
            .len(),
            1,
            "{id}: the archive extracted into the sandbox"
        );
    }
    assert_eq!(server.requests("app/cool-script.sh"), 1);
    // basic-2 downloads it into its sandbox, basic-3 into the fetcher cache: one each.
    assert_eq!(server.requests("app.zip"), 2);
    let shown = app(&cluster, "/basic-3");
    assert_eq!(shown["fetch"][0]["cache"], true, "{shown}");

    // The sleep app's `ps` COMMAND health check, run inside the task, passes.
    cluster.wait_for("/sleep healthy by its ps check", || {
        app(&cluster, "/sleep")["tasksHealthy"] == 1
    });
    let sleep = app(&cluster, "/sleep");
    assert_eq!(sleep["tasksUnhealthy"], 0, "{sleep}");
    let task = &tasks(&cluster, "/sleep")[0];
    assert_eq!(task["healthCheckResults"][0]["alive"], true, "{task}");
}

/// `examples/Group-1.json`: `/department-a` with the chain service-common ← service-a ←
/// service-b, two instances each. Each app's tasks start only after every task of what it
/// depends on runs (the master's own status timestamps).
#[test]
fn a_group_with_dependencies_deploys_in_order() {
    let cluster = Cluster::start(true);
    let body = post(&cluster, "/v2/groups", "group-department-a.json");
    assert!(body["deploymentId"].is_string(), "{body}");

    let chain = [
        "/department-a/service-common",
        "/department-a/product-a/service-a",
        "/department-a/product-a/service-b",
    ];
    cluster.wait_for(
        "every app of the group running, the deployment done",
        || {
            chain
                .iter()
                .all(|id| app(&cluster, id)["tasksRunning"] == 2)
                && no_deployments(&cluster)
        },
    );

    // Each task's `python3 -m http.server $PORT0` answers on its port.
    for id in chain {
        for task in tasks(&cluster, id) {
            let port = u16::try_from(task["ports"][0].as_u64().expect("a port")).unwrap();
            cluster.wait_for(&format!("{id} serving on {port}"), || {
                support::http_get(port, "/").is_some_and(|(status, _)| status == 200)
            });
        }
    }

    let statuses = master_statuses(&cluster);
    let times = |id: &str| -> Vec<Vec<(String, f64)>> {
        let ids = running_task_ids(&cluster, id);
        assert_eq!(ids.len(), 2, "{id}");
        ids.iter()
            .map(|task| {
                statuses
                    .iter()
                    .find(|(t, _)| t == task)
                    .unwrap_or_else(|| panic!("{task} unknown to the master"))
                    .1
                    .clone()
            })
            .collect()
    };
    for pair in chain.windows(2) {
        let (dependency, dependent) = (pair[0], pair[1]);
        let last_running = times(dependency)
            .iter()
            .map(|s| {
                s.iter()
                    .find(|(state, _)| state == "TASK_RUNNING")
                    .map(|(_, ts)| *ts)
                    .unwrap_or_else(|| panic!("{dependency}: no TASK_RUNNING in {s:?}"))
            })
            .fold(f64::MIN, f64::max);
        let first_status = times(dependent)
            .iter()
            .map(|s| s.first().map(|(_, ts)| *ts).expect("a status"))
            .fold(f64::MAX, f64::min);
        assert!(
            first_status >= last_running,
            "{dependent} started at {first_status} before every task of {dependency} ran \
             (the last at {last_running})"
        );
    }

    let tree = cluster.marathon_json("/v2/groups/department-a");
    assert_eq!(tree["groups"][0]["id"], "/department-a/product-a", "{tree}");
    assert_eq!(
        tree["groups"][0]["apps"]
            .as_array()
            .map(|apps| apps.iter().map(|a| a["dependencies"].clone()).collect()),
        Some(vec![
            serde_json::json!(["/department-a/service-common"]),
            serde_json::json!(["/department-a/product-a/service-a"]),
        ]),
        "{tree}"
    );
}

/// The system tests' `readiness-and-health-app.json`: its deployment ends once the task is
/// ready and healthy; then an upgrade with Marathon's default upgrade strategy keeps the old
/// task running while the new one runs but is not yet ready, and replaces it afterwards.
#[test]
fn a_readiness_gated_rolling_upgrade_keeps_the_old_task_until_the_new_one_is_ready() {
    let cluster = Cluster::start(true);
    let id = "/readiness-and-health-app";
    post(&cluster, "/v2/apps", "readiness-and-health-app.json");
    cluster.wait_for("the app ready, healthy and its deployment done", || {
        let a = app(&cluster, id);
        a["tasksRunning"] == 1 && a["tasksHealthy"] == 1 && no_deployments(&cluster)
    });
    let shown = app(&cluster, id);
    let results = shown["readinessCheckResults"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        !results.is_empty() && results.iter().all(|r| r["ready"] == true),
        "the readiness check answered ready before the deployment ended: {shown}"
    );
    assert_eq!(results[0]["name"], "readiness", "{shown}");
    let [old] = running_task_ids(&cluster, id).try_into().unwrap();

    let (status, body) = cluster.marathon_request(
        "PUT",
        &format!("/v2/apps{id}"),
        Some(&definition("readiness-and-health-app-upgrade.json")),
    );
    assert!(status == 200 || status == 201, "{status} {body}");
    assert!(body["deploymentId"].is_string(), "{body}");

    // While the new task runs but answers no readiness probe yet, the old task runs on.
    let mut seen_kept = false;
    cluster.wait_for("the upgrade done and the old task replaced", || {
        let deployments = cluster.marathon_json("/v2/deployments");
        let not_ready_new: Vec<String> = deployments
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|d| d["currentActions"].as_array().cloned().unwrap_or_default())
            .flat_map(|a| {
                a["readinessCheckResults"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .filter(|r| r["ready"] == false && r["taskId"] != old.as_str())
            .filter_map(|r| r["taskId"].as_str().map(str::to_owned))
            .collect();
        let running = running_task_ids(&cluster, id);
        if not_ready_new.iter().any(|t| running.contains(t)) {
            assert!(
                running.contains(&old),
                "the old task stopped while the new one was not ready: {running:?}"
            );
            seen_kept = true;
        }
        deployments.as_array().is_some_and(Vec::is_empty) && running.len() == 1 && running[0] != old
    });
    assert!(
        seen_kept,
        "never saw the new task running and not ready (it sleeps 3 s before serving)"
    );
    cluster.wait_for("the new task healthy", || {
        app(&cluster, id)["tasksHealthy"] == 1
    });
    // The old task was killed only after the new one served: its command sleeps 3 s between
    // the task's start (TASK_STARTING, sent before the command runs) and its server. (The
    // master keeps the latest TASK_RUNNING of a task, which health updates renew.)
    let [new] = running_task_ids(&cluster, id).try_into().unwrap();
    let statuses = master_statuses(&cluster);
    let time_of = |task: &str, states: &[&str]| {
        statuses
            .iter()
            .find(|(t, _)| t == task)
            .and_then(|(_, s)| s.iter().find(|(st, _)| states.contains(&st.as_str())))
            .map(|(_, ts)| *ts)
            .unwrap_or_else(|| panic!("{task}: none of {states:?} in {statuses:?}"))
    };
    let new_started = time_of(&new, &["TASK_STARTING"]);
    let old_killed = time_of(&old, &["TASK_KILLING", "TASK_KILLED"]);
    assert!(
        old_killed >= new_started + 3.0,
        "old task killed at {old_killed}, the new one started at {new_started} and serves 3 s \
         later: {statuses:?}"
    );
}

/// The system tests' `persistent-volume-app.json` (resident, on a persistent volume) and
/// `secrets.md`'s file-based secret, on one cluster with the scheduler's `--mesos_role` and
/// the agent's `--secrets_dir`.
#[test]
fn a_file_secret_and_a_resident_app_that_keeps_its_data() {
    let store = tempfile::tempdir().unwrap();
    std::fs::write(store.path().join("databasepassword"), "db-s3cret").unwrap();
    let mut cluster = Cluster::start_with(Options {
        agents: 1,
        marathon: true,
        agent_flags: vec![format!("--secrets_dir={}", store.path().display())],
        marathon_flags: vec![format!("--mesos_role={ROLE}")],
        ..Options::default()
    });

    // As secrets.md writes it, without the container's type: Marathon's default type is
    // DOCKER, which has no secret volumes (and needs `docker`): a 422 naming both, nothing made.
    let mut untyped = definition("app-with-secrets.json");
    untyped["container"]
        .as_object_mut()
        .expect("container")
        .remove("type");
    let (status, body) = cluster.marathon_request("POST", "/v2/apps", Some(&untyped));
    assert_eq!(status, 422, "{body}");
    assert!(
        body.to_string().contains("/container/volumes")
            && body.to_string().contains("/container/docker"),
        "{body}"
    );
    assert_eq!(
        cluster.marathon_json("/v2/apps")["apps"],
        serde_json::json!([])
    );

    // The secret, as a file of the sandbox with mode 0400; never shown by the API.
    let body = post(&cluster, "/v2/apps", "app-with-secrets.json");
    assert!(!body.to_string().contains("db-s3cret"), "{body}");
    cluster.wait_for("app-with-secrets running", || {
        app(&cluster, "/app-with-secrets")["tasksRunning"] == 1 && no_deployments(&cluster)
    });
    let [secret_task] = running_task_ids(&cluster, "/app-with-secrets")
        .try_into()
        .unwrap();
    let secret_files = files_under(
        &cluster.dir.path().join("agent"),
        "path/to/db/password",
        &secret_task,
    );
    assert_eq!(secret_files.len(), 1, "{secret_files:?}");
    let mode = std::fs::metadata(&secret_files[0])
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o400, "{mode:o}");
    assert_eq!(
        std::fs::read_to_string(&secret_files[0]).unwrap(),
        "db-s3cret"
    );
    let shown = app(&cluster, "/app-with-secrets");
    assert_eq!(
        shown["secrets"]["secretpassword"]["source"], "databasepassword",
        "{shown}"
    );
    assert!(!shown.to_string().contains("db-s3cret"), "{shown}");

    // The resident app appends "hello" to data/foo at every start and serves its sandbox:
    // read data/foo through it, as the system test does with curl.
    let id = "/persistent-volume-app";
    post(&cluster, "/v2/apps", "persistent-volume-app.json");
    let served = |cluster: &Cluster, except: &[String]| -> (String, String, u16, String) {
        let mut found = None;
        cluster.wait_for(
            "a running task of the resident app serving data/foo",
            || {
                found = tasks(cluster, id).iter().find_map(|t| {
                    let task = t["id"].as_str()?.to_owned();
                    if t["state"] != "TASK_RUNNING" || except.contains(&task) {
                        return None;
                    }
                    let port = u16::try_from(t["ports"][0].as_u64()?).ok()?;
                    let (status, body) = support::http_get(port, "/data/foo")?;
                    let agent = t["slaveId"].as_str()?.to_owned();
                    (status == 200).then_some((task, agent, port, body))
                });
                found.is_some()
            },
        );
        found.unwrap()
    };
    let (first, agent, _, data) = served(&cluster, &[]);
    assert_eq!(data, "hello\n");
    let resident = app(&cluster, id);
    assert_eq!(resident["role"], ROLE, "{resident}");
    let volume = tasks(&cluster, id)[0]["localVolumes"][0].clone();
    assert_eq!(volume["containerPath"], "data", "{volume}");

    // A task kill: the instance runs again on its reservation and finds its data.
    let (status, body) =
        cluster.marathon_request("DELETE", &format!("/v2/apps{id}/tasks/{first}"), None);
    assert_eq!(status, 200, "{body}");
    let (second, second_agent, _, data) = served(&cluster, std::slice::from_ref(&first));
    assert_eq!(
        second_agent, agent,
        "relaunched on the agent holding its volume"
    );
    assert_eq!(data, "hello\nhello\n");
    assert_eq!(
        tasks(&cluster, id)[0]["localVolumes"][0]["persistenceId"],
        volume["persistenceId"]
    );

    // An agent restart: the data is still there, and the next task adds to it.
    cluster.agent.kill();
    cluster.start_agent_again(0);
    cluster.wait_for("the agent back", || {
        support::get_json(cluster.master_port, "/master/slaves")
            .is_some_and(|s| s["slaves"][0]["active"] == true)
    });
    let (after, _, _, data) = served(&cluster, std::slice::from_ref(&first));
    let lines = data.lines().count();
    assert!(
        lines >= 2 && data.lines().all(|l| l == "hello"),
        "after the agent restart: {data:?}"
    );
    let (status, body) =
        cluster.marathon_request("DELETE", &format!("/v2/apps{id}/tasks/{after}"), None);
    assert_eq!(status, 200, "{body}");
    let (_, last_agent, _, data) = served(&cluster, &[first, second, after]);
    assert_eq!(last_agent, agent);
    assert_eq!(data, "hello\n".repeat(lines + 1), "every earlier line kept");
}
