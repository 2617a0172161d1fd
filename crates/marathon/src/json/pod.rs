//! Pod definitions in Marathon 1.10's JSON (`Pod` in its RAML): reading a request body into
//! the [`AppSpec`] that carries a [`PodSpec`] (every problem collected with its path; unknown
//! fields and what Drover cannot run refused by name) and rendering it back as Marathon
//! writes it (defaults materialized, empty collections omitted).

use std::collections::BTreeMap;

use drover_core::marathon::app::{AppSpec, FetchUri, INSTANCES_MAX, KillSelection, Violation};
use drover_core::marathon::constraint::Constraint;
use drover_core::marathon::path::PathId;
use drover_core::marathon::pod::{
    self, NetworkMode, PodCommand, PodContainer, PodEndpoint, PodExec, PodHealthCheck, PodImage,
    PodNetwork, PodProbe, PodResources, PodSpec, PodVolume, VolumeMount,
};
use drover_core::marathon::unreachable::UnreachableStrategy;
use serde_json::{Map, Value};

use super::read::Reader;

const SECONDS_MAX: u64 = 10 * 365 * 24 * 3600;

/// Most containers in one pod: each is a task of every instance's group.
const CONTAINERS_MAX: usize = 100;

/// The pod's fields (1.10 RAML), then what Drover refuses among them.
const POD_FIELDS: [&str; 16] = [
    "id",
    "labels",
    "version",
    "user",
    "environment",
    "containers",
    "secrets",
    "volumes",
    "networks",
    "scaling",
    "scheduling",
    "executorResources",
    "role",
    "linuxInfo",
    "legacySharedCgroups",
    // Written by this server into the store only (the scheduler's restart bookkeeping).
    "versionInfo",
];

const CONTAINER_FIELDS: [&str; 16] = [
    "name",
    "exec",
    "resources",
    "resourceLimits",
    "endpoints",
    "linuxInfo",
    "image",
    "environment",
    "user",
    "healthCheck",
    "check",
    "volumeMounts",
    "artifacts",
    "labels",
    "lifecycle",
    "tty",
];

/// Fields accepted by the RAML that Drover does not run: given a value, refused by name.
const POD_REFUSED: [(&str, &str); 1] = [(
    "linuxInfo",
    "linuxInfo (seccomp, IPC and shared memory settings) is not supported",
)];

const CONTAINER_REFUSED: [(&str, &str); 4] = [
    (
        "resourceLimits",
        "resourceLimits (limits above the requested resources) are not supported",
    ),
    (
        "linuxInfo",
        "linuxInfo (seccomp, IPC and shared memory settings) is not supported",
    ),
    (
        "check",
        "checks of pod containers are not supported; use healthCheck",
    ),
    (
        "secrets",
        "a pod's container has no secrets of its own: declare them in the pod's 'secrets' and \
         reference them from the container's 'environment'",
    ),
];

/// Whether a refused key was given a value: `null`, `false` and empty collections are what
/// clients (and Marathon's own rendering) send for "not set".
pub(super) fn given(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(Value::Object(o)) => !o.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(_) => true,
    }
}

/// Marathon's `ExecutorResources` (a pod's, or an app's for its custom executor): each field
/// not given is the default executor's share; in a request, an unknown key is refused.
pub(super) fn read_executor_resources(
    r: &mut Reader,
    e: &Map<String, Value>,
    request: bool,
) -> PodResources {
    let path = "/executorResources";
    if request {
        unknown(r, e, &["cpus", "mem", "disk"], path, "executor resources");
    }
    let mut res = PodResources::EXECUTOR_DEFAULT;
    if let Some(v) = r.number(e, "cpus", path) {
        res.cpus = v;
    }
    if let Some(v) = r.number(e, "mem", path) {
        res.mem = v;
    }
    if let Some(v) = r.number(e, "disk", path) {
        res.disk = v;
    }
    res
}

/// Refuses every key of `obj` not in `known`, naming it.
fn unknown(r: &mut Reader, obj: &Map<String, Value>, known: &[&str], path: &str, what: &str) {
    for key in obj.keys() {
        if !known.contains(&key.as_str()) {
            r.error(
                &format!("{path}/{key}"),
                format!("unknown field '{key}': not part of Marathon's {what}"),
            );
        }
    }
}

