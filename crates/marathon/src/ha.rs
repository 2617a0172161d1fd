//! High availability for `drover marathon --zk=zk://…/marathon`, laid out as Marathon's: the
//! schedulers elect a leader with Curator's `LeaderLatch` layout under `<path>/leader-curator`
//! (members `_c_<uuid>-latch-<sequence>`, data `host:port`), and the leader keeps the state
//! (apps, versions, instances, deployments, framework id) in ZooKeeper under `<path>/state`
//! ([`drover_coord::CoordStore`]), every write fenced by its latch node.
//!
//! Every scheduler serves the API through one [`Gate`]: the leader answers (adding
//! `X-Marathon-Leader`), a follower proxies the request to the leader (adding `X-Marathon-Via`;
//! a request that already passed through it is a loop, 502) and answers `/v2/events` with a 302
//! to the leader. While no leader is known for a moment it holds the request, then answers 502
//! ("Could not determine the current leader", as Marathon 1.10).
//!
//! A leader that loses its session or sees another leader stops at once and the process exits
//! for its supervisor, as Marathon's did: a clean start is the only state it can trust. So does
//! one asked to abdicate (`DELETE /v2/leader`), once its answer is on its way.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use drover_coord::{
    CURATOR_LATCH_LABEL, CoordStore, Coordinator, Observed, Session, ZkCoordinator,
};
use drover_store::Store;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tower::ServiceExt;

use crate::Flags;

/// Marathon's header naming the leader on every answer of the leader.
pub const LEADER_HEADER: &str = "x-marathon-leader";
/// Marathon's header each proxy adds (`1.1 host:port`), by which a loop is detected.
pub const VIA_HEADER: &str = "x-marathon-via";

/// How long a follower holds a request while leadership is changing hands (Marathon: ten
/// tries 250 ms apart).
const CONSISTENT_LEADERSHIP_WAIT: Duration = Duration::from_millis(2_500);

/// Largest answer proxied from the leader (a follower buffers it).
const PROXIED_RESPONSE_MAX: usize = 256 * 1024 * 1024;

/// Where the election and the state live under the `--zk` path.
pub fn election_group(root: &str) -> String {
    format!("{}/leader-curator", root.trim_end_matches('/'))
}

/// The state's root under the `--zk` path.
pub fn state_root(root: &str) -> String {
    format!("{}/state", root.trim_end_matches('/'))
}

/// A request to step down (`DELETE /v2/leader`); the leader exits once its answer is written.
#[derive(Debug, Clone)]
pub struct Abdication(mpsc::Sender<()>);

impl Abdication {
    /// Asks the leader to step down; the caller's answer goes out first (see [`Gate`]).
    pub fn request(&self) {
        let _ = self.0.try_send(());
    }
}

/// What every scheduler serves: the leader's API while it leads, the proxy otherwise.
pub struct Gate {
    me: String,
    own_member: watch::Sender<Option<String>>,
    leading: watch::Sender<Option<axum::Router>>,
    observed: watch::Receiver<Observed>,
    http: reqwest::Client,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate")
            .field("me", &self.me)
            .finish_non_exhaustive()
    }
}

fn message(status: StatusCode, text: &str) -> Response {
    (status, axum::Json(json!({ "message": text }))).into_response()
}

fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "host"
            | "content-length"
    )
}

