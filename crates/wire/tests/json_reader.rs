//! Reader edge cases: what Mesos' `protobuf::parse` accepts, refuses, and the error texts
//! clients see, plus Drover's bounds on hostile input.

use drover_wire::json::{
    JsonError, JsonKind, MAX_DEPTH, from_json_str, from_json_value, to_json_string,
};
use drover_wire::v1;
use v1::scheduler::{Call, Event};

fn call(text: &str) -> Result<Call, JsonError> {
    from_json_str(text)
}

fn status(text: &str) -> Result<v1::TaskStatus, JsonError> {
    from_json_str(text)
}

#[test]
fn unknown_fields_are_ignored() {
    // Newer clients send fields an older master does not know; Mesos ignores them.
    let parsed =
        call(r#"{"type":"HEARTBEAT_PLEASE","bogus":{"x":[1,2]},"type2":"TEARDOWN"}"#).unwrap();
    assert_eq!(parsed, Call::default());
}

#[test]
fn null_means_unset() {
    let parsed = call(r#"{"type":"TEARDOWN","framework_id":null,"subscribe":null}"#).unwrap();
    assert_eq!(parsed.r#type(), v1::scheduler::call::Type::Teardown);
    assert!(parsed.framework_id.is_none() && parsed.subscribe.is_none());
}

#[test]
fn numbers_may_be_strings() {
    let event: Event = from_json_str(
        r#"{"type":"SUBSCRIBED","subscribed":{"framework_id":{"value":"f"},
            "heartbeat_interval_seconds":"15","master_info":{"id":"m","ip":"16777343",
            "port":" 5050 "}}}"#,
    )
    .unwrap();
    let subscribed = event.subscribed.unwrap();
    assert_eq!(subscribed.heartbeat_interval_seconds, Some(15.0));
    let master = subscribed.master_info.unwrap();
    assert_eq!((master.ip, master.port), (16_777_343, 5050));
}

#[test]
fn non_numeric_string_for_a_number_names_the_field() {
    let err =
        call(r#"{"type":"DECLINE","decline":{"filters":{"refuse_seconds":"soon"}}}"#).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Failed to parse 'soon' as a JSON number for field 'refuse_seconds'"
    );
}

#[test]
fn bools_may_be_strings() {
    let parsed =
        call(r#"{"subscribe":{"framework_info":{"user":"u","name":"n","checkpoint":"true"}}}"#)
            .unwrap();
    assert_eq!(
        parsed.subscribe.unwrap().framework_info.checkpoint,
        Some(true)
    );
    let err =
        call(r#"{"subscribe":{"framework_info":{"user":"u","name":"n","checkpoint":"yes"}}}"#)
            .unwrap_err();
    assert_eq!(
        err,
        JsonError::InvalidBool {
            field: "checkpoint".into(),
            text: "yes".into()
        }
    );
}

#[test]
fn infinity_is_accepted_for_doubles_quoted_or_bare() {
    for text in [
        r#"{"decline":{"filters":{"refuse_seconds":"Infinity"}}}"#,
        r#"{"decline":{"filters":{"refuse_seconds":Infinity}}}"#,
    ] {
        let parsed = call(text).unwrap();
        let refuse = parsed.decline.unwrap().filters.unwrap().refuse_seconds;
        assert_eq!(refuse, Some(f64::INFINITY), "{text}");
    }
    let parsed = call(r#"{"decline":{"filters":{"refuse_seconds":"-Infinity"}}}"#).unwrap();
    assert_eq!(
        parsed.decline.unwrap().filters.unwrap().refuse_seconds,
        Some(f64::NEG_INFINITY)
    );
}

#[test]
fn unknown_enum_in_optional_field_is_dropped() {
    // proto2 semantics, as stout implements them: the field stays unset.
    let parsed = status(
        r#"{"task_id":{"value":"t"},"state":"TASK_RUNNING","source":"SOURCE_MARS",
            "reason":"REASON_COSMIC_RAY"}"#,
    )
    .unwrap();
    assert!(parsed.source.is_none() && parsed.reason.is_none());
    // In a repeated field only the unknown element is dropped.
    let parsed = call(
        r#"{"subscribe":{"framework_info":{"user":"u","name":"n",
            "capabilities":[{"type":"TELEPATHY"},{"type":"MULTI_ROLE"}]}}}"#,
    )
    .unwrap();
    let capabilities = parsed.subscribe.unwrap().framework_info.capabilities;
    assert_eq!(capabilities.len(), 2);
    assert!(capabilities[0].r#type.is_none());
    assert_eq!(
        capabilities[1].r#type(),
        v1::framework_info::capability::Type::MultiRole
    );
}

#[test]
fn unknown_enum_in_required_field_is_an_error() {
    let err = status(r#"{"task_id":{"value":"t"},"state":"TASK_NAPPING"}"#).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Failed to find enum for 'TASK_NAPPING' in field 'state'"
    );
}

#[test]
fn enums_are_accepted_by_name_only() {
    // stout has no number case for enum fields.
    let err = call(r#"{"type":1}"#).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Not expecting a JSON number for field 'type'"
    );
}

#[test]
fn v0_slave_spellings_map_to_agent() {
    let parsed = status(
        r#"{"task_id":{"value":"t"},"state":"TASK_LOST","source":"SOURCE_SLAVE",
            "reason":"REASON_SLAVE_REMOVED"}"#,
    )
    .unwrap();
    assert_eq!(parsed.source(), v1::task_status::Source::Agent);
    assert_eq!(parsed.reason(), v1::task_status::Reason::AgentRemoved);
    let parsed =
        status(r#"{"task_id":{"value":"t"},"state":"TASK_LOST","reason":"REASON_SLAVE_REMOVED_BY_OPERATOR"}"#)
            .unwrap();
    assert_eq!(
        parsed.reason(),
        v1::task_status::Reason::AgentRemovedByOperator
    );
}

#[test]
fn missing_required_fields_are_listed_with_paths() {
    let err =
        call(r#"{"type":"ACKNOWLEDGE","acknowledge":{"agent_id":{"value":"a"},"task_id":{}}}"#)
            .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Missing required fields: acknowledge.uuid, acknowledge.task_id.value"
    );
    let err =
        call(r#"{"accept":{"offer_ids":[{"value":"o"},{}],"operations":[{"type":"LAUNCH"}]}}"#)
            .unwrap_err();
    assert_eq!(
        err,
        JsonError::MissingRequired(vec!["accept.offer_ids[1].value".into()])
    );
    let err = call(r#"{"subscribe":{}}"#).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Missing required fields: subscribe.framework_info"
    );
}

#[test]
fn wrong_json_type_names_the_field_like_mesos() {
    // douban/pymesos#71: a bare string where FrameworkID is expected.
    let err = call(r#"{"type":"SUBSCRIBE","framework_id":"abc"}"#).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Not expecting a JSON string for field 'framework_id'"
    );
    let cases = [
        (r#"{"type":{}}"#, "type", JsonKind::Object),
        (r#"{"type":["SUBSCRIBE"]}"#, "type", JsonKind::Array),
        (r#"{"type":true}"#, "type", JsonKind::Boolean),
        (r#"{"framework_id":7}"#, "framework_id", JsonKind::Number),
        (r#"{"framework_id":{"value":5}}"#, "value", JsonKind::Number),
        (
            r#"{"subscribe":{"suppressed_roles":[{"x":1}]}}"#,
            "suppressed_roles",
            JsonKind::Object,
        ),
    ];
    for (text, field, found) in cases {
        assert_eq!(
            call(text).unwrap_err(),
            JsonError::UnexpectedType {
                field: field.into(),
                found
            },
            "{text}"
        );
    }
}

#[test]
fn top_level_must_be_an_object() {
    for text in ["[]", "\"SUBSCRIBE\"", "5", "null"] {
        assert_eq!(call(text).unwrap_err(), JsonError::NotAnObject, "{text}");
    }
    assert_eq!(
        call("[]").unwrap_err().to_string(),
        "Expecting a JSON object"
    );
}

#[test]
fn syntax_errors_are_syntax_errors() {
    for text in ["", "{", "{\"type\":}", "{} {}", "{\"type\":\"SUBSCRIBE\",}"] {
        assert!(matches!(call(text), Err(JsonError::Syntax(_))), "{text:?}");
    }
}

#[test]
fn invalid_base64_is_an_error_naming_the_field() {
    let err = call(
        r#"{"acknowledge":{"agent_id":{"value":"a"},"task_id":{"value":"t"},"uuid":"Xw4b*D1O"}}"#,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Failed to base64 decode bytes field 'uuid': Invalid character '*'"
    );
}

#[test]
fn base64_is_read_leniently_like_stout() {
    // Missing padding and embedded newlines are accepted, as stout's decoder does.
    for uuid in ["Xw4bLD1OT2CKGyw9Tl9gcQ", "Xw4bLD1O\nT2CKGyw9Tl9gcQ=="] {
        let text = format!(
            r#"{{"acknowledge":{{"agent_id":{{"value":"a"}},"task_id":{{"value":"t"}},"uuid":{}}}}}"#,
            serde_json::to_string(uuid).unwrap()
        );
        let parsed = call(&text).unwrap();
        assert_eq!(parsed.acknowledge.unwrap().uuid.len(), 16, "{uuid:?}");
    }
}

#[test]
fn integers_out_of_range_are_errors_not_wraparound() {
    let err = status(
        r#"{"task_id":{"value":"t"},"state":"TASK_RUNNING","container_status":{"executor_pid":-1}}"#,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "JSON number -1 is out of range for field 'executor_pid' (uint32)"
    );
    let err = status(
        r#"{"task_id":{"value":"t"},"state":"TASK_RUNNING","container_status":{"executor_pid":4294967296}}"#,
    )
    .unwrap_err();
    assert!(matches!(err, JsonError::OutOfRange { .. }), "{err}");
    // Fractions truncate toward zero, as stout's cast does.
    let parsed = status(
        r#"{"task_id":{"value":"t"},"state":"TASK_RUNNING","container_status":{"executor_pid":42.9}}"#,
    )
    .unwrap();
    assert_eq!(parsed.container_status.unwrap().executor_pid, Some(42));
}

#[test]
fn a_single_element_is_accepted_for_a_repeated_field() {
    // stout visits a non-array value for a repeated field as one element.
    let parsed =
        call(r#"{"decline":{"offer_ids":{"value":"o1"}},"revive":{"roles":"web"}}"#).unwrap();
    assert_eq!(parsed.decline.unwrap().offer_ids[0].value, "o1");
    assert_eq!(parsed.revive.unwrap().roles, vec!["web".to_owned()]);
}

#[test]
fn maps_are_json_objects() {
    let info: v1::TaskInfo = from_json_str(
        r#"{"name":"t","task_id":{"value":"t"},"agent_id":{"value":"a"},
            "limits":{"mem":{"value":512},"cpus":{"value":"Infinity"}}}"#,
    )
    .unwrap();
    assert_eq!(info.limits["mem"].value, 512.0);
    assert_eq!(info.limits["cpus"].value, f64::INFINITY);
    assert_eq!(
        to_json_string(&info),
        r#"{"name":"t","task_id":{"value":"t"},"agent_id":{"value":"a"},"limits":{"cpus":{"value":Infinity},"mem":{"value":512.0}}}"#
    );
    let err = from_json_str::<v1::TaskInfo>(
        r#"{"name":"t","task_id":{"value":"t"},"agent_id":{"value":"a"},"limits":{"cpus":{}}}"#,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Missing required fields: limits[cpus].value.value"
    );
}

/// `{"value":"c","parent":{…}}` nested `levels` deep.
fn container_id_chain(levels: usize) -> String {
    let mut text = String::new();
    for _ in 1..levels {
        text.push_str(r#"{"value":"c","parent":"#);
    }
    text.push_str(r#"{"value":"c"}"#);
    text.push_str(&"}".repeat(levels - 1));
    text
}

#[test]
fn nesting_is_bounded() {
    assert!(from_json_str::<v1::ContainerId>(&container_id_chain(MAX_DEPTH)).is_ok());
    assert_eq!(
        from_json_str::<v1::ContainerId>(&container_id_chain(MAX_DEPTH + 1)).unwrap_err(),
        JsonError::TooDeep
    );
    // Arrays count too (stout flattens nested arrays into a repeated field).
    let nested = format!(
        "{{\"roles\":{}\"web\"{}}}",
        "[".repeat(100),
        "]".repeat(100)
    );
    let err = from_json_str::<v1::scheduler::call::Revive>(&nested).unwrap_err();
    assert_eq!(err, JsonError::TooDeep);
    // Far deeper than anything is refused by the JSON parser itself, without recursion.
    let deep = container_id_chain(100_000);
    assert!(matches!(
        from_json_str::<v1::ContainerId>(&deep),
        Err(JsonError::Syntax(_))
    ));
}

#[test]
fn deep_json_values_are_bounded_too() {
    // `from_json_value` on a value built in code (not limited by the JSON parser).
    let mut value = serde_json::json!({"value": "c"});
    for _ in 0..200 {
        value = serde_json::json!({"value": "c", "parent": value});
    }
    assert_eq!(
        from_json_value::<v1::ContainerId>(&value).unwrap_err(),
        JsonError::TooDeep
    );
}

#[test]
fn nested_arrays_flatten_like_stout() {
    let parsed: v1::scheduler::call::Revive =
        from_json_str(r#"{"roles":[["a","b"],"c",[],null]}"#).unwrap();
    assert_eq!(parsed.roles, vec!["a", "b", "c"]);
}

/// JSON values whose keys are mostly real field names of `Call`, `Event` and what they
/// contain, so random documents reach deep into the mapper instead of being ignored.
fn mesos_like_json() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
    use proptest::prelude::*;
    use serde_json::Value;
    let key = prop::sample::select(vec![
        "type",
        "framework_id",
        "value",
        "subscribe",
        "framework_info",
        "user",
        "name",
        "failover_timeout",
        "checkpoint",
        "roles",
        "capabilities",
        "accept",
        "offer_ids",
        "operations",
        "launch",
        "task_infos",
        "task_id",
        "agent_id",
        "resources",
        "scalar",
        "ranges",
        "range",
        "begin",
        "end",
        "limits",
        "cpus",
        "acknowledge",
        "uuid",
        "filters",
        "refuse_seconds",
        "update",
        "status",
        "state",
        "source",
        "reason",
        "timestamp",
        "container_status",
        "container_id",
        "parent",
        "executor_pid",
        "health_check",
        "http",
        "port",
        "kill_policy",
        "grace_period",
        "nanoseconds",
        "offer_constraints",
        "role_constraints",
        "groups",
        "bogus",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop::sample::select(vec![
            "SUBSCRIBE",
            "ACCEPT",
            "SCALAR",
            "TASK_RUNNING",
            "SOURCE_SLAVE",
            "Infinity",
            "-Infinity",
            "NaN",
            "5",
            "-1",
            "1e400",
            "true",
            "Xw4bLD1OT2CKGyw9Tl9gcQ==",
            "!",
            "",
        ])
        .prop_map(Value::from),
        ".*".prop_map(Value::String),
    ];
    leaf.prop_recursive(8, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6).prop_map(|entries| {
                Value::Object(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect(),
                )
            }),
        ]
    })
}

proptest::proptest! {
    #[test]
    fn random_json_never_panics_and_accepted_input_is_stable(json in mesos_like_json()) {
        // Whatever the reader accepts, the writer writes, and writing is a fixed point:
        // reading the written text and writing again gives the same text.
        if let Ok(call) = from_json_value::<Call>(&json) {
            let text = to_json_string(&call);
            let again: Call = from_json_str(&text).unwrap();
            proptest::prop_assert_eq!(to_json_string(&again), text);
        }
        if let Ok(event) = from_json_value::<Event>(&json) {
            let text = to_json_string(&event);
            let again: Event = from_json_str(&text).unwrap();
            proptest::prop_assert_eq!(to_json_string(&again), text);
        }
    }

    #[test]
    fn random_text_never_panics(text in ".{0,200}") {
        let _ = from_json_str::<Call>(&text);
        let _ = from_json_str::<Event>(&format!("{{\"type\":{text}}}"));
    }
}

/// Every JSON pointer inside `value`, parents before children.
fn pointers(value: &serde_json::Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match value {
        serde_json::Value::Object(map) => {
            for (key, child) in map {
                pointers(child, format!("{at}/{key}"), out);
            }
        }
        serde_json::Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                pointers(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn golden_inputs() -> &'static [(bool, serde_json::Value)] {
    static INPUTS: std::sync::OnceLock<Vec<(bool, serde_json::Value)>> = std::sync::OnceLock::new();
    INPUTS.get_or_init(read_golden_inputs)
}

fn read_golden_inputs() -> Vec<(bool, serde_json::Value)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut inputs: Vec<(bool, serde_json::Value)> = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".json") && !name.ends_with(".expected.json") {
            let text = std::fs::read_to_string(&path).unwrap();
            inputs.push((name.contains("_call"), serde_json::from_str(&text).unwrap()));
        }
    }
    inputs.sort_by_key(|(is_call, value)| (*is_call, value.to_string()));
    inputs
}

fn assert_stable<M: prost_reflect::ReflectMessage + Default>(json: &serde_json::Value) {
    if let Ok(message) = from_json_value::<M>(json) {
        let text = to_json_string(&message);
        let again: M = from_json_str(&text).unwrap();
        assert_eq!(to_json_string(&again), text);
    }
}

proptest::proptest! {
    #[test]
    fn mutated_golden_messages_never_panic_and_stay_stable(
        which in proptest::prelude::any::<proptest::sample::Index>(),
        mutations in proptest::collection::vec(
            (proptest::prelude::any::<proptest::sample::Index>(), mesos_like_json()),
            1..4,
        ),
    ) {
        // Start from real messages and replace random subtrees, so most of the mapper's
        // paths (including successful ones) are exercised with odd values.
        let inputs = golden_inputs();
        let (is_call, mut json) = inputs[which.index(inputs.len())].clone();
        for (at, replacement) in mutations {
            let mut all = Vec::new();
            pointers(&json, String::new(), &mut all);
            let pointer = &all[at.index(all.len())];
            if pointer.is_empty() {
                continue;
            }
            if let Some(slot) = json.pointer_mut(pointer) {
                *slot = replacement;
            }
        }
        if is_call {
            assert_stable::<Call>(&json);
        } else {
            assert_stable::<Event>(&json);
        }
    }
}
