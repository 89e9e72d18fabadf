//! What the handlers share: the served models (swapped whole on a promotion, so a request in
//! flight keeps the models it started with), the API keys, the metrics, the log writer, and a
//! database connection for reloads and health checks.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use retention_core::lifecycle::{Variant, route};
use retention_core::scoring::RowScorer;
use retention_core::store::{Aliases, Store};

use super::logger::Logger;
use super::metrics::{DriftGauge, Metrics, ModelGauge};

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
}

impl Live {
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
    pub db: PathBuf,
    pub auth: bool,
    pub timeout: Duration,
    pub max_batch: usize,
    pub min_free_disk_mib: u64,
    pub max_memory_mib: u64,
}

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

    /// Reads the registry's aliases, API keys, validations and latest drift report, and swaps in
    /// newly promoted models. Returns what changed, for the service's log. On an error the
    /// served models stay as they were.
    pub fn reload(&self) -> anyhow::Result<Option<String>> {
        let result = self.reload_inner();
        self.db_ok.store(result.is_ok(), Ordering::Relaxed);
        if result.is_err() {
            self.metrics.reload_error();
        }
        result
    }

    fn reload_inner(&self) -> anyhow::Result<Option<String>> {
        let store = self.store();
        let aliases = store.aliases()?;
        let keys: HashMap<String, String> = store.active_api_key_hashes()?.into_iter().collect();
        let drift = store.latest_drift()?.map(|d| DriftGauge {
            share: d.share,
            status: match d.status.as_str() {
                "ok" => 0,
                "warn" => 1,
                _ => 2,
            },
        });
        let last_backup = store.last_backup_at()?.map(|t| t.timestamp());
        let current = self.live();
        let mut change = None;
        let live = if aliases != current.aliases {
            // Reuse a model already loaded under either alias: a promotion of the challenger
            // needs no load.
            let load = |version: Option<i64>| -> anyhow::Result<Option<Arc<Served>>> {
                let Some(v) = version else { return Ok(None) };
                for s in [&current.champion, &current.challenger]
                    .into_iter()
                    .flatten()
                {
                    if s.version == v {
                        return Ok(Some(s.clone()));
                    }
                }
                let info = store.version_info(v)?;
                let model = store.load_model(v)?;
                Ok(Some(Arc::new(Served {
                    version: v,
                    scorer: model.into_row_scorer(),
                    algorithm: info.algorithm,
                    registered_at: info.registered_at,
                    validation: RwLock::new(None),
                })))
            };
            let live = Arc::new(Live {
                champion: load(aliases.champion)?,
                challenger: load(aliases.challenger)?,
                aliases: aliases.clone(),
            });
            change = Some(describe(&aliases));
            live
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
        } else {
            self.metrics.set_models(live.gauges());
        }
        self.metrics.set_drift(drift);
        self.metrics.set_last_backup(last_backup);
        *self
            .keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(keys);
        Ok(change)
    }
}

fn describe(a: &Aliases) -> String {
    match (a.champion, a.challenger) {
        (None, _) => "no champion in the registry yet: /ready answers 503, /v1 scoring 503".into(),
        (Some(c), None) => format!("serving champion v{c}"),
        (Some(c), Some(ch)) => format!(
            "serving champion v{c} and challenger v{ch} ({:.0} % of customers)",
            a.split * 100.0
        ),
    }
}
