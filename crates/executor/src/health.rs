//! Health checks and generalized checks (spec §8): probes (HTTP, TCP, COMMAND) run on a timer
//! by a background task, and the pure rules that turn results into status updates and kills.

use std::time::Duration;

use drover_wire::v1;
use tokio::sync::mpsc;

/// What a probe looks at.
#[derive(Debug, Clone)]
pub enum Probe {
    /// `sh -c <command>` (or argv), healthy on exit 0.
    Command(v1::CommandInfo),
    /// GET `http(s)://127.0.0.1:<port><path>`, healthy on 200–399. HTTPS (a health check's
    /// `scheme: https`, Marathon's `MESOS_HTTPS`/`HTTPS`) accepts any certificate, as Mesos'
    /// checker (curl `-k`) did: tasks serve self-signed certificates.
    Http {
        /// Port on the loopback address.
        port: u32,
        /// Path requested.
        path: String,
        /// Speak TLS.
        https: bool,
    },
    /// Connect to 127.0.0.1:port.
    Tcp { port: u32 },
}

/// One probe result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit code of a command probe (`None`: timed out or could not run).
    Command(Option<i32>),
    /// HTTP status (`None`: timed out or failed).
    Http(Option<u16>),
    /// Whether the TCP connect succeeded (`None`: timed out).
    Tcp(Option<bool>),
}

impl Outcome {
    /// Healthy by Mesos' rules.
    pub fn healthy(self) -> bool {
        match self {
            Outcome::Command(code) => code == Some(0),
            Outcome::Http(code) => code.is_some_and(|c| (200..400).contains(&c)),
            Outcome::Tcp(ok) => ok == Some(true),
        }
    }

    /// What the probe saw, in words, for the status message of a failed health check.
    pub fn describe(self) -> String {
        match self {
            Outcome::Command(Some(code)) => format!("command exited with status {code}"),
            Outcome::Command(None) => "command timed out or could not run".to_owned(),
            Outcome::Http(Some(code)) => format!("HTTP status {code}"),
            Outcome::Http(None) => "no HTTP answer (refused, failed or timed out)".to_owned(),
            Outcome::Tcp(Some(true)) => "TCP connection accepted".to_owned(),
            Outcome::Tcp(Some(false)) => "TCP connection refused".to_owned(),
            Outcome::Tcp(None) => "TCP connect timed out".to_owned(),
        }
    }

    /// The `CheckStatusInfo` a check reports.
    pub fn check_status(self) -> v1::CheckStatusInfo {
        let mut s = v1::CheckStatusInfo::default();
        match self {
            Outcome::Command(code) => {
                s.r#type = Some(v1::check_info::Type::Command as i32);
                s.command = Some(v1::check_status_info::Command { exit_code: code });
            }
            Outcome::Http(code) => {
                s.r#type = Some(v1::check_info::Type::Http as i32);
                s.http = Some(v1::check_status_info::Http {
                    status_code: code.map(u32::from),
                });
            }
            Outcome::Tcp(ok) => {
                s.r#type = Some(v1::check_info::Type::Tcp as i32);
                s.tcp = Some(v1::check_status_info::Tcp { succeeded: ok });
            }
        }
        s
    }
}

/// Timing of a probe, with Mesos' defaults filled in.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Before the first probe (default 15 s).
    pub delay: Duration,
    /// Between probes (default 10 s).
    pub interval: Duration,
    /// Per probe (default 20 s).
    pub timeout: Duration,
}

fn secs(value: Option<f64>, default: f64) -> Duration {
    Duration::from_secs_f64(value.filter(|v| *v >= 0.0).unwrap_or(default))
}

/// The probe and timing of a `HealthCheck`; `None` if it names nothing runnable.
pub fn from_health_check(hc: &v1::HealthCheck) -> Option<(Probe, Timing)> {
    let timing = Timing {
        delay: secs(hc.delay_seconds, 15.0),
        interval: secs(hc.interval_seconds, 10.0),
        timeout: secs(hc.timeout_seconds, 20.0),
    };
    let probe = if let Some(http) = &hc.http {
        Probe::Http {
            port: http.port,
            path: http.path.clone().unwrap_or_else(|| "/".to_owned()),
            https: http.scheme.as_deref() == Some("https"),
        }
    } else if let Some(tcp) = &hc.tcp {
        Probe::Tcp { port: tcp.port }
    } else {
        Probe::Command(hc.command.clone()?)
    };
    Some((probe, timing))
}

