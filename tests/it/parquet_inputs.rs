//! Parquet files as untrusted input, and non-finite numbers: NaN is a missing value and an
//! infinity is refused (column and row) whatever the format or path; every Arrow type is read or
//! refused by name, and a model's unused columns are never decoded; forged footers and corrupt
//! bytes give errors, never a panic, an abort or a huge allocation; batches stream whatever the
//! row-group layout.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use polars::prelude::*;
use retention::data::{Dataset, SchemaOptions, TableBatches, read_table};
use retention::model::ChurnModel;

use crate::util::{self, assert_fails_with, stderr, stdout, telco_col, telco_edited};

/// The committed fixtures written by `tests/data/parquet/make_fixtures.py` (pyarrow).
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/parquet")
        .join(name)
}

/// Runs `retention` (database `db`) and waits for it; a run still going after `limit` is killed
/// and reported as hanging (the limit only bounds a broken build, it measures nothing).
fn run_to_end(db: &Path, args: &[&str], limit: Duration) -> Output {
    util::run_bounded(db, args, limit)
}

const LIMIT: Duration = Duration::from_secs(600);

fn p(path: &Path) -> &str {
    path.to_str().expect("UTF-8 temporary path")
}

/// The Telco table with its numeric columns typed as Parquet writers type them, `edit`ed, and
/// written to `dir/name`.
fn telco_parquet(dir: &Path, name: &str, edit: impl FnOnce(&mut DataFrame)) -> PathBuf {
    let mut frame = read_table(&util::telco()).expect("read Telco").frame;
    for (column, dtype) in [
        ("tenure", DataType::Int64),
        ("MonthlyCharges", DataType::Float64),
        ("TotalCharges", DataType::Float64),
    ] {
        let typed = frame.column(column).unwrap().cast(&dtype).unwrap();
        frame.with_column(typed).unwrap();
    }
    edit(&mut frame);
    let path = dir.join(name);
    let mut file = std::fs::File::create(&path).unwrap();
    ParquetWriter::new(&mut file).finish(&mut frame).unwrap();
    path
}

/// Replaces cells of a float column.
fn set_floats(frame: &mut DataFrame, column: &str, rows: std::ops::Range<usize>, value: f64) {
    let values: Vec<Option<f64>> = frame
        .column(column)
        .unwrap()
        .f64()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, v)| if rows.contains(&i) { Some(value) } else { v })
        .collect();
    frame
        .with_column(Column::new(column.into(), values))
        .unwrap();
}

fn score(db: &Path, model: &Path, data: &Path, out: &Path) -> Output {
    run_to_end(
        db,
        &[
            "score",
            "--model",
            p(model),
            "--data",
            p(data),
            "--out",
            p(out),
            "--show",
            "0",
        ],
        LIMIT,
    )
}

