//! The scheduler's instances with incremental indexes: per-app membership and tallies, the
//! launch queue, decommissioned instances that still need a kill or an expunge, per-instance
//! timer deadlines, and the apps an input touched. Every change to an instance goes through
//! [`Instances::modify`], so each input costs what it touches instead of a scan of everything.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::marathon::app::AppSpec;
use crate::marathon::condition::{Condition, Goal};
use crate::marathon::instance::Instance;
use crate::marathon::path::PathId;
use crate::marathon::unreachable::UnreachableStrategy;

/// What of an app's definition the per-instance index entries depend on. Kept per app so
/// that an instance's old entries can be removed exactly as they were added; a new app
/// definition re-indexes the app's instances ([`Instances::set_app`]).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct AppParams {
    strategy: UnreachableStrategy,
    checks: bool,
    mesos_check: bool,
    config_ms: u64,
}

impl AppParams {
    fn of(app: Option<&AppSpec>) -> AppParams {
        let Some(app) = app else {
            // An instance whose app is gone: the default strategy, as the timers use.
            return AppParams::default();
        };
        AppParams {
            strategy: app.unreachable_strategy,
            checks: !app.health_checks.is_empty(),
            mesos_check: app
                .health_checks
                .iter()
                .any(|c| c.protocol.runs_on_executor()),
            config_ms: app.last_config_change_at_ms,
        }
    }
}

/// Counts over one app's instances, what deployments and scale checks look at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Tally {
    /// All instances.
    pub total: usize,
    /// Goal Decommissioned (being killed), or Stopped with a task that may still run.
    pub decommissioned: usize,
    /// Goal Stopped with no task running: resident instances kept with their reservation.
    pub parked: usize,
    /// Counting toward `instances` ([`Instance::counts`]).
    pub counting: usize,
    /// Counting and of the app's current configuration (a restart's new instances).
    pub counting_current: usize,
    /// Decommissioned, still active, of an older configuration (a restart's dying old ones).
    pub dying_old: usize,
    /// Goal Running and ready (running and, with checks, healthy).
    pub ready: usize,
    /// Ready and of the app's current configuration.
    pub ready_current: usize,
}

/// One app's share of the index.
#[derive(Debug, Clone, Default, PartialEq)]
struct AppEntry {
    /// Whether the app is defined (an entry of an undefined app goes with its last instance).
    defined: bool,
    params: AppParams,
    ids: BTreeSet<Arc<str>>,
    /// Goal Running and Scheduled: waiting for an offer.
    queued: BTreeSet<Arc<str>>,
    tally: Tally,
}

/// The sets shared by all apps, borrowed apart from the instances so an instance can be
/// changed and re-indexed without cloning its ids.
#[derive(Debug, Clone, Default, PartialEq)]
struct Sets {
    /// Apps with at least one queued instance.
    queued_apps: BTreeSet<PathId>,
    /// Decommissioned instances that still need a kill sent, or an expunge.
    pending_kill: BTreeSet<Arc<str>>,
    /// (deadline, instance id) of every instance with a timer.
    timers: BTreeSet<(u64, Arc<str>)>,
}

/// Everything one instance adds to the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Share {
    decommissioned: bool,
    parked: bool,
    counting: bool,
    counting_current: bool,
    dying_old: bool,
    ready: bool,
    ready_current: bool,
    queued: bool,
    pending_kill: bool,
    deadline: Option<u64>,
}

/// Timer tunables the deadlines depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TimerConfig {
    pub launch_timeout_ms: u64,
    pub kill_retry_ms: u64,
}

