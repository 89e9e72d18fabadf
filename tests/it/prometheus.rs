//! A real Prometheus (Debian's `prometheus` package, which `.ci/run` installs for promtool)
//! scrapes a real `retention serve` with the project's alert rules loaded: the exposition
//! parses, the process metrics arrive under their standard names, and every rule is healthy.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::serve::{Server, http, json, registry};
use crate::util::tempdir;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Prometheus's answer to an instant query.
fn query(addr: &str, q: &str) -> serde_json::Value {
    let encoded: String = q
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'-' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let (status, body) = http(
        addr,
        "GET",
        &format!("/api/v1/query?query={encoded}"),
        &[],
        b"",
    );
    assert_eq!(status, 200, "{body}");
    json(&body)
}

#[test]
fn prometheus_scrapes_the_service_with_the_alert_rules_loaded() {
    let Ok(found) = Command::new("prometheus").arg("--version").output() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "prometheus is not installed (Debian: apt-get install prometheus)"
        );
        eprintln!("skipped: no prometheus binary (Debian: apt-get install prometheus)");
        return;
    };
    assert!(found.status.success());
    let dir = tempdir();
    let (db, _key) = registry(dir.path());
    let server = Server::start(&db, &[]);
    let deploy = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy");
    std::fs::copy(deploy.join("alerts.yml"), dir.path().join("alerts.yml")).expect("rules");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - alerts.yml\n\
             scrape_configs:\n  - job_name: retentionai\n    static_configs:\n      - targets: [\"{}\"]\n",
            server.addr
        ),
    )
    .expect("config");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let _prometheus = Killed(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus"),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let value = |q: &str| -> Option<f64> {
        std::net::TcpStream::connect(&addr).ok()?;
        let answer = std::panic::catch_unwind(|| query(&addr, q)).ok()?;
        answer["data"]["result"][0]["value"][1]
            .as_str()
            .and_then(|v| v.parse().ok())
    };
    while value("up{job=\"retentionai\"}") != Some(1.0) {
        assert!(
            Instant::now() < deadline,
            "Prometheus never scraped the service"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    for series in [
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_start_time_seconds",
        "retentionai_requests_per_second",
        "retentionai_database_up",
        "retentionai_build_info",
    ] {
        let v = value(series);
        assert!(v.is_some(), "{series} not scraped");
    }
    assert_eq!(value("retentionai_database_up"), Some(1.0));
    // Every rule of deploy/alerts.yml is loaded and evaluates without error.
    let (status, body) = http(&addr, "GET", "/api/v1/rules", &[], b"");
    assert_eq!(status, 200);
    let rules = json(&body);
    let count: usize = rules["data"]["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| g["rules"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(count, 16, "{body}");
    std::thread::sleep(Duration::from_secs(2));
    let (_, body) = http(&addr, "GET", "/api/v1/rules", &[], b"");
    let rules = json(&body);
    for group in rules["data"]["groups"].as_array().expect("groups") {
        for rule in group["rules"].as_array().expect("rules") {
            assert_eq!(rule["health"], "ok", "{rule}");
        }
    }
}
