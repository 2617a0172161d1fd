//! API commands: create, update, delete and restart apps, kill tasks (with `scale`/`wipe`),
//! reset a launch delay, cancel a deployment. Each either changes state and starts a
//! deployment, or is refused with the error Marathon gives.

use std::collections::{BTreeMap, BTreeSet};

use super::{Change, Scheduler};
use crate::marathon::app::{self, AppSpec, Violation};
use crate::marathon::condition::Condition;
use crate::marathon::deployment::{Action, ActionKind, Deployment, plan_steps};
use crate::marathon::event::Event;
use crate::marathon::group::GroupUpdate;
use crate::marathon::instance::Instance;
use crate::marathon::path::PathId;
use crate::marathon::service_ports;

/// Which tasks a kill command addresses.
#[derive(Debug, Clone)]
pub enum KillTarget {
    /// All tasks of an app, optionally only those on one host.
    App {
        /// App id.
        app_id: PathId,
        /// Hostname filter (`None` or `*`: all).
        host: Option<String>,
    },
    /// One task of an app (404 if unknown).
    Task {
        /// App id.
        app_id: PathId,
        /// Task id.
        task_id: String,
    },
    /// Tasks by id across apps; unknown ids are skipped.
    Tasks(Vec<String>),
}

/// An API command.
#[derive(Debug, Clone)]
pub enum Command {
    /// `POST /v2/apps`.
    CreateApp {
        /// The definition (version fields are set by the scheduler).
        app: AppSpec,
        /// Cancel conflicting deployments.
        force: bool,
    },
    /// `PUT`/`PATCH /v2/apps/{id}`: the complete new definition (the API merges partial
    /// updates and resolves rollbacks first). Creates the app if absent.
    PutApp {
        /// The new definition.
        app: AppSpec,
        /// Cancel conflicting deployments.
        force: bool,
    },
    /// `DELETE /v2/apps/{id}`.
    DeleteApp {
        /// App id.
        app_id: PathId,
        /// Cancel conflicting deployments.
        force: bool,
    },
    /// `POST /v2/apps/{id}/restart`.
    RestartApp {
        /// App id.
        app_id: PathId,
        /// Cancel conflicting deployments.
        force: bool,
    },
    /// `DELETE /v2/apps/{id}/tasks[/{taskId}]`, `POST /v2/tasks/delete`.
    KillTasks {
        /// Which tasks.
        target: KillTarget,
        /// Also lower `instances` (one deployment).
        scale: bool,
        /// Decommission and forget them at once.
        wipe: bool,
        /// Cancel conflicting deployments.
        force: bool,
    },
    /// `DELETE /v2/queue/{id}/delay`.
    ResetDelay {
        /// App id.
        app_id: PathId,
    },
    /// `POST`/`PUT /v2/groups[/{id}]`: one deployment for the whole group (see `groups.rs`).
    PutGroup {
        /// The group as sent, ids absolute.
        update: GroupUpdate,
        /// `POST`: refuse when the group exists.
        create: bool,
        /// Cancel conflicting deployments.
        force: bool,
        /// Only answer the plan's steps.
        dry_run: bool,
    },
    /// `PUT /v2/groups/{id}` with `{"version": …}`: the group as it was then.
    RollbackGroup {
        /// Group id.
        id: PathId,
        /// The stored version.
        version_ms: u64,
        /// Cancel conflicting deployments.
        force: bool,
        /// Only answer the plan's steps.
        dry_run: bool,
    },
    /// `PUT /v2/groups/{id}` with `{"scaleBy": …}`: every app within, instances × factor.
    ScaleGroup {
        /// Group id.
        id: PathId,
        /// The factor.
        factor: f64,
        /// Cancel conflicting deployments.
        force: bool,
        /// Only answer the plan's steps.
        dry_run: bool,
    },
    /// `DELETE /v2/groups/{id}`: every app and group within.
    DeleteGroup {
        /// Group id.
        id: PathId,
        /// Cancel conflicting deployments.
        force: bool,
    },
    /// `DELETE /v2/deployments/{id}`.
    CancelDeployment {
        /// Deployment id.
        id: String,
        /// Just stop it (no revert).
        force: bool,
    },
}

