//! What the agent's `/files` endpoints and Operator API READ_FILE may serve: only executor
//! sandboxes (Mesos' "attached" paths), never the rest of the work dir (the `meta/` store,
//! the fetcher cache), with symlinks that leave a sandbox refused; a bound on concurrent
//! reads; and READ_FILE itself (`{size, data}` with the raw bytes, as Mesos' v1 agent API).

use std::path::{Component, Path, PathBuf};

use axum::http::StatusCode;
use drover_http::server::HttpError;
use tokio::sync::{Semaphore, SemaphorePermit};

/// Reads (`/files/read`, `/files/download`, READ_FILE) in flight at once; each may hold up to
/// `MAX_READ` bytes in memory, so this bounds what the file endpoints can make the agent hold.
pub const MAX_CONCURRENT_READS: usize = 8;

static READS: Semaphore = Semaphore::const_new(MAX_CONCURRENT_READS);

/// A slot for one file read, or a 503 when all are taken (the client retries, as it would
/// for any busy agent) rather than queueing without bound.
pub fn read_permit() -> Result<SemaphorePermit<'static>, HttpError> {
    READS.try_acquire().map_err(|_| {
        HttpError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("Too many file reads in progress (at most {MAX_CONCURRENT_READS}); retry"),
        )
    })
}

/// The components of a sandbox below the work dir:
/// `slaves/<agent>/frameworks/<framework>/executors/<executor>/runs/<container>`.
const SANDBOX_DEPTH: usize = 8;
const SANDBOX_SHAPE: [Option<&str>; SANDBOX_DEPTH] = [
    Some("slaves"),
    None,
    Some("frameworks"),
    None,
    Some("executors"),
    None,
    Some("runs"),
    None,
];

/// Resolves `path` (absolute, or relative to the work dir) to an existing file or directory
/// inside one executor sandbox. Everything else is "not found" (404), as Mesos answers for a
/// path it never attached: the work dir's other contents, a `..`, and a symlink in the sandbox
/// whose target lies outside it (the task owns its sandbox and could point a link anywhere,
/// while the agent reads as root).
pub fn resolve_in_sandbox(work_dir: &Path, path: &str) -> Result<PathBuf, HttpError> {
    let not_found = || {
        HttpError::new(
            StatusCode::NOT_FOUND,
            format!("No file or directory '{path}'"),
        )
    };
    let candidate = Path::new(path);
    if candidate
        .components()
        .any(|c| matches!(c, Component::ParentDir))
    {
        return Err(not_found());
    }
    let root = std::fs::canonicalize(work_dir).map_err(|_| not_found())?;
    // The part below the work dir, lexically: sandboxes are named by the configured work dir
    // (their `directory`), and a client may also name them through its canonical form.
    let below = if candidate.is_absolute() {
        candidate
            .strip_prefix(work_dir)
            .or_else(|_| candidate.strip_prefix(&root))
            .map_err(|_| not_found())?
    } else {
        candidate
    };
    let parts: Vec<&std::ffi::OsStr> = below
        .components()
        .filter_map(|c| match c {
            Component::Normal(part) => Some(part),
            _ => None,
        })
        .collect();
    if parts.len() < SANDBOX_DEPTH
        || !SANDBOX_SHAPE
            .iter()
            .zip(&parts)
            .all(|(want, got)| want.is_none_or(|w| *got == w))
    {
        return Err(not_found());
    }
    let sandbox: PathBuf = parts[..SANDBOX_DEPTH].iter().collect();
    let sandbox = root.join(sandbox);
    // The sandbox directory itself is the agent's (the task cannot replace it); it must be a
    // real directory, not a link.
    match std::fs::symlink_metadata(&sandbox) {
        Ok(meta) if meta.is_dir() => {}
        _ => return Err(not_found()),
    }
    let sandbox = std::fs::canonicalize(&sandbox).map_err(|_| not_found())?;
    let rest: PathBuf = parts[SANDBOX_DEPTH..].iter().collect();
    let real = std::fs::canonicalize(sandbox.join(rest)).map_err(|_| not_found())?;
    if !real.starts_with(&sandbox) {
        return Err(not_found());
    }
    Ok(real)
}

/// The framework and executor ids whose sandbox holds `resolved` (a path
/// [`resolve_in_sandbox`] returned).
pub fn sandbox_owner(work_dir: &Path, resolved: &Path) -> Option<(String, String)> {
    let root = std::fs::canonicalize(work_dir).ok()?;
    let parts: Vec<String> = resolved
        .strip_prefix(&root)
        .ok()?
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    (parts.len() >= SANDBOX_DEPTH).then(|| (parts[3].clone(), parts[5].clone()))
}

