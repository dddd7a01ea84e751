//! POSTs without a session: a stateless 2026-07-28 request, checked
//! against its mirrored headers, or `initialize`, which starts a legacy
//! session.

use std::sync::Arc;

use http::request::Parts;
use http::{HeaderMap, Response, StatusCode};
use mcp_core::meta::RequestMeta;
use mcp_core::version::negotiate;
use mcp_core::{ErrorObject, Message, ProtocolVersion, headers};
use tokio::sync::mpsc;

use super::body::Body;
use super::respond::accepted;
use super::service::{Accepts, Inner, busy, error, header, unreadable};
use crate::handler::Handler;
use crate::session::peer::Outbox;

/// A mirrored header (`MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name`,
/// `Mcp-Param-*`) that appears more than once.
fn repeated_mirror(headers: &HeaderMap) -> Option<&str> {
    headers.keys().map(http::HeaderName::as_str).find(|name| {
        let mirrored = name.eq_ignore_ascii_case(headers::PROTOCOL_VERSION)
            || name.eq_ignore_ascii_case(headers::METHOD)
            || name.eq_ignore_ascii_case(headers::NAME)
            || name
                .get(..headers::PARAM_PREFIX.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(headers::PARAM_PREFIX));
        mirrored && headers.get_all(*name).iter().nth(1).is_some()
    })
}

impl<H: Handler> Inner<H> {
    /// A POST without a session: `initialize` (a new legacy session) or a
    /// stateless 2026-07-28 request.
    pub(super) async fn post_new(
        self: &Arc<Self>,
        parts: Parts,
        bytes: &[u8],
        accept: &Accepts,
    ) -> Response<Body> {
        let headers_in = &parts.headers;
        let message = match Message::from_slice(bytes) {
            Ok(message) => message,
            Err(e) => return unreadable(&e),
        };
        let Message::Request(req) = message else {
            // Notifications and responses need no answer; a modern client
            // cancels by closing its stream, so `cancelled` is moot here.
            return accepted();
        };
        let peek = headers::Mirrored::of(req.params.as_deref());
        let modern = peek
            .meta
            .as_ref()
            .is_some_and(|m| m.protocol_version.is_some());
        if req.method == "initialize" && self.options.legacy && !modern {
            return self.initialize(req, parts, accept).await;
        }
        let Some(meta) = peek.meta.as_ref().filter(|_| modern) else {
            let message = if self.options.legacy {
                "Bad Request: no Mcp-Session-Id header, and no _meta protocolVersion (2026-07-28)"
            } else {
                "Missing required _meta key \"io.modelcontextprotocol/protocolVersion\""
            };
            return error(
                StatusCode::BAD_REQUEST,
                Some(req.id),
                ErrorObject::invalid_params(message),
            );
        };
        // Methods 2026-07-28 removed are not found, with the status the
        // transport gives that.
        if mcp_core::method::lookup(&req.method, mcp_core::Era::Modern).is_none()
            && mcp_core::method::lookup(&req.method, mcp_core::Era::Legacy).is_some()
        {
            return error(
                StatusCode::NOT_FOUND,
                Some(req.id.clone()),
                ErrorObject::method_not_found(&req.method),
            );
        }
        if let Err(e) = RequestMeta::require_modern(Some(meta)) {
            return error(StatusCode::BAD_REQUEST, Some(req.id), e);
        }
        // A mirrored header given twice could say two things; reading
        // only one of them would let the body and a proxy disagree.
        if let Some(name) = repeated_mirror(headers_in) {
            return error(
                StatusCode::BAD_REQUEST,
                Some(req.id),
                ErrorObject::header_mismatch(format!("header {name} appears more than once")),
            );
        }
        // The headers mirror the body; a mismatch is reported before
        // anything else about the version.
        let version = meta
            .protocol_version
            .clone()
            .unwrap_or_else(|| ProtocolVersion::new(""));
        let mismatch = match header(headers_in, headers::PROTOCOL_VERSION) {
            Some(v) if v == version.as_str() => None,
            Some(v) => Some(format!(
                "MCP-Protocol-Version header value '{v}' does not match body value '{version}'"
            )),
            None => Some("MCP-Protocol-Version header is missing".to_owned()),
        };
        if let Some(why) = mismatch {
            return error(
                StatusCode::BAD_REQUEST,
                Some(req.id),
                ErrorObject::header_mismatch(why),
            );
        }
        if let Err(e) =
            negotiate::server_accept_modern(&version, &self.server.options().supported_versions)
        {
            return error(StatusCode::BAD_REQUEST, Some(req.id), e);
        }
        let name = peek.name_for(&req.method);
        let params = match (&req.method[..], name) {
            ("tools/call", Some(tool)) => {
                self.server.handler().tool(tool).map_or_else(Vec::new, |t| {
                    headers::ParamHeader::from_schema(&t.input_schema).unwrap_or_default()
                })
            }
            _ => Vec::new(),
        };
        let lookup = |h: &str| header(headers_in, h);
        if let Err(e) = headers::check(lookup, &req.method, name, &params, peek.arguments.as_ref())
        {
            return error(StatusCode::BAD_REQUEST, Some(req.id), e);
        }
        // A connection of its own: nothing is shared between requests.
        let (unused, _) = mpsc::channel(1);
        let conn = self
            .server
            .connection_sharing(unused, Arc::clone(&self.permits));
        let (reply, rx) = Outbox::channel(64);
        let route = self.route(reply, parts.extensions);
        let id = req.id.clone();
        // Admitted here, so that a refusal is an HTTP status a client and
        // a proxy understand. Subscriptions have limits of their own.
        if req.method == <mcp_core::method::Listen as mcp_core::method::Method>::NAME {
            conn.on_message(Message::Request(req), &route).await;
        } else {
            match conn.admit(&route.admission).await {
                Ok(admitted) => conn.on_admitted_request(req, &route, admitted).await,
                Err(refused) => return busy(refused, Some(req.id)),
            }
        }
        drop(route);
        self.respond_modern(rx, id, accept, conn).await
    }
}
