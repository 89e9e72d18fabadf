//! Arguments of the modelling commands (train, evaluate, drift, explain, importance, generate,
//! inspect) and how flags read the core's named settings and defaults.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Args, ValueEnum};
use retention_core::choice::Choice;
use retention_core::drift::{DriftOptions, DriftThresholds};
use retention_core::explain::DEFAULT_TOP;
use retention_core::prelude::{
    Algorithm, BoostingParams, BusinessValues, CalibrationMethod, ClassWeight, LogisticParams,
    RiskTiers, SelectionMetric, ThresholdObjective, TrainParams, TreeParams,
};

/// A core setting chosen by name ([`Choice`]) as a flag value: the core's names with `-` for
/// `_` (`log-loss`), each with its help line, parsed back through the core.
fn choice<T: Choice + Clone + Send + Sync>(
    help: &'static [(T, &'static str)],
) -> impl clap::builder::TypedValueParser<Value = T> {
    let values = T::NAMES.iter().map(|(name, value)| {
        let help = help.iter().find(|(v, _)| v == value).map_or("", |(_, h)| h);
        PossibleValue::new(flag_value(name)).help(help)
    });
    PossibleValuesParser::new(values).try_map(|s: String| T::parse(&s.replace('-', "_")))
}

/// A core name as a flag value: `log_loss` → `log-loss` (made once per name).
fn flag_value(name: &'static str) -> &'static str {
    static SPELLED: OnceLock<Mutex<HashMap<&'static str, &'static str>>> = OnceLock::new();
    if !name.contains('_') {
        return name;
    }
    let mut spelled = SPELLED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    spelled
        .entry(name)
        .or_insert_with(|| Box::leak(name.replace('_', "-").into_boxed_str()))
}

/// The flag value of a core setting's default.
fn default_of<T: Choice>(value: T) -> &'static str {
    flag_value(value.name())
}

/// The default `--tiers`, from the core's.
fn default_tiers() -> &'static str {
    static TIERS: OnceLock<String> = OnceLock::new();
    TIERS.get_or_init(|| format!("{},{}", RiskTiers::DEFAULT.medium, RiskTiers::DEFAULT.high))
}

const ALGORITHM_HELP: &[(Algorithm, &str)] = &[
    (
        Algorithm::Auto,
        "Cross-validate logistic, tree, boosting and the average of the best two; keep the best",
    ),
    (Algorithm::Logistic, "L2-regularised logistic regression"),
    (
        Algorithm::Tree,
        "A decision tree with smoothed leaf probabilities",
    ),
    (
        Algorithm::Boosting,
        "Gradient-boosted trees (histogram GBDT)",
    ),
];

const CALIBRATION_HELP: &[(CalibrationMethod, &str)] = &[
    (CalibrationMethod::None, "The model's own probabilities"),
    (
        CalibrationMethod::Platt,
        "Platt scaling (two parameters; keeps the ranking)",
    ),
    (
        CalibrationMethod::Isotonic,
        "Isotonic regression (any monotone map)",
    ),
];

const SELECTION_HELP: &[(SelectionMetric, &str)] = &[
    (SelectionMetric::LogLoss, "Lowest cross-validated log-loss"),
    (SelectionMetric::RocAuc, "Highest cross-validated ROC-AUC"),
];

const THRESHOLD_OBJECTIVE_HELP: &[(ThresholdObjective, &str)] = &[
    (ThresholdObjective::Fixed, "The --threshold given"),
    (ThresholdObjective::F1, "Best F1 on out-of-fold predictions"),
    (
        ThresholdObjective::Profit,
        "Most expected profit of retention offers on out-of-fold predictions",
    ),
];

