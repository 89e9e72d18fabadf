//! Tests of `csv.rs`.

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
fn header_names_are_checked_in_linear_time_with_short_messages() {
    let cow = |v: &[&'static str]| v.iter().map(|s| Cow::Borrowed(*s)).collect::<Vec<_>>();
    assert_eq!(
        header_names(&cow(&[" id", "Churn "])).unwrap(),
        ["id", "Churn"]
    );
    let e = header_names(&cow(&["a", "b", "a"])).unwrap_err();
    assert_eq!(e, "column name 'a' appears twice (columns 1 and 3)");
    assert_eq!(
        header_names(&cow(&["a", " "])).unwrap_err(),
        "column 2 has no name"
    );
    // An unquoted carriage return is a CR-only line ending; a quoted one is text.
    assert_eq!(header_names(&cow(&["a", "b\rc"])).unwrap_err(), CR_ONLY);
    let quoted = vec![Cow::Borrowed("a"), Cow::Owned("b\rc".to_string())];
    assert!(header_names(&quoted).is_ok());
    let long = "n".repeat(MAX_NAME_BYTES + 1);
    let e = header_names(&[Cow::Borrowed(long.as_str())]).unwrap_err();
    assert!(e.len() < 200 && e.contains("longer than 1024 bytes"), "{e}");
    let long = "n".repeat(900);
    let e =
        header_names(&[Cow::Borrowed(long.as_str()), Cow::Borrowed(long.as_str())]).unwrap_err();
    assert!(e.len() < 200 && e.contains("appears twice"), "{e}");
    let many: Vec<Cow<str>> = (0..=MAX_COLUMNS)
        .map(|i| Cow::Owned(format!("c{i}")))
        .collect();
    assert!(header_names(&many).unwrap_err().contains("at most 100000"));
    // A million names with the repeat at the very end: a pairwise comparison would take
    // hours; a hash set takes a moment.
    let mut million: Vec<Cow<str>> = (0..1_000_000)
        .map(|i| Cow::Owned(format!("column_{i}")))
        .collect();
    million.push(Cow::Borrowed("column_999999"));
    let e = checked_names(&million).unwrap_err();
    assert!(e.contains("columns 1000000 and 1000001"), "{e}");
}

#[test]
fn headers_that_never_end_are_refused_once_too_long() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.csv");
    let rows = "1,2,3\n".repeat(MAX_HEADER_BYTES / 6 + 10);
    std::fs::write(&path, format!("a,\"b,c\n{rows}")).unwrap();
    let e = CsvBlocks::open(&path, 1 << 20).err().unwrap().to_string();
    assert!(
        e.contains("longer than 4 MiB: a quote in it is not closed"),
        "{e}"
    );
    std::fs::write(&path, format!("a,b,c\n{rows}").replace('\n', "\r")).unwrap();
    let e = CsvBlocks::open(&path, 1 << 20).err().unwrap().to_string();
    assert!(e.contains("CR-only"), "{e}");
    std::fs::write(&path, "a,b,c\r1,2,3\r4,5,6\r").unwrap();
    let e = CsvBlocks::open(&path, 1 << 20).err().unwrap().to_string();
    assert!(e.contains("CR-only"), "{e}");
    std::fs::write(&path, "a,\"b\r\nc\"\n1,2\n").unwrap();
    let blocks = CsvBlocks::open(&path, 1 << 20).unwrap();
    assert_eq!(blocks.columns(), ["a", "b\r\nc"]);
}

#[test]
fn the_scanner_finds_the_same_record_ends_in_pieces_as_at_once() {
    let text = b"a,\"b\nc\",d\n\"\"\"x\",y\n\nplain,row\nlast,\"open\n".to_vec();
    let whole = {
        let mut ends = Vec::new();
        let mut start = 0;
        while let Some(end) = record_end(&text, start) {
            ends.push(end);
            start = end;
        }
        ends
    };
    for piece in 1..text.len() {
        let mut scan = Scanner::default();
        let mut seen = Vec::new();
        let mut len = 0;
        while len < text.len() {
            len = (len + piece).min(text.len());
            scan.scan(&text[..len], false);
            if let Some(end) = scan.last_end {
                if seen.last() != Some(&end) {
                    seen.push(end);
                }
            }
        }
        assert_eq!(seen.last(), whole.last(), "piece {piece}");
        assert!(scan.in_quotes, "the last record's quote is open");
    }
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
