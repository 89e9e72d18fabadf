//! The HTTP endpoints and their middleware (metrics, timeout, API keys); errors are answered as
//! [`super::error`] writes them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{FromRequest, MatchedPath, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use polars::prelude::{Column, DataFrame};
use retention_core::Error as CoreError;
use retention_core::model::Tier;
use retention_core::store::{api_key_hash, normalize_customer_id};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::{ApiError, Code};
use super::health;
use super::logger::Entry;
use super::metrics::method_label;
use super::records::{self, Limits};
use super::state::{AppState, Live, Served};

type Shared = State<Arc<AppState>>;

/// A core error about one record, with `row` (1-based, for batches) in the message.
fn record_error(e: CoreError, row: Option<usize>) -> ApiError {
    let at = row.map_or(String::new(), |r| format!("row {r}: "));
    match e {
        CoreError::ColumnNotFound { column, .. } => ApiError::new(
            Code::MissingField,
            format!("{at}the record has no field '{column}', which the model needs"),
        ),
        CoreError::InvalidValue {
            column,
            value,
            reason,
            ..
        } => ApiError::new(
            Code::InvalidValue,
            format!(
                "{at}field '{column}': {} (value {value:?})",
                super::error::text(&reason)
            ),
        ),
        other => ApiError::internal(format!("{at}{other}")),
    }
}

fn body_error(e: BytesRejection) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            Code::PayloadTooLarge,
            "the request body is larger than this endpoint accepts",
        )
    } else {
        ApiError::new(Code::InvalidBody, e.body_text())
    }
}

fn query_error(e: QueryRejection) -> ApiError {
    ApiError::new(Code::InvalidQuery, e.body_text())
}

/// A scored customer, as answered.
#[derive(Debug, serde::Serialize)]
pub struct Prediction {
    customer_id: Option<String>,
    churn_probability: f64,
    churn_prediction: bool,
    risk_tier: &'static str,
    model_version: i64,
    variant: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasons: Option<Vec<retention_core::explain::Reason>>,
}

impl Prediction {
    /// The prediction log's entry for this answer.
    fn entry(&self) -> Entry {
        Entry::Prediction {
            customer_id: self.customer_id.clone().unwrap_or_default(),
            model_version: self.model_version,
            variant: self.variant,
            probability: self.churn_probability,
            tier: self.risk_tier,
        }
    }
}

/// Scores one customer with the model its id routes to.
fn score(
    live: &Live,
    fields: &[(&str, Option<&str>)],
    row: Option<usize>,
    reasons: usize,
) -> Result<Prediction, ApiError> {
    let champion = live.champion.as_ref().ok_or_else(ApiError::not_ready)?;
    let id_column = champion.scorer.model().schema.id();
    // The id as the prediction log stores it (the same for routing as on every other path); a
    // blank one is no id.
    let id = id_column
        .and_then(|c| fields.iter().find(|(k, _)| *k == c).and_then(|(_, v)| *v))
        .map(normalize_customer_id)
        .filter(|id| !id.is_empty());
    if let (None, Some(id_column)) = (id, id_column) {
        let at = row.map_or(String::new(), |r| format!("row {r}: "));
        return Err(ApiError::new(
            Code::MissingField,
            format!(
                "{at}the record has no '{id_column}': the customer id routes A/B tests and keys the prediction log"
            ),
        ));
    }
    let (served, variant) = live.route(id).ok_or_else(ApiError::not_ready)?;
    let (s, _unseen) = served
        .scorer
        .score_record(fields)
        .map_err(|e| record_error(e, row))?;
    let reasons = if reasons > 0 {
        let frame = one_row_frame(fields).map_err(|e| record_error(e, row))?;
        let explained = served
            .scorer
            .model()
            .explain(&frame, reasons)
            .map_err(|e| record_error(e, row))?;
        explained.into_iter().next().map(|e| e.reasons)
    } else {
        None
    };
    Ok(Prediction {
        customer_id: id.map(str::to_string),
        churn_probability: s.probability,
        churn_prediction: s.prediction,
        risk_tier: s.tier.as_str(),
        model_version: served.version,
        variant: variant.as_str(),
        reasons,
    })
}

