//! What the handlers share: the served models (swapped whole on a promotion, so a request in
//! flight keeps the models it started with), the API keys, the metrics, the log writer, and a
//! database connection for reloads and health checks.
//!
//! A reload reads the registry one piece at a time: API keys, drift and backups first, then each
//! served version on its own. A version that cannot be loaded is reported (a metric, an audit
//! entry, `/health`) and skipped; the others, and the keys, keep updating. When the database
//! file was replaced (`retention restore`), the connection is reopened and every model reloaded.

use retention_core::store::Db;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use retention_core::Error as CoreError;
use retention_core::lifecycle::{Variant, route};
use retention_core::scoring::RowScorer;
use retention_core::store::{Aliases, Store};
use serde_json::json;
use tokio::sync::Semaphore;

use super::pool::ScorerPool;

use super::logger::{Entry, Logger};
use super::metrics::{DriftGauge, Metrics, ModelGauge};
use super::records::Wanted;

/// A registered version loaded and ready to score.
#[derive(Debug)]
pub struct Served {
    pub version: i64,
    pub scorer: RowScorer<'static>,
    pub algorithm: String,
    pub registered_at: String,
    /// Latest validation (ROC-AUC, accuracy), refreshed on every reload.
    pub validation: RwLock<Option<(f64, f64)>>,
}

/// The models serving right now.
#[derive(Debug, Default)]
pub struct Live {
    pub aliases: Aliases,
    pub champion: Option<Arc<Served>>,
    pub challenger: Option<Arc<Served>>,
    /// The fields a request's customers are read for: the served models' inputs and ids.
    pub wanted: Wanted,
}

impl Live {
    fn new(
        aliases: Aliases,
        champion: Option<Arc<Served>>,
        challenger: Option<Arc<Served>>,
    ) -> Live {
        let mut names: Vec<&str> = Vec::new();
        for s in [&champion, &challenger].into_iter().flatten() {
            let model = s.scorer.model();
            names.extend(model.schema.id());
            names.extend(s.scorer.inputs().iter().map(|(n, _)| n.as_str()));
        }
        let wanted = Wanted::new(names);
        Live {
            aliases,
            champion,
            challenger,
            wanted,
        }
    }

    /// The model and variant for a customer: the challenger for its share of customer ids while
    /// an A/B test runs, else the champion. `None` before a champion is loaded.
    pub fn route(&self, customer_id: Option<&str>) -> Option<(&Arc<Served>, Variant)> {
        let champion = self.champion.as_ref()?;
        if let (Some(challenger), Some(id)) = (&self.challenger, customer_id)
            && route(id, self.aliases.split) == Variant::Challenger
        {
            return Some((challenger, Variant::Challenger));
        }
        Some((champion, Variant::Champion))
    }

    fn gauges(&self) -> Vec<ModelGauge> {
        let mut out = Vec::new();
        for (served, variant) in [
            (&self.champion, Variant::Champion),
            (&self.challenger, Variant::Challenger),
        ] {
            if let Some(s) = served {
                let validation = *s
                    .validation
                    .read()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                out.push(ModelGauge {
                    version: s.version,
                    variant: variant.as_str(),
                    algorithm: s.algorithm.clone(),
                    auc: validation.map(|v| v.0),
                    accuracy: validation.map(|v| v.1),
                });
            }
        }
        out
    }
}

/// Settings from the command line.
#[derive(Debug, Clone)]
pub struct Config {
    pub db: Db,
    pub auth: bool,
    pub timeout: Duration,
    pub max_batch: usize,
    pub min_free_disk_mib: u64,
    pub max_memory_mib: u64,
}

/// The registry versions that could not be loaded, with why (never retried: versions do not
/// change once registered).
pub type LoadFailures = BTreeMap<i64, String>;

/// Shared by every request.
#[derive(Debug)]
pub struct AppState {
    pub config: Config,
    pub live: RwLock<Arc<Live>>,
    /// SHA-256 of each active API key → its name.
    pub keys: RwLock<Arc<HashMap<String, String>>>,
    pub metrics: Arc<Metrics>,
    /// Audit entries (refused keys) and, unless `log_predictions` is off, predictions.
    pub logger: Option<Logger>,
    pub log_predictions: bool,
    /// For reloads and health checks (the log writer has its own connection).
    pub store: Mutex<Store>,
    /// Whether the last reload reached the database.
    pub db_ok: AtomicBool,
    /// Versions that failed to load.
    pub load_failures: Mutex<LoadFailures>,
    /// Set when the database was reopened, cleared once every model was loaded from the new
    /// file: an error in between must not leave models of the replaced file serving.
    pub reload_all: AtomicBool,
    /// The threads that do all model work (`--scoring-threads`).
    pub scorers: ScorerPool,
    /// Batch bodies read and held at once (as many as `--scoring-threads`).
    pub batch_bodies: Arc<Semaphore>,
}

