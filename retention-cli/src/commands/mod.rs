//! One module per subcommand: each builds core parameters, calls the core, formats the result.

pub mod auth;
pub mod backup;
pub mod config;
pub mod db;
pub mod docs;
pub mod doctor;
pub mod drift;
pub mod evaluate;
pub mod explain;
pub mod gdpr;
pub mod generate;
pub mod inspect;
pub mod model;
pub mod registry;
pub mod score;
pub mod train;
