//! The A/B readout: every version that served as champion or challenger, compared by what it
//! logged against the outcomes that followed.

use std::collections::HashMap;

use polars::prelude::DataFrame;
use serde::{Deserialize, Serialize};

use crate::data::clean;
use crate::error::{Error, Result, mention};
use crate::lifecycle::Variant;
use crate::metrics::Metrics;
use crate::store::Store;

/// One variant's readout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantReadout {
    /// `champion` or `challenger`.
    pub variant: Variant,
    /// The version serving it.
    pub version: i64,
    /// Customers it scored that have an outcome (each by its latest logged prediction).
    pub customers: usize,
    /// Of those, the customers who churned.
    pub churned: usize,
    /// ROC-AUC of its logged probabilities, when both outcomes occur.
    pub roc_auc: Option<f64>,
    /// Accuracy at its model's threshold, when both outcomes occur.
    pub accuracy: Option<f64>,
}

/// What [`compare`] found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Customers with an outcome in the outcome table.
    pub outcomes: usize,
    /// The champion's readout, then the challenger's while an A/B test runs.
    pub variants: Vec<VariantReadout>,
}

/// Compares the champion and the challenger (while an A/B test runs) by what each logged:
/// each customer's latest logged probability from a version is joined with the outcome table's
/// target by id (`id` and `target` default to the champion's id and target columns, read with
/// its labels). `outcomes` reads the table; it is called once the champion's schema is known.
///
/// # Errors
/// [`Error::Registry`] when there is no champion, no id or target column is named or known, or
/// the champion has no target labels; [`Error::ColumnNotFound`] for a column the outcome table
/// lacks; what reading the table, the store or loading a model refuse.
pub fn compare(
    store: &Store,
    outcomes: impl FnOnce() -> Result<DataFrame>,
    target: Option<&str>,
    id: Option<&str>,
) -> Result<Comparison> {
    let aliases = store.aliases()?;
    let champion = aliases
        .champion
        .ok_or_else(|| Error::Registry(format!("{} has no champion", store.db())))?;
    let model = store.load_model(champion)?;
    let schema = &model.schema;
    let id = id.or(schema.id()).ok_or_else(|| {
        Error::Registry(format!(
            "the champion has no id column: name the outcome table's with {}",
            mention("id")
        ))
    })?;
    let target = target.or(schema.target()).ok_or_else(|| {
        Error::Registry(format!(
            "name the outcome column with {}",
            mention("target")
        ))
    })?;
    let (Some(pos), Some(neg)) = (&schema.positive_label, &schema.negative_label) else {
        return Err(Error::Registry(
            "the champion's schema has no target labels".into(),
        ));
    };
    let raw = outcomes()?;
    let available = crate::data::column_names(&raw);
    let column = |name: &str| {
        raw.column(name)
            .map_err(|_| Error::column_not_found(name, " in the outcome table", &available))
    };
    let ids = clean::to_text(column(id)?)?;
    let y = clean::to_target(column(target)?, pos, neg, 0)?;
    let outcome: HashMap<&str, bool> = ids
        .iter()
        .zip(y)
        .filter_map(|(i, y)| i.map(|i| (i, y)))
        .collect();
    let mut variants = vec![readout(store, champion, Variant::Champion, &outcome)?];
    if let Some(challenger) = aliases.challenger {
        variants.push(readout(store, challenger, Variant::Challenger, &outcome)?);
    }
    Ok(Comparison {
        outcomes: outcome.len(),
        variants,
    })
}

/// One version's logged predictions joined with the outcomes.
fn readout(
    store: &Store,
    version: i64,
    variant: Variant,
    outcome: &HashMap<&str, bool>,
) -> Result<VariantReadout> {
    let threshold = store.load_model(version)?.threshold;
    let mut latest: HashMap<String, f64> = HashMap::new();
    for p in store.predictions_by_version(version)? {
        latest.insert(p.customer_id, p.probability);
    }
    let (mut ys, mut ps) = (Vec::new(), Vec::new());
    for (customer, p) in &latest {
        if let Some(&y) = outcome.get(customer.as_str()) {
            ys.push(y);
            ps.push(*p);
        }
    }
    let metrics = if ys.iter().any(|y| *y) && ys.iter().any(|y| !*y) {
        Some(Metrics::compute(&ys, &ps, threshold)?)
    } else {
        None
    };
    Ok(VariantReadout {
        variant,
        version,
        customers: ys.len(),
        churned: ys.iter().filter(|y| **y).count(),
        roc_auc: metrics.as_ref().map(|m| m.roc_auc),
        accuracy: metrics.as_ref().map(|m| m.accuracy),
    })
}
