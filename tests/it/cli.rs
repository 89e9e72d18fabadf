//! The `retention` binary end to end on the Telco table.

use polars::prelude::*;
use retention::data::read_table;

use crate::util::{self, run, stderr, stdout};

fn score_to(out: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "score".to_string(),
        "--model".into(),
        util::telco_model().display().to_string(),
        "--data".into(),
        util::telco().display().to_string(),
        "--out".into(),
        out.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    run(args)
}

#[test]
fn train_then_score_gives_every_customer_the_four_columns() {
    let dir = util::tempdir();
    let out = dir.path().join("scores.csv");
    let o = score_to(&out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("Scored 7043 rows"), "{}", stdout(&o));
    let scores = read_table(&out).unwrap().frame;
    assert_eq!(scores.height(), 7043);
    let names: Vec<String> = scores
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(
        names,
        [
            "customerID",
            "churn_probability",
            "churn_prediction",
            "risk_tier"
        ]
    );
    let p = scores
        .column("churn_probability")
        .unwrap()
        .cast(&DataType::Float64)
        .unwrap();
    let pred = scores
        .column("churn_prediction")
        .unwrap()
        .str()
        .unwrap()
        .clone();
    let tier = scores.column("risk_tier").unwrap().str().unwrap().clone();
    for ((p, pred), tier) in p.f64().unwrap().iter().zip(pred.iter()).zip(tier.iter()) {
        let p = p.unwrap();
        assert!((0.0..=1.0).contains(&p));
        assert_eq!(pred.unwrap(), if p >= 0.5 { "1" } else { "0" });
        let expected = if p >= 0.7 {
            "High"
        } else if p >= 0.3 {
            "Medium"
        } else {
            "Low"
        };
        assert_eq!(tier.unwrap(), expected);
    }
    let ids = scores.column("customerID").unwrap().str().unwrap().clone();
    assert_eq!(ids.get(0), Some("7590-VHVEG"));
}

