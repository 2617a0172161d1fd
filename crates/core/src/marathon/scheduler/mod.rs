//! The scheduler state machine: `Scheduler::handle(now_ms, Input) -> Vec<Effect>`. It owns
//! apps and their versions, instances, deployments, launch delays and offer statistics; the
//! driver feeds it API commands, Mesos events, health results and timer ticks, and carries out
//! the effects (persist first, then reply and send).

mod commands;
mod converge;
#[cfg(test)]
mod equivalence_tests;
mod executor_health;
mod groups;
mod index;
mod offers;
mod pods;
mod readiness;
mod status;

use std::collections::BTreeMap;
use std::fmt;

use drover_wire::v1;

pub use commands::{Command, CommandError, KillTarget, Reply};

use super::app::AppSpec;
use super::backoff::LaunchDelay;
use super::condition::{Condition, Goal};
use super::deployment::Deployment;
use super::event::Event;
use super::group::{GroupSnapshot, GroupSpec};
use super::instance::Instance;
use super::offer::RejectReason;
use super::path::PathId;
use crate::task::TaskState;
pub use index::InstanceMap;
use index::{Instances, TimerConfig};

/// The kill target of one task id (the app is taken from the id), for tests and callers that
/// only have a task id.
pub fn commands_target(task_id: &str) -> KillTarget {
    KillTarget::Tasks(vec![task_id.to_owned()])
}

/// Tunables (Marathon's flags).
#[derive(Debug, Clone)]
pub struct Config {
    /// `--task_launch_timeout`: a task still staging after this long is killed.
    pub task_launch_timeout_ms: u64,
    /// `--reconciliation_interval`.
    pub reconciliation_interval_ms: u64,
    /// How often a kill that did not take effect is repeated (Marathon's
    /// `--kill_retry_timeout`, 10 s by default).
    pub kill_retry_ms: u64,
    /// Most instances launched from one offer.
    pub max_instances_per_offer: usize,
    /// How long a declined offer is not offered again while we still want offers.
    pub decline_refuse_seconds: f64,
    /// How long a declined offer is not offered again when we want nothing.
    pub idle_refuse_seconds: f64,
    /// Versions kept per app.
    pub max_versions: usize,
    /// Most deployments running at once.
    pub max_running_deployments: usize,
    /// `--local_port_min`, `--local_port_max`: where service ports come from (half-open).
    pub service_port_range: (u32, u32),
    /// `--mesos_authentication_principal`: the principal of resident apps' reservations and
    /// volumes.
    pub principal: Option<String>,
    /// `--mesos_role`: the role the framework registers with, the only one a resident app can
    /// reserve for.
    pub mesos_role: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            task_launch_timeout_ms: 300_000,
            reconciliation_interval_ms: 600_000,
            kill_retry_ms: 10_000,
            max_instances_per_offer: 100,
            decline_refuse_seconds: 5.0,
            idle_refuse_seconds: 120.0,
            max_versions: 50,
            max_running_deployments: 100,
            service_port_range: crate::marathon::service_ports::DEFAULT_RANGE,
            principal: None,
            mesos_role: "*".into(),
        }
    }
}

/// Where new identifiers (instance uuids, deployment ids) come from. The driver uses random
/// UUIDs; tests and the simulator use a deterministic source.
pub trait IdSource: Send + fmt::Debug {
    /// A fresh, unique id.
    fn next_id(&mut self) -> String;
}

/// Deterministic ids `00000000-0000-0000-0000-000000000001`, … for tests and simulation.
#[derive(Debug, Default)]
pub struct SequentialIds(pub u64);

impl IdSource for SequentialIds {
    fn next_id(&mut self) -> String {
        self.0 += 1;
        format!("00000000-0000-0000-0000-{:012x}", self.0)
    }
}

