//! Connections: running the server out of file descriptors does not stop
//! it, and slow, stalled or idle peers are closed while fast ones are not.

use std::time::Duration;

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use super::{PATIENCE, Running, served};

/// Opens `n` connections that send nothing.
async fn idle_connections(server: &Running, n: usize) -> Vec<TcpStream> {
    let mut open = Vec::with_capacity(n);
    for _ in 0..n {
        // The kernel completes the handshake whether or not the server
        // accepts: every connect succeeds.
        open.push(TcpStream::connect(server.addr()).await.unwrap());
    }
    open
}

#[tokio::test]
async fn running_out_of_file_descriptors_does_not_stop_the_server() {
    // A cap above what the process may open: accepting fails (EMFILE).
    let mut server = Running::start("http_server", &["--max-connections", "10000"], Some(64)).await;
    let attack = idle_connections(&server, 100).await;
    server
        .wait_for_log("accepting a connection failed; retrying")
        .await;
    assert!(!server.exited(), "the server exited:\n{}", server.log());
    drop(attack);
    // Descriptors free up as the attack's connections close.
    served(&reqwest::Client::new(), &server.url).await;
    assert!(!server.exited());
}

#[tokio::test]
async fn the_default_connection_cap_keeps_descriptors_free() {
    // The default cap is three quarters of the limit: accepting stops
    // before descriptors run out, and the idle attackers are closed by the
    // header timeout, which lets the normal client in.
    let mut server = Running::start("http_server", &["--header-timeout", "1"], Some(64)).await;
    let attack = idle_connections(&server, 100).await;
    served(&reqwest::Client::new(), &server.url).await;
    assert!(!server.exited());
    assert!(
        !server.log().contains("accepting a connection failed"),
        "{}",
        server.log()
    );
    drop(attack);
}

/// Reads until the peer closes the connection (or it breaks).
async fn closed(mut stream: TcpStream) {
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// One stateless `echo` on a raw HTTP/1.1 connection that stays open;
/// the response's status.
async fn echo_on(stream: &mut TcpStream, host: &str) -> u16 {
    let body = super::with_meta(&serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "echo", "arguments": {"message": "fast"}},
    }));
    let request = format!(
        "POST /mcp HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Accept: application/json\r\nMCP-Protocol-Version: 2026-07-28\r\n\
         Mcp-Method: tools/call\r\nMcp-Name: echo\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    read_response(stream).await
}

/// Reads one HTTP/1.1 response with a `Content-Length`; its status.
async fn read_response(stream: &mut TcpStream) -> u16 {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).await.unwrap();
        assert_eq!(n, 1, "the connection closed mid-response");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap();
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.unwrap();
    head[9..12].parse().unwrap()
}

#[tokio::test]
async fn slow_and_idle_peers_are_closed_and_fast_ones_are_not() {
    let server = Running::start(
        "http_server",
        &[
            "--header-timeout",
            "1",
            "--idle-timeout",
            "2",
            "--body-timeout",
            "1",
        ],
        None,
    )
    .await;
    let host = server.addr().to_string();
    let mut attackers = JoinSet::new();
    // Slowloris: headers one byte every 200 ms, never finished.
    for _ in 0..50 {
        let mut stream = TcpStream::connect(server.addr()).await.unwrap();
        attackers.spawn(async move {
            let head = b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
            for byte in head.iter().chain(b"a".repeat(1000).iter()) {
                if stream.write_all(&[*byte]).await.is_err() {
                    return "closed while sending headers";
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            "never closed"
        });
    }
    // A body sent slowly: 408 once the body timeout passes.
    let mut slow_body = TcpStream::connect(server.addr()).await.unwrap();
    slow_body
        .write_all(
            format!(
                "POST /mcp HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
                 Accept: application/json\r\nContent-Length: 1000\r\n\r\n{{"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    // An idle keep-alive connection, after one request.
    let mut idle = TcpStream::connect(server.addr()).await.unwrap();
    assert_eq!(echo_on(&mut idle, &host).await, 200);
    // A connection that never sends anything.
    let silent = TcpStream::connect(server.addr()).await.unwrap();

    // Meanwhile a fast client keeps one connection busy for three seconds,
    // longer than every timeout: it is never cut off.
    let mut fast = TcpStream::connect(server.addr()).await.unwrap();
    for _ in 0..30 {
        assert_eq!(echo_on(&mut fast, &host).await, 200);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let outcome = tokio::time::timeout(PATIENCE, async {
        while let Some(verdict) = attackers.join_next().await {
            assert_eq!(verdict.unwrap(), "closed while sending headers");
        }
        assert_eq!(read_response(&mut slow_body).await, 408);
        closed(idle).await;
        closed(silent).await;
    })
    .await;
    assert!(outcome.is_ok(), "a slow or idle peer was not closed");
    served(&reqwest::Client::new(), &server.url).await;
    let (status, _, _) = super::echo(&reqwest::Client::new(), &server.url, "after").await;
    assert_eq!(status, StatusCode::OK);
}
