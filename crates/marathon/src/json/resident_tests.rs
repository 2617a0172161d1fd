//! Resident apps in app JSON: persistent volumes and `residency` read, defaulted and rendered
//! as Marathon 1.10 does, the store round trip, and every refusal at its path.

use drover_core::marathon::app::Violation;
use drover_core::marathon::reservation::PersistentVolume;
use drover_core::marathon::unreachable::UnreachableStrategy;
use serde_json::{Value, json};

use super::app::{Mode, app_json, parse_app};

fn resident() -> Value {
    json!({
        "id": "/db/pg",
        "cmd": "echo hi >> data/log; sleep 1000",
        "cpus": 0.1, "mem": 32, "disk": 1,
        "role": "pg",
        "container": {
            "type": "MESOS",
            "volumes": [{"containerPath": "data", "mode": "RW",
                         "persistent": {"type": "root", "size": 10}}]
        }
    })
}

/// `body` with the value at `pointer` replaced.
pub(super) fn with(mut body: Value, pointer: &str, value: Value) -> Value {
    let (parent, key) = pointer.rsplit_once('/').expect("a pointer");
    body.pointer_mut(parent).expect("parent exists")[key] = value;
    body
}

/// Asserts that `problems` has one at `path` whose message says `words`.
pub(super) fn assert_names(problems: &[Violation], path: &str, words: &str) {
    assert!(
        problems
            .iter()
            .any(|v| v.path == path && v.message.contains(words)),
        "{path} / {words:?} not in {problems:?}"
    );
}

fn refused(body: Value, path: &str, words: &str) {
    let problems = parse_app(&body, None, Mode::Full).expect_err("refused");
    assert_names(&problems, path, words);
}

