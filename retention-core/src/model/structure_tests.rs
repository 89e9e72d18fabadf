//! The structural checks of [`ChurnModel::validate`], one by one, on a small model holding every
//! kind of part; and a property test that no edit of a model file can make loading or scoring
//! panic or loop.

use std::sync::OnceLock;

use polars::prelude::*;
use proptest::prelude::*;

use super::*;
use crate::calibration::CalibrationMethod;
use crate::data::Role;
use crate::data::SchemaOptions;
use crate::estimators::tree::{MAX_TREE_DEPTH, TreeModel, TreeNode};
use crate::estimators::{Algorithm, EstimatorParams};
use crate::features::{Encoder, FeatureSpec};
use crate::fsutil::sha256_hex;
use crate::training::{TrainParams, train};

/// 400 customers: numeric (with blanks) and categorical inputs, an id, a Yes/No target.
fn raw() -> DataFrame {
    let mut state = 11u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let n = 400;
    let mut ids = Vec::new();
    let mut tenure = Vec::new();
    let mut charges = Vec::new();
    let mut contract = Vec::new();
    let mut churn = Vec::new();
    for i in 0..n {
        let t = (next() * 72.0).floor();
        let c = ["Month-to-month", "One year", "Two year"][i % 3];
        let risk = if c == "Month-to-month" { 0.5 } else { 0.1 } + (24.0 - t.min(24.0)) / 60.0;
        ids.push(format!("C{i:04}"));
        tenure.push((i % 17 != 0).then_some(t));
        charges.push(20.0 + next() * 80.0);
        contract.push((i % 23 != 0).then_some(c));
        churn.push(if next() < risk { "Yes" } else { "No" });
    }
    df!(
        "id" => ids,
        "tenure" => tenure,
        "charges" => charges,
        "contract" => contract,
        "churn" => churn
    )
    .unwrap()
}

/// A blend of logistic regression, a decision tree and a 10-tree booster over a pipeline with
/// derived features (ratio, bucket, map), isotonic calibration: every part a file can hold.
fn sample() -> &'static ChurnModel {
    static MODEL: OnceLock<ChurnModel> = OnceLock::new();
    MODEL.get_or_init(|| {
        let ds = Dataset::infer(&raw(), &SchemaOptions::new().target("churn").id("id")).unwrap();
        let spec = FeatureSpec::parse(
            r#"
            [[feature]]
            name = "per_month"
            kind = "ratio"
            numerator = "charges"
            denominator = "tenure"
            [[feature]]
            name = "tenure_band"
            kind = "bucket"
            column = "tenure"
            edges = [12.0, 24.0]
            [[feature]]
            name = "contract_years"
            kind = "map"
            column = "contract"
            values = { "Month-to-month" = 0.0, "One year" = 1.0, "Two year" = 2.0 }
            "#,
            "test",
        )
        .unwrap();
        let params = TrainParams::new(Algorithm::Logistic)
            .cv_folds(3)
            .features(spec)
            .calibration(CalibrationMethod::Isotonic);
        let mut model = train(&ds, &params, &|_| {}).unwrap();
        let (x, _) = model.pipeline.transform(&ds.frame).unwrap();
        let y = ds.target.clone().unwrap();
        let mut est = EstimatorParams::default();
        est.boosting.trees = 10;
        est.boosting.min_leaf_rows = 20;
        let tree = Estimator::fit(Algorithm::Tree, &est, &x, &y, 0).unwrap();
        let boosting = Estimator::fit(Algorithm::Boosting, &est, &x, &y, 0).unwrap();
        model.estimator = Estimator::Blend {
            members: vec![model.estimator.clone(), tree, boosting],
        };
        model
    })
}

/// What validation says of the sample model after `edit`.
fn refusal(edit: impl FnOnce(&mut ChurnModel)) -> String {
    let mut m = sample().clone();
    edit(&mut m);
    match m.validate(Path::new("m.json")) {
        Ok(()) => panic!("accepted"),
        Err(e @ Error::CorruptArtifact { .. }) => e.to_string(),
        Err(e) => panic!("not a corrupt-artifact error: {e}"),
    }
}

fn assert_refused(edit: impl FnOnce(&mut ChurnModel), needle: &str) {
    let e = refusal(edit);
    assert!(e.contains(needle), "{e:?} does not say {needle:?}");
    assert!(e.starts_with("model file m.json is corrupt: "), "{e}");
}

