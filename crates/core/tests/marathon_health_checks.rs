//! The Mesos `HealthCheck` Drover's Marathon puts into a TaskInfo, field by field against what
//! Marathon 1.10's `MesosHealthCheck.toMesos` (and its own HTTP/TCP checker's timing) does.

use crate::marathon_support;

use drover_core::marathon::app::{AppSpec, HealthCheck, HealthProtocol};
use drover_core::marathon::event::Event;
use drover_core::marathon::offer::task_info;
use drover_core::marathon::path::PathId;
use drover_core::marathon::scheduler::{Effect, Input};
use drover_core::task::TaskState;
use drover_wire::v1;

fn app_with(check: HealthCheck) -> AppSpec {
    let mut app = AppSpec::new(PathId::parse("/web", &PathId::root()).expect("valid id"));
    app.health_checks = vec![check];
    app
}

fn built(check: HealthCheck, host_ports: &[u32]) -> Option<v1::HealthCheck> {
    task_info(&app_with(check), "t", "a", "h", Vec::new(), host_ports).health_check
}

/// Marathon's own HTTP/TCP checks probe first after min(interval, 5 s), whatever
/// `delaySeconds` says; Drover's executor-run equivalent must not wait the proto's 15 s.
#[test]
fn marathon_http_and_tcp_checks_start_after_min_interval_and_five_seconds() {
    for protocol in [
        HealthProtocol::Http,
        HealthProtocol::Https,
        HealthProtocol::Tcp,
    ] {
        let check = built(HealthCheck::new(protocol), &[31000]).expect("a check");
        assert_eq!(check.delay_seconds, Some(5.0), "{protocol:?}");
        let mut short = HealthCheck::new(protocol);
        short.interval_seconds = 2;
        let check = built(short, &[31000]).expect("a check");
        assert_eq!(check.delay_seconds, Some(2.0), "{protocol:?}");
    }
}

/// `MESOS_*` and `COMMAND` checks carry the app's `delaySeconds` (default 15) as Marathon
/// sets it, and every timing field as given.
#[test]
fn mesos_checks_carry_every_field_as_marathon_sets_it() {
    let mut hc = HealthCheck::new(HealthProtocol::MesosHttp);
    hc.delay_seconds = 0;
    hc.interval_seconds = 3;
    hc.timeout_seconds = 2;
    hc.grace_period_seconds = 7;
    hc.max_consecutive_failures = 4;
    let check = built(hc, &[31001]).expect("a check");
    assert_eq!(check.delay_seconds, Some(0.0));
    assert_eq!(check.interval_seconds, Some(3.0));
    assert_eq!(check.timeout_seconds, Some(2.0));
    assert_eq!(check.grace_period_seconds, Some(7.0));
    assert_eq!(check.consecutive_failures, Some(4));
    assert_eq!(check.r#type, Some(v1::health_check::Type::Http as i32));
    let http = check.http.expect("http info");
    assert_eq!(http.port, 31001);
    assert_eq!(http.scheme.as_deref(), Some("http"));
    assert_eq!(http.protocol, Some(v1::network_info::Protocol::IPv4 as i32));
    assert_eq!(
        http.path, None,
        "Marathon sets a path only when the app has one"
    );

    let check = built(HealthCheck::new(HealthProtocol::MesosTcp), &[31002]).expect("a check");
    assert_eq!(check.delay_seconds, Some(15.0));
    let tcp = check.tcp.expect("tcp info");
    assert_eq!(tcp.port, 31002);
    assert_eq!(tcp.protocol, Some(v1::network_info::Protocol::IPv4 as i32));

    let mut cmd = HealthCheck::new(HealthProtocol::Command);
    cmd.command = Some("true".into());
    cmd.delay_seconds = 1;
    let check = built(cmd, &[]).expect("a command check needs no port");
    assert_eq!(check.delay_seconds, Some(1.0));
    let command = check.command.expect("command info");
    assert_eq!(command.value.as_deref(), Some("true"));
    assert_eq!(command.shell, Some(true));
}

/// A check whose port index names no host port: Marathon builds no Mesos check rather than
/// one probing port 0.
#[test]
fn a_check_without_a_port_is_not_built() {
    let mut hc = HealthCheck::new(HealthProtocol::MesosHttp);
    hc.port_index = Some(3);
    assert!(built(hc, &[31000]).is_none());
}

/// A health flip reported by the executor is published per check
/// (`health_status_changed_event`) and for the instance (`instance_health_changed_event`).
#[test]
fn a_health_flip_publishes_the_instance_level_event() {
    let mut h = marathon_support::Harness::new();
    let mut app = marathon_support::app("/web", 1);
    app.health_checks = vec![HealthCheck::new(HealthProtocol::MesosHttp)];
    h.create(app);
    let tasks = h.offer("agent-1");
    let task = tasks[0].task_id.value.clone();
    h.update(&task, TaskState::TaskRunning);
    for (healthy, expected) in [(true, true), (false, false)] {
        let mut status = marathon_support::status(&task, TaskState::TaskRunning, None, None);
        status.healthy = Some(healthy);
        status.uuid = Some(vec![u8::from(healthy) + 7]);
        let effects = h.step(Input::Update(status));
        let types = marathon_support::event_types(&effects);
        let per_check = types
            .iter()
            .position(|t| *t == "health_status_changed_event");
        let instance = types
            .iter()
            .position(|t| *t == "instance_health_changed_event");
        assert!(per_check.is_some() && instance > per_check, "{types:?}");
        let flag = effects.iter().find_map(|e| match e {
            Effect::Publish(Event::InstanceHealthChanged { healthy, .. }) => Some(*healthy),
            _ => None,
        });
        assert_eq!(flag, Some(expected));
    }
}
