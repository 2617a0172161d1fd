//! High availability: a master started with `--zk` contends for leadership in the ZooKeeper
//! group at the URL's path, as Mesos masters do (an ephemeral sequential
//! `json.info_NNNNNNNNNN` whose data is the MasterInfo JSON; the lowest leads), and this module
//! owns what follows from the outcome:
//!
//! - [`Leadership`], the master's current role, which the HTTP layer ([`Leadership::gate`], from
//!   [`crate::front`]) reads on every request: a non-leader answers leader-only endpoints with `307` and
//!   `Location: //<leader host>:<port><path>` (or `503` when no leader is known), and a leader
//!   whose session is no longer vouched for refuses everything at once;
//! - [`Contender::deposed`], which resolves when a leader loses its session or sees another
//!   leader: the master then stops its driver (dropping every stream) and exits for its
//!   supervisor, as Mesos does ("committing suicide"), rather than trying to return to
//!   contending with state it can no longer trust;
//! - [`Contender::registry_store`], the registry of a leader, kept in ZooKeeper
//!   ([`registry_root`], one znode per record) so whichever master is elected next recovers
//!   it; every commit is a fenced transaction (a ZooKeeper `multi` that first checks the
//!   leader's own member znode), so a deposed leader's write fails even before it has noticed;
//! - [`Contender::stand_by`], a follower's copy of that registry, kept current while it
//!   follows, so that once elected it starts from it instead of reading 10,000 znodes (used
//!   only when ZooKeeper proves that nothing was committed since the copy's load began).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use drover_coord::{
    CoordStore, Coordinator, MESOS_MASTER_LABEL, Membership, Observed, Session, Standby,
    StandbyPacing, ZkCoordinator, ZkUrl,
};
use drover_http::HttpError;
use drover_store::Store;
use tokio::sync::watch;

/// Where the leader serves, from its MasterInfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderAddress {
    /// `address.hostname`, else `hostname`, else `address.ip`.
    pub host: String,
    /// `address.port`, else `port`.
    pub port: u16,
}

impl LeaderAddress {
    /// Reads the address out of a member's MasterInfo JSON (as Mesos or Drover wrote it).
    pub fn from_master_info(data: &[u8]) -> Option<LeaderAddress> {
        let json: serde_json::Value = serde_json::from_slice(data).ok()?;
        let address = json.get("address");
        let host = address
            .and_then(|a| a.get("hostname"))
            .or_else(|| json.get("hostname"))
            .or_else(|| address.and_then(|a| a.get("ip")))
            .and_then(|h| h.as_str())?
            .to_owned();
        let port = address
            .and_then(|a| a.get("port"))
            .or_else(|| json.get("port"))
            .and_then(|p| p.as_u64())
            .and_then(|p| u16::try_from(p).ok())?;
        Some(LeaderAddress { host, port })
    }
}

/// The master's role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// No `--zk`: the only master, always leading.
    Standalone,
    /// Contending; the current leader, if known.
    Following(Option<LeaderAddress>),
    /// This master leads.
    Leading,
    /// It led and lost its session or saw another leader; it is stopping. Terminal.
    Deposed,
}

/// The role as the HTTP layer sees it. Cloned into every request, so one `Arc`.
#[derive(Debug, Clone)]
pub struct Leadership {
    inner: Arc<LeadershipInner>,
}

#[derive(Debug)]
struct LeadershipInner {
    role: watch::Receiver<Role>,
    coordinator: Option<Arc<dyn Coordinator>>,
    /// The group's path in the engine (with a coordinator).
    group: String,
    /// This master's own address (for `/master/redirect` on the leader).
    own: LeaderAddress,
    /// This master's MasterInfo JSON (what `/master/masters` shows of a standalone master).
    own_info: Arc<[u8]>,
}

