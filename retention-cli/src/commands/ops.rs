//! Operations over the store: `retention model …`, `db …`, `backup`, `restore`, `gdpr …`.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use retention_core::data::{clean, read_table};
use retention_core::lifecycle::{self, Gate, ModelRef};
use retention_core::metrics::Metrics;
use retention_core::model::{ChurnModel, read_model_file};
use retention_core::registry::{self, Holdout};
use retention_core::store::{self, Store, Validation};

use crate::cli::{
    BackupArgs, BackupCommand, DbCommand, GateArgs, GdprCommand, ModelCommand, RestoreArgs,
};
use crate::commands::registry::{actor, open_existing, parse_reference, version_of};
use crate::output::{self, Table};

/// Exit status when a check ran and failed (validation gate, database check).
const CHECK_FAILED: u8 = 3;

fn gate(args: &GateArgs) -> Gate {
    Gate {
        min_roc_auc: args.min_auc,
        min_accuracy: args.min_accuracy,
        margin: args.margin,
    }
}

pub fn model(db: &Path, cmd: &ModelCommand, out: &mut dyn Write) -> Result<ExitCode> {
    match cmd {
        ModelCommand::Register { model, notes, json } => {
            // Bounded read, and the file's own name in any complaint about its contents.
            let bytes = read_model_file(model)?;
            ChurnModel::from_bytes(&bytes, model)?;
            let mut store = Store::open(db)?;
            let before = store.versions()?.len();
            let v = store.register(&bytes, notes, &actor())?;
            if *json {
                writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
            } else if store.versions()?.len() == before {
                writeln!(
                    out,
                    "{} is already registered as version {}.",
                    model.display(),
                    v.version
                )?;
            } else {
                writeln!(
                    out,
                    "Registered {} as version {} ({}, sha256 {}) in {}.",
                    model.display(),
                    v.version,
                    v.algorithm,
                    &v.sha256[..12],
                    db.display()
                )?;
            }
        }
        ModelCommand::List { json } => {
            let store = open_existing(db)?;
            let aliases = store.aliases()?;
            let versions = store.versions()?;
            if *json {
                let rows: Vec<serde_json::Value> = versions
                    .iter()
                    .map(|v| {
                        serde_json::json!({
                            "version": v,
                            "latest_validation": store.latest_validation(v.version).ok().flatten(),
                        })
                    })
                    .collect();
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({"aliases": aliases, "versions": rows})
                    )?
                )?;
                return Ok(ExitCode::SUCCESS);
            }
            let mut table = Table::new([
                "version",
                "alias",
                "algorithm",
                "cv ROC-AUC",
                "validated",
                "registered",
                "notes",
            ]);
            for v in &versions {
                let alias = if aliases.champion == Some(v.version) {
                    "champion".to_string()
                } else if aliases.challenger == Some(v.version) {
                    format!("challenger ({:.0} %)", aliases.split * 100.0)
                } else {
                    String::new()
                };
                let validated = match store.latest_validation(v.version)? {
                    Some(val) => format!(
                        "{} (AUC {:.4})",
                        if val.passed { "passed" } else { "FAILED" },
                        val.roc_auc
                    ),
                    None => "-".into(),
                };
                table.row([
                    v.version.to_string(),
                    alias,
                    v.algorithm.clone(),
                    v.metrics["cv_roc_auc"]
                        .as_f64()
                        .map_or("-".into(), |a| format!("{a:.4}")),
                    validated,
                    v.registered_at.clone(),
                    v.notes.clone(),
                ]);
            }
            if versions.is_empty() {
                writeln!(out, "No versions registered in {}.", db.display())?;
            } else {
                table.write(out)?;
            }
        }
        ModelCommand::Validate {
            version,
            data,
            gate: g,
            json,
        } => {
            let mut store = open_existing(db)?;
            let v = version_of(&store, &parse_reference(version)?)?;
            let validation = validate_version(&mut store, v, data, &gate(g))?;
            if *json {
                writeln!(out, "{}", serde_json::to_string_pretty(&validation)?)?;
            } else {
                writeln!(
                    out,
                    "Validation of version {v} on {} ({} rows):",
                    data.display(),
                    validation.rows
                )?;
                checks_table(&validation.report).write(out)?;
                writeln!(
                    out,
                    "{}",
                    if validation.passed {
                        "Passed."
                    } else {
                        "FAILED: this version must not be promoted."
                    }
                )?;
            }
            if !validation.passed {
                return Ok(ExitCode::from(CHECK_FAILED));
            }
        }
        ModelCommand::Promote {
            version,
            data,
            gate: g,
            force,
            reason,
        } => promote(
            db,
            version.as_deref(),
            data.as_deref(),
            &gate(g),
            *force,
            reason.as_deref(),
            out,
        )?,
        ModelCommand::Ab {
            challenger,
            split,
            off,
            force,
            reason,
        } => {
            let mut store = open_existing(db)?;
            if *off {
                registry::stop_ab(&mut store, &actor())?;
                writeln!(
                    out,
                    "A/B test stopped: every customer gets the champion again."
                )?;
            } else {
                let spec = challenger.as_deref().unwrap_or_default();
                let reference = parse_reference(spec)?;
                let ab = registry::start_ab(
                    &mut store,
                    &reference,
                    *split,
                    *force,
                    reason.as_deref(),
                    &actor(),
                )?;
                if ab.forced {
                    output::warn(&format!(
                        "gate overridden with --force: {}",
                        registry::failed_checks(&ab.checks)
                    ));
                }
                writeln!(
                    out,
                    "A/B test: {:.1} % of customers (stable per customer id) get version {}, the rest the champion (version {}).",
                    split * 100.0,
                    ab.challenger,
                    ab.champion
                )?;
            }
        }
        ModelCommand::Rollback { reason } => {
            let mut store = open_existing(db)?;
            let (previous, current) = registry::rollback(&mut store, reason, &actor())?;
            writeln!(
                out,
                "Rolled back: version {previous} is the champion again (was {current})."
            )?;
        }
        ModelCommand::Compare {
            outcomes,
            target,
            id,
            json,
        } => compare(db, outcomes, target.as_deref(), id.as_deref(), *json, out)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn validate_version(
    store: &mut Store,
    version: i64,
    data: &Path,
    gate: &Gate,
) -> Result<Validation> {
    let raw = read_table(data)?;
    let holdout = Holdout {
        frame: &raw.frame,
        sha256: Some(&raw.sha256),
    };
    Ok(registry::validate_version(
        store,
        version,
        holdout,
        gate,
        &actor(),
    )?)
}

