//! App definitions in Marathon's JSON: reading a request body into an [`AppSpec`] (every
//! problem collected with its path; partial updates merge onto the current definition) and
//! rendering an [`AppSpec`] back as Marathon writes it (defaults materialized, empty
//! collections omitted).

use std::collections::BTreeMap;

use drover_core::marathon::app::{
    self, AppSpec, FetchUri, HealthCheck, HealthProtocol, KillSelection, PortDefinition, Violation,
};
use drover_core::marathon::constraint::Constraint;
use drover_core::marathon::path::PathId;
use drover_core::marathon::unreachable::UnreachableStrategy;
use serde_json::{Map, Value};

use super::read::Reader;
use super::view::AppDef;

/// How a body is read.
#[derive(Debug, Clone, Copy)]
pub enum Mode<'a> {
    /// A full definition (POST, or PUT of an absent app, or `partialUpdate=false`).
    Full,
    /// Only the fields present change, on top of this definition.
    Merge(&'a AppSpec),
    /// A definition written by this server (the store): version fields are read too.
    Stored,
}

/// `secrets` (`{"<id>": {"source": "<name in the agents' secret store>"}}`), when given
/// (`null`: none); each bad one is named at its path.
pub(crate) fn read_secrets(
    r: &mut Reader,
    obj: &serde_json::Map<String, Value>,
) -> Option<BTreeMap<String, String>> {
    match obj.get("secrets") {
        None => None,
        Some(Value::Null) => Some(BTreeMap::new()),
        Some(Value::Object(secrets)) => {
            let mut out = BTreeMap::new();
            for (id, secret) in secrets {
                let source = secret.as_object().and_then(|o| {
                    (o.len() == 1).then(|| o.get("source").and_then(Value::as_str))?
                });
                match source {
                    Some(source) if !source.is_empty() => {
                        out.insert(id.clone(), source.to_owned());
                    }
                    _ => r.error(
                        &format!("/secrets/{id}"),
                        "a secret is {\"source\": \"<name in the agents' secret store>\"}",
                    ),
                }
            }
            Some(out)
        }
        Some(_) => {
            r.error("/secrets", "error.expected.jsobject");
            None
        }
    }
}

/// Fields kept verbatim and echoed back (`secrets` is also read, into the app's secrets).
const OPAQUE: [&str; 2] = ["secrets", "ipAddress"];

/// Every top-level field of Marathon 1.10's app definition (`App` in its RAML, with the 1.10
/// additions `networks`, `role`, `check`, `tty`). Anything else is refused by name.
const FIELDS: [&str; 41] = [
    "id",
    "acceptedResourceRoles",
    "args",
    "backoffFactor",
    "backoffSeconds",
    "check",
    "cmd",
    "constraints",
    "container",
    "cpus",
    "dependencies",
    "disk",
    "env",
    "executor",
    "fetch",
    "gpus",
    "healthChecks",
    "instances",
    "ipAddress",
    "killSelection",
    "labels",
    "maxLaunchDelaySeconds",
    "mem",
    "networks",
    "portDefinitions",
    "ports",
    "readinessChecks",
    "requirePorts",
    "residency",
    "role",
    "secrets",
    "storeUrls",
    "taskKillGracePeriodSeconds",
    "tty",
    "unreachableStrategy",
    "upgradeStrategy",
    "uris",
    "user",
    "version",
    "versionInfo",
    "executorResources",
];

/// What Marathon's AppInfo adds to a definition. A client that PUTs back what it read sends
/// them; they describe the running app, not the wanted one, so they are ignored, as Marathon
/// ignored them.
const READ_ONLY: [&str; 9] = [
    "tasksStaged",
    "tasksRunning",
    "tasksHealthy",
    "tasksUnhealthy",
    "deployments",
    "tasks",
    "lastTaskFailure",
    "taskStats",
    "readinessCheckResults",
];

/// Top-level fields Drover does not run: given a value (not null, not empty, not `false`),
/// they are refused by name rather than stored and ignored.
const REFUSED: [(&str, &str); 2] = [
    (
        "storeUrls",
        "storeUrls (Marathon's artifact store) is not supported; use fetch",
    ),
    (
        "ipAddress",
        "ipAddress (Marathon 1.4's IP-per-task API) is not supported; use networks with a \
         DOCKER container",
    ),
];

