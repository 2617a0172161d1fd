//! Reads filtered by what the caller may see: Mesos' `view_frameworks`, `view_tasks` and
//! `view_executors` ACLs (principal → the framework's, task's or executor's user). A
//! framework the principal may not view is left out with everything in it; within a visible
//! one, so is each task and executor it may not view. Applied to `/master/state`,
//! `/master/frameworks`, `/master/tasks`, `/master/state-summary` (and their aliases) and to
//! the operator API's GET_STATE, GET_FRAMEWORKS, GET_TASKS and GET_EXECUTORS, and to the
//! operator event stream (SUBSCRIBE: its SUBSCRIBED snapshot, and each TASK_ADDED,
//! TASK_UPDATED, FRAMEWORK_ADDED, FRAMEWORK_UPDATED and FRAMEWORK_REMOVED, as Mesos' master
//! filtered them per subscriber). Without view ACLs (and `permissive`) nothing is filtered and
//! nothing costs.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use drover_core::master::Master;
use drover_http::auth::Principal;
use drover_wire::v1;
use drover_wire::v1::master::response;
use serde_json::Value;

use crate::acls::Acls;
use crate::routes::AppState;

/// The largest document re-written for a restricted viewer.
const DOCUMENT_MAX: usize = 1024 * 1024 * 1024;

/// A caller whose reads are filtered.
#[derive(Debug, Clone)]
pub struct Viewer {
    acls: Arc<Acls>,
    principal: Option<String>,
}

/// Framework id → the framework's user, for documents that name tasks by framework id.
pub type Users = HashMap<String, String>;

impl Viewer {
    /// The viewer of a request, or `None` when `--acls` restricts no view (nothing to filter).
    pub fn of(acls: Option<&Arc<Acls>>, principal: Option<&Principal>) -> Option<Viewer> {
        let acls = acls?;
        acls.restricts_views().then(|| Viewer {
            acls: acls.clone(),
            principal: principal.map(|p| p.0.clone()),
        })
    }

    /// Who is asking, for messages.
    pub fn name(&self) -> &str {
        self.principal.as_deref().unwrap_or("ANY")
    }

    fn framework(&self, user: &str) -> bool {
        self.acls
            .may_view_framework(self.principal.as_deref(), user)
    }

    fn task(&self, user: &str) -> bool {
        self.acls.may_view_task(self.principal.as_deref(), user)
    }

    fn executor(&self, user: &str) -> bool {
        self.acls.may_view_executor(self.principal.as_deref(), user)
    }

    /// Filters a legacy JSON document in place (any of the endpoints above).
    pub fn filter_json(&self, doc: &mut Value, users: &Users) {
        let Some(object) = doc.as_object_mut() else {
            return;
        };
        for key in ["frameworks", "completed_frameworks"] {
            if let Some(Value::Array(list)) = object.get_mut(key) {
                list.retain_mut(|fw| self.keep_framework(fw, users));
            }
        }
        for key in ["tasks", "orphan_tasks"] {
            if let Some(Value::Array(list)) = object.get_mut(key) {
                list.retain(|task| {
                    let fw_user = task["framework_id"]
                        .as_str()
                        .and_then(|id| users.get(id))
                        .map(String::as_str);
                    fw_user.is_none_or(|u| self.framework(u))
                        && self.task(task["user"].as_str().or(fw_user).unwrap_or_default())
                });
            }
        }
    }

    fn keep_framework(&self, fw: &mut Value, users: &Users) -> bool {
        // `/master/state-summary`'s entries carry no user: it is looked up by id.
        let user = fw["user"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| fw["id"].as_str().and_then(|id| users.get(id)).cloned())
            .unwrap_or_default();
        if !self.framework(&user) {
            return false;
        }
        let Some(object) = fw.as_object_mut() else {
            return true;
        };
        for key in [
            "tasks",
            "completed_tasks",
            "unreachable_tasks",
            "pending_tasks",
        ] {
            if let Some(Value::Array(list)) = object.get_mut(key) {
                list.retain(|task| self.task(task["user"].as_str().unwrap_or(&user)));
            }
        }
        for key in ["executors", "completed_executors"] {
            if let Some(Value::Array(list)) = object.get_mut(key) {
                list.retain(|executor| {
                    self.executor(executor["command"]["user"].as_str().unwrap_or(&user))
                });
            }
        }
        true
    }

    /// Filters GET_FRAMEWORKS (the deprecated lists too: old clients still read them).
    #[allow(deprecated)]
    pub fn filter_frameworks(&self, frameworks: &mut response::GetFrameworks) {
        frameworks
            .frameworks
            .retain(|f| self.framework(&f.framework_info.user));
        frameworks
            .completed_frameworks
            .retain(|f| self.framework(&f.framework_info.user));
        frameworks
            .recovered_frameworks
            .retain(|f| self.framework(&f.user));
    }

    /// Filters GET_TASKS (the deprecated lists too).
    #[allow(deprecated)]
    pub fn filter_tasks(&self, tasks: &mut response::GetTasks, users: &Users) {
        let visible = |task: &v1::Task| {
            let fw_user = users.get(&task.framework_id.value).map(String::as_str);
            fw_user.is_none_or(|u| self.framework(u))
                && self.task(task.user.as_deref().or(fw_user).unwrap_or_default())
        };
        for list in [
            &mut tasks.pending_tasks,
            &mut tasks.tasks,
            &mut tasks.unreachable_tasks,
            &mut tasks.completed_tasks,
            &mut tasks.orphan_tasks,
        ] {
            list.retain(|t| visible(t));
        }
    }

