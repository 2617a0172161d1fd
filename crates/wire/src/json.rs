//! Mesos' JSON mapping for protobuf messages: the writer reproduces stout's `JSON::Protobuf`
//! (rapidjson output), the reader reproduces stout's `protobuf::parse`
//! (apache/mesos `3rdparty/stout/include/stout/protobuf.hpp`).
//!
//! Both walk prost-reflect descriptors, so they work for every generated type in this crate.
//! This is not protobuf's canonical JSON mapping: field names are the proto names, 64-bit
//! integers are numbers, unset fields with an explicit `[default = …]` are written, doubles
//! always carry a decimal point and infinities are bare `Infinity`.
//!
//! Deliberate differences from stout, all on inputs Mesos mishandles or rejects:
//! - an integer field given a number outside its range is an error (stout casts, i.e. wraps);
//! - nesting deeper than [`MAX_DEPTH`] is an error when reading and is left out when writing
//!   (stout recurses without bound);
//! - bare `Infinity`, `-Infinity` and `NaN` tokens are read, so the writer's own output
//!   round-trips; `"NaN"` is accepted for doubles like `"Infinity"`;
//! - v0 enum spellings (`SLAVE` where v1 says `AGENT`) are accepted;
//! - the unknown-enum error also names the field;
//! - map entries are written sorted by key (protobuf's C++ map order is unspecified);
//! - an enum number the enum does not define (possible in prost's `i32`, not in C++) is not
//!   written.

use std::borrow::Cow;
use std::fmt::Write as _;

use base64::Engine as _;
use prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, ReflectMessage, Value,
};
use serde_json::Value as Json;

/// The deepest JSON nesting (objects and arrays) read or written. Real Mesos messages stay far
/// below it; the bound keeps hostile input from exhausting the stack.
pub const MAX_DEPTH: usize = 64;

/// Why JSON could not be turned into a message. The texts follow stout's where stout has one,
/// because clients match on them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JsonError {
    /// The text is not JSON at all.
    #[error("{0}")]
    Syntax(String),
    /// The top-level JSON value is not an object.
    #[error("Expecting a JSON object")]
    NotAnObject,
    /// A field was given a JSON value of a type it cannot hold.
    #[error("Not expecting a JSON {found} for field '{field}'")]
    UnexpectedType {
        /// The proto field name.
        field: String,
        /// The JSON type that was found.
        found: JsonKind,
    },
    /// A `bytes` field held a string that is not base64.
    #[error("Failed to base64 decode bytes field '{field}': {reason}")]
    InvalidBase64 {
        /// The proto field name.
        field: String,
        /// What was wrong with it.
        reason: String,
    },
    /// A required enum field named a value the enum does not have.
    #[error("Failed to find enum for '{name}' in field '{field}'")]
    UnknownEnum {
        /// The proto field name.
        field: String,
        /// The unknown value name.
        name: String,
    },
    /// A string given for a numeric field does not hold a number.
    #[error("Failed to parse '{text}' as a JSON number for field '{field}'")]
    InvalidNumber {
        /// The proto field name.
        field: String,
        /// The string that was given.
        text: String,
    },
    /// A string given for a `bool` field is neither `"true"` nor `"false"`.
    #[error("Failed to parse '{text}' as a JSON boolean for field '{field}'")]
    InvalidBool {
        /// The proto field name.
        field: String,
        /// The string that was given.
        text: String,
    },
    /// A number does not fit the field's integer type.
    #[error("JSON number {number} is out of range for field '{field}' ({kind})")]
    OutOfRange {
        /// The proto field name.
        field: String,
        /// The number as written.
        number: String,
        /// The proto type of the field.
        kind: &'static str,
    },
    /// The JSON nests deeper than [`MAX_DEPTH`].
    #[error("JSON nesting exceeds the maximum depth of {MAX_DEPTH}")]
    TooDeep,
    /// Required fields (dotted paths, as protobuf's `InitializationErrorString`) were not set.
    #[error("Missing required fields: {}", .0.join(", "))]
    MissingRequired(Vec<String>),
    /// The parsed message could not be converted to the requested Rust type. This means the
    /// descriptor pool and the generated code disagree, a build problem, not bad input.
    #[error("internal error converting {message}: {reason}")]
    Internal {
        /// The message's full name.
        message: String,
        /// The conversion error.
        reason: String,
    },
}

