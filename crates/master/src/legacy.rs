//! Legacy GET endpoints tools still read: `/master/state` (also `/state`, `/state.json`,
//! `/master/state.json`) in Mesos' hand-rendered shape (spec §7.3) plus each task's
//! `status_history` (beyond Mesos), `/master/health`, `/health`, `/version`,
//! `/master/redirect`, `/metrics/snapshot`, `/master/slaves`, `/master/frameworks`,
//! `/master/tasks` (also `.json`), `/master/flags`, with their query parameters parsed as
//! Mesos parses them.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use drover_core::master::{AgentStatus, Framework, Master, TaskEntry, seconds};
use drover_core::resources::{self, SummaryValue};
use drover_core::task::names::{reason_name, source_name, state_name};
use drover_wire::json::to_json_value;
use drover_wire::v1;
use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde_json::{Map, Value, json};

use crate::legacy_extra::ExecutorDoc;
use crate::operator::version_info;
use crate::pieces::{self, Deferred, Pieces};
use crate::routes::{AppState, driver_gone};
use drover_http::HttpError;

/// The legacy routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/master/state", get(state))
        .route("/state", get(state))
        .route("/state.json", get(state))
        .route("/master/state.json", get(state))
        .route("/master/health", get(health))
        .route("/health", get(health))
        .route("/version", get(version))
        .route("/master/redirect", get(redirect))
        .route("/redirect", get(redirect))
        .route("/metrics/snapshot", get(metrics))
        .route("/master/slaves", get(slaves))
        .route("/slaves", get(slaves))
        .route("/master/frameworks", get(frameworks))
        .route("/frameworks", get(frameworks))
        .route("/master/tasks", get(tasks))
        .route("/tasks", get(tasks))
        .route("/master/tasks.json", get(tasks))
        .route("/tasks.json", get(tasks))
        .route("/master/flags", get(flags))
        .route("/flags", get(flags))
}

/// At most this many large documents (`/master/state`, `/master/frameworks`) are read and
/// written at once: each is tens of megabytes and up to one thread per core at 100,000 tasks,
/// so more requests wait their turn instead of multiplying memory and threads.
const LARGE_RENDERS_AT_ONCE: usize = 4;
static LARGE_RENDERS: tokio::sync::Semaphore =
    tokio::sync::Semaphore::const_new(LARGE_RENDERS_AT_ONCE);

/// Finishes a document on the blocking pool, off the driver and the async threads, its task
/// lists on every core (a `/master/state` of 100,000 tasks is tens of megabytes of JSON), and
/// sends it in the chunks it was written in, with its length.
async fn render_pieces(pieces: Pieces) -> Response {
    tokio::task::spawn_blocking(move || {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let (chunks, total) = pieces::ascii_chunks(pieces.finish(threads, TASK_TEXT_HINT));
        let body = Body::from_stream(futures::stream::iter(
            chunks.into_iter().map(Ok::<_, std::convert::Infallible>),
        ));
        let mut response = Response::new(body);
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(total));
        response
    })
    .await
    .unwrap_or_else(|_| driver_gone())
}

/// About the length of one task's text: buffers for task lists are reserved from it, so they
/// rarely grow (growing copies them).
const TASK_TEXT_HINT: usize = 640;

/// Writes a document straight to JSON text, as `serde_json::Value::to_string` would have
/// written the same tree (issue 8, G10: the tree cost more than the text).
fn to_json_bytes(document: &impl Serialize) -> Vec<u8> {
    // Our documents only have string keys, so serde_json cannot fail on them.
    serde_json::to_vec(document).unwrap_or_default()
}

fn json_response(value: &Value) -> Response {
    bytes_response(to_json_bytes(value))
}

