//! The checks that read the cluster's state endpoints: sampled during the run (at most one
//! acting leader; no app or the plain framework running more copies than its policy allows),
//! and at the end, convergence (every acknowledged app at its count, running and healthy, no
//! deployment left; the master, the agents, Marathon and the plain framework agree on every
//! task; nothing acknowledged lost). A failed convergence probe says what still differs.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use drover_core::task::TaskState;
use serde_json::Value;

use crate::http::Http;
use crate::journal::Journal;
use crate::plain::PlainView;

/// Where the checks look.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// `http://host:port` of each master.
    pub masters: Vec<String>,
    /// The base URL of the Marathon the convergence probe asks (a follower proxies).
    pub marathon: String,
    /// Each agent's base URL.
    pub agents: Vec<String>,
}

const LIVE: &[&str] = &[
    "TASK_STAGING",
    "TASK_STARTING",
    "TASK_RUNNING",
    "TASK_KILLING",
];

/// Live tasks the master lists: task id → (framework id, agent id, state).
fn master_tasks(state: &Value) -> BTreeMap<String, (String, String, String)> {
    let mut out = BTreeMap::new();
    for fw in state["frameworks"].as_array().into_iter().flatten() {
        for t in fw["tasks"].as_array().into_iter().flatten() {
            let s = t["state"].as_str().unwrap_or_default();
            if LIVE.contains(&s) {
                out.insert(
                    t["id"].as_str().unwrap_or_default().to_owned(),
                    (
                        t["framework_id"].as_str().unwrap_or_default().to_owned(),
                        t["slave_id"].as_str().unwrap_or_default().to_owned(),
                        s.to_owned(),
                    ),
                );
            }
        }
    }
    out
}

/// The app a Marathon task id belongs to (`soak_web.<uuid>` → `/soak/web`).
fn app_of(task_id: &str) -> String {
    let prefix = task_id.split('.').next().unwrap_or(task_id);
    format!("/{}", prefix.replace('_', "/"))
}

/// How long after an agent's return its old copies may still run (the framework hears of
/// them on reregistration and kills them; Marathon also waits for its reconciliation).
pub const RETURN_WINDOW: Duration = Duration::from_secs(60);

/// What the last [`RETURN_WINDOW`] saw: the number of disrupted agents, and each app's
/// acknowledged instance count.
#[derive(Debug, Default)]
pub struct Window {
    agents: std::collections::VecDeque<(tokio::time::Instant, usize)>,
    apps: BTreeMap<String, std::collections::VecDeque<(tokio::time::Instant, usize)>>,
}

/// Appends `n` at `now`, drops what is older than the window, returns the window's maximum.
fn note_in(
    samples: &mut std::collections::VecDeque<(tokio::time::Instant, usize)>,
    now: tokio::time::Instant,
    n: usize,
) -> usize {
    samples.push_back((now, n));
    while samples
        .front()
        .is_some_and(|(at, _)| now.duration_since(*at) > RETURN_WINDOW)
    {
        samples.pop_front();
    }
    samples.iter().map(|(_, n)| *n).max().unwrap_or(0)
}

impl Window {
    /// Notes `n` disrupted agents now; returns the most seen within the window.
    pub fn note(&mut self, n: usize) -> usize {
        note_in(&mut self.agents, tokio::time::Instant::now(), n)
    }

    /// Notes `app`'s acknowledged instance count now; returns the highest within the window.
    /// After a scale-down the old copies run until Marathon's kills land, and an agent that
    /// returns may bring back copies of the old count, so the bound is the recent maximum,
    /// not the latest count.
    pub fn note_app(&mut self, app: &str, instances: usize) -> usize {
        self.note_app_at(app, instances, tokio::time::Instant::now())
    }

    fn note_app_at(&mut self, app: &str, instances: usize, now: tokio::time::Instant) -> usize {
        let samples = self.apps.entry(app.to_owned()).or_default();
        note_in(samples, now, instances)
    }
}

/// Whether a master's `/master/state` says it leads.
fn leads(state: &Value) -> bool {
    state["leader"].is_string() && state["leader"] == state["pid"]
}

