//! The legacy endpoints' documents are written straight to JSON text (issue 8, G10). This
//! keeps the `serde_json::Value` tree builders they replaced as the reference and checks that
//! the new writers produce byte-identical documents for a populated master.

use crate::master_common;

use drover_core::master::{AgentStatus, Framework, Master, TaskEntry, seconds};
use drover_core::resources::{self, SummaryValue};
use drover_core::task::names::{reason_name, source_name, state_name};
use drover_master::legacy::{render_frameworks, render_slaves, render_state};
use drover_master::operator::version_info;
use drover_wire::json::to_json_value;
use drover_wire::v1;
use master_common::*;
use serde_json::{Map, Value, json};

/// A master with agents (attributes, one disconnected), frameworks (roles, principal, labels,
/// multi-role), running, finished and healthy tasks with labels, containers, health checks,
/// discovery and users, and outstanding offers; some text is non-ASCII or needs escaping.
fn populated() -> Sim {
    let mut sim = Sim::new();
    let (a1, _) = sim.register_agent_at(
        "host-1",
        5051,
        "cpus:8;mem:8192;disk:1000;ports:[31000-31100];cpus(web):1;disk(web):10",
    );
    let (a2, _) = sim.register_agent_at("höst-\"2\"", 5052, "cpus:4;mem:4096");
    let (a3, _) = sim.register_agent_at("host-3", 5053, "cpus:2;mem:1024;gpus:1");
    let mut info = framework_info(true);
    info.name = "fw \u{e9}\t\"one\"".into();
    info.principal = Some("alice".into());
    info.checkpoint = Some(true);
    info.failover_timeout = Some(604_800.5);
    info.hostname = Some("sched-host".into());
    info.webui_url = Some("http://ui/".into());
    info.labels = Some(v1::Labels {
        labels: vec![v1::Label {
            key: "team".into(),
            value: Some("x".into()),
        }],
    });
    let (fw, effects) = sim.subscribe_with(info);
    let mut multi = framework_info(false);
    multi.name = "multi".into();
    multi.roles = vec!["a".into(), "b".into()];
    multi.capabilities.push(v1::framework_info::Capability {
        r#type: Some(v1::framework_info::capability::Type::MultiRole as i32),
    });
    let (_fw2, _) = sim.subscribe_with(multi);
    let offers = offers(&effects, fw.conn);
    assert!(!offers.is_empty(), "offers");
    let mut launched = Vec::new();
    for (n, offer) in offers.iter().enumerate() {
        let agent = offer.agent_id.value.clone();
        let mut tasks = Vec::new();
        for k in 0..3 {
            let id = format!("t-{n}-{k}");
            let mut t = task(&id, &agent, "cpus:0.1;mem:16.5");
            if k == 1 {
                t.labels = Some(v1::Labels {
                    labels: vec![v1::Label {
                        key: "k".into(),
                        value: Some("v\u{1F600}".into()),
                    }],
                });
                t.health_check = Some(v1::HealthCheck {
                    delay_seconds: Some(1.5),
                    ..Default::default()
                });
                t.discovery = Some(v1::DiscoveryInfo {
                    visibility: v1::discovery_info::Visibility::Framework as i32,
                    name: Some("svc".into()),
                    ..Default::default()
                });
                t.container = Some(Box::new(v1::ContainerInfo {
                    r#type: v1::container_info::Type::Mesos as i32,
                    ..Default::default()
                }));
                if let Some(c) = t.command.as_mut() {
                    c.user = Some("nobody".into());
                }
            }
            launched.push((agent.clone(), id));
            tasks.push(t);
        }
        sim.accept(&fw, &[&offer.id.value], tasks);
    }
    for (i, (agent, id)) in launched.iter().enumerate() {
        let state = if i % 3 == 2 {
            v1::TaskState::TaskFinished
        } else {
            v1::TaskState::TaskRunning
        };
        sim.agent_update(agent, &fw.id, id, v1::TaskState::TaskStarting, 1);
        sim.agent_update(agent, &fw.id, id, state, 2);
    }
    sim.advance(1_500);
    sim.close_agent(&a3);
    let _ = (a1, a2);
    sim
}

