//! One module per subcommand: each builds core parameters, calls the core, formats the result.

pub mod auth;
pub mod drift;
pub mod evaluate;
pub mod explain;
pub mod generate;
pub mod inspect;
pub mod ops;
pub mod registry;
pub mod score;
pub mod train;
