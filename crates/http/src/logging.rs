//! GET_LOGGING_LEVEL / SET_LOGGING_LEVEL, shared by the master's and the agent's Operator API:
//! the process' log verbosity. Mesos toggled glog's `--v` for a duration and then restored it;
//! Drover keeps the same contract over its tracing filter. The binary installs an [`Apply`] (a
//! closure around its subscriber's reload handle) at start; the level lives here,
//! process-wide, because the subscriber is too (`drover dev` runs a master and agents in one
//! process: a SET through either changes the one filter, as it must).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use axum::http::StatusCode;

use crate::server::HttpError;

/// Changes the process' log filter to a verbosity (0 = the configured level, 1 = debug,
/// 2 and above = trace). Returns an error text if the filter could not be changed.
pub type Apply = Box<dyn Fn(u32) -> Result<(), String> + Send + Sync>;

/// Longest SET_LOGGING_LEVEL duration honoured: a year (anything longer is a typo, and a
/// timer must stay representable).
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

struct Control {
    /// The current verbosity and the number of the SET that chose it (a revert only undoes
    /// its own SET, never a later one).
    state: Mutex<(u32, u64)>,
}

static APPLY: OnceLock<Apply> = OnceLock::new();
static LOG_FILE: OnceLock<PathBuf> = OnceLock::new();

/// Records where the process writes its log (`--log_dir`); the master's READ_FILE serves it
/// as `/master/log`. The first call wins.
pub fn set_log_file(path: PathBuf) {
    let _ = LOG_FILE.set(path);
}

/// The process' log file, if it writes one.
pub fn log_file() -> Option<&'static Path> {
    LOG_FILE.get().map(PathBuf::as_path)
}
static CONTROL: Control = Control {
    state: Mutex::new((0, 0)),
};

/// Installs the filter changer; the first call wins (one subscriber per process).
pub fn install(apply: Apply) {
    let _ = APPLY.set(apply);
}

/// Whether a filter changer is installed (the master embedded without one, as in-process
/// tests run it, can only report levels).
pub fn installed() -> bool {
    APPLY.get().is_some()
}

/// The current verbosity.
pub fn level() -> u32 {
    CONTROL.state.lock().map(|s| s.0).unwrap_or(0)
}

fn apply(level: u32) -> Result<(), String> {
    match APPLY.get() {
        Some(apply) => apply(level),
        None => Err("this process has no reloadable log filter".into()),
    }
}

/// Sets the verbosity for `duration`, then reverts to 0 (the configured level), as Mesos
/// reverted to the original `--v`. A later SET replaces an earlier one and its revert.
pub fn set(level: u32, duration: Duration) -> Result<(), String> {
    apply(level)?;
    let generation = {
        let mut state = CONTROL
            .state
            .lock()
            .map_err(|_| "log level lock poisoned")?;
        state.0 = level;
        state.1 += 1;
        state.1
    };
    tracing::info!(level, ?duration, "logging level changed");
    tokio::spawn(async move {
        tokio::time::sleep(duration).await;
        let mut state = match CONTROL.state.lock() {
            Ok(state) => state,
            Err(_) => return,
        };
        if state.1 != generation {
            return;
        }
        state.0 = 0;
        drop(state);
        match apply(0) {
            Ok(()) => tracing::info!("logging level reverted to the configured level"),
            Err(error) => tracing::warn!(%error, "cannot revert the logging level"),
        }
    });
    Ok(())
}

/// A SET_LOGGING_LEVEL call's duration, checked as Mesos checks it: present, not negative, and
/// (Drover's bound) at most [`MAX_DURATION`]. `api` names the call's message in the error
/// (`master::Call`, `agent::Call`).
pub fn duration(api: &str, nanoseconds: i64) -> Result<Duration, HttpError> {
    let Ok(nanos) = u64::try_from(nanoseconds) else {
        return Err(HttpError::bad_request(format!(
            "Failed to validate {api}: 'set_logging_level.duration' must not be negative"
        )));
    };
    let duration = Duration::from_nanos(nanos);
    if duration > MAX_DURATION {
        return Err(HttpError::bad_request(format!(
            "Failed to validate {api}: 'set_logging_level.duration' must be at most {} seconds",
            MAX_DURATION.as_secs()
        )));
    }
    Ok(duration)
}

/// SET_LOGGING_LEVEL with a checked duration: 200 when the filter changed, 500 when it could
/// not be (no reloadable filter in this process).
pub fn set_for(api: &str, level: u32, nanoseconds: i64) -> Result<(), HttpError> {
    let duration = duration(api, nanoseconds)?;
    set(level, duration).map_err(|error| {
        HttpError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("Failed to set logging level: {error}"),
        )
    })
}
