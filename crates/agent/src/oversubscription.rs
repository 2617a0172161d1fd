//! Oversubscription on the agent, the I/O half: the resource estimator (`--resource_estimator`:
//! a fixed amount, or what running containers were given and do not use, measured from their
//! cgroups) and the QoS controller (`--qos_controller=load`: the machine's load averages
//! against thresholds). Both run on timers and hand their findings to the core, which decides
//! what the master is told and which containers are evicted.

use std::collections::BTreeMap;
use std::time::Duration;

use drover_core::agent::Input;
use drover_wire::v1;

use crate::driver::{Handle, Msg};

/// `--resource_estimator`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Estimator {
    /// `--oversubscribed_resources`, as Mesos' fixed estimator module.
    Fixed,
    /// Allocated but unused cpu and memory of running containers.
    Usage,
}

impl Estimator {
    /// Parses the flag: Drover's names or Mesos' module names.
    pub fn parse(text: &str) -> Result<Estimator, String> {
        match text {
            "fixed" | "org_apache_mesos_FixedResourceEstimator" => Ok(Estimator::Fixed),
            "usage" => Ok(Estimator::Usage),
            other => Err(format!(
                "--resource_estimator={other} is not known: use 'fixed' (with \
                 --oversubscribed_resources) or 'usage'"
            )),
        }
    }

    /// Its name, as GET_FLAGS shows it.
    pub fn name(self) -> &'static str {
        match self {
            Estimator::Fixed => "fixed",
            Estimator::Usage => "usage",
        }
    }
}

/// `--qos_controller`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QosController {
    /// The load-average controller.
    Load,
}

impl QosController {
    /// Parses the flag: `load` or Mesos' module name.
    pub fn parse(text: &str) -> Result<QosController, String> {
        match text {
            "load" | "org_apache_mesos_LoadQoSController" => Ok(QosController::Load),
            other => Err(format!(
                "--qos_controller={other} is not known: use 'load' (with --load_threshold_5min \
                 and/or --load_threshold_15min)"
            )),
        }
    }

    /// Its name, as GET_FLAGS shows it.
    pub fn name(self) -> &'static str {
        "load"
    }
}

/// The load controller's thresholds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadThresholds {
    pub five: Option<f64>,
    pub fifteen: Option<f64>,
}

impl LoadThresholds {
    /// Why the machine is overloaded (`Some`) or not, for `/proc/loadavg`'s text.
    pub fn overloaded(&self, loadavg: &str) -> Option<String> {
        let mut fields = loadavg.split_whitespace().skip(1);
        let five: f64 = fields.next()?.parse().ok()?;
        let fifteen: f64 = fields.next()?.parse().ok()?;
        if let Some(t) = self.five
            && five > t
        {
            return Some(format!(
                "the 5-minute load average {five} is above the QoS threshold {t}"
            ));
        }
        if let Some(t) = self.fifteen
            && fifteen > t
        {
            return Some(format!(
                "the 15-minute load average {fifteen} is above the QoS threshold {t}"
            ));
        }
        None
    }
}

