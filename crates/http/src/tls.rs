//! TLS for every daemon's listener and every client connection, configured as libprocess was:
//! once per process, from Mesos' `LIBPROCESS_SSL_*` environment variables (rustls, no
//! OpenSSL). [`init`] parses them (a daemon refuses to start on any it cannot honour, naming
//! it); [`server`] gives a daemon its listener's configuration, [`client_config`] the clients'
//! one, and [`scheme`] the scheme every daemon uses for the URLs it builds to its peers.
//!
//! The variables, as Mesos 1.10 defined them:
//! - `LIBPROCESS_SSL_ENABLED`: listeners speak TLS and outgoing connections use `https`;
//!   `LIBPROCESS_SSL_CERT_FILE` and `LIBPROCESS_SSL_KEY_FILE` (PEM) are then required by every
//!   daemon (the CLI, a client only, does without).
//! - `LIBPROCESS_SSL_SUPPORT_DOWNGRADE`: a listener also serves plain HTTP on the same port
//!   (told apart by the first byte), and a client retries in plain text when the handshake fails.
//! - `LIBPROCESS_SSL_VERIFY_SERVER_CERT` (legacy `…_VERIFY_CERT`): clients verify the server's
//!   certificate against the CA (`LIBPROCESS_SSL_CA_FILE` / `…_CA_DIR`, else the system's
//!   bundle) and its name; otherwise any certificate is taken, as Mesos did by default.
//! - `LIBPROCESS_SSL_REQUIRE_CLIENT_CERT` (legacy `…_REQUIRE_CERT`, which also turns on server
//!   verification): listeners demand a client certificate signed by the CA. Clients always
//!   present their own certificate when they have one.
//! - `LIBPROCESS_SSL_VERIFY_IPADD`: a certificate may be matched against the IP address a
//!   client connected to; without it, verifying a server reached by IP fails (Mesos' `openssl`
//!   scheme). `LIBPROCESS_SSL_VERIFY_DEPTH`: the most intermediate certificates a chain may have.
//! - `LIBPROCESS_SSL_ENABLE_TLS_V1_2` (default on) and `…_TLS_V1_3` (default off, as Mesos);
//!   SSLv3, TLS 1.0 and 1.1 cannot be enabled (rustls has none of them): setting one to true is
//!   an error. `LIBPROCESS_SSL_ECDH_CURVE`: `auto` or a `:`-list of `X25519`, `prime256v1`
//!   (`P-256`), `secp384r1` (`P-384`).
//! - Refused when set: `LIBPROCESS_SSL_CIPHERS` (rustls' suites are fixed and safe),
//!   `LIBPROCESS_SSL_HOSTNAME_VALIDATION_SCHEME=legacy` (reverse DNS; `openssl` is what rustls
//!   does), any other `LIBPROCESS_SSL_*` name, and the pre-1.0 `SSL_ENABLED`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{ClientConfig, DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig};
use rustls::{SignatureScheme, SupportedProtocolVersion};

/// The variables this module reads (with the legacy aliases).
const KNOWN: &[&str] = &[
    "LIBPROCESS_SSL_ENABLED",
    "LIBPROCESS_SSL_SUPPORT_DOWNGRADE",
    "LIBPROCESS_SSL_CERT_FILE",
    "LIBPROCESS_SSL_KEY_FILE",
    "LIBPROCESS_SSL_VERIFY_CERT",
    "LIBPROCESS_SSL_VERIFY_SERVER_CERT",
    "LIBPROCESS_SSL_REQUIRE_CERT",
    "LIBPROCESS_SSL_REQUIRE_CLIENT_CERT",
    "LIBPROCESS_SSL_VERIFY_DEPTH",
    "LIBPROCESS_SSL_VERIFY_IPADD",
    "LIBPROCESS_SSL_CA_DIR",
    "LIBPROCESS_SSL_CA_FILE",
    "LIBPROCESS_SSL_CIPHERS",
    "LIBPROCESS_SSL_ENABLE_SSL_V3",
    "LIBPROCESS_SSL_ENABLE_TLS_V1_0",
    "LIBPROCESS_SSL_ENABLE_TLS_V1_1",
    "LIBPROCESS_SSL_ENABLE_TLS_V1_2",
    "LIBPROCESS_SSL_ENABLE_TLS_V1_3",
    "LIBPROCESS_SSL_ECDH_CURVE",
    "LIBPROCESS_SSL_HOSTNAME_VALIDATION_SCHEME",
];

