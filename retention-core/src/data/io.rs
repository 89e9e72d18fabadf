//! Reading and writing customer tables (CSV and Parquet). The only module that knows file formats.
//!
//! CSV cells are read as text and typed by [`super::clean`], so that a blank `TotalCharges` or a
//! stray `"n/a"` is reported by column and row instead of silently changing a column's type.

use std::fs::File;
use std::io::{BufWriter, Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use polars::prelude::*;
use tempfile::NamedTempFile;

use super::csv::{
    CsvBlocks, MAX_HEADER_BYTES, check_field_counts, drop_blank_crlf_lines, parse_header,
    record_end,
};
use super::parquet::{ParquetBatches, ParquetFile};
use crate::error::{Error, Result};
use crate::fsutil::{self, sha256_hex};

/// A table file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated values with a header line.
    Csv,
    /// Apache Parquet.
    Parquet,
}

impl Format {
    /// The format of a path, from its extension (`.csv`, `.parquet`, `.pq`); other extensions are
    /// read as CSV unless the file starts with Parquet's magic bytes.
    pub fn of_path(path: &Path) -> Format {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .as_deref()
        {
            Some("parquet") | Some("pq") => Format::Parquet,
            Some("csv") => Format::Csv,
            _ => {
                let mut magic = [0u8; 4];
                let is_parquet = File::open(path)
                    .and_then(|mut f| f.read_exact(&mut magic))
                    .map(|_| &magic == b"PAR1")
                    .unwrap_or(false);
                if is_parquet {
                    Format::Parquet
                } else {
                    Format::Csv
                }
            }
        }
    }
}

/// A table as read from a file, before roles are applied: CSV columns are text.
#[derive(Debug, Clone)]
pub struct RawTable {
    /// The cells.
    pub frame: DataFrame,
    /// SHA-256 of the file's bytes (provenance).
    pub sha256: String,
    /// Where it came from.
    pub path: PathBuf,
    /// Every column of the file, in file order (`frame` holds fewer when columns were chosen, or
    /// some could not be read).
    pub columns: Vec<String>,
    /// Columns left out of `frame` and why (Parquet columns of types RetentionAI does not read);
    /// for the caller to show, the library never prints.
    pub notes: Vec<String>,
}

impl RawTable {
    /// `err` with a missing column's list of available columns made the file's (the frame holds
    /// only the columns that were read).
    pub fn name_file_columns(&self, err: Error) -> Error {
        with_file_columns(err, &self.columns)
    }
}

/// Rewrites the available columns of an [`Error::ColumnNotFound`] to `columns`: errors raised on
/// a frame read with a column list then still show every column of the file.
pub fn with_file_columns(err: Error, columns: &[String]) -> Error {
    match err {
        Error::ColumnNotFound {
            column, context, ..
        } => Error::column_not_found(column, context, columns),
        other => other,
    }
}

/// Reads a whole CSV or Parquet file.
///
/// # Errors
/// [`Error::Io`] when the file cannot be read, [`Error::InvalidData`] when it is empty or has no
/// data rows, [`Error::Malformed`] when it does not parse.
pub fn read_table(path: &Path) -> Result<RawTable> {
    read_table_columns(path, None)
}

/// Reads a whole CSV or Parquet file; with `columns`, a Parquet file's other columns are not
/// decoded at all (a CSV file is read whole: its cells are text). Without `columns`, Parquet
/// columns of types RetentionAI does not read (lists, structs, maps…) are left out and named in
/// [`RawTable::notes`]; with `columns`, asking for one is an error naming it and its type.
///
/// # Errors
/// As [`read_table`].
pub fn read_table_columns(path: &Path, columns: Option<&[String]>) -> Result<RawTable> {
    let (frame, sha256, columns, notes) = match Format::of_path(path) {
        Format::Csv => {
            let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
            let sha256 = sha256_hex(&bytes);
            let frame = parse_csv(path, bytes)?;
            let names = super::column_names(&frame);
            (frame, sha256, names, Vec::new())
        }
        Format::Parquet => {
            let sha256 = fsutil::sha256_file(path)?;
            let file = ParquetFile::open(path)?;
            let names = file.names();
            let (projection, notes) = file.projection(columns)?;
            let mut batches = ParquetBatches::new(file, projection, PARQUET_BATCH_ROWS);
            let mut frame = DataFrame::empty_with_height(0);
            while let Some(batch) = batches.next_batch()? {
                frame.vstack_mut_owned(batch)?;
            }
            frame.rechunk_mut_par();
            (frame, sha256, names, notes)
        }
    };
    if columns.is_empty() {
        return Err(Error::InvalidData(format!(
            "{} has no columns",
            path.display()
        )));
    }
    if frame.height() == 0 {
        return Err(Error::InvalidData(format!(
            "{} has a header but no data rows",
            path.display()
        )));
    }
    Ok(RawTable {
        frame,
        sha256,
        path: path.to_path_buf(),
        columns,
        notes,
    })
}

