//! The knowledge base in the workspace (`/knowledge`: search, read, edit with preview, publish,
//! archive, revisions) and for citizens (`/kb/{municipality}`: published public articles only).

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::accounts::Actor;
use crate::domain::{ArticleStatus, Audience, Language, TicketNumber};
use crate::error::Error;
use crate::kb::{self, ArticleView, KbFilter, KbHit, RawContent, article};
use crate::text::Templates;
use crate::text::time::local_time;
use crate::web::AppState;
use crate::web::auth::{CsrfForm, HasCsrf, PageActor};
use crate::web::errors::{Failure, PageError};
use crate::web::pages::{page_locale, render};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(home)
        .service(new_form)
        .service(create)
        .service(from_ticket)
        .service(reply_text)
        .service(edit_form)
        .service(save)
        .service(set_status)
        .service(revisions)
        .service(restore)
        .service(view)
        .service(public_root)
        .service(public_index)
        .service(public_article);
}

fn hits_json(hits: &[KbHit]) -> Vec<Value> {
    hits.iter()
        .map(|h| {
            json!({
                "article_id": h.article_id,
                "slug": h.slug,
                // Not `title`: inside the layout partial that names the page's title.
                "heading": h.title,
                "title_html": h.title_html,
                "snippet_html": h.snippet_html,
                "internal": h.internal,
            })
        })
        .collect()
}

fn choices<T: Copy + PartialEq>(
    all: &[T],
    selected: Option<T>,
    name: impl Fn(T) -> &'static str,
) -> Vec<Value> {
    all.iter()
        .map(|v| json!({ "value": name(*v), "selected": Some(*v) == selected }))
        .collect()
}

