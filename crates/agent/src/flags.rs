//! `drover agent`'s flags, with Mesos' spellings, defaults, duration syntax and `MESOS_*`
//! environment variables.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use drover_wire::duration::{format as format_duration, parse as parse_duration};

/// Flags of `drover agent`.
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {
    /// The master: `host:port`, or `zk://[user:pass@]host:port[,host:port]/path` to follow
    /// the leading master of that ZooKeeper group.
    #[arg(long = "master", env = "MESOS_MASTER")]
    pub master: String,
    /// IP address to listen on and to advertise.
    #[arg(long = "ip", env = "MESOS_IP", default_value = "127.0.0.1")]
    pub ip: IpAddr,
    /// Port to listen on.
    #[arg(long = "port", env = "MESOS_PORT", default_value_t = 5051)]
    pub port: u16,
    /// Where sandboxes and checkpoints live.
    #[arg(long = "work_dir", env = "MESOS_WORK_DIR")]
    pub work_dir: PathBuf,
    /// Total resources, Mesos syntax (`cpus:2;mem:1024;disk:4096;ports:[31000-32000]`);
    /// detected from the machine when absent.
    #[arg(long = "resources", env = "MESOS_RESOURCES")]
    pub resources: Option<String>,
    /// Attributes, `name:value;name:value`.
    #[arg(long = "attributes", env = "MESOS_ATTRIBUTES")]
    pub attributes: Option<String>,
    /// Hostname to advertise.
    #[arg(long = "hostname", env = "MESOS_HOSTNAME")]
    pub hostname: Option<String>,
    /// How long an executor may take to subscribe.
    #[arg(long = "executor_registration_timeout", env = "MESOS_EXECUTOR_REGISTRATION_TIMEOUT", default_value = "1mins", value_parser = parse_duration)]
    pub executor_registration_timeout: Duration,
    /// How long executors may take to resubscribe after an agent restart (at most 15secs).
    #[arg(long = "executor_reregistration_timeout", env = "MESOS_EXECUTOR_REREGISTRATION_TIMEOUT", default_value = "2secs", value_parser = parse_duration)]
    pub executor_reregistration_timeout: Duration,
    /// Grace between SHUTDOWN and the kill of an executor.
    #[arg(long = "executor_shutdown_grace_period", env = "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD", default_value = "5secs", value_parser = parse_duration)]
    pub executor_shutdown_grace_period: Duration,
    /// How long the directories of ended executors and frameworks are kept (sooner when the
    /// disk fills, see --gc_disk_headroom); a new task of the same executor or framework takes
    /// them back. Must be more than zero.
    #[arg(long = "gc_delay", env = "MESOS_GC_DELAY", default_value = "1weeks", value_parser = parse_duration)]
    pub gc_delay: Duration,
    /// Fraction of the work directory's disk to keep free: at disk usage u, directories older
    /// than gc_delay × max(0, 1 − headroom − u) are deleted at the next disk check.
    #[arg(
        long = "gc_disk_headroom",
        env = "MESOS_GC_DISK_HEADROOM",
        default_value_t = 0.1
    )]
    pub gc_disk_headroom: f64,
    /// How often the work directory's disk usage is checked for --gc_disk_headroom.
    #[arg(long = "disk_watch_interval", env = "MESOS_DISK_WATCH_INTERVAL", default_value = "1mins", value_parser = parse_duration)]
    pub disk_watch_interval: Duration,
    /// Isolation: `cgroups/cpu,cgroups/mem,namespaces/pid,disk/du` (Mesos names) or `posix`
    /// / `none` for plain processes.
    #[arg(
        long = "isolation",
        env = "MESOS_ISOLATION",
        default_value = "cgroups/cpu,cgroups/mem,namespaces/pid,disk/du"
    )]
    pub isolation: String,
    /// Hard CPU limits (CFS quota) besides shares.
    #[arg(long = "cgroups_enable_cfs", env = "MESOS_CGROUPS_ENABLE_CFS", default_value_t = false, action = clap::ArgAction::Set)]
    pub cgroups_enable_cfs: bool,
    /// Cgroup under each controller root that holds the containers.
    #[arg(
        long = "cgroups_root",
        env = "MESOS_CGROUPS_ROOT",
        default_value = "drover"
    )]
    pub cgroups_root: String,
    /// How often sandboxes are measured against their disk quota.
    #[arg(long = "container_disk_watch_interval", env = "MESOS_CONTAINER_DISK_WATCH_INTERVAL", default_value = "15secs", value_parser = parse_duration)]
    pub container_disk_watch_interval: Duration,
    /// Kill containers whose sandbox outgrows their disk.
    #[arg(long = "enforce_container_disk_quota", env = "MESOS_ENFORCE_CONTAINER_DISK_QUOTA", default_value_t = false, action = clap::ArgAction::Set)]
    pub enforce_container_disk_quota: bool,
    /// Base of the random registration backoff (`[0, factor·2^n]`, at most 1 min).
    #[arg(long = "registration_backoff_factor", env = "MESOS_REGISTRATION_BACKOFF_FACTOR", default_value = "1secs", value_parser = parse_duration)]
    pub registration_backoff_factor: Duration,
    /// Directory holding the `drover` binary that runs the command executor (default: this
    /// process's own binary).
    #[arg(long = "launcher_dir", env = "MESOS_LAUNCHER_DIR")]
    pub launcher_dir: Option<PathBuf>,
    /// The agent's secret store: a `REFERENCE` secret named `n` (Marathon's `secrets` with
    /// `source: n`) is the file `<secrets_dir>/n`, resolved into the task's environment at
    /// launch. Keep it readable by root only. Without it, tasks that refer to a secret fail
    /// to launch, naming it (Mesos needed a `--secret_resolver` module for the same).
    #[arg(long = "secrets_dir", env = "MESOS_SECRETS_DIR", value_name = "DIR")]
    pub secrets_dir: Option<PathBuf>,
    /// The fetcher cache's directory (default: `<work_dir>/fetch`); the entries an earlier
    /// start left there are removed.
    #[arg(long = "fetcher_cache_dir", env = "MESOS_FETCHER_CACHE_DIR")]
    pub fetcher_cache_dir: Option<PathBuf>,
    /// The fetcher cache's size (`2GB`, `512MB`, ...); least recently used entries are
    /// evicted beyond it. `0B` turns caching off.
    #[arg(long = "fetcher_cache_size", env = "MESOS_FETCHER_CACHE_SIZE", default_value = "2GB", value_parser = parse_bytes)]
    pub fetcher_cache_size: u64,
    /// Drover's bound on what one fetched URI (and what its archive extracts to) may write;
    /// a task's enforced disk quota bounds it further.
    #[arg(long = "fetcher_max_size", env = "DROVER_FETCHER_MAX_SIZE", default_value = "10GB", value_parser = parse_bytes)]
    pub fetcher_max_size: u64,
    /// Drover's bound on the nested containers running at once on this agent (each task of a
    /// task group is one, and each `task exec` session): each has an I/O switchboard process.
    #[arg(long = "max_nested_containers", env = "DROVER_MAX_NESTED_CONTAINERS", default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub max_nested_containers: u32,
    /// Drover's bound on how long one URI's download may take.
    #[arg(long = "fetcher_timeout", env = "DROVER_FETCHER_TIMEOUT", default_value = "10mins", value_parser = parse_duration)]
    pub fetcher_timeout: Duration,
    /// NOT SUPPORTED (Mesos' stall detection of downloads): refused if given; Drover bounds a
    /// download's total time with --fetcher_timeout instead.
    #[arg(long = "fetcher_stall_timeout", env = "MESOS_FETCHER_STALL_TIMEOUT", value_parser = unsupported_stall_timeout)]
    pub fetcher_stall_timeout: Option<String>,
    /// NOT SUPPORTED (Mesos fetched hdfs://, s3:// and other schemes through Hadoop): refused
    /// if given; the fetcher supports http, https, file and absolute paths.
    #[arg(long = "hadoop_home", env = "MESOS_HADOOP_HOME", value_parser = unsupported_hadoop_home)]
    pub hadoop_home: Option<String>,
    /// This host's boot id; read from `/proc/sys/kernel/random/boot_id` when absent (tests set
    /// it to simulate a reboot).
    #[arg(long = "boot_id", env = "DROVER_BOOT_ID")]
    pub boot_id: Option<String>,
    /// On a clean stop (SIGTERM/SIGINT), leave the tasks running for the next start to
    /// recover (Mesos' agent does); `false` kills them first, each reported TASK_KILLED.
    #[arg(long = "keep_tasks_running", env = "DROVER_KEEP_TASKS_RUNNING", default_value_t = true, action = clap::ArgAction::Set)]
    pub keep_tasks_running: bool,
    /// Open HTTP connections accepted at once (executor subscriptions count); beyond it a new
    /// connection is closed at once (Drover's; Mesos had no bound).
    #[arg(long = "max_connections", env = "MESOS_MAX_CONNECTIONS", default_value_t = drover_http::guard::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// Time a client has to send its first request's header before it is disconnected
    /// (Drover's; bounds half-open and slow clients).
    #[arg(long = "http_header_read_timeout", env = "MESOS_HTTP_HEADER_READ_TIMEOUT", default_value = "30secs", value_parser = parse_duration)]
    pub http_header_read_timeout: Duration,
    /// Time a keep-alive connection may stay open with no request in flight (Drover's; long
    /// streams are never idle).
    #[arg(long = "http_idle_timeout", env = "MESOS_HTTP_IDLE_TIMEOUT", default_value = "60secs", value_parser = parse_duration)]
    pub http_idle_timeout: Duration,
    /// Authorization on this agent, in Mesos' `--acls` JSON (the JSON or a file path): the
    /// agent checks `run_tasks` (principal → user) again before it launches a task, and
    /// refuses what its ACLs deny (TASK_ERROR / REASON_TASK_UNAUTHORIZED, or
    /// REASON_TASK_GROUP_UNAUTHORIZED for a task group), whatever the master allowed; and
    /// `access_sandboxes` (principal → the executor's user) on `/files` and READ_FILE (403).
    /// `permissive` applies as in Mesos; any other ACL kind is refused at start by name.
    #[arg(long = "acls", env = "MESOS_ACLS")]
    pub acls: Option<String>,
    /// The agent's own credential for the master (Mesos' `--credential`): JSON
    /// `{"principal": .., "secret": ..}` or one line `principal secret`.
    #[arg(long = "credential", env = "MESOS_CREDENTIAL")]
    pub credential: Option<String>,
    /// Executors must authenticate to the Executor API (Mesos' flag): each executor gets a
    /// token (a JWT signed with `--executor_secret_key`) in `MESOS_EXECUTOR_AUTHENTICATION_TOKEN`
    /// and sends it as `Authorization: Bearer`; a call without a valid token is 401, one whose
    /// token names another framework, executor or container is 403.
    #[arg(long = "authenticate_http_executors", env = "MESOS_AUTHENTICATE_HTTP_EXECUTORS", default_value = "false", num_args = 0..=1, default_missing_value = "true", value_parser = drover_http::auth::parse_bool_flag)]
    pub authenticate_http_executors: bool,
    /// File holding the key executors' tokens are signed with (HMAC-SHA256). With it, every
    /// executor gets a token; `--authenticate_http_executors` makes the token required.
    #[arg(long = "executor_secret_key", env = "MESOS_EXECUTOR_SECRET_KEY")]
    pub executor_secret_key: Option<PathBuf>,
    /// The operator API (`/api/v1`) and every non-GET endpoint need HTTP Basic credentials.
    #[arg(long = "authenticate_http_readwrite", env = "MESOS_AUTHENTICATE_HTTP_READWRITE", default_value = "false", num_args = 0..=1, default_missing_value = "true", value_parser = drover_http::auth::parse_bool_flag)]
    pub authenticate_http_readwrite: bool,
    /// Read-only endpoints (`/state`, `/files/*`, `/metrics/snapshot`) need credentials.
    #[arg(long = "authenticate_http_readonly", env = "MESOS_AUTHENTICATE_HTTP_READONLY", default_value = "false", num_args = 0..=1, default_missing_value = "true", value_parser = drover_http::auth::parse_bool_flag)]
    pub authenticate_http_readonly: bool,
    /// Credentials the agent's HTTP endpoints accept (same formats as the master's).
    #[arg(long = "credentials", env = "MESOS_CREDENTIALS")]
    pub credentials: Option<String>,

    // The Docker containerizer (issue 13).
    /// Containerizers, in order: `mesos`, `docker` or both. Type DOCKER containers go to
    /// `docker` (refused by name when it is not listed); everything else to `mesos`.
    #[arg(long = "containerizers", env = "MESOS_CONTAINERIZERS", default_value = "mesos", value_parser = parse_containerizers)]
    pub containerizers: Containerizers,
    /// Mesos' path of the docker CLI. Drover talks to the daemon's API (see --docker_socket),
    /// so only the default `docker` is accepted.
    #[arg(long = "docker", env = "MESOS_DOCKER", default_value = "docker", value_parser = docker_binary)]
    pub docker: String,
    /// The daemon's unix socket.
    #[arg(
        long = "docker_socket",
        env = "MESOS_DOCKER_SOCKET",
        default_value = "/var/run/docker.sock"
    )]
    pub docker_socket: PathBuf,
    /// Grace between SIGTERM and SIGKILL when a Docker task without a kill policy is killed.
    #[arg(long = "docker_stop_timeout", env = "MESOS_DOCKER_STOP_TIMEOUT", default_value = "0secs", value_parser = parse_duration)]
    pub docker_stop_timeout: Duration,
    /// How long a stopped Docker container is kept before it is removed.
    #[arg(long = "docker_remove_delay", env = "MESOS_DOCKER_REMOVE_DELAY", default_value = "6hrs", value_parser = parse_duration)]
    pub docker_remove_delay: Duration,
    /// At start, remove this agent's Docker containers that no checkpoint accounts for.
    #[arg(long = "docker_kill_orphans", env = "MESOS_DOCKER_KILL_ORPHANS", default_value_t = true, action = clap::ArgAction::Set)]
    pub docker_kill_orphans: bool,
    /// A docker client config (`config.json` with `auths`) for registry credentials: its JSON
    /// text or a path (`file://` optional) to it.
    #[arg(long = "docker_config", env = "MESOS_DOCKER_CONFIG")]
    pub docker_config: Option<String>,

    // Container images on the Mesos containerizer (UCR, issue 13 item 3).
    /// Image providers of the Mesos containerizer: `docker` lets a MESOS container name a
    /// Docker image (`ContainerInfo.mesos.image`), pulled from a registry without any Docker
    /// daemon. Empty (the default): such containers are refused. `appc` is not supported.
    #[arg(long = "image_providers", env = "MESOS_IMAGE_PROVIDERS", default_value = "", value_parser = parse_image_providers)]
    pub image_providers: ImageProviders,
    /// The registry images without a registry host are pulled from, as a URL
    /// (`http://127.0.0.1:5000`); a name with a host (`r.example.com/app`) uses that host, over
    /// https (http on loopback). Mesos' local-directory puller (a path here) is not supported.
    #[arg(long = "docker_registry", env = "MESOS_DOCKER_REGISTRY", default_value = crate::provisioner::DOCKER_HUB, value_parser = parse_registry)]
    pub docker_registry: String,
    /// Where pulled image layers are kept and shared (default: `<work_dir>/store/docker`).
    #[arg(long = "docker_store_dir", env = "MESOS_DOCKER_STORE_DIR")]
    pub docker_store_dir: Option<PathBuf>,
    /// How a container's root filesystem is made from its image's layers: `overlay` (stacked,
    /// nothing copied; the default where the kernel has overlayfs) or `copy`. `bind` and
    /// `aufs` are not supported.
    #[arg(long = "image_provisioner_backend", env = "MESOS_IMAGE_PROVISIONER_BACKEND", value_parser = crate::provisioner::Backend::parse)]
    pub image_provisioner_backend: Option<crate::provisioner::Backend>,

    // Oversubscription (issue 18 item 1).
    /// The resource estimator, whose revocable resources the master offers to frameworks with
    /// REVOCABLE_RESOURCES: `fixed` (Mesos' `org_apache_mesos_FixedResourceEstimator`: the
    /// resources of --oversubscribed_resources, less what revocable tasks use) or `usage`
    /// (what running containers were given and do not use: cpu and memory measured from their
    /// cgroups). None (the default): nothing is oversubscribed.
    #[arg(long = "resource_estimator", env = "MESOS_RESOURCE_ESTIMATOR", value_parser = crate::oversubscription::Estimator::parse)]
    pub resource_estimator: Option<crate::oversubscription::Estimator>,
    /// The fixed estimator's resources, Mesos syntax (`cpus:2;mem:512`).
    #[arg(
        long = "oversubscribed_resources",
        env = "MESOS_OVERSUBSCRIBED_RESOURCES"
    )]
    pub oversubscribed_resources: Option<String>,
    /// How often the estimate is taken and, when it changed, sent to the master.
    #[arg(long = "oversubscribed_resources_interval", env = "MESOS_OVERSUBSCRIBED_RESOURCES_INTERVAL", default_value = "15secs", value_parser = parse_duration)]
    pub oversubscribed_resources_interval: Duration,
    /// The QoS controller: `load` (Mesos' `org_apache_mesos_LoadQoSController`): when the
    /// machine's 5- or 15-minute load average is above --load_threshold_5min or
    /// --load_threshold_15min, every container on revocable resources is evicted (its tasks
    /// end TASK_LOST, TASK_GONE for partition-aware frameworks, REASON_CONTAINER_PREEMPTED).
    #[arg(long = "qos_controller", env = "MESOS_QOS_CONTROLLER", value_parser = crate::oversubscription::QosController::parse)]
    pub qos_controller: Option<crate::oversubscription::QosController>,
    /// The shortest time between two QoS corrections (the controller is asked at most this
    /// often, and at least once a second).
    #[arg(long = "qos_correction_interval_min", env = "MESOS_QOS_CORRECTION_INTERVAL_MIN", default_value = "0secs", value_parser = parse_duration)]
    pub qos_correction_interval_min: Duration,
    /// The load controller's threshold for the 5-minute load average.
    #[arg(long = "load_threshold_5min", env = "MESOS_LOAD_THRESHOLD_5MIN")]
    pub load_threshold_5min: Option<f64>,
    /// The load controller's threshold for the 15-minute load average.
    #[arg(long = "load_threshold_15min", env = "MESOS_LOAD_THRESHOLD_15MIN")]
    pub load_threshold_15min: Option<f64>,
}

