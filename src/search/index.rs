//! The ticket index on disk (or in memory for tests): one writer behind a lock, one reader that
//! reloads on commit, and the indexer's position kept in the commit payload so that a restart
//! resumes exactly where the last commit left off.
//!
//! Everything here blocks (tantivy does file I/O and uses its own threads); async callers run it in
//! `tokio::task::spawn_blocking`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use tantivy::directory::MmapDirectory;
use tantivy::schema::Schema;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyDocument, Term};

use super::analyzer;
use super::schema::{self, Fields, MAX_INDEXED_BODY, MAX_STORED_BODY, SCHEMA_VERSION, id_u64};
use crate::error::{Error, Result};
use crate::store::search::SearchDoc;

/// Writer heap for an index on disk: split over [`WRITER_THREADS`] indexing threads.
pub const WRITER_HEAP_BYTES: usize = 160_000_000;
pub const WRITER_THREADS: usize = 2;

/// Where the indexer stands, saved with every commit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedState {
    /// [`SCHEMA_VERSION`] of the documents committed with this state.
    pub version: u32,
    /// Per tenant: the highest change-feed id applied.
    pub cursors: BTreeMap<i64, i64>,
    /// Per tenant: feed ids below the cursor that had not committed yet when the cursor passed
    /// them (PostgreSQL identities commit out of order); asked for again for a while.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pending: BTreeMap<i64, Vec<i64>>,
}

impl FeedState {
    pub fn new() -> FeedState {
        FeedState {
            version: SCHEMA_VERSION,
            ..FeedState::default()
        }
    }
}

pub(crate) fn internal(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("search index: {what}: {e}"))
}

struct Inner {
    index: Index,
    fields: Fields,
    reader: IndexReader,
    writer: Mutex<IndexWriter<TantivyDocument>>,
    /// Serialises feed rounds and full rebuilds (they share the writer's uncommitted batch).
    feed: tokio::sync::Mutex<()>,
    dir: Option<PathBuf>,
}

/// The ticket index. Cheap to clone; all clones share one writer and one reader.
#[derive(Clone)]
pub struct TicketIndex {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for TicketIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TicketIndex")
            .field("dir", &self.inner.dir)
            .finish()
    }
}

impl TicketIndex {
    /// Open the index in `dir`, creating it (and the directory) if needed. The directory belongs to
    /// the index: when it holds an index with another schema or one that cannot be read, it is
    /// emptied and a new index is created (the indexer then rebuilds it from the database).
    pub fn open(dir: &Path) -> Result<TicketIndex> {
        let (schema, fields) = schema::build();
        std::fs::create_dir_all(dir).map_err(|e| internal(&dir.display().to_string(), e))?;
        let index = match open_existing(dir, &schema)? {
            Some(index) => index,
            None => {
                let mmap = MmapDirectory::open(dir).map_err(|e| internal("open directory", e))?;
                Index::create(mmap, schema, Default::default())
                    .map_err(|e| internal("create", e))?
            }
        };
        Self::from_index(
            index,
            fields,
            WRITER_THREADS,
            WRITER_HEAP_BYTES,
            Some(dir.to_path_buf()),
        )
    }

    /// A fresh index in memory (tests, benchmarks).
    pub fn open_in_ram() -> Result<TicketIndex> {
        let (schema, fields) = schema::build();
        let index = Index::create_in_ram(schema);
        Self::from_index(index, fields, 1, 50_000_000, None)
    }

