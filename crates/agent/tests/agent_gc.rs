//! Sandbox garbage collection by the built `drover agent` against a scripted master (issue 18
//! item 2): the directories of an ended executor and framework are deleted after `--gc_delay`,
//! at once when the disk is fuller than `--gc_disk_headroom` allows, and those an earlier agent
//! process left are deleted by their age; a task that arrives for a framework whose directory
//! is being deleted ends TASK_LOST (TASK_DROPPED when partition-aware) with REASON_GC_ERROR
//! (seed 1, L113 and L129); nonsense GC flags are
//! refused at start; and deleting a sandbox never deletes through a mount in it.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use drover_wire::v1;
use drover_wire::v1::TaskState;
use drover_wire::v1::task_status::{Reason, Source};
use support::*;

/// The framework's directory under the agent's work dir (there is one agent id).
fn framework_dir(agent: &AgentProcess, framework: &str) -> Option<PathBuf> {
    let slaves = agent.work_dir.join("slaves");
    std::fs::read_dir(slaves)
        .ok()?
        .flatten()
        .map(|a| a.path().join("frameworks").join(framework))
        .find(|p| p.exists())
}

/// The first update of `task` that ends it (TASK_LOST, TASK_DROPPED or TASK_FINISHED).
async fn ended(master: &FakeMaster, task: &str) -> v1::TaskStatus {
    let deadline = Instant::now() + LONG;
    loop {
        let status = master.updates().into_iter().find(|s| {
            s.task_id.value == task
                && [
                    TaskState::TaskLost,
                    TaskState::TaskDropped,
                    TaskState::TaskFinished,
                ]
                .iter()
                .any(|state| s.state == *state as i32)
        });
        if let Some(status) = status {
            return status;
        }
        assert!(Instant::now() < deadline, "no end for {task}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn partition_aware(id: &str) -> v1::FrameworkInfo {
    let mut info = framework(id, false, false);
    info.capabilities.push(v1::framework_info::Capability {
        r#type: Some(v1::framework_info::capability::Type::PartitionAware as i32),
    });
    info
}

fn wait_gone(path: &Path, within: Duration) {
    let deadline = Instant::now() + within;
    while path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} still exists after {within:?}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn registered(master: &FakeMaster) {
    master
        .wait_for("registration", LONG, |m| m.has_session())
        .await;
}

/// Runs `task` of framework `fw` to TASK_FINISHED (the master acknowledges it, so the
/// executor and the framework end on the agent) and returns the framework's directory.
async fn finish(master: &FakeMaster, agent: &AgentProcess, fw: &str, task: &str) -> PathBuf {
    registered(master).await;
    master
        .run_task(&framework(fw, false, false), shell_task(task, "true", 32.0))
        .await;
    master.wait_state(task, TaskState::TaskFinished, LONG).await;
    framework_dir(agent, fw).expect("the framework's directory")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_frameworks_directories_are_deleted_after_the_gc_delay() {
    let master = FakeMaster::start(true).await;
    let agent = AgentProcess::start(&master, &["--gc_delay=2secs"]);
    let dir = finish(&master, &agent, "fw", "done").await;
    let sandbox = agent.sandbox("done").expect("the sandbox");
    assert!(
        sandbox.join("stdout").exists(),
        "the sandbox is kept at first"
    );
    wait_gone(&dir, LONG);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_deletes_at_once_whatever_the_delay() {
    let master = FakeMaster::start(true).await;
    // Headroom 1.0: no directory may be any age at any disk usage.
    let agent = AgentProcess::start(
        &master,
        &[
            "--gc_delay=1hrs",
            "--gc_disk_headroom=1.0",
            "--disk_watch_interval=200ms",
        ],
    );
    let dir = finish(&master, &agent, "fw", "done").await;
    wait_gone(&dir, LONG);
}

/// Leaves a run directory as an earlier agent process would have, last modified `age` ago.
fn stale_run(work_dir: &Path, agent_id: &str, age: Duration) -> PathBuf {
    let run = work_dir.join(format!("slaves/{agent_id}/frameworks/F/executors/E/runs/C"));
    std::fs::create_dir_all(&run).unwrap();
    std::fs::write(run.join("stdout"), "old output\n").unwrap();
    let when = SystemTime::now() - age;
    for dir in [
        run.clone(),
        run.parent().unwrap().parent().unwrap().to_path_buf(),
        work_dir.join(format!("slaves/{agent_id}/frameworks/F")),
    ] {
        std::fs::File::open(&dir)
            .unwrap()
            .set_modified(when)
            .unwrap();
    }
    work_dir.join(format!("slaves/{agent_id}/frameworks/F"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directories_an_earlier_agent_left_are_deleted_by_their_age() {
    let master = FakeMaster::start(true).await;
    let mut agent = AgentProcess::start(&master, &["--gc_delay=1hrs"]);
    registered(&master).await;
    agent.sigkill();
    let old = stale_run(&agent.work_dir, "OLD-S0", Duration::from_secs(2 * 3600));
    let recent = stale_run(&agent.work_dir, "RECENT-S0", Duration::from_secs(60));
    agent.spawn(&[]);
    wait_gone(&old, LONG);
    assert!(
        recent.join("executors/E/runs/C/stdout").exists(),
        "a directory younger than --gc_delay is kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_for_a_framework_whose_directory_is_being_deleted_is_gc_error() {
    let master = FakeMaster::start(true).await;
    let agent = AgentProcess::start(&master, &["--gc_delay=2secs"]);
    registered(&master).await;
    // The race is real: the deletion must still be under way when the next task arrives.
    // A framework directory of tens of thousands of files takes a while to delete, the next
    // task milliseconds to arrive; an attempt that loses the race anyway (the task runs) is
    // repeated with a new framework and twice the files, at most three times.
    for attempt in 1..=3u32 {
        let files_wanted: usize = 30_000 << (attempt - 1);
        let fw = format!("fw{attempt}");
        let hold = format!("hold{attempt}");
        master
            .run_task(
                &framework(&fw, false, false),
                shell_task(&hold, "sleep 600", 32.0),
            )
            .await;
        master.wait_state(&hold, TaskState::TaskRunning, LONG).await;
        // The bulk goes into the framework's directory from here, outside the task's cgroups.
        let files = framework_dir(&agent, &fw)
            .expect("the framework's directory")
            .join("bulk");
        std::fs::create_dir(&files).unwrap();
        // `touch` many names per call: one open(2) per file from here was 15 times slower.
        let made = Command::new("sh")
            .arg("-c")
            .arg(format!("seq 1 {files_wanted} | xargs touch"))
            .current_dir(&files)
            .status()
            .expect("running touch");
        assert!(made.success());
        assert_eq!(std::fs::read_dir(&files).unwrap().count(), files_wanted);
        master.kill_task(&fw, &hold, None).await;
        master.wait_state(&hold, TaskState::TaskKilled, LONG).await;
        // The deletion has begun once the first file is gone.
        let deadline = Instant::now() + LONG;
        loop {
            let left = std::fs::read_dir(&files).map_or(0, |d| d.count());
            if left < files_wanted {
                break;
            }
            assert!(Instant::now() < deadline, "the deletion never began");
            std::thread::sleep(Duration::from_millis(20));
        }
        // Two tasks right away: one as a plain framework, one as a partition-aware one.
        let next = format!("next{attempt}");
        let next_pa = format!("next-pa{attempt}");
        master
            .run_task(
                &framework(&fw, false, false),
                shell_task(&next, "true", 32.0),
            )
            .await;
        master
            .run_task(&partition_aware(&fw), shell_task(&next_pa, "true", 32.0))
            .await;
        let (lost, dropped) = (ended(&master, &next).await, ended(&master, &next_pa).await);
        if lost.state == TaskState::TaskFinished as i32
            || dropped.state == TaskState::TaskFinished as i32
        {
            eprintln!(
                "attempt {attempt}: the deletion of {files_wanted} files ended before the \
                 tasks arrived; again"
            );
            continue;
        }
        for (status, state) in [
            (&lost, TaskState::TaskLost),
            (&dropped, TaskState::TaskDropped),
        ] {
            assert_eq!(status.state, state as i32, "{status:?}");
            assert_eq!(status.reason, Some(Reason::GcError as i32), "{status:?}");
            assert_eq!(status.source, Some(Source::Agent as i32));
            let message = status.message.clone().unwrap_or_default();
            assert!(
                message.contains("garbage collection") && message.contains(&fw),
                "{message}"
            );
        }
        // Once the deletion is over, the framework's tasks run again.
        let dir = framework_dir(&agent, &fw);
        if let Some(dir) = dir {
            wait_gone(&dir, LONG);
        }
        let again = format!("again{attempt}");
        master
            .run_task(
                &framework(&fw, false, false),
                shell_task(&again, "true", 32.0),
            )
            .await;
        master
            .wait_state(&again, TaskState::TaskFinished, LONG)
            .await;
        return;
    }
    panic!("three attempts lost the race: the deletion never overlapped a launch");
}

#[test]
fn nonsense_gc_flags_are_refused_at_start() {
    for (flag, named) in [
        ("--gc_delay=0secs", "--gc_delay"),
        ("--gc_disk_headroom=1.5", "--gc_disk_headroom"),
        ("--gc_disk_headroom=-0.2", "--gc_disk_headroom"),
    ] {
        let work = tempfile::tempdir().unwrap();
        let out = Command::new(drover_bin())
            .arg("agent")
            .arg("--master=127.0.0.1:1")
            .arg(format!("--port={}", free_port()))
            .arg(format!("--work_dir={}", work.path().display()))
            .arg(flag)
            .stdin(Stdio::null())
            .output()
            .expect("running drover agent");
        assert!(!out.status.success(), "{flag} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(named), "{flag}: {stderr}");
    }
}

/// Unmounts on drop (also when the test fails), so the host keeps no mount of the test's.
struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// A sandbox holding a mount (a volume bound in the agent's own namespace, which Drover never
/// does, but someone may): the GC deletes everything around it and nothing through it; a
/// link to a volume is removed, not followed.
#[test]
fn deleting_a_sandbox_never_deletes_through_a_mount_or_a_link() {
    assert!(is_root(), "needs root to bind-mount (CI runs as root)");
    let work = tempfile::tempdir().unwrap();
    let work_dir = std::fs::canonicalize(work.path()).unwrap();
    let volume = work_dir.join("volumes/roles/db/v1");
    std::fs::create_dir_all(&volume).unwrap();
    std::fs::write(volume.join("data"), b"kept").unwrap();
    let sandbox = work_dir.join("slaves/S/frameworks/F/executors/E/runs/C");
    std::fs::create_dir_all(sandbox.join("deep/mounted")).unwrap();
    std::fs::write(sandbox.join("stdout"), b"out").unwrap();
    std::fs::write(sandbox.join("deep/file"), b"x").unwrap();
    std::os::unix::fs::symlink(&volume, sandbox.join("linked")).unwrap();
    nix::mount::mount(
        Some(&volume),
        &sandbox.join("deep/mounted"),
        None::<&str>,
        nix::mount::MsFlags::MS_BIND,
        None::<&str>,
    )
    .expect("bind mount");
    let mounted = Unmount(sandbox.join("deep/mounted"));
    let framework = work_dir.join("slaves/S/frameworks/F");
    drover_agent::gc::remove_directories(&work_dir, &[framework.display().to_string()]);
    // The mount point and its parents stay, everything else went; the volume is whole.
    assert!(sandbox.join("deep/mounted/data").exists());
    assert!(!sandbox.join("stdout").exists());
    assert!(!sandbox.join("deep/file").exists());
    assert!(!sandbox.join("linked").exists());
    assert_eq!(std::fs::read(volume.join("data")).unwrap(), b"kept");
    drop(mounted);
    // Once unmounted (the container's namespace gone) it is an empty directory, deleted.
    drover_agent::gc::remove_directories(&work_dir, &[framework.display().to_string()]);
    assert!(!framework.exists());
    assert_eq!(std::fs::read(volume.join("data")).unwrap(), b"kept");
}
