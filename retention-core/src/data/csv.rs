//! The CSV dialect RetentionAI reads and writes (comma-separated, RFC 4180 quoting, a header line,
//! optional UTF-8 byte-order mark): splitting files into blocks of whole records, records into
//! fields, and quoting fields on the way out. Frames are parsed by polars ([`super::io`]); streamed
//! scoring reads records directly with [`CsvBlocks`] and [`Records`].

use std::borrow::Cow;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A CSV file read as its header, then blocks of whole records of about `block_bytes` each.
pub struct CsvBlocks {
    path: PathBuf,
    file: File,
    columns: Vec<String>,
    carry: Vec<u8>,
    block_bytes: usize,
    eof: bool,
}

impl CsvBlocks {
    /// Opens a CSV file and reads its header line.
    ///
    /// # Errors
    /// [`Error::Io`], [`Error::InvalidData`] for an empty file, [`Error::Malformed`] for a bad
    /// header.
    pub fn open(path: &Path, block_bytes: usize) -> Result<Self> {
        let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
        let mut carry = Vec::new();
        // Read until the header line is complete.
        let header_end = loop {
            if let Some(end) = record_end(&carry, 0) {
                break end;
            }
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
        };
        let offset = if carry.starts_with(b"\xEF\xBB\xBF") {
            3
        } else {
            0
        };
        let columns = parse_header(path, &carry[offset..header_end])?;
        carry.drain(..header_end);
        Ok(CsvBlocks {
            path: path.to_path_buf(),
            file,
            columns,
            carry,
            block_bytes: block_bytes.max(1 << 12),
            eof: false,
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
    /// [`Error::Io`] when the file cannot be read.
    pub fn next_block(&mut self) -> Result<Option<Vec<u8>>> {
        let mut chunk = std::mem::take(&mut self.carry);
        let chunk_end = loop {
            if self.eof {
                break chunk.len();
            }
            if chunk.len() >= self.block_bytes {
                if let Some(end) = last_record_end(&chunk) {
                    break end;
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
        if chunk.iter().all(|b| b.is_ascii_whitespace()) {
            return Ok(None);
        }
        Ok(Some(chunk))
    }
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

/// Splits one CSV record into fields (RFC 4180 quoting).
pub(crate) fn split_record(line: &[u8]) -> std::result::Result<Vec<String>, &'static str> {
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

pub(crate) fn parse_header(path: &Path, line: &[u8]) -> Result<Vec<String>> {
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

/// End (just past the newline) of the last complete record in `bytes`, scanning quote state from
/// the start (which is a record boundary). Without quotes in `bytes` that is simply after the last
/// newline, found without looking at every byte.
pub(crate) fn last_record_end(bytes: &[u8]) -> Option<usize> {
    if memchr::memchr(b'"', bytes).is_none() {
        return memchr::memrchr(b'\n', bytes).map(|i| i + 1);
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_counts_without_quotes_agree_with_the_quote_aware_scan() {
        // The same records with and without a quoted first field: the first takes the
        // line-by-line path, the second the byte-by-byte one.
        let bodies = [
            "a,b,c\n1,2,3\n4,5,6\n",
            "a,b,c\n1,2,3\n4,5,6",
            "a,b,c\r\n1,2,3\r\n\r\n4,5,6\r\n",
            "a,b,c\n1,2,3\n\n4,5\n",
            "a,b,c\n1,2,3\n4,5,6,7\n8,9,10\n",
            "a,b,c\n1,2,3\n4,5,6\n7,,\n,\n",
            "a,b,c\n1,2,3\n4,5,6\n7",
        ];
        let path = Path::new("t.csv");
        for body in bodies {
            let header_end = body.find('\n').unwrap() + 1;
            let quoted = format!("{}\"{}", &body[..header_end], &body[header_end..])
                .replacen(",2,3", "\",2,3", 1);
            let fast = check_field_counts(path, body.as_bytes(), header_end, 3);
            let slow = check_field_counts(path, quoted.as_bytes(), header_end, 3);
            assert_eq!(
                fast.as_ref().map_err(|e| e.to_string()),
                slow.as_ref().map_err(|e| e.to_string()),
                "{body:?}"
            );
        }
        let err = check_field_counts(path, bodies[4].as_bytes(), 6, 3).unwrap_err();
        assert!(err.to_string().contains("row 2 has 4 fields"), "{err}");
        let err = check_field_counts(path, bodies[6].as_bytes(), 6, 3).unwrap_err();
        assert!(err.to_string().contains("row 3 has 1 fields"), "{err}");
    }

    fn records(text: &str) -> Vec<Vec<String>> {
        let mut reader = Records::new(text);
        let mut fields = Vec::new();
        let mut out = Vec::new();
        while let Some(read) = reader.next_into(&mut fields) {
            read.unwrap();
            out.push(fields.iter().map(|f| f.to_string()).collect());
        }
        out
    }

    #[test]
    fn records_split_plain_quoted_and_crlf_text_alike() {
        let plain = "a,b,c\n\n1,,3\r\n\r\nx,y,z";
        assert_eq!(
            records(plain),
            vec![vec!["a", "b", "c"], vec!["1", "", "3"], vec!["x", "y", "z"]]
        );
        let quoted = "a,\"b,1\",c\r\n\r\n\"say \"\"hi\"\"\",\"line\nbreak\",\n";
        assert_eq!(
            records(quoted),
            vec![vec!["a", "b,1", "c"], vec!["say \"hi\"", "line\nbreak", ""]]
        );
        let mut fields = Vec::new();
        assert_eq!(
            Records::new("a,\"open\n").next_into(&mut fields),
            Some(Err("a quoted field is not closed"))
        );
    }

    #[test]
    fn fields_are_quoted_only_when_needed() {
        let mut out = Vec::new();
        push_field(&mut out, b"plain");
        out.push(b',');
        push_field(&mut out, b"a,b");
        out.push(b',');
        push_field(&mut out, b"say \"hi\"");
        assert_eq!(out, b"plain,\"a,b\",\"say \"\"hi\"\"\"");
    }

    #[test]
    fn blank_crlf_lines_are_dropped_outside_quotes_only() {
        let text = b"\r\na,b\r\n\r\n\"x\r\n\r\ny\",z\r\n".to_vec();
        assert_eq!(drop_blank_crlf_lines(text), b"a,b\r\n\"x\r\n\r\ny\",z\r\n");
        let clean = b"a,b\n\nc,d\n".to_vec();
        assert_eq!(drop_blank_crlf_lines(clean.clone()), clean);
    }
}
