//! One configuration: flag > `RETENTIONAI_<NAME>` > configuration file > default, checked at
//! start-up with the key named.

use std::path::Path;
use std::process::{Command, Output};

use crate::util::{bin, ok, stderr, tempdir};

/// `retention ... config show --json` with a clean RETENTIONAI_* environment plus `env`.
fn show(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(bin());
    for (k, _) in std::env::vars() {
        if k.starts_with("RETENTIONAI_") || k.starts_with("RETENTION_") {
            c.env_remove(k);
        }
    }
    c.args(args)
        .envs(env.iter().copied())
        .output()
        .expect("spawn")
}

/// The settings of `config show --json`: key → (value, source).
fn settings(o: &Output) -> std::collections::BTreeMap<String, (Option<String>, String)> {
    let v: serde_json::Value = serde_json::from_str(&ok(o)).expect("JSON");
    v["settings"]
        .as_array()
        .expect("settings")
        .iter()
        .map(|s| {
            (
                s["key"].as_str().unwrap_or_default().to_string(),
                (
                    s["value"].as_str().map(String::from),
                    s["source"].as_str().unwrap_or_default().to_string(),
                ),
            )
        })
        .collect()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write config");
    p.display().to_string()
}

#[test]
fn flag_beats_environment_beats_file_beats_default() {
    let dir = tempdir();
    let file = write(
        dir.path(),
        "c.toml",
        "db = \"file.db\"\n[log]\nlevel = \"debug\"\nformat = \"json\"\n[serve]\nport = 9001\nmax_batch = 77\nno_auth = true\n[app]\ndata = \"file.csv\"\n",
    );
    let env = [
        ("RETENTIONAI_DB", "env.db"),
        ("RETENTIONAI_PORT", "9100"),
        ("RETENTIONAI_LOG_LEVEL", "warn"),
        ("RETENTIONAI_DATA", "env.csv"),
    ];
    let o = show(
        &[
            "--config", &file, "--db", "flag.db", "config", "show", "--json",
        ],
        &env,
    );
    let s = settings(&o);
    let file_source = format!("file {file}");
    // Flag over environment and file.
    assert_eq!(s["db"], (Some("flag.db".into()), "flag".into()));
    // Environment over file.
    assert_eq!(
        s["serve.port"],
        (Some("9100".into()), "env RETENTIONAI_PORT".into())
    );
    assert_eq!(
        s["log.level"],
        (Some("warn".into()), "env RETENTIONAI_LOG_LEVEL".into())
    );
    assert_eq!(
        s["app.data"],
        (Some("env.csv".into()), "env RETENTIONAI_DATA".into())
    );
    // File over default.
    assert_eq!(
        s["serve.max_batch"],
        (Some("77".into()), file_source.clone())
    );
    assert_eq!(
        s["serve.no_auth"],
        (Some("true".into()), file_source.clone())
    );
    assert_eq!(s["log.format"], (Some("json".into()), file_source));
    // Default.
    assert_eq!(s["serve.timeout"], (Some("10000".into()), "default".into()));
    assert_eq!(s["serve.threads"], (None, "default".into()));

    // `config check --json`, for scripts.
    let o = show(&["--config", &file, "config", "check", "--json"], &[]);
    let v: serde_json::Value = serde_json::from_str(&ok(&o)).expect("JSON");
    assert_eq!(v["valid"], true);
    assert_eq!(v["file"].as_str(), Some(file.as_str()));

    // The file named by RETENTIONAI_CONFIG, and the environment alone over it.
    let o = show(
        &["config", "show", "--json"],
        &[("RETENTIONAI_CONFIG", &file), ("RETENTIONAI_DB", "env.db")],
    );
    let s = settings(&o);
    assert_eq!(
        s["db"],
        (Some("env.db".into()), "env RETENTIONAI_DB".into())
    );
    assert_eq!(s["serve.port"].0.as_deref(), Some("9001"));
}

/// Starts `retention serve` with `args` and `env`; returns the address it listens on, or its
/// error output when it exits without listening.
fn serve_address(args: &[&str], env: &[(&str, &str)]) -> Result<String, String> {
    use std::io::{BufRead, BufReader, Read};
    let mut c = Command::new(bin());
    for (k, _) in std::env::vars() {
        if k.starts_with("RETENTIONAI_") {
            c.env_remove(k);
        }
    }
    let mut child = c
        .args(args)
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn serve");
    let mut line = String::new();
    let _ = BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line);
    let _ = child.kill();
    let mut err = String::new();
    let _ = child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err);
    let _ = child.wait();
    match line.trim().strip_prefix("listening on http://") {
        Some(addr) => Ok(addr.to_string()),
        None => Err(err),
    }
}

#[test]
fn serve_takes_its_port_from_the_file_unless_the_environment_or_a_flag_says_otherwise() {
    // The file asks for a port that is taken.
    let dir = tempdir();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let file = write(
        dir.path(),
        "c.toml",
        &format!("[serve]\nport = {port}\nno_log = true\n"),
    );
    let db = dir.path().join("ops.db");
    let db = db.to_str().expect("utf-8");
    let base = ["--config", file.as_str(), "--db", db, "serve"];

    let err = serve_address(&base, &[]).expect_err("the file's port is taken");
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    let addr = serve_address(&base, &[("RETENTIONAI_PORT", "0")]).expect("env wins");
    assert_ne!(addr, format!("127.0.0.1:{port}"));
    let mut flagged = base.to_vec();
    flagged.extend(["--port", "0"]);
    let addr =
        serve_address(&flagged, &[("RETENTIONAI_PORT", &port.to_string())]).expect("the flag wins");
    assert_ne!(addr, format!("127.0.0.1:{port}"));
}