fn object<'a>(r: &mut Reader, v: &'a Value, path: &str) -> Option<&'a Map<String, Value>> {
    match v {
        Value::Object(o) => Some(o),
        _ => {
            r.error(path, "error.expected.jsobject");
            None
        }
    }
}

/// Whether a body is read from a request or from the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodMode {
    /// A request (`POST`, `PUT`): the complete definition.
    Request,
    /// Written by this server: version fields are read too, refusals are not repeated.
    Stored,
}

/// Reads a pod definition. `id` overrides the body's id (`PUT /v2/pods/{id}`); the caller
/// checks that they agree. Returns the carrier or every problem, type errors and semantic
/// ones together.
pub fn parse_pod(
    body: &Value,
    id: Option<&PathId>,
    mode: PodMode,
) -> Result<AppSpec, Vec<Violation>> {
    let mut r = Reader::default();
    let Value::Object(obj) = body else {
        return Err(vec![Violation::new("/", "error.expected.jsobject")]);
    };
    let raw_id = r.string(obj, "id", "");
    let id = match (id, &raw_id) {
        (Some(id), _) => Some(id.clone()),
        (None, Some(raw)) => match PathId::parse_app_id(raw) {
            Ok(id) => Some(id),
            Err(problems) => {
                for p in problems {
                    r.error("/id", p);
                }
                None
            }
        },
        (None, None) => {
            r.error("/id", "error.path.missing");
            None
        }
    };
    let request = mode == PodMode::Request;
    if request {
        unknown(&mut r, obj, &POD_FIELDS, "", "pod definition");
        if obj.contains_key("versionInfo") {
            r.error(
                "/versionInfo",
                "unknown field 'versionInfo': not part of Marathon's pod definition",
            );
        }
        for (key, why) in POD_REFUSED {
            if given(obj.get(key)) {
                r.error(&format!("/{key}"), why);
            }
        }
    }
    let (environment, env_secrets) = read_env(&mut r, obj, "environment", "");
    let secrets = super::app::read_secrets(&mut r, obj).unwrap_or_default();
    let containers = match obj.get("containers") {
        None | Some(Value::Null) => {
            r.error("/containers", "error.path.missing");
            Vec::new()
        }
        Some(Value::Array(items)) if items.len() > CONTAINERS_MAX => {
            r.error(
                "/containers",
                format!(
                    "got {} containers, expected {CONTAINERS_MAX} or fewer",
                    items.len()
                ),
            );
            Vec::new()
        }
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, c)| read_container(&mut r, c, &format!("/containers({i})"), request))
            .collect(),
        Some(_) => {
            r.error("/containers", "error.expected.jsarray");
            Vec::new()
        }
    };
    let volumes = read_volumes(&mut r, obj);
    let networks = read_networks(&mut r, obj);
    let executor_resources = match r.object(obj, "executorResources", "") {
        Some(e) => read_executor_resources(&mut r, e, request),
        None => PodResources::EXECUTOR_DEFAULT,
    };
    // Every secret reference names one of the pod's secrets.
    let references = env_secrets
        .iter()
        .map(|(k, id)| (format!("/environment/{k}"), id));
    let container_refs = containers.iter().enumerate().flat_map(|(i, c)| {
        c.env_secrets
            .iter()
            .map(move |(k, id)| (format!("/containers({i})/environment/{k}"), id))
    });
    let pull_refs = containers.iter().enumerate().filter_map(|(i, c)| {
        let id = c.image.as_ref()?.pull_config.as_ref()?;
        Some((format!("/containers({i})/image/pullConfig/secret"), id))
    });
    for (at, id) in references.chain(container_refs).chain(pull_refs) {
        if !secrets.contains_key(id) {
            r.error(&at, format!("references an undefined secret named '{id}'"));
        }
    }
    let spec = PodSpec {
        containers,
        volumes,
        networks,
        executor_resources,
        legacy_shared_cgroups: r.boolean(obj, "legacySharedCgroups", "").unwrap_or(false),
    };
    let mut app = pod::carrier(id.clone().unwrap_or_else(PathId::root), spec);
    app.env = environment;
    app.env_secrets = env_secrets;
    app.secrets = secrets;
    app.user = r.string(obj, "user", "");
    if let Some(labels) = r.string_map(obj, "labels", "") {
        app.labels = labels;
    }
    if let Some(role) = r.string(obj, "role", "") {
        app.role = role;
    }
    read_scaling(&mut r, obj, &mut app, request);
    // Marathon's defaults for a resident pod, as for a resident app: kill before starting (no
    // over-capacity, so no second set of volumes) and wait for an unreachable instance (its
    // data is on that agent). What the definition gives is read over them.
    if app.is_resident() {
        app.upgrade_strategy.minimum_health_capacity = 0.5;
        app.upgrade_strategy.maximum_over_capacity = 0.0;
        app.unreachable_strategy = UnreachableStrategy::Disabled;
    }
    read_scheduling(&mut r, obj, &mut app, request);
    if mode == PodMode::Stored {
        let stamp = |v: Option<&Value>| {
            v.and_then(Value::as_str)
                .and_then(drover_core::marathon::parse_timestamp)
        };
        app.version_ms = stamp(obj.get("version")).unwrap_or(0);
        let info = obj.get("versionInfo");
        app.last_scaling_at_ms =
            stamp(info.and_then(|i| i.get("lastScalingAt"))).unwrap_or(app.version_ms);
        app.last_config_change_at_ms =
            stamp(info.and_then(|i| i.get("lastConfigChangeAt"))).unwrap_or(app.version_ms);
    }
    let mut problems = r.errors;
    if problems.is_empty() {
        problems = drover_core::marathon::app::validate(&app);
    }
    if problems.is_empty() {
        Ok(app)
    } else {
        problems.sort();
        problems.dedup();
        Err(problems)
    }
}

