//! Which `ContainerInfo` settings this agent can honour: a task (or executor) asking for one it
//! cannot (a Mesos image, volumes or networks without Docker, a hostname, …) is refused by the
//! field's name rather than run on the host as something other than what was asked. `type:
//! DOCKER` goes to the agent's Docker containerizer, which refuses it by name when `docker` is
//! not among `--containerizers`.

use drover_wire::v1;

/// The first field of `container` this agent cannot honour, named as a framework spells it
/// (`container.mesos.image`), with why; `None` when the container can run as asked.
///
/// What is honoured: `type: MESOS` (the agent's own process isolation), with a Docker image
/// (`mesos.image`, provisioned by the agent: whether it has `--image_providers=docker` is the
/// agent's to say at launch) and then host-path volumes, `linux_info.share_cgroups: true`
/// (which is what happens anyway), and `tty_info`.
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
    } else if let Some(why) = container
        .mesos
        .as_ref()
        .and_then(|m| m.image.as_ref())
        .and_then(image_unsupported)
    {
        Some(why)
    } else if container
        .volumes
        .iter()
        .any(|v| secret_file(v).is_none() && !(has_image(container) && host_volume(v)))
    {
        Some((
            "container.volumes",
            "only secret volumes (source SECRET, a path relative to the sandbox) are supported \
             without Docker, and host-path volumes with a container image",
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

/// Whether a MESOS container names an image (the agent's provisioner gives it the image's
/// root filesystem, `--image_providers=docker`).
pub fn has_image(container: &v1::ContainerInfo) -> bool {
    container.mesos.as_ref().is_some_and(|m| m.image.is_some())
}

/// A host-path volume (`host_path` absolute, no `source`), bound into an image's container at
/// `container_path` (absolute: in the image's root; relative: in the sandbox).
fn host_volume(volume: &v1::Volume) -> bool {
    volume.source.is_none()
        && volume
            .host_path
            .as_deref()
            .is_some_and(|h| h.starts_with('/'))
        && !volume.container_path.is_empty()
        && !volume.container_path.split('/').any(|part| part == "..")
}

/// What of a Mesos container's image this agent cannot honour: only Docker images by name
/// are provisioned (Mesos' `docker` image provider).
fn image_unsupported(image: &v1::Image) -> Option<(&'static str, &'static str)> {
    use v1::image::Type;
    match (Type::try_from(image.r#type).ok(), &image.docker) {
        (Some(Type::Appc), _) => Some((
            "container.mesos.image.appc",
            "AppC images are not supported (only Docker images)",
        )),
        (Some(Type::Docker), Some(docker))
            if crate::agent::docker::image_problem(&docker.name).is_some() =>
        {
            Some((
                "container.mesos.image.docker.name",
                "not a Docker image reference",
            ))
        }
        (Some(Type::Docker), Some(_)) => None,
        _ => Some((
            "container.mesos.image",
            "an image of type DOCKER needs image.docker.name",
        )),
    }
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
        // A Docker image is the provisioner's; with it, host-path volumes are bound in.
        assert_eq!(unsupported(&image), None);
        let volume = |host: &str, path: &str| v1::Volume {
            host_path: Some(host.into()),
            container_path: path.into(),
            mode: v1::volume::Mode::Ro as i32,
            ..Default::default()
        };
        image.volumes = vec![volume("/srv/data", "/data"), volume("/srv/conf", "conf")];
        assert_eq!(unsupported(&image), None);
        image.volumes = vec![volume("relative", "/data")];
        assert!(unsupported(&image).unwrap().contains("container.volumes"));
        image.volumes = vec![volume("/srv", "../../etc")];
        assert!(unsupported(&image).unwrap().contains("container.volumes"));
        image.volumes.clear();
        let mut without_image = mesos();
        without_image.volumes = vec![volume("/srv/data", "/data")];
        assert!(
            unsupported(&without_image)
                .unwrap()
                .contains("container.volumes")
        );
        let set = |image: &mut v1::ContainerInfo, f: &dyn Fn(&mut v1::Image)| {
            f(image.mesos.as_mut().unwrap().image.as_mut().unwrap());
        };
        set(&mut image, &|i| {
            i.docker.as_mut().unwrap().name = "Not An Image".into()
        });
        assert!(
            unsupported(&image)
                .unwrap()
                .contains("container.mesos.image.docker.name")
        );
        // A docker config secret (Marathon's `pullConfig`) is resolved by the agent.
        set(&mut image, &|i| {
            i.docker.as_mut().unwrap().name = "alpine".into();
            i.docker.as_mut().unwrap().config = Some(Default::default());
        });
        assert_eq!(unsupported(&image), None);
        set(&mut image, &|i| {
            i.r#type = v1::image::Type::Appc as i32;
            i.docker = None;
        });
        assert!(
            unsupported(&image)
                .unwrap()
                .contains("container.mesos.image.appc")
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
