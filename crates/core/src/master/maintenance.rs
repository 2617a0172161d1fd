//! Maintenance (Mesos' `docs/maintenance.md`): the schedule of planned unavailability, the
//! machine modes (UP → DRAINING when scheduled → DOWN on START_MAINTENANCE → UP on
//! STOP_MAINTENANCE), Mesos' validation of schedules and machine lists, and what DOWN does to
//! a machine's agents (shut down, removed, refused until the machine is up again).
//!
//! Machines are matched to agents by name: a machine id matches an agent whose hostname equals
//! the id's `hostname` (case-insensitively) or its `ip`. Mesos matched on the agent's source
//! address too; Drover's agents register over HTTP and the master does not see one, so an
//! agent that registered under its IP (`--hostname=10.0.0.5`) is matched by `ip`.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use drover_wire::internal::agent_event;
use drover_wire::internal::agent_event::Type as AgentEventType;
use drover_wire::v1;
use drover_wire::v1::machine_info::Mode;
use drover_wire::v1::maintenance::{ClusterStatus, Schedule, cluster_status};

use super::{Effect, Master, RegistryOp, Reply, agent_event};
use crate::task::emission::Trigger;

/// A maintenance call of the Operator API or the legacy endpoints.
#[derive(Debug, Clone, PartialEq)]
pub enum MaintenanceCall {
    /// UPDATE_MAINTENANCE_SCHEDULE / `POST /maintenance/schedule`.
    UpdateSchedule(Schedule),
    /// START_MAINTENANCE / `POST /machine/down`.
    Start(Vec<v1::MachineId>),
    /// STOP_MAINTENANCE / `POST /machine/up`.
    Stop(Vec<v1::MachineId>),
}

/// The persisted maintenance state: the schedule and which of its machines are DOWN.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Maintenance {
    /// The schedule as the operator last set it (minus machines brought back UP).
    pub schedule: Schedule,
    /// Machines in maintenance (DOWN), by [`MachineKey`].
    pub down: BTreeSet<MachineKey>,
}

/// A machine id normalized for comparison: lower-case hostname and the IP text.
pub type MachineKey = (String, String);

/// The comparison key of a machine id.
pub fn key(id: &v1::MachineId) -> MachineKey {
    (
        id.hostname.as_deref().unwrap_or("").to_ascii_lowercase(),
        id.ip.as_deref().unwrap_or("").to_owned(),
    )
}

/// A machine id from its key.
pub fn machine_id(key: &MachineKey) -> v1::MachineId {
    let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    v1::MachineId {
        hostname: some(&key.0),
        ip: some(&key.1),
    }
}

/// How a machine id reads in error messages.
pub fn describe(id: &v1::MachineId) -> String {
    let mut parts = Vec::new();
    if let Some(h) = &id.hostname {
        parts.push(format!("hostname: \"{h}\""));
    }
    if let Some(ip) = &id.ip {
        parts.push(format!("ip: \"{ip}\""));
    }
    parts.join(" ")
}

/// Whether machine `key` is the one an agent called `hostname` runs on.
pub fn matches(key: &MachineKey, hostname: &str) -> bool {
    (!key.0.is_empty() && key.0.eq_ignore_ascii_case(hostname))
        || (!key.1.is_empty() && key.1 == hostname)
}

/// Mesos' check of one machine id.
pub fn validate_machine(id: &v1::MachineId) -> Result<(), String> {
    let hostname = id.hostname.as_deref().unwrap_or("");
    let ip = id.ip.as_deref().unwrap_or("");
    if hostname.is_empty() && ip.is_empty() {
        return Err("Both 'hostname' and 'ip' for a machine are empty".into());
    }
    if !ip.is_empty() && ip.parse::<Ipv4Addr>().is_err() {
        return Err(format!("Failed to parse IP address '{ip}'"));
    }
    Ok(())
}

/// Mesos' check of a machine list (START/STOP): not empty, each valid, no repeats.
pub fn validate_machines(ids: &[v1::MachineId]) -> Result<(), String> {
    if ids.is_empty() {
        return Err("List of machines is empty".into());
    }
    let mut seen = BTreeSet::new();
    for id in ids {
        validate_machine(id)?;
        if !seen.insert(key(id)) {
            return Err(format!(
                "Machine '{}' appears more than once in the schedule",
                describe(id)
            ));
        }
    }
    Ok(())
}

