//! `GET /live`: Server-Sent Events with the changes an agent may see — tickets in their queues
//! changing, and colleagues starting or stopping a reply. The stream ends after a while and the
//! browser reconnects (EventSource does that by itself), which also re-checks the session.

use std::time::Duration;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpResponse, get, web};
use tokio::sync::broadcast::error::RecvError;

use crate::domain::QueueAccess;
use crate::tickets::live::LiveEvent;
use crate::web::AppState;
use crate::web::auth::PageActor;

const KEEPALIVE: Duration = Duration::from_secs(15);
const MAX_STREAM: Duration = Duration::from_secs(600);

struct State {
    rx: tokio::sync::broadcast::Receiver<LiveEvent>,
    tenant: crate::domain::TenantId,
    access: QueueAccess,
    me: i64,
    started: tokio::time::Instant,
    hello: bool,
    /// True once the server is stopping: the stream ends (the browser reconnects, to another
    /// node or to this one when it is back).
    stopping: tokio::sync::watch::Receiver<bool>,
}

fn frame(ev: &LiveEvent) -> Bytes {
    let name = match ev {
        LiveEvent::Ticket { .. } => "ticket",
        LiveEvent::Presence { .. } => "presence",
    };
    let data = serde_json::to_string(ev).unwrap_or_else(|_| "{}".into());
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

#[get("/live")]
pub async fn stream(st: web::Data<AppState>, PageActor(actor): PageActor) -> HttpResponse {
    let state = State {
        rx: st.live.subscribe(),
        tenant: actor.tenant,
        access: actor.queue_access(),
        me: actor.user.get(),
        started: tokio::time::Instant::now(),
        hello: false,
        stopping: st.stopping.clone(),
    };
    let body = futures_util::stream::unfold(state, |mut s| async move {
        if !s.hello {
            s.hello = true;
            // Tell the browser to wait 2 s before reconnecting, and that we are live.
            return Some((
                Ok::<_, actix_web::Error>(Bytes::from_static(
                    b"retry: 2000\nevent: ready\ndata: {}\n\n",
                )),
                s,
            ));
        }
        loop {
            if s.started.elapsed() > MAX_STREAM || *s.stopping.borrow() {
                return None;
            }
            let next = tokio::select! {
                // Stopping (or the server gone with its sender): end the stream.
                _ = s.stopping.changed() => return None,
                next = tokio::time::timeout(KEEPALIVE, s.rx.recv()) => next,
            };
            match next {
                Err(_) => return Some((Ok(Bytes::from_static(b": keepalive\n\n")), s)),
                Ok(Err(RecvError::Closed)) => return None,
                // Fell behind: tell the page to refresh what it shows.
                Ok(Err(RecvError::Lagged(_))) => {
                    return Some((Ok(Bytes::from_static(b"event: resync\ndata: {}\n\n")), s));
                }
                Ok(Ok(ev)) => {
                    if ev.tenant() != s.tenant || !s.access.allows(ev.queue()) {
                        // A ticket moved out of my queues still needs to leave my lists.
                        if let LiveEvent::Ticket { kind, .. } = &ev
                            && ev.tenant() == s.tenant
                            && kind == "queue_changed"
                        {
                            return Some((Ok(frame(&ev)), s));
                        }
                        continue;
                    }
                    if let LiveEvent::Presence { user, .. } = &ev
                        && user.get() == s.me
                    {
                        continue;
                    }
                    return Some((Ok(frame(&ev)), s));
                }
            }
        }
    });
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body)
}
