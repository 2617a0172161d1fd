//! `drover marathon`: the Marathon-compatible service scheduler. It owns the REST API v2 and
//! the SSE event stream ([`api`], [`sse`]), the actor around drover-core's Marathon state
//! machine ([`driver`]), persistence in drover-store ([`storage`]) and the link to the Mesos
//! master ([`mesos`]). Decisions live in `drover_core::marathon`; nothing here decides.
//!
//! It must never depend on the master's or agent's crates: it talks to the master only through
//! the Scheduler HTTP API v1.

#![recursion_limit = "256"]

pub mod api;
pub mod driver;
pub mod error;
pub mod events;
pub mod framing;
pub mod ha;
pub mod json;
pub mod mesos;
pub mod readiness;
pub mod sse;
pub mod storage;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use drover_core::marathon::scheduler::{Config, Scheduler};
use drover_store::{RedbStore, Store};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// Flags of `drover marathon` (Marathon's spellings; each also read from `MARATHON_<FLAG>`).
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {
    /// HOST:PORT of the Mesos master. Without it the API runs but nothing is launched.
    #[arg(long = "master", env = "MARATHON_MASTER")]
    pub master: Option<String>,
    /// Port of the REST API.
    #[arg(long = "http_port", env = "MARATHON_HTTP_PORT", default_value_t = 8080)]
    pub http_port: u16,
    /// Address the REST API binds (Marathon's `--http_address`): loopback unless told
    /// otherwise, so an unauthenticated API is not reachable from other hosts by default.
    #[arg(
        long = "http_address",
        env = "MARATHON_HTTP_ADDRESS",
        default_value = "127.0.0.1"
    )]
    pub http_address: std::net::IpAddr,
    /// Hostname advertised to Mesos and clients.
    #[arg(
        long = "hostname",
        env = "MARATHON_HOSTNAME",
        default_value = "localhost"
    )]
    pub hostname: String,
    /// Framework name registered with Mesos.
    #[arg(
        long = "framework_name",
        env = "MARATHON_FRAMEWORK_NAME",
        default_value = "marathon"
    )]
    pub framework_name: String,
    /// The role the framework registers with (Marathon's `--mesos_role`). Resident apps
    /// reserve resources for it, so theirs must be this role (not `*`).
    #[arg(long = "mesos_role", env = "MARATHON_MESOS_ROLE", default_value = "*")]
    pub mesos_role: String,
    /// Milliseconds a task may stay staging before it is killed.
    #[arg(
        long = "task_launch_timeout",
        env = "MARATHON_TASK_LAUNCH_TIMEOUT",
        default_value_t = 300_000
    )]
    pub task_launch_timeout: u64,
    /// Milliseconds between reconciliations.
    #[arg(
        long = "reconciliation_interval",
        env = "MARATHON_RECONCILIATION_INTERVAL",
        default_value_t = 600_000
    )]
    pub reconciliation_interval: u64,
    /// Optional features, comma-separated (Marathon's `--enable_features`). Pods (`/v2/pods`)
    /// are always served, as in Marathon, so `pods` (which earlier Drover releases needed) is
    /// accepted; Marathon's other features (vips, task_killing, external_volumes, secrets,
    /// gpu_resources) are refused at start by name rather than ignored.
    #[arg(
        long = "enable_features",
        env = "MARATHON_ENABLE_FEATURES",
        value_delimiter = ','
    )]
    pub enable_features: Vec<String>,
    /// Directory of the embedded store (unused with --zk, where the state is in ZooKeeper).
    #[arg(
        long = "work_dir",
        env = "MARATHON_WORK_DIR",
        default_value = "./marathon-work"
    )]
    pub work_dir: PathBuf,
    /// Lowest service port given to a `portDefinitions[].port` of 0.
    #[arg(
        long = "local_port_min",
        env = "MARATHON_LOCAL_PORT_MIN",
        default_value_t = 10_000
    )]
    pub local_port_min: u32,
    /// Service ports are below this one.
    #[arg(
        long = "local_port_max",
        env = "MARATHON_LOCAL_PORT_MAX",
        default_value_t = 20_000
    )]
    pub local_port_max: u32,
    /// High availability on ZooKeeper (Marathon's `--zk` flags).
    #[command(flatten)]
    pub ha: HaFlags,
    /// Listener bounds and authentication (Drover's listener flags, Marathon's auth flags).
    #[command(flatten)]
    pub listener: ListenerFlags,
}

