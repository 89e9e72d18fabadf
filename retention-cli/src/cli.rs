//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

mod modelling;

pub use modelling::*;

/// RetentionAI: predict which customers are about to churn, and how sure the model is.
#[derive(Debug, Parser)]
#[command(
    name = "retention",
    version,
    about,
    long_about = "RetentionAI trains churn models on a customer table (CSV or Parquet), reports \
cross-validated quality, and scores customers with a churn probability, a 0/1 prediction and a \
risk tier (Low < 0.3 <= Medium < 0.7 <= High).",
    after_help = "Example:\n  retention train --data data/telco_customer_churn.csv --target Churn --id customerID --out model.json\n  retention score --model model.json --data data/telco_customer_churn.csv --out scores.csv"
)]
pub struct Cli {
    /// Configuration file (TOML): any global option, `[log]` and `[serve]` settings, `[app]`;
    /// default: the file RETENTIONAI_CONFIG names, if any. Precedence: flag >
    /// RETENTIONAI_<NAME> variable > file > default (`retention config show`).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Operations database: a SQLite file path, or a postgres://user@host/db URL (shared by
    /// several processes). Holds the model registry, prediction log, API keys and audit log.
    #[arg(
        long,
        global = true,
        value_name = "PATH|URL",
        default_value = retention_core::store::DEFAULT_DB,
        value_parser = DbParser
    )]
    pub db: retention_core::store::Db,
    #[command(flatten)]
    pub log: LogArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a churn model with cross-validation and save it to a model file.
    #[command(
        after_help = "Examples:\n  retention train --data data/telco_customer_churn.csv --target Churn --id customerID --out model.json\n  retention train --data customers.parquet --target Exited --algorithm tree --cv 10 --seed 7 --out tree.json\n  retention train --data data/telco_customer_churn.csv --threshold-objective profit --customer-value 1200 --offer-cost 50 --out model.json\n  retention train --data data/telco_customer_churn.csv --features examples/telco_features.toml --out model.json --json"
    )]
    Train(Box<TrainArgs>),
    /// Score customers: churn probability, prediction and risk tier per row.
    #[command(
        after_help = "Example:\n  retention score --model model.json --data data/telco_customer_churn.csv --out scores.csv --keep Contract"
    )]
    Score(ScoreArgs),
    /// Evaluate a model on a labelled table.
    #[command(after_help = "Example:\n  retention evaluate --model model.json --data holdout.csv")]
    Evaluate(EvaluateArgs),
    /// Explain scores: the top reasons per customer, and what-if rescoring with --set.
    #[command(
        after_help = "Examples:\n  retention explain --model model.json --data data/telco_customer_churn.csv --id 7590-VHVEG\n  retention explain --model model.json --data data/telco_customer_churn.csv --id 7590-VHVEG --set Contract=\"Two year\"\n  retention explain --model model.json --data data/telco_customer_churn.csv --top 5 --out reasons.csv"
    )]
    Explain(ExplainArgs),
    /// Global importance: mean absolute contribution of each column.
    #[command(
        after_help = "Example:\n  retention importance --model model.json --data data/telco_customer_churn.csv"
    )]
    Importance(ImportanceArgs),
    /// Compare a current table with a reference: per-feature drift, prediction drift, a verdict.
    #[command(
        long_about = "Compare a current customer table with a reference (the training data, or last \
month): PSI, Kolmogorov-Smirnov and normalised Wasserstein per numeric column; PSI, chi-square and \
Jensen-Shannon per categorical column; missing rates. With --model, also the drift of the predicted \
probabilities and risk tiers, the model's ROC-AUC and accuracy estimated without labels, and measured \
when the current table has labels.\n\nA column drifts when its change is significant (p-value < \
--p-value) and large enough: alert at PSI >= --psi-alert, warn at PSI >= --psi-warn or distance >= \
--distance-warn.\n\nExit status: 0 no drift at the --fail-on level, 1 error, 2 bad arguments, 3 drift \
at or above --fail-on.\n\nWhen the operations database (--db) exists, the verdict is recorded there: `retention serve` \
exports the latest as retentionai_data_drift_score.",
        after_help = "Examples:\n  retention drift --reference data/telco_customer_churn.csv --current week.csv\n  retention drift --reference train.csv --current week.csv --model model.json --fail-on alert\n  retention drift --reference train.csv --current week.csv --json --out drift.json"
    )]
    Drift(Box<DriftArgs>),
    /// Generate synthetic customers shaped like a template table (Telco by default), at any size.
    #[command(
        after_help = "Examples:\n  retention generate --rows 1000000 --seed 1 --out customers_1m.csv\n  retention generate --rows 100000 --seed 2 --out week.parquet --shift tenure=-6 --shift Contract=Month-to-month:+0.15"
    )]
    Generate(GenerateArgs),
    /// Model registry: register, list, validate, promote, A/B test, roll back, compare.
    #[command(
        subcommand,
        after_help = "Examples:\n  retention model register out/model.json --notes \"November retrain\"\n  retention model validate 1 --data holdout.csv\n  retention model promote 1\n  retention model ab --challenger 2 --split 0.1"
    )]
    Model(ModelCommand),
    /// Database maintenance: check, optimize, cleanup.
    #[command(
        subcommand,
        after_help = "Examples:\n  retention db check\n  retention db cleanup --older-than 90d"
    )]
    Db(DbCommand),
    /// Back up the database and model artifacts (online, consistent), or verify a backup.
    #[command(
        args_conflicts_with_subcommands = true,
        after_help = "Examples:\n  retention backup --out backups/ --keep 7\n  retention backup verify backups/retentionai-20261127T040000.000Z"
    )]
    Backup(BackupArgs),
    /// Restore the database from a verified backup (the replaced database is kept aside).
    #[command(
        after_help = "Example:\n  retention restore --from backups/retentionai-20261127T040000.000Z"
    )]
    Restore(RestoreArgs),
    /// GDPR requests: export or erase a customer's data, monthly audit.
    #[command(
        subcommand,
        after_help = "Examples:\n  retention gdpr export --customer-id 7590-VHVEG --out export.json\n  retention gdpr delete --customer-id 7590-VHVEG\n  retention gdpr audit --month 2026-11"
    )]
    Gdpr(GdprCommand),
    /// Serve scores over HTTP: champion/challenger routing, API keys, health checks, Prometheus
    /// metrics, every prediction logged.
    #[command(
        long_about = "Serve the registry's champion (and challenger, during an A/B test) over HTTP. \
Endpoints: POST /v1/predict, POST /v1/predict/batch (JSON array or CSV), POST /v1/explain, GET \
/v1/model (these need an API key: `retention auth create-key`), GET /health, /live, /ready and \
/metrics (open). A promotion, rollback or A/B change is picked up within --reload-interval without a \
restart. Predictions are logged to the database by a background writer; SIGTERM or Ctrl-C stops \
accepting connections, finishes the requests in flight and writes every queued prediction before \
exiting.",
        after_help = "Examples:\n  retention auth create-key --name ops\n  retention serve --db data/retentionai.db --port 8501\n  curl -f http://localhost:8501/health\n  curl -s -H \"Authorization: Bearer $KEY\" -d @customer.json http://localhost:8501/v1/predict"
    )]
    Serve(ServeArgs),
    /// API keys for `retention serve`: create (shown once), list, rotate, revoke.
    #[command(
        subcommand,
        after_help = "Examples:\n  retention auth create-key --name ops\n  retention auth list\n  retention auth rotate --name ops --grace 24h\n  retention auth revoke --name ops"
    )]
    Auth(AuthCommand),
    /// Check the installation: configuration, database, models, backups, disk, a running server.
    #[command(
        long_about = "Check the installation as the runbook's health check, diagnostics and database \
check do: the configuration is valid; the database answers, is intact and at the latest schema; its \
folder is private and writable; the champion and the challenger load and match their SHA-256; a \
backup newer than --max-backup-age exists and verifies; the disk has room; and, with --url, a \
running server answers /live, /health, /ready and /metrics.\n\nExit status: 0 every check passed \
(warnings allowed), 1 error, 2 bad arguments or configuration, 3 a check failed.",
        after_help = "Examples:\n  retention doctor\n  retention doctor --url http://localhost:8501 --json\n  retention doctor --url http://localhost:8501 --bundle incident-4711.tar.gz"
    )]
    Doctor(DoctorArgs),
    /// Print shell completions (bash, zsh, fish, elvish, powershell) for `retention`.
    #[command(
        after_help = "Examples:\n  retention completions bash > /etc/bash_completion.d/retention\n  retention completions zsh > \"${fpath[1]}/_retention\""
    )]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or write one page per command into a folder.
    #[command(
        after_help = "Examples:\n  retention man | man -l -\n  retention man --out /usr/local/share/man/man1"
    )]
    Man {
        /// Write retention.1 and retention-<command>.1 pages into this folder.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// The effective configuration: every setting, its value and where it came from.
    #[command(
        subcommand,
        after_help = "Examples:\n  retention config show\n  RETENTIONAI_PORT=9000 retention --config /etc/retentionai/config.toml config show --json\n  retention config check"
    )]
    Config(ConfigCommand),
    /// Show a model's schema, features, metrics and provenance.
    #[command(
        after_help = "Example:\n  retention inspect model.json\n  retention inspect model.json --json | jq .metrics.cv"
    )]
    Inspect(InspectArgs),
}