/// Something the scheduler is told.
// A command carries a whole app definition; inputs are moved once into `handle` and never
// stored, so the size of the largest variant costs nothing worth a box at every call site.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Input {
    /// An API command; answered by [`Effect::Reply`].
    Command(Command),
    /// The framework subscribed (or resubscribed) with this id.
    Subscribed {
        /// Framework id assigned or confirmed by the master.
        framework_id: String,
    },
    /// The connection to the master was lost.
    Disconnected,
    /// The master removed the framework (TEARDOWN, or its failover timeout ran out): every
    /// task of it is gone, and the next [`Input::Subscribed`] brings a new framework id.
    FrameworkRemoved,
    /// Offers arrived.
    Offers(Vec<v1::Offer>),
    /// A task status update arrived.
    Update(v1::TaskStatus),
    /// A scheduler-run health check finished.
    HealthResult {
        /// Instance checked.
        instance_id: String,
        /// Index of the check in the app's `healthChecks`.
        check_index: usize,
        /// Passed?
        alive: bool,
        /// Why it failed.
        cause: Option<String>,
    },
    /// A readiness probe ([`Effect::ReadinessProbe`]) finished.
    ReadinessResult {
        /// The probe it answers.
        probe: super::readiness::Probe,
        /// What came back.
        outcome: super::readiness::ProbeOutcome,
    },
    /// A timer from [`Scheduler::next_deadline`] may have expired.
    Tick,
}

/// What changed and must be written to the store before anything else of the step happens.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    /// The app's current definition (absent: deleted, with all its versions).
    App(PathId),
    /// One stored version of an app.
    AppVersion(PathId, u64),
    /// An instance (absent: expunged).
    Instance(String),
    /// A deployment (absent: finished or cancelled).
    Deployment(String),
    /// The framework id.
    FrameworkId,
    /// An explicit group (absent: removed).
    Group(PathId),
    /// One stored version of a group (absent: dropped).
    GroupVersion(PathId, u64),
}

/// Something the driver must do.
#[derive(Debug, Clone)]
pub enum Effect {
    /// Write this state (read it from the scheduler's views) before anything else.
    Persist(Change),
    /// Answer the command of this step.
    Reply(Result<Reply, CommandError>),
    /// Accept an offer: first `operations` (a resident instance's RESERVE and CREATE, or the
    /// DESTROY and UNRESERVE of reservations no longer wanted), then these tasks (LAUNCH) and
    /// task groups (one LAUNCH_GROUP each: the pod instances), in one ACCEPT.
    Launch {
        /// Offer used.
        offer_id: String,
        /// Agent of the offer.
        agent_id: String,
        /// Reservation operations, applied before the launches.
        operations: Vec<v1::offer::Operation>,
        /// Tasks to launch.
        tasks: Vec<v1::TaskInfo>,
        /// Task groups to launch, each with its executor.
        groups: Vec<v1::offer::operation::LaunchGroup>,
    },
    /// Decline offers.
    Decline {
        /// Offers declined.
        offer_ids: Vec<String>,
        /// Filter duration.
        refuse_seconds: f64,
    },
    /// Kill a task.
    Kill {
        /// Task id.
        task_id: String,
        /// Agent id, if known.
        agent_id: Option<String>,
    },
    /// Acknowledge a status update.
    Acknowledge {
        /// Agent id.
        agent_id: String,
        /// Task id.
        task_id: String,
        /// The update's uuid.
        uuid: Vec<u8>,
    },
    /// Reconcile: explicitly these tasks, then implicitly (empty list) all.
    Reconcile {
        /// (task id, agent id).
        tasks: Vec<(String, Option<String>)>,
    },
    /// Ask for offers again (clears filters).
    Revive,
    /// Stop sending offers.
    Suppress,
    /// Publish an event on the event bus.
    Publish(Event),
    /// Make one readiness request and answer with [`Input::ReadinessResult`].
    ReadinessProbe(super::readiness::Probe),
    /// Write this line to the scheduler's log at info (seed 2: "you can consult the Marathon
    /// logs for these messages"). Decided here so every driver logs the same thing.
    Log(ConditionLog),
}