const SECONDS_MAX: u64 = 10 * 365 * 24 * 3600;

/// Marathon 1.10's `residency` defaults, the only values it still acted on (both fields are
/// deprecated there and a resident instance always waits for its agent).
pub const RESIDENCY_TIMEOUT_SECONDS: u64 = 3600;

/// `residency`: accepted on a resident app with Marathon's defaults (what Drover does: wait
/// for the agent forever); anything else is refused by name. Rendered from the volumes, so it
/// is not stored.
fn read_residency(
    r: &mut Reader,
    obj: &serde_json::Map<String, Value>,
    app: &AppSpec,
    refusing: bool,
) {
    let path = "/residency";
    let residency = match obj.get("residency") {
        None | Some(Value::Null) => return,
        Some(Value::Object(o)) => o,
        Some(_) => {
            r.error(path, "error.expected.jsobject");
            return;
        }
    };
    if !refusing {
        return;
    }
    for key in residency.keys() {
        if !matches!(
            key.as_str(),
            "relaunchEscalationTimeoutSeconds" | "taskLostBehavior"
        ) {
            r.error(&format!("{path}/{key}"), "not a field of residency");
        }
    }
    if let Some(v) = r.count(
        residency,
        "relaunchEscalationTimeoutSeconds",
        path,
        SECONDS_MAX,
    ) && v != RESIDENCY_TIMEOUT_SECONDS
    {
        r.error(
            &format!("{path}/relaunchEscalationTimeoutSeconds"),
            "only 3600 (Marathon 1.10's default; the field has no effect there): a resident \
             instance is never relaunched elsewhere",
        );
    }
    match r.string(residency, "taskLostBehavior", path).as_deref() {
        None | Some("WAIT_FOREVER") => {}
        Some(_) => r.error(
            &format!("{path}/taskLostBehavior"),
            "only WAIT_FOREVER: a resident instance waits for its agent (Marathon 1.10 acted \
             on nothing else)",
        ),
    }
    if !app.is_resident() {
        r.error(
            path,
            "residency applies to apps with persistent volumes \
             (container.volumes[].persistent) only",
        );
    }
}

