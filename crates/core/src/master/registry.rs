//! What the master persists, and the operations that change it. This goes beyond Mesos'
//! registry (which kept only agents): frameworks and removed framework ids are kept too, so a
//! restarted master can answer and resubscribe them, and the id counters are kept so no id
//! is ever handed out twice. Live tasks are not persisted: they come back when agents
//! reregister. Completed tasks are (the newest of each framework, [`super::history`]): no
//! agent reports them again, and their story must outlive a restart.
//!
//! The driver maps each [`RegistryOp`] onto store keys (it owns the encoding); the core keeps
//! an in-memory mirror through [`Registry::apply`], and recovery rebuilds a [`Registry`] from
//! the store.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use drover_wire::v1;

use super::TaskEntry;
use super::maintenance::Maintenance;
use super::quota::Quota;

/// Offer ids are reserved in blocks of this size, so allocation does not write the registry
/// for every offer while ids still never repeat across restarts.
pub const OFFER_ID_BLOCK: u64 = 1000;

/// An agent marked unreachable.
#[derive(Debug, Clone, PartialEq)]
pub struct UnreachableAgent {
    /// Its last known info.
    pub info: v1::AgentInfo,
    /// When it was marked (ms since the epoch).
    pub time_ms: u64,
}

/// A completed task in the registry, with its store sequence number (oldest first).
#[derive(Debug, Clone)]
pub struct CompletedRecord {
    /// Its key's sequence number (`completed/<framework>/<seq>`), unique across restarts.
    pub seq: u64,
    /// The task, shared with the framework's completed list.
    pub entry: Arc<TaskEntry>,
}

impl PartialEq for CompletedRecord {
    fn eq(&self, other: &Self) -> bool {
        self.seq == other.seq
            && (Arc::ptr_eq(&self.entry, &other.entry)
                || (self.entry.task == other.entry.task
                    && self.entry.history == other.entry.history))
    }
}

/// The persisted state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Registry {
    /// The master id (a uuid the driver creates once).
    pub master_id: String,
    /// Next framework number (`<master-id>-NNNN`).
    pub next_framework: u64,
    /// Next agent number (`<master-id>-S<n>`).
    pub next_agent: u64,
    /// Offer numbers below this are reserved by an earlier incarnation or this one.
    pub offers_reserved: u64,
    /// Admitted agents.
    pub agents: BTreeMap<String, v1::AgentInfo>,
    /// Unreachable agents.
    pub unreachable: BTreeMap<String, UnreachableAgent>,
    /// Agents marked gone, with the time (ms).
    pub gone: BTreeMap<String, u64>,
    /// Known frameworks (info with id).
    pub frameworks: BTreeMap<String, v1::FrameworkInfo>,
    /// Ids of removed frameworks: they can never subscribe again.
    pub removed_frameworks: BTreeSet<String>,
    /// Agents an operator deactivated (DEACTIVATE_AGENT): no offers until reactivated.
    pub deactivated: BTreeSet<String>,
    /// Roles with a non-default quota ([`super::quota`]).
    pub quotas: BTreeMap<String, Quota>,
    /// Completed tasks per framework, oldest first ([`super::history`]).
    pub completed: BTreeMap<String, VecDeque<CompletedRecord>>,
    /// The next completed task's sequence number (one above the highest stored).
    pub next_completed_seq: u64,
    /// The infos of removed frameworks whose completed tasks are still kept, so a restarted
    /// master shows them among its completed frameworks by name.
    pub removed_infos: BTreeMap<String, v1::FrameworkInfo>,
    /// The maintenance schedule and the DOWN machines ([`super::maintenance`]).
    pub maintenance: Maintenance,
    /// Agents being drained or drained (DRAIN_AGENT, [`super::drain`]).
    pub drains: BTreeMap<String, v1::DrainInfo>,
    /// Operations with an unacknowledged terminal status, by the operation's uuid in hex
    /// ([`super::operations_feedback`]).
    pub operations: BTreeMap<String, v1::Operation>,
}

/// One change to the registry.
#[derive(Debug, Clone, PartialEq)]
pub enum RegistryOp {
    /// New values of the id counters.
    Counters {
        next_framework: u64,
        next_agent: u64,
        offers_reserved: u64,
    },
    /// Admit (or readmit, or update) an agent; it is no longer unreachable.
    AdmitAgent(v1::AgentInfo),
    /// Move an admitted agent to the unreachable list.
    MarkUnreachable { info: v1::AgentInfo, time_ms: u64 },
    /// Mark an agent gone (from admitted or unreachable).
    MarkGone { agent_id: String, time_ms: u64 },
    /// Forget an admitted agent (it unregistered, or another agent took its address).
    RemoveAgent { agent_id: String },
    /// Drop entries from the unreachable and gone lists ([`super::registry_gc`]).
    PruneAgents {
        unreachable: Vec<String>,
        gone: Vec<String>,
    },
    /// Add or update a framework.
    PutFramework(v1::FrameworkInfo),
    /// Remove a framework for good (its info is kept while its completed tasks are).
    RemoveFramework {
        framework_id: String,
        info: Option<Box<v1::FrameworkInfo>>,
    },
    /// Record a completed task (if any) and drop the framework's records `evict`.
    CompleteTask {
        framework_id: String,
        record: Option<CompletedRecord>,
        evict: Vec<u64>,
    },
    /// An operator deactivated an agent.
    DeactivateAgent { agent_id: String },
    /// An operator reactivated an agent.
    ReactivateAgent { agent_id: String },
    /// Quota changes, applied together (UPDATE_QUOTA is all or nothing); a default quota
    /// removes the role's entry.
    UpdateQuota(Vec<(String, Quota)>),
    /// The whole maintenance state, replaced.
    Maintenance(Maintenance),
    /// An agent's drain started or advanced.
    PutDrain {
        agent_id: String,
        info: v1::DrainInfo,
    },
    /// An agent's drain ended (REACTIVATE_AGENT).
    EndDrain { agent_id: String },
    /// An operation with feedback and its unacknowledged status (added or replaced).
    PutOperation(Box<v1::Operation>),
    /// The operation whose uuid (hex) this is was acknowledged or left with its framework or
    /// agent.
    RemoveOperation { uuid: String },
}

