//! The registry on disk: how each [`RegistryOp`] becomes store writes in the `master`
//! namespace, and how a [`Registry`] is read back on start.
//!
//! Keys: `meta/master_id` (text), `meta/counters` (three big-endian u64: next framework, next
//! agent, offers reserved), `agent/<id>` (AgentInfo protobuf), `unreachable/<id>` (8-byte
//! big-endian time in ms, then AgentInfo protobuf), `gone/<id>` (8-byte time),
//! `framework/<id>` (FrameworkInfo protobuf), `removed_framework/<id>` (its FrameworkInfo
//! protobuf while its completed tasks are kept, else empty), `deactivated/<id>` (empty),
//! `quota/<role>` (QuotaConfig protobuf, as Mesos' registry kept quota configs),
//! `completed/<framework id>/<seq, 20 digits>` (a `drover.internal.CompletedTask`),
//! `maintenance/schedule` (maintenance Schedule protobuf), `maintenance/down` (MachineIDs
//! protobuf), `drain/<id>` (DrainInfo protobuf), `operation/<uuid hex>` (an `Operation`
//! protobuf: an operation with feedback whose terminal status awaits acknowledgement).

use anyhow::{Context, bail};
use drover_core::master::maintenance;
use drover_core::master::quota::Quota;
use std::sync::Arc;

use drover_core::master::history;
use drover_core::master::operations_feedback;
use drover_core::master::registry::{CompletedRecord, Registry, RegistryOp, UnreachableAgent};
use drover_store::{Store, WriteBatch};
use drover_wire::v1;
use prost::Message;

/// The store namespace of the master.
pub const NAMESPACE: &str = "master";

const MASTER_ID: &str = "meta/master_id";
const COUNTERS: &str = "meta/counters";
const SCHEDULE: &str = "maintenance/schedule";
const DOWN: &str = "maintenance/down";

/// Adds the writes of one operation to a batch.
pub fn write(op: &RegistryOp, batch: &mut WriteBatch) {
    match op {
        RegistryOp::Counters {
            next_framework,
            next_agent,
            offers_reserved,
        } => {
            let mut value = Vec::with_capacity(24);
            value.extend_from_slice(&next_framework.to_be_bytes());
            value.extend_from_slice(&next_agent.to_be_bytes());
            value.extend_from_slice(&offers_reserved.to_be_bytes());
            batch.put(NAMESPACE, COUNTERS, value);
        }
        RegistryOp::AdmitAgent(info) => {
            let id = agent_id(info);
            batch.delete(NAMESPACE, format!("unreachable/{id}"));
            batch.put(NAMESPACE, format!("agent/{id}"), info.encode_to_vec());
        }
        RegistryOp::MarkUnreachable { info, time_ms } => {
            let id = agent_id(info);
            let mut value = time_ms.to_be_bytes().to_vec();
            value.extend(info.encode_to_vec());
            batch.delete(NAMESPACE, format!("agent/{id}"));
            batch.put(NAMESPACE, format!("unreachable/{id}"), value);
        }
        RegistryOp::MarkGone { agent_id, time_ms } => {
            batch.delete(NAMESPACE, format!("agent/{agent_id}"));
            batch.delete(NAMESPACE, format!("unreachable/{agent_id}"));
            batch.delete(NAMESPACE, format!("deactivated/{agent_id}"));
            batch.delete(NAMESPACE, format!("drain/{agent_id}"));
            batch.put(
                NAMESPACE,
                format!("gone/{agent_id}"),
                time_ms.to_be_bytes().to_vec(),
            );
        }
        RegistryOp::RemoveAgent { agent_id } => {
            batch.delete(NAMESPACE, format!("agent/{agent_id}"));
            batch.delete(NAMESPACE, format!("unreachable/{agent_id}"));
            batch.delete(NAMESPACE, format!("deactivated/{agent_id}"));
            batch.delete(NAMESPACE, format!("drain/{agent_id}"));
        }
        RegistryOp::PruneAgents { unreachable, gone } => {
            for id in unreachable {
                batch.delete(NAMESPACE, format!("unreachable/{id}"));
            }
            for id in gone {
                batch.delete(NAMESPACE, format!("gone/{id}"));
            }
        }
        RegistryOp::DeactivateAgent { agent_id } => {
            batch.put(NAMESPACE, format!("deactivated/{agent_id}"), Vec::new());
        }
        RegistryOp::ReactivateAgent { agent_id } => {
            batch.delete(NAMESPACE, format!("deactivated/{agent_id}"));
            batch.delete(NAMESPACE, format!("drain/{agent_id}"));
        }
        RegistryOp::UpdateQuota(changes) => {
            for (role, quota) in changes {
                let key = format!("quota/{role}");
                if quota.is_default() {
                    batch.delete(NAMESPACE, key);
                } else {
                    batch.put(NAMESPACE, key, quota.to_config(role).encode_to_vec());
                }
            }
        }
        RegistryOp::Maintenance(m) => {
            batch.put(NAMESPACE, SCHEDULE, m.schedule.encode_to_vec());
            let down = v1::MachineIDs {
                values: m.down.iter().map(maintenance::machine_id).collect(),
            };
            batch.put(NAMESPACE, DOWN, down.encode_to_vec());
        }
        RegistryOp::PutDrain { agent_id, info } => {
            batch.put(NAMESPACE, format!("drain/{agent_id}"), info.encode_to_vec());
        }
        RegistryOp::EndDrain { agent_id } => {
            batch.delete(NAMESPACE, format!("drain/{agent_id}"));
        }
        RegistryOp::PutOperation(operation) => {
            batch.put(
                NAMESPACE,
                format!("operation/{}", operations_feedback::uuid_key(operation)),
                operation.encode_to_vec(),
            );
        }
        RegistryOp::RemoveOperation { uuid } => {
            batch.delete(NAMESPACE, format!("operation/{uuid}"));
        }
        RegistryOp::PutFramework(info) => {
            let id = info.id.as_ref().map(|i| i.value.as_str()).unwrap_or("");
            batch.put(NAMESPACE, format!("framework/{id}"), info.encode_to_vec());
        }
        RegistryOp::RemoveFramework { framework_id, info } => {
            batch.delete(NAMESPACE, format!("framework/{framework_id}"));
            batch.put(
                NAMESPACE,
                format!("removed_framework/{framework_id}"),
                info.as_ref().map(|i| i.encode_to_vec()).unwrap_or_default(),
            );
        }
        RegistryOp::CompleteTask {
            framework_id,
            record,
            evict,
        } => {
            for seq in evict {
                batch.delete(NAMESPACE, completed_key(framework_id, *seq));
            }
            if let Some(record) = record {
                batch.put(
                    NAMESPACE,
                    completed_key(framework_id, record.seq),
                    history::encode(&record.entry).encode_to_vec(),
                );
            }
        }
    }
}