/// The panel on the ticket page: suggestions for the ticket (or hits for `query`), the articles
/// the ticket was answered with, and whether the agent may create articles.
pub async fn ticket_panel(
    st: &AppState,
    actor: &Actor,
    ticket: &crate::tickets::TicketDetail,
    query: Option<&str>,
) -> Result<Value, PageError> {
    let query = query.map(str::trim).filter(|q| !q.is_empty());
    let hits = match query {
        Some(q) => {
            kb::search_for_agent(&st.db, &st.kb, actor, q, KbFilter::published(), 5)
                .await?
                .0
        }
        None => crate::tickets::knowledge::suggestions(&st.db, &st.kb, actor, ticket, 3).await?,
    };
    let used = crate::tickets::knowledge::articles_used(&st.db, actor, ticket).await?;
    Ok(json!({
        "query": query.unwrap_or(""),
        "hits": hits_json(&hits),
        "used": used.iter().map(|(_, slug, title)| json!({ "slug": slug, "heading": title })).collect::<Vec<_>>(),
        "can_edit": kb::can_edit(actor),
    }))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct HomeQuery {
    q: String,
    department: String,
    audience: String,
    language: String,
    status: String,
    ok: String,
}

#[get("/knowledge")]
pub async fn home(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    q: web::Query<HomeQuery>,
) -> Result<HttpResponse, PageError> {
    let q = q.into_inner();
    let audience = kb::parse_optional(&q.audience, Audience::parse)?;
    let language = kb::parse_optional(&q.language, Language::parse)?;
    let status = kb::parse_optional(&q.status, ArticleStatus::parse)?;
    let department = Some(q.department.trim().to_string()).filter(|d| !d.is_empty());
    let all = kb::list(&st.db, &actor, None).await?;
    let mut used: Vec<String> = all.iter().map(|a| a.department.clone()).collect();
    used.sort();
    used.dedup();
    let options = department_options(&st, &actor, used.clone()).await?;
    // The filter offers the departments articles have, by name.
    let departments: Vec<Value> = options
        .iter()
        .filter(|(slug, _)| used.contains(slug))
        .map(|(value, name)| json!({ "value": value, "name": name }))
        .collect();
    let locale = page_locale(Some(&actor), &req);
    let searched = !q.q.trim().is_empty();
    let (hits, fuzzy) = if searched {
        let filter = KbFilter {
            audience,
            statuses: status.into_iter().collect(),
            department: department.clone(),
            language,
        };
        kb::search_for_agent(&st.db, &st.kb, &actor, &q.q, filter, 20).await?
    } else {
        (vec![], false)
    };
    let articles: Vec<Value> = all
        .iter()
        .filter(|a| {
            audience.is_none_or(|x| a.audience == x.as_str())
                && language.is_none_or(|x| a.language == x.as_str())
                && status.is_none_or(|x| a.status == x.as_str())
                && department.as_ref().is_none_or(|d| &a.department == d)
        })
        .map(|a| {
            json!({
                "slug": a.slug, "heading": a.title, "department": a.department,
                "department_name": department_name(&options, &a.department),
                "audience": a.audience, "language": a.language, "status": a.status,
                "uses": a.uses, "updated": local_time(a.updated_at),
            })
        })
        .collect();
    let ok = (!q.ok.is_empty())
        .then(|| Templates::get().text(locale, &format!("kb.ok.{}", q.ok)))
        .filter(|t| !t.starts_with("kb.ok."));
    render(
        &req,
        Some(&actor),
        StatusCode::OK,
        "kb/home",
        json!({
            "nav": "kb",
            "q": q.q,
            "searched": searched,
            "hits": hits_json(&hits),
            "fuzzy": fuzzy,
            "articles": articles,
            "departments": departments,
            "department": department.unwrap_or_default(),
            "audiences": choices(Audience::ALL, audience, Audience::as_str),
            "languages": choices(Language::ALL, language, Language::as_str),
            "statuses": choices(ArticleStatus::ALL, status, ArticleStatus::as_str),
            "can_edit": kb::can_edit(&actor),
            "ok": ok,
        }),
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ArticleForm {
    csrf: String,
    revision: String,
    title: String,
    slug: String,
    summary: String,
    tags: String,
    department: String,
    audience: String,
    language: String,
    status: String,
    body: String,
    /// `save` or `preview`.
    action: String,
}

impl HasCsrf for ArticleForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl ArticleForm {
    fn raw(&self) -> RawContent {
        RawContent {
            slug: self.slug.clone(),
            title: self.title.clone(),
            summary: self.summary.clone(),
            body: self.body.clone(),
            tags: article::split_tags(&self.tags),
            department: self.department.clone(),
            audience: self.audience.clone(),
            language: self.language.clone(),
            status: self.status.clone(),
        }
    }

    fn from_raw(raw: &RawContent, revision: i32) -> ArticleForm {
        ArticleForm {
            revision: revision.to_string(),
            title: raw.title.clone(),
            slug: raw.slug.clone(),
            summary: raw.summary.clone(),
            tags: raw.tags.join(", "),
            department: raw.department.clone(),
            audience: raw.audience.clone(),
            language: raw.language.clone(),
            status: raw.status.clone(),
            body: raw.body.clone(),
            ..ArticleForm::default()
        }
    }
}

fn raw_of(a: &ArticleView) -> RawContent {
    let c = &a.content;
    RawContent {
        slug: c.slug.clone(),
        title: c.title.clone(),
        summary: c.summary.clone(),
        body: c.body.clone(),
        tags: c.tags.clone(),
        department: c.department.clone(),
        audience: c.audience.as_str().into(),
        language: c.language.as_str().into(),
        status: c.status.as_str().into(),
    }
}

struct FormPage<'a> {
    heading: &'static str,
    action: String,
    back: String,
    form: &'a ArticleForm,
    preview: bool,
    error: Option<Failure>,
    from_ticket: bool,
}

/// Departments as people read them (D52): the tenant's queues by name (slug → name); a stored
/// department no queue has any more shows as itself. Sorted by what is shown.
async fn department_options(
    st: &AppState,
    actor: &Actor,
    stored: impl IntoIterator<Item = String>,
) -> Result<Vec<(String, String)>, PageError> {
    let mut all = kb::department_names(&st.db, actor.tenant).await?;
    for d in stored {
        if !all.iter().any(|(slug, _)| *slug == d) {
            all.push((d.clone(), d));
        }
    }
    all.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(all)
}

fn department_name(options: &[(String, String)], slug: &str) -> String {
    options
        .iter()
        .find(|(s, _)| s == slug)
        .map_or_else(|| slug.to_string(), |(_, n)| n.clone())
}

async fn form_page(
    req: &HttpRequest,
    st: &AppState,
    actor: &Actor,
    p: FormPage<'_>,
) -> Result<HttpResponse, PageError> {
    let locale = page_locale(Some(actor), req);
    let stored = kb::list(&st.db, actor, None)
        .await?
        .into_iter()
        .map(|a| a.department);
    let f = p.form;
    let departments: Vec<Value> = department_options(st, actor, stored)
        .await?
        .into_iter()
        .map(|(value, name)| json!({ "selected": value == f.department, "value": value, "name": name }))
        .collect();
    let status = p.error.as_ref().map_or(StatusCode::OK, Failure::status);
    let field = match &p.error {
        Some(Failure::Domain(Error::Invalid(v))) => v.field,
        _ => "",
    };
    let pick = |raw: &str, default: &'static str| {
        if raw.is_empty() {
            default.to_string()
        } else {
            raw.to_string()
        }
    };
    let audience = Audience::parse(&pick(&f.audience, "public")).ok();
    let language = Language::parse(&pick(&f.language, "sv")).ok();
    let st_value = ArticleStatus::parse(&pick(&f.status, "draft")).ok();
    render(
        req,
        Some(actor),
        status,
        "kb/form",
        json!({
            "nav": "kb",
            "heading": p.heading,
            "action": p.action,
            "back": p.back,
            "revision": f.revision,
            "form": {
                "title": f.title, "slug": f.slug, "summary": f.summary, "tags": f.tags,
                "department": f.department, "body": f.body,
            },
            "departments": departments,
            "audiences": choices(Audience::ALL, audience, Audience::as_str),
            "languages": choices(Language::ALL, language, Language::as_str),
            "statuses": choices(ArticleStatus::ALL, st_value, ArticleStatus::as_str),
            "preview": (p.preview && !f.body.trim().is_empty()).then(|| article::render_html(&f.body)),
            "error": p.error.as_ref().map(|e| e.message(locale)),
            "field": field,
            "from_ticket": p.from_ticket,
        }),
    )
}

fn see_other(to: String) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}