fn bytes_response(bytes: Vec<u8>) -> Response {
    let body = pieces::ascii_bytes(bytes);
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

async fn health() -> StatusCode {
    StatusCode::OK
}

async fn version() -> Response {
    let v = version_info();
    json_response(&json!({
        "version": v.version,
        "build_date": v.build_date,
        "build_time": v.build_time,
        "build_user": v.build_user,
    }))
}

async fn redirect(State(state): State<AppState>) -> Response {
    let location = format!("//{}:{}", state.flags.advertised_hostname(), state.port);
    let mut response = StatusCode::TEMPORARY_REDIRECT.into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

async fn metrics(
    State(state): State<AppState>,
    acls: ViewAcls,
    principal: ViewPrincipal,
) -> Response {
    if let Err(refused) = crate::acls::authorize_get_endpoint(
        acls.as_ref().map(|a| &a.0),
        principal.as_ref().map(|p| &p.0),
        "/metrics/snapshot",
    ) {
        return refused.into_response();
    }
    state
        .handle
        .read(|master, now| {
            let mut map = Map::new();
            for (name, value) in master.metrics(now) {
                map.insert(name, json!(value));
            }
            json_response(&Value::Object(map))
        })
        .await
        .unwrap_or_else(driver_gone)
}

async fn flags(
    State(state): State<AppState>,
    acls: ViewAcls,
    principal: ViewPrincipal,
) -> Response {
    if let Err(refused) = may_view_flags(&acls, &principal) {
        return refused.into_response();
    }
    json_response(&json!({ "flags": flags_object(&state) }))
}

/// `view_flags`: Ok, or 403 naming the principal.
pub fn may_view_flags(acls: &ViewAcls, principal: &ViewPrincipal) -> Result<(), HttpError> {
    crate::acls::authorize_view_flags(
        acls.as_ref().map(|a| &a.0),
        principal.as_ref().map(|p| &p.0),
    )
}

fn flags_object(state: &AppState) -> Value {
    let mut map = Map::new();
    for (name, value) in state.flags.as_pairs(state.port) {
        map.insert(name, Value::String(value));
    }
    Value::Object(map)
}

/// The request's viewer (`crate::view`): `None` unless `--acls` restricts views.
type ViewAcls = Option<axum::Extension<std::sync::Arc<crate::acls::Acls>>>;
/// The request's authenticated principal, if any.
type ViewPrincipal = Option<axum::Extension<drover_http::auth::Principal>>;

fn viewer(acls: &ViewAcls, principal: &ViewPrincipal) -> Option<crate::view::Viewer> {
    crate::view::Viewer::of(
        acls.as_ref().map(|a| &a.0),
        principal.as_ref().map(|p| &p.0),
    )
}

async fn state(
    State(state): State<AppState>,
    acls: ViewAcls,
    principal: ViewPrincipal,
) -> Response {
    let viewer = viewer(&acls, &principal);
    // Mesos leaves the flags out of the state of a principal `view_flags` does not allow.
    let with_flags = may_view_flags(&acls, &principal).is_ok();
    let response = state_unfiltered(&state, with_flags).await;
    crate::view::filter_response(viewer, &state, response).await
}

async fn state_unfiltered(state: &AppState, with_flags: bool) -> Response {
    // Never closed, so acquiring cannot fail.
    let Ok(_permit) = LARGE_RENDERS.acquire().await else {
        return driver_gone();
    };
    let flags = with_flags.then(|| flags_object(state));
    // The loop writes all but the task lists and hands those over as pointers; they are
    // written off the loop (issue 20, G10: the loop used to clone the whole master).
    let Some(pieces) = state
        .handle
        .read(move |master, _| {
            let mut pieces = Pieces::default();
            write_state(&mut pieces, master, flags.as_ref());
            pieces
        })
        .await
    else {
        return driver_gone();
    };
    render_pieces(pieces).await
}

async fn slaves(State(state): State<AppState>, Query(query): Query<RawQuery>) -> Response {
    // Mesos 1.x: `slave_id` picks one agent (none matching: empty lists).
    let only = query.get("slave_id").cloned();
    // O(agents + their tasks and offers): written on the loop, cheaper than a clone.
    let Some(bytes) = state
        .handle
        .read(move |master, _| to_json_bytes(&SlavesDoc(master, only.as_deref())))
        .await
    else {
        return driver_gone();
    };
    bytes_response(bytes)
}

async fn frameworks(
    State(state): State<AppState>,
    Query(query): Query<RawQuery>,
    acls: ViewAcls,
    principal: ViewPrincipal,
) -> Response {
    // Mesos 1.x: `framework_id` picks one framework (none matching: empty lists).
    let only = query.get("framework_id").cloned();
    let Ok(permit) = LARGE_RENDERS.acquire().await else {
        return driver_gone();
    };
    let Some(pieces) = state
        .handle
        .read(move |master, _| {
            let mut pieces = Pieces::default();
            write_frameworks(&mut pieces, master, only.as_deref());
            pieces
        })
        .await
    else {
        return driver_gone();
    };
    let response = render_pieces(pieces).await;
    drop(permit);
    crate::view::filter_response(viewer(&acls, &principal), &state, response).await
}

/// The query parameters a legacy endpoint was given (raw text: each is parsed as Mesos does).
pub type RawQuery = std::collections::HashMap<String, String>;

/// A numeric query parameter as libprocess' `numify<int>` reads it: a malformed or
/// out-of-range value counts as absent (Mesos then uses its default), never a 400.
pub fn query_int(query: &RawQuery, name: &str) -> Option<i32> {
    query.get(name).and_then(|v| v.parse::<i32>().ok())
}

/// The int Mesos casts to `size_t` for `limit`/`offset`: a negative value wraps to a huge
/// one, so `limit=-1` means no limit and `offset=-1` skips everything.
pub fn as_size(value: i32) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

async fn tasks(
    State(state): State<AppState>,
    Query(query): Query<RawQuery>,
    acls: ViewAcls,
    principal: ViewPrincipal,
) -> Response {
    let viewer = viewer(&acls, &principal);
    let response = tasks_unfiltered(&state, query).await;
    crate::view::filter_response(viewer, &state, response).await
}

async fn tasks_unfiltered(state: &AppState, query: RawQuery) -> Response {
    // Mesos: limit defaults to 100, offset to 0; the order is ascending only for `asc`
    // (anything else, or nothing, is descending).
    let limit = query_int(&query, "limit").map_or(100, as_size);
    let offset = query_int(&query, "offset").map_or(0, as_size);
    let ascending = query.get("order").map(String::as_str) == Some("asc");
    let framework_id = query.get("framework_id").cloned();
    let task_id = query.get("task_id").cloned();
    let bytes = state
        .handle
        .read(move |master, _| {
            let mut tasks: Vec<(&str, &TaskEntry)> = master
                .task_entries()
                .into_iter()
                .filter(|(fw, e, _)| {
                    framework_id.as_deref().is_none_or(|f| f == *fw)
                        && task_id.as_deref().is_none_or(|t| t == e.task.task_id.value)
                })
                .map(|(fw, e, _)| (fw, e))
                .collect();
            tasks.sort_by(|a, b| first_time(a.1).total_cmp(&first_time(b.1)));
            if !ascending {
                tasks.reverse();
            }
            let list: Vec<TaskDoc<'_>> = tasks
                .into_iter()
                .skip(offset)
                .take(limit)
                .map(|(_, e)| TaskDoc(e))
                .collect();
            to_json_bytes(&TasksDoc(list))
        })
        .await;
    match bytes {
        Some(bytes) => bytes_response(bytes),
        None => driver_gone(),
    }
}

fn first_time(entry: &TaskEntry) -> f64 {
    entry
        .history
        .front()
        .map(|h| seconds(h.timestamp_ms))
        .unwrap_or(0.0)
}

// ---------------------------------------------------------------------------------------------
// The documents, written straight to JSON text. Each `Serialize` writes exactly what
// `serde_json::Value::to_string` wrote for the tree these endpoints used to build (same keys,
// same order, same numbers: `serde_json` with `preserve_order`); `tests/legacy_render.rs`
// holds the old tree builders and checks the bytes are identical.
// ---------------------------------------------------------------------------------------------

/// Writes `/master/state` for `master` with these `flags` (the `/master/flags` object).
pub fn render_state(master: &Master, flags: &Value) -> Vec<u8> {
    let mut pieces = Pieces::default();
    write_state(&mut pieces, master, Some(flags));
    pieces.into_bytes()
}

/// Writes `/master/slaves` for `master`.
pub fn render_slaves(master: &Master) -> Vec<u8> {
    to_json_bytes(&SlavesDoc(master, None))
}

/// Writes `/master/frameworks` for `master`.
pub fn render_frameworks(master: &Master) -> Vec<u8> {
    let mut pieces = Pieces::default();
    write_frameworks(&mut pieces, master, None);
    pieces.into_bytes()
}

/// `/master/tasks`.
struct TasksDoc<'a>(Vec<TaskDoc<'a>>);

impl Serialize for TasksDoc<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("tasks", &self.0)?;
        map.end()
    }
}

