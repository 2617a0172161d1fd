//! Validation of scheduler calls, framework infos, ids, roles and launches, with messages
//! that say what was wrong (Mesos' texts where clients may match on them,
//! apache/mesos `src/master/validation.cpp`).

use std::collections::BTreeSet;

use drover_wire::v1;
use drover_wire::v1::scheduler::Call;
use drover_wire::v1::scheduler::call::Type as CallType;

use crate::resources;

/// Mesos' prefix for a call that failed validation (400).
pub const CALL_INVALID_PREFIX: &str = "Failed to validate scheduler::Call: ";

/// The longest id Drover accepts (Mesos has no limit; unbounded ids are a memory hazard).
pub const MAX_ID_LEN: usize = 512;

/// Checks the shape of a scheduler call (`scheduler::call::validate`); the error is the text
/// after [`CALL_INVALID_PREFIX`].
pub fn validate_call(call: &Call) -> Result<CallType, String> {
    let Some(kind) = call.r#type else {
        return Err("Expecting 'type' to be present".into());
    };
    let kind = CallType::try_from(kind).unwrap_or(CallType::Unknown);
    if kind == CallType::Subscribe {
        let Some(subscribe) = &call.subscribe else {
            return Err("Expecting 'subscribe' to be present".into());
        };
        let inner = subscribe.framework_info.id.as_ref().map(|i| &i.value);
        let outer = call.framework_id.as_ref().map(|i| &i.value);
        if inner != outer {
            return Err("'framework_id' differs from 'subscribe.framework_info.id'".into());
        }
        return Ok(kind);
    }
    if kind == CallType::Unknown {
        return Ok(kind);
    }
    match &call.framework_id {
        None => return Err("Expecting 'framework_id' to be present".into()),
        Some(id) => validate_id(&id.value).map_err(|e| format!("Invalid 'framework_id': {e}"))?,
    }
    let present = |ok: bool, name: &str| {
        if ok {
            Ok(())
        } else {
            Err(format!("Expecting '{name}' to be present"))
        }
    };
    match kind {
        CallType::Accept => present(call.accept.is_some(), "accept")?,
        CallType::Decline => present(call.decline.is_some(), "decline")?,
        CallType::AcceptInverseOffers => present(
            call.accept_inverse_offers.is_some(),
            "accept_inverse_offers",
        )?,
        CallType::DeclineInverseOffers => present(
            call.decline_inverse_offers.is_some(),
            "decline_inverse_offers",
        )?,
        CallType::Kill => present(call.kill.is_some(), "kill")?,
        CallType::Shutdown => present(call.shutdown.is_some(), "shutdown")?,
        CallType::Acknowledge => {
            let Some(ack) = &call.acknowledge else {
                return Err("Expecting 'acknowledge' to be present".into());
            };
            if ack.uuid.len() != 16 {
                return Err(format!(
                    "Failed to parse 'acknowledge.uuid': expected 16 bytes, got {}",
                    ack.uuid.len()
                ));
            }
        }
        CallType::AcknowledgeOperationStatus => {
            let Some(ack) = &call.acknowledge_operation_status else {
                return Err("Expecting 'acknowledge_operation_status' to be present".into());
            };
            if ack.uuid.len() != 16 {
                return Err(format!(
                    "Failed to parse 'acknowledge_operation_status.uuid': expected 16 bytes, \
                     got {}",
                    ack.uuid.len()
                ));
            }
            // As Mesos: only operations on agents are acknowledged (no external resource
            // providers).
            if ack.agent_id.is_none() {
                return Err("Expecting 'agent_id' to be present".into());
            }
        }
        CallType::Reconcile => present(call.reconcile.is_some(), "reconcile")?,
        CallType::ReconcileOperations => {
            present(call.reconcile_operations.is_some(), "reconcile_operations")?
        }
        CallType::Message => present(call.message.is_some(), "message")?,
        CallType::Request => present(call.request.is_some(), "request")?,
        CallType::UpdateFramework => {
            let Some(update) = &call.update_framework else {
                return Err("Expecting 'update_framework' to be present".into());
            };
            let inner = update.framework_info.id.as_ref().map(|i| &i.value);
            if inner != call.framework_id.as_ref().map(|i| &i.value) {
                return Err(
                    "'framework_id' differs from 'update_framework.framework_info.id'".into(),
                );
            }
        }
        _ => {}
    }
    Ok(kind)
}

