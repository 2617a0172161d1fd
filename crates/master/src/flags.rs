//! The master's flags, with Mesos' spellings (`--agent_ping_timeout`), defaults, duration
//! syntax (`15secs`, `10mins`, `1500ms`, `2hrs`, `1days`, `1weeks`) and `MESOS_*` environment
//! variables, and their translation into the core's [`Config`].

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use drover_core::master::{Config, RateLimit};

/// Flags of `drover master`.
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {
    /// IP address to listen on. Mesos defaults to the host's address; Drover defaults to
    /// loopback so a bare `drover master` is never exposed by accident.
    #[arg(long = "ip", env = "MESOS_IP", default_value = "127.0.0.1")]
    pub ip: IpAddr,
    /// Port to listen on.
    #[arg(long = "port", env = "MESOS_PORT", default_value_t = 5050)]
    pub port: u16,
    /// Hostname advertised to frameworks and agents (default: the `--ip` address).
    #[arg(long = "hostname", env = "MESOS_HOSTNAME")]
    pub hostname: Option<String>,
    /// Directory of the master's registry (created if missing).
    #[arg(
        long = "work_dir",
        env = "MESOS_WORK_DIR",
        default_value = "/var/lib/drover/master"
    )]
    pub work_dir: PathBuf,
    /// Time between pings to an agent; a ping unanswered for this long counts as missed.
    /// Drover's defaults (3secs × 4) notice a silent agent within 12–15 s, so its tasks are
    /// replaced in about 20 s; Mesos' (15secs × 5, 75–90 s) are
    /// `--agent_ping_timeout=15secs --max_agent_ping_timeouts=5`. Agents wait the same window
    /// (timeout × max) for the master's pings before they look for a master again.
    #[arg(long = "agent_ping_timeout", env = "MESOS_AGENT_PING_TIMEOUT", default_value = "3secs", value_parser = parse_duration)]
    pub agent_ping_timeout: Duration,
    /// Missed pings after which an agent is marked unreachable (Mesos' default: 5).
    #[arg(
        long = "max_agent_ping_timeouts",
        env = "MESOS_MAX_AGENT_PING_TIMEOUTS",
        default_value_t = 4
    )]
    pub max_agent_ping_timeouts: u32,
    /// Time a disconnected agent (or one known before a master restart) has to reregister.
    #[arg(long = "agent_reregister_timeout", env = "MESOS_AGENT_REREGISTER_TIMEOUT", default_value = "10mins", value_parser = parse_duration)]
    pub agent_reregister_timeout: Duration,
    /// Rate at which agents may be marked unreachable, e.g. `1/10mins` (default: unlimited).
    #[arg(long = "agent_removal_rate_limit", env = "MESOS_AGENT_REMOVAL_RATE_LIMIT", value_parser = parse_rate)]
    pub agent_removal_rate_limit: Option<RateLimit>,
    /// Time after which an unused offer is rescinded (default: never).
    #[arg(long = "offer_timeout", env = "MESOS_OFFER_TIMEOUT", value_parser = parse_duration)]
    pub offer_timeout: Option<Duration>,
    /// Time between allocation runs.
    #[arg(long = "allocation_interval", env = "MESOS_ALLOCATION_INTERVAL", default_value = "1secs", value_parser = parse_duration)]
    pub allocation_interval: Duration,
    /// Completed tasks kept per framework.
    #[arg(
        long = "max_completed_tasks_per_framework",
        env = "MESOS_MAX_COMPLETED_TASKS_PER_FRAMEWORK",
        default_value_t = 1000
    )]
    pub max_completed_tasks_per_framework: usize,
    /// Removed frameworks kept in memory for the state endpoints.
    #[arg(
        long = "max_completed_frameworks",
        env = "MESOS_MAX_COMPLETED_FRAMEWORKS",
        default_value_t = 50
    )]
    pub max_completed_frameworks: usize,
    /// How often the registry's lists of unreachable and gone agents are pruned.
    #[arg(long = "registry_gc_interval", env = "MESOS_REGISTRY_GC_INTERVAL", default_value = "15mins", value_parser = parse_positive_duration)]
    pub registry_gc_interval: Duration,
    /// Unreachable and gone agents are forgotten this long after they were marked (their
    /// unreachable tasks with them: reconciling one then answers TASK_UNKNOWN).
    #[arg(long = "registry_max_agent_age", env = "MESOS_REGISTRY_MAX_AGENT_AGE", default_value = "2weeks", value_parser = parse_duration)]
    pub registry_max_agent_age: Duration,
    /// At most this many unreachable agents, and this many gone agents, are remembered (the
    /// oldest are forgotten first).
    #[arg(
        long = "registry_max_agent_count",
        env = "MESOS_REGISTRY_MAX_AGENT_COUNT",
        default_value_t = 102_400
    )]
    pub registry_max_agent_count: usize,
    /// Open HTTP connections accepted at once (subscriptions and agent sessions count);
    /// beyond it a new connection is closed at once (Drover's; Mesos had no bound).
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
    /// Authentication (issue 14).
    #[command(flatten)]
    pub auth: crate::auth::AuthFlags,

    // High availability (issue 17): the masters' ZooKeeper group.
    /// ZooKeeper URL of the masters' group, `zk://[user:pass@]host:port[,host:port]/path`.
    /// With it, this master contends for leadership with the others at that path; without it,
    /// it is the only master.
    #[arg(long = "zk", env = "MESOS_ZK", value_parser = parse_zk)]
    pub zk: Option<drover_coord::ZkUrl>,
    /// ZooKeeper session timeout: a leader that cannot reach ZooKeeper for this long stops.
    #[arg(long = "zk_session_timeout", env = "MESOS_ZK_SESSION_TIMEOUT", default_value = "10secs", value_parser = parse_duration)]
    pub zk_session_timeout: Duration,
    /// Accepted for Mesos compatibility. In Mesos it is the replicated log's quorum (the
    /// registry's own Paxos); Drover keeps no replicated log (ZooKeeper coordinates the
    /// masters), so only its syntax is checked: a positive number.
    #[arg(long = "quorum", env = "MESOS_QUORUM", value_parser = clap::value_parser!(u32).range(1..))]
    pub quorum: Option<u32>,
}

