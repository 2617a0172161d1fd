//! `drover executor --default`: Mesos' default executor. The agent starts it for a task group
//! (LAUNCH_GROUP); it subscribes like the command executor, and runs every task of each group
//! it is given as a **nested container** of its own container ([`crate::nested`]: the agent's
//! `LAUNCH_CONTAINER` with the task's resources, so each task has its own child cgroup with its
//! limits, inside the executor's), in its own sandbox `<executor sandbox>/tasks/<task id>`
//! (`MESOS_SANDBOX` points there, with the task's `stdout` and `stderr`; the nested container's
//! `containers/<container id>` links to it), with the group's `SANDBOX_PATH` volumes. It
//! reports STARTING, RUNNING, health and check results and the terminal state of each task, and
//! when a task of a group ends other than TASK_FINISHED it kills the rest of that group, as
//! Mesos' default executor did. It exits once every task has ended and its updates are
//! acknowledged.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use drover_core::task::emission::{Trigger, emission};
use drover_wire::v1;
use drover_wire::v1::executor::{Event, event};
use nix::sys::signal::Signal;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::client::{Client, EventStream};
use crate::env::Env;
use crate::health::{self, HealthState, Outcome};
use crate::nested::{self, Waited};
use crate::outbox::Outbox;
use crate::run::{DEFAULT_KILL_GRACE, TERMINAL_ACK_WAIT, sleep_until};
use crate::task;

/// Why a task is being killed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum KillCause {
    Framework,
    Health,
    MaxCompletion,
    Shutdown,
    /// Another task of its group ended (the task id and how).
    Group(String, &'static str),
}

/// One task of a group.
#[derive(Debug)]
struct Member {
    info: v1::TaskInfo,
    /// Which group it came in (index of the LAUNCH_GROUP event).
    group: usize,
    /// Its nested container, once launched.
    container: Option<v1::ContainerId>,
    running: bool,
    terminal: bool,
    acknowledged: bool,
    killing: Option<KillCause>,
    kill_deadline: Option<Instant>,
    max_completion: Option<Instant>,
    health: Option<HealthState>,
    probes: Vec<tokio::task::JoinHandle<()>>,
    last_status: Option<v1::TaskStatus>,
}

impl Member {
    /// Signals its nested container's command (through the agent; not waited for).
    fn signal(&self, client: &Client, signal: Signal) {
        if let Some(id) = self.container.clone() {
            let client = client.clone();
            tokio::spawn(async move { nested::kill(&client, &id, signal as i32).await });
        }
    }

    fn stop_probes(&mut self) {
        for probe in self.probes.drain(..) {
            probe.abort();
        }
    }
}

type Exit = (String, Result<Waited, String>);

