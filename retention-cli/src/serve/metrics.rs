//! The service's Prometheus metrics, kept in memory and rendered in the text exposition format.
//! Label values are routes, methods, status codes, model versions and variants: never customer ids.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Upper bounds (seconds) of the duration histograms' buckets: 100 µs to 5 s.
const BUCKETS: [f64; 15] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

#[derive(Debug, Clone, Default)]
struct Histogram {
    /// Observations per bucket (not cumulative); the last is above every bound.
    counts: [u64; BUCKETS.len() + 1],
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        self.counts[BUCKETS.partition_point(|b| *b < seconds)] += 1;
        self.sum += seconds;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (bound, count) in BUCKETS.iter().zip(&self.counts) {
            cumulative += count;
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {cumulative}"
            );
        }
        cumulative += self.counts[BUCKETS.len()];
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {cumulative}"
        );
        let braces = |l: &str| {
            if l.is_empty() {
                String::new()
            } else {
                format!("{{{l}}}")
            }
        };
        let _ = writeln!(out, "{name}_sum{} {}", braces(labels), self.sum);
        let _ = writeln!(out, "{name}_count{} {cumulative}", braces(labels));
    }
}

/// A served model's figures for the gauges.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelGauge {
    pub version: i64,
    pub variant: &'static str,
    pub algorithm: String,
    /// From the version's latest validation, when it has one.
    pub accuracy: Option<f64>,
    pub auc: Option<f64>,
}

/// The latest recorded drift comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftGauge {
    pub share: f64,
    /// 0 ok, 1 warn, 2 alert.
    pub status: u8,
}

/// Every metric the service exposes.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, String, u16), u64>>,
    request_duration: Mutex<BTreeMap<String, Histogram>>,
    predictions: Mutex<BTreeMap<(i64, &'static str), u64>>,
    prediction_duration: Mutex<Histogram>,
    auth_failures: Mutex<BTreeMap<&'static str, u64>>,
    models: Mutex<Vec<ModelGauge>>,
    drift: Mutex<Option<DriftGauge>>,
    /// Unix time of the newest recorded backup.
    last_backup: Mutex<Option<i64>>,
    high_risk: AtomicU64,
    deployments: AtomicU64,
    reload_errors: AtomicU64,
    /// Registered versions that could not be loaded (each counted once).
    pub model_load_failures: AtomicU64,
    /// Connections open now (within the cap and the overflow).
    pub connections_open: AtomicI64,
    /// Connections accepted past the cap and served health endpoints only.
    pub connections_overflow: AtomicU64,
    /// Connections closed at once because the cap and its overflow were full.
    pub connections_refused: AtomicU64,
    /// Bytes held by the entries waiting in the prediction log's queue.
    pub log_queue_bytes: AtomicI64,
    /// Entries waiting in the prediction log's queue.
    pub log_queue_depth: AtomicI64,
    /// Entries dropped because the queue was full.
    pub log_dropped: AtomicU64,
    /// Predictions written to the database.
    pub log_written: AtomicU64,
    /// Entries lost to database errors.
    pub log_errors: AtomicU64,
    /// Whether the database answered the latest look at the registry.
    pub database_up: std::sync::atomic::AtomicBool,
    /// Free bytes on the database's file system at the latest look (`u64::MAX`: unknown).
    disk_free: AtomicU64,
    /// Requests answered since start (every endpoint), for the rate gauge.
    requests_seen: AtomicU64,
    /// `(when, requests_seen)` once per [`Metrics::tick`], the last [`RATE_WINDOW`] + 1.
    rate_samples: Mutex<std::collections::VecDeque<(std::time::Instant, u64)>>,
}

/// Ticks (seconds) over which `retentionai_requests_per_second` is averaged.
pub const RATE_WINDOW: usize = 10;

/// The method as a static label (anything unusual is `OTHER`).
pub fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "OTHER",
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere cannot leave these counters inconsistent: keep counting.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The process's CPU time, memory, file descriptors, threads and start time, under the
/// standard `process_*` names, as the Prometheus client's process collector reads them from
/// `/proc`.
fn process_metrics(out: &mut String) {
    use prometheus::core::Collector;
    static COLLECTOR: std::sync::OnceLock<prometheus::process_collector::ProcessCollector> =
        std::sync::OnceLock::new();
    let families = COLLECTOR
        .get_or_init(prometheus::process_collector::ProcessCollector::for_self)
        .collect();
    // Unreadable /proc entries leave the families out rather than failing the scrape.
    let _ = prometheus::TextEncoder::new().encode_utf8(&families, out);
}