fn members(m: &mut ChurnModel) -> &mut Vec<Estimator> {
    match &mut m.estimator {
        Estimator::Blend { members } => members,
        _ => unreachable!("the sample is a blend"),
    }
}

fn tree(m: &mut ChurnModel) -> &mut TreeModel {
    match &mut members(m)[1] {
        Estimator::Tree(t) => t,
        _ => unreachable!("member 1 is the tree"),
    }
}

fn boosted_tree(m: &mut ChurnModel, t: usize) -> &mut Vec<TreeNode> {
    match &mut members(m)[2] {
        Estimator::Boosting(b) => &mut b.trees[t],
        _ => unreachable!("member 2 is the booster"),
    }
}

/// The first internal node of a node list.
fn internal(nodes: &[TreeNode]) -> usize {
    nodes.iter().position(|n| !n.leaf).expect("a split")
}

fn logistic(m: &mut ChurnModel) -> &mut crate::estimators::LogisticModel {
    match &mut members(m)[0] {
        Estimator::Logistic(l) => l,
        _ => unreachable!("member 0 is the logistic regression"),
    }
}

#[test]
fn a_trained_model_passes_and_round_trips() {
    let m = sample();
    m.validate(Path::new("m.json")).unwrap();
    let back = ChurnModel::from_bytes(&m.to_bytes().unwrap(), Path::new("m.json")).unwrap();
    assert_eq!(&back, m);
    let (scores, _, _) = back.score_frame(&raw(), 0, &[]).unwrap();
    assert_eq!(scores.height(), 400);
}

#[test]
fn schema_names_are_unique_and_roles_single() {
    assert_refused(
        |m| {
            let c = m.schema.columns[1].clone();
            m.schema.columns.push(c);
        },
        "schema: column 'tenure' is listed twice",
    );
    assert_refused(
        |m| {
            let c = m.schema.columns.iter_mut().find(|c| c.name == "charges");
            c.unwrap().role = Role::Target;
        },
        "schema: 2 columns have the target role",
    );
}

#[test]
fn encoders_fit_the_schema() {
    assert_refused(
        |m| {
            if let Encoder::Numeric { column, .. } = &mut m.pipeline.encoders[0] {
                *column = "nowhere".into();
            }
        },
        "pipeline: encoder of column 'nowhere': the schema has no feature column",
    );
    assert_refused(
        |m| {
            let e = m.pipeline.encoders[0].clone();
            m.pipeline.encoders.push(e);
        },
        "is encoded twice",
    );
    assert_refused(
        |m| {
            m.pipeline.encoders.retain(|e| e.column() != "charges");
        },
        "feature column 'charges' has no encoder",
    );
    assert_refused(
        |m| {
            let k = m
                .pipeline
                .encoders
                .iter()
                .position(|e| e.column() == "contract")
                .unwrap();
            m.pipeline.encoders[k] = Encoder::Numeric {
                column: "contract".into(),
                median: 0.0,
                mean: 0.0,
                scale: 1.0,
                indicator: false,
            };
        },
        "encodes a numeric column, but the column is categorical",
    );
}

#[test]
fn encoder_numbers_are_sound() {
    for (scale, shown) in [(0.0, "0"), (-1.0, "-1"), (f64::INFINITY, "inf")] {
        assert_refused(
            |m| {
                for e in &mut m.pipeline.encoders {
                    if let Encoder::Numeric { scale: s, .. } = e {
                        *s = scale;
                    }
                }
            },
            &format!("scale {shown} is not a finite positive number"),
        );
    }
    assert_refused(
        |m| {
            if let Encoder::Numeric { median, .. } = &mut m.pipeline.encoders[0] {
                *median = f64::NAN;
            }
        },
        "median NaN",
    );
    assert_refused(
        |m| {
            for e in &mut m.pipeline.encoders {
                if let Encoder::Categorical { levels, .. } = e {
                    let l = levels[0].clone();
                    levels.push(l);
                }
            }
        },
        "is listed twice",
    );
}