/// `environment`: strings, and secret references (`{"secret": "<id>"}`, variable → id).
fn read_env(
    r: &mut Reader,
    obj: &Map<String, Value>,
    key: &str,
    path: &str,
) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let (mut out, mut secrets) = (BTreeMap::new(), BTreeMap::new());
    let Some(env) = r.object(obj, key, path) else {
        return (out, secrets);
    };
    for (k, v) in env {
        match v {
            Value::String(s) => {
                out.insert(k.clone(), s.clone());
            }
            Value::Object(o) if o.len() == 1 && o.get("secret").is_some_and(Value::is_string) => {
                let id = o.get("secret").and_then(Value::as_str).unwrap_or_default();
                secrets.insert(k.clone(), id.to_owned());
            }
            Value::Object(_) => r.error(
                &format!("{path}/{key}/{k}"),
                "an environment value is a string or {\"secret\": \"<secret id>\"}",
            ),
            _ => r.error(&format!("{path}/{key}/{k}"), "error.expected.jsstring"),
        }
    }
    (out, secrets)
}

fn read_command(r: &mut Reader, v: &Value, path: &str, request: bool) -> Option<PodCommand> {
    let c = object(r, v, path)?;
    if request {
        unknown(r, c, &["shell", "argv"], path, "command");
    }
    match (c.get("shell"), c.get("argv")) {
        (Some(_), Some(_)) => {
            r.error(path, "specify either `shell` or `argv`, never both");
            None
        }
        (Some(_), None) => r.string(c, "shell", path).map(PodCommand::Shell),
        (None, Some(_)) => r.strings(c, "argv", path).map(PodCommand::Argv),
        (None, None) => {
            r.error(path, "one of `shell` or `argv` is required");
            None
        }
    }
}

