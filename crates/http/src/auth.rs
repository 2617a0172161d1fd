//! HTTP Basic authentication shared by the master, the agent and Marathon: credential files
//! in Mesos' formats, parsing of the `Authorization` header, and one middleware that decides
//! per request (through the daemon's [`Policy`]) whether credentials are required, answers
//! `401` with the daemon's `WWW-Authenticate` realm, and hands the authenticated
//! [`Principal`] to the handlers as a request extension.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

/// A boolean flag's value as Mesos took it (`--flag` alone means true).
pub fn parse_bool_flag(text: &str) -> Result<bool, String> {
    match text {
        "" | "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        other => Err(format!("'{other}' is not a boolean")),
    }
}

/// The principal a request authenticated as (a request extension).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal(pub String);

/// Principals and their secrets.
#[derive(Clone, Default)]
pub struct Credentials {
    secrets: HashMap<String, String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secrets.
        f.debug_struct("Credentials")
            .field("principals", &self.secrets.len())
            .finish()
    }
}

/// One principal and its secret (the agent's `--credential`, a scheduler's own).
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// The principal.
    pub principal: String,
    /// Its secret.
    pub secret: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("principal", &self.principal)
            .finish()
    }
}

impl Credential {
    /// The `Authorization` header value for this credential.
    pub fn header_value(&self) -> String {
        let raw = format!("{}:{}", self.principal, self.secret);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }

    /// Reads a single credential as Mesos' `--credential` took it: JSON
    /// `{"principal": "...", "secret": "..."}` or one text line `principal secret`.
    pub fn load(path: &str) -> Result<Credential, String> {
        let credentials = Credentials::load_file(path, true)?;
        let mut all: Vec<_> = credentials.secrets.into_iter().collect();
        match all.len() {
            1 => {
                let (principal, secret) = all.remove(0);
                Ok(Credential { principal, secret })
            }
            n => Err(format!(
                "the credential file {path} holds {n} credentials; exactly one is expected"
            )),
        }
    }

    /// `user:password` (Marathon's `--http_credentials`, the CLI's flag).
    pub fn parse_pair(text: &str) -> Result<Credential, String> {
        match text.split_once(':') {
            Some((principal, secret)) if !principal.is_empty() => Ok(Credential {
                principal: principal.to_owned(),
                secret: secret.to_owned(),
            }),
            _ => Err("credentials must be given as user:password".to_owned()),
        }
    }
}

impl Credentials {
    /// Reads a credentials file (a path, or a `file://` URL as Mesos accepted): Mesos' JSON
    /// `{"credentials": [{"principal": "...", "secret": "..."}]}` or text lines
    /// `principal secret`. The error names the file and what is wrong.
    pub fn load(path: &str) -> Result<Credentials, String> {
        Credentials::load_file(path, false)
    }

    fn load_file(path: &str, single: bool) -> Result<Credentials, String> {
        let file = path.strip_prefix("file://").unwrap_or(path);
        let text = std::fs::read_to_string(Path::new(file))
            .map_err(|e| format!("cannot read the credentials file {file}: {e}"))?;
        Credentials::parse(&text, single)
            .map_err(|e| format!("the credentials file {file} does not parse: {e}"))
    }

    /// Parses the text of a credentials file (`single`: one bare `{"principal","secret"}`
    /// object is accepted too, as the agent's `--credential` file holds).
    pub fn parse(text: &str, single: bool) -> Result<Credentials, String> {
        let mut secrets = HashMap::new();
        let trimmed = text.trim_start();
        if trimmed.starts_with('{') {
            let value: serde_json::Value =
                serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
            let entries = match value.get("credentials") {
                Some(serde_json::Value::Array(entries)) => entries.clone(),
                Some(_) => return Err("'credentials' must be an array".to_owned()),
                None if single => vec![value.clone()],
                None => return Err("no 'credentials' array".to_owned()),
            };
            for (i, entry) in entries.iter().enumerate() {
                let field = |name: &str| {
                    entry
                        .get(name)
                        .and_then(|v| v.as_str())
                        .map(str::to_owned)
                        .ok_or_else(|| format!("credential {i} has no string '{name}'"))
                };
                let principal = field("principal")?;
                if principal.is_empty() {
                    return Err(format!("credential {i} has an empty principal"));
                }
                secrets.insert(principal, field("secret")?);
            }
        } else {
            for (n, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() {
                    continue;
                }
                let mut words = line.split_whitespace();
                match (words.next(), words.next(), words.next()) {
                    (Some(principal), Some(secret), None) => {
                        secrets.insert(principal.to_owned(), secret.to_owned());
                    }
                    _ => {
                        return Err(format!("line {} is not 'principal secret'", n + 1));
                    }
                }
            }
        }
        if secrets.is_empty() {
            return Err("it holds no credentials".to_owned());
        }
        Ok(Credentials { secrets })
    }

    /// One principal with its secret.
    pub fn single(credential: Credential) -> Credentials {
        Credentials {
            secrets: HashMap::from([(credential.principal, credential.secret)]),
        }
    }

    /// Whether `secret` is `principal`'s.
    pub fn verify(&self, principal: &str, secret: &str) -> bool {
        match self.secrets.get(principal) {
            // Compared without an early exit, so the time taken says nothing of the secret.
            Some(known) => {
                known.len() == secret.len()
                    && known
                        .bytes()
                        .zip(secret.bytes())
                        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                        == 0
            }
            None => false,
        }
    }
}