/// Reads an app definition. `id` overrides the body's id (PUT to `/v2/apps/{id}`). Returns the
/// definition or every problem, type errors and semantic ones together.
pub fn parse_app(
    body: &Value,
    id: Option<&PathId>,
    mode: Mode<'_>,
) -> Result<AppSpec, Vec<Violation>> {
    let mut r = Reader::default();
    let Value::Object(obj) = body else {
        return Err(vec![Violation::new("/", "error.expected.jsobject")]);
    };
    let raw_id = r.string(obj, "id", "");
    let id = match (id, &raw_id, mode) {
        (Some(id), _, _) => Some(id.clone()),
        (None, _, Mode::Merge(base)) => Some(base.id.clone()),
        (None, Some(raw), _) => match PathId::parse_app_id(raw) {
            Ok(id) => Some(id),
            Err(problems) => {
                for p in problems {
                    r.error("/id", p);
                }
                None
            }
        },
        (None, None, _) => {
            r.error("/id", "error.path.missing");
            None
        }
    };
    let mut app = match mode {
        Mode::Merge(base) => base.clone(),
        _ => AppSpec::new(id.clone().unwrap_or_else(PathId::root)),
    };
    if let Some(id) = &id {
        app.id = id.clone();
    }
    let p = "";
    if obj.contains_key("cmd") {
        app.cmd = r.string(obj, "cmd", p);
    }
    if obj.contains_key("args") {
        app.args = r.strings(obj, "args", p).unwrap_or_default();
    }
    if let (Mode::Merge(_), true, false) = (mode, obj.contains_key("cmd"), obj.contains_key("args"))
    {
        app.args.clear();
    }
    if let (Mode::Merge(_), false, true) = (mode, obj.contains_key("cmd"), obj.contains_key("args"))
    {
        app.cmd = None;
    }
    if obj.contains_key("user") {
        app.user = r.string(obj, "user", p);
    }
    for (key, slot) in [
        ("cpus", &mut app.cpus),
        ("mem", &mut app.mem),
        ("disk", &mut app.disk),
    ] {
        if let Some(v) = r.number(obj, key, p) {
            *slot = v;
        }
    }
    if let Some(v) = r.count(obj, "gpus", p, 1024) {
        app.gpus = v as u32;
    }
    if let Some(v) = r.count(obj, "instances", p, u64::from(app::INSTANCES_MAX)) {
        app.instances = v as u32;
    }
    if let Some(env) = r.object(obj, "env", p) {
        app.env = BTreeMap::new();
        app.env_secrets = BTreeMap::new();
        for (k, v) in env {
            match v {
                Value::String(s) => {
                    app.env.insert(k.clone(), s.clone());
                }
                // Marathon's secret reference: the agent resolves it from its secret store.
                Value::Object(o)
                    if o.len() == 1 && o.get("secret").is_some_and(Value::is_string) =>
                {
                    let id = o.get("secret").and_then(Value::as_str).unwrap_or_default();
                    app.env_secrets.insert(k.clone(), id.to_owned());
                }
                Value::Object(_) => r.error(
                    &format!("/env/{k}"),
                    "an environment value is a string or {\"secret\": \"<secret id>\"}",
                ),
                _ => r.error(&format!("/env/{k}"), "error.expected.jsstring"),
            }
        }
    }
    if let Some(secrets) = read_secrets(&mut r, obj) {
        app.secrets = secrets;
    }
    for (name, id) in &app.env_secrets {
        if !app.secrets.contains_key(id) {
            r.error(
                &format!("/env/{name}"),
                format!("references an undefined secret named '{id}'"),
            );
        }
    }
    if let Some(labels) = r.string_map(obj, "labels", p) {
        app.labels = labels;
    }
    if let Some(constraints) = r.array(obj, "constraints", p) {
        app.constraints = Vec::new();
        for (i, c) in constraints.iter().enumerate() {
            let path = format!("/constraints({i})");
            let parts: Option<Vec<String>> = c
                .as_array()
                .and_then(|a| a.iter().map(|s| s.as_str().map(str::to_owned)).collect());
            match parts {
                None => r.error(&path, "error.expected.jsarray of strings"),
                Some(parts) => match Constraint::parse(&parts) {
                    Ok(c) => app.constraints.push(c),
                    Err(message) => r.error(&path, message),
                },
            }
        }
    }
    read_ports(&mut r, obj, &mut app);
    if let Some(v) = r.boolean(obj, "requirePorts", p) {
        app.require_ports = v;
    }
    if let Some(v) = r.boolean(obj, "tty", p) {
        app.tty = v;
    }
    if let Some(checks) = r.array(obj, "healthChecks", p) {
        app.health_checks = checks
            .iter()
            .enumerate()
            .filter_map(|(i, c)| read_health_check(&mut r, c, &format!("/healthChecks({i})")))
            .collect();
    }
    read_fetch(&mut r, obj, &mut app);
    super::readiness::read(&mut r, obj, &mut app);
    super::check::read(&mut r, obj, &mut app);
    if let Some(us) = r.object(obj, "upgradeStrategy", p) {
        let path = "/upgradeStrategy";
        if let Some(v) = r.number(us, "minimumHealthCapacity", path) {
            app.upgrade_strategy.minimum_health_capacity = v;
        }
        if let Some(v) = r.number(us, "maximumOverCapacity", path) {
            app.upgrade_strategy.maximum_over_capacity = v;
        }
    }
    if let Some(v) = r.count(obj, "backoffSeconds", p, SECONDS_MAX) {
        app.backoff_seconds = v;
    }
    if let Some(v) = r.number(obj, "backoffFactor", p) {
        app.backoff_factor = v;
    }
    if let Some(v) = r.count(obj, "maxLaunchDelaySeconds", p, SECONDS_MAX) {
        app.max_launch_delay_seconds = v;
    }
    match obj.get("unreachableStrategy") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s == "disabled" => {
            app.unreachable_strategy = UnreachableStrategy::Disabled;
        }
        Some(Value::Object(o)) => {
            let path = "/unreachableStrategy";
            let inactive = r.count(o, "inactiveAfterSeconds", path, SECONDS_MAX);
            let expunge = r.count(o, "expungeAfterSeconds", path, SECONDS_MAX);
            let (default_inactive, default_expunge) = match app.unreachable_strategy {
                UnreachableStrategy::Enabled {
                    inactive_after_seconds,
                    expunge_after_seconds,
                } => (inactive_after_seconds, expunge_after_seconds),
                UnreachableStrategy::Disabled => (
                    drover_core::marathon::unreachable::DEFAULT_INACTIVE_AFTER_SECONDS,
                    drover_core::marathon::unreachable::DEFAULT_EXPUNGE_AFTER_SECONDS,
                ),
            };
            app.unreachable_strategy = UnreachableStrategy::Enabled {
                inactive_after_seconds: inactive.unwrap_or(default_inactive),
                expunge_after_seconds: expunge.unwrap_or(default_expunge),
            };
        }
        Some(_) => r.error(
            "/unreachableStrategy",
            "must be \"disabled\" or an object with inactiveAfterSeconds and expungeAfterSeconds",
        ),
    }
    match r.string(obj, "killSelection", p).as_deref() {
        None => {}
        Some("YOUNGEST_FIRST") => app.kill_selection = KillSelection::YoungestFirst,
        Some("OLDEST_FIRST") => app.kill_selection = KillSelection::OldestFirst,
        Some(_) => r.error("/killSelection", "must be YOUNGEST_FIRST or OLDEST_FIRST"),
    }
    if obj.contains_key("taskKillGracePeriodSeconds") {
        app.task_kill_grace_period_seconds =
            r.count(obj, "taskKillGracePeriodSeconds", p, SECONDS_MAX);
    }
    if obj.contains_key("acceptedResourceRoles") {
        app.accepted_resource_roles = r.strings(obj, "acceptedResourceRoles", p);
    }
    if let Some(role) = r.string(obj, "role", p) {
        app.role = role;
    }
    if let Some(executor) = r.string(obj, "executor", p) {
        app.executor = executor;
    }
    if let Some(e) = r.object(obj, "executorResources", p) {
        let request = !matches!(mode, Mode::Stored);
        app.executor_resources = Some(super::pod::read_executor_resources(&mut r, e, request));
    } else if obj.contains_key("executorResources") {
        app.executor_resources = None;
    }
    if let Some(deps) = r.strings(obj, "dependencies", p) {
        app.dependencies = Vec::new();
        for (i, d) in deps.iter().enumerate() {
            match PathId::parse(d, &app.id.parent()) {
                Ok(d) => app.dependencies.push(d),
                Err(problems) => {
                    for m in problems {
                        r.error(&format!("/dependencies({i})"), m);
                    }
                }
            }
        }
    }
    for key in OPAQUE {
        match obj.get(key) {
            None => {}
            Some(Value::Null) => {
                app.opaque.remove(key);
            }
            Some(v) => {
                app.opaque.insert(key.to_owned(), v.to_string());
            }
        }
    }
    // A stored definition was accepted when it was written; these refusals are for requests.
    let refusing = !matches!(mode, Mode::Stored);
    if refusing {
        for key in obj.keys() {
            if !FIELDS.contains(&key.as_str()) && !READ_ONLY.contains(&key.as_str()) {
                r.error(
                    &format!("/{key}"),
                    format!("unknown field '{key}': not part of Marathon's app definition"),
                );
            }
        }
    }
    for (key, why) in REFUSED.into_iter().filter(|_| refusing) {
        let given = match obj.get(key) {
            None | Some(Value::Null) | Some(Value::Bool(false)) => false,
            Some(Value::Object(o)) => !o.is_empty(),
            Some(Value::Array(a)) => !a.is_empty(),
            Some(_) => true,
        };
        if given {
            r.error(&format!("/{key}"), why);
        }
    }
    let (ports_before, require_before) = (app.port_definitions.clone(), app.require_ports);
    let mut container_problems = Reader::default();
    super::container::apply(
        &mut container_problems,
        super::container::Given {
            container: obj.get("container"),
            networks: obj.get("networks"),
            gave_ports: obj.contains_key("portDefinitions") || obj.contains_key("ports"),
        },
        &mut app,
    );
    if matches!(mode, Mode::Stored) && !container_problems.errors.is_empty() {
        // Written before `container`/`networks` were typed, when such fields were kept and
        // not acted on: the app keeps running as it ran (a host command) instead of keeping
        // the scheduler from starting; the next update of the app must then be valid.
        tracing::warn!(
            app = %app.id,
            problems = ?container_problems.errors,
            "stored app has a container or networks Drover does not run; running it on the host as before"
        );
        app.container = None;
        app.port_definitions = ports_before;
        app.require_ports = require_before;
    } else {
        r.errors.extend(container_problems.errors);
    }
    read_residency(&mut r, obj, &app, refusing);
    // Marathon's defaults for a resident app: kill before starting (no over-capacity, so no
    // second set of volumes) and wait for unreachable instances (their data is on that agent).
    if app.is_resident() && matches!(mode, Mode::Full) {
        if !obj.contains_key("upgradeStrategy") {
            app.upgrade_strategy.minimum_health_capacity = 0.5;
            app.upgrade_strategy.maximum_over_capacity = 0.0;
        }
        if !obj.contains_key("unreachableStrategy") {
            app.unreachable_strategy = UnreachableStrategy::Disabled;
        }
    }
    if app.tty && app.container.as_ref().is_some_and(|c| !c.is_mesos()) {
        r.error(
            "/tty",
            "tty is supported for MESOS containers (and apps without a container) only",
        );
    }
    if let Some(drover_core::marathon::container::AppContainer::MesosDocker(mesos)) = &app.container
        && let Some(id) = &mesos.pull_config
        && !app.secrets.contains_key(id)
    {
        r.error(
            "/container/docker/pullConfig/secret",
            format!("references an undefined secret named '{id}'"),
        );
    }
    for (path, id) in &app.secret_volumes {
        if !app.secrets.contains_key(id) {
            r.error(
                "/container/volumes",
                format!(
                    "the secret volume at '{path}' references an undefined secret named '{id}'"
                ),
            );
        }
    }
    if let Mode::Stored = mode {
        let version = |key: &str, v: Option<&Value>| {
            v.and_then(|v| v.get(key).or(Some(v)))
                .and_then(Value::as_str)
                .and_then(drover_core::marathon::parse_timestamp)
        };
        app.version_ms = version("version", obj.get("version")).unwrap_or(0);
        let info = obj.get("versionInfo");
        app.last_scaling_at_ms = info
            .and_then(|i| i.get("lastScalingAt"))
            .and_then(Value::as_str)
            .and_then(drover_core::marathon::parse_timestamp)
            .unwrap_or(app.version_ms);
        app.last_config_change_at_ms = info
            .and_then(|i| i.get("lastConfigChangeAt"))
            .and_then(Value::as_str)
            .and_then(drover_core::marathon::parse_timestamp)
            .unwrap_or(app.version_ms);
    }
    let mut problems = r.errors;
    if problems.is_empty() {
        problems = app::validate(&app);
    }
    if problems.is_empty() {
        Ok(app)
    } else {
        Err(problems)
    }
}

