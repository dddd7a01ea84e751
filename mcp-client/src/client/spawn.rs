//! Clients of a server run as a child process, over its stdin and stdout.

use super::{Client, ClientOptions};
use crate::child::{ChildHandle, ChildProcess};
use crate::error::Error;
use crate::handler::ClientHandler;

impl Client {
    /// Starts `process` and connects to it over its stdin and stdout.
    ///
    /// # Errors
    /// [`Error::Process`] when the process cannot be started; the errors of
    /// [`Client::connect`].
    pub async fn spawn(
        process: ChildProcess,
        options: ClientOptions,
        handler: impl ClientHandler,
    ) -> Result<Self, Error> {
        let (reader, writer, handle) = process.spawn()?;
        let client = Self::connect_inner(reader, writer, options, handler);
        *client.inner.child.lock().await = Some(handle);
        client.probe().await?;
        Ok(client)
    }

    /// The child's process id, while it runs.
    pub async fn child_id(&self) -> Option<u32> {
        self.inner
            .child
            .lock()
            .await
            .as_ref()
            .and_then(ChildHandle::id)
    }

    /// What the child wrote to stderr, when started with [`Stderr::Capture`](crate::Stderr::Capture).
    pub async fn child_stderr(&self) -> Option<String> {
        self.inner
            .child
            .lock()
            .await
            .as_ref()
            .map(ChildHandle::stderr)
    }
}