fn read_container(r: &mut Reader, v: &Value, path: &str, request: bool) -> Option<PodContainer> {
    let c = object(r, v, path)?;
    if request {
        unknown(r, c, &CONTAINER_FIELDS, path, "pod container");
        for (key, why) in CONTAINER_REFUSED {
            if given(c.get(key)) {
                r.error(&format!("{path}/{key}"), why);
            }
        }
    }
    let name = r.string(c, "name", path).unwrap_or_else(|| {
        r.error(&format!("{path}/name"), "error.path.missing");
        String::new()
    });
    let mut resources = PodResources {
        cpus: 1.0,
        mem: 128.0,
        disk: 0.0,
        gpus: 0,
    };
    match r.object(c, "resources", path) {
        None => r.error(&format!("{path}/resources"), "error.path.missing"),
        Some(res) => {
            let at = format!("{path}/resources");
            if request {
                unknown(r, res, &["cpus", "mem", "disk", "gpus"], &at, "resources");
            }
            if let Some(v) = r.number(res, "cpus", &at) {
                resources.cpus = v;
            }
            if let Some(v) = r.number(res, "mem", &at) {
                resources.mem = v;
            }
            if let Some(v) = r.number(res, "disk", &at) {
                resources.disk = v;
            }
            if let Some(v) = r.count(res, "gpus", &at, 1024) {
                resources.gpus = v as u32;
            }
        }
    }
    let image = c
        .get("image")
        .filter(|i| given(Some(i)))
        .and_then(|i| read_image(r, i, &format!("{path}/image"), request));
    let exec = match c.get("exec") {
        None | Some(Value::Null) => None,
        Some(e) => {
            let at = format!("{path}/exec");
            object(r, e, &at).and_then(|e| {
                if request {
                    unknown(r, e, &["command", "overrideEntrypoint"], &at, "exec");
                }
                let override_entrypoint = r.boolean(e, "overrideEntrypoint", &at);
                let command = match e.get("command") {
                    Some(v) => read_command(r, v, &format!("{at}/command"), request),
                    None => {
                        r.error(&format!("{at}/command"), "error.path.missing");
                        None
                    }
                };
                command.map(|command| PodExec {
                    command,
                    override_entrypoint,
                })
            })
        }
    };
    let mut endpoints = Vec::new();
    if let Some(items) = r.array(c, "endpoints", path) {
        for (j, e) in items.iter().enumerate() {
            let at = format!("{path}/endpoints({j})");
            let Some(e) = object(r, e, &at) else { continue };
            if request {
                unknown(
                    r,
                    e,
                    &[
                        "name",
                        "containerPort",
                        "hostPort",
                        "protocol",
                        "labels",
                        "networkNames",
                    ],
                    &at,
                    "endpoint",
                );
                if given(e.get("networkNames")) {
                    r.error(
                        &format!("{at}/networkNames"),
                        "networkNames are not supported: pods run on the host's network",
                    );
                }
            }
            let port = |r: &mut Reader, key: &str| r.count(e, key, &at, 65535).map(|p| p as u32);
            endpoints.push(PodEndpoint {
                name: r.string(e, "name", &at).unwrap_or_default(),
                container_port: port(r, "containerPort"),
                host_port: port(r, "hostPort"),
                protocol: r.strings(e, "protocol", &at).unwrap_or_default(),
                labels: r.string_map(e, "labels", &at).unwrap_or_default(),
            });
        }
    }
    let health_check = match c.get("healthCheck") {
        None | Some(Value::Null) => None,
        Some(h) => read_health_check(r, h, &format!("{path}/healthCheck"), request),
    };
    let mut volume_mounts = Vec::new();
    if let Some(items) = r.array(c, "volumeMounts", path) {
        for (j, m) in items.iter().enumerate() {
            let at = format!("{path}/volumeMounts({j})");
            let Some(m) = object(r, m, &at) else { continue };
            if request {
                unknown(
                    r,
                    m,
                    &["name", "mountPath", "readOnly"],
                    &at,
                    "volume mount",
                );
            }
            volume_mounts.push(VolumeMount {
                name: r.string(m, "name", &at).unwrap_or_default(),
                mount_path: r.string(m, "mountPath", &at).unwrap_or_default(),
                read_only: r.boolean(m, "readOnly", &at).unwrap_or(false),
            });
        }
    }
    let mut artifacts = Vec::new();
    if let Some(items) = r.array(c, "artifacts", path) {
        for (j, a) in items.iter().enumerate() {
            let at = format!("{path}/artifacts({j})");
            let Some(a) = object(r, a, &at) else { continue };
            if request {
                unknown(
                    r,
                    a,
                    &["uri", "extract", "executable", "cache", "destPath"],
                    &at,
                    "artifact",
                );
            }
            let Some(uri) = r.string(a, "uri", &at) else {
                r.error(&format!("{at}/uri"), "error.path.missing");
                continue;
            };
            artifacts.push(FetchUri {
                uri,
                extract: r.boolean(a, "extract", &at).unwrap_or(true),
                executable: r.boolean(a, "executable", &at).unwrap_or(false),
                cache: r.boolean(a, "cache", &at).unwrap_or(false),
                dest_path: r.string(a, "destPath", &at),
            });
        }
    }
    let (environment, env_secrets) = read_env(r, c, "environment", path);
    let mut kill_grace_period_seconds = None;
    if let Some(l) = r.object(c, "lifecycle", path) {
        let at = format!("{path}/lifecycle");
        if request {
            unknown(r, l, &["killGracePeriodSeconds"], &at, "lifecycle");
        }
        kill_grace_period_seconds = r.number(l, "killGracePeriodSeconds", &at);
    }
    Some(PodContainer {
        name,
        resources,
        exec,
        image,
        endpoints,
        health_check,
        artifacts,
        volume_mounts,
        environment,
        env_secrets,
        labels: r.string_map(c, "labels", path).unwrap_or_default(),
        user: r.string(c, "user", path),
        kill_grace_period_seconds,
        tty: r.boolean(c, "tty", path).unwrap_or(false),
    })
}