/// Counts one request's predictions by model version and variant, with the time they took, and
/// queues them for the prediction log. Called only for an answer about to be sent: a request
/// refused or timed out logs nothing.
fn answered(state: &AppState, predictions: &[Prediction], seconds: f64) -> Extension<ServedBy> {
    let mut by_model: std::collections::BTreeMap<(i64, &'static str), (u64, u64)> =
        Default::default();
    for p in predictions {
        let e = by_model.entry((p.model_version, p.variant)).or_default();
        e.0 += 1;
        e.1 += u64::from(p.risk_tier == Tier::High.as_str());
    }
    let mut served = ServedBy::default();
    for ((version, variant), (n, high)) in by_model {
        state.metrics.predictions(version, variant, n, high);
        served.add(version, variant);
    }
    state.metrics.prediction_time(seconds);
    if let Some(logger) = state.logger.as_ref().filter(|_| state.log_predictions) {
        for p in predictions {
            logger.log(p.entry());
        }
    }
    Extension(served)
}

/// The models that answered a request (versions and variants, comma separated when a batch
/// went to both), for its access-log event.
#[derive(Debug, Clone, Default)]
pub struct ServedBy {
    versions: String,
    variants: String,
}

impl ServedBy {
    fn add(&mut self, version: i64, variant: &str) {
        use std::fmt::Write as _;
        let sep = if self.versions.is_empty() { "" } else { "," };
        let _ = write!(self.versions, "{sep}{version}");
        if !self.variants.split(',').any(|v| v == variant) {
            let sep = if self.variants.is_empty() { "" } else { "," };
            let _ = write!(self.variants, "{sep}{variant}");
        }
    }
}

/// A one-row table of text cells, as a CSV file would be read.
fn one_row_frame(fields: &[(&str, Option<&str>)]) -> retention_core::Result<DataFrame> {
    let columns: Vec<Column> = fields
        .iter()
        .map(|(k, v)| Column::new((*k).into(), [*v]))
        .collect();
    Ok(DataFrame::new(1, columns)?)
}

/// Runs model work (parsing bodies, scoring, explaining) on the scorer pool, never on the
/// runtime's workers (see [`super::pool`]).
async fn off_runtime<T: Send + 'static>(
    state: &Arc<AppState>,
    work: impl FnOnce(&AtomicBool) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    state.scorers.run(work).await
}

#[derive(Debug, Deserialize)]
pub struct PredictQuery {
    /// Top reasons to include (0 = none).
    #[serde(default)]
    reasons: usize,
}

const MAX_REASONS: usize = 50;

/// `POST /v1/predict`: one customer as a JSON object.
pub async fn predict(
    State(state): Shared,
    query: Result<Query<PredictQuery>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(Extension<ServedBy>, Json<Prediction>), ApiError> {
    let Query(query) = query.map_err(query_error)?;
    let body = body.map_err(body_error)?;
    let reasons = query.reasons.min(MAX_REASONS);
    let live = state.live();
    let started = Instant::now();
    let p = off_runtime(&state, move |_| {
        let records = records::json_record(&body, &live.wanted, Limits::with_rows(1))?;
        score(&live, &records.row(0), None, reasons)
    })
    .await?;
    let served = answered(
        &state,
        std::slice::from_ref(&p),
        started.elapsed().as_secs_f64(),
    );
    Ok((served, Json(p)))
}

/// `POST /v1/predict/batch`: a JSON array of customers (or `{"customers": [...]}`), or CSV
/// with a header row when the content type is `text/csv`. Answered whole or not at all: one
/// refused customer refuses the batch, and nothing of a refused batch is logged. At most
/// `--scoring-threads` batch bodies are read and held at once, so batches cannot add up to more
/// memory than that many bodies.
pub async fn predict_batch(State(state): Shared, req: Request) -> Result<Response, ApiError> {
    let turn = state
        .batch_bodies
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| ApiError::cancelled())?;
    let headers = req.headers().clone();
    let body = Bytes::from_request(req, &state).await.map_err(body_error)?;
    let is_csv = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/csv"));
    let limits = Limits::with_rows(state.config.max_batch);
    let live = state.live();
    let started = Instant::now();
    // The turn is held by the job: until its model work ends, even past the request's timeout.
    let (predictions, answer) = off_runtime(&state, move |cancel| {
        let _turn = turn;
        let records = if is_csv {
            records::csv_batch(&body, &live.wanted, limits, cancel)?
        } else {
            records::json_batch(&body, &live.wanted, limits, cancel)?
        };
        drop(body);
        let mut predictions = Vec::with_capacity(records.len());
        for i in 0..records.len() {
            if cancel.load(Ordering::Relaxed) {
                return Err(ApiError::cancelled());
            }
            predictions.push(score(&live, &records.row(i), Some(i + 1), 0)?);
        }
        drop(records);
        // Written straight to bytes here, on the scorer thread, with no value tree between.
        let answer = serde_json::to_vec(&BatchAnswer {
            count: predictions.len(),
            predictions: &predictions,
        })
        .map_err(|e| ApiError::internal(format!("writing a batch answer: {e}")))?;
        Ok((predictions, answer))
    })
    .await?;
    let served = answered(&state, &predictions, started.elapsed().as_secs_f64());
    drop(predictions);
    Ok((
        served,
        [(header::CONTENT_TYPE, "application/json")],
        Bytes::from(answer),
    )
        .into_response())
}

