//! Notifications from the server, as a stream.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use mcp_core::logging::LoggingMessageParams;
use mcp_core::method::{self, Notification as _};
use mcp_core::resources::ResourceUpdatedParams;
use mcp_core::{Notification, RequestId};
use tokio_stream::wrappers::BroadcastStream;

/// Something the server announced.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ServerNotification {
    /// The tool list changed: list the tools again.
    ToolListChanged,
    /// The prompt list changed.
    PromptListChanged,
    /// The resource list changed.
    ResourceListChanged,
    /// A subscribed resource changed.
    ResourceUpdated {
        /// The resource that changed.
        uri: String,
    },
    /// A log message.
    Log(LoggingMessageParams),
    /// The server ended a subscription (2026-07-28 `subscriptions/listen`).
    SubscriptionEnded {
        /// The `subscriptions/listen` request that ended.
        id: RequestId,
    },
    /// Any other notification, raw.
    Other(Notification),
}

impl ServerNotification {
    pub(crate) fn from_notification(n: Notification) -> Option<Self> {
        Some(match n.method.as_str() {
            method::ToolListChanged::NAME => Self::ToolListChanged,
            method::PromptListChanged::NAME => Self::PromptListChanged,
            method::ResourceListChanged::NAME => Self::ResourceListChanged,
            method::ResourceUpdated::NAME => Self::ResourceUpdated {
                uri: n.params::<ResourceUpdatedParams>().ok()?.uri,
            },
            method::LoggingMessage::NAME => Self::Log(n.params().ok()?),
            method::Cancelled::NAME => Self::SubscriptionEnded {
                id: n
                    .params::<mcp_core::notifications::CancelledParams>()
                    .ok()?
                    .request_id?,
            },
            // The acknowledgement is consumed by the subscription itself.
            method::SubscriptionsAcknowledged::NAME => return None,
            _ => Self::Other(n),
        })
    }
}

/// The server's notifications, from the moment the stream was created.
///
/// A slow reader may miss notifications (the buffer holds 256); list
/// changes are idempotent, so re-listing after any of them is enough.
#[derive(Debug)]
pub struct Notifications {
    inner: BroadcastStream<ServerNotification>,
}

impl Notifications {
    pub(crate) fn new(rx: tokio::sync::broadcast::Receiver<ServerNotification>) -> Self {
        Self {
            inner: BroadcastStream::new(rx),
        }
    }
}

impl Stream for Notifications {
    type Item = ServerNotification;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            match Pin::new(&mut self.inner).poll_next(cx) {
                Poll::Ready(Some(Ok(item))) => return Poll::Ready(Some(item)),
                // Lagged: skip what was lost and go on.
                Poll::Ready(Some(Err(_))) => {}
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}
