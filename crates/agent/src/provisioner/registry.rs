//! A client of the Docker Registry HTTP API v2, as Mesos' registry puller spoke it: manifests
//! (Docker schema 2 and OCI, with manifest lists picked for this machine's platform), the
//! image configuration, and layer blobs streamed to disk with their digest checked. Registry
//! authentication: a `Bearer` challenge is answered with a token from the realm it names,
//! a `Basic` one with the credentials of `--docker_config` for the registry's host.

use std::path::Path;
use std::time::Duration;

use base64::Engine;
use tokio::io::AsyncWriteExt;

use super::reference::ImageRef;

/// Manifest and configuration documents larger than this are refused (real ones are a few KiB).
const DOCUMENT_LIMIT: usize = 4 << 20;
/// How long a registry may stay silent (connecting, or between chunks of a body).
const STALL: Duration = Duration::from_secs(60);

const MANIFEST_V2: &str = "application/vnd.docker.distribution.manifest.v2+json";
const MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// A layer to fetch: its digest and declared size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerRef {
    /// `sha256:<hex>`.
    pub digest: String,
    /// Bytes, as the manifest declares them (the download may not exceed it).
    pub size: u64,
}

/// What a manifest names: the configuration blob and the layers, bottom first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The manifest's own digest (`Docker-Content-Digest`, else computed).
    pub digest: String,
    /// The configuration blob's digest.
    pub config: String,
    /// The layers, the base first.
    pub layers: Vec<LayerRef>,
}

/// One pull's conversation with a registry: the token a challenge granted is kept for the
/// pull's later requests.
#[derive(Debug)]
pub struct Session<'a> {
    client: &'a reqwest::Client,
    image: &'a ImageRef,
    /// Credentials of the image's registry from `--docker_config`.
    basic: Option<(String, String)>,
    /// The `Authorization` value a challenge led to.
    authorization: Option<String>,
}

impl<'a> Session<'a> {
    /// A session for `image`, with `docker_config` (a docker `config.json`'s text) for its
    /// credentials.
    pub fn new(
        client: &'a reqwest::Client,
        image: &'a ImageRef,
        docker_config: Option<&str>,
    ) -> Result<Self, String> {
        let basic = match docker_config {
            Some(config) => {
                // `credentials_for` reads the registry from an image name: give it one on
                // this registry.
                let probe = format!("{}/x", image.registry_host());
                let probe = if image.registry_host() == "docker.io" {
                    "x".to_owned()
                } else {
                    probe
                };
                crate::containerizer::docker::auth::credentials_for(&probe, config)?
                    .and_then(|c| Some((c.username?, c.password.unwrap_or_default())))
            }
            None => None,
        };
        Ok(Self {
            client,
            image,
            basic,
            authorization: None,
        })
    }

