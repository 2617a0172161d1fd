//! The Marathon scheduler's decisions. For now: how a Mesos task status becomes a Marathon
//! condition and what the scheduler does about it (seed 2), and the unreachable strategy.

pub mod condition;
pub mod unreachable;
