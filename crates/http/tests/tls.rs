//! Issue 14 item 4 at the HTTP layer, on real sockets: a listener configured from Mesos'
//! `LIBPROCESS_SSL_*` settings serves TLS clients and closes plain-text ones (or serves them
//! too with downgrade support), outlives garbage and stalled handshakes, demands client
//! certificates when told to, and the client verifies servers (name, CA, IP rule) or retries
//! in plain text with downgrade.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use drover_http::Client;
use drover_http::guard::Limits;
use drover_http::tls::{self, Settings};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};

/// A CA, and a server/client certificate it signed (for `localhost` and 127.0.0.1).
struct Pki {
    _dir: tempfile::TempDir,
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

fn new_pki() -> Pki {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca_key = KeyPair::generate().expect("key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Drover test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = ca_params.self_signed(&ca_key).expect("CA");
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .expect("params");
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let cert = params.signed_by(&key, &ca, &ca_key).expect("cert");
    let write = |name: &str, text: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write pem");
        path
    };
    Pki {
        ca: write("ca.pem", ca.pem()),
        cert: write("cert.pem", cert.pem()),
        key: write("key.pem", key.serialize_pem()),
        _dir: dir,
    }
}

fn settings(pki: &Pki) -> Settings {
    Settings {
        downgrade: false,
        cert_file: Some(pki.cert.clone()),
        key_file: Some(pki.key.clone()),
        verify_server_cert: true,
        require_client_cert: false,
        verify_depth: 4,
        verify_ipadd: false,
        ca_file: Some(pki.ca.clone()),
        ca_dir: None,
        tls12: true,
        tls13: false,
        curves: None,
    }
}

/// Serves `/ping` → `pong` on a free loopback port with `tls`; returns the port.
async fn serve(tls: Option<tls::ServerTls>, limits: Limits) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("address").port();
    let app = axum::Router::new().route("/ping", axum::routing::get(|| async { "pong" }));
    tokio::spawn(drover_http::conn::serve_tcp(
        listener,
        tls,
        limits,
        app,
        std::future::pending(),
    ));
    port
}

/// A plain-text GET on its own connection, off the runtime: what came back before the close.
async fn plain_get(port: u16) -> String {
    tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        stream
            .write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .expect("write");
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        String::from_utf8_lossy(&answer).into_owned()
    })
    .await
    .expect("plain get")
}

#[tokio::test]
async fn tls_clients_are_served_and_plain_text_is_closed() {
    let pki = new_pki();
    let tls = tls::build(settings(&pki)).expect("tls");
    let port = serve(tls.server.clone(), Limits::default()).await;
    let client = Client::with_tls(tls.client.clone(), false);
    let url = format!("https://localhost:{port}/ping");
    let answer = client.get(&url, &[]).await.expect("https get");
    assert_eq!(
        (answer.status.as_u16(), answer.text()),
        (200, "pong".into())
    );

    // Mesos without downgrade: a plain-text client gets no HTTP answer at all.
    let plain = plain_get(port).await;
    assert!(
        !plain.contains("HTTP/1.1"),
        "plain text was answered: {plain}"
    );
    // Garbage in place of a handshake neither crashes nor blocks the listener.
    tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let _ = stream.write_all(&[0x16, 0x03, 0x01, 0xff, 0xff, 1, 2, 3, 4, 5]);
    })
    .await
    .expect("garbage");
    let answer = client
        .get(&url, &[])
        .await
        .expect("https get after garbage");
    assert_eq!(answer.status.as_u16(), 200);

    // VERIFY_IPADD=false (Mesos' default): a server reached by IP cannot be verified.
    let error = client
        .get(&format!("https://127.0.0.1:{port}/ping"), &[])
        .await
        .expect_err("an IP is not matched without VERIFY_IPADD");
    assert!(
        error.to_string().contains("LIBPROCESS_SSL_VERIFY_IPADD"),
        "{error}"
    );
    let mut by_ip = settings(&pki);
    by_ip.verify_ipadd = true;
    let by_ip = tls::build(by_ip).expect("tls");
    let answer = Client::with_tls(by_ip.client.clone(), false)
        .get(&format!("https://127.0.0.1:{port}/ping"), &[])
        .await
        .expect("an IP SAN matches with VERIFY_IPADD");
    assert_eq!(answer.status.as_u16(), 200);

    // A client that trusts another CA refuses this server.
    let other = new_pki();
    let stranger = tls::build(settings(&other)).expect("tls");
    let error = Client::with_tls(stranger.client.clone(), false)
        .get(&url, &[])
        .await
        .expect_err("an unknown CA is refused");
    assert!(
        error.to_string().to_lowercase().contains("certificate"),
        "{error}"
    );
    // Without VERIFY_SERVER_CERT (Mesos' default) the same client takes any certificate.
    let mut lax = settings(&other);
    lax.verify_server_cert = false;
    let lax = tls::build(lax).expect("tls");
    let answer = Client::with_tls(lax.client.clone(), false)
        .get(&url, &[])
        .await
        .expect("no verification");
    assert_eq!(answer.status.as_u16(), 200);
}

