//! The image store's registry client against a registry that wants credentials: a `Bearer`
//! challenge answered with a token the realm grants for `--docker_config`'s user (Docker Hub's
//! scheme), a `Basic` challenge answered directly, and a refusal naming the registry when no
//! credentials fit. The registry here is a few routes of the Registry API v2 (Debian's
//! `docker-registry` would need an htpasswd tool to run with authentication).

use crate::registry;

use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use drover_agent::provisioner::store::{Store, sha256_hex};
use drover_agent::provisioner::{DOCKER_HUB, ImageRef};

#[derive(Clone)]
struct Fake {
    port: u16,
    bearer: bool,
    manifest: Arc<Vec<u8>>,
    blobs: Arc<Vec<(String, Vec<u8>)>>,
    token_requests: Arc<Mutex<Vec<String>>>,
}

const BASIC: &str = "Basic YWxpY2U6czNjcmV0"; // alice:s3cret

impl Fake {
    fn authorized(&self, headers: &HeaderMap) -> bool {
        let given = headers.get("authorization").and_then(|v| v.to_str().ok());
        if self.bearer {
            given == Some("Bearer tok-123")
        } else {
            given == Some(BASIC)
        }
    }

    fn challenge(&self) -> Response {
        let value = if self.bearer {
            format!(
                "Bearer realm=\"http://127.0.0.1:{}/token\",service=\"fake\",scope=\"repository:secure:pull\"",
                self.port
            )
        } else {
            "Basic realm=\"fake\"".to_owned()
        };
        (StatusCode::UNAUTHORIZED, [("www-authenticate", value)]).into_response()
    }
}

async fn serve_manifest(State(fake): State<Fake>, headers: HeaderMap) -> Response {
    if !fake.authorized(&headers) {
        return fake.challenge();
    }
    (
        [(
            "content-type",
            "application/vnd.docker.distribution.manifest.v2+json",
        )],
        fake.manifest.as_ref().clone(),
    )
        .into_response()
}

async fn blob(
    State(fake): State<Fake>,
    Path(digest): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !fake.authorized(&headers) {
        return fake.challenge();
    }
    match fake.blobs.iter().find(|(d, _)| *d == digest) {
        Some((_, bytes)) => bytes.clone().into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn token(
    State(fake): State<Fake>,
    headers: HeaderMap,
    query: axum::extract::RawQuery,
) -> Response {
    fake.token_requests
        .lock()
        .unwrap()
        .push(query.0.unwrap_or_default());
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(BASIC) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    axum::Json(serde_json::json!({"token": "tok-123"})).into_response()
}

async fn serve(bearer: bool) -> Fake {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let layer = registry::layer(&[("hello", 0o644, b"hi".to_vec())], &[]);
    let config = serde_json::to_vec(&serde_json::json!({"config": {"Cmd": ["/hello"]}})).unwrap();
    let digest = |b: &[u8]| format!("sha256:{}", sha256_hex(b));
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"digest": digest(&config), "size": config.len()},
        "layers": [{"digest": digest(&layer), "size": layer.len(),
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip"}]
    });
    let fake = Fake {
        port,
        bearer,
        manifest: Arc::new(serde_json::to_vec(&manifest).unwrap()),
        blobs: Arc::new(vec![(digest(&config), config), (digest(&layer), layer)]),
        token_requests: Arc::default(),
    };
    let app = axum::Router::new()
        .route("/v2/secure/manifests/{reference}", get(serve_manifest))
        .route("/v2/secure/blobs/{digest}", get(blob))
        .route("/token", get(token))
        .with_state(fake.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    fake
}

const CONFIG: &str = r#"{"auths": {"127.0.0.1": {"auth": "YWxpY2U6czNjcmV0"}}}"#;

fn config_for(port: u16) -> String {
    CONFIG.replace("127.0.0.1", &format!("127.0.0.1:{port}"))
}

#[tokio::test]
async fn a_bearer_challenge_is_answered_with_a_token_for_the_configured_user() {
    let fake = serve(true).await;
    let image = ImageRef::parse(&format!("127.0.0.1:{}/secure:1", fake.port), DOCKER_HUB).unwrap();
    let dir = tempfile::tempdir().unwrap();

    // No credentials: the token service refuses, and the error says so.
    let store = Store::open(dir.path(), None).unwrap();
    let why = store.get(&image, true, None).await.unwrap_err();
    assert!(
        why.contains("refused the pull") && why.contains("401"),
        "{why}"
    );

    // The agent's --docker_config: a token for the repository, then the image.
    let store = Store::open(dir.path(), Some(config_for(fake.port))).unwrap();
    let pulled = store.get(&image, true, None).await.unwrap();
    assert_eq!(pulled.config.cmd, ["/hello"]);
    assert_eq!(
        std::fs::read(store.layer_rootfs(&pulled.layers[0]).join("hello")).unwrap(),
        b"hi"
    );
    let asked = fake.token_requests.lock().unwrap().clone();
    assert!(
        asked
            .last()
            .is_some_and(|q| q.contains("service=fake") && q.contains("repository%3Asecure%3Apull")),
        "{asked:?}"
    );

    // A task's own docker config (Marathon's pullConfig) wins over the agent's.
    let fresh = tempfile::tempdir().unwrap();
    let store = Store::open(fresh.path(), Some(CONFIG.to_owned())).unwrap();
    assert!(store.get(&image, false, None).await.is_err());
    let own = config_for(fake.port);
    assert!(store.get(&image, false, Some(&own)).await.is_ok());
}

#[tokio::test]
async fn a_basic_challenge_is_answered_with_the_configured_credentials() {
    let fake = serve(false).await;
    let image = ImageRef::parse(&format!("127.0.0.1:{}/secure:1", fake.port), DOCKER_HUB).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), None).unwrap();
    let why = store.get(&image, true, None).await.unwrap_err();
    assert!(
        why.contains("asks for credentials") && why.contains(&format!("127.0.0.1:{}", fake.port)),
        "{why}"
    );
    let store = Store::open(dir.path(), Some(config_for(fake.port))).unwrap();
    store.get(&image, true, None).await.unwrap();
    assert!(fake.token_requests.lock().unwrap().is_empty());
}
