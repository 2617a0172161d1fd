//! The ZooKeeper coordinator against a real ZooKeeper (one per test binary): election order,
//! leader observation, fenced writes that fail once the writer's membership is gone, local
//! session expiry, the MasterInfo layout pymesos and Mesos read, and the leader's store (a
//! standby's warm copy used only while nothing was committed since its load).

use std::sync::OnceLock;
use std::time::Duration;

use drover_coord::testing::ZooKeeperServer;
use drover_coord::{
    CoordError, Coordinator, MESOS_MASTER_LABEL, Observed, Session, WriteOp, ZkCoordinator, ZkUrl,
};

fn server() -> &'static ZooKeeperServer {
    static SERVER: OnceLock<ZooKeeperServer> = OnceLock::new();
    SERVER.get_or_init(ZooKeeperServer::start)
}

async fn session(path: &str) -> ZkCoordinator {
    let url = ZkUrl::parse(&server().url(path)).expect("url");
    ZkCoordinator::connect(&url, Duration::from_secs(4), Duration::from_secs(10))
        .await
        .expect("connects")
}

async fn wait_leader(seen: &mut tokio::sync::watch::Receiver<Observed>, data: &[u8]) {
    tokio::time::timeout(
        Duration::from_secs(20),
        seen.wait_for(|o| o.leader().map(|m| m.data.as_slice()) == Some(data)),
    )
    .await
    .expect("leader within 20 s")
    .expect("observer alive");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lowest_member_leads_and_the_next_takes_over_when_it_leaves() {
    let a = session("/t1").await;
    let b = session("/t1").await;
    let observer = session("/t1").await;
    let ma = a
        .join("/t1", MESOS_MASTER_LABEL, b"a".to_vec())
        .await
        .expect("a joins");
    let mb = b
        .join("/t1", MESOS_MASTER_LABEL, b"b".to_vec())
        .await
        .expect("b joins");
    assert!(ma.sequence < mb.sequence, "{ma:?} {mb:?}");
    assert!(ma.path.starts_with("/t1/json.info_") && ma.path.len() == "/t1/json.info_".len() + 10);
    let mut seen = observer.observe("/t1", MESOS_MASTER_LABEL);
    wait_leader(&mut seen, b"a").await;
    assert_eq!(
        observer.children("/t1").await.expect("lists").len(),
        2,
        "nothing but members under the group"
    );
    drop(a);
    wait_leader(&mut seen, b"b").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deposed_member_cannot_write() {
    let a = session("/t2").await;
    let other = session("/t2").await;
    let ma = a
        .join("/t2", MESOS_MASTER_LABEL, b"a".to_vec())
        .await
        .expect("joins");
    a.fenced_write(
        &ma,
        vec![WriteOp::Create {
            path: "/t2-data".into(),
            data: b"1".to_vec(),
        }],
    )
    .await
    .expect("the member writes");
    assert_eq!(
        other.read("/t2-data").await.expect("reads"),
        Some(b"1".to_vec())
    );
    // Someone else removes the member's node, as the server does when its session expires
    // while the process is paused: the next write must fail and change nothing.
    let mo = other
        .join("/t2", MESOS_MASTER_LABEL, b"o".to_vec())
        .await
        .expect("joins");
    other
        .fenced_write(
            &mo,
            vec![WriteOp::Delete {
                path: ma.path.clone(),
            }],
        )
        .await
        .expect("removes a's node");
    let write = a
        .fenced_write(
            &ma,
            vec![WriteOp::Set {
                path: "/t2-data".into(),
                data: b"2".to_vec(),
            }],
        )
        .await;
    assert!(matches!(write, Err(CoordError::Fenced(_))), "{write:?}");
    assert_eq!(
        other.read("/t2-data").await.expect("reads"),
        Some(b"1".to_vec())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_ensemble_is_a_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let url = ZkUrl::parse(&format!("zk://127.0.0.1:{port}/x")).expect("url");
    let error = ZkCoordinator::connect(&url, Duration::from_secs(4), Duration::from_secs(2))
        .await
        .expect_err("nothing listens there");
    assert!(
        error.to_string().contains(&format!("127.0.0.1:{port}")),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_is_lost_when_the_server_stops_answering() {
    // A server of its own, so stopping it does not disturb the other tests.
    let mut own = ZooKeeperServer::start();
    let url = ZkUrl::parse(&own.url("/t3")).expect("url");
    let a = ZkCoordinator::connect(&url, Duration::from_secs(2), Duration::from_secs(10))
        .await
        .expect("connects");
    let ma = a
        .join("/t3", MESOS_MASTER_LABEL, b"a".to_vec())
        .await
        .expect("joins");
    let mut session = a.session();
    let started = std::time::Instant::now();
    own.stop();
    tokio::time::timeout(
        Duration::from_secs(10),
        session.wait_for(|s| matches!(s, Session::Lost(_))),
    )
    .await
    .expect("lost within the timeout and a margin")
    .expect("watch alive");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    let write = a.fenced_write(&ma, vec![]).await;
    assert!(matches!(write, Err(CoordError::Fenced(_))), "{write:?}");
}

/// The leader's store in ZooKeeper: a batch far over ZooKeeper's 1 MiB request limit commits
/// whole, 10,000 keys spread over buckets load back in the next leader's store, and a
/// deposed leader's commit is refused without changing the tree.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leaders_store_survives_into_the_next_leader_and_fences_the_old_one() {
    use drover_store::{Store, StoreError, WriteBatch};
    use std::sync::Arc;
    let a: Arc<dyn Coordinator> = Arc::new(session("/t-store").await);
    let ma = a
        .join("/t-store/leader", "member_", b"a".to_vec())
        .await
        .expect("a joins");
    let ma_path = ma.path.clone();
    let store = drover_coord::CoordStore::open(a.clone(), ma, "/t-store/state")
        .await
        .expect("opens");
    let mut batch = WriteBatch::new();
    for n in 0..10_000 {
        batch.put(
            "marathon",
            format!("instance//app/web.{n:05}"),
            vec![b'i'; 300],
        );
    }
    // ~3 MB in one batch: logged in chunks, committed by its marker, applied.
    store.commit(batch).expect("a large batch commits");
    let mut batch = WriteBatch::new();
    batch.put("marathon", "app//web", b"{\"id\":\"/web\"}".to_vec());
    batch.delete("marathon", "instance//app/web.00000");
    store.commit(batch).expect("a small batch commits");

    // b joins second; a's node is removed as the server does when a's session expires while
    // it is paused, so b leads and loads what a committed.
    let b: Arc<dyn Coordinator> = Arc::new(session("/t-store").await);
    let mb = b
        .join("/t-store/leader", "member_", b"b".to_vec())
        .await
        .expect("b joins");
    b.fenced_write(
        &mb,
        vec![WriteOp::Delete {
            path: ma_path.clone(),
        }],
    )
    .await
    .expect("removes a's node");
    let next = drover_coord::CoordStore::open(b.clone(), mb.clone(), "/t-store/state")
        .await
        .expect("b opens");
    assert_eq!(
        next.scan("marathon", b"instance/").expect("scan").len(),
        9_999
    );
    assert_eq!(
        next.get("marathon", b"app//web").expect("get"),
        Some(b"{\"id\":\"/web\"}".to_vec())
    );
    assert_eq!(next.meta().expect("meta").revision, 2);
    // Every bucket stays small.
    for bucket in b
        .children("/t-store/state/marathon")
        .await
        .expect("buckets")
    {
        let keys = b
            .children(&format!("/t-store/state/marathon/{bucket}"))
            .await
            .expect("keys");
        assert!(keys.len() < 200, "bucket {bucket} has {} keys", keys.len());
    }
    // The old leader, deposed, can no longer write through its store.
    let mut batch = WriteBatch::new();
    batch.put("marathon", "app//web", b"stale".to_vec());
    let error = store
        .commit(batch)
        .expect_err("the deposed leader is fenced");
    assert!(
        matches!(error, StoreError::Fenced { .. } | StoreError::Engine { .. }),
        "{error:?}"
    );
    let reread = drover_coord::CoordStore::open(b.clone(), mb, "/t-store/state")
        .await
        .expect("b reopens");
    assert_eq!(
        reread.get("marathon", b"app//web").expect("get"),
        Some(b"{\"id\":\"/web\"}".to_vec()),
        "the deposed leader's write changed nothing"
    );
}

/// A leader `a` with a store at `root` holding `keys` agents (revision 1), and a second
/// session `b` joined after it.
async fn leader_and_standby(
    group: &str,
    root: &str,
    keys: usize,
) -> (
    std::sync::Arc<dyn Coordinator>,
    drover_coord::Membership,
    drover_coord::CoordStore,
    std::sync::Arc<dyn Coordinator>,
    drover_coord::Membership,
) {
    use drover_store::{Store, WriteBatch};
    use std::sync::Arc;
    let a: Arc<dyn Coordinator> = Arc::new(session(group).await);
    let ma = a
        .join(group, "member_", b"a".to_vec())
        .await
        .expect("a joins");
    let store = drover_coord::CoordStore::open(a.clone(), ma.clone(), root)
        .await
        .expect("opens");
    let mut batch = WriteBatch::new();
    for n in 0..keys {
        batch.put("registry", format!("agent/{n:05}"), b"v1".to_vec());
    }
    store.commit(batch).expect("commits");
    let b: Arc<dyn Coordinator> = Arc::new(session(group).await);
    let mb = b
        .join(group, "member_", b"b".to_vec())
        .await
        .expect("b joins");
    (a, ma, store, b, mb)
}

async fn wait_revision(standby: &drover_coord::Standby, revision: u64) {
    tokio::time::timeout(
        Duration::from_secs(30),
        standby.revision().wait_for(|r| *r == Some(revision)),
    )
    .await
    .unwrap_or_else(|_| panic!("the standby's copy reaches revision {revision} within 30 s"))
    .expect("standby alive");
}

/// A standby keeps its copy of the leader's store current while it follows (it re-loads
/// after each commit), and once elected with nothing committed since its last load, the store
/// it opens starts from that copy, which holds the leader's last write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_elected_standby_starts_from_its_copy_when_nothing_was_committed_since() {
    use drover_store::{Store, WriteBatch};
    let root = "/t-warm/state";
    let (_a, ma, store, b, mb) = leader_and_standby("/t-warm/leader", root, 500).await;
    let pacing = drover_coord::StandbyPacing {
        poll: Duration::from_millis(20),
        gap: Duration::from_millis(20),
        stale_max: Duration::from_millis(200),
    };
    let standby = drover_coord::Standby::start(b.clone(), root, pacing);
    wait_revision(&standby, 1).await;
    let mut batch = WriteBatch::new();
    batch.put("registry", "agent/00007", b"v2".to_vec());
    batch.delete("registry", "agent/00008");
    store.commit(batch).expect("commits");
    wait_revision(&standby, 2).await;
    // a is deposed (its node removed, as when its session expires): b leads.
    b.fenced_write(&mb, vec![WriteOp::Delete { path: ma.path }])
        .await
        .expect("removes a's node");
    let loads = standby.loads();
    let copy = standby.take().await;
    let next = drover_coord::CoordStore::open_warm(b.clone(), mb, root, copy)
        .await
        .expect("b opens");
    assert!(next.used_warm_copy(), "the copy was current");
    assert!(loads >= 2, "{loads} loads");
    assert_eq!(next.meta().expect("meta").revision, 2);
    assert_eq!(
        next.get("registry", b"agent/00007").expect("get"),
        Some(b"v2".to_vec())
    );
    assert_eq!(next.get("registry", b"agent/00008").expect("get"), None);
    assert_eq!(next.scan("registry", b"agent/").expect("scan").len(), 499);
    // The next leader's commits build on the copy.
    let mut batch = WriteBatch::new();
    batch.put("registry", "agent/00009", b"v3".to_vec());
    assert_eq!(next.commit(batch).expect("b commits").revision, 3);
}

/// A leader's commit after the standby's last load is not lost: the elected standby finds
/// `_meta` changed, does not use its copy, and reads every key, the last write included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_after_the_standbys_load_reaches_the_elected_standby() {
    use drover_store::{Store, WriteBatch};
    let root = "/t-stale/state";
    let (_a, ma, store, b, mb) = leader_and_standby("/t-stale/leader", root, 500).await;
    // One load, then no poll for an hour: the copy stays at revision 1.
    let pacing = drover_coord::StandbyPacing {
        poll: Duration::from_secs(3600),
        gap: Duration::from_secs(3600),
        stale_max: Duration::from_secs(3600),
    };
    let standby = drover_coord::Standby::start(b.clone(), root, pacing);
    wait_revision(&standby, 1).await;
    let mut batch = WriteBatch::new();
    batch.put("registry", "agent/00007", b"acknowledged".to_vec());
    store.commit(batch).expect("commits");
    b.fenced_write(&mb, vec![WriteOp::Delete { path: ma.path }])
        .await
        .expect("removes a's node");
    let copy = standby.take().await.expect("a copy");
    assert_eq!(copy.revision(), 1, "the copy predates the commit");
    let next = drover_coord::CoordStore::open_warm(b.clone(), mb, root, Some(copy))
        .await
        .expect("b opens");
    assert!(!next.used_warm_copy(), "a stale copy is never used");
    assert_eq!(next.meta().expect("meta").revision, 2);
    assert_eq!(
        next.get("registry", b"agent/00007").expect("get"),
        Some(b"acknowledged".to_vec())
    );
    assert_eq!(next.scan("registry", b"agent/").expect("scan").len(), 500);
}