    /// Filters GET_OPERATIONS: an operation is seen with its framework.
    pub fn filter_operations(&self, operations: &mut response::GetOperations, users: &Users) {
        operations.operations.retain(|o| {
            let user = o
                .framework_id
                .as_ref()
                .and_then(|f| users.get(&f.value))
                .map(String::as_str);
            user.is_none_or(|u| self.framework(u))
        });
    }

    /// Filters GET_EXECUTORS (the deprecated list too).
    #[allow(deprecated)]
    pub fn filter_executors(&self, executors: &mut response::GetExecutors, users: &Users) {
        let visible = |executor: &v1::ExecutorInfo| {
            let fw_user = executor
                .framework_id
                .as_ref()
                .and_then(|id| users.get(&id.value))
                .map(String::as_str);
            let own = executor.command.as_ref().and_then(|c| c.user.as_deref());
            fw_user.is_none_or(|u| self.framework(u))
                && self.executor(own.or(fw_user).unwrap_or_default())
        };
        executors.executors.retain(|e| visible(&e.executor_info));
        executors
            .orphan_executors
            .retain(|e| visible(&e.executor_info));
    }

    /// Whether an operator event may go to this viewer: task events need the framework and
    /// the task to be visible, framework events the framework; the rest (agents, heartbeats)
    /// are not about a framework's user.
    pub fn may_see_event(&self, event: &v1::master::Event, master: &Master) -> bool {
        use v1::master::event::Type;
        let framework_user = |id: &str| framework_user(master, id);
        let task_ok = |fw_id: &str, task_user: Option<&str>| {
            let fw_user = framework_user(fw_id);
            fw_user.as_deref().is_none_or(|u| self.framework(u))
                && self.task(task_user.or(fw_user.as_deref()).unwrap_or_default())
        };
        match event.r#type.and_then(|t| Type::try_from(t).ok()) {
            Some(Type::TaskAdded) => event
                .task_added
                .as_ref()
                .is_none_or(|e| task_ok(&e.task.framework_id.value, e.task.user.as_deref())),
            Some(Type::TaskUpdated) => event.task_updated.as_ref().is_none_or(|e| {
                let fw_id = &e.framework_id.value;
                let user = task_user(master, fw_id, &e.status.task_id.value);
                task_ok(fw_id, user.as_deref())
            }),
            Some(Type::FrameworkAdded) => event
                .framework_added
                .as_ref()
                .is_none_or(|e| self.framework(&e.framework.framework_info.user)),
            Some(Type::FrameworkUpdated) => event
                .framework_updated
                .as_ref()
                .is_none_or(|e| self.framework(&e.framework.framework_info.user)),
            Some(Type::FrameworkRemoved) => event
                .framework_removed
                .as_ref()
                .is_none_or(|e| self.framework(&e.framework_info.user)),
            _ => true,
        }
    }

    /// Filters GET_STATE.
    pub fn filter_state(&self, state: &mut response::GetState, users: &Users) {
        if let Some(frameworks) = state.get_frameworks.as_mut() {
            self.filter_frameworks(frameworks);
        }
        if let Some(tasks) = state.get_tasks.as_mut() {
            self.filter_tasks(tasks, users);
        }
        if let Some(executors) = state.get_executors.as_mut() {
            self.filter_executors(executors, users);
        }
    }
}

/// A framework's user, live or completed.
fn framework_user(master: &Master, id: &str) -> Option<String> {
    master
        .frameworks()
        .get(id)
        .map(|f| f.info.user.clone())
        .or_else(|| {
            master
                .completed_frameworks()
                .iter()
                .find(|f| f.info.id.as_ref().is_some_and(|i| i.value == id))
                .map(|f| f.info.user.clone())
        })
}

/// A task's own user, when it has one (live, unreachable, or lately completed).
fn task_user(master: &Master, fw_id: &str, task_id: &str) -> Option<String> {
    let fw = master.frameworks().get(fw_id)?;
    let entry = fw
        .tasks
        .get(task_id)
        .or_else(|| fw.unreachable_tasks.get(task_id))
        .or_else(|| {
            // A terminal update's task was just moved to the end of the completed ones.
            fw.completed_tasks
                .iter()
                .rev()
                .find(|e| e.task.task_id.value == task_id)
        })?;
    entry.task.user.clone()
}

/// Every framework's user, live and completed.
pub fn users(master: &Master) -> Users {
    master
        .frameworks()
        .iter()
        .map(|(id, f)| (id.clone(), f.info.user.clone()))
        .chain(master.completed_frameworks().iter().filter_map(|f| {
            let id = f.info.id.as_ref()?.value.clone();
            Some((id, f.info.user.clone()))
        }))
        .collect()
}

/// `response` (a legacy JSON document) as `viewer` may see it.
pub async fn filter_response(
    viewer: Option<Viewer>,
    state: &AppState,
    response: Response,
) -> Response {
    let Some(viewer) = viewer else {
        return response;
    };
    if !response.status().is_success() {
        return response;
    }
    let Some(users) = state.handle.read(|master, _| users(master)).await else {
        return response;
    };
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, DOCUMENT_MAX).await else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the document is too large to filter",
        )
            .into_response();
    };
    let Ok(mut doc) = serde_json::from_slice::<Value>(&bytes) else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "cannot filter the document",
        )
            .into_response();
    };
    // Re-written off the async threads: a document can be tens of megabytes.
    let written = tokio::task::spawn_blocking(move || {
        viewer.filter_json(&mut doc, &users);
        serde_json::to_vec(&doc).unwrap_or_default()
    })
    .await
    .unwrap_or_default();
    let mut response = Response::from_parts(parts, Body::from(written));
    response.headers_mut().remove(header::CONTENT_LENGTH);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