/// The probe and timing of a `CheckInfo`.
pub fn from_check(check: &v1::CheckInfo) -> Option<(Probe, Timing)> {
    let timing = Timing {
        delay: secs(check.delay_seconds, 15.0),
        interval: secs(check.interval_seconds, 10.0),
        timeout: secs(check.timeout_seconds, 20.0),
    };
    let probe = if let Some(http) = &check.http {
        // A Mesos `CheckInfo.Http` has no scheme: always plain HTTP.
        Probe::Http {
            port: http.port,
            path: http.path.clone().unwrap_or_else(|| "/".to_owned()),
            https: false,
        }
    } else if let Some(tcp) = &check.tcp {
        Probe::Tcp { port: tcp.port }
    } else {
        Probe::Command(check.command.as_ref()?.command.clone())
    };
    Some((probe, timing))
}

/// Runs `probe` on its schedule until the receiver is dropped, sending `(tag, outcome)`.
pub fn spawn_prober(
    tag: &'static str,
    probe: Probe,
    timing: Timing,
    env: Vec<(String, String)>,
    tx: mpsc::Sender<(&'static str, Outcome)>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        tokio::time::sleep(timing.delay).await;
        loop {
            let outcome = run_probe(&probe, timing.timeout, &env).await;
            if tx.send((tag, outcome)).await.is_err() {
                return;
            }
            tokio::time::sleep(timing.interval).await;
        }
    })
}

async fn run_probe(probe: &Probe, timeout: Duration, env: &[(String, String)]) -> Outcome {
    match probe {
        Probe::Tcp { port } => {
            let connect = tokio::net::TcpStream::connect(("127.0.0.1", *port as u16));
            Outcome::Tcp(
                tokio::time::timeout(timeout, connect)
                    .await
                    .ok()
                    .map(|r| r.is_ok()),
            )
        }
        Probe::Http { port, path, https } => {
            let get = http_get(*port, path, *https);
            Outcome::Http(tokio::time::timeout(timeout, get).await.ok().flatten())
        }
        Probe::Command(command) => {
            let mut cmd = crate::task::command(command, env);
            cmd.kill_on_drop(true)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
            let run = async { cmd.status().await.ok().and_then(|s| s.code()) };
            Outcome::Command(tokio::time::timeout(timeout, run).await.ok().flatten())
        }
    }
}

async fn http_get(port: u32, path: &str, https: bool) -> Option<u16> {
    // Redirects are not followed: a 3xx is an answer (200–399 is healthy), as for Mesos.
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .ok()?;
    let path = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    };
    let scheme = if https { "https" } else { "http" };
    let response = client
        .get(format!("{scheme}://127.0.0.1:{port}{path}"))
        .send()
        .await
        .ok()?;
    let status = response.status().as_u16();
    // Drain (bounded by the probe's timeout) so the connection closes cleanly.
    let _ = response.bytes().await;
    Some(status)
}

/// The empty `check_status` every update of a task with a check carries until a first
/// result exists.
pub fn check_placeholder(probe: &Probe) -> v1::CheckStatusInfo {
    let mut s = match probe {
        Probe::Command(_) => Outcome::Command(None),
        Probe::Http { .. } => Outcome::Http(None),
        Probe::Tcp { .. } => Outcome::Tcp(None),
    }
    .check_status();
    s.command = s.command.map(|_| Default::default());
    s.http = s.http.map(|_| Default::default());
    s.tcp = s.tcp.map(|_| Default::default());
    s
}

/// A TASK_RUNNING update one probe result asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeReport {
    /// `REASON_TASK_CHECK_STATUS_UPDATED` or `REASON_TASK_HEALTH_CHECK_STATUS_UPDATED`.
    pub reason: v1::task_status::Reason,
    /// The executor's words.
    pub message: String,
    /// The new check status (check results only).
    pub check_status: Option<v1::CheckStatusInfo>,
    /// The new health (health results only).
    pub healthy: Option<bool>,
    /// The health check failed too often in a row: the task must be killed after this update.
    pub kill: bool,
}

impl ProbeReport {
    /// Writes the report's check status or health into the update it asks for.
    pub fn apply(&self, status: &mut v1::TaskStatus) {
        if self.check_status.is_some() {
            status.check_status = self.check_status;
        }
        if self.healthy.is_some() {
            status.healthy = self.healthy;
        }
    }
}

