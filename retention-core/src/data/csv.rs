//! The CSV dialect RetentionAI reads and writes (comma-separated, RFC 4180 quoting, a header line,
//! optional UTF-8 byte-order mark): splitting files into blocks of whole records, records into
//! fields, and quoting fields on the way out. Frames are parsed by polars ([`super::io`]); streamed
//! scoring reads records directly with [`CsvBlocks`] and [`Records`].

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result, excerpt};

/// The longest header line read, in bytes: a longer "header" (a quote that is never closed, a
/// file without line feeds) is refused once this much is read, instead of being buffered whole.
pub const MAX_HEADER_BYTES: usize = 4 << 20;
/// The most columns a header may name.
pub const MAX_COLUMNS: usize = 100_000;
/// The longest column name, in bytes.
pub const MAX_NAME_BYTES: usize = 1024;
/// The longest record [`CsvBlocks`] reads, in bytes: a record still open past this (a quoted
/// field that is never closed) is refused, naming its row, instead of read to the end of the file.
pub const MAX_RECORD_BYTES: usize = 16 << 20;

/// The reason given for a file whose lines end in a carriage return alone.
const CR_ONLY: &str = "the line endings are CR-only (carriage returns without line feeds, as old Mac files write them); convert them to LF or CRLF";

/// Finds where records end in a buffer that only grows at its end (or loses whole records at its
/// start), looking at each byte once: the quote state is carried from one call to the next, so
/// reading a file in pieces stays linear in its size whatever its quotes.
#[derive(Debug, Default)]
struct Scanner {
    /// Bytes of the buffer scanned so far.
    pos: usize,
    /// Whether `pos` is inside a quoted field.
    in_quotes: bool,
    /// End (just past the newline) of the last complete record found.
    last_end: Option<usize>,
}

impl Scanner {
    /// Scans the bytes not yet seen; with `first`, stops at the first record end.
    fn scan(&mut self, bytes: &[u8], first: bool) {
        let new = &bytes[self.pos..];
        if !first && !self.in_quotes && memchr::memchr(b'"', new).is_none() {
            // No quotes: every newline ends a record, and only the last one matters.
            if let Some(i) = memchr::memrchr(b'\n', new) {
                self.last_end = Some(self.pos + i + 1);
            }
            self.pos = bytes.len();
            return;
        }
        for i in memchr::memchr2_iter(b'"', b'\n', new) {
            if new[i] == b'"' {
                self.in_quotes = !self.in_quotes;
            } else if !self.in_quotes {
                self.last_end = Some(self.pos + i + 1);
                if first {
                    self.pos += i + 1;
                    return;
                }
            }
        }
        self.pos = bytes.len();
    }

    /// The buffer lost its first `n` bytes, up to the last record end found.
    fn drained(&mut self, n: usize) {
        self.pos -= n;
        self.last_end = None;
    }
}

/// A CSV file read as its header, then blocks of whole records of about `block_bytes` each.
/// Reading is linear in the file's size, malformed or not; the header is bounded by
/// [`MAX_HEADER_BYTES`] and a record by [`MAX_RECORD_BYTES`].
pub struct CsvBlocks {
    path: PathBuf,
    file: File,
    columns: Vec<String>,
    carry: Vec<u8>,
    /// Record ends found in `carry`.
    scan: Scanner,
    block_bytes: usize,
    eof: bool,
}

impl CsvBlocks {
    /// Opens a CSV file and reads its header line.
    ///
    /// # Errors
    /// [`Error::Io`], [`Error::InvalidData`] for an empty file, [`Error::Malformed`] for a bad
    /// header (too long, too many columns, CR-only line endings, blank or repeated names).
    pub fn open(path: &Path, block_bytes: usize) -> Result<Self> {
        let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
        let mut carry = Vec::new();
        let mut scan = Scanner::default();
        let mut eof = false;
        // Read until the header line is complete, or too long to be a header.
        let header_end = loop {
            scan.scan(&carry, true);
            if let Some(end) = scan.last_end {
                break end;
            }
            if carry.len() > MAX_HEADER_BYTES {
                return Err(header_too_long(path, &carry));
            }
            if eof {
                if carry.iter().all(|b| b.is_ascii_whitespace()) {
                    return Err(Error::InvalidData(format!("{} is empty", path.display())));
                }
                break carry.len();
            }
            let n = (&mut file)
                .take(8 << 10)
                .read_to_end(&mut carry)
                .map_err(|e| Error::io(path, e))?;
            eof = n == 0;
        };
        let offset = if carry.starts_with(b"\xEF\xBB\xBF") {
            3
        } else {
            0
        };
        let columns = parse_header(path, &carry[offset..header_end])?;
        carry.drain(..header_end);
        scan.drained(header_end);
        Ok(CsvBlocks {
            path: path.to_path_buf(),
            file,
            columns,
            carry,
            scan,
            block_bytes: block_bytes.max(1 << 12),
            eof,
        })
    }