/// One task status the scheduler handled: what arrived and what it did about it, as the
/// scheduler's log records it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConditionLog {
    /// App of the instance, when the task id names one this scheduler knows.
    pub app_id: Option<PathId>,
    /// Instance id, when the task id parses.
    pub instance_id: Option<String>,
    /// Mesos task id.
    pub task_id: String,
    /// Mesos state of the update.
    pub state: TaskState,
    /// Mesos reason, if any.
    pub reason: Option<crate::task::Reason>,
    /// Mesos source, if any.
    pub source: Option<crate::task::Source>,
    /// The update's message, if any.
    pub message: Option<String>,
    /// Condition the instance had before (None for a task no instance owns).
    pub previous: Option<Condition>,
    /// Condition the update maps to (seed 2's `case TASK_… => …`).
    pub condition: Condition,
    /// What the scheduler did, in words.
    pub reaction: &'static str,
}

/// Most forgotten reservations remembered for release (a bound on the set; any beyond it are
/// still released when offered, as unknown ones).
const RELEASING_MAX: usize = 10_000;

/// A forgotten instance's reservation still to be given back.
#[derive(Debug, Clone)]
struct Releasing {
    /// The agent that holds it.
    agent_id: String,
    /// When the instance was forgotten, or part of its reservation last given back.
    since_ms: u64,
    /// The persistence ids of its volumes not destroyed yet. A pod's volumes sit on its
    /// executor, whose resources the master offers only once the executor has ended, which can
    /// be after its tasks' resources were offered and given back: offers stay wanted until the
    /// volumes come too, or the reservation would be left half released.
    volumes: std::collections::BTreeSet<String>,
}

/// The last failure of an app's tasks, as `lastTaskFailure` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskFailure {
    /// App id.
    pub app_id: PathId,
    /// Agent hostname.
    pub host: String,
    /// Status message.
    pub message: String,
    /// Mesos state.
    pub state: TaskState,
    /// Task id.
    pub task_id: String,
    /// Instance id.
    pub instance_id: String,
    /// When.
    pub timestamp_ms: u64,
    /// App version of the task.
    pub version_ms: u64,
    /// Agent id.
    pub slave_id: String,
}

/// Per-app offer statistics for `/v2/queue`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OfferStats {
    /// Offers looked at.
    pub processed: u64,
    /// Offers that launched nothing of this app.
    pub unused: u64,
    /// Last offer that launched nothing.
    pub last_unused_at_ms: Option<u64>,
    /// Last offer that launched something.
    pub last_used_at_ms: Option<u64>,
    /// Per reason: (declined for it, processed).
    pub rejects: BTreeMap<RejectReason, u64>,
}

/// A launch-queue entry as `/v2/queue` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueEntry {
    /// App id.
    pub app_id: PathId,
    /// Instances still to launch.
    pub count: usize,
    /// Milliseconds of backoff left (0 when waiting for offers).
    pub delay_left_ms: u64,
    /// When the oldest waiting instance was scheduled.
    pub since_ms: u64,
    /// Offer statistics.
    pub stats: OfferStats,
    /// Why nothing launches, in words.
    pub reason: String,
}

/// What the store held, to rebuild the scheduler after a restart.
#[derive(Debug, Default)]
pub struct Restored {
    /// Framework id, if one was assigned.
    pub framework_id: Option<String>,
    /// Current app definitions.
    pub apps: Vec<AppSpec>,
    /// Stored versions.
    pub versions: Vec<AppSpec>,
    /// Instances.
    pub instances: Vec<Instance>,
    /// Deployments.
    pub deployments: Vec<Deployment>,
    /// Explicit groups.
    pub groups: Vec<GroupSpec>,
    /// Stored group versions.
    pub group_versions: Vec<GroupSnapshot>,
}