/// The JSON types named in [`JsonError::UnexpectedType`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonKind {
    /// `{…}`
    Object,
    /// `[…]`
    Array,
    /// `"…"`
    String,
    /// A number.
    Number,
    /// `true` or `false`.
    Boolean,
}

impl std::fmt::Display for JsonKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            JsonKind::Object => "object",
            JsonKind::Array => "array",
            JsonKind::String => "string",
            JsonKind::Number => "number",
            JsonKind::Boolean => "boolean",
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------------------------

/// Writes `message` as Mesos does: compact, single-line JSON text.
///
/// Anything nested deeper than [`MAX_DEPTH`] is left out, so the output never nests deeper
/// than the reader accepts; no Mesos message comes close, and the writer must neither fail nor
/// recurse without bound.
pub fn to_json_string<M: ReflectMessage>(message: &M) -> String {
    let mut out = String::new();
    render(&message_node(&to_dynamic(message), 1), &mut out);
    out
}

/// The same document as [`to_json_string`], as a `serde_json::Value` (for tests and callers
/// that embed messages in larger documents).
///
/// JSON values cannot hold non-finite numbers, so ±infinity and NaN become the strings
/// `"Infinity"`, `"-Infinity"` and `"NaN"`, which the reader also accepts for doubles.
pub fn to_json_value<M: ReflectMessage>(message: &M) -> Json {
    message_node(&to_dynamic(message), 1).into_value()
}

fn to_dynamic<M: ReflectMessage>(message: &M) -> DynamicMessage {
    let mut dynamic = DynamicMessage::new(message.descriptor());
    // Transcoding only fails beyond prost's 100-level decode limit, deeper than the writer
    // goes anyway; write the message as empty rather than panic.
    if dynamic.transcode_from(message).is_err() {
        dynamic = DynamicMessage::new(message.descriptor());
    }
    dynamic
}

/// A JSON document as the writer builds it; unlike `serde_json::Value` it holds non-finite
/// doubles and keeps integers and doubles apart, which rendering needs.
enum Node {
    Object(Vec<(String, Node)>),
    Array(Vec<Node>),
    String(String),
    Int(i64),
    Uint(u64),
    Double(f64),
    Bool(bool),
}

impl Node {
    fn into_value(self) -> Json {
        match self {
            Node::Object(entries) => Json::Object(
                entries
                    .into_iter()
                    .map(|(key, node)| (key, node.into_value()))
                    .collect(),
            ),
            Node::Array(items) => Json::Array(items.into_iter().map(Node::into_value).collect()),
            Node::String(s) => Json::String(s),
            Node::Int(i) => Json::from(i),
            Node::Uint(u) => Json::from(u),
            Node::Double(d) => match serde_json::Number::from_f64(d) {
                Some(number) => Json::Number(number),
                None => Json::String(non_finite_name(d).to_owned()),
            },
            Node::Bool(b) => Json::Bool(b),
        }
    }
}

/// The fields stout writes, in declaration order: non-empty repeated and map fields, set
/// singular fields, and unset singular fields with an explicit non-deprecated default.
fn message_node(message: &DynamicMessage, depth: usize) -> Node {
    let descriptor = message.descriptor();
    let mut entries = Vec::new();
    for field in fields_in_declaration_order(&descriptor) {
        let value = message.get_field(&field);
        let node = if field.is_map() {
            match value.as_map() {
                Some(map) if !map.is_empty() && depth < MAX_DEPTH => {
                    map_node(&field, map, depth + 1)
                }
                _ => continue,
            }
        } else if field.is_list() {
            match value.as_list() {
                Some(items) if !items.is_empty() && depth < MAX_DEPTH => Node::Array(
                    items
                        .iter()
                        .filter_map(|item| value_node(&field.kind(), item, depth + 1))
                        .collect(),
                ),
                _ => continue,
            }
        } else if message.has_field(&field) || has_written_default(&field) {
            match value_node(&field.kind(), &value, depth) {
                Some(node) => node,
                None => continue,
            }
        } else {
            continue;
        };
        entries.push((field.name().to_owned(), node));
    }
    Node::Object(entries)
}

