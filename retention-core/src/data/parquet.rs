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
use polars_arrow::array::{
    Array, BinaryViewArray, BooleanArray, DictionaryArray, FixedSizeBinaryArray, PrimitiveArray,
    Utf8ViewArray,
};
use polars_arrow::datatypes::{ArrowDataType, IntegerType, TimeUnit as ArrowTimeUnit};
use polars_arrow::types::i256;
use polars_buffer::Buffer;
use polars_parquet::parquet::read::deserialize_metadata;
use polars_parquet::parquet::schema::types::GroupConvertedType;
use polars_parquet::read::{
    ColumnChunkMetadata, FileMetadata, Filter, GroupLogicalType, ParquetType, infer_schema,
};
use rayon::prelude::*;

use crate::error::{Error, Result};

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

/// Why a column of this type is not read (its type name), or `None` when it is.
fn refusal(dtype: &ArrowDataType, parquet_type: Option<&ParquetType>) -> Option<String> {
    use ArrowDataType as D;
    match dtype {
        D::Null
        | D::Boolean
        | D::Int8
        | D::Int16
        | D::Int32
        | D::Int64
        | D::Int128
        | D::UInt8
        | D::UInt16
        | D::UInt32
        | D::UInt64
        | D::UInt128
        | D::Float16
        | D::Float32
        | D::Float64
        | D::Decimal(..)
        | D::Decimal32(..)
        | D::Decimal64(..)
        | D::Decimal256(..)
        | D::Date32
        | D::Date64
        | D::Timestamp(..)
        | D::Time32(..)
        | D::Time64(..)
        | D::Duration(..)
        | D::Binary
        | D::LargeBinary
        | D::BinaryView
        | D::FixedSizeBinary(_)
        | D::Utf8
        | D::LargeUtf8
        | D::Utf8View => None,
        D::Dictionary(_, values, _) => refusal(values, None),
        D::Extension(ext) => refusal(&ext.inner, None),
        other => {
            let is_map = matches!(
                parquet_type,
                Some(ParquetType::GroupType {
                    logical_type: Some(GroupLogicalType::Map),
                    ..
                }) | Some(ParquetType::GroupType {
                    converted_type: Some(GroupConvertedType::Map | GroupConvertedType::MapKeyValue),
                    ..
                })
            );
            Some(match (is_map, other) {
                (true, D::LargeList(f) | D::List(f)) => match f.dtype() {
                    D::Struct(kv) if kv.len() == 2 => format!(
                        "map<{}, {}>",
                        type_name(kv[0].dtype()),
                        type_name(kv[1].dtype())
                    ),
                    _ => type_name(other),
                },
                _ => type_name(other),
            })
        }
    }
}

