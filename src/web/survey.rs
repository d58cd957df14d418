//! Servicemätning in the web (D65): the citizen's survey page (`/survey/<link>`, no sign-in: the
//! signed link is the key) and the results for leads and admins (`/stats/survey`, its CSV).

use std::collections::HashMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::Datelike;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::Error;
use crate::survey::{AnswerInput, Answered, IndexFigure, SurveyReport};
use crate::text::Templates;
use crate::text::time::local_time;
use crate::web::AppState;
use crate::web::auth::{CsrfForm, HasCsrf, PageActor};
use crate::web::errors::{Failure, PageError};
use crate::web::pages::{page_locale, render};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(page)
        .service(answer)
        .service(results)
        .service(results_csv);
}

const QUESTIONS: [&str; 3] = ["bemotande", "tydlighet", "enkelhet"];

/// The three 1–5 scales, with what the citizen chose so far.
fn questions(input: &AnswerInput) -> Vec<Value> {
    QUESTIONS
        .iter()
        .map(|name| {
            let chosen = match *name {
                "bemotande" => &input.bemotande,
                "tydlighet" => &input.tydlighet,
                _ => &input.enkelhet,
            };
            let options: Vec<Value> = (1..=5)
                .map(|v: i32| {
                    let label_key = match v {
                        1 => Some("survey.scale.1"),
                        5 => Some("survey.scale.5"),
                        _ => None,
                    };
                    json!({ "value": v, "checked": chosen.trim() == v.to_string(), "label_key": label_key })
                })
                .collect();
            json!({ "name": name, "options": options })
        })
        .collect()
}

/// The survey behind `token` (or the page saying the link does not work).
async fn show(
    req: &HttpRequest,
    st: &AppState,
    token: &str,
    status: StatusCode,
    lang: &str,
    extra: Value,
) -> Result<HttpResponse, PageError> {
    let view = match crate::survey::open(&st.db, &st.signer, token).await {
        Ok(v) => v,
        Err(Error::Forbidden(_) | Error::NotFound(_)) => return invalid_link(req),
        Err(e) => return Err(e.into()),
    };
    let lang = if matches!(lang, "sv" | "en") {
        lang.to_string()
    } else {
        view.language.clone()
    };
    let mut data = json!({
        "page_locale": lang,
        "other_lang": if lang == "en" { "sv" } else { "en" },
        "token": token, "view": view, "tenant_name": view.tenant,
        "questions": questions(&AnswerInput::default()),
        "error": null, "comment": "", "thanks": false,
    });
    if let (Some(d), Some(e)) = (data.as_object_mut(), extra.as_object()) {
        d.extend(e.clone());
    }
    let mut r = render(req, None, status, "survey/page", data)?;
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(r)
}

fn invalid_link(req: &HttpRequest) -> Result<HttpResponse, PageError> {
    render(
        req,
        None,
        StatusCode::FORBIDDEN,
        "survey/invalid",
        json!({ "tenants": [] }),
    )
}

#[get("/survey/{token}")]
pub async fn page(
    req: HttpRequest,
    st: web::Data<AppState>,
    path: web::Path<String>,
    q: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    let lang = q.get("lang").cloned().unwrap_or_default();
    let thanks = q.get("ok").is_some_and(|v| v == "thanks");
    show(
        &req,
        &st,
        &path,
        StatusCode::OK,
        &lang,
        json!({ "thanks": thanks }),
    )
    .await
}

#[derive(Deserialize)]
pub struct SurveyPost {
    csrf: String,
    #[serde(default)]
    lang: String,
    #[serde(flatten)]
    answer: AnswerInput,
}

