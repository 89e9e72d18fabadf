//! `retention backup` and `retention restore`.

use retention_core::store::Db;
use std::io::Write;
use std::process::ExitCode;

use anyhow::{Result, bail};
use retention_core::store;

use crate::cli::{BackupArgs, BackupCommand, RestoreArgs};
use crate::commands::registry::{CHECK_FAILED, actor, open_existing, warn_if_shared};
use crate::output;

/// Warns about each model version a backup could not copy.
fn warn_skipped(manifest: &store::BackupManifest) {
    for s in &manifest.skipped {
        output::warn(&format!(
            "model version {} was not backed up as a file: {} (the database snapshot keeps its row as it is; re-register the model file if you have it)",
            s.version, s.reason
        ));
    }
}

/// `retention backup`: exit 0 when everything was backed up; exit 3 (a check that ran and
/// failed) when the backup was written but a model version is corrupt in the database and could
/// not be copied, so that a scheduled backup does not hide a damaged registry.
pub fn backup(db: &Db, args: &BackupArgs, out: &mut dyn Write) -> Result<ExitCode> {
    match &args.command {
        Some(BackupCommand::Verify { dir, json }) => {
            let manifest = store::verify_backup(dir)?;
            let value = serde_json::json!({ "intact": true, "dir": dir, "manifest": manifest });
            output::report(out, *json, &value, |out| {
                writeln!(
                    out,
                    "Backup {} is intact: {} files match their SHA-256, the database passes its integrity check (taken {}).",
                    dir.display(),
                    manifest.files.len(),
                    manifest.created_at
                )
            })?;
            warn_skipped(&manifest);
        }
        None => {
            let Some(root) = &args.out else {
                bail!(
                    "name the backup folder with --out DIR (or use `retention backup verify DIR`)"
                );
            };
            let mut store = open_existing(db)?;
            warn_if_shared(&store);
            let manifest = store.backup(root, args.keep, &actor())?;
            let value = serde_json::json!({
                "dir": manifest.dir,
                "manifest": manifest,
                "removed": manifest.rotation.removed,
                "complete": manifest.skipped.is_empty(),
            });
            output::report(out, args.json, &value, |out| {
                writeln!(
                    out,
                    "Backed up {} to {} ({} files; keeping the newest {}, removed {}).",
                    db,
                    manifest.dir.display(),
                    manifest.files.len(),
                    args.keep.max(1),
                    manifest.rotation.removed.len()
                )
            })?;
            for (dir, why) in &manifest.rotation.left {
                output::warn(&format!(
                    "{} is named like a backup but was left alone: {why}",
                    dir.display()
                ));
            }
            if !manifest.skipped.is_empty() {
                warn_skipped(&manifest);
                output::warn(&format!(
                    "the backup is complete except for {} corrupt model version(s); `retention model list` shows them",
                    manifest.skipped.len()
                ));
                out.flush()?;
                return Ok(ExitCode::from(CHECK_FAILED));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn restore(db: &Db, args: &RestoreArgs, out: &mut dyn Write) -> Result<()> {
    let aside = store::restore(&args.from, db)?;
    let value = serde_json::json!({ "restored": db, "from": args.from, "kept_aside": aside });
    output::report(out, args.json, &value, |out| {
        writeln!(out, "Restored {} from {}.", db, args.from.display())?;
        if let Some(p) = &aside {
            writeln!(
                out,
                "The replaced database was kept at {} (a process that still had it open writes there until it reopens).",
                p.display()
            )?;
        }
        Ok(())
    })
}
