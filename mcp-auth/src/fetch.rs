//! Fetching what verifiers need (metadata, JWKS, introspection answers):
//! no redirects, bounded time and size.

use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::error::Error;

/// Largest document read (a JWKS or a metadata document is a few KiB).
const MAX_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone)]
pub(crate) struct Fetcher {
    http: reqwest::Client,
}

impl Fetcher {
    pub(crate) fn new(timeout: Duration) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            // A redirect could lead a server-side fetch anywhere.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .build()
            .map_err(|e| Error::Config(format!("HTTP client: {e}")))?;
        Ok(Self { http })
    }

    /// GETs `url` as JSON.
    pub(crate) async fn get<T: DeserializeOwned>(&self, url: &str) -> Result<T, Error> {
        let response = self
            .http
            .get(url)
            .header("accept", "application/json")
            .send();
        read(url, response.await).await
    }

    /// POSTs a form to `url`, authenticating with HTTP Basic.
    pub(crate) async fn post_form<T: DeserializeOwned>(
        &self,
        url: &str,
        form: &[(&str, &str)],
        basic: (&str, &str),
    ) -> Result<T, Error> {
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let response = self
            .http
            .post(url)
            .basic_auth(form_encode(basic.0), Some(form_encode(basic.1)))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(body)
            .send();
        let response = response.await;
        // RFC 7662 answers 200 for any token; a 400 with an OAuth error
        // (oidc-provider's `unsupported_token_type` for a JWT) is about the
        // token, not an outage.
        if let Ok(r) = &response
            && r.status() == reqwest::StatusCode::BAD_REQUEST
        {
            return Err(Error::Unrecognized(format!(
                "{url} does not take this token (HTTP 400)"
            )));
        }
        read(url, response).await
    }
}

async fn read<T: DeserializeOwned>(
    url: &str,
    response: reqwest::Result<reqwest::Response>,
) -> Result<T, Error> {
    let unavailable = |why: String| Error::Unavailable(format!("{url}: {why}"));
    let mut response = response.map_err(|e| unavailable(e.to_string()))?;
    if !response.status().is_success() {
        return Err(unavailable(format!("HTTP {}", response.status())));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| unavailable(e.to_string()))?
    {
        if body.len() + chunk.len() > MAX_BYTES {
            return Err(unavailable(format!("answer over {MAX_BYTES} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|e| unavailable(format!("not the expected JSON: {e}")))
}

/// `application/x-www-form-urlencoded` (also what RFC 6749 §2.3.1 asks for
/// client credentials in Basic authentication).
pub(crate) fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
