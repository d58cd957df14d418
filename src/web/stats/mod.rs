//! `/stats` (Statistik): the statistics page for queue leads and admins, with its filters, charts
//! drawn on the server (`charts`) and every table as CSV or Excel (`/stats/export/<table>.csv`,
//! `.xlsx`). The handlers parse the filters (`filter`), call `stats::report` and render the
//! report's tables (`tables`), the same tables on the page and in the files (D64, D66).

pub mod charts;
pub mod filter;
pub mod tables;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::{NaiveDate, Utc};
use serde_json::{Value, json};

use self::filter::{FilterParams, PRESETS};
use self::tables::{Ctx, Named, Section, Words};
use super::AppState;
use super::auth::PageActor;
use super::errors::{Failure, PageError};
use super::pages::{page_locale, render};
use crate::accounts::Actor;
use crate::domain::{Channel, InvalidValue, Priority};
use crate::error::Error;
use crate::stats::{Report, Step};
use crate::text::table::{Cell, Table};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(index).service(export);
}

/// Today, as a local day in Europe/Stockholm.
pub fn today() -> NaiveDate {
    crate::stats::measures::local_day(Utc::now())
}

/// The query string as filters (every parameter a text, so this only fails on a broken string).
pub fn params(req: &HttpRequest) -> Result<FilterParams, Failure> {
    web::Query::<FilterParams>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|e| Failure::BadRequest(e.to_string()))
}

fn fail(actor: &Actor, req: &HttpRequest) -> impl Fn(Failure) -> PageError {
    let locale = page_locale(Some(actor), req);
    move |failure| PageError { failure, locale }
}

fn cell_json(c: &Cell, w: &Words) -> Value {
    let (text, num, href, secs) = match c {
        Cell::Text(s) => (s.clone(), false, None, None),
        Cell::Int(n) => (n.to_string(), true, None, None),
        Cell::Percent(n) => (format!("{n} %"), true, None, None),
        Cell::Duration(s) => (w.duration(*s), true, None, Some(*s)),
        Cell::Link { text, href } => (text.clone(), false, Some(href.clone()), None),
        Cell::Empty => ("–".to_string(), true, None, None),
    };
    json!({ "text": text, "num": num, "href": href, "secs": secs, "has_secs": secs.is_some() })
}

fn table_json(n: &Named, w: &Words, query: &str) -> Value {
    let t: &Table = &n.table;
    json!({
        "slug": n.slug,
        // Not "title": inside the layout's block that name is the page's title.
        "name": t.title,
        "columns": t.columns.iter().map(|c| c.title.clone()).collect::<Vec<_>>(),
        "rows": t.rows.iter().map(|r| r.iter().map(|c| cell_json(c, w)).collect::<Vec<_>>()).collect::<Vec<_>>(),
        "empty": t.rows.is_empty(),
        "csv": format!("/stats/export/{}.csv?{query}", n.slug),
        "xlsx": format!("/stats/export/{}.xlsx?{query}", n.slug),
    })
}

fn section_json(s: &Section, w: &Words, query: &str) -> Value {
    json!({
        "id": s.id,
        "heading": s.title,
        "definition": s.definition,
        "charts": s.charts.iter().map(|svg| json!({ "svg": svg, "region": s.title })).collect::<Vec<_>>(),
        "notes": s.notes.iter().map(|(text, href)| json!({ "text": text, "href": href })).collect::<Vec<_>>(),
        "tables": s.tables.iter().map(|t| table_json(t, w, query)).collect::<Vec<_>>(),
    })
}

/// The filter form: the values as typed, the choices, and the refusal if any.
fn form_json(
    p: &FilterParams,
    queues: &[(crate::domain::QueueId, String)],
    error: Option<(String, &str)>,
) -> Value {
    let custom = !p.start.trim().is_empty() || !p.end.trim().is_empty();
    let period = if custom || p.period.trim().is_empty() {
        filter::DEFAULT_PRESET
    } else {
        p.period.trim()
    };
    json!({
        "params": p,
        "presets": PRESETS.iter().map(|k| json!({ "key": k, "selected": !custom && *k == period })).collect::<Vec<_>>(),
        "custom": custom,
        "queues": queues.iter().map(|(id, name)| json!({ "id": id.to_string(), "name": name, "selected": p.queue.trim() == id.to_string() })).collect::<Vec<_>>(),
        "channels": Channel::ALL.iter().map(|c| json!({ "key": c.as_str(), "selected": p.channel.trim() == c.as_str() })).collect::<Vec<_>>(),
        "priorities": Priority::ALL.iter().map(|c| json!({ "key": c.as_str(), "selected": p.priority.trim() == c.as_str() })).collect::<Vec<_>>(),
        "steps": Step::ALL.iter().map(|s| json!({ "key": s.as_str(), "selected": p.step.trim() == s.as_str() })).collect::<Vec<_>>(),
        "error": error.as_ref().map(|(m, _)| m.clone()),
        "error_field": error.map(|(_, f)| f),
    })
}

