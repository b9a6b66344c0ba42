//! Every input kept in `tests/fuzz-regressions/url/` replayed through the same code as the `url`
//! fuzz target (`fuzz_harness`), without the fuzz build: no panic, no broken plan promise.

mod fuzz_harness;
#[path = "../../../tests/fuzz-regressions/files.rs"]
mod regression;

#[test]
fn every_url_regression_replays_without_a_panic() {
    let files = regression::regression_files(&["url"]);
    assert!(!files.is_empty(), "no files in tests/fuzz-regressions/url/");
    for file in files {
        let data = std::fs::read(&file).unwrap();
        let outcome = std::panic::catch_unwind(|| fuzz_harness::exercise_url(&data));
        assert!(outcome.is_ok(), "{} panicked", file.display());
    }
}
