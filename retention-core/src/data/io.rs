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
}

/// Reads a whole CSV or Parquet file.
///
/// # Errors
/// [`Error::Io`] when the file cannot be read, [`Error::InvalidData`] when it is empty or has no
/// data rows, [`Error::Malformed`] when it does not parse.
pub fn read_table(path: &Path) -> Result<RawTable> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let sha256 = sha256_hex(&bytes);
    let frame = match Format::of_path(path) {
        Format::Csv => parse_csv(path, bytes)?,
        Format::Parquet => ParquetReader::new(Cursor::new(bytes))
            .finish()
            .map_err(|e| malformed(path, e))?,
    };
    if frame.width() == 0 {
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
    })
}

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
fn parse_csv(path: &Path, bytes: Vec<u8>) -> Result<DataFrame> {
    let body = strip_bom(&bytes);
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(Error::InvalidData(format!("{} is empty", path.display())));
    }
    let header_end = record_end(body, 0).unwrap_or(body.len());
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

/// Position just past the end of the record starting at `start` (after its newline), honouring
/// quotes, or `None` when the record runs to the end of the buffer without a newline.
fn record_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut in_quotes = false;
    for (i, &b) in bytes.iter().enumerate().skip(start) {
        match b {
            b'"' => in_quotes = !in_quotes,
            b'\n' if !in_quotes => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// Splits one CSV record into fields (RFC 4180 quoting).
fn split_record(line: &[u8]) -> std::result::Result<Vec<String>, &'static str> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let text = std::str::from_utf8(line).map_err(|_| "not valid UTF-8")?;
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut in_quotes = false;
    while let Some(c) = chars.next() {
        match (c, in_quotes) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => in_quotes = !in_quotes,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    if in_quotes {
        return Err("a quoted field is not closed");
    }
    fields.push(field);
    Ok(fields)
}

fn parse_header(path: &Path, line: &[u8]) -> Result<Vec<String>> {
    let names = split_record(line).map_err(|reason| Error::Malformed {
        path: path.to_path_buf(),
        reason: format!("header line: {reason}"),
    })?;
    let names: Vec<String> = names.into_iter().map(|n| n.trim().to_string()).collect();
    for (i, name) in names.iter().enumerate() {
        if name.is_empty() {
            return Err(Error::Malformed {
                path: path.to_path_buf(),
                reason: format!("header line: column {} has no name", i + 1),
            });
        }
        if names[..i].contains(name) {
            return Err(Error::Malformed {
                path: path.to_path_buf(),
                reason: format!("header line: column name '{name}' appears twice"),
            });
        }
    }
    Ok(names)
}

/// Checks that every record has as many fields as the header, naming the first that does not.
/// Runs over the bytes once; records are counted from 1 after the header.
fn check_field_counts(path: &Path, body: &[u8], data_start: usize, expected: usize) -> Result<()> {
    let mut row = 0usize;
    let mut fields = 1usize;
    let mut in_quotes = false;
    let mut blank = true;
    let finish = |row: usize, fields: usize, blank: bool, in_quotes: bool| -> Result<()> {
        if in_quotes {
            return Err(Error::Malformed {
                path: path.to_path_buf(),
                reason: format!("row {row}: a quoted field is not closed"),
            });
        }
        if !blank && fields != expected {
            return Err(Error::Malformed {
                path: path.to_path_buf(),
                reason: format!(
                    "row {row} has {fields} fields but the header has {expected} columns"
                ),
            });
        }
        Ok(())
    };
    for &b in &body[data_start..] {
        match b {
            b'"' => {
                in_quotes = !in_quotes;
                blank = false;
            }
            b',' if !in_quotes => {
                fields += 1;
                blank = false;
            }
            b'\n' if !in_quotes => {
                row += 1;
                finish(row, fields, blank, false)?;
                fields = 1;
                blank = true;
            }
            b'\r' => {}
            _ => blank = false,
        }
    }
    finish(row + 1, fields, blank, in_quotes)
}

/// Reads a table in batches of rows, so that scoring a file of any size uses bounded memory.
pub struct TableBatches {
    path: PathBuf,
    columns: Vec<String>,
    rows_read: usize,
    source: BatchSource,
}

enum BatchSource {
    Csv {
        file: File,
        schema: SchemaRef,
        carry: Vec<u8>,
        block_bytes: usize,
        eof: bool,
    },
    Parquet {
        batch_rows: usize,
        total_rows: usize,
    },
}

impl TableBatches {
    /// Opens a table for batched reading. CSV batches are about `block_bytes` of text (a whole
    /// number of records); Parquet batches hold `batch_rows` rows.
    ///
    /// # Errors
    /// [`Error::Io`], [`Error::InvalidData`] for an empty file, [`Error::Malformed`] for a bad
    /// header or Parquet footer.
    pub fn open(path: &Path, block_bytes: usize, batch_rows: usize) -> Result<Self> {
        let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
        match Format::of_path(path) {
            Format::Csv => {
                let mut carry = Vec::new();
                // Read until the header line is complete.
                let header_end = loop {
                    if let Some(end) = record_end(&carry, 0) {
                        break end;
                    }
                    let before = carry.len();
                    let n = (&mut file)
                        .take(8 << 10)
                        .read_to_end(&mut carry)
                        .map_err(|e| Error::io(path, e))?;
                    if n == 0 {
                        if carry.iter().all(|b| b.is_ascii_whitespace()) {
                            return Err(Error::InvalidData(format!("{} is empty", path.display())));
                        }
                        break carry.len();
                    }
                    debug_assert!(carry.len() > before);
                };
                let offset = if carry.starts_with(b"\xEF\xBB\xBF") {
                    3
                } else {
                    0
                };
                let columns = parse_header(path, &carry[offset..header_end])?;
                carry.drain(..header_end);
                Ok(TableBatches {
                    path: path.to_path_buf(),
                    source: BatchSource::Csv {
                        file,
                        schema: text_schema(&columns),
                        carry,
                        block_bytes: block_bytes.max(1 << 12),
                        eof: false,
                    },
                    columns,
                    rows_read: 0,
                })
            }
            Format::Parquet => {
                let mut reader = ParquetReader::new(file);
                let schema = reader.schema().map_err(|e| malformed(path, e))?;
                let total_rows = reader.num_rows().map_err(|e| malformed(path, e))?;
                Ok(TableBatches {
                    path: path.to_path_buf(),
                    columns: schema.iter_names().map(|n| n.to_string()).collect(),
                    rows_read: 0,
                    source: BatchSource::Parquet {
                        batch_rows: batch_rows.max(1),
                        total_rows,
                    },
                })
            }
        }
    }

    /// Column names, in file order.
    pub fn columns(&self) -> &[String] {
        &self.columns
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
            BatchSource::Csv {
                file,
                schema,
                carry,
                block_bytes,
                eof,
            } => {
                let mut chunk = std::mem::take(carry);
                let chunk_end = loop {
                    if *eof {
                        break chunk.len();
                    }
                    if chunk.len() >= *block_bytes {
                        if let Some(end) = last_record_end(&chunk) {
                            break end;
                        }
                    }
                    let n = file
                        .take(*block_bytes as u64)
                        .read_to_end(&mut chunk)
                        .map_err(|e| Error::io(&self.path, e))?;
                    if n == 0 {
                        *eof = true;
                    }
                };
                carry.extend_from_slice(&chunk[chunk_end..]);
                chunk.truncate(chunk_end);
                if chunk.iter().all(|b| b.is_ascii_whitespace()) {
                    return Ok(None);
                }
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
            BatchSource::Parquet {
                batch_rows,
                total_rows,
            } => {
                if first_row >= *total_rows {
                    return Ok(None);
                }
                let file = File::open(&self.path).map_err(|e| Error::io(&self.path, e))?;
                ParquetReader::new(file)
                    .with_slice(Some((first_row, *batch_rows)))
                    .finish()
                    .map_err(|e| malformed(&self.path, e))?
            }
        };
        if frame.height() == 0 {
            return Ok(None);
        }
        self.rows_read += frame.height();
        Ok(Some((first_row, frame)))
    }
}

/// Shifts the row number of a batch-relative [`Error::Malformed`] to the file's numbering.
fn offset_row(err: Error, first_row: usize) -> Error {
    match err {
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

/// End (just past the newline) of the last complete record in `bytes`, scanning quote state from
/// the start (which is a record boundary).
fn last_record_end(bytes: &[u8]) -> Option<usize> {
    let mut in_quotes = false;
    let mut last = None;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'"' => in_quotes = !in_quotes,
            b'\n' if !in_quotes => last = Some(i + 1),
            _ => {}
        }
    }
    last
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