/// The `# HELP` and `# TYPE` lines of a metric.
fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A metric without labels: its head and its one value.
fn scalar(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    head(out, name, kind, help);
    let _ = writeln!(out, "{name} {value}");
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// One answered request: `endpoint` is the matched route (or `unmatched`).
    pub fn request(&self, method: &'static str, endpoint: &str, status: u16, seconds: f64) {
        self.requests_seen.fetch_add(1, Ordering::Relaxed);
        *lock(&self.requests)
            .entry((method, endpoint.to_string(), status))
            .or_default() += 1;
        lock(&self.request_duration)
            .entry(endpoint.to_string())
            .or_default()
            .observe(seconds);
    }

    /// `n` predictions by one model version, `high` of them high risk.
    pub fn predictions(&self, version: i64, variant: &'static str, n: u64, high: u64) {
        *lock(&self.predictions)
            .entry((version, variant))
            .or_default() += n;
        self.high_risk.fetch_add(high, Ordering::Relaxed);
    }

    /// The time one request's predictions took.
    pub fn prediction_time(&self, seconds: f64) {
        lock(&self.prediction_duration).observe(seconds);
    }

    /// A refused request on /v1: `reason` is `missing_key` or `invalid_key`.
    pub fn auth_failure(&self, reason: &'static str) {
        *lock(&self.auth_failures).entry(reason).or_default() += 1;
    }

    /// The served models changed.
    pub fn deployed(&self, models: Vec<ModelGauge>) {
        self.deployments.fetch_add(1, Ordering::Relaxed);
        *lock(&self.models) = models;
    }

    /// Validation figures of the served models (refreshed without a deployment).
    pub fn set_models(&self, models: Vec<ModelGauge>) {
        *lock(&self.models) = models;
    }

    pub fn set_drift(&self, drift: Option<DriftGauge>) {
        *lock(&self.drift) = drift;
    }

    pub fn set_last_backup(&self, unix_seconds: Option<i64>) {
        *lock(&self.last_backup) = unix_seconds;
    }

    pub fn set_disk_free(&self, bytes: Option<u64>) {
        self.disk_free
            .store(bytes.unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Samples the request count; called once a second by the server.
    pub fn tick(&self) {
        let mut samples = lock(&self.rate_samples);
        samples.push_back((
            std::time::Instant::now(),
            self.requests_seen.load(Ordering::Relaxed),
        ));
        while samples.len() > RATE_WINDOW + 1 {
            samples.pop_front();
        }
    }

    /// Requests per second over the last [`RATE_WINDOW`] ticks (0 before two ticks).
    pub fn requests_per_second(&self) -> f64 {
        let samples = lock(&self.rate_samples);
        match (samples.front(), samples.back()) {
            (Some((t0, n0)), Some((t1, n1))) if t1 > t0 => {
                (n1 - n0) as f64 / t1.duration_since(*t0).as_secs_f64()
            }
            _ => 0.0,
        }
    }

    pub fn reload_error(&self) {
        self.reload_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// The text exposition format (version 0.0.4): one family after another, in a fixed order.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(8192);
        build_info(&mut out);
        self.render_requests(&mut out);
        scalar(
            &mut out,
            "retentionai_requests_per_second",
            "gauge",
            "HTTP requests answered per second, averaged over the last 10 seconds (for autoscaling).",
            self.requests_per_second(),
        );
        self.render_predictions(&mut out);
        scalar(
            &mut out,
            "retentionai_model_deployments_total",
            "counter",
            "Changes of the served champion, challenger or split picked up by this process (the first load counts).",
            self.deployments.load(Ordering::Relaxed),
        );
        self.render_models(&mut out);
        self.render_upkeep(&mut out);
        self.render_connections(&mut out);
        self.render_auth_failures(&mut out);
        self.render_log_queue(&mut out);
        scalar(
            &mut out,
            "retentionai_log_lines_dropped_total",
            "counter",
            "Application and access log lines dropped because the log writer fell behind.",
            crate::logging::dropped_lines(),
        );
        process_metrics(&mut out);
        out
    }

    /// Requests: counts by method, endpoint and status, durations by endpoint.
    fn render_requests(&self, out: &mut String) {
        head(
            out,
            "retentionai_requests_total",
            "counter",
            "HTTP requests by method, endpoint and status.",
        );
        for ((method, endpoint, status), n) in lock(&self.requests).iter() {
            let _ = writeln!(
                out,
                "retentionai_requests_total{{method=\"{method}\",endpoint=\"{}\",status=\"{status}\"}} {n}",
                escape(endpoint)
            );
        }
        head(
            out,
            "retentionai_request_duration_seconds",
            "histogram",
            "HTTP request duration by endpoint, seconds.",
        );
        for (endpoint, h) in lock(&self.request_duration).iter() {
            h.render(
                out,
                "retentionai_request_duration_seconds",
                &format!("endpoint=\"{}\"", escape(endpoint)),
            );
        }
    }

    /// Predictions: counts by model and variant, scoring time, high-risk count.
    fn render_predictions(&self, out: &mut String) {
        head(
            out,
            "retentionai_predictions_total",
            "counter",
            "Customers scored, by model version and variant.",
        );
        for ((version, variant), n) in lock(&self.predictions).iter() {
            let _ = writeln!(
                out,
                "retentionai_predictions_total{{model_version=\"{version}\",variant=\"{variant}\"}} {n}"
            );
        }
        head(
            out,
            "retentionai_prediction_duration_seconds",
            "histogram",
            "Time to score one request's customers (parse, encode, predict), seconds.",
        );
        lock(&self.prediction_duration).render(out, "retentionai_prediction_duration_seconds", "");
        scalar(
            out,
            "retentionai_high_risk_customers_total",
            "counter",
            "Predictions in the high risk tier.",
            self.high_risk.load(Ordering::Relaxed),
        );
    }

    /// The served models: one info line each, and their validation accuracy and AUC.
    fn render_models(&self, out: &mut String) {
        let models = lock(&self.models).clone();
        head(
            out,
            "retentionai_model_info",
            "gauge",
            "Served models (always 1).",
        );
        for m in &models {
            let _ = writeln!(
                out,
                "retentionai_model_info{{model_version=\"{}\",variant=\"{}\",algorithm=\"{}\"}} 1",
                m.version,
                m.variant,
                escape(&m.algorithm)
            );
        }
        model_figure(
            out,
            "retentionai_model_accuracy",
            "Accuracy of each served model on its latest validation holdout (0-1).",
            &models,
            |m| m.accuracy,
        );
        model_figure(
            out,
            "retentionai_model_auc",
            "ROC-AUC of each served model on its latest validation holdout.",
            &models,
            |m| m.auc,
        );
    }

    /// Drift, backups, registry reloads and model loads.
    fn render_upkeep(&self, out: &mut String) {
        if let Some(d) = lock(&self.drift).clone() {
            scalar(
                out,
                "retentionai_data_drift_score",
                "gauge",
                "Share of features drifting in the latest recorded drift report (0-1).",
                d.share,
            );
            scalar(
                out,
                "retentionai_data_drift_status",
                "gauge",
                "Verdict of the latest recorded drift report: 0 ok, 1 warn, 2 alert.",
                d.status,
            );
        }
        scalar(
            out,
            "retentionai_last_backup_timestamp_seconds",
            "gauge",
            "Unix time of the newest backup recorded in the database (0 when none was taken).",
            lock(&self.last_backup).unwrap_or(0),
        );
        scalar(
            out,
            "retentionai_database_up",
            "gauge",
            "1 when the operations database answered the latest registry look (every reload interval), else 0.",
            u8::from(self.database_up.load(Ordering::Relaxed)),
        );
        let free = self.disk_free.load(Ordering::Relaxed);
        if free != u64::MAX {
            scalar(
                out,
                "retentionai_database_disk_free_bytes",
                "gauge",
                "Free bytes on the file system holding the operations database.",
                free,
            );
        }
        scalar(
            out,
            "retentionai_model_reload_errors_total",
            "counter",
            "Failed looks at the registry (the served models stay as they were).",
            self.reload_errors.load(Ordering::Relaxed),
        );
        scalar(
            out,
            "retentionai_model_load_failures_total",
            "counter",
            "Registered versions that could not be loaded (skipped; /health names them).",
            self.model_load_failures.load(Ordering::Relaxed),
        );
    }

    /// Connections: open now, past the cap, refused.
    fn render_connections(&self, out: &mut String) {
        scalar(
            out,
            "retentionai_connections_open",
            "gauge",
            "Client connections open (within --max-connections and the health-only overflow).",
            self.connections_open.load(Ordering::Relaxed).max(0),
        );
        scalar(
            out,
            "retentionai_connections_overflow_total",
            "counter",
            "Connections past --max-connections, answered on health endpoints only.",
            self.connections_overflow.load(Ordering::Relaxed),
        );
        scalar(
            out,
            "retentionai_connections_refused_total",
            "counter",
            "Connections closed unanswered because every slot was taken.",
            self.connections_refused.load(Ordering::Relaxed),
        );
    }

    /// Requests refused for their API key, by reason.
    fn render_auth_failures(&self, out: &mut String) {
        head(
            out,
            "retentionai_auth_failures_total",
            "counter",
            "Requests refused for a missing or unknown API key.",
        );
        for (reason, n) in lock(&self.auth_failures).iter() {
            let _ = writeln!(
                out,
                "retentionai_auth_failures_total{{reason=\"{reason}\"}} {n}"
            );
        }
    }

    /// The prediction log's queue and writer.
    fn render_log_queue(&self, out: &mut String) {
        scalar(
            out,
            "retentionai_prediction_log_queue_depth",
            "gauge",
            "Log entries waiting for the background writer.",
            self.log_queue_depth.load(Ordering::Relaxed).max(0),
        );
        scalar(
            out,
            "retentionai_prediction_log_queue_bytes",
            "gauge",
            "Bytes held by the log entries waiting for the background writer.",
            self.log_queue_bytes.load(Ordering::Relaxed).max(0),
        );
        scalar(
            out,
            "retentionai_prediction_log_dropped_total",
            "counter",
            "Log entries dropped because the queue was full.",
            self.log_dropped.load(Ordering::Relaxed),
        );
        scalar(
            out,
            "retentionai_prediction_log_written_total",
            "counter",
            "Predictions written to the database.",
            self.log_written.load(Ordering::Relaxed),
        );
        scalar(
            out,
            "retentionai_prediction_log_errors_total",
            "counter",
            "Log entries lost to database errors.",
            self.log_errors.load(Ordering::Relaxed),
        );
    }
}

/// The build of the running service.
fn build_info(out: &mut String) {
    head(
        out,
        "retentionai_build_info",
        "gauge",
        "Build of the running service (always 1).",
    );
    let _ = writeln!(
        out,
        "retentionai_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
}

/// A gauge of the served models that have `figure` (a validation figure).
fn model_figure(
    out: &mut String,
    name: &str,
    help: &str,
    models: &[ModelGauge],
    figure: impl Fn(&ModelGauge) -> Option<f64>,
) {
    head(out, name, "gauge", help);
    for m in models {
        if let Some(a) = figure(m) {
            let _ = writeln!(
                out,
                "{name}{{model_version=\"{}\",variant=\"{}\"}} {a}",
                m.version, m.variant
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_and_counted() {
        let m = Metrics::default();
        m.request("POST", "/v1/predict", 200, 0.0003);
        m.request("POST", "/v1/predict", 200, 0.002);
        m.request("POST", "/v1/predict", 422, 10.0);
        let text = m.render();
        assert!(text.contains(
            "retentionai_requests_total{method=\"POST\",endpoint=\"/v1/predict\",status=\"200\"} 2"
        ));
        assert!(text.contains(
            "retentionai_request_duration_seconds_bucket{endpoint=\"/v1/predict\",le=\"0.0005\"} 1"
        ));
        assert!(text.contains(
            "retentionai_request_duration_seconds_bucket{endpoint=\"/v1/predict\",le=\"5\"} 2"
        ));
        assert!(text.contains(
            "retentionai_request_duration_seconds_bucket{endpoint=\"/v1/predict\",le=\"+Inf\"} 3"
        ));
        assert!(
            text.contains("retentionai_request_duration_seconds_count{endpoint=\"/v1/predict\"} 3")
        );
        assert!(text.contains(
            "retentionai_requests_total{method=\"POST\",endpoint=\"/v1/predict\",status=\"422\"} 1"
        ));
    }

    #[test]
    fn every_metric_the_alerts_and_the_dashboard_use_is_exposed() {
        let m = Metrics::default();
        m.deployed(vec![ModelGauge {
            version: 1,
            variant: "champion",
            algorithm: "logistic".into(),
            accuracy: Some(0.8),
            auc: Some(0.84),
        }]);
        m.set_drift(Some(DriftGauge {
            share: 0.1,
            status: 1,
        }));
        let text = m.render();
        let exposed: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        let deploy = concat!(
            include_str!("../../../deploy/alerts.yml"),
            include_str!("../../../deploy/grafana-dashboard.json")
        );
        let mut used = 0;
        for (i, _) in deploy.match_indices("retentionai_") {
            let name: String = deploy[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .unwrap_or(&name);
            assert!(
                exposed.contains(&base),
                "{name} is used in deploy/ but not exposed"
            );
            used += 1;
        }
        assert!(used > 20, "{used}");
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
