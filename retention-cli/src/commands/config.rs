//! `retention config`: the effective configuration and where each value came from.

use std::io::Write;

use anyhow::Result;
use clap::ArgMatches;

use crate::cli::ConfigCommand;
use crate::config::{Prepared, effective};
use crate::output::Table;

pub fn run(
    cmd: &ConfigCommand,
    prepared: &Prepared,
    matches: &ArgMatches,
    out: &mut dyn Write,
) -> Result<()> {
    // Reading every setting checks them all, `serve`'s included.
    let rows = effective(prepared, matches)?;
    match cmd {
        ConfigCommand::Show { json: true } => {
            let file = prepared
                .file
                .as_ref()
                .map(|f| f.path().display().to_string());
            let value = serde_json::json!({ "file": file, "settings": rows });
            writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
        }
        ConfigCommand::Show { json: false } => {
            match &prepared.file {
                Some(f) => writeln!(out, "configuration file: {}", f.path().display())?,
                None => writeln!(
                    out,
                    "configuration file: none (--config or {})",
                    retention_core::config::CONFIG_ENV
                )?,
            }
            let mut table = Table::new(["setting", "value", "source", "variable"]).text_column(1);
            for r in &rows {
                table.row([
                    r.key.clone(),
                    r.value.clone().unwrap_or_else(|| "(unset)".into()),
                    r.source.clone(),
                    r.env.clone(),
                ]);
            }
            table.write(out)?;
        }
        ConfigCommand::Check { json } => {
            let file = prepared
                .file
                .as_ref()
                .map(|f| f.path().display().to_string());
            let value = serde_json::json!({
                "valid": true,
                "file": file,
                "settings": rows.len(),
                "warnings": prepared.warnings,
            });
            crate::output::report(out, *json, &value, |out| {
                writeln!(
                    out,
                    "configuration valid ({}, {} settings)",
                    file.as_deref().unwrap_or("no configuration file"),
                    rows.len()
                )
            })?;
        }
    }
    Ok(())
}