/// The HA flags of `drover marathon` (Marathon's spellings).
#[derive(Debug, Clone, clap::Args)]
pub struct HaFlags {
    /// ZooKeeper URL (`zk://[user:pass@]host:port[,host:port]/path`) of the schedulers'
    /// HA group: they elect one leader under `<path>/leader-curator` (Curator's leader latch,
    /// as Marathon's) and keep the state under `<path>/state`; the others proxy to it. Unlike
    /// Marathon's, the default is none: one scheduler on its embedded store in --work_dir.
    #[arg(long = "zk", env = "MARATHON_ZK", value_parser = parse_zk)]
    pub zk: Option<drover_coord::ZkUrl>,
    /// Milliseconds of the ZooKeeper session: a leader that has not heard from ZooKeeper for
    /// two thirds of it stops leading.
    #[arg(
        long = "zk_session_timeout",
        env = "MARATHON_ZK_SESSION_TIMEOUT",
        default_value_t = 10_000
    )]
    pub zk_session_timeout: u64,
    /// Milliseconds one ZooKeeper write may go unanswered; then the leader stops.
    #[arg(
        long = "zk_timeout",
        env = "MARATHON_ZK_TIMEOUT",
        default_value_t = 10_000
    )]
    pub zk_timeout: u64,
    /// Milliseconds to wait for the first connection to ZooKeeper at start.
    #[arg(
        long = "zk_connection_timeout",
        env = "MARATHON_ZK_CONNECTION_TIMEOUT",
        default_value_t = 10_000
    )]
    pub zk_connection_timeout: u64,
}

impl Default for HaFlags {
    fn default() -> Self {
        HaFlags {
            zk: None,
            zk_session_timeout: 10_000,
            zk_timeout: 10_000,
            zk_connection_timeout: 10_000,
        }
    }
}

fn parse_zk(text: &str) -> Result<drover_coord::ZkUrl, String> {
    drover_coord::ZkUrl::parse(text).map_err(|e| e.to_string())
}