fn checks_table(report: &serde_json::Value) -> Table {
    let mut table = Table::new(["check", "result", "detail"]).text_column(2);
    for c in report["checks"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        table.row([
            c["name"].as_str().unwrap_or_default().to_string(),
            if c["passed"].as_bool().unwrap_or(false) {
                "pass"
            } else {
                "FAIL"
            }
            .to_string(),
            c["detail"].as_str().unwrap_or_default().to_string(),
        ]);
    }
    table
}

fn promote(
    db: &Path,
    version: Option<&str>,
    data: Option<&Path>,
    gate: &Gate,
    force: bool,
    reason: Option<&str>,
    out: &mut dyn Write,
) -> Result<()> {
    let mut store = open_existing(db)?;
    let reference = match version {
        Some(v) => parse_reference(v)?,
        None => ModelRef::Challenger,
    };
    let raw = data.map(read_table).transpose()?;
    let holdout = raw.as_ref().map(|r| Holdout {
        frame: &r.frame,
        sha256: Some(&r.sha256),
    });
    let outcome = registry::promote(
        &mut store,
        &reference,
        holdout,
        gate,
        force,
        reason,
        &actor(),
    )?;
    if outcome.forced {
        output::warn(&format!(
            "gate overridden with --force: {}",
            registry::failed_checks(&outcome.checks)
        ));
    }
    writeln!(
        out,
        "Version {} is the champion{}.",
        outcome.version,
        outcome
            .previous
            .map(|c| format!(" (was {c}; `retention model rollback` undoes this)"))
            .unwrap_or_default()
    )?;
    Ok(())
}