/// The system's CA bundle (Debian's path), used when no CA is configured.
const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// What the `LIBPROCESS_SSL_*` variables asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `LIBPROCESS_SSL_SUPPORT_DOWNGRADE`.
    pub downgrade: bool,
    /// `LIBPROCESS_SSL_CERT_FILE`.
    pub cert_file: Option<PathBuf>,
    /// `LIBPROCESS_SSL_KEY_FILE`.
    pub key_file: Option<PathBuf>,
    /// `LIBPROCESS_SSL_VERIFY_SERVER_CERT` (or its legacy name, or implied by requiring
    /// client certificates through the legacy name).
    pub verify_server_cert: bool,
    /// `LIBPROCESS_SSL_REQUIRE_CLIENT_CERT`.
    pub require_client_cert: bool,
    /// `LIBPROCESS_SSL_VERIFY_DEPTH`: intermediates allowed in a chain.
    pub verify_depth: usize,
    /// `LIBPROCESS_SSL_VERIFY_IPADD`.
    pub verify_ipadd: bool,
    /// `LIBPROCESS_SSL_CA_FILE`.
    pub ca_file: Option<PathBuf>,
    /// `LIBPROCESS_SSL_CA_DIR`.
    pub ca_dir: Option<PathBuf>,
    /// `LIBPROCESS_SSL_ENABLE_TLS_V1_2`.
    pub tls12: bool,
    /// `LIBPROCESS_SSL_ENABLE_TLS_V1_3`.
    pub tls13: bool,
    /// `LIBPROCESS_SSL_ECDH_CURVE` as rustls' names, `None` for `auto`.
    pub curves: Option<Vec<String>>,
}

