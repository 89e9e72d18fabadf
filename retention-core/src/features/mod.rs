//! Feature engineering: derived features from a spec file, then the fitted pipeline that turns
//! typed columns into model inputs.

pub mod derive;
pub mod pipeline;
pub mod rows;

pub use derive::{DerivedFeature, FeatureSpec};
pub(crate) use pipeline::{CodedTable, RowSelection};
pub use pipeline::{
    Encoder, FeatureMatrix, FittedPipeline, OutputFeature, PipelineParams, TransformReport,
    UnseenLevels,
};
pub use rows::{Cell, RowEncoder};
