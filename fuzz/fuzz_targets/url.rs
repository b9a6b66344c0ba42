//! The IIIF URL grammar and planning: `IiifPath::parse`, `ImageRequest::parse`, `plan`.
#![no_main]

#[path = "../../crates/iiif/tests/fuzz_harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::exercise_url(data));
