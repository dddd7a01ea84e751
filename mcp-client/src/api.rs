//! Typed calls for every client-to-server method.

use std::collections::BTreeMap;

use mcp_core::completion::{CompleteParams, CompleteResult, Reference};
use mcp_core::logging::{LoggingLevel, SetLevelParams};
use mcp_core::method::{self, Method};
use mcp_core::mrtr::{InputRequests, InputResponses, InputRetry};
use mcp_core::prompts::{GetPromptParams, GetPromptResult, ListPromptsResult, Prompt};
use mcp_core::resources::{
    ListResourceTemplatesResult, ListResourcesResult, ReadResourceParams, ReadResourceResult,
    Resource, ResourceTemplate, ResourceUriParams,
};
use mcp_core::result::RequestParams;
use mcp_core::subscriptions::{ListenParams, SubscriptionFilter};
use mcp_core::tools::ListToolsResult;
use mcp_core::{CallToolParams, CallToolResult, Era, Outcome, PaginatedParams, Tool};

use crate::client::{CallOptions, Client};
use crate::error::Error;
use crate::notifications::Notifications;

/// Most pages an `*_all` helper fetches, against servers that never stop.
const MAX_PAGES: usize = 1000;

/// Most input requests one round may carry: each may prompt the user or
/// spend model tokens.
const MAX_INPUT_REQUESTS: usize = 16;

impl Client {
    fn legacy_only(&self, method: &'static str) -> Result<(), Error> {
        match self.server().era {
            Era::Legacy => Ok(()),
            _ => Err(Error::NotInEra { method }),
        }
    }

    /// `ping` (legacy servers; modern servers have no ping).
    ///
    /// # Errors
    /// [`Error::NotInEra`] on a modern server; the errors of [`Client::request`].
    pub async fn ping(&self) -> Result<(), Error> {
        self.legacy_only(method::Ping::NAME)?;
        self.request::<method::Ping>(RequestParams::default(), CallOptions::default())
            .await
            .map(drop)
    }

    /// One page of `tools/list`.
    ///
    /// # Errors
    /// The errors of [`Client::request`].
    pub async fn list_tools(&self, cursor: Option<String>) -> Result<ListToolsResult, Error> {
        self.request::<method::ListTools>(page(cursor), CallOptions::default())
            .await
    }

    /// Every tool, following `nextCursor`.
    ///
    /// # Errors
    /// The errors of [`Client::request`].
    pub async fn list_all_tools(&self) -> Result<Vec<Tool>, Error> {
        paginate(|cursor| async move {
            let r = self.list_tools(cursor).await?;
            Ok((r.tools, r.next_cursor))
        })
        .await
    }

