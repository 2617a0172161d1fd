//! Seed 2 (Marathon task handling), line by line, with real processes: `drover marathon`,
//! `drover master` and real agents produce every status update; the tests observe the
//! scheduler's reactions through its REST API and its `/v2/events` stream.

use crate::support;

use serde_json::{Value, json};
use support::{Cluster, EventStream, Options, READY_TIMEOUT, wait_until};

/// The instance part of a Marathon task id (`app.instance-<uuid>._app.<n>`).
fn instance_of(task_id: &Value) -> String {
    let id = task_id.as_str().expect("task id");
    id.split("._app.").next().unwrap_or(id).to_owned()
}

fn create_app(cluster: &Cluster, app: &Value) {
    let (status, body) = cluster.marathon_request("POST", "/v2/apps", Some(app));
    assert_eq!(status, 201, "POST /v2/apps: {body}\n{}", cluster.logs());
}

/// The app's tasks as `/v2/apps/{id}/tasks` lists them.
fn tasks(cluster: &Cluster, app_id: &str) -> Vec<Value> {
    cluster.marathon_json(&format!("/v2/apps{app_id}/tasks"))["tasks"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn task_ids(cluster: &Cluster, app_id: &str) -> Vec<String> {
    tasks(cluster, app_id)
        .iter()
        .filter_map(|t| t["id"].as_str().map(str::to_owned))
        .collect()
}

/// The `/v2/queue` entry of an app, if it has one.
fn queue_entry(cluster: &Cluster, app_id: &str) -> Option<Value> {
    cluster.marathon_json("/v2/queue")["queue"]
        .as_array()?
        .iter()
        .find(|q| q["app"]["id"] == app_id)
        .cloned()
}

/// TASK_FAILED => Failed: "expunges the task and starts a new one" — a new instance, and the
/// failure counts toward the launch backoff and is recorded as `lastTaskFailure`.
#[test]
fn task_failed_is_expunged_and_replaced_by_a_new_instance_with_backoff() {
    let cluster = Cluster::start(true);
    let events = EventStream::open(cluster.marathon_port);
    // Fails the first time only, so the replacement keeps running.
    let marker = cluster.dir.path().join("failed-once");
    let cmd = format!(
        "if [ -e {m} ]; then sleep 300; else touch {m}; sleep 1; exit 1; fi",
        m = marker.display()
    );
    create_app(
        &cluster,
        &json!({"id": "/failing", "cmd": cmd, "cpus": 0.1, "mem": 32,
                "instances": 1, "backoffSeconds": 3}),
    );
    let first = events.wait_status("/failing", "TASK_RUNNING", &[]);
    let failed = events.wait_status("/failing", "TASK_FAILED", &[]);
    assert_eq!(failed["taskId"], first["taskId"]);
    let first_id = first["taskId"].as_str().expect("id").to_owned();

    // The failure increased the launch delay: the replacement waits in the queue.
    let entry = queue_entry(&cluster, "/failing").expect("a replacement is queued");
    assert_eq!(entry["count"], 1, "{entry}");
    assert_eq!(entry["delay"]["overdue"], false, "backoff applies: {entry}");
    assert!(
        entry["delay"]["timeLeftSeconds"].as_u64() >= Some(1),
        "{entry}"
    );

    let old_instance = instance_of(&first["taskId"]);
    events.wait(&format!("instance {old_instance} Failed"), |e| {
        e["eventType"] == "instance_changed_event"
            && e["instanceId"] == old_instance.as_str()
            && e["condition"] == "Failed"
    });
    let replacement = events.wait_status("/failing", "TASK_RUNNING", &[&first_id]);
    assert_ne!(
        instance_of(&replacement["taskId"]),
        old_instance,
        "a new instance, not a relaunch of the failed one"
    );
    assert!(
        !task_ids(&cluster, "/failing").contains(&first_id),
        "the failed task is expunged"
    );
    let app = cluster.marathon_json("/v2/apps/failing?embed=app.lastTaskFailure")["app"].clone();
    assert_eq!(app["lastTaskFailure"]["state"], "TASK_FAILED", "{app}");
    assert_eq!(app["lastTaskFailure"]["taskId"], first_id.as_str(), "{app}");
    // Seed 2: "you can consult the Marathon logs for these messages".
    let log = cluster.marathon.as_ref().expect("marathon").log();
    let line = log
        .lines()
        .find(|l| {
            l.contains("instance condition") && l.contains(&first_id) && l.contains("TASK_FAILED")
        })
        .unwrap_or_else(|| panic!("no log line for the failure of {first_id}:\n{log}"));
    for field in [
        "app_id=\"/failing\"",
        "status_message=\"Command exited with status 1\"",
        "condition=\"Failed\"",
        "previous=\"Running\"",
        "reaction=\"expunged; a replacement is launched after",
    ] {
        assert!(line.contains(field), "{field} missing from: {line}");
    }
}

/// TASK_ERROR => Error: "the task description contains an error; Marathon expunges the task
/// and starts a new one". The real cause: the master's `--acls` do not let Marathon's principal
/// run tasks as the app's user, so every launch is answered TASK_ERROR /
/// REASON_TASK_UNAUTHORIZED. An app whose `user` the ACL allows runs beside it.
#[test]
fn task_error_is_expunged_and_a_new_one_started() {
    let acls = json!({"run_tasks": [
        {"principals": {"values": ["marathon"]}, "users": {"values": ["nobody"]}},
        {"principals": {"type": "ANY"}, "users": {"type": "NONE"}}
    ]});
    let cluster = Cluster::start_with(Options {
        agents: 1,
        marathon: true,
        master_flags: vec![format!("--acls={acls}")],
        marathon_flags: vec!["--mesos_authentication_principal=marathon".into()],
        ..Options::default()
    });
    let events = EventStream::open(cluster.marathon_port);
    create_app(
        &cluster,
        &json!({"id": "/refused", "cmd": "sleep 300", "cpus": 0.1, "mem": 32,
                "user": "root", "instances": 1, "backoffSeconds": 1}),
    );
    let first = events.wait_status("/refused", "TASK_ERROR", &[]);
    let first_id = first["taskId"].as_str().expect("id").to_owned();
    assert_eq!(
        first["message"].as_str().map(|m| m.is_empty()),
        Some(false),
        "{first}"
    );
    let old_instance = instance_of(&first["taskId"]);
    events.wait(&format!("instance {old_instance} Error"), |e| {
        e["eventType"] == "instance_changed_event"
            && e["instanceId"] == old_instance.as_str()
            && e["condition"] == "Error"
    });
    // Expunged, and a new instance is started (and refused again, for the same reason).
    let second = events.wait_status("/refused", "TASK_ERROR", &[&first_id]);
    assert_ne!(
        instance_of(&second["taskId"]),
        old_instance,
        "a new instance"
    );
    assert!(!task_ids(&cluster, "/refused").contains(&first_id));
    let app = cluster.marathon_json("/v2/apps/refused?embed=app.lastTaskFailure")["app"].clone();
    assert_eq!(app["lastTaskFailure"]["state"], "TASK_ERROR", "{app}");
    // The master's own record says why (the operator API keeps each status whole).
    let (status, body) = cluster.operator(&json!({"type": "GET_TASKS"}));
    assert_eq!(status, 200, "{body}");
    let tasks: Value = serde_json::from_str(&body).expect("GET_TASKS JSON");
    let refused = tasks["get_tasks"]["completed_tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["task_id"]["value"] == first_id.as_str())
        .unwrap_or_else(|| panic!("{first_id} not among the completed tasks: {tasks}"));
    let last = refused["statuses"]
        .as_array()
        .and_then(|s| s.last())
        .expect("a status");
    assert_eq!(last["state"], "TASK_ERROR", "{refused}");
    assert_eq!(last["reason"], "REASON_TASK_UNAUTHORIZED", "{refused}");
    assert_eq!(last["source"], "SOURCE_MASTER", "{refused}");
    // The ACL is the cause: the same app as `nobody` runs.
    create_app(
        &cluster,
        &json!({"id": "/allowed", "cmd": "sleep 300", "cpus": 0.1, "mem": 32,
                "user": "nobody", "instances": 1}),
    );
    events.wait_status("/allowed", "TASK_RUNNING", &[]);
}

/// TASK_FINISHED => Finished: a service that exits 0 is restarted (a new task; the finish
/// counts toward the launch backoff, as in Marathon).
#[test]
fn task_finished_is_restarted() {
    let cluster = Cluster::start(true);
    let events = EventStream::open(cluster.marathon_port);
    create_app(
        &cluster,
        &json!({"id": "/oneshot", "cmd": "sleep 1; true", "cpus": 0.1, "mem": 32,
                "instances": 1, "backoffSeconds": 2}),
    );
    let first = events.wait_status("/oneshot", "TASK_RUNNING", &[]);
    let finished = events.wait_status("/oneshot", "TASK_FINISHED", &[]);
    assert_eq!(finished["taskId"], first["taskId"]);
    let first_id = first["taskId"].as_str().expect("id").to_owned();
    let entry = queue_entry(&cluster, "/oneshot").expect("a restart is queued");
    assert_eq!(entry["delay"]["overdue"], false, "backoff applies: {entry}");

    let restarted = events.wait_status("/oneshot", "TASK_RUNNING", &[&first_id]);
    assert_ne!(restarted["taskId"], first["taskId"]);
    let app = cluster.marathon_json("/v2/apps/oneshot")["app"].clone();
    assert_eq!(app["instances"], 1, "{app}");
}

/// TASK_KILLED => Killed: a kill through the API without `scale` is replaced at once (no
/// backoff growth: the app's 60 s backoff never applies); with `scale=true` it is not
/// replaced and the app's instance count drops.
#[test]
fn task_killed_via_api_is_replaced_without_backoff_unless_scaled() {
    let cluster = Cluster::start(true);
    let events = EventStream::open(cluster.marathon_port);
    create_app(
        &cluster,
        &json!({"id": "/svc", "cmd": "sleep 300", "cpus": 0.1, "mem": 32,
                "instances": 2, "backoffSeconds": 60, "maxLaunchDelaySeconds": 3600}),
    );
    let port = cluster.marathon_port;
    wait_until("2 running tasks", READY_TIMEOUT, || {
        support::get_json(port, "/v2/apps/svc").is_some_and(|a| a["app"]["tasksRunning"] == 2)
    });
    let original = task_ids(&cluster, "/svc");
    assert_eq!(original.len(), 2, "{original:?}");

    // Without scale: killed, then replaced at once.
    let (status, body) = cluster.marathon_request(
        "DELETE",
        &format!("/v2/apps/svc/tasks/{}", original[0]),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let killed = events.wait_status("/svc", "TASK_KILLED", &[]);
    assert_eq!(killed["taskId"], original[0].as_str());
    // TASK_STARTING, TASK_RUNNING, TASK_KILLING (Marathon has TASK_KILLING_STATE), TASK_KILLED.
    let states = events.states_of(&original[0]);
    let at = |state: &str| states.iter().position(|s| s == state);
    assert!(
        at("TASK_STARTING") < at("TASK_RUNNING")
            && at("TASK_RUNNING").is_some()
            && at("TASK_RUNNING") < at("TASK_KILLING")
            && at("TASK_KILLING") < at("TASK_KILLED"),
        "{states:?}"
    );
    let replacement = events.wait_status("/svc", "TASK_RUNNING", &[&original[0], &original[1]]);
    let replacement_id = replacement["taskId"].as_str().expect("id").to_owned();
    let entry = queue_entry(&cluster, "/svc");
    assert!(
        entry.as_ref().is_none_or(|e| e["delay"]["overdue"] == true),
        "a kill does not grow the backoff: {entry:?}"
    );
    assert_eq!(cluster.marathon_json("/v2/apps/svc")["app"]["instances"], 2);

    // With scale: killed, not replaced, and the app now wants one instance.
    let (status, body) = cluster.marathon_request(
        "DELETE",
        &format!("/v2/apps/svc/tasks/{replacement_id}?scale=true"),
        None,
    );
    assert_eq!(status, 200, "{body}");
    events.wait("the scaled kill", |e| {
        e["eventType"] == "status_update_event"
            && e["taskId"] == replacement_id.as_str()
            && e["taskStatus"] == "TASK_KILLED"
    });
    let app = cluster.marathon_json("/v2/apps/svc")["app"].clone();
    assert_eq!(app["instances"], 1, "{app}");
    assert!(
        queue_entry(&cluster, "/svc").is_none(),
        "nothing waits to launch"
    );
    assert_eq!(task_ids(&cluster, "/svc"), vec![original[1].clone()]);
    wait_until("no deployment left", READY_TIMEOUT, || {
        support::get_json(port, "/v2/deployments").is_some_and(|d| d == json!([]))
    });
    let launched_after: Vec<Value> = events.matching(|e| {
        e["eventType"] == "status_update_event"
            && e["taskStatus"] == "TASK_STAGING"
            && ![
                original[0].as_str(),
                original[1].as_str(),
                replacement_id.as_str(),
            ]
            .contains(&e["taskId"].as_str().unwrap_or_default())
    });
    assert!(
        launched_after.is_empty(),
        "no replacement: {launched_after:?}"
    );
}

/// The master's ping flags that make an agent unreachable in about two seconds.
fn fast_unreachable() -> Vec<String> {
    vec![
        "--agent_ping_timeout=1secs".to_owned(),
        "--max_agent_ping_timeouts=2".to_owned(),
    ]
}

/// TASK_UNREACHABLE => Unreachable: "starts a replacement task" (on the other agent) and,
/// once unreachable longer than the limit (`expungeAfterSeconds`: 5), "marks the task as
/// Unknown and then expunges" it; when the paused agent returns, the forgotten task is killed.
#[test]
fn task_unreachable_is_replaced_and_expunged_after_the_limit() {
    let mut cluster = Cluster::start_with(Options {
        agents: 2,
        marathon: true,
        master_flags: fast_unreachable(),
        ..Options::default()
    });
    let events = EventStream::open(cluster.marathon_port);
    create_app(
        &cluster,
        &json!({"id": "/partitioned", "cmd": "sleep 300", "cpus": 0.1, "mem": 32,
                "instances": 1,
                "unreachableStrategy": {"inactiveAfterSeconds": 0, "expungeAfterSeconds": 5}}),
    );
    let first = events.wait_status("/partitioned", "TASK_RUNNING", &[]);
    let first_id = first["taskId"].as_str().expect("id").to_owned();
    let paused = cluster.agent_index(first["slaveId"].as_str().expect("agent"));
    cluster.agent_at(paused).pause();

    let unreachable = events.wait_status("/partitioned", "TASK_UNREACHABLE", &[]);
    assert_eq!(unreachable["taskId"], first_id.as_str());
    let unreachable_at = std::time::Instant::now();
    let replacement = events.wait_status("/partitioned", "TASK_RUNNING", &[&first_id]);
    assert_ne!(
        replacement["slaveId"], first["slaveId"],
        "placed on the other agent"
    );
    assert_ne!(
        instance_of(&replacement["taskId"]),
        instance_of(&first["taskId"])
    );

    // Expunged (as Unknown) once unreachable for expungeAfterSeconds, on a timer.
    let old_instance = instance_of(&first["taskId"]);
    events.wait("the unreachable instance marked Unknown", |e| {
        e["eventType"] == "instance_changed_event"
            && e["instanceId"] == old_instance.as_str()
            && e["condition"] == "Unknown"
    });
    assert!(
        unreachable_at.elapsed() >= std::time::Duration::from_secs(3),
        "expunged only after the limit ({:?})",
        unreachable_at.elapsed()
    );
    let port = cluster.marathon_port;
    let first_clone = first_id.clone();
    wait_until("the unreachable task expunged", READY_TIMEOUT, || {
        support::get_json(port, "/v2/apps/partitioned/tasks")
            .is_some_and(|t| !t.to_string().contains(&first_clone))
    });
    assert_eq!(
        task_ids(&cluster, "/partitioned"),
        vec![replacement["taskId"].as_str().expect("id").to_owned()]
    );

    // The agent comes back: the forgotten task is killed, the replacement keeps running.
    cluster.agent_at(paused).resume();
    let master = cluster.master_port;
    cluster.wait_for("the returned task killed", || {
        support::get_json(master, "/master/tasks").is_some_and(|t| {
            t["tasks"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|t| t["id"] == first_id.as_str() && t["state"] == "TASK_KILLED")
        })
    });
    let app = cluster.marathon_json("/v2/apps/partitioned")["app"].clone();
    assert_eq!(app["tasksRunning"], 1, "{app}");
    assert_eq!(app["instances"], 1, "{app}");
}

/// TASK_UNREACHABLE then back: an unreachable task that returns RUNNING after its replacement
/// runs is surplus and killed (`killSelection`), so the app never keeps more than its
/// instances.
#[test]
fn task_unreachable_that_returns_is_killed_as_surplus() {
    let mut cluster = Cluster::start_with(Options {
        agents: 2,
        marathon: true,
        master_flags: fast_unreachable(),
        ..Options::default()
    });
    let events = EventStream::open(cluster.marathon_port);
    create_app(
        &cluster,
        &json!({"id": "/returning", "cmd": "sleep 300", "cpus": 0.1, "mem": 32,
                "instances": 1, "killSelection": "YOUNGEST_FIRST",
                "unreachableStrategy": {"inactiveAfterSeconds": 0, "expungeAfterSeconds": 600}}),
    );
    let first = events.wait_status("/returning", "TASK_RUNNING", &[]);
    let first_id = first["taskId"].as_str().expect("id").to_owned();
    let paused = cluster.agent_index(first["slaveId"].as_str().expect("agent"));
    cluster.agent_at(paused).pause();
    events.wait_status("/returning", "TASK_UNREACHABLE", &[]);
    let replacement = events.wait_status("/returning", "TASK_RUNNING", &[&first_id]);
    let replacement_id = replacement["taskId"].as_str().expect("id").to_owned();
    assert_eq!(
        task_ids(&cluster, "/returning").len(),
        2,
        "the unreachable one is kept"
    );

    cluster.agent_at(paused).resume();
    // The returning task reports RUNNING again; one of the two is killed as surplus.
    let killed = events.wait("a surplus task killed", |e| {
        e["eventType"] == "status_update_event"
            && e["appId"] == "/returning"
            && e["taskStatus"] == "TASK_KILLED"
    });
    assert!(
        killed["taskId"] == first_id.as_str() || killed["taskId"] == replacement_id.as_str(),
        "{killed}"
    );
    let port = cluster.marathon_port;
    wait_until("exactly one task left", READY_TIMEOUT, || {
        support::get_json(port, "/v2/apps/returning/tasks")
            .is_some_and(|t| t["tasks"].as_array().is_some_and(|t| t.len() == 1))
    });
    let app = cluster.marathon_json("/v2/apps/returning")["app"].clone();
    assert_eq!(app["tasksRunning"], 1, "{app}");
    let running_in_master = cluster.master_json("/master/tasks")["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["state"] == "TASK_RUNNING")
        .count();
    assert!(
        running_in_master <= 1,
        "never more than the app's instances"
    );
}

/// TASK_GONE_BY_OPERATOR => Gone: the operator marks the task's agent gone; Marathon "expunges
/// the task and starts a new one" on the other agent, recording the failure.
#[test]
fn task_gone_by_operator_is_expunged_and_replaced() {
    let cluster = Cluster::start_with(Options {
        agents: 2,
        marathon: true,
        ..Options::default()
    });
    let events = EventStream::open(cluster.marathon_port);
    create_app(
        &cluster,
        &json!({"id": "/operated", "cmd": "sleep 300", "cpus": 0.1, "mem": 32,
                "instances": 1}),
    );
    let first = events.wait_status("/operated", "TASK_RUNNING", &[]);
    let first_id = first["taskId"].as_str().expect("id").to_owned();
    let call = json!({"type": "MARK_AGENT_GONE",
                      "mark_agent_gone": {"agent_id": {"value": first["slaveId"]}}});
    let (status, body) = cluster.operator(&call);
    assert_eq!(status, 200, "{body}");

    let gone = events.wait_status("/operated", "TASK_GONE_BY_OPERATOR", &[]);
    assert_eq!(gone["taskId"], first_id.as_str());
    let old_instance = instance_of(&first["taskId"]);
    events.wait(&format!("instance {old_instance} Gone"), |e| {
        e["eventType"] == "instance_changed_event"
            && e["instanceId"] == old_instance.as_str()
            && e["condition"] == "Gone"
    });
    let replacement = events.wait_status("/operated", "TASK_RUNNING", &[&first_id]);
    assert_ne!(replacement["slaveId"], first["slaveId"]);
    assert_ne!(instance_of(&replacement["taskId"]), old_instance);
    assert!(!task_ids(&cluster, "/operated").contains(&first_id));
    let app = cluster.marathon_json("/v2/apps/operated?embed=app.lastTaskFailure")["app"].clone();
    assert_eq!(
        app["lastTaskFailure"]["state"], "TASK_GONE_BY_OPERATOR",
        "{app}"
    );
}

/// TASK_GONE => Gone: "the agent became partitioned, rebooted, and then reconnected; tasks
/// running before the reboot transition from UNREACHABLE to GONE", and Marathon expunges the
/// instance (its replacement already runs, so nothing more is launched).
#[test]
fn task_gone_after_the_unreachable_agent_rebooted_is_expunged() {
    let mut cluster = Cluster::start_with(Options {
        agents: 2,
        marathon: true,
        master_flags: fast_unreachable(),
        ..Options::default()
    });
    let events = EventStream::open(cluster.marathon_port);
    create_app(
        &cluster,
        &json!({"id": "/rebooted", "cmd": "sleep 300", "cpus": 0.1, "mem": 32,
                "instances": 1,
                "unreachableStrategy": {"inactiveAfterSeconds": 0, "expungeAfterSeconds": 600}}),
    );
    let first = events.wait_status("/rebooted", "TASK_RUNNING", &[]);
    let first_id = first["taskId"].as_str().expect("id").to_owned();
    let host = cluster.agent_index(first["slaveId"].as_str().expect("agent"));
    cluster.agent_at(host).pause();
    events.wait_status("/rebooted", "TASK_UNREACHABLE", &[]);
    let replacement = events.wait_status("/rebooted", "TASK_RUNNING", &[&first_id]);
    let replacement_id = replacement["taskId"].as_str().expect("id").to_owned();

    // The partitioned host "reboots": the agent comes back with a new boot id.
    cluster.agent_at(host).kill();
    cluster.start_agent_again_with(host, &["--boot_id=after-the-reboot"]);
    let gone = events.wait_status("/rebooted", "TASK_GONE", &[&replacement_id]);
    assert_eq!(gone["taskId"], first_id.as_str());
    let old_instance = instance_of(&first["taskId"]);
    events.wait(&format!("instance {old_instance} Gone"), |e| {
        e["eventType"] == "instance_changed_event"
            && e["instanceId"] == old_instance.as_str()
            && e["condition"] == "Gone"
    });
    let port = cluster.marathon_port;
    cluster.wait_for("only the replacement left", || {
        support::get_json(port, "/v2/apps/rebooted/tasks").is_some_and(|t| {
            t["tasks"]
                .as_array()
                .is_some_and(|t| t.len() == 1 && t[0]["id"] == replacement_id.as_str())
        })
    });
    assert!(
        queue_entry(&cluster, "/rebooted").is_none(),
        "nothing more to launch"
    );
}

/// TASK_UNKNOWN => Unknown: "the master has no knowledge of the task" (here: its agent is down
/// and the master lost its registry); reconciliation answers TASK_UNKNOWN, and Marathon
/// "expunges the task and starts a new one" — without growing the backoff.
#[test]
fn task_unknown_is_expunged_and_replaced() {
    let mut cluster = Cluster::start_with(Options {
        agents: 2,
        marathon: true,
        ..Options::default()
    });
    let events = EventStream::open(cluster.marathon_port);
    create_app(
        &cluster,
        &json!({"id": "/forgotten", "cmd": "sleep 300", "cpus": 0.1, "mem": 32,
                "instances": 1, "backoffSeconds": 60}),
    );
    let first = events.wait_status("/forgotten", "TASK_RUNNING", &[]);
    let first_id = first["taskId"].as_str().expect("id").to_owned();
    let host = cluster.agent_index(first["slaveId"].as_str().expect("agent"));
    let other = 1 - host;
    let other_id = cluster.agent_id(other);

    // The task's agent dies for good; the master restarts having lost its registry.
    cluster.agent_at(host).kill();
    cluster.master.kill();
    std::fs::remove_dir_all(cluster.dir.path().join("master")).expect("wipe the registry");
    cluster.start_master_again();

    let unknown = events.wait_status("/forgotten", "TASK_UNKNOWN", &[]);
    assert_eq!(unknown["taskId"], first_id.as_str());
    let old_instance = instance_of(&first["taskId"]);
    events.wait(&format!("instance {old_instance} Unknown"), |e| {
        e["eventType"] == "instance_changed_event"
            && e["instanceId"] == old_instance.as_str()
            && e["condition"] == "Unknown"
    });
    // Replaced at once on the surviving agent: the 60 s backoff never applies.
    let replacement = events.wait_status("/forgotten", "TASK_RUNNING", &[&first_id]);
    assert_eq!(replacement["slaveId"], other_id.as_str());
    assert_ne!(instance_of(&replacement["taskId"]), old_instance);
    assert!(!task_ids(&cluster, "/forgotten").contains(&first_id));
}

/// TASK_DROPPED => Dropped: "launched again (a transient error)". The real cause, as in
/// Mesos: an operator drains the agent and reactivates it before the drain is over. The
/// master offers the agent again, but the agent still drains (it stops only once nothing is
/// left on it), so what Marathon launches there is dropped (REASON_AGENT_DRAINING) until the
/// drained task is gone; Marathon launches the app again each time, and it runs once the
/// drain ends.
#[test]
fn task_dropped_by_a_draining_agent_is_launched_again_until_it_runs() {
    let cluster = Cluster::start(true);
    let events = EventStream::open(cluster.marathon_port);
    // Ignores SIGTERM: its kill lasts the drain's whole grace period, and so does the drain.
    create_app(
        &cluster,
        &json!({"id": "/stubborn", "cmd": "trap '' TERM; while true; do sleep 1; done",
                "cpus": 0.1, "mem": 32, "instances": 1}),
    );
    let stubborn = events.wait_status("/stubborn", "TASK_RUNNING", &[]);
    let agent_id = stubborn["slaveId"].clone();
    let (status, body) = cluster.operator(&json!({"type": "DRAIN_AGENT", "drain_agent": {
        "agent_id": {"value": agent_id}, "max_grace_period": {"seconds": 20}}}));
    assert_eq!(status, 200, "DRAIN_AGENT: {body}");
    let (status, body) = cluster.operator(&json!({"type": "REACTIVATE_AGENT",
        "reactivate_agent": {"agent_id": {"value": agent_id}}}));
    assert_eq!(status, 200, "REACTIVATE_AGENT: {body}");

    create_app(
        &cluster,
        &json!({"id": "/late", "cmd": "sleep 300", "cpus": 0.1, "mem": 32, "instances": 1,
                "backoffSeconds": 1}),
    );
    let dropped = events.wait_status("/late", "TASK_DROPPED", &[]);
    let message = dropped["message"].as_str().unwrap_or_default();
    assert!(message.contains("draining"), "{dropped}");
    let dropped_id = dropped["taskId"].as_str().expect("id").to_owned();
    // Launched again after the drain: it runs.
    let running = events.wait_status("/late", "TASK_RUNNING", &[&dropped_id]);
    assert_eq!(running["slaveId"], agent_id);
    assert!(!task_ids(&cluster, "/late").contains(&dropped_id));
    // The drained task's KILLED said why, and Marathon replaced it.
    let killed = events.wait_status("/stubborn", "TASK_KILLED", &[]);
    assert_eq!(killed["taskId"], stubborn["taskId"]);
    events.wait_status(
        "/stubborn",
        "TASK_RUNNING",
        &[stubborn["taskId"].as_str().expect("id")],
    );
}

/// TASK_STAGING => Staging: "recorded". Mesos sends TASK_STAGING only to a framework that
/// reconciles a task its agent has not started yet; here the task waits for its `fetch` (a
/// server that accepts and never answers) while Marathon reconciles every second. The update
/// is recorded (the instance is Staging) and nothing else happens to the task.
#[test]
fn task_staging_from_reconciliation_is_recorded() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    std::thread::spawn(move || {
        // Held open, unanswered, for as long as the test runs.
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let cluster = Cluster::start_with(Options {
        agents: 1,
        marathon: true,
        marathon_flags: vec!["--reconciliation_interval=1000".into()],
        ..Options::default()
    });
    let events = EventStream::open(cluster.marathon_port);
    create_app(
        &cluster,
        &json!({"id": "/fetching", "cmd": "sleep 300", "cpus": 0.1, "mem": 32, "instances": 1,
                "fetch": [{"uri": format!("http://127.0.0.1:{port}/never.tar.gz")}]}),
    );
    let staging = events.wait_status("/fetching", "TASK_STAGING", &[]);
    let task_id = staging["taskId"].as_str().expect("id").to_owned();
    let instance = instance_of(&staging["taskId"]);
    events.wait(&format!("instance {instance} Staging"), |e| {
        e["eventType"] == "instance_changed_event"
            && e["instanceId"] == instance.as_str()
            && e["condition"] == "Staging"
    });
    // Recorded, nothing more: the same single task, staging, and no other state for it.
    let listed = tasks(&cluster, "/fetching");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["id"], task_id.as_str());
    assert_eq!(listed[0]["state"], "TASK_STAGING", "{listed:?}");
    let states = events.states_of(&task_id);
    assert!(states.iter().all(|s| s == "TASK_STAGING"), "{states:?}");
}
