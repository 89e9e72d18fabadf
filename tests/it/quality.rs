//! Model quality and reproducibility through the library API.

use retention::data::read_table;
use retention::prelude::*;
use retention::scoring::PROBABILITY;

#[test]
fn logistic_regression_cross_validates_above_the_guard() {
    let model = train(
        &crate::util::telco_dataset(),
        &TrainParams::new(Algorithm::Logistic),
        &|_| {},
    )
    .unwrap();
    let auc = model.metrics.cv.as_ref().unwrap().get("roc_auc").unwrap();
    // scikit-learn's LogisticRegression pipeline: 0.845 ± 0.015 on the same protocol.
    assert!(
        auc.mean >= 0.83,
        "logistic CV ROC-AUC {:.4} ± {:.4}",
        auc.mean,
        auc.std
    );
    assert!(
        auc.mean <= 0.87,
        "suspiciously high ({:.4}): leakage?",
        auc.mean
    );
    let Estimator::Logistic(lr) = &model.estimator else {
        panic!("not logistic")
    };
    assert!(lr.converged, "gradient norm {}", lr.gradient_norm);
}

#[test]
fn decision_tree_cross_validates_above_the_guard_and_is_deterministic() {
    let ds = crate::util::telco_dataset();
    let params = TrainParams::new(Algorithm::Tree);
    let a = train(&ds, &params, &|_| {}).unwrap();
    let b = train(&ds, &params, &|_| {}).unwrap();
    let auc = a.metrics.cv.as_ref().unwrap().get("roc_auc").unwrap().mean;
    assert!(auc >= 0.80, "tree CV ROC-AUC {auc:.4}");
    assert_eq!(a.estimator, b.estimator, "two fits of the same data differ");
    assert_eq!(a.metrics.cv, b.metrics.cv);
}

#[test]
fn the_artifact_round_trips_exactly() {
    let model = train(
        &crate::util::telco_dataset(),
        &TrainParams::new(Algorithm::Tree).cv_folds(0),
        &|_| {},
    )
    .unwrap();
    let dir = crate::util::tempdir();
    let path = dir.path().join("m.json");
    model.save(&path).unwrap();
    let back = ChurnModel::load(&path).unwrap();
    assert_eq!(back, model);
}

#[test]
fn batched_scoring_equals_whole_table_scoring() {
    let model = train(
        &crate::util::telco_dataset(),
        &TrainParams::new(Algorithm::Logistic).cv_folds(0),
        &|_| {},
    )
    .unwrap();
    let raw = read_table(&crate::util::telco()).unwrap().frame;
    let (whole, _, _) = model.score_frame(&raw, 0, &[]).unwrap();
    let dir = crate::util::tempdir();
    let out = dir.path().join("s.parquet");
    let options = ScoreOptions {
        block_bytes: 64 << 10,
        ..Default::default()
    };
    let batches = std::cell::Cell::new(0);
    let summary = model
        .score_file(&crate::util::telco(), &out, &options, &|_| {
            batches.set(batches.get() + 1)
        })
        .unwrap();
    assert!(batches.get() > 5, "only {} batches", batches.get());
    assert_eq!(summary.rows, 7043);
    assert_eq!(summary.tiers.values().sum::<usize>(), 7043);
    let scored = read_table(&out).unwrap().frame;
    assert!(
        scored.equals(&whole),
        "batched output differs from whole-table output"
    );
    let p = scored.column(PROBABILITY).unwrap().f64().unwrap().clone();
    assert_eq!(p.null_count(), 0);
}

