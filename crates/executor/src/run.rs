//! The executor's event loop: one subscription, one task, one child process.

use std::future::Future;
use std::time::Duration;

use drover_core::task::emission::{Trigger, emission};
use drover_wire::v1;
use drover_wire::v1::executor::{Event, event};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::client::EventStream;
use crate::env::Env;
use crate::health::{self, HealthState, Outcome};
use crate::outbox::Outbox;
use crate::task;

/// How long the executor waits for the acknowledgement of its terminal update (Mesos: 60 s).
pub(crate) const TERMINAL_ACK_WAIT: Duration = Duration::from_secs(60);
/// Mesos' default kill grace of the command executor.
pub(crate) const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(3);

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
    env: Env,
    outbox: Outbox,
    framework_info: Option<v1::FrameworkInfo>,
    task: Option<v1::TaskInfo>,
    task_acknowledged: bool,
    child: Option<tokio::process::Child>,
    pgid: Option<i32>,
    last_status: Option<v1::TaskStatus>,
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
pub async fn run(shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
    let env = Env::load()?;
    let (probe_tx, mut probe_rx) = mpsc::channel(16);
    let mut ex = Executor {
        outbox: Outbox::new(&env),
        env,
        framework_info: None,
        task: None,
        task_acknowledged: false,
        child: None,
        pgid: None,
        last_status: None,
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
        if ex.done || (ex.terminal_deadline.is_some() && ex.outbox.is_empty()) {
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
            _ = sleep_until(ex.outbox.resend_at()) => ex.outbox.resend().await,
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

pub(crate) async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

impl Executor {
    /// SUBSCRIBE with every unacknowledged task and update, retried until the recovery
    /// timeout (then the task is killed: nobody would hear of it).
    async fn resubscribe(&mut self) -> anyhow::Result<EventStream> {
        let tasks = self
            .task
            .iter()
            .filter(|_| !self.task_acknowledged)
            .cloned()
            .collect();
        let subscribed = self.outbox.subscribe(tasks).await;
        if subscribed.is_err() {
            self.kill_now();
        }
        subscribed
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
                    let grace = task::kill_grace(
                        kill.kill_policy,
                        self.task.as_ref().and_then(|t| t.kill_policy),
                        DEFAULT_KILL_GRACE,
                    );
                    self.kill(KillCause::Framework, grace).await;
                }
            }
            Some(event::Type::Acknowledged) => {
                if let Some(ack) = event.acknowledged {
                    self.outbox.acknowledged(&ack.uuid);
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
        // In an image the helper chooses the directory inside the image's root.
        if let Ok(dir) = std::env::var("MESOS_SANDBOX")
            && !task::in_rootfs()
        {
            cmd.current_dir(dir);
        }
        match cmd.spawn() {
            Ok(child) => {
                if let Some(pid) = child.id() {
                    task::task_started(pid);
                }
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
        let placeholder = check
            .as_ref()
            .map(|(probe, _)| health::check_placeholder(probe));
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
        let last_check = self.last_status.as_ref().and_then(|s| s.check_status);
        let Some(report) =
            health::probe_report(tag, outcome, last_check.as_ref(), self.health.as_mut())
        else {
            return;
        };
        let kill = report.kill;
        self.send(
            v1::TaskState::TaskRunning,
            Some(report.reason),
            Some(report.message.clone()),
            |s| report.apply(s),
        )
        .await;
        if kill {
            let grace = task::kill_grace(
                None,
                self.task.as_ref().and_then(|t| t.kill_policy),
                DEFAULT_KILL_GRACE,
            );
            self.kill(KillCause::Health, grace).await;
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
        let mut status = crate::outbox::status(
            &task.task_id,
            &self.env.executor_id,
            self.last_status.as_ref(),
            state,
            reason,
            message,
        );
        edit(&mut status);
        self.last_status = Some(status.clone());
        self.outbox.send(status).await;
    }
}
