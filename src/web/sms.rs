//! Text messages in the web: "Skicka sms" on a ticket (with the parts shown before sending), the
//! gateways' delivery reports, and the internal bill per department and month (page and CSV).

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::Datelike;
use serde::Deserialize;
use serde_json::json;

use crate::domain::TicketNumber;
use crate::error::Error;
use crate::notify::sms;
use crate::web::AppState;
use crate::web::auth::{CsrfForm, HasCsrf, PageActor};
use crate::web::errors::{Failure, PageError};
use crate::web::pages::{page_locale, render};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(send)
        .service(report)
        .service(usage)
        .service(usage_csv);
}

#[derive(Deserialize)]
pub struct SmsForm {
    csrf: String,
    #[serde(default)]
    text: String,
    /// `preview` or `send`.
    #[serde(default)]
    action: String,
}

impl HasCsrf for SmsForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// Preview (parts and encoding) or send a text message to the ticket's contact.
#[post("/tickets/{number}/sms")]
pub async fn send(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<String>,
    CsrfForm(f): CsrfForm<SmsForm>,
) -> Result<HttpResponse, PageError> {
    let n = TicketNumber::parse(&path).map_err(|_| Failure::Domain(Error::NotFound("ticket")))?;
    if f.action == "preview" {
        let shape = sms::preview(&st.db, &actor, &f.text).await?;
        return crate::web::workspace::ticket::page_with_sms_draft(
            &req,
            &st,
            &actor,
            n,
            &f.text,
            Some(shape),
            None,
        )
        .await;
    }
    match crate::tickets::sms::send_to_contact(&st.db, &actor, n.clone(), &f.text).await {
        Ok(_) => Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, format!("/tickets/{n}?ok=sms_queued")))
            .finish()),
        Err(e @ Error::Invalid(_)) => {
            let locale = page_locale(Some(&actor), &req);
            let message = Failure::from(e).message(locale);
            crate::web::workspace::ticket::page_with_sms_draft(
                &req,
                &st,
                &actor,
                n,
                &f.text,
                None,
                Some(message),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct Report {
    id: String,
    status: String,
}

/// A gateway's delivery report (form-encoded `id` and `status`). The token in the address says
/// whose message it is; an unknown token or message is 404.
#[post("/sms/reports/{token}")]
pub async fn report(
    st: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<Report>,
) -> HttpResponse {
    match sms::report(&st.db, &path, &form.id, &form.status).await {
        Ok(()) => HttpResponse::NoContent().finish(),
        Err(Error::NotFound(_)) => HttpResponse::NotFound().finish(),
        Err(Error::Invalid(v)) => HttpResponse::UnprocessableEntity().body(v.to_string()),
        Err(e) => {
            tracing::error!(error = %e, "SMS delivery report");
            HttpResponse::InternalServerError().finish()
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct MonthQuery {
    month: String,
}

fn month_of(raw: &str) -> Result<chrono::NaiveDate, PageError> {
    let this = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Stockholm)
        .date_naive()
        .with_day(1)
        .expect("day 1 exists");
    match raw.trim() {
        "" => Ok(this),
        s => Ok(crate::sla::report::parse_month(s).map_err(Failure::from)?),
    }
}

/// SMS per department and month, for internal billing.
#[get("/admin/sms")]
pub async fn usage(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    q: web::Query<MonthQuery>,
) -> Result<HttpResponse, PageError> {
    let month = month_of(&q.month)?;
    let rows = sms::usage(&st.db, &actor, month).await?;
    let total: (i64, i64, i64) = rows.iter().fold((0, 0, 0), |a, r| {
        (a.0 + r.messages, a.1 + r.segments, a.2 + r.cost_ore)
    });
    let kr = |ore: i64| format!("{},{:02}", ore / 100, ore % 100);
    let m = month.format("%Y-%m").to_string();
    render(
        &req,
        Some(&actor),
        StatusCode::OK,
        "admin/sms",
        json!({
            "nav": "admin", "section": "sms", "is_admin": actor.is_admin(),
            "month": m,
            "prev": month.checked_sub_months(chrono::Months::new(1)).map(|d| d.format("%Y-%m").to_string()),
            "rows": rows.iter().map(|r| json!({
                "department": r.department, "messages": r.messages, "segments": r.segments, "cost": kr(r.cost_ore),
            })).collect::<Vec<_>>(),
            "total": { "messages": total.0, "segments": total.1, "cost": kr(total.2) },
        }),
    )
}

/// The same as CSV (semicolon-separated, as Swedish spreadsheets expect).
#[get("/admin/sms.csv")]
pub async fn usage_csv(
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    q: web::Query<MonthQuery>,
) -> Result<HttpResponse, PageError> {
    let month = month_of(&q.month)?;
    let rows = sms::usage(&st.db, &actor, month).await?;
    let m = month.format("%Y-%m").to_string();
    let mut csv = String::from("månad;förvaltning;sms;delar;kostnad_kr\r\n");
    for r in rows {
        let dep = r.department.replace(['"', ';', '\n', '\r'], " ");
        csv.push_str(&format!(
            "{m};{dep};{};{};{},{:02}\r\n",
            r.messages,
            r.segments,
            r.cost_ore / 100,
            r.cost_ore % 100
        ));
    }
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            crate::web::download::content_disposition(&format!("sms-{m}.csv")),
        ))
        .body(csv))
}
