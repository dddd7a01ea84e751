//! DNS-rebinding protection reads the host wherever a request carries it:
//! the `Host` header, HTTP/2's `:authority`, or nowhere (refused).

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Running, echo, served};

/// The status of a raw HTTP/1 `request`.
async fn status_of(server: &Running, request: &str) -> u16 {
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).await.unwrap();
    String::from_utf8_lossy(&head[9..12]).parse().unwrap()
}

#[tokio::test]
async fn hosts_are_checked_wherever_a_request_names_them() {
    let server = Running::start("http_server", &[], None).await;
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    let post = |host: Option<&str>, version: &str| {
        let host = host.map(|h| format!("Host: {h}\r\n")).unwrap_or_default();
        format!(
            "POST /mcp HTTP/{version}\r\n{host}Content-Type: application/json\r\n\
             Accept: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    // A bracketed address followed by anything is not loopback.
    assert_eq!(
        status_of(&server, &post(Some("[::1]evil.example"), "1.1")).await,
        403
    );
    assert_eq!(
        status_of(&server, &post(Some("[::1]:80x"), "1.1")).await,
        403
    );
    // No host at all.
    assert_eq!(status_of(&server, &post(None, "1.0")).await, 403);
    // Two of them.
    let twice = post(Some("localhost"), "1.1").replace(
        "Host: localhost\r\n",
        "Host: localhost\r\nHost: evil.example\r\n",
    );
    assert_eq!(status_of(&server, &twice).await, 403);
    // An absolute-form target names its own authority.
    let absolute =
        post(Some("localhost"), "1.1").replace("POST /mcp ", "POST http://evil.example/mcp ");
    assert_eq!(status_of(&server, &absolute).await, 403);

    // HTTP/2 carries the host as `:authority`, with no `Host` header.
    let h2 = |name: &str| {
        reqwest::Client::builder()
            .http2_prior_knowledge()
            .resolve(name, server.addr())
            .build()
            .unwrap()
    };
    let port = server.addr().port();
    let evil = format!("http://evil.example:{port}/mcp");
    let (status, _, body) = echo(&h2("evil.example"), &evil, "rebound").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("authority not allowed"), "{body}");
    served(&h2("localhost"), &format!("http://localhost:{port}/mcp")).await;
    served(&reqwest::Client::new(), &server.url).await;
}