/// The API listener's bounds and authentication flags of `drover marathon`.
#[derive(Debug, Clone, clap::Args)]
pub struct ListenerFlags {
    /// Open HTTP connections accepted at once (SSE streams count); beyond it a new connection
    /// is closed at once (Drover's).
    #[arg(long = "max_connections", env = "MARATHON_MAX_CONNECTIONS", default_value_t = drover_http::guard::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// Milliseconds a client has to send its first request's header (Drover's).
    #[arg(
        long = "http_header_read_timeout",
        env = "MARATHON_HTTP_HEADER_READ_TIMEOUT",
        default_value_t = 30_000
    )]
    pub http_header_read_timeout: u64,
    /// Milliseconds a keep-alive connection may stay open with no request in flight
    /// (Drover's; `/v2/events` streams are never idle).
    #[arg(
        long = "http_idle_timeout",
        env = "MARATHON_HTTP_IDLE_TIMEOUT",
        default_value_t = 60_000
    )]
    pub http_idle_timeout: u64,
    /// `user:password` every API request must carry as HTTP Basic credentials (Marathon's
    /// `--http_credentials`); without it the API is open.
    #[arg(long = "http_credentials", env = "MARATHON_HTTP_CREDENTIALS", value_parser = drover_http::auth::Credential::parse_pair)]
    pub http_credentials: Option<drover_http::auth::Credential>,
    /// Authenticate to the Mesos master with the principal and secret below.
    #[arg(long = "mesos_authentication", env = "MARATHON_MESOS_AUTHENTICATION", default_value = "false", num_args = 0..=1, default_missing_value = "true", value_parser = drover_http::auth::parse_bool_flag)]
    pub mesos_authentication: bool,
    /// The framework's principal (`FrameworkInfo.principal`, and the user of its credential).
    #[arg(
        long = "mesos_authentication_principal",
        env = "MARATHON_MESOS_AUTHENTICATION_PRINCIPAL"
    )]
    pub mesos_authentication_principal: Option<String>,
    /// File holding the framework's secret (its whole content, a trailing newline dropped).
    #[arg(
        long = "mesos_authentication_secret_file",
        env = "MARATHON_MESOS_AUTHENTICATION_SECRET_FILE"
    )]
    pub mesos_authentication_secret_file: Option<PathBuf>,
    /// Port of the HTTPS API (Marathon's `--https_port`); served only with --ssl_cert_file and
    /// --ssl_key_file.
    #[arg(
        long = "https_port",
        env = "MARATHON_HTTPS_PORT",
        default_value_t = 8443
    )]
    pub https_port: u16,
    /// Address the HTTPS API binds (Marathon's `--https_address`); loopback unless told
    /// otherwise.
    #[arg(
        long = "https_address",
        env = "MARATHON_HTTPS_ADDRESS",
        default_value = "127.0.0.1"
    )]
    pub https_address: std::net::IpAddr,
    /// PEM certificate chain of the HTTPS API (Drover's stand-in for Marathon's Java keystore).
    #[arg(
        long = "ssl_cert_file",
        env = "MARATHON_SSL_CERT_FILE",
        requires = "ssl_key_file"
    )]
    pub ssl_cert_file: Option<PathBuf>,
    /// PEM private key of the HTTPS API.
    #[arg(
        long = "ssl_key_file",
        env = "MARATHON_SSL_KEY_FILE",
        requires = "ssl_cert_file"
    )]
    pub ssl_key_file: Option<PathBuf>,
    /// Marathon's Java keystore: not readable by Drover, refused with how to convert it (use
    /// --ssl_cert_file and --ssl_key_file).
    #[arg(long = "ssl_keystore_path", env = "MARATHON_SSL_KEYSTORE_PATH")]
    pub ssl_keystore_path: Option<String>,
    /// The keystore's password: refused with --ssl_keystore_path.
    #[arg(long = "ssl_keystore_password", env = "MARATHON_SSL_KEYSTORE_PASSWORD")]
    pub ssl_keystore_password: Option<String>,
    /// Serve the API over HTTPS only (Marathon's `--disable_http`); needs --ssl_cert_file.
    #[arg(long = "disable_http", env = "MARATHON_DISABLE_HTTP", default_value = "false", num_args = 0..=1, default_missing_value = "true", value_parser = drover_http::auth::parse_bool_flag)]
    pub disable_http: bool,
}

impl Default for ListenerFlags {
    fn default() -> Self {
        ListenerFlags {
            max_connections: drover_http::guard::DEFAULT_MAX_CONNECTIONS,
            http_header_read_timeout: 30_000,
            http_idle_timeout: 60_000,
            http_credentials: None,
            mesos_authentication: false,
            mesos_authentication_principal: None,
            mesos_authentication_secret_file: None,
            https_port: 8443,
            https_address: std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            ssl_cert_file: None,
            ssl_key_file: None,
            ssl_keystore_path: None,
            ssl_keystore_password: None,
            disable_http: false,
        }
    }
}

