//! `retention serve`: the registry's champion (and challenger) over HTTP.
//!
//! - [`api`]: endpoints, middleware (metrics, timeout, API keys) and the JSON error format.
//! - [`state`]: the served models, swapped whole when the registry changes ([`state::AppState::reload`]).
//! - [`logger`]: the background writer of the prediction and audit logs.
//! - [`metrics`]: Prometheus metrics. [`health`]: the `/health` checks.

mod api;
mod health;
mod logger;
mod metrics;
mod state;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use retention_core::store::Store;

use crate::cli::ServeArgs;
use logger::Logger;
use metrics::Metrics;
use state::{AppState, Config, Live};

/// Largest body of a single-customer request.
const BODY_LIMIT: usize = 1 << 20;
/// Largest body of a batch request.
const BATCH_BODY_LIMIT: usize = 64 << 20;
/// How long a shutdown waits for open connections before closing them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// How long a client has to send a request's line and headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// The service's routes and middleware.
fn app(state: Arc<AppState>) -> Router {
    let v1 = Router::new()
        .route("/v1/predict", post(api::predict))
        .route(
            "/v1/predict/batch",
            post(api::predict_batch).layer(DefaultBodyLimit::max(BATCH_BODY_LIMIT)),
        )
        .route("/v1/explain", post(api::explain))
        .route("/v1/model", get(api::model))
        .route_layer(from_fn_with_state(state.clone(), api::require_key));
    Router::new()
        .route("/health", get(api::health))
        .route("/live", get(api::alive))
        .route("/ready", get(api::ready))
        .route("/metrics", get(api::metrics))
        .merge(v1)
        .fallback(api::not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(from_fn_with_state(state.clone(), api::timeout))
        .layer(from_fn_with_state(state.clone(), api::observe))
        .with_state(state)
}

pub fn run(db: &Path, args: &ServeArgs) -> Result<()> {
    for (name, value) in [
        ("--timeout", args.timeout),
        ("--reload-interval", args.reload_interval),
        ("--max-batch", args.max_batch as u64),
        ("--log-queue", args.log_queue as u64),
    ] {
        if value == 0 {
            bail!("{name} must be at least 1");
        }
    }
    if args.threads == Some(0) {
        bail!("--threads must be at least 1");
    }
    let store = Store::open(db).with_context(|| format!("opening {}", db.display()))?;
    let metrics = Arc::new(Metrics::default());
    let (logger, writer) = Logger::start(db, args.log_queue, metrics.clone())?;
    let state = Arc::new(AppState {
        config: Config {
            db: db.to_path_buf(),
            auth: !args.no_auth,
            timeout: Duration::from_millis(args.timeout),
            max_batch: args.max_batch,
            min_free_disk_mib: args.min_free_disk,
            max_memory_mib: args.max_memory,
        },
        live: RwLock::new(Arc::new(Live::default())),
        keys: RwLock::new(Arc::new(HashMap::new())),
        metrics: metrics.clone(),
        logger: Some(logger.clone()),
        log_predictions: !args.no_log,
        store: Mutex::new(store),
        db_ok: AtomicBool::new(false),
    });
    // The first load is part of starting: a champion that cannot be loaded stops the start.
    if let Some(change) = state.reload()? {
        eprintln!("{change}");
    }
    if args.no_auth {
        crate::output::warn("--no-auth: /v1 endpoints answer anyone who can reach this port");
    } else if state.keys().is_empty() {
        crate::output::warn(
            "no API keys yet: /v1 answers 401 until one is created with `retention auth create-key --name NAME`",
        );
    }

    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.threads {
        runtime.worker_threads(n);
    }
    let runtime = runtime.enable_all().build()?;
    let served = runtime.block_on(serve(state.clone(), args));
    eprintln!("stopping: writing the queued log entries…");
    logger.stop();
    if writer.join().is_err() {
        crate::output::warn("the log writer stopped with a panic; some predictions may be missing");
    }
    runtime.shutdown_timeout(Duration::from_secs(1));
    use std::sync::atomic::Ordering::Relaxed;
    eprintln!(
        "stopped: {} predictions logged, {} dropped, {} lost to database errors",
        metrics.log_written.load(Relaxed),
        metrics.log_dropped.load(Relaxed),
        metrics.log_errors.load(Relaxed)
    );
    served
}

async fn serve(state: Arc<AppState>, args: &ServeArgs) -> Result<()> {
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
        .await
        .with_context(|| format!("listening on {}:{}", args.host, args.port))?;
    let addr = listener.local_addr()?;
    // Tests and scripts read this line to find the port (with --port 0).
    println!("listening on http://{addr}");

    let reloading = state.clone();
    let interval = Duration::from_millis(args.reload_interval);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(interval).await;
            let s = reloading.clone();
            match tokio::task::spawn_blocking(move || s.reload()).await {
                Ok(Ok(Some(change))) => eprintln!("{change}"),
                Ok(Ok(None)) => {}
                Ok(Err(e)) => eprintln!("error: reloading from the registry: {e:#}"),
                Err(e) => eprintln!("error: reloading from the registry: {e}"),
            }
        }
    });

    accept_loop(listener, app(state)).await;
    Ok(())
}

/// Serves connections until SIGTERM or Ctrl-C, then stops accepting and lets the open
/// connections finish (at most [`SHUTDOWN_GRACE`]). Each connection is HTTP/1.1 with a
/// [`HEADER_TIMEOUT`] for its request line and headers: a client that opens a connection and
/// sends a request head slowly, or not at all, is cut off rather than holding the connection.
async fn accept_loop(listener: tokio::net::TcpListener, app: Router) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::server::graceful::GracefulShutdown;
    use hyper_util::service::TowerToHyperService;

    let graceful = GracefulShutdown::new();
    let signal = shutdown_signal();
    tokio::pin!(signal);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of file descriptors and the like: wait instead of spinning.
                        eprintln!("error: accepting a connection: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let connection = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_TIMEOUT)
                    .serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
                let watched = graceful.watch(connection);
                tokio::spawn(async move {
                    // A client that goes away or times out is not the server's error.
                    let _ = watched.await;
                });
            }
            () = &mut signal => break,
        }
    }
    drop(listener);
    eprintln!("shutting down: finishing the requests in flight…");
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(SHUTDOWN_GRACE) => eprintln!(
            "connections still open {} s after the shutdown signal: closing them",
            SHUTDOWN_GRACE.as_secs()
        ),
    }
}

/// SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
