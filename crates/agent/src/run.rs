//! `drover agent` start-up: flags → resources and isolation, the checkpoint store, recovery,
//! the HTTP server, the master session and the driver, until shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use drover_core::agent::gc::GcConfig;
use drover_core::agent::{Agent, Config};
use drover_wire::v1;

use crate::containerizer::{Containerizer, ContainerizerConfig, Isolation, IsolationFlags};
use crate::driver::{Driver, Msg, Settings};
use crate::flags::{Flags, format_duration};
use crate::http::{AppState, router};

/// Runs the agent until `shutdown` resolves.
pub async fn run(flags: Flags, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
    // Nonsense GC settings are refused before anything is touched.
    let gc = GcConfig {
        delay_ms: flags.gc_delay.as_millis().min(u128::from(u64::MAX)) as u64,
        disk_headroom: flags.gc_disk_headroom,
    };
    gc.validate().map_err(|e| anyhow::anyhow!(e))?;
    std::fs::create_dir_all(&flags.work_dir)
        .with_context(|| format!("creating work dir {}", flags.work_dir.display()))?;
    let work_dir = std::fs::canonicalize(&flags.work_dir).context("resolving work dir")?;
    let listener = tokio::net::TcpListener::bind((flags.ip, flags.port))
        .await
        .with_context(|| format!("listening on {}:{}", flags.ip, flags.port))?;
    // Every executor reconnects at once after a restart.
    drover_http::listen::raise_backlog(&listener);
    let port = listener.local_addr()?.port();
    let endpoint = format!("{}:{port}", flags.ip);

    let resources = match &flags.resources {
        Some(text) => {
            drover_core::resources::parse(text).map_err(|e| anyhow::anyhow!("--resources: {e}"))?
        }
        None => detect_resources(&work_dir),
    };
    let attributes = parse_attributes(flags.attributes.as_deref().unwrap_or(""));
    let hostname = flags
        .hostname
        .clone()
        .or_else(|| {
            nix::unistd::gethostname()
                .ok()
                .map(|h| h.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| flags.ip.to_string());
    let boot_id = match &flags.boot_id {
        Some(id) => id.clone(),
        None => std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .map(|s| s.trim().to_owned())
            .unwrap_or_default(),
    };
    let launcher = match &flags.launcher_dir {
        Some(dir) => dir.join("drover"),
        None => std::env::current_exe().context("locating the drover binary")?,
    };
    let launcher_path = launcher.clone();

    let plain = matches!(
        flags.isolation.as_str(),
        "posix" | "none" | "posix/cpu,posix/mem"
    );
    let isolation = if plain {
        Isolation::none("--isolation asks for plain processes")
    } else {
        Isolation::detect()
    };
    let containerizer = Containerizer::new(
        isolation,
        ContainerizerConfig {
            cgroup_parent: flags.cgroups_root.clone().into(),
        },
    );
    // Said once, at start: which isolation containers get and, for what is off, why.
    tracing::info!("{}", containerizer.isolation().summary());
    let isolation_flags = IsolationFlags {
        cgroups: !plain && flags.isolation.contains("cgroups"),
        cfs: flags.cgroups_enable_cfs,
        pid_namespace: !plain && flags.isolation.contains("namespaces/pid"),
    };

    // Every oversubscription flag must take effect; checked before anything starts.
    let fixed_estimate = crate::oversubscription::check_flags(&flags, &resources)?;

    let AgentAcls {
        run_tasks: acls,
        access_sandboxes: sandbox_acls,
        get_endpoints: endpoint_acls,
        views,
        nested: nested_acls,
    } = match &flags.acls {
        Some(flag) => agent_acls(flag).map_err(anyhow::Error::msg)?,
        None => AgentAcls::default(),
    };

    let executor_keys = match &flags.executor_secret_key {
        Some(path) => {
            let secret = std::fs::read(path)
                .with_context(|| format!("reading --executor_secret_key {}", path.display()))?;
            if secret.trim_ascii().is_empty() {
                anyhow::bail!("--executor_secret_key {} is empty", path.display());
            }
            Some(Arc::new(crate::executor_auth::Keys::new(
                secret.trim_ascii(),
            )))
        }
        None if flags.authenticate_http_executors => {
            anyhow::bail!("--authenticate_http_executors needs --executor_secret_key")
        }
        None => None,
    };

    let store_dir = work_dir.join("meta");
    std::fs::create_dir_all(&store_dir)?;
    let store: Arc<dyn drover_store::Store> = Arc::new(
        drover_store::RedbStore::open(&store_dir).context("opening the checkpoint store")?,
    );

    let config = Config {
        ip: (!flags.ip.is_unspecified()).then(|| flags.ip.to_string()),
        work_dir: work_dir.display().to_string(),
        launcher: launcher.display().to_string(),
        executor_registration_timeout_ms: flags.executor_registration_timeout.as_millis() as u64,
        executor_reregistration_timeout_ms: flags
            .executor_reregistration_timeout
            .min(Duration::from_secs(15))
            .as_millis() as u64,
        executor_shutdown_grace_ms: flags.executor_shutdown_grace_period.as_millis() as u64,
        agent_info: v1::AgentInfo {
            hostname,
            port: Some(i32::from(port)),
            resources,
            attributes,
            ..Default::default()
        },
        boot_id: boot_id.clone(),
        run_tasks: acls.clone(),
        oversubscription: flags.resource_estimator.is_some(),
    };
    let seed = *uuid::Uuid::new_v4().as_bytes();
    let fetcher = crate::fetcher::Fetcher::new(crate::fetcher::FetcherConfig {
        cache_dir: flags
            .fetcher_cache_dir
            .clone()
            .unwrap_or_else(|| work_dir.join("fetch")),
        cache_size_bytes: flags.fetcher_cache_size,
        max_size_bytes: flags.fetcher_max_size,
        timeout: flags.fetcher_timeout,
    })
    .context("setting up the fetcher")?;
    // Nested containers of a previous run are re-adopted (a default executor's tasks run as
    // nested containers), sessions ended; containers' terminals stay attachable.
    let nested = Arc::new(crate::nested::Nested::new(
        &work_dir,
        launcher_path.clone(),
        flags.cgroups_enable_cfs,
        flags.max_nested_containers as usize,
    ));
    nested.recover();
    nested.recover_terminals();
    let provisioner = provisioner(&flags, &work_dir)?;
    let settings = Settings {
        endpoint: endpoint.clone(),
        work_dir: work_dir.clone(),
        isolation: isolation_flags,
        enforce_disk_quota: flags.enforce_container_disk_quota,
        shutdown_grace_text: format_duration(flags.executor_shutdown_grace_period),
        reregistration_timeout_text: format_duration(flags.executor_reregistration_timeout),
        fetcher: Arc::new(fetcher),
        containerizers: flags.containerizers.0.clone(),
        docker: docker_settings(&flags, &work_dir).await?,
        executor_keys: executor_keys.clone(),
        secrets_dir: flags.secrets_dir.clone(),
        nested: nested.clone(),
        provisioner: provisioner.clone(),
    };
    let containerizer = Arc::new(containerizer);
    let (mut driver, rx, parts) = Driver::new(
        Agent::new(config, seed).with_gc_config(gc),
        store,
        containerizer.clone(),
        settings,
    );

    let executor_keys_for_http = executor_keys.clone();
    let state = AppState {
        driver: parts.handle.clone(),
        flags: Arc::new(flags.to_pairs()),
        work_dir: work_dir.clone(),
        endpoint: endpoint.clone(),
        executor_auth: executor_keys.filter(|_| flags.authenticate_http_executors),
        access_sandboxes: sandbox_acls.map(Arc::new),
        get_endpoints: endpoint_acls.map(Arc::new),
        views: views.map(Arc::new),
        nested: nested.clone(),
        nested_acls: nested_acls.map(Arc::new),
        secrets_dir: flags.secrets_dir.clone(),
        provisioner,
        started: Instant::now(),
        start_time: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default(),
    };
    let app = router(state);
    // Authentication (issue 14): one policy from the flags, consulted before any handler.
    let app = match crate::auth::policy(&flags)? {
        Some(policy) => app.layer(axum::middleware::from_fn_with_state(
            policy,
            drover_http::auth::middleware,
        )),
        None => {
            if !flags.ip.is_loopback() {
                tracing::warn!(
                    address = %flags.ip,
                    "the agent listens on a non-loopback address without authentication (--authenticate_http_readwrite); anyone who can reach it can read sandboxes and change the agent"
                );
            }
            app
        }
    };
    // Executors' tokens on the operator API (a default executor's nested containers), checked
    // before the Basic authentication above.
    let app = match &executor_keys_for_http {
        Some(keys) => app.layer(axum::middleware::from_fn_with_state(
            keys.clone(),
            crate::http::executor_token,
        )),
        None => app,
    };
    // Around everything: reads across origins (the services UI's sandbox view) get their CORS
    // headers on every answer, a 401 included, and their preflight before authentication.
    let app = app.layer(axum::middleware::from_fn(drover_ui::cors_read));
    let master_credential = crate::auth::master_credential(&flags)?;
    let http_limits = flags.http_limits();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut server_stop = stop_rx.clone();
    // Idle and half-open clients are bounded: a connection cap, a header deadline and an idle
    // timeout between requests (executor subscriptions are exempt from the last).
    let tls = drover_http::tls::server().map_err(|e| anyhow::anyhow!("TLS: {e}"))?;
    let server = tokio::spawn(drover_http::conn::serve_tcp(
        listener,
        tls,
        http_limits,
        drover_http::paths::ignoring_trailing_slashes_service(app),
        async move {
            let _ = server_stop.wait_for(|s| *s).await;
        },
    ));
    tracing::info!(endpoint, "agent listening");

    // Executors of the previous run resubscribe to the server, so it runs during recovery.
    driver
        .recover(&boot_id)
        .await
        .context("recovering checkpoints")?;
    let driver_task = tokio::spawn(driver.run(rx));

    let tx = parts.handle.tx.clone();
    let master = crate::detector::start(&flags.master)?;
    let backoff = flags.registration_backoff_factor;
    let to_master = parts.to_master_rx;
    let session_start = parts.session_start;
    let mut session = tokio::spawn(async move {
        if session_start.await.is_ok() {
            crate::master::run(master, backoff, master_credential, tx, to_master).await
        } else {
            None
        }
    });
    let watch_tx = parts.handle.tx.clone();
    let interval = flags
        .container_disk_watch_interval
        .max(Duration::from_millis(10));
    let watcher = tokio::spawn(async move {
        loop {
            tokio::time::sleep(interval).await;
            if watch_tx.send(Msg::DiskWatch).await.is_err() {
                return;
            }
        }
    });

    let oversubscription = crate::oversubscription::start(&flags, fixed_estimate, &parts.handle);

    let gc_tx = parts.handle.tx.clone();
    let gc_interval = flags.disk_watch_interval.max(Duration::from_millis(10));
    let gc_watcher = tokio::spawn(async move {
        loop {
            tokio::time::sleep(gc_interval).await;
            if gc_tx.send(Msg::GcDiskCheck).await.is_err() {
                return;
            }
        }
    });

    let gone = tokio::select! {
        _ = shutdown => None,
        Ok(Some(message)) = &mut session => Some(message),
    };
    if let Some(message) = &gone {
        // Mesos' agent does the same on the master's SHUTDOWN: its id is gone for good, so
        // registering again would be refused forever, and its tasks are no longer the
        // cluster's.
        tracing::error!(
            message,
            "the master shut this agent down (it was marked gone); stopping its tasks and exiting"
        );
        let grace = flags.executor_shutdown_grace_period + Duration::from_secs(10);
        stop_all_tasks(&parts.handle, grace).await;
    } else if flags.keep_tasks_running {
        tracing::info!("agent shutting down; tasks keep running");
    } else {
        tracing::info!("agent shutting down; killing its tasks (--keep_tasks_running=false)");
        let grace = flags.executor_shutdown_grace_period + Duration::from_secs(10);
        kill_all_tasks(&parts.handle, grace).await;
    }
    session.abort();
    watcher.abort();
    gc_watcher.abort();
    for task in oversubscription {
        task.abort();
    }
    let _ = stop_tx.send(true);
    driver_task.abort();
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    remove_empty_cgroup_root(&containerizer, &flags.cgroups_root);
    match gone {
        Some(message) => Err(anyhow::anyhow!(
            "the master shut this agent down: {message}"
        )),
        None => Ok(()),
    }
}

/// The Docker containerizer when `--containerizers` lists it. A daemon that does not answer
/// is said once here; Docker launches then fail with the socket named, each within the
/// client's timeout.
async fn docker_settings(
    flags: &Flags,
    work_dir: &std::path::Path,
) -> anyhow::Result<Option<Arc<crate::docker_task::DockerSettings>>> {
    use crate::containerizer::seam::Kind;
    if !flags.containerizers.0.contains(&Kind::Docker) {
        return Ok(None);
    }
    let settings = crate::docker_task::DockerSettings {
        socket: flags.docker_socket.clone(),
        call_timeout: Duration::from_secs(15),
        client: std::sync::OnceLock::new(),
        stop_timeout: flags.docker_stop_timeout,
        remove_delay: flags.docker_remove_delay,
        kill_orphans: flags.docker_kill_orphans,
        config_json: None,
        // Mesos bounded a whole launch, pull included, by the executor registration timeout.
        pull_timeout: flags.executor_registration_timeout,
        owner: work_dir.display().to_string(),
        cfs_quota: flags.cgroups_enable_cfs,
    };
    let ping = match settings.client() {
        Ok(client) => client.ping().await,
        Err(error) => Err(error),
    };
    match ping {
        Ok(()) => {
            tracing::info!(socket = %flags.docker_socket.display(), "Docker containerizer ready")
        }
        Err(error) => tracing::error!(
            "the Docker daemon is not reachable ({error}); Docker tasks will fail to launch \
             until it is"
        ),
    }
    let config_json = docker_config(flags)?;
    Ok(Some(Arc::new(crate::docker_task::DockerSettings {
        config_json,
        ..settings
    })))
}

/// The text of `--docker_config` (given inline as JSON, or as a path).
fn docker_config(flags: &Flags) -> anyhow::Result<Option<String>> {
    Ok(match &flags.docker_config {
        None => None,
        Some(text) if text.trim_start().starts_with('{') => Some(text.clone()),
        Some(path) => {
            let path = path.strip_prefix("file://").unwrap_or(path);
            Some(
                std::fs::read_to_string(path)
                    .with_context(|| format!("--docker_config: reading {path}"))?,
            )
        }
    })
}

/// The Mesos containerizer's image provisioner when `--image_providers` has `docker`.
fn provisioner(
    flags: &Flags,
    work_dir: &std::path::Path,
) -> anyhow::Result<Option<Arc<crate::provisioner::Provisioner>>> {
    if !flags.image_providers.docker {
        return Ok(None);
    }
    let config = crate::provisioner::ProvisionerConfig {
        default_registry: flags.docker_registry.clone(),
        store_dir: flags
            .docker_store_dir
            .clone()
            .unwrap_or_else(|| work_dir.join("store").join("docker")),
        backend: flags.image_provisioner_backend,
        docker_config: docker_config(flags)?,
    };
    let provisioner = crate::provisioner::Provisioner::new(work_dir, config)
        .context("preparing the image store (--docker_store_dir)")?;
    Ok(Some(Arc::new(provisioner)))
}

/// Kills every live task as its framework's KILL would (each ends TASK_KILLED, the operator
/// having stopped it), then waits, up to `within`, until no container is left.
async fn kill_all_tasks(handle: &crate::driver::Handle, within: Duration) {
    let tasks: Vec<(String, String)> = handle
        .snapshot
        .borrow()
        .frameworks
        .iter()
        .flat_map(|f| {
            let framework = f.info.id.as_ref().map(|id| id.value.clone());
            f.executors
                .iter()
                .flat_map(|e| e.tasks.iter().chain(&e.queued_tasks))
                .filter_map(move |t| Some((framework.clone()?, t.task_id.value.clone())))
        })
        .collect();
    if tasks.is_empty() {
        return;
    }
    for (framework_id, task_id) in tasks {
        let input = drover_core::agent::Input::KillTask {
            framework_id: drover_core::agent::FrameworkId(framework_id),
            task_id: drover_core::agent::TaskId(task_id),
            kill_policy: None,
        };
        if handle.tx.send(Msg::Input(input)).await.is_err() {
            return;
        }
    }
    // The updates are checkpointed before they are sent: one the master has not received
    // yet is resent by the next start, as any unacknowledged update is.
    let mut containers = handle.containers.clone();
    let _ = tokio::time::timeout(within, containers.wait_for(|c| c.is_empty())).await;
}

/// Shuts down every framework's executors (their tasks are killed) and waits, up to `within`,
/// until no container is left.
async fn stop_all_tasks(handle: &crate::driver::Handle, within: Duration) {
    let frameworks: Vec<String> = handle
        .snapshot
        .borrow()
        .frameworks
        .iter()
        .filter_map(|f| f.info.id.as_ref().map(|id| id.value.clone()))
        .collect();
    for id in frameworks {
        let input =
            drover_core::agent::Input::ShutdownFramework(drover_core::agent::FrameworkId(id));
        if handle.tx.send(Msg::Input(input)).await.is_err() {
            return;
        }
    }
    let mut containers = handle.containers.clone();
    let _ = tokio::time::timeout(within, containers.wait_for(|c| c.is_empty())).await;
}

/// Removes the agent's cgroup root in every hierarchy if no container is left in it (a
/// non-empty cgroup cannot be removed, so running tasks keep theirs), so a clean stop leaves
/// nothing behind.
fn remove_empty_cgroup_root(containerizer: &Containerizer, cgroups_root: &str) {
    for controller in crate::containerizer::Controller::ALL {
        if let Ok(hierarchy) = containerizer.isolation().controller(controller) {
            let _ = std::fs::remove_dir(hierarchy.join(cgroups_root));
        }
    }
}

/// The machine's resources when `--resources` is absent: all cores, memory less 1 GB
/// (or half, on small hosts) as Mesos does, the work dir's disk less 5 GB (or half), and
/// Mesos' default port range.
fn detect_resources(work_dir: &std::path::Path) -> Vec<v1::Resource> {
    use drover_core::resources::{ranges_resource, scalar_resource};
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let mem_total_mb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(1024.0, |kb| kb / 1024.0);
    let mem = if mem_total_mb > 2048.0 {
        mem_total_mb - 1024.0
    } else {
        mem_total_mb / 2.0
    };
    let disk_total_mb = nix::sys::statvfs::statvfs(work_dir)
        .map(|s| s.blocks() as f64 * s.fragment_size() as f64 / (1024.0 * 1024.0))
        .unwrap_or(10240.0);
    let disk = if disk_total_mb > 10240.0 {
        disk_total_mb - 5120.0
    } else {
        disk_total_mb / 2.0
    };
    vec![
        scalar_resource("cpus", cpus),
        scalar_resource("mem", mem.floor()),
        scalar_resource("disk", disk.floor()),
        ranges_resource("ports", &[(31000, 32000)]),
    ]
}

/// `--attributes`: `name:value;…`, numbers as scalars, everything else as text.
fn parse_attributes(text: &str) -> Vec<v1::Attribute> {
    text.split(';')
        .filter_map(|pair| pair.split_once(':'))
        .map(|(name, value)| {
            let mut a = v1::Attribute {
                name: name.trim().to_owned(),
                ..Default::default()
            };
            match value.trim().parse::<f64>() {
                Ok(n) => {
                    a.r#type = v1::value::Type::Scalar as i32;
                    a.scalar = Some(v1::value::Scalar { value: n });
                }
                Err(_) => {
                    a.r#type = v1::value::Type::Text as i32;
                    a.text = Some(v1::value::Text {
                        value: value.trim().to_owned(),
                    });
                }
            }
            a
        })
        .collect()
}

/// The agent's parsed `--acls`; `None` where they allow everything.
#[derive(Default)]
struct AgentAcls {
    run_tasks: Option<drover_core::acl::RunTasks>,
    access_sandboxes: Option<drover_core::acl::AccessSandboxes>,
    get_endpoints: Option<drover_core::acl::Rules>,
    views: Option<crate::http::Views>,
    nested: Option<crate::http_nested::NestedAcls>,
}

/// What the agent's `--acls` enforce: `run_tasks` (in the core, at each launch),
/// `access_sandboxes` (on `/files` and READ_FILE), `get_endpoints` (principal → paths:
/// `/metrics/snapshot`, `/monitor/statistics`, `/containers`, as Mesos' agent authorized
/// them), and the reads Mesos' agent filtered: `view_frameworks`, `view_executors`,
/// `view_tasks` (`/state`, GET_STATE), `view_containers` (`/containers`, GET_CONTAINERS),
/// `view_flags` (`/flags`, GET_FLAGS), `set_log_level` (SET_LOGGING_LEVEL) and
/// `access_mesos_logs` (the agent's log, `/slave/log`, with `--log_dir`).
/// Other ACL kinds guard what Drover's agent does not serve, so they are refused by name
/// rather than accepted without effect.
fn agent_acls(flag: &str) -> Result<AgentAcls, String> {
    use drover_http::acls::{any_or_none, list};
    let object = drover_http::acls::read(flag)?;
    let mut permissive = true;
    let (mut run_tasks, mut sandboxes, mut endpoints) = (None, None, None);
    let mut views: [Option<Vec<drover_core::acl::Acl>>; 7] = Default::default();
    let mut nested = std::collections::BTreeMap::new();
    for (key, value) in &object {
        match key.as_str() {
            "permissive" => permissive = drover_http::acls::permissive(value)?,
            "run_tasks" => run_tasks = Some(drover_http::acls::run_tasks(value)?),
            "access_sandboxes" => sandboxes = Some(list(value, key, "principals", "users")?),
            "get_endpoints" => endpoints = Some(list(value, key, "principals", "paths")?),
            "view_frameworks" => views[0] = Some(list(value, key, "principals", "users")?),
            "view_executors" => views[1] = Some(list(value, key, "principals", "users")?),
            "view_tasks" => views[2] = Some(list(value, key, "principals", "users")?),
            "view_containers" => views[3] = Some(list(value, key, "principals", "users")?),
            "view_flags" => views[4] = Some(any_or_none(value, key, "flags")?),
            "set_log_level" => views[5] = Some(any_or_none(value, key, "level")?),
            "access_mesos_logs" => views[6] = Some(any_or_none(value, key, "logs")?),
            kind if crate::http_nested::is_acl_kind(kind) => {
                nested.insert(kind.to_owned(), list(value, key, "principals", "users")?);
            }
            other => {
                return Err(format!(
                    "--acls: the '{other}' ACL is not supported by the agent (supported: \
                     permissive, run_tasks, access_sandboxes, get_endpoints, view_frameworks, \
                     view_executors, view_tasks, view_containers, view_flags, set_log_level, \
                     access_mesos_logs, \
                     and the nested-container kinds: {})",
                    crate::http_nested::ACL_KINDS.join(", ")
                ));
            }
        }
    }
    let rules = |acls: Option<Vec<drover_core::acl::Acl>>| {
        (acls.is_some() || !permissive).then(|| drover_core::acl::Rules {
            acls: acls.unwrap_or_default(),
            permissive,
        })
    };
    // Any view ACL, or `permissive: false`, makes every read checked (a kind no ACL names then
    // follows `permissive`).
    let views = (views.iter().any(Option::is_some) || !permissive).then(|| {
        let [
            frameworks,
            executors,
            tasks,
            containers,
            flags,
            log_level,
            logs,
        ] = views.map(|acls| drover_core::acl::Rules {
            acls: acls.unwrap_or_default(),
            permissive,
        });
        crate::http::Views {
            read: drover_core::acl::ViewRules {
                frameworks,
                executors,
                tasks,
            },
            containers,
            flags,
            log_level,
            logs,
        }
    });
    // Any nested-container ACL, or `permissive: false`, checks every such call (a kind no ACL
    // names then follows `permissive`).
    let nested = (!nested.is_empty() || !permissive).then(|| {
        crate::http_nested::ACL_KINDS
            .iter()
            .map(|kind| {
                let acls = nested.remove(*kind).unwrap_or_default();
                (
                    (*kind).to_owned(),
                    drover_core::acl::Rules { acls, permissive },
                )
            })
            .collect()
    });
    Ok(AgentAcls {
        nested,
        run_tasks: rules(run_tasks),
        access_sandboxes: rules(sandboxes),
        get_endpoints: rules(endpoints),
        views,
    })
}
