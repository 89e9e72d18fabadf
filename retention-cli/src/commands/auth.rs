//! `retention auth`: API keys for `retention serve`.

use retention_core::store::Db;
use std::io::Write;

use anyhow::Result;
use retention_core::store::Store;

use crate::cli::AuthCommand;
use crate::commands::registry::actor;
use crate::output::Table;

pub fn run(db: &Db, cmd: &AuthCommand, out: &mut dyn Write) -> Result<()> {
    match cmd {
        AuthCommand::CreateKey { name, json } => {
            let mut store = Store::open(db)?;
            let (info, key) = store.create_api_key(name, &actor())?;
            if *json {
                let value =
                    serde_json::json!({ "name": info.name, "key": key, "prefix": info.prefix });
                writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
            } else {
                writeln!(out, "{key}")?;
                crate::output::warn(&format!(
                    "API key '{}' created; it is shown only now: the database keeps its hash. \
                     Send it as `Authorization: Bearer <key>` or `X-API-Key: <key>`.",
                    info.name
                ));
            }
        }
        AuthCommand::List { json } => {
            let store = Store::open_existing(db)?;
            let keys = store.api_keys()?;
            if *json {
                writeln!(out, "{}", serde_json::to_string_pretty(&keys)?)?;
                return Ok(());
            }
            if keys.is_empty() {
                writeln!(
                    out,
                    "No API keys. Create one with `retention auth create-key --name NAME`."
                )?;
                return Ok(());
            }
            let mut table = Table::new(["name", "key starts", "created", "by", "status"]);
            for k in &keys {
                let now = retention_core::store::now_rfc3339();
                let status = match &k.revoked_at {
                    Some(at) if *at > now => format!("retiring, works until {at}"),
                    Some(at) => format!("revoked {at}"),
                    None => "active".into(),
                };
                table.row([
                    k.name.clone(),
                    format!("{}…", k.prefix),
                    k.created_at.clone(),
                    k.created_by.clone(),
                    status,
                ]);
            }
            table.write(out)?;
        }
        AuthCommand::Rotate { name, grace, json } => {
            let grace = retention_core::lifecycle::parse_age_of("grace", grace)?;
            let mut store = Store::open_existing(db)?;
            let (info, key, old) = store.rotate_api_key(name, grace, &actor())?;
            let until = old.revoked_at.clone().unwrap_or_default();
            if *json {
                let value = serde_json::json!({
                    "name": info.name, "key": key, "prefix": info.prefix,
                    "old_prefix": old.prefix, "old_key_works_until": until,
                });
                writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
            } else {
                writeln!(out, "{key}")?;
                crate::output::warn(&format!(
                    "API key '{}' rotated; the new key is shown only now. The old one ({}…) works until {until}, then servers refuse it.",
                    info.name, old.prefix
                ));
            }
        }
        AuthCommand::Revoke { name, json } => {
            let mut store = Store::open_existing(db)?;
            let info = store.revoke_api_key(name, &actor())?;
            crate::output::report(out, *json, &info, |out| {
                writeln!(
                    out,
                    "Revoked API key '{}' ({}…); a running server refuses it from its next reload.",
                    info.name, info.prefix
                )
            })?;
        }
    }
    Ok(())
}
