//! Issue 15's benchmark (MGRP): a Marathon group of apps whose subgroups form a dependency
//! chain of depth 5, deployed in order by one POST /v2/groups, against the same number of
//! independent apps posted one by one to /v2/apps; same run, same simulated fleet, each timed
//! from its first POST to all its tasks RUNNING and acknowledged.

use std::time::{Duration, Instant};

use anyhow::bail;
use serde_json::{Value, json};

use super::{Ctx, app_json, line, wait_counter};
use crate::report::{Better, Line};
use crate::simagent::{Fleet, FleetConfig};

/// Subgroups in the chain: each depends on the one before it.
const LEVELS: usize = 5;

/// The group: `/bench/chain/l0` … `/bench/chain/l4`, `per_level` one-instance apps each, level
/// k depending on level k−1 (so its apps are started only once level k−1's run).
fn chain_json(per_level: usize) -> String {
    let groups: Vec<Value> = (0..LEVELS)
        .map(|level| {
            let apps: Vec<Value> = (0..per_level)
                .map(|i| {
                    let app = app_json(&format!("/bench/chain/l{level}/a{i}"), 1);
                    serde_json::from_str(&app).unwrap_or_default()
                })
                .collect();
            let mut group = json!({"id": format!("/bench/chain/l{level}"), "apps": apps});
            if level > 0 {
                group["dependencies"] = json!([format!("/bench/chain/l{}", level - 1)]);
            }
            group
        })
        .collect();
    json!({"id": "/bench/chain", "groups": groups}).to_string()
}

/// MGRP: the chained group, then as many apps one POST at a time.
pub async fn marathon_groups(ctx: &Ctx) -> anyhow::Result<Vec<Line>> {
    let apps = if ctx.sizes.mode == "tiny" { 10 } else { 100 };
    let per_level = apps / LEVELS;
    let apps = per_level * LEVELS;
    let master = ctx.master("mgrp-master", &[])?;
    let marathon = ctx.marathon("mgrp-marathon", &master).await?;
    let fleet = Fleet::start(FleetConfig::new(master.addr(), 10)).await?;
    let api = format!("http://{}", marathon.addr());
    let limit = Duration::from_secs(300);

    let t0 = Instant::now();
    let (status, body) = ctx
        .http
        .post_json(&format!("{api}/v2/groups"), chain_json(per_level))
        .await?;
    if status != 201 {
        bail!(
            "POST /v2/groups answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    let running = &fleet.counters().running_acked;
    wait_counter(running, apps as u64, limit, "MGRP group's tasks RUNNING").await?;
    let chained = t0.elapsed().as_secs_f64();

    let t1 = Instant::now();
    for i in 0..apps {
        let (status, body) = ctx
            .http
            .post_json(
                &format!("{api}/v2/apps"),
                app_json(&format!("/bench/flat/a{i}"), 1),
            )
            .await?;
        if status != 201 {
            bail!(
                "POST /v2/apps answered {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
    }
    wait_counter(running, 2 * apps as u64, limit, "MGRP single apps RUNNING").await?;
    let one_by_one = t1.elapsed().as_secs_f64();
    drop(fleet);
    Ok(vec![
        line(
            "MGRP",
            "group, dependency chain of depth 5: POST -> all RUNNING+acked",
            chained,
            "s",
            None,
            Better::Lower,
            "same run as the apps posted one by one",
            format!("{apps} apps in {LEVELS} chained subgroups, one instance each, 10 sim agents"),
        ),
        line(
            "MGRP",
            "the same number of apps, one POST each -> all RUNNING+acked",
            one_by_one,
            "s",
            None,
            Better::Lower,
            "same run as the group",
            format!("{apps} apps without dependencies, one instance each"),
        ),
    ])
}
