//! Finding a citizen among the municipality's contacts while an agent types ("Nytt ärende").

use serde::Serialize;

use crate::accounts::{Actor, Scope};
use crate::error::Result;
pub use crate::store::contacts::Contact;
use crate::store::{self, Db};

/// At most this many suggestions per search.
pub const MAX_SUGGESTIONS: i64 = 8;

/// A contact as the search offers it.
#[derive(Debug, Clone, Serialize)]
pub struct Suggestion {
    pub id: i64,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// Contacts of the actor's municipality whose name, e-mail or phone contains `q` (at least two
/// characters; fewer find nothing).
pub async fn find(db: &Db, actor: &Actor, q: &str) -> Result<Vec<Suggestion>> {
    actor.require(Scope::TicketsWrite)?;
    let q = q.trim().to_string();
    if q.chars().count() < 2 {
        return Ok(vec![]);
    }
    let t = actor.tenant;
    let found = db
        .read(move |c| store::contacts::search(c, t, &q, MAX_SUGGESTIONS))
        .await?;
    Ok(found
        .into_iter()
        .map(|c| Suggestion {
            id: c.id,
            name: c.name,
            email: c.email,
            phone: c.phone,
        })
        .collect())
}