/// A container's `image` (`Image` in the RAML): DOCKER images only.
fn read_image(r: &mut Reader, v: &Value, path: &str, request: bool) -> Option<PodImage> {
    let i = object(r, v, path)?;
    if request {
        unknown(
            r,
            i,
            &["kind", "id", "forcePull", "pullConfig", "labels"],
            path,
            "image",
        );
        if given(i.get("labels")) {
            r.error(
                &format!("{path}/labels"),
                "image labels are for APPC images, which are not supported",
            );
        }
    }
    match r.string(i, "kind", path).as_deref() {
        Some("DOCKER") => {}
        Some("APPC") => r.error(
            &format!("{path}/kind"),
            "APPC images are not supported; use kind DOCKER",
        ),
        Some(other) => r.error(
            &format!("{path}/kind"),
            format!("'{other}' is not one of DOCKER, APPC"),
        ),
        None => r.error(&format!("{path}/kind"), "error.path.missing"),
    }
    let force_pull = r.boolean(i, "forcePull", path);
    let pull_config = r.object(i, "pullConfig", path).and_then(|p| {
        let at = format!("{path}/pullConfig");
        if request {
            unknown(r, p, &["secret"], &at, "pull config");
        }
        let secret = r.string(p, "secret", &at);
        if secret.is_none() {
            r.error(&format!("{at}/secret"), "error.path.missing");
        }
        secret
    });
    let Some(id) = r.string(i, "id", path) else {
        r.error(&format!("{path}/id"), "error.path.missing");
        return None;
    };
    Some(PodImage {
        id,
        force_pull,
        pull_config,
    })
}

fn read_health_check(
    r: &mut Reader,
    v: &Value,
    path: &str,
    request: bool,
) -> Option<PodHealthCheck> {
    let h = object(r, v, path)?;
    if request {
        unknown(
            r,
            h,
            &[
                "http",
                "tcp",
                "exec",
                "gracePeriodSeconds",
                "intervalSeconds",
                "maxConsecutiveFailures",
                "timeoutSeconds",
                "delaySeconds",
            ],
            path,
            "health check",
        );
    }
    let kinds = ["http", "tcp", "exec"]
        .iter()
        .filter(|k| given(h.get(**k)))
        .count();
    if kinds != 1 {
        r.error(path, "Only one of http, tcp, or command may be specified");
        return None;
    }
    let probe = if let Some(http) = r.object(h, "http", path) {
        let at = format!("{path}/http");
        if request {
            unknown(r, http, &["endpoint", "path", "scheme"], &at, "HTTP check");
        }
        PodProbe::Http {
            endpoint: r.string(http, "endpoint", &at).unwrap_or_default(),
            path: r.string(http, "path", &at),
            scheme: r
                .string(http, "scheme", &at)
                .unwrap_or_else(|| "HTTP".into()),
        }
    } else if let Some(tcp) = r.object(h, "tcp", path) {
        let at = format!("{path}/tcp");
        if request {
            unknown(r, tcp, &["endpoint"], &at, "TCP check");
        }
        PodProbe::Tcp {
            endpoint: r.string(tcp, "endpoint", &at).unwrap_or_default(),
        }
    } else {
        let at = format!("{path}/exec");
        let exec = r.object(h, "exec", path)?;
        if request {
            unknown(r, exec, &["command"], &at, "command check");
        }
        let command = read_command(r, exec.get("command")?, &format!("{at}/command"), request)?;
        PodProbe::Exec(command)
    };
    let mut n = |key: &str, default: u32| {
        r.count(h, key, path, u64::from(u32::MAX))
            .map_or(default, |v| v as u32)
    };
    Some(PodHealthCheck {
        probe,
        grace_period_seconds: n("gracePeriodSeconds", 300),
        interval_seconds: n("intervalSeconds", 60),
        max_consecutive_failures: n("maxConsecutiveFailures", 3),
        timeout_seconds: n("timeoutSeconds", 20),
        delay_seconds: n("delaySeconds", 15),
    })
}

