//! Dynamic reservations and persistent volumes end to end (issue 15 item 5, Mesos' side): a
//! real pymesos framework reserves resources for its role, creates a persistent volume and
//! runs tasks on it; the data outlives the task and an agent restart; the operator destroys
//! the volume and unreserves the resources; and a launch on the volume the master no longer
//! has is TASK_LOST / REASON_RESOURCES_UNKNOWN from the master (seed 1, L100), its real cause,
//! and TASK_DROPPED for a partition-aware framework (L124).

use crate::support;

use std::path::PathBuf;

use support::{Cluster, Framework, READY_TIMEOUT, wait_until};

const ROLE: &str = "db";
const PRINCIPAL: &str = "stateful";
const VOLUME: &str = "vol1";

/// The volume's directory on agent 0.
fn volume_dir(cluster: &Cluster) -> PathBuf {
    std::fs::canonicalize(cluster.dir.path().join("agent"))
        .expect("agent work dir")
        .join("volumes/roles")
        .join(ROLE)
        .join(VOLUME)
}

/// The agent's resources reserved for `ROLE`, as `/master/slaves` shows them whole.
fn reserved_full(cluster: &Cluster) -> Vec<serde_json::Value> {
    let slaves = cluster.master_json("/master/slaves");
    slaves["slaves"][0]["reserved_resources_full"][ROLE]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// A reserved scalar as the Operator API takes it (refinement format).
fn reserved(name: &str, value: f64) -> serde_json::Value {
    serde_json::json!({
        "name": name, "type": "SCALAR", "scalar": {"value": value},
        "reservations": [{"type": "DYNAMIC", "role": ROLE, "principal": PRINCIPAL}]
    })
}

fn the_volume() -> serde_json::Value {
    let mut disk = reserved("disk", 16.0);
    disk["disk"] = serde_json::json!({
        "persistence": {"id": VOLUME, "principal": PRINCIPAL},
        "volume": {"container_path": "data", "mode": "RW"}
    });
    disk
}

/// The pymesos framework of these tests (`stateful_framework.py`), registered in ROLE as
/// PRINCIPAL.
fn stateful_framework(cluster: &Cluster) -> Framework {
    let mut framework = Framework::start_script(
        cluster,
        "stateful_framework.py",
        "stateful",
        &[
            &format!("--role={ROLE}"),
            &format!("--principal={PRINCIPAL}"),
        ],
    );
    framework.wait_registered();
    framework
}

#[test]
fn a_volume_keeps_its_data_across_tasks_and_agent_restarts_until_it_is_destroyed() {
    let mut cluster = Cluster::start(false);
    let agent_id = cluster.agent_id(0);
    let mut framework = stateful_framework(&cluster);

    // RESERVE + CREATE + LAUNCH in one ACCEPT: the task writes into its volume.
    framework.send(&format!(
        "reserve_launch first {agent_id} {VOLUME} echo one >> data/log && sleep 600"
    ));
    framework.wait_update("first", "TASK_RUNNING", None);
    let log = volume_dir(&cluster).join("log");
    wait_until(
        "the first task to write into its volume",
        READY_TIMEOUT,
        || std::fs::read_to_string(&log).is_ok_and(|l| l == "one\n"),
    );
    let reserved_now = reserved_full(&cluster);
    assert!(
        reserved_now
            .iter()
            .any(|r| r["disk"]["persistence"]["id"] == VOLUME
                && r["reservations"][0]["type"] == "DYNAMIC"
                && r["reservations"][0]["principal"] == PRINCIPAL),
        "the master shows the volume: {reserved_now:?}"
    );
    // A volume in use cannot be destroyed.
    let destroy = serde_json::json!({
        "type": "DESTROY_VOLUMES",
        "destroy_volumes": {"agent_id": {"value": agent_id}, "volumes": [the_volume()]}
    });
    let (status, body) = cluster.operator(&destroy);
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("in use"), "{body}");

    // The task ends; the next one, on the same reservation, finds the data.
    framework.send("kill first");
    framework.wait_update("first", "TASK_KILLED", None);
    framework.send(&format!(
        "relaunch second {agent_id} {VOLUME} cat data/log > data/seen && echo two >> data/log \
         && sleep 600"
    ));
    framework.wait_update("second", "TASK_RUNNING", None);
    wait_until(
        "the second task to see the first's data",
        READY_TIMEOUT,
        || std::fs::read_to_string(volume_dir(&cluster).join("seen")).is_ok_and(|s| s == "one\n"),
    );

    // The agent restarts (its tasks keep running): the volume is still there, still its.
    cluster.agent.kill();
    cluster.start_agent_again(0);
    cluster.wait_for("the agent to reregister with its volume", || {
        reserved_full(&cluster)
            .iter()
            .any(|r| r["disk"]["persistence"]["id"] == VOLUME)
            && support::get_json(cluster.master_port, "/master/slaves")
                .is_some_and(|s| s["slaves"][0]["active"] == true)
    });
    framework.send("kill second");
    framework.wait_update("second", "TASK_KILLED", None);
    framework.send(&format!(
        "relaunch third {agent_id} {VOLUME} echo three >> data/log && sleep 600"
    ));
    framework.wait_update("third", "TASK_RUNNING", None);
    wait_until(
        "the third task to append after the restart",
        READY_TIMEOUT,
        || std::fs::read_to_string(&log).is_ok_and(|l| l == "one\ntwo\nthree\n"),
    );
    framework.send("kill third");
    framework.wait_update("third", "TASK_KILLED", None);

    // The operator grows the idle volume by 8 MB of its reservation and shrinks it back; its
    // data stays.
    let volume_mb = |cluster: &Cluster| {
        reserved_full(cluster)
            .iter()
            .find(|r| r["disk"]["persistence"]["id"] == VOLUME)
            .and_then(|r| r["scalar"]["value"].as_f64())
    };
    let (status, body) = cluster.operator(&serde_json::json!({
        "type": "RESERVE_RESOURCES",
        "reserve_resources": {"agent_id": {"value": agent_id}, "resources": [reserved("disk", 8.0)]}
    }));
    assert_eq!(status, 202, "{body}");
    let (status, body) = cluster.operator(&serde_json::json!({
        "type": "GROW_VOLUME",
        "grow_volume": {"agent_id": {"value": agent_id}, "volume": the_volume(),
                        "addition": reserved("disk", 8.0)}
    }));
    assert_eq!(status, 202, "{body}");
    assert_eq!(volume_mb(&cluster), Some(24.0));
    let mut grown = the_volume();
    grown["scalar"]["value"] = serde_json::json!(24.0);
    let (status, body) = cluster.operator(&serde_json::json!({
        "type": "SHRINK_VOLUME",
        "shrink_volume": {"agent_id": {"value": agent_id}, "volume": grown,
                          "subtract": {"value": 24.0}}
    }));
    assert_eq!(status, 400, "a volume cannot shrink to nothing: {body}");
    let (status, body) = cluster.operator(&serde_json::json!({
        "type": "SHRINK_VOLUME",
        "shrink_volume": {"agent_id": {"value": agent_id}, "volume": grown,
                          "subtract": {"value": 8.0}}
    }));
    assert_eq!(status, 202, "{body}");
    assert_eq!(volume_mb(&cluster), Some(16.0));
    let (status, body) = cluster.operator(&serde_json::json!({
        "type": "UNRESERVE_RESOURCES",
        "unreserve_resources": {"agent_id": {"value": agent_id},
                                "resources": [reserved("disk", 8.0)]}
    }));
    assert_eq!(status, 202, "{body}");
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "one\ntwo\nthree\n");

    // The operator destroys the volume (its directory goes) and unreserves the resources.
    let (status, body) = cluster.operator(&destroy);
    assert_eq!(status, 202, "{body}");
    wait_until(
        "the agent to delete the destroyed volume",
        READY_TIMEOUT,
        || !volume_dir(&cluster).exists(),
    );
    let unreserve = serde_json::json!({
        "type": "UNRESERVE_RESOURCES",
        "unreserve_resources": {"agent_id": {"value": agent_id},
            "resources": [reserved("cpus", 0.2), reserved("mem", 32.0), reserved("disk", 16.0)]}
    });
    let (status, body) = cluster.operator(&unreserve);
    assert_eq!(status, 202, "{body}");
    assert!(
        reserved_full(&cluster).is_empty(),
        "{:?}",
        reserved_full(&cluster)
    );
    // Unreserving again: the agent has no such reservation.
    let (status, body) = cluster.operator(&unreserve);
    assert_eq!(status, 409, "{body}");

    // The framework still believes in its volume: the master does not know it.
    framework.send(&format!("launch_stale stale {agent_id} {VOLUME} sleep 600"));
    let lost = framework.wait_update("stale", "TASK_LOST", Some("REASON_RESOURCES_UNKNOWN"));
    assert_eq!(lost["source"], "SOURCE_MASTER", "{lost}");
    framework.send("exit");

    // A partition-aware framework in the role makes the same mistake: TASK_DROPPED (L124).
    let mut aware = Framework::start_script(
        &cluster,
        "stateful_framework.py",
        "stateful-pa",
        &[
            &format!("--role={ROLE}"),
            &format!("--principal={PRINCIPAL}"),
            "--partition-aware",
        ],
    );
    aware.wait_registered();
    aware.send(&format!(
        "launch_stale stale-pa {agent_id} {VOLUME} sleep 600"
    ));
    let dropped = aware.wait_update("stale-pa", "TASK_DROPPED", Some("REASON_RESOURCES_UNKNOWN"));
    assert_eq!(dropped["source"], "SOURCE_MASTER", "{dropped}");
    aware.send("exit");
}

