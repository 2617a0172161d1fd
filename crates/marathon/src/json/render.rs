//! Marathon's response shapes built from the scheduler's views: AppInfo, Task, deployments,
//! queue items and events (spec §4, §5; only keys marathon-python 0.13 accepts).

use drover_core::marathon::app::AppSpec;
use drover_core::marathon::deployment::{ActionKind, Deployment, PlanView};
use drover_core::marathon::event::Event;
use drover_core::marathon::instance::Instance;
use drover_core::marathon::offer::RejectReason;
use drover_core::marathon::path::PathId;
use drover_core::marathon::scheduler::{QueueEntry, Scheduler};
use drover_core::marathon::timestamp;
use drover_core::task::names::state_name;
use serde_json::{Value, json};

use super::app::app_json;
use super::view::{AppInfo, Context, Task};

/// What AppInfo embeds beyond counts and deployments.
#[derive(Debug, Clone, Copy, Default)]
pub struct Embed {
    /// `tasks`.
    pub tasks: bool,
    /// `lastTaskFailure`.
    pub last_task_failure: bool,
    /// `taskStats`, measured at `now_ms`.
    pub task_stats: bool,
    /// `readiness`: `readinessCheckResults` of the app's instances still probed or ready.
    pub readiness: bool,
    /// The read's time, for `taskStats` lifetimes.
    pub now_ms: u64,
}

/// AppInfo as a `Value`, for responses that nest it in a larger `Value` (groups, the POST
/// reply); listings write [`AppInfo`] straight to text instead.
pub fn app_info(s: &Scheduler, app: &AppSpec, embed: Embed) -> Value {
    to_value(&AppInfo::new(&Context::of_app(s, &app.id), app, embed))
}

/// A task (`/v2/apps/{id}/tasks`, `/v2/tasks`); `service_ports` only on `/v2/tasks`.
pub fn task_json(i: &Instance, app: Option<&AppSpec>) -> Value {
    to_value(&Task::new(i, app))
}

/// [`task_json`] with what the scheduler knows of the task's health-check history.
pub fn task_json_in(s: &Scheduler, i: &Instance, app: Option<&AppSpec>) -> Value {
    to_value(&Task::new(i, app).in_scheduler(s))
}

/// A view as a `Value` (key order kept: serde_json's `preserve_order` is on).
pub(crate) fn to_value(view: &impl serde::Serialize) -> Value {
    // The views hold only strings, numbers, booleans and parsed JSON: nothing that can fail.
    serde_json::to_value(view).unwrap_or(Value::Null)
}

/// An action as Marathon names it: `…Application` with `app` for an app, `…Pod` with `pod`
/// for a pod.
fn action_json(kind: ActionKind, id: &PathId, pod: bool) -> Value {
    if !pod {
        return json!({"action": kind.name(), "app": id.as_str()});
    }
    let name = match kind {
        ActionKind::StartApplication => "StartPod",
        ActionKind::StopApplication => "StopPod",
        ActionKind::ScaleApplication => "ScalePod",
        ActionKind::RestartApplication => "RestartPod",
    };
    json!({"action": name, "pod": id.as_str()})
}

/// Whether a plan's run spec is a pod (its definition before or after says so).
fn plan_pod(plan: &PlanView, id: &PathId) -> bool {
    plan.original
        .iter()
        .chain(&plan.target)
        .any(|a| &a.id == id && a.pod.is_some())
}

fn actions_json(plan: &PlanView, step: usize) -> Vec<Value> {
    plan.steps
        .get(step)
        .map(|actions| {
            actions
                .iter()
                .map(|a| action_json(a.kind, &a.app, plan_pod(plan, &a.app)))
                .collect()
        })
        .unwrap_or_default()
}

