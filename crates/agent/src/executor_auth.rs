//! Executor authentication (Mesos' `--authenticate_http_executors` with
//! `--executor_secret_key`): the agent mints each executor a JWT (HS256) whose claims name its
//! framework, executor and container (`fid`, `eid`, `cid`), hands it over in
//! `MESOS_EXECUTOR_AUTHENTICATION_TOKEN`, and accepts an Executor API call only with a valid
//! token whose claims are the caller's own: a process in one container cannot send another
//! executor's updates.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;

/// The claims of an executor's token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// Framework id.
    pub fid: String,
    /// Executor id.
    pub eid: String,
    /// Container id.
    pub cid: String,
}

/// Why a token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// No `Authorization: Bearer` header.
    Missing,
    /// Not a well-formed JWT of ours, or a bad signature.
    Invalid(&'static str),
}

/// Mints and checks tokens with one key.
pub struct Keys {
    key: hmac::Key,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

impl Keys {
    /// Keys from the secret (the contents of `--executor_secret_key`).
    pub fn new(secret: &[u8]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        }
    }

    /// The token of an executor.
    pub fn mint(&self, claims: &Claims) -> String {
        let payload = serde_json::json!({"fid": claims.fid, "eid": claims.eid, "cid": claims.cid});
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(HEADER),
            URL_SAFE_NO_PAD.encode(payload.to_string())
        );
        let tag = hmac::sign(&self.key, signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }

    /// The claims of the token in an `Authorization` header value.
    pub fn verify(&self, authorization: Option<&str>) -> Result<Claims, TokenError> {
        let token = authorization
            .and_then(|h| h.strip_prefix("Bearer "))
            .ok_or(TokenError::Missing)?
            .trim();
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(tag), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Invalid("not a JWT"));
        };
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| TokenError::Invalid("bad signature encoding"))?;
        hmac::verify(&self.key, format!("{header}.{payload}").as_bytes(), &tag)
            .map_err(|_| TokenError::Invalid("bad signature"))?;
        let header: serde_json::Value = URL_SAFE_NO_PAD
            .decode(header)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(TokenError::Invalid("bad header"))?;
        if header["alg"] != "HS256" {
            return Err(TokenError::Invalid("unsupported algorithm"));
        }
        let payload: serde_json::Value = URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(TokenError::Invalid("bad payload"))?;
        let claim = |name: &str| {
            payload[name]
                .as_str()
                .map(str::to_owned)
                .ok_or(TokenError::Invalid("missing claims"))
        };
        Ok(Claims {
            fid: claim("fid")?,
            eid: claim("eid")?,
            cid: claim("cid")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            fid: "fw".into(),
            eid: "ex".into(),
            cid: "c1".into(),
        }
    }

    #[test]
    fn a_minted_token_verifies_and_a_forged_one_does_not() {
        let keys = Keys::new(b"secret");
        let token = keys.mint(&claims());
        assert_eq!(keys.verify(Some(&format!("Bearer {token}"))), Ok(claims()));
        assert_eq!(keys.verify(None), Err(TokenError::Missing));
        assert_eq!(
            keys.verify(Some(&format!("Basic {token}"))),
            Err(TokenError::Missing)
        );
        let other = Keys::new(b"another").mint(&claims());
        assert_eq!(
            keys.verify(Some(&format!("Bearer {other}"))),
            Err(TokenError::Invalid("bad signature"))
        );
        // Claims changed after signing.
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[1] = URL_SAFE_NO_PAD.encode(r#"{"fid":"fw","eid":"other","cid":"c1"}"#);
        assert!(
            keys.verify(Some(&format!("Bearer {}", parts.join("."))))
                .is_err()
        );
        assert!(keys.verify(Some("Bearer a.b")).is_err());
    }
}
