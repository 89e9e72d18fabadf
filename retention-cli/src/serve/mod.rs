//! `retention serve`: the registry's champion (and challenger) over HTTP.
//!
//! - [`api`]: endpoints, middleware (metrics, timeout, API keys) and the JSON error format.
//! - [`records`]: request bodies to customers, every limit enforced while parsing.
//! - [`pool`]: the scorer threads that do all model work, off the runtime's workers.
//! - [`state`]: the served models, swapped whole when the registry changes ([`state::AppState::reload`]).
//! - [`logger`]: the background writer of the prediction and audit logs.
//! - [`metrics`]: Prometheus metrics. [`health`]: the `/health` checks.
//!
//! Signals: SIGTERM and SIGINT stop the server gracefully (no new connections, requests in
//! flight finish within their timeout, every queued log entry is written); SIGHUP reloads the
//! registry at once (as the reload interval would), and stops nothing.

mod api;
mod error;
mod health;
mod logger;
mod metrics;
mod pool;
mod records;
mod state;

use retention_core::store::Db;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use retention_core::store::Store;
use tokio::sync::Semaphore;

use crate::cli::ServeArgs;
use logger::Logger;
use metrics::Metrics;
use pool::ScorerPool;
use state::{AppState, Config, Live};

/// Largest body of a single-customer request.
const BODY_LIMIT: usize = 1 << 20;
/// Largest body of a batch request.
const BATCH_BODY_LIMIT: usize = 64 << 20;
/// How long a shutdown waits for open connections before closing them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);
/// Connections past `--max-connections` that are still answered, on health endpoints only.
const OVERFLOW_CONNECTIONS: usize = 32;
/// How long an overflow connection has to send its one request.
const OVERFLOW_TIMEOUT: Duration = Duration::from_secs(2);
/// File descriptors kept for the database, the log and the listener besides connections.
const RESERVED_FDS: u64 = 64;

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

/// What an overflow connection is answered: health endpoints, and 503 `overloaded` elsewhere.
fn overflow_app(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/health", get(api::health))
        .route("/live", get(api::alive))
        .route("/ready", get(api::ready))
        .route("/metrics", get(api::metrics))
        .fallback(api::overloaded)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(from_fn_with_state(state.clone(), api::timeout))
        .layer(from_fn_with_state(state.clone(), api::observe))
        .with_state(state)
}

/// Raises the soft limit on open files to the hard limit, and returns how many connections fit
/// under it.
fn connection_room() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write the struct passed by pointer only.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    limit.rlim_cur.saturating_sub(RESERVED_FDS)
}

pub fn run(db: &Db, args: &ServeArgs, settings: &[crate::config::Shown]) -> Result<()> {
    for (name, value) in [
        ("--timeout", args.timeout),
        ("--reload-interval", args.reload_interval),
        ("--max-batch", args.max_batch as u64),
        ("--log-queue", args.log_queue as u64),
        ("--max-connections", args.max_connections as u64),
        ("--idle-timeout", args.idle_timeout),
        ("--log-queue-mib", args.log_queue_mib as u64),
    ] {
        if value == 0 {
            bail!("{name} must be at least 1");
        }
    }
    if args.threads == Some(0) {
        bail!("--threads must be at least 1");
    }
    if args.scoring_threads == Some(0) {
        bail!("--scoring-threads must be at least 1");
    }
    let room = connection_room();
    let max_connections = (args.max_connections as u64).saturating_add(OVERFLOW_CONNECTIONS as u64);
    if max_connections > room {
        bail!(
            "--max-connections {} (+{OVERFLOW_CONNECTIONS} for health checks) does not fit the {room} file descriptors this process may open; lower it or raise `ulimit -n`",
            args.max_connections
        );
    }
    let scoring_threads = args.scoring_threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
    });
    // The effective configuration (secrets already redacted), for the start-up event.
    let effective: serde_json::Map<String, serde_json::Value> = settings
        .iter()
        .map(|s| (s.key.clone(), s.value.clone().into()))
        .collect();
    tracing::info!(
        target: "retention::serve",
        version = env!("CARGO_PKG_VERSION"),
        config = %serde_json::Value::Object(effective),
        "starting"
    );
    let store = Store::open(db).with_context(|| format!("opening {}", db))?;
    if let Some(warning) = store.permission_warning() {
        tracing::warn!(target: "retention::serve", "{warning}");
    }
    let metrics = Arc::new(Metrics::default());
    let (logger, writer) = Logger::start(
        db,
        args.log_queue,
        args.log_queue_mib << 20,
        metrics.clone(),
    )?;
    let state = Arc::new(AppState {
        config: Config {
            db: db.clone(),
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
        load_failures: Mutex::new(Default::default()),
        reload_all: AtomicBool::new(false),
        scorers: ScorerPool::start(scoring_threads).context("starting the scorer threads")?,
        batch_bodies: Arc::new(Semaphore::new(scoring_threads)),
    });
    // The first load is part of starting: a database that does not answer stops the start (a
    // version that cannot be loaded is skipped and reported, as on every reload).
    if let Some(change) = state.reload()? {
        tracing::info!(target: "retention::serve", "{change}");
    }
    if args.no_auth {
        tracing::warn!(
            target: "retention::serve",
            "--no-auth: /v1 endpoints answer anyone who can reach this port"
        );
    } else if state.keys().is_empty() {
        tracing::warn!(
            target: "retention::serve",
            "no API keys yet: /v1 answers 401 until one is created with `retention auth create-key --name NAME`"
        );
    }

    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.threads {
        runtime.worker_threads(n);
    }
    let runtime = runtime.enable_all().build()?;
    let served = runtime.block_on(serve(state.clone(), args));
    // Model work still running for abandoned requests is not waited for.
    runtime.shutdown_timeout(Duration::from_secs(1));
    tracing::info!(target: "retention::serve", "stopping: writing the queued log entries");
    logger.stop();
    if writer.join().is_err() {
        tracing::error!(
            target: "retention::serve",
            "the log writer stopped with a panic; some predictions may be missing"
        );
    }
    use std::sync::atomic::Ordering::Relaxed;
    tracing::info!(
        target: "retention::serve",
        logged = metrics.log_written.load(Relaxed),
        dropped = metrics.log_dropped.load(Relaxed),
        lost = metrics.log_errors.load(Relaxed),
        "stopped"
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
    tracing::info!(target: "retention::serve", address = %addr, "listening");

    let reloading = state.clone();
    let interval = Duration::from_millis(args.reload_interval);
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .context("handling SIGHUP")?;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                _ = hangup.recv() => tracing::info!(
                    target: "retention::serve",
                    "SIGHUP: reloading from the registry"
                ),
            }
            let s = reloading.clone();
            match tokio::task::spawn_blocking(move || s.reload()).await {
                Ok(Ok(Some(change))) => tracing::info!(target: "retention::serve", "{change}"),
                Ok(Ok(None)) => {}
                Ok(Err(e)) => tracing::error!(
                    target: "retention::serve",
                    error = format!("{e:#}"),
                    "reloading from the registry failed"
                ),
                Err(e) => tracing::error!(
                    target: "retention::serve",
                    error = %e,
                    "reloading from the registry failed"
                ),
            }
        }
    });

    // The request-rate gauge's samples, once a second.
    let sampled = state.metrics.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(1));
        loop {
            every.tick().await;
            sampled.tick();
        }
    });

    let limits = ConnectionLimits {
        slots: Arc::new(Semaphore::new(args.max_connections)),
        overflow: Arc::new(Semaphore::new(OVERFLOW_CONNECTIONS)),
        idle_timeout: Duration::from_secs(args.idle_timeout),
    };
    accept_loop(
        listener,
        app(state.clone()),
        overflow_app(state.clone()),
        limits,
        &state.metrics,
    )
    .await;
    Ok(())
}

