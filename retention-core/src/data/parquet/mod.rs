//! Reading Parquet files below polars' frame reader, so that a file is untrusted input:
//!
//! - the footer is walked (Thrift compact protocol) before polars parses it: every list, map or
//!   string length must fit in the bytes left, every column chunk must lie inside the file, so a
//!   footer cannot make the reader allocate more than the file's size or read past its end;
//!   the page headers of each chunk decoded are checked the same way;
//! - only the columns asked for are decoded (a model's columns), and each Arrow type is either
//!   converted (small and unsigned integers, decimals and durations to numbers, dates and times to
//!   ISO 8601 text, binary to text) or refused with an error naming the column and its type
//!   (lists, structs, maps…); a whole-table read without a column list leaves such columns out
//!   and says so in its notes;
//! - rows are read row group by row group in bounded batches, so memory does not depend on the
//!   number of row groups;
//! - a panic inside polars' reader is caught and reported as [`Error::Malformed`].

use std::cell::Cell;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use polars::io::parquet::read::_internal::to_deserializer;
use polars::prelude::*;
use polars_arrow::array::Array;
use polars_arrow::datatypes::{ArrowDataType, IntegerType};
use polars_buffer::Buffer;
use polars_parquet::parquet::read::deserialize_metadata;
use polars_parquet::read::{ColumnChunkMetadata, FileMetadata, Filter, ParquetType, infer_schema};
use rayon::prelude::*;

use crate::error::{Error, Result};

mod convert;
mod footer;
#[cfg(test)]
mod tests;

use convert::*;
use footer::*;

/// Bytes of Parquet magic at each end, and of the footer length.
const MAGIC: &[u8; 4] = b"PAR1";
/// Thrift structs nested deeper than this are refused (real footers nest about six levels).
const MAX_DEPTH: usize = 32;
/// A page may decompress to at most this many bytes, or [`PAGE_EXPANSION`] times its compressed
/// size if that is more: what real codecs reach on real data, far below what a forged page
/// header can claim (2 GiB).
const PAGE_FLOOR: u64 = 64 << 20;
/// See [`PAGE_FLOOR`].
const PAGE_EXPANSION: u64 = 4096;
/// Longest cell text quoted in an error message.
const QUOTE_CHARS: usize = 60;

/// An open Parquet file whose footer has been checked. Its row groups are parsed one at a time
/// when read (from a footer holding that row group only), so memory does not grow with their
/// number: what is kept per row group is where it lies and its row count.
pub(crate) struct ParquetFile {
    path: PathBuf,
    file: File,
    /// Where the footer starts (column data ends).
    data_end: u64,
    /// The footer's version and schema fields as they are, headers included, and the id of the
    /// last of them.
    head: Vec<u8>,
    head_last: i16,
    /// Each row group's struct (its place in the file) and its rows.
    groups: Vec<(Range<u64>, usize)>,
    /// Top-level columns in file order: name, Arrow field, and how it is read.
    columns: Vec<(String, ArrowField, Reading)>,
}

/// How a column is read.
#[derive(Debug, Clone)]
enum Reading {
    /// Converted to a polars column.
    Read,
    /// Not readable; the user-facing type name.
    Refused(String),
}

/// One row group ready to decode: its metadata (parsed alone) and the bytes of the chunks of the
/// projected columns, in projection order.
struct RowGroup {
    metadata: FileMetadata,
    chunks: Vec<Buffer<u8>>,
}

