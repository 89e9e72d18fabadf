//! Tests of reading tables and inferring their schema.

use super::*;

fn raw() -> DataFrame {
    df!(
        "customerID" => ["a", "b", "c", "d"],
        "tenure" => ["1", "5", " ", "40"],
        "Senior" => ["0", "1", "0", "0"],
        "Contract" => ["M", "Y", "M ", "Y"],
        "Churn" => ["Yes", "No", "No", "Yes"]
    )
    .unwrap()
}

#[test]
fn infers_roles_and_types() {
    let ds = Dataset::infer(&raw(), &SchemaOptions::new()).unwrap();
    let s = &ds.schema;
    assert_eq!(s.target(), Some("Churn"));
    assert_eq!(s.id(), Some("customerID"));
    assert_eq!(s.role_of("tenure"), Some(Role::Numeric));
    assert_eq!(s.role_of("Senior"), Some(Role::Categorical));
    assert_eq!(s.role_of("Contract"), Some(Role::Categorical));
    assert_eq!(ds.target, Some(vec![true, false, false, true]));
    let tenure = ds.frame.column("tenure").unwrap().f64().unwrap();
    assert_eq!(tenure.get(2), None);
    let contract = ds.frame.column("Contract").unwrap().str().unwrap();
    assert_eq!(contract.get(2), Some("M"));
}

#[test]
fn refusals_name_what_is_wrong() {
    let mut r = raw();
    r.replace(
        "Churn",
        Column::new("Churn".into(), ["No", "No", "No", "No"]),
    )
    .unwrap();
    let e = Dataset::infer(&r, &SchemaOptions::new()).unwrap_err();
    assert!(e.to_string().contains("single class"), "{e}");

    let e = Dataset::infer(&raw(), &SchemaOptions::new().target("nope")).unwrap_err();
    assert!(matches!(e, Error::ColumnNotFound { .. }), "{e}");

    let mut r = raw();
    r.with_column(Column::new("empty".into(), [" ", "", " ", ""]))
        .unwrap();
    let e = Dataset::infer(&r, &SchemaOptions::new()).unwrap_err();
    assert!(
        e.to_string().contains("column 'empty' has no values"),
        "{e}"
    );

    let opts = SchemaOptions {
        numeric: vec!["Contract".into()],
        ..Default::default()
    };
    let e = Dataset::infer(&raw(), &opts).unwrap_err();
    assert!(
        e.to_string().contains("'Contract', row 1") && e.to_string().contains("\"M\""),
        "{e}"
    );
}

#[test]
fn an_infinity_in_a_numeric_column_is_refused_not_made_a_category() {
    // Even above the 1 % of stray cells a numeric column may have: a column of numbers and
    // infinities is numeric, and infinities are refused.
    let values = ["1", "2", "inf", "3", "-Infinity", "", "NaN"];
    let churn = ["Yes", "No", "No", "Yes", "No", "Yes", "No"];
    let r = df!("charges" => values, "Churn" => churn).unwrap();
    let e = Dataset::infer(&r, &SchemaOptions::new())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("'charges', row 3") && e.contains("infinite") && e.contains("\"inf\""),
        "{e}"
    );
    let e = infer_schema(&r, &SchemaOptions::new())
        .unwrap_err()
        .to_string();
    assert!(e.contains("'charges', row 3"), "{e}");
    // Words with an "inf" among them stay a category.
    let words =
        df!("plan" => ["inf", "basic", "pro", "basic", "inf", "pro", "basic"], "Churn" => churn)
            .unwrap();
    let ds = Dataset::infer(&words, &SchemaOptions::new()).unwrap();
    assert_eq!(ds.schema.role_of("plan"), Some(Role::Categorical));
}

#[test]
fn a_stray_word_in_a_numeric_column_is_refused() {
    let mut values: Vec<String> = (0..200).map(|i| i.to_string()).collect();
    values[57] = "abc".into();
    let churn: Vec<&str> = (0..200)
        .map(|i| if i % 2 == 0 { "Yes" } else { "No" })
        .collect();
    let r = df!("charges" => values, "Churn" => churn).unwrap();
    let e = Dataset::infer(&r, &SchemaOptions::new())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("'charges', row 58") && e.contains("\"abc\"") && e.contains("`categorical`"),
        "{e}"
    );
    let opts = SchemaOptions {
        categorical: vec!["charges".into()],
        ..Default::default()
    };
    assert!(Dataset::infer(&r, &opts).is_ok());
}

#[test]
fn duplicate_ids_warn() {
    let mut r = raw();
    r.replace(
        "customerID",
        Column::new("customerID".into(), ["a", "a", "c", "d"]),
    )
    .unwrap();
    let ds = Dataset::infer(&r, &SchemaOptions::new().id("customerID")).unwrap();
    assert!(
        ds.warnings.iter().any(|w| w.contains("\"a\"")),
        "{:?}",
        ds.warnings
    );
}

#[test]
fn known_schema_reports_missing_columns() {
    let ds = Dataset::infer(&raw(), &SchemaOptions::new()).unwrap();
    let scoring = raw().drop("Contract").unwrap();
    let e = Dataset::with_schema(&scoring, &ds.schema, 0, false).unwrap_err();
    assert!(
        e.to_string().contains("'Contract' not found in this table"),
        "{e}"
    );
    let unlabeled = raw().drop("Churn").unwrap();
    let ok = Dataset::with_schema(&unlabeled, &ds.schema, 0, false).unwrap();
    assert!(ok.target.is_none());
    assert!(Dataset::with_schema(&unlabeled, &ds.schema, 0, true).is_err());
}
