//! An app's `container` and `networks` in Marathon's JSON: reading both API generations (1.5+
//! `networks` + `container.portMappings`, and 1.4's `container.docker.network` +
//! `container.docker.portMappings`) into [`AppContainer`], normalized as Marathon 1.10 does
//! (bridge mappings without `hostPort` get 0, a container network without mappings gets one
//! default mapping, `portDefinitions` give way to mappings off the host network), and a MESOS
//! container's `docker` (`image`, `forcePullImage`, `pullConfig`: the Mesos containerizer's
//! image), refusing by name what Drover cannot run; and rendering them back as Marathon 1.10
//! shows them.

use std::collections::BTreeMap;

use drover_core::marathon::app::AppSpec;
use drover_core::marathon::container::{
    AppContainer, DockerContainer, MesosDockerContainer, Network, PortMapping, Volume,
    network_from_mode,
};
use drover_core::marathon::reservation::PersistentVolume;
use serde_json::{Map, Value, json};

use super::pod::given;
use super::read::Reader;

/// What a body said about containers, for [`apply`]: the two keys as given (`None`: absent;
/// `Some(Null)`: cleared).
#[derive(Debug)]
pub struct Given<'a> {
    /// `container`.
    pub container: Option<&'a Value>,
    /// `networks`.
    pub networks: Option<&'a Value>,
    /// Whether the body gave `portDefinitions` or `ports`.
    pub gave_ports: bool,
}

/// Reads `container` and `networks` onto `app` (whose current container, in a merge, is the
/// base the body changes). Problems go to `r` with their paths.
pub fn apply(r: &mut Reader, given: Given<'_>, app: &mut AppSpec) {
    if given.container.is_none() && given.networks.is_none() {
        normalize_ports(app, given.gave_ports);
        return;
    }
    // A merge changes one key on top of the other as it stands: start from the current
    // definition's rendering and overlay what the body gave.
    let container = match given.container {
        Some(v) => v.clone(),
        None => container_json(app).unwrap_or(Value::Null),
    };
    let networks = match given.networks {
        Some(v) => v.clone(),
        None if given.container.is_some_and(has_legacy_network) => Value::Null,
        None => networks_json(app),
    };
    let mut secret_volumes = Vec::new();
    let mut persistent = Vec::new();
    app.container = read(
        r,
        &container,
        &networks,
        &mut secret_volumes,
        &mut persistent,
    );
    app.secret_volumes = secret_volumes;
    app.persistent_volumes = persistent;
    normalize_ports(app, given.gave_ports);
    // The container's own rules (image grammar, parameters, host paths, ports) are reported
    // with any shape errors of the same body, not only once those are fixed.
    if !r.errors.is_empty()
        && let Some(container) = &app.container
    {
        for v in container.validate() {
            r.error(&v.path, v.message);
        }
    }
}

fn has_legacy_network(container: &Value) -> bool {
    container
        .get("docker")
        .and_then(|d| d.get("network"))
        .is_some_and(|n| !n.is_null())
}

/// Marathon 1.10's port rules off the host network: `portDefinitions` are dropped (and
/// `requirePorts` is false), and when the body gave more of them than there are mappings,
/// default mappings make up the difference.
fn normalize_ports(app: &mut AppSpec, gave_ports: bool) {
    if !app.uses_port_mappings() {
        return;
    }
    let wanted = if gave_ports {
        app.port_definitions.len()
    } else {
        0
    };
    app.port_definitions.clear();
    // requirePorts is about port definitions, which a container network does not use.
    app.require_ports = false;
    if let Some(AppContainer::Docker(docker)) = &mut app.container {
        let host_port = (docker.network == Network::Bridge).then_some(0);
        while docker.port_mappings.len() < wanted {
            docker.port_mappings.push(default_mapping(host_port));
        }
    }
}

fn default_mapping(host_port: Option<u32>) -> PortMapping {
    PortMapping {
        container_port: 0,
        host_port,
        service_port: 0,
        protocol: "tcp".into(),
        name: None,
        labels: BTreeMap::new(),
    }
}

