//! `drover master`: the Mesos-compatible master daemon, the I/O driver around
//! `drover_core::master`. It owns the HTTP server, the registry store under `--work_dir`
//! (namespace `master`) and the single task that runs the core.
//!
//! # HTTP surface
//!
//! - Scheduler API v1: `POST /api/v1/scheduler` and `/master/api/v1/scheduler` (and any path
//!   below them), JSON or protobuf, RecordIO event streams with `Mesos-Stream-Id`.
//! - Operator API v1: `POST /api/v1` and any other path below it (pymesos uses
//!   `/api/v1/operator`), also under `/master/api/v1`.
//! - Legacy GETs: `/master/state` (`/state`, `/state.json`, `/master/state.json`),
//!   `/master/health`, `/health`, `/version`, `/master/redirect`, `/metrics/snapshot`,
//!   `/master/slaves`, `/master/frameworks`, `/master/tasks`, `/master/flags`.
//! - Drover's agent protocol: `POST /drover/internal/agent` (see below).
//!
//! # The agent protocol (`drover.internal.AgentCall` / `AgentEvent`)
//!
//! Bodies are `application/x-protobuf` or `application/json` (Mesos' JSON mapping), chosen by
//! `Content-Type`; the session stream uses the `Accept` encoding (JSON if absent).
//!
//! 1. The agent POSTs `REGISTER` (no id) or `REREGISTER` (`agent_info.id` set, with every task,
//!    executor and framework it still knows). The answer is `200` with a RecordIO stream of
//!    `AgentEvent`s and a `Mesos-Stream-Id` header: the session. The first event is
//!    `REGISTERED`/`REREGISTERED` (agent id, master info, `ping_timeout_seconds`,
//!    `max_ping_timeouts`). A gone agent gets `SHUTDOWN` and the stream ends. Malformed
//!    registrations get `400` before any stream.
//! 2. Every later call (`STATUS_UPDATE`, `PONG`, `EXECUTOR_EXITED`, `UNREGISTER`,
//!    `FRAMEWORK_MESSAGE`) is its own POST to the same path with `agent_id` set and the
//!    session's `Mesos-Stream-Id` header; the answer is `202`. `403` means the master does not
//!    consider the agent connected (it must reregister); `400` a bad call or stale stream id.
//!    `STATUS_UPDATES` carries several status updates in one POST; the master handles them in
//!    order exactly as that many `STATUS_UPDATE` calls and answers `202` if it accepted all,
//!    else the first refusal.
//! 3. Events the agent must handle on its session: `RUN_TASK` (a task, or an executor plus a
//!    task group), `KILL_TASK`, `ACKNOWLEDGE` (forward to its status update manager),
//!    `UPDATE_FRAMEWORK` (resend pending updates of that framework now), `SHUTDOWN_FRAMEWORK`,
//!    `SHUTDOWN_EXECUTOR`, `PING` (answer with a `PONG` call echoing `sequence`), `SHUTDOWN`
//!    (marked gone: kill everything, exit, do not reregister), `RECONCILE_TASKS` (tasks the
//!    master has that the agent did not report: answer each with a reliable TASK_DROPPED or
//!    TASK_LOST, REASON_RECONCILIATION), `FRAMEWORK_MESSAGE`.
//! 4. Health: the master pings every `--agent_ping_timeout`; after
//!    `--max_agent_ping_timeouts` unanswered pings the agent is marked unreachable and its
//!    session closed. If the stream breaks (either side restarts), the agent reregisters with
//!    backoff within `--agent_reregister_timeout`.
//!
//! Status updates carry `latest_state` (the agent's newest state of the task) and the uuid of
//! the update being delivered; the master forwards them to the framework if it is connected
//! and otherwise drops them (the agent retries).

pub mod acls;
pub mod auth;
pub mod driver;
pub mod flags;
pub mod front;
pub mod ha;
pub mod legacy;
pub mod legacy_extra;
pub mod operator;
pub mod persist;
pub mod pieces;
pub mod routes;
pub mod stream_body;
pub mod view;