/// With the agent's default isolation (`namespaces/pid`, hence a mount namespace per
/// container) a command task's volume is a bind mount at its sandbox path inside the
/// container (Mesos' `filesystem/linux`): the task sees a mount point, not a link; the host's
/// mount table has no such mount and its sandbox entry is an empty directory; what the task
/// wrote is in the volume for the next task; and deleting the sandbox leaves the volume alone.
#[test]
fn a_command_task_gets_its_volume_as_a_bind_mount_in_its_own_mount_namespace() {
    // A short GC delay: the agent itself deletes an ended task's sandbox.
    let cluster = Cluster::start_with(support::Options {
        agents: 1,
        agent_flags: vec!["--gc_delay=2secs".to_owned()],
        ..support::Options::default()
    });
    let agent_id = cluster.agent_id(0);
    let mut framework = stateful_framework(&cluster);
    // The task records how its `data` looks from inside: its mount options in the container's
    // mount table (none if it is no mount point), and whether it is a link.
    framework.send(&format!(
        "reserve_launch first {agent_id} {VOLUME} \
         awk -v p=\"$(cd \"$MESOS_SANDBOX\" && pwd -P)/data\" '$5 == p {{print $6}}' \
         /proc/self/mountinfo > data/mount && echo \"$MESOS_SANDBOX\" > data/sandbox && \
         if [ -L data ]; then echo link; else echo no link; fi > data/kind && \
         echo one >> data/log && sleep 600"
    ));
    framework.wait_update("first", "TASK_RUNNING", None);
    let volume = volume_dir(&cluster);
    wait_until(
        "the first task to write into its volume",
        READY_TIMEOUT,
        || std::fs::read_to_string(volume.join("log")).is_ok_and(|l| l == "one\n"),
    );
    let read = |name: &str| std::fs::read_to_string(volume.join(name)).unwrap_or_default();
    assert!(
        read("mount").starts_with("rw"),
        "data is a read-write mount point inside the container: {:?}",
        read("mount")
    );
    assert_eq!(read("kind"), "no link\n");
    let sandbox = PathBuf::from(read("sandbox").trim_end());
    assert!(sandbox.is_absolute(), "{sandbox:?}");
    // On the host: an empty real directory, and no mount anywhere under the agent's work dir.
    let on_host = std::fs::symlink_metadata(sandbox.join("data")).expect("data in the sandbox");
    assert!(on_host.is_dir() && !on_host.file_type().is_symlink());
    assert_eq!(std::fs::read_dir(sandbox.join("data")).unwrap().count(), 0);
    let work_dir = std::fs::canonicalize(cluster.dir.path().join("agent")).unwrap();
    let host_table = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let leaked: Vec<&str> = host_table
        .lines()
        .filter(|l| {
            l.split(' ')
                .nth(4)
                .is_some_and(|m| std::path::Path::new(m).starts_with(&work_dir))
        })
        .collect();
    assert!(
        leaked.is_empty(),
        "the host sees the container's mounts: {leaked:?}"
    );

    // The next task on the volume finds the data.
    framework.send("kill first");
    framework.wait_update("first", "TASK_KILLED", None);
    framework.send(&format!(
        "relaunch second {agent_id} {VOLUME} cat data/log > data/seen && echo two >> data/log"
    ));
    framework.wait_update("second", "TASK_FINISHED", None);
    assert_eq!(read("seen"), "one\n");
    assert_eq!(read("log"), "one\ntwo\n");

    // The first container is gone with its namespace; the agent's GC deletes its sandbox
    // and leaves the volume's data alone.
    wait_until(
        "the agent to delete the first task's sandbox",
        READY_TIMEOUT,
        || !sandbox.exists(),
    );
    assert_eq!(read("log"), "one\ntwo\n");
    assert_eq!(read("seen"), "one\n");
    framework.send("exit");
}