fn flags() -> Value {
    json!({"port": "5050", "work_dir": "/tmp/w", "quiet": "false"})
}

#[test]
fn state_document_is_byte_identical_to_the_tree_it_replaced() {
    let sim = populated();
    let master = &sim.m;
    let tasks: usize = master.frameworks().values().map(|f| f.tasks.len()).sum();
    assert!(tasks > 0, "tasks running");
    let expected = state_json(master, flags()).to_string();
    let actual = String::from_utf8(render_state(master, &flags())).unwrap();
    assert_eq!(actual, expected);

    let expected = json!({
        "slaves": slaves_json(master, false),
        "recovered_slaves": slaves_json(master, true),
        "unreachable_agents": unreachable_json(master),
        "gone_agents": gone_json(master),
    })
    .to_string();
    assert_eq!(String::from_utf8(render_slaves(master)).unwrap(), expected);

    let expected = json!({
        "frameworks": master.frameworks().values().map(|f| framework_json(master, f)).collect::<Vec<_>>(),
        "completed_frameworks": master.completed_frameworks().iter().map(|f| framework_json(master, f)).collect::<Vec<_>>(),
        "unregistered_frameworks": [],
    })
    .to_string();
    assert_eq!(
        String::from_utf8(render_frameworks(master)).unwrap(),
        expected
    );
}

#[test]
fn restarted_master_state_is_byte_identical() {
    // Recovered agents and recovered frameworks take the other branches.
    let mut sim = populated().restart(10_000);
    let master = &sim.m;
    let expected = state_json(master, flags()).to_string();
    assert_eq!(
        String::from_utf8(render_state(master, &flags())).unwrap(),
        expected
    );
    // Agents that never come back become unreachable, one is then marked gone: Drover's
    // lists of them beside Mesos' counts.
    sim.advance(700_000);
    let gone = sim
        .m
        .registry()
        .unreachable
        .keys()
        .next()
        .cloned()
        .expect("unreachable");
    let req = sim.conn();
    sim.step(drover_core::master::Input::MarkAgentGone {
        req,
        agent_id: gone,
    });
    let master = &sim.m;
    assert!(!master.registry().unreachable.is_empty() && !master.registry().gone.is_empty());
    let expected = state_json(master, flags()).to_string();
    assert_eq!(
        String::from_utf8(render_state(master, &flags())).unwrap(),
        expected
    );
    let expected = json!({
        "slaves": slaves_json(master, false),
        "recovered_slaves": slaves_json(master, true),
        "unreachable_agents": unreachable_json(master),
        "gone_agents": gone_json(master),
    })
    .to_string();
    assert_eq!(String::from_utf8(render_slaves(master)).unwrap(), expected);
}

// ---------------------------------------------------------------------------------------------
// The reference: crates/master/src/legacy.rs before issue 8's G10 change, verbatim.
// ---------------------------------------------------------------------------------------------

/// A flattened resource summary (`{"cpus":0.5,"gpus":0.0,"mem":256.0,...}`).
fn summary_json(list: &[v1::Resource]) -> Value {
    let mut map = Map::new();
    for (name, value) in resources::summary(list) {
        let value = match value {
            SummaryValue::Number(n) => json!(n),
            SummaryValue::Text(t) => Value::String(t),
        };
        map.insert(name, value);
    }
    Value::Object(map)
}

/// Drover's lists beside Mesos' counts: the registry's unreachable agents with their last
/// address, and the gone ones.
fn unreachable_json(master: &Master) -> Vec<Value> {
    master
        .registry()
        .unreachable
        .iter()
        .map(|(id, u)| {
            json!({"id": id, "hostname": u.info.hostname, "port": u.info.port.unwrap_or(5051),
                   "unreachable_time": u.time_ms as f64 / 1000.0})
        })
        .collect()
}

fn gone_json(master: &Master) -> Vec<Value> {
    master
        .registry()
        .gone
        .iter()
        .map(|(id, t)| json!({"id": id, "gone_time": *t as f64 / 1000.0}))
        .collect()
}

