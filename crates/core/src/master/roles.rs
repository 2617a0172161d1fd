//! GET_ROLES (and `/master/roles`): the roles the master knows, as Mesos listed them: every
//! role a framework is subscribed to, and `*`, each with its weight
//! (Drover has no `--weights`/UPDATE_WEIGHTS, so every weight is Mesos' default 1.0), its
//! frameworks, and the resources allocated or offered to it.

use std::collections::BTreeMap;

use drover_wire::v1;

use super::Master;
use crate::resources;

/// Mesos' default role weight.
pub const DEFAULT_WEIGHT: f64 = 1.0;

impl Master {
    /// The known roles in name order.
    pub fn get_roles(&self) -> Vec<v1::Role> {
        let mut roles: BTreeMap<String, v1::Role> = BTreeMap::new();
        let entry = |roles: &mut BTreeMap<String, v1::Role>, name: &str| {
            roles
                .entry(name.to_owned())
                .or_insert_with(|| v1::Role {
                    name: name.to_owned(),
                    weight: DEFAULT_WEIGHT,
                    frameworks: Vec::new(),
                    resources: Vec::new(),
                })
                .clone()
        };
        entry(&mut roles, "*");
        let mut held: BTreeMap<String, Vec<v1::Resource>> = BTreeMap::new();
        for (id, fw) in &self.frameworks {
            for role in fw.roles() {
                entry(&mut roles, &role);
                if let Some(r) = roles.get_mut(&role) {
                    r.frameworks.push(v1::FrameworkId { value: id.clone() });
                }
            }
            for task in fw.tasks.values() {
                if !crate::task::state::releases_resources(task.state()) {
                    held.entry(task.role.clone())
                        .or_default()
                        .extend(resources::unallocate(&task.task.resources));
                }
            }
        }
        for offer in self.offers.values() {
            held.entry(offer.role.clone())
                .or_default()
                .extend(resources::unallocate(&offer.offer.resources));
        }
        for (name, list) in held {
            entry(&mut roles, &name);
            if let Some(r) = roles.get_mut(&name) {
                r.resources = resources::normalize(&list);
            }
        }
        roles.into_values().collect()
    }
}