fn report_json(r: &Report, p: &FilterParams, w: &Words) -> Value {
    let query = p.query(&r.filter);
    let cx = Ctx::new(w, r);
    let sections: Vec<Value> = tables::sections(&cx)
        .iter()
        .map(|s| section_json(s, w, &query))
        .collect();
    json!({
        "from": r.filter.from.to_string(),
        "to": r.filter.to.to_string(),
        "step": r.filter.step.as_str(),
        "previous_from": r.previous.0.to_string(),
        "previous_to": r.previous.1.to_string(),
        "sections": sections,
        "agents_on": r.agents.is_some(),
    })
}

#[get("/stats")]
pub async fn index(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
) -> Result<HttpResponse, PageError> {
    let locale = page_locale(Some(&actor), &req);
    let w = Words { locale };
    let p = params(&req).map_err(fail(&actor, &req))?;
    let (status, data) = match p.parse(today()) {
        Ok(f) => {
            let r = crate::stats::report(&st.db, &actor, f)
                .await
                .map_err(|e| fail(&actor, &req)(Failure::Domain(e)))?;
            let mut data = report_json(&r, &p, &w);
            data["form"] = form_json(&p, &r.queues, None);
            (StatusCode::OK, data)
        }
        Err(v) => (
            StatusCode::BAD_REQUEST,
            refused(&st, &actor, &req, &p, v).await?,
        ),
    };
    let mut data = data;
    data["nav"] = json!("stats");
    render(&req, Some(&actor), status, "stats/index", data)
}

/// The page with the form as typed and why it was refused (no figures).
async fn refused(
    st: &AppState,
    actor: &Actor,
    req: &HttpRequest,
    p: &FilterParams,
    v: InvalidValue,
) -> Result<Value, PageError> {
    let queues = crate::stats::visible_queues(&st.db, actor)
        .await
        .map_err(|e| fail(actor, req)(Failure::Domain(e)))?;
    let field = v.field;
    let message = Failure::BadQuery(v).message(page_locale(Some(actor), req));
    Ok(json!({
        "form": form_json(p, &queues, Some((message, field))),
        "from": null,
        "sections": [],
    }))
}

/// The file of one table: `<slug>.csv` or `<slug>.xlsx`.
fn parse_file(file: &str) -> Option<(&str, &str)> {
    let (slug, ext) = file.rsplit_once('.')?;
    (tables::SLUGS.contains(&slug) && (ext == "csv" || ext == "xlsx")).then_some((slug, ext))
}

#[get("/stats/export/{file}")]
pub async fn export(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let fail = fail(&actor, &req);
    let file = path.into_inner();
    let (slug, ext) =
        parse_file(&file).ok_or_else(|| fail(Failure::Domain(Error::NotFound("table"))))?;
    let f = params(&req)
        .and_then(|p| p.parse(today()).map_err(Failure::BadQuery))
        .map_err(&fail)?;
    let r = crate::stats::report(&st.db, &actor, f)
        .await
        .map_err(|e| fail(Failure::Domain(e)))?;
    let w = Words {
        locale: page_locale(Some(&actor), &req),
    };
    let cx = Ctx::new(&w, &r);
    let table = tables::sections(&cx)
        .into_iter()
        .flat_map(|s| s.tables)
        .find(|t| t.slug == slug)
        .ok_or_else(|| fail(Failure::Domain(Error::NotFound("table"))))?
        .table;
    let name = format!("statistik-{slug}-{}--{}.{ext}", r.filter.from, r.filter.to);
    let (body, kind) = if ext == "csv" {
        (table.to_csv(), "text/csv; charset=utf-8")
    } else {
        let bytes = table
            .to_xlsx()
            .map_err(|e| fail(Failure::Domain(Error::Internal(e.to_string()))))?;
        (
            bytes,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    };
    Ok(HttpResponse::Ok()
        .content_type(kind)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .body(body))
}