struct DefaultExecutor {
    env: Env,
    sandbox: PathBuf,
    outbox: Outbox,
    /// The agent's operator API, for the tasks' nested containers.
    client: Client,
    framework_info: Option<v1::FrameworkInfo>,
    /// The executor's own container (SUBSCRIBED says), the parent of its tasks'.
    container_id: Option<v1::ContainerId>,
    tasks: BTreeMap<String, Member>,
    groups: usize,
    shutting_down: bool,
    /// Every task ended: wait this long at most for the acknowledgements.
    done_at: Option<Instant>,
    exit_tx: mpsc::Sender<Exit>,
    probe_tx: mpsc::Sender<(String, &'static str, Outcome)>,
}

/// Runs the default executor until its tasks are over and reported, or `shutdown` resolves.
pub async fn run(shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
    let env = Env::load()?;
    let sandbox = PathBuf::from(std::env::var("MESOS_SANDBOX").unwrap_or_else(|_| ".".to_owned()));
    let (exit_tx, mut exit_rx) = mpsc::channel(64);
    let (probe_tx, mut probe_rx) = mpsc::channel(64);
    let mut ex = DefaultExecutor {
        outbox: Outbox::new(&env),
        client: Client::new(&env.endpoint),
        env,
        sandbox,
        framework_info: None,
        container_id: None,
        tasks: BTreeMap::new(),
        groups: 0,
        shutting_down: false,
        done_at: None,
        exit_tx,
        probe_tx,
    };
    tokio::pin!(shutdown);
    let mut stream: Option<EventStream> = None;
    let mut subscribed_once = false;
    loop {
        let all_ended = ex.tasks.values().all(|m| m.terminal);
        if all_ended && (!ex.tasks.is_empty() || ex.shutting_down) {
            if ex.outbox.is_empty() {
                return Ok(());
            }
            if ex.done_at.is_none() {
                ex.done_at = Some(Instant::now() + TERMINAL_ACK_WAIT);
            }
        }
        if stream.is_none() {
            if subscribed_once && !ex.env.checkpoint {
                // A non-checkpointing framework's executor does not outlive its agent.
                ex.kill_all_now().await;
                return Ok(());
            }
            let unacknowledged = ex
                .tasks
                .values()
                .filter(|m| !m.acknowledged)
                .map(|m| m.info.clone())
                .collect();
            match ex.outbox.subscribe(unacknowledged).await {
                Ok(s) => stream = Some(s),
                Err(error) => {
                    ex.kill_all_now().await;
                    return Err(error);
                }
            }
            subscribed_once = true;
            continue;
        }
        let next_timer = ex.next_timer();
        let s = stream.as_mut().expect("checked above");
        tokio::select! {
            event = s.next() => match event {
                Ok(Some(event)) => ex.on_event(event).await,
                Ok(None) | Err(_) => {
                    tracing::info!("agent connection closed");
                    stream = None;
                }
            },
            Some((id, waited)) = exit_rx.recv() => ex.on_exit(&id, waited).await,
            Some((id, tag, outcome)) = probe_rx.recv() => ex.on_probe(&id, tag, outcome).await,
            _ = sleep_until(next_timer) => ex.on_timers().await,
            _ = sleep_until(ex.outbox.resend_at()) => ex.outbox.resend().await,
            _ = sleep_until(ex.done_at) => return Ok(()),
            _ = &mut shutdown => {
                ex.kill_all_now().await;
                return Ok(());
            }
        }
    }
}

impl DefaultExecutor {
    async fn on_event(&mut self, event: Event) {
        let kind = event.r#type.and_then(|t| event::Type::try_from(t).ok());
        match kind {
            Some(event::Type::Subscribed) => {
                if let Some(s) = event.subscribed {
                    self.framework_info = Some(s.framework_info);
                    if s.container_id.is_some() {
                        self.container_id = s.container_id;
                    }
                }
            }
            Some(event::Type::LaunchGroup) => {
                if let Some(launch) = event.launch_group {
                    self.launch_group(launch.task_group.tasks).await;
                }
            }
            Some(event::Type::Launch) => {
                // The agent refuses single tasks for a default executor; should one arrive
                // anyway it fails rather than silently never running.
                if let Some(launch) = event.launch {
                    tracing::warn!(task = %launch.task.task_id.value, "LAUNCH sent to the default executor");
                    let id = launch.task.task_id.value.clone();
                    let group = self.groups;
                    self.groups += 1;
                    self.add(launch.task, group);
                    self.finish(
                        &id,
                        v1::TaskState::TaskFailed,
                        None,
                        "The default executor runs task groups (LAUNCH_GROUP) only".to_owned(),
                        None,
                    )
                    .await;
                }
            }
            Some(event::Type::Kill) => {
                if let Some(kill) = event.kill {
                    let id = kill.task_id.value;
                    let grace = task::kill_grace(
                        kill.kill_policy,
                        self.tasks.get(&id).and_then(|m| m.info.kill_policy),
                        DEFAULT_KILL_GRACE,
                    );
                    self.kill(&id, KillCause::Framework, grace).await;
                }
            }
            Some(event::Type::Acknowledged) => {
                if let Some(ack) = event.acknowledged {
                    self.outbox.acknowledged(&ack.uuid);
                    if let Some(m) = self.tasks.get_mut(&ack.task_id.value) {
                        m.acknowledged = true;
                    }
                }
            }
            Some(event::Type::Shutdown) => {
                self.shutting_down = true;
                // Mesos: the shutdown grace minus the reaper interval and a second of slack.
                let grace = self
                    .env
                    .shutdown_grace
                    .saturating_sub(Duration::from_secs(2));
                let ids: Vec<String> = self.tasks.keys().cloned().collect();
                for id in ids {
                    self.kill(&id, KillCause::Shutdown, grace).await;
                }
            }
            Some(event::Type::Error) => {
                tracing::warn!(message = ?event.error.map(|e| e.message), "agent sent an error");
            }
            _ => {}
        }
    }

