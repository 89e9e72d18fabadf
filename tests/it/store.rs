//! The operations store on a real database file: registry lifecycle, prediction log, maintenance,
//! backups, GDPR — and the crash, concurrency and online-backup guarantees.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use retention::prelude::*;
use retention::store::Store;

use crate::util::{
    PgServer, assert_fails_with, bin, ok, ret, stderr, stdout, telco, telco_model, tempdir,
};

fn telco_str() -> String {
    telco().display().to_string()
}

/// A tree model file (a second, different model to register).
fn tree_model(dir: &Path) -> PathBuf {
    let path = dir.join("tree.json");
    let o = Command::new(bin())
        .args([
            "train",
            "--data",
            &telco_str(),
            "--algorithm",
            "tree",
            "--cv",
            "0",
        ])
        .arg("--out")
        .arg(&path)
        .output()
        .expect("train");
    assert!(o.status.success(), "{}", stderr(&o));
    path
}

#[test]
fn the_model_lifecycle_validate_promote_ab_rollback_compare() {
    let dir = tempdir();
    lifecycle(dir.path(), &dir.path().join("ops.db"));
}

#[test]
fn the_model_lifecycle_on_postgresql() {
    let dir = tempdir();
    let pg = PgServer::start();
    lifecycle(dir.path(), Path::new(&pg.database()));
}

/// The registry workflow through the CLI, on the store `db` (a file or a URL).
fn lifecycle(dir: &Path, db: &Path) {
    let db = db.to_path_buf();
    let lr = telco_model().display().to_string();
    let tree = tree_model(dir).display().to_string();
    let d = telco_str();

    assert!(
        ok(&ret(
            &db,
            &["model", "register", &lr, "--notes", "logistic"]
        ))
        .contains("version 1")
    );
    assert!(ok(&ret(&db, &["model", "register", &tree])).contains("version 2"));
    assert!(ok(&ret(&db, &["model", "register", &lr])).contains("already registered as version 1"));

    // Refusals: never validated, unknown version, a failing gate, --force without a reason.
    assert_fails_with(&ret(&db, &["model", "promote", "1"]), "never validated");
    assert_fails_with(
        &ret(&db, &["model", "validate", "9", "--data", &d]),
        "model version 9 is not registered",
    );
    let o = ret(
        &db,
        &["model", "validate", "2", "--data", &d, "--min-auc", "0.95"],
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stdout(&o).contains("FAIL"));
    assert_fails_with(&ret(&db, &["model", "promote", "2"]), "refused");
    assert_fails_with(
        &ret(&db, &["model", "promote", "2", "--force"]),
        "--force needs a --reason",
    );

    ok(&ret(&db, &["model", "validate", "1", "--data", &d]));
    ok(&ret(&db, &["model", "promote", "1"]));

    // A/B: needs a passed validation of the challenger (version 2's failed above).
    assert_fails_with(
        &ret(&db, &["model", "ab", "--challenger", "2", "--split", "0.1"]),
        "A/B test with version 2 refused: validation: failed",
    );
    ok(&ret(&db, &["model", "validate", "2", "--data", &d]));
    // 10 % of customers, stable per id; scoring without --model routes.
    ok(&ret(
        &db,
        &["model", "ab", "--challenger", "2", "--split", "0.1"],
    ));
    let scores = dir.join("scores.csv");
    let s = scores.display().to_string();
    ok(&ret(
        &db,
        &["score", "--data", &d, "--out", &s, "--log", "--show", "0"],
    ));
    let text = std::fs::read_to_string(&scores).unwrap_or_default();
    let challengers = text.lines().filter(|l| l.ends_with(",challenger")).count();
    assert!(
        (500..900).contains(&challengers),
        "{challengers} of 7043 routed to the challenger"
    );
    // Same customers, same variants on a second run.
    let again = dir.join("again.csv");
    ok(&ret(
        &db,
        &[
            "score",
            "--data",
            &d,
            "--out",
            &again.display().to_string(),
            "--show",
            "0",
        ],
    ));
    assert_eq!(std::fs::read_to_string(&again).unwrap_or_default(), text);

    let compare = ok(&ret(&db, &["model", "compare", "--outcomes", &d]));
    assert!(
        compare.contains("champion") && compare.contains("challenger"),
        "{compare}"
    );
    // Stopping the test sends everyone back to the champion.
    assert!(ok(&ret(&db, &["model", "ab", "--off"])).contains("A/B test stopped"));
    assert_fails_with(
        &ret(&db, &["model", "ab", "--off"]),
        "no A/B test is running",
    );
    assert_eq!(
        Store::open(&db)
            .expect("open")
            .aliases()
            .expect("aliases")
            .challenger,
        None
    );

    // A version that does not beat the champion on the same holdout is refused; --force works
    // and is recorded; rollback restores the previous champion.
    assert_fails_with(
        &ret(
            &db,
            &["model", "promote", "2", "--data", &d, "--margin", "0.5"],
        ),
        "beats_champion",
    );
    ok(&ret(
        &db,
        &[
            "model", "promote", "2", "--data", &d, "--margin", "0.5", "--force", "--reason",
            "drill",
        ],
    ));
    let store = Store::open(&db).expect("open");
    assert_eq!(store.aliases().expect("aliases").champion, Some(2));
    assert!(
        store
            .promotions()
            .expect("events")
            .iter()
            .any(|p| p.forced && p.reason == "drill")
    );
    drop(store);
    ok(&ret(&db, &["model", "rollback"]));
    assert_eq!(
        Store::open(&db)
            .expect("open")
            .aliases()
            .expect("aliases")
            .champion,
        Some(1)
    );

    // Registry references wherever a model is expected.
    ok(&ret(
        &db,
        &["evaluate", "--model", "champion", "--data", &d],
    ));
    ok(&ret(
        &db,
        &[
            "explain",
            "--model",
            "v2",
            "--data",
            &d,
            "--id",
            "7590-VHVEG",
        ],
    ));
    ok(&ret(
        &db,
        &["drift", "--model", "1", "--reference", &d, "--current", &d],
    ));
    assert_fails_with(
        &ret(
            &db,
            &["score", "--model", "challenger", "--data", &d, "--out", &s],
        ),
        "no challenger",
    );
    let list = ok(&ret(&db, &["model", "list"]));
    assert!(
        list.contains("champion") && list.contains("logistic"),
        "{list}"
    );
}

