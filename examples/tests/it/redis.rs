//! Shared state on a real Redis (`redis-server`, Debian's package): the
//! stores on their own, then `http_server` instances sharing one Redis as
//! a load balancer would use them, and Redis going away and coming back.

use std::net::TcpListener;
use std::process::Stdio;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use mcp_server::limit::{MemoryRateLimitStore, Quota, RateLimitStore, Spend};
use mcp_server::redis::Redis;
use mcp_server::store::{EventStore, SessionRecord, SessionStore};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::stdio::{example, serve_example};

/// A bound on each wait, so a wedged process fails the test.
const PATIENCE: Duration = Duration::from_secs(60);

/// A `redis-server` of the test's own, on a free loopback port, without
/// persistence; killed when dropped.
pub(crate) struct RedisServer {
    child: Option<Child>,
    port: u16,
}

impl RedisServer {
    /// Starts one, if `redis-server` is installed.
    pub(crate) async fn start() -> Option<Self> {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = Self { child: None, port };
        server.run().await.then_some(server)
    }

    /// (Re)starts the process on its port; whether it runs.
    async fn run(&mut self) -> bool {
        // Set by test.sh, where Redis must run; elsewhere, tried if there.
        let required = std::env::var("MCP_TEST_REDIS_SERVER").ok();
        let binary = required.clone().unwrap_or_else(|| "redis-server".into());
        let spawned = Command::new(&binary)
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--port")
            .arg(self.port.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) if required.is_none() => {
                eprintln!("{binary}: {e}: Redis not checked");
                return false;
            }
            Err(e) => panic!("{binary}: {e}"),
        };
        // Ready when it says so.
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let ready = async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("Ready to accept connections") {
                    return true;
                }
            }
            false
        };
        assert!(
            tokio::time::timeout(PATIENCE, ready).await.unwrap(),
            "redis-server did not start"
        );
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        self.child = Some(child);
        true
    }

    /// Kills it at once (as a crash would).
    async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.unwrap();
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

fn record(principal: Option<&str>) -> SessionRecord {
    let mut record: SessionRecord = serde_json::from_value(json!({
        "protocol_version": "2025-11-25",
        "client_capabilities": {},
        "client_info": {"name": "t", "version": "1"},
        "initialized": true,
        "log_level": null,
        "subscriptions": [],
    }))
    .unwrap();
    record.principal = principal.map(str::to_owned);
    record
}

/// Runs a Redis command: the tests look at keys as an operator would.
async fn command(url: &str, args: &[&str]) -> redis::Value {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query_async(&mut conn).await.unwrap()
}

#[tokio::test]
async fn sessions_expire_when_idle_hold_their_cap_and_survive_instances() {
    let Some(server) = RedisServer::start().await else {
        return;
    };
    let idle = Duration::from_secs(30);
    let a = Redis::new(&server.url()).unwrap().sessions(2, idle);
    let b = Redis::new(&server.url()).unwrap().sessions(2, idle);
    assert!(a.insert("s1", record(Some("alice"))).await.unwrap());
    // Another instance sees it, marks it used, and changes it.
    let got = b.get("s1").await.unwrap().unwrap();
    assert_eq!(got.principal.as_deref(), Some("alice"));
    let mut changed = got.clone();
    changed.subscriptions.insert("memo://a".into());
    b.update("s1", changed.clone()).await.unwrap();
    assert_eq!(a.get("s1").await.unwrap(), Some(changed));
    // The record expires after the idle time, renewed by each use.
    let ttl = command(&server.url(), &["PTTL", "mcp:{s1}:session"]).await;
    let redis::Value::Int(ttl) = ttl else {
        panic!("{ttl:?}")
    };
    assert!((1..=30_000).contains(&ttl), "{ttl}");
    // The cap holds across instances; a removed session makes room.
    assert!(b.insert("s2", record(None)).await.unwrap());
    assert!(!a.insert("s3", record(None)).await.unwrap());
    assert!(a.remove("s1").await.unwrap());
    assert!(!a.remove("s1").await.unwrap());
    assert!(b.insert("s3", record(None)).await.unwrap());
    assert_eq!(a.get("s1").await.unwrap(), None);
    // An update of a session that is gone does not bring it back.
    a.update("s1", record(None)).await.unwrap();
    assert_eq!(a.get("s1").await.unwrap(), None);
    // Ids a client made up name no session and never reach Redis as keys:
    // not even one that spells another key's place.
    for hostile in ["s2}:session", "{s2}", "", "s 2", &"s".repeat(200)] {
        assert_eq!(a.get(hostile).await.unwrap(), None, "{hostile:?}");
        assert!(!a.remove(hostile).await.unwrap(), "{hostile:?}");
    }
    // Different prefixes, different servers.
    let other = Redis::new(&server.url())
        .unwrap()
        .with_prefix("other:")
        .sessions(2, idle);
    assert_eq!(other.get("s2").await.unwrap(), None);
    a.ready().await.unwrap();
}

