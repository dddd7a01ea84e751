//! What a handler knows about the request it serves, and what it can do
//! besides answering: report progress, log, and ask the client for input.

use std::sync::{Arc, Mutex, PoisonError};

use mcp_core::elicitation::{ElicitParams, ElicitResult};
use mcp_core::logging::{LoggingLevel, LoggingMessageParams};
use mcp_core::method;
use mcp_core::mrtr::{InputRequest, InputRequests, InputResponse, InputResponses};
use mcp_core::notifications::ProgressParams;
use mcp_core::result::RequestParams;
use mcp_core::roots::ListRootsResult;
use mcp_core::sampling::{CreateMessageParams, CreateMessageResult};
use mcp_core::{
    ClientCapabilities, Era, ErrorObject, Implementation, ProgressToken, ProtocolVersion, RequestId,
};

use crate::error::Error;
use crate::session::peer::{Outbox, Peer};

/// The context of one request, handed to every handler.
///
/// Cheap to clone. Dropping the handler's future is how cancellation
/// works: when the client cancels, the future is dropped at its next
/// `.await`.
#[derive(Clone, Debug)]
pub struct RequestContext {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    id: RequestId,
    era: Era,
    version: ProtocolVersion,
    client_capabilities: Arc<ClientCapabilities>,
    client_info: Option<Arc<Implementation>>,
    progress_token: Option<ProgressToken>,
    log_level: Option<LoggingLevel>,
    /// Where this request's notifications go.
    outbox: Outbox,
    /// Requests to a legacy client.
    peer: Option<Peer>,
    extensions: Arc<http::Extensions>,
    input: Mutex<InputState>,
    last_progress: Mutex<Option<f64>>,
}

/// Multi round-trip bookkeeping of a modern request.
#[derive(Debug, Default)]
pub(crate) struct InputState {
    /// Answers from earlier rounds and this retry.
    pub(crate) answers: InputResponses,
    /// How many input requests the handler has made in this run.
    next: usize,
    /// What the handler asked for and has no answer to yet.
    pub(crate) asked: InputRequests,
}

/// Everything needed to build a context; kept crate-private so the fields
/// can change freely.
pub(crate) struct ContextParts {
    pub(crate) id: RequestId,
    pub(crate) era: Era,
    pub(crate) version: ProtocolVersion,
    pub(crate) client_capabilities: Arc<ClientCapabilities>,
    pub(crate) client_info: Option<Arc<Implementation>>,
    pub(crate) progress_token: Option<ProgressToken>,
    pub(crate) log_level: Option<LoggingLevel>,
    pub(crate) outbox: Outbox,
    pub(crate) peer: Option<Peer>,
    pub(crate) extensions: Arc<http::Extensions>,
    pub(crate) answers: InputResponses,
}

impl RequestContext {
    pub(crate) fn new(parts: ContextParts) -> Self {
        Self {
            inner: Arc::new(Inner {
                id: parts.id,
                era: parts.era,
                version: parts.version,
                client_capabilities: parts.client_capabilities,
                client_info: parts.client_info,
                progress_token: parts.progress_token,
                log_level: parts.log_level,
                outbox: parts.outbox,
                peer: parts.peer,
                extensions: parts.extensions,
                input: Mutex::new(InputState {
                    answers: parts.answers,
                    ..InputState::default()
                }),
                last_progress: Mutex::new(None),
            }),
        }
    }

    /// The JSON-RPC id of the request.
    pub fn request_id(&self) -> &RequestId {
        &self.inner.id
    }

    /// The era of the request: a legacy session or a modern request.
    pub fn era(&self) -> Era {
        self.inner.era
    }

    /// The protocol version the request is served under.
    pub fn protocol_version(&self) -> &ProtocolVersion {
        &self.inner.version
    }

    /// The client's capabilities: per request on 2026-07-28, from
    /// `initialize` on legacy sessions.
    pub fn client_capabilities(&self) -> &ClientCapabilities {
        &self.inner.client_capabilities
    }

    /// What the client says it is. Self-reported: never use it for
    /// security decisions.
    pub fn client_info(&self) -> Option<&Implementation> {
        self.inner.client_info.as_deref()
    }

    /// Values put on the request by the layers in front of the server
    /// (the authenticated identity, for instance).
    pub fn extensions(&self) -> &http::Extensions {
        &self.inner.extensions
    }

    /// Whether the client asked for progress on this request.
    pub fn wants_progress(&self) -> bool {
        self.inner.progress_token.is_some()
    }

