//! Service ports (issue 12 item 17): each `portDefinitions[].port: 0` gets a port from the
//! service-port range, unique across apps, kept on update, left alone when the user chose it;
//! with `requirePorts` the host port is the service port; an exhausted range is refused.

use crate::marathon_support;

use drover_core::marathon::app::PortDefinition;
use drover_core::marathon::path::PathId;
use drover_core::marathon::scheduler::SequentialIds;
use drover_core::marathon::scheduler::{Command, CommandError, Config, Effect, Input, Scheduler};
use marathon_support::{Harness, app};

fn ports(h: &Harness, id: &str) -> Vec<u32> {
    h.s.app(&PathId::parse_app_id(id).unwrap())
        .expect("app exists")
        .port_definitions
        .iter()
        .map(|d| d.port)
        .collect()
}

fn definition(port: u32) -> PortDefinition {
    PortDefinition {
        port,
        protocol: "tcp".into(),
        name: None,
        labels: Default::default(),
    }
}

#[test]
fn dynamic_ports_are_assigned_unique_and_kept_on_update() {
    let mut h = Harness::new();
    h.create(app("/a", 1));
    assert_eq!(
        ports(&h, "/a"),
        vec![10_000],
        "Marathon's default port definition"
    );

    let mut b = app("/b", 1);
    b.port_definitions = vec![definition(0), definition(10_002), definition(0)];
    h.create(b);
    assert_eq!(ports(&h, "/b"), vec![10_001, 10_002, 10_003]);

    // An update that asks for port 0 again keeps the port the app has.
    let mut update = app("/a", 2);
    update.port_definitions = vec![definition(0), definition(0)];
    h.command(Command::PutApp {
        app: update,
        force: true,
    });
    assert_eq!(ports(&h, "/a"), vec![10_000, 10_004]);

    // A user-chosen port is never replaced.
    let mut c = app("/c", 1);
    c.port_definitions = vec![definition(12_345)];
    h.create(c);
    assert_eq!(ports(&h, "/c"), vec![12_345]);
}

#[test]
fn require_ports_launches_on_the_service_port() {
    let mut h = Harness::new();
    let mut a = app("/a", 1);
    a.require_ports = true;
    a.port_definitions = vec![definition(0)];
    // The harness's offers have ports 31000-32000: use that range for service ports.
    h.s = Scheduler::new(
        Config {
            service_port_range: (31_500, 31_600),
            ..Config::default()
        },
        Box::new(SequentialIds::default()),
    );
    h.step(Input::Subscribed {
        framework_id: "fw-1".into(),
    });
    h.create(a);
    assert_eq!(ports(&h, "/a"), vec![31_500]);
    let tasks = h.offer("agent-1");
    assert_eq!(tasks.len(), 1);
    let env = tasks[0]
        .command
        .as_ref()
        .and_then(|c| c.environment.as_ref())
        .expect("environment");
    let get = |name: &str| {
        env.variables
            .iter()
            .find(|v| v.name == name)
            .and_then(|v| v.value.clone())
    };
    assert_eq!(get("PORT0").as_deref(), Some("31500"));
    assert_eq!(get("PORT_31500").as_deref(), Some("31500"));
}

#[test]
fn an_exhausted_range_is_refused_and_changes_nothing() {
    let mut h = Harness::new();
    h.s = Scheduler::new(
        Config {
            service_port_range: (10_000, 10_002),
            ..Config::default()
        },
        Box::new(SequentialIds::default()),
    );
    h.step(Input::Subscribed {
        framework_id: "fw-1".into(),
    });
    let mut a = app("/a", 1);
    a.port_definitions = vec![definition(0), definition(0)];
    h.create(a);
    let effects = h.step(Input::Command(Command::CreateApp {
        app: app("/b", 1),
        force: false,
    }));
    let refused = effects.iter().find_map(|e| match e {
        Effect::Reply(Err(CommandError::Invalid(v))) => Some(v.clone()),
        _ => None,
    });
    let violations = refused.expect("refused with a 422");
    assert_eq!(violations[0].path, "/portDefinitions(0)/port");
    assert!(violations[0].message.contains("10000"), "{violations:?}");
    assert!(h.s.app(&PathId::parse_app_id("/b").unwrap()).is_none());
}
