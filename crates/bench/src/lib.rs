//! Drover's scale harness and benchmarks (issue 8).
//!
//! - [`simagent`]: simulated agents that speak the real master–agent protocol over loopback,
//!   thousands per process, for benchmarks and the master's scale tests.
//! - [`framework`]: a minimal Scheduler API v1 framework that launches and acknowledges.
//! - [`procs`]: the daemons under test as child processes of this binary (`daemon master`,
//!   `daemon marathon` run the same code as `drover master|marathon`).
//! - [`scenarios`]: one function per goal G1–G10, each returning report lines.
//! - [`report`]: the line format (figure, goal, anchor, ratio).
//! - [`registry`], [`dockerd`]: a private Docker registry with a busybox image pushed to it,
//!   and a private dockerd, for issue 13's UCR and DOCKER scenarios.

pub mod dockerd;
pub mod framework;
pub mod http;
pub mod procs;
pub mod registry;
pub mod report;
pub mod scenarios;
pub mod simagent;
