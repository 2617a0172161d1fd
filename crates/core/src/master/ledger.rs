//! Running sums of what is allocated: per agent, what live tasks use and what outstanding
//! offers hold; per framework, the scalars its live tasks and offers hold; per role, the
//! scalars its live tasks use and its offers hold (what quota counts).
//!
//! The allocator needs these sums for every agent and eligible framework in each pass. Summing
//! them by a scan cloned every task's resources, O(tasks) per pass: at 100,000 tasks a pass
//! took about a second, and a framework holding offers (which keeps the allocator running
//! every interval) starved status updates (issue 8, G8). The sums are kept here instead,
//! updated where a task starts or stops holding resources and where an offer is made or
//! taken, so a pass is O(agents + frameworks). Scalars are fixed-point to three decimals
//! ([`resources::round_scalar`]), so adding and subtracting in any order gives the same sums
//! a scan does; [`Master::check_ledger`] compares them after every step in tests and the
//! simulator.

use std::collections::BTreeMap;

use drover_wire::v1;

use super::Master;
use crate::resources;
use crate::task::state::releases_resources;

/// Allocated resources by agent and by framework, normalized and without allocation info.
/// Framework sums keep scalars only: DRF shares count nothing else, and ranges or sets held
/// on different agents (the same ports on two machines) do not add up.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ledger {
    agent_used: BTreeMap<String, Vec<v1::Resource>>,
    agent_offered: BTreeMap<String, Vec<v1::Resource>>,
    framework_held: BTreeMap<String, Vec<v1::Resource>>,
    role_used: BTreeMap<String, Vec<v1::Resource>>,
    role_offered: BTreeMap<String, Vec<v1::Resource>>,
}

/// The role resources are allocated to (their `allocation_info`), `*` if they carry none, as
/// a task's entry names it.
fn allocation_role(list: &[v1::Resource]) -> &str {
    list.iter()
        .find_map(|r| r.allocation_info.as_ref().and_then(|a| a.role.as_deref()))
        .unwrap_or(resources::DEFAULT_ROLE)
}

/// Adds `delta` (only its scalars, with `only_scalars`) to the sum under `key`. In place and
/// without `allocation_info` on what is appended: the same sum as `add(sum,
/// &unallocate(delta))` (issue 20, G2: that cloned the delta and the sum on every offer).
fn credit(
    sums: &mut BTreeMap<String, Vec<v1::Resource>>,
    key: &str,
    delta: &[v1::Resource],
    only_scalars: bool,
) {
    let delta = delta
        .iter()
        .filter(|r| !only_scalars || resources::is_scalar(r));
    match sums.get_mut(key) {
        Some(sum) => resources::add_into(sum, delta, true),
        None => {
            let mut sum = Vec::with_capacity(delta.size_hint().1.unwrap_or(0));
            resources::add_into(&mut sum, delta, true);
            if !sum.is_empty() {
                sums.insert(key.to_owned(), sum);
            }
        }
    }
}

/// Subtracts `delta` from the sum under `key`; a sum that reaches nothing is dropped, so
/// memory follows what is allocated. Subtraction ignores `allocation_info`, and cutting a
/// non-scalar from a sum of scalars changes nothing, so `delta` is used as it is.
fn debit(sums: &mut BTreeMap<String, Vec<v1::Resource>>, key: &str, delta: &[v1::Resource]) {
    if let Some(sum) = sums.get_mut(key) {
        resources::subtract_from(sum, delta);
        if sum.is_empty() {
            sums.remove(key);
        }
    }
}

impl Ledger {
    /// A live task on `agent_id` of `framework_id` now holds `task_resources`.
    pub fn hold_task(
        &mut self,
        agent_id: &str,
        framework_id: &str,
        task_resources: &[v1::Resource],
    ) {
        let role = allocation_role(task_resources);
        credit(&mut self.agent_used, agent_id, task_resources, false);
        credit(&mut self.framework_held, framework_id, task_resources, true);
        credit(&mut self.role_used, role, task_resources, true);
    }

