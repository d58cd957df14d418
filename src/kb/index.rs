//! The knowledge-base index: one tantivy index per node under `<data_dir>/kb-index`, derived from
//! the database.
//!
//! Every article document carries its revision. [`KbIndex::sync`] compares (id, revision) of
//! every article in the database with what the index holds and re-reads only what differs, so it
//! is cheap to run often: at start (which also fills a missing index), right after every change
//! on this node, and every few seconds for changes made on other nodes. A crash between a
//! database commit and the index update loses nothing: the next sync sees the newer revision.
//! Knowledge bases are small (thousands of articles): the comparison reads two numbers per
//! article.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use tantivy::directory::MmapDirectory;
use tantivy::schema::{
    FAST, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyDocument, Term};

use super::article::render_text;
use crate::domain::TenantId;
use crate::error::{Error, Result};
use crate::search::analyzer::{self, SWEDISH};
use crate::search::index::{open_existing, wipe};
use crate::store::kb::Article;

/// Version of the documents' shape and analysis, kept in the commit payload; a change rebuilds.
pub const SCHEMA_VERSION: u32 = 1;

/// Every field of the knowledge-base index.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    pub article_id: tantivy::schema::Field,
    pub tenant_id: tantivy::schema::Field,
    pub revision: tantivy::schema::Field,
    pub slug: tantivy::schema::Field,
    /// Raw `public`/`internal`, `sv`/`en`, `draft`/`published`/`archived`, department slug.
    pub audience: tantivy::schema::Field,
    pub language: tantivy::schema::Field,
    pub status: tantivy::schema::Field,
    pub department: tantivy::schema::Field,
    pub title: tantivy::schema::Field,
    pub tags: tantivy::schema::Field,
    pub summary: tantivy::schema::Field,
    /// The body as plain text (Markdown removed), indexed.
    pub body: tantivy::schema::Field,
    /// Its first [`PREVIEW_BYTES`], stored for snippets (short, so a snippet is quick to find).
    pub body_preview: tantivy::schema::Field,
}

/// How much of an article's text its snippets are taken from.
pub const PREVIEW_BYTES: usize = 3_000;

impl Fields {
    /// The text fields with their boosts: title over tags over summary over body.
    pub fn boosted(&self) -> [(tantivy::schema::Field, f32); 4] {
        [
            (self.title, 4.0),
            (self.tags, 2.5),
            (self.summary, 1.5),
            (self.body, 1.0),
        ]
    }
}

fn swedish_text(stored: bool) -> TextOptions {
    let opts = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(SWEDISH)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    if stored { opts.set_stored() } else { opts }
}

pub fn build_schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let fields = Fields {
        article_id: b.add_u64_field("article_id", INDEXED | FAST | STORED),
        tenant_id: b.add_u64_field("tenant_id", INDEXED | FAST | STORED),
        revision: b.add_u64_field("revision", STORED),
        slug: b.add_text_field("slug", STRING | STORED),
        audience: b.add_text_field("audience", STRING),
        language: b.add_text_field("language", STRING),
        status: b.add_text_field("status", STRING),
        department: b.add_text_field("department", STRING),
        title: b.add_text_field("title", swedish_text(true)),
        tags: b.add_text_field("tags", swedish_text(false)),
        summary: b.add_text_field("summary", swedish_text(true)),
        body: b.add_text_field("body", swedish_text(false)),
        body_preview: b.add_text_field("body_preview", STORED),
    };
    (b.build(), fields)
}

/// The version an index's last commit was written with (`None`: never committed, or unreadable).
fn committed_version(index: &Index) -> Option<u32> {
    index.load_metas().ok()?.payload?.parse().ok()
}

fn internal(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("knowledge-base index: {what}: {e}"))
}

struct Inner {
    fields: Fields,
    reader: IndexReader,
    writer: Mutex<IndexWriter<TantivyDocument>>,
    /// What the last commit holds: (tenant, article id) → revision. Guarded with the writer's
    /// work: only `sync` changes it.
    held: Mutex<HashMap<(i64, i64), i32>>,
    dir: Option<PathBuf>,
}

