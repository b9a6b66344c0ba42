//! The server's log. A line is formatted on the thread that logs it and appended to a shared
//! buffer; one writer thread of its own writes that buffer to stderr in batches, [`FLUSH_EVERY`]
//! after a batch's first line, or at once for warnings and errors. So a slow log (a busy disk, a
//! full pipe to a supervisor) never holds up a request, and a busy server makes one write per
//! batch, not one per request, without waking a thread per line. When more than
//! [`MAX_QUEUED_BYTES`] wait, further lines are dropped and counted ([`dropped_lines`], the metric
//! `tessera_log_lines_dropped_total`).

use prometheus_client::metrics::counter::Counter;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Condvar, LazyLock, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

use crate::config::Config;

/// How long an ordinary line may wait in the buffer.
pub const FLUSH_EVERY: Duration = Duration::from_millis(10);

/// The most bytes that may wait for the writer; lines beyond are dropped.
pub const MAX_QUEUED_BYTES: usize = 16 << 20;

/// The largest batch buffer kept for the next batch.
const KEPT_CAPACITY: usize = 1 << 20;

/// Lines dropped so far; the metrics registry shares this counter.
static DROPPED: LazyLock<Counter> = LazyLock::new(Counter::default);

/// Install the log as `config.log` (or `TESSERA_LOG`) says, written to stderr. Keep the guard
/// while the server runs: dropping it writes out what waits. Colours only on a terminal.
pub fn init(config: &Config) -> std::io::Result<LogGuard> {
    let filter = EnvFilter::try_from_env("TESSERA_LOG")
        .unwrap_or_else(|_| EnvFilter::new(&config.log.level));
    let stderr = std::io::stderr();
    let ansi = stderr.is_terminal();
    let (writer, guard) = Batched::start(stderr, MAX_QUEUED_BYTES, FLUSH_EVERY)?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(writer);
    let _ = if config.log.format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    Ok(guard)
}

/// Log lines dropped so far because [`MAX_QUEUED_BYTES`] were waiting.
pub fn dropped_lines() -> u64 {
    DROPPED.get()
}

/// The counter of dropped lines, to register as `tessera_log_lines_dropped`.
pub fn dropped_counter() -> Counter {
    DROPPED.clone()
}

/// What waits for the writer thread.
#[derive(Default)]
struct Queue {
    bytes: Vec<u8>,
    /// A warning or an error waits: write now.
    urgent: bool,
    /// The guard is dropped: write what waits and stop.
    stop: bool,
}

/// What the loggers and the writer thread share.
struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
    max_queued: usize,
}

impl Shared {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The writer thread: wait for a first line, let more gather for `every` (unless one is
    /// urgent), write them all at once; until stopped.
    fn write_batches(&self, out: &mut dyn Write, every: Duration) {
        let mut batch = Vec::new();
        loop {
            let mut queue = self.queue();
            while queue.bytes.is_empty() && !queue.stop {
                queue = self
                    .wake
                    .wait(queue)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            let deadline = Instant::now() + every;
            while !queue.urgent && !queue.stop {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                queue = self
                    .wake
                    .wait_timeout(queue, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            std::mem::swap(&mut queue.bytes, &mut batch);
            queue.urgent = false;
            let stopping = queue.stop;
            drop(queue);
            // A log that cannot be written has nowhere to report it: the lines are lost.
            let _ = out.write_all(&batch).and_then(|()| out.flush());
            batch.clear();
            // After a burst, the buffer is not kept at its size.
            if batch.capacity() > KEPT_CAPACITY {
                batch = Vec::new();
            }
            if stopping {
                return;
            }
        }
    }
}

/// The logging side: a [`MakeWriter`] whose writers append to the shared buffer.
#[derive(Clone)]
pub struct Batched(Arc<Shared>);

/// Owns the writer thread; dropping it writes out what waits and stops the thread.
pub struct LogGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Batched {
    /// A buffer of at most `max_queued` bytes, written to `out` by a thread of its own `every`
    /// after its first line, or at once for a warning or an error.
    pub fn start<W: Write + Send + 'static>(
        mut out: W,
        max_queued: usize,
        every: Duration,
    ) -> std::io::Result<(Self, LogGuard)> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            max_queued,
        });
        let writing = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || writing.write_batches(&mut out, every))?;
        let guard = LogGuard {
            shared: Arc::clone(&shared),
            thread: Some(thread),
        };
        Ok((Self(shared), guard))
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.shared.queue().stop = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One line's writer: appends to the shared buffer; wakes the writer thread for the first line
/// of a batch and for an urgent one.
pub struct LineWriter {
    shared: Arc<Shared>,
    urgent: bool,
}

impl Write for LineWriter {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let mut queue = self.shared.queue();
        if queue.bytes.len() + line.len() > self.shared.max_queued {
            drop(queue);
            DROPPED.inc();
            return Ok(line.len());
        }
        let first = queue.bytes.is_empty();
        queue.bytes.extend_from_slice(line);
        queue.urgent |= self.urgent;
        drop(queue);
        if first || self.urgent {
            self.shared.wake.notify_one();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Batched {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> LineWriter {
        LineWriter {
            shared: Arc::clone(&self.0),
            urgent: false,
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> LineWriter {
        LineWriter {
            shared: Arc::clone(&self.0),
            urgent: *meta.level() <= Level::WARN,
        }
    }
}

#[cfg(test)]
mod tests;
