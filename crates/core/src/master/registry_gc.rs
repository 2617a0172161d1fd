//! Pruning the registry's lists of unreachable and gone agents, as Mesos' master did every
//! `--registry_gc_interval`: entries older than `--registry_max_agent_age` go, then the
//! oldest beyond `--registry_max_agent_count` (each list on its own). Without it both lists
//! grow for the life of the cluster, and every agent that ever went away costs the registry
//! and every `/master/state` a record.

use super::registry::RegistryOp;
use super::{Effect, Master};

impl Master {
    /// One pass, due at `now_ms`; schedules the next.
    pub(super) fn registry_gc(&mut self, now_ms: u64, out: &mut Vec<Effect>) {
        self.next_registry_gc_ms = now_ms.saturating_add(self.config.registry_gc_interval_ms);
        let unreachable = select(
            self.registry
                .unreachable
                .iter()
                .map(|(id, u)| (id.as_str(), u.time_ms)),
            now_ms,
            &self.config,
        );
        let gone = select(
            self.registry
                .gone
                .iter()
                .map(|(id, time)| (id.as_str(), *time)),
            now_ms,
            &self.config,
        );
        if unreachable.is_empty() && gone.is_empty() {
            return;
        }
        out.push(Effect::Warn(format!(
            "Pruning {} unreachable and {} gone agents from the registry \
             (--registry_max_agent_age, --registry_max_agent_count)",
            unreachable.len(),
            gone.len()
        )));
        // Their unreachable tasks are forgotten with them, as in Mesos: nothing is sent, and a
        // framework reconciling one hears TASK_UNKNOWN (or TASK_LOST), as for any task on an
        // agent the master does not know.
        for fw in self.frameworks.values_mut() {
            fw.unreachable_tasks.retain(|_, entry| {
                unreachable
                    .binary_search(&entry.task.agent_id.value)
                    .is_err()
            });
        }
        self.persist(RegistryOp::PruneAgents { unreachable, gone }, out);
    }
}

/// The ids to prune from one list of (id, time marked): every entry older than the age
/// limit, then the oldest (ties by id) until at most the count limit remain.
fn select<'a>(
    entries: impl Iterator<Item = (&'a str, u64)>,
    now_ms: u64,
    config: &super::Config,
) -> Vec<String> {
    let mut by_age: Vec<(u64, &str)> = entries.map(|(id, time)| (time, id)).collect();
    by_age.sort_unstable();
    let too_old = by_age
        .iter()
        .take_while(|(time, _)| now_ms.saturating_sub(*time) > config.registry_max_agent_age_ms)
        .count();
    let over = by_age.len().saturating_sub(config.registry_max_agent_count);
    let mut ids: Vec<String> = by_age[..too_old.max(over)]
        .iter()
        .map(|(_, id)| (*id).to_owned())
        .collect();
    ids.sort_unstable();
    ids
}
