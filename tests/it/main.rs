//! Integration tests of the library and the `retention` binary, as one test binary.

mod bad_inputs;
mod cli;
mod drift;
mod explain;
mod parquet_inputs;
mod quality;
mod scoring;
mod selection;
mod serve;
mod store;
mod util;
