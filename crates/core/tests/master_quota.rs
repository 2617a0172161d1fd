//! Quota through `Master::handle` with a virtual clock: UPDATE/SET/REMOVE_QUOTA validation
//! with Mesos' status codes, limits that trim offers, guarantees that hold resources back for
//! their role, rescinds after a change, and the table surviving a master restart. Every step
//! checks the invariants, including "no role is offered beyond its limit".

use crate::master_common;

use drover_core::master::quota::QuotaCall;
use drover_core::master::{Effect, Input, Reply};
use drover_core::resources;
use drover_wire::v1;
use drover_wire::v1::quota::{QuotaConfig, QuotaRequest};
use master_common::*;

/// `"cpus:1;mem:2"` as a quota map.
fn map(text: &str) -> std::collections::BTreeMap<String, v1::value::Scalar> {
    text.split(';')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (name, value) = p.split_once(':').expect("name:value");
            (
                name.to_owned(),
                v1::value::Scalar {
                    value: value.parse().expect("a number"),
                },
            )
        })
        .collect()
}

fn config(role: &str, guarantees: &str, limits: &str) -> QuotaConfig {
    QuotaConfig {
        role: role.into(),
        guarantees: map(guarantees),
        limits: map(limits),
    }
}

fn quota(sim: &mut Sim, call: QuotaCall) -> (Reply, Vec<Effect>) {
    let req = sim.conn();
    let effects = sim.step(Input::Quota { req, call });
    (reply_of(&effects, req), effects)
}

fn update(sim: &mut Sim, force: bool, configs: Vec<QuotaConfig>) -> (Reply, Vec<Effect>) {
    quota(sim, QuotaCall::Update { force, configs })
}

fn set(sim: &mut Sim, role: &str, guarantee: &str, force: bool) -> (Reply, Vec<Effect>) {
    let request = QuotaRequest {
        force: Some(force),
        role: Some(role.into()),
        guarantee: resources::parse(guarantee).unwrap(),
    };
    quota(sim, QuotaCall::Set(request))
}

fn expect_error(reply: Reply, status: u16, needle: &str) {
    match reply {
        Reply::Error { status: s, message } => {
            assert_eq!(s, status, "{message}");
            assert!(message.contains(needle), "{message:?} lacks {needle:?}");
        }
        other => panic!("expected {status} ({needle}), got {other:?}"),
    }
}

fn subscribe_role(sim: &mut Sim, role: &str) -> (Fw, Vec<Effect>) {
    let mut info = framework_info(false);
    #[allow(deprecated)]
    {
        info.role = Some(role.into());
    }
    info.failover_timeout = Some(3600.0);
    sim.subscribe_with(info)
}

fn cpus(offer: &v1::Offer) -> f64 {
    resources::scalar(&offer.resources, "cpus")
}

#[test]
fn update_quota_refuses_bad_configs_with_mesos_messages_and_changes_nothing() {
    let mut sim = Sim::new();
    sim.register_agent("cpus:4;mem:4096");
    let cases: Vec<(QuotaConfig, &str)> = vec![
        (
            config("dev", "cpus:2", "cpus:1"),
            "'QuotaConfig.guarantees' cpus:2 is not contained within the 'QuotaConfig.limits' cpus:1",
        ),
        (
            config("dev", "cpus:-1", ""),
            "Invalid guarantee configuration {'cpus': -1}: Negative values not supported",
        ),
        (
            config("dev", "", "mem:NaN"),
            "Invalid limit configuration {'mem': NaN}: NaN not supported",
        ),
        (
            config("dev", "", "mem:2000000000000"),
            "values greater than 1 exabyte",
        ),
        (config("", "cpus:1", ""), "Invalid 'QuotaConfig.role'"),
        (config("a/b", "cpus:1", ""), "nested role 'a/b'"),
    ];
    for (bad, needle) in cases {
        let (reply, effects) = update(&mut sim, false, vec![config("ok", "cpus:1", ""), bad]);
        expect_error(reply, 400, needle);
        assert_eq!(persisted(&effects), 0, "nothing persisted for {needle}");
        assert!(sim.m.quotas().is_empty(), "all or nothing: {needle}");
    }
    // Guarantees beyond the cluster: refused unless forced.
    let (reply, _) = update(&mut sim, false, vec![config("dev", "cpus:5", "")]);
    expect_error(reply, 400, "exceed cluster capacity 'cpus:4; mem:4096'");
    let (reply, effects) = update(&mut sim, true, vec![config("dev", "cpus:5", "")]);
    assert_eq!(reply, Reply::Ok);
    assert_eq!(persisted(&effects), 1);
    assert_eq!(sim.m.quotas()["dev"].guarantees["cpus"], 5.0);
    // A config with neither guarantees nor limits resets the role: it leaves the table.
    let (reply, _) = update(&mut sim, false, vec![config("dev", "", "")]);
    assert_eq!(reply, Reply::Ok);
    assert!(sim.m.quotas().is_empty());
}

