//! `retention doctor`: the core's checkup of the installation, plus what only the command can
//! check (its configuration, a running server), and the diagnostics bundle.

use retention_core::store::Db;
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
    db: &Db,
    args: &DoctorArgs,
    log: &LogArgs,
    prepared: &Prepared,
    matches: &ArgMatches,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    if !args.max_backup_age.is_finite() || args.max_backup_age <= 0.0 {
        bail!("--max-backup-age must be a positive number of hours");
    }
    if let Some(url) = &args.url {
        target(url)?;
    }
    if let Some(bundle) = &args.bundle {
        // Never over the files it reports on.
        let mut inputs: Vec<&Path> = db.file().into_iter().collect();
        inputs.extend(log.log_file.as_deref());
        retention_core::refuse_output_over_inputs("bundle", bundle, &inputs)?;
        if bundle.is_dir() {
            bail!(
                "--bundle {} is a folder: name the file to write",
                bundle.display()
            );
        }
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
                    format!("{} does not answer: {e:#}", redacted(url)),
                ));
                // The others would say the same.
                break;
            }
        }
    }
    (findings, metrics)
}

/// The `host:port` of an `http://` URL (port 80 when none is given; IPv6 in brackets).
fn target(url: &str) -> Result<String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("--url must start with http:// (found '{}')", redacted(url)))?;
    let authority = rest.split('/').next().unwrap_or(rest);
    // Credentials are not sent: the health endpoints are open.
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host_port.is_empty() {
        bail!("--url names no host (found '{}')", redacted(url));
    }
    let has_port = match host_port.strip_prefix('[') {
        Some(v6) => v6.contains("]:"),
        None => host_port.contains(':'),
    };
    Ok(if has_port {
        host_port.to_string()
    } else {
        format!("{host_port}:80")
    })
}

/// A URL fit for messages and the bundle (a password replaced by `***`).
fn redacted(url: &str) -> String {
    retention_core::config::redact("url", url)
}

/// `GET path` on an `http://host:port` server: the status and the body. The whole exchange
/// has [`HTTP_TIMEOUT`], whatever the server does.
fn http_get(url: &str, path: &str) -> Result<(u16, String)> {
    let target = target(url)?;
    let addr = target
        .to_socket_addrs()
        .with_context(|| format!("resolving {target}"))?
        .next()
        .ok_or_else(|| anyhow!("{target} resolves to no address"))?;
    let deadline = std::time::Instant::now() + HTTP_TIMEOUT;
    let mut stream = TcpStream::connect_timeout(&addr, HTTP_TIMEOUT)?;
    stream.set_write_timeout(Some(HTTP_TIMEOUT))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\nUser-Agent: retention-doctor\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    let mut chunk = [0u8; 16 << 10];
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            bail!("no complete answer within {} s", HTTP_TIMEOUT.as_secs());
        }
        stream.set_read_timeout(Some(left))?;
        let n = match stream.read(&mut chunk) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                bail!("no complete answer within {} s", HTTP_TIMEOUT.as_secs())
            }
            Err(e) => return Err(e.into()),
        };
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&chunk[..n]);
        if raw.len() as u64 > MAX_ANSWER {
            bail!("an answer larger than {} MiB", MAX_ANSWER >> 20);
        }
        if complete(&raw) {
            break;
        }
    }
    let split = find(&raw, b"\r\n\r\n").ok_or_else(|| anyhow!("an incomplete HTTP answer"))?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let body = &raw[split + 4..];
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("not an HTTP answer"))?;
    let body = if header(&head, "transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        dechunk(body)
    } else {
        body.to_vec()
    };
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A header's value (lower-cased name).
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Whether `raw` holds a whole answer: its head and, when it says its length (or is chunked),
/// its whole body. Without either the answer ends when the server closes.
fn complete(raw: &[u8]) -> bool {
    let Some(split) = find(raw, b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&raw[..split]);
    let body = &raw[split + 4..];
    if let Some(n) = header(&head, "content-length").and_then(|v| v.parse::<usize>().ok()) {
        return body.len() >= n;
    }
    if header(&head, "transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        return body.ends_with(b"0\r\n\r\n");
    }
    false
}

/// The body of a chunked answer, from its bytes.
fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    while let Some(line_end) = find(rest, b"\r\n") {
        let size = String::from_utf8_lossy(&rest[..line_end]);
        let size = size.split(';').next().unwrap_or("").trim();
        let Ok(n) = usize::from_str_radix(size, 16) else {
            break;
        };
        let data = &rest[line_end + 2..];
        if n == 0 || data.len() < n {
            break;
        }
        body.extend_from_slice(&data[..n]);
        rest = data[n..].strip_prefix(b"\r\n").unwrap_or(&data[n..]);
    }
    body
}

/// What goes into a diagnostics bundle.
struct Bundle<'a> {
    db: &'a Db,
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
        // Owner-only: the bundle holds the registry's details and recent audit entries.
        retention_core::atomic_write_private(path, |w| {
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
fn database(db: &Db) -> serde_json::Value {
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
        "path": db.to_string(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_joined_as_bytes() {
        // "é" is two bytes, split across the two chunks.
        let body = b"2\r\na\xc3\r\n2\r\n\xa9b\r\n0\r\n\r\n";
        assert_eq!(String::from_utf8(dechunk(body)).unwrap(), "aéb");
        assert!(complete(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        ));
        assert!(complete(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
        assert!(!complete(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok"));
    }

    #[test]
    fn urls_name_their_host_and_port() {
        assert_eq!(target("http://localhost:8501").unwrap(), "localhost:8501");
        assert_eq!(target("http://[::1]").unwrap(), "[::1]:80");
        assert_eq!(target("http://[::1]:9/x").unwrap(), "[::1]:9");
        assert_eq!(target("http://ops:pw@h:1/").unwrap(), "h:1");
        let e = target("https://ops:secret@h").unwrap_err().to_string();
        assert!(e.contains("http://") && !e.contains("secret"), "{e}");
    }
}
