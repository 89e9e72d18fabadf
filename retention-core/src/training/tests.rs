//! Unit tests of training.

use super::*;

#[test]
fn folds_are_stratified_and_seeded() {
    let y: Vec<bool> = (0..1000).map(|i| i % 4 == 0).collect();
    let f = stratified_folds(&y, 5, 42);
    for fold in 0..5 {
        let pos = (0..1000).filter(|&i| f[i] == fold && y[i]).count();
        let all = (0..1000).filter(|&i| f[i] == fold).count();
        assert_eq!(pos, 50);
        assert_eq!(all, 200);
    }
    assert_eq!(f, stratified_folds(&y, 5, 42));
    assert_ne!(f, stratified_folds(&y, 5, 7));
}

#[test]
fn split_keeps_the_churn_share() {
    let y: Vec<bool> = (0..1000).map(|i| i % 4 == 0).collect();
    let (train, test) = stratified_split(&y, 0.2, 1).unwrap();
    assert_eq!(test.len(), 200);
    assert_eq!(test.iter().filter(|&&i| y[i]).count(), 50);
    assert_eq!(train.len() + test.len(), 1000);
    assert!(stratified_split(&y[..3], 0.2, 1).is_err());
}

#[test]
fn profit_threshold_maximises_profit() {
    let params = TrainParams::default().threshold_objective(ThresholdObjective::Profit);
    // Contacting a churner gains 1200·0.7 − 50 = 790; a stayer costs 50.
    let p = [0.9, 0.8, 0.6, 0.4, 0.2, 0.1];
    let y = [true, false, true, false, false, false];
    let t = choose_threshold(&params, &p, &y);
    assert_eq!(t, 0.6);
    assert!((profit_at(&params.business, &p, &y, t) - (790.0 * 2.0 - 50.0)).abs() < 1e-9);
    let f1 = TrainParams::default().threshold_objective(ThresholdObjective::F1);
    assert_eq!(choose_threshold(&f1, &p, &y), 0.6);
    // When every contact loses money, contact nobody.
    let expensive = TrainParams {
        business: BusinessValues {
            offer_cost: 10_000.0,
            ..Default::default()
        },
        ..params
    };
    assert!(choose_threshold(&expensive, &p, &y) > 0.99);
}

#[test]
fn thresholds_and_selection_are_total_over_nan() {
    // A NaN probability used to stop the tie loop from advancing: an endless loop.
    let p = [0.9, f64::NAN, 0.6, -f64::NAN, 0.2];
    let y = [true, false, true, false, false];
    for objective in [ThresholdObjective::F1, ThresholdObjective::Profit] {
        let params = TrainParams::default().threshold_objective(objective);
        let t = choose_threshold(&params, &p, &y);
        assert!(t.is_finite(), "{objective:?}: {t}");
    }
    // A NaN loss ranks last, whatever its sign bit.
    let mut losses = [0.5, -f64::NAN, 0.3, f64::NAN];
    losses.sort_by(|a, b| nan_last(*a, *b));
    assert_eq!(&losses[..2], &[0.3, 0.5]);
    assert!(losses[2].is_nan() && losses[3].is_nan());
}

#[test]
fn rng_is_uniform_enough() {
    let mut r = SplitMix64::new(0);
    let mean = (0..10_000).map(|_| r.next_f64()).sum::<f64>() / 10_000.0;
    assert!((mean - 0.5).abs() < 0.02, "{mean}");
}

#[test]
fn a_threshold_given_with_a_choosing_objective_is_refused() {
    let mut params = TrainParams::default().threshold_objective(ThresholdObjective::F1);
    assert!(params.check().is_ok());
    params.threshold = 0.3;
    let err = params.check().unwrap_err().to_string();
    assert!(err.contains("threshold") && err.contains("f1"), "{err}");
    params.threshold_objective = ThresholdObjective::Fixed;
    assert!(params.check().is_ok());
}
