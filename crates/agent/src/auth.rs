//! The agent's authentication: its HTTP endpoints under Mesos' readwrite and readonly realms
//! (`--authenticate_http_readwrite`, `--authenticate_http_readonly`, `--credentials`), and
//! its own `--credential` for the master.

use std::sync::Arc;

use axum::http::Method;
use drover_http::auth::{Credential, Credentials, Policy};

use crate::flags::Flags;

/// The request policy, or `None` when nothing is authenticated. A credentials file that does
/// not parse is an error naming it.
pub fn policy(flags: &Flags) -> anyhow::Result<Option<Arc<Policy>>> {
    let credentials = match &flags.credentials {
        Some(path) => Some(Credentials::load(path).map_err(anyhow::Error::msg)?),
        None => None,
    };
    let (readwrite, readonly) = (
        flags.authenticate_http_readwrite,
        flags.authenticate_http_readonly,
    );
    if !readwrite && !readonly {
        return Ok(None);
    }
    let Some(credentials) = credentials else {
        anyhow::bail!(
            "--authenticate_http_readwrite/--authenticate_http_readonly need a --credentials file"
        );
    };
    Ok(Some(Arc::new(Policy {
        credentials,
        realm: "mesos",
        required: Box::new(move |method, path| required(readwrite, readonly, method, path)),
    })))
}

fn required(readwrite: bool, readonly: bool, method: &Method, path: &str) -> bool {
    let path = path
        .strip_prefix("/slave(1)")
        .filter(|p| !p.is_empty())
        .unwrap_or(path);
    // Executors authenticate with their own mechanism in Mesos, never with Basic credentials.
    if path == "/api/v1/executor" {
        return false;
    }
    let read = *method == Method::GET || *method == Method::HEAD || *method == Method::OPTIONS;
    if read && matches!(path, "/health" | "/version") {
        return false;
    }
    if path == "/api/v1" || path.starts_with("/api/v1/") || !read {
        return readwrite;
    }
    readonly
}

/// The agent's credential for the master, read from `--credential`.
pub fn master_credential(flags: &Flags) -> anyhow::Result<Option<Credential>> {
    flags
        .credential
        .as_deref()
        .map(|path| Credential::load(path).map_err(anyhow::Error::msg))
        .transpose()
}