/// Keys of Marathon 1.10's `container`, `container.docker` and `container.volumes[]` that
/// Drover does not run, with why: present and not null, they are refused.
const UNSUPPORTED: [(&str, &str); 3] = [
    (
        "appc",
        "AppC images are not supported; use docker.image (type DOCKER or MESOS)",
    ),
    (
        "linuxInfo",
        "linuxInfo (seccomp, IPC namespace) is not supported",
    ),
    (
        "lifecycle",
        "container lifecycle settings are not supported",
    ),
];

const DOCKER_UNSUPPORTED: [(&str, &str); 2] = [
    (
        "pullConfig",
        "pullConfig (registry credentials from a secret) is not supported for type DOCKER; \
         give the agent --docker_config instead (type MESOS takes pullConfig)",
    ),
    (
        "credential",
        "credential (registry credentials) is not supported; give the agent --docker_config \
         instead",
    ),
];

/// Keys of a MESOS container's `docker` that only the Docker containerizer has (Marathon
/// refused them too): present with a value (not null, `false` or empty), they are refused.
const MESOS_DOCKER_UNSUPPORTED: [(&str, &str); 5] = [
    (
        "network",
        "docker.network does not apply to a MESOS container, which runs on the host network; \
         use networks, or type DOCKER",
    ),
    (
        "portMappings",
        "docker.portMappings do not apply to a MESOS container, which runs on the host \
         network; use portDefinitions",
    ),
    (
        "parameters",
        "docker.parameters (docker run options) do not apply to a MESOS container; use type \
         DOCKER",
    ),
    (
        "privileged",
        "docker.privileged does not apply to a MESOS container; use type DOCKER",
    ),
    (
        "credential",
        "credential (registry credentials) is not supported; use pullConfig with a secret",
    ),
];

const VOLUME_UNSUPPORTED: [(&str, &str); 2] = [
    ("external", "external volumes are not supported"),
    ("image", "image volumes are not supported"),
];

fn read(
    r: &mut Reader,
    container: &Value,
    networks: &Value,
    secret_volumes: &mut Vec<(String, String)>,
    persistent: &mut Vec<PersistentVolume>,
) -> Option<AppContainer> {
    let network = read_networks(r, networks);
    let obj = match container {
        Value::Null => {
            if network.as_ref().is_some_and(|n| *n != Network::Host) {
                r.error(
                    "/networks",
                    "container networking needs a container of type DOCKER (the Mesos \
                     containerizer here runs tasks on the host network)",
                );
            }
            return None;
        }
        Value::Object(obj) => obj,
        _ => {
            r.error("/container", "error.expected.jsobject");
            return None;
        }
    };
    let path = "/container";
    for (key, why) in UNSUPPORTED {
        if obj.get(key).is_some_and(|v| !v.is_null()) {
            r.error(&format!("{path}/{key}"), why);
        }
    }
    for key in obj.keys() {
        if !matches!(
            key.as_str(),
            "type" | "docker" | "volumes" | "portMappings" | "appc" | "linuxInfo" | "lifecycle"
        ) {
            r.error(&format!("{path}/{key}"), "unknown field of container");
        }
    }
    let kind = r
        .string(obj, "type", path)
        .unwrap_or_else(|| "DOCKER".into());
    let docker = r.object(obj, "docker", path);
    // Persistent volumes appear under the sandbox: bound by the Mesos containerizer (with an
    // image, in the image's root filesystem) or by the Docker daemon under the sandbox's
    // mount point.
    let persistent_ok = matches!(kind.as_str(), "MESOS" | "DOCKER");
    let volumes = read_volumes(r, obj, secret_volumes, persistent, persistent_ok);
    match kind.as_str() {
        "MESOS" => {
            if network.as_ref().is_some_and(|n| *n != Network::Host) {
                r.error(
                    "/networks",
                    "container networking needs a container of type DOCKER (the Mesos \
                     containerizer here runs tasks on the host network)",
                );
            }
            // A MESOS container is on the host network, where the ports are portDefinitions
            // (as for a DOCKER container on the host network).
            if read_mappings(r, obj, None).is_some_and(|m| !m.is_empty()) {
                r.error(
                    "/container/portMappings",
                    "portMappings are not allowed with host networking (a MESOS container runs \
                     on the host network); use portDefinitions",
                );
            }
            match docker {
                Some(docker) => read_mesos_docker(r, docker, volumes),
                None => {
                    if !volumes.is_empty() {
                        r.error(
                            "/container/volumes",
                            "host-path volumes of a MESOS container need an image \
                             (docker.image) to be mounted into; or use type DOCKER",
                        );
                    }
                    Some(AppContainer::Mesos)
                }
            }
        }
        "DOCKER" => {
            let mappings = read_mappings(r, obj, docker);
            if !secret_volumes.is_empty() {
                r.error(
                    "/container/volumes",
                    "secret volumes are supported in containers of type MESOS only",
                );
            }
            let Some(docker) = docker else {
                r.error("/container/docker", "error.path.missing");
                return None;
            };
            let dpath = "/container/docker";
            for (key, why) in DOCKER_UNSUPPORTED {
                if docker.get(key).is_some_and(|v| !v.is_null()) {
                    r.error(&format!("{dpath}/{key}"), why);
                }
            }
            let legacy = legacy_network(r, docker);
            let network = match (network, legacy) {
                (Some(_), Some(_)) if !networks.is_null() => {
                    r.error(
                        "/container/docker/network",
                        "cannot be combined with networks; use networks only",
                    );
                    return None;
                }
                (Some(n), _) | (None, Some(n)) => n,
                (None, None) => Network::Host,
            };
            let Some(image) = r.string(docker, "image", dpath) else {
                r.error("/container/docker/image", "error.path.missing");
                return None;
            };
            let mut out = DockerContainer::new(image);
            out.force_pull_image = r.boolean(docker, "forcePullImage", dpath).unwrap_or(false);
            out.privileged = r.boolean(docker, "privileged", dpath).unwrap_or(false);
            out.parameters = read_parameters(r, docker);
            out.volumes = volumes;
            out.port_mappings = match mappings {
                // Marathon 1.10 gives a container network one default mapping.
                None if network != Network::Host => vec![default_mapping(None)],
                None => Vec::new(),
                Some(m) => m,
            };
            if network == Network::Bridge {
                // Backwards compatibility: a bridge mapping without hostPort takes any port.
                for m in &mut out.port_mappings {
                    m.host_port.get_or_insert(0);
                }
            }
            out.network = network;
            Some(AppContainer::Docker(Box::new(out)))
        }
        other => {
            r.error(
                "/container/type",
                format!("'{other}' is not DOCKER or MESOS"),
            );
            None
        }
    }
}

