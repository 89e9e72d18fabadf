//! The structural checks of a model read from a file: whatever a file holds, a model that
//! passes them scores without panicking or looping.

use std::collections::HashSet;
use std::path::Path;

use super::{ChurnModel, shown_number};
use crate::data::{Role, Schema};
use crate::error::{Error, Result, excerpt};

impl ChurnModel {
    /// Checks the whole structure of a model, as loading does before it returns one: the schema
    /// (column names unique, at most one target and one id), the pipeline against the schema
    /// (see the pipeline's checks), the estimator against the pipeline's inputs (coefficients
    /// per input, trees acyclic with depth at most
    /// [`MAX_TREE_DEPTH`](crate::estimators::tree::MAX_TREE_DEPTH), indices in range), the
    /// calibrator (finite, monotone), a finite threshold in [0, 1] and tiers with
    /// 0 < medium < high < 1. `path` names the model in the error.
    ///
    /// # Errors
    /// [`Error::CorruptArtifact`] naming the first thing wrong, e.g.
    /// `estimator: gradient boosting: tree 3 node 17: child 17 is not after its parent`.
    pub fn validate(&self, path: &Path) -> Result<()> {
        self.defect().map_or(Ok(()), |reason| {
            Err(Error::CorruptArtifact {
                path: path.to_path_buf(),
                reason,
            })
        })
    }

    /// What is wrong with the model's structure, if anything (see [`ChurnModel::validate`]).
    fn defect(&self) -> Option<String> {
        let checks = || -> std::result::Result<(), String> {
            check_schema(&self.schema).map_err(|e| format!("schema: {e}"))?;
            self.pipeline
                .check(&self.schema)
                .map_err(|e| format!("pipeline: {e}"))?;
            self.estimator
                .check(self.pipeline.n_outputs())
                .map_err(|e| format!("estimator: {e}"))?;
            self.calibrator
                .check()
                .map_err(|e| format!("calibrator: {e}"))?;
            if !(0.0..=1.0).contains(&self.threshold) {
                return Err(format!(
                    "threshold {} is not a probability in [0, 1]",
                    shown_number(self.threshold)
                ));
            }
            self.tiers.check().map_err(|e| match e {
                Error::InvalidParameter { reason, .. } => format!("risk tiers: {reason}"),
                other => format!("risk tiers: {other}"),
            })
        };
        checks().err()
    }
}

/// The schema's own rules: column names unique, at most one target and one id.
fn check_schema(schema: &Schema) -> std::result::Result<(), String> {
    let mut seen: HashSet<&str> = HashSet::with_capacity(schema.columns.len());
    if let Some(c) = schema
        .columns
        .iter()
        .find(|c| !seen.insert(c.name.as_str()))
    {
        return Err(format!("column '{}' is listed twice", excerpt(&c.name)));
    }
    for role in [Role::Target, Role::Id] {
        let n = schema.columns.iter().filter(|c| c.role == role).count();
        if n > 1 {
            return Err(format!(
                "{n} columns have the {} role; a model has at most one",
                role.as_str()
            ));
        }
    }
    Ok(())
}
