//! The master's READ_FILE: the only file a Mesos master served was its own log, attached as
//! `/master/log` when it ran with `--log_dir`. Offsets and lengths follow `/files/read`: an
//! offset past the end gives no bytes, a missing length reads to the end (bounded).

use axum::http::StatusCode;
use drover_http::HttpError;

use super::logging;

/// The virtual path of the master's log.
pub const LOG_PATH: &str = "/master/log";

/// Reads `length` bytes (to the end if `None`) at `offset` of `path`; returns the file's size
/// and the bytes.
pub fn read_file(
    path: &str,
    offset: u64,
    length: Option<u64>,
) -> Result<(u64, Vec<u8>), HttpError> {
    if path.trim_end_matches('/') != LOG_PATH {
        return Err(HttpError::new(
            StatusCode::NOT_FOUND,
            format!("No file or directory '{path}' (the master serves only '{LOG_PATH}')"),
        ));
    }
    let Some(file_path) = logging::log_file() else {
        return Err(HttpError::new(
            StatusCode::NOT_FOUND,
            format!(
                "No file or directory '{path}': the master runs without --log_dir, so it keeps no log file"
            ),
        ));
    };
    drover_http::file_range::read_range(file_path, path, offset, length)
}