/// The Marathon scheduler's state.
#[derive(Debug)]
pub struct Scheduler {
    config: Config,
    ids: Box<dyn IdSource>,
    framework_id: Option<String>,
    subscribed: bool,
    apps: BTreeMap<PathId, AppSpec>,
    versions: BTreeMap<PathId, BTreeMap<u64, AppSpec>>,
    instances: Instances,
    deployments: BTreeMap<String, Deployment>,
    groups: BTreeMap<PathId, GroupSpec>,
    group_versions: BTreeMap<PathId, BTreeMap<u64, GroupSnapshot>>,
    delays: BTreeMap<PathId, LaunchDelay>,
    stats: BTreeMap<PathId, OfferStats>,
    failures: BTreeMap<PathId, TaskFailure>,
    /// Instances whose readiness checks are being probed, and their results.
    readiness: super::readiness::Tracker,
    /// The executor's health verdicts per instance (not persisted: rebuilt by the next ones).
    executor_health: BTreeMap<String, super::instance::HealthResult>,
    /// The latest `check_status` per instance (not persisted: the next change brings it).
    check_results: BTreeMap<String, v1::CheckStatusInfo>,
    /// Instances forgotten while holding a reservation, whose resources and volumes are to be
    /// given back when an offer holds them; offers are wanted meanwhile. Not persisted: after a
    /// restart such reservations are unknown ones, released when next offered.
    releasing: BTreeMap<String, Releasing>,
    next_reconcile_ms: Option<u64>,
    /// Whether we last told the master we want offers (`None`: not told since subscribing).
    offers_wanted: Option<bool>,
    last_version_ms: u64,
    /// The time of the latest input, so [`Scheduler::next_deadline`] never reports a launch
    /// delay that already ended (the driver would otherwise spin on it until it expires).
    last_input_ms: u64,
    effects: Vec<Effect>,
    /// Converge every app and run every instance's timers on each input instead of only the
    /// touched apps and due timers: the reference the indexes are tested against.
    full_scan: bool,
}

impl Scheduler {
    /// An empty scheduler.
    pub fn new(config: Config, ids: Box<dyn IdSource>) -> Self {
        Scheduler::restore(config, ids, Restored::default())
    }

    /// A scheduler rebuilt from stored state. Deployments resume where their state says.
    pub fn restore(config: Config, ids: Box<dyn IdSource>, restored: Restored) -> Self {
        let timers = TimerConfig {
            launch_timeout_ms: config.task_launch_timeout_ms,
            kill_retry_ms: config.kill_retry_ms,
        };
        let mut scheduler = Scheduler {
            config,
            ids,
            framework_id: restored.framework_id,
            subscribed: false,
            apps: BTreeMap::new(),
            versions: BTreeMap::new(),
            instances: Instances::new(timers),
            deployments: BTreeMap::new(),
            groups: BTreeMap::new(),
            group_versions: BTreeMap::new(),
            delays: BTreeMap::new(),
            stats: BTreeMap::new(),
            failures: BTreeMap::new(),
            readiness: Default::default(),
            executor_health: BTreeMap::new(),
            check_results: BTreeMap::new(),
            releasing: Default::default(),
            next_reconcile_ms: None,
            offers_wanted: None,
            last_version_ms: 0,
            last_input_ms: 0,
            effects: Vec::new(),
            full_scan: false,
        };
        for app in restored.versions {
            scheduler.last_version_ms = scheduler.last_version_ms.max(app.version_ms);
            scheduler
                .versions
                .entry(app.id.clone())
                .or_default()
                .insert(app.version_ms, app);
        }
        for app in restored.apps {
            scheduler.last_version_ms = scheduler.last_version_ms.max(app.version_ms);
            scheduler
                .versions
                .entry(app.id.clone())
                .or_default()
                .insert(app.version_ms, app.clone());
            scheduler.instances.set_app(&app.id, Some(&app));
            scheduler.apps.insert(app.id.clone(), app);
        }
        for instance in restored.instances {
            let id = instance.id.clone();
            scheduler.instances.insert(instance);
            // Probing starts again from nothing after a restart.
            scheduler.readiness_sync(0, &id);
        }
        for group in restored.groups {
            scheduler.groups.insert(group.id.clone(), group);
        }
        for snapshot in restored.group_versions {
            scheduler
                .group_versions
                .entry(snapshot.id.clone())
                .or_default()
                .insert(snapshot.version_ms, snapshot);
        }
        for deployment in restored.deployments {
            scheduler.last_version_ms = scheduler.last_version_ms.max(deployment.version_ms);
            scheduler
                .deployments
                .insert(deployment.id.clone(), deployment);
        }
        scheduler
    }

