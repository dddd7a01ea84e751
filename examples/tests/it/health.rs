//! Liveness and readiness over HTTP: `serve` answers the probe paths, a
//! mounted endpoint's health is ready until it shuts down or a store it
//! uses fails, and user checks join in.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mcp_server::http::{Health, HttpOptions, StreamableHttp};
use mcp_server::store::{MemoryEventStore, MemorySessionStore, SessionRecord, SessionStore};
use mcp_server::{Error, Server, async_trait};
use serde_json::{Value, json};

use crate::support::{serve_http, test_router};

async fn probe(url: &str) -> (u16, Value) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    assert_eq!(
        response.headers().get("cache-control").unwrap(),
        "no-store",
        "{url}"
    );
    (
        status,
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap(),
    )
}

#[tokio::test]
async fn serve_answers_the_probe_paths_beside_the_endpoint() {
    let (url, _server) = serve_http(Server::new(test_router().0)).await;
    let base = url.trim_end_matches("/mcp");
    assert_eq!(
        probe(&format!("{base}/healthz")).await,
        (200, json!({"status": "alive"}))
    );
    assert_eq!(
        probe(&format!("{base}/readyz")).await,
        (200, json!({"status": "ready"}))
    );
    let other = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(other.status(), 404);
}

/// A session store whose backend can be made unreachable.
struct Flaky {
    inner: MemorySessionStore,
    down: Arc<AtomicBool>,
}

#[async_trait]
impl SessionStore for Flaky {
    async fn insert(&self, id: &str, record: SessionRecord) -> Result<bool, Error> {
        self.inner.insert(id, record).await
    }
    async fn get(&self, id: &str) -> Result<Option<SessionRecord>, Error> {
        self.inner.get(id).await
    }
    async fn update(&self, id: &str, record: SessionRecord) -> Result<(), Error> {
        self.inner.update(id, record).await
    }
    async fn remove(&self, id: &str) -> Result<bool, Error> {
        self.inner.remove(id).await
    }
    async fn ready(&self) -> Result<(), Error> {
        if self.down.load(Ordering::SeqCst) {
            return Err(Error::Unavailable("connection refused".into()));
        }
        Ok(())
    }
}

/// Mounted in axum: not ready while a store is down (and ready again when
/// it is back), while a check of the application's own fails, and once
/// shutdown has begun; alive throughout.
#[tokio::test]
async fn a_mounted_endpoint_is_not_ready_while_a_store_is_down_or_it_shuts_down() {
    let down = Arc::new(AtomicBool::new(false));
    let store = Flaky {
        inner: MemorySessionStore::new(100, Duration::from_secs(60)),
        down: Arc::clone(&down),
    };
    let mcp = StreamableHttp::with_stores(
        Server::new(test_router().0),
        HttpOptions::default(),
        Arc::new(store),
        Arc::new(MemoryEventStore::new(16)),
    );
    let cache_up = Arc::new(AtomicBool::new(true));
    let cache = Arc::clone(&cache_up);
    let health = mcp.health().with_check("cache", move || {
        let up = cache.load(Ordering::SeqCst);
        async move { if up { Ok(()) } else { Err("cache unreachable") } }
    });
    let app = axum::Router::new()
        .route_service("/mcp", mcp.clone())
        .route_service("/live", health.liveness())
        .route_service("/ready", health.readiness());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let ready = format!("{base}/ready");

    assert_eq!(probe(&ready).await.0, 200);
    down.store(true, Ordering::SeqCst);
    cache_up.store(false, Ordering::SeqCst);
    let (status, body) = probe(&ready).await;
    assert_eq!(status, 503);
    // The checks are named; why they failed is logged, not shown.
    assert_eq!(
        body,
        json!({"status": "unavailable", "failing": ["cache", "stores"]})
    );
    let failing = Health::new()
        .with_check("db", || async { Err::<(), _>("db.internal:5432 refused") })
        .failing()
        .await;
    assert_eq!(
        failing,
        [("db".to_owned(), "db.internal:5432 refused".to_owned())]
    );
    assert_eq!(probe(&format!("{base}/live")).await.0, 200);
    down.store(false, Ordering::SeqCst);
    cache_up.store(true, Ordering::SeqCst);
    assert_eq!(probe(&ready).await.0, 200);

    mcp.shutdown();
    let (status, body) = probe(&ready).await;
    assert_eq!(status, 503);
    assert_eq!(body["failing"], json!(["shutdown"]));
    assert_eq!(probe(&format!("{base}/live")).await.0, 200);
}