    /// The manifest of the image, resolving a manifest list or OCI index to this machine's
    /// platform (linux and its architecture).
    pub async fn manifest(&mut self) -> Result<Manifest, String> {
        let reference = self.image.reference.clone();
        let (media, digest, body) = self.fetch_manifest(&reference).await?;
        let doc: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| format!("the manifest of '{}' is not JSON: {e}", self.image.name))?;
        let media = doc
            .get("mediaType")
            .and_then(|m| m.as_str())
            .map(str::to_owned)
            .unwrap_or(media);
        if media == MANIFEST_LIST || media == OCI_INDEX || doc.get("manifests").is_some() {
            let arch = platform_architecture();
            let chosen = doc
                .get("manifests")
                .and_then(|m| m.as_array())
                .into_iter()
                .flatten()
                .find(|m| {
                    let platform = m.get("platform");
                    let field = |k: &str| platform.and_then(|p| p.get(k)).and_then(|v| v.as_str());
                    field("os") == Some("linux") && field("architecture") == Some(arch)
                })
                .and_then(|m| m.get("digest"))
                .and_then(|d| d.as_str())
                .ok_or_else(|| {
                    format!(
                        "image '{}' has no manifest for linux/{arch}",
                        self.image.name
                    )
                })?
                .to_owned();
            let (_, digest, body) = self.fetch_manifest(&chosen).await?;
            let doc: serde_json::Value = serde_json::from_slice(&body)
                .map_err(|e| format!("the manifest of '{}' is not JSON: {e}", self.image.name))?;
            return parse_manifest(&self.image.name, &doc, digest);
        }
        parse_manifest(&self.image.name, &doc, digest)
    }

    /// The image configuration blob (`config.Env`, `Cmd`, `Entrypoint`, `WorkingDir`).
    pub async fn config(&mut self, digest: &str) -> Result<serde_json::Value, String> {
        let url = self.url(&format!("blobs/{digest}"));
        let response = self.get(&url, "*/*").await?;
        let body = read_limited(response, DOCUMENT_LIMIT, &url).await?;
        check_digest(digest, &body)
            .map_err(|why| format!("config of '{}': {why}", self.image.name))?;
        serde_json::from_slice(&body).map_err(|e| {
            format!(
                "the configuration of '{}' is not JSON: {e}",
                self.image.name
            )
        })
    }

    /// Streams a layer blob into `dest`, checking its size and digest.
    pub async fn blob_to_file(&mut self, layer: &LayerRef, dest: &Path) -> Result<(), String> {
        let url = self.url(&format!("blobs/{}", layer.digest));
        let mut response = self.get(&url, "*/*").await?;
        let mut file = tokio::fs::File::create(dest)
            .await
            .map_err(|e| format!("{}: {e}", dest.display()))?;
        let algorithm = digest_algorithm(&layer.digest)?;
        let mut hash = ring::digest::Context::new(algorithm);
        let mut total: u64 = 0;
        loop {
            let chunk = tokio::time::timeout(STALL, response.chunk())
                .await
                .map_err(|_| format!("{url}: the registry stalled for {}s", STALL.as_secs()))?
                .map_err(|e| format!("{url}: {e}"))?;
            let Some(chunk) = chunk else { break };
            total += chunk.len() as u64;
            if layer.size > 0 && total > layer.size {
                return Err(format!(
                    "layer {} is larger than the {} bytes its manifest declares",
                    layer.digest, layer.size
                ));
            }
            hash.update(&chunk);
            file.write_all(&chunk)
                .await
                .map_err(|e| format!("{}: {e}", dest.display()))?;
        }
        file.sync_all()
            .await
            .map_err(|e| format!("{}: {e}", dest.display()))?;
        let got = hex(hash.finish().as_ref());
        let want = layer.digest.split_once(':').map_or("", |(_, h)| h);
        if got != want {
            return Err(format!(
                "layer {} does not match its digest (got {got})",
                layer.digest
            ));
        }
        Ok(())
    }

    fn url(&self, tail: &str) -> String {
        format!(
            "{}/v2/{}/{tail}",
            self.image.registry, self.image.repository
        )
    }

    async fn fetch_manifest(
        &mut self,
        reference: &str,
    ) -> Result<(String, String, Vec<u8>), String> {
        let url = self.url(&format!("manifests/{reference}"));
        let accept = [MANIFEST_V2, MANIFEST_LIST, OCI_MANIFEST, OCI_INDEX].join(", ");
        let response = self.get(&url, &accept).await?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let media = header("content-type").unwrap_or_default();
        let digest = header("docker-content-digest");
        if media.contains("manifest.v1") {
            return Err(format!(
                "image '{}': the registry offers only a schema 1 manifest, which is not supported",
                self.image.name
            ));
        }
        let body = read_limited(response, DOCUMENT_LIMIT, &url).await?;
        let digest = digest.unwrap_or_else(|| {
            format!(
                "sha256:{}",
                hex(ring::digest::digest(&ring::digest::SHA256, &body).as_ref())
            )
        });
        Ok((media, digest, body))
    }

    /// A GET that answers the registry's authentication challenge once.
    async fn get(&mut self, url: &str, accept: &str) -> Result<reqwest::Response, String> {
        let response = self.send(url, accept).await?;
        if response.status() != reqwest::StatusCode::UNAUTHORIZED {
            return check_status(response, url, &self.image.name);
        }
        let challenge = response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        self.authorization = Some(self.answer(&challenge).await?);
        let response = self.send(url, accept).await?;
        check_status(response, url, &self.image.name)
    }

    async fn send(&self, url: &str, accept: &str) -> Result<reqwest::Response, String> {
        let mut request = self.client.get(url).header("accept", accept);
        if let Some(authorization) = &self.authorization {
            request = request.header("authorization", authorization);
        }
        tokio::time::timeout(STALL, request.send())
            .await
            .map_err(|_| format!("{url}: no answer within {}s", STALL.as_secs()))?
            .map_err(|e| format!("{url}: {}", crate::fetcher::extract::chain(&e)))
    }

    /// The `Authorization` value for a `WWW-Authenticate` challenge.
    async fn answer(&self, challenge: &str) -> Result<String, String> {
        let basic = self.basic.as_ref().map(|(user, password)| {
            let pair = format!("{user}:{password}");
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            )
        });
        let (scheme, params) = challenge.split_once(' ').unwrap_or((challenge, ""));
        if scheme.eq_ignore_ascii_case("basic") {
            return basic.ok_or_else(|| {
                format!(
                    "registry {} asks for credentials, and --docker_config has none for it",
                    self.image.registry_host()
                )
            });
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(format!(
                "registry {} asks for an unsupported authentication scheme '{scheme}'",
                self.image.registry_host()
            ));
        }
        let params = challenge_params(params);
        let realm = params
            .iter()
            .find(|(k, _)| k == "realm")
            .map(|(_, v)| v.clone())
            .ok_or_else(|| "the registry's Bearer challenge names no realm".to_owned())?;
        let mut query: Vec<(String, String)> = params
            .into_iter()
            .filter(|(k, _)| k == "service" || k == "scope")
            .collect();
        if !query.iter().any(|(k, _)| k == "scope") {
            query.push((
                "scope".into(),
                format!("repository:{}:pull", self.image.repository),
            ));
        }
        let mut request = self.client.get(&realm).query(&query);
        if let Some(basic) = &basic {
            request = request.header("authorization", basic);
        }
        let response = tokio::time::timeout(STALL, request.send())
            .await
            .map_err(|_| format!("{realm}: no answer within {}s", STALL.as_secs()))?
            .map_err(|e| format!("{realm}: {}", crate::fetcher::extract::chain(&e)))?;
        if !response.status().is_success() {
            return Err(format!(
                "the token service {realm} refused the pull of '{}': HTTP {}",
                self.image.name,
                response.status().as_u16()
            ));
        }
        let body = read_limited(response, DOCUMENT_LIMIT, &realm).await?;
        let doc: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| format!("{realm}: not JSON: {e}"))?;
        let token = doc
            .get("token")
            .or_else(|| doc.get("access_token"))
            .and_then(|t| t.as_str())
            .ok_or_else(|| format!("{realm}: the answer has no token"))?;
        Ok(format!("Bearer {token}"))
    }
}

