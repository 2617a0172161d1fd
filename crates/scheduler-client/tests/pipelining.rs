//! The client keeps several calls in flight against a master that answers slowly, and keeps
//! the orders it promises (per task; barriers for REVIVE and the like).

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use drover_scheduler_client::{ClientEvent, Config, calls};
use drover_wire::v1;
use drover_wire::v1::scheduler::{Call, Event, call, event};
use prost::Message;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// One call the fake master answered: a label, when it arrived and when it was answered.
#[derive(Debug, Clone)]
struct Seen {
    label: String,
    start: Instant,
    end: Instant,
}

/// The open event streams (kept so they stay open).
type Streams = Arc<Mutex<Vec<mpsc::Sender<Result<Bytes, Infallible>>>>>;

#[derive(Clone)]
struct Master {
    delay: Duration,
    seen: Arc<Mutex<Vec<Seen>>>,
    streams: Streams,
}

fn label(call: &Call) -> String {
    let kind = call.r#type.and_then(|t| call::Type::try_from(t).ok());
    match kind {
        Some(call::Type::Acknowledge) => {
            let a = call.acknowledge.as_ref().unwrap();
            format!(
                "ack {} {}",
                a.task_id.value,
                String::from_utf8_lossy(&a.uuid)
            )
        }
        Some(call::Type::Kill) => format!("kill {}", call.kill.as_ref().unwrap().task_id.value),
        Some(call::Type::Accept) => {
            let accept = call.accept.as_ref().unwrap();
            format!("accept {}", accept.offer_ids[0].value)
        }
        Some(call::Type::Revive) => "revive".into(),
        other => format!("{other:?}"),
    }
}

async fn scheduler(State(master): State<Master>, body: Bytes) -> Response {
    let call = Call::decode(body).expect("a protobuf call");
    if call.r#type == Some(call::Type::Subscribe as i32) {
        let subscribed = Event {
            r#type: Some(event::Type::Subscribed as i32),
            subscribed: Some(event::Subscribed {
                framework_id: v1::FrameworkId { value: "fw".into() },
                heartbeat_interval_seconds: Some(15.0),
                ..Default::default()
            }),
            ..Default::default()
        };
        let (tx, rx) = mpsc::channel(16);
        tx.send(Ok(drover_wire::recordio::encode(
            &subscribed.encode_to_vec(),
        )))
        .await
        .unwrap();
        master.streams.lock().unwrap().push(tx);
        return Response::builder()
            .status(StatusCode::OK)
            .header("Content-Type", "application/x-protobuf")
            .header("Mesos-Stream-Id", "stream-1")
            .body(Body::from_stream(
                tokio_stream::wrappers::ReceiverStream::new(rx),
            ))
            .unwrap();
    }
    assert_eq!(
        call.framework_id.as_ref().map(|f| f.value.as_str()),
        Some("fw")
    );
    let start = Instant::now();
    tokio::time::sleep(master.delay).await;
    master.seen.lock().unwrap().push(Seen {
        label: label(&call),
        start,
        end: Instant::now(),
    });
    StatusCode::ACCEPTED.into_response()
}

async fn start_master(delay: Duration) -> (String, Master) {
    let master = Master {
        delay,
        seen: Arc::default(),
        streams: Arc::default(),
    };
    let app = axum::Router::new()
        .route("/api/v1/scheduler", axum::routing::post(scheduler))
        .with_state(master.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, master)
}

async fn connect(
    addr: &str,
    in_flight: usize,
) -> (mpsc::Sender<Call>, mpsc::Receiver<ClientEvent>) {
    let mut config = Config::new(addr, v1::FrameworkInfo::default());
    config.calls_in_flight_max = in_flight;
    let (tx, mut rx) = drover_scheduler_client::spawn(config);
    match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
        Ok(Some(ClientEvent::Subscribed { framework_id, .. })) => assert_eq!(framework_id, "fw"),
        other => panic!("not subscribed: {other:?}"),
    }
    (tx, rx)
}

async fn wait_for(master: &Master, n: usize) -> Vec<Seen> {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let seen = master.seen.lock().unwrap().clone();
        if seen.len() >= n {
            return seen;
        }
        assert!(
            Instant::now() < until,
            "only {} of {n} calls arrived",
            seen.len()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn find<'a>(seen: &'a [Seen], label: &str) -> &'a Seen {
    seen.iter()
        .find(|s| s.label == label)
        .unwrap_or_else(|| panic!("no {label} in {seen:?}"))
}

