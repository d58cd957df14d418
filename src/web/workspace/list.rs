//! Ticket lists (one queue or all of mine) with filters, sorting, keyset paging and bulk actions.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Names, row};
use crate::domain::Reason;
use crate::domain::{Channel, InvalidValue, Priority, Status, TicketNumber};
use crate::tickets::actions::{self, BulkAction};
use crate::tickets::{self, ListQuery, views};
use crate::web::AppState;
use crate::web::auth::{CsrfForm, HasCsrf, PageActor};
use crate::web::errors::PageError;
use crate::web::pages::{page_locale, render};

#[derive(Debug, Deserialize, Default)]
pub struct ListParams {
    #[serde(default)]
    queue: String,
    /// "" = all open (new, open, waiting), "all", or one status.
    #[serde(default)]
    status: String,
    #[serde(default)]
    priority: String,
    /// "", "me", "none" or a user id.
    #[serde(default)]
    assignee: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    tag: String,
    /// "", "at_risk" or "breached".
    #[serde(default)]
    sla: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    cursor: String,
    #[serde(default)]
    done: Option<usize>,
}

fn opt(s: &str) -> Option<&str> {
    Some(s.trim()).filter(|s| !s.is_empty())
}

impl ListParams {
    pub(crate) fn query(&self) -> Result<ListQuery, InvalidValue> {
        let statuses = match self.status.as_str() {
            "" => vec![Status::New, Status::Open, Status::Waiting],
            "all" => vec![],
            s => vec![Status::parse(s)?],
        };
        Ok(ListQuery {
            statuses,
            priority: opt(&self.priority).map(Priority::parse).transpose()?,
            queue: opt(&self.queue)
                .map(|q| {
                    q.parse::<i64>()
                        .map_err(|_| InvalidValue::new("queue", Reason::Choose))
                })
                .transpose()?,
            assignee: opt(&self.assignee).map(str::to_string),
            channel: opt(&self.channel).map(Channel::parse).transpose()?,
            tag: opt(&self.tag).map(str::to_string),
            sla: tickets::parse_sla_filter(&self.sla)?,
            automatic: None,
            sort: tickets::parse_sort(self.sort.trim())?,
            cursor: opt(&self.cursor).map(str::to_string),
            limit: Some(50),
        })
    }

    /// The query string of this list without the cursor (for the next-page link and "back").
    fn base(&self) -> String {
        let pairs = [
            ("queue", &self.queue),
            ("status", &self.status),
            ("priority", &self.priority),
            ("assignee", &self.assignee),
            ("channel", &self.channel),
            ("tag", &self.tag),
            ("sla", &self.sla),
            ("sort", &self.sort),
        ];
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            if !v.is_empty() {
                ser.append_pair(k, v);
            }
        }
        ser.finish()
    }
}

fn options(values: &[&str], selected: &str) -> Vec<Value> {
    values
        .iter()
        .map(|v| json!({ "value": v, "selected": *v == selected }))
        .collect()
}

