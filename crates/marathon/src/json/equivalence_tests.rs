//! The direct-writing views produce exactly the bytes of the `Value` renderer they replaced
//! (`reference`): for hand-picked edge cases and a seeded generator of varied apps, instances,
//! deployments and failures, every embed combination, the listing as a whole, and the `Value`
//! wrappers other responses still nest.

use std::collections::BTreeMap;

use drover_core::marathon::app::{
    AppSpec, FetchUri, HealthCheck, HealthProtocol, KillSelection, PortDefinition,
};
use drover_core::marathon::condition::{Condition, Goal};
use drover_core::marathon::constraint::{AgentView, Constraint};
use drover_core::marathon::deployment::{Action, ActionKind, Deployment};
use drover_core::marathon::instance::{HealthResult, Instance, Placement};
use drover_core::marathon::path::PathId;
use drover_core::marathon::scheduler::{Config, Input, Restored, Scheduler, SequentialIds};
use drover_core::marathon::unreachable::UnreachableStrategy;
use drover_core::task::TaskState;
use drover_wire::v1;
use serde_json::{Value, json};

use super::reference;
use super::render::{Embed, app_info, task_json};
use super::view::{AppDef, AppInfo, Context, One, Task, to_bytes};

const T0: u64 = 1_600_000_000_000;

/// Strings a JSON writer must escape or pass through untouched.
const AWKWARD: [&str; 8] = [
    "",
    "plain",
    "quote \" and backslash \\ and slash /",
    "tab\tnewline\nreturn\r",
    "control \u{1} \u{1f} del \u{7f}",
    "ünïcødé ☃ 日本語 🦀",
    "separators \u{2028} \u{2029}",
    "nul \u{0} end",
];

/// xorshift64*: a deterministic generator, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn text(&mut self) -> String {
        AWKWARD[self.below(AWKWARD.len() as u64) as usize].to_owned()
    }

    fn float(&mut self) -> f64 {
        // Integral values ("1.0"), short and long fractions, tiny and huge magnitudes.
        const FLOATS: [f64; 9] = [
            0.0,
            1.0,
            0.1,
            0.25,
            0.30000000000000004,
            1e-7,
            1.5e21,
            3.0,
            128.0,
        ];
        FLOATS[self.below(FLOATS.len() as u64) as usize]
    }

    fn map(&mut self) -> BTreeMap<String, String> {
        (0..self.below(4))
            .map(|k| (format!("{}{k}", self.text()), self.text()))
            .collect()
    }
}

fn constraint(parts: &[&str]) -> Constraint {
    let parts: Vec<String> = parts.iter().map(|p| (*p).to_owned()).collect();
    Constraint::parse(&parts).expect("valid constraint")
}

fn check(rng: &mut Rng) -> HealthCheck {
    const PROTOCOLS: [HealthProtocol; 7] = [
        HealthProtocol::Http,
        HealthProtocol::Https,
        HealthProtocol::Tcp,
        HealthProtocol::MesosHttp,
        HealthProtocol::MesosHttps,
        HealthProtocol::MesosTcp,
        HealthProtocol::Command,
    ];
    let mut c = HealthCheck::new(PROTOCOLS[rng.below(7) as usize]);
    c.path = rng.chance(50).then(|| format!("/health{}", rng.text()));
    c.port_index = rng.chance(30).then(|| rng.below(3) as u32);
    c.port = rng.chance(30).then(|| rng.below(65536) as u32);
    c.command = rng.chance(40).then(|| rng.text());
    c.grace_period_seconds = rng.below(600) as u32;
    c.max_consecutive_failures = rng.below(5) as u32;
    c.delay_seconds = rng.below(30) as u32;
    c.ignore_http1xx = rng.chance(50);
    c
}

