//! The pieces of the `remote_bridge` example: a relay between a local
//! frame transport and a remote message transport, and a client registration kept on disk so that later runs
//! can refresh the tokens of earlier ones.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use mcp_auth::client::{ClientConfig, ClientCredentials, Secret, discover, register};
use mcp_core::headers::{Mirrored, ParamHeader};
use mcp_core::jsonrpc::Incoming;
use mcp_core::tools::ListToolsResult;
use mcp_core::transport::{FrameRead, FrameWrite, MessageRead, MessageWrite, Mirror, Outgoing};
use mcp_core::{Message, RequestId};

/// Relays messages both ways between a `local` frame transport (stdio)
/// and a `remote` message transport (Streamable HTTP), until the local
/// side closes (then the remote writer is closed too) or the remote side
/// ends.
///
/// A relay is a client of the remote server as far as the transport goes:
/// it tells each message it forwards what it is, and mirrors requests into
/// headers as a client does ([`Mirroring`]).
///
/// # Errors
/// A fatal error of either side.
pub async fn relay(
    (mut local_in, mut local_out): (impl FrameRead, impl FrameWrite),
    (mut remote_in, mut remote_out): (impl MessageRead, impl MessageWrite),
) -> Result<(), mcp_core::Error> {
    let mirroring = std::sync::Mutex::new(Mirroring::default());
    let up = async {
        loop {
            match local_in.read_frame().await {
                Some(Ok(frame)) => {
                    let message = mirroring
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .outgoing(frame);
                    remote_out.write_message(message).await?;
                }
                Some(Err(e)) if !e.is_fatal() => tracing::warn!("skipped a local frame: {e}"),
                Some(Err(e)) => return Err(e),
                None => return remote_out.close().await,
            }
        }
    };
    let down = async {
        while let Some(incoming) = remote_in.read_message().await {
            let incoming = match incoming {
                Ok(incoming) => incoming,
                Err(e) if !e.is_fatal() => {
                    tracing::warn!("skipped a remote message: {e}");
                    continue;
                }
                Err(e) => return Err(e),
            };
            let frame = mirroring
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .incoming(incoming);
            if let Some(frame) = frame {
                local_out.write_frame(frame).await?;
            }
        }
        local_out.close().await
    };
    tokio::select! {
        done = up => done,
        done = down => done,
    }
}

/// What a relay tracks to forward messages as a client would: the
/// `x-mcp-header` parameters of the tools the server listed (tools whose
/// annotations are invalid are left out of the list, as Streamable HTTP
/// clients must), and which requests were `tools/list`.
#[derive(Debug, Default)]
pub struct Mirroring {
    listing: HashSet<RequestId>,
    headers: HashMap<String, Vec<ParamHeader>>,
}

impl Mirroring {
    /// A local frame as the message to send: what it is, and for a request
    /// the headers that mirror it. A frame that is not a message goes as
    /// it is, for the server to refuse.
    pub fn outgoing(&mut self, frame: Bytes) -> Outgoing {
        let Ok(message) = Message::from_slice(&frame) else {
            return Outgoing::batch(frame);
        };
        match message {
            Message::Request(request) => {
                let peek = Mirrored::of(request.params.as_deref());
                let mut mirror = Mirror::default();
                mirror.protocol_version = peek.protocol_version().map(|v| v.as_str().to_owned());
                mirror.name = peek.name_for(&request.method).map(str::to_owned);
                if let (Some(tool), Some(arguments)) = (&peek.name, &peek.arguments)
                    && request.method == "tools/call"
                {
                    for param in self.headers.get(tool).into_iter().flatten() {
                        if let Ok(Some(value)) = param.value_in(arguments) {
                            mirror.params.push((param.header().to_owned(), value));
                        }
                    }
                }
                if request.method == "tools/list" {
                    self.listing.insert(request.id.clone());
                }
                Outgoing::request(request.id, request.method, frame).with_mirror(mirror)
            }
            Message::Notification(n) => Outgoing::notification(n.method, frame),
            Message::Response(r) => Outgoing::response(Some(r.id), frame),
            Message::Error(e) => Outgoing::response(e.id, frame),
        }
    }

