//! A task sees its own processes (issue 15 item 4): with `namespaces/pid` the container also
//! gets a mount namespace with a `/proc` of its own pid namespace and a read-only `/sys`, as
//! Mesos' `namespaces/pid` with `filesystem/linux` did. `ps` lists the task's processes only,
//! `/proc/self` works, no task can read another's environment, and a COMMAND health check that
//! uses `pgrep` passes. Needs root (CI runs as root).

use crate::support;

use drover_wire::v1;
use drover_wire::v1::TaskState;
use support::*;

fn read_stdout(agent: &AgentProcess, executor: &str) -> String {
    let sandbox = agent.sandbox(executor).expect("the sandbox");
    std::fs::read_to_string(sandbox.join("stdout")).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_sees_its_own_proc_and_a_read_only_sys() {
    assert!(
        is_root(),
        "pid and mount namespaces need root (CI runs as root)"
    );
    let master = FakeMaster::start(true).await;
    let agent = AgentProcess::start(&master, &["--isolation=namespaces/pid"]);
    master
        .wait_for("registration", LONG, |m| m.has_session())
        .await;
    let fw = framework("fw", false, false);
    // A neighbour with a secret in its environment.
    let mut neighbour = shell_task("neighbour", "sleep 600", 32.0);
    neighbour.command.as_mut().unwrap().environment = Some(v1::Environment {
        variables: vec![v1::environment::Variable {
            name: "NEIGHBOUR_SECRET".into(),
            value: Some("s3cr3t".into()),
            ..Default::default()
        }],
    });
    master.run_task(&fw, neighbour).await;
    master
        .wait_state("neighbour", TaskState::TaskRunning, LONG)
        .await;
    // Positive control: from the host, the neighbour's environment is readable.
    let neighbours = pids_with_env("NEIGHBOUR_SECRET=s3cr3t");
    assert!(
        !neighbours.is_empty(),
        "the neighbour's secret is in its environment"
    );
    let peek: String = neighbours
        .iter()
        .map(|pid| format!("cat /proc/{pid}/environ 2>/dev/null | tr '\\0' '\\n'; "))
        .collect();
    let probe = format!(
        "sleep 300 & \
         echo \"pids: $(ps -e -o pid= | wc -l)\"; \
         echo \"self: $(readlink /proc/self)\"; \
         echo \"init: $(cat /proc/1/comm)\"; \
         {peek}\
         echo \"sys: $(awk '$5 == \"/sys\" {{o = $6}} END {{print o}}' /proc/self/mountinfo)\"; \
         echo done"
    );
    master
        .run_task(&fw, shell_task("probe", &probe, 32.0))
        .await;
    master
        .wait_state("probe", TaskState::TaskFinished, LONG)
        .await;
    let out = read_stdout(&agent, "probe");
    assert!(out.contains("done"), "{out}");
    // The namespace's init, the command executor's shell and task, `sleep`, `ps`: a handful,
    // never the host's hundreds.
    let pids: usize = out
        .lines()
        .find_map(|l| l.strip_prefix("pids: "))
        .and_then(|n| n.trim().parse().ok())
        .expect("ps counted");
    assert!((2..=12).contains(&pids), "ps saw {pids} processes:\n{out}");
    assert!(
        out.lines().any(|l| l
            .strip_prefix("self: ")
            .is_some_and(|p| p.trim().parse::<u32>().is_ok())),
        "/proc/self resolves to a pid: {out}"
    );
    assert!(out.contains("init: drover-init"), "{out}");
    assert!(
        !out.contains("s3cr3t"),
        "another task's environment was readable:\n{out}"
    );
    // The mount on top (the last one listed at /sys) is what the task sees.
    let sys = out
        .lines()
        .find_map(|l| l.strip_prefix("sys: "))
        .unwrap_or_default();
    assert!(
        sys.split(',').any(|o| o == "ro"),
        "/sys is not read-only: {sys:?}\n{out}"
    );
    // The host's /proc is untouched (still the host's pid namespace).
    assert!(std::path::Path::new(&format!("/proc/{}", std::process::id())).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_health_check_using_pgrep_passes() {
    assert!(
        is_root(),
        "pid and mount namespaces need root (CI runs as root)"
    );
    let master = FakeMaster::start(true).await;
    let _agent = AgentProcess::start(&master, &["--isolation=namespaces/pid"]);
    master
        .wait_for("registration", LONG, |m| m.has_session())
        .await;
    let mut task = shell_task("checked", "exec sleep 600", 32.0);
    task.health_check = Some(v1::HealthCheck {
        r#type: Some(v1::health_check::Type::Command as i32),
        command: Some(v1::CommandInfo {
            value: Some("pgrep -x sleep".into()),
            shell: Some(true),
            ..Default::default()
        }),
        delay_seconds: Some(0.0),
        interval_seconds: Some(1.0),
        grace_period_seconds: Some(30.0),
        timeout_seconds: Some(5.0),
        consecutive_failures: Some(3),
        ..Default::default()
    });
    master.run_task(&framework("fw", false, false), task).await;
    let deadline = std::time::Instant::now() + LONG;
    loop {
        let healthy = master
            .updates()
            .iter()
            .any(|s| s.task_id.value == "checked" && s.healthy == Some(true));
        if healthy {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no healthy update: {:?}",
            master
                .updates()
                .iter()
                .map(|s| (
                    s.task_id.value.clone(),
                    s.state,
                    s.healthy,
                    s.message.clone()
                ))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
