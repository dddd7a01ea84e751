//! Change announcements: list changes and resource updates, forwarded to
//! legacy sessions and to 2026-07-28 `subscriptions/listen` streams.

use std::sync::Arc;

use mcp_core::method;
use mcp_core::mrtr::InputResponses;
use mcp_core::notifications::NotificationParams;
use mcp_core::resources::ResourceUpdatedParams;
use mcp_core::security::SecurityEvent;
use mcp_core::subscriptions::{AcknowledgedParams, ListenParams, ListenResult, SubscriptionFilter};
use mcp_core::{ErrorObject, RequestId};
use tokio::sync::broadcast;

use super::connection::Connection;
use super::dispatcher::{Dispatcher, Reply, Route, encode};
use super::lifecycle::{SessionState, covers};
use crate::error::Error;
use crate::handler::{Handler, ServerEvent};
use crate::quota::Kind;

/// The changes to announce: the handler's own, and those other instances
/// announced (heard over an event bus).
pub(crate) struct Events {
    local: broadcast::Receiver<ServerEvent>,
    remote: broadcast::Receiver<ServerEvent>,
}

impl Events {
    async fn recv(&mut self) -> Result<ServerEvent, broadcast::error::RecvError> {
        tokio::select! {
            event = self.local.recv() => event,
            // The dispatcher holds the sender: this one never closes first.
            event = self.remote.recv() => event,
        }
    }
}

impl<H: Handler> Dispatcher<H> {
    /// The changes to announce, if the handler announces any.
    fn events(&self) -> Option<Events> {
        Some(Events {
            local: self.handler.events()?,
            remote: self.remote_events.subscribe(),
        })
    }
}

impl<H: Handler> Connection<H> {
    /// Forwards list changes and resource updates to an initialized legacy session.
    pub(super) fn start_legacy_events(self: &Arc<Self>) {
        let Some(mut events) = self.dispatcher().events() else {
            return;
        };
        let caps = self.dispatcher().handler.capabilities();
        let this = Arc::clone(self);
        let task = tokio::spawn(async move {
            loop {
                let event = match events.recv().await {
                    Ok(event) => event,
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => break,
                };
                // Where instances share the session, the one holding its
                // stream announces.
                if !this.announces() {
                    continue;
                }
                let empty = NotificationParams::default();
                let outbox = this.outbox();
                let sent = match event {
                    ServerEvent::ToolsChanged
                        if listed(caps.tools.as_ref().and_then(|c| c.list_changed)) =>
                    {
                        outbox.notify::<method::ToolListChanged>(&empty).await
                    }
                    ServerEvent::PromptsChanged
                        if listed(caps.prompts.as_ref().and_then(|c| c.list_changed)) =>
                    {
                        outbox.notify::<method::PromptListChanged>(&empty).await
                    }
                    ServerEvent::ResourcesChanged
                        if listed(caps.resources.as_ref().and_then(|c| c.list_changed)) =>
                    {
                        outbox.notify::<method::ResourceListChanged>(&empty).await
                    }
                    ServerEvent::ResourceUpdated(uri) if this.state().subscribed_to(&uri) => {
                        outbox
                            .notify::<method::ResourceUpdated>(&ResourceUpdatedParams::new(uri))
                            .await
                    }
                    _ => Ok(()),
                };
                if sent.is_err() {
                    break;
                }
            }
        });
        self.set_events_task(task.abort_handle());
    }
}