/// The index. Cheap to clone; clones share the writer and the reader.
#[derive(Clone)]
pub struct KbIndex {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for KbIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KbIndex")
            .field("dir", &self.inner.dir)
            .finish()
    }
}

/// What one sync did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub added_or_changed: usize,
    pub removed: usize,
}

impl KbIndex {
    /// Open (or create) the index in `dir`. An index of another schema or version is replaced by
    /// an empty one, which the first sync fills.
    pub fn open(dir: &Path) -> Result<KbIndex> {
        let (schema, fields) = build_schema();
        std::fs::create_dir_all(dir).map_err(|e| internal(&dir.display().to_string(), e))?;
        let index = match open_existing(dir, &schema)? {
            Some(index) if committed_version(&index) != Some(SCHEMA_VERSION) => {
                tracing::warn!(dir = %dir.display(), "the knowledge-base index is of another version; it is rebuilt");
                drop(index);
                wipe(dir)?;
                let mmap = MmapDirectory::open(dir).map_err(|e| internal("open directory", e))?;
                Index::create(mmap, schema, Default::default())
                    .map_err(|e| internal("create", e))?
            }
            Some(index) => index,
            None => {
                let mmap = MmapDirectory::open(dir).map_err(|e| internal("open directory", e))?;
                Index::create(mmap, schema, Default::default())
                    .map_err(|e| internal("create", e))?
            }
        };
        Self::from_index(index, fields, Some(dir.to_path_buf()))
    }

    /// An empty index in memory (tests, benchmarks).
    pub fn open_in_ram() -> Result<KbIndex> {
        let (schema, fields) = build_schema();
        Self::from_index(Index::create_in_ram(schema), fields, None)
    }

    fn from_index(index: Index, fields: Fields, dir: Option<PathBuf>) -> Result<KbIndex> {
        analyzer::register(&index);
        let writer = index
            .writer_with_num_threads(1, 30_000_000)
            .map_err(|e| match e {
                tantivy::TantivyError::LockFailure(..) => Error::Internal(format!(
                    "knowledge-base index: {} is in use by another Ärendo process",
                    dir.as_deref().unwrap_or(Path::new("(memory)")).display()
                )),
                other => internal("open writer", other),
            })?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(|e| internal("open reader", e))?;
        let kb = KbIndex {
            inner: Arc::new(Inner {
                fields,
                reader,
                writer: Mutex::new(writer),
                held: Mutex::new(HashMap::new()),
                dir,
            }),
        };
        let held = kb.read_held()?;
        *kb.held() = held;
        Ok(kb)
    }

    pub fn fields(&self) -> &Fields {
        &self.inner.fields
    }

    pub fn searcher(&self) -> Searcher {
        self.inner.reader.searcher()
    }

    pub fn num_docs(&self) -> u64 {
        self.searcher().num_docs()
    }

    fn held(&self) -> MutexGuard<'_, HashMap<(i64, i64), i32>> {
        self.inner.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// (tenant, id) → revision of every document in the last commit.
    fn read_held(&self) -> Result<HashMap<(i64, i64), i32>> {
        let f = self.inner.fields;
        let searcher = self.searcher();
        let mut out = HashMap::new();
        for seg in searcher.segment_readers() {
            let store = seg
                .get_store_reader(0)
                .map_err(|e| internal("read documents", e))?;
            for doc in seg.doc_ids_alive() {
                let d: TantivyDocument = store.get(doc).map_err(|e| internal("read", e))?;
                let num = |field| d.get_first(field).and_then(|v| v.as_u64()).unwrap_or(0) as i64;
                out.insert(
                    (num(f.tenant_id), num(f.article_id)),
                    num(f.revision) as i32,
                );
            }
        }
        Ok(out)
    }