/// stout writes map entries through its object writer with keys stringified; prost-reflect
/// keeps maps in a `HashMap`, so sort the keys to keep output deterministic.
fn map_node(
    field: &FieldDescriptor,
    map: &std::collections::HashMap<MapKey, Value>,
    depth: usize,
) -> Node {
    let value_kind = match field.kind() {
        Kind::Message(entry) => entry.map_entry_value_field().kind(),
        // A map field is always a message-typed field of generated entries.
        _ => return Node::Object(Vec::new()),
    };
    let mut keys: Vec<&MapKey> = map.keys().collect();
    keys.sort();
    let entries = keys
        .into_iter()
        .filter_map(|key| {
            let node = value_node(&value_kind, &map[key], depth)?;
            Some((map_key_string(key), node))
        })
        .collect();
    Node::Object(entries)
}

/// One singular value. `None` for an enum number the enum does not define: protobuf's C++
/// runtime would have kept it as an unknown field, which stout never writes.
fn value_node(kind: &Kind, value: &Value, depth: usize) -> Option<Node> {
    Some(match value {
        Value::Bool(b) => Node::Bool(*b),
        Value::I32(i) => Node::Int(i64::from(*i)),
        Value::I64(i) => Node::Int(*i),
        Value::U32(u) => Node::Uint(u64::from(*u)),
        Value::U64(u) => Node::Uint(*u),
        // stout widens floats to double before writing them.
        Value::F32(f) => Node::Double(f64::from(*f)),
        Value::F64(d) => Node::Double(*d),
        Value::String(s) => Node::String(s.clone()),
        Value::Bytes(b) => Node::String(base64::engine::general_purpose::STANDARD.encode(b)),
        Value::EnumNumber(number) => match kind {
            Kind::Enum(enum_type) => Node::String(enum_type.get_value(*number)?.name().to_owned()),
            _ => return None,
        },
        Value::Message(_) if depth >= MAX_DEPTH => return None,
        Value::Message(message) => message_node(message, depth + 1),
        Value::List(_) | Value::Map(_) => return None,
    })
}

/// stout's `jsonify` of a map key: integers in decimal, booleans as `true`/`false`.
fn map_key_string(key: &MapKey) -> String {
    match key {
        MapKey::Bool(b) => b.to_string(),
        MapKey::I32(i) => i.to_string(),
        MapKey::I64(i) => i.to_string(),
        MapKey::U32(u) => u.to_string(),
        MapKey::U64(u) => u.to_string(),
        MapKey::String(s) => s.clone(),
    }
}

fn fields_in_declaration_order(
    descriptor: &MessageDescriptor,
) -> impl Iterator<Item = FieldDescriptor> + '_ {
    // `MessageDescriptor::fields` iterates by field number; stout uses declaration order.
    descriptor
        .descriptor_proto()
        .field
        .iter()
        .filter_map(|proto| descriptor.get_field(u32::try_from(proto.number()).ok()?))
}

/// stout writes an unset field when `has_default_value() && !deprecated`, i.e. only for an
/// explicit `[default = …]`, never for the implicit zero default.
fn has_written_default(field: &FieldDescriptor) -> bool {
    let proto = field.field_descriptor_proto();
    let deprecated = proto
        .options
        .as_ref()
        .and_then(|options| options.deprecated)
        .unwrap_or(false);
    proto.default_value.is_some() && !deprecated
}

fn render(node: &Node, out: &mut String) {
    match node {
        Node::Object(entries) => {
            out.push('{');
            for (i, (key, value)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                render(value, out);
            }
            out.push('}');
        }
        Node::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                render(item, out);
            }
            out.push(']');
        }
        Node::String(s) => write_string(s, out),
        Node::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Node::Uint(u) => {
            let _ = write!(out, "{u}");
        }
        Node::Double(d) => write_double(*d, out),
        Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
    }
}