fn read_ports(r: &mut Reader, obj: &Map<String, Value>, app: &mut AppSpec) {
    if obj.contains_key("ports") && obj.contains_key("portDefinitions") {
        r.error("/", "You cannot specify both ports and port definitions");
        return;
    }
    if let Some(ports) = r.array(obj, "ports", "") {
        app.port_definitions = Vec::new();
        for (i, port) in ports.iter().enumerate() {
            match port.as_u64() {
                Some(port) => app.port_definitions.push(PortDefinition {
                    port: port.min(u64::from(u32::MAX)) as u32,
                    protocol: "tcp".into(),
                    name: None,
                    labels: BTreeMap::new(),
                }),
                None => r.error(&format!("/ports({i})"), "error.expected.jsnumber"),
            }
        }
    }
    if let Some(definitions) = r.array(obj, "portDefinitions", "") {
        app.port_definitions = Vec::new();
        for (i, d) in definitions.iter().enumerate() {
            let path = format!("/portDefinitions({i})");
            let Some(d) = d.as_object() else {
                r.error(&path, "error.expected.jsobject");
                continue;
            };
            let port = r.count(d, "port", &path, u64::from(u32::MAX)).unwrap_or(0) as u32;
            let protocol = r
                .string(d, "protocol", &path)
                .unwrap_or_else(|| "tcp".into());
            let name = r.string(d, "name", &path);
            let labels = r.string_map(d, "labels", &path).unwrap_or_default();
            app.port_definitions.push(PortDefinition {
                port,
                protocol,
                name,
                labels,
            });
        }
    }
}

