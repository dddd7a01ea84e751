//! Resource subscriptions through the gateway: each upstream holds one
//! subscription per URI for all the gateway's clients that asked for it,
//! updates reach every one of them, and the upstream's subscription is let
//! go when the last of them ends it — by unsubscribing, by closing its
//! stream, or by ending its session.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use mcp_client::{Client, ServerNotification};
use mcp_core::Era;
use mcp_core::subscriptions::SubscriptionFilter;
use mcp_gateway::Gateway;
use mcp_server::Server;
use serde_json::json;
use tokio_stream::StreamExt;

use super::{PATIENCE, http_upstream, offers, serve};
use crate::support::{args, http_client, serve_http, test_router};

const LEGACY: &str = "2025-11-25";

/// Subscriptions `upstream` holds.
fn held(gateway: &Gateway, upstream: &str) -> usize {
    gateway
        .status()
        .into_iter()
        .find(|s| s.name == upstream)
        .map(|s| s.subscriptions)
        .unwrap()
}

/// Waits until `upstream` holds `count` subscriptions: an ended stream or
/// session is let go as the gateway notices, after the client's call.
async fn holds(gateway: &Gateway, upstream: &str, count: usize) {
    tokio::time::timeout(PATIENCE, async {
        while held(gateway, upstream) != count {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap_or_else(|_| {
        panic!(
            "{upstream} holds {} subscriptions, not {count}",
            held(gateway, upstream)
        )
    });
}

/// The next resource update `client` hears.
async fn updated(notes: &mut mcp_client::Notifications) -> String {
    tokio::time::timeout(PATIENCE, async {
        loop {
            if let Some(ServerNotification::ResourceUpdated { uri }) = notes.next().await {
                return uri;
            }
        }
    })
    .await
    .unwrap()
}

async fn save_note(client: &Client, upstream: &str, name: &str) {
    client
        .call_tool(
            &format!("{upstream}__save_note"),
            args(json!({"name": name, "text": "changed"})),
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_upstream_subscription_serves_every_client_until_the_last_lets_go() {
    let (router, _signals) = test_router();
    let (upstream_url, _server) = serve_http(Server::new(router)).await;
    let config = format!(
        "{}{}",
        http_upstream("modern", &upstream_url, &[]),
        http_upstream("legacy", &upstream_url, &[LEGACY]),
    );
    let (gateway, url) = serve(&config).await;
    offers(&gateway, &["modern__save_note", "legacy__save_note"]).await;

    for upstream in ["modern", "legacy"] {
        let uri = format!("{upstream}+memo://notes/n1");
        // A legacy session and a 2026-07-28 stream subscribe to one URI:
        // the upstream holds it once.
        let session = http_client(&url, Era::Legacy).await;
        let mut session_notes = session.notifications();
        session.subscribe_resource(&uri).await.unwrap();
        let stream_client = http_client(&url, Era::Modern).await;
        let mut stream_notes = stream_client.notifications();
        let stream = stream_client
            .listen(SubscriptionFilter::default().with_resource_subscriptions(vec![uri.clone()]))
            .await
            .unwrap();
        assert_eq!(held(&gateway, upstream), 1, "{upstream}");

        save_note(&session, upstream, "n1").await;
        assert_eq!(updated(&mut session_notes).await, uri, "{upstream}");
        assert_eq!(updated(&mut stream_notes).await, uri, "{upstream}");

        // The session unsubscribes; the stream still holds it.
        session.unsubscribe_resource(&uri).await.unwrap();
        assert_eq!(held(&gateway, upstream), 1, "{upstream}");
        // Subscribing twice on one session counts once.
        session.subscribe_resource(&uri).await.unwrap();
        session.subscribe_resource(&uri).await.unwrap();
        session.unsubscribe_resource(&uri).await.unwrap();
        assert_eq!(held(&gateway, upstream), 1, "{upstream}");

        // The stream closes: the last one, so the upstream's goes.
        drop(stream);
        holds(&gateway, upstream, 0).await;

        // A session that ends while subscribed lets go too.
        session.subscribe_resource(&uri).await.unwrap();
        assert_eq!(held(&gateway, upstream), 1, "{upstream}");
        session.close().await.unwrap();
        holds(&gateway, upstream, 0).await;
        drop(stream_client);
    }
}

/// Changes the note until `notes` hears of it: a restarted upstream makes
/// its subscriptions again just after it connects, so the first changes
/// may come before them. Bounded in attempts and time.
async fn changed_until_heard(client: &Client, notes: &mut mcp_client::Notifications, uri: &str) {
    for _ in 0..50 {
        client
            .call_tool("save_note", args(json!({"name": "n1", "text": "changed"})))
            .await
            .unwrap();
        if let Ok(heard) = tokio::time::timeout(Duration::from_millis(200), updated(notes)).await {
            assert_eq!(heard, uri);
            return;
        }
    }
    panic!("no update for {uri} after the reload");
}

/// A reload that changes an upstream restarts it. The subscriptions the
/// old one held are made on the new one with their counts, updates keep
/// coming, and each client's later release counts against the new one:
/// clients that subscribed before the reload letting go never end the
/// subscription of one that came after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_carry_over_a_reload_that_replaces_their_upstream() {
    let (router, _signals) = test_router();
    let (upstream_url, _server) = serve_http(Server::new(router)).await;
    for versions in [&[][..], &[LEGACY][..]] {
        let before = http_upstream("notes", &upstream_url, versions);
        let (gateway, url) = serve(&before).await;
        // One upstream: names and URIs as the upstream has them.
        offers(&gateway, &["save_note"]).await;
        let uri = "memo://notes/n1";
        let first = http_client(&url, Era::Legacy).await;
        let mut first_notes = first.notifications();
        first.subscribe_resource(uri).await.unwrap();
        let second = http_client(&url, Era::Legacy).await;
        second.subscribe_resource(uri).await.unwrap();
        assert_eq!(held(&gateway, "notes"), 1, "{versions:?}");

        // Another timeout: the upstream is replaced.
        let after = format!("{before}timeout_secs = 30\n");
        gateway.apply(mcp_gateway::Config::parse(&after).unwrap());
        assert_eq!(gateway.status()[0].connects, 0, "a new upstream");
        assert_eq!(held(&gateway, "notes"), 1, "carried over: {versions:?}");
        offers(&gateway, &["save_note"]).await;
        changed_until_heard(&first, &mut first_notes, uri).await;

        // A stream after the reload; then the two from before let go (an
        // unsubscribe is counted before it is answered).
        let late = http_client(&url, Era::Modern).await;
        let mut late_notes = late.notifications();
        let stream = late
            .listen(SubscriptionFilter::default().with_resource_subscriptions(vec![uri.to_owned()]))
            .await
            .unwrap();
        first.unsubscribe_resource(uri).await.unwrap();
        second.unsubscribe_resource(uri).await.unwrap();
        assert_eq!(
            held(&gateway, "notes"),
            1,
            "still the stream's: {versions:?}"
        );
        changed_until_heard(&first, &mut late_notes, uri).await;
        drop(stream);
        holds(&gateway, "notes", 0).await;
    }
}

/// A reload that adds an upstream gives the one that was there a prefix:
/// URIs clients subscribed to before no longer route to it. Their
/// unsubscribes still let go of what they made, where they made it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsubscribe_after_a_reload_remapped_its_uri_still_lets_go() {
    let (router, _signals) = test_router();
    let (upstream_url, _server) = serve_http(Server::new(router)).await;
    let before = http_upstream("notes", &upstream_url, &[]);
    let (gateway, url) = serve(&before).await;
    offers(&gateway, &["save_note"]).await;
    let client = http_client(&url, Era::Legacy).await;
    let uri = "memo://notes/n1";
    client.subscribe_resource(uri).await.unwrap();
    assert_eq!(held(&gateway, "notes"), 1);

    let after = format!("{before}{}", http_upstream("other", &upstream_url, &[]));
    gateway.apply(mcp_gateway::Config::parse(&after).unwrap());
    offers(&gateway, &["notes__save_note", "other__save_note"]).await;
    assert_eq!(gateway.status()[0].connects, 1, "the same upstream, kept");
    // The old URI routes nowhere now; the subscription is let go anyway.
    client.unsubscribe_resource(uri).await.unwrap();
    assert_eq!(held(&gateway, "notes"), 0);
}

/// The test router behind a gate: `subscribe` waits until the test opens
/// it, and what the server holds is counted (up on an accepted subscribe,
/// down when one ends).
#[derive(Clone)]
struct Gated {
    router: mcp_server::Router,
    asked: Arc<tokio::sync::Notify>,
    open: Arc<tokio::sync::Semaphore>,
    holding: Arc<AtomicI64>,
    /// Set: subscriptions are refused.
    refuse: Arc<AtomicBool>,
}

impl mcp_server::Handler for Gated {
    fn info(&self) -> mcp_server::Implementation {
        self.router.info()
    }

    fn capabilities(&self) -> mcp_core::ServerCapabilities {
        self.router.capabilities()
    }

    async fn list_tools(
        &self,
        ctx: mcp_server::RequestContext,
        params: mcp_core::PaginatedParams,
    ) -> Result<mcp_core::tools::ListToolsResult, mcp_server::Error> {
        self.router.list_tools(ctx, params).await
    }

    async fn list_resources(
        &self,
        ctx: mcp_server::RequestContext,
        params: mcp_core::PaginatedParams,
    ) -> Result<mcp_core::resources::ListResourcesResult, mcp_server::Error> {
        self.router.list_resources(ctx, params).await
    }

    async fn subscribe(
        &self,
        _ctx: mcp_server::RequestContext,
        _uri: String,
    ) -> Result<(), mcp_server::Error> {
        self.asked.notify_one();
        if self.refuse.load(Ordering::SeqCst) {
            return Err(mcp_server::Error::invalid_params("no subscriptions here"));
        }
        self.open.acquire().await.unwrap().forget();
        self.holding.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn unsubscribed(&self, _uri: &str) {
        self.holding.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A TCP relay to `target` whose answers (bytes from `target`) wait while
/// the returned flag is `true`; its URL, with `target`'s path.
async fn holding_relay(target: &str) -> (String, tokio::sync::watch::Sender<bool>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let target = reqwest::Url::parse(target).unwrap();
    let address = format!("{}:{}", target.host_str().unwrap(), target.port().unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}{}", listener.local_addr().unwrap(), target.path());
    let (hold, held) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            let outbound = tokio::net::TcpStream::connect(&address).await.unwrap();
            let (mut in_read, mut in_write) = inbound.into_split();
            let (mut out_read, mut out_write) = outbound.into_split();
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut in_read, &mut out_write).await;
            });
            let mut held = held.clone();
            tokio::spawn(async move {
                let mut buffer = vec![0; 16 * 1024];
                loop {
                    let Ok(n) = out_read.read(&mut buffer).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    if held.wait_for(|h| !h).await.is_err()
                        || in_write.write_all(&buffer[..n]).await.is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (url, hold)
}

/// A client that gives up on its subscribe after a legacy upstream took
/// it but before its answer reached the gateway: the upstream's
/// subscription is let go again, not left held with nothing counting it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscribe_given_up_while_its_answer_travels_leaves_nothing_held_upstream() {
    let (router, _signals) = test_router();
    let gated = Gated {
        router,
        asked: Arc::default(),
        open: Arc::new(tokio::sync::Semaphore::new(2)),
        holding: Arc::default(),
        refuse: Arc::default(),
    };
    let (upstream_url, _server) = serve_http(Server::new(gated.clone())).await;
    let (relayed, hold) = holding_relay(&upstream_url).await;
    let (gateway, url) = serve(&http_upstream("gated", &relayed, &[LEGACY])).await;
    offers(&gateway, &["save_note"]).await;
    let client = http_client(&url, Era::Legacy).await;
    let uri = "memo://notes/n1";
    {
        let subscribing = client.subscribe_resource(uri);
        tokio::pin!(subscribing);
        // The upstream's answers wait in the relay from now on.
        hold.send_replace(true);
        tokio::select! {
            _ = &mut subscribing => panic!("answered through a held relay"),
            () = async {
                while gated.holding.load(Ordering::SeqCst) != 1 {
                    tokio::task::yield_now().await;
                }
            } => {}
        }
        // Taken upstream; the client gives up before hearing so.
    }
    // The client's writer sends the cancellation, and the gateway acts on
    // it, before this request goes out.
    client.ping().await.unwrap();
    hold.send_replace(false);
    tokio::time::timeout(PATIENCE, async {
        while gated.holding.load(Ordering::SeqCst) != 0 || held(&gateway, "gated") != 0 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .unwrap_or_else(|_| {
        panic!(
            "the upstream holds {}, the gateway counts {}",
            gated.holding.load(Ordering::SeqCst),
            held(&gateway, "gated")
        )
    });
    // Subscribing still works.
    client.subscribe_resource(uri).await.unwrap();
    assert_eq!(held(&gateway, "gated"), 1);
    assert_eq!(gated.holding.load(Ordering::SeqCst), 1);
}

/// A reload restarts an upstream that now refuses a subscription the old
/// one held: the next client asking for it hears the refusal, rather than
/// being counted in on a subscription the upstream does not hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_carried_subscription_the_restarted_upstream_refuses_is_not_joined_silently() {
    let (router, _signals) = test_router();
    let gated = Gated {
        router,
        asked: Arc::default(),
        open: Arc::new(tokio::sync::Semaphore::new(100)),
        holding: Arc::default(),
        refuse: Arc::default(),
    };
    let (upstream_url, _server) = serve_http(Server::new(gated.clone())).await;
    let before = http_upstream("gated", &upstream_url, &[]);
    let (gateway, url) = serve(&before).await;
    offers(&gateway, &["save_note"]).await;
    let uri = "memo://notes/n1";
    let first = http_client(&url, Era::Legacy).await;
    first.subscribe_resource(uri).await.unwrap();
    assert_eq!(held(&gateway, "gated"), 1);

    gated.refuse.store(true, Ordering::SeqCst);
    let after = format!("{before}timeout_secs = 30\n");
    gateway.apply(mcp_gateway::Config::parse(&after).unwrap());
    offers(&gateway, &["save_note"]).await;
    let second = http_client(&url, Era::Legacy).await;
    let refused = second.subscribe_resource(uri).await;
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(held(&gateway, "gated"), 1, "still the first client's");

    // Once the upstream takes it again, the next subscribe makes it.
    gated.refuse.store(false, Ordering::SeqCst);
    second.subscribe_resource(uri).await.unwrap();
    first.unsubscribe_resource(uri).await.unwrap();
    second.unsubscribe_resource(uri).await.unwrap();
    holds(&gateway, "gated", 0).await;
}
