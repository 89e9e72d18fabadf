//! Model files are untrusted input. A trained model file edited by hand with its checksum
//! recomputed (a tree that loops, a child out of range, an empty calibrator, coefficients that do
//! not match the inputs, tiers out of order, a threshold of -1e308), an oversized file, and a
//! registry version whose stored artifact no longer loads are refused by every command that reads
//! them, naming what is wrong: exit status 1 with one `error:` line, never a panic (101) or a hang.
//! `model ab`, like `model promote`, needs a passed validation or `--force --reason`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

use retention::store::Store;
use serde_json::{Value, json};

use crate::util::{bin, ok, ret, stderr, telco, telco_model, tempdir};

/// A command that has not finished after this long is taken to hang. Every command here finishes
/// in seconds; the code before these checks looped forever on a tree whose node is its own child.
const HANG: Duration = Duration::from_secs(300);

/// Runs `retention` (against database `db`) and waits for it, at most [`HANG`].
fn run_bounded(db: &Path, args: &[&str]) -> Output {
    crate::util::run_bounded(db, args, HANG)
}

/// Asserts a refusal: exit status 1 (not a panic's 101), one `error:` line naming `reason`.
fn assert_refused(o: &Output, reason: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "expected exit 1; stderr: {err}");
    assert!(!err.contains("panicked"), "a panic: {err}");
    assert!(
        err.starts_with("error: "),
        "one-line cause expected:\n{err}"
    );
    assert!(
        err.contains(reason),
        "stderr does not name {reason:?}:\n{err}"
    );
}

/// Trains a model on Telco with extra arguments, once per name for the whole test binary.
fn trained(name: &'static str, args: &'static [&'static str]) -> PathBuf {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    static MODELS: OnceLock<std::sync::Mutex<Vec<(&'static str, PathBuf)>>> = OnceLock::new();
    let dir = DIR.get_or_init(tempdir);
    let models = MODELS.get_or_init(Default::default);
    let mut models = models.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, p)) = models.iter().find(|(n, _)| *n == name) {
        return p.clone();
    }
    let path = dir.path().join(format!("{name}.json"));
    let o = Command::new(bin())
        .arg("train")
        .arg("--data")
        .arg(telco())
        .args(["--target", "Churn", "--id", "customerID", "--cv", "0"])
        .args(args)
        .arg("--out")
        .arg(&path)
        .output()
        .expect("train");
    assert!(o.status.success(), "training failed: {}", stderr(&o));
    models.push((name, path.clone()));
    path
}

fn tree_model() -> PathBuf {
    trained("tree", &["--algorithm", "tree"])
}

fn boosting_model() -> PathBuf {
    trained("boosting", &["--algorithm", "boosting", "--trees", "10"])
}

/// The `model` object of a model file.
fn model_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("read the model file");
    let mut envelope: Value = serde_json::from_str(&text).expect("a model file is JSON");
    envelope["model"].take()
}

/// A model file's bytes around `model`, with the checksum recomputed as anyone editing a file can.
fn wrap(model: &Value) -> Vec<u8> {
    let body = serde_json::to_string(model).expect("serialise");
    format!(
        r#"{{"format":"retentionai-model","format_version":1,"sha256":"{}","model":{body}}}"#,
        retention::sha256_hex(body.as_bytes())
    )
    .into_bytes()
}

/// Writes `src` edited by `edit` (checksum recomputed) to `dir/name`.
fn edited(src: &Path, dir: &Path, name: &str, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let mut model = model_json(src);
    edit(&mut model);
    let path = dir.join(name);
    std::fs::write(&path, wrap(&model)).expect("write the edited model");
    path
}

/// Index of the first split node of a node list.
fn first_split(nodes: &Value) -> usize {
    nodes
        .as_array()
        .and_then(|n| n.iter().position(|node| node["leaf"] == json!(false)))
        .expect("a tree with a split")
}

