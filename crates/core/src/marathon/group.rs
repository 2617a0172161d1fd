//! Marathon groups: explicit groups (with their `dependencies`), group updates and stored group
//! versions, the dependency graph between apps (an app depends on every app its own or its
//! enclosing groups' dependencies name, a group naming every app within it), its validation
//! (nothing dangling, no cycle) and the deployment plan's step order derived from it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::app::{AppSpec, Violation};
use super::deployment::{Action, ActionKind};
use super::path::PathId;

/// A group created through `/v2/groups`. Groups implied by app ids exist without one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSpec {
    /// Absolute id.
    pub id: PathId,
    /// Apps or groups every app of this group waits for.
    pub dependencies: Vec<PathId>,
    /// When it last changed.
    pub version_ms: u64,
}

/// A group as a client sends it (`POST`/`PUT /v2/groups`), ids already absolute. A field that
/// is `None` keeps what the group has.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupUpdate {
    /// Absolute id.
    pub id: PathId,
    /// New dependencies.
    pub dependencies: Option<Vec<PathId>>,
    /// The group's direct apps (replacing them all).
    pub apps: Option<Vec<AppSpec>>,
    /// The group's subgroups (replacing them all).
    pub groups: Option<Vec<GroupUpdate>>,
}

impl GroupUpdate {
    /// An update that only names the group.
    pub fn empty(id: PathId) -> Self {
        GroupUpdate {
            id,
            dependencies: None,
            apps: None,
            groups: None,
        }
    }
}

/// A group subtree as it was at one version, for `/v2/groups/{id}/versions` and rollback.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSnapshot {
    /// The group's id.
    pub id: PathId,
    /// The version.
    pub version_ms: u64,
    /// Explicit groups within it (itself included when explicit).
    pub groups: Vec<GroupSpec>,
    /// Apps within it.
    pub apps: Vec<AppSpec>,
}

/// Apps within `group` (itself excluded), by a range scan of the sorted map: `/g/` sorts right
/// after `/g`, and every id within starts with it.
pub fn apps_within<'a>(
    apps: &'a BTreeMap<PathId, AppSpec>,
    group: &'a PathId,
) -> impl Iterator<Item = &'a AppSpec> + 'a {
    let prefix = if group.is_root() {
        "/".to_owned()
    } else {
        format!("{group}/")
    };
    // Ids such as `/g-x` sort between `/g` and `/g/…`: skipped, not ended on.
    apps.range::<PathId, _>((std::ops::Bound::Excluded(group), std::ops::Bound::Unbounded))
        .skip_while({
            let prefix = prefix.clone();
            move |(id, _)| !id.as_str().starts_with(&prefix) && id.as_str() < prefix.as_str()
        })
        .take_while(move |(id, _)| id.as_str().starts_with(&prefix))
        .map(|(_, a)| a)
}

/// Whether `id` names a group: an explicit one, or one that app ids imply.
pub fn group_exists(
    apps: &BTreeMap<PathId, AppSpec>,
    groups: &BTreeMap<PathId, GroupSpec>,
    id: &PathId,
) -> bool {
    id.is_root()
        || groups.contains_key(id)
        || groups.keys().any(|g| g.is_within(id))
        || apps_within(apps, id).next().is_some()
}

/// Whether any app or group has dependencies (the graph is only built when one has).
fn any_dependencies(
    apps: &BTreeMap<PathId, AppSpec>,
    groups: &BTreeMap<PathId, GroupSpec>,
) -> bool {
    apps.values().any(|a| !a.dependencies.is_empty())
        || groups.values().any(|g| !g.dependencies.is_empty())
}

/// The apps a dependency names: itself if it is an app, else every app within the group.
fn expand(apps: &BTreeMap<PathId, AppSpec>, dependency: &PathId) -> Vec<PathId> {
    if apps.contains_key(dependency) {
        return vec![dependency.clone()];
    }
    apps_within(apps, dependency)
        .map(|a| a.id.clone())
        .collect()
}

/// App → the apps it waits for.
pub fn graph(
    apps: &BTreeMap<PathId, AppSpec>,
    groups: &BTreeMap<PathId, GroupSpec>,
) -> BTreeMap<PathId, BTreeSet<PathId>> {
    let mut edges: BTreeMap<PathId, BTreeSet<PathId>> = BTreeMap::new();
    if !any_dependencies(apps, groups) {
        return edges;
    }
    for app in apps.values() {
        let mut deps: BTreeSet<PathId> = BTreeSet::new();
        for d in &app.dependencies {
            deps.extend(expand(apps, d));
        }
        // Every enclosing explicit group's dependencies apply to the app.
        let mut g = app.id.parent();
        loop {
            if let Some(spec) = groups.get(&g) {
                for d in &spec.dependencies {
                    deps.extend(expand(apps, d));
                }
            }
            if g.is_root() {
                break;
            }
            g = g.parent();
        }
        if !deps.is_empty() {
            edges.insert(app.id.clone(), deps);
        }
    }
    edges
}

