//! Every bad input gets its own clear error, a non-zero exit and no output file.

use std::path::{Path, PathBuf};

use crate::util::{self, assert_fails_with, run, telco_col, telco_edited};

fn train(data: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args: Vec<String> = vec![
        "train".into(),
        "--data".into(),
        data.display().to_string(),
        "--out".into(),
        out.display().to_string(),
    ];
    if !extra.contains(&"--cv") {
        args.extend(["--cv".into(), "2".into()]);
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    run(args)
}

fn score(model: &Path, data: &Path, out: &Path) -> std::process::Output {
    run([
        "score".as_ref(),
        "--model".as_ref(),
        model.as_os_str(),
        "--data".as_ref(),
        data.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ])
}

/// Asserts training on `data` fails naming `needle` and writes no model.
fn refuse_training(data: &Path, extra: &[&str], needle: &str) {
    let out = data.with_extension("model.json");
    let o = train(data, &out, extra);
    assert_fails_with(&o, needle);
    assert!(!out.exists(), "a model was written despite the error");
    assert_no_temporaries(data.parent().unwrap());
}

fn assert_no_temporaries(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            !name.ends_with(".tmp"),
            "temporary file left behind: {name}"
        );
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn missing_target_column() {
    let dir = util::tempdir();
    let churn = telco_col("Churn");
    let data = telco_edited(dir.path(), "t.csv", |_, f| {
        f.remove(churn);
    });
    // Without a header named Churn the edit above also drops the header's column.
    let text = std::fs::read_to_string(&data)
        .unwrap()
        .replacen(",Churn\n", "\n", 1);
    std::fs::write(&data, text).unwrap();
    refuse_training(&data, &[], "no target column: name it with --target");
    refuse_training(
        &util::telco(),
        &["--target", "Left"],
        "column 'Left' not found",
    );
}

#[test]
fn single_class_target() {
    let dir = util::tempdir();
    let churn = telco_col("Churn");
    let data = telco_edited(dir.path(), "t.csv", |_, f| f[churn] = "No".into());
    refuse_training(&data, &[], "target column 'Churn' has a single class");
}

#[test]
fn blank_and_unknown_target_labels() {
    let dir = util::tempdir();
    let churn = telco_col("Churn");
    let data = telco_edited(dir.path(), "t.csv", |i, f| {
        if i == 99 {
            f[churn] = " ".into();
        }
    });
    refuse_training(&data, &[], "column 'Churn', row 100: the target is blank");
    let data = telco_edited(dir.path(), "u.csv", |i, f| {
        if i == 4 {
            f[churn] = "Maybe".into();
        }
    });
    refuse_training(&data, &[], "target column 'Churn' has 3 distinct values");
    refuse_training(
        &util::telco(),
        &["--positive-label", "Gone"],
        "\"Gone\" is not a value of target column 'Churn'",
    );
}

#[test]
fn all_null_column() {
    let dir = util::tempdir();
    let col = telco_col("PaymentMethod");
    let data = telco_edited(dir.path(), "t.csv", |_, f| f[col] = "".into());
    refuse_training(&data, &[], "column 'PaymentMethod' has no values");
}

#[test]
fn non_numeric_value_in_a_numeric_column() {
    let dir = util::tempdir();
    let col = telco_col("MonthlyCharges");
    let data = telco_edited(dir.path(), "t.csv", |i, f| {
        if i == 41 {
            f[col] = "n/a".into();
        }
    });
    refuse_training(&data, &[], "column 'MonthlyCharges', row 42");
    refuse_training(
        &data,
        &["--numeric", "MonthlyCharges"],
        "expected a number in this numeric column (value \"n/a\")",
    );
    // Declared numeric, but plainly text.
    refuse_training(
        &util::telco(),
        &["--numeric", "Contract"],
        "column 'Contract', row 1",
    );
}

#[test]
fn empty_headerless_and_malformed_files() {
    let dir = util::tempdir();
    refuse_training(&write(dir.path(), "empty.csv", ""), &[], "is empty");
    refuse_training(
        &write(dir.path(), "header.csv", "customerID,tenure,Churn\n"),
        &[],
        "has a header but no data rows",
    );
    let mut text = util::telco_text().to_string();
    text = text.replacen("\n7795-CFOCW,", "\n7795-CFOCW,extra,", 1);
    refuse_training(
        &write(dir.path(), "ragged.csv", &text),
        &[],
        "row 4 has 22 fields but the header has 21 columns",
    );
    let text = util::telco_text().replacen("\n3668-QPYBK,", "\n\"3668-QPYBK,", 1);
    refuse_training(
        &write(dir.path(), "quote.csv", &text),
        &[],
        "quoted field is not closed",
    );
    let o = train(
        &dir.path().join("absent.csv"),
        &dir.path().join("m.json"),
        &[],
    );
    assert_fails_with(&o, "absent.csv");
}

#[test]
fn bad_parameters_and_feature_specs() {
    let dir = util::tempdir();
    refuse_training(&util::telco(), &["--cv", "1"], "invalid parameter '--cv'");
    refuse_training(
        &util::telco(),
        &["--tiers", "0.8,0.2"],
        "invalid parameter '--tiers'",
    );
    let spec = write(
        dir.path(),
        "spec.toml",
        "[[feature]]\nname = \"bad\"\nkind = \"ratio\"\nnumerator = \"Contract\"\ndenominator = \"tenure\"\n",
    );
    let out = dir.path().join("m.json");
    let o = train(
        &util::telco(),
        &out,
        &["--features", &spec.display().to_string()],
    );
    assert_fails_with(
        &o,
        "feature 'bad' (ratio): column 'Contract' is categorical",
    );
    assert!(!out.exists());
}

#[test]
fn scoring_errors_leave_no_output_and_keep_an_existing_one() {
    let dir = util::tempdir();
    let model = util::telco_model();

    let contract = telco_col("Contract");
    let missing = telco_edited(dir.path(), "missing.csv", |_, f| {
        f.remove(contract);
    });
    let text = std::fs::read_to_string(&missing)
        .unwrap()
        .replacen(",Contract,", ",", 1);
    std::fs::write(&missing, text).unwrap();
    let out = dir.path().join("scores.csv");
    let o = score(model, &missing, &out);
    assert_fails_with(&o, "column 'Contract' not found in this table");
    assert!(!out.exists());

    let tenure = telco_col("tenure");
    let bad = telco_edited(dir.path(), "bad.csv", |i, f| {
        if i == 6999 {
            f[tenure] = "ten".into();
        }
    });
    std::fs::write(&out, "precious").unwrap();
    let o = score(model, &bad, &out);
    assert_fails_with(&o, "column 'tenure', row 7000: expected a number");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "precious");
    assert_no_temporaries(dir.path());
}