/// A MESOS container's `docker`: the image the Mesos containerizer runs the task in, with
/// the container's host-path `volumes` mounted into it.
fn read_mesos_docker(
    r: &mut Reader,
    docker: &Map<String, Value>,
    volumes: Vec<Volume>,
) -> Option<AppContainer> {
    let dpath = "/container/docker";
    for key in docker.keys() {
        let known = matches!(key.as_str(), "image" | "forcePullImage" | "pullConfig")
            || MESOS_DOCKER_UNSUPPORTED.iter().any(|(k, _)| k == key);
        if !known {
            r.error(&format!("{dpath}/{key}"), "unknown field of docker");
        }
    }
    for (key, why) in MESOS_DOCKER_UNSUPPORTED {
        if given(docker.get(key)) {
            r.error(&format!("{dpath}/{key}"), why);
        }
    }
    let pull_config = read_pull_config(r, docker);
    let Some(image) = r.string(docker, "image", dpath) else {
        r.error("/container/docker/image", "error.path.missing");
        return None;
    };
    let mut out = MesosDockerContainer::new(image);
    out.force_pull_image = r.boolean(docker, "forcePullImage", dpath).unwrap_or(false);
    out.pull_config = pull_config;
    out.volumes = volumes;
    Some(AppContainer::MesosDocker(Box::new(out)))
}

/// `docker.pullConfig`: `{"secret": "<secret id>"}`, the id returned.
fn read_pull_config(r: &mut Reader, docker: &Map<String, Value>) -> Option<String> {
    let path = "/container/docker/pullConfig";
    let config = r.object(docker, "pullConfig", "/container/docker")?;
    for key in config.keys() {
        if key != "secret" {
            r.error(&format!("{path}/{key}"), "not a field of pullConfig");
        }
    }
    match r.string(config, "secret", path) {
        Some(id) if !id.is_empty() => Some(id),
        Some(_) => {
            r.error(&format!("{path}/secret"), "must not be empty");
            None
        }
        None => {
            r.error(&format!("{path}/secret"), "error.path.missing");
            None
        }
    }
}

