//! `retention serve` under attack and under operators' mistakes: hostile bodies, slow models,
//! broken versions, a database restored under it, connection floods and signals. Each test
//! starts the real server.

use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use retention::estimators::Estimator;
use retention::model::ChurnModel;
use retention::store::Store;

use crate::serve::{Server, http, json, registry, telco_customers, wait_until};
use crate::util::{bin, ok, ret, stderr, telco, tempdir};

/// The peak resident memory of a process so far, in bytes (Linux `VmHWM`).
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("a number");
    kib * 1024
}

fn prediction_count(db: &Path) -> i64 {
    Store::open(db)
        .expect("open")
        .prediction_count()
        .expect("count")
}

/// Batch bodies of the body limit's size hold the server's memory within a small multiple of
/// that limit: limits are enforced while parsing, and fields no model reads are not kept.
#[test]
fn request_bodies_cannot_amplify_memory() {
    const BATCH_BODY_LIMIT: u64 = 64 << 20;
    let dir = tempdir();
    let (db, key) = registry(dir.path());
    let server = Server::start(&db, &[]);
    let bearer = format!("Bearer {key}");
    let auth = [("Authorization", bearer.as_str())];
    let csv = [
        ("Authorization", bearer.as_str()),
        ("Content-Type", "text/csv"),
    ];
    let (good, customers) = telco_customers(50);
    assert_eq!(
        server
            .call("POST", "/v1/predict/batch", &csv, good.as_bytes())
            .0,
        200
    );
    let base = peak_rss(server.child.id());

    // A header name far longer than any column's: refused by name, before any row is built.
    let long = "x".repeat(900_000);
    let mut body = format!("customerID,{long}\n");
    for i in 0..300 {
        body.push_str(&format!("c{i},1\n"));
    }
    let (status, answer) = server.call("POST", "/v1/predict/batch", &csv, body.as_bytes());
    assert_eq!(status, 422, "{answer}");
    assert_eq!(json(&answer)["error"]["code"], "field_too_long");
    assert!(answer.len() < 400, "the answer quotes a prefix only");

    // A wide header of legal names and hundreds of wide rows: only the model's columns are kept.
    let names: Vec<String> = (0..2000).map(|i| format!("{i:0>500}")).collect();
    let mut body = names.join(",") + "\n";
    let row = vec!["1"; 2000].join(",") + "\n";
    for _ in 0..300 {
        body.push_str(&row);
    }
    let (status, answer) = server.call("POST", "/v1/predict/batch", &csv, body.as_bytes());
    assert_eq!(status, 422, "{answer}");
    assert_eq!(json(&answer)["error"]["code"], "missing_field");

    // A header of 16 million commas: refused before the line is split into fields.
    let mut body = b"customerID".to_vec();
    body.resize(16 << 20, b',');
    body.extend_from_slice(b"\n1\n");
    let (status, answer) = server.call("POST", "/v1/predict/batch", &csv, &body);
    assert_eq!(status, 422, "{answer}");
    assert_eq!(json(&answer)["error"]["code"], "too_many_fields");

    // 60 MB of empty customers: refused at the first customer past --max-batch.
    let mut body = Vec::with_capacity(60 << 20);
    body.push(b'[');
    while body.len() < 60 << 20 {
        body.extend_from_slice(b"{},");
    }
    body.extend_from_slice(b"{}]");
    let (status, answer) = server.call("POST", "/v1/predict/batch", &auth, &body);
    assert_eq!(status, 413, "{answer}");
    assert_eq!(json(&answer)["error"]["code"], "batch_too_large");

    // Real customers padded with fields no model reads, up to the body limit.
    let mut padded = Vec::new();
    let junk: String = (0..60)
        .map(|i| format!(",\"junk{i}\":\"{i:0>40}\""))
        .collect();
    let mut body = b"[".to_vec();
    for c in customers.iter().cycle().take(10_000) {
        let text = c.to_string();
        padded.clear();
        padded.extend_from_slice(&text.as_bytes()[..text.len() - 1]);
        padded.extend_from_slice(junk.as_bytes());
        padded.extend_from_slice(b"},");
        body.extend_from_slice(&padded);
    }
    body.pop();
    body.push(b']');
    assert!(body.len() as u64 > 30 << 20 && (body.len() as u64) < BATCH_BODY_LIMIT);
    let (status, answer) = server.call("POST", "/v1/predict/batch", &auth, &body);
    assert_eq!(status, 200, "{}", &answer[..answer.len().min(300)]);
    assert_eq!(json(&answer)["count"], 10_000);

    let grown = peak_rss(server.child.id()).saturating_sub(base);
    eprintln!(
        "peak resident memory: {} MiB before the hostile bodies, +{} MiB after",
        base >> 20,
        grown >> 20
    );
    assert!(
        grown < 3 * BATCH_BODY_LIMIT,
        "peak memory grew by {} MiB (body limit {} MiB)",
        grown >> 20,
        BATCH_BODY_LIMIT >> 20
    );
    assert_eq!(server.call("GET", "/live", &[], b"").0, 200);
}

