//! `retention serve` as a user runs it: a real process on a free loopback port, driven over HTTP.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use retention::store::Store;

use crate::util::{bin, ok, ret, stderr, telco, telco_model, tempdir};

/// A running server; killed when dropped.
pub struct Server {
    pub child: Child,
    pub addr: String,
}

impl Server {
    pub fn start(db: &Path, extra: &[&str]) -> Server {
        let mut command = Command::new(bin());
        command.args(["serve", "--port", "0"]);
        if !extra.contains(&"--reload-interval") {
            command.args(["--reload-interval", "100"]);
        }
        let mut child = command
            .args(extra)
            .env("RETENTIONAI_DB", db)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn retention serve");
        let out = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(out)
            .read_line(&mut line)
            .expect("read the address line");
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Server { child, addr }
    }

    pub fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, String) {
        http(&self.addr, method, path, headers, body)
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let killed = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(killed.is_ok_and(|s| s.success()));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "the server did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request on a fresh connection; the status and the body.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).expect("write");
    s.write_all(body).expect("write body");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").expect("a response head");
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status code");
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    (status, body)
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&tail[..n]);
        rest = &tail[n + 2..];
    }
    out
}

pub fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// The Telco header and rows, and each row as a JSON object of text fields.
pub fn telco_customers(n: usize) -> (String, Vec<serde_json::Value>) {
    let text = std::fs::read_to_string(telco()).expect("telco");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let mut csv = header.join(",") + "\n";
    let rows = lines
        .take(n)
        .map(|l| {
            csv.push_str(l);
            csv.push('\n');
            let map: serde_json::Map<String, serde_json::Value> = header
                .iter()
                .zip(l.split(','))
                .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
                .collect();
            serde_json::Value::Object(map)
        })
        .collect();
    (csv, rows)
}

/// A database with the Telco logistic model (v1, champion) and a tree (v2), both validated,
/// and an API key; returns the key.
pub fn registry(dir: &Path) -> (PathBuf, String) {
    registry_at(dir, &dir.join("ops.db"))
}

/// As [`registry`], in the store `db` (a file or a `postgres://` URL).
pub fn registry_at(dir: &Path, db: &Path) -> (PathBuf, String) {
    let db = db.to_path_buf();
    let d = telco().display().to_string();
    let tree = dir.join("tree.json");
    let o = Command::new(bin())
        .args([
            "train",
            "--data",
            &d,
            "--algorithm",
            "tree",
            "--cv",
            "0",
            "--out",
        ])
        .arg(&tree)
        .output()
        .expect("train");
    assert!(o.status.success(), "{}", stderr(&o));
    ok(&ret(
        &db,
        &["model", "register", &telco_model().display().to_string()],
    ));
    ok(&ret(
        &db,
        &["model", "register", &tree.display().to_string()],
    ));
    for v in ["1", "2"] {
        let _ = ret(&db, &["model", "validate", v, "--data", &d]);
    }
    ok(&ret(&db, &["model", "promote", "1"]));
    let key = ok(&ret(&db, &["auth", "create-key", "--name", "tests"]))
        .trim()
        .to_string();
    (db, key)
}