/// `/master/frameworks`.
fn write_frameworks(p: &mut Pieces, master: &Master, only: Option<&str>) {
    let mut map = p.object();
    p.key(&mut map, "frameworks");
    write_framework_list(p, master, false, only);
    p.key(&mut map, "completed_frameworks");
    write_framework_list(p, master, true, only);
    p.entry(&mut map, "unregistered_frameworks", &Empty);
    p.end_object(map);
}

/// `/master/slaves`.
struct SlavesDoc<'a>(&'a Master, Option<&'a str>);

impl Serialize for SlavesDoc<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("slaves", &Agents(self.0, false, self.1))?;
        map.serialize_entry("recovered_slaves", &Agents(self.0, true, self.1))?;
        map.serialize_entry("unreachable_agents", &UnreachableAgents(self.0, self.1))?;
        map.serialize_entry("gone_agents", &GoneAgents(self.0, self.1))?;
        map.end()
    }
}

/// `/master/state`; `flags` are left out for a principal `view_flags` does not allow.
fn write_state(p: &mut Pieces, master: &Master, flags: Option<&Value>) {
    {
        let info = master.master_info();
        let agents = master.agents();
        let activated = agents
            .values()
            .filter(|a| a.status == AgentStatus::Connected)
            .count();
        let deactivated = agents
            .values()
            .filter(|a| a.status == AgentStatus::Disconnected)
            .count();
        let v = version_info();
        let mut map = p.object();
        p.entry(&mut map, "version", &v.version);
        p.entry(&mut map, "build_date", &v.build_date);
        p.entry(&mut map, "build_time", &v.build_time);
        p.entry(&mut map, "build_user", &v.build_user);
        p.entry(&mut map, "start_time", &seconds(master.start_ms()));
        p.entry(&mut map, "elected_time", &seconds(master.start_ms()));
        p.entry(&mut map, "id", &info.id);
        p.entry(&mut map, "pid", &info.pid);
        p.entry(&mut map, "hostname", &info.hostname);
        p.entry(&mut map, "capabilities", &Empty);
        p.entry(&mut map, "activated_slaves", &activated);
        p.entry(&mut map, "deactivated_slaves", &deactivated);
        p.entry(
            &mut map,
            "unreachable_slaves",
            &master.registry().unreachable.len(),
        );
        p.entry(&mut map, "leader", &info.pid);
        p.entry(&mut map, "leader_info", &to_json_value(info));
        if let Some(flags) = flags {
            p.entry(&mut map, "flags", flags);
        }
        p.entry(&mut map, "slaves", &Agents(master, false, None));
        p.entry(&mut map, "recovered_slaves", &Agents(master, true, None));
        p.entry(
            &mut map,
            "unreachable_agents",
            &UnreachableAgents(master, None),
        );
        p.entry(&mut map, "gone_agents", &GoneAgents(master, None));
        p.key(&mut map, "frameworks");
        write_framework_list(p, master, false, None);
        p.key(&mut map, "completed_frameworks");
        write_framework_list(p, master, true, None);
        p.entry(&mut map, "orphan_tasks", &Empty);
        p.entry(&mut map, "unregistered_frameworks", &Empty);
        p.end_object(map);
    }
}

/// `[]`.
struct Empty;

impl Serialize for Empty {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_seq(Some(0))?.end()
    }
}

/// Writes `entries` as an object the way a `serde_json::Map` built by inserting them in
/// order would hold them: a repeated key keeps its first position and takes the last value.
fn serialize_object<S: Serializer, V: Serialize>(
    serializer: S,
    entries: &[(String, V)],
) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(None)?;
    for (i, (key, value)) in entries.iter().enumerate() {
        if entries[..i].iter().any(|(k, _)| k == key) {
            continue;
        }
        let last = entries[i..]
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map_or(value, |(_, v)| v);
        map.serialize_entry(key, last)?;
    }
    map.end()
}

