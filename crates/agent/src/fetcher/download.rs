//! Getting one URI's bytes into a file: an http(s) download streamed to disk, or a copy of a
//! local file, each bounded in size and time.

use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

use super::source::Source;

/// Why getting the bytes failed; the text is the cause shown to the framework.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The server answered with a non-success status.
    #[error("HTTP {0}")]
    Status(reqwest::StatusCode),
    /// Connecting, or reading the response, failed.
    #[error("{0}")]
    Transfer(String),
    /// The whole download took longer than `--fetcher_timeout`.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The artifact is larger than the limit.
    #[error("disk quota exceeded: the artifact is larger than {limit} bytes")]
    Quota {
        /// The limit in bytes.
        limit: u64,
    },
    /// A local file is missing or unreadable (for the task's user).
    #[error("{0}")]
    Local(String),
    /// Writing the file failed.
    #[error("writing {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// The I/O error.
        source: io::Error,
    },
}

/// Who the fetched files are for: local files must be readable by this user, not just by the
/// agent (which runs as root), as they were for Mesos' fetcher running as the task's user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// The user's uid.
    pub uid: u32,
    /// Its primary gid.
    pub gid: u32,
    /// Its supplementary groups.
    pub groups: Vec<u32>,
}

/// Writes `source` to `dest`, at most `limit` bytes, within `timeout`. Returns the bytes.
pub async fn download(
    client: &reqwest::Client,
    source: &Source,
    dest: &Path,
    limit: u64,
    timeout: Duration,
    owner: Option<&Owner>,
) -> Result<u64, DownloadError> {
    let deadline = Instant::now() + timeout;
    let result = match source {
        Source::Http(url) => http(client, url.clone(), dest, limit, deadline, timeout).await,
        Source::Local(path) => local(path, dest, limit, owner).await,
    };
    if result.is_err() {
        let _ = tokio::fs::remove_file(dest).await;
    }
    result
}

async fn http(
    client: &reqwest::Client,
    url: reqwest::Url,
    dest: &Path,
    limit: u64,
    deadline: Instant,
    timeout: Duration,
) -> Result<u64, DownloadError> {
    let timed_out = |_| DownloadError::Timeout(timeout);
    let mut response = tokio::time::timeout_at(deadline, client.get(url).send())
        .await
        .map_err(timed_out)?
        .map_err(transfer_error)?;
    if !response.status().is_success() {
        return Err(DownloadError::Status(response.status()));
    }
    if response.content_length().is_some_and(|len| len > limit) {
        return Err(DownloadError::Quota { limit });
    }
    let write_err = |source| DownloadError::Write {
        path: dest.display().to_string(),
        source,
    };
    let file = tokio::fs::File::create(dest).await.map_err(write_err)?;
    // Large writes: each one is a trip to the blocking pool.
    let mut out = tokio::io::BufWriter::with_capacity(1 << 20, file);
    let mut total = 0u64;
    while let Some(chunk) = tokio::time::timeout_at(deadline, response.chunk())
        .await
        .map_err(timed_out)?
        .map_err(transfer_error)?
    {
        total += chunk.len() as u64;
        if total > limit {
            return Err(DownloadError::Quota { limit });
        }
        out.write_all(&chunk).await.map_err(write_err)?;
    }
    out.flush().await.map_err(write_err)?;
    Ok(total)
}

/// The cause of a failed transfer as a person reads it: the innermost error ("Connection
/// refused (os error 111)", "dns error: ..."), prefixed by what was being done.
fn transfer_error(error: reqwest::Error) -> DownloadError {
    let mut cause: &dyn std::error::Error = &error;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    let what = if error.is_connect() {
        "cannot connect"
    } else if error.is_timeout() {
        "timed out"
    } else if error.is_body() || error.is_decode() {
        "reading the response failed"
    } else {
        "request failed"
    };
    DownloadError::Transfer(format!("{what}: {cause}"))
}

async fn local(
    path: &Path,
    dest: &Path,
    limit: u64,
    owner: Option<&Owner>,
) -> Result<u64, DownloadError> {
    let path = path.to_path_buf();
    let dest = dest.to_path_buf();
    let owner = owner.cloned();
    tokio::task::spawn_blocking(move || {
        let local_err = |e: io::Error| DownloadError::Local(format!("{}: {e}", path.display()));
        // The agent is root: check and copy the *same* file. Resolve the path once, open the
        // result without following a final symlink, and verify through the open descriptor
        // that the file opened is the one resolved, so a task user who swaps a symlink into
        // the path between the check and the copy gets an error, not a root-only file.
        let real = std::fs::canonicalize(&path).map_err(local_err)?;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
            .open(&real)
            .map_err(local_err)?;
        let opened =
            std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())).map_err(local_err)?;
        if opened != real {
            return Err(DownloadError::Local(format!(
                "{} changed while it was being fetched",
                path.display()
            )));
        }
        let meta = file.metadata().map_err(local_err)?;
        if !meta.is_file() {
            return Err(DownloadError::Local(format!(
                "{} is not a regular file",
                path.display()
            )));
        }
        if let Some(owner) = &owner
            && !readable_by(&real, &meta, owner)
        {
            return Err(DownloadError::Local(format!(
                "{}: permission denied for uid {}",
                path.display(),
                owner.uid
            )));
        }
        if meta.len() > limit {
            return Err(DownloadError::Quota { limit });
        }
        let write_err = |source| DownloadError::Write {
            path: dest.display().to_string(),
            source,
        };
        let mut out = std::fs::File::create(&dest).map_err(write_err)?;
        // Bounded even if the file grows after the size check.
        let copied = io::copy(
            &mut io::Read::take(&file, limit.saturating_add(1)),
            &mut out,
        )
        .map_err(write_err)?;
        if copied > limit {
            return Err(DownloadError::Quota { limit });
        }
        Ok(copied)
    })
    .await
    .map_err(|e| DownloadError::Local(e.to_string()))?
}

/// Whether `owner` may read the file at `real` (a resolved path) whose metadata, read from the
/// open descriptor, is `file`: search permission on every directory above it and read
/// permission on the file itself.
fn readable_by(real: &Path, file: &std::fs::Metadata, owner: &Owner) -> bool {
    if owner.uid == 0 {
        return true;
    }
    let allowed = |meta: &std::fs::Metadata, bit: u32| {
        let mode = meta.mode();
        if meta.uid() == owner.uid {
            mode & (bit << 6) != 0
        } else if meta.gid() == owner.gid || owner.groups.contains(&meta.gid()) {
            mode & (bit << 3) != 0
        } else {
            mode & bit != 0
        }
    };
    let dirs_ok = real
        .ancestors()
        .skip(1)
        .all(|dir| std::fs::metadata(dir).is_ok_and(|m| allowed(&m, 0o1)));
    dirs_ok && allowed(file, 0o4)
}
