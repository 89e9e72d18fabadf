//! Unit tests of the model artifact.

use super::*;
use crate::fsutil::sha256_hex;

#[test]
fn tiers_follow_the_runbook() {
    let t = RiskTiers::default();
    assert_eq!(t.tier(0.29), Tier::Low);
    assert_eq!(t.tier(0.3), Tier::Medium);
    assert_eq!(t.tier(0.69), Tier::Medium);
    assert_eq!(t.tier(0.7), Tier::High);
    assert!(
        RiskTiers {
            medium: 0.7,
            high: 0.3
        }
        .check()
        .is_err()
    );
}

#[test]
fn envelope_refuses_garbage_and_newer_formats() {
    let p = Path::new("m.json");
    let e = ChurnModel::from_bytes(b"hello", p).unwrap_err();
    assert!(matches!(e, Error::CorruptArtifact { .. }), "{e}");
    let newer = br#"{"format":"retentionai-model","format_version":99,"sha256":"x","model":{}}"#;
    let e = ChurnModel::from_bytes(newer, p).unwrap_err();
    assert!(e.to_string().contains("format version 99"), "{e}");
    let tampered = br#"{"format":"retentionai-model","format_version":1,"sha256":"00","model":{}}"#;
    let e = ChurnModel::from_bytes(tampered, p).unwrap_err();
    assert!(e.to_string().contains("checksum mismatch"), "{e}");
    // A sound file from the earlier booster format says to retrain.
    let model = r#"{"estimator":{"Boosting":{"booster":{"trees":[]}}}}"#;
    let old = format!(
        r#"{{"format":"retentionai-model","format_version":1,"sha256":"{}","model":{model}}}"#,
        sha256_hex(model.as_bytes())
    );
    let e = ChurnModel::from_bytes(old.as_bytes(), p).unwrap_err();
    assert!(e.to_string().contains("retrain it"), "{e}");
}