/// A type's name as users know it (`list<struct<sku: string, qty: int32>>`, `date`…).
fn type_name(dtype: &ArrowDataType) -> String {
    use ArrowDataType as D;
    match dtype {
        D::Null => "null".into(),
        D::Boolean => "boolean".into(),
        D::Int8 => "int8".into(),
        D::Int16 => "int16".into(),
        D::Int32 => "int32".into(),
        D::Int64 => "int64".into(),
        D::Int128 => "int128".into(),
        D::UInt8 => "uint8".into(),
        D::UInt16 => "uint16".into(),
        D::UInt32 => "uint32".into(),
        D::UInt64 => "uint64".into(),
        D::UInt128 => "uint128".into(),
        D::Float16 => "float16".into(),
        D::Float32 => "float32".into(),
        D::Float64 => "float64".into(),
        D::Decimal(p, s) | D::Decimal32(p, s) | D::Decimal64(p, s) | D::Decimal256(p, s) => {
            format!("decimal({p}, {s})")
        }
        D::Date32 | D::Date64 => "date".into(),
        D::Timestamp(_, Some(tz)) => format!("timestamp ({tz})"),
        D::Timestamp(_, None) => "timestamp".into(),
        D::Time32(_) | D::Time64(_) => "time".into(),
        D::Duration(_) => "duration".into(),
        D::Interval(_) => "interval".into(),
        D::Binary | D::LargeBinary | D::BinaryView | D::FixedSizeBinary(_) => "binary".into(),
        D::Utf8 | D::LargeUtf8 | D::Utf8View => "string".into(),
        D::List(f) | D::LargeList(f) | D::FixedSizeList(f, _) => {
            format!("list<{}>", type_name(f.dtype()))
        }
        D::Struct(fields) => format!(
            "struct<{}>",
            fields
                .iter()
                .map(|f| format!("{}: {}", f.name, type_name(f.dtype())))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        D::Map(f, _) => match f.dtype() {
            D::Struct(kv) if kv.len() == 2 => format!(
                "map<{}, {}>",
                type_name(kv[0].dtype()),
                type_name(kv[1].dtype())
            ),
            _ => "map".into(),
        },
        D::Dictionary(_, values, _) => type_name(values),
        D::Extension(ext) => format!("{} ({})", ext.name, type_name(&ext.inner)),
        D::Union(_) => "union".into(),
        D::Unknown => "unknown".into(),
    }
}

/// Converts decoded arrays of one column into a polars column: numbers stay numbers (small and
/// unsigned integers widened, decimals and durations as `f64`, durations in seconds), text and
/// booleans stay themselves, dates and times become ISO 8601 text, binary becomes text (hex for
/// fixed-size binary). `first_row` is the 0-based file row of the first value.
///
/// # Errors
/// [`Error::InvalidValue`] for a value that cannot be converted, [`Error::Polars`] otherwise.
fn to_series(
    name: &str,
    dtype: &ArrowDataType,
    arrays: &[ArrayRef],
    first_row: usize,
) -> Result<Series> {
    use ArrowDataType as D;
    let pl_name = PlSmallStr::from(name);
    let cell_error = |i: usize, value: String, reason: &str| Error::InvalidValue {
        column: name.to_string(),
        row: first_row + i + 1,
        value: short(&value, QUOTE_CHARS),
        reason: reason.to_string(),
    };
    Ok(match dtype {
        // Types polars holds natively: no copy.
        D::Boolean
        | D::Int32
        | D::Int64
        | D::UInt32
        | D::UInt64
        | D::Float32
        | D::Float64
        | D::Utf8View
            if arrays.iter().all(|a| a.dtype() == dtype) =>
        {
            Series::from_arrow_chunks(pl_name, arrays.to_vec())?
        }
        D::Null => Series::full_null(pl_name, total_len(arrays), &DataType::String),
        D::Boolean => BooleanChunked::from_iter_options(
            pl_name,
            arrays.iter().flat_map(|a| {
                downcast::<BooleanArray>(a)
                    .into_iter()
                    .flat_map(|a| a.iter())
            }),
        )
        .into_series(),
        D::Int8 => ints::<i8>(pl_name, arrays),
        D::Int16 => ints::<i16>(pl_name, arrays),
        D::Int32 => ints::<i32>(pl_name, arrays),
        D::UInt8 => ints::<u8>(pl_name, arrays),
        D::UInt16 => ints::<u16>(pl_name, arrays),
        D::Int64 => Int64Chunked::from_iter_options(pl_name, values::<i64>(arrays)).into_series(),
        D::UInt32 => UInt32Chunked::from_iter_options(pl_name, values::<u32>(arrays)).into_series(),
        D::UInt64 => UInt64Chunked::from_iter_options(pl_name, values::<u64>(arrays)).into_series(),
        D::Int128 => floats(pl_name, values::<i128>(arrays).map(|v| v.map(|v| v as f64))),
        D::UInt128 => floats(pl_name, values::<u128>(arrays).map(|v| v.map(|v| v as f64))),
        D::Float16 => floats(pl_name, values::<pf16>(arrays).map(|v| v.map(f64::from))),
        D::Float32 => floats(pl_name, values::<f32>(arrays).map(|v| v.map(f64::from))),
        D::Float64 => floats(pl_name, values::<f64>(arrays)),
        D::Decimal32(_, s) => floats(
            pl_name,
            values::<i32>(arrays).map(|v| v.map(|v| decimal(i128::from(v), *s))),
        ),
        D::Decimal64(_, s) => floats(
            pl_name,
            values::<i64>(arrays).map(|v| v.map(|v| decimal(i128::from(v), *s))),
        ),
        D::Decimal(_, s) => floats(
            pl_name,
            values::<i128>(arrays).map(|v| v.map(|v| decimal(v, *s))),
        ),
        D::Decimal256(_, s) => floats(
            pl_name,
            values::<i256>(arrays).map(|v| v.map(|v| decimal_text(&v.to_string(), *s))),
        ),
        D::Duration(unit) => {
            let per_second = units_per_second(*unit) as f64;
            floats(
                pl_name,
                values::<i64>(arrays).map(|v| v.map(|v| v as f64 / per_second)),
            )
        }
        D::Date32 => texts(pl_name, values::<i32>(arrays), |d| {
            let date = chrono::DateTime::from_timestamp(i64::from(d) * 86_400, 0)?;
            Some(date.format("%Y-%m-%d").to_string())
        })
        .map_err(|(i, v)| cell_error(i, v, "not a valid date"))?,
        D::Date64 => texts(pl_name, values::<i64>(arrays), |ms| {
            let t = timestamp(ms, ArrowTimeUnit::Millisecond)?;
            Some(if ms.rem_euclid(86_400_000) == 0 {
                t.format("%Y-%m-%d").to_string()
            } else {
                t.format("%Y-%m-%dT%H:%M:%S%.f").to_string()
            })
        })
        .map_err(|(i, v)| cell_error(i, v, "not a valid date"))?,
        D::Timestamp(unit, tz) => {
            let zone = if tz.is_some() { "Z" } else { "" };
            texts(pl_name, values::<i64>(arrays), |v| {
                let t = timestamp(v, *unit)?;
                Some(format!("{}{zone}", t.format("%Y-%m-%dT%H:%M:%S%.f")))
            })
            .map_err(|(i, v)| cell_error(i, v, "not a valid timestamp"))?
        }
        D::Time32(unit) => texts(pl_name, values::<i32>(arrays), |v| {
            time_of_day(i64::from(v), *unit)
        })
        .map_err(|(i, v)| cell_error(i, v, "not a valid time of day"))?,
        D::Time64(unit) => texts(pl_name, values::<i64>(arrays), |v| time_of_day(v, *unit))
            .map_err(|(i, v)| cell_error(i, v, "not a valid time of day"))?,
        D::Utf8View | D::Utf8 | D::LargeUtf8 => {
            let mut out: Vec<Option<&str>> = Vec::with_capacity(total_len(arrays));
            for a in arrays {
                if let Some(a) = downcast::<Utf8ViewArray>(a) {
                    out.extend(a.iter());
                } else {
                    let cast = Series::from_arrow(pl_name.clone(), a.clone())?;
                    return Ok(cast.cast(&DataType::String)?);
                }
            }
            StringChunked::from_iter_options(pl_name, out.into_iter()).into_series()
        }
        D::Binary | D::LargeBinary | D::BinaryView => {
            let mut out: Vec<Option<&str>> = Vec::with_capacity(total_len(arrays));
            for a in arrays {
                let Some(a) = downcast::<BinaryViewArray>(a) else {
                    return Err(Error::InvalidData(format!(
                        "column '{name}': unexpected binary layout"
                    )));
                };
                for cell in a.iter() {
                    match cell.map(std::str::from_utf8) {
                        None => out.push(None),
                        Some(Ok(s)) => out.push(Some(s)),
                        Some(Err(_)) => {
                            let i = out.len();
                            let bytes = cell.unwrap_or_default();
                            return Err(cell_error(
                                i,
                                String::from_utf8_lossy(&bytes[..bytes.len().min(QUOTE_CHARS)])
                                    .into_owned(),
                                "binary values that are not UTF-8 text cannot be read",
                            ));
                        }
                    }
                }
            }
            StringChunked::from_iter_options(pl_name, out.into_iter()).into_series()
        }
        D::FixedSizeBinary(_) => {
            let cells = arrays.iter().flat_map(|a| {
                downcast::<FixedSizeBinaryArray>(a)
                    .into_iter()
                    .flat_map(|a| a.iter())
                    .map(|v| v.map(hex))
            });
            StringChunked::from_iter_options(pl_name, cells).into_series()
        }
        D::Dictionary(key, value_type, _) => {
            let mut parts: Vec<Series> = Vec::with_capacity(arrays.len());
            let mut offset = 0;
            for a in arrays {
                let (keys, values) = dictionary_parts(a.as_ref(), *key).ok_or_else(|| {
                    Error::InvalidData(format!("column '{name}': unexpected dictionary layout"))
                })?;
                let values = to_series(name, value_type, &[values], first_row + offset)?;
                let idx = IdxCa::from_iter_options(
                    "idx".into(),
                    keys.into_iter().map(|k| k.map(|k| k as IdxSize)),
                );
                let taken = values.take(&idx)?;
                offset += taken.len();
                parts.push(taken);
            }
            let mut iter = parts.into_iter();
            let mut out = iter
                .next()
                .unwrap_or_else(|| Series::new_empty(pl_name.clone(), &DataType::String));
            for p in iter {
                out.append(&p)?;
            }
            out.with_name(pl_name)
        }
        D::Extension(ext) => to_series(name, &ext.inner, arrays, first_row)?,
        other => {
            return Err(Error::InvalidData(format!(
                "column '{name}' holds {} values, which RetentionAI does not read",
                type_name(other)
            )));
        }
    })
}

fn total_len(arrays: &[ArrayRef]) -> usize {
    arrays.iter().map(|a| a.len()).sum()
}

fn downcast<A: 'static>(a: &ArrayRef) -> Option<&A> {
    a.as_any().downcast_ref::<A>()
}

