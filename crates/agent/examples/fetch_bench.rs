//! The fetcher benchmark (issue 13): a 100 MB artifact fetched from a loopback HTTP server by
//! Drover's fetcher against `curl` of the same file from the same server, and the time of a
//! cache hit. Run: `cargo run --release -p drover-agent --example fetch_bench [-- <MB> <runs>]`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;
use drover_agent::fetcher::{FetchRequest, Fetcher, FetcherConfig};
use drover_wire::v1::command_info::Uri;

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn mb_per_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / (1 << 20) as f64 / d.as_secs_f64()
}

async fn fetch_once(fetcher: &Fetcher, uri: &Uri, sandbox: &Path) -> Duration {
    let _ = std::fs::remove_dir_all(sandbox);
    let started = Instant::now();
    fetcher
        .fetch(FetchRequest {
            uris: std::slice::from_ref(uri),
            sandbox,
            user: None,
            owner: None,
            quota_bytes: None,
        })
        .await
        .expect("fetch");
    started.elapsed()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let mb: usize = args.get(1).map_or(Ok(100), |a| a.parse())?;
    let runs: usize = args.get(2).map_or(Ok(5), |a| a.parse())?;
    let size = mb << 20;
    // Incompressible-looking bytes, so nothing along the way can shortcut them.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let body: Vec<u8> = (0..size)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let artifact = Bytes::from(body);
    let small = Bytes::from(vec![1u8; 1 << 20]);
    let app = axum::Router::new()
        .route(
            "/artifact.bin",
            axum::routing::get(move || async move { artifact.clone() }),
        )
        .route(
            "/small.bin",
            axum::routing::get(move || async move { small.clone() }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let url = format!("http://127.0.0.1:{port}/artifact.bin");

    let tmp = tempfile::tempdir()?;
    let fetcher = Fetcher::new(FetcherConfig {
        cache_dir: tmp.path().join("cache"),
        cache_size_bytes: 4 << 30,
        max_size_bytes: 16 << 30,
        timeout: Duration::from_secs(600),
    })?;
    let plain = Uri {
        value: url.clone(),
        ..Default::default()
    };
    let sandbox = tmp.path().join("sandbox");
    let curl_out = tmp.path().join("curl.out");

    let mut curl = Vec::new();
    let mut drover = Vec::new();
    // Interleaved, after one warm-up of each, so both see the same machine state.
    for run in 0..=runs {
        let started = Instant::now();
        let status = Command::new("curl")
            .args(["-s", "-f", "-o"])
            .arg(&curl_out)
            .arg(&url)
            .status()?;
        let took = started.elapsed();
        anyhow::ensure!(status.success(), "curl failed");
        anyhow::ensure!(std::fs::metadata(&curl_out)?.len() == size as u64);
        let fetched = fetch_once(&fetcher, &plain, &sandbox).await;
        anyhow::ensure!(std::fs::metadata(sandbox.join("artifact.bin"))?.len() == size as u64);
        if run > 0 {
            curl.push(took);
            drover.push(fetched);
        }
    }
    let (curl_m, drover_m) = (median(curl), median(drover));
    let (curl_t, drover_t) = (
        mb_per_s(size as u64, curl_m),
        mb_per_s(size as u64, drover_m),
    );
    println!("artifact: {mb} MB, {runs} runs each (median), loopback");
    println!("curl:            {curl_m:>10.1?}  {curl_t:>8.0} MB/s");
    println!("drover fetcher:  {drover_m:>10.1?}  {drover_t:>8.0} MB/s");
    println!(
        "ratio:           {:>9.0} % of curl (goal >= 90 %)",
        drover_t / curl_t * 100.0
    );

    for (name, bytes) in [("artifact.bin", size), ("small.bin", 1 << 20)] {
        let cached = Uri {
            value: format!("http://127.0.0.1:{port}/{name}"),
            cache: Some(true),
            ..Default::default()
        };
        let miss = fetch_once(&fetcher, &cached, &sandbox).await;
        let hits: Vec<Duration> = {
            let mut out = Vec::new();
            for _ in 0..runs.max(3) {
                out.push(fetch_once(&fetcher, &cached, &sandbox).await);
            }
            out
        };
        println!(
            "cache, {:>4} MB:  miss {miss:>8.1?}, hit {:>8.2?} (median; goal <= 10 ms)",
            bytes >> 20,
            median(hits)
        );
    }
    Ok(())
}
