//! The knowledge base (kunskapsbank): articles in Swedish (and English) that agents answer from
//! and citizens read at `/kb`.
//!
//! ```text
//!  knowledge-base/*.md ──(import: upsert by slug)──┐
//!  workspace editor ───(create/edit/publish/…)─────┼─► store::kb (article + revision, one tx)
//!                                                  │        │
//!                                  sync after each change,  ▼ every few seconds, at start
//!                                  index.rs (tantivy, one per node, <data_dir>/kb-index)
//!  ticket view: suggest (more like this) ──► search.rs ◄── search box, public /kb
//! ```
//!
//! - `article.rs`: validated content, the file format, Markdown to safe HTML and to plain text.
//! - `redact.rs`: personal data out of ticket text for "create article from this ticket".
//! - `index.rs`, `search.rs`: the derived index and the queries.
//!
//! Who may do what: every agent reads and searches published articles (both audiences) and may
//! read drafts and archived ones in the editor's list; queue leads and admins create, edit,
//! publish, archive and restore. Citizens see published public articles of the tenant whose
//! address they use, nothing else.

pub mod article;
pub mod index;
pub mod redact;
pub mod search;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDateTime;
use rust_embed::RustEmbed;
use serde::Serialize;

use crate::accounts::{Actor, Scope};
use crate::domain::Reason;
use crate::domain::{
    ArticleStatus, Audience, InvalidValue, Language, MembershipRole, QueueId, TenantId, TicketId,
};
use crate::error::Conflict;
use crate::error::{Error, Result};
use crate::store::{self, Db};
pub use article::{ArticleContent, RawContent};
pub use index::KbIndex;
pub use search::{KbFilter, KbHit};
use store::kb::Article;

/// The starter articles shipped in `knowledge-base/`, built into the binary.
#[derive(RustEmbed)]
#[folder = "knowledge-base/"]
#[include = "*.md"]
struct Starter;

/// The starter articles as (file name, text), by name.
pub fn starter_files() -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = Starter::iter()
        .filter_map(|name| {
            let f = Starter::get(&name)?;
            Some((
                name.to_string(),
                String::from_utf8_lossy(&f.data).into_owned(),
            ))
        })
        .collect();
    files.sort();
    files
}