#[test]
fn derived_features_are_applied_at_scoring_from_the_artifact() {
    let spec = FeatureSpec::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/telco_features.toml"),
    )
    .unwrap();
    let model = train(
        &crate::util::telco_dataset(),
        &TrainParams::new(Algorithm::Logistic)
            .cv_folds(0)
            .features(spec),
        &|_| {},
    )
    .unwrap();
    let names: Vec<&str> = model
        .pipeline
        .outputs
        .iter()
        .map(|o| o.name.as_str())
        .collect();
    for derived in [
        "avg_monthly_charge",
        "addon_services",
        "contract_months",
        "tenure_cohort = <6",
        "log_total_charges",
    ] {
        assert!(names.contains(&derived), "{derived} missing from {names:?}");
    }
    // The scoring table has only the raw columns: derived ones come from the artifact.
    let raw = read_table(&crate::util::telco()).unwrap().frame;
    let (scores, unseen, _) = model.score_frame(&raw.head(Some(50)), 0, &[]).unwrap();
    assert_eq!(scores.height(), 50);
    assert!(unseen.unseen.is_empty());
}

#[test]
fn unseen_levels_are_scored_and_reported() {
    let model = train(
        &crate::util::telco_dataset(),
        &TrainParams::new(Algorithm::Logistic).cv_folds(0),
        &|_| {},
    )
    .unwrap();
    let mut raw = read_table(&crate::util::telco())
        .unwrap()
        .frame
        .head(Some(10));
    let contract: Vec<&str> = vec!["Three year"; 10];
    raw.replace(
        "Contract",
        polars::prelude::Column::new("Contract".into(), contract),
    )
    .unwrap();
    let (scores, report, _) = model.score_frame(&raw, 0, &[]).unwrap();
    assert_eq!(scores.height(), 10);
    assert_eq!(report.unseen["Contract"].count, 10);
    assert_eq!(report.unseen["Contract"].examples, vec!["Three year"]);
}

#[test]
fn the_curves_agree_with_the_metrics_and_end_with_everyone_contacted() {
    let raw = read_table(&crate::util::telco()).unwrap().frame;
    let model = train(
        &crate::util::telco_dataset(),
        &TrainParams::new(Algorithm::Logistic).cv_folds(0),
        &|_| {},
    )
    .unwrap();
    let curves = model.curves(&raw).unwrap();
    let (metrics, _) = model.evaluate(&raw).unwrap();
    let col = |name: &str| -> Vec<f64> {
        let c = curves
            .column(name)
            .unwrap()
            .cast(&polars::prelude::DataType::Float64)
            .unwrap();
        c.f64().unwrap().into_no_null_iter().collect()
    };
    let (threshold, recall, fpr, contacted) = (
        col("threshold"),
        col("recall"),
        col("false_positive_rate"),
        col("contacted"),
    );
    assert!(
        threshold.windows(2).all(|w| w[0] > w[1]),
        "thresholds strictly decrease"
    );
    assert_eq!(contacted.last().copied(), Some(raw.height() as f64));
    assert_eq!(
        (recall.last().copied(), fpr.last().copied()),
        (Some(1.0), Some(1.0))
    );
    // The area under the ROC points is the ROC-AUC evaluate reports.
    let (mut area, mut x0, mut y0) = (0.0, 0.0, 0.0);
    for (x1, y1) in fpr.iter().zip(&recall) {
        area += (x1 - x0) * (y0 + y1) / 2.0;
        (x0, y0) = (*x1, *y1);
    }
    assert!(
        (area - metrics.roc_auc).abs() < 1e-9,
        "{area} vs {}",
        metrics.roc_auc
    );
    // At the model's threshold the counts are the confusion matrix's.
    let at = threshold
        .iter()
        .rposition(|t| *t >= model.threshold)
        .unwrap();
    let churners = col("churners")[at];
    assert_eq!(churners, metrics.confusion.tp as f64);
    assert_eq!(contacted[at] - churners, metrics.confusion.fp as f64);
    // Lift is precision over the churn rate; profit uses the model's business values.
    let b = &model.params.business;
    let expected = churners * (b.customer_value * b.offer_success_rate - b.offer_cost)
        - (contacted[at] - churners) * b.offer_cost;
    assert!((col("profit")[at] - expected).abs() < 1e-6);
    assert!((col("lift")[at] - col("precision")[at] / metrics.churn_rate).abs() < 1e-12);
}
