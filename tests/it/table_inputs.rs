//! Reading customer tables: the CSV reader stays linear and bounded on malformed input, messages
//! quote only a short prefix of what was read, target labels and names match in any case without
//! ambiguity, and no command writes its output over one of its inputs.

use std::borrow::Cow;
use std::io::Write;
use std::path::{Path, PathBuf};

use polars::prelude::DataFrame;
use proptest::prelude::*;
use retention::data::csv::{CsvBlocks, Records, push_field};
use retention::data::{Dataset, SchemaOptions, TableBatches, read_table};
use retention::drift::{DriftOptions, DriftReport};
use retention::prelude::*;

use crate::util::{self, assert_fails_with, ok, run, stderr, telco, telco_col, telco_model};

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Writes `header`, then unquoted rows until the file holds `bytes`.
fn big_file(dir: &Path, name: &str, header: &str, bytes: usize) -> PathBuf {
    let p = dir.join(name);
    let mut out = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
    out.write_all(header.as_bytes()).unwrap();
    let row = b"1234,Month-to-month,29.85,No\n";
    for _ in 0..bytes / row.len() {
        out.write_all(row).unwrap();
    }
    out.flush().unwrap();
    p
}

/// Every batch of a table, or the first error.
fn all_batches(path: &Path, block_bytes: usize) -> retention::Result<Vec<DataFrame>> {
    let mut batches = TableBatches::open(path, block_bytes, 1000)?;
    let mut out = Vec::new();
    while let Some((_, frame)) = batches.next_batch()? {
        out.push(frame);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Item 11: linear reading, bounded headers and records.

#[test]
fn a_stray_quote_in_the_header_is_refused_without_reading_the_whole_file() {
    // 64 MB after a header whose quote never closes. Reading 8 KB at a time and rescanning from
    // the start each time took minutes; now the header is refused once it passes 4 MiB.
    let dir = util::tempdir();
    let p = big_file(
        dir.path(),
        "stray.csv",
        "id,\"Contract,MonthlyCharges,Churn\n",
        64 << 20,
    );
    let streamed = TableBatches::open(&p, 16 << 20, 1000).err().unwrap();
    let whole = read_table(&p).unwrap_err();
    for e in [streamed.to_string(), whole.to_string()] {
        assert!(
            e.contains("header line: longer than 4 MiB: a quote in it is not closed"),
            "{e}"
        );
        assert!(e.len() < 200, "{e}");
    }
    let o = util::run([
        "score".as_ref(),
        "--model".as_ref(),
        telco_model().as_os_str(),
        "--data".as_ref(),
        p.as_os_str(),
        "--out".as_ref(),
        dir.path().join("s.csv").as_os_str(),
    ]);
    assert_fails_with(&o, "longer than 4 MiB");
}

/// The Telco table with an unclosed quote opening row `row` (1-based) and at least `bytes` of
/// Telco rows after it.
fn telco_with_unclosed_quote(dir: &Path, row: usize, bytes: usize) -> PathBuf {
    let text = util::telco_text();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    let mut out = format!("{header}\n");
    for (i, line) in rows.iter().enumerate().take(row - 1) {
        // Fresh ids, so that no id repeats.
        out.push_str(&line.replacen('-', &format!("-{i}x"), 1));
        out.push('\n');
    }
    let gender = telco_col("gender");
    let mut fields: Vec<&str> = rows[0].split(',').collect();
    let opened = format!("\"{}", fields[gender]);
    fields[gender] = &opened;
    out.push_str(&fields.join(","));
    out.push('\n');
    let mut k = 0;
    while out.len() < bytes {
        out.push_str(rows[k % rows.len()]);
        out.push('\n');
        k += 1;
    }
    write(dir, "unclosed.csv", out.as_bytes())
}

#[test]
fn an_unclosed_quote_is_reported_by_row_instead_of_slurping_the_file() {
    let dir = util::tempdir();
    let p = telco_with_unclosed_quote(dir.path(), 1001, 24 << 20);
    // Batches of frames (any scorer, logging) and the streamed CSV scorer name the same row,
    // having read at most one record's limit past it.
    let e = all_batches(&p, 1 << 20).unwrap_err().to_string();
    assert!(
        e.contains("row 1001: the record is longer than 16 MiB: a quoted field is not closed"),
        "{e}"
    );
    let model = ChurnModel::load(telco_model()).unwrap();
    let out = dir.path().join("scores.csv");
    let e = model
        .score_file(&p, &out, &ScoreOptions::default(), &|_| {})
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("row 1001: the record is longer than 16 MiB"),
        "{e}"
    );
    assert!(!out.exists(), "no half-written output");
    // The same quote before the end of a smaller file is reported by the record parser.
    let p = telco_with_unclosed_quote(dir.path(), 1001, 2 << 20);
    let e = model
        .score_file(&p, &out, &ScoreOptions::default(), &|_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("row 1001: a quoted field is not closed"), "{e}");
    let e = read_table(&p).unwrap_err().to_string();
    assert!(e.contains("row 1001: a quoted field is not closed"), "{e}");
}

#[test]
fn the_record_parser_is_linear_on_malformed_text() {
    // The HTTP batch body goes through `Records` as one text: quotes every few bytes, a quote
    // that never closes, no newline at all. Each completes in one pass.
    let n = 8 << 20;
    let bodies = [
        "a,\"b\n".repeat(n / 5),
        format!("a,b\n{}", "x\",".repeat(n / 3)),
        "\"".repeat(n),
        "x,".repeat(n / 2),
    ];
    for body in &bodies {
        let mut records = Records::new(body);
        let mut fields = Vec::new();
        let mut read = 0;
        while let Some(r) = records.next_into(&mut fields) {
            read += usize::from(r.is_ok());
            assert!(read <= n);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Item 19 (CSV): headers, line endings, messages.

#[test]
fn cr_only_line_endings_are_named_as_such() {
    let dir = util::tempdir();
    // Read as one line, this header repeated "a": the old message said a column appears twice.
    let p = write(
        dir.path(),
        "mac.csv",
        b"id,x,Churn\r1,a,Yes\r2,a,No\r3,a,Yes\r",
    );
    let e = read_table(&p).unwrap_err().to_string();
    assert!(e.contains("the line endings are CR-only"), "{e}");
    let e = all_batches(&p, 1 << 20).unwrap_err().to_string();
    assert!(e.contains("the line endings are CR-only"), "{e}");
    let o = run([
        "train".as_ref(),
        "--data".as_ref(),
        p.as_os_str(),
        "--out".as_ref(),
        dir.path().join("m.json").as_os_str(),
    ]);
    assert_fails_with(&o, "CR-only");
    // CRLF files are fine.
    let p = write(
        dir.path(),
        "dos.csv",
        b"id,x,Churn\r\n1,a,Yes\r\n2,b,No\r\n",
    );
    assert_eq!(read_table(&p).unwrap().frame.height(), 2);
}

#[test]
fn messages_quote_only_a_prefix_of_long_names_and_values() {
    let dir = util::tempdir();
    // Two 900-byte names alike, and a 5 MB cell in a numeric column.
    let name = "n".repeat(900);
    let p = write(
        dir.path(),
        "names.csv",
        format!("{name},{name},Churn\n1,2,Yes\n").as_bytes(),
    );
    let e = read_table(&p).unwrap_err().to_string();
    assert!(e.contains("appears twice") && e.len() < 300, "{e}");
    let big = "7".repeat(5 << 20) + "x";
    let mut text = String::from("tenure,plan,Churn\n");
    for i in 0..40 {
        text.push_str(&format!(
            "{i},a,{}\n",
            if i % 2 == 0 { "Yes" } else { "No" }
        ));
    }
    text.push_str(&format!("{big},b,No\n"));
    let p = write(dir.path(), "cell.csv", text.as_bytes());
    let options = SchemaOptions {
        numeric: vec!["tenure".into()],
        ..Default::default()
    };
    let e = Dataset::load(&p, &options).unwrap_err();
    let message = e.to_string();
    assert!(
        message.contains("'tenure', row 41") && message.contains("(5242881 bytes)"),
        "{}",
        &message[..message.len().min(300)]
    );
    assert!(message.len() < 300, "{} bytes", message.len());
    // The error keeps the whole value for programs.
    assert!(matches!(e, Error::InvalidValue { value, .. } if value.len() == big.len()));
}

#[test]
fn too_many_columns_are_refused_by_count() {
    let dir = util::tempdir();
    let names: Vec<String> = (0..100_001).map(|i| format!("c{i}")).collect();
    let p = write(
        dir.path(),
        "wide.csv",
        format!("{}\n", names.join(",")).as_bytes(),
    );
    let e = read_table(&p).unwrap_err().to_string();
    assert!(
        e.contains("100001 columns; a table may have at most 100000"),
        "{e}"
    );
}

// ---------------------------------------------------------------------------------------------
// Item 12: labels in any case.

/// Telco with its Churn labels respelled: `Yes`/`No` → `spell(row, label)`.
fn telco_relabelled(dir: &Path, name: &str, spell: impl Fn(usize, &str) -> String) -> PathBuf {
    let churn = telco_col("Churn");
    util::telco_edited(dir, name, |i, f| f[churn] = spell(i, &f[churn]))
}

#[test]
fn labels_that_differ_only_in_case_are_one_label_everywhere() {
    let dir = util::tempdir();
    // As public churn tables have them: TRUE and True, FALSE and False in one column.
    let mixed = telco_relabelled(dir.path(), "mixed.csv", |i, l| {
        match (l == "Yes", i % 2 == 0) {
            (true, true) => "TRUE",
            (true, false) => "True",
            (false, true) => "FALSE",
            (false, false) => " False",
        }
        .to_string()
    });
    let ds = Dataset::load(&mixed, &SchemaOptions::new()).unwrap();
    let reference = util::telco_dataset();
    assert_eq!(ds.target, reference.target);

    let model = dir.path().join("m.json");
    ok(&run([
        "train".as_ref(),
        "--data".as_ref(),
        mixed.as_os_str(),
        "--algorithm".as_ref(),
        "logistic".as_ref(),
        "--cv".as_ref(),
        "2".as_ref(),
        "--positive-label".as_ref(),
        "true".as_ref(),
        "--out".as_ref(),
        model.as_os_str(),
    ]));
    // A model trained on Yes/No evaluates a table that says YES/no, and drift measures it.
    let shouting = telco_relabelled(dir.path(), "shouting.csv", |i, l| {
        if i % 3 == 0 {
            l.to_uppercase()
        } else {
            l.to_lowercase()
        }
    });
    let telco_model = ChurnModel::load(telco_model()).unwrap();
    let raw = read_table(&shouting).unwrap().frame;
    let (metrics, _) = telco_model.evaluate(&raw).unwrap();
    let (expected, _) = telco_model
        .evaluate(&read_table(&telco()).unwrap().frame)
        .unwrap();
    assert_eq!(metrics.confusion, expected.confusion);
    let reference = read_table(&telco()).unwrap().frame;
    let report = DriftReport::compute(
        &reference,
        &raw,
        Some(&telco_model),
        &DriftOptions::default(),
    )
    .unwrap();
    let measured = report.prediction.unwrap().realised_current;
    assert!(measured.is_some(), "drift measured the labelled table");
}

// ---------------------------------------------------------------------------------------------
// Item 18: target and id names that match two columns.

#[test]
fn a_target_or_id_name_matching_two_columns_is_refused() {
    let dir = util::tempdir();
    let text = "customerID,tenure,plan,Churn,churn\n\
                a,1,x,Yes,Yes\nb,5,y,No,No\nc,9,x,Yes,Yes\nd,2,y,No,No\ne,4,x,No,No\n";
    let p = write(dir.path(), "twins.csv", text.as_bytes());
    let raw = read_table(&p).unwrap().frame;
    for options in [SchemaOptions::new(), SchemaOptions::new().target("churn")] {
        let e = Dataset::infer(&raw, &options).unwrap_err().to_string();
        assert!(
            e.contains("target name matches two columns")
                && e.contains("'Churn'")
                && e.contains("'churn'"),
            "{e}"
        );
    }
    // Ignoring the other settles it.
    let settled = SchemaOptions {
        target: Some("Churn".into()),
        ignore: vec!["churn".into()],
        ..Default::default()
    };
    let ds = Dataset::infer(&raw, &settled).unwrap();
    assert_eq!(ds.schema.target(), Some("Churn"));
    assert!(ds.schema.feature_names().iter().all(|f| *f != "churn"));
    // Drift infers roles the same way.
    let e = retention::data::infer_schema(&raw, &SchemaOptions::new()).unwrap_err();
    assert!(e.to_string().contains("matches two columns"), "{e}");

    let text = "customerID,CustomerId,tenure,Churn\n\
                a,a,1,Yes\nb,b,5,No\nc,c,9,Yes\nd,d,2,No\n";
    let p = write(dir.path(), "ids.csv", text.as_bytes());
    let raw = read_table(&p).unwrap().frame;
    for options in [SchemaOptions::new(), SchemaOptions::new().id("customerID")] {
        let e = Dataset::infer(&raw, &options).unwrap_err().to_string();
        assert!(
            e.contains("id name matches two columns")
                && e.contains("'customerID'")
                && e.contains("'CustomerId'"),
            "{e}"
        );
    }
    let o = run([
        "train".as_ref(),
        "--data".as_ref(),
        p.as_os_str(),
        "--out".as_ref(),
        dir.path().join("m.json").as_os_str(),
    ]);
    assert_fails_with(&o, "matches two columns");
}

// ---------------------------------------------------------------------------------------------
// Item 16: outputs never overwrite inputs.

/// Runs `args` (with `RETENTIONAI_DB=db`), expects a refusal naming `output` and `input`, and
/// checks that every file in `unchanged` kept its bytes.
fn refused_over_input(db: &Path, args: &[&Path], output: &Path, input: &Path, unchanged: &[&Path]) {
    let before: Vec<Vec<u8>> = unchanged
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    let o = util::ret(
        db,
        &args.iter().map(|a| a.to_str().unwrap()).collect::<Vec<_>>(),
    );
    assert_fails_with(&o, "is the same file as the input");
    let err = stderr(&o);
    assert!(
        err.contains(&output.display().to_string()) && err.contains(&input.display().to_string()),
        "{err}"
    );
    for (p, bytes) in unchanged.iter().zip(before) {
        assert_eq!(std::fs::read(p).unwrap(), bytes, "{} changed", p.display());
    }
}

#[test]
fn no_command_writes_its_output_over_one_of_its_inputs() {
    let dir = util::tempdir();
    let d = dir.path();
    let data = d.join("in.csv");
    std::fs::copy(telco(), &data).unwrap();
    let model = d.join("model.json");
    std::fs::copy(telco_model(), &model).unwrap();
    let db = d.join("ops.db");
    let p = |s: &'static str| Path::new(s);
    let all = [data.as_path(), model.as_path()];

    // score onto its data, onto its model file.
    let score = |out: &Path| -> Vec<PathBuf> {
        [
            "score",
            "--model",
            model.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--out",
        ]
        .iter()
        .map(PathBuf::from)
        .chain([out.to_path_buf()])
        .collect()
    };
    let args = score(&data);
    let args: Vec<&Path> = args.iter().map(|a| a.as_path()).collect();
    refused_over_input(&db, &args, &data, &data, &all);
    let args = score(&model);
    let args: Vec<&Path> = args.iter().map(|a| a.as_path()).collect();
    refused_over_input(&db, &args, &model, &model, &all);

    // The same file under another name: a hard link and a symbolic link to the data.
    #[cfg(unix)]
    {
        let hard = d.join("hard.csv");
        std::fs::hard_link(&data, &hard).unwrap();
        let soft = d.join("soft.csv");
        std::os::unix::fs::symlink(&data, &soft).unwrap();
        for link in [&hard, &soft] {
            let args = score(link);
            let args: Vec<&Path> = args.iter().map(|a| a.as_path()).collect();
            refused_over_input(&db, &args, link, &data, &all);
        }
    }

    // train onto its data; drift onto its reference; explain and generate onto theirs.
    refused_over_input(
        &db,
        &[p("train"), p("--data"), &data, p("--out"), &data],
        &data,
        &data,
        &all,
    );
    refused_over_input(
        &db,
        &[
            p("drift"),
            p("--reference"),
            &data,
            p("--current"),
            &telco(),
            p("--out"),
            &data,
        ],
        &data,
        &data,
        &all,
    );
    refused_over_input(
        &db,
        &[
            p("explain"),
            p("--model"),
            &model,
            p("--data"),
            &data,
            p("--out"),
            &model,
        ],
        &model,
        &model,
        &all,
    );
    refused_over_input(
        &db,
        &[
            p("generate"),
            p("--rows"),
            p("10"),
            p("--like"),
            &data,
            p("--out"),
            &data,
        ],
        &data,
        &data,
        &all,
    );

    // The operations database is an input of the commands that read it.
    ok(&util::ret(
        &db,
        &["model", "register", model.to_str().unwrap()],
    ));
    let db_bytes = std::fs::read(&db).unwrap();
    refused_over_input(
        &db,
        &[
            p("gdpr"),
            p("export"),
            p("--customer-id"),
            p("7590-VHVEG"),
            p("--out"),
            &db,
        ],
        &db,
        &db,
        &all,
    );
    refused_over_input(
        &db,
        &[
            p("score"),
            p("--model"),
            p("1"),
            p("--data"),
            &data,
            p("--out"),
            &db,
        ],
        &db,
        &db,
        &all,
    );
    assert_eq!(std::fs::read(&db).unwrap(), db_bytes);

    // The library refuses too, whoever calls it.
    let m = ChurnModel::load(&model).unwrap();
    let e = m
        .score_file(&data, &data, &ScoreOptions::default(), &|_| {})
        .unwrap_err();
    assert!(
        e.to_string().contains("is the same file as the input"),
        "{e}"
    );

    // A fresh output is fine.
    let out = d.join("scores.csv");
    let args = score(&out);
    ok(&util::ret(
        &db,
        &args.iter().map(|a| a.to_str().unwrap()).collect::<Vec<_>>(),
    ));
}

// ---------------------------------------------------------------------------------------------
// Property tests: arbitrary bytes never panic; valid CSV reads the same on both paths.

/// Every readable cell of a CSV file through the streaming path: header, then the records of
/// every block.
fn stream_cells(path: &Path, block_bytes: usize) -> Result<(Vec<String>, Vec<Vec<String>>)> {
    let mut blocks = CsvBlocks::open(path, block_bytes)?;
    let header = blocks.columns().to_vec();
    let mut rows = Vec::new();
    while let Some(block) = blocks.next_block()? {
        let text =
            std::str::from_utf8(&block).map_err(|_| Error::InvalidData("not UTF-8".into()))?;
        let mut records = Records::new(text);
        let mut fields: Vec<Cow<str>> = Vec::new();
        while let Some(read) = records.next_into(&mut fields) {
            read.map_err(|e| Error::InvalidData(e.into()))?;
            rows.push(fields.iter().map(|f| f.to_string()).collect());
        }
    }
    Ok((header, rows))
}

/// Every cell of a frame as text (a null is an empty cell).
fn frame_cells(frames: &[DataFrame]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut rows = Vec::new();
    let header = frames
        .first()
        .map(|f| f.get_column_names().iter().map(|n| n.to_string()).collect())
        .unwrap_or_default();
    for frame in frames {
        let columns: Vec<_> = frame
            .columns()
            .iter()
            .map(|c| c.str().unwrap().clone())
            .collect();
        for i in 0..frame.height() {
            rows.push(
                columns
                    .iter()
                    .map(|c| c.get(i).unwrap_or("").to_string())
                    .collect(),
            );
        }
    }
    (header, rows)
}

/// Bytes that look enough like CSV to reach every branch: separators, quotes, line endings.
fn csvish_bytes() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        4 => prop::sample::select(b"a1,\"\n\r ".to_vec()),
        1 => any::<u8>(),
    ];
    prop::collection::vec(byte, 0..3000)
}

/// A cell: plain text, or text needing quotes (commas, quotes, line breaks), or empty.
fn cell() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "a", "Yes", "12.5", " ", ",", "\"", "\n", "\r\n", "é", "x y", "\"\"", "-",
    ]);
    prop::collection::vec(piece, 0..6).prop_map(|p| p.concat())
}