/// A flattened resource summary (`{"cpus":0.5,"gpus":0.0,"mem":256.0,...}`).
pub(crate) struct Summary<'a>(pub(crate) &'a [v1::Resource]);

impl Serialize for Summary<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if let Some(scalars) = scalar_summary(self.0) {
            let mut map = serializer.serialize_map(Some(scalars.len()))?;
            for (name, value) in &scalars {
                map.serialize_entry(name, value)?;
            }
            return map.end();
        }
        let entries: Vec<(String, SummaryNumber)> = resources::summary(self.0)
            .into_iter()
            .map(|(name, value)| (name, SummaryNumber(value)))
            .collect();
        serialize_object(serializer, &entries)
    }
}

/// What [`resources::summary`] gives for a list of distinct, non-revocable scalars (a task's
/// `cpus` and `mem`, the common case), computed without the normalized copy `summary` makes
/// of every resource (issue 20, G10: that copy was a fifth of `/master/state`'s time at
/// 100,000 tasks). `None` for any other list, which takes the general path.
///
/// With distinct names no two resources are of one kind, so `normalize` merges nothing: it
/// keeps each valid resource with its value rounded and drops those that round to zero;
/// `summary` then rounds each one's value again (a sum of one). The same calls in the same
/// order give the same numbers; `tests/legacy_render.rs` compares whole documents.
fn scalar_summary(list: &[v1::Resource]) -> Option<Vec<(&str, f64)>> {
    let mut out: Vec<(&str, f64)> = Vec::with_capacity(4 + list.len());
    out.extend([("cpus", 0.0), ("gpus", 0.0), ("mem", 0.0), ("disk", 0.0)]);
    for (i, r) in list.iter().enumerate() {
        if !resources::is_scalar(r)
            || r.revocable.is_some()
            || list[..i].iter().any(|other| other.name == r.name)
        {
            return None;
        }
        if resources::validate(r).is_err() {
            continue;
        }
        // `scalar_of(r)` for the normalized copy, then `is_empty`'s and `summary`'s
        // `scalar_of` of that copy.
        let normalized = resources::round_scalar(r.scalar.map_or(0.0, |s| s.value));
        if resources::round_scalar(normalized) <= 0.0 {
            continue;
        }
        let value = resources::round_scalar(resources::round_scalar(normalized));
        match out.iter_mut().find(|(name, _)| *name == r.name) {
            Some(slot) => slot.1 = value,
            None => out.push((r.name.as_str(), value)),
        }
    }
    Some(out)
}

struct SummaryNumber(SummaryValue);

impl Serialize for SummaryNumber {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            SummaryValue::Number(n) => serializer.serialize_f64(*n),
            SummaryValue::Text(t) => serializer.serialize_str(t),
        }
    }
}

/// A flattened resource summary as a tree (`{"cpus":0.5,"gpus":0.0,"mem":256.0,...}`).
pub fn summary_json(list: &[v1::Resource]) -> Value {
    serde_json::to_value(Summary(list)).unwrap_or_default()
}

/// The registered (or, with `true`, recovered) agents.
struct Agents<'a>(&'a Master, bool, Option<&'a str>);

impl Serialize for Agents<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Agents(master, recovered, only) = *self;
        serializer.collect_seq(
            master
                .agents()
                .iter()
                .filter(|(_, a)| (a.status == AgentStatus::Recovered) == recovered)
                .filter(|(id, _)| only.is_none_or(|o| o == id.as_str()))
                .map(|(id, agent)| AgentDoc { master, id, agent }),
        )
    }
}

/// Drover's: the agents the registry holds as unreachable, with their last known address and
/// when they were marked. Mesos' state only counts them (`unreachable_slaves`); its registry
/// keeps the same list, so an operator could only learn which machines they were from the logs.
struct UnreachableAgents<'a>(&'a Master, Option<&'a str>);

impl Serialize for UnreachableAgents<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let UnreachableAgents(master, only) = *self;
        serializer.collect_seq(
            master
                .registry()
                .unreachable
                .iter()
                .filter(|(id, _)| only.is_none_or(|o| o == id.as_str()))
                .map(|(id, u)| {
                    json!({
                        "id": id,
                        "hostname": u.info.hostname,
                        "port": u.info.port.unwrap_or(5051),
                        "unreachable_time": seconds(u.time_ms),
                    })
                }),
        )
    }
}

/// Drover's: the agents marked gone (MARK_AGENT_GONE), with when. As in Mesos' registry, only
/// the id and the time are kept: a gone agent's address may be reused by a new agent.
struct GoneAgents<'a>(&'a Master, Option<&'a str>);

impl Serialize for GoneAgents<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let GoneAgents(master, only) = *self;
        serializer.collect_seq(
            master
                .registry()
                .gone
                .iter()
                .filter(|(id, _)| only.is_none_or(|o| o == id.as_str()))
                .map(|(id, time_ms)| json!({"id": id, "gone_time": seconds(*time_ms)})),
        )
    }
}

struct AgentDoc<'a> {
    master: &'a Master,
    id: &'a String,
    agent: &'a drover_core::master::Agent,
}

