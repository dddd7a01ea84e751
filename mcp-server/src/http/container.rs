//! What container platforms expect of a server process: listen where the
//! platform says, and stop cleanly when it says so.

use crate::error::Error;

/// Where to listen: `0.0.0.0:$PORT` when the platform sets `PORT` (Cloud
/// Run, App Runner, Heroku-style platforms), else `default`.
///
/// ```
/// let addr = mcp_server::http::listen_address("127.0.0.1:8000")?;
/// # Ok::<(), mcp_server::Error>(())
/// ```
///
/// # Errors
/// [`Error::Config`] when `PORT` is set but is not a port number.
pub fn listen_address(default: &str) -> Result<String, Error> {
    port_address(std::env::var("PORT").ok().as_deref(), default)
}

fn port_address(port: Option<&str>, default: &str) -> Result<String, Error> {
    match port.map(str::trim) {
        None | Some("") => Ok(default.to_owned()),
        Some(port) => port
            .parse::<u16>()
            .map(|port| format!("0.0.0.0:{port}"))
            .map_err(|_| Error::Config(format!("PORT is not a port number: {port:?}"))),
    }
}

/// Completes when the process is asked to stop: on the first `SIGTERM`
/// (what Kubernetes, Cloud Run, ECS and Docker send before they stop a
/// container) or `SIGINT` (Ctrl-C). Give it to
/// [`serve`](super::serve) or
/// [`StreamableHttp::shutdown_on`](super::StreamableHttp::shutdown_on):
/// requests in flight then get
/// [`ServerOptions::shutdown_grace`](crate::ServerOptions::shutdown_grace)
/// and connections [`ServeOptions::drain_timeout`](super::ServeOptions::drain_timeout);
/// keep their sum under the platform's own grace (Cloud Run 10 s,
/// Kubernetes 30 s by default).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
                    _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
                }
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "SIGTERM cannot be caught; only Ctrl-C stops the server");
            }
        }
    }
    // Without a handler there is nothing to wait for: stopping now would
    // be wrong, so wait for Ctrl-C, or forever.
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_wins_over_the_default_and_must_be_a_port() {
        assert_eq!(
            port_address(None, "127.0.0.1:8000").unwrap(),
            "127.0.0.1:8000"
        );
        assert_eq!(
            port_address(Some(""), "127.0.0.1:8000").unwrap(),
            "127.0.0.1:8000"
        );
        assert_eq!(
            port_address(Some("8080"), "127.0.0.1:8000").unwrap(),
            "0.0.0.0:8080"
        );
        assert!(matches!(
            port_address(Some("http"), "x"),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            port_address(Some("70000"), "x"),
            Err(Error::Config(_))
        ));
    }
}
