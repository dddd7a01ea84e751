//! Legacy sessions served by several instances together: what one
//! instance hears from the others about a session it serves, and what it
//! passes on to them.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use mcp_core::Message;

use super::Sessions;
use super::session::{Session, lock};
use crate::handler::Handler;
use crate::http::relay::{Heard, Note};

/// Whether `message` is a response to a request of the server's own
/// (ids `srv-…`, as instances make them).
fn answers_a_server_request(message: &Message) -> bool {
    let id = match message {
        Message::Response(r) => Some(&r.id),
        Message::Error(e) => e.id.as_ref(),
        _ => None,
    };
    id.is_some_and(crate::session::peer::is_server_request_id)
}

/// How many answers and cancellations one POST may relay to other
/// instances; more are handled here only.
pub(super) const MAX_RELAYS_PER_POST: usize = 16;

impl<H: Handler> Sessions<H> {
    /// Where instances share sessions: hears what the others say about
    /// session `id`, from now until it leaves this instance.
    pub(super) async fn listen(
        &self,
        id: &str,
        session: &Arc<Session<H>>,
    ) -> Result<(), crate::Error> {
        let Some(bus) = &session.bus else {
            return Ok(());
        };
        let mut notes = bus.listen().await?;
        let weak = Arc::downgrade(session);
        let store = Arc::clone(&self.store);
        let live = Arc::clone(&self.live);
        let id = id.to_owned();
        // Ends (and drops its subscription) when the session leaves this
        // instance, whatever way it goes.
        let mut closing = session.conn.closing();
        tokio::spawn(async move {
            loop {
                let heard = tokio::select! {
                    heard = notes.next() => heard,
                    _ = closing.wait_for(|&c| c) => None,
                };
                let Some(heard) = heard else {
                    break;
                };
                let Some(session) = weak.upgrade() else {
                    break;
                };
                match heard {
                    Heard::Gap => session.streams.resync().await,
                    Heard::Note(Note::Event { stream, id, m }) => {
                        session
                            .streams
                            .relayed(&stream, &id, m.get().as_bytes())
                            .await;
                    }
                    Heard::Note(Note::Standalone { m }) => {
                        let frame = Bytes::copy_from_slice(m.get().as_bytes());
                        session.streams.adopt(&frame).await;
                    }
                    Heard::Note(Note::Follow { stream, after }) => {
                        session.streams.hand_over(&stream, &after).await;
                    }
                    Heard::Note(Note::Answer { m }) => {
                        if let Ok(message) = serde_json::from_str::<Message>(m.get()) {
                            // Not waited for here either: for another.
                            let _ = session.conn.answer(message);
                        }
                    }
                    Heard::Note(Note::Cancel { id }) => {
                        session.conn.cancel(&id);
                    }
                    // A change of this instance not yet saved wins: it
                    // is about to be written over the other's.
                    Heard::Note(Note::State)
                        if session.conn.state().generation()
                            != session.saved.load(Ordering::Relaxed) => {}
                    Heard::Note(Note::State) => match store.get(&id).await {
                        Ok(Some(record)) => {
                            session.conn.restore(record);
                            let generation = session.conn.state().generation();
                            session.saved.store(generation, Ordering::Relaxed);
                        }
                        Ok(None) => {}
                        Err(e) => {
                            tracing::warn!(error = %e, "session store failed; state not reloaded");
                        }
                    },
                    Heard::Note(Note::End) => {
                        lock(&live).remove(&id);
                        session.conn.abort_all();
                        break;
                    }
                }
            }
        });
        Ok(())
    }

    /// A message of a POST other than a request: where instances share the
    /// session, an answer no handler here waits for, or a cancellation of
    /// no request running here, goes to the others.
    pub(super) async fn on_message(
        &self,
        session: &Session<H>,
        message: Message,
        route: &crate::session::Route,
        relays: &mut usize,
    ) {
        let Some(bus) = &session.bus else {
            return session.conn.on_message(message, route).await;
        };
        // A batch is no way to flood the bus: a few notes per POST.
        if *relays >= MAX_RELAYS_PER_POST {
            return session.conn.on_message(message, route).await;
        }
        match message {
            Message::Response(_) | Message::Error(_) => {
                // Only what answers a request an instance sent goes on.
                if let Err(message) = session.conn.answer(message)
                    && answers_a_server_request(&message)
                    && let Ok(m) = serde_json::value::to_raw_value(&message)
                {
                    *relays += 1;
                    bus.tell(Note::Answer { m }).await;
                }
            }
            Message::Notification(n)
                if n.method
                    == <mcp_core::method::Cancelled as mcp_core::method::Notification>::NAME =>
            {
                let id = n
                    .params::<mcp_core::notifications::CancelledParams>()
                    .ok()
                    .and_then(|p| p.request_id);
                if let Some(id) = id
                    && !session.conn.cancel(&id)
                {
                    *relays += 1;
                    bus.tell(Note::Cancel { id }).await;
                }
            }
            other => session.conn.on_message(other, route).await,
        }
    }
}