impl Serialize for AgentDoc<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (master, id, a) = (self.master, self.id, self.agent);
        let mut attributes = Map::new();
        for attr in &a.info.attributes {
            let value = match (&attr.text, &attr.scalar) {
                (Some(text), _) => Value::String(text.value.clone()),
                (_, Some(scalar)) => json!(scalar.value),
                _ => Value::Null,
            };
            attributes.insert(attr.name.clone(), value);
        }
        // Both O(tasks or offers on this agent), through the core's per-agent indexes
        // (issue 8: they were scans of every task and offer, per agent).
        let used = master.agent_used(id);
        let offered = master.agent_offered(id);
        let unreserved: Vec<v1::Resource> = a
            .info
            .resources
            .iter()
            .filter(|r| !resources::is_reserved(r))
            .cloned()
            .collect();
        let port = a.info.port.unwrap_or(5051);
        let capabilities: Vec<&str> = a
            .capabilities
            .iter()
            .filter_map(|c| {
                c.r#type
                    .and_then(|t| v1::agent_info::capability::Type::try_from(t).ok())
            })
            .map(|t| t.as_str_name())
            .collect();
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("id", id)?;
        map.serialize_entry("hostname", &a.info.hostname)?;
        map.serialize_entry("port", &port)?;
        map.serialize_entry("attributes", &attributes)?;
        map.serialize_entry("pid", &format!("slave(1)@{}:{}", a.info.hostname, port))?;
        map.serialize_entry("registered_time", &seconds(a.registered_time_ms))?;
        // With oversubscription, revocable resources show as `cpus_revocable` etc.
        let total = master.agent_total(a);
        map.serialize_entry("resources", &Summary(&total))?;
        map.serialize_entry("used_resources", &Summary(&used))?;
        map.serialize_entry("offered_resources", &Summary(&offered))?;
        let reserved = reserved_by_role(&a.info.resources);
        let reserved_summary: BTreeMap<&str, Summary> = reserved
            .iter()
            .map(|(role, list)| (role.as_str(), Summary(list)))
            .collect();
        map.serialize_entry("reserved_resources", &reserved_summary)?;
        map.serialize_entry("unreserved_resources", &Summary(&unreserved))?;
        // Mesos' `_full` forms: every resource whole (reservations, volumes).
        let full =
            |list: &[v1::Resource]| -> Vec<Value> { list.iter().map(to_json_value).collect() };
        let reserved_full: BTreeMap<&str, Vec<Value>> = reserved
            .iter()
            .map(|(role, list)| (role.as_str(), full(list)))
            .collect();
        map.serialize_entry("reserved_resources_full", &reserved_full)?;
        map.serialize_entry("unreserved_resources_full", &full(&unreserved))?;
        map.serialize_entry("used_resources_full", &full(&used))?;
        map.serialize_entry("offered_resources_full", &full(&offered))?;
        // An operator's DEACTIVATE_AGENT counts as Mesos counted it (operator module).
        let operator_deactivated = master.agent_deactivated(id);
        map.serialize_entry(
            "active",
            &(a.status == AgentStatus::Connected && !operator_deactivated),
        )?;
        map.serialize_entry(
            "deactivated",
            &(a.status != AgentStatus::Connected || operator_deactivated),
        )?;
        if let Some(drain) = master.agent_drain(id) {
            map.serialize_entry("drain_info", &drover_wire::json::to_json_value(drain))?;
        }
        map.serialize_entry("version", &a.version)?;
        map.serialize_entry("capabilities", &capabilities)?;
        if let Some(t) = a.reregistered_time_ms {
            map.serialize_entry("reregistered_time", &seconds(t))?;
        }
        map.end()
    }
}

/// An agent's reserved resources by the role they are reserved for (statically or not).
pub(crate) fn reserved_by_role(total: &[v1::Resource]) -> BTreeMap<String, Vec<v1::Resource>> {
    let mut out: BTreeMap<String, Vec<v1::Resource>> = BTreeMap::new();
    for r in total.iter().filter(|r| resources::is_reserved(r)) {
        out.entry(resources::reservation_role(r).to_owned())
            .or_default()
            .push(r.clone());
    }
    out
}

/// The active (or, with `true`, completed) frameworks, as an array.
fn write_framework_list(p: &mut Pieces, master: &Master, completed: bool, only: Option<&str>) {
    let mut list = p.array();
    let keep = |fw: &&Framework| only.is_none_or(|o| o == fw.id());
    if completed {
        for fw in master.completed_frameworks().iter().filter(keep) {
            p.element(&mut list);
            write_framework(p, master, fw);
        }
    } else {
        for fw in master.frameworks().values().filter(keep) {
            p.element(&mut list);
            write_framework(p, master, fw);
        }
    }
    p.end_array(list);
}