/// Parses `LIBPROCESS_SSL_*` from `vars` (the process environment): `Ok(None)` when TLS is
/// off, an error naming the variable otherwise.
pub fn settings_from(vars: &[(String, String)]) -> Result<Option<Settings>, String> {
    let get = |name: &str| {
        vars.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let flag = |name: &str, default: bool| -> Result<bool, String> {
        match get(name).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) if v == "true" || v == "1" => Ok(true),
            Some(v) if v == "false" || v == "0" => Ok(false),
            Some(v) => Err(format!(
                "{name}={v} is not a boolean (expected true, false, 1 or 0)"
            )),
        }
    };
    if get("SSL_ENABLED").is_some() {
        return Err(
            "SSL_ENABLED is the pre-1.0 name of LIBPROCESS_SSL_ENABLED, which Drover does not \
             read (the SSL_* names collide with OpenSSL's own variables): rename it and the \
             other SSL_* variables to LIBPROCESS_SSL_*"
                .into(),
        );
    }
    for (name, _) in vars {
        if name.starts_with("LIBPROCESS_SSL_") && !KNOWN.contains(&name.as_str()) {
            return Err(format!(
                "{name} is not a TLS setting Drover knows (known: {})",
                KNOWN.join(", ")
            ));
        }
    }
    if !flag("LIBPROCESS_SSL_ENABLED", false)? {
        return Ok(None);
    }
    for name in [
        "LIBPROCESS_SSL_ENABLE_SSL_V3",
        "LIBPROCESS_SSL_ENABLE_TLS_V1_0",
        "LIBPROCESS_SSL_ENABLE_TLS_V1_1",
    ] {
        if flag(name, false)? {
            return Err(format!(
                "{name}=true cannot be honoured: Drover's TLS (rustls) speaks only TLS 1.2 and 1.3"
            ));
        }
    }
    if let Some(ciphers) = get("LIBPROCESS_SSL_CIPHERS") {
        return Err(format!(
            "LIBPROCESS_SSL_CIPHERS={ciphers} cannot be honoured: Drover's TLS (rustls) uses its \
             own fixed list of modern cipher suites; unset it"
        ));
    }
    match get("LIBPROCESS_SSL_HOSTNAME_VALIDATION_SCHEME") {
        None | Some("openssl") => {}
        Some("legacy") => {
            return Err(
                "LIBPROCESS_SSL_HOSTNAME_VALIDATION_SCHEME=legacy (reverse DNS of the peer) is \
                 not supported: Drover validates hostnames during the handshake, as the \
                 `openssl` scheme does; set it to openssl"
                    .into(),
            );
        }
        Some(other) => {
            return Err(format!(
                "LIBPROCESS_SSL_HOSTNAME_VALIDATION_SCHEME={other} is not a scheme (openssl or legacy)"
            ));
        }
    }
    let curves = match get("LIBPROCESS_SSL_ECDH_CURVE").map(str::trim) {
        None | Some("auto") => None,
        Some(list) => {
            let mut names = Vec::new();
            for curve in list.split(':') {
                let name = match curve {
                    "X25519" | "x25519" => "X25519",
                    "prime256v1" | "P-256" | "secp256r1" => "secp256r1",
                    "secp384r1" | "P-384" => "secp384r1",
                    other => {
                        return Err(format!(
                            "LIBPROCESS_SSL_ECDH_CURVE: curve '{other}' is not supported (auto, \
                             or a ':'-list of X25519, prime256v1, secp384r1)"
                        ));
                    }
                };
                names.push(name.to_owned());
            }
            Some(names)
        }
    };
    let verify_depth = match get("LIBPROCESS_SSL_VERIFY_DEPTH") {
        None => 4,
        Some(text) => text.trim().parse::<usize>().map_err(|_| {
            format!("LIBPROCESS_SSL_VERIFY_DEPTH={text} is not a non-negative number")
        })?,
    };
    let legacy_require = flag("LIBPROCESS_SSL_REQUIRE_CERT", false)?;
    let settings = Settings {
        downgrade: flag("LIBPROCESS_SSL_SUPPORT_DOWNGRADE", false)?,
        cert_file: get("LIBPROCESS_SSL_CERT_FILE").map(PathBuf::from),
        key_file: get("LIBPROCESS_SSL_KEY_FILE").map(PathBuf::from),
        // Mesos: the legacy REQUIRE_CERT turns server verification on as well.
        verify_server_cert: flag("LIBPROCESS_SSL_VERIFY_SERVER_CERT", false)?
            || flag("LIBPROCESS_SSL_VERIFY_CERT", false)?
            || legacy_require,
        require_client_cert: flag("LIBPROCESS_SSL_REQUIRE_CLIENT_CERT", false)? || legacy_require,
        verify_depth,
        verify_ipadd: flag("LIBPROCESS_SSL_VERIFY_IPADD", false)?,
        ca_file: get("LIBPROCESS_SSL_CA_FILE").map(PathBuf::from),
        ca_dir: get("LIBPROCESS_SSL_CA_DIR").map(PathBuf::from),
        tls12: flag("LIBPROCESS_SSL_ENABLE_TLS_V1_2", true)?,
        tls13: flag("LIBPROCESS_SSL_ENABLE_TLS_V1_3", false)?,
        curves,
    };
    if !settings.tls12 && !settings.tls13 {
        return Err(
            "LIBPROCESS_SSL_ENABLE_TLS_V1_2 and LIBPROCESS_SSL_ENABLE_TLS_V1_3 are both false: \
             no protocol is left"
                .into(),
        );
    }
    if settings.cert_file.is_some() != settings.key_file.is_some() {
        return Err(
            "LIBPROCESS_SSL_CERT_FILE and LIBPROCESS_SSL_KEY_FILE go together: set both".into(),
        );
    }
    Ok(Some(settings))
}