/// One sample of the run-time invariants. `leader` is set to the index of the master that
/// says it leads (for the nemesis), or `usize::MAX` when none answers as leader.
pub async fn sample(
    http: &Http,
    at: &Endpoints,
    journal: &Journal,
    plain: &PlainView,
    window: &mut Window,
    leader: &AtomicUsize,
) {
    let mut leaders = Vec::new();
    let mut state = None;
    for (i, m) in at.masters.iter().enumerate() {
        if let Ok(s) = http.get_json(&format!("{m}/master/state")).await {
            if leads(&s) {
                leaders.push(m.clone());
                leader.store(i, Ordering::Relaxed);
                state = Some(s);
            } else if at.masters.len() == 1 {
                state = Some(s);
            }
        }
    }
    journal.count("sample");
    if leaders.is_empty() {
        leader.store(usize::MAX, Ordering::Relaxed);
    }
    if leaders.len() > 1 {
        journal.violation(format!("{} acting leaders: {leaders:?}", leaders.len()));
    }
    let Some(state) = state else { return };
    // Copies per app. Marathon's default upgrade strategy (maximumOverCapacity 1) allows up
    // to twice the instances during a deployment; a task on an agent the master lost touch
    // with is replaced, so it may run beside its replacement until the agent returns.
    let apps = journal.apps();
    let mut copies: BTreeMap<String, usize> = BTreeMap::new();
    let plain_id = plain.id();
    let mut plain_copies = 0;
    for (id, (fw, _, _)) in master_tasks(&state) {
        if Some(&fw) == plain_id.as_ref() {
            plain_copies += 1;
        } else {
            *copies.entry(app_of(&id)).or_default() += 1;
        }
    }
    // Agents the master lost touch with lately: disconnected (listed inactive) or marked
    // unreachable (`unreachable_slaves` is a count). A task on such an agent is replaced, and
    // when the agent returns the old copy runs beside its replacement until the framework
    // kills it (Mesos ≥ 1.5 keeps a non-partition-aware framework's tasks on reregistration),
    // so the allowance holds for a window after the agent is back.
    let disrupted = state["unreachable_slaves"].as_u64().unwrap_or(0) as usize
        + state["slaves"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| s["active"] == false)
            .count();
    let unreachable = window.note(disrupted);
    for (app, n) in copies {
        let Some(acked) = apps.get(&app) else {
            continue;
        };
        // A change acknowledged within the window may not have been sampled yet: the count
        // before it still bounds the copies (found by a 30-minute soak: a scale-down
        // acknowledged in the same instant as the sample).
        let before = acked
            .previous
            .filter(|(_, at)| at.elapsed() <= RETURN_WINDOW)
            .map(|(n, _)| Some(n));
        let most = acked
            .uncertain
            .iter()
            .chain(std::iter::once(&acked.instances))
            .chain(before.iter())
            .map(|i| i.unwrap_or(0))
            .max()
            .unwrap_or(0) as usize;
        let most = window.note_app(&app, most);
        let allowed = 2 * most + unreachable * most;
        if n > allowed && most > 0 {
            journal.violation(format!(
                "app {app} has {n} live copies at the master; its policy allows {allowed}"
            ));
        }
    }
    let allowed = plain.want + unreachable * plain.want;
    if plain_copies > allowed {
        journal.violation(format!(
            "the plain framework has {plain_copies} live tasks at the master; it wants {}",
            plain.want
        ));
    }
}

/// One convergence probe: Ok when everything agrees.
pub async fn converged(
    http: &Http,
    at: &Endpoints,
    journal: &Journal,
    plain: &PlainView,
) -> anyhow::Result<()> {
    let mut state = None;
    for m in &at.masters {
        if let Ok(s) = http.get_json(&format!("{m}/master/state")).await
            && (leads(&s) || at.masters.len() == 1)
        {
            state = Some(s);
            break;
        }
    }
    let state = state.context("no master answers as the leader")?;
    let active = state["slaves"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["active"] == true)
        .count();
    if active != at.agents.len() {
        bail!(
            "{active} of {} agents active at the master",
            at.agents.len()
        );
    }
    let at_master = master_tasks(&state);
    // What the agents run.
    let mut on_agents: BTreeMap<String, String> = BTreeMap::new();
    for a in &at.agents {
        let s = http
            .get_json(&format!("{a}/state"))
            .await
            .with_context(|| format!("agent {a}"))?;
        for fw in s["frameworks"].as_array().into_iter().flatten() {
            for ex in fw["executors"].as_array().into_iter().flatten() {
                for t in ex["tasks"].as_array().into_iter().flatten() {
                    let st = t["state"].as_str().unwrap_or_default();
                    if LIVE.contains(&st) {
                        on_agents.insert(
                            t["id"].as_str().unwrap_or_default().to_owned(),
                            st.to_owned(),
                        );
                    }
                }
            }
        }
    }
    let master_view: BTreeMap<String, String> = at_master
        .iter()
        .map(|(id, (_, _, s))| (id.clone(), s.clone()))
        .collect();
    if master_view != on_agents {
        bail!("master and agents disagree: master {master_view:?}, agents {on_agents:?}");
    }
    if at_master.values().any(|(_, _, s)| s != "TASK_RUNNING") {
        bail!("tasks not yet running: {master_view:?}");
    }
    // Marathon: every acknowledged app at its count, running and healthy.
    let (status, body) = http
        .send(
            "GET",
            &format!("{}/v2/deployments", at.marathon),
            None,
            Duration::from_secs(10),
        )
        .await?;
    if status != 200 || body.trim() != "[]" {
        bail!("deployments still running: {status} {body}");
    }
    let apps = http
        .get_json(&format!("{}/v2/apps?embed=apps.tasks", at.marathon))
        .await
        .context("Marathon apps")?;
    let listed: BTreeMap<String, &Value> = apps["apps"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| (a["id"].as_str().unwrap_or_default().to_owned(), a))
        .collect();
    let acked = journal.apps();
    let mut marathon_tasks = BTreeSet::new();
    for (id, want) in &acked {
        let outcomes: Vec<Option<u32>> = std::iter::once(want.instances)
            .chain(want.uncertain.iter().copied())
            .collect();
        let app = listed.get(id);
        let have = app.map(|a| a["instances"].as_u64().unwrap_or(0) as u32);
        if !outcomes.contains(&have) {
            bail!("LOST: app {id}: acknowledged {outcomes:?}, Marathon has {have:?}");
        }
        let Some(app) = app else { continue };
        let n = have.unwrap_or(0) as u64;
        let running = app["tasksRunning"].as_u64().unwrap_or(0);
        let healthy = app["tasksHealthy"].as_u64().unwrap_or(0);
        let tasks = app["tasks"].as_array().map_or(0, Vec::len) as u64;
        if running != n || tasks != n || (want.healthy && healthy != n) {
            bail!("app {id}: wants {n}, running {running}, healthy {healthy}, tasks {tasks}");
        }
        for t in app["tasks"].as_array().into_iter().flatten() {
            marathon_tasks.insert(t["id"].as_str().unwrap_or_default().to_owned());
        }
    }
    for id in listed.keys() {
        if !acked.contains_key(id) {
            bail!("Marathon has an app nobody created: {id}");
        }
    }
    // The two frameworks' views against the master's.
    let plain_id = plain.id().context("the plain framework has no id")?;
    let mut master_marathon = BTreeSet::new();
    let mut master_plain = BTreeSet::new();
    for (id, (fw, _, _)) in &at_master {
        if *fw == plain_id {
            master_plain.insert(id.clone());
        } else {
            master_marathon.insert(id.clone());
        }
    }
    if master_marathon != marathon_tasks {
        bail!("Marathon's tasks {marathon_tasks:?} differ from the master's {master_marathon:?}");
    }
    let live = plain.live.lock().expect("not poisoned").clone();
    let believed: BTreeSet<String> = live.keys().cloned().collect();
    if believed != master_plain || live.len() != plain.want {
        bail!(
            "the plain framework believes {believed:?} (wants {}), the master runs {master_plain:?}",
            plain.want
        );
    }
    if let Some((id, _)) = live.iter().find(|(_, (_, s))| *s != TaskState::TaskRunning) {
        bail!("the plain framework does not yet see {id} running");
    }
    Ok(())
}

