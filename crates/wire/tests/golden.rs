//! Golden wire messages from the Mesos spec (§3): each `tests/golden/NAME.json` is parsed into
//! its typed message and written back; the result must equal `NAME.expected.json` as a JSON
//! value (key order aside). Expected files differ from their inputs only where Mesos' writer
//! drops or adds fields; each such case says why below.

use std::path::PathBuf;

use drover_wire::json::{from_json_str, to_json_string, to_json_value};
use drover_wire::v1;
use prost_reflect::ReflectMessage;
use serde_json::Value;

fn golden(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// Parses `NAME.json` as `M`, writes it, and compares with `NAME.expected.json`; then checks
/// that the protobuf encoding carries the same message (JSON → message → bytes → message →
/// JSON gives the same document).
fn check<M: ReflectMessage + Default + PartialEq>(name: &str) {
    let input = golden(&format!("{name}.json"));
    let expected: Value = serde_json::from_str(&golden(&format!("{name}.expected.json")))
        .expect("expected file is JSON");

    let message: M = from_json_str(&input).unwrap_or_else(|err| panic!("{name}: {err}"));
    let text = to_json_string(&message);
    let written: Value = serde_json::from_str(&text).expect("writer output is JSON");
    // Mesos writes compact single-line JSON; serde_json's compact form of the same document
    // (insertion order kept) must be byte-identical.
    assert_eq!(
        text,
        serde_json::to_string(&written).unwrap(),
        "{name}: not compact"
    );
    assert_eq!(
        written, expected,
        "{name}: written JSON differs from the expected file"
    );
    assert_eq!(
        to_json_value(&message),
        expected,
        "{name}: to_json_value differs"
    );

    let bytes = message.encode_to_vec();
    let decoded = M::decode(bytes.as_slice()).expect("own protobuf encoding decodes");
    assert!(
        decoded == message,
        "{name}: protobuf round trip changed the message"
    );
    assert_eq!(
        to_json_value(&decoded),
        expected,
        "{name}: JSON after protobuf round trip"
    );

    // The writer's output is itself valid input and reads back to the same document (not
    // always the same message: written defaults come back as set fields, as with Mesos).
    let reread: M = from_json_str(&text).unwrap_or_else(|err| panic!("{name}: reread: {err}"));
    assert_eq!(
        to_json_value(&reread),
        expected,
        "{name}: writer output does not read back"
    );
}

#[test]
fn subscribe_call() {
    // `"suppressed_roles": []` disappears: stout writes repeated fields only when non-empty.
    // `FrameworkInfo.role` (`[default = "*", deprecated = true]`) stays out: deprecated
    // defaults are not written.
    check::<v1::scheduler::Call>("subscribe_call");
}

#[test]
fn subscribe_minimal_call() {
    // What pymesos sends when no options are set. Mesos' writer adds
    // `failover_timeout: 0.0` and `checkpoint: false`: both have an explicit `[default = …]`.
    check::<v1::scheduler::Call>("subscribe_minimal_call");
}

#[test]
fn subscribed_event() {
    check::<v1::scheduler::Event>("subscribed_event");
}

#[test]
fn offers_event() {
    // `"role": "*"` is written because it is set, even though the field is deprecated.
    check::<v1::scheduler::Event>("offers_event");
}

#[test]
fn accept_call() {
    // `health_check.http.protocol: "IPv4"` appears: `HTTPCheckInfo.protocol` has
    // `[default = IPv4]`. The HealthCheck timing fields are all set explicitly here.
    check::<v1::scheduler::Call>("accept_call");
}

#[test]
fn decline_call() {
    // An empty `filters` object comes back as `{"refuse_seconds": 5.0}`:
    // `Filters.refuse_seconds` has `[default = 5.0]`.
    check::<v1::scheduler::Call>("decline_call");
}

#[test]
fn update_event() {
    check::<v1::scheduler::Event>("update_event");
}

#[test]
fn acknowledge_call() {
    check::<v1::scheduler::Call>("acknowledge_call");
}

#[test]
fn reconciliation_update_event() {
    check::<v1::scheduler::Event>("reconciliation_update_event");
}

#[test]
fn heartbeat_event() {
    check::<v1::scheduler::Event>("heartbeat_event");
}

#[test]
fn error_event() {
    check::<v1::scheduler::Event>("error_event");
}

#[test]
fn heartbeat_text_is_byte_exact() {
    // The RecordIO example in Mesos' docs frames exactly these 20 bytes.
    let event: v1::scheduler::Event = from_json_str(&golden("heartbeat_event.json")).unwrap();
    assert_eq!(to_json_string(&event), r#"{"type":"HEARTBEAT"}"#);
}

#[test]
fn acknowledge_text_is_byte_exact() {
    // Declaration order (`Call` declares `framework_id` before `type`, whatever order the
    // client used), compact separators, base64 with padding.
    let call: v1::scheduler::Call = from_json_str(&golden("acknowledge_call.json")).unwrap();
    assert_eq!(
        to_json_string(&call),
        concat!(
            r#"{"framework_id":{"value":"3f2c8a1e-6c1d-4c3e-9a55-0b1d2e3f4a5b-0000"},"#,
            r#""type":"ACKNOWLEDGE","acknowledge":{"#,
            r#""agent_id":{"value":"3f2c8a1e-6c1d-4c3e-9a55-0b1d2e3f4a5b-S2"},"#,
            r#""task_id":{"value":"web.1-7d1b"},"uuid":"Xw4bLD1OT2CKGyw9Tl9gcQ=="}}"#
        )
    );
}

#[test]
fn update_event_fields_are_typed() {
    // The golden UPDATE parses into the values a scheduler acts on.
    let event: v1::scheduler::Event = from_json_str(&golden("update_event.json")).unwrap();
    let status = event.update.expect("update").status;
    assert_eq!(status.state(), v1::TaskState::TaskRunning);
    assert_eq!(status.source(), v1::task_status::Source::Executor);
    assert_eq!(status.timestamp, Some(1_700_000_123.456));
    assert_eq!(status.uuid.as_deref().map(<[u8]>::len), Some(16));
}
