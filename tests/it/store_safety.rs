//! The operations store facing operators' mistakes and privacy duties: customer ids in one form on
//! every path, erasure that leaves no readable copy, backups that rotate only what they made and
//! survive a corrupt version, manifests as untrusted input, owner-only files, and restore beside
//! a process that has the database open.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use retention::model::ChurnModel;
use retention::store::{PredictionRow, Store};

use crate::util::{assert_fails_with, bin, ok, ret, stderr, stdout, telco, telco_model, tempdir};

/// Runs `retention` against `db` under umask 022 (the usual one), as actor `tester`.
fn ret022(db: &Path, args: &[&str]) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg("umask 022 && exec \"$0\" \"$@\"")
        .arg(bin())
        .args(args)
        .env("RETENTIONAI_DB", db)
        .env("RETENTIONAI_ACTOR", "tester")
        .output()
        .expect("spawn retention under sh")
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The bytes of a database and its write-ahead log.
fn db_bytes(db: &Path) -> Vec<u8> {
    let mut bytes = std::fs::read(db).unwrap_or_default();
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    bytes.extend(std::fs::read(PathBuf::from(wal)).unwrap_or_default());
    bytes
}

fn rows<'a>(ids: &'a [&'a str], version: i64) -> Vec<PredictionRow<'a>> {
    ids.iter()
        .enumerate()
        .map(|(i, id)| PredictionRow {
            customer_id: id,
            model_version: version,
            variant: "champion",
            probability: 0.25,
            tier: "Low",
            row_index: i as i64,
        })
        .collect()
}

/// Backup folders under `root`, oldest first.
fn folders(root: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn backups(root: &Path) -> Vec<PathBuf> {
    folders(root)
        .into_iter()
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("retentionai-2") && n.len() == 32)
        })
        .collect()
}

/// A store with the Telco model registered (version 1).
fn registered(dir: &Path) -> PathBuf {
    let db = dir.join("ops.db");
    ok(&ret(
        &db,
        &["model", "register", &telco_model().display().to_string()],
    ));
    db
}

#[test]
fn gdpr_finds_ids_logged_with_stray_spaces_and_erasure_leaves_no_readable_copy() {
    let dir = tempdir();
    let db = registered(dir.path());
    let secret = "ERASE-ME-4711";
    // The HTTP server logs through `log_predictions` on its own connection, with the id as the
    // client sent it; that connection stays open during the erasure.
    let mut server = Store::open(&db).expect("open");
    let padded = format!("  {secret}\t");
    let ids = [padded.as_str(), "KEEP-1", "KEEP-2", "KEEP-3"];
    server
        .log_predictions("http-1", &rows(&ids, 1))
        .expect("log");
    // `db optimize` samples index keys (customer ids among them) into sqlite_stat4.
    ok(&ret(&db, &["db", "optimize"]));
    let again = [format!("{secret} "), " KEEP-1".to_string()];
    let again: Vec<&str> = again.iter().map(String::as_str).collect();
    server
        .log_predictions("http-2", &rows(&again, 1))
        .expect("log");
    assert!(
        contains(&db_bytes(&db), secret.as_bytes()),
        "the id should be in the files before the erasure"
    );

    // Every path agrees on the id: the export of the trimmed id finds both rows.
    let export = ok(&ret(&db, &["gdpr", "export", "--customer-id", secret]));
    let v: serde_json::Value = serde_json::from_str(&export).expect("json");
    assert_eq!(
        v["predictions"].as_array().map(Vec::len),
        Some(2),
        "{export}"
    );
    assert_eq!(v["predictions"][0]["customer_id"], secret);
    assert_eq!(
        server
            .predictions_of(&format!(" {secret} "))
            .expect("q")
            .len(),
        2
    );
    assert_eq!(
        server.subject_hash(secret).expect("h"),
        server.subject_hash(&padded).expect("h")
    );

    let o = ok(&ret(&db, &["gdpr", "delete", "--customer-id", secret]));
    assert!(o.contains("Erased 2 rows"), "{o}");
    let bytes = db_bytes(&db);
    assert!(
        !contains(&bytes, secret.as_bytes()),
        "the erased id is still readable in the database or its WAL"
    );
    assert!(contains(&bytes, b"KEEP-2"), "other customers must stay");
    assert_eq!(server.predictions_of("KEEP-1").expect("q").len(), 2);
    // The connection that stayed open keeps working, and sees the erasure.
    assert!(server.predictions_of(secret).expect("q").is_empty());
    server
        .log_predictions("http-3", &rows(&["KEEP-4"], 1))
        .expect("log after the erasure");

    // A blank id is refused rather than matching the rows logged without an id.
    assert_fails_with(
        &ret(&db, &["gdpr", "delete", "--customer-id", "  "]),
        "blank",
    );
}

