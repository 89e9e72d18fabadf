//! Routed-and-logged scoring: what scores a table (one model, or champion and challenger by the
//! A/B split), and the batch its rows are logged under, for every front end.

use std::path::Path;

use polars::prelude::{DataFrame, DataType};

use crate::error::{Error, Result};
use crate::lifecycle::Router;
use crate::model::ChurnModel;
use crate::scoring::Scored;
use crate::store::Store;

/// What scores a table: one model (a file, or a registered version), or the registry's
/// champion and challenger by the A/B split.
#[derive(Debug, Clone)]
pub enum Scorer {
    /// One model for every row, with its registry version when it has one.
    Direct {
        /// The model.
        model: Box<ChurnModel>,
        /// Its registry version (`None` for a model file not registered).
        version: Option<i64>,
    },
    /// Champion and challenger, each row by the variant its customer id routes to.
    Routed(Box<Router>),
}

impl Scorer {
    /// Scores a raw table as [`ChurnModel::score_frame`] or [`Router::score_frame`] do.
    ///
    /// # Errors
    /// What scoring refuses.
    pub fn score_frame(
        &self,
        raw: &DataFrame,
        first_row: usize,
        keep: &[String],
    ) -> Result<Scored> {
        match self {
            Scorer::Direct { model, .. } => model.score_frame(raw, first_row, keep),
            Scorer::Routed(router) => router.score_frame(raw, first_row, keep),
        }
    }

    /// The decision threshold reported (the champion's when routed).
    pub fn threshold(&self) -> f64 {
        match self {
            Scorer::Direct { model, .. } => model.threshold,
            Scorer::Routed(router) => router.champion.model.threshold,
        }
    }

    /// The input columns the model(s) read (without the target).
    pub fn input_columns(&self) -> Vec<String> {
        match self {
            Scorer::Direct { model, .. } => model.input_columns(false),
            Scorer::Routed(router) => {
                let mut columns = router.champion.model.input_columns(false);
                if let Some((challenger, _)) = &router.challenger {
                    columns.extend(challenger.model.input_columns(false));
                }
                columns
            }
        }
    }

    /// The models that score, as a batch's identity names them: `v3`, or `v3+v4@0.1` while an
    /// A/B test routes 10 % of customers to version 4; `None` for an unregistered model file.
    pub fn identity(&self) -> Option<String> {
        match self {
            Scorer::Direct { version, .. } => version.map(|v| format!("v{v}")),
            Scorer::Routed(router) => Some(match &router.challenger {
                Some((c, split)) => format!("v{}+v{}@{split}", router.champion.version, c.version),
                None => format!("v{}", router.champion.version),
            }),
        }
    }

    /// The version rows are logged under when they do not name their own (the champion's
    /// when routed: routed rows carry their own version).
    pub fn log_version(&self) -> Option<i64> {
        match self {
            Scorer::Direct { version, .. } => *version,
            Scorer::Routed(router) => Some(router.champion.version),
        }
    }
}

/// The batch a scoring run's rows are logged under: re-logging the same batch skips the rows
/// already logged, so scoring the same input with the same models twice logs it once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PredictionLog {
    /// The batch id.
    pub batch_id: String,
    /// The version rows without their own are logged under.
    pub version: i64,
    /// Rows logged so far (rows already logged under the batch are not counted).
    pub logged: usize,
}

impl PredictionLog {
    /// Logging for a scored file: the batch id given, else one derived from the file's
    /// SHA-256 and the models that score ([`Scorer::identity`]).
    ///
    /// # Errors
    /// [`Error::Registry`] for a model file not registered; [`Error::Io`] when the file cannot
    /// be read.
    pub fn for_file(scorer: &Scorer, data: &Path, batch_id: Option<String>) -> Result<Self> {
        let (version, identity) = registered(scorer)?;
        let batch_id = match batch_id {
            Some(id) => id,
            None => {
                let data = crate::sha256_file(data)?;
                short_hash(format!("{data}:{identity}").as_bytes())
            }
        };
        Ok(PredictionLog {
            batch_id,
            version,
            logged: 0,
        })
    }

    /// Logging for a scored frame: the batch id given, else one derived from the customers'
    /// ids in order (the first column of `scored`) and the models that score.
    ///
    /// # Errors
    /// [`Error::Registry`] for a model file not registered; [`Error::Polars`] when the ids
    /// cannot be read as text.
    pub fn for_frame(
        scorer: &Scorer,
        scored: &DataFrame,
        batch_id: Option<String>,
    ) -> Result<Self> {
        let (version, identity) = registered(scorer)?;
        let batch_id = match batch_id {
            Some(id) => id,
            None => {
                let mut text = identity.into_bytes();
                if let Some(first) = scored.columns().first() {
                    let ids = first.cast(&DataType::String)?;
                    for id in ids.str()?.iter() {
                        text.push(b'\n');
                        text.extend_from_slice(id.unwrap_or_default().as_bytes());
                    }
                }
                short_hash(&text)
            }
        };
        Ok(PredictionLog {
            batch_id,
            version,
            logged: 0,
        })
    }

    /// Logs a scored frame (rows `first_row`…) under this batch; returns the rows inserted.
    ///
    /// # Errors
    /// As [`Store::log_scored`].
    pub fn log(
        &mut self,
        store: &mut Store,
        first_row: usize,
        scored: &DataFrame,
    ) -> Result<usize> {
        let n = store.log_scored(&self.batch_id, self.version, first_row, scored)?;
        self.logged += n;
        Ok(n)
    }
}

/// The version to log under and the identity of a scorer whose rows can be logged.
fn registered(scorer: &Scorer) -> Result<(i64, String)> {
    match (scorer.log_version(), scorer.identity()) {
        (Some(v), Some(identity)) => Ok((v, identity)),
        _ => Err(Error::Registry(
            "a model file's predictions are logged under its registry version: register it first"
                .into(),
        )),
    }
}

/// The first 16 hex digits of a SHA-256: a batch id.
fn short_hash(bytes: &[u8]) -> String {
    crate::sha256_hex(bytes)[..16].to_string()
}

/// Scores a frame with the store's champion (and its challenger for its share of customers
/// while an A/B test runs), adding `model_version` and `variant`, and logs every row when `log`
/// under `batch_id` or, without one, a batch id derived from the customers and the models
/// ([`PredictionLog::for_frame`]). Returns the scored frame and the warnings of scoring.
///
/// # Errors
/// What routing ([`super::router`]), scoring or logging refuse.
pub fn score_and_log(
    store: &mut Store,
    raw: &DataFrame,
    keep: &[String],
    log: bool,
    batch_id: Option<String>,
) -> Result<(DataFrame, Vec<String>)> {
    let scorer = Scorer::Routed(Box::new(super::router(store)?));
    let (scored, unseen, mut warnings) = scorer.score_frame(raw, 0, keep)?;
    warnings.extend(unseen.messages());
    if log {
        PredictionLog::for_frame(&scorer, &scored, batch_id)?.log(store, 0, &scored)?;
    }
    Ok((scored, warnings))
}