#[test]
fn nan_is_missing_in_every_format_and_no_metric_hangs_on_it() {
    let dir = util::tempdir();
    let db = dir.path().join("ops.db");
    let model = util::telco_model();
    let (monthly, total) = (telco_col("MonthlyCharges"), telco_col("TotalCharges"));
    let nan = telco_parquet(dir.path(), "nan.parquet", |f| {
        set_floats(f, "MonthlyCharges", 0..10, f64::NAN);
        set_floats(f, "TotalCharges", 5..15, -f64::NAN);
    });
    let blank = telco_edited(dir.path(), "blank.csv", |i, fields| {
        if i < 10 {
            fields[monthly] = String::new();
        }
        if (5..15).contains(&i) {
            fields[total] = " ".into();
        }
    });
    let text = telco_edited(dir.path(), "nan_text.csv", |i, fields| {
        if i < 10 {
            fields[monthly] = ["NaN", "nan", " NAN "][i % 3].into();
        }
        if (5..15).contains(&i) {
            fields[total] = "-nan".into();
        }
    });
    // Scored from Parquet (frames) and from CSV (streamed rows): the same bytes, NaN = blank.
    let mut outputs = Vec::new();
    for (k, data) in [&nan, &blank, &text].into_iter().enumerate() {
        let out = dir.path().join(format!("scores{k}.csv"));
        util::ok(&score(&db, model, data, &out));
        outputs.push(std::fs::read_to_string(&out).unwrap());
    }
    assert!(!outputs[0].contains("NaN"), "a NaN probability was written");
    assert_eq!(outputs[0], outputs[1], "Parquet NaN scored unlike a blank");
    assert_eq!(outputs[2], outputs[1], "text NaN scored unlike a blank");

    // Evaluation and drift with the model finish (the average precision used to loop forever
    // on a NaN probability) and measure the NaN table as the blank one.
    let evaluate = |data: &Path| {
        let o = run_to_end(
            &db,
            &["evaluate", "--model", p(model), "--data", p(data), "--json"],
            LIMIT,
        );
        serde_json::from_str::<serde_json::Value>(&util::ok(&o)).unwrap()
    };
    let (from_nan, from_blank) = (evaluate(&nan), evaluate(&blank));
    assert_eq!(from_nan, from_blank);
    assert!(from_nan["pr_auc"].as_f64().unwrap().is_finite());
    let o = run_to_end(
        &db,
        &[
            "drift",
            "--model",
            p(model),
            "--reference",
            p(&util::telco()),
            "--current",
            p(&nan),
            "--json",
        ],
        LIMIT,
    );
    assert!(matches!(o.status.code(), Some(0 | 3)), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let monthly_drift = report["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["column"] == "MonthlyCharges")
        .expect("MonthlyCharges compared");
    assert!(monthly_drift["psi"].as_f64().unwrap().is_finite());
}

#[test]
fn nan_and_infinity_in_frames_and_single_records_follow_the_same_rule() {
    let model = ChurnModel::load(util::telco_model()).unwrap();
    // A frame as Python hands it over: float columns holding NaN (pandas' missing) or inf.
    let raw = read_table(&util::telco()).unwrap().frame.head(Some(4));
    let with = |value: f64| {
        let mut frame = raw.clone();
        let typed = frame
            .column("MonthlyCharges")
            .unwrap()
            .cast(&DataType::Float64)
            .unwrap();
        frame.with_column(typed).unwrap();
        set_floats(&mut frame, "MonthlyCharges", 2..3, value);
        frame
    };
    let blank = {
        let mut frame = raw.clone();
        let mut cells: Vec<Option<String>> = frame
            .column("MonthlyCharges")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|v| v.map(str::to_string))
            .collect();
        cells[2] = None;
        frame
            .with_column(Column::new("MonthlyCharges".into(), cells))
            .unwrap();
        frame
    };
    let probabilities = |frame: &DataFrame| {
        let (scored, _, _) = model.score_frame(frame, 0, &[]).unwrap();
        let p: Vec<f64> = scored
            .column("churn_probability")
            .unwrap()
            .f64()
            .unwrap()
            .into_no_null_iter()
            .collect();
        p
    };
    assert_eq!(probabilities(&with(f64::NAN)), probabilities(&blank));
    for inf in [f64::INFINITY, f64::NEG_INFINITY] {
        let e = model
            .score_frame(&with(inf), 100, &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("'MonthlyCharges', row 103") && e.contains("infinite"),
            "{e}"
        );
    }

    // One customer (what `retention serve` scores): text NaN is blank, an infinity refused.
    let scorer = model.row_scorer();
    let record = |charges: Option<&'static str>| -> Vec<(String, Option<String>)> {
        let columns = read_table(&util::telco()).unwrap().frame.head(Some(1));
        columns
            .columns()
            .iter()
            .map(|c| {
                let name = c.name().to_string();
                let value = if name == "MonthlyCharges" {
                    charges.map(str::to_string)
                } else {
                    c.str().unwrap().get(0).map(str::to_string)
                };
                (name, value)
            })
            .collect()
    };
    let score = |charges| {
        let owned = record(charges);
        let fields: Vec<(&str, Option<&str>)> = owned
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_deref()))
            .collect();
        scorer.score_record(&fields).map(|(s, _)| s.probability)
    };
    let missing = score(None).unwrap();
    for nan in ["NaN", "nan", "-NaN"] {
        assert_eq!(score(Some(nan)).unwrap(), missing, "{nan}");
    }
    for inf in ["inf", "-Infinity", "+INF"] {
        let e = score(Some(inf)).unwrap_err().to_string();
        assert!(
            e.contains("MonthlyCharges") && e.contains("infinite"),
            "{e}"
        );
    }
}