    fn add(&mut self, info: v1::TaskInfo, group: usize) {
        self.tasks.insert(
            info.task_id.value.clone(),
            Member {
                info,
                group,
                container: None,
                running: false,
                terminal: false,
                acknowledged: false,
                killing: None,
                kill_deadline: None,
                max_completion: None,
                health: None,
                probes: Vec::new(),
                last_status: None,
            },
        );
    }

    async fn launch_group(&mut self, tasks: Vec<v1::TaskInfo>) {
        let group = self.groups;
        self.groups += 1;
        let mut ids = Vec::new();
        for info in tasks {
            if self.tasks.contains_key(&info.task_id.value) {
                // Re-delivered after an agent restart: it runs already.
                continue;
            }
            ids.push(info.task_id.value.clone());
            self.add(info, group);
        }
        // Every task is STARTING before any of them runs, as the group arrived: whole.
        for id in &ids {
            self.send(id, v1::TaskState::TaskStarting, None, None, |_| {})
                .await;
        }
        for id in &ids {
            if let Err(message) = self.start(id).await {
                self.finish(id, v1::TaskState::TaskFailed, None, message, None)
                    .await;
            }
        }
    }

    /// Spawns one task and reports it RUNNING.
    async fn start(&mut self, id: &str) -> Result<(), String> {
        let member = self.tasks.get(id).expect("added");
        let info = member.info.clone();
        if member.terminal || member.killing.is_some() {
            // Its group was killed while an earlier task of it failed to start.
            return Ok(());
        }
        let command = info
            .command
            .clone()
            .ok_or_else(|| "Task has no command".to_owned())?;
        let sandbox = self.sandbox.join("tasks").join(id);
        std::fs::create_dir_all(&sandbox)
            .map_err(|e| format!("Failed to create the task's sandbox: {e}"))?;
        mount_volumes(&info, &self.sandbox, &sandbox)?;
        let mut env = task::environment(&command);
        env.retain(|(k, _)| k != "MESOS_SANDBOX");
        env.push((
            "MESOS_SANDBOX".to_owned(),
            sandbox.to_string_lossy().into_owned(),
        ));
        // The task's nested container (a fresh id under the executor's), its sandbox
        // `containers/<id>` a link to the task's.
        let parent = self.container_id.clone().ok_or_else(|| {
            "The agent did not say which container the executor runs in".to_owned()
        })?;
        let container = v1::ContainerId {
            value: uuid::Uuid::new_v4().to_string(),
            parent: Some(Box::new(parent)),
        };
        let containers = self.sandbox.join("containers");
        std::fs::create_dir_all(&containers)
            .and_then(|()| {
                std::os::unix::fs::symlink(
                    Path::new("..").join("tasks").join(id),
                    containers.join(&container.value),
                )
            })
            .map_err(|e| format!("Failed to link the task's container sandbox: {e}"))?;
        let call = nested::launch_call(container.clone(), &info, &command, &env);
        nested::launch(&self.client, &call)
            .await
            .map_err(|e| format!("Failed to launch the task's container: {e}"))?;
        let (client, exit_tx, exit_id) = (self.client.clone(), self.exit_tx.clone(), id.to_owned());
        let waited_for = container.clone();
        tokio::spawn(async move {
            let waited = nested::wait(&client, &waited_for).await;
            let _ = exit_tx.send((exit_id, waited)).await;
            nested::remove(&client, &waited_for).await;
        });
        let member = self.tasks.get_mut(id).expect("added");
        member.container = Some(container);
        member.running = true;
        if let Some(max) = &info.max_completion_time {
            member.max_completion =
                Some(Instant::now() + Duration::from_nanos(max.nanoseconds.max(0) as u64));
        }
        let check = info.check.as_ref().and_then(health::from_check);
        let placeholder = check
            .as_ref()
            .map(|(probe, _)| health::check_placeholder(probe));
        self.send(id, v1::TaskState::TaskRunning, None, None, |s| {
            s.check_status = placeholder;
        })
        .await;
        let mut probes = Vec::new();
        if let Some(hc) = &info.health_check
            && let Some((probe, timing)) = health::from_health_check(hc)
        {
            self.tasks.get_mut(id).expect("added").health = Some(HealthState::new(hc));
            probes.push(self.prober(id, "health", probe, timing, &env));
        }
        if let Some((probe, timing)) = check {
            probes.push(self.prober(id, "check", probe, timing, &env));
        }
        self.tasks.get_mut(id).expect("added").probes = probes;
        Ok(())
    }

