//! Drift monitoring on the Telco table: shifted copies are caught feature by feature, resamples
//! of the same population are not, and the model's performance is estimated without labels.

use std::path::Path;

use polars::prelude::*;
use retention::data::{Dataset, SchemaOptions, read_table};
use retention::drift::{DriftOptions, DriftReport, Status};
use retention::prelude::*;
use retention::training::{SplitMix64, stratified_split};

use crate::util::{
    assert_fails_with, run, stderr, stdout, telco, telco_col, telco_edited, telco_model,
    telco_text, tempdir,
};

/// Telco with tenure 6 months shorter (floored at 0) and 15 % of all customers moved from a
/// one- or two-year contract to month-to-month (every third such customer).
fn shifted_telco(dir: &Path) -> std::path::PathBuf {
    let (tenure, contract) = (telco_col("tenure"), telco_col("Contract"));
    let fixed_term = std::cell::Cell::new(0usize);
    telco_edited(dir, "shifted.csv", |_, f| {
        let t: i64 = f[tenure].parse().unwrap_or(0);
        f[tenure] = (t - 6).max(0).to_string();
        if f[contract] != "Month-to-month" {
            if fixed_term.get() % 3 == 0 {
                f[contract] = "Month-to-month".into();
            }
            fixed_term.set(fixed_term.get() + 1);
        }
    })
}

/// A bootstrap resample of Telco's rows (same size, drawn with replacement).
fn bootstrap_telco(dir: &Path, seed: u64) -> std::path::PathBuf {
    let mut lines = telco_text().lines();
    let header = lines.next().unwrap_or_default();
    let rows: Vec<&str> = lines.collect();
    let mut rng = SplitMix64::new(seed);
    let mut out = format!("{header}\n");
    for _ in 0..rows.len() {
        out.push_str(rows[(rng.next_u64() % rows.len() as u64) as usize]);
        out.push('\n');
    }
    let path = dir.join(format!("bootstrap-{seed}.csv"));
    std::fs::write(&path, out).expect("write the resample");
    path
}

