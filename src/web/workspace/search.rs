//! `GET /search`: full-text search over the agent's tickets (subject, messages, contact), ranked,
//! with matches highlighted. The tantivy index lives in `crate::search`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Names, local_time};
use crate::domain::Reason;
use crate::domain::Status;
use crate::search::{SearchQuery, search_tickets};
use crate::tickets::views;
use crate::web::AppState;
use crate::web::auth::PageActor;
use crate::web::errors::PageError;
use crate::web::pages::render;

const PER_PAGE: usize = 20;

#[derive(Deserialize, Default)]
pub struct SearchParams {
    #[serde(default)]
    q: String,
    /// "" = all, "open" = new/open/waiting, or one status.
    #[serde(default)]
    status: String,
    #[serde(default)]
    queue: String,
    #[serde(default)]
    page: usize,
}

#[get("/search")]
pub async fn search(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    p: web::Query<SearchParams>,
) -> Result<HttpResponse, PageError> {
    let p = p.into_inner();
    let queues = views::queues(&st.db, &actor).await?;
    let statuses = match p.status.as_str() {
        "" => vec![],
        "open" => vec![Status::New, Status::Open, Status::Waiting],
        s => vec![Status::parse(s)?],
    };
    let queue = match p.queue.trim() {
        "" => None,
        q => Some(
            q.parse::<i64>()
                .map_err(|_| crate::domain::InvalidValue::new("queue", Reason::Choose))?,
        ),
    };
    let text = p.q.trim().to_string();
    let (hits, total, fuzzy) = if text.is_empty() {
        (vec![], 0, false)
    } else {
        let res = search_tickets(
            &st.db,
            &st.search,
            &actor,
            SearchQuery {
                text: text.clone(),
                statuses,
                queue,
                limit: Some(PER_PAGE),
                offset: Some(p.page.min(49) * PER_PAGE),
            },
        )
        .await?;
        let names = Names::new(&queues, &views::people(&st.db, &actor).await?);
        let hits: Vec<Value> = res
            .hits
            .iter()
            .map(|h| {
                json!({
                    "number": h.number,
                    "subject_html": h.subject_html,
                    "snippet_html": h.snippet_html,
                    "status": h.status,
                    "priority": h.priority,
                    "queue": names.queue(h.queue_id),
                    "created": local_time(h.created_at),
                })
            })
            .collect();
        (hits, res.total, res.fuzzy)
    };
    let link = |page: usize| {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        s.append_pair("q", &text);
        if !p.status.is_empty() {
            s.append_pair("status", &p.status);
        }
        if !p.queue.is_empty() {
            s.append_pair("queue", &p.queue);
        }
        s.append_pair("page", &page.to_string());
        format!("/search?{}", s.finish())
    };
    let more = (p.page + 1) * PER_PAGE < total && p.page < 49;
    render(
        &req,
        Some(&actor),
        StatusCode::OK,
        "search",
        json!({
            "nav": "search",
            "q": text,
            "searched": !text.is_empty(),
            "hits": hits,
            "total": total,
            "fuzzy": fuzzy,
            "prev": (p.page > 0).then(|| link(p.page - 1)),
            "next": more.then(|| link(p.page + 1)),
            "status_open": p.status == "open",
            "status_closed": p.status == "closed",
            "queues": queues.iter().filter(|q| q.mine).map(|q| json!({
                "id": q.id, "name": q.name, "selected": q.id.get().to_string() == p.queue,
            })).collect::<Vec<_>>(),
        }),
    )
}
