//! The application log: `tracing` events as text or JSON lines on stderr and, with
//! `--log-file`, appended to a file rotated by size.
//!
//! Events are formatted on the thread that emits them and written by a background thread
//! (lossy when its queue is full, so a slow disk never stalls requests; the lines lost are
//! counted in `retentionai_log_lines_dropped_total`). Targets: `retention::access` (one event
//! per HTTP request), `retention::auth` (refused keys: `authentication FAILED`),
//! `retention::serve` (start-up, model loads, reloads, shutdown).
//!
//! The terminal output of commands (tables, progress, `warning:` lines) is not the log.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use tracing_appender::non_blocking::{ErrorCounter, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::cli::{LogArgs, LogFormat};

/// Lines waiting for the writer thread, per destination, before new ones are dropped.
const QUEUED_LINES: usize = 65_536;

/// Keeps the writer threads alive; dropping it writes every queued line.
pub struct LogGuard {
    _guards: Vec<WorkerGuard>,
}

/// The drop counters of the installed destinations.
static COUNTERS: std::sync::OnceLock<Vec<ErrorCounter>> = std::sync::OnceLock::new();

/// Log lines dropped so far because a destination's queue was full.
pub fn dropped_lines() -> u64 {
    COUNTERS
        .get()
        .map_or(0, |c| c.iter().map(|c| c.dropped_lines() as u64).sum())
}

/// Installs the log for this process.
pub fn init(args: &LogArgs) -> Result<LogGuard> {
    if args.log_level.trim().is_empty() {
        return Err(anyhow!(
            "log level is empty (--log-level, RETENTIONAI_LOG_LEVEL or [log] level): use error, warn, info, debug or trace"
        ));
    }
    let filter = EnvFilter::builder()
        .parse(&args.log_level)
        .map_err(|e| anyhow!("log level '{}': {e}", args.log_level))?;
    let mut guards = Vec::new();
    let mut counters = Vec::new();
    let mut layers: Vec<Box<dyn Layer<Registry> + Send + Sync>> = Vec::new();

    let (stderr, guard) = NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(QUEUED_LINES)
        .thread_name("retention-log")
        .finish(io::stderr());
    counters.push(stderr.error_counter());
    guards.push(guard);
    let ansi = args.log_format == LogFormat::Text && io::IsTerminal::is_terminal(&io::stderr());
    layers.push(layer(args.log_format, stderr, ansi));

    if let Some(path) = &args.log_file {
        let file = RotatingFile::open(path, args.log_max_mib << 20, args.log_keep)?;
        let (file, guard) = NonBlockingBuilder::default()
            .lossy(true)
            .buffered_lines_limit(QUEUED_LINES)
            .thread_name("retention-log-file")
            .finish(file);
        counters.push(file.error_counter());
        guards.push(guard);
        layers.push(layer(args.log_format, file, false));
    }
    tracing_subscriber::registry()
        .with(layers.with_filter(filter))
        .try_init()
        .context("installing the log")?;
    let _ = COUNTERS.set(counters);
    Ok(LogGuard { _guards: guards })
}

fn layer<W>(format: LogFormat, writer: W, ansi: bool) -> Box<dyn Layer<Registry> + Send + Sync>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let base = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(ansi)
        .with_target(true);
    match format {
        LogFormat::Text => base.boxed(),
        LogFormat::Json => base
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .boxed(),
    }
}

/// A log file that is renamed to `<name>.1` (and older ones shifted up to `<name>.<keep>`)
/// when the next line would take it past its size limit.
pub struct RotatingFile {
    path: PathBuf,
    file: File,
    size: u64,
    max_bytes: u64,
    keep: usize,
    /// The last byte written ended a line: only then may the file rotate, so a line is
    /// never split across two files.
    at_line_start: bool,
}

impl RotatingFile {
    /// Opens (or creates, with its folder) the log file for appending.
    pub fn open(path: &Path, max_bytes: u64, keep: usize) -> Result<Self> {
        if max_bytes == 0 {
            return Err(anyhow!("--log-max-mib must be at least 1"));
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating the log folder {}", dir.display()))?;
        }
        let file = Self::open_file(path).with_context(|| format!("log file {}", path.display()))?;
        let size = file.metadata().map_or(0, |m| m.len());
        Ok(RotatingFile {
            path: path.to_path_buf(),
            file,
            size,
            max_bytes,
            keep,
            at_line_start: true,
        })
    }

    fn open_file(path: &Path) -> io::Result<File> {
        use std::os::unix::fs::OpenOptionsExt;
        OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o640)
            .open(path)
    }

    fn numbered(&self, n: usize) -> PathBuf {
        let mut name = self.path.as_os_str().to_os_string();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    fn rotate(&mut self) -> io::Result<()> {
        if self.keep == 0 {
            std::fs::remove_file(&self.path)?;
        } else {
            for n in (1..self.keep).rev() {
                let from = self.numbered(n);
                if from.exists() {
                    std::fs::rename(&from, self.numbered(n + 1))?;
                }
            }
            std::fs::rename(&self.path, self.numbered(1))?;
        }
        self.file = Self::open_file(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.at_line_start && self.size > 0 && self.size + buf.len() as u64 > self.max_bytes {
            // A file that cannot be rotated keeps growing rather than losing lines.
            let _ = self.rotate();
        }
        let n = self.file.write(buf)?;
        self.size += n as u64;
        if n > 0 {
            self.at_line_start = buf[n - 1] == b'\n';
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_by_size_and_keeps_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs/app.log");
        let mut f = RotatingFile::open(&path, 100, 2).unwrap();
        // One write per line, as the log writer makes them.
        for i in 0..10 {
            f.write_all(format!("{i:040}\n").as_bytes()).unwrap();
        }
        // A line written in pieces is never split across files.
        let mut g = RotatingFile::open(&dir.path().join("pieces.log"), 50, 1).unwrap();
        for _ in 0..3 {
            for _ in 0..30 {
                g.write_all(b"x").unwrap();
            }
            g.write_all(b"\n").unwrap();
        }
        let current = std::fs::read_to_string(dir.path().join("pieces.log")).unwrap();
        let older = std::fs::read_to_string(g.numbered(1)).unwrap();
        assert!(current.lines().chain(older.lines()).all(|l| l.len() == 30));
        let read = |p: PathBuf| std::fs::read_to_string(p).unwrap_or_default();
        // 41-byte lines, two per file: 8 and 9 current, 6 and 7 in .1, 4 and 5 in .2.
        assert_eq!(read(path.clone()).lines().count(), 2);
        assert!(read(path.clone()).ends_with(&format!("{:040}\n", 9)));
        assert!(read(f.numbered(1)).starts_with(&format!("{:040}", 6)));
        assert!(read(f.numbered(2)).starts_with(&format!("{:040}", 4)));
        assert!(!f.numbered(3).exists());
    }

    #[test]
    fn a_zero_size_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(RotatingFile::open(&dir.path().join("a.log"), 0, 1).is_err());
    }
}
