//! The scorer pool: a fixed number of threads (`--scoring-threads`) that do all model work
//! (parsing bodies, scoring, explaining), so the runtime's workers only move bytes and answer
//! `/live`, `/ready` and `/metrics` whatever a model does.
//!
//! Jobs wait in one queue; under load a thread takes the next job without sleeping, so a job
//! costs a queue push and one wake of the waiting request. A job whose request was abandoned
//! (its `--timeout` passed, or the client went away) while it waited is skipped, and a running
//! one sees the flag and stops at its next check.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use tokio::sync::oneshot;

use super::error::ApiError;

type Job = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct Jobs {
    waiting: VecDeque<Job>,
    /// Threads asleep on `ready`: a new job wakes one only when there is one.
    idle: usize,
}

#[derive(Default)]
struct Queue {
    jobs: Mutex<Jobs>,
    ready: Condvar,
}

/// The threads and their queue.
#[derive(Clone)]
pub struct ScorerPool {
    queue: Arc<Queue>,
}

impl std::fmt::Debug for ScorerPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ScorerPool")
    }
}

/// Sets a flag when dropped: the request's future was dropped (its deadline passed or the
/// client went away), so the job is skipped or stops at its next check.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl ScorerPool {
    /// Starts `threads` scorer threads.
    ///
    /// # Errors
    /// When the operating system refuses a thread.
    pub fn start(threads: usize) -> std::io::Result<ScorerPool> {
        let queue = Arc::new(Queue::default());
        for i in 0..threads.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("scorer-{i}"))
                .spawn(move || work(&queue))?;
        }
        Ok(ScorerPool { queue })
    }

    /// Runs `job` on a scorer thread and waits for its answer. The job is given a flag that is
    /// set when the request is abandoned, and should check it between customers.
    pub async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&AtomicBool) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let cancel = Arc::new(AtomicBool::new(false));
        let _guard = CancelOnDrop(cancel.clone());
        let (tx, rx) = oneshot::channel();
        let boxed: Job = Box::new(move || {
            if cancel.load(Ordering::Relaxed) {
                return;
            }
            let _ = tx.send(job(&cancel));
        });
        let wake = {
            let mut jobs = self
                .queue
                .jobs
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            jobs.waiting.push_back(boxed);
            jobs.idle > 0
        };
        if wake {
            self.queue.ready.notify_one();
        }
        rx.await
            .unwrap_or_else(|_| Err(ApiError::internal("a scoring job ended without an answer")))
    }
}

fn work(queue: &Queue) {
    loop {
        let job = {
            let mut jobs = queue
                .jobs
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            loop {
                if let Some(job) = jobs.waiting.pop_front() {
                    break job;
                }
                jobs.idle += 1;
                jobs = queue
                    .ready
                    .wait(jobs)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                jobs.idle -= 1;
            }
        };
        // A panicking job loses its own answer (the request gets 500), not the thread.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
    }
}