const CLASS_WEIGHT_HELP: &[(ClassWeight, &str)] = &[
    (ClassWeight::None, "Every row weighs 1"),
    (
        ClassWeight::Balanced,
        "Each class weighs as much in total as the other",
    ),
];

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Target column (churned or not). Default: a column named Churn, Churned, Exited,
    /// Attrition, Target or Label.
    #[arg(long, value_name = "COL")]
    pub target: Option<String>,
    /// Customer id column. Default: a column named id or ending in "id" with distinct values.
    #[arg(long, value_name = "COL")]
    pub id: Option<String>,
    /// Treat these columns as categorical (comma separated or repeated).
    #[arg(long, value_name = "COL", value_delimiter = ',')]
    pub categorical: Vec<String>,
    /// Treat these columns as numeric; a non-numeric value is then an error.
    #[arg(long, value_name = "COL", value_delimiter = ',')]
    pub numeric: Vec<String>,
    /// Leave these columns out.
    #[arg(long, value_name = "COL", value_delimiter = ',')]
    pub ignore: Vec<String>,
    /// The target value that means "churned". Default: Yes, True, 1, Y… recognised.
    #[arg(long, value_name = "VALUE")]
    pub positive_label: Option<String>,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Training table (CSV or Parquet).
    #[arg(long, value_name = "FILE")]
    pub data: PathBuf,
    /// Where to write the model file.
    #[arg(long, value_name = "MODEL")]
    pub out: PathBuf,
    #[command(flatten)]
    pub schema: SchemaArgs,
    /// Model family; auto cross-validates every family and keeps the best.
    #[arg(
        long,
        value_parser = choice(ALGORITHM_HELP),
        default_value = default_of(TrainParams::DEFAULT_ALGORITHM)
    )]
    pub algorithm: Algorithm,
    /// What auto selects by.
    #[arg(
        long,
        value_parser = choice(SELECTION_HELP),
        default_value = default_of(SelectionMetric::default())
    )]
    pub select_by: SelectionMetric,
    /// Calibration fitted on out-of-fold predictions (needs --cv).
    #[arg(
        long,
        value_parser = choice(CALIBRATION_HELP),
        default_value = default_of(CalibrationMethod::default())
    )]
    pub calibration: CalibrationMethod,
    /// Folds of stratified cross-validation (0 to skip).
    #[arg(long, value_name = "K", default_value_t = TrainParams::DEFAULT_CV_FOLDS)]
    pub cv: usize,
    /// Share of rows held out (stratified) for a final test; 0 keeps every row for training.
    #[arg(long, value_name = "SHARE", default_value_t = TrainParams::DEFAULT_TEST_SIZE)]
    pub test_size: f64,
    /// Seed of the folds and the split.
    #[arg(long, default_value_t = TrainParams::DEFAULT_SEED)]
    pub seed: u64,
    /// Derived-feature spec (TOML), e.g. examples/telco_features.toml.
    #[arg(long, value_name = "SPEC")]
    pub features: Option<PathBuf>,
    /// L2 penalty of logistic regression (scikit-learn's C is 1/l2).
    #[arg(long, default_value_t = LogisticParams::DEFAULT.l2)]
    pub l2: f64,
    /// Maximum depth of the decision tree.
    #[arg(long, default_value_t = TreeParams::DEFAULT.max_depth)]
    pub max_depth: usize,
    /// Minimum training rows per tree leaf.
    #[arg(long, default_value_t = TreeParams::DEFAULT.min_samples_leaf)]
    pub min_samples_leaf: usize,
    /// Trees of gradient boosting.
    #[arg(long, value_name = "N", default_value_t = BoostingParams::DEFAULT.trees)]
    pub trees: usize,
    /// Learning rate (shrinkage) of gradient boosting.
    #[arg(long, value_name = "RATE", default_value_t = BoostingParams::DEFAULT.learning_rate)]
    pub learning_rate: f64,
    /// Leaves per boosted tree at most.
    #[arg(long, value_name = "N", default_value_t = BoostingParams::DEFAULT.max_leaves)]
    pub max_leaves: usize,
    /// Row weighting for every algorithm.
    #[arg(
        long,
        value_parser = choice(CLASS_WEIGHT_HELP),
        default_value = default_of(ClassWeight::default())
    )]
    pub class_weight: ClassWeight,
    /// Probability at or above which a customer is predicted to churn (with
    /// --threshold-objective fixed).
    #[arg(long, default_value_t = TrainParams::DEFAULT_THRESHOLD)]
    pub threshold: f64,
    /// How the decision threshold is chosen.
    #[arg(
        long,
        value_parser = choice(THRESHOLD_OBJECTIVE_HELP),
        default_value = default_of(ThresholdObjective::default())
    )]
    pub threshold_objective: ThresholdObjective,
    /// Lifetime value of a retained customer (profit threshold and report).
    #[arg(long, value_name = "MONEY", default_value_t = BusinessValues::DEFAULT.customer_value)]
    pub customer_value: f64,
    /// Cost of one retention offer.
    #[arg(long, value_name = "MONEY", default_value_t = BusinessValues::DEFAULT.offer_cost)]
    pub offer_cost: f64,
    /// Share of contacted churners the offer keeps.
    #[arg(long, value_name = "RATE", default_value_t = BusinessValues::DEFAULT.offer_success_rate)]
    pub offer_success_rate: f64,
    /// Risk tier boundaries MEDIUM,HIGH: Low < MEDIUM <= Medium < HIGH <= High.
    #[arg(long, value_name = "MEDIUM,HIGH", value_parser = parse_tiers, default_value = default_tiers())]
    pub tiers: (f64, f64),
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// Model file, or a registry reference: champion, challenger, or a version number.
    #[arg(long, value_name = "MODEL")]
    pub model: String,
    /// Labelled table (CSV or Parquet) with the model's target column.
    #[arg(long, value_name = "FILE")]
    pub data: PathBuf,
    /// Print the metrics as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOnArg {
    /// Exit 3 when anything warns or alerts.
    Warn,
    /// Exit 3 only on an alert.
    Alert,
    /// Always exit 0 when the comparison ran.
    Never,
}

