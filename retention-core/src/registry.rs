//! Registry operations over the [`Store`]: resolving a reference, validating a version, promoting
//! it through the gate, A/B tests and rollback. The rules live in [`crate::lifecycle`]; this is
//! the one place that applies them to a database, for the CLI, the Python module and the web app.

mod compare;
mod scoring;

pub use compare::{Comparison, VariantReadout, compare};
pub use scoring::{PredictionLog, Scorer, score_and_log};

use polars::prelude::DataFrame;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, mention};
use crate::lifecycle::{self, Deployed, Gate, GateCheck, ModelRef, Router};
use crate::store::{self, Promotion, PromotionAction, Store, StoredReport, Validation};

/// The version a registry reference points at.
///
/// # Errors
/// [`Error::Registry`] when the alias is not set or the reference is a file, [`Error::Store`]
/// for an unknown version.
pub fn version_of(store: &Store, reference: &ModelRef) -> Result<i64> {
    let aliases = store.aliases()?;
    let db = store.db();
    match reference {
        ModelRef::Version(v) => Ok(store.version_info(*v)?.version),
        ModelRef::Champion => aliases.champion.ok_or_else(|| {
            Error::Registry(format!(
                "{db} has no champion yet: promote a version with {}",
                mention("model promote")
            ))
        }),
        ModelRef::Challenger => aliases.challenger.ok_or_else(|| {
            Error::Registry(format!(
                "{db} has no challenger: start an A/B test with {}",
                mention("model ab")
            ))
        }),
        ModelRef::File(p) => Err(Error::Registry(format!(
            "{} is a file, not a registry reference",
            p.display()
        ))),
    }
}

/// A registry reference as a user writes it (`3`, `v3`, `champion`, `challenger`).
///
/// # Errors
/// [`Error::Registry`] for anything else.
pub fn parse_reference(spec: &str) -> Result<ModelRef> {
    let r = ModelRef::parse(spec);
    if !r.is_registry() {
        return Err(Error::Registry(format!(
            "{spec:?} is not a version: use a number (3 or v3), champion or challenger"
        )));
    }
    Ok(r)
}

/// Champion and challenger as the store routes them.
///
/// # Errors
/// [`Error::Registry`] when there is no champion; what loading a model refuses.
pub fn router(store: &Store) -> Result<Router> {
    let aliases = store.aliases()?;
    let Some(champion) = aliases.champion else {
        return Err(Error::Registry(format!(
            "{} has no champion: name a model or promote a version",
            store.db()
        )));
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

/// A labelled holdout: the raw table and, when read from a file, its SHA-256 (two validations
/// are comparable only on the same holdout).
#[derive(Debug, Clone, Copy)]
pub struct Holdout<'a> {
    /// The table, as read.
    pub frame: &'a DataFrame,
    /// SHA-256 of its file, when it came from one.
    pub sha256: Option<&'a str>,
}

/// Validates a version on a holdout against the gate (and the champion's inputs) and records
/// the result.
///
/// # Errors
/// What loading, evaluating or the store refuses.
pub fn validate_version(
    store: &mut Store,
    version: i64,
    holdout: Holdout<'_>,
    gate: &Gate,
    actor: &str,
) -> Result<Validation> {
    let model = store.load_model(version)?;
    let champion = match store.aliases()?.champion {
        Some(c) if c != version => Some(store.load_model(c)?),
        _ => None,
    };
    let report = lifecycle::validate(&model, holdout.frame, champion.as_ref(), gate)?;
    let validation = Validation {
        version,
        at: store::now_rfc3339(),
        data_sha256: holdout.sha256.map(str::to_string),
        rows: report.metrics.rows as i64,
        roc_auc: report.metrics.roc_auc,
        accuracy: report.metrics.accuracy,
        passed: report.passed,
        report: StoredReport::of(&report)?,
    };
    store.record_validation(&validation, actor)?;
    Ok(validation)
}

/// What a promotion did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromotionOutcome {
    /// The new champion.
    pub version: i64,
    /// The champion before, if any.
    pub previous: Option<i64>,
    /// The gate's checks.
    pub checks: Vec<GateCheck>,
    /// Whether a failing gate was overridden.
    pub forced: bool,
}

