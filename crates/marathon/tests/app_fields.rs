//! Issue 15 item 7: every top-level field of Marathon 1.10's app definition either takes
//! effect or is refused with a 422 naming it. Each row posts one field and checks the answer:
//! stored and rendered back as given (what running it does is shown by the test the table in
//! `docs/app-fields.md` names), or refused at the field's path. The table in the doc and the
//! rows here must name the same fields.

use crate::common;

use std::collections::BTreeSet;

use common::{call, start};
use serde_json::{Value, json};

enum Expect {
    /// Accepted; the app's JSON has this value at this pointer.
    At(&'static str, Value),
    /// 422 with a detail at `/<field>` whose message contains this.
    Refused(&'static str),
}

fn rows() -> Vec<(&'static str, Value, Expect)> {
    use Expect::{At, Refused};
    vec![
        (
            "acceptedResourceRoles",
            json!(["*"]),
            At("/acceptedResourceRoles", json!(["*"])),
        ),
        (
            "args",
            json!(["sleep", "1"]),
            At("/args", json!(["sleep", "1"])),
        ),
        (
            "backoffFactor",
            json!(2.5),
            At("/backoffFactor", json!(2.5)),
        ),
        ("backoffSeconds", json!(3), At("/backoffSeconds", json!(3))),
        (
            "check",
            json!({"exec": {"command": {"shell": "true"}}, "intervalSeconds": 5}),
            At("/check/exec/command/shell", json!("true")),
        ),
        ("cmd", json!("sleep 2"), At("/cmd", json!("sleep 2"))),
        (
            "constraints",
            json!([["hostname", "UNIQUE"]]),
            At("/constraints", json!([["hostname", "UNIQUE"]])),
        ),
        (
            "container",
            json!({"type": "DOCKER", "docker": {"image": "busybox:1"}}),
            At("/container/docker/image", json!("busybox:1")),
        ),
        ("cpus", json!(0.5), At("/cpus", json!(0.5))),
        (
            "dependencies",
            json!(["/fields/other"]),
            At("/dependencies", json!(["/fields/other"])),
        ),
        ("disk", json!(10.0), At("/disk", json!(10.0))),
        ("env", json!({"A": "b"}), At("/env/A", json!("b"))),
        ("executor", json!(""), At("/executor", json!(""))),
        // Alone (the command executor), refused; with a custom executor it takes effect
        // (`executor_resources_go_to_a_custom_executor`).
        (
            "executorResources",
            json!({"cpus": 0.1}),
            Refused("only to a custom executor"),
        ),
        (
            "fetch",
            json!([{"uri": "http://example.com/a"}]),
            At("/fetch/0/uri", json!("http://example.com/a")),
        ),
        ("gpus", json!(0), At("/gpus", json!(0))),
        (
            "healthChecks",
            json!([{"protocol": "MESOS_TCP"}]),
            At("/healthChecks/0/protocol", json!("MESOS_TCP")),
        ),
        ("id", json!("/fields/id"), At("/id", json!("/fields/id"))),
        ("instances", json!(0), At("/instances", json!(0))),
        (
            "ipAddress",
            json!({"networkName": "n"}),
            Refused("ipAddress"),
        ),
        (
            "killSelection",
            json!("OLDEST_FIRST"),
            At("/killSelection", json!("OLDEST_FIRST")),
        ),
        ("labels", json!({"a": "b"}), At("/labels/a", json!("b"))),
        (
            "maxLaunchDelaySeconds",
            json!(60),
            At("/maxLaunchDelaySeconds", json!(60)),
        ),
        ("mem", json!(64.0), At("/mem", json!(64.0))),
        (
            "networks",
            json!([{"mode": "host"}]),
            At("/networks/0/mode", json!("host")),
        ),
        (
            "portDefinitions",
            json!([{"port": 0, "name": "http"}]),
            At("/portDefinitions/0/name", json!("http")),
        ),
        (
            "ports",
            json!([0, 0]),
            At("/portDefinitions/1/protocol", json!("tcp")),
        ),
        (
            "readinessChecks",
            json!([{"portName": "default", "path": "/r"}]),
            At("/readinessChecks/0/path", json!("/r")),
        ),
        (
            "requirePorts",
            json!(true),
            At("/requirePorts", json!(true)),
        ),
        (
            "residency",
            json!({"taskLostBehavior": "WAIT_FOREVER"}),
            Refused("persistent volumes"),
        ),
        ("role", json!("*"), At("/role", json!("*"))),
        (
            "secrets",
            json!({"s": {"source": "x"}}),
            At("/secrets", json!({"s": {"source": "x"}})),
        ),
        (
            "storeUrls",
            json!(["http://example.com/s"]),
            Refused("storeUrls"),
        ),
        (
            "taskKillGracePeriodSeconds",
            json!(5),
            At("/taskKillGracePeriodSeconds", json!(5)),
        ),
        ("tty", json!(true), At("/tty", json!(true))),
        (
            "unreachableStrategy",
            json!({"inactiveAfterSeconds": 10, "expungeAfterSeconds": 20}),
            At("/unreachableStrategy/expungeAfterSeconds", json!(20)),
        ),
        (
            "upgradeStrategy",
            json!({"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.25}),
            At("/upgradeStrategy/maximumOverCapacity", json!(0.25)),
        ),
        (
            "uris",
            json!(["http://example.com/a.tgz"]),
            At("/fetch/0/extract", json!(true)),
        ),
        ("user", json!("nobody"), At("/user", json!("nobody"))),
        (
            "version",
            json!("2015-01-01T00:00:00.000Z"),
            At("/versionInfo/lastScalingAt", Value::Null),
        ),
        (
            "versionInfo",
            json!({"lastScalingAt": "2015-01-01T00:00:00.000Z"}),
            At("/versionInfo/lastScalingAt", Value::Null),
        ),
        (
            "bogusField",
            json!(1),
            Refused("unknown field 'bogusField'"),
        ),
    ]
}

/// The field names of the table in `docs/app-fields.md` (rows of the form `| \`field\` | …`).
fn documented() -> BTreeSet<String> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/app-fields.md"))
        .expect("docs/app-fields.md");
    doc.lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once('`').map(|(f, _)| f.to_owned()))
        .collect()
}

#[tokio::test]
async fn every_app_field_takes_effect_or_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let a = server.addr.clone();
    let tested: BTreeSet<String> = rows().iter().map(|(f, _, _)| f.to_string()).collect();
    let mut doc = documented();
    doc.insert("bogusField".into());
    assert_eq!(
        doc, tested,
        "docs/app-fields.md and this test name the same fields"
    );

    // What the `dependencies` row depends on (a dependency on nothing is a 422).
    let other = r#"{"id": "/fields/other", "cmd": "sleep 1", "instances": 0}"#;
    assert_eq!(call(&a, "POST", "/v2/apps", Some(other)).await.status, 201);

    for (n, (field, value, expect)) in rows().into_iter().enumerate() {
        let id = format!("/fields/f{n}");
        let mut body = json!({"id": id, "cmd": "sleep 1", "instances": 0});
        if field == "args" || field == "container" {
            body.as_object_mut().unwrap().remove("cmd");
        }
        body[field] = value;
        let id = body["id"].as_str().unwrap().to_owned();
        let r = call(&a, "POST", "/v2/apps", Some(&body.to_string())).await;
        match expect {
            Expect::At(pointer, want) => {
                assert_eq!(r.status, 201, "{field}: {:?}", r.body);
                let got = call(&a, "GET", &format!("/v2/apps{id}"), None).await;
                assert_eq!(got.status, 200, "{field}");
                let at = got.body["app"]
                    .pointer(pointer)
                    .cloned()
                    .unwrap_or(Value::Null);
                if want.is_null() {
                    // A read-only field: the server's own value, not the one posted.
                    assert_ne!(at, json!("2015-01-01T00:00:00.000Z"), "{field}: {at}");
                    assert!(at.is_string(), "{field}: {at}");
                } else {
                    assert_eq!(at, want, "{field}: {}", got.body);
                }
            }
            Expect::Refused(words) => {
                assert_eq!(r.status, 422, "{field}: {:?}", r.body);
                let details = r.body["details"].as_array().cloned().unwrap_or_default();
                assert!(
                    details.iter().any(|d| d["path"]
                        .as_str()
                        .is_some_and(|p| p.starts_with(&format!("/{field}")))
                        && d.to_string().contains(words)),
                    "{field}: a detail at /{field} saying '{words}': {:?}",
                    r.body
                );
                let gone = call(&a, "GET", &format!("/v2/apps{id}"), None).await;
                assert_eq!(gone.status, 404, "{field}: refused means not stored");
            }
        }
    }
    server.shutdown().await;
}

#[tokio::test]
async fn executor_resources_go_to_a_custom_executor() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let a = server.addr.clone();
    let body = json!({"id": "/ex", "cmd": "sleep 1", "instances": 0,
        "executor": "/opt/executor", "executorResources": {"mem": 64}});
    let r = call(&a, "POST", "/v2/apps", Some(&body.to_string())).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let got = call(&a, "GET", "/v2/apps/ex", None).await;
    // Fields not given take Marathon's defaults.
    assert_eq!(
        got.body["app"]["executorResources"],
        json!({"cpus": 0.1, "mem": 64.0, "disk": 10.0})
    );
    // Below Marathon's minimum: refused at the field.
    let body = json!({"id": "/ex2", "cmd": "sleep 1", "executor": "/opt/executor",
        "executorResources": {"cpus": 0.01}});
    let r = call(&a, "POST", "/v2/apps", Some(&body.to_string())).await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    assert!(
        r.body.to_string().contains("/executorResources/cpus"),
        "{}",
        r.body
    );
    server.shutdown().await;
}