/// `networks`; `None` when absent or empty (then host, unless the legacy field says otherwise).
fn read_networks(r: &mut Reader, networks: &Value) -> Option<Network> {
    let list = match networks {
        Value::Null => return None,
        Value::Array(list) => list,
        _ => {
            r.error("/networks", "error.expected.jsarray");
            return None;
        }
    };
    if list.len() > 1 {
        r.error(
            "/networks",
            "only one network per app is supported (a Docker container joins one network)",
        );
    }
    let first = list.first()?;
    let Some(obj) = first.as_object() else {
        r.error("/networks/0", "error.expected.jsobject");
        return None;
    };
    let mode = r.string(obj, "mode", "/networks/0");
    let name = r.string(obj, "name", "/networks/0");
    if r.string_map(obj, "labels", "/networks/0")
        .is_some_and(|l| !l.is_empty())
    {
        r.error(
            "/networks/0/labels",
            "network labels are not supported (Docker networks take no labels per container)",
        );
    }
    let Some(mode) = mode else {
        r.error("/networks/0/mode", "error.path.missing");
        return None;
    };
    // Only the current spellings are valid here; BRIDGE/USER belong to docker.network.
    if !matches!(mode.as_str(), "host" | "container/bridge" | "container") {
        r.error(
            "/networks/0/mode",
            format!("unknown network mode '{mode}'; expected host, container/bridge or container"),
        );
        return None;
    }
    match network_from_mode(&mode, name.as_deref(), "/networks/0/name") {
        Ok(n) => Some(n),
        Err(v) => {
            r.error(&v.path, v.message);
            None
        }
    }
}

/// Marathon 1.4's `docker.network` (HOST, BRIDGE; USER needed 1.4's `ipAddress`).
fn legacy_network(r: &mut Reader, docker: &Map<String, Value>) -> Option<Network> {
    let mode = r.string(docker, "network", "/container/docker")?;
    let path = "/container/docker/network";
    match mode.as_str() {
        "HOST" => Some(Network::Host),
        "BRIDGE" => Some(Network::Bridge),
        "USER" => {
            r.error(
                path,
                "USER networking with ipAddress is Marathon 1.4's API; use networks: \
                 [{\"mode\": \"container\", \"name\": ...}]",
            );
            None
        }
        other => {
            r.error(path, format!("unsupported docker network type {other}"));
            None
        }
    }
}

fn read_parameters(r: &mut Reader, docker: &Map<String, Value>) -> Vec<(String, String)> {
    let Some(list) = r.array(docker, "parameters", "/container/docker") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, p) in list.iter().enumerate() {
        let path = format!("/container/docker/parameters/{i}");
        let Some(p) = p.as_object() else {
            r.error(&path, "error.expected.jsobject");
            continue;
        };
        match (r.string(p, "key", &path), r.string(p, "value", &path)) {
            (Some(key), Some(value)) => out.push((key, value)),
            (None, _) => r.error(&format!("{path}/key"), "error.path.missing"),
            (_, None) => r.error(&format!("{path}/value"), "error.path.missing"),
        }
    }
    out
}

