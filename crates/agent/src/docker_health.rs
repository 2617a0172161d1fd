//! Health checks of Docker tasks, run by the agent's supervisor as the command executor runs
//! them for command tasks: MESOS_HTTP and MESOS_TCP probes reach the container in its own
//! network namespace (its bridge address, or the host's loopback on the host network), a
//! COMMAND probe runs inside the container (`docker exec`). The timing and Mesos' rules (grace
//! period, consecutive failures) are the command executor's own (`drover_executor::health`).

use std::time::Duration;

use drover_executor::health::{Outcome, Probe, from_health_check};
use drover_wire::v1;
use tokio::sync::mpsc;

use crate::containerizer::docker::client::DockerClient;

/// Starts probing `name` for `check`; its outcomes arrive on the receiver until the handle is
/// aborted. `None` when the check names nothing runnable.
pub fn spawn(
    client: DockerClient,
    name: String,
    check: &v1::HealthCheck,
    env: Vec<String>,
) -> Option<(tokio::task::JoinHandle<()>, mpsc::Receiver<Outcome>)> {
    let (probe, timing) = from_health_check(check)?;
    let (tx, rx) = mpsc::channel(8);
    let handle = tokio::spawn(async move {
        tokio::time::sleep(timing.delay).await;
        let mut address: Option<String> = None;
        loop {
            if address.is_none() && !matches!(probe, Probe::Command(_)) {
                address = client.probe_address(&name).await.ok();
            }
            let outcome = run(
                &client,
                &name,
                &probe,
                address.as_deref(),
                timing.timeout,
                &env,
            )
            .await;
            if tx.send(outcome).await.is_err() {
                return;
            }
            tokio::time::sleep(timing.interval).await;
        }
    });
    Some((handle, rx))
}

async fn run(
    client: &DockerClient,
    name: &str,
    probe: &Probe,
    address: Option<&str>,
    limit: Duration,
    env: &[String],
) -> Outcome {
    match probe {
        Probe::Tcp { port } => Outcome::Tcp(match address {
            Some(ip) => {
                tokio::time::timeout(limit, tokio::net::TcpStream::connect((ip, *port as u16)))
                    .await
                    .ok()
                    .map(|r| r.is_ok())
            }
            None => Some(false),
        }),
        Probe::Http { port, path, https } => Outcome::Http(match address {
            Some(ip) => http_status(ip, *port, path, *https, limit).await,
            None => None,
        }),
        Probe::Command(command) => {
            let argv = if command.shell.unwrap_or(true) {
                vec![
                    "/bin/sh".to_owned(),
                    "-c".to_owned(),
                    command.value.clone().unwrap_or_default(),
                ]
            } else if command.arguments.is_empty() {
                command.value.iter().cloned().collect()
            } else {
                command.arguments.clone()
            };
            let mut env = env.to_vec();
            if let Some(extra) = &command.environment {
                env.extend(
                    extra
                        .variables
                        .iter()
                        .map(|v| format!("{}={}", v.name, v.value.clone().unwrap_or_default())),
                );
            }
            Outcome::Command(
                client
                    .exec(name, argv, env, limit)
                    .await
                    .and_then(|code| i32::try_from(code).ok()),
            )
        }
    }
}

/// The status of `GET http://ip:port/path` (redirects not followed: a 3xx is an answer, as
/// for Mesos' checker), `None` on failure or timeout.
async fn http_status(ip: &str, port: u32, path: &str, https: bool, limit: Duration) -> Option<u16> {
    // HTTPS accepts any certificate, as Mesos' checker did.
    let client = reqwest::Client::builder()
        .timeout(limit)
        .danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .ok()?;
    let path = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    };
    let host = if ip.contains(':') {
        format!("[{ip}]")
    } else {
        ip.to_owned()
    };
    let response = client
        .get(format!(
            "{}://{host}:{port}{path}",
            if https { "https" } else { "http" }
        ))
        .send()
        .await
        .ok()?;
    Some(response.status().as_u16())
}
