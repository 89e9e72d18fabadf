//! `retention doctor` catches what the runbook's checks look for: a broken database, a
//! champion whose bytes were altered, a missing or stale backup, a server that is down.

use std::path::Path;
use std::process::Output;

use crate::serve::{Server, registry};
use crate::util::{ok, ret, stderr, stdout, tempdir};

/// `retention doctor --json` on `db` with `extra`: the exit code and each check's status.
fn doctor(db: &Path, extra: &[&str]) -> (Option<i32>, Vec<(String, String, String)>, Output) {
    let mut args = vec!["doctor", "--json"];
    args.extend(extra);
    let o = ret(db, &args);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o))
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", stdout(&o), stderr(&o)));
    let checks = v["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
            (s("check"), s("status"), s("detail"))
        })
        .collect();
    (o.status.code(), checks, o)
}

fn status<'a>(checks: &'a [(String, String, String)], name: &str) -> (&'a str, &'a str) {
    checks
        .iter()
        .find(|c| c.0 == name)
        .map(|c| (c.1.as_str(), c.2.as_str()))
        .unwrap_or_else(|| panic!("no check {name} in {checks:?}"))
}

#[test]
fn a_healthy_installation_passes_and_a_missing_or_stale_backup_fails() {
    let dir = tempdir();
    let (db, _key) = registry(dir.path());
    // No backup yet.
    let (code, checks, _) = doctor(&db, &[]);
    assert_eq!(code, Some(3), "{checks:?}");
    assert_eq!(status(&checks, "backups").0, "fail");
    assert!(
        status(&checks, "backups").1.contains("no backup"),
        "{checks:?}"
    );
    for name in [
        "configuration",
        "database",
        "integrity",
        "permissions",
        "champion",
        "disk",
    ] {
        assert_ne!(status(&checks, name).0, "fail", "{name}: {checks:?}");
    }
    assert!(
        status(&checks, "champion")
            .1
            .contains("matches its SHA-256")
    );

    let backups = dir.path().join("backups");
    ok(&ret(
        &db,
        &["backup", "--out", backups.to_str().expect("utf-8")],
    ));
    let (code, checks, o) = doctor(&db, &[]);
    assert_eq!(code, Some(0), "{checks:?}");
    assert_eq!(status(&checks, "backups").0, "ok");
    // The table form says the same.
    let table = ok(&ret(&db, &["doctor"]));
    assert!(
        table.contains("every check passed"),
        "{table}\n{}",
        stderr(&o)
    );

    // Older than the limit (0.36 s): stale.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (code, checks, _) = doctor(&db, &["--max-backup-age", "0.0001"]);
    assert_eq!(code, Some(3));
    assert!(status(&checks, "backups").1.contains("old"), "{checks:?}");

    // The backup folder removed: missing.
    std::fs::remove_dir_all(&backups).expect("remove backups");
    let (code, checks, _) = doctor(&db, &[]);
    assert_eq!(code, Some(3));
    assert!(status(&checks, "backups").1.contains("gone"), "{checks:?}");
}

#[test]
fn a_broken_database_and_an_altered_champion_fail() {
    let dir = tempdir();
    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, vec![b'x'; 8192]).expect("write");
    let (code, checks, _) = doctor(&garbage, &[]);
    assert_eq!(code, Some(3));
    assert_eq!(status(&checks, "database").0, "fail");

    let missing = dir.path().join("missing.db");
    let (code, checks, _) = doctor(&missing, &[]);
    assert_eq!(code, Some(3));
    assert_eq!(status(&checks, "database").0, "fail");

    let (db, _key) = registry(dir.path());
    // Version 1, the champion, is the shared Telco model: flip a digit of it on disk.
    let model = std::fs::read(crate::util::telco_model()).expect("model");
    crate::store_safety::corrupt_stored_artifact(&db, &model);
    let (code, checks, _) = doctor(&db, &[]);
    assert_eq!(code, Some(3));
    let (s, detail) = status(&checks, "champion");
    assert_eq!(s, "fail", "{checks:?}");
    assert!(
        detail.contains("v1") && detail.contains("SHA-256"),
        "{detail}"
    );
}