impl Leadership {
    /// A master without `--zk`.
    pub fn standalone(own: LeaderAddress, own_info: Vec<u8>) -> Leadership {
        Leadership {
            inner: Arc::new(LeadershipInner {
                role: watch::channel(Role::Standalone).1,
                coordinator: None,
                group: String::new(),
                own,
                own_info: own_info.into(),
            }),
        }
    }

    /// The role now. A leader whose session is not vouched for this instant is deposed.
    pub fn role(&self) -> Role {
        let role = self.inner.role.borrow().clone();
        match (&role, &self.inner.coordinator) {
            (Role::Leading, Some(coordinator)) if !coordinator.is_live() => Role::Deposed,
            _ => role,
        }
    }

    /// The leader's address, when one is known.
    pub fn leader(&self) -> Option<LeaderAddress> {
        match self.role() {
            Role::Standalone | Role::Leading => Some(self.inner.own.clone()),
            Role::Following(leader) => leader,
            Role::Deposed => None,
        }
    }

    /// Every master in the group, in the order of their sequence numbers: the MasterInfo JSON
    /// each wrote to its znode, plus `znode` (its name) and `leading`. A standalone master
    /// shows itself.
    pub async fn masters(&self) -> Result<Vec<serde_json::Value>, String> {
        let leader = self.leader();
        let entry = |znode: Option<&str>, data: &[u8]| -> Option<serde_json::Value> {
            let mut info: serde_json::Value = serde_json::from_slice(data).ok()?;
            let address = LeaderAddress::from_master_info(data);
            let map = info.as_object_mut()?;
            let leading = address.is_some() && address == leader;
            map.insert("leading".to_owned(), leading.into());
            if let Some(znode) = znode {
                map.insert("znode".to_owned(), znode.into());
            }
            Some(info)
        };
        let Some(coordinator) = &self.inner.coordinator else {
            return Ok(entry(None, &self.inner.own_info).into_iter().collect());
        };
        let names = coordinator
            .children(&self.inner.group)
            .await
            .map_err(|e| e.to_string())?;
        let mut masters = Vec::new();
        for name in names.iter().filter(|n| n.starts_with(MESOS_MASTER_LABEL)) {
            let path = format!("{}/{name}", self.inner.group.trim_end_matches('/'));
            // A member may leave between the listing and the read: it is then not shown.
            if let Ok(Some(data)) = coordinator.read(&path).await
                && let Some(master) = entry(Some(name), &data)
            {
                masters.push(master);
            }
        }
        Ok(masters)
    }
}

/// `GET /master/masters` (Drover's; Mesos had no such endpoint, its UI showed the leader
/// only): the masters of the group as [`Leadership::masters`] lists them, from any master.
pub async fn masters_endpoint(
    axum::Extension(leadership): axum::Extension<Leadership>,
) -> Response {
    match leadership.masters().await {
        Ok(masters) => axum::Json(serde_json::json!({ "masters": masters })).into_response(),
        Err(error) => HttpError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("Cannot read the masters' group: {error}"),
        )
        .into_response(),
    }
}

/// Paths any master answers itself, leader or not (Mesos: health, version, metrics, flags,
/// redirect). Everything else is the leader's.
fn answered_by_any_master(path: &str) -> bool {
    let path = path.trim_end_matches('/');
    matches!(
        path,
        "/health"
            | "/master/health"
            | "/master/masters"
            | "/version"
            | "/redirect"
            | "/master/redirect"
            | "/metrics/snapshot"
            | "/flags"
            | "/master/flags"
    )
}

fn is_redirect_path(path: &str) -> bool {
    matches!(path.trim_end_matches('/'), "/redirect" | "/master/redirect")
}