    /// Handles one input at `now_ms` (milliseconds since the epoch on the driver's clock) and
    /// returns what to do, `Persist` effects first.
    pub fn handle(&mut self, now_ms: u64, input: Input) -> Vec<Effect> {
        self.last_input_ms = self.last_input_ms.max(now_ms);
        match input {
            Input::Command(command) => {
                let reply = self.command(now_ms, command);
                self.effects.push(Effect::Reply(reply));
            }
            Input::Subscribed { framework_id } => self.subscribed(now_ms, framework_id),
            Input::Disconnected => {
                self.subscribed = false;
                self.next_reconcile_ms = None;
                self.offers_wanted = None;
            }
            Input::FrameworkRemoved => self.framework_removed(now_ms),
            Input::Offers(offers) => self.offers(now_ms, offers),
            Input::Update(status) => {
                let instance_id = crate::marathon::instance::parse_task_id(&status.task_id.value)
                    .map(|(i, _)| i.to_owned());
                self.executor_health(now_ms, &status);
                self.update(now_ms, status);
                if let Some(id) = instance_id {
                    self.readiness_sync(now_ms, &id);
                    if !self.instances.contains(&id) {
                        self.executor_health.remove(&id);
                        self.check_results.remove(&id);
                    }
                }
            }
            Input::ReadinessResult { probe, outcome } => {
                self.readiness_result(now_ms, probe, outcome);
            }
            Input::HealthResult {
                instance_id,
                check_index,
                alive,
                cause,
            } => self.health_result(now_ms, &instance_id, check_index, alive, cause),
            Input::Tick => {}
        }
        self.converge(now_ms);
        self.readiness_probes(now_ms);
        let mut effects = std::mem::take(&mut self.effects);
        // Persist first (stable, so the rest keeps its order); duplicates are dropped.
        effects.sort_by_key(|e| !matches!(e, Effect::Persist(_)));
        let mut seen = std::collections::BTreeSet::new();
        effects.retain(|e| match e {
            Effect::Persist(change) => seen.insert(change.clone()),
            _ => true,
        });
        effects
    }

    fn subscribed(&mut self, now_ms: u64, framework_id: String) {
        if self.framework_id.as_deref() != Some(framework_id.as_str()) {
            self.framework_id = Some(framework_id);
            self.effects.push(Effect::Persist(Change::FrameworkId));
        }
        self.subscribed = true;
        self.offers_wanted = None;
        self.reconcile(now_ms);
        // Kills sent while the connection was down were dropped by the client (only
        // launches wait for it): send them again now rather than a retry period later, or
        // a scaled-down app keeps its surplus running that long.
        let pending: Vec<String> = self
            .instances
            .all()
            .values()
            .filter(|i| i.has_task() && !i.condition.is_terminal() && i.kill_sent_ms.is_some())
            .map(|i| i.id.clone())
            .collect();
        for id in pending {
            self.kill(now_ms, &id);
        }
    }

    fn reconcile(&mut self, now_ms: u64) {
        let tasks = self
            .instances
            .all()
            .values()
            // A Provisioned task has no Mesos status yet: its ACCEPT may still be queued behind
            // this call (the client holds launches while disconnected), and a master that has
            // not seen it rightly answers TASK_GONE, which the launch would then contradict.
            // Marathon 1.10 names only tasks with a Mesos status too; the implicit
            // reconciliation below still reports any that did launch, and the launch timeout
            // expunges any that did not (seed 1717454680918800133).
            .filter(|i| {
                i.has_task()
                    && !i.condition.is_terminal()
                    && (i.condition != Condition::Provisioned || i.is_pod())
            })
            .flat_map(|i| {
                let agent = i.placement.as_ref().map(|p| p.agent_id.clone());
                // A pod's tasks that have a Mesos status (the others may still be queued).
                let ids = if i.is_pod() {
                    i.tasks
                        .iter()
                        .filter(|t| t.state.is_some() && !t.condition.is_terminal())
                        .map(|t| {
                            crate::marathon::pod::launch::task_id(
                                &i.id,
                                &t.container,
                                i.incarnation,
                            )
                        })
                        .collect()
                } else {
                    vec![i.task_id()]
                };
                ids.into_iter().map(move |id| (id, agent.clone()))
            })
            .collect();
        self.effects.push(Effect::Reconcile { tasks });
        self.next_reconcile_ms =
            Some(now_ms.saturating_add(self.config.reconciliation_interval_ms));
    }

