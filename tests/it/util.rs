//! Shared fixtures: the `retention` binary, the bundled Telco table, temporary folders, a trained
//! model reused across tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// Path of the `retention` binary of this build (built on first use; a no-op when up to date).
pub fn bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("test executable path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("test executable lives in target/<profile>/deps")
            .to_path_buf();
        let mut build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        build.args([
            "build",
            "--quiet",
            "-p",
            "retention-cli",
            "--bin",
            "retention",
        ]);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            build.arg("--release");
        }
        let status = build
            .status()
            .expect("run cargo build for the retention binary");
        assert!(status.success(), "building the retention binary failed");
        profile_dir.join(format!("retention{}", std::env::consts::EXE_SUFFIX))
    })
}

/// Runs `retention` with arguments.
pub fn run<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Command::new(bin())
        .args(args)
        .output()
        .expect("spawn the retention binary")
}

/// Runs `retention` against the database `db` (as actor `tester`).
pub fn ret(db: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .env("RETENTIONAI_DB", db)
        .env("RETENTIONAI_ACTOR", "tester")
        .output()
        .expect("spawn retention")
}

/// stdout of a run that must have succeeded.
pub fn ok(o: &Output) -> String {
    assert!(o.status.success(), "failed: {}\n{}", stderr(o), stdout(o));
    stdout(o)
}

/// The bundled Telco customer churn table.
pub fn telco() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/telco_customer_churn.csv")
}

/// The Telco table loaded with its target and id named (a fresh copy per call).
pub fn telco_dataset() -> retention::data::Dataset {
    retention::data::Dataset::load(
        &telco(),
        &retention::data::SchemaOptions::new()
            .target("Churn")
            .id("customerID"),
    )
    .expect("load the Telco table")
}

/// The Telco table's text.
pub fn telco_text() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| std::fs::read_to_string(telco()).expect("read the Telco table"))
}

/// A fresh temporary folder, removed when dropped.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("create a temporary folder")
}

/// stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts a failed run whose stderr names `needle`, on one `error:` line.
pub fn assert_fails_with(o: &Output, needle: &str) {
    let err = stderr(o);
    assert!(
        !o.status.success(),
        "expected failure, got success; stderr: {err}"
    );
    assert!(
        err.contains(needle),
        "stderr does not mention {needle:?}:\n{err}"
    );
    assert!(
        err.starts_with("error: "),
        "one-line cause expected:\n{err}"
    );
}

/// A logistic model trained once on Telco (5-fold CV, seed 42, Platt calibration) and shared by
/// the tests.
pub fn telco_model() -> &'static Path {
    static MODEL: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = MODEL.get_or_init(|| {
        let dir = tempdir();
        let path = dir.path().join("telco.model.json");
        let o = run([
            "train".as_ref(),
            "--data".as_ref(),
            telco().as_os_str(),
            "--target".as_ref(),
            "Churn".as_ref(),
            "--id".as_ref(),
            "customerID".as_ref(),
            "--algorithm".as_ref(),
            "logistic".as_ref(),
            "--out".as_ref(),
            path.as_os_str(),
        ]);
        assert!(o.status.success(), "training failed: {}", stderr(&o));
        (dir, path)
    });
    path
}

