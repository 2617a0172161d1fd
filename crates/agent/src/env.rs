//! The environment of an executor (spec §4.4, apache/mesos `executorEnvironment`).

use drover_core::agent::LaunchSpec;

use crate::driver::Settings;

/// Whether `var` is of type SECRET (its value comes from the secret store, not the message).
pub fn is_secret(var: &drover_wire::v1::environment::Variable) -> bool {
    var.r#type == Some(drover_wire::v1::environment::variable::Type::Secret as i32)
}

/// `MESOS_*` variables and a sane `PATH`, then the executor command's own environment.
pub fn executor_environment(
    spec: &LaunchSpec,
    settings: &Settings,
    agent_id: &str,
) -> Vec<(String, String)> {
    let checkpoint = spec.framework_info.checkpoint.unwrap_or(false);
    let mut env: Vec<(String, String)> = vec![
        (
            "PATH".into(),
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        ),
        ("MESOS_FRAMEWORK_ID".into(), spec.framework_id.0.clone()),
        (
            "MESOS_EXECUTOR_ID".into(),
            spec.executor_info.executor_id.value.clone(),
        ),
        ("MESOS_AGENT_ENDPOINT".into(), settings.endpoint.clone()),
        ("MESOS_DIRECTORY".into(), spec.directory.clone()),
        ("MESOS_SANDBOX".into(), spec.directory.clone()),
        (
            "MESOS_CHECKPOINT".into(),
            if checkpoint { "1" } else { "0" }.into(),
        ),
        (
            "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD".into(),
            settings.shutdown_grace_text.clone(),
        ),
        ("MESOS_SLAVE_ID".into(), agent_id.to_owned()),
        (
            "MESOS_SLAVE_PID".into(),
            format!("slave(1)@{}", settings.endpoint),
        ),
        ("MESOS_HTTP_COMMAND_EXECUTOR".into(), "1".into()),
        ("LIBPROCESS_PORT".into(), "0".into()),
    ];
    if let Some(ip) = settings.endpoint.rsplit_once(':').map(|(ip, _)| ip) {
        env.push(("LIBPROCESS_IP".into(), ip.to_owned()));
    }
    if checkpoint {
        env.push(("MESOS_RECOVERY_TIMEOUT".into(), "15mins".into()));
        env.push((
            "MESOS_SUBSCRIPTION_BACKOFF_MAX".into(),
            settings.reregistration_timeout_text.clone(),
        ));
    }
    if let Some(keys) = &settings.executor_keys {
        let token = keys.mint(&crate::executor_auth::Claims {
            fid: spec.framework_id.0.clone(),
            eid: spec.executor_info.executor_id.value.clone(),
            cid: spec.container_id.0.clone(),
        });
        env.push(("MESOS_EXECUTOR_AUTHENTICATION_TOKEN".into(), token));
    }
    // The agent's TLS settings (issue 14): Mesos' executors inherited the agent's environment,
    // so an executor of a TLS agent spoke TLS back to it. A task's own CommandInfo.environment
    // still wins below.
    for (name, value) in std::env::vars() {
        if name.starts_with("LIBPROCESS_SSL_") {
            env.push((name, value));
        }
    }
    // Tests and operators pass RUST_LOG through so the executor's logs land in `stderr`.
    if let Ok(filter) = std::env::var("RUST_LOG") {
        env.push(("RUST_LOG".into(), filter));
    }
    if let Some(extra) = spec
        .executor_info
        .command
        .as_ref()
        .and_then(|c| c.environment.as_ref())
    {
        for var in &extra.variables {
            // A SECRET variable's value is resolved by the driver from the secret store.
            if is_secret(var) {
                continue;
            }
            env.retain(|(k, _)| k != &var.name);
            env.push((var.name.clone(), var.value.clone().unwrap_or_default()));
        }
    }
    env
}
