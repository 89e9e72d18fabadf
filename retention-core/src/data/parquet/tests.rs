//! Tests of the Parquet reader: forged footers and pages, every Arrow type.

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