/// Writes a Telco copy with `edit` applied to each data line (fields split on commas; Telco has
/// no quoted commas).
pub fn telco_edited(dir: &Path, name: &str, edit: impl Fn(usize, &mut Vec<String>)) -> PathBuf {
    let mut lines = telco_text().lines();
    let mut out = String::new();
    out.push_str(lines.next().expect("header"));
    out.push('\n');
    for (i, line) in lines.enumerate() {
        let mut fields: Vec<String> = line.split(',').map(str::to_string).collect();
        edit(i, &mut fields);
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    let path = dir.join(name);
    std::fs::write(&path, out).expect("write test table");
    path
}

/// Index of a Telco column.
pub fn telco_col(name: &str) -> usize {
    telco_text()
        .lines()
        .next()
        .and_then(|h| h.split(',').position(|c| c == name))
        .unwrap_or_else(|| panic!("no Telco column {name}"))
}

/// Runs `retention` against the database `db` (as actor `tester`) and waits for it; a run still
/// going after `limit` is killed and reported as hanging (the limit bounds a broken build, it
/// measures nothing).
pub fn run_bounded(db: &Path, args: &[&str], limit: std::time::Duration) -> Output {
    let mut child = Command::new(bin())
        .args(args)
        .env("RETENTIONAI_DB", db)
        .env("RETENTIONAI_ACTOR", "tester")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn retention");
    let start = std::time::Instant::now();
    while child.try_wait().expect("wait for retention").is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`retention {}` did not finish: it hangs", args.join(" "));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child
        .wait_with_output()
        .expect("collect retention's output")
}

/// A real PostgreSQL server for a test: the one `TEST_POSTGRES_URL` names (a URL of its
/// `postgres` database; `.ci/run` starts one for the whole run), else one started for this test
/// from the machine's packages by `scripts/postgres.sh` (initdb into a temporary folder, a free
/// loopback port) and stopped when the value is dropped.
pub struct PgServer {
    /// URL of the server's `postgres` database.
    admin: String,
    /// The folder of a server this value started (and stops).
    own: Option<(tempfile::TempDir, PathBuf)>,
}

impl PgServer {
    pub fn start() -> PgServer {
        if let Ok(admin) = std::env::var("TEST_POSTGRES_URL") {
            return PgServer { admin, own: None };
        }
        PgServer::start_own()
    }

    /// A server of this test's own (one it may stop and restart).
    pub fn start_own() -> PgServer {
        let holder = tempfile::tempdir().expect("tempdir");
        // The server runs as `postgres` when the tests run as root: it must reach its folder.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(holder.path(), std::fs::Permissions::from_mode(0o755))
                .expect("chmod");
        }
        let data = holder.path().join("pg");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let out = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/postgres.sh"))
            .args(["start", &data.display().to_string(), &port.to_string()])
            .output()
            .expect("run scripts/postgres.sh");
        assert!(
            out.status.success(),
            "starting PostgreSQL failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let url = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let admin = format!("{}/postgres", url.rsplit_once('/').expect("a URL").0);
        PgServer {
            admin,
            own: Some((holder, data)),
        }
    }

    /// A new, empty database on the server, as a `--db` URL.
    pub fn database(&self) -> String {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let name = format!(
            "t_{}_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_micros())
                .unwrap_or(0),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let mut client =
            postgres::Client::connect(&self.admin, postgres::NoTls).expect("connect to PostgreSQL");
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create a test database");
        format!("{}/{name}", self.admin.rsplit_once('/').expect("a URL").0)
    }

    /// Stops the server (this test's own only) and starts it again after `down`.
    pub fn restart_after(&self, down: std::time::Duration) {
        let (_, data) = self.own.as_ref().expect("a server this test started");
        let port = self
            .admin
            .rsplit_once(':')
            .and_then(|(_, rest)| rest.split('/').next())
            .expect("a port")
            .to_string();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/postgres.sh");
        let stop = Command::new(&script)
            .args(["stop", &data.display().to_string()])
            .status()
            .expect("stop PostgreSQL");
        assert!(stop.success());
        std::thread::sleep(down);
        let start = Command::new(&script)
            .args(["start", &data.display().to_string(), &port])
            .output()
            .expect("start PostgreSQL");
        assert!(
            start.status.success(),
            "restarting PostgreSQL failed: {}",
            String::from_utf8_lossy(&start.stderr)
        );
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        if let Some((_, data)) = &self.own {
            let _ = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/postgres.sh"))
                .args(["stop", &data.display().to_string()])
                .status();
        }
    }
}