fn temporary_redirect(location: String) -> Response {
    let mut response = StatusCode::TEMPORARY_REDIRECT.into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

impl Leadership {
    /// What the master answers before any route looks at `request`: `Some` redirects a
    /// leader-only request of a non-leader, answers `/master/redirect`, or refuses everything
    /// on a deposed master; `None` lets the request through (the front layer,
    /// [`crate::front`], asks for every request, so the common case allocates nothing).
    pub fn gate(&self, request: &Request) -> Option<Response> {
        let path = request.uri().path();
        let role = self.role();
        if role == Role::Deposed {
            return Some(
                HttpError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "This master lost its leadership and is stopping",
                )
                .into_response(),
            );
        }
        if is_redirect_path(path) {
            return Some(match self.leader() {
                Some(leader) => temporary_redirect(format!("//{}:{}", leader.host, leader.port)),
                None => HttpError::new(StatusCode::SERVICE_UNAVAILABLE, "No leader elected")
                    .into_response(),
            });
        }
        if matches!(role, Role::Standalone | Role::Leading) || answered_by_any_master(path) {
            return None;
        }
        Some(match self.leader() {
            Some(leader) => {
                let query = request
                    .uri()
                    .query()
                    .map(|q| format!("?{q}"))
                    .unwrap_or_default();
                temporary_redirect(format!("//{}:{}{path}{query}", leader.host, leader.port))
            }
            None => {
                HttpError::new(StatusCode::SERVICE_UNAVAILABLE, "No leader elected").into_response()
            }
        })
    }
}

/// A master contending in a ZooKeeper group.
#[derive(Debug)]
pub struct Contender {
    coordinator: Arc<ZkCoordinator>,
    /// The group's path.
    group: String,
    membership: Membership,
    role: watch::Receiver<Role>,
}

impl Contender {
    /// Opens the session and joins the group with `master_info` (its JSON), then follows the
    /// group in a background task.
    pub async fn join(
        url: &ZkUrl,
        session_timeout: Duration,
        master_info: Vec<u8>,
    ) -> anyhow::Result<Contender> {
        let coordinator = ZkCoordinator::connect(
            url,
            session_timeout,
            session_timeout.max(Duration::from_secs(10)),
        )
        .await
        .with_context(|| format!("cannot join the masters' group at {url}"))?;
        let coordinator = Arc::new(coordinator);
        let membership = coordinator
            .join(&url.path, MESOS_MASTER_LABEL, master_info)
            .await
            .with_context(|| format!("cannot join the masters' group at {url}"))?;
        tracing::info!(znode = %membership.path, "joined the masters' group");
        let (role_tx, role) = watch::channel(Role::Following(None));
        let mut observed = coordinator.observe(&url.path, MESOS_MASTER_LABEL);
        let mut session = coordinator.session();
        let own_name = membership
            .path
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        tokio::spawn(async move {
            loop {
                let lost = match &*session.borrow() {
                    Session::Lost(reason) => Some(reason.clone()),
                    Session::Alive => None,
                };
                let current = role_tx.borrow().clone();
                let next = if let Some(reason) = lost {
                    if current == Role::Leading {
                        tracing::error!(%reason, "lost the coordination session while leading: stopping");
                    }
                    Role::Deposed
                } else {
                    match (&*observed.borrow(), &current) {
                        (Observed::Leader(m), _) if m.name == own_name => Role::Leading,
                        (Observed::Leader(m), Role::Leading) => {
                            tracing::error!(leader = %m.name, "another master leads: stopping");
                            Role::Deposed
                        }
                        (Observed::NoLeader, Role::Leading) => {
                            tracing::error!("this master's znode is gone: stopping");
                            Role::Deposed
                        }
                        (Observed::Leader(m), _) => {
                            Role::Following(LeaderAddress::from_master_info(&m.data))
                        }
                        (Observed::NoLeader, _) => Role::Following(None),
                        // Unknown (a transient read failure): the session lease decides.
                        (Observed::Unknown, role) => role.clone(),
                    }
                };
                if current == Role::Deposed {
                    break;
                }
                if next != current {
                    if next == Role::Leading {
                        tracing::info!("elected as the leading master");
                    }
                    role_tx.send_replace(next.clone());
                }
                if next == Role::Deposed {
                    break;
                }
                tokio::select! {
                    changed = observed.changed() => if changed.is_err() {
                        role_tx.send_replace(Role::Deposed);
                        break;
                    },
                    changed = session.changed() => if changed.is_err() {
                        role_tx.send_replace(Role::Deposed);
                        break;
                    },
                }
            }
        });
        Ok(Contender {
            coordinator,
            group: url.path.clone(),
            membership,
            role,
        })
    }

