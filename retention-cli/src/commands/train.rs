//! `retention train`

use std::io::Write;

use anyhow::{Context, Result};
use retention_core::prelude::*;

use crate::cli::TrainArgs;
use crate::output::{self, Progress as Bar};

pub fn run(args: &TrainArgs, out: &mut dyn Write) -> Result<()> {
    let mut inputs = vec![args.data.as_path()];
    inputs.extend(args.features.as_deref());
    retention_core::refuse_output_over_inputs("output", &args.out, &inputs)?;
    let params = params(args)?;
    let bar = Bar::new();
    bar.say(&format!("reading {}", args.data.display()));
    let ds = Dataset::load(&args.data, &schema_options(&args.schema))?;
    for w in &ds.warnings {
        output::warn(w);
    }
    let report = |p: Progress| bar.say(&p.to_string());
    // What the summary reports of the table, taken before training consumes it (and frees its
    // text as soon as it is coded).
    let n_rows = ds.height();
    let churn = ds
        .target
        .as_ref()
        .map_or(0, |y| y.iter().filter(|v| **v).count());
    let n_columns = ds.schema.feature_names().len() + params.features.features.len();
    let model = train_owned(ds, &params, &report)?;
    bar.done();
    for note in model.estimator.fit_notes() {
        output::warn(&note);
    }
    model
        .save(&args.out)
        .with_context(|| format!("saving the model to {}", args.out.display()))?;

    if args.json {
        let summary = serde_json::json!({
            "model": args.out,
            "algorithm": model.estimator.name(),
            "rows": n_rows,
            "features": model.pipeline.n_outputs(),
            "cv": model.metrics.cv.as_ref().map(|c| &c.summary),
            "out_of_fold": model.metrics.out_of_fold,
            "holdout": model.metrics.holdout,
            "training": model.metrics.training,
            "leaderboard": model.metrics.leaderboard,
            "calibration": model.calibrator.method(),
            "threshold": model.threshold,
            "threshold_choice": model.threshold_choice,
            "notes": model.notes,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&summary)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "Trained {} on {} rows ({} churned, {:.1} %) with {} model inputs from {} columns.",
        model.estimator.name(),
        n_rows,
        churn,
        100.0 * churn as f64 / n_rows.max(1) as f64,
        model.pipeline.n_outputs(),
        n_columns,
    )?;
    if model.metrics.leaderboard.len() > 1 {
        writeln!(out)?;
        output::leaderboard_table(&model.metrics.leaderboard).write(out)?;
    }
    let mut columns: Vec<(&str, &Metrics)> = Vec::new();
    if let Some(h) = &model.metrics.holdout {
        columns.push(("holdout", h));
    }
    columns.push(("training (optimistic)", &model.metrics.training));
    writeln!(out)?;
    output::metrics_table(model.metrics.cv.as_ref(), &columns).write(out)?;
    writeln!(out, "\n{}", output::threshold_line(&model))?;
    writeln!(out, "Model written to {}", args.out.display())?;
    Ok(())
}

pub fn schema_options(args: &crate::cli::SchemaArgs) -> SchemaOptions {
    SchemaOptions {
        target: args.target.clone(),
        id: args.id.clone(),
        categorical: args.categorical.clone(),
        numeric: args.numeric.clone(),
        ignore: args.ignore.clone(),
        positive_label: args.positive_label.clone(),
    }
}

fn params(args: &TrainArgs) -> Result<TrainParams> {
    let mut params = TrainParams::new(args.algorithm)
        .cv_folds(args.cv)
        .seed(args.seed)
        .test_size(args.test_size);
    if let Some(spec) = &args.features {
        params.features = FeatureSpec::load(spec)?;
    }
    params.estimator.logistic.l2 = args.l2;
    params.estimator.tree.max_depth = args.max_depth;
    params
        .estimator
        .tree
        .set_min_samples_leaf(args.min_samples_leaf);
    params.estimator.boosting.trees = args.trees;
    params.estimator.boosting.learning_rate = args.learning_rate;
    params.estimator.boosting.max_leaves = args.max_leaves;
    params.estimator.class_weight = args.class_weight;
    params.threshold = args.threshold;
    params.calibration = args.calibration;
    params.selection = args.select_by;
    params.threshold_objective = args.threshold_objective;
    params.business = BusinessValues {
        customer_value: args.customer_value,
        offer_cost: args.offer_cost,
        offer_success_rate: args.offer_success_rate,
    };
    let (medium, high) = args.tiers;
    params.tiers = RiskTiers { medium, high };
    params.check()?;
    Ok(params)
}