#[tokio::test]
async fn events_replay_from_any_instance_within_their_bounds() {
    let Some(server) = RedisServer::start().await else {
        return;
    };
    let a = Redis::new(&server.url())
        .unwrap()
        .events()
        .with_bounds(3, 1000);
    let b = Redis::new(&server.url())
        .unwrap()
        .events()
        .with_bounds(3, 1000);
    let priming = a.append("s", "get", Bytes::new()).await.unwrap();
    let first = a
        .append("s", "get", Bytes::from_static(b"one"))
        .await
        .unwrap();
    let second = a
        .append("s", "get", Bytes::from_static(b"two"))
        .await
        .unwrap();
    assert!(first.starts_with("get:") && first != second);
    // Replayed elsewhere, after the priming event: its message-less self
    // is left out.
    let replay = b.replay("s", &priming).await.unwrap().unwrap();
    assert_eq!(replay.stream, "get");
    assert_eq!(
        replay.events,
        vec![
            (first.clone(), Bytes::from("one")),
            (second.clone(), Bytes::from("two"))
        ]
    );
    assert_eq!(
        b.replay("s", &second).await.unwrap().unwrap().events,
        vec![]
    );
    // Another session's id replays nothing.
    assert_eq!(b.replay("other", &first).await.unwrap(), None);
    // Past the count bound the oldest go: resuming after one of them would
    // leave a hole, so it replays nothing.
    let third = a
        .append("s", "get", Bytes::from_static(b"three"))
        .await
        .unwrap();
    assert_eq!(b.replay("s", &priming).await.unwrap(), None);
    assert_eq!(
        b.replay("s", &first).await.unwrap().unwrap().events.len(),
        2
    );
    // A new stream's priming id names its start, without a write: the
    // whole stream replays after it, until the stream drops events.
    let start = a.prime("s", "post-1").await.unwrap();
    assert_eq!(start, "post-1:0-0");
    let before = command(&server.url(), &["EXISTS", "mcp:{s}:ev:post-1"]).await;
    assert_eq!(before, redis::Value::Int(0), "priming writes nothing");
    assert_eq!(
        b.replay("s", &start).await.unwrap().unwrap(),
        mcp_server::store::Replay::new("post-1", vec![])
    );
    let mut kept = Vec::new();
    for word in ["a", "b", "c"] {
        let id = a.append("s", "post-1", Bytes::from(word)).await.unwrap();
        kept.push((id, Bytes::from(word)));
    }
    assert_eq!(b.replay("s", &start).await.unwrap().unwrap().events, kept);
    a.append("s", "post-1", Bytes::from("d")).await.unwrap();
    assert_eq!(
        b.replay("s", &start).await.unwrap(),
        None,
        "the start was dropped"
    );
    // Past the byte bound too.
    let big = Bytes::from(vec![b'x'; 900]);
    let last = a.append("s", "get", big.clone()).await.unwrap();
    assert_eq!(b.replay("s", &first).await.unwrap(), None);
    assert_eq!(
        b.replay("s", &third).await.unwrap().unwrap().events,
        vec![(last, big)]
    );
    // Ids a client made up never reach Redis as commands.
    for hostile in [
        "",
        "get",
        "get:",
        "get:1-",
        "get:x-0",
        "get:1-0 +",
        "get:(0-0",
        &format!("get:{}", "9".repeat(50)),
    ] {
        assert_eq!(b.replay("s", hostile).await.unwrap(), None, "{hostile:?}");
    }
    // A session's end takes its streams.
    b.forget("s").await;
    assert_eq!(a.replay("s", &third).await.unwrap(), None);
    let keys = command(&server.url(), &["KEYS", "mcp:{s}*"]).await;
    assert_eq!(keys, redis::Value::Array(vec![]));
}

