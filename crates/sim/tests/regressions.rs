//! Regression tests for bugs the simulator found, named after the scenario that found them.

use drover_core::marathon::app::AppSpec;
use drover_core::marathon::path::PathId;
use drover_core::marathon::scheduler::{Command, Config, Effect, Input, Scheduler, SequentialIds};
use drover_core::resources;
use drover_wire::v1;

const T0: u64 = 1_700_000_000_000;

/// Found by `agent_restart_after_host_reboot` (seed 3) and the random search (seed
/// 1000000): after a task failed, the app's launch delay stayed in `next_deadline` once it
/// had passed (until it expired, `maxLaunchDelaySeconds` later), so the driver's timer fired
/// at once, again and again: a busy loop of Ticks for up to five minutes.
#[test]
fn regression_agent_restart_after_host_reboot_launch_delay_deadline_in_the_past() {
    let mut s = Scheduler::new(Config::default(), Box::new(SequentialIds::default()));
    s.handle(
        T0,
        Input::Subscribed {
            framework_id: "fw".into(),
        },
    );
    let mut app = AppSpec::new(PathId::parse_app_id("/a").expect("valid"));
    app.cmd = Some("sleep 1000".into());
    s.handle(T0, Input::Command(Command::CreateApp { app, force: false }));
    let offer = v1::Offer {
        id: v1::OfferId { value: "o1".into() },
        framework_id: v1::FrameworkId { value: "fw".into() },
        agent_id: v1::AgentId {
            value: "agent".into(),
        },
        hostname: "host".into(),
        resources: resources::parse("cpus:4;mem:4096;ports:[31000-32000]").expect("valid"),
        ..Default::default()
    };
    let task_id = s
        .handle(T0 + 10, Input::Offers(vec![offer]))
        .into_iter()
        .find_map(|e| match e {
            Effect::Launch { tasks, .. } => Some(tasks[0].task_id.clone()),
            _ => None,
        })
        .expect("launched");
    let failed = v1::TaskStatus {
        task_id,
        state: v1::TaskState::TaskFailed as i32,
        source: Some(v1::task_status::Source::Executor as i32),
        agent_id: Some(v1::AgentId {
            value: "agent".into(),
        }),
        ..Default::default()
    };
    s.handle(T0 + 20, Input::Update(failed));
    // Past the one-second backoff, well before the delay expires.
    let now = T0 + 20 + 5_000;
    s.handle(now, Input::Tick);
    let next = s.next_deadline().expect("timers remain");
    assert!(
        next > now,
        "next deadline {next} is not after now {now}: the driver would spin"
    );
}
