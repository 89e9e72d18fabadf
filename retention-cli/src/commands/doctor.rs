//! `retention doctor`: the core's checkup of the installation, plus what only the command can
//! check (its configuration, a running server), and the diagnostics bundle.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use clap::ArgMatches;
use retention_core::doctor::{self, Finding, Status, Thresholds};

use crate::cli::{DoctorArgs, LogArgs};
use crate::commands::registry::CHECK_FAILED;
use crate::config::Prepared;
use crate::output::Table;

/// How long a server has to answer each request.
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest answer read from a server.
const MAX_ANSWER: u64 = 8 << 20;
/// Audit entries put in a bundle (the newest).
const BUNDLE_AUDIT_ENTRIES: usize = 500;
/// Bytes of the log file's end put in a bundle.
const BUNDLE_LOG_BYTES: u64 = 2 << 20;

pub fn run(
    db: &Path,
    args: &DoctorArgs,
    log: &LogArgs,
    prepared: &Prepared,
    matches: &ArgMatches,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    if !args.max_backup_age.is_finite() || args.max_backup_age <= 0.0 {
        bail!("--max-backup-age must be a positive number of hours");
    }
    let settings = crate::config::effective(prepared, matches)?;
    let mut findings = vec![configuration(prepared)];
    let thresholds = Thresholds {
        backup_max_age_hours: args.max_backup_age,
        ..Thresholds::DEFAULT
    };
    findings.extend(doctor::examine(db, &thresholds));
    if let Some(path) = &log.log_file {
        findings.push(log_file(path));
    }
    let mut metrics = None;
    if let Some(url) = &args.url {
        let (server, text) = server(url);
        findings.extend(server);
        metrics = text;
    }
    // The core names operations; the terminal reads them as commands.
    for f in &mut findings {
        f.detail = crate::spelling::text(&f.detail);
    }
    let failed = findings.iter().any(|f| f.status == Status::Fail);
    if let Some(path) = &args.bundle {
        let bundle = Bundle {
            db,
            settings: &settings,
            findings: &findings,
            metrics: metrics.as_deref(),
            log_file: log.log_file.as_deref(),
        };
        bundle
            .write(path)
            .with_context(|| format!("writing the bundle {}", path.display()))?;
        crate::output::warn(&format!("diagnostics bundle written to {}", path.display()));
    }
    if args.json {
        let value = serde_json::json!({ "ok": !failed, "checks": findings });
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
    } else {
        let mut table = Table::new(["check", "status", "detail"]).text_column(2);
        for f in &findings {
            table.row([f.check.clone(), f.status.as_str().into(), f.detail.clone()]);
        }
        table.write(out)?;
        let worst = findings
            .iter()
            .map(|f| f.status)
            .max()
            .unwrap_or(Status::Ok);
        writeln!(
            out,
            "\n{}",
            match worst {
                Status::Ok => "every check passed",
                Status::Warn => "every check passed, with warnings",
                Status::Fail => "a check failed: act on it before trusting the service",
            }
        )?;
    }
    Ok(if failed {
        ExitCode::from(CHECK_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

/// The configuration was read and checked before any command ran; what remains is to say
/// where it came from and what it warned about.
fn configuration(prepared: &Prepared) -> Finding {
    let from = prepared.file.as_ref().map_or_else(
        || "no configuration file; environment and defaults".to_string(),
        |f| format!("{} valid", f.path().display()),
    );
    if prepared.warnings.is_empty() {
        Finding::new("configuration", Status::Ok, from)
    } else {
        Finding::new(
            "configuration",
            Status::Warn,
            format!("{from}; {}", prepared.warnings.join("; ")),
        )
    }
}

/// The log file's folder takes new files (rotation renames and creates them).
fn log_file(path: &Path) -> Finding {
    doctor::writable("log file", &retention_core::parent_dir(path))
}

/// A running server's health endpoints; returns the findings and the metrics text.
fn server(url: &str) -> (Vec<Finding>, Option<String>) {
    let mut findings = Vec::new();
    let mut metrics = None;
    for path in ["/live", "/health", "/ready", "/metrics"] {
        let check = format!("server {path}");
        match http_get(url, path) {
            Ok((200, body)) => {
                if path == "/metrics" {
                    if body.contains("retentionai_build_info") {
                        findings.push(Finding::new(&check, Status::Ok, "200, RetentionAI metrics"));
                    } else {
                        findings.push(Finding::new(
                            &check,
                            Status::Fail,
                            "200 but no retentionai_build_info: not a RetentionAI server",
                        ));
                    }
                    metrics = Some(body);
                } else {
                    findings.push(Finding::new(&check, Status::Ok, "200"));
                }
            }
            Ok((status, body)) => findings.push(Finding::new(
                &check,
                Status::Fail,
                format!("{status}: {}", retention_core::error::excerpt(body.trim())),
            )),
            Err(e) => {
                findings.push(Finding::new(
                    &check,
                    Status::Fail,
                    format!("{url} does not answer: {e:#}"),
                ));
                // The others would say the same.
                break;
            }
        }
    }
    (findings, metrics)
}

/// `GET path` on an `http://host:port` server: the status and the body.
fn http_get(url: &str, path: &str) -> Result<(u16, String)> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("--url must start with http:// (found '{url}')"))?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let with_port = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let addr = with_port
        .to_socket_addrs()
        .with_context(|| format!("resolving {authority}"))?
        .next()
        .ok_or_else(|| anyhow!("{authority} resolves to no address"))?;
    let mut stream = TcpStream::connect_timeout(&addr, HTTP_TIMEOUT)?;
    stream.set_read_timeout(Some(HTTP_TIMEOUT))?;
    stream.set_write_timeout(Some(HTTP_TIMEOUT))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nUser-Agent: retention-doctor\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.take(MAX_ANSWER).read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow!("an incomplete HTTP answer"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("not an HTTP answer"))?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Ok((status, body))
}

/// The body of a chunked answer.
fn dechunk(mut rest: &str) -> String {
    let mut body = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || after.len() < n {
            break;
        }
        body.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    body
}

/// What goes into a diagnostics bundle.
struct Bundle<'a> {
    db: &'a Path,
    settings: &'a [crate::config::Shown],
    findings: &'a [Finding],
    metrics: Option<&'a str>,
    log_file: Option<&'a Path>,
}

impl Bundle<'_> {
    /// Writes the `.tar.gz` beside `path` and renames it into place when complete.
    fn write(&self, path: &Path) -> Result<()> {
        let created = chrono::Utc::now();
        let root = format!(
            "retentionai-diagnostics-{}",
            created.format("%Y%m%dT%H%M%SZ")
        );
        let mut files: Vec<(String, Vec<u8>)> = vec![
            ("versions.txt".into(), versions().into_bytes()),
            (
                "config.json".into(),
                serde_json::to_vec_pretty(&serde_json::json!({ "settings": self.settings }))?,
            ),
            (
                "checks.json".into(),
                serde_json::to_vec_pretty(self.findings)?,
            ),
            (
                "database.json".into(),
                serde_json::to_vec_pretty(&database(self.db))?,
            ),
        ];
        if let Some(m) = self.metrics {
            files.push(("metrics.txt".into(), m.as_bytes().to_vec()));
        }
        if let Some(log) = self.log_file {
            files.push(("app.log".into(), tail(log, BUNDLE_LOG_BYTES)));
        }
        retention_core::atomic_write(path, |w| {
            let gz = flate2::write::GzEncoder::new(w, flate2::Compression::default());
            let mut tar = tar::Builder::new(gz);
            for (name, bytes) in &files {
                let mut header = tar::Header::new_gnu();
                header.set_size(bytes.len() as u64);
                header.set_mode(0o600);
                header.set_mtime(created.timestamp().max(0) as u64);
                header.set_cksum();
                tar.append_data(&mut header, format!("{root}/{name}"), bytes.as_slice())
                    .map_err(|e| retention_core::Error::io(path, e))?;
            }
            tar.into_inner()
                .and_then(flate2::write::GzEncoder::finish)
                .map_err(|e| retention_core::Error::io(path, e))?;
            Ok(())
        })?;
        Ok(())
    }
}

