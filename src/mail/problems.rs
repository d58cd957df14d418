//! What could not be read or shown of an incoming mail, kept on the message (decision D42): a row
//! per problem in `message_problems` (the agent sees a notice next to the message and a link to
//! the original .eml) and one history event `mail_problems` naming them.

use chrono::NaiveDateTime;
use serde_json::json;

use super::parse::Problem;
use crate::domain::{TenantId, TicketId};
pub use crate::store::mail_problems::ProblemRow;
use crate::store::{self, Conn};

/// Store `problems` of message `message` (part of `ticket`) and note them in the history. Call in
/// intake's transaction, after the message is inserted.
pub fn record(
    c: &mut Conn,
    t: TenantId,
    ticket: TicketId,
    message: i64,
    problems: &[Problem],
    now: NaiveDateTime,
) -> crate::error::Result<()> {
    let mut noted = vec![];
    for p in problems {
        let Some(kind) = p.kind() else { continue };
        let (filename, size, detail): (Option<&str>, Option<i64>, Option<&str>) = match p {
            Problem::Oversize { filename, size, .. } => {
                (Some(filename.as_str()), Some(*size as i64), None)
            }
            Problem::Truncated { part } | Problem::BadBase64 { part } => {
                (Some(part.as_str()).filter(|s| !s.is_empty()), None, None)
            }
            Problem::Charset { charset, part, .. } => (
                Some(part.as_str()).filter(|s| !s.is_empty()),
                None,
                Some(charset.as_str()),
            ),
            Problem::Unreadable | Problem::NoSender => (None, None, None),
        };
        store::mail_problems::insert(
            c,
            t,
            message,
            store::mail_problems::NewProblem {
                kind,
                filename,
                size_bytes: size,
                detail,
            },
            now,
        )?;
        noted.push(
            json!({ "kind": kind, "filename": filename, "size_bytes": size, "detail": detail }),
        );
    }
    if !noted.is_empty() {
        store::tickets::insert_event(
            c,
            t,
            ticket,
            None,
            "mail_problems",
            &json!({ "message": message, "problems": noted }),
            now,
        )?;
    }
    Ok(())
}