impl Gate {
    fn new(me: String, observed: watch::Receiver<Observed>) -> anyhow::Result<Arc<Gate>> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(120))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("build the proxy's HTTP client")?;
        Ok(Arc::new(Gate {
            me,
            own_member: watch::channel(None).0,
            leading: watch::channel(None).0,
            observed,
            http,
        }))
    }

    /// The leader's host:port when another scheduler leads.
    fn other_leader(&self) -> Option<String> {
        let observed = self.observed.borrow();
        let member = observed.leader()?;
        if self.own_member.borrow().as_deref() == Some(member.name.as_str()) {
            return None;
        }
        String::from_utf8(member.data.clone()).ok()
    }

    async fn handle(self: Arc<Gate>, request: Request) -> Response {
        let looped = request
            .headers()
            .get_all(VIA_HEADER)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| {
                v.split(',')
                    .any(|hop| hop.trim().ends_with(&format!(" {}", self.me)))
            });
        if looped {
            return message(StatusCode::BAD_GATEWAY, "Detected proxying loop.");
        }
        let mut leading = self.leading.subscribe();
        let mut observed = self.observed.clone();
        let deadline = tokio::time::Instant::now() + CONSISTENT_LEADERSHIP_WAIT;
        loop {
            let router = leading.borrow_and_update().clone();
            if let Some(router) = router {
                let mut response = match router.oneshot(request).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                };
                if let Ok(value) = HeaderValue::from_str(&format!("http://{}", self.me)) {
                    response.headers_mut().insert(LEADER_HEADER, value);
                }
                return response;
            }
            if let Some(leader) = self.other_leader() {
                // A leader that stops answering (paused, cut off) is replaced after the
                // session timeout: a request waiting on it then ends rather than hanging on.
                let mut changes = self.observed.clone();
                changes.mark_unchanged();
                let replaced = async {
                    loop {
                        if changes.changed().await.is_err() {
                            return std::future::pending().await;
                        }
                        if self.other_leader().as_deref() != Some(leader.as_str()) {
                            return;
                        }
                    }
                };
                return tokio::select! {
                    response = self.proxy(&leader, request) => response,
                    () = replaced => message(
                        StatusCode::SERVICE_UNAVAILABLE,
                        &format!("the leading scheduler {leader} was replaced while this request waited on it; it may or may not have been applied: retry"),
                    ),
                };
            }
            if request.uri().path() == "/ping" {
                // Liveness of this scheduler, whoever leads.
                return ([(header::CONTENT_TYPE, "text/plain")], "pong").into_response();
            }
            // Leadership is changing hands (or we were just elected and are loading): wait.
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => break,
                _ = leading.changed() => {}
                _ = observed.changed() => {}
            }
        }
        // Marathon 1.10 answers 502 here (earlier releases 503).
        message(
            StatusCode::BAD_GATEWAY,
            "Could not determine the current leader",
        )
    }

    async fn proxy(&self, leader: &str, request: Request) -> Response {
        let (parts, body) = request.into_parts();
        let path = parts
            .uri
            .path_and_query()
            .map_or("/", axum::http::uri::PathAndQuery::as_str);
        let url = format!("http://{leader}{path}");
        if parts.uri.path().starts_with("/v2/events") {
            // Event streams are not proxied (Marathon's default): the client goes to the leader.
            return match HeaderValue::from_str(&url) {
                Ok(location) => (StatusCode::FOUND, [(header::LOCATION, location)]).into_response(),
                Err(_) => message(StatusCode::BAD_GATEWAY, "the leader's address is not a URL"),
            };
        }
        let body = match axum::body::to_bytes(body, crate::api::BODY_MAX).await {
            Ok(body) => body,
            Err(_) => {
                return message(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &format!(
                        "request body over {} bytes, or cut short",
                        crate::api::BODY_MAX
                    ),
                );
            }
        };
        let mut headers = HeaderMap::new();
        for (name, value) in &parts.headers {
            if !hop_by_hop(name) {
                headers.append(name.clone(), value.clone());
            }
        }
        if let Ok(via) = HeaderValue::from_str(&format!("1.1 {}", self.me)) {
            headers.append(VIA_HEADER, via);
        }
        let sent = self
            .http
            .request(parts.method, &url)
            .headers(headers)
            .body(body)
            .send()
            .await;
        let mut answer = match sent {
            Ok(answer) => answer,
            Err(error) => {
                tracing::warn!(%error, leader, "cannot proxy to the leading scheduler");
                return message(
                    StatusCode::BAD_GATEWAY,
                    &format!("cannot reach the leading scheduler {leader}: {error}"),
                );
            }
        };
        let status = answer.status();
        let mut headers = HeaderMap::new();
        for (name, value) in answer.headers() {
            if !hop_by_hop(name) {
                headers.append(name.clone(), value.clone());
            }
        }
        let mut bytes = Vec::new();
        loop {
            match answer.chunk().await {
                Ok(Some(chunk)) => {
                    if bytes.len() + chunk.len() > PROXIED_RESPONSE_MAX {
                        return message(
                            StatusCode::BAD_GATEWAY,
                            "the leader's answer is too large to proxy",
                        );
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(error) => {
                    return message(
                        StatusCode::BAD_GATEWAY,
                        &format!("the leading scheduler {leader} broke off its answer: {error}"),
                    );
                }
            }
        }
        let mut response = Response::new(Body::from(Bytes::from(bytes)));
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        response
    }
}

/// Waits until the process should stop leading: the session is lost, another member leads,
/// or the member is gone from what we observe.
async fn deposed(
    coordinator: &dyn Coordinator,
    mut observed: watch::Receiver<Observed>,
    own: &str,
) -> String {
    let mut session = coordinator.session();
    // The tick catches a lease that ran out while this process was paused.
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        if let Session::Lost(reason) = &*session.borrow() {
            return reason.clone();
        }
        if !coordinator.is_live() {
            return "no answer from ZooKeeper within the session's lease".to_owned();
        }
        match &*observed.borrow() {
            Observed::Leader(member) if member.name != own => {
                return format!("{} leads now", String::from_utf8_lossy(&member.data));
            }
            Observed::NoLeader => return "this scheduler's latch node is gone".to_owned(),
            _ => {}
        }
        tokio::select! {
            _ = session.changed() => {}
            _ = observed.changed() => {}
            _ = tick.tick() => {}
        }
    }
}