fn versions() -> String {
    let kernel = std::fs::read_to_string("/proc/version").unwrap_or_default();
    format!(
        "retention {}\nschema {}\nos {} {}\n{}",
        env!("CARGO_PKG_VERSION"),
        retention_core::store::SCHEMA_VERSION,
        std::env::consts::OS,
        std::env::consts::ARCH,
        kernel
    )
}

/// Statistics, aliases, versions and recent audit entries (key material left out).
fn database(db: &Path) -> serde_json::Value {
    let store = match retention_core::store::Store::open_existing(db) {
        Ok(s) => s,
        Err(e) => return serde_json::json!({ "error": e.to_string() }),
    };
    let or_error = |r: retention_core::Result<serde_json::Value>| {
        r.unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }))
    };
    let stats = or_error(store.check().and_then(|c| Ok(serde_json::to_value(c)?)));
    let aliases = or_error(store.aliases().and_then(|a| Ok(serde_json::to_value(a)?)));
    let versions = or_error(store.versions().and_then(|v| Ok(serde_json::to_value(v)?)));
    let audit = or_error(store.audit_entries("").and_then(|entries| {
        let start = entries.len().saturating_sub(BUNDLE_AUDIT_ENTRIES);
        let recent: Vec<serde_json::Value> = entries[start..]
            .iter()
            .map(|e| {
                let mut v = serde_json::to_value(e)?;
                if let Some(details) = v.get_mut("details").and_then(|d| d.as_object_mut()) {
                    details.retain(|k, _| !retention_core::config::is_secret(k));
                }
                Ok(v)
            })
            .collect::<retention_core::Result<_>>()?;
        Ok(serde_json::Value::Array(recent))
    }));
    serde_json::json!({
        "path": db.display().to_string(),
        "statistics": stats,
        "aliases": aliases,
        "versions": versions,
        "recent_audit": audit,
    })
}

/// The last `bytes` of a file (from a line start), or a note saying why there is none.
fn tail(path: &Path, bytes: u64) -> Vec<u8> {
    use std::io::{Seek, SeekFrom};
    let read = || -> std::io::Result<Vec<u8>> {
        let mut f = std::fs::File::open(path)?;
        let len = f.metadata()?.len();
        f.seek(SeekFrom::Start(len.saturating_sub(bytes)))?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf)?;
        if len > bytes
            && let Some(nl) = buf.iter().position(|b| *b == b'\n')
        {
            buf.drain(..=nl);
        }
        Ok(buf)
    };
    read().unwrap_or_else(|e| format!("(no log: {}: {e})\n", path.display()).into_bytes())
}