fn require_editor(actor: &Actor) -> Result<(), PageError> {
    if kb::can_edit(actor) {
        Ok(())
    } else {
        Err(Failure::Domain(Error::Forbidden(
            "only queue leads and admins edit the knowledge base",
        ))
        .into())
    }
}

#[get("/knowledge/new")]
pub async fn new_form(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
) -> Result<HttpResponse, PageError> {
    require_editor(&actor)?;
    let form = ArticleForm::default();
    form_page(
        &req,
        &st,
        &actor,
        FormPage {
            heading: "kb.heading.new",
            action: "/knowledge/new".into(),
            back: "/knowledge".into(),
            form: &form,
            preview: false,
            error: None,
            from_ticket: false,
        },
    )
    .await
}

/// A new article pre-filled from a ticket's question and answer (not saved until the author
/// saves it).
#[get("/tickets/{number}/knowledge/new")]
pub async fn from_ticket(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let n = TicketNumber::parse(&path).map_err(|_| Failure::Domain(Error::NotFound("ticket")))?;
    let raw = crate::tickets::knowledge::draft_article(&st.db, &actor, n.clone()).await?;
    let form = ArticleForm::from_raw(&raw, 0);
    form_page(
        &req,
        &st,
        &actor,
        FormPage {
            heading: "kb.heading.from_ticket",
            action: "/knowledge/new".into(),
            back: format!("/tickets/{n}"),
            form: &form,
            preview: true,
            error: None,
            from_ticket: true,
        },
    )
    .await
}