/// `--image_providers`, parsed: whether `docker` is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImageProviders {
    /// Docker images.
    pub docker: bool,
}

fn parse_image_providers(text: &str) -> Result<ImageProviders, String> {
    let mut providers = ImageProviders::default();
    for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match name.to_ascii_lowercase().as_str() {
            "docker" => providers.docker = true,
            "appc" => {
                return Err("--image_providers=appc is not supported (only docker)".to_owned());
            }
            other => return Err(format!("--image_providers: unknown provider '{other}'")),
        }
    }
    Ok(providers)
}

fn parse_registry(text: &str) -> Result<String, String> {
    if text.starts_with('/') || text.starts_with("file://") {
        return Err(format!(
            "--docker_registry={text}: Mesos' local-directory puller is not supported; give a \
             registry URL"
        ));
    }
    Ok(text.to_owned())
}

fn parse_containerizers(text: &str) -> Result<Containerizers, String> {
    crate::containerizer::seam::Kind::parse_list(text).map(Containerizers)
}

/// `--containerizers`, parsed: the kinds in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Containerizers(pub Vec<crate::containerizer::seam::Kind>);

fn docker_binary(text: &str) -> Result<String, String> {
    if text == "docker" {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "--docker={text} is not supported: Drover talks to the Docker daemon's API through \
             --docker_socket, not through a docker binary"
        ))
    }
}