    /// The earliest time at which [`Input::Tick`] has something to do.
    pub fn next_deadline(&self) -> Option<u64> {
        let mut deadlines: Vec<u64> = Vec::new();
        deadlines.extend(self.next_reconcile_ms);
        // Unreachable phases, launch timeouts and kill retries, kept in a timer index.
        deadlines.extend(self.instances.next_timer());
        deadlines.extend(self.readiness.next_deadline());
        for (app_id, delay) in &self.delays {
            if let Some(app) = self.apps.get(app_id) {
                if delay.deadline_ms() > self.last_input_ms {
                    deadlines.push(delay.deadline_ms());
                }
                deadlines.push(
                    delay
                        .deadline_ms()
                        .saturating_add(app.max_launch_delay_seconds.saturating_mul(1000)),
                );
            }
        }
        deadlines.into_iter().min()
    }

    // ---- read-only views for the API ------------------------------------------------------

    /// The framework id, once assigned.
    pub fn framework_id(&self) -> Option<&str> {
        self.framework_id.as_deref()
    }

    /// Whether the framework is subscribed.
    pub fn is_subscribed(&self) -> bool {
        self.subscribed
    }

    /// Current app definitions, by id.
    pub fn apps(&self) -> &BTreeMap<PathId, AppSpec> {
        &self.apps
    }

    /// One app.
    pub fn app(&self, id: &PathId) -> Option<&AppSpec> {
        self.apps.get(id)
    }

    /// Stored versions of an app, oldest first.
    pub fn versions(&self, id: &PathId) -> impl Iterator<Item = &AppSpec> {
        self.versions.get(id).into_iter().flat_map(|v| v.values())
    }

    /// All instances by id.
    pub fn instances(&self) -> &InstanceMap {
        self.instances.all()
    }

