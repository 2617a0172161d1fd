//! The executor's event loop: one subscription, one task, one child process.

use std::future::Future;
use std::time::Duration;

use drover_core::task::emission::{Trigger, emission};
use drover_wire::v1;
use drover_wire::v1::executor::{Call, Event, call, event};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::client::{Client, EventStream};
use crate::health::{self, HealthAction, HealthState, Outcome};
use crate::task;

/// How long the executor waits for the acknowledgement of its terminal update (Mesos: 60 s).
const TERMINAL_ACK_WAIT: Duration = Duration::from_secs(60);
/// First delay before unacknowledged updates are sent again after a transient failure.
const RESEND_FIRST: Duration = Duration::from_millis(100);
/// Mesos' default kill grace of the command executor.
const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(3);

/// The `MESOS_*` environment the agent sets (spec §4.4).
#[derive(Debug, Clone)]
struct Env {
    endpoint: String,
    framework_id: String,
    executor_id: String,
    checkpoint: bool,
    recovery_timeout: Duration,
    backoff_max: Duration,
    shutdown_grace: Duration,
}

fn env_var(name: &str) -> anyhow::Result<String> {
    std::env::var(name).map_err(|_| anyhow::anyhow!("{name} is not set; is this run by an agent?"))
}

fn env_duration(name: &str, default: Duration) -> Duration {
    std::env::var(name)
        .ok()
        .and_then(|v| parse_duration(&v))
        .unwrap_or(default)
}

/// Parses stout's duration text (`5secs`, `15mins`, `1500ms`, `2.5secs`).
pub fn parse_duration(text: &str) -> Option<Duration> {
    drover_wire::duration::parse(text).ok()
}

impl Env {
    fn load() -> anyhow::Result<Self> {
        Ok(Self {
            endpoint: env_var("MESOS_AGENT_ENDPOINT")?,
            framework_id: env_var("MESOS_FRAMEWORK_ID")?,
            executor_id: env_var("MESOS_EXECUTOR_ID")?,
            checkpoint: std::env::var("MESOS_CHECKPOINT").is_ok_and(|v| v == "1"),
            recovery_timeout: env_duration("MESOS_RECOVERY_TIMEOUT", Duration::from_secs(900)),
            backoff_max: env_duration("MESOS_SUBSCRIPTION_BACKOFF_MAX", Duration::from_secs(2)),
            shutdown_grace: env_duration(
                "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD",
                Duration::from_secs(5),
            ),
        })
    }
}

/// Why the task is being killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KillCause {
    Framework,
    Health,
    MaxCompletion,
    Shutdown,
}

