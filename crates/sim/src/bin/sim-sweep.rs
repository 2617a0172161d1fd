//! The long sweep on demand (`scripts/sim-sweep DURATION`): the random mix over fresh seeds
//! for a wall-time budget, each failure written with its replay line to a file as it is found,
//! progress and the final seeds/s and simulated hours on stdout.
//!
//! `sim-sweep --secs N --out FILE [--base SEED | --commit SHA]`; `--commit` starts at the
//! commit's own window (`sweep::fresh_base`), so a failure reproduces from the commit alone;
//! with neither, the seeds start at a base taken from the clock (printed, so the run can be
//! repeated).

use std::io::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use drover_sim::sweep::{FRESH_OFFSET, fresh_base, sweep};

fn usage(message: &str) -> ! {
    eprintln!(
        "sim-sweep: {message}\nusage: sim-sweep --secs N --out FILE [--base SEED | --commit SHA]"
    );
    std::process::exit(2);
}

fn main() {
    let (mut secs, mut out, mut base) = (None, None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{arg} needs a value")))
        };
        match arg.as_str() {
            "--secs" => {
                secs = Some(
                    value()
                        .parse::<u64>()
                        .unwrap_or_else(|_| usage("--secs is a whole number of seconds")),
                )
            }
            "--out" => out = Some(value()),
            "--base" => {
                base = Some(
                    value()
                        .parse::<u64>()
                        .unwrap_or_else(|_| usage("--base is a u64 seed")),
                )
            }
            "--commit" => {
                let commit = value();
                base = Some(fresh_base(&commit).unwrap_or_else(|| {
                    usage(&format!("--commit {commit:?} is not a full commit id"))
                }))
            }
            other => usage(&format!("unknown argument {other}")),
        }
    }
    let secs = secs.unwrap_or_else(|| usage("--secs is required"));
    let out = out.unwrap_or_else(|| usage("--out is required"));
    // Fresh ground: a range of its own from 2^62 (above every commit window), placed by the
    // clock, which leaves 2^62 seeds of room before u64's end.
    let base = base.unwrap_or_else(|| {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        (1 << 62) + (nanos % (1 << 60)) / FRESH_OFFSET * FRESH_OFFSET
    });
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&out)
        .unwrap_or_else(|e| usage(&format!("cannot open {out}: {e}")));
    println!("sim-sweep: {secs} s from seed {base}; failures go to {out}");
    let mut last = Instant::now();
    let summary = sweep(base, 0, Duration::from_secs(secs), |s, failure| {
        if let Some(f) = failure {
            // Written at once: a sweep stopped early keeps what it found.
            let _ = writeln!(file, "{f}");
            let _ = file.flush();
            println!("{f}");
        }
        if last.elapsed() >= Duration::from_secs(30) {
            last = Instant::now();
            println!("{}", s.line());
        }
    });
    println!("{}", summary.line());
    println!(
        "sim-sweep: done; {} failures in {out}",
        summary.failures.len()
    );
    if !summary.failures.is_empty() {
        std::process::exit(1);
    }
}