    /// A live task no longer holds `task_resources` (it ended, became unreachable or left).
    pub fn release_task(
        &mut self,
        agent_id: &str,
        framework_id: &str,
        task_resources: &[v1::Resource],
    ) {
        let role = allocation_role(task_resources);
        debit(&mut self.agent_used, agent_id, task_resources);
        debit(&mut self.framework_held, framework_id, task_resources);
        debit(&mut self.role_used, role, task_resources);
    }

    /// Accounts a task whose state changed from `before` to `after` (both live).
    pub fn task_state_changed(
        &mut self,
        task: &v1::Task,
        before: v1::TaskState,
        after: v1::TaskState,
    ) {
        match (releases_resources(before), releases_resources(after)) {
            (false, true) => self.release_task(
                &task.agent_id.value,
                &task.framework_id.value,
                &task.resources,
            ),
            (true, false) => self.hold_task(
                &task.agent_id.value,
                &task.framework_id.value,
                &task.resources,
            ),
            _ => {}
        }
    }

    /// An offer of `offer_resources` on `agent_id` went to `framework_id`.
    pub fn hold_offer(
        &mut self,
        agent_id: &str,
        framework_id: &str,
        offer_resources: &[v1::Resource],
    ) {
        let role = allocation_role(offer_resources);
        credit(&mut self.agent_offered, agent_id, offer_resources, false);
        credit(
            &mut self.framework_held,
            framework_id,
            offer_resources,
            true,
        );
        credit(&mut self.role_offered, role, offer_resources, true);
    }

    /// That offer was used, declined or rescinded.
    pub fn release_offer(
        &mut self,
        agent_id: &str,
        framework_id: &str,
        offer_resources: &[v1::Resource],
    ) {
        let role = allocation_role(offer_resources);
        debit(&mut self.agent_offered, agent_id, offer_resources);
        debit(&mut self.framework_held, framework_id, offer_resources);
        debit(&mut self.role_offered, role, offer_resources);
    }

    /// What live tasks use on the agent (executors not included).
    pub fn used_by_tasks(&self, agent_id: &str) -> &[v1::Resource] {
        self.agent_used.get(agent_id).map_or(&[], |v| &v[..])
    }

    /// What outstanding offers hold on the agent.
    pub fn offered(&self, agent_id: &str) -> &[v1::Resource] {
        self.agent_offered.get(agent_id).map_or(&[], |v| &v[..])
    }

    /// The scalars the framework's live tasks and offers hold.
    pub fn held_by(&self, framework_id: &str) -> &[v1::Resource] {
        self.framework_held
            .get(framework_id)
            .map_or(&[], |v| &v[..])
    }

    /// The scalars live tasks allocated to `role` use.
    pub fn used_by_role(&self, role: &str) -> &[v1::Resource] {
        self.role_used.get(role).map_or(&[], |v| &v[..])
    }

    /// The scalars outstanding offers to `role` hold.
    pub fn offered_to_role(&self, role: &str) -> &[v1::Resource] {
        self.role_offered.get(role).map_or(&[], |v| &v[..])
    }

    /// The scalars live tasks of `role` and of its subroles (`role/…`) use: what a quota on
    /// `role` counts, as Mesos counted a role's subtree. O(log roles + subroles).
    pub fn used_by_role_tree(&self, role: &str) -> Vec<v1::Resource> {
        tree_sum(&self.role_used, role)
    }

    /// The scalars outstanding offers to `role` and its subroles hold.
    pub fn offered_to_role_tree(&self, role: &str) -> Vec<v1::Resource> {
        tree_sum(&self.role_offered, role)
    }
}

/// The sum under `role` and under every key below `role/`.
fn tree_sum(sums: &BTreeMap<String, Vec<v1::Resource>>, role: &str) -> Vec<v1::Resource> {
    let mut out = sums.get(role).cloned().unwrap_or_default();
    let prefix = format!("{role}/");
    for (_, sum) in sums
        .range(prefix.clone()..)
        .take_while(|(key, _)| key.starts_with(&prefix))
    {
        out = resources::add(&out, sum);
    }
    out
}

