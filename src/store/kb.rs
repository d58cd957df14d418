//! Knowledge-base articles, their revisions and the tickets answered with them.
//!
//! An article row holds the current content and counters; every change to the content (also a
//! status change or a restore) writes the article with its revision number one higher and the new
//! content as a `kb_revisions` row, in one transaction. The revision number is also how the
//! search index knows it is behind.

use chrono::NaiveDateTime;
use diesel::dsl;
use diesel::prelude::*;

use super::schema::{kb_articles, kb_revisions, kb_uses, messages, tickets};
use super::{Conn, StoreError, StoreResult};
use crate::domain::{
    ArticleContent, ArticleStatus, Audience, Language, QueueId, TenantId, TicketId, UserId,
};

type Scoped = dsl::Filter<kb_articles::table, dsl::Eq<kb_articles::tenant_id, i64>>;

/// Every query on articles starts here.
fn scoped(t: TenantId) -> Scoped {
    kb_articles::table.filter(kb_articles::tenant_id.eq(t.get()))
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = kb_articles)]
struct Row {
    id: i64,
    slug: String,
    title: String,
    summary: String,
    body: String,
    tags: String,
    department: String,
    audience: String,
    language: String,
    status: String,
    revision: i32,
    views: i64,
    uses: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

/// An article as stored now.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Article {
    pub id: i64,
    pub tenant: TenantId,
    pub content: ArticleContent,
    pub revision: i32,
    pub views: i64,
    pub uses: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

const TAG_SEP: &str = ", ";

fn join_tags(tags: &[String]) -> String {
    tags.join(TAG_SEP)
}

/// An article's content columns as stored (the same in `kb_articles` and `kb_revisions`).
struct Cols {
    slug: String,
    title: String,
    summary: String,
    body: String,
    tags: String,
    department: String,
    audience: String,
    language: String,
    status: String,
}

impl Cols {
    fn parse(self) -> StoreResult<ArticleContent> {
        let bad = |e: crate::domain::InvalidValue| StoreError::Query(format!("kb row: {e}"));
        Ok(ArticleContent {
            slug: self.slug,
            title: self.title,
            summary: self.summary,
            body: self.body,
            tags: self
                .tags
                .split(TAG_SEP)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            department: self.department,
            audience: Audience::parse(&self.audience).map_err(bad)?,
            language: Language::parse(&self.language).map_err(bad)?,
            status: ArticleStatus::parse(&self.status).map_err(bad)?,
        })
    }
}

/// Who changed an article, why and when (one revision row).
pub struct Change<'a> {
    pub author: Option<UserId>,
    /// create, edit, import, publish, archive, unpublish, restore.
    pub note: &'a str,
    pub now: NaiveDateTime,
}

