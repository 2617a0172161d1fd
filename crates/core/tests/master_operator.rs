//! The master's operator decisions through `Master::handle` with a virtual clock: GET_ROLES,
//! agent deactivation and quota.

use crate::master_common;

use drover_core::resources;
use drover_wire::v1;
use master_common::*;

fn role_named<'a>(roles: &'a [v1::Role], name: &str) -> Option<&'a v1::Role> {
    roles.iter().find(|r| r.name == name)
}

#[test]
fn roles_list_frameworks_and_what_is_allocated_or_offered() {
    let mut sim = Sim::new();
    let roles = sim.m.get_roles();
    assert_eq!(roles.len(), 1, "only the default role: {roles:?}");
    assert_eq!(roles[0].name, "*");
    assert_eq!(roles[0].weight, 1.0);
    let (fw, agent, _) = sim.running_task(false, true);
    let mut info = framework_info(false);
    #[allow(deprecated)]
    {
        info.role = Some("web".into());
    }
    let (web, _) = sim.subscribe_with(info);
    let roles = sim.m.get_roles();
    let star = role_named(&roles, "*").expect("*");
    assert_eq!(star.frameworks, vec![v1::FrameworkId { value: fw.id }]);
    // The running task's cpus:1 and the offer of the rest all count for `*`... unless the
    // rest went to `web`: either way the two roles together hold the whole agent.
    let web_role = role_named(&roles, "web").expect("web");
    assert_eq!(web_role.frameworks, vec![v1::FrameworkId { value: web.id }]);
    let total = resources::add(&star.resources, &web_role.resources);
    assert_eq!(resources::scalar(&total, "cpus"), 4.0, "{roles:?}");
    assert!(resources::scalar(&star.resources, "cpus") >= 1.0);
    let _ = agent;
}

fn deactivate(sim: &mut Sim, agent: &str, on: bool) -> drover_core::master::Reply {
    let req = sim.conn();
    let agent_id = agent.to_owned();
    let input = if on {
        drover_core::master::Input::DeactivateAgent { req, agent_id }
    } else {
        drover_core::master::Input::ReactivateAgent { req, agent_id }
    };
    let effects = sim.step(input);
    reply_of(&effects, req)
}

#[test]
fn deactivated_agent_gets_no_offers_until_reactivated_and_survives_restart() {
    use drover_core::master::Reply;
    let mut sim = Sim::new();
    let (agent, _) = sim.register_agent("cpus:4;mem:4096");
    let (fw, effects) = sim.subscribe(false, true, 3600.0);
    assert_eq!(offers(&effects, fw.conn).len(), 1);
    let req = sim.conn();
    let effects = sim.step(drover_core::master::Input::DeactivateAgent {
        req,
        agent_id: agent.clone(),
    });
    assert_eq!(reply_of(&effects, req), Reply::Ok);
    assert!(
        event_types(&effects, fw.conn).contains(&drover_wire::v1::scheduler::event::Type::Rescind),
        "the outstanding offer is rescinded"
    );
    assert!(sim.m.offers().is_empty());
    assert!(persisted(&effects) >= 1, "the mark is persisted");
    let effects = sim.advance(10_000);
    assert!(
        offers(&effects, fw.conn).is_empty(),
        "no offers while deactivated"
    );
    let view = sim.m.agent_view(&agent).expect("agent");
    assert_eq!(view.deactivated, Some(true));
    assert!(!view.active);

    // The mark survives a master restart (it is in the registry).
    let restarted = sim.restart(1000);
    assert!(restarted.m.agent_deactivated(&agent));

    let req = sim.conn();
    let mut effects = sim.step(drover_core::master::Input::ReactivateAgent {
        req,
        agent_id: agent.clone(),
    });
    assert_eq!(reply_of(&effects, req), Reply::Ok);
    effects.extend(sim.advance(2_000));
    assert_eq!(offers(&effects, fw.conn).len(), 1, "offers again");
    assert_eq!(sim.m.agent_view(&agent).unwrap().deactivated, Some(false));

    // Unknown agents: 400, nothing persisted.
    match deactivate(&mut sim, "nope", true) {
        Reply::Error { status, message } => {
            assert_eq!(status, 400);
            assert!(message.contains("nope"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(!sim.m.agent_deactivated("nope"));
}