/// A boosting model made slow on purpose: its trees repeated until scoring one customer takes
/// a noticeable time. It is a valid model (the same ranking, more extreme log-odds).
fn slow_model(dir: &Path) -> std::path::PathBuf {
    let trained = dir.join("boost.json");
    let o = Command::new(bin())
        .args(["train", "--data"])
        .arg(telco())
        .args([
            "--algorithm",
            "boosting",
            "--cv",
            "0",
            "--trees",
            "50",
            "--out",
        ])
        .arg(&trained)
        .output()
        .expect("train");
    assert!(o.status.success(), "{}", stderr(&o));
    let mut model = ChurnModel::load(&trained).expect("load");
    let Estimator::Boosting(booster) = &mut model.estimator else {
        panic!("a boosting model");
    };
    let trees = booster.trees.clone();
    for _ in 0..400 {
        booster.trees.extend(trees.iter().cloned());
    }
    let slow = dir.join("slow.json");
    model.save(&slow).expect("save");
    slow
}

/// With every scoring slot busy on a slow model, health endpoints still answer, requests past
/// `--timeout` get 503 and log nothing, and SIGTERM stops the server in bounded time.
#[test]
fn slow_models_never_block_health_timeouts_or_shutdown() {
    let dir = tempdir();
    let (db, key) = registry(dir.path());
    let slow = slow_model(dir.path());
    ok(&ret(
        &db,
        &["model", "register", &slow.display().to_string()],
    ));
    ok(&ret(
        &db,
        &[
            "model",
            "promote",
            "3",
            "--force",
            "--reason",
            "a slow model for the fault tests",
        ],
    ));
    let server = Server::start(
        &db,
        &[
            "--timeout",
            "300",
            "--scoring-threads",
            "1",
            "--threads",
            "1",
        ],
    );
    let bearer = format!("Bearer {key}");
    let (csv, _) = telco_customers(2000);
    let before = prediction_count(&db);
    std::thread::scope(|s| {
        let clients: Vec<_> = (0..3)
            .map(|_| {
                s.spawn(|| {
                    http(
                        &server.addr,
                        "POST",
                        "/v1/predict/batch",
                        &[("Authorization", &bearer), ("Content-Type", "text/csv")],
                        csv.as_bytes(),
                    )
                })
            })
            .collect();
        // While the batches hold the only scoring slot (and the only worker thread is free).
        for path in ["/live", "/ready", "/metrics"] {
            let (status, body) = server.call("GET", path, &[], b"");
            assert_eq!(status, 200, "{path}: {body}");
        }
        for c in clients {
            let (status, body) = c.join().expect("client");
            assert_eq!(status, 503, "{body}");
            assert_eq!(json(&body)["error"]["code"], "timeout");
        }
    });
    // Nothing of the timed-out batches reaches the log, now or later.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(prediction_count(&db), before);

    // SIGTERM while a slow batch runs: the server stops within its bounds (timeout, grace).
    let addr = server.addr.clone();
    let busy = std::thread::spawn(move || {
        let mut s = TcpStream::connect(&addr).expect("connect");
        let head = format!(
            "POST /v1/predict/batch HTTP/1.1\r\nHost: x\r\nAuthorization: {bearer}\r\nContent-Type: text/csv\r\nContent-Length: {}\r\n\r\n",
            csv.len()
        );
        let _ = s.write_all(head.as_bytes());
        let _ = s.write_all(csv.as_bytes());
    });
    std::thread::sleep(Duration::from_millis(100));
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    busy.join().expect("client");
}

