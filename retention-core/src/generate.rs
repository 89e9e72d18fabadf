//! Synthetic customers shaped like a template table (the bundled Telco table by default), for
//! benchmarks and drift demonstrations at any size.
//!
//! Each synthetic row is a template row drawn at random (so the joint distribution and the churn
//! signal are the template's), with fresh unique ids and jitter on the numeric columns: integer
//! columns (such as tenure) move by −1, 0 or +1, others by up to ±2.5 %, both kept within the
//! template's range and decimals. Optional shifts then move a numeric column by a constant or
//! move a share of customers into a categorical level. Rows are made in blocks of
//! [`BLOCK_ROWS`], each from its own seeded generator, and written as they are made: memory stays
//! bounded and the output depends only on the seed.

use std::path::Path;

use polars::prelude::*;
use rayon::prelude::*;

use crate::data::{self, Role, SchemaOptions, TableSink, clean};
use crate::error::{Error, Result, mention};
use crate::fsutil;
use crate::training::SplitMix64;

/// The bundled Telco customer table, built into the library: the default template wherever
/// the program runs from.
pub const TELCO_TEMPLATE: &[u8] = include_bytes!("../../data/telco_customer_churn.csv");

/// The name the bundled template goes by in messages.
pub const TELCO_TEMPLATE_NAME: &str = "the bundled Telco table";

/// The bundled Telco table as a frame.
///
/// # Errors
/// Never for the bundled bytes; the type is the CSV reader's.
pub fn telco_template() -> Result<DataFrame> {
    data::io::parse_csv(Path::new(TELCO_TEMPLATE_NAME), TELCO_TEMPLATE.to_vec())
}

/// The seed `retention generate` and `retention.generate` use when none is given.
pub const DEFAULT_SEED: u64 = 42;

/// Rows [`Generator::frame`] makes in memory at most (about 200 bytes a Telco-like row: 10 GB).
pub const MAX_FRAME_ROWS: usize = 50_000_000;

/// Rows generated and written per block.
pub const BLOCK_ROWS: usize = 100_000;

/// A change applied to generated rows (drift demonstrations).
#[derive(Debug, Clone, PartialEq)]
pub enum Shift {
    /// Add a constant to a numeric column (clamped to the template's range).
    Add {
        /// Column.
        column: String,
        /// Amount added.
        amount: f64,
    },
    /// Move this share of all customers (taken from the other levels) into a level.
    Level {
        /// Column.
        column: String,
        /// The level that gains customers.
        level: String,
        /// Share of all customers moved, in (0, 1).
        share: f64,
    },
}

impl Shift {
    /// Parses `tenure=-6` or `Contract=Month-to-month:+0.15`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the text.
    pub fn parse(s: &str) -> Result<Shift> {
        let bad = |why: &str| {
            Error::param(
                "shift",
                format!("{s:?} {why}; use COLUMN=+N for numbers or COLUMN=LEVEL:+SHARE for levels"),
            )
        };
        let (column, change) = s.split_once('=').ok_or_else(|| bad("has no '='"))?;
        let column = column.trim().to_string();
        if column.is_empty() {
            return Err(bad("names no column"));
        }
        match change.rsplit_once(':') {
            Some((level, share)) => {
                let share: f64 = share
                    .trim()
                    .parse()
                    .map_err(|_| bad("has no share after ':'"))?;
                if !(share > 0.0 && share < 1.0) {
                    return Err(bad("moves a share outside (0, 1)"));
                }
                Ok(Shift::Level {
                    column,
                    level: level.to_string(),
                    share,
                })
            }
            None => {
                let amount: f64 = change.trim().parse().map_err(|_| bad("has no number"))?;
                if !amount.is_finite() {
                    return Err(bad("is not finite"));
                }
                Ok(Shift::Add { column, amount })
            }
        }
    }
}

