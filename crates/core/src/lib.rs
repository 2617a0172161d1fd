//! Drover's decisions, as pure and synchronous state machines.
//!
//! Architecture invariant: nothing in this crate performs I/O, reads a clock, sleeps, spawns,
//! or draws randomness of its own. Time, identifiers and randomness arrive as inputs; effects
//! leave as values. The master, the agent and the Marathon scheduler all decide with this
//! crate, which is what lets the deterministic simulator run the whole cluster from a seed.
//!
//! It depends only on `drover-wire` (for the Mesos message types it reasons about) and never
//! encodes or decodes bytes.

pub mod acl;
pub mod agent;
pub mod marathon;
pub mod master;
pub mod operations;
pub mod resources;
pub mod task;