    /// The header's column names, in file order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The next block of whole records (ending with a newline unless it is the file's last), or
    /// `None` at the end. Blank blocks are skipped.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read; [`Error::Malformed`] naming row 1 (counted
    /// from the block's start, as every block-relative error) when a record runs past
    /// [`MAX_RECORD_BYTES`] without ending (a quote that is not closed).
    pub fn next_block(&mut self) -> Result<Option<Vec<u8>>> {
        loop {
            let mut chunk = std::mem::take(&mut self.carry);
            let chunk_end = loop {
                self.scan.scan(&chunk, false);
                if self.eof {
                    break chunk.len();
                }
                let complete = self.scan.last_end;
                if chunk.len() >= self.block_bytes {
                    if let Some(end) = complete {
                        break end;
                    }
                }
                if chunk.len() - complete.unwrap_or(0) > MAX_RECORD_BYTES {
                    // Return the whole records first, so that the error's row is 1.
                    match complete {
                        Some(end) => break end,
                        None => {
                            let quoted = self.scan.in_quotes;
                            self.carry = chunk;
                            return Err(Error::Malformed {
                                path: self.path.clone(),
                                reason: format!(
                                    "row 1: the record is longer than {} MiB{}",
                                    MAX_RECORD_BYTES >> 20,
                                    if quoted {
                                        ": a quoted field is not closed"
                                    } else {
                                        ""
                                    }
                                ),
                            });
                        }
                    }
                }
                let n = (&mut self.file)
                    .take(self.block_bytes as u64)
                    .read_to_end(&mut chunk)
                    .map_err(|e| Error::io(&self.path, e))?;
                if n == 0 {
                    self.eof = true;
                }
            };
            self.carry.extend_from_slice(&chunk[chunk_end..]);
            chunk.truncate(chunk_end);
            self.scan.drained(chunk_end);
            if !chunk.iter().all(|b| b.is_ascii_whitespace()) {
                return Ok(Some(chunk));
            }
            if self.eof && self.carry.is_empty() {
                return Ok(None);
            }
        }
    }
}

/// The error for a header line longer than [`MAX_HEADER_BYTES`], saying why when it can tell.
fn header_too_long(path: &Path, head: &[u8]) -> Error {
    let reason = if has_bare_cr(head) {
        CR_ONLY.to_string()
    } else {
        let quotes = memchr::memchr_iter(b'"', head).count();
        format!(
            "header line: longer than {} MiB{}",
            MAX_HEADER_BYTES >> 20,
            if quotes % 2 == 1 {
                ": a quote in it is not closed"
            } else {
                ""
            }
        )
    };
    Error::Malformed {
        path: path.to_path_buf(),
        reason,
    }
}

/// Whether a carriage return is followed by something other than a line feed.
fn has_bare_cr(bytes: &[u8]) -> bool {
    memchr::memchr_iter(b'\r', bytes).any(|i| bytes.get(i + 1).is_some_and(|&b| b != b'\n'))
}

/// Reads the records of a block of whole records into fields. Empty lines are skipped (as polars
/// does), so the `n`-th record read is data row `n` of the block. A block without quotes is
/// tokenised in one vectorised pass for commas and newlines; quoted blocks go record by record
/// through the quoting rules.
pub struct Records<'a> {
    text: &'a str,
    /// Start of the next record.
    pos: usize,
    /// Commas and newlines of an unquoted block, in order.
    separators: Option<memchr::Memchr2<'a>>,
}

impl<'a> Records<'a> {
    /// Reads the records of `text`.
    pub fn new(text: &'a str) -> Self {
        let bytes = text.as_bytes();
        let quoted = memchr::memchr(b'"', bytes).is_some();
        Records {
            text,
            pos: 0,
            separators: (!quoted).then(|| memchr::memchr2_iter(b',', b'\n', bytes)),
        }
    }

