//! Body decoding with Mesos' error texts for both encodings, and encode/decode round trips.

use drover_wire::codec::{DecodeError, Encoding, decode, encode};
use drover_wire::v1;
use prost::Message;
use v1::scheduler::Call;

fn acknowledge() -> Call {
    Call {
        framework_id: Some(v1::FrameworkId { value: "f".into() }),
        r#type: Some(v1::scheduler::call::Type::Acknowledge as i32),
        acknowledge: Some(v1::scheduler::call::Acknowledge {
            agent_id: v1::AgentId { value: "a".into() },
            task_id: v1::TaskId { value: "t".into() },
            uuid: vec![7; 16],
        }),
        ..Default::default()
    }
}

#[test]
fn both_encodings_round_trip() {
    for encoding in [Encoding::Json, Encoding::Protobuf] {
        let body = encode(&acknowledge(), encoding);
        assert_eq!(
            decode::<Call>(&body, encoding).unwrap(),
            acknowledge(),
            "{encoding:?}"
        );
    }
    assert_eq!(
        encode(&acknowledge(), Encoding::Protobuf),
        acknowledge().encode_to_vec()
    );
    assert!(encode(&acknowledge(), Encoding::Json).starts_with(b"{\"framework_id\":"));
}

#[test]
fn json_syntax_errors_say_so() {
    let err = decode::<Call>(b"{\"type\":", Encoding::Json).unwrap_err();
    assert!(matches!(err, DecodeError::Json { .. }));
    assert!(
        err.to_string()
            .starts_with("Failed to parse body into JSON: "),
        "{err}"
    );
    let err = decode::<Call>(b"\xff\xfe", Encoding::Json).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("Failed to parse body into JSON: "),
        "{err}"
    );
}

#[test]
fn json_conversion_errors_name_the_message_and_the_field() {
    let err = decode::<Call>(
        br#"{"type":"SUBSCRIBE","framework_id":"abc"}"#,
        Encoding::Json,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Failed to convert JSON into Call protobuf: Not expecting a JSON string for field 'framework_id'"
    );
    let err = decode::<Call>(b"[]", Encoding::Json).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Failed to convert JSON into Call protobuf: Expecting a JSON object"
    );
    let err = decode::<v1::scheduler::Event>(br#"{"type":"ERROR","error":{}}"#, Encoding::Json)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Failed to convert JSON into Event protobuf: Missing required fields: error.message"
    );
}

#[test]
fn protobuf_errors_use_mesos_text() {
    for body in [&b"\xff\xff\xff"[..], b"\x0a\x05ab"] {
        let err = decode::<Call>(body, Encoding::Protobuf).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Failed to parse body into Call protobuf",
            "{body:?}"
        );
    }
}

#[test]
fn protobuf_bodies_missing_required_fields_are_refused() {
    // Call { acknowledge: {} }: field 8, length 0. prost alone would fill in empty defaults;
    // protobuf's ParseFromString (and so Mesos) refuses the body.
    let err = decode::<Call>(b"\x42\x00", Encoding::Protobuf).unwrap_err();
    assert_eq!(
        err,
        DecodeError::Protobuf {
            message: "Call".into()
        }
    );
    // An empty body is a valid, empty Call (every top-level field is optional).
    assert_eq!(
        decode::<Call>(b"", Encoding::Protobuf).unwrap(),
        Call::default()
    );
}