/// Reads `length` bytes (to the end if `None`, bounded by `drover_http::file_range::MAX_READ`) at `offset` of the
/// file at `path` (resolved inside `work_dir`); returns the file's size and the bytes. An
/// offset at or past the end gives no bytes, as Mesos did.
pub fn read_file(
    work_dir: &Path,
    path: &str,
    offset: u64,
    length: Option<u64>,
) -> Result<(u64, Vec<u8>), HttpError> {
    let real = resolve_in_sandbox(work_dir, path)?;
    if real.is_dir() {
        return Err(HttpError::new(
            StatusCode::BAD_REQUEST,
            format!("Cannot read '{path}': it is a directory"),
        ));
    }
    drover_http::file_range::read_range(&real, path, offset, length)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ranges_and_refuses_directories_missing_files_and_escapes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let sandbox = dir
            .path()
            .join("slaves/S0/frameworks/F/executors/e/runs/latest");
        std::fs::create_dir_all(&sandbox).expect("sandbox");
        std::fs::write(sandbox.join("stdout"), b"hello world").expect("write");
        let path = sandbox.join("stdout").display().to_string();

        assert_eq!(
            read_file(dir.path(), &path, 0, None).expect("whole file"),
            (11, b"hello world".to_vec())
        );
        assert_eq!(
            read_file(dir.path(), &path, 6, Some(3)).expect("range"),
            (11, b"wor".to_vec())
        );
        assert_eq!(
            read_file(dir.path(), &path, 6, Some(100)).expect("clipped"),
            (11, b"world".to_vec())
        );
        assert_eq!(
            read_file(dir.path(), &path, 50, None).expect("past the end"),
            (11, Vec::new())
        );
        // Relative to the work dir, as `/files/read` resolves it.
        let relative = "slaves/S0/frameworks/F/executors/e/runs/latest/stdout";
        assert_eq!(
            read_file(dir.path(), relative, 0, Some(5))
                .expect("relative")
                .1,
            b"hello"
        );

        let status = |r: Result<(u64, Vec<u8>), HttpError>| r.expect_err("refused").status;
        let sandbox_text = sandbox.display().to_string();
        assert_eq!(
            status(read_file(dir.path(), &sandbox_text, 0, None)),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status(read_file(dir.path(), "nope", 0, None)),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            status(read_file(dir.path(), "/etc/passwd", 0, None)),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            status(read_file(dir.path(), "slaves/../../x", 0, None)),
            StatusCode::NOT_FOUND
        );
    }

    /// Only sandboxes are served: the agent's store under `meta/`, the fetcher cache, the
    /// work dir itself and a half-formed sandbox path are 404s; a symlink in a sandbox that
    /// points out of it is a 404, one that stays inside is followed.
    #[test]
    fn only_sandboxes_are_served() {
        let dir = tempfile::tempdir().expect("temp dir");
        let work = dir.path();
        let sandbox = work.join("slaves/S0/frameworks/F/executors/e/runs/C1");
        std::fs::create_dir_all(&sandbox).expect("sandbox");
        std::fs::write(sandbox.join("stdout"), b"task output").expect("write");
        std::fs::create_dir_all(work.join("meta")).expect("meta");
        std::fs::write(work.join("meta/store.redb"), b"secret state").expect("store");
        std::fs::create_dir_all(work.join("fetcher-cache")).expect("cache");
        std::fs::write(work.join("fetcher-cache/blob"), b"cached").expect("cache file");
        std::fs::write(work.join("slaves/S0/frameworks/F/info"), b"x").expect("info");
        std::os::unix::fs::symlink(work.join("meta/store.redb"), sandbox.join("escape"))
            .expect("link out");
        std::os::unix::fs::symlink(work.join("meta"), sandbox.join("escape_dir"))
            .expect("dir link out");
        std::os::unix::fs::symlink("stdout", sandbox.join("inside")).expect("link in");

        let status = |path: &str| resolve_in_sandbox(work, path).expect_err(path).status;
        let absolute = |rel: &str| work.join(rel).display().to_string();
        for refused in [
            "meta/store.redb",
            "meta",
            "fetcher-cache/blob",
            "",
            "slaves/S0/frameworks/F/info",
            "slaves/S0/frameworks/F/executors/e/runs",
            "slaves/S0/frameworks/F/executors/e/runs/C1/escape",
            "slaves/S0/frameworks/F/executors/e/runs/C1/escape_dir/store.redb",
        ] {
            assert_eq!(status(refused), StatusCode::NOT_FOUND, "{refused}");
            assert_eq!(
                status(&absolute(refused)),
                StatusCode::NOT_FOUND,
                "{refused}"
            );
        }
        let stdout = std::fs::canonicalize(sandbox.join("stdout")).expect("canonical");
        for served in [
            "slaves/S0/frameworks/F/executors/e/runs/C1/stdout",
            "slaves/S0/frameworks/F/executors/e/runs/C1/inside",
        ] {
            assert_eq!(resolve_in_sandbox(work, served).expect(served), stdout);
            assert_eq!(
                resolve_in_sandbox(work, &absolute(served)).expect(served),
                stdout
            );
        }
        assert!(
            resolve_in_sandbox(
                work,
                &absolute("slaves/S0/frameworks/F/executors/e/runs/C1")
            )
            .expect("the sandbox itself")
            .is_dir()
        );
        assert_eq!(
            read_file(work, &absolute("meta/store.redb"), 0, None)
                .expect_err("store")
                .status,
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn reads_beyond_the_bound_are_refused_with_503() {
        let held: Vec<_> = (0..MAX_CONCURRENT_READS)
            .map(|_| read_permit().expect("a free slot"))
            .collect();
        assert_eq!(
            read_permit().expect_err("over the bound").status,
            StatusCode::SERVICE_UNAVAILABLE
        );
        drop(held);
        let _again = read_permit().expect("slots come back");
    }
}
