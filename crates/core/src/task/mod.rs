//! The task-state core shared by master, agent and the Marathon scheduler: Mesos task states,
//! reasons and sources, the legal transitions, the partition-aware translation, and the table of
//! which component emits which (state, reason, source) and when.

pub mod emission;
pub mod names;
pub mod state;
pub mod transition;

pub use drover_wire::v1::TaskState;
pub use drover_wire::v1::task_status::{Reason, Source};