/// Mesos' id rules (`common::validation::validateID`), plus a length bound.
pub fn validate_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("ID must not be empty".into());
    }
    if id.len() > MAX_ID_LEN {
        return Err(format!("ID must not be longer than {MAX_ID_LEN} bytes"));
    }
    if id == "." || id == ".." {
        return Err("'.' and '..' are disallowed for ID".into());
    }
    if id.chars().any(|c| c == '/' || c == '\\') {
        return Err("ID must not contain a slash or backslash".into());
    }
    if id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("ID must not contain whitespace or control characters".into());
    }
    Ok(())
}

/// Mesos' role name rules (`roles::validate`).
pub fn validate_role(role: &str) -> Result<(), String> {
    if role == "*" {
        return Ok(());
    }
    if role.is_empty() {
        return Err("Empty role name is invalid".into());
    }
    if role.len() > MAX_ID_LEN {
        return Err(format!("Role '{role}' is too long"));
    }
    for part in role.split('/') {
        if part.is_empty() || part == "." || part == ".." || part.starts_with('-') {
            return Err(format!(
                "Role '{role}' contains an invalid path component '{part}'"
            ));
        }
        if part
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '\\')
        {
            return Err(format!("Role '{role}' contains invalid characters"));
        }
        if part == "*" {
            return Err(format!("Role '{role}' cannot contain '*' as a component"));
        }
    }
    Ok(())
}

/// Checks a framework info given at SUBSCRIBE; a failure is reported as an ERROR event.
pub fn validate_framework_info(info: &v1::FrameworkInfo) -> Result<(), String> {
    use v1::framework_info::capability::Type as Cap;
    if let Some(id) = &info.id {
        validate_id(&id.value).map_err(|e| format!("Invalid 'FrameworkInfo.id': {e}"))?;
    }
    let multi_role = super::has_capability(info, Cap::MultiRole);
    #[allow(deprecated)]
    let legacy_role = info.role.as_deref();
    if multi_role {
        if legacy_role.is_some() {
            return Err(
                "'FrameworkInfo.role' must not be set when 'MULTI_ROLE' capability is present"
                    .into(),
            );
        }
        let mut seen = BTreeSet::new();
        for role in &info.roles {
            validate_role(role)?;
            if !seen.insert(role) {
                return Err(format!(
                    "'FrameworkInfo.roles' contains duplicate role '{role}'"
                ));
            }
        }
    } else {
        if !info.roles.is_empty() {
            return Err(
                "'FrameworkInfo.roles' must not be set without the 'MULTI_ROLE' capability".into(),
            );
        }
        if let Some(role) = legacy_role {
            validate_role(role)?;
        }
    }
    if let Some(timeout) = info.failover_timeout
        && (!timeout.is_finite() || timeout < 0.0)
    {
        return Err(format!(
            "Invalid 'FrameworkInfo.failover_timeout': {timeout}"
        ));
    }
    Ok(())
}

/// Checks one task of a LAUNCH against the resources still available from the offers.
/// `known` tells whether a task id is already in use by the framework (including ones earlier
/// in the same ACCEPT); a lookup, not a copied set, so a launch costs O(log tasks), not
/// O(tasks) (issue 8).
pub fn validate_task(
    task: &v1::TaskInfo,
    offers_agent_id: &str,
    known: &dyn Fn(&str) -> bool,
) -> Result<(), String> {
    validate_id(&task.task_id.value).map_err(|e| format!("Task ID is invalid: {e}"))?;
    if known(&task.task_id.value) {
        return Err(format!("Task has duplicate ID: {}", task.task_id.value));
    }
    if task.agent_id.value != offers_agent_id {
        return Err(format!(
            "Task uses invalid agent ID '{}'; the offers are for agent '{offers_agent_id}'",
            task.agent_id.value
        ));
    }
    if task.executor.is_some() == task.command.is_some() {
        return Err(
            "Task should have at least one (but not both) of CommandInfo or ExecutorInfo present"
                .into(),
        );
    }
    if let Some(executor) = &task.executor {
        validate_id(&executor.executor_id.value)
            .map_err(|e| format!("Executor ID is invalid: {e}"))?;
        for r in &executor.resources {
            resources::validate(r).map_err(|e| format!("Executor uses invalid resources: {e}"))?;
        }
    }
    validate_task_resources(task)?;
    if let Some(grace) = task
        .kill_policy
        .as_ref()
        .and_then(|k| k.grace_period.as_ref())
        && grace.nanoseconds < 0
    {
        return Err("Task's 'kill_policy.grace_period' must be non-negative".into());
    }
    let commands = task
        .command
        .iter()
        .chain(task.executor.iter().filter_map(|e| e.command.as_ref()));
    for command in commands {
        if let Some(environment) = &command.environment {
            validate_environment(environment)?;
        }
    }
    Ok(())
}

