//! The fetcher cache (`--fetcher_cache_dir`, `--fetcher_cache_size`): downloaded files kept by
//! (user, URI), evicted least recently used first. Concurrent fetches of the same key share one
//! download: the first fills the entry while the others wait for it. Entries being copied into a
//! sandbox are pinned and never evicted under the copy. Like Mesos, the cache starts empty with
//! every agent start.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

/// Identifies a cache entry: Mesos kept one copy per user and URI.
pub type Key = (Option<String>, String);

#[derive(Debug)]
struct Entry {
    path: PathBuf,
    size: u64,
    last_used: u64,
    pins: u32,
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<Key, Entry>,
    /// One lock per key being filled: the first fetch holds it while downloading.
    filling: HashMap<Key, Arc<tokio::sync::Mutex<()>>>,
    used: u64,
    clock: u64,
    next_file: u64,
}

/// The cache.
#[derive(Debug)]
pub struct Cache {
    dir: PathBuf,
    capacity: u64,
    state: Mutex<State>,
}

/// A cached file, pinned until dropped. An artifact larger than the whole cache is handed out
/// unpinned and removed on drop instead (fetched through the cache, kept by none).
#[derive(Debug)]
pub struct Pinned {
    cache: Arc<Cache>,
    key: Key,
    path: PathBuf,
    /// Whether the file was already there (no download).
    pub hit: bool,
    cached: bool,
}

impl Pinned {
    /// The cached file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        if !self.cached {
            let _ = std::fs::remove_file(&self.path);
            return;
        }
        let mut state = self.cache.lock();
        if let Some(entry) = state.entries.get_mut(&self.key) {
            entry.pins = entry.pins.saturating_sub(1);
        }
        self.cache.evict(&mut state);
    }
}

struct FillGuard<'a> {
    cache: &'a Cache,
    key: &'a Key,
    path: &'a Path,
    armed: bool,
}

impl Drop for FillGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            let _ = std::fs::remove_file(self.path);
            self.cache.lock().filling.remove(self.key);
        }
    }
}