/// Probes until converged (and still so 5 s later) or `deadline` passes; returns the time
/// until the first probe of the stable stretch.
pub async fn wait_converged(
    at: &Endpoints,
    journal: &Arc<Journal>,
    plain: &PlainView,
    deadline: Duration,
) -> anyhow::Result<Duration> {
    let http = Http::new();
    let start = tokio::time::Instant::now();
    // Converged means it holds: every probe agrees for STABLE (a master just continued from
    // SIGSTOP may still be about to time agents out).
    const STABLE: Duration = Duration::from_secs(5);
    let mut since: Option<Duration> = None;
    loop {
        let last = match converged(&http, at, journal, plain).await {
            Ok(()) => {
                let first = *since.get_or_insert(start.elapsed());
                if start.elapsed() - first >= STABLE {
                    return Ok(first);
                }
                String::from("converged, waiting to see it hold")
            }
            Err(e) => {
                since = None;
                format!("{e:#}")
            }
        };
        if start.elapsed() > deadline {
            bail!("not converged after {deadline:?}: {last}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_disrupted_agent_counts_for_the_whole_window() {
        let mut w = Window::default();
        assert_eq!(w.note(0), 0);
        assert_eq!(w.note(1), 1);
        assert_eq!(
            w.note(0),
            1,
            "the agent just returned: its copies may still run"
        );
    }

    #[test]
    fn an_apps_bound_is_its_highest_count_within_the_window() {
        let mut w = Window::default();
        let t0 = tokio::time::Instant::now();
        assert_eq!(w.note_app_at("/a", 4, t0), 4);
        let t1 = t0 + Duration::from_secs(5);
        assert_eq!(
            w.note_app_at("/a", 1, t1),
            4,
            "scaled down 5 s ago: old copies may run"
        );
        assert_eq!(w.note_app_at("/b", 1, t1), 1, "per app");
        let t2 = t1 + RETURN_WINDOW + Duration::from_secs(1);
        assert_eq!(w.note_app_at("/a", 1, t2), 1, "the window has passed");
    }

    #[test]
    fn marathon_task_ids_name_their_app() {
        assert_eq!(app_of("soak_web.6b0c7a1e"), "/soak/web");
        assert_eq!(app_of("soak_tmp-3.instance-x._app.1"), "/soak/tmp-3");
    }

    #[test]
    fn only_live_tasks_count_at_the_master() {
        let state = serde_json::json!({"frameworks": [{"tasks": [
            {"id": "a", "framework_id": "f", "slave_id": "s", "state": "TASK_RUNNING"},
            {"id": "b", "framework_id": "f", "slave_id": "s", "state": "TASK_KILLED"},
        ]}]});
        let tasks = master_tasks(&state);
        assert_eq!(tasks.keys().collect::<Vec<_>>(), vec!["a"]);
    }
}
