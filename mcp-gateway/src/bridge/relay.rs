//! The relay: messages both ways between a local frame transport (stdio)
//! and a remote message transport (Streamable HTTP), forwarded as a
//! client would send them.

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use mcp_core::headers::{Mirrored, ParamHeader};
use mcp_core::jsonrpc::Incoming;
use mcp_core::tools::ListToolsResult;
use mcp_core::transport::{FrameRead, FrameWrite, MessageRead, MessageWrite, Mirror, Outgoing};
use mcp_core::{Message, RequestId};

/// Relays messages both ways between a `local` frame transport (stdio)
/// and a `remote` message transport (Streamable HTTP), until the local
/// side closes (then the remote writer is closed too) or the remote side
/// ends.
///
/// A relay is a client of the remote server as far as the transport goes:
/// it tells each message it forwards what it is, and mirrors requests into
/// headers as a client does ([`Mirroring`]).
///
/// # Errors
/// A fatal error of either side.
pub async fn relay(
    (mut local_in, mut local_out): (impl FrameRead, impl FrameWrite),
    (mut remote_in, mut remote_out): (impl MessageRead, impl MessageWrite),
) -> Result<(), mcp_core::Error> {
    let mirroring = std::sync::Mutex::new(Mirroring::default());
    let up = async {
        loop {
            match local_in.read_frame().await {
                Some(Ok(frame)) => {
                    let message = mirroring
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .outgoing(frame);
                    remote_out.write_message(message).await?;
                }
                Some(Err(e)) if !e.is_fatal() => tracing::warn!("skipped a local frame: {e}"),
                Some(Err(e)) => return Err(e),
                None => return remote_out.close().await,
            }
        }
    };
    let down = async {
        while let Some(incoming) = remote_in.read_message().await {
            let incoming = match incoming {
                Ok(incoming) => incoming,
                Err(e) if !e.is_fatal() => {
                    tracing::warn!("skipped a remote message: {e}");
                    continue;
                }
                Err(e) => return Err(e),
            };
            let frame = mirroring
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .incoming(incoming);
            if let Some(frame) = frame {
                local_out.write_frame(frame).await?;
            }
        }
        local_out.close().await
    };
    tokio::select! {
        done = up => done,
        done = down => done,
    }
}

/// What a relay tracks to forward messages as a client would: the
/// `x-mcp-header` parameters of the tools the server listed (tools whose
/// annotations are invalid are left out of the list, as Streamable HTTP
/// clients must), and which requests were `tools/list`.
#[derive(Debug, Default)]
pub struct Mirroring {
    listing: HashSet<RequestId>,
    headers: HashMap<String, Vec<ParamHeader>>,
}

impl Mirroring {
    /// A local frame as the message to send: what it is, and for a request
    /// the headers that mirror it. A frame that is not a message goes as
    /// it is, for the server to refuse.
    pub fn outgoing(&mut self, frame: Bytes) -> Outgoing {
        let Ok(message) = Message::from_slice(&frame) else {
            return Outgoing::batch(frame);
        };
        match message {
            Message::Request(request) => {
                let peek = Mirrored::of(request.params.as_deref());
                let mut mirror = Mirror::default();
                mirror.protocol_version = peek.protocol_version().map(|v| v.as_str().to_owned());
                mirror.name = peek.name_for(&request.method).map(str::to_owned);
                if let (Some(tool), Some(arguments)) = (&peek.name, &peek.arguments)
                    && request.method == "tools/call"
                {
                    for param in self.headers.get(tool).into_iter().flatten() {
                        if let Ok(Some(value)) = param.value_in(arguments) {
                            mirror.params.push((param.header().to_owned(), value));
                        }
                    }
                }
                if request.method == "tools/list" {
                    self.listing.insert(request.id.clone());
                }
                Outgoing::request(request.id, request.method, frame).with_mirror(mirror)
            }
            Message::Notification(n) => Outgoing::notification(n.method, frame),
            Message::Response(r) => Outgoing::response(Some(r.id), frame),
            Message::Error(e) => Outgoing::response(e.id, frame),
        }
    }

    /// A remote message as the local frame to write (a `tools/list`
    /// result without the tools a client must leave out); `None` when it
    /// cannot be encoded.
    pub fn incoming(&mut self, incoming: Incoming) -> Option<Bytes> {
        let encoded = match incoming {
            Incoming::Single(Message::Response(response)) if self.listing.remove(&response.id) => {
                let checked = response.result::<ListToolsResult>().ok().and_then(|mut list| {
                    list.tools.retain(|tool| match ParamHeader::from_schema(&tool.input_schema) {
                        Ok(params) => {
                            self.headers.insert(tool.name.clone(), params);
                            true
                        }
                        Err(why) => {
                            tracing::warn!(tool = %tool.name, %why, "tool left out: invalid x-mcp-header");
                            false
                        }
                    });
                    mcp_core::Response::typed(response.id.clone(), &list).ok()
                });
                Message::from(checked.unwrap_or(response)).to_vec()
            }
            Incoming::Single(message) => message.to_vec(),
            Incoming::Batch(items) => {
                let items: Vec<Message> = items.into_iter().flatten().collect();
                serde_json::to_vec(&items).map_err(|e| mcp_core::Error::Encode {
                    message: e.to_string(),
                })
            }
        };
        encoded.ok().map(Bytes::from)
    }
}