#[test]
fn outputs_and_means_match_the_encoders() {
    let n = sample().pipeline.n_outputs();
    assert_refused(
        |m| {
            m.pipeline.outputs.pop();
        },
        &format!(
            "{} input name(s), but the encoders make {n} input(s)",
            n - 1
        ),
    );
    assert_refused(
        |m| m.pipeline.outputs[0].source = "charges".into(),
        "comes from column 'charges'",
    );
    assert_refused(
        |m| {
            m.pipeline.input_means.pop();
        },
        "input mean(s)",
    );
    // Files from before the means were kept have none: still sound.
    let mut m = sample().clone();
    m.pipeline.input_means.clear();
    m.validate(Path::new("m.json")).unwrap();
}

#[test]
fn derived_features_are_checked_against_the_schema() {
    assert_refused(
        |m| {
            if let crate::features::DerivedFeature::Ratio { denominator, .. } =
                &mut m.pipeline.spec.features[0]
            {
                *denominator = "ghost".into();
            }
        },
        "pipeline: derived features: feature 'per_month' (ratio): column 'ghost' is not in the table",
    );
    assert_refused(
        |m| {
            if let crate::features::DerivedFeature::Map { values, .. } =
                &mut m.pipeline.spec.features[2]
            {
                values.insert("One year".into(), f64::INFINITY);
            }
        },
        "the value inf of level 'One year' is not finite",
    );
}

#[test]
fn logistic_coefficients_match_the_inputs() {
    let n = sample().pipeline.n_outputs();
    assert_refused(
        |m| logistic(m).coefficients.push(0.5),
        &format!(
            "estimator: blend member 0: logistic regression: {} coefficient(s), but the pipeline makes {n} input(s)",
            n + 1
        ),
    );
    assert_refused(
        |m| {
            logistic(m).coefficients.pop();
        },
        &format!("{} coefficient(s)", n - 1),
    );
    assert_refused(
        |m| logistic(m).coefficients[2] = f64::NAN,
        "coefficient 2 (NaN) is not finite",
    );
}

#[test]
fn trees_are_trees() {
    let k = internal(&tree(&mut sample().clone()).nodes);
    assert_refused(
        |m| tree(m).nodes[k].left = k as u32,
        &format!("blend member 1: decision tree node {k}: child {k} is not after its parent"),
    );
    assert_refused(
        |m| tree(m).nodes[k].right = 0,
        &format!("node {k}: child 0 is not after its parent"),
    );
    assert_refused(
        |m| tree(m).nodes[k].right = 100_000,
        &format!("node {k}: child 100000 is out of range"),
    );
    assert_refused(
        |m| {
            let t = tree(m);
            let l = t.nodes[k].left;
            t.nodes[k].right = l;
        },
        "already has another parent",
    );
    assert_refused(
        |m| {
            let t = tree(m);
            t.nodes.push(TreeNode::leaf(0.0));
        },
        "is not reachable from the root",
    );
    assert_refused(
        |m| tree(m).nodes[k].feature = 999,
        &format!("node {k}: tests input 999, but the model has"),
    );
    assert_refused(
        |m| tree(m).nodes[k].threshold = f64::INFINITY,
        "threshold inf is not finite",
    );
    assert_refused(
        |m| tree(m).nodes[0].cover = -1.0,
        "node 0: cover -1 is not a non-negative number",
    );
    assert_refused(|m| tree(m).nodes.clear(), "decision tree has no nodes");
}

#[test]
fn tree_depth_is_bounded() {
    // A chain: node 2i splits into a leaf (2i + 1) and the next split (2i + 2).
    let chain = |splits: usize| {
        let mut nodes = Vec::new();
        for i in 0..splits {
            nodes.push(TreeNode {
                feature: 0,
                threshold: i as f64,
                left: (2 * i + 1) as u32,
                right: (2 * i + 2) as u32,
                leaf: false,
                cover: 1.0,
                positives: 0.5,
                value: 0.0,
            });
            nodes.push(TreeNode::leaf(0.1));
        }
        nodes.push(TreeNode::leaf(0.2));
        nodes
    };
    let mut ok = sample().clone();
    tree(&mut ok).nodes = chain(MAX_TREE_DEPTH);
    ok.validate(Path::new("m.json")).unwrap();
    assert_refused(
        |m| tree(m).nodes = chain(MAX_TREE_DEPTH + 1),
        &format!(
            "is at depth {}, deeper than the {MAX_TREE_DEPTH} allowed",
            MAX_TREE_DEPTH + 1
        ),
    );
    // Training never grows past it.
    let p = crate::estimators::TreeParams {
        max_depth: MAX_TREE_DEPTH + 1,
        ..Default::default()
    };
    assert!(p.check().unwrap_err().to_string().contains("max_depth"));
}

