//! `retention model …`: the registry (register, list, validate, promote, A/B, rollback, compare).

use retention_core::store::Db;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use retention_core::data::read_table;
use retention_core::lifecycle::{Gate, GateCheck, ModelRef};
use retention_core::model::{ChurnModel, read_model_file};
use retention_core::registry::{self, Holdout};
use retention_core::store::{Store, StoredReport, Validation};

use crate::cli::{GateArgs, ModelCommand};
use crate::commands::registry::{CHECK_FAILED, actor, open_existing, parse_reference, version_of};
use crate::output::{self, Table};

fn gate(args: &GateArgs) -> Gate {
    Gate {
        min_roc_auc: args.min_auc,
        min_accuracy: args.min_accuracy,
        margin: args.margin,
    }
}

pub fn model(db: &Db, cmd: &ModelCommand, out: &mut dyn Write) -> Result<ExitCode> {
    match cmd {
        ModelCommand::Register { model, notes, json } => register(db, model, notes, *json, out)?,
        ModelCommand::List { json } => list(db, *json, out)?,
        ModelCommand::Validate {
            version,
            data,
            gate: g,
            json,
        } => return validate(db, version, data, &gate(g), *json, out),
        ModelCommand::Promote {
            version,
            data,
            gate: g,
            force,
            reason,
            json,
        } => promote(
            db,
            version.as_deref(),
            data.as_deref(),
            &gate(g),
            (*force, reason.as_deref()),
            *json,
            out,
        )?,
        ModelCommand::Ab {
            challenger,
            split,
            off,
            force,
            reason,
            json,
        } => ab(
            db,
            challenger.as_deref(),
            *split,
            *off,
            (*force, reason.as_deref()),
            *json,
            out,
        )?,
        ModelCommand::Rollback { reason, json } => {
            let mut store = open_existing(db)?;
            let (previous, current) = registry::rollback(&mut store, reason, &actor())?;
            let value = serde_json::json!({ "champion": previous, "previous": current });
            output::report(out, *json, &value, |out| {
                writeln!(
                    out,
                    "Rolled back: version {previous} is the champion again (was {current})."
                )
            })?;
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

fn register(db: &Db, model: &Path, notes: &str, json: bool, out: &mut dyn Write) -> Result<()> {
    // Bounded read, and the file's own name in any complaint about its contents.
    let bytes = read_model_file(model)?;
    ChurnModel::from_bytes(&bytes, model)?;
    let mut store = Store::open(db)?;
    let before = store.versions()?.len();
    let v = store.register(&bytes, notes, &actor())?;
    if json {
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
            db
        )?;
    }
    Ok(())
}

fn list(db: &Db, json: bool, out: &mut dyn Write) -> Result<()> {
    let store = open_existing(db)?;
    let aliases = store.aliases()?;
    let versions = store.versions()?;
    if json {
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
        return Ok(());
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
            aliases
                .label(v.version)
                .map(|l| l.to_string())
                .unwrap_or_default(),
            v.algorithm.clone(),
            v.metrics
                .cv_roc_auc
                .map_or("-".into(), |a| format!("{a:.4}")),
            validated,
            v.registered_at.clone(),
            v.notes.clone(),
        ]);
    }
    if versions.is_empty() {
        writeln!(out, "No versions registered in {}.", db)?;
    } else {
        table.write(out)?;
    }
    Ok(())
}

fn validate(
    db: &Db,
    version: &str,
    data: &Path,
    gate: &Gate,
    json: bool,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    let mut store = open_existing(db)?;
    let v = version_of(&store, &parse_reference(version)?)?;
    let validation = validate_version(&mut store, v, data, gate)?;
    if json {
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

fn checks_table(report: &StoredReport) -> Table {
    let mut table = Table::new(["check", "result", "detail"]).text_column(2);
    for c in &report.checks {
        table.row([
            c.name.clone(),
            if c.passed { "pass" } else { "FAIL" }.to_string(),
            crate::spelling::text(&c.detail),
        ]);
    }
    table
}

/// Warns that a failing gate was overridden, naming the failed checks in the CLI's words.
fn warn_forced(checks: &[GateCheck]) {
    output::warn(&format!(
        "gate overridden with --force: {}",
        registry::failed_checks(checks)
    ));
}

fn promote(
    db: &Db,
    version: Option<&str>,
    data: Option<&Path>,
    gate: &Gate,
    (force, reason): (bool, Option<&str>),
    json: bool,
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
        warn_forced(&outcome.checks);
    }
    output::report(out, json, &outcome, |out| {
        writeln!(
            out,
            "Version {} is the champion{}.",
            outcome.version,
            outcome
                .previous
                .map(|c| format!(" (was {c}; `retention model rollback` undoes this)"))
                .unwrap_or_default()
        )
    })
}

fn ab(
    db: &Db,
    challenger: Option<&str>,
    split: f64,
    off: bool,
    (force, reason): (bool, Option<&str>),
    json: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let mut store = open_existing(db)?;
    if off {
        let stopped = registry::stop_ab(&mut store, &actor())?;
        let value = serde_json::json!({ "stopped": true, "challenger": stopped });
        return output::report(out, json, &value, |out| {
            writeln!(
                out,
                "A/B test stopped: every customer gets the champion again."
            )
        });
    }
    let reference = parse_reference(challenger.unwrap_or_default())?;
    let ab = registry::start_ab(&mut store, &reference, split, force, reason, &actor())?;
    if ab.forced {
        warn_forced(&ab.checks);
    }
    output::report(out, json, &ab, |out| {
        writeln!(
            out,
            "A/B test: {:.1} % of customers (stable per customer id) get version {}, the rest the champion (version {}).",
            split * 100.0,
            ab.challenger,
            ab.champion
        )
    })
}

fn compare(
    db: &Db,
    outcomes: &Path,
    target: Option<&str>,
    id: Option<&str>,
    json: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let store = open_existing(db)?;
    let comparison = registry::compare(&store, || Ok(read_table(outcomes)?.frame), target, id)?;
    if json {
        let results: Vec<serde_json::Value> = comparison
            .variants
            .iter()
            .map(|r| {
                serde_json::json!({
                    "variant": r.variant, "version": r.version, "customers": r.customers,
                    "roc_auc": r.roc_auc, "accuracy": r.accuracy,
                })
            })
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&results)?)?;
        return Ok(());
    }
    // Every version that served as champion or challenger is compared by what it logged.
    let mut table = Table::new([
        "variant",
        "version",
        "customers",
        "churned",
        "ROC-AUC",
        "accuracy",
    ]);
    for r in &comparison.variants {
        table.row([
            r.variant.as_str().to_string(),
            r.version.to_string(),
            r.customers.to_string(),
            r.churned.to_string(),
            r.roc_auc.map_or("-".into(), |a| format!("{a:.4}")),
            r.accuracy.map_or("-".into(), |a| format!("{a:.4}")),
        ]);
    }
    writeln!(
        out,
        "Logged predictions joined with {} outcomes from {}:",
        comparison.outcomes,
        outcomes.display()
    )?;
    table.write(out)?;
    Ok(())
}