fn state_json(master: &Master, flags: Value) -> Value {
    let info = master.master_info();
    let agents = master.agents();
    let activated = agents
        .values()
        .filter(|a| a.status == AgentStatus::Connected)
        .count();
    let deactivated = agents
        .values()
        .filter(|a| a.status == AgentStatus::Disconnected)
        .count();
    let v = version_info();
    json!({
        "version": v.version,
        "build_date": v.build_date,
        "build_time": v.build_time,
        "build_user": v.build_user,
        "start_time": seconds(master.start_ms()),
        "elected_time": seconds(master.start_ms()),
        "id": info.id,
        "pid": info.pid,
        "hostname": info.hostname,
        "capabilities": [],
        "activated_slaves": activated,
        "deactivated_slaves": deactivated,
        "unreachable_slaves": master.registry().unreachable.len(),
        "leader": info.pid,
        "leader_info": to_json_value(info),
        "flags": flags,
        "slaves": slaves_json(master, false),
        "recovered_slaves": slaves_json(master, true),
        "unreachable_agents": unreachable_json(master),
        "gone_agents": gone_json(master),
        "frameworks": master.frameworks().values().map(|f| framework_json(master, f)).collect::<Vec<_>>(),
        "completed_frameworks": master.completed_frameworks().iter().map(|f| framework_json(master, f)).collect::<Vec<_>>(),
        "orphan_tasks": [],
        "unregistered_frameworks": [],
    })
}

