//! Explanations add up, name source columns, and what-if rescoring moves the right way.

use std::collections::BTreeMap;

use retention::prelude::*;

fn raw_head(n: usize) -> polars::prelude::DataFrame {
    read_table(&crate::util::telco())
        .unwrap()
        .frame
        .head(Some(n))
}

#[test]
fn contributions_add_up_for_every_estimator() {
    let ds = crate::util::telco_dataset();
    let raw = raw_head(300);
    let mut blend_members = Vec::new();
    for algorithm in Algorithm::ALL {
        let model = train(&ds, &TrainParams::new(algorithm).cv_folds(0), &|_| {}).unwrap();
        let (_, c) = model.contributions(&raw).unwrap();
        assert_eq!(c.n_rows, 300);
        assert_eq!(c.n_inputs, model.pipeline.n_outputs());
        for i in 0..c.n_rows {
            let total: f64 = c.row(i).iter().sum::<f64>() + c.expected_value;
            assert!(
                (total - c.raw[i]).abs() < 1e-6,
                "{algorithm}: row {i}: {total} vs raw {}",
                c.raw[i]
            );
        }
        // The raw output is the model's own decision function.
        let ds_raw = Dataset::with_schema(&raw, &model.schema, 0, false).unwrap();
        let (x, _) = model.pipeline.transform(&ds_raw.frame).unwrap();
        let decision = model.estimator.decision(&x);
        for (a, b) in decision.iter().zip(&c.raw) {
            assert!((a - b).abs() < 1e-9, "{algorithm}: {a} vs {b}");
        }
        blend_members.push(model.estimator.clone());
        let _ = &blend_members;
    }
    // A blend's contributions are the average of its members'.
    let blend = Estimator::Blend {
        members: blend_members,
    };
    let model = train(
        &ds,
        &TrainParams::new(Algorithm::Logistic).cv_folds(0),
        &|_| {},
    )
    .unwrap();
    let ds_raw = Dataset::with_schema(&raw, &model.schema, 0, false).unwrap();
    let (x, _) = model.pipeline.transform(&ds_raw.frame).unwrap();
    let c = blend.contributions(&x, &model.pipeline.input_means);
    for i in 0..c.n_rows {
        let total: f64 = c.row(i).iter().sum::<f64>() + c.expected_value;
        assert!((total - c.raw[i]).abs() < 1e-6 * c.raw[i].abs().max(1.0));
    }
}

#[test]
fn reasons_are_summed_back_to_source_columns() {
    let model = train(
        &crate::util::telco_dataset(),
        &TrainParams::new(Algorithm::Logistic),
        &|_| {},
    )
    .unwrap();
    let raw = raw_head(20);
    let explanations = model.explain(&raw, 100).unwrap();
    let first = &explanations[0];
    assert_eq!(first.id, "7590-VHVEG");
    let columns: Vec<&str> = first.reasons.iter().map(|r| r.column.as_str()).collect();
    // One reason per source column (19 features), never a one-hot piece.
    assert_eq!(columns.len(), 19, "{columns:?}");
    assert!(columns.iter().all(|c| !c.contains(" = ")), "{columns:?}");
    let contract = first
        .reasons
        .iter()
        .find(|r| r.column == "Contract")
        .unwrap();
    assert_eq!(contract.value, "Month-to-month");
    assert!(contract.contribution > 0.0, "month-to-month raises churn");
    assert_eq!(
        contract.to_string().split(':').next().unwrap(),
        "Contract = Month-to-month"
    );
    // Sorted by absolute contribution; summed reasons still add up to raw − expected.
    assert!(
        first
            .reasons
            .windows(2)
            .all(|w| w[0].contribution.abs() >= w[1].contribution.abs())
    );
    let total: f64 = first.reasons.iter().map(|r| r.contribution).sum();
    assert!((total + first.expected_value - first.raw).abs() < 1e-6);
    let tenure = first.reasons.iter().find(|r| r.column == "tenure").unwrap();
    assert_eq!(tenure.value, "1");
}

#[test]
fn what_if_a_longer_contract_lowers_churn() {
    let model = train(
        &crate::util::telco_dataset(),
        &TrainParams::new(Algorithm::Logistic),
        &|_| {},
    )
    .unwrap();
    let raw = raw_head(1);
    let changes = BTreeMap::from([("Contract".to_string(), "Two year".to_string())]);
    let result = model.what_if(&raw, &changes, 3).unwrap();
    assert!(result[0].after < result[0].before - 0.2, "{:?}", result[0]);
    let bad = BTreeMap::from([("Contrakt".to_string(), "x".to_string())]);
    let e = model.what_if(&raw, &bad, 3).unwrap_err();
    assert!(e.to_string().contains("'Contrakt' not found"), "{e}");
}

