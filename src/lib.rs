//! RetentionAI: churn prediction you can trust.
//!
//! This crate re-exports [`retention_core`], the library, and owns the workspace's integration
//! tests, benchmarks and examples. See `retention_core` for the API.

pub use retention_core::*;
