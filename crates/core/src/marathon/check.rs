//! An app's `check` (Mesos' generalized, non-health checks: HTTP, TCP or a command): its
//! validation and the `CheckInfo` a task carries. The executor runs it and reports each changed
//! result as `check_status` (REASON_TASK_CHECK_STATUS_UPDATED); a check never kills a task.

use drover_wire::v1;

use super::app::{AppSpec, Violation};

/// What a check probes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckKind {
    /// GET `path` on the task's port at `port_index`.
    Http {
        /// Index into the task's ports.
        port_index: u32,
        /// Path requested (Mesos' default `/` when absent).
        path: Option<String>,
    },
    /// Connect to the task's port at `port_index`.
    Tcp {
        /// Index into the task's ports.
        port_index: u32,
    },
    /// Run a shell command (exit 0 counts as success; the exit code is reported).
    Command(String),
}

/// An app's `check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppCheck {
    /// What it probes.
    pub kind: CheckKind,
    /// Seconds between checks (Marathon's default 60).
    pub interval_seconds: u32,
    /// Seconds a check may take (default 20).
    pub timeout_seconds: u32,
    /// Seconds before the first check (default 15).
    pub delay_seconds: u32,
}

impl AppCheck {
    /// A check of `kind` with Marathon's defaults.
    pub fn new(kind: CheckKind) -> Self {
        AppCheck {
            kind,
            interval_seconds: 60,
            timeout_seconds: 20,
            delay_seconds: 15,
        }
    }
}

fn port_count(app: &AppSpec) -> usize {
    match app.docker() {
        Some(docker) if app.uses_port_mappings() => docker
            .port_mappings
            .iter()
            .filter(|m| m.host_port.is_some())
            .count(),
        _ => app.port_definitions.len(),
    }
}

/// Checks the app's `check` against the rest of its definition.
pub fn validate(app: &AppSpec) -> Vec<Violation> {
    let Some(check) = &app.check else {
        return Vec::new();
    };
    let mut problems = Vec::new();
    let index = match &check.kind {
        CheckKind::Http { port_index, .. } | CheckKind::Tcp { port_index } => Some(*port_index),
        CheckKind::Command(_) => None,
    };
    if let Some(index) = index
        && index as usize >= port_count(app)
    {
        let kind = if matches!(check.kind, CheckKind::Http { .. }) {
            "http"
        } else {
            "tcp"
        };
        problems.push(Violation::new(
            format!("/check/{kind}/portIndex"),
            format!("check port index {index} does not address one of the app's ports"),
        ));
    }
    if let CheckKind::Command(command) = &check.kind
        && command.is_empty()
    {
        problems.push(Violation::new(
            "/check/exec/command/shell",
            "must not be empty",
        ));
    }
    if check.interval_seconds == 0 {
        problems.push(Violation::new(
            "/check/intervalSeconds",
            "got 0, expected 1 or more",
        ));
    }
    if check.timeout_seconds == 0 {
        problems.push(Violation::new(
            "/check/timeoutSeconds",
            "got 0, expected 1 or more",
        ));
    }
    problems
}

/// The task's `CheckInfo` for its host ports (`None` when the app has no check).
pub fn check_info(app: &AppSpec, host_ports: &[u32]) -> Option<v1::CheckInfo> {
    use v1::check_info::Type;
    let check = app.check.as_ref()?;
    let port = |index: u32| host_ports.get(index as usize).copied().unwrap_or(0);
    let mut info = v1::CheckInfo {
        delay_seconds: Some(f64::from(check.delay_seconds)),
        interval_seconds: Some(f64::from(check.interval_seconds)),
        timeout_seconds: Some(f64::from(check.timeout_seconds)),
        ..Default::default()
    };
    match &check.kind {
        CheckKind::Http { port_index, path } => {
            info.r#type = Some(Type::Http as i32);
            info.http = Some(v1::check_info::Http {
                port: port(*port_index),
                path: path.clone(),
            });
        }
        CheckKind::Tcp { port_index } => {
            info.r#type = Some(Type::Tcp as i32);
            info.tcp = Some(v1::check_info::Tcp {
                port: port(*port_index),
            });
        }
        CheckKind::Command(command) => {
            info.r#type = Some(Type::Command as i32);
            info.command = Some(v1::check_info::Command {
                command: v1::CommandInfo {
                    shell: Some(true),
                    value: Some(command.clone()),
                    ..Default::default()
                },
            });
        }
    }
    Some(info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::marathon::path::PathId;

    #[test]
    fn checks_become_check_infos_on_the_task_ports() {
        let mut app = AppSpec::new(PathId::parse_app_id("/c").unwrap());
        app.cmd = Some("serve".into());
        app.check = Some(Box::new(AppCheck::new(CheckKind::Http {
            port_index: 0,
            path: Some("/status".into()),
        })));
        assert!(validate(&app).is_empty());
        let info = check_info(&app, &[31005]).unwrap();
        assert_eq!(info.r#type, Some(v1::check_info::Type::Http as i32));
        assert_eq!(info.http.as_ref().unwrap().port, 31005);
        assert_eq!(info.http.as_ref().unwrap().path.as_deref(), Some("/status"));
        assert_eq!(info.interval_seconds, Some(60.0));
        assert_eq!(info.delay_seconds, Some(15.0));

        app.check = Some(Box::new(AppCheck::new(CheckKind::Tcp { port_index: 1 })));
        let problems = validate(&app);
        assert_eq!(problems[0].path, "/check/tcp/portIndex");

        app.check = Some(Box::new(AppCheck::new(CheckKind::Command(
            "test -f x".into(),
        ))));
        let info = check_info(&app, &[]).unwrap();
        let command = info.command.unwrap().command;
        assert_eq!(command.value.as_deref(), Some("test -f x"));
        assert_eq!(command.shell, Some(true));
    }
}