/// A listener's TLS: the rustls configuration and whether plain HTTP is served too.
#[derive(Clone, Debug)]
pub struct ServerTls {
    /// The configuration each handshake uses.
    pub config: Arc<ServerConfig>,
    /// Serve plain-text clients on the same port (`LIBPROCESS_SSL_SUPPORT_DOWNGRADE`).
    pub downgrade: bool,
}

/// The process' TLS, built from [`Settings`].
#[derive(Clone, Debug)]
pub struct Tls {
    /// What was asked for.
    pub settings: Settings,
    /// Outgoing connections.
    pub client: Arc<ClientConfig>,
    /// Listeners; `None` without a certificate and key (a client-only process).
    pub server: Option<ServerTls>,
}

fn provider(settings: Option<&Settings>) -> Arc<CryptoProvider> {
    let mut provider = rustls::crypto::ring::default_provider();
    if let Some(curves) = settings.and_then(|s| s.curves.as_ref()) {
        use rustls::crypto::ring::kx_group;
        provider.kx_groups = curves
            .iter()
            .map(|name| match name.as_str() {
                "X25519" => kx_group::X25519,
                "secp384r1" => kx_group::SECP384R1,
                _ => kx_group::SECP256R1,
            })
            .collect();
    }
    Arc::new(provider)
}

fn versions(settings: &Settings) -> Vec<&'static SupportedProtocolVersion> {
    let mut versions = Vec::new();
    if settings.tls13 {
        versions.push(&rustls::version::TLS13);
    }
    if settings.tls12 {
        versions.push(&rustls::version::TLS12);
    }
    versions
}

fn read_certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{what} {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{what} {}: no PEM certificate in it",
            path.display()
        ));
    }
    Ok(certs)
}

/// The trusted CAs: `LIBPROCESS_SSL_CA_FILE`, every certificate file of `…_CA_DIR`, else the
/// system's bundle, else Mozilla's roots built into the binary.
fn roots(settings: Option<&Settings>) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    let mut add = |certs: Vec<CertificateDer<'static>>, from: &Path| -> Result<(), String> {
        for cert in certs {
            store
                .add(cert)
                .map_err(|e| format!("CA certificate in {}: {e}", from.display()))?;
        }
        Ok(())
    };
    let mut configured = false;
    if let Some(file) = settings.and_then(|s| s.ca_file.as_ref()) {
        add(read_certs(file, "LIBPROCESS_SSL_CA_FILE")?, file)?;
        configured = true;
    }
    if let Some(dir) = settings.and_then(|s| s.ca_dir.as_ref()) {
        let entries = std::fs::read_dir(dir)
            .map_err(|e| format!("LIBPROCESS_SSL_CA_DIR {}: {e}", dir.display()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            // OpenSSL's hashed links and plain .pem/.crt files alike; anything that is not a
            // PEM certificate (a README, a CRL) is skipped, as OpenSSL's lookup skipped it.
            if let Ok(certs) = read_certs(&path, "CA") {
                add(certs, &path)?;
            }
        }
        configured = true;
    }
    if !configured {
        match read_certs(Path::new(SYSTEM_CA_BUNDLE), "system CA bundle") {
            Ok(certs) => {
                let (_, _) = store.add_parsable_certificates(certs);
            }
            Err(_) => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
    }
    Ok(store)
}

/// Builds the process' TLS from `settings`.
pub fn build(settings: Settings) -> Result<Tls, String> {
    let provider = provider(Some(&settings));
    let versions = versions(&settings);
    let identity = match (&settings.cert_file, &settings.key_file) {
        (Some(cert), Some(key)) => {
            let chain = read_certs(cert, "LIBPROCESS_SSL_CERT_FILE")?;
            let key = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| format!("LIBPROCESS_SSL_KEY_FILE {}: {e}", key.display()))?;
            Some((chain, key))
        }
        _ => None,
    };
    let needs_roots = settings.verify_server_cert || settings.require_client_cert;
    let roots = Arc::new(if needs_roots {
        roots(Some(&settings))?
    } else {
        RootCertStore::empty()
    });

    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| format!("TLS protocol versions: {e}"))?;
    let verifier: Arc<dyn ServerCertVerifier> = if settings.verify_server_cert {
        let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(
            roots.clone(),
            provider.clone(),
        )
        .build()
        .map_err(|e| format!("TLS server verification: {e}"))?;
        Arc::new(CheckedServer {
            inner,
            depth: settings.verify_depth,
            ipadd: settings.verify_ipadd,
        })
    } else {
        Arc::new(AnyServer(provider.clone()))
    };
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    // No ALPN here: the HTTPS connector sets it (and refuses a config that has it).
    let client = match &identity {
        Some((chain, key)) => builder
            .with_client_auth_cert(chain.clone(), key.clone_key())
            .map_err(|e| format!("LIBPROCESS_SSL_KEY_FILE does not match the certificate: {e}"))?,
        None => builder.with_no_client_auth(),
    };

    let server = match identity {
        None => None,
        Some((chain, key)) => {
            let builder = ServerConfig::builder_with_provider(provider.clone())
                .with_protocol_versions(&versions)
                .map_err(|e| format!("TLS protocol versions: {e}"))?;
            let builder = if settings.require_client_cert {
                let inner = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    roots.clone(),
                    provider.clone(),
                )
                .build()
                .map_err(|e| {
                    format!(
                        "LIBPROCESS_SSL_REQUIRE_CLIENT_CERT needs a CA (LIBPROCESS_SSL_CA_FILE or \
                         LIBPROCESS_SSL_CA_DIR): {e}"
                    )
                })?;
                builder.with_client_cert_verifier(Arc::new(CheckedClient {
                    inner,
                    depth: settings.verify_depth,
                }))
            } else {
                builder.with_no_client_auth()
            };
            let mut config = builder.with_single_cert(chain, key).map_err(|e| {
                format!("LIBPROCESS_SSL_CERT_FILE / LIBPROCESS_SSL_KEY_FILE cannot be used: {e}")
            })?;
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            Some(ServerTls {
                config: Arc::new(config),
                downgrade: settings.downgrade,
            })
        }
    };
    Ok(Tls {
        settings,
        client: Arc::new(client),
        server,
    })
}