#[test]
fn importance_ranks_columns() {
    let model = train(
        &crate::util::telco_dataset(),
        &TrainParams::new(Algorithm::Logistic).cv_folds(0),
        &|_| {},
    )
    .unwrap();
    let imp = model.importance(&raw_head(2000)).unwrap();
    assert_eq!(imp.len(), 19);
    assert!(imp.windows(2).all(|w| w[0].1 >= w[1].1));
    let top3: Vec<&str> = imp.iter().take(3).map(|(c, _)| c.as_str()).collect();
    assert!(
        top3.contains(&"tenure") && top3.contains(&"Contract"),
        "{top3:?}"
    );
}

#[test]
fn explain_cli_prints_reasons_writes_files_and_refuses_unknown_ids() {
    use crate::util::{run, stderr, stdout};
    let model = crate::util::telco_model();
    let data = crate::util::telco();
    let o = run([
        "explain".as_ref(),
        "--model".as_ref(),
        model.as_os_str(),
        "--data".as_ref(),
        data.as_os_str(),
        "--id".as_ref(),
        "7590-VHVEG".as_ref(),
        "--top".as_ref(),
        "6".as_ref(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("Contract = Month-to-month: +"),
        "{}",
        stdout(&o)
    );
    let o = run([
        "explain".as_ref(),
        "--model".as_ref(),
        model.as_os_str(),
        "--data".as_ref(),
        data.as_os_str(),
        "--id".as_ref(),
        "7590-VHVEG".as_ref(),
        "--set".as_ref(),
        "Contract=Two year".as_ref(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("What if Contract = Two year"),
        "{}",
        stdout(&o)
    );
    let dir = crate::util::tempdir();
    let out = dir.path().join("reasons.csv");
    let o = run([
        "explain".as_ref(),
        "--model".as_ref(),
        model.as_os_str(),
        "--data".as_ref(),
        data.as_os_str(),
        "--top".as_ref(),
        "2".as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.starts_with("id,churn_probability,reason_1,contribution_1,reason_2,contribution_2\n")
    );
    assert_eq!(text.lines().count(), 7044);
    let o = run([
        "explain".as_ref(),
        "--model".as_ref(),
        model.as_os_str(),
        "--data".as_ref(),
        data.as_os_str(),
        "--id".as_ref(),
        "NOPE".as_ref(),
    ]);
    crate::util::assert_fails_with(&o, "customer id \"NOPE\" not found");
    let o = run([
        "importance".as_ref(),
        "--model".as_ref(),
        model.as_os_str(),
        "--data".as_ref(),
        data.as_os_str(),
    ]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("tenure"));
}

#[test]
fn the_contribution_matrix_has_every_source_column_and_adds_up() {
    let ds = crate::util::telco_dataset();
    let raw = raw_head(200);
    for algorithm in [Algorithm::Logistic, Algorithm::Boosting] {
        let model = train(&ds, &TrainParams::new(algorithm).cv_folds(0), &|_| {}).unwrap();
        let matrix = model.contributions_frame(&raw).unwrap();
        let names: Vec<String> = matrix
            .get_column_names()
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(names.first().map(String::as_str), Some("customerID"));
        assert_eq!(
            names.last().map(String::as_str),
            Some(retention::explain::EXPECTED_VALUE)
        );
        let sources = &names[1..names.len() - 1];
        let mut got: Vec<&str> = sources.iter().map(String::as_str).collect();
        let mut want = model.schema.feature_names();
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got, want, "{algorithm}: one column per source column");
        // Each row adds up to the raw output, and the top reasons are its largest entries.
        let (_, c) = model.contributions(&raw).unwrap();
        let explained = model.explain(&raw, 1).unwrap();
        assert_eq!(explained.len(), matrix.height());
        for (i, explanation) in explained.iter().enumerate() {
            let row: Vec<f64> = sources
                .iter()
                .map(|s| matrix.column(s).unwrap().f64().unwrap().get(i).unwrap())
                .collect();
            let expected = matrix
                .column(retention::explain::EXPECTED_VALUE)
                .unwrap()
                .f64()
                .unwrap()
                .get(i)
                .unwrap();
            let total: f64 = row.iter().sum::<f64>() + expected;
            assert!((total - c.raw[i]).abs() < 1e-9, "{algorithm}: row {i}");
            let top = &explanation.reasons[0];
            let k = sources.iter().position(|s| *s == top.column).unwrap();
            assert_eq!(row[k], top.contribution, "{algorithm}: row {i}");
        }
    }
}
