//! A knowledge-base article's content as its author decided it (built by `kb::article`).

use serde::Serialize;

use super::{ArticleStatus, Audience, Language};

/// Everything an author decides about an article, validated: one revision's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArticleContent {
    pub slug: String,
    pub title: String,
    pub summary: String,
    /// Markdown.
    pub body: String,
    pub tags: Vec<String>,
    /// The owning department, as a slug (e.g. `va`, `bygglov`).
    pub department: String,
    pub audience: Audience,
    pub language: Language,
    pub status: ArticleStatus,
}
