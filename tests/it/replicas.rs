//! Several `retention serve` replicas on one PostgreSQL store (a real server, started for the
//! test): a promotion made anywhere is served everywhere, every prediction from every replica is
//! logged exactly once, and a database restart is survived without losing acknowledged
//! predictions.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use retention::store::Store;

use crate::serve::{Server, json, registry_at, telco_customers, wait_until};
use crate::util::{PgServer, ok, ret, tempdir};

/// The champion version a replica's `/ready` reports (None while it is not ready).
fn ready_champion(server: &Server) -> Option<i64> {
    let (status, body) = server.call("GET", "/ready", &[], b"");
    (status == 200)
        .then(|| json(&body)["champion"].as_i64())
        .flatten()
}

/// Sends `batches` batches of `size` customers to `server`; returns the rows answered 200.
fn predict(server: &Server, auth: &[(&str, &str)], batches: usize, size: usize) -> usize {
    let (_, rows) = telco_customers(size);
    let body = serde_json::Value::Array(rows).to_string();
    let mut answered = 0;
    for _ in 0..batches {
        let (status, _) = server.call("POST", "/v1/predict/batch", auth, body.as_bytes());
        if status == 200 {
            answered += size;
        }
    }
    answered
}

fn logged(db: &PathBuf) -> i64 {
    Store::open(db)
        .and_then(|s| s.prediction_count())
        .unwrap_or(-1)
}

#[test]
fn three_replicas_share_one_postgresql_store() {
    let dir = tempdir();
    let pg = PgServer::start_own();
    let db = PathBuf::from(pg.database());
    let (db, key) = registry_at(dir.path(), &db);
    let bearer = format!("Bearer {key}");
    let auth = [("Authorization", bearer.as_str())];
    let replicas: Vec<Server> = (0..3)
        .map(|_| Server::start(&db, &["--reload-interval", "250"]))
        .collect();
    for r in &replicas {
        wait_until("every replica ready", || ready_champion(r) == Some(1));
    }

    // A promotion made by one process (here the CLI; any replica's host could run it) reaches
    // every replica at its next reload.
    ok(&ret(&db, &["model", "promote", "2"]));
    let promoted = Instant::now();
    for r in &replicas {
        wait_until("every replica serves v2", || ready_champion(r) == Some(2));
    }
    eprintln!(
        "all three replicas served the new champion {} ms after the promotion (reload interval 250 ms)",
        promoted.elapsed().as_millis()
    );
    // A key revoked anywhere is refused everywhere.
    let spare = ok(&ret(&db, &["auth", "create-key", "--name", "spare"]))
        .trim()
        .to_string();
    let spare_auth = format!("Bearer {spare}");
    for r in &replicas {
        wait_until("the new key accepted", || {
            r.call(
                "GET",
                "/v1/model",
                &[("Authorization", spare_auth.as_str())],
                b"",
            )
            .0 == 200
        });
    }
    ok(&ret(&db, &["auth", "revoke", "--name", "spare"]));
    for r in &replicas {
        wait_until("the revoked key refused", || {
            r.call(
                "GET",
                "/v1/model",
                &[("Authorization", spare_auth.as_str())],
                b"",
            )
            .0 == 401
        });
    }

    // 3 × 1,000 predictions: 3,000 logged rows, each once.
    let answered: usize = replicas.iter().map(|r| predict(r, &auth, 10, 100)).sum();
    assert_eq!(answered, 3000);
    wait_until("3,000 logged rows", || logged(&db) == 3000);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(logged(&db), 3000, "a row was logged twice");

    // PostgreSQL stops and comes back while the replicas serve: /ready says so, and every
    // prediction answered meanwhile is logged once it is back.
    let load = std::thread::scope(|scope| {
        let senders: Vec<_> = replicas
            .iter()
            .map(|r| {
                let auth = &auth;
                scope.spawn(move || predict(r, auth, 20, 50))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(300));
        pg.restart_after(Duration::from_secs(2));
        senders
            .into_iter()
            .map(|h| h.join().expect("a sender"))
            .sum::<usize>()
    });
    assert!(load > 0, "no prediction was answered around the restart");
    for r in &replicas {
        wait_until("every replica ready again", || ready_champion(r) == Some(2));
    }
    let expected = 3000 + load as i64;
    wait_until("every answered prediction logged", || {
        logged(&db) == expected
    });
    let metrics: Vec<String> = replicas
        .iter()
        .map(|r| r.call("GET", "/metrics", &[], b"").1)
        .collect();
    for m in &metrics {
        assert!(m.contains("retentionai_database_up 1"), "{m}");
    }
    for r in replicas {
        assert!(r.terminate().success());
    }
    assert_eq!(logged(&db), expected);
}

#[test]
fn the_down_database_makes_replicas_unready_until_it_returns() {
    let dir = tempdir();
    let pg = PgServer::start_own();
    let db = PathBuf::from(pg.database());
    let (db, _) = registry_at(dir.path(), &db);
    let server = Server::start(&db, &["--reload-interval", "200"]);
    wait_until("ready", || ready_champion(&server) == Some(1));
    let saw_unready = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let watcher = scope.spawn(|| {
            let until = Instant::now() + Duration::from_secs(15);
            while Instant::now() < until {
                if server.call("GET", "/ready", &[], b"").0 == 503 {
                    saw_unready.store(true, std::sync::atomic::Ordering::Relaxed);
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        pg.restart_after(Duration::from_secs(3));
        watcher.join().expect("watcher");
    });
    assert!(
        saw_unready.load(std::sync::atomic::Ordering::Relaxed),
        "/ready never said the database was down"
    );
    wait_until("ready again", || ready_champion(&server) == Some(1));
}

/// `scripts/standby_drill.sh` with this build's binary: a synchronous streaming standby
/// promoted while two replicas take predictions loses none of those they answered.
#[test]
fn the_standby_drill_loses_no_answered_prediction() {
    let dir = tempdir();
    let out = std::process::Command::new(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/standby_drill.sh"),
    )
    .arg(dir.path().join("drill"))
    .env("RETENTION_BIN", crate::util::bin())
    .env("REPLICAS", "2")
    .env("SECONDS_BEFORE", "2")
    .env("SECONDS_AFTER", "2")
    .output()
    .expect("run the drill");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("drill passed"), "{stdout}");
    assert!(stdout.contains("lost: 0"), "{stdout}");
    let answered: usize = stdout
        .split("answered ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(answered > 0, "{stdout}");
}