fn generated_app(rng: &mut Rng, n: usize) -> AppSpec {
    let id = match n % 3 {
        0 => format!("/gen/a{n}"),
        1 => format!("/gen/deep/er/a{n}"),
        _ => format!("/g{n}"),
    };
    let mut app = AppSpec::new(PathId::parse_app_id(&id).expect("valid id"));
    app.cmd = rng.chance(80).then(|| rng.text());
    app.args = (0..rng.below(3)).map(|_| rng.text()).collect();
    app.user = rng.chance(30).then(|| rng.text());
    app.cpus = rng.float();
    app.mem = rng.float();
    app.disk = rng.float();
    app.gpus = rng.below(3) as u32;
    app.instances = rng.below(5) as u32;
    app.env = rng.map();
    app.labels = rng.map();
    if rng.chance(40) {
        app.constraints = vec![
            constraint(&["hostname", "UNIQUE"]),
            constraint(&["rack", "GROUP_BY", "3"]),
            constraint(&["@zone", "LIKE", "us-.*"]),
        ];
        app.constraints.truncate(1 + rng.below(3) as usize);
    }
    app.port_definitions = (0..rng.below(3))
        .map(|_| PortDefinition {
            port: rng.below(40000) as u32,
            protocol: ["tcp", "udp", "udp,tcp"][rng.below(3) as usize].to_owned(),
            name: rng.chance(50).then(|| rng.text()),
            labels: rng.map(),
        })
        .collect();
    app.require_ports = rng.chance(30);
    app.health_checks = (0..rng.below(3)).map(|_| check(rng)).collect();
    app.fetch = (0..rng.below(3))
        .map(|_| FetchUri {
            uri: format!("https://example.com/{}", rng.text()),
            extract: rng.chance(50),
            executable: rng.chance(50),
            cache: rng.chance(50),
            dest_path: rng.chance(50).then(|| rng.text()),
        })
        .collect();
    app.upgrade_strategy.minimum_health_capacity = rng.float();
    app.upgrade_strategy.maximum_over_capacity = rng.float();
    app.backoff_seconds = rng.below(100);
    app.backoff_factor = rng.float();
    app.max_launch_delay_seconds = rng.below(4000);
    if rng.chance(30) {
        app.unreachable_strategy = UnreachableStrategy::Disabled;
    } else if rng.chance(50) {
        app.unreachable_strategy = UnreachableStrategy::Enabled {
            inactive_after_seconds: rng.below(1000),
            expunge_after_seconds: rng.below(2000),
        };
    }
    if rng.chance(50) {
        app.kill_selection = KillSelection::OldestFirst;
    }
    app.task_kill_grace_period_seconds = rng.chance(30).then(|| rng.below(60));
    app.accepted_resource_roles = match rng.below(3) {
        0 => None,
        1 => Some(Vec::new()),
        _ => Some(vec!["*".into(), rng.text()]),
    };
    if rng.chance(30) {
        app.role = rng.text();
    }
    if rng.chance(20) {
        app.executor = "/custom/executor".into();
        if rng.chance(50) {
            app.executor_resources = Some(drover_core::marathon::pod::PodResources {
                cpus: rng.float(),
                mem: 32.0 + rng.float(),
                disk: 10.0,
                gpus: 0,
            });
        }
    }
    if rng.chance(30) {
        app.dependencies = vec![PathId::parse_app_id("/dep/one").expect("valid id")];
    }
    // Opaque fields: key order inside them must survive; a broken text is left out.
    if rng.chance(25) {
        use drover_core::marathon::container::{AppContainer, DockerContainer, Network};
        let mut docker = DockerContainer::new("localhost:5000/web:1");
        docker.parameters = vec![("label".into(), "a=b".into())];
        if rng.chance(50) {
            docker.network = Network::Host;
        } else {
            app.port_definitions.clear();
            docker.port_mappings = vec![drover_core::marathon::container::PortMapping {
                container_port: 80,
                host_port: Some(0),
                service_port: 10_000 + n as u32,
                protocol: "tcp".into(),
                name: Some("http".into()),
                labels: BTreeMap::new(),
            }];
        }
        app.container = Some(AppContainer::Docker(Box::new(docker)));
    }
    let opaque = [
        (
            "secrets",
            r#"{"zeta":{"source":"a"},"alpha":{"source":"b"}}"#,
        ),
        (
            "ipAddress",
            r#"{"networkName":"n","labels":{"é":"\u00e9\n"},"n":1.50,"big":100000000000000000000}"#,
        ),
        ("secrets", "{not json"),
    ];
    for (key, text) in opaque {
        if rng.chance(25) {
            app.opaque.insert(key.to_owned(), text.to_owned());
        }
    }
    app.version_ms = T0 + rng.below(1_000_000);
    app.last_scaling_at_ms = app.version_ms;
    app.last_config_change_at_ms = app.version_ms - rng.below(1000);
    app
}

