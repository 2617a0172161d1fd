//! The launch delay of an app's current configuration: grows on failures by `backoffFactor`
//! up to `maxLaunchDelaySeconds`, and is reset on a new configuration, a restart, or
//! `DELETE /v2/queue/{id}/delay`.

/// An app's current launch delay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LaunchDelay {
    /// Current delay size, milliseconds.
    pub delay_ms: u64,
    /// When the delay was last set or advanced.
    pub reference_ms: u64,
}

impl LaunchDelay {
    /// When launching may resume.
    pub fn deadline_ms(&self) -> u64 {
        self.reference_ms.saturating_add(self.delay_ms)
    }

    /// Whether the delay still blocks launches at `now_ms`.
    pub fn blocks(&self, now_ms: u64) -> bool {
        now_ms < self.deadline_ms()
    }
}

/// The next delay after a failure at `now_ms`: the first is `backoffSeconds`, each further one
/// multiplies by `backoffFactor`; both are capped at `maxLaunchDelaySeconds`.
pub fn increase(
    current: Option<LaunchDelay>,
    now_ms: u64,
    backoff_seconds: u64,
    backoff_factor: f64,
    max_launch_delay_seconds: u64,
) -> LaunchDelay {
    let max_ms = max_launch_delay_seconds.saturating_mul(1000);
    let delay_ms = match current {
        None => backoff_seconds.saturating_mul(1000).min(max_ms),
        Some(delay) => {
            let grown = (delay.delay_ms as f64 * backoff_factor).round();
            if grown.is_finite() && grown < max_ms as f64 {
                grown as u64
            } else {
                max_ms
            }
        }
    };
    LaunchDelay {
        delay_ms,
        reference_ms: now_ms,
    }
}

/// Whether a delay should be forgotten: no failure for `maxLaunchDelaySeconds` after its
/// reference time (Marathon's periodic cleanup).
pub fn expired(delay: &LaunchDelay, now_ms: u64, max_launch_delay_seconds: u64) -> bool {
    now_ms
        >= delay
            .reference_ms
            .saturating_add(delay.delay_ms)
            .saturating_add(max_launch_delay_seconds.saturating_mul(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_by_factor_and_caps() {
        let first = increase(None, 0, 1, 1.15, 300);
        assert_eq!(first.delay_ms, 1000);
        let second = increase(Some(first), 10, 1, 1.15, 300);
        assert_eq!(second.delay_ms, 1150);
        assert_eq!(second.deadline_ms(), 1160);
        let mut delay = second;
        for _ in 0..100 {
            delay = increase(Some(delay), 0, 1, 1.15, 300);
        }
        assert_eq!(delay.delay_ms, 300_000);
        assert!(delay.blocks(299_999));
        assert!(!delay.blocks(300_000));
    }

    #[test]
    fn zero_backoff_never_blocks() {
        let delay = increase(None, 5, 0, 1.15, 300);
        assert!(!delay.blocks(5));
    }
}
