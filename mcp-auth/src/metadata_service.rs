//! Serving a metadata document (Protected Resource Metadata, a Client ID
//! Metadata Document): public JSON, readable from any origin
//! (browser-based clients fetch it cross-origin).

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN, ALLOW,
    CACHE_CONTROL, CONTENT_TYPE,
};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;

use crate::metadata::ProtectedResourceMetadata;

/// Answers GET (and CORS preflights) with a metadata document: a
/// [`ProtectedResourceMetadata`], to mount at both of
/// [`ProtectedResourceMetadata::well_known_paths`], or a
/// [`ClientMetadataDocument`](crate::client::ClientMetadataDocument), to
/// mount at its `client_id` URL's path.
#[derive(Debug, Clone)]
pub struct MetadataService {
    body: Bytes,
}

impl MetadataService {
    /// Serves `document` as JSON.
    pub(crate) fn json<T: serde::Serialize>(document: &T) -> Self {
        Self {
            body: Bytes::from(serde_json::to_vec(document).unwrap_or_default()),
        }
    }
}

impl ProtectedResourceMetadata {
    /// A service serving this document.
    pub fn service(&self) -> MetadataService {
        MetadataService::json(self)
    }
}

impl<B> tower_service::Service<Request<B>> for MetadataService {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let (status, body) = match *req.method() {
            Method::GET => (StatusCode::OK, self.body.clone()),
            Method::HEAD | Method::OPTIONS => (StatusCode::NO_CONTENT, Bytes::new()),
            _ => (StatusCode::METHOD_NOT_ALLOWED, Bytes::new()),
        };
        let mut res = Response::new(Full::new(body));
        *res.status_mut() = status;
        let h = res.headers_mut();
        h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        h.insert(
            ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, OPTIONS"),
        );
        h.insert(ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("*"));
        h.insert(ALLOW, HeaderValue::from_static("GET, HEAD, OPTIONS"));
        if status == StatusCode::OK {
            h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            h.insert(
                CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            );
        }
        ready(Ok(res))
    }
}