/// The key="value" pairs of a challenge (`realm="https://auth",service="registry"`).
fn challenge_params(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while let Some((key, after)) = rest.split_once('=') {
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = after.trim_start();
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => (&quoted[..end], &quoted[end + 1..]),
                None => (quoted, ""),
            }
        } else {
            match after.find(',') {
                Some(end) => (&after[..end], &after[end..]),
                None => (after, ""),
            }
        };
        out.push((key, value.to_owned()));
        rest = next.trim_start_matches(',').trim();
    }
    out
}

fn check_status(
    response: reqwest::Response,
    url: &str,
    image: &str,
) -> Result<reqwest::Response, String> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let what = match status.as_u16() {
        404 => "not found".to_owned(),
        401 | 403 => "access denied".to_owned(),
        other => format!("HTTP {other}"),
    };
    Err(format!("failed to pull image '{image}': {url}: {what}"))
}

async fn read_limited(
    mut response: reqwest::Response,
    limit: usize,
    url: &str,
) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let chunk = tokio::time::timeout(STALL, response.chunk())
            .await
            .map_err(|_| format!("{url}: the registry stalled for {}s", STALL.as_secs()))?
            .map_err(|e| format!("{url}: {e}"))?;
        let Some(chunk) = chunk else { break };
        if body.len() + chunk.len() > limit {
            return Err(format!("{url}: the document is larger than {limit} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn parse_manifest(
    image: &str,
    doc: &serde_json::Value,
    digest: String,
) -> Result<Manifest, String> {
    if doc.get("schemaVersion").and_then(|v| v.as_u64()) == Some(1) {
        return Err(format!(
            "image '{image}': schema 1 manifests are not supported"
        ));
    }
    let config = doc
        .get("config")
        .and_then(|c| c.get("digest"))
        .and_then(|d| d.as_str())
        .ok_or_else(|| format!("the manifest of '{image}' names no config"))?
        .to_owned();
    digest_algorithm(&config)?;
    let mut layers = Vec::new();
    for layer in doc
        .get("layers")
        .and_then(|l| l.as_array())
        .ok_or_else(|| format!("the manifest of '{image}' has no layers"))?
    {
        let media = layer
            .get("mediaType")
            .and_then(|m| m.as_str())
            .unwrap_or("");
        if media.contains("foreign") || layer.get("urls").is_some() {
            return Err(format!(
                "image '{image}' has a foreign layer (fetched from outside the registry), which \
                 is not supported"
            ));
        }
        if media.contains("zstd") {
            return Err(format!(
                "image '{image}' has a zstd-compressed layer, which is not supported"
            ));
        }
        let digest = layer
            .get("digest")
            .and_then(|d| d.as_str())
            .ok_or_else(|| format!("a layer of '{image}' has no digest"))?
            .to_owned();
        digest_algorithm(&digest)?;
        let size = layer.get("size").and_then(|s| s.as_u64()).unwrap_or(0);
        layers.push(LayerRef { digest, size });
    }
    Ok(Manifest {
        digest,
        config,
        layers,
    })
}

/// The digest's algorithm; only sha256 (and sha512) digests of hex text are accepted, which
/// also keeps a digest safe as a file name.
fn digest_algorithm(digest: &str) -> Result<&'static ring::digest::Algorithm, String> {
    let (algorithm, hex) = digest
        .split_once(':')
        .ok_or_else(|| format!("'{digest}' is not a digest"))?;
    let (algorithm, len) = match algorithm {
        "sha256" => (&ring::digest::SHA256, 64),
        "sha512" => (&ring::digest::SHA512, 128),
        other => return Err(format!("digest algorithm '{other}' is not supported")),
    };
    if hex.len() != len
        || !hex
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    {
        return Err(format!("'{digest}' is not a digest"));
    }
    Ok(algorithm)
}

fn check_digest(digest: &str, body: &[u8]) -> Result<(), String> {
    let algorithm = digest_algorithm(digest)?;
    let got = hex(ring::digest::digest(algorithm, body).as_ref());
    if digest.ends_with(&got) {
        Ok(())
    } else {
        Err(format!("the blob does not match its digest {digest}"))
    }
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The registry's name for this machine's architecture.
fn platform_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "arm",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_are_read_quoted_or_not() {
        let params = challenge_params(
            r#"realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull""#,
        );
        assert_eq!(
            params,
            vec![
                ("realm".into(), "https://auth.example/token".into()),
                ("service".into(), "registry.example".into()),
                ("scope".into(), "repository:a/b:pull".into()),
            ]
        );
        assert_eq!(
            challenge_params("realm=x, service=y"),
            vec![("realm".into(), "x".into()), ("service".into(), "y".into())]
        );
    }

    #[test]
    fn manifests_name_config_and_layers_and_refuse_what_cannot_be_pulled() {
        let d = |c: char| format!("sha256:{}", c.to_string().repeat(64));
        let doc = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_V2,
            "config": {"digest": d('c'), "size": 10},
            "layers": [{"digest": d('a'), "size": 5}, {"digest": d('b'), "size": 6}]
        });
        let m = parse_manifest("x", &doc, d('f')).unwrap();
        assert_eq!(m.config, d('c'));
        assert_eq!(m.layers.len(), 2);
        assert_eq!(m.layers[1].size, 6);
        let v1 = serde_json::json!({"schemaVersion": 1});
        assert!(
            parse_manifest("x", &v1, d('f'))
                .unwrap_err()
                .contains("schema 1")
        );
        let foreign = serde_json::json!({
            "config": {"digest": d('c')},
            "layers": [{"digest": d('a'), "mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", "urls": ["https://x"]}]
        });
        assert!(
            parse_manifest("x", &foreign, d('f'))
                .unwrap_err()
                .contains("foreign")
        );
        let traversal = serde_json::json!({
            "config": {"digest": d('c')},
            "layers": [{"digest": "sha256:../../etc"}]
        });
        assert!(parse_manifest("x", &traversal, d('f')).is_err());
    }
}