    /// The role as the HTTP layer reads it.
    pub fn leadership(&self, own: LeaderAddress, own_info: Vec<u8>) -> Leadership {
        Leadership {
            inner: Arc::new(LeadershipInner {
                role: self.role.clone(),
                coordinator: Some(self.coordinator.clone() as Arc<dyn Coordinator>),
                group: self.group.clone(),
                own,
                own_info: own_info.into(),
            }),
        }
    }

    /// Resolves once this master leads; an error if it is deposed first.
    pub async fn elected(&self) -> anyhow::Result<()> {
        let mut role = self.role.clone();
        let role = role
            .wait_for(|r| matches!(r, Role::Leading | Role::Deposed))
            .await
            .context("the election stopped")?
            .clone();
        match role {
            Role::Leading => Ok(()),
            _ => anyhow::bail!("lost the coordination session before being elected"),
        }
    }

    /// Resolves when this master is deposed.
    pub fn deposed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut role = self.role.clone();
        let coordinator = self.coordinator.clone();
        async move {
            // The watch catches the background task's verdict; the tick catches a lease that
            // ran out while this process was paused, before any task of it ran.
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            loop {
                tokio::select! {
                    changed = role.changed() => {
                        if changed.is_err() || *role.borrow() == Role::Deposed {
                            return;
                        }
                    }
                    _ = tick.tick() => if !coordinator.is_live() {
                        return;
                    }
                }
            }
        }
    }

    /// Whether this master may act as leader this instant: it leads and its session's lease
    /// is vouched for. Cheap (no I/O), so the driver asks it before every step.
    pub fn may_act(&self) -> impl Fn() -> bool + Send + 'static {
        let role = self.role.clone();
        let coordinator = self.coordinator.clone();
        move || coordinator.is_live() && *role.borrow() == Role::Leading
    }

    /// Starts keeping a copy of the registry under `root` current while this master follows
    /// (reading only), for [`Contender::registry_store`] once it is elected: a standby then
    /// does not spend seconds reading every agent's znode after the election.
    pub fn stand_by(&self, root: &str) -> Standby {
        let coordinator: Arc<dyn Coordinator> = self.coordinator.clone();
        Standby::start(coordinator, root, StandbyPacing::default())
    }

    /// The registry of this master while it leads: in ZooKeeper under `root`, every commit
    /// fenced by this master's member znode. Called once elected: it starts from the
    /// standby's copy when ZooKeeper proves it current ([`CoordStore::open_warm`]), and
    /// reads every key otherwise. Also says whether the copy was used.
    pub async fn registry_store(
        &self,
        root: &str,
        standby: Option<Standby>,
    ) -> anyhow::Result<(Arc<dyn Store>, bool)> {
        let warm = match standby {
            Some(standby) => standby.take().await,
            None => None,
        };
        let coordinator: Arc<dyn Coordinator> = self.coordinator.clone();
        let store = CoordStore::open_warm(coordinator, self.membership.clone(), root, warm)
            .await
            .with_context(|| format!("cannot load the registry from ZooKeeper at {root}"))?;
        let warm = store.used_warm_copy();
        Ok((Arc::new(store), warm))
    }
}