#[test]
fn the_prediction_log_does_not_duplicate_a_rerun_batch() {
    let dir = tempdir();
    prediction_log(dir.path(), &dir.path().join("log.db"));
}

#[test]
fn the_prediction_log_on_postgresql() {
    let dir = tempdir();
    let pg = PgServer::start();
    prediction_log(dir.path(), Path::new(&pg.database()));
}

fn prediction_log(dir: &Path, db: &Path) {
    let m = telco_model().display().to_string();
    let out = dir.join("s.csv").display().to_string();
    let d = telco_str();
    let score = [
        "score",
        "--model",
        &m,
        "--data",
        &d,
        "--out",
        &out,
        "--log",
        "--batch-id",
        "b1",
        "--show",
        "0",
    ];
    let first = ok(&ret(db, &score));
    assert!(first.contains("Logged 7043 new rows"), "{first}");
    let second = ok(&ret(db, &score));
    assert!(second.contains("Logged 0 new rows"), "{second}");
    assert_eq!(
        Store::open(db)
            .expect("open")
            .prediction_count()
            .expect("count"),
        7043
    );
}

#[test]
fn maintenance_gdpr_backup_and_restore() {
    let dir = tempdir();
    let db = dir.path().join("ops.db");
    let m = telco_model().display().to_string();
    let out = dir.path().join("s.csv").display().to_string();
    let d = telco_str();
    ok(&ret(
        &db,
        &[
            "score", "--model", &m, "--data", &d, "--out", &out, "--log", "--show", "0",
        ],
    ));

    let check = ok(&ret(&db, &["db", "check"]));
    assert!(
        check.contains("integrity: ok")
            && check
                .lines()
                .any(|l| l.split_whitespace().eq(["predictions", "7043"])),
        "{check}"
    );
    ok(&ret(&db, &["db", "optimize"]));

    // GDPR: export names every row, delete erases them, the audit keeps a salted hash only.
    let export = ok(&ret(
        &db,
        &["gdpr", "export", "--customer-id", "7590-VHVEG"],
    ));
    let v: serde_json::Value = serde_json::from_str(&export).unwrap_or_default();
    assert_eq!(
        v["predictions"].as_array().map(Vec::len),
        Some(1),
        "{export}"
    );
    ok(&ret(
        &db,
        &["gdpr", "delete", "--customer-id", "7590-VHVEG"],
    ));
    let month = chrono_month();
    let audit = ok(&ret(&db, &["gdpr", "audit", "--month", &month, "--json"]));
    let a: serde_json::Value = serde_json::from_str(&audit).unwrap_or_default();
    assert_eq!(a["deletions"], 1);
    assert_eq!(a["retention_policy_ok"], true);
    assert!(
        !audit.contains("7590-VHVEG"),
        "the audit log must not hold the id: {audit}"
    );
    let store = Store::open(&db).expect("open");
    assert!(
        store
            .predictions_of("7590-VHVEG")
            .expect("query")
            .is_empty()
    );
    for e in store.audit_entries("").expect("audit") {
        assert!(!e.subject.contains("7590") && !e.details.to_string().contains("7590-VHVEG"));
    }
    drop(store);

    // Backups: rotation keeps N, verify passes, a tampered backup is refused and restore leaves
    // the database untouched; a good restore keeps the replaced database aside.
    let root = dir.path().join("backups");
    let r = root.display().to_string();
    for _ in 0..3 {
        ok(&ret(&db, &["backup", "--out", &r, "--keep", "2"]));
    }
    let mut backups: Vec<PathBuf> = std::fs::read_dir(&root)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    backups.sort();
    assert_eq!(backups.len(), 2, "{backups:?}");
    let good = backups[1].display().to_string();
    ok(&ret(&db, &["backup", "verify", &good]));
    assert!(ok(&ret(&db, &["db", "check"])).contains("hours ago"));

    ok(&ret(
        &db,
        &["db", "cleanup", "--older-than", "0s", "--batch", "1000"],
    ));
    assert_eq!(
        Store::open(&db)
            .expect("open")
            .prediction_count()
            .expect("count"),
        0
    );
    let o = ok(&ret(&db, &["restore", "--from", &good]));
    assert!(o.contains("kept at"), "{o}");
    assert_eq!(
        Store::open(&db)
            .expect("open")
            .prediction_count()
            .expect("count"),
        7042
    );

    let bad = backups[0].clone();
    let db_file = bad.join("retentionai.db");
    let mut bytes = std::fs::read(&db_file).unwrap_or_default();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&db_file, bytes).expect("tamper");
    let before = std::fs::read(&db).unwrap_or_default();
    assert_fails_with(
        &ret(&db, &["backup", "verify", &bad.display().to_string()]),
        "SHA-256 differs",
    );
    assert_fails_with(
        &ret(&db, &["restore", "--from", &bad.display().to_string()]),
        "damaged",
    );
    assert_eq!(
        std::fs::read(&db).unwrap_or_default(),
        before,
        "a refused restore touched the database"
    );

    assert_fails_with(
        &ret(&db, &["db", "cleanup", "--older-than", "9x"]),
        "--older-than",
    );
    assert_fails_with(
        &ret(&dir.path().join("none.db"), &["db", "check"]),
        "none.db",
    );
}