impl Registry {
    /// A fresh registry for a new master id.
    pub fn new(master_id: impl Into<String>) -> Registry {
        Registry {
            master_id: master_id.into(),
            ..Default::default()
        }
    }

    /// Applies an operation.
    pub fn apply(&mut self, op: &RegistryOp) {
        match op {
            RegistryOp::Counters {
                next_framework,
                next_agent,
                offers_reserved,
            } => {
                self.next_framework = *next_framework;
                self.next_agent = *next_agent;
                self.offers_reserved = *offers_reserved;
            }
            RegistryOp::AdmitAgent(info) => {
                let id = agent_id_of(info);
                self.unreachable.remove(&id);
                self.agents.insert(id, info.clone());
            }
            RegistryOp::MarkUnreachable { info, time_ms } => {
                let id = agent_id_of(info);
                self.agents.remove(&id);
                self.unreachable.insert(
                    id,
                    UnreachableAgent {
                        info: info.clone(),
                        time_ms: *time_ms,
                    },
                );
            }
            RegistryOp::MarkGone { agent_id, time_ms } => {
                self.agents.remove(agent_id);
                self.unreachable.remove(agent_id);
                self.gone.insert(agent_id.clone(), *time_ms);
                self.deactivated.remove(agent_id);
                self.drains.remove(agent_id);
            }
            RegistryOp::RemoveAgent { agent_id } => {
                self.agents.remove(agent_id);
                self.unreachable.remove(agent_id);
                self.deactivated.remove(agent_id);
                self.drains.remove(agent_id);
            }
            RegistryOp::PruneAgents { unreachable, gone } => {
                for id in unreachable {
                    self.unreachable.remove(id);
                }
                for id in gone {
                    self.gone.remove(id);
                }
            }
            RegistryOp::DeactivateAgent { agent_id } => {
                self.deactivated.insert(agent_id.clone());
            }
            RegistryOp::ReactivateAgent { agent_id } => {
                self.deactivated.remove(agent_id);
            }
            RegistryOp::UpdateQuota(changes) => {
                for (role, quota) in changes {
                    if quota.is_default() {
                        self.quotas.remove(role);
                    } else {
                        self.quotas.insert(role.clone(), quota.clone());
                    }
                }
            }
            RegistryOp::Maintenance(m) => self.maintenance = m.clone(),
            RegistryOp::PutDrain { agent_id, info } => {
                self.drains.insert(agent_id.clone(), *info);
            }
            RegistryOp::EndDrain { agent_id } => {
                self.drains.remove(agent_id);
            }
            RegistryOp::PutOperation(operation) => {
                self.operations.insert(
                    super::operations_feedback::uuid_key(operation),
                    operation.as_ref().clone(),
                );
            }
            RegistryOp::RemoveOperation { uuid } => {
                self.operations.remove(uuid);
            }
            RegistryOp::PutFramework(info) => {
                let id = info
                    .id
                    .as_ref()
                    .map(|i| i.value.clone())
                    .unwrap_or_default();
                self.frameworks.insert(id, info.clone());
            }
            RegistryOp::RemoveFramework { framework_id, info } => {
                self.frameworks.remove(framework_id);
                self.removed_frameworks.insert(framework_id.clone());
                if let Some(info) = info {
                    self.removed_infos
                        .insert(framework_id.clone(), info.as_ref().clone());
                }
            }
            RegistryOp::CompleteTask {
                framework_id,
                record,
                evict,
            } => {
                let records = self.completed.entry(framework_id.clone()).or_default();
                records.retain(|r| !evict.contains(&r.seq));
                if let Some(record) = record {
                    self.next_completed_seq = self.next_completed_seq.max(record.seq + 1);
                    records.push_back(record.clone());
                }
                if records.is_empty() {
                    self.completed.remove(framework_id);
                    self.removed_infos.remove(framework_id);
                }
            }
        }
    }
}

/// The id of an agent info (empty if unset).
pub fn agent_id_of(info: &v1::AgentInfo) -> String {
    info.id
        .as_ref()
        .map(|i| i.value.clone())
        .unwrap_or_default()
}