/// A listener's TLS from a certificate and key file alone (Marathon's `--ssl_cert_file` and
/// `--ssl_key_file`): TLS 1.2 and 1.3, no client certificates, no plain text.
pub fn server_from_files(cert: &Path, key: &Path) -> Result<ServerTls, String> {
    let chain = read_certs(cert, "certificate")?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("private key {}: {e}", key.display()))?;
    let mut config = ServerConfig::builder_with_provider(provider(None))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS protocol versions: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("the certificate and key cannot be used: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(ServerTls {
        config: Arc::new(config),
        downgrade: false,
    })
}

static PROCESS: OnceLock<Result<Option<Arc<Tls>>, String>> = OnceLock::new();

/// The process' TLS from its environment, parsed and built once. Daemons call it first and
/// refuse to start on an error.
pub fn init() -> Result<Option<Arc<Tls>>, String> {
    PROCESS
        .get_or_init(|| {
            let vars: Vec<(String, String)> = std::env::vars().collect();
            match settings_from(&vars)? {
                None => Ok(None),
                Some(settings) => build(settings).map(|tls| Some(Arc::new(tls))),
            }
        })
        .clone()
}

/// The process' TLS if it is on (and valid: [`init`] reports the error).
pub fn current() -> Option<Arc<Tls>> {
    init().ok().flatten()
}

/// A daemon's listener TLS: `None` when TLS is off, an error when it is on without the
/// certificate and key every listener needs.
pub fn server() -> Result<Option<ServerTls>, String> {
    match init()? {
        None => Ok(None),
        Some(tls) => match &tls.server {
            Some(server) => Ok(Some(server.clone())),
            None => Err(
                "LIBPROCESS_SSL_ENABLED is true but LIBPROCESS_SSL_CERT_FILE and \
                 LIBPROCESS_SSL_KEY_FILE are not set: a daemon needs its certificate and key"
                    .into(),
            ),
        },
    }
}

