//! The Marathon side of the workload: the apps (one health-checked, one not, short-lived
//! extra apps created and deleted during the run), scale changes, and the `/v2/events`
//! follower that feeds every `status_update_event` to the journal's checks. Every change
//! Marathon acknowledges is recorded; one that got no answer is recorded as uncertain. With
//! several Marathons the requests go to each in turn (a follower proxies to the leader), and
//! the event stream follows a follower's redirect to the leader.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;

use crate::http::Http;
use crate::journal::Journal;

/// The apps every run starts with: (id, instances, health-checked).
pub const BASE_APPS: &[(&str, u32, bool)] = &[("/soak/web", 2, true), ("/soak/worker", 3, false)];

fn app_json(id: &str, instances: u32, healthy: bool) -> serde_json::Value {
    let mut app = json!({
        "id": id,
        "cmd": "sleep 100000",
        "cpus": 0.1,
        "mem": 16,
        "instances": instances,
    });
    if healthy {
        app["healthChecks"] = json!([{
            "protocol": "COMMAND",
            "command": {"value": "true"},
            "gracePeriodSeconds": 10,
            "intervalSeconds": 2,
            "timeoutSeconds": 5,
            "maxConsecutiveFailures": 3,
        }]);
    }
    app
}

/// The Marathons' base URLs and the journal.
#[derive(Debug, Clone)]
pub struct Marathon {
    /// Each `http://127.0.0.1:port`.
    pub urls: Vec<String>,
    next: Arc<AtomicUsize>,
    http: Http,
    journal: Arc<Journal>,
}

const CHANGE_TIMEOUT: Duration = Duration::from_secs(15);

impl Marathon {
    /// A client of the Marathons at `urls` (at least one).
    pub fn new(urls: Vec<String>, journal: Arc<Journal>) -> Marathon {
        assert!(!urls.is_empty(), "at least one Marathon");
        Marathon {
            urls,
            next: Arc::default(),
            http: Http::new(),
            journal,
        }
    }

    /// The next Marathon to ask, in turn.
    fn url(&self) -> &str {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        &self.urls[i % self.urls.len()]
    }

    /// Creates `id`; true when Marathon acknowledged it.
    pub async fn create(&self, id: &str, instances: u32, healthy: bool) -> bool {
        let body = app_json(id, instances, healthy).to_string();
        let result = self
            .http
            .send(
                "POST",
                &format!("{}/v2/apps", self.url()),
                Some(body),
                CHANGE_TIMEOUT,
            )
            .await;
        self.record(id, Some(instances), healthy, "create", result)
    }

    /// Scales `id` to `instances` (forced, as an operator does in the middle of a deployment).
    pub async fn scale(&self, id: &str, instances: u32, healthy: bool) -> bool {
        let body = json!({ "instances": instances }).to_string();
        let result = self
            .http
            .send(
                "PUT",
                &format!("{}/v2/apps{id}?force=true", self.url()),
                Some(body),
                CHANGE_TIMEOUT,
            )
            .await;
        self.record(id, Some(instances), healthy, "scale", result)
    }

    /// Deletes `id`.
    pub async fn delete(&self, id: &str) -> bool {
        let result = self
            .http
            .send(
                "DELETE",
                &format!("{}/v2/apps{id}?force=true", self.url()),
                None,
                CHANGE_TIMEOUT,
            )
            .await;
        self.record(id, None, false, "delete", result)
    }

    fn record(
        &self,
        id: &str,
        instances: Option<u32>,
        healthy: bool,
        what: &str,
        result: anyhow::Result<(u16, String)>,
    ) -> bool {
        match result {
            Ok((status, _)) if (200..300).contains(&status) => {
                self.journal.app_acked(id, instances, healthy);
                self.journal
                    .action(format!("workload {what} {id} {instances:?}: acknowledged"));
                true
            }
            Ok((status, body)) if status >= 500 => {
                // A follower's proxy error (502, 503) may come after the leader took the
                // change: its outcome is unknown.
                let body: String = body.chars().take(200).collect();
                self.journal.app_uncertain(id, instances, healthy);
                self.journal.action(format!(
                    "workload {what} {id} {instances:?}: {status} {body}, outcome uncertain"
                ));
                false
            }
            Ok((status, body)) => {
                // A refusal (409 for a locked app, 4xx for a bad request) changes nothing.
                let body: String = body.chars().take(200).collect();
                self.journal.action(format!(
                    "workload {what} {id} {instances:?}: refused {status} {body}"
                ));
                false
            }
            Err(e) if format!("{e:#}").contains("(Connect)") => {
                // Nothing was sent: Marathon was down or paused before accepting.
                self.journal.action(format!(
                    "workload {what} {id} {instances:?}: not delivered ({e:#})"
                ));
                false
            }
            Err(e) => {
                self.journal.app_uncertain(id, instances, healthy);
                self.journal.action(format!(
                    "workload {what} {id} {instances:?}: no answer ({e:#}), outcome uncertain"
                ));
                false
            }
        }
    }

    /// Follows `/v2/events` for ever, reconnecting while Marathon is away.
    pub async fn follow_events(self) {
        loop {
            let journal = self.journal.clone();
            let url = format!("{}/v2/events?event_type=status_update_event", self.url());
            let _ = self
                .http
                .sse(&url, |kind, data| {
                    if kind != "status_update_event" {
                        return;
                    }
                    let Ok(v) = serde_json::from_str::<serde_json::Value>(data) else {
                        journal.violation(format!("Marathon sent an unparsable event: {data}"));
                        return;
                    };
                    let task = v["taskId"].as_str().unwrap_or_default();
                    let state = v["taskStatus"].as_str().unwrap_or_default();
                    journal.marathon_update(task, state);
                })
                .await;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}
