//! Every input kept in `tests/fuzz-regressions/url/` replayed through the same code as the `url`
//! fuzz target (`fuzz_harness`), without the fuzz build: no panic, no broken plan promise.

mod fuzz_harness;

use std::path::Path;

#[test]
fn every_url_regression_replays_without_a_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fuzz-regressions/url");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_none_or(|e| e != "md"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no files in {}", dir.display());
    for file in files {
        let data = std::fs::read(&file).unwrap();
        let outcome = std::panic::catch_unwind(|| fuzz_harness::exercise_url(&data));
        assert!(outcome.is_ok(), "{} panicked", file.display());
    }
}