/// `https` when the process speaks TLS, else `http`: the scheme of the URLs a daemon builds to
/// its peers (agent → master, executor → agent, scheduler → master).
pub fn scheme() -> &'static str {
    if current().is_some() { "https" } else { "http" }
}

/// Whether a client that failed its handshake may retry in plain text.
pub fn client_downgrade() -> bool {
    current().is_some_and(|tls| tls.settings.downgrade)
}

/// The configuration of outgoing connections: the process' when TLS is on; otherwise one that
/// verifies servers against the system's CAs, for `https://` URLs given explicitly (the CLI
/// pointed at an HTTPS Marathon).
pub fn client_config() -> Arc<ClientConfig> {
    if let Some(tls) = current() {
        return tls.client.clone();
    }
    static DEFAULT: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    DEFAULT
        .get_or_init(|| {
            let roots = roots(None).unwrap_or_else(|_| RootCertStore::empty());
            let config = ClientConfig::builder_with_provider(provider(None))
                .with_safe_default_protocol_versions()
                .map(|b| b.with_root_certificates(roots).with_no_client_auth())
                .unwrap_or_else(|_| {
                    // The ring provider supports the default versions; unreachable in practice.
                    ClientConfig::builder_with_provider(provider(None))
                        .with_protocol_versions(&[&rustls::version::TLS12])
                        .expect("TLS 1.2 is supported by ring")
                        .with_root_certificates(RootCertStore::empty())
                        .with_no_client_auth()
                });
            Arc::new(config)
        })
        .clone()
}

/// Server verification with Mesos' extra rules on top of WebPKI's: at most `depth`
/// intermediates, and no match against an IP address unless `LIBPROCESS_SSL_VERIFY_IPADD`.
#[derive(Debug)]
struct CheckedServer {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    depth: usize,
    ipadd: bool,
}