/// A registered version that cannot be loaded is skipped and reported; the champion, the keys
/// and the database checks keep working.
#[test]
fn a_broken_version_is_skipped_and_reported() {
    let dir = tempdir();
    let (db, key) = registry(dir.path());
    {
        let conn = rusqlite::Connection::open(&db).expect("open");
        // As a damaged disk or a hand edit would: past the store's own guard.
        conn.execute("DROP TRIGGER models_are_immutable", [])
            .expect("drop the guard");
        conn.execute(
            "UPDATE models SET artifact = CAST('{\"format\":\"retentionai-model\"}' AS BLOB) WHERE version = 2",
            [],
        )
        .expect("corrupt v2");
        conn.execute(
            "INSERT INTO aliases (alias, version, split, updated_at) VALUES ('challenger', 2, 1.0, '2026-01-01T00:00:00Z')",
            [],
        )
        .expect("challenger");
    }
    let server = Server::start(&db, &[]);
    let bearer = format!("Bearer {key}");
    let auth = [("Authorization", bearer.as_str())];
    let (_, customers) = telco_customers(5);

    let (status, body) = server.call("GET", "/health", &[], b"");
    assert_eq!(status, 503, "{body}");
    let health = json(&body);
    assert_eq!(health["checks"]["model"]["ok"], false, "{body}");
    assert!(
        health["checks"]["model"]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("challenger v2 cannot be loaded")),
        "{body}"
    );
    assert_eq!(health["checks"]["database"]["ok"], true, "{body}");
    assert_eq!(server.call("GET", "/ready", &[], b"").0, 200);
    let (status, body) = server.call(
        "POST",
        "/v1/predict",
        &auth,
        customers[0].to_string().as_bytes(),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["model_version"], 1);
    assert_eq!(json(&body)["variant"], "champion");
    let metrics = server.call("GET", "/metrics", &[], b"").1;
    assert!(
        metrics.contains("retentionai_model_load_failures_total 1"),
        "{metrics}"
    );

    // The broken version promoted: v1 goes on serving.
    {
        let conn = rusqlite::Connection::open(&db).expect("open");
        conn.execute(
            "UPDATE aliases SET version = 2 WHERE alias = 'champion'",
            [],
        )
        .expect("champion");
    }
    // Keys keep updating meanwhile.
    ok(&ret(&db, &["auth", "revoke", "--name", "tests"]));
    let other = ok(&ret(&db, &["auth", "create-key", "--name", "other"]))
        .trim()
        .to_string();
    let other_bearer = format!("Bearer {other}");
    wait_until("the revocation and the new key", || {
        server.call("GET", "/v1/model", &auth, b"").0 == 401
            && server
                .call("GET", "/v1/model", &[("Authorization", &other_bearer)], b"")
                .0
                == 200
    });
    let (status, body) = server.call(
        "POST",
        "/v1/predict",
        &[("Authorization", &other_bearer)],
        customers[1].to_string().as_bytes(),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["model_version"], 1);
    assert_eq!(server.call("GET", "/ready", &[], b"").0, 200);
    let health = json(&server.call("GET", "/health", &[], b"").1);
    assert!(
        health["checks"]["model"]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("serving v1") && d.contains("champion v2")),
        "{health}"
    );
    drop(server);
    let audit = Store::open(&db)
        .expect("open")
        .audit_entries("")
        .expect("audit");
    assert!(
        audit
            .iter()
            .any(|e| e.action == "model.load_failed" && e.subject == "v2"),
        "no audit entry of the failed load"
    );
}

/// `retention restore` under a running server: the server notices the file was replaced,
/// serves the restored keys and logs to the restored database.
#[test]
fn a_restore_under_a_running_server_is_noticed() {
    let dir = tempdir();
    let (db, key) = registry(dir.path());
    let backups = dir.path().join("backups");
    ok(&ret(
        &db,
        &["backup", "--out", &backups.display().to_string()],
    ));
    let taken = std::fs::read_dir(&backups)
        .expect("backups")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.is_dir())
        .expect("a backup folder");
    let server = Server::start(&db, &[]);
    let later = ok(&ret(&db, &["auth", "create-key", "--name", "later"]))
        .trim()
        .to_string();
    let later_auth = format!("Bearer {later}");
    wait_until("the new key", || {
        server
            .call("GET", "/v1/model", &[("Authorization", &later_auth)], b"")
            .0
            == 200
    });
    ok(&ret(
        &db,
        &["restore", "--from", &taken.display().to_string()],
    ));
    // The key made after the backup is gone with the restored database.
    wait_until("the restored keys", || {
        server
            .call("GET", "/v1/model", &[("Authorization", &later_auth)], b"")
            .0
            == 401
    });
    let bearer = format!("Bearer {key}");
    let (_, customers) = telco_customers(3);
    let mut customer = customers[2].clone();
    customer["customerID"] = serde_json::json!("after-restore-1");
    let (status, body) = server.call(
        "POST",
        "/v1/predict",
        &[("Authorization", &bearer)],
        customer.to_string().as_bytes(),
    );
    assert_eq!(status, 200, "{body}");
    wait_until("the prediction in the restored database", || {
        Store::open(&db)
            .and_then(|s| s.predictions_of("after-restore-1"))
            .is_ok_and(|p| p.len() == 1)
    });
}