/// Every dependency that names nothing, and any cycle, as 422 violations naming them.
pub fn check(
    apps: &BTreeMap<PathId, AppSpec>,
    groups: &BTreeMap<PathId, GroupSpec>,
) -> Vec<Violation> {
    let mut problems = Vec::new();
    if !any_dependencies(apps, groups) {
        return problems;
    }
    for app in apps.values() {
        for (i, d) in app.dependencies.iter().enumerate() {
            if !apps.contains_key(d) && !group_exists(apps, groups, d) {
                problems.push(Violation::new(
                    format!("{}/dependencies({i})", app.id),
                    format!(
                        "App {} depends on {d}, which is neither an app nor a group",
                        app.id
                    ),
                ));
            }
        }
    }
    for group in groups.values() {
        for (i, d) in group.dependencies.iter().enumerate() {
            if !apps.contains_key(d) && !group_exists(apps, groups, d) {
                problems.push(Violation::new(
                    format!("{}/dependencies({i})", group.id),
                    format!(
                        "Group {} depends on {d}, which is neither an app nor a group",
                        group.id
                    ),
                ));
            }
        }
    }
    if let Some(cycle) = find_cycle(&graph(apps, groups)) {
        let names: Vec<&str> = cycle.iter().map(PathId::as_str).collect();
        problems.push(Violation::new(
            "/",
            format!(
                "Dependency graph has cyclic dependencies: {}",
                names.join(" -> ")
            ),
        ));
    }
    problems
}

/// One cycle of the graph (first node repeated at the end), found without recursion so a long
/// chain cannot exhaust the stack.
fn find_cycle(edges: &BTreeMap<PathId, BTreeSet<PathId>>) -> Option<Vec<PathId>> {
    // 0 = unvisited, 1 = on the current path, 2 = done.
    let mut state: BTreeMap<&PathId, u8> = BTreeMap::new();
    let empty = BTreeSet::new();
    for start in edges.keys() {
        if state.get(start).copied().unwrap_or(0) != 0 {
            continue;
        }
        let mut stack: Vec<(&PathId, Vec<&PathId>)> =
            vec![(start, edges.get(start).unwrap_or(&empty).iter().collect())];
        state.insert(start, 1);
        while let Some((node, next)) = stack.last_mut() {
            let node: &PathId = node;
            match next.pop() {
                Some(child) => match state.get(child).copied().unwrap_or(0) {
                    0 => {
                        state.insert(child, 1);
                        let children = edges.get(child).unwrap_or(&empty).iter().collect();
                        stack.push((child, children));
                    }
                    1 => {
                        let from = stack.iter().position(|(n, _)| *n == child).unwrap_or(0);
                        let mut cycle: Vec<PathId> =
                            stack[from..].iter().map(|(n, _)| (*n).clone()).collect();
                        cycle.push(child.clone());
                        return Some(cycle);
                    }
                    _ => {}
                },
                None => {
                    state.insert(node, 2);
                    stack.pop();
                }
            }
        }
    }
    None
}

/// Each app's depth in the dependency graph: 0 without dependencies, else one more than its
/// deepest dependency (Kahn's order; apps on a cycle, which validation refuses, get none).
pub fn depths(edges: &BTreeMap<PathId, BTreeSet<PathId>>) -> BTreeMap<PathId, usize> {
    let mut dependents: BTreeMap<&PathId, Vec<&PathId>> = BTreeMap::new();
    let mut waiting: BTreeMap<&PathId, usize> = BTreeMap::new();
    let mut ready: VecDeque<&PathId> = VecDeque::new();
    let mut depth: BTreeMap<PathId, usize> = BTreeMap::new();
    for (app, deps) in edges {
        waiting.insert(app, deps.len());
        for d in deps {
            dependents.entry(d).or_default().push(app);
            if !edges.contains_key(d) && !depth.contains_key(d) {
                depth.insert(d.clone(), 0);
                ready.push_back(d);
            }
        }
    }
    while let Some(node) = ready.pop_front() {
        let mine = depth.get(node).copied().unwrap_or(0);
        for &dependent in dependents.get(node).map(Vec::as_slice).unwrap_or(&[]) {
            let d = depth.entry(dependent.clone()).or_insert(0);
            *d = (*d).max(mine + 1);
            if let Some(n) = waiting.get_mut(dependent) {
                *n -= 1;
                if *n == 0 {
                    ready.push_back(dependent);
                }
            }
        }
    }
    depth
}

