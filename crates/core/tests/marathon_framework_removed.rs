//! The master removed the scheduler's framework (issue 12 item 12): every task of it is gone,
//! so its instances are expunged (seed 2, "Unknown": expunge and start a new one), the old
//! framework id is forgotten, and the replacements launch once a new framework subscribes.

use crate::marathon_support;

use drover_core::marathon::scheduler::{Change, Effect, Input};
use marathon_support::*;

#[test]
fn removal_expunges_tasked_instances_forgets_the_id_and_relaunches_after_resubscribing() {
    let mut h = Harness::new();
    h.create(app("/web", 2));
    let old = h.run_all("agent-1");
    assert_eq!(old.len(), 2);
    assert_eq!(h.s.framework_id(), Some("fw-1"));

    let effects = h.step(Input::FrameworkRemoved);
    assert_eq!(h.s.framework_id(), None);
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Persist(Change::FrameworkId))),
        "the forgotten id is persisted: {effects:?}"
    );
    // No kill goes to a master that no longer knows these tasks.
    assert!(kills(&effects).is_empty(), "{effects:?}");
    let instances = h.instances("/web");
    assert_eq!(
        instances.len(),
        2,
        "replacements scheduled at the instance count"
    );
    assert!(
        instances.iter().all(|i| !i.has_task()),
        "no instance keeps a task of the removed framework: {instances:?}"
    );

    h.step(Input::Subscribed {
        framework_id: "fw-2".into(),
    });
    assert_eq!(h.s.framework_id(), Some("fw-2"));
    let new = h.run_all("agent-1");
    assert_eq!(new.len(), 2);
    assert!(new.iter().all(|t| !old.contains(t)), "{new:?} vs {old:?}");
    assert_eq!(
        h.conditions("/web"),
        vec![
            drover_core::marathon::condition::Condition::Running,
            drover_core::marathon::condition::Condition::Running
        ]
    );
}
