//! The JPEG 2000 (OpenJPEG, C, through Tessera's stream callbacks) reader from bytes: open, header, storage, small reads, small renders. The seed
//! corpus holds jp2 files; mutations may reach any reader.
#![no_main]

#[path = "../../crates/image/tests/fuzz_harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = harness::exercise_reader(data);
});
