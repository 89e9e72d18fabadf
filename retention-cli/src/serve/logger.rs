//! The background writer: predictions and audit entries go through a bounded queue to one thread
//! that owns a database connection and writes them in batches (one transaction each). Requests
//! never wait for the database; when the queue is full, in entries or in bytes, the entry is
//! dropped and counted. Stopping writes everything queued before it. When the database file is
//! replaced under the server (`retention restore`), the writer reopens it before its next batch,
//! so nothing is written to the replaced file.

use retention_core::store::Db;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use retention_core::store::{PredictionRow, Store, now_millis};

use super::metrics::Metrics;

/// Most entries written in one transaction.
const BATCH: usize = 4096;
/// How long a stopping server keeps retrying a batch the database does not take.
const STOP_RETRY: Duration = Duration::from_secs(10);

/// Something to write.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    Prediction {
        customer_id: String,
        model_version: i64,
        variant: &'static str,
        probability: f64,
        tier: &'static str,
    },
    Audit {
        action: retention_core::store::AuditAction,
        subject: String,
        details: serde_json::Value,
    },
}

enum Message {
    Entry(Entry),
    Stop,
}

impl Entry {
    /// Bytes this entry holds while queued (the struct and what it points to).
    fn size(&self) -> usize {
        std::mem::size_of::<Message>()
            + match self {
                Entry::Prediction { customer_id, .. } => customer_id.len(),
                Entry::Audit {
                    subject, details, ..
                } => subject.len() + details.to_string().len(),
            }
    }
}

/// The sending side, shared by every request.
#[derive(Debug, Clone)]
pub struct Logger {
    tx: SyncSender<Message>,
    metrics: Arc<Metrics>,
    /// Bytes held by queued entries, and the most allowed.
    bytes: Arc<AtomicUsize>,
    max_bytes: usize,
    /// Set by [`Logger::stop`]: when the writer stops retrying a database that does not answer.
    give_up: Arc<OnceLock<Instant>>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Message::Entry(e) => e.fmt(f),
            Message::Stop => f.write_str("Stop"),
        }
    }
}