impl ParquetFile {
    /// Opens a file, checks its footer and reads its schema.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read, [`Error::Malformed`] when it is not Parquet or
    /// its footer is inconsistent.
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let bad = |reason: String| Error::Malformed {
            path: path.to_path_buf(),
            reason,
        };
        if len < 12 {
            return Err(bad(format!(
                "a Parquet file has at least 12 bytes, this one {len}"
            )));
        }
        let mut tail = [0u8; 8];
        read_at(&mut file, path, len - 8, &mut tail)?;
        let mut head = [0u8; 4];
        read_at(&mut file, path, 0, &mut head)?;
        if &tail[4..] != MAGIC || &head != MAGIC {
            return Err(bad(
                "not a Parquet file (it does not start and end with PAR1)".into(),
            ));
        }
        let footer_len = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
        if footer_len + 12 > len {
            return Err(bad(format!(
                "the footer claims {footer_len} bytes but the file has {len}"
            )));
        }
        let data_end = len - 8 - footer_len;
        let index = Compact::in_file(&file, data_end, footer_len as usize)
            .and_then(|t| check_footer(t, data_end))
            .map_err(|e| bad(format!("corrupt footer: {e}")))?;
        // The footer's parts polars needs, read where they lie (their lengths were checked).
        let mut part = |range: &Range<usize>| -> Result<Vec<u8>> {
            let mut bytes = vec![0u8; range.len()];
            read_at(&mut file, path, data_end + range.start as u64, &mut bytes)?;
            Ok(bytes)
        };
        let mut head = Vec::new();
        let mut last = 0;
        for (id, value) in [(1, &index.version), (2, &index.schema)] {
            if let Some((kind, range)) = value {
                field_header(&mut head, &mut last, id, *kind);
                head.extend_from_slice(&part(range)?);
            }
        }
        // The schema alone (no row groups), with the key-value metadata where writers keep the
        // Arrow schema.
        let mut schema_only = head.clone();
        let mut last_id = last;
        field_header(&mut schema_only, &mut last_id, 3, 6);
        push_varint(&mut schema_only, 0);
        field_header(&mut schema_only, &mut last_id, 4, 9);
        schema_only.push(0x0C);
        if let Some((kind, range)) = &index.key_values {
            field_header(&mut schema_only, &mut last_id, 5, *kind);
            schema_only.extend_from_slice(&part(range)?);
        }
        schema_only.push(0);
        let metadata = guarded(path, "reading the footer", || {
            deserialize_metadata(Buffer::from_vec(schema_only)).map_err(PolarsError::from)
        })?;
        let schema = guarded(path, "reading the schema", || infer_schema(&metadata))?;
        let columns = schema
            .iter()
            .map(|(name, field)| {
                let parquet_type = metadata
                    .schema()
                    .fields()
                    .iter()
                    .find(|f| f.name() == name.as_str());
                let reading = match refusal(field.dtype(), parquet_type) {
                    Some(type_name) => Reading::Refused(type_name),
                    None => Reading::Read,
                };
                (name.to_string(), field.clone(), reading)
            })
            .collect();
        let groups = index
            .groups
            .into_iter()
            .map(|(range, rows)| {
                let at = |i: usize| data_end + i as u64;
                (at(range.start)..at(range.end), rows)
            })
            .collect();
        Ok(ParquetFile {
            path: path.to_path_buf(),
            file,
            data_end,
            head,
            head_last: last,
            groups,
            columns,
        })
    }

    /// Every column name, in file order.
    pub(crate) fn names(&self) -> Vec<String> {
        self.columns.iter().map(|(n, _, _)| n.clone()).collect()
    }

    /// The columns to decode, in file order: those of `wanted` the file has, or with `None`
    /// every readable column; and a note per column left out for its type.
    ///
    /// # Errors
    /// [`Error::Malformed`] naming a wanted column whose type cannot be read.
    pub(crate) fn projection(
        &self,
        wanted: Option<&[String]>,
    ) -> Result<(Vec<usize>, Vec<String>)> {
        let wanted: Option<PlHashSet<&str>> =
            wanted.map(|w| w.iter().map(String::as_str).collect());
        let mut chosen = Vec::new();
        let mut notes = Vec::new();
        for (i, (name, _, reading)) in self.columns.iter().enumerate() {
            let asked = wanted.as_ref().is_none_or(|w| w.contains(name.as_str()));
            match (reading, asked, wanted.is_some()) {
                (Reading::Read, true, _) => chosen.push(i),
                (Reading::Refused(type_name), true, true) => {
                    return Err(Error::Malformed {
                        path: self.path.clone(),
                        reason: format!(
                            "column '{name}' holds {type_name} values, which RetentionAI does not read (it reads numbers, text, booleans, dates and times); convert or drop the column"
                        ),
                    });
                }
                (Reading::Refused(type_name), true, false) => notes.push(format!(
                    "column '{name}' left out: it holds {type_name} values, which RetentionAI does not read"
                )),
                (_, false, _) => {}
            }
        }
        Ok((chosen, notes))
    }

    /// Reads row group `rg`: its struct, checked again and parsed alone, and the chunks of
    /// `columns` with their page headers checked.
    fn row_group(&mut self, rg: usize, columns: &[usize]) -> Result<RowGroup> {
        let (range, rows) = self.groups[rg].clone();
        let mut footer = self.head.clone();
        let mut last = self.head_last;
        field_header(&mut footer, &mut last, 3, 6);
        push_varint(&mut footer, (rows as u64) << 1);
        field_header(&mut footer, &mut last, 4, 9);
        footer.push(0x1C);
        let at = footer.len();
        footer.resize(at + (range.end - range.start) as usize, 0);
        read_at(&mut self.file, &self.path, range.start, &mut footer[at..])?;
        footer.push(0);
        // The bytes are read again: check them again.
        check_footer(Compact::new(&footer), self.data_end).map_err(|e| Error::Malformed {
            path: self.path.clone(),
            reason: format!("corrupt footer: row group {}: {e}", rg + 1),
        })?;
        let metadata = guarded(&self.path, "reading a row group", || {
            deserialize_metadata(Buffer::from_vec(footer)).map_err(PolarsError::from)
        })?;
        let mut chunks = Vec::with_capacity(columns.len());
        for &c in columns {
            let name = &self.columns[c].0;
            let chunk = chunk_meta(&self.path, &metadata, name, rg)?;
            let byte_range = chunk.byte_range();
            let num_values = chunk.num_values();
            let mut bytes = vec![0u8; (byte_range.end - byte_range.start) as usize];
            read_at(&mut self.file, &self.path, byte_range.start, &mut bytes)?;
            check_pages(&bytes, num_values).map_err(|e| Error::Malformed {
                path: self.path.clone(),
                reason: format!("column '{name}', row group {}: {e}", rg + 1),
            })?;
            chunks.push(Buffer::from_vec(bytes));
        }
        Ok(RowGroup { metadata, chunks })
    }

    /// Decodes rows `rows` of one column of a row group (`k`: its place in the projection).
    fn decode(
        &self,
        group: &RowGroup,
        rg: usize,
        column: usize,
        k: usize,
        rows: Range<usize>,
    ) -> Result<Vec<ArrayRef>> {
        let (name, field, _) = &self.columns[column];
        let chunk = chunk_meta(&self.path, &group.metadata, name, rg)?;
        let expected = rows.len();
        let arrays = guarded(&self.path, &format!("decoding column '{name}'"), || {
            to_deserializer(
                vec![(chunk, group.chunks[k].clone())],
                field.clone(),
                Some(Filter::new_ranged(rows.start, rows.end)),
            )
            .map(|(arrays, _)| arrays)
        })?;
        let got: usize = arrays.iter().map(|a| a.len()).sum();
        if got != expected {
            return Err(Error::Malformed {
                path: self.path.clone(),
                reason: format!(
                    "column '{name}' has {got} values where row group {} has {expected} rows",
                    rg + 1
                ),
            });
        }
        Ok(arrays)
    }
}

