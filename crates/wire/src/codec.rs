//! Content negotiation and body (de)coding for Mesos' HTTP APIs: which encoding a request body
//! uses (`Content-Type`), which one a streamed response may use (`Accept`), and turning bodies
//! into messages and back with Mesos' exact rules and error texts
//! (apache/mesos `src/master/http.cpp`, libprocess `Request::acceptsMediaType`).
//!
//! Status codes are the HTTP layer's business; the error variants say which one applies.

use bytes::Bytes;
use prost_reflect::{DynamicMessage, ReflectMessage};

use crate::json::{self, JsonError};

/// `Content-Type` / `Accept` value for JSON bodies.
pub const APPLICATION_JSON: &str = "application/json";
/// `Content-Type` / `Accept` value for protobuf bodies.
pub const APPLICATION_PROTOBUF: &str = "application/x-protobuf";

/// The two body encodings Mesos' v1 APIs speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// Mesos' JSON mapping ([`crate::json`]).
    Json,
    /// Binary protobuf.
    Protobuf,
}

/// Why a request's encoding could not be settled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NegotiationError {
    /// No `Content-Type` header (Mesos answers 400 Bad Request).
    #[error("Expecting 'Content-Type' to be present")]
    MissingContentType,
    /// A `Content-Type` other than exactly one of the two media types, parameters included
    /// (Mesos answers 415 Unsupported Media Type).
    #[error("Expecting 'Content-Type' of {APPLICATION_JSON} or {APPLICATION_PROTOBUF}")]
    UnsupportedContentType(String),
    /// `Accept` allows neither media type (Mesos answers 406 Not Acceptable).
    #[error("Expecting 'Accept' to allow '{APPLICATION_PROTOBUF}' or '{APPLICATION_JSON}'")]
    NotAcceptable,
}

impl Encoding {
    /// The media type naming this encoding, for a response's `Content-Type`.
    pub const fn media_type(self) -> &'static str {
        match self {
            Encoding::Json => APPLICATION_JSON,
            Encoding::Protobuf => APPLICATION_PROTOBUF,
        }
    }

    /// The request body's encoding from its `Content-Type` header value. Mesos compares the
    /// whole value for equality, so `application/json; charset=utf-8` is refused; Drover does
    /// the same so clients see the same behaviour on both.
    pub fn from_content_type(value: Option<&str>) -> Result<Self, NegotiationError> {
        match value {
            None => Err(NegotiationError::MissingContentType),
            Some(APPLICATION_JSON) => Ok(Encoding::Json),
            Some(APPLICATION_PROTOBUF) => Ok(Encoding::Protobuf),
            Some(other) => Err(NegotiationError::UnsupportedContentType(other.to_owned())),
        }
    }

    /// The response encoding from the request's `Accept` header value: JSON whenever it is
    /// acceptable (an absent header accepts everything), else protobuf, else
    /// [`NegotiationError::NotAcceptable`].
    pub fn from_accept(accept: Option<&str>) -> Result<Self, NegotiationError> {
        if accepts_media_type(accept, APPLICATION_JSON) {
            Ok(Encoding::Json)
        } else if accepts_media_type(accept, APPLICATION_PROTOBUF) {
            Ok(Encoding::Protobuf)
        } else {
            Err(NegotiationError::NotAcceptable)
        }
    }
}

/// libprocess' `Request::acceptsMediaType`: an absent header accepts everything; otherwise
/// the first of `type/subtype`, `type/*`, `*/*` that appears in the header (whitespace
/// ignored, case-insensitive) decides, and it accepts unless its `q` parameter is a number
/// that is not above zero. Note that this is not RFC 7231's "most specific wins with highest
/// q": `application/json;q=0, */*` refuses JSON, and q values do not rank candidates.
pub fn accepts_media_type(accept: Option<&str>, media_type: &str) -> bool {
    let Some((type_, _subtype)) = media_type.split_once('/') else {
        return false;
    };
    let Some(accept) = accept else {
        return true;
    };
    let accept: String = accept
        .chars()
        .filter(|c| !matches!(c, ' ' | '\t' | '\n'))
        .collect();
    let candidates = [
        media_type.to_owned(),
        format!("{type_}/*"),
        "*/*".to_owned(),
    ];
    for candidate in &candidates {
        for range in accept.split(',').filter(|s| !s.is_empty()) {
            let mut params = range.split(';').filter(|s| !s.is_empty());
            let Some(name) = params.next() else {
                continue;
            };
            if !name.eq_ignore_ascii_case(candidate) {
                continue;
            }
            // stout's `strings::pairs` keeps only `key=value` tokens with exactly one `=`;
            // a missing or repeated `q` counts as no q value, i.e. acceptable.
            let q_values: Vec<&str> = params
                .filter_map(|param| {
                    let mut parts = param.split('=').filter(|s| !s.is_empty());
                    match (parts.next(), parts.next(), parts.next()) {
                        (Some("q"), Some(value), None) => Some(value),
                        _ => None,
                    }
                })
                .collect();
            return match q_values.as_slice() {
                [q] => q.parse::<f64>().is_ok_and(|q| q > 0.0),
                _ => true,
            };
        }
    }
    false
}