impl Logger {
    /// Opens the writer's own connection and starts its thread.
    pub fn start(
        db: &Db,
        capacity: usize,
        max_bytes: usize,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<(Logger, JoinHandle<()>)> {
        let store = Store::open(db)?;
        let (tx, rx) = sync_channel(capacity.max(1));
        let bytes = Arc::new(AtomicUsize::new(0));
        let give_up = Arc::new(OnceLock::new());
        let writer = Writer {
            db: db.clone(),
            store,
            metrics: metrics.clone(),
            bytes: bytes.clone(),
            give_up: give_up.clone(),
            down: false,
        };
        let handle = std::thread::Builder::new()
            .name("prediction-log".into())
            .spawn(move || writer.run(rx))?;
        Ok((
            Logger {
                tx,
                metrics,
                bytes,
                max_bytes,
                give_up,
            },
            handle,
        ))
    }

    /// Queues an entry without waiting; a queue full in entries or in bytes drops it (counted).
    pub fn log(&self, entry: Entry) {
        let size = entry.size();
        let held = self.bytes.fetch_add(size, Ordering::Relaxed);
        if held + size > self.max_bytes {
            self.bytes.fetch_sub(size, Ordering::Relaxed);
            self.metrics.log_dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        // Counted before sending (and taken back on failure), so the writer can never
        // subtract an entry not yet added.
        self.metrics.log_queue_depth.fetch_add(1, Ordering::Relaxed);
        self.metrics
            .log_queue_bytes
            .fetch_add(size as i64, Ordering::Relaxed);
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
            self.tx.try_send(Message::Entry(entry))
        {
            self.metrics.log_queue_depth.fetch_sub(1, Ordering::Relaxed);
            self.metrics
                .log_queue_bytes
                .fetch_sub(size as i64, Ordering::Relaxed);
            self.bytes.fetch_sub(size, Ordering::Relaxed);
            self.metrics.log_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Asks the writer to finish: it writes everything queued before this, then ends.
    /// A database that does not answer is retried for [`STOP_RETRY`] more, then what is left
    /// is counted as lost.
    pub fn stop(&self) {
        // First, so a writer retrying a batch learns of the stop while the queue is full.
        self.give_up.get_or_init(|| Instant::now() + STOP_RETRY);
        // Blocking: waits for room behind the queued entries.
        let _ = self.tx.send(Message::Stop);
    }
}

/// The writing side: one thread with its own connection.
struct Writer {
    db: Db,
    store: Store,
    metrics: Arc<Metrics>,
    bytes: Arc<AtomicUsize>,
    give_up: Arc<OnceLock<Instant>>,
    /// The last write failed because the database did not answer.
    down: bool,
}

impl Writer {
    fn run(mut self, rx: Receiver<Message>) {
        // Unique per process start: (batch id, row index) identifies each logged row.
        // Unique across replicas too (in containers every replica may be pid 1): 64 random
        // bits from the operating system's seed of std's hasher.
        let nonce = {
            use std::hash::{BuildHasher, Hasher};
            std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish()
        };
        let run = format!("serve-{}-{}-{nonce:016x}", now_millis(), std::process::id());
        let mut seq = 0u64;
        let mut batch: Vec<Entry> = Vec::with_capacity(BATCH);
        let mut stopping = false;
        let mut reported_drops = 0;
        while !stopping {
            // Wait for one entry, then take whatever else is already queued.
            match rx.recv() {
                Ok(Message::Entry(e)) => batch.push(e),
                Ok(Message::Stop) | Err(_) => stopping = true,
            }
            while !stopping && batch.len() < BATCH {
                match rx.try_recv() {
                    Ok(Message::Entry(e)) => batch.push(e),
                    Ok(Message::Stop) => stopping = true,
                    Err(_) => break,
                }
            }
            if batch.is_empty() {
                continue;
            }
            let bytes: usize = batch.iter().map(Entry::size).sum();
            self.bytes.fetch_sub(bytes, Ordering::Relaxed);
            self.metrics
                .log_queue_bytes
                .fetch_sub(bytes as i64, Ordering::Relaxed);
            self.metrics
                .log_queue_depth
                .fetch_sub(batch.len() as i64, Ordering::Relaxed);
            self.reopen_if_replaced();
            self.report_drops(&mut reported_drops);
            seq += 1;
            self.write_batch(&format!("{run}-{seq}"), &batch);
            batch.clear();
        }
    }

    /// Writes one batch. While the database is unreachable or busy (a restarting PostgreSQL, a
    /// backup holding SQLite) the batch is retried with a growing pause, so no prediction that
    /// reached the queue is lost; meanwhile the queue keeps taking new entries and drops (and
    /// counts) what does not fit. A retried batch keeps its id, so rows a lost acknowledgement
    /// already committed are not logged twice. A stopping server stops retrying [`STOP_RETRY`]
    /// after the stop, and then writes nothing more to a database that did not answer (each try
    /// would wait for a connection). An error that retrying cannot cure gets one more try, then
    /// the rows are written one by one, so one bad row costs only itself.
    fn write_batch(&mut self, batch_id: &str, batch: &[Entry]) {
        let rows: Vec<PredictionRow<'_>> = batch
            .iter()
            .enumerate()
            .filter_map(|(i, e)| match e {
                Entry::Prediction {
                    customer_id,
                    model_version,
                    variant,
                    probability,
                    tier,
                } => Some(PredictionRow {
                    customer_id,
                    model_version: *model_version,
                    variant,
                    probability: *probability,
                    tier,
                    row_index: i as i64,
                }),
                Entry::Audit { .. } => None,
            })
            .collect();
        if !rows.is_empty() {
            let written = self.write_rows(batch_id, &rows);
            self.metrics
                .log_written
                .fetch_add(written as u64, Ordering::Relaxed);
        }
        for e in batch {
            let Entry::Audit {
                action,
                subject,
                details,
            } = e
            else {
                continue;
            };
            if self.down && self.past_stop() {
                self.metrics.log_errors.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            if let Err(err) = self.store.audit("serve", *action, subject, details) {
                self.down = err.is_transient();
                self.metrics.log_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(
                    target: "retention::serve",
                    action = %action,
                    error = %err,
                    "writing an audit entry failed"
                );
            }
        }
    }

    fn past_stop(&self) -> bool {
        self.give_up.get().is_some_and(|d| Instant::now() >= *d)
    }

    /// Logs the rows of one batch; returns the rows written (the failures are counted and
    /// reported here).
    fn write_rows(&mut self, batch_id: &str, rows: &[PredictionRow<'_>]) -> usize {
        let lost = |metrics: &Metrics, n: usize, e: &dyn std::fmt::Display| {
            metrics.log_errors.fetch_add(n as u64, Ordering::Relaxed);
            tracing::error!(
                target: "retention::serve",
                rows = n,
                error = %e,
                "logging predictions failed: the rows are lost"
            );
        };
        if self.down && self.past_stop() {
            lost(
                &self.metrics,
                rows.len(),
                &"the database did not answer before the stop",
            );
            return 0;
        }
        let mut pause = Duration::from_millis(100);
        let mut tries = 0u32;
        loop {
            let e = match self.store.log_predictions(batch_id, rows) {
                Ok(n) => {
                    if tries > 0 {
                        tracing::info!(
                            target: "retention::serve",
                            rows = rows.len(),
                            tries,
                            "logging predictions: the database answered again"
                        );
                    }
                    self.down = false;
                    return n;
                }
                Err(e) => e,
            };
            tries += 1;
            self.down = e.is_transient();
            if self.down && !self.past_stop() {
                if tries == 1 {
                    tracing::warn!(
                        target: "retention::serve",
                        rows = rows.len(),
                        error = %e,
                        "logging predictions failed: retrying until the database answers"
                    );
                }
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_secs(2));
                continue;
            }
            if self.down || tries > 1 {
                if !self.down && rows.len() > 1 {
                    return self.write_one_by_one(batch_id, rows, &e);
                }
                lost(&self.metrics, rows.len(), &e);
                return 0;
            }
            // Not the database's state: once more after a pause (e.g. a busy timeout).
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// A batch the database refused as a whole: each row on its own (same batch id and row
    /// index, so rows already written are skipped), the refused ones counted.
    fn write_one_by_one(
        &mut self,
        batch_id: &str,
        rows: &[PredictionRow<'_>],
        first: &retention_core::Error,
    ) -> usize {
        let mut written = 0;
        let mut refused = 0;
        for row in rows {
            match self
                .store
                .log_predictions(batch_id, std::slice::from_ref(row))
            {
                Ok(n) => written += n,
                Err(_) => refused += 1,
            }
        }
        self.metrics
            .log_errors
            .fetch_add(refused as u64, Ordering::Relaxed);
        tracing::error!(
            target: "retention::serve",
            rows = rows.len(),
            refused,
            error = %first,
            "the database refused a batch of predictions: its rows were written one by one"
        );
        written
    }

    /// Logs the entries dropped since the last report (once per batch written at most, so a
    /// flood of drops is one line per write, not one per request).
    fn report_drops(&self, reported: &mut u64) {
        let dropped = self.metrics.log_dropped.load(Ordering::Relaxed);
        if dropped > *reported {
            tracing::warn!(
                target: "retention::serve",
                dropped = dropped - *reported,
                total = dropped,
                "prediction log queue full: entries dropped"
            );
            *reported = dropped;
        }
    }

    /// Reopens the database when its file was replaced since it was opened.
    fn reopen_if_replaced(&mut self) {
        if !self.store.file_replaced() || self.db.file().is_some_and(|f| !f.exists()) {
            return;
        }
        match Store::open(&self.db) {
            Ok(store) => {
                self.store = store;
                tracing::warn!(
                    target: "retention::serve",
                    "the database file was replaced: the prediction log writes to the new one"
                );
            }
            Err(e) => tracing::error!(
                target: "retention::serve",
                error = %e,
                "reopening the replaced database failed"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_is_bounded_in_bytes_as_well_as_entries() {
        let metrics = Arc::new(Metrics::default());
        // No writer: nothing leaves the queue.
        let (tx, _rx) = sync_channel(1000);
        let entry = |id: String| Entry::Prediction {
            customer_id: id,
            model_version: 1,
            variant: "champion",
            probability: 0.5,
            tier: "Medium",
        };
        let big = entry("x".repeat(4000));
        let logger = Logger {
            tx,
            metrics: metrics.clone(),
            bytes: Arc::new(AtomicUsize::new(0)),
            max_bytes: 10 * big.size(),
            give_up: Arc::default(),
        };
        for _ in 0..25 {
            logger.log(big.clone());
        }
        assert_eq!(metrics.log_queue_depth.load(Ordering::Relaxed), 10);
        assert_eq!(metrics.log_dropped.load(Ordering::Relaxed), 15);
        assert_eq!(
            metrics.log_queue_bytes.load(Ordering::Relaxed),
            10 * big.size() as i64
        );
        // Small entries still fit in the room the entry count leaves.
        let (tx, _rx) = sync_channel(3);
        let logger = Logger {
            tx,
            metrics: metrics.clone(),
            bytes: Arc::new(AtomicUsize::new(0)),
            max_bytes: 1 << 20,
            give_up: Arc::default(),
        };
        for i in 0..5 {
            logger.log(entry(format!("c{i}")));
        }
        assert_eq!(metrics.log_dropped.load(Ordering::Relaxed), 17);
    }
}