/// Runs a scheduler of an HA group on `listener` until it is shut down (`Ok`), abdicates
/// (`Ok`: the process exits for its supervisor, as Marathon's) or loses leadership (`Err`).
pub async fn serve(
    flags: Flags,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let Some(url) = flags.ha.zk.clone() else {
        anyhow::bail!("HA needs --zk");
    };
    let port = listener.local_addr()?.port();
    let me = format!("{}:{port}", flags.hostname);
    let coordinator = ZkCoordinator::connect(
        &url,
        Duration::from_millis(flags.ha.zk_session_timeout),
        Duration::from_millis(flags.ha.zk_connection_timeout),
    )
    .await
    .with_context(|| format!("--zk {url}"))?;
    let coordinator: Arc<dyn Coordinator> = Arc::new(coordinator);
    let group = election_group(&url.path);
    let label = format!("_c_{}-{CURATOR_LATCH_LABEL}", uuid::Uuid::new_v4());
    let observed = coordinator.observe(&group, CURATOR_LATCH_LABEL);
    let gate = Gate::new(me.clone(), observed.clone())?;
    let app = axum::Router::new()
        .fallback({
            let gate = gate.clone();
            move |request: Request| gate.clone().handle(request)
        })
        .layer(axum::extract::DefaultBodyLimit::max(crate::api::BODY_MAX));
    // `--http_credentials`: every scheduler checks, the follower before it proxies.
    let app = match flags.listener.http_policy() {
        Some(policy) => app.layer(axum::middleware::from_fn_with_state(
            policy,
            drover_http::auth::middleware,
        )),
        None => app,
    };
    let (stop_server, server_stopped) = watch::channel(false);
    let mut server_stop = server_stopped.clone();
    let server = tokio::spawn(
        crate::serve_api(&flags, listener, app, async move {
            let _ = server_stop.wait_for(|stop| *stop).await;
        })
        .await?,
    );
    let result = contend(
        &flags,
        &gate,
        coordinator,
        &url.path,
        &label,
        &me,
        port,
        shutdown,
    )
    .await;
    // Let answers in flight (an abdication's among them) finish, for a moment: open event
    // streams never end on their own.
    let _ = stop_server.send(true);
    let mut server = server;
    if tokio::time::timeout(Duration::from_secs(2), &mut server)
        .await
        .is_err()
    {
        server.abort();
    }
    result
}