/// Idle connections up to `--max-connections` cannot hide the server from its health checks,
/// and past the overflow they are closed rather than exhausting file descriptors.
#[test]
fn a_connection_flood_leaves_health_checks_answered() {
    let dir = tempdir();
    let (db, key) = registry(dir.path());
    let server = Server::start(&db, &["--max-connections", "8", "--idle-timeout", "60"]);
    let bearer = format!("Bearer {key}");
    let (_, customers) = telco_customers(1);
    let idle: Vec<TcpStream> = (0..8)
        .map(|_| TcpStream::connect(&server.addr).expect("connect"))
        .collect();
    // Past the cap: health endpoints answer, scoring says the server is overloaded.
    wait_until("the cap to be reached", || {
        let (status, body) = server.call(
            "POST",
            "/v1/predict",
            &[("Authorization", &bearer)],
            customers[0].to_string().as_bytes(),
        );
        status == 503 && json(&body)["error"]["code"] == "overloaded"
    });
    for path in ["/live", "/ready", "/health", "/metrics"] {
        let (status, body) = server.call("GET", path, &[], b"");
        assert_eq!(status, 200, "{path}: {body}");
    }
    // Hundreds more connections: the first few hold the overflow for its short deadline, the
    // rest are closed at once rather than held; health checks get through again once the
    // overflow's idle connections are cut off.
    let flood: Vec<TcpStream> = (0..300)
        .filter_map(|_| TcpStream::connect(&server.addr).ok())
        .collect();
    wait_until("/live past the flood", || {
        status_of(&server.addr, "/live") == Some(200)
    });
    let metrics = server.call("GET", "/metrics", &[], b"").1;
    let refused: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("retentionai_connections_refused_total "))
        .and_then(|v| v.parse().ok())
        .expect("the refused connections counter");
    assert!(refused > 0, "{metrics}");
    drop(flood);
    drop(idle);
    wait_until("scoring to resume", || {
        server
            .call(
                "POST",
                "/v1/predict",
                &[("Authorization", &bearer)],
                customers[0].to_string().as_bytes(),
            )
            .0
            == 200
    });
}

/// The status of a GET, or `None` when the connection is closed or reset without an answer.
fn status_of(addr: &str, path: &str) -> Option<u16> {
    use std::io::Read;
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    String::from_utf8_lossy(&raw)
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
}

/// A batch refused because of one bad customer logs none of its customers.
#[test]
fn a_refused_batch_logs_nothing() {
    let dir = tempdir();
    let (db, key) = registry(dir.path());
    let server = Server::start(&db, &[]);
    let bearer = format!("Bearer {key}");
    let auth = [("Authorization", bearer.as_str())];
    let (_, customers) = telco_customers(20);
    let mut batch = customers.clone();
    batch[19]["tenure"] = serde_json::json!("not a number");
    let before = prediction_count(&db);
    let (status, body) = server.call(
        "POST",
        "/v1/predict/batch",
        &auth,
        serde_json::Value::Array(batch).to_string().as_bytes(),
    );
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("row 20"), "{body}");
    // One answered prediction after it: the log then holds exactly that one.
    let (status, _) = server.call(
        "POST",
        "/v1/predict",
        &auth,
        customers[0].to_string().as_bytes(),
    );
    assert_eq!(status, 200);
    wait_until("the answered prediction", || prediction_count(&db) > before);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(prediction_count(&db), before + 1);
}

/// SIGHUP reloads the registry at once and stops nothing; queued predictions survive it.
#[test]
fn sighup_reloads_and_keeps_serving() {
    let dir = tempdir();
    let (db, key) = registry(dir.path());
    // A reload interval of ten minutes: only the signal can make the promotion visible.
    let server = Server::start(&db, &["--reload-interval", "600000"]);
    let bearer = format!("Bearer {key}");
    let auth = [("Authorization", bearer.as_str())];
    let (_, customers) = telco_customers(30);
    let before = prediction_count(&db);
    for c in &customers {
        assert_eq!(
            server
                .call("POST", "/v1/predict", &auth, c.to_string().as_bytes())
                .0,
            200
        );
    }
    ok(&ret(
        &db,
        &[
            "model",
            "promote",
            "2",
            "--force",
            "--reason",
            "sighup test",
        ],
    ));
    let pid = server.child.id().to_string();
    let sent = Command::new("kill").args(["-HUP", &pid]).status();
    assert!(sent.is_ok_and(|s| s.success()));
    wait_until("the promotion after SIGHUP", || {
        json(&server.call("GET", "/ready", &[], b"").1)["champion"] == 2
    });
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    assert_eq!(prediction_count(&db), before + 30);
}

/// `/health` tells operators what it checked without showing where files are.
#[test]
fn health_shows_no_paths() {
    let dir = tempdir();
    let (db, _) = registry(dir.path());
    let server = Server::start(&db, &[]);
    let (status, body) = server.call("GET", "/health", &[], b"");
    assert_eq!(status, 200, "{body}");
    let folder = dir.path().display().to_string();
    assert!(!body.contains(&folder), "{body}");
    assert!(!body.contains("ops.db"), "{body}");
}