pub fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn endpoints_answer_and_scores_equal_the_cli() {
    let dir = tempdir();
    let (db, key) = registry(dir.path());
    let server = Server::start(&db, &[]);
    let bearer = format!("Bearer {key}");
    let auth = [("Authorization", bearer.as_str())];

    let (status, body) = server.call("GET", "/health", &[], b"");
    assert_eq!(status, 200, "{body}");
    let health = json(&body);
    for check in ["database", "model", "disk", "memory"] {
        assert_eq!(health["checks"][check]["ok"], true, "{body}");
    }
    assert_eq!(server.call("GET", "/live", &[], b"").0, 200);
    assert_eq!(
        json(&server.call("GET", "/ready", &[], b"").1)["champion"],
        1
    );
    let model = json(&server.call("GET", "/v1/model", &auth, b"").1);
    assert_eq!(model["champion"]["version"], 1);
    assert!(
        model["champion"]["validation"]["roc_auc"]
            .as_f64()
            .unwrap_or(0.0)
            > 0.8
    );

    // The CLI's scores of the same customers.
    let (csv, customers) = telco_customers(40);
    let input = dir.path().join("few.csv");
    std::fs::write(&input, &csv).expect("write");
    let scored = dir.path().join("scored.csv");
    ok(&ret(
        &db,
        &[
            "score",
            "--model",
            &telco_model().display().to_string(),
            "--data",
            &input.display().to_string(),
            "--out",
            &scored.display().to_string(),
        ],
    ));
    let cli: Vec<f64> = std::fs::read_to_string(&scored)
        .expect("scores")
        .lines()
        .skip(1)
        .map(|l| {
            l.split(',')
                .nth(1)
                .and_then(|p| p.parse().ok())
                .expect("probability")
        })
        .collect();
    for (c, expected) in customers.iter().zip(&cli).take(10) {
        let (status, body) = server.call("POST", "/v1/predict", &auth, c.to_string().as_bytes());
        assert_eq!(status, 200, "{body}");
        let p = json(&body);
        assert!(
            (p["churn_probability"].as_f64().unwrap_or(-1.0) - expected).abs() < 1e-12,
            "{body}"
        );
        assert_eq!(p["model_version"], 1);
        assert_eq!(p["variant"], "champion");
        assert_eq!(p["customer_id"], c["customerID"]);
    }
    // Batches: JSON and CSV, same numbers.
    let array = serde_json::Value::Array(customers.clone()).to_string();
    let (status, body) = server.call("POST", "/v1/predict/batch", &auth, array.as_bytes());
    assert_eq!(status, 200, "{body}");
    let batch = json(&body);
    assert_eq!(batch["count"], 40);
    let csv_headers = [auth[0], ("Content-Type", "text/csv")];
    let (status, body) = server.call("POST", "/v1/predict/batch", &csv_headers, csv.as_bytes());
    assert_eq!(status, 200, "{body}");
    let from_csv = json(&body);
    for (i, expected) in cli.iter().enumerate() {
        for b in [&batch, &from_csv] {
            let p = b["predictions"][i]["churn_probability"]
                .as_f64()
                .unwrap_or(-1.0);
            assert!((p - expected).abs() < 1e-12, "row {i}: {p} vs {expected}");
        }
    }
    // Reasons.
    let (status, body) = server.call(
        "POST",
        "/v1/explain?top=3",
        &auth,
        customers[0].to_string().as_bytes(),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        json(&body)["reasons"].as_array().map(Vec::len),
        Some(3),
        "{body}"
    );
    let (_, body) = server.call(
        "POST",
        "/v1/predict?reasons=2",
        &auth,
        customers[0].to_string().as_bytes(),
    );
    assert_eq!(
        json(&body)["reasons"].as_array().map(Vec::len),
        Some(2),
        "{body}"
    );

    // Refusals, each with its stable code.
    let c0 = customers[0].to_string();
    let code = |(status, body): (u16, String)| {
        (
            status,
            json(&body)["error"]["code"]
                .as_str()
                .unwrap_or("")
                .to_string(),
        )
    };
    assert_eq!(
        code(server.call("POST", "/v1/predict", &[], c0.as_bytes())),
        (401, "missing_api_key".into())
    );
    assert_eq!(
        code(server.call(
            "POST",
            "/v1/predict",
            &[("X-API-Key", "rai_0000")],
            c0.as_bytes()
        )),
        (401, "invalid_api_key".into())
    );
    assert_eq!(
        code(server.call("POST", "/v1/predict", &auth, b"{not json")),
        (400, "invalid_json".into())
    );
    assert_eq!(
        code(server.call("POST", "/v1/predict", &auth, b"[1, 2]")),
        (422, "invalid_record".into())
    );
    assert_eq!(
        code(server.call("POST", "/v1/predict", &auth, b"{\"tenure\": {\"a\": 1}}")),
        (422, "invalid_value".into())
    );
    let mut missing = customers[0].clone();
    missing.as_object_mut().map(|m| m.remove("Contract"));
    let (status, body) = server.call("POST", "/v1/predict", &auth, missing.to_string().as_bytes());
    assert_eq!(
        (status, json(&body)["error"]["code"].as_str()),
        (422, Some("missing_field"))
    );
    assert!(body.contains("Contract"), "{body}");
    let mut bad = customers[0].clone();
    bad["tenure"] = serde_json::Value::String("twelve".into());
    let (status, body) = server.call("POST", "/v1/predict", &auth, bad.to_string().as_bytes());
    assert_eq!(
        (status, json(&body)["error"]["code"].as_str()),
        (422, Some("invalid_value"))
    );
    assert!(body.contains("tenure") && body.contains("twelve"), "{body}");
    let huge = vec![b' '; 2 << 20];
    assert_eq!(
        code(server.call("POST", "/v1/predict", &auth, &huge)).0,
        413
    );
    assert_eq!(
        code(server.call("GET", "/nowhere", &[], b"")),
        (404, "not_found".into())
    );
    assert_eq!(
        code(server.call("GET", "/v1/predict", &auth, b"")),
        (405, "method_not_allowed".into())
    );
    let (status, body) = server.call(
        "POST",
        "/v1/predict/batch",
        &csv_headers,
        b"customerID,tenure\n1,2,3\n",
    );
    assert_eq!(
        (status, json(&body)["error"]["code"].as_str()),
        (400, Some("invalid_csv")),
        "{body}"
    );

    // A revoked key is refused after the next reload.
    ok(&ret(&db, &["auth", "revoke", "--name", "tests"]));
    wait_until("the revocation", || {
        server.call("GET", "/v1/model", &auth, b"").0 == 401
    });

    // Metrics: well-formed exposition text with the runbook's names and no customer ids.
    let (status, text) = server.call("GET", "/metrics", &[], b"");
    assert_eq!(status, 200);
    let mut values = std::collections::HashMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad line {line:?}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value in {line:?}"));
        assert!(
            series.starts_with("retentionai_") || series.starts_with("process_"),
            "{line}"
        );
        values.insert(series.to_string(), value);
    }
    // The process's own figures, under the standard names.
    for name in [
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_start_time_seconds",
        "process_cpu_seconds_total",
    ] {
        assert!(values.contains_key(name), "{name} missing");
    }
    assert!(values["process_resident_memory_bytes"] > 1e6);
    assert!(values.contains_key("retentionai_requests_per_second"));
    assert_eq!(values.get("retentionai_database_up"), Some(&1.0));
    assert!(!text.contains("7590-VHVEG"), "a customer id in the metrics");
    let get = |s: &str| values.get(s).copied().unwrap_or(-1.0);
    assert_eq!(
        get("retentionai_requests_total{method=\"POST\",endpoint=\"/v1/predict\",status=\"200\"}"),
        11.0
    );
    assert!(get("retentionai_predictions_total{model_version=\"1\",variant=\"champion\"}") == 92.0);
    assert!(get("retentionai_auth_failures_total{reason=\"invalid_key\"}") >= 2.0);
    assert_eq!(
        get("retentionai_auth_failures_total{reason=\"missing_key\"}"),
        1.0
    );
    assert!(get("retentionai_request_duration_seconds_count{endpoint=\"/v1/predict\"}") >= 20.0);
    assert!(get("retentionai_model_auc{model_version=\"1\",variant=\"champion\"}") > 0.8);
    assert_eq!(get("retentionai_model_deployments_total"), 1.0);
    for name in [
        "retentionai_request_duration_seconds_bucket",
        "retentionai_prediction_duration_seconds_bucket",
        "retentionai_high_risk_customers_total",
        "retentionai_model_accuracy",
        "retentionai_build_info",
        "retentionai_prediction_log_queue_depth",
        "retentionai_prediction_log_dropped_total",
    ] {
        assert!(text.contains(name), "{name} missing");
    }
    // Failed attempts are in the audit log once the server has drained its queue on SIGTERM
    // (a kill could lose the last entries still queued for the writer).
    assert!(server.terminate().success());
    let store = Store::open(&db).expect("open");
    let failures = store
        .audit_entries("")
        .expect("audit")
        .into_iter()
        .filter(|e| e.action == "auth.failure")
        .count();
    assert!(failures >= 3, "{failures} audited failures");
}