/// Whether two normalized lists hold the same resources, whatever their order.
fn same(a: &[v1::Resource], b: &[v1::Resource]) -> bool {
    resources::contains(a, b) && resources::contains(b, a)
}

impl Master {
    /// The running sums, for the allocator and views.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Checks the running sums against a scan of tasks and offers.
    pub(super) fn check_ledger(&self) -> Result<(), String> {
        let mut by_scan = Ledger::default();
        for (fw_id, fw) in &self.frameworks {
            for entry in fw.tasks.values() {
                if !releases_resources(entry.state()) {
                    by_scan.hold_task(&entry.task.agent_id.value, fw_id, &entry.task.resources);
                }
            }
        }
        for pending in self.authorizing.pending() {
            by_scan.hold_offer(&pending.agent_id, &pending.framework_id, &pending.offered);
        }
        for offer in self.offers.values() {
            by_scan.hold_offer(
                &offer.offer.agent_id.value,
                &offer.offer.framework_id.value,
                &offer.offer.resources,
            );
        }
        let pairs = [
            (
                "used on agent",
                &self.ledger.agent_used,
                &by_scan.agent_used,
            ),
            (
                "offered on agent",
                &self.ledger.agent_offered,
                &by_scan.agent_offered,
            ),
            (
                "held by framework",
                &self.ledger.framework_held,
                &by_scan.framework_held,
            ),
            ("used by role", &self.ledger.role_used, &by_scan.role_used),
            (
                "offered to role",
                &self.ledger.role_offered,
                &by_scan.role_offered,
            ),
        ];
        for (what, kept, scanned) in pairs {
            let keys: std::collections::BTreeSet<&String> =
                kept.keys().chain(scanned.keys()).collect();
            for key in keys {
                let k = kept.get(key).map_or(&[][..], |v| &v[..]);
                let s = scanned.get(key).map_or(&[][..], |v| &v[..]);
                if !same(k, s) {
                    return Err(format!(
                        "{what} {key}: the ledger has {}, a scan {}",
                        resources::display(k),
                        resources::display(s)
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_follow_holds_and_releases_and_drop_to_nothing() {
        let mut ledger = Ledger::default();
        let a = resources::parse("cpus:0.1;mem:32;ports:[31000-31000]").unwrap();
        let b = resources::parse("cpus:0.2;mem:64;ports:[31001-31001]").unwrap();
        ledger.hold_task("a1", "fw1", &a);
        ledger.hold_task("a1", "fw2", &b);
        ledger.hold_offer("a1", "fw1", &b);
        assert!(same(
            ledger.used_by_tasks("a1"),
            &resources::parse("cpus:0.3;mem:96;ports:[31000-31001]").unwrap()
        ));
        assert!(same(
            ledger.held_by("fw1"),
            &resources::parse("cpus:0.3;mem:96").unwrap()
        ));
        // The same ports on two agents: each agent's sum keeps its own.
        ledger.hold_task("a2", "fw1", &a);
        ledger.release_task("a2", "fw1", &a);
        assert!(same(
            ledger.used_by_tasks("a1"),
            &resources::parse("cpus:0.3;mem:96;ports:[31000-31001]").unwrap()
        ));
        ledger.release_task("a1", "fw1", &a);
        assert!(same(ledger.used_by_tasks("a1"), &b));
        ledger.release_task("a1", "fw2", &b);
        ledger.release_offer("a1", "fw1", &b);
        assert_eq!(ledger, Ledger::default());
    }

    #[test]
    fn thousandths_add_and_subtract_exactly() {
        let mut ledger = Ledger::default();
        let tenth = resources::parse("cpus:0.1").unwrap();
        for _ in 0..1000 {
            ledger.hold_task("a1", "fw1", &tenth);
        }
        assert_eq!(resources::scalar(ledger.used_by_tasks("a1"), "cpus"), 100.0);
        for _ in 0..1000 {
            ledger.release_task("a1", "fw1", &tenth);
        }
        assert_eq!(ledger, Ledger::default());
    }
}