/// The earliest time at which the timers have something to do for this instance (the
/// scheduler's `timers` acts on it exactly when this is at or before now).
fn deadline(i: &Instance, p: &AppParams, t: TimerConfig) -> Option<u64> {
    let mut at: Option<u64> = None;
    let mut consider = |d: Option<u64>| {
        if let Some(d) = d {
            at = Some(at.map_or(d, |a| a.min(d)));
        }
    };
    if let (
        Some(since),
        UnreachableStrategy::Enabled {
            inactive_after_seconds,
            expunge_after_seconds,
        },
    ) = (i.unreachable_since_ms, p.strategy)
    {
        // `UnreachableStrategy::phase` compares `now - since` (saturating) with the limit, so
        // a zero limit is reached at any time, and an overflowing one never.
        let limit_s = match i.condition {
            Condition::Unreachable => Some(inactive_after_seconds.min(expunge_after_seconds)),
            Condition::UnreachableInactive => Some(expunge_after_seconds),
            _ => None,
        };
        if let Some(limit_s) = limit_s {
            let limit = limit_s.saturating_mul(1000);
            consider(if limit == 0 {
                Some(0)
            } else {
                since.checked_add(limit)
            });
        }
    }
    if matches!(
        i.condition,
        Condition::Provisioned | Condition::Staging | Condition::Starting
    ) && i.kill_sent_ms.is_none()
    {
        consider(
            i.staged_at_ms
                .map(|s| s.saturating_add(t.launch_timeout_ms)),
        );
    }
    if i.condition.is_active() {
        consider(i.kill_sent_ms.map(|s| s.saturating_add(t.kill_retry_ms)));
    }
    at
}

fn share(i: &Instance, p: &AppParams, t: TimerConfig) -> Share {
    let running = i.goal == Goal::Running;
    let ready = running && i.is_ready(p.checks, p.mesos_check);
    let alive = i.has_task() && !i.condition.is_terminal();
    let current = i.config_ms == p.config_ms;
    let parked = i.is_parked();
    Share {
        decommissioned: !running && !parked,
        parked,
        counting: i.counts(),
        counting_current: i.counts() && current,
        dying_old: !running && !current && i.condition.is_active(),
        ready,
        ready_current: ready && current,
        queued: running && i.condition == Condition::Scheduled,
        // A live task is killed whatever the goal; a dead instance is forgotten only when
        // decommissioned (a stopped one keeps its reservation).
        pending_kill: !running
            && if alive {
                i.kill_sent_ms.is_none()
            } else {
                i.goal == Goal::Decommissioned
            },
        deadline: deadline(i, p, t),
    }
}

/// Adds (`add`) or removes one instance's share. `id` is the instance's key in the map, whose
/// text every index entry shares.
fn apply(
    entry: &mut AppEntry,
    sets: &mut Sets,
    id: &Arc<str>,
    app_id: &PathId,
    s: &Share,
    add: bool,
) {
    let step = |n: &mut usize, on: bool| {
        if on {
            *n = if add { *n + 1 } else { *n - 1 };
        }
    };
    step(&mut entry.tally.total, true);
    step(&mut entry.tally.decommissioned, s.decommissioned);
    step(&mut entry.tally.parked, s.parked);
    step(&mut entry.tally.counting, s.counting);
    step(&mut entry.tally.counting_current, s.counting_current);
    step(&mut entry.tally.dying_old, s.dying_old);
    step(&mut entry.tally.ready, s.ready);
    step(&mut entry.tally.ready_current, s.ready_current);
    if s.queued {
        if add {
            entry.queued.insert(id.clone());
        } else {
            entry.queued.remove(id);
        }
        if entry.queued.is_empty() {
            sets.queued_apps.remove(app_id);
        } else if !sets.queued_apps.contains(app_id) {
            sets.queued_apps.insert(app_id.clone());
        }
    }
    if s.pending_kill {
        if add {
            sets.pending_kill.insert(id.clone());
        } else {
            sets.pending_kill.remove(id);
        }
    }
    if let Some(at) = s.deadline {
        if add {
            sets.timers.insert((at, id.clone()));
        } else {
            sets.timers.remove(&(at, id.clone()));
        }
    }
}

/// Every instance, by id: what [`super::Scheduler::instances`] shows.
///
/// Each instance is boxed, so the map's nodes hold a key and a pointer rather than a whole
/// `Instance` (whose slots a B-tree leaves partly empty), and its key is an `Arc<str>` whose
/// text the indexes share instead of each holding a copy (G5: memory per instance).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InstanceMap(BTreeMap<Arc<str>, Box<Instance>>);

impl InstanceMap {
    /// The instance with this id.
    pub fn get(&self, id: &str) -> Option<&Instance> {
        self.0.get(id).map(|i| &**i)
    }

    /// Whether an instance has this id.
    pub fn contains_key(&self, id: &str) -> bool {
        self.0.contains_key(id)
    }