use std::sync::Arc;

use anyhow::Context;
use drover_core::master::Master;
use drover_store::{RedbStore, Store};

pub use flags::Flags;

/// Runs the master until `shutdown` resolves: binds `--ip:--port`, then serves.
pub async fn run(
    flags: Flags,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let address = std::net::SocketAddr::new(flags.ip, flags.port);
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))?;
    run_on(listener, flags, shutdown).await
}

/// Runs the master on an already bound listener (tests bind port 0 and read the port back).
pub async fn run_on(
    listener: tokio::net::TcpListener,
    flags: Flags,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let port = listener
        .local_addr()
        .context("cannot read the listening address")?
        .port();
    // After a master restart every agent reconnects at once.
    drover_http::listen::raise_backlog(&listener);
    let work_dir = flags.work_dir.clone();
    let http_limits = flags.http_limits();
    // Before anything is opened: a TLS setting that cannot be honoured stops the start.
    let tls = drover_http::tls::server().map_err(|e| anyhow::anyhow!("TLS: {e}"))?;
    let auth_policy = flags.auth.policy()?;
    let acls = match &flags.auth.acls {
        Some(flag) => Some(std::sync::Arc::new(
            acls::Acls::load(flag).map_err(anyhow::Error::msg)?,
        )),
        None => None,
    };
    if auth_policy.is_none() && !flags.ip.is_loopback() {
        tracing::warn!(
            address = %flags.ip,
            "the master listens on a non-loopback address without authentication (--authenticate_*); anyone who can reach it can run tasks and tear down frameworks"
        );
    }
    let store = tokio::task::spawn_blocking(move || RedbStore::open(&work_dir))
        .await
        .context("opening the registry failed")?
        .with_context(|| format!("cannot open the registry in {}", flags.work_dir.display()))?;
    let store: Arc<dyn Store> = Arc::new(store);
    let loaded = store.clone();
    let registry = tokio::task::spawn_blocking(move || persist::load(loaded.as_ref()))
        .await
        .context("reading the registry failed")?
        .context("cannot read the registry")?;
    tracing::info!(
        master_id = %registry.master_id,
        agents = registry.agents.len(),
        frameworks = registry.frameworks.len(),
        port,
        "master recovered its registry"
    );
    let mut config = flags.config(port);
    // `run_tasks` is decided by the core at each launch, as the master's other rules.
    config.run_tasks = acls.as_ref().and_then(|a| a.run_tasks());
    config.operation_acls = acls.as_ref().and_then(|a| a.operation_acls());
    let own = ha::LeaderAddress {
        host: flags.advertised_hostname(),
        port,
    };
    // With --zk, join the masters' group first: a master serves (redirecting) while it follows
    // and starts its driver only once elected.
    let own_info = {
        let mut info = config.master_info.clone();
        info.id = registry.master_id.clone();
        master_info_json(&info)
    };
    let contender = match &flags.zk {
        Some(url) => {
            Some(ha::Contender::join(url, flags.zk_session_timeout, own_info.clone()).await?)
        }
        None => None,
    };
    let leadership = match &contender {
        Some(contender) => contender.leadership(own, own_info),
        None => ha::Leadership::standalone(own, own_info),
    };
    let flags_registry_root = flags.zk.as_ref().map(ha::registry_root);
    let (handle, commands) = driver::channel();
    let state = routes::AppState::new(handle, Arc::new(flags), port);
    let app = routes::router(state);
    // Authentication (issue 14): one policy from the flags, consulted before any handler.
    let app = match auth_policy {
        Some(policy) => app.layer(axum::middleware::from_fn_with_state(
            policy,
            drover_http::auth::middleware,
        )),
        None => app,
    };
    // Outermost, in one layer: the CORS answers for reads across origins (on every answer, a
    // 401 or a redirect included, and the preflight before authentication), then the HA gate
    // (a master that does not lead redirects before anything else looks at the request; the
    // leader authenticates it), then the extensions the handlers read.
    let app = app.layer(front::FrontLayer::new(
        leadership,
        std::sync::Arc::new(auth::AgentPrincipals::default()),
        acls,
    ));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut server_stop = stop_rx.clone();
    // Idle and half-open clients are bounded: a connection cap, a header deadline and an idle
    // timeout between requests (streams are exempt from the last). TLS from LIBPROCESS_SSL_*.
    let server = tokio::spawn(drover_http::conn::serve_tcp(
        listener,
        tls,
        http_limits,
        drover_http::paths::ignoring_trailing_slashes_service(app),
        async move {
            let _ = server_stop.wait_for(|stop| *stop).await;
        },
    ));
    let result = match contender {
        None => {
            let master = Master::new(config, registry, driver::now_ms());
            driver::run(master, store, commands, shutdown, || true).await
        }
        Some(contender) => {
            let root = flags_registry_root.unwrap_or_default();
            lead(
                contender,
                config,
                registry.master_id.clone(),
                root,
                store,
                commands,
                shutdown,
            )
            .await
        }
    };
    let _ = stop_tx.send(true);
    // Open streams never end on their own; do not wait for them.
    server.abort();
    result
}