/// rapidjson's string escaping: `"` and `\`, the short escapes for \b \f \n \r \t, `\u00XX`
/// (upper-case hex) for other control characters, everything else (including non-ASCII) raw.
fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn non_finite_name(d: f64) -> &'static str {
    if d.is_nan() {
        "NaN"
    } else if d > 0.0 {
        "Infinity"
    } else {
        "-Infinity"
    }
}

/// rapidjson's `Writer::Double` (with `kWriteNanAndInfFlag`, as stout configures it): the
/// shortest round-trip digits laid out by rapidjson's `Prettify`, so integral values keep a
/// `.0`, exponents appear only outside 1e-6..1e21, and non-finite values are bare words.
fn write_double(d: f64, out: &mut String) {
    if !d.is_finite() {
        out.push_str(non_finite_name(d));
        return;
    }
    if d.is_sign_negative() {
        out.push('-');
    }
    if d == 0.0 {
        out.push_str("0.0");
        return;
    }
    // `{:e}` gives the shortest digits that round-trip, as `d.ddd…e±x`.
    let scientific = format!("{:e}", d.abs());
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let length = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    // rapidjson's names: the value is `digits × 10^k`, and `10^(kk-1) <= value < 10^kk`.
    let kk = exponent + 1;
    let k = kk - length;
    if (0..=21).contains(&kk) && k >= 0 {
        // 1234e7 -> 12340000000.0
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', k.unsigned_abs() as usize));
        out.push_str(".0");
    } else if 0 < kk && kk <= 21 {
        // 1234e-2 -> 12.34
        let (int, frac) = digits.split_at(kk.unsigned_abs() as usize);
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    } else if -6 < kk && kk <= 0 {
        // 1234e-6 -> 0.001234
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', kk.unsigned_abs() as usize));
        out.push_str(&digits);
    } else {
        // 1e30, 1.234e-33
        let (first, rest) = digits.split_at(1);
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        let _ = write!(out, "e{}", kk - 1);
    }
}

// ---------------------------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------------------------

/// Parses JSON text into a message as Mesos' `protobuf::parse` does.
pub fn from_json_str<M: ReflectMessage + Default>(text: &str) -> Result<M, JsonError> {
    let text = quote_non_finite_tokens(text);
    let json: Json =
        serde_json::from_str(&text).map_err(|err| JsonError::Syntax(err.to_string()))?;
    from_json_value(&json)
}

/// Converts a parsed JSON value into a message as Mesos' `protobuf::parse` does.
pub fn from_json_value<M: ReflectMessage + Default>(json: &Json) -> Result<M, JsonError> {
    let descriptor = M::default().descriptor();
    let dynamic = parse_dynamic(descriptor, json)?;
    dynamic
        .transcode_to::<M>()
        .map_err(|err| JsonError::Internal {
            message: dynamic.descriptor().full_name().to_owned(),
            reason: err.to_string(),
        })
}

/// The reader on descriptors alone: JSON to a checked `DynamicMessage`.
pub(crate) fn parse_dynamic(
    descriptor: MessageDescriptor,
    json: &Json,
) -> Result<DynamicMessage, JsonError> {
    let Json::Object(object) = json else {
        return Err(JsonError::NotAnObject);
    };
    let mut message = DynamicMessage::new(descriptor);
    parse_object(&mut message, object, 1)?;
    // Like protobuf's `IsInitialized`, required fields are only checked once everything is in.
    let mut missing = Vec::new();
    find_missing_required(&message, "", &mut missing);
    if missing.is_empty() {
        Ok(message)
    } else {
        Err(JsonError::MissingRequired(missing))
    }
}

