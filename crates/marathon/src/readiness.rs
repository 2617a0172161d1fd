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
