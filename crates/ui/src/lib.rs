//! The web UI, embedded: serves the single-page app built from `ui/` (its committed
//! `ui/dist/`), at `/` on the master (the cluster UI) and at `/ui/` on the scheduler (the
//! services UI, Marathon's path), plus the read-only CORS that lets the services UI read the
//! master's and the agents' GET endpoints from the scheduler's origin, with credentials when
//! they want them.
//!
//! The bundle is compiled in with `include_str!`, so a fresh clone serves the UI with no npm
//! step; `scripts/test` checks that the committed bundle is what `ui/`'s build produces.

use axum::Router;
use axum::extract::{Path, Request};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

/// The page; its asset links are relative (`ui-assets/…`), so one page serves both mounts.
pub const INDEX_HTML: &str = include_str!("../../../ui/dist/index.html");
/// The bundled application.
pub const APP_JS: &str = include_str!("../../../ui/dist/app.js");
/// The stylesheet.
pub const APP_CSS: &str = include_str!("../../../ui/dist/app.css");

/// The folder of the UI's assets below its mount point. No Mesos or Marathon path starts
/// with it, so it collides with nothing either daemon serves.
pub const ASSETS: &str = "ui-assets";

/// The master's routes: the cluster UI at `/` and its assets under `/ui-assets/`.
pub fn cluster_routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route("/ui-assets/{file}", get(asset))
}

/// The scheduler's routes: the services UI at `/ui/` (`/ui` redirects there, so relative
/// asset links resolve) and its assets under `/ui/ui-assets/`.
pub fn services_routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/ui", get(|| async { Redirect::permanent("/ui/") }))
        .route("/ui/", get(index))
        .route("/ui/ui-assets/{file}", get(asset))
}

/// Whether `path` is one of the UI's own files (a page or an asset, on either mount). They
/// carry no cluster data, so a daemon with authentication on may serve them without
/// credentials: the page then loads and asks for credentials in its own form, where a 401 on
/// the page itself would bring up the browser's native prompt instead.
pub fn is_ui_file(path: &str) -> bool {
    let asset = |rest: &str| matches!(rest, "app.js" | "app.css");
    match path {
        "/" | "/ui" | "/ui/" => true,
        _ => path
            .strip_prefix("/ui-assets/")
            .or_else(|| path.strip_prefix("/ui/ui-assets/"))
            .is_some_and(asset),
    }
}

async fn index() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // The page names the bundle without a hash; never let a browser keep an old one.
            (header::CACHE_CONTROL, "no-cache"),
        ],
        INDEX_HTML,
    )
        .into_response()
}

