//! Instances of one server sharing their stores and an event bus, in one
//! process (the Redis tests do the same with processes): a legacy
//! session's messages, answers and cancellations reach whichever instance
//! needs them, and changes reach subscribers on every instance.

use std::sync::Arc;
use std::time::Duration;

use mcp_server::bus::{EventBus as _, MemoryBus};
use mcp_server::http::{HttpOptions, StreamableHttp};
use mcp_server::store::{MemoryEventStore, MemorySessionStore};
use mcp_server::{Server, ServerOptions, StateKey};
use serde_json::{Value, json};

use crate::http_sessions::{Raw, listen_request, progress_of, read_to_end, read_until};
use crate::support::{serve_endpoint, test_router};

/// A bound on each wait, so a lost message fails the test.
const PATIENCE: Duration = Duration::from_secs(20);

/// Instances sharing memory stores, a bus and a state key.
struct Cluster {
    urls: Vec<String>,
    /// What they say to each other.
    bus: Arc<MemoryBus>,
    _tasks: Vec<tokio::task::JoinHandle<Result<(), String>>>,
}

/// `n` instances of one server, serving.
async fn cluster(n: usize, http: &HttpOptions) -> Cluster {
    let store = Arc::new(MemorySessionStore::new(100, Duration::from_secs(60)));
    let events = Arc::new(MemoryEventStore::default());
    let bus = Arc::new(MemoryBus::new());
    let key = StateKey::random();
    let mut urls = Vec::new();
    let mut tasks = Vec::new();
    for _ in 0..n {
        let mut options = ServerOptions::default();
        options.state_key = key.clone();
        let endpoint = StreamableHttp::with_stores(
            Server::with_options(test_router().0, options),
            http.clone(),
            store.clone(),
            events.clone(),
        )
        .with_bus(bus.clone());
        let (url, task) = serve_endpoint(endpoint, std::future::pending()).await;
        urls.push(url);
        tasks.push(task);
    }
    Cluster {
        urls,
        bus,
        _tasks: tasks,
    }
}

/// A 2025-11-25 session opened at `url`, declaring elicitation.
async fn open(url: &str) -> Raw {
    let elicits = json!({"elicitation": {}});
    Raw::open_declaring(reqwest::Client::new(), url, "2025-11-25", elicits).await
}

/// The same session, its requests sent to `url`.
fn at(raw: &Raw, url: &str) -> Raw {
    Raw {
        url: url.to_owned(),
        ..raw.clone()
    }
}

async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, f)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

/// Cancels request `id` of the session, through the instance it names.
async fn cancel(session: &Raw, id: u64) {
    let cancel = json!({
        "jsonrpc": "2.0", "method": "notifications/cancelled",
        "params": {"requestId": id, "reason": "enough"}
    });
    let sent = session.post(&cancel, "application/json").send().await;
    assert_eq!(sent.unwrap().status(), 202);
}

fn count(id: u64, to: u32, delay_ms: u64) -> Value {
    json!({
        "jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {
            "name": "count", "arguments": {"to": to, "delay_ms": delay_ms},
            "_meta": {"progressToken": "p"}
        }
    })
}

/// Starts `call` (request `id`, with progress) on `maker`, reads its
/// first progress there, breaks that connection, and resumes the stream
/// on `follower`: the resumed response.
async fn resumed_elsewhere(
    session: &Raw,
    maker: &str,
    follower: &str,
    call: &Value,
) -> reqwest::Response {
    let mut first = at(session, maker)
        .post(call, "text/event-stream")
        .send()
        .await
        .unwrap();
    let read = within(
        "progress where the call runs",
        read_until(&mut first, |d| d["params"]["progress"] == 1.0),
    )
    .await;
    let last = read.last().unwrap().id.clone().unwrap();
    drop(first);
    let resumed = at(session, follower)
        .get()
        .header("last-event-id", &last)
        .send()
        .await
        .unwrap();
    assert_eq!(resumed.status(), 200);
    resumed
}

#[tokio::test]
async fn a_stream_made_on_one_instance_resumes_on_another_and_follows_live() {
    let cluster = cluster(3, &HttpOptions::default()).await;
    let urls = &cluster.urls;
    let session = open(&urls[0]).await;
    // The rest from C, while B goes on counting: each event once.
    let mut resumed = resumed_elsewhere(&session, &urls[1], &urls[2], &count(7, 6, 100)).await;
    let rest = within("the rest on C", read_until(&mut resumed, |d| d["id"] == 7)).await;
    assert_eq!(progress_of(&rest), [2.0, 3.0, 4.0, 5.0, 6.0], "{rest:?}");
    assert_eq!(
        rest.last().unwrap().json["result"]["content"][0]["text"],
        "counted to 6"
    );
    // The stream is complete: its body ends.
    let tail = within("the end of the body", resumed.chunk())
        .await
        .unwrap();
    assert!(tail.is_none(), "{tail:?}");
}

