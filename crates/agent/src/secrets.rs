//! The agent's secret store and resolver (`--secrets_dir`): a `REFERENCE` secret named `n` is
//! the content of the file `<secrets_dir>/n`; a `VALUE` secret carries its own bytes. What a
//! launch asks for is resolved before anything starts: into the container's environment (Mesos'
//! `environment_secret` isolator), or as a file in the sandbox readable only by the task's user
//! (the `volume/secret` isolator); a secret that cannot be resolved fails the launch with a
//! message naming the variable or file and the secret, never its value.

use std::path::{Component, Path};

use drover_wire::v1;

/// The most a secret may hold: secrets are small (keys, passwords, tokens).
const MAX_SECRET_BYTES: u64 = 1024 * 1024;

/// The resolved value of `secret`, for the environment variable `name` (UTF-8 text).
pub fn resolve(store: Option<&Path>, name: &str, secret: &v1::Secret) -> Result<String, String> {
    let what = format!("environment variable '{name}'");
    let bytes = resolve_bytes(store, &what, secret)?;
    String::from_utf8(bytes).map_err(|_| format!("{what}: the secret is not UTF-8 text"))
}

/// The resolved bytes of `secret`, for `what` (named in errors: "secret file 'x'").
pub fn resolve_bytes(
    store: Option<&Path>,
    what: &str,
    secret: &v1::Secret,
) -> Result<Vec<u8>, String> {
    use v1::secret::Type;
    match secret.r#type.and_then(|t| Type::try_from(t).ok()) {
        Some(Type::Value) => secret
            .value
            .as_ref()
            .map(|v| v.data.clone())
            .ok_or_else(|| format!("{what}: a VALUE secret has no value")),
        Some(Type::Reference) => {
            let Some(reference) = &secret.reference else {
                return Err(format!("{what}: a REFERENCE secret has no reference"));
            };
            if let Some(key) = &reference.key {
                return Err(format!(
                    "{what}: secret '{}' names key '{key}', but this agent's secret store \
                     (--secrets_dir) holds one value per secret",
                    reference.name
                ));
            }
            let Some(store) = store else {
                return Err(format!(
                    "{what} refers to secret '{}', but this agent has no secret store \
                     (--secrets_dir)",
                    reference.name
                ));
            };
            read(store, &reference.name)
                .map_err(|why| format!("{what}: secret '{}' {why}", reference.name))
        }
        _ => Err(format!("{what} is of type SECRET without a secret")),
    }
}

/// Writes a resolved secret file at `path` (relative to `sandbox`), readable by its owner only
/// (mode 0400, owned by `owner` when the task runs as another user), never through a link.
pub fn write_file(
    sandbox: &Path,
    path: &str,
    bytes: &[u8],
    owner: Option<(u32, u32)>,
) -> Result<(), String> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let relative = Path::new(path);
    if path.is_empty()
        || relative
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
    {
        return Err(format!(
            "secret file '{path}': the path must be relative to the sandbox, without '..'"
        ));
    }
    let full = sandbox.join(relative);
    if let Some(parent) = full.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("secret file '{path}': {e}"))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o400)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
        .open(&full)
        .map_err(|e| format!("secret file '{path}': {e}"))?;
    file.write_all(bytes)
        .map_err(|e| format!("secret file '{path}': {e}"))?;
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(&full, Some(uid), Some(gid))
            .map_err(|e| format!("secret file '{path}': {e}"))?;
    }
    Ok(())
}

/// The content of the store's entry `name`: a relative path inside the store, no `..`.
fn read(store: &Path, name: &str) -> Result<Vec<u8>, String> {
    let relative = Path::new(name.trim_start_matches('/'));
    if name.trim_start_matches('/').is_empty()
        || relative
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
    {
        return Err("is not a valid name in the secret store".to_owned());
    }
    let path = store.join(relative);
    let metadata = std::fs::metadata(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => "is not in the secret store".to_owned(),
        _ => format!("cannot be read: {e}"),
    })?;
    if !metadata.is_file() {
        return Err("is not a file in the secret store".to_owned());
    }
    if metadata.len() > MAX_SECRET_BYTES {
        return Err(format!("is larger than {MAX_SECRET_BYTES} bytes"));
    }
    std::fs::read(&path).map_err(|e| format!("cannot be read: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(name: &str) -> v1::Secret {
        v1::Secret {
            r#type: Some(v1::secret::Type::Reference as i32),
            reference: Some(v1::secret::Reference {
                name: name.to_owned(),
                key: None,
            }),
            value: None,
        }
    }

    #[test]
    fn references_resolve_from_the_store_and_errors_name_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("prod")).unwrap();
        std::fs::write(dir.path().join("prod/db"), "s3cret").unwrap();
        let store = Some(dir.path());
        assert_eq!(
            resolve(store, "PW", &reference("/prod/db")).unwrap(),
            "s3cret"
        );
        assert_eq!(
            resolve(store, "PW", &reference("prod/db")).unwrap(),
            "s3cret"
        );
        let missing = resolve(store, "PW", &reference("prod/nope")).unwrap_err();
        assert!(
            missing.contains("'PW'") && missing.contains("'prod/nope'"),
            "{missing}"
        );
        assert!(missing.contains("not in the secret store"), "{missing}");
        let escape = resolve(store, "PW", &reference("../etc/shadow")).unwrap_err();
        assert!(escape.contains("not a valid name"), "{escape}");
        let none = resolve(None, "PW", &reference("prod/db")).unwrap_err();
        assert!(none.contains("--secrets_dir"), "{none}");
        let value = v1::Secret {
            r#type: Some(v1::secret::Type::Value as i32),
            reference: None,
            value: Some(v1::secret::Value {
                data: b"inline".to_vec(),
            }),
        };
        assert_eq!(resolve(None, "V", &value).unwrap(), "inline");
        let empty = resolve(store, "E", &v1::Secret::default()).unwrap_err();
        assert!(empty.contains("without a secret"), "{empty}");
        let sandbox = tempfile::tempdir().unwrap();
        write_file(sandbox.path(), "conf/pw", b"s3cret", None).unwrap();
        let written = sandbox.path().join("conf/pw");
        assert_eq!(std::fs::read(&written).unwrap(), b"s3cret");
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&written).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o400);
        assert!(write_file(sandbox.path(), "../out", b"x", None).is_err());
        assert!(write_file(sandbox.path(), "/etc/x", b"x", None).is_err());
    }
}