fn read_fetch(r: &mut Reader, obj: &Map<String, Value>, app: &mut AppSpec) {
    if obj.contains_key("uris") && obj.contains_key("fetch") {
        r.error("/", "You cannot specify both uris and fetch fields");
        return;
    }
    if let Some(uris) = r.strings(obj, "uris", "") {
        for (i, uri) in uris.iter().enumerate() {
            if let Err(message) = check_fetch_uri(uri) {
                r.error(&format!("/uris({i})"), message);
            }
        }
        app.fetch = uris
            .into_iter()
            .map(|uri| FetchUri {
                extract: is_archive(&uri),
                uri,
                executable: false,
                cache: false,
                dest_path: None,
            })
            .collect();
    }
    if let Some(fetch) = r.array(obj, "fetch", "") {
        app.fetch = Vec::new();
        for (i, f) in fetch.iter().enumerate() {
            let path = format!("/fetch({i})");
            let Some(f) = f.as_object() else {
                r.error(&path, "error.expected.jsobject");
                continue;
            };
            let Some(uri) = r.string(f, "uri", &path) else {
                r.error(&format!("{path}/uri"), "error.path.missing");
                continue;
            };
            if let Err(message) = check_fetch_uri(&uri) {
                r.error(&format!("{path}/uri"), message);
            }
            let dest_path = r.string(f, "destPath", &path);
            if let Some(dest) = &dest_path
                && !is_inside_sandbox(dest)
            {
                r.error(
                    &format!("{path}/destPath"),
                    "destPath must be a relative path inside the sandbox (no '..')",
                );
            }
            app.fetch.push(FetchUri {
                extract: r.boolean(f, "extract", &path).unwrap_or(true),
                executable: r.boolean(f, "executable", &path).unwrap_or(false),
                cache: r.boolean(f, "cache", &path).unwrap_or(false),
                dest_path,
                uri,
            });
        }
    }
}