#[test]
fn ids_arriving_over_http_are_stored_normalised() {
    let dir = tempdir();
    let db = registered(dir.path());
    let d = telco().display().to_string();
    let _ = ret(&db, &["model", "validate", "1", "--data", &d]);
    ok(&ret(&db, &["model", "promote", "1"]));
    let key = ok(&ret(&db, &["auth", "create-key", "--name", "tests"]))
        .trim()
        .to_string();
    let mut child = Command::new(bin())
        .args(["serve", "--port", "0"])
        .env("RETENTIONAI_DB", &db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn retention serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("address line");
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    let text = std::fs::read_to_string(telco()).expect("telco");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let row: Vec<&str> = lines.next().expect("row").split(',').collect();
    let mut record: serde_json::Map<String, serde_json::Value> = header
        .iter()
        .zip(&row)
        .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
        .collect();
    let id = row[0].to_string();
    record.insert("customerID".into(), format!("  {id} ").into());
    let body = serde_json::Value::Object(record).to_string();
    let mut s = TcpStream::connect(&addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        s,
        "POST /v1/predict HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut answer = String::new();
    s.read_to_string(&mut answer).expect("read");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // SIGTERM drains the log queue before exiting.
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .is_ok_and(|s| s.success())
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("wait").is_none() {
        assert!(Instant::now() < deadline, "the server did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
    let export = ok(&ret(&db, &["gdpr", "export", "--customer-id", &id]));
    let v: serde_json::Value = serde_json::from_str(&export).expect("json");
    assert_eq!(
        v["predictions"].as_array().map(Vec::len),
        Some(1),
        "{export}"
    );
    assert_eq!(v["predictions"][0]["customer_id"], id.as_str());
}

#[test]
fn backup_rotation_touches_only_the_folders_it_made() {
    let dir = tempdir();
    let db = registered(dir.path());
    let root = dir.path().join("backups");
    let r = root.display().to_string();
    for _ in 0..3 {
        ok(&ret(&db, &["backup", "--out", &r, "--keep", "10"]));
    }
    let made = backups(&root);
    assert_eq!(made.len(), 3, "{made:?}");
    // What an operator may keep beside the backups: folders named like one, one dated in the
    // future (it sorts after every real backup), and a note inside a real backup.
    let manual = root.join("retentionai-manual-before-upgrade");
    std::fs::create_dir_all(&manual).expect("mkdir");
    std::fs::write(manual.join("notes.txt"), "keep me").expect("write");
    let future = root.join("retentionai-29991231T235959.999Z");
    std::fs::create_dir_all(&future).expect("mkdir");
    std::fs::write(future.join("retentionai.db"), "operator copy").expect("write");
    std::fs::write(made[0].join("README.txt"), "why this backup matters").expect("write");

    let o = ret(&db, &["backup", "--out", &r, "--keep", "1"]);
    let out = ok(&o);
    let now = backups(&root);
    let newest = now
        .iter()
        .find(|p| !made.contains(p) && **p != future)
        .cloned()
        .unwrap_or_else(|| panic!("the backup just made was removed: {now:?}\n{out}"));
    ok(&ret(
        &db,
        &["backup", "verify", &newest.display().to_string()],
    ));
    assert!(
        manual.join("notes.txt").is_file(),
        "an operator folder was removed"
    );
    assert!(
        future.join("retentionai.db").is_file(),
        "a folder without a backup manifest was removed"
    );
    assert!(
        made[0].join("README.txt").is_file() && made[0].join("manifest.json").is_file(),
        "a backup holding an operator's file was touched"
    );
    assert!(!made[1].exists() && !made[2].exists(), "{now:?}");
    assert!(out.contains("removed 2"), "{out}");
    assert!(
        stderr(&o).contains("README.txt") && stderr(&o).contains("left alone"),
        "{}",
        stderr(&o)
    );
}

/// Changes one digit of a registered artifact inside the database file (after `db optimize`
/// folded the WAL in): the bytes no longer match their SHA-256, as after a bad disk.
pub fn corrupt_stored_artifact(db: &Path, model: &[u8]) {
    ok(&ret(db, &["db", "optimize"]));
    let mut bytes = std::fs::read(db).expect("read db");
    for start in (2_000..model.len().saturating_sub(64)).step_by(997) {
        let window = &model[start..start + 48];
        let Some(at) = bytes.windows(48).position(|w| w == window) else {
            continue;
        };
        if let Some(i) = (at..at + 48).find(|&i| bytes[i].is_ascii_digit()) {
            bytes[i] = if bytes[i] == b'7' { b'3' } else { b'7' };
            std::fs::write(db, bytes).expect("write db");
            return;
        }
    }
    panic!("no artifact window found in the database file");
}

#[test]
fn a_corrupt_version_is_reported_and_everything_else_is_backed_up() {
    let dir = tempdir();
    let db = registered(dir.path());
    let model = std::fs::read(telco_model()).expect("model bytes");
    corrupt_stored_artifact(&db, &model);
    // A second, intact version (registered after the damage, so the damage hit version 1).
    let mut other = ChurnModel::load(telco_model()).expect("load");
    other.notes.push("a second version".into());
    let second = dir.path().join("second.model.json");
    other.save(&second).expect("save");
    ok(&ret(
        &db,
        &["model", "register", &second.display().to_string()],
    ));

    let root = dir.path().join("backups");
    let o = ret(&db, &["backup", "--out", &root.display().to_string()]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("model version 1") && stderr(&o).contains("SHA-256"),
        "{}",
        stderr(&o)
    );
    let made = backups(&root);
    assert_eq!(made.len(), 1, "the backup must still be written");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(made[0].join("manifest.json")).expect("manifest"))
            .expect("json");
    assert_eq!(manifest["skipped"][0]["version"], 1, "{manifest}");
    let files: Vec<&str> = manifest["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| f["file"].as_str())
        .collect();
    assert_eq!(files, ["retentionai.db", "models/v2.model.json"]);
    let verified = ok(&ret(
        &db,
        &["backup", "verify", &made[0].display().to_string()],
    ));
    assert!(verified.contains("intact"), "{verified}");
}

/// Rewrites a backup's manifest through `edit`.
fn edit_manifest(backup: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = backup.join("manifest.json");
    let mut m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
    edit(&mut m);
    std::fs::write(&path, serde_json::to_vec_pretty(&m).expect("json")).expect("write");
}

#[test]
fn verify_refuses_manifests_that_leave_the_backup_or_are_not_manifests() {
    let dir = tempdir();
    let db = registered(dir.path());
    let root = dir.path().join("backups");
    ok(&ret(&db, &["backup", "--out", &root.display().to_string()]));
    let good = backups(&root).remove(0);
    let original = std::fs::read(good.join("manifest.json")).expect("manifest");
    let restore_manifest = || std::fs::write(good.join("manifest.json"), &original).expect("w");
    let verify = || ret(&db, &["backup", "verify", &good.display().to_string()]);
    ok(&verify());

    // A file outside the folder, listed with its true size and checksum.
    let outside = dir.path().join("outside.txt");
    std::fs::write(&outside, "not part of any backup").expect("write");
    let sha = retention::sha256_file(&outside).expect("sha");
    for file in [
        "../outside.txt".to_string(),
        outside.display().to_string(),
        "models/../../outside.txt".to_string(),
    ] {
        edit_manifest(&good, |m| {
            m["files"]
                .as_array_mut()
                .expect("files")
                .push(serde_json::json!({
                    "file": file, "bytes": 22, "sha256": sha,
                }));
        });
        assert_fails_with(&verify(), "leaves the backup folder");
        assert_fails_with(
            &ret(&db, &["restore", "--from", &good.display().to_string()]),
            "leaves the backup folder",
        );
        restore_manifest();
    }

    // A symbolic link inside the backup to an identical file outside it.
    #[cfg(unix)]
    {
        let model = good.join("models/v1.model.json");
        let copy = dir.path().join("copy.json");
        std::fs::copy(&model, &copy).expect("copy");
        std::fs::remove_file(&model).expect("rm");
        std::os::unix::fs::symlink(&copy, &model).expect("symlink");
        assert_fails_with(&verify(), "symbolic link");
        std::fs::remove_file(&model).expect("rm");
        std::fs::copy(&copy, &model).expect("copy back");
        ok(&verify());
    }

    // Not a manifest: malformed, huge, a bad checksum field, a file listed twice.
    std::fs::write(good.join("manifest.json"), "{\"created_at\": ").expect("write");
    assert_fails_with(&verify(), "manifest.json is not a valid backup manifest");
    let huge = std::fs::File::create(good.join("manifest.json")).expect("create");
    huge.set_len(64 << 20).expect("grow");
    let o = verify();
    assert_fails_with(&o, "more than the");
    assert!(stderr(&o).len() < 600, "{}", stderr(&o));
    restore_manifest();
    edit_manifest(&good, |m| {
        m["files"][0]["sha256"] = serde_json::json!("x".repeat(5_000));
    });
    let o = verify();
    assert_fails_with(&o, "is not 64 lower-case hex digits");
    assert!(stderr(&o).len() < 600, "a bad value is quoted in full");
    restore_manifest();
    edit_manifest(&good, |m| {
        let first = m["files"][0].clone();
        m["files"].as_array_mut().expect("files").push(first);
    });
    assert_fails_with(&verify(), "listed twice");
    restore_manifest();
    ok(&verify());
}

#[cfg(unix)]
#[test]
fn customer_data_files_are_owner_only_under_umask_022() {
    let dir = tempdir();
    let db = dir.path().join("new-folder").join("ops.db");
    ok(&ret022(
        &db,
        &["model", "register", &telco_model().display().to_string()],
    ));
    assert_eq!(mode(&db), 0o600, "database");
    assert_eq!(mode(&dir.path().join("new-folder")), 0o700, "its folder");
    {
        // SQLite gives the WAL and shared memory the database's mode.
        let mut s = Store::open(&db).expect("open");
        s.log_predictions("b", &rows(&["C-1"], 1)).expect("log");
        for side in ["ops.db-wal", "ops.db-shm"] {
            assert_eq!(
                mode(&dir.path().join("new-folder").join(side)),
                0o600,
                "{side}"
            );
        }
    }

    let root = dir.path().join("backups");
    ok(&ret022(
        &db,
        &["backup", "--out", &root.display().to_string()],
    ));
    assert_eq!(mode(&root), 0o700, "backup root");
    let b = backups(&root).remove(0);
    assert_eq!(mode(&b), 0o700, "backup folder");
    assert_eq!(mode(&b.join("models")), 0o700, "models folder");
    for f in ["retentionai.db", "manifest.json", "models/v1.model.json"] {
        assert_eq!(mode(&b.join(f)), 0o600, "{f}");
    }

    let export = dir.path().join("export.json");
    ok(&ret022(
        &db,
        &[
            "gdpr",
            "export",
            "--customer-id",
            "C-1",
            "--out",
            &export.display().to_string(),
        ],
    ));
    assert_eq!(mode(&export), 0o600, "GDPR export");

    let restored = dir.path().join("elsewhere").join("restored.db");
    ok(&ret022(
        &restored,
        &["restore", "--from", &b.display().to_string()],
    ));
    assert_eq!(mode(&restored), 0o600, "restored database");
    assert_eq!(mode(&dir.path().join("elsewhere")), 0o700);

    // A database made readable by others (as earlier versions left it) is named in a warning.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let o = ret022(&db, &["gdpr", "delete", "--customer-id", "C-1"]);
    ok(&o);
    assert!(
        stderr(&o).contains("readable by other users") && stderr(&o).contains("644"),
        "{}",
        stderr(&o)
    );
    assert!(
        stdout(&o).contains("still hold these rows"),
        "the erasure names the backups that still hold the rows: {}",
        stdout(&o)
    );
}

#[test]
fn restore_swaps_the_file_atomically_and_an_open_store_notices() {
    let dir = tempdir();
    let db = registered(dir.path());
    let root = dir.path().join("backups");
    ok(&ret(&db, &["backup", "--out", &root.display().to_string()]));
    let b = backups(&root).remove(0);

    // The "server": a store opened before the restore, with rows of its own.
    let mut server = Store::open(&db).expect("open");
    server
        .log_predictions("before", &rows(&["OLD-1"], 1))
        .expect("log");
    assert!(!server.file_replaced());
    let o = ok(&ret(&db, &["restore", "--from", &b.display().to_string()]));
    assert!(o.contains("kept at"), "{o}");
    assert!(
        server.file_replaced(),
        "the store must notice its file was replaced"
    );

    // A new connection sees the restored database, and writes to it.
    let mut fresh = Store::open(&db).expect("open");
    assert!(!fresh.file_replaced());
    assert!(fresh.predictions_of("OLD-1").expect("q").is_empty());
    fresh
        .log_predictions("after", &rows(&["NEW-1"], 1))
        .expect("log");
    // Until it reopens, the old store writes to the replaced file, which is kept aside whole.
    server
        .log_predictions("late", &rows(&["LATE-1"], 1))
        .expect("log");
    // Closing the replaced store must not remove the new database's WAL (SQLite deletes the
    // `-wal` and `-shm` by name when the last connection to a database closes, unless it sees
    // its file was moved, as it is: renamed onto, never copied over).
    drop(server);
    let third = Store::open(&db).expect("open");
    assert_eq!(
        third.predictions_of("NEW-1").expect("q").len(),
        1,
        "a row committed to the restored database was lost"
    );
    assert!(third.check().expect("check").ok());
    drop((fresh, third));

    let aside: Vec<PathBuf> = folders(dir.path())
        .into_iter()
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.starts_with("ops.db.replaced-") && !n.ends_with("-wal") && !n.ends_with("-shm")
            })
        })
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    let old = Store::open(&aside[0]).expect("open the replaced database");
    assert_eq!(old.predictions_of("OLD-1").expect("q").len(), 1);
    assert_eq!(old.predictions_of("LATE-1").expect("q").len(), 1);
    drop(old);

    // Two restores in a row keep both replaced databases.
    ok(&ret(&db, &["restore", "--from", &b.display().to_string()]));
    ok(&ret(&db, &["restore", "--from", &b.display().to_string()]));
    let kept = folders(dir.path())
        .into_iter()
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.starts_with("ops.db.replaced-") && !n.ends_with("-wal") && !n.ends_with("-shm")
            })
        })
        .count();
    assert_eq!(kept, 3);
    // No temporary file is left beside the database.
    assert!(
        folders(dir.path())
            .iter()
            .all(|p| !p.to_string_lossy().ends_with(".tmp")),
        "{:?}",
        folders(dir.path())
    );
}
