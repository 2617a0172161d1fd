//! A private Docker registry (Debian's `docker-registry`, distribution 2.8) on loopback with its
//! own storage, and images pushed to it over the Registry HTTP API v2 by hand: layers built
//! here from the machine's busybox-static, so no Docker daemon and no internet are needed.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Registry {
    child: Child,
    pub port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Registry {
    pub async fn start() -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let port = crate::support::free_port();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\n\
                 storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
                 http:\n  addr: 127.0.0.1:{port}\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let log = dir.path().join("registry.log");
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect(
                "docker-registry (Debian's docker-registry package; scripts/setup installs it)",
            );
        let registry = Registry {
            child,
            port,
            log,
            _dir: dir,
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let url = format!("{}/v2/", registry.url());
            if let Ok(r) = client.get(&url).send().await
                && r.status().is_success()
            {
                break;
            }
            assert!(Instant::now() < deadline, "the registry did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        registry
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Pushes an image of `layers` (tar or tar.gz bytes, base first) with `config` (the
    /// image configuration's `config` object) as `repository:tag`. Returns the layers'
    /// digests.
    pub async fn push(
        &self,
        repository: &str,
        tag: &str,
        layers: &[Vec<u8>],
        config: serde_json::Value,
    ) -> Vec<String> {
        let client = reqwest::Client::new();
        let mut descriptors = Vec::new();
        let mut digests = Vec::new();
        for layer in layers {
            let digest = self.blob(&client, repository, layer).await;
            descriptors.push(serde_json::json!({
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": layer.len(),
                "digest": digest,
            }));
            digests.push(digest);
        }
        let config_doc = serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "config": config,
            "rootfs": {"type": "layers", "diff_ids": digests},
        });
        let config_bytes = serde_json::to_vec(&config_doc).unwrap();
        let config_digest = self.blob(&client, repository, &config_bytes).await;
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
        let response = client
            .put(format!("{}/v2/{repository}/manifests/{tag}", self.url()))
            .header(
                "content-type",
                "application/vnd.docker.distribution.manifest.v2+json",
            )
            .body(serde_json::to_vec(&manifest).unwrap())
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "manifest push: {}",
            response.text().await.unwrap()
        );
        digests
    }

    async fn blob(&self, client: &reqwest::Client, repository: &str, bytes: &[u8]) -> String {
        let digest = format!(
            "sha256:{}",
            drover_agent::provisioner::store::sha256_hex(bytes)
        );
        let start = client
            .post(format!("{}/v2/{repository}/blobs/uploads/", self.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(start.status().as_u16(), 202, "upload start");
        let location = start.headers()["location"].to_str().unwrap().to_owned();
        let location = if location.starts_with("http") {
            location
        } else {
            format!("{}{location}", self.url())
        };
        let separator = if location.contains('?') { '&' } else { '?' };
        let done = client
            .put(format!("{location}{separator}digest={digest}"))
            .header("content-type", "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap();
        assert!(done.status().is_success(), "blob push: {}", done.status());
        digest
    }

    /// How many times the registry served blob `digest` (from its access log).
    pub fn blob_gets(&self, digest: &str) -> usize {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        log.lines()
            .filter(|l| l.contains("\"GET /v2/") && l.contains(&format!("/blobs/{digest}")))
            .count()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A gzipped layer of `files` (path, mode, content) and `symlinks` (path, target).
pub fn layer(files: &[(&str, u32, Vec<u8>)], symlinks: &[(&str, &str)]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut builder = tar::Builder::new(gz);
    let mut dirs = std::collections::BTreeSet::new();
    for path in files
        .iter()
        .map(|f| f.0)
        .chain(symlinks.iter().map(|s| s.0))
    {
        let mut parent = std::path::Path::new(path).parent();
        while let Some(p) = parent.filter(|p| !p.as_os_str().is_empty()) {
            dirs.insert(p.to_path_buf());
            parent = p.parent();
        }
    }
    for dir in dirs {
        let mut header = tar::Header::new_gnu();
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(1_700_000_000);
        header.set_entry_type(tar::EntryType::Directory);
        header.set_mode(0o755);
        header.set_size(0);
        builder
            .append_data(&mut header, format!("{}/", dir.display()), std::io::empty())
            .unwrap();
    }
    for (path, mode, data) in files {
        let mut header = tar::Header::new_gnu();
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(1_700_000_000);
        header.set_mode(*mode);
        header.set_size(data.len() as u64);
        builder
            .append_data(&mut header, path, data.as_slice())
            .unwrap();
    }
    for (path, target) in symlinks {
        let mut header = tar::Header::new_gnu();
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(1_700_000_000);
        header.set_entry_type(tar::EntryType::Symlink);
        header.set_size(0);
        header.set_mode(0o777);
        builder.append_link(&mut header, path, target).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

/// A base layer: busybox-static as `/bin/busybox` with a link per applet, and `/etc`.
pub fn busybox_layer(extra: &[(&str, u32, Vec<u8>)]) -> Vec<u8> {
    let busybox = std::fs::read("/bin/busybox").expect("busybox-static");
    let applets = Command::new("/bin/busybox").arg("--list").output().unwrap();
    let names: Vec<String> = String::from_utf8_lossy(&applets.stdout)
        .lines()
        .filter(|a| *a != "busybox")
        .map(|a| format!("bin/{a}"))
        .collect();
    let links: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "busybox")).collect();
    let mut files = vec![("bin/busybox", 0o755, busybox)];
    files.extend(extra.iter().cloned());
    layer(&files, &links)
}
