//! One HTTP request of the transport, and its response.
//!
//! Requests to the transport's own `http://` URL, when no proxy is set for
//! it, go straight to hyper's HTTP/1 connections, pooled for that one
//! origin ([`super::pool`]): reqwest's layers around hyper cost about
//! 40,000 instructions per request (its redirect policy alone parses the
//! URL again every time), more than a plain server spends answering one.
//! Everything else goes through reqwest, with its TLS, proxies and
//! redirects: `https://` URLs, URLs a
//! proxy intercepts, URLs with credentials in them (reqwest turns those
//! into Basic authorization), the HTTP+SSE endpoint, and a request the
//! direct path was answered with a redirect to (it is sent again, through
//! reqwest, as is every later one: the endpoint redirects).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use http_body_util::{BodyExt, Either, Empty, Full};
use hyper_util::client::proxy::matcher::Matcher;

use crate::error::Error;

use super::HttpOptions;
use super::pool::{Lease, Pool};

/// A request, before it is given to either client.
pub(super) struct Request {
    pub(super) method: Method,
    /// Where to; `None` for the transport's URL.
    pub(super) url: Option<reqwest::Url>,
    pub(super) headers: HeaderMap,
    pub(super) body: Option<Bytes>,
}

impl Request {
    /// A request to the transport's URL.
    pub(super) fn new(method: Method, headers: HeaderMap) -> Self {
        Self {
            method,
            url: None,
            headers,
            body: None,
        }
    }

    /// This request to `url` instead.
    pub(super) fn to(mut self, url: reqwest::Url) -> Self {
        self.url = Some(url);
        self
    }

    /// This request with `body`.
    pub(super) fn body(mut self, body: Bytes) -> Self {
        self.body = Some(body);
        self
    }
}

/// The two clients, and what decides between them.
pub(super) struct Wire {
    url: reqwest::Url,
    reqwest: reqwest::Client,
    /// The direct path's connections, when the URL may use it.
    direct: Option<Arc<Pool>>,
    /// Set once the direct path was answered with a redirect: from then
    /// on requests go through reqwest, which follows it, rather than twice.
    redirects: AtomicBool,
    read_timeout: Duration,
}

impl Wire {
    /// The clients for the transport's `url`, configured alike.
    pub(super) fn new(url: reqwest::Url, options: &HttpOptions) -> Result<Self, Error> {
        let reqwest = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .read_timeout(options.read_timeout)
            .build()
            .map_err(|e| {
                Error::Transport(mcp_core::Error::Io {
                    kind: std::io::ErrorKind::Other,
                    message: e.to_string(),
                })
            })?;
        // The matcher reqwest builds for itself, from the same environment.
        let direct = direct_uri(&url, &Matcher::from_system())
            .and_then(|uri| Pool::new(uri, options.connect_timeout));
        Ok(Self {
            url,
            reqwest,
            direct,
            redirects: AtomicBool::new(false),
            read_timeout: options.read_timeout,
        })
    }

    /// The transport's URL.
    pub(super) fn url(&self) -> &reqwest::Url {
        &self.url
    }

    /// Sends `request`; its response, whatever the status, once its head
    /// came. A redirect from the direct path is followed by sending
    /// `again()` through reqwest.
    ///
    /// # Errors
    /// The reason, as text, when the server could not be reached or did
    /// not answer within the read timeout.
    pub(super) async fn send(
        &self,
        request: Request,
        again: impl FnOnce() -> Request,
    ) -> Result<Response, String> {
        if let (Some(pool), None) = (&self.direct, &request.url)
            && !self.redirects.load(Ordering::Relaxed)
        {
            let response = self.send_direct(pool, request).await?;
            if !is_redirect(&response) {
                return Ok(response);
            }
            self.redirects.store(true, Ordering::Relaxed);
            return self.send_reqwest(again()).await;
        }
        self.send_reqwest(request).await
    }

    async fn send_direct(&self, pool: &Arc<Pool>, request: Request) -> Result<Response, String> {
        let body = match request.body {
            Some(body) => Either::Left(Full::new(body)),
            None => Either::Right(Empty::new()),
        };
        let mut outgoing = http::Request::new(body);
        *outgoing.method_mut() = request.method;
        *outgoing.headers_mut() = request.headers;
        // As reqwest does when a request names none.
        outgoing
            .headers_mut()
            .entry(http::header::ACCEPT)
            .or_insert(http::HeaderValue::from_static("*/*"));
        match tokio::time::timeout(self.read_timeout, pool.send(outgoing)).await {
            Ok(Ok((response, lease))) => Ok(Response::Direct {
                response,
                read_timeout: self.read_timeout,
                lease,
            }),
            Ok(Err(e)) => Err(format!(
                "HTTP request to {} failed: {}",
                self.url,
                with_sources(&*e)
            )),
            Err(_) => Err(format!(
                "HTTP request to {} failed: no answer within {:?}",
                self.url, self.read_timeout
            )),
        }
    }