#[test]
fn set_and_remove_quota_follow_the_legacy_rules() {
    let mut sim = Sim::new();
    sim.register_agent("cpus:4;mem:4096;ports:[31000-31010]");
    let (reply, _) = set(&mut sim, "dev", "ports:[31000-31001]", false);
    expect_error(
        reply,
        400,
        "QuotaInfo must not include non-scalar resources",
    );
    let (reply, _) = set(&mut sim, "dev", "cpus(dev):1", false);
    expect_error(reply, 400, "QuotaInfo must not contain any ReservationInfo");
    let (reply, _) = set(&mut sim, "dev", "", false);
    expect_error(reply, 400, "QuotaInfo with empty 'guarantee'");
    let request = QuotaRequest {
        force: None,
        role: None,
        guarantee: resources::parse("cpus:1").unwrap(),
    };
    let (reply, _) = quota(&mut sim, QuotaCall::Set(request));
    expect_error(reply, 400, "QuotaInfo must specify a role");
    let (reply, _) = set(&mut sim, "dev", "cpus:8", false);
    expect_error(reply, 409, "Quota guarantees overcommit the cluster");
    assert!(sim.m.quotas().is_empty());

    let (reply, effects) = set(&mut sim, "dev", "cpus:1;mem:512", false);
    assert_eq!(reply, Reply::Ok);
    assert_eq!(persisted(&effects), 1);
    // The legacy guarantee is also the limit (Mesos 1.9+).
    let q = &sim.m.quotas()["dev"];
    assert_eq!(q.limits, q.guarantees);
    let (reply, _) = set(&mut sim, "dev", "cpus:1", false);
    expect_error(reply, 400, "which already has quota");

    let status = sim.m.quota_status();
    assert_eq!(status.configs.len(), 1);
    assert_eq!(status.configs[0].limits["mem"].value, 512.0);
    #[allow(deprecated)]
    let infos = status.infos;
    assert_eq!(infos[0].role.as_deref(), Some("dev"));
    assert_eq!(resources::scalar(&infos[0].guarantee, "cpus"), 1.0);

    let (reply, _) = quota(
        &mut sim,
        QuotaCall::Remove {
            role: "web".into(),
            path: None,
        },
    );
    expect_error(reply, 400, "Role 'web' has no quota set");
    let (reply, effects) = quota(
        &mut sim,
        QuotaCall::Remove {
            role: "dev".into(),
            path: None,
        },
    );
    assert_eq!(reply, Reply::Ok);
    assert_eq!(persisted(&effects), 1);
    assert!(sim.m.quotas().is_empty());
}