    /// Instances of one app.
    pub fn instances_of<'a>(&'a self, id: &'a PathId) -> impl Iterator<Item = &'a Instance> + 'a {
        self.instances.of_app(id)
    }

    /// Running deployments, oldest first.
    pub fn deployments(&self) -> Vec<&Deployment> {
        let mut all: Vec<_> = self.deployments.values().collect();
        all.sort_by(|a, b| a.version_ms.cmp(&b.version_ms).then(a.id.cmp(&b.id)));
        all
    }

    /// One deployment.
    pub fn deployment(&self, id: &str) -> Option<&Deployment> {
        self.deployments.get(id)
    }

    /// Ids of the deployments affecting an app.
    pub fn deployments_of(&self, id: &PathId) -> Vec<String> {
        self.deployments()
            .into_iter()
            .filter(|d| d.affected_apps.contains(id))
            .map(|d| d.id.clone())
            .collect()
    }

    /// The last task failure of an app.
    pub fn last_failure(&self, id: &PathId) -> Option<&TaskFailure> {
        self.failures.get(id)
    }

    /// The launch queue at `now_ms`.
    pub fn queue(&self, now_ms: u64) -> Vec<QueueEntry> {
        // Only apps with queued instances have an entry; the index keeps them in id order.
        let mut entries = Vec::new();
        for app_id in self.instances.queued_apps() {
            if !self.apps.contains_key(app_id) {
                continue;
            }
            let count = self.instances.queued_count(app_id);
            let since_ms = self
                .instances
                .queued_of(app_id)
                .map(|i| i.since_ms)
                .min()
                .unwrap_or(now_ms);
            let stats = self.stats.get(app_id).cloned().unwrap_or_default();
            entries.push(QueueEntry {
                app_id: app_id.clone(),
                count,
                delay_left_ms: self.delay_left_ms(app_id, now_ms),
                since_ms,
                reason: self.queue_reason(app_id, now_ms),
                stats,
            });
        }
        entries
    }

    fn delay_left_ms(&self, app_id: &PathId, now_ms: u64) -> u64 {
        self.delays
            .get(app_id)
            .map_or(0, |d| d.deadline_ms().saturating_sub(now_ms))
    }

    /// Why an app's queued instances do not launch, in words.
    fn queue_reason(&self, app_id: &PathId, now_ms: u64) -> String {
        let delay_left_ms = self.delay_left_ms(app_id, now_ms);
        let rejects = self.stats.get(app_id).map(|s| &s.rejects);
        if delay_left_ms > 0 {
            format!("launch delayed by backoff for {} more ms", delay_left_ms)
        } else if !self.subscribed {
            "not subscribed to the master".to_owned()
        } else if let Some((reason, _)) = rejects.and_then(|r| r.iter().max_by_key(|(_, n)| **n)) {
            format!(
                "waiting for a matching offer; offers were rejected mostly for {}",
                reason.name()
            )
        } else {
            "waiting for offers".to_owned()
        }
    }

    /// Checks the state's invariants; panics with the violated rule. Tests call it after every
    /// step.
    pub fn check_invariants(&self) {
        for (id, instance) in self.instances.all().iter() {
            assert_eq!(id, instance.id, "instance keyed by its id");
            assert!(
                instance.goal == Goal::Decommissioned || self.apps.contains_key(&instance.app_id),
                "instance {id} with goal Running belongs to an existing app"
            );
            assert!(
                !(instance.goal == Goal::Running && instance.condition.is_terminal()),
                "terminal instance {id} with goal Running was not expunged"
            );
            assert!(
                instance.condition == Condition::Scheduled || instance.placement.is_some(),
                "launched instance {id} has a placement"
            );
        }
        for (id, deployment) in &self.deployments {
            assert!(
                deployment.current_step < deployment.steps.len(),
                "deployment {id} past its last step is removed"
            );
        }
        for (id, app) in &self.apps {
            assert_eq!(id, &app.id, "app keyed by its id");
            assert!(
                self.versions
                    .get(id)
                    .is_some_and(|v| v.contains_key(&app.version_ms)),
                "current version of {id} is stored"
            );
        }
        self.instances.check(&self.apps);
    }

    /// Converges every app and checks every instance's timers on each input (the reference
    /// behaviour the indexes must reproduce).
    #[cfg(test)]
    pub(crate) fn set_full_scan(&mut self, on: bool) {
        self.full_scan = on;
    }

    fn publish(&mut self, event: Event) {
        // Marathon follows each health flip of an instance with the instance-level event.
        let instance_level = match &event {
            Event::HealthStatusChanged {
                app_id,
                instance_id,
                version_ms,
                ..
            } => self
                .instances
                .get(instance_id)
                .map(|i| Event::InstanceHealthChanged {
                    app_id: app_id.clone(),
                    instance_id: instance_id.clone(),
                    version_ms: *version_ms,
                    healthy: i.mesos_healthy != Some(false) && i.health.iter().all(|h| h.alive()),
                }),
            _ => None,
        };
        self.effects.push(Effect::Publish(event));
        if let Some(event) = instance_level {
            self.effects.push(Effect::Publish(event));
        }
    }

    fn persist(&mut self, change: Change) {
        self.effects.push(Effect::Persist(change));
    }

    fn next_version(&mut self, now_ms: u64) -> u64 {
        self.last_version_ms = now_ms.max(self.last_version_ms + 1);
        self.last_version_ms
    }

    fn instance_changed(&mut self, instance_id: &str) {
        if let Some(i) = self.instances.get(instance_id) {
            let event = instance_changed_event(i);
            self.publish(event);
        }
        self.persist(Change::Instance(instance_id.to_owned()));
    }
}

fn instance_changed_event(i: &Instance) -> Event {
    Event::InstanceChanged {
        instance_id: i.id.clone(),
        condition: i.condition,
        run_spec_id: i.app_id.clone(),
        agent_id: i.placement.as_ref().map(|p| p.agent_id.clone()),
        host: i.placement.as_ref().map(|p| p.agent.hostname.clone()),
        run_spec_version_ms: i.app_version_ms,
    }
}
