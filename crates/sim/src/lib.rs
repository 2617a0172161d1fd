//! Deterministic simulation of a whole Drover cluster (issue 7, goal G11).
//!
//! The pure decision cores — [`drover_core::master`], [`drover_core::agent`] and
//! [`drover_core::marathon::scheduler`] — run inside one event loop with a virtual clock. They
//! exchange their real messages (scheduler calls and events, the internal agent protocol, the
//! executor API) through a simulated network that can partition, drop, delay and duplicate;
//! processes crash and restart from what they persisted, pause, and hosts reboot. One `u64`
//! seed drives everything, so any failure replays exactly:
//!
//! ```text
//! DROVER_SIM_SEED=123 DROVER_SIM_SCENARIO=random DROVER_SIM_TRACE=1 \
//!     cargo test -p drover-sim --release replay -- --nocapture
//! ```
//!
//! Module map: [`net`] (links, partitions, streams), [`disk`] (what each process persists),
//! [`world`] (processes, the loop, faults), [`check`] (the invariants), [`scenario`] (the 22
//! G11 scenarios, the random mix and the runner), [`sweep`] (seed sweeps and where fresh
//! seeds come from).

pub mod check;
pub mod disk;
pub mod net;
pub mod scenario;
pub mod sweep;
pub mod world;

pub use scenario::{Outcome, Plan, SCENARIOS, plan, random_plan, run};