#[test]
fn infinities_are_refused_with_column_and_row_in_every_format() {
    let dir = util::tempdir();
    let db = dir.path().join("ops.db");
    let model = util::telco_model();
    let monthly = telco_col("MonthlyCharges");
    let parquet = telco_parquet(dir.path(), "inf.parquet", |f| {
        set_floats(f, "MonthlyCharges", 2..3, f64::INFINITY);
    });
    let csv = telco_edited(dir.path(), "inf.csv", |i, fields| {
        if i == 2 {
            fields[monthly] = "inf".into();
        }
    });
    let needle = "column 'MonthlyCharges', row 3: infinite values are not allowed";
    let mut errors = Vec::new();
    for data in [&parquet, &csv] {
        let out = dir.path().join("scores.csv");
        let o = score(&db, model, data, &out);
        assert_fails_with(&o, needle);
        assert!(!out.exists(), "output written despite the error");
        errors.push(stderr(&o));
        let o = run_to_end(
            &db,
            &["evaluate", "--model", p(model), "--data", p(data)],
            LIMIT,
        );
        assert_fails_with(&o, needle);
        // Training, where the column's role is inferred: refused, not turned into a category.
        let out = dir.path().join("m.json");
        let o = run_to_end(
            &db,
            &[
                "train",
                "--data",
                p(data),
                "--target",
                "Churn",
                "--id",
                "customerID",
                "--algorithm",
                "logistic",
                "--cv",
                "2",
                "--out",
                p(&out),
            ],
            LIMIT,
        );
        assert_fails_with(&o, "'MonthlyCharges', row 3");
        assert!(stderr(&o).contains("infinite"), "{}", stderr(&o));
        assert!(!out.exists());
    }
    assert_eq!(
        errors[0], errors[1],
        "Parquet and CSV infinities refused differently"
    );
}

#[test]
fn every_parquet_type_is_read_or_left_out_by_name() {
    let t = read_table(&fixture("types.parquet")).expect("read the types fixture");
    let f = &t.frame;
    assert_eq!(f.height(), 120);
    let text = |c: &str, i: usize| f.column(c).unwrap().get(i).unwrap().str_value().to_string();
    let number = |c: &str, i: usize| {
        f.column(c)
            .unwrap()
            .cast(&DataType::Float64)
            .unwrap()
            .f64()
            .unwrap()
            .get(i)
            .unwrap()
    };
    // Numbers: small, unsigned, half-precision, decimal (exactly as its text parses) and
    // durations (in seconds).
    assert_eq!(number("tenure", 1), 7.0);
    assert_eq!(number("visits", 2), 26.0);
    assert_eq!(number("charges", 1), "99.19".parse::<f64>().unwrap());
    assert_eq!(number("i16", 0), -60.0);
    assert_eq!(number("u8", 119), 119.0);
    assert_eq!(number("u32", 3), 3000.0);
    assert_eq!(number("u64", 2), 2e12);
    assert_eq!(number("half", 3), 1.5);
    assert_eq!(number("ratio", 3), 1.0);
    assert_eq!(number("big", 7), 7.125);
    assert_eq!(number("since_login", 2), 180.0);
    // Text: dictionaries, large strings, binary; fixed-size binary as hex.
    assert_eq!(text("plan", 0), "basic");
    assert_eq!(text("note", 5), "note 1");
    assert_eq!(text("raw", 7), "raw 1");
    assert_eq!(text("uuid", 1), "01".repeat(16));
    assert_eq!(text("senior", 5), "true");
    // Dates and times as ISO 8601 text (timestamps with a time zone in UTC, marked Z).
    assert_eq!(text("signup", 0), "2020-01-01");
    assert_eq!(text("signup", 1), "2020-01-10");
    assert_eq!(text("last_seen", 0), "2024-01-31T12:00:00Z");
    assert_eq!(text("last_seen", 1), "2024-01-31T13:00:00.250Z");
    assert_eq!(text("local_seen", 61), "2024-01-31T13:01:00");
    assert_eq!(text("call_time", 1), "09:01:30");
    assert_eq!(text("alarm", 2), "07:30:02");
    // Nested columns are left out, each named with its type.
    let notes = t.notes.join("\n");
    for (column, type_name) in [
        ("tags", "map<string, int32>"),
        ("items", "list<struct<sku: string, qty: int32>>"),
        ("address", "struct<city: string, zip: string>"),
        ("scores", "list<int64>"),
    ] {
        assert!(f.column(column).is_err(), "{column} was read");
        assert!(
            notes.contains(&format!(
                "column '{column}' left out: it holds {type_name} values"
            )),
            "{column}: {notes}"
        );
    }
    assert_eq!(t.columns.len(), 27, "every column of the file is listed");

    // Loading for training: a left-out column may be ignored, not given a role.
    let options = SchemaOptions::new().target("Churn").id("customerID");
    let ignoring = SchemaOptions {
        ignore: vec!["tags".into(), "signup".into()],
        ..options.clone()
    };
    let ds = Dataset::load(&fixture("types.parquet"), &ignoring).unwrap();
    assert!(
        ds.warnings
            .iter()
            .any(|w| w.contains("column 'items' left out"))
    );
    let typed = SchemaOptions {
        categorical: vec!["tags".into()],
        ..options
    };
    let e = Dataset::load(&fixture("types.parquet"), &typed)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("column 'tags' left out: it holds map<string, int32> values")
            && e.contains("cannot be given a role"),
        "{e}"
    );
}

