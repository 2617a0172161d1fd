//! The offset/length read shared by every file-serving call (the agent's and the master's
//! Operator API READ_FILE): Mesos' rules, an offset at or past the end gives no bytes and a
//! missing length reads to the end, bounded by [`MAX_READ`].

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use axum::http::StatusCode;

use crate::server::HttpError;

/// Most bytes one read returns (as `/files/read`).
pub const MAX_READ: u64 = 16 * 1024 * 1024;

/// Reads `length` bytes (to the end if `None`, at most [`MAX_READ`]) at `offset` of the file
/// at `file`; returns the file's size and the bytes. `shown` is the path as the caller named
/// it, for the error messages.
pub fn read_range(
    file: &Path,
    shown: &str,
    offset: u64,
    length: Option<u64>,
) -> Result<(u64, Vec<u8>), HttpError> {
    let mut f = std::fs::File::open(file).map_err(|e| {
        HttpError::new(StatusCode::NOT_FOUND, format!("Cannot read '{shown}': {e}"))
    })?;
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    let offset = offset.min(size);
    let length = length
        .unwrap_or(size - offset)
        .min(size - offset)
        .min(MAX_READ);
    let mut data = vec![0; usize::try_from(length).unwrap_or(0)];
    f.seek(SeekFrom::Start(offset))
        .and_then(|_| f.read_exact(&mut data))
        .map_err(|e| {
            HttpError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("Cannot read '{shown}': {e}"),
            )
        })?;
    Ok((size, data))
}