#[test]
fn a_limit_trims_offers_and_the_rest_goes_to_other_roles() {
    let mut sim = Sim::new();
    let (agent, _) = sim.register_agent("cpus:4;mem:4096");
    let (reply, _) = update(&mut sim, false, vec![config("dev", "", "cpus:1;mem:1024")]);
    assert_eq!(reply, Reply::Ok);
    let (dev, effects) = subscribe_role(&mut sim, "dev");
    let dev_offers = offers(&effects, dev.conn);
    assert_eq!(dev_offers.len(), 1);
    assert_eq!(cpus(&dev_offers[0]), 1.0);
    assert_eq!(resources::scalar(&dev_offers[0].resources, "mem"), 1024.0);
    // Another role gets the rest of the agent.
    let (other, effects) = subscribe_role(&mut sim, "*");
    let other_offers = offers(&effects, other.conn);
    assert_eq!(other_offers.len(), 1, "{effects:?}");
    assert_eq!(cpus(&other_offers[0]), 3.0);
    // dev uses its offer: it holds its limit, so no more cpus come its way.
    sim.accept(
        &dev,
        &[&dev_offers[0].id.value],
        vec![task("t1", &agent, "cpus:1;mem:128")],
    );
    let (reply, _) = sim.call(
        &other,
        v1::scheduler::Call {
            r#type: Some(v1::scheduler::call::Type::Decline as i32),
            decline: Some(v1::scheduler::call::Decline {
                offer_ids: vec![other_offers[0].id.clone()],
                filters: Some(v1::Filters {
                    refuse_seconds: Some(3600.0),
                }),
            }),
            ..Default::default()
        },
    );
    assert_eq!(reply, Reply::Accepted);
    let effects = sim.advance(5_000);
    for offer in offers(&effects, dev.conn) {
        assert_eq!(cpus(&offer), 0.0, "dev is at its cpus limit: {offer:?}");
        assert!(resources::scalar(&offer.resources, "mem") <= 1024.0 - 128.0);
    }
    assert_eq!(
        resources::scalar(sim.m.ledger().used_by_role("dev"), "cpus"),
        1.0
    );
}

#[test]
fn a_guarantee_holds_resources_back_for_its_role() {
    let mut sim = Sim::new();
    sim.register_agent_at("a1", 5051, "cpus:2;mem:2048");
    sim.register_agent_at("a2", 5051, "cpus:2;mem:2048");
    let (reply, _) = set(&mut sim, "a", "cpus:2;mem:2048", false);
    assert_eq!(reply, Reply::Ok);
    // The default role may have one agent: the other is the guarantee's headroom.
    let (star, effects) = subscribe_role(&mut sim, "*");
    let star_offers = offers(&effects, star.conn);
    assert_eq!(star_offers.len(), 1, "{star_offers:?}");
    assert_eq!(cpus(&star_offers[0]), 2.0);
    let effects = sim.advance(5_000);
    assert!(
        offers(&effects, star.conn).is_empty(),
        "the headroom stays unoffered"
    );
    // The role with the guarantee gets it as soon as it subscribes.
    let (a, effects) = subscribe_role(&mut sim, "a");
    let a_offers = offers(&effects, a.conn);
    assert_eq!(a_offers.len(), 1);
    assert_eq!(cpus(&a_offers[0]), 2.0);
    assert_eq!(resources::scalar(&a_offers[0].resources, "mem"), 2048.0);
}

#[test]
fn a_guarantee_set_later_rescinds_other_roles_offers_for_its_role() {
    let mut sim = Sim::new();
    sim.register_agent_at("a1", 5051, "cpus:2;mem:2048");
    sim.register_agent_at("a2", 5051, "cpus:2;mem:2048");
    let (star, effects) = subscribe_role(&mut sim, "*");
    assert_eq!(offers(&effects, star.conn).len(), 2, "both agents offered");
    let (a, _) = subscribe_role(&mut sim, "a");
    let (reply, effects) = update(&mut sim, false, vec![config("a", "cpus:2;mem:2048", "")]);
    assert_eq!(reply, Reply::Ok);
    assert!(
        event_types(&effects, star.conn).contains(&v1::scheduler::event::Type::Rescind),
        "an offer of the default role is taken back"
    );
    let a_offers = offers(&effects, a.conn);
    assert_eq!(a_offers.len(), 1, "the guarantee is offered to its role");
    assert_eq!(cpus(&a_offers[0]), 2.0);
}