fn slaves_json(master: &Master, recovered: bool) -> Vec<Value> {
    master
        .agents()
        .iter()
        .filter(|(_, a)| (a.status == AgentStatus::Recovered) == recovered)
        .map(|(id, a)| {
            let mut attributes = Map::new();
            for attr in &a.info.attributes {
                let value = match (&attr.text, &attr.scalar) {
                    (Some(text), _) => Value::String(text.value.clone()),
                    (_, Some(scalar)) => json!(scalar.value),
                    _ => Value::Null,
                };
                attributes.insert(attr.name.clone(), value);
            }
            // Both O(tasks or offers on this agent), through the core's per-agent indexes
            // (issue 8: they were scans of every task and offer, per agent).
            let used = master.agent_used(id);
            let offered = master.agent_offered(id);
            let unreserved: Vec<v1::Resource> = a
                .info
                .resources
                .iter()
                .filter(|r| !resources::is_reserved(r))
                .cloned()
                .collect();
            let mut reserved: std::collections::BTreeMap<String, Vec<v1::Resource>> =
                Default::default();
            for r in a.info.resources.iter().filter(|r| resources::is_reserved(r)) {
                reserved
                    .entry(resources::reservation_role(r).to_owned())
                    .or_default()
                    .push(r.clone());
            }
            let mut object = json!({
                "id": id,
                "hostname": a.info.hostname,
                "port": a.info.port.unwrap_or(5051),
                "attributes": attributes,
                "pid": format!("slave(1)@{}:{}", a.info.hostname, a.info.port.unwrap_or(5051)),
                "registered_time": seconds(a.registered_time_ms),
                "resources": summary_json(&a.info.resources),
                "used_resources": summary_json(&used),
                "offered_resources": summary_json(&offered),
                "reserved_resources": reserved.iter().map(|(role, list)| (role.clone(), summary_json(list))).collect::<Map<String, Value>>(),
                "unreserved_resources": summary_json(&unreserved),
                "reserved_resources_full": reserved.iter().map(|(role, list)| (role.clone(), Value::Array(list.iter().map(to_json_value).collect()))).collect::<Map<String, Value>>(),
                "unreserved_resources_full": unreserved.iter().map(to_json_value).collect::<Vec<_>>(),
                "used_resources_full": used.iter().map(to_json_value).collect::<Vec<_>>(),
                "offered_resources_full": offered.iter().map(to_json_value).collect::<Vec<_>>(),
                "active": a.status == AgentStatus::Connected,
                "deactivated": a.status != AgentStatus::Connected,
                "version": a.version,
                "capabilities": a.capabilities.iter().filter_map(|c| c.r#type.and_then(|t| v1::agent_info::capability::Type::try_from(t).ok())).map(|t| t.as_str_name()).collect::<Vec<_>>(),
            });
            if let (Some(t), Some(map)) = (a.reregistered_time_ms, object.as_object_mut()) {
                map.insert("reregistered_time".into(), json!(seconds(t)));
            }
            object
        })
        .collect()
}

fn framework_json(master: &Master, fw: &Framework) -> Value {
    let id = fw.id();
    let used: Vec<v1::Resource> = fw
        .tasks
        .values()
        .filter(|e| !drover_core::task::state::releases_resources(e.state()))
        .flat_map(|e| e.task.resources.clone())
        .collect();
    let offers: Vec<&drover_core::master::Offer> = master
        .offers()
        .values()
        .filter(|o| o.offer.framework_id.value == id)
        .collect();
    let offered: Vec<v1::Resource> = offers
        .iter()
        .flat_map(|o| o.offer.resources.clone())
        .collect();
    let capabilities: Vec<&str> = fw
        .info
        .capabilities
        .iter()
        .filter_map(|c| {
            c.r#type
                .and_then(|t| v1::framework_info::capability::Type::try_from(t).ok())
        })
        .map(|t| t.as_str_name())
        .collect();
    let executors: Vec<Value> = master
        .agents()
        .iter()
        .flat_map(|(agent_id, a)| {
            a.executors
                .iter()
                .filter(|((f, _), _)| f == id)
                .map(move |(_, e)| {
                    // Issue 12: Mesos' json(ExecutorInfo) shape replaced the protobuf JSON.
                    let command = e.command.clone().unwrap_or_default();
                    let mut c = Map::new();
                    if let Some(shell) = command.shell {
                        c.insert("shell".into(), json!(shell));
                    }
                    if let Some(value) = &command.value {
                        c.insert("value".into(), json!(value));
                    }
                    c.insert("argv".into(), json!(command.arguments));
                    if let Some(env) = &command.environment {
                        c.insert("environment".into(), to_json_value(env));
                    }
                    let uris: Vec<Value> = command
                        .uris
                        .iter()
                        .map(|u| json!({"value": u.value, "executable": u.executable.unwrap_or(false)}))
                        .collect();
                    c.insert("uris".into(), json!(uris));
                    let mut v = json!({
                        "executor_id": e.executor_id.value,
                        "name": e.name.clone().unwrap_or_default(),
                        "framework_id": e.framework_id.as_ref().map(|f| f.value.clone()).unwrap_or_default(),
                        "command": c,
                        "resources": summary_json(&e.resources),
                    });
                    let map = v.as_object_mut().expect("an object");
                    if let Some(labels) = &e.labels {
                        map.insert("labels".into(), to_json_value(labels)["labels"].clone());
                    }
                    if let Some(kind) = e.r#type.and_then(|t| v1::executor_info::Type::try_from(t).ok()) {
                        map.insert("type".into(), json!(kind.as_str_name()));
                    }
                    map.insert("slave_id".into(), json!(agent_id));
                    v
                })
        })
        .collect();
    let mut object = json!({
        "id": id,
        "name": fw.info.name,
        "used_resources": summary_json(&used),
        "offered_resources": summary_json(&offered),
        "capabilities": capabilities,
        "hostname": fw.info.hostname.clone().unwrap_or_default(),
        "webui_url": fw.info.webui_url.clone().unwrap_or_default(),
        "active": fw.connected(),
        "connected": fw.connected(),
        "recovered": fw.recovered,
        "user": fw.info.user,
        "failover_timeout": fw.info.failover_timeout.unwrap_or(0.0),
        "checkpoint": fw.info.checkpoint.unwrap_or(false),
        "registered_time": fw.registered_time_ms.map(seconds).unwrap_or(0.0),
        "unregistered_time": fw.unregistered_time_ms.map(seconds).unwrap_or(0.0),
        "resources": summary_json(&used),
        "tasks": fw.tasks.values().map(|e| task_json(e)).collect::<Vec<_>>(),
        "unreachable_tasks": fw.unreachable_tasks.values().map(|e| task_json(e)).collect::<Vec<_>>(),
        "completed_tasks": fw.completed_tasks.iter().map(|e| task_json(e)).collect::<Vec<_>>(),
        "offers": offers.iter().map(|o| {
            json!({
                "id": o.offer.id.value,
                "framework_id": o.offer.framework_id.value,
                "slave_id": o.offer.agent_id.value,
                "resources": summary_json(&o.offer.resources),
            })
        }).collect::<Vec<_>>(),
        "executors": executors,
    });
    if let Some(map) = object.as_object_mut() {
        if let Some(p) = &fw.info.principal {
            map.insert("principal".into(), json!(p));
        }
        if let Some(t) = fw.reregistered_time_ms {
            map.insert("reregistered_time".into(), json!(seconds(t)));
        }
        if fw.has_capability(v1::framework_info::capability::Type::MultiRole) {
            map.insert("roles".into(), json!(fw.info.roles));
        } else {
            map.insert(
                "role".into(),
                json!(fw.roles().first().cloned().unwrap_or_else(|| "*".into())),
            );
        }
        if let Some(labels) = &fw.info.labels {
            map.insert("labels".into(), to_json_value(labels)["labels"].clone());
        }
    }
    object
}