impl AppState {
    pub fn live(&self) -> Arc<Live> {
        self.live
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub fn keys(&self) -> Arc<HashMap<String, String>> {
        self.keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn load_failures(&self) -> LoadFailures {
        self.load_failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Reads the registry's aliases, API keys, validations and latest drift report, and swaps in
    /// newly promoted models. Returns what changed, for the service's log. An error means the
    /// database did not answer; the served models then stay as they were.
    pub fn reload(&self) -> anyhow::Result<Option<String>> {
        let result = self.reload_inner();
        self.db_ok.store(result.is_ok(), Ordering::Relaxed);
        self.metrics
            .database_up
            .store(result.is_ok(), Ordering::Relaxed);
        self.metrics
            .set_disk_free(super::health::database_free_bytes(&self.config.db));
        if result.is_err() {
            self.metrics.reload_error();
        }
        result
    }

    /// Reopens the connection when the database file was replaced; then every model is loaded
    /// again from the new file (version numbers may name other models there).
    fn reopen_if_replaced(&self) -> anyhow::Result<bool> {
        let mut store = self.store();
        // A removed file is not reopened (that would create an empty database in its place).
        if !store.file_replaced() || self.config.db.file().is_some_and(|f| !f.exists()) {
            return Ok(false);
        }
        *store = Store::open(&self.config.db)?;
        self.reload_all.store(true, Ordering::Relaxed);
        tracing::warn!(
            target: "retention::serve",
            "the database file was replaced: reloading every model from the new one"
        );
        self.load_failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
        Ok(true)
    }

    fn reload_inner(&self) -> anyhow::Result<Option<String>> {
        self.reopen_if_replaced()?;
        let reopened = self.reload_all.load(Ordering::Relaxed);
        let store = self.store();
        // Keys first: a revocation takes effect whatever happens to the models.
        let keys: HashMap<String, String> = store.active_api_key_hashes()?.into_iter().collect();
        *self
            .keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(keys);
        let drift = store.latest_drift()?.map(|d| DriftGauge {
            share: d.share,
            status: d.status.level(),
        });
        self.metrics.set_drift(drift);
        self.metrics
            .set_last_backup(store.last_backup_at()?.map(|t| t.timestamp()));

        let aliases = store.aliases()?;
        let current = self.live();
        let mut change = None;
        let live = if reopened || aliases != current.aliases {
            let reusable = if reopened {
                Vec::new()
            } else {
                [&current.champion, &current.challenger]
                    .into_iter()
                    .flatten()
                    .cloned()
                    .collect()
            };
            // A champion that cannot be loaded leaves the previous one serving; a challenger
            // that cannot be loaded leaves every customer on the champion.
            let champion = match self.served(&store, aliases.champion, &reusable)? {
                Some(s) => Some(s),
                None if aliases.champion.is_some() && !reopened => current.champion.clone(),
                None => None,
            };
            let challenger = self.served(&store, aliases.challenger, &reusable)?;
            change = Some(describe(&aliases, &champion, &challenger));
            Arc::new(Live::new(aliases, champion, challenger))
        } else {
            current
        };
        for s in [&live.champion, &live.challenger].into_iter().flatten() {
            let v = store
                .latest_validation(s.version)?
                .map(|v| (v.roc_auc, v.accuracy));
            *s.validation
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = v;
        }
        drop(store);
        if change.is_some() {
            self.metrics.deployed(live.gauges());
            *self
                .live
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = live;
            self.reload_all.store(false, Ordering::Relaxed);
        } else {
            self.metrics.set_models(live.gauges());
        }
        Ok(change)
    }

    /// The model of `version`: one already loaded, or loaded now. `Ok(None)` when there is no
    /// version or it cannot be loaded (reported once); `Err` only when the database fails.
    fn served(
        &self,
        store: &Store,
        version: Option<i64>,
        reusable: &[Arc<Served>],
    ) -> anyhow::Result<Option<Arc<Served>>> {
        let Some(v) = version else { return Ok(None) };
        if let Some(s) = reusable.iter().find(|s| s.version == v) {
            return Ok(Some(s.clone()));
        }
        if self.load_failures().contains_key(&v) {
            return Ok(None);
        }
        let loaded = store.version_info(v).and_then(|info| {
            let model = store.load_model(v)?;
            Ok((info, model))
        });
        match loaded {
            Ok((info, model)) => {
                tracing::info!(
                    target: "retention::serve",
                    model_version = v,
                    algorithm = %info.algorithm,
                    sha256 = %info.sha256,
                    "Loading model"
                );
                Ok(Some(Arc::new(Served {
                    version: v,
                    scorer: model.into_row_scorer(),
                    algorithm: info.algorithm,
                    registered_at: info.registered_at,
                    validation: RwLock::new(None),
                })))
            }
            Err(e @ (CoreError::Store { .. } | CoreError::Io { .. })) => Err(e.into()),
            Err(e) => {
                let reason = e.to_string();
                tracing::error!(
                    target: "retention::serve",
                    model_version = v,
                    error = %reason,
                    "Loading model failed (skipped)"
                );
                self.metrics
                    .model_load_failures
                    .fetch_add(1, Ordering::Relaxed);
                if let Some(logger) = &self.logger {
                    logger.log(Entry::Audit {
                        action: retention_core::store::AuditAction::ModelLoadFailed,
                        subject: format!("v{v}"),
                        details: json!({ "reason": reason }),
                    });
                }
                self.load_failures
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(v, reason);
                Ok(None)
            }
        }
    }
}

fn describe(
    a: &Aliases,
    champion: &Option<Arc<Served>>,
    challenger: &Option<Arc<Served>>,
) -> String {
    let serving = match (champion, challenger) {
        (None, _) => "no champion is serving: /ready answers 503, /v1 scoring 503".to_string(),
        (Some(c), None) => format!("serving champion v{}", c.version),
        (Some(c), Some(ch)) => format!(
            "serving champion v{} and challenger v{} ({:.0} % of customers)",
            c.version,
            ch.version,
            a.split * 100.0
        ),
    };
    let wanted = (a.champion, a.challenger);
    let got = (
        champion.as_ref().map(|s| s.version),
        challenger.as_ref().map(|s| s.version),
    );
    if a.champion.is_none() {
        "no champion in the registry yet: /ready answers 503, /v1 scoring 503".into()
    } else if wanted != got {
        format!(
            "{serving} (the registry names champion {:?}, challenger {:?}; see /health)",
            a.champion, a.challenger
        )
    } else {
        serving
    }
}