fn read_volumes(r: &mut Reader, obj: &Map<String, Value>) -> Vec<PodVolume> {
    let mut out = Vec::new();
    let Some(items) = r.array(obj, "volumes", "") else {
        return out;
    };
    for (i, v) in items.iter().enumerate() {
        let at = format!("/volumes({i})");
        let Some(v) = object(r, v, &at) else { continue };
        if v.contains_key("secret") {
            r.error(
                &format!("{at}/secret"),
                "pod secret volumes are not supported yet (apps' are: the agent's --secrets_dir)",
            );
        }
        // A persistent volume (type root) makes the pod resident; its size is checked with
        // the pod's other rules.
        let persistent_size_mb = match v.get("persistent") {
            None | Some(Value::Null) => None,
            Some(p) => {
                if v.get("host").is_some_and(|h| !h.is_null()) {
                    r.error(
                        &at,
                        "a volume is either a host volume or a persistent one, not both",
                    );
                }
                super::container::read_persistent_info(r, p, &format!("{at}/persistent"))
            }
        };
        unknown(
            r,
            v,
            &["name", "host", "persistent", "secret"],
            &at,
            "pod volume",
        );
        out.push(PodVolume {
            name: r.string(v, "name", &at).unwrap_or_default(),
            host: r.string(v, "host", &at),
            persistent_size_mb,
        });
    }
    out
}

fn read_networks(r: &mut Reader, obj: &Map<String, Value>) -> Vec<PodNetwork> {
    // No networks is the host's (Marathon's `DefaultNetworks`), written out so a definition
    // reads back as it was stored.
    let host = || {
        vec![PodNetwork {
            mode: NetworkMode::Host,
            name: None,
            labels: BTreeMap::new(),
        }]
    };
    let mut out = Vec::new();
    let Some(items) = r.array(obj, "networks", "").filter(|a| !a.is_empty()) else {
        return host();
    };
    for (i, n) in items.iter().enumerate() {
        let at = format!("/networks({i})");
        let Some(n) = object(r, n, &at) else { continue };
        unknown(r, n, &["name", "mode", "labels"], &at, "network");
        // The RAML's default mode is `container`.
        let mode = match r.string(n, "mode", &at).as_deref() {
            None | Some("container") => NetworkMode::Container,
            Some("container/bridge") => NetworkMode::Bridge,
            Some("host") => NetworkMode::Host,
            Some(other) => {
                r.error(
                    &format!("{at}/mode"),
                    format!("'{other}' is not one of container, container/bridge, host"),
                );
                continue;
            }
        };
        out.push(PodNetwork {
            mode,
            name: r.string(n, "name", &at),
            labels: r.string_map(n, "labels", &at).unwrap_or_default(),
        });
    }
    out
}

fn read_scaling(r: &mut Reader, obj: &Map<String, Value>, app: &mut AppSpec, request: bool) {
    let Some(s) = r.object(obj, "scaling", "") else {
        return;
    };
    let path = "/scaling";
    if request {
        unknown(r, s, &["kind", "instances"], path, "scaling policy");
    }
    match r.string(s, "kind", path).as_deref() {
        None | Some("fixed") => {}
        Some(_) => r.error(&format!("{path}/kind"), "Not a fixed scaling policy"),
    }
    if let Some(n) = r.count(s, "instances", path, u64::from(INSTANCES_MAX)) {
        app.instances = n as u32;
    }
}

