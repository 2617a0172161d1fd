//! Issue 15's rule for pods: every field of Marathon 1.10's pod definition (and of its
//! containers) either takes effect or is refused with a 422 naming it. Each row posts one field
//! and checks the answer: stored and rendered back as given, or refused at the field's path
//! with nothing stored. The tables in `docs/pod-fields.md` and the rows here must name the
//! same fields.

use crate::common;

use std::collections::BTreeSet;

use common::{call, start};
use serde_json::{Value, json};

enum Expect {
    /// Accepted; the pod's JSON has this value at this pointer.
    At(&'static str, Value),
    /// Accepted; the server's value at this pointer replaced the one given.
    Replaced(&'static str, Value),
    /// 422 with a detail at this path whose message contains the text.
    Refused(&'static str, &'static str),
}

fn base() -> Value {
    json!({
        "id": "/fields/pod",
        "containers": [{
            "name": "main",
            "exec": {"command": {"shell": "sleep 100"}},
            "resources": {"cpus": 0.1, "mem": 16}
        }]
    })
}

/// Pod-level rows: (field, value, expectation).
fn pod_rows() -> Vec<(&'static str, Value, Expect)> {
    use Expect::{At, Refused};
    vec![
        ("id", json!("/fields/pod"), At("/id", json!("/fields/pod"))),
        ("labels", json!({"a": "b"}), At("/labels/a", json!("b"))),
        // The server sets the version.
        (
            "version",
            json!("2000-01-01T00:00:00.000Z"),
            Expect::Replaced("/version", json!("2000-01-01T00:00:00.000Z")),
        ),
        ("user", json!("nobody"), At("/user", json!("nobody"))),
        (
            "environment",
            json!({"A": "b"}),
            At("/environment/A", json!("b")),
        ),
        (
            "containers",
            base()["containers"].clone(),
            At("/containers/0/name", json!("main")),
        ),
        (
            "secrets",
            json!({"s": {"source": "/x"}}),
            At("/secrets/s/source", json!("/x")),
        ),
        (
            "volumes",
            json!([{"name": "v"}]),
            At("/volumes/0/name", json!("v")),
        ),
        (
            "networks",
            json!([{"mode": "host"}]),
            At("/networks/0/mode", json!("host")),
        ),
        (
            "scaling",
            json!({"kind": "fixed", "instances": 3}),
            At("/scaling/instances", json!(3)),
        ),
        (
            "scheduling",
            json!({"backoff": {"backoff": 5}, "killSelection": "OLDEST_FIRST"}),
            At("/scheduling/backoff/backoff", json!(5)),
        ),
        (
            "executorResources",
            json!({"cpus": 0.5, "mem": 64, "disk": 20}),
            At("/executorResources/mem", json!(64.0)),
        ),
        ("role", json!("*"), At("/role", json!("*"))),
        (
            "linuxInfo",
            json!({"seccomp": {"unconfined": true}}),
            Refused("/linuxInfo", "linuxInfo"),
        ),
        (
            "legacySharedCgroups",
            json!(true),
            At("/legacySharedCgroups", json!(true)),
        ),
    ]
}

/// Container-level rows.
fn container_rows() -> Vec<(&'static str, Value, Expect)> {
    use Expect::{At, Refused};
    vec![
        (
            "name",
            json!("other"),
            At("/containers/0/name", json!("other")),
        ),
        (
            "exec",
            json!({"command": {"argv": ["sleep", "9"]}}),
            At("/containers/0/exec/command/argv/0", json!("sleep")),
        ),
        (
            "resources",
            json!({"cpus": 0.2, "mem": 8, "disk": 1, "gpus": 0}),
            At("/containers/0/resources/disk", json!(1.0)),
        ),
        (
            "resourceLimits",
            json!({"cpus": "unlimited"}),
            Refused("/containers(0)/resourceLimits", "resourceLimits"),
        ),
        (
            "endpoints",
            json!([{"name": "http", "hostPort": 0, "protocol": ["http"]}]),
            At("/containers/0/endpoints/0/hostPort", json!(0)),
        ),
        (
            "linuxInfo",
            json!({"seccomp": {"unconfined": true}}),
            Refused("/containers(0)/linuxInfo", "linuxInfo"),
        ),
        (
            "image",
            json!({"kind": "DOCKER", "id": "busybox:1", "forcePull": true}),
            At("/containers/0/image/forcePull", json!(true)),
        ),
        (
            "environment",
            json!({"X": "y"}),
            At("/containers/0/environment/X", json!("y")),
        ),
        (
            "user",
            json!("nobody"),
            At("/containers/0/user", json!("nobody")),
        ),
        (
            "healthCheck",
            json!({"exec": {"command": {"shell": "true"}}, "intervalSeconds": 3}),
            At("/containers/0/healthCheck/intervalSeconds", json!(3)),
        ),
        (
            "check",
            json!({"exec": {"command": {"shell": "true"}}}),
            Refused("/containers(0)/check", "healthCheck"),
        ),
        // Needs the pod volume too (added by the test for this row).
        (
            "volumeMounts",
            json!([{"name": "v", "mountPath": "data", "readOnly": true}]),
            At("/containers/0/volumeMounts/0/readOnly", json!(true)),
        ),
        (
            "artifacts",
            json!([{"uri": "http://example.com/a.tgz", "cache": true}]),
            At("/containers/0/artifacts/0/cache", json!(true)),
        ),
        (
            "labels",
            json!({"k": "v"}),
            At("/containers/0/labels/k", json!("v")),
        ),
        (
            "lifecycle",
            json!({"killGracePeriodSeconds": 7}),
            At("/containers/0/lifecycle/killGracePeriodSeconds", json!(7.0)),
        ),
        ("tty", json!(true), At("/containers/0/tty", json!(true))),
    ]
}

/// The field names of a table of the doc, after its `## heading`.
fn doc_fields(doc: &str, heading: &str) -> BTreeSet<String> {
    doc.split(&format!("## {heading}\n"))
        .nth(1)
        .expect("the section")
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| l.split('`').nth(1))
        .map(str::to_owned)
        .collect()
}

async fn check(a: &str, body: Value, field: &str, expect: &Expect) {
    let r = call(a, "POST", "/v2/pods", Some(&body.to_string())).await;
    match expect {
        Expect::At(pointer, value) => {
            assert_eq!(r.status, 201, "{field}: {:?}", r.body);
            assert_eq!(r.body.pointer(pointer), Some(value), "{field}: {}", r.body);
            let d = call(a, "DELETE", "/v2/pods/fields/pod?force=true", None).await;
            assert_eq!(d.status, 202, "{field}");
        }
        Expect::Replaced(pointer, given) => {
            assert_eq!(r.status, 201, "{field}: {:?}", r.body);
            let now = r.body.pointer(pointer).expect("the server's value");
            assert!(now.is_string() && now != given, "{field}: {}", r.body);
            let d = call(a, "DELETE", "/v2/pods/fields/pod?force=true", None).await;
            assert_eq!(d.status, 202, "{field}");
        }
        Expect::Refused(path, words) => {
            assert_eq!(r.status, 422, "{field}: {:?}", r.body);
            let detail = r.body["details"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|d| d["path"] == *path)
                .unwrap_or_else(|| panic!("{field}: no detail at {path}: {}", r.body));
            assert!(
                detail.to_string().contains(words),
                "{field}: {detail} should say {words}"
            );
            let gone = call(a, "GET", "/v2/pods/fields/pod", None).await;
            assert_eq!(gone.status, 404, "{field}: refused means not stored");
        }
    }
}

#[tokio::test]
async fn every_pod_field_takes_effect_or_is_refused_by_name() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/pod-fields.md"))
        .expect("docs/pod-fields.md");
    let pod = pod_rows();
    let containers = container_rows();
    let names = |rows: &[(&str, Value, Expect)]| -> BTreeSet<String> {
        rows.iter().map(|(f, _, _)| (*f).to_owned()).collect()
    };
    assert_eq!(
        doc_fields(&doc, "Pod"),
        names(&pod),
        "the Pod table and the rows"
    );
    assert_eq!(
        doc_fields(&doc, "Container"),
        names(&containers),
        "the Container table and the rows"
    );

    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let a = server.addr.clone();
    for (field, value, expect) in &pod {
        let mut body = base();
        body[*field] = value.clone();
        if *field == "volumes" {
            body["containers"][0]["volumeMounts"] = json!([{"name": "v", "mountPath": "v"}]);
        }
        check(&a, body, field, expect).await;
    }
    for (field, value, expect) in &containers {
        let mut body = base();
        body["containers"][0][*field] = value.clone();
        if *field == "volumeMounts" {
            body["volumes"] = json!([{"name": "v"}]);
        }
        check(&a, body, field, expect).await;
    }
    // Unknown fields, at any level, are refused by name.
    for (pointer, path) in [
        ("", "/frobnicate"),
        ("/containers/0", "/containers(0)/frobnicate"),
        (
            "/containers/0/resources",
            "/containers(0)/resources/frobnicate",
        ),
    ] {
        let mut body = base();
        body.pointer_mut(pointer).unwrap()["frobnicate"] = json!(1);
        check(
            &a,
            body,
            "frobnicate",
            &Expect::Refused(path, "unknown field"),
        )
        .await;
    }
    server.shutdown().await;
}