/// Promotes a version (the challenger by default) to champion when it passes the gate: a passing
/// validation (run now on `holdout`, or the latest recorded) that beats the champion's on the
/// same holdout by the gate's margin. `force` overrides a failing gate and needs a reason; both
/// are recorded.
///
/// # Errors
/// [`Error::Registry`] when the gate refuses (naming each failed check), the version is already
/// the champion, or `force` comes without a reason; what validation or the store refuse.
pub fn promote(
    store: &mut Store,
    reference: &ModelRef,
    holdout: Option<Holdout<'_>>,
    gate: &Gate,
    force: bool,
    reason: Option<&str>,
    actor: &str,
) -> Result<PromotionOutcome> {
    let candidate = version_of(store, reference)?;
    let aliases = store.aliases()?;
    if aliases.champion == Some(candidate) {
        return Err(Error::Registry(format!(
            "version {candidate} is already the champion"
        )));
    }
    if force && reason.is_none_or(|r| r.trim().is_empty()) {
        return Err(Error::Registry(format!(
            "{} needs a {} (it is recorded with the promotion)",
            mention("force"),
            mention("reason")
        )));
    }
    // Whatever the gate says, a version whose model does not load (an unsound artifact stored by
    // an earlier release) never becomes the champion.
    store.load_model(candidate)?;
    let mut checks: Vec<GateCheck> = Vec::new();
    let validation = match holdout {
        Some(h) => Some(validate_version(store, candidate, h, gate, actor)?),
        None => store.latest_validation(candidate)?,
    };
    checks.push(validation_check(
        validation.as_ref(),
        &format!(
            "run {} or pass {}",
            mention("model validate"),
            mention("data")
        ),
    ));
    if let (Some(champion), Some(v)) = (aliases.champion, &validation) {
        let theirs = match holdout {
            Some(h) => Some(validate_version(store, champion, h, gate, actor)?),
            None => store
                .latest_validation(champion)?
                .filter(|c| c.data_sha256 == v.data_sha256),
        };
        checks.push(match theirs {
            Some(c) => lifecycle::beats_champion(v.roc_auc, c.roc_auc, gate),
            None => GateCheck {
                name: "beats_champion".into(),
                passed: false,
                detail: format!(
                    "champion (version {champion}) has no validation on the same holdout: pass {}",
                    mention("data")
                ),
            },
        });
    }
    let passed = checks.iter().all(|c| c.passed);
    if !passed && !force {
        return Err(Error::Registry(format!(
            "promotion of version {candidate} refused: {} (use {} {} \"…\" to override)",
            failed_checks(&checks),
            mention("force"),
            mention("reason")
        )));
    }
    let mut e = event(
        actor,
        PromotionAction::Promote,
        aliases.champion,
        Some(candidate),
        reason.unwrap_or("gate passed"),
    );
    e.gate = serde_json::to_value(&checks)?;
    e.forced = !passed;
    // The challenger that wins stops being a challenger.
    let challenger = (aliases.challenger == Some(candidate)).then_some((None, 0.0));
    store.change_aliases(Some(candidate), challenger, &e)?;
    Ok(PromotionOutcome {
        version: candidate,
        previous: aliases.champion,
        checks,
        forced: !passed,
    })
}

/// The gate check of a version's latest validation: passed when it passed; `hint` says what to
/// do when there is none.
fn validation_check(validation: Option<&Validation>, hint: &str) -> GateCheck {
    match validation {
        Some(v) => GateCheck {
            name: "validation".into(),
            passed: v.passed,
            detail: format!(
                "{} with ROC-AUC {:.4}, accuracy {:.4} on {} rows ({})",
                if v.passed { "passed" } else { "failed" },
                v.roc_auc,
                v.accuracy,
                v.rows,
                v.at
            ),
        },
        None => GateCheck {
            name: "validation".into(),
            passed: false,
            detail: format!("never validated: {hint}"),
        },
    }
}

/// The failed checks of a gate, in words.
pub fn failed_checks(checks: &[GateCheck]) -> String {
    checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| format!("{}: {}", c.name, c.detail))
        .collect::<Vec<_>>()
        .join("; ")
}

/// What starting an A/B test did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AbOutcome {
    /// The challenger now serving `split` of customers.
    pub challenger: i64,
    /// The champion serving the others.
    pub champion: i64,
    /// Share of customers routed to the challenger.
    pub split: f64,
    /// The gate's checks (the challenger's latest validation).
    pub checks: Vec<GateCheck>,
    /// Whether a failing gate was overridden.
    pub forced: bool,
}

