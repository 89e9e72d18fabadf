//! `retention train`

use std::io::Write;

use anyhow::{Context, Result};
use retention_core::prelude::*;

use crate::cli::{
    AlgorithmArg, CalibrationArg, ClassWeightArg, SelectArg, ThresholdObjectiveArg, TrainArgs,
};
use crate::output::{self, Progress as Bar};
use retention_core::estimators::ClassWeight;

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
    let report = |p: Progress| match p {
        Progress::Fold(done, k) => bar.say(&format!("cross-validation: {done}/{k} folds done")),
        Progress::FinalFit(rows) => bar.say(&format!("fitting the final model on {rows} rows")),
    };
    let model = train(&ds, &params, &report)?;
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
            "rows": ds.height(),
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
    let churn = ds
        .target
        .as_ref()
        .map_or(0, |y| y.iter().filter(|v| **v).count());
    writeln!(
        out,
        "Trained {} on {} rows ({} churned, {:.1} %) with {} model inputs from {} columns.",
        model.estimator.name(),
        ds.height(),
        churn,
        100.0 * churn as f64 / ds.height().max(1) as f64,
        model.pipeline.n_outputs(),
        ds.schema.feature_names().len() + params.features.features.len(),
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
    let algorithm = match args.algorithm {
        AlgorithmArg::Auto => Algorithm::Auto,
        AlgorithmArg::Logistic => Algorithm::Logistic,
        AlgorithmArg::Tree => Algorithm::Tree,
        AlgorithmArg::Boosting => Algorithm::Boosting,
    };
    let mut params = TrainParams::new(algorithm)
        .cv_folds(args.cv)
        .seed(args.seed)
        .test_size(args.test_size);
    if let Some(spec) = &args.features {
        params.features = FeatureSpec::load(spec)?;
    }
    params.estimator.logistic.l2 = args.l2;
    params.estimator.tree.max_depth = args.max_depth;
    params.estimator.tree.min_samples_leaf = args.min_samples_leaf;
    params.estimator.tree.min_samples_split = 2 * args.min_samples_leaf;
    params.estimator.boosting.trees = args.trees;
    params.estimator.boosting.learning_rate = args.learning_rate;
    params.estimator.boosting.max_leaves = args.max_leaves;
    params.estimator.class_weight = match args.class_weight {
        ClassWeightArg::None => ClassWeight::None,
        ClassWeightArg::Balanced => ClassWeight::Balanced,
    };
    params.threshold = args.threshold;
    params.calibration = match args.calibration {
        CalibrationArg::None => CalibrationMethod::None,
        CalibrationArg::Platt => CalibrationMethod::Platt,
        CalibrationArg::Isotonic => CalibrationMethod::Isotonic,
    };
    params.selection = match args.select_by {
        SelectArg::LogLoss => SelectionMetric::LogLoss,
        SelectArg::RocAuc => SelectionMetric::RocAuc,
    };
    params.threshold_objective = match args.threshold_objective {
        ThresholdObjectiveArg::Fixed => ThresholdObjective::Fixed,
        ThresholdObjectiveArg::F1 => ThresholdObjective::F1,
        ThresholdObjectiveArg::Profit => ThresholdObjective::Profit,
    };
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
