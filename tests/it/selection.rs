//! Model selection, calibration, boosting and the decision threshold on Telco.

use retention::prelude::*;

#[test]
fn auto_selects_by_cross_validation_and_is_calibrated() {
    let model = train(
        &crate::util::telco_dataset(),
        &TrainParams::default(),
        &|_| {},
    )
    .unwrap();
    let board = &model.metrics.leaderboard;
    assert_eq!(board.len(), 4, "three families and one blend");
    assert_eq!(board.iter().filter(|e| e.selected).count(), 1);
    assert!(board[0].selected, "best first");
    assert!(
        board
            .windows(2)
            .all(|w| w[0].log_loss.mean <= w[1].log_loss.mean)
    );
    assert_eq!(board[0].name, model.estimator.name());
    let cv = model.metrics.cv.as_ref().unwrap();
    let auc = cv.get("roc_auc").unwrap().mean;
    // scikit-learn's logistic regression, the best anchor: 0.845 ± 0.015.
    assert!(auc >= 0.845, "auto CV ROC-AUC {auc:.4}");
    // Pooled out-of-fold predictions (7,043 rows): perfectly calibrated probabilities would show
    // about 0.010 here from sampling alone.
    let ece = model.metrics.out_of_fold.as_ref().unwrap().ece;
    assert!(ece < 0.02, "out-of-fold ECE {ece:.4}");
    assert_eq!(model.calibrator.method(), CalibrationMethod::Platt);
}

#[test]
fn boosting_alone_reaches_the_anchor_and_round_trips() {
    let ds = crate::util::telco_dataset();
    let model = train(&ds, &TrainParams::new(Algorithm::Boosting), &|_| {}).unwrap();
    let auc = model
        .metrics
        .cv
        .as_ref()
        .unwrap()
        .get("roc_auc")
        .unwrap()
        .mean;
    assert!(auc >= 0.84, "boosting CV ROC-AUC {auc:.4}");
    let dir = crate::util::tempdir();
    let path = dir.path().join("boost.json");
    model.save(&path).unwrap();
    let back = ChurnModel::load(&path).unwrap();
    assert_eq!(back, model);
    let raw = read_table(&crate::util::telco()).unwrap().frame;
    let (a, _, _) = model.score_frame(&raw, 0, &[]).unwrap();
    let (b, _, _) = back.score_frame(&raw, 0, &[]).unwrap();
    assert!(a.equals(&b));
}

#[test]
fn balanced_class_weights_raise_raw_probabilities_and_calibration_brings_them_back() {
    let ds = crate::util::telco_dataset();
    let mut params = TrainParams::new(Algorithm::Logistic).calibration(CalibrationMethod::None);
    params.estimator.class_weight = ClassWeight::Balanced;
    let raw = train(&ds, &params, &|_| {}).unwrap();
    let raw_mean = raw.metrics.out_of_fold.as_ref().unwrap();
    // Balanced weights predict churn far more often than its 26.5 % rate.
    assert!(
        raw_mean.confusion.tp + raw_mean.confusion.fp > 2500,
        "{:?}",
        raw_mean.confusion
    );
    params.calibration = CalibrationMethod::Platt;
    let calibrated = train(&ds, &params, &|_| {}).unwrap();
    let oof = calibrated.metrics.out_of_fold.as_ref().unwrap();
    assert!(
        oof.ece < raw_mean.ece / 2.0,
        "{} vs {}",
        oof.ece,
        raw_mean.ece
    );
    assert!(
        (oof.roc_auc - raw_mean.roc_auc).abs() < 1e-3,
        "Platt keeps the ranking"
    );
}

#[test]
fn the_profit_threshold_beats_the_default_one() {
    let ds = crate::util::telco_dataset();
    let fixed = train(&ds, &TrainParams::new(Algorithm::Logistic), &|_| {}).unwrap();
    let profit = train(
        &ds,
        &TrainParams::new(Algorithm::Logistic).threshold_objective(ThresholdObjective::Profit),
        &|_| {},
    )
    .unwrap();
    let value = |m: &ChurnModel| {
        m.threshold_choice
            .as_ref()
            .unwrap()
            .expected_profit_per_1000
            .unwrap()
    };
    // An offer costs 50 and saves 1,200 × 0.7 = 840: contact anyone above about 6 %.
    assert!(
        profit.threshold < 0.2,
        "profit threshold {}",
        profit.threshold
    );
    assert!(
        value(&profit) > value(&fixed),
        "{} vs {}",
        value(&profit),
        value(&fixed)
    );
    assert_eq!(
        profit.threshold_choice.as_ref().unwrap().objective,
        ThresholdObjective::Profit
    );
}

#[test]
fn auto_picks_boosting_where_interactions_matter() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/usage_churn.csv");
    let ds = Dataset::load(
        &path,
        &SchemaOptions::new().target("churned").id("account_id"),
    )
    .unwrap();
    let model = train(&ds, &TrainParams::default(), &|_| {}).unwrap();
    let board = &model.metrics.leaderboard;
    let auc = |name: &str| board.iter().find(|e| e.name == name).unwrap().roc_auc.mean;
    assert_eq!(model.estimator.name(), "boosting", "{board:?}");
    assert!(
        auc("boosting") > auc("logistic") + 0.05,
        "boosting {:.4} vs logistic {:.4}",
        auc("boosting"),
        auc("logistic")
    );
}