/// A task in the legacy shape, with Drover's `status_history`.
fn task_json(entry: &TaskEntry) -> Value {
    let task = &entry.task;
    let statuses: Vec<Value> = task
        .statuses
        .iter()
        .map(|s| {
            let mut v = json!({
                "state": v1::TaskState::try_from(s.state).map(state_name).unwrap_or("TASK_STAGING"),
                "timestamp": s.timestamp.unwrap_or(0.0),
            });
            if let Some(map) = v.as_object_mut() {
                if let Some(h) = s.healthy {
                    map.insert("healthy".into(), json!(h));
                }
                if let Some(c) = &s.container_status {
                    map.insert("container_status".into(), to_json_value(c));
                }
                if let Some(l) = &s.labels {
                    map.insert("labels".into(), to_json_value(l)["labels"].clone());
                }
            }
            v
        })
        .collect();
    let history: Vec<Value> = entry
        .history
        .iter()
        .map(|h| {
            let mut v = json!({
                "state": state_name(h.state),
                "timestamp": seconds(h.timestamp_ms),
            });
            if let Some(map) = v.as_object_mut() {
                if let Some(r) = h.reason {
                    map.insert("reason".into(), json!(reason_name(r)));
                }
                if let Some(s) = h.source {
                    map.insert("source".into(), json!(source_name(s)));
                }
                if let Some(m) = &h.message {
                    map.insert("message".into(), json!(m));
                }
                if let Some(healthy) = h.healthy {
                    map.insert("healthy".into(), json!(healthy));
                }
            }
            v
        })
        .collect();
    let mut object = json!({
        "id": task.task_id.value,
        "name": task.name,
        "framework_id": task.framework_id.value,
        "executor_id": task.executor_id.as_ref().map(|e| e.value.clone()).unwrap_or_default(),
        "slave_id": task.agent_id.value,
        "state": v1::TaskState::try_from(task.state).map(state_name).unwrap_or("TASK_STAGING"),
        "resources": summary_json(&task.resources),
        "role": entry.role,
        "statuses": statuses,
        "status_history": history,
    });
    if let Some(map) = object.as_object_mut() {
        if let Some(u) = &task.user {
            map.insert("user".into(), json!(u));
        }
        if let Some(l) = &task.labels {
            map.insert("labels".into(), to_json_value(l)["labels"].clone());
        }
        if let Some(h) = &task.health_check {
            map.insert("health_check".into(), to_json_value(h));
        }
        if let Some(d) = &task.discovery {
            map.insert("discovery".into(), to_json_value(d));
        }
        if let Some(c) = &task.container {
            map.insert("container".into(), to_json_value(c));
        }
        if let Some(t) = entry.unreachable_time_ms {
            map.insert(
                "unreachable_time".into(),
                json!({"nanoseconds": t.saturating_mul(1_000_000)}),
            );
        }
    }
    object
}
