//! The `MESOS_*` environment an executor gets from the agent (spec §4.4).

use std::time::Duration;

/// The `MESOS_*` environment the agent sets (spec §4.4).
#[derive(Debug, Clone)]
pub(crate) struct Env {
    pub endpoint: String,
    pub framework_id: String,
    pub executor_id: String,
    pub checkpoint: bool,
    pub recovery_timeout: Duration,
    pub backoff_max: Duration,
    pub shutdown_grace: Duration,
}

fn env_var(name: &str) -> anyhow::Result<String> {
    std::env::var(name).map_err(|_| anyhow::anyhow!("{name} is not set; is this run by an agent?"))
}

fn env_duration(name: &str, default: Duration) -> Duration {
    std::env::var(name)
        .ok()
        .and_then(|v| parse_duration(&v))
        .unwrap_or(default)
}

/// Parses stout's duration text (`5secs`, `15mins`, `1500ms`, `2.5secs`).
pub fn parse_duration(text: &str) -> Option<Duration> {
    drover_wire::duration::parse(text).ok()
}

impl Env {
    pub fn load() -> anyhow::Result<Self> {
        Ok(Self {
            endpoint: env_var("MESOS_AGENT_ENDPOINT")?,
            framework_id: env_var("MESOS_FRAMEWORK_ID")?,
            executor_id: env_var("MESOS_EXECUTOR_ID")?,
            checkpoint: std::env::var("MESOS_CHECKPOINT").is_ok_and(|v| v == "1"),
            recovery_timeout: env_duration("MESOS_RECOVERY_TIMEOUT", Duration::from_secs(900)),
            backoff_max: env_duration("MESOS_SUBSCRIPTION_BACKOFF_MAX", Duration::from_secs(2)),
            shutdown_grace: env_duration(
                "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD",
                Duration::from_secs(5),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn parses_stout_durations() {
        assert_eq!(parse_duration("5secs"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("15mins"), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration("1500ms"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2.5secs"), Some(Duration::from_millis(2500)));
        assert_eq!(parse_duration("5"), None);
    }
}