#[test]
fn boosted_trees_are_named() {
    let k = internal(boosted_tree(&mut sample().clone(), 3));
    assert_refused(
        |m| boosted_tree(m, 3)[k].left = k as u32,
        &format!(
            "estimator: blend member 2: gradient boosting: tree 3 node {k}: child {k} is not after its parent"
        ),
    );
    assert_refused(
        |m| boosted_tree(m, 3).clear(),
        "gradient boosting: tree 3 has no nodes",
    );
}

#[test]
fn blends_have_members() {
    assert_refused(|m| members(m).clear(), "estimator: a blend with no members");
}

#[test]
fn calibrators_are_monotone_maps() {
    let iso = |x: Vec<f64>, y: Vec<f64>| {
        move |m: &mut ChurnModel| {
            m.calibrator = Calibrator::Isotonic { x, y };
        }
    };
    assert_refused(
        iso(vec![], vec![]),
        "calibrator: isotonic calibration has no knots",
    );
    assert_refused(
        iso(vec![0.0, 1.0], vec![0.5]),
        "2 log-odds but 1 probabilities",
    );
    assert_refused(
        iso(vec![1.0, 0.0], vec![0.2, 0.3]),
        "knot 1: log-odds 0 is below the previous knot's 1",
    );
    assert_refused(
        iso(vec![0.0, 1.0], vec![0.3, 0.2]),
        "knot 1: probability 0.2 is below the previous knot's 0.3 (not monotone)",
    );
    assert_refused(
        iso(vec![0.0], vec![1.5]),
        "probability 1.5 is not in [0, 1]",
    );
    assert_refused(iso(vec![f64::NAN], vec![0.5]), "log-odds NaN is not finite");
    assert_refused(
        |m| {
            m.calibrator = Calibrator::Platt {
                a: f64::NAN,
                b: 0.0,
            }
        },
        "Platt scaling a = NaN, b = 0 is not finite",
    );
}

#[test]
fn threshold_and_tiers_are_probabilities_in_order() {
    assert_refused(
        |m| m.threshold = -1e308,
        "threshold -1e308 is not a probability in [0, 1]",
    );
    assert_refused(|m| m.threshold = f64::NAN, "threshold NaN");
    assert_refused(
        |m| {
            m.tiers = RiskTiers {
                medium: 0.8,
                high: 0.2,
            }
        },
        "risk tiers: boundaries 0.8 and 0.2 must satisfy 0 < medium < high < 1",
    );
    assert_refused(
        |m| m.tiers.high = 1.0,
        "risk tiers: boundaries 0.3 and 1 must satisfy",
    );
}

/// The envelope of `model` with its checksum recomputed, as anyone editing a file can.
fn rewrap(model: &serde_json::Value) -> Vec<u8> {
    let body = serde_json::to_string(model).unwrap();
    format!(
        r#"{{"format":"retentionai-model","format_version":1,"sha256":"{}","model":{body}}}"#,
        sha256_hex(body.as_bytes())
    )
    .into_bytes()
}

#[test]
fn an_edited_file_with_a_recomputed_checksum_is_refused() {
    let mut v = serde_json::to_value(sample()).unwrap();
    v["estimator"]["blend"]["members"][1]["tree"]["nodes"][0]["left"] = 0.into();
    let e = ChurnModel::from_bytes(&rewrap(&v), Path::new("m.json")).unwrap_err();
    assert!(
        e.to_string()
            .contains("decision tree node 0: child 0 is not after its parent"),
        "{e}"
    );
    // Untouched, the same rewrap loads.
    let v = serde_json::to_value(sample()).unwrap();
    ChurnModel::from_bytes(&rewrap(&v), Path::new("m.json")).unwrap();
}