/// Every `.md` file under `dir` (recursively) as (path relative to `dir`, text), by path.
pub fn read_dir(dir: &std::path::Path) -> std::io::Result<Vec<(String, String)>> {
    fn walk(
        root: &std::path::Path,
        at: &std::path::Path,
        out: &mut Vec<(String, String)>,
    ) -> std::io::Result<()> {
        for entry in std::fs::read_dir(at)? {
            let path = entry?.path();
            if path.is_dir() {
                walk(root, &path, out)?;
            } else if path.extension().is_some_and(|e| e == "md") {
                let name = path
                    .strip_prefix(root)
                    .unwrap_or(&path)
                    .display()
                    .to_string();
                out.push((name, std::fs::read_to_string(&path)?));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    out.sort();
    Ok(out)
}

/// The knowledge base of this node: its index, and a bell that wakes the background sync.
#[derive(Clone, Debug)]
pub struct Kb {
    pub index: KbIndex,
    wake: Arc<tokio::sync::Notify>,
}

impl Kb {
    pub fn new(index: KbIndex) -> Kb {
        Kb {
            index,
            wake: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// Bring the index in line with `tenant`'s articles in the database.
    pub async fn sync_tenant(&self, db: &Db, tenant: TenantId) -> Result<index::SyncReport> {
        let current = db
            .read(move |c| store::kb::revisions_of_all(c, tenant))
            .await?;
        let (stale, gone) = self.index.diff(tenant, &current);
        if stale.is_empty() && gone.is_empty() {
            return Ok(index::SyncReport::default());
        }
        let mut report = index::SyncReport::default();
        // In batches, so a rebuild of a large knowledge base does not hold every body at once.
        for chunk in stale.chunks(500).map(<[i64]>::to_vec) {
            let docs = db
                .read(move |c| store::kb::by_ids(c, tenant, &chunk))
                .await?;
            let idx = self.index.clone();
            let r = tokio::task::spawn_blocking(move || idx.apply(tenant, &docs, &[]))
                .await
                .map_err(|e| Error::Internal(e.to_string()))??;
            report.added_or_changed += r.added_or_changed;
        }
        if !gone.is_empty() {
            let idx = self.index.clone();
            let r = tokio::task::spawn_blocking(move || idx.apply(tenant, &[], &gone))
                .await
                .map_err(|e| Error::Internal(e.to_string()))??;
            report.removed += r.removed;
        }
        Ok(report)
    }

    /// Sync every tenant (and drop documents of tenants that are gone).
    pub async fn sync_all(&self, db: &Db) -> Result<index::SyncReport> {
        let tenants = db.read(store::tenants::list).await?;
        let mut total = index::SyncReport::default();
        for t in &tenants {
            let r = self.sync_tenant(db, t.id).await?;
            total.added_or_changed += r.added_or_changed;
            total.removed += r.removed;
        }
        for raw in self.index.tenants_held() {
            if !tenants.iter().any(|t| t.id.get() == raw) {
                let r = self.sync_tenant_gone(TenantId::from_db(raw)).await?;
                total.removed += r.removed;
            }
        }
        Ok(total)
    }

    async fn sync_tenant_gone(&self, tenant: TenantId) -> Result<index::SyncReport> {
        let (_, gone) = self.index.diff(tenant, &[]);
        let idx = self.index.clone();
        tokio::task::spawn_blocking(move || idx.apply(tenant, &[], &gone))
            .await
            .map_err(|e| Error::Internal(e.to_string()))?
    }

    /// Throw the index away and build it again from the database, reporting (done, total).
    pub async fn rebuild(&self, db: &Db, progress: impl Fn(u64, u64)) -> Result<u64> {
        let idx = self.index.clone();
        tokio::task::spawn_blocking(move || idx.clear())
            .await
            .map_err(|e| Error::Internal(e.to_string()))??;
        let tenants = db.read(store::tenants::list).await?;
        let mut all: Vec<(TenantId, Vec<i64>)> = Vec::new();
        for t in &tenants {
            let id = t.id;
            let ids = db
                .read(move |c| store::kb::revisions_of_all(c, id))
                .await?
                .into_iter()
                .map(|(a, _)| a)
                .collect();
            all.push((id, ids));
        }
        let total: u64 = all.iter().map(|(_, ids)| ids.len() as u64).sum();
        let mut done = 0;
        progress(0, total);
        for (tenant, ids) in all {
            for chunk in ids.chunks(200).map(<[i64]>::to_vec) {
                let n = chunk.len() as u64;
                let docs = db
                    .read(move |c| store::kb::by_ids(c, tenant, &chunk))
                    .await?;
                let idx = self.index.clone();
                tokio::task::spawn_blocking(move || idx.apply(tenant, &docs, &[]))
                    .await
                    .map_err(|e| Error::Internal(e.to_string()))??;
                done += n;
                progress(done, total);
            }
        }
        Ok(done)
    }

    /// Ask the background sync to run now (another node's change is picked up on its timer).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// The background sync: every `every`, or when woken, until `stop` resolves.
    pub async fn run(self, db: Db, every: Duration, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            if let Err(e) = self.sync_all(&db).await {
                tracing::warn!(error = %e, "knowledge-base index sync failed; retrying");
            }
            tokio::select! {
                _ = &mut stop => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(every) => {}
            }
        }
    }
}

/// May this person write articles? Admins and queue leads.
pub fn can_edit(actor: &Actor) -> bool {
    actor.is_admin()
        || actor
            .memberships
            .iter()
            .any(|(_, r)| *r == MembershipRole::Lead)
}

fn require_editor(actor: &Actor) -> Result<()> {
    actor.require(Scope::TicketsWrite)?;
    if can_edit(actor) {
        Ok(())
    } else {
        Err(Error::Forbidden(
            "only queue leads and admins edit the knowledge base",
        ))
    }
}

/// What an import did, per file.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    pub created: Vec<String>,
    pub updated: Vec<String>,
    pub unchanged: Vec<String>,
    /// (file, what is wrong). Other files are imported anyway.
    pub failed: Vec<(String, String)>,
}

/// Import article files into the actor's tenant (admins and leads; the operator at the command
/// line, the system for the starter articles): a new slug creates an article, a changed file a new
/// revision of the article with that slug, an unchanged one nothing. Each file is its own
/// transaction; a file that cannot be read is reported and the rest go in.
///
/// `kb` is this process's index when it has one (the server); without (the `kb import` command)
/// the running servers pick the articles up on their next sync.
pub async fn import(
    db: &Db,
    kb: Option<&Kb>,
    actor: &Actor,
    files: Vec<(String, String)>,
) -> Result<ImportReport> {
    require_editor(actor)?;
    let (tenant, author) = (actor.tenant, actor.person());
    let import = move |now| store::kb::Change {
        author,
        note: "import",
        now,
    };
    let mut report = ImportReport::default();
    let mut seen_slugs: Vec<(String, String)> = Vec::new();
    for (name, text) in files {
        let content = match article::parse_file(&text) {
            Ok(c) => c,
            Err(e) => {
                report.failed.push((name, e.to_string()));
                continue;
            }
        };
        if let Some((first, _)) = seen_slugs.iter().find(|(_, s)| *s == content.slug) {
            report.failed.push((
                name,
                format!("slug {:?} is also used by {first}", content.slug),
            ));
            continue;
        }
        seen_slugs.push((name.clone(), content.slug.clone()));
        let outcome = db
            .write(move |c| -> Result<&'static str> {
                let now = store::now();
                match store::kb::by_slug(c, tenant, &content.slug)? {
                    None => {
                        store::kb::insert(c, tenant, &content, &import(now))?;
                        Ok("created")
                    }
                    Some(a) if a.content == content => Ok("unchanged"),
                    Some(a) => {
                        store::kb::update(c, tenant, (a.id, a.revision), &content, &import(now))?;
                        Ok("updated")
                    }
                }
            })
            .await;
        match outcome {
            Ok("created") => report.created.push(name),
            Ok("updated") => report.updated.push(name),
            Ok(_) => report.unchanged.push(name),
            Err(e) => report.failed.push((name, e.to_string())),
        }
    }
    if let Some(kb) = kb {
        kb.sync_tenant(db, tenant).await?;
    }
    Ok(report)
}

/// Every tenant without articles gets the starter articles (first start).
pub async fn import_starter_where_empty(db: &Db, kb: &Kb) -> Result<usize> {
    let tenants = db.read(store::tenants::list).await?;
    let mut n = 0;
    for t in tenants {
        let id = t.id;
        if db.read(move |c| store::kb::count(c, id)).await? == 0 {
            let r = import(db, Some(kb), &Actor::system(id), starter_files()).await?;
            for (file, err) in &r.failed {
                tracing::warn!(tenant = %t.slug, file, error = %err, "starter article not imported");
            }
            tracing::info!(tenant = %t.slug, articles = r.created.len(), "starter knowledge base imported");
            n += 1;
        }
    }
    Ok(n)
}

/// An article for people to read: content, rendered body and counters.
#[derive(Debug, Clone, Serialize)]
pub struct ArticleView {
    pub id: i64,
    #[serde(flatten)]
    pub content: ArticleContent,
    pub body_html: String,
    pub revision: i32,
    pub views: i64,
    pub uses: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl From<Article> for ArticleView {
    fn from(a: Article) -> Self {
        ArticleView {
            id: a.id,
            body_html: article::render_html(&a.content.body),
            content: a.content,
            revision: a.revision,
            views: a.views,
            uses: a.uses,
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

/// Any article of the actor's tenant, by slug (agents).
pub async fn get(db: &Db, actor: &Actor, slug: &str) -> Result<ArticleView> {
    actor.require(Scope::TicketsRead)?;
    let (t, slug) = (actor.tenant, slug.to_string());
    let a = db
        .read(move |c| store::kb::by_slug(c, t, &slug))
        .await?
        .ok_or(Error::NotFound("article"))?;
    Ok(a.into())
}

pub async fn list(
    db: &Db,
    actor: &Actor,
    status: Option<ArticleStatus>,
) -> Result<Vec<store::kb::Listed>> {
    actor.require(Scope::TicketsRead)?;
    let t = actor.tenant;
    Ok(db.read(move |c| store::kb::list(c, t, status)).await?)
}

/// Create an article (editors). A slug in use is a `Conflict`.
pub async fn create(db: &Db, kb: &Kb, actor: &Actor, raw: RawContent) -> Result<ArticleView> {
    require_editor(actor)?;
    let content = raw.parse()?;
    let (t, uid) = (actor.tenant, actor.user()?);
    let a = db
        .write(move |c| -> Result<Article> {
            if store::kb::by_slug(c, t, &content.slug)?.is_some() {
                return Err(Error::Conflict(Conflict::ArticleExists {
                    slug: content.slug.clone(),
                }));
            }
            let change = store::kb::Change {
                author: Some(uid),
                note: "create",
                now: store::now(),
            };
            Ok(store::kb::insert(c, t, &content, &change)?)
        })
        .await?;
    kb.sync_tenant(db, t).await?;
    Ok(a.into())
}

/// Replace an article's content (editors). `expected` is the revision the editor started from;
/// when someone saved in between, nothing changes and the result is a `Conflict`.
pub async fn update(
    db: &Db,
    kb: &Kb,
    actor: &Actor,
    id: i64,
    expected: i32,
    raw: RawContent,
    note: &'static str,
) -> Result<ArticleView> {
    require_editor(actor)?;
    let content = raw.parse()?;
    write_revision(db, kb, actor, id, expected, note, move |_, _| Ok(content)).await
}

/// Publish, archive or return to draft (editors).
pub async fn set_status(
    db: &Db,
    kb: &Kb,
    actor: &Actor,
    id: i64,
    expected: i32,
    status: ArticleStatus,
) -> Result<ArticleView> {
    require_editor(actor)?;
    let note = match status {
        ArticleStatus::Published => "publish",
        ArticleStatus::Archived => "archive",
        ArticleStatus::Draft => "unpublish",
    };
    write_revision(db, kb, actor, id, expected, note, move |_, a| {
        Ok(ArticleContent {
            status,
            ..a.content.clone()
        })
    })
    .await
}

/// Make an earlier revision's content the current one, as a new revision (editors).
pub async fn restore(
    db: &Db,
    kb: &Kb,
    actor: &Actor,
    id: i64,
    expected: i32,
    revision: i32,
) -> Result<ArticleView> {
    require_editor(actor)?;
    let t = actor.tenant;
    write_revision(db, kb, actor, id, expected, "restore", move |c, _| {
        store::kb::revision(c, t, id, revision)?
            .map(|r| r.content)
            .ok_or(Error::NotFound("revision"))
    })
    .await
}

/// Every revision of an article, newest first, with the author's name (agents).
pub async fn revisions(
    db: &Db,
    actor: &Actor,
    slug: &str,
) -> Result<(ArticleView, Vec<store::kb::Revision>)> {
    let a = get(db, actor, slug).await?;
    let (t, id) = (actor.tenant, a.id);
    let revs = db.read(move |c| store::kb::revisions(c, t, id)).await?;
    Ok((a, revs))
}

/// Write a new revision computed from (current article, the revision asked for) in one
/// transaction, then bring the index along.
async fn write_revision(
    db: &Db,
    kb: &Kb,
    actor: &Actor,
    id: i64,
    expected: i32,
    note: &'static str,
    next: impl FnOnce(&mut store::Conn, &Article) -> Result<ArticleContent> + Send + 'static,
) -> Result<ArticleView> {
    let (t, uid) = (actor.tenant, actor.user()?);
    let a = db
        .write(move |c| -> Result<Article> {
            let a = store::kb::by_id(c, t, id)?.ok_or(Error::NotFound("article"))?;
            let content = next(c, &a)?;
            if content.slug != a.content.slug && store::kb::by_slug(c, t, &content.slug)?.is_some()
            {
                return Err(Error::Conflict(Conflict::ArticleExists {
                    slug: content.slug.clone(),
                }));
            }
            let change = store::kb::Change {
                author: Some(uid),
                note,
                now: store::now(),
            };
            Ok(store::kb::update(c, t, (id, expected), &content, &change)?)
        })
        .await?;
    kb.sync_tenant(db, t).await?;
    Ok(a.into())
}

/// Search articles for an agent: published ones of both audiences by default.
pub async fn search_for_agent(
    db: &Db,
    kb: &Kb,
    actor: &Actor,
    text: &str,
    filter: KbFilter,
    limit: usize,
) -> Result<(Vec<KbHit>, bool)> {
    actor.require(Scope::TicketsRead)?;
    let (idx, t, text) = (kb.index.clone(), actor.tenant, text.to_string());
    let (mut hits, more) =
        tokio::task::spawn_blocking(move || search::search(&idx, t, &text, &filter, limit))
            .await
            .map_err(|e| Error::Internal(e.to_string()))??;
    mark_internal(db, t, &mut hits).await?;
    Ok((hits, more))
}

/// Label the internal articles among `hits` (from the database, the source of truth) (D46).
async fn mark_internal(db: &Db, t: TenantId, hits: &mut [KbHit]) -> Result<()> {
    let ids: Vec<i64> = hits.iter().map(|h| h.article_id).collect();
    if ids.is_empty() {
        return Ok(());
    }
    let internal: Vec<i64> = db
        .read(move |c| store::kb::by_ids(c, t, &ids))
        .await?
        .into_iter()
        .filter(|a| a.content.audience == Audience::Internal)
        .map(|a| a.id)
        .collect();
    for h in hits.iter_mut() {
        h.internal = internal.contains(&h.article_id);
    }
    Ok(())
}

/// The articles that fit a question best: its subject and text (for a ticket, the citizen's
/// first message — `tickets::knowledge::suggestions`).
pub async fn suggest(
    db: &Db,
    kb: &Kb,
    actor: &Actor,
    subject: &str,
    text: &str,
    limit: usize,
) -> Result<Vec<KbHit>> {
    actor.require(Scope::TicketsRead)?;
    let (idx, t) = (kb.index.clone(), actor.tenant);
    let (subject, text) = (subject.to_string(), text.to_string());
    let mut hits = tokio::task::spawn_blocking(move || {
        search::suggest(&idx, t, &subject, &text, &KbFilter::published(), limit)
    })
    .await
    .map_err(|e| Error::Internal(e.to_string()))??;
    mark_internal(db, t, &mut hits).await?;
    Ok(hits)
}

/// Search what a citizen may read in `tenant`.
pub async fn search_public(
    kb: &Kb,
    tenant: TenantId,
    text: &str,
    language: Option<Language>,
    limit: usize,
) -> Result<Vec<KbHit>> {
    let (idx, text) = (kb.index.clone(), text.to_string());
    let filter = KbFilter {
        language,
        ..KbFilter::public()
    };
    Ok(
        tokio::task::spawn_blocking(move || search::search(&idx, tenant, &text, &filter, limit))
            .await
            .map_err(|e| Error::Internal(e.to_string()))??
            .0,
    )
}

/// A published public article of `tenant` for a citizen (counts the view). Anything else —
/// a draft, an internal or archived article, another tenant's — is "not found".
/// Published public article for citizens, its links between articles leading to the public
/// pages of the municipality `tenant_slug`.
pub async fn public_article_for(
    db: &Db,
    tenant: TenantId,
    tenant_slug: &str,
    slug: &str,
) -> Result<ArticleView> {
    let mut a = public_article(db, tenant, slug).await?;
    a.body_html = article::render_html_for(
        &a.content.body,
        article::Links::Public {
            base: "",
            tenant: tenant_slug,
        },
    );
    Ok(a)
}

pub async fn public_article(db: &Db, tenant: TenantId, slug: &str) -> Result<ArticleView> {
    let slug = slug.to_string();
    let a = db
        .write(move |c| -> Result<Article> {
            let a = store::kb::by_slug(c, tenant, &slug)?
                .filter(is_public)
                .ok_or(Error::NotFound("article"))?;
            store::kb::count_view(c, tenant, a.id)?;
            Ok(a)
        })
        .await?;
    Ok(a.into())
}

fn is_public(a: &Article) -> bool {
    a.content.audience == Audience::Public && a.content.status == ArticleStatus::Published
}

/// Published public articles of `tenant`, by department then title (the public index page).
pub async fn public_list(db: &Db, tenant: TenantId) -> Result<Vec<store::kb::Listed>> {
    Ok(db
        .read(move |c| store::kb::list(c, tenant, Some(ArticleStatus::Published)))
        .await?
        .into_iter()
        .filter(|a| a.audience == Audience::Public.as_str())
        .collect())
}

/// The text "insert into reply" puts in the reply box: the article's answer as plain text and,
/// for a public article, the link citizens can open.
///
/// By default the summary and the public link (the citizen reads the rest there); `full` puts
/// the whole text in. Links between articles become absolute public addresses
/// (`server.public_url`). An internal article is never reply text (D46).
pub async fn reply_text(
    db: &Db,
    actor: &Actor,
    id: i64,
    public_url: &str,
    full: bool,
) -> Result<String> {
    actor.require(Scope::TicketsRead)?;
    let t = actor.tenant;
    let (a, tenant_slug) = db
        .read(move |c| -> Result<_> {
            let a = store::kb::by_id(c, t, id)?.ok_or(Error::NotFound("article"))?;
            let tenant = store::tenants::get(c, t)?;
            Ok((a, tenant.slug))
        })
        .await?;
    if a.content.audience == Audience::Internal {
        return Err(internal_refused(&a.content.title));
    }
    let links = article::Links::Public {
        base: public_url,
        tenant: &tenant_slug,
    };
    let mut text = String::new();
    let summary_only = !full && !a.content.summary.is_empty() && is_public(&a);
    if !a.content.summary.is_empty() {
        text.push_str(&a.content.summary);
        text.push_str("\n\n");
    }
    if !summary_only {
        text.push_str(&article::render_text_for(&a.content.body, links));
    }
    let mut text = text.trim_end().to_string();
    if is_public(&a) {
        text.push_str(&format!(
            "\n\n{}",
            public_link(public_url, &tenant_slug, &a.content.slug)
        ));
    }
    Ok(text)
}

fn internal_refused(title: &str) -> Error {
    InvalidValue::new(
        "kb_internal",
        Reason::KbInternal {
            title: title.to_string(),
        },
    )
    .into()
}

/// Words of at least this many in a row, taken verbatim from an internal article, make a reply
/// carry that article's text (D46).
pub const INTERNAL_PASSAGE_WORDS: usize = 12;

/// Lower-case words (letters and digits), for comparing text whatever its layout.
fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Refuse a reply to a citizen that carries an internal article's text: any passage of
/// [`INTERNAL_PASSAGE_WORDS`] consecutive words of an internal article's summary or body (as
/// text, whatever the line breaks, punctuation or case) found in the reply (D46).
pub(crate) fn guard_reply(c: &mut store::Conn, t: TenantId, reply: &str) -> Result<()> {
    let reply = words(reply);
    if reply.len() < INTERNAL_PASSAGE_WORDS {
        return Ok(());
    }
    let said = format!(" {} ", reply.join(" "));
    let ids: Vec<i64> = store::kb::list(c, t, None)?
        .into_iter()
        .filter(|a| a.audience == Audience::Internal.as_str())
        .map(|a| a.id)
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    for a in store::kb::by_ids(c, t, &ids)? {
        for part in [
            a.content.summary.clone(),
            article::render_text(&a.content.body),
        ] {
            let w = words(&part);
            for passage in w.windows(INTERNAL_PASSAGE_WORDS) {
                if said.contains(&format!(" {} ", passage.join(" "))) {
                    return Err(internal_refused(&a.content.title));
                }
            }
        }
    }
    Ok(())
}

/// Where citizens read an article.
pub fn public_link(public_url: &str, tenant_slug: &str, slug: &str) -> String {
    format!(
        "{}/kb/{tenant_slug}/{slug}",
        public_url.trim_end_matches('/')
    )
}

/// What a draft article is made from: a ticket's subject, the citizen's question and the agent's
/// answer, the names and addresses to strip, and the queue that owns it.
#[derive(Debug, Clone)]
pub struct DraftSource {
    pub subject: String,
    pub question: String,
    pub answer: String,
    pub names: Vec<String>,
    pub queue: QueueId,
}

/// A draft article pre-filled from a ticket (`tickets::knowledge::draft_article`): question and
/// answer with personal data stripped, owned by the ticket's queue, public, for the author to
/// review and save.
pub async fn draft(db: &Db, actor: &Actor, src: DraftSource) -> Result<RawContent> {
    require_editor(actor)?;
    let names: Vec<&str> = src.names.iter().map(String::as_str).collect();
    let question = redact::strip_personal_data(&src.question, &names);
    let answer = redact::strip_personal_data(&src.answer, &names);
    let title = redact::strip_personal_data(&src.subject, &names);
    let (t, qid) = (actor.tenant, src.queue);
    let department = db
        .read(move |c| store::queues::list(c, t))
        .await?
        .into_iter()
        .find(|q| q.id == qid)
        .map(|q| q.slug)
        .unwrap_or_default();
    Ok(RawContent {
        slug: slugify(&title),
        summary: String::new(),
        body: format!("## Fråga\n\n{question}\n\n## Svar\n\n{answer}\n"),
        title,
        tags: vec![],
        department,
        audience: Audience::Public.as_str().into(),
        language: Language::Sv.as_str().into(),
        status: ArticleStatus::Draft.as_str().into(),
    })
}

/// A slug from a title: lower case, å/ä → a, ö → o, other letters and digits kept, the rest
/// dashes, at most 40 characters.
pub fn slugify(title: &str) -> String {
    let mut out = String::new();
    for ch in title.chars().flat_map(char::to_lowercase) {
        let c = match ch {
            'å' | 'ä' | 'à' | 'á' => 'a',
            'ö' | 'ø' | 'ó' => 'o',
            'é' | 'è' | 'ë' => 'e',
            'ü' | 'ú' => 'u',
            c if c.is_ascii_alphanumeric() => c,
            _ => '-',
        };
        if c == '-' && (out.is_empty() || out.ends_with('-')) {
            continue;
        }
        out.push(c);
        if out.len() >= 40 {
            break;
        }
    }
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() {
        "artikel".into()
    } else {
        out
    }
}

/// Per queue, for tickets created in `[from, to)`: answered, and answered with an article.
pub async fn answered_share(
    db: &Db,
    actor: &Actor,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> Result<Vec<(crate::domain::QueueId, i64, i64)>> {
    actor.require(Scope::TicketsRead)?;
    let (t, access) = (actor.tenant, actor.queue_access());
    Ok(db
        .read(move |c| store::kb::answered_share(c, t, from, to))
        .await?
        .into_iter()
        .filter(|(q, _, _)| access.allows(*q))
        .collect())
}

/// A filter value from a form or query string ("" = any).
pub fn parse_optional<T>(
    raw: &str,
    parse: impl Fn(&str) -> std::result::Result<T, InvalidValue>,
) -> Result<Option<T>> {
    if raw.trim().is_empty() {
        Ok(None)
    } else {
        Ok(Some(parse(raw)?))
    }
}

/// An earlier revision of an article, shown like the article (agents).
pub async fn revision_view(
    db: &Db,
    actor: &Actor,
    current: &ArticleView,
    number: i32,
) -> Result<ArticleView> {
    actor.require(Scope::TicketsRead)?;
    let (t, id) = (actor.tenant, current.id);
    let r = db
        .read(move |c| store::kb::revision(c, t, id, number))
        .await?
        .ok_or(Error::NotFound("revision"))?;
    Ok(ArticleView {
        body_html: article::render_html(&r.content.body),
        content: r.content,
        revision: r.revision,
        updated_at: r.created_at,
        ..current.clone()
    })
}

/// The articles a ticket was answered with: (id, slug, title). For a ticket the actor has
/// already read (`tickets::knowledge::articles_used`).
pub async fn used_on(
    db: &Db,
    actor: &Actor,
    ticket: TicketId,
) -> Result<Vec<(i64, String, String)>> {
    actor.require(Scope::TicketsRead)?;
    let t = actor.tenant;
    Ok(db.read(move |c| store::kb::used_on(c, t, ticket)).await?)
}

/// Department slugs to offer in the editor: the tenant's queues.
pub async fn department_choices(db: &Db, actor: &Actor) -> Result<Vec<String>> {
    Ok(department_names(db, actor.tenant)
        .await?
        .into_iter()
        .map(|(slug, _)| slug)
        .collect())
}

/// (slug, name) of the tenant's queues: what a department slug is shown as.
pub async fn department_names(db: &Db, tenant: TenantId) -> Result<Vec<(String, String)>> {
    Ok(db
        .read(move |c| store::queues::list(c, tenant))
        .await?
        .into_iter()
        .map(|q| (q.slug, q.name))
        .collect())
}

/// The actor's tenant's slug (for public links).
pub async fn tenant_slug(db: &Db, actor: &Actor) -> Result<String> {
    let t = actor.tenant;
    Ok(db.read(move |c| store::tenants::get(c, t)).await?.slug)
}

/// The municipality a public address names: (id, name); unknown ones are "not found".
pub async fn public_tenant(db: &Db, slug: &str) -> Result<(TenantId, String)> {
    let slug = slug.to_string();
    let t = db
        .read(move |c| store::tenants::by_slug(c, &slug))
        .await?
        .ok_or(Error::NotFound("tenant"))?;
    Ok((t.id, t.name))
}

/// Record, inside the transaction that stores a reply, that the ticket was answered with an
/// article: once per ticket and article, with a history event. An id that is not an article of
/// the tenant is ignored (the reply matters more than the statistic).
pub(crate) fn record_use(
    c: &mut store::Conn,
    t: TenantId,
    user: crate::domain::UserId,
    ticket: crate::domain::TicketId,
    article: i64,
    now: NaiveDateTime,
) -> Result<()> {
    let Some(a) = store::kb::by_id(c, t, article)? else {
        return Ok(());
    };
    if store::kb::record_use(c, t, ticket, a.id, Some(user), now)? {
        store::tickets::insert_event(
            c,
            t,
            ticket,
            Some(user),
            "kb_used",
            &serde_json::json!({ "article": a.content.slug, "title": a.content.title }),
            now,
        )?;
    }
    Ok(())
}