/// The cells of primitive arrays of type `T`, in order (arrays of another type give nothing: the
/// length check of the frame then refuses the column).
fn values<T: polars_arrow::types::NativeType>(
    arrays: &[ArrayRef],
) -> impl Iterator<Item = Option<T>> + '_ {
    arrays.iter().flat_map(|a| {
        downcast::<PrimitiveArray<T>>(a)
            .into_iter()
            .flat_map(|a| a.iter().map(|v| v.copied()))
    })
}

/// Small integers widened to `i32`.
fn ints<T: polars_arrow::types::NativeType + Into<i32>>(
    name: PlSmallStr,
    arrays: &[ArrayRef],
) -> Series {
    Int32Chunked::from_iter_options(name, values::<T>(arrays).map(|v| v.map(Into::into)))
        .into_series()
}

fn floats(name: PlSmallStr, cells: impl Iterator<Item = Option<f64>>) -> Series {
    Float64Chunked::from_iter_options(name, cells).into_series()
}

/// Text made from each value by `f`; a value `f` cannot format is returned with its position.
fn texts<T: Copy + std::fmt::Display>(
    name: PlSmallStr,
    cells: impl Iterator<Item = Option<T>>,
    f: impl Fn(T) -> Option<String>,
) -> std::result::Result<Series, (usize, String)> {
    let mut out: Vec<Option<String>> = Vec::new();
    for (i, cell) in cells.enumerate() {
        out.push(match cell {
            None => None,
            Some(v) => Some(f(v).ok_or_else(|| (i, v.to_string()))?),
        });
    }
    Ok(StringChunked::from_iter_options(name, out.into_iter()).into_series())
}

