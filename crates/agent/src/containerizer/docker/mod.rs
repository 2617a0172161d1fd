//! The Docker containerizer's pieces: registry credentials ([`auth`]), the daemon client
//! ([`client`]), the translation of a task into the container to create ([`spec`]), and its
//! launch, end (as a [`Termination`](crate::containerizer::Termination)) and orphan removal
//! ([`supervise`]). Wiring them into the agent driver behind a containerizer seam comes next.

pub mod auth;
pub mod client;
pub mod spec;
pub mod supervise;