fn unsupported_stall_timeout(_: &str) -> Result<String, String> {
    Err("--fetcher_stall_timeout is not supported by Drover; use --fetcher_timeout".to_owned())
}

fn unsupported_hadoop_home(_: &str) -> Result<String, String> {
    Err("--hadoop_home is not supported by Drover: the fetcher has no Hadoop client (http, https, file and absolute paths only)".to_owned())
}

/// Parses a byte size in Mesos' syntax: a non-negative integer followed by `B`, `KB`, `MB`,
/// `GB` or `TB` (powers of 1024).
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("'{text}' has no unit (B, KB, MB, GB, TB)"))?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a byte size"))?;
    let shift = match unit {
        "B" => 0,
        "KB" => 10,
        "MB" => 20,
        "GB" => 30,
        "TB" => 40,
        _ => {
            return Err(format!(
                "'{text}': unknown unit '{unit}' (B, KB, MB, GB, TB)"
            ));
        }
    };
    number
        .checked_mul(1u64 << shift)
        .ok_or_else(|| format!("'{text}' is too large"))
}

impl Flags {
    /// The bounds of the HTTP listener.
    pub fn http_limits(&self) -> drover_http::guard::Limits {
        drover_http::guard::Limits {
            max_connections: self.max_connections.max(1),
            header_read_timeout: self.http_header_read_timeout,
            idle_timeout: self.http_idle_timeout,
        }
    }

