//! Integration tests: the real application on a random port, over real HTTP, against SQLite and
//! PostgreSQL. Every scenario runs once per backend (`both_backends!`), each with a fresh database.
//! PostgreSQL comes from ARENDO_TEST_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres;
//! scripts/test.sh starts a server when none runs).

mod helpers;
// The throw-away Dovecot IMAP server (shared with `arendo-bench ingest`).
#[path = "../support/dovecot.rs"]
mod dovecot;

mod admin;
mod api_types;
mod architecture;
mod auth;
mod cli;
mod cli_commands;
mod crash;
mod errors;
mod escalation;
mod isolation;
mod kb;
mod kb_panel;
mod lists;
mod mail;
mod mail_content;
mod mail_identity;
mod new_ticket;
mod notify;
mod ops;
mod outbox;
mod referral;
mod routing;
mod security_api;
mod security_edge;
mod security_egress;
mod security_links;
mod security_login;
mod sla;
mod sla_correctness;
mod sms;
mod smtp;
mod stats;
mod stats_pages;
mod stats_upgrade;
mod status;
mod survey;
mod ticket_page;
mod tickets;
mod workspace;
