//! The redirect URI of a native client (RFC 8252 §7.3): a small HTTP/1.1
//! listener on 127.0.0.1 that takes the one authorization response meant
//! for it.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::time::Instant;

use super::{CallbackParams, PendingAuthorization, Verdict};
use crate::error::{Error, Reason};

/// The path answers come to.
const PATH: &str = "/callback";
/// Largest request head read; a callback's query is well under this.
const MAX_HEAD: usize = 8 * 1024;
/// Connections served at once; more are closed unread.
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

/// A callback's query, sent from a connection to [`LoopbackRedirect::wait`],
/// which alone can judge it, with the way back for the page to show.
type Callback = (String, oneshot::Sender<Page>);

/// What the wait loop is woken by.
enum Event {
    Accepted(std::io::Result<(tokio::net::TcpStream, std::net::SocketAddr)>),
    Callback(Callback),
}

/// What the browser is shown.
struct Page {
    status: StatusCode,
    text: String,
}

impl Page {
    fn new(status: StatusCode, text: impl Into<String>) -> Self {
        Self {
            status,
            text: text.into(),
        }
    }

    fn into_response(self) -> Response<Full<Bytes>> {
        let body = format!(
            "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Authorization</title></head>\
             <body><p>{}</p></body></html>\n",
            self.text
        );
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        for (name, value) in [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CONTENT_SECURITY_POLICY, "default-src 'none'"),
        ] {
            headers.insert(name, http::HeaderValue::from_static(value));
        }
        response
    }
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
            Error::Unavailable(Reason::caused_by(
                format!("cannot listen on 127.0.0.1:{port}: {e}"),
                e,
            ))
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
            return Err(Error::Config(
                format!(
                    "the request was made for {}, not {}",
                    pending.redirect_uri(),
                    self.redirect_uri
                )
                .into(),
            ));
        }
        let deadline = Instant::now() + timeout;
        let (callbacks, mut arrived) = mpsc::channel::<Callback>(MAX_CONNECTIONS);
        let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        loop {
            let event = tokio::select! {
                accepted = self.listener.accept() => Event::Accepted(accepted),
                Some(callback) = arrived.recv() => Event::Callback(callback),
                () = tokio::time::sleep_until(deadline) => {
                    return Err(Error::Timeout(format!(
                        "no authorization response at {} within {timeout:?}",
                        self.redirect_uri
                    ).into()));
                }
            };
            match event {
                Event::Accepted(Ok((stream, _))) => {
                    // Over the cap the connection is closed unread.
                    if let Ok(slot) = Arc::clone(&slots).try_acquire_owned() {
                        tokio::spawn(serve(stream, callbacks.clone(), slot));
                    }
                }
                Event::Accepted(Err(e)) => {
                    return Err(Error::Unavailable(
                        format!("the listener at {} failed: {e}", self.redirect_uri).into(),
                    ));
                }
                Event::Callback((query, reply)) => {
                    let (page, outcome) = judge(pending, &query);
                    // The connection writes the page on its own, within
                    // its bound, after the wait has returned.
                    let _ = reply.send(page);
                    if let Some(outcome) = outcome {
                        return outcome;
                    }
                }
            }
        }
    }
}

/// Serves one connection: one request, read and answered within
/// [`PER_CONNECTION`]. Callbacks go to the wait loop for judgement.
async fn serve(
    stream: tokio::net::TcpStream,
    callbacks: mpsc::Sender<Callback>,
    _slot: tokio::sync::OwnedSemaphorePermit,
) {
    let service = service_fn(move |request: Request<Incoming>| {
        let callbacks = callbacks.clone();
        async move { Ok::<_, Infallible>(route(&request, &callbacks).await.into_response()) }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(PER_CONNECTION)
        .max_buf_size(MAX_HEAD)
        .keep_alive(false)
        .serve_connection(TokioIo::new(stream), service);
    let _ = tokio::time::timeout(PER_CONNECTION, connection).await;
}

/// The page for one request; callbacks are judged by the wait loop.
async fn route(request: &Request<Incoming>, callbacks: &mpsc::Sender<Callback>) -> Page {
    if request.uri().path() != PATH {
        return Page::new(StatusCode::NOT_FOUND, "Nothing here.");
    }
    if request.method() != Method::GET {
        return Page::new(StatusCode::METHOD_NOT_ALLOWED, "Only GET is served here.");
    }
    let query = request.uri().query().unwrap_or_default().to_owned();
    let (reply, page) = oneshot::channel();
    if callbacks.send((query, reply)).await.is_err() {
        return Page::new(StatusCode::GONE, "No authorization is in progress.");
    }
    page.await
        .unwrap_or_else(|_| Page::new(StatusCode::GONE, "No authorization is in progress."))
}

/// Judges one callback: the page to show, and the outcome when it ends
/// the wait.
fn judge(
    pending: &PendingAuthorization,
    query: &str,
) -> (Page, Option<Result<CallbackParams, Error>>) {
    let params = CallbackParams::from_query(query);
    match pending.examine(&params) {
        Verdict::Foreign => (
            Page::new(
                StatusCode::BAD_REQUEST,
                "This answer does not belong to the authorization in progress.",
            ),
            None,
        ),
        Verdict::Refused(e) => {
            let text = match &e {
                Error::OAuth { error, .. } => format!(
                    "Authorization was not granted ({}). You can close this page.",
                    escape(error)
                ),
                _ => "The authorization response could not be verified. You can close this page."
                    .to_owned(),
            };
            (Page::new(StatusCode::OK, text), Some(Err(e)))
        }
        Verdict::Code(_) => (
            Page::new(
                StatusCode::OK,
                "Authorization complete. You can close this page and return to the application.",
            ),
            Some(Ok(params)),
        ),
    }
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
