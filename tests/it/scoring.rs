//! Streamed CSV scoring and single-record scoring against the frame path: same bytes, same
//! numbers, same errors, whatever the model (derived features, no id column) or the file's
//! quirks (quotes, CRLF, blank lines, unseen levels, blocks boundaries).

use std::path::Path;

use retention::data::{Dataset, SchemaOptions};
use retention::estimators::Algorithm;
use retention::features::FeatureSpec;
use retention::model::ChurnModel;
use retention::scoring::{ScoreOptions, ScoreSummary, score_file_with};
use retention::training::{TrainParams, train};

use crate::util::{telco, telco_edited, telco_model, telco_text, tempdir};

fn frame_path(
    model: &ChurnModel,
    input: &Path,
    output: &Path,
    options: &ScoreOptions,
) -> ScoreSummary {
    score_file_with(
        input,
        output,
        options,
        &|raw, first_row| model.score_frame(raw, first_row, &options.keep),
        &mut |_, _| Ok(()),
        &|_| {},
    )
    .expect("frame path scores")
}

fn trained(opts: SchemaOptions, algorithm: Algorithm, spec: Option<&str>) -> ChurnModel {
    let ds = Dataset::load(&telco(), &opts).expect("load Telco");
    let mut params = TrainParams {
        algorithm,
        cv_folds: 0,
        ..TrainParams::default()
    };
    if let Some(file) = spec {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
        params.features = FeatureSpec::load(&path).expect("feature spec");
    }
    train(&ds, &params, &|_| {}).expect("train")
}

/// Telco with the quirks a real export has: CRLF endings, blank lines, a quoted field holding a
/// comma and a quote (an unseen level), padded ids, blank cells.
fn quirky_telco(dir: &Path) -> std::path::PathBuf {
    let mut lines = telco_text().lines();
    let mut out = String::new();
    out.push_str(lines.next().expect("header"));
    out.push_str("\r\n");
    for (i, line) in lines.enumerate() {
        let mut fields: Vec<String> = line.split(',').map(str::to_string).collect();
        match i % 500 {
            7 => fields[17] = "\"Paper, \"\"cheque\"\"\"".into(),
            11 => fields[0] = format!("  {}  ", fields[0]),
            13 => fields[5] = String::new(),
            17 => fields[15] = " ".into(),
            _ => {}
        }
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
        if i % 1000 == 3 {
            out.push_str("\r\n");
        }
    }
    let path = dir.join("quirky.csv");
    std::fs::write(&path, out).expect("write quirky Telco");
    path
}

fn assert_same_output(model: &ChurnModel, input: &Path, keep: &[&str]) {
    let dir = tempdir();
    let options = ScoreOptions {
        keep: keep.iter().map(|s| s.to_string()).collect(),
        // Small blocks: many of them, scored in parallel, rows numbered across them.
        block_bytes: 1 << 12,
        ..ScoreOptions::default()
    };
    let (streamed, framed) = (
        dir.path().join("streamed.csv"),
        dir.path().join("framed.csv"),
    );
    let a = model
        .score_file(input, &streamed, &options, &|_| {})
        .expect("streamed scoring");
    let b = frame_path(model, input, &framed, &options);
    let (a_text, b_text) = (
        std::fs::read_to_string(&streamed).expect("streamed output"),
        std::fs::read_to_string(&framed).expect("frame output"),
    );
    assert_eq!(a_text.lines().count(), 7_044, "header and every customer");
    for (k, (x, y)) in a_text.lines().zip(b_text.lines()).enumerate() {
        assert_eq!(x, y, "line {k} differs");
    }
    assert_eq!(a_text, b_text);
    assert_eq!(
        (a.rows, a.predicted_churn, &a.tiers, &a.unseen),
        (b.rows, b.predicted_churn, &b.tiers, &b.unseen)
    );
}

