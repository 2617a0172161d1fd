//! The fetcher: brings a container's `CommandInfo.uris` into its sandbox before the executor
//! starts, as Mesos' fetcher did — http(s) downloads and local files, `output_file`,
//! `executable`, `extract` of archives, `cache` through the fetcher cache — and gives the
//! results to the task's user. Progress and errors are appended to the sandbox's `stderr`.
//! It knows nothing of containers: the launch path calls [`Fetcher::fetch`] with the URIs, the
//! sandbox and the owner, and turns an error into the launch-failed update.

mod cache;
mod download;
pub(crate) mod extract;
mod source;

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use drover_wire::v1;

pub use cache::Cache;
pub use download::Owner;
pub use extract::Kind as ArchiveKind;
pub use source::{Source, check_uri, output_path};

/// Settings of the fetcher, fixed for the agent's lifetime.
#[derive(Debug, Clone)]
pub struct FetcherConfig {
    /// `--fetcher_cache_dir`.
    pub cache_dir: PathBuf,
    /// `--fetcher_cache_size` in bytes (0: no caching).
    pub cache_size_bytes: u64,
    /// `--fetcher_max_size`: the most one URI (and what its archive extracts to) may write.
    pub max_size_bytes: u64,
    /// `--fetcher_timeout`: the longest one URI's download may take.
    pub timeout: Duration,
}

/// One container's fetch.
#[derive(Debug, Clone)]
pub struct FetchRequest<'a> {
    /// The URIs, in order.
    pub uris: &'a [v1::command_info::Uri],
    /// The sandbox; created if missing.
    pub sandbox: &'a Path,
    /// The task's user name (the cache keeps one copy per user and URI).
    pub user: Option<&'a str>,
    /// Who gets the files (`None`: the agent's own user).
    pub owner: Option<&'a Owner>,
    /// The sandbox's disk quota in bytes, when enforced: what all URIs together may write.
    pub quota_bytes: Option<u64>,
}

/// A failed fetch: the URI and the cause, as the framework sees it in the update's message.
#[derive(Debug, thiserror::Error)]
#[error("Failed to fetch '{uri}': {cause}")]
pub struct FetchError {
    /// The URI that failed (empty for a sandbox problem before any URI).
    pub uri: String,
    /// What went wrong.
    pub cause: String,
}

/// The fetcher, shared by every launch.
#[derive(Debug)]
pub struct Fetcher {
    config: FetcherConfig,
    client: reqwest::Client,
    cache: Option<Arc<Cache>>,
}

impl Fetcher {
    /// A fetcher; empties the cache directory, like Mesos at agent start.
    pub fn new(config: FetcherConfig) -> anyhow::Result<Fetcher> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::limited(10))
            .user_agent(concat!("drover-fetcher/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let cache = if config.cache_size_bytes > 0 {
            Some(Arc::new(Cache::new(
                config.cache_dir.clone(),
                config.cache_size_bytes,
            )?))
        } else {
            None
        };
        Ok(Fetcher {
            config,
            client,
            cache,
        })
    }

    /// Fetches every URI into the sandbox, then gives the sandbox's contents to the owner.
    pub async fn fetch(&self, request: FetchRequest<'_>) -> Result<(), FetchError> {
        let sandbox = request.sandbox.to_path_buf();
        let owner = request.owner.cloned();
        let prepared =
            tokio::task::spawn_blocking(move || prepare_sandbox(&sandbox, owner.as_ref()))
                .await
                .map_err(|e| sandbox_error(request.sandbox, e.to_string()))?;
        let mut log = prepared.map_err(|e| sandbox_error(request.sandbox, e.to_string()))?;
        let mut budget = request.quota_bytes.map_or(self.config.max_size_bytes, |q| {
            q.min(self.config.max_size_bytes)
        });
        let by_quota = request
            .quota_bytes
            .is_some_and(|q| q < self.config.max_size_bytes);
        let started = Instant::now();
        for uri in request.uris {
            log.line(&format!("Fetching URI '{}'", uri.value));
            match self.fetch_one(uri, &request, budget, &mut log).await {
                Ok(written) => {
                    if by_quota {
                        budget = budget.saturating_sub(written);
                    }
                }
                Err(cause) => {
                    let error = FetchError {
                        uri: uri.value.clone(),
                        cause,
                    };
                    log.line(&error.to_string());
                    return Err(error);
                }
            }
        }
        let sandbox = request.sandbox.to_path_buf();
        let owner = request.owner.cloned();
        if let Some(owner) = owner {
            tokio::task::spawn_blocking(move || chown_tree(&sandbox, &owner))
                .await
                .map_err(|e| sandbox_error(request.sandbox, e.to_string()))?
                .map_err(|e| sandbox_error(request.sandbox, e.to_string()))?;
        }
        log.line(&format!(
            "Fetched {} URI(s) into '{}' in {:?}",
            request.uris.len(),
            request.sandbox.display(),
            started.elapsed()
        ));
        Ok(())
    }

    /// One URI; returns the bytes it put in the sandbox.
    async fn fetch_one(
        &self,
        uri: &v1::command_info::Uri,
        request: &FetchRequest<'_>,
        budget: u64,
        log: &mut Log,
    ) -> Result<u64, String> {
        let source = Source::parse(&uri.value)?;
        let relative = match uri.output_file.as_deref().filter(|f| !f.is_empty()) {
            Some(file) => output_path(file)?,
            None => PathBuf::from(
                source
                    .basename()
                    .ok_or("the URI names no file; set output_file")?,
            ),
        };
        let dest = request.sandbox.join(&relative);
        let dest_dir = dest.parent().unwrap_or(request.sandbox).to_path_buf();
        let sandbox = request.sandbox.to_path_buf();
        let checked = dest.clone();
        tokio::task::spawn_blocking(move || prepare_destination(&sandbox, &dest_dir, &checked))
            .await
            .map_err(|e| e.to_string())??;

        let use_cache = uri.cache.unwrap_or(false) && self.cache.is_some();
        let mut written = if let (true, Some(cache)) = (use_cache, &self.cache) {
            let key = (request.user.map(str::to_owned), uri.value.clone());
            let log_ref = &mut *log;
            let pinned = cache
                .get(key, |path| async move {
                    log_ref.line(&format!(
                        "Downloading '{}' into the fetcher cache",
                        uri.value
                    ));
                    self.get(&source, &path, budget, request.owner).await
                })
                .await?;
            if pinned.hit {
                log.line(&format!("Using the cached copy of '{}'", uri.value));
            }
            // The size is checked before anything is written into the sandbox: a cached
            // artifact larger than the sandbox's budget must not land there first.
            let size = tokio::fs::metadata(pinned.path())
                .await
                .map_err(|e| format!("reading the fetcher cache: {e}"))?
                .len();
            if size > budget {
                return Err(format!(
                    "disk quota exceeded: the artifact is larger than {budget} bytes"
                ));
            }
            let (from, to) = (pinned.path().to_path_buf(), dest.clone());
            let copied = tokio::task::spawn_blocking(move || std::fs::copy(from, to))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("copying from the fetcher cache: {e}"))?;
            drop(pinned);
            copied
        } else {
            log.line(&format!(
                "Downloading '{}' to '{}'",
                uri.value,
                dest.display()
            ));
            self.get(&source, &dest, budget, request.owner).await?
        };

        let name = relative.to_string_lossy().into_owned();
        if uri.executable.unwrap_or(false) {
            use std::os::unix::fs::PermissionsExt;
            tokio::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o755))
                .await
                .map_err(|e| format!("making '{name}' executable: {e}"))?;
            log.line(&format!("Made '{name}' executable"));
        } else if uri.extract.unwrap_or(true)
            && let Some(kind) = ArchiveKind::of(&name)
        {
            let (archive, into) = (dest.clone(), request.sandbox.to_path_buf());
            let limit = budget.saturating_sub(written);
            let extracted =
                tokio::task::spawn_blocking(move || extract::extract(kind, &archive, &into, limit))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| e.to_string())?;
            written += extracted;
            log.line(&format!(
                "Extracted '{name}' into '{}'",
                request.sandbox.display()
            ));
        }
        Ok(written)
    }

    async fn get(
        &self,
        source: &Source,
        dest: &Path,
        limit: u64,
        owner: Option<&Owner>,
    ) -> Result<u64, String> {
        download::download(
            &self.client,
            source,
            dest,
            limit,
            self.config.timeout,
            owner,
        )
        .await
        .map_err(|e| e.to_string())
    }
}