    /// Reads the next record into `fields` (cleared first); `None` at the end of the block.
    ///
    /// # Errors
    /// A reason when a quoted field is not closed.
    pub fn next_into(
        &mut self,
        fields: &mut Vec<Cow<'a, str>>,
    ) -> Option<std::result::Result<(), &'static str>> {
        let text = self.text;
        loop {
            if self.pos >= text.len() {
                return None;
            }
            fields.clear();
            let start = self.pos;
            let line_end = match &mut self.separators {
                Some(separators) => {
                    let mut from = start;
                    let mut end = text.len();
                    for i in separators.by_ref() {
                        if text.as_bytes()[i] == b'\n' {
                            end = i;
                            break;
                        }
                        fields.push(Cow::Borrowed(&text[from..i]));
                        from = i + 1;
                    }
                    let last = &text[from..end];
                    fields.push(Cow::Borrowed(last.strip_suffix('\r').unwrap_or(last)));
                    self.pos = end + 1;
                    end
                }
                None => {
                    let end = record_end(text.as_bytes(), start).map_or(text.len(), |e| e - 1);
                    self.pos = end + 1;
                    let line = &text[start..end];
                    if let Err(e) = split_fields(line.strip_suffix('\r').unwrap_or(line), fields) {
                        return Some(Err(e));
                    }
                    end
                }
            };
            // An empty line (or a lone carriage return) is no record.
            let line = &text[start..line_end];
            if !(line.is_empty() || line == "\r") {
                return Some(Ok(()));
            }
        }
    }
}

/// Splits one record (without its line ending) into `fields`, which is cleared first. Unquoted
/// fields are borrowed; quoted ones are unquoted (`""` → `"`).
///
/// # Errors
/// A reason when a quoted field is not closed.
pub fn split_fields<'a>(
    line: &'a str,
    fields: &mut Vec<Cow<'a, str>>,
) -> std::result::Result<(), &'static str> {
    fields.clear();
    let bytes = line.as_bytes();
    let mut start = 0;
    // One pass for commas; the first quote sends the rest to the quoting rules.
    for (i, &b) in bytes.iter().enumerate() {
        if b == b',' {
            fields.push(Cow::Borrowed(&line[start..i]));
            start = i + 1;
        } else if b == b'"' {
            return split_quoted(line, start, fields);
        }
    }
    fields.push(Cow::Borrowed(&line[start..]));
    Ok(())
}

/// The rest of [`split_fields`] from `start`, the first field that may hold quotes.
fn split_quoted<'a>(
    line: &'a str,
    mut start: usize,
    fields: &mut Vec<Cow<'a, str>>,
) -> std::result::Result<(), &'static str> {
    let mut field = String::new();
    let mut in_quotes = false;
    let mut quoted = false;
    let from = start;
    let mut chars = line
        .char_indices()
        .skip_while(|(i, _)| *i < from)
        .peekable();
    while let Some((i, c)) = chars.next() {
        match (c, in_quotes) {
            ('"', true) if chars.peek().map(|p| p.1) == Some('"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => {
                in_quotes = !in_quotes;
                quoted = true;
            }
            (',', false) => {
                fields.push(take_field(line, start, i, quoted, &mut field));
                quoted = false;
                start = i + 1;
            }
            (c, _) => field.push(c),
        }
    }
    if in_quotes {
        return Err("a quoted field is not closed");
    }
    fields.push(take_field(line, start, line.len(), quoted, &mut field));
    Ok(())
}

fn take_field<'a>(
    line: &'a str,
    start: usize,
    end: usize,
    quoted: bool,
    field: &mut String,
) -> Cow<'a, str> {
    if quoted {
        Cow::Owned(std::mem::take(field))
    } else {
        field.clear();
        Cow::Borrowed(&line[start..end])
    }
}

/// Removes the blank lines of a CRLF file (`\r\n` alone), which polars would read as a record of
/// blanks while it skips blank `\n` lines; the block is returned unchanged (not copied) when it
/// has none.
pub(crate) fn drop_blank_crlf_lines(block: Vec<u8>) -> Vec<u8> {
    let has_blank = block.starts_with(b"\r\n") || memchr::memmem::find(&block, b"\n\r\n").is_some();
    if !has_blank {
        return block;
    }
    let mut out = Vec::with_capacity(block.len());
    let mut start = 0;
    while start < block.len() {
        let end = record_end(&block, start).unwrap_or(block.len());
        if &block[start..end] != b"\r\n" {
            out.extend_from_slice(&block[start..end]);
        }
        start = end;
    }
    out
}

