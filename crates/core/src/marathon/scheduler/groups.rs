//! Group commands (`/v2/groups`): create or update a group tree, roll it back to a stored
//! version, scale every app in it, delete it — each as ONE deployment whose steps follow the
//! apps' dependencies — and the hold that keeps an app of a later step from starting (or, when
//! it is stopped, from being killed) before its step comes.

use std::collections::{BTreeMap, BTreeSet};

use super::commands::{CommandError, Reply};
use super::{Change, Scheduler};
use crate::marathon::app::{self, AppSpec, Violation};
use crate::marathon::deployment::{Action, ActionKind, plan_steps};
use crate::marathon::group::{self, GroupSnapshot, GroupSpec, GroupUpdate, apps_within};
use crate::marathon::path::PathId;
use crate::marathon::service_ports;

/// Apps and explicit groups within one group, as a command wants them.
type Target = (BTreeMap<PathId, GroupSpec>, BTreeMap<PathId, AppSpec>);

/// Whether two definitions are the same apart from their version stamps.
fn same_definition(a: &AppSpec, b: &AppSpec) -> bool {
    let strip = |app: &AppSpec| {
        let mut app = app.clone();
        app.version_ms = 0;
        app.last_scaling_at_ms = 0;
        app.last_config_change_at_ms = 0;
        app
    };
    strip(a) == strip(b)
}

/// Ids in an update that escape their group, or name something twice.
fn structure_problems(update: &GroupUpdate, path: &str, problems: &mut Vec<Violation>) {
    let mut seen = BTreeSet::new();
    for (i, a) in update.apps.iter().flatten().enumerate() {
        if a.id.parent() != update.id {
            problems.push(Violation::new(
                format!("{path}/apps({i})/id"),
                format!(
                    "App id {} is not a direct child of its group {}",
                    a.id, update.id
                ),
            ));
        }
        if !seen.insert(a.id.clone()) {
            problems.push(Violation::new(
                format!("{path}/apps({i})/id"),
                format!("App id {} is given more than once", a.id),
            ));
        }
    }
    for (i, g) in update.groups.iter().flatten().enumerate() {
        let here = format!("{path}/groups({i})");
        if g.id.parent() != update.id || g.id == update.id {
            problems.push(Violation::new(
                format!("{here}/id"),
                format!(
                    "Group id {} is not a direct child of its group {}",
                    g.id, update.id
                ),
            ));
        }
        if !seen.insert(g.id.clone()) {
            problems.push(Violation::new(
                format!("{here}/id"),
                format!("Id {} is given more than once", g.id),
            ));
        }
        structure_problems(g, &here, problems);
    }
}

impl Scheduler {
    /// Explicit groups, by id.
    pub fn groups(&self) -> &BTreeMap<PathId, GroupSpec> {
        &self.groups
    }

    /// Stored versions of a group, oldest first.
    pub fn group_versions(&self, id: &PathId) -> impl Iterator<Item = &GroupSnapshot> {
        self.group_versions
            .get(id)
            .into_iter()
            .flat_map(|v| v.values())
    }

    /// Whether `id` names a group (explicit or implied by app ids; the root always).
    pub fn group_exists(&self, id: &PathId) -> bool {
        group::group_exists(&self.apps, &self.groups, id)
    }

    /// Whether the app waits for a later step of a running deployment: its scale, restart or
    /// stop comes after the current step. Only the steps after the current one are looked at,
    /// so an app of a one-step plan costs nothing here.
    pub(super) fn held(&self, app_id: &PathId) -> bool {
        self.deployments.values().any(|d| {
            d.steps.iter().skip(d.current_step + 1).any(|step| {
                step.iter()
                    .any(|a| &a.app == app_id && a.kind != ActionKind::StartApplication)
            })
        })
    }

    /// The steps for `actions`, ordered by the dependencies of the current state.
    pub(super) fn ordered(
        &self,
        actions: Vec<Action>,
        originals: &BTreeMap<PathId, Option<AppSpec>>,
    ) -> Vec<Vec<Action>> {
        ordered_with(actions, originals, &self.apps, &self.groups)
    }

