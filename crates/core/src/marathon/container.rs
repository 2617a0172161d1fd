//! Marathon's `container` of an app, typed: DOCKER (the agent's Docker containerizer), MESOS
//! without an image (the agent's own isolation in the host's filesystem) or MESOS with a Docker
//! image (Marathon's `MesosDocker`: the agent provisions the image's root filesystem). Its
//! validation (each problem a 422 naming the field) and its translation into the Mesos
//! `ContainerInfo` a task carries, once the offer has given the host ports. The JSON spellings
//! (current `networks` + `container.portMappings` and Marathon 1.4's `docker.network` +
//! `docker.portMappings`) are read by the API into this model.

use std::collections::BTreeMap;

use drover_wire::v1;

use super::app::Violation;
use crate::agent::docker::{host_path_problem, image_problem, parameter_problem};

/// An app's `container`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppContainer {
    /// `type: DOCKER`: run by the agent's Docker containerizer.
    Docker(Box<DockerContainer>),
    /// `type: MESOS` without an image: the agent's own isolation on the host network, the same
    /// as no container; kept so the definition round-trips as the client wrote it.
    Mesos,
    /// `type: MESOS` with `docker.image`: the Mesos containerizer runs the task in the image's
    /// root filesystem, on the host network.
    MesosDocker(Box<MesosDockerContainer>),
}

impl AppContainer {
    /// The `ContainerInfo` of a task whose host ports are `host_ports` (the task's `ports`,
    /// one per published mapping); `None` when too few ports are given.
    pub fn container_info(&self, host_ports: &[u32]) -> Option<v1::ContainerInfo> {
        match self {
            AppContainer::Mesos => Some(v1::ContainerInfo {
                r#type: v1::container_info::Type::Mesos as i32,
                ..Default::default()
            }),
            // On the host network the task's ports are the offer's: nothing to map.
            AppContainer::MesosDocker(mesos) => Some(mesos.container_info()),
            AppContainer::Docker(docker) => {
                let dynamic: Vec<u32> = docker
                    .port_mappings
                    .iter()
                    .filter_map(|m| m.host_port)
                    .zip(host_ports)
                    .filter(|(asked, _)| *asked == 0)
                    .map(|(_, given)| *given)
                    .collect();
                docker.container_info(&dynamic)
            }
        }
    }

    /// Every problem of the container's own rules, each at the JSON path Marathon would name.
    pub fn validate(&self) -> Vec<Violation> {
        match self {
            AppContainer::Docker(docker) => docker.validate(),
            AppContainer::Mesos => Vec::new(),
            AppContainer::MesosDocker(mesos) => mesos.validate(),
        }
    }

    /// Whether the task runs an image, whose entrypoint runs when the app gives no `cmd`.
    pub fn runs_image(&self) -> bool {
        !matches!(self, AppContainer::Mesos)
    }

    /// Whether the Mesos containerizer runs the task (`type: MESOS`, with or without an image).
    pub fn is_mesos(&self) -> bool {
        !matches!(self, AppContainer::Docker(_))
    }
}

/// How the app's tasks are networked (Marathon's `networks`, or legacy `docker.network`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Network {
    /// `mode: host` / `HOST`: the agent's network; ports come from the offer directly.
    Host,
    /// `mode: container/bridge` / `BRIDGE`: docker's bridge, host ports mapped to the container.
    Bridge,
    /// Legacy `NONE`: a loopback-only container.
    None,
    /// `mode: container` with `name` / `USER`: a named docker network.
    User(String),
}

/// One `portMappings` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortMapping {
    /// Port inside the container; 0 = the same as the host port (Marathon's rule).
    pub container_port: u32,
    /// Host port: `Some(0)` = any port from the offer, `Some(p)` = exactly `p`, `None` = not
    /// published on the host (allowed only on a named network).
    pub host_port: Option<u32>,
    /// Service port (0 = assigned by Marathon).
    pub service_port: u32,
    /// `tcp`, `udp` or `udp,tcp`.
    pub protocol: String,
    /// Name, for service discovery.
    pub name: Option<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
}

/// One `volumes` entry (host-path volumes only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    /// Where the volume appears inside the container.
    pub container_path: String,
    /// The host directory or file mounted there.
    pub host_path: String,
    /// `mode: RO`.
    pub read_only: bool,
}