#[test]
fn a_promotion_and_an_ab_split_are_picked_up_without_failing_requests() {
    let dir = tempdir();
    let (db, key) = registry(dir.path());
    let server = Server::start(&db, &[]);
    let (_, customers) = telco_customers(200);
    let bearer = format!("Bearer {key}");
    let addr = server.addr.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    let client = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut i = 0;
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            let c = customers[i % customers.len()].to_string();
            let (status, body) = http(
                &addr,
                "POST",
                "/v1/predict",
                &[("Authorization", &bearer)],
                c.as_bytes(),
            );
            assert_eq!(status, 200, "{body}");
            let p = json(&body);
            seen.push((
                p["model_version"].as_i64().unwrap_or(0),
                p["variant"].as_str().unwrap_or("").to_string(),
            ));
            i += 1;
        }
        seen
    });
    std::thread::sleep(Duration::from_millis(300));
    ok(&ret(
        &db,
        &[
            "model",
            "promote",
            "2",
            "--force",
            "--reason",
            "test of a live promotion",
        ],
    ));
    let bearer_here = format!("Bearer {key}");
    let auth = [("Authorization", bearer_here.as_str())];
    wait_until("the promotion", || {
        json(&server.call("GET", "/v1/model", &auth, b"").1)["champion"]["version"] == 2
    });
    ok(&ret(
        &db,
        &["model", "ab", "--challenger", "1", "--split", "0.5"],
    ));
    wait_until("the A/B split", || {
        json(&server.call("GET", "/v1/model", &auth, b"").1)["split"] == 0.5
    });
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let seen = client.join().expect("the client saw only 200s");
    assert!(seen.iter().any(|(v, _)| *v == 1), "never served v1");
    assert!(
        seen.iter().any(|(v, var)| *v == 2 && var == "champion"),
        "never served v2"
    );
    assert!(
        seen.iter().any(|(v, var)| *v == 1 && var == "challenger"),
        "never routed to the challenger"
    );
    let text = server.call("GET", "/metrics", &[], b"").1;
    assert!(
        text.contains("retentionai_model_deployments_total 3"),
        "{text}"
    );
}