    async fn send_reqwest(&self, request: Request) -> Result<Response, String> {
        let url = request.url.unwrap_or_else(|| self.url.clone());
        let mut builder = self
            .reqwest
            .request(request.method, url)
            .headers(request.headers);
        if let Some(body) = request.body {
            builder = builder.body(body);
        }
        builder
            .send()
            .await
            .map(Response::Reqwest)
            .map_err(|e| format!("HTTP request failed: {e}"))
    }
}

/// The URL as a URI for the direct path: an `http://` URL no proxy
/// intercepts, without credentials (which reqwest sends as Basic
/// authorization, and keeps out of its messages).
fn direct_uri(url: &reqwest::Url, proxies: &Matcher) -> Option<http::Uri> {
    if url.scheme() != "http" || !url.username().is_empty() || url.password().is_some() {
        return None;
    }
    let uri = http::Uri::try_from(url.as_str()).ok()?;
    proxies.intercept(&uri).is_none().then_some(uri)
}

/// A status reqwest's redirect policy would follow.
fn is_redirect(response: &Response) -> bool {
    matches!(
        response.status(),
        StatusCode::MOVED_PERMANENTLY
            | StatusCode::FOUND
            | StatusCode::SEE_OTHER
            | StatusCode::TEMPORARY_REDIRECT
            | StatusCode::PERMANENT_REDIRECT
    ) && response.headers().contains_key(http::header::LOCATION)
}

