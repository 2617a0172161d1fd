//! The agent's secret store and resolver (`--secrets_dir`): a `REFERENCE` secret named `n` is
//! the content of the file `<secrets_dir>/n`; a `VALUE` secret carries its own bytes. What a
//! launch asks for is resolved before anything starts, into the container's environment (Mesos'
//! `environment_secret` isolator); a secret that cannot be resolved fails the launch with a
//! message naming the variable and the secret, never its value.

use std::path::{Component, Path};

use drover_wire::v1;

/// The most a secret may hold: secrets are small (keys, passwords, tokens).
const MAX_SECRET_BYTES: u64 = 1024 * 1024;

/// The resolved value of `secret`, for the environment variable `name`.
pub fn resolve(store: Option<&Path>, name: &str, secret: &v1::Secret) -> Result<String, String> {
    use v1::secret::Type;
    let bytes = match secret.r#type.and_then(|t| Type::try_from(t).ok()) {
        Some(Type::Value) => secret
            .value
            .as_ref()
            .map(|v| v.data.clone())
            .ok_or_else(|| format!("environment variable '{name}': a VALUE secret has no value"))?,
        Some(Type::Reference) => {
            let Some(reference) = &secret.reference else {
                return Err(format!(
                    "environment variable '{name}': a REFERENCE secret has no reference"
                ));
            };
            if let Some(key) = &reference.key {
                return Err(format!(
                    "environment variable '{name}': secret '{}' names key '{key}', but this \
                     agent's secret store (--secrets_dir) holds one value per secret",
                    reference.name
                ));
            }
            let Some(store) = store else {
                return Err(format!(
                    "environment variable '{name}' refers to secret '{}', but this agent has \
                     no secret store (--secrets_dir)",
                    reference.name
                ));
            };
            read(store, &reference.name).map_err(|why| {
                format!(
                    "environment variable '{name}': secret '{}' {why}",
                    reference.name
                )
            })?
        }
        _ => {
            return Err(format!(
                "environment variable '{name}' is of type SECRET without a secret"
            ));
        }
    };
    String::from_utf8(bytes)
        .map_err(|_| format!("environment variable '{name}': the secret is not UTF-8 text"))
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
    }
}