/// The Redis store decides exactly as the memory store, bucket by
/// bucket, all or nothing, over a schedule of spends.
#[tokio::test]
async fn the_redis_rate_limit_store_decides_as_the_memory_store() {
    let Some(server) = RedisServer::start().await else {
        return;
    };
    let redis = Redis::new(&server.url()).unwrap().rate_limits();
    let memory = MemoryRateLimitStore::new(100);
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let second = Quota::per_second(10).with_burst(3);
    let minute = Quota::per_minute(5);
    let mut at = start;
    for step in 0..60u32 {
        // Uneven steps, some requests costing more, some over two buckets.
        at += Duration::from_millis(u64::from(step % 7) * 37);
        let cost = 1 + step % 3;
        let spends: Vec<Spend<'_>> = if step % 4 == 0 {
            vec![
                Spend::new("p:alice", second, cost),
                Spend::new("q:alice", minute, 1),
            ]
        } else {
            vec![Spend::new("p:alice", second, cost)]
        };
        let ours = redis.spend(&spends, at).await.unwrap();
        let theirs = memory.spend(&spends, at).await.unwrap();
        assert_eq!(ours, theirs, "step {step}");
    }
    redis.ready().await.unwrap();
}

/// An `http_server` instance on the shared Redis.
struct Instance {
    child: Child,
    url: String,
}

async fn instance(redis: &str, args: &[&str], key_file: &std::path::Path) -> Instance {
    let mut command = Command::new(example("http_server"));
    command
        .args([
            "--bind",
            "127.0.0.1:0",
            "--redis",
            redis,
            "--state-key-file",
        ])
        .arg(key_file)
        .args(args);
    let (child, url) = serve_example(command).await;
    Instance { child, url }
}

/// Three instances sharing `redis`, and the state key they share.
async fn three(redis: &str, args: &[&str]) -> (Vec<Instance>, tempfile_like::Dir) {
    let dir = tempfile_like::Dir::new("redis-instances");
    let key = dir.0.join("state-key");
    std::fs::write(&key, "a request-state key that is long enough, shared").unwrap();
    let mut all = Vec::new();
    for _ in 0..3 {
        all.push(instance(redis, args, &key).await);
    }
    (all, dir)
}

mod tempfile_like {
    /// A directory of the test's own, removed when dropped.
    pub(super) struct Dir(pub(super) std::path::PathBuf);

