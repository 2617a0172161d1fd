//! Resident pods in pod JSON: a `persistent` pod volume read (type `root`), the resident
//! defaults, the golden rendering and the store round trip, and every refusal at its path.

use drover_core::marathon::unreachable::UnreachableStrategy;
use serde_json::{Value, json};

use super::pod::{PodMode, parse_pod};
use super::pod_render::pod_json;
use super::resident_tests::{assert_names, with};

fn resident() -> Value {
    json!({
        "id": "/db/pg",
        "role": "pg",
        "containers": [{
            "name": "db",
            "exec": {"command": {"shell": "echo hi >> pgdata/log; sleep 1000"}},
            "resources": {"cpus": 0.1, "mem": 32, "disk": 1},
            "volumeMounts": [{"name": "data", "mountPath": "pgdata"}]
        }],
        "volumes": [{"name": "data", "persistent": {"type": "root", "size": 10}}]
    })
}

fn refused(body: Value, path: &str, words: &str) {
    let problems = parse_pod(&body, None, PodMode::Request).expect_err("refused");
    assert_names(&problems, path, words);
}

#[test]
fn a_resident_pod_is_read_with_the_resident_defaults_and_rendered_back() {
    let app = parse_pod(&resident(), None, PodMode::Request).expect("valid");
    assert!(app.is_resident());
    assert_eq!(app.persistent_volumes.len(), 1);
    assert_eq!(app.persistent_volumes[0].container_path, "volumes/data");
    assert_eq!(app.persistent_volumes[0].size_mb, 10);
    assert_eq!(app.persistent_volumes[0].id_part(), "data");
    // The volume's disk is the reservation's, beyond what the pod's resources ask.
    assert_eq!(app.disk, 10.0 + 1.0);
    assert_eq!(app.upgrade_strategy.minimum_health_capacity, 0.5);
    assert_eq!(app.upgrade_strategy.maximum_over_capacity, 0.0);
    assert_eq!(app.unreachable_strategy, UnreachableStrategy::Disabled);
    let out = Value::Object(pod_json(&app, false));
    assert_eq!(
        out["volumes"],
        json!([{"name": "data", "persistent": {"type": "root", "size": 10, "constraints": []}}])
    );
    assert_eq!(
        out["containers"][0]["volumeMounts"],
        json!([{"name": "data", "mountPath": "pgdata", "readOnly": false}])
    );
    assert_eq!(out["scheduling"]["unreachableStrategy"], json!("disabled"));
    assert_eq!(
        out["scheduling"]["upgrade"],
        json!({"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.0})
    );
    // What GET shows is accepted again as it is, and the store reads back the same pod.
    let again = parse_pod(&out, None, PodMode::Request).expect("the rendering is valid");
    assert_eq!(again.pod, app.pod);
    assert_eq!(again.persistent_volumes, app.persistent_volumes);
    let stored = Value::Object(pod_json(&app, true));
    let back = parse_pod(&stored, None, PodMode::Stored).expect("stored");
    assert_eq!(back.pod, app.pod);
    assert_eq!(back.unreachable_strategy, UnreachableStrategy::Disabled);
}

#[test]
fn a_given_scheduling_policy_is_kept_and_checked() {
    let body = with(
        resident(),
        "/scheduling",
        json!({"upgrade": {"minimumHealthCapacity": 0.2, "maximumOverCapacity": 0.0}}),
    );
    let app = parse_pod(&body, None, PodMode::Request).expect("valid");
    assert_eq!(app.upgrade_strategy.minimum_health_capacity, 0.2);
    refused(
        with(
            resident(),
            "/scheduling",
            json!({"upgrade": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.5}}),
        ),
        "/scheduling/upgrade/maximumOverCapacity",
        "got 0.5, expected 0.0",
    );
    refused(
        with(
            resident(),
            "/scheduling",
            json!({"unreachableStrategy": {"inactiveAfterSeconds": 60, "expungeAfterSeconds": 120}}),
        ),
        "/scheduling/unreachableStrategy",
        "must be disabled for pods with persistent volumes",
    );
    refused(
        with(
            resident(),
            "/scheduling",
            json!({"placement": {"acceptedResourceRoles": ["pg"]}}),
        ),
        "/scheduling/placement/acceptedResourceRoles",
        "acceptedResourceRoles",
    );
    refused(with(resident(), "/role", json!("*")), "/role", "role *");
}

#[test]
fn what_drover_does_not_build_is_refused_at_its_path() {
    let volume = |persistent: Value| {
        with(
            resident(),
            "/volumes",
            json!([{"name": "data", "persistent": persistent}]),
        )
    };
    refused(
        volume(json!({"type": "root", "size": 0})),
        "/volumes(0)/persistent/size",
        "got 0, expected 1 or more",
    );
    refused(
        volume(json!({"type": "root"})),
        "/volumes(0)/persistent/size",
        "error.path.missing",
    );
    for kind in ["path", "mount"] {
        refused(
            volume(json!({"type": kind, "size": 10})),
            "/volumes(0)/persistent/type",
            kind,
        );
    }
    refused(
        volume(json!({"type": "root", "size": 10, "maxSize": 20})),
        "/volumes(0)/persistent/maxSize",
        "maxSize",
    );
    refused(
        volume(json!({"type": "root", "size": 10, "profileName": "fast"})),
        "/volumes(0)/persistent/profileName",
        "profiles",
    );
    refused(
        volume(json!({"size": 10, "constraints": [["path", "LIKE", "ssd"]]})),
        "/volumes(0)/persistent/constraints",
        "Constraints",
    );
    refused(
        volume(json!({"size": 10, "frobnicate": 1})),
        "/volumes(0)/persistent/frobnicate",
        "not a field",
    );
    refused(
        volume(json!("big")),
        "/volumes(0)/persistent",
        "error.expected.jsobject",
    );
    refused(
        with(
            resident(),
            "/volumes",
            json!([{"name": "data", "host": "/srv", "persistent": {"size": 10}}]),
        ),
        "/volumes(0)",
        "not both",
    );
}