/// One framework; its task lists are left to [`Pieces::finish`].
fn write_framework(p: &mut Pieces, master: &Master, fw: &Framework) {
    {
        let id = fw.id();
        // The live tasks, handed to the writers as pointers; their `used` sum is written off
        // the loop, alongside the task lists (issue 20, G10: summed on the loop, it preceded
        // everything else). Summed in place, not cloned into one list first: `normalize`
        // leaves a normalized list as it is, so its summary is the summary of the
        // concatenation.
        let tasks: Arc<[Arc<TaskEntry>]> = fw.tasks.values().cloned().collect();
        let used_summary = {
            let tasks = Arc::clone(&tasks);
            Deferred::new(move || {
                let used: Vec<v1::Resource> = resources::sum_of(
                    tasks
                        .iter()
                        .filter(|e| !drover_core::task::state::releases_resources(e.state()))
                        .map(|e| e.task.resources.as_slice()),
                );
                to_json_bytes(&Summary(&used))
            })
        };
        let offers: Vec<&drover_core::master::Offer> = master
            .offers()
            .values()
            .filter(|o| o.offer.framework_id.value == id)
            .collect();
        let offered: Vec<v1::Resource> =
            resources::sum_of(offers.iter().map(|o| o.offer.resources.as_slice()));
        let capabilities: Vec<&str> = fw
            .info
            .capabilities
            .iter()
            .filter_map(|c| {
                c.r#type
                    .and_then(|t| v1::framework_info::capability::Type::try_from(t).ok())
            })
            .map(|t| t.as_str_name())
            .collect();
        let executors: Vec<ExecutorDoc<'_>> = master
            .agents()
            .iter()
            .flat_map(|(agent_id, a)| {
                a.executors
                    .iter()
                    .filter(|((f, _), _)| f == id)
                    .map(move |(_, info)| ExecutorDoc { agent_id, info })
            })
            .collect();
        let mut map = p.object();
        p.entry(&mut map, "id", id);
        p.entry(&mut map, "name", &fw.info.name);
        p.deferred(&mut map, "used_resources", &used_summary);
        p.entry(&mut map, "offered_resources", &Summary(&offered));
        p.entry(&mut map, "capabilities", &capabilities);
        p.entry(
            &mut map,
            "hostname",
            fw.info.hostname.as_deref().unwrap_or_default(),
        );
        p.entry(
            &mut map,
            "webui_url",
            fw.info.webui_url.as_deref().unwrap_or_default(),
        );
        p.entry(&mut map, "active", &fw.connected());
        p.entry(&mut map, "connected", &fw.connected());
        p.entry(&mut map, "recovered", &fw.recovered);
        p.entry(&mut map, "user", &fw.info.user);
        p.entry(
            &mut map,
            "failover_timeout",
            &fw.info.failover_timeout.unwrap_or(0.0),
        );
        p.entry(&mut map, "checkpoint", &fw.info.checkpoint.unwrap_or(false));
        p.entry(
            &mut map,
            "registered_time",
            &fw.registered_time_ms.map(seconds).unwrap_or(0.0),
        );
        p.entry(
            &mut map,
            "unregistered_time",
            &fw.unregistered_time_ms.map(seconds).unwrap_or(0.0),
        );
        p.deferred(&mut map, "resources", &used_summary);
        p.tasks(&mut map, "tasks", tasks);
        p.tasks(
            &mut map,
            "unreachable_tasks",
            fw.unreachable_tasks.values().cloned().collect(),
        );
        p.tasks(
            &mut map,
            "completed_tasks",
            fw.completed_tasks.iter().cloned().collect(),
        );
        p.entry(
            &mut map,
            "offers",
            &Seq(|| offers.iter().map(|o| OfferDoc(o))),
        );
        p.entry(&mut map, "executors", &executors);
        if let Some(principal) = &fw.info.principal {
            p.entry(&mut map, "principal", principal);
        }
        if let Some(t) = fw.reregistered_time_ms {
            p.entry(&mut map, "reregistered_time", &seconds(t));
        }
        if fw.has_capability(v1::framework_info::capability::Type::MultiRole) {
            p.entry(&mut map, "roles", &fw.info.roles);
        } else {
            let role = fw.roles().first().cloned().unwrap_or_else(|| "*".into());
            p.entry(&mut map, "role", &role);
        }
        if let Some(labels) = &fw.info.labels {
            p.entry(&mut map, "labels", &to_json_value(labels)["labels"]);
        }
        p.end_object(map);
    }
}

/// A JSON array of whatever the closure's iterator yields (written without collecting).
struct Seq<F>(F);

impl<F, I> Serialize for Seq<F>
where
    F: Fn() -> I,
    I: Iterator,
    I::Item: Serialize,
{
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq((self.0)())
    }
}

struct OfferDoc<'a>(&'a drover_core::master::Offer);

impl Serialize for OfferDoc<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let offer = &self.0.offer;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("id", &offer.id.value)?;
        map.serialize_entry("framework_id", &offer.framework_id.value)?;
        map.serialize_entry("slave_id", &offer.agent_id.value)?;
        map.serialize_entry("resources", &Summary(&offer.resources))?;
        map.end()
    }
}

/// A task in the legacy shape, with Drover's `status_history`.
pub(crate) struct TaskDoc<'a>(pub(crate) &'a TaskEntry);

impl Serialize for TaskDoc<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let entry = self.0;
        let task = &entry.task;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("id", &task.task_id.value)?;
        map.serialize_entry("name", &task.name)?;
        map.serialize_entry("framework_id", &task.framework_id.value)?;
        map.serialize_entry(
            "executor_id",
            task.executor_id
                .as_ref()
                .map(|e| e.value.as_str())
                .unwrap_or_default(),
        )?;
        map.serialize_entry("slave_id", &task.agent_id.value)?;
        map.serialize_entry("state", task_state_name(task.state))?;
        map.serialize_entry("resources", &Summary(&task.resources))?;
        map.serialize_entry("role", &entry.role)?;
        map.serialize_entry("statuses", &Seq(|| task.statuses.iter().map(StatusDoc)))?;
        map.serialize_entry(
            "status_history",
            &Seq(|| entry.history.iter().map(HistoryDoc)),
        )?;
        if let Some(u) = &task.user {
            map.serialize_entry("user", u)?;
        }
        if let Some(l) = &task.labels {
            map.serialize_entry("labels", &to_json_value(l)["labels"])?;
        }
        if let Some(h) = &task.health_check {
            map.serialize_entry("health_check", &to_json_value(h))?;
        }
        if let Some(d) = &task.discovery {
            map.serialize_entry("discovery", &to_json_value(d))?;
        }
        if let Some(c) = &task.container {
            map.serialize_entry("container", &to_json_value(c))?;
        }
        if let Some(t) = entry.unreachable_time_ms {
            map.serialize_entry(
                "unreachable_time",
                &json!({"nanoseconds": t.saturating_mul(1_000_000)}),
            )?;
        }
        map.end()
    }
}