    impl Dir {
        pub(super) fn new(name: &str) -> Self {
            // Tests run side by side in one process: one directory each.
            static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!("mcp-{name}-{}-{n}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// POSTs `body` to `url` as a legacy client of `session` would (or as one
/// starting a session); the response.
async fn legacy_post(
    http: &reqwest::Client,
    url: &str,
    session: Option<&str>,
    body: Value,
) -> reqwest::Response {
    let mut req = http
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25");
    if let Some(session) = session {
        req = req.header("mcp-session-id", session);
    }
    tokio::time::timeout(PATIENCE, req.body(body.to_string()).send())
        .await
        .unwrap()
        .unwrap()
}

/// A 2026-07-28 `tools/call` of `tool` to `url`, with `extra` params
/// (arguments, input responses, request state) and a client that can
/// answer elicitation.
async fn modern_call(
    http: &reqwest::Client,
    url: &str,
    tool: &str,
    extra: Value,
) -> reqwest::Response {
    let mut params = json!({"name": tool, "arguments": {}, "_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}}}});
    if let (Some(params), Value::Object(extra)) = (params.as_object_mut(), extra) {
        params.extend(extra);
    }
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params});
    let req = http
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", tool)
        .body(body.to_string());
    tokio::time::timeout(PATIENCE, req.send())
        .await
        .unwrap()
        .unwrap()
}

/// A 2026-07-28 `tools/call echo` to `url`.
async fn modern_echo(http: &reqwest::Client, url: &str) -> reqwest::Response {
    modern_call(http, url, "echo", json!({"arguments": {"message": "hi"}})).await
}

/// Opens a legacy session on `url`: its id.
async fn open(http: &reqwest::Client, url: &str) -> String {
    let res = legacy_post(
        http,
        url,
        None,
        json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "t", "version": "1"}}}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let id = res.headers()["mcp-session-id"].to_str().unwrap().to_owned();
    let _ = res.bytes().await;
    id
}

/// The JSON-RPC message in a response, JSON or one SSE event.
async fn message(res: reqwest::Response) -> Value {
    let text = res.text().await.unwrap();
    let data = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .rfind(|d| !d.is_empty())
        .unwrap_or(&text);
    serde_json::from_str(data).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[tokio::test]
async fn a_thousand_sessions_opened_on_one_instance_serve_on_another() {
    let Some(server) = RedisServer::start().await else {
        return;
    };
    // All from one address: the per-client cap of each instance goes up.
    let (instances, _dir) = three(&server.url(), &["--max-sessions-per-client", "1000"]).await;
    let http = reqwest::Client::new();
    let urls: Vec<&str> = instances.iter().map(|i| i.url.as_str()).collect();
    let opened: Vec<(usize, String)> = futures_like::bounded(1000, 16, |n| {
        let (http, url) = (http.clone(), urls[n % 3].to_owned());
        async move { (n, open(&http, &url).await) }
    })
    .await;
    let answered = futures_like::bounded(opened.len(), 16, |i| {
        let (n, session) = opened[i].clone();
        let (http, url) = (http.clone(), urls[(n + 1) % 3].to_owned());
        async move {
            let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
            assert_eq!(
                legacy_post(&http, &url, Some(&session), note)
                    .await
                    .status(),
                202
            );
            let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": "echo", "arguments": {"message": format!("n{n}")}}});
            let res = legacy_post(&http, &url, Some(&session), call).await;
            assert_eq!(res.status(), 200, "session {n}");
            message(res).await["result"]["content"][0]["text"] == format!("n{n}")
        }
    })
    .await;
    assert_eq!(answered.iter().filter(|ok| **ok).count(), 1000);
    drop(instances);
}

#[tokio::test]
async fn a_rate_limit_holds_across_instances() {
    let Some(server) = RedisServer::start().await else {
        return;
    };
    let (instances, _dir) = three(&server.url(), &["--rate-limit", "anonymous=10/minute"]).await;
    let http = reqwest::Client::new();
    let mut allowed = 0;
    for n in 0..15 {
        let res = modern_echo(&http, &instances[n % 3].url).await;
        match res.status().as_u16() {
            200 => allowed += 1,
            429 => assert!(res.headers().contains_key("retry-after")),
            other => panic!("{other}"),
        }
    }
    assert_eq!(allowed, 10);
}

#[tokio::test]
async fn redis_going_away_means_503_and_service_resumes_when_it_is_back() {
    let Some(mut server) = RedisServer::start().await else {
        return;
    };
    let (mut instances, _dir) = three(&server.url(), &[]).await;
    let http = reqwest::Client::new();
    let session = open(&http, &instances[0].url).await;
    let ping = |session: String, url: String| {
        let http = http.clone();
        async move {
            legacy_post(
                &http,
                &url,
                Some(&session),
                json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}),
            )
            .await
        }
    };
    assert_eq!(
        ping(session.clone(), instances[1].url.clone())
            .await
            .status(),
        200
    );

    server.kill().await;
    for instance in &instances {
        let res = ping(session.clone(), instance.url.clone()).await;
        assert_eq!(res.status(), 503);
        assert!(res.headers().contains_key("retry-after"));
        // A new session cannot be stored either.
        let res = legacy_post(
            &http,
            &instance.url,
            None,
            json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                       "clientInfo": {"name": "t", "version": "1"}}}),
        )
        .await;
        assert_eq!(res.status(), 503);
        let ready = http
            .get(instance.url.replace("/mcp", "/readyz"))
            .send()
            .await
            .unwrap();
        assert_eq!(ready.status(), 503);
        // 2026-07-28 requests need no store: still served.
        let res = modern_echo(&http, &instance.url).await;
        assert_eq!(res.status(), 200);
    }

    assert!(server.run().await);
    // Back without a restart of any instance; the Redis lost its data, so
    // sessions start over.
    for instance in &mut instances {
        let ready = async {
            loop {
                let res = http
                    .get(instance.url.replace("/mcp", "/readyz"))
                    .send()
                    .await
                    .unwrap();
                if res.status() == 200 {
                    return;
                }
                // The instance reconnects on its own schedule (at most
                // once a second): poll for it, bounded by PATIENCE.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        tokio::time::timeout(PATIENCE, ready).await.unwrap();
        let session = open(&http, &instance.url).await;
        assert_eq!(ping(session, instance.url.clone()).await.status(), 200);
        assert!(
            instance.child.try_wait().unwrap().is_none(),
            "an instance exited"
        );
    }
}

/// Runs `count` futures made by `make`, at most `width` at a time; their
/// outputs in order.
mod futures_like {
    use std::future::Future;

    pub(super) async fn bounded<T, F, Fut>(count: usize, width: usize, make: F) -> Vec<T>
    where
        F: Fn(usize) -> Fut,
        Fut: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let mut out = Vec::with_capacity(count);
        let mut next = 0;
        while next < count {
            let end = (next + width).min(count);
            let batch: Vec<_> = (next..end).map(|n| tokio::spawn(make(n))).collect();
            for task in batch {
                out.push(task.await.unwrap());
            }
            next = end;
        }
        out
    }
}