impl ListenerFlags {
    /// The framework's credential for the master: `Some` with `--mesos_authentication`, which
    /// needs both the principal and a readable secret file.
    pub fn mesos_credential(&self) -> anyhow::Result<Option<drover_http::auth::Credential>> {
        if !self.mesos_authentication {
            return Ok(None);
        }
        let (Some(principal), Some(file)) = (
            &self.mesos_authentication_principal,
            &self.mesos_authentication_secret_file,
        ) else {
            anyhow::bail!(
                "--mesos_authentication needs --mesos_authentication_principal and --mesos_authentication_secret_file"
            );
        };
        let secret = std::fs::read_to_string(file).with_context(|| {
            format!(
                "cannot read --mesos_authentication_secret_file {}",
                file.display()
            )
        })?;
        Ok(Some(drover_http::auth::Credential {
            principal: principal.clone(),
            secret: secret.trim_end_matches(['\n', '\r']).to_owned(),
        }))
    }

    /// The API's request policy: every request needs `--http_credentials` when given.
    pub fn http_policy(&self) -> Option<Arc<drover_http::auth::Policy>> {
        self.http_credentials.as_ref().map(|credential| {
            Arc::new(drover_http::auth::Policy {
                credentials: drover_http::auth::Credentials::single(credential.clone()),
                realm: "Mesosphere",
                // The UI's own page and assets carry no data: the page loads, then asks for
                // credentials in its own form for everything it reads.
                required: Box::new(|method, path| {
                    let read =
                        *method == axum::http::Method::GET || *method == axum::http::Method::HEAD;
                    !(read && drover_ui::is_ui_file(path))
                }),
            })
        })
    }

    /// The HTTPS API's TLS, from --ssl_cert_file and --ssl_key_file; `None` without them.
    pub fn https(&self) -> anyhow::Result<Option<drover_http::tls::ServerTls>> {
        if self.ssl_keystore_path.is_some() || self.ssl_keystore_password.is_some() {
            anyhow::bail!(
                "--ssl_keystore_path/--ssl_keystore_password: Drover cannot read a Java keystore; \
                 export its certificate and key as PEM (keytool -importkeystore -deststoretype \
                 PKCS12, then openssl pkcs12 -nodes) and pass --ssl_cert_file and --ssl_key_file"
            );
        }
        match (&self.ssl_cert_file, &self.ssl_key_file) {
            (Some(cert), Some(key)) => drover_http::tls::server_from_files(cert, key)
                .map(Some)
                .map_err(|e| anyhow::anyhow!("--ssl_cert_file/--ssl_key_file: {e}")),
            (None, None) => Ok(None),
            _ => anyhow::bail!("--ssl_cert_file and --ssl_key_file go together"),
        }
    }

    /// The bounds of the API's listener.
    pub fn http_limits(&self) -> drover_http::guard::Limits {
        drover_http::guard::Limits {
            max_connections: self.max_connections.max(1),
            header_read_timeout: std::time::Duration::from_millis(self.http_header_read_timeout),
            idle_timeout: std::time::Duration::from_millis(self.http_idle_timeout),
        }
    }
}

/// Runs the scheduler until `shutdown` resolves.
pub async fn run(
    flags: Flags,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    if !flags.http_address.is_loopback() && flags.listener.http_credentials.is_none() {
        // Without --http_credentials the API is open: say so once when it is exposed.
        tracing::warn!(
            address = %flags.http_address,
            "the Marathon API listens on a non-loopback address without authentication (--http_credentials); anyone who can reach it can run tasks"
        );
    }
    // With --disable_http the one listener `serve` takes is the HTTPS one.
    let (address, port) = if flags.listener.disable_http {
        (flags.listener.https_address, flags.listener.https_port)
    } else {
        (flags.http_address, flags.http_port)
    };
    let listener = TcpListener::bind((address, port))
        .await
        .with_context(|| format!("bind the API address {address}:{port}"))?;
    serve(flags, listener, shutdown).await
}