    /// Calls a tool. Input the server asks for (2026-07-28) is answered by
    /// the host handler and the call retried, up to
    /// [`max_input_rounds`](crate::ClientOptions::max_input_rounds).
    ///
    /// `arguments` is anything that serializes to a JSON object: a
    /// struct, a map, `serde_json::json!({...})`, or `()` for none.
    ///
    /// A tool that fails returns `Ok` with `is_error: Some(true)`; its
    /// message is in [`CallToolResult::text`].
    ///
    /// ```no_run
    /// # async fn run(client: mcp_client::Client) -> Result<(), mcp_client::Error> {
    /// let result = client
    ///     .call_tool("echo", serde_json::json!({"message": "hi"}))
    ///     .await?;
    /// if result.is_error == Some(true) {
    ///     eprintln!("the tool failed: {:?}", result.text());
    /// } else {
    ///     println!("{}", result.text().unwrap_or_default());
    /// }
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::Transport`] with [`mcp_core::Error::Encode`] when
    /// `arguments` is not an object; the errors of [`Client::request`];
    /// [`Error::TooManyInputRounds`]; [`Error::InputUnsupported`].
    pub async fn call_tool(
        &self,
        name: &str,
        arguments: impl serde::Serialize,
    ) -> Result<CallToolResult, Error> {
        let mut params = CallToolParams::new(name);
        match serde_json::to_value(arguments) {
            Ok(serde_json::Value::Object(arguments)) => params = params.with_arguments(arguments),
            Ok(serde_json::Value::Null) => {}
            Ok(other) => {
                return Err(Error::Transport(mcp_core::Error::Encode {
                    message: format!("tool arguments must be a JSON object, not {other}"),
                }));
            }
            Err(e) => {
                return Err(Error::Transport(mcp_core::Error::Encode {
                    message: e.to_string(),
                }));
            }
        }
        self.call_tool_with(params, CallOptions::default()).await
    }

    /// [`call_tool`](Client::call_tool) with full params and options
    /// (progress callback, timeout).
    ///
    /// # Errors
    /// As [`call_tool`](Client::call_tool).
    pub async fn call_tool_with(
        &self,
        params: CallToolParams,
        options: CallOptions,
    ) -> Result<CallToolResult, Error> {
        self.with_input::<method::CallTool, _>(params, options)
            .await
    }

    /// Sends a request that may need input first, answering input
    /// requests through the host handler and retrying, round after round.
    async fn with_input<M, T>(
        &self,
        mut params: M::Params,
        options: CallOptions,
    ) -> Result<T, Error>
    where
        M: Method<Result = Outcome<T>>,
        M::Params: InputRetry,
    {
        for _ in 0..=self.inner.options.max_input_rounds {
            let id = self.inner.next_request_id();
            let reply = self
                .send_request::<M>(id, &mut params, options.clone(), self.mode())
                .await?;
            match reply {
                Outcome::Complete(result) => return Ok(result),
                Outcome::InputRequired(ir) => {
                    let answers = self
                        .answer_all(ir.input_requests.unwrap_or_default())
                        .await?;
                    params.set_retry(answers, ir.request_state);
                }
                _ => return Err(unexpected_task(M::NAME)),
            }
        }
        Err(Error::TooManyInputRounds(
            self.inner.options.max_input_rounds,
        ))
    }

    async fn answer_all(&self, requests: InputRequests) -> Result<InputResponses, Error> {
        if requests.len() > MAX_INPUT_REQUESTS {
            return Err(Error::TooManyInputRequests(requests.len()));
        }
        let mut answers = InputResponses::new();
        for (key, request) in requests {
            answers.insert(key, self.inner.fulfil(request).await?);
        }
        Ok(answers)
    }

    /// One page of `resources/list`.
    ///
    /// # Errors
    /// The errors of [`Client::request`].
    pub async fn list_resources(
        &self,
        cursor: Option<String>,
    ) -> Result<ListResourcesResult, Error> {
        self.request::<method::ListResources>(page(cursor), CallOptions::default())
            .await
    }

    /// Every resource.
    ///
    /// # Errors
    /// The errors of [`Client::request`].
    pub async fn list_all_resources(&self) -> Result<Vec<Resource>, Error> {
        paginate(|cursor| async move {
            let r = self.list_resources(cursor).await?;
            Ok((r.resources, r.next_cursor))
        })
        .await
    }

    /// One page of `resources/templates/list`.
    ///
    /// # Errors
    /// The errors of [`Client::request`].
    pub async fn list_resource_templates(
        &self,
        cursor: Option<String>,
    ) -> Result<ListResourceTemplatesResult, Error> {
        self.request::<method::ListResourceTemplates>(page(cursor), CallOptions::default())
            .await
    }

    /// Every resource template.
    ///
    /// # Errors
    /// The errors of [`Client::request`].
    pub async fn list_all_resource_templates(&self) -> Result<Vec<ResourceTemplate>, Error> {
        paginate(|cursor| async move {
            let r = self.list_resource_templates(cursor).await?;
            Ok((r.resource_templates, r.next_cursor))
        })
        .await
    }

    /// Reads a resource, answering input requests like
    /// [`call_tool`](Client::call_tool).
    ///
    /// # Errors
    /// As [`call_tool`](Client::call_tool).
    pub async fn read_resource(&self, uri: &str) -> Result<ReadResourceResult, Error> {
        self.with_input::<method::ReadResource, _>(
            ReadResourceParams::new(uri),
            CallOptions::default(),
        )
        .await
    }

    /// One page of `prompts/list`.
    ///
    /// # Errors
    /// The errors of [`Client::request`].
    pub async fn list_prompts(&self, cursor: Option<String>) -> Result<ListPromptsResult, Error> {
        self.request::<method::ListPrompts>(page(cursor), CallOptions::default())
            .await
    }

    /// Every prompt.
    ///
    /// # Errors
    /// The errors of [`Client::request`].
    pub async fn list_all_prompts(&self) -> Result<Vec<Prompt>, Error> {
        paginate(|cursor| async move {
            let r = self.list_prompts(cursor).await?;
            Ok((r.prompts, r.next_cursor))
        })
        .await
    }

    /// Renders a prompt, answering input requests like
    /// [`call_tool`](Client::call_tool).
    ///
    /// # Errors
    /// As [`call_tool`](Client::call_tool).
    pub async fn get_prompt(
        &self,
        name: &str,
        arguments: BTreeMap<String, String>,
    ) -> Result<GetPromptResult, Error> {
        let params = GetPromptParams::new(name).with_arguments(arguments);
        self.with_input::<method::GetPrompt, _>(params, CallOptions::default())
            .await
    }

    /// Completes argument `name` of a prompt or resource template from
    /// what was typed so far.
    ///
    /// # Errors
    /// The errors of [`Client::request`].
    pub async fn complete(
        &self,
        reference: Reference,
        name: &str,
        value: &str,
    ) -> Result<CompleteResult, Error> {
        self.request::<method::Complete>(
            CompleteParams::new(reference, name, value),
            CallOptions::default(),
        )
        .await
    }

    /// Asks for log messages at `level` and above: `logging/setLevel` on a
    /// legacy server, the per-request log level on a modern one.
    ///
    /// # Errors
    /// The errors of [`Client::request`].
    pub async fn set_log_level(&self, level: LoggingLevel) -> Result<(), Error> {
        *self
            .inner
            .log_level
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(level);
        match self.server().era {
            Era::Legacy => self
                .request::<method::SetLevel>(SetLevelParams::new(level), CallOptions::default())
                .await
                .map(drop),
            _ => Ok(()),
        }
    }

    /// The server's notifications from now on.
    pub fn notifications(&self) -> Notifications {
        Notifications::new(self.inner.notifications.subscribe())
    }

    /// Subscribes to the resource at `uri` (legacy `resources/subscribe`).
    /// On a modern server use [`listen`](Client::listen).
    ///
    /// # Errors
    /// [`Error::NotInEra`] on a modern server; the errors of [`Client::request`].
    pub async fn subscribe_resource(&self, uri: &str) -> Result<(), Error> {
        self.legacy_only(method::Subscribe::NAME)?;
        self.request::<method::Subscribe>(ResourceUriParams::new(uri), CallOptions::default())
            .await
            .map(drop)
    }

    /// Ends a legacy resource subscription.
    ///
    /// # Errors
    /// As [`subscribe_resource`](Client::subscribe_resource).
    pub async fn unsubscribe_resource(&self, uri: &str) -> Result<(), Error> {
        self.legacy_only(method::Unsubscribe::NAME)?;
        self.request::<method::Unsubscribe>(ResourceUriParams::new(uri), CallOptions::default())
            .await
            .map(drop)
    }

    /// Opens a 2026-07-28 subscription for the notifications in `filter`;
    /// they arrive on [`notifications`](Client::notifications) until the
    /// returned handle is dropped (which cancels the subscription).
    ///
    /// Returns once the server has acknowledged, with the subset it honours.
    ///
    /// # Errors
    /// [`Error::NotInEra`] on a legacy server (whose list changes arrive
    /// without subscribing); the errors of [`Client::request`].
    pub async fn listen(&self, filter: SubscriptionFilter) -> Result<Subscription, Error> {
        if self.server().era != Era::Modern {
            return Err(Error::NotInEra {
                method: method::Listen::NAME,
            });
        }
        let mut acks = self.inner.acknowledgements.subscribe();
        let id = self.inner.next_request_id();
        let client = self.clone();
        let listen_id = id.clone();
        let (ended_tx, mut ended) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let options = CallOptions::default().timeout(std::time::Duration::MAX);
            let mode = client.mode();
            let outcome = client
                .request_with_id::<method::Listen>(
                    listen_id.clone(),
                    ListenParams::new(filter),
                    options,
                    mode,
                )
                .await;
            // However it ended (the server closed it, an error, the
            // connection), readers of the notification stream hear of it.
            let _ = client
                .inner
                .notifications
                .send(crate::ServerNotification::SubscriptionEnded { id: listen_id });
            let _ = ended_tx.send(outcome);
        });
        // The acknowledgement is the first message of the subscription; an
        // error answer ends the wait instead.
        let honoured = loop {
            tokio::select! {
                ack = acks.recv() => match ack {
                    Ok((for_id, ack)) if for_id == id => break ack,
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(_) => return Err(Error::Closed),
                },
                outcome = &mut ended => {
                    return Err(match outcome {
                        Ok(Err(e)) => e,
                        _ => Error::Closed,
                    });
                }
            }
        };
        Ok(Subscription { task, honoured })
    }
}

/// An open `subscriptions/listen`; dropping it cancels the subscription.
#[derive(Debug)]
pub struct Subscription {
    task: tokio::task::JoinHandle<()>,
    honoured: SubscriptionFilter,
}

impl Subscription {
    /// What the server agreed to deliver.
    pub fn honoured(&self) -> &SubscriptionFilter {
        &self.honoured
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        // Dropping the request's future sends `notifications/cancelled`.
        self.task.abort();
    }
}

fn page(cursor: Option<String>) -> PaginatedParams {
    match cursor {
        Some(c) => PaginatedParams::after(c),
        None => PaginatedParams::first_page(),
    }
}

fn unexpected_task(method: &str) -> Error {
    Error::InvalidResult {
        method: method.to_owned(),
        message: "the server created a task, but this client did not offer the tasks extension"
            .into(),
    }
}

async fn paginate<T, F, Fut>(mut next: F) -> Result<Vec<T>, Error>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<T>, Option<String>), Error>>,
{
    let mut all = Vec::new();
    let mut cursor = None;
    for _ in 0..MAX_PAGES {
        let (items, next_cursor) = next(cursor.clone()).await?;
        all.extend(items);
        match next_cursor {
            // A server that hands back the same cursor would loop forever.
            Some(c) if Some(&c) != cursor.as_ref() => cursor = Some(c),
            _ => return Ok(all),
        }
    }
    Ok(all)
}