/// Where the registry of the masters' group at `url` lives: outside the group's own path,
/// under which nothing but members may live (detectors take its lowest child).
pub fn registry_root(url: &ZkUrl) -> String {
    format!("/drover/master-registry{}", url.path.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use tower::ServiceExt;

    fn leadership(role: Role) -> (watch::Sender<Role>, Leadership) {
        let (tx, rx) = watch::channel(role);
        let leadership = Leadership {
            inner: Arc::new(LeadershipInner {
                role: rx,
                coordinator: None,
                group: String::new(),
                own: LeaderAddress {
                    host: "m0".into(),
                    port: 5050,
                },
                own_info: Arc::from(&b"{}"[..]),
            }),
        };
        (tx, leadership)
    }

    #[tokio::test]
    async fn a_standalone_master_lists_itself_leading() {
        let info = br#"{"id":"m","hostname":"m0","port":5050,"address":{"hostname":"m0","ip":"127.0.0.1","port":5050}}"#;
        let own = LeaderAddress {
            host: "m0".into(),
            port: 5050,
        };
        let masters = Leadership::standalone(own, info.to_vec())
            .masters()
            .await
            .expect("listed");
        assert_eq!(masters.len(), 1, "{masters:?}");
        assert_eq!(masters[0]["id"], "m");
        assert_eq!(masters[0]["leading"], true);
        assert!(masters[0].get("znode").is_none());
    }

    async fn answer(leadership: &Leadership, uri: &str) -> (StatusCode, Option<String>) {
        let app = axum::Router::new().fallback(|| async { "served" }).layer(
            crate::front::FrontLayer::new(leadership.clone(), Arc::default(), None),
        );
        let response = app
            .oneshot(
                Request::builder()
                    .uri(uri)
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("infallible");
        let location = response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (response.status(), location)
    }

    #[tokio::test]
    async fn followers_redirect_leader_only_paths_and_answer_their_own() {
        let leader = LeaderAddress {
            host: "m1".into(),
            port: 5051,
        };
        let (tx, follower) = leadership(Role::Following(Some(leader)));
        assert_eq!(
            answer(&follower, "/master/state?jsonp=x").await,
            (
                StatusCode::TEMPORARY_REDIRECT,
                Some("//m1:5051/master/state?jsonp=x".into())
            )
        );
        assert_eq!(
            answer(&follower, "/api/v1/scheduler").await,
            (
                StatusCode::TEMPORARY_REDIRECT,
                Some("//m1:5051/api/v1/scheduler".into())
            )
        );
        assert_eq!(
            answer(&follower, "/master/redirect").await,
            (StatusCode::TEMPORARY_REDIRECT, Some("//m1:5051".into()))
        );
        assert_eq!(
            answer(&follower, "/master/health").await,
            (StatusCode::OK, None)
        );
        // No leader known: 503 for the leader's paths and for the redirect.
        tx.send_replace(Role::Following(None));
        assert_eq!(
            answer(&follower, "/master/state").await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            answer(&follower, "/master/redirect").await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(answer(&follower, "/version").await.0, StatusCode::OK);
        // Leading: everything is served; /master/redirect points at itself.
        tx.send_replace(Role::Leading);
        assert_eq!(answer(&follower, "/master/state").await.0, StatusCode::OK);
        assert_eq!(
            answer(&follower, "/master/redirect").await,
            (StatusCode::TEMPORARY_REDIRECT, Some("//m0:5050".into()))
        );
        // Deposed: nothing is served, not even health (it is stopping).
        tx.send_replace(Role::Deposed);
        for path in ["/master/state", "/api/v1/scheduler", "/master/health"] {
            assert_eq!(
                answer(&follower, path).await.0,
                StatusCode::SERVICE_UNAVAILABLE,
                "{path}"
            );
        }
    }

    #[test]
    fn reads_the_leader_address_from_master_info() {
        let info = br#"{"id":"x","ip":16777343,"port":5051,"pid":"master@127.0.0.1:5051","hostname":"m1","address":{"hostname":"m1.example","ip":"127.0.0.1","port":5051}}"#;
        assert_eq!(
            LeaderAddress::from_master_info(info),
            Some(LeaderAddress {
                host: "m1.example".into(),
                port: 5051
            })
        );
        assert_eq!(LeaderAddress::from_master_info(b"not json"), None);
    }
}
