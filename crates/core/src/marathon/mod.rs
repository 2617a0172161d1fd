//! The Marathon scheduler's decisions, pure and synchronous: app definitions and their
//! validation, instances, deployments, the launch queue with backoff, offer matching with
//! constraints, the reactions to Mesos status updates (seed 2, via [`condition`]), unreachable
//! timers ([`unreachable`]), health results, and the [`scheduler::Scheduler`] state machine that
//! ties them together.

pub mod app;
pub mod backoff;
pub mod check;
pub mod condition;
pub mod constraint;
pub mod container;
pub mod deployment;
pub mod event;
pub mod group;
pub mod instance;
pub mod offer;
pub mod path;
pub mod pod;
pub mod readiness;
pub mod reservation;
pub mod scheduler;
pub mod service_ports;
pub mod time;
pub mod unreachable;

pub use time::{parse_timestamp, timestamp};
