//! Compiles Drover's own Mesos v1 `.proto` definitions with prost and a vendored protoc,
//! so a plain `cargo build` needs nothing from the system package manager.

const PROTOS: &[&str] = &[
    "proto/mesos/v1/mesos.proto",
    "proto/mesos/v1/scheduler/scheduler.proto",
    "proto/mesos/v1/executor/executor.proto",
    "proto/mesos/v1/quota/quota.proto",
    "proto/mesos/v1/maintenance/maintenance.proto",
    "proto/mesos/v1/master/master.proto",
    "proto/mesos/v1/agent/agent.proto",
    "proto/drover/internal.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc);
    // Deterministic iteration order everywhere (the decision core forbids HashMap).
    config.btree_map(["."]);
    // Rare, large sub-messages boxed: a `Resource` is 1,160 bytes inline with its `DiskInfo`
    // (888) and 280 without; a `Task` or `ExecutorInfo` carries a 584-byte `ContainerInfo`.
    // The master keeps several resources and an executor per task (issue 8, G5).
    config.boxed(".mesos.v1.Resource.disk");
    config.boxed(".mesos.v1.Task.container");
    config.boxed(".mesos.v1.TaskInfo.container");
    config.boxed(".mesos.v1.ExecutorInfo.container");
    // A `Task`'s health check (312 bytes) and discovery info (152), mostly unset.
    config.boxed(".mesos.v1.Task.health_check");
    config.boxed(".mesos.v1.Task.discovery");
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    prost_reflect_build::Builder::new()
        .descriptor_pool("crate::DESCRIPTOR_POOL")
        .compile_protos_with_config(config, PROTOS, &["proto"])?;
    Ok(())
}