impl ServerCertVerifier for CheckedServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if intermediates.len() > self.depth {
            return Err(rustls::Error::General(format!(
                "the certificate chain has {} intermediates, more than LIBPROCESS_SSL_VERIFY_DEPTH={}",
                intermediates.len(),
                self.depth
            )));
        }
        if matches!(server_name, ServerName::IpAddress(_)) && !self.ipadd {
            return Err(rustls::Error::General(
                "the server was reached by IP address and LIBPROCESS_SSL_VERIFY_IPADD is false, \
                 so its certificate cannot be matched; use its hostname or set \
                 LIBPROCESS_SSL_VERIFY_IPADD=true"
                    .into(),
            ));
        }
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Mesos' default client side (`LIBPROCESS_SSL_VERIFY_SERVER_CERT=false`): a server must
/// present a certificate and prove it holds its key, but the certificate itself is not judged.
#[derive(Debug)]
struct AnyServer(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Client-certificate verification with `LIBPROCESS_SSL_VERIFY_DEPTH` on top of WebPKI's.
#[derive(Debug)]
struct CheckedClient {
    inner: Arc<dyn ClientCertVerifier>,
    depth: usize,
}

impl ClientCertVerifier for CheckedClient {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if intermediates.len() > self.depth {
            return Err(rustls::Error::General(format!(
                "the client's certificate chain has {} intermediates, more than \
                 LIBPROCESS_SSL_VERIFY_DEPTH={}",
                intermediates.len(),
                self.depth
            )));
        }
        self.inner
            .verify_client_cert(end_entity, intermediates, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn tls_is_off_unless_enabled() {
        assert_eq!(settings_from(&vars(&[])).unwrap(), None);
        assert_eq!(
            settings_from(&vars(&[("LIBPROCESS_SSL_ENABLED", "false")])).unwrap(),
            None
        );
        assert_eq!(
            settings_from(&vars(&[("LIBPROCESS_SSL_ENABLED", "0")])).unwrap(),
            None
        );
    }

    #[test]
    fn mesos_defaults_and_legacy_names() {
        let s = settings_from(&vars(&[("LIBPROCESS_SSL_ENABLED", "1")]))
            .unwrap()
            .unwrap();
        assert!(!s.downgrade && !s.verify_server_cert && !s.require_client_cert);
        assert!(s.tls12 && !s.tls13, "only TLS 1.2 by default, as Mesos");
        assert_eq!(s.verify_depth, 4);
        let s = settings_from(&vars(&[
            ("LIBPROCESS_SSL_ENABLED", "true"),
            ("LIBPROCESS_SSL_REQUIRE_CERT", "true"),
        ]))
        .unwrap()
        .unwrap();
        assert!(s.require_client_cert && s.verify_server_cert);
        let s = settings_from(&vars(&[
            ("LIBPROCESS_SSL_ENABLED", "true"),
            ("LIBPROCESS_SSL_VERIFY_CERT", "true"),
        ]))
        .unwrap()
        .unwrap();
        assert!(s.verify_server_cert && !s.require_client_cert);
    }

    #[test]
    fn what_cannot_be_honoured_is_refused_by_name() {
        let refused = |pairs: &[(&str, &str)], needle: &str| {
            let mut all = vec![("LIBPROCESS_SSL_ENABLED", "true")];
            all.extend_from_slice(pairs);
            let error = settings_from(&vars(&all)).unwrap_err();
            assert!(error.contains(needle), "{error}");
        };
        refused(
            &[("LIBPROCESS_SSL_CIPHERS", "RC4-SHA")],
            "LIBPROCESS_SSL_CIPHERS",
        );
        refused(&[("LIBPROCESS_SSL_ENABLE_TLS_V1_0", "true")], "TLS_V1_0");
        refused(&[("LIBPROCESS_SSL_ENABLE_SSL_V3", "1")], "SSL_V3");
        refused(
            &[("LIBPROCESS_SSL_HOSTNAME_VALIDATION_SCHEME", "legacy")],
            "legacy",
        );
        refused(&[("LIBPROCESS_SSL_ECDH_CURVE", "brainpool")], "brainpool");
        refused(
            &[("LIBPROCESS_SSL_ENABLE_DOWNGRADE", "true")],
            "ENABLE_DOWNGRADE",
        );
        refused(&[("LIBPROCESS_SSL_VERIFY_DEPTH", "-1")], "VERIFY_DEPTH");
        refused(&[("LIBPROCESS_SSL_ENABLED", "yes")], "not a boolean");
        refused(
            &[
                ("LIBPROCESS_SSL_ENABLE_TLS_V1_2", "false"),
                ("LIBPROCESS_SSL_ENABLE_TLS_V1_3", "false"),
            ],
            "no protocol",
        );
        refused(&[("LIBPROCESS_SSL_CERT_FILE", "/x.pem")], "go together");
        refused(&[("SSL_ENABLED", "true")], "pre-1.0");
        // Unknown names are refused even when TLS is off: a typo must not pass silently.
        let error = settings_from(&vars(&[("LIBPROCESS_SSL_ENABLD", "true")])).unwrap_err();
        assert!(error.contains("LIBPROCESS_SSL_ENABLD"), "{error}");
    }

    #[test]
    fn curves_map_to_rustls_groups() {
        let s = settings_from(&vars(&[
            ("LIBPROCESS_SSL_ENABLED", "true"),
            ("LIBPROCESS_SSL_ECDH_CURVE", "prime256v1:X25519"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(s.curves, Some(vec!["secp256r1".into(), "X25519".into()]));
    }

    #[test]
    fn files_that_do_not_parse_are_named() {
        let dir = std::env::temp_dir().join(format!("drover-tls-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cert = dir.join("cert.pem");
        std::fs::write(&cert, "not a certificate").unwrap();
        let settings = settings_from(&vars(&[
            ("LIBPROCESS_SSL_ENABLED", "true"),
            ("LIBPROCESS_SSL_CERT_FILE", cert.to_str().unwrap()),
            ("LIBPROCESS_SSL_KEY_FILE", "/nonexistent/key.pem"),
        ]))
        .unwrap()
        .unwrap();
        let error = build(settings).unwrap_err();
        assert!(error.contains("LIBPROCESS_SSL_CERT_FILE"), "{error}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