fn compare(
    db: &Path,
    outcomes: &Path,
    target: Option<&str>,
    id: Option<&str>,
    json: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let store = open_existing(db)?;
    let aliases = store.aliases()?;
    let champion = aliases
        .champion
        .with_context(|| format!("{} has no champion", db.display()))?;
    let model = store.load_model(champion)?;
    let schema = &model.schema;
    let id = id
        .or(schema.id())
        .context("the champion has no id column: name the outcome table's with --id")?;
    let target = target
        .or(schema.target())
        .context("name the outcome column with --target")?;
    let (Some(pos), Some(neg)) = (&schema.positive_label, &schema.negative_label) else {
        bail!("the champion's schema has no target labels");
    };
    let raw = read_table(outcomes)?.frame;
    let available = retention_core::data::column_names(&raw);
    let column = |name: &str| {
        raw.column(name).map_err(|_| {
            retention_core::Error::column_not_found(name, " in the outcome table", &available)
        })
    };
    let ids = clean::to_text(column(id)?)?;
    let y = clean::to_target(column(target)?, pos, neg, 0)?;
    let outcome: HashMap<&str, bool> = ids
        .iter()
        .zip(y)
        .filter_map(|(i, y)| i.map(|i| (i, y)))
        .collect();
    let mut versions = vec![champion];
    versions.extend(aliases.challenger);
    // Every version that served as champion or challenger is compared by what it logged.
    let mut table = Table::new([
        "variant",
        "version",
        "customers",
        "churned",
        "ROC-AUC",
        "accuracy",
    ]);
    let mut results = Vec::new();
    for v in versions {
        let threshold = store.load_model(v)?.threshold;
        let mut latest: HashMap<String, f64> = HashMap::new();
        for p in store.predictions_by_version(v)? {
            latest.insert(p.customer_id, p.probability);
        }
        let (mut ys, mut ps) = (Vec::new(), Vec::new());
        for (customer, p) in &latest {
            if let Some(&y) = outcome.get(customer.as_str()) {
                ys.push(y);
                ps.push(*p);
            }
        }
        let variant = if v == champion {
            "champion"
        } else {
            "challenger"
        };
        let metrics = if ys.iter().any(|y| *y) && ys.iter().any(|y| !*y) {
            Some(Metrics::compute(&ys, &ps, threshold)?)
        } else {
            None
        };
        table.row([
            variant.to_string(),
            v.to_string(),
            ys.len().to_string(),
            ys.iter().filter(|y| **y).count().to_string(),
            metrics
                .as_ref()
                .map_or("-".into(), |m| format!("{:.4}", m.roc_auc)),
            metrics
                .as_ref()
                .map_or("-".into(), |m| format!("{:.4}", m.accuracy)),
        ]);
        results.push(serde_json::json!({
            "variant": variant, "version": v, "customers": ys.len(),
            "roc_auc": metrics.as_ref().map(|m| m.roc_auc),
            "accuracy": metrics.as_ref().map(|m| m.accuracy),
        }));
    }
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&results)?)?;
    } else {
        writeln!(
            out,
            "Logged predictions joined with {} outcomes from {}:",
            outcome.len(),
            outcomes.display()
        )?;
        table.write(out)?;
    }
    Ok(())
}

