//! The master's authentication: Mesos' flags (`--authenticate_frameworks`,
//! `--authenticate_http_frameworks`, `--authenticate_http_readwrite`,
//! `--authenticate_http_readonly`, `--authenticate_agents`, `--credentials`), which endpoints
//! each covers (Mesos' readwrite and readonly realms), and the principal checks of a
//! SUBSCRIBE and of an agent's calls: a framework or agent id stays with the principal that
//! registered it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::{Method, StatusCode};
use drover_http::HttpError;
use drover_http::auth::{Credentials, Policy, Principal};
use drover_wire::internal::AgentCall;
use drover_wire::v1::scheduler;

use crate::routes::{AGENT_PATH, AppState};

/// The master's authentication flags.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AuthFlags {
    /// Only authenticated frameworks may subscribe (Drover's frameworks all speak HTTP, so
    /// this is `--authenticate_http_frameworks`).
    #[arg(long = "authenticate_frameworks", env = "MESOS_AUTHENTICATE_FRAMEWORKS", default_value = "false", num_args = 0..=1, default_missing_value = "true", value_parser = drover_http::auth::parse_bool_flag)]
    pub authenticate_frameworks: bool,
    /// Scheduler API calls (`/api/v1/scheduler`) need HTTP Basic credentials.
    #[arg(long = "authenticate_http_frameworks", env = "MESOS_AUTHENTICATE_HTTP_FRAMEWORKS", default_value = "false", num_args = 0..=1, default_missing_value = "true", value_parser = drover_http::auth::parse_bool_flag)]
    pub authenticate_http_frameworks: bool,
    /// Endpoints that can change the cluster (the Operator API, every non-GET) need
    /// credentials.
    #[arg(long = "authenticate_http_readwrite", env = "MESOS_AUTHENTICATE_HTTP_READWRITE", default_value = "false", num_args = 0..=1, default_missing_value = "true", value_parser = drover_http::auth::parse_bool_flag)]
    pub authenticate_http_readwrite: bool,
    /// Read-only endpoints (`/master/state`, `/metrics/snapshot`, ...) need credentials.
    #[arg(long = "authenticate_http_readonly", env = "MESOS_AUTHENTICATE_HTTP_READONLY", default_value = "false", num_args = 0..=1, default_missing_value = "true", value_parser = drover_http::auth::parse_bool_flag)]
    pub authenticate_http_readonly: bool,
    /// Agents must authenticate (agent `--credential`).
    #[arg(long = "authenticate_agents", env = "MESOS_AUTHENTICATE_AGENTS", default_value = "false", num_args = 0..=1, default_missing_value = "true", value_parser = drover_http::auth::parse_bool_flag)]
    pub authenticate_agents: bool,
    /// Credentials file: `{"credentials":[{"principal":..,"secret":..}]}` or lines
    /// `principal secret` (a path or `file://` URL).
    #[arg(long = "credentials", env = "MESOS_CREDENTIALS")]
    pub credentials: Option<String>,
    /// Authorization rules in Mesos' JSON (the JSON itself or a file path): `permissive`,
    /// `register_frameworks`, `teardown_frameworks`, `run_tasks`, `reserve_resources`,
    /// `unreserve_resources`, `create_volumes`, `destroy_volumes`, and `view_frameworks`,
    /// `view_tasks`, `view_executors` (which filter the state endpoints and the operator's GET
    /// calls), and the operator kinds; any other kind is refused at start by name.
    #[arg(long = "acls", env = "MESOS_ACLS")]
    pub acls: Option<String>,
}

impl AuthFlags {
    /// Whether anything is authenticated.
    pub fn any(&self) -> bool {
        self.frameworks()
            || self.authenticate_http_readwrite
            || self.authenticate_http_readonly
            || self.authenticate_agents
    }

    fn frameworks(&self) -> bool {
        self.authenticate_frameworks || self.authenticate_http_frameworks
    }

    /// The flags as GET_FLAGS shows them.
    pub fn as_pairs(&self) -> Vec<(String, String)> {
        let mut out = vec![
            (
                "authenticate_frameworks".to_owned(),
                self.authenticate_frameworks.to_string(),
            ),
            (
                "authenticate_http_frameworks".to_owned(),
                self.authenticate_http_frameworks.to_string(),
            ),
            (
                "authenticate_http_readwrite".to_owned(),
                self.authenticate_http_readwrite.to_string(),
            ),
            (
                "authenticate_http_readonly".to_owned(),
                self.authenticate_http_readonly.to_string(),
            ),
            (
                "authenticate_agents".to_owned(),
                self.authenticate_agents.to_string(),
            ),
        ];
        if let Some(path) = &self.credentials {
            out.push(("credentials".to_owned(), path.clone()));
        }
        if let Some(acls) = &self.acls {
            out.push(("acls".to_owned(), acls.clone()));
        }
        out
    }

