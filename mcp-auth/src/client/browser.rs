//! Sending the user to an authorization URL in the system browser.

use std::process::{Command, Stdio};

/// Opens `url` (http or https only) in the system browser. The launcher
/// gets none of this process's standard streams: a stdio MCP server's
/// stdout is its protocol channel, which a chatty launcher would corrupt.
/// Returns whether a launcher started; print the URL either way, for
/// machines without a browser.
pub fn open_browser(url: &str) -> bool {
    let web = url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
    if !web {
        return false;
    }
    let mut command = if cfg!(target_os = "macos") {
        Command::new("open")
    } else if cfg!(windows) {
        // Not `cmd /c start`: cmd reads the `&` of a query string as a
        // command separator.
        let mut command = Command::new("rundll32");
        command.arg("url.dll,FileProtocolHandler");
        command
    } else {
        Command::new("xdg-open")
    };
    let started = command
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match started {
        Ok(mut child) => {
            // Reaped in the background, so it does not linger as a zombie.
            std::thread::spawn(move || child.wait());
            true
        }
        Err(e) => {
            tracing::debug!(target: "mcp_auth", error = %e, "no browser launcher");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_web_urls_are_handed_to_a_launcher() {
        assert!(!open_browser("file:///etc/passwd"));
        assert!(!open_browser("javascript:alert(1)"));
        assert!(!open_browser("not a url"));
    }
}
