//! The agent workspace pages: my work, queue overview, ticket lists with bulk actions, the ticket
//! view with its actions, search and live updates. Server-rendered; `static/app.js` adds live
//! updates, keyboard shortcuts and presence on top, and every page works without it.

mod list;
mod live;
mod new_ticket;
mod search;
pub mod ticket;

use chrono::Datelike as _;
use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::NaiveDateTime;
use serde_json::{Value, json};

use super::AppState;
use super::auth::PageActor;
use super::errors::PageError;
use super::pages::{page_locale, render};
use crate::accounts::Actor;
use crate::domain::{InvalidValue, QueueId, Status, UserId, WaitingOn};
use crate::text::Templates;
use crate::text::time::local_time;
use crate::tickets::Ticket;
use crate::tickets::views;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(my_work)
        .service(overview)
        .service(list::list)
        .service(list::bulk)
        // Before `/tickets/{number}`, which would take "new" for a ticket number.
        .service(new_ticket::form)
        .service(new_ticket::create)
        .service(new_ticket::contact_search)
        .service(ticket::row_fragment)
        .service(ticket::view)
        .service(ticket::messages_after)
        .service(ticket::post_message)
        .service(ticket::update)
        .service(ticket::claim)
        .service(ticket::contact)
        .service(ticket::transfer)
        .service(ticket::escalate)
        .service(ticket::merge)
        .service(ticket::link)
        .service(ticket::tag)
        .service(ticket::presence)
        .service(ticket::canned_text)
        .service(live::stream)
        .service(search::search);
}

/// "5 min", "3 h", "2 d" — how long ago, in the page's language.
pub(crate) fn age(t: NaiveDateTime, locale: &str) -> String {
    let mins = (chrono::Utc::now().naive_utc() - t).num_minutes().max(0);
    let tx = Templates::get();
    let (n, key) = if mins < 60 {
        (mins, "age.minutes")
    } else if mins < 48 * 60 {
        (mins / 60, "age.hours")
    } else {
        (mins / (24 * 60), "age.days")
    };
    tx.text(locale, key).replace("{n}", &n.to_string())
}

/// Names of queues and people, to show instead of ids.
pub(crate) struct Names {
    queues: HashMap<QueueId, String>,
    people: HashMap<UserId, String>,
    /// Each queue's opening hours, for SLA time left.
    calendars: HashMap<QueueId, std::sync::Arc<crate::sla::Calendar>>,
    now: chrono::DateTime<chrono::Utc>,
    /// Contact, referral state and last activity of the tickets about to be listed.
    extras: views::RowExtras,
}

impl Names {
    pub(crate) async fn load(st: &AppState, actor: &Actor) -> Result<Names, PageError> {
        let queues = views::queues(&st.db, actor).await?;
        let people = views::people(&st.db, actor).await?;
        Ok(Names::new(&queues, &people))
    }
    /// From choices already loaded (a page that also offers them in a form).
    pub(crate) fn new(queues: &[views::QueueChoice], people: &[views::Person]) -> Names {
        Names {
            queues: queues.iter().map(|q| (q.id, q.name.clone())).collect(),
            people: people.iter().map(|p| (p.id, p.name.clone())).collect(),
            calendars: queues.iter().map(|q| (q.id, q.calendar.clone())).collect(),
            now: chrono::Utc::now(),
            extras: views::RowExtras::default(),
        }
    }
    /// Load what the rows of `tickets` show besides the ticket (contact, referral, activity).
    pub(crate) async fn with_rows<'a>(
        mut self,
        st: &AppState,
        actor: &Actor,
        tickets: impl IntoIterator<Item = &'a Ticket>,
    ) -> Result<Names, PageError> {
        let list: Vec<&Ticket> = tickets.into_iter().collect();
        self.extras = views::row_extras(&st.db, actor, &list).await?;
        Ok(self)
    }
    /// The ticket's SLA badge (None: no service level applies).
    pub(crate) fn sla(&self, t: &Ticket) -> Option<crate::sla::Badge> {
        let default = crate::sla::Calendar::default();
        let cal = self.calendars.get(&t.queue_id).map_or(&default, |c| c);
        crate::sla::badge(t.sla_clock, t.sla_warn_at, t.sla_due_at, cal, self.now)
    }
    pub(crate) fn queue(&self, q: QueueId) -> String {
        self.queues.get(&q).cloned().unwrap_or_default()
    }
    pub(crate) fn person(&self, u: Option<UserId>) -> Option<String> {
        u.and_then(|u| self.people.get(&u).cloned())
    }
    pub(crate) fn person_raw(&self, u: Option<i64>) -> Option<String> {
        self.people
            .iter()
            .find(|(id, _)| Some(id.get()) == u)
            .map(|(_, n)| n.clone())
    }
}