    /// A prober for task `id`, its results tagged with the task.
    fn prober(
        &self,
        id: &str,
        tag: &'static str,
        probe: health::Probe,
        timing: health::Timing,
        env: &[(String, String)],
    ) -> tokio::task::JoinHandle<()> {
        let (tx, mut rx) = mpsc::channel(4);
        let inner = health::spawn_prober(tag, probe, timing, env.to_vec(), tx);
        let forward = self.probe_tx.clone();
        let id = id.to_owned();
        tokio::spawn(async move {
            // Ends when the prober is aborted (its sender drops) or the executor goes.
            let _inner = AbortOnDrop(inner);
            while let Some((tag, outcome)) = rx.recv().await {
                if forward.send((id.clone(), tag, outcome)).await.is_err() {
                    return;
                }
            }
        })
    }

    async fn on_probe(&mut self, id: &str, tag: &'static str, outcome: Outcome) {
        let Some(member) = self.tasks.get_mut(id) else {
            return;
        };
        if member.killing.is_some() || !member.running {
            // No health or check news once a kill started or the task ended.
            return;
        }
        let last_check = member.last_status.as_ref().and_then(|s| s.check_status);
        let Some(report) =
            health::probe_report(tag, outcome, last_check.as_ref(), member.health.as_mut())
        else {
            return;
        };
        let kill = report.kill;
        let grace = task::kill_grace(None, member.info.kill_policy, DEFAULT_KILL_GRACE);
        self.send(
            id,
            v1::TaskState::TaskRunning,
            Some(report.reason),
            Some(report.message.clone()),
            |s| report.apply(s),
        )
        .await;
        if kill {
            self.kill(id, KillCause::Health, grace).await;
        }
    }

    /// SIGTERM now, SIGKILL after `grace`; a task not running (yet) ends KILLED at once.
    async fn kill(&mut self, id: &str, cause: KillCause, grace: Duration) {
        let killing_capable = self.framework_info.as_ref().is_some_and(|f| {
            f.capabilities.iter().any(|c| {
                c.r#type == Some(v1::framework_info::capability::Type::TaskKillingState as i32)
            })
        });
        let Some(member) = self.tasks.get_mut(id) else {
            return;
        };
        if member.terminal {
            return;
        }
        if !member.running {
            // Not started yet (its group is being launched): it ends here, and starts never.
            member.killing = Some(cause);
            member.terminal = true;
            self.send(
                id,
                v1::TaskState::TaskKilled,
                None,
                Some("Task killed".to_owned()),
                |_| {},
            )
            .await;
            return;
        }
        let deadline = Instant::now() + grace;
        if member.killing.is_some() {
            // A repeated kill can only shorten the remaining grace.
            if member.kill_deadline.is_some_and(|d| deadline < d) {
                member.kill_deadline = Some(deadline);
            }
            return;
        }
        member.killing = Some(cause);
        member.stop_probes();
        member.signal(&self.client, Signal::SIGTERM);
        member.kill_deadline = Some(deadline);
        if killing_capable {
            self.send(id, v1::TaskState::TaskKilling, None, None, |_| {})
                .await;
        }
    }

    /// SIGKILL to every running task, waited for (briefly) because the executor exits next.
    async fn kill_all_now(&mut self) {
        let mut kills = tokio::task::JoinSet::new();
        for id in self
            .tasks
            .values()
            .filter(|m| m.running)
            .filter_map(|m| m.container.clone())
        {
            let client = self.client.clone();
            kills.spawn(async move { nested::kill(&client, &id, Signal::SIGKILL as i32).await });
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), kills.join_all()).await;
    }

