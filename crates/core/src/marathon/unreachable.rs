//! An app's `unreachableStrategy`: when an unreachable instance stops counting (inactive) and
//! when it is forgotten (expunged). Unlike Marathon, which only looks again when the next status
//! update for the task arrives, Drover computes both deadlines so the scheduler can arm timers.

/// Default seconds before an unreachable instance is replaced: at once (seed 2).
pub const DEFAULT_INACTIVE_AFTER_SECONDS: u64 = 0;
/// Default seconds before an unreachable instance is marked Unknown and expunged: 15 minutes
/// (seed 2; Marathon 1.10 itself defaults to 0).
pub const DEFAULT_EXPUNGE_AFTER_SECONDS: u64 = 15 * 60;

/// The strategy, as the app definition gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnreachableStrategy {
    /// `"disabled"`: an unreachable instance is waited for indefinitely.
    Disabled,
    /// `{"inactiveAfterSeconds": …, "expungeAfterSeconds": …}`.
    Enabled {
        inactive_after_seconds: u64,
        expunge_after_seconds: u64,
    },
}

impl Default for UnreachableStrategy {
    fn default() -> Self {
        UnreachableStrategy::Enabled {
            inactive_after_seconds: DEFAULT_INACTIVE_AFTER_SECONDS,
            expunge_after_seconds: DEFAULT_EXPUNGE_AFTER_SECONDS,
        }
    }
}

/// Where an unreachable instance stands at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnreachablePhase {
    /// Still counted as one of the app's instances.
    Unreachable,
    /// No longer counted: a replacement runs, but it is kept in case it returns.
    Inactive,
    /// Unreachable past the limit: mark Unknown and expunge.
    Expunge,
}

impl UnreachableStrategy {
    /// Validates as Marathon does; returns every problem (path, message).
    pub fn validate(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        if let UnreachableStrategy::Enabled {
            inactive_after_seconds,
            expunge_after_seconds,
        } = *self
            && inactive_after_seconds > expunge_after_seconds
        {
            problems.push((
                "/unreachableStrategy/inactiveAfterSeconds",
                format!(
                    "inactiveAfterSeconds ({inactive_after_seconds}) must be less or equal to \
                     expungeAfterSeconds, which is {expunge_after_seconds}"
                ),
            ));
        }
        problems
    }

    /// The phase of an instance unreachable since `since_ms`, at `now_ms` (milliseconds on the
    /// caller's clock). Expiry is inclusive: a limit of 0 is already reached.
    pub fn phase(&self, since_ms: u64, now_ms: u64) -> UnreachablePhase {
        let UnreachableStrategy::Enabled {
            inactive_after_seconds,
            expunge_after_seconds,
        } = *self
        else {
            return UnreachablePhase::Unreachable;
        };
        let elapsed_ms = now_ms.saturating_sub(since_ms);
        if elapsed_ms >= expunge_after_seconds.saturating_mul(1000) {
            UnreachablePhase::Expunge
        } else if elapsed_ms >= inactive_after_seconds.saturating_mul(1000) {
            UnreachablePhase::Inactive
        } else {
            UnreachablePhase::Unreachable
        }
    }

    /// When the phase next changes, for arming a timer; `None` once nothing more will happen.
    pub fn next_deadline_ms(&self, since_ms: u64, now_ms: u64) -> Option<u64> {
        let UnreachableStrategy::Enabled {
            inactive_after_seconds,
            expunge_after_seconds,
        } = *self
        else {
            return None;
        };
        [inactive_after_seconds, expunge_after_seconds]
            .into_iter()
            .map(|seconds| since_ms.saturating_add(seconds.saturating_mul(1000)))
            .find(|deadline| *deadline > now_ms)
    }
}
