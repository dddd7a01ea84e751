//! A gateway pool: two gateway instances sharing one `redis-server` behind
//! a balancer that sends every HTTP request to the next instance. Legacy
//! sessions, elicitation answers and 2026-07-28 retries cross instances.

use mcp_client::{Client, HttpOptions};
use mcp_core::{Era, ErrorCode};
use serde_json::json;

use super::{offers, serve, stdio_upstream};
use crate::redis::{RedisServer, round_robin};
use crate::support::{Host, args, http_client, options};

/// A pool's configuration on `redis` with `upstreams`: its secrets (the
/// Redis URL, the shared request-state key) in a fresh directory, removed
/// by the caller.
fn pool_config(redis: &RedisServer, name: &str, upstreams: &str) -> (std::path::PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("mcp-gateway-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("redis-url"), redis.url()).unwrap();
    std::fs::write(dir.join("state-key"), "a request-state key the pool shares").unwrap();
    let config = format!(
        "[secrets]\ndir = \"{}\"\n\n[redis]\nurl_secret = \"redis-url\"\nstate_key_secret = \"state-key\"\n\n{upstreams}",
        dir.display(),
    );
    (dir, config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_on_one_redis_serve_one_client() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    let (dir, config) = pool_config(
        &redis,
        "pool",
        &format!("{}{}", stdio_upstream("one"), stdio_upstream("two")),
    );
    let (a, url_a) = serve(&config).await;
    let (b, url_b) = serve(&config).await;
    offers(&a, &["one__greet", "two__greet"]).await;
    offers(&b, &["one__greet", "two__greet"]).await;
    let balancer = round_robin(vec![url_a, url_b]).await;

    for era in [Era::Legacy, Era::Modern] {
        let host = Host::full();
        let client = Client::connect_http(
            &balancer,
            options(era),
            HttpOptions::default(),
            host.clone(),
        )
        .await
        .unwrap();
        for round in 0..4 {
            let said = format!("{era:?} {round}");
            let r = client
                .call_tool("one__echo", args(json!({"message": said})))
                .await
                .unwrap();
            assert_eq!(r.text().unwrap(), said);
            // Asked on one instance, answered through the other.
            let r = client
                .call_tool("two__greet", args(json!({})))
                .await
                .unwrap();
            assert_eq!(r.text().unwrap(), "Hello, Ada!", "{era:?}: {r:?}");
        }
        assert_eq!(host.asked.lock().unwrap().elicit.len(), 4);
        let _ = client.close().await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstreams_max_rate_holds_across_the_pool() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    let (dir, config) = pool_config(
        &redis,
        "rate",
        &format!(
            "{}max_rate = {{ count = 3, per = \"hour\" }}\n",
            stdio_upstream("one")
        ),
    );
    let (a, url_a) = serve(&config).await;
    let (b, url_b) = serve(&config).await;
    offers(&a, &["echo"]).await;
    offers(&b, &["echo"]).await;
    let (to_a, to_b) = (
        http_client(&url_a, Era::Modern).await,
        http_client(&url_b, Era::Legacy).await,
    );
    // Three calls in the hour for the pool, not three per instance.
    for (i, client) in [&to_a, &to_b, &to_a].into_iter().enumerate() {
        let said = format!("call {i}");
        let r = client
            .call_tool("echo", args(json!({"message": said})))
            .await
            .unwrap();
        assert_eq!(r.text().unwrap(), said);
    }
    for client in [&to_b, &to_a] {
        let e = client
            .call_tool("echo", args(json!({"message": "over"})))
            .await
            .unwrap_err();
        let mcp_client::Error::Remote(error) = e else {
            panic!("{e}")
        };
        assert_eq!(error.code(), ErrorCode::RATE_LIMITED, "{error:?}");
        assert!(error.retry_after().is_some(), "{error:?}");
    }
    assert_eq!(a.status()[0].refused + b.status()[0].refused, 2);
    let _ = std::fs::remove_dir_all(&dir);
}