fn generated_instance(rng: &mut Rng, app: &AppSpec, n: usize) -> Instance {
    const CONDITIONS: [Condition; 9] = [
        Condition::Scheduled,
        Condition::Provisioned,
        Condition::Staging,
        Condition::Starting,
        Condition::Running,
        Condition::Running,
        Condition::Killing,
        Condition::Killed,
        Condition::Unreachable,
    ];
    let mut i = Instance::scheduled(
        &app.id,
        &format!("00000000-0000-0000-0000-{n:012x}"),
        app.version_ms,
        app.last_config_change_at_ms,
        T0,
    );
    i.condition = CONDITIONS[rng.below(CONDITIONS.len() as u64) as usize];
    i.incarnation = 1 + rng.below(3) as u32;
    if i.condition != Condition::Scheduled {
        i.placement = Some(Placement {
            agent_id: format!("agent-{}", rng.below(4)),
            agent: AgentView {
                hostname: format!("host-{}.example", rng.text()),
                region: None,
                zone: None,
                attributes: BTreeMap::new(),
            }
            .into(),
            host_ports: (0..rng.below(3)).map(|p| 31000 + p as u32).collect(),
        });
        i.staged_at_ms = rng.chance(80).then(|| T0 + rng.below(1000));
        i.started_at_ms = rng.chance(60).then(|| T0 + 1000 + rng.below(1000));
        i.mesos_state = Some(TaskState::TaskRunning);
    }
    if rng.chance(30) {
        i.goal = Goal::Decommissioned;
    }
    i.mesos_healthy = match rng.below(3) {
        0 => None,
        1 => Some(true),
        _ => Some(false),
    };
    i.health = (0..app.health_checks.len())
        .map(|_| HealthResult {
            consecutive_failures: rng.below(4) as u32,
            first_success_ms: rng.chance(50).then_some(T0 + 10),
            last_success_ms: rng.chance(50).then(|| T0 + 20 + rng.below(10)),
            last_failure_ms: rng.chance(50).then(|| T0 + 20 + rng.below(10)),
            last_failure_cause: rng.chance(50).then(|| rng.text()),
        })
        .collect();
    i.ip_addresses = match rng.below(3) {
        0 => Vec::new(),
        1 => vec!["10.0.0.7".into()],
        _ => vec!["10.0.0.8".into(), "fd00::1".into()],
    };
    i
}

fn deployment(id: &str, version_ms: u64, apps: &[&PathId]) -> Deployment {
    Deployment {
        id: id.to_owned(),
        version_ms,
        affected_apps: apps.iter().map(|a| (*a).clone()).collect(),
        steps: vec![
            apps.iter()
                .map(|a| Action {
                    kind: ActionKind::ScaleApplication,
                    app: (*a).clone(),
                })
                .collect(),
        ],
        current_step: 0,
        originals: BTreeMap::new(),
        waiting: BTreeMap::new(),
    }
}

/// A scheduler holding generated apps with instances in every condition, several deployments
/// in flight (one app in three of them, equal versions, an app listed twice) and task failures.
fn fixture(seed: u64, apps: usize) -> Scheduler {
    let mut rng = Rng(seed);
    let mut restored = Restored::default();
    let mut minimal = AppSpec::new(PathId::parse_app_id("/minimal").expect("valid id"));
    minimal.cmd = Some("sleep 1".into());
    restored.apps.push(minimal);
    for n in 0..apps {
        let app = generated_app(&mut rng, n);
        for k in 0..rng.below(5) as usize {
            restored
                .instances
                .push(generated_instance(&mut rng, &app, n * 10 + k));
        }
        restored.apps.push(app);
    }
    let ids: Vec<PathId> = restored.apps.iter().map(|a| a.id.clone()).collect();
    restored.deployments = vec![
        deployment("d-late", T0 + 9, &[&ids[1], &ids[2], &ids[0]]),
        deployment("d-b", T0 + 5, &[&ids[1], &ids[3]]),
        deployment("d-a", T0 + 5, &[&ids[1]]),
        deployment("d-twice", T0 + 7, &[&ids[4], &ids[4]]),
    ];
    let failing: Vec<(String, String)> = restored
        .instances
        .iter()
        .filter(|i| i.condition == Condition::Running)
        .step_by(3)
        .map(|i| {
            let agent = i.placement.as_ref().map(|p| p.agent_id.clone());
            (i.task_id(), agent.unwrap_or_default())
        })
        .collect();
    let mut s = Scheduler::restore(
        Config::default(),
        Box::new(SequentialIds::default()),
        restored,
    );
    s.handle(
        T0,
        Input::Subscribed {
            framework_id: "fw-1".into(),
        },
    );
    for (n, (task_id, agent_id)) in failing.into_iter().enumerate() {
        let status = v1::TaskStatus {
            task_id: v1::TaskId { value: task_id },
            state: TaskState::TaskFailed as i32,
            message: Some(AWKWARD[n % AWKWARD.len()].to_owned()),
            agent_id: Some(v1::AgentId { value: agent_id }),
            uuid: Some(vec![n as u8]),
            ..Default::default()
        };
        s.handle(T0 + 5000 + n as u64, Input::Update(status));
    }
    s
}

