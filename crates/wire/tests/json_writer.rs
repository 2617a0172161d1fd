//! Writer rules from stout's `JSON::Protobuf`: declaration order, explicit defaults, numbers,
//! bytes, enums and non-finite doubles, checked on exact output text.

use drover_wire::json::{MAX_DEPTH, from_json_str, to_json_string, to_json_value};
use drover_wire::v1;

fn task_id(value: &str) -> v1::TaskId {
    v1::TaskId {
        value: value.into(),
    }
}

#[test]
fn explicit_non_deprecated_defaults_are_written_when_unset() {
    assert_eq!(
        to_json_string(&v1::Filters::default()),
        r#"{"refuse_seconds":5.0}"#
    );
    assert_eq!(
        to_json_string(&v1::CommandInfo::default()),
        r#"{"shell":true}"#
    );
    assert_eq!(
        to_json_string(&v1::HealthCheck::default()),
        concat!(
            r#"{"delay_seconds":15.0,"interval_seconds":10.0,"timeout_seconds":20.0,"#,
            r#""consecutive_failures":3,"grace_period_seconds":10.0}"#
        )
    );
    assert_eq!(
        to_json_string(&v1::network_info::IpAddress::default()),
        r#"{"protocol":"IPv4"}"#
    );
    // `hostname` is required, so prost always carries it; `port` is the `[default = 5051]`.
    assert_eq!(
        to_json_string(&v1::AgentInfo::default()),
        r#"{"hostname":"","port":5051}"#
    );
}

