//! `/health`: the database answers, a champion is loaded, the database's disk has room, and this
//! process's memory is within its limit. Each check says what it saw.

use retention_core::store::Db;
use std::collections::BTreeMap;

use serde::Serialize;

use super::state::AppState;

#[derive(Debug, Serialize)]
pub struct Check {
    pub ok: bool,
    pub detail: String,
}

#[derive(Debug, Serialize)]
pub struct HealthReport {
    pub status: &'static str,
    pub ok: bool,
    /// Names of the failing checks.
    pub failing: Vec<&'static str>,
    pub checks: BTreeMap<&'static str, Check>,
}

/// Runs every check: the database, the served models, free disk and resident memory.
pub fn check(state: &AppState) -> HealthReport {
    let mut checks = BTreeMap::new();
    let database = match state.store().ping() {
        Ok(()) => Check {
            ok: true,
            detail: "the database answers".into(),
        },
        Err(e) => Check {
            ok: false,
            detail: e.to_string(),
        },
    };
    checks.insert("database", database);
    checks.insert("model", model_check(state));
    checks.insert("disk", disk_check(state));
    checks.insert("memory", memory_check(state));
    let failing: Vec<&'static str> = checks
        .iter()
        .filter(|(_, c)| !c.ok)
        .map(|(name, _)| *name)
        .collect();
    HealthReport {
        status: if failing.is_empty() { "ok" } else { "fail" },
        ok: failing.is_empty(),
        failing,
        checks,
    }
}

/// The champion is loaded, and no version an alias names failed to load.
fn model_check(state: &AppState) -> Check {
    let live = state.live();
    let failures = state.load_failures();
    let named: Vec<(&str, i64)> = [
        ("champion", live.aliases.champion),
        ("challenger", live.aliases.challenger),
    ]
    .into_iter()
    .filter_map(|(alias, v)| v.map(|v| (alias, v)))
    .collect();
    let broken: Vec<String> = named
        .iter()
        .filter_map(|(alias, v)| {
            failures
                .get(v)
                .map(|reason| format!("{alias} v{v} cannot be loaded: {reason}"))
        })
        .collect();
    match &live.champion {
        Some(c) if broken.is_empty() => Check {
            ok: true,
            detail: format!("champion v{} loaded", c.version),
        },
        Some(c) => Check {
            ok: false,
            detail: format!("serving v{}; {}", c.version, broken.join("; ")),
        },
        None if !broken.is_empty() => Check {
            ok: false,
            detail: broken.join("; "),
        },
        None => Check {
            ok: false,
            detail: "no champion loaded: promote a version with `retention model promote`".into(),
        },
    }
}

/// Free space on the database's file system, against `--min-free-disk`.
fn disk_check(state: &AppState) -> Check {
    match database_free_bytes(&state.config.db) {
        Some(free) => {
            let mib = free / (1 << 20);
            Check {
                ok: mib >= state.config.min_free_disk_mib,
                detail: format!(
                    "{mib} MiB free on the database's file system (minimum {} MiB)",
                    state.config.min_free_disk_mib
                ),
            }
        }
        None => Check {
            ok: false,
            detail: "cannot read the free space of the database's file system".into(),
        },
    }
}

/// Resident memory, against `--max-memory`.
fn memory_check(state: &AppState) -> Check {
    match resident_bytes() {
        Some(rss) => {
            let mib = rss / (1 << 20);
            Check {
                ok: mib <= state.config.max_memory_mib,
                detail: format!(
                    "{mib} MiB resident (limit {} MiB)",
                    state.config.max_memory_mib
                ),
            }
        }
        // Not Linux: nothing to measure with, nothing to fail on.
        None => Check {
            ok: true,
            detail: "resident memory not measurable on this system".into(),
        },
    }
}

/// Bytes available to this user on the file system holding the database `db`.
/// (None for PostgreSQL: the server's disk is its own to watch.)
pub fn database_free_bytes(db: &Db) -> Option<u64> {
    let dir = retention_core::parent_dir(db.file()?);
    retention_core::free_bytes(&dir)
}

/// This process's resident set size, from /proc (Linux).
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_space_and_memory_are_measured() {
        assert!(database_free_bytes(&Db::File("x.db".into())).is_some_and(|b| b > 0));
        assert!(database_free_bytes(&Db::File("/no/such/dir/x.db".into())).is_none());
        assert!(database_free_bytes(&Db::Postgres("postgres://h/db".into())).is_none());
        assert!(resident_bytes().is_some_and(|b| b > 0));
    }
}