const NO_EXTRAS: Embed = Embed {
    tasks: false,
    last_task_failure: false,
    task_stats: false,
    readiness: false,
    now_ms: 0,
};

const EMBEDS: [Embed; 4] = [
    Embed {
        tasks: false,
        last_task_failure: false,
        ..NO_EXTRAS
    },
    Embed {
        tasks: true,
        last_task_failure: false,
        ..NO_EXTRAS
    },
    Embed {
        tasks: false,
        last_task_failure: true,
        ..NO_EXTRAS
    },
    Embed {
        tasks: true,
        last_task_failure: true,
        ..NO_EXTRAS
    },
];

fn text(view: &impl serde::Serialize) -> String {
    String::from_utf8(to_bytes(view, 0).expect("serializes")).expect("UTF-8")
}

#[test]
fn app_definitions_match_the_value_renderer() {
    let s = fixture(0x5eed, 300);
    for app in s.apps().values() {
        let expected = Value::Object(reference::app_json(app)).to_string();
        assert_eq!(text(&AppDef(app)), expected, "{}", app.id);
        assert_eq!(super::app::app_json(app), reference::app_json(app));
    }
}

#[test]
fn app_infos_match_the_value_renderer_for_every_embed() {
    let s = fixture(0xa77, 300);
    let context = Context::all(&s);
    let mut seen = (0, 0, 0);
    for embed in EMBEDS {
        for app in s.apps().values() {
            let expected = reference::app_info(&s, app, embed);
            let written = text(&AppInfo::new(&context, app, embed));
            let alone = text(&AppInfo::new(&Context::of_app(&s, &app.id), app, embed));
            assert_eq!(written, expected.to_string(), "{} {embed:?}", app.id);
            assert_eq!(alone, written, "{} {embed:?}", app.id);
            assert_eq!(app_info(&s, app, embed), expected);
            seen.0 += usize::from(expected.get("lastTaskFailure").is_some());
            seen.1 += usize::from(expected["tasks"].as_array().is_some_and(|t| !t.is_empty()));
            seen.2 += usize::from(
                expected["deployments"]
                    .as_array()
                    .is_some_and(|d| d.len() > 1),
            );
        }
    }
    // The fixture really exercises failures, embedded tasks and several deployments per app.
    assert!(seen.0 > 0 && seen.1 > 0 && seen.2 > 0, "{seen:?}");
}

#[test]
fn tasks_match_the_value_renderer_with_and_without_the_app() {
    let s = fixture(0x7a5c, 200);
    for i in s.instances().values() {
        let app = s.app(&i.app_id);
        for app in [None, app] {
            let expected = reference::task_json(i, app);
            assert_eq!(text(&Task::new(i, app)), expected.to_string(), "{}", i.id);
            assert_eq!(task_json(i, app), expected);
        }
    }
}

#[test]
fn whole_listings_match_byte_for_byte() {
    for (seed, apps) in [(1, 5), (3, 50), (4, 400)] {
        let s = fixture(seed, apps);
        let context = Context::all(&s);
        for embed in EMBEDS {
            let views: Vec<AppInfo> = s
                .apps()
                .values()
                .map(|a| AppInfo::new(&context, a, embed))
                .collect();
            let values: Vec<Value> = s
                .apps()
                .values()
                .map(|a| reference::app_info(&s, a, embed))
                .collect();
            assert_eq!(
                text(&One("apps", &views)),
                json!({ "apps": values }).to_string()
            );
        }
        let none: Vec<AppInfo> = Vec::new();
        assert_eq!(text(&One("apps", &none)), r#"{"apps":[]}"#);
    }
}

#[test]
fn non_finite_numbers_render_as_null_in_both() {
    let mut app = AppSpec::new(PathId::parse_app_id("/odd").expect("valid id"));
    app.cpus = f64::NAN;
    app.mem = f64::INFINITY;
    app.backoff_factor = -0.0;
    let expected = Value::Object(reference::app_json(&app)).to_string();
    assert!(expected.contains(r#""cpus":null"#), "{expected}");
    assert_eq!(text(&AppDef(&app)), expected);
}
