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
    /// How long finished sandboxes are kept.
    #[arg(long = "gc_delay", env = "MESOS_GC_DELAY", default_value = "1weeks", value_parser = parse_duration)]
    pub gc_delay: Duration,
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
        if let Some(dir) = &self.fetcher_cache_dir {
            out.push(("fetcher_cache_dir".to_owned(), dir.display().to_string()));
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
    fn byte_sizes() {
        assert_eq!(parse_bytes("2GB").unwrap(), 2 << 30);
        assert_eq!(parse_bytes("512MB").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("0B").unwrap(), 0);
        assert!(parse_bytes("12").is_err());
        assert!(parse_bytes("1PB").is_err());
        assert!(parse_bytes("MB").is_err());
    }
}