#[test]
fn streamed_scoring_writes_what_the_frame_path_writes() {
    let dir = tempdir();
    let quirky = quirky_telco(dir.path());
    let logistic = ChurnModel::load(telco_model()).expect("load model");
    assert_same_output(&logistic, &telco(), &[]);
    assert_same_output(
        &logistic,
        &quirky,
        &["PaymentMethod", "Churn", "customerID"],
    );

    // Derived features of every kind, on a tree.
    let opts = SchemaOptions::new().target("Churn").id("customerID");
    let derived = trained(opts, Algorithm::Tree, Some("examples/telco_features.toml"));
    assert_same_output(&derived, &quirky, &["tenure"]);

    // No id column: the output numbers the rows, across blocks.
    let opts = SchemaOptions {
        ignore: vec!["customerID".into()],
        ..SchemaOptions::new().target("Churn")
    };
    let anonymous = trained(opts, Algorithm::Logistic, None);
    assert_same_output(&anonymous, &quirky, &[]);
}

#[test]
fn streamed_errors_name_the_file_row_and_leave_no_output() {
    let dir = tempdir();
    let model = ChurnModel::load(telco_model()).expect("load model");
    let options = ScoreOptions {
        block_bytes: 1 << 12,
        ..ScoreOptions::default()
    };
    let out = dir.path().join("out.csv");
    // Row 5,000 (1-based, after the header) has a word for its tenure.
    let bad = telco_edited(dir.path(), "bad.csv", |i, f| {
        if i == 4_999 {
            f[5] = "ten".into();
        }
    });
    let e = model
        .score_file(&bad, &out, &options, &|_| {})
        .expect_err("a word in a numeric column");
    let msg = e.to_string();
    assert!(
        msg.contains("tenure") && msg.contains("5000") && msg.contains("ten"),
        "{msg}"
    );
    assert!(!out.exists(), "no half-written output");

    let ragged = telco_edited(dir.path(), "ragged.csv", |i, f| {
        if i == 6_000 {
            f.push("extra".into());
        }
    });
    let e = model
        .score_file(&ragged, &out, &options, &|_| {})
        .expect_err("a record with an extra field");
    let msg = e.to_string();
    assert!(
        msg.contains("row 6001 has 22 fields but the header has 21"),
        "{msg}"
    );
    assert!(!out.exists());

    let missing = telco_edited(dir.path(), "missing.csv", |_, f| {
        f.remove(18);
    });
    let text = std::fs::read_to_string(&missing)
        .expect("read")
        .replacen(",MonthlyCharges", "", 1);
    std::fs::write(&missing, text).expect("write");
    let e = model
        .score_file(&missing, &out, &options, &|_| {})
        .expect_err("a missing feature column");
    assert!(
        e.to_string().contains("column 'MonthlyCharges' not found"),
        "{e}"
    );
    assert!(!out.exists());
}

#[test]
fn a_single_record_scores_exactly_like_its_row() {
    let model = ChurnModel::load(telco_model()).expect("load model");
    let scorer = model.row_scorer();
    let raw = retention::data::read_table(&telco()).expect("read").frame;
    let (framed, _, _) = model.score_frame(&raw, 0, &[]).expect("score frame");
    let p = framed
        .column("churn_probability")
        .expect("probability")
        .f64()
        .expect("f64")
        .clone();
    let names: Vec<String> = raw
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    for i in (0..raw.height()).step_by(97) {
        let values: Vec<Option<String>> = raw
            .columns()
            .iter()
            .map(|c| c.str().expect("text").get(i).map(str::to_string))
            .collect();
        let record: Vec<(&str, Option<&str>)> = names
            .iter()
            .zip(&values)
            .map(|(n, v)| (n.as_str(), v.as_deref()))
            .collect();
        let (score, _) = scorer.score_record(&record).expect("score record");
        assert_eq!(Some(score.probability), p.get(i), "row {i}");
        assert_eq!(score.tier, model.tiers.tier(score.probability));
    }
    let e = scorer
        .score_record(&[("tenure", Some("3"))])
        .expect_err("a record without most columns");
    assert!(e.to_string().contains("not found in this record"), "{e}");
    let mut record: Vec<(&str, Option<&str>)> = scorer
        .inputs()
        .iter()
        .map(|(n, _)| (n.as_str(), None))
        .collect();
    let numeric = scorer
        .inputs()
        .iter()
        .position(|(_, role)| *role == retention::data::Role::Numeric)
        .expect("a numeric input");
    record[numeric].1 = Some("lots");
    let e = scorer
        .score_record(&record)
        .expect_err("text in a numeric field");
    assert!(e.to_string().contains("lots"), "{e}");
}
