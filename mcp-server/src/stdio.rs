//! Serving over the process's stdin and stdout.

use mcp_core::transport::{LineReader, LineWriter};

use crate::error::Error;
use crate::handler::Handler;
use crate::session::Server;

impl<H: Handler> Server<H> {
    /// Serves the client on the other end of stdin and stdout until stdin
    /// closes or the process gets SIGINT or SIGTERM; requests in flight get
    /// [`ServerOptions::shutdown_grace`](crate::ServerOptions::shutdown_grace)
    /// to finish.
    ///
    /// Stdout carries protocol messages only: log through `tracing` to
    /// stderr, never `println!`.
    ///
    /// # Errors
    /// [`Error::Transport`] when writing to stdout fails.
    pub async fn serve_stdio(self) -> Result<(), Error> {
        let reader = LineReader::new(tokio::io::stdin());
        let writer = LineWriter::new(tokio::io::stdout());
        self.serve_until(reader, writer, shutdown_signal()).await
    }
}

/// Completes on SIGINT or, on Unix, SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("shutting down on signal");
}
