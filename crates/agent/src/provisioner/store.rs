//! The image store (`--docker_store_dir`), as Mesos' Docker store: each layer unpacked once
//! into `layers/<digest>/rootfs` and shared by every image and container that uses it; each
//! pulled reference recorded in `images/<reference>.json` (its manifest digest, layers and
//! configuration). A reference is pulled by one launch at a time, a layer downloaded once
//! however many launches need it at the same moment; downloads and unpacking happen in
//! `staging/` and become visible by one rename.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::reference::ImageRef;
use super::registry::{Session, hex};

/// What the image configuration says about running it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    /// `Env`, as `NAME=value`.
    pub env: Vec<String>,
    /// `Entrypoint`.
    pub entrypoint: Vec<String>,
    /// `Cmd`.
    pub cmd: Vec<String>,
    /// `WorkingDir`.
    pub working_dir: String,
    /// `User` (reported only: Mesos ran the task as the task's user, not the image's).
    pub user: String,
}

/// A pulled image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredImage {
    /// The reference as asked.
    pub name: String,
    /// The manifest's digest.
    pub manifest: String,
    /// Layer ids (the blob digests' hex), the base first.
    pub layers: Vec<String>,
    /// The configuration.
    pub config: ImageConfig,
}

/// The store.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    client: reqwest::Client,
    docker_config: Option<String>,
    /// One lock per reference being pulled and per layer being fetched.
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Store {
    /// A store in `dir` (created; leftovers of interrupted pulls in `staging/` removed).
    pub fn open(dir: &Path, docker_config: Option<String>) -> std::io::Result<Self> {
        for sub in ["layers", "images"] {
            std::fs::create_dir_all(dir.join(sub))?;
        }
        let _ = std::fs::remove_dir_all(dir.join("staging"));
        std::fs::create_dir_all(dir.join("staging"))?;
        let client = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(std::io::Error::other)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            client,
            docker_config,
            locks: Mutex::new(HashMap::new()),
        })
    }

    /// The directory of layer `id`'s files.
    pub fn layer_rootfs(&self, id: &str) -> PathBuf {
        self.dir.join("layers").join(id).join("rootfs")
    }

    fn lock(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.entry(key.to_owned()).or_default().clone()
    }

    /// The image `image`, from the store when `cached` and complete there, else pulled from its
    /// registry (the manifest again; layers the store has are not fetched again), with the
    /// credentials of `docker_config` (else the agent's `--docker_config`).
    pub async fn get(
        &self,
        image: &ImageRef,
        cached: bool,
        docker_config: Option<&str>,
    ) -> Result<StoredImage, String> {
        let key = image.store_key();
        let lock = self.lock(&format!("image:{key}"));
        let _held = lock.lock().await;
        let record = self.dir.join("images").join(format!("{key}.json"));
        if cached
            && let Ok(text) = tokio::fs::read(&record).await
            && let Ok(stored) = serde_json::from_slice::<StoredImage>(&text)
            && stored
                .layers
                .iter()
                .all(|id| self.layer_rootfs(id).is_dir())
        {
            return Ok(stored);
        }
        let config = docker_config.or(self.docker_config.as_deref());
        let mut session = Session::new(&self.client, image, config)?;
        tracing::info!(image = %image.name, registry = %image.registry, "pulling image");
        let manifest = session.manifest().await?;
        let config = parse_config(&session.config(&manifest.config).await?);
        let mut layers = Vec::new();
        for layer in &manifest.layers {
            let id = layer
                .digest
                .split_once(':')
                .map(|(_, h)| h.to_owned())
                .unwrap_or_default();
            self.fetch_layer(&mut session, layer, &id).await?;
            layers.push(id);
        }
        let stored = StoredImage {
            name: image.name.clone(),
            manifest: manifest.digest,
            layers,
            config,
        };
        let text = serde_json::to_vec(&stored).map_err(|e| e.to_string())?;
        let staging = self
            .dir
            .join("staging")
            .join(format!("{}.json", uuid::Uuid::new_v4()));
        tokio::fs::write(&staging, text)
            .await
            .map_err(|e| format!("{}: {e}", staging.display()))?;
        tokio::fs::rename(&staging, &record)
            .await
            .map_err(|e| format!("{}: {e}", record.display()))?;
        Ok(stored)
    }

    async fn fetch_layer(
        &self,
        session: &mut Session<'_>,
        layer: &super::registry::LayerRef,
        id: &str,
    ) -> Result<(), String> {
        let lock = self.lock(&format!("layer:{id}"));
        let _held = lock.lock().await;
        let dest = self.dir.join("layers").join(id);
        if dest.join("rootfs").is_dir() {
            return Ok(());
        }
        let work = self
            .dir
            .join("staging")
            .join(uuid::Uuid::new_v4().to_string());
        let blob = work.with_extension("blob");
        let result = async {
            session.blob_to_file(layer, &blob).await?;
            tracing::debug!(layer = id, bytes = layer.size, "unpacking layer");
            let (blob_c, work_c) = (blob.clone(), work.clone());
            tokio::task::spawn_blocking(move || -> Result<(), String> {
                let rootfs = work_c.join("rootfs");
                std::fs::create_dir_all(&rootfs)
                    .map_err(|e| format!("{}: {e}", rootfs.display()))?;
                super::layer::unpack(&blob_c, &rootfs).map(|_| ())
            })
            .await
            .map_err(|e| e.to_string())??;
            tokio::fs::rename(&work, &dest)
                .await
                .map_err(|e| format!("{}: {e}", dest.display()))
        }
        .await;
        let _ = tokio::fs::remove_file(&blob).await;
        tracing::debug!(layer = id, ok = result.is_ok(), "layer fetched");
        if result.is_err() {
            let _ = tokio::fs::remove_dir_all(&work).await;
        }
        result.map_err(|why| format!("image layer sha256:{id}: {why}"))
    }
}

/// The parts of an image configuration (`{"config": {...}}`) that decide how it runs.
fn parse_config(doc: &serde_json::Value) -> ImageConfig {
    let config = doc.get("config").or_else(|| doc.get("container_config"));
    let strings = |key: &str| -> Vec<String> {
        config
            .and_then(|c| c.get(key))
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let text = |key: &str| -> String {
        config
            .and_then(|c| c.get(key))
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    ImageConfig {
        env: strings("Env"),
        entrypoint: strings("Entrypoint"),
        cmd: strings("Cmd"),
        working_dir: text("WorkingDir"),
        user: text("User"),
    }
}

/// Lowercase hex of a SHA-256 of `bytes` (used by tests building images).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_configuration_gives_env_entrypoint_cmd_and_directory() {
        let doc = serde_json::json!({"config": {
            "Env": ["PATH=/usr/bin:/bin", "GREETING=hi"],
            "Entrypoint": ["/bin/httpd", "-f"],
            "Cmd": ["-p", "80"],
            "WorkingDir": "/www",
            "User": "nobody"
        }});
        let config = parse_config(&doc);
        assert_eq!(config.env, ["PATH=/usr/bin:/bin", "GREETING=hi"]);
        assert_eq!(config.entrypoint, ["/bin/httpd", "-f"]);
        assert_eq!(config.cmd, ["-p", "80"]);
        assert_eq!(config.working_dir, "/www");
        assert_eq!(parse_config(&serde_json::json!({})), ImageConfig::default());
    }
}