    /// The earliest kill or completion deadline of any task.
    fn next_timer(&self) -> Option<Instant> {
        self.tasks
            .values()
            .filter(|m| m.running)
            .flat_map(|m| [m.kill_deadline, m.max_completion])
            .flatten()
            .min()
    }

    async fn on_timers(&mut self) {
        let now = Instant::now();
        let mut overdue = Vec::new();
        for (id, member) in &mut self.tasks {
            if !member.running {
                continue;
            }
            if member.kill_deadline.is_some_and(|d| d <= now) {
                member.kill_deadline = None;
                member.signal(&self.client, Signal::SIGKILL);
            }
            if member.max_completion.is_some_and(|d| d <= now) {
                member.max_completion = None;
                overdue.push(id.clone());
            }
        }
        for id in overdue {
            self.kill(&id, KillCause::MaxCompletion, Duration::ZERO)
                .await;
        }
    }

    async fn on_exit(&mut self, id: &str, waited: Result<Waited, String>) {
        let Some(member) = self.tasks.get_mut(id) else {
            return;
        };
        member.running = false;
        member.kill_deadline = None;
        member.max_completion = None;
        member.stop_probes();
        // (What the command left behind goes with its nested container's cgroup.)
        let status = waited.as_ref().ok().and_then(|w| w.exit_status).map(|raw| {
            use std::os::unix::process::ExitStatusExt;
            std::process::ExitStatus::from_raw(raw)
        });
        // The agent ended the container for a reason of its own (its I/O switchboard died):
        // the task ends as the agent says, unless a kill was asked for.
        if let Ok(w) = &waited
            && status.is_none()
            && member.killing.is_none()
            && let Some(state) = w.state
        {
            let message = w
                .message
                .clone()
                .unwrap_or_else(|| "Container ended".to_owned());
            let reason = w.reason;
            self.finish(id, state, reason, message, None).await;
            return;
        }
        let mut message = match (&waited, status) {
            (_, Some(status)) => task::exit_message(status),
            (Ok(w), None) => w
                .message
                .clone()
                .unwrap_or_else(|| "Container ended".to_owned()),
            (Err(error), None) => error.clone(),
        };
        let success = status.is_some_and(|s| s.success());
        let (state, reason, healthy) = match &member.killing {
            Some(KillCause::MaxCompletion) => {
                let row = emission(Trigger::MaxCompletionTimeReached);
                (
                    row.state_for(true, v1::TaskState::TaskRunning),
                    Some(row.reason),
                    None,
                )
            }
            Some(KillCause::Health) => (v1::TaskState::TaskKilled, None, Some(false)),
            Some(KillCause::Group(other, how)) => {
                message = format!("{message}; killed with its group: task '{other}' {how}");
                (v1::TaskState::TaskKilled, None, None)
            }
            Some(_) => (v1::TaskState::TaskKilled, None, None),
            None if success => (v1::TaskState::TaskFinished, None, None),
            None => (v1::TaskState::TaskFailed, None, None),
        };
        self.finish(id, state, reason, message, healthy).await;
    }

    /// Reports the terminal state of task `id`; unless it finished (or the executor is
    /// shutting down) the rest of its group is killed, as Mesos' default executor does.
    async fn finish(
        &mut self,
        id: &str,
        state: v1::TaskState,
        reason: Option<v1::task_status::Reason>,
        message: String,
        healthy: Option<bool>,
    ) {
        self.send(id, state, reason, Some(message), |s| {
            if healthy.is_some() {
                s.healthy = healthy;
            }
        })
        .await;
        let Some(member) = self.tasks.get_mut(id) else {
            return;
        };
        member.terminal = true;
        let group = member.group;
        let group_killed = matches!(member.killing, Some(KillCause::Group(..)));
        if state == v1::TaskState::TaskFinished || self.shutting_down || group_killed {
            return;
        }
        let how = match state {
            v1::TaskState::TaskFailed => "failed",
            v1::TaskState::TaskKilled => "was killed",
            _ => "ended",
        };
        let siblings: Vec<(String, Duration)> = self
            .tasks
            .iter()
            .filter(|(other, m)| m.group == group && other.as_str() != id && !m.terminal)
            .map(|(other, m)| {
                let grace = task::kill_grace(None, m.info.kill_policy, DEFAULT_KILL_GRACE);
                (other.clone(), grace)
            })
            .collect();
        for (other, grace) in siblings {
            self.kill(&other, KillCause::Group(id.to_owned(), how), grace)
                .await;
        }
    }

