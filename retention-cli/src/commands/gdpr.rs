//! `retention gdpr …`: access and erasure requests, and the monthly report.

use retention_core::store::Db;
use std::io::Write;
use std::path::Path;

use anyhow::Result;
use retention_core::store::{self, GdprAudit};

use crate::cli::GdprCommand;
use crate::commands::registry::{actor, open_existing, warn_if_shared};
use crate::output::Table;

pub fn gdpr(db: &Db, cmd: &GdprCommand, out: &mut dyn Write) -> Result<()> {
    match cmd {
        GdprCommand::Export {
            customer_id,
            out: file,
        } => export(db, customer_id, file.as_deref(), out),
        GdprCommand::Delete { customer_id, json } => delete(db, customer_id, *json, out),
        GdprCommand::Audit {
            month,
            retention_days,
            json,
        } => {
            // The month is checked before the database is opened.
            store::check_month(month)?;
            let store = open_existing(db)?;
            let audit = store.gdpr_audit(month, *retention_days)?;
            if *json {
                // Keys sorted, as the report always printed them.
                let value = serde_json::to_value(&audit)?;
                writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
                return Ok(());
            }
            write_audit(&audit, out)
        }
    }
}

fn export(db: &Db, customer_id: &str, file: Option<&Path>, out: &mut dyn Write) -> Result<()> {
    if let Some(path) = file {
        let inputs: Vec<&std::path::Path> = db.file().into_iter().collect();
        retention_core::refuse_output_over_inputs("output", path, &inputs)?;
    }
    let store = open_existing(db)?;
    warn_if_shared(&store);
    let export = store.gdpr_export(customer_id, &actor())?;
    let text = serde_json::to_string_pretty(&export)?;
    match file {
        Some(path) => {
            // Customer data: readable by its owner only.
            retention_core::atomic_write_private(path, |w| {
                w.write_all(text.as_bytes())
                    .map_err(|e| retention_core::Error::io(path, e))
            })?;
            writeln!(
                out,
                "Exported every row about the customer to {}.",
                path.display()
            )?;
        }
        None => writeln!(out, "{text}")?,
    }
    Ok(())
}

fn delete(db: &Db, customer_id: &str, json: bool, out: &mut dyn Write) -> Result<()> {
    let mut store = open_existing(db)?;
    warn_if_shared(&store);
    let removed = store.gdpr_delete(customer_id, &actor())?;
    let backups: Vec<String> = store
        .backup_folders()?
        .iter()
        .map(|(_, d)| d.display().to_string())
        .collect();
    let value = serde_json::json!({ "rows_erased": removed, "backups_still_holding": backups });
    crate::output::report(out, json, &value, |out| {
        writeln!(
            out,
            "Erased {removed} rows about the customer from {db} ({}); the audit log keeps only a salted hash of the id.",
            if db.is_postgres() {
                "the prediction log vacuumed; PostgreSQL's write-ahead log keeps them until it is recycled"
            } else {
                "overwritten, write-ahead log truncated"
            }
        )?;
        if !backups.is_empty() {
            writeln!(
                out,
                "{} backup(s) taken before now still hold these rows until rotation removes them (or you delete them): {}",
                backups.len(),
                backups.join(", ")
            )?;
        }
        Ok(())
    })
}

fn write_audit(audit: &GdprAudit, out: &mut dyn Write) -> Result<()> {
    let (month, retention_days) = (&audit.month, audit.retention_days);
    writeln!(
        out,
        "GDPR requests handled in {month}: {}",
        audit.requests.len()
    )?;
    let mut table = Table::new(["when", "request", "by", "subject (salted hash)", "rows"]);
    for e in &audit.requests {
        table.row([
            e.at.clone(),
            e.action.trim_start_matches("gdpr_").to_string(),
            e.actor.clone(),
            e.subject.chars().take(16).collect::<String>(),
            e.details["predictions"].to_string(),
        ]);
    }
    if !audit.requests.is_empty() {
        table.write(out)?;
    }
    writeln!(
        out,
        "Retention policy ({retention_days} days): {}",
        if audit.retention_policy_ok {
            "ok, no prediction is older".to_string()
        } else {
            format!(
                "{} predictions are older: run `retention db cleanup --older-than {retention_days}d`",
                audit.predictions_past_retention
            )
        }
    )?;
    Ok(())
}
