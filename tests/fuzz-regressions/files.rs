//! The kept inputs of fuzz targets, for the crates' replay tests (each includes this file with
//! `#[path]`, so the three replays list their files the same way).

use std::path::{Path, PathBuf};

/// Every file under `tests/fuzz-regressions/<target>/` for each of `targets` (READMEs excepted),
/// sorted; a target without a folder has none.
pub fn regression_files(targets: &[&str]) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fuzz-regressions");
    let mut files: Vec<PathBuf> = targets
        .iter()
        .filter_map(|target| std::fs::read_dir(root.join(target)).ok())
        .flat_map(|entries| entries.filter_map(Result::ok).map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_none_or(|e| e != "md"))
        .collect();
    files.sort();
    files
}