/// An app's `container` of type DOCKER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerContainer {
    /// `docker.image`.
    pub image: String,
    /// `docker.forcePullImage`.
    pub force_pull_image: bool,
    /// `docker.privileged`.
    pub privileged: bool,
    /// `docker.parameters` as (key, value), in order (docker options may repeat).
    pub parameters: Vec<(String, String)>,
    /// The network mode.
    pub network: Network,
    /// `portMappings`.
    pub port_mappings: Vec<PortMapping>,
    /// `volumes`.
    pub volumes: Vec<Volume>,
}

/// An app's `container` of type MESOS with a Docker image (Marathon's `MesosDocker`): the agent
/// pulls the image from its registry into a root filesystem and runs the task there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MesosDockerContainer {
    /// `docker.image`.
    pub image: String,
    /// `docker.forcePullImage`: pull even when the agent has the image (Mesos' `cached: false`).
    pub force_pull_image: bool,
    /// `docker.pullConfig.secret`: the id of one of the app's `secrets`, whose value is a
    /// Docker `config.json` with the registry's credentials.
    pub pull_config: Option<String>,
    /// `volumes` (host paths): an absolute container path is inside the image's root
    /// filesystem, a relative one inside the task's sandbox.
    pub volumes: Vec<Volume>,
}

impl MesosDockerContainer {
    /// A container of `image` with nothing else set.
    pub fn new(image: impl Into<String>) -> Self {
        MesosDockerContainer {
            image: image.into(),
            force_pull_image: false,
            pull_config: None,
            volumes: Vec::new(),
        }
    }

    /// Every problem, each at the JSON path Marathon would name.
    pub fn validate(&self) -> Vec<Violation> {
        let mut problems = Vec::new();
        let mut push = |path: String, message: String| problems.push(Violation::new(path, message));
        // The agent fetches the image from a Docker registry: the same grammar as Docker's.
        if let Some(why) = image_problem(&self.image) {
            push("/container/docker/image".into(), why);
        }
        let mut paths = std::collections::BTreeSet::new();
        for (i, volume) in self.volumes.iter().enumerate() {
            let at = |field: &str| format!("/container/volumes/{i}/{field}");
            let path = std::path::Path::new(&volume.container_path);
            if volume.container_path.is_empty() {
                push(at("containerPath"), "must not be empty".into());
            } else if path
                .components()
                .any(|c| c == std::path::Component::ParentDir)
            {
                // A relative path must stay in the sandbox, an absolute one in the image.
                push(at("containerPath"), "must not contain '..'".into());
            } else if path.components().all(|c| {
                matches!(
                    c,
                    std::path::Component::RootDir | std::path::Component::CurDir
                )
            }) {
                push(
                    at("containerPath"),
                    "cannot mount over the image's root or the sandbox".into(),
                );
            } else if !paths.insert(volume.container_path.trim_end_matches('/')) {
                push(
                    at("containerPath"),
                    format!("'{}' is mounted twice", volume.container_path),
                );
            }
            if let Some(why) = host_path_problem(&volume.host_path) {
                push(at("hostPath"), why);
            }
        }
        problems
    }

    /// The Mesos `ContainerInfo`: type MESOS with the image (`cached` unless
    /// `forcePullImage`) and the host-path volumes. The pull secret is resolved by the caller,
    /// which knows the app's `secrets`.
    pub fn container_info(&self) -> v1::ContainerInfo {
        v1::ContainerInfo {
            r#type: v1::container_info::Type::Mesos as i32,
            mesos: Some(v1::container_info::MesosInfo {
                image: Some(docker_image(&self.image, self.force_pull_image, None)),
            }),
            volumes: self.volumes.iter().map(host_volume).collect(),
            ..Default::default()
        }
    }
}

/// A Docker image for the Mesos containerizer: `cached: false` makes the agent pull it again;
/// `config` is the registry credentials' secret.
pub fn docker_image(name: &str, force_pull: bool, config: Option<v1::Secret>) -> v1::Image {
    v1::Image {
        r#type: v1::image::Type::Docker as i32,
        appc: None,
        docker: Some(v1::image::Docker {
            name: name.to_owned(),
            config,
            // `credential` is deprecated in Mesos: credentials come from `config`.
            ..Default::default()
        }),
        cached: Some(!force_pull),
    }
}

fn host_volume(volume: &Volume) -> v1::Volume {
    v1::Volume {
        mode: if volume.read_only {
            v1::volume::Mode::Ro
        } else {
            v1::volume::Mode::Rw
        } as i32,
        container_path: volume.container_path.clone(),
        host_path: Some(volume.host_path.clone()),
        ..Default::default()
    }
}