/// An error and its causes, as one line: hyper's own message names only
/// the kind ("client error (Connect)").
fn with_sources(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A response from either client.
pub(super) enum Response {
    Reqwest(reqwest::Response),
    Direct {
        response: http::Response<hyper::body::Incoming>,
        read_timeout: Duration,
        /// The connection, given back to the pool at the body's end.
        lease: Lease,
    },
}

impl Response {
    pub(super) fn status(&self) -> StatusCode {
        match self {
            Self::Reqwest(r) => r.status(),
            Self::Direct { response, .. } => response.status(),
        }
    }

    pub(super) fn headers(&self) -> &HeaderMap {
        match self {
            Self::Reqwest(r) => r.headers(),
            Self::Direct { response, .. } => response.headers(),
        }
    }

    /// The body's length, when the server said it in advance.
    pub(super) fn content_length(&self) -> Option<u64> {
        match self {
            Self::Reqwest(r) => r.content_length(),
            Self::Direct { response, .. } => http_body::Body::size_hint(response.body()).exact(),
        }
    }

    /// The URL that answered (after redirects), when not the transport's.
    pub(super) fn redirected_url(&self) -> Option<&reqwest::Url> {
        match self {
            Self::Reqwest(r) => Some(r.url()),
            Self::Direct { .. } => None,
        }
    }

    /// The next piece of the body; `None` at its end.
    ///
    /// # Errors
    /// When reading fails, or no bytes came within the read timeout
    /// ([`std::io::ErrorKind::TimedOut`]).
    pub(super) async fn chunk(&mut self) -> Result<Option<Bytes>, std::io::Error> {
        match self {
            Self::Reqwest(r) => r.chunk().await.map_err(|e| {
                let kind = if e.is_timeout() {
                    std::io::ErrorKind::TimedOut
                } else {
                    std::io::ErrorKind::Other
                };
                std::io::Error::new(kind, e)
            }),
            Self::Direct {
                response,
                read_timeout,
                lease,
            } => loop {
                let frame = tokio::time::timeout(*read_timeout, response.body_mut().frame())
                    .await
                    .map_err(|_| {
                        std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            format!("no bytes within {read_timeout:?}"),
                        )
                    })?;
                match frame {
                    None => {
                        lease.release();
                        return Ok(None);
                    }
                    Some(Err(e)) => return Err(std::io::Error::other(with_sources(&e))),
                    // Trailers carry nothing the transport reads.
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data() {
                            return Ok(Some(data));
                        }
                    }
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> reqwest::Url {
        reqwest::Url::parse(s).unwrap()
    }

    #[test]
    fn only_unproxied_plain_http_goes_direct() {
        let none = Matcher::builder().build();
        assert!(direct_uri(&url("http://127.0.0.1:8080/mcp"), &none).is_some());
        assert!(direct_uri(&url("https://example.com/mcp"), &none).is_none());

        let proxied = Matcher::builder()
            .http("http://proxy.internal:3128")
            .no("localhost, 10.0.0.0/8")
            .build();
        assert!(direct_uri(&url("http://example.com/mcp"), &proxied).is_none());
        assert!(direct_uri(&url("http://localhost:9000/mcp"), &proxied).is_some());
        assert!(direct_uri(&url("http://10.1.2.3/mcp"), &proxied).is_some());

        // Credentials in the URL are reqwest's to send.
        assert!(direct_uri(&url("http://u:p@127.0.0.1:8080/mcp"), &none).is_none());
        assert!(direct_uri(&url("http://u@127.0.0.1:8080/mcp"), &none).is_none());
    }

    /// A server that answers `/old` with a 307 to `/new` and `/new` with
    /// the body it was sent; the paths it was asked for.
    async fn redirecting_server() -> (reqwest::Url, tokio::sync::mpsc::UnboundedReceiver<String>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = url(&format!("http://{}/old", listener.local_addr().unwrap()));
        let (seen, paths) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut request = Vec::new();
                let mut buffer = [0; 4096];
                let (head, body) = loop {
                    let n = stream.read(&mut buffer).await.unwrap();
                    request.extend_from_slice(&buffer[..n]);
                    let text = String::from_utf8_lossy(&request).into_owned();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let length = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length: ")
                                    .map(str::to_owned)
                            })
                            .map_or(0, |n| n.trim().parse().unwrap());
                        if body.len() >= length {
                            break (head.to_owned(), body.to_owned());
                        }
                    }
                };
                let path = head.split(' ').nth(1).unwrap().to_owned();
                let response = if path == "/old" {
                    "HTTP/1.1 307 Temporary Redirect\r\nlocation: /new\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_owned()
                } else {
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    )
                };
                seen.send(path).unwrap();
                stream.write_all(response.as_bytes()).await.unwrap();
            }
        });
        (url, paths)
    }

    #[tokio::test]
    async fn a_redirect_on_the_direct_path_is_followed_through_reqwest() {
        let (url, mut paths) = redirecting_server().await;
        let wire = Wire::new(url, &HttpOptions::default()).unwrap();
        assert!(wire.direct.is_some());
        let post = || Request::new(Method::POST, HeaderMap::new()).body(Bytes::from_static(b"{}"));
        let mut response = wire.send(post(), post).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.redirected_url().unwrap().path().ends_with("/new"));
        assert_eq!(
            response.chunk().await.unwrap().unwrap(),
            Bytes::from_static(b"{}")
        );
        // Direct to /old; reqwest to /old again, and on to /new with the body.
        for expected in ["/old", "/old", "/new"] {
            assert_eq!(paths.recv().await.unwrap(), expected);
        }
        // The endpoint redirects: the next request goes through reqwest at
        // once, not twice.
        let mut response = wire.send(post(), post).await.unwrap();
        assert_eq!(
            response.chunk().await.unwrap().unwrap(),
            Bytes::from_static(b"{}")
        );
        for expected in ["/old", "/new"] {
            assert_eq!(paths.recv().await.unwrap(), expected);
        }
        assert!(paths.try_recv().is_err());
    }

    /// A server that reads each request's head, then sends `answer` and
    /// stalls, holding the connection open.
    async fn stalling_server(answer: &'static str) -> reqwest::Url {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = url(&format!("http://{}/mcp", listener.local_addr().unwrap()));
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut buffer = [0; 4096];
                let _ = stream.read(&mut buffer).await;
                stream.write_all(answer.as_bytes()).await.unwrap();
                held.push(stream);
            }
        });
        url
    }

    fn quick() -> HttpOptions {
        HttpOptions {
            read_timeout: Duration::from_millis(200),
            ..HttpOptions::default()
        }
    }

    #[tokio::test]
    async fn a_server_that_never_answers_is_given_up_on() {
        let wire = Wire::new(stalling_server("").await, &quick()).unwrap();
        assert!(wire.direct.is_some());
        let get = || Request::new(Method::GET, HeaderMap::new());
        // Bounded, so that a regression fails rather than hangs.
        let sent = tokio::time::timeout(Duration::from_secs(10), wire.send(get(), get));
        let Err(why) = sent.await.expect("the read timeout never fired") else {
            panic!("a stalled server answered");
        };
        assert!(why.contains("no answer within"), "{why}");
    }

    #[tokio::test]
    async fn a_body_that_stops_coming_is_a_timeout() {
        let head = "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n{\"a\"";
        let wire = Wire::new(stalling_server(head).await, &quick()).unwrap();
        let get = || Request::new(Method::GET, HeaderMap::new());
        let mut response = wire.send(get(), get).await.unwrap();
        assert_eq!(response.content_length(), Some(10));
        assert_eq!(
            response.chunk().await.unwrap().unwrap(),
            Bytes::from_static(b"{\"a\"")
        );
        let e = tokio::time::timeout(Duration::from_secs(10), response.chunk())
            .await
            .expect("the read timeout never fired")
            .unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
    }

    #[tokio::test]
    async fn an_unreachable_server_is_named_with_the_cause() {
        // A port just released: nothing listens there.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = url(&format!("http://{}/mcp", listener.local_addr().unwrap()));
        drop(listener);
        let wire = Wire::new(url.clone(), &HttpOptions::default()).unwrap();
        let get = || Request::new(Method::GET, HeaderMap::new());
        let Err(why) = wire.send(get(), get).await else {
            panic!("nothing listens, yet it answered");
        };
        assert!(
            why.contains(url.as_str()) && why.contains("onnect"),
            "{why}"
        );
    }

    #[test]
    fn the_uri_keeps_the_path_and_query() {
        let none = Matcher::builder().build();
        let uri = direct_uri(&url("http://127.0.0.1:8080/a/mcp?x=1"), &none).unwrap();
        assert_eq!(uri.path_and_query().unwrap().as_str(), "/a/mcp?x=1");
        assert_eq!(uri.port_u16(), Some(8080));
    }
}
