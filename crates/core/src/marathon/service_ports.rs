//! Service ports: Marathon gives each `portDefinitions[].port: 0` a port from
//! `--local_port_min`..`--local_port_max` (10000–20000) that no other app holds, keeps an
//! app's ports across updates, and leaves ports the user chose alone. Service discovery
//! (marathon-lb and the like) binds these ports; `requirePorts` makes them the host ports too.

use std::collections::BTreeSet;

use super::app::{AppSpec, Violation};

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
    let mut used: BTreeSet<u32> = taken.clone();
    used.extend(
        app.port_definitions
            .iter()
            .map(|d| d.port)
            .filter(|p| *p != 0),
    );
    let (min, max) = range;
    let mut next = min;
    for i in 0..app.port_definitions.len() {
        if app.port_definitions[i].port != 0 {
            continue;
        }
        let kept = previous
            .and_then(|p| p.port_definitions.get(i))
            .map(|d| d.port)
            .filter(|p| *p != 0 && !used.contains(p));
        let port = match kept {
            Some(port) => port,
            None => {
                while next < max && used.contains(&next) {
                    next += 1;
                }
                if next >= max {
                    return Err(Violation::new(
                        format!("/portDefinitions({i})/port"),
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
        app.port_definitions[i].port = port;
    }
    Ok(())
}
