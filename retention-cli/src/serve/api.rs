//! The HTTP endpoints, their middleware (metrics, timeout, API keys) and the JSON error format:
//! `{"error": {"code": "...", "message": "..."}}` with a stable `code` per kind of failure.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{MatchedPath, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use polars::prelude::{Column, DataFrame};
use retention_core::Error as CoreError;
use retention_core::model::Tier;
use retention_core::store::api_key_hash;
use serde::Deserialize;
use serde_json::{Value, json};

use super::health;
use super::logger::Entry;
use super::metrics::method_label;
use super::state::{AppState, Live, Served};

type Shared = State<Arc<AppState>>;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    fn not_ready() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "no champion model is loaded: promote a version with `retention model promote`",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code, "message": self.message } });
        (self.status, Json(body)).into_response()
    }
}

/// A core error about one record, with `row` (1-based, for batches) in the message.
fn record_error(e: CoreError, row: Option<usize>) -> ApiError {
    let at = row.map_or(String::new(), |r| format!("row {r}: "));
    match e {
        CoreError::ColumnNotFound { column, .. } => ApiError::unprocessable(
            "missing_field",
            format!("{at}the record has no field '{column}', which the model needs"),
        ),
        CoreError::InvalidValue {
            column,
            value,
            reason,
            ..
        } => ApiError::unprocessable(
            "invalid_value",
            format!("{at}field '{column}': {reason} (value {value:?})"),
        ),
        other => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("{at}{other}"),
        ),
    }
}

fn body_error(e: BytesRejection) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request body is larger than this endpoint accepts",
        )
    } else {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", e.body_text())
    }
}

fn query_error(e: QueryRejection) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", e.body_text())
}

fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("the body is not valid JSON: {e}"),
        )
    })
}

/// One customer's fields as text (`None` = missing), from a JSON object. Strings are taken as
/// they are, numbers as written, booleans as `true`/`false`, `null` as missing.
type Record = Vec<(String, Option<String>)>;

fn record_from_json(value: &Value, row: Option<usize>) -> Result<Record, ApiError> {
    let at = row.map_or(String::new(), |r| format!("row {r}: "));
    let Value::Object(map) = value else {
        return Err(ApiError::unprocessable(
            "invalid_record",
            format!("{at}a customer must be a JSON object of field names to values"),
        ));
    };
    map.iter()
        .map(|(k, v)| {
            let text = match v {
                Value::Null => None,
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                Value::Array(_) | Value::Object(_) => {
                    return Err(ApiError::unprocessable(
                        "invalid_value",
                        format!("{at}field '{k}' must be a string, a number, a boolean or null"),
                    ));
                }
            };
            Ok((k.clone(), text))
        })
        .collect()
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

/// The id field of a record, when the model has an id column.
fn customer_id<'r>(served: &Served, record: &'r Record) -> Option<&'r str> {
    let id = served.scorer.model().schema.id()?;
    record
        .iter()
        .find(|(k, _)| k == id)
        .and_then(|(_, v)| v.as_deref())
}

/// Scores one record with the model its customer routes to, and queues it for the log.
fn score(
    state: &AppState,
    live: &Live,
    record: &Record,
    row: Option<usize>,
    reasons: usize,
) -> Result<Prediction, ApiError> {
    let champion = live.champion.as_ref().ok_or_else(ApiError::not_ready)?;
    let id = customer_id(champion, record);
    if let (None, Some(id_column)) = (id, champion.scorer.model().schema.id()) {
        let at = row.map_or(String::new(), |r| format!("row {r}: "));
        return Err(ApiError::unprocessable(
            "missing_field",
            format!(
                "{at}the record has no '{id_column}': the customer id routes A/B tests and keys the prediction log"
            ),
        ));
    }
    let (served, variant) = live.route(id).ok_or_else(ApiError::not_ready)?;
    let fields: Vec<(&str, Option<&str>)> = record
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_deref()))
        .collect();
    let (s, _unseen) = served
        .scorer
        .score_record(&fields)
        .map_err(|e| record_error(e, row))?;
    let reasons = if reasons > 0 {
        let frame = one_row_frame(record).map_err(|e| record_error(e, row))?;
        let explained = served
            .scorer
            .model()
            .explain(&frame, reasons)
            .map_err(|e| record_error(e, row))?;
        explained.into_iter().next().map(|e| e.reasons)
    } else {
        None
    };
    let prediction = Prediction {
        customer_id: id.map(str::to_string),
        churn_probability: s.probability,
        churn_prediction: s.prediction,
        risk_tier: s.tier.as_str(),
        model_version: served.version,
        variant: variant.as_str(),
        reasons,
    };
    if let Some(logger) = state.logger.as_ref().filter(|_| state.log_predictions) {
        logger.log(Entry::Prediction {
            customer_id: prediction.customer_id.clone().unwrap_or_default(),
            model_version: served.version,
            variant: variant.as_str(),
            probability: s.probability,
            tier: s.tier.as_str(),
        });
    }
    Ok(prediction)
}