/// `container.volumes`: host-path volumes, returned, and secret volumes (`{"containerPath",
/// "secret"}`: a file relative to the sandbox), added to `secret_volumes`.
fn read_volumes(
    r: &mut Reader,
    container: &Map<String, Value>,
    secret_volumes: &mut Vec<(String, String)>,
    persistent: &mut Vec<PersistentVolume>,
    persistent_ok: bool,
) -> Vec<Volume> {
    let Some(list) = r.array(container, "volumes", "/container") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, v) in list.iter().enumerate() {
        let path = format!("/container/volumes/{i}");
        let Some(v) = v.as_object() else {
            r.error(&path, "error.expected.jsobject");
            continue;
        };
        if let Some(secret) = v.get("secret").filter(|s| !s.is_null()) {
            for key in v.keys() {
                if !matches!(key.as_str(), "containerPath" | "secret") {
                    r.error(&format!("{path}/{key}"), "not a field of a secret volume");
                }
            }
            let container_path = r.string(v, "containerPath", &path);
            let relative = container_path.as_deref().is_some_and(|p| {
                !p.is_empty()
                    && std::path::Path::new(p)
                        .components()
                        .all(|c| matches!(c, std::path::Component::Normal(_)))
            });
            match (container_path, secret.as_str()) {
                (None, _) => r.error(&format!("{path}/containerPath"), "error.path.missing"),
                (Some(_), _) if !relative => r.error(
                    &format!("{path}/containerPath"),
                    "a secret file's path is relative to the sandbox, without '..'",
                ),
                (_, None) => r.error(&format!("{path}/secret"), "error.expected.jsstring"),
                (Some(p), Some(id)) => secret_volumes.push((p, id.to_owned())),
            }
            continue;
        }
        if let Some(p) = v.get("persistent").filter(|p| !p.is_null()) {
            if !persistent_ok {
                r.error(
                    &format!("{path}/persistent"),
                    "persistent volumes need a container of type MESOS or DOCKER",
                );
                continue;
            }
            if let Some(volume) = read_persistent(r, v, p, &path) {
                persistent.push(volume);
            }
            continue;
        }
        let mut refused = false;
        // A misspelt key (`hostpath`, `readOnly`) would otherwise leave a volume that does not
        // do what its author wrote.
        for key in v.keys() {
            let known = matches!(
                key.as_str(),
                "containerPath" | "hostPath" | "mode" | "secret"
            ) || VOLUME_UNSUPPORTED.iter().any(|(k, _)| k == key);
            if !known {
                r.error(&format!("{path}/{key}"), "unknown field of a volume");
                refused = true;
            }
        }
        for (key, why) in VOLUME_UNSUPPORTED {
            if v.get(key).is_some_and(|x| !x.is_null()) {
                r.error(&format!("{path}/{key}"), why);
                refused = true;
            }
        }
        let container_path = r.string(v, "containerPath", &path);
        let host_path = r.string(v, "hostPath", &path);
        let read_only = match r.string(v, "mode", &path).as_deref() {
            None | Some("RW") => false,
            Some("RO") => true,
            Some(other) => {
                r.error(
                    &format!("{path}/mode"),
                    format!("'{other}' is not RW or RO"),
                );
                false
            }
        };
        if refused {
            continue;
        }
        match (container_path, host_path) {
            (Some(container_path), Some(host_path)) => out.push(Volume {
                container_path,
                host_path,
                read_only,
            }),
            (None, _) => r.error(&format!("{path}/containerPath"), "error.path.missing"),
            (_, None) => r.error(
                &format!("{path}/hostPath"),
                "error.path.missing (only host-path volumes are supported)",
            ),
        }
    }
    out
}

/// `container.portMappings`, or 1.4's `container.docker.portMappings` (not both); `None` when
/// neither is given.
fn read_mappings(
    r: &mut Reader,
    container: &Map<String, Value>,
    docker: Option<&Map<String, Value>>,
) -> Option<Vec<PortMapping>> {
    let current = r.array(container, "portMappings", "/container");
    let legacy = docker.and_then(|d| r.array(d, "portMappings", "/container/docker"));
    let (list, path) = match (current, legacy) {
        (Some(a), Some(b)) if !a.is_empty() && !b.is_empty() => {
            r.error(
                "/container/portMappings",
                "cannot specify both portMappings and docker.portMappings",
            );
            return None;
        }
        (Some(a), Some(b)) if a.is_empty() => (b, "/container/docker/portMappings"),
        (Some(a), _) => (a, "/container/portMappings"),
        (None, Some(b)) => (b, "/container/docker/portMappings"),
        (None, None) => return None,
    };
    let mut out = Vec::new();
    for (i, m) in list.iter().enumerate() {
        let at = format!("{path}/{i}");
        let Some(m) = m.as_object() else {
            r.error(&at, "error.expected.jsobject");
            continue;
        };
        let port =
            |r: &mut Reader, key: &str| r.count(m, key, &at, u64::from(u32::MAX)).map(|p| p as u32);
        out.push(PortMapping {
            container_port: port(r, "containerPort").unwrap_or(0),
            host_port: port(r, "hostPort"),
            service_port: port(r, "servicePort").unwrap_or(0),
            protocol: r.string(m, "protocol", &at).unwrap_or_else(|| "tcp".into()),
            name: r.string(m, "name", &at),
            labels: r.string_map(m, "labels", &at).unwrap_or_default(),
        });
    }
    Some(out)
}

