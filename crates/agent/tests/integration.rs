//! The crate's integration tests as one test binary: each file beside this one is a module,
//! so the crate and its dependencies are linked once rather than once per file (disk and
//! link time on CI). nextest still runs every test in its own process.

#[path = "support/dockerd.rs"]
mod dockerd;
mod fetch_server;
#[path = "support/registry.rs"]
mod registry;
mod support;

mod agent_drain;
mod agent_executor_auth;
mod agent_fixes;
mod agent_gc;
mod agent_legacy;
mod agent_logging;
mod agent_proc;
mod agent_restart_launch;
mod agent_seed_causes;
mod agent_task_groups;
mod agent_tasks;
mod containerizer;
mod docker_agent;
mod docker_client;
mod executor_checks;
mod fetcher;
mod fetcher_launch;
mod registry_auth;
mod ucr;