/// Highest TCP/UDP port.
const PORT_MAX: u32 = 65_535;

impl DockerContainer {
    /// A container of `image` on the bridge network with nothing else set.
    pub fn new(image: impl Into<String>) -> Self {
        DockerContainer {
            image: image.into(),
            force_pull_image: false,
            privileged: false,
            parameters: Vec::new(),
            network: Network::Bridge,
            port_mappings: Vec::new(),
            volumes: Vec::new(),
        }
    }

    /// Every problem, each at the JSON path Marathon would name.
    pub fn validate(&self) -> Vec<Violation> {
        let mut problems = Vec::new();
        let mut push = |path: String, message: String| problems.push(Violation::new(path, message));
        if let Some(why) = image_problem(&self.image) {
            push("/container/docker/image".into(), why);
        }
        if let Network::User(name) = &self.network
            && name.is_empty()
        {
            push(
                "/networks/0/name".into(),
                "a container network needs a name".into(),
            );
        }
        if self.network == Network::Host && !self.port_mappings.is_empty() {
            push(
                "/container/portMappings".into(),
                "portMappings are not allowed with host networking; use portDefinitions".into(),
            );
        }
        let mut names = std::collections::BTreeSet::new();
        let mut fixed_host_ports = std::collections::BTreeSet::new();
        for (i, mapping) in self.port_mappings.iter().enumerate() {
            let at = |field: &str| format!("/container/portMappings/{i}/{field}");
            if mapping.container_port > PORT_MAX {
                push(at("containerPort"), format!("must be 0 to {PORT_MAX}"));
            }
            match mapping.host_port {
                Some(port) if port > PORT_MAX => {
                    push(at("hostPort"), format!("must be 0 to {PORT_MAX}"))
                }
                Some(port) if port != 0 && !fixed_host_ports.insert(port) => {
                    push(at("hostPort"), format!("host port {port} is mapped twice"))
                }
                None if self.network == Network::Bridge => push(
                    at("hostPort"),
                    "bridge networking publishes every mapping on the host; give hostPort \
                     (0 = any)"
                        .into(),
                ),
                _ => {}
            }
            if mapping.service_port > PORT_MAX {
                push(at("servicePort"), format!("must be 0 to {PORT_MAX}"));
            }
            if !matches!(
                mapping.protocol.as_str(),
                "tcp" | "udp" | "udp,tcp" | "tcp,udp"
            ) {
                push(
                    at("protocol"),
                    format!("'{}' is not tcp, udp or udp,tcp", mapping.protocol),
                );
            }
            if let Some(name) = &mapping.name
                && !names.insert(name.as_str())
            {
                push(at("name"), format!("port name '{name}' is used twice"));
            }
        }
        let mut paths = std::collections::BTreeSet::new();
        for (i, volume) in self.volumes.iter().enumerate() {
            let at = |field: &str| format!("/container/volumes/{i}/{field}");
            if !volume.container_path.starts_with('/') {
                // Mesos' Docker containerizer only mounts at absolute container paths.
                push(at("containerPath"), "must be an absolute path".into());
            } else if !paths.insert(volume.container_path.as_str()) {
                push(
                    at("containerPath"),
                    format!("'{}' is mounted twice", volume.container_path),
                );
            }
            if let Some(why) = host_path_problem(&volume.host_path) {
                push(at("hostPath"), why);
            }
        }
        for (i, (key, value)) in self.parameters.iter().enumerate() {
            // Marathon cannot know an agent's --docker_allow_escaping_parameters, so it refuses
            // what any agent would refuse by default rather than accept a task that never runs.
            if let Some(why) = parameter_problem(key, value, false) {
                push(format!("/container/docker/parameters/{i}/key"), why);
            }
        }
        problems
    }

    /// How many host ports an offer must supply: one per mapping with `hostPort: 0`; fixed host
    /// ports are asked for by value ([`Self::fixed_host_ports`]).
    pub fn dynamic_host_ports(&self) -> usize {
        self.port_mappings
            .iter()
            .filter(|m| m.host_port == Some(0))
            .count()
    }

    /// The exact host ports the mappings ask for.
    pub fn fixed_host_ports(&self) -> Vec<u32> {
        self.port_mappings
            .iter()
            .filter_map(|m| m.host_port.filter(|p| *p != 0))
            .collect()
    }

