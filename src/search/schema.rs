//! The ticket index schema: built by one function, field handles resolved once into [`Fields`].
//!
//! Change the schema or the analyzer → bump [`SCHEMA_VERSION`]; the indexer then rebuilds the index
//! from the database at start (a changed schema also replaces the index directory).

use tantivy::schema::{
    FAST, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};

use super::analyzer::SWEDISH;

/// Version of the documents' shape and analysis, kept in the commit payload (2: the Swedish
/// suffix filter).
pub const SCHEMA_VERSION: u32 = 2;

/// Stored body text per ticket (for snippets) is cut at this many bytes.
pub const MAX_STORED_BODY: usize = 20_000;
/// Indexed text (`all`) per ticket is cut at this many bytes.
pub const MAX_INDEXED_BODY: usize = 200_000;

/// Every field of the ticket index.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    /// Internal ticket id (unique across tenants): the upsert key.
    pub ticket_id: tantivy::schema::Field,
    pub tenant_id: tantivy::schema::Field,
    pub queue_id: tantivy::schema::Field,
    /// The status as a small number ([`status_code`]), for filtering in queries and collectors.
    pub status: tantivy::schema::Field,
    /// Seconds since the epoch (UTC), for sorting by age later.
    pub created_at: tantivy::schema::Field,
    /// The ticket number as written, e.g. `KC-2026-000123` (raw string, exact match).
    pub number: tantivy::schema::Field,
    pub subject: tantivy::schema::Field,
    /// Subject, contact and all message bodies (inbound, outbound, notes) in one field — indexed,
    /// not stored. Multi-word searches find their candidates here (a pure intersection of term
    /// queries, which tantivy prunes with Block-WAND), then rank them with the per-field boosts.
    pub all: tantivy::schema::Field,
    /// The first [`MAX_STORED_BODY`] bytes of the message bodies, stored for snippets, not
    /// indexed.
    pub body_preview: tantivy::schema::Field,
    /// Contact name and e-mail address.
    pub contact: tantivy::schema::Field,
}

fn swedish_text(stored: bool) -> TextOptions {
    let opts = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(SWEDISH)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    if stored { opts.set_stored() } else { opts }
}

/// Build the schema and resolve its field handles.
pub fn build() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let fields = Fields {
        ticket_id: b.add_u64_field("ticket_id", INDEXED | FAST | STORED),
        tenant_id: b.add_u64_field("tenant_id", INDEXED | FAST),
        queue_id: b.add_u64_field("queue_id", INDEXED | FAST),
        status: b.add_u64_field("status", INDEXED | FAST),
        created_at: b.add_i64_field("created_at", FAST),
        number: b.add_text_field("number", STRING),
        subject: b.add_text_field("subject", swedish_text(true)),
        all: b.add_text_field("all", swedish_text(false)),
        body_preview: b.add_text_field("body_preview", STORED),
        contact: b.add_text_field("contact", swedish_text(true)),
    };
    (b.build(), fields)
}

/// The number a status is indexed as. Fixed per name (not the enum's order), so reordering the
/// vocabulary does not need a rebuild; unknown names are 0.
pub fn status_code(status: &str) -> u64 {
    match status {
        "new" => 1,
        "open" => 2,
        "waiting" => 3,
        "resolved" => 4,
        "closed" => 5,
        _ => 0,
    }
}

/// Ids are positive database identities; the index keeps them as u64.
pub fn id_u64(id: i64) -> u64 {
    u64::try_from(id).unwrap_or(0)
}

/// Cut `s` to at most `max` bytes at a character boundary.
pub fn truncate_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_is_stable_between_builds() {
        assert_eq!(build().0, build().0);
    }

    #[test]
    fn every_status_has_its_own_code() {
        let mut codes: Vec<u64> = crate::domain::Status::ALL
            .iter()
            .map(|s| status_code(s.as_str()))
            .collect();
        assert!(codes.iter().all(|c| *c > 0));
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), crate::domain::Status::ALL.len());
    }

    #[test]
    fn truncates_at_char_boundaries() {
        assert_eq!(truncate_bytes("åäö", 3), "å");
        assert_eq!(truncate_bytes("åäö", 4), "åä");
        assert_eq!(truncate_bytes("abc", 10), "abc");
    }
}