#[post("/knowledge/new")]
pub async fn create(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    CsrfForm(f): CsrfForm<ArticleForm>,
) -> Result<HttpResponse, PageError> {
    let back = |error: Option<Failure>, preview: bool| FormPage {
        heading: "kb.heading.new",
        action: "/knowledge/new".into(),
        back: "/knowledge".into(),
        form: &f,
        preview,
        error,
        from_ticket: false,
    };
    if f.action == "preview" {
        return form_page(&req, &st, &actor, back(None, true)).await;
    }
    match kb::create(&st.db, &st.kb, &actor, f.raw()).await {
        Ok(a) => Ok(see_other(format!(
            "/knowledge/{}?ok=created",
            a.content.slug
        ))),
        Err(e @ (Error::Invalid(_) | Error::Conflict(_))) => {
            form_page(&req, &st, &actor, back(Some(e.into()), true)).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ViewQuery {
    rev: Option<i32>,
    ok: String,
}

#[get("/knowledge/{slug}")]
pub async fn view(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<String>,
    q: web::Query<ViewQuery>,
) -> Result<HttpResponse, PageError> {
    let locale = page_locale(Some(&actor), &req);
    let current = kb::get(&st.db, &actor, &path).await?;
    let shown = match q.rev.filter(|r| *r != current.revision) {
        Some(r) => kb::revision_view(&st.db, &actor, &current, r).await?,
        None => current.clone(),
    };
    let transitions: Vec<Value> = ArticleStatus::ALL
        .iter()
        .filter(|s| **s != current.content.status)
        .map(|s| json!({ "value": s.as_str() }))
        .collect();
    let public_link = (current.content.audience == Audience::Public
        && current.content.status == ArticleStatus::Published)
        .then_some(());
    let public_link = match public_link {
        Some(()) => Some(kb::public_link(
            &st.settings.server.public_url,
            &kb::tenant_slug(&st.db, &actor).await?,
            &current.content.slug,
        )),
        None => None,
    };
    let ok = (!q.ok.is_empty())
        .then(|| Templates::get().text(locale, &format!("kb.ok.{}", q.ok)))
        .filter(|t| !t.starts_with("kb.ok."));
    render(
        &req,
        Some(&actor),
        StatusCode::OK,
        "kb/article",
        json!({
            "nav": "kb",
            "department_name": department_name(&kb::department_names(&st.db, actor.tenant).await?, &shown.content.department),
            "article": shown,
            "updated": local_time(shown.updated_at),
            "viewing_revision": (shown.revision != current.revision).then_some(shown.revision),
            "can_edit": kb::can_edit(&actor),
            "transitions": transitions,
            "public_link": public_link,
            "ok": ok,
        }),
    )
}

#[get("/knowledge/{slug}/edit")]
pub async fn edit_form(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    require_editor(&actor)?;
    let a = kb::get(&st.db, &actor, &path).await?;
    let form = ArticleForm::from_raw(&raw_of(&a), a.revision);
    form_page(
        &req,
        &st,
        &actor,
        FormPage {
            heading: "kb.heading.edit",
            action: format!("/knowledge/{}/edit", a.content.slug),
            back: format!("/knowledge/{}", a.content.slug),
            form: &form,
            preview: false,
            error: None,
            from_ticket: false,
        },
    )
    .await
}

fn expected_revision(raw: &str) -> Result<i32, PageError> {
    raw.trim()
        .parse()
        .map_err(|_| Failure::BadRequest("revision".into()).into())
}

#[post("/knowledge/{slug}/edit")]
pub async fn save(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<String>,
    CsrfForm(f): CsrfForm<ArticleForm>,
) -> Result<HttpResponse, PageError> {
    let a = kb::get(&st.db, &actor, &path).await?;
    let expected = expected_revision(&f.revision)?;
    let back = |error: Option<Failure>, preview: bool| FormPage {
        heading: "kb.heading.edit",
        action: format!("/knowledge/{}/edit", a.content.slug),
        back: format!("/knowledge/{}", a.content.slug),
        form: &f,
        preview,
        error,
        from_ticket: false,
    };
    if f.action == "preview" {
        return form_page(&req, &st, &actor, back(None, true)).await;
    }
    match kb::update(&st.db, &st.kb, &actor, a.id, expected, f.raw(), "edit").await {
        Ok(a) => Ok(see_other(format!("/knowledge/{}?ok=saved", a.content.slug))),
        Err(e @ (Error::Invalid(_) | Error::Conflict(_))) => {
            form_page(&req, &st, &actor, back(Some(e.into()), true)).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct StatusForm {
    csrf: String,
    revision: String,
    status: String,
}

impl HasCsrf for StatusForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[post("/knowledge/{slug}/status")]
pub async fn set_status(
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<String>,
    CsrfForm(f): CsrfForm<StatusForm>,
) -> Result<HttpResponse, PageError> {
    let a = kb::get(&st.db, &actor, &path).await?;
    let status = ArticleStatus::parse(&f.status).map_err(Failure::from)?;
    let a = kb::set_status(
        &st.db,
        &st.kb,
        &actor,
        a.id,
        expected_revision(&f.revision)?,
        status,
    )
    .await?;
    Ok(see_other(format!(
        "/knowledge/{}?ok=status",
        a.content.slug
    )))
}

#[get("/knowledge/{slug}/revisions")]
pub async fn revisions(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let (a, revs) = kb::revisions(&st.db, &actor, &path).await?;
    let people = crate::tickets::views::people(&st.db, &actor).await?;
    let rows: Vec<Value> = revs
        .iter()
        .map(|r| {
            json!({
                "revision": r.revision,
                "at": local_time(r.created_at),
                "author": r.author_id.and_then(|id| people.iter().find(|p| p.id.get() == id).map(|p| p.name.clone())),
                "note": r.note,
                "heading": r.content.title,
                "status": r.content.status,
                "current": r.revision == a.revision,
            })
        })
        .collect();
    render(
        &req,
        Some(&actor),
        StatusCode::OK,
        "kb/revisions",
        json!({ "nav": "kb", "article": a, "revisions": rows, "can_edit": kb::can_edit(&actor) }),
    )
}

#[derive(Deserialize)]
pub struct RestoreForm {
    csrf: String,
    revision: String,
    restore: String,
}

impl HasCsrf for RestoreForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[post("/knowledge/{slug}/restore")]
pub async fn restore(
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<String>,
    CsrfForm(f): CsrfForm<RestoreForm>,
) -> Result<HttpResponse, PageError> {
    let a = kb::get(&st.db, &actor, &path).await?;
    let wanted = expected_revision(&f.restore)?;
    let a = kb::restore(
        &st.db,
        &st.kb,
        &actor,
        a.id,
        expected_revision(&f.revision)?,
        wanted,
    )
    .await?;
    Ok(see_other(format!(
        "/knowledge/{}?ok=restored",
        a.content.slug
    )))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct InsertQuery {
    /// The whole text instead of the summary and link.
    full: bool,
}

/// "Insert into reply": the article's summary and public link (the whole text with `?full=true`),
/// as plain text for the reply box.
#[get("/tickets/{number}/kb/{id}")]
pub async fn reply_text(
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<(String, i64)>,
    q: web::Query<InsertQuery>,
) -> Result<HttpResponse, PageError> {
    let (raw, id) = path.into_inner();
    TicketNumber::parse(&raw).map_err(|_| Failure::Domain(Error::NotFound("ticket")))?;
    let text = kb::reply_text(&st.db, &actor, id, &st.settings.server.public_url, q.full).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(text))
}

// ---- for citizens ----

/// `/kb`: the municipalities served here (one: straight to its knowledge base).
#[get("/kb")]
pub async fn public_root(
    req: HttpRequest,
    st: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let tenants = crate::tenants::served(&st.db).await?;
    if let [(slug, _)] = tenants.as_slice() {
        return Ok(see_other(format!("/kb/{slug}")));
    }
    render(
        &req,
        None,
        StatusCode::OK,
        "kb/public_tenants",
        json!({ "tenants": tenants.iter().map(|(slug, name)| json!({ "slug": slug, "name": name })).collect::<Vec<_>>() }),
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PublicQuery {
    q: String,
}

#[get("/kb/{tenant}")]
pub async fn public_index(
    req: HttpRequest,
    st: web::Data<AppState>,
    path: web::Path<String>,
    q: web::Query<PublicQuery>,
) -> Result<HttpResponse, PageError> {
    let (tenant, name) = kb::public_tenant(&st.db, &path).await?;
    let searched = !q.q.trim().is_empty();
    let hits = if searched {
        kb::search_public(&st.kb, tenant, &q.q, None, 20).await?
    } else {
        vec![]
    };
    let list = kb::public_list(&st.db, tenant).await?;
    let names = kb::department_names(&st.db, tenant).await?;
    let mut groups: Vec<Value> = Vec::new();
    let mut deps: Vec<&str> = list.iter().map(|a| a.department.as_str()).collect();
    deps.sort();
    deps.dedup();
    for d in deps {
        groups.push(json!({
            "department": d,
            "name": names.iter().find(|(s, _)| s == d).map_or_else(
                || {
                    // A department without a queue of that name: its name from the locale, if any.
                    let key = format!("kb.department.{d}");
                    let text = Templates::get().text(page_locale(None, &req), &key);
                    if text == key { d.to_string() } else { text }
                },
                |(_, n)| n.clone(),
            ),
            "articles": list.iter().filter(|a| a.department == d).map(|a| json!({
                "slug": a.slug, "heading": a.title, "language": a.language,
            })).collect::<Vec<_>>(),
        }));
    }
    render(
        &req,
        None,
        StatusCode::OK,
        "kb/public_index",
        json!({
            "tenant_slug": path.as_str(),
            "tenant_name": name,
            "q": q.q,
            "searched": searched,
            "hits": hits_json(&hits),
            "groups": groups,
        }),
    )
}

#[get("/kb/{tenant}/{slug}")]
pub async fn public_article(
    req: HttpRequest,
    st: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (tenant_slug, slug) = path.into_inner();
    let (tenant, tenant_name) = kb::public_tenant(&st.db, &tenant_slug).await?;
    let a = kb::public_article_for(&st.db, tenant, &tenant_slug, &slug).await?;
    render(
        &req,
        None,
        StatusCode::OK,
        "kb/public_article",
        json!({ "tenant_slug": tenant_slug, "tenant_name": tenant_name, "updated": local_time(a.updated_at), "article": a }),
    )
}
