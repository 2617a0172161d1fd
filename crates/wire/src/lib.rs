//! Mesos v1 wire types and encodings: the prost-generated `mesos.v1.*` messages built from
//! Drover's own `.proto` files, Mesos' JSON mapping, and RecordIO framing.
//!
//! This crate does no I/O and knows nothing of tokio or HTTP: it turns bytes into messages and
//! back, exactly as Mesos does on the wire.

use std::sync::LazyLock;

use prost_reflect::DescriptorPool;

pub mod codec;
pub mod duration;
pub mod json;
pub mod recordio;
mod required;

/// Descriptors of every message in Drover's `.proto` files, for the reflective JSON mapping.
pub static DESCRIPTOR_POOL: LazyLock<DescriptorPool> = LazyLock::new(|| {
    DescriptorPool::decode(
        include_bytes!(concat!(env!("OUT_DIR"), "/file_descriptor_set.bin")).as_ref(),
    )
    .expect("the descriptor set embedded at build time is valid")
});

/// The `mesos` protobuf packages. Modules mirror package names because prost's generated code
/// refers across packages by relative paths.
pub mod mesos {
    /// `mesos.v1`: the public Mesos v1 types, and the per-API packages beneath it.
    #[allow(missing_docs, clippy::all, missing_debug_implementations)]
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/mesos.v1.rs"));

        /// `mesos.v1.scheduler`: the Scheduler HTTP API's calls and events.
        pub mod scheduler {
            include!(concat!(env!("OUT_DIR"), "/mesos.v1.scheduler.rs"));
        }
        /// `mesos.v1.executor`: the Executor HTTP API's calls and events.
        pub mod executor {
            include!(concat!(env!("OUT_DIR"), "/mesos.v1.executor.rs"));
        }
        /// `mesos.v1.maintenance`: maintenance schedules and cluster status.
        pub mod maintenance {
            include!(concat!(env!("OUT_DIR"), "/mesos.v1.maintenance.rs"));
        }
        /// `mesos.v1.quota`: the quota messages of the Operator API.
        pub mod quota {
            include!(concat!(env!("OUT_DIR"), "/mesos.v1.quota.rs"));
        }
        /// `mesos.v1.master`: the master's Operator HTTP API.
        pub mod master {
            include!(concat!(env!("OUT_DIR"), "/mesos.v1.master.rs"));
        }
        /// `mesos.v1.agent`: the agent's Operator HTTP API.
        pub mod agent {
            include!(concat!(env!("OUT_DIR"), "/mesos.v1.agent.rs"));
        }
    }
}

/// The `drover` protobuf packages.
pub mod drover {
    /// `drover.internal`: Drover's own protocol between agents and the master.
    #[allow(missing_docs, clippy::all, missing_debug_implementations)]
    pub mod internal {
        include!(concat!(env!("OUT_DIR"), "/drover.internal.rs"));
    }
}

pub use drover::internal;
pub use mesos::v1;
