//! Marathon's JSON: reading app definitions with every error collected, and rendering the
//! response and event shapes.

pub mod app;
pub mod read;
pub mod render;