/// A chain of `splits` splits (each with a leaf on its left): as deep as it is long.
fn chain(splits: usize) -> Value {
    let mut nodes = Vec::new();
    for i in 0..splits {
        nodes.push(
            json!({"feature": 0, "threshold": i as f64, "left": 2 * i + 1,
            "right": 2 * i + 2, "leaf": false, "cover": 1.0, "positives": 0.5, "value": 0.0}),
        );
        nodes.push(
            json!({"feature": 0, "threshold": 0.0, "left": 0, "right": 0, "leaf": true,
            "cover": 1.0, "positives": 0.5, "value": 0.1}),
        );
    }
    nodes.push(
        json!({"feature": 0, "threshold": 0.0, "left": 0, "right": 0, "leaf": true,
        "cover": 1.0, "positives": 0.5, "value": 0.2}),
    );
    Value::Array(nodes)
}

/// Every command that reads a model file refuses `model`, naming `reason`; nothing is written.
fn refused_everywhere(model: &Path, reason: &str) {
    let dir = tempdir();
    let db = dir.path().join("ops.db");
    let out = dir.path().join("scores.csv");
    let m = model.display().to_string();
    let d = telco().display().to_string();
    let o = out.display().to_string();
    assert_refused(
        &run_bounded(&db, &["score", "--model", &m, "--data", &d, "--out", &o]),
        reason,
    );
    assert!(
        !out.exists(),
        "score wrote {o} although it refused the model"
    );
    assert_refused(
        &run_bounded(&db, &["evaluate", "--model", &m, "--data", &d]),
        reason,
    );
    assert_refused(&run_bounded(&db, &["inspect", &m]), reason);
    assert_refused(&run_bounded(&db, &["model", "register", &m]), reason);
    let registered = if db.exists() {
        Store::open(&db)
            .and_then(|s| s.versions())
            .map_or(0, |v| v.len())
    } else {
        0
    };
    assert_eq!(registered, 0, "a refused model was registered");
}

#[test]
fn a_tree_node_that_is_its_own_child_is_refused_not_looped() {
    let dir = tempdir();
    let bad = edited(&tree_model(), dir.path(), "loop.json", |m| {
        m["estimator"]["tree"]["nodes"][0]["left"] = json!(0);
    });
    refused_everywhere(
        &bad,
        "decision tree node 0: child 0 is not after its parent",
    );
}

#[test]
fn a_child_index_out_of_range_is_refused_not_a_panic() {
    let dir = tempdir();
    let bad = edited(&tree_model(), dir.path(), "range.json", |m| {
        m["estimator"]["tree"]["nodes"][0]["right"] = json!(99_999);
    });
    refused_everywhere(&bad, "node 0: child 99999 is out of range");
}

#[test]
fn a_boosted_tree_that_loops_is_named() {
    let dir = tempdir();
    let src = boosting_model();
    let k = first_split(&model_json(&src)["estimator"]["boosting"]["trees"][3]);
    let bad = edited(&src, dir.path(), "boost.json", |m| {
        m["estimator"]["boosting"]["trees"][3][k]["right"] = json!(k);
    });
    refused_everywhere(
        &bad,
        &format!(
            "estimator: gradient boosting: tree 3 node {k}: child {k} is not after its parent"
        ),
    );
}

#[test]
fn a_tree_deeper_than_the_limit_is_refused() {
    let dir = tempdir();
    let bad = edited(&tree_model(), dir.path(), "deep.json", |m| {
        m["estimator"]["tree"]["nodes"] = chain(70);
    });
    refused_everywhere(&bad, "is at depth 65, deeper than the 64 allowed");
    // At the limit it loads and scores.
    let fine = edited(&tree_model(), dir.path(), "deep64.json", |m| {
        m["estimator"]["tree"]["nodes"] = chain(64);
    });
    ok(&run_bounded(
        &dir.path().join("ops.db"),
        &["inspect", &fine.display().to_string()],
    ));
}