/// Why a request body could not be decoded; the texts are Mesos' (all are 400 Bad Request).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The body is not JSON text.
    #[error("Failed to parse body into JSON: {reason}")]
    Json {
        /// The JSON parser's complaint.
        reason: String,
    },
    /// The body is JSON but does not map onto the message.
    #[error("Failed to convert JSON into {message} protobuf: {source}")]
    JsonConversion {
        /// The message's short name, e.g. `Call`.
        message: String,
        /// What the mapper refused.
        source: JsonError,
    },
    /// The body is not a valid serialized message, or lacks required fields (protobuf's
    /// `ParseFromString` checks both).
    #[error("Failed to parse body into {message} protobuf")]
    Protobuf {
        /// The message's short name, e.g. `Call`.
        message: String,
    },
}

/// Serializes `message` for a body in the given encoding.
pub fn encode<M: ReflectMessage>(message: &M, encoding: Encoding) -> Bytes {
    match encoding {
        Encoding::Json => Bytes::from(json::to_json_string(message)),
        Encoding::Protobuf => Bytes::from(message.encode_to_vec()),
    }
}

/// Parses a request body in the given encoding, failing exactly where Mesos does.
pub fn decode<M: ReflectMessage + Default>(
    body: &[u8],
    encoding: Encoding,
) -> Result<M, DecodeError> {
    let descriptor = M::default().descriptor();
    let message_name = descriptor.name().to_owned();
    match encoding {
        Encoding::Json => {
            let text = std::str::from_utf8(body).map_err(|err| DecodeError::Json {
                reason: format!("invalid UTF-8: {err}"),
            })?;
            json::from_json_str(text).map_err(|err| match err {
                JsonError::Syntax(reason) => DecodeError::Json { reason },
                source => DecodeError::JsonConversion {
                    message: message_name,
                    source,
                },
            })
        }
        Encoding::Protobuf => {
            let protobuf_error = || DecodeError::Protobuf {
                message: message_name.clone(),
            };
            let message = M::decode(body).map_err(|_| protobuf_error())?;
            // prost fills absent required fields with defaults, and protobuf's C++
            // `ParseFromString` refuses such bodies. A scan of the bytes proves the common
            // case complete without a second decode (issue 8, G6); anything it cannot prove
            // gets the exact check on a dynamic decode.
            if crate::required::certainly_complete(&descriptor, body) {
                return Ok(message);
            }
            let dynamic = DynamicMessage::decode(descriptor, body).map_err(|_| protobuf_error())?;
            let mut missing = Vec::new();
            json::find_missing_required(&dynamic, "", &mut missing);
            if !missing.is_empty() {
                return Err(protobuf_error());
            }
            Ok(message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type_is_compared_exactly() {
        assert_eq!(
            Encoding::from_content_type(Some("application/json")),
            Ok(Encoding::Json)
        );
        assert_eq!(
            Encoding::from_content_type(Some("application/x-protobuf")),
            Ok(Encoding::Protobuf)
        );
        assert_eq!(
            Encoding::from_content_type(None),
            Err(NegotiationError::MissingContentType)
        );
        for refused in [
            "application/json; charset=utf-8",
            "Application/JSON",
            " application/json",
            "text/plain",
            "",
        ] {
            assert_eq!(
                Encoding::from_content_type(Some(refused)),
                Err(NegotiationError::UnsupportedContentType(refused.to_owned())),
                "{refused:?}"
            );
        }
    }

    #[test]
    fn error_texts_are_mesos_texts() {
        assert_eq!(
            NegotiationError::MissingContentType.to_string(),
            "Expecting 'Content-Type' to be present"
        );
        assert_eq!(
            NegotiationError::UnsupportedContentType("x".into()).to_string(),
            "Expecting 'Content-Type' of application/json or application/x-protobuf"
        );
        assert_eq!(
            NegotiationError::NotAcceptable.to_string(),
            "Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'"
        );
    }

    #[test]
    fn accept_prefers_json_like_mesos() {
        use Encoding::*;
        let cases: &[(Option<&str>, Result<Encoding, NegotiationError>)] = &[
            (None, Ok(Json)),
            (Some("*/*"), Ok(Json)),
            (Some("application/*"), Ok(Json)),
            (Some("application/json"), Ok(Json)),
            (Some("APPLICATION/JSON"), Ok(Json)),
            // JSON wins even when listed second or with a lower q value.
            (Some("application/x-protobuf, application/json"), Ok(Json)),
            (
                Some("application/x-protobuf;q=1, application/json;q=0.1"),
                Ok(Json),
            ),
            (Some("application/x-protobuf"), Ok(Protobuf)),
            (
                Some("application/json;q=0, application/x-protobuf"),
                Ok(Protobuf),
            ),
            (
                Some("application/recordio, application/x-protobuf"),
                Ok(Protobuf),
            ),
            // The exact type decides before wildcards are even looked at.
            (Some("application/json;q=0, */*"), Ok(Protobuf)),
            (
                Some("application/json; q=0.0, application/x-protobuf;q=0"),
                Err(NegotiationError::NotAcceptable),
            ),
            (Some("text/html"), Err(NegotiationError::NotAcceptable)),
            (Some(""), Err(NegotiationError::NotAcceptable)),
            // A malformed q value counts as no q value (acceptable).
            (Some("application/json;q"), Ok(Json)),
            // A q value that is not a number refuses, as numify fails in libprocess.
            (
                Some("application/json;q=abc"),
                Err(NegotiationError::NotAcceptable),
            ),
        ];
        for (accept, expected) in cases {
            assert_eq!(&Encoding::from_accept(*accept), expected, "{accept:?}");
        }
    }
}