/// Counts one request's predictions by model version and variant, with the time they took.
fn count(state: &AppState, predictions: &[Prediction], started: Instant) {
    let seconds = started.elapsed().as_secs_f64();
    let mut by_model: std::collections::BTreeMap<(i64, &'static str), (u64, u64)> =
        Default::default();
    for p in predictions {
        let e = by_model.entry((p.model_version, p.variant)).or_default();
        e.0 += 1;
        e.1 += u64::from(p.risk_tier == Tier::High.as_str());
    }
    for ((version, variant), (n, high)) in by_model {
        state.metrics.predictions(version, variant, n, high);
    }
    state.metrics.prediction_time(seconds);
}

/// A one-row table of text cells, as a CSV file would be read.
fn one_row_frame(record: &Record) -> retention_core::Result<DataFrame> {
    let columns: Vec<Column> = record
        .iter()
        .map(|(k, v)| Column::new(k.as_str().into(), [v.as_deref()]))
        .collect();
    Ok(DataFrame::new(1, columns)?)
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
) -> Result<Json<Prediction>, ApiError> {
    let Query(query) = query.map_err(query_error)?;
    let body = body.map_err(body_error)?;
    let record = record_from_json(&parse_json(&body)?, None)?;
    let live = state.live();
    let started = Instant::now();
    let p = score(&state, &live, &record, None, query.reasons.min(MAX_REASONS))?;
    count(&state, std::slice::from_ref(&p), started);
    Ok(Json(p))
}

/// `POST /v1/predict/batch`: a JSON array of customers (or `{"customers": [...]}`), or CSV
/// with a header row when the content type is `text/csv`.
pub async fn predict_batch(
    State(state): Shared,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let body = body.map_err(body_error)?;
    let is_csv = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/csv"));
    let work = state.clone();
    let answer = tokio::task::spawn_blocking(move || -> Result<Value, ApiError> {
        let records = if is_csv {
            records_from_csv(&body)?
        } else {
            records_from_json_batch(&body)?
        };
        if records.len() > work.config.max_batch {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "batch_too_large",
                format!(
                    "{} customers in one request; at most {} (--max-batch)",
                    records.len(),
                    work.config.max_batch
                ),
            ));
        }
        let live = work.live();
        let started = Instant::now();
        let predictions = records
            .iter()
            .enumerate()
            .map(|(i, r)| score(&work, &live, r, Some(i + 1), 0))
            .collect::<Result<Vec<_>, _>>()?;
        count(&work, &predictions, started);
        Ok(json!({ "count": predictions.len(), "predictions": predictions }))
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))??;
    Ok(Json(answer))
}

fn records_from_json_batch(body: &[u8]) -> Result<Vec<Record>, ApiError> {
    let value = parse_json(body)?;
    let items = match &value {
        Value::Array(items) => items,
        Value::Object(map) => match map.get("customers") {
            Some(Value::Array(items)) => items,
            _ => {
                return Err(ApiError::unprocessable(
                    "invalid_record",
                    "send a JSON array of customers, or an object with a \"customers\" array",
                ));
            }
        },
        _ => {
            return Err(ApiError::unprocessable(
                "invalid_record",
                "send a JSON array of customers, or an object with a \"customers\" array",
            ));
        }
    };
    items
        .iter()
        .enumerate()
        .map(|(i, v)| record_from_json(v, Some(i + 1)))
        .collect()
}