    /// The host port of each published mapping, in order, with each `hostPort: 0` taken from
    /// `offered` in turn; `None` when `offered` is short. This is the task's `ports`.
    pub fn host_ports(&self, offered: &[u32]) -> Option<Vec<u32>> {
        let mut offered = offered.iter();
        self.port_mappings
            .iter()
            .filter_map(|m| m.host_port)
            .map(|port| {
                if port == 0 {
                    offered.next().copied()
                } else {
                    Some(port)
                }
            })
            .collect()
    }

    /// The Mesos `ContainerInfo` for a task whose dynamic host ports are `offered` (as for
    /// [`Self::host_ports`]); `None` when `offered` is short.
    pub fn container_info(&self, offered: &[u32]) -> Option<v1::ContainerInfo> {
        use v1::container_info::docker_info;
        let mut offered = offered.iter();
        let mut port_mappings = Vec::new();
        let mut network_mappings = Vec::new();
        for mapping in &self.port_mappings {
            let Some(host_port) = mapping.host_port else {
                continue;
            };
            let host_port = if host_port == 0 {
                *offered.next()?
            } else {
                host_port
            };
            // Marathon's rule: containerPort 0 means "the same as the host port".
            let container_port = if mapping.container_port == 0 {
                host_port
            } else {
                mapping.container_port
            };
            // Mesos maps one protocol per entry; `udp,tcp` becomes two.
            for protocol in mapping.protocol.split(',') {
                port_mappings.push(docker_info::PortMapping {
                    host_port,
                    container_port,
                    protocol: Some(protocol.to_string()),
                });
                network_mappings.push(v1::network_info::PortMapping {
                    host_port,
                    container_port,
                    protocol: Some(protocol.to_string()),
                });
            }
        }
        let (network, network_infos) = match &self.network {
            Network::Host => (docker_info::Network::Host, Vec::new()),
            Network::Bridge => (docker_info::Network::Bridge, Vec::new()),
            Network::None => (docker_info::Network::None, Vec::new()),
            Network::User(name) => (
                docker_info::Network::User,
                vec![v1::NetworkInfo {
                    name: Some(name.clone()),
                    port_mappings: network_mappings,
                    ..Default::default()
                }],
            ),
        };
        // On a named network the mappings travel in NetworkInfo, as Marathon sent them.
        if network == docker_info::Network::User {
            port_mappings.clear();
        }
        Some(v1::ContainerInfo {
            r#type: v1::container_info::Type::Docker as i32,
            docker: Some(v1::container_info::DockerInfo {
                image: self.image.clone(),
                network: Some(network as i32),
                port_mappings,
                privileged: Some(self.privileged),
                parameters: self
                    .parameters
                    .iter()
                    .map(|(key, value)| v1::Parameter {
                        key: key.trim_start_matches('-').to_string(),
                        value: value.clone(),
                    })
                    .collect(),
                force_pull_image: Some(self.force_pull_image),
                ..Default::default()
            }),
            volumes: self.volumes.iter().map(host_volume).collect(),
            network_infos,
            ..Default::default()
        })
    }
}