    fn from_index(
        index: Index,
        fields: Fields,
        threads: usize,
        heap: usize,
        dir: Option<PathBuf>,
    ) -> Result<TicketIndex> {
        analyzer::register(&index);
        let writer = index
            .writer_with_num_threads(threads, heap)
            .map_err(|e| match e {
                tantivy::TantivyError::LockFailure(..) => Error::Internal(format!(
                    "search index: {} is in use by another Ärendo process",
                    dir.as_deref().unwrap_or(Path::new("(memory)")).display()
                )),
                other => internal("open writer", other),
            })?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::OnCommitWithDelay)
            .try_into()
            .map_err(|e| internal("open reader", e))?;
        Ok(TicketIndex {
            inner: Arc::new(Inner {
                index,
                fields,
                reader,
                writer: Mutex::new(writer),
                feed: tokio::sync::Mutex::new(()),
                dir,
            }),
        })
    }

    pub fn fields(&self) -> &Fields {
        &self.inner.fields
    }

    pub fn index(&self) -> &Index {
        &self.inner.index
    }

    /// A searcher on the last commit.
    pub fn searcher(&self) -> Searcher {
        self.inner.reader.searcher()
    }

    /// Documents in the last commit.
    pub fn num_docs(&self) -> u64 {
        self.searcher().num_docs()
    }

    /// The feed state of the last commit; `None` when there is none or it was written for another
    /// schema version — then the index must be rebuilt.
    pub fn feed_state(&self) -> Result<Option<FeedState>> {
        let metas = self
            .inner
            .index
            .load_metas()
            .map_err(|e| internal("read meta.json", e))?;
        Ok(metas
            .payload
            .as_deref()
            .and_then(|p| serde_json::from_str::<FeedState>(p).ok())
            .filter(|s| s.version == SCHEMA_VERSION))
    }

    pub(crate) async fn lock_feed(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.inner.feed.lock().await
    }

    fn writer(&self) -> MutexGuard<'_, IndexWriter<TantivyDocument>> {
        // A panic while holding the writer leaves nothing half-done that a commit would publish
        // wrongly (uncommitted work is rolled back by `begin_rebuild` or overwritten by upserts).
        self.inner.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Replace the documents of the given tickets (not visible before [`TicketIndex::commit`]):
    /// every id in `ids` is deleted, every doc in `docs` added. Ids without a doc are thereby
    /// removed from the index.
    pub fn upsert(&self, ids: &[i64], docs: &[SearchDoc]) -> Result<()> {
        let w = self.writer();
        let f = &self.inner.fields;
        for id in ids.iter().chain(docs.iter().map(|d| &d.ticket_id)) {
            w.delete_term(Term::from_field_u64(f.ticket_id, id_u64(*id)));
        }
        for d in docs {
            w.add_document(self.document(d))
                .map_err(|e| internal("add document", e))?;
        }
        Ok(())
    }

    /// Add documents without deleting first (only right after [`TicketIndex::begin_rebuild`]).
    pub(crate) fn add_fresh(&self, docs: &[SearchDoc]) -> Result<()> {
        let w = self.writer();
        for d in docs {
            w.add_document(self.document(d))
                .map_err(|e| internal("add document", e))?;
        }
        Ok(())
    }

    fn document(&self, d: &SearchDoc) -> TantivyDocument {
        let f = &self.inner.fields;
        let mut doc = TantivyDocument::default();
        doc.add_u64(f.ticket_id, id_u64(d.ticket_id));
        doc.add_u64(f.tenant_id, id_u64(d.tenant.get()));
        doc.add_u64(f.queue_id, id_u64(d.queue_id));
        doc.add_u64(f.status, schema::status_code(&d.status));
        doc.add_i64(f.created_at, d.created_at.and_utc().timestamp());
        doc.add_text(f.number, &d.number);
        doc.add_text(f.subject, &d.subject);
        let all = format!("{}\n{}\n{}", d.subject, d.contact, d.body);
        let all = schema::truncate_bytes(&all, MAX_INDEXED_BODY);
        doc.add_text(f.all, all);
        doc.add_text(
            f.body_preview,
            schema::truncate_bytes(&d.body, MAX_STORED_BODY),
        );
        doc.add_text(f.contact, &d.contact);
        doc
    }

    /// Throw away uncommitted work and every document, to fill the index again from scratch.
    /// Searches keep seeing the last commit until the next [`TicketIndex::commit`].
    pub(crate) fn begin_rebuild(&self) -> Result<()> {
        let mut w = self.writer();
        w.rollback().map_err(|e| internal("rollback", e))?;
        w.delete_all_documents()
            .map_err(|e| internal("delete all", e))?;
        Ok(())
    }

    /// Throw away uncommitted work (after a failed round).
    pub(crate) fn rollback(&self) -> Result<()> {
        self.writer()
            .rollback()
            .map_err(|e| internal("rollback", e))?;
        Ok(())
    }

    /// Commit everything upserted since the last commit together with `state`, and make it
    /// visible to searches before returning.
    pub fn commit(&self, state: &FeedState) -> Result<()> {
        let payload = serde_json::to_string(state).map_err(|e| internal("payload", e))?;
        {
            let mut w = self.writer();
            let mut prepared = w.prepare_commit().map_err(|e| internal("prepare", e))?;
            prepared.set_payload(&payload);
            prepared.commit().map_err(|e| internal("commit", e))?;
        }
        self.inner
            .reader
            .reload()
            .map_err(|e| internal("reload reader", e))?;
        Ok(())
    }
}