#[allow(clippy::too_many_arguments)]
async fn contend(
    flags: &Flags,
    gate: &Arc<Gate>,
    coordinator: Arc<dyn Coordinator>,
    root: &str,
    label: &str,
    me: &str,
    port: u16,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    tokio::pin!(shutdown);
    let group = election_group(root);
    let membership = coordinator
        .join(&group, label, me.as_bytes().to_vec())
        .await
        .with_context(|| format!("join the schedulers' election at {group}"))?;
    let own = membership
        .path
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    gate.own_member.send_replace(Some(own.clone()));
    tracing::info!(member = %membership.path, participant = me, "contending for leadership");
    let mut observed = gate.observed.clone();
    let mut session = coordinator.session();
    tokio::select! {
        _ = &mut shutdown => return Ok(()),
        elected = observed.wait_for(|o| o.leader().is_some_and(|m| m.name == own)) => {
            elected.context("the election observer stopped")?;
        }
        lost = session.wait_for(|s| matches!(s, Session::Lost(_))) => {
            let reason = match lost.as_deref() { Ok(Session::Lost(r)) => r.clone(), _ => String::new() };
            anyhow::bail!("lost the ZooKeeper session before being elected: {reason}");
        }
    }
    tracing::info!(
        participant = me,
        "elected leader; loading state from ZooKeeper"
    );
    let state = state_root(root);
    let mut store = CoordStore::open(coordinator.clone(), membership.clone(), &state)
        .await
        .with_context(|| format!("load the scheduler's state from {state}"))?;
    store.set_op_timeout(Duration::from_millis(flags.ha.zk_timeout));
    let store: Arc<dyn Store> = Arc::new(store);
    let (abdicate_tx, mut abdicate_rx) = mpsc::channel(1);
    // The link to Mesos asks before every call: a leader paused past its lease (or deposed)
    // must not take the framework back from its successor in the moment before it notices.
    let may_act = {
        let coordinator = coordinator.clone();
        let observed = gate.observed.clone();
        let own = own.clone();
        drover_scheduler_client::MayAct(Arc::new(move || {
            coordinator.is_live()
                && !matches!(&*observed.borrow(), Observed::Leader(m) if m.name != own)
        }))
    };
    let leading = crate::start_leader(
        flags,
        store,
        port,
        Some(Abdication(abdicate_tx)),
        Some(may_act),
    )?;
    let mut actor = leading.actor;
    gate.leading.send_replace(Some(leading.router));
    tracing::info!(participant = me, "leading: serving the API");
    let outcome: anyhow::Result<bool> = tokio::select! {
        _ = &mut shutdown => Ok(false),
        reason = deposed(coordinator.as_ref(), gate.observed.clone(), &own) => {
            Err(anyhow::anyhow!("lost leadership ({reason}); exiting so that a clean process contends again"))
        }
        _ = abdicate_rx.recv() => {
            tracing::warn!(participant = me, "abdicated leadership (DELETE /v2/leader); exiting so that a clean process contends again");
            Ok(true)
        }
        result = &mut actor => Err(match result {
            Ok(Ok(())) => anyhow::anyhow!("the scheduler actor stopped"),
            Ok(Err(error)) => error.context("the scheduler actor stopped"),
            Err(error) => anyhow::anyhow!("the scheduler actor panicked: {error}"),
        }),
    };
    // Stop acting at once: no request reaches the actor any more, and the actor (with the
    // link to Mesos it owns) is gone before the membership is.
    gate.leading.send_replace(None);
    actor.abort();
    let _ = actor.await;
    if let Ok(true) = outcome {
        // Hand over now rather than when the session expires.
        if let Err(error) = coordinator.leave(&membership).await {
            tracing::warn!(%error, "cannot leave the election; the session's expiry will");
        }
    }
    outcome.map(|_| ())
}