/// Mesos' check of a new schedule against the current state: every window names machines,
/// durations are not negative, a machine is in at most one window, and no DOWN machine is
/// dropped (it must be brought up first).
pub fn validate_schedule(schedule: &Schedule, down: &BTreeSet<MachineKey>) -> Result<(), String> {
    let mut seen = BTreeSet::new();
    for window in &schedule.windows {
        if window.machine_ids.is_empty() {
            return Err("List of machines in the maintenance window is empty".into());
        }
        if window
            .unavailability
            .duration
            .as_ref()
            .is_some_and(|d| d.nanoseconds < 0)
        {
            return Err("Unavailability 'duration' is negative".into());
        }
        for id in &window.machine_ids {
            validate_machine(id)?;
            if !seen.insert(key(id)) {
                return Err(format!(
                    "Machine '{}' appears more than once in the schedule",
                    describe(id)
                ));
            }
        }
    }
    for machine in down {
        if !seen.contains(machine) {
            return Err(format!(
                "Machine '{}' is deactivated and cannot be removed from the schedule",
                describe(&machine_id(machine))
            ));
        }
    }
    Ok(())
}

impl Maintenance {
    /// The scheduled machines with their unavailability, in schedule order.
    pub fn machines(&self) -> impl Iterator<Item = (MachineKey, &v1::Unavailability)> {
        self.schedule.windows.iter().flat_map(|w| {
            w.machine_ids
                .iter()
                .map(move |id| (key(id), &w.unavailability))
        })
    }

    /// Whether `machine` is in the schedule.
    pub fn scheduled(&self, machine: &MachineKey) -> bool {
        self.machines().any(|(k, _)| &k == machine)
    }

    /// The scheduled machine an agent called `hostname` runs on, with its unavailability.
    pub fn machine_of(&self, hostname: &str) -> Option<(MachineKey, &v1::Unavailability)> {
        self.machines().find(|(k, _)| matches(k, hostname))
    }

    /// The mode of the machine an agent called `hostname` runs on.
    pub fn mode_of(&self, hostname: &str) -> Mode {
        match self.machine_of(hostname) {
            Some((k, _)) if self.down.contains(&k) => Mode::Down,
            Some(_) => Mode::Draining,
            None => Mode::Up,
        }
    }
}

impl Master {
    /// The persisted maintenance state.
    pub fn maintenance(&self) -> &Maintenance {
        &self.registry.maintenance
    }

    /// GET_MAINTENANCE_SCHEDULE.
    pub fn maintenance_schedule(&self) -> Schedule {
        self.registry.maintenance.schedule.clone()
    }

    /// GET_MAINTENANCE_STATUS: DRAINING machines with the frameworks' answers to their
    /// inverse offers, and the DOWN machines.
    pub fn maintenance_status(&self) -> ClusterStatus {
        let m = &self.registry.maintenance;
        let mut status = ClusterStatus::default();
        for (k, _) in m.machines() {
            if m.down.contains(&k) {
                status.down_machines.push(machine_id(&k));
            } else {
                status
                    .draining_machines
                    .push(cluster_status::DrainingMachine {
                        id: machine_id(&k),
                        statuses: self.inverse_offer_statuses(&k),
                    });
            }
        }
        status
    }

    /// The unavailability an offer from this agent carries (its machine is DRAINING or DOWN).
    pub fn agent_unavailability(&self, agent_id: &str) -> Option<v1::Unavailability> {
        let agent = self.agents.get(agent_id)?;
        let (_, unavailability) = self.registry.maintenance.machine_of(&agent.info.hostname)?;
        Some(*unavailability)
    }

    /// Whether an agent called `hostname` is on a DOWN machine (it may not register).
    pub(super) fn machine_down(&self, hostname: &str) -> bool {
        self.registry.maintenance.mode_of(hostname) == Mode::Down
    }

