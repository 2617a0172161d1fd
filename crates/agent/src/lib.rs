//! The agent daemon: the containerizer now, the agent driver later.
pub mod containerizer;
pub mod detector;

// The agent driver (issue 4): flags, checkpoints, the driver actor, the master session, the
// HTTP endpoints and start-up.
pub mod auth;
pub mod checkpoint;
pub mod docker_health;
pub mod docker_task;
pub mod driver;
pub mod env;
pub mod executor_auth;
pub mod fetcher;
pub mod files_api;
pub mod flags;
pub mod gc;
pub mod http;
pub mod http_legacy;
pub mod http_nested;
pub mod master;
pub mod nested;
pub mod oversubscription;
pub mod provisioner;
pub mod rootfs_launch;
mod run;
pub mod secrets;
pub mod switchboard;
pub mod volumes;

pub use flags::Flags;
pub use run::run;
