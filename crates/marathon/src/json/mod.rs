//! Marathon's JSON: reading app definitions with every error collected, and rendering the
//! response and event shapes.

pub mod app;
pub mod check;
pub mod container;
#[cfg(test)]
mod container_tests;
#[cfg(test)]
mod equivalence_tests;
pub mod group;
pub mod pod;
pub mod pod_render;
pub mod read;
pub mod readiness;
#[cfg(test)]
mod reference;
pub mod render;
#[cfg(test)]
mod resident_pod_tests;
#[cfg(test)]
mod resident_tests;
pub mod stamp;
pub mod stats;
pub mod view;