    pub(super) fn maintenance_call(
        &mut self,
        now_ms: u64,
        call: MaintenanceCall,
        out: &mut Vec<Effect>,
    ) -> Reply {
        match call {
            MaintenanceCall::UpdateSchedule(schedule) => {
                if let Err(e) = validate_schedule(&schedule, &self.registry.maintenance.down) {
                    return Reply::error(400, e);
                }
                let down = self.registry.maintenance.down.clone();
                self.persist(RegistryOp::Maintenance(Maintenance { schedule, down }), out);
                self.maintenance_changed(out);
                Reply::Ok
            }
            MaintenanceCall::Start(ids) => {
                if let Err(e) = validate_machines(&ids) {
                    return Reply::error(400, e);
                }
                for id in &ids {
                    if !self.registry.maintenance.scheduled(&key(id)) {
                        return Reply::error(
                            400,
                            format!(
                                "Machine '{}' is not part of a maintenance schedule",
                                describe(id)
                            ),
                        );
                    }
                }
                let mut next = self.registry.maintenance.clone();
                next.down.extend(ids.iter().map(key));
                self.persist(RegistryOp::Maintenance(next), out);
                let doomed: Vec<String> = self
                    .agents
                    .iter()
                    .filter(|(_, a)| ids.iter().any(|id| matches(&key(id), &a.info.hostname)))
                    .map(|(id, _)| id.clone())
                    .collect();
                for agent_id in doomed {
                    self.take_down(now_ms, &agent_id, out);
                }
                self.maintenance_changed(out);
                Reply::Ok
            }
            MaintenanceCall::Stop(ids) => {
                if let Err(e) = validate_machines(&ids) {
                    return Reply::error(400, e);
                }
                for id in &ids {
                    let k = key(id);
                    if !self.registry.maintenance.scheduled(&k) {
                        return Reply::error(
                            400,
                            format!(
                                "Machine '{}' is not part of a maintenance schedule",
                                describe(id)
                            ),
                        );
                    }
                    if !self.registry.maintenance.down.contains(&k) {
                        return Reply::error(
                            400,
                            format!("Machine '{}' is not in DOWN mode", describe(id)),
                        );
                    }
                }
                // A machine brought up leaves the schedule (and windows left empty go).
                let gone: BTreeSet<MachineKey> = ids.iter().map(key).collect();
                let mut next = self.registry.maintenance.clone();
                next.down.retain(|k| !gone.contains(k));
                for window in &mut next.schedule.windows {
                    window.machine_ids.retain(|id| !gone.contains(&key(id)));
                }
                next.schedule.windows.retain(|w| !w.machine_ids.is_empty());
                self.persist(RegistryOp::Maintenance(next), out);
                self.maintenance_changed(out);
                Reply::Ok
            }
        }
    }

    /// Shuts down and removes an agent whose machine went DOWN: its tasks become
    /// TASK_GONE_BY_OPERATOR (partition-aware) or TASK_LOST, as for an agent the operator
    /// marked gone, but the agent is not barred for good: it may come back once the machine
    /// is up.
    fn take_down(&mut self, now_ms: u64, agent_id: &str, out: &mut Vec<Effect>) {
        let Some(conn) = self.agents.get(agent_id).map(|a| a.conn) else {
            return;
        };
        if let Some(conn) = conn {
            let mut event = agent_event(AgentEventType::Shutdown);
            event.shutdown = Some(agent_event::Shutdown {
                message: Some("Operator initiated 'Machine DOWN'".into()),
            });
            out.push(Effect::ToAgent {
                conn,
                event: Box::new(event),
            });
        }
        self.remove_agent_with(
            now_ms,
            agent_id,
            Trigger::AgentMarkedGone,
            "Operator initiated 'Machine DOWN'",
            out,
        );
    }

    /// After any change of the schedule: offers from affected agents are rescinded so the new
    /// ones carry the right `unavailability`, and inverse offers follow the schedule.
    fn maintenance_changed(&mut self, out: &mut Vec<Effect>) {
        let agent_ids: Vec<String> = self.agents.keys().cloned().collect();
        for agent_id in agent_ids {
            let stale = self.agent_offers.get(&agent_id).is_some_and(|offers| {
                offers.iter().any(|o| {
                    self.offers.get(o).map(|o| &o.offer.unavailability)
                        != Some(&self.agent_unavailability(&agent_id))
                })
            });
            if stale {
                self.rescind_agent_offers(&agent_id, out);
            }
        }
        // The allocation pass this owes revises the inverse offers too.
        self.allocation_dirty = true;
    }
}
