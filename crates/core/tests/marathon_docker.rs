//! Docker apps in the scheduler core (issue 13 item 4): bridged port mappings take their host
//! ports from the offer (and fixed ones exactly), the TaskInfo carries the Docker
//! `ContainerInfo` with those ports, the `DiscoveryInfo` and Marathon's `PORT*` variables,
//! service ports are assigned to mappings, and an image change restarts the tasks.

use crate::marathon_support;

use std::collections::BTreeMap;

use drover_core::marathon::app::{AppSpec, HealthCheck, HealthProtocol};
use drover_core::marathon::container::{AppContainer, DockerContainer, Network, PortMapping};
use drover_core::marathon::path::PathId;
use drover_core::marathon::scheduler::Command;
use drover_core::task::TaskState;
use drover_wire::v1;
use marathon_support::{Harness, app};

fn mapping(container_port: u32, host_port: Option<u32>, name: Option<&str>) -> PortMapping {
    PortMapping {
        container_port,
        host_port,
        service_port: 0,
        protocol: "tcp".into(),
        name: name.map(str::to_owned),
        labels: BTreeMap::from([("VIP_0".to_owned(), "web:80".to_owned())]),
    }
}

fn bridged(id: &str, image: &str) -> AppSpec {
    let mut web = app(id, 1);
    web.port_definitions.clear();
    let mut docker = DockerContainer::new(image);
    docker.network = Network::Bridge;
    docker.port_mappings = vec![
        mapping(8080, Some(0), Some("http")),
        mapping(9090, Some(31_500), None),
    ];
    web.container = Some(AppContainer::Docker(Box::new(docker)));
    web
}