impl<H: Handler> Dispatcher<H> {
    /// `subscriptions/listen`: acknowledge, then stream matching events
    /// until the client cancels or the server closes.
    pub(super) async fn listen(
        &self,
        id: &RequestId,
        params: ListenParams,
        route: &Route,
        session: Option<&SessionState>,
    ) -> Reply {
        let served = self.serve_as::<method::Listen>(params.meta.as_ref(), session)?;
        let max = self.options.max_subscriptions;
        let asked = params
            .notifications
            .resource_subscriptions
            .as_ref()
            .map_or(0, Vec::len);
        if asked > max {
            return Err(ErrorObject::invalid_params(format!(
                "at most {max} resource subscriptions per stream; {asked} asked"
            )));
        }
        // Streams live until the client goes: each holds one of the
        // server's, and one of its client's, for as long as it runs.
        let _open = self.listens.try_acquire().map_err(|_| {
            let e = ErrorObject::internal_error(format!(
                "server busy: {} subscription streams open; retry later",
                self.options.max_listen_streams
            ));
            crate::security_event::refused(
                SecurityEvent::LimitReached,
                &route.extensions,
                &e.message(),
            );
            e
        })?;
        let _client = match &route.admission.client {
            Some(client) => Some(client.take(Kind::Listens).map_err(|limit| {
                let e = ErrorObject::internal_error(format!(
                    "too many subscription streams: this client has {limit} open; close one first"
                ));
                crate::security_event::refused(
                    SecurityEvent::QuotaExceeded,
                    &route.extensions,
                    &e.message(),
                );
                e
            })?),
            None => None,
        };
        let caps = self.handler.capabilities();
        let wanted = params.notifications;
        let mut honoured = SubscriptionFilter::default();
        let tools = caps.tools.as_ref().and_then(|c| c.list_changed) == Some(true);
        let prompts = caps.prompts.as_ref().and_then(|c| c.list_changed) == Some(true);
        let resources = caps.resources.as_ref();
        // Reports the accepted subscriptions ended however the stream
        // ends: closed by the client, cancelled, or the connection gone.
        let mut accepted = Accepted {
            handler: &self.handler,
            uris: Vec::new(),
        };
        honoured.tools_list_changed = wanted.tools_list_changed.filter(|&w| w && tools);
        honoured.prompts_list_changed = wanted.prompts_list_changed.filter(|&w| w && prompts);
        honoured.resources_list_changed = wanted
            .resources_list_changed
            .filter(|&w| w && resources.and_then(|r| r.list_changed) == Some(true));
        if resources.and_then(|r| r.subscribe) == Some(true)
            && let Some(uris) = wanted.resource_subscriptions
        {
            for uri in uris {
                let ctx = self.context(
                    route,
                    id,
                    &served,
                    params.meta.as_ref(),
                    InputResponses::new(),
                    session,
                );
                if self.handler.subscribe(ctx, uri.clone()).await.is_ok() {
                    accepted.uris.push(uri);
                }
            }
            honoured.resource_subscriptions = Some(accepted.uris.clone());
        }
        // Subscribe before acknowledging, so nothing after the
        // acknowledgement is missed.
        let mut events = self.events();
        let id = id.clone();
        route
            .reply
            .notify::<method::SubscriptionsAcknowledged>(&AcknowledgedParams::new(
                id.clone(),
                honoured.clone(),
            ))
            .await
            .map_err(Error::into_error_object)?;
        let mut closing = route.closing.clone();
        let tagged = NotificationParams::for_subscription(id.clone());
        loop {
            let event = tokio::select! {
                event = async {
                    match events.as_mut() {
                        Some(rx) => rx.recv().await,
                        None => std::future::pending().await,
                    }
                } => event,
                _ = closing.wait_for(|&c| c) => break,
            };
            let event = match event {
                Ok(event) => event,
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => break,
            };
            let sent = match event {
                ServerEvent::ToolsChanged if honoured.tools_list_changed == Some(true) => {
                    route.reply.notify::<method::ToolListChanged>(&tagged).await
                }
                ServerEvent::PromptsChanged if honoured.prompts_list_changed == Some(true) => {
                    route
                        .reply
                        .notify::<method::PromptListChanged>(&tagged)
                        .await
                }
                ServerEvent::ResourcesChanged if honoured.resources_list_changed == Some(true) => {
                    route
                        .reply
                        .notify::<method::ResourceListChanged>(&tagged)
                        .await
                }
                ServerEvent::ResourceUpdated(uri)
                    if honoured
                        .resource_subscriptions
                        .as_ref()
                        .is_some_and(|s| s.iter().any(|s| covers(s, &uri))) =>
                {
                    let mut params = ResourceUpdatedParams::new(uri);
                    params.meta = tagged.meta.clone();
                    route.reply.notify::<method::ResourceUpdated>(&params).await
                }
                _ => Ok(()),
            };
            if sent.is_err() {
                break;
            }
        }
        let mut result = ListenResult::new(id.clone());
        result.meta.server_info = Some(Arc::clone(&self.info));
        encode(&id, &result)
    }
}

/// The subscriptions a stream's handler accepted, reported ended when the
/// stream ends.
struct Accepted<'a, H: Handler> {
    handler: &'a H,
    uris: Vec<String>,
}

impl<H: Handler> Drop for Accepted<'_, H> {
    fn drop(&mut self) {
        for uri in &self.uris {
            self.handler.unsubscribed(uri);
        }
    }
}

fn listed(flag: Option<bool>) -> bool {
    flag == Some(true)
}