#[test]
fn a_graceful_shutdown_writes_every_logged_prediction() {
    let dir = tempdir();
    let (db, key) = registry(dir.path());
    let before = Store::open(&db)
        .expect("open")
        .prediction_count()
        .expect("count");
    let server = Server::start(&db, &[]);
    let (_, customers) = telco_customers(300);
    let bearer = format!("Bearer {key}");
    // Four clients at once, then SIGTERM right after the last answer.
    let answered: usize = std::thread::scope(|s| {
        let handles: Vec<_> = customers
            .chunks(75)
            .map(|chunk| {
                let (addr, bearer) = (&server.addr, &bearer);
                s.spawn(move || {
                    chunk
                        .iter()
                        .filter(|c| {
                            let body = c.to_string();
                            http(
                                addr,
                                "POST",
                                "/v1/predict",
                                &[("Authorization", bearer)],
                                body.as_bytes(),
                            )
                            .0 == 200
                        })
                        .count()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("client")).sum()
    });
    assert_eq!(answered, 300);
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    let after = Store::open(&db)
        .expect("open")
        .prediction_count()
        .expect("count");
    assert_eq!(
        after - before,
        300,
        "logged predictions after a graceful shutdown"
    );
}

/// A small deterministic generator (xorshift) for the random-JSON property test.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn value(&mut self, depth: u32) -> serde_json::Value {
        use serde_json::Value;
        match self.below(if depth > 3 { 5 } else { 7 }) {
            0 => Value::Null,
            1 => Value::Bool(self.below(2) == 0),
            2 => serde_json::json!(self.next() as i64),
            3 => serde_json::json!((self.next() as f64) / 7.0 - 1e18),
            4 => {
                let words = [
                    "",
                    " ",
                    "Yes",
                    "No",
                    "Month-to-month",
                    "12",
                    "-1e308",
                    "NaN",
                    "é\u{0}\"\\",
                    "1,2",
                ];
                Value::String(words[self.below(words.len() as u64) as usize].to_string())
            }
            5 => Value::Array((0..self.below(4)).map(|_| self.value(depth + 1)).collect()),
            _ => {
                let keys = [
                    "customerID",
                    "tenure",
                    "Contract",
                    "MonthlyCharges",
                    "TotalCharges",
                    "gender",
                    "x",
                    "",
                ];
                Value::Object(
                    (0..self.below(6))
                        .map(|_| {
                            (
                                keys[self.below(keys.len() as u64) as usize].to_string(),
                                self.value(depth + 1),
                            )
                        })
                        .collect(),
                )
            }
        }
    }
}

#[test]
fn random_json_never_gets_an_undocumented_status() {
    let dir = tempdir();
    let (db, key) = registry(dir.path());
    let server = Server::start(&db, &[]);
    let (_, customers) = telco_customers(20);
    let bearer = format!("Bearer {key}");
    let auth = [("Authorization", bearer.as_str())];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for i in 0..400 {
        // Half whole random values, half real customers with one field replaced.
        let body = if i % 2 == 0 {
            rng.value(0).to_string()
        } else {
            let mut c = customers[i % customers.len()].clone();
            let keys: Vec<String> = c
                .as_object()
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            let k = &keys[rng.below(keys.len() as u64) as usize];
            c[k] = rng.value(1);
            c.to_string()
        };
        let (status, answer) = server.call("POST", "/v1/predict", &auth, body.as_bytes());
        assert!(
            matches!(status, 200 | 400 | 422),
            "status {status} for {body}: {answer}"
        );
        if status != 200 {
            assert!(json(&answer)["error"]["code"].is_string(), "{answer}");
        }
    }
    // Raw bytes that are not JSON at all.
    for _ in 0..50 {
        let bytes: Vec<u8> = (0..rng.below(200)).map(|_| rng.next() as u8).collect();
        let (status, _) = server.call("POST", "/v1/predict", &auth, &bytes);
        assert!(matches!(status, 400 | 422), "status {status}");
    }
    assert_eq!(server.call("GET", "/health", &[], b"").0, 200);
}

#[test]
fn api_keys_are_shown_once_and_stored_as_hashes() {
    let dir = tempdir();
    let db = dir.path().join("ops.db");
    let key = ok(&ret(&db, &["auth", "create-key", "--name", "ops"]))
        .trim()
        .to_string();
    assert!(key.starts_with("rai_") && key.len() == 68, "{key}");
    let list = ok(&ret(&db, &["auth", "list"]));
    assert!(
        list.contains("ops") && list.contains(&key[..12]) && !list.contains(&key),
        "{list}"
    );
    let o = ret(&db, &["auth", "create-key", "--name", "ops"]);
    assert!(
        !o.status.success() && stderr(&o).contains("already named 'ops'"),
        "{}",
        stderr(&o)
    );
    let o = ret(&db, &["auth", "revoke", "--name", "nobody"]);
    assert!(!o.status.success() && stderr(&o).contains("no active API key is named 'nobody'"));
    ok(&ret(&db, &["auth", "revoke", "--name", "ops"]));
    // The name is free again after revocation; the database never holds a key.
    ok(&ret(&db, &["auth", "create-key", "--name", "ops"]));
    let raw = std::fs::read(&db).expect("db bytes");
    assert!(!raw.windows(key.len()).any(|w| w == key.as_bytes()));
    let o = ret(&db, &["serve", "--port", "0", "--timeout", "0"]);
    assert!(
        !o.status.success() && stderr(&o).contains("'--timeout <MS>'"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_client_that_never_finishes_its_request_head_is_cut_off() {
    let dir = tempdir();
    let db = dir.path().join("ops.db");
    let server = Server::start(&db, &["--no-auth"]);
    let mut slow = TcpStream::connect(&server.addr).expect("connect");
    slow.write_all(b"POST /v1/predict HTTP/1.1\r\nHost: x\r\n")
        .expect("write");
    slow.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut rest = Vec::new();
    // The server closes the connection after its 10 s header deadline: an end of file, not
    // this side's 30 s read timeout.
    let read = slow.read_to_end(&mut rest);
    assert!(read.is_ok(), "{read:?}");
    // Everyone else was served meanwhile.
    assert_eq!(server.call("GET", "/live", &[], b"").0, 200);
}

#[test]
fn a_rotated_key_works_through_its_grace_period_and_then_is_refused() {
    let dir = tempdir();
    let (db, old) = registry(dir.path());
    let server = Server::start(&db, &[]);
    let (_, customers) = telco_customers(1);
    let body = customers[0].to_string();
    let status_with = |key: &str| {
        let auth = format!("Bearer {key}");
        server
            .call(
                "POST",
                "/v1/predict",
                &[("Authorization", &auth)],
                body.as_bytes(),
            )
            .0
    };
    assert_eq!(status_with(&old), 200);
    let rotated = ok(&ret(
        &db,
        &[
            "auth", "rotate", "--name", "tests", "--grace", "3s", "--json",
        ],
    ));
    let rotated = json(&rotated);
    let new = rotated["key"].as_str().expect("new key").to_string();
    assert_ne!(new, old);
    assert_eq!(rotated["old_prefix"].as_str(), Some(&old[..12]));
    // Both work during the grace period (once the server has reloaded).
    wait_until("the new key is accepted", || status_with(&new) == 200);
    assert_eq!(status_with(&old), 200);
    let list = ok(&ret(&db, &["auth", "list"]));
    assert!(list.contains("retiring, works until"), "{list}");
    // Then only the new one.
    wait_until("the old key is refused", || status_with(&old) == 401);
    assert_eq!(status_with(&new), 200);
    // Revoking the name revokes the new key too; a bad grace names the flag.
    for grace in ["soon", "9999999999d", "400d"] {
        let o = ret(
            &db,
            &["auth", "rotate", "--name", "tests", "--grace", grace],
        );
        assert!(
            !o.status.success() && stderr(&o).contains("--grace"),
            "{grace}: {}",
            stderr(&o)
        );
    }
    ok(&ret(&db, &["auth", "revoke", "--name", "tests"]));
    wait_until("the new key is refused", || status_with(&new) == 401);
}