/// Mesos' rule for an environment: a `SECRET` variable carries a secret and no value; any
/// other carries no secret. A plain variable without a value is taken as empty rather than
/// refused as Mesos did: real clients (mesos-framework's `HOST`, from an offer's
/// `url.address.ip`, which Drover's offers do not carry) send such variables.
pub fn validate_environment(environment: &v1::Environment) -> Result<(), String> {
    use v1::environment::variable::Type;
    for var in &environment.variables {
        let secret = var.r#type == Some(Type::Secret as i32);
        if secret && var.secret.is_none() {
            return Err(format!(
                "Environment variable '{}' of type 'SECRET' must have a secret set",
                var.name
            ));
        }
        if secret && var.value.is_some() {
            return Err(format!(
                "Environment variable '{}' of type 'SECRET' must not have a value set",
                var.name
            ));
        }
        if !secret && var.secret.is_some() {
            return Err(format!(
                "Environment variable '{}' of type 'VALUE' must not have a secret set",
                var.name
            ));
        }
    }
    Ok(())
}

/// Task resources must be valid quantities and include some cpus or mem.
pub fn validate_task_resources(task: &v1::TaskInfo) -> Result<(), String> {
    if task.resources.is_empty() {
        return Err("Task uses no resources".into());
    }
    for r in &task.resources {
        resources::validate(r).map_err(|e| format!("Task uses invalid resources: {e}"))?;
    }
    let cpus = resources::scalar(&task.resources, "cpus");
    let mem = resources::scalar(&task.resources, "mem");
    if cpus <= 0.0 && mem <= 0.0 {
        return Err("Task uses no cpus or mem; at least one is required".into());
    }
    Ok(())
}

/// Checks a LAUNCH_GROUP's executor and group shape (members are checked with
/// [`validate_task`] too).
pub fn validate_task_group(
    executor: &v1::ExecutorInfo,
    group: &v1::TaskGroupInfo,
) -> Result<(), String> {
    if group.tasks.is_empty() {
        return Err("Task group cannot be empty".into());
    }
    validate_id(&executor.executor_id.value).map_err(|e| format!("Executor ID is invalid: {e}"))?;
    if executor.r#type != Some(v1::executor_info::Type::Default as i32) {
        return Err("'ExecutorInfo.type' must be 'DEFAULT' for a task group".into());
    }
    let mut ids = BTreeSet::new();
    for task in &group.tasks {
        if task.executor.is_some() {
            return Err(format!(
                "Task '{}' must not set 'ExecutorInfo' in a task group",
                task.task_id.value
            ));
        }
        if !ids.insert(task.task_id.value.as_str()) {
            return Err(format!(
                "Task group has duplicate task ID: {}",
                task.task_id.value
            ));
        }
    }
    for r in &executor.resources {
        resources::validate(r).map_err(|e| format!("Executor uses invalid resources: {e}"))?;
    }
    Ok(())
}

/// The effective `refuse_seconds` of a filter: default 5, negative means the default, and
/// capped at 365 days (Mesos' rules).
pub fn refuse_ms(filters: Option<&v1::Filters>) -> u64 {
    const DEFAULT: f64 = 5.0;
    const MAX: f64 = 365.0 * 24.0 * 3600.0;
    let seconds = filters.and_then(|f| f.refuse_seconds).unwrap_or(DEFAULT);
    let seconds = if !seconds.is_finite() || seconds < 0.0 {
        if seconds == f64::INFINITY {
            MAX
        } else {
            DEFAULT
        }
    } else {
        seconds.min(MAX)
    };
    (seconds * 1000.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn var(
        kind: Option<v1::environment::variable::Type>,
        value: bool,
        secret: bool,
    ) -> v1::Environment {
        v1::Environment {
            variables: vec![v1::environment::Variable {
                name: "X".into(),
                r#type: kind.map(|k| k as i32),
                value: value.then(|| "v".to_owned()),
                secret: secret.then(v1::Secret::default),
            }],
        }
    }

    #[test]
    fn environments_follow_mesos_secret_rules() {
        use v1::environment::variable::Type;
        assert!(validate_environment(&var(None, true, false)).is_ok());
        assert!(validate_environment(&var(Some(Type::Secret), false, true)).is_ok());
        for (env, words) in [
            (
                var(Some(Type::Secret), false, false),
                "must have a secret set",
            ),
            (
                var(Some(Type::Secret), true, true),
                "must not have a value set",
            ),
            (var(None, true, true), "must not have a secret set"),
        ] {
            let error = validate_environment(&env).unwrap_err();
            assert!(error.contains(words) && error.contains("'X'"), "{error}");
        }
    }
}
