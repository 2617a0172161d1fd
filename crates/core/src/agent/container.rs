//! Which `ContainerInfo` settings this agent can honour: a task (or executor) asking for one it
//! cannot (a Mesos image, volumes or networks without Docker, a hostname, …) is refused by the
//! field's name rather than run on the host as something other than what was asked. `type:
//! DOCKER` goes to the agent's Docker containerizer, which refuses it by name when `docker` is
//! not among `--containerizers`.

use drover_wire::v1;

/// The first field of `container` this agent cannot honour, named as a framework spells it
/// (`container.mesos.image`), with why; `None` when the container can run as asked.
///
/// What is honoured: `type: MESOS` without an image (the agent's own process isolation),
/// `linux_info.share_cgroups: true` (which is what happens anyway), and `tty_info`.
pub fn unsupported(container: &v1::ContainerInfo) -> Option<String> {
    use v1::container_info::Type;
    let kind = Type::try_from(container.r#type).ok();
    if kind == Some(Type::Docker) {
        return docker_unsupported(container);
    }
    let field = if container.docker.is_some() {
        Some(("container.docker", "DockerInfo needs container type DOCKER"))
    } else if kind != Some(Type::Mesos) {
        Some(("container.type", "only type MESOS is supported"))
    } else if container.mesos.as_ref().is_some_and(|m| m.image.is_some()) {
        Some((
            "container.mesos.image",
            "container images are not supported yet; the task would run in the host's \
             root filesystem",
        ))
    } else if container.volumes.iter().any(|v| secret_file(v).is_none()) {
        Some((
            "container.volumes",
            "only secret volumes (source SECRET, a path relative to the sandbox) are supported \
             without Docker",
        ))
    } else if container.hostname.is_some() {
        Some((
            "container.hostname",
            "a container hostname needs a UTS namespace, which this agent does not create",
        ))
    } else if !container.network_infos.is_empty() {
        Some((
            "container.network_infos",
            "container networks are not supported; tasks use the host's network",
        ))
    } else if container.linux_info.as_ref().is_some_and(|l| {
        let honoured = v1::LinuxInfo {
            share_cgroups: l.share_cgroups.filter(|share| *share),
            ..Default::default()
        };
        *l != honoured
    }) {
        Some((
            "container.linux_info",
            "capabilities, seccomp, IPC and PID namespace settings are not supported",
        ))
    } else if container.rlimit_info.is_some() {
        Some(("container.rlimit_info", "resource limits are not supported"))
    } else {
        // `tty_info` is honoured: the agent gives the container a terminal behind an I/O
        // switchboard.
        None
    };
    field.map(|(name, why)| format!("Unsupported {name}: {why}"))
}

/// A secret volume of a MESOS container as a file to write: its sandbox-relative path and the
/// secret; `None` for any other volume (or an absolute or escaping path).
pub fn secret_file(volume: &v1::Volume) -> Option<(String, v1::Secret)> {
    let source = volume.source.as_ref()?;
    if source.r#type != Some(v1::volume::source::Type::Secret as i32) {
        return None;
    }
    let path = volume.container_path.as_str();
    let relative = !path.is_empty()
        && std::path::Path::new(path)
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
    relative.then(|| (path.to_owned(), source.secret.clone().unwrap_or_default()))
}

/// A `type: DOCKER` container: the agent's Docker containerizer takes it (image, network,
/// port mappings, volumes and parameters are checked there, against the daemon and the host);
/// what no Docker container here can honour is refused by name.
fn docker_unsupported(container: &v1::ContainerInfo) -> Option<String> {
    let field = if container.docker.is_none() {
        Some((
            "container.docker",
            "type DOCKER needs a DockerInfo with an image",
        ))
    } else if container.mesos.is_some() {
        Some((
            "container.mesos",
            "a MesosInfo does not apply to type DOCKER",
        ))
    } else if container.linux_info.is_some() {
        Some((
            "container.linux_info",
            "capabilities, seccomp, IPC and PID namespace settings are not supported for \
             Docker containers (use docker parameters)",
        ))
    } else if container.rlimit_info.is_some() {
        Some(("container.rlimit_info", "resource limits are not supported"))
    } else if container.tty_info.is_some() {
        Some(("container.tty_info", "a TTY is not supported"))
    } else {
        None
    };
    field.map(|(name, why)| format!("Unsupported {name}: {why}"))
}