#[test]
fn unknown_keys_and_bad_values_are_refused_with_the_key_named() {
    let dir = tempdir();
    let cases = [
        ("[serve]\nprot = 9000\n", "serve.prot", "serve.port"),
        ("dbb = \"x\"\n", "'dbb'", "'db'"),
        ("[serve]\nport = \"eighty\"\n", "serve.port", "eighty"),
        (
            "[serve]\nno_auth = \"yes\"\n",
            "serve.no_auth",
            "true or false",
        ),
        ("[log]\nformat = \"xml\"\n", "log.format", "xml"),
        ("[tls]\ncert = \"c.pem\"\n", "tls.cert", "unknown setting"),
        ("[serve\nport = 1\n", "c.toml", "configuration"),
        // Values the server would refuse are refused here, by the same parsers.
        ("[serve]\ntimeout = 0\n", "serve.timeout", "1..=3600000"),
        (
            "[serve]\nmax_connections = 99999999999\n",
            "serve.max_connections",
            "1..=1000000",
        ),
        ("[serve]\nhost = \"\"\n", "serve.host", "value is required"),
        ("[log]\nkeep = 100000\n", "log.keep", "0..=1000"),
        (
            "\"serve.port\" = 1\n[serve]\nport = 2\n",
            "serve.port",
            "quoted key",
        ),
    ];
    for (text, key, also) in cases {
        let file = write(dir.path(), "c.toml", text);
        let o = show(&["--config", &file, "config", "check"], &[]);
        assert_eq!(o.status.code(), Some(2), "{text}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains(key) && err.contains(also), "{text}: {err}");
    }
    let o = show(&["config", "check"], &[("RETENTIONAI_MAX_BATCH", "lots")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("RETENTIONAI_MAX_BATCH"),
        "{}",
        stderr(&o)
    );
    // An empty log level would silence the log: refused, naming where it is set.
    let o = show(&["config", "check"], &[("RETENTIONAI_LOG_LEVEL", "")]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("RETENTIONAI_LOG_LEVEL"),
        "{}",
        stderr(&o)
    );
    // An empty RETENTIONAI_CONFIG names no file.
    let o = show(&["config", "check"], &[("RETENTIONAI_CONFIG", "")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let missing = dir.path().join("missing.toml");
    let o = show(
        &[
            "--config",
            missing.to_str().expect("utf-8"),
            "config",
            "check",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("missing.toml"), "{}", stderr(&o));
}

#[test]
fn old_names_still_work_with_a_warning_and_secrets_are_redacted() {
    let o = show(
        &["config", "show", "--json"],
        &[("RETENTION_DB", "old.db"), ("RETENTIONAI_TYPO", "1")],
    );
    let s = settings(&o);
    assert_eq!(s["db"], (Some("old.db".into()), "env RETENTION_DB".into()));
    let err = stderr(&o);
    assert!(
        err.contains("RETENTION_DB is deprecated") && err.contains("RETENTIONAI_DB"),
        "{err}"
    );
    assert!(
        err.contains("RETENTIONAI_TYPO is not a RetentionAI setting"),
        "{err}"
    );

    let o = show(
        &["config", "show"],
        &[("RETENTIONAI_DB", "postgres://app:hunter2@db.internal/ops")],
    );
    let text = ok(&o);
    assert!(!text.contains("hunter2"), "{text}");
    assert!(
        text.contains("postgres://app:***@db.internal/ops"),
        "{text}"
    );
}

/// `--db` takes a file path or a PostgreSQL URL; any other scheme, and a PostgreSQL URL this
/// build cannot use, are refused with exit 2 before anything is created, and the password never
/// appears in the message, whether it came from the flag, the environment or the file.
#[test]
fn a_database_url_is_refused_by_scheme_and_its_password_never_shown() {
    let dir = tempdir();
    // Port 1 on loopback: a URL that parses is refused at connection, at once.
    let cases = [
        (
            "mysql://app:s3cret@127.0.0.1:1/retention",
            2,
            "scheme 'mysql' is not supported",
        ),
        (
            "postgres://app:s3cret@127.0.0.1:1/retention?sslmode=require",
            2,
            "sslmode=require",
        ),
        (
            "postgres://app@127.0.0.1:1/retention?password=s3cret&sslmode=nope",
            2,
            "not a PostgreSQL",
        ),
        // A password holding '/' and '?' (as PostgreSQL's parser reads it) is hidden whole.
        (
            "postgres://app:s3/cr?et@127.0.0.1:1/retention",
            1,
            "error connecting",
        ),
    ];
    for (url, code, why) in cases {
        for (args, env) in [
            (vec!["--db", url, "model", "list"], vec![]),
            (vec!["model", "list"], vec![("RETENTIONAI_DB", url)]),
        ] {
            let o = Command::new(bin())
                .args(&args)
                .envs(env.iter().copied())
                .current_dir(dir.path())
                .output()
                .expect("run");
            let err = stderr(&o);
            assert_eq!(o.status.code(), Some(code), "{url}: {err}");
            assert!(err.contains(why), "{url}: {err}");
            assert!(
                !err.contains("s3cret") && !err.contains("cr?et"),
                "{url}: {err}"
            );
        }
        let file = write(dir.path(), "c.toml", &format!("db = \"{url}\"\n"));
        let o = Command::new(bin())
            .args(["--config", &file, "model", "list"])
            .current_dir(dir.path())
            .output()
            .expect("run");
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(code), "{url}: {err}");
        assert!(
            !err.contains("s3cret") && !err.contains("cr?et"),
            "{url}: {err}"
        );
    }
    // Nothing named like the URL was created.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n != "c.toml")
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