#[derive(Debug, Args)]
pub struct DriftArgs {
    /// Reference table (CSV or Parquet): the training data, or a period known to be good.
    #[arg(long, value_name = "FILE")]
    pub reference: PathBuf,
    /// Current table (CSV or Parquet) to compare with it.
    #[arg(long, value_name = "FILE")]
    pub current: PathBuf,
    /// Model file or registry reference (champion, challenger, a version): compare its inputs
    /// and its predictions, estimate its performance.
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,
    #[command(flatten)]
    pub schema: SchemaArgs,
    /// Quantile bins for numeric PSI.
    #[arg(long, value_name = "N", default_value_t = DriftOptions::DEFAULT_BINS)]
    pub bins: usize,
    /// PSI at which a significant change warns.
    #[arg(long, value_name = "PSI", default_value_t = DriftThresholds::DEFAULT.psi_warn)]
    pub psi_warn: f64,
    /// PSI at which a significant change alerts.
    #[arg(long, value_name = "PSI", default_value_t = DriftThresholds::DEFAULT.psi_alert)]
    pub psi_alert: f64,
    /// Significance level of the tests (KS, chi-square).
    #[arg(long, value_name = "P", default_value_t = DriftThresholds::DEFAULT.p_value)]
    pub p_value: f64,
    /// Normalised Wasserstein / Jensen-Shannon distance at which a significant change warns.
    #[arg(long, value_name = "D", default_value_t = DriftThresholds::DEFAULT.distance_warn)]
    pub distance_warn: f64,
    /// Share of drifting features at which the whole table alerts.
    #[arg(long, value_name = "SHARE", default_value_t = DriftThresholds::DEFAULT.drift_share)]
    pub drift_share: f64,
    /// Exit with status 3 when the verdict reaches this level (for cron and CI).
    #[arg(long, value_enum, default_value = "never")]
    pub fail_on: FailOnArg,
    /// Also write the full report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Model file.
    #[arg(value_name = "MODEL")]
    pub model: PathBuf,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Parses `MEDIUM,HIGH` tier boundaries (ranges are checked by the core).
fn parse_tiers(s: &str) -> Result<(f64, f64), String> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    match parts.as_slice() {
        [m, h] => {
            let m = m
                .parse::<f64>()
                .map_err(|_| format!("{m:?} is not a number"))?;
            let h = h
                .parse::<f64>()
                .map_err(|_| format!("{h:?} is not a number"))?;
            Ok((m, h))
        }
        _ => Err("expected two numbers MEDIUM,HIGH, e.g. 0.3,0.7".into()),
    }
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Model file, or a registry reference: champion, challenger, or a version number.
    #[arg(long, value_name = "MODEL")]
    pub model: String,
    /// Customers (CSV or Parquet) with the model's input columns.
    #[arg(long, value_name = "FILE")]
    pub data: PathBuf,
    /// Explain only these customer ids (comma separated or repeated).
    #[arg(long, value_name = "ID", value_delimiter = ',')]
    pub id: Vec<String>,
    /// What-if: rescore with a field changed, COLUMN=VALUE (repeatable).
    #[arg(long, value_name = "COLUMN=VALUE", value_parser = parse_assignment)]
    pub set: Vec<(String, String)>,
    /// Reasons per customer.
    #[arg(long, value_name = "K", default_value_t = DEFAULT_TOP)]
    pub top: usize,
    /// Write every explanation to a file (.csv or .json) instead of printing them.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ImportanceArgs {
    /// Model file, or a registry reference: champion, challenger, or a version number.
    #[arg(long, value_name = "MODEL")]
    pub model: String,
    /// Customers (CSV or Parquet) to average contributions over.
    #[arg(long, value_name = "FILE")]
    pub data: PathBuf,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Parses `COLUMN=VALUE`.
fn parse_assignment(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("expected COLUMN=VALUE, got {s:?}")),
    }
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Rows to generate.
    #[arg(long, value_name = "N")]
    pub rows: usize,
    /// Seed: the same seed gives the same rows.
    #[arg(long, default_value_t = retention_core::generate::DEFAULT_SEED)]
    pub seed: u64,
    /// Output file (CSV or Parquet, by extension).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Template table whose rows are resampled (default: the Telco table built into the
    /// program, so `generate` works from any folder).
    #[arg(long, value_name = "FILE")]
    pub like: Option<PathBuf>,
    /// Shift for drift demos: COLUMN=+N (numeric) or COLUMN=LEVEL:+SHARE (repeatable).
    #[arg(long, value_name = "SHIFT", allow_hyphen_values = true)]
    pub shift: Vec<String>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;
    use retention_core::training::{OptionValue, TrainParams};

    /// `retention train`'s flags that are not training options: where the data comes from and
    /// goes, the table's roles, the derived-feature spec, the output format.
    const NOT_OPTIONS: &[&str] = &[
        "data",
        "out",
        "target",
        "id",
        "categorical",
        "numeric",
        "ignore",
        "positive_label",
        "features",
        "json",
    ];

    #[test]
    fn train_flags_are_the_cores_options_with_its_defaults() {
        let cli = crate::cli::Cli::command();
        let train = cli.find_subcommand("train").expect("the train subcommand");
        let flags: Vec<(String, &clap::Arg)> = train
            .get_arguments()
            .filter_map(|a| Some((a.get_long()?.replace('-', "_"), a)))
            .filter(|(name, _)| !NOT_OPTIONS.contains(&name.as_str()))
            .collect();
        let names: Vec<&str> = flags.iter().map(|(n, _)| n.as_str()).collect();
        let core: Vec<&str> = TrainParams::OPTIONS.iter().map(|o| o.name).collect();
        assert_eq!(names, core, "the flags and the core's options differ");
        let defaults = TrainParams::default();
        for (name, arg) in &flags {
            let shown: Vec<String> = arg
                .get_default_values()
                .iter()
                .map(|v| v.to_string_lossy().into_owned())
                .collect();
            let shown = shown.join(",");
            let same = match defaults.option(name) {
                Some(OptionValue::Count(n)) => shown == n.to_string(),
                Some(OptionValue::Number(x)) => shown.parse::<f64>().ok() == Some(x),
                // The CLI writes choices with dashes (`log-loss`), the core with underscores.
                Some(OptionValue::Name(s)) => shown.replace('-', "_") == s,
                Some(OptionValue::Pair(a, b)) => {
                    let parsed: Vec<f64> =
                        shown.split(',').filter_map(|p| p.parse().ok()).collect();
                    parsed == [a, b]
                }
                None => false,
            };
            assert!(
                same,
                "--{name}: the CLI's default {shown:?} is not the core's"
            );
        }
    }
}