#[test]
fn rescoring_with_the_reloaded_model_is_identical_in_csv_and_parquet() {
    let dir = util::tempdir();
    let (a, b, c) = (
        dir.path().join("a.csv"),
        dir.path().join("b.csv"),
        dir.path().join("c.parquet"),
    );
    for out in [&a, &b, &c] {
        let o = score_to(out, &["--show", "0"]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let csv = read_table(&a).unwrap().frame;
    let parquet = read_table(&c).unwrap().frame;
    let pc = csv
        .column("churn_probability")
        .unwrap()
        .cast(&DataType::Float64)
        .unwrap();
    let pp = parquet.column("churn_probability").unwrap();
    assert_eq!(pp.dtype(), &DataType::Float64);
    // CSV prints the shortest representation that round-trips, so values are bit-identical.
    assert!(
        pc.f64()
            .unwrap()
            .iter()
            .zip(pp.f64().unwrap().iter())
            .all(|(x, y)| x == y)
    );
}

#[test]
fn keep_passes_columns_through_and_show_prints_rows() {
    let dir = util::tempdir();
    let out = dir.path().join("s.csv");
    let o = score_to(&out, &["--keep", "Contract,tenure", "--show", "3"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("First 3 rows") && text.contains("7590-VHVEG"),
        "{text}"
    );
    let header = std::fs::read_to_string(&out).unwrap();
    assert!(
        header.starts_with(
            "customerID,churn_probability,churn_prediction,risk_tier,Contract,tenure\n"
        )
    );
}

#[test]
fn inspect_shows_schema_metrics_and_provenance() {
    let o = run(["inspect".as_ref(), util::telco_model().as_os_str()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    for needle in [
        "algorithm logistic",
        "customerID",
        "target",
        "roc_auc",
        "cv 5-fold",
        "sha256",
        "Contract = Month-to-month",
    ] {
        assert!(text.contains(needle), "inspect lacks {needle:?}:\n{text}");
    }
    let o = run([
        "inspect".as_ref(),
        util::telco_model().as_os_str(),
        "--json".as_ref(),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let auc = v["metrics"]["cv"]["summary"]["roc_auc"]["mean"]
        .as_f64()
        .unwrap();
    assert!(auc >= 0.83, "cv auc {auc}");
    assert_eq!(v["provenance"]["rows"], 7043);
    assert_eq!(v["provenance"]["seed"], 42);
    assert_eq!(v["schema"]["positive_label"], "Yes");
    assert_eq!(v["provenance"]["data_sha256"].as_str().unwrap().len(), 64);
}

#[test]
fn evaluate_reports_metrics_on_a_labelled_table() {
    let o = run([
        "evaluate".as_ref(),
        "--model".as_ref(),
        util::telco_model().as_os_str(),
        "--data".as_ref(),
        util::telco().as_os_str(),
        "--json".as_ref(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["rows"], 7043);
    let auc = v["roc_auc"].as_f64().unwrap();
    assert!(auc > 0.84 && auc < 0.87, "training-set auc {auc}");
}

#[test]
fn train_with_features_holdout_and_tree() {
    let dir = util::tempdir();
    let model = dir.path().join("m.json");
    let spec =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/telco_features.toml");
    let o = run([
        "train".as_ref(),
        "--data".as_ref(),
        util::telco().as_os_str(),
        "--algorithm".as_ref(),
        "tree".as_ref(),
        "--features".as_ref(),
        spec.as_os_str(),
        "--test-size".as_ref(),
        "0.2".as_ref(),
        "--cv".as_ref(),
        "3".as_ref(),
        "--out".as_ref(),
        model.as_os_str(),
        "--json".as_ref(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["algorithm"], "tree");
    assert_eq!(v["holdout"]["rows"], 1409);
    assert!(v["cv"]["roc_auc"]["mean"].as_f64().unwrap() > 0.78);
    let o = run(["inspect".as_ref(), model.as_os_str()]);
    let text = stdout(&o);
    assert!(
        text.contains("Derived features") && text.contains("avg_monthly_charge"),
        "{text}"
    );
}

#[test]
fn parquet_input_trains_and_scores() {
    let dir = util::tempdir();
    let pq = dir.path().join("telco.parquet");
    let mut frame = read_table(&util::telco()).unwrap().frame;
    let file = std::fs::File::create(&pq).unwrap();
    ParquetWriter::new(file).finish(&mut frame).unwrap();
    let out = dir.path().join("scores.parquet");
    let o = run([
        "score".as_ref(),
        "--model".as_ref(),
        util::telco_model().as_os_str(),
        "--data".as_ref(),
        pq.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(read_table(&out).unwrap().frame.height(), 7043);
}

/// Every subcommand with an example in its --help.
const COMMANDS: [&str; 13] = [
    "train",
    "score",
    "evaluate",
    "explain",
    "importance",
    "drift",
    "generate",
    "model",
    "db",
    "backup",
    "restore",
    "gdpr",
    "inspect",
];

#[test]
fn help_explains_itself_with_examples() {
    let o = run(["--help"]);
    assert!(o.status.success());
    let text = stdout(&o);
    for cmd in COMMANDS.iter().chain(&["Example"]) {
        assert!(text.contains(cmd), "--help lacks {cmd}");
    }
    for cmd in COMMANDS {
        let o = run([cmd, "--help"]);
        assert!(o.status.success());
        assert!(
            stdout(&o).contains("Example"),
            "{cmd} --help has no example"
        );
    }
}

#[test]
fn a_wrong_flag_is_a_usage_error() {
    let o = run(["train", "--dta", "x.csv"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--dta"), "{}", stderr(&o));
    let o = run([
        "train",
        "--data",
        "x.csv",
        "--out",
        "m.json",
        "--algorithm",
        "forest",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("forest"));
}

#[test]
fn a_closed_pipe_exits_quietly() {
    let cmd = format!(
        "'{}' inspect '{}' | head -n 1",
        util::bin().display(),
        util::telco_model().display()
    );
    let o = std::process::Command::new("sh")
        .args(["-c", &cmd])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 1);
}

/// Runs `retention` with `stdin` piped in; returns the output.
fn piped(args: &[&str], stdin: &[u8]) -> std::process::Output {
    use std::io::Write as _;
    let mut child = std::process::Command::new(util::bin())
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin).expect("write stdin");
    drop(input);
    child.wait_with_output().expect("wait")
}

#[test]
fn a_dash_reads_standard_input_and_writes_standard_output() {
    let model = util::telco_model().display().to_string();
    let csv = std::fs::read(util::telco()).expect("telco");
    // Scores on standard output: the table only (the summary goes to stderr).
    let o = piped(
        &["score", "--model", &model, "--data", "-", "--out", "-"],
        &csv,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let mut lines = text.lines();
    let header = lines.next().expect("header");
    assert!(header.contains("churn_probability"), "{header}");
    assert_eq!(lines.count(), 7043);
    assert!(stderr(&o).contains("7043"), "{}", stderr(&o));
    // A model read from standard input.
    let bytes = std::fs::read(util::telco_model()).expect("model");
    let o = piped(&["inspect", "-"], &bytes);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("logistic"), "{}", stdout(&o));
    // Generated rows on standard output.
    let o = run(["generate", "--rows", "10", "--seed", "1", "--out", "-"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 11);
    // A failed command prints no table.
    let o = piped(
        &["score", "--model", &model, "--data", "-", "--out", "-"],
        b"a,b\n1,2\n",
    );
    assert!(!o.status.success());
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
}

#[test]
fn completions_and_man_pages_come_from_the_same_definitions() {
    let o = run(["completions", "bash"]);
    let text = stdout(&o);
    assert!(o.status.success() && text.contains("_retention") && text.contains("--log-format"));
    let o = run(["man"]);
    let page = stdout(&o);
    assert!(
        o.status.success() && page.contains(".TH retention") && page.contains("RETENTIONAI_DB")
    );
    let dir = util::tempdir();
    let o = run(["man", "--out", dir.path().to_str().expect("utf-8")]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(dir.path().join("retention-model-promote.1").exists());
    assert!(dir.path().join("retention-serve.1").exists());
}

#[test]
fn messages_name_standard_input_and_output_not_temporary_files() {
    let model = util::telco_model().display().to_string();
    let csv = std::fs::read(util::telco()).expect("telco");
    let o = piped(
        &[
            "score", "--model", &model, "--data", "-", "--out", "-", "--show", "0",
        ],
        &csv,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("into standard output"), "{err}");
    assert!(!err.contains("stdout.csv"), "{err}");
    // An error about the input names standard input.
    let o = piped(
        &["score", "--model", &model, "--data", "-", "--out", "-"],
        b"",
    );
    let err = stderr(&o);
    assert!(!o.status.success());
    assert!(err.contains("standard input is empty"), "{err}");
    let o = piped(&["inspect", "-"], b"not a model");
    let err = stderr(&o);
    assert!(
        err.contains("model file standard input is corrupt"),
        "{err}"
    );
    // A feature spec and an outcomes table from standard input.
    let spec = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/telco_features.toml"),
    )
    .expect("spec");
    let dir = util::tempdir();
    let out = dir.path().join("m.json");
    let data = util::telco().display().to_string();
    let o = piped(
        &[
            "train",
            "--data",
            &data,
            "--algorithm",
            "logistic",
            "--cv",
            "0",
            "--features",
            "-",
            "--out",
            out.to_str().expect("utf-8"),
        ],
        &spec,
    );
    assert!(o.status.success(), "{}", stderr(&o));
}
