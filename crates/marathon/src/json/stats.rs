//! AppInfo's `taskStats` embed: counts and lifetimes of an app's tasks, split by whether they
//! run the app's latest scaling / configuration (Marathon's TaskStatsByVersion).

use drover_core::marathon::app::AppSpec;
use drover_core::marathon::condition::Condition;
use drover_core::marathon::instance::Instance;
use serde::ser::{Serialize, SerializeMap, Serializer};

/// `taskStats` of `app` over its `tasks`, as of `now_ms`.
#[derive(Debug)]
pub struct TaskStats<'a> {
    /// The app (its `versionInfo` splits the tasks).
    pub app: &'a AppSpec,
    /// The app's instances that have a task.
    pub tasks: &'a [&'a Instance],
    /// When lifetimes are measured.
    pub now_ms: u64,
}

impl Serialize for TaskStats<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let app = self.app;
        let mut m = s.serialize_map(None)?;
        // A category without tasks is left out, as Marathon does.
        let categories: [(&str, &Wanted); 4] = [
            ("startedAfterLastScaling", &|i| {
                i.app_version_ms >= app.last_scaling_at_ms
            }),
            ("withLatestConfig", &|i| {
                i.app_version_ms >= app.last_config_change_at_ms
            }),
            ("withOutdatedConfig", &|i| {
                i.app_version_ms < app.last_config_change_at_ms
            }),
            ("totalSummary", &|_| true),
        ];
        for (key, wanted) in categories {
            let some: Vec<&Instance> = self.tasks.iter().copied().filter(|i| wanted(i)).collect();
            if let Some(stats) = Stats::of(&some, self.now_ms) {
                m.serialize_entry(key, &Wrapped(stats))?;
            }
        }
        m.end()
    }
}

/// Which tasks a category counts.
type Wanted<'a> = dyn Fn(&Instance) -> bool + 'a;

/// `{"stats": {...}}`.
struct Wrapped(Stats);

impl Serialize for Wrapped {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry("stats", &self.0)?;
        m.end()
    }
}

struct Stats {
    staged: u64,
    running: u64,
    healthy: u64,
    unhealthy: u64,
    /// (average, median) seconds since start, of the tasks that started.
    life_time: Option<(f64, f64)>,
}

impl Stats {
    fn of(tasks: &[&Instance], now_ms: u64) -> Option<Stats> {
        if tasks.is_empty() {
            return None;
        }
        let mut stats = Stats {
            staged: 0,
            running: 0,
            healthy: 0,
            unhealthy: 0,
            life_time: None,
        };
        let mut lives: Vec<f64> = Vec::new();
        for i in tasks {
            match i.condition {
                Condition::Provisioned | Condition::Staging | Condition::Starting => {
                    stats.staged += 1;
                }
                Condition::Running => stats.running += 1,
                _ => {}
            }
            match i.healthy() {
                Some(true) => stats.healthy += 1,
                Some(false) => stats.unhealthy += 1,
                None => {}
            }
            if let Some(started) = i.started_at_ms {
                lives.push(now_ms.saturating_sub(started) as f64 / 1000.0);
            }
        }
        if !lives.is_empty() {
            lives.sort_by(f64::total_cmp);
            let n = lives.len();
            let average = lives.iter().sum::<f64>() / n as f64;
            let median = if n.is_multiple_of(2) {
                (lives[n / 2 - 1] + lives[n / 2]) / 2.0
            } else {
                lives[n / 2]
            };
            stats.life_time = Some((average, median));
        }
        Some(stats)
    }
}

impl Serialize for Stats {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("counts", &Counts(self))?;
        if let Some((average, median)) = self.life_time {
            m.serialize_entry("lifeTime", &LifeTime(average, median))?;
        }
        m.end()
    }
}

struct Counts<'a>(&'a Stats);

impl Serialize for Counts<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("staged", &self.0.staged)?;
        m.serialize_entry("running", &self.0.running)?;
        m.serialize_entry("healthy", &self.0.healthy)?;
        m.serialize_entry("unhealthy", &self.0.unhealthy)?;
        m.end()
    }
}

struct LifeTime(f64, f64);

impl Serialize for LifeTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("averageSeconds", &self.0)?;
        m.serialize_entry("medianSeconds", &self.1)?;
        m.end()
    }
}