#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// Model file, or a registry reference (champion, challenger, a version). Default: the
    /// registry's champion, with the challenger's share of customers routed to it during an A/B test.
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,
    /// Log every scored row to the database's prediction log (one transaction per batch).
    #[arg(long)]
    pub log: bool,
    /// Batch id for the log; re-running a batch id never duplicates rows. Default: derived from
    /// the input file's contents and the models used.
    #[arg(long, value_name = "ID")]
    pub batch_id: Option<String>,
    /// Customers to score (CSV or Parquet).
    #[arg(long, value_name = "FILE")]
    pub data: PathBuf,
    /// Where to write the scores (CSV or Parquet, by extension).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Input columns to copy beside the scores (comma separated or repeated).
    #[arg(long, value_name = "COL", value_delimiter = ',')]
    pub keep: Vec<String>,
    /// Print the first N scored rows.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub show: usize,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Register a model file as a new immutable version.
    #[command(
        after_help = "Example:\n  retention model register model.json --notes \"November retrain\""
    )]
    Register {
        /// Model file.
        #[arg(value_name = "MODEL")]
        model: PathBuf,
        /// Free text kept with the version.
        #[arg(long, default_value = "")]
        notes: String,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List registered versions with their aliases and latest validation.
    List {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Validate a version on a labelled holdout: ROC-AUC and accuracy gates, valid probabilities,
    /// schema compatible with the champion. Exit status 3 when a gate fails.
    #[command(after_help = "Example:\n  retention model validate 2 --data holdout.csv")]
    Validate {
        /// Version (or champion / challenger).
        #[arg(value_name = "VERSION")]
        version: String,
        /// Labelled holdout (CSV or Parquet).
        #[arg(long, value_name = "FILE")]
        data: PathBuf,
        #[command(flatten)]
        gate: GateArgs,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make a version the champion. Refused unless its latest validation passed and it beats the
    /// champion by --margin on the same holdout, or --force with a --reason.
    #[command(
        after_help = "Examples:\n  retention model promote 2 --data holdout.csv\n  retention model promote --force --reason \"hotfix for INC-42\" 3"
    )]
    Promote {
        /// Version to promote. Default: the challenger.
        #[arg(value_name = "VERSION")]
        version: Option<String>,
        /// Validate candidate and champion on this holdout now (else their latest validations on
        /// the same file are used).
        #[arg(long, value_name = "FILE")]
        data: Option<PathBuf>,
        #[command(flatten)]
        gate: GateArgs,
        /// Promote even though a gate fails (needs --reason).
        #[arg(long)]
        force: bool,
        /// Why (recorded with the promotion).
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Start (or change) an A/B test routing a share of customers to a challenger, or stop it.
    /// The challenger needs a passed validation, as a promotion does.
    #[command(
        after_help = "Examples:\n  retention model ab --challenger 3 --split 0.1\n  retention model ab --off"
    )]
    Ab {
        /// The challenger version.
        #[arg(long, value_name = "VERSION", required_unless_present = "off")]
        challenger: Option<String>,
        /// Share of customers routed to the challenger (stable per customer id).
        #[arg(long, value_name = "SHARE", default_value_t = 0.1)]
        split: f64,
        /// Stop the A/B test.
        #[arg(long, conflicts_with = "challenger")]
        off: bool,
        /// Start the test although the challenger's validation is missing or failed (needs
        /// --reason).
        #[arg(long, conflicts_with = "off")]
        force: bool,
        /// Why (recorded with the A/B test).
        #[arg(long, value_name = "TEXT", conflicts_with = "off")]
        reason: Option<String>,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make the previous champion the champion again.
    Rollback {
        /// Why (recorded with the event).
        #[arg(long, value_name = "TEXT", default_value = "rollback")]
        reason: String,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Compare champion and challenger on logged predictions whose outcomes are now known.
    #[command(after_help = "Example:\n  retention model compare --outcomes churned_last_month.csv")]
    Compare {
        /// Table with the customer id and the churn outcome.
        #[arg(long, value_name = "FILE")]
        outcomes: PathBuf,
        /// Outcome column. Default: Churn, Churned, Exited…
        #[arg(long, value_name = "COL")]
        target: Option<String>,
        /// Customer id column. Default: the model's id column.
        #[arg(long, value_name = "COL")]
        id: Option<String>,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct GateArgs {
    /// Minimum holdout ROC-AUC.
    #[arg(long, value_name = "AUC", default_value_t = retention_core::lifecycle::Gate::MIN_ROC_AUC)]
    pub min_auc: f64,
    /// Minimum holdout accuracy.
    #[arg(long, value_name = "ACC", default_value_t = retention_core::lifecycle::Gate::MIN_ACCURACY)]
    pub min_accuracy: f64,
    /// ROC-AUC a new champion must gain over the current one.
    #[arg(long, value_name = "AUC", default_value_t = retention_core::lifecycle::Gate::MARGIN)]
    pub margin: f64,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Integrity and foreign-key checks, row counts, last backup age. Exit status 3 on failure.
    Check {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Refresh statistics, checkpoint the WAL and reclaim free space.
    Optimize {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete logged predictions older than an age, in bounded batches.
    #[command(after_help = "Example:\n  retention db cleanup --older-than 90d")]
    Cleanup {
        /// Age such as 90d, 12h, 30m.
        #[arg(long, value_name = "AGE")]
        older_than: String,
        /// Rows deleted per transaction.
        #[arg(long, value_name = "ROWS", default_value_t = 10_000)]
        batch: usize,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Folder to hold the backups (a new retentionai-<time> folder is created inside).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Backups to keep in the folder (older ones are removed).
    #[arg(long, value_name = "N", default_value_t = 7)]
    pub keep: usize,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Option<BackupCommand>,
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Check a backup's files against its manifest and its database's integrity.
    Verify {
        /// A backup folder (retentionai-<time>).
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup folder to restore from.
    #[arg(long, value_name = "DIR")]
    pub from: PathBuf,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum GdprCommand {
    /// Every row about a customer, as JSON (right of access).
    Export {
        /// The customer's id.
        #[arg(long, value_name = "ID")]
        customer_id: String,
        /// Write to this file instead of printing.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Erase every row about a customer in one transaction (right to erasure).
    Delete {
        /// The customer's id.
        #[arg(long, value_name = "ID")]
        customer_id: String,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Requests handled in a month and the retention policy's status.
    #[command(after_help = "Example:\n  retention gdpr audit --month 2026-11")]
    Audit {
        /// Month as YYYY-MM.
        #[arg(long, value_name = "YYYY-MM")]
        month: String,
        /// Predictions older than this many days break the retention policy.
        #[arg(long, value_name = "DAYS", default_value_t = 90)]
        retention_days: u64,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (127.0.0.1 keeps the service on this machine).
    #[arg(long, default_value = "127.0.0.1", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub host: String,
    /// Port to listen on (0 picks a free one; the address is printed at start).
    #[arg(long, default_value_t = 8501)]
    pub port: u16,
    /// How often to look for a new champion, challenger, split, API keys, validations and drift
    /// reports in the database, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1000, value_parser = in_range(1, 86_400_000))]
    pub reload_interval: u64,
    /// Predictions waiting to be logged; beyond this the newest are dropped (and counted).
    #[arg(long, value_name = "ROWS", default_value_t = 100_000, value_parser = count(1, 100_000_000))]
    pub log_queue: usize,
    /// Do not log predictions to the database.
    #[arg(long)]
    pub no_log: bool,
    /// Serve /v1/* without API keys (for a service reachable only by trusted callers).
    #[arg(long)]
    pub no_auth: bool,
    /// A request taking longer than this is answered 503 (code "timeout"), in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 10_000, value_parser = in_range(1, 3_600_000))]
    pub timeout: u64,
    /// Most customers in one /v1/predict/batch request.
    #[arg(long, value_name = "ROWS", default_value_t = 10_000, value_parser = count(1, 10_000_000))]
    pub max_batch: usize,
    /// /health fails when the database's file system has less free space than this, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 100, value_parser = in_range(0, 1 << 30))]
    pub min_free_disk: u64,
    /// /health fails when this process's resident memory exceeds this, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 2048, value_parser = in_range(1, 1 << 30))]
    pub max_memory: u64,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N", value_parser = count(1, 4096))]
    pub threads: Option<usize>,
    /// Threads that parse, score and explain (never the workers that answer /live, /ready and
    /// /metrics); requests wait for them in one queue; default: one per core.
    #[arg(long, value_name = "N", value_parser = count(1, 4096))]
    pub scoring_threads: Option<usize>,
    /// Client connections open at once. Past it, a few more are answered on /live, /ready,
    /// /health and /metrics only (503 `overloaded` elsewhere), and the rest are closed at once.
    #[arg(long, value_name = "N", default_value_t = 512, value_parser = count(1, 1_000_000))]
    pub max_connections: usize,
    /// A connection that does not send a complete request head within this time, new or
    /// between keep-alive requests, is closed, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10, value_parser = in_range(1, 86_400))]
    pub idle_timeout: u64,
    /// Bytes the prediction log's queue may hold; beyond this entries are dropped (and
    /// counted), in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 64, value_parser = count(1, 65_536))]
    pub log_queue_mib: usize,
}

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Create an API key. It is printed once; the database keeps only its hash.
    CreateKey {
        /// A name for the key (who or what uses it); unique among active keys.
        #[arg(long)]
        name: String,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List keys (names, first characters, creation, revocation; never the keys).
    List {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Replace the key with this name by a new one (printed once); the old key keeps working
    /// for --grace so its users can switch, then servers refuse it.
    #[command(after_help = "Example:\n  retention auth rotate --name ops --grace 24h")]
    Rotate {
        /// The key's name (the new key gets the same name).
        #[arg(long)]
        name: String,
        /// How long the old key keeps working: 30m, 24h, 7d; 0s revokes it at once.
        #[arg(long, value_name = "AGE", default_value = "24h")]
        grace: String,
        /// Print as JSON (the new key included).
        #[arg(long)]
        json: bool,
    },
    /// Revoke the active key with this name; a running server refuses it within its reload
    /// interval.
    Revoke {
        /// The key's name.
        #[arg(long)]
        name: String,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Where the command's log goes and how it reads. The terminal output of commands (tables,
/// progress) is not the log: it stays human. `retention serve` logs every request.
#[derive(Debug, Args)]
pub struct LogArgs {
    /// Log format on stderr and in --log-file: text, or one JSON object per line.
    #[arg(long, global = true, value_name = "FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Least severe level logged (error, warn, info, debug, trace), or a filter such as
    /// `info,retention::access=warn`.
    #[arg(long, global = true, value_name = "LEVEL", default_value = "info")]
    pub log_level: String,
    /// Also append the log to this file, rotated when it reaches --log-max-mib (app.log →
    /// app.log.1 → …). Use `tail -F` to follow it across rotations.
    #[arg(long, global = true, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
    /// Size at which --log-file is rotated, in MiB.
    #[arg(long, global = true, value_name = "MIB", default_value_t = 100, value_parser = in_range(1, 65_536))]
    pub log_max_mib: u64,
    /// Rotated log files kept besides the current one.
    #[arg(long, global = true, value_name = "N", default_value_t = 5, value_parser = count(0, 1000))]
    pub log_keep: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Every setting with its effective value (secrets redacted) and its source: flag, env
    /// VARIABLE, file PATH or default.
    Show {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check the configuration file and the RETENTIONAI_* variables and exit (0 when valid;
    /// an invalid one stops every command with exit status 2, naming the key).
    Check {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// A running server to check (`http://HOST:PORT`).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// The newest backup may be this old, in hours.
    #[arg(long, value_name = "HOURS", default_value_t = retention_core::doctor::Thresholds::DEFAULT.backup_max_age_hours)]
    pub max_backup_age: f64,
    /// Also write a diagnostics bundle for an incident ticket (.tar.gz): versions, the redacted
    /// configuration, the checks, database statistics, recent audit entries, a metrics snapshot
    /// (with --url) and the end of the log file (with --log-file).
    #[arg(long, value_name = "FILE")]
    pub bundle: Option<PathBuf>,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

/// An integer setting within `min..=max` (a bad value is refused by the flag's parser, so also
/// at start-up from the configuration file or the environment, naming the key).
/// `--db`: a file path or a `postgres://` URL. A refused value is named without its password
/// (clap's own message would quote the value as typed).
#[derive(Debug, Clone, Copy)]
pub struct DbParser;

impl clap::builder::TypedValueParser for DbParser {
    type Value = retention_core::store::Db;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Self::Value, clap::Error> {
        match value.to_str() {
            Some(text) => retention_core::store::Db::parse(text).map_err(|e| {
                clap::Error::raw(
                    clap::error::ErrorKind::InvalidValue,
                    format!("{}\n", crate::spelling::text(&e.to_string())),
                )
                .with_cmd(cmd)
            }),
            None => Ok(retention_core::store::Db::File(PathBuf::from(value))),
        }
    }
}

fn in_range(min: u64, max: u64) -> clap::builder::RangedU64ValueParser<u64> {
    clap::builder::RangedU64ValueParser::<u64>::new().range(min..=max)
}

/// A count setting within `min..=max`.
fn count(min: u64, max: u64) -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::<usize>::new().range(min..=max)
}