#[tokio::test]
async fn an_elicitation_asked_on_one_instance_is_answered_through_another() {
    let cluster = cluster(3, &HttpOptions::default()).await;
    let urls = &cluster.urls;
    let session = open(&urls[0]).await;
    let greet = json!({
        "jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {"name": "greet", "arguments": {}}
    });
    let mut on_b = at(&session, &urls[1])
        .post(&greet, "text/event-stream")
        .send()
        .await
        .unwrap();
    let asked = within(
        "the elicitation",
        read_until(&mut on_b, |d| d["method"] == "elicitation/create"),
    )
    .await;
    let request = &asked.last().unwrap().json;
    let answer = json!({
        "jsonrpc": "2.0", "id": request["id"],
        "result": {"action": "accept", "content": {"name": "Ada"}}
    });
    let sent = at(&session, &urls[2])
        .post(&answer, "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 202);
    let done = within("the greeting", read_until(&mut on_b, |d| d["id"] == 3)).await;
    assert_eq!(
        done.last().unwrap().json["result"]["content"][0]["text"],
        "Hello, Ada!"
    );
}

#[tokio::test]
async fn a_cancellation_sent_to_another_instance_stops_the_request() {
    let cluster = cluster(2, &HttpOptions::default()).await;
    let urls = &cluster.urls;
    let session = open(&urls[0]).await;
    let mut running = at(&session, &urls[1])
        .post(&count(9, 100, 1000), "text/event-stream")
        .send()
        .await
        .unwrap();
    within(
        "progress",
        read_until(&mut running, |d| d["params"]["progress"] == 1.0),
    )
    .await;
    cancel(&session, 9).await;
    // The request stops: its stream ends without an answer.
    let rest = within("the stream's end", read_to_end(&mut running)).await;
    assert!(!rest.contains("\"result\""), "{rest}");
    session.echoes("still here").await;
}

#[tokio::test]
async fn changes_made_on_one_instance_reach_subscribers_on_another() {
    let cluster = cluster(3, &HttpOptions::default()).await;
    let urls = &cluster.urls;
    // A legacy subscriber with its stream on A…
    let session = open(&urls[0]).await;
    let subscribe = json!({
        "jsonrpc": "2.0", "id": 1, "method": "resources/subscribe",
        "params": {"uri": "memo://notes/plan"}
    });
    // …subscribed through B…
    let subscribed = at(&session, &urls[1])
        .post(&subscribe, "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(subscribed.status(), 200);
    let mut stream = session.get().send().await.unwrap();
    assert_eq!(stream.status(), 200);
    // …and a 2026-07-28 listen stream on A.
    let mut listening = listen_request(&reqwest::Client::new(), &urls[0], "memo://notes/plan")
        .send()
        .await
        .unwrap();
    assert_eq!(listening.status(), 200);
    within(
        "the acknowledgement",
        read_until(&mut listening, |d| {
            d["method"] == "notifications/subscriptions/acknowledged"
        }),
    )
    .await;
    // The note is saved by a tool call on C.
    let save = json!({
        "jsonrpc": "2.0", "id": 4, "method": "tools/call",
        "params": {"name": "save_note", "arguments": {"name": "plan", "text": "ship"}}
    });
    let saved = at(&session, &urls[2])
        .post(&save, "application/json")
        .send()
        .await
        .unwrap();
    assert!(
        saved
            .text()
            .await
            .unwrap()
            .contains("saved memo://notes/plan")
    );
    let updated = |d: &Value| {
        d["method"] == "notifications/resources/updated"
            && d["params"]["uri"] == "memo://notes/plan"
    };
    within("the legacy update", read_until(&mut stream, updated)).await;
    within(
        "the listen stream's update",
        read_until(&mut listening, updated),
    )
    .await;
}

#[tokio::test]
async fn a_stream_followed_elsewhere_ends_when_its_request_is_cancelled() {
    let cluster = cluster(3, &HttpOptions::default()).await;
    let urls = &cluster.urls;
    let session = open(&urls[0]).await;
    let mut followed = resumed_elsewhere(&session, &urls[1], &urls[2], &count(5, 100, 200)).await;
    within(
        "progress on C",
        read_until(&mut followed, |d| d["params"]["progress"] == 2.0),
    )
    .await;
    // Cancelled through A: no answer will come, and C's body ends.
    cancel(&session, 5).await;
    let rest = within("the end of C's body", read_to_end(&mut followed)).await;
    assert!(!rest.contains("\"result\""), "{rest}");
    assert!(
        !rest.contains("io.modelcontextprotocol/stream"),
        "the end mark is not sent: {rest}"
    );
}

#[tokio::test]
async fn a_batch_is_no_way_to_flood_the_other_instances() {
    let cluster = cluster(2, &HttpOptions::default()).await;
    let urls = &cluster.urls;
    // 2025-03-26 sessions take batches.
    let session =
        Raw::open_declaring(reqwest::Client::new(), &urls[0], "2025-03-26", json!({})).await;
    // What the instances say about this session (its channel, as the
    // scaling guide names it).
    let mut said = cluster
        .bus
        .subscribe(&format!("s:{}", session.session))
        .await
        .unwrap();
    // Cancellations of requests running nowhere, answers to requests
    // nobody made: as many as a body holds.
    // Made-up answers first: were they relayed, they would take the
    // places of the rest.
    let made_up =
        (0..40).map(|n| json!({"jsonrpc": "2.0", "id": format!("made-up-{n}"), "result": {}}));
    let cancels = (0..40).map(|n| {
        json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1000 + n}})
    });
    let answers = (0..40)
        .map(|n| json!({"jsonrpc": "2.0", "id": format!("srv-000000000000-{n}"), "result": {}}));
    let batch: Vec<Value> = made_up.chain(cancels).chain(answers).collect();
    let sent = session
        .post(&json!(batch), "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 202);
    // Told while the POST was handled: a few notes, none for an answer to
    // a request no instance could have made.
    let mut notes = Vec::new();
    while let Ok(Some(mcp_server::bus::Delivery::Message(note))) =
        tokio::time::timeout(Duration::ZERO, said.recv()).await
    {
        notes.push(String::from_utf8(note.to_vec()).unwrap());
    }
    assert_eq!(notes.len(), 16, "{notes:?}");
    assert!(notes.iter().all(|n| !n.contains("made-up")), "{notes:?}");
    // The session goes on.
    session.echoes("still here").await;
}