/// Why a request's `Authorization` header was not accepted.
#[derive(Debug, PartialEq, Eq)]
pub enum AuthError {
    /// No header.
    Missing,
    /// Not `Basic <base64 of principal:secret>`.
    Malformed,
    /// Unknown principal or wrong secret.
    Invalid,
}

/// The Basic credential of `headers`, if any.
pub fn basic_credential(headers: &HeaderMap) -> Result<Credential, AuthError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(AuthError::Missing)?;
    let text = value.to_str().map_err(|_| AuthError::Malformed)?;
    let (scheme, encoded) = text.trim().split_once(' ').ok_or(AuthError::Malformed)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(AuthError::Malformed);
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| AuthError::Malformed)?;
    let decoded = String::from_utf8(decoded).map_err(|_| AuthError::Malformed)?;
    Credential::parse_pair(&decoded).map_err(|_| AuthError::Malformed)
}

/// Whether a request (method, path) must be authenticated.
pub type Requirement = Box<dyn Fn(&Method, &str) -> bool + Send + Sync>;

/// Which requests need credentials, and how a refusal looks.
pub struct Policy {
    /// The principals the daemon knows.
    pub credentials: Credentials,
    /// The `WWW-Authenticate` realm (`mesos` for Mesos' daemons, `Mesosphere` for Marathon).
    pub realm: &'static str,
    /// Whether a request (method, path) must be authenticated.
    pub required: Requirement,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("credentials", &self.credentials)
            .field("realm", &self.realm)
            .finish()
    }
}

impl Policy {
    /// Authenticates a request's headers: `Ok(None)` when no credentials are needed and none
    /// were checked, `Ok(Some)` with the principal, or why it is refused (answered with
    /// [`unauthorized`]).
    pub fn authenticate(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
    ) -> Result<Option<Principal>, AuthError> {
        if !(self.required)(method, path) {
            return Ok(None);
        }
        match basic_credential(headers) {
            Ok(credential)
                if self
                    .credentials
                    .verify(&credential.principal, &credential.secret) =>
            {
                Ok(Some(Principal(credential.principal)))
            }
            Ok(credential) => {
                tracing::debug!(principal = %credential.principal, path, "authentication failed");
                Err(AuthError::Invalid)
            }
            Err(error) => Err(error),
        }
    }
}

/// `401 Unauthorized` with `WWW-Authenticate: Basic realm="<realm>"`.
pub fn unauthorized(realm: &str, error: AuthError) -> Response {
    let message = match error {
        AuthError::Missing => "Authentication required",
        AuthError::Malformed => "Malformed 'Authorization' header: expected HTTP Basic credentials",
        AuthError::Invalid => "Invalid principal or secret",
    };
    let mut response = (StatusCode::UNAUTHORIZED, message).into_response();
    if let Ok(value) = HeaderValue::from_str(&format!("Basic realm=\"{realm}\"")) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// Set on a request by a daemon's own earlier middleware that authenticated it by other means
/// (an agent's executor token): the Basic policy does not apply to it.
#[derive(Debug, Clone, Copy)]
pub struct AuthenticatedOtherwise;

/// The middleware: `401` for a request that needs credentials and lacks valid ones; the
/// [`Principal`] as an extension otherwise.
pub async fn middleware(
    State(policy): State<Arc<Policy>>,
    mut request: Request,
    next: Next,
) -> Response {
    if request
        .extensions()
        .get::<AuthenticatedOtherwise>()
        .is_some()
    {
        return next.run(request).await;
    }
    match policy.authenticate(request.method(), request.uri().path(), request.headers()) {
        Ok(Some(principal)) => {
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Ok(None) => next.run(request).await,
        Err(error) => unauthorized(policy.realm, error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_files_in_json_and_text() {
        let json =
            r#"{"credentials":[{"principal":"a","secret":"x"},{"principal":"b","secret":"y"}]}"#;
        let c = Credentials::parse(json, false).expect("json");
        assert!(c.verify("a", "x") && c.verify("b", "y"));
        assert!(!c.verify("a", "y") && !c.verify("c", "x") && !c.verify("a", "xx"));
        let c = Credentials::parse("a x\n\nb  y\n", false).expect("text");
        assert!(c.verify("a", "x") && c.verify("b", "y"));
        assert!(Credentials::parse("a x y\n", false).is_err());
        assert!(Credentials::parse("{\"credentials\": 3}", false).is_err());
        assert!(Credentials::parse("{oops", false).is_err());
        assert!(Credentials::parse("", false).is_err());
        assert!(Credentials::parse(r#"{"principal":"a","secret":"x"}"#, false).is_err());
        assert!(Credentials::parse(r#"{"principal":"a","secret":"x"}"#, true).is_ok());
    }

    #[test]
    fn authorization_headers() {
        let mut headers = HeaderMap::new();
        assert_eq!(basic_credential(&headers), Err(AuthError::Missing));
        for bad in [
            "Basic",
            "Basic !!!",
            "Bearer abc",
            "Basic Zm9v",
            "Basic w6g=",
        ] {
            headers.insert(header::AUTHORIZATION, HeaderValue::from_static(bad));
            assert_eq!(
                basic_credential(&headers),
                Err(AuthError::Malformed),
                "{bad}"
            );
        }
        let good = Credential {
            principal: "ops".into(),
            secret: "s:e:c".into(),
        };
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&good.header_value()).expect("value"),
        );
        assert_eq!(basic_credential(&headers), Ok(good));
    }
}