#[test]
fn an_empty_isotonic_calibrator_is_refused() {
    let dir = tempdir();
    let bad = edited(telco_model(), dir.path(), "iso.json", |m| {
        m["calibrator"] = json!({"method": "isotonic", "x": [], "y": []});
    });
    refused_everywhere(&bad, "calibrator: isotonic calibration has no knots");
    let bad = edited(telco_model(), dir.path(), "iso2.json", |m| {
        m["calibrator"] = json!({"method": "isotonic", "x": [0.0, 1.0], "y": [0.9, 0.1]});
    });
    refused_everywhere(&bad, "(not monotone)");
}

#[test]
fn coefficients_must_match_the_inputs() {
    let dir = tempdir();
    let n = model_json(telco_model())["pipeline"]["outputs"]
        .as_array()
        .map_or(0, Vec::len);
    assert!(n > 10, "the Telco pipeline has {n} inputs");
    let more = edited(telco_model(), dir.path(), "more.json", |m| {
        if let Some(c) = m["estimator"]["logistic"]["coefficients"].as_array_mut() {
            c.push(json!(0.25));
        }
    });
    refused_everywhere(
        &more,
        &format!(
            "estimator: logistic regression: {} coefficient(s), but the pipeline makes {n} input(s)",
            n + 1
        ),
    );
    // Fewer coefficients scored everyone with a silently shortened model.
    let fewer = edited(telco_model(), dir.path(), "fewer.json", |m| {
        if let Some(c) = m["estimator"]["logistic"]["coefficients"].as_array_mut() {
            c.truncate(3);
        }
    });
    refused_everywhere(
        &fewer,
        &format!("3 coefficient(s), but the pipeline makes {n} input(s)"),
    );
}

#[test]
fn tiers_out_of_order_and_a_threshold_outside_0_1_are_refused() {
    let dir = tempdir();
    let tiers = edited(telco_model(), dir.path(), "tiers.json", |m| {
        m["tiers"] = json!({"medium": 0.8, "high": 0.2});
    });
    refused_everywhere(
        &tiers,
        "risk tiers: boundaries 0.8 and 0.2 must satisfy 0 < medium < high < 1",
    );
    let threshold = edited(telco_model(), dir.path(), "threshold.json", |m| {
        m["threshold"] = json!(-1e308);
    });
    refused_everywhere(
        &threshold,
        "threshold -1e308 is not a probability in [0, 1]",
    );
}

#[test]
fn a_2_gb_model_file_is_refused_without_being_read() {
    let dir = tempdir();
    let huge = dir.path().join("huge.json");
    // Sparse: 2 GiB by its size, no disk used. Reading it whole took seconds and 2 GiB of memory.
    std::fs::File::create(&huge)
        .and_then(|f| f.set_len(2 << 30))
        .expect("create a sparse file");
    refused_everywhere(
        &huge,
        "a model file may be at most 256 MiB, and this one is 2147483648 bytes",
    );
}

/// Registers `artifact` as a new version straight in the database, as an earlier release (which
/// did not check the structure) could have; returns the version.
fn insert_version(db: &Path, artifact: &[u8]) -> i64 {
    let conn = rusqlite::Connection::open(db).expect("open the database");
    conn.execute(
        "INSERT INTO models (sha256, artifact, algorithm, metrics, registered_at, registered_by)
         VALUES (?1, ?2, 'logistic', '{}', '2024-01-01T00:00:00Z', 'earlier release')",
        rusqlite::params![retention::sha256_hex(artifact), artifact],
    )
    .expect("insert a version");
    conn.last_insert_rowid()
}