#[test]
fn tampered_truncated_and_newer_model_files() {
    let dir = util::tempdir();
    let text = std::fs::read_to_string(util::telco_model()).unwrap();
    let out = dir.path().join("s.csv");

    // Change one digit of the stored threshold inside the checksummed body.
    let tampered_text = text.replacen("\"threshold\":0.5", "\"threshold\":0.1", 1);
    assert_ne!(
        tampered_text, text,
        "the model file should contain the threshold"
    );
    let tampered = write(dir.path(), "tampered.json", &tampered_text);
    assert_fails_with(&score(&tampered, &util::telco(), &out), "checksum mismatch");

    let truncated = write(dir.path(), "truncated.json", &text[..text.len() / 2]);
    assert_fails_with(
        &score(&truncated, &util::telco(), &out),
        "is corrupt: not a RetentionAI model file",
    );

    let newer = write(
        dir.path(),
        "newer.json",
        &text.replacen("\"format_version\":1", "\"format_version\":2", 1),
    );
    assert_fails_with(&score(&newer, &util::telco(), &out), "format version 2");

    let csv_as_model = util::telco();
    assert_fails_with(&score(&csv_as_model, &util::telco(), &out), "is corrupt");
    assert!(!out.exists());
}

#[test]
fn duplicate_ids_are_a_warning_not_an_error() {
    let dir = util::tempdir();
    let id = telco_col("customerID");
    let data = telco_edited(dir.path(), "dups.csv", |i, f| {
        if i == 1 || i == 2 {
            f[id] = "7590-VHVEG".into();
        }
    });
    let out = dir.path().join("m.json");
    let o = train(&data, &out, &["--id", "customerID"]);
    assert!(o.status.success(), "{}", crate::util::stderr(&o));
    let err = crate::util::stderr(&o);
    assert!(
        err.contains(
            "warning: column 'customerID': 1 id(s) appear more than once (e.g. \"7590-VHVEG\")"
        ),
        "{err}"
    );
    assert!(out.exists());
}
