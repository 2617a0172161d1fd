//! The crate's integration tests as one test binary: each file beside this one is a module,
//! so the crate and its dependencies are linked once rather than once per file (disk and
//! link time on CI). nextest still runs every test in its own process.

mod agent_support;
mod marathon_support;
#[path = "master_common/mod.rs"]
mod master_common;

mod agent_drain;
mod agent_executor_exit;
mod agent_gc;
mod agent_recovery;
mod agent_seed_rows;
mod agent_status_updates;
mod agent_task_groups;
mod agent_volumes;
mod marathon_condition_log;
mod marathon_deployments;
mod marathon_docker;
mod marathon_events;
mod marathon_framework_removed;
mod marathon_health_checks;
mod marathon_health_kills;
mod marathon_pods;
mod marathon_readiness;
mod marathon_resident;
mod marathon_resident_pods;
mod marathon_service_ports;
mod marathon_status_updates;
mod master_authorizing;
mod master_batching;
mod master_lifecycle;
mod master_maintenance;
mod master_operation_feedback;
mod master_operator;
mod master_properties;
mod master_quota;
mod master_quota_properties;
mod master_registry_gc;
mod master_reservations;
mod master_seed_rows;
mod master_terminal;
mod oversubscription;
mod seed_marathon_task_handling;
mod seed_mesos_task_state_reasons;
mod seed_table;
mod transition_properties;