    /// A remote message as the local frame to write (a `tools/list`
    /// result without the tools a client must leave out); `None` when it
    /// cannot be encoded.
    pub fn incoming(&mut self, incoming: Incoming) -> Option<Bytes> {
        let encoded = match incoming {
            Incoming::Single(Message::Response(response)) if self.listing.remove(&response.id) => {
                let checked = response.result::<ListToolsResult>().ok().and_then(|mut list| {
                    list.tools.retain(|tool| match ParamHeader::from_schema(&tool.input_schema) {
                        Ok(params) => {
                            self.headers.insert(tool.name.clone(), params);
                            true
                        }
                        Err(why) => {
                            tracing::warn!(tool = %tool.name, %why, "tool left out: invalid x-mcp-header");
                            false
                        }
                    });
                    mcp_core::Response::typed(response.id.clone(), &list).ok()
                });
                Message::from(checked.unwrap_or(response)).to_vec()
            }
            Incoming::Single(message) => message.to_vec(),
            Incoming::Batch(items) => {
                let items: Vec<Message> = items.into_iter().flatten().collect();
                serde_json::to_vec(&items).map_err(|e| mcp_core::Error::Encode {
                    message: e.to_string(),
                })
            }
        };
        encoded.ok().map(Bytes::from)
    }
}

/// Where tokens are kept by default: `$XDG_CACHE_HOME/mcp-rs/tokens`, else
/// `~/.cache/mcp-rs/tokens`, else `./mcp-rs-tokens`.
pub fn default_token_dir() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")));
    cache.map_or_else(
        || "mcp-rs-tokens".into(),
        |c| c.join("mcp-rs").join("tokens"),
    )
}

/// The client as the bridge registers it: a public client with a loopback
/// redirect on any port.
pub fn client_config() -> ClientConfig {
    ClientConfig::new("mcp-rs remote bridge", ["http://127.0.0.1/callback"])
}

/// Credentials for the authorization server of the MCP server at `url`:
/// `pre_registered` (a client ID and secret) when given, else those kept
/// in `dir/clients.json` from an earlier run, else a new registration
/// (kept there for next time). A refresh token only works for the client
/// it was issued to, so a client registered afresh on every run would
/// make the user sign in every time.
///
/// # Errors
/// When discovery or registration fails (e.g. the server is not protected),
/// or the file cannot be read or written.
pub async fn credentials(
    url: &str,
    dir: &Path,
    pre_registered: Option<(String, Option<String>)>,
) -> Result<ClientCredentials, Box<dyn std::error::Error>> {
    let file = dir.join("clients.json");
    let mut kept: BTreeMap<String, ClientCredentials> = match std::fs::read(&file) {
        Ok(bytes) => serde_json::from_slice(&bytes)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
        Err(e) => return Err(e.into()),
    };
    if pre_registered.is_none()
        && let Some(found) = kept.get(url)
    {
        return Ok(found.clone());
    }
    let found = discover(url, None).await?;
    if let Some((id, secret)) = pre_registered {
        return Ok(match secret {
            Some(s) => ClientCredentials::confidential(found.issuer, id, Secret::new(s)),
            None => ClientCredentials::public(found.issuer, id),
        });
    }
    let registration = register(&client_config(), &found.authorization_server).await?;
    kept.insert(url.to_owned(), registration.credentials.clone());
    std::fs::create_dir_all(dir)?;
    write_private(&file, &serde_json::to_vec_pretty(&kept)?)?;
    Ok(registration.credentials)
}

/// Writes `bytes` to `path`, readable by the owner only on Unix (it may
/// hold a client secret).
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(path)?, bytes)
}