impl Cache {
    /// A cache in `dir` holding at most `capacity` bytes; the entries an earlier agent left
    /// there are removed. Only the cache's own files (numbered names) are touched, so a
    /// `--fetcher_cache_dir` pointing at a shared directory loses nothing else.
    pub fn new(dir: PathBuf, capacity: u64) -> std::io::Result<Cache> {
        std::fs::create_dir_all(&dir)?;
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let ours = entry
                .file_name()
                .to_str()
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            if ours && entry.file_type()?.is_file() {
                std::fs::remove_file(entry.path())?;
            }
        }
        Ok(Cache {
            dir,
            capacity,
            state: Mutex::new(State::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Bytes held now.
    pub fn used(&self) -> u64 {
        self.lock().used
    }

    /// The entry for `key`, downloading it with `fill(path)` (which returns the bytes written)
    /// if it is not cached. Only one `fill` per key runs at a time; the others wait and share.
    pub async fn get<F, Fut, E>(self: &Arc<Self>, key: Key, fill: F) -> Result<Pinned, E>
    where
        F: FnOnce(PathBuf) -> Fut,
        Fut: Future<Output = Result<u64, E>>,
    {
        if let Some(pinned) = self.pin(&key) {
            return Ok(pinned);
        }
        let lock = self.lock().filling.entry(key.clone()).or_default().clone();
        let _filling = lock.lock().await;
        // Whoever held the lock before may have filled the entry.
        if let Some(pinned) = self.pin(&key) {
            return Ok(pinned);
        }
        let path = {
            let mut state = self.lock();
            state.next_file += 1;
            self.dir.join(format!("{}", state.next_file))
        };
        // If this future is dropped mid-download (the launch was killed), the partial file and
        // the fill lock must not outlive it.
        let mut guard = FillGuard {
            cache: self,
            key: &key,
            path: &path,
            armed: true,
        };
        let result = fill(path.clone()).await;
        guard.armed = false;
        drop(guard);
        let mut state = self.lock();
        state.filling.remove(&key);
        let size = match result {
            Ok(size) => size,
            Err(error) => {
                let _ = std::fs::remove_file(&path);
                return Err(error);
            }
        };
        if size > self.capacity {
            return Ok(Pinned {
                cache: self.clone(),
                key,
                path,
                hit: false,
                cached: false,
            });
        }
        state.clock += 1;
        let last_used = state.clock;
        state.used += size;
        if let Some(old) = state.entries.insert(
            key.clone(),
            Entry {
                path: path.clone(),
                size,
                last_used,
                pins: 1,
            },
        ) {
            state.used -= old.size;
            let _ = std::fs::remove_file(&old.path);
        }
        self.evict(&mut state);
        Ok(Pinned {
            cache: self.clone(),
            key,
            path,
            hit: false,
            cached: true,
        })
    }

    fn pin(self: &Arc<Self>, key: &Key) -> Option<Pinned> {
        let mut state = self.lock();
        state.clock += 1;
        let now = state.clock;
        let entry = state.entries.get_mut(key)?;
        entry.pins += 1;
        entry.last_used = now;
        Some(Pinned {
            cache: self.clone(),
            key: key.clone(),
            path: entry.path.clone(),
            hit: true,
            cached: true,
        })
    }

    /// Removes unpinned entries, least recently used first, until the cache fits its capacity.
    fn evict(&self, state: &mut State) {
        while state.used > self.capacity {
            let victim = state
                .entries
                .iter()
                .filter(|(_, e)| e.pins == 0)
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone());
            let Some(victim) = victim else { break };
            if let Some(entry) = state.entries.remove(&victim) {
                state.used -= entry.size;
                let _ = std::fs::remove_file(&entry.path);
                tracing::debug!(uri = %victim.1, size = entry.size, "evicted from the fetcher cache");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn key(uri: &str) -> Key {
        (None, uri.to_owned())
    }

    async fn put(cache: &Arc<Cache>, uri: &str, size: usize, fills: &AtomicU32) -> Pinned {
        cache
            .get(key(uri), |path| async move {
                fills.fetch_add(1, Ordering::SeqCst);
                std::fs::write(&path, vec![b'x'; size])?;
                Ok::<_, std::io::Error>(size as u64)
            })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn lru_eviction_keeps_within_capacity() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Arc::new(Cache::new(dir.path().join("c"), 250).unwrap());
        let fills = AtomicU32::new(0);
        drop(put(&cache, "a", 100, &fills).await);
        drop(put(&cache, "b", 100, &fills).await);
        // Touch a, so b is the least recently used.
        assert!(put(&cache, "a", 100, &fills).await.hit);
        drop(put(&cache, "c", 100, &fills).await);
        assert_eq!(cache.used(), 200);
        assert_eq!(fills.load(Ordering::SeqCst), 3);
        assert!(put(&cache, "a", 100, &fills).await.hit);
        assert!(!put(&cache, "b", 100, &fills).await.hit, "b was evicted");
    }

    #[tokio::test]
    async fn pinned_entries_survive_and_oversize_is_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Arc::new(Cache::new(dir.path().join("c"), 150).unwrap());
        let fills = AtomicU32::new(0);
        let a = put(&cache, "a", 100, &fills).await;
        let b = put(&cache, "b", 100, &fills).await;
        assert!(
            a.path().exists() && b.path().exists(),
            "pinned: nothing evicted"
        );
        drop(a);
        assert!(!cache.lock().entries.contains_key(&key("a")));
        drop(b);
        let big = put(&cache, "big", 500, &fills).await;
        let path = big.path().to_path_buf();
        assert!(path.exists());
        drop(big);
        assert!(!path.exists());
        assert_eq!(cache.used(), 100);
    }

    #[test]
    fn start_removes_only_old_entries() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("17"), b"old entry").unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"someone else's").unwrap();
        let _cache = Cache::new(dir.path().to_path_buf(), 10).unwrap();
        assert!(!dir.path().join("17").exists());
        assert!(dir.path().join("notes.txt").exists());
    }

    #[tokio::test]
    async fn a_cancelled_fill_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Arc::new(Cache::new(dir.path().join("c"), 1000).unwrap());
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let stuck = cache.get(key("k"), |path| async move {
            std::fs::write(&path, b"partial")?;
            let _ = started_tx.send(());
            std::future::pending::<()>().await;
            Ok::<_, std::io::Error>(7)
        });
        tokio::select! {
            _ = stuck => unreachable!("the fill never ends"),
            _ = started_rx => {}
        }
        assert_eq!(std::fs::read_dir(dir.path().join("c")).unwrap().count(), 0);
        assert!(cache.lock().filling.is_empty());
        let fills = AtomicU32::new(0);
        assert!(!put(&cache, "k", 10, &fills).await.hit);
        assert_eq!(cache.used(), 10);
    }

    #[tokio::test]
    async fn concurrent_gets_share_one_fill() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Arc::new(Cache::new(dir.path().join("c"), 1000).unwrap());
        let fills = Arc::new(AtomicU32::new(0));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let cache = cache.clone();
            let fills = fills.clone();
            tasks.push(tokio::spawn(async move {
                let pinned = cache
                    .get(key("same"), |path| async move {
                        fills.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        std::fs::write(&path, b"data")?;
                        Ok::<_, std::io::Error>(4)
                    })
                    .await
                    .unwrap();
                std::fs::read(pinned.path()).unwrap()
            }));
        }
        for task in tasks {
            assert_eq!(task.await.unwrap(), b"data");
        }
        assert_eq!(fills.load(Ordering::SeqCst), 1);
    }
}
