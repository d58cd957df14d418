//! The citizen's side: the signed link (`/survey/<token>`), the page behind it and the answer,
//! stored once.

use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::accounts::tokens::Signer;
use crate::domain::{InvalidValue, Reason, TenantId};
use crate::error::{Error, Result};
use crate::store::{self, Db};

const SURVEY_KIND: &str = "survey";

/// Longest comment.
pub const MAX_COMMENT_CHARS: usize = 2000;

/// A survey link's claims, kept short (the link also goes out by SMS).
#[derive(Debug, Serialize, Deserialize)]
struct SurveyClaims {
    /// Always "survey".
    k: String,
    /// Tenant id.
    t: i64,
    /// Survey id.
    i: i64,
    exp: i64,
}

pub(crate) const INVALID_LINK: &str = "the survey link is invalid or has expired";

/// The link to survey `id`, valid for `days`.
pub(crate) fn link(signer: &Signer, public_url: &str, t: TenantId, id: i64, days: i64) -> String {
    let token = signer.sign_claims(&SurveyClaims {
        k: SURVEY_KIND.into(),
        t: t.get(),
        i: id,
        exp: Utc::now().timestamp() + days.max(1) * 86_400,
    });
    format!("{}/survey/{token}", public_url.trim_end_matches('/'))
}

/// A tampered or expired link (or another kind of token) opens nothing.
fn verify(signer: &Signer, token: &str) -> Result<(TenantId, i64)> {
    let c: SurveyClaims = signer
        .verify_claims(token)
        .filter(|c: &SurveyClaims| c.k == SURVEY_KIND)
        .ok_or(Error::Forbidden(INVALID_LINK))?;
    Ok((TenantId::from_db(c.t), c.i))
}

/// What the survey page shows.
#[derive(Debug, Clone, Serialize)]
pub struct SurveyPage {
    pub tenant: String,
    /// The kind of matter the survey is about.
    pub matter: String,
    /// The contact's language (`sv`/`en`).
    pub language: String,
    /// Answered already: the page thanks instead of asking.
    pub answered: bool,
}

fn survey_of(c: &mut store::Conn, t: TenantId, id: i64) -> Result<store::survey::Survey> {
    store::survey::get(c, t, id)?
        .filter(|s| s.sent_at.is_some())
        .ok_or(Error::Forbidden(INVALID_LINK))
}

/// The page behind a link.
pub async fn open(db: &Db, signer: &Signer, token: &str) -> Result<SurveyPage> {
    let (t, id) = verify(signer, token)?;
    db.read(move |c| -> Result<SurveyPage> {
        let s = survey_of(c, t, id)?;
        let language = store::contacts::get(c, t, s.contact_id)?
            .map(|x| x.language)
            .unwrap_or_else(|| "sv".into());
        Ok(SurveyPage {
            tenant: store::tenants::get(c, t)?.name,
            matter: s.matter,
            language,
            answered: s.answered_at.is_some(),
        })
    })
    .await
}

/// The form as the citizen sent it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AnswerInput {
    #[serde(default)]
    pub bemotande: String,
    #[serde(default)]
    pub tydlighet: String,
    #[serde(default)]
    pub enkelhet: String,
    #[serde(default)]
    pub comment: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answered {
    Thanks,
    /// The survey had been answered before: this answer was not stored.
    Already,
}

fn score(field: &'static str, raw: &str) -> Result<i32> {
    match raw.trim().parse::<i32>() {
        Ok(n) if (1..=5).contains(&n) => Ok(n),
        _ => Err(InvalidValue::new(field, Reason::Choose).into()),
    }
}

fn parse(input: &AnswerInput) -> Result<(store::survey::Scores, Option<String>)> {
    let scores = store::survey::Scores {
        bemotande: score("bemotande", &input.bemotande)?,
        tydlighet: score("tydlighet", &input.tydlighet)?,
        enkelhet: score("enkelhet", &input.enkelhet)?,
    };
    let comment = input.comment.trim().replace("\r\n", "\n");
    if comment.chars().count() > MAX_COMMENT_CHARS {
        return Err(InvalidValue::new(
            "comment",
            Reason::TooLong {
                max: MAX_COMMENT_CHARS,
            },
        )
        .into());
    }
    Ok((scores, (!comment.is_empty()).then_some(comment)))
}

/// The citizen answers: stored once, with a history event on the ticket; a second answer is
/// refused (`Answered::Already`) and changes nothing.
pub async fn answer(
    db: &Db,
    signer: &Signer,
    token: &str,
    input: &AnswerInput,
) -> Result<Answered> {
    let (t, id) = verify(signer, token)?;
    let (scores, comment) = parse(input)?;
    db.write(move |c| -> Result<Answered> {
        let s = survey_of(c, t, id)?;
        let now = store::now();
        if !store::survey::answer(c, t, id, scores, comment.as_deref(), now)? {
            return Ok(Answered::Already);
        }
        store::tickets::insert_event(
            c,
            t,
            crate::domain::TicketId::from_db(s.ticket_id),
            None,
            "survey_answered",
            &serde_json::json!({ "survey": id }),
            now,
        )?;
        Ok(Answered::Thanks)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::Keys;

    #[test]
    fn a_link_opens_its_survey_only_untampered() {
        let signer = Signer::new(&Keys::from_hex(&"ab".repeat(32)).unwrap());
        let url = link(&signer, "https://a.example/", TenantId::from_db(2), 41, 30);
        let token = url.strip_prefix("https://a.example/survey/").unwrap();
        assert_eq!(verify(&signer, token).unwrap(), (TenantId::from_db(2), 41));
        let mut bad = token.to_string();
        let last = bad.pop().unwrap();
        bad.push(if last == 'A' { 'B' } else { 'A' });
        assert!(verify(&signer, &bad).is_err());
        let other = Signer::new(&Keys::from_hex(&"cd".repeat(32)).unwrap());
        assert!(verify(&other, token).is_err());
    }

    #[test]
    fn scores_are_one_to_five() {
        let ok = AnswerInput {
            bemotande: "5".into(),
            tydlighet: "1".into(),
            enkelhet: " 3 ".into(),
            comment: "  ".into(),
        };
        let (s, c) = parse(&ok).unwrap();
        assert_eq!((s.bemotande, s.tydlighet, s.enkelhet, c), (5, 1, 3, None));
        for bad in ["0", "6", "", "x"] {
            let i = AnswerInput {
                enkelhet: bad.into(),
                ..ok.clone()
            };
            assert!(parse(&i).is_err(), "{bad:?}");
        }
    }
}