/// A 2026-07-28 tool that asks for input is retried on another instance:
/// the instances share the request-state key (`--state-key-file`), so the
/// state one sealed opens on the other; an instance with a key of its own
/// refuses it.
#[tokio::test]
async fn an_input_required_retry_may_land_on_any_instance() {
    let Some(server) = RedisServer::start().await else {
        return;
    };
    let (instances, _dir) = three(&server.url(), &[]).await;
    let http = reqwest::Client::new();
    let asked = message(modern_call(&http, &instances[0].url, "greet", json!({})).await).await;
    let result = &asked["result"];
    assert_eq!(result["resultType"], "input_required", "{asked}");
    let (question, _) = result["inputRequests"]
        .as_object()
        .unwrap()
        .iter()
        .next()
        .unwrap();
    let retry = json!({
        "inputResponses": {question.clone(): {"action": "accept", "content": {"name": "Ada"}}},
        "requestState": result["requestState"].clone(),
    });
    let answer = message(modern_call(&http, &instances[2].url, "greet", retry.clone()).await).await;
    assert_eq!(
        answer["result"]["content"][0]["text"], "Hello, Ada!",
        "{answer}"
    );

    let other = tempfile_like::Dir::new("other-key");
    let key = other.0.join("state-key");
    std::fs::write(&key, "a request-state key of another deployment entirely").unwrap();
    let stranger = instance(&server.url(), &[], &key).await;
    let refused = message(modern_call(&http, &stranger.url, "greet", retry).await).await;
    assert_eq!(refused["error"]["code"], -32602, "{refused}");
}

/// Opens a legacy session on `url` whose client answers elicitation, and
/// says it is initialized there: its id.
async fn open_eliciting(http: &reqwest::Client, url: &str) -> String {
    let res = legacy_post(
        http,
        url,
        None,
        json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {"elicitation": {}},
                   "clientInfo": {"name": "t", "version": "1"}}}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let id = res.headers()["mcp-session-id"].to_str().unwrap().to_owned();
    let _ = res.bytes().await;
    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert_eq!(legacy_post(http, url, Some(&id), note).await.status(), 202);
    id
}

/// A GET of `session`'s stream on `url`, resuming after `last` if given.
async fn legacy_get(
    http: &reqwest::Client,
    url: &str,
    session: &str,
    last: Option<&str>,
) -> reqwest::Response {
    let mut req = http
        .get(url)
        .header("accept", "text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .header("mcp-session-id", session);
    if let Some(last) = last {
        req = req.header("last-event-id", last);
    }
    let res = tokio::time::timeout(PATIENCE, req.send())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(res.status(), 200);
    res
}

/// `count` to `to`, a step every `delay_ms`, with progress.
fn count_call(id: u64, to: u32, delay_ms: u64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
        "name": "count", "arguments": {"to": to, "delay_ms": delay_ms},
        "_meta": {"progressToken": "p"}}})
}