    /// Reports progress, if the client asked for it. Values that do not
    /// increase are dropped, as the specification requires progress to grow.
    ///
    /// # Errors
    /// [`Error::Closed`] when the connection is gone.
    pub async fn progress(
        &self,
        progress: f64,
        total: Option<f64>,
        message: Option<&str>,
    ) -> Result<(), Error> {
        let Some(token) = &self.inner.progress_token else {
            return Ok(());
        };
        {
            let mut last = self
                .inner
                .last_progress
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if last.is_some_and(|l| progress <= l) {
                tracing::debug!(progress, "dropping progress that does not increase");
                return Ok(());
            }
            *last = Some(progress);
        }
        let mut params = ProgressParams::new(token.clone(), progress);
        params.total = total;
        params.message = message.map(str::to_owned);
        self.inner.outbox.notify::<method::Progress>(&params).await
    }

    /// Sends a log message to the client, if it asked for messages at
    /// `level` or above (legacy `logging/setLevel`, or the 2026-07-28
    /// per-request log level).
    ///
    /// # Errors
    /// [`Error::Closed`] when the connection is gone.
    pub async fn log(&self, level: LoggingLevel, data: serde_json::Value) -> Result<(), Error> {
        match self.inner.log_level {
            Some(min) if level >= min => {
                self.inner
                    .outbox
                    .notify::<method::LoggingMessage>(&LoggingMessageParams::new(level, data))
                    .await
            }
            _ => Ok(()),
        }
    }

    /// Asks the user for input through the client.
    ///
    /// On a legacy session this sends `elicitation/create` and waits. On a
    /// 2026-07-28 request the first call ends the handler with
    /// [`Error::InputRequired`] (propagate it with `?`); the client answers
    /// and retries, and the handler runs again from the start, this time
    /// getting the answer. Do side effects after the input calls.
    ///
    /// # Errors
    /// [`Error::Protocol`] when the client lacks the capability;
    /// [`Error::InputRequired`], see above; [`Error::Closed`],
    /// [`Error::Timeout`].
    pub async fn elicit(&self, params: ElicitParams) -> Result<ElicitResult, Error> {
        match self.input(InputRequest::Elicit(params)).await? {
            InputResponse::Elicit(r) => Ok(r),
            _ => Err(Error::invalid_params(
                "the answer to an elicitation must be an elicitation result",
            )),
        }
    }

    /// Asks the client's model for a completion (deprecated in 2026-07-28).
    ///
    /// Works like [`elicit`](Self::elicit) in both eras.
    ///
    /// # Errors
    /// As [`elicit`](Self::elicit).
    pub async fn sample(&self, params: CreateMessageParams) -> Result<CreateMessageResult, Error> {
        match self.input(InputRequest::CreateMessage(params)).await? {
            InputResponse::CreateMessage(r) => Ok(r),
            _ => Err(Error::invalid_params(
                "the answer to a sampling request must be a sampling result",
            )),
        }
    }

    /// Asks the client for its roots (deprecated in 2026-07-28).
    ///
    /// Works like [`elicit`](Self::elicit) in both eras.
    ///
    /// # Errors
    /// As [`elicit`](Self::elicit).
    pub async fn list_roots(&self) -> Result<ListRootsResult, Error> {
        match self
            .input(InputRequest::ListRoots(RequestParams::default()))
            .await?
        {
            InputResponse::ListRoots(r) => Ok(r),
            _ => Err(Error::invalid_params(
                "the answer to roots/list must be a roots result",
            )),
        }
    }

    /// Asks for several inputs at once, each under a key of the handler's
    /// choosing, and returns the answers in the same order.
    ///
    /// On a 2026-07-28 request every unanswered request goes out in one
    /// input-required result, under its key; keys must stay the same from
    /// one run of the handler to the next. On a legacy session the requests
    /// are sent to the client one after the other.
    ///
    /// # Errors
    /// As [`elicit`](Self::elicit).
    pub async fn ask(
        &self,
        requests: Vec<(String, InputRequest)>,
    ) -> Result<Vec<InputResponse>, Error> {
        for (_, request) in &requests {
            self.check_capability(request)?;
        }
        if self.inner.peer.is_some() {
            let mut answers = Vec::with_capacity(requests.len());
            for (_, request) in requests {
                answers.push(self.send_to_client(request).await?);
            }
            return Ok(answers);
        }
        let mut state = self
            .inner
            .input
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut answers = Vec::with_capacity(requests.len());
        for (key, request) in requests {
            match state.answers.get(&key) {
                Some(answer) => answers.push(answer.clone()),
                None => {
                    state.asked.insert(key, request);
                }
            }
        }
        if state.asked.is_empty() {
            Ok(answers)
        } else {
            Err(Error::InputRequired)
        }
    }