/// A duration that must be above zero (an interval).
fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    let d = parse_duration(text)?;
    if d.is_zero() {
        return Err(format!("'{text}' must be greater than zero"));
    }
    Ok(d)
}

fn parse_zk(text: &str) -> Result<drover_coord::ZkUrl, String> {
    drover_coord::ZkUrl::parse(text).map_err(|e| e.to_string())
}

impl Flags {
    /// The flags with every default (as parsed from an empty command line).
    pub fn defaults() -> Flags {
        Flags {
            ip: IpAddr::from([127, 0, 0, 1]),
            port: 5050,
            hostname: None,
            work_dir: PathBuf::from("/var/lib/drover/master"),
            agent_ping_timeout: Duration::from_secs(3),
            max_agent_ping_timeouts: 4,
            agent_reregister_timeout: Duration::from_secs(600),
            agent_removal_rate_limit: None,
            offer_timeout: None,
            allocation_interval: Duration::from_secs(1),
            max_completed_tasks_per_framework: 1000,
            max_completed_frameworks: 50,
            registry_gc_interval: Duration::from_secs(15 * 60),
            registry_max_agent_age: Duration::from_secs(14 * 86_400),
            registry_max_agent_count: 102_400,
            max_connections: drover_http::guard::DEFAULT_MAX_CONNECTIONS,
            http_header_read_timeout: drover_http::guard::DEFAULT_HEADER_READ_TIMEOUT,
            http_idle_timeout: drover_http::guard::DEFAULT_IDLE_TIMEOUT,
            auth: crate::auth::AuthFlags::default(),
            zk: None,
            zk_session_timeout: Duration::from_secs(10),
            quorum: None,
        }
    }

    /// The bounds of the HTTP listener.
    pub fn http_limits(&self) -> drover_http::guard::Limits {
        drover_http::guard::Limits {
            max_connections: self.max_connections.max(1),
            header_read_timeout: self.http_header_read_timeout,
            idle_timeout: self.http_idle_timeout,
        }
    }

    /// The advertised hostname.
    pub fn advertised_hostname(&self) -> String {
        self.hostname.clone().unwrap_or_else(|| self.ip.to_string())
    }

    /// The core configuration for a master listening on `port`.
    pub fn config(&self, port: u16) -> Config {
        let mut config = Config::default();
        let hostname = self.advertised_hostname();
        let ip = match self.ip {
            // Mesos' quirk: the IPv4 address in network byte order, read as a native uint32.
            IpAddr::V4(v4) => u32::from_le_bytes(v4.octets()),
            IpAddr::V6(_) => 0,
        };
        config.master_info.ip = ip;
        config.master_info.port = u32::from(port);
        config.master_info.pid = Some(format!("master@{}:{port}", self.ip));
        config.master_info.hostname = Some(hostname.clone());
        config.master_info.address = Some(drover_wire::v1::Address {
            hostname: Some(hostname),
            ip: Some(self.ip.to_string()),
            port: i32::from(port),
        });
        config.agent_ping_timeout_ms = millis(self.agent_ping_timeout);
        config.max_agent_ping_timeouts = self.max_agent_ping_timeouts;
        config.agent_reregister_timeout_ms = millis(self.agent_reregister_timeout);
        config.agent_removal_rate_limit = self.agent_removal_rate_limit;
        config.offer_timeout_ms = self.offer_timeout.map(millis);
        config.allocation_interval_ms = millis(self.allocation_interval).max(1);
        config.max_completed_tasks_per_framework = self.max_completed_tasks_per_framework;
        config.max_completed_frameworks = self.max_completed_frameworks;
        config.registry_gc_interval_ms = millis(self.registry_gc_interval).max(1);
        config.registry_max_agent_age_ms = millis(self.registry_max_agent_age);
        config.registry_max_agent_count = self.registry_max_agent_count;
        config
    }

