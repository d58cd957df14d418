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

/// The rows of a table as HTML (`<tr>`…), written here rather than in the template: a year's
/// tables hold thousands of cells, and a template helper per cell cost more than the figures
/// (D66). Every text is escaped; the first cell of a row is its header.
fn rows_html(t: &Table, w: &Words) -> String {
    use std::fmt::Write as _;
    let esc = handlebars::html_escape;
    let mut out = String::with_capacity(t.rows.len() * t.columns.len() * 24);
    for row in &t.rows {
        out.push_str("<tr>");
        for (i, c) in row.iter().enumerate() {
            let (text, num, href, secs) = match c {
                Cell::Text(s) => (s.clone(), false, None, None),
                Cell::Int(n) => (n.to_string(), true, None, None),
                Cell::Percent(n) => (format!("{n} %"), true, None, None),
                Cell::Duration(s) => (w.duration(*s), true, None, Some(*s)),
                Cell::Link { text, href } => (text.clone(), false, Some(href.as_str()), None),
                Cell::Empty => ("–".to_string(), true, None, None),
            };
            if i == 0 {
                out.push_str("<th scope=\"row\">");
            } else {
                out.push_str("<td");
                if num {
                    out.push_str(" class=\"num\"");
                }
                if let Some(s) = secs {
                    let _ = write!(out, " data-secs=\"{s}\"");
                }
                out.push('>');
            }
            match href {
                Some(h) => {
                    let _ = write!(out, "<a href=\"{}\">{}</a>", esc(h), esc(&text));
                }
                None => out.push_str(&esc(&text)),
            }
            out.push_str(if i == 0 { "</th>" } else { "</td>" });
        }
        out.push_str("</tr>\n");
    }
    out
}

fn table_json(n: &Named, w: &Words, query: &str) -> Value {
    let t: &Table = &n.table;
    json!({
        "slug": n.slug,
        // Not "title": inside the layout's block that name is the page's title.
        "name": t.title,
        "columns": t.columns.iter().map(|c| c.title.clone()).collect::<Vec<_>>(),
        "body": rows_html(t, w),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::table::Column;

    #[test]
    fn table_rows_are_written_escaped_with_a_header_cell_first() {
        let mut t = Table::new("T", vec![Column::new("a"), Column::new("b")]);
        t.rows.push(vec![
            Cell::Link {
                text: "KC-1 <b>".into(),
                href: "/tickets/1?x=\"y\"&z".into(),
            },
            Cell::Duration(8_100),
        ]);
        t.rows.push(vec![
            Cell::Text("Kö & \"VA\"".into()),
            Cell::Empty,
            Cell::Percent(83),
            Cell::Int(-2),
        ]);
        let html = rows_html(&t, &Words { locale: "sv" });
        assert_eq!(
            html,
            "<tr><th scope=\"row\"><a href=\"/tickets/1?x&#x3D;&quot;y&quot;&amp;z\">KC-1 &lt;b&gt;</a></th>\
             <td class=\"num\" data-secs=\"8100\">2 h 15 min</td></tr>\n\
             <tr><th scope=\"row\">Kö &amp; &quot;VA&quot;</th><td class=\"num\">–</td>\
             <td class=\"num\">83 %</td><td class=\"num\">-2</td></tr>\n"
        );
    }
}
