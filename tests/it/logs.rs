//! The service's log as operators read it: JSON lines with one access event per request, model
//! loads, refused keys an operator can `grep FAILED`, the shutdown counts; never a customer's
//! field or a key.

use std::path::Path;

use crate::serve::{Server, json, registry, telco_customers};
use crate::util::tempdir;

/// Every line of the log file, parsed.
fn events(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).expect("read the log file");
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect()
}

#[test]
fn the_access_log_is_json_lines_without_customer_fields_or_keys() {
    let dir = tempdir();
    let (db, key) = registry(dir.path());
    let log = dir.path().join("log/app.log");
    let log_arg = log.display().to_string();
    let server = Server::start(
        &db,
        &[
            "--log-format",
            "json",
            "--log-file",
            &log_arg,
            "--log-level",
            "info",
        ],
    );
    let (_, customers) = telco_customers(3);
    let body = customers[0].to_string();
    let auth = format!("Bearer {key}");
    let (status, answer) = server.call(
        "POST",
        "/v1/predict",
        &[("Authorization", &auth), ("X-Request-Id", "req-42")],
        body.as_bytes(),
    );
    assert_eq!(status, 200, "{answer}");
    let version = json(&answer)["model_version"].as_i64().expect("version");
    let batch = serde_json::Value::Array(customers.clone()).to_string();
    let (status, _) = server.call(
        "POST",
        "/v1/predict/batch",
        &[("Authorization", &auth)],
        batch.as_bytes(),
    );
    assert_eq!(status, 200);
    let wrong = "Bearer rai_wrongwrongwrongwrong";
    let (status, _) = server.call("POST", "/v1/predict", &[("Authorization", wrong)], b"{}");
    assert_eq!(status, 401);
    let (status, _) = server.call("GET", "/health", &[], b"");
    assert_eq!(status, 200);
    let (status, _) = server.call("GET", "/no/such/7590-VHVEG", &[], b"");
    assert_eq!(status, 404);
    assert!(server.terminate().success());

    let events = events(&log);
    let access: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["target"] == "retention::access")
        .collect();
    assert_eq!(access.len(), 5, "{access:#?}");
    for e in &access {
        for field in [
            "request_id",
            "method",
            "route",
            "status",
            "duration_ms",
            "timestamp",
            "level",
        ] {
            assert!(!e[field].is_null(), "{field} missing in {e}");
        }
    }
    let predict = access
        .iter()
        .find(|e| e["request_id"] == "req-42")
        .expect("the client's request id is kept");
    assert_eq!(predict["route"], "/v1/predict");
    assert_eq!(predict["status"], 200);
    assert_eq!(predict["model_version"], version.to_string());
    assert_eq!(predict["variant"], "champion");
    let unmatched = access.iter().find(|e| e["status"] == 404).expect("404");
    assert_eq!(unmatched["route"], "unmatched");

    // Never a customer's field, id or a key.
    let text = std::fs::read_to_string(&log).expect("log");
    let first = customers[0].as_object().expect("object");
    for field in ["customerID", "MonthlyCharges", "TotalCharges"] {
        let value = first[field].as_str().expect("text");
        // As a field or a text value (a bare number could be any duration: 29.85 ms).
        assert!(
            !text.contains(&format!("\"{value}\"")) && !text.contains(&format!("\"{field}\"")),
            "customer value {value} ({field}) in the log"
        );
    }
    assert!(!text.contains("7590-VHVEG"));
    assert!(
        !text.contains(&key) && !text.contains("rai_wrong"),
        "key material in the log"
    );

    // What operators grep for.
    let messages: Vec<&str> = events
        .iter()
        .filter_map(|e| e["message"].as_str())
        .collect();
    assert!(messages.contains(&"starting"), "{messages:?}");
    assert!(messages.contains(&"Loading model"), "{messages:?}");
    let failed = events
        .iter()
        .find(|e| e["message"] == "authentication FAILED")
        .expect("a FAILED event");
    assert_eq!(failed["reason"], "invalid_key");
    let stopped = events
        .iter()
        .find(|e| e["message"] == "stopped")
        .expect("stopped");
    assert_eq!(stopped["logged"], 4, "{stopped}");
    assert_eq!(stopped["dropped"], 0);
    // The start-up event carries the effective configuration.
    let start = events
        .iter()
        .find(|e| e["message"] == "starting")
        .expect("starting");
    let config = json(start["config"].as_str().expect("config text"));
    assert_eq!(config["log.format"], "json");
}

#[test]
fn a_bad_log_level_or_an_unwritable_log_file_stops_the_start() {
    let dir = tempdir();
    let o = crate::util::run(["--log-level", "x=notalevel", "config", "check"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        crate::util::stderr(&o).contains("log level"),
        "{}",
        crate::util::stderr(&o)
    );
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "").expect("write");
    let inside = blocker.join("app.log");
    let o = crate::util::run([
        "--log-file",
        inside.to_str().expect("utf-8"),
        "config",
        "check",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        crate::util::stderr(&o).contains("log"),
        "{}",
        crate::util::stderr(&o)
    );
}