    /// The flags as GET_FLAGS and `/master/flags` show them (Mesos' text forms).
    pub fn as_pairs(&self, port: u16) -> Vec<(String, String)> {
        let mut out = vec![
            ("ip".to_owned(), self.ip.to_string()),
            ("port".to_owned(), port.to_string()),
            ("hostname".to_owned(), self.advertised_hostname()),
            ("work_dir".to_owned(), self.work_dir.display().to_string()),
            (
                "agent_ping_timeout".to_owned(),
                format_duration(self.agent_ping_timeout),
            ),
            (
                "max_agent_ping_timeouts".to_owned(),
                self.max_agent_ping_timeouts.to_string(),
            ),
            (
                "agent_reregister_timeout".to_owned(),
                format_duration(self.agent_reregister_timeout),
            ),
            (
                "allocation_interval".to_owned(),
                format_duration(self.allocation_interval),
            ),
            (
                "max_completed_tasks_per_framework".to_owned(),
                self.max_completed_tasks_per_framework.to_string(),
            ),
            (
                "max_completed_frameworks".to_owned(),
                self.max_completed_frameworks.to_string(),
            ),
            (
                "registry_gc_interval".to_owned(),
                format_duration(self.registry_gc_interval),
            ),
            (
                "registry_max_agent_age".to_owned(),
                format_duration(self.registry_max_agent_age),
            ),
            (
                "registry_max_agent_count".to_owned(),
                self.registry_max_agent_count.to_string(),
            ),
            (
                "max_connections".to_owned(),
                self.max_connections.to_string(),
            ),
            (
                "http_header_read_timeout".to_owned(),
                format_duration(self.http_header_read_timeout),
            ),
            (
                "http_idle_timeout".to_owned(),
                format_duration(self.http_idle_timeout),
            ),
        ];
        if let Some(limit) = self.agent_removal_rate_limit {
            out.push((
                "agent_removal_rate_limit".to_owned(),
                format!(
                    "{}/{}",
                    limit.permits,
                    format_duration(Duration::from_millis(limit.per_ms))
                ),
            ));
        }
        if let Some(zk) = &self.zk {
            // Display hides the password.
            out.push(("zk".to_owned(), zk.to_string()));
        }
        out.push((
            "zk_session_timeout".to_owned(),
            format_duration(self.zk_session_timeout),
        ));
        if let Some(quorum) = self.quorum {
            out.push(("quorum".to_owned(), quorum.to_string()));
        }
        if let Some(timeout) = self.offer_timeout {
            out.push(("offer_timeout".to_owned(), format_duration(timeout)));
        }
        out.extend(self.auth.as_pairs());
        out.sort();
        out
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

pub use drover_wire::duration::{format as format_duration, parse as parse_duration};

/// Parses a rate like `1/10mins` (permits per duration).
pub fn parse_rate(text: &str) -> Result<RateLimit, String> {
    let (permits, per) = text
        .split_once('/')
        .ok_or_else(|| format!("invalid rate '{text}': expected e.g. 1/10mins"))?;
    let permits: u32 = permits
        .trim()
        .parse()
        .map_err(|_| format!("invalid rate '{text}': '{permits}' is not a whole number"))?;
    if permits == 0 {
        return Err(format!("invalid rate '{text}': permits must be positive"));
    }
    let per = parse_duration(per)?;
    if per.is_zero() {
        return Err(format!(
            "invalid rate '{text}': the period must be positive"
        ));
    }
    Ok(RateLimit {
        permits,
        per_ms: millis(per),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_trip_mesos_syntax() {
        assert_eq!(parse_duration("15secs"), Ok(Duration::from_secs(15)));
        assert_eq!(parse_duration("10mins"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1500ms"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2hrs"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1days"), Ok(Duration::from_secs(86400)));
        assert_eq!(parse_duration("1weeks"), Ok(Duration::from_secs(604800)));
        assert_eq!(parse_duration("0.5secs"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("15").is_err());
        assert!(parse_duration("15parsecs").is_err());
        assert_eq!(format_duration(Duration::from_secs(15)), "15secs");
        assert_eq!(format_duration(Duration::from_secs(600)), "10mins");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
    }

    #[test]
    fn rates_parse() {
        let r = parse_rate("1/10mins").unwrap();
        assert_eq!((r.permits, r.per_ms), (1, 600_000));
        assert!(parse_rate("0/1secs").is_err());
        assert!(parse_rate("x").is_err());
    }
}