/// The one column chunk of a top-level column in a one-row-group metadata.
fn chunk_meta<'a>(
    path: &Path,
    metadata: &'a FileMetadata,
    name: &str,
    rg: usize,
) -> Result<&'a ColumnChunkMetadata> {
    let mut leaves = metadata
        .row_groups
        .first()
        .and_then(|g| g.columns_under_root_iter(name))
        .into_iter()
        .flatten();
    match (leaves.next(), leaves.next()) {
        (Some(chunk), None) => Ok(chunk),
        _ => Err(Error::Malformed {
            path: path.to_path_buf(),
            reason: format!(
                "row group {} has no single column chunk for column '{name}'",
                rg + 1
            ),
        }),
    }
}

/// Appends a Thrift compact field header for field `id` of type `kind` after field `last`.
fn field_header(out: &mut Vec<u8>, last: &mut i16, id: i16, kind: u8) {
    match id - *last {
        delta @ 1..=15 => out.push(((delta as u8) << 4) | kind),
        _ => {
            out.push(kind);
            push_varint(out, (((id as i64) << 1) ^ ((id as i64) >> 63)) as u64);
        }
    }
    *last = id;
}

fn push_varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// Batches of rows of a Parquet file, row group by row group: a batch holds at most `batch_rows`
/// rows; besides it, memory holds one row group's metadata and compressed chunks (the one being
/// read, or a large one split across batches), never the whole footer.
pub(crate) struct ParquetBatches {
    file: ParquetFile,
    projection: Vec<usize>,
    batch_rows: usize,
    /// Next row group, and the next row in it.
    rg: usize,
    offset: usize,
    /// A row group only partly read.
    held: Option<(usize, Arc<RowGroup>)>,
    rows_read: usize,
}

impl ParquetBatches {
    /// Batches of the `projection` columns of `file`.
    pub(crate) fn new(file: ParquetFile, projection: Vec<usize>, batch_rows: usize) -> Self {
        ParquetBatches {
            file,
            projection,
            batch_rows: batch_rows.max(1),
            rg: 0,
            offset: 0,
            held: None,
            rows_read: 0,
        }
    }