/// One local persistent volume (`{"containerPath", "mode": "RW", "persistent": {...}}`).
/// Drover builds Marathon's `root` volumes; the multi-disk types, `maxSize` (mount volumes
/// only in Marathon), `constraints` (not on root volumes in Marathon) and `profileName` (CSI
/// storage profiles) are refused by name.
fn read_persistent(
    r: &mut Reader,
    v: &Map<String, Value>,
    persistent: &Value,
    path: &str,
) -> Option<PersistentVolume> {
    let mut ok = true;
    for key in v.keys() {
        if !matches!(key.as_str(), "containerPath" | "mode" | "persistent") {
            r.error(
                &format!("{path}/{key}"),
                "not a field of a persistent volume (containerPath, mode, persistent)",
            );
            ok = false;
        }
    }
    let container_path = r.string(v, "containerPath", path);
    match r.string(v, "mode", path).as_deref() {
        None | Some("RW") => {}
        Some(_) => {
            r.error(
                &format!("{path}/mode"),
                "a persistent volume's mode must be RW",
            );
            ok = false;
        }
    }
    let size = read_persistent_info(r, persistent, &format!("{path}/persistent"));
    ok &= size.is_some();
    if container_path.is_none() && !v.contains_key("containerPath") {
        r.error(&format!("{path}/containerPath"), "error.path.missing");
    }
    Some(PersistentVolume {
        container_path: container_path?,
        size_mb: size?,
    })
    .filter(|_| ok)
}

/// The `persistent` object of an app's or a pod's volume: its size in MiB when it is one
/// Drover builds (type `root`), every other field or type refused by name at `at`. `None`
/// when anything was refused.
pub(crate) fn read_persistent_info(r: &mut Reader, persistent: &Value, at: &str) -> Option<u64> {
    let mut ok = true;
    let Some(p) = persistent.as_object() else {
        r.error(at, "error.expected.jsobject");
        return None;
    };
    for key in p.keys() {
        match key.as_str() {
            "type" | "size" => {}
            "maxSize" if p[key].is_null() => {}
            "maxSize" => {
                r.error(
                    &format!("{at}/maxSize"),
                    "maxSize is for mount volumes, which are not supported (only root)",
                );
                ok = false;
            }
            "constraints" if p[key].is_null() || p[key].as_array().is_some_and(Vec::is_empty) => {}
            "constraints" => {
                r.error(
                    &format!("{at}/constraints"),
                    "Constraints on root volumes are not supported",
                );
                ok = false;
            }
            "profileName" if p[key].is_null() => {}
            "profileName" => {
                r.error(
                    &format!("{at}/profileName"),
                    "storage profiles (CSI volumes) are not supported",
                );
                ok = false;
            }
            _ => {
                r.error(&format!("{at}/{key}"), "not a field of persistent");
                ok = false;
            }
        }
    }
    match r.string(p, "type", at).as_deref() {
        None | Some("root") => {}
        Some(other @ ("path" | "mount")) => {
            r.error(
                &format!("{at}/type"),
                format!("'{other}' disks (Mesos multiple disks) are not supported; use root"),
            );
            ok = false;
        }
        Some(other) => {
            r.error(
                &format!("{at}/type"),
                format!("'{other}' is not root, path or mount"),
            );
            ok = false;
        }
    }
    let size = r.count(p, "size", at, 1 << 40);
    if size.is_none() && !p.contains_key("size") {
        r.error(&format!("{at}/size"), "error.path.missing");
    }
    size.filter(|_| ok)
}

fn persistent_json(v: &PersistentVolume) -> Value {
    json!({
        "containerPath": v.container_path,
        "mode": "RW",
        "persistent": {"type": "root", "size": v.size_mb, "constraints": []},
    })
}