/// Reads `res`'s SSE events until one whose data satisfies `stop`.
async fn events_until(
    res: &mut reqwest::Response,
    what: &str,
    stop: impl Fn(&Value) -> bool,
) -> Vec<crate::http_sessions::Read> {
    tokio::time::timeout(PATIENCE, crate::http_sessions::read_until(res, stop))
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

#[tokio::test]
async fn a_call_on_b_is_followed_from_c_and_its_elicitation_answered_through_a() {
    let Some(server) = RedisServer::start().await else {
        return;
    };
    let (instances, _dir) = three(&server.url(), &[]).await;
    let [a, b, c] = [0, 1, 2].map(|i| instances[i].url.as_str());
    let http = reqwest::Client::new();
    let session = open_eliciting(&http, a).await;
    // A call on B, its stream broken after the first progress…
    let mut on_b = legacy_post(&http, b, Some(&session), count_call(7, 5, 100)).await;
    let first = events_until(&mut on_b, "progress on B", |d| {
        d["params"]["progress"] == 1.0
    })
    .await;
    let last = first.last().unwrap().id.clone().unwrap();
    drop(on_b);
    // …resumed on C: the rest arrives there as B makes it, once each, and
    // the body ends with the answer.
    let mut on_c = legacy_get(&http, c, &session, Some(&last)).await;
    let rest = events_until(&mut on_c, "the answer on C", |d| d["id"] == 7).await;
    assert_eq!(
        crate::http_sessions::progress_of(&rest),
        [2.0, 3.0, 4.0, 5.0],
        "{rest:?}"
    );
    assert_eq!(
        rest.last().unwrap().json["result"]["content"][0]["text"],
        "counted to 5"
    );
    let tail = tokio::time::timeout(PATIENCE, on_c.chunk()).await.unwrap();
    assert!(tail.unwrap().is_none());

    // A handler on B asks the client; the answer goes to A.
    let greet = json!({"jsonrpc": "2.0", "id": 8, "method": "tools/call",
        "params": {"name": "greet", "arguments": {}}});
    let mut on_b = legacy_post(&http, b, Some(&session), greet).await;
    let asked = events_until(&mut on_b, "the elicitation", |d| {
        d["method"] == "elicitation/create"
    })
    .await;
    let answer = json!({"jsonrpc": "2.0", "id": asked.last().unwrap().json["id"],
        "result": {"action": "accept", "content": {"name": "Ada"}}});
    assert_eq!(
        legacy_post(&http, a, Some(&session), answer).await.status(),
        202
    );
    let done = events_until(&mut on_b, "the greeting", |d| d["id"] == 8).await;
    assert_eq!(
        done.last().unwrap().json["result"]["content"][0]["text"],
        "Hello, Ada!"
    );
}

#[tokio::test]
async fn a_listen_stream_on_a_hears_an_update_made_on_c() {
    let Some(server) = RedisServer::start().await else {
        return;
    };
    let (instances, _dir) = three(&server.url(), &[]).await;
    let [a, b, c] = [0, 1, 2].map(|i| instances[i].url.as_str());
    let http = reqwest::Client::new();
    // A 2026-07-28 listen stream on A…
    let mut listening = crate::http_sessions::listen_request(&http, a, "memo://notes/plan")
        .send()
        .await
        .unwrap();
    assert_eq!(listening.status(), 200);
    events_until(&mut listening, "the acknowledgement", |d| {
        d["method"] == "notifications/subscriptions/acknowledged"
    })
    .await;
    // …and a legacy subscriber, subscribed through B, its stream on A.
    let session = open_eliciting(&http, a).await;
    let subscribe = json!({"jsonrpc": "2.0", "id": 1, "method": "resources/subscribe",
        "params": {"uri": "memo://notes/plan"}});
    assert_eq!(
        legacy_post(&http, b, Some(&session), subscribe)
            .await
            .status(),
        200
    );
    let mut stream = legacy_get(&http, a, &session, None).await;
    // The note is saved by a call on C.
    let saved = message(
        modern_call(
            &http,
            c,
            "save_note",
            json!({"arguments": {"name": "plan", "text": "ship"}}),
        )
        .await,
    )
    .await;
    assert_eq!(
        saved["result"]["content"][0]["text"],
        "saved memo://notes/plan"
    );
    let updated = |d: &Value| {
        d["method"] == "notifications/resources/updated"
            && d["params"]["uri"] == "memo://notes/plan"
    };
    events_until(&mut listening, "the listen stream's update", updated).await;
    events_until(&mut stream, "the legacy subscriber's update", updated).await;
}

#[tokio::test]
async fn an_instance_killed_mid_stream_loses_nothing_that_was_stored() {
    let Some(server) = RedisServer::start().await else {
        return;
    };
    let (mut instances, _dir) = three(&server.url(), &[]).await;
    let urls: Vec<String> = instances.iter().map(|i| i.url.clone()).collect();
    let http = reqwest::Client::new();
    let session = open_eliciting(&http, &urls[0]).await;
    let mut on_b = legacy_post(&http, &urls[1], Some(&session), count_call(9, 12, 100)).await;
    let mut read = events_until(&mut on_b, "progress on B", |d| {
        d["params"]["progress"] == 1.0
    })
    .await;
    drop(on_b);
    // Followed from C for a while…
    let last = read.last().unwrap().id.clone().unwrap();
    let mut on_c = legacy_get(&http, &urls[2], &session, Some(&last)).await;
    read.extend(
        events_until(&mut on_c, "progress on C", |d| {
            d["params"]["progress"] == 4.0
        })
        .await,
    );
    // …until C dies at once; the client resumes on A from what it has.
    instances[2].child.start_kill().unwrap();
    instances[2].child.wait().await.unwrap();
    drop(on_c);
    let last = read.iter().rev().find_map(|e| e.id.clone()).unwrap();
    let mut on_a = legacy_get(&http, &urls[0], &session, Some(&last)).await;
    read.extend(events_until(&mut on_a, "the answer on A", |d| d["id"] == 9).await);
    let expected: Vec<f64> = (1..=12).map(f64::from).collect();
    assert_eq!(crate::http_sessions::progress_of(&read), expected);
    assert_eq!(
        read.last().unwrap().json["result"]["content"][0]["text"],
        "counted to 12"
    );
    // Every event once: no id twice.
    let ids: Vec<&String> = read.iter().filter_map(|e| e.id.as_ref()).collect();
    let unique: std::collections::BTreeSet<&&String> = ids.iter().collect();
    assert_eq!(ids.len(), unique.len(), "{ids:?}");
}

#[tokio::test]
async fn the_redis_bus_carries_messages_between_handles_and_reports_an_outage_as_a_gap() {
    use mcp_server::bus::{Delivery, EventBus};
    let Some(mut server) = RedisServer::start().await else {
        return;
    };
    let a = Redis::new(&server.url()).unwrap().bus();
    let b = Redis::new(&server.url()).unwrap().bus();
    let mut heard = b.subscribe("t").await.unwrap();
    let mut elsewhere = b.subscribe("u").await.unwrap();
    a.publish("t", Bytes::from_static(b"one")).await.unwrap();
    let next = async |s: &mut mcp_server::bus::Subscription| {
        tokio::time::timeout(PATIENCE, s.recv()).await.unwrap()
    };
    assert_eq!(
        next(&mut heard).await,
        Some(Delivery::Message(Bytes::from_static(b"one")))
    );
    b.ready().await.unwrap();
    // Redis goes away: the bus is not ready, and subscribes nothing.
    server.kill().await;
    tokio::time::timeout(PATIENCE, async {
        while b.ready().await.is_ok() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    assert!(
        b.subscribe("v").await.is_err(),
        "no subscription while down"
    );
    // Back: the bus connects and subscribes again by itself, and each
    // subscription hears that what was published meanwhile is lost.
    assert!(server.run().await);
    assert_eq!(next(&mut heard).await, Some(Delivery::Gap));
    assert_eq!(next(&mut elsewhere).await, Some(Delivery::Gap));
    let delivered = tokio::time::timeout(PATIENCE, async {
        loop {
            let _ = a.publish("t", Bytes::from_static(b"two")).await;
            let wait = tokio::time::timeout(Duration::from_millis(200), heard.recv());
            if let Ok(Some(Delivery::Message(m))) = wait.await {
                return m;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(delivered, Bytes::from_static(b"two"));
    // Ready again once its command connection is remade too.
    tokio::time::timeout(PATIENCE, async {
        while b.ready().await.is_err() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    // Topics stay apart.
    let quiet = tokio::time::timeout(Duration::from_millis(50), elsewhere.recv()).await;
    assert!(quiet.is_err(), "{quiet:?}");
}

/// A load balancer without stickiness: each HTTP request goes to the next
/// of `backends` in turn, its response (SSE included) streamed back. Its
/// URL.
pub(crate) async fn round_robin(backends: Vec<String>) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = std::sync::Arc::new(AtomicUsize::new(0));
    let http = reqwest::Client::new();
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let backend = backends[next.fetch_add(1, Ordering::Relaxed) % backends.len()].clone();
        let http = http.clone();
        async move {
            let (parts, body) = req.into_parts();
            let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
            let mut out = http.request(parts.method, &backend).body(body);
            for (name, value) in &parts.headers {
                if name != "host" && name != "content-length" {
                    out = out.header(name, value);
                }
            }
            let Ok(res) = out.send().await else {
                return axum::http::StatusCode::BAD_GATEWAY.into_response();
            };
            let mut back = axum::response::Response::builder().status(res.status());
            for (name, value) in res.headers() {
                if name != "content-length" && name != "transfer-encoding" {
                    back = back.header(name, value);
                }
            }
            back.body(axum::body::Body::from_stream(res.bytes_stream()))
                .unwrap()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

use axum::response::IntoResponse as _;

/// `f`, within the test's patience.
async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, f)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

#[tokio::test]
async fn the_sdk_client_works_through_a_balancer_that_spreads_every_request() {
    use mcp_client::{CallOptions, Client, HttpOptions as ClientHttp, ServerNotification};
    use mcp_core::Era;
    use mcp_core::tools::CallToolParams;
    let Some(server) = RedisServer::start().await else {
        return;
    };
    let (instances, _dir) = three(&server.url(), &[]).await;
    let balancer = round_robin(instances.iter().map(|i| i.url.clone()).collect()).await;
    let host = crate::support::Host::full();
    let client = Client::connect_http(
        &balancer,
        crate::support::options(Era::Legacy),
        ClientHttp::default(),
        host.clone(),
    )
    .await
    .unwrap();
    let mut events = client.notifications();
    // A subscription made on one instance, a note saved on another, the
    // update heard on the session's stream, on a third perhaps.
    within("subscribe", client.subscribe_resource("memo://notes/plan"))
        .await
        .unwrap();
    let args = |v: Value| v.as_object().unwrap().clone();
    let saved = within(
        "save",
        client.call_tool("save_note", args(json!({"name": "plan", "text": "ship"}))),
    )
    .await
    .unwrap();
    assert_eq!(saved.content[0].as_text(), Some("saved memo://notes/plan"));
    within("the update", async {
        loop {
            let next = std::future::poll_fn(|cx| {
                futures_core::Stream::poll_next(std::pin::Pin::new(&mut events), cx)
            });
            match next.await.expect("notifications go on") {
                ServerNotification::ResourceUpdated { uri } if uri == "memo://notes/plan" => break,
                _ => {}
            }
        }
    })
    .await;
    // Progress on the way, and an elicitation answered through whichever
    // instance the answer lands on.
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = std::sync::Arc::clone(&seen);
    let call = CallOptions::default().on_progress(move |p| sink.lock().unwrap().push(p.progress));
    let params = CallToolParams::new("count").with_arguments(args(json!({"to": 4})));
    let counted = within("count", client.call_tool_with(params, call))
        .await
        .unwrap();
    assert_eq!(counted.content[0].as_text(), Some("counted to 4"));
    assert_eq!(*seen.lock().unwrap(), [1.0, 2.0, 3.0, 4.0]);
    for _ in 0..3 {
        let greeted = within("greet", client.call_tool("greet", args(json!({}))))
            .await
            .unwrap();
        assert_eq!(greeted.content[0].as_text(), Some("Hello, Ada!"));
    }
    assert_eq!(host.asked.lock().unwrap().elicit.len(), 3);
}

#[tokio::test]
async fn made_up_stream_ids_follow_nothing_past_a_cap() {
    let Some(server) = RedisServer::start().await else {
        return;
    };
    let (instances, _dir) = three(&server.url(), &[]).await;
    let http = reqwest::Client::new();
    let session = open_eliciting(&http, &instances[0].url).await;
    // A stream's start names it without a write: a made-up one replays
    // nothing and is followed, as a stream made elsewhere would be, but a
    // session follows only so many.
    let mut held = Vec::new();
    for n in 0..16 {
        let res = legacy_get(
            &http,
            &instances[1].url,
            &session,
            Some(&format!("made-up-{n}:0-0")),
        )
        .await;
        held.push(res);
    }
    let mut req = http
        .get(&instances[1].url)
        .header("accept", "text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .header("mcp-session-id", &session)
        .header("last-event-id", "made-up-16:0-0");
    req = req.timeout(PATIENCE);
    let refused = req.send().await.unwrap();
    assert_eq!(refused.status(), 409);
    // Another instance, and the session itself, are not held up.
    drop(held);
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "echo", "arguments": {"message": "still"}}});
    let res = legacy_post(&http, &instances[2].url, Some(&session), call).await;
    assert_eq!(message(res).await["result"]["content"][0]["text"], "still");
}
