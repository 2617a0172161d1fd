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
//! High availability (issue 17): a plan with three or more master slots runs the
//! coordination model ([`coord`]): every master process opens a session with a simulated
//! ensemble and joins one election group; the lowest member leads (its sequence is the term's
//! epoch), sessions expire after the session timeout without contact while each process stops
//! vouching for its own after two thirds of it, and every registry commit is fenced by the
//! writer's own membership. A master that learns it lost its session, or whose write was
//! fenced, exits and its supervisor restarts it as a new member; agents and frameworks follow
//! the lowest member as Mesos' detector does. The HA faults (leader crash, pause past the
//! session timeout, cut from the ensemble or from the agents) are in the scenario list and the
//! random mix; [`check`] holds at most one acting leader per epoch, no commit or answer by a
//! deposed leader, and that every acknowledged registry record survives into each new
//! leader's recovered registry. Plans with one or two slots keep the older oracle election
//! (the store's epoch as the fence).
//!
//! Module map: [`net`] (links, partitions, streams), [`disk`] (what each process persists),
//! [`coord`] (the ensemble: sessions, members, the fence), [`world`] (processes, the loop,
//! faults), [`check`] (the invariants), [`scenario`] (the 22 G11 scenarios, the 5 HA ones, the
//! random mix and the runner), [`sweep`] (seed sweeps and where fresh seeds come from).

pub mod check;
pub mod coord;
pub mod disk;
pub mod net;
pub mod scenario;
pub mod sweep;
pub mod world;

pub use scenario::{Outcome, Plan, SCENARIOS, plan, random_plan, run, run_with};