fn env(task: &v1::TaskInfo) -> BTreeMap<String, String> {
    task.command
        .as_ref()
        .and_then(|c| c.environment.as_ref())
        .map(|e| {
            e.variables
                .iter()
                .map(|v| (v.name.clone(), v.value.clone().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_bridged_app_launches_with_offered_host_ports_in_its_container_info() {
    let mut h = Harness::new();
    h.create(bridged("/web", "localhost:5000/web:1"));
    let service =
        h.s.app(&PathId::parse_app_id("/web").unwrap())
            .expect("app")
            .service_ports();
    assert_eq!(service, vec![10_000, 10_001], "mappings get service ports");

    let tasks = h.offer("agent-1");
    assert_eq!(tasks.len(), 1);
    let task = &tasks[0];
    let info = task.container.as_ref().expect("a container");
    assert_eq!(info.r#type, v1::container_info::Type::Docker as i32);
    let docker = info.docker.as_ref().expect("docker info");
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
    // The dynamic port is the offer's first free one that the fixed mapping does not name.
    assert_eq!(pairs, vec![(31_000, 8080), (31_500, 9090)]);

    // The task took exactly those host ports from the offer.
    let ports: Vec<(u64, u64)> = task
        .resources
        .iter()
        .filter(|r| r.name == "ports")
        .flat_map(|r| r.ranges.iter().flat_map(|r| r.range.iter()))
        .map(|r| (r.begin, r.end))
        .collect();
    assert_eq!(ports, vec![(31_000, 31_000), (31_500, 31_500)]);

    // Marathon's variables for bridged apps: host ports by index, name and container port.
    let env = env(task);
    assert_eq!(env["PORT0"], "31000");
    assert_eq!(env["PORT1"], "31500");
    assert_eq!(env["PORT_HTTP"], "31000");
    assert_eq!(env["PORT_8080"], "31000");
    assert_eq!(env["PORT_9090"], "31500");
    assert_eq!(env["PORTS"], "31000,31500");

    // Discovery carries the host ports with names and labels.
    let discovery = task.discovery.as_ref().expect("discovery");
    let ports = &discovery.ports.as_ref().expect("ports").ports;
    assert_eq!(ports[0].number, 31_000);
    assert_eq!(ports[0].name.as_deref(), Some("http"));
    assert_eq!(
        ports[0].labels.as_ref().expect("labels").labels[0].key,
        "VIP_0"
    );

    // No cmd on a Docker app would mean the image's entrypoint; this one has one.
    let command = task.command.as_ref().expect("command");
    assert_eq!(command.value.as_deref(), Some("sleep 1000"));

    // The instance's host ports are the task's `ports`.
    let instance = &h.instances("/web")[0];
    assert_eq!(
        instance.placement.as_ref().expect("placed").host_ports,
        vec![31_000, 31_500]
    );
}

#[test]
fn an_offer_without_the_fixed_host_port_is_declined() {
    let mut h = Harness::new();
    let mut web = bridged("/web", "nginx");
    if let Some(AppContainer::Docker(d)) = &mut web.container {
        d.port_mappings[1].host_port = Some(40_000);
    }
    h.create(web);
    assert!(h.offer("agent-1").is_empty(), "31000-32000 has no 40000");
}

#[test]
fn a_docker_app_without_cmd_runs_the_entrypoint_with_its_args() {
    let mut h = Harness::new();
    let mut web = bridged("/web", "nginx");
    web.cmd = None;
    web.args = vec!["-g".into(), "daemon off;".into()];
    h.create(web);
    let task = h.offer("agent-1").remove(0);
    let command = task.command.expect("command");
    assert_eq!(command.value, None);
    assert_eq!(command.shell, Some(false));
    assert_eq!(command.arguments, vec!["-g", "daemon off;"]);
}

#[test]
fn mesos_checks_of_a_bridged_task_probe_the_container_port() {
    let mut h = Harness::new();
    let mut web = bridged("/web", "nginx");
    let mut check = HealthCheck::new(HealthProtocol::MesosHttp);
    check.port_index = Some(0);
    let mut marathon_check = HealthCheck::new(HealthProtocol::Http);
    marathon_check.port_index = Some(0);
    web.health_checks = vec![check];
    h.create(web);
    let task = h.offer("agent-1").remove(0);
    let http = task.health_check.expect("check").http.expect("http");
    assert_eq!(
        http.port, 8080,
        "Mesos probes inside the container's network"
    );

    let mut other = bridged("/other", "nginx");
    other.health_checks = vec![marathon_check];
    h.create(other);
    let task = h.offer("agent-2").remove(0);
    let http = task.health_check.expect("check").http.expect("http");
    assert_eq!(
        http.port, 31_000,
        "Marathon's own checks probe the host port"
    );
}

#[test]
fn an_image_change_restarts_the_tasks() {
    let mut h = Harness::new();
    h.create(bridged("/web", "nginx:1"));
    let old = h.run_all("agent-1");
    assert_eq!(old.len(), 1);
    h.command(Command::PutApp {
        app: bridged("/web", "nginx:2"),
        force: false,
    });
    // The new version launches on the next offer and the old task is killed once it runs.
    let tasks = h.offer("agent-2");
    assert_eq!(tasks.len(), 1, "a replacement task");
    let docker = tasks[0]
        .container
        .as_ref()
        .and_then(|c| c.docker.as_ref())
        .expect("docker");
    assert_eq!(docker.image, "nginx:2");
    let effects = h.update(&tasks[0].task_id.value, TaskState::TaskRunning);
    let killed = marathon_support::kills(&effects);
    assert_eq!(killed, old, "the old image's task is killed");
}

#[test]
fn a_scale_only_change_keeps_the_tasks() {
    let a = bridged("/web", "nginx:1");
    let mut b = a.clone();
    b.instances = 3;
    assert!(!a.is_upgrade_to(&b));
    let mut h = Harness::new();
    h.create(a);
    let old = h.run_all("agent-1");
    h.command(Command::PutApp {
        app: b,
        force: false,
    });
    // The fixed host port 31500 fits once per offer: one new instance per agent.
    let mut tasks = h.offer("agent-2");
    assert_eq!(tasks.len(), 1, "one offer holds host port 31500 once");
    tasks.extend(h.offer("agent-3"));
    assert_eq!(tasks.len(), 2, "two more instances");
    for task in &tasks {
        let effects = h.update(&task.task_id.value, TaskState::TaskRunning);
        assert!(marathon_support::kills(&effects).is_empty());
    }
    assert!(
        h.instances("/web")
            .iter()
            .any(|i| old.contains(&i.task_id()))
    );
}

#[test]
fn checks_on_a_named_network_address_every_mapping() {
    let mut h = Harness::new();
    let mut web = app("/overlay", 1);
    web.port_definitions.clear();
    let mut docker = DockerContainer::new("nginx");
    docker.network = Network::User("overlay".into());
    // Only the second mapping is published on the host.
    docker.port_mappings = vec![mapping(9000, None, None), mapping(8080, Some(0), None)];
    web.container = Some(AppContainer::Docker(Box::new(docker)));
    let mut check = HealthCheck::new(HealthProtocol::MesosTcp);
    check.port_index = Some(0);
    web.health_checks = vec![check];
    h.create(web);
    let task = h.offer("agent-1").remove(0);
    let tcp = task.health_check.clone().expect("check").tcp.expect("tcp");
    assert_eq!(tcp.port, 9000, "the unpublished mapping's container port");
    let env = env(&task);
    assert_eq!(
        env["PORT0"], "31000",
        "task ports are the published mappings"
    );
    assert_eq!(env["PORT_8080"], "31000");

    let mut bad = app("/bad", 1);
    bad.port_definitions.clear();
    let mut docker = DockerContainer::new("nginx");
    docker.network = Network::Bridge;
    docker.port_mappings = vec![mapping(80, Some(0), None)];
    bad.container = Some(AppContainer::Docker(Box::new(docker)));
    let mut check = HealthCheck::new(HealthProtocol::MesosHttp);
    check.port_index = Some(1);
    bad.health_checks = vec![check];
    let problems = drover_core::marathon::app::validate(&bad);
    assert_eq!(problems[0].path, "/healthChecks(0)", "{problems:?}");
}