/// Writes `entry` exactly as [`TaskDoc`] serializes it (issue 20, G10: the task lists are most
/// of `/master/state`, and through `Serialize` every key went through `serde_json`'s escaping
/// and every value through its map machinery). Keys are literal bytes; strings take
/// [`pieces::write_str`]; numbers `serde_json`'s own formatting; the rare parts (labels,
/// health checks, containers…) still go through `serde_json`. A unit test compares the two
/// byte for byte.
pub(crate) fn write_task(out: &mut Vec<u8>, entry: &TaskEntry) {
    let task = &entry.task;
    out.extend_from_slice(b"{\"id\":");
    pieces::write_str(out, &task.task_id.value);
    out.extend_from_slice(b",\"name\":");
    pieces::write_str(out, &task.name);
    out.extend_from_slice(b",\"framework_id\":");
    pieces::write_str(out, &task.framework_id.value);
    out.extend_from_slice(b",\"executor_id\":");
    pieces::write_str(
        out,
        task.executor_id
            .as_ref()
            .map(|e| e.value.as_str())
            .unwrap_or_default(),
    );
    out.extend_from_slice(b",\"slave_id\":");
    pieces::write_str(out, &task.agent_id.value);
    out.extend_from_slice(b",\"state\":");
    pieces::write_str(out, task_state_name(task.state));
    out.extend_from_slice(b",\"resources\":");
    write_summary(out, &task.resources);
    out.extend_from_slice(b",\"role\":");
    pieces::write_str(out, &entry.role);
    out.extend_from_slice(b",\"statuses\":[");
    for (i, status) in task.statuses.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_status(out, status);
    }
    out.extend_from_slice(b"],\"status_history\":[");
    for (i, h) in entry.history.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_history(out, h);
    }
    out.push(b']');
    if let Some(u) = &task.user {
        out.extend_from_slice(b",\"user\":");
        pieces::write_str(out, u);
    }
    if let Some(l) = &task.labels {
        out.extend_from_slice(b",\"labels\":");
        pieces::write_value(out, &to_json_value(l)["labels"]);
    }
    if let Some(h) = &task.health_check {
        out.extend_from_slice(b",\"health_check\":");
        pieces::write_value(out, &to_json_value(h));
    }
    if let Some(d) = &task.discovery {
        out.extend_from_slice(b",\"discovery\":");
        pieces::write_value(out, &to_json_value(d));
    }
    if let Some(c) = &task.container {
        out.extend_from_slice(b",\"container\":");
        pieces::write_value(out, &to_json_value(c));
    }
    if let Some(t) = entry.unreachable_time_ms {
        out.extend_from_slice(b",\"unreachable_time\":{\"nanoseconds\":");
        pieces::write_value(out, &t.saturating_mul(1_000_000));
        out.push(b'}');
    }
    out.push(b'}');
}

/// [`Summary`] written like [`write_task`]: the common list of distinct scalars directly,
/// any other through `Summary` itself.
fn write_summary(out: &mut Vec<u8>, list: &[v1::Resource]) {
    let Some(scalars) = scalar_summary(list) else {
        pieces::write_value(out, &Summary(list));
        return;
    };
    out.push(b'{');
    for (i, (name, value)) in scalars.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        pieces::write_str(out, name);
        out.push(b':');
        pieces::write_f64(out, *value);
    }
    out.push(b'}');
}

/// [`StatusDoc`] written like [`write_task`].
fn write_status(out: &mut Vec<u8>, s: &v1::TaskStatus) {
    out.extend_from_slice(b"{\"state\":");
    pieces::write_str(out, task_state_name(s.state));
    out.extend_from_slice(b",\"timestamp\":");
    pieces::write_f64(out, s.timestamp.unwrap_or(0.0));
    if let Some(h) = s.healthy {
        out.extend_from_slice(if h {
            b",\"healthy\":true"
        } else {
            b",\"healthy\":false"
        });
    }
    if let Some(c) = &s.container_status {
        out.extend_from_slice(b",\"container_status\":");
        pieces::write_value(out, &to_json_value(c));
    }
    if let Some(l) = &s.labels {
        out.extend_from_slice(b",\"labels\":");
        pieces::write_value(out, &to_json_value(l)["labels"]);
    }
    out.push(b'}');
}

/// [`HistoryDoc`] written like [`write_task`].
fn write_history(out: &mut Vec<u8>, h: &drover_core::master::HistoryEntry) {
    out.extend_from_slice(b"{\"state\":");
    pieces::write_str(out, state_name(h.state));
    out.extend_from_slice(b",\"timestamp\":");
    pieces::write_f64(out, seconds(h.timestamp_ms));
    if let Some(r) = h.reason {
        out.extend_from_slice(b",\"reason\":");
        pieces::write_str(out, reason_name(r));
    }
    if let Some(s) = h.source {
        out.extend_from_slice(b",\"source\":");
        pieces::write_str(out, source_name(s));
    }
    if let Some(m) = &h.message {
        out.extend_from_slice(b",\"message\":");
        pieces::write_str(out, m);
    }
    if let Some(healthy) = h.healthy {
        out.extend_from_slice(if healthy {
            b",\"healthy\":true"
        } else {
            b",\"healthy\":false"
        });
    }
    out.push(b'}');
}

fn task_state_name(state: i32) -> &'static str {
    v1::TaskState::try_from(state)
        .map(state_name)
        .unwrap_or("TASK_STAGING")
}

struct StatusDoc<'a>(&'a v1::TaskStatus);