/// Starts (or changes) an A/B test: `split` of customers, chosen by a stable hash of their id,
/// go to the challenger. As for a promotion, the challenger's model must load and its latest
/// validation must have passed; `force` overrides a missing or failed validation (not an
/// unsound model) and needs a reason; both are recorded with the event.
///
/// # Errors
/// [`Error::InvalidParameter`] for a split outside [0, 1]; [`Error::Registry`] when there is no
/// champion, the challenger is the champion, the gate refuses (naming the failed check) or
/// `force` comes without a reason; [`Error::CorruptArtifact`] when the challenger's model is
/// unsound.
pub fn start_ab(
    store: &mut Store,
    reference: &ModelRef,
    split: f64,
    force: bool,
    reason: Option<&str>,
    actor: &str,
) -> Result<AbOutcome> {
    if !(0.0..=1.0).contains(&split) {
        return Err(Error::param(
            "split",
            format!("{split} must be between 0 and 1"),
        ));
    }
    if force && reason.is_none_or(|r| r.trim().is_empty()) {
        return Err(Error::Registry(format!(
            "{} needs a {} (it is recorded with the A/B test)",
            mention("force"),
            mention("reason")
        )));
    }
    let challenger = version_of(store, reference)?;
    let aliases = store.aliases()?;
    let Some(champion) = aliases.champion else {
        return Err(Error::Registry(format!(
            "{} has no champion to test against: promote one first",
            store.db()
        )));
    };
    if challenger == champion {
        return Err(Error::Registry(format!(
            "version {challenger} is already the champion"
        )));
    }
    store.load_model(challenger)?;
    let checks = vec![validation_check(
        store.latest_validation(challenger)?.as_ref(),
        &format!("run {} first", mention("model validate")),
    )];
    let passed = checks.iter().all(|c| c.passed);
    if !passed && !force {
        return Err(Error::Registry(format!(
            "A/B test with version {challenger} refused: {} (use {} {} \"…\" to override)",
            failed_checks(&checks),
            mention("force"),
            mention("reason")
        )));
    }
    let mut e = event(
        actor,
        PromotionAction::AbStart,
        aliases.challenger,
        Some(challenger),
        &match reason {
            Some(r) if !r.trim().is_empty() => format!("split {split}: {r}"),
            _ => format!("split {split}"),
        },
    );
    e.gate = serde_json::to_value(&checks)?;
    e.forced = !passed;
    store.change_aliases(None, Some((Some(challenger), split)), &e)?;
    Ok(AbOutcome {
        challenger,
        champion,
        split,
        checks,
        forced: !passed,
    })
}

/// Stops the running A/B test; returns the challenger it stopped.
///
/// # Errors
/// [`Error::Registry`] when no test is running.
pub fn stop_ab(store: &mut Store, actor: &str) -> Result<i64> {
    let Some(challenger) = store.aliases()?.challenger else {
        return Err(Error::Registry(format!(
            "no A/B test is running in {}",
            store.db()
        )));
    };
    store.change_aliases(
        None,
        Some((None, 0.0)),
        &event(
            actor,
            PromotionAction::AbStop,
            Some(challenger),
            None,
            "A/B test stopped",
        ),
    )?;
    Ok(challenger)
}

/// Makes the champion before the current one the champion again. Returns (restored, replaced).
///
/// # Errors
/// [`Error::Registry`] when there is no champion or it has no predecessor.
pub fn rollback(store: &mut Store, reason: &str, actor: &str) -> Result<(i64, i64)> {
    let Some(current) = store.aliases()?.champion else {
        return Err(Error::Registry(format!(
            "{} has no champion to roll back",
            store.db()
        )));
    };
    let previous = store
        .promotions()?
        .iter()
        .rev()
        .find(|p| p.action.changes_champion() && p.to_version == Some(current))
        .and_then(|p| p.from_version)
        .ok_or_else(|| {
            Error::Registry(format!(
                "version {current} has no previous champion to roll back to"
            ))
        })?;
    store.change_aliases(
        Some(previous),
        None,
        &event(
            actor,
            PromotionAction::Rollback,
            Some(current),
            Some(previous),
            reason,
        ),
    )?;
    Ok((previous, current))
}

fn event(
    actor: &str,
    action: PromotionAction,
    from: Option<i64>,
    to: Option<i64>,
    reason: &str,
) -> Promotion {
    Promotion {
        at: store::now_rfc3339(),
        actor: actor.into(),
        action,
        from_version: from,
        to_version: to,
        reason: reason.into(),
        gate: serde_json::json!({}),
        forced: false,
    }
}