/// Lists the unset required fields of `message` and everything below it, as dotted paths with
/// `[index]` for repeated elements, in the order of protobuf's `FindInitializationErrors`:
/// this message's own required fields first, then those inside its sub-messages.
pub(crate) fn find_missing_required(message: &DynamicMessage, prefix: &str, out: &mut Vec<String>) {
    let descriptor = message.descriptor();
    for field in fields_in_declaration_order(&descriptor) {
        if field.is_required() && !message.has_field(&field) {
            out.push(format!("{prefix}{}", field.name()));
        }
    }
    for field in fields_in_declaration_order(&descriptor) {
        if !matches!(field.kind(), Kind::Message(_)) || !message.has_field(&field) {
            continue;
        }
        match &*message.get_field(&field) {
            Value::Message(child) => {
                find_missing_required(child, &format!("{prefix}{}.", field.name()), out);
            }
            Value::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    if let Value::Message(child) = item {
                        let prefix = format!("{prefix}{}[{i}].", field.name());
                        find_missing_required(child, &prefix, out);
                    }
                }
            }
            Value::Map(map) => {
                let mut keys: Vec<&MapKey> = map.keys().collect();
                keys.sort();
                for key in keys {
                    if let Value::Message(child) = &map[key] {
                        let prefix =
                            format!("{prefix}{}[{}].value.", field.name(), map_key_string(key));
                        find_missing_required(child, &prefix, out);
                    }
                }
            }
            _ => {}
        }
    }
}

fn parse_object(
    message: &mut DynamicMessage,
    object: &serde_json::Map<String, Json>,
    depth: usize,
) -> Result<(), JsonError> {
    if depth > MAX_DEPTH {
        return Err(JsonError::TooDeep);
    }
    let descriptor = message.descriptor();
    for (name, value) in object {
        // Unknown names are ignored, which is what lets newer clients talk to older masters.
        if let Some(field) = descriptor.get_field_by_name(name) {
            parse_field(message, &field, value, depth)?;
        }
    }
    Ok(())
}

/// stout's `Parser` visitor: one JSON value for one field. Arrays visit each element with the
/// same field, so a repeated field also takes a single bare element, and `null` means unset.
fn parse_field(
    message: &mut DynamicMessage,
    field: &FieldDescriptor,
    json: &Json,
    depth: usize,
) -> Result<(), JsonError> {
    match json {
        Json::Null => Ok(()),
        Json::Bool(b) => match field.kind() {
            Kind::Bool => {
                store(message, field, Value::Bool(*b));
                Ok(())
            }
            _ => Err(unexpected(field, JsonKind::Boolean)),
        },
        Json::Number(number) => {
            let value = number_value(field, number)?;
            store(message, field, value);
            Ok(())
        }
        Json::String(s) => {
            if let Some(value) = string_value(field, s)? {
                store(message, field, value);
            }
            Ok(())
        }
        Json::Array(items) => {
            if !field.is_list() && !field.is_map() {
                return Err(unexpected(field, JsonKind::Array));
            }
            if depth + 1 > MAX_DEPTH {
                return Err(JsonError::TooDeep);
            }
            items
                .iter()
                .try_for_each(|item| parse_field(message, field, item, depth + 1))
        }
        Json::Object(object) => {
            let Kind::Message(entry_or_message) = field.kind() else {
                return Err(unexpected(field, JsonKind::Object));
            };
            if field.is_map() {
                parse_map(message, field, &entry_or_message, object, depth + 1)
            } else if field.is_list() {
                let mut child = DynamicMessage::new(entry_or_message);
                parse_object(&mut child, object, depth + 1)?;
                store(message, field, Value::Message(child));
                Ok(())
            } else {
                match message.get_field_mut(field) {
                    Value::Message(child) => parse_object(child, object, depth + 1),
                    _ => Err(unexpected(field, JsonKind::Object)),
                }
            }
        }
    }
}

/// A `map<K, V>` field is a JSON object; each key is read as a JSON string for the entry's
/// `key` field and each value as the entry's `value` field, exactly as stout does.
fn parse_map(
    message: &mut DynamicMessage,
    field: &FieldDescriptor,
    entry_type: &MessageDescriptor,
    object: &serde_json::Map<String, Json>,
    depth: usize,
) -> Result<(), JsonError> {
    if depth > MAX_DEPTH {
        return Err(JsonError::TooDeep);
    }
    let key_field = entry_type.map_entry_key_field();
    let value_field = entry_type.map_entry_value_field();
    for (key, value) in object {
        let mut entry = DynamicMessage::new(entry_type.clone());
        parse_field(&mut entry, &key_field, &Json::String(key.clone()), depth)?;
        parse_field(&mut entry, &value_field, value, depth)?;
        let Some(key) = entry.get_field(&key_field).into_owned().into_map_key() else {
            continue;
        };
        let value = entry.get_field(&value_field).into_owned();
        if let Some(map) = message.get_field_mut(field).as_map_mut() {
            map.insert(key, value);
        }
    }
    Ok(())
}