/// Rows per Parquet batch of a whole-table read.
const PARQUET_BATCH_ROWS: usize = 1 << 18;

fn malformed(path: &Path, e: PolarsError) -> Error {
    Error::Malformed {
        path: path.to_path_buf(),
        reason: e
            .to_string()
            .lines()
            .next()
            .unwrap_or("parse error")
            .to_string(),
    }
}

/// Parses a whole CSV file (header included) with every column as text.
pub(crate) fn parse_csv(path: &Path, bytes: Vec<u8>) -> Result<DataFrame> {
    let bytes = drop_blank_crlf_lines(bytes);
    let body = strip_bom(&bytes);
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(Error::InvalidData(format!("{} is empty", path.display())));
    }
    // The header is looked for in its longest allowed length only: a quote that is never closed
    // is refused there, not searched for to the end of the file.
    let head = &body[..body.len().min(MAX_HEADER_BYTES + 1)];
    let header_end = record_end(head, 0).unwrap_or(head.len());
    let names = parse_header(path, &body[..header_end])?;
    check_field_counts(path, body, header_end, names.len())?;
    let schema = text_schema(&names);
    CsvReadOptions::default()
        .with_has_header(true)
        .with_schema(Some(schema))
        .with_raise_if_empty(false)
        .into_reader_with_file_handle(Cursor::new(body))
        .finish()
        .map_err(|e| malformed(path, e))
}

fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

fn text_schema(names: &[String]) -> SchemaRef {
    Arc::new(
        names
            .iter()
            .map(|n| Field::new(n.as_str().into(), DataType::String))
            .collect(),
    )
}

/// Reads a table in batches of rows, so that scoring a file of any size uses bounded memory.
pub struct TableBatches {
    path: PathBuf,
    columns: Vec<String>,
    notes: Vec<String>,
    rows_read: usize,
    source: BatchSource,
}

enum BatchSource {
    Csv {
        blocks: CsvBlocks,
        schema: SchemaRef,
    },
    Parquet(Box<ParquetBatches>),
}

impl TableBatches {
    /// Opens a table for batched reading. CSV batches are about `block_bytes` of text (a whole
    /// number of records); Parquet batches hold at most `batch_rows` rows.
    ///
    /// # Errors
    /// [`Error::Io`], [`Error::InvalidData`] for an empty file, [`Error::Malformed`] for a bad
    /// header or Parquet footer.
    pub fn open(path: &Path, block_bytes: usize, batch_rows: usize) -> Result<Self> {
        Self::open_columns(path, block_bytes, batch_rows, None)
    }

    /// As [`TableBatches::open`]; with `columns`, Parquet batches hold only those of them the
    /// file has (the others are never decoded) and asking for a column of a type RetentionAI
    /// does not read is an error naming it. Without, such columns are left out. CSV batches hold
    /// every column either way. Parquet files are read row group by row group: memory holds one
    /// batch and the compressed chunks of the row groups it spans, whatever the file's layout.
    ///
    /// # Errors
    /// As [`TableBatches::open`].
    pub fn open_columns(
        path: &Path,
        block_bytes: usize,
        batch_rows: usize,
        columns: Option<&[String]>,
    ) -> Result<Self> {
        match Format::of_path(path) {
            Format::Csv => {
                let blocks = CsvBlocks::open(path, block_bytes)?;
                Ok(TableBatches {
                    path: path.to_path_buf(),
                    columns: blocks.columns().to_vec(),
                    notes: Vec::new(),
                    source: BatchSource::Csv {
                        schema: text_schema(blocks.columns()),
                        blocks,
                    },
                    rows_read: 0,
                })
            }
            Format::Parquet => {
                let file = ParquetFile::open(path)?;
                let names = file.names();
                let (projection, notes) = file.projection(columns)?;
                Ok(TableBatches {
                    path: path.to_path_buf(),
                    columns: names,
                    notes,
                    rows_read: 0,
                    source: BatchSource::Parquet(Box::new(ParquetBatches::new(
                        file, projection, batch_rows,
                    ))),
                })
            }
        }
    }

