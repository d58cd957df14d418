//! `arendo sms …`: a municipality's SMS gateway.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Subcommand;

use super::{TenantArg, keys, operator, read_file, stdin_line};
use crate::Db;
use crate::config::Settings;
use crate::notify::sms::{self, GatewayInput};

#[derive(Subcommand, Debug)]
pub(super) enum SmsCmd {
    /// Set the municipality's SMS gateway. With --password-stdin the gateway password is read
    /// from standard input and stored encrypted.
    Gateway {
        #[command(flatten)]
        t: TenantArg,
        /// outbox (files in <data_dir>/sms-outbox, nothing is sent) or rest.
        #[arg(long)]
        provider: String,
        /// The gateway's send address, e.g. https://api.46elks.com/a1/sms
        #[arg(long)]
        url: Option<String>,
        #[arg(long)]
        username: Option<String>,
        #[arg(long)]
        password_stdin: bool,
        /// The sender shown on phones: up to 11 letters and digits, or a number.
        #[arg(long)]
        sender: String,
        /// What one part costs, in öre (for the internal bill).
        #[arg(long, default_value_t = 0)]
        price_ore: i32,
        /// The gateway sends å, ä, ö in GSM-7 (most send them as UCS-2).
        #[arg(long)]
        nordic_gsm7: bool,
        /// --provider http: a handlebars file for the request body ({{from}}, {{to}},
        /// {{message}}, {{report_url}}).
        #[arg(long)]
        body_template: Option<PathBuf>,
        #[arg(long, default_value = "application/json")]
        content_type: String,
        /// --provider http: JSON pointer to the message id in the gateway's answer.
        #[arg(long, default_value = "/id")]
        id_pointer: String,
    },
}

pub(super) async fn run(cmd: SmsCmd, db: &Db, settings: &Settings) -> anyhow::Result<()> {
    let SmsCmd::Gateway {
        t,
        provider,
        url,
        username,
        password_stdin,
        sender,
        price_ore,
        nordic_gsm7,
        body_template,
        content_type,
        id_pointer,
    } = cmd;
    let body_template = match body_template {
        Some(p) => read_file(&p)?,
        None => String::new(),
    };
    let password = if password_stdin {
        Some(stdin_line()?)
    } else {
        None
    };
    let input = GatewayInput {
        provider,
        url,
        username,
        password,
        sender,
        nordic_gsm7,
        price_ore,
        body_template,
        content_type,
        id_pointer,
    };
    let keys = Arc::new(keys(settings)?);
    let egress = crate::egress::Policy::from_settings(settings);
    let actor = operator(db, &t).await?;
    // The admin page's use case: without --password-stdin the stored password stays.
    sms::save_gateway_settings(db, &actor, keys, &egress, input).await?;
    println!("SMS gateway saved");
    Ok(())
}