/// [`unsupported`] for a task and the executor it would run under.
pub fn refusal(task: &v1::TaskInfo, executor: &v1::ExecutorInfo) -> Option<String> {
    // The command executor carries its task's container; a task's own Docker container under
    // any other executor would be ignored, so it is refused.
    let task_docker = task
        .container
        .as_deref()
        .is_some_and(|c| c.r#type == v1::container_info::Type::Docker as i32);
    if task_docker && executor.container != task.container {
        return Some(
            "Unsupported container.docker: a task's Docker container is supported for command \
             tasks only, not under an executor"
                .to_owned(),
        );
    }
    // Likewise a task's terminal: it is its container's, which only a command task owns.
    let task_tty = task
        .container
        .as_deref()
        .is_some_and(|c| c.tty_info.is_some());
    if task_tty && executor.container != task.container {
        return Some(
            "Unsupported container.tty_info: a task's TTY is supported for command tasks and \
             the tasks of a group only (a task of a custom executor shares its executor's \
             container)"
                .to_owned(),
        );
    }
    task.container
        .as_deref()
        .and_then(unsupported)
        .or_else(|| executor.container.as_deref().and_then(unsupported))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mesos() -> v1::ContainerInfo {
        v1::ContainerInfo {
            r#type: v1::container_info::Type::Mesos as i32,
            ..Default::default()
        }
    }

    #[test]
    fn a_plain_mesos_container_is_honoured() {
        assert_eq!(unsupported(&mesos()), None);
        let mut shared = mesos();
        shared.linux_info = Some(v1::LinuxInfo {
            share_cgroups: Some(true),
            ..Default::default()
        });
        assert_eq!(unsupported(&shared), None);
        let mut tty = mesos();
        tty.tty_info = Some(Default::default());
        assert_eq!(unsupported(&tty), None);
    }

    #[test]
    fn a_tty_is_a_command_tasks_only() {
        let mut container = mesos();
        container.tty_info = Some(Default::default());
        let task = v1::TaskInfo {
            container: Some(Box::new(container)),
            ..Default::default()
        };
        let own = v1::ExecutorInfo {
            container: task.container.clone(),
            ..Default::default()
        };
        assert_eq!(refusal(&task, &own), None);
        let other = v1::ExecutorInfo::default();
        assert!(
            refusal(&task, &other)
                .unwrap()
                .contains("container.tty_info")
        );
    }

    #[test]
    fn each_field_that_cannot_take_effect_is_named() {
        let mut image = mesos();
        image.mesos = Some(v1::container_info::MesosInfo {
            image: Some(v1::Image {
                r#type: v1::image::Type::Docker as i32,
                docker: Some(v1::image::Docker {
                    name: "alpine".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
        });
        assert!(
            unsupported(&image)
                .unwrap()
                .contains("container.mesos.image")
        );

        let docker = v1::ContainerInfo {
            r#type: v1::container_info::Type::Docker as i32,
            ..Default::default()
        };
        assert!(unsupported(&docker).unwrap().contains("container.docker"));
        let mut with_image = docker.clone();
        with_image.docker = Some(v1::container_info::DockerInfo {
            image: "busybox".into(),
            ..Default::default()
        });
        // The Docker containerizer takes it (and checks the rest against the daemon).
        assert_eq!(unsupported(&with_image), None);
        with_image.tty_info = Some(Default::default());
        assert!(
            unsupported(&with_image)
                .unwrap()
                .contains("container.tty_info")
        );
        with_image.tty_info = None;
        let docker_task = v1::TaskInfo {
            container: Some(Box::new(with_image.clone())),
            ..Default::default()
        };
        let custom = v1::ExecutorInfo::default();
        assert!(
            refusal(&docker_task, &custom)
                .unwrap()
                .contains("not under an executor")
        );
        let command = v1::ExecutorInfo {
            container: docker_task.container.clone(),
            ..Default::default()
        };
        assert_eq!(refusal(&docker_task, &command), None);
        let mut docker_on_mesos = mesos();
        docker_on_mesos.docker = with_image.docker.clone();
        assert!(
            unsupported(&docker_on_mesos)
                .unwrap()
                .contains("container.docker")
        );

        let mut volumes = mesos();
        volumes.volumes.push(v1::Volume::default());
        assert!(unsupported(&volumes).unwrap().contains("container.volumes"));

        let mut hostname = mesos();
        hostname.hostname = Some("h".into());
        assert!(
            unsupported(&hostname)
                .unwrap()
                .contains("container.hostname")
        );

        let mut pid = mesos();
        pid.linux_info = Some(v1::LinuxInfo {
            share_pid_namespace: Some(true),
            ..Default::default()
        });
        assert!(unsupported(&pid).unwrap().contains("container.linux_info"));
    }
}