/// The URIs the agent's fetcher can fetch: http, https, file and absolute paths. Anything else
/// (hdfs, s3, ... which Mesos fetched through Hadoop) is refused here rather than accepted and
/// failed at every launch.
fn check_fetch_uri(uri: &str) -> Result<(), String> {
    if uri.starts_with('/') {
        return Ok(());
    }
    match uri.split_once("://") {
        Some((scheme, rest))
            if ["http", "https", "file"]
                .iter()
                .any(|s| s.eq_ignore_ascii_case(scheme))
                && !rest.is_empty() =>
        {
            Ok(())
        }
        Some((scheme, _))
            if !["http", "https", "file"]
                .iter()
                .any(|s| s.eq_ignore_ascii_case(scheme)) =>
        {
            Err(format!(
                "unsupported URI scheme '{scheme}': the fetcher supports http, https, file and absolute paths"
            ))
        }
        _ => Err("URI must be an absolute path or an http, https or file URI".to_owned()),
    }
}

/// A destPath stays inside the sandbox: relative, without `..`.
fn is_inside_sandbox(path: &str) -> bool {
    !path.is_empty() && !path.starts_with('/') && path.split('/').all(|part| part != "..")
}

fn is_archive(uri: &str) -> bool {
    [
        ".tgz", ".tar.gz", ".tbz2", ".tar.bz2", ".txz", ".tar.xz", ".zip",
    ]
    .iter()
    .any(|ext| uri.ends_with(ext))
}

fn read_health_check(r: &mut Reader, value: &Value, path: &str) -> Option<HealthCheck> {
    let Some(obj) = value.as_object() else {
        r.error(path, "error.expected.jsobject");
        return None;
    };
    let protocol_name = r
        .string(obj, "protocol", path)
        .unwrap_or_else(|| "HTTP".into());
    let Some(protocol) = HealthProtocol::parse(&protocol_name) else {
        r.error(
            &format!("{path}/protocol"),
            "must be one of HTTP, HTTPS, TCP, MESOS_HTTP, MESOS_HTTPS, MESOS_TCP, COMMAND",
        );
        return None;
    };
    let mut check = HealthCheck::new(protocol);
    check.path = r.string(obj, "path", path);
    check.port_index = r.count(obj, "portIndex", path, 1024).map(|v| v as u32);
    check.port = r.count(obj, "port", path, 65535).map(|v| v as u32);
    if let Some(command) = r.object(obj, "command", path) {
        check.command = r.string(command, "value", &format!("{path}/command"));
    }
    let secs = |r: &mut Reader, key: &str, slot: &mut u32| {
        if let Some(v) = r.count(obj, key, path, SECONDS_MAX) {
            *slot = v as u32;
        }
    };
    secs(r, "gracePeriodSeconds", &mut check.grace_period_seconds);
    secs(r, "intervalSeconds", &mut check.interval_seconds);
    secs(r, "timeoutSeconds", &mut check.timeout_seconds);
    secs(
        r,
        "maxConsecutiveFailures",
        &mut check.max_consecutive_failures,
    );
    secs(r, "delaySeconds", &mut check.delay_seconds);
    if let Some(v) = r.boolean(obj, "ignoreHttp1xx", path) {
        check.ignore_http1xx = v;
    }
    Some(check)
}