/// How a numeric column is jittered.
#[derive(Debug, Clone)]
struct NumericShape {
    min: f64,
    max: f64,
    integer: bool,
    decimals: usize,
    add: f64,
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct Generator {
    template: DataFrame,
    id: Option<String>,
    numeric: Vec<(String, NumericShape)>,
    levels: Vec<(String, String, f64)>,
    /// The template as text, column by column, with each numeric column's parsed values: what
    /// the CSV writer draws from.
    cells: Vec<TemplateColumn>,
    /// Every template row's fields as CSV bytes (quoted where needed), row after row, so that
    /// copying a drawn row's unchanged fields reads one contiguous stretch of memory.
    rendered: Vec<u8>,
    /// Per template row, `columns + 1` offsets into `rendered` (field `c` is
    /// `offsets[c]..offsets[c + 1]`).
    offsets: Vec<u32>,
}

/// One template column for the CSV writer.
#[derive(Debug, Clone)]
struct TemplateColumn {
    /// The cells as text (kept after rendering only for a level-shifted column).
    text: Vec<Option<String>>,
    /// Index into `Generator::numeric` and the parsed values, for a jittered column.
    numeric: Option<(usize, Vec<Option<f64>>)>,
    /// Indexes into `Generator::levels` of the shifts on this column, in order.
    levels: Vec<usize>,
    /// Whether this is the id column (replaced by fresh ids).
    id: bool,
}

/// The range, integer-ness and shown decimals of every numeric column of the template.
fn numeric_shapes(
    template: &DataFrame,
    schema: &data::Schema,
) -> Result<Vec<(String, NumericShape)>> {
    let mut numeric = Vec::new();
    for c in schema.columns.iter().filter(|c| c.role == Role::Numeric) {
        let text = clean::to_text(template.column(&c.name)?)?;
        let values = clean::to_numeric(template.column(&c.name)?, 0)?;
        let min = values.min().unwrap_or(0.0);
        let max = values.max().unwrap_or(0.0);
        let integer = values.iter().flatten().all(|v| v.fract() == 0.0);
        let decimals = text
            .iter()
            .flatten()
            .filter_map(|s| s.split_once('.').map(|(_, d)| d.len()))
            .max()
            .unwrap_or(0);
        numeric.push((
            c.name.clone(),
            NumericShape {
                min,
                max,
                integer,
                decimals,
                add: 0.0,
            },
        ));
    }
    Ok(numeric)
}

/// Checks the shifts against the template: numeric shifts are added to their column's shape;
/// level shifts are returned as (column, level, probability that a customer elsewhere switches).
fn apply_shifts(
    template: &DataFrame,
    shifts: &[Shift],
    numeric: &mut [(String, NumericShape)],
) -> Result<Vec<(String, String, f64)>> {
    let names = data::column_names(template);
    let mut levels = Vec::new();
    for shift in shifts {
        match shift {
            Shift::Add { column, amount } => {
                let shape = numeric
                    .iter_mut()
                    .find(|(n, _)| n == column)
                    .map(|(_, s)| s)
                    .ok_or_else(|| {
                        Error::column_not_found(
                            column.clone(),
                            " among the numeric columns",
                            &names,
                        )
                    })?;
                shape.add += amount;
            }
            Shift::Level {
                column,
                level,
                share,
            } => {
                let text = clean::to_text(template.column(column).map_err(|_| {
                    let context = format!(" (named by {})", mention("shift"));
                    Error::column_not_found(column.clone(), context, &names)
                })?)?;
                let have = text.iter().filter(|v| *v == Some(level.as_str())).count() as f64
                    / text.len().max(1) as f64;
                if have + share >= 1.0 {
                    return Err(Error::param(
                        "shift",
                        format!(
                            "{column} is {level:?} for {:.1} % of customers already; +{share} would pass 100 %",
                            have * 100.0
                        ),
                    ));
                }
                // Each customer elsewhere switches with the probability that moves `share`.
                levels.push((column.clone(), level.clone(), share / (1.0 - have)));
            }
        }
    }
    Ok(levels)
}

/// The template column by column as text, with the parsed values of jittered columns and the
/// level shifts on each.
fn template_cells(
    template: &DataFrame,
    numeric: &[(String, NumericShape)],
    levels: &[(String, String, f64)],
    id: Option<&str>,
) -> Result<Vec<TemplateColumn>> {
    let mut cells: Vec<TemplateColumn> = Vec::with_capacity(template.width());
    for column in template.columns() {
        let name = column.name().as_str();
        let changed = numeric.iter().any(|(n, _)| n == name) || levels.iter().any(|l| l.0 == name);
        // Changed columns go through the cleaned text as in `block`; the others are written
        // as they are (the CSV writer is used only when every column is text).
        let text: Vec<Option<String>> = if changed {
            clean::to_text(column)?
                .iter()
                .map(|v| v.map(str::to_string))
                .collect()
        } else if let Ok(raw) = column.str() {
            raw.iter().map(|v| v.map(str::to_string)).collect()
        } else {
            Vec::new()
        };
        let numeric = numeric.iter().position(|(n, _)| n == name).map(|k| {
            let values = text
                .iter()
                .map(|v| v.as_deref().and_then(clean::parse_number))
                .collect();
            (k, values)
        });
        cells.push(TemplateColumn {
            levels: (0..levels.len()).filter(|&k| levels[k].0 == name).collect(),
            id: id == Some(name),
            text,
            numeric,
        });
    }
    Ok(cells)
}

/// Every template row rendered once as CSV fields, with the offsets of each field.
fn render(cells: &[TemplateColumn], height: usize) -> Result<(Vec<u8>, Vec<u32>)> {
    let width = cells.len();
    let mut rendered = Vec::new();
    let mut offsets = Vec::with_capacity(height * (width + 1));
    for row in 0..height {
        offsets.push(rendered.len() as u32);
        for column in cells {
            match column.text.get(row).and_then(|v| v.as_deref()) {
                Some("") => rendered.extend_from_slice(b"\"\""),
                Some(v) => crate::data::csv::push_field(&mut rendered, v.as_bytes()),
                None => {}
            }
            offsets.push(rendered.len() as u32);
        }
    }
    if u32::try_from(rendered.len()).is_err() {
        return Err(Error::param(
            "template",
            "is over 4 GB of text; use a smaller template table",
        ));
    }
    Ok((rendered, offsets))
}

impl Generator {
    /// Learns the template's roles, ranges and level shares and checks the shifts against them.
    ///
    /// # Errors
    /// [`Error::ColumnNotFound`] for a shifted column that is not there,
    /// [`Error::InvalidParameter`] for a shift that does not fit its column, and whatever role
    /// inference refuses.
    pub fn new(template: DataFrame, shifts: &[Shift]) -> Result<Self> {
        let schema = data::infer_schema(&template, &SchemaOptions::default())?;
        let mut numeric = numeric_shapes(&template, &schema)?;
        let levels = apply_shifts(&template, shifts, &mut numeric)?;
        let id = schema.id().map(str::to_string);
        let mut cells = template_cells(&template, &numeric, &levels, id.as_deref())?;
        let (rendered, offsets) = render(&cells, template.height())?;
        // Only level-shifted columns need their text again (to compare with the level).
        for column in &mut cells {
            if column.levels.is_empty() {
                column.text = Vec::new();
            }
        }
        Ok(Generator {
            id,
            template,
            numeric,
            levels,
            cells,
            rendered,
            offsets,
        })
    }