fn chrono_month() -> String {
    let o = Command::new("date")
        .args(["-u", "+%Y-%m"])
        .output()
        .expect("date");
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// A Parquet copy of Telco repeated to `rows` rows (Parquet is scored in 100,000-row batches).
fn big_parquet(dir: &Path, rows: usize) -> PathBuf {
    let one = read_table(&telco()).expect("read").frame;
    let mut all = one.clone();
    while all.height() < rows {
        all.vstack_mut(&one).expect("stack");
    }
    let path = dir.join("big.parquet");
    write_table(&all.head(Some(rows)), &path).expect("write parquet");
    path
}

/// Row indexes logged so far, in order.
fn logged_rows(db: &Path) -> Vec<i64> {
    let store = Store::open(db).expect("open");
    let mut rows: Vec<i64> = store
        .predictions_in_batch("crash")
        .expect("rows")
        .into_iter()
        .collect();
    rows.sort_unstable();
    rows
}

fn spawn_logging(db: &Path, data: &Path, out: &Path, batch: &str) -> std::process::Child {
    Command::new(bin())
        .args(["score", "--model"])
        .arg(telco_model())
        .arg("--data")
        .arg(data)
        .arg("--out")
        .arg(out)
        .args(["--log", "--show", "0", "--batch-id", batch])
        .env("RETENTIONAI_DB", db)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn scoring")
}

fn wait_for_rows(db: &Path, child: &mut std::process::Child) -> usize {
    let start = Instant::now();
    loop {
        let n = Store::open(db)
            .and_then(|s| s.prediction_count())
            .unwrap_or(0);
        if n > 0 {
            return n as usize;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("scoring ended ({status}) before logging anything");
        }
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "nothing logged in 5 minutes"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_killed_logging_run_leaves_whole_batches_and_a_sound_database() {
    let dir = tempdir();
    let db = dir.path().join("crash.db");
    let data = big_parquet(dir.path(), 250_000);
    Store::open(&db).expect("create");
    let mut child = spawn_logging(&db, &data, &dir.path().join("out.csv"), "crash");
    wait_for_rows(&db, &mut child);
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let store = Store::open(&db).expect("reopen after the kill");
    let check = store.check().expect("check");
    assert!(check.ok(), "{check:?}");
    let rows = logged_rows(&db);
    let n = rows.len();
    assert!(n > 0 && n < 250_000, "{n} rows logged");
    assert_eq!(n % 100_000, 0, "only whole 100,000-row batches, got {n}");
    assert!(
        rows.iter().enumerate().all(|(i, r)| *r == i as i64),
        "rows form a prefix"
    );
    // Re-running the batch completes it without duplicates.
    let o = spawn_logging(&db, &data, &dir.path().join("out.csv"), "crash")
        .wait_with_output()
        .expect("rerun");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        Store::open(&db)
            .expect("open")
            .prediction_count()
            .expect("count"),
        250_000
    );
}

#[test]
fn an_online_backup_holds_every_row_committed_before_it_began() {
    let dir = tempdir();
    let db = dir.path().join("busy.db");
    let data = big_parquet(dir.path(), 250_000);
    Store::open(&db).expect("create");
    let mut child = spawn_logging(&db, &data, &dir.path().join("out.csv"), "busy");
    wait_for_rows(&db, &mut child);
    let committed = Store::open(&db)
        .expect("open")
        .prediction_count()
        .expect("count");
    let root = dir.path().join("backups");
    let o = ret(&db, &["backup", "--out", &root.display().to_string()]);
    assert!(o.status.success(), "backup during writes: {}", stderr(&o));
    // A second writer at the same time: cleanup of old rows (none) must not hit "locked".
    let cleanup = ret(&db, &["db", "cleanup", "--older-than", "30d"]);
    assert!(cleanup.status.success(), "{}", stderr(&cleanup));
    let scoring = child.wait_with_output().expect("scoring");
    assert!(
        scoring.status.success(),
        "concurrent scoring failed: {}",
        stderr(&scoring)
    );
    assert!(!stderr(&scoring).contains("locked"));

    let backup = std::fs::read_dir(&root)
        .ok()
        .and_then(|mut d| d.next())
        .and_then(|e| e.ok())
        .map(|e| e.path())
        .expect("one backup");
    let restored = dir.path().join("restored.db");
    let o = ret(
        &restored,
        &["restore", "--from", &backup.display().to_string()],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let store = Store::open(&restored).expect("open restored");
    assert!(store.check().expect("check").ok());
    let n = store.prediction_count().expect("count");
    assert!(
        n >= committed,
        "backup has {n} rows, {committed} were committed before it began"
    );
    assert_eq!(n % 100_000, 0, "whole batches only: {n}");
}