/// A successful command's answer.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A deployment was started (`created`: a new app was made).
    Deployment {
        /// Deployment id.
        id: String,
        /// New version.
        version_ms: u64,
        /// Whether an app was created.
        created: bool,
    },
    /// A dry run's steps.
    Plan(Vec<Vec<Action>>),
    /// Tasks were killed (the instances as they were).
    Killed(Vec<Instance>),
    /// Done; nothing to report.
    Done,
}

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum CommandError {
    /// 404 with this message.
    NotFound(String),
    /// 409: the app already exists.
    AlreadyExists(PathId),
    /// 409: the group already exists (`POST /v2/groups`).
    GroupExists(PathId),
    /// 409: locked by these deployments.
    Locked(Vec<String>),
    /// 422: invalid definition.
    Invalid(Vec<Violation>),
    /// 400 with this message.
    BadRequest(String),
    /// 403: too many deployments.
    TooManyDeployments(usize),
}

impl Scheduler {
    pub(super) fn command(&mut self, now_ms: u64, command: Command) -> Result<Reply, CommandError> {
        match command {
            Command::CreateApp { app, force } => {
                if self.apps.contains_key(&app.id) {
                    return Err(CommandError::AlreadyExists(app.id));
                }
                self.put_app(now_ms, app, force, None)
            }
            Command::PutApp { app, force } => self.put_app(now_ms, app, force, None),
            Command::DeleteApp { app_id, force } => {
                if !self.apps.contains_key(&app_id) {
                    return Err(not_found(&app_id));
                }
                self.check_locks(std::slice::from_ref(&app_id), force)?;
                let current = self.apps.get(&app_id).cloned();
                let id = self.start_deployment(now_ms, vec![(app_id, current, true)], None);
                Ok(Reply::Deployment {
                    id,
                    version_ms: self.last_version_ms,
                    created: false,
                })
            }
            Command::RestartApp { app_id, force } => {
                let Some(app) = self.apps.get(&app_id).cloned() else {
                    return Err(not_found(&app_id));
                };
                self.put_app(now_ms, app, force, Some(ActionKind::RestartApplication))
            }
            Command::KillTasks {
                target,
                scale,
                wipe,
                force,
            } => self.kill_tasks(now_ms, target, scale, wipe, force),
            Command::ResetDelay { app_id } => {
                let queued = self.instances.queued_count(&app_id) > 0;
                if !self.apps.contains_key(&app_id) || !queued {
                    return Err(CommandError::NotFound(format!(
                        "Application {app_id} not found in tasks queue."
                    )));
                }
                self.delays.remove(&app_id);
                Ok(Reply::Done)
            }
            Command::CancelDeployment { id, force } => self.cancel_deployment(now_ms, &id, force),
            Command::PutGroup {
                update,
                create,
                force,
                dry_run,
            } => self.put_group(now_ms, update, create, force, dry_run),
            Command::RollbackGroup {
                id,
                version_ms,
                force,
                dry_run,
            } => self.rollback_group(now_ms, &id, version_ms, force, dry_run),
            Command::ScaleGroup {
                id,
                factor,
                force,
                dry_run,
            } => self.scale_group(now_ms, &id, factor, force, dry_run),
            Command::DeleteGroup { id, force } => self.delete_group(now_ms, &id, force),
        }
    }

    /// Refuses if a running deployment affects any of `apps`, unless `force`, which cancels
    /// those deployments.
    pub(super) fn check_locks(&mut self, apps: &[PathId], force: bool) -> Result<(), CommandError> {
        let locking: Vec<String> = self
            .deployments()
            .into_iter()
            .filter(|d| d.affected_apps.iter().any(|a| apps.contains(a)))
            .map(|d| d.id.clone())
            .collect();
        if !force && !locking.is_empty() {
            return Err(CommandError::Locked(locking));
        }
        if self.deployments.len() - locking.len() >= self.config.max_running_deployments {
            return Err(CommandError::TooManyDeployments(
                self.config.max_running_deployments,
            ));
        }
        for id in locking {
            self.drop_deployment(&id, "Canceled by a forced deployment");
        }
        Ok(())
    }

