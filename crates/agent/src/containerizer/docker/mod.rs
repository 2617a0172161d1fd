//! The Docker containerizer's pieces: the daemon client ([`client`]); the launch path that turns
//! a task's `ContainerInfo` into a [`client::RunSpec`] and supervises it comes next.

pub mod client;