fn read_scheduling(r: &mut Reader, obj: &Map<String, Value>, app: &mut AppSpec, request: bool) {
    let Some(s) = r.object(obj, "scheduling", "") else {
        return;
    };
    let path = "/scheduling";
    if request {
        unknown(
            r,
            s,
            &[
                "backoff",
                "upgrade",
                "placement",
                "killSelection",
                "unreachableStrategy",
            ],
            path,
            "scheduling policy",
        );
    }
    if let Some(b) = r.object(s, "backoff", path) {
        let at = "/scheduling/backoff";
        if request {
            unknown(
                r,
                b,
                &["backoff", "backoffFactor", "maxLaunchDelay"],
                at,
                "backoff strategy",
            );
        }
        if let Some(v) = r.count(b, "backoff", at, SECONDS_MAX) {
            app.backoff_seconds = v;
        }
        if let Some(v) = r.number(b, "backoffFactor", at) {
            app.backoff_factor = v;
        }
        if let Some(v) = r.count(b, "maxLaunchDelay", at, SECONDS_MAX) {
            app.max_launch_delay_seconds = v;
        }
    }
    if let Some(u) = r.object(s, "upgrade", path) {
        let at = "/scheduling/upgrade";
        if request {
            unknown(
                r,
                u,
                &["minimumHealthCapacity", "maximumOverCapacity"],
                at,
                "upgrade strategy",
            );
        }
        if let Some(v) = r.number(u, "minimumHealthCapacity", at) {
            app.upgrade_strategy.minimum_health_capacity = v;
        }
        if let Some(v) = r.number(u, "maximumOverCapacity", at) {
            app.upgrade_strategy.maximum_over_capacity = v;
        }
    }
    if let Some(p) = r.object(s, "placement", path) {
        let at = "/scheduling/placement";
        if request {
            unknown(
                r,
                p,
                &["constraints", "acceptedResourceRoles"],
                at,
                "placement policy",
            );
        }
        if let Some(items) = r.array(p, "constraints", at) {
            for (i, c) in items.iter().enumerate() {
                let cat = format!("{at}/constraints({i})");
                let Some(c) = object(r, c, &cat) else {
                    continue;
                };
                if request {
                    unknown(
                        r,
                        c,
                        &["fieldName", "operator", "value"],
                        &cat,
                        "constraint",
                    );
                }
                let mut parts = vec![
                    r.string(c, "fieldName", &cat).unwrap_or_default(),
                    r.string(c, "operator", &cat).unwrap_or_default(),
                ];
                parts.extend(r.string(c, "value", &cat));
                match Constraint::parse(&parts) {
                    Ok(c) => app.constraints.push(c),
                    Err(message) => r.error(&cat, message),
                }
            }
        }
        if let Some(roles) = r.strings(p, "acceptedResourceRoles", at) {
            app.accepted_resource_roles = (!roles.is_empty()).then_some(roles);
        }
    }
    match r.string(s, "killSelection", path).as_deref() {
        None => {}
        Some("YOUNGEST_FIRST") => app.kill_selection = KillSelection::YoungestFirst,
        Some("OLDEST_FIRST") => app.kill_selection = KillSelection::OldestFirst,
        Some(_) => r.error(
            "/scheduling/killSelection",
            "must be YOUNGEST_FIRST or OLDEST_FIRST",
        ),
    }
    match s.get("unreachableStrategy") {
        None | Some(Value::Null) => {}
        Some(Value::String(v)) if v == "disabled" => {
            app.unreachable_strategy = UnreachableStrategy::Disabled;
        }
        Some(Value::Object(o)) => {
            let at = "/scheduling/unreachableStrategy";
            if request {
                unknown(
                    r,
                    o,
                    &["inactiveAfterSeconds", "expungeAfterSeconds"],
                    at,
                    "unreachable strategy",
                );
            }
            // A missing field takes the default an app's would (seed 2's 15 minutes).
            use drover_core::marathon::unreachable::{
                DEFAULT_EXPUNGE_AFTER_SECONDS, DEFAULT_INACTIVE_AFTER_SECONDS,
            };
            app.unreachable_strategy = UnreachableStrategy::Enabled {
                inactive_after_seconds: r
                    .count(o, "inactiveAfterSeconds", at, SECONDS_MAX)
                    .unwrap_or(DEFAULT_INACTIVE_AFTER_SECONDS),
                expunge_after_seconds: r
                    .count(o, "expungeAfterSeconds", at, SECONDS_MAX)
                    .unwrap_or(DEFAULT_EXPUNGE_AFTER_SECONDS),
            };
        }
        Some(_) => r.error(
            "/scheduling/unreachableStrategy",
            "must be \"disabled\" or an object with inactiveAfterSeconds and expungeAfterSeconds",
        ),
    }
}
