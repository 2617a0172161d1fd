//! The readiness prober: makes the HTTP(S) requests the scheduler's
//! [`Effect::ReadinessProbe`](drover_core::marathon::scheduler::Effect::ReadinessProbe)s ask for
//! and feeds each outcome back as an input. It decides nothing: when to probe and what a status
//! means are the core's. Bounded: a queue of [`QUEUE_MAX`] probes (a full queue drops the probe;
//! the core asks again after its timeout and interval), at most [`CONCURRENCY`] in flight, each
//! limited by its check's timeout, bodies read up to the core's `BODY_MAX`.

use std::sync::Arc;
use std::time::Duration;

use drover_core::marathon::readiness::{BODY_MAX, Probe, ProbeOutcome};
use drover_core::marathon::scheduler::Input;
use tokio::sync::{Semaphore, mpsc};

use crate::driver::Msg;

/// Probes waiting to be made.
pub const QUEUE_MAX: usize = 1024;
/// Probes in flight at once.
pub const CONCURRENCY: usize = 64;

/// Starts the prober; results go to `inbox`.
pub fn spawn(inbox: mpsc::Sender<Msg>) -> mpsc::Sender<Probe> {
    let (tx, mut rx) = mpsc::channel::<Probe>(QUEUE_MAX);
    // Marathon probed HTTPS endpoints without verifying their certificates (tasks mostly
    // serve self-signed ones); rustls, no OpenSSL.
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .build();
    let client = match client {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "readiness prober: no HTTP client; readiness checks will never pass");
            return tx;
        }
    };
    let slots = Arc::new(Semaphore::new(CONCURRENCY));
    tokio::spawn(async move {
        while let Some(probe) = rx.recv().await {
            let Ok(permit) = slots.clone().acquire_owned().await else {
                return;
            };
            let (client, inbox) = (client.clone(), inbox.clone());
            tokio::spawn(async move {
                let timeout = Duration::from_millis(probe.timeout_ms.max(1));
                let outcome = tokio::time::timeout(timeout, get(&client, &probe.url))
                    .await
                    .unwrap_or_else(|_| {
                        ProbeOutcome::Failed(format!("no answer within {timeout:?}"))
                    });
                drop(permit);
                let _ = inbox
                    .send(Msg::Input(Input::ReadinessResult { probe, outcome }))
                    .await;
            });
        }
    });
    tx
}

async fn get(client: &reqwest::Client, url: &str) -> ProbeOutcome {
    let mut response = match client.get(url).send().await {
        Ok(r) => r,
        Err(e) => return ProbeOutcome::Failed(error_chain(&e)),
    };
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut body = Vec::new();
    while body.len() < BODY_MAX {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    body.truncate(BODY_MAX);
    ProbeOutcome::Response {
        status,
        content_type,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A TLS server with a fresh self-signed certificate that answers every request with
    /// `503` and a body; returns its port.
    async fn tls_server() -> u16 {
        let key = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let private =
            tokio_rustls::rustls::pki_types::PrivateKeyDer::try_from(key.key_pair.serialize_der())
                .unwrap();
        let config = tokio_rustls::rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![key.cert.der().clone()], private)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let mut buf = vec![0u8; 4096];
                    let _ = tls.read(&mut buf).await;
                    let _ = tls
                        .write_all(
                            b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n\
                              Content-Length: 7\r\nConnection: close\r\n\r\nwarming",
                        )
                        .await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        port
    }

    #[tokio::test]
    async fn https_probes_accept_a_self_signed_certificate_and_report_what_came_back() {
        let port = tls_server().await;
        let (inbox, mut results) = mpsc::channel(4);
        let probes = spawn(inbox);
        let probe = Probe {
            instance_id: "i".into(),
            task_id: "t".into(),
            check_index: 0,
            url: format!("https://127.0.0.1:{port}/ready"),
            timeout_ms: 20_000,
        };
        probes.send(probe.clone()).await.unwrap();
        let Some(Msg::Input(Input::ReadinessResult {
            probe: answered,
            outcome,
        })) = results.recv().await
        else {
            panic!("a readiness result");
        };
        assert_eq!(answered, probe);
        assert_eq!(
            outcome,
            ProbeOutcome::Response {
                status: 503,
                content_type: Some("text/plain".into()),
                body: "warming".into(),
            }
        );
        // Nothing listening: a failure in words, not a hang.
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dead = closed.local_addr().unwrap().port();
        drop(closed);
        probes
            .send(Probe {
                url: format!("http://127.0.0.1:{dead}/"),
                ..probe
            })
            .await
            .unwrap();
        let Some(Msg::Input(Input::ReadinessResult { outcome, .. })) = results.recv().await else {
            panic!("a readiness result");
        };
        assert!(matches!(outcome, ProbeOutcome::Failed(_)), "{outcome:?}");
    }
}