    /// How many instances there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The ids, in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator {
        self.0.keys().map(|k| &**k)
    }

    /// The instances, in id order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Instance> + ExactSizeIterator {
        self.0.values().map(|i| &**i)
    }

    /// (id, instance), in id order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&str, &Instance)> + ExactSizeIterator {
        self.0.iter().map(|(k, i)| (&**k, &**i))
    }
}

impl std::ops::Index<&str> for InstanceMap {
    type Output = Instance;

    fn index(&self, id: &str) -> &Instance {
        self.get(id).expect("no instance with this id")
    }
}

/// The instances, by id, and their indexes.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Instances {
    all: InstanceMap,
    apps: BTreeMap<PathId, AppEntry>,
    sets: Sets,
    /// Apps whose instances, definition or deployments changed since the last convergence.
    dirty: BTreeSet<PathId>,
    timer_config: TimerConfig,
}

impl Instances {
    pub fn new(timer_config: TimerConfig) -> Instances {
        Instances {
            all: InstanceMap::default(),
            apps: BTreeMap::new(),
            sets: Sets::default(),
            dirty: BTreeSet::new(),
            timer_config,
        }
    }

    /// Every instance, by id.
    pub fn all(&self) -> &InstanceMap {
        &self.all
    }

    pub fn get(&self, id: &str) -> Option<&Instance> {
        self.all.get(id)
    }

    pub fn contains(&self, id: &str) -> bool {
        self.all.contains_key(id)
    }