/// Sets a singular field or appends to a repeated one.
fn store(message: &mut DynamicMessage, field: &FieldDescriptor, value: Value) {
    if field.is_list() {
        if let Some(items) = message.get_field_mut(field).as_list_mut() {
            items.push(value);
        }
    } else {
        message.set_field(field, value);
    }
}

fn unexpected(field: &FieldDescriptor, found: JsonKind) -> JsonError {
    JsonError::UnexpectedType {
        field: field.name().to_owned(),
        found,
    }
}

/// A JSON string for `field`. `Ok(None)` means "drop it": an unknown name in a non-required
/// enum, which proto2 treats as unset.
fn string_value(field: &FieldDescriptor, s: &str) -> Result<Option<Value>, JsonError> {
    let value = match field.kind() {
        Kind::String => Value::String(s.to_owned()),
        Kind::Bytes => Value::Bytes(
            decode_base64(s)
                .map_err(|reason| JsonError::InvalidBase64 {
                    field: field.name().to_owned(),
                    reason,
                })?
                .into(),
        ),
        Kind::Enum(enum_type) => {
            // v1 renamed SLAVE to AGENT in enum values; v0 clients still send the old names.
            let found = enum_type.get_value_by_name(s).or_else(|| {
                s.contains("SLAVE")
                    .then(|| enum_type.get_value_by_name(&s.replace("SLAVE", "AGENT")))
                    .flatten()
            });
            match found {
                Some(value) => Value::EnumNumber(value.number()),
                None if field.is_required() => {
                    return Err(JsonError::UnknownEnum {
                        field: field.name().to_owned(),
                        name: s.to_owned(),
                    });
                }
                None => return Ok(None),
            }
        }
        Kind::Double | Kind::Float => {
            let d = match s {
                "Infinity" => f64::INFINITY,
                "-Infinity" => f64::NEG_INFINITY,
                "NaN" => f64::NAN,
                _ => return number_value(field, &parse_number_string(field, s)?).map(Some),
            };
            if matches!(field.kind(), Kind::Float) {
                Value::F32(d as f32)
            } else {
                Value::F64(d)
            }
        }
        Kind::Int32
        | Kind::Sint32
        | Kind::Sfixed32
        | Kind::Int64
        | Kind::Sint64
        | Kind::Sfixed64
        | Kind::Uint32
        | Kind::Fixed32
        | Kind::Uint64
        | Kind::Fixed64 => return number_value(field, &parse_number_string(field, s)?).map(Some),
        Kind::Bool => match serde_json::from_str::<bool>(s) {
            Ok(b) => Value::Bool(b),
            Err(_) => {
                return Err(JsonError::InvalidBool {
                    field: field.name().to_owned(),
                    text: s.to_owned(),
                });
            }
        },
        Kind::Message(_) => return Err(unexpected(field, JsonKind::String)),
    };
    Ok(Some(value))
}

/// stout parses a numeric string as a JSON document that must be a number.
fn parse_number_string(field: &FieldDescriptor, s: &str) -> Result<serde_json::Number, JsonError> {
    serde_json::from_str::<serde_json::Number>(s).map_err(|_| JsonError::InvalidNumber {
        field: field.name().to_owned(),
        text: s.to_owned(),
    })
}