async fn asset(Path(file): Path<String>) -> Response {
    let (body, kind) = match file.as_str() {
        "app.js" => (APP_JS, "text/javascript; charset=utf-8"),
        "app.css" => (APP_CSS, "text/css; charset=utf-8"),
        _ => return (StatusCode::NOT_FOUND, "No such UI asset").into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// Lets the services UI (served by the scheduler, another origin) read the master's task
/// history and an agent's sandbox: `Access-Control-Allow-Origin: *` on the answers of GET and
/// HEAD requests, and an answer to the preflight of such a read when it carries an
/// `Authorization` header (a master or agent with `--authenticate_http_readonly`). Mesos had
/// no CORS; this is the minimal read-only form. It opens nothing to another origin that the
/// origin could not already read by knowing the credentials: the wildcard origin never allows
/// the browser's own credentials (cookies, cached HTTP authentication), so a page elsewhere
/// reads only with a header it was given, and writes (which need a preflight for JSON) are
/// never granted: their preflight goes on to the route, which does not answer it with CORS.
pub async fn cors_read(request: Request, next: Next) -> Response {
    if let Some(preflight) = read_preflight(&request) {
        return preflight;
    }
    let read = is_read(&request);
    let mut response = next.run(request).await;
    if read {
        allow_read(&mut response);
    }
    response
}

/// Whether [`cors_read`] marks the answer to `request` readable across origins (a GET or HEAD).
pub fn is_read(request: &Request) -> bool {
    matches!(*request.method(), Method::GET | Method::HEAD)
}

/// Marks the answer to a read readable across origins (what [`cors_read`] adds).
pub fn allow_read(response: &mut Response) {
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
}

/// How long a browser may reuse a granted preflight.
const PREFLIGHT_MAX_AGE_SECS: &str = "600";

/// The answer to a CORS preflight for a GET or HEAD that sends only `Authorization` (and
/// safelisted headers), or `None` when the request is not such a preflight.
pub fn read_preflight(request: &Request) -> Option<Response> {
    if request.method() != Method::OPTIONS {
        return None;
    }
    let headers = request.headers();
    let method = headers.get(header::ACCESS_CONTROL_REQUEST_METHOD)?;
    if !matches!(method.as_bytes(), b"GET" | b"HEAD") {
        return None;
    }
    let asked = match headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        Some(v) => v.to_str().ok()?,
        None => "",
    };
    let allowed = asked
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .all(|h| h.eq_ignore_ascii_case("authorization") || h.eq_ignore_ascii_case("accept"));
    if !allowed {
        return None;
    }
    Some(
        (
            StatusCode::NO_CONTENT,
            [
                (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
                (header::ACCESS_CONTROL_ALLOW_METHODS, "GET, HEAD"),
                (
                    header::ACCESS_CONTROL_ALLOW_HEADERS,
                    "Authorization, Accept",
                ),
                (header::ACCESS_CONTROL_MAX_AGE, PREFLIGHT_MAX_AGE_SECS),
            ],
        )
            .into_response(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use tower::ServiceExt;

    async fn call(router: Router, method: Method, path: &str) -> Response {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .expect("request");
        router.oneshot(request).await.expect("infallible")
    }

    #[tokio::test]
    async fn the_cluster_ui_is_served_at_the_root_with_its_assets() {
        let page = call(cluster_routes(), Method::GET, "/").await;
        assert_eq!(page.status(), StatusCode::OK);
        assert!(
            page.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let js = call(cluster_routes(), Method::GET, "/ui-assets/app.js").await;
        assert_eq!(js.status(), StatusCode::OK);
        let missing = call(cluster_routes(), Method::GET, "/ui-assets/nope.js").await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        // The page links its assets relatively, which is what lets one page serve both mounts.
        assert!(INDEX_HTML.contains("\"ui-assets/app.js\""));
        assert!(INDEX_HTML.contains("\"ui-assets/app.css\""));
    }

    #[tokio::test]
    async fn the_services_ui_is_served_below_ui() {
        let redirect = call(services_routes(), Method::GET, "/ui").await;
        assert_eq!(redirect.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(redirect.headers()[header::LOCATION], "/ui/");
        let page = call(services_routes(), Method::GET, "/ui/").await;
        assert_eq!(page.status(), StatusCode::OK);
        let css = call(services_routes(), Method::GET, "/ui/ui-assets/app.css").await;
        assert_eq!(css.status(), StatusCode::OK);
        assert!(
            css.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/css")
        );
    }

    #[test]
    fn the_ui_files_are_known_by_path() {
        for path in [
            "/",
            "/ui",
            "/ui/",
            "/ui-assets/app.js",
            "/ui/ui-assets/app.css",
        ] {
            assert!(is_ui_file(path), "{path}");
        }
        for path in [
            "/master/state",
            "/ui-assets/x.js",
            "/ui/ui-assets/../v2/apps",
            "/v2/apps",
            "/ui/x",
        ] {
            assert!(!is_ui_file(path), "{path}");
        }
    }

    #[tokio::test]
    async fn cors_is_granted_to_reads_only() {
        let router = || {
            Router::new()
                .route("/x", get(|| async { "ok" }).post(|| async { "ok" }))
                .layer(axum::middleware::from_fn(cors_read))
        };
        let read = call(router(), Method::GET, "/x").await;
        assert_eq!(read.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        let write = call(router(), Method::POST, "/x").await;
        assert!(
            write
                .headers()
                .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
                .is_none()
        );
    }

    async fn preflight(method: &str, headers: Option<&str>) -> Response {
        let router = Router::new()
            .route("/x", get(|| async { "ok" }).post(|| async { "ok" }))
            .layer(axum::middleware::from_fn(cors_read));
        let mut request = Request::builder()
            .method(Method::OPTIONS)
            .uri("/x")
            .header(header::ORIGIN, "http://elsewhere:8080")
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, method);
        if let Some(h) = headers {
            request = request.header(header::ACCESS_CONTROL_REQUEST_HEADERS, h);
        }
        let request = request.body(Body::empty()).expect("request");
        router.oneshot(request).await.expect("infallible")
    }

    #[tokio::test]
    async fn a_read_with_credentials_is_granted_its_preflight_and_a_write_is_not() {
        let read = preflight("GET", Some("authorization")).await;
        assert_eq!(read.status(), StatusCode::NO_CONTENT);
        assert_eq!(read.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert_eq!(
            read.headers()[header::ACCESS_CONTROL_ALLOW_METHODS],
            "GET, HEAD"
        );
        assert!(
            read.headers()[header::ACCESS_CONTROL_ALLOW_HEADERS]
                .to_str()
                .unwrap()
                .contains("Authorization")
        );
        // A write's preflight reaches the route, which grants nothing.
        let write = preflight("POST", Some("authorization,content-type")).await;
        assert!(
            write
                .headers()
                .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
                .is_none()
        );
        // A read asking to send another header is not granted either.
        let other = preflight("GET", Some("authorization, x-custom")).await;
        assert!(
            other
                .headers()
                .get(header::ACCESS_CONTROL_ALLOW_METHODS)
                .is_none()
        );
    }
}
