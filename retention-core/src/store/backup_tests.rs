//! Tests of the backup folder rules.

use super::*;

#[test]
fn backup_names_are_recognised_exactly() {
    assert!(backup_stamp("retentionai-20261103T021500.123Z").is_some());
    for name in [
        "retentionai-manual",
        "retentionai-20261103T021500Z",
        "retentionai-20261103T021500.123Z-old",
        "retentionai-20261303T021500.123Z",
        ".retentionai-20261103T021500.123Z.abc",
    ] {
        assert!(backup_stamp(name).is_none(), "{name}");
    }
}

#[test]
fn manifest_paths_must_stay_inside() {
    for ok in ["retentionai.db", "models/v1.model.json"] {
        assert!(inside_path(ok).is_ok(), "{ok}");
    }
    for bad in [
        "",
        "/etc/passwd",
        "../outside.db",
        "models/../../x",
        "./retentionai.db",
        "a\\b",
        "a\nb",
        "a/b/c/d/e/f/g/h/i",
    ] {
        assert!(inside_path(bad).is_err(), "{bad:?}");
    }
    assert!(inside_path(&"x".repeat(MAX_PATH_BYTES + 1)).is_err());
}

#[test]
fn quotes_are_short() {
    let q = quote(&"y".repeat(10_000));
    assert!(q.chars().count() < QUOTE + 4, "{q}");
}