fn plan_json(plan: &PlanView) -> Value {
    let steps: Vec<Value> = (0..plan.steps.len())
        .map(|i| json!({"actions": actions_json(plan, i)}))
        .collect();
    json!({
        "id": plan.id,
        "version": timestamp(plan.version_ms),
        "steps": steps,
        "original": group_tree(&plan.original, &PathId::root()),
        "target": group_tree(&plan.target, &PathId::root()),
    })
}

/// The group `group` holding `apps` (and the subgroups their ids imply), in Marathon's group
/// shape. Only the plan's affected apps are listed, not the whole root group Marathon wrote
/// into every event: an event stays bounded by the plan, not by the cluster. No
/// `enforceRole`: marathon-python 0.13's plan states reject unknown keys.
fn group_tree(apps: &[AppSpec], group: &PathId) -> Value {
    let within: Vec<&AppSpec> = apps.iter().filter(|a| a.id.is_within(group)).collect();
    let direct: Vec<Value> = within
        .iter()
        .filter(|a| &a.id.parent() == group && a.pod.is_none())
        .map(|a| Value::Object(app_json(a)))
        .collect();
    let pods: Vec<Value> = within
        .iter()
        .filter(|a| &a.id.parent() == group && a.pod.is_some())
        .map(|a| Value::Object(super::pod_render::pod_json(a, false)))
        .collect();
    let children: std::collections::BTreeSet<PathId> = within
        .iter()
        .filter_map(|a| {
            let mut p = a.id.parent();
            while &p != group && !p.is_root() {
                if &p.parent() == group {
                    return Some(p);
                }
                p = p.parent();
            }
            None
        })
        .collect();
    let groups: Vec<Value> = children
        .iter()
        .map(|c| {
            let mine: Vec<AppSpec> = within
                .iter()
                .filter(|a| a.id.is_within(c))
                .map(|a| (*a).clone())
                .collect();
            group_tree(&mine, c)
        })
        .collect();
    let version = within.iter().map(|a| a.version_ms).max().unwrap_or(0);
    json!({
        "id": group.as_str(), "apps": direct, "groups": groups, "pods": pods,
        "dependencies": [], "version": timestamp(version),
    })
}

/// A deployment as `GET /v2/deployments` lists it. `explain` adds why each current action
/// waits (an opt-in extension; marathon-python rejects unknown keys).
pub fn deployment_json(s: &Scheduler, d: &Deployment, explain: bool) -> Value {
    let plan = d.view_with(s.apps());
    let current: Vec<Value> = d.steps[d.current_step]
        .iter()
        .map(|a| {
            // The readiness results of the app's instances of the version being deployed.
            let version = s.app(&a.app).map(|app| app.last_config_change_at_ms);
            let results: Vec<Value> = s
                .instances_of(&a.app)
                .filter(|i| Some(i.config_ms) == version)
                .flat_map(|i| s.readiness_results(&i.id))
                .map(|r| super::readiness::result_json(&r))
                .collect();
            let mut v = action_json(a.kind, &a.app, plan_pod(&plan, &a.app));
            v["readinessCheckResults"] = json!(results);
            if explain && let Some(reason) = d.waiting.get(&a.app) {
                v["waitingFor"] = json!(reason);
            }
            v
        })
        .collect();
    let steps: Vec<Value> = (0..plan.steps.len())
        .map(|i| json!({"actions": actions_json(&plan, i)}))
        .collect();
    let (pods, apps): (Vec<&PathId>, Vec<&PathId>) =
        d.affected_apps.iter().partition(|id| plan_pod(&plan, id));
    let ids = |ids: Vec<&PathId>| {
        ids.iter()
            .map(|a| a.as_str().to_owned())
            .collect::<Vec<_>>()
    };
    json!({
        "id": d.id,
        "version": timestamp(d.version_ms),
        "affectedApps": ids(apps),
        "affectedPods": ids(pods),
        "steps": steps,
        "currentActions": current,
        "currentStep": d.current_step + 1,
        "totalSteps": d.steps.len(),
    })
}