/// What result `outcome` of the `"check"` or `"health"` prober means for a task whose last
/// check status was `last_check` and whose health rules are `health`; `None`: nothing to send.
pub fn probe_report(
    tag: &str,
    outcome: Outcome,
    last_check: Option<&v1::CheckStatusInfo>,
    health: Option<&mut HealthState>,
) -> Option<ProbeReport> {
    use drover_core::task::emission::{Trigger, emission};
    if tag == "check" {
        let status = outcome.check_status();
        if last_check == Some(&status) {
            return None;
        }
        let row = emission(Trigger::CheckStatusChanged);
        return Some(ProbeReport {
            reason: row.reason,
            message: row.message.to_owned(),
            check_status: Some(status),
            healthy: None,
            kill: false,
        });
    }
    let state = health?;
    let action = state.observe(outcome.healthy());
    // The row gives the reason; the executor's words say which way health went.
    let reason = emission(Trigger::HealthCheckStatusChanged).reason;
    let (message, healthy, kill) = match action {
        HealthAction::None => return None,
        HealthAction::Report(true) => ("Task is healthy".to_owned(), true, false),
        HealthAction::Report(false) => (
            format!("Health check failed: {}", outcome.describe()),
            false,
            false,
        ),
        HealthAction::ReportAndKill => (
            format!(
                "Health check failed {} times in a row ({}); killing the task",
                state.consecutive_failures(),
                outcome.describe()
            ),
            false,
            true,
        ),
    };
    Some(ProbeReport {
        reason,
        message,
        check_status: None,
        healthy: Some(healthy),
        kill,
    })
}

/// Mesos' `HealthChecker` rules, without timers.
#[derive(Debug, Clone)]
pub struct HealthState {
    grace: Duration,
    max_failures: u32,
    started: tokio::time::Instant,
    succeeded_once: bool,
    consecutive_failures: u32,
    last: Option<bool>,
}

/// What a health result asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthAction {
    /// Nothing to report.
    None,
    /// Send a RUNNING update with this `healthy`.
    Report(bool),
    /// Report unhealthy and kill the task (consecutive failures reached).
    ReportAndKill,
}

impl HealthState {
    /// Rules of a `HealthCheck` (grace default 10 s, 3 consecutive failures).
    pub fn new(hc: &v1::HealthCheck) -> Self {
        Self {
            grace: secs(hc.grace_period_seconds, 10.0),
            max_failures: hc.consecutive_failures.unwrap_or(3).max(1),
            started: tokio::time::Instant::now(),
            succeeded_once: false,
            consecutive_failures: 0,
            last: None,
        }
    }

    /// Failures since the last success.
    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }

    /// Decides on one probe result.
    pub fn observe(&mut self, healthy: bool) -> HealthAction {
        if healthy {
            self.succeeded_once = true;
            self.consecutive_failures = 0;
            let changed = self.last != Some(true);
            self.last = Some(true);
            return if changed {
                HealthAction::Report(true)
            } else {
                HealthAction::None
            };
        }
        // Failures while initializing within the grace period do not count.
        if !self.succeeded_once && self.started.elapsed() < self.grace {
            return HealthAction::None;
        }
        self.consecutive_failures += 1;
        self.last = Some(false);
        if self.consecutive_failures >= self.max_failures {
            HealthAction::ReportAndKill
        } else {
            HealthAction::Report(false)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A TLS server on a free loopback port with a fresh self-signed certificate, answering
    /// every request `204`; returns its port.
    async fn tls_server() -> u16 {
        let key = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let cert = key.cert.der().clone();
        let private =
            tokio_rustls::rustls::pki_types::PrivateKeyDer::try_from(key.key_pair.serialize_der())
                .unwrap();
        let config = tokio_rustls::rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![cert], private)
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
                        .write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
                        .await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        port
    }

    #[tokio::test]
    async fn https_checks_speak_tls_and_accept_a_self_signed_certificate() {
        let port = tls_server().await;
        let timeout = Duration::from_secs(20);
        let https = Probe::Http {
            port: u32::from(port),
            path: "/health".into(),
            https: true,
        };
        let outcome = run_probe(&https, timeout, &[]).await;
        assert_eq!(outcome, Outcome::Http(Some(204)));
        assert!(outcome.healthy());
        // Plain HTTP to the same server gets no HTTP answer: the scheme is what made it work.
        let http = Probe::Http {
            port: u32::from(port),
            path: "/health".into(),
            https: false,
        };
        assert!(!run_probe(&http, timeout, &[]).await.healthy());
    }

    #[test]
    fn a_health_check_with_scheme_https_probes_with_tls() {
        let hc = v1::HealthCheck {
            http: Some(v1::health_check::HttpCheckInfo {
                scheme: Some("https".into()),
                port: 8443,
                ..Default::default()
            }),
            ..Default::default()
        };
        let (probe, _) = from_health_check(&hc).unwrap();
        assert!(matches!(
            probe,
            Probe::Http {
                https: true,
                port: 8443,
                ..
            }
        ));
    }
}
