//! Working through a collection (`tessera check`, `pyramid`, `export`): how many images at once, the
//! worker threads, and the progress bar, drawn on stderr only when stderr is a terminal.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;

/// A progress bar over `total` images, hidden when stderr is not a terminal (CI, pipes).
pub fn bar(total: usize) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total as u64);
    if let Ok(style) = ProgressStyle::with_template(
        "{elapsed_precise} [{bar:40}] {pos}/{len} ({per_sec}, eta {eta}) {msg}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// How many images a collection command works on at once: `requested`, else the number of cores;
/// at least 1 and at most `count`.
pub fn jobs(requested: Option<usize>, count: usize) -> usize {
    requested
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, count.max(1))
}

/// `work` on every identifier of `ids`, on `jobs` threads inside `runtime`'s context (remote
/// reads block on it), with a progress bar that names the last identifier whose result `failed`.
/// At most `jobs` images are worked on at any time. Results come back in the order of `ids`;
/// `None` where a worker stopped (a panic) before answering.
pub fn each<T: Send>(
    ids: &[String],
    jobs: usize,
    runtime: &tokio::runtime::Handle,
    work: impl Fn(&str) -> T + Sync,
    failed: impl Fn(&T) -> bool,
) -> Vec<Option<T>> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let bar = bar(ids.len());
    let next = AtomicUsize::new(0);
    let mut slots: Vec<Option<T>> = ids.iter().map(|_| None).collect();
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::channel::<(usize, T)>();
        for _ in 0..jobs.max(1) {
            let (tx, next, work) = (tx.clone(), &next, &work);
            scope.spawn(move || {
                let _context = runtime.enter();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(id) = ids.get(i) else { break };
                    if tx.send((i, work(id))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for (i, result) in rx {
            bar.inc(1);
            if let (true, Some(id)) = (failed(&result), ids.get(i)) {
                bar.set_message(format!("last error: {id}"));
            }
            if let Some(slot) = slots.get_mut(i) {
                *slot = Some(result);
            }
        }
    });
    bar.finish_and_clear();
    slots
}