/// Appends a line to a sandbox's `stderr` as the fetcher reports (for a fetch the launch path
/// cancelled, which cannot report itself).
pub async fn report(sandbox: &Path, text: &str) {
    let (stderr, line) = (sandbox.join("stderr"), format!("[fetcher] {text}\n"));
    let _ = tokio::task::spawn_blocking(move || {
        // Never through a link: the agent is root and the sandbox is the task's.
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
            .open(stderr)?;
        file.write_all(line.as_bytes())
    })
    .await;
}

fn sandbox_error(sandbox: &Path, cause: String) -> FetchError {
    FetchError {
        uri: String::new(),
        cause: format!("preparing sandbox {}: {cause}", sandbox.display()),
    }
}

/// The sandbox's `stderr`, where the fetcher reports as Mesos' did (the executor's output is
/// appended after it).
struct Log(std::fs::File);

impl Log {
    fn line(&mut self, text: &str) {
        // A full disk must not turn into a second failure; the update carries the error anyway.
        let _ = writeln!(self.0, "[fetcher] {text}");
    }
}

/// Creates the sandbox and its `stderr`, owned by the task's user.
fn prepare_sandbox(sandbox: &Path, owner: Option<&Owner>) -> std::io::Result<Log> {
    std::fs::create_dir_all(sandbox)?;
    let stderr = sandbox.join("stderr");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
        .open(&stderr)?;
    if let Some(owner) = owner {
        std::os::unix::fs::chown(sandbox, Some(owner.uid), Some(owner.gid))?;
        std::os::unix::fs::chown(&stderr, Some(owner.uid), Some(owner.gid))?;
    }
    Ok(Log(file))
}

/// Creates the destination's directory, refusing one that resolves outside the sandbox and a
/// destination that is a symlink (the download would be written through it).
fn prepare_destination(sandbox: &Path, dir: &Path, dest: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let root = std::fs::canonicalize(sandbox).map_err(|e| e.to_string())?;
    let real = std::fs::canonicalize(dir).map_err(|e| e.to_string())?;
    if !real.starts_with(&root) {
        return Err(format!("'{}' resolves outside the sandbox", dir.display()));
    }
    if std::fs::symlink_metadata(dest).is_ok_and(|m| m.file_type().is_symlink()) {
        std::fs::remove_file(dest).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Gives everything in the sandbox to the owner, never following a symlink.
fn chown_tree(root: &Path, owner: &Owner) -> std::io::Result<()> {
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        std::os::unix::fs::lchown(&dir, Some(owner.uid), Some(owner.gid))?;
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                stack.push(entry.path());
            } else {
                std::os::unix::fs::lchown(entry.path(), Some(owner.uid), Some(owner.gid))?;
            }
        }
    }
    Ok(())
}
