//! Every input kept in `tests/fuzz-regressions/read_*/` (crashes the reader fuzz targets found, and
//! hand-made hostile files) replayed through the same code as the targets (`fuzz_harness`), without
//! the fuzz build: no panic, not even one a reader's guard catches, and a bounded result.

mod fuzz_harness;
#[path = "../../../tests/fuzz-regressions/files.rs"]
mod regression;

use std::cell::Cell;
use std::path::PathBuf;
use std::sync::Once;

thread_local! {
    static PANICS: Cell<usize> = const { Cell::new(0) };
}

/// Count the panics of this thread, caught or not (the fuzz build aborts on every one).
fn count_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.with(|p| p.set(p.get() + 1));
            default(info);
        }));
    });
}

/// The files kept for every reader target.
fn regression_files() -> Vec<PathBuf> {
    regression::regression_files(&[
        "read_jpeg",
        "read_png",
        "read_gif",
        "read_tiff",
        "read_webp",
        "read_jp2",
    ])
}

#[test]
fn every_reader_regression_replays_without_a_panic() {
    count_panics();
    let files = regression_files();
    assert!(
        !files.is_empty(),
        "no files under tests/fuzz-regressions/read_*/"
    );
    for file in files {
        let data = std::fs::read(&file).unwrap();
        let before = PANICS.with(Cell::get);
        let outcome = std::panic::catch_unwind(|| fuzz_harness::exercise_reader(&data));
        let panics = PANICS.with(Cell::get) - before;
        assert!(outcome.is_ok(), "{} panicked", file.display());
        assert_eq!(panics, 0, "{} panicked inside a reader", file.display());
    }
}