/// A JSON number for `field`. Integer fields truncate fractional values toward zero as stout's
/// `static_cast` does, but refuse values outside their range instead of wrapping.
fn number_value(field: &FieldDescriptor, number: &serde_json::Number) -> Result<Value, JsonError> {
    let out_of_range = |kind: &'static str| JsonError::OutOfRange {
        field: field.name().to_owned(),
        number: number.to_string(),
        kind,
    };
    Ok(match field.kind() {
        Kind::Double => Value::F64(number.as_f64().unwrap_or(f64::NAN)),
        Kind::Float => Value::F32(number.as_f64().unwrap_or(f64::NAN) as f32),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(
            integer(number, i64::from(i32::MIN), i64::from(i32::MAX))
                .and_then(|i| i32::try_from(i).ok())
                .ok_or_else(|| out_of_range("int32"))?,
        ),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            Value::I64(integer(number, i64::MIN, i64::MAX).ok_or_else(|| out_of_range("int64"))?)
        }
        Kind::Uint32 | Kind::Fixed32 => Value::U32(
            unsigned(number, u64::from(u32::MAX))
                .and_then(|u| u32::try_from(u).ok())
                .ok_or_else(|| out_of_range("uint32"))?,
        ),
        Kind::Uint64 | Kind::Fixed64 => {
            Value::U64(unsigned(number, u64::MAX).ok_or_else(|| out_of_range("uint64"))?)
        }
        _ => return Err(unexpected(field, JsonKind::Number)),
    })
}

fn integer(number: &serde_json::Number, min: i64, max: i64) -> Option<i64> {
    if let Some(i) = number.as_i64() {
        return (min..=max).contains(&i).then_some(i);
    }
    if number.is_u64() {
        return None; // Above i64::MAX.
    }
    let d = number.as_f64()?.trunc();
    // `as` saturates, so compare in f64 first; 2^63 itself is out of range.
    (d.is_finite() && d >= min as f64 && d < max as f64 + 1.0).then_some(d as i64)
}

fn unsigned(number: &serde_json::Number, max: u64) -> Option<u64> {
    if let Some(u) = number.as_u64() {
        return (u <= max).then_some(u);
    }
    if number.is_i64() {
        return None; // Negative.
    }
    let d = number.as_f64()?.trunc();
    (d.is_finite() && d >= 0.0 && d < max as f64 + 1.0).then_some(d as u64)
}

/// stout's base64 decoder: standard alphabet, whitespace skipped, input ends at the first `=`
/// (padding optional and unchecked), leftover bits dropped. Only a foreign character fails.
fn decode_base64(s: &str) -> Result<Vec<u8>, String> {
    let mut sextets = Vec::with_capacity(s.len());
    for c in s.bytes() {
        let sextet = match c {
            b'=' => break,
            c if c.is_ascii_whitespace() || c == 0x0b => continue,
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return Err(format!("Invalid character '{}'", char::from(c))),
        };
        sextets.push(sextet);
    }
    let mut out = Vec::with_capacity(sextets.len() / 4 * 3 + 2);
    for group in sextets.chunks(4) {
        let mut quad = [0u8; 4];
        quad[..group.len()].copy_from_slice(group);
        let bytes = [
            (quad[0] << 2) | (quad[1] >> 4),
            (quad[1] << 4) | (quad[2] >> 2),
            (quad[2] << 6) | quad[3],
        ];
        // A group of n sextets carries n-1 whole bytes.
        out.extend_from_slice(&bytes[..group.len() - 1]);
    }
    Ok(out)
}

