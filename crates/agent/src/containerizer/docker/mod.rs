//! The Docker containerizer's pieces: the daemon client ([`client`]) and the translation of a
//! task into the container to create ([`spec`]); the launch path that supervises it comes next.

pub mod client;
pub mod spec;
