//! The crate's integration tests as one test binary: each file beside this one is a module,
//! so the crate and its dependencies are linked once rather than once per file (disk and
//! link time on CI). nextest still runs every test in its own process.

#[path = "../../agent/tests/support/dockerd.rs"]
mod dockerd;
#[path = "../../agent/tests/support/registry.rs"]
mod registry;
mod support;

mod authentication;
mod cli_errors;
mod compat_clients;
mod compat_clients_more;
mod dev_tour;
mod examples_systemd;
mod faults_agent;
mod faults_agent_loss;
mod faults_master;
mod faults_partition;
mod faults_scheduler;
mod framework_removed;
mod ha_masters;
mod ha_schedulers;
mod listener_limits;
mod maintenance_drain;
mod marathon_checks;
mod marathon_definitions;
mod marathon_docker;
mod marathon_docker_run;
mod marathon_fetch;
mod marathon_fields;
mod marathon_groups;
mod marathon_health_kills;
mod marathon_https_health;
mod marathon_pod_lifecycle;
mod marathon_pods;
mod marathon_readiness;
mod marathon_resident;
mod marathon_resident_pods;
mod marathon_secrets;
mod marathon_ucr;
mod operation_feedback;
mod operator_logging;
mod oversubscription;
mod pymesos_executor;
mod readme_commands;
mod reservations;
mod seed1_custom_executor_reasons;
mod seed1_master_causes;
mod seed2_lost_inferred;
mod seed2_marathon;
mod status_timestamps;
mod task_exec;
mod tls;
mod ui;
