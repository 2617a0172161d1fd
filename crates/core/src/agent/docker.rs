//! The checks on a Docker container request that do not need the daemon: image references that
//! parse, host paths of volumes, and `docker run` options (`parameters`) that would let a task
//! leave its container. Shared by Marathon's validation (422) and the agent (launch refused).

use drover_wire::v1;

/// Longest image name (repository path) the daemon accepts.
const NAME_MAX: usize = 255;

/// Why `reference` is not a Docker image reference (`[host[:port]/]path[:tag][@digest]`, as the
/// daemon's grammar has it); `None` when it parses.
pub fn image_problem(reference: &str) -> Option<String> {
    let bad = |why: &str| Some(format!("invalid image reference '{reference}': {why}"));
    if reference.is_empty() {
        return bad("it is empty");
    }
    let (rest, digest) = match reference.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (reference, None),
    };
    if let Some(digest) = digest {
        let ok = digest.split_once(':').is_some_and(|(algorithm, hex)| {
            !algorithm.is_empty()
                && algorithm
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+.-_".contains(c))
                && hex.len() >= 32
                && hex.chars().all(|c| c.is_ascii_hexdigit())
        });
        if !ok {
            return bad("the digest is not 'algorithm:hex'");
        }
    }
    // A tag follows the last ':' only when no '/' comes after it (else it is a registry port).
    let (name, tag) = match rest.rfind(':') {
        Some(at) if !rest[at..].contains('/') => (&rest[..at], Some(&rest[at + 1..])),
        _ => (rest, None),
    };
    if let Some(tag) = tag {
        let mut chars = tag.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        if !first_ok
            || tag.len() > 128
            || !chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        {
            return bad("the tag must be 1-128 of [A-Za-z0-9_.-], not starting with '.' or '-'");
        }
    }
    if name.is_empty() || name.len() > NAME_MAX {
        return bad("the repository name must be 1-255 characters");
    }
    let mut components: Vec<&str> = name.split('/').collect();
    let first = components[0];
    let is_domain = components.len() > 1
        && (first.contains('.') || first.contains(':') || first == "localhost");
    if is_domain {
        let (host, port) = match first.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (first, None),
        };
        let host_ok = !host.is_empty()
            && host.split('.').all(|label| {
                !label.is_empty()
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        let port_ok = port.is_none_or(|p| !p.is_empty() && p.parse::<u16>().is_ok());
        if !host_ok || !port_ok {
            return bad("the registry host is not 'host[:port]'");
        }
        components.remove(0);
    }
    for component in components {
        if !path_component_ok(component) {
            return bad(
                "each path component must be lowercase letters and digits, separated by \
                 '.', '_', '__' or dashes",
            );
        }
    }
    None
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
fn path_component_ok(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let separator = &component[start..i];
        let ok = matches!(separator, "." | "_" | "__") || separator.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// `docker run` options that hand the task a host namespace, the host's devices or filesystem,
/// or the daemon's confinement off; a task may use them only where the operator allowed it.
const ESCAPING: &[(&str, &str)] = &[
    ("pid", "host"),
    ("ipc", "host"),
    ("uts", "host"),
    ("userns", "host"),
    ("cgroupns", "host"),
    ("privileged", ""),
    ("cap-add", ""),
    ("device", ""),
    ("device-cgroup-rule", ""),
    ("security-opt", ""),
    ("volume", ""),
    ("v", ""),
    ("volumes-from", ""),
    ("mount", ""),
    ("cgroup-parent", ""),
    ("runtime", ""),
];

/// Options the agent sets itself: a parameter overriding them would break what the agent relies
/// on (the name it recovers by, the sandbox mount, the resource limits it accounted for).
const RESERVED: &[&str] = &[
    "name",
    "memory",
    "m",
    "cpu-shares",
    "c",
    "cpu-quota",
    "cpus",
    "rm",
    "detach",
    "d",
    "workdir",
    "w",
];

/// `docker run` options for the container's network and published ports.
const NETWORK_OPTIONS: &[&str] = &["net", "network", "publish", "p", "publish-all", "P"];

/// Why the `docker run` option `--key=value` may not be given; `None` when it may.
/// `allow_escaping` is the agent's permission for options that leave the container.
pub fn parameter_problem(key: &str, value: &str, allow_escaping: bool) -> Option<String> {
    let name = key.trim_start_matches('-');
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Some(format!("invalid docker parameter key '{key}'"));
    }
    // The network and its published ports come from `network` and `port_mappings`: the agent
    // checks and reports those (host ports from the offer, the container's address for health
    // checks), so a parameter that changed them would make the agent's view false.
    if NETWORK_OPTIONS.contains(&name) {
        return Some(format!(
            "docker parameter '{name}' is set by the agent from the container's network \
             (docker.network HOST, BRIDGE, NONE or USER with network_infos) and port_mappings; \
             set those instead"
        ));
    }
    if RESERVED.contains(&name) {
        return Some(format!(
            "docker parameter '{name}' is set by the agent from the task (name, resources, \
             sandbox) and cannot be overridden"
        ));
    }
    let escapes = ESCAPING
        .iter()
        .any(|(k, v)| *k == name && (v.is_empty() || value.eq_ignore_ascii_case(v)));
    if escapes && !allow_escaping {
        return Some(format!(
            "docker parameter '{name}={value}' would let the task leave its container; the \
             agent allows it only with --docker_allow_escaping_parameters"
        ));
    }
    None
}

/// Why a host path cannot be bind-mounted into a Docker container; `None` when it can.
pub fn host_path_problem(host_path: &str) -> Option<String> {
    let path = std::path::Path::new(host_path);
    if !path.is_absolute() {
        Some(format!("volume host path '{host_path}' must be absolute"))
    } else if path
        .components()
        .any(|c| c == std::path::Component::ParentDir)
    {
        Some(format!(
            "volume host path '{host_path}' must not contain '..'"
        ))
    } else {
        None
    }
}

/// The first thing in a Docker `ContainerInfo` that no agent could run, named by field, without
/// touching the host (the image's syntax, volumes, parameters).
pub fn request_problem(container: &v1::ContainerInfo, allow_escaping: bool) -> Option<String> {
    let Some(docker) = container.docker.as_ref() else {
        return Some("container.docker: a DOCKER container needs docker.image".into());
    };
    if let Some(why) = image_problem(&docker.image) {
        return Some(format!("container.docker.image: {why}"));
    }
    for parameter in &docker.parameters {
        if let Some(why) = parameter_problem(&parameter.key, &parameter.value, allow_escaping) {
            return Some(format!("container.docker.parameters: {why}"));
        }
    }
    let bridged = docker.network == Some(v1::container_info::docker_info::Network::Bridge as i32);
    if !docker.port_mappings.is_empty() && !bridged {
        return Some("container.docker.port_mappings: port mappings need network BRIDGE".into());
    }
    for volume in &container.volumes {
        if volume.image.is_some() || volume.source.is_some() {
            return Some(
                "container.volumes: only host-path volumes are supported for Docker".into(),
            );
        }
        if !volume.container_path.starts_with('/') {
            return Some(format!(
                "container.volumes: container path '{}' must be absolute",
                volume.container_path
            ));
        }
        match volume.host_path.as_deref() {
            None => {
                return Some("container.volumes: a Docker volume needs host_path".into());
            }
            Some(host) => {
                if let Some(why) = host_path_problem(host) {
                    return Some(format!("container.volumes: {why}"));
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references_follow_the_daemon_grammar() {
        for good in [
            "busybox",
            "busybox:1.36",
            "library/busybox",
            "localhost:5000/team/app:v1.2-rc_3",
            "registry.example.com/a.b/c__d/e-f:latest",
            "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            assert_eq!(image_problem(good), None, "{good}");
        }
        for bad in [
            "",
            "BusyBox",
            "busy box",
            "busybox:",
            "busybox:.x",
            "-busybox",
            "a//b",
            "localhost:port/app",
            "busybox@sha256:xyz",
        ] {
            assert!(image_problem(bad).is_some(), "{bad:?} accepted");
        }
    }

    #[test]
    fn escaping_parameters_need_the_agents_permission() {
        let pid = parameter_problem("pid", "host", false).unwrap();
        assert!(pid.contains("pid=host"), "{pid}");
        assert_eq!(parameter_problem("pid", "host", true), None);
        assert_eq!(parameter_problem("pid", "container:x", false), None);
        assert!(parameter_problem("--volume", "/:/host", false).is_some());
        assert!(parameter_problem("cap-add", "SYS_ADMIN", false).is_some());
        assert_eq!(parameter_problem("env", "A=1", false), None);
        assert_eq!(parameter_problem("label", "x=y", false), None);
        // The agent's own settings can't be overridden even when escaping is allowed.
        assert!(
            parameter_problem("name", "other", true)
                .unwrap()
                .contains("name")
        );
        assert!(parameter_problem("memory", "1g", true).is_some());
        // The network and ports come from their own fields, even when escaping is allowed.
        for key in [
            "net",
            "--net",
            "network",
            "publish",
            "p",
            "publish-all",
            "P",
        ] {
            let why = parameter_problem(key, "host", true).unwrap_or_default();
            assert!(why.contains("network"), "{key}: {why:?}");
        }
        assert!(parameter_problem("a b", "", true).is_some());
        assert!(parameter_problem("--", "", true).is_some());
    }

    #[test]
    fn host_paths_must_be_absolute_without_parent_steps() {
        assert_eq!(host_path_problem("/srv/data"), None);
        assert!(host_path_problem("data").unwrap().contains("absolute"));
        assert!(host_path_problem("/srv/../etc").unwrap().contains(".."));
    }

    fn docker(image: &str) -> v1::ContainerInfo {
        v1::ContainerInfo {
            r#type: v1::container_info::Type::Docker as i32,
            docker: Some(v1::container_info::DockerInfo {
                image: image.into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_request_names_the_field_at_fault() {
        assert_eq!(request_problem(&docker("busybox"), false), None);
        assert!(
            request_problem(&docker("Bad Image"), false)
                .unwrap()
                .starts_with("container.docker.image")
        );
        let mut mapped = docker("busybox");
        mapped
            .docker
            .as_mut()
            .unwrap()
            .port_mappings
            .push(Default::default());
        assert!(request_problem(&mapped, false).unwrap().contains("BRIDGE"));
        let mut relative = docker("busybox");
        relative.volumes.push(v1::Volume {
            container_path: "/data".into(),
            host_path: Some("data".into()),
            ..Default::default()
        });
        assert!(
            request_problem(&relative, false)
                .unwrap()
                .contains("absolute")
        );
    }
}