#[test]
fn a_resident_app_is_read_with_marathons_resident_defaults_and_rendered_back() {
    let app = parse_app(&resident(), None, Mode::Full).expect("valid");
    assert!(app.is_resident());
    assert_eq!(
        app.persistent_volumes,
        [PersistentVolume {
            container_path: "data".into(),
            size_mb: 10
        }]
    );
    assert_eq!(app.upgrade_strategy.minimum_health_capacity, 0.5);
    assert_eq!(app.upgrade_strategy.maximum_over_capacity, 0.0);
    assert_eq!(app.unreachable_strategy, UnreachableStrategy::Disabled);
    let out = Value::Object(app_json(&app));
    assert_eq!(
        out["container"]["volumes"],
        json!([{"containerPath": "data", "mode": "RW",
                "persistent": {"type": "root", "size": 10, "constraints": []}}])
    );
    assert_eq!(
        out["residency"],
        json!({"relaunchEscalationTimeoutSeconds": 3600, "taskLostBehavior": "WAIT_FOREVER"})
    );
    assert_eq!(out["unreachableStrategy"], json!("disabled"));
    assert_eq!(
        out["upgradeStrategy"],
        json!({"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.0})
    );
    // The store reads what it wrote.
    let stored = parse_app(&out, None, Mode::Stored).expect("stored form reads back");
    assert_eq!(stored.persistent_volumes, app.persistent_volumes);
    assert_eq!(Value::Object(app_json(&stored)), out);
}

#[test]
fn residency_with_marathons_values_is_accepted() {
    let body = with(
        resident(),
        "/residency",
        json!({"relaunchEscalationTimeoutSeconds": 3600, "taskLostBehavior": "WAIT_FOREVER"}),
    );
    assert!(parse_app(&body, None, Mode::Full).is_ok());
    // An explicit upgrade strategy within the resident bounds is kept.
    let body = with(
        resident(),
        "/upgradeStrategy",
        json!({"minimumHealthCapacity": 0, "maximumOverCapacity": 0}),
    );
    let app = parse_app(&body, None, Mode::Full).expect("valid");
    assert_eq!(app.upgrade_strategy.minimum_health_capacity, 0.0);
}

#[test]
fn bad_persistent_volumes_are_refused_at_their_path() {
    let v = "/container/volumes/0";
    refused(
        with(resident(), &format!("{v}/persistent/size"), json!(0)),
        &format!("{v}/persistent/size"),
        "expected 1 or more",
    );
    refused(
        with(resident(), &format!("{v}/containerPath"), json!("/data")),
        &format!("{v}/containerPath"),
        "must not contain \"/\"",
    );
    refused(
        with(resident(), &format!("{v}/containerPath"), json!("var/data")),
        &format!("{v}/containerPath"),
        "must not contain \"/\"",
    );
    refused(
        with(resident(), &format!("{v}/mode"), json!("RO")),
        &format!("{v}/mode"),
        "must be RW",
    );
    for kind in ["mount", "path"] {
        refused(
            with(resident(), &format!("{v}/persistent/type"), json!(kind)),
            &format!("{v}/persistent/type"),
            "not supported",
        );
    }
    refused(
        with(resident(), &format!("{v}/persistent/maxSize"), json!(20)),
        &format!("{v}/persistent/maxSize"),
        "mount volumes",
    );
    refused(
        with(
            resident(),
            &format!("{v}/persistent/constraints"),
            json!([["path", "LIKE", "/mnt/ssd"]]),
        ),
        &format!("{v}/persistent/constraints"),
        "Constraints on root volumes are not supported",
    );
    refused(
        with(
            resident(),
            &format!("{v}/persistent/profileName"),
            json!("fast"),
        ),
        &format!("{v}/persistent/profileName"),
        "not supported",
    );
    refused(
        with(resident(), &format!("{v}/hostPath"), json!("/srv")),
        &format!("{v}/hostPath"),
        "not a field of a persistent volume",
    );
}

#[test]
fn a_resident_app_breaking_marathons_rules_is_refused_by_field() {
    refused(with(resident(), "/role", json!("*")), "/role", "role *");
    let mut no_role = resident();
    no_role.as_object_mut().unwrap().remove("role");
    refused(no_role, "/role", "role *");
    refused(
        with(resident(), "/acceptedResourceRoles", json!(["pg"])),
        "/acceptedResourceRoles",
        "acceptedResourceRoles = [\"*\"]",
    );
    refused(
        with(
            resident(),
            "/upgradeStrategy",
            json!({"minimumHealthCapacity": 1, "maximumOverCapacity": 0.5}),
        ),
        "/upgradeStrategy/maximumOverCapacity",
        "resident",
    );
    refused(
        with(
            resident(),
            "/unreachableStrategy",
            json!({"inactiveAfterSeconds": 10, "expungeAfterSeconds": 20}),
        ),
        "/unreachableStrategy",
        "disabled",
    );
    refused(
        with(
            resident(),
            "/residency",
            json!({"taskLostBehavior": "RELAUNCH_AFTER_TIMEOUT"}),
        ),
        "/residency/taskLostBehavior",
        "WAIT_FOREVER",
    );
    refused(
        with(
            resident(),
            "/residency",
            json!({"relaunchEscalationTimeoutSeconds": 60}),
        ),
        "/residency/relaunchEscalationTimeoutSeconds",
        "3600",
    );
}

#[test]
fn a_docker_container_may_hold_persistent_volumes() {
    let app = parse_app(
        &with(
            resident(),
            "/container",
            json!({"type": "DOCKER", "docker": {"image": "busybox"},
                   "volumes": [{"containerPath": "data", "mode": "RW",
                                "persistent": {"size": 10}}]}),
        ),
        None,
        Mode::Full,
    )
    .expect("a resident Docker app is valid");
    assert_eq!(app.persistent_volumes.len(), 1);
    assert_eq!(app.persistent_volumes[0].container_path, "data");
    assert!(matches!(
        app.container,
        Some(drover_core::marathon::container::AppContainer::Docker(_))
    ));
}

#[test]
fn a_resident_apps_volumes_and_resources_do_not_change() {
    let from = parse_app(&resident(), None, Mode::Full).expect("valid");
    for (body, path) in [
        (json!({"cpus": 0.2}), "/cpus"),
        (json!({"mem": 64}), "/mem"),
        (json!({"disk": 2}), "/disk"),
        (
            json!({"container": {"type": "MESOS", "volumes": [
                {"containerPath": "data", "mode": "RW", "persistent": {"size": 20}}]}}),
            "/container/volumes",
        ),
    ] {
        let to = parse_app(&body, None, Mode::Merge(&from)).expect("readable");
        let problems = drover_core::marathon::reservation::update_problems(&from, &to);
        assert!(
            problems.iter().any(|v| v.path == path),
            "{path} not in {problems:?}"
        );
    }
    let to = parse_app(
        &json!({"instances": 3, "cmd": "sleep 5"}),
        None,
        Mode::Merge(&from),
    )
    .expect("valid");
    assert!(drover_core::marathon::reservation::update_problems(&from, &to).is_empty());
}