#[test]
fn oversized_files_are_refused_before_they_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.json");
    // Sparse: claims 2 GiB, occupies nothing; reading it would take seconds and 2 GiB.
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(2 << 30).unwrap();
    let e = ChurnModel::load(&path).unwrap_err();
    assert!(matches!(e, Error::CorruptArtifact { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("a model file may be at most 256 MiB, and this one is 2147483648 bytes"),
        "{e}"
    );
    // Just over the limit, by metadata.
    f.set_len(MAX_MODEL_BYTES + 1).unwrap();
    assert!(read_model_file(&path).is_err());
    // A stream of any length stops at the limit (a device reports no length).
    if Path::new("/dev/zero").exists() {
        let e = read_model_file(Path::new("/dev/zero")).unwrap_err();
        assert!(e.to_string().contains("this one is more than that"), "{e}");
    }
}

#[test]
fn messages_quote_a_short_prefix() {
    let long = "x".repeat(10_000);
    let e = refusal(|m| {
        let c = m.schema.columns[1].clone();
        m.schema.columns[1].name = long.clone();
        m.schema.columns.push(crate::data::ColumnRole {
            name: long.clone(),
            ..c
        });
    });
    assert!(e.len() < 300, "{} characters", e.len());
    assert!(e.contains('…'));
}

/// Every place in a JSON value a mutation can hit: numbers and arrays, by path.
fn sites(v: &serde_json::Value, path: &mut Vec<PathStep>, out: &mut Vec<Vec<PathStep>>) {
    match v {
        serde_json::Value::Number(_) => out.push(path.clone()),
        serde_json::Value::Array(items) => {
            out.push(path.clone());
            for (i, item) in items.iter().enumerate() {
                path.push(PathStep::Index(i));
                sites(item, path, out);
                path.pop();
            }
        }
        serde_json::Value::Object(map) => {
            for (k, item) in map {
                path.push(PathStep::Key(k.clone()));
                sites(item, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

#[derive(Debug, Clone)]
enum PathStep {
    Key(String),
    Index(usize),
}

fn at<'a>(v: &'a mut serde_json::Value, path: &[PathStep]) -> &'a mut serde_json::Value {
    path.iter().fold(v, |v, step| match step {
        PathStep::Key(k) => &mut v[k.as_str()],
        PathStep::Index(i) => &mut v[*i],
    })
}

/// Applies mutation `kind` (with `x`) to the site.
fn mutate(site: &mut serde_json::Value, kind: u8, x: f64) {
    use serde_json::json;
    match site {
        serde_json::Value::Number(n) => {
            let old = n.as_f64().unwrap_or(0.0);
            *site = match kind % 12 {
                0 => json!(0),
                1 => json!(-1),
                2 => json!(old + 1.0),
                3 => json!(old - 1.0),
                4 => json!(1e308),
                5 => json!(-1e308),
                6 => json!(x),
                7 => json!((x.abs() * 1000.0) as u64),
                8 => json!(u32::MAX),
                9 => json!(0.5),
                10 => json!(-old),
                _ => json!(2),
            };
        }
        serde_json::Value::Array(items) => match kind % 6 {
            0 => items.clear(),
            1 => {
                items.pop();
            }
            2 => {
                if let Some(first) = items.first().cloned() {
                    items.push(first);
                }
            }
            3 => items.reverse(),
            4 => items.truncate(items.len() / 2),
            _ => {
                if items.len() > 1 {
                    let j = (x.abs() as usize) % items.len();
                    items.swap(0, j);
                }
            }
        },
        _ => {}
    }
}

proptest! {
    /// Numbers, indices and lengths of a valid model edited at random, the checksum
    /// recomputed: loading either refuses, or gives a model that scores and explains rows
    /// without panicking (and returns: a loop would hang the test). 256 cases by default;
    /// `PROPTEST_CASES=20000` runs it longer.
    #[test]
    fn an_edited_model_is_refused_or_scores(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), -1e6f64..1e6), 1..4)
    ) {
        let mut v = serde_json::to_value(sample()).unwrap();
        for (index, kind, x) in edits {
            let mut all = Vec::new();
            sites(&v, &mut Vec::new(), &mut all);
            let path = index.get(&all).clone();
            mutate(at(&mut v, &path), kind, x);
        }
        if let Ok(model) = ChurnModel::from_bytes(&rewrap(&v), Path::new("m.json")) {
            let rows = raw().head(Some(5));
            let _ = model.score_frame(&rows, 0, &[]);
            let _ = model.explain(&rows, 3);
            let _ = model.row_scorer().score_record(&[
                ("id", Some("C9999")),
                ("tenure", Some("5")),
                ("charges", Some("70.5")),
                ("contract", Some("Month-to-month")),
            ]);
        }
    }
}
