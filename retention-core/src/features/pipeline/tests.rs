//! Tests of `pipeline.rs`.

use super::*;
use crate::data::{Dataset, SchemaOptions};

fn dataset() -> Dataset {
    let mut contract = vec!["M"; 30];
    contract.extend(vec!["Y"; 20]);
    contract[0] = "Z"; // rare
    contract[1] = "W"; // rare
    let tenure: Vec<Option<f64>> = (0..50)
        .map(|i| if i == 3 { None } else { Some(i as f64) })
        .collect();
    let churn: Vec<&str> = (0..50)
        .map(|i| if i % 3 == 0 { "Yes" } else { "No" })
        .collect();
    let raw = df!("tenure" => tenure, "Contract" => contract, "Churn" => churn).unwrap();
    Dataset::infer(&raw, &SchemaOptions::new()).unwrap()
}

#[test]
fn learns_imputation_encoding_and_scaling() {
    let ds = dataset();
    let p = FittedPipeline::fit(
        &ds.frame,
        &ds.schema,
        &FeatureSpec::default(),
        &PipelineParams::default(),
    )
    .unwrap();
    let names: Vec<&str> = p.outputs.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "tenure",
            "tenure (missing)",
            "Contract = M",
            "Contract = Y",
            "Contract = (other)"
        ]
    );
    let (m, report) = p.transform(&ds.frame).unwrap();
    assert!(
        report.unseen.is_empty(),
        "rare training levels are not 'unseen'"
    );
    let t = m.column(0);
    let mean = t.iter().sum::<f64>() / 50.0;
    let sd = (t.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 50.0).sqrt();
    assert!(
        mean.abs() < 1e-12 && (sd - 1.0).abs() < 1e-12,
        "{mean} {sd}"
    );
    assert_eq!(m.column(1)[3], 1.0);
    assert_eq!(m.column(4)[0], 1.0, "rare level goes to (other)");
    assert_eq!(p.outputs[4].source, "Contract");
}

#[test]
fn unseen_levels_are_counted_not_fatal() {
    let ds = dataset();
    let p = FittedPipeline::fit(
        &ds.frame,
        &ds.schema,
        &FeatureSpec::default(),
        &PipelineParams::default(),
    )
    .unwrap();
    let new = df!("tenure" => [Some(5.0)], "Contract" => [Some("Q")]).unwrap();
    let (m, report) = p.transform(&new).unwrap();
    assert_eq!(report.unseen["Contract"].count, 1);
    assert_eq!(report.unseen["Contract"].examples, vec!["Q"]);
    assert_eq!(m.column(4)[0], 1.0);
    assert!(report.messages()[0].contains("\"Q\""));
    let missing = df!("tenure" => [1.0]).unwrap();
    let e = p.transform(&missing).unwrap_err();
    assert!(e.to_string().contains("'Contract' not found"), "{e}");
    // A column of another type than its role's is refused by name, whichever way round.
    let numbers_as_text = df!("tenure" => ["5"], "Contract" => ["M"]).unwrap();
    let e = p.transform(&numbers_as_text).unwrap_err();
    assert!(e.to_string().contains("'tenure' holds text"), "{e}");
    let integers = df!("tenure" => [5.0], "Contract" => [3i64]).unwrap();
    let e = p.transform(&integers).unwrap_err();
    assert!(e.to_string().contains("column 'Contract' is i64"), "{e}");
}

#[test]
fn coded_rows_give_what_a_copied_frame_gives() {
    let ds = dataset();
    // Derived features too: they are computed on the whole frame, then selected.
    let spec = FeatureSpec {
        features: vec![crate::features::DerivedFeature::Log1p {
            name: "log tenure".into(),
            column: "tenure".into(),
        }],
    };
    let params = PipelineParams {
        rare_min_count: 3,
        ..PipelineParams::default()
    };
    // Out of order, with a repeat, and leaving rows out (so the levels and medians differ from
    // the whole table's).
    let rows: Vec<usize> = (0..50).rev().filter(|i| i % 4 != 1).chain([7, 7]).collect();
    let idx = IdxCa::from_vec("i".into(), rows.iter().map(|&i| i as IdxSize).collect());
    let copied = ds.frame.take(&idx).unwrap();
    let (p_copy, x_copy) =
        FittedPipeline::fit_transform(&copied, &ds.schema, &spec, &params).unwrap();
    let table = FittedPipeline::training_table(ds.frame.clone(), &ds.schema, &spec).unwrap();
    let selection = RowSelection::of(&rows, ds.height());
    let (p_sel, x_sel) =
        FittedPipeline::fit_transform_table(&table, &selection, &ds.schema, &spec, &params)
            .unwrap();
    assert_eq!(p_sel, p_copy);
    assert_eq!(x_sel.values, x_copy.values);
    assert_eq!(x_sel.n_rows, rows.len());
    let whole = FittedPipeline::fit(&ds.frame, &ds.schema, &spec, &params).unwrap();
    assert_ne!(p_sel, whole, "the selection must change what is learned");

    let test: Vec<usize> = (0..50).filter(|i| i % 4 == 1).collect();
    let idx = IdxCa::from_vec("i".into(), test.iter().map(|&i| i as IdxSize).collect());
    let (t_copy, _) = p_sel.transform(&ds.frame.take(&idx).unwrap()).unwrap();
    let (t_sel, _) = p_sel
        .transform_table(&table, &RowSelection::of(&test, ds.height()))
        .unwrap();
    assert_eq!(t_sel.values, t_copy.values);

    let all: Vec<usize> = (0..ds.height()).collect();
    assert!(matches!(
        RowSelection::of(&all, ds.height()),
        RowSelection::All
    ));
    let e = p_sel
        .transform_table(&table, &RowSelection::of(&[0, 50], ds.height()))
        .unwrap_err();
    assert!(e.to_string().contains("row 50"), "{e}");
}