/// The status as shown: waiting says whom for (`waiting_citizen`, `waiting_external`); the key
/// after `status.one.` in the locale files.
pub(crate) fn status_label(status: Status, waiting_on: Option<WaitingOn>) -> String {
    match (status, waiting_on) {
        (Status::Waiting, w) => format!("waiting_{}", w.unwrap_or(WaitingOn::Citizen)),
        (s, _) => s.to_string(),
    }
}

/// The ticket form's status choices: every status, with waiting in its two kinds
/// (`waiting` for the citizen, `waiting_external`).
pub(crate) fn status_choices(current: Status, waiting_on: Option<WaitingOn>) -> Vec<Value> {
    let now = status_label(current, waiting_on);
    Status::ALL
        .iter()
        .flat_map(|s| match s {
            Status::Waiting => vec![
                ("waiting", "waiting_citizen"),
                ("waiting_external", "waiting_external"),
            ],
            s => vec![(s.as_str(), s.as_str())],
        })
        .map(|(value, label)| json!({ "value": value, "label": label, "selected": label == now }))
        .collect()
}

/// A posted status choice (see `status_choices`); empty keeps the status.
pub(crate) fn parse_status_choice(
    raw: &str,
) -> Result<(Option<Status>, Option<WaitingOn>), InvalidValue> {
    Ok(match raw.trim() {
        "" => (None, None),
        "waiting" => (Some(Status::Waiting), Some(WaitingOn::Citizen)),
        "waiting_external" => (Some(Status::Waiting), Some(WaitingOn::External)),
        other => (Some(Status::parse(other)?), None),
    })
}

/// A ticket as a list row.
pub(crate) fn row(t: &Ticket, names: &Names, locale: &str) -> Value {
    json!({
        "number": t.number,
        "subject": t.subject,
        "status": t.status,
        "status_label": status_label(t.status, t.waiting_on),
        "priority": t.priority,
        "urgent": t.priority.rank() >= 2,
        "queue": names.queue(t.queue_id),
        "queue_id": t.queue_id,
        "assignee": names.person(t.assignee_id),
        "assignee_id": t.assignee_id,
        "channel": t.channel,
        "created": local_time(t.created_at),
        "age": age(t.created_at, locale),
        "updated": local_time(t.updated_at),
        "contact": t.contact_id.and_then(|c| names.extras.contact.get(&c).cloned()),
        "referral": names.extras.referral.get(&t.id.get()),
        "automatic": t.automatic,
        "last_activity": local_time(names.extras.last_activity(t)),
        "fresh": false,
        "sla": sla_view(names, t),
    })
}

/// A ticket's SLA badge for the templates (`sla_badge.hbs`).
pub(crate) fn sla_view(names: &Names, t: &Ticket) -> Option<Value> {
    names.sla(t).map(|b| {
        json!({
            "state": b.state, "overdue": b.overdue, "hours": b.hours, "minutes": b.minutes,
            "due": b.due.map(local_time),
        })
    })
}

#[derive(serde::Deserialize)]
pub struct Flash {
    ok: Option<String>,
    /// How many tickets a bulk action changed (back from the confirm page).
    done: Option<usize>,
    /// Mitt arbete: show tickets automatic mail opened too (`?automatiska=1`; D56).
    #[serde(default)]
    automatiska: Option<String>,
}

/// A confirmation text for `?ok=<key>` (only known keys; anything else shows nothing).
pub(crate) fn flash(ok: Option<&str>, locale: &str) -> Option<String> {
    let key = format!("ticket.ok.{}", ok?);
    let text = Templates::get().text(locale, &key);
    (text != key).then_some(text)
}