impl Row {
    fn into_article(self, t: TenantId) -> StoreResult<Article> {
        Ok(Article {
            id: self.id,
            tenant: t,
            content: Cols {
                slug: self.slug,
                title: self.title,
                summary: self.summary,
                body: self.body,
                tags: self.tags,
                department: self.department,
                audience: self.audience,
                language: self.language,
                status: self.status,
            }
            .parse()?,
            revision: self.revision,
            views: self.views,
            uses: self.uses,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

fn rows(t: TenantId, rows: Vec<Row>) -> StoreResult<Vec<Article>> {
    rows.into_iter().map(|r| r.into_article(t)).collect()
}

pub fn by_slug(conn: &mut Conn, t: TenantId, slug: &str) -> StoreResult<Option<Article>> {
    scoped(t)
        .filter(kb_articles::slug.eq(slug))
        .select(Row::as_select())
        .first::<Row>(conn)
        .optional()?
        .map(|r| r.into_article(t))
        .transpose()
}

pub fn by_id(conn: &mut Conn, t: TenantId, id: i64) -> StoreResult<Option<Article>> {
    scoped(t)
        .filter(kb_articles::id.eq(id))
        .select(Row::as_select())
        .first::<Row>(conn)
        .optional()?
        .map(|r| r.into_article(t))
        .transpose()
}

/// Articles by id, in the order of `ids` (missing ones left out).
pub fn by_ids(conn: &mut Conn, t: TenantId, ids: &[i64]) -> StoreResult<Vec<Article>> {
    let mut out = rows(
        t,
        scoped(t)
            .filter(kb_articles::id.eq_any(ids.to_vec()))
            .select(Row::as_select())
            .load(conn)?,
    )?;
    out.sort_by_key(|a| ids.iter().position(|i| *i == a.id));
    Ok(out)
}

/// What the article list shows (no bodies).
#[derive(Debug, Clone, Queryable, serde::Serialize)]
pub struct Listed {
    pub id: i64,
    pub slug: String,
    pub title: String,
    pub department: String,
    pub audience: String,
    pub language: String,
    pub status: String,
    pub revision: i32,
    pub views: i64,
    pub uses: i64,
    pub updated_at: NaiveDateTime,
}

/// Every article of the tenant, optionally of one status, by title.
pub fn list(
    conn: &mut Conn,
    t: TenantId,
    status: Option<ArticleStatus>,
) -> StoreResult<Vec<Listed>> {
    let mut q = scoped(t)
        .select((
            kb_articles::id,
            kb_articles::slug,
            kb_articles::title,
            kb_articles::department,
            kb_articles::audience,
            kb_articles::language,
            kb_articles::status,
            kb_articles::revision,
            kb_articles::views,
            kb_articles::uses,
            kb_articles::updated_at,
        ))
        .order((kb_articles::title, kb_articles::id))
        .into_boxed();
    if let Some(s) = status {
        q = q.filter(kb_articles::status.eq(s.as_str()));
    }
    Ok(q.load(conn)?)
}

/// (id, revision) of every article of the tenant: what the search index compares itself with.
pub fn revisions_of_all(conn: &mut Conn, t: TenantId) -> StoreResult<Vec<(i64, i32)>> {
    Ok(scoped(t)
        .select((kb_articles::id, kb_articles::revision))
        .load(conn)?)
}

pub fn count(conn: &mut Conn, t: TenantId) -> StoreResult<i64> {
    Ok(scoped(t).count().get_result(conn)?)
}

fn insert_revision(
    conn: &mut Conn,
    t: TenantId,
    (article_id, revision): (i64, i32),
    c: &ArticleContent,
    change: &Change<'_>,
) -> StoreResult<()> {
    diesel::insert_into(kb_revisions::table)
        .values((
            kb_revisions::tenant_id.eq(t.get()),
            kb_revisions::article_id.eq(article_id),
            kb_revisions::revision.eq(revision),
            kb_revisions::slug.eq(&c.slug),
            kb_revisions::title.eq(&c.title),
            kb_revisions::summary.eq(&c.summary),
            kb_revisions::body.eq(&c.body),
            kb_revisions::tags.eq(join_tags(&c.tags)),
            kb_revisions::department.eq(&c.department),
            kb_revisions::audience.eq(c.audience.as_str()),
            kb_revisions::language.eq(c.language.as_str()),
            kb_revisions::status.eq(c.status.as_str()),
            kb_revisions::author_id.eq(change.author.map(|u| u.get())),
            kb_revisions::note.eq(change.note),
            kb_revisions::created_at.eq(change.now),
        ))
        .execute(conn)?;
    Ok(())
}

/// A new article at revision 1 (and its first revision row). A slug in use is a `Conflict`.
pub fn insert(
    conn: &mut Conn,
    t: TenantId,
    c: &ArticleContent,
    change: &Change<'_>,
) -> StoreResult<Article> {
    let now = change.now;
    let row: Row = diesel::insert_into(kb_articles::table)
        .values((
            kb_articles::tenant_id.eq(t.get()),
            kb_articles::slug.eq(&c.slug),
            kb_articles::title.eq(&c.title),
            kb_articles::summary.eq(&c.summary),
            kb_articles::body.eq(&c.body),
            kb_articles::tags.eq(join_tags(&c.tags)),
            kb_articles::department.eq(&c.department),
            kb_articles::audience.eq(c.audience.as_str()),
            kb_articles::language.eq(c.language.as_str()),
            kb_articles::status.eq(c.status.as_str()),
            kb_articles::revision.eq(1),
            kb_articles::views.eq(0_i64),
            kb_articles::uses.eq(0_i64),
            kb_articles::created_at.eq(now),
            kb_articles::updated_at.eq(now),
        ))
        .returning(<Row as Selectable<diesel::pg::Pg>>::construct_selection())
        .get_result(conn)?;
    insert_revision(conn, t, (row.id, 1), c, change)?;
    row.into_article(t)
}

/// Replace the content of the article that is at revision `expected` (the one the author
/// started from): it becomes revision `expected + 1`. When someone else saved in between, nothing
/// is written and the result is a `Conflict`.
pub fn update(
    conn: &mut Conn,
    t: TenantId,
    (id, expected): (i64, i32),
    c: &ArticleContent,
    change: &Change<'_>,
) -> StoreResult<Article> {
    let now = change.now;
    let n = diesel::update(
        scoped(t)
            .filter(kb_articles::id.eq(id))
            .filter(kb_articles::revision.eq(expected)),
    )
    .set((
        kb_articles::slug.eq(&c.slug),
        kb_articles::title.eq(&c.title),
        kb_articles::summary.eq(&c.summary),
        kb_articles::body.eq(&c.body),
        kb_articles::tags.eq(join_tags(&c.tags)),
        kb_articles::department.eq(&c.department),
        kb_articles::audience.eq(c.audience.as_str()),
        kb_articles::language.eq(c.language.as_str()),
        kb_articles::status.eq(c.status.as_str()),
        kb_articles::revision.eq(expected + 1),
        kb_articles::updated_at.eq(now),
    ))
    .execute(conn)?;
    if n == 0 {
        return Err(match by_id(conn, t, id)? {
            Some(_) => StoreError::Changed,
            None => StoreError::NotFound,
        });
    }
    insert_revision(conn, t, (id, expected + 1), c, change)?;
    by_id(conn, t, id)?.ok_or(StoreError::NotFound)
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Revision {
    pub revision: i32,
    pub content: ArticleContent,
    pub author_id: Option<i64>,
    pub note: String,
    pub created_at: NaiveDateTime,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = kb_revisions)]
struct RevisionRow {
    revision: i32,
    slug: String,
    title: String,
    summary: String,
    body: String,
    tags: String,
    department: String,
    audience: String,
    language: String,
    status: String,
    author_id: Option<i64>,
    note: String,
    created_at: NaiveDateTime,
}

impl RevisionRow {
    fn parse(self) -> StoreResult<Revision> {
        Ok(Revision {
            revision: self.revision,
            content: Cols {
                slug: self.slug,
                title: self.title,
                summary: self.summary,
                body: self.body,
                tags: self.tags,
                department: self.department,
                audience: self.audience,
                language: self.language,
                status: self.status,
            }
            .parse()?,
            author_id: self.author_id,
            note: self.note,
            created_at: self.created_at,
        })
    }
}

/// Every revision of an article of the tenant, newest first.
pub fn revisions(conn: &mut Conn, t: TenantId, article: i64) -> StoreResult<Vec<Revision>> {
    let rows: Vec<RevisionRow> = kb_revisions::table
        .filter(kb_revisions::tenant_id.eq(t.get()))
        .filter(kb_revisions::article_id.eq(article))
        .order(kb_revisions::revision.desc())
        .select(RevisionRow::as_select())
        .load(conn)?;
    rows.into_iter().map(RevisionRow::parse).collect()
}

pub fn revision(
    conn: &mut Conn,
    t: TenantId,
    article: i64,
    number: i32,
) -> StoreResult<Option<Revision>> {
    kb_revisions::table
        .filter(kb_revisions::tenant_id.eq(t.get()))
        .filter(kb_revisions::article_id.eq(article))
        .filter(kb_revisions::revision.eq(number))
        .select(RevisionRow::as_select())
        .first::<RevisionRow>(conn)
        .optional()?
        .map(RevisionRow::parse)
        .transpose()
}

/// Count one reading of a public article.
pub fn count_view(conn: &mut Conn, t: TenantId, id: i64) -> StoreResult<()> {
    diesel::update(scoped(t).filter(kb_articles::id.eq(id)))
        .set(kb_articles::views.eq(kb_articles::views + 1))
        .execute(conn)?;
    Ok(())
}

/// Record that `ticket` was answered with `article` (once per pair; the article's use counter
/// goes up the first time). Returns whether this was the first time.
pub fn record_use(
    conn: &mut Conn,
    t: TenantId,
    ticket: TicketId,
    article: i64,
    user: Option<UserId>,
    now: NaiveDateTime,
) -> StoreResult<bool> {
    let seen: i64 = kb_uses::table
        .filter(kb_uses::tenant_id.eq(t.get()))
        .filter(kb_uses::ticket_id.eq(ticket.get()))
        .filter(kb_uses::article_id.eq(article))
        .count()
        .get_result(conn)?;
    if seen > 0 {
        return Ok(false);
    }
    diesel::insert_into(kb_uses::table)
        .values((
            kb_uses::tenant_id.eq(t.get()),
            kb_uses::ticket_id.eq(ticket.get()),
            kb_uses::article_id.eq(article),
            kb_uses::user_id.eq(user.map(|u| u.get())),
            kb_uses::created_at.eq(now),
        ))
        .execute(conn)?;
    diesel::update(scoped(t).filter(kb_articles::id.eq(article)))
        .set(kb_articles::uses.eq(kb_articles::uses + 1))
        .execute(conn)?;
    Ok(true)
}

/// The articles a ticket was answered with: (id, slug, title).
pub fn used_on(
    conn: &mut Conn,
    t: TenantId,
    ticket: TicketId,
) -> StoreResult<Vec<(i64, String, String)>> {
    Ok(kb_uses::table
        .inner_join(kb_articles::table)
        .filter(kb_uses::tenant_id.eq(t.get()))
        .filter(kb_uses::ticket_id.eq(ticket.get()))
        .order(kb_uses::created_at)
        .select((kb_articles::id, kb_articles::slug, kb_articles::title))
        .load(conn)?)
}

/// Per queue, tickets created in `[from, to)` that got an answer (an outbound message), and how
/// many of those were answered with an article: (queue, answered, from the knowledge base).
pub fn answered_share(
    conn: &mut Conn,
    t: TenantId,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> StoreResult<Vec<(QueueId, i64, i64)>> {
    let answered: Vec<(i64, i64)> = tickets::table
        .filter(tickets::tenant_id.eq(t.get()))
        .filter(tickets::created_at.ge(from))
        .filter(tickets::created_at.lt(to))
        .filter(dsl::exists(
            messages::table
                .filter(messages::tenant_id.eq(t.get()))
                .filter(messages::ticket_id.eq(tickets::id))
                .filter(messages::kind.eq("outbound")),
        ))
        .group_by(tickets::queue_id)
        .select((tickets::queue_id, dsl::count_star()))
        .load(conn)?;
    let from_kb: Vec<(i64, i64)> = tickets::table
        .filter(tickets::tenant_id.eq(t.get()))
        .filter(tickets::created_at.ge(from))
        .filter(tickets::created_at.lt(to))
        .filter(dsl::exists(
            kb_uses::table
                .filter(kb_uses::tenant_id.eq(t.get()))
                .filter(kb_uses::ticket_id.eq(tickets::id)),
        ))
        .group_by(tickets::queue_id)
        .select((tickets::queue_id, dsl::count_star()))
        .load(conn)?;
    Ok(answered
        .into_iter()
        .map(|(q, n)| {
            let k = from_kb
                .iter()
                .find(|(fq, _)| *fq == q)
                .map_or(0, |(_, k)| *k);
            (QueueId::from_db(q), n, k.min(n))
        })
        .collect())
}