#[test]
fn a_stored_version_that_no_longer_loads_is_refused_by_validate_ab_promote_and_score() {
    let dir = tempdir();
    let db = dir.path().join("ops.db");
    let d = telco().display().to_string();
    let lr = telco_model().display().to_string();
    ok(&ret(&db, &["model", "register", &lr]));
    ok(&ret(&db, &["model", "validate", "1", "--data", &d]));
    ok(&ret(&db, &["model", "promote", "1"]));
    let mut model = model_json(telco_model());
    if let Some(c) = model["estimator"]["logistic"]["coefficients"].as_array_mut() {
        c.push(json!(1.0));
    }
    let v = insert_version(&db, &wrap(&model)).to_string();
    let n = model_json(telco_model())["pipeline"]["outputs"]
        .as_array()
        .map_or(0, Vec::len);
    let reason = format!(
        "logistic regression: {} coefficient(s), but the pipeline makes {n} input(s)",
        n + 1
    );
    assert_refused(
        &run_bounded(&db, &["model", "validate", &v, "--data", &d]),
        &reason,
    );
    assert_refused(
        &run_bounded(
            &db,
            &[
                "model",
                "ab",
                "--challenger",
                &v,
                "--force",
                "--reason",
                "drill",
            ],
        ),
        &reason,
    );
    assert_refused(
        &run_bounded(
            &db,
            &["model", "promote", &v, "--force", "--reason", "drill"],
        ),
        &reason,
    );
    let out = dir.path().join("s.csv").display().to_string();
    assert_refused(
        &run_bounded(&db, &["score", "--model", &v, "--data", &d, "--out", &out]),
        &reason,
    );
    let store = Store::open(&db).expect("open");
    let aliases = store.aliases().expect("aliases");
    assert_eq!((aliases.champion, aliases.challenger), (Some(1), None));
}

#[test]
fn model_ab_needs_a_passed_validation_or_force_with_a_reason() {
    let dir = tempdir();
    let db = dir.path().join("ops.db");
    let d = telco().display().to_string();
    ok(&ret(
        &db,
        &["model", "register", &telco_model().display().to_string()],
    ));
    ok(&ret(
        &db,
        &["model", "register", &tree_model().display().to_string()],
    ));
    ok(&ret(&db, &["model", "validate", "1", "--data", &d]));
    ok(&ret(&db, &["model", "promote", "1"]));

    assert_refused(
        &ret(&db, &["model", "ab", "--challenger", "2", "--split", "0.5"]),
        "A/B test with version 2 refused: validation: never validated",
    );
    let failed = ret(
        &db,
        &["model", "validate", "2", "--data", &d, "--min-auc", "0.99"],
    );
    assert_eq!(failed.status.code(), Some(3), "{}", stderr(&failed));
    assert_refused(
        &ret(&db, &["model", "ab", "--challenger", "2"]),
        "validation: failed",
    );
    assert_refused(
        &ret(&db, &["model", "ab", "--challenger", "2", "--force"]),
        "--force needs a --reason",
    );
    assert_eq!(
        Store::open(&db)
            .and_then(|s| s.aliases())
            .map(|a| a.challenger)
            .ok(),
        Some(None),
        "a refused A/B test changed the aliases"
    );

    // Forced: started, warned about and recorded with its reason.
    let forced = ret(
        &db,
        &[
            "model",
            "ab",
            "--challenger",
            "2",
            "--split",
            "0.2",
            "--force",
            "--reason",
            "drill",
        ],
    );
    ok(&forced);
    assert!(
        stderr(&forced).contains("gate overridden with --force"),
        "{}",
        stderr(&forced)
    );
    let store = Store::open(&db).expect("open");
    assert_eq!(store.aliases().expect("aliases").challenger, Some(2));
    let events = store.promotions().expect("events");
    let last = events.last().expect("an event");
    assert_eq!(last.action, "ab_start");
    assert!(last.forced && last.reason.contains("drill"), "{last:?}");
    drop(store);
    ok(&ret(&db, &["model", "ab", "--off"]));

    // Validated: started without force, and recorded as not forced.
    ok(&ret(&db, &["model", "validate", "2", "--data", &d]));
    ok(&ret(
        &db,
        &["model", "ab", "--challenger", "2", "--split", "0.2"],
    ));
    let store = Store::open(&db).expect("open");
    let last = store.promotions().expect("events").pop().expect("an event");
    assert!(last.action == "ab_start" && !last.forced, "{last:?}");
}
