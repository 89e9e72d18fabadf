//! Tests of the request parsers.

use super::*;
use axum::http::StatusCode;
use proptest::prelude::*;

static NO: AtomicBool = AtomicBool::new(false);

fn wanted() -> Wanted {
    Wanted::new(["id", "a", "b"])
}

fn limits() -> Limits {
    Limits::with_rows(3)
}

#[test]
fn json_records_keep_wanted_scalars_and_refuse_nesting() {
    let w = wanted();
    let r = json_record(
        br#"{"a": "x", "b": 1.5, "id": null, "other": [1, {"deep": 2}]}"#,
        &w,
        limits(),
    );
    // A nested value is refused even in a field the model does not use.
    let e = r.unwrap_err();
    assert_eq!(e.code, "invalid_value");
    assert!(e.message.contains("field 'other'"), "{}", e.message);

    let r = json_record(
        br#"{"a": "x", "b": 1.5, "id": null, "c": true}"#,
        &w,
        limits(),
    )
    .unwrap();
    assert_eq!(r.len(), 1);
    assert_eq!(
        r.row(0),
        vec![("id", None), ("a", Some("x")), ("b", Some("1.5"))]
    );
    let r = json_record(br#"{"b": 1e300, "a": false}"#, &w, limits()).unwrap();
    assert_eq!(r.row(0), vec![("a", Some("false")), ("b", Some("1e+300"))]);
    let e = json_record(b"[1]", &w, limits()).unwrap_err();
    assert_eq!(e.code, "invalid_record");
    let e = json_record(b"{\"a\": 1", &w, limits()).unwrap_err();
    assert_eq!(e.code, "invalid_json");
    let e = json_record(b"{\"a\": 1} x", &w, limits()).unwrap_err();
    assert_eq!(e.code, "invalid_json");
}

#[test]
fn batches_stop_at_the_row_limit_before_reading_on() {
    let w = wanted();
    let r = json_batch(br#"[{"a": 1}, {}, {"b": "2"}]"#, &w, limits(), &NO).unwrap();
    assert_eq!(r.len(), 3);
    assert_eq!(r.row(1), vec![]);
    let r = json_batch(
        br#"{"x": [[[]]], "customers": [{"a": 1}]}"#,
        &w,
        limits(),
        &NO,
    )
    .unwrap();
    assert_eq!(r.len(), 1);
    // The fourth element is refused, and what follows it is never read (even invalid JSON).
    let e = json_batch(br#"[{}, {}, {}, {}, this is not json"#, &w, limits(), &NO).unwrap_err();
    assert_eq!(e.code, "batch_too_large");
    assert_eq!(e.status, StatusCode::PAYLOAD_TOO_LARGE);
    for bad in [
        &b"{\"rows\": []}"[..],
        b"3",
        b"\"x\"",
        b"{\"customers\": {}}",
    ] {
        let e = json_batch(bad, &w, limits(), &NO).unwrap_err();
        assert_eq!(e.code, "invalid_record", "{}", String::from_utf8_lossy(bad));
    }
    let e = json_batch(br#"[{"a": 1}, 7]"#, &w, limits(), &NO).unwrap_err();
    assert!(e.message.starts_with("row 2: "), "{}", e.message);
}

#[test]
fn names_values_and_field_counts_are_bounded() {
    let w = wanted();
    let long = "n".repeat(MAX_NAME_BYTES + 1);
    let e = json_record(format!("{{\"{long}\": 1}}").as_bytes(), &w, limits()).unwrap_err();
    assert_eq!(e.code, "field_too_long");
    assert!(e.message.len() < 200, "the message quotes a prefix only");
    let value = "v".repeat(MAX_VALUE_BYTES + 1);
    let e = json_record(format!("{{\"zz\": \"{value}\"}}").as_bytes(), &w, limits()).unwrap_err();
    assert_eq!(e.code, "field_too_long");
    let many: Vec<String> = (0..=MAX_FIELDS).map(|i| format!("\"f{i}\": 0")).collect();
    let e = json_record(format!("{{{}}}", many.join(",")).as_bytes(), &w, limits()).unwrap_err();
    assert_eq!(e.code, "too_many_fields");

    let header = format!("id,{long}\n1,2\n");
    let e = csv_batch(header.as_bytes(), &w, limits(), &NO).unwrap_err();
    assert_eq!(e.code, "field_too_long");
    let e = csv_batch(format!("a,b\n1,{value}\n").as_bytes(), &w, limits(), &NO).unwrap_err();
    assert_eq!(e.code, "field_too_long");
    assert!(e.message.starts_with("row 1:"), "{}", e.message);
}

#[test]
fn csv_batches_keep_wanted_columns_and_name_the_bad_row() {
    let w = wanted();
    let r = csv_batch(b"id,x,a\n1,2,3\n\"4\",5,\n", &w, limits(), &NO).unwrap();
    assert_eq!(r.len(), 2);
    assert_eq!(r.row(0), vec![("id", Some("1")), ("a", Some("3"))]);
    assert_eq!(r.row(1), vec![("id", Some("4")), ("a", Some(""))]);
    let e = csv_batch(b"id,x\n1,2\n3\n", &w, limits(), &NO).unwrap_err();
    assert_eq!(e.code, "invalid_csv");
    assert!(e.message.contains("row 2"), "{}", e.message);
    assert_eq!(
        csv_batch(b"", &w, limits(), &NO).unwrap_err().code,
        "invalid_csv"
    );
    assert_eq!(
        csv_batch(b"\xff\xfe", &w, limits(), &NO).unwrap_err().code,
        "invalid_csv"
    );
    let e = csv_batch(b"a,a\n1,2\n", &w, limits(), &NO).unwrap_err();
    assert!(e.message.contains("appears twice"), "{}", e.message);
    let e = csv_batch(b"a\n1\n2\n3\n4\n", &w, limits(), &NO).unwrap_err();
    assert_eq!(e.code, "batch_too_large");
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
        "[a-z\"\\\\é ]{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::btree_map("[a-c]{1,2}|id", inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

// 256 cases each by default (briefly, in every test run); `PROPTEST_CASES=100000` runs them
// longer on demand.
proptest! {
    /// Arbitrary bytes never panic any parser, and every refusal has a code.
    #[test]
    fn parsers_never_panic_on_bytes(body in prop::collection::vec(any::<u8>(), 0..256)) {
        let w = wanted();
        for r in [json_record(&body, &w, limits()), json_batch(&body, &w, limits(), &NO), csv_batch(&body, &w, limits(), &NO)] {
            if let Err(e) = r {
                prop_assert!(!e.code.as_str().is_empty());
            }
        }
    }

    /// Any JSON value: a batch either parses into at most `max_rows` rows that agree with
    /// the value's wanted scalar fields, or is refused with a client error.
    #[test]
    fn json_batches_agree_with_the_value(value in json_value()) {
        let w = wanted();
        let body = serde_json::to_vec(&value).unwrap();
        match json_batch(&body, &w, limits(), &NO) {
            Ok(records) => {
                let items = match &value {
                    serde_json::Value::Array(items) => items.clone(),
                    serde_json::Value::Object(m) => m["customers"].as_array().cloned().unwrap(),
                    _ => unreachable!("only arrays and objects parse"),
                };
                prop_assert_eq!(records.len(), items.len());
                prop_assert!(records.len() <= 3);
                for (i, item) in items.iter().enumerate() {
                    let map = item.as_object().unwrap();
                    let expected: Vec<(String, Option<String>)> = w.names.iter().filter_map(|n| {
                        map.get(n).map(|v| (n.clone(), match v {
                            serde_json::Value::Null => None,
                            serde_json::Value::String(s) => Some(s.clone()),
                            other => Some(other.to_string()),
                        }))
                    }).collect();
                    let got: Vec<(String, Option<String>)> = records.row(i).into_iter()
                        .map(|(k, v)| (k.to_string(), v.map(str::to_string))).collect();
                    prop_assert_eq!(got, expected);
                }
            }
            Err(e) => prop_assert!(e.status.is_client_error(), "{:?}", e),
        }
    }
}
