//! A private ZooKeeper server for tests (feature `testing`): Debian's `zookeeper` package
//! (`scripts/setup` installs it) started standalone on a free loopback port with its own temp
//! data dir and `4lw.commands.whitelist=*`, stopped when dropped. Never the machine's service.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Jars of Debian's ZooKeeper 3.8 server and what it loads at start.
const JARS: &[&str] = &[
    "zookeeper.jar",
    "zookeeper-jute.jar",
    "slf4j-api.jar",
    "slf4j-simple.jar",
    "netty-handler.jar",
    "netty-common.jar",
    "netty-transport.jar",
    "netty-buffer.jar",
    "netty-codec.jar",
    "netty-resolver.jar",
    "netty-transport-native-epoll.jar",
    "netty-transport-native-unix-common.jar",
    "metrics-core.jar",
    "commons-cli.jar",
];

/// A running standalone ZooKeeper.
#[derive(Debug)]
pub struct ZooKeeperServer {
    child: Child,
    stopped: bool,
    /// Its client address (`127.0.0.1:<port>` unless started on another address).
    pub address: SocketAddr,
    _dir: tempfile::TempDir,
}

impl ZooKeeperServer {
    /// Starts one and waits until it answers `ruok`. Panics (this is test set-up) with what is
    /// missing when the package is not installed.
    pub fn start() -> ZooKeeperServer {
        ZooKeeperServer::start_with_heap_mb(256)
    }

    /// [`start`](Self::start) with `heap_mb` of Java heap: a server holding 100,000 records (a
    /// benchmark's) needs more than a test's 256 MiB.
    pub fn start_with_heap_mb(heap_mb: u32) -> ZooKeeperServer {
        ZooKeeperServer::start_on(std::net::IpAddr::from([127, 0, 0, 1]), heap_mb)
    }

    /// [`start_with_heap_mb`](Self::start_with_heap_mb) listening on `ip` instead of
    /// loopback: the soak's agents, each in its own network namespace, reach it on the
    /// bridge's address.
    pub fn start_on(ip: std::net::IpAddr, heap_mb: u32) -> ZooKeeperServer {
        let java_dir = Path::new("/usr/share/java");
        assert!(
            java_dir.join("zookeeper.jar").exists(),
            "ZooKeeper is not installed: run scripts/setup (Debian package `zookeeper`)"
        );
        let classpath: Vec<String> = JARS
            .iter()
            .map(|jar| java_dir.join(jar))
            .filter(|jar| jar.exists())
            .map(|jar| jar.display().to_string())
            .collect();
        let dir = tempfile::tempdir().expect("temp dir for ZooKeeper");
        let port = TcpListener::bind((ip, 0))
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let config = dir.path().join("zoo.cfg");
        std::fs::write(
            &config,
            format!(
                "tickTime=500\n\
                 minSessionTimeout=1000\n\
                 dataDir={}\n\
                 clientPort={port}\n\
                 clientPortAddress={ip}\n\
                 4lw.commands.whitelist=*\n\
                 admin.enableServer=false\n",
                dir.path().join("data").display()
            ),
        )
        .expect("write zoo.cfg");
        let log = std::fs::File::create(dir.path().join("zookeeper.log")).expect("log file");
        // A server shared through a `static` is never dropped, so a small shell watches the
        // test process and stops the server when it is gone; [`stop`](Self::stop) sends it
        // SIGTERM, on which it stops java and waits for it.
        let script = r#"java -Xmx"$4"m -cp "$1" org.apache.zookeeper.server.quorum.QuorumPeerMain "$2" &
java=$!
trap 'kill $java 2>/dev/null; exit 0' TERM INT
while kill -0 "$3" 2>/dev/null && kill -0 $java 2>/dev/null; do sleep 1; done
kill $java 2>/dev/null
wait $java"#;
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("zookeeper")
            .arg(classpath.join(":"))
            .arg(&config)
            .arg(std::process::id().to_string())
            .arg(heap_mb.to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start ZooKeeper");
        let address = SocketAddr::from((ip, port));
        let server = ZooKeeperServer {
            child,
            stopped: false,
            address,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while server.four_letter("ruok").as_deref() != Some("imok") {
            assert!(
                Instant::now() < deadline,
                "ZooKeeper did not start within 60 s; its log: {}",
                std::fs::read_to_string(server._dir.path().join("zookeeper.log"))
                    .unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    /// The server's log file (for failure messages).
    pub fn log_path(&self) -> std::path::PathBuf {
        self._dir.path().join("zookeeper.log")
    }

    /// `zk://<address><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("zk://{}{path}", self.address)
    }

    /// Sends a four-letter command and returns the answer, if any.
    pub fn four_letter(&self, command: &str) -> Option<String> {
        let mut stream =
            TcpStream::connect_timeout(&self.address, Duration::from_millis(500)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        stream.write_all(command.as_bytes()).ok()?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).ok()?;
        Some(answer)
    }
}

impl ZooKeeperServer {
    /// Kills the server (its sessions then see no answers).
    pub fn stop(&mut self) {
        if std::mem::replace(&mut self.stopped, true) {
            return;
        }
        // SIGTERM to the watcher, which kills java and waits for it.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for ZooKeeperServer {
    fn drop(&mut self) {
        self.stop();
    }
}