    /// The next batch, or `None` at the end.
    ///
    /// # Errors
    /// [`Error::Io`], [`Error::Malformed`] for a corrupt row group or chunk,
    /// [`Error::InvalidValue`] for a cell that cannot be converted (a timestamp out of range,
    /// binary that is not text).
    pub(crate) fn next_batch(&mut self) -> Result<Option<DataFrame>> {
        // Row group by row group: each is parsed, decoded (its columns in parallel) and dropped
        // before the next, so memory holds the batch's values and one row group.
        let mut columns: Vec<Stacked> =
            self.projection.iter().map(|_| Stacked::default()).collect();
        let first_row = self.rows_read;
        let mut rows = 0;
        while rows < self.batch_rows && self.rg < self.file.groups.len() {
            let rg = self.rg;
            let rg_rows = self.file.groups[rg].1;
            if self.offset >= rg_rows {
                self.rg += 1;
                self.offset = 0;
                continue;
            }
            let take = (self.batch_rows - rows).min(rg_rows - self.offset);
            let group = match self.held.take() {
                Some((held, group)) if held == rg => group,
                _ => Arc::new(self.file.row_group(rg, &self.projection)?),
            };
            let range = self.offset..self.offset + take;
            let file = &self.file;
            let piece_first_row = first_row + rows;
            let decoded = self
                .projection
                .par_iter()
                .enumerate()
                .map(|(k, &c)| {
                    let arrays = file.decode(&group, rg, c, k, range.clone())?;
                    let (name, field, _) = &file.columns[c];
                    to_series(name, field.dtype(), &arrays, piece_first_row)
                })
                .collect::<Result<Vec<Series>>>()?;
            for (stacked, series) in columns.iter_mut().zip(decoded) {
                stacked.push(series)?;
            }
            self.offset += take;
            rows += take;
            if self.offset < rg_rows {
                self.held = Some((rg, group));
            }
        }
        if rows == 0 {
            return Ok(None);
        }
        let columns = columns
            .into_iter()
            .map(|c| c.finish().map(Series::into_column))
            .collect::<Result<Vec<Column>>>()?;
        self.rows_read += rows;
        Ok(Some(DataFrame::new(rows, columns)?))
    }
}

/// A column's pieces, joined in groups of [`Stacked::GROUP`] as they come so that many tiny row
/// groups do not leave one small array each.
#[derive(Default)]
struct Stacked {
    done: Vec<Series>,
    pending: Vec<Series>,
}

impl Stacked {
    const GROUP: usize = 64;

    fn push(&mut self, series: Series) -> Result<()> {
        self.pending.push(series);
        if self.pending.len() >= Self::GROUP {
            let joined = join(std::mem::take(&mut self.pending), true)?;
            self.done.push(joined);
        }
        Ok(())
    }

    /// The column: its groups one after the other, not copied again into one chunk.
    fn finish(mut self) -> Result<Series> {
        self.done.append(&mut self.pending);
        join(self.done, false)
    }
}

/// The pieces of a column one after the other (in one chunk with `rechunk`).
fn join(parts: Vec<Series>, rechunk: bool) -> Result<Series> {
    let mut parts = parts.into_iter();
    let Some(mut out) = parts.next() else {
        return Err(Error::InvalidData("no rows to join".into()));
    };
    for part in parts {
        out.append(&part)?;
    }
    Ok(if rechunk && out.n_chunks() > 1 {
        out.rechunk()
    } else {
        out
    })
}

/// Reads `buf.len()` bytes at `offset`.
fn read_at(file: &mut File, path: &Path, offset: u64, buf: &mut [u8]) -> Result<()> {
    file.seek(SeekFrom::Start(offset))
        .and_then(|_| file.read_exact(buf))
        .map_err(|e| Error::io(path, e))
}

thread_local! {
    /// Set while polars' reader runs on this thread under [`guarded`]: its panics are errors.
    static GUARDED: Cell<bool> = const { Cell::new(false) };
}

/// Runs a piece of polars' Parquet reader, turning its errors and panics into
/// [`Error::Malformed`]. A panic caught here is not printed (the library never prints): the
/// process's panic hook is wrapped once to stay silent for panics under this guard only.
fn guarded<T>(path: &Path, what: &str, f: impl FnOnce() -> PolarsResult<T>) -> Result<T> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !GUARDED.with(Cell::get) {
                previous(info);
            }
        }));
    });
    let was = GUARDED.with(|g| g.replace(true));
    let outcome = catch_unwind(AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(was));
    let reason = match outcome {
        Ok(Ok(v)) => return Ok(v),
        Ok(Err(e)) => first_line(&e.to_string()),
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            format!("the Parquet reader failed ({})", first_line(&message))
        }
    };
    Err(Error::Malformed {
        path: path.to_path_buf(),
        reason: format!("{what}: {reason}"),
    })
}

/// The first line of a message, at most 200 characters.
fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or("parse error");
    short(line, 200)
}

/// At most `n` characters of `s`, with an ellipsis when cut.
fn short(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_string(),
    }
}