    pub(super) fn drop_deployment(&mut self, id: &str, reason: &str) {
        self.touch_deployment(id);
        if let Some(deployment) = self.deployments.remove(id) {
            self.publish(Event::DeploymentFailed {
                plan: deployment.view_with(&self.apps),
                reason: reason.to_owned(),
            });
            self.persist(Change::Deployment(id.to_owned()));
        }
    }

    fn put_app(
        &mut self,
        now_ms: u64,
        mut app: AppSpec,
        force: bool,
        kind: Option<ActionKind>,
    ) -> Result<Reply, CommandError> {
        let problems = app::validate(&app);
        if !problems.is_empty() {
            return Err(CommandError::Invalid(problems));
        }
        self.check_app_dependencies(&app)?;
        let original = self.apps.get(&app.id).cloned();
        if app.is_resident() && app.role != "*" && app.role != self.config.mesos_role {
            // Mesos reserves only for the framework's own role.
            return Err(CommandError::Invalid(vec![Violation::new(
                "/role",
                format!(
                    "a resident app or pod reserves for its role, which must be the scheduler's \
                     --mesos_role '{}'",
                    self.config.mesos_role
                ),
            )]));
        }
        if let Some(old) = &original {
            let problems = crate::marathon::reservation::update_problems(old, &app);
            if !problems.is_empty() {
                return Err(CommandError::Invalid(problems));
            }
        }
        // Apps and pods share ids; neither replaces the other.
        if let Some(old) = &original
            && old.pod.is_some() != app.pod.is_some()
        {
            let message = if old.pod.is_some() {
                format!("{} is a pod: change it with /v2/pods", app.id)
            } else {
                format!("{} is an app: change it with /v2/apps", app.id)
            };
            return Err(CommandError::Invalid(vec![Violation::new("/id", message)]));
        }
        // Assigned before the lock check, so a refused request cancels nothing.
        let taken: BTreeSet<u32> = self
            .apps
            .values()
            .filter(|other| other.id != app.id)
            .flat_map(AppSpec::service_ports)
            .filter(|port| *port != 0)
            .collect();
        service_ports::assign(
            &mut app,
            original.as_ref(),
            &taken,
            self.config.service_port_range,
        )
        .map_err(|v| CommandError::Invalid(vec![v]))?;
        self.check_locks(std::slice::from_ref(&app.id), force)?;
        let version = self.next_version(now_ms);
        app.version_ms = version;
        app.last_scaling_at_ms = version;
        let restart = kind == Some(ActionKind::RestartApplication);
        match &original {
            Some(old) if !restart && !old.is_upgrade_to(&app) => {
                app.last_config_change_at_ms = old.last_config_change_at_ms;
            }
            _ => {
                app.last_config_change_at_ms = version;
                self.delays.remove(&app.id);
            }
        }
        let created = original.is_none();
        let id = app.id.clone();
        self.store_app(app);
        let deployment = self.start_deployment(now_ms, vec![(id, original, false)], kind);
        Ok(Reply::Deployment {
            id: deployment,
            version_ms: version,
            created,
        })
    }
}

fn not_found(id: &PathId) -> CommandError {
    CommandError::NotFound(format!("App '{id}' does not exist"))
}

/// The definitions before a deployment, by app.
type Originals = BTreeMap<PathId, Option<AppSpec>>;

