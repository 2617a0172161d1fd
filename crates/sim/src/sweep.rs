//! Seed sweeps: run the random mix over a range of seeds for a seed floor or a wall-time
//! budget, and where a sweep's fresh seeds come from (the commit under test, or the clock for
//! the long sweep on demand).

use std::time::{Duration, Instant};

use crate::scenario::{random_plan, run};

/// What a sweep covered.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// First seed.
    pub base: u64,
    /// Seeds run (from `base`, consecutive).
    pub seeds: u64,
    /// Simulated milliseconds over the passing seeds.
    pub sim_ms: u64,
    /// Steps over the passing seeds.
    pub steps: u64,
    /// Wall time.
    pub wall: Duration,
    /// Each failed seed's report, with its replay line.
    pub failures: Vec<String>,
}

impl Summary {
    /// Seeds per wall second.
    pub fn seeds_per_sec(&self) -> f64 {
        self.seeds as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    /// Simulated hours over the passing seeds.
    pub fn sim_hours(&self) -> f64 {
        self.sim_ms as f64 / 3_600_000.0
    }

    /// One line: what was covered, how fast, how many failed.
    pub fn line(&self) -> String {
        format!(
            "drover-sim: seeds {}..{} ({} seeds), {:.1} simulated hours, {} steps, {:.1} s wall, \
             {:.1} seeds/s, {} failed",
            self.base,
            self.base + self.seeds,
            self.seeds,
            self.sim_hours(),
            self.steps,
            self.wall.as_secs_f64(),
            self.seeds_per_sec(),
            self.failures.len()
        )
    }
}

/// Runs the random mix from seed `base` until at least `min_seeds` ran and `budget` passed
/// (the floor wins over the budget), calling `each` after every seed with the running summary
/// and that seed's failure, if any.
pub fn sweep(
    base: u64,
    min_seeds: u64,
    budget: Duration,
    mut each: impl FnMut(&Summary, Option<&str>),
) -> Summary {
    let started = Instant::now();
    let mut s = Summary {
        base,
        ..Summary::default()
    };
    while s.seeds < min_seeds || started.elapsed() < budget {
        let seed = base + s.seeds;
        let plan = random_plan(seed);
        let failure = match run(seed, &plan, false) {
            Ok(o) => {
                s.sim_ms += o.sim_ms;
                s.steps += o.steps;
                None
            }
            Err(e) => Some(e),
        };
        s.seeds += 1;
        s.wall = started.elapsed();
        each(&s, failure.as_deref());
        if let Some(f) = failure {
            s.failures.push(f);
        }
    }
    s.wall = started.elapsed();
    s
}

/// Seeds each commit's fresh window spans before the next window could start.
pub const FRESH_WINDOW: u64 = 100_000;

/// Where the fresh windows start: far above the hand-picked ranges (CI's fixed 1,000,000,
/// issue 21's 7,000,000).
pub const FRESH_OFFSET: u64 = 10_000_000_000;

/// The first seed of the fresh sweep for a commit: [`FRESH_OFFSET`] plus its first 11 hex
/// digits (44 bits) times [`FRESH_WINDOW`], so distinct commits explore disjoint windows and
/// the same commit always replays the same seeds. `None` when
/// `commit` does not start with 11 hex digits.
pub fn fresh_base(commit: &str) -> Option<u64> {
    let prefix = commit.trim().get(..11)?;
    let n = u64::from_str_radix(prefix, 16).ok()?;
    // 2^44 × 100,000 < 2^61: no overflow however far a sweep runs from the base.
    Some(FRESH_OFFSET + n * FRESH_WINDOW)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_base_depends_on_the_commit_and_stays_clear_of_the_fixed_range() {
        let a = fresh_base("3b97a20f00d1234567890abcdef0123456789abc").expect("hex");
        let b = fresh_base("3b97a21f00d1234567890abcdef0123456789abc").expect("hex");
        assert_ne!(a, b);
        assert!(a.abs_diff(b) >= FRESH_WINDOW);
        assert_eq!(
            fresh_base("3b97a20f00d1234567890abcdef0123456789abc\n"),
            Some(a)
        );
        let zero = fresh_base("00000000000").expect("hex");
        assert_eq!(zero, FRESH_OFFSET);
        assert!(fresh_base("fffffffffff").expect("hex") < u64::MAX / 2);
        assert_eq!(fresh_base("not-a-commit"), None);
        assert_eq!(fresh_base("abc"), None);
    }
}