#[test]
fn a_running_server_is_checked_and_one_that_is_down_fails() {
    let dir = tempdir();
    let (db, _key) = registry(dir.path());
    let backups = dir.path().join("backups");
    ok(&ret(
        &db,
        &["backup", "--out", backups.to_str().expect("utf-8")],
    ));
    let server = Server::start(&db, &[]);
    let url = format!("http://{}", server.addr);
    let bundle = dir.path().join("incident.tar.gz");
    let (code, checks, o) = doctor(
        &db,
        &["--url", &url, "--bundle", bundle.to_str().expect("utf-8")],
    );
    assert_eq!(code, Some(0), "{checks:?}\n{}", stderr(&o));
    for path in ["/live", "/health", "/ready", "/metrics"] {
        assert_eq!(
            status(&checks, &format!("server {path}")).0,
            "ok",
            "{checks:?}"
        );
    }
    // Owner-only, and never written over what it reports on.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&bundle)
        .expect("bundle")
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "{mode:o}");
    let before = std::fs::read(&db).expect("db");
    let o = ret(&db, &["doctor", "--bundle", db.to_str().expect("utf-8")]);
    assert!(
        !o.status.success() && stderr(&o).contains("bundle"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(&db).expect("db"), before);
    let o = ret(&db, &["doctor", "--url", "https://127.0.0.1:1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("http://"), "{}", stderr(&o));
    let listing = std::process::Command::new("tar")
        .args(["tzf"])
        .arg(&bundle)
        .output()
        .expect("tar");
    let listing = ok(&listing);
    for file in [
        "versions.txt",
        "config.json",
        "checks.json",
        "database.json",
        "metrics.txt",
    ] {
        assert!(listing.contains(file), "{file} not in {listing}");
    }
    drop(server);

    // Nothing listens there any more.
    let (code, checks, _) = doctor(&db, &["--url", &url]);
    assert_eq!(code, Some(3));
    let (s, detail) = status(&checks, "server /live");
    assert_eq!(s, "fail");
    assert!(detail.contains("does not answer"), "{detail}");
}

/// `scripts/restore_drill.sh`, as the README documents it, with this build's binary.
fn drill(backups: &Path) -> Output {
    std::process::Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/restore_drill.sh"))
        .arg(backups)
        .env("RETENTION_BIN", crate::util::bin())
        .output()
        .expect("run the drill")
}

#[test]
fn the_restore_drill_restores_the_newest_backup_beside_the_live_database() {
    let dir = tempdir();
    let (db, _key) = registry(dir.path());
    // Predictions in the log, so that the drill has rows to account for.
    let scores = dir.path().join("scores.csv");
    ok(&ret(
        &db,
        &[
            "score",
            "--data",
            &crate::util::telco().display().to_string(),
            "--out",
            scores.to_str().expect("utf-8"),
            "--log",
        ],
    ));
    let backups = dir.path().join("backups");
    let b = backups.to_str().expect("utf-8");
    ok(&ret(&db, &["backup", "--out", b]));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    ok(&ret(&db, &["backup", "--out", b]));
    let live_before = std::fs::read(&db).expect("live db");

    let o = drill(&backups);
    let text = stdout(&o);
    assert!(o.status.success(), "{text}\n{}", stderr(&o));
    assert!(
        text.contains("restore drill passed: recovery point"),
        "{text}"
    );
    assert!(text.contains("predictions 7043"), "{text}");
    assert!(text.contains("v1 (logistic) loads"), "{text}");
    // The live database is untouched.
    assert_eq!(std::fs::read(&db).expect("live db"), live_before);

    // A damaged newest backup fails the drill, naming the step.
    let mut folders: Vec<_> = std::fs::read_dir(&backups)
        .expect("backups")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    folders.sort();
    let newest = folders.last().expect("a backup");
    let copied = newest.join("retentionai.db");
    let mut bytes = std::fs::read(&copied).expect("backup db");
    let at = bytes.len() / 2;
    bytes[at] ^= 0xff;
    std::fs::write(&copied, bytes).expect("damage");
    let o = drill(&backups);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("does not verify"), "{}", stderr(&o));
}
