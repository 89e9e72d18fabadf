//! Backups of a PostgreSQL store with PostgreSQL's own tools: `pg_dump` in its custom format,
//! checked by restoring it into a scratch database (created, read back and dropped) before the
//! backup counts as taken; `pg_restore --list` to verify a dump later without a server; and
//! `pg_restore --single-transaction --clean` to restore (all of it, or nothing).
//!
//! The tools are found on `PATH`, else in the newest `/usr/lib/postgresql/<major>/bin` (Debian's
//! layout). They are given the connection as libpq variables (`PGHOST`, `PGPASSWORD`, …), never
//! on their command line, so the password does not show in the process list.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::sql::PgManager;
use super::{Db, Store, store_error};
use crate::error::{Error, Result};
use crate::fsutil;

/// The dump's name inside a backup folder.
pub(super) const DUMP_FILE: &str = "retentionai.dump";

/// A PostgreSQL client program (`pg_dump`, `pg_restore`).
fn tool(name: &str) -> Result<PathBuf> {
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse::<u32>().ok()?;
            let path = e.path().join("bin").join(name);
            path.is_file().then_some((major, path))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, p)| p).ok_or_else(|| {
        store_error(format!(
            "{name} was not found on PATH nor under /usr/lib/postgresql: install PostgreSQL's client programs (Debian: postgresql-client) to back up a PostgreSQL store"
        ))
    })
}

/// `tool` with the connection of `config` in libpq's variables (database `dbname`, or the
/// configured one).
fn command(name: &str, config: &postgres::Config, dbname: Option<&str>) -> Result<Command> {
    let mut cmd = Command::new(tool(name)?);
    for var in [
        "PGHOST",
        "PGHOSTADDR",
        "PGPORT",
        "PGUSER",
        "PGPASSWORD",
        "PGDATABASE",
        "PGSERVICE",
        "PGSERVICEFILE",
        "PGPASSFILE",
        "PGOPTIONS",
    ] {
        cmd.env_remove(var);
    }
    // Every host and port, comma-separated as libpq takes them (a standby pair stays a pair).
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            postgres::config::Host::Tcp(h) => h.clone(),
            postgres::config::Host::Unix(dir) => dir.display().to_string(),
        })
        .collect();
    if !hosts.is_empty() {
        cmd.env("PGHOST", hosts.join(","));
    }
    let ports: Vec<String> = config.get_ports().iter().map(u16::to_string).collect();
    if !ports.is_empty() {
        cmd.env("PGPORT", ports.join(","));
    }
    if let Some(user) = config.get_user() {
        cmd.env("PGUSER", user);
    }
    if let Some(password) = config.get_password() {
        cmd.env("PGPASSWORD", String::from_utf8_lossy(password).into_owned());
    }
    cmd.env("PGDATABASE", dbname.unwrap_or_else(|| database_of(config)));
    if config.get_target_session_attrs() == postgres::config::TargetSessionAttrs::ReadWrite {
        cmd.env("PGTARGETSESSIONATTRS", "read-write");
    }
    cmd.env("PGCONNECT_TIMEOUT", "10");
    Ok(cmd)
}

/// The database a connection reaches: the one named, else (as libpq and the client do) the one
/// named after the user.
fn database_of(config: &postgres::Config) -> &str {
    config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres")
}

