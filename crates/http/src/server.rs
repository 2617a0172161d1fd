//! Server-side helpers for axum handlers that speak Mesos' v1 HTTP APIs: reading a bounded
//! body, settling its encoding from `Content-Type` (and a stream's from `Accept`), decoding it
//! with Mesos' error texts, answering errors as plain text with Mesos' status codes, and
//! streaming RecordIO events from a bounded channel.
//!
//! A streamed response carries `Content-Type` = the events' encoding (`application/json` or
//! `application/x-protobuf`, never `application/recordio`), no `Content-Length`, so hyper
//! sends it chunked, even when the request said `Connection: close` (pymesos does).

use axum::body::Body;
use axum::http::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use drover_wire::codec::{self, Encoding, NegotiationError};
use drover_wire::recordio;
use futures::StreamExt;
use prost_reflect::ReflectMessage;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

/// The header naming a subscription stream (`Mesos-Stream-Id`).
pub const STREAM_ID_HEADER: &str = "Mesos-Stream-Id";

/// Largest request body accepted (16 MiB); larger bodies get 413.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// An error answer: a status code and a plain-text body, as Mesos sends them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError {
    /// The status code.
    pub status: StatusCode,
    /// The body text.
    pub message: String,
}

impl HttpError {
    /// An error with this status and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> HttpError {
        HttpError {
            status,
            message: message.into(),
        }
    }

    /// 400 Bad Request.
    pub fn bad_request(message: impl Into<String>) -> HttpError {
        HttpError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 405 Method Not Allowed, worded like libprocess.
    pub fn method_not_allowed(allowed: &Method, got: &Method) -> HttpError {
        HttpError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("Expecting a '{allowed}' request, received '{got}'"),
        )
    }
}

impl From<NegotiationError> for HttpError {
    fn from(err: NegotiationError) -> HttpError {
        let status = match err {
            NegotiationError::MissingContentType => StatusCode::BAD_REQUEST,
            NegotiationError::UnsupportedContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            NegotiationError::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            _ => StatusCode::BAD_REQUEST,
        };
        HttpError::new(status, err.to_string())
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.message).into_response();
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        response
    }
}

/// The request body's encoding from its `Content-Type` (400 if absent, 415 if not exactly
/// one of the two Mesos media types).
pub fn request_encoding(headers: &HeaderMap) -> Result<Encoding, HttpError> {
    let value = headers
        .get(CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("\u{fffd}"));
    Ok(Encoding::from_content_type(value)?)
}

/// The encoding a response (a stream, or an operator answer) may use from `Accept` (406 if
/// neither is acceptable; no header accepts everything, and JSON wins).
pub fn response_encoding(headers: &HeaderMap) -> Result<Encoding, HttpError> {
    let value = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    Ok(Encoding::from_accept(value)?)
}

/// The value of a header as text, if present and valid.
pub fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Reads a whole body, refusing more than `limit` bytes with 413.
pub async fn read_body(body: Body, limit: usize) -> Result<Bytes, HttpError> {
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        HttpError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Request body exceeds the limit of {limit} bytes or could not be read"),
        )
    })
}

/// Decodes a body in `encoding` into `M`, answering 400 with Mesos' text on failure.
pub fn decode_body<M: ReflectMessage + Default>(
    body: &[u8],
    encoding: Encoding,
) -> Result<M, HttpError> {
    codec::decode(body, encoding).map_err(|e| HttpError::bad_request(e.to_string()))
}

/// A `200 OK` whose body is one encoded message.
pub fn message_response<M: ReflectMessage>(message: &M, encoding: Encoding) -> Response {
    let mut response = (StatusCode::OK, encode_message(message, encoding)).into_response();
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(encoding.media_type()),
    );
    response
}

/// The sending half of an event stream: payloads (already encoded messages) are framed as
/// RecordIO by the response. Bounded: when it is full, the reader is not keeping up.
pub type StreamSender = mpsc::Sender<Bytes>;

/// A bounded channel for a streamed response.
pub fn stream_channel(capacity: usize) -> (StreamSender, mpsc::Receiver<Bytes>) {
    mpsc::channel(capacity.max(1))
}