/// A decimal's value: `v / 10^scale`, exact to the last bit for up to 15 digits (one correctly
/// rounded division, as parsing the decimal's text gives), through its text beyond.
fn decimal(v: i128, scale: usize) -> f64 {
    const POW10: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];
    if v.unsigned_abs() < 1 << 53 && scale < POW10.len() {
        v as f64 / POW10[scale]
    } else {
        decimal_text(&v.to_string(), scale)
    }
}

/// A decimal's value from the text of its unscaled integer.
fn decimal_text(digits: &str, scale: usize) -> f64 {
    let (sign, digits) = match digits.strip_prefix('-') {
        Some(d) => ("-", d),
        None => ("", digits),
    };
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{sign}{int}.{frac}0").parse().unwrap_or(f64::NAN)
}

fn units_per_second(unit: ArrowTimeUnit) -> i64 {
    match unit {
        ArrowTimeUnit::Second => 1,
        ArrowTimeUnit::Millisecond => 1_000,
        ArrowTimeUnit::Microsecond => 1_000_000,
        ArrowTimeUnit::Nanosecond => 1_000_000_000,
    }
}

/// A timestamp as UTC date and time, if in range.
fn timestamp(v: i64, unit: ArrowTimeUnit) -> Option<chrono::NaiveDateTime> {
    let per = units_per_second(unit);
    let nanos = v.rem_euclid(per) * (1_000_000_000 / per);
    let t = chrono::DateTime::from_timestamp(v.div_euclid(per), u32::try_from(nanos).ok()?)?;
    Some(t.naive_utc())
}

