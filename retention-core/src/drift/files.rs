//! Drift between two files, streamed: each table is read in batches (CSV blocks, Parquet row
//! groups) and each batch is summarised and merged into its table's [`TableSummary`], as Spark's
//! partitions are. Memory holds one batch per table and the two summaries, whatever the files'
//! sizes; the report is the one [`DriftReport::compute`] gives on the whole tables (the
//! summaries are exact until a numeric column passes [`summary::DEFAULT_CAPACITY`] distinct
//! values, and then carry their error bounds).

use std::path::Path;

use super::report::{DriftOptions, DriftPlan, DriftReport, no_rows};
use super::summary::{self, TableSummary};
use crate::data::{self, TableBatches};
use crate::error::Result;
use crate::model::ChurnModel;

/// Bytes of CSV text per batch (a whole number of records).
pub const BLOCK_BYTES: usize = 8 << 20;
/// Rows per Parquet batch.
pub const BATCH_ROWS: usize = 65_536;

/// What [`compute_files`] tells as it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileProgress {
    /// Rows of the reference and the current table summarised so far.
    Rows(usize, usize),
}

/// Compares two customer files in bounded memory. With a model, the compared columns are its
/// inputs (only those are decoded from Parquet) and its predictions are compared too; without
/// one, the roles are inferred from the reference's first batch (about 8 MB of CSV, or 65,536
/// Parquet rows), as `retention.spark.drift` infers them from the first rows.
///
/// Returns the report and what reading left out of the files (their notes, deduplicated).
///
/// # Errors
/// What reading the files refuses (naming the row), what [`DriftReport::compute`] refuses, and
/// [`crate::Error::InvalidData`] for a table without rows.
pub fn compute_files(
    reference: &Path,
    current: &Path,
    model: Option<&ChurnModel>,
    options: &DriftOptions,
    progress: &(dyn Fn(FileProgress) + Sync),
) -> Result<(DriftReport, Vec<String>)> {
    options.check()?;
    let columns = model.map(|m| m.input_columns(true));
    let mut ref_batches =
        TableBatches::open_columns(reference, BLOCK_BYTES, BATCH_ROWS, columns.as_deref())?;
    let mut cur_batches =
        TableBatches::open_columns(current, BLOCK_BYTES, BATCH_ROWS, columns.as_deref())?;
    let first = ref_batches.next_batch()?;
    let schema = match (model, &first) {
        (Some(m), _) => m.schema.clone(),
        (None, Some((_, frame))) => data::infer_schema(frame, &options.schema)?,
        (None, None) => return Err(no_rows("reference")),
    };
    let plan = DriftPlan::new(
        &schema,
        ref_batches.columns(),
        cur_batches.columns(),
        model.is_some(),
    )?;
    let done = std::sync::Mutex::new((0usize, 0usize));
    let tell = |side: usize, rows: usize| {
        if let Ok(mut d) = done.lock() {
            if side == 0 {
                d.0 = rows;
            } else {
                d.1 = rows;
            }
            progress(FileProgress::Rows(d.0, d.1));
        }
    };
    let (r, c) = rayon::join(
        || summarise(&mut ref_batches, first, &plan, model, &|n| tell(0, n)),
        || summarise(&mut cur_batches, None, &plan, model, &|n| tell(1, n)),
    );
    // from_summaries refuses a side without rows.
    let report = DriftReport::from_summaries(&plan, &r?, &c?, model, options)?;
    let mut notes: Vec<String> = ref_batches
        .notes()
        .iter()
        .chain(cur_batches.notes())
        .cloned()
        .collect();
    notes.sort();
    notes.dedup();
    Ok((report, notes))
}

/// One table's summary, batch by batch (`first` is a batch already read).
fn summarise(
    batches: &mut TableBatches,
    first: Option<(usize, polars::prelude::DataFrame)>,
    plan: &DriftPlan,
    model: Option<&ChurnModel>,
    rows: &(dyn Fn(usize) + Sync),
) -> Result<TableSummary> {
    let mut total: Option<TableSummary> = None;
    let mut next = match first {
        Some(batch) => Some(batch),
        None => batches.next_batch()?,
    };
    while let Some((first_row, frame)) = next {
        let part = TableSummary::of(
            &frame,
            &plan.compared,
            model,
            Some(first_row),
            summary::DEFAULT_CAPACITY,
        )?;
        drop(frame);
        match &mut total {
            Some(t) => t.merge(&part)?,
            None => total = Some(part),
        }
        rows(batches.rows_read());
        next = batches.next_batch()?;
    }
    Ok(total.unwrap_or_else(|| TableSummary {
        rows: 0,
        columns: Default::default(),
        prediction: None,
        capacity: summary::DEFAULT_CAPACITY,
    }))
}
