//! The Thrift compact-protocol walk that checks a footer and page headers before polars parses
//! them: every length within the bytes left, every column chunk within the file.

use super::*;

/// Why a footer or page header is refused.
pub(super) type Walk<T> = std::result::Result<T, String>;

/// Thrift compact-protocol bytes, walked with every length checked against the bytes left, so
/// that nothing a footer claims can exceed the footer itself.
pub(super) struct Compact<'a> {
    source: Source<'a>,
    len: usize,
    pos: usize,
}

/// Where the bytes walked are: in memory, or in a file (a footer is walked where it lies, never
/// loaded whole: it can be hundreds of megabytes for a file of many row groups).
pub(super) enum Source<'a> {
    Slice(&'a [u8]),
    File(std::io::BufReader<&'a File>),
}

impl<'a> Compact<'a> {
    pub(super) fn new(buf: &'a [u8]) -> Self {
        Compact {
            source: Source::Slice(buf),
            len: buf.len(),
            pos: 0,
        }
    }

    /// The `len` bytes of `file` from `offset`.
    pub(super) fn in_file(file: &'a File, offset: u64, len: usize) -> Walk<Self> {
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
pub(super) struct FooterIndex {
    pub(super) version: Option<(u8, Range<usize>)>,
    pub(super) schema: Option<(u8, Range<usize>)>,
    pub(super) key_values: Option<(u8, Range<usize>)>,
    pub(super) groups: Vec<(Range<usize>, usize)>,
}

/// Checks a footer (`FileMetaData`) before polars parses it: lengths fit the bytes left, row
/// counts are not negative, and every column chunk lies between the leading magic and
/// `data_end` (where the footer starts). Returns where its parts lie.
pub(super) fn check_footer(mut t: Compact<'_>, data_end: u64) -> Walk<FooterIndex> {
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

pub(super) fn non_negative(v: i64, what: &str) -> Walk<u64> {
    u64::try_from(v).map_err(|_| format!("{what} is negative ({v})"))
}

/// A `RowGroup`: its column chunks, and its row count (returned).
pub(super) fn check_row_group(t: &mut Compact<'_>, data_end: u64) -> Walk<u64> {
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
pub(super) fn check_column_meta(t: &mut Compact<'_>, data_end: u64) -> Walk<()> {
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
pub(super) fn check_pages(chunk: &[u8], num_values: i64) -> Walk<()> {
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
