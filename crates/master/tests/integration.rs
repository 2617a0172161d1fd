//! The crate's integration tests as one test binary: each file beside this one is a module,
//! so the crate and its dependencies are linked once rather than once per file (disk and
//! link time on CI). nextest still runs every test in its own process.

#[path = "../../core/tests/master_common/mod.rs"]
mod master_common;
mod support;

mod completed_history;
mod legacy_render;
mod maintenance_http;
mod master_http;
mod operator_calls;
mod quota_http;
mod seed1_agent_replaced;
mod seed1_framework_removed;
mod seed1_task_groups;
mod seed1_unknown_agent;
mod view_acls;
mod wire_compat;