impl Serialize for StatusDoc<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let s = self.0;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("state", task_state_name(s.state))?;
        map.serialize_entry("timestamp", &s.timestamp.unwrap_or(0.0))?;
        if let Some(h) = s.healthy {
            map.serialize_entry("healthy", &h)?;
        }
        if let Some(c) = &s.container_status {
            map.serialize_entry("container_status", &to_json_value(c))?;
        }
        if let Some(l) = &s.labels {
            map.serialize_entry("labels", &to_json_value(l)["labels"])?;
        }
        map.end()
    }
}

struct HistoryDoc<'a>(&'a drover_core::master::HistoryEntry);

impl Serialize for HistoryDoc<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let h = self.0;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("state", state_name(h.state))?;
        map.serialize_entry("timestamp", &seconds(h.timestamp_ms))?;
        if let Some(r) = h.reason {
            map.serialize_entry("reason", reason_name(r))?;
        }
        if let Some(s) = h.source {
            map.serialize_entry("source", source_name(s))?;
        }
        if let Some(m) = &h.message {
            map.serialize_entry("message", m)?;
        }
        if let Some(healthy) = h.healthy {
            map.serialize_entry("healthy", &healthy)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use drover_core::master::HistoryEntry;
    use std::collections::VecDeque;

    fn status(state: v1::TaskState, timestamp: f64) -> v1::TaskStatus {
        let mut s = v1::TaskStatus {
            state: state as i32,
            timestamp: Some(timestamp),
            ..Default::default()
        };
        s.task_id.value = "t".into();
        s
    }

    /// Tasks that take every branch of [`write_task`]: escaping, non-ASCII, optional fields,
    /// resources of the fast and the general summary, non-finite numbers.
    fn entries() -> Vec<TaskEntry> {
        let mut plain = v1::Task {
            name: "web".into(),
            state: v1::TaskState::TaskRunning as i32,
            resources: resources::parse("cpus:0.1;mem:16.5").expect("resources"),
            statuses: vec![status(v1::TaskState::TaskRunning, 1_700_000_000.25)],
            ..Default::default()
        };
        plain.task_id.value = "t-1".into();
        plain.framework_id.value = "fw-1".into();
        plain.agent_id.value = "a-1".into();
        let history = VecDeque::from([
            HistoryEntry {
                state: v1::TaskState::TaskStarting,
                reason: None,
                source: None,
                message: None,
                timestamp_ms: 1_700_000_000_123,
                healthy: None,
            },
            HistoryEntry {
                state: v1::TaskState::TaskRunning,
                reason: Some(v1::task_status::Reason::TaskHealthCheckStatusUpdated),
                source: Some(v1::task_status::Source::Executor),
                message: Some("line\n \"quoted\" \\ \u{1} caf\u{e9} \u{1F600}".into()),
                timestamp_ms: 1_700_000_001_000,
                healthy: Some(false),
            },
        ]);
        let entry = |task: v1::Task| TaskEntry {
            task,
            role: "*".into(),
            history: history.clone(),
            unreachable_time_ms: None,
            executor: None,
            acked_uuids: Vec::new(),
        };
        let mut rich = plain.clone();
        rich.task_id.value = "t-\"2\"\t\u{e9}-a-long-id-of-more-than-sixteen-bytes".into();
        rich.name = "caf\u{e9} \\ \u{7f} \u{1f}".into();
        rich.executor_id = Some(v1::ExecutorId {
            value: "exec".into(),
        });
        rich.user = Some("nobody".into());
        rich.resources =
            resources::parse("cpus:0.1;mem:16.5;ports:[31000-31002];cpus(web):1;disk:0.0001")
                .expect("resources");
        rich.labels = Some(v1::Labels {
            labels: vec![v1::Label {
                key: "k".into(),
                value: Some("v\u{1F600}".into()),
            }],
        });
        rich.health_check = Some(Box::new(v1::HealthCheck {
            delay_seconds: Some(1.5),
            ..Default::default()
        }));
        rich.discovery = Some(Box::new(v1::DiscoveryInfo {
            visibility: v1::discovery_info::Visibility::Framework as i32,
            name: Some("svc".into()),
            ..Default::default()
        }));
        rich.container = Some(Box::new(v1::ContainerInfo {
            r#type: v1::container_info::Type::Mesos as i32,
            ..Default::default()
        }));
        let mut healthy = status(v1::TaskState::TaskRunning, f64::NAN);
        healthy.healthy = Some(true);
        healthy.labels = rich.labels.clone();
        healthy.container_status = Some(v1::ContainerStatus::default());
        rich.statuses = vec![status(v1::TaskState::TaskStarting, 0.5), healthy];
        let mut unknown_state = plain.clone();
        unknown_state.state = 9_999;
        unknown_state.resources = resources::parse("cpus:0.0001;gpus:1;mem:1;mem:2").expect("r");
        unknown_state.statuses.clear();
        let mut unreachable = entry(unknown_state);
        unreachable.unreachable_time_ms = Some(1_700_000_002_000);
        unreachable.history.clear();
        unreachable.role = "r\u{e9}le".into();
        vec![entry(plain), entry(rich), unreachable]
    }

    #[test]
    fn tasks_written_directly_read_as_serialized() {
        for entry in entries() {
            let mut direct = Vec::new();
            write_task(&mut direct, &entry);
            let serialized = serde_json::to_vec(&TaskDoc(&entry)).expect("a task");
            assert_eq!(
                String::from_utf8(direct).expect("utf-8"),
                String::from_utf8(serialized).expect("utf-8")
            );
        }
    }
}