#[get("/tickets")]
pub async fn list(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, PageError> {
    let p = params.into_inner();
    let locale = page_locale(Some(&actor), &req);
    let page = tickets::list(&st.db, &actor, p.query()?).await?;
    let queues = views::queues(&st.db, &actor).await?;
    let people = views::people(&st.db, &actor).await?;
    let names = Names::new(&queues, &people)
        .with_rows(&st, &actor, &page.tickets)
        .await?;
    let tags = views::tags(&st.db, &actor).await?;
    let rows: Vec<Value> = page
        .tickets
        .iter()
        .map(|t| row(t, &names, locale))
        .collect();
    let base = p.base();
    let next = page.next_cursor.as_ref().map(|c| {
        let mut ser = url::form_urlencoded::Serializer::new(base.clone());
        ser.append_pair("cursor", c);
        format!("/tickets?{}", ser.finish())
    });
    let queue_name = opt(&p.queue)
        .and_then(|q| q.parse::<i64>().ok())
        .and_then(|q| queues.iter().find(|x| x.id.get() == q))
        .map(|q| q.name.clone());
    render(
        &req,
        Some(&actor),
        StatusCode::OK,
        "list",
        json!({
            "nav": "list",
            "rows": rows,
            "next": next,
            "first_page": p.cursor.is_empty(),
            "back": format!("/tickets?{base}"),
            "done": p.done,
            "queue_name": queue_name,
            "filter": {
                "queue": p.queue,
                "tag": p.tag,
                "assignee": p.assignee,
            },
            "queues": queues.iter().filter(|q| q.mine).map(|q| json!({
                "id": q.id, "name": q.name, "selected": q.id.get().to_string() == p.queue,
            })).collect::<Vec<_>>(),
            "all_queues": queues.iter().map(|q| json!({ "id": q.id, "name": q.name })).collect::<Vec<_>>(),
            "people": people.iter().filter(|x| x.active).map(|x| json!({
                "id": x.id, "name": x.name, "selected": x.id.get().to_string() == p.assignee,
            })).collect::<Vec<_>>(),
            "tags": tags.iter().map(|t| json!({ "value": t, "selected": *t == p.tag })).collect::<Vec<_>>(),
            "statuses": options(&["new", "open", "waiting", "resolved", "closed"], &p.status),
            "status_all": p.status == "all",
            "priorities": options(&["urgent", "high", "normal", "low"], &p.priority),
            "channels": options(&["email", "web", "api", "phone", "sms"], &p.channel),
            "sorts": options(&["newest", "oldest", "urgent", "updated", "due"], if p.sort.is_empty() { "newest" } else { &p.sort }),
            "slas": options(&["at_risk", "breached"], &p.sla),
            "assignee_me": p.assignee == "me",
            "assignee_none": p.assignee == "none",
        }),
    )
}

/// The bulk form: `t` repeated per chosen ticket, an action, its target, and `confirmed` on the
/// second (confirming) post.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct BulkForm(Vec<(String, String)>);

impl BulkForm {
    fn get(&self, key: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
}

impl HasCsrf for BulkForm {
    fn csrf(&self) -> &str {
        self.get("csrf")
    }
}

fn parse_action(action: &str, target: &str) -> Result<BulkAction, InvalidValue> {
    let id = || {
        target
            .parse::<i64>()
            .map_err(|_| InvalidValue::new("target", Reason::Choose))
    };
    Ok(match action {
        "assign_me" => BulkAction::AssignToMe,
        "assign" => BulkAction::Assign(id()?),
        "unassign" => BulkAction::Unassign,
        "move" => BulkAction::MoveTo(id()?),
        "close" => BulkAction::Close,
        other => {
            return Err(InvalidValue::new("action", Reason::unknown(other)));
        }
    })
}

/// A page the bulk form may return to: a ticket list (`/tickets…`) or Mitt arbete (`/`, `/?…`).
fn is_list_page(back: &str) -> bool {
    (back.starts_with("/tickets") || back == "/" || back.starts_with("/?"))
        && !back.starts_with("//")
}

#[post("/tickets/bulk")]
pub async fn bulk(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    CsrfForm(form): CsrfForm<BulkForm>,
) -> Result<HttpResponse, PageError> {
    let mut numbers: Vec<TicketNumber> = vec![];
    for (_, v) in form.0.iter().filter(|(k, _)| k == "t") {
        // Mitt arbete can show one ticket in two tables (at risk and mine): choose it once.
        let n = TicketNumber::parse(v)?;
        if !numbers.contains(&n) {
            numbers.push(n);
        }
    }
    let action = parse_action(form.get("action"), form.get("target"))?;
    // Only go back to a ticket list of ours (a queue list or Mitt arbete).
    let back = Some(form.get("back"))
        .filter(|b| is_list_page(b))
        .unwrap_or("/tickets")
        .to_string();
    if numbers.is_empty() {
        return Err(InvalidValue::new("tickets", Reason::ChooseAtLeastOne).into());
    }
    if form.get("confirmed") != "1" {
        let names = Names::load(&st, &actor).await?;
        let target_name = match action {
            BulkAction::Assign(u) => names.person_raw(Some(u)),
            BulkAction::MoveTo(q) => views::queues(&st.db, &actor)
                .await?
                .into_iter()
                .find(|x| x.id.get() == q)
                .map(|x| x.name),
            _ => None,
        };
        return render(
            &req,
            Some(&actor),
            StatusCode::OK,
            "bulk_confirm",
            json!({
                "nav": "list",
                "numbers": numbers,
                "count": numbers.len(),
                "action": form.get("action"),
                "target": form.get("target"),
                "target_name": target_name,
                "back": back,
            }),
        );
    }
    let changed = actions::bulk(&st.db, &actor, numbers, action).await?;
    let sep = if back.contains('?') { '&' } else { '?' };
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("{back}{sep}done={changed}")))
        .finish())
}