#[get("/")]
pub async fn my_work(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    q: web::Query<Flash>,
) -> Result<HttpResponse, PageError> {
    // A referral handler's start page is their referrals.
    if actor.role == crate::domain::Role::Handler {
        return Ok(HttpResponse::SeeOther()
            .insert_header((actix_web::http::header::LOCATION, "/remisser"))
            .finish());
    }
    let locale = page_locale(Some(&actor), &req);
    let ok = flash(q.ok.as_deref(), locale);
    let with_automatic = q
        .automatiska
        .as_deref()
        .is_some_and(|v| !v.is_empty() && v != "0");
    let work = views::my_work(&st.db, &actor, 50, with_automatic).await?;
    let queues = views::queues(&st.db, &actor).await?;
    let people = views::people(&st.db, &actor).await?;
    let names = Names::new(&queues, &people)
        .with_rows(
            &st,
            &actor,
            work.mine
                .iter()
                .chain(&work.unassigned)
                .chain(&work.at_risk),
        )
        .await?;
    let mine: Vec<Value> = work.mine.iter().map(|t| row(t, &names, locale)).collect();
    let unassigned: Vec<Value> = work
        .unassigned
        .iter()
        .map(|t| row(t, &names, locale))
        .collect();
    let at_risk: Vec<Value> = work
        .at_risk
        .iter()
        .map(|t| row(t, &names, locale))
        .collect();
    render(
        &req,
        Some(&actor),
        actix_web::http::StatusCode::OK,
        "work",
        json!({
            "nav": "work", "mine": mine, "unassigned": unassigned, "at_risk_count": at_risk.len(), "at_risk": at_risk, "ok": ok,
            "done": q.done,
            "with_automatic": with_automatic, "hide_automatic": !with_automatic, "automatic_hidden": work.automatic_hidden,
            // The bulk form's choices, as on the queue lists.
            "people": people.iter().filter(|x| x.active).map(|x| json!({ "id": x.id, "name": x.name })).collect::<Vec<_>>(),
            "all_queues": queues.iter().map(|q| json!({ "id": q.id, "name": q.name })).collect::<Vec<_>>(),
        }),
    )
}

#[derive(serde::Deserialize)]
pub struct MonthParam {
    #[serde(default)]
    month: String,
}

#[get("/queues")]
pub async fn overview(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    m: web::Query<MonthParam>,
) -> Result<HttpResponse, PageError> {
    let locale = page_locale(Some(&actor), &req);
    // Service levels met per queue in a month (this month unless ?month=YYYY-MM).
    let this_month = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Stockholm)
        .date_naive()
        .with_day(1)
        .expect("day 1 exists");
    let month = match m.month.trim() {
        "" => this_month,
        s => crate::sla::report::parse_month(s)?,
    };
    let shares = crate::sla::report::month(&st.db, &actor, month).await?;
    let (from, to) = crate::sla::report::month_bounds(month)?;
    let kb_shares = crate::kb::answered_share(&st.db, &actor, from, to).await?;
    let queues: Vec<Value> = views::overview(&st.db, &actor)
        .await?
        .into_iter()
        .map(|q| {
            json!({
                "id": q.id,
                "name": q.name,
                "new": q.new,
                "open": q.open,
                "waiting": q.waiting,
                "oldest": q.oldest_unanswered.map(local_time),
                "oldest_age": q.oldest_unanswered.map(|t| age(t, locale)),
                "kb": kb_shares.iter().find(|(qid, _, _)| *qid == q.id).map(|(_, answered, from_kb)| json!({
                    "percent": (from_kb * 100 + answered / 2) / (*answered).max(1),
                    "n": from_kb, "of": answered,
                })),
                "sla": crate::sla::timeline::Target::ALL.iter().map(|target| {
                    shares.iter().find(|s| s.queue == q.id && s.target == *target).map(|s| json!({
                        "percent": s.percent(), "met": s.met, "in_time": s.in_time,
                    }))
                }).collect::<Vec<_>>(),
            })
        })
        .collect();
    let prev = month
        .checked_sub_months(chrono::Months::new(1))
        .map(|d| d.format("%Y-%m").to_string());
    let next = (month < this_month)
        .then(|| month.checked_add_months(chrono::Months::new(1)))
        .flatten()
        .map(|d| d.format("%Y-%m").to_string());
    render(
        &req,
        Some(&actor),
        actix_web::http::StatusCode::OK,
        "overview",
        json!({
            "nav": "queues", "queues": queues,
            "month": month.format("%Y-%m").to_string(), "prev_month": prev, "next_month": next,
            "any_sla": !shares.is_empty(),
            "any_kb": !kb_shares.is_empty(),
        }),
    )
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    #[test]
    fn times_are_shown_in_stockholm_time_with_summer_time() {
        let at = |m, d, h| {
            NaiveDate::from_ymd_opt(2026, m, d)
                .unwrap()
                .and_hms_opt(h, 0, 0)
                .unwrap()
        };
        assert_eq!(super::local_time(at(1, 15, 10)), "2026-01-15 11:00");
        assert_eq!(super::local_time(at(7, 1, 10)), "2026-07-01 12:00");
        // The night summer time starts (last Sunday of March): 01:00 UTC is 03:00 CEST.
        assert_eq!(super::local_time(at(3, 29, 1)), "2026-03-29 03:00");
    }
}
