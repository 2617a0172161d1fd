//! A private dockerd for the DOCKER scenario (issue 13): its own data root, exec root, unix
//! socket and pid file under the run's temp dir, no bridge and no iptables changes, its
//! containers' cgroups under a parent of its own; and a busybox image made by `docker import`
//! of a busybox-static layer, so no registry is needed. [`Dockerd::shutdown`] (also on drop)
//! removes every container, stops the daemon and its containerd, unmounts what it left and
//! removes its directory and cgroups. (The same approach as
//! `crates/agent/tests/support/dockerd.rs`, which is test code and not importable.)

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// The image [`Dockerd::import_busybox`] makes.
pub const IMAGE: &str = "drover-bench/busybox:1";

/// A running private dockerd.
#[derive(Debug)]
pub struct Dockerd {
    child: Option<Child>,
    dir: PathBuf,
    /// The cgroup (in every hierarchy) its containers' cgroups are made under.
    pub cgroup_parent: String,
}

impl Dockerd {
    /// Starts dockerd in `dir` (keep it short: unix socket paths are limited to 108 bytes) and
    /// waits until it answers. An error says why it could not start (not installed, not root,
    /// its log).
    pub async fn start(dir: &Path) -> anyhow::Result<Dockerd> {
        std::fs::create_dir_all(dir)?;
        let cgroup_parent = format!("drover-bench-docker-{}", std::process::id());
        let log = dir.join("dockerd.log");
        let out = std::fs::File::create(&log)?;
        let child = Command::new("dockerd")
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("-H")
            .arg(format!("unix://{}", dir.join("docker.sock").display()))
            .arg("--pidfile")
            .arg(dir.join("docker.pid"))
            .arg(format!("--cgroup-parent=/{cgroup_parent}"))
            .args([
                "--bridge=none",
                "--iptables=false",
                "--ip-masq=false",
                "--ip6tables=false",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(out)
            .spawn()
            .context("starting dockerd (Debian's docker.io; scripts/setup installs it)")?;
        let mut daemon = Dockerd {
            child: Some(child),
            dir: dir.to_owned(),
            cgroup_parent,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if daemon.cli(&["version"]).await.is_ok() {
                return Ok(daemon);
            }
            let exited = daemon
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || Instant::now() > deadline {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(5).collect();
                daemon.shutdown();
                bail!(
                    "dockerd {}: {}",
                    match exited {
                        Some(status) => format!("exited ({status})"),
                        None => "did not answer within 60 s".to_owned(),
                    },
                    tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The daemon's socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.join("docker.sock")
    }

    /// `unix://<socket>`, for `docker -H`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// Runs the docker CLI against this daemon; its stdout, or an error with its stderr.
    pub async fn cli(&self, args: &[&str]) -> anyhow::Result<String> {
        let output = tokio::process::Command::new("docker")
            .arg("-H")
            .arg(self.host())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .await
            .context("running the docker CLI")?;
        anyhow::ensure!(
            output.status.success(),
            "docker {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// `docker import` of a busybox-static layer (with its applets) as [`IMAGE`].
    pub async fn import_busybox(&self) -> anyhow::Result<()> {
        use tokio::io::AsyncWriteExt;
        let layer = crate::registry::busybox_layer()?;
        let mut import = tokio::process::Command::new("docker")
            .arg("-H")
            .arg(self.host())
            .args(["import", "-", IMAGE])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("running docker import")?;
        let mut stdin = import.stdin.take().context("docker import's stdin")?;
        stdin.write_all(&layer).await?;
        drop(stdin);
        let output = import.wait_with_output().await?;
        anyhow::ensure!(
            output.status.success(),
            "docker import: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
        Ok(())
    }

    /// Removes every container of this daemon (`docker rm -f`).
    pub async fn remove_all(&self) -> anyhow::Result<()> {
        let ids = self.cli(&["ps", "-aq"]).await?;
        let ids: Vec<&str> = ids.split_whitespace().collect();
        for chunk in ids.chunks(100) {
            let mut args = vec!["rm", "-f"];
            args.extend(chunk);
            self.cli(&args).await?;
        }
        Ok(())
    }

    /// Stops the daemon (SIGTERM, SIGKILL after 60 s), kills whatever containerd shims are
    /// left of it, unmounts what it left under its directory, removes the directory and its
    /// cgroups. Idempotent; blocking (seconds).
    pub fn shutdown(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(60);
        while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        // Shims (and their containers) of a daemon that had to be killed: anything whose
        // command line names our directory.
        let dir = self.dir.to_string_lossy().into_owned();
        for _ in 0..50 {
            let left: Vec<i32> = std::fs::read_dir("/proc")
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
                .filter(|pid| {
                    std::fs::read(format!("/proc/{pid}/cmdline"))
                        .is_ok_and(|c| String::from_utf8_lossy(&c).contains(dir.as_str()))
                })
                .collect();
            if left.is_empty() {
                break;
            }
            for pid in left {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        crate::procs::unmount_under(&self.dir);
        let _ = std::fs::remove_dir_all(&self.dir);
        for _ in 0..100 {
            if crate::procs::remove_cgroups(&self.cgroup_parent) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        self.shutdown();
    }
}
