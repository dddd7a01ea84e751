//! A hostile server against the client: endless bodies and events end the
//! request with a typed error in bounded memory, a server's `retry` is
//! capped, and a legacy server's requests are answered a bounded number
//! at a time.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use mcp_client::{Client, ClientHandler, HttpOptions, http_transport};
use mcp_core::elicitation::{ElicitParams, ElicitResult};
use mcp_core::jsonrpc::Incoming;
use mcp_core::transport::{FrameRead, FrameWrite, MessageRead, MessageWrite, Outgoing};
use mcp_core::{ClientCapabilities, Era, ErrorObject, Message};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::Command;

use super::{PATIENCE, status_kib};
use crate::stdio::example;
use crate::support::{options, pipe};

/// Reads one request's head (and ignores its body); the request line.
async fn request_line(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
        if head.len() > 64 * 1024 {
            return None;
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.ok()?;
    head.lines().next().map(str::to_owned)
}

/// A server that answers every request with `content_type` and then an
/// endless body of `filler` (up to 256 MiB a connection); its URL.
async fn endless(content_type: &'static str, prefix: &'static [u8], filler: u8) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                if request_line(&mut stream).await.is_none() {
                    return;
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nConnection: close\r\n\r\n"
                );
                if stream.write_all(head.as_bytes()).await.is_err()
                    || stream.write_all(prefix).await.is_err()
                {
                    return;
                }
                let chunk = vec![filler; 64 * 1024];
                for _ in 0..4096 {
                    if stream.write_all(&chunk).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    url
}

/// Runs the `http_client` example against `url`: whether it failed, and
/// the most memory it held.
async fn run_client(url: &str) -> (bool, u64) {
    let mut child = Command::new(example("http_client"))
        .arg(url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    let mut peak = 0;
    let status = tokio::time::timeout(PATIENCE, async {
        loop {
            if let Some(hwm) = status_kib(pid, "VmHWM:") {
                peak = peak.max(hwm * 1024);
            }
            tokio::select! {
                status = child.wait() => return status.unwrap(),
                () = tokio::time::sleep(Duration::from_millis(10)) => {}
            }
        }
    })
    .await
    .expect("the client gave up on the endless answer");
    (!status.success(), peak)
}

#[tokio::test]
async fn endless_answers_end_the_request_in_bounded_memory() {
    // The client reads at most 16 MiB of one message by default.
    let limit = 16 * 1024 * 1024 + 64 * 1024 * 1024;
    for (content_type, prefix, filler) in [
        ("application/json", &b"["[..], b' '),
        ("text/event-stream", &b"data: "[..], b'x'),
    ] {
        let url = endless(content_type, prefix, filler).await;
        let (failed, peak) = run_client(&url).await;
        assert!(failed, "{content_type}: the client did not fail");
        assert!(
            peak < limit,
            "{content_type}: the client held {} MiB",
            peak / (1024 * 1024)
        );
    }
}

/// `tools/list` with id 1, as a client hands it to a transport.
fn tools_list() -> Outgoing {
    let request = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#;
    Outgoing::request(
        mcp_core::RequestId::Number(1),
        "tools/list",
        Bytes::from(request),
    )
}

#[tokio::test]
async fn an_oversized_answer_is_a_typed_error() {
    let url = endless("application/json", b"[", b' ').await;
    let mut http = HttpOptions::default();
    http.max_message_size = 1024 * 1024;
    let (mut reader, mut writer) = http_transport(&url, http).unwrap();
    writer.write_message(tools_list()).await.unwrap();
    let failed = tokio::time::timeout(PATIENCE, reader.read_message())
        .await
        .unwrap()
        .unwrap();
    match failed {
        Err(mcp_core::Error::RequestFailed { id, reason }) => {
            assert_eq!(id, mcp_core::RequestId::Number(1));
            assert!(
                matches!(*reason, mcp_core::Error::FrameTooLarge { max, .. } if max == 1024 * 1024),
                "{reason:?}"
            );
        }
        other => panic!("not a typed failure: {other:?}"),
    }
}

#[tokio::test]
async fn a_servers_retry_is_capped() {
    // The POST's stream names an event, asks for a retry in eleven days,
    // and breaks; the resumed GET brings the answer.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                while let Some(line) = request_line(&mut stream).await {
                    let body: &[u8] = if line.starts_with("POST") {
                        b"id: e1\nretry: 999999999\ndata: \n\n"
                    } else {
                        b"id: e2\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[]}}\n\n"
                    };
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\
                         Content-Length: {}\r\n\r\n",
                        body.len()
                    );
                    if stream.write_all(head.as_bytes()).await.is_err()
                        || stream.write_all(body).await.is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    let mut http = HttpOptions::default();
    http.max_retry = Duration::from_millis(100);
    let (mut reader, mut writer) = http_transport(&url, http).unwrap();
    writer.write_message(tools_list()).await.unwrap();
    let answer = tokio::time::timeout(PATIENCE, reader.read_message())
        .await
        .expect("the client resumed within the capped delay")
        .unwrap()
        .unwrap();
    let Incoming::Single(Message::Response(answer)) = answer else {
        panic!("not an answer: {answer:?}");
    };
    assert_eq!(answer.result.get(), r#"{"tools":[]}"#);
}

/// A host that never finishes answering an elicitation.
#[derive(Clone, Default)]
struct Stuck(Arc<AtomicUsize>);

impl ClientHandler for Stuck {
    fn capabilities(&self) -> ClientCapabilities {
        mcp_client::capabilities(true, false, false)
    }

    async fn elicit(&self, _: ElicitParams) -> Result<ElicitResult, ErrorObject> {
        self.0.fetch_add(1, Ordering::SeqCst);
        std::future::pending().await
    }
}

#[tokio::test]
async fn a_servers_requests_are_answered_a_bounded_number_at_a_time() {
    let ((mut sr, mut sw), (cr, cw)) = pipe();
    let host = Stuck::default();
    let asked = Arc::clone(&host.0);
    let mut options = options(Era::Legacy);
    options.max_server_requests = 16;
    let connecting = tokio::spawn(Client::connect(cr, cw, options, host));
    // A legacy server: the handshake, then a hundred elicitations.
    let read = |frame: Option<Result<Bytes, mcp_core::Error>>| -> Value {
        serde_json::from_slice(&frame.unwrap().unwrap()).unwrap()
    };
    let init = read(sr.read_frame().await);
    assert_eq!(init["method"], "initialize");
    let answer = json!({"jsonrpc": "2.0", "id": init["id"], "result": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "serverInfo": {"name": "hostile", "version": "1"}}});
    sw.write_frame(Bytes::from(answer.to_string()))
        .await
        .unwrap();
    assert_eq!(
        read(sr.read_frame().await)["method"],
        "notifications/initialized"
    );
    let _client = connecting.await.unwrap().unwrap();
    for i in 0..100 {
        let ask = json!({"jsonrpc": "2.0", "id": format!("s{i}"), "method": "elicitation/create",
            "params": {"mode": "form", "message": "?", "requestedSchema": {"type": "object", "properties": {}}}});
        sw.write_frame(Bytes::from(ask.to_string())).await.unwrap();
    }
    let mut refused = 0;
    while refused < 84 {
        let frame = tokio::time::timeout(PATIENCE, sr.read_frame())
            .await
            .unwrap();
        let reply = read(frame);
        let message = reply["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("client busy"), "{reply}");
        refused += 1;
    }
    // The sixteen admitted reach the host (in their own time).
    let admitted = tokio::time::timeout(PATIENCE, async {
        while asked.load(Ordering::SeqCst) < 16 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(admitted.is_ok());
    assert_eq!(asked.load(Ordering::SeqCst), 16, "only 16 reached the host");
}

/// A server that answers every request with `answer`, as it is; its URL.
async fn fixed(answer: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                if request_line(&mut stream).await.is_some() {
                    let _ = stream.write_all(answer.as_bytes()).await;
                }
            });
        }
    });
    url
}