    /// The request policy, or `None` when nothing is authenticated. A credentials file that
    /// is missing or does not parse is an error naming it; so is authentication without one.
    pub fn policy(&self) -> anyhow::Result<Option<Arc<Policy>>> {
        let credentials = match &self.credentials {
            Some(path) => Some(Credentials::load(path).map_err(anyhow::Error::msg)?),
            None => None,
        };
        if !self.any() {
            return Ok(None);
        }
        let Some(credentials) = credentials else {
            anyhow::bail!(
                "authentication is enabled (--authenticate_*) but no --credentials file was given"
            );
        };
        let flags = self.clone();
        Ok(Some(Arc::new(Policy {
            credentials,
            realm: "mesos",
            required: Box::new(move |method, path| flags.required(method, path)),
        })))
    }

    /// Whether `method path` needs credentials under these flags.
    fn required(&self, method: &Method, path: &str) -> bool {
        // The UI's own page and assets carry no data (Mesos served its web UI's static files
        // to anyone); the page asks for credentials in its own form for what it reads.
        if (*method == Method::GET || *method == Method::HEAD) && drover_ui::is_ui_file(path) {
            return false;
        }
        let path = path
            .strip_prefix("/master")
            .filter(|p| !p.is_empty())
            .unwrap_or(path);
        if path == "/api/v1/scheduler" || path.starts_with("/api/v1/scheduler/") {
            return self.frameworks();
        }
        if path == AGENT_PATH {
            return self.authenticate_agents;
        }
        let read = *method == Method::GET || *method == Method::HEAD || *method == Method::OPTIONS;
        // Mesos never authenticated these: load balancers and leader detection use them.
        if read && matches!(path, "/health" | "/redirect" | "/version") {
            return false;
        }
        // The Operator API is in Mesos' readwrite realm whatever the call.
        if path == "/api/v1" || path.starts_with("/api/v1/") || !read {
            return self.authenticate_http_readwrite;
        }
        self.authenticate_http_readonly
    }
}

/// Which principal registered each agent id (first authenticated call wins; kept in memory,
/// so after a master restart the first reregistration claims it again).
#[derive(Debug, Default)]
pub struct AgentPrincipals(Mutex<HashMap<String, String>>);

/// Refuses a SUBSCRIBE whose `FrameworkInfo.principal` is not the authenticated principal or
/// whose framework id belongs to another principal; fills in an absent principal.
pub async fn check_subscribe(
    state: &AppState,
    principal: &Principal,
    call: &mut scheduler::Call,
) -> Result<(), HttpError> {
    let Some(subscribe) = call.subscribe.as_mut() else {
        return Ok(());
    };
    let info = &mut subscribe.framework_info;
    match &info.principal {
        Some(given) if *given != principal.0 => {
            return Err(HttpError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "Authenticated principal '{}' does not match principal '{given}' set in `FrameworkInfo`",
                    principal.0
                ),
            ));
        }
        Some(_) => {}
        None => info.principal = Some(principal.0.clone()),
    }
    let Some(id) = info.id.as_ref().map(|id| id.value.clone()) else {
        return Ok(());
    };
    let lookup = id.clone();
    let owner = state
        .handle
        .read(move |master, _| {
            master
                .frameworks()
                .get(&lookup)
                .map(|f| f.info.principal.clone())
        })
        .await
        .flatten();
    match owner {
        Some(Some(owner)) if owner != principal.0 => Err(HttpError::new(
            StatusCode::FORBIDDEN,
            format!(
                "Framework {id} is registered by another principal; '{}' may not subscribe as it",
                principal.0
            ),
        )),
        _ => Ok(()),
    }
}

/// Refuses an agent call for an agent id another principal registered.
pub fn check_agent(
    principals: &AgentPrincipals,
    principal: &Principal,
    call: &AgentCall,
) -> Result<(), HttpError> {
    let id = call
        .reregister
        .as_ref()
        .and_then(|r| r.agent_info.id.as_ref())
        .or(call.agent_id.as_ref())
        .map(|id| id.value.clone());
    let Some(id) = id else { return Ok(()) };
    let mut known = principals.0.lock().unwrap_or_else(|p| p.into_inner());
    match known.get(&id) {
        Some(owner) if *owner != principal.0 => Err(HttpError::new(
            StatusCode::FORBIDDEN,
            format!(
                "Agent {id} is registered by another principal; '{}' may not act as it",
                principal.0
            ),
        )),
        Some(_) => Ok(()),
        None => {
            known.insert(id, principal.0.clone());
            Ok(())
        }
    }
}

/// After a REGISTER by an authenticated agent: the id the master gave it belongs to its
/// principal from now on (found by the address it registered with).
pub async fn bind_registered(
    state: &AppState,
    principals: &AgentPrincipals,
    principal: &Principal,
    info: &drover_wire::v1::AgentInfo,
) {
    let (hostname, port) = (info.hostname.clone(), info.port);
    let ids = state
        .handle
        .read(move |master, _| {
            master
                .agents()
                .iter()
                .filter(|(_, a)| a.info.hostname == hostname && a.info.port == port)
                .map(|(id, _)| id.clone())
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
    let mut known = principals.0.lock().unwrap_or_else(|p| p.into_inner());
    for id in ids {
        known.entry(id).or_insert_with(|| principal.0.clone());
    }
}