/// The steps of one deployment: stops first, dependents before what they depend on (`before`:
/// depths in the original state); then every new app's start; then the scale and restart
/// actions, one step per depth of the target state (`after`), so an app only starts once
/// everything it depends on is running and healthy.
pub fn order(
    actions: Vec<Action>,
    before: &BTreeMap<PathId, usize>,
    after: &BTreeMap<PathId, usize>,
) -> Vec<Vec<Action>> {
    let mut stops: BTreeMap<std::cmp::Reverse<usize>, Vec<Action>> = BTreeMap::new();
    let mut starts = Vec::new();
    let mut rest: BTreeMap<usize, Vec<Action>> = BTreeMap::new();
    for action in actions {
        match action.kind {
            ActionKind::StopApplication => {
                let d = before.get(&action.app).copied().unwrap_or(0);
                stops.entry(std::cmp::Reverse(d)).or_default().push(action);
            }
            ActionKind::StartApplication => starts.push(action),
            _ => {
                let d = after.get(&action.app).copied().unwrap_or(0);
                rest.entry(d).or_default().push(action);
            }
        }
    }
    let mut steps: Vec<Vec<Action>> = stops.into_values().collect();
    if !starts.is_empty() {
        steps.push(starts);
    }
    steps.extend(rest.into_values());
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> PathId {
        PathId::parse_app_id(s).expect("valid id")
    }

    fn apps(list: &[(&str, &[&str])]) -> BTreeMap<PathId, AppSpec> {
        list.iter()
            .map(|(a, deps)| {
                let mut app = AppSpec::new(id(a));
                app.dependencies = deps.iter().map(|d| id(d)).collect();
                (app.id.clone(), app)
            })
            .collect()
    }

    #[test]
    fn group_dependencies_expand_to_their_apps_and_order_by_depth() {
        let apps = apps(&[
            ("/p/db/pg", &[]),
            ("/p/svc/api", &["/p/db"]),
            ("/p/web/ui", &[]),
            ("/p/cache", &[]),
        ]);
        let mut groups = BTreeMap::new();
        groups.insert(
            id("/p/web"),
            GroupSpec {
                id: id("/p/web"),
                dependencies: vec![id("/p/svc")],
                version_ms: 1,
            },
        );
        assert_eq!(check(&apps, &groups), Vec::new());
        let d = depths(&graph(&apps, &groups));
        assert_eq!(d.get(&id("/p/db/pg")), Some(&0));
        assert_eq!(d.get(&id("/p/svc/api")), Some(&1));
        assert_eq!(d.get(&id("/p/web/ui")), Some(&2));
        let actions: Vec<Action> = apps
            .keys()
            .map(|a| Action {
                kind: ActionKind::ScaleApplication,
                app: a.clone(),
            })
            .collect();
        let steps = order(actions, &BTreeMap::new(), &d);
        let names: Vec<Vec<&str>> = steps
            .iter()
            .map(|s| s.iter().map(|a| a.app.as_str()).collect())
            .collect();
        assert_eq!(
            names,
            vec![
                vec!["/p/cache", "/p/db/pg"],
                vec!["/p/svc/api"],
                vec!["/p/web/ui"]
            ]
        );
    }

    #[test]
    fn cycles_and_dangling_dependencies_are_named() {
        let cyclic = apps(&[("/a", &["/b"]), ("/b", &["/c"]), ("/c", &["/a"])]);
        let problems = check(&cyclic, &BTreeMap::new());
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].message.contains("cyclic") && problems[0].message.contains("/a"),
            "{problems:?}"
        );
        let dangling = apps(&[("/a", &["/nothing"])]);
        let problems = check(&dangling, &BTreeMap::new());
        assert_eq!(problems.len(), 1);
        assert!(problems[0].message.contains("/nothing"), "{problems:?}");
        // An app depending on its own group depends on itself.
        let own = apps(&[("/g/a", &["/g"])]);
        assert!(check(&own, &BTreeMap::new())[0].message.contains("cyclic"));
    }

    #[test]
    fn long_chains_need_no_recursion() {
        let n = 20_000;
        let names: Vec<String> = (0..n).map(|i| format!("/c{i}")).collect();
        let mut map = BTreeMap::new();
        for i in 0..n {
            let mut app = AppSpec::new(id(&names[i]));
            if i > 0 {
                app.dependencies = vec![id(&names[i - 1])];
            }
            map.insert(app.id.clone(), app);
        }
        assert!(check(&map, &BTreeMap::new()).is_empty());
        let d = depths(&graph(&map, &BTreeMap::new()));
        assert_eq!(d.get(&id(&names[n - 1])), Some(&(n - 1)));
    }

    #[test]
    fn stops_run_dependents_first() {
        let before: BTreeMap<PathId, usize> = [(id("/db"), 0), (id("/web"), 1)].into();
        let stop = |a: &str| Action {
            kind: ActionKind::StopApplication,
            app: id(a),
        };
        let steps = order(vec![stop("/db"), stop("/web")], &before, &BTreeMap::new());
        assert_eq!(steps[0][0].app, id("/web"));
        assert_eq!(steps[1][0].app, id("/db"));
    }
}