/// A time of day as `HH:MM:SS[.fff]`, if within a day.
fn time_of_day(v: i64, unit: ArrowTimeUnit) -> Option<String> {
    let per = units_per_second(unit);
    let secs = u32::try_from(v.div_euclid(per)).ok()?;
    let nanos = u32::try_from(v.rem_euclid(per) * (1_000_000_000 / per)).ok()?;
    let t = chrono::NaiveTime::from_num_seconds_from_midnight_opt(secs, nanos)?;
    Some(t.format("%H:%M:%S%.f").to_string())
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// A dictionary array's keys (as positions) and values.
fn dictionary_parts(a: &dyn Array, key: IntegerType) -> Option<(Vec<Option<usize>>, ArrayRef)> {
    macro_rules! parts {
        ($k:ty) => {{
            let d = a.as_any().downcast_ref::<DictionaryArray<$k>>()?;
            Some((d.keys_iter().collect(), d.values().clone()))
        }};
    }
    match key {
        IntegerType::Int8 => parts!(i8),
        IntegerType::Int16 => parts!(i16),
        IntegerType::Int32 => parts!(i32),
        IntegerType::Int64 => parts!(i64),
        IntegerType::UInt8 => parts!(u8),
        IntegerType::UInt16 => parts!(u16),
        IntegerType::UInt32 => parts!(u32),
        IntegerType::UInt64 => parts!(u64),
        _ => None,
    }
}

/// Why a footer or page header is refused.
type Walk<T> = std::result::Result<T, String>;

/// Thrift compact-protocol bytes, walked with every length checked against the bytes left, so
/// that nothing a footer claims can exceed the footer itself.
struct Compact<'a> {
    source: Source<'a>,
    len: usize,
    pos: usize,
}

/// Where the bytes walked are: in memory, or in a file (a footer is walked where it lies, never
/// loaded whole: it can be hundreds of megabytes for a file of many row groups).
enum Source<'a> {
    Slice(&'a [u8]),
    File(std::io::BufReader<&'a File>),
}

impl<'a> Compact<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Compact {
            source: Source::Slice(buf),
            len: buf.len(),
            pos: 0,
        }
    }

    /// The `len` bytes of `file` from `offset`.
    fn in_file(file: &'a File, offset: u64, len: usize) -> Walk<Self> {
        let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
        reader
            .seek(SeekFrom::Start(offset))
            .map_err(|e| format!("the file cannot be read: {e}"))?;
        Ok(Compact {
            source: Source::File(reader),
            len,
            pos: 0,
        })
    }

    fn left(&self) -> usize {
        self.len - self.pos
    }

    fn byte(&mut self) -> Walk<u8> {
        if self.pos >= self.len {
            return Err("it ends in the middle of a value".into());
        }
        let b = match &mut self.source {
            Source::Slice(buf) => buf[self.pos],
            Source::File(reader) => {
                let mut b = [0u8; 1];
                reader
                    .read_exact(&mut b)
                    .map_err(|e| format!("the file cannot be read: {e}"))?;
                b[0]
            }
        };
        self.pos += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Walk<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("a number is longer than 64 bits".into())
    }

    /// A zigzag-encoded integer (i16, i32 and i64 alike).
    fn int(&mut self) -> Walk<i64> {
        let v = self.varint()?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    fn skip(&mut self, n: u64) -> Walk<()> {
        if n > self.left() as u64 {
            return Err(format!(
                "a value claims {n} bytes but only {} are left",
                self.left()
            ));
        }
        if let Source::File(reader) = &mut self.source {
            reader
                .seek_relative(n as i64)
                .map_err(|e| format!("the file cannot be read: {e}"))?;
        }
        self.pos += n as usize;
        Ok(())
    }

    /// A list or set header: its element count (checked against the bytes left: every element
    /// takes at least one byte, a double eight) and element type.
    fn list_header(&mut self) -> Walk<(u64, u8)> {
        let header = self.byte()?;
        let element = header & 0x0f;
        let n = match header >> 4 {
            15 => self.varint()?,
            short => u64::from(short),
        };
        let each = if element == 7 { 8 } else { 1 };
        if n.saturating_mul(each) > self.left() as u64 {
            return Err(format!(
                "a list claims {n} elements but only {} bytes are left",
                self.left()
            ));
        }
        Ok((n, element))
    }

    /// Walks a struct's fields; `field` reads the value of a field it knows and returns true, or
    /// returns false to have it skipped.
    fn fields(
        &mut self,
        depth: usize,
        mut field: impl FnMut(&mut Self, i16, u8) -> Walk<bool>,
    ) -> Walk<()> {
        if depth > MAX_DEPTH {
            return Err("values are nested too deeply".into());
        }
        let mut last = 0i16;
        loop {
            let header = self.byte()?;
            let kind = header & 0x0f;
            if kind == 0 {
                return Ok(());
            }
            let id = match header >> 4 {
                0 => i16::try_from(self.int()?).map_err(|_| "a field id is out of range")?,
                delta => last
                    .checked_add(i16::from(delta))
                    .ok_or("a field id is out of range")?,
            };
            last = id;
            if !field(self, id, kind)? {
                self.skip_value(kind, depth + 1)?;
            }
        }
    }

    fn skip_value(&mut self, kind: u8, depth: usize) -> Walk<()> {
        if depth > MAX_DEPTH {
            return Err("values are nested too deeply".into());
        }
        match kind {
            // A boolean field holds its value in the field header.
            1 | 2 => Ok(()),
            3 => self.skip(1),
            4..=6 => self.varint().map(drop),
            7 => self.skip(8),
            8 => {
                let n = self.varint()?;
                self.skip(n)
            }
            9 | 10 => {
                let (n, element) = self.list_header()?;
                for _ in 0..n {
                    self.skip_element(element, depth + 1)?;
                }
                Ok(())
            }
            11 => {
                let n = self.varint()?;
                if n == 0 {
                    return Ok(());
                }
                if n.saturating_mul(2) > self.left() as u64 {
                    return Err(format!(
                        "a map claims {n} entries but only {} bytes are left",
                        self.left()
                    ));
                }
                let types = self.byte()?;
                for _ in 0..n {
                    self.skip_element(types >> 4, depth + 1)?;
                    self.skip_element(types & 0x0f, depth + 1)?;
                }
                Ok(())
            }
            12 => self.fields(depth + 1, |_, _, _| Ok(false)),
            other => Err(format!("unknown value type {other}")),
        }
    }

    /// A list element: booleans take one byte there.
    fn skip_element(&mut self, kind: u8, depth: usize) -> Walk<()> {
        match kind {
            1 | 2 => self.skip(1),
            _ => self.skip_value(kind, depth),
        }
    }

    /// A list of structs, each walked by `each`.
    fn structs(&mut self, kind: u8, mut each: impl FnMut(&mut Self) -> Walk<()>) -> Walk<()> {
        if kind != 9 {
            return Err("a list was expected".into());
        }
        let (n, element) = self.list_header()?;
        if n > 0 && element != 12 {
            return Err("a list of structs was expected".into());
        }
        for _ in 0..n {
            each(self)?;
        }
        Ok(())
    }

    fn i64_field(&mut self, kind: u8) -> Walk<i64> {
        match kind {
            4..=6 => self.int(),
            _ => Err("an integer was expected".into()),
        }
    }
}