pub fn db(db: &Path, cmd: &DbCommand, out: &mut dyn Write) -> Result<ExitCode> {
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
                    db.display(),
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
        DbCommand::Optimize => {
            let mut store = open_existing(db)?;
            let (before, after) = store.optimize(&actor())?;
            writeln!(
                out,
                "Optimized {}: {:.1} MB -> {:.1} MB.",
                db.display(),
                before as f64 / 1e6,
                after as f64 / 1e6
            )?;
        }
        DbCommand::Cleanup { older_than, batch } => {
            let age = lifecycle::parse_age(older_than)?;
            let mut store = open_existing(db)?;
            let bar = output::Progress::new();
            let removed = store.cleanup(age, *batch, &actor(), &|n| {
                bar.say(&format!("removed {n} rows"))
            })?;
            bar.done();
            writeln!(
                out,
                "Removed {removed} predictions older than {older_than} ({} remain).",
                store.prediction_count()?
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Warns when the database file may be read by other users.
fn warn_if_shared(store: &Store) {
    if let Some(w) = store.permission_warning() {
        output::warn(&w);
    }
}

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
pub fn backup(db: &Path, args: &BackupArgs, out: &mut dyn Write) -> Result<ExitCode> {
    match &args.command {
        Some(BackupCommand::Verify { dir }) => {
            let manifest = store::verify_backup(dir)?;
            writeln!(
                out,
                "Backup {} is intact: {} files match their SHA-256, the database passes its integrity check (taken {}).",
                dir.display(),
                manifest.files.len(),
                manifest.created_at
            )?;
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
            writeln!(
                out,
                "Backed up {} to {} ({} files; keeping the newest {}, removed {}).",
                db.display(),
                manifest.dir.display(),
                manifest.files.len(),
                args.keep.max(1),
                manifest.rotation.removed.len()
            )?;
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

pub fn restore(db: &Path, args: &RestoreArgs, out: &mut dyn Write) -> Result<()> {
    let aside = store::restore(&args.from, db)?;
    writeln!(
        out,
        "Restored {} from {}.",
        db.display(),
        args.from.display()
    )?;
    if let Some(p) = aside {
        writeln!(
            out,
            "The replaced database was kept at {} (a process that still had it open writes there until it reopens).",
            p.display()
        )?;
    }
    Ok(())
}

pub fn gdpr(db: &Path, cmd: &GdprCommand, out: &mut dyn Write) -> Result<()> {
    match cmd {
        GdprCommand::Export {
            customer_id,
            out: file,
        } => {
            if let Some(path) = file {
                retention_core::refuse_output_over_inputs("output", path, &[db])?;
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
        }
        GdprCommand::Delete { customer_id } => {
            let mut store = open_existing(db)?;
            warn_if_shared(&store);
            let removed = store.gdpr_delete(customer_id, &actor())?;
            writeln!(
                out,
                "Erased {removed} rows about the customer from {} (overwritten, write-ahead log truncated); the audit log keeps only a salted hash of the id.",
                db.display()
            )?;
            let backups = store.backup_folders()?;
            if !backups.is_empty() {
                writeln!(
                    out,
                    "{} backup(s) taken before now still hold these rows until rotation removes them (or you delete them): {}",
                    backups.len(),
                    backups
                        .iter()
                        .map(|(_, d)| d.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )?;
            }
        }
        GdprCommand::Audit {
            month,
            retention_days,
            json,
        } => {
            let valid = month.len() == 7
                && chrono::NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").is_ok();
            if !valid {
                bail!("--month {month:?} is not a month: use YYYY-MM, e.g. 2026-11");
            }
            let store = open_existing(db)?;
            let entries = store.audit_entries(month)?;
            let gdpr: Vec<_> = entries
                .iter()
                .filter(|e| e.action.starts_with("gdpr_"))
                .collect();
            let overdue = store.predictions_older_than(*retention_days)?;
            if *json {
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "month": month,
                        "requests": gdpr,
                        "exports": gdpr.iter().filter(|e| e.action == "gdpr_export").count(),
                        "deletions": gdpr.iter().filter(|e| e.action == "gdpr_delete").count(),
                        "retention_days": retention_days,
                        "predictions_past_retention": overdue,
                        "retention_policy_ok": overdue == 0,
                    }))?
                )?;
                return Ok(());
            }
            writeln!(out, "GDPR requests handled in {month}: {}", gdpr.len())?;
            let mut table = Table::new(["when", "request", "by", "subject (salted hash)", "rows"]);
            for e in &gdpr {
                table.row([
                    e.at.clone(),
                    e.action.trim_start_matches("gdpr_").to_string(),
                    e.actor.clone(),
                    e.subject.chars().take(16).collect::<String>(),
                    e.details["predictions"].to_string(),
                ]);
            }
            if !gdpr.is_empty() {
                table.write(out)?;
            }
            writeln!(
                out,
                "Retention policy ({retention_days} days): {}",
                if overdue == 0 {
                    "ok, no prediction is older".to_string()
                } else {
                    format!(
                        "{overdue} predictions are older: run `retention db cleanup --older-than {retention_days}d`"
                    )
                }
            )?;
        }
    }
    Ok(())
}