/// Open the index in `dir` if there is one with our schema. An index with another schema, or one
/// that cannot be opened, is removed (the database is the source of truth).
pub(crate) fn open_existing(dir: &Path, schema: &Schema) -> Result<Option<Index>> {
    let mmap = MmapDirectory::open(dir).map_err(|e| internal("open directory", e))?;
    if !Index::exists(&mmap).map_err(|e| internal("read directory", e))? {
        return Ok(None);
    }
    match Index::open(mmap) {
        Ok(index) if index.schema() == *schema => return Ok(Some(index)),
        Ok(_) => tracing::warn!(
            dir = %dir.display(),
            "the search index has an older schema; it is replaced and rebuilt"
        ),
        Err(e) => tracing::warn!(
            dir = %dir.display(),
            error = %e,
            "the search index cannot be opened; it is replaced and rebuilt"
        ),
    }
    wipe(dir)?;
    Ok(None)
}

/// Remove the files of an index from its directory (the directory itself stays).
pub(crate) fn wipe(dir: &Path) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| internal("list directory", e))?;
    for entry in entries {
        let entry = entry.map_err(|e| internal("list directory", e))?;
        let path = entry.path();
        let result = if entry.file_type().is_ok_and(|t| t.is_dir()) {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        result.map_err(|e| internal(&path.display().to_string(), e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TenantId;

    pub(crate) fn doc(tenant: i64, id: i64, subject: &str, body: &str) -> SearchDoc {
        SearchDoc {
            tenant: TenantId::from_db(tenant),
            ticket_id: id,
            queue_id: 1,
            number: format!("KC-2026-{id:06}"),
            status: "new".into(),
            created_at: chrono::NaiveDate::from_ymd_opt(2026, 1, 2)
                .unwrap()
                .and_hms_opt(3, 4, 5)
                .unwrap(),
            subject: subject.into(),
            body: body.into(),
            contact: String::new(),
        }
    }

    #[test]
    fn upsert_replaces_and_commit_keeps_the_feed_state() {
        let idx = TicketIndex::open_in_ram().unwrap();
        assert_eq!(idx.feed_state().unwrap(), None);
        idx.upsert(&[], &[doc(1, 1, "a", "b"), doc(1, 2, "c", "d")])
            .unwrap();
        let mut st = FeedState::new();
        st.cursors.insert(1, 42);
        idx.commit(&st).unwrap();
        assert_eq!(idx.num_docs(), 2);
        assert_eq!(idx.feed_state().unwrap(), Some(st.clone()));
        idx.upsert(&[1], &[doc(1, 1, "a2", "b2")]).unwrap();
        idx.upsert(&[2], &[]).unwrap();
        idx.commit(&st).unwrap();
        assert_eq!(idx.num_docs(), 1);
    }

    #[test]
    fn reopening_a_directory_resumes_and_a_foreign_schema_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("search");
        {
            let idx = TicketIndex::open(&path).unwrap();
            idx.upsert(&[], &[doc(1, 7, "hej", "då")]).unwrap();
            let mut st = FeedState::new();
            st.cursors.insert(1, 9);
            idx.commit(&st).unwrap();
        }
        {
            let idx = TicketIndex::open(&path).unwrap();
            assert_eq!(idx.num_docs(), 1);
            assert_eq!(idx.feed_state().unwrap().unwrap().cursors[&1], 9);
            // A second writer on the same directory is refused while the first is open.
            let err = TicketIndex::open(&path).unwrap_err();
            assert!(err.to_string().contains("in use"), "{err}");
        }
        {
            // Another schema in the directory: replaced by an empty index that needs a rebuild.
            let mut b = Schema::builder();
            b.add_text_field("other", tantivy::schema::TEXT);
            wipe(&path).unwrap();
            Index::create_in_dir(&path, b.build()).unwrap();
            let idx = TicketIndex::open(&path).unwrap();
            assert_eq!(idx.num_docs(), 0);
            assert_eq!(idx.feed_state().unwrap(), None);
        }
    }

    #[test]
    fn rebuild_drops_everything_not_added_again() {
        let idx = TicketIndex::open_in_ram().unwrap();
        idx.upsert(&[], &[doc(1, 1, "a", ""), doc(1, 2, "b", "")])
            .unwrap();
        idx.commit(&FeedState::new()).unwrap();
        // Uncommitted work before the rebuild is thrown away too.
        idx.upsert(&[], &[doc(1, 3, "c", "")]).unwrap();
        idx.begin_rebuild().unwrap();
        assert_eq!(idx.num_docs(), 2, "searches see the old commit meanwhile");
        idx.add_fresh(&[doc(1, 2, "b", "")]).unwrap();
        idx.commit(&FeedState::new()).unwrap();
        assert_eq!(idx.num_docs(), 1);
    }
}