/// Mesos writes ±infinity and NaN as bare words, which JSON parsers (serde_json included)
/// reject. Quote such tokens outside strings so they reach the field-level parser, which
/// accepts them as strings. Valid JSON never contains them, so it passes through untouched.
fn quote_non_finite_tokens(text: &str) -> Cow<'_, str> {
    const TOKENS: [&str; 3] = ["-Infinity", "Infinity", "NaN"];
    if !TOKENS.iter().any(|token| text.contains(token)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut in_string = false;
    let mut escaped = false;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
        } else if let Some(token) = TOKENS.iter().find(|token| rest.starts_with(**token)) {
            out.push('"');
            out.push_str(token);
            out.push('"');
            rest = &rest[token.len()..];
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn double(d: f64) -> String {
        let mut out = String::new();
        write_double(d, &mut out);
        out
    }

    #[test]
    fn doubles_are_written_like_rapidjson() {
        // Values checked against rapidjson's Prettify rules.
        assert_eq!(double(15.0), "15.0");
        assert_eq!(double(0.0), "0.0");
        assert_eq!(double(-0.0), "-0.0");
        assert_eq!(double(0.5), "0.5");
        assert_eq!(double(-2.25), "-2.25");
        assert_eq!(double(1_700_000_123.456), "1700000123.456");
        assert_eq!(double(604_800.0), "604800.0");
        assert_eq!(double(0.001_234), "0.001234");
        assert_eq!(double(1e-6), "0.000001");
        assert_eq!(double(1e-7), "1e-7");
        assert_eq!(double(1.5e-7), "1.5e-7");
        assert_eq!(double(1e20), "100000000000000000000.0");
        assert_eq!(double(1e21), "1e21");
        assert_eq!(double(1.234e33), "1.234e33");
        assert_eq!(double(f64::INFINITY), "Infinity");
        assert_eq!(double(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(double(f64::NAN), "NaN");
        assert_eq!(double(f64::MAX), "1.7976931348623157e308");
        assert_eq!(double(5e-324), "5e-324");
    }

    #[test]
    fn written_doubles_read_back_exactly() {
        for d in [
            0.1,
            1.0 / 3.0,
            123_456.789,
            1e300,
            2.5e-300,
            9_007_199_254_740_993.0,
        ] {
            let text = double(d);
            assert_eq!(text.parse::<f64>().unwrap(), d, "{text}");
        }
    }

    #[test]
    fn strings_are_escaped_like_rapidjson() {
        let mut out = String::new();
        write_string("a\"b\\c\n\t\u{1}é/", &mut out);
        assert_eq!(out, "\"a\\\"b\\\\c\\n\\t\\u0001é/\"");
    }

    #[test]
    fn base64_is_decoded_like_stout() {
        assert_eq!(decode_base64("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(decode_base64("aGVsbG8").unwrap(), b"hello");
        assert_eq!(decode_base64("aGVs\nbG8=").unwrap(), b"hello");
        assert_eq!(decode_base64("").unwrap(), b"");
        assert_eq!(decode_base64("a").unwrap(), b"");
        assert_eq!(
            decode_base64("aGVs!G8=").unwrap_err(),
            "Invalid character '!'"
        );
        assert_eq!(decode_base64("-_").unwrap_err(), "Invalid character '-'");
    }

    #[test]
    fn bare_non_finite_tokens_are_quoted_outside_strings_only() {
        assert_eq!(
            quote_non_finite_tokens(r#"{"a":Infinity,"b":-Infinity,"c":"NaN Infinity","d":[NaN]}"#),
            r#"{"a":"Infinity","b":"-Infinity","c":"NaN Infinity","d":["NaN"]}"#
        );
        assert_eq!(
            quote_non_finite_tokens(r#"{"a":"x\"Infinity"}"#),
            r#"{"a":"x\"Infinity"}"#
        );
        assert!(matches!(
            quote_non_finite_tokens(r#"{"a":1}"#),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn integers_truncate_and_refuse_out_of_range() {
        let n = |s: &str| serde_json::from_str::<serde_json::Number>(s).unwrap();
        assert_eq!(integer(&n("5"), i64::MIN, i64::MAX), Some(5));
        assert_eq!(integer(&n("-5.9"), i64::MIN, i64::MAX), Some(-5));
        assert_eq!(integer(&n("9223372036854775808"), i64::MIN, i64::MAX), None);
        assert_eq!(integer(&n("9.3e18"), i64::MIN, i64::MAX), None);
        assert_eq!(
            integer(&n("-9.2e18"), i64::MIN, i64::MAX),
            Some(-9_200_000_000_000_000_000)
        );
        assert_eq!(
            integer(&n("2147483648"), i64::from(i32::MIN), i64::from(i32::MAX)),
            None
        );
        assert_eq!(
            unsigned(&n("18446744073709551615"), u64::MAX),
            Some(u64::MAX)
        );
        assert_eq!(unsigned(&n("1.9e19"), u64::MAX), None);
        assert_eq!(unsigned(&n("-1"), u64::MAX), None);
        assert_eq!(unsigned(&n("4294967296"), u64::from(u32::MAX)), None);
        assert_eq!(unsigned(&n("3.7"), u64::from(u32::MAX)), Some(3));
    }
}
