//! Events Marathon publishes around app changes (issue 12 item 8): `group_change_success` for
//! the app's group after each change's plan has started.

use crate::marathon_support;

use drover_core::marathon::event::Event;
use drover_core::marathon::scheduler::{Command, Effect, Input};
use marathon_support::{Harness, app, event_types};

#[test]
fn each_app_change_publishes_group_change_success_for_its_group() {
    let mut h = Harness::new();
    let effects = h.step(Input::Command(Command::CreateApp {
        app: app("/prod/web", 1),
        force: false,
    }));
    let types = event_types(&effects);
    let info = types.iter().position(|t| *t == "deployment_info");
    let changed = types.iter().position(|t| *t == "group_change_success");
    assert!(info.is_some() && changed > info, "{types:?}");
    let group = effects.iter().find_map(|e| match e {
        Effect::Publish(Event::GroupChangeSuccess { group_id, .. }) => {
            Some(group_id.as_str().to_owned())
        }
        _ => None,
    });
    assert_eq!(group.as_deref(), Some("/prod"));

    let effects = h.step(Input::Command(Command::DeleteApp {
        app_id: drover_core::marathon::path::PathId::parse_app_id("/prod/web").unwrap(),
        force: true,
    }));
    assert!(event_types(&effects).contains(&"group_change_success"));

    // A refused change publishes nothing.
    let effects = h.step(Input::Command(Command::DeleteApp {
        app_id: drover_core::marathon::path::PathId::parse_app_id("/nope").unwrap(),
        force: true,
    }));
    assert!(!event_types(&effects).contains(&"group_change_success"));
}