/// Without a mount namespace (`--isolation=posix`) a volume is a link in the sandbox (Mesos'
/// `filesystem/posix`), and the data still reaches the volume.
#[test]
fn with_posix_isolation_a_volume_is_a_link_in_the_sandbox() {
    let cluster = Cluster::start_with(support::Options {
        agents: 1,
        agent_flags: vec!["--isolation=posix".to_owned()],
        ..support::Options::default()
    });
    let agent_id = cluster.agent_id(0);
    let mut framework = stateful_framework(&cluster);
    framework.send(&format!(
        "reserve_launch first {agent_id} {VOLUME} \
         awk -v p=\"$(cd \"$MESOS_SANDBOX\" && pwd -P)/data\" '$5 == p {{print $6}}' \
         /proc/self/mountinfo > data/mount && \
         if [ -L data ]; then echo link; else echo no link; fi > data/kind"
    ));
    framework.wait_update("first", "TASK_FINISHED", None);
    let volume = volume_dir(&cluster);
    let read = |name: &str| std::fs::read_to_string(volume.join(name)).unwrap_or_default();
    assert_eq!(read("kind"), "link\n");
    assert_eq!(read("mount"), "", "no mount point for data");
    framework.send("exit");
}

#[test]
fn operators_reserve_and_create_through_the_legacy_endpoints_and_bad_ones_are_refused() {
    let cluster = Cluster::start(false);
    let agent_id = cluster.agent_id(0);
    let form = |field: &str, list: &serde_json::Value| {
        let mut body = form_urlencoded(&[("slaveId", &agent_id), (field, &list.to_string())]);
        body.push('\n');
        body
    };
    let post = |path: &str, body: &str| {
        support::http_request(
            cluster.master_port,
            "POST",
            path,
            Some(body.trim_end()),
            "application/x-www-form-urlencoded",
        )
        .expect("answer")
    };
    let resources = serde_json::json!([reserved("cpus", 0.5), reserved("disk", 16.0)]);
    let (status, body) = post("/master/reserve", &form("resources", &resources));
    assert_eq!(status, 202, "{body}");
    let (status, body) = post(
        "/master/create-volumes",
        &form("volumes", &serde_json::json!([the_volume()])),
    );
    assert_eq!(status, 202, "{body}");
    wait_until("the agent to create the volume", READY_TIMEOUT, || {
        volume_dir(&cluster).is_dir()
    });
    let slaves = cluster.master_json("/master/slaves");
    assert_eq!(
        slaves["slaves"][0]["reserved_resources"][ROLE]["cpus"], 0.5,
        "{slaves}"
    );

    // Bad input: a clear error and no change.
    let too_much = serde_json::json!([reserved("cpus", 64.0)]);
    let (status, body) = post("/master/reserve", &form("resources", &too_much));
    assert_eq!(status, 409, "{body}");
    let star = serde_json::json!([{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1},
        "reservations": [{"type": "DYNAMIC", "role": "*"}]}]);
    let (status, body) = post("/master/reserve", &form("resources", &star));
    assert_eq!(status, 400, "{body}");
    let mut escaping = the_volume();
    escaping["disk"]["persistence"]["id"] = "../../etc".into();
    let (status, body) = post(
        "/master/create-volumes",
        &form("volumes", &serde_json::json!([escaping])),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("persistence id"), "{body}");
    let (status, body) = post(
        "/master/create-volumes",
        &form("volumes", &serde_json::json!([the_volume()])),
    );
    assert_eq!(status, 409, "the same id again: {body}");
    let (status, _) = post("/master/reserve", "slaveId=x");
    assert_eq!(status, 400);
    let after = cluster.master_json("/master/slaves");
    assert_eq!(
        after["slaves"][0]["reserved_resources"], slaves["slaves"][0]["reserved_resources"],
        "refused operations change nothing"
    );

    // The operator destroys and unreserves through the legacy endpoints too.
    let (status, body) = post(
        "/master/destroy-volumes",
        &form("volumes", &serde_json::json!([the_volume()])),
    );
    assert_eq!(status, 202, "{body}");
    let (status, body) = post("/master/unreserve", &form("resources", &resources));
    assert_eq!(status, 202, "{body}");
    wait_until("the agent to delete the volume", READY_TIMEOUT, || {
        !volume_dir(&cluster).exists()
    });
    assert!(reserved_full(&cluster).is_empty());
}

fn form_urlencoded(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", percent(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn percent(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