    /// The instances of one app, by id.
    pub fn of_app<'a>(&'a self, app_id: &PathId) -> impl Iterator<Item = &'a Instance> + 'a {
        self.apps
            .get(app_id)
            .into_iter()
            .flat_map(|e| e.ids.iter())
            .filter_map(|id| self.all.get(id))
    }

    /// The queued instances of one app (goal Running, Scheduled), by id.
    pub fn queued_of<'a>(&'a self, app_id: &PathId) -> impl Iterator<Item = &'a Instance> + 'a {
        self.apps
            .get(app_id)
            .into_iter()
            .flat_map(|e| e.queued.iter())
            .filter_map(|id| self.all.get(id))
    }

    /// The first queued instance of an app, by id.
    pub fn first_queued(&self, app_id: &PathId) -> Option<&str> {
        self.apps
            .get(app_id)
            .and_then(|e| e.queued.first())
            .map(|id| &**id)
    }

    /// How many instances of the app are queued.
    pub fn queued_count(&self, app_id: &PathId) -> usize {
        self.apps.get(app_id).map_or(0, |e| e.queued.len())
    }

    /// Apps with queued instances, in id order.
    pub fn queued_apps(&self) -> &BTreeSet<PathId> {
        &self.sets.queued_apps
    }

    /// The app's counts (readiness as its current definition defines it).
    pub fn tally(&self, app_id: &PathId) -> Tally {
        self.apps.get(app_id).map(|e| e.tally).unwrap_or_default()
    }

    /// Decommissioned instances that still need a kill or an expunge, by id.
    pub fn pending_kill(&self) -> Vec<String> {
        self.sets
            .pending_kill
            .iter()
            .map(|id| id.to_string())
            .collect()
    }

    /// Instances whose timers are due at `now_ms`, by id.
    pub fn due(&self, now_ms: u64) -> Vec<String> {
        let due: BTreeSet<&str> = self
            .sets
            .timers
            .iter()
            .take_while(|(at, _)| *at <= now_ms)
            .map(|(_, id)| &**id)
            .collect();
        due.into_iter().map(str::to_owned).collect()
    }

    /// The earliest instance timer.
    pub fn next_timer(&self) -> Option<u64> {
        self.sets.timers.first().map(|(at, _)| *at)
    }

    /// Marks an app as needing convergence.
    pub fn touch(&mut self, app_id: &PathId) {
        if !self.dirty.contains(app_id) {
            self.dirty.insert(app_id.clone());
        }
    }

    /// The apps touched since the last call.
    pub fn take_dirty(&mut self) -> BTreeSet<PathId> {
        std::mem::take(&mut self.dirty)
    }

    /// Every app with an index entry (defined, or with instances).
    pub fn app_ids(&self) -> impl Iterator<Item = &PathId> {
        self.apps.keys()
    }

    /// Records (or forgets, with `None`) an app's definition; re-indexes its instances when
    /// what they depend on changed.
    pub fn set_app(&mut self, app_id: &PathId, app: Option<&AppSpec>) {
        let params = AppParams::of(app);
        self.touch(app_id);
        let entry = self.apps.entry(app_id.clone()).or_default();
        entry.defined = app.is_some();
        if entry.params != params {
            let ids: Vec<Arc<str>> = entry.ids.iter().cloned().collect();
            for id in &ids {
                self.update(id, false);
            }
            if let Some(entry) = self.apps.get_mut(app_id) {
                entry.params = params;
            }
            for id in &ids {
                self.update(id, true);
            }
        }
        self.forget_if_unused(app_id);
    }

    fn forget_if_unused(&mut self, app_id: &PathId) {
        if self
            .apps
            .get(app_id)
            .is_some_and(|e| !e.defined && e.ids.is_empty())
        {
            self.apps.remove(app_id);
        }
    }

    /// Adds (or replaces) an instance.
    pub fn insert(&mut self, instance: Instance) {
        let id: Arc<str> = Arc::from(instance.id.as_str());
        self.remove(&id);
        let app_id = instance.app_id.clone();
        self.touch(&app_id);
        self.apps.entry(app_id).or_default().ids.insert(id.clone());
        self.all.0.insert(id.clone(), Box::new(instance));
        self.update(&id, true);
    }

    /// Forgets an instance.
    pub fn remove(&mut self, id: &str) -> Option<Instance> {
        if !self.all.contains_key(id) {
            return None;
        }
        self.update(id, false);
        let instance = *self.all.0.remove(id)?;
        self.touch(&instance.app_id);
        if let Some(entry) = self.apps.get_mut(&instance.app_id) {
            entry.ids.remove(id);
        }
        self.forget_if_unused(&instance.app_id);
        Some(instance)
    }

    /// Changes an instance in place and keeps the indexes true. `f` must not change its id or
    /// app.
    pub fn modify<R>(&mut self, id: &str, f: impl FnOnce(&mut Instance) -> R) -> Option<R> {
        let Instances {
            all,
            apps,
            sets,
            dirty,
            timer_config,
        } = self;
        let key = all.0.get_key_value(id)?.0.clone();
        let instance = all.0.get_mut(id)?;
        let entry = apps.get_mut(&instance.app_id)?;
        let before = share(instance, &entry.params, *timer_config);
        let result = f(instance);
        let after = share(instance, &entry.params, *timer_config);
        if before != after {
            apply(entry, sets, &key, &instance.app_id, &before, false);
            apply(entry, sets, &key, &instance.app_id, &after, true);
        }
        if !dirty.contains(&instance.app_id) {
            dirty.insert(instance.app_id.clone());
        }
        Some(result)
    }

    /// Adds (`add`) or removes the share of the instance as it is now.
    fn update(&mut self, id: &str, add: bool) {
        let Instances {
            all,
            apps,
            sets,
            timer_config,
            ..
        } = self;
        let Some((key, instance)) = all.0.get_key_value(id) else {
            return;
        };
        let Some(entry) = apps.get_mut(&instance.app_id) else {
            return;
        };
        let s = share(instance, &entry.params, *timer_config);
        apply(entry, sets, key, &instance.app_id, &s, add);
    }

    /// The same instances indexed from scratch, for checking the incremental upkeep.
    fn rebuilt(&self) -> Instances {
        let mut fresh = Instances::new(self.timer_config);
        for (app_id, entry) in &self.apps {
            if entry.defined {
                fresh.apps.insert(
                    app_id.clone(),
                    AppEntry {
                        defined: true,
                        params: entry.params,
                        ..AppEntry::default()
                    },
                );
            }
        }
        for instance in self.all.values() {
            fresh.insert(instance.clone());
        }
        fresh
    }

    /// Panics unless the indexes match the instances and the apps' definitions.
    pub fn check(&self, apps: &BTreeMap<PathId, AppSpec>) {
        for (id, app) in apps {
            let entry = self.apps.get(id);
            assert!(
                entry.is_some_and(|e| e.defined && e.params == AppParams::of(Some(app))),
                "index entry of {id} follows its definition"
            );
        }
        for (id, entry) in &self.apps {
            assert!(
                entry.defined == apps.contains_key(id),
                "index entry of {id} is defined exactly when the app is"
            );
            assert!(
                entry.defined || (!entry.ids.is_empty() && entry.params == AppParams::default()),
                "index entry of undefined {id} has instances and default parameters"
            );
        }
        let fresh = self.rebuilt();
        assert_eq!(self.all.len(), fresh.all.len(), "instances");
        assert_eq!(
            self.apps.len(),
            fresh.apps.len(),
            "index has one entry per app"
        );
        for (id, entry) in &self.apps {
            assert_eq!(Some(entry), fresh.apps.get(id), "index entry of {id}");
        }
        assert_eq!(
            self.sets, fresh.sets,
            "queue, pending-kill and timer indexes"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::marathon::instance::Placement;

    const TIMERS: TimerConfig = TimerConfig {
        launch_timeout_ms: 300_000,
        kill_retry_ms: 30_000,
    };

    fn launched(app: &PathId, uuid: &str, now: u64) -> Instance {
        let mut i = Instance::scheduled(app, uuid, 1, 1, now);
        i.condition = Condition::Staging;
        i.staged_at_ms = Some(now);
        i.placement = Some(Placement {
            agent_id: "a".into(),
            agent: Default::default(),
            host_ports: vec![],
        });
        i
    }

    #[test]
    fn tallies_queue_and_timers_follow_changes() {
        let id = PathId::parse_app_id("/web").unwrap();
        let mut spec = AppSpec::new(id.clone());
        spec.last_config_change_at_ms = 1;
        let mut index = Instances::new(TIMERS);
        index.set_app(&id, Some(&spec));
        index.insert(Instance::scheduled(&id, "1", 1, 1, 0));
        index.insert(launched(&id, "2", 10));
        assert_eq!(index.queued_count(&id), 1);
        assert_eq!(index.tally(&id).counting, 2);
        assert_eq!(index.next_timer(), Some(300_010));
        assert!(index.due(300_009).is_empty());
        assert_eq!(index.due(300_010), vec!["web.instance-2".to_owned()]);
        index.modify("web.instance-2", |i| i.condition = Condition::Running);
        assert_eq!(index.next_timer(), None);
        assert_eq!(index.tally(&id).ready_current, 1);
        index.modify("web.instance-2", |i| i.goal = Goal::Decommissioned);
        assert_eq!(index.pending_kill(), vec!["web.instance-2".to_owned()]);
        index.modify("web.instance-2", |i| i.kill_sent_ms = Some(20));
        assert!(index.pending_kill().is_empty());
        assert_eq!(index.next_timer(), Some(30_020), "kill retry");
        assert_eq!(index.tally(&id).dying_old, 0, "same configuration");
        assert_eq!(
            index.take_dirty().into_iter().collect::<Vec<_>>(),
            vec![id.clone()]
        );
        index.check(&[(id.clone(), spec)].into_iter().collect());
        index.remove("web.instance-1");
        assert!(index.queued_apps().is_empty());
    }

    #[test]
    fn a_new_definition_reindexes_the_apps_instances() {
        let id = PathId::parse_app_id("/web").unwrap();
        let mut spec = AppSpec::new(id.clone());
        let mut index = Instances::new(TIMERS);
        index.set_app(&id, Some(&spec));
        let mut i = launched(&id, "1", 0);
        i.condition = Condition::Unreachable;
        i.unreachable_since_ms = Some(1_000);
        index.insert(i);
        // Default strategy: inactive at once.
        assert_eq!(index.next_timer(), Some(0));
        spec.unreachable_strategy = UnreachableStrategy::Enabled {
            inactive_after_seconds: 10,
            expunge_after_seconds: 20,
        };
        index.set_app(&id, Some(&spec));
        assert_eq!(index.next_timer(), Some(11_000));
        index.check(&[(id.clone(), spec)].into_iter().collect());
        // Without its app the instance falls back to the default strategy; the entry stays
        // while the instance does.
        index.set_app(&id, None);
        assert_eq!(index.next_timer(), Some(0));
        index.check(&BTreeMap::new());
        index.remove("web.instance-1");
        assert_eq!(index.app_ids().count(), 0);
    }
}
