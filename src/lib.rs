pub use retention_core::*;
