//! Serving the endpoint on a TCP listener with hyper.

use std::future::Future;
use std::sync::Arc;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

use super::service::StreamableHttp;
use crate::handler::Handler;

/// Serves `endpoint` at `path` on `listener` (HTTP/1.1 and HTTP/2) until
/// `shutdown` completes; then stops accepting, shuts the endpoint down
/// ([`StreamableHttp::shutdown`]) and returns once the requests in flight
/// are answered. Requests to other paths get 404. Each request carries the
/// client's `SocketAddr` in its extensions.
///
/// # Errors
/// When accepting connections fails for good.
pub async fn serve<H: Handler>(
    listener: TcpListener,
    path: &str,
    endpoint: StreamableHttp<H>,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let path: Arc<str> = Arc::from(path);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => accepted?,
            () = &mut shutdown => break,
        };
        // Small request/response exchanges: do not wait to coalesce.
        let _ = stream.set_nodelay(true);
        let endpoint = endpoint.clone();
        let path = Arc::clone(&path);
        let service = tower_service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
            // Layers and handlers see who connected (security logs).
            req.extensions_mut().insert(peer);
            let mut endpoint = endpoint.clone();
            let path = Arc::clone(&path);
            async move {
                if req.uri().path() != &*path {
                    let mut res = http::Response::new(super::Body::full("not found"));
                    *res.status_mut() = http::StatusCode::NOT_FOUND;
                    return Ok::<_, std::convert::Infallible>(res);
                }
                tower_service::Service::call(&mut endpoint, req).await
            }
        });
        let builder = Builder::new(TokioExecutor::new());
        let conn = builder.serve_connection_with_upgrades(
            TokioIo::new(stream),
            TowerToHyperService::new(service),
        );
        let conn = graceful.watch(conn.into_owned());
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
            }
        });
    }
    // Streams waiting for server messages end, requests in flight finish
    // (within the grace period); then the connections close.
    endpoint.shutdown();
    graceful.shutdown().await;
    Ok(())
}

/// A tower service from a closure.
fn tower_service_fn<F, Fut, Req, Res, E>(f: F) -> ServiceFn<F>
where
    F: FnMut(Req) -> Fut,
    Fut: Future<Output = Result<Res, E>>,
{
    ServiceFn(f)
}

#[derive(Clone)]
struct ServiceFn<F>(F);

impl<F, Fut, Req, Res, E> tower_service::Service<Req> for ServiceFn<F>
where
    F: FnMut(Req) -> Fut,
    Fut: Future<Output = Result<Res, E>>,
{
    type Response = Res;
    type Error = E;
    type Future = Fut;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), E>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Req) -> Fut {
        (self.0)(req)
    }
}