impl Scheduler {
    pub(super) fn store_app(&mut self, app: AppSpec) {
        let id = app.id.clone();
        let versions = self.versions.entry(id.clone()).or_default();
        versions.insert(app.version_ms, app.clone());
        let mut dropped = Vec::new();
        while versions.len() > self.config.max_versions {
            let Some((&oldest, _)) = versions.iter().next() else {
                break;
            };
            versions.remove(&oldest);
            dropped.push(oldest);
        }
        self.persist(Change::AppVersion(id.clone(), app.version_ms));
        for oldest in dropped {
            self.persist(Change::AppVersion(id.clone(), oldest));
        }
        self.instances.set_app(&id, Some(&app));
        self.apps.insert(id.clone(), app);
        self.persist(Change::App(id));
    }

    /// Starts one deployment for `changes`: (app, its definition before, whether it is
    /// removed). The target is the app's current definition; `kind` overrides the action
    /// (restart).
    pub(super) fn start_deployment(
        &mut self,
        now_ms: u64,
        changes: Vec<(PathId, Option<AppSpec>, bool)>,
        kind: Option<ActionKind>,
    ) -> String {
        // Marathon changes the group holding the app and says so once the plan is started.
        let group = changes
            .first()
            .map_or_else(PathId::root, |(id, _, _)| id.parent());
        self.start_deployment_in(now_ms, group, changes, kind)
    }

    /// [`Scheduler::start_deployment`] announcing `group` as the changed group; the steps
    /// follow the apps' dependencies (`group::order`).
    pub(super) fn start_deployment_in(
        &mut self,
        now_ms: u64,
        group: PathId,
        changes: Vec<(PathId, Option<AppSpec>, bool)>,
        kind: Option<ActionKind>,
    ) -> String {
        let mut originals: Originals = BTreeMap::new();
        let mut actions = Vec::new();
        for (id, original, remove) in changes {
            if remove {
                self.remove_app(&id);
            }
            let target = self.apps.get(&id).cloned();
            let mut steps = plan_steps(&id, original.as_ref(), target.as_ref());
            if let (Some(kind), Some(_)) = (kind, &target) {
                steps = vec![vec![Action {
                    kind,
                    app: id.clone(),
                }]];
            }
            actions.extend(steps.into_iter().flatten());
            originals.insert(id, original);
        }
        let steps = self.ordered(actions, &originals);
        let id = self.ids.next_id();
        let version_ms = if self.last_version_ms == 0 {
            self.next_version(now_ms)
        } else {
            self.last_version_ms
        };
        let deployment = Deployment {
            id: id.clone(),
            version_ms,
            affected_apps: originals.keys().cloned().collect(),
            steps,
            current_step: 0,
            originals,
            waiting: BTreeMap::new(),
        };
        let changed = Event::GroupChangeSuccess {
            group_id: group,
            version_ms,
        };
        if deployment.steps.is_empty() {
            self.publish(Event::DeploymentSuccess {
                plan: deployment.view_with(&self.apps),
            });
            self.publish(changed);
            return id;
        }
        self.publish(Event::DeploymentInfo {
            plan: deployment.view_with(&self.apps),
            step: 0,
        });
        self.publish(changed);
        self.deployments.insert(id.clone(), deployment);
        self.touch_deployment(&id);
        self.persist(Change::Deployment(id.clone()));
        id
    }

    /// Forgets an app's definition, versions, delay and failure; its instances are
    /// decommissioned by the next convergence.
    fn remove_app(&mut self, id: &PathId) {
        self.apps.remove(id);
        self.instances.set_app(id, None);
        self.versions.remove(id);
        self.delays.remove(id);
        self.stats.remove(id);
        self.failures.remove(id);
        self.persist(Change::App(id.clone()));
    }