fn drift_json(current: &Path, extra: &[&str]) -> (std::process::Output, serde_json::Value) {
    let mut args = vec![
        "drift".to_string(),
        "--reference".into(),
        telco().display().to_string(),
        "--current".into(),
        current.display().to_string(),
        "--json".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let o = run(&args);
    let report = serde_json::from_str(&stdout(&o)).unwrap_or(serde_json::Value::Null);
    (o, report)
}

fn drifting(report: &serde_json::Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = report["features"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .filter(|f| f["status"] != "ok")
        .map(|f| {
            (
                f["column"].as_str().unwrap_or_default().to_string(),
                f["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_shifted_copy_flags_exactly_the_shifted_features() {
    let dir = tempdir();
    let shifted = shifted_telco(dir.path());
    let (o, report) = drift_json(&shifted, &["--fail-on", "warn"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert_eq!(
        drifting(&report),
        [
            ("Contract".to_string(), "warn".to_string()),
            ("tenure".to_string(), "alert".to_string())
        ]
    );
    assert_eq!(report["verdict"]["status"], "alert");
    assert_eq!(report["verdict"]["drifting"], 2);
    assert_eq!(report["verdict"]["features"], 19);
    // Ranked by drift: the alert first.
    assert_eq!(report["features"][0]["column"], "tenure");
    let contract = &report["features"][1];
    assert_eq!(contract["change"], "Month-to-month 55.0% -> 70.0%");
    // 15 points moved between three levels: PSI just under 0.1, JS distance over 0.1.
    let psi = contract["psi"].as_f64().unwrap_or(f64::NAN);
    assert!((0.09..0.1).contains(&psi), "{psi}");

    // --fail-on alert also trips; --fail-on never (the default) does not.
    let (o, _) = drift_json(&shifted, &["--fail-on", "alert"]);
    assert_eq!(o.status.code(), Some(3));
    let (o, _) = drift_json(&shifted, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn resamples_of_the_same_customers_flag_nothing() {
    let dir = tempdir();
    for seed in [1, 2, 3] {
        let boot = bootstrap_telco(dir.path(), seed);
        let (o, report) = drift_json(&boot, &["--fail-on", "warn"]);
        assert_eq!(o.status.code(), Some(0), "seed {seed}: {}", stderr(&o));
        assert_eq!(drifting(&report), [], "seed {seed}");
        assert_eq!(report["verdict"]["status"], "ok");
    }
}

#[test]
fn the_table_names_the_drifting_columns_and_the_verdict() {
    let dir = tempdir();
    let shifted = shifted_telco(dir.path());
    let out = dir.path().join("report.json");
    let o = run([
        "drift".as_ref(),
        "--reference".as_ref(),
        telco().as_os_str(),
        "--current".as_ref(),
        shifted.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let tenure_line = text
        .lines()
        .find(|l| l.trim_start().starts_with("tenure"))
        .unwrap_or_default();
    assert!(
        tenure_line.contains("alert") && tenure_line.contains("mean 32.37 -> 27.1"),
        "{text}"
    );
    assert!(
        text.contains("Verdict: ALERT: 2 of 19 features drifting"),
        "{text}"
    );
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap_or_default())
            .unwrap_or_default();
    assert_eq!(saved["verdict"]["drifting"], 2);
}

#[test]
fn with_a_model_predictions_drift_too() {
    let dir = tempdir();
    let shifted = shifted_telco(dir.path());
    let model = telco_model();
    let (o, report) = drift_json(&shifted, &["--model", model.to_str().unwrap_or_default()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let p = &report["prediction"];
    assert_ne!(p["status"], "ok", "{p}");
    let (before, after) = (
        p["mean_reference"].as_f64().unwrap_or(0.0),
        p["mean_current"].as_f64().unwrap_or(0.0),
    );
    assert!(after > before + 0.03, "{before} -> {after}");
    // Both tables carry labels (unchanged by the shift): measured metrics are reported.
    assert!(p["realised_current"]["roc_auc"].as_f64().is_some(), "{p}");
    let tiers: Vec<&str> = p["tiers"]
        .as_array()
        .map(|a| a.iter().filter_map(|t| t["label"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(tiers, ["Low", "Medium", "High"]);
}

/// Rows of a raw table selected by index.
fn rows(frame: &DataFrame, idx: &[usize]) -> DataFrame {
    let idx = IdxCa::from_vec("idx".into(), idx.iter().map(|&i| i as IdxSize).collect());
    frame.take(&idx).expect("take rows")
}

#[test]
fn estimated_performance_tracks_the_measured_one_on_a_holdout() {
    let raw = read_table(&telco()).expect("read Telco").frame;
    let ds = Dataset::infer(&raw, &SchemaOptions::new().target("Churn").id("customerID"))
        .expect("types");
    let y = ds.target.clone().unwrap_or_default();
    for seed in [1u64, 2] {
        let (train_idx, test_idx) = stratified_split(&y, 0.3, seed).expect("split");
        let train_raw = rows(&raw, &train_idx);
        let test_raw = rows(&raw, &test_idx);
        let train_ds = Dataset::with_schema(&train_raw, &ds.schema, 0, true).expect("train");
        let model = train(
            &train_ds,
            &TrainParams::new(Algorithm::Logistic).cv_folds(5),
            &|_| {},
        )
        .expect("train");
        let report = DriftReport::compute(
            &train_raw,
            &test_raw,
            Some(&model),
            &DriftOptions::default(),
        )
        .expect("drift");
        let p = report.prediction.expect("prediction drift with a model");
        let measured = p.realised_current.expect("the holdout has labels");
        let estimated = p.estimated_current;
        assert!(
            (estimated.roc_auc - measured.roc_auc).abs() < 0.03,
            "seed {seed}: estimated AUC {} vs measured {}",
            estimated.roc_auc,
            measured.roc_auc
        );
        assert!(
            (estimated.accuracy - measured.accuracy).abs() < 0.03,
            "seed {seed}: estimated accuracy {} vs measured {}",
            estimated.accuracy,
            measured.accuracy
        );
        // A random holdout of the same population does not drift.
        assert_eq!(report.verdict.status, Status::Ok, "{:?}", report.verdict);
        assert_eq!(p.status, Status::Ok);
    }
}

#[test]
fn bad_inputs_are_errors_or_drift_never_a_crash() {
    let dir = tempdir();
    // Text in a numeric column: reported as an alert naming the row and the value.
    let tenure = telco_col("tenure");
    let retyped = telco_edited(dir.path(), "retyped.csv", |i, f| {
        if i == 4 {
            f[tenure] = "twelve".into();
        }
    });
    let (o, report) = drift_json(&retyped, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let t = report["features"]
        .as_array()
        .and_then(|a| a.iter().find(|f| f["column"] == "tenure"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(t["status"], "alert");
    assert!(
        t["note"]
            .as_str()
            .unwrap_or_default()
            .contains("row 5, \"twelve\""),
        "{t}"
    );

    // The same table scored by a model: a clear error naming the cell.
    let model = telco_model();
    let (o, _) = drift_json(&retyped, &["--model", model.to_str().unwrap_or_default()]);
    assert_fails_with(&o, "twelve");

    // A column the current table lacks: an alert without a model, an error with one.
    let header_only_contract = {
        let text = telco_text().replace(",Contract,", ",Kontrakt,");
        let p = dir.path().join("renamed.csv");
        std::fs::write(&p, text).expect("write");
        p
    };
    let (o, report) = drift_json(&header_only_contract, &["--fail-on", "alert"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert_eq!(report["missing_columns"][0], "Contract");
    assert_eq!(report["new_columns"][0], "Kontrakt");
    let (o, _) = drift_json(
        &header_only_contract,
        &["--model", model.to_str().unwrap_or_default()],
    );
    assert_fails_with(
        &o,
        "'Contract' not found in the current table (the model needs it)",
    );

    // An empty current table, a missing file, a bad threshold.
    let empty = dir.path().join("empty.csv");
    std::fs::write(
        &empty,
        format!("{}\n", telco_text().lines().next().unwrap_or_default()),
    )
    .expect("write");
    let (o, _) = drift_json(&empty, &[]);
    assert_fails_with(&o, "no");
    let (o, _) = drift_json(&dir.path().join("nope.csv"), &[]);
    assert_fails_with(&o, "nope.csv");
    let (o, _) = drift_json(&telco(), &["--psi-alert", "0.05"]);
    assert_fails_with(&o, "--psi-alert");
}

#[test]
fn generated_customers_look_like_telco_until_shifted() {
    let dir = tempdir();
    let generate = |name: &str, shifts: &[&str]| {
        let out = dir.path().join(name);
        let mut args = vec![
            "generate".to_string(),
            "--rows".into(),
            "20000".into(),
            "--seed".into(),
            "5".into(),
            "--like".into(),
            telco().display().to_string(),
            "--out".into(),
            out.display().to_string(),
        ];
        for s in shifts {
            args.push("--shift".into());
            args.push((*s).to_string());
        }
        let o = run(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        out
    };
    let plain = generate("plain.csv", &[]);
    let again = generate("again.csv", &[]);
    assert_eq!(
        std::fs::read(&plain).unwrap_or_default(),
        std::fs::read(&again).unwrap_or_default(),
        "same seed, same rows"
    );
    let parquet = generate("plain.parquet", &[]);
    assert_eq!(
        read_table(&parquet).expect("parquet").frame.height(),
        20_000
    );

    // Unshifted synthetic customers against Telco itself: no drift.
    let (o, report) = drift_json(&plain, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(drifting(&report), [], "{}", report["verdict"]);

    // Shifted against unshifted (same seed): exactly the shifted columns.
    let shifted = generate(
        "shifted.csv",
        &["tenure=-6", "Contract=Month-to-month:+0.15"],
    );
    let o = run([
        "drift".as_ref(),
        "--reference".as_ref(),
        plain.as_os_str(),
        "--current".as_ref(),
        shifted.as_os_str(),
        "--json".as_ref(),
    ]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap_or_default();
    let names: Vec<String> = drifting(&report).into_iter().map(|(c, _)| c).collect();
    assert_eq!(names, ["Contract", "tenure"]);
}

/// Drift between two files, streamed batch by batch (`compute_files`, what `retention drift`
/// runs), is the report of the same tables read whole (`DriftReport::compute`), field for
/// field: without a model and with one, CSV and Parquet, tables of one batch and of several.
#[test]
fn drift_of_files_streamed_equals_drift_in_memory_field_for_field() {
    use retention::drift::{BLOCK_BYTES, compute_files};
    use retention::generate::{Generator, Shift, telco_template};

    let dir = tempdir();
    let model = ChurnModel::load(telco_model()).expect("load the Telco model");
    let plain = Generator::new(telco_template().expect("template"), &[]).expect("generator");
    let shifted = Generator::new(
        telco_template().expect("template"),
        &[Shift::parse("tenure=-6").expect("shift")],
    )
    .expect("generator");
    let big_ref = dir.path().join("reference.csv");
    plain.write(150_000, 1, &big_ref, &|_| {}).expect("write");
    let big_cur = dir.path().join("current.csv");
    shifted.write(120_000, 2, &big_cur, &|_| {}).expect("write");
    let big_pq = dir.path().join("current.parquet");
    shifted.write(150_000, 3, &big_pq, &|_| {}).expect("write");
    assert!(
        std::fs::metadata(&big_ref).expect("size").len() > 2 * BLOCK_BYTES as u64,
        "the generated reference spans several batches"
    );
    let small_ref = telco();
    let small_cur = shifted_telco(dir.path());
    let options = DriftOptions::default();
    let cases: [(&Path, &Path, Option<&ChurnModel>); 5] = [
        (&small_ref, &small_cur, None),
        (&small_ref, &small_cur, Some(&model)),
        (&big_ref, &big_cur, None),
        (&big_ref, &big_cur, Some(&model)),
        (&big_ref, &big_pq, Some(&model)),
    ];
    for (reference, current, model) in cases {
        let (streamed, notes) =
            compute_files(reference, current, model, &options, &|_| {}).expect("streamed");
        assert!(notes.is_empty(), "{notes:?}");
        let whole = DriftReport::compute(
            &read_table(reference).expect("read").frame,
            &read_table(current).expect("read").frame,
            model,
            &options,
        )
        .expect("in memory");
        let (a, b) = (
            serde_json::to_value(&streamed).expect("json"),
            serde_json::to_value(&whole).expect("json"),
        );
        assert_eq!(
            a,
            b,
            "{} vs {}, model: {}",
            reference.display(),
            current.display(),
            model.is_some()
        );
        assert_eq!(streamed.reference_rows, whole.reference_rows);
    }
}