#[tokio::test]
async fn endpoints_drover_does_not_serve_answer_with_a_message_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let a = server.addr.clone();
    for (method, path, words) in [
        ("GET", "/v2/eventSubscriptions", "eventSubscriptions"),
        ("GET", "/v2/artifacts/x", "artifact"),
        ("GET", "/v2/plugins", "plugins"),
        ("GET", "/v2/schema/app", "schema"),
    ] {
        let r = call(&a, method, path, None).await;
        assert_eq!(r.status, 501, "{method} {path}: {:?}", r.body);
        let message = r.body["message"].as_str().unwrap_or_default();
        assert!(message.contains(words), "{method} {path}: {message}");
    }
    let r = call(&a, "GET", "/v2/nothing-here", None).await;
    assert_eq!(r.status, 404);
    assert!(
        r.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("/v2/nothing-here")),
        "{:?}",
        r.body
    );
    server.shutdown().await;
}

/// Pods are served without any feature flag, as in Marathon (the capability probe answers
/// 200); `--enable_features=pods` (which earlier Drover releases needed) is still accepted,
/// and any other feature name stops the start, naming it, rather than being ignored.
#[tokio::test]
async fn pods_are_always_on_and_unknown_features_stop_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(dir.path()).await;
    let r = call(&server.addr, "HEAD", "/v2/pods", None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    server.shutdown().await;

    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut flags = common::flags(dir.path());
    flags.enable_features = vec!["pods".into(), "gpu_resources".into()];
    let err = drover_marathon::serve(flags, listener, async {})
        .await
        .expect_err("an unknown feature is refused");
    assert!(err.to_string().contains("'gpu_resources'"), "{err}");
    assert!(!err.to_string().contains("'pods'"), "{err}");
}