/// Checks the flags together: each setting must take effect.
pub fn check_flags(
    flags: &crate::flags::Flags,
    total: &[v1::Resource],
) -> anyhow::Result<Option<Vec<v1::Resource>>> {
    let fixed = match (&flags.resource_estimator, &flags.oversubscribed_resources) {
        (Some(Estimator::Fixed), Some(text)) => {
            let list = drover_core::resources::parse(text)
                .map_err(|e| anyhow::anyhow!("--oversubscribed_resources: {e}"))?;
            if list.iter().any(drover_core::resources::is_reserved) {
                anyhow::bail!("--oversubscribed_resources: revocable resources cannot be reserved");
            }
            // Idle allocations can be lent out, but never more than the machine has.
            for r in list.iter().filter(|r| drover_core::resources::is_scalar(r)) {
                let asked = drover_core::resources::scalar(std::slice::from_ref(r), &r.name);
                let has = drover_core::resources::scalar(total, &r.name);
                if asked > has {
                    anyhow::bail!(
                        "--oversubscribed_resources: {asked} {} is more than this agent has ({has})",
                        r.name
                    );
                }
            }
            Some(list)
        }
        (Some(Estimator::Fixed), None) => {
            anyhow::bail!("--resource_estimator=fixed needs --oversubscribed_resources")
        }
        (Some(Estimator::Usage), Some(_)) | (None, Some(_)) => anyhow::bail!(
            "--oversubscribed_resources is the fixed estimator's: give --resource_estimator=fixed"
        ),
        _ => None,
    };
    let thresholds = flags.load_threshold_5min.is_some() || flags.load_threshold_15min.is_some();
    match flags.qos_controller {
        Some(QosController::Load) if !thresholds => anyhow::bail!(
            "--qos_controller=load needs --load_threshold_5min and/or --load_threshold_15min"
        ),
        None if thresholds => anyhow::bail!(
            "--load_threshold_5min and --load_threshold_15min are the load QoS controller's: \
             give --qos_controller=load"
        ),
        _ => {}
    }
    for t in [flags.load_threshold_5min, flags.load_threshold_15min]
        .into_iter()
        .flatten()
    {
        if !t.is_finite() || t < 0.0 {
            anyhow::bail!("a load threshold must be a non-negative number, not {t}");
        }
    }
    Ok(fixed)
}

/// Starts the estimator's and the controller's timers; they stop when the driver does.
pub fn start(
    flags: &crate::flags::Flags,
    fixed: Option<Vec<v1::Resource>>,
    handle: &Handle,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    if let Some(estimator) = flags.resource_estimator {
        let tx = handle.tx.clone();
        let interval = flags
            .oversubscribed_resources_interval
            .max(Duration::from_millis(100));
        tasks.push(tokio::spawn(async move {
            loop {
                let msg = match (estimator, &fixed) {
                    (Estimator::Fixed, Some(list)) => Msg::Input(Input::Oversubscribed {
                        estimate: list.clone(),
                        total: true,
                    }),
                    _ => Msg::EstimateUsage,
                };
                if tx.send(msg).await.is_err() {
                    return;
                }
                tokio::time::sleep(interval).await;
            }
        }));
    }
    if flags.qos_controller.is_some() {
        let tx = handle.tx.clone();
        let thresholds = LoadThresholds {
            five: flags.load_threshold_5min,
            fifteen: flags.load_threshold_15min,
        };
        let interval = flags
            .qos_correction_interval_min
            .max(Duration::from_secs(1));
        tasks.push(tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let Ok(loadavg) = tokio::fs::read_to_string("/proc/loadavg").await else {
                    continue;
                };
                if let Some(why) = thresholds.overloaded(&loadavg) {
                    let message = format!("Evicted by the QoS controller: {why}");
                    if tx
                        .send(Msg::Input(Input::QosCorrection(message)))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }));
    }
    tasks
}

/// The usage estimator's memory of each container's cpu time, to turn it into a rate.
#[derive(Debug, Default)]
pub struct UsageSamples {
    last: BTreeMap<String, (std::time::Instant, f64)>,
}

impl UsageSamples {
    /// What a container was given and does not use: (cpus, mem MB), from its allocation and
    /// this sample of its cgroups. The first sample of a container counts its cpu as used.
    pub fn unused(
        &mut self,
        container: &str,
        cpus: f64,
        mem_mb: f64,
        stats: &crate::containerizer::ContainerStats,
    ) -> (f64, f64) {
        let now = std::time::Instant::now();
        let cpu_now = stats.cpu_usage_secs.unwrap_or(0.0);
        let rate = match self.last.insert(container.to_owned(), (now, cpu_now)) {
            Some((then, cpu_then)) => {
                let secs = now.duration_since(then).as_secs_f64();
                if secs > 0.0 {
                    ((cpu_now - cpu_then) / secs).max(0.0)
                } else {
                    cpus
                }
            }
            None => cpus,
        };
        let mem_used = stats.mem_usage_bytes.unwrap_or(0) as f64 / (1024.0 * 1024.0);
        ((cpus - rate).max(0.0), (mem_mb - mem_used).max(0.0))
    }

