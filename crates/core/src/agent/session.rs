//! The agent's side of its session with the master: how long the agent waits for the
//! master's next message before it drops the session and looks for the master again.

use drover_wire::internal::agent_event::Registered;

/// Mesos' `DEFAULT_MASTER_PING_TIMEOUT` (15 s × 5 pings): the agent's patience before it has
/// heard the master's own figures, i.e. before its first (re)registration is answered.
pub const DEFAULT_MASTER_PING_TIMEOUT_MS: u64 = 75_000;
/// No master may make its agents give up sooner than this, whatever it advertises: a
/// session dropped on every scheduling hiccup is worse than a late one.
pub const MIN_MASTER_PING_TIMEOUT_MS: u64 = 1_000;
/// Nor later than this (an hour), so a nonsense figure cannot park an agent on a dead session.
pub const MAX_MASTER_PING_TIMEOUT_MS: u64 = 3_600_000;

/// The silence after which the agent drops its session: the master's advertised
/// `ping_timeout × max_ping_timeouts` (Mesos' `total_ping_timeout_seconds`), so an agent
/// gives up on a master in the same window in which that master gives up on it. A master that
/// advertises nothing (or nonsense) gets Mesos' default.
pub fn master_ping_timeout_ms(registered: Option<&Registered>) -> u64 {
    let Some(r) = registered else {
        return DEFAULT_MASTER_PING_TIMEOUT_MS;
    };
    let (Some(secs), Some(max)) = (r.ping_timeout_seconds, r.max_ping_timeouts) else {
        return DEFAULT_MASTER_PING_TIMEOUT_MS;
    };
    let total_ms = secs * 1000.0 * f64::from(max);
    if !total_ms.is_finite() || total_ms <= 0.0 {
        return DEFAULT_MASTER_PING_TIMEOUT_MS;
    }
    // `as` saturates for floats too large for u64; the clamp then bounds it.
    (total_ms.round() as u64).clamp(MIN_MASTER_PING_TIMEOUT_MS, MAX_MASTER_PING_TIMEOUT_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registered(secs: Option<f64>, max: Option<u32>) -> Registered {
        Registered {
            ping_timeout_seconds: secs,
            max_ping_timeouts: max,
            ..Default::default()
        }
    }

    #[test]
    fn the_agent_waits_as_long_as_the_master_pings() {
        assert_eq!(
            master_ping_timeout_ms(Some(&registered(Some(3.0), Some(4)))),
            12_000
        );
        assert_eq!(
            master_ping_timeout_ms(Some(&registered(Some(15.0), Some(5)))),
            75_000
        );
        assert_eq!(
            master_ping_timeout_ms(Some(&registered(Some(0.25), Some(3)))),
            1_000
        );
    }

    #[test]
    fn without_the_masters_figures_the_agent_uses_mesos_default() {
        assert_eq!(master_ping_timeout_ms(None), 75_000);
        for r in [
            registered(None, Some(3)),
            registered(Some(5.0), None),
            registered(Some(f64::NAN), Some(3)),
            registered(Some(-1.0), Some(3)),
            registered(Some(5.0), Some(0)),
            registered(Some(f64::INFINITY), Some(3)),
        ] {
            assert_eq!(master_ping_timeout_ms(Some(&r)), 75_000, "{r:?}");
        }
        assert_eq!(
            master_ping_timeout_ms(Some(&registered(Some(1e300), Some(3)))),
            MAX_MASTER_PING_TIMEOUT_MS
        );
    }
}