impl HasCsrf for SurveyPost {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// The citizen's answer: stored once; a second answer gets 409 and the "already answered" page,
/// a refused value the form again with what they chose.
#[post("/survey/{token}")]
pub async fn answer(
    req: HttpRequest,
    st: web::Data<AppState>,
    path: web::Path<String>,
    CsrfForm(f): CsrfForm<SurveyPost>,
) -> Result<HttpResponse, PageError> {
    let token = path.into_inner();
    match crate::survey::answer(&st.db, &st.signer, &token, &f.answer).await {
        Ok(Answered::Thanks) => Ok(HttpResponse::SeeOther()
            .insert_header((
                header::LOCATION,
                format!("/survey/{token}?ok=thanks&lang={}", f.lang),
            ))
            .finish()),
        Ok(Answered::Already) => {
            show(&req, &st, &token, StatusCode::CONFLICT, &f.lang, json!({})).await
        }
        Err(e @ Error::Invalid(_)) => {
            let locale = if f.lang == "en" { "en" } else { "sv" };
            let msg = Failure::from(e).message(locale);
            let extra = json!({
                "error": msg, "comment": f.answer.comment, "questions": questions(&f.answer),
            });
            show(
                &req,
                &st,
                &token,
                StatusCode::UNPROCESSABLE_ENTITY,
                &f.lang,
                extra,
            )
            .await
        }
        Err(Error::Forbidden(_) | Error::NotFound(_)) => invalid_link(&req),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct PeriodQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// The period asked for; by default the last twelve months up to this one (Stockholm).
pub fn period_of(q: &PeriodQuery) -> (String, String) {
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Stockholm)
        .date_naive();
    let this = today.with_day(1).unwrap_or(today);
    let year_ago = this
        .checked_sub_months(chrono::Months::new(11))
        .unwrap_or(this);
    let or = |s: &str, d: chrono::NaiveDate| {
        if s.trim().is_empty() {
            d.format("%Y-%m").to_string()
        } else {
            s.trim().to_string()
        }
    };
    (or(&q.from, year_ago), or(&q.to, this))
}

/// An index as the page shows it: a whole number (Swedish reports give the index so).
fn whole(f: &IndexFigure) -> String {
    format!("{:.0}", f.index)
}

fn report_data(r: &SurveyReport) -> Value {
    let rows: Vec<Value> = r
        .rows
        .iter()
        .map(|x| {
            let interval = match (x.total.low, x.total.high) {
                (Some(l), Some(h)) => Some(format!("{l:.0}–{h:.0}")),
                _ => None,
            };
            json!({
                "queue": x.queue, "month": x.month, "answers": x.answers,
                "bemotande": whole(&x.bemotande), "tydlighet": whole(&x.tydlighet),
                "enkelhet": whole(&x.enkelhet), "total": whole(&x.total),
                "few": x.few, "interval": interval,
            })
        })
        .collect();
    let comments: Vec<Value> = r
        .comments
        .iter()
        .map(|c| json!({ "queue": c.queue, "matter": c.matter, "at": local_time(c.answered_at), "ticket": c.ticket, "text": c.text }))
        .collect();
    json!({ "report": r, "rows": rows, "comments": comments })
}

/// `/stats/survey`: the index per queue and month, the comments with their tickets.
#[get("/stats/survey")]
pub async fn results(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    q: web::Query<PeriodQuery>,
) -> Result<HttpResponse, PageError> {
    let (from, to) = period_of(&q);
    let report = crate::survey::results(&st.db, &actor, &from, &to).await?;
    let mut data = report_data(&report);
    data["nav"] = json!("stats");
    render(&req, Some(&actor), StatusCode::OK, "survey/results", data)
}

/// The per-queue-month table as CSV (semicolon-separated, the header in the reader's language).
#[get("/stats/survey.csv")]
pub async fn results_csv(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    q: web::Query<PeriodQuery>,
) -> Result<HttpResponse, PageError> {
    let (from, to) = period_of(&q);
    let report = crate::survey::results(&st.db, &actor, &from, &to).await?;
    let locale = page_locale(Some(&actor), &req);
    let t = Templates::get();
    let header = [
        "queue",
        "month",
        "answers",
        "bemotande",
        "tydlighet",
        "enkelhet",
        "total",
        "few",
    ]
    .map(|k| t.text(locale, &format!("survey.csv.{k}")));
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            crate::web::download::content_disposition(&format!("servicematning-{from}-{to}.csv")),
        ))
        .body(crate::survey::results::csv(&report, &header)))
}
