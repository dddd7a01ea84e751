//! Wiring a client to a server in memory.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mcp_client::{Client, ClientHandler, ClientOptions, HttpOptions};
use mcp_core::content::SamplingContent;
use mcp_core::elicitation::{ElicitParams, ElicitResult, ElicitValue};
use mcp_core::roots::{ListRootsResult, Root};
use mcp_core::sampling::{CreateMessageParams, CreateMessageResult};
use mcp_core::transport::{LineReader, LineWriter};
use mcp_core::{ClientCapabilities, Era, ErrorObject, Implementation, ProtocolVersion};
use mcp_server::http::{StreamableHttp, serve};
use mcp_server::{Error, NoArgs, RequestContext, Router, Server, ServerOptions, tool};
use tokio::io::DuplexStream;
use tokio::sync::mpsc;

/// What the test host was asked.
#[derive(Default)]
pub(crate) struct Asked {
    pub(crate) elicit: Vec<String>,
    pub(crate) sample: usize,
    pub(crate) roots: usize,
}

/// A host that answers everything, and remembers it was asked.
#[derive(Clone, Default)]
pub(crate) struct Host {
    pub(crate) asked: Arc<Mutex<Asked>>,
    pub(crate) offers: bool,
}

impl Host {
    pub(crate) fn full() -> Self {
        Self {
            offers: true,
            ..Self::default()
        }
    }
}

impl ClientHandler for Host {
    fn capabilities(&self) -> ClientCapabilities {
        mcp_client::capabilities(self.offers, self.offers, self.offers)
    }

    async fn elicit(&self, params: ElicitParams) -> Result<ElicitResult, ErrorObject> {
        self.asked
            .lock()
            .unwrap()
            .elicit
            .push(params.message().to_owned());
        Ok(ElicitResult::accept(
            [("name".to_owned(), ElicitValue::String("Ada".into()))].into(),
        ))
    }

    async fn create_message(
        &self,
        _: CreateMessageParams,
    ) -> Result<CreateMessageResult, ErrorObject> {
        self.asked.lock().unwrap().sample += 1;
        Ok(CreateMessageResult::new(
            SamplingContent::text("a summary"),
            "test-model",
        ))
    }

    async fn list_roots(&self) -> Result<ListRootsResult, ErrorObject> {
        self.asked.lock().unwrap().roots += 1;
        Ok(ListRootsResult::new(vec![Root::new(
            "file:///projects/demo",
        )]))
    }
}

/// Signals when a handler's future is dropped (cancellation).
pub(crate) struct DropSignal(pub(crate) mpsc::UnboundedSender<&'static str>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        let _ = self.0.send("dropped");
    }
}

/// The demo router plus tools for testing cancellation and logging.
pub(crate) fn test_router() -> (Router, mpsc::UnboundedReceiver<&'static str>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let router = examples::demo::router();
    router.add_tool(tool(
        "block",
        "Waits forever",
        move |_ctx: RequestContext, _: NoArgs| {
            let guard = DropSignal(tx.clone());
            async move {
                let _ = guard.0.send("started");
                std::future::pending::<()>().await;
                drop(guard);
                Ok::<_, Error>("unreachable")
            }
        },
    ));
    router.add_tool(tool(
        "panic",
        "Panics",
        |_ctx: RequestContext, _: NoArgs| async move {
            if std::hint::black_box(true) {
                panic!("boom");
            }
            Ok::<_, Error>("unreachable")
        },
    ));
    // Wraps the input error into a tool error, as careless code would.
    router.add_tool(tool(
        "ask_wrapped",
        "Elicits, hiding the error type",
        |ctx: RequestContext, _: NoArgs| async move {
            use mcp_core::elicitation::{ElicitParams, ElicitationSchema, PrimitiveSchema};
            let schema = ElicitationSchema::new().field("name", PrimitiveSchema::string(), true);
            let answer = ctx
                .elicit(ElicitParams::form("Name?", schema))
                .await
                .map_err(Error::tool)?;
            Ok::<_, Error>(format!("{:?}", answer.action))
        },
    ));
    router.add_tool(tool(
        "log",
        "Logs at every level",
        |ctx: RequestContext, _: NoArgs| async move {
            use mcp_core::logging::LoggingLevel;
            for level in [LoggingLevel::Debug, LoggingLevel::Info, LoggingLevel::Error] {
                ctx.log(level, serde_json::json!({"level": format!("{level:?}")}))
                    .await?;
            }
            Ok::<_, Error>("logged")
        },
    ));
    (router, rx)
}

pub(crate) type Halves = (
    LineReader<tokio::io::ReadHalf<DuplexStream>>,
    LineWriter<tokio::io::WriteHalf<DuplexStream>>,
);

