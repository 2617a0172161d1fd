//! The crate's integration tests as one test binary: each file beside this one is a module,
//! so the crate and its dependencies are linked once rather than once per file (disk and
//! link time on CI). nextest still runs every test in its own process.

mod common;

mod api;
mod api_compat;
mod api_docker;
mod app_fields;
mod groups;
mod pod_fields;
mod pods;