    /// The articles of `tenant` whose revision in the index differs from `current` (id →
    /// revision, from the database), and those the index holds that are gone from it.
    pub fn diff(&self, tenant: TenantId, current: &[(i64, i32)]) -> (Vec<i64>, Vec<i64>) {
        let held = self.held();
        let t = tenant.get();
        let stale: Vec<i64> = current
            .iter()
            .filter(|(id, rev)| held.get(&(t, *id)) != Some(rev))
            .map(|(id, _)| *id)
            .collect();
        let gone: Vec<i64> = held
            .keys()
            .filter(|(ht, id)| *ht == t && !current.iter().any(|(c, _)| c == id))
            .map(|(_, id)| *id)
            .collect();
        (stale, gone)
    }

    /// Tenants the index holds documents of.
    pub fn tenants_held(&self) -> Vec<i64> {
        let mut ts: Vec<i64> = self.held().keys().map(|(t, _)| *t).collect();
        ts.sort_unstable();
        ts.dedup();
        ts
    }

    /// Replace the documents of `tenant`'s articles `docs` and remove `gone`, then commit and
    /// make it visible before returning.
    pub fn apply(&self, tenant: TenantId, docs: &[Article], gone: &[i64]) -> Result<SyncReport> {
        if docs.is_empty() && gone.is_empty() {
            return Ok(SyncReport::default());
        }
        let f = self.inner.fields;
        let mut w = self.inner.writer.lock().unwrap_or_else(|p| p.into_inner());
        for id in gone.iter().chain(docs.iter().map(|a| &a.id)) {
            w.delete_term(Term::from_field_u64(f.article_id, *id as u64));
        }
        for a in docs {
            w.add_document(self.document(a))
                .map_err(|e| internal("add document", e))?;
        }
        let mut prepared = w.prepare_commit().map_err(|e| internal("prepare", e))?;
        prepared.set_payload(&SCHEMA_VERSION.to_string());
        if let Err(e) = prepared.commit() {
            let _ = w.rollback();
            return Err(internal("commit", e));
        }
        drop(w);
        self.inner
            .reader
            .reload()
            .map_err(|e| internal("reload reader", e))?;
        let mut held = self.held();
        for id in gone {
            held.remove(&(tenant.get(), *id));
        }
        for a in docs {
            held.insert((tenant.get(), a.id), a.revision);
        }
        Ok(SyncReport {
            added_or_changed: docs.len(),
            removed: gone.len(),
        })
    }

    /// Remove every document (committed at once): the start of a rebuild.
    pub fn clear(&self) -> Result<()> {
        let mut w = self.inner.writer.lock().unwrap_or_else(|p| p.into_inner());
        w.rollback().map_err(|e| internal("rollback", e))?;
        w.delete_all_documents()
            .map_err(|e| internal("delete all", e))?;
        let mut prepared = w.prepare_commit().map_err(|e| internal("prepare", e))?;
        prepared.set_payload(&SCHEMA_VERSION.to_string());
        prepared.commit().map_err(|e| internal("commit", e))?;
        drop(w);
        self.inner
            .reader
            .reload()
            .map_err(|e| internal("reload reader", e))?;
        self.held().clear();
        Ok(())
    }

    fn document(&self, a: &Article) -> TantivyDocument {
        let f = &self.inner.fields;
        let c = &a.content;
        let mut doc = TantivyDocument::default();
        doc.add_u64(f.article_id, a.id as u64);
        doc.add_u64(f.tenant_id, a.tenant.get() as u64);
        doc.add_u64(f.revision, a.revision as u64);
        doc.add_text(f.slug, &c.slug);
        doc.add_text(f.audience, c.audience.as_str());
        doc.add_text(f.language, c.language.as_str());
        doc.add_text(f.status, c.status.as_str());
        doc.add_text(f.department, &c.department);
        doc.add_text(f.title, &c.title);
        for t in &c.tags {
            doc.add_text(f.tags, t);
        }
        doc.add_text(f.summary, &c.summary);
        let text = render_text(&c.body);
        doc.add_text(
            f.body_preview,
            crate::search::schema::truncate_bytes(&text, PREVIEW_BYTES),
        );
        doc.add_text(f.body, text);
        doc
    }
}