    /// Refuses an app whose dependencies name nothing or close a cycle (with it in place).
    pub(super) fn check_app_dependencies(&self, app: &AppSpec) -> Result<(), CommandError> {
        let groups_have = self.groups.values().any(|g| !g.dependencies.is_empty());
        let had = self
            .apps
            .get(&app.id)
            .is_some_and(|a| !a.dependencies.is_empty());
        if app.dependencies.is_empty() && !groups_have && !had {
            return Ok(());
        }
        let mut apps = self.apps.clone();
        apps.insert(app.id.clone(), app.clone());
        let problems = group::check(&apps, &self.groups);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(CommandError::Invalid(problems))
        }
    }

    /// The apps and explicit groups within `update.id` once `update` is applied: a field the
    /// update leaves out keeps what is there.
    fn target_of(&self, update: &GroupUpdate, target: &mut Target) {
        let (groups, apps) = target;
        let dependencies = update
            .dependencies
            .clone()
            .or_else(|| self.groups.get(&update.id).map(|g| g.dependencies.clone()))
            .unwrap_or_default();
        groups.insert(
            update.id.clone(),
            GroupSpec {
                id: update.id.clone(),
                dependencies,
                version_ms: 0,
            },
        );
        match &update.apps {
            Some(list) => {
                // Pods are read-only at /v2/groups (Marathon): a group's list of apps leaves
                // its pods as they are.
                for a in apps_within(&self.apps, &update.id)
                    .filter(|a| a.id.parent() == update.id && a.pod.is_some())
                {
                    apps.insert(a.id.clone(), a.clone());
                }
                for a in list {
                    apps.insert(a.id.clone(), a.clone());
                }
            }
            None => {
                for a in apps_within(&self.apps, &update.id).filter(|a| a.id.parent() == update.id)
                {
                    apps.insert(a.id.clone(), a.clone());
                }
            }
        }
        match &update.groups {
            Some(list) => {
                for sub in list {
                    self.target_of(sub, target);
                }
            }
            None => {
                for a in apps_within(&self.apps, &update.id).filter(|a| a.id.parent() != update.id)
                {
                    apps.insert(a.id.clone(), a.clone());
                }
                for g in self
                    .groups
                    .values()
                    .filter(|g| g.id.is_within(&update.id) && g.id != update.id)
                {
                    groups.insert(g.id.clone(), g.clone());
                }
            }
        }
    }

    /// The current apps and explicit groups within `id`.
    fn current_of(&self, id: &PathId) -> Target {
        let groups = self
            .groups
            .values()
            .filter(|g| g.id.is_within(id))
            .map(|g| (g.id.clone(), g.clone()))
            .collect();
        let apps = apps_within(&self.apps, id)
            .map(|a| (a.id.clone(), a.clone()))
            .collect();
        (groups, apps)
    }

    pub(super) fn put_group(
        &mut self,
        now_ms: u64,
        update: GroupUpdate,
        create: bool,
        force: bool,
        dry_run: bool,
    ) -> Result<Reply, CommandError> {
        if create && !update.id.is_root() && self.group_exists(&update.id) {
            return Err(CommandError::GroupExists(update.id));
        }
        let mut problems = Vec::new();
        structure_problems(&update, "", &mut problems);
        if !problems.is_empty() {
            return Err(CommandError::Invalid(problems));
        }
        let mut target = Target::default();
        self.target_of(&update, &mut target);
        let created = !self.group_exists(&update.id);
        self.apply_group(now_ms, &update.id, target, force, dry_run, created)
    }

    pub(super) fn rollback_group(
        &mut self,
        now_ms: u64,
        id: &PathId,
        version_ms: u64,
        force: bool,
        dry_run: bool,
    ) -> Result<Reply, CommandError> {
        let Some(snapshot) = self
            .group_versions
            .get(id)
            .and_then(|v| v.get(&version_ms))
            .cloned()
        else {
            return Err(CommandError::NotFound(format!(
                "Group '{id}' in version '{}' does not exist",
                crate::marathon::timestamp(version_ms)
            )));
        };
        let groups = snapshot
            .groups
            .into_iter()
            .map(|g| (g.id.clone(), g))
            .collect();
        let apps = snapshot
            .apps
            .into_iter()
            .map(|a| (a.id.clone(), a))
            .collect();
        self.apply_group(now_ms, id, (groups, apps), force, dry_run, false)
    }

    pub(super) fn scale_group(
        &mut self,
        now_ms: u64,
        id: &PathId,
        factor: f64,
        force: bool,
        dry_run: bool,
    ) -> Result<Reply, CommandError> {
        if !self.group_exists(id) {
            return Err(group_not_found(id));
        }
        if !factor.is_finite() || factor < 0.0 {
            return Err(CommandError::Invalid(vec![Violation::new(
                "/scaleBy",
                format!("scaleBy must be a number of 0 or more, got {factor}"),
            )]));
        }
        let (groups, mut apps) = self.current_of(id);
        // Marathon scales the group's apps; its pods are changed through /v2/pods only.
        for app in apps.values_mut().filter(|a| a.pod.is_none()) {
            // Marathon rounds up: scaling 1 instance by 1.5 gives 2.
            app.instances = (f64::from(app.instances) * factor).ceil().min(1e6) as u32;
        }
        self.apply_group(now_ms, id, (groups, apps), force, dry_run, false)
    }

    pub(super) fn delete_group(
        &mut self,
        now_ms: u64,
        id: &PathId,
        force: bool,
    ) -> Result<Reply, CommandError> {
        if !self.group_exists(id) {
            return Err(group_not_found(id));
        }
        let (groups, apps) = self.current_of(id);
        let changes: Vec<(PathId, Option<AppSpec>, bool)> = apps
            .into_iter()
            .map(|(app_id, app)| (app_id, Some(app), true))
            .collect();
        let ids: Vec<PathId> = changes.iter().map(|(a, _, _)| a.clone()).collect();
        self.check_locks(&ids, force)?;
        let version = self.next_version(now_ms);
        // Deleting the root empties it; the root itself stays. The plan is made while the
        // groups still exist, so their dependencies order the stops (dependents first).
        let group = if id.is_root() {
            id.clone()
        } else {
            id.parent()
        };
        let deployment = self.start_deployment_in(now_ms, group, changes, None);
        for gid in groups.keys() {
            self.groups.remove(gid);
            self.persist(Change::Group(gid.clone()));
            let versions: Vec<u64> = self
                .group_versions
                .remove(gid)
                .map(|v| v.into_keys().collect())
                .unwrap_or_default();
            for v in versions {
                self.persist(Change::GroupVersion(gid.clone(), v));
            }
        }
        Ok(Reply::Deployment {
            id: deployment,
            version_ms: version,
            created: false,
        })
    }

    /// Takes the group `id` to `target` (its apps and explicit groups) in one deployment.
    fn apply_group(
        &mut self,
        now_ms: u64,
        id: &PathId,
        target: Target,
        force: bool,
        dry_run: bool,
        created: bool,
    ) -> Result<Reply, CommandError> {
        let (target_groups, mut target_apps) = target;
        let (current_groups, current_apps) = self.current_of(id);
        let mut problems = Vec::new();
        for (app_id, a) in &target_apps {
            for v in app::validate(a) {
                problems.push(Violation::new(format!("{app_id}{}", v.path), v.message));
            }
        }
        // Service ports: those of apps outside the group are taken; inside, assigned in order.
        let mut taken: BTreeSet<u32> = self
            .apps
            .values()
            .filter(|a| !current_apps.contains_key(&a.id) && !target_apps.contains_key(&a.id))
            .flat_map(|a| a.port_definitions.iter().map(|d| d.port))
            .filter(|p| *p != 0)
            .collect();
        for (app_id, a) in target_apps.iter_mut() {
            if let Err(v) = service_ports::assign(
                a,
                self.apps.get(app_id),
                &taken,
                self.config.service_port_range,
            ) {
                problems.push(Violation::new(format!("{app_id}{}", v.path), v.message));
            }
            taken.extend(a.port_definitions.iter().map(|d| d.port));
        }
        // The whole state after the change, for the dependency checks and the step order.
        let mut all_apps: BTreeMap<PathId, AppSpec> = self
            .apps
            .iter()
            .filter(|(k, _)| !current_apps.contains_key(*k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        all_apps.extend(target_apps.iter().map(|(k, v)| (k.clone(), v.clone())));
        let mut all_groups: BTreeMap<PathId, GroupSpec> = self
            .groups
            .iter()
            .filter(|(k, _)| !current_groups.contains_key(*k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        all_groups.extend(target_groups.iter().map(|(k, v)| (k.clone(), v.clone())));
        problems.extend(group::check(&all_apps, &all_groups));
        if !problems.is_empty() {
            problems.sort();
            problems.dedup();
            return Err(CommandError::Invalid(problems));
        }
        // What changes: (app, before, after).
        let ids: BTreeSet<PathId> = current_apps
            .keys()
            .chain(target_apps.keys())
            .cloned()
            .collect();
        let mut changed: Vec<(PathId, Option<AppSpec>, Option<AppSpec>)> = Vec::new();
        for app_id in ids {
            let before = current_apps.get(&app_id).cloned();
            let after = target_apps.get(&app_id).cloned();
            if let (Some(b), Some(a)) = (&before, &after)
                && same_definition(b, a)
            {
                continue;
            }
            changed.push((app_id, before, after));
        }
        if dry_run {
            let mut actions = Vec::new();
            let mut originals = BTreeMap::new();
            for (app_id, before, after) in &changed {
                actions.extend(
                    plan_steps(app_id, before.as_ref(), after.as_ref())
                        .into_iter()
                        .flatten(),
                );
                originals.insert(app_id.clone(), before.clone());
            }
            return Ok(Reply::Plan(ordered_with(
                actions,
                &originals,
                &all_apps,
                &all_groups,
            )));
        }
        let locked: Vec<PathId> = changed.iter().map(|(a, _, _)| a.clone()).collect();
        self.check_locks(&locked, force)?;
        let version = self.next_version(now_ms);
        let mut changes = Vec::new();
        for (app_id, before, after) in changed {
            match after {
                Some(mut app) => {
                    app.version_ms = version;
                    app.last_scaling_at_ms = version;
                    match &before {
                        Some(old) if !old.is_upgrade_to(&app) => {
                            app.last_config_change_at_ms = old.last_config_change_at_ms;
                        }
                        _ => {
                            app.last_config_change_at_ms = version;
                            self.delays.remove(&app_id);
                        }
                    }
                    self.store_app(app);
                    changes.push((app_id, before, false));
                }
                None => changes.push((app_id, before, true)),
            }
        }
        let target_groups_ids: BTreeSet<PathId> = target_groups.keys().cloned().collect();
        for (gid, mut spec) in target_groups {
            if self.groups.get(&gid).is_some_and(|g| {
                g.dependencies == spec.dependencies
                    && !changes.iter().any(|(a, _, _)| a.is_within(&gid))
            }) {
                continue;
            }
            spec.version_ms = version;
            self.groups.insert(gid.clone(), spec);
            self.persist(Change::Group(gid));
        }
        let deployment = self.start_deployment_in(now_ms, id.clone(), changes, None);
        // Dropped groups go after the plan is made: their dependencies order the stops.
        for gid in current_groups.keys() {
            if !target_groups_ids.contains(gid) {
                self.groups.remove(gid);
                self.persist(Change::Group(gid.clone()));
            }
        }
        self.record_group_version(id, version);
        Ok(Reply::Deployment {
            id: deployment,
            version_ms: version,
            created,
        })
    }

    /// Stores the group as it is now under `version`, dropping the oldest beyond the limit.
    fn record_group_version(&mut self, id: &PathId, version_ms: u64) {
        let (groups, apps) = self.current_of(id);
        let snapshot = GroupSnapshot {
            id: id.clone(),
            version_ms,
            groups: groups.into_values().collect(),
            apps: apps.into_values().collect(),
        };
        let versions = self.group_versions.entry(id.clone()).or_default();
        versions.insert(version_ms, snapshot);
        let mut dropped = Vec::new();
        while versions.len() > self.config.max_versions {
            let Some((&oldest, _)) = versions.iter().next() else {
                break;
            };
            versions.remove(&oldest);
            dropped.push(oldest);
        }
        self.persist(Change::GroupVersion(id.clone(), version_ms));
        for oldest in dropped {
            self.persist(Change::GroupVersion(id.clone(), oldest));
        }
    }
}

fn group_not_found(id: &PathId) -> CommandError {
    CommandError::NotFound(format!("Group '{id}' does not exist"))
}

/// `group::order` with depths from `apps`/`groups` (after) and from the originals (before).
/// Without any dependency every depth is 0 and no graph is built.
fn ordered_with(
    actions: Vec<Action>,
    originals: &BTreeMap<PathId, Option<AppSpec>>,
    apps: &BTreeMap<PathId, AppSpec>,
    groups: &BTreeMap<PathId, GroupSpec>,
) -> Vec<Vec<Action>> {
    let before_apps: BTreeMap<PathId, AppSpec> = originals
        .iter()
        .filter_map(|(k, v)| v.clone().map(|a| (k.clone(), a)))
        .collect();
    let before = group::depths(&group::graph(&before_apps, groups));
    let after = group::depths(&group::graph(apps, groups));
    group::order(actions, &before, &after)
}

#[cfg(test)]
mod tests {
    use super::super::{Config, Effect, Input, SequentialIds};
    use super::*;
    use crate::marathon::event::Event;
    use crate::marathon::scheduler::Command;

    fn id(s: &str) -> PathId {
        PathId::parse(s, &PathId::root()).expect("valid id")
    }

    fn app(s: &str) -> AppSpec {
        let mut a = AppSpec::new(id(s));
        a.cmd = Some("sleep 100".into());
        a
    }

    fn group(g: &str, deps: &[&str], apps: Vec<AppSpec>) -> GroupUpdate {
        GroupUpdate {
            id: id(g),
            dependencies: Some(deps.iter().map(|d| id(d)).collect()),
            apps: Some(apps),
            groups: None,
        }
    }

    /// The steps of the first plan a command's effects announce, as "Kind /app" strings.
    fn planned(effects: &[Effect]) -> Vec<Vec<String>> {
        let plan = effects
            .iter()
            .find_map(|e| match e {
                Effect::Publish(Event::DeploymentInfo { plan, .. })
                | Effect::Publish(Event::DeploymentSuccess { plan }) => Some(plan.clone()),
                _ => None,
            })
            .expect("a plan");
        plan.steps
            .iter()
            .map(|s| {
                s.iter()
                    .map(|a| format!("{} {}", a.kind.name(), a.app))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn delete_stops_dependents_first_and_put_starts_dependencies_first() {
        let mut s = Scheduler::new(Config::default(), Box::new(SequentialIds::default()));
        let tree = GroupUpdate {
            id: id("/p"),
            dependencies: None,
            apps: Some(Vec::new()),
            groups: Some(vec![
                group("/p/db", &[], vec![app("/p/db/pg")]),
                group("/p/web", &["/p/db"], vec![app("/p/web/ui")]),
            ]),
        };
        let effects = s.handle(
            1_000,
            Input::Command(Command::PutGroup {
                update: tree,
                create: true,
                force: false,
                dry_run: false,
            }),
        );
        assert_eq!(
            planned(&effects),
            vec![
                vec!["StartApplication /p/db/pg", "StartApplication /p/web/ui"],
                vec!["ScaleApplication /p/db/pg"],
                vec!["ScaleApplication /p/web/ui"],
            ]
        );
        // The web app is held while the database's step runs: only pg is queued.
        let queued: Vec<String> = s
            .queue(1_000)
            .iter()
            .map(|e| e.app_id.to_string())
            .collect();
        assert_eq!(queued, ["/p/db/pg"]);
        s.check_invariants();
        let effects = s.handle(
            2_000,
            Input::Command(Command::DeleteGroup {
                id: id("/p"),
                force: true,
            }),
        );
        assert_eq!(
            planned(&effects),
            vec![
                vec!["StopApplication /p/web/ui"],
                vec!["StopApplication /p/db/pg"],
            ]
        );
        assert!(s.groups().is_empty());
        assert!(s.apps().is_empty());
        s.check_invariants();
    }
}