    /// The flags as `(name, value)` text, for GET_FLAGS and `/state`.
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        let d = |x: Duration| format_duration(x);
        let mut out = vec![
            ("master".to_owned(), self.master.clone()),
            ("ip".to_owned(), self.ip.to_string()),
            ("port".to_owned(), self.port.to_string()),
            ("work_dir".to_owned(), self.work_dir.display().to_string()),
            (
                "keep_tasks_running".to_owned(),
                self.keep_tasks_running.to_string(),
            ),
            (
                "executor_registration_timeout".to_owned(),
                d(self.executor_registration_timeout),
            ),
            (
                "executor_reregistration_timeout".to_owned(),
                d(self.executor_reregistration_timeout),
            ),
            (
                "executor_shutdown_grace_period".to_owned(),
                d(self.executor_shutdown_grace_period),
            ),
            ("gc_delay".to_owned(), d(self.gc_delay)),
            (
                "gc_disk_headroom".to_owned(),
                self.gc_disk_headroom.to_string(),
            ),
            (
                "disk_watch_interval".to_owned(),
                d(self.disk_watch_interval),
            ),
            ("isolation".to_owned(), self.isolation.clone()),
            (
                "cgroups_enable_cfs".to_owned(),
                self.cgroups_enable_cfs.to_string(),
            ),
            ("cgroups_root".to_owned(), self.cgroups_root.clone()),
            (
                "container_disk_watch_interval".to_owned(),
                d(self.container_disk_watch_interval),
            ),
            (
                "enforce_container_disk_quota".to_owned(),
                self.enforce_container_disk_quota.to_string(),
            ),
            (
                "fetcher_cache_size".to_owned(),
                format!("{}B", self.fetcher_cache_size),
            ),
            (
                "fetcher_max_size".to_owned(),
                format!("{}B", self.fetcher_max_size),
            ),
            ("fetcher_timeout".to_owned(), d(self.fetcher_timeout)),
            (
                "max_nested_containers".to_owned(),
                self.max_nested_containers.to_string(),
            ),
            (
                "registration_backoff_factor".to_owned(),
                d(self.registration_backoff_factor),
            ),
            (
                "max_connections".to_owned(),
                self.max_connections.to_string(),
            ),
            (
                "http_header_read_timeout".to_owned(),
                d(self.http_header_read_timeout),
            ),
            ("http_idle_timeout".to_owned(), d(self.http_idle_timeout)),
            (
                "authenticate_http_readwrite".to_owned(),
                self.authenticate_http_readwrite.to_string(),
            ),
            (
                "authenticate_http_readonly".to_owned(),
                self.authenticate_http_readonly.to_string(),
            ),
        ];
        for (name, value) in [
            ("resources", &self.resources),
            ("attributes", &self.attributes),
            ("hostname", &self.hostname),
        ] {
            if let Some(value) = value {
                out.push((name.to_owned(), value.clone()));
            }
        }
        let containerizers: Vec<&str> = self
            .containerizers
            .0
            .iter()
            .map(|k| match k {
                crate::containerizer::seam::Kind::Mesos => "mesos",
                crate::containerizer::seam::Kind::Docker => "docker",
            })
            .collect();
        out.push(("containerizers".to_owned(), containerizers.join(",")));
        out.push((
            "docker_socket".to_owned(),
            self.docker_socket.display().to_string(),
        ));
        out.push((
            "docker_stop_timeout".to_owned(),
            d(self.docker_stop_timeout),
        ));
        out.push((
            "docker_remove_delay".to_owned(),
            d(self.docker_remove_delay),
        ));
        out.push((
            "docker_kill_orphans".to_owned(),
            self.docker_kill_orphans.to_string(),
        ));
        if let Some(dir) = &self.fetcher_cache_dir {
            out.push(("fetcher_cache_dir".to_owned(), dir.display().to_string()));
        }
        out.push((
            "image_providers".to_owned(),
            if self.image_providers.docker {
                "docker"
            } else {
                ""
            }
            .to_owned(),
        ));
        out.push(("docker_registry".to_owned(), self.docker_registry.clone()));
        if let Some(dir) = &self.docker_store_dir {
            out.push(("docker_store_dir".to_owned(), dir.display().to_string()));
        }
        if let Some(backend) = self.image_provisioner_backend {
            out.push((
                "image_provisioner_backend".to_owned(),
                backend.name().to_owned(),
            ));
        }
        if let Some(dir) = &self.secrets_dir {
            out.push(("secrets_dir".to_owned(), dir.display().to_string()));
        }
        if let Some(estimator) = self.resource_estimator {
            out.push(("resource_estimator".to_owned(), estimator.name().to_owned()));
            out.push((
                "oversubscribed_resources_interval".to_owned(),
                d(self.oversubscribed_resources_interval),
            ));
        }
        if let Some(resources) = &self.oversubscribed_resources {
            out.push(("oversubscribed_resources".to_owned(), resources.clone()));
        }
        if let Some(controller) = self.qos_controller {
            out.push(("qos_controller".to_owned(), controller.name().to_owned()));
            out.push((
                "qos_correction_interval_min".to_owned(),
                d(self.qos_correction_interval_min),
            ));
        }
        for (name, value) in [
            ("load_threshold_5min", self.load_threshold_5min),
            ("load_threshold_15min", self.load_threshold_15min),
        ] {
            if let Some(value) = value {
                out.push((name.to_owned(), value.to_string()));
            }
        }
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_trip_in_stout_syntax() {
        assert_eq!(parse_duration("1mins").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("2secs").unwrap(), Duration::from_secs(2));
        assert_eq!(
            parse_duration("1500ms").unwrap(),
            Duration::from_millis(1500)
        );
        assert!(parse_duration("15").is_err());
        assert_eq!(format_duration(Duration::from_secs(60)), "1mins");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(format_duration(Duration::from_secs(604800)), "1weeks");
    }