    /// Column names of the file, in file order (batches may hold fewer, see
    /// [`TableBatches::open_columns`]).
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// What reading leaves out, as [`RawTable::notes`] says it (Parquet columns of types
    /// RetentionAI does not read, when no columns were asked for).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Rows returned so far.
    pub fn rows_read(&self) -> usize {
        self.rows_read
    }

    /// The next batch and the 0-based index of its first row, or `None` at the end.
    ///
    /// # Errors
    /// [`Error::Io`] or [`Error::Malformed`] (naming the row) when the data does not parse.
    pub fn next_batch(&mut self) -> Result<Option<(usize, DataFrame)>> {
        let first_row = self.rows_read;
        let frame = match &mut self.source {
            BatchSource::Csv { blocks, schema } => {
                let Some(chunk) = blocks.next_block().map_err(|e| offset_row(e, first_row))? else {
                    return Ok(None);
                };
                let chunk = drop_blank_crlf_lines(chunk);
                check_field_counts(&self.path, &chunk, 0, schema.len())
                    .map_err(|e| offset_row(e, first_row))?;
                CsvReadOptions::default()
                    .with_has_header(false)
                    .with_schema(Some(schema.clone()))
                    .with_raise_if_empty(false)
                    .into_reader_with_file_handle(Cursor::new(chunk))
                    .finish()
                    .map_err(|e| malformed(&self.path, e))?
            }
            BatchSource::Parquet(batches) => match batches.next_batch()? {
                Some(frame) => frame,
                None => return Ok(None),
            },
        };
        if frame.height() == 0 {
            return Ok(None);
        }
        self.rows_read += frame.height();
        Ok(Some((first_row, frame)))
    }
}

/// Shifts the row number of a batch-relative [`Error::Malformed`] or [`Error::InvalidValue`] to
/// the file's numbering.
pub(crate) fn offset_row(err: Error, first_row: usize) -> Error {
    match err {
        Error::InvalidValue {
            column,
            row,
            value,
            reason,
        } => Error::InvalidValue {
            column,
            row: row + first_row,
            value,
            reason,
        },
        Error::Malformed { path, reason } if first_row > 0 => {
            let reason = match reason.strip_prefix("row ").and_then(|r| {
                let digits: String = r.chars().take_while(|c| c.is_ascii_digit()).collect();
                digits
                    .parse::<usize>()
                    .ok()
                    .map(|n| (n, r[digits.len()..].to_string()))
            }) {
                Some((n, rest)) => format!("row {}{rest}", n + first_row),
                None => reason,
            };
            Error::Malformed { path, reason }
        }
        other => other,
    }
}

/// Writes a table atomically in the format of the path's extension.
///
/// # Errors
/// [`Error::Io`] or [`Error::Polars`]; nothing is left at `path` on error.
pub fn write_table(frame: &DataFrame, path: &Path) -> Result<()> {
    let mut sink = TableSink::create(path, frame.schema())?;
    sink.write(frame)?;
    sink.finish()
}

/// A table written batch by batch to a temporary file and renamed into place by
/// [`TableSink::finish`]. Dropped without `finish`, it leaves nothing behind.
pub struct TableSink {
    tmp: NamedTempFile,
    path: PathBuf,
    kind: SinkKind,
}

enum SinkKind {
    Csv {
        out: BufWriter<File>,
        wrote_header: bool,
    },
    Parquet {
        writer: Box<polars::io::parquet::write::BatchedWriter<File>>,
    },
}

impl TableSink {
    /// Starts a table at `path` (CSV or Parquet by extension) with the given column schema.
    ///
    /// # Errors
    /// [`Error::Io`] when the folder is missing or not writable.
    pub fn create(path: &Path, schema: &Schema) -> Result<Self> {
        let tmp = fsutil::temp_beside(path)?;
        let handle = tmp.reopen().map_err(|e| Error::io(path, e))?;
        let kind = match Format::of_path(path) {
            Format::Csv => SinkKind::Csv {
                out: BufWriter::with_capacity(1 << 20, handle),
                wrote_header: false,
            },
            Format::Parquet => SinkKind::Parquet {
                writer: Box::new(ParquetWriter::new(handle).batched(schema)?),
            },
        };
        Ok(TableSink {
            tmp,
            path: path.to_path_buf(),
            kind,
        })
    }

