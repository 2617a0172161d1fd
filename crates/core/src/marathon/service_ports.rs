//! Service ports: Marathon gives each `portDefinitions[].port: 0` a port from
//! `--local_port_min`..`--local_port_max` (10000–20000) that no other app holds, keeps an
//! app's ports across updates, and leaves ports the user chose alone. Bridged Docker apps
//! get theirs the same way in `container.portMappings[].servicePort`. Service discovery
//! (marathon-lb and the like) binds these ports; `requirePorts` makes them the host ports too.

use std::collections::BTreeSet;

use super::app::{AppSpec, Violation};
use super::container::AppContainer;

/// Marathon's defaults for `--local_port_min` and `--local_port_max` (the range is half-open).
pub const DEFAULT_RANGE: (u32, u32) = (10_000, 20_000);

/// Replaces each `port: 0` of `app` by a service port: the one the previous version had at the
/// same index if it still is free, else the lowest port of `range` that no other app (in
/// `taken`) and no other definition of this app uses. Refused when the range is exhausted.
pub fn assign(
    app: &mut AppSpec,
    previous: Option<&AppSpec>,
    taken: &BTreeSet<u32>,
    range: (u32, u32),
) -> Result<(), Violation> {
    let kept_ports = previous.map(AppSpec::service_ports).unwrap_or_default();
    let mapped = app.uses_port_mappings();
    // The service port slots: `portDefinitions[].port`, or with container networking
    // `container.portMappings[].servicePort` (what marathon-lb binds for bridged apps).
    let mut slots: Vec<(String, &mut u32)> = match &mut app.container {
        Some(AppContainer::Docker(docker)) if mapped => docker
            .port_mappings
            .iter_mut()
            .enumerate()
            .map(|(i, m)| {
                (
                    format!("/container/portMappings/{i}/servicePort"),
                    &mut m.service_port,
                )
            })
            .collect(),
        _ => app
            .port_definitions
            .iter_mut()
            .enumerate()
            .map(|(i, d)| (format!("/portDefinitions({i})/port"), &mut d.port))
            .collect(),
    };
    let mut used: BTreeSet<u32> = taken.clone();
    used.extend(slots.iter().map(|(_, p)| **p).filter(|p| *p != 0));
    let (min, max) = range;
    let mut next = min;
    for (i, (path, slot)) in slots.iter_mut().enumerate() {
        if **slot != 0 {
            continue;
        }
        let kept = kept_ports
            .get(i)
            .copied()
            .filter(|p| *p != 0 && !used.contains(p));
        let port = match kept {
            Some(port) => port,
            None => {
                while next < max && used.contains(&next) {
                    next += 1;
                }
                if next >= max {
                    return Err(Violation::new(
                        path.clone(),
                        format!(
                            "All service ports in the range [{min}, {max}) are in use \
                             (--local_port_min/--local_port_max)"
                        ),
                    ));
                }
                next
            }
        };
        used.insert(port);
        **slot = port;
    }
    Ok(())
}
