//! Checks a recording of MCP traffic, one JSON-RPC message per line.
//!
//! Each line is framed, decoded and, for methods this SDK knows, its params
//! or result are decoded into their Rust types. Lines that fail get the
//! error response a server would send back.
//!
//! Run with:
//!
//! ```text
//! cargo run --example wire_check                 # a built-in sample
//! cargo run --example wire_check -- traffic.ndjson
//! some-mcp-server < requests.ndjson | cargo run --example wire_check -- -
//! ```

use std::collections::HashMap;
use std::io::Read;
use std::process::ExitCode;

use bytes::BytesMut;
use mcp_core::codec::LineCodec;
use mcp_core::jsonrpc::Incoming;
use mcp_core::method::{self, Method, Notification as NotificationMethod};
use mcp_core::{ErrorResponse, Message, RequestId};

/// Decodes params as the type method `M` expects.
fn params_of<M: Method>(request: &mcp_core::Request) -> Result<(), mcp_core::Error> {
    request.params::<M::Params>().map(drop)
}

fn note_params_of<N: NotificationMethod>(
    note: &mcp_core::Notification,
) -> Result<(), mcp_core::Error> {
    note.params::<N::Params>().map(drop)
}

fn result_of<M: Method>(response: &mcp_core::Response) -> Result<(), mcp_core::Error> {
    response.result::<M::Result>().map(drop)
}

type RequestCheck = fn(&mcp_core::Request) -> Result<(), mcp_core::Error>;
type ResultCheck = fn(&mcp_core::Response) -> Result<(), mcp_core::Error>;

/// The typed checks for a request method: its params, and later its result.
fn request_checks(name: &str) -> Option<(RequestCheck, ResultCheck)> {
    macro_rules! table {
        ($($m:ty),*) => {
            match name {
                $(n if n == <$m>::NAME => Some((params_of::<$m> as RequestCheck, result_of::<$m> as ResultCheck)),)*
                _ => None,
            }
        };
    }
    table!(
        method::Initialize,
        method::Discover,
        method::Ping,
        method::ListTools,
        method::CallTool,
        method::ListResources,
        method::ListResourceTemplates,
        method::ReadResource,
        method::Subscribe,
        method::Unsubscribe,
        method::ListPrompts,
        method::GetPrompt,
        method::Complete,
        method::SetLevel,
        method::Listen,
        method::CreateMessage,
        method::Elicit,
        method::ListRoots
    )
}

fn notification_check(note: &mcp_core::Notification) -> Option<Result<(), mcp_core::Error>> {
    macro_rules! table {
        ($($n:ty),*) => {
            match note.method.as_str() {
                $(n if n == <$n>::NAME => Some(note_params_of::<$n>(note)),)*
                _ => None,
            }
        };
    }
    table!(
        method::Initialized,
        method::Cancelled,
        method::Progress,
        method::RootsListChanged,
        method::LoggingMessage,
        method::ToolListChanged,
        method::PromptListChanged,
        method::ResourceListChanged,
        method::ResourceUpdated,
        method::SubscriptionsAcknowledged,
        method::ElicitationComplete
    )
}

#[derive(Default)]
struct Report {
    ok: usize,
    bad: usize,
    /// Result checks owed for requests seen, by id.
    pending: HashMap<RequestId, (String, ResultCheck)>,
}

impl Report {
    /// Reports a failure and the reply owed; `id` is the request's id when
    /// the failure concerns a readable request (its params).
    fn fail_for(&mut self, line: usize, err: &mcp_core::Error, id: Option<&RequestId>) {
        self.bad += 1;
        let reply = match (err.to_error_object(), id) {
            (Some(object), Some(id)) => Some(ErrorResponse::new(Some(id.clone()), object)),
            _ => err.to_error_response(),
        };
        match reply {
            Some(reply) => {
                let reply = Message::from(reply).to_vec().unwrap_or_default();
                println!(
                    "{line:>4}  ERROR  {err}\n      reply: {}",
                    String::from_utf8_lossy(&reply)
                );
            }
            None => println!("{line:>4}  ERROR  {err}"),
        }
    }

    fn fail(&mut self, line: usize, err: &mcp_core::Error) {
        self.fail_for(line, err, None);
    }

    fn message(&mut self, line: usize, message: &Message) {
        let (what, checked) = match message {
            Message::Request(r) => {
                let checks = request_checks(&r.method);
                if let Some((_, result)) = checks {
                    self.pending
                        .insert(r.id.clone(), (r.method.clone(), result));
                }
                (
                    format!("request {} {}", r.id, r.method),
                    checks.map(|(params, _)| params(r)),
                )
            }
            Message::Notification(n) => {
                (format!("notification {}", n.method), notification_check(n))
            }
            Message::Response(r) => match self.pending.remove(&r.id) {
                Some((method, check)) => {
                    (format!("result for {} ({method})", r.id), Some(check(r)))
                }
                None => (format!("result for {} (request not seen)", r.id), None),
            },
            Message::Error(e) => {
                let id =
                    e.id.as_ref()
                        .map_or_else(|| "?".to_owned(), ToString::to_string);
                (format!("error for {id}: {}", e.error), None)
            }
        };
        match checked {
            Some(Err(err)) => {
                println!("{line:>4}  {what}");
                let id = match message {
                    Message::Request(r) => Some(&r.id),
                    _ => None,
                };
                self.fail_for(line, &err, id);
            }
            Some(Ok(())) => {
                self.ok += 1;
                println!("{line:>4}  ok     {what} (typed)");
            }
            None => {
                self.ok += 1;
                println!("{line:>4}  ok     {what}");
            }
        }
    }
}

fn main() -> ExitCode {
    let arg = std::env::args().nth(1);
    let mut input = Vec::new();
    let read = match arg.as_deref() {
        None => {
            input.extend_from_slice(examples::SAMPLE_TRANSCRIPT.as_bytes());
            Ok(())
        }
        Some("-") => std::io::stdin().read_to_end(&mut input).map(drop),
        Some(path) => std::fs::read(path).map(|bytes| input = bytes),
    };
    if let Err(e) = read {
        eprintln!("cannot read input: {e}");
        return ExitCode::from(2);
    }

    let mut codec = LineCodec::new();
    let mut buf = BytesMut::from(&input[..]);
    let mut report = Report::default();
    let mut line = 0;
    loop {
        // Batches are legal only in 2025-03-26 traffic; accept them here so
        // such recordings can be checked too.
        let frame = match codec.decode(&mut buf) {
            Ok(Some(frame)) => frame,
            Ok(None) => match codec.decode_eof(&mut buf) {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(e) => {
                    report.fail(line + 1, &e);
                    break;
                }
            },
            Err(e) => {
                line += 1;
                report.fail(line, &e);
                continue;
            }
        };
        line += 1;
        match Incoming::from_slice(&frame, true) {
            Ok(Incoming::Single(m)) => report.message(line, &m),
            Ok(Incoming::Batch(items)) => {
                for item in items {
                    match item {
                        Ok(m) => report.message(line, &m),
                        Err(e) => report.fail(line, &e),
                    }
                }
            }
            Err(e) => report.fail(line, &e),
        }
    }
    println!("\n{} ok, {} with errors", report.ok, report.bad);
    // The built-in sample contains bad lines on purpose; a real recording
    // with bad lines fails the run, so the check can gate scripts.
    if report.bad == 0 || arg.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