    /// Rows `start..start + n` for `seed` as CSV lines (no header), the same rows and bytes as
    /// [`Generator::block`] written by polars' CSV writer: the random numbers are drawn in the
    /// same order (row picks, then each jittered column, then each level shift).
    fn block_csv(&self, seed: u64, start: usize, n: usize, out: &mut Vec<u8>) {
        let mut rng = SplitMix64::new(seed ^ (start as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let height = self.template.height() as u64;
        let idx: Vec<usize> = (0..n).map(|_| (rng.next_u64() % height) as usize).collect();
        let jitter_u: Vec<Vec<f64>> = self
            .numeric
            .iter()
            .map(|_| (0..n).map(|_| rng.next_f64()).collect())
            .collect();
        let level_u: Vec<Vec<f64>> = self
            .levels
            .iter()
            .map(|_| (0..n).map(|_| rng.next_f64()).collect())
            .collect();
        use std::io::Write;
        let width = self.cells.len();
        let mut cell = String::new();
        for (i, &row) in idx.iter().enumerate() {
            let at = &self.offsets[row * (width + 1)..(row + 1) * (width + 1)];
            for (c, column) in self.cells.iter().enumerate() {
                if c > 0 {
                    out.push(b',');
                }
                if column.id {
                    // Writing to a Vec cannot fail.
                    let _ = write!(out, "S{seed:x}-{:09}", start + i);
                    continue;
                }
                let unchanged = &self.rendered[at[c] as usize..at[c + 1] as usize];
                if column.numeric.is_none() && column.levels.is_empty() {
                    out.extend_from_slice(unchanged);
                    continue;
                }
                let mut value: Option<&str> = column.text.get(row).and_then(|v| v.as_deref());
                if let Some((k, parsed)) = &column.numeric {
                    value = match parsed[row] {
                        Some(v) => {
                            cell.clear();
                            write_jittered(&mut cell, v, jitter_u[*k][i], &self.numeric[*k].1);
                            Some(cell.as_str())
                        }
                        None => None,
                    };
                }
                for &k in &column.levels {
                    let (_, level, p) = &self.levels[k];
                    if value != Some(level.as_str()) && level_u[k][i] < *p {
                        value = Some(level.as_str());
                    }
                }
                match value {
                    Some("") => out.extend_from_slice(b"\"\""),
                    Some(v) => crate::data::csv::push_field(out, v.as_bytes()),
                    None => {}
                }
            }
            out.push(b'\n');
        }
    }

    /// Rows `start..start + n` of the synthetic table for `seed`, as text columns.
    ///
    /// # Errors
    /// [`Error::Polars`] only.
    pub fn block(&self, seed: u64, start: usize, n: usize) -> Result<DataFrame> {
        let mut rng = SplitMix64::new(seed ^ (start as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let height = self.template.height() as u64;
        let idx: Vec<IdxSize> = (0..n)
            .map(|_| (rng.next_u64() % height) as IdxSize)
            .collect();
        let mut frame = self.template.take(&IdxCa::from_vec("row".into(), idx))?;
        for (name, shape) in &self.numeric {
            let values = clean::to_text(frame.column(name)?)?;
            let out: Vec<Option<String>> = values
                .iter()
                .map(|cell| {
                    let u = rng.next_f64();
                    cell.and_then(clean::parse_number)
                        .map(|v| jitter(v, u, shape))
                })
                .collect();
            frame.with_column(Column::new(name.as_str().into(), out))?;
        }
        for (column, level, p) in &self.levels {
            let values = clean::to_text(frame.column(column)?)?;
            let out: Vec<Option<String>> = values
                .iter()
                .map(|cell| {
                    let u = rng.next_f64();
                    if cell != Some(level.as_str()) && u < *p {
                        Some(level.clone())
                    } else {
                        cell.map(str::to_string)
                    }
                })
                .collect();
            frame.with_column(Column::new(column.as_str().into(), out))?;
        }
        if let Some(id) = &self.id {
            let ids: Vec<String> = (start..start + n)
                .map(|i| format!("S{seed:x}-{i:09}"))
                .collect();
            frame.with_column(Column::new(id.as_str().into(), ids))?;
        }
        Ok(frame)
    }

    /// `rows` synthetic rows for `seed` as one frame of text columns: the rows
    /// [`Generator::write`] writes for the same seed, in memory (for notebooks and tests; a
    /// million Telco-like rows take about 200 MB).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for zero rows, [`Error::Polars`] otherwise.
    pub fn frame(&self, rows: usize, seed: u64) -> Result<DataFrame> {
        if rows == 0 {
            return Err(Error::param("rows", "must be at least 1"));
        }
        if rows > MAX_FRAME_ROWS {
            return Err(Error::param(
                "rows",
                format!(
                    "{rows} rows would not fit in memory as one frame (at most {MAX_FRAME_ROWS}); \
                     write them to a file with `retention generate --out`, which streams"
                ),
            ));
        }
        let starts: Vec<usize> = (0..rows).step_by(BLOCK_ROWS).collect();
        let blocks = starts
            .par_iter()
            .map(|&s| self.block(seed, s, BLOCK_ROWS.min(rows - s)))
            .collect::<Result<Vec<_>>>()?;
        let mut blocks = blocks.into_iter();
        let mut out = blocks
            .next()
            .ok_or_else(|| Error::param("rows", "must be at least 1"))?;
        for block in blocks {
            out.vstack_mut_owned(block)?;
        }
        out.rechunk_mut();
        Ok(out)
    }

    /// Writes `rows` synthetic rows for `seed` to a CSV or Parquet file (by extension), block
    /// by block, atomically. `progress` is told the rows written so far.
    ///
    /// # Errors
    /// Whatever generating or writing reports; no output file is left then.
    pub fn write(
        &self,
        rows: usize,
        seed: u64,
        path: &Path,
        progress: &dyn Fn(usize),
    ) -> Result<()> {
        if rows == 0 {
            return Err(Error::param("rows", "must be at least 1"));
        }
        let all_text = self
            .template
            .columns()
            .iter()
            .all(|c| c.dtype() == &DataType::String);
        if data::Format::of_path(path) == data::Format::Csv && all_text {
            return self.write_csv(rows, seed, path, progress);
        }
        let mut sink: Option<TableSink> = None;
        let mut written = 0usize;
        // Two blocks at a time in parallel, written in order.
        let starts: Vec<usize> = (0..rows).step_by(BLOCK_ROWS).collect();
        for pair in starts.chunks(rayon::current_num_threads().max(1)) {
            let blocks = pair
                .par_iter()
                .map(|&s| self.block(seed, s, BLOCK_ROWS.min(rows - s)))
                .collect::<Result<Vec<_>>>()?;
            for block in blocks {
                let sink = match &mut sink {
                    Some(s) => s,
                    None => sink.insert(TableSink::create(path, block.schema())?),
                };
                sink.write(&block)?;
                written += block.height();
                progress(written);
            }
        }
        match sink {
            Some(s) => s.finish(),
            None => Ok(()),
        }
    }
}

impl Generator {
    /// The CSV path of [`Generator::write`]: blocks of text made in parallel, written in order
    /// to a temporary file renamed into place.
    fn write_csv(
        &self,
        rows: usize,
        seed: u64,
        path: &Path,
        progress: &dyn Fn(usize),
    ) -> Result<()> {
        use std::io::Write;
        let tmp = fsutil::temp_beside(path)?;
        let handle = tmp.reopen().map_err(|e| Error::io(path, e))?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, handle);
        let mut header = Vec::new();
        for (c, name) in self.template.get_column_names().iter().enumerate() {
            if c > 0 {
                header.push(b',');
            }
            crate::data::csv::push_field(&mut header, name.as_bytes());
        }
        header.push(b'\n');
        out.write_all(&header).map_err(|e| Error::io(path, e))?;
        let mut written = 0usize;
        let starts: Vec<usize> = (0..rows).step_by(BLOCK_ROWS).collect();
        let mut buffers: Vec<Vec<u8>> = Vec::new();
        for group in starts.chunks(2 * rayon::current_num_threads().max(1)) {
            buffers.resize_with(group.len(), Vec::new);
            group
                .par_iter()
                .zip(buffers.par_iter_mut())
                .for_each(|(&s, buf)| {
                    buf.clear();
                    self.block_csv(seed, s, BLOCK_ROWS.min(rows - s), buf);
                });
            for (&s, buf) in group.iter().zip(&buffers) {
                out.write_all(buf).map_err(|e| Error::io(path, e))?;
                written += BLOCK_ROWS.min(rows - s);
                progress(written);
            }
        }
        out.flush().map_err(|e| Error::io(path, e))?;
        drop(out);
        fsutil::persist(tmp, path)
    }
}

fn jitter(v: f64, u: f64, shape: &NumericShape) -> String {
    let mut out = String::new();
    write_jittered(&mut out, v, u, shape);
    out
}

/// Moves `v` by the jitter for draw `u` and the column's shift, keeps it in the template's
/// range, and writes it with the template's decimals.
fn write_jittered(out: &mut String, v: f64, u: f64, shape: &NumericShape) {
    use std::fmt::Write;
    let moved = if shape.integer {
        v + (u * 3.0).floor() - 1.0
    } else {
        v * (1.0 + 0.05 * (u - 0.5))
    } + shape.add;
    let clamped = moved.clamp(shape.min, shape.max);
    // Writing to a String cannot fail.
    let _ = if shape.integer {
        let r = clamped.round();
        // As `clean::format_number`: whole numbers without a decimal point.
        if r.abs() < 1e15 {
            write!(out, "{}", r as i64)
        } else {
            write!(out, "{r}")
        }
    } else {
        write!(out, "{clamped:.*}", shape.decimals)
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template() -> DataFrame {
        let n = 300;
        df!(
            "customerID" => (0..n).map(|i| format!("C{i}")).collect::<Vec<_>>(),
            "tenure" => (0..n).map(|i| (i % 73).to_string()).collect::<Vec<_>>(),
            "charges" => (0..n).map(|i| format!("{:.2}", 20.0 + (i % 97) as f64 * 0.83)).collect::<Vec<_>>(),
            "Contract" => (0..n).map(|i| ["Month-to-month", "One year", "Two year"][i % 3]).collect::<Vec<_>>(),
            "Churn" => (0..n).map(|i| if i % 4 == 0 { "Yes" } else { "No" }).collect::<Vec<_>>()
        )
        .unwrap()
    }

    #[test]
    fn frame_holds_the_rows_write_writes() {
        let g = Generator::new(template(), &[]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.csv");
        let rows = BLOCK_ROWS + 17;
        g.write(rows, 5, &path, &|_| {}).unwrap();
        let written = data::read_table(&path).unwrap().frame;
        let frame = g.frame(rows, 5).unwrap();
        assert_eq!(frame.height(), rows);
        assert!(frame.equals_missing(&written));
        assert!(g.frame(0, 5).is_err());
        assert!(g.frame(MAX_FRAME_ROWS + 1, 5).is_err());
    }

    #[test]
    fn blocks_are_deterministic_unique_and_in_range() {
        let g = Generator::new(template(), &[]).unwrap();
        let a = g.block(7, 0, 1000).unwrap();
        assert_eq!(a, g.block(7, 0, 1000).unwrap());
        assert_ne!(a, g.block(8, 0, 1000).unwrap());
        let ids = a.column("customerID").unwrap().str().unwrap();
        assert_eq!(ids.n_unique().unwrap(), 1000);
        let tenure = clean::to_numeric(a.column("tenure").unwrap(), 0).unwrap();
        assert!(tenure.min().unwrap() >= 0.0 && tenure.max().unwrap() <= 72.0);
        assert!(tenure.iter().flatten().all(|v| v.fract() == 0.0));
        let charges = a.column("charges").unwrap().str().unwrap();
        assert!(
            charges
                .iter()
                .flatten()
                .all(|s| s.split_once('.').is_some_and(|(_, d)| d.len() == 2))
        );
    }

    #[test]
    fn shifts_move_what_they_say() {
        let base = Generator::new(template(), &[])
            .unwrap()
            .block(1, 0, 20_000)
            .unwrap();
        let shifted = Generator::new(
            template(),
            &[
                Shift::parse("tenure=-6").unwrap(),
                Shift::parse("Contract=Month-to-month:+0.15").unwrap(),
            ],
        )
        .unwrap()
        .block(1, 0, 20_000)
        .unwrap();
        let mean = |f: &DataFrame| {
            clean::to_numeric(f.column("tenure").unwrap(), 0)
                .unwrap()
                .mean()
                .unwrap()
        };
        assert!(
            mean(&base) - mean(&shifted) > 5.0,
            "{} {}",
            mean(&base),
            mean(&shifted)
        );
        let share = |f: &DataFrame| {
            let c = f.column("Contract").unwrap().str().unwrap();
            c.iter().filter(|v| *v == Some("Month-to-month")).count() as f64 / c.len() as f64
        };
        let moved = share(&shifted) - share(&base);
        assert!((moved - 0.15).abs() < 0.02, "{moved}");
    }

    #[test]
    fn the_csv_writer_writes_what_polars_writes() {
        // Quirky text: a comma, a quote, an empty string and a missing value.
        let mut t = template();
        let notes: Vec<Option<&str>> = (0..t.height())
            .map(|i| match i % 5 {
                0 => Some("plain"),
                1 => Some("a, b"),
                2 => Some("say \"hi\""),
                3 => Some(""),
                _ => None,
            })
            .collect();
        t.with_column(Column::new("notes".into(), notes)).unwrap();
        let g = Generator::new(
            t,
            &[
                Shift::parse("tenure=-6").unwrap(),
                Shift::parse("Contract=Month-to-month:+0.15").unwrap(),
            ],
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let rows = BLOCK_ROWS + 1234;
        let fast = dir.path().join("fast.csv");
        g.write(rows, 9, &fast, &|_| {}).unwrap();
        let slow = dir.path().join("slow.csv");
        let first = g.block(9, 0, BLOCK_ROWS).unwrap();
        let mut sink = TableSink::create(&slow, first.schema()).unwrap();
        sink.write(&first).unwrap();
        sink.write(&g.block(9, BLOCK_ROWS, 1234).unwrap()).unwrap();
        sink.finish().unwrap();
        let (a, b) = (std::fs::read(&fast).unwrap(), std::fs::read(&slow).unwrap());
        let (la, lb) = (String::from_utf8_lossy(&a), String::from_utf8_lossy(&b));
        for (x, y) in la.lines().zip(lb.lines()).take(20) {
            if x != y {
                eprintln!("fast {x}\nslow {y}");
            }
        }
        assert_eq!(a.len(), b.len());
        assert!(a == b, "the CSV writer and polars differ");
    }

    #[test]
    fn bad_shifts_are_refused() {
        for s in [
            "tenure",
            "=5",
            "tenure=x",
            "Contract=Two year:1.5",
            "Contract=Two year:abc",
        ] {
            assert!(Shift::parse(s).is_err(), "{s}");
        }
        let e = Generator::new(template(), &[Shift::parse("nope=1").unwrap()]).unwrap_err();
        assert!(e.to_string().contains("'nope'"), "{e}");
        let e = Generator::new(
            template(),
            &[Shift::parse("Contract=One year:0.9").unwrap()],
        )
        .unwrap_err();
        assert!(e.to_string().contains("100 %"), "{e}");
    }
}
