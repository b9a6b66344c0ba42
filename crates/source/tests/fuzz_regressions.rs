//! Every input kept in `tests/fuzz-regressions/identifier/` replayed through the same code as the
//! `identifier` fuzz target (`fuzz_harness`), without the fuzz build: no panic, no key or file
//! outside its root.

mod fuzz_harness;
#[path = "../../../tests/fuzz-regressions/files.rs"]
mod regression;

#[test]
fn every_identifier_regression_replays_without_a_panic() {
    let files = regression::regression_files(&["identifier"]);
    assert!(
        !files.is_empty(),
        "no files in tests/fuzz-regressions/identifier/"
    );
    for file in files {
        let data = std::fs::read(&file).unwrap();
        let outcome = std::panic::catch_unwind(|| fuzz_harness::exercise_identifier(&data));
        assert!(outcome.is_ok(), "{} panicked", file.display());
    }
}
