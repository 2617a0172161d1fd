//! `drover executor`: Drover's built-in command executor (spec §4.5). The agent starts it
//! inside the task's container with the environment of spec §4.4; it subscribes at the
//! agent's `/api/v1/executor`, runs the one command task it is given as its child, reports
//! STARTING, RUNNING and the terminal state, runs health checks and checks, honours kill
//! policies and `max_completion_time`, and keeps every update until the agent acknowledges
//! it (resubscribing after an agent restart for checkpointing frameworks).
//!
//! It owns no decisions of the agent and never depends on `drover-core`.

mod client;
mod env;
mod outbox;
pub mod health;
mod run;
pub mod task;

pub use run::run;

/// Flags of `drover executor`. Everything else comes from the `MESOS_*` environment the
/// agent sets, as for any Mesos executor.
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {}