/// How many connections are served, and how long one may sit idle.
struct ConnectionLimits {
    /// One permit per connection within `--max-connections`.
    slots: Arc<Semaphore>,
    /// Connections past the cap that are answered on health endpoints only.
    overflow: Arc<Semaphore>,
    idle_timeout: Duration,
}

/// Serves connections until SIGTERM or SIGINT, then stops accepting and lets the open
/// connections finish (at most [`SHUTDOWN_GRACE`]). Each connection is HTTP/1.1 and must send
/// each request head within the idle timeout: a client that opens a connection and sends
/// nothing, or sends slowly, is cut off rather than holding it. At most `--max-connections`
/// are served; past that a connection is answered on health endpoints only (one request,
/// [`OVERFLOW_TIMEOUT`]), and past [`OVERFLOW_CONNECTIONS`] more it is closed at once, so an
/// attacker holding connections open can neither exhaust file descriptors nor hide the
/// service from its health checks.
async fn accept_loop(
    listener: tokio::net::TcpListener,
    app: Router,
    overflow_app: Router,
    limits: ConnectionLimits,
    metrics: &Arc<Metrics>,
) {
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
                        tracing::error!(target: "retention::serve", error = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                // An overflow connection gets one request and OVERFLOW_TIMEOUT in all.
                let (permit, service, timeout, overflow) =
                    if let Ok(p) = limits.slots.clone().try_acquire_owned() {
                        (p, app.clone(), limits.idle_timeout, false)
                    } else if let Ok(p) = limits.overflow.clone().try_acquire_owned() {
                        metrics.connections_overflow.fetch_add(1, Ordering::Relaxed);
                        (p, overflow_app.clone(), OVERFLOW_TIMEOUT, true)
                    } else {
                        metrics.connections_refused.fetch_add(1, Ordering::Relaxed);
                        drop(stream);
                        continue;
                    };
                let connection = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(timeout)
                    .keep_alive(!overflow)
                    .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
                let watched = graceful.watch(connection);
                let open = metrics.clone();
                open.connections_open.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(async move {
                    // A client that goes away or times out is not the server's error.
                    if overflow {
                        let _ = tokio::time::timeout(OVERFLOW_TIMEOUT, watched).await;
                    } else {
                        let _ = watched.await;
                    }
                    open.connections_open.fetch_sub(1, Ordering::Relaxed);
                    drop(permit);
                });
            }
            () = &mut signal => break,
        }
    }
    drop(listener);
    tracing::info!(target: "retention::serve", "shutting down: finishing the requests in flight");
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(SHUTDOWN_GRACE) => tracing::warn!(
            target: "retention::serve",
            grace_seconds = SHUTDOWN_GRACE.as_secs(),
            "connections still open after the shutdown signal: closing them"
        ),
    }
}

/// SIGTERM or SIGINT (Ctrl-C).
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