#[test]
fn deprecated_defaults_are_not_written() {
    // `Resource.role` and `FrameworkInfo.role` are `[default = "*", deprecated = true]`.
    let resource = v1::Resource {
        name: "cpus".into(),
        scalar: Some(v1::value::Scalar { value: 1.0 }),
        ..Default::default()
    };
    assert_eq!(
        to_json_string(&resource),
        r#"{"name":"cpus","type":"SCALAR","scalar":{"value":1.0}}"#
    );
    let framework = v1::FrameworkInfo {
        user: "u".into(),
        name: "n".into(),
        ..Default::default()
    };
    assert_eq!(
        to_json_string(&framework),
        r#"{"user":"u","name":"n","failover_timeout":0.0,"checkpoint":false}"#
    );
    // Set explicitly, a deprecated field is written like any other (Mesos' own offers do
    // this for `role`).
    #[allow(deprecated)]
    let resource = v1::Resource {
        role: Some("*".into()),
        ..resource
    };
    assert!(to_json_string(&resource).contains(r#""role":"*""#));
}

#[test]
fn fields_are_written_in_declaration_order_not_number_order() {
    // TaskStatus declares message(4), source(9), reason(10), data(3), agent_id(5), ...
    let status = v1::TaskStatus {
        task_id: task_id("t"),
        state: v1::TaskState::TaskFailed as i32,
        message: Some("boom".into()),
        source: Some(v1::task_status::Source::Agent as i32),
        reason: Some(v1::task_status::Reason::ContainerLimitationMemory as i32),
        data: Some(b"\x00\xffhi".to_vec()),
        agent_id: Some(v1::AgentId { value: "a".into() }),
        timestamp: Some(1_700_000_000.0),
        uuid: Some(vec![0xfb; 16]),
        healthy: Some(false),
        ..Default::default()
    };
    assert_eq!(
        to_json_string(&status),
        concat!(
            r#"{"task_id":{"value":"t"},"state":"TASK_FAILED","message":"boom","#,
            r#""source":"SOURCE_AGENT","reason":"REASON_CONTAINER_LIMITATION_MEMORY","#,
            r#""data":"AP9oaQ==","agent_id":{"value":"a"},"timestamp":1700000000.0,"#,
            r#""uuid":"+/v7+/v7+/v7+/v7+/v7+w==","healthy":false}"#
        )
    );
}

#[test]
fn sixty_four_bit_integers_are_json_numbers() {
    let range = v1::value::Range {
        begin: 0,
        end: u64::MAX,
    };
    assert_eq!(
        to_json_string(&range),
        r#"{"begin":0,"end":18446744073709551615}"#
    );
    let duration = v1::DurationInfo {
        nanoseconds: i64::MIN,
    };
    assert_eq!(
        to_json_string(&duration),
        r#"{"nanoseconds":-9223372036854775808}"#
    );
    assert_eq!(
        from_json_str::<v1::value::Range>(&to_json_string(&range)).unwrap(),
        range
    );
    assert_eq!(
        from_json_str::<v1::DurationInfo>(&to_json_string(&duration)).unwrap(),
        duration
    );
}

#[test]
fn infinities_are_bare_in_text_and_strings_in_values() {
    let filters = v1::Filters {
        refuse_seconds: Some(f64::INFINITY),
    };
    assert_eq!(to_json_string(&filters), r#"{"refuse_seconds":Infinity}"#);
    assert_eq!(
        to_json_value(&filters),
        serde_json::json!({"refuse_seconds": "Infinity"})
    );
    let filters = v1::Filters {
        refuse_seconds: Some(f64::NEG_INFINITY),
    };
    assert_eq!(to_json_string(&filters), r#"{"refuse_seconds":-Infinity}"#);
    // Both forms read back.
    let text = to_json_string(&filters);
    assert_eq!(from_json_str::<v1::Filters>(&text).unwrap(), filters);
    let value = to_json_value(&filters).to_string();
    assert_eq!(from_json_str::<v1::Filters>(&value).unwrap(), filters);
}

#[test]
fn strings_are_escaped_and_utf8_is_kept() {
    let id = task_id("quote\" back\\ nl\n tab\t bell\u{7} é ✓ /");
    let text = to_json_string(&id);
    assert_eq!(
        text,
        r#"{"value":"quote\" back\\ nl\n tab\t bell\u0007 é ✓ /"}"#
    );
    assert_eq!(from_json_str::<v1::TaskId>(&text).unwrap(), id);
}

#[test]
fn enum_numbers_the_enum_lacks_are_left_out() {
    // protobuf's C++ runtime would keep such a value as an unknown field, never written.
    let status = v1::TaskStatus {
        task_id: task_id("t"),
        state: 999,
        source: Some(-3),
        ..Default::default()
    };
    assert_eq!(to_json_string(&status), r#"{"task_id":{"value":"t"}}"#);
}

#[test]
fn empty_repeated_and_map_fields_are_left_out() {
    let info = v1::TaskInfo {
        name: "t".into(),
        task_id: task_id("t"),
        agent_id: v1::AgentId { value: "a".into() },
        resources: vec![],
        limits: Default::default(),
        ..Default::default()
    };
    assert_eq!(
        to_json_string(&info),
        r#"{"name":"t","task_id":{"value":"t"},"agent_id":{"value":"a"}}"#
    );
}

fn container_id_chain(levels: usize) -> v1::ContainerId {
    let mut id = v1::ContainerId {
        value: "leaf".into(),
        parent: None,
    };
    for _ in 1..levels {
        id = v1::ContainerId {
            value: "c".into(),
            parent: Some(Box::new(id)),
        };
    }
    id
}

fn json_depth(value: &serde_json::Value) -> usize {
    match value {
        serde_json::Value::Object(map) => 1 + map.values().map(json_depth).max().unwrap_or(0),
        serde_json::Value::Array(items) => 1 + items.iter().map(json_depth).max().unwrap_or(0),
        _ => 0,
    }
}

#[test]
fn deep_messages_are_cut_at_the_depth_the_reader_accepts() {
    let exact = container_id_chain(MAX_DEPTH);
    let text = to_json_string(&exact);
    assert_eq!(from_json_str::<v1::ContainerId>(&text).unwrap(), exact);

    let deeper = to_json_value(&container_id_chain(MAX_DEPTH + 20));
    assert_eq!(json_depth(&deeper), MAX_DEPTH);
    // Beyond prost's own 100-level limit the writer still returns, without panicking.
    let _ = to_json_string(&container_id_chain(500));
}

#[test]
fn doubles_use_rapidjson_layout() {
    // Integral values keep `.0`, exponents only outside 1e-6..1e21, and every value reads
    // back to the same double.
    for (value, text) in [
        (0.1, "0.1"),
        (1.0, "1.0"),
        (1e-7, "1e-7"),
        (123_456_789.0, "123456789.0"),
        (1e21, "1e21"),
    ] {
        let filters = v1::Filters {
            refuse_seconds: Some(value),
        };
        assert_eq!(
            to_json_string(&filters),
            format!(r#"{{"refuse_seconds":{text}}}"#)
        );
        assert_eq!(
            from_json_str::<v1::Filters>(&to_json_string(&filters)).unwrap(),
            filters
        );
    }
}
