//! Request paths as libprocess matched them: a path's trailing slashes are ignored, so
//! `/master/state/` and `/slaves/` reach `/master/state` and `/slaves` (libprocess tokenizes a
//! request's path on `/` and drops the empty tokens before it looks the endpoint up).
//!
//! The rewrite has to happen before axum routes the request, so the daemons serve their router
//! wrapped by [`ignoring_trailing_slashes`] rather than adding a layer to it (a router's layers
//! run after routing).

use axum::Router;
use axum::extract::Request;
use axum::http::Uri;
use axum::http::uri::PathAndQuery;
use axum::routing::IntoMakeService;
use tower::ServiceExt as _;
use tower::util::MapRequest;

/// A daemon's router with trailing slashes stripped from every request's path first.
pub type App = MapRequest<Router, fn(Request) -> Request>;

/// `router` behind the trailing-slash rewrite, ready for `axum::serve`.
pub fn ignoring_trailing_slashes(router: Router) -> IntoMakeService<App> {
    axum::ServiceExt::<Request>::into_make_service(ignoring_trailing_slashes_service(router))
}

/// `router` behind the trailing-slash rewrite, as a per-connection service (for
/// [`crate::conn::serve`]).
pub fn ignoring_trailing_slashes_service(router: Router) -> App {
    router.map_request(strip_trailing_slashes as fn(Request) -> Request)
}

/// `request` with its path's trailing slashes removed (`/` itself stays `/`).
pub fn strip_trailing_slashes(mut request: Request) -> Request {
    if let Some(uri) = without_trailing_slashes(request.uri()) {
        *request.uri_mut() = uri;
    }
    request
}

/// The URI without its path's trailing slashes, or `None` when there are none to remove.
fn without_trailing_slashes(uri: &Uri) -> Option<Uri> {
    let path = uri.path();
    if path.len() <= 1 || !path.ends_with('/') {
        return None;
    }
    let trimmed = path.trim_end_matches('/');
    let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
    let path_and_query = match uri.query() {
        Some(query) => format!("{trimmed}?{query}"),
        None => trimmed.to_owned(),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(PathAndQuery::try_from(path_and_query).ok()?);
    Uri::from_parts(parts).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(uri: &str) -> String {
        let uri: Uri = uri.parse().expect("uri");
        without_trailing_slashes(&uri).unwrap_or(uri).to_string()
    }

    #[test]
    fn trailing_slashes_go_and_the_query_stays() {
        assert_eq!(rewritten("/master/state/"), "/master/state");
        assert_eq!(rewritten("/slaves//"), "/slaves");
        assert_eq!(
            rewritten("/master/tasks/?limit=5&order=asc"),
            "/master/tasks?limit=5&order=asc"
        );
        assert_eq!(
            rewritten("http://h:5050/frameworks/"),
            "http://h:5050/frameworks"
        );
        assert_eq!(rewritten("/"), "/");
        assert_eq!(rewritten("//"), "/");
        assert_eq!(rewritten("/master/state"), "/master/state");
    }
}
