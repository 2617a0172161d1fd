//! Issue 13's benchmarks: the fetcher against curl (FETCH), launches of a cached Docker image
//! on the Mesos containerizer against plain command tasks (UCR), and the Docker containerizer
//! against a `docker run -d` loop (DOCKER). Each pair is measured in the same run, on the same
//! machine, one after the other; everything a scenario starts (servers, registry, dockerd,
//! agent, containers, cgroups, temp dirs) is stopped and removed before it returns.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use drover_agent::fetcher::{FetchRequest, Fetcher, FetcherConfig};
use drover_wire::v1;
use http_body_util::Full;

use super::{Ctx, RealAgent, line};
use crate::dockerd::{Dockerd, IMAGE};
use crate::framework::{BenchFramework, TaskTemplate};
use crate::http::percentile;
use crate::procs::{Daemon, wait_until};
use crate::registry::{Registry, busybox_layer};
use crate::report::{Better, Line};
use crate::simagent::Counters;

// ---------------------------------------------------------------------------------------------
// FETCH

/// A loopback HTTP/1.1 server of in-memory files on a thread (and runtime) of its own, so
/// serving costs the client under test as little as possible; stopped on drop.
struct ArtifactServer {
    port: u16,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ArtifactServer {
    fn start(files: HashMap<String, Bytes>) -> anyhow::Result<ArtifactServer> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let files = Arc::new(files);
        let thread = std::thread::Builder::new()
            .name("artifact-server".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    loop {
                        let accepted = tokio::select! {
                            _ = &mut stopped => break,
                            accepted = listener.accept() => accepted,
                        };
                        let Ok((stream, _)) = accepted else { continue };
                        let _ = stream.set_nodelay(true);
                        let files = files.clone();
                        tokio::spawn(async move {
                            let service = hyper::service::service_fn(
                                move |request: hyper::Request<hyper::body::Incoming>| {
                                    let body = files.get(request.uri().path()).cloned();
                                    async move {
                                        let mut response = hyper::Response::new(Full::new(
                                            body.clone().unwrap_or_default(),
                                        ));
                                        if body.is_none() {
                                            *response.status_mut() = hyper::StatusCode::NOT_FOUND;
                                        }
                                        Ok::<_, std::convert::Infallible>(response)
                                    }
                                },
                            );
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                                .await;
                        });
                    }
                });
            })?;
        Ok(ArtifactServer {
            port,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for ArtifactServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// `len` bytes of pseudo-random data (xorshift), so nothing on the way can compress them.
fn artifact(len: usize) -> Bytes {
    let mut out = Vec::with_capacity(len + 8);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    Bytes::from(out)
}

fn uri(url: &str, cache: bool) -> v1::command_info::Uri {
    v1::command_info::Uri {
        value: url.to_owned(),
        cache: Some(cache),
        extract: Some(false),
        ..Default::default()
    }
}

/// One fetch into a fresh `sandbox`, timed; checks the file's size, then removes the sandbox.
async fn timed_fetch(
    fetcher: &Fetcher,
    uri: &v1::command_info::Uri,
    sandbox: &Path,
    file: &str,
    len: usize,
) -> anyhow::Result<Duration> {
    let uris = [uri.clone()];
    let t0 = Instant::now();
    fetcher
        .fetch(FetchRequest {
            uris: &uris,
            sandbox,
            user: None,
            owner: None,
            quota_bytes: None,
        })
        .await?;
    let took = t0.elapsed();
    let got = std::fs::metadata(sandbox.join(file))?.len();
    anyhow::ensure!(got == len as u64, "fetched {got} bytes of {len}");
    let _ = std::fs::remove_dir_all(sandbox);
    Ok(took)
}

/// `curl -s -o FILE URL`, timed by curl itself (`time_total`: without its own start-up, which
/// makes curl's figure the stricter one to compare with); checks the size, removes the file.
async fn timed_curl(url: &str, file: &Path, len: usize) -> anyhow::Result<Duration> {
    let output = tokio::process::Command::new("curl")
        .args(["-s", "-o"])
        .arg(file)
        .args(["-w", "%{time_total}", url])
        .output()
        .await
        .context("running curl")?;
    anyhow::ensure!(
        output.status.success(),
        "curl failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let secs: f64 = String::from_utf8_lossy(&output.stdout)
        .trim()
        .replace(',', ".")
        .parse()
        .context("curl's time_total")?;
    let got = std::fs::metadata(file)?.len();
    anyhow::ensure!(got == len as u64, "curl wrote {got} bytes of {len}");
    let _ = std::fs::remove_file(file);
    Ok(Duration::from_secs_f64(secs))
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    percentile(&samples, 0.5)
}

/// FETCH (issue 13): the agent's fetcher in this process (`Fetcher::fetch`, no task launch)
/// downloading `fetch_bytes` from a loopback HTTP server, against `curl -s -o` of the same
/// file, alternating, `fetch_rounds` each (medians); then cache hits: a `cache: true` URI
/// fetched once into `--fetcher_cache_dir`, then `fetch_hits` more fetches of it into fresh
/// sandboxes (median latency), for a 1 MB and the large artifact.
pub async fn fetch_throughput(ctx: &Ctx) -> anyhow::Result<Vec<Line>> {
    let s = &ctx.sizes;
    let len = s.fetch_bytes;
    const SMALL: usize = 1_000_000;
    let dir = ctx.sub("fetch");
    let result = async {
        let server = ArtifactServer::start(HashMap::from([
            ("/big.bin".to_owned(), artifact(len)),
            ("/small.bin".to_owned(), artifact(SMALL)),
        ]))?;
        let fetcher = Fetcher::new(FetcherConfig {
            cache_dir: dir.join("cache"),
            cache_size_bytes: 4 * (len + SMALL) as u64,
            max_size_bytes: 1 << 40,
            timeout: Duration::from_secs(300),
        })?;
        let big = server.url("/big.bin");
        let curl_file = dir.join("curl.bin");
        // One of each first: connections, the page cache, the allocator.
        timed_fetch(
            &fetcher,
            &uri(&big, false),
            &dir.join("warm"),
            "big.bin",
            len,
        )
        .await?;
        timed_curl(&big, &curl_file, len).await?;
        let (mut ours, mut curls) = (Vec::new(), Vec::new());
        for round in 0..s.fetch_rounds {
            let sandbox = dir.join(format!("round-{round}"));
            ours.push(timed_fetch(&fetcher, &uri(&big, false), &sandbox, "big.bin", len).await?);
            curls.push(timed_curl(&big, &curl_file, len).await?);
        }
        let mut hits = Vec::new();
        for (path, file, size) in [
            ("/small.bin", "small.bin", SMALL),
            ("/big.bin", "big.bin", len),
        ] {
            let cached = uri(&server.url(path), true);
            let fill = timed_fetch(&fetcher, &cached, &dir.join("fill"), file, size).await?;
            let mut samples = Vec::new();
            for i in 0..s.fetch_hits {
                let sandbox = dir.join(format!("hit-{i}"));
                samples.push(timed_fetch(&fetcher, &cached, &sandbox, file, size).await?);
            }
            hits.push((size, fill, median(samples)));
        }
        anyhow::Ok((median(ours), median(curls), hits))
    }
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    let (ours, curl, hits) = result?;
    let mb = len as f64 / 1e6;
    let (ours_rate, curl_rate) = (mb / ours.as_secs_f64(), mb / curl.as_secs_f64());
    let rounds = s.fetch_rounds;
    let mut lines = vec![
        line(
            "FETCH",
            "fetcher download, loopback HTTP -> sandbox",
            ours_rate,
            "MB/s",
            None,
            Better::Higher,
            "curl, same file, same run",
            format!(
                "{mb:.0} MB, median of {rounds} ({:.1} ms), in-process Fetcher::fetch",
                ours.as_secs_f64() * 1e3
            ),
        ),
        line(
            "FETCH",
            "curl -s -o FILE URL, same file",
            curl_rate,
            "MB/s",
            None,
            Better::Higher,
            "the reference",
            format!(
                "{mb:.0} MB, median of {rounds} ({:.1} ms, curl's time_total)",
                curl.as_secs_f64() * 1e3
            ),
        ),
        line(
            "FETCH",
            "fetcher throughput / curl's",
            ours_rate / curl_rate,
            "ratio",
            Some(0.9),
            Better::Higher,
            "issue 13: >= 90 % of curl",
            format!("{ours_rate:.0} vs {curl_rate:.0} MB/s"),
        ),
    ];
    for (size, fill, hit) in hits {
        lines.push(line(
            "FETCH",
            &format!("cache hit, {} MB artifact", size as f64 / 1e6),
            hit.as_secs_f64() * 1e3,
            "ms",
            Some(10.0),
            Better::Lower,
            "issue 13: <= 10 ms",
            format!(
                "median of {} fetches of a cached URI into fresh sandboxes (copy from \
                 --fetcher_cache_dir); the miss that filled it took {:.1} ms",
                s.fetch_hits,
                fill.as_secs_f64() * 1e3
            ),
        ));
    }
    Ok(lines)
}

// ---------------------------------------------------------------------------------------------
// UCR and DOCKER: launches on one real agent

fn shell(value: &str) -> v1::CommandInfo {
    v1::CommandInfo {
        value: Some(value.into()),
        shell: Some(true),
        ..Default::default()
    }
}

/// Launches `n` tasks made from `template` (one ACCEPT per offer, as TG does) and waits until
/// all of them reached `until` (RUNNING or FINISHED); the time from subscribing until then
/// (polled every 10 ms). Fails at the first task that fails, naming it. The framework is torn
/// down and the agent left idle after.
async fn launch_batch(
    master: &Daemon,
    agent: &RealAgent,
    n: usize,
    template: TaskTemplate,
    until: Until,
    what: &str,
) -> anyhow::Result<Duration> {
    let t0 = Instant::now();
    let fw = BenchFramework::subscribe_with(&master.addr(), n, n, template).await?;
    let limit = Duration::from_secs(120 + n as u64 / 2);
    let counters = fw.counters();
    let counter: &AtomicU64 = match until {
        Until::Running => &counters.running,
        Until::Finished => &counters.finished,
    };
    let waited = wait_until(limit, what, || {
        let done = Counters::get(counter) >= n as u64 || Counters::get(&counters.failed) > 0;
        async move { done }
    })
    .await;
    let took = t0.elapsed();
    let failure = counters
        .last_failure
        .lock()
        .map(|f| f.clone())
        .unwrap_or_default();
    let reached = Counters::get(counter);
    let _ = fw.teardown().await;
    let idle = agent.wait_idle().await;
    if let Some(failure) = failure {
        bail!("{what}: a task failed: {failure}");
    }
    waited.with_context(|| format!("{what}: {reached} of {n}"))?;
    idle?;
    Ok(took)
}

#[derive(Debug, Clone, Copy)]
enum Until {
    Running,
    Finished,
}

/// The UCR image: busybox-static with its applets, `PATH=/bin`.
const UCR_IMAGE: &str = "drover-bench/busybox:1";

/// UCR (issue 13): launches per second of a cached Docker image on the Mesos containerizer
/// against plain command tasks in cgroups, on the same real agent in the same run
/// (`--image_providers=docker`, a private `docker-registry`). Each task is a shell builtin
/// (`true`; in the image `test ! -d /usr`, which fails outside it), so the rate is launch and
/// end: ACCEPT → every task FINISHED, `ucr_tasks` at once as TG launches its single tasks; `ucr_rounds` of each kind, alternating, and the medians. The image is pulled by
/// one task first, so the measured launches use the cache.
pub async fn ucr_launches(ctx: &Ctx) -> anyhow::Result<Vec<Line>> {
    let n = ctx.sizes.ucr_tasks;
    let rounds = ctx.sizes.ucr_rounds.max(1);
    let registry = Registry::start(&ctx.sub("ucr-registry"), &ctx.http).await?;
    let (repository, tag) = UCR_IMAGE.split_once(':').context("image reference")?;
    registry
        .push(
            &ctx.http,
            repository,
            tag,
            &[busybox_layer()?],
            serde_json::json!({"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"]}),
        )
        .await?;
    let master = ctx.master("ucr-master", &[])?;
    let agent = RealAgent::start_with(
        ctx,
        "ucr",
        &master,
        n,
        &[
            "--image_providers=docker".to_owned(),
            format!("--docker_registry={}", registry.url()),
        ],
    )
    .await?;
    let command = TaskTemplate {
        command: shell("true"),
        ..TaskTemplate::default()
    };
    // Also a shell builtin, and true only inside the image (the host has a /usr): a task that
    // ran outside its image fails the scenario.
    let image = TaskTemplate {
        command: shell("test ! -d /usr"),
        container: Some(v1::ContainerInfo {
            r#type: v1::container_info::Type::Mesos as i32,
            mesos: Some(v1::container_info::MesosInfo {
                image: Some(v1::Image {
                    r#type: v1::image::Type::Docker as i32,
                    docker: Some(v1::image::Docker {
                        name: UCR_IMAGE.into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
            }),
            ..Default::default()
        }),
        ..command.clone()
    };
    let result = async {
        let pull = launch_batch(
            &master,
            &agent,
            1,
            image.clone(),
            Until::Finished,
            "UCR first image task (pull)",
        )
        .await?;
        let (mut plain, mut cached) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            plain.push(
                launch_batch(
                    &master,
                    &agent,
                    n,
                    command.clone(),
                    Until::Finished,
                    "UCR command tasks FINISHED",
                )
                .await?,
            );
            cached.push(
                launch_batch(
                    &master,
                    &agent,
                    n,
                    image.clone(),
                    Until::Finished,
                    "UCR image tasks FINISHED",
                )
                .await?,
            );
        }
        anyhow::Ok((pull, plain, cached))
    }
    .await;
    agent.stop().await;
    drop(master);
    drop(registry);
    let (pull, plain, cached) = result?;
    let list = |runs: &[Duration]| {
        runs.iter()
            .map(|d| format!("{:.2}", d.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (plain_runs, cached_runs) = (list(&plain), list(&cached));
    let (plain, cached) = (median(plain), median(cached));
    let (plain_rate, image_rate) = (
        n as f64 / plain.as_secs_f64(),
        n as f64 / cached.as_secs_f64(),
    );
    Ok(vec![
        line(
            "UCR",
            "command tasks in cgroups: ACCEPT -> all FINISHED",
            plain_rate,
            "tasks/s",
            None,
            Better::Higher,
            "the reference, same agent and run",
            format!(
                "{n} tasks `true`, one command executor each, median of {rounds} rounds \
                 ({plain_runs} s)"
            ),
        ),
        line(
            "UCR",
            "cached Docker image, Mesos containerizer",
            image_rate,
            "tasks/s",
            None,
            Better::Higher,
            "same agent and run",
            format!(
                "{n} tasks `test ! -d /usr` in {UCR_IMAGE} (a rootfs each), median of {rounds} \
                 rounds alternating with the above ({cached_runs} s); first launch with the \
                 pull {:.2} s",
                pull.as_secs_f64()
            ),
        ),
        line(
            "UCR",
            "image launch rate / command task rate",
            image_rate / plain_rate,
            "ratio",
            Some(0.5),
            Better::Higher,
            "issue 13: >= 50 % of command tasks",
            format!("{image_rate:.1} vs {plain_rate:.1} tasks/s"),
        ),
    ])
}

/// `docker run -d` of the container every DOCKER launch makes, with options matching what the
/// agent asks the daemon for (host network, 32 MB without swap, 10 cpu shares, the sandbox
/// mounted, `/bin/sh -c` as the entrypoint).
fn docker_run(host: &str, sandbox: &Path) -> String {
    format!(
        "docker -H {host} run -d --network host --memory 32m --memory-swap 32m --cpu-shares 10 \
         -v {}:/mnt/mesos/sandbox --entrypoint /bin/sh {IMAGE} -c 'sleep 3600' >/dev/null",
        sandbox.display()
    )
}

/// Runs a shell script; its wall time.
async fn timed_shell(script: &str) -> anyhow::Result<Duration> {
    let t0 = Instant::now();
    let output = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(std::process::Stdio::null())
        .output()
        .await?;
    let took = t0.elapsed();
    anyhow::ensure!(
        output.status.success(),
        "`{script}` failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(took)
}

/// Client processes of the informational parallel `docker run -d` baseline.
const DOCKER_PARALLEL: usize = 8;

/// DOCKER (issue 13): Docker containerizer launches per second on one real agent
/// (`--containerizers=mesos,docker`, a private dockerd) against a shell loop of `docker run -d`
/// of the same image and container settings, `docker_tasks` each; both count a launch when the
/// container runs (the agent: ACCEPT → every task RUNNING; the loop: its last `docker run -d`
/// returned). Without a dockerd the scenario fails, saying it did not run.
pub async fn docker_launches(ctx: &Ctx) -> anyhow::Result<Vec<Line>> {
    let n = ctx.sizes.docker_tasks;
    let mut dockerd = Dockerd::start(&ctx.sub("dkd"))
        .await
        .context("DOCKER NOT RUN: no private dockerd could be started")?;
    let result = docker_measure(ctx, &dockerd, n).await;
    let removed = dockerd.remove_all().await;
    tokio::task::block_in_place(|| dockerd.shutdown());
    let times = result?;
    removed.context("removing the containers")?;
    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    let (loop_rate, agent_rate) = (rate(times.looped), rate(times.agent));
    Ok(vec![
        line(
            "DOCKER",
            "shell loop of `docker run -d`",
            loop_rate,
            "ctrs/s",
            None,
            Better::Higher,
            "the reference, same dockerd and run",
            format!(
                "{n} containers `sleep 3600`, one after another, {:.2} s",
                times.looped.as_secs_f64()
            ),
        ),
        line(
            "DOCKER",
            &format!("`docker run -d`, {DOCKER_PARALLEL} clients at once"),
            rate(times.parallel),
            "ctrs/s",
            None,
            Better::Higher,
            "for comparison only",
            format!(
                "{n} containers, xargs -P {DOCKER_PARALLEL}, {:.2} s",
                times.parallel.as_secs_f64()
            ),
        ),
        line(
            "DOCKER",
            "Docker containerizer: ACCEPT -> all RUNNING",
            agent_rate,
            "tasks/s",
            None,
            Better::Higher,
            "same dockerd and run",
            format!(
                "{n} DOCKER tasks `sleep 3600` (host network) on one agent, {:.2} s; a first \
                 single task {:.2} s",
                times.agent.as_secs_f64(),
                times.first.as_secs_f64()
            ),
        ),
        line(
            "DOCKER",
            "agent launch rate / docker run -d loop's",
            agent_rate / loop_rate,
            "ratio",
            Some(0.8),
            Better::Higher,
            "issue 13: >= 80 % of the loop",
            format!("{agent_rate:.1} vs {loop_rate:.1} per s"),
        ),
    ])
}

/// What DOCKER measured.
struct DockerTimes {
    looped: Duration,
    parallel: Duration,
    agent: Duration,
    first: Duration,
}

/// The measurements of DOCKER.
async fn docker_measure(ctx: &Ctx, dockerd: &Dockerd, n: usize) -> anyhow::Result<DockerTimes> {
    dockerd.import_busybox().await?;
    let sandbox = ctx.sub("dkd-loop-sandbox");
    // A first container, so neither side pays the daemon's first-use costs.
    let host = dockerd.host();
    let run = docker_run(&host, &sandbox);
    timed_shell(&run).await?;
    dockerd.remove_all().await?;
    let looped = timed_shell(&format!("for i in $(seq 1 {n}); do {run} || exit 1; done")).await?;
    dockerd.remove_all().await?;
    // The same containers from DOCKER_PARALLEL clients at once (xargs -P), for comparison.
    let parallel = timed_shell(&format!(
        "seq 1 {n} | xargs -P {DOCKER_PARALLEL} -I{{}} sh -c \"{}\"",
        run.replace('"', "\\\"")
    ))
    .await?;
    dockerd.remove_all().await?;

    let master = ctx.master("docker-master", &[])?;
    let agent = RealAgent::start_with(
        ctx,
        "docker",
        &master,
        n,
        &[
            "--containerizers=mesos,docker".to_owned(),
            format!("--docker_socket={}", dockerd.socket().display()),
            "--docker_stop_timeout=0secs".to_owned(),
        ],
    )
    .await?;
    let template = TaskTemplate {
        command: shell("sleep 3600"),
        container: Some(v1::ContainerInfo {
            r#type: v1::container_info::Type::Docker as i32,
            docker: Some(v1::container_info::DockerInfo {
                image: IMAGE.into(),
                network: Some(v1::container_info::docker_info::Network::Host as i32),
                ..Default::default()
            }),
            ..Default::default()
        }),
        cpus: 0.01,
        mem: 32.0,
    };
    let result = async {
        let first = launch_batch(
            &master,
            &agent,
            1,
            template.clone(),
            Until::Running,
            "DOCKER first task RUNNING",
        )
        .await?;
        dockerd.remove_all().await?;
        let batch = launch_batch(
            &master,
            &agent,
            n,
            template,
            Until::Running,
            "DOCKER tasks RUNNING",
        )
        .await?;
        anyhow::Ok((first, batch))
    }
    .await;
    agent.stop().await;
    let (first, batch) = result?;
    Ok(DockerTimes {
        looped,
        parallel,
        agent: batch,
        first,
    })
}