/// Where a footer's fields lie: the value bytes of its version, schema and key-value metadata
/// (with their Thrift types), and each row group's struct with its row count.
#[derive(Debug, Default)]
struct FooterIndex {
    version: Option<(u8, Range<usize>)>,
    schema: Option<(u8, Range<usize>)>,
    key_values: Option<(u8, Range<usize>)>,
    groups: Vec<(Range<usize>, usize)>,
}

/// Checks a footer (`FileMetaData`) before polars parses it: lengths fit the bytes left, row
/// counts are not negative, and every column chunk lies between the leading magic and
/// `data_end` (where the footer starts). Returns where its parts lie.
fn check_footer(mut t: Compact<'_>, data_end: u64) -> Walk<FooterIndex> {
    let mut index = FooterIndex::default();
    t.fields(0, |t, id, kind| {
        let start = t.pos;
        match id {
            1 | 2 | 5 => {
                t.skip_value(kind, 1)?;
                let span = Some((kind, start..t.pos));
                match id {
                    1 => index.version = span,
                    2 => index.schema = span,
                    _ => index.key_values = span,
                }
            }
            3 => {
                non_negative(t.i64_field(kind)?, "the row count")?;
            }
            4 => t.structs(kind, |t| {
                let start = t.pos;
                let rows = check_row_group(t, data_end)?;
                let rows = usize::try_from(rows).map_err(|_| "a row count is too large")?;
                index.groups.push((start..t.pos, rows));
                Ok(())
            })?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(index)
}

fn non_negative(v: i64, what: &str) -> Walk<u64> {
    u64::try_from(v).map_err(|_| format!("{what} is negative ({v})"))
}

/// A `RowGroup`: its column chunks, and its row count (returned).
fn check_row_group(t: &mut Compact<'_>, data_end: u64) -> Walk<u64> {
    let mut rows = None;
    t.fields(1, |t, id, kind| match id {
        1 => t
            .structs(kind, |t| {
                t.fields(2, |t, id, kind| match (id, kind) {
                    (3, 12) => check_column_meta(t, data_end).map(|_| true),
                    _ => Ok(false),
                })
            })
            .map(|_| true),
        3 => {
            rows = Some(non_negative(t.i64_field(kind)?, "a row group's row count")?);
            Ok(true)
        }
        _ => Ok(false),
    })?;
    rows.ok_or_else(|| "a row group has no row count".into())
}

/// A `ColumnMetaData`: the chunk starts at its dictionary page (if any) or first data page and
/// spans its compressed size, as polars reads it.
fn check_column_meta(t: &mut Compact<'_>, data_end: u64) -> Walk<()> {
    let (mut size, mut data, mut dictionary) = (None, None, None);
    t.fields(3, |t, id, kind| {
        match id {
            7 => size = Some(t.i64_field(kind)?),
            9 => data = Some(t.i64_field(kind)?),
            11 => dictionary = Some(t.i64_field(kind)?),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    let start = dictionary
        .or(data)
        .ok_or("a column chunk has no page offset")?;
    let size = size.ok_or("a column chunk has no size")?;
    let start = non_negative(start, "a column chunk's offset")?;
    let size = non_negative(size, "a column chunk's size")?;
    match start.checked_add(size) {
        Some(end) if start >= MAGIC.len() as u64 && end <= data_end => Ok(()),
        _ => Err(format!(
            "a column chunk claims {size} bytes at offset {start}, but the data ends at byte {data_end}"
        )),
    }
}

/// Checks the page headers of one column chunk (as polars will read them: pages until
/// `num_values` data values have been seen): every page lies inside the chunk, no page claims to
/// decompress to more than [`PAGE_FLOOR`] or [`PAGE_EXPANSION`] times its size, and a dictionary
/// holds no more values than bytes.
fn check_pages(chunk: &[u8], num_values: i64) -> Walk<()> {
    let mut pos = 0usize;
    let mut seen = 0i64;
    while pos < chunk.len() && seen < num_values {
        let mut t = Compact::new(&chunk[pos..]);
        let (mut uncompressed, mut compressed) = (None, None);
        let (mut dictionary_values, mut data_values) = (None, None);
        t.fields(0, |t, id, kind| {
            match (id, kind) {
                (2, _) => uncompressed = Some(t.i64_field(kind)?),
                (3, _) => compressed = Some(t.i64_field(kind)?),
                // Data page (v1 and v2) and dictionary page headers: their value counts.
                (5 | 8, 12) | (7, 12) => {
                    let mut values = None;
                    t.fields(1, |t, id, kind| {
                        if id == 1 {
                            values = Some(t.i64_field(kind)?);
                            return Ok(true);
                        }
                        Ok(false)
                    })?;
                    if id == 7 {
                        dictionary_values = values;
                    } else {
                        data_values = values;
                    }
                }
                _ => return Ok(false),
            }
            Ok(true)
        })
        .map_err(|e| format!("page header at byte {pos}: {e}"))?;
        let header = t.pos;
        let compressed = non_negative(compressed.ok_or("a page has no size")?, "a page size")?;
        let uncompressed = non_negative(
            uncompressed.ok_or("a page has no size")?,
            "a page's decompressed size",
        )?;
        if compressed > (chunk.len() - pos - header) as u64 {
            return Err(format!(
                "a page claims {compressed} bytes but the column chunk has {} left",
                chunk.len() - pos - header
            ));
        }
        if uncompressed > PAGE_FLOOR.max(compressed.saturating_mul(PAGE_EXPANSION)) {
            return Err(format!(
                "a page of {compressed} bytes claims to decompress to {uncompressed} bytes"
            ));
        }
        if let Some(n) = dictionary_values {
            if non_negative(n, "a dictionary's size")? > uncompressed.max(1) {
                return Err(format!(
                    "a dictionary page of {uncompressed} bytes claims {n} values"
                ));
            }
        }
        if let Some(n) = data_values {
            non_negative(n, "a page's value count")?;
            seen = seen.saturating_add(n);
        }
        pos += header + compressed as usize;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal Thrift compact writer, for forging footers.
    #[derive(Default)]
    struct Out(Vec<u8>);

    impl Out {
        fn varint(&mut self, mut v: u64) -> &mut Self {
            loop {
                let b = (v & 0x7f) as u8;
                v >>= 7;
                if v == 0 {
                    self.0.push(b);
                    return self;
                }
                self.0.push(b | 0x80);
            }
        }
        fn field(&mut self, delta: u8, kind: u8) -> &mut Self {
            self.0.push(delta << 4 | kind);
            self
        }
        fn i64(&mut self, delta: u8, v: i64) -> &mut Self {
            self.field(delta, 6).varint(((v << 1) ^ (v >> 63)) as u64)
        }
        fn stop(&mut self) -> &mut Self {
            self.0.push(0);
            self
        }
    }

    #[test]
    fn footer_lists_longer_than_the_bytes_left_are_refused() {
        // FileMetaData { 2: schema = list<struct> claiming two billion elements }.
        let mut f = Out::default();
        f.field(2, 9).0.push(0xFC);
        f.varint(2_000_000_000).stop();
        let e = check_footer(Compact::new(&f.0), 100).unwrap_err();
        assert!(e.contains("2000000000 elements"), "{e}");
        // A string claiming more bytes than are left.
        let mut f = Out::default();
        f.field(6, 8).varint(1 << 40);
        assert!(
            check_footer(Compact::new(&f.0), 100)
                .unwrap_err()
                .contains("bytes")
        );
        // A map claiming more entries than bytes.
        let mut f = Out::default();
        f.field(5, 11).varint(1 << 30);
        assert!(
            check_footer(Compact::new(&f.0), 100)
                .unwrap_err()
                .contains("map")
        );
        // Deep nesting.
        let mut f = Out::default();
        for _ in 0..100 {
            f.field(1, 12);
        }
        assert!(
            check_footer(Compact::new(&f.0), 100)
                .unwrap_err()
                .contains("deeply")
        );
    }

    #[test]
    fn column_chunks_outside_the_file_are_refused() {
        let footer = |offset: i64, size: i64| {
            let mut f = Out::default();
            f.i64(3, 10); // num_rows
            f.field(1, 9).0.push(0x1C); // row_groups: one struct
            f.field(1, 9).0.push(0x1C); // columns: one struct
            f.field(3, 12); // meta_data
            f.i64(7, size).i64(2, offset).stop(); // 7: size, 9: data_page_offset
            f.stop(); // ColumnChunk
            f.i64(2, 10).stop(); // RowGroup.num_rows (field 3 after field 1: delta 2)
            f.stop();
            f.0
        };
        assert!(check_footer(Compact::new(&footer(4, 96)), 100).is_ok());
        for (offset, size) in [(4, 97), (4, i64::MAX), (-1, 10), (0, 10), (90, -5)] {
            let e = check_footer(Compact::new(&footer(offset, size)), 100).unwrap_err();
            assert!(e.contains("column chunk"), "{offset} {size}: {e}");
        }
    }

    #[test]
    fn page_headers_are_bounded() {
        let page = |uncompressed: i64, compressed: i64, dictionary: Option<i64>| {
            let mut p = Out::default();
            p.field(1, 5).varint(0);
            p.field(1, 5)
                .varint(((uncompressed << 1) ^ (uncompressed >> 63)) as u64);
            p.field(1, 5)
                .varint(((compressed << 1) ^ (compressed >> 63)) as u64);
            if let Some(n) = dictionary {
                p.field(4, 12).field(1, 5).varint((n << 1) as u64).stop();
            }
            p.stop();
            p.0.extend(std::iter::repeat_n(0u8, compressed.max(0) as usize));
            p.0
        };
        assert!(check_pages(&page(10, 10, Some(2)), 1).is_ok());
        assert!(check_pages(&page(10, 11, None), 1).is_ok());
        let mut short = page(10, 10, None);
        short.truncate(short.len() - 1);
        assert!(
            check_pages(&short, 1)
                .unwrap_err()
                .contains("claims 10 bytes")
        );
        let e = check_pages(&page(i64::from(i32::MAX), 10, None), 1).unwrap_err();
        assert!(e.contains("decompress"), "{e}");
        let e = check_pages(&page(10, 10, Some(1 << 30)), 1).unwrap_err();
        assert!(e.contains("dictionary"), "{e}");
    }

    #[test]
    fn decimals_times_and_names() {
        assert_eq!(decimal(1234, 2), 12.34);
        assert_eq!(decimal(-5, 3), -0.005);
        assert_eq!(
            decimal(i128::MAX, 10),
            decimal_text(&i128::MAX.to_string(), 10)
        );
        assert_eq!(decimal_text("-125", 3), -0.125);
        assert_eq!(decimal_text("7", 0), 7.0);
        assert_eq!(
            time_of_day(3_600_000 + 1, ArrowTimeUnit::Millisecond).as_deref(),
            Some("01:00:00.001")
        );
        assert_eq!(time_of_day(86_400, ArrowTimeUnit::Second), None);
        assert_eq!(
            timestamp(-1, ArrowTimeUnit::Second).map(|t| t.to_string()),
            Some("1969-12-31 23:59:59".into())
        );
        assert_eq!(timestamp(i64::MAX, ArrowTimeUnit::Second), None);
        assert_eq!(hex(&[0, 255, 16]), "00ff10");
        assert_eq!(short("abcdef", 3), "abc…");
    }
}