/// Renders an app definition as Marathon does (`GET /v2/apps/{id}/versions/{v}`, and the
/// base of AppInfo), as a `Value` map; [`AppDef`] writes the same text directly.
pub fn app_json(app: &AppSpec) -> Map<String, Value> {
    match super::render::to_value(&AppDef(app)) {
        Value::Object(o) => o,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn parses_minimal_app_and_renders_defaults() {
        let app = parse_app(&json!({"id": "web", "cmd": "sleep 1"}), None, Mode::Full).unwrap();
        let out = app_json(&app);
        assert_eq!(out["id"], "/web");
        assert_eq!(out["backoffFactor"], 1.15);
        assert_eq!(out["maxLaunchDelaySeconds"], 300);
        assert_eq!(out["portDefinitions"][0]["port"], 0);
        assert_eq!(out["unreachableStrategy"]["expungeAfterSeconds"], 900);
        assert!(out.get("args").is_none(), "empty args omitted");
    }

    #[test]
    fn collects_every_problem() {
        let body = json!({"id": "/Bad_Id", "cmd": 5, "instances": -1, "cpus": "x",
                          "constraints": [["hostname", "FOO"]]});
        let problems = parse_app(&body, None, Mode::Full).unwrap_err();
        let paths: Vec<_> = problems.iter().map(|p| p.path.as_str()).collect();
        for path in ["/id", "/cmd", "/instances", "/cpus", "/constraints(0)"] {
            assert!(paths.contains(&path), "{path} in {paths:?}");
        }
    }

    #[test]
    fn merge_changes_only_given_fields() {
        let base = parse_app(
            &json!({"id": "web", "cmd": "sleep 1", "mem": 64}),
            None,
            Mode::Full,
        )
        .unwrap();
        let merged = parse_app(&json!({"instances": 4}), None, Mode::Merge(&base)).unwrap();
        assert_eq!(merged.instances, 4);
        assert_eq!(merged.mem, 64.0);
        assert_eq!(merged.cmd.as_deref(), Some("sleep 1"));
    }

    #[test]
    fn fetch_uris_the_agent_cannot_fetch_are_refused() {
        let body = json!({"id": "web", "cmd": "ls", "fetch": [
            {"uri": "https://h/a.tgz", "destPath": "lib/a.tgz"},
            {"uri": "hdfs://nn/a.tgz"},
            {"uri": "relative/a.tgz"},
            {"uri": "/opt/a.tgz", "destPath": "../a.tgz"}
        ]});
        let problems = parse_app(&body, None, Mode::Full).unwrap_err();
        let paths: Vec<_> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            ["/fetch(1)/uri", "/fetch(2)/uri", "/fetch(3)/destPath"]
        );
        assert!(
            problems[0]
                .message
                .contains("unsupported URI scheme 'hdfs'")
        );
        let legacy = json!({"id": "web", "cmd": "ls", "uris": ["http://h/x.zip", "s3://b/x"]});
        let problems = parse_app(&legacy, None, Mode::Full).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].path, "/uris(1)");
        let ok = json!({"id": "web", "cmd": "ls", "uris": ["http://h/x.zip", "file:///opt/y", "/opt/z"]});
        let app = parse_app(&ok, None, Mode::Full).unwrap();
        assert_eq!(app.fetch.len(), 3);
        assert!(app.fetch[0].extract && !app.fetch[1].extract);
    }
}
