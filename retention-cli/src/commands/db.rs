//! `retention db …`: check, optimize and clean up the operations database.

use retention_core::store::Db;
use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use retention_core::lifecycle;

use crate::cli::DbCommand;
use crate::commands::registry::{CHECK_FAILED, actor, open_existing};
use crate::output::{self, Table};

pub fn db(db: &Db, cmd: &DbCommand, out: &mut dyn Write) -> Result<ExitCode> {
    match cmd {
        DbCommand::Check { json } => {
            let store = open_existing(db)?;
            let report = store.check()?;
            if *json {
                writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
            } else {
                writeln!(
                    out,
                    "{}: schema version {}, {:.1} MB",
                    db,
                    report.schema_version,
                    report.size_bytes as f64 / 1e6
                )?;
                writeln!(
                    out,
                    "integrity: {}",
                    if report.integrity_ok {
                        "ok".to_string()
                    } else {
                        report.integrity_messages.join("; ")
                    }
                )?;
                writeln!(
                    out,
                    "foreign keys: {} violation(s)",
                    report.foreign_key_violations
                )?;
                let mut table = Table::new(["table", "rows"]);
                for (t, n) in &report.rows {
                    table.row([t.clone(), n.to_string()]);
                }
                table.write(out)?;
                writeln!(
                    out,
                    "last backup: {}",
                    report
                        .last_backup_age_hours
                        .map_or("never".into(), |h| format!("{h:.1} hours ago"))
                )?;
            }
            if !report.ok() {
                return Ok(ExitCode::from(CHECK_FAILED));
            }
        }
        DbCommand::Optimize { json } => {
            let mut store = open_existing(db)?;
            let (before, after) = store.optimize(&actor())?;
            let value =
                serde_json::json!({ "size_bytes_before": before, "size_bytes_after": after });
            output::report(out, *json, &value, |out| {
                writeln!(
                    out,
                    "Optimized {}: {:.1} MB -> {:.1} MB.",
                    db,
                    before as f64 / 1e6,
                    after as f64 / 1e6
                )
            })?;
        }
        DbCommand::Cleanup {
            older_than,
            batch,
            json,
        } => {
            let age = lifecycle::parse_age(older_than)?;
            let mut store = open_existing(db)?;
            let bar = output::Progress::new();
            let removed = store.cleanup(age, *batch, &actor(), &|n| {
                bar.say(&format!("removed {n} rows"))
            })?;
            bar.done();
            let remain = store.prediction_count()?;
            let value = serde_json::json!({ "removed": removed, "remaining": remain });
            output::report(out, *json, &value, |out| {
                writeln!(
                    out,
                    "Removed {removed} predictions older than {older_than} ({remain} remain)."
                )
            })?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