    /// Refuses input the client cannot give, with the error each era uses.
    fn check_capability(&self, request: &InputRequest) -> Result<(), Error> {
        let caps = &self.inner.client_capabilities;
        let mut need = ClientCapabilities::default();
        let what = match request {
            InputRequest::Elicit(params) => {
                let elicitation = caps.elicitation.as_ref();
                let (ok, mut wanted) = (
                    match params {
                        ElicitParams::Url(_) => elicitation.is_some_and(|c| c.supports_url()),
                        _ => elicitation.is_some_and(|c| c.supports_form()),
                    },
                    mcp_core::capabilities::ElicitationCapability::default(),
                );
                if ok {
                    return Ok(());
                }
                match params {
                    ElicitParams::Url(_) => wanted.url = Some(Default::default()),
                    _ => wanted.form = Some(Default::default()),
                }
                need.elicitation = Some(wanted);
                "elicitation"
            }
            InputRequest::CreateMessage(params) => {
                let sampling = caps.sampling.as_ref();
                let with_tools = params.tools.is_some();
                if sampling.is_some_and(|s| !with_tools || s.tools.is_some()) {
                    return Ok(());
                }
                let mut wanted = mcp_core::capabilities::SamplingCapability::default();
                if with_tools {
                    wanted.tools = Some(Default::default());
                }
                need.sampling = Some(wanted);
                "sampling"
            }
            InputRequest::ListRoots(_) => {
                if caps.roots.is_some() {
                    return Ok(());
                }
                need.roots = Some(Default::default());
                "roots"
            }
            _ => return Err(Error::invalid_params("unsupported input request")),
        };
        Err(self.missing_capability(what, &need))
    }

    fn missing_capability(&self, what: &str, need: &ClientCapabilities) -> Error {
        let message =
            format!("This request needs the client's {what} capability, which it did not declare");
        Error::Protocol(match self.inner.era {
            Era::Modern => ErrorObject::missing_client_capability(message, need),
            // -32021 is not defined before 2026-07-28.
            _ => ErrorObject::invalid_request(message),
        })
    }

    /// One input request under an automatic key: the n-th input call of a
    /// run has the same key in every run, so a retry finds its answer. The
    /// key names the question too (a digest of it): a run that asks
    /// something else at the same place (a handler relaying another
    /// server's questions, which may differ from one run to the next) is
    /// asked anew, never given the answer to a different question.
    async fn input(&self, request: InputRequest) -> Result<InputResponse, Error> {
        self.check_capability(&request)?;
        if self.inner.peer.is_some() {
            return self.send_to_client(request).await;
        }
        let mut state = self
            .inner
            .input
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let key = format!("{}:{}:{}", state.next, request.method(), digest(&request));
        state.next += 1;
        if let Some(answer) = state.answers.get(&key) {
            return Ok(answer.clone());
        }
        state.asked.insert(key, request);
        Err(Error::InputRequired)
    }

    /// Legacy: a real request to the client, on the stream of the request
    /// being served.
    async fn send_to_client(&self, request: InputRequest) -> Result<InputResponse, Error> {
        let Some(peer) = &self.inner.peer else {
            return Err(Error::InputRequired);
        };
        let via = &self.inner.outbox;
        Ok(match request {
            InputRequest::Elicit(mut p) => {
                InputResponse::Elicit(peer.request::<method::Elicit>(&mut p, via).await?)
            }
            InputRequest::CreateMessage(mut p) => InputResponse::CreateMessage(
                peer.request::<method::CreateMessage>(&mut p, via).await?,
            ),
            InputRequest::ListRoots(mut p) => {
                InputResponse::ListRoots(peer.request::<method::ListRoots>(&mut p, via).await?)
            }
            _ => return Err(Error::invalid_params("unsupported input request")),
        })
    }

    /// Whether the handler asked for input this run and got no answer yet.
    pub(crate) fn asked_for_input(&self) -> bool {
        !self
            .inner
            .input
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .asked
            .is_empty()
    }

    /// Takes what the handler asked for; used by the dispatcher after an
    /// [`Error::InputRequired`].
    pub(crate) fn take_input_state(&self) -> InputState {
        std::mem::take(
            &mut *self
                .inner
                .input
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }
}

/// The first 8 bytes of the SHA-256 of `request` as JSON, in hex: what
/// tells one question from another in its key.
fn digest(request: &InputRequest) -> String {
    use sha2::Digest as _;
    use std::fmt::Write as _;
    let json = serde_json::to_vec(request).unwrap_or_default();
    let hash = sha2::Sha256::digest(&json);
    hash.iter()
        .take(8)
        .fold(String::with_capacity(16), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
}
