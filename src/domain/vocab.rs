//! Closed vocabularies stored as text. Each has one spelling in the database and the API.

use serde::{Deserialize, Serialize};

use super::{InvalidValue, Reason};

macro_rules! vocab {
    ($(#[$m:meta])* $name:ident, $field:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(s: &str) -> Result<Self, InvalidValue> {
                match s.trim() {
                    $($text => Ok($name::$variant),)+
                    other => Err(InvalidValue::new(
                        $field,
                        Reason::not_one_of(other, &[$($text),+]),
                    )),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

vocab!(
    /// Ticket status. `waiting` means waiting for the citizen or someone outside.
    Status, "status", { New => "new", Open => "open", Waiting => "waiting", Resolved => "resolved", Closed => "closed" }
);
vocab!(
    /// Whom a waiting ticket waits for. Both pause the service-level clocks.
    WaitingOn, "waiting_on", { Citizen => "citizen", External => "external" }
);
vocab!(
    /// Whether a ticket's service-level clocks run (None on the ticket: no target applies).
    SlaClock, "sla_clock", { Running => "running", Paused => "paused" }
);
vocab!(Priority, "priority", { Low => "low", Normal => "normal", High => "high", Urgent => "urgent" });
vocab!(Channel, "channel", { Email => "email", Web => "web", Api => "api", Phone => "phone", Sms => "sms" });
vocab!(
    /// How a citizen got in touch when an agent registers the ticket by hand ("Nytt ärende").
    IntakeChannel, "channel", { Phone => "phone", Visit => "visit", Letter => "letter", Email => "email", Sms => "sms" }
);
vocab!(
    /// Why a mail is automatic (RFC 3834 and common practice): never acknowledged; a ticket it
    /// opens runs no service-level clock and is marked automatic in the lists (D56).
    Automatic, "automatic", {
        AutoSubmitted => "auto_submitted", Bulk => "bulk", MailingList => "mailing_list",
        AutoReplyHeader => "auto_reply_header", Bounce => "bounce"
    }
);
vocab!(MessageKind, "kind", { Inbound => "inbound", Outbound => "outbound", Note => "note" });
vocab!(
    /// Account role: admins manage the tenant and see every queue; agents see their queues;
    /// handlers (department staff, a light account) see only the referrals sent to their
    /// departments.
    Role, "role", { Admin => "admin", Agent => "agent", Handler => "handler" }
);
vocab!(
    /// Role within one queue: leads manage the queue (members, settings) besides working it.
    MembershipRole, "queue_role", { Lead => "lead", Agent => "agent" }
);

vocab!(
    /// Who may read a knowledge-base article: agents only, or citizens too.
    Audience, "audience", { Internal => "internal", Public => "public" }
);
vocab!(
    /// The language an article is written in, or a citizen is written to.
    Language, "language", { Sv => "sv", En => "en" }
);

impl Language {
    /// The language to answer a citizen in, from what they wrote: English when the text is
    /// reliably English, Swedish otherwise (a Swedish municipality's default, also for languages
    /// Ärendo has no texts in). Short or mixed texts stay Swedish.
    pub fn of_citizen_text(text: &str) -> Language {
        // The opening of a message tells its language; a long one need not be read to the end.
        let head = match text.char_indices().nth(2000) {
            Some((at, _)) => &text[..at],
            None => text,
        };
        match whatlang::detect(head) {
            Some(info) if info.lang() == whatlang::Lang::Eng && info.is_reliable() => Language::En,
            _ => Language::Sv,
        }
    }
}
vocab!(
    /// A knowledge-base article's life: drafts and archived articles are never shown to citizens
    /// nor suggested.
    ArticleStatus, "status", { Draft => "draft", Published => "published", Archived => "archived" }
);

impl Status {
    pub fn is_open(self) -> bool {
        matches!(self, Status::New | Status::Open | Status::Waiting)
    }
}

impl Priority {
    /// Higher is more urgent, for sorting.
    pub fn rank(self) -> u8 {
        match self {
            Priority::Low => 0,
            Priority::Normal => 1,
            Priority::High => 2,
            Priority::Urgent => 3,
        }
    }
}

#[cfg(test)]
mod language_tests {
    use super::Language;

    #[test]
    fn citizens_writing_english_are_answered_in_english() {
        let en = "Hello, I moved to the municipality last month and I would like to know when \
                  the garbage is collected on my street. Thank you for your help.";
        assert_eq!(Language::of_citizen_text(en), Language::En);
        let sv = "Hej! Jag flyttade hit förra månaden och undrar när soporna hämtas på min gata. \
                  Tack för hjälpen.";
        assert_eq!(Language::of_citizen_text(sv), Language::Sv);
        // Too little to tell, and languages without texts: Swedish.
        assert_eq!(Language::of_citizen_text("Hej"), Language::Sv);
        assert_eq!(Language::of_citizen_text(""), Language::Sv);
        let de = "Guten Tag, ich bin letzten Monat hierher gezogen und möchte wissen, wann der \
                  Müll in meiner Straße abgeholt wird.";
        assert_eq!(Language::of_citizen_text(de), Language::Sv);
    }
}