    /// Forgets containers that are gone.
    pub fn retain(&mut self, live: &std::collections::BTreeSet<String>) {
        self.last.retain(|id, _| live.contains(id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_load_controller_compares_the_averages_it_was_given() {
        let t = LoadThresholds {
            five: Some(1.5),
            fifteen: None,
        };
        assert!(t.overloaded("0.50 1.20 2.00 1/100 42").is_none());
        let why = t.overloaded("3.00 1.60 0.10 1/100 42").unwrap();
        assert!(why.contains("5-minute load average 1.6"), "{why}");
        let t = LoadThresholds {
            five: None,
            fifteen: Some(0.0),
        };
        assert!(
            t.overloaded("0.00 0.00 0.00 1/1 1").is_none(),
            "strictly above"
        );
        assert!(t.overloaded("0.00 0.00 0.01 1/1 1").is_some());
        assert!(t.overloaded("garbage").is_none());
    }

    #[test]
    fn every_oversubscription_flag_takes_effect_or_the_agent_refuses_to_start() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            flags: crate::flags::Flags,
        }
        use clap::Parser as _;
        let total = drover_core::resources::parse("cpus:2;mem:1024").unwrap();
        let check = |extra: &[&str]| {
            let base = ["agent", "--master=m:5050", "--work_dir=/w"];
            let cli = Cli::try_parse_from(base.iter().chain(extra)).map_err(|e| e.to_string())?;
            check_flags(&cli.flags, &total).map_err(|e| e.to_string())
        };
        let fixed = check(&[
            "--resource_estimator=fixed",
            "--oversubscribed_resources=cpus:1",
        ])
        .unwrap();
        assert_eq!(fixed.map(|l| l.len()), Some(1));
        for (extra, says) in [
            (
                &["--resource_estimator=fixed"][..],
                "needs --oversubscribed_resources",
            ),
            (
                &["--oversubscribed_resources=cpus:1"][..],
                "--resource_estimator=fixed",
            ),
            (
                &[
                    "--resource_estimator=fixed",
                    "--oversubscribed_resources=cpus:64",
                ][..],
                "more than this agent has",
            ),
            (&["--qos_controller=load"][..], "needs --load_threshold"),
            (&["--load_threshold_5min=1"][..], "--qos_controller=load"),
            (
                &["--qos_controller=load", "--load_threshold_5min=-1"][..],
                "non-negative",
            ),
            (&["--qos_controller=noop"][..], "not known"),
        ] {
            let err = check(extra).expect_err(says);
            assert!(err.contains(says), "{extra:?}: {err}");
        }
    }

    #[test]
    fn estimators_and_controllers_take_mesos_module_names() {
        assert_eq!(
            Estimator::parse("org_apache_mesos_FixedResourceEstimator"),
            Ok(Estimator::Fixed)
        );
        assert_eq!(
            QosController::parse("org_apache_mesos_LoadQoSController"),
            Ok(QosController::Load)
        );
        assert!(Estimator::parse("noop").is_err());
    }

    #[test]
    fn unused_resources_are_what_a_container_was_given_less_what_it_uses() {
        let mut samples = UsageSamples::default();
        let stats = crate::containerizer::ContainerStats {
            mem_usage_bytes: Some(64 * 1024 * 1024),
            cpu_usage_secs: Some(10.0),
            ..Default::default()
        };
        // The first sample has no rate yet: no cpu is counted as unused.
        let (cpus, mem) = samples.unused("c1", 2.0, 256.0, &stats);
        assert_eq!((cpus, mem), (0.0, 192.0));
    }
}
