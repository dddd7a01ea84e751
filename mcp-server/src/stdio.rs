//! Serving over the process's stdin and stdout.

use std::pin::Pin;
use std::task::{Context, Poll};

use mcp_core::transport::{LineReader, LineWriter};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

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
    /// A stdio server has one client, so a current-thread runtime
    /// (`#[tokio::main(flavor = "current_thread")]`) serves it fastest;
    /// with the multi-threaded runtime every request hops between threads.
    ///
    /// # Errors
    /// [`Error::Transport`] when writing to stdout fails.
    pub async fn serve_stdio(self) -> Result<(), Error> {
        let reader = LineReader::new(Stdin::open());
        let writer = LineWriter::new(Stdout::open());
        self.serve_until(reader, writer, shutdown_signal()).await
    }
}

/// Stdin as a non-blocking pipe when it is one (the usual case: a host
/// started the server), else tokio's stdin, which reads on the blocking
/// thread pool: a hop between threads for every read.
enum Stdin {
    #[cfg(unix)]
    Pipe(tokio::net::unix::pipe::Receiver),
    Std(tokio::io::Stdin),
}

enum Stdout {
    #[cfg(unix)]
    Pipe(tokio::net::unix::pipe::Sender),
    Std(tokio::io::Stdout),
}

impl Stdin {
    fn open() -> Self {
        #[cfg(unix)]
        {
            use std::os::fd::AsFd;
            if let Ok(fd) = std::io::stdin().as_fd().try_clone_to_owned()
                && let Ok(pipe) = tokio::net::unix::pipe::Receiver::from_owned_fd(fd)
            {
                return Self::Pipe(pipe);
            }
        }
        Self::Std(tokio::io::stdin())
    }
}

impl Stdout {
    fn open() -> Self {
        #[cfg(unix)]
        {
            use std::os::fd::AsFd;
            if let Ok(fd) = std::io::stdout().as_fd().try_clone_to_owned()
                && let Ok(pipe) = tokio::net::unix::pipe::Sender::from_owned_fd(fd)
            {
                return Self::Pipe(pipe);
            }
        }
        Self::Std(tokio::io::stdout())
    }
}

impl AsyncRead for Stdin {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            #[cfg(unix)]
            Self::Pipe(p) => Pin::new(p).poll_read(cx, buf),
            Self::Std(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stdout {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            #[cfg(unix)]
            Self::Pipe(p) => Pin::new(p).poll_write(cx, buf),
            Self::Std(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    // Frames go out with their newline in one vectored write where the
    // pipe allows it (see `LineWriter`), without being copied first.
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            #[cfg(unix)]
            Self::Pipe(p) => Pin::new(p).poll_write_vectored(cx, bufs),
            Self::Std(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            #[cfg(unix)]
            Self::Pipe(p) => p.is_write_vectored(),
            Self::Std(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            #[cfg(unix)]
            Self::Pipe(p) => Pin::new(p).poll_flush(cx),
            Self::Std(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            #[cfg(unix)]
            Self::Pipe(p) => Pin::new(p).poll_shutdown(cx),
            Self::Std(s) => Pin::new(s).poll_shutdown(cx),
        }
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