#[test]
fn lowering_a_limit_below_an_offer_needs_force_and_rescinds_it() {
    let mut sim = Sim::new();
    let (agent, _) = sim.register_agent("cpus:4;mem:4096");
    let (dev, effects) = subscribe_role(&mut sim, "dev");
    let offer = offers(&effects, dev.conn).pop().expect("an offer");
    sim.accept(
        &dev,
        &[&offer.id.value],
        vec![task("t1", &agent, "cpus:2;mem:128")],
    );
    sim.agent_update(&agent, &dev.id, "t1", v1::TaskState::TaskRunning, 1);
    sim.advance(2_000);
    assert!(!sim.m.offers().is_empty(), "dev holds an offer of the rest");
    let (reply, effects) = update(&mut sim, false, vec![config("dev", "", "cpus:1")]);
    expect_error(reply, 400, "is already consuming 'cpus:2; mem:128'");
    assert_eq!(persisted(&effects), 0);
    let (reply, effects) = update(&mut sim, true, vec![config("dev", "", "cpus:1")]);
    assert_eq!(reply, Reply::Ok);
    assert!(event_types(&effects, dev.conn).contains(&v1::scheduler::event::Type::Rescind));
    // Its task alone is over the limit now: later offers carry no cpus.
    let effects = sim.advance(5_000);
    for offer in offers(&effects, dev.conn) {
        assert_eq!(cpus(&offer), 0.0, "{offer:?}");
    }
}

#[test]
fn quota_survives_a_master_restart_and_shows_in_roles() {
    let mut sim = Sim::new();
    sim.register_agent("cpus:4;mem:4096");
    let (reply, _) = update(
        &mut sim,
        false,
        vec![
            config("dev", "cpus:1", "cpus:2"),
            config("ops", "", "mem:64"),
        ],
    );
    assert_eq!(reply, Reply::Ok);
    let names: Vec<String> = sim.m.get_roles().into_iter().map(|r| r.name).collect();
    assert_eq!(names, vec!["*", "dev", "ops"]);
    let metrics = sim.m.metrics(sim.now);
    let metric = |key: &str| metrics.iter().find(|(k, _)| k == key).map(|(_, v)| *v);
    assert_eq!(
        metric("allocator/mesos/quota/roles/dev/resources/cpus/limit"),
        Some(2.0)
    );
    assert_eq!(
        metric("allocator/mesos/quota/roles/ops/resources/mem/limit"),
        Some(64.0)
    );
    assert_eq!(
        metric("allocator/mesos/quota/roles/dev/resources/cpus/guarantee"),
        Some(1.0)
    );
    let mut restarted = sim.restart(1_000);
    assert_eq!(restarted.m.quotas(), sim.m.quotas());
    assert_eq!(restarted.m.quotas()["dev"].limits["cpus"], 2.0);
    // And it is enforced after the restart.
    restarted.register_agent_at("b1", 5052, "cpus:4;mem:4096");
    let (dev, effects) = subscribe_role(&mut restarted, "dev");
    let dev_offers = offers(&effects, dev.conn);
    // Its guarantee first (one cpu), then, by DRF, up to its limit: two cpus in all.
    assert_eq!(dev_offers.len(), 2, "{dev_offers:?}");
    assert_eq!(cpus(&dev_offers[0]), 1.0);
    assert_eq!(dev_offers.iter().map(cpus).sum::<f64>(), 2.0);
}