/// A server whose answer to a request is not its response: the request
/// fails at once, saying what came instead, rather than wait out its
/// timeout (60 s; this test allows `PATIENCE`).
#[tokio::test]
async fn an_answer_that_is_not_the_response_fails_the_request_at_once() {
    const CLOSE: &str = "connection: close\r\n";
    let cases: [(String, &str); 4] = [
        (
            format!("HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n{CLOSE}\r\n"),
            "without answering it",
        ),
        (
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n{CLOSE}\r\nok"
            ),
            "neither JSON nor an event stream",
        ),
        (
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 9\r\n{CLOSE}\r\n{{\"jsonrpc"
            ),
            "EOF",
        ),
        (
            {
                let note = r#"{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"hi"}}"#;
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{CLOSE}\r\n{note}",
                    note.len()
                )
            },
            "not the response to this request",
        ),
    ];
    for (answer, expected) in cases {
        let url = fixed(Box::leak(answer.into_boxed_str())).await;
        let (mut reader, mut writer) = http_transport(&url, HttpOptions::default()).unwrap();
        writer.write_message(tools_list()).await.unwrap();
        let failed = tokio::time::timeout(PATIENCE, async {
            loop {
                match reader.read_message().await {
                    // What the server did send is handed on first.
                    Some(Ok(_)) => {}
                    other => return other,
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("still waiting: {expected}"));
        match failed {
            Some(Err(mcp_core::Error::RequestFailed { id, reason })) => {
                assert_eq!(id, mcp_core::RequestId::Number(1));
                assert!(
                    reason.to_string().contains(expected),
                    "{expected}: {reason}"
                );
            }
            other => panic!("{expected}: {other:?}"),
        }
    }
}