/// Serves the API until `shutdown`: on `primary` (the HTTP port, or the HTTPS one with
/// --disable_http), and with --ssl_cert_file also on --https_address:--https_port, both bounded
/// as the master's and the agent's listeners are; requests carry `ConnectInfo<SocketAddr>`.
pub(crate) async fn serve_api(
    flags: &Flags,
    primary: TcpListener,
    app: axum::Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<impl std::future::Future<Output = std::io::Result<()>> + Send + 'static> {
    let tls = flags.listener.https()?;
    let limits = flags.listener.http_limits();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut stop = stop_rx.clone();
        async move {
            let _ = stop.wait_for(|stop| *stop).await;
        }
    };
    let mut servers = Vec::new();
    if flags.listener.disable_http {
        servers.push(tokio::spawn(drover_http::conn::serve_tcp(
            primary,
            tls,
            limits,
            app,
            stopped(),
        )));
    } else {
        if let Some(tls) = tls {
            let (address, port) = (flags.listener.https_address, flags.listener.https_port);
            let https = TcpListener::bind((address, port))
                .await
                .with_context(|| format!("bind the HTTPS API address {address}:{port}"))?;
            tracing::info!(%address, port, "marathon https api listening");
            servers.push(tokio::spawn(drover_http::conn::serve_tcp(
                https,
                Some(tls),
                limits,
                app.clone(),
                stopped(),
            )));
        }
        servers.push(tokio::spawn(drover_http::conn::serve_tcp(
            primary,
            None,
            limits,
            app,
            stopped(),
        )));
    }
    Ok(async move {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut all = futures::future::select_all(servers);
        // The first server to end (shutdown, or an error) ends the others.
        let result = tokio::select! {
            _ = &mut shutdown => {
                let _ = stop_tx.send(true);
                let (first, _, rest) = (&mut all).await;
                for other in rest {
                    let _ = other.await;
                }
                first
            }
            (first, _, rest) = &mut all => {
                let _ = stop_tx.send(true);
                for other in rest {
                    let _ = other.await;
                }
                first
            }
        };
        result.unwrap_or_else(|e| Err(std::io::Error::other(format!("API server panicked: {e}"))))
    })
}

/// Runs the scheduler on an already bound listener (tests bind port 0): alone on its embedded
/// store, or, with `--zk`, as a member of an HA group ([`ha`]).
pub async fn serve(
    flags: Flags,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    check(&flags)?;
    if flags.ha.zk.is_some() {
        return ha::serve(flags, listener, shutdown).await;
    }
    std::fs::create_dir_all(&flags.work_dir)
        .with_context(|| format!("create work dir {}", flags.work_dir.display()))?;
    let store: Arc<dyn Store> =
        Arc::new(RedbStore::open(&flags.work_dir).context("open the marathon store")?);
    let port = listener.local_addr()?.port();
    let Leading { router, mut actor } = start_leader(&flags, store, port, None, None)?;
    // `--http_credentials` (issue 14): one check before any handler.
    let app = match flags.listener.http_policy() {
        Some(policy) => router.layer(axum::middleware::from_fn_with_state(
            policy,
            drover_http::auth::middleware,
        )),
        None => router,
    };
    tracing::info!(port, "marathon api listening");
    let server = serve_api(&flags, listener, app, shutdown).await?;
    let result = tokio::select! {
        result = server => result.context("serve the API"),
        result = &mut actor => match result {
            Ok(result) => result.context("scheduler actor stopped"),
            Err(e) => Err(anyhow::anyhow!("scheduler actor panicked: {e}")),
        },
    };
    // Stop the actor and wait for it, so the store is closed when this returns.
    actor.abort();
    let _ = actor.await;
    result
}

