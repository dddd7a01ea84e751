//! What every path of the endpoint shares: the server, the options, the
//! permits and quotas of all requests, and the shutdown signal.

use std::sync::Arc;

use http::Response;
use mcp_core::Request;
use tokio::sync::{Semaphore, watch};

use super::body::Body;
use super::options::HttpOptions;
use super::reply::limited;
use crate::handler::Handler;
use crate::quota::{ClientQuota, Quotas};
use crate::session::peer::Outbox;
use crate::session::{Admission, Call, Route, Server};

pub(super) struct Shared<H: Handler> {
    pub(super) server: Server<H>,
    pub(super) options: HttpOptions,
    /// Permits to run a request, shared by every request of every client.
    pub(super) permits: Arc<Semaphore>,
    /// What each client holds.
    pub(super) quotas: Arc<Quotas>,
    /// Set when shutdown begins.
    pub(super) closing: watch::Sender<bool>,
    /// Never read: held so that a request's receiver is never the last
    /// one, whose drop takes a lock to wake the sender's waiters.
    pub(super) _watching: watch::Receiver<bool>,
}

impl<H: Handler> Shared<H> {
    /// The route of one POST's messages: answers go to `reply`; requests
    /// count against the client's quota and wait for a permit.
    pub(super) fn route(&self, reply: Outbox, extensions: http::Extensions) -> Route {
        Route {
            reply,
            admission: Admission {
                client: ClientQuota::of(&self.quotas, &extensions),
                wait: Some(self.options.permit_timeout),
                rates_checked: false,
            },
            extensions: Arc::new(extensions),
            closing: self.closing.subscribe(),
            transport: crate::telemetry::Transport::Http,
        }
    }

    /// Spends what request `req` costs from its caller's rate limits;
    /// `Err` is the refusal to answer with.
    pub(super) async fn check_rates(
        &self,
        extensions: &http::Extensions,
        req: &Request,
        call: &Call,
    ) -> Result<(), Response<Body>> {
        let Some(limits) = &self.server.options().rate_limits else {
            return Ok(());
        };
        limits
            .check(extensions, &req.method, call.as_deref().ok())
            .await
            .map_err(|refusal| limited(&refusal, Some(req.id.clone())))
    }

    pub(super) fn is_closing(&self) -> bool {
        *self.closing.borrow()
    }
}

/// Completes once shutdown has begun.
pub(super) async fn shutting_down(closing: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns must not live across an await.
    let _ = closing.wait_for(|c| *c).await.is_ok();
}

/// The caller an authentication layer vouched for, if any.
pub(super) fn principal_of(extensions: &http::Extensions) -> Option<String> {
    extensions
        .get::<mcp_core::transport::Principal>()
        .map(|p| p.0.to_string())
}

/// A new session id: 128 random bits, hex, unguessable and header-safe.
/// `None` without a random source: no id is safe to hand out then.
pub(super) fn session_id() -> Option<String> {
    let mut bytes = [0u8; 16];
    if let Err(e) = getrandom::fill(&mut bytes) {
        tracing::error!(error = %e, "no random source for session ids");
        return None;
    }
    Some(mcp_core::hex::encode(&bytes))
}
