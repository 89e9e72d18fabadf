//! What the commands over the store share: resolving `--model` (a file or a registry
//! reference), opening the database, who is acting, and the exit status of a failed check.

use retention_core::store::Db;
use std::path::Path;

use anyhow::{Context, Result};
use retention_core::lifecycle::{ModelRef, Router};
use retention_core::prelude::*;
use retention_core::registry;
use retention_core::store::Store;

/// The model named by `--model`, and its registry version when it came from the registry.
pub fn resolve(db: &Db, spec: &str) -> Result<(ChurnModel, Option<i64>)> {
    match ModelRef::parse(spec) {
        ModelRef::File(path) => Ok((ChurnModel::load(&path)?, None)),
        reference => {
            let store = open_existing(db)?;
            let version = version_of(&store, &reference)?;
            Ok((store.load_model(version)?, Some(version)))
        }
    }
}

/// The model file a `--model` argument names, when it names a file rather than a registry
/// reference (an input that no output of the command may overwrite).
pub fn model_file(spec: &str) -> Option<std::path::PathBuf> {
    match ModelRef::parse(spec) {
        ModelRef::File(path) => Some(path),
        _ => None,
    }
}

/// Refuses an output (the core parameter `field`, e.g. `output` for `--out`) that is one of the
/// command's inputs: its data files, the model file `--model` names, and the database.
pub fn refuse_output_over_inputs(
    field: &str,
    output: &Path,
    data: &[&Path],
    model: Option<&str>,
    db: &Db,
) -> Result<()> {
    let model = model.and_then(model_file);
    let mut inputs: Vec<&Path> = data.to_vec();
    inputs.extend(model.as_deref());
    inputs.extend(db.file());
    Ok(retention_core::refuse_output_over_inputs(
        field, output, &inputs,
    )?)
}

/// The version a registry reference points at.
pub fn version_of(store: &Store, reference: &ModelRef) -> Result<i64> {
    Ok(registry::version_of(store, reference)?)
}

/// A registry reference given on the command line (`3`, `v3`, `champion`, `challenger`).
pub fn parse_reference(spec: &str) -> Result<ModelRef> {
    Ok(registry::parse_reference(spec)?)
}

/// Champion and challenger as the store routes them.
pub fn router(db: &Db) -> Result<Router> {
    let store = open_existing(db).context(
        "no --model given, so the registry's champion is used, but there is no database",
    )?;
    registry::router(&store).map_err(|e| match e {
        retention_core::Error::Registry(_) => anyhow::anyhow!(
            "no --model given and {} has no champion: pass --model FILE or promote a version",
            db
        ),
        other => other.into(),
    })
}

/// Opens a database that must already exist.
pub fn open_existing(db: &Db) -> Result<Store> {
    Store::open_existing(db).with_context(|| {
        format!(
            "database {} (set --db or RETENTIONAI_DB; `retention model register` creates one)",
            db
        )
    })
}

/// Who is acting, for the audit log: `RETENTIONAI_ACTOR`, else the login name.
pub fn actor() -> String {
    retention_core::store::default_actor()
}

/// Exit status when a check ran and failed (validation gate, database check, incomplete backup).
pub const CHECK_FAILED: u8 = 3;

/// Warns when the database file may be read by other users.
pub fn warn_if_shared(store: &Store) {
    if let Some(w) = store.permission_warning() {
        crate::output::warn(&w);
    }
}