/// `residency` as Marathon 1.10 renders it for a resident app (its defaults: both fields are
/// deprecated there); `None` for any other app.
pub fn residency_json(app: &AppSpec) -> Option<Value> {
    app.is_resident().then(|| {
        json!({
            "relaunchEscalationTimeoutSeconds": super::app::RESIDENCY_TIMEOUT_SECONDS,
            "taskLostBehavior": "WAIT_FOREVER",
        })
    })
}

/// A task's `localVolumes`: the persistent volumes of its instance's reservation, as
/// Marathon's `LocalVolumeId` (run spec, container path, uuid and the persistence id).
pub fn local_volumes_json(i: &drover_core::marathon::instance::Instance) -> Value {
    let volumes = i.reservation.iter().flat_map(|r| r.volumes.iter());
    Value::Array(
        volumes
            .map(|v| {
                let uuid = v.persistence_id.rsplit('#').next().unwrap_or_default();
                json!({
                    "runSpecId": i.app_id.as_str(),
                    "containerPath": v.container_path,
                    "uuid": uuid,
                    "persistenceId": v.persistence_id,
                })
            })
            .collect(),
    )
}

fn volume_json(v: &Volume) -> Value {
    json!({
        "containerPath": v.container_path,
        "hostPath": v.host_path,
        "mode": if v.read_only { "RO" } else { "RW" },
    })
}

/// The app's `container` as Marathon 1.10 renders it; `None` without one.
pub fn container_json(app: &AppSpec) -> Option<Value> {
    let secret_volumes = app
        .secret_volumes
        .iter()
        .map(|(path, id)| json!({"containerPath": path, "secret": id}));
    match app.container.as_ref()? {
        AppContainer::Mesos => {
            let volumes: Vec<Value> = app
                .persistent_volumes
                .iter()
                .map(persistent_json)
                .chain(secret_volumes)
                .collect();
            Some(json!({"type": "MESOS", "volumes": volumes}))
        }
        AppContainer::MesosDocker(m) => {
            let volumes: Vec<Value> = m
                .volumes
                .iter()
                .map(volume_json)
                .chain(secret_volumes)
                .collect();
            // Marathon 1.10 shows a MESOS container's docker with the Docker-only keys at
            // their defaults.
            let mut docker = json!({
                "forcePullImage": m.force_pull_image,
                "image": m.image,
                "parameters": [],
                "privileged": false,
            });
            if let Some(id) = &m.pull_config {
                docker["pullConfig"] = json!({"secret": id});
            }
            Some(json!({"type": "MESOS", "docker": docker, "volumes": volumes}))
        }
        AppContainer::Docker(d) => {
            let parameters: Vec<Value> = d
                .parameters
                .iter()
                .map(|(k, v)| json!({"key": k, "value": v}))
                .collect();
            let volumes: Vec<Value> = d.volumes.iter().map(volume_json).collect();
            let mut out = json!({
                "type": "DOCKER",
                "docker": {
                    "forcePullImage": d.force_pull_image,
                    "image": d.image,
                    "parameters": parameters,
                    "privileged": d.privileged,
                },
                "volumes": volumes,
            });
            // Marathon 1.10 shows portMappings only off the host network.
            if d.network != Network::Host {
                let mappings: Vec<Value> = d.port_mappings.iter().map(mapping_json).collect();
                out["portMappings"] = Value::Array(mappings);
            }
            Some(out)
        }
    }
}

fn mapping_json(m: &PortMapping) -> Value {
    let mut out = Map::new();
    out.insert("containerPort".into(), json!(m.container_port));
    if let Some(host) = m.host_port {
        out.insert("hostPort".into(), json!(host));
    }
    out.insert("labels".into(), json!(m.labels));
    if let Some(name) = &m.name {
        out.insert("name".into(), json!(name));
    }
    out.insert("protocol".into(), json!(m.protocol));
    out.insert("servicePort".into(), json!(m.service_port));
    Value::Object(out)
}

/// The app's `networks` as Marathon 1.10 renders them.
pub fn networks_json(app: &AppSpec) -> Value {
    match app.docker().map(|d| &d.network) {
        Some(Network::Bridge) => json!([{"mode": "container/bridge"}]),
        Some(Network::User(name)) => json!([{"mode": "container", "name": name}]),
        _ => json!([{"mode": "host"}]),
    }
}