/// Serves `server` over Streamable HTTP on a free loopback port; the
/// endpoint's URL and the serving task.
pub(crate) async fn serve_http<H: mcp_server::Handler>(
    server: Server<H>,
) -> (String, tokio::task::JoinHandle<Result<(), String>>) {
    let endpoint = StreamableHttp::new(server, mcp_server::http::HttpOptions::default());
    serve_endpoint(endpoint, std::future::pending()).await
}

/// Serves `endpoint` on a free loopback port until `shutdown`; its URL and
/// the serving task.
pub(crate) async fn serve_endpoint<H: mcp_server::Handler>(
    endpoint: StreamableHttp<H>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> (String, tokio::task::JoinHandle<Result<(), String>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        serve(listener, "/mcp", endpoint, shutdown)
            .await
            .map_err(|e| e.to_string())
    });
    (url, task)
}

/// An in-memory pipe, as transport halves for each end.
pub(crate) fn pipe() -> (Halves, Halves) {
    let (a, b) = tokio::io::duplex(64 * 1024);
    let (ar, aw) = tokio::io::split(a);
    let (br, bw) = tokio::io::split(b);
    (
        (LineReader::new(ar), LineWriter::new(aw)),
        (LineReader::new(br), LineWriter::new(bw)),
    )
}

/// Client options that speak only `era`.
pub(crate) fn options(era: Era) -> ClientOptions {
    let mut options = ClientOptions::new(Implementation::new("test-client", "1.0.0"));
    options.supported_versions = match era {
        Era::Modern => ProtocolVersion::DEFAULT_SUPPORTED.to_vec(),
        _ => ProtocolVersion::DEFAULT_SUPPORTED
            .iter()
            .filter(|v| v.era() == Some(Era::Legacy))
            .cloned()
            .collect(),
    };
    options.request_timeout = Duration::from_secs(10);
    options
}

/// How the client reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wire {
    /// Newline-delimited JSON over an in-memory duplex.
    Duplex,
    /// Streamable HTTP over a 127.0.0.1 socket.
    Http,
}

/// A running server and a client connected to it in `era`.
pub(crate) struct Pair {
    pub(crate) client: Client,
    pub(crate) router: Router,
    pub(crate) signals: mpsc::UnboundedReceiver<&'static str>,
    pub(crate) host: Host,
    pub(crate) server: tokio::task::JoinHandle<Result<(), String>>,
}

pub(crate) async fn connect(wire: Wire, era: Era, host: Host) -> Pair {
    connect_with(wire, era, host, ServerOptions::default()).await
}

pub(crate) async fn connect_with(
    wire: Wire,
    era: Era,
    host: Host,
    server_options: ServerOptions,
) -> Pair {
    connect_with_http(wire, era, host, server_options, HttpOptions::default()).await
}

/// As [`connect_with`], the client's HTTP transport set up by `http`.
pub(crate) async fn connect_with_http(
    wire: Wire,
    era: Era,
    host: Host,
    server_options: ServerOptions,
    http: HttpOptions,
) -> Pair {
    let (router, signals) = test_router();
    let server = Server::with_options(router.clone(), server_options);
    let (server, client) = match wire {
        Wire::Duplex => {
            let ((sr, sw), (cr, cw)) = pipe();
            let server =
                tokio::spawn(async move { server.serve(sr, sw).await.map_err(|e| e.to_string()) });
            (
                server,
                Client::connect(cr, cw, options(era), host.clone()).await,
            )
        }
        Wire::Http => {
            let (url, server) = serve_http(server).await;
            let client = Client::connect_http(&url, options(era), http, host.clone()).await;
            (server, client)
        }
    };
    let client = client.unwrap();
    Pair {
        client,
        router,
        signals,
        host,
        server,
    }
}

/// A client of `era` connected to the Streamable HTTP endpoint at `url`,
/// with default transport options and no handler.
pub(crate) async fn http_client(url: &str, era: Era) -> Client {
    Client::connect_http(url, options(era), HttpOptions::default(), Host::default())
        .await
        .unwrap()
}

/// `v`, which must be a JSON object, as tool arguments.
pub(crate) fn args(v: serde_json::Value) -> mcp_core::JsonObject {
    match v {
        serde_json::Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// What the `whoami` tool (of the protected demo app) says about the caller.
pub(crate) async fn whoami(client: &Client) -> serde_json::Value {
    let r = client
        .call_tool("whoami", args(serde_json::json!({})))
        .await
        .unwrap();
    assert_ne!(r.is_error, Some(true), "{r:?}");
    r.structured_content.unwrap()
}
