//! `retention drift`

use retention_core::store::Db;
use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};
use retention_core::drift::{
    DriftOptions, DriftReport, DriftThresholds, FileProgress, PredictionDrift, Status,
};

use crate::cli::{DriftArgs, FailOnArg};
use crate::commands::train::schema_options;
use crate::output::{self, Table};

/// Exit status when the verdict reaches `--fail-on` (1 is an error, 2 bad arguments).
const DRIFT_EXIT: u8 = 3;

pub fn run(db: &Db, args: &DriftArgs, out: &mut dyn Write) -> Result<ExitCode> {
    if let Some(path) = &args.out {
        crate::commands::registry::refuse_output_over_inputs(
            "output",
            path,
            &[&args.reference, &args.current],
            args.model.as_deref(),
            db,
        )?;
    }
    let options = options(args)?;
    let model = args
        .model
        .as_deref()
        .map(|m| crate::commands::registry::resolve(db, m).map(|(m, _)| m))
        .transpose()?;
    // Both files are read in batches and summarised as they are read: memory stays bounded
    // whatever their sizes (retention_core::drift::compute_files).
    let progress = output::Progress::new();
    let (report, notes) = retention_core::drift::compute_files(
        &args.reference,
        &args.current,
        model.as_ref(),
        &options,
        &|p| match p {
            FileProgress::Rows(r, c) => {
                progress.say(&format!("summarised {r} reference and {c} current rows…"))
            }
        },
    )
    .with_context(|| {
        format!(
            "comparing {} (reference) with {} (current)",
            args.reference.display(),
            args.current.display()
        )
    })?;
    progress.done();
    for note in notes {
        output::warn(&note);
    }
    record(db, args, &report);
    if let Some(path) = &args.out {
        let json = report.to_json()?;
        retention_core::atomic_write(path, |w| {
            w.write_all(json.as_bytes())
                .map_err(|e| retention_core::Error::io(path, e))
        })?;
    }
    if args.json {
        writeln!(out, "{}", report.to_json()?)?;
    } else {
        print_report(args, &report, out)?;
        if let Some(path) = &args.out {
            writeln!(out, "\nReport written to {}", path.display())?;
        }
    }
    let fail_at = match args.fail_on {
        FailOnArg::Warn => Some(Status::Warn),
        FailOnArg::Alert => Some(Status::Alert),
        FailOnArg::Never => None,
    };
    Ok(match fail_at {
        Some(level) if report.verdict.status >= level => ExitCode::from(DRIFT_EXIT),
        _ => ExitCode::SUCCESS,
    })
}

/// The comparison's options from the arguments, thresholds checked.
fn options(args: &DriftArgs) -> Result<DriftOptions> {
    let options = DriftOptions {
        thresholds: DriftThresholds {
            psi_warn: args.psi_warn,
            psi_alert: args.psi_alert,
            p_value: args.p_value,
            distance_warn: args.distance_warn,
            drift_share: args.drift_share,
        },
        bins: args.bins,
        schema: schema_options(&args.schema),
    };
    options.thresholds.check()?;
    Ok(options)
}

/// Records the verdict in the operations database, when it exists: monitoring reads the latest
/// from there (`retention serve` exports it as retentionai_data_drift_score). A database that
/// does not exist is not created; a failure is a warning.
fn record(db: &Db, args: &DriftArgs, report: &DriftReport) {
    if db.file().is_some_and(|f| !f.exists()) {
        return;
    }
    let recorded = retention_core::store::Store::open_existing(db).and_then(|store| {
        store.record_drift(
            &args.reference.display().to_string(),
            &args.current.display().to_string(),
            report,
        )
    });
    if let Err(e) = recorded {
        output::warn(&format!("the drift report was not recorded in {}: {e}", db));
    }
}

fn print_report(args: &DriftArgs, report: &DriftReport, out: &mut dyn Write) -> Result<()> {
    writeln!(
        out,
        "Drift of {} ({} rows) against {} ({} rows).\n",
        args.current.display(),
        report.current_rows,
        args.reference.display(),
        report.reference_rows
    )?;
    let mut table = Table::new([
        "column", "kind", "status", "PSI", "p-value", "distance", "change",
    ])
    .text_column(6);
    for f in &report.features {
        let distance = match (f.wasserstein, f.js_distance) {
            (Some(w), _) => format!("{w:.3} W"),
            (None, Some(js)) => format!("{js:.3} JS"),
            _ => "-".into(),
        };
        table.row([
            f.column.clone(),
            f.kind.as_str().to_string(),
            f.status.as_str().to_string(),
            format!("{:.3}", f.psi),
            p_value(f.p_value),
            distance,
            f.change.clone(),
        ]);
    }
    for name in &report.missing_columns {
        table.row([
            name.as_str(),
            "-",
            Status::Alert.as_str(),
            "-",
            "-",
            "-",
            "missing from the current table",
        ]);
    }
    table.write(out)?;
    for f in report.features.iter().filter(|f| f.note.is_some()) {
        writeln!(
            out,
            "  note: {}: {}",
            f.column,
            crate::spelling::text(f.note.as_deref().unwrap_or(""))
        )?;
    }
    if !report.new_columns.is_empty() {
        writeln!(
            out,
            "  note: columns only in the current table (not compared): {}",
            report.new_columns.join(", ")
        )?;
    }
    if let Some(p) = &report.prediction {
        print_prediction(p, out)?;
    }
    writeln!(
        out,
        "\nVerdict: {}: {}.",
        report.verdict.status.as_str().to_uppercase(),
        report.verdict.summary
    )?;
    Ok(())
}

/// The model's side: prediction drift, the tier mix and performance.
fn print_prediction(p: &PredictionDrift, out: &mut dyn Write) -> Result<()> {
    writeln!(out)?;
    writeln!(
        out,
        "Predictions: {} (PSI {:.3}, KS {:.3}, p-value {}); mean churn probability {:.3} -> {:.3}.",
        p.status,
        p.psi,
        p.ks_statistic,
        p_value(p.p_value),
        p.mean_reference,
        p.mean_current
    )?;
    let tiers: Vec<String> = p
        .tiers
        .iter()
        .map(|t| {
            format!(
                "{} {:.1}% -> {:.1}%",
                t.label,
                100.0 * t.reference,
                100.0 * t.current
            )
        })
        .collect();
    writeln!(
        out,
        "Risk tiers: {} (PSI {:.3}).",
        tiers.join(", "),
        p.tier_psi
    )?;
    let mut perf = Table::new(["performance", "ROC-AUC", "accuracy", "churn rate"]);
    let mut add = |name: &str, m: &retention_core::drift::Performance| {
        perf.row([
            name.to_string(),
            format!("{:.4}", m.roc_auc),
            format!("{:.4}", m.accuracy),
            format!("{:.4}", m.churn_rate),
        ]);
    };
    add("estimated, reference", &p.estimated_reference);
    add("estimated, current", &p.estimated_current);
    if let Some(m) = &p.realised_reference {
        add("measured, reference", m);
    }
    if let Some(m) = &p.realised_current {
        add("measured, current", m);
    }
    writeln!(out)?;
    perf.write(out)?;
    Ok(())
}

fn p_value(p: f64) -> String {
    if p < 1e-4 {
        format!("{p:.1e}")
    } else {
        format!("{p:.4}")
    }
}