/// Marathon's `networks[].mode` (and legacy `docker.network`) spelled as the API receives it,
/// with the network's `name`; an unknown mode is a 422 at `path`.
pub fn network_from_mode(mode: &str, name: Option<&str>, path: &str) -> Result<Network, Violation> {
    match (mode, name) {
        ("host" | "HOST", _) => Ok(Network::Host),
        ("container/bridge" | "BRIDGE", _) => Ok(Network::Bridge),
        ("NONE", _) => Ok(Network::None),
        ("container" | "USER", Some(name)) if !name.is_empty() => {
            Ok(Network::User(name.to_string()))
        }
        ("container" | "USER", _) => Err(Violation::new(
            path,
            "a container network needs a name (drover has no default network)",
        )),
        (other, _) => Err(Violation::new(
            path,
            format!("unknown network mode '{other}'; expected host, container/bridge or container"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(container_port: u32, host_port: Option<u32>) -> PortMapping {
        PortMapping {
            container_port,
            host_port,
            service_port: 0,
            protocol: "tcp".into(),
            name: None,
            labels: BTreeMap::new(),
        }
    }

    fn web() -> DockerContainer {
        let mut app = DockerContainer::new("localhost:5000/web:1");
        app.port_mappings = vec![mapping(80, Some(0)), mapping(0, Some(31_005))];
        app.volumes = vec![Volume {
            container_path: "/data".into(),
            host_path: "/srv/data".into(),
            read_only: true,
        }];
        app.parameters = vec![("--label".into(), "team=a".into())];
        app.force_pull_image = true;
        app
    }

    #[test]
    fn a_bridged_app_becomes_a_docker_container_info_with_the_offered_ports() {
        let app = web();
        assert!(app.validate().is_empty(), "{:?}", app.validate());
        assert_eq!(app.dynamic_host_ports(), 1);
        assert_eq!(app.fixed_host_ports(), vec![31_005]);
        assert_eq!(app.host_ports(&[31_001]), Some(vec![31_001, 31_005]));
        assert_eq!(app.host_ports(&[]), None);

        let info = app.container_info(&[31_001]).unwrap();
        assert_eq!(info.r#type, v1::container_info::Type::Docker as i32);
        let docker = info.docker.unwrap();
        assert_eq!(docker.image, "localhost:5000/web:1");
        assert_eq!(
            docker.network,
            Some(v1::container_info::docker_info::Network::Bridge as i32)
        );
        let pairs: Vec<(u32, u32)> = docker
            .port_mappings
            .iter()
            .map(|m| (m.host_port, m.container_port))
            .collect();
        // containerPort 0 takes the host port's value.
        assert_eq!(pairs, vec![(31_001, 80), (31_005, 31_005)]);
        assert_eq!(docker.force_pull_image, Some(true));
        assert_eq!(docker.parameters[0].key, "label");
        assert_eq!(info.volumes[0].mode, v1::volume::Mode::Ro as i32);
        assert_eq!(info.volumes[0].host_path.as_deref(), Some("/srv/data"));
        assert!(app.container_info(&[]).is_none());
    }

    #[test]
    fn udp_and_tcp_map_twice_and_named_networks_carry_mappings_in_network_info() {
        let mut app = DockerContainer::new("busybox");
        let mut both = mapping(53, Some(0));
        both.protocol = "udp,tcp".into();
        app.port_mappings = vec![both, mapping(9000, None)];
        app.network = Network::User("overlay-a".into());
        assert!(app.validate().is_empty(), "{:?}", app.validate());
        let info = app.container_info(&[31_053]).unwrap();
        assert!(info.docker.as_ref().unwrap().port_mappings.is_empty());
        assert_eq!(info.network_infos.len(), 1);
        let net = &info.network_infos[0];
        assert_eq!(net.name.as_deref(), Some("overlay-a"));
        let protocols: Vec<_> = net
            .port_mappings
            .iter()
            .map(|m| (m.host_port, m.protocol.clone().unwrap()))
            .collect();
        assert_eq!(
            protocols,
            vec![(31_053, "udp".to_string()), (31_053, "tcp".to_string())]
        );
        // The unpublished mapping is not among the task's ports.
        assert_eq!(app.host_ports(&[31_053]), Some(vec![31_053]));
    }

    #[test]
    fn each_bad_field_is_named() {
        let mut app = web();
        app.image = "Not An Image".into();
        app.port_mappings.push(mapping(70_000, None));
        app.port_mappings.push(mapping(81, Some(31_005)));
        app.port_mappings[0].protocol = "sctp".into();
        app.volumes.push(Volume {
            container_path: "rel".into(),
            host_path: "data".into(),
            read_only: false,
        });
        let paths: Vec<String> = app.validate().into_iter().map(|v| v.path).collect();
        for expected in [
            "/container/docker/image",
            "/container/portMappings/0/protocol",
            "/container/portMappings/2/containerPort",
            "/container/portMappings/2/hostPort",
            "/container/portMappings/3/hostPort",
            "/container/volumes/1/containerPath",
            "/container/volumes/1/hostPath",
        ] {
            assert!(
                paths.iter().any(|p| p == expected),
                "{expected} not in {paths:?}"
            );
        }

        let mut host = DockerContainer::new("busybox");
        host.network = Network::Host;
        host.port_mappings.push(mapping(80, Some(0)));
        assert_eq!(host.validate()[0].path, "/container/portMappings");
    }

    #[test]
    fn what_marathon_accepts_the_agents_checks_accept_too() {
        // A valid app must never turn into a request every agent refuses.
        let info = web().container_info(&[31_001]).unwrap();
        assert_eq!(crate::agent::docker::request_problem(&info, false), None);
        let mut named = web();
        named.network = Network::User("a".into());
        let info = named.container_info(&[31_001]).unwrap();
        assert_eq!(crate::agent::docker::request_problem(&info, false), None);
    }

    fn ucr() -> MesosDockerContainer {
        let mut app = MesosDockerContainer::new("busybox:1");
        app.volumes = vec![
            Volume {
                container_path: "/etc/app".into(),
                host_path: "/srv/app".into(),
                read_only: true,
            },
            Volume {
                container_path: "cache".into(),
                host_path: "/var/cache/app".into(),
                read_only: false,
            },
        ];
        app
    }

    #[test]
    fn a_mesos_container_with_an_image_carries_it_and_its_volumes() {
        let mut app = ucr();
        assert!(app.validate().is_empty(), "{:?}", app.validate());
        for (force_pull, cached) in [(false, true), (true, false)] {
            app.force_pull_image = force_pull;
            let container = AppContainer::MesosDocker(Box::new(app.clone()));
            assert!(container.runs_image() && container.is_mesos());
            // On the host network: no ports to map, whatever the offer gave.
            let info = container.container_info(&[31_000]).unwrap();
            assert_eq!(info.r#type, v1::container_info::Type::Mesos as i32);
            assert!(info.docker.is_none() && info.network_infos.is_empty());
            let image = info.mesos.unwrap().image.unwrap();
            assert_eq!(image.r#type, v1::image::Type::Docker as i32);
            assert_eq!(image.docker.as_ref().unwrap().name, "busybox:1");
            assert_eq!(image.docker.unwrap().config, None);
            assert_eq!(image.cached, Some(cached), "forcePullImage {force_pull}");
            let volumes: Vec<(&str, Option<&str>, i32)> = info
                .volumes
                .iter()
                .map(|v| (v.container_path.as_str(), v.host_path.as_deref(), v.mode))
                .collect();
            assert_eq!(
                volumes,
                vec![
                    ("/etc/app", Some("/srv/app"), v1::volume::Mode::Ro as i32),
                    ("cache", Some("/var/cache/app"), v1::volume::Mode::Rw as i32),
                ]
            );
        }
        // Without an image nothing changes: a plain MESOS container.
        let plain = AppContainer::Mesos.container_info(&[]).unwrap();
        assert!(plain.mesos.is_none() && plain.volumes.is_empty());
        assert!(!AppContainer::Mesos.runs_image() && AppContainer::Mesos.is_mesos());
    }

    #[test]
    fn a_mesos_containers_bad_image_and_volumes_are_named() {
        let mut app = ucr();
        app.image = "Not An Image".into();
        for (container_path, host_path) in [
            ("../out", "/srv/a"),
            ("/", "/srv/b"),
            (".", "/srv/c"),
            ("", "/srv/d"),
            ("/etc/app/", "/srv/e"),
            ("/data", "relative"),
        ] {
            app.volumes.push(Volume {
                container_path: container_path.into(),
                host_path: host_path.into(),
                read_only: false,
            });
        }
        let paths: Vec<String> = AppContainer::MesosDocker(Box::new(app))
            .validate()
            .into_iter()
            .map(|v| v.path)
            .collect();
        assert_eq!(
            paths,
            [
                "/container/docker/image",
                "/container/volumes/2/containerPath",
                "/container/volumes/3/containerPath",
                "/container/volumes/4/containerPath",
                "/container/volumes/5/containerPath",
                "/container/volumes/6/containerPath",
                "/container/volumes/7/hostPath",
            ]
        );
    }

    #[test]
    fn network_modes_of_both_api_generations_parse() {
        assert_eq!(
            network_from_mode("host", None, "/n").unwrap(),
            Network::Host
        );
        assert_eq!(
            network_from_mode("BRIDGE", None, "/n").unwrap(),
            Network::Bridge
        );
        assert_eq!(
            network_from_mode("container/bridge", None, "/n").unwrap(),
            Network::Bridge
        );
        assert_eq!(
            network_from_mode("container", Some("a"), "/n").unwrap(),
            Network::User("a".into())
        );
        assert_eq!(
            network_from_mode("container", None, "/n").unwrap_err().path,
            "/n"
        );
        assert!(
            network_from_mode("weird", None, "/n")
                .unwrap_err()
                .message
                .contains("weird")
        );
    }
}
