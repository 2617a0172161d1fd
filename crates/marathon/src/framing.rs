//! Request and response rules Marathon's HTTP stack (Jersey) applied before and after any
//! resource: a body must be `application/json` (415 otherwise), and every error answer has
//! Marathon's `{"message": …}` JSON shape, including the ones the framework produces itself
//! (413 for a body over the limit, 405, 415, rejections of a malformed request).

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::api::BODY_MAX;

/// Refuses a request body sent with a media type other than JSON, as Marathon's resources
/// (`@Consumes(APPLICATION_JSON)`) did: `curl -d` sends `application/x-www-form-urlencoded`,
/// and Marathon answered 415 rather than trying to read it. A request without a
/// `Content-Type` is read as JSON, as Jersey does for a body of no declared type.
pub async fn require_json(request: Request, next: Next) -> Response {
    let has_body = matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH
    );
    if has_body
        && let Some(value) = request.headers().get(header::CONTENT_TYPE)
        && !is_json(value)
    {
        return message(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported Media Type".into(),
        );
    }
    next.run(request).await
}

fn is_json(value: &HeaderValue) -> bool {
    let Ok(text) = value.to_str() else {
        return false;
    };
    let essence = text.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
}

/// Gives an error answer that is not JSON (axum's 413 text, an empty 405, a rejected path or
/// query) Marathon's body: `{"message": <reason phrase>}`, as its exception mapper did for
/// every framework-level error.
pub async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(is_json);
    if is_json {
        return response;
    }
    let text = if status == StatusCode::PAYLOAD_TOO_LARGE {
        format!("Request Entity Too Large: the body is limited to {BODY_MAX} bytes")
    } else {
        status.canonical_reason().unwrap_or("Error").to_owned()
    };
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    let fresh = message(status, text);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, fresh.into_body())
}

fn message(status: StatusCode, text: String) -> Response {
    let body = Body::from(json!({ "message": text }).to_string());
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}