fn completed_key(framework_id: &str, seq: u64) -> String {
    format!("completed/{framework_id}/{seq:020}")
}

fn agent_id(info: &v1::AgentInfo) -> &str {
    info.id.as_ref().map(|i| i.value.as_str()).unwrap_or("")
}

fn key_suffix<'a>(key: &'a [u8], prefix: &str) -> anyhow::Result<&'a str> {
    let key = std::str::from_utf8(key).context("registry key is not UTF-8")?;
    Ok(key.strip_prefix(prefix).unwrap_or(key))
}

fn time_prefix(value: &[u8]) -> anyhow::Result<(u64, &[u8])> {
    if value.len() < 8 {
        bail!("registry value is too short for its timestamp");
    }
    let (time, rest) = value.split_at(8);
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(time);
    Ok((u64::from_be_bytes(bytes), rest))
}

/// Reads the registry; a store without one gets a new master id, written before returning.
pub fn load(store: &dyn Store) -> anyhow::Result<Registry> {
    let master_id = match store.get(NAMESPACE, MASTER_ID.as_bytes())? {
        Some(bytes) => {
            String::from_utf8(bytes).context("master id in the registry is not UTF-8")?
        }
        None => {
            let id = uuid::Uuid::new_v4().to_string();
            let mut batch = WriteBatch::new();
            batch.put(NAMESPACE, MASTER_ID, id.clone().into_bytes());
            store
                .commit(batch)
                .context("cannot write the new master id to the registry")?;
            id
        }
    };
    let mut registry = Registry::new(master_id);
    if let Some(bytes) = store.get(NAMESPACE, COUNTERS.as_bytes())? {
        if bytes.len() != 24 {
            bail!("registry counters are corrupt ({} bytes)", bytes.len());
        }
        let word = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[i * 8..i * 8 + 8]);
            u64::from_be_bytes(b)
        };
        registry.next_framework = word(0);
        registry.next_agent = word(1);
        registry.offers_reserved = word(2);
    }
    for (key, value) in store.scan(NAMESPACE, b"agent/")? {
        let id = key_suffix(&key, "agent/")?.to_owned();
        let info = v1::AgentInfo::decode(value.as_slice())
            .with_context(|| format!("agent {id} in the registry is corrupt"))?;
        registry.agents.insert(id, info);
    }
    for (key, value) in store.scan(NAMESPACE, b"unreachable/")? {
        let id = key_suffix(&key, "unreachable/")?.to_owned();
        let (time_ms, rest) = time_prefix(&value)?;
        let info = v1::AgentInfo::decode(rest)
            .with_context(|| format!("unreachable agent {id} in the registry is corrupt"))?;
        registry
            .unreachable
            .insert(id, UnreachableAgent { info, time_ms });
    }
    for (key, value) in store.scan(NAMESPACE, b"gone/")? {
        let id = key_suffix(&key, "gone/")?.to_owned();
        let (time_ms, _) = time_prefix(&value)?;
        registry.gone.insert(id, time_ms);
    }
    for (key, value) in store.scan(NAMESPACE, b"framework/")? {
        let id = key_suffix(&key, "framework/")?.to_owned();
        let info = v1::FrameworkInfo::decode(value.as_slice())
            .with_context(|| format!("framework {id} in the registry is corrupt"))?;
        registry.frameworks.insert(id, info);
    }
    let mut removed_infos = std::collections::BTreeMap::new();
    for (key, value) in store.scan(NAMESPACE, b"removed_framework/")? {
        let id = key_suffix(&key, "removed_framework/")?.to_owned();
        if !value.is_empty() {
            let info = v1::FrameworkInfo::decode(value.as_slice())
                .with_context(|| format!("removed framework {id} in the registry is corrupt"))?;
            removed_infos.insert(id.clone(), info);
        }
        registry.removed_frameworks.insert(id);
    }
    for (key, value) in store.scan(NAMESPACE, b"completed/")? {
        let rest = key_suffix(&key, "completed/")?;
        let Some((framework_id, seq)) = rest.rsplit_once('/') else {
            bail!("completed task key {rest:?} in the registry has no sequence number");
        };
        let seq: u64 = seq
            .parse()
            .with_context(|| format!("completed task key {rest:?} has a bad sequence number"))?;
        let record = drover_wire::internal::CompletedTask::decode(value.as_slice())
            .with_context(|| format!("completed task {rest} in the registry is corrupt"))?;
        registry.next_completed_seq = registry.next_completed_seq.max(seq + 1);
        registry
            .completed
            .entry(framework_id.to_owned())
            .or_default()
            .push_back(CompletedRecord {
                seq,
                entry: Arc::new(history::decode(record)),
            });
    }
    for records in registry.completed.values_mut() {
        records.make_contiguous().sort_by_key(|r| r.seq);
    }
    removed_infos.retain(|id, _| registry.completed.contains_key(id));
    registry.removed_infos = removed_infos;
    for (key, _) in store.scan(NAMESPACE, b"deactivated/")? {
        let id = key_suffix(&key, "deactivated/")?.to_owned();
        registry.deactivated.insert(id);
    }
    for (key, value) in store.scan(NAMESPACE, b"quota/")? {
        let role = key_suffix(&key, "quota/")?.to_owned();
        let config = v1::quota::QuotaConfig::decode(value.as_slice())
            .with_context(|| format!("the quota of role {role} in the registry is corrupt"))?;
        registry.quotas.insert(role, Quota::from_config(&config));
    }
    if let Some(bytes) = store.get(NAMESPACE, SCHEDULE.as_bytes())? {
        registry.maintenance.schedule = v1::maintenance::Schedule::decode(bytes.as_slice())
            .context("the maintenance schedule in the registry is corrupt")?;
    }
    if let Some(bytes) = store.get(NAMESPACE, DOWN.as_bytes())? {
        let down = v1::MachineIDs::decode(bytes.as_slice())
            .context("the DOWN machines in the registry are corrupt")?;
        registry.maintenance.down = down.values.iter().map(maintenance::key).collect();
    }
    for (key, value) in store.scan(NAMESPACE, b"drain/")? {
        let id = key_suffix(&key, "drain/")?.to_owned();
        let info = v1::DrainInfo::decode(value.as_slice())
            .with_context(|| format!("the drain of agent {id} in the registry is corrupt"))?;
        registry.drains.insert(id, info);
    }
    for (key, value) in store.scan(NAMESPACE, b"operation/")? {
        let uuid = key_suffix(&key, "operation/")?.to_owned();
        let operation = v1::Operation::decode(value.as_slice())
            .with_context(|| format!("operation {uuid} in the registry is corrupt"))?;
        registry.operations.insert(uuid, operation);
    }
    Ok(registry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use drover_store::MemoryStore;

    fn agent(id: &str) -> v1::AgentInfo {
        v1::AgentInfo {
            id: Some(v1::AgentId { value: id.into() }),
            hostname: format!("host-{id}"),
            port: Some(5051),
            ..Default::default()
        }
    }

    /// What a write stores is what a restart reads, for the agent lists and their pruning.
    #[test]
    fn unreachable_gone_and_pruned_agents_survive_a_reload() {
        let store = MemoryStore::new();
        let mut registry = load(&store).expect("a new registry");
        let ops = [
            RegistryOp::AdmitAgent(agent("a")),
            RegistryOp::AdmitAgent(agent("b")),
            RegistryOp::AdmitAgent(agent("c")),
            RegistryOp::MarkUnreachable {
                info: agent("a"),
                time_ms: 10,
            },
            RegistryOp::MarkUnreachable {
                info: agent("b"),
                time_ms: 20,
            },
            RegistryOp::MarkGone {
                agent_id: "c".into(),
                time_ms: 30,
            },
            RegistryOp::MarkGone {
                agent_id: "d".into(),
                time_ms: 40,
            },
            RegistryOp::PruneAgents {
                unreachable: vec!["a".into()],
                gone: vec!["c".into()],
            },
        ];
        for op in &ops {
            let mut batch = WriteBatch::new();
            write(op, &mut batch);
            store.commit(batch).expect("commit");
            registry.apply(op);
        }
        let loaded = load(&store).expect("reload");
        assert_eq!(loaded, registry);
        assert_eq!(loaded.unreachable.keys().collect::<Vec<_>>(), ["b"]);
        assert_eq!(loaded.gone.keys().collect::<Vec<_>>(), ["d"]);
        assert!(loaded.agents.is_empty());
    }

    fn operation(uuid: u8, op_id: &str) -> v1::Operation {
        let status = v1::OperationStatus {
            operation_id: Some(v1::OperationId {
                value: op_id.into(),
            }),
            state: v1::OperationState::OperationFinished as i32,
            uuid: Some(v1::Uuid {
                value: vec![uuid ^ 0xff; 16],
            }),
            agent_id: Some(v1::AgentId { value: "S1".into() }),
            ..Default::default()
        };
        v1::Operation {
            framework_id: Some(v1::FrameworkId { value: "F1".into() }),
            agent_id: Some(v1::AgentId { value: "S1".into() }),
            info: v1::offer::Operation {
                r#type: Some(v1::offer::operation::Type::Reserve as i32),
                id: Some(v1::OperationId {
                    value: op_id.into(),
                }),
                ..Default::default()
            },
            latest_status: status.clone(),
            statuses: vec![status],
            uuid: v1::Uuid {
                value: vec![uuid; 16],
            },
        }
    }

    /// An unacknowledged operation is written, read back whole on start, and gone once
    /// removed: what a restarted master recovers is what the core's mirror held.
    #[test]
    fn operations_round_trip_through_the_store() {
        let store = MemoryStore::new();
        let mut mirror = load(&store).unwrap();
        let ops = [
            RegistryOp::PutOperation(Box::new(operation(1, "op-1"))),
            RegistryOp::PutOperation(Box::new(operation(2, "op/2"))),
        ];
        let mut batch = WriteBatch::new();
        for op in &ops {
            write(op, &mut batch);
            mirror.apply(op);
        }
        store.commit(batch).unwrap();
        let loaded = load(&store).unwrap();
        assert_eq!(loaded.operations.len(), 2);
        assert_eq!(loaded, mirror);

        let remove = RegistryOp::RemoveOperation {
            uuid: operations_feedback::uuid_key(&operation(1, "op-1")),
        };
        let mut batch = WriteBatch::new();
        write(&remove, &mut batch);
        mirror.apply(&remove);
        store.commit(batch).unwrap();
        let loaded = load(&store).unwrap();
        assert_eq!(loaded, mirror);
        assert_eq!(
            loaded.operations.values().next().unwrap().info.id,
            Some(v1::OperationId {
                value: "op/2".into()
            })
        );
    }
}
