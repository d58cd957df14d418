//! The e-mail channel: function mailboxes fetched over IMAP (`imap`), each mail parsed
//! (`parse`) and turned into a ticket or a message on one (`intake`); the mailboxes' settings
//! (`mailboxes`); problems with single mails (`problems`); showing mail safely (`display`).
//! Outgoing mail is a shared service: `delivery::mail`.

pub mod display;
pub mod imap;
pub mod import;
pub mod intake;
pub mod mailboxes;
pub mod parse;
pub mod problems;
