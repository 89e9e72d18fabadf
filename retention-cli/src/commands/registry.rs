//! Resolving `--model` (a file or a registry reference) and who is acting.

use std::path::Path;

use anyhow::{Context, Result, bail};
use retention_core::lifecycle::{Deployed, ModelRef, Router};
use retention_core::prelude::*;
use retention_core::store::Store;

/// The model named by `--model`, and its registry version when it came from the registry.
pub fn resolve(db: &Path, spec: &str) -> Result<(ChurnModel, Option<i64>)> {
    match ModelRef::parse(spec) {
        ModelRef::File(path) => Ok((ChurnModel::load(&path)?, None)),
        reference => {
            let store = open_existing(db)?;
            let version = version_of(&store, &reference)?;
            Ok((store.load_model(version)?, Some(version)))
        }
    }
}

/// The version a registry reference points at.
pub fn version_of(store: &Store, reference: &ModelRef) -> Result<i64> {
    let aliases = store.aliases()?;
    let db = store.path().display();
    match reference {
        ModelRef::Version(v) => Ok(store.version_info(*v)?.version),
        ModelRef::Champion => aliases.champion.with_context(|| {
            format!("{db} has no champion yet: promote a version with `retention model promote`")
        }),
        ModelRef::Challenger => aliases.challenger.with_context(|| {
            format!("{db} has no challenger: start an A/B test with `retention model ab`")
        }),
        ModelRef::File(p) => bail!("{} is a file, not a registry reference", p.display()),
    }
}

/// A registry reference given on the command line (`3`, `v3`, `champion`, `challenger`).
pub fn parse_reference(spec: &str) -> Result<ModelRef> {
    let r = ModelRef::parse(spec);
    if !r.is_registry() {
        bail!("{spec:?} is not a version: use a number (3 or v3), champion or challenger");
    }
    Ok(r)
}

/// Champion and challenger as the store routes them.
pub fn router(db: &Path) -> Result<Router> {
    let store = open_existing(db).context(
        "no --model given, so the registry's champion is used, but there is no database",
    )?;
    let aliases = store.aliases()?;
    let Some(champion) = aliases.champion else {
        bail!(
            "no --model given and {} has no champion: pass --model FILE or promote a version",
            db.display()
        );
    };
    let challenger = match aliases.challenger {
        Some(v) if aliases.split > 0.0 => Some((
            Deployed {
                version: v,
                model: store.load_model(v)?,
            },
            aliases.split,
        )),
        _ => None,
    };
    Ok(Router {
        champion: Deployed {
            version: champion,
            model: store.load_model(champion)?,
        },
        challenger,
    })
}

/// Opens a database that must already exist.
pub fn open_existing(db: &Path) -> Result<Store> {
    Store::open_existing(db).with_context(|| {
        format!(
            "database {} (set --db or RETENTION_DB; `retention model register` creates one)",
            db.display()
        )
    })
}

/// Who is acting, for the audit log: `RETENTION_ACTOR`, else the login name.
pub fn actor() -> String {
    std::env::var("RETENTION_ACTOR")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".into())
}
