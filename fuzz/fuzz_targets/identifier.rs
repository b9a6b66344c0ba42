//! Identifier rules and the folder resolver: nothing resolves outside its root.
#![no_main]

#[path = "../../crates/source/tests/fuzz_harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::exercise_identifier(data));