fn task(id: &str) -> v1::TaskInfo {
    v1::TaskInfo {
        task_id: v1::TaskId { value: id.into() },
        agent_id: v1::AgentId { value: "a1".into() },
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_about_different_tasks_are_in_flight_together() {
    let delay = Duration::from_millis(300);
    let (addr, master) = start_master(delay).await;
    let (client, _events) = connect(&addr, 32).await;
    for i in 0..24 {
        let uuid = b"u".to_vec();
        client
            .send(calls::acknowledge("a1", &format!("t{i}"), uuid))
            .await
            .unwrap();
    }
    let seen = wait_for(&master, 24).await;
    // How many calls the master was answering at once, at the busiest moment (one at a time
    // would be 1). Overlap, not elapsed time, so a loaded machine cannot make it flaky.
    let most = seen
        .iter()
        .map(|a| {
            seen.iter()
                .filter(|b| b.start <= a.start && a.start < b.end)
                .count()
        })
        .max()
        .unwrap_or(0);
    assert!(most >= 2, "never more than {most} call in flight: {seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_in_flight_sends_one_at_a_time() {
    let delay = Duration::from_millis(100);
    let (addr, master) = start_master(delay).await;
    let (client, _events) = connect(&addr, 1).await;
    for i in 0..4 {
        client
            .send(calls::acknowledge("a1", &format!("t{i}"), b"u".to_vec()))
            .await
            .unwrap();
    }
    let seen = wait_for(&master, 4).await;
    for pair in seen.windows(2) {
        assert!(pair[1].start >= pair[0].end, "overlap: {seen:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_task_calls_and_barriers_keep_their_order() {
    // Long enough that the unrelated acknowledgement starts while the ACCEPT is answered,
    // however loaded the machine.
    let delay = Duration::from_millis(500);
    let (addr, master) = start_master(delay).await;
    let (client, _events) = connect(&addr, 32).await;
    let sequence = vec![
        calls::launch("o1", vec![task("t1"), task("t2")]),
        calls::kill("t1", Some("a1")),
        calls::acknowledge("a1", "t3", b"1".to_vec()),
        calls::acknowledge("a1", "t3", b"2".to_vec()),
        calls::revive(),
        calls::acknowledge("a1", "t4", b"1".to_vec()),
    ];
    for call in sequence {
        client.send(call).await.unwrap();
    }
    let seen = wait_for(&master, 6).await;
    let accept = find(&seen, "accept o1");
    let kill = find(&seen, "kill t1");
    let ack3a = find(&seen, "ack t3 1");
    let ack3b = find(&seen, "ack t3 2");
    let revive = find(&seen, "revive");
    let ack4 = find(&seen, "ack t4 1");
    // An unrelated task's acknowledgement overtakes nothing it must not, but does not wait.
    assert!(ack3a.start < accept.end, "{seen:?}");
    // Per task: the KILL after the ACCEPT that launched it; acknowledgements in order.
    assert!(kill.start >= accept.end, "{seen:?}");
    assert!(ack3b.start >= ack3a.end, "{seen:?}");
    // REVIVE is a barrier: after everything before it, before everything after it.
    for earlier in [accept, kill, ack3a, ack3b] {
        assert!(revive.start >= earlier.end, "{seen:?}");
    }
    assert!(ack4.start >= revive.end, "{seen:?}");
}

#[test]
fn order_of_calls() {
    use drover_scheduler_client::{Order, order};
    assert_eq!(order(&calls::revive()), Order::Barrier);
    assert_eq!(order(&calls::suppress()), Order::Barrier);
    assert_eq!(order(&calls::reconcile(&[])), Order::Barrier);
    assert_eq!(
        order(&calls::kill("t1", None)),
        Order::Keys(vec!["t1".into()])
    );
    assert_eq!(
        order(&calls::launch("o1", vec![task("b"), task("a")])),
        Order::Keys(vec!["a".into(), "b".into()])
    );
    assert_eq!(
        order(&calls::decline(&["o1".into()], 5.0)),
        Order::Keys(vec!["offer:o1".into()])
    );
}