fn records_from_csv(body: &[u8]) -> Result<Vec<Record>, ApiError> {
    let text = std::str::from_utf8(body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_csv",
            format!("the CSV body is not UTF-8 text (byte {})", e.valid_up_to()),
        )
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = retention_core::data::csv::Records::new(text);
    let mut fields = Vec::new();
    let csv_error = |row: usize, reason: &str| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_csv",
            format!("CSV row {row}: {reason}"),
        )
    };
    let header: Vec<String> = match records.next_into(&mut fields) {
        None => {
            return Err(csv_error(
                0,
                "the body is empty; send a header row and customers",
            ));
        }
        Some(Err(e)) => return Err(csv_error(0, e)),
        Some(Ok(())) => retention_core::data::csv::header_names(&fields)
            .map_err(|e| csv_error(0, &format!("header: {e}")))?,
    };
    let mut out = Vec::new();
    while let Some(read) = records.next_into(&mut fields) {
        let row = out.len() + 1;
        read.map_err(|e| csv_error(row, e))?;
        if fields.len() != header.len() {
            return Err(csv_error(
                row,
                &format!(
                    "{} fields but the header has {}",
                    fields.len(),
                    header.len()
                ),
            ));
        }
        out.push(
            header
                .iter()
                .zip(&fields)
                .map(|(k, v)| (k.clone(), Some(v.to_string())))
                .collect(),
        );
    }
    Ok(out)
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
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(query_error)?;
    let body = body.map_err(body_error)?;
    let record = record_from_json(&parse_json(&body)?, None)?;
    let top = query.top.unwrap_or(5).clamp(1, MAX_REASONS);
    let work = state.clone();
    tokio::task::spawn_blocking(move || {
        let live = work.live();
        let started = Instant::now();
        let p = score(&work, &live, &record, None, top)?;
        count(&work, std::slice::from_ref(&p), started);
        Ok(Json(json!(p)))
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
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
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
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
        Err(e) => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
            .into_response(),
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
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint: /v1/predict, /v1/predict/batch, /v1/explain, /v1/model, /health, /live, /ready, /metrics",
    )
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method (scoring endpoints take POST)",
    )
}

/// Counts and times every request by its route.
pub async fn observe(State(state): Shared, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(req.method());
    let endpoint = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let response = next.run(req).await;
    state.metrics.request(
        method,
        &endpoint,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// Answers 503 (`timeout`) for a request that runs past `--timeout`.
pub async fn timeout(State(state): Shared, req: Request, next: Next) -> Response {
    match tokio::time::timeout(state.config.timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
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
    let reason = match presented {
        None => "missing_key",
        Some(key) if state.keys().contains_key(&api_key_hash(key)) => {
            return next.run(req).await;
        }
        Some(_) => "invalid_key",
    };
    state.metrics.auth_failure(reason);
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
            action: "auth.failure",
            subject: endpoint,
            details: json!({ "reason": reason, "key_starts": shown }),
        });
    }
    let (code, message) = match reason {
        "missing_key" => (
            "missing_api_key",
            "send an API key as `Authorization: Bearer <key>` or `X-API-Key: <key>` (create one with `retention auth create-key`)",
        ),
        _ => ("invalid_api_key", "the API key is unknown or revoked"),
    };
    let mut response = ApiError::new(StatusCode::UNAUTHORIZED, code, message).into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    response
}

/// The record helpers, for the module's tests.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_records_take_scalars_and_refuse_nesting() {
        let v: Value =
            serde_json::from_str(r#"{"a": "x", "b": 1.5, "c": null, "d": true}"#).unwrap();
        let r = record_from_json(&v, None).unwrap();
        assert_eq!(
            r,
            vec![
                ("a".to_string(), Some("x".to_string())),
                ("b".to_string(), Some("1.5".to_string())),
                ("c".to_string(), None),
                ("d".to_string(), Some("true".to_string())),
            ]
        );
        let bad: Value = serde_json::from_str(r#"{"a": [1]}"#).unwrap();
        let e = record_from_json(&bad, Some(3)).unwrap_err();
        assert_eq!(e.code, "invalid_value");
        assert!(e.message.contains("row 3: field 'a'"), "{}", e.message);
        assert_eq!(
            record_from_json(&json!([1]), None).unwrap_err().code,
            "invalid_record"
        );
    }

    #[test]
    fn csv_records_name_the_bad_row() {
        let r = records_from_csv(b"id,x\n1,2\n\"3\",4\n").unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[1][0], ("id".to_string(), Some("3".to_string())));
        let e = records_from_csv(b"id,x\n1,2\n3\n").unwrap_err();
        assert_eq!(e.code, "invalid_csv");
        assert!(e.message.contains("row 2"), "{}", e.message);
        assert_eq!(records_from_csv(b"").unwrap_err().code, "invalid_csv");
        assert_eq!(
            records_from_csv(b"\xff\xfe").unwrap_err().code,
            "invalid_csv"
        );
    }
}