/// A `/v2/queue` item. No `role` key: marathon-python 0.13 rejects it.
pub fn queue_json(s: &Scheduler, entry: &QueueEntry, explain: bool) -> Value {
    let reject = |_: ()| -> Vec<Value> {
        RejectReason::ALL
            .iter()
            .map(|r| {
                json!({
                    "reason": r.name(),
                    "declined": entry.stats.rejects.get(r).copied().unwrap_or(0),
                    "processed": entry.stats.processed,
                })
            })
            .collect()
    };
    let mut summary = json!({
        "processedOffersCount": entry.stats.processed,
        "unusedOffersCount": entry.stats.unused,
        "rejectSummaryLastOffers": reject(()),
        "rejectSummaryLaunchAttempt": reject(()),
    });
    if let Some(t) = entry.stats.last_unused_at_ms {
        summary["lastUnusedOfferAt"] = json!(timestamp(t));
    }
    if let Some(t) = entry.stats.last_used_at_ms {
        summary["lastUsedOfferAt"] = json!(timestamp(t));
    }
    let spec = s.app(&entry.app_id);
    let app = spec
        .map(|a| match a.pod {
            Some(_) => Value::Object(super::pod_render::pod_json(a, false)),
            None => Value::Object(app_json(a)),
        })
        .unwrap_or(Value::Null);
    let mut item = json!({
        "count": entry.count,
        "delay": {
            "timeLeftSeconds": entry.delay_left_ms.div_ceil(1000),
            "overdue": entry.delay_left_ms == 0,
        },
        "since": timestamp(entry.since_ms),
        "processedOffersSummary": summary,
    });
    // A pod's entry names it `pod`, as Marathon's QueueItem for pods.
    let key = if spec.is_some_and(|a| a.pod.is_some()) {
        "pod"
    } else {
        "app"
    };
    item[key] = app;
    if explain {
        item["waitingFor"] = json!(entry.reason);
    }
    item
}

/// An event's JSON (`eventType` and `timestamp` included).
pub fn event_json(event: &Event, now_ms: u64) -> Value {
    let mut v = match event {
        Event::StatusUpdate {
            slave_id,
            task_id,
            task_status,
            message,
            app_id,
            host,
            ip_addresses,
            ports,
            version_ms,
        } => json!({
            "slaveId": slave_id,
            "taskId": task_id,
            "taskStatus": state_name(*task_status),
            "message": message,
            "appId": app_id.as_str(),
            "host": host,
            "ipAddresses": ip_addresses.iter().map(|ip| json!({"ipAddress": ip, "protocol": "IPv4"})).collect::<Vec<_>>(),
            "ports": ports,
            "version": timestamp(*version_ms),
        }),
        Event::InstanceChanged {
            instance_id,
            condition,
            run_spec_id,
            agent_id,
            host,
            run_spec_version_ms,
        } => {
            let mut v = json!({
                "instanceId": instance_id,
                "condition": condition.name(),
                "runSpecId": run_spec_id.as_str(),
                "runSpecVersion": timestamp(*run_spec_version_ms),
            });
            if let Some(a) = agent_id {
                v["agentId"] = json!(a);
            }
            if let Some(h) = host {
                v["host"] = json!(h);
            }
            v
        }
        Event::UnknownInstanceTerminated {
            instance_id,
            run_spec_id,
            condition,
        } => json!({
            "instanceId": instance_id,
            "runSpecId": run_spec_id.as_ref().map(|r| r.as_str()),
            "condition": condition.name(),
        }),
        Event::HealthStatusChanged {
            app_id,
            instance_id,
            version_ms,
            alive,
        } => json!({
            "appId": app_id.as_str(),
            "instanceId": instance_id,
            "version": timestamp(*version_ms),
            "alive": alive,
        }),
        Event::GroupChangeSuccess {
            group_id,
            version_ms,
        } => json!({
            "groupId": group_id.as_str(),
            "version": timestamp(*version_ms),
        }),
        Event::InstanceHealthChanged {
            app_id,
            instance_id,
            version_ms,
            healthy,
        } => json!({
            "instanceId": instance_id,
            "runSpecId": app_id.as_str(),
            "runSpecVersion": timestamp(*version_ms),
            "healthy": healthy,
        }),
        Event::FailedHealthCheck {
            app_id,
            instance_id,
            check_index,
        } => json!({
            "appId": app_id.as_str(),
            "taskId": instance_id,
            "healthCheck": {"index": check_index},
        }),
        Event::UnhealthyInstanceKill {
            app_id,
            task_id,
            instance_id,
            version_ms,
            reason,
            host,
            slave_id,
        } => json!({
            "appId": app_id.as_str(),
            "taskId": task_id,
            "instanceId": instance_id,
            "version": timestamp(*version_ms),
            "reason": reason,
            "host": host,
            "slaveId": slave_id,
        }),
        Event::DeploymentInfo { plan, step } | Event::DeploymentStepSuccess { plan, step } => {
            json!({
                "plan": plan_json(plan),
                "currentStep": {"actions": actions_json(plan, *step)},
            })
        }
        Event::DeploymentSuccess { plan } => json!({"id": plan.id, "plan": plan_json(plan)}),
        Event::DeploymentFailed { plan, reason } => {
            json!({"id": plan.id, "plan": plan_json(plan), "reason": reason})
        }
        Event::AppTerminated { app_id } => json!({"appId": app_id.as_str()}),
    };
    v["eventType"] = json!(event.event_type());
    v["timestamp"] = json!(timestamp(now_ms));
    v
}