    fn kill_tasks(
        &mut self,
        now_ms: u64,
        target: KillTarget,
        scale: bool,
        wipe: bool,
        force: bool,
    ) -> Result<Reply, CommandError> {
        if scale && wipe {
            return Err(CommandError::BadRequest(
                "You cannot use scale and wipe at the same time.".to_owned(),
            ));
        }
        let matched: Vec<String> = match &target {
            KillTarget::App { app_id, host } => {
                if !self.apps.contains_key(app_id) {
                    return Err(not_found(app_id));
                }
                self.instances_of(app_id)
                    .filter(|i| match host.as_deref() {
                        None | Some("*") => true,
                        Some(h) => i.placement.as_ref().is_some_and(|p| p.agent.hostname == h),
                    })
                    .map(|i| i.id.clone())
                    .collect()
            }
            KillTarget::Task { app_id, task_id } => {
                if !self.apps.contains_key(app_id) {
                    return Err(not_found(app_id));
                }
                let found = crate::marathon::instance::parse_task_id(task_id)
                    .and_then(|(instance, _)| self.instances.get(instance))
                    .filter(|i| &i.app_id == app_id);
                match found {
                    Some(i) => vec![i.id.clone()],
                    None => {
                        return Err(CommandError::NotFound(format!(
                            "Task '{task_id}' does not exist"
                        )));
                    }
                }
            }
            KillTarget::Tasks(ids) => ids
                .iter()
                .filter_map(|t| crate::marathon::instance::parse_task_id(t))
                .filter(|(instance, _)| self.instances.contains(instance))
                .map(|(instance, _)| instance.to_owned())
                .collect(),
        };
        let before: Vec<Instance> = matched
            .iter()
            .filter_map(|id| self.instances.get(id).cloned())
            .collect();
        if scale {
            let mut per_app: BTreeMap<PathId, u32> = BTreeMap::new();
            for i in &before {
                if i.counts() && i.condition != Condition::Killing {
                    *per_app.entry(i.app_id.clone()).or_default() += 1;
                }
            }
            let apps: Vec<PathId> = per_app.keys().cloned().collect();
            self.check_locks(&apps, force)?;
            let version = self.next_version(now_ms);
            let mut changes = Vec::new();
            for (app_id, n) in per_app {
                let Some(original) = self.apps.get(&app_id).cloned() else {
                    continue;
                };
                let mut app = original.clone();
                app.instances = app.instances.saturating_sub(n);
                app.version_ms = version;
                app.last_scaling_at_ms = version;
                self.store_app(app);
                changes.push((app_id, Some(original), false));
            }
            for i in &before {
                self.stop_or_decommission(&i.id);
            }
            let id = self.start_deployment(now_ms, changes, None);
            return Ok(Reply::Deployment {
                id,
                version_ms: version,
                created: false,
            });
        }
        for i in &before {
            if wipe {
                self.decommission(&i.id);
                self.kill(now_ms, &i.id);
                self.expunge(&i.id);
            } else {
                self.kill(now_ms, &i.id);
            }
        }
        Ok(Reply::Killed(before))
    }

    fn cancel_deployment(
        &mut self,
        now_ms: u64,
        id: &str,
        force: bool,
    ) -> Result<Reply, CommandError> {
        let Some(deployment) = self.deployments.get(id).cloned() else {
            return Err(CommandError::NotFound(format!(
                "DeploymentPlan {id} does not exist"
            )));
        };
        self.drop_deployment(id, "The deployment has been canceled");
        if force {
            return Ok(Reply::Done);
        }
        let version = self.next_version(now_ms);
        let mut changes = Vec::new();
        for (app_id, original) in deployment.originals {
            let current = self.apps.get(&app_id).cloned();
            match original {
                Some(mut app) => {
                    app.version_ms = version;
                    app.last_scaling_at_ms = version;
                    if current.as_ref().is_none_or(|c| c.is_upgrade_to(&app)) {
                        app.last_config_change_at_ms = version;
                    }
                    self.store_app(app);
                    changes.push((app_id, current, false));
                }
                // The cancelled deployment created the app: reverting removes it.
                None if current.is_some() => changes.push((app_id, current, true)),
                None => {}
            }
        }
        let id = self.start_deployment(now_ms, changes, None);
        Ok(Reply::Deployment {
            id,
            version_ms: version,
            created: false,
        })
    }
}