/// The MasterInfo as Mesos writes it into its group znode (`JSON::protobuf(masterInfo)`).
fn master_info_json(info: &drover_wire::v1::MasterInfo) -> Vec<u8> {
    let mut json = drover_wire::json::to_json_value(info);
    if let Some(map) = json.as_object_mut() {
        map.entry("capabilities")
            .or_insert_with(|| serde_json::Value::Array(Vec::new()));
    }
    json.to_string().into_bytes()
}

/// A contending master: waits to be elected, then runs the driver on a fenced store until it
/// is deposed (an error: the process exits for its supervisor) or shut down.
async fn lead(
    contender: ha::Contender,
    config: drover_core::master::Config,
    master_id: String,
    registry_root: String,
    store: Arc<dyn Store>,
    commands: tokio::sync::mpsc::Receiver<driver::Command>,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    tokio::pin!(shutdown);
    // While following, keep a copy of the registry current, so that being elected does not
    // mean reading every agent's znode first.
    let standby = contender.stand_by(&registry_root);
    tokio::select! {
        _ = &mut shutdown => return Ok(()),
        elected = contender.elected() => elected?,
    }
    let elected_at = std::time::Instant::now();
    // The registry the previous leader left in ZooKeeper, not this master's local one (which
    // keeps only this master's identity; it stays open so its lock keeps another master off
    // this work dir).
    let _local = store;
    let (store, warm) = contender
        .registry_store(&registry_root, Some(standby))
        .await?;
    let loaded = store.clone();
    let mut registry = tokio::task::spawn_blocking(move || persist::load(loaded.as_ref()))
        .await
        .context("reading the registry failed")?
        .context("cannot read the registry from ZooKeeper")?;
    registry.master_id = master_id;
    tracing::info!(
        agents = registry.agents.len(),
        frameworks = registry.frameworks.len(),
        root = %registry_root,
        standby_copy = warm,
        took_ms = elected_at.elapsed().as_millis() as u64,
        "elected: recovered the registry from ZooKeeper"
    );
    let master = Master::new(config, registry, driver::now_ms());
    let deposed = contender.deposed();
    let (lost_tx, mut lost_rx) = tokio::sync::oneshot::channel::<()>();
    let stop = async move {
        tokio::select! {
            _ = shutdown => {}
            _ = deposed => { let _ = lost_tx.send(()); }
        }
    };
    let may_act = contender.may_act();
    let result = driver::run(master, store, commands, stop, may_act).await;
    if lost_rx.try_recv().is_ok() {
        anyhow::bail!("Lost leadership... committing suicide!");
    }
    result
}
