//! The redirect URI of a native client (RFC 8252 §7.3): a small HTTP/1.1
//! listener on 127.0.0.1 that takes the one authorization response meant
//! for it.

use std::future::poll_fn;
use std::task::Poll;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::{CallbackParams, PendingAuthorization, Verdict};
use crate::error::Error;

/// The path answers come to.
const PATH: &str = "/callback";
/// Largest request head read; a callback's query is well under this.
const MAX_HEAD: usize = 8 * 1024;
/// Connections read at once; more are dropped.
const MAX_CONNECTIONS: usize = 16;
/// A bound on reading one request and writing one answer, so a connection
/// that says nothing (a browser's preconnect) never holds the others up.
const PER_CONNECTION: Duration = Duration::from_secs(10);

/// A listener on `127.0.0.1` for the authorization response, at
/// `http://127.0.0.1:<port>/callback`.
///
/// [`wait`](Self::wait) serves until the answer to the pending request
/// comes: requests to other paths (`/favicon.ico`) get 404, and callbacks
/// without this request's `state` get 400 and are otherwise ignored, so a
/// page cannot end the flow with a forged answer. The browser is shown a
/// short page saying it can be closed.
#[derive(Debug)]
#[non_exhaustive]
pub struct LoopbackRedirect {
    listener: TcpListener,
    redirect_uri: String,
}

/// What the accept loop is woken by.
enum Event {
    Accepted(std::io::Result<TcpStream>),
    Read(Result<(TcpStream, Option<Head>), tokio::task::JoinError>),
}

/// The request line of one request.
struct Head {
    method: String,
    target: String,
}

impl LoopbackRedirect {
    /// Listens on a free port of 127.0.0.1.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when no port can be bound.
    pub async fn bind() -> Result<Self, Error> {
        Self::bind_port(0).await
    }

    /// Listens on `port` of 127.0.0.1, for a server that registered the
    /// redirect URI with a fixed port (0 picks a free one).
    ///
    /// # Errors
    /// [`Error::Unavailable`] when the port cannot be bound.
    pub async fn bind_port(port: u16) -> Result<Self, Error> {
        let unavailable = |e: std::io::Error| {
            Error::Unavailable(format!("cannot listen on 127.0.0.1:{port}: {e}"))
        };
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(unavailable)?;
        let port = listener.local_addr().map_err(unavailable)?.port();
        Ok(Self {
            listener,
            redirect_uri: format!("http://127.0.0.1:{port}{PATH}"),
        })
    }

    /// `http://127.0.0.1:<port>/callback`, to register and to send as
    /// `redirect_uri`.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// Serves until the answer to `pending` arrives, for at most
    /// `timeout`, and returns its parameters, checked as
    /// [`complete`](super::complete) checks them (which redeems them).
    ///
    /// # Errors
    /// [`Error::Refused`] when the answer is an OAuth error
    /// (`access_denied` when the user declined); [`Error::InvalidResponse`]
    /// when it fails the `iss` check or has no code;
    /// [`Error::Timeout`] when no answer came in time; [`Error::Config`]
    /// when `pending` was made for another redirect URI;
    /// [`Error::Unavailable`] when the listener fails.
    pub async fn wait(
        self,
        pending: &PendingAuthorization,
        timeout: Duration,
    ) -> Result<CallbackParams, Error> {
        if pending.redirect_uri() != self.redirect_uri {
            return Err(Error::Config(format!(
                "the request was made for {}, not {}",
                pending.redirect_uri(),
                self.redirect_uri
            )));
        }
        let deadline = Instant::now() + timeout;
        let mut reads = JoinSet::new();
        loop {
            let event = poll_fn(|cx| {
                if let Poll::Ready(accepted) = self.listener.poll_accept(cx) {
                    return Poll::Ready(Event::Accepted(accepted.map(|(s, _)| s)));
                }
                match reads.poll_join_next(cx) {
                    Poll::Ready(Some(read)) => Poll::Ready(Event::Read(read)),
                    _ => Poll::Pending,
                }
            });
            let Ok(event) = tokio::time::timeout_at(deadline, event).await else {
                return Err(Error::Timeout(format!(
                    "no authorization response at {} within {timeout:?}",
                    self.redirect_uri
                )));
            };
            match event {
                Event::Accepted(Ok(stream)) => {
                    if reads.len() < MAX_CONNECTIONS {
                        reads.spawn(read_head(stream));
                    }
                }
                Event::Accepted(Err(e)) => {
                    return Err(Error::Unavailable(format!(
                        "the listener at {} failed: {e}",
                        self.redirect_uri
                    )));
                }
                Event::Read(Ok((stream, Some(head)))) => {
                    if let Some(outcome) = answer(stream, pending, &head).await {
                        return outcome;
                    }
                }
                // Unreadable requests were answered or dropped already.
                Event::Read(_) => {}
            }
        }
    }
}