#[derive(Debug)]
struct Executor {
    client: Client,
    env: Env,
    framework_info: Option<v1::FrameworkInfo>,
    task: Option<v1::TaskInfo>,
    task_acknowledged: bool,
    child: Option<tokio::process::Child>,
    pgid: Option<i32>,
    last_status: Option<v1::TaskStatus>,
    unacked: Vec<v1::TaskStatus>,
    /// When to send `unacked` again: an UPDATE failed transiently (the agent restarting, or
    /// answering 503 while it recovers) and no new SUBSCRIBE will carry it.
    resend_at: Option<Instant>,
    resend_backoff: Duration,
    killing: Option<KillCause>,
    kill_deadline: Option<Instant>,
    max_completion: Option<Instant>,
    terminal_deadline: Option<Instant>,
    health: Option<HealthState>,
    probes: Vec<tokio::task::JoinHandle<()>>,
    probe_tx: mpsc::Sender<(&'static str, Outcome)>,
    done: bool,
}

/// Runs the executor until its task is over and reported, or `shutdown` resolves.
pub async fn run(
    _flags: crate::Flags,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let env = Env::load()?;
    let (probe_tx, mut probe_rx) = mpsc::channel(16);
    let mut ex = Executor {
        client: Client::new(&env.endpoint),
        env,
        framework_info: None,
        task: None,
        task_acknowledged: false,
        child: None,
        pgid: None,
        last_status: None,
        unacked: Vec::new(),
        resend_at: None,
        resend_backoff: RESEND_FIRST,
        killing: None,
        kill_deadline: None,
        max_completion: None,
        terminal_deadline: None,
        health: None,
        probes: Vec::new(),
        probe_tx,
        done: false,
    };
    tokio::pin!(shutdown);
    let mut stream: Option<EventStream> = None;
    let mut subscribed_once = false;
    loop {
        if ex.done || (ex.terminal_deadline.is_some() && ex.unacked.is_empty()) {
            return Ok(());
        }
        if stream.is_none() {
            if subscribed_once && !ex.env.checkpoint {
                // A non-checkpointing framework's executor does not outlive its agent.
                ex.kill_now();
                return Ok(());
            }
            stream = Some(ex.resubscribe().await?);
            subscribed_once = true;
            continue;
        }
        let s = stream.as_mut().expect("checked above");
        tokio::select! {
            event = s.next() => match event {
                Ok(Some(event)) => ex.on_event(event).await,
                Ok(None) | Err(_) => {
                    tracing::info!("agent connection closed");
                    stream = None;
                }
            },
            status = wait_child(&mut ex.child) => ex.on_exit(status).await,
            _ = sleep_until(ex.kill_deadline) => {
                ex.kill_deadline = None;
                ex.signal(Signal::SIGKILL);
            }
            _ = sleep_until(ex.max_completion) => {
                ex.max_completion = None;
                ex.kill(KillCause::MaxCompletion, Duration::ZERO).await;
            }
            _ = sleep_until(ex.resend_at) => ex.resend_unacked().await,
            _ = sleep_until(ex.terminal_deadline) => return Ok(()),
            Some((tag, outcome)) = probe_rx.recv() => ex.on_probe(tag, outcome).await,
            _ = &mut shutdown => {
                ex.kill_now();
                return Ok(());
            }
        }
    }
}

async fn wait_child(
    child: &mut Option<tokio::process::Child>,
) -> std::io::Result<std::process::ExitStatus> {
    match child {
        Some(c) => c.wait().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

impl Executor {
    fn call(&self, kind: call::Type) -> Call {
        Call {
            executor_id: v1::ExecutorId {
                value: self.env.executor_id.clone(),
            },
            framework_id: v1::FrameworkId {
                value: self.env.framework_id.clone(),
            },
            r#type: Some(kind as i32),
            ..Default::default()
        }
    }

    /// SUBSCRIBE, retried with backoff up to the recovery timeout. The agent is local and a
    /// refused connection costs next to nothing, so retries stay frequent (25 ms doubling to
    /// at most 250 ms, or `MESOS_SUBSCRIPTION_BACKOFF_MAX` if lower): a restarted agent waits
    /// for every recovered executor before it re-registers, so the slowest retry sets its
    /// recovery time. Each executor offsets its retries by a share of the delay derived from
    /// its pid, so a thousand of them do not arrive in one burst.
    async fn resubscribe(&mut self) -> anyhow::Result<EventStream> {
        let started = Instant::now();
        let cap = self
            .env
            .backoff_max
            .clamp(Duration::from_millis(25), Duration::from_millis(250));
        let mut backoff = Duration::from_millis(25);
        let phase = f64::from(std::process::id() % 97) / 97.0 / 2.0;
        loop {
            let mut call = self.call(call::Type::Subscribe);
            call.subscribe = Some(call::Subscribe {
                unacknowledged_tasks: self
                    .task
                    .iter()
                    .filter(|_| !self.task_acknowledged)
                    .cloned()
                    .collect(),
                unacknowledged_updates: self
                    .unacked
                    .iter()
                    .map(|status| call::Update {
                        status: status.clone(),
                    })
                    .collect(),
            });
            match self.client.subscribe(&call).await {
                Ok(stream) => {
                    // The SUBSCRIBE carried every unacknowledged update.
                    self.resend_at = None;
                    self.resend_backoff = RESEND_FIRST;
                    return Ok(stream);
                }
                Err(error) => {
                    if started.elapsed() > self.env.recovery_timeout {
                        self.kill_now();
                        anyhow::bail!("could not subscribe within the recovery timeout: {error:#}");
                    }
                    tracing::debug!(error = %format!("{error:#}"), "subscribe failed; retrying");
                    tokio::time::sleep(backoff.mul_f64(1.0 + phase)).await;
                    backoff = (backoff * 2).min(cap);
                }
            }
        }
    }

    async fn on_event(&mut self, event: Event) {
        let kind = event.r#type.and_then(|t| event::Type::try_from(t).ok());
        match kind {
            Some(event::Type::Subscribed) => {
                if let Some(s) = event.subscribed {
                    self.framework_info = Some(s.framework_info);
                }
            }
            Some(event::Type::Launch) => {
                if let Some(launch) = event.launch {
                    self.launch(launch.task).await;
                }
            }
            Some(event::Type::Kill) => {
                if let Some(kill) = event.kill {
                    let policy = kill
                        .kill_policy
                        .or_else(|| self.task.as_ref().and_then(|t| t.kill_policy));
                    let grace = policy
                        .and_then(|p| p.grace_period)
                        .map(|d| Duration::from_nanos(d.nanoseconds.max(0) as u64))
                        .unwrap_or(DEFAULT_KILL_GRACE);
                    self.kill(KillCause::Framework, grace).await;
                }
            }
            Some(event::Type::Acknowledged) => {
                if let Some(ack) = event.acknowledged {
                    self.unacked
                        .retain(|s| s.uuid.as_deref() != Some(ack.uuid.as_slice()));
                    self.task_acknowledged = true;
                }
            }
            Some(event::Type::Shutdown) => {
                // Mesos: the shutdown grace minus the reaper interval and a second of slack.
                let grace = self
                    .env
                    .shutdown_grace
                    .saturating_sub(Duration::from_secs(2));
                if self.child.is_some() {
                    self.kill(KillCause::Shutdown, grace).await;
                } else {
                    self.done = true;
                }
            }
            Some(event::Type::Error) => {
                tracing::warn!(message = ?event.error.map(|e| e.message), "agent sent an error");
            }
            _ => {}
        }
    }

    async fn launch(&mut self, task: v1::TaskInfo) {
        if self.task.is_some() {
            // The agent re-delivers after a restart only what we listed; one task per executor.
            return;
        }
        self.task = Some(task.clone());
        self.send(v1::TaskState::TaskStarting, None, None, |_| {})
            .await;
        let Some(command) = task.command.clone() else {
            self.finish(
                v1::TaskState::TaskFailed,
                None,
                "Task has no command".to_owned(),
                None,
            )
            .await;
            return;
        };
        let env = task::environment(&command);
        let mut cmd = task::command(&command, &env);
        cmd.process_group(0).kill_on_drop(false);
        if let Ok(dir) = std::env::var("MESOS_SANDBOX") {
            cmd.current_dir(dir);
        }
        match cmd.spawn() {
            Ok(child) => {
                self.pgid = child.id().map(|p| p as i32);
                self.child = Some(child);
            }
            Err(error) => {
                let message = format!("Failed to launch command: {error}");
                self.finish(v1::TaskState::TaskFailed, None, message, None)
                    .await;
                return;
            }
        }
        let check = task.check.as_ref().and_then(health::from_check);
        let placeholder = check.as_ref().map(|(probe, _)| {
            // Every update of a task with a check carries `check_status`, empty until a
            // result exists.
            let mut s = match probe {
                health::Probe::Command(_) => Outcome::Command(None),
                health::Probe::Http { .. } => Outcome::Http(None),
                health::Probe::Tcp { .. } => Outcome::Tcp(None),
            }
            .check_status();
            s.command = s.command.map(|_| Default::default());
            s.http = s.http.map(|_| Default::default());
            s.tcp = s.tcp.map(|_| Default::default());
            s
        });
        self.send(v1::TaskState::TaskRunning, None, None, |s| {
            s.check_status = placeholder;
        })
        .await;
        if let Some(hc) = &task.health_check
            && let Some((probe, timing)) = health::from_health_check(hc)
        {
            self.health = Some(HealthState::new(hc));
            self.probes.push(health::spawn_prober(
                "health",
                probe,
                timing,
                env.clone(),
                self.probe_tx.clone(),
            ));
        }
        if let Some((probe, timing)) = check {
            self.probes.push(health::spawn_prober(
                "check",
                probe,
                timing,
                env.clone(),
                self.probe_tx.clone(),
            ));
        }
        if let Some(max) = &task.max_completion_time {
            self.max_completion =
                Some(Instant::now() + Duration::from_nanos(max.nanoseconds.max(0) as u64));
        }
    }

    async fn on_probe(&mut self, tag: &'static str, outcome: Outcome) {
        if self.killing.is_some() || self.child.is_none() {
            // No health or check news once a kill started or the task ended.
            return;
        }
        if tag == "check" {
            let status = outcome.check_status();
            let changed = self
                .last_status
                .as_ref()
                .and_then(|s| s.check_status.as_ref())
                != Some(&status);
            if changed {
                let row = emission(Trigger::CheckStatusChanged);
                self.send(
                    row.state_for(true, v1::TaskState::TaskRunning),
                    Some(row.reason),
                    Some(row.message.to_owned()),
                    |s| s.check_status = Some(status),
                )
                .await;
            }
            return;
        }
        let Some(state) = self.health.as_mut() else {
            return;
        };
        let action = state.observe(outcome.healthy());
        let failures = state.consecutive_failures();
        // The row gives the reason; the executor's words say which way health went.
        let reason = Some(emission(Trigger::HealthCheckStatusChanged).reason);
        match action {
            HealthAction::None => {}
            HealthAction::Report(healthy) => {
                let message = if healthy {
                    "Task is healthy".to_owned()
                } else {
                    format!("Health check failed: {}", outcome.describe())
                };
                self.send(v1::TaskState::TaskRunning, reason, Some(message), |s| {
                    s.healthy = Some(healthy)
                })
                .await;
            }
            HealthAction::ReportAndKill => {
                self.send(
                    v1::TaskState::TaskRunning,
                    reason,
                    Some(format!(
                        "Health check failed {} times in a row ({}); killing the task",
                        failures,
                        outcome.describe()
                    )),
                    |s| s.healthy = Some(false),
                )
                .await;
                let grace = self
                    .task
                    .as_ref()
                    .and_then(|t| t.kill_policy)
                    .and_then(|p| p.grace_period)
                    .map(|d| Duration::from_nanos(d.nanoseconds.max(0) as u64))
                    .unwrap_or(DEFAULT_KILL_GRACE);
                self.kill(KillCause::Health, grace).await;
            }
        }
    }

    async fn kill(&mut self, cause: KillCause, grace: Duration) {
        if self.child.is_none() {
            if self.task.is_some() && self.terminal_deadline.is_none() {
                self.finish(
                    v1::TaskState::TaskKilled,
                    None,
                    "Task killed".to_owned(),
                    None,
                )
                .await;
            } else if self.task.is_none() {
                self.done = true;
            }
            return;
        }
        let deadline = Instant::now() + grace;
        if self.killing.is_some() {
            // A repeated kill can only shorten the remaining grace.
            if self.kill_deadline.is_some_and(|d| deadline < d) {
                self.kill_deadline = Some(deadline);
            }
            return;
        }
        self.killing = Some(cause);
        for probe in self.probes.drain(..) {
            probe.abort();
        }
        let killing_capable = self.framework_info.as_ref().is_some_and(|f| {
            f.capabilities.iter().any(|c| {
                c.r#type == Some(v1::framework_info::capability::Type::TaskKillingState as i32)
            })
        });
        if killing_capable {
            self.send(v1::TaskState::TaskKilling, None, None, |_| {})
                .await;
        }
        self.signal(Signal::SIGTERM);
        self.kill_deadline = Some(deadline);
    }

    fn signal(&self, signal: Signal) {
        if let Some(pgid) = self.pgid {
            let _ = killpg(Pid::from_raw(pgid), signal);
        }
    }

    fn kill_now(&mut self) {
        self.signal(Signal::SIGKILL);
    }

    async fn on_exit(&mut self, status: std::io::Result<std::process::ExitStatus>) {
        self.child = None;
        self.kill_deadline = None;
        self.max_completion = None;
        for probe in self.probes.drain(..) {
            probe.abort();
        }
        // Whatever the command left behind in its group goes with it.
        self.signal(Signal::SIGKILL);
        let message = match &status {
            Ok(status) => task::exit_message(*status),
            Err(error) => format!("Failed to wait for the command: {error}"),
        };
        let success = status.as_ref().is_ok_and(|s| s.success());
        let (state, reason, healthy) = match self.killing {
            Some(KillCause::MaxCompletion) => {
                let row = emission(Trigger::MaxCompletionTimeReached);
                (
                    row.state_for(true, v1::TaskState::TaskRunning),
                    Some(row.reason),
                    None,
                )
            }
            Some(KillCause::Health) => (v1::TaskState::TaskKilled, None, Some(false)),
            Some(_) => (v1::TaskState::TaskKilled, None, None),
            None if success => (v1::TaskState::TaskFinished, None, None),
            None => (v1::TaskState::TaskFailed, None, None),
        };
        self.finish(state, reason, message, healthy).await;
    }

    async fn finish(
        &mut self,
        state: v1::TaskState,
        reason: Option<v1::task_status::Reason>,
        message: String,
        healthy: Option<bool>,
    ) {
        self.send(state, reason, Some(message), |s| {
            if healthy.is_some() {
                s.healthy = healthy;
            }
        })
        .await;
        self.terminal_deadline = Some(Instant::now() + TERMINAL_ACK_WAIT);
    }

    /// Sends an update built from the previous one (so `healthy` and `check_status` carry
    /// over), keeping it until the agent acknowledges it.
    async fn send(
        &mut self,
        state: v1::TaskState,
        reason: Option<v1::task_status::Reason>,
        message: Option<String>,
        edit: impl FnOnce(&mut v1::TaskStatus),
    ) {
        let Some(task) = &self.task else { return };
        let previous = self.last_status.clone().unwrap_or_default();
        let mut status = v1::TaskStatus {
            task_id: task.task_id.clone(),
            state: state as i32,
            message,
            source: Some(v1::task_status::Source::Executor as i32),
            reason: reason.map(|r| r as i32),
            executor_id: Some(v1::ExecutorId {
                value: self.env.executor_id.clone(),
            }),
            timestamp: Some(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs_f64())
                    .unwrap_or_default(),
            ),
            uuid: Some(uuid::Uuid::new_v4().as_bytes().to_vec()),
            healthy: previous.healthy,
            check_status: previous.check_status,
            ..Default::default()
        };
        edit(&mut status);
        self.last_status = Some(status.clone());
        self.unacked.push(status.clone());
        if self.resend_at.is_none() {
            // Otherwise an earlier update is waiting to be resent, and this one goes after it.
            self.send_update(status).await;
        }
    }

    /// Sends one UPDATE. On a transient failure it stays in `unacked` and is sent again
    /// after a backoff (or with the next SUBSCRIBE, whichever comes first): a restarted agent
    /// answers 503 until its recovery is over, after this executor has already resubscribed.
    async fn send_update(&mut self, status: v1::TaskStatus) -> bool {
        let mut call = self.call(call::Type::Update);
        call.update = Some(call::Update { status });
        match self.client.send(&call).await {
            Ok(()) => true,
            Err(error) if error.is_transient() => {
                tracing::info!(%error, "sending update failed; will send it again");
                self.resend_at = Some(Instant::now() + self.resend_backoff);
                self.resend_backoff =
                    (self.resend_backoff * 2).min(self.env.backoff_max.max(RESEND_FIRST));
                false
            }
            Err(error) => {
                // The agent refused it for good (a malformed or illegal update): resending
                // cannot help.
                tracing::warn!(%error, "update refused");
                true
            }
        }
    }

    /// Sends every unacknowledged update again, in order, until one fails.
    async fn resend_unacked(&mut self) {
        self.resend_at = None;
        for status in self.unacked.clone() {
            if !self.send_update(status).await {
                return;
            }
        }
        self.resend_backoff = RESEND_FIRST;
    }
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn parses_stout_durations() {
        assert_eq!(parse_duration("5secs"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("15mins"), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration("1500ms"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2.5secs"), Some(Duration::from_millis(2500)));
        assert_eq!(parse_duration("5"), None);
    }
}