#[test]
fn under_contention_guarantees_are_met_and_limits_never_exceeded() {
    let mut sim = Sim::new();
    for i in 0..3 {
        sim.register_agent_at(&format!("h{i}"), 5051, "cpus:4;mem:4096");
    }
    let (reply, _) = update(
        &mut sim,
        false,
        vec![
            config("gold", "cpus:5;mem:160", "cpus:7"),
            config("capped", "", "cpus:2"),
        ],
    );
    assert_eq!(reply, Reply::Ok);
    // Greedy frameworks subscribe before the guaranteed one shows up.
    let mut fws = Vec::new();
    for role in ["*", "*", "capped"] {
        fws.push(subscribe_role(&mut sim, role));
    }
    fws.push(subscribe_role(&mut sim, "gold"));
    let mut next_task = 0;
    // Each round, every framework launches one-cpu tasks on whatever it was offered.
    let mut pending: Vec<Vec<v1::Offer>> = fws
        .iter()
        .map(|(fw, effects)| offers(effects, fw.conn))
        .collect();
    for _round in 0..20 {
        let mut effects = Vec::new();
        for (i, (fw, _)) in fws.iter().enumerate() {
            for offer in std::mem::take(&mut pending[i]) {
                if !sim.m.offers().contains_key(&offer.id.value) {
                    continue;
                }
                let n = cpus(&offer).floor() as usize;
                let tasks: Vec<v1::TaskInfo> = (0..n)
                    .map(|_| {
                        next_task += 1;
                        task(
                            &format!("t{next_task}"),
                            &offer.agent_id.value,
                            // Cpus only: the guarantee holds cpus and mem back separately,
                            // so a task needing both can strand a lone cpu (Mesos too).
                            "cpus:1",
                        )
                    })
                    .collect();
                effects.extend(sim.accept(fw, &[&offer.id.value], tasks));
            }
        }
        effects.extend(sim.advance(1_000));
        for (i, (fw, _)) in fws.iter().enumerate() {
            pending[i].extend(offers(&effects, fw.conn));
        }
    }
    let used = |role: &str| resources::scalar(sim.m.ledger().used_by_role(role), "cpus");
    assert!(
        used("gold") >= 5.0,
        "gold's guarantee is met: {}",
        used("gold")
    );
    assert!(
        used("gold") <= 7.0,
        "gold stays under its limit: {}",
        used("gold")
    );
    assert!(used("capped") <= 2.0, "capped: {}", used("capped"));
    assert_eq!(
        used("gold") + used("capped") + used("*"),
        12.0,
        "the cluster is used"
    );
}

#[test]
fn a_quota_covers_its_subroles() {
    let mut sim = Sim::new();
    let (agent, _) = sim.register_agent("cpus:4;mem:4096");
    let (reply, _) = update(&mut sim, false, vec![config("eng", "", "cpus:2")]);
    assert_eq!(reply, Reply::Ok);
    let (web, effects) = subscribe_role(&mut sim, "eng/web");
    let offer = offers(&effects, web.conn).pop().expect("an offer");
    assert_eq!(cpus(&offer), 2.0, "eng's limit holds eng/web");
    sim.accept(
        &web,
        &[&offer.id.value],
        vec![task("w1", &agent, "cpus:1.5;mem:64")],
    );
    // A sibling subrole shares what is left under the parent's limit.
    let (api, _) = subscribe_role(&mut sim, "eng/api");
    let effects = sim.advance(2_000);
    let api_cpus: f64 = offers(&effects, api.conn).iter().map(cpus).sum();
    let web_cpus: f64 = offers(&effects, web.conn).iter().map(cpus).sum();
    assert!(api_cpus + web_cpus <= 0.5 + 1e-9, "{api_cpus} + {web_cpus}");
    // The subtree's use is the parent's consumption, and a lower limit needs force.
    assert_eq!(sim.m.quota_consumed("eng")["cpus"], 1.5);
    let (reply, _) = update(&mut sim, false, vec![config("eng", "", "cpus:1")]);
    expect_error(reply, 400, "is already consuming 'cpus:1.5; mem:64'");
}

#[test]
fn reservations_count_as_consumed_and_are_always_offered_to_their_role() {
    let mut sim = Sim::new();
    sim.register_agent("cpus(dev):2;cpus:2;mem:1024");
    assert_eq!(
        sim.m.quota_consumed("dev")["cpus"],
        2.0,
        "an unused reservation"
    );
    let (reply, _) = update(&mut sim, false, vec![config("dev", "", "cpus:1")]);
    expect_error(reply, 400, "is already consuming 'cpus:2'");
    let (reply, _) = update(&mut sim, true, vec![config("dev", "", "cpus:1")]);
    assert_eq!(reply, Reply::Ok);
    let (dev, effects) = subscribe_role(&mut sim, "dev");
    let offer = offers(&effects, dev.conn).pop().expect("an offer");
    let reserved: f64 = offer
        .resources
        .iter()
        .filter(|r| r.name == "cpus" && resources::is_reserved(r))
        .map(|r| r.scalar.as_ref().map_or(0.0, |s| s.value))
        .sum();
    assert_eq!(reserved, 2.0, "its reservation: {offer:?}");
    assert_eq!(cpus(&offer), 2.0, "and no unreserved cpus beyond the limit");
    let (other, effects) = subscribe_role(&mut sim, "*");
    let rest = offers(&effects, other.conn).pop().expect("the rest");
    assert_eq!(cpus(&rest), 2.0);
}