/// Reads one request head and returns its request line (`None` when the
/// request is malformed, too big or too slow; it is answered 400 when it
/// got that far).
async fn read_head(mut stream: TcpStream) -> (TcpStream, Option<Head>) {
    let read = tokio::time::timeout(PER_CONNECTION, async {
        let mut buf = Vec::with_capacity(1024);
        let mut chunk = [0u8; 1024];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 || buf.len() + n > MAX_HEAD {
                return None;
            }
            buf.extend_from_slice(chunk.get(..n)?);
        }
        Some(buf)
    })
    .await;
    let head = read.ok().flatten().and_then(|buf| {
        let line = buf.split(|&b| b == b'\r').next()?;
        let line = std::str::from_utf8(line).ok()?;
        let mut parts = line.split(' ');
        let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
        (parts.next().is_none() && version.starts_with("HTTP/1.")).then(|| Head {
            method: method.to_owned(),
            target: target.to_owned(),
        })
    });
    if head.is_none() {
        respond(
            &mut stream,
            400,
            "Bad Request",
            "This request could not be read.",
        )
        .await;
    }
    (stream, head)
}

/// Answers one request; `Some` when it ends the wait.
async fn answer(
    mut stream: TcpStream,
    pending: &PendingAuthorization,
    head: &Head,
) -> Option<Result<CallbackParams, Error>> {
    let (path, query) = head
        .target
        .split_once('?')
        .unwrap_or((head.target.as_str(), ""));
    if path != PATH {
        respond(&mut stream, 404, "Not Found", "Nothing here.").await;
        return None;
    }
    if head.method != "GET" {
        respond(
            &mut stream,
            405,
            "Method Not Allowed",
            "Only GET is served here.",
        )
        .await;
        return None;
    }
    let params = CallbackParams::from_query(query);
    let outcome = match pending.examine(&params) {
        Verdict::Foreign => {
            respond(
                &mut stream,
                400,
                "Bad Request",
                "This answer does not belong to the authorization in progress.",
            )
            .await;
            return None;
        }
        Verdict::Refused(e) => {
            let text = match &e {
                Error::OAuth { error, .. } => format!(
                    "Authorization was not granted ({}). You can close this page.",
                    escape(error)
                ),
                _ => "The authorization response could not be verified. You can close this page."
                    .to_owned(),
            };
            respond(&mut stream, 200, "OK", &text).await;
            Err(e)
        }
        Verdict::Code(_) => {
            respond(
                &mut stream,
                200,
                "OK",
                "Authorization complete. You can close this page and return to the application.",
            )
            .await;
            Ok(())
        }
    };
    Some(outcome.map(|()| params))
}

/// Writes a small HTML page and closes; a client gone already is no
/// matter.
async fn respond(stream: &mut TcpStream, status: u16, reason: &str, text: &str) {
    let body = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Authorization</title></head>\
         <body><p>{text}</p></body></html>\n"
    );
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\n\
         content-type: text/html; charset=utf-8\r\n\
         content-length: {}\r\n\
         cache-control: no-store\r\n\
         referrer-policy: no-referrer\r\n\
         x-content-type-options: nosniff\r\n\
         content-security-policy: default-src 'none'\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(PER_CONNECTION, async {
        stream.write_all(response.as_bytes()).await?;
        stream.shutdown().await
    })
    .await;
}

/// `text` safe inside HTML.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
