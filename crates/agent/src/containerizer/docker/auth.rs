//! Registry credentials for a pull, from a docker client config (`config.json`'s `auths`, the
//! format of Mesos' `--docker_config`): the entry of the image's registry, its `auth`
//! (base64 `user:password`) decoded, since the daemon's API takes the parts.

use base64::Engine;
use bollard::auth::DockerCredentials;

/// The registry an image is pulled from, as docker names it (`docker.io` for Docker Hub).
pub fn registry_of(image: &str) -> &str {
    match image.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            first
        }
        _ => "docker.io",
    }
}

/// A config key (`https://index.docker.io/v1/`, `registry:5000`, `https://r.example/`) as a
/// registry name comparable with [`registry_of`].
fn normalize(key: &str) -> &str {
    let key = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = key.split('/').next().unwrap_or(key);
    match host {
        "index.docker.io" | "registry-1.docker.io" => "docker.io",
        other => other,
    }
}

/// The credentials `config_json` holds for `image`'s registry; `Ok(None)` when it has none,
/// an error naming what does not parse.
pub fn credentials_for(
    image: &str,
    config_json: &str,
) -> Result<Option<DockerCredentials>, String> {
    let config: serde_json::Value =
        serde_json::from_str(config_json).map_err(|e| format!("docker config is not JSON: {e}"))?;
    // Both the current `{"auths": {...}}` and the legacy `.dockercfg` map of registries.
    let auths = config.get("auths").unwrap_or(&config);
    let Some(auths) = auths.as_object() else {
        return Err("docker config: 'auths' is not an object".into());
    };
    let registry = registry_of(image);
    let Some((key, entry)) = auths.iter().find(|(key, _)| normalize(key) == registry) else {
        return Ok(None);
    };
    let text = |field: &str| {
        entry
            .get(field)
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    let (mut username, mut password) = (text("username"), text("password"));
    if let Some(auth) = text("auth").filter(|a| !a.is_empty()) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| format!("docker config: the auth of '{key}' is not base64 text"))?;
        let (user, pass) = decoded
            .split_once(':')
            .ok_or_else(|| format!("docker config: the auth of '{key}' is not user:password"))?;
        username = Some(user.to_string());
        password = Some(pass.to_string());
    }
    Ok(Some(DockerCredentials {
        username,
        password,
        identitytoken: text("identitytoken"),
        serveraddress: Some(key.clone()),
        ..Default::default()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_name_their_registry() {
        assert_eq!(registry_of("busybox"), "docker.io");
        assert_eq!(registry_of("library/busybox:1"), "docker.io");
        assert_eq!(registry_of("localhost:5000/app"), "localhost:5000");
        assert_eq!(registry_of("r.example.com/team/app:2"), "r.example.com");
    }

    #[test]
    fn the_entry_of_the_images_registry_is_decoded() {
        // "alice:s3cr:et" — a password may itself contain ':'.
        let config = r#"{"auths": {
            "https://index.docker.io/v1/": {"auth": "aHViOmh1Yg=="},
            "localhost:5000": {"auth": "YWxpY2U6czNjcjpldA=="}
        }}"#;
        let local = credentials_for("localhost:5000/app:1", config)
            .unwrap()
            .unwrap();
        assert_eq!(local.username.as_deref(), Some("alice"));
        assert_eq!(local.password.as_deref(), Some("s3cr:et"));
        assert_eq!(local.serveraddress.as_deref(), Some("localhost:5000"));
        let hub = credentials_for("busybox", config).unwrap().unwrap();
        assert_eq!(hub.username.as_deref(), Some("hub"));
        assert_eq!(credentials_for("other.example/app", config).unwrap(), None);
    }

    #[test]
    fn legacy_dockercfg_and_bad_configs() {
        let legacy = r#"{"r.example.com": {"username": "u", "password": "p"}}"#;
        let found = credentials_for("r.example.com/app", legacy)
            .unwrap()
            .unwrap();
        assert_eq!(
            (found.username.as_deref(), found.password.as_deref()),
            (Some("u"), Some("p"))
        );
        assert!(credentials_for("busybox", "not json").is_err());
        let bad = r#"{"auths": {"localhost:5000": {"auth": "%%%"}}}"#;
        let why = credentials_for("localhost:5000/a", bad).unwrap_err();
        assert!(why.contains("localhost:5000"), "{why}");
    }
}