/// Refuses flags that cannot work, before anything starts.
fn check(flags: &Flags) -> anyhow::Result<()> {
    if flags.local_port_min >= flags.local_port_max || flags.local_port_max > 65_536 {
        anyhow::bail!(
            "--local_port_min ({}) must be below --local_port_max ({}), which is at most 65536",
            flags.local_port_min,
            flags.local_port_max
        );
    }
    // Certificate, key and keystore flags are judged before anything starts.
    flags.listener.https()?;
    if flags.listener.disable_http && flags.listener.ssl_cert_file.is_none() {
        anyhow::bail!(
            "--disable_http needs --ssl_cert_file and --ssl_key_file: the API would have no listener"
        );
    }
    if flags.listener.disable_http && flags.ha.zk.is_some() {
        anyhow::bail!(
            "--disable_http with --zk is not supported: a follower proxies requests to the \
             leader's HTTP port"
        );
    }
    for feature in &flags.enable_features {
        if feature != "pods" {
            anyhow::bail!(
                "--enable_features: '{feature}' is not supported by Drover (pods are always on; \
                 no other feature can be enabled)"
            );
        }
    }
    Ok(())
}

/// A leading scheduler: its API (without the authentication layer) and its actor.
pub(crate) struct Leading {
    pub(crate) router: axum::Router,
    pub(crate) actor: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// Loads the state from `store` and starts what a leader runs: the actor, its link to Mesos
/// and readiness probes, and the API that talks to them.
pub(crate) fn start_leader(
    flags: &Flags,
    store: Arc<dyn Store>,
    port: u16,
    abdication: Option<ha::Abdication>,
    may_act: Option<drover_scheduler_client::MayAct>,
) -> anyhow::Result<Leading> {
    let restored = storage::load(&store).context("load marathon state")?;
    let framework_id = restored.framework_id.clone();
    let mesos_credential = flags.listener.mesos_credential()?;
    let config = Config {
        task_launch_timeout_ms: flags.task_launch_timeout,
        reconciliation_interval_ms: flags.reconciliation_interval,
        service_port_range: (flags.local_port_min, flags.local_port_max),
        principal: flags.listener.mesos_authentication_principal.clone(),
        mesos_role: flags.mesos_role.clone(),
        ..Config::default()
    };
    let scheduler = Scheduler::restore(config, Box::new(driver::RandomIds), restored);
    let events = events::EventBus::new();
    let (tx, rx) = mpsc::channel(driver::INBOX_MAX);
    let mesos_leader = mesos::LeaderUrl::default();
    let mesos_tx = flags.master.as_ref().map(|master| {
        mesos::spawn(mesos::Link {
            master: master.clone(),
            framework_name: flags.framework_name.clone(),
            role: flags.mesos_role.clone(),
            hostname: flags.hostname.clone(),
            framework_id,
            principal: flags.listener.mesos_authentication_principal.clone(),
            credential: mesos_credential,
            webui_url: if flags.listener.disable_http {
                format!("https://{}:{port}", flags.hostname)
            } else {
                format!("http://{}:{port}", flags.hostname)
            },
            inbox: tx.clone(),
            leader_url: mesos_leader.clone(),
            may_act: may_act.clone(),
        })
    });
    let api = api::Api {
        tx: tx.clone(),
        events: events.clone(),
        mesos_leader,
        abdication,
        info: Arc::new(api::Info {
            leader: format!("{}:{port}", flags.hostname),
            hostname: flags.hostname.clone(),
            http_port: port,
            https_port: flags.listener.https_port,
            framework_name: flags.framework_name.clone(),
            mesos_role: flags.mesos_role.clone(),
            master: flags.master.clone().unwrap_or_default(),
            task_launch_timeout_ms: flags.task_launch_timeout,
            reconciliation_interval_ms: flags.reconciliation_interval,
        }),
    };
    let router = api::router(api).layer(axum::extract::DefaultBodyLimit::max(api::BODY_MAX));
    let probes = readiness::spawn(tx.clone());
    let actor = tokio::spawn(driver::run(
        scheduler,
        store,
        events,
        rx,
        mesos_tx,
        Some(probes),
    ));
    Ok(Leading { router, actor })
}
