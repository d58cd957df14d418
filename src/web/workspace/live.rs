//! `GET /live`: Server-Sent Events with the changes an agent may see — tickets in their queues
//! changing, and colleagues starting or stopping a reply. The stream ends after a while and the
//! browser reconnects (EventSource does that by itself). Every event passes
//! `LiveEvent::visible_to` for the stream's agent, and the agent's session and queues are looked
//! up again every `RECHECK` while the stream is open: a signed-out or deactivated agent's stream
//! ends, and one removed from a queue stops hearing of it.

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
/// How often an open stream checks again who its agent is and which queues they are in.
const RECHECK: Duration = Duration::from_secs(10);

struct State {
    rx: tokio::sync::broadcast::Receiver<LiveEvent>,
    tenant: crate::domain::TenantId,
    access: QueueAccess,
    me: crate::domain::UserId,
    /// The session the stream was opened with, and when it was last checked.
    session: String,
    checked: tokio::time::Instant,
    app: web::Data<AppState>,
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

/// Look the stream's agent up again; `false` when the session no longer holds.
async fn recheck(s: &mut State) -> bool {
    use crate::accounts::tokens::TokenKind;
    s.checked = tokio::time::Instant::now();
    match crate::accounts::authenticate(&s.app.db, &s.app.signer, &s.session, TokenKind::Session)
        .await
    {
        Ok(actor) if actor.tenant == s.tenant && actor.person() == Some(s.me) => {
            s.access = actor.queue_access();
            true
        }
        Ok(_) | Err(crate::error::Error::Unauthenticated) => false,
        // The database did not answer: keep what we knew, try again later.
        Err(e) => {
            tracing::warn!(error = %e, "live stream: could not re-check the session");
            true
        }
    }
}

#[get("/live")]
pub async fn stream(
    req: actix_web::HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
) -> HttpResponse {
    let session = req
        .cookie(&crate::web::auth::cookie_name(
            &st,
            crate::web::auth::SESSION_COOKIE,
        ))
        .map(|c| c.value().to_string())
        .unwrap_or_default();
    // Only a person has a live stream (the operator never signs in to the web).
    let Ok(me) = actor.user() else {
        return HttpResponse::Forbidden().finish();
    };
    let state = State {
        rx: st.live.subscribe(),
        tenant: actor.tenant,
        access: actor.queue_access(),
        me,
        session,
        checked: tokio::time::Instant::now(),
        app: st.clone(),
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
            if s.checked.elapsed() > RECHECK && !recheck(&mut s).await {
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
                    // Judge with the agent's queues as they are now.
                    if s.checked.elapsed() > RECHECK && !recheck(&mut s).await {
                        return None;
                    }
                    if !ev.visible_to(s.tenant, &s.access, s.me) {
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