#[tokio::test]
async fn downgrade_serves_both_on_one_port_and_clients_fall_back() {
    let pki = new_pki();
    let mut with_downgrade = settings(&pki);
    with_downgrade.downgrade = true;
    let tls = tls::build(with_downgrade).expect("tls");
    let port = serve(tls.server.clone(), Limits::default()).await;
    let plain = plain_get(port).await;
    assert!(plain.starts_with("HTTP/1.1 200"), "{plain}");
    assert!(plain.ends_with("pong"), "{plain}");
    let answer = Client::with_tls(tls.client.clone(), false)
        .get(&format!("https://localhost:{port}/ping"), &[])
        .await
        .expect("https on the same port");
    assert_eq!(answer.status.as_u16(), 200);

    // The client side: an https URL to a plain-text server works only with downgrade.
    let plain_port = serve(None, Limits::default()).await;
    let url = format!("https://localhost:{plain_port}/ping");
    Client::with_tls(tls.client.clone(), false)
        .get(&url, &[])
        .await
        .expect_err("no TLS server there");
    let answer = Client::with_tls(tls.client.clone(), true)
        .get(&url, &[])
        .await
        .expect("retried in plain text");
    assert_eq!(answer.text(), "pong");
}

#[tokio::test]
async fn required_client_certificates_are_demanded() {
    let pki = new_pki();
    let mut strict = settings(&pki);
    strict.require_client_cert = true;
    let tls = tls::build(strict).expect("tls");
    let port = serve(tls.server.clone(), Limits::default()).await;
    let url = format!("https://localhost:{port}/ping");
    let answer = Client::with_tls(tls.client.clone(), false)
        .get(&url, &[])
        .await
        .expect("a client with a certificate from the CA");
    assert_eq!(answer.status.as_u16(), 200);
    // A client-only process (no certificate of its own) is refused in the handshake.
    let mut anonymous = settings(&pki);
    anonymous.cert_file = None;
    anonymous.key_file = None;
    let anonymous = tls::build(anonymous).expect("tls");
    assert!(anonymous.server.is_none());
    Client::with_tls(anonymous.client.clone(), false)
        .get(&url, &[])
        .await
        .expect_err("no client certificate");
}

#[tokio::test]
async fn a_stalled_handshake_is_closed_at_its_deadline() {
    let pki = new_pki();
    let tls = tls::build(settings(&pki)).expect("tls");
    let limits = Limits {
        header_read_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let port = serve(tls.server.clone(), limits).await;
    let closed = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        // Half a ClientHello, then nothing: the server must give up, not wait forever.
        stream.write_all(&[0x16, 0x03, 0x01]).expect("write");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        let mut buf = [0u8; 64];
        matches!(stream.read(&mut buf), Ok(0) | Err(_))
    })
    .await
    .expect("stalled client");
    assert!(closed, "the stalled handshake was not closed");
    // Meanwhile the listener serves others.
    let answer = Client::with_tls(tls.client.clone(), false)
        .get(&format!("https://localhost:{port}/ping"), &[])
        .await
        .expect("https get");
    assert_eq!(answer.status.as_u16(), 200);
}
