//! A private Docker registry for the UCR scenario (issue 13): Debian's `docker-registry`
//! (distribution 2.8) on loopback with its storage in the run's temp dir, and an image pushed
//! to it over the Registry HTTP API v2 by hand — a layer of the machine's busybox-static with
//! its applets, so neither a Docker daemon nor the internet is needed. (The same approach as
//! `crates/agent/tests/support/registry.rs`, which is test code and not importable.)

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;

use crate::http::Http;

/// A running `docker-registry`; killed and reaped on drop.
#[derive(Debug)]
pub struct Registry {
    child: Child,
    /// Its loopback port.
    pub port: u16,
    log: PathBuf,
}

impl Registry {
    /// Starts a registry storing under `dir` and waits until `/v2/` answers.
    pub async fn start(dir: &Path, http: &Http) -> anyhow::Result<Registry> {
        std::fs::create_dir_all(dir)?;
        let port = crate::procs::free_port()?;
        let config = dir.join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    \
                 rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.join("data").display()
            ),
        )?;
        let log = dir.join("registry.log");
        let out = std::fs::File::create(&log)?;
        // Dies with the harness even if it is SIGKILLed (setpriv is util-linux's).
        let mut command = if Path::new("/usr/bin/setpriv").exists() {
            let mut c = Command::new("/usr/bin/setpriv");
            c.args(["--pdeathsig", "KILL", "docker-registry"]);
            c
        } else {
            Command::new("docker-registry")
        };
        let child = command
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .context(
                "starting docker-registry (Debian's docker-registry package; scripts/setup \
                 installs it)",
            )?;
        let mut registry = Registry { child, port, log };
        let url = format!("{}/v2/", registry.url());
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if matches!(http.get(&url).await, Ok((200, _))) {
                return Ok(registry);
            }
            if let Ok(Some(status)) = registry.child.try_wait() {
                bail!(
                    "docker-registry exited ({status}): {}",
                    std::fs::read_to_string(&registry.log).unwrap_or_default()
                );
            }
            if tokio::time::Instant::now() > deadline {
                bail!(
                    "docker-registry did not answer on {url} within 30 s: {}",
                    std::fs::read_to_string(&registry.log).unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Pushes an image of `layers` (gzipped tars, base first) whose image configuration's
    /// `config` object is `config`, as `repository:tag` (a schema-2 manifest).
    pub async fn push(
        &self,
        http: &Http,
        repository: &str,
        tag: &str,
        layers: &[Vec<u8>],
        config: serde_json::Value,
    ) -> anyhow::Result<()> {
        let mut descriptors = Vec::new();
        let mut diff_ids = Vec::new();
        for layer in layers {
            let digest = self.blob(http, repository, layer).await?;
            descriptors.push(serde_json::json!({
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": layer.len(),
                "digest": digest,
            }));
            diff_ids.push(digest);
        }
        let config_doc = serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "config": config,
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        });
        let config_bytes = serde_json::to_vec(&config_doc)?;
        let config_digest = self.blob(http, repository, &config_bytes).await?;
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": config_bytes.len(),
                "digest": config_digest,
            },
            "layers": descriptors,
        });
        let (status, _, body) = http
            .send(
                hyper::Method::PUT,
                &format!("{}/v2/{repository}/manifests/{tag}", self.url()),
                &[(
                    "content-type",
                    "application/vnd.docker.distribution.manifest.v2+json",
                )],
                Bytes::from(serde_json::to_vec(&manifest)?),
            )
            .await?;
        anyhow::ensure!(
            (200..300).contains(&status),
            "manifest push answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
        Ok(())
    }

    /// Uploads one blob (monolithic: POST for an upload, PUT of the bytes with the digest).
    async fn blob(&self, http: &Http, repository: &str, bytes: &[u8]) -> anyhow::Result<String> {
        let digest = format!(
            "sha256:{}",
            drover_agent::provisioner::store::sha256_hex(bytes)
        );
        let (status, headers, body) = http
            .send(
                hyper::Method::POST,
                &format!("{}/v2/{repository}/blobs/uploads/", self.url()),
                &[],
                Bytes::new(),
            )
            .await?;
        anyhow::ensure!(
            status == 202,
            "blob upload start answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
        let location = headers
            .get("location")
            .and_then(|l| l.to_str().ok())
            .context("blob upload start without a Location")?;
        let location = if location.starts_with("http") {
            location.to_owned()
        } else {
            format!("{}{location}", self.url())
        };
        let separator = if location.contains('?') { '&' } else { '?' };
        let (status, _, body) = http
            .send(
                hyper::Method::PUT,
                &format!("{location}{separator}digest={digest}"),
                &[("content-type", "application/octet-stream")],
                Bytes::copy_from_slice(bytes),
            )
            .await?;
        anyhow::ensure!(
            (200..300).contains(&status),
            "blob push answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
        Ok(digest)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A gzipped layer holding `/bin/busybox` (the machine's busybox-static) and a symlink per
/// applet. Every header carries uid, gid and mtime: the tar crate refuses empty numeric fields
/// when the agent unpacks the layer.
pub fn busybox_layer() -> anyhow::Result<Vec<u8>> {
    let busybox = std::fs::read("/bin/busybox")
        .context("reading /bin/busybox (busybox-static; scripts/setup installs it)")?;
    let applets = busybox_applets()?;
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut builder = tar::Builder::new(gz);
    let header = |kind: tar::EntryType, mode: u32, size: u64| {
        let mut header = tar::Header::new_gnu();
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(1_700_000_000);
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_size(size);
        header
    };
    let mut dir = header(tar::EntryType::Directory, 0o755, 0);
    builder.append_data(&mut dir, "bin/", std::io::empty())?;
    let mut file = header(tar::EntryType::Regular, 0o755, busybox.len() as u64);
    builder.append_data(&mut file, "bin/busybox", busybox.as_slice())?;
    for applet in applets {
        let mut link = header(tar::EntryType::Symlink, 0o777, 0);
        builder.append_link(&mut link, format!("bin/{applet}"), "busybox")?;
    }
    Ok(builder.into_inner()?.finish()?)
}

/// busybox's applets (`busybox --list`), without `busybox` itself.
pub fn busybox_applets() -> anyhow::Result<Vec<String>> {
    let output = Command::new("/bin/busybox")
        .arg("--list")
        .output()
        .context("running /bin/busybox --list")?;
    anyhow::ensure!(output.status.success(), "/bin/busybox --list failed");
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|a| !a.is_empty() && *a != "busybox")
        .map(str::to_owned)
        .collect())
}