    #[test]
    fn unsupported_mesos_flags_are_refused_by_name() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            flags: Flags,
        }
        use clap::Parser as _;
        let base = ["agent", "--master=m:5050", "--work_dir=/w"];
        let ok = Cli::try_parse_from(base).unwrap();
        assert_eq!(ok.flags.fetcher_cache_size, 2 << 30);
        for (flag, name) in [
            (
                "--hadoop_home=/opt/hadoop",
                "--hadoop_home is not supported",
            ),
            (
                "--fetcher_stall_timeout=1mins",
                "--fetcher_stall_timeout is not supported",
            ),
        ] {
            let args = base.iter().copied().chain([flag]);
            let err = Cli::try_parse_from(args).err().expect(flag).to_string();
            assert!(err.contains(name), "{err}");
        }
    }

    #[test]
    fn docker_flags() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            flags: Flags,
        }
        use crate::containerizer::seam::Kind;
        use clap::Parser as _;
        let base = ["agent", "--master=m:5050", "--work_dir=/w"];
        let parse = |extra: &[&str]| {
            Cli::try_parse_from(base.iter().chain(extra.iter()).copied()).map(|c| c.flags)
        };
        let default = parse(&[]).unwrap();
        assert_eq!(default.containerizers.0, vec![Kind::Mesos]);
        assert_eq!(default.docker_socket, PathBuf::from("/var/run/docker.sock"));
        assert!(default.docker_kill_orphans);
        assert_eq!(default.docker_stop_timeout, Duration::ZERO);
        assert_eq!(default.docker_remove_delay, Duration::from_secs(6 * 3600));
        let both = parse(&[
            "--containerizers=docker,mesos",
            "--docker=docker",
            "--docker_stop_timeout=3secs",
            "--docker_kill_orphans=false",
        ])
        .unwrap();
        assert_eq!(both.containerizers.0, vec![Kind::Docker, Kind::Mesos]);
        assert_eq!(both.docker_stop_timeout, Duration::from_secs(3));
        assert!(!both.docker_kill_orphans);
        let err = parse(&["--docker=/usr/bin/docker"])
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("--docker=/usr/bin/docker is not supported"),
            "{err}"
        );
        let err = parse(&["--containerizers=mesos,lxc"])
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("'lxc'"), "{err}");
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_bytes("2GB").unwrap(), 2 << 30);
        assert_eq!(parse_bytes("512MB").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("0B").unwrap(), 0);
        assert!(parse_bytes("12").is_err());
        assert!(parse_bytes("1PB").is_err());
        assert!(parse_bytes("MB").is_err());
    }
}