    /// Sends an update of task `id` built from its previous one, keeping it until the agent
    /// acknowledges it.
    async fn send(
        &mut self,
        id: &str,
        state: v1::TaskState,
        reason: Option<v1::task_status::Reason>,
        message: Option<String>,
        edit: impl FnOnce(&mut v1::TaskStatus),
    ) {
        let Some(member) = self.tasks.get_mut(id) else {
            return;
        };
        let mut status = crate::outbox::status(
            &member.info.task_id,
            &self.env.executor_id,
            member.last_status.as_ref(),
            state,
            reason,
            message,
        );
        // Which nested container runs it, as Mesos' default executor said (`task exec` goes
        // there).
        if let Some(container) = &member.container {
            status.container_status = Some(v1::ContainerStatus {
                container_id: Some(container.clone()),
                ..Default::default()
            });
        }
        edit(&mut status);
        member.last_status = Some(status.clone());
        self.outbox.send(status).await;
    }
}

/// Aborts a spawned task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Makes the task's `SANDBOX_PATH` volumes (type `PARENT`: a directory of the executor's
/// sandbox, shared by the group) appear at their paths in the task's sandbox. A read-write
/// volume is a symbolic link; a read-only one is a read-only bind mount, which needs the
/// executor to run as root (the agent checked the paths are relative and stay inside).
fn mount_volumes(
    info: &v1::TaskInfo,
    executor_sandbox: &Path,
    sandbox: &Path,
) -> Result<(), String> {
    let Some(container) = info.container.as_deref() else {
        return Ok(());
    };
    for volume in &container.volumes {
        let Some(source) = volume.source.as_ref().and_then(|s| s.sandbox_path.as_ref()) else {
            continue;
        };
        let from = executor_sandbox.join(&source.path);
        let to = sandbox.join(&volume.container_path);
        let fail = |what: &str, e: &dyn std::fmt::Display| {
            format!(
                "Failed to {what} volume '{}' at '{}': {e}",
                source.path, volume.container_path
            )
        };
        std::fs::create_dir_all(&from).map_err(|e| fail("create", &e))?;
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(|e| fail("prepare", &e))?;
        }
        if volume.mode == v1::volume::Mode::Ro as i32 {
            use nix::mount::{MsFlags, mount};
            std::fs::create_dir_all(&to).map_err(|e| fail("prepare", &e))?;
            mount(
                Some(&from),
                &to,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(|e| fail("bind-mount read-only", &e))?;
            mount(
                None::<&str>,
                &to,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
                None::<&str>,
            )
            .map_err(|e| fail("bind-mount read-only", &e))?;
        } else {
            let target = pathdiff(&from, to.parent().unwrap_or(sandbox));
            std::os::unix::fs::symlink(&target, &to).map_err(|e| fail("link", &e))?;
        }
    }
    Ok(())
}

/// `to` relative to directory `base`, when `base` lies inside the executor's sandbox below
/// `to`'s common ancestor (as a task's sandbox does); else `to` itself.
fn pathdiff(to: &Path, base: &Path) -> PathBuf {
    let to_parts: Vec<_> = to.components().collect();
    let base_parts: Vec<_> = base.components().collect();
    let common = to_parts
        .iter()
        .zip(&base_parts)
        .take_while(|(a, b)| a == b)
        .count();
    if common == 0 {
        return to.to_path_buf();
    }
    let mut out = PathBuf::new();
    for _ in common..base_parts.len() {
        out.push("..");
    }
    for part in &to_parts[common..] {
        out.push(part);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::pathdiff;
    use std::path::Path;

    #[test]
    fn volume_links_are_relative_to_the_task_sandbox() {
        assert_eq!(
            pathdiff(Path::new("/s/volumes/v"), Path::new("/s/tasks/t1")),
            Path::new("../../volumes/v")
        );
        assert_eq!(
            pathdiff(Path::new("/s/volumes/v"), Path::new("/s/tasks/t1/etc")),
            Path::new("../../../volumes/v")
        );
    }
}