/// Appends a field to a CSV line, quoted when it holds a comma, a quote or a line break (as
/// polars writes it).
pub fn push_field(out: &mut Vec<u8>, text: &[u8]) {
    let needs_quotes = text
        .iter()
        .any(|&b| matches!(b, b',' | b'"' | b'\n' | b'\r'));
    if !needs_quotes {
        out.extend_from_slice(text);
        return;
    }
    out.push(b'"');
    for &b in text {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// Position just past the end of the record starting at `start` (after its newline), honouring
/// quotes, or `None` when the record runs to the end of the buffer without a newline.
pub(crate) fn record_end(bytes: &[u8], start: usize) -> Option<usize> {
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

/// Reads a header line (with or without its line ending) into column names.
///
/// # Errors
/// [`Error::Malformed`] for a line longer than [`MAX_HEADER_BYTES`], text that is not UTF-8, an
/// unclosed quote, and what [`header_names`] refuses.
pub(crate) fn parse_header(path: &Path, line: &[u8]) -> Result<Vec<String>> {
    let malformed = |reason: String| Error::Malformed {
        path: path.to_path_buf(),
        reason,
    };
    if line.len() > MAX_HEADER_BYTES {
        return Err(header_too_long(path, line));
    }
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let text = std::str::from_utf8(line).map_err(|e| {
        malformed(format!(
            "header line: not valid UTF-8 (byte {})",
            e.valid_up_to()
        ))
    })?;
    let mut fields = Vec::new();
    split_fields(text, &mut fields)
        .map_err(|reason| malformed(format!("header line: {reason}")))?;
    header_names(&fields).map_err(|reason| {
        if reason == CR_ONLY {
            malformed(reason)
        } else {
            malformed(format!("header line: {reason}"))
        }
    })
}

/// The column names of a header record split into fields (by [`split_fields`] or [`Records`]):
/// trimmed, each non-blank, at most [`MAX_NAME_BYTES`] long, no two alike, at most
/// [`MAX_COLUMNS`] of them. A carriage return in an unquoted name means the lines end in CR
/// alone. Linear in the header's length. Messages quote names through [`excerpt`].
///
/// # Errors
/// The reason, to be shown with the file's path or the request's row.
pub fn header_names(fields: &[Cow<'_, str>]) -> std::result::Result<Vec<String>, String> {
    if fields.len() > MAX_COLUMNS {
        return Err(format!(
            "{} columns; a table may have at most {MAX_COLUMNS}",
            fields.len()
        ));
    }
    checked_names(fields)
}

/// [`header_names`] but for the column count.
fn checked_names(fields: &[Cow<'_, str>]) -> std::result::Result<Vec<String>, String> {
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(fields.len());
    let mut names = Vec::with_capacity(fields.len());
    for (i, field) in fields.iter().enumerate() {
        // Unquoted fields are borrowed: only those can hold a line ending.
        if matches!(field, Cow::Borrowed(_)) && field.contains('\r') {
            return Err(CR_ONLY.to_string());
        }
        let name = field.trim();
        if name.is_empty() {
            return Err(format!("column {} has no name", i + 1));
        }
        if name.len() > MAX_NAME_BYTES {
            return Err(format!(
                "column {}'s name '{}' is longer than {MAX_NAME_BYTES} bytes",
                i + 1,
                excerpt(name)
            ));
        }
        if let Some(first) = seen.insert(name, i) {
            return Err(format!(
                "column name '{}' appears twice (columns {} and {})",
                excerpt(name),
                first + 1,
                i + 1
            ));
        }
        names.push(name.to_string());
    }
    Ok(names)
}

/// Checks that every record has as many fields as the header, naming the first that does not.
/// Runs over the bytes once; records are counted from 1 after the header.
pub(crate) fn check_field_counts(
    path: &Path,
    body: &[u8],
    data_start: usize,
    expected: usize,
) -> Result<()> {
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
    let data = &body[data_start..];
    if memchr::memchr(b'"', data).is_none() {
        // No quotes: every newline ends a record and every comma separates two fields, so count
        // commas line by line (a loop the compiler vectorises).
        let mut from = 0;
        let lines = memchr::memchr_iter(b'\n', data).chain(std::iter::once(data.len()));
        for (row, end) in lines.enumerate() {
            let line = &data[from..end];
            from = end + 1;
            let fields = 1 + line.iter().filter(|&&b| b == b',').count();
            if fields != expected {
                let blank = line.iter().all(|&b| b == b'\r');
                finish(row + 1, fields, blank, false)?;
            }
        }
        return Ok(());
    }
    for &b in data {
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

#[cfg(test)]
#[path = "csv_tests.rs"]
mod tests;
