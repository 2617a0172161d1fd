//! Smoke test: the `--tiny` run of every scenario completes (it asserts completion, not
//! speed), so no scenario rots between full runs. It needs what scripts/setup installs
//! (ZooKeeper, dockerd, the registry, curl) and root. Every daemon it starts is a child of the
//! bench binary and is killed with it.

use std::process::Command;

#[test]
fn every_scenario_completes_at_tiny_sizes() {
    let output = Command::new(env!("CARGO_BIN_EXE_drover-bench"))
        .args(["--tiny"])
        .output()
        .expect("the bench binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "drover-bench --tiny failed:\n{stdout}\n{stderr}"
    );
    for goal in [
        "G1 ", "G1-raw ", "G1-ZK ", "G2 ", "G3 ", "G4 ", "G4-p99", "G5 ", "G6 ", "G6-ZK ", "G7 ",
        "G8 ", "G9 ", "G10 ", "MGRP ", "TG ", "FETCH ", "UCR ", "DOCKER ",
    ] {
        assert!(
            stdout.lines().any(|l| l.starts_with(goal)),
            "no {goal} line in:\n{stdout}"
        );
    }
    assert!(!stdout.contains("FAILED"), "a scenario failed:\n{stdout}");
}
