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
use crate::error::{Error, Result};
use crate::training::SplitMix64;

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
                "--shift",
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
        let names = data::column_names(&template);
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
                        Error::column_not_found(column.clone(), " (named by --shift)", &names)
                    })?)?;
                    let have = text.iter().filter(|v| *v == Some(level.as_str())).count() as f64
                        / text.len().max(1) as f64;
                    if have + share >= 1.0 {
                        return Err(Error::param(
                            "--shift",
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
        Ok(Generator {
            id: schema.id().map(str::to_string),
            template,
            numeric,
            levels,
        })
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
            return Err(Error::param("--rows", "must be at least 1"));
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

fn jitter(v: f64, u: f64, shape: &NumericShape) -> String {
    let moved = if shape.integer {
        v + (u * 3.0).floor() - 1.0
    } else {
        v * (1.0 + 0.05 * (u - 0.5))
    } + shape.add;
    let clamped = moved.clamp(shape.min, shape.max);
    if shape.integer {
        clean::format_number(clamped.round())
    } else {
        format!("{clamped:.*}", shape.decimals)
    }
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