#[cfg(test)]
mod plan_tests {
    use drover_core::marathon::deployment::{Action, ActionKind, PlanView};

    use super::*;
    use crate::json::app::{Mode, parse_app};

    fn app(body: Value) -> AppSpec {
        parse_app(&body, None, Mode::Full).expect("valid app")
    }

    #[test]
    fn deployment_events_carry_original_and_target_group_trees() {
        let before = app(json!({"id": "/prod/db", "cmd": "sleep 1", "instances": 1}));
        let mut after = app(json!({"id": "/prod/db", "cmd": "sleep 1", "instances": 3}));
        after.version_ms = 5000;
        let web = app(json!({"id": "/web", "cmd": "sleep 2"}));
        let plan = PlanView {
            id: "p-1".into(),
            version_ms: 5000,
            affected_apps: vec![before.id.clone(), web.id.clone()],
            steps: vec![vec![Action {
                kind: ActionKind::ScaleApplication,
                app: before.id.clone(),
            }]],
            current_step: 0,
            original: vec![before],
            target: vec![after, web],
        };
        let event = event_json(&Event::DeploymentSuccess { plan }, 6000);
        let plan = &event["plan"];
        assert_eq!(plan["original"]["id"], "/");
        assert_eq!(plan["original"]["apps"], json!([]));
        let original_prod = &plan["original"]["groups"][0];
        assert_eq!(original_prod["id"], "/prod");
        assert_eq!(original_prod["apps"][0]["id"], "/prod/db");
        assert_eq!(original_prod["apps"][0]["instances"], 1);
        let target = &plan["target"];
        assert_eq!(target["apps"][0]["id"], "/web");
        assert_eq!(target["groups"][0]["apps"][0]["instances"], 3);
        assert_eq!(target["groups"][0]["version"], timestamp(5000));
        for group in [&plan["original"], target, &target["groups"][0]] {
            let mut keys: Vec<&str> = group
                .as_object()
                .expect("group")
                .keys()
                .map(String::as_str)
                .collect();
            keys.sort_unstable();
            // Exactly what marathon-python's plan states accept.
            assert_eq!(
                keys,
                ["apps", "dependencies", "groups", "id", "pods", "version"]
            );
        }
        assert_eq!(
            plan["steps"],
            json!([{"actions": [{"action": "ScaleApplication", "app": "/prod/db"}]}])
        );
    }
}
