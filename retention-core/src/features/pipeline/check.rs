//! Checking a pipeline read from a model file against the model's schema.

use std::collections::{HashMap, HashSet};

use super::{Encoder, FittedPipeline};
use crate::data::{Role, Schema};
use crate::error::{Error, excerpt as shown};
use crate::model::shown_number as num;

impl FittedPipeline {
    /// Checks a pipeline read from a model file against the model's schema: the derived
    /// features valid against the schema's feature columns (as when training); exactly one
    /// encoder per feature column and derived feature, of the column's kind; numeric encoders
    /// with finite median and mean and a finite positive scale; categorical levels unique; one
    /// output per encoder output, named after its encoder's column; training means finite, one
    /// per output (or none, as files from before they were kept). Returns what is wrong.
    pub(crate) fn check(&self, schema: &Schema) -> std::result::Result<(), String> {
        let features: HashMap<&str, Role> = schema
            .columns
            .iter()
            .filter(|c| c.role.is_feature())
            .map(|c| (c.name.as_str(), c.role))
            .collect();
        let added = self
            .spec
            .validate("the model", |c| features.get(c).copied())
            .map_err(|e| match e {
                Error::FeatureSpec { reason, .. } => format!("derived features: {reason}"),
                other => format!("derived features: {other}"),
            })?;
        let mut expected: HashMap<&str, Role> = features.clone();
        expected.extend(added.iter().map(|(n, r)| (n.as_str(), *r)));
        let mut encoded: HashSet<&str> = HashSet::with_capacity(self.encoders.len());
        let mut width = 0usize;
        for enc in &self.encoders {
            check_encoder(enc, &expected, &mut encoded)?;
            width = width.saturating_add(enc.width());
        }
        if let Some(missing) = schema
            .feature_names()
            .into_iter()
            .chain(added.iter().map(|(n, _)| n.as_str()))
            .find(|c| !encoded.contains(c))
        {
            return Err(format!(
                "feature column '{}' has no encoder",
                shown(missing)
            ));
        }
        self.check_outputs(width)
    }

    /// The outputs and input means against the `width` inputs the encoders make.
    fn check_outputs(&self, width: usize) -> std::result::Result<(), String> {
        if self.outputs.len() != width {
            return Err(format!(
                "{} input name(s), but the encoders make {width} input(s)",
                self.outputs.len()
            ));
        }
        let sources = self
            .encoders
            .iter()
            .flat_map(|e| std::iter::repeat_n(e.column(), e.width()));
        if let Some((j, o)) = self
            .outputs
            .iter()
            .zip(sources)
            .enumerate()
            .find_map(|(j, (o, s))| (o.source != s).then_some((j, o)))
        {
            return Err(format!(
                "input {j} ('{}') comes from column '{}', not from its encoder's",
                shown(&o.name),
                shown(&o.source)
            ));
        }
        if !(self.input_means.is_empty() || self.input_means.len() == width) {
            return Err(format!(
                "{} input mean(s) for {width} input(s)",
                self.input_means.len()
            ));
        }
        if let Some(j) = self.input_means.iter().position(|m| !m.is_finite()) {
            return Err(format!(
                "the mean of input {j} ({}) is not finite",
                num(self.input_means[j])
            ));
        }
        Ok(())
    }
}

/// One encoder: of a column the schema expects (as a feature or a derived feature), of that
/// column's kind, not seen before (recorded in `encoded`), with sound figures.
fn check_encoder<'a>(
    enc: &'a Encoder,
    expected: &HashMap<&str, Role>,
    encoded: &mut HashSet<&'a str>,
) -> std::result::Result<(), String> {
    let column = enc.column();
    let at = || format!("encoder of column '{}'", shown(column));
    let kind = match enc {
        Encoder::Numeric { .. } => Role::Numeric,
        Encoder::Categorical { .. } => Role::Categorical,
    };
    match expected.get(column) {
        None => {
            return Err(format!(
                "{}: the schema has no feature column (or derived feature) of that name",
                at()
            ));
        }
        Some(&role) if role != kind => {
            return Err(format!(
                "{}: encodes a {} column, but the column is {}",
                at(),
                kind.as_str(),
                role.as_str()
            ));
        }
        Some(_) => {}
    }
    if !encoded.insert(column) {
        return Err(format!("{}: the column is encoded twice", at()));
    }
    match enc {
        Encoder::Numeric {
            median,
            mean,
            scale,
            ..
        } => {
            if !(median.is_finite() && mean.is_finite()) {
                return Err(format!(
                    "{}: median {} and mean {} must be finite",
                    at(),
                    num(*median),
                    num(*mean)
                ));
            }
            if !(scale.is_finite() && *scale > 0.0) {
                return Err(format!(
                    "{}: scale {} is not a finite positive number",
                    at(),
                    num(*scale)
                ));
            }
        }
        Encoder::Categorical { levels, .. } => {
            let mut seen: HashSet<&str> = HashSet::with_capacity(levels.len());
            if let Some(level) = levels.iter().find(|l| !seen.insert(l.as_str())) {
                return Err(format!(
                    "{}: level '{}' is listed twice",
                    at(),
                    shown(level)
                ));
            }
        }
    }
    Ok(())
}