#[test]
fn a_model_decodes_only_its_columns_and_refuses_unreadable_ones_by_name() {
    let dir = util::tempdir();
    let db = dir.path().join("ops.db");
    let model = dir.path().join("types.model.json");
    let types = fixture("types.parquet");
    let o = run_to_end(
        &db,
        &[
            "train",
            "--data",
            p(&types),
            "--target",
            "Churn",
            "--id",
            "customerID",
            "--algorithm",
            "logistic",
            "--cv",
            "2",
            "--out",
            p(&model),
        ],
        LIMIT,
    );
    util::ok(&o);
    assert!(
        stderr(&o).contains("column 'items' left out"),
        "{}",
        stderr(&o)
    );
    // Scoring, evaluation and drift with the model: the nested columns it does not use are
    // never decoded (they used to panic, exit 101).
    let out = dir.path().join("scores.parquet");
    let o = score(&db, &model, &types, &out);
    assert!(stdout(&o).contains("Scored 120 rows"), "{}", stderr(&o));
    let o = run_to_end(
        &db,
        &["evaluate", "--model", p(&model), "--data", p(&types)],
        LIMIT,
    );
    util::ok(&o);
    let o = run_to_end(
        &db,
        &[
            "drift",
            "--model",
            p(&model),
            "--reference",
            p(&types),
            "--current",
            p(&types),
            "--json",
        ],
        LIMIT,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(report["new_columns"], serde_json::json!([]));

    // The model's categorical input as a list of structs: refused by name and type.
    let out = dir.path().join("nested.csv");
    let o = score(&db, &model, &fixture("nested_plan.parquet"), &out);
    assert_fails_with(
        &o,
        "column 'plan' holds list<struct<name: string, since: int32>> values",
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(!out.exists());
    // Its numeric input as dates: read as ISO text, refused as not a number.
    let o = score(&db, &model, &fixture("dated_tenure.parquet"), &out);
    assert_fails_with(&o, "column 'tenure', row 1: expected a number");
    assert!(stderr(&o).contains("\"2020-01-01\""), "{}", stderr(&o));
    // A model column missing from the file: the error lists the file's columns, not only the
    // ones that were decoded.
    let o = score(&db, util::telco_model(), &types, &out);
    assert_fails_with(&o, "column 'gender' not found in this table");
    assert!(stderr(&o).contains("since_login"), "{}", stderr(&o));
}

/// A Thrift compact-protocol writer, to forge Parquet footers.
#[derive(Default)]
struct Thrift(Vec<u8>);

impl Thrift {
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
    fn header(&mut self, delta: u8, kind: u8) -> &mut Self {
        self.0.push((delta << 4) | kind);
        self
    }
    fn int(&mut self, delta: u8, kind: u8, v: i64) -> &mut Self {
        self.header(delta, kind)
            .varint(((v << 1) ^ (v >> 63)) as u64)
    }
    fn text(&mut self, delta: u8, s: &str) -> &mut Self {
        self.header(delta, 8).varint(s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
        self
    }
    fn list(&mut self, delta: u8, n: u64, element: u8) -> &mut Self {
        self.header(delta, 9);
        if n < 15 {
            self.0.push(((n as u8) << 4) | element);
            self
        } else {
            self.0.push(0xF0 | element);
            self.varint(n)
        }
    }
    fn stop(&mut self) -> &mut Self {
        self.0.push(0);
        self
    }
}

/// A Parquet file made of 8 bytes of column data and `footer`.
fn forged(dir: &Path, name: &str, footer: &[u8]) -> PathBuf {
    let mut bytes = b"PAR1".to_vec();
    bytes.extend_from_slice(&[0u8; 8]);
    bytes.extend_from_slice(footer);
    bytes.extend_from_slice(&(footer.len() as u32).to_le_bytes());
    bytes.extend_from_slice(b"PAR1");
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A well-formed footer of one INT64 column `x`, one row group of one row, whose column chunk
/// claims `chunk_size` bytes at offset 4.
fn footer(chunk_size: i64) -> Vec<u8> {
    const I32: u8 = 5;
    const I64: u8 = 6;
    const STRUCT: u8 = 12;
    let mut t = Thrift::default();
    t.int(1, I32, 1); // version
    t.list(1, 2, STRUCT); // schema
    t.text(4, "schema").int(1, I32, 1).stop(); // root: name, num_children
    t.int(1, I32, 2).int(2, I32, 0).text(1, "x").stop(); // type INT64, REQUIRED, name
    t.int(1, I64, 1); // num_rows
    t.list(1, 1, STRUCT); // row_groups
    t.list(1, 1, STRUCT); // RowGroup.columns
    t.int(2, I64, 4).header(1, STRUCT); // ColumnChunk.file_offset, meta_data
    t.int(1, I32, 2).list(1, 1, I32).varint(0); // type, encodings [PLAIN]
    t.list(1, 1, 8).varint(1).0.push(b'x'); // path_in_schema ["x"]
    t.int(1, I32, 0).int(1, I64, 1); // codec UNCOMPRESSED, num_values
    t.int(1, I64, chunk_size).int(1, I64, chunk_size); // sizes
    t.int(2, I64, 4).stop(); // data_page_offset
    t.stop(); // ColumnChunk
    t.int(1, I64, 8).int(1, I64, 1).stop(); // RowGroup: total_byte_size, num_rows
    t.stop();
    t.0
}

#[test]
fn forged_footers_are_refused_before_anything_is_allocated_or_read() {
    let dir = util::tempdir();
    let db = dir.path().join("ops.db");
    let model = util::telco_model();
    let out = dir.path().join("scores.csv");
    // A footer claiming two billion schema elements (a 200 GB allocation before).
    let mut t = Thrift::default();
    t.int(1, 5, 1).list(1, 2_000_000_000, 12);
    t.text(4, "schema").stop();
    let huge_schema = forged(dir.path(), "schema.parquet", &t.0);
    // A column chunk claiming a terabyte (a panic slicing past the end of the file before).
    let huge_chunk = forged(dir.path(), "chunk.parquet", &footer(1 << 40));
    // A footer length larger than the file.
    let mut long = std::fs::read(forged(dir.path(), "ok.parquet", &footer(8))).unwrap();
    let n = long.len();
    long[n - 8..n - 4].copy_from_slice(&u32::MAX.to_le_bytes());
    let long_footer = dir.path().join("long.parquet");
    std::fs::write(&long_footer, long).unwrap();
    for (data, needle) in [
        (&huge_schema, "2000000000 elements"),
        (&huge_chunk, "a column chunk claims 1099511627776 bytes"),
        (&long_footer, "the footer claims 4294967295 bytes"),
    ] {
        let o = score(&db, model, data, &out);
        assert_fails_with(&o, "cannot read");
        assert!(stderr(&o).contains(needle), "{}", stderr(&o));
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert!(!out.exists());
    }
    // The same footer with an honest size is read (the forgery helper itself is sound).
    let honest = forged(dir.path(), "honest.parquet", &footer(8));
    assert!(
        read_table(&honest).is_err_and(|e| !e.to_string().contains("corrupt footer")),
        "an honest footer is not refused as corrupt"
    );
}

#[test]
fn corrupt_bytes_anywhere_in_a_parquet_file_give_errors_not_panics() {
    let dir = util::tempdir();
    let mut frame = df!(
        "id" => (0..120).map(|i| format!("c{i}")).collect::<Vec<_>>(),
        "plan" => (0..120).map(|i| ["a", "b", "c"][i % 3]).collect::<Vec<_>>(),
        "x" => (0..120).map(|i| i as f64 / 7.0).collect::<Vec<_>>(),
        "n" => (0..120).map(|i| i as i64 * 3).collect::<Vec<_>>()
    )
    .unwrap();
    let good = dir.path().join("good.parquet");
    ParquetWriter::new(std::fs::File::create(&good).unwrap())
        .with_row_group_size(Some(60))
        .finish(&mut frame)
        .unwrap();
    assert_eq!(read_table(&good).unwrap().frame, frame);
    let bytes = std::fs::read(&good).unwrap();
    let bad = dir.path().join("bad.parquet");
    let mut outcomes = (0, 0);
    for i in 0..bytes.len() {
        for value in [0xffu8, bytes[i] ^ 0x10] {
            if value == bytes[i] {
                continue;
            }
            let mut mutated = bytes.clone();
            mutated[i] = value;
            std::fs::write(&bad, &mutated).unwrap();
            // A panic here fails the test; an abort kills it.
            match read_table(&bad) {
                Ok(_) => outcomes.0 += 1,
                Err(_) => outcomes.1 += 1,
            }
        }
    }
    assert!(outcomes.1 > 0, "no mutation was noticed: {outcomes:?}");
}

#[test]
fn parquet_batches_stream_whatever_the_row_group_layout() {
    // 20,000 row groups of one row, read one row at a time: linear in the file (each batch used
    // to reopen the file, parse its 20,000-group footer and slice from the start).
    let dir = util::tempdir();
    let n = 20_000usize;
    let mut frame = df!(
        "id" => (0..n).map(|i| format!("c{i}")).collect::<Vec<_>>(),
        "x" => (0..n).map(|i| i as f64).collect::<Vec<_>>()
    )
    .unwrap();
    let path = dir.path().join("groups.parquet");
    ParquetWriter::new(std::fs::File::create(&path).unwrap())
        .with_row_group_size(Some(1))
        .finish(&mut frame)
        .unwrap();
    let mut batches = TableBatches::open(&path, 1 << 16, 3).unwrap();
    let mut seen = 0;
    while let Some((first, batch)) = batches.next_batch().unwrap() {
        assert_eq!(first, seen);
        assert!(batch.height() == 3 || seen + batch.height() == n);
        let ids = batch.column("id").unwrap().str().unwrap();
        assert_eq!(ids.get(0), Some(format!("c{seen}").as_str()));
        seen += batch.height();
    }
    assert_eq!(seen, n);
    // Batches span row groups and split large ones alike.
    let mut big = frame.head(Some(1000));
    let path = dir.path().join("big.parquet");
    ParquetWriter::new(std::fs::File::create(&path).unwrap())
        .with_row_group_size(Some(300))
        .finish(&mut big)
        .unwrap();
    let mut batches = TableBatches::open(&path, 1 << 16, 128).unwrap();
    let mut stacked = DataFrame::empty();
    while let Some((_, batch)) = batches.next_batch().unwrap() {
        assert!(batch.height() <= 128);
        stacked.vstack_mut_owned(batch).unwrap();
    }
    assert_eq!(stacked, big);
}