#[test]
fn tasks_coming_back_over_a_limit_get_the_roles_offers_rescinded() {
    let mut sim = Sim::new();
    sim.register_agent_at("h0", 5052, "cpus:4;mem:4096");
    let (reply, _) = update(&mut sim, false, vec![config("dev", "", "cpus:2")]);
    assert_eq!(reply, Reply::Ok);
    let (dev, effects) = subscribe_role(&mut sim, "dev");
    let offer = offers(&effects, dev.conn).pop().expect("an offer");
    assert_eq!(cpus(&offer), 2.0);
    // An agent the master did not know comes back running one of dev's tasks.
    let running = v1::Task {
        name: "back".into(),
        task_id: v1::TaskId {
            value: "back".into(),
        },
        framework_id: v1::FrameworkId {
            value: dev.id.clone(),
        },
        agent_id: v1::AgentId {
            value: "M-S77".into(),
        },
        state: v1::TaskState::TaskRunning as i32,
        resources: resources::allocate(&resources::parse("cpus:1;mem:32").unwrap(), "dev"),
        ..Default::default()
    };
    let (_, effects) = sim.reregister_agent("M-S77", "cpus:2;mem:1024", vec![running], vec![]);
    assert_eq!(
        resources::scalar(sim.m.ledger().used_by_role("dev"), "cpus"),
        1.0,
        "the task counts for dev"
    );
    assert!(
        event_types(&effects, dev.conn).contains(&v1::scheduler::event::Type::Rescind),
        "dev's offer beyond its limit is taken back"
    );
    let held: f64 = sim
        .m
        .offers()
        .values()
        .filter(|o| o.role == "dev")
        .map(|o| resources::scalar(&o.offer.resources, "cpus"))
        .sum();
    assert!(
        held <= 1.0,
        "dev is offered at most its remaining cpu: {held}"
    );
}

#[test]
fn the_guarantee_stage_serves_only_what_is_lacking_and_drf_shares_the_rest() {
    let mut sim = Sim::new();
    sim.register_agent("cpus:4;mem:4096");
    let (gold, _) = subscribe_role(&mut sim, "gold");
    let (star, _) = subscribe_role(&mut sim, "*");
    // gold holds the whole agent; the guarantee comes later and gold declines.
    let ids: Vec<v1::OfferId> = sim
        .m
        .offers()
        .values()
        .map(|o| o.offer.id.clone())
        .collect();
    let (reply, _) = update(&mut sim, false, vec![config("gold", "cpus:1;mem:512", "")]);
    assert_eq!(reply, Reply::Ok);
    let decline = v1::scheduler::Call {
        r#type: Some(v1::scheduler::call::Type::Decline as i32),
        decline: Some(v1::scheduler::call::Decline {
            offer_ids: ids,
            filters: Some(v1::Filters {
                refuse_seconds: Some(0.0),
            }),
        }),
        ..Default::default()
    };
    let (_, mut effects) = sim.call(&gold, decline);
    effects.extend(sim.advance(1_000));
    let gold_cpus: f64 = offers(&effects, gold.conn).iter().map(cpus).sum();
    let star_cpus: f64 = offers(&effects, star.conn).iter().map(cpus).sum();
    assert_eq!(
        gold_cpus, 1.0,
        "the guarantee, then DRF picks the lower share"
    );
    assert_eq!(star_cpus, 3.0);
}