/// A batch's answer.
#[derive(serde::Serialize)]
struct BatchAnswer<'a> {
    count: usize,
    predictions: &'a [Prediction],
}

#[derive(Debug, Deserialize)]
pub struct ExplainQuery {
    /// Reasons to return (default 5).
    top: Option<usize>,
}

/// `POST /v1/explain`: one customer's probability and top reasons.
pub async fn explain(
    State(state): Shared,
    query: Result<Query<ExplainQuery>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(Extension<ServedBy>, Json<Value>), ApiError> {
    let Query(query) = query.map_err(query_error)?;
    let body = body.map_err(body_error)?;
    let top = query.top.unwrap_or(5).clamp(1, MAX_REASONS);
    let live = state.live();
    let started = Instant::now();
    let p = off_runtime(&state, move |_| {
        let records = records::json_record(&body, &live.wanted, Limits::with_rows(1))?;
        score(&live, &records.row(0), None, top)
    })
    .await?;
    let served = answered(
        &state,
        std::slice::from_ref(&p),
        started.elapsed().as_secs_f64(),
    );
    Ok((served, Json(json!(p))))
}

fn served_json(s: &Served) -> Value {
    let model = s.scorer.model();
    let validation = *s
        .validation
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    json!({
        "version": s.version,
        "algorithm": s.algorithm,
        "registered_at": s.registered_at,
        "cv_roc_auc": model.metrics.cv.as_ref().map(|_| model.headline_auc()),
        "threshold": model.threshold,
        "validation": validation.map(|(auc, acc)| json!({ "roc_auc": auc, "accuracy": acc })),
        "inputs": s.scorer.inputs().iter().map(|(name, _)| name).collect::<Vec<_>>(),
        "id_column": model.schema.id(),
    })
}

/// `GET /v1/model`: what is serving, with its metrics.
pub async fn model(State(state): Shared) -> Result<Json<Value>, ApiError> {
    let live = state.live();
    Ok(Json(json!({
        "champion": live.champion.as_deref().map(served_json),
        "challenger": live.challenger.as_deref().map(served_json),
        "split": live.aliases.split,
    })))
}

/// `GET /live`: the process answers.
pub async fn alive() -> Json<Value> {
    Json(json!({ "status": "alive" }))
}

/// `GET /ready`: 200 once the champion is loaded and the database answered the last reload.
pub async fn ready(State(state): Shared) -> Response {
    let live = state.live();
    let db = state.db_ok.load(Ordering::Relaxed);
    match (&live.champion, db) {
        (Some(c), true) => {
            Json(json!({ "status": "ready", "champion": c.version })).into_response()
        }
        (None, _) => ApiError::not_ready().into_response(),
        (Some(_), false) => ApiError::new(
            Code::NotReady,
            "the database did not answer the last reload",
        )
        .into_response(),
    }
}

/// `GET /health`: database, model, disk and memory; 503 names the failing checks.
pub async fn health(State(state): Shared) -> Response {
    let work = state.clone();
    let report = tokio::task::spawn_blocking(move || health::check(&work)).await;
    match report {
        Ok(report) => {
            let status = if report.ok {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            (status, Json(json!(report))).into_response()
        }
        Err(e) => ApiError::internal(format!("the health check failed: {e}")).into_response(),
    }
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(state): Shared) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

pub async fn not_found() -> ApiError {
    ApiError::new(
        Code::NotFound,
        "no such endpoint: /v1/predict, /v1/predict/batch, /v1/explain, /v1/model, /health, /live, /ready, /metrics",
    )
}

/// Any endpoint but health checks on a connection past `--max-connections`. The body is read
/// (within the single-request limit) so that closing the connection does not reset it before
/// the client reads the answer.
pub async fn overloaded(_body: Result<Bytes, BytesRejection>) -> ApiError {
    ApiError::new(
        Code::Overloaded,
        "the server has as many connections open as it serves (--max-connections); retry later",
    )
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        Code::MethodNotAllowed,
        "this endpoint does not take that method (scoring endpoints take POST)",
    )
}

/// Counts and times every request by its route.
/// Counts and times every request, and writes its access-log event (target
/// `retention::access`): request id, method, route (the route's pattern, never the raw path),
/// status, duration and the models that answered. Never a customer field or a key. The request
/// id is the client's `X-Request-Id` when it is a plain token of at most 64 characters, else
/// one made here; it is sent back in `X-Request-Id`.
pub async fn observe(State(state): Shared, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(req.method());
    let endpoint = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let request_id = request_id(req.headers());
    let mut response = next.run(req).await;
    let seconds = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    state.metrics.request(method, &endpoint, status, seconds);
    let served = response.extensions().get::<ServedBy>();
    tracing::info!(
        target: "retention::access",
        request_id = %request_id,
        method,
        route = %endpoint,
        status,
        duration_ms = (seconds * 1e6).round() / 1e3,
        model_version = served.map(|s| s.versions.as_str()),
        variant = served.map(|s| s.variants.as_str()),
        "request"
    );
    if let Ok(v) = header::HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", v);
    }
    response
}