    /// Appends rows.
    ///
    /// # Errors
    /// [`Error::Io`] or [`Error::Polars`].
    pub fn write(&mut self, frame: &DataFrame) -> Result<()> {
        match &mut self.kind {
            SinkKind::Csv { out, wrote_header } => {
                let mut frame = frame.clone();
                CsvWriter::new(&mut *out)
                    .include_header(!*wrote_header)
                    .finish(&mut frame)?;
                *wrote_header = true;
            }
            SinkKind::Parquet { writer } => {
                if frame.should_rechunk() {
                    let mut aligned = frame.clone();
                    aligned.align_chunks();
                    writer.write_batch(&aligned)?;
                } else {
                    writer.write_batch(frame)?;
                }
            }
        }
        Ok(())
    }

    /// Completes the file and renames it into place.
    ///
    /// # Errors
    /// [`Error::Io`] or [`Error::Polars`]; the temporary file is removed on error.
    pub fn finish(self) -> Result<()> {
        match self.kind {
            SinkKind::Csv { mut out, .. } => {
                out.flush().map_err(|e| Error::io(&self.path, e))?;
            }
            SinkKind::Parquet { writer } => {
                writer.finish()?;
            }
        }
        fsutil::persist(self.tmp, &self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn reads_csv_as_text_and_keeps_blanks() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "t.csv", "id,x,y\na,1, \nb,\"2,5\",z\n");
        let t = read_table(&p).unwrap();
        assert_eq!(t.frame.height(), 2);
        let x = t.frame.column("x").unwrap().str().unwrap();
        assert_eq!(x.get(1), Some("2,5"));
        assert_eq!(t.frame.column("y").unwrap().dtype(), &DataType::String);
        assert_eq!(t.sha256.len(), 64);
    }

    #[test]
    fn refuses_empty_headerless_and_ragged_files() {
        let dir = tempfile::tempdir().unwrap();
        let e = read_table(&write(dir.path(), "e.csv", "")).unwrap_err();
        assert!(e.to_string().contains("is empty"), "{e}");
        let e = read_table(&write(dir.path(), "h.csv", "a,b\n")).unwrap_err();
        assert!(e.to_string().contains("no data rows"), "{e}");
        let e = read_table(&write(dir.path(), "r.csv", "a,b\n1,2\n3,4,5\n")).unwrap_err();
        assert!(e.to_string().contains("row 2 has 3 fields"), "{e}");
        let e = read_table(&write(dir.path(), "q.csv", "a,b\n1,\"2\n")).unwrap_err();
        assert!(e.to_string().contains("not closed"), "{e}");
        let e = read_table(&write(dir.path(), "d.csv", "a,a\n1,2\n")).unwrap_err();
        assert!(e.to_string().contains("appears twice"), "{e}");
    }

    #[test]
    fn batches_cover_every_row_once_even_with_quoted_newlines() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::from("id,note\n");
        for i in 0..2000 {
            text.push_str(&format!("{i},\"line one\nline two {i}\"\n"));
        }
        let p = write(dir.path(), "b.csv", &text);
        let mut batches = TableBatches::open(&p, 4096, 100).unwrap();
        assert_eq!(batches.columns(), &["id".to_string(), "note".to_string()]);
        let mut seen = 0;
        let mut n_batches = 0;
        while let Some((first, frame)) = batches.next_batch().unwrap() {
            assert_eq!(first, seen);
            let ids = frame.column("id").unwrap().str().unwrap();
            assert_eq!(ids.get(0), Some(seen.to_string().as_str()));
            seen += frame.height();
            n_batches += 1;
        }
        assert_eq!(seen, 2000);
        assert!(n_batches > 5, "expected several batches, got {n_batches}");
    }

    #[test]
    fn batched_errors_name_the_file_row() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::from("a,b\n");
        for i in 0..1000 {
            text.push_str(&format!("{i},x\n"));
        }
        text.push_str("1,2,3\n");
        let p = write(dir.path(), "bad.csv", &text);
        let mut batches = TableBatches::open(&p, 4096, 100).unwrap();
        let err = loop {
            match batches.next_batch() {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("no error"),
                Err(e) => break e,
            }
        };
        assert!(err.to_string().contains("row 1001 has 3 fields"), "{err}");
    }

    #[test]
    fn sink_round_trips_csv_and_parquet() {
        let dir = tempfile::tempdir().unwrap();
        let df = df!("a" => [1.5f64, 2.0], "b" => ["x", "y"]).unwrap();
        for name in ["o.csv", "o.parquet"] {
            let p = dir.path().join(name);
            let mut sink = TableSink::create(&p, df.schema()).unwrap();
            sink.write(&df).unwrap();
            sink.write(&df).unwrap();
            sink.finish().unwrap();
            let back = read_table(&p).unwrap().frame;
            assert_eq!(back.height(), 4, "{name}");
        }
        // Nothing but the two outputs remains (no temporary files).
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
