//! The Docker containerizer's pieces: the daemon client ([`client`]) and the translation of a
//! task into the container to create ([`spec`]) and its launch and end as a
//! [`Termination`](crate::containerizer::Termination)
//! ([`supervise`]); wiring it into the agent driver behind a containerizer seam comes next.

pub mod client;
pub mod spec;
pub mod supervise;
