//! An upstream's `max_rate`: calls beyond it are refused with the
//! rate-limit error (when to retry included), from every caller together;
//! the other upstreams are not limited.

use mcp_core::{Era, ErrorCode};
use serde_json::json;

use super::{offers, serve, stdio_upstream};
use crate::support::{args, http_client};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_over_its_rate_is_refused_with_when_to_retry() {
    let config = format!(
        "{}max_rate = {{ count = 2, per = \"hour\" }}\n\n{}",
        stdio_upstream("slow"),
        stdio_upstream("free"),
    );
    let (gateway, url) = serve(&config).await;
    offers(&gateway, &["slow__echo", "free__echo"]).await;
    let (modern, legacy) = (
        http_client(&url, Era::Modern).await,
        http_client(&url, Era::Legacy).await,
    );
    for client in [&modern, &legacy] {
        let r = client
            .call_tool("slow__echo", args(json!({"message": "ok"})))
            .await
            .unwrap();
        assert_eq!(r.text().unwrap(), "ok");
    }
    // The third in the hour, whoever calls.
    let e = legacy
        .call_tool("slow__echo", args(json!({"message": "no"})))
        .await
        .unwrap_err();
    let mcp_client::Error::Remote(error) = e else {
        panic!("{e}")
    };
    assert_eq!(error.code(), ErrorCode::RATE_LIMITED, "{error:?}");
    assert!(
        error.message().contains("upstream slow"),
        "{}",
        error.message()
    );
    let retry = error.retry_after().unwrap();
    assert!(retry.as_secs() > 60 && retry.as_secs() <= 1800, "{retry:?}");
    for _ in 0..5 {
        let r = modern
            .call_tool("free__echo", args(json!({"message": "free"})))
            .await
            .unwrap();
        assert_eq!(r.text().unwrap(), "free");
    }
    assert_eq!(gateway.status()[0].refused, 1);
}
