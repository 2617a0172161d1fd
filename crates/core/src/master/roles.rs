//! GET_ROLES (and `/master/roles`): the roles the master knows, as Mesos listed them: every
//! role a framework is subscribed to or holds resources in, every role with a quota, and `*`, each with its weight
//! (Drover has no `--weights`/UPDATE_WEIGHTS, so every weight is Mesos' default 1.0), its
//! frameworks, and the resources allocated (to live tasks) and offered to it.

use std::collections::BTreeMap;

use drover_wire::v1;

use super::Master;
use crate::resources;

/// Mesos' default role weight.
pub const DEFAULT_WEIGHT: f64 = 1.0;

/// One role with its resources split as `/master/roles` shows them.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleView {
    /// The name.
    pub name: String,
    /// Its weight.
    pub weight: f64,
    /// Frameworks subscribed to it, in id order.
    pub frameworks: Vec<String>,
    /// What its live tasks hold.
    pub allocated: Vec<v1::Resource>,
    /// What outstanding offers to it hold.
    pub offered: Vec<v1::Resource>,
}

impl Master {
    /// The known roles in name order, split into allocated and offered.
    pub fn role_views(&self) -> Vec<RoleView> {
        let mut roles: BTreeMap<String, RoleView> = BTreeMap::new();
        fn entry<'a>(roles: &'a mut BTreeMap<String, RoleView>, name: &str) -> &'a mut RoleView {
            roles.entry(name.to_owned()).or_insert_with(|| RoleView {
                name: name.to_owned(),
                weight: DEFAULT_WEIGHT,
                frameworks: Vec::new(),
                allocated: Vec::new(),
                offered: Vec::new(),
            })
        }
        entry(&mut roles, "*");
        for role in self.registry.quotas.keys() {
            entry(&mut roles, role);
        }
        for (id, fw) in &self.frameworks {
            for role in fw.roles() {
                entry(&mut roles, &role).frameworks.push(id.clone());
            }
            for task in fw.tasks.values() {
                if !crate::task::state::releases_resources(task.state()) {
                    entry(&mut roles, &task.role)
                        .allocated
                        .extend(resources::unallocate(&task.task.resources));
                }
            }
        }
        for offer in self.offers.values() {
            entry(&mut roles, &offer.role)
                .offered
                .extend(resources::unallocate(&offer.offer.resources));
        }
        roles
            .into_values()
            .map(|mut r| {
                r.allocated = resources::normalize(&r.allocated);
                r.offered = resources::normalize(&r.offered);
                r
            })
            .collect()
    }

    /// GET_ROLES: `resources` is what is allocated or offered to the role, as Mesos showed.
    pub fn get_roles(&self) -> Vec<v1::Role> {
        self.role_views()
            .into_iter()
            .map(|r| v1::Role {
                resources: resources::add(&r.allocated, &r.offered),
                name: r.name,
                weight: r.weight,
                frameworks: r
                    .frameworks
                    .into_iter()
                    .map(|value| v1::FrameworkId { value })
                    .collect(),
            })
            .collect()
    }
}
