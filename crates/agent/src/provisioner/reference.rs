//! A Docker image reference resolved to the registry it is pulled from: the registry's base
//! URL, the repository path there, and the tag or digest, as Mesos' registry puller did.

use drover_core::agent::docker::image_problem;

/// Docker Hub's registry, Mesos' default `--docker_registry`.
pub const DOCKER_HUB: &str = "https://registry-1.docker.io";

/// An image to pull.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// The reference as the task named it (`busybox`, `127.0.0.1:5000/web:1`).
    pub name: String,
    /// The registry's base URL, without a trailing `/` (`https://registry-1.docker.io`).
    pub registry: String,
    /// The repository path in the registry (`library/busybox`).
    pub repository: String,
    /// The tag or `algorithm:hex` digest asked for (`latest` when neither is given).
    pub reference: String,
}

impl ImageRef {
    /// Resolves `name` against `default_registry` (the agent's `--docker_registry`, a URL):
    /// a name whose first component is a host (it has a `.` or `:`, or is `localhost`) names
    /// its own registry, spoken to over https except on loopback (http, as the docker daemon
    /// treats 127.0.0.0/8 as an insecure registry); Docker Hub's single-component names live
    /// under `library/`.
    pub fn parse(name: &str, default_registry: &str) -> Result<Self, String> {
        if let Some(why) = image_problem(name) {
            return Err(why);
        }
        let (rest, digest) = match name.split_once('@') {
            Some((rest, digest)) => (rest, Some(digest)),
            None => (name, None),
        };
        let (path, tag) = match rest.rfind(':') {
            Some(at) if !rest[at..].contains('/') => (&rest[..at], Some(&rest[at + 1..])),
            _ => (rest, None),
        };
        let (registry, repository) = match path.split_once('/') {
            Some((first, repo))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                let host = first.split(':').next().unwrap_or(first);
                let loopback = host == "localhost"
                    || host.starts_with("127.")
                    || host == "[::1]"
                    || host == "::1";
                let scheme = if loopback { "http" } else { "https" };
                (format!("{scheme}://{first}"), repo.to_owned())
            }
            _ => {
                let registry = default_registry.trim_end_matches('/');
                let registry = if registry.contains("://") {
                    registry.to_owned()
                } else {
                    format!("https://{registry}")
                };
                let hub = registry.ends_with("registry-1.docker.io")
                    || registry.ends_with("index.docker.io")
                    || registry.ends_with("://docker.io");
                let repository = if hub && !path.contains('/') {
                    format!("library/{path}")
                } else {
                    path.to_owned()
                };
                (registry, repository)
            }
        };
        let reference = digest.or(tag).unwrap_or("latest").to_owned();
        Ok(Self {
            name: name.to_owned(),
            registry,
            repository,
            reference,
        })
    }

    /// The registry's host as docker config files name it (`docker.io` for Docker Hub).
    pub fn registry_host(&self) -> &str {
        let host = self
            .registry
            .split_once("://")
            .map_or(self.registry.as_str(), |(_, h)| h);
        match host {
            "registry-1.docker.io" | "index.docker.io" => "docker.io",
            other => other,
        }
    }

    /// A file name for this reference in the store (no `/`, `:` or `@`).
    pub fn store_key(&self) -> String {
        let text = format!("{}/{}:{}", self.registry, self.repository, self.reference);
        text.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_to_their_registry_repository_and_reference() {
        let hub = ImageRef::parse("busybox", DOCKER_HUB).unwrap();
        assert_eq!(hub.registry, "https://registry-1.docker.io");
        assert_eq!(hub.repository, "library/busybox");
        assert_eq!(hub.reference, "latest");
        assert_eq!(hub.registry_host(), "docker.io");

        let local = ImageRef::parse("127.0.0.1:5000/team/web:1.2", DOCKER_HUB).unwrap();
        assert_eq!(local.registry, "http://127.0.0.1:5000");
        assert_eq!(local.repository, "team/web");
        assert_eq!(local.reference, "1.2");
        assert_eq!(local.registry_host(), "127.0.0.1:5000");

        let remote = ImageRef::parse("r.example.com/app", DOCKER_HUB).unwrap();
        assert_eq!(remote.registry, "https://r.example.com");

        let digest = format!("sha256:{}", "a".repeat(64));
        let pinned = ImageRef::parse(&format!("busybox@{digest}"), DOCKER_HUB).unwrap();
        assert_eq!(pinned.reference, digest);

        // Another default registry: names keep their path, no `library/`.
        let mirror = ImageRef::parse("busybox:1", "http://127.0.0.1:5000/").unwrap();
        assert_eq!(mirror.registry, "http://127.0.0.1:5000");
        assert_eq!(mirror.repository, "busybox");
        assert_eq!(mirror.reference, "1");
        assert!(!mirror.store_key().contains(['/', ':']));
    }

    #[test]
    fn bad_names_are_refused_with_the_grammar_s_reason() {
        let why = ImageRef::parse("Not An Image", DOCKER_HUB).unwrap_err();
        assert!(why.contains("invalid image reference"), "{why}");
    }
}