/// Runs a tool; its error output names what failed.
fn run(mut cmd: Command, what: &str) -> Result<Vec<u8>> {
    let out = cmd.output().map_err(|e| {
        store_error(format!(
            "{what}: could not run {:?}: {e}",
            cmd.get_program()
        ))
    })?;
    if out.status.success() {
        return Ok(out.stdout);
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(4).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    Err(store_error(format!(
        "{what} failed ({}): {}",
        out.status,
        tail.join(" / ").chars().take(600).collect::<String>()
    )))
}

/// Scratch databases are named `retentionai_verify_<pid>_<Unix ms>`.
const SCRATCH_PREFIX: &str = "retentionai_verify_";
/// A scratch database older than this was left by a backup that was killed: it is dropped
/// (it holds a copy of customer data that no erasure would reach).
const SCRATCH_MAX_AGE_MS: i64 = 3_600_000;

/// Drops the scratch databases killed backups left behind. Best effort: the backup goes on.
fn sweep_scratch(store: &Store) {
    let now = super::now_millis();
    let names: Vec<String> = store
        .all(
            "SELECT datname FROM pg_database WHERE starts_with(datname, 'retentionai_verify_')",
            &[],
            |mut r| r.get(0),
        )
        .unwrap_or_default();
    for name in names {
        let stale = name
            .strip_prefix(SCRATCH_PREFIX)
            .and_then(|rest| rest.split_once('_'))
            .filter(|(pid, ms)| {
                pid.bytes().all(|b| b.is_ascii_digit()) && ms.bytes().all(|b| b.is_ascii_digit())
            })
            .and_then(|(_, ms)| ms.parse::<i64>().ok())
            .is_some_and(|ms| now - ms > SCRATCH_MAX_AGE_MS);
        if stale {
            let _ = store.with(|s| {
                s.batch(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .map_err(|e| store.err(e))
            });
        }
    }
}

/// What a dump restored into a scratch database holds.
pub(super) struct Checked {
    pub schema_version: i64,
    pub rows: Vec<(String, i64)>,
    pub models: (Vec<super::ManifestEntry>, Vec<super::SkippedVersion>),
}

/// Dumps `store` to `dump` (custom format), restores it into a scratch database, reads back its
/// schema version, row counts and model files (written under `dir`), and drops the scratch
/// database.
pub(super) fn dump_and_check(store: &Store, dir: &Path, dump: &Path) -> Result<Checked> {
    let config = store
        .postgres_config()
        .ok_or_else(|| store_error(format!("{} is not a PostgreSQL store", store.db())))?;
    fsutil::create_private_file(dump)?;
    let mut cmd = command("pg_dump", config, None)?;
    cmd.arg("--format=custom").arg("--file").arg(dump);
    run(cmd, &format!("pg_dump of {}", store.db()))?;

    sweep_scratch(store);
    let scratch = format!(
        "{SCRATCH_PREFIX}{}_{}",
        std::process::id(),
        super::now_millis()
    );
    store.with(|s| {
        // template0: nothing added to template1 on this server can break the restore.
        s.batch(&format!("CREATE DATABASE {scratch} TEMPLATE template0")).map_err(|e| {
            store_error(format!(
                "{}: checking the dump needs a scratch database and CREATE DATABASE failed ({e}); grant the role CREATEDB",
                store.db()
            ))
        })
    })?;
    let checked = restore_into_scratch(config, &scratch, dir, dump, store.db());
    let dropped = store.with(|s| {
        s.batch(&format!("DROP DATABASE IF EXISTS {scratch} WITH (FORCE)"))
            .map_err(|e| store.err(e))
    });
    let checked = checked?;
    dropped?;
    Ok(checked)
}

fn restore_into_scratch(
    config: &postgres::Config,
    scratch: &str,
    dir: &Path,
    dump: &Path,
    source: &Db,
) -> Result<Checked> {
    let mut cmd = command("pg_restore", config, Some(scratch))?;
    cmd.args([
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        "--dbname",
        scratch,
    ])
    .arg(dump);
    run(cmd, "restoring the dump into a scratch database")?;
    let mut scratch_config = config.clone();
    scratch_config.dbname(scratch);
    let label = Db::Postgres(format!("{source} (scratch copy {scratch})"));
    let copy = Store::from_manager(&label, PgManager::from_config(scratch_config))?;
    let check = copy.check()?;
    let models = super::backup::copy_models(&copy, dir, &dir.join("models"))?;
    Ok(Checked {
        schema_version: check.schema_version,
        rows: check.rows,
        models,
    })
}

/// Checks a dump is a readable archive (its table of contents lists), without a server.
pub(super) fn check_archive(dump: &Path) -> Result<()> {
    let mut cmd = Command::new(tool("pg_restore")?);
    cmd.arg("--list").arg(dump);
    let toc = run(cmd, &format!("reading {}", dump.display()))?;
    let toc = String::from_utf8_lossy(&toc);
    if !toc.contains("TABLE DATA") {
        return Err(store_error(format!(
            "{} is a dump without table data",
            dump.display()
        )));
    }
    Ok(())
}

/// Replaces the store's contents at `target` with the dump, in one transaction: every table is
/// dropped and restored, or nothing changes.
pub(super) fn restore(dump: &Path, target: &Db) -> Result<()> {
    let Db::Postgres(url) = target else {
        return Err(Error::param(
            "db",
            format!("{target} is not a PostgreSQL database"),
        ));
    };
    let manager = PgManager::new(url).map_err(|why| store_error(format!("{target}: {why}")))?;
    let mut cmd = command("pg_restore", manager.config(), None)?;
    cmd.args([
        "--clean",
        "--if-exists",
        "--single-transaction",
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
    ])
    .arg("--dbname")
    .arg(database_of(manager.config()))
    .arg(dump);
    run(cmd, &format!("restoring {} into {target}", dump.display()))?;
    Ok(())
}