/// The client's request id when it is a plain token, else a new one (unique in this process,
/// distinct across restarts).
fn request_id(headers: &header::HeaderMap) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    if let Some(id) = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
    {
        return id.to_string();
    }
    let prefix = PREFIX.get_or_init(|| {
        format!(
            "{:x}{:x}",
            retention_core::store::now_millis(),
            std::process::id()
        )
    });
    format!("{prefix}-{:x}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Answers 503 (`timeout`) for a request that runs past `--timeout`.
pub async fn timeout(State(state): Shared, req: Request, next: Next) -> Response {
    match tokio::time::timeout(state.config.timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            Code::Timeout,
            format!(
                "the request took longer than {} ms",
                state.config.timeout.as_millis()
            ),
        )
        .into_response(),
    }
}

/// Failed attempts written to the audit log per second at most (all are counted in metrics).
const AUDITED_FAILURES_PER_SECOND: u64 = 10;
static AUDIT_SECOND: AtomicU64 = AtomicU64::new(0);
static AUDITED_IN_SECOND: AtomicU64 = AtomicU64::new(0);

/// Why a request to /v1 was refused its key.
#[derive(Debug, Clone, Copy)]
enum KeyRefusal {
    /// No key was sent.
    Missing,
    /// The key is unknown or revoked.
    Invalid,
}

impl KeyRefusal {
    /// The reason as metrics and the audit log write it.
    fn reason(self) -> &'static str {
        match self {
            KeyRefusal::Missing => "missing_key",
            KeyRefusal::Invalid => "invalid_key",
        }
    }

    /// The answer (401, with `WWW-Authenticate: Bearer`).
    fn answer(self) -> Response {
        let error = match self {
            KeyRefusal::Missing => ApiError::new(
                Code::MissingApiKey,
                "send an API key as `Authorization: Bearer <key>` or `X-API-Key: <key>` (create one with `retention auth create-key`)",
            ),
            KeyRefusal::Invalid => {
                ApiError::new(Code::InvalidApiKey, "the API key is unknown or revoked")
            }
        };
        let mut response = error.into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
        response
    }
}

/// Requires an active API key (`Authorization: Bearer KEY` or `X-API-Key: KEY`) on /v1.
pub async fn require_key(State(state): Shared, req: Request, next: Next) -> Response {
    if !state.config.auth {
        return next.run(req).await;
    }
    let headers = req.headers();
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()))
        .map(str::trim);
    let refusal = match presented {
        None => KeyRefusal::Missing,
        Some(key) if state.keys().contains_key(&api_key_hash(key)) => {
            return next.run(req).await;
        }
        Some(_) => KeyRefusal::Invalid,
    };
    let reason = refusal.reason();
    state.metrics.auth_failure(reason);
    tracing::warn!(
        target: "retention::auth",
        reason,
        route = %req.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()),
        "authentication FAILED"
    );
    let endpoint = req.uri().path().chars().take(100).collect::<String>();
    let second = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if AUDIT_SECOND.swap(second, Ordering::Relaxed) != second {
        AUDITED_IN_SECOND.store(0, Ordering::Relaxed);
    }
    if AUDITED_IN_SECOND.fetch_add(1, Ordering::Relaxed) < AUDITED_FAILURES_PER_SECOND
        && let Some(logger) = &state.logger
    {
        // The first characters only: enough to recognise a revoked key, useless to an attacker.
        let shown: Option<String> = presented.map(|k| k.chars().take(12).collect());
        logger.log(Entry::Audit {
            action: retention_core::store::AuditAction::AuthFailure,
            subject: endpoint,
            details: json!({ "reason": reason, "key_starts": shown }),
        });
    }
    refusal.answer()
}
