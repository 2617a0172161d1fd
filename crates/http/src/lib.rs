//! Drover's shared HTTP plumbing, used by every daemon: Mesos' content negotiation and body
//! decoding for axum handlers ([`server`]), RecordIO event-stream responses fed by a bounded
//! channel, error responses with Mesos' status codes and plain-text bodies, a request body
//! limit, and a small HTTP client on hyper-util ([`client`]) for daemons that talk to each
//! other (agent → master, Marathon → master), and TLS for both from Mesos' `LIBPROCESS_SSL_*`
//! variables ([`tls`], [`tls_listener`]).
//!
//! Architecture invariant: this crate knows HTTP and the Mesos wire encodings, never any
//! daemon's decisions; it depends on `drover-wire` only, never on `drover-core`.
#![warn(clippy::unwrap_used, clippy::print_stdout)]

pub mod acls;
pub mod auth;
pub mod client;
pub mod conn;
pub mod file_range;
pub mod guard;
pub mod listen;
pub mod logging;
pub mod paths;
pub mod server;
pub mod tls;
pub mod tls_listener;

pub use client::{Client, ClientError, Connector, RecordStream, StreamResponse};
pub use server::{
    HttpError, MAX_BODY_BYTES, STREAM_ID_HEADER, StreamSender, ascii_json, decode_body,
    encode_message, encode_record, header_text, message_response, read_body, recordio_response,
    request_encoding, response_encoding, stream_channel, streaming_response,
};