/// A `200 OK` streaming each payload from `events` as one RecordIO record, with
/// `Content-Type` = `encoding` and the extra `headers` (e.g. `Mesos-Stream-Id`). The stream
/// ends when every sender is dropped.
pub fn recordio_response(
    encoding: Encoding,
    events: mpsc::Receiver<Bytes>,
    headers: &[(HeaderName, HeaderValue)],
) -> Response {
    let stream = ReceiverStream::new(events)
        .map(|payload| Ok::<Bytes, std::convert::Infallible>(recordio::encode(&payload)));
    streaming_response(encoding, Body::from_stream(stream), headers)
}

/// A `200 OK` with a streamed `body`, `Content-Type` = `encoding` and the extra `headers`.
pub fn streaming_response(
    encoding: Encoding,
    body: Body,
    headers: &[(HeaderName, HeaderValue)],
) -> Response {
    let mut response = Response::new(body);
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(encoding.media_type()),
    );
    for (name, value) in headers {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    response
}

/// Escapes every non-ASCII character of JSON text as `\uXXXX` (surrogate pairs above the BMP).
/// Non-ASCII can only occur inside JSON strings, where the escape means the same thing; the
/// result is safe for clients that count RecordIO lengths in characters (mesoshttp).
pub fn ascii_json(text: String) -> String {
    if text.is_ascii() {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{:04x}", unit));
            }
        }
    }
    out
}

/// One RecordIO record of `message` ([`encode_message`]'s payload behind its length header)
/// in one buffer: protobuf is encoded straight after the header, JSON copied once. What the
/// event streams send, one record per chunk.
pub fn encode_record<M: ReflectMessage>(message: &M, encoding: Encoding) -> Bytes {
    match encoding {
        Encoding::Json => {
            recordio::encode(ascii_json(drover_wire::json::to_json_string(message)).as_bytes())
        }
        Encoding::Protobuf => {
            let len = message.encoded_len();
            let mut record = BytesMut::with_capacity(len + 21);
            recordio::put_header(len, &mut record);
            // A `BytesMut` grows as needed, so encoding into it cannot run out of room.
            match message.encode(&mut record) {
                Ok(()) => record.freeze(),
                Err(_) => recordio::encode(&message.encode_to_vec()),
            }
        }
    }
}

/// Encodes a message for a stream or a body: compact, ASCII-safe JSON, or protobuf.
pub fn encode_message<M: ReflectMessage>(message: &M, encoding: Encoding) -> Bytes {
    match encoding {
        Encoding::Json => Bytes::from(ascii_json(drover_wire::json::to_json_string(message))),
        Encoding::Protobuf => codec::encode(message, encoding),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_the_framed_message_in_either_encoding() {
        let event = drover_wire::v1::scheduler::Event {
            r#type: Some(drover_wire::v1::scheduler::event::Type::Update as i32),
            update: Some(drover_wire::v1::scheduler::event::Update {
                status: drover_wire::v1::TaskStatus {
                    task_id: drover_wire::v1::TaskId {
                        value: "t-\u{e9}".into(),
                    },
                    message: Some("x".repeat(300)),
                    ..Default::default()
                },
            }),
            ..Default::default()
        };
        for encoding in [Encoding::Json, Encoding::Protobuf] {
            let record = encode_record(&event, encoding);
            let framed = recordio::encode(&encode_message(&event, encoding));
            assert_eq!(record, framed, "{encoding:?}");
            let mut decoder = recordio::Decoder::new(1 << 20);
            let records = decoder.feed(&record).expect("one well-framed record");
            assert_eq!(records, vec![encode_message(&event, encoding)]);
        }
    }

    #[test]
    fn negotiation_errors_map_to_mesos_statuses() {
        let mut headers = HeaderMap::new();
        assert_eq!(
            request_encoding(&headers).unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert_eq!(
            request_encoding(&headers).unwrap_err().status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        assert_eq!(request_encoding(&headers).unwrap(), Encoding::Json);
        headers.insert(
            axum::http::header::ACCEPT,
            HeaderValue::from_static("text/html"),
        );
        assert_eq!(
            response_encoding(&headers).unwrap_err().status,
            StatusCode::NOT_ACCEPTABLE
        );
    }

    #[test]
    fn json_is_made_ascii() {
        assert_eq!(
            ascii_json("{\"a\":\"é😀\"}".into()),
            "{\"a\":\"\\u00e9\\ud83d\\ude00\"}"
        );
    }
}