/// A valid table: 2 to 5 columns (so that no row is an empty line, which both readers skip), 1
/// to 60 rows, LF or CRLF, with or without a byte-order mark.
fn table() -> impl Strategy<Value = (Vec<Vec<String>>, bool, bool)> {
    (2usize..6, 1usize..60).prop_flat_map(|(cols, rows)| {
        (
            prop::collection::vec(prop::collection::vec(cell(), cols), rows),
            any::<bool>(),
            any::<bool>(),
        )
    })
}

fn render(rows: &[Vec<String>], crlf: bool, bom: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if bom {
        out.extend_from_slice(b"\xEF\xBB\xBF");
    }
    let names: Vec<String> = (0..rows[0].len()).map(|i| format!("c{i}")).collect();
    out.extend_from_slice(names.join(",").as_bytes());
    for row in rows {
        out.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
        for (i, c) in row.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_field(&mut out, c.as_bytes());
        }
    }
    out.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn arbitrary_bytes_never_panic_any_reader(bytes in csvish_bytes()) {
        let dir = util::tempdir();
        let p = write(dir.path(), "t.csv", &bytes);
        let _ = read_table(&p);
        let _ = all_batches(&p, 4096);
        let _ = stream_cells(&p, 4096);
        let text = String::from_utf8_lossy(&bytes);
        let mut records = Records::new(&text);
        let mut fields = Vec::new();
        while records.next_into(&mut fields).is_some() {
            let _ = retention::data::csv::header_names(&fields);
        }
    }

    #[test]
    fn valid_csv_reads_the_same_cells_on_every_path((rows, crlf, bom) in table()) {
        let dir = util::tempdir();
        let p = write(dir.path(), "t.csv", &render(&rows, crlf, bom));
        let names: Vec<String> = (0..rows[0].len()).map(|i| format!("c{i}")).collect();
        let (header, streamed) = stream_cells(&p, 4096).unwrap();
        prop_assert_eq!(&header, &names);
        prop_assert_eq!(&streamed, &rows);
        let whole = frame_cells(&[read_table(&p).unwrap().frame]);
        prop_assert_eq!(&whole.0, &names);
        prop_assert_eq!(&whole.1, &rows);
        let batched = frame_cells(&all_batches(&p, 4096).unwrap());
        prop_assert_eq!(&batched.1, &rows);
    }
}
