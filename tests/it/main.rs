//! Integration tests of the library and the `retention` binary, as one test binary.

// Test code: helpers outside `#[test]` functions may unwrap, expect and panic too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod bad_inputs;
mod cli;
mod config;
mod doctor;
mod drift;
mod explain;
mod logs;
mod model_files;
mod parquet_inputs;
mod prometheus;
mod quality;
mod replicas;
mod scoring;
mod selection;
mod serve;
mod serve_faults;
mod store;
mod store_safety;
mod table_inputs;
mod util;
